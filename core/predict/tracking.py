"""Faces followed across frames (IoU tracks) and their probabilities smoothed over time: what the webcam
and the video pipeline share between detections."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .boxes import iou


@dataclass
class Track:
    """One face followed across frames: its latest box (and landmarks), and per model its smoothed
    probabilities."""
    id: int
    box: tuple[int, int, int, int]
    probs: dict = field(default_factory=dict)  # model index -> smoothed probabilities
    missed: int = 0             # detections in a row that did not find it
    landmarks: tuple | None = None
    score: float = 1.0
    angle: float | None = None  # the face's tilt, measured on refined landmarks (core.predict.frame)
    angle_age: int = 0          # detections since it was measured


@dataclass
class FaceTracker:
    """Matches each detection to the track it overlaps most (IoU), so smoothing follows a face, not a slot."""
    min_iou: float = 0.25
    max_missed: int = 2
    tracks: list[Track] = field(default_factory=list)
    _next_id: int = 1

    def update(self, faces) -> list[Track]:
        """Greedy matching, best overlaps first; new faces start tracks, tracks missed too often end.
        `faces` are Faces (their landmarks and score follow the track) or (x, y, w, h) boxes."""
        faces = list(faces)
        boxes = [tuple(int(v) for v in (f.box if hasattr(f, "box") else f)) for f in faces]
        pairs = sorted(((iou(t.box, b), ti, bi) for ti, t in enumerate(self.tracks) for bi, b in enumerate(boxes)),
                       reverse=True)
        used_t, used_b = set(), set()
        for score, ti, bi in pairs:
            if score < self.min_iou or ti in used_t or bi in used_b:
                continue
            t = self.tracks[ti]
            t.box, t.missed = boxes[bi], 0
            t.landmarks, t.score = getattr(faces[bi], "landmarks", None), float(getattr(faces[bi], "score", 1.0))
            used_t.add(ti)
            used_b.add(bi)
        for ti, t in enumerate(self.tracks):
            if ti not in used_t:
                t.missed += 1
        for bi, b in enumerate(boxes):
            if bi not in used_b:
                self.tracks.append(Track(self._next_id, b, landmarks=getattr(faces[bi], "landmarks", None),
                                         score=float(getattr(faces[bi], "score", 1.0))))
                self._next_id += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return self.active()

    def active(self) -> list[Track]:
        """Faces to show: found by the last detection, or by the one before (a detector that misses a face
        once should not make its label blink)."""
        return [t for t in self.tracks if t.missed <= 1]

    def reset(self) -> None:
        self.tracks = []


def smooth(old: np.ndarray | None, new: np.ndarray, k: int) -> np.ndarray:
    """Exponential moving average whose memory is about the last `k` frames (alpha = 2 / (k + 1))."""
    if old is None or k <= 1 or old.shape != new.shape:
        return new
    alpha = 2.0 / (k + 1.0)
    return alpha * new + (1 - alpha) * old
