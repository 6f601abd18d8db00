"""A record that is a folder, and the folder is the truth: a training run (core.runs) and a video analysis
(core.video.store) are both one, so the app, the CLI and the process doing the work read the same files, and
the record survives the process that made it.

    <root>/<id>/  status.json    its state (one of STATES) and, while running, the process that owns it
                  progress.json  where the work is now (overwritten, atomic)
                  STOP           asks the owner to stop (it keeps what it has)
                  <log>          what the owner said (`tail_log`)
                  <marker>       the file whose presence makes the folder one of these records

The id is the time it was made, a name, the host and the pid (`new_id`): folders sort by age, and two
machines sharing a root never make the same one. A "running" record whose process is gone (pid and the
kernel's start time, core.processes) reads as interrupted.

Layer 0 of the engine: imports only layer 0 (files, processes).
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

from .files import marked_folders, overwrite_in_place, read_object, read_status, remove_folder, tail, to_json, write_json
from .processes import hostname, owner, pid_alive

STATES = ("queued", "running", "finished", "stopped", "failed", "interrupted")
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")  # the ids new_id makes


def slug(text: str, max_len: int = 40) -> str:
    """A safe file name from whatever the user typed: no slashes, no dots in front, no '..'."""
    s = re.sub(r"[^A-Za-z0-9_-]+", "-", str(text)).strip("-_")
    return s[:max_len].strip("-_") or "run"


def check_id(record_id, kind: str = "run") -> str:
    """`record_id` as a string, or ValueError when it is not one `new_id` could have made (a path, '..', '')."""
    record_id = str(record_id)
    if not SAFE_ID.match(record_id) or ".." in record_id:
        raise ValueError(f"{record_id!r} is not a valid {kind} id")
    return record_id


def new_id(name: str) -> str:
    """Time first (records sort by age), then the name, then the host and pid: unique across the machines that
    share a folder, even when two start in the same second."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug(name)}-{slug(hostname(), 12)}{os.getpid()}"


class FolderRecord:
    """The folder of one record. A subclass names its kind, the file that marks its folders, its log, and
    where its folders are by default (`default_root`)."""

    kind = "record"  # in messages: "run 2024... is running", "no analysis ... in ..."
    marker = "status.json"
    log_name = "log.txt"
    states = STATES
    busy = ("running",)  # the states in which the folder is not deleted
    cleared = ("error", "damaged")  # status fields that do not outlive the state they were written with

    def __init__(self, directory):
        self.dir = Path(directory)
        self.id = self.dir.name

    @staticmethod
    def default_root() -> Path:
        raise NotImplementedError

    @property
    def _a_kind(self) -> str:
        return ("an " if self.kind[:1] in "aeiou" else "a ") + self.kind

    # ------------------------------------------------------------ creation and lookup
    @classmethod
    def new_folder(cls, name: str, root=None) -> Path:
        """A new, empty folder under `root`, named by `new_id(name)`: an atomic mkdir, so two starters never
        share one (a second in the same second gets `-2`)."""
        root = Path(root) if root else cls.default_root()
        root.mkdir(parents=True, exist_ok=True)
        base = new_id(name)
        for n in range(1, 10_000):
            folder = root / (base if n == 1 else f"{base}-{n}")
            try:
                os.mkdir(folder)
                return folder
            except FileExistsError:
                continue
        raise FileExistsError(f"no free folder name for {base!r} in {root}")

    @classmethod
    def open(cls, record_id, root=None):
        """A record by its id (or its folder's path), inside `root` only: a path elsewhere, '..' or '' is refused."""
        root = Path(root) if root else cls.default_root()
        text = str(record_id)
        p = Path(text)
        if p.is_absolute() and p.parent.resolve() == root.resolve():
            text = p.name  # its own folder, given as a path
        d = root / check_id(text, cls.kind)
        if not (d / cls.marker).exists():
            raise FileNotFoundError(f"no {cls.kind} {text!r} in {root}")
        return cls(d)

    @classmethod
    def list_in(cls, root=None) -> list:
        """Every record under `root`, newest first."""
        return [cls(d) for d in marked_folders(Path(root) if root else cls.default_root(), cls.marker)]

    # ------------------------------------------------------------ paths
    status_path = property(lambda self: self.dir / "status.json")
    progress_path = property(lambda self: self.dir / "progress.json")
    stop_path = property(lambda self: self.dir / "STOP")
    log_path = property(lambda self: self.dir / self.log_name)

    # ------------------------------------------------------------ status and progress
    def status(self) -> dict:
        return read_status(self.status_path, self.states)

    def set_status(self, state: str, fresh: bool = False, **fields) -> dict:
        """The only writer of status.json. `fresh`: a new attempt, without the fields of the last one (only when
        it was created and first started are kept). "running" records this process as the owner."""
        if state not in self.states:
            raise ValueError(f"{state!r} is not {self._a_kind} state ({', '.join(self.states)})")
        old = read_object(self.status_path, {})
        if fresh:
            data = {k: old[k] for k in ("started", "created") if k in old}
        else:
            data = {k: v for k, v in old.items() if k not in self.cleared}
        data.update(state=state, updated=time.time(), **fields)
        if state == "running":
            data.update(owner())
            data.setdefault("started", time.time())
        try:
            write_json(self.status_path, data)
        except OSError:  # a full disk refuses the temp file: the record must still say how it ended
            if not self.status_path.is_file():
                raise
            overwrite_in_place(self.status_path, to_json(data))
        return data

    def state(self) -> str:
        """The state checked against the process: a 'running' record whose process is gone is interrupted."""
        st = self.status()
        state = st.get("state", "failed")
        if state == "running" and not pid_alive(st.get("pid"), st.get("pid_start"), st.get("host")):
            return "interrupted"
        return state

    def progress(self) -> dict:
        return read_object(self.progress_path, {})

    def write_progress(self, **fields) -> None:
        write_json(self.progress_path, {**fields, "time": time.time()})

    def tail_log(self, lines: int = 20) -> str:
        return tail(self.log_path, lines)

    # ------------------------------------------------------------ control
    def request_stop(self) -> None:
        self.stop_path.touch()

    def stop_requested(self) -> bool:
        return self.stop_path.exists()

    def clear_stop(self) -> None:
        self.stop_path.unlink(missing_ok=True)

    def delete_root(self) -> Path:
        """The only folder this record's folder may be deleted from (the one it was listed or opened in)."""
        return self.dir.parent

    def delete(self) -> None:
        """Remove the folder: only one of these records (a valid id, its marker file) right under
        `delete_root()`, never while its process works on it."""
        state = self.state()
        if state in self.busy:
            raise RuntimeError(f"{self.kind} {self.id} is {state}: stop it first")
        check_id(self.dir.name, self.kind)
        if not (self.dir / self.marker).is_file():
            raise RuntimeError(f"refusing to delete {self.dir}: not {self._a_kind} folder")
        remove_folder(self.dir, self.delete_root())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.id!r})"
