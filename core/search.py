"""Hyper-parameter search with Optuna: every trial is an ordinary run folder.

    study = run_search("lr-wd", n_trials=20, epochs=10, limit=5000)

The study lives in SQLite beside the runs (`<runs root>/optuna.db`), so it survives restarts and a
second `run_search` with the same name adds trials to it. Sampling is TPE (seeded); a trial that
is doing worse than the median of earlier trials at the same epoch is pruned (MedianPruner on the
validation accuracy reported after every epoch). Trial n of study S trains in a run named `S-t<n>`;
the trial's user attribute `run_id` names its folder, so the Experiments page shows its curves.

`space` chooses the parameters and their ranges, `{name: spec}` with spec one of
    {"low": 1e-4, "high": 0.1, "log": True}     a float (or int) range, log-uniform if "log"
    {"choices": ["sgd", "adamw"]}                a categorical choice
Parameters not in the space come from the base recipe (`recipe`, "realtime" by default) and `fixed`.

`python -m core.search` is the background entry point the launcher starts (it takes the space from a
JSON file); `python -m core search` is the user-facing command.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

from .config import TASKS, TrainConfig
from .runs import Run, pid_alive, process_start_time, read_json, runs_root

# what can be searched: kind, the widest sensible range, and the default range offered
SEARCHABLE: dict[str, dict] = {
    "lr": dict(kind="float", label="learning rate", bounds=(1e-5, 1.0), default={"low": 1e-4, "high": 0.1, "log": True}),
    "weight_decay": dict(kind="float", label="weight decay", bounds=(0.0, 0.1),
                         default={"low": 1e-6, "high": 1e-2, "log": True}),
    "label_smoothing": dict(kind="float", label="label smoothing", bounds=(0.0, 0.5), default={"low": 0.0, "high": 0.2}),
    "dropout": dict(kind="float", label="dropout", bounds=(0.0, 0.9), default={"low": 0.0, "high": 0.5}),
    "momentum": dict(kind="float", label="momentum (SGD)", bounds=(0.0, 0.99), default={"low": 0.8, "high": 0.95}),
    "erase": dict(kind="float", label="random erasing probability", bounds=(0.0, 1.0), default={"low": 0.0, "high": 0.5}),
    "rotate": dict(kind="float", label="rotation (degrees)", bounds=(0.0, 45.0), default={"low": 0.0, "high": 20.0}),
    "scale": dict(kind="float", label="scale jitter", bounds=(0.0, 0.5), default={"low": 0.0, "high": 0.2}),
    "shift": dict(kind="int", label="shift (pixels)", bounds=(0, 12), default={"low": 0, "high": 6}),
    "batch_size": dict(kind="categorical", label="batch size", default={"choices": [64, 128, 256]}),
    "optimizer": dict(kind="categorical", label="optimizer", default={"choices": ["sgd", "adamw"]}),
    "schedule": dict(kind="categorical", label="learning-rate schedule", default={"choices": ["cosine", "onecycle"]}),
    "model": dict(kind="categorical", label="architecture", default={"choices": ["mini_xception", "model48"]}),
    "width": dict(kind="categorical", label="width (channels)", default={"choices": [16, 32]}),
}
DEFAULT_PARAMS = ("lr", "weight_decay", "label_smoothing", "optimizer")


def default_space(models=None) -> dict:
    space = {k: dict(SEARCHABLE[k]["default"]) for k in DEFAULT_PARAMS}
    if models and len(models) > 1:
        space["model"] = {"choices": list(models)}
    return space


def validate_space(space: dict, fixed: dict | None = None) -> list[str]:
    """Every problem with a space at once, in words (empty list = fine)."""
    from .models import list_models

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
                try:
                    cfg_errs = TrainConfig(**{name: c}).validate() if name != "model" else (
                        [] if c in list_models() else [f"unknown model {c!r}"])
                except TypeError:
                    cfg_errs = [f"{c!r} is not a valid value"]
                if cfg_errs:
                    errs.append(f"{label}: {c!r} is not allowed ({cfg_errs[0]})")
            continue
        try:
            low, high = float(spec["low"]), float(spec["high"])
        except (KeyError, TypeError, ValueError):
            errs.append(f"{label}: give numbers for low and high")
            continue
        lo_b, hi_b = meta["bounds"]
        if not (math.isfinite(low) and math.isfinite(high)) or low > high:
            errs.append(f"{label}: low must not be above high")
        elif low < lo_b or high > hi_b:
            errs.append(f"{label}: the range must lie within [{lo_b:g}, {hi_b:g}]")
        elif spec.get("log") and low <= 0:
            errs.append(f"{label}: a log-uniform range must start above 0")
    for k in (fixed or {}):
        if k not in {f for f in TrainConfig.__dataclass_fields__} or k in ("data", "task", "epochs", "limit", "name"):
            errs.append(f"{k!r} cannot be fixed here")
    return errs


def suggest(trial, name: str, spec: dict):
    meta = SEARCHABLE[name]
    if meta["kind"] == "categorical" or "choices" in spec:
        return trial.suggest_categorical(name, list(spec["choices"]))
    if meta["kind"] == "int":
        return trial.suggest_int(name, int(spec["low"]), int(spec["high"]))
    return trial.suggest_float(name, float(spec["low"]), float(spec["high"]), log=bool(spec.get("log")))


# ---------------------------------------------------------------- storage

def db_path(root=None) -> Path:
    return Path(root or runs_root()) / "optuna.db"


def storage_url(root=None) -> str:
    return f"sqlite:///{db_path(root)}"


_STORAGES: dict[str, object] = {}


def get_storage(root=None):
    """One RDBStorage per database file and process (opening one runs schema checks: not free)."""
    import optuna

    url = storage_url(root)
    if url not in _STORAGES:
        db_path(root).parent.mkdir(parents=True, exist_ok=True)
        _STORAGES[url] = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 30}})
    return _STORAGES[url]


def _check_name(name: str) -> str:
    from .launcher import check_study_name

    return check_study_name(name)


def stop_path(study_name: str, root=None) -> Path:
    from .launcher import searches_dir

    return searches_dir(root) / f"{_check_name(study_name)}.STOP"


def request_stop(study_name: str, root=None) -> None:
    """End a search: no new trial starts, and the trial now training stops cleanly (its run resumable)."""
    stop_path(study_name, root).touch()
    try:
        study = load_study(study_name, root)
    except ValueError:
        return
    for t in study.trials:
        if t.state.name == "RUNNING" and t.user_attrs.get("run_id"):
            try:
                run = Run.open(t.user_attrs["run_id"], root=root)
            except (ValueError, FileNotFoundError):
                continue
            if run.state() == "queued":
                from . import launcher
                launcher.stop(run, root)
            else:
                run.request_stop()


def stop_requested(study_name: str, root=None) -> bool:
    return stop_path(study_name, root).exists()


def list_studies(root=None) -> list[dict]:
    """Every study in the database: name, trial counts by state, best value and parameters, start time."""
    import optuna

    if not db_path(root).exists():
        return []
    out = []
    for s in optuna.get_all_study_summaries(get_storage(root), include_best_trial=True):
        best = s.best_trial
        counts = {}
        try:
            study = optuna.load_study(study_name=s.study_name, storage=get_storage(root))
            for t in study.get_trials(deepcopy=False):
                counts[t.state.name.lower()] = counts.get(t.state.name.lower(), 0) + 1
        except Exception:  # noqa: BLE001 - a broken study still gets listed
            pass
        out.append({"name": s.study_name, "n_trials": s.n_trials, "best_value": best.value if best else None,
                    "best_params": dict(best.params) if best else {}, "best_run": best.user_attrs.get("run_id")
                    if best else None, "started": s.datetime_start, "counts": counts,
                    "attrs": dict(s.user_attrs)})
    return sorted(out, key=lambda d: (d["started"] is None, d["started"]), reverse=True)


def load_study(name: str, root=None):
    """An existing study; ValueError (with the known names) if there is none by that name."""
    import optuna

    if not db_path(root).exists():
        raise ValueError(f"no study {name!r}: no search has been run yet")
    try:
        return optuna.load_study(study_name=name, storage=get_storage(root))
    except KeyError:
        known = ", ".join(optuna.get_all_study_names(get_storage(root))) or "none"
        raise ValueError(f"no study {name!r}; known studies: {known}") from None


def fail_stale_trials(study) -> int:
    """Trials left RUNNING by a search process that died are marked FAIL (their runs are interrupted)."""
    from optuna.trial import TrialState

    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid, start = t.user_attrs.get("pid"), t.user_attrs.get("pid_start")
        if pid and not pid_alive(pid, start):
            try:
                study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
                n += 1
            except Exception:  # noqa: BLE001 - finished meanwhile
                pass
    return n


def trials_table(study) -> list[dict]:
    """One dict per trial: number, state, value, params, run id, duration (seconds), the error if any."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        end = t.datetime_complete
        start = t.datetime_start
        state = t.state.name.lower()
        if state == "running" and t.user_attrs.get("pid") and not pid_alive(t.user_attrs["pid"],
                                                                             t.user_attrs.get("pid_start")):
            state = "interrupted"
        rows.append({"trial": t.number, "state": state, "val_acc": t.value,
                     "epochs": len(t.intermediate_values), "run_id": t.user_attrs.get("run_id"),
                     "seconds": (end - start).total_seconds() if start and end else None,
                     "error": t.user_attrs.get("error"), **{f"param {k}": v for k, v in t.params.items()}})
    return rows


