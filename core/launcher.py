"""Start training runs and searches as processes that outlive the page that started them.

A queue, kept in files like everything else:

- `submit(config)` makes a run folder in state "queued" and makes sure a worker is alive;
- a worker (`python -m core.worker`) takes the oldest queued run, trains it in its own process
  (`core.train.train(run=run)`), takes the next, and exits when the queue is empty;
- at most `max_parallel` runs train at once (default 1: a small machine is not made faster by
  sharing it). Every live run in the runs root counts, whoever started it (the CLI, a search);
- `stop(run)` asks a running run to stop (it saves last.pt mid-epoch) or cancels a queued one;
  `resume(run)` queues a stopped, interrupted or failed run again, to continue from last.pt.

Who holds what is decided under one lock file (`fcntl.flock`) in `<runs root>/.launcher/`, where
the worker registry (`workers.json`: pid + process start time), the settings and the workers' own
logs live too. A worker that dies leaves its run "running" with a dead pid, which `Run.state()`
reads as "interrupted": resumable, nothing lost. Streamlit restarts do not matter: all state is
in files and processes. No shell is ever involved: processes are started from fixed argument
lists whose variable parts (run ids, study names, numbers, paths) are validated first.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from .config import TASKS, TrainConfig
from .runs import ROOT, Run, list_runs, pid_alive, process_start_time, read_json, runs_root, write_json

SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")      # the run ids Run.create makes
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,59}$")      # study names
DEFAULT_SETTINGS = {"max_parallel": 1}
MAX_PARALLEL = 8
ACTIVE = ("queued", "running")
RESUMABLE = ("stopped", "interrupted", "failed")

_children: list[subprocess.Popen] = []  # processes this process started, reaped so none stays a zombie


# ---------------------------------------------------------------- places and the lock

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
    """The one lock every queue decision is taken under (claims, cancels, worker registry)."""
    path = launcher_dir(root) / "lock"
    with open(path, "a+") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def check_run_id(run_id: str) -> str:
    run_id = str(run_id)
    if not SAFE_ID.match(run_id) or ".." in run_id:
        raise ValueError(f"{run_id!r} is not a valid run id")
    return run_id


def check_study_name(name: str) -> str:
    name = str(name)
    if not SAFE_NAME.match(name):
        raise ValueError("a study name is 1 to 60 letters, digits, '-' or '_', starting with a letter or digit "
                         f"(got {name!r})")
    return name


# ---------------------------------------------------------------- settings

def settings(root=None) -> dict:
    return {**DEFAULT_SETTINGS, **read_json(launcher_dir(root) / "settings.json", {})}


def max_parallel(root=None) -> int:
    try:
        return min(MAX_PARALLEL, max(1, int(settings(root)["max_parallel"])))
    except (TypeError, ValueError):
        return 1


def set_max_parallel(n: int, root=None) -> int:
    n = int(n)
    if not 1 <= n <= MAX_PARALLEL:
        raise ValueError(f"runs at once must be between 1 and {MAX_PARALLEL}")
    with locked(root):
        write_json(launcher_dir(root) / "settings.json", {**settings(root), "max_parallel": n})
    ensure_workers(root)
    return n


# ---------------------------------------------------------------- the queue, read from the run folders

def _queued_at(run: Run) -> float:
    st = run.status()
    return float(st.get("queued") or st.get("updated") or 0)


def queued_runs(root=None, include_managed: bool = True) -> list[Run]:
    """Runs waiting to start, oldest first. `managed` runs (search trials) wait for their own process."""
    out = []
    for r in list_runs(root):
        st = r.status()
        if st.get("state") == "queued" and (include_managed or not st.get("managed")):
            out.append(r)
    return sorted(out, key=lambda r: (_queued_at(r), r.id))


def running_runs(root=None) -> list[Run]:
    return [r for r in list_runs(root) if r.state() == "running"]


def active_runs(root=None) -> list[Run]:
    """Running runs (newest first), then the queue in the order it will be served."""
    return running_runs(root) + queued_runs(root)


def queue_position(run: Run, root=None) -> int | None:
    """1 for the next run to start, None if the run is not waiting."""
    ids = [r.id for r in queued_runs(root)]
    return ids.index(run.id) + 1 if run.id in ids else None


# ---------------------------------------------------------------- status writes

def _write_status(run: Run, state: str, **fields) -> dict:
    """A fresh status (no leftover flags of an earlier attempt), keeping when it first started."""
    old = run.status()
    data = {k: old[k] for k in ("started", "created") if k in old}
    data.update(state=state, updated=time.time(), **fields)
    write_json(run.status_path, data)
    return data


def _mark_queued(run: Run, resume: bool, **fields) -> None:
    _write_status(run, "queued", queued=time.time(), resume=bool(resume), **fields)


# ---------------------------------------------------------------- submitting and controlling runs

def submit(config: TrainConfig, root=None, start_worker: bool = True) -> Run:
    """A new run folder, queued; a worker is started if none is there to take it. Invalid configs are
    refused with every problem in one message, before anything is made."""
    errs = config.validate()
    if errs:
        raise ValueError("invalid configuration: " + "; ".join(errs))
    from .train import check_before_start

    try:
        check_before_start(config)
    except RuntimeError as e:  # a GPU where there is none, a teacher that does not exist
        raise ValueError(str(e)) from e
    with locked(root):  # created and stamped in one step: a worker cannot claim it half-written
        run = Run.create(config, root=root, state="queued")
        _mark_queued(run, resume=False, created=time.time())
    if start_worker:
        ensure_workers(root)
    return run


def stop(run: Run, root=None) -> str:
    """Stop a run: a running one saves last.pt and ends as "stopped" (resumable); a queued one is
    cancelled without starting. Returns what happened: "stopping", "cancelled" or the state it was in."""
    with locked(root):
        state = run.state()
        if state == "queued":
            _write_status(run, "stopped", cancelled=True)
            run.log("cancelled before it started")
            return "cancelled"
        if state == "running":
            run.request_stop()
            return "stopping"
        return state


def cancel(run: Run, root=None) -> None:
    """Take a queued run out of the queue (it becomes "stopped"; resume() queues it again)."""
    with locked(root):
        state = run.state()
        if state != "queued":
            raise ValueError(f"run {run.id} is {state}, not queued: only queued runs can be cancelled")
        _write_status(run, "stopped", cancelled=True)
    run.log("cancelled before it started")


def resume(run: Run, root=None, start_worker: bool = True) -> Run:
    """Queue a stopped, interrupted or failed run again; it continues from its last checkpoint
    (last.pt, saved mid-epoch on a stop and after every epoch), or starts over if it has none."""
    with locked(root):
        state = run.state()
        if state not in RESUMABLE:
            what = {"running": "is running", "queued": "is already queued", "finished": "has finished"}
            raise ValueError(f"run {run.id} {what.get(state, 'is ' + state)}: nothing to resume")
        run.clear_stop()
        _mark_queued(run, resume=True)
    run.log("queued again to resume" + (" from its last checkpoint" if run.last_path.exists() else
                                        " (no checkpoint yet: it starts from the beginning)"))
    if start_worker:
        ensure_workers(root)
    return run


# ---------------------------------------------------------------- workers

def _registry_path(root=None) -> Path:
    return launcher_dir(root) / "workers.json"


def _read_workers(root=None) -> list[dict]:
    data = read_json(_registry_path(root), {})
    return [w for w in data.get("workers", []) if isinstance(w, dict) and w.get("pid")]


def _write_workers(workers: list[dict], root=None) -> None:
    write_json(_registry_path(root), {"workers": workers})


def live_workers(root=None) -> list[dict]:
    _reap()
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
            proc = _spawn(["-m", "core.worker"], launcher_dir(root) / "worker.log", root)
            register_worker(proc.pid, root)
            started += 1
    return started


def _env(root=None) -> dict:
    """The environment of a started process: ours (PATH, HOME, FEL_*, FER2013_PATH...), with the runs and
    graphs roots made explicit so the child works on exactly the folders this process sees."""
    from .runs import graphs_root

    env = dict(os.environ)
    env["FEL_RUNS_DIR"] = str(Path(root or runs_root()).resolve())
    env["FEL_GRAPHS_DIR"] = str(graphs_root().resolve())
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


def _spawn(args: list[str], log_path: Path, root=None) -> subprocess.Popen:
    """`python <args>` in a new session (it outlives us and our signals), output appended to `log_path`."""
    _reap()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=_env(root), stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
    _children.append(proc)
    return proc


def _reap() -> None:
    for p in list(_children):
        if p.poll() is not None:
            _children.remove(p)


def acquire_slot(run: Run, root=None, poll: float = 2.0, should_stop=None, on_wait=None) -> bool:
    """Block until fewer than max_parallel runs are running, then mark `run` running (owned by this
    process). False if the run stopped being queued meanwhile (cancelled) or `should_stop()` says so."""
    told = False
    while True:
        with locked(root):
            if run.state() != "queued":
                return False
            busy = [r for r in running_runs(root) if r.id != run.id]
            if len(busy) < max_parallel(root):
                run.set_status("running")
                return True
        if should_stop is not None and should_stop():
            return False
        if on_wait is not None and not told:
            on_wait(busy)
            told = True
        time.sleep(poll)


# ---------------------------------------------------------------- searches in the background

def search_record_path(study: str, root=None) -> Path:
    return searches_dir(root) / f"{check_study_name(study)}.json"


def search_processes(root=None) -> list[dict]:
    """The searches started from the app, newest first, each with `alive`."""
    _reap()
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
    from .models import list_models
    from .recipes import RECIPES
    from .search import validate_space

    study = check_study_name(study)
    errs = []
    if not (1 <= int(n_trials) <= 1000):
        errs.append("number of trials must be between 1 and 1000")
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

    args = ["-m", "core.search", "--study", study, "--trials", str(int(n_trials)), "--epochs", str(int(epochs)),
            "--limit", str(int(limit)), "--task", task, "--recipe", recipe, "--wait-for-slot", "--no-progress"]
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
        args += ["--spec-file", str(spec_path)]
        proc = _spawn(args, log_path, root)
        rec = {"study": study, "pid": proc.pid, "pid_start": process_start_time(proc.pid), "started": time.time(),
               "n_trials": int(n_trials), "epochs": int(epochs), "limit": int(limit), "task": task, "data": data,
               "models": models, "recipe": recipe, "log": str(log_path)}
        write_json(search_record_path(study, root), rec)
    return rec


def stop_search(study: str, root=None) -> None:
    """Ask a search to end: the running trial stops cleanly (its run is resumable) and no new trial starts."""
    from .search import request_stop

    request_stop(check_study_name(study), root=root)


def search_log(study: str, lines: int = 20, root=None) -> str:
    try:
        text = (searches_dir(root) / f"{check_study_name(study)}.log").read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def describe_queue(root=None) -> dict:
    """Counts for the page: running, queued, workers alive, runs at once."""
    return {"running": len(running_runs(root)), "queued": len(queued_runs(root)),
            "workers": len(live_workers(root)), "max_parallel": max_parallel(root)}


__all__ = ["submit", "stop", "cancel", "resume", "ensure_workers", "queued_runs", "running_runs", "active_runs",
           "queue_position", "settings", "max_parallel", "set_max_parallel", "live_workers", "start_search",
           "stop_search", "search_processes", "search_alive", "acquire_slot", "check_run_id",
           "check_study_name", "describe_queue"]
