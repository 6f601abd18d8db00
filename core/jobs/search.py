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

import math
import os
import random
import time
import zlib
from pathlib import Path

from ..config import TASKS, TrainConfig, config_field
from ..processes import hostname, pid_alive, process_start_time
from ..runs import Run
from ..settings import runs_root, study_storage
from .places import check_study_name, locked, searches_dir

# what can be searched: its kind and the default range offered. Its label and the values it may take are
# TrainConfig's (core.config: the field's metadata and `validate`), said there once.
SEARCHABLE: dict[str, dict] = {
    "lr": dict(kind="float", default={"low": 1e-4, "high": 0.1, "log": True}),
    "weight_decay": dict(kind="float", default={"low": 1e-6, "high": 1e-2, "log": True}),
    "label_smoothing": dict(kind="float", default={"low": 0.0, "high": 0.2}),
    "dropout": dict(kind="float", default={"low": 0.0, "high": 0.5}),
    "momentum": dict(kind="float", default={"low": 0.8, "high": 0.95}),
    "erase": dict(kind="float", default={"low": 0.0, "high": 0.5}),
    "rotate": dict(kind="float", default={"low": 0.0, "high": 20.0}),
    "scale": dict(kind="float", default={"low": 0.0, "high": 0.2}),
    "shift": dict(kind="int", default={"low": 0, "high": 6}),
    "batch_size": dict(kind="categorical", default={"choices": [64, 128, 256]}),
    "optimizer": dict(kind="categorical", default={"choices": ["sgd", "adamw"]}),
    "schedule": dict(kind="categorical", default={"choices": ["cosine", "onecycle"]}),
    "model": dict(kind="categorical", default={"choices": ["mini_xception", "model48"]}),
    "width": dict(kind="categorical", default={"choices": [16, 32]}),
}
for _name, _spec in SEARCHABLE.items():
    _spec["label"] = config_field(_name).metadata["label"]
    _spec["bounds"] = tuple(v for v in (config_field(_name).metadata["bounds"] or (None, None, ""))[:2])
MAX_TRIALS = 1000  # a study's trials in one command, from the shell or the app
DEFAULT_PARAMS = ("lr", "weight_decay", "label_smoothing", "optimizer")


def default_space(models=None) -> dict:
    space = {k: dict(SEARCHABLE[k]["default"]) for k in DEFAULT_PARAMS}
    if models and len(models) > 1:
        space["model"] = {"choices": list(models)}
    return space


def validate_space(space: dict, fixed: dict | None = None) -> list[str]:
    """Every problem with a space at once, in words (empty list = fine)."""

    errs = []
    if not isinstance(space, dict):
        return ["the search space must be a mapping of parameter -> range or choices"]
    for name, spec in space.items():
        meta = SEARCHABLE.get(name)
        label = meta["label"] if meta else name
        if meta is None:
            errs.append(f"{name!r} cannot be searched; searchable: {', '.join(SEARCHABLE)}")
            continue
        if not isinstance(spec, dict):
            errs.append(f"{label}: give a range (low, high) or a list of choices")
            continue
        if meta["kind"] == "categorical" or "choices" in spec:
            choices = spec.get("choices")
            if not isinstance(choices, (list, tuple)) or not choices:
                errs.append(f"{label}: pick at least one choice")
                continue
            for c in choices:
                problem = _value_problem(name, c)
                if problem:
                    errs.append(f"{label}: {c!r} is not allowed ({problem})")
            continue
        try:
            low, high = float(spec["low"]), float(spec["high"])
        except (KeyError, TypeError, ValueError):
            errs.append(f"{label}: give numbers for low and high")
            continue
        if not (math.isfinite(low) and math.isfinite(high)) or low > high:
            errs.append(f"{label}: low must not be above high")
        elif spec.get("log") and low <= 0:
            errs.append(f"{label}: a log-uniform range must start above 0")
        else:
            problem = _value_problem(name, low) or _value_problem(name, high)
            if problem:
                errs.append(f"{label}: the range must lie within what a run takes ({problem})")
    for k in (fixed or {}):
        if k not in {f for f in TrainConfig.__dataclass_fields__} or k in ("data", "task", "epochs", "limit", "name"):
            errs.append(f"{k!r} cannot be fixed here")
    return errs


def _value_problem(name: str, value) -> str:
    """Why a run cannot take `value` for `name` (TrainConfig's own rules), or ""."""
    from ..models import list_models

    if name == "model":
        return "" if value in list_models() else f"unknown model {value!r}"
    try:
        kind = SEARCHABLE[name]["kind"]
        value = int(value) if kind == "int" and float(value).is_integer() else value
        errs = TrainConfig(**{name: value}).validate()
    except (TypeError, ValueError):
        return f"{value!r} is not a valid value"
    return errs[0] if errs else ""


def suggest(trial, name: str, spec: dict):
    meta = SEARCHABLE[name]
    if meta["kind"] == "categorical" or "choices" in spec:
        return trial.suggest_categorical(name, list(spec["choices"]))
    if meta["kind"] == "int":
        return trial.suggest_int(name, int(spec["low"]), int(spec["high"]))
    return trial.suggest_float(name, float(spec["low"]), float(spec["high"]), log=bool(spec.get("log")))


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

