"""`evaluate`, `compare`, `ship`, `quantize`, `card`: what is done with a trained checkpoint, from a shell."""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ..files import to_json
from ..labels import TTA_CHOICES, TTA_LABELS

DATA_HELP = "data set (default: FER2013 found by FER2013_PATH, data/ or ../shared)"


def cmd_evaluate(a) -> int:
    from ..runs import Run
    from ..workflows.evaluation import open_subject

    run = Run.open(a.run) if a.run else None
    path = a.checkpoint or run.best_path
    subject = open_subject(path, a.data)
    tta = None if a.tta == "none" else a.tta
    res = subject.evaluate(a.split, tta)
    if a.calibration:  # a temperature fitted on PublicTest, judged on the split, both in the view asked for
        res["calibration"] = subject.calibration(a.split, tta)
        _warn(res["calibration"])
    if a.mistakes:
        from ..workflows.mistakes import write_mistakes

        res["mistakes"] = write_mistakes(a.mistakes, subject.dataset.splits[a.split].images, subject.probs(a.split, tta),
                                         subject.labels(a.split), list(subject.dataset.classes))
        print(f"{res['mistakes']['mistakes']} mistakes: {res['mistakes']['csv']}, the {res['mistakes']['shown']} surest "
              f"in {res['mistakes']['png']}", file=sys.stderr)
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
    cal = res.get("calibration")
    if cal:
        print(f"calibration ({cal['bins']} bins, {TTA_LABELS[tta]}): ECE {cal['ece']:.4f} at temperature 1, "
              f"{cal['ece_calibrated']:.4f} at temperature {cal['temperature']:.3f} fitted on val (stored: "
              f"{subject.temperature_for(tta):g}); NLL "
              f"{cal['nll']:.4f} -> {cal['nll_calibrated']:.4f}")
    return 0


def _warn(cal: dict, where: str = "") -> None:
    """A temperature fitted on too few faces is said, on stderr (core.calibration.fit_warning)."""
    if cal.get("warning"):
        print(f"warning: {where}{cal['warning']}", file=sys.stderr)


def at_least_boot(text: str) -> int:
    """--bootstrap: a whole number of resamples, at least core.paired.MIN_BOOT."""
    from ..paired import MIN_BOOT

    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number of resamples, not {text!r}") from None
    if n < MIN_BOOT:
        raise argparse.ArgumentTypeError(f"at least {MIN_BOOT} resamples (fewer give an interval that moves with the "
                                         f"seed), not {n}")
    return n


def cmd_compare(a) -> int:
    from ..workflows.comparison import compare_models

    r = compare_models(a.a, a.b, data=a.data, split=a.split, tta=None if a.tta == "none" else a.tta,
                       n_boot=a.bootstrap, seed=a.seed)
    r.pop("probs"), r.pop("labels")  # every face's answer: the Experiments page's gallery, not the shell's
    _write_result(a.result, f"compare.{_slug(a.a)}.{_slug(a.b)}.{a.split}.{a.tta}", r,
                  f"python -m core compare {a.a} {a.b} --split {a.split} --tta {a.tta} --bootstrap {a.bootstrap} "
                  f"--seed {a.seed}")
    if a.json:
        for side in ("a", "b"):
            r[side].pop("reliability")
        print(to_json(r, indent=None))
        return 0
    print(f"{a.a} (A) vs {a.b} (B) on {a.split}, {r['n']} faces, tta={a.tta}, {r['n_boot']} bootstrap resamples "
          f"(seed {r['seed']})")
    print(f"{'':>14} {'accuracy':>8} {'95% interval':>15} {'macro-F1':>8} {'95% interval':>15} {'ECE':>6} {'T':>5}")
    for side, label in (("a", "A"), ("b", "B")):
        acc, f1, m = r[side]["accuracy"], r[side]["macro_f1"], r[side]
        print(f"{label:>14} {acc['value']:8.2%} {_span(acc['interval'], 100, '.1f'):>15} {f1['value']:8.3f} "
              f"{_span(f1['interval'], 1, '.3f'):>15} {m['ece_calibrated']:6.3f} {m['temperature']:5.2f}")
    acc, f1 = r["difference"]["accuracy"], r["difference"]["macro_f1"]
    print(f"{'B - A':>14} {100 * acc['value']:+7.2f}p {_span(acc['interval'], 100, '+.1f'):>15} "
          f"{f1['value']:+8.3f} {_span(f1['interval'], 1, '+.3f'):>15}")
    c = r["counts"]
    print(f"both right {c['both_right']}, only A {c['only_a']}, only B {c['only_b']}, both wrong {c['both_wrong']}; "
          f"McNemar exact p = {r['mcnemar_p']:.3g}")
    print(f"{'class':>10} {'support':>7} {'F1 A':>6} {'F1 B':>6} {'B - A':>7} {'95% interval':>16}")
    for pc in r["per_class"]:
        print(f"{pc['class']:>10} {pc['support']:7d} {pc['f1_a']:6.3f} {pc['f1_b']:6.3f} {pc['f1_difference']:+7.3f} "
              f"{_span(pc['f1_interval'], 1, '+.3f'):>16}")
    print(r["verdict"])
    return 0


