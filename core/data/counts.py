"""A data set's split sizes and class counts from its labels alone, no face decoded: a few seconds for FER2013's
CSV, where decoding its 35,887 faces takes a minute or more the first time (then core.data.cache makes it a
second). The same splits as `load_dataset` (the Usage column, else the same seeded carving); the faces' pixels
are checked only when they are decoded.

    label_counts("fer2013.csv.gz")  # {"layout": "csv", "classes": [...], "sizes": {...}, "counts": {...}}
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..labels import EMOTIONS, FERPLUS_CLASSES, STRESS_CLASSES, stress_index
from .errors import DataError
from .fer_csv import CSV_SPLITS
from .splits import SPLITS, carve, fill_missing_splits


def label_counts(path, task: str = "emotion", val_fraction: float = 0.1, seed: int = 0,
                 stress_emotions=None, labels: str = "fer2013", label_mode: str = "majority",
                 votes=None) -> dict | None:
    """{"layout", "classes", "sizes" (per split), "counts" (per class of the train split)} of a FER2013-style CSV,
    read from its emotion and Usage columns (with `labels="ferplus"`, from FER+'s votes beside it, joined and
    checked as load_dataset joins them); None for a layout whose labels cannot be read apart from its images
    (image folders). DataError for a file whose labels are wrong, with its line."""
    path = Path(path)
    if not (path.is_file() and path.name.lower().endswith((".csv", ".csv.gz"))):
        return None
    if labels == "ferplus":
        return _vote_counts(path, task, label_mode, votes, stress_emotions)
    return _fer2013_counts(path, task, val_fraction, seed, stress_emotions)


def _vote_counts(path: Path, task, mode, votes, stress_emotions) -> dict:
    """label_counts of FER+'s votes: the faces each split keeps (the training split in `mode`, the others under the
    majority protocol) and the training faces' top emotion."""
    from .ferplus import check_alignment, find_votes, read_votes, vote_targets

    fer_labels, usage = _read_labels(path)
    votes_path = find_votes(path, votes)
    if votes_path is None or not votes_path.is_file():
        raise DataError(f"FER+'s votes (fer2013new.csv) were not found for {path}: put Microsoft's fer2013new.csv "
                        "beside it (github.com/microsoft/FERPlus), or set FERPLUS_PATH")
    v = read_votes(votes_path)
    split_of = np.array([CSV_SPLITS[u] for u in usage]) if usage is not None else np.array([])
    fit = check_alignment(fer_labels, split_of, v, path, votes_path)
    sizes, train = {}, None
    for name in SPLITS:
        targets, kept = vote_targets(v["votes"][v["usage"] == name], mode if name == "train" else "majority")
        sizes[name] = int(kept.sum())
        if name == "train":
            train = targets[kept].argmax(1)
    classes = list(FERPLUS_CLASSES)
    if task == "stress":
        train, classes = stress_index(FERPLUS_CLASSES, stress_emotions)[train], list(STRESS_CLASSES)
    counts = np.bincount(train, minlength=len(classes))
    return {"layout": "csv", "classes": classes, "sizes": sizes, "counts": dict(zip(classes, map(int, counts))),
            "labels": "ferplus", "votes": str(votes_path), "fer2013_agreement": fit["agreement"]}


def _fer2013_counts(path: Path, task, val_fraction, seed, stress_emotions) -> dict:
    labels, usage = _read_labels(path)
    if usage is not None:
        split_of = np.array([CSV_SPLITS[u] for u in usage])
    else:  # no Usage column: carved as core.data.fer_csv carves it
        split_of = carve(labels, {"val": val_fraction, "test": val_fraction}, seed)
    out = {}
    for name in SPLITS:  # no pixels: zero-width rows, so the same carving code decides the same sizes
        y = labels[split_of == name]
        out[f"{name}_x"], out[f"{name}_y"] = np.zeros((len(y), 0), np.uint8), y
    if len(out["train_y"]) == 0:
        raise DataError(f"{path}: no Training rows (Usage column): there is nothing to train on")
    out = fill_missing_splits(out, val_fraction, seed)
    classes = list(EMOTIONS)
    train = out["train_y"]
    if task == "stress":
        train = stress_index(EMOTIONS, stress_emotions)[train]
        classes = list(STRESS_CLASSES)
    elif task != "emotion":
        raise DataError(f"unknown task {task!r}: use 'emotion' or 'stress'")
    counts = np.bincount(train, minlength=len(classes))
    return {"layout": "csv", "classes": classes, "sizes": {n: int(len(out[f"{n}_y"])) for n in SPLITS},
            "counts": dict(zip(classes, map(int, counts)))}


def _read_labels(path: Path) -> tuple[np.ndarray, list[str] | None]:
    """The emotion column as int64 (checked: 0..6) and the Usage column (checked), or None without one."""
    import pandas as pd

    try:
        header = [c.strip() for c in pd.read_csv(path, nrows=0).columns]
        df = pd.read_csv(path, usecols=lambda c: c.strip() in ("emotion", "Usage"), dtype=str, keep_default_na=False)
    except Exception as e:  # noqa: BLE001 - pandas' many errors: the file is not a CSV we can read
        raise DataError(f"{path}: not a readable CSV ({e})") from e
    missing = {"emotion", "pixels"} - set(header)
    if missing:
        raise DataError(f"{path}: missing column(s) {sorted(missing)}; expected emotion,pixels,Usage")
    df.columns = [c.strip() for c in df.columns]
    if len(df) == 0:
        raise DataError(f"{path}: no rows")
    labels = pd.to_numeric(df["emotion"].str.strip(), errors="coerce")
    bad = np.flatnonzero(labels.isna().to_numpy() | ~labels.isin(range(len(EMOTIONS))).to_numpy())
    if len(bad):
        i = int(bad[0])
        raise DataError(f"{path}: line {i + 2}: label {df['emotion'].iat[i]!r} is not one of 0..{len(EMOTIONS) - 1}"
                        + (f" ({len(bad)} bad labels in all)" if len(bad) > 1 else ""))
    if "Usage" not in df.columns:
        return labels.to_numpy().astype(np.int64), None
    usage = df["Usage"].str.strip()
    unknown = ~usage.isin(list(CSV_SPLITS)).to_numpy()
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise DataError(f"{path}: line {i + 2}: Usage {usage.iat[i]!r} is not one of {list(CSV_SPLITS)}")
    return labels.to_numpy().astype(np.int64), list(usage)
