"""A checkpoint measured on a data set: the checkpoint and the data are loaded once, and every figure
(splits, test-time augmentations, the stress view) is computed from them."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..calibration import apply_temperature, calibration_report
from ..data import Dataset, load_dataset
from ..evaluate import metrics_from_probs, predict_probs
from ..labels import STRESS_CLASSES, canonical
from ..models.checkpoint import build_model, load_checkpoint, without_training_state


@dataclass
class Subject:
    """A checkpoint (its state, its built model) and the data set in the checkpoint's task and face size."""
    path: Path
    state: dict
    model: object
    dataset: Dataset
    _raw: dict = field(default_factory=dict, repr=False)  # (split, tta) -> probabilities at temperature 1

    @property
    def meta(self) -> dict:
        return {k: v for k, v in without_training_state(self.state).items() if k != "state_dict"}

    @property
    def input_size(self) -> int:
        return int(self.state.get("input_size", 48))

    @property
    def temperature(self) -> float:
        """The checkpoint's calibration temperature (core.calibration); 1 for one that has none."""
        return float(self.state.get("temperature") or 1.0)

    def probs(self, split: str = "test", tta=None, progress=None, temperature: float | None = None) -> np.ndarray:
        """Every face's probabilities on a split (N x k), at the checkpoint's temperature unless told another."""
        if (split, tta) not in self._raw:  # one forward pass per split and view, whatever is asked of it
            s = self.dataset.splits[split]
            self._raw[split, tta] = predict_probs(self.model, s.images, self.state["mean"], self.state["std"], tta,
                                                  progress=progress, input_size=self.input_size).numpy()
        return apply_temperature(self._raw[split, tta], self.temperature if temperature is None else temperature)

    def labels(self, split: str = "test") -> np.ndarray:
        return self.dataset.splits[split].labels.numpy()

    def calibration(self, split: str = "test") -> dict:
        """A temperature fitted on PublicTest (the selection split: never the split it is judged on), and ECE
        on `split` before (temperature 1) and after it."""
        return calibration_report(self.probs("val", temperature=1.0), self.labels("val"),
                                  self.probs(split, temperature=1.0), self.labels(split))

    def evaluate(self, split: str = "test", tta=None, progress=None) -> dict:
        result = metrics_from_probs(self.probs(split, tta, progress), self.labels(split), self.dataset.classes)
        return {**result, "tta": tta, "split": split, "data": self.dataset.source, "checkpoint": str(self.path),
                "temperature": self.temperature}


def task_of(classes) -> str:
    return "stress" if tuple(canonical(c) for c in classes) == STRESS_CLASSES else "emotion"


def open_subject(path, data=None, dataset: Dataset | None = None) -> Subject:
    """Load a checkpoint and the data set (FER2013 by default) it is measured on, checking they agree."""
    path = Path(path)
    state = load_checkpoint(path)
    model = build_model(state, path)
    task = task_of(state["classes"])
    ds = dataset if dataset is not None else load_dataset(data, image_size=int(state.get("face_size") or
                                                                              state.get("input_size", 48)), task=task)
    if [canonical(c) for c in ds.classes] != [canonical(c) for c in state["classes"]]:
        raise ValueError(f"{path} predicts {state['classes']} but {ds.source} has classes {list(ds.classes)}")
    return Subject(path, state, model, ds)


def evaluate_checkpoint(path, data=None, split: str = "test", tta=None, progress=None) -> dict:
    """Evaluate a checkpoint on a split of a data set (FER2013 by default), with its own task and size."""
    return open_subject(path, data).evaluate(split, tta, progress)
