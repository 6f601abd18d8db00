"""The FER2013 challenge CSV (`emotion,pixels,Usage`, plain or .gz): Training / PublicTest / PrivateTest
become train / val / test (select on PublicTest, report PrivateTest). Every bad row is refused with its
file line, before anything becomes training data."""
from __future__ import annotations

import gzip
import io
import re
from pathlib import Path

import numpy as np

from ..labels import EMOTIONS
from .errors import DataError
from .splits import SPLITS, carve, fill_missing_splits

CSV_SPLITS = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
_INTEGERS = re.compile(r"^\d+(?:\s+\d+)*$")


def _read_text(path: Path) -> str:
    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8") as f:
                return f.read()
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, EOFError) as e:
        raise DataError(f"{path}: cannot read ({e})") from e


def _line(i: int) -> int:
    return i + 2  # 1-based file line, after the header


def _parse_pixels(path: Path, pixels) -> np.ndarray:
    """(N, 2304) int32 from the pixels column; the first row that is not whole numbers is named."""
    import pandas as pd

    bad = np.flatnonzero(~pixels.str.fullmatch(_INTEGERS).to_numpy(dtype=bool))
    if len(bad):
        i = int(bad[0])
        token = next((t for t in pixels.iat[i].split() if not t.isdigit()), pixels.iat[i][:20])
        raise DataError(f"{path}: line {_line(i)}: pixel value {token!r} is not an integer in 0..255"
                        + (f" ({len(bad)} such rows in all)" if len(bad) > 1 else ""))
    return pd.read_csv(io.StringIO("\n".join(pixels)), sep=r"\s+", header=None, dtype=np.int32,
                       engine="c").to_numpy()


def load_csv_arrays(path: Path, image_size, val_fraction, seed):
    import pandas as pd

    text = _read_text(path)
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except Exception as e:
        raise DataError(f"{path}: not a readable CSV ({e})") from e
    del text
    df.columns = [c.strip() for c in df.columns]
    missing = {"emotion", "pixels"} - set(df.columns)
    if missing:
        raise DataError(f"{path}: missing column(s) {sorted(missing)}; expected emotion,pixels,Usage")
    if len(df) == 0:
        raise DataError(f"{path}: no rows")

    labels = pd.to_numeric(df["emotion"].str.strip(), errors="coerce")
    bad = np.flatnonzero(labels.isna().to_numpy() | ~labels.isin(range(len(EMOTIONS))).to_numpy())
    if len(bad):
        i = bad[0]
        raise DataError(f"{path}: line {_line(i)}: label {df['emotion'].iat[i]!r} is not one of 0..{len(EMOTIONS) - 1}"
                        + (f" ({len(bad)} bad labels in all)" if len(bad) > 1 else ""))

    pixels = df["pixels"].str.strip()
    counts = pixels.str.count(r"\s+").to_numpy() + 1
    n_values = 48 * 48
    bad = np.flatnonzero(counts != n_values)
    if len(bad):
        i = bad[0]
        raise DataError(f"{path}: line {_line(i)}: pixels has {counts[i] if pixels.iat[i] else 0} values, "
                        f"expected {n_values} (48x48)" + (f" ({len(bad)} bad rows in all)" if len(bad) > 1 else ""))
    flat = _parse_pixels(path, pixels)
    out_of_range = np.flatnonzero((flat < 0).any(1) | (flat > 255).any(1))
    if len(out_of_range):
        raise DataError(f"{path}: line {_line(out_of_range[0])}: a pixel value is outside 0..255")
    images = flat.astype(np.uint8).reshape(-1, 48, 48)
    del flat
    if image_size != 48:
        import cv2

        images = np.stack([cv2.resize(im, (image_size, image_size), interpolation=cv2.INTER_LINEAR) for im in images])

    split_of = _splits_of(path, df, labels, val_fraction, seed)
    y = labels.to_numpy().astype(np.int64)
    out = {"classes": np.array(EMOTIONS)}
    if "Usage" in df.columns:  # each row's split, in the file's order: what FER+'s votes are joined by
        out["rows_split"] = np.array([SPLITS.index(s) for s in split_of], dtype=np.int8)
    for name in SPLITS:
        m = split_of == name
        out[f"{name}_x"], out[f"{name}_y"] = images[m], y[m]
    if len(out["train_y"]) == 0:
        raise DataError(f"{path}: no Training rows (Usage column): there is nothing to train on")
    return fill_missing_splits(out, val_fraction, seed)  # e.g. a CSV with Training rows only


def _splits_of(path: Path, df, labels, val_fraction, seed) -> np.ndarray:
    """Each row's split: its Usage, checked; without a Usage column, a seeded stratified draw."""
    if "Usage" not in df.columns:
        return carve(labels.to_numpy().astype(np.int64), {"val": val_fraction, "test": val_fraction}, seed)
    usage = df["Usage"].str.strip()
    unknown = sorted(set(usage) - set(CSV_SPLITS))
    if unknown:
        i = int(np.flatnonzero(~usage.isin(list(CSV_SPLITS)).to_numpy())[0])
        raise DataError(f"{path}: line {_line(i)}: Usage {usage.iat[i]!r} is not one of {list(CSV_SPLITS)}")
    return usage.map(CSV_SPLITS).to_numpy()
