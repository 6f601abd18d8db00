"""A checkpoint measured on a data set: the checkpoint and the data are loaded once, and every figure
(splits, test-time augmentations, the stress view) is computed from them."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from ..calibration import apply_temperature, calibration_report
from ..data import Dataset, DataError, apply_grey, load_dataset
from ..evaluate import checked_probs, inference_net, metrics_from_probs, predict_probs
from ..labels import canonical, task_of, tta_name
from ..models.checkpoint import build_model, checkpoint_meta, load_checkpoint
from ..models.meta import CheckpointMeta


@dataclass
class Subject:
    """A checkpoint (its state, its description, its built model) and the data set in the checkpoint's task and
    face size."""
    path: Path
    state: dict
    meta: CheckpointMeta
    model: object
    dataset: Dataset
    _raw: dict = field(default_factory=dict, repr=False)  # (split, tta) -> probabilities at temperature 1
    _faces: dict = field(default_factory=dict, repr=False)  # split -> its faces through the grey-level step

    @property
    def input_size(self) -> int:
        return self.meta.input_size

    @property
    def temperature(self) -> float:
        """The checkpoint's calibration temperature (core.calibration); 1 for one that has none."""
        return self.meta.scale

    def temperature_for(self, tta=None) -> float:
        """The temperature a view's probabilities get: its own, else the plain view's (CheckpointMeta.scale_for)."""
        return self.meta.scale_for(tta)

    @cached_property
    def net(self):
        """What its probabilities come from: the inference copy a predictor runs (core.evaluate.inference_net)."""
        return inference_net(self.model)

    def probs(self, split: str = "test", tta=None, progress=None, temperature: float | None = None) -> np.ndarray:
        """Every face's probabilities on a split (N x k), at the checkpoint's temperature for that view unless told
        another: the forward pass and TTA a predictor makes (core.evaluate.view_probs), so a checkpoint scores the
        same here (the Evaluate tab) as through its predictor (Compare's batch accuracy)."""
        if (split, tta) not in self._raw:  # one forward pass per split and view, whatever is asked of it
            raw = predict_probs(self.net, self.faces(split), self.meta.mean, self.meta.std, tta, progress=progress,
                                input_size=self.input_size).numpy()
            self._raw[split, tta] = checked_probs(raw, len(self.faces(split)), self.meta.classes, self.path.name)
        t = self.temperature_for(tta) if temperature is None else temperature
        return apply_temperature(self._raw[split, tta], t)

    def faces(self, split: str = "test"):
        """A split's faces through the checkpoint's grey-level step (core.data.grey), as the model saw its training
        faces; the data set itself is left as loaded (other checkpoints may share it)."""
        if split not in self._faces:
            self._faces[split] = apply_grey(self.dataset.splits[split].images, self.meta.grey)
        return self._faces[split]

    def labels(self, split: str = "test") -> np.ndarray:
        return self.dataset.splits[split].labels.numpy()

    def calibration(self, split: str = "test", tta=None) -> dict:
        """A temperature fitted on PublicTest (the selection split: never the split it is judged on) in one view
        (plain, or a TTA's averaged probabilities), and ECE on `split` in that view before (temperature 1) and
        after it."""
        return calibration_report(self.probs("val", tta, temperature=1.0), self.labels("val"),
                                  self.probs(split, tta, temperature=1.0), self.labels(split)) | {"tta": tta_name(tta)}

    def evaluate(self, split: str = "test", tta=None, progress=None) -> dict:
        result = metrics_from_probs(self.probs(split, tta, progress), self.labels(split), self.dataset.classes)
        return {**result, "tta": tta, "split": split, "data": self.dataset.source, "checkpoint": str(self.path),
                "temperature": self.temperature_for(tta)}


def labels_of(meta: CheckpointMeta) -> str:
    """The labels a checkpoint is measured against: FER+'s (official majority protocol) for a model that learned
    FER+'s votes, else FER2013's."""
    return "ferplus" if meta.label_set == "ferplus" else "fer2013"


def open_subject(path, data=None, dataset: Dataset | None = None, votes: bool = False) -> Subject:
    """Load a checkpoint and the data set (FER2013 by default) it is measured on, checking they agree. With `votes`,
    FER+'s ten votes come beside every face where they are found (a FER+ model's data set always has them)."""
    path = Path(path)
    state = load_checkpoint(path)
    meta = checkpoint_meta(state, path)
    model = build_model(state, path)
    ds = dataset
    if ds is None:
        kw = dict(image_size=meta.face_size, task=task_of(meta.classes), labels=labels_of(meta))
        try:
            ds = load_dataset(data, **kw, join_votes=votes and labels_of(meta) == "fer2013")
        except DataError:
            if not votes or labels_of(meta) == "ferplus":
                raise
            ds = load_dataset(data, **kw)  # no votes beside this data set: its own labels alone
    if [canonical(c) for c in ds.classes] != [canonical(c) for c in meta.classes]:
        raise ValueError(f"{path} predicts {list(meta.classes)} but {ds.source} has classes {list(ds.classes)}")
    return Subject(path, state, meta, model, ds)


def evaluate_checkpoint(path, data=None, split: str = "test", tta=None, progress=None) -> dict:
    """Evaluate a checkpoint on a split of a data set (FER2013 by default), with its own task and size."""
    return open_subject(path, data).evaluate(split, tta, progress)
