"""One picture, many models: detect the faces once, crop them once, ask every predictor on the whole
batch. A model that fails is reported beside the others, never raised. Face by face, summarised and
tabulated: core.predict.photo."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .base import Predictor, checked_probs
from .crops import FACE_MARGIN, crop_faces
from .detectors import create_detector


@dataclass
class ModelOutput:
    name: str
    classes: tuple
    probs: np.ndarray | None      # (N faces, C); None when the model failed
    latency_ms: float             # per face: a warm call's time / N (the first call's, where it was not repeated)
    error: str | None = None
    kind: str = "emotion"
    source: str = ""
    latency_warm: bool = False    # latency_ms is the median of calls after the first (see `timed_predict`)


@dataclass
class Analysis:
    faces: list                   # [Face], left to right, original image coordinates
    crops: np.ndarray             # (N, 48, 48) uint8: what every model saw
    outputs: list                 # [ModelOutput], one per predictor, in the order given
    detect_ms: float = 0.0


def error_text(e: BaseException) -> str:
    """An exception as one line for the user: our own errors by their message, others with their type."""
    text = str(e).strip()
    if type(e).__name__ in ("DeepFaceUnavailable", "CheckpointError", "UnsafeCheckpoint", "ImageError",
                              "ModelOutputError") and text:
        return text
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


# A model's first call on a batch pays for allocations and lazy set-up (tens to hundreds of ms on a busy CPU):
# the time shown is the median of a few more calls on the same faces, made while they fit in this budget.
WARM_REPEATS = 3
WARM_BUDGET_S = 1.0


def timed_predict(predictor: Predictor, crops, repeats: int = WARM_REPEATS,
                  budget_s: float = WARM_BUDGET_S) -> tuple[np.ndarray, float, bool]:
    """(probabilities, ms per face, warm). The first call gives the answer; then up to `repeats` more calls
    on the same faces are timed while the time spent so far is under `budget_s`, and their median is the
    figure (warm=True). A first call that alone takes the budget is not repeated and gives its own time,
    warm=False: callers show that one as unmeasured, never as the model's speed."""
    n = max(len(crops), 1)
    t0 = time.perf_counter()
    probs = predictor.predict(crops)
    first = time.perf_counter() - t0
    spent, times = first, []
    while len(times) < repeats and spent < budget_s:
        t0 = time.perf_counter()
        predictor.predict(crops)
        times.append(time.perf_counter() - t0)
        spent += times[-1]
    seconds = float(np.median(times)) if times else first
    return probs, 1000.0 * seconds / n, bool(times)


def run_predictor(predictor: Predictor, crops) -> ModelOutput:
    """One predictor on a batch of crops, timed warm (`timed_predict`); failures become `error`, never an
    exception."""
    classes = tuple(getattr(predictor, "classes", ()) or ())
    name = str(getattr(predictor, "name", type(predictor).__name__))
    kind = str(getattr(predictor, "kind", "emotion"))
    source = str(getattr(predictor, "source", ""))
    n = len(crops)
    try:
        if not n:
            return ModelOutput(name, classes, np.zeros((0, len(classes))), 0.0, None, kind, source)
        raw, ms, warm = timed_predict(predictor, crops)
        probs = checked_probs(raw, n, classes, "the model")  # its name is beside its error
        return ModelOutput(name, classes, probs, ms, None, kind, source, warm)
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
