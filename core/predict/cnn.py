"""Our checkpoints as predictors: loaded once, one batched forward pass per call, optional test-time
augmentation (the mirror average, ten crops), BatchNorm folded for inference."""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from ..calibration import apply_temperature
from ..evaluate import tta_views
from ..labels import STRESS_CLASSES, canonical
from ..models.checkpoint import CheckpointError, load_model
from ..models.int8 import is_quantized
from ..settings import infer_threads
from .base import Predictor, tta_mode
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


def fold_batchnorm(model):
    """An inference copy of `model` with each BatchNorm folded into the convolution before it
    (torch.fx); ~30% fewer operations per face on CPU. The model itself is left as it is (Grad-CAM
    uses it). Any model fx cannot trace is used as it is."""
    if is_quantized(model):  # folded already, when it was quantized
        return model
    try:
        from torch.fx.experimental.optimization import fuse

        fused = fuse(model)  # a deep copy: the original keeps its BatchNorm layers
        fused.eval()
        return fused
    except Exception:  # noqa: BLE001 - an optimisation only
        return model


class CNNPredictor(Predictor):
    """One of our checkpoints, loaded once; `predict` is one batched forward pass.

    tta: None, "flip" (average with the horizontal mirror) or "tencrop" (5 shifts x 2 flips).
    """

    def __init__(self, path, tta: str | None = None, threads: int | None = None):
        tta = tta_mode(tta)
        set_inference_threads(threads)
        self.model, self.meta = load_model(path)
        self.model.eval()
        self._net = fold_batchnorm(self.model)  # what predict runs: the same function, fewer ops
        self.source = str(path)
        self.path = Path(path)
        self.tta = tta
        self.arch = str(self.meta.get("model", "?"))
        self._checkpoint_classes = tuple(str(c) for c in self.meta["classes"])
        self.classes = tuple(canonical(c) for c in self._checkpoint_classes)
        self._order = None  # column order applied to the model's outputs (stress checkpoints)
        if set(self.classes) == set(STRESS_CLASSES) and len(self.classes) == 2:
            self._order = [self.classes.index(c) for c in STRESS_CLASSES]
            self.classes = STRESS_CLASSES
        self.kind = "stress" if self.classes == STRESS_CLASSES else "emotion"
        self.input_size = int(self.meta.get("input_size", 48))  # what the network sees
        self.face_size = int(self.meta.get("face_size") or self.input_size)  # the face it is cut from
        self.mean = float(self.meta.get("mean", 0.5))
        self.std = float(self.meta.get("std", 0.25))
        # fitted on PublicTest (core.calibration): its confidences mean what they say; 1 for older checkpoints
        self.temperature = float(self.meta.get("temperature") or 1.0)
        self.calibrated = "temperature" in self.meta
        self.name = friendly_name(path, self.arch) + (f" +{tta}" if tta else "")

    @property
    def metrics(self) -> dict:
        return dict(self.meta.get("metrics") or {})

    def inputs(self, crops, tta=None) -> list:
        """The network's input views of the crops: resized to the face size the model was trained on, then
        its centre crop (or the TTA views), normalised."""
        return tta_views(preprocess(crops, self.face_size, self.mean, self.std), tta, self.input_size)

    def logits(self, crops):
        """Raw logits (torch, N x C, the checkpoint's class order) of the crops, without TTA."""
        import torch

        with torch.inference_mode():
            return self.model(self.inputs(crops)[0])

    def predict(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        n = len(crops)
        if n == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float64)
        views = self.inputs(crops, self.tta)
        with torch.inference_mode():  # every view in one batch: one forward pass
            out = F.softmax(self._net(torch.cat(views) if len(views) > 1 else views[0]), 1)
            probs = out.reshape(len(views), n, -1).mean(0)
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
