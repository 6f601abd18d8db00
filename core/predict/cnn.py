"""Our checkpoints as predictors: loaded once, one batched forward pass per call, optional test-time
augmentation (the mirror average, ten crops), BatchNorm folded for inference."""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from ..calibration import apply_temperature
from ..evaluate import inference_net, view_probs
from ..labels import STRESS_CLASSES, canonical, is_stress_task, task_of, tta_mode
from ..models.checkpoint import CheckpointError, load_model
from ..settings import infer_threads
from .base import Predictor
from .crops import preprocess

_THREADS_SET = False
_THREADS_LOCK = threading.Lock()


def set_inference_threads(threads: int | None = None) -> int:
    """torch's intra-op threads for inference: `threads`, else $FEL_INFER_THREADS, else min(2, CPUs);
    set once per process (an explicit `threads` always applies). On a machine whose cores are busy
    with other work, 1 thread can be much faster for single faces than 2 (OpenMP threads wait on
    each other): set FEL_INFER_THREADS=1 there."""
    import torch

    global _THREADS_SET
    with _THREADS_LOCK:
        if threads or not _THREADS_SET:
            n = int(threads or infer_threads() or min(2, os.cpu_count() or 1))
            if torch.get_num_threads() != n:
                torch.set_num_threads(n)
            _THREADS_SET = True
        return torch.get_num_threads()


def friendly_name(path, arch: str | None) -> str:
    """`<run id> (<arch>)` for model/runs/<id>/best.pt, `<file stem> (<arch>)` for model/<name>.pt."""
    p = Path(path)
    base = p.stem
    if p.stem in ("best", "last") and p.parent.name:
        base = p.parent.name + ("" if p.stem == "best" else " (last)")
    if arch and arch.lower() not in base.lower():
        return f"{base} ({arch})"
    return base


class CNNPredictor(Predictor):
    """One of our checkpoints, loaded once; `predict` is one batched forward pass.

    tta: None, "flip" (average with the horizontal mirror) or "tencrop" (5 shifts x 2 flips).
    """
    explainable = True  # an int8 one says why not when asked (saliency.grad_cam)

    def __init__(self, path, tta: str | None = None, threads: int | None = None):
        tta = tta_mode(tta)
        set_inference_threads(threads)
        self.model, self.meta = load_model(path)
        self.model.eval()
        self._net = inference_net(self.model)  # what predict runs: the same function, fewer ops
        self.source = str(path)
        self.path = Path(path)
        self.tta = tta
        self.arch = self.meta.model
        self._checkpoint_classes = self.meta.classes
        self.classes = tuple(canonical(c) for c in self._checkpoint_classes)
        self._order = None  # column order applied to the model's outputs (stress checkpoints)
        if is_stress_task(self.classes):
            self._order = [self.classes.index(c) for c in STRESS_CLASSES]
            self.classes = STRESS_CLASSES
        self.kind = task_of(self.classes)
        self.input_size = self.meta.input_size  # what the network sees
        self.face_size = self.meta.face_size  # the face it is cut from
        self.mean, self.std = self.meta.mean, self.meta.std
        # fitted on PublicTest (core.calibration), for this view where it was: its confidences mean what they say;
        # 1 for older checkpoints
        self.temperature = self.meta.scale_for(tta)
        self.calibrated = self.meta.calibrated
        self.calibrated_view = self.meta.calibrated_for(tta)  # fitted on this view's probabilities, not another's
        self.name = friendly_name(path, self.arch) + (f" +{tta}" if tta else "")

    @property
    def metrics(self) -> dict:
        return dict(self.meta.metrics)

    def faces(self, crops):
        """The crops as the model's faces: resized to the face size it was trained on, through its grey-level step,
        normalised (N, 1, H, W)."""
        return preprocess(crops, self.face_size, self.mean, self.std, self.meta.grey)

    def predict(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        import torch

        if len(crops) == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float64)
        with torch.inference_mode():  # the forward pass every evaluation makes (core.evaluate.view_probs)
            probs = view_probs(self._net, self.faces(crops), self.tta, self.input_size)
        probs = apply_temperature(probs.double().numpy(), self.temperature)
        if self._order is not None:
            probs = probs[:, self._order]
        return probs / probs.sum(1, keepdims=True)


class StressPredictor(CNNPredictor):
    """A CNN trained on the binary stress task (classes no_stress / stress)."""

    def __init__(self, path, tta: str | None = None, threads: int | None = None):
        super().__init__(path, tta=tta, threads=threads)
        if self.kind != "stress":
            raise CheckpointError(f"checkpoint {path} is not a binary stress model: it predicts "
                                  f"{list(self._checkpoint_classes)}, not {list(STRESS_CLASSES)}. "
                                  "Use StressFromEmotion to read stress from an emotion model.")
