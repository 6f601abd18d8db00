"""The faces behind the errors, on disk: `python -m core evaluate ... --mistakes DIR` writes every mistake of a
split as a CSV (the face's index in the split, true and predicted class, every probability) and the surest
of them as one PNG grid. The faces are read from the user's own data set, never copied into the repo."""
from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np

from ..evaluate import mistakes

TILE, STRIP = 96, 30  # px of a face in the grid, and of its caption under it


def mistakes_grid(images, probs, labels, classes, idx, columns: int = 10) -> np.ndarray:
    """One grey image: the faces `idx` in rows of `columns`, each captioned "true > predicted  confidence"."""
    rows = max(1, -(-len(idx) // columns))
    grid = np.full((rows * (TILE + STRIP), columns * TILE), 255, dtype=np.uint8)
    for n, i in enumerate(idx):
        y, x = (n // columns) * (TILE + STRIP), (n % columns) * TILE
        grid[y:y + TILE, x:x + TILE] = cv2.resize(np.asarray(images[i]), (TILE, TILE), interpolation=cv2.INTER_CUBIC)
        p = probs[i]
        for line, text in enumerate((f"{classes[labels[i]][:9]} >", f"{classes[p.argmax()][:9]} {p.max():.0%}")):
            cv2.putText(grid, text, (x + 3, y + TILE + 12 + 13 * line), cv2.FONT_HERSHEY_SIMPLEX, 0.34, 0, 1,
                        cv2.LINE_AA)
    return grid


def write_mistakes(out_dir, images, probs, labels, classes, top: int = 100, name: str = "mistakes") -> dict:
    """`<name>.csv` (every mistake, surest first) and `<name>.png` (the `top` surest) in `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    probs, labels = np.asarray(probs), np.asarray(labels)
    images = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
    images = images[:, 0] if images.ndim == 4 else images
    idx = mistakes(probs, labels)
    csv_path, png_path = out / f"{name}.csv", out / f"{name}.png"
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["face", "true", "predicted", "confidence", *[f"p_{c}" for c in classes]])
        for i in idx:
            w.writerow([int(i), classes[labels[i]], classes[probs[i].argmax()], f"{probs[i].max():.4f}",
                        *[f"{v:.4f}" for v in probs[i]]])
    cv2.imwrite(str(png_path), mistakes_grid(images, probs, labels, classes, idx[:top]))
    return {"csv": str(csv_path), "png": str(png_path), "mistakes": int(len(idx)), "shown": int(min(top, len(idx)))}
