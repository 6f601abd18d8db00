"""The live webcam analyser: per frame, find faces (every N frames, on a downscaled copy), follow them
between detections, run ONE batched forward pass over all faces, smooth each face's probabilities
over the last frames, and draw the result on the frame.

No Streamlit here: the Webcam page hands `LiveAnalyzer.process` to streamlit-webrtc as its frame
callback (it runs on the WebRTC worker thread) and polls `snapshot()` from the script thread.
"""
from __future__ import annotations

import json
import os
import threading
from collections import deque
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import draw

STATS_ENV = "FEL_WEBCAM_STATS"
THREADS_ENV = "FEL_LIVE_THREADS"  # torch threads for the live stream's thread (default 1)
_local = threading.local()


def _one_thread_here() -> None:
    """Small batches (a few 48x48 faces) run fastest on one torch thread, and much faster than on two
    when the CPU is busy. torch's thread count is per calling thread here: only the stream's thread
    changes, the rest of the app (batch evaluation) keeps its setting."""
    if getattr(_local, "done", False):
        return
    _local.done = True
    try:
        import torch

        n = os.environ.get(THREADS_ENV, "1")
        torch.set_num_threads(int(n) if n.isdigit() and int(n) > 0 else 1)
    except Exception:  # noqa: BLE001 - a speed setting only
        pass  # a path: the analyser writes its counters there as JSON (the browser test reads it)


@dataclass
class LiveSettings:
    detect_every: int = 3       # run the face detector on every Nth frame; boxes are reused in between
    smoothing: int = 5          # average probabilities over about the last K frames (1 = no smoothing)
    show_stress: bool = True    # the stress marker under each face
    margin: float = 0.15        # crop margin around each face box


@dataclass
class Track:
    """One face followed across frames: its latest box and its smoothed probabilities."""
    id: int
    box: tuple[int, int, int, int]
    probs: np.ndarray | None = None
    missed: int = 0             # detections in a row that did not find it
    age: int = 0


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


@dataclass
class FaceTracker:
    """Matches each detection to the track it overlaps most (IoU), so smoothing follows a face, not a slot."""
    min_iou: float = 0.25
    max_missed: int = 2
    tracks: list[Track] = field(default_factory=list)
    _next_id: int = 1

    def update(self, boxes) -> list[Track]:
        """Greedy matching, best overlaps first; new boxes start tracks, tracks missed too often end."""
        pairs = sorted(((iou(t.box, b), ti, bi) for ti, t in enumerate(self.tracks) for bi, b in enumerate(boxes)),
                       reverse=True)
        used_t, used_b = set(), set()
        for score, ti, bi in pairs:
            if score < self.min_iou or ti in used_t or bi in used_b:
                continue
            t = self.tracks[ti]
            t.box, t.missed = tuple(int(v) for v in boxes[bi]), 0
            used_t.add(ti)
            used_b.add(bi)
        for ti, t in enumerate(self.tracks):
            if ti not in used_t:
                t.missed += 1
        for bi, b in enumerate(boxes):
            if bi not in used_b:
                self.tracks.append(Track(self._next_id, tuple(int(v) for v in b)))
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


