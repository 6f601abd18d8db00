"""`train`, `runs`, `models`: training runs from a shell."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import MISSING, fields

from ..config import TrainConfig
from .common import fail


def _add_config_flags(p: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field, so the CLI never lags behind the config."""
    g = p.add_argument_group("configuration (overrides the recipe)")
    for f in fields(TrainConfig):
        if f.name in ("extra", "recipe"):
            continue
        flag = "--" + f.name.replace("_", "-")
        kind = str(f.type)
        default_text = f.default if f.default is not MISSING else ""
        if "bool" in kind:
            g.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=f"default {default_text}")
        else:
            typ = int if kind.startswith("int") else float if kind.startswith("float") else str
            g.add_argument(flag, type=typ, default=None, metavar=f.name.upper(), help=f"default {default_text!r}")


def cmd_train(a) -> int:
    from ..runs import Run
    from ..train import check_before_start, recipe_config, train

    if a.run is not None or a.resume is not None:
        run = Run.open(a.run if a.run is not None else a.resume)  # a run id in the runs folder, nothing else
        if a.resume is not None:
            run.check_resumable()  # not one a live process trains, nor a queued or finished one
        elif run.state() != "queued":
            return fail(f"run {run.id} is {run.state()}: --run trains a queued run (use --resume to continue one)")
        train(run=run, resume=a.resume is not None or a.run_resume, progress=not a.no_progress)
    else:
        overrides = {f.name: getattr(a, f.name) for f in fields(TrainConfig) if f.name not in ("extra", "recipe")}
        if a.config:
            with open(a.config) as fh:
                overrides = {**json.load(fh), **{k: v for k, v in overrides.items() if v is not None}}
        cfg = recipe_config(a.recipe, **overrides)
        errs = cfg.validate()
        if errs:
            return fail("invalid configuration:\n  " + "\n  ".join(errs))
        check_before_start(cfg)  # no GPU, no teacher, no data set: said before a run folder is made
        run = Run.create(cfg, state="running")  # owned by this process from the start: no worker claims it
        print(f"run {run.id} in {run.dir}", file=sys.stderr)
        train(run=run, progress=not a.no_progress)
    st = run.status()
    summary = run.summary()
    if a.json:
        print(json.dumps({"run": run.id, "state": run.state(), **summary, "error": st.get("error")}, default=str))
    else:
        test = summary.get("test_acc")
        print(f"run {run.id}: {run.state()}" + (f" test_acc {test:.4f}" if isinstance(test, float) else ""))
    return 0 if run.state() in ("finished", "stopped") else 1


def cmd_runs(a) -> int:
    from ..runs import list_runs

    rows = []
    for r in list_runs():
        m, s, c = r.metrics(), r.summary(), r.config()
        rows.append({"run": r.id, "state": r.state(), "model": c.model, "task": c.task,
                     "epochs": f"{len(m)}/{c.epochs}", "best_val": max((x["val_acc"] for x in m), default=None),
                     "test": s.get("test_acc"), "evaluations": len(r.evaluations())})
    if a.json:
        print(json.dumps(rows))
        return 0
    print(f"{'run':<56} {'state':<11} {'model':<14} {'task':<8} {'epochs':>7} {'best_val':>8} {'test':>6}")
    for r in rows:
        fmt = lambda v: f"{v:.4f}" if isinstance(v, float) else "-"  # noqa: E731
        print(f"{r['run']:<56} {r['state']:<11} {r['model']:<14} {r['task']:<8} {r['epochs']:>7} "
              f"{fmt(r['best_val']):>8} {fmt(r['test']):>6}")
    return 0


def cmd_models(a) -> int:
    from ..models import count_parameters, create_model, describe, list_models

    for name in list_models():
        print(f"{name:<14} {count_parameters(create_model(name)):>11,} params  {describe(name)}")
    return 0


def add_train(sub) -> None:
    from ..train.recipes import RECIPES

    t = sub.add_parser("train", help="train a model (a new run folder in model/runs/)",
                       description="Train a model. A run folder is made in model/runs/<run-id>/ with its config, "
                       "metrics, checkpoints and log; curves go to graphs/runs/<run-id>/.")
    t.add_argument("--recipe", choices=sorted(RECIPES), help="a named recipe (see core/train/recipes.py)")
    t.add_argument("--config", help="a config.json to start from")
    t.add_argument("--run", help="train an existing queued run folder by id")
    t.add_argument("--resume", metavar="RUN_ID", help="resume a stopped, interrupted or failed run from its last "
                   "checkpoint (a run id in the runs folder)")
    t.add_argument("--run-resume", action="store_true", help=argparse.SUPPRESS)
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--json", action="store_true", help="print the outcome as JSON")
    _add_config_flags(t)
    t.set_defaults(fn=cmd_train)


def add_runs(sub) -> None:
    r = sub.add_parser("runs", help="list runs")
    r.add_argument("--json", action="store_true")
    r.set_defaults(fn=cmd_runs)


def add_models(sub) -> None:
    m = sub.add_parser("models", help="list architectures")
    m.set_defaults(fn=cmd_models)
