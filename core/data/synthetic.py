"""Small learnable data sets in both layouts, for tests, demos and quick tries of the training page."""
from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from ..labels import EMOTIONS


def synthetic_images(n_per_class: int, classes=EMOTIONS, size: int = 48, seed: int = 0):
    """Class c is horizontal stripes of its own frequency under noise: learnable in a few epochs, and
    unchanged in kind by the augmentations (flip, shift, small rotation) that training applies."""
    rng = np.random.default_rng(seed)
    yy = np.mgrid[0:size, 0:size][0] / size
    images, labels = [], []
    for c in range(len(classes)):
        for _ in range(n_per_class):
            phase = rng.uniform(0, 2 * np.pi)
            img = 128 + 70 * np.cos(2 * np.pi * (c + 1.5) * yy + phase) + rng.normal(0, 30, (size, size))
            images.append(np.clip(img, 0, 255).astype(np.uint8))
            labels.append(c)
    return np.stack(images), np.array(labels)


def write_synthetic_csv(path, n_per_class: int = 40, seed: int = 0, splits=(0.7, 0.15, 0.15)) -> Path:
    """A FER2013-layout CSV (.csv or .csv.gz) with all three Usage splits."""
    x, y = synthetic_images(n_per_class, seed=seed)
    rng = np.random.default_rng(seed + 1)
    usage = rng.choice(["Training", "PublicTest", "PrivateTest"], size=len(y), p=list(splits))
    lines = ["emotion,pixels,Usage"] + [f"{c},{' '.join(map(str, img.ravel()))},{u}" for img, c, u in zip(x, y, usage)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines) + "\n"
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


def write_synthetic_folders(root, classes=EMOTIONS, n_per_class: int = 20, size: int = 48, seed: int = 0,
                            splits=("train", "test"), ext: str = ".png") -> Path:
    """An image-folder data set: <root>/<split>/<class>/<n>.png."""
    import cv2

    root = Path(root)
    for s_i, split in enumerate(splits):
        x, y = synthetic_images(n_per_class, classes, size, seed + s_i)
        for i, (img, c) in enumerate(zip(x, y)):
            d = root / split / classes[c]
            d.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(d / f"{i:05d}{ext}"), img)
    return root
