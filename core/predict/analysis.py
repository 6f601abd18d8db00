"""One picture, many models: detect the faces once, crop them once, ask every predictor on the whole
batch, tabulate. A model that fails is reported beside the others, never raised."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .base import Predictor
from .crops import FACE_MARGIN, crop_faces
from .detectors import create_detector
from .summary import face_summary


@dataclass
class ModelOutput:
    name: str
    classes: tuple
    probs: np.ndarray | None      # (N faces, C); None when the model failed
    latency_ms: float             # per face: the batch's time / N (the batch's time when N <= 1)
    error: str | None = None
    kind: str = "emotion"
    source: str = ""


@dataclass
class Analysis:
    faces: list                   # [Face], left to right, original image coordinates
    crops: np.ndarray             # (N, 48, 48) uint8: what every model saw
    outputs: list                 # [ModelOutput], one per predictor, in the order given
    detect_ms: float = 0.0


def error_text(e: BaseException) -> str:
    """An exception as one line for the user: our own errors by their message, others with their type."""
    text = str(e).strip()
    if type(e).__name__ in ("DeepFaceUnavailable", "CheckpointError", "UnsafeCheckpoint", "ImageError") and text:
        return text
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def run_predictor(predictor: Predictor, crops) -> ModelOutput:
    """One predictor on a batch of crops, timed; failures become `error`, never an exception."""
    classes = tuple(getattr(predictor, "classes", ()) or ())
    name = str(getattr(predictor, "name", type(predictor).__name__))
    kind = str(getattr(predictor, "kind", "emotion"))
    source = str(getattr(predictor, "source", ""))
    n = len(crops)
    t0 = time.perf_counter()
    try:
        probs = np.asarray(predictor.predict(crops), dtype=np.float64) if n else np.zeros((0, len(classes)))
        ms = (time.perf_counter() - t0) * 1000.0
        if probs.shape != (n, len(classes)):
            raise ValueError(f"returned probabilities of shape {probs.shape}, expected {(n, len(classes))}")
        return ModelOutput(name, classes, probs, ms / max(n, 1), None, kind, source)
    except Exception as e:  # noqa: BLE001 - one model failing must not stop the others
        return ModelOutput(name, classes, None, 0.0, error_text(e), kind, source)


def analyse(image: np.ndarray, predictors: Sequence[Predictor], detector=None, color: str = "rgb",
            margin: float = FACE_MARGIN, align: bool = True) -> Analysis:
    """Detect the faces once, crop them once (48x48 grey, upright on the eye line where the detector gives
    landmarks and `align`), run every predictor on the whole batch. A predictor that raises gets `error`
    set in its ModelOutput; the others still run."""
    detector = detector or create_detector()
    t0 = time.perf_counter()
    faces = list(detector.detect(image, color=color))
    detect_ms = (time.perf_counter() - t0) * 1000.0
    crops = crop_faces(image, faces, margin=margin, size=48, color=color, align=align)
    outputs = [run_predictor(p, crops) for p in predictors]
    return Analysis(faces, crops, outputs, detect_ms)


analyze = analyse  # the American spelling, kept for callers written with it


def results_table(analysis: Analysis, stress_emotions=None) -> list[dict]:
    """One row per face per model (models that failed have no rows): face (1-based), model, emotion
    (the top class), confidence, stress, stress_confidence, p_stress, latency_ms, x, y, w, h, and
    p_<class> for each of the model's classes."""
    rows = []
    for i, face in enumerate(analysis.faces):
        x, y, w, h = (int(v) for v in (face.box if hasattr(face, "box") else face))
        for o in analysis.outputs:
            if o.error or o.probs is None or i >= len(o.probs):
                continue
            p = np.asarray(o.probs[i], dtype=np.float64)
            row = {"face": i + 1, "model": o.name, **face_summary(p, o.classes, stress_emotions),
                   "latency_ms": float(o.latency_ms), "x": x, "y": y, "w": w, "h": h}
            row.update({f"p_{c}": float(v) for c, v in zip(o.classes, p)})
            rows.append(row)
    return rows
