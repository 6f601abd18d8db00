"""Searches started from the app, run as background processes (`python -m core search`, fixed arguments),
each with a record (pid, settings, log) in `<runs root>/.searches/`."""
from __future__ import annotations

import time
from pathlib import Path

from ..config import TASKS
from ..files import read_json, tail, write_json
from ..processes import identity, pid_alive
from .places import check_study_name, locked, searches_dir
from .workers import reap, spawn


def search_record_path(study: str, root=None) -> Path:
    return searches_dir(root) / f"{check_study_name(study)}.json"


def search_processes(root=None) -> list[dict]:
    """The searches started from the app, newest first, each with `alive`."""
    reap()
    out = []
    for p in searches_dir(root).glob("*.json"):
        if p.name.endswith(".spec.json"):
            continue
        rec = read_json(p, None)
        if isinstance(rec, dict) and rec.get("study"):
            rec["alive"] = pid_alive(rec.get("pid"), rec.get("pid_start"))
            out.append(rec)
    return sorted(out, key=lambda r: r.get("started", 0), reverse=True)


def search_alive(study: str, root=None) -> bool:
    rec = read_json(search_record_path(study, root), None)
    return bool(rec) and pid_alive(rec.get("pid"), rec.get("pid_start"))


def start_search(study: str, n_trials: int = 10, epochs: int = 10, models=None, limit: int = 0,
                 task: str = "emotion", data=None, space: dict | None = None, fixed: dict | None = None,
                 recipe: str = "realtime", root=None) -> dict:
    """Run an Optuna study in a background process (`python -m core.search`, fixed arguments). Every
    argument is checked first; the parameter space travels in a JSON file, not on the command line.
    Trials take a queue slot like any run. Returns the process record."""
    from ..models import list_models
    from ..train.recipes import RECIPES
    from .space import MAX_TRIALS, validate_space

    study = check_study_name(study)
    errs = []
    if not (1 <= int(n_trials) <= MAX_TRIALS):
        errs.append(f"number of trials must be between 1 and {MAX_TRIALS}")
    if not (1 <= int(epochs) <= 1000):
        errs.append("epochs per trial must be between 1 and 1000")
    if int(limit) < 0:
        errs.append("training images per trial must be 0 (all) or more")
    if task not in TASKS:
        errs.append(f"task must be one of {', '.join(TASKS)}")
    if recipe not in RECIPES:
        errs.append(f"unknown recipe {recipe!r}")
    models = list(models or [])
    bad = [m for m in models if m not in list_models()]
    if bad:
        errs.append(f"unknown model(s) {', '.join(map(str, bad))}")
    if data:
        data = str(Path(data).expanduser())
        if not Path(data).exists():
            errs.append(f"data set {data}: no such file or folder")
    errs += validate_space(space or {}, fixed=fixed)
    if errs:
        raise ValueError("; ".join(errs))

    args = ["-m", "core", "search", "--study", study, "--trials", str(int(n_trials)), "--epochs", str(int(epochs)),
            "--limit", str(int(limit)), "--task", task, "--recipe", recipe, "--wait-for-slot", "--no-progress", "--from-app"]
    if data:
        args += ["--data", data]
    if models:
        args += ["--models", *models]
    spec_path = searches_dir(root) / f"{study}.spec.json"
    log_path = searches_dir(root) / f"{study}.log"
    with locked(root):
        if search_alive(study, root):
            raise ValueError(f"the search {study!r} is already running")
        write_json(spec_path, {"space": space or None, "fixed": fixed or {}})
        from .search import stop_path

        stop_path(study, root).unlink(missing_ok=True)  # cleared by the starter, so a stop asked at once is kept
        args += ["--spec-file", str(spec_path)]
        proc = spawn(args, log_path, root)
        rec = {"study": study, **identity(proc.pid), "started": time.time(),
               "n_trials": int(n_trials), "epochs": int(epochs), "limit": int(limit), "task": task, "data": data,
               "models": models, "recipe": recipe, "log": str(log_path)}
        write_json(search_record_path(study, root), rec)
    return rec


def stop_search(study: str, root=None) -> None:
    """Ask a search to end: the running trial stops cleanly (its run is resumable) and no new trial starts."""
    from .search import request_stop  # optuna, only when a search is stopped

    request_stop(check_study_name(study), root=root)


def search_log(study: str, lines: int = 20, root=None) -> str:
    return tail(searches_dir(root) / f"{check_study_name(study)}.log", lines)


