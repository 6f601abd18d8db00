"""Which process owns a run, a worker slot or a search: a pid and the kernel's start time of that pid, so
a pid reused by another program after a crash never passes for the owner.

Layer 0 of the engine: imports nothing of core.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path


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
