"""The workers that train queued runs: started as processes that outlive the page that started them, and
registered (pid + the kernel's start time) so a dead one is never counted."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from .. import processes
from ..files import read_json, write_json
from ..processes import identity, pid_alive, reap
from ..settings import ROOT, child_environment, runs_root
from .listing import queued_runs
from .places import launcher_dir, locked, max_parallel

__all__ = ["ensure_workers", "live_workers", "reap", "register_worker", "spawn", "unregister_worker"]


def _registry_path(root=None) -> Path:
    return launcher_dir(root) / "workers.json"


def _read_workers(root=None) -> list[dict]:
    data = read_json(_registry_path(root), {})
    return [w for w in data.get("workers", []) if isinstance(w, dict) and w.get("pid")]


def _write_workers(workers: list[dict], root=None) -> None:
    write_json(_registry_path(root), {"workers": workers})


def live_workers(root=None) -> list[dict]:
    reap()
    return [w for w in _read_workers(root) if pid_alive(w["pid"], w.get("pid_start"))]


def register_worker(pid: int, root=None, **fields) -> dict:
    """Call under `locked()`. Dead entries are dropped on the way."""
    entry = {**identity(pid), "started": time.time(), **fields}
    workers = [w for w in live_workers(root) if w["pid"] != int(pid)] + [entry]
    _write_workers(workers, root)
    return entry


def unregister_worker(pid: int, root=None) -> None:
    """Call under `locked()`."""
    _write_workers([w for w in live_workers(root) if w["pid"] != int(pid)], root)


def ensure_workers(root=None) -> int:
    """Start as many workers as the queue can use (up to max_parallel, counting the live ones).
    Cheap when nothing is queued; safe to call from every page load. Returns how many it started."""
    root_path = Path(root or runs_root())
    if not root_path.is_dir():
        return 0
    started = 0
    with locked(root):
        waiting = queued_runs(root, include_managed=False)
        if not waiting:
            return 0
        live = live_workers(root)
        for _ in range(min(max_parallel(root), len(waiting)) - len(live)):
            proc = spawn(["-m", "core.jobs.worker"], launcher_dir(root) / "worker.log", root)
            register_worker(proc.pid, root)
            started += 1
    return started


def spawn(args: list[str], log_path: Path, root=None) -> subprocess.Popen:
    """`python <args>` detached (core.processes.spawn), with the runs folder `root`, output appended to `log_path`."""
    return processes.spawn([sys.executable, *args], log_path, env=_child_env(root), cwd=ROOT)


def _child_env(root=None) -> dict:
    env = child_environment()
    if root is not None:
        env["FEL_RUNS_DIR"] = str(Path(root).resolve())
    return env
