"""`python -m core train | evaluate | search | predict | runs | ship | quantize | card | models`: everything the app
does, from a shell."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import MISSING, fields
from pathlib import Path

from .config import TrainConfig


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
    from .recipes import recipe_config
    from .runs import Run
    from .train import check_before_start, train

    if a.run or a.resume:
        run = Run.open(a.run or a.resume)
        train(run=run, resume=bool(a.resume) or a.run_resume, progress=not a.no_progress)
    else:
        overrides = {f.name: getattr(a, f.name) for f in fields(TrainConfig) if f.name not in ("extra", "recipe")}
        if a.config:
            with open(a.config) as fh:
                overrides = {**json.load(fh), **{k: v for k, v in overrides.items() if v is not None}}
        cfg = recipe_config(a.recipe, **overrides)
        errs = cfg.validate()
        if errs:
            return _fail("invalid configuration:\n  " + "\n  ".join(errs))
        check_before_start(cfg)  # no GPU, no teacher: said before a run folder is made
        run = Run.create(cfg)
        print(f"run {run.id} in {run.dir}", file=sys.stderr)
        train(run=run, progress=not a.no_progress)
    st = run.status()
    print(json.dumps({"run": run.id, "state": run.state(), **run.summary(), "error": st.get("error")}, default=str)
          if a.json else f"run {run.id}: {run.state()}" + (f" test_acc {run.summary().get('test_acc', float('nan')):.4f}"
                                                            if run.summary() else ""))
    return 0 if run.state() in ("finished", "stopped") else 1


def cmd_evaluate(a) -> int:
    from .evaluate import evaluate_checkpoint
    from .runs import Run

    path = a.checkpoint or Run.open(a.run).best_path
    res = evaluate_checkpoint(path, data=a.data, split=a.split, tta=None if a.tta == "none" else a.tta)
    if a.json:
        print(json.dumps(res))
        return 0
    print(f"{path}  split={a.split}  tta={a.tta}  n={res['n']}")
    print(f"accuracy {res['accuracy']:.4f}   macro-F1 {res['macro_f1']:.4f}   loss {res['loss']:.4f}")
    print(f"{'class':>10} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>7}")
    for r in res["per_class"]:
        print(f"{r['class']:>10} {r['precision']:9.3f} {r['recall']:7.3f} {r['f1']:6.3f} {r['support']:7d}")
    print("confusion (rows true, columns predicted):")
    for c, row in zip(res["classes"], res["confusion"]):
        print(f"{c:>10} " + " ".join(f"{v:5d}" for v in row))
    return 0


def cmd_search(a) -> int:
    from .search import run_search

    study = run_search(study_name=a.study, n_trials=a.trials, data=a.data, epochs=a.epochs, models=a.models,
                       limit=a.limit, task=a.task, progress=not a.no_progress)
    from .search import best_summary
    print(best_summary(study))
    return 0


def cmd_runs(a) -> int:
    from .runs import list_runs

    rows = []
    for r in list_runs():
        m, s, c = r.metrics(), r.summary(), r.config()
        rows.append({"run": r.id, "state": r.state(), "model": c.model, "task": c.task,
                     "epochs": f"{len(m)}/{c.epochs}", "best_val": max((x["val_acc"] for x in m), default=None),
                     "test": s.get("test_acc")})
    if a.json:
        print(json.dumps(rows))
        return 0
    print(f"{'run':<44} {'state':<11} {'model':<14} {'task':<8} {'epochs':>7} {'best_val':>8} {'test':>6}")
    for r in rows:
        fmt = lambda v: f"{v:.4f}" if isinstance(v, float) else "-"  # noqa: E731
        print(f"{r['run']:<44} {r['state']:<11} {r['model']:<14} {r['task']:<8} {r['epochs']:>7} "
              f"{fmt(r['best_val']):>8} {fmt(r['test']):>6}")
    return 0


def cmd_ship(a) -> int:
    from .card import ship
    from .runs import Run

    print(ship(Run.open(a.run), a.name))
    return 0


def cmd_quantize(a) -> int:
    from .predictors import default_model_dir, resolve_model
    from .quantize import quantize_checkpoint
    from .runs import slug

    src = resolve_model(a.checkpoint)
    dst = Path(a.out) if a.out else default_model_dir() / f"{slug(a.name)}.pt"
    if dst.resolve() == src.resolve():
        raise ValueError("the int8 copy needs a name of its own (--as), not the float model's")
    if dst.exists() and not a.force:
        raise FileExistsError(f"{dst} exists already: choose another name, or --force to replace it")
    print(f"quantizing {src} to int8 on {a.images} training images, then measuring both on PublicTest and "
          f"PrivateTest...", file=sys.stderr)
    r = quantize_checkpoint(src, dst, data=a.data, images=a.images, seed=a.seed, overwrite=a.force)
    if a.name:  # shipped beside the others: its confusion matrix where theirs are
        from .plots import save_confusion
        from .runs import ROOT

        name = slug(a.name)
        r["confusion_png"] = str(save_confusion(r["int8_test_confusion"], r["classes"],
                                                ROOT / "graphs" / name / "confusion.png",
                                                f"{name}: PrivateTest (int8)"))
    if a.json:
        print(json.dumps(r))
    else:
        print(f"{dst}: PublicTest {r['int8_val_acc']:.2%} (float {r['float_val_acc']:.2%}), "
              f"PrivateTest {r['int8_test_acc']:.2%} (float {r['float_test_acc']:.2%})")
    return 0


def cmd_card(a) -> int:
    from .card import card_table, main_card

    if a.table:
        from .runs import ROOT

        paths = a.checkpoint or sorted((ROOT / "model").glob("*.card.json"))
        if not paths:
            raise FileNotFoundError("no cards to tabulate: write one with `python -m core card model/<name>.pt --json "
                                    "> model/<name>.card.json`")
        print(card_table(paths))
        return 0
    if len(a.checkpoint) != 1:
        raise ValueError("card measures one checkpoint at a time (or use --table with saved cards)")
    print(main_card(a.checkpoint[0], data=a.data, as_json=a.json))
    return 0


def cmd_models(a) -> int:
    from .models import count_parameters, create_model, describe, list_models

    for name in list_models():
        print(f"{name:<14} {count_parameters(create_model(name)):>11,} params  {describe(name)}")
    return 0


def _fail(msg: str) -> int:
    print(f"error: {msg}", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    from .recipes import RECIPES

    p = argparse.ArgumentParser(prog="python -m core", description="Facial Emotion Lab: train, evaluate and use "
                                "emotion CNNs on FER2013-style data.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model (a new run folder in model/runs/)",
                       description="Train a model. A run folder is made in model/runs/<run-id>/ with its config, "
                       "metrics, checkpoints and log; curves go to graphs/runs/<run-id>/.")
    t.add_argument("--recipe", choices=sorted(RECIPES), help="a named recipe (see core/recipes.py)")
    t.add_argument("--config", help="a config.json to start from")
    t.add_argument("--run", help="train an existing (queued) run folder by id")
    t.add_argument("--resume", metavar="RUN_ID", help="resume a stopped or interrupted run from its last checkpoint")
    t.add_argument("--run-resume", action="store_true", help=argparse.SUPPRESS)
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--json", action="store_true", help="print the outcome as JSON")
    _add_config_flags(t)
    t.set_defaults(fn=cmd_train)

    e = sub.add_parser("evaluate", help="evaluate a checkpoint or run on a split")
    src = e.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="a .pt checkpoint")
    src.add_argument("--run", help="a run id (its best.pt)")
    e.add_argument("--data", help="data set (default: FER2013 found by FER2013_PATH, data/ or ../shared)")
    e.add_argument("--split", default="test", choices=("train", "val", "test"))
    e.add_argument("--tta", default="none", choices=("none", "flip", "tencrop"), help="test-time augmentation")
    e.add_argument("--json", action="store_true")
    e.set_defaults(fn=cmd_evaluate)

    s = sub.add_parser("search", help="Optuna hyper-parameter search (each trial is a run)")
    s.add_argument("--study", default="search", help="study name (kept in model/runs/optuna.db)")
    s.add_argument("--trials", type=int, default=10)
    s.add_argument("--epochs", type=int, default=10, help="epochs per trial")
    s.add_argument("--models", nargs="+", default=None, help="architectures to try")
    s.add_argument("--limit", type=int, default=0, help="training images per trial (0 = all)")
    s.add_argument("--task", default="emotion", choices=("emotion", "stress"))
    s.add_argument("--data")
    s.add_argument("--no-progress", action="store_true")
    s.set_defaults(fn=cmd_search)

    pr = sub.add_parser("predict", help="emotion of every face in images", add_help=False)
    pr.add_argument("rest", nargs=argparse.REMAINDER)
    pr.set_defaults(fn=None)

    r = sub.add_parser("runs", help="list runs")
    r.add_argument("--json", action="store_true")
    r.set_defaults(fn=cmd_runs)

    sh = sub.add_parser("ship", help="copy a run's best checkpoint to model/<name>.pt and its curves to graphs/<name>/")
    sh.add_argument("run", help="run id")
    sh.add_argument("--as", dest="name", required=True, help="the shipped model's name")
    sh.set_defaults(fn=cmd_ship)

    q = sub.add_parser("quantize", help="an int8 copy of a checkpoint: faster on a CPU (2x for seed-vgg), for the webcam",
                       description="Post-training int8 quantization (no retraining): calibrates on training images, "
                       "writes model/<name>.pt and prints its accuracy beside the float model's.")
    q.add_argument("checkpoint", help="a checkpoint, a model name in model/ or a run id")
    dest = q.add_mutually_exclusive_group(required=True)
    dest.add_argument("--as", dest="name", help="the int8 model's name in model/ (e.g. seed-vgg-int8)")
    dest.add_argument("--out", help="or a path to write it to")
    q.add_argument("--images", type=int, default=2048, help="training images to calibrate on (default 2048)")
    q.add_argument("--seed", type=int, default=0, help="which images (default 0)")
    q.add_argument("--data", help="data set (default: FER2013 found by FER2013_PATH, data/ or ../shared)")
    q.add_argument("--force", action="store_true", help="replace an existing file of that name")
    q.add_argument("--json", action="store_true")
    q.set_defaults(fn=cmd_quantize)

    cd = sub.add_parser("card", help="measure a checkpoint's model-card figures (accuracy with and without TTA, "
                        "per-class F1, CPU latency)")
    cd.add_argument("checkpoint", nargs="*", help="a checkpoint; with --table, saved cards (default model/*.card.json)")
    cd.add_argument("--data", help="data set (default: FER2013 found by FER2013_PATH, data/ or ../shared)")
    cd.add_argument("--json", action="store_true")
    cd.add_argument("--table", action="store_true", help="tabulate saved cards (*.card.json) instead of measuring")
    cd.set_defaults(fn=cmd_card)

    m = sub.add_parser("models", help="list architectures")
    m.set_defaults(fn=cmd_models)
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "predict":  # its own parser, with its own --help
        from .predict_cli import main as predict_main
        return predict_main(argv[1:])
    a = build_parser().parse_args(argv)
    try:
        return a.fn(a)
    except (ValueError, FileNotFoundError, RuntimeError, OSError) as e:
        return _fail(str(e))
    except KeyboardInterrupt:
        return 130
