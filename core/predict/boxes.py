"""Faces as boxes: what a detector returns (a box in the original image's pixels, a score, and where the
detector has them five landmarks), and the geometry every caller shares (overlap, duplicates)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Face:
    """A face box in the ORIGINAL image's pixel coordinates, the detector's confidence and, where the
    detector finds them, five landmarks ((x, y) of the right eye, left eye, nose tip, right and left mouth
    corners, as seen in the image: the subject's right eye is on the image's left).

    `score` is in (0, 1) and ranks boxes; it is not a calibrated probability.
    """
    x: int
    y: int
    w: int
    h: int
    score: float = 1.0
    landmarks: tuple | None = None

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.w, self.h)


def box_of(face) -> tuple[float, float, float, float]:
    """(x, y, w, h) of a Face, an object with .box or x/y/w/h, or a 4-sequence."""
    if hasattr(face, "box"):
        face = face.box
    elif all(hasattr(face, k) for k in ("x", "y", "w", "h")):
        face = (face.x, face.y, face.w, face.h)
    x, y, w, h = (float(v) for v in face)
    return x, y, w, h


def box_overlap(a, b) -> tuple[float, float]:
    """(IoU, intersection over the smaller box) of two (x, y, w, h) boxes."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    if inter <= 0:
        return 0.0, 0.0
    aa, ab = a[2] * a[3], b[2] * b[3]
    return inter / float(aa + ab - inter), inter / float(max(min(aa, ab), 1))


def suppress_duplicates(faces: list[Face], iou: float = 0.3, contain: float = 0.6) -> list[Face]:
    """Keep the best-scoring box of each group of overlapping boxes (also a box mostly inside another)."""
    kept: list[Face] = []
    for f in sorted(faces, key=lambda f: (-f.score, -f.w * f.h)):
        if all(box_overlap(f.box, k.box)[0] <= iou and box_overlap(f.box, k.box)[1] <= contain for k in kept):
            kept.append(f)
    return kept


def iou(a, b) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    return box_overlap(a, b)[0]