def run_search(study_name: str = "search", n_trials: int = 10, data=None, epochs: int = 10, models=None,
               limit: int = 0, task: str = "emotion", progress: bool = True, space: dict | None = None,
               fixed: dict | None = None, recipe: str = "realtime", seed: int = 0, wait_for_slot: bool = False,
               root=None, storage: str | None = None, heartbeat: float | None = None, retries: int = 0):
    """Run (or continue) an Optuna study of `n_trials` more trials in this process (one worker; start more,
    here or on other machines, with the same study and storage); returns the optuna.Study."""
    import warnings

    import optuna

    from ..data import DataError, default_data_path, load_dataset
    from ..train import recipe_config, train

    study_name = _check_name(study_name)
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}")
    if not 1 <= int(n_trials) <= MAX_TRIALS:
        raise ValueError(f"number of trials must be between 1 and {MAX_TRIALS}")
    models = list(models or [])
    optuna.logging.set_verbosity(optuna.logging.INFO if progress else optuna.logging.WARNING)

    rdb = get_storage(root, storage, heartbeat, retries)
    study = optuna.create_study(study_name=study_name, storage=rdb, direction="maximize", load_if_exists=True,
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)  # trials of workers that died since (Optuna's heartbeat)
    host, pid = hostname(), os.getpid()
    study.sampler = optuna.samplers.TPESampler(seed=worker_seed(seed, len(study.trials), host, pid),
                                               n_startup_trials=5, constant_liar=True)

    if space is None:
        space = study.user_attrs.get("space") or default_space(models)
    space = dict(space)
    if models and "model" not in space and len(models) > 1:
        space["model"] = {"choices": models}
    fixed = dict(fixed or {})
    if len(models) == 1 and "model" not in space:
        fixed.setdefault("model", models[0])
    errs = validate_space(space, fixed)
    if errs:
        raise ValueError("invalid search: " + "; ".join(errs))

    data = str(data) if data else (str(default_data_path()) if default_data_path() else None)
    if data is None:
        raise DataError("no data set given and none found: set FER2013_PATH or put fer2013.csv in data/")
    ds = load_dataset(data, image_size=int(fixed.get("image_size", 48)), task=task)  # once, for every trial
    for k, v in {"space": space, "fixed": fixed, "epochs": epochs, "limit": limit, "task": task, "data": data,
                 "recipe": recipe}.items():
        study.set_user_attr(k, v)

    def objective(trial):
        params = {name: suggest(trial, name, spec) for name, spec in space.items()}
        cfg = recipe_config(recipe, **{**fixed, **params}, epochs=epochs, limit=limit, task=task, data=data,
                            name=f"{study_name}-t{trial.number}",
                            extra={"study": study_name, "trial": trial.number})
        errs = cfg.validate()
        if errs:
            raise ValueError("invalid trial configuration: " + "; ".join(errs))
        from .queue import acquire_slot

        with locked(root):  # a worker must never take a trial's run: it is marked managed at once
            run = Run.create(cfg, root=root, state="queued", managed="search", study=study_name)
        for k, v in {"run_id": run.id, "host": host, "pid": pid, "pid_start": process_start_time(pid)}.items():
            trial.set_user_attr(k, v)
        if wait_for_slot:
            ok = acquire_slot(run, root, should_stop=lambda: stop_requested(study_name, root),
                              on_wait=lambda busy: print(f"trial {trial.number} waits for a free slot "
                                                         f"({len(busy)} run(s) training)", flush=True))
            if not ok:
                with locked(root):
                    if run.state() == "queued":
                        run.mark_cancelled()
                raise optuna.TrialPruned("cancelled before it started")

        def on_epoch(row):
            trial.report(float(row["val_acc"]), int(row["epoch"]))
            if stop_requested(study_name, root):
                return False
            return not trial.should_prune()

        train(run=run, progress=progress, on_epoch=on_epoch, dataset=ds)
        st = run.status()
        rows = run.metrics()
        best = max((r["val_acc"] for r in rows), default=None)
        if st.get("state") == "finished":
            summary = run.summary()
            trial.set_user_attr("test_acc", summary.get("test_acc"))
            return float(summary.get("best_val_acc", best))
        if stop_requested(study_name, root):
            study.stop()
            raise optuna.TrialPruned("the search was stopped")
        if st.get("state") == "stopped":
            if not st.get("pruned") and not run.stop_requested():  # Ctrl-C or kill, not the run's STOP file:
                study.stop()                                       # this worker ends (the others go on)
            raise optuna.TrialPruned("pruned" if st.get("pruned") else "stopped by the user")
        raise RuntimeError(f"run {run.id} ended {st.get('state')}: {st.get('error', '')}")

    def recorded(trial):  # a trial that fails says why in the study, for every machine to read
        try:
            return objective(trial)
        except optuna.TrialPruned:
            raise
        except Exception as e:
            trial.set_user_attr("error", f"{type(e).__name__}: {e}")
            raise

    def stop_callback(study, trial):
        if stop_requested(study_name, root):
            study.stop()

    study.optimize(recorded, n_trials=int(n_trials), catch=(Exception,), callbacks=[stop_callback],
                   gc_after_trial=True)
    return study  # a STOP file stays until the next search is started (its starter clears it): every worker sees it


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
