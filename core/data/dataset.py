"""A data set in memory: uint8 tensors per split, its class names, and where it came from.

`load_dataset` reads either layout (core.data.fer_csv, core.data.folders) through the cache
(core.data.cache); `to_stress` is the stress view; `normalize` is the one normalisation that training and
inference share.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..labels import EMOTIONS, FERPLUS_CLASSES, LABEL_SETS, STRESS_CLASSES, is_stress_task, stress_index
from ..settings import data_candidates, fer2013_env
from .cache import cache_file, cached
from .errors import DataError
from .fer_csv import CSV_SPLITS, load_csv_arrays
from .ferplus import (check_alignment, find_votes, is_ferplus_folder, load_ferplus_folder_arrays, read_votes,
                      vote_targets)
from .folders import load_folder_arrays
from .grey import apply_grey, check_grey
from .splits import SPLITS


@dataclass
class Split:
    images: torch.Tensor  # (N, 1, H, W) uint8
    labels: torch.Tensor  # (N,) int64
    targets: torch.Tensor | None = None  # (N, C) float: soft targets (FER+'s votes as a distribution), if any
    votes: torch.Tensor | None = None  # (N, 10) uint8: FER+'s ten votes (core.data.ferplus.VOTE_NAMES), if known
    fer2013: torch.Tensor | None = None  # (N,) int64: FER2013's own label, where the labels are FER+'s

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def subset(self, keep) -> "Split":
        """The rows `keep` (a bool mask or indices) of every field."""
        keep = torch.as_tensor(keep)
        pick = lambda t: None if t is None else t[keep]  # noqa: E731
        return Split(self.images[keep], self.labels[keep], pick(self.targets), pick(self.votes), pick(self.fer2013))


@dataclass
class Dataset:
    classes: tuple[str, ...]
    splits: dict[str, Split]
    source: str
    layout: str  # "csv" or "folders"
    task: str = "emotion"
    info: dict = field(default_factory=dict)

    @property
    def labels(self) -> str:
        """Which labels the classes come from: "fer2013", "ferplus", or "" (a data set of its own)."""
        return self.info.get("labels", "fer2013" if set(self.classes) <= set(EMOTIONS) and self.layout == "csv"
                             else "")

    @property
    def has_votes(self) -> bool:
        return all(s.votes is not None for s in self.splits.values())

    @property
    def image_size(self) -> int:
        return int(self.splits["train"].images.shape[-1])

    def sizes(self) -> dict[str, int]:
        return {name: len(s) for name, s in self.splits.items()}

    def class_counts(self, split: str = "train") -> dict[str, int]:
        counts = torch.bincount(self.splits[split].labels, minlength=len(self.classes)).tolist()
        return dict(zip(self.classes, counts))


def default_data_path() -> Path | None:
    """Where FER2013 is, if anywhere we know: $FER2013_PATH, ./data, or ../shared beside the repo."""
    if fer2013_env():
        return data_candidates()[0]
    return next((c for c in data_candidates() if c.exists()), None)


def detect_layout(path) -> str:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_file():
        if path.name.lower().endswith((".csv", ".csv.gz")):
            return "csv"
        raise DataError(f"{path}: expected a FER2013-style .csv or .csv.gz file, or a folder of class folders")
    return "ferplus-folders" if is_ferplus_folder(path) else "folders"


def is_cached(path, image_size: int = 48, val_fraction: float = 0.1, seed: int = 0) -> bool:
    """Whether `load_dataset(path)` (these settings) will read decoded arrays from the cache, in a second or so,
    rather than decode the data set (about a minute for FER2013's CSV)."""
    try:
        path = Path(path)
        return cache_file(path, detect_layout(path), image_size, val_fraction, seed).exists()
    except (DataError, OSError):
        return False


def load_dataset(path=None, image_size: int = 48, task: str = "emotion", val_fraction: float = 0.1,
                 seed: int = 0, cache: bool = True, stress_emotions=None, labels: str = "fer2013",
                 label_mode: str = "majority", votes=None, join_votes: bool = False) -> Dataset:
    """Load a data set in either layout, as uint8 tensors. `labels="ferplus"` takes FER+'s ten votes per face as
    the labels (core.data.ferplus: the votes file found beside FER2013's CSV, or `votes`; or Microsoft's FER2013Train/
    Valid/Test folders), made into targets the `label_mode` way; `join_votes` keeps FER2013's labels and every face
    but brings the votes beside them (`Split.votes`); `task="stress"` then applies the stress view."""
    if path is None:
        path = default_data_path()
        if path is None:
            raise DataError("no data set given and none found: set FER2013_PATH or put fer2013.csv in data/")
    path = Path(path)
    if labels not in LABEL_SETS:
        raise DataError(f"unknown labels {labels!r}: use one of {', '.join(LABEL_SETS)}")
    layout = detect_layout(path)
    loader = {"csv": load_csv_arrays, "folders": load_folder_arrays,
              "ferplus-folders": load_ferplus_folder_arrays}[layout]
    votes_found = None
    if layout == "csv" and (labels == "ferplus" or join_votes):
        votes_found = _votes_for(path, votes)
        if not (cache and cache_file(path, layout, image_size, val_fraction, seed).exists()):
            _check_join_early(path, votes_found)
    arrays = cached(path, layout, image_size, val_fraction, seed, loader, cache)
    classes = tuple(str(c) for c in arrays["classes"])
    splits = {}
    for name in SPLITS:
        x = arrays[f"{name}_x"]
        y = arrays[f"{name}_y"]
        v = arrays.get(f"{name}_votes")
        splits[name] = Split(torch.from_numpy(np.ascontiguousarray(x)).unsqueeze(1), torch.from_numpy(y.astype(np.int64)),
                             votes=None if v is None else torch.from_numpy(v))
    ds = Dataset(classes, splits, str(path), layout)
    if layout == "csv" and (labels == "ferplus" or join_votes):
        ds = _join_votes(ds, arrays, path, votes_found)
    if labels == "ferplus":
        ds = to_ferplus(ds, label_mode)
    elif layout == "ferplus-folders":
        raise DataError(f"{path}: FER+'s folders carry the ten votes, not FER2013's labels: train with labels "
                        "\"ferplus\" (--labels ferplus)")
    if task == "stress":
        ds = to_stress(ds, stress_emotions)
    elif task != "emotion":
        raise DataError(f"unknown task {task!r}: use 'emotion' or 'stress'")
    return ds


def _votes_for(path: Path, votes_given) -> tuple[Path, dict]:
    """(where, what) of FER+'s votes for FER2013's CSV at `path` (DataError saying where to put them if missing)."""
    votes_path = find_votes(path, votes_given)
    if votes_path is None or not votes_path.is_file():
        raise DataError(f"FER+'s votes (fer2013new.csv) were not found for {path}"
                        + (f" at {votes_path}" if votes_path else "")
                        + ": download fer2013new.csv from github.com/microsoft/FERPlus and put it beside "
                        "fer2013.csv (or set FERPLUS_PATH)")
    return votes_path, read_votes(votes_path)


def _check_join_early(path: Path, votes: tuple[Path, dict]) -> None:
    """The alignment check on FER2013's labels and Usage alone (seconds), before its pixels are parsed (a minute):
    a misaligned pair is refused at once."""
    import pandas as pd

    try:
        df = pd.read_csv(path, usecols=["emotion", "Usage"], dtype=str, keep_default_na=False)
        labels = pd.to_numeric(df["emotion"].str.strip(), errors="raise").to_numpy().astype(np.int64)
        split = df["Usage"].str.strip().map(CSV_SPLITS).to_numpy()
    except (ValueError, KeyError, OSError):
        return  # the full parse says what is wrong with the file, line by line
    check_alignment(labels, split, votes[1], path, votes[0])


def _join_votes(ds: Dataset, arrays: dict, path: Path, votes: tuple[Path, dict]) -> Dataset:
    """FER2013's CSV with FER+'s votes row by row, after checking the two files are the same faces in the same
    order (core.data.ferplus.check_alignment)."""
    votes_path, v = votes
    if "rows_split" not in arrays:
        raise DataError(f"{path}: has no Usage column, so its rows cannot be matched with FER+'s votes")
    rows_split = np.asarray(SPLITS)[arrays["rows_split"]]
    fer_labels = np.empty(len(rows_split), dtype=np.int64)
    for name in SPLITS:
        mask = rows_split == name
        if mask.sum() != len(ds.splits[name]):
            raise DataError(f"{path}: its {name} rows were re-split, so they cannot be matched with FER+'s votes")
        fer_labels[mask] = ds.splits[name].labels.numpy()
    fit = check_alignment(fer_labels, rows_split, v, path, votes_path)
    splits = {name: Split(s.images, s.labels, votes=torch.from_numpy(v["votes"][v["usage"] == name]))
              for name, s in ds.splits.items()}
    info = {**ds.info, "votes": str(votes_path), "fer2013_agreement": fit["agreement"]}
    return Dataset(ds.classes, splits, ds.source, ds.layout, ds.task, info)


def to_ferplus(ds: Dataset, mode: str = "majority") -> Dataset:
    """FER+'s view of a data set with votes: its eight classes (FERPLUS_CLASSES); the training faces and targets
    of `mode` (core.data.ferplus.vote_targets: soft targets for crossentropy, probability and multi_target), the
    validation and test faces under the official majority protocol. FER2013's own label, where the data set has
    one, stays beside each face (`Split.fer2013`)."""
    if not ds.has_votes:
        raise DataError(f"{ds.source}: no FER+ votes to learn from")
    splits = {}
    for name, s in ds.splits.items():
        targets, kept = vote_targets(s.votes.numpy(), mode if name == "train" else "majority")
        t = torch.from_numpy(targets)
        fer = s.labels if ds.layout == "csv" else None
        split = Split(s.images, t.argmax(1), t if mode != "majority" or name != "train" else None, s.votes, fer)
        splits[name] = split.subset(torch.from_numpy(kept))
        if len(splits[name]) == 0:
            raise DataError(f"{ds.source}: no {name} face is kept under FER+'s {mode} rule")
    info = {**ds.info, "labels": "ferplus", "label_mode": mode}
    return Dataset(FERPLUS_CLASSES, splits, ds.source, ds.layout, ds.task, info)


def with_grey(ds: Dataset, step: str) -> Dataset:
    """The data set with every face through the grey-level step (core.data.grey), as a model of that step sees it."""
    if check_grey(step) == "none":
        return ds
    splits = {n: Split(apply_grey(s.images, step), s.labels, s.targets, s.votes, s.fer2013) for n, s in ds.splits.items()}
    return Dataset(ds.classes, splits, ds.source, ds.layout, ds.task, {**ds.info, "grey": step})


def to_stress(ds: Dataset, stress_emotions=None) -> Dataset:
    """The stress view: the stress emotions (angry, fear, sad by default) -> stress, the rest -> no stress."""
    if is_stress_task(ds.classes):
        return ds
    mapping = torch.from_numpy(stress_index(ds.classes, stress_emotions))
    splits = {n: Split(s.images, mapping[s.labels], votes=s.votes) for n, s in ds.splits.items()}
    return Dataset(STRESS_CLASSES, splits, ds.source, ds.layout, task="stress", info=dict(ds.info))


def normalize(images: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """uint8 [0, 255] -> float, standardised the one way training and inference share."""
    return (images.float() / 255.0 - mean) / std


def pixel_stats(images: torch.Tensor) -> tuple[float, float]:
    x = images.float() / 255.0
    return float(x.mean()), float(x.std())
