"""`train`, `runs`, `models`: training runs from a shell.

`train` trains one run in this process, or on several (PyTorch DDP): under `torchrun --nproc_per_node N -m core
train ...` every rank runs this same command, and rank 0 alone makes or checks the run folder and tells the
others its id; `--nproc N` starts torchrun itself on a run folder this process made.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import MISSING, fields
from pathlib import Path

from ..config import TrainConfig
from ..files import to_json
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
        what = f.metadata.get("help", "")
        if "bool" in kind:
            g.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                           help=f"{what} (default {default_text})")
        else:
            typ = int if kind.startswith("int") else float if kind.startswith("float") else str
            g.add_argument(flag, type=typ, default=None, metavar=f.name.upper(),
                           help=f"{what} (default {default_text!r})".replace("%", "%%"))


def _new_config(a):
    from ..train import recipe_config

    overrides = {f.name: getattr(a, f.name) for f in fields(TrainConfig) if f.name not in ("extra", "recipe")}
    if a.config:
        try:
            given = json.loads(Path(a.config).read_text())
            TrainConfig.from_dict(given)  # unknown keys and wrong types said here, not dropped or met later
        except ValueError as e:
            raise ValueError(f"{a.config}: {e}") from None
        overrides = {**given, **{k: v for k, v in overrides.items() if v is not None}}
    cfg = recipe_config(a.recipe, **overrides)
    errs = cfg.validate()
    if errs:
        raise ValueError("invalid configuration:\n  " + "\n  ".join(errs))
    return cfg


def _take_run(a, queued_state: str = "running"):
    """The run this command trains, checked (a new one is made, with its state): on rank 0 alone under torchrun."""
    from ..runs import Run
    from ..train import check_before_start

    if a.run is not None or a.resume is not None:
        run = Run.open(a.run if a.run is not None else a.resume)  # a run id in the runs folder, nothing else
        if a.resume is not None:
            run.check_resumable()  # not one a live process trains, nor a queued or finished one
        elif run.state() != "queued":
            raise ValueError(f"run {run.id} is {run.state()}: --run trains a queued run (use --resume to continue one)")
        return run
    cfg = _new_config(a)
    check_before_start(cfg)  # no GPU, no teacher, no data set: said before a run folder is made
    extra = {"managed": "torchrun"} if queued_state == "queued" else {}  # no queue worker takes it meanwhile
    run = Run.create(cfg, state=queued_state, **extra)  # owned by this process (or its launcher) from the start
    print(f"run {run.id} in {run.dir}", file=sys.stderr)
    return run


def cmd_train(a) -> int:
    from ..runs import Run
    from ..train import distributed, resolve_device, train

    if a.nproc < 1:
        return fail("--nproc must be at least 1")
    if a.nproc > 1:
        if distributed.under_torchrun():
            return fail("--nproc starts torchrun itself: use one or the other")
        return _launch(a)
    existing = a.run if a.run is not None else a.resume
    cfg = Run.open(existing).config() if existing is not None else _new_config(a)  # every rank: the same
    ctx = distributed.setup(resolve_device(cfg.device).type)  # under torchrun: join the other ranks first
    try:
        run = distributed.on_rank0(lambda: _take_run(a), ctx)  # one run folder, made or checked by rank 0
        train(run=run, resume=a.resume is not None or a.run_resume, progress=not a.no_progress)
    finally:
        distributed.teardown()
    return _outcome(run, a.json) if ctx.main else 0


def _outcome(run, as_json: bool) -> int:
    st = run.status()
    summary = run.summary()
    if as_json:
        print(to_json({"run": run.id, "state": run.state(), **summary, "error": st.get("error")}, indent=None))
    else:
        test = summary.get("test_acc")
        print(f"run {run.id}: {run.state()}" + (f" test_acc {test:.4f}" if isinstance(test, float) else "")
              + (f": {st['error']}" if st.get("error") else ""))
    return 0 if run.state() in ("finished", "stopped") else 1


def _launch(a) -> int:
    """`--nproc N`: one run on N processes. This process makes (or checks) the run folder, then starts
    `python -m torch.distributed.run --standalone --nproc_per_node N -m core train --run-id|--resume <id>`
    and waits; signals are passed on (a stop ends cleanly), and a launch that ends without rank 0 saying how
    (a rank killed, the launcher gone) leaves the run failed, with the reason."""
    import os
    import signal
    import subprocess

    from ..runs import Run
    from ..train import distributed, resolve_device

    existing = a.run if a.run is not None else a.resume
    cfg = Run.open(existing).config() if existing is not None else _new_config(a)
    if resolve_device(cfg.device).type == "cuda":  # said before any run folder changes
        import torch

        if a.nproc > torch.cuda.device_count():
            raise ValueError(f"--nproc {a.nproc}: this machine has {torch.cuda.device_count()} GPU(s), one per process")
    if a.resume is not None:
        distributed.check_world(Run.open(a.resume).last_path, a.nproc)
    run = _take_run(a, queued_state="queued")
    which = (["--resume", run.id] if a.resume is not None
             else ["--run-id", run.id] + (["--run-resume"] if a.run_resume else []))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(a.nproc),
           "-m", "core", "train", *which, *(["--no-progress"] if a.no_progress else [])]
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // a.nproc)))
    print(f"training run {run.id} on {a.nproc} processes (torchrun)", file=sys.stderr)
    code = None
    try:  # our stdout: the outcome line alone; its own process group: a Ctrl-C reaches it once, through us
        proc = subprocess.Popen(cmd, env=env, stdout=2, process_group=0)
        old = {s: signal.signal(s, lambda sig, _: proc.send_signal(sig)) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            code = proc.wait()
        finally:
            for s, h in old.items():
                signal.signal(s, h)
    finally:
        if run.state() in ("queued", "interrupted"):  # nobody said how it ended: no rank is left to
            with run.hold():
                if run.state() in ("queued", "interrupted"):
                    reason = (f"a training process ended without finishing the run (torchrun exited with code "
                              f"{code}: a rank died or was killed; its error is in the console above)")
                    run.log("FAILED: " + reason)
                    run.set_status("failed", error=reason)
    return _outcome(run, a.json)


def cmd_runs(a) -> int:
    from ..runs import list_runs

    rows = []
    for r in list_runs():  # a damaged folder is listed as such, with what is wrong: the others as ever
        m, s, problem = r.metrics(), r.summary(), r.problem()
        c = None if problem.startswith("config.json") else r.config()
        rows.append({"run": r.id, "state": "damaged" if problem else r.state(), "model": c.model if c else "?",
                     "task": c.task if c else "?", "epochs": f"{len(m)}/{c.epochs if c else '?'}",
                     "best_val": max((x["val_acc"] for x in m), default=None), "test": s.get("test_acc"),
                     "evaluations": len(r.evaluations()), "problem": problem or None})
    if a.json:
        print(to_json(rows, indent=None))
        return 0
    print(f"{'run':<56} {'state':<11} {'model':<14} {'task':<8} {'epochs':>7} {'best_val':>8} {'test':>6}")
    for r in rows:
        fmt = lambda v: f"{v:.4f}" if isinstance(v, float) else "-"  # noqa: E731
        print(f"{r['run']:<56} {r['state']:<11} {r['model']:<14} {r['task']:<8} {r['epochs']:>7} "
              f"{fmt(r['best_val']):>8} {fmt(r['test']):>6}" + (f"\n    {r['problem']}" if r["problem"] else ""))
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
    t.add_argument("--run", "--run-id", dest="run", help="train an existing queued run folder by id (under torchrun "
                   "write --run-id: torchrun takes --run for its own --run-path)")
    t.add_argument("--resume", metavar="RUN_ID", help="resume a stopped, interrupted or failed run from its last "
                   "checkpoint (a run id in the runs folder)")
    t.add_argument("--run-resume", action="store_true", help=argparse.SUPPRESS)
    t.add_argument("--nproc", type=int, default=1, metavar="N", help="train one run on N processes (one per GPU, "
                   "or N on the CPU) with PyTorch DDP: starts torchrun itself (default 1). Or start the command "
                   "under torchrun yourself: torchrun --nproc_per_node N -m core train ...")
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