def _slug(text: str) -> str:
    """A model's name or path as a part of a results/ file's name."""
    return re.sub(r"[^a-z0-9_-]+", "-", Path(str(text)).name.removesuffix(".pt").lower()).strip("-")[:30] or "model"


def _write_result(name: str | None, default: str, figures: dict, command: str) -> None:
    """A measuring command's result into results/ (core.results), unless `--result none`; says where on stderr."""
    from ..results import write_result

    if name != "none":
        print(f"written: {write_result(name or default, figures, command=command)}", file=sys.stderr)


def _span(interval, scale: float, fmt: str) -> str:
    return f"{scale * interval[0]:{fmt}} to {scale * interval[1]:{fmt}}"


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
    from ..workflows.card import calibrate_card, card, card_markdown, card_table, store_temperature, unusable_cards
    from ..workflows.card_pairs import paired_result, paired_table
    from ..workflows.label_sets import label_sets_table

    if a.table:
        paths = a.checkpoint or sorted(model_dir().glob("*.card.json"))
        if not paths:
            raise FileNotFoundError("no cards to tabulate: write one with `python -m core card model/<name>.pt --json "
                                    "> model/<name>.card.json`")
        print(card_table(paths))
        both = label_sets_table(paths)
        if both:
            print("\n" + both)
        left_out = unusable_cards(paths)
        for labels in ("own", "ferplus"):  # each model on its own labels, then every emotion model on FER+'s
            result = paired_result(paths, a.data, left_out=left_out, labels=labels)
            if result and result["rows"] and (a.result or not a.checkpoint):  # the shipped cards': the README's
                kept = {**result, "rows": [{k: v for k, v in r.items() if k != "per_class"} for r in result["rows"]]}
                suffix = "" if labels == "own" else ".ferplus"  # per class: `compare A B`
                _write_result(a.result and a.result + suffix * (a.result != "none"), "card-pairs" + suffix, kept,
                              "python -m core card --table")
            pairs = paired_table(paths, a.data, left_out=left_out, labels=labels, rows=result)
            if pairs:
                print("\n" + pairs)
        return 0
    if a.predictions:
        return _store_predictions(a)
    if a.calibrate:
        ttas = [None if t == "none" else t for t in a.tta]
        for path in a.checkpoint:
            for view, cal in calibrate_card(path, a.data, ttas).items():
                _warn(cal, f"{path} ({view}): ")
                print(f"{path}: {view}: temperature {cal['temperature']:.3f} (fitted on PublicTest in this view, "
                      f"stored); ECE on PrivateTest {cal['ece']:.4f} -> {cal['ece_calibrated']:.4f}")
            print(f"{path}: card updated")
        return 0
    if len(a.checkpoint) != 1:
        raise ValueError("card measures one checkpoint at a time (or use --table with saved cards)")
    command = f"python -m core card {a.checkpoint[0]}" + (f" --data {a.data}" if a.data else "") + \
        (" --write-temperature" if a.write_temperature else "")
    c = card(a.checkpoint[0], a.data, command=command)
    views = c["calibration_by_view"]
    _warn(c["calibration"])
    if a.write_temperature:
        store_temperature(a.checkpoint[0], c["temperature"],
                          {v: m["temperature"] for v, m in views.items() if v != "none"})
        print(f"{a.checkpoint[0]}: temperatures stored (predictors apply their view's): " +
              ", ".join(f"{v} {m['temperature']:.3f}" for v, m in views.items()), file=sys.stderr)
    print(to_json(c, indent=None) if a.json else card_markdown(c))
    return 0


