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

from ..labels import STRESS_CLASSES, stress_index
from ..settings import data_candidates, fer2013_env
from .cache import cache_file, cached
from .errors import DataError
from .fer_csv import load_csv_arrays
from .folders import load_folder_arrays
from .splits import SPLITS


@dataclass
class Split:
    images: torch.Tensor  # (N, 1, H, W) uint8
    labels: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return int(self.labels.shape[0])


@dataclass
class Dataset:
    classes: tuple[str, ...]
    splits: dict[str, Split]
    source: str
    layout: str  # "csv" or "folders"
    task: str = "emotion"
    info: dict = field(default_factory=dict)

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
    return "folders"


def is_cached(path, image_size: int = 48, val_fraction: float = 0.1, seed: int = 0) -> bool:
    """Whether `load_dataset(path)` (these settings) will read decoded arrays from the cache, in a second or so,
    rather than decode the data set (about a minute for FER2013's CSV)."""
    try:
        path = Path(path)
        return cache_file(path, detect_layout(path), image_size, val_fraction, seed).exists()
    except (DataError, OSError):
        return False


def load_dataset(path=None, image_size: int = 48, task: str = "emotion", val_fraction: float = 0.1,
                 seed: int = 0, cache: bool = True, stress_emotions=None) -> Dataset:
    """Load a data set in either layout, as uint8 tensors; `task="stress"` applies the stress view."""
    if path is None:
        path = default_data_path()
        if path is None:
            raise DataError("no data set given and none found: set FER2013_PATH or put fer2013.csv in data/")
    path = Path(path)
    layout = detect_layout(path)
    loader = load_csv_arrays if layout == "csv" else load_folder_arrays
    arrays = cached(path, layout, image_size, val_fraction, seed, loader, cache)
    classes = tuple(str(c) for c in arrays["classes"])
    splits = {}
    for name in SPLITS:
        x = arrays[f"{name}_x"]
        y = arrays[f"{name}_y"]
        splits[name] = Split(torch.from_numpy(np.ascontiguousarray(x)).unsqueeze(1), torch.from_numpy(y.astype(np.int64)))
    ds = Dataset(classes, splits, str(path), layout)
    if task == "stress":
        ds = to_stress(ds, stress_emotions)
    elif task != "emotion":
        raise DataError(f"unknown task {task!r}: use 'emotion' or 'stress'")
    return ds


def to_stress(ds: Dataset, stress_emotions=None) -> Dataset:
    """The stress view: the stress emotions (angry, fear, sad by default) -> stress, the rest -> no stress."""
    if set(ds.classes) == set(STRESS_CLASSES):
        return ds
    mapping = torch.from_numpy(stress_index(ds.classes, stress_emotions))
    splits = {n: Split(s.images, mapping[s.labels]) for n, s in ds.splits.items()}
    return Dataset(STRESS_CLASSES, splits, ds.source, ds.layout, task="stress", info=dict(ds.info))


def normalize(images: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """uint8 [0, 255] -> float, standardised the one way training and inference share."""
    return (images.float() / 255.0 - mean) / std


def pixel_stats(images: torch.Tensor) -> tuple[float, float]:
    x = images.float() / 255.0
    return float(x.mean()), float(x.std())
