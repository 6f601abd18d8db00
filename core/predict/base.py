"""One interface for every model the app can ask: `predict(face_crops) -> probabilities`.

A predictor takes a batch of face crops (grey uint8 arrays, any size; each predictor resizes to its
own input) and returns an (N, C) array of probabilities over its named `classes`, in one forward pass.
Every caller reads that answer through `checked_probs`: NaN, infinite or mis-shaped probabilities are an
error of that model (ModelOutputError), never a label (argmax of NaN is the first class).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

import numpy as np

from ..evaluate import ModelOutputError, checked_probs  # noqa: F401  (what every caller reads answers through)
from ..labels import TTA_MODES, tta_mode  # noqa: F401  (said once, in core.labels)


class Predictor(ABC):
    name: str          # what the app shows, e.g. "resnet (default)" or "DeepFace"
    classes: tuple     # class names, our spelling (core.labels)
    source: str        # a checkpoint path, or "deepface"
    kind: str = "emotion"  # "emotion" or "stress"
    warmed: bool = False
    explainable: bool = False        # Grad-CAM can show where it looked (core.predict.saliency): our float CNNs
    calibrated: bool | None = None   # its temperature fitted on PublicTest; None: not ours, no temperature to fit
    calibrated_view: bool | None = None  # ... fitted on the view it answers with (plain or a TTA's average)

    @abstractmethod
    def predict(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """(N, len(classes)) probabilities, each row summing to 1."""

    def warm_up(self) -> None:
        """One grey face through the model, once: the first forward pass is slow, and must not count in the
        latency a page shows. A failure here is ignored: a real one shows up, with its message, on real faces."""
        if self.warmed:
            return
        try:
            self.predict([np.full((48, 48), 128, np.uint8)])
        except Exception:  # noqa: BLE001
            pass
        self.warmed = True

    def __repr__(self) -> str:
        return f"{type(self).__name__}({getattr(self, 'name', '?')!r})"

