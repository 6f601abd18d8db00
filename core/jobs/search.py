"""Hyper-parameter search with Optuna: every trial is an ordinary run folder.

    study = run_search("lr-wd", n_trials=20, epochs=10, limit=5000)

The study lives in Optuna's RDB storage: SQLite beside the runs (`<runs root>/optuna.db`) by default, or any
SQLAlchemy URL Optuna takes (`--storage postgresql+psycopg2://...`, or FEL_STUDY_STORAGE), so it survives
restarts, a second `run_search` with the same name adds trials to it, and workers on other machines join
it. Sampling is TPE, seeded per worker (its host and process), with the constant liar, so parallel
workers never draw the same parameters; a trial doing worse than the median of earlier trials at the same
epoch is pruned (MedianPruner on the validation accuracy reported after every epoch). Workers send
Optuna's heartbeat: a trial whose worker died is marked failed by the next trial of any worker (and
retried if asked). Trial n of study S trains in a run named `S-t<n>`; the trial's user attributes name
its run folder (`run_id`), the host and process that ran it, and its test accuracy.

`space` chooses the parameters and their ranges, `{name: spec}` with spec one of
    {"low": 1e-4, "high": 0.1, "log": True}     a float (or int) range, log-uniform if "log"
    {"choices": ["sgd", "adamw"]}                a categorical choice
Parameters not in the space come from the base recipe (`recipe`, "realtime" by default) and `fixed`.

`python -m core search` is the command, for users and for the background searches the app starts
(core.jobs.background, which passes the space in a JSON file).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
import random
import time
import zlib
from pathlib import Path

from ..config import TASKS
from ..processes import hostname, pid_alive, process_start_time
from ..runs import Run
from ..settings import runs_root, study_storage
from .places import check_study_name, locked, searches_dir
from .space import MAX_TRIALS, default_space, suggest, validate_space

# ---------------------------------------------------------------- storage

HEARTBEAT_S = 15  # a worker's heartbeat; a trial without one for GRACE_S is failed by the next trial
GRACE_S = 60


def db_path(root=None) -> Path:
    return Path(root or runs_root()) / "optuna.db"


def storage_url(root=None, url: str | None = None) -> str:
    """The study database: `url`, else FEL_STUDY_STORAGE, else SQLite beside the runs."""
    return url or study_storage() or f"sqlite:///{db_path(root)}"


def redacted(url: str) -> str:
    """A storage URL fit to print: no password."""
    import re

    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


_STORAGES: dict[tuple, object] = {}


def get_storage(root=None, url: str | None = None, heartbeat: float | None = None, retries: int = 0):
    """One RDBStorage per database and process (opening one runs schema checks: not free), with Optuna's
    heartbeat: a trial whose worker stops beating for the grace period is failed (and retried `retries`
    times, by Optuna's RetryHeartbeatStaleTrialCallback)."""
    import warnings

    import optuna

    url = storage_url(root, url)
    beat = float(heartbeat or HEARTBEAT_S)
    key = (url, beat, int(retries))
    if key not in _STORAGES:
        if url.startswith("sqlite:///") and url == storage_url(root):
            db_path(root).parent.mkdir(parents=True, exist_ok=True)
        engine = {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {"pool_pre_ping": True}
        if url.split(":")[0] in ("postgresql", "postgresql+psycopg2", "postgresql+psycopg"):
            engine["connect_args"] = {"connect_timeout": 10}  # a server that does not answer: said in seconds
        for attempt in range(6):
            try:
                with warnings.catch_warnings():  # the heartbeat is "experimental" in Optuna: no warning each time
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    retry = (optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=int(retries))
                             if retries else None)
                    _STORAGES[key] = optuna.storages.RDBStorage(
                        url, engine_kwargs=engine, heartbeat_interval=int(max(1, beat)),
                        grace_period=int(max(2, beat * GRACE_S / HEARTBEAT_S)), heartbeat_stale_trial_callback=retry)
                break
            except Exception as e:  # noqa: BLE001 - a wrong URL, a server that does not answer: one sentence
                if attempt < 5 and _schema_race(e):  # workers starting at once on an empty database
                    time.sleep(0.3 + random.random())
                    continue
                raise ValueError(f"the study database {redacted(url)} cannot be opened ({type(e).__name__}: "
                                 f"{str(e).splitlines()[0][:200]})") from None
    return _STORAGES[key]


def _schema_race(e: Exception) -> bool:
    """Another worker was creating Optuna's tables in the same empty database at the same moment (its
    transaction won; ours rolled back): opening again finds them made. Optuna leaves this to the caller."""
    text = str(e)
    return any(k in text for k in ("already exists", "duplicate key", "UniqueViolation", "UNIQUE constraint"))


def _check_name(name: str) -> str:
    return check_study_name(name)


def stop_path(study_name: str, root=None) -> Path:
    return searches_dir(root) / f"{_check_name(study_name)}.STOP"


def request_stop(study_name: str, root=None, url: str | None = None) -> None:
    """End a search: no new trial starts, and the trial now training stops cleanly (its run resumable)."""
    stop_path(study_name, root).touch()
    try:
        study = load_study(study_name, root, url)
    except ValueError:
        return
    for t in study.trials:
        if t.state.name == "RUNNING" and t.user_attrs.get("run_id"):
            try:
                run = Run.open(t.user_attrs["run_id"], root=root)
            except (ValueError, FileNotFoundError):
                continue
            with locked(root):
                if run.state() == "queued":
                    run.mark_cancelled()
                    continue
            run.request_stop()


def stop_requested(study_name: str, root=None) -> bool:
    return stop_path(study_name, root).exists()


def _no_database(root, url) -> bool:
    """The default SQLite file does not exist yet (no search ran): nothing to open."""
    return storage_url(root, url) == f"sqlite:///{db_path(root)}" and not db_path(root).exists()


def list_studies(root=None, url: str | None = None) -> list[dict]:
    """Every study in the database: name, trial counts by state, best value and parameters, start time."""
    import optuna

    if _no_database(root, url):
        return []
    out = []
    storage = get_storage(root, url)
    for s in optuna.get_all_study_summaries(storage, include_best_trial=True):
        best = s.best_trial
        counts = {}
        try:
            study = optuna.load_study(study_name=s.study_name, storage=storage)
            for t in study.get_trials(deepcopy=False):
                counts[t.state.name.lower()] = counts.get(t.state.name.lower(), 0) + 1
        except Exception:  # noqa: BLE001 - a broken study still gets listed
            pass
        out.append({"name": s.study_name, "n_trials": s.n_trials, "best_value": best.value if best else None,
                    "best_params": dict(best.params) if best else {}, "best_run": best.user_attrs.get("run_id")
                    if best else None, "started": s.datetime_start, "counts": counts,
                    "attrs": dict(s.user_attrs)})
    return sorted(out, key=lambda d: (d["started"] is None, d["started"]), reverse=True)


def load_study(name: str, root=None, url: str | None = None):
    """An existing study; ValueError (with the known names) if there is none by that name."""
    import optuna

    if _no_database(root, url):
        raise ValueError(f"no study {name!r}: no search has been run yet")
    storage = get_storage(root, url)
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        known = ", ".join(optuna.get_all_study_names(storage)) or "none"
        raise ValueError(f"no study {name!r}; known studies: {known}") from None


LOST = "its worker stopped sending a heartbeat (killed, or its machine lost)"  # failed, yet no error recorded


def trials_table(study) -> list[dict]:
    """One dict per trial, all from the study (so trials run on other machines are listed too): number, state,
    validation and test accuracy, epochs, params, run id, the worker (host:pid), duration (s), the error, and
    the trial it retries (a trial failed by the heartbeat, run again with --retries)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        end = t.datetime_complete
        start = t.datetime_start
        state = t.state.name.lower()
        a = t.user_attrs
        if state == "running" and a.get("pid") and not pid_alive(a["pid"], a.get("pid_start"), a.get("host")):
            state = "interrupted"  # its worker on this machine is gone; the heartbeat will fail it
        rows.append({"trial": t.number, "state": state, "val_acc": t.value, "test_acc": a.get("test_acc"),
                     "epochs": len(t.intermediate_values), "run_id": a.get("run_id"),
                     "worker": f"{a['host']}:{a.get('pid')}" if a.get("host") else None,
                     "seconds": (end - start).total_seconds() if start and end else None,
                     "error": a.get("error") or (LOST if state == "fail" else None),
                     "retry_of": t.system_attrs.get("failed_trial"), **{f"param {k}": v for k, v in t.params.items()}})
    return rows


# ---------------------------------------------------------------- the search

@dataclass
class SearchSpec:
    """What a search trains, checked once (`checked`) before anything runs: the study, its space and fixed
    settings, each trial's epochs, images and task, the data set and the recipe the rest comes from."""
    study_name: str
    n_trials: int = 10
    epochs: int = 10
    limit: int = 0
    task: str = "emotion"
    data: str | None = None
    space: dict | None = None
    fixed: dict = field(default_factory=dict)
    recipe: str = "realtime"
    models: list = field(default_factory=list)

    def checked(self, saved_space: dict | None = None) -> "SearchSpec":
        """The spec made whole (the space: given, else the study's saved one, else the default; the models as a
        choice or a fixed setting; the data set found); ValueError or DataError saying every problem."""
        from ..data import DataError, default_data_path

        self.study_name = _check_name(self.study_name)
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}")
        if not 1 <= int(self.n_trials) <= MAX_TRIALS:
            raise ValueError(f"number of trials must be between 1 and {MAX_TRIALS}")
        self.models = list(self.models or [])
        self.space = dict(self.space if self.space is not None else saved_space or default_space(self.models))
        if self.models and "model" not in self.space and len(self.models) > 1:
            self.space["model"] = {"choices": self.models}
        self.fixed = dict(self.fixed or {})
        if len(self.models) == 1 and "model" not in self.space:
            self.fixed.setdefault("model", self.models[0])
        errs = validate_space(self.space, self.fixed)
        if errs:
            raise ValueError("invalid search: " + "; ".join(errs))
        found = default_data_path()
        self.data = str(self.data) if self.data else (str(found) if found else None)
        if self.data is None:
            raise DataError("no data set given and none found: set FER2013_PATH or put fer2013.csv in data/")
        return self

    def attrs(self) -> dict:
        """What the study keeps of it, for every worker and page to read."""
        return {"space": self.space, "fixed": self.fixed, "epochs": self.epochs, "limit": self.limit,
                "task": self.task, "data": self.data, "recipe": self.recipe}


