"""The workers that train queued runs: started as processes that outlive the page that started them, and
registered (pid + the kernel's start time) so a dead one is never counted."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from ..files import read_json, write_json
from ..processes import pid_alive, process_start_time
from ..settings import ROOT, child_environment, runs_root
from .listing import queued_runs
from .places import launcher_dir, locked, max_parallel

_children: list[subprocess.Popen] = []  # processes this process started, reaped so none stays a zombie


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
    entry = {"pid": int(pid), "pid_start": process_start_time(int(pid)), "started": time.time(), **fields}
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
    """`python <args>` in a new session (it outlives us and our signals), output appended to `log_path`."""
    reap()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=_child_env(root), stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    _children.append(proc)
    return proc


def reap() -> None:
    for p in list(_children):
        if p.poll() is not None:
            _children.remove(p)


def _child_env(root=None) -> dict:
    env = child_environment()
    if root is not None:
        env["FEL_RUNS_DIR"] = str(Path(root).resolve())
    return env
