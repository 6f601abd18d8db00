"""How accurate a teacher is, alone and averaged with others (core.train.distill.make_teacher: what
`--teacher a,b` teaches), on FER2013 PublicTest, the split teachers are chosen on.

    python bench/teachers.py seed-resnet <run-id or checkpoint>      # each one, then all averaged
    python bench/teachers.py seed-resnet vgg-distilled --split test  # PrivateTest, for a report only

Prints accuracy per teacher and for the average of their probabilities. Nothing is asserted.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from result_file import add_result_arg, save  # noqa: E402  (bench/ is on the path when a bench runs)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("teachers", nargs="+", help="model names, run ids or checkpoint paths")
    p.add_argument("--split", choices=["val", "test"], default="val", help="val = PublicTest (default)")
    p.add_argument("--data", default=None, help="data set (default: FER2013 found as the CLI finds it)")
    add_result_arg(p, "bench-teachers")
    args = p.parse_args(argv)

    import torch

    from core.data import load_dataset
    from core.train.distill import make_teacher

    ds = load_dataset(args.data)
    split = ds.splits[args.split]
    x = torch.as_tensor(split.images).float()
    x = x / 255.0 if x.max() > 1.5 else x
    x = x[:, None] if x.ndim == 3 else x
    y = torch.as_tensor(split.labels)

    def accuracy(teacher) -> float:
        with torch.no_grad():
            logits = torch.cat([teacher(x[i:i + 512]) for i in range(0, len(x), 512)])
        return float((logits.argmax(1) == y).float().mean())

    print(f"{args.split} ({len(y)} faces)")
    acc = {}
    for t in args.teachers:
        acc[t] = accuracy(make_teacher(t, ds.classes, 48))
        print(f"  {t:<60} {acc[t]:.2%}", flush=True)
    if len(args.teachers) > 1:
        acc["averaged"] = accuracy(make_teacher(",".join(args.teachers), ds.classes, 48))
        print(f"  {'averaged: ' + ','.join(args.teachers):<60} {acc['averaged']:.2%}")
    save(args, {"split": args.split, "faces": len(y), "accuracy": acc})
    return 0


if __name__ == "__main__":
    sys.exit(main())