class Objective:
    """One trial: its parameters drawn from the space, a run folder made for it (queued, managed by the
    search), a queue slot waited for if asked, the run trained on the data set loaded once, and its best
    validation accuracy returned (or the trial pruned, stopped or failed, with why in the study)."""

    def __init__(self, spec: SearchSpec, dataset, root=None, progress: bool = True, wait_for_slot: bool = False):
        self.spec, self.dataset, self.root = spec, dataset, root
        self.progress, self.wait_for_slot = progress, wait_for_slot
        self.host, self.pid = hostname(), os.getpid()

    def __call__(self, trial):
        import optuna

        try:
            return self._trial(trial)
        except optuna.TrialPruned:
            raise
        except Exception as e:  # noqa: BLE001 - a trial that fails says why in the study, for every machine
            trial.set_user_attr("error", f"{type(e).__name__}: {e}")
            raise

    def _trial(self, trial):
        import optuna

        from ..train import train

        run = self._make_run(trial)
        if self.wait_for_slot and not self._slot(trial, run):
            raise optuna.TrialPruned("cancelled before it started")
        train(run=run, progress=self.progress, on_epoch=lambda row: self._on_epoch(trial, row), dataset=self.dataset)
        return self._outcome(trial, run)

    def _make_run(self, trial) -> Run:
        from ..train import recipe_config

        spec = self.spec
        params = {name: suggest(trial, name, sp) for name, sp in spec.space.items()}
        cfg = recipe_config(spec.recipe, **{"tencrop_test": False, **spec.fixed, **params}, epochs=spec.epochs,
                            limit=spec.limit,
                            task=spec.task, data=spec.data, name=f"{spec.study_name}-t{trial.number}",
                            extra={"study": spec.study_name, "trial": trial.number})
        errs = cfg.validate()
        if errs:
            raise ValueError("invalid trial configuration: " + "; ".join(errs))
        with locked(self.root):  # a worker must never take a trial's run: it is marked managed at once
            run = Run.create(cfg, root=self.root, state="queued", managed="search", study=spec.study_name)
        for k, v in {"run_id": run.id, "host": self.host, "pid": self.pid,
                     "pid_start": process_start_time(self.pid)}.items():
            trial.set_user_attr(k, v)
        return run

    def _slot(self, trial, run: Run) -> bool:
        """A queue slot for the trial's run; False (the run cancelled) if the search was stopped meanwhile."""
        from .queue import acquire_slot

        name = self.spec.study_name
        ok = acquire_slot(run, self.root, should_stop=lambda: stop_requested(name, self.root),
                          on_wait=lambda busy: print(f"trial {trial.number} waits for a free slot "
                                                     f"({len(busy)} run(s) training)", flush=True))
        if not ok:
            with locked(self.root):
                if run.state() == "queued":
                    run.mark_cancelled()
        return ok

    def _on_epoch(self, trial, row) -> bool:
        trial.report(float(row["val_acc"]), int(row["epoch"]))
        if stop_requested(self.spec.study_name, self.root):
            return False
        return not trial.should_prune()

    def _outcome(self, trial, run: Run) -> float:
        import optuna

        st = run.status()
        if st.get("state") == "finished":
            summary = run.summary()
            trial.set_user_attr("test_acc", summary.get("test_acc"))
            best = max((r["val_acc"] for r in run.metrics()), default=None)
            return float(summary.get("best_val_acc", best))
        if stop_requested(self.spec.study_name, self.root):
            trial.study.stop()
            raise optuna.TrialPruned("the search was stopped")
        if st.get("state") == "stopped":
            if not st.get("pruned") and not run.stop_requested():  # Ctrl-C or kill, not the run's STOP file:
                trial.study.stop()                                 # this worker ends (the others go on)
            raise optuna.TrialPruned("pruned" if st.get("pruned") else "stopped by the user")
        raise RuntimeError(f"run {run.id} ended {st.get('state')}: {st.get('error', '')}")


