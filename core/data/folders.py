"""Image-folder data sets: `train/<class>/*.jpg`, `test/<class>/*.jpg` (optionally `val/`), or one folder of
class folders, carved into splits with a seeded, stratified draw."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..labels import EMOTIONS, STRESS_CLASSES, canonical
from .errors import DataError
from .splits import SPLITS, carve, carve_from_train

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm"}


def walk_images(root: Path):
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


def load_folder_arrays(root: Path, image_size, val_fraction, seed):
    splits = _split_dirs(root)
    if "train" not in splits:  # one folder of class folders: carve everything
        classes, x, y = _read_class_folders(root, image_size)
        split_of = carve(y, {"val": val_fraction, "test": val_fraction}, seed)
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
        out = carve_from_train(out, "val", val_fraction, seed)
    if "test" not in splits:
        raise DataError(f"{root}: has train/ but no test/ folder")
    return out
