"""A checkpoint measured on a data set: the checkpoint and the data are loaded once, and every figure
(splits, test-time augmentations, the stress view) is computed from them."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..data import Dataset, load_dataset
from ..evaluate import evaluate_model
from ..labels import STRESS_CLASSES, canonical
from ..models.checkpoint import build_model, load_checkpoint, without_training_state


@dataclass
class Subject:
    """A checkpoint (its state, its built model) and the data set in the checkpoint's task and face size."""
    path: Path
    state: dict
    model: object
    dataset: Dataset

    @property
    def meta(self) -> dict:
        return {k: v for k, v in without_training_state(self.state).items() if k != "state_dict"}

    @property
    def input_size(self) -> int:
        return int(self.state.get("input_size", 48))

    def evaluate(self, split: str = "test", tta=None, progress=None) -> dict:
        s = self.dataset.splits[split]
        result = evaluate_model(self.model, s.images, s.labels, self.dataset.classes, self.state["mean"],
                                self.state["std"], tta, progress=progress, input_size=self.input_size)
        return {**result, "split": split, "data": self.dataset.source, "checkpoint": str(self.path)}


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