def run_search(study_name: str = "search", n_trials: int = 10, data=None, epochs: int = 10, models=None,
               limit: int = 0, task: str = "emotion", progress: bool = True, space: dict | None = None,
               fixed: dict | None = None, recipe: str = "realtime", seed: int = 0, wait_for_slot: bool = False,
               root=None, storage: str | None = None, heartbeat: float | None = None, retries: int = 0):
    """Run (or continue) an Optuna study of `n_trials` more trials in this process (one worker; start more,
    here or on other machines, with the same study and storage); returns the optuna.Study."""
    import optuna

    from ..data import load_dataset

    spec = SearchSpec(study_name, n_trials, epochs, limit, task, data, space, fixed or {}, recipe, list(models or []))
    spec.study_name = _check_name(study_name)
    optuna.logging.set_verbosity(optuna.logging.INFO if progress else optuna.logging.WARNING)
    study = _open_study(spec.study_name, seed, root, storage, heartbeat, retries)
    spec.checked(study.user_attrs.get("space"))
    dataset = load_dataset(spec.data, image_size=int(spec.fixed.get("image_size", 48)), task=spec.task)  # once
    for k, v in spec.attrs().items():
        study.set_user_attr(k, v)

    def stop_callback(study, trial):
        if stop_requested(spec.study_name, root):
            study.stop()

    study.optimize(Objective(spec, dataset, root, progress, wait_for_slot), n_trials=int(spec.n_trials),
                   catch=(Exception,), callbacks=[stop_callback], gc_after_trial=True)
    return study  # a STOP file stays until the next search is started (its starter clears it): every worker sees it


