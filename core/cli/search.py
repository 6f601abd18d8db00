"""`search`: an Optuna study whose trials are runs, in this process and `--workers N - 1` more, on the study
database given by `--storage` (SQLite beside the runs by default; the same command on another machine with
the same PostgreSQL URL joins the study). The one search parser: the app's background searches run it too.
"""
from __future__ import annotations

import argparse
import subprocess
import sys

from ..config import TASKS
from .common import fail


def cmd_search(a) -> int:
    from ..files import read_json
    from ..jobs.background import search_alive
    from ..jobs.search import best_summary, redacted, run_search, storage_url

    if not a.from_app and search_alive(a.study):
        return fail(f"the search {a.study!r} is running from the app already: stop it on the Experiments page, "
                    "or choose another study name")
    spec = {}
    if a.spec_file:
        spec = read_json(a.spec_file, None)
        if not isinstance(spec, dict):
            return fail(f"cannot read the search specification {a.spec_file}")
    if a.workers < 1:
        return fail("--workers must be at least 1")
    if not a.from_app:  # a new search from a shell: an old stop request of this study is not for it
        from ..jobs.search import stop_path

        stop_path(a.study).unlink(missing_ok=True)
    others = []
    if a.workers > 1:  # the other workers: this same command, one worker each, sharing the study
        cmd = _worker_argv(a)
        others = [subprocess.Popen([sys.executable, "-m", "core", *cmd]) for _ in range(a.workers - 1)]
    if not a.from_app or a.workers > 1:  # which database: the one thing a user joining from elsewhere must match
        print(f"{a.workers} worker{'s' if a.workers > 1 else ''} on study {a.study!r} in "
              f"{redacted(storage_url(url=a.storage))}", file=sys.stderr)
    try:
        study = run_search(study_name=a.study, n_trials=a.trials, data=a.data, epochs=a.epochs, models=a.models,
                           limit=a.limit, task=a.task, progress=not a.no_progress, space=spec.get("space"),
                           fixed={**(spec.get("fixed") or {}), **({"tencrop_test": True} if a.tencrop_test else {})},
                           recipe=a.recipe, wait_for_slot=a.wait_for_slot,
                           storage=a.storage, heartbeat=a.heartbeat, retries=a.retries, seed=a.seed)
    finally:
        codes = [p.wait() for p in others]
    print(best_summary(study), flush=True)
    return 0 if all(c == 0 for c in codes) else 1


def _worker_argv(a) -> list[str]:
    """This search as the command line of one more worker."""
    argv = ["search", "--study", a.study, "--workers", "1", "--trials", str(a.trials), "--epochs", str(a.epochs),
            "--limit", str(a.limit), "--task", a.task, "--recipe", a.recipe, "--seed", str(a.seed),
            "--retries", str(a.retries)]
    for flag, value in (("--storage", a.storage), ("--data", a.data), ("--heartbeat", a.heartbeat),
                        ("--spec-file", a.spec_file)):
        if value is not None:
            argv += [flag, str(value)]
    if a.models:
        argv += ["--models", *a.models]
    argv += [flag for flag, on in (("--wait-for-slot", a.wait_for_slot), ("--from-app", True),
                                   ("--no-progress", a.no_progress), ("--tencrop-test", a.tencrop_test)) if on]
    return argv


def add_search(sub) -> None:
    s = sub.add_parser("search", help="Optuna hyper-parameter search (each trial is a run)",
                       description="Run an Optuna study: every trial trains a run. Several workers (here with "
                       "--workers, or the same command on other machines with the same --storage) share one study.")
    s.add_argument("--study", default="search", help="study name")
    s.add_argument("--storage", help="the study database: any SQLAlchemy URL Optuna takes, e.g. "
                   "postgresql+psycopg2://user:pw@host/db (default: $FEL_STUDY_STORAGE, else sqlite in the runs folder)")
    s.add_argument("--workers", type=int, default=1, help="worker processes on this machine (default 1)")
    s.add_argument("--trials", type=int, default=10, help="trials per worker")
    s.add_argument("--epochs", type=int, default=10, help="epochs per trial")
    s.add_argument("--models", nargs="+", default=None, help="architectures to try")
    s.add_argument("--limit", type=int, default=0, help="training images per trial (0 = all)")
    s.add_argument("--task", default="emotion", choices=TASKS)
    s.add_argument("--data")
    s.add_argument("--recipe", default="realtime", help="the recipe the searched parameters override")
    s.add_argument("--seed", type=int, default=0, help="the sampler's seed (each worker adds its own part)")
    s.add_argument("--heartbeat", type=float, default=None, help="seconds between a worker's heartbeats; a trial "
                   "whose worker is silent for 4 beats is failed (default 15)")
    s.add_argument("--retries", type=int, default=0, help="run a trial failed by a dead worker again, this many times")
    s.add_argument("--spec-file", help=argparse.SUPPRESS)  # JSON with 'space' and 'fixed' (the app's searches)
    s.add_argument("--wait-for-slot", action="store_true", help=argparse.SUPPRESS)  # take a queue slot per trial
    s.add_argument("--from-app", action="store_true", help=argparse.SUPPRESS)
    s.add_argument("--no-progress", action="store_true")
    s.add_argument("--tencrop-test", action="store_true", help="test each finished trial on ten crops too (off by "
                   "default: trials are compared on validation, and ten crops would add ten passes over the test split)")
    s.set_defaults(fn=cmd_search)
