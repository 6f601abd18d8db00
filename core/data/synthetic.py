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


def synthetic_votes(labels, seed: int = 0, contempt_every: int = 9, not_a_face_every: int = 23) -> np.ndarray:
    """FER+-style vote counts (N, 10) in Microsoft's column order for FER2013 `labels`: most of the ten votes for the
    face's own emotion, the rest spread; every `contempt_every`th face a contempt majority, every
    `not_a_face_every`th one not a face (all ten votes NF)."""
    from .ferplus import MS_COLUMNS

    column = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness", "sad": "sadness",
              "surprise": "surprise", "neutral": "neutral"}
    rng = np.random.default_rng(seed)
    votes = np.zeros((len(labels), len(MS_COLUMNS)), dtype=np.int64)
    for i, c in enumerate(labels):
        if not_a_face_every and i % not_a_face_every == not_a_face_every - 1:
            votes[i, MS_COLUMNS.index("NF")] = 10
            continue
        own = MS_COLUMNS.index("contempt") if contempt_every and i % contempt_every == 0 \
            else MS_COLUMNS.index(column[EMOTIONS[int(c)]])
        top = int(rng.integers(5, 10))
        votes[i, own] = top
        for _ in range(10 - top):
            votes[i, int(rng.integers(0, len(MS_COLUMNS) - 1))] += 1
    return votes


def write_synthetic_ferplus(folder, n_per_class: int = 20, seed: int = 0) -> tuple[Path, Path]:
    """A FER2013-layout `fer2013.csv` and FER+'s `fer2013new.csv` beside it, row by row (synthetic faces and votes):
    what a user has after downloading both. Returns their paths."""
    from .ferplus import MS_COLUMNS

    folder = Path(folder)
    csv_path = write_synthetic_csv(folder / "fer2013.csv", n_per_class, seed)
    rows = [line.split(",") for line in csv_path.read_text().splitlines()[1:]]
    votes = synthetic_votes([int(r[0]) for r in rows], seed)
    nf = MS_COLUMNS.index("NF")
    lines = ["Usage,Image name," + ",".join(MS_COLUMNS)]
    for i, (r, v) in enumerate(zip(rows, votes)):
        name = "" if v[nf] == 10 else f"fer{i:07d}.png"
        lines.append(f"{r[2]},{name}," + ",".join(map(str, v)))
    votes_path = folder / "fer2013new.csv"
    votes_path.write_text("\n".join(lines) + "\n")
    return csv_path, votes_path