def _open_study(name: str, seed: int, root, storage, heartbeat, retries):
    """The study in its storage (made if new), trials of dead workers failed, and this worker's sampler."""
    import warnings

    import optuna

    rdb = get_storage(root, storage, heartbeat, retries)
    study = optuna.create_study(study_name=name, storage=rdb, direction="maximize", load_if_exists=True,
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)  # trials of workers that died since (Optuna's heartbeat)
    study.sampler = optuna.samplers.TPESampler(seed=worker_seed(seed, len(study.trials), hostname(), os.getpid()),
                                               n_startup_trials=5, constant_liar=True)
    return study


def worker_seed(seed: int, n_trials: int, host: str, pid: int) -> int:
    """The sampler seed of one worker: the user's seed, the trials the study had when it joined, and which
    process on which machine it is, so parallel workers never repeat each other's draws."""
    return (int(seed) * 1_000_003 + int(n_trials) * 7919 + zlib.crc32(f"{host}:{pid}".encode())) % (2**31)


def best_summary(study) -> str:
    try:
        best = study.best_trial
    except ValueError:
        return f"study {study.study_name}: {len(study.trials)} trials, none finished"
    return (f"study {study.study_name}: {len(study.trials)} trials; best val_acc {best.value:.4f} "
            f"(trial {best.number}, run {best.user_attrs.get('run_id')}) with {best.params}")
