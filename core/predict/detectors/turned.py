"""Tilted faces: a detector's search repeated on copies of the frame turned by a few angles.

Face detectors are trained on mostly upright faces: YuNet finds a face turned by 15 degrees nearly as often as
an upright one, but one turned by 30 degrees far less often, and Haar hardly ever. Searching the frame turned
by -25 and +25 degrees as well finds those faces upright there; their boxes and landmarks are turned back into
the frame, and a face found in several passes is kept once (its best-scoring box). On our detection set
(bench/detection.py --photo) this lifts YuNet's recall on faces tilted by 30 degrees by about 15 points, for
three searches' time: on by default for photos, off for the webcam, where time per frame counts most.
"""
from __future__ import annotations

import math

import cv2

from ..boxes import Face, suppress_duplicates
from .base import DetectorBase, clip_face
from .frames import detection_frame


class TurnedSearch(DetectorBase):
    """`detector` (any registered one) that also searches the frame turned by each of `angles` (degrees,
    counter-clockwise). Everything else (its name, settings, capabilities, following a face, refining
    landmarks) is the detector's own."""

    def __init__(self, detector, angles=(25.0, -25.0)):
        self.detector = detector
        self.angles = tuple(float(a) for a in angles if float(a) % 360.0)
        for a in self.angles:
            if not -90.0 <= a <= 90.0:
                raise ValueError(f"a turned search's angles are between -90 and 90 degrees, got {a:g}")

    def __getattr__(self, name):  # only for what this class lacks (a family's own settings)
        return getattr(self.__dict__["detector"], name)

    detector_name = property(lambda self: self.detector.detector_name)
    min_size = property(lambda self: self.detector.min_size)
    detect_width = property(lambda self: self.detector.detect_width)
    can_follow = property(lambda self: self.detector.can_follow)
    can_refine = property(lambda self: self.detector.can_refine)

    def follow(self, image, face, color: str = "rgb", angle: float | None = None) -> Face | None:
        return self.detector.follow(image, face, color, angle=angle)

    def follow_at_most(self, image) -> int:
        return self.detector.follow_at_most(image)

    def refine_landmarks(self, image, face, color: str = "rgb") -> Face:
        return self.detector.refine_landmarks(image, face, color)

    def __repr__(self) -> str:
        return f"TurnedSearch({self.detector!r}, angles={self.angles})"

    def detect(self, image, color: str = "rgb", **kw) -> list[Face]:
        faces = list(self.detector.detect(image, color=color, **kw))
        if not self.angles:
            return faces
        width = self.detector.detect_width
        prepared = detection_frame(image, color, width, 2 * width)  # turn a small copy, not an 8000 px photo
        if prepared is None:
            return faces
        small, scale, H, W = prepared
        h, w = small.shape[:2]
        for angle in self.angles:
            c, s = abs(math.cos(math.radians(angle))), abs(math.sin(math.radians(angle)))
            bw, bh = int(math.ceil(w * c + h * s)), int(math.ceil(w * s + h * c))
            to_turned = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
            to_turned[:, 2] += ((bw - w) / 2.0, (bh - h) / 2.0)
            turned = cv2.warpAffine(small, to_turned, (bw, bh), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_CONSTANT)
            back = cv2.invertAffineTransform(to_turned) / scale  # turned copy -> frame pixels

            def to_frame(x, y):
                return (back[0, 0] * x + back[0, 1] * y + back[0, 2], back[1, 0] * x + back[1, 1] * y + back[1, 2])

            for f in self.detector.detect(turned, color="bgr", **kw):
                cx, cy = to_frame(f.x + f.w / 2.0, f.y + f.h / 2.0)
                fw, fh = f.w / scale, f.h / scale
                face = clip_face(cx - fw / 2.0, cy - fh / 2.0, cx + fw / 2.0, cy + fh / 2.0, f.score,
                                 [to_frame(x, y) for x, y in f.landmarks] if f.landmarks else None, H, W)
                if face is not None:
                    faces.append(face)
        return sorted(suppress_duplicates(faces), key=lambda f: (f.x, f.y))