def _store_predictions(a) -> int:
    """`card --predictions`: each checkpoint's PrivateTest answers into its saved card, checked against the card."""
    from ..settings import model_dir
    from ..workflows.card_pairs import open_subjects, store_predictions

    paths = a.checkpoint or sorted(p.with_name(p.name.removesuffix(".card.json") + ".pt")
                                   for p in model_dir().glob("*.card.json"))
    ttas = [None if t == "none" else t for t in a.tta]
    for subject in open_subjects(paths, a.data):
        path = subject.path
        for tta, acc in store_predictions(subject, ttas).items():
            card_acc = acc["card"]
            same = "" if card_acc is None else (" = the card's" if abs(acc["stored"] - card_acc) < 5e-5 else
                                                f", the card says {card_acc:.2%}")
            print(f"{path}: {tta}: PrivateTest answers stored, {acc['stored']:.2%}{same}", flush=True)
    return 0


def add_evaluate(sub) -> None:
    e = sub.add_parser("evaluate", help="evaluate a checkpoint or run on a split")
    src = e.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="a .pt checkpoint")
    src.add_argument("--run", help="a run id (its best.pt); the result is kept with the run")
    e.add_argument("--data", help=DATA_HELP)
    e.add_argument("--split", default="test", choices=("train", "val", "test"))
    e.add_argument("--tta", default="none", choices=TTA_CHOICES, help="test-time augmentation")
    e.add_argument("--calibration", action="store_true", help="also fit a temperature on the validation split "
                   "(PublicTest) and give the expected calibration error on --split before and after it (both in the "
                   "--tta view)")
    e.add_argument("--mistakes", metavar="DIR", help="write every mistake (mistakes.csv) and the 100 surest as a "
                   "grid of faces (mistakes.png) to DIR")
    e.add_argument("--json", action="store_true")
    e.set_defaults(fn=cmd_evaluate)


def add_compare(sub) -> None:
    c = sub.add_parser("compare", help="two models on the same faces: is the difference real? (intervals, McNemar)",
                       description="Both models answer the same faces of a split; each one's accuracy and macro-F1 "
                       "with a bootstrap 95% interval, the paired difference (B - A) with its interval, McNemar's "
                       "exact test on the faces where exactly one is right, per-class F1 differences, a verdict "
                       "(a difference is real only when the test and the interval agree).")
    c.add_argument("a", help="model A: a checkpoint, a model name in model/, a run id, or deepface (where its "
                   "weights are present)")
    c.add_argument("b", help="model B")
    c.add_argument("--data", help=DATA_HELP)
    c.add_argument("--split", default="test", choices=("train", "val", "test"))
    c.add_argument("--tta", default="none", choices=TTA_CHOICES, help="test-time augmentation")
    c.add_argument("--bootstrap", type=at_least_boot, default=2000, help="bootstrap resamples (default 2000, "
                   "at least 100)")
    c.add_argument("--seed", type=int, default=0, help="the resamples' seed (default 0)")
    c.add_argument("--json", action="store_true")
    c.add_argument("--result", metavar="NAME", help="the results/ file to write, results/NAME.json (default "
                   "compare.A.B.SPLIT.TTA; none: write nothing)")
    c.set_defaults(fn=cmd_compare)


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
                        "per-class F1, calibration, CPU latency)")
    cd.add_argument("checkpoint", nargs="*", help="a checkpoint; with --table, saved cards (default model/*.card.json)")
    cd.add_argument("--data", help=DATA_HELP)
    cd.add_argument("--json", action="store_true")
    cd.add_argument("--table", action="store_true", help="tabulate saved cards (*.card.json) instead of measuring, "
                    "then every two that stored answers to the same faces, paired (as `compare`)")
    cd.add_argument("--write-temperature", action="store_true", help="store the temperatures fitted on PublicTest "
                    "(one per view) in the checkpoint (a checkpoint from before calibration; accuracy unchanged)")
    cd.add_argument("--calibrate", action="store_true", help="fit a temperature on PublicTest for each view (--tta: "
                    "plain, flip, ten-crop), store them in each checkpoint and add ECE before/after in each view to its "
                    "saved card (the card's other figures are kept)")
    cd.add_argument("--predictions", action="store_true", help="for cards made before cards kept their answers: "
                    "store each checkpoint's PrivateTest answers in its saved card (default: every shipped model with "
                    "a card), for the pairs of --table; the card's other figures are kept")
    cd.add_argument("--result", metavar="NAME", help="with --table: the results/ file the pairs are written to, "
                    "results/NAME.json (default card-pairs when tabulating every shipped card, the README's pair "
                    "table; none: write nothing)")
    cd.add_argument("--tta", nargs="+", default=["none", "flip", "tencrop"], choices=("none", "flip", "tencrop"),
                    help="with --predictions: the views whose answers are stored; with --calibrate: the views a "
                    "temperature is fitted for (the plain one always) (default all three)")
    cd.set_defaults(fn=cmd_card)
