"""Seeded, stratified carving of rows into splits, for data sets that do not bring all three."""
from __future__ import annotations

import numpy as np

SPLITS = ("train", "val", "test")


def carve(y: np.ndarray, fractions: dict[str, float], seed: int) -> np.ndarray:
    """Stratified, seeded assignment of rows to splits; the rest is train."""
    rng = np.random.default_rng(seed)
    split_of = np.full(len(y), "train", dtype=object)
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        start = 0
        for name, frac in fractions.items():
            n = int(round(len(idx) * frac))
            split_of[idx[start:start + n]] = name
            start += n
    return split_of.astype(str)


def carve_from_train(out: dict, name: str, fraction: float, seed: int) -> dict:
    """Move a seeded, stratified `fraction` of the train rows of `out` ({split}_x / {split}_y) into split `name`."""
    split_of = carve(out["train_y"], {name: fraction}, seed)
    x, y = out["train_x"], out["train_y"]
    out[f"{name}_x"], out[f"{name}_y"] = x[split_of == name], y[split_of == name]
    out["train_x"], out["train_y"] = x[split_of == "train"], y[split_of == "train"]
    return out


def fill_missing_splits(out: dict, fraction: float, seed: int) -> dict:
    """A validation or test split that a data set lacks is carved from its training rows (seeded), so that
    selection and the final report never run on an empty split."""
    for name, salt in (("test", 1), ("val", 0)):
        if len(out.get(f"{name}_y", ())) == 0:
            out = carve_from_train(out, name, fraction, seed + salt)
    return out
