"""Which process owns a run, a worker slot or a search: a pid and the kernel's start time of that pid, so
a pid reused by another program after a crash never passes for the owner. And the one way a process of ours
is started in the background (`spawn`): a worker, a search, a video analysis.

Layer 0 of the engine: imports nothing of core.
"""
from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

_children: list[subprocess.Popen] = []  # the processes this process spawned, reaped so none stays a zombie


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of a process: with the pid, it names a process even after pid reuse."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def hostname() -> str:
    return socket.gethostname()


def pid_alive(pid, start_time=None, host: str | None = None) -> bool:
    """Whether the process is alive. A process on another host (a search worker elsewhere) is taken as
    alive: only that host can tell, and the study's heartbeat covers it."""
    if not pid:
        return False
    if host and host != hostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    stat_file = Path(f"/proc/{pid}/stat")
    if stat_file.exists():
        try:
            stat = stat_file.read_text()
        except OSError:
            return False
        if ") Z " in stat:  # a zombie has finished
            return False
        if start_time is not None and process_start_time(int(pid)) != start_time:
            return False
    return True


def owner() -> dict:
    """This process, as a status file records its owner."""
    return {"pid": os.getpid(), "pid_start": process_start_time(os.getpid()), "host": hostname()}


def identity(pid: int) -> dict:
    """A process as a registry or a job file records it: its pid and the kernel's start time of that pid."""
    return {"pid": int(pid), "pid_start": process_start_time(int(pid))}


def spawn(argv: list[str], log_path, env: dict | None = None, cwd=None) -> subprocess.Popen:
    """Start `argv` detached: in its own session (it outlives us, and a Ctrl-C or a page's rerun here never
    reaches it), no shell, stdin closed, stdout and stderr appended to `log_path` (its folder made)."""
    reap()
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([str(a) for a in argv], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    _children.append(proc)
    return proc


def reap() -> None:
    """Collect the exit status of the spawned processes that have ended (none stays a zombie)."""
    for p in list(_children):
        if p.poll() is not None:
            _children.remove(p)
