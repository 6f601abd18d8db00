"""One interface for every model the app can ask: `predict(face_crops) -> probabilities`.

A predictor takes a batch of face crops (grey uint8 arrays, any size; each predictor resizes to its
own input) and returns an (N, C) array of probabilities over its named `classes`, in one forward pass.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Sequence

import numpy as np

TTA_MODES = (None, "flip", "tencrop")


class Predictor(ABC):
    name: str          # what the app shows, e.g. "resnet (default)" or "DeepFace"
    classes: tuple     # class names, our spelling (core.labels)
    source: str        # a checkpoint path, or "deepface"
    kind: str = "emotion"  # "emotion" or "stress"

    @abstractmethod
    def predict(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """(N, len(classes)) probabilities, each row summing to 1."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({getattr(self, 'name', '?')!r})"


def tta_mode(tta) -> str | None:
    """A test-time augmentation name as given by a page or a flag, checked: None, "flip" or "tencrop"."""
    tta = None if tta in (None, "", "none", "None") else str(tta)
    if tta not in TTA_MODES:
        raise ValueError(f"unknown test-time augmentation {tta!r}; use one of {TTA_MODES}")
    return tta
