"""Two models on the same faces: both measured on one split of one data set, then the paired statistics of
core.paired (intervals, McNemar's test, the verdict) and each one's calibration.

The data set is loaded once when both models cut faces of the same size; either way both answer the same
faces in the same order, which is what makes the comparison paired. One side may be DeepFace (`deepface`,
where its weights are present): it answers the other model's faces, without TTA or temperature."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..calibration import ece, reliability
from ..data import Dataset
from ..evaluate import predictor_probs
from ..paired import N_BOOT, compare_predictions
from ..predict.catalogue import resolve_model
from ..predict.cnn import friendly_name
from ..predict.loading import DEEPFACE, load_predictor
from .evaluation import Subject, open_subject


@dataclass
class PredictorSubject:
    """A model that is no checkpoint of ours (DeepFace), measured like a Subject on another's data set."""
    predictor: object
    dataset: Dataset
    path: Path = Path(DEEPFACE)
    temperature: float = 1.0
    _probs: dict = field(default_factory=dict, repr=False)  # split -> probabilities (it is slow)

    def labels(self, split: str = "test") -> np.ndarray:
        return self.dataset.splits[split].labels.numpy()

    def temperature_for(self, tta=None) -> float:
        return self.temperature

    def probs(self, split: str = "test", tta=None, progress=None, temperature=None) -> np.ndarray:
        if split not in self._probs:
            self._probs[split] = predictor_probs(self.predictor, self.dataset.splits[split].images,
                                                 self.dataset.classes, progress=progress)
        return self._probs[split]


def _face_size(subject: Subject) -> int:
    return subject.meta.face_size


def _is_deepface(name) -> bool:
    return str(name).strip().lower() == DEEPFACE


def open_pair(a, b, data=None) -> tuple:
    """Both models (paths, shipped names, run ids or `deepface`) and their data, loaded once when it can be."""
    if _is_deepface(a) and _is_deepface(b):
        raise ValueError("compare DeepFace with one of our models, not with itself")
    if _is_deepface(a):
        sb, sa = open_pair(b, a, data)
        return sa, sb
    sa = open_subject(resolve_model(a), data, votes=True)  # FER+'s votes beside each face, where found
    if _is_deepface(b):
        return sa, PredictorSubject(load_predictor(DEEPFACE), sa.dataset)
    pb = resolve_model(b)
    sb = open_subject(pb, data, dataset=sa.dataset)  # refused if B answers other classes than A
    if _face_size(sb) != _face_size(sa):
        sb = open_subject(pb, data)
    return sa, sb


def compare_models(a, b, data=None, split: str = "test", tta=None, n_boot: int = N_BOOT, seed: int = 0,
                   progress=None) -> dict:
    """The paired comparison of models `a` and `b` on `split` (differences are B - A), with each model's
    accuracy, calibration (ECE before and after its temperature) and every face's probabilities."""
    sa, sb = open_pair(a, b, data)
    labels = sa.labels(split)
    if not np.array_equal(labels, sb.labels(split)):
        raise ValueError(f"{a} and {b} are measured on different faces of {split}: compare models of one task")
    probs = [s.probs(split, tta, progress) for s in (sa, sb)]
    names = tuple(friendly_name(s.path, None) for s in (sa, sb))
    out = compare_predictions(labels, probs[0], probs[1], sa.dataset.classes, names, n_boot, seed)
    out.update(split=split, tta=tta, data=sa.dataset.source, checkpoints=[str(sa.path), str(sb.path)])
    for key, s, p in (("a", sa, probs[0]), ("b", sb, probs[1])):
        raw = s.probs(split, tta, temperature=1.0)
        out[key].update(temperature=s.temperature_for(tta), ece=ece(raw, labels), ece_calibrated=ece(p, labels),
                        reliability=reliability(p, labels))
    out["probs"] = [p.round(4).tolist() for p in probs]
    out["labels"] = labels.tolist()
    faces = sa.dataset.splits[split]
    out["label_set"] = sa.dataset.labels or "fer2013"  # which faces: FER+'s test keeps those with a majority
    if faces.votes is not None:  # what the people said of each face, and FER2013's own label beside FER+'s
        out["votes"] = faces.votes.tolist()
        out["fer2013"] = (faces.fer2013 if faces.fer2013 is not None else faces.labels).tolist()
    return out


def disagreements(result: dict, which: str = "only_a") -> list[int]:
    """The faces (indices into the split) where only A (`only_a`) or only B (`only_b`) is right."""
    labels = np.asarray(result["labels"])
    right_a, right_b = (np.asarray(p).argmax(1) == labels for p in result["probs"])
    mask = right_a & ~right_b if which == "only_a" else right_b & ~right_a
    return np.flatnonzero(mask).tolist()
