"""A run is a folder, and the folder is the truth: the app, the CLI and the trainer read the same files.

    model/runs/<run-id>/  config.json  metrics.jsonl  status.json  progress.json  info.json
                          best.pt  last.pt  train.log  [STOP]
    graphs/runs/<run-id>/ loss.png  accuracy.png  confusion.png

metrics.jsonl is append-only, one flushed line per finished epoch. status.json records the pid of
the process that owns the run, so a run whose process died reads as interrupted, not running.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

from .config import TrainConfig

ROOT = Path(__file__).resolve().parent.parent
STATES = ("queued", "running", "finished", "stopped", "failed", "interrupted")
_ID_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def runs_root() -> Path:
    return Path(os.environ.get("FEL_RUNS_DIR", ROOT / "model" / "runs"))


def graphs_root() -> Path:
    return Path(os.environ.get("FEL_GRAPHS_DIR", ROOT / "graphs" / "runs"))


def slug(text: str, max_len: int = 40) -> str:
    """A safe file name from whatever the user typed: no slashes, no dots in front, no '..'."""
    s = re.sub(r"[^A-Za-z0-9_-]+", "-", str(text)).strip("-_")
    return s[:max_len].strip("-_") or "run"


def write_json(path: Path, data) -> None:
    """Atomic: readers see the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)


def read_json(path: Path, default=None):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return default


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of a process: with the pid, it names a process even after pid reuse."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def pid_alive(pid, start_time=None) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if Path(f"/proc/{pid}/stat").exists():
        stat = Path(f"/proc/{pid}/stat").read_text()
        if ") Z " in stat:  # a zombie has finished
            return False
        if start_time is not None and process_start_time(int(pid)) != start_time:
            return False
    return True


class Run:
    def __init__(self, directory, graphs_dir=None):
        self.dir = Path(directory)
        self.id = self.dir.name
        self.graphs_dir = Path(graphs_dir) if graphs_dir else graphs_root() / self.id

    # ------------------------------------------------------------ creation and lookup
    @classmethod
    def create(cls, config: TrainConfig, root=None, graphs=None, state: str = "queued") -> "Run":
        root = Path(root) if root else runs_root()
        root.mkdir(parents=True, exist_ok=True)
        base = f"{time.strftime('%Y%m%d-%H%M%S')}-{slug(config.name or config.model)}"
        for n in range(1, 10_000):
            run_id = base if n == 1 else f"{base}-{n}"
            try:
                os.mkdir(root / run_id)  # atomic: two starters never share a folder
                break
            except FileExistsError:
                continue
        run = cls(root / run_id, (Path(graphs) if graphs else graphs_root()) / run_id)
        run.config_path.write_text(config.to_json())
        run.set_status(state)
        return run

    @classmethod
    def open(cls, run_id_or_path, root=None) -> "Run":
        p = Path(str(run_id_or_path))
        root = Path(root) if root else runs_root()
        if p.is_dir() and (p / "config.json").exists():
            return cls(p)
        if not _ID_OK.match(str(run_id_or_path)) or ".." in str(run_id_or_path):
            raise ValueError(f"{run_id_or_path!r} is not a valid run id")
        d = root / str(run_id_or_path)
        if not (d / "config.json").exists():
            raise FileNotFoundError(f"no run {run_id_or_path!r} in {root}")
        return cls(d)

    # ------------------------------------------------------------ paths
    config_path = property(lambda self: self.dir / "config.json")
    metrics_path = property(lambda self: self.dir / "metrics.jsonl")
    status_path = property(lambda self: self.dir / "status.json")
    progress_path = property(lambda self: self.dir / "progress.json")
    info_path = property(lambda self: self.dir / "info.json")
    log_path = property(lambda self: self.dir / "train.log")
    best_path = property(lambda self: self.dir / "best.pt")
    last_path = property(lambda self: self.dir / "last.pt")
    stop_path = property(lambda self: self.dir / "STOP")

    # ------------------------------------------------------------ contents
    def config(self) -> TrainConfig:
        return TrainConfig.from_dict(json.loads(self.config_path.read_text()))

    def metrics(self) -> list[dict]:
        """Finished epochs, in order; a torn last line (process killed mid-write) is ignored."""
        rows = []
        try:
            text = self.metrics_path.read_text()
        except OSError:
            return rows
        for line in text.splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                break
        return rows

    def append_metrics(self, row: dict) -> None:
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def rewrite_metrics(self, rows: list[dict]) -> None:
        """Only for resume: keep exactly the epochs the checkpoint has (drops a torn or extra line)."""
        tmp = self.metrics_path.with_name(".metrics.jsonl.tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
        os.replace(tmp, self.metrics_path)

    def status(self) -> dict:
        return read_json(self.status_path, {"state": "failed", "error": "status.json is missing or unreadable"})

    def set_status(self, state: str, **fields) -> dict:
        assert state in STATES, state
        data = {k: v for k, v in self.status().items() if k not in ("error",)} if self.status_path.exists() else {}
        data.update(state=state, updated=time.time(), **fields)
        if state == "running":
            data.update(pid=os.getpid(), pid_start=process_start_time(os.getpid()))
            data.setdefault("started", time.time())
        write_json(self.status_path, data)
        return data

    def state(self) -> str:
        """The state checked against the process: a 'running' run whose process is gone is interrupted."""
        st = self.status()
        state = st.get("state", "failed")
        if state == "running" and not pid_alive(st.get("pid"), st.get("pid_start")):
            return "interrupted"
        return state

    def progress(self) -> dict:
        return read_json(self.progress_path, {})

    def write_progress(self, **fields) -> None:
        write_json(self.progress_path, {**fields, "time": time.time()})

    def info(self) -> dict:
        """What the user says about a run (title, promoted, notes): kept apart from what training wrote."""
        return read_json(self.info_path, {})

    def update_info(self, **fields) -> dict:
        data = {**self.info(), **fields}
        write_json(self.info_path, data)
        return data

    @property
    def title(self) -> str:
        return self.info().get("title") or self.id

    def summary(self) -> dict:
        return read_json(self.dir / "summary.json", {})

    def log(self, message: str) -> None:
        with open(self.log_path, "a") as f:
            f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")

    def tail_log(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # ------------------------------------------------------------ control
    def request_stop(self) -> None:
        self.stop_path.touch()

    def stop_requested(self) -> bool:
        return self.stop_path.exists()

    def clear_stop(self) -> None:
        self.stop_path.unlink(missing_ok=True)

    def delete(self) -> None:
        if self.state() == "running":
            raise RuntimeError(f"run {self.id} is running: stop it first")
        root = self.dir.resolve().parent
        if root != runs_root().resolve():
            raise RuntimeError(f"refusing to delete {self.dir}: not inside {runs_root()}")
        shutil.rmtree(self.dir)
        shutil.rmtree(self.graphs_dir, ignore_errors=True)

    def __repr__(self) -> str:
        return f"Run({self.id!r})"


def list_runs(root=None) -> list[Run]:
    """All runs, newest first."""
    root = Path(root) if root else runs_root()
    if not root.is_dir():
        return []
    runs = [Run(d) for d in root.iterdir() if d.is_dir() and (d / "config.json").exists()]
    return sorted(runs, key=lambda r: r.id, reverse=True)