# ---------------------------------------------------------------- the search

def run_search(study_name: str = "search", n_trials: int = 10, data=None, epochs: int = 10, models=None,
               limit: int = 0, task: str = "emotion", progress: bool = True, space: dict | None = None,
               fixed: dict | None = None, recipe: str = "realtime", seed: int = 0, wait_for_slot: bool = False,
               root=None):
    """Run (or continue) an Optuna study of `n_trials` more trials; returns the optuna.Study."""
    import optuna

    from .data import DataError, default_data_path, load_dataset
    from .recipes import recipe_config
    from .train import train

    study_name = _check_name(study_name)
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}")
    if not 1 <= int(n_trials) <= 10_000:
        raise ValueError("number of trials must be between 1 and 10000")
    models = list(models or [])
    optuna.logging.set_verbosity(optuna.logging.INFO if progress else optuna.logging.WARNING)

    storage = get_storage(root)
    study = optuna.create_study(study_name=study_name, storage=storage, direction="maximize", load_if_exists=True,
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1))
    fail_stale_trials(study)
    # a continued study gets a new seed, or its random start-up trials would repeat the first ones
    study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials), n_startup_trials=5)

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
    stop_path(study_name, root).unlink(missing_ok=True)

    def objective(trial):
        params = {name: suggest(trial, name, spec) for name, spec in space.items()}
        cfg = recipe_config(recipe, **{**fixed, **params}, epochs=epochs, limit=limit, task=task, data=data,
                            name=f"{study_name}-t{trial.number}",
                            extra={"study": study_name, "trial": trial.number})
        errs = cfg.validate()
        if errs:
            raise ValueError("invalid trial configuration: " + "; ".join(errs))
        from . import launcher

        with launcher.locked(root):  # a worker must never take a trial's run: it is marked managed at once
            run = Run.create(cfg, root=root, state="queued")
            run.set_status("queued", managed="search", study=study_name, queued=time.time())
        trial.set_user_attr("run_id", run.id)
        trial.set_user_attr("pid", os.getpid())
        trial.set_user_attr("pid_start", process_start_time(os.getpid()))
        if wait_for_slot:
            ok = launcher.acquire_slot(run, root, should_stop=lambda: stop_requested(study_name, root),
                                       on_wait=lambda busy: print(f"trial {trial.number} waits for a free slot "
                                                                  f"({len(busy)} run(s) training)", flush=True))
            if not ok:
                if run.state() == "queued":
                    run.set_status("stopped", cancelled=True)
                raise optuna.TrialPruned("cancelled before it started")

        def on_epoch(row):
            trial.report(float(row["val_acc"]), int(row["epoch"]))
            if stop_requested(study_name, root):
                return False
            return not trial.should_prune()

        try:
            train(run=run, progress=progress, on_epoch=on_epoch, dataset=ds)
        except Exception as e:
            trial.set_user_attr("error", f"{type(e).__name__}: {e}")
            raise
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
            raise optuna.TrialPruned("pruned" if st.get("pruned") else "stopped by the user")
        raise RuntimeError(f"run {run.id} ended {st.get('state')}: {st.get('error', '')}")

    def stop_callback(study, trial):
        if stop_requested(study_name, root):
            study.stop()

    study.optimize(objective, n_trials=int(n_trials), catch=(Exception,), callbacks=[stop_callback],
                   gc_after_trial=True)
    stop_path(study_name, root).unlink(missing_ok=True)
    return study


