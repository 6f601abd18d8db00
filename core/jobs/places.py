"""Where the queue and the searches keep their bookkeeping, the one lock every queue decision is taken
under, and the names users give studies."""
from __future__ import annotations

import contextlib
import fcntl
import re
from pathlib import Path

from ..files import read_json, write_json
from ..settings import runs_root

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,59}$")      # study names
DEFAULT_SETTINGS = {"max_parallel": 1}
MAX_PARALLEL = 8


def launcher_dir(root=None) -> Path:
    d = Path(root or runs_root()) / ".launcher"
    d.mkdir(parents=True, exist_ok=True)
    return d


def searches_dir(root=None) -> Path:
    d = Path(root or runs_root()) / ".searches"
    d.mkdir(parents=True, exist_ok=True)
    return d


@contextlib.contextmanager
def locked(root=None):
    """The one lock every queue decision is taken under (claims, cancels, worker registry, searches)."""
    path = launcher_dir(root) / "lock"
    with open(path, "a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def is_study_name(name) -> bool:
    """A name this app would give a study (and can name files after). A study in a shared database may have
    been made elsewhere, under any name Optuna takes ("my study", even markup): such a one is only read."""
    return bool(SAFE_NAME.match(str(name)))


def check_study_name(name: str) -> str:
    name = str(name)
    if not is_study_name(name):
        raise ValueError("a study name is 1 to 60 letters, digits, '-' or '_', starting with a letter or digit "
                         f"(got {name!r})")
    return name


def settings(root=None) -> dict:
    return {**DEFAULT_SETTINGS, **read_json(launcher_dir(root) / "settings.json", {})}


def max_parallel(root=None) -> int:
    try:
        return min(MAX_PARALLEL, max(1, int(settings(root)["max_parallel"])))
    except (TypeError, ValueError):
        return 1


def write_settings(root=None, **values) -> None:
    """Call under `locked()`."""
    write_json(launcher_dir(root) / "settings.json", {**settings(root), **values})
