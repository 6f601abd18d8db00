"""Measured figures as data (as timm keeps its benchmark and accuracy tables in machine-written results files):
every measuring command writes one JSON file under `results/` (`FEL_RESULTS_DIR`), one per measurement,
committed, each with the command that made it, the commit, the date and the host it ran on. READMEs, model
cards and page texts quote figures only from these files.

    write_result("bench-inference", {"1 face": {"haar_ms": 16.3, "yunet_ms": 10.1}}, command="python bench/...")

Layer 0: imports nothing of core but settings and files.
"""
from __future__ import annotations

import datetime as _dt
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

from .files import read_json, write_json
from .settings import ROOT, results_dir

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_info() -> dict:
    """What the figures were measured on: CPU model, cores, torch threads, load, Python and torch versions, GPU."""
    info = {"cpu": _cpu_model(), "cores": os.cpu_count(), "machine": platform.machine(),
            "python": platform.python_version(), "os": platform.platform(terse=True)}
    try:
        info["load_1min"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    if "torch" in sys.modules:  # only when the measurement used it: importing torch costs seconds
        torch = sys.modules["torch"]
        info["torch"] = str(torch.__version__)
        info["threads"] = torch.get_num_threads()
        try:
            info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
        except Exception:  # noqa: BLE001 - a broken CUDA set-up is "no GPU" here
            info["gpu"] = None
    return info


def current_commit() -> str:
    """The repository's commit (with "+changes" when the work tree differs from it); "" outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10)
        if head.returncode != 0:
            return ""
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10)
        return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def result_path(name: str) -> Path:
    if not _NAME.fullmatch(name):
        raise ValueError(f"a result's name is lower-case letters, digits, '.', '_' and '-', not {name!r}")
    return results_dir() / f"{name}.json"


def write_result(name: str, figures: dict, command: str | None = None, **extra) -> Path:
    """Write one measurement, `results/<name>.json`: its figures and where they come from (the command, the
    commit, the date, the host). Replaces an earlier measurement of the same name (git keeps the history)."""
    record = {"name": name, "command": command or " ".join(["python"] + sys.argv),
              "commit": current_commit(), "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              "host": host_info(), **extra, "figures": figures}
    path = result_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, record)
    return path


def read_result(name: str) -> dict | None:
    """A measurement written by write_result, or None where no file holds it."""
    data = read_json(result_path(name), default=None)
    return data if isinstance(data, dict) and isinstance(data.get("figures"), dict) else None
