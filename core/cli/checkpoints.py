"""`evaluate`, `ship`, `quantize`, `card`: what is done with a trained checkpoint, from a shell."""
from __future__ import annotations

import sys
from pathlib import Path

from ..files import to_json

DATA_HELP = "data set (default: FER2013 found by FER2013_PATH, data/ or ../shared)"


def cmd_evaluate(a) -> int:
    from ..runs import Run
    from ..workflows.evaluation import evaluate_checkpoint

    run = Run.open(a.run) if a.run else None
    path = a.checkpoint or run.best_path
    res = evaluate_checkpoint(path, data=a.data, split=a.split, tta=None if a.tta == "none" else a.tta)
    if run is not None:  # kept with the run, where the Experiments page shows it
        run.save_evaluation(res)
    if a.json:
        print(to_json(res, indent=None))
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


def cmd_ship(a) -> int:
    from ..runs import Run
    from ..workflows.ship import ship

    path = ship(Run.open(a.run), a.name, force=a.force)
    print(path)
    print(f"measure its card with: python -m core card {path} --json > {path.with_suffix('')}.card.json",
          file=sys.stderr)
    return 0


def cmd_quantize(a) -> int:
    from ..predict.catalogue import resolve_model
    from ..runs import slug
    from ..settings import model_dir, shipped_graphs_dir
    from ..train.plots import save_confusion
    from ..workflows.quantize import quantize_checkpoint

    src = resolve_model(a.checkpoint)
    dst = Path(a.out) if a.out else model_dir() / f"{slug(a.name)}.pt"
    if dst.resolve() == src.resolve():
        raise ValueError("the int8 copy needs a name of its own (--as), not the float model's")
    if dst.exists() and not a.force:
        raise FileExistsError(f"{dst} exists already: choose another name, or --force to replace it")
    print(f"quantizing {src} to int8 on {a.images} training images, then measuring both on PublicTest and "
          f"PrivateTest...", file=sys.stderr)
    r = quantize_checkpoint(src, dst, data=a.data, images=a.images, seed=a.seed, overwrite=a.force)
    if a.name:  # shipped beside the others: its confusion matrix where theirs are
        name = slug(a.name)
        r["confusion_png"] = str(save_confusion(r["int8_test_confusion"], r["classes"],
                                                shipped_graphs_dir() / name / "confusion.png",
                                                f"{name}: PrivateTest (int8)"))
    if a.json:
        print(to_json(r, indent=None))
    else:
        print(f"{dst}: PublicTest {r['int8_val_acc']:.2%} (float {r['float_val_acc']:.2%}), "
              f"PrivateTest {r['int8_test_acc']:.2%} (float {r['float_test_acc']:.2%})")
    return 0


def cmd_card(a) -> int:
    from ..settings import model_dir
    from ..workflows.card import card, card_markdown, card_table

    if a.table:
        paths = a.checkpoint or sorted(model_dir().glob("*.card.json"))
        if not paths:
            raise FileNotFoundError("no cards to tabulate: write one with `python -m core card model/<name>.pt --json "
                                    "> model/<name>.card.json`")
        print(card_table(paths))
        return 0
    if len(a.checkpoint) != 1:
        raise ValueError("card measures one checkpoint at a time (or use --table with saved cards)")
    c = card(a.checkpoint[0], a.data)
    print(to_json(c, indent=None) if a.json else card_markdown(c))
    return 0


def add_evaluate(sub) -> None:
    e = sub.add_parser("evaluate", help="evaluate a checkpoint or run on a split")
    src = e.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="a .pt checkpoint")
    src.add_argument("--run", help="a run id (its best.pt); the result is kept with the run")
    e.add_argument("--data", help=DATA_HELP)
    e.add_argument("--split", default="test", choices=("train", "val", "test"))
    e.add_argument("--tta", default="none", choices=("none", "flip", "tencrop"), help="test-time augmentation")
    e.add_argument("--json", action="store_true")
    e.set_defaults(fn=cmd_evaluate)


def add_ship(sub) -> None:
    sh = sub.add_parser("ship", help="copy a run's best checkpoint to model/<name>.pt and its curves to graphs/<name>/")
    sh.add_argument("run", help="run id")
    sh.add_argument("--as", dest="name", required=True, help="the shipped model's name")
    sh.add_argument("--force", action="store_true", help="replace a shipped model of that name (checkpoint, card "
                    "and graphs together)")
    sh.set_defaults(fn=cmd_ship)


def add_quantize(sub) -> None:
    q = sub.add_parser("quantize", help="an int8 copy of a checkpoint: faster on a CPU (2x for seed-vgg), for the webcam",
                       description="Post-training int8 quantization (no retraining): calibrates on training images, "
                       "writes model/<name>.pt and prints its accuracy beside the float model's.")
    q.add_argument("checkpoint", help="a checkpoint, a model name in model/ or a run id")
    dest = q.add_mutually_exclusive_group(required=True)
    dest.add_argument("--as", dest="name", help="the int8 model's name in model/ (e.g. seed-vgg-int8)")
    dest.add_argument("--out", help="or a path to write it to")
    q.add_argument("--images", type=int, default=2048, help="training images to calibrate on (default 2048)")
    q.add_argument("--seed", type=int, default=0, help="which images (default 0)")
    q.add_argument("--data", help=DATA_HELP)
    q.add_argument("--force", action="store_true", help="replace an existing file of that name")
    q.add_argument("--json", action="store_true")
    q.set_defaults(fn=cmd_quantize)


def add_card(sub) -> None:
    cd = sub.add_parser("card", help="measure a checkpoint's model-card figures (accuracy with and without TTA, "
                        "per-class F1, CPU latency)")
    cd.add_argument("checkpoint", nargs="*", help="a checkpoint; with --table, saved cards (default model/*.card.json)")
    cd.add_argument("--data", help=DATA_HELP)
    cd.add_argument("--json", action="store_true")
    cd.add_argument("--table", action="store_true", help="tabulate saved cards (*.card.json) instead of measuring")
    cd.set_defaults(fn=cmd_card)
