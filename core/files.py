"""Files that are the truth of a run, a model or an analysis: written so that readers never see half of one.

Layer 0 of the engine: imports nothing of core.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
from pathlib import Path


def _finite(value):
    """JSON has no NaN or infinity: they become null (a figure that could not be measured)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def to_json(data, indent: int | None = 2) -> str:
    """Strict JSON (NaN and infinity written as null); anything else unknown as its str()."""
    return json.dumps(_finite(data), indent=indent, default=str, allow_nan=False)


def temp_path(path, suffix: str = "") -> Path:
    """Where a file is written before it is renamed into place: `.<name>.tmp<pid><suffix>` beside it (a suffix
    for writers that pick the format by the name's ending: `.jpg` for cv2, `.npz` for numpy, `.h5`)."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp{os.getpid()}{suffix}")


@contextlib.contextmanager
def atomic_path(path, suffix: str = ""):
    """A temp path beside `path` to write to: renamed over `path` when the block ends, removed when it fails
    (a full disk, a kill signal turned into an exception). Readers see the old file or the new one, never half
    of one; the same folder, so the rename is atomic.

        with atomic_path(target, ".npz") as tmp:
            np.savez(tmp, **arrays)
    """
    path = Path(path)
    tmp = temp_path(path, suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def replace_atomically(path, write) -> Path:
    """`write(temp)`, then rename the temp file over `path` (`atomic_path` for a writer given as a function)."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)


def tail(path, lines: int = 20) -> str:
    """The last `lines` lines of a text file (a log), "" when it is missing or unreadable; undecodable bytes
    are replaced, never an error."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:]) if lines > 0 else ""


def write_json(path, data) -> None:
    """Atomic: readers see the old file or the new one, never half of one."""
    text = to_json(data)
    replace_atomically(path, lambda tmp: tmp.write_text(text))


def overwrite_in_place(path, text: str) -> None:
    """Write a small file's new text over its old bytes, without a temp file: what a full disk still allows (the
    file's blocks are already there). Not atomic, so only where an atomic write was refused."""
    with open(path, "r+b") as f:
        f.write(text.encode())
        f.truncate()
        f.flush()
        os.fsync(f.fileno())


def read_json(path, default=None):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return default


def read_object(path, default=None):
    """A JSON file that must hold an object: `default` when it is missing, unreadable, or holds something else
    (null, a list, a number: a damaged file reads as an empty one, not as a crash further on)."""
    data = read_json(path)
    return data if isinstance(data, dict) else default


def read_status(path, states) -> dict:
    """A folder's status.json: its object, or a "failed" one saying what is wrong with the file (`damaged`
    when it is there but not a status: one damaged folder must not take a whole listing down)."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError:
        return {"state": "failed", "error": "status.json is missing or unreadable"}
    except ValueError:
        why = "it is not JSON"
    else:
        if isinstance(data, dict) and data.get("state") in states:
            return data
        why = (f"unknown state {data.get('state')!r}" if isinstance(data, dict)
               else f"it holds {json.dumps(data)[:40]}, not an object")
    return {"state": "failed", "error": f"status.json is damaged: {why}", "damaged": True}


def append_line(path, data) -> None:
    """One JSON line, flushed to disk: an append-only log survives a kill between lines."""
    with open(path, "a") as f:
        f.write(to_json(data, indent=None) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_lines(path) -> list[dict]:
    """The lines of an append-only log, in order; a torn last line (killed mid-write) is ignored."""
    rows = []
    try:
        text = Path(path).read_text()
    except OSError:
        return rows
    for line in text.splitlines():
        try:
            rows.append(json.loads(line))
        except ValueError:
            break
    return rows


def write_lines(path, rows) -> None:
    """Replace an append-only log with exactly `rows` (atomic)."""
    text = "".join(to_json(r, indent=None) + "\n" for r in rows)
    replace_atomically(path, lambda tmp: tmp.write_text(text))


def marked_folders(root: Path, marker: str) -> list[Path]:
    """The folders right under `root` that hold `marker` (a run's config, an analysis's status), newest first:
    their names start with the time they were made."""
    if not root.is_dir():
        return []
    return sorted((d for d in root.iterdir() if d.is_dir() and (d / marker).exists()), key=lambda d: d.name,
                  reverse=True)


def remove_folder(folder: Path, root: Path) -> None:
    """Delete a folder, only one right under `root` (a hostile id never reaches elsewhere)."""
    root = Path(root).resolve()
    if Path(folder).resolve().parent != root:
        raise RuntimeError(f"refusing to delete {folder}: not inside {root}")
    shutil.rmtree(folder)
