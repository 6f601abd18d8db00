"""What a face detector is: the `Detector` protocol, with the capabilities a family declares (following a tracked
face, measuring its landmarks again) instead of callers probing for methods, and what the families share
(`DetectorBase`: the settings checked once, no capability by default; `clip_face`: a box clipped to the frame).
Below the registry and every family, so that a wrapper of any detector (core.predict.detectors.turned) can use it."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..boxes import Face

_MIN_BOX = 4  # boxes smaller than this (frame pixels) after clipping are dropped


@runtime_checkable
class Detector(Protocol):
    """Finds faces: `detect(image, color="rgb")` takes any frame (grey, RGB/BGR, RGBA, any size; an empty one has
    no faces) and returns `Face`s in the frame's own pixels. Every detector takes `min_size` (the smallest face,
    a fraction of the frame's short side) and `detect_width` (wider frames are searched on a smaller copy).

    Optional capabilities, declared by each family:
    - `can_follow`: `follow(image, face, color, angle)` finds a tracked face again near where it was, cheaper
      than a whole-frame search, for up to `follow_at_most(image)` faces (YuNet);
    - `can_refine`: `refine_landmarks(image, face, color)` measures a face's landmarks again, and
      `detect(..., refine=0)` skips doing so for every face (YuNet).
    """
    detector_name: str
    min_size: float
    detect_width: int
    can_follow: bool
    can_refine: bool

    def detect(self, image, color: str = "rgb", **options) -> list[Face]: ...

    def follow(self, image, face, color: str = "rgb", angle: float | None = None) -> Face | None: ...

    def follow_at_most(self, image) -> int: ...

    def refine_landmarks(self, image, face, color: str = "rgb") -> Face: ...


class DetectorBase:
    """A registered family's common part: `min_size` and `detect_width` checked the same way everywhere, and
    neither capability unless the family declares it (and implements its methods)."""
    detector_name = "detector"  # set by @register_detector
    can_follow = False
    can_refine = False

    def __init__(self, min_size: float = 0.08, detect_width: int = 480):
        if not 0.0 <= float(min_size) < 1.0:
            raise ValueError(f"min_size is a fraction of the image's short side (0..1), got {min_size}")
        if int(detect_width) < 64:
            raise ValueError(f"detect_width must be at least 64 pixels, got {detect_width}")
        self.min_size = float(min_size)
        self.detect_width = int(detect_width)

    @staticmethod
    def unavailable_reason() -> str | None:
        """Why this family cannot run here (a package or model file missing), or None."""
        return None

    def detect(self, image, color: str = "rgb", **options) -> list[Face]:
        raise NotImplementedError

    def follow(self, image, face, color: str = "rgb", angle: float | None = None) -> Face | None:
        raise NotImplementedError(f"the {self.detector_name} detector cannot follow a face (can_follow is False)")

    def follow_at_most(self, image) -> int:
        return 0

    def refine_landmarks(self, image, face, color: str = "rgb") -> Face:
        raise NotImplementedError(f"the {self.detector_name} detector does not refine landmarks (can_refine is "
                                  "False)")

    def __call__(self, image, color: str = "rgb", **options) -> list[Face]:
        return self.detect(image, color, **options)


def can_follow(detector) -> bool:
    """Whether `detector` declares it can follow a face (a bare object with only `detect` cannot)."""
    return bool(getattr(detector, "can_follow", False))


def can_refine(detector) -> bool:
    """Whether `detector` declares it can measure a face's landmarks again."""
    return bool(getattr(detector, "can_refine", False))


def clip_face(x0, y0, x1, y1, score, points, H, W, min_px=0.0, min_box: int = _MIN_BOX) -> Face | None:
    """A Face from a box (frame pixels, floats) clipped to the frame, its score kept inside (0, 1) and its
    landmarks clipped to the box; None if what is left is smaller than `min_box` on a side or `min_px` on both."""
    bx0, by0 = max(0, int(round(x0))), max(0, int(round(y0)))
    bx1, by1 = min(W, int(round(x1))), min(H, int(round(y1)))
    w, h = bx1 - bx0, by1 - by0
    if min(w, h) < min_box or max(w, h) < min_px:
        return None
    marks = None
    if points is not None:
        marks = tuple((int(round(min(max(px, bx0), bx1 - 1))), int(round(min(max(py, by0), by1 - 1))))
                      for px, py in points)
    return Face(bx0, by0, w, h, round(min(max(float(score), 1e-4), 0.9999), 4), marks)
