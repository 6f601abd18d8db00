"""Decoded data sets cached as .npz beside the data (`FEL_CACHE_DIR`): parse once, load in a blink after."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from ..files import atomic_path
from ..settings import cache_dir
from .folders import walk_images


def cached(path: Path, layout, image_size, val_fraction, seed, loader, use_cache: bool):
    """`loader(path, image_size, val_fraction, seed)`'s arrays, from the cache when its key matches."""
    target = cache_file(path, layout, image_size, val_fraction, seed)
    if use_cache and target.exists():
        try:
            with np.load(target, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except Exception:  # noqa: BLE001 - a broken cache is only a cache: rebuild it
            target.unlink(missing_ok=True)
    arrays = loader(path, image_size, val_fraction, seed)
    if use_cache:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(target, ".npz") as tmp:
                np.savez(tmp, **arrays)
        except OSError:
            pass  # read-only or full disk: work without a cache
    return arrays


def cache_file(path: Path, layout, image_size, val_fraction, seed) -> Path:
    """Where the decoded arrays of this data set (with these settings) are kept."""
    return cache_dir() / f"{path.name.split('.')[0]}-{_cache_key(path, layout, image_size, val_fraction, seed)}.npz"


def _cache_key(path: Path, layout, image_size, val_fraction, seed) -> str:
    h = hashlib.sha1(f"v3|{path.resolve()}|{layout}|{image_size}|{val_fraction}|{seed}".encode())
    if path.is_file():
        st = path.stat()
        h.update(f"{st.st_size}|{st.st_mtime_ns}".encode())
    else:
        for f in sorted([*walk_images(path), *path.glob("*/label.csv")]):  # label.csv: FER+'s folders
            st = f.stat()
            h.update(f"{f}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]