def best_summary(study) -> str:
    try:
        best = study.best_trial
    except ValueError:
        return f"study {study.study_name}: {len(study.trials)} trials, none finished"
    return (f"study {study.study_name}: {len(study.trials)} trials; best val_acc {best.value:.4f} "
            f"(trial {best.number}, run {best.user_attrs.get('run_id')}) with {best.params}")


# ---------------------------------------------------------------- background entry point

def main(argv=None) -> int:
    """`python -m core.search`: what the launcher starts in the background (with --spec-file)."""
    p = argparse.ArgumentParser(prog="python -m core.search", description="Run an Optuna study; every trial is a run.")
    p.add_argument("--study", default="search")
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--models", nargs="+", default=None)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--task", default="emotion", choices=TASKS)
    p.add_argument("--data")
    p.add_argument("--recipe", default="realtime")
    p.add_argument("--spec-file", help="JSON with 'space' and 'fixed'")
    p.add_argument("--wait-for-slot", action="store_true", help="take a queue slot for every trial")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    try:
        spec = read_json(Path(a.spec_file), None) if a.spec_file else {}
        if spec is None:
            raise ValueError(f"cannot read the search specification {a.spec_file}")
        study = run_search(study_name=a.study, n_trials=a.trials, data=a.data, epochs=a.epochs, models=a.models,
                           limit=a.limit, task=a.task, progress=not a.no_progress, space=spec.get("space"),
                           fixed=spec.get("fixed"), recipe=a.recipe, wait_for_slot=a.wait_for_slot)
    except (ValueError, OSError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 2
    print(best_summary(study), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["run_search", "list_studies", "load_study", "default_space", "validate_space", "SEARCHABLE",
           "trials_table", "request_stop", "fail_stale_trials", "storage_url"]
