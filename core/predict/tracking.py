"""Faces followed across frames (IoU tracks) and their probabilities smoothed over time: what the webcam
and the video pipeline share between detections.

A track is shown only while detections confirm it (#42: boxes left on a jacket or an empty corner after the
face went, labelled "angry 100%", and recorded as faces):
- it appears once `confirm` detections found it, each with a score of at least `min_score` (one stray box,
  or a weak one, never shows); a weaker detection keeps a shown track going, never starts one;
- a detection that misses it hides it at once if its box no longer looks as it did when last found
  (`looks_changed`: the face went, the scene was cut); otherwise it is held for one more detection (a
  detector that misses a face once should not make its label blink); `max_missed` misses end it;
- between detections the frame pipeline compares each box with its look, and detects again at once where
  one changed (core.predict.frame), so a box is never carried over a cut.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .boxes import iou

LOOK_BINS = 16          # a box's look: the histogram of its grey levels in this many bins...
LOOK_GRID = 4           # ...and its grey levels averaged on a grid this many cells a side
CHANGED_HISTOGRAM = 0.2  # a look has changed when more than this share of its histogram moved,
CHANGED_GREY = 25.0      # or its grid cells moved this many grey levels on average (0-255)


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
    hits: int = 1               # detections of at least the tracker's min_score that found it
    confirmed: bool = False     # found `confirm` times: shown from then on
    look: tuple | None = None   # what its box looked like when a detection last found it (box_look)
    gone: bool = False          # missed, and its box no longer looks like it: hidden until found again


@dataclass
class FaceTracker:
    """Matches each detection to the track it overlaps most (IoU), so smoothing follows a face, not a slot.
    `confirm`: detections (of at least `min_score`) a track needs before it is shown; 1 shows it at once."""
    min_iou: float = 0.25
    max_missed: int = 2
    confirm: int = 2
    min_score: float = 0.5
    tracks: list[Track] = field(default_factory=list)
    _next_id: int = 1

    def update(self, faces, start: bool = True) -> list[Track]:
        """Greedy matching, best overlaps first; new faces start tracks (unless `start` is False: a search
        near known tracks), tracks missed too often end, and a track missed before it was shown ends at once.
        `faces` are Faces (their landmarks and score follow the track) or (x, y, w, h) boxes."""
        faces = list(faces)
        boxes = [tuple(int(v) for v in (f.box if hasattr(f, "box") else f)) for f in faces]
        scores = [float(getattr(f, "score", 1.0)) for f in faces]
        pairs = sorted(((iou(t.box, b), ti, bi) for ti, t in enumerate(self.tracks) for bi, b in enumerate(boxes)),
                       reverse=True)
        used_t, used_b = set(), set()
        for overlap, ti, bi in pairs:
            if overlap < self.min_iou or ti in used_t or bi in used_b:
                continue
            t = self.tracks[ti]
            t.box, t.missed, t.gone = boxes[bi], 0, False
            t.landmarks, t.score = getattr(faces[bi], "landmarks", None), scores[bi]
            if scores[bi] >= self.min_score:
                t.hits += 1
            t.confirmed = t.confirmed or t.hits >= self.confirm
            used_t.add(ti)
            used_b.add(bi)
        for ti, t in enumerate(self.tracks):
            if ti not in used_t:
                t.missed += 1
        for bi, b in enumerate(boxes):
            if bi not in used_b and start and scores[bi] >= self.min_score:
                self.tracks.append(Track(self._next_id, b, landmarks=getattr(faces[bi], "landmarks", None),
                                         score=scores[bi], confirmed=self.confirm <= 1))
                self._next_id += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed and (t.confirmed or not t.missed)]
        return self.active()

    def active(self) -> list[Track]:
        """Faces to show: confirmed, and found by the last detection, or by the one before where their box
        still looks as it did (a detector that misses a face once should not make its label blink)."""
        return [t for t in self.tracks if t.confirmed and (t.missed == 0 or (t.missed == 1 and not t.gone))]

    def pending(self) -> bool:
        """Whether a track waits for its confirmation (the frame pipeline detects again at once)."""
        return any(not t.confirmed for t in self.tracks)

    def reset(self) -> None:
        self.tracks = []


def box_look(image: np.ndarray, box) -> tuple | None:
    """What a box shows, cheaply and forgiving a small shift: the histogram of its grey levels and its grey
    levels on a coarse grid (None for a box outside the image)."""
    import cv2

    arr = np.asarray(image)
    H, W = arr.shape[:2]
    x, y, w, h = (int(round(float(v))) for v in box)
    x0, y0, x1, y1 = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    cut = arr[y0:y1, x0:x1]
    grey = cut[..., :3].mean(axis=2, dtype=np.float32) if cut.ndim == 3 else cut.astype(np.float32)
    hist = np.histogram(grey, bins=LOOK_BINS, range=(0, 256))[0].astype(np.float32)
    grid = cv2.resize(grey, (LOOK_GRID, LOOK_GRID), interpolation=cv2.INTER_AREA)
    return hist / max(float(hist.sum()), 1.0), grid


def looks_changed(before: tuple | None, now: tuple | None) -> bool:
    """Whether a box shows something else than it did (the face went, the scene was cut): much of its grey
    histogram moved, or its coarse grid did. A face shifting by a tenth of its width in its box changes
    neither much; a cut to another photo, or the background left behind, changes one or both."""
    if before is None or now is None:
        return before is not now
    moved = 0.5 * float(np.abs(before[0] - now[0]).sum())
    return moved > CHANGED_HISTOGRAM or float(np.abs(before[1] - now[1]).mean()) > CHANGED_GREY


def smooth(old: np.ndarray | None, new: np.ndarray, k: int) -> np.ndarray:
    """Exponential moving average whose memory is about the last `k` frames (alpha = 2 / (k + 1))."""
    if old is None or k <= 1 or old.shape != new.shape:
        return new
    alpha = 2.0 / (k + 1.0)
    return alpha * new + (1 - alpha) * old
