"""FER2013 and image-folder data sets, loaded once into uint8 tensors and cached.

Two layouts are read:
- the challenge CSV (`emotion,pixels,Usage`, plain or .gz): Training / PublicTest / PrivateTest
  become train / val / test (the literature's convention: select on PublicTest, report PrivateTest);
- image folders (`train/<class>/*.jpg`, `test/<class>/*.jpg`, optionally `val/`), or one folder of
  class folders; a validation split is carved from train with a seeded, stratified draw.

Bad data raises `DataError` naming the file (and row): nothing corrupt becomes training data.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .labels import EMOTIONS, STRESS_CLASSES, canonical, stress_index

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm"}
CSV_SPLITS = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
SPLITS = ("train", "val", "test")
ROOT = Path(__file__).resolve().parent.parent


class DataError(ValueError):
    """A data set that cannot be used as it is; the message says where and why."""


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


# ---------------------------------------------------------------- public entry points

def default_data_path() -> Path | None:
    """Where FER2013 is, if anywhere we know: $FER2013_PATH, ./data, or ../shared beside the repo."""
    env = os.environ.get("FER2013_PATH")
    if env:
        return Path(env)
    for candidate in (
        ROOT / "data" / "fer2013.csv", ROOT / "data" / "fer2013.csv.gz", ROOT / "data" / "fer2013",
        ROOT.parent / "shared" / "datasets" / "fer2013" / "fer2013.csv.gz",
    ):
        if candidate.exists():
            return candidate
    return None


def detect_layout(path) -> str:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_file():
        if path.name.lower().endswith((".csv", ".csv.gz")):
            return "csv"
        raise DataError(f"{path}: expected a FER2013-style .csv or .csv.gz file, or a folder of class folders")
    return "folders"


def load_dataset(path=None, image_size: int = 48, task: str = "emotion", val_fraction: float = 0.1,
                 seed: int = 0, cache: bool = True, stress_emotions=None) -> Dataset:
    """Load a data set in either layout, as uint8 tensors; `task="stress"` applies the stress view."""
    if path is None:
        path = default_data_path()
        if path is None:
            raise DataError("no data set given and none found: set FER2013_PATH or put fer2013.csv in data/")
    path = Path(path)
    layout = detect_layout(path)
    loader = _load_csv_arrays if layout == "csv" else _load_folder_arrays
    arrays = _cached(path, layout, image_size, val_fraction, seed, loader, cache)
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


# ---------------------------------------------------------------- cache

def cache_dir() -> Path:
    return Path(os.environ.get("FEL_CACHE_DIR", ROOT / "data" / "cache"))


def _cached(path: Path, layout, image_size, val_fraction, seed, loader, use_cache):
    key = _cache_key(path, layout, image_size, val_fraction, seed)
    target = cache_dir() / f"{path.name.split('.')[0]}-{key}.npz"
    if use_cache and target.exists():
        try:
            with np.load(target, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except Exception:  # a broken cache is only a cache: rebuild it
            target.unlink(missing_ok=True)
    arrays = loader(path, image_size, val_fraction, seed)
    if use_cache:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(f".tmp{os.getpid()}.npz")
            np.savez(tmp, **arrays)
            os.replace(tmp, target)
        except OSError:
            pass  # read-only or full disk: work without a cache
    return arrays


def _cache_key(path: Path, layout, image_size, val_fraction, seed) -> str:
    h = hashlib.sha1(f"v1|{path.resolve()}|{layout}|{image_size}|{val_fraction}|{seed}".encode())
    if path.is_file():
        st = path.stat()
        h.update(f"{st.st_size}|{st.st_mtime_ns}".encode())
    else:
        for f in sorted(_walk_images(path)):
            st = f.stat()
            h.update(f"{f}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- CSV layout

def _read_text(path: Path) -> str:
    try:
        if path.name.lower().endswith(".gz"):
            with gzip.open(path, "rt", encoding="utf-8") as f:
                return f.read()
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, EOFError) as e:
        raise DataError(f"{path}: cannot read ({e})") from e


def _load_csv_arrays(path: Path, image_size, val_fraction, seed):
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
    row = lambda i: i + 2  # 1-based file line, after the header  # noqa: E731

    labels = pd.to_numeric(df["emotion"].str.strip(), errors="coerce")
    bad = np.flatnonzero(labels.isna().to_numpy() | ~labels.isin(range(len(EMOTIONS))).to_numpy())
    if len(bad):
        i = bad[0]
        raise DataError(f"{path}: line {row(i)}: label {df['emotion'].iat[i]!r} is not one of 0..{len(EMOTIONS) - 1}"
                        + (f" ({len(bad)} bad labels in all)" if len(bad) > 1 else ""))

    pixels = df["pixels"].str.strip()
    counts = pixels.str.count(r"\s+").to_numpy() + 1
    n_values = 48 * 48
    bad = np.flatnonzero(counts != n_values)
    if len(bad):
        i = bad[0]
        raise DataError(f"{path}: line {row(i)}: pixels has {counts[i] if pixels.iat[i] else 0} values, "
                        f"expected {n_values} (48x48)" + (f" ({len(bad)} bad rows in all)" if len(bad) > 1 else ""))
    try:
        flat = pd.read_csv(io.StringIO("\n".join(pixels)), sep=r"\s+", header=None, dtype=np.int32,
                           engine="c").to_numpy()
    except Exception as e:  # a non-number among the values
        raise DataError(f"{path}: pixels column has a value that is not an integer ({e})") from e
    out_of_range = np.flatnonzero((flat < 0).any(1) | (flat > 255).any(1))
    if len(out_of_range):
        raise DataError(f"{path}: line {row(out_of_range[0])}: a pixel value is outside 0..255")
    images = flat.astype(np.uint8).reshape(-1, 48, 48)
    del flat
    if image_size != 48:
        images = _resize_all(images, image_size)

    if "Usage" in df.columns:
        usage = df["Usage"].str.strip()
        unknown = sorted(set(usage) - set(CSV_SPLITS))
        if unknown:
            i = int(np.flatnonzero(~usage.isin(list(CSV_SPLITS)).to_numpy())[0])
            raise DataError(f"{path}: line {row(i)}: Usage {usage.iat[i]!r} is not one of {list(CSV_SPLITS)}")
        split_of = usage.map(CSV_SPLITS).to_numpy()
    else:  # no Usage column: carve val and test from the rows, seeded
        split_of = _carve(labels.to_numpy().astype(np.int64), {"val": val_fraction, "test": val_fraction}, seed)
    y = labels.to_numpy().astype(np.int64)
    out = {"classes": np.array(EMOTIONS)}
    for name in SPLITS:
        m = split_of == name
        out[f"{name}_x"], out[f"{name}_y"] = images[m], y[m]
    if len(out["val_y"]) == 0:  # a CSV with Training and PrivateTest only
        out = _carve_val_from_train(out, val_fraction, seed)
    return out


# ---------------------------------------------------------------- folder layout

def _walk_images(root: Path):
    for dirpath, _, files in os.walk(root):
        for f in files:
            if Path(f).suffix.lower() in IMAGE_EXTENSIONS:
                yield Path(dirpath) / f


def _class_dirs(folder: Path) -> dict[str, Path]:
    return {d.name: d for d in sorted(folder.iterdir()) if d.is_dir() and not d.name.startswith(".")}


def _split_dirs(root: Path) -> dict[str, Path]:
    names = {"train": ("train", "training"), "val": ("val", "valid", "validation", "publictest"),
             "test": ("test", "testing", "privatetest")}
    found = {}
    for d in root.iterdir():
        for split, aliases in names.items():
            if d.is_dir() and d.name.lower() in aliases:
                found[split] = d
    return found


def _order_classes(names) -> tuple[str, ...]:
    canon = {canonical(n) for n in names}
    if canon <= set(EMOTIONS):  # FER-style folders: keep FER2013's label order
        return tuple(e for e in EMOTIONS if e in canon) if canon != set(EMOTIONS) else EMOTIONS
    if canon == set(STRESS_CLASSES):
        return STRESS_CLASSES
    return tuple(sorted(canon))


def _read_image(path: Path, image_size: int) -> np.ndarray:
    import cv2

    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if img is None:
        raise DataError(f"{path}: unreadable or not an image")
    if img.dtype != np.uint8:  # 16-bit or float images
        img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    if img.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if img.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        img = cv2.cvtColor(img, code)
    if img.shape != (image_size, image_size):
        interp = cv2.INTER_AREA if min(img.shape) > image_size else cv2.INTER_LINEAR
        img = cv2.resize(img, (image_size, image_size), interpolation=interp)
    return img


def _read_class_folders(folder: Path, image_size: int, classes=None):
    dirs = _class_dirs(folder)
    if not dirs:
        raise DataError(f"{folder}: no class folders inside (expected e.g. {folder}/happy/*.jpg)")
    by_class = {canonical(n): d for n, d in dirs.items()}
    classes = classes or _order_classes(by_class)
    files, labels = [], []
    for idx, name in enumerate(classes):
        d = by_class.get(name)
        if d is None:
            raise DataError(f"{folder}: class folder {name!r} is missing (classes: {list(classes)})")
        imgs = sorted(p for p in d.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not imgs:
            raise DataError(f"{d}: empty class folder (no images)")
        files += imgs
        labels += [idx] * len(imgs)
    extra = set(by_class) - set(classes)
    if extra:
        raise DataError(f"{folder}: class folder(s) {sorted(extra)} not among the classes {list(classes)}")
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 2) * 2)) as pool:
        images = list(pool.map(lambda p: _read_image(p, image_size), files))
    return classes, np.stack(images), np.array(labels, dtype=np.int64)


def _load_folder_arrays(root: Path, image_size, val_fraction, seed):
    splits = _split_dirs(root)
    if "train" not in splits:  # one folder of class folders: carve everything
        classes, x, y = _read_class_folders(root, image_size)
        split_of = _carve(y, {"val": val_fraction, "test": val_fraction}, seed)
        out = {"classes": np.array(classes)}
        for name in SPLITS:
            out[f"{name}_x"], out[f"{name}_y"] = x[split_of == name], y[split_of == name]
        return out
    classes, x, y = _read_class_folders(splits["train"], image_size)
    out = {"classes": np.array(classes), "train_x": x, "train_y": y}
    for name in ("val", "test"):
        if name in splits:
            _, out[f"{name}_x"], out[f"{name}_y"] = _read_class_folders(splits[name], image_size, classes)
    if "val" not in splits:
        out = _carve_val_from_train(out, val_fraction, seed)
    if "test" not in splits:
        raise DataError(f"{root}: has train/ but no test/ folder")
    return out


# ---------------------------------------------------------------- helpers

def _carve(y: np.ndarray, fractions: dict[str, float], seed: int) -> np.ndarray:
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


def _carve_val_from_train(out: dict, val_fraction: float, seed: int) -> dict:
    split_of = _carve(out["train_y"], {"val": val_fraction}, seed)
    x, y = out["train_x"], out["train_y"]
    out["val_x"], out["val_y"] = x[split_of == "val"], y[split_of == "val"]
    out["train_x"], out["train_y"] = x[split_of == "train"], y[split_of == "train"]
    return out


def _resize_all(images: np.ndarray, size: int) -> np.ndarray:
    import cv2

    return np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_LINEAR) for im in images])
