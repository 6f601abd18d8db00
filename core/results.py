"""Measured figures as data (as timm keeps its benchmark and accuracy tables in machine-written results files):
every measuring command writes one JSON file under `results/` (`FEL_RESULTS_DIR`), one per measurement,
committed, each with the command that made it, the commit, the date and the host it ran on. READMEs, model
cards and page texts quote figures only from these files.

    write_result("bench-inference", {"1 face": {"haar_ms": 16.3, "yunet_ms": 10.1}}, command="python bench/...")

A figure measured before these files existed may be kept only as a transcription that says so: `source` names
where it was copied from, and the host and date are what is known (`write_result(..., source="transcribed
from ...", host={"note": "not recorded"}, date="2026-12-03")`). `python -m core docs` renders the READMEs'
figures from these files (core.docs); a page quotes one with `read_result` and `measured_where`.

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


def result_path(name: str, folder: Path | None = None) -> Path:
    if not _NAME.fullmatch(name):
        raise ValueError(f"a result's name is lower-case letters, digits, '.', '_' and '-', not {name!r}")
    return Path(folder or results_dir()) / f"{name}.json"


def provenance(command: str | None = None) -> dict:
    """Where a measurement comes from: the command that made it, the commit, the date (UTC) and the host."""
    return {"command": command or " ".join(["python"] + sys.argv), "commit": current_commit(),
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "host": host_info()}


def write_result(name: str, figures: dict, command: str | None = None, **extra) -> Path:
    """Write one measurement, `results/<name>.json`: its figures and where they come from (the command, the
    commit, the date, the host). Replaces an earlier measurement of the same name (git keeps the history).
    `extra` adds fields, or replaces the provenance's (a transcription's own host and date)."""
    record = {"name": name, **provenance(command), **extra, "figures": figures}
    path = result_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, record)
    return path


def read_result(name: str, folder: Path | None = None) -> dict | None:
    """A measurement written by write_result, or None where no file holds it (or not as a measurement)."""
    data = read_json(result_path(name, folder), default=None)
    return data if isinstance(data, dict) and isinstance(data.get("figures"), dict) else None


def host_label(host) -> str:
    """A host in a few words: "AMD EPYC, 2 cores, load 5.9" (what a figure's reader needs to weigh it)."""
    if not isinstance(host, dict) or not host.get("cpu"):
        return str((host or {}).get("note") or "host not recorded") if isinstance(host, dict) else "host not recorded"
    parts = [str(host["cpu"])]
    if host.get("cores"):
        parts.append(f"{host['cores']} cores")
    if host.get("gpu"):
        parts.append(str(host["gpu"]))
    load = host.get("load_1min")
    if load is not None:  # a number, or a span a caller wrote ("0.7-2.1")
        parts.append(f"load {load:g}" if isinstance(load, (int, float)) else f"load {load}")
    return ", ".join(parts)


def same_host(host, here: dict | None = None) -> bool:
    """Whether a record's host is this machine's kind: the same CPU model, cores and GPU."""
    here = here or host_info()
    return isinstance(host, dict) and all(host.get(k) == here.get(k) for k in ("cpu", "cores")) and \
        (host.get("gpu") or None) == (here.get("gpu") or None)


def busy(host) -> bool:
    """Whether a host was busy when it measured: more runnable work (load) than cores."""
    return isinstance(host, dict) and isinstance(host.get("load_1min"), (int, float)) and \
        host["load_1min"] > (host.get("cores") or 1)


def measured_where(record: dict | None, here: dict | None = None) -> str:
    """"" for a figure measured on this kind of machine, not busy; else where and when it was: "measured on AMD
    EPYC, 2 cores, load 5.9, 2026-12-07" (a page shows it beside the figure)."""
    if not record:
        return ""
    host = record.get("host")
    if same_host(host, here) and not busy(host):
        return ""
    date = str(record.get("date") or "")[:10]
    where = f"here, on a busy machine ({host_label(host)})" if same_host(host, here) else f"on {host_label(host)}"
    return f"measured {where}" + (f", {date}" if date else "")
