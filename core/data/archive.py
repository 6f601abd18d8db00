"""Labelled faces from a zip of class folders (`happy/001.jpg`, `sad/002.jpg`, ...), as the Compare page's batch
accuracy takes them from an upload: the archive is checked before anything is unpacked (unsafe paths, a password,
more than 2 GB), unpacked into a folder of its own that is removed afterwards, and read as an image-folder data
set. Every broken archive is a ValueError with a sentence for the user, never a traceback."""
from __future__ import annotations

import io
import os
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

from .dataset import load_dataset
from .errors import DataError

MAX_UNPACKED_BYTES = 2_000_000_000


def faces_from_zip(data: bytes) -> tuple:
    """A labelled folder zipped -> (images (N, 1, 48, 48) uint8, labels, classes, description). The zip holds class
    folders, maybe under one top folder, or train/ and test/ (then test/ is used). ValueError, said plainly,
    otherwise."""
    with tempfile.TemporaryDirectory(prefix="fel-zip-", dir=os.environ.get("TMPDIR")) as work:
        return _faces_from_zip(data, Path(work))


def _faces_from_zip(data: bytes, workdir: Path) -> tuple:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ValueError("That file is not a zip archive, or it is damaged. Zip a folder of class folders "
                         "(happy/, sad/, ...) and upload it again.") from None
    except (OSError, EOFError, ValueError) as e:
        raise ValueError(f"The zip cannot be read ({e}). Zip the folder again and upload it.") from None
    total = 0
    with zf:
        for info in zf.infolist():
            name = info.filename
            if name.startswith("/") or ".." in Path(name).parts:
                raise ValueError(f"The zip has an unsafe path ({name!r}); it was not extracted.")
            if info.flag_bits & 0x1:
                raise ValueError(f"The zip is password-protected ({name!r} is encrypted): zip the folder again "
                                 "without a password.")
            total += info.file_size
            if total > MAX_UNPACKED_BYTES:
                raise ValueError("The zip unpacks to more than 2 GB; use a smaller sample.")
        members = [i for i in zf.infolist() if not i.filename.startswith("__MACOSX")]
        if not members:
            raise ValueError("The zip is empty.")
        try:
            zf.extractall(workdir, members=members)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, RuntimeError, NotImplementedError, EOFError, OSError,
                ValueError) as e:  # a damaged member (bad CRC, truncated), an encryption or compression we lack
            raise ValueError(f"The zip is damaged or uses a format that cannot be unpacked here ({e}). Zip the "
                             "folder again (plain zip, no password) and upload it.") from None
    root = workdir
    for _ in range(3):  # descend through single top folders
        subdirs = _folders(root)
        if len(subdirs) == 1 and not [f for f in root.iterdir() if f.is_file()]:
            root = subdirs[0]
        else:
            break
    subdirs = _folders(root)
    if not subdirs:
        raise ValueError("The zip has no class folders. Expected e.g. happy/001.jpg, sad/002.jpg, ...")
    try:
        ds = load_dataset(root, cache=False)
    except DataError as e:
        raise ValueError(f"The zip's folders cannot be used: {e}") from None
    names = {d.name.lower() for d in subdirs}
    if "test" in names or "testing" in names:
        split = ds.splits["test"]
        images, labels, what = split.images, split.labels, "its test/ folder"
    else:
        images = torch.cat([s.images for s in ds.splits.values()])
        labels = torch.cat([s.labels for s in ds.splits.values()])
        what = "all its images"
    return images, labels, tuple(ds.classes), f"{len(labels)} images ({what}), classes {', '.join(ds.classes)}"


def _folders(root: Path) -> list[Path]:
    return [d for d in root.iterdir() if d.is_dir() and not d.name.startswith((".", "__"))]


def sample_split(ds, split: str, n: int, seed: int = 0) -> tuple:
    """A fixed random sample (sorted indices) of n faces of a split: (images, labels, classes)."""
    s = ds.splits[split]
    n = min(int(n), len(s))
    idx = np.sort(np.random.default_rng(seed).choice(len(s), size=n, replace=False))
    return s.images[idx], s.labels[idx], tuple(ds.classes)