class LiveAnalyzer:
    """Holds the model, the detector and the face tracks for one webcam stream.

    `configure()` may be called at any time from the script thread (the sidebar changed); `process()`
    runs on the WebRTC thread. A lock keeps the two apart; a failing model never kills the stream:
    the frame comes back with the error written on it and `snapshot()["error"]` says what happened.
    """

    def __init__(self, predictor=None, detector=None, settings: LiveSettings | None = None, stats_path=None):
        self._lock = threading.Lock()
        self.predictor = predictor
        self.detector = detector
        self.settings = settings or LiveSettings()
        self.tracker = FaceTracker()
        self.frames = 0
        self.frames_with_faces = 0
        self.max_faces = 0
        self.fps = 0.0
        self.latency_ms = 0.0
        self.error: str | None = None
        self._times: deque = deque(maxlen=30)
        self._latencies: deque = deque(maxlen=30)
        self._faces: list[dict] = []
        stats_path = stats_path or os.environ.get(STATS_ENV)
        self._stats_path = Path(stats_path) if stats_path else None
        self._stats_written = 0.0

    # ------------------------------------------------------------ from the script thread
    def configure(self, predictor=..., detector=None, settings: LiveSettings | None = None) -> None:
        """Change the model (None: faces only), the detector or the settings; omitted ones stay."""
        with self._lock:
            if predictor is not ... and predictor is not self.predictor:
                self.predictor = predictor
                for t in self.tracker.tracks:  # other model, other classes: start smoothing afresh
                    t.probs = None
                self.error = None
            if detector is not None:
                self.detector = detector
            if settings is not None:
                self.settings = settings

    def snapshot(self) -> dict:
        """What the page shows beside the video: counters and, per face, the smoothed probabilities."""
        with self._lock:
            p = self.predictor
            return {
                "frames": self.frames, "frames_with_faces": self.frames_with_faces, "max_faces": self.max_faces,
                "fps": round(self.fps, 1), "latency_ms": round(self.latency_ms, 1), "error": self.error,
                "model": getattr(p, "name", None), "classes": list(getattr(p, "classes", ()) or ()),
                "faces": [dict(f) for f in self._faces],
            }

    # ------------------------------------------------------------ from the WebRTC thread
    def process(self, image: np.ndarray, color: str = "bgr") -> np.ndarray:
        """Analyse one frame and return it annotated (same size, same colour order)."""
        _one_thread_here()
        t0 = time.perf_counter()
        with self._lock:
            out = image.copy()
            try:
                faces = self._analyse(image, color)
                self.error = None
            except Exception as e:  # noqa: BLE001 - a live stream must survive anything a model does
                faces = []
                self.error = f"{type(e).__name__}: {e}"
            self._faces = faces
            self._draw(out, faces, color)
            self._count(t0, len(faces))
            draw.banner(out, f"{self.fps:4.1f} fps  {self.latency_ms:4.0f} ms/frame  faces: {len(faces)}", color=color)
            if self.error:
                draw.draw_label(out, self.error[:80], 4, out.shape[0] - 4, draw.STRESS_COLOR, color,
                                font_scale=0.45 * draw._scale(out))
            self._write_stats()
        return out

    def _analyse(self, image: np.ndarray, color: str) -> list[dict]:
        from core.faces import crop_faces
        from core.predictors import p_stress, stress_verdict

        s = self.settings
        if self.detector is not None and (self.frames % max(1, s.detect_every) == 0 or not self.tracker.tracks):
            found = self.detector.detect(image, color=color)
            self.tracker.update([f.box for f in found])
        tracks = self.tracker.active()
        if not tracks:
            return []
        if self.predictor is None:  # no model: the faces only
            return [{"id": t.id, "box": list(t.box), "emotion": None, "confidence": float("nan"), "stress": None,
                     "stress_confidence": float("nan"), "p_stress": float("nan"), "probs": []} for t in tracks]
        boxes = [t.box for t in tracks]
        crops = crop_faces(image, boxes, margin=s.margin, color=color)
        probs = np.asarray(self.predictor.predict(list(crops)), dtype=np.float64)  # one batched pass
        classes = list(self.predictor.classes)
        faces = []
        for t, p in zip(tracks, probs):
            t.probs = smooth(t.probs, p, s.smoothing)
            t.age += 1
            q = t.probs
            i = int(np.argmax(q))
            try:
                label, conf = stress_verdict(q, classes)
                ps = float(p_stress(q, classes))
            except ValueError:  # a model whose classes have no stress emotions
                label, conf, ps = None, float("nan"), float("nan")
            faces.append({"id": t.id, "box": list(t.box), "emotion": classes[i], "confidence": float(q[i]),
                          "stress": label, "stress_confidence": float(conf), "p_stress": ps,
                          "probs": [float(v) for v in q]})
        return faces

    def _draw(self, out: np.ndarray, faces: list[dict], color: str) -> None:
        for f in faces:
            sub = sub_cls = None
            stress_model = f["emotion"] in ("stress", "no_stress")  # its label already is the verdict
            if self.settings.show_stress and f["stress"] and not stress_model:
                stressed = f["stress"] == "stress"
                sub = f"{'STRESS' if stressed else 'no stress'} {f['stress_confidence']:.0%}"
                sub_cls = "stress" if stressed else "no_stress"
            shown = f["emotion"].replace("_", " ") if f["emotion"] else None
            if stress_model and f["emotion"] == "stress":
                shown = "STRESS"
            label = f"#{f['id']} {shown} {f['confidence']:.0%}" if shown else f"#{f['id']}"
            draw.draw_face(out, f["box"], label, draw.class_color(f["emotion"]), color, sub,
                           draw.class_color(sub_cls) if sub_cls else None)

    def _count(self, t0: float, n_faces: int) -> None:
        """Frames/s and per-frame latency over the last ~2 seconds (robust to the slow first frame)."""
        now = time.perf_counter()
        self._times.append(now)
        self._latencies.append((now - t0) * 1000)
        if len(self._times) >= 2:
            self.fps = (len(self._times) - 1) / max(self._times[-1] - self._times[0], 1e-6)
        self.latency_ms = sum(self._latencies) / len(self._latencies)  # mean: detection frames count too
        self.frames += 1
        if n_faces:
            self.frames_with_faces += 1
            self.max_faces = max(self.max_faces, n_faces)

    def _write_stats(self, force: bool = False) -> None:
        if self._stats_path is None:
            return
        now = time.time()
        if not force and now - self._stats_written < 0.5:
            return
        self._stats_written = now
        data = {"frames": self.frames, "frames_with_faces": self.frames_with_faces, "max_faces": self.max_faces,
                "faces": len(self._faces), "fps": self.fps, "latency_ms": self.latency_ms, "error": self.error,
                "model": getattr(self.predictor, "name", None),
                "labels": [f["emotion"] for f in self._faces], "time": now}
        try:
            tmp = self._stats_path.with_name(self._stats_path.name + ".tmp")
            tmp.write_text(json.dumps(data))
            os.replace(tmp, self._stats_path)
        except OSError:
            pass
