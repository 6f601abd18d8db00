"""Keeping freed memory (core/malloc.py) against glibc's defaults, in one process: evaluation of a
shipped model on FER2013 PrivateTest and training steps of the seed vgg. The baseline runs first,
with core told not to touch malloc; then core raises the thresholds and the same work runs again.
Prints seconds, CPU time in the kernel (sys) and page faults of each, and the ratios.

    python bench/memory.py                       # model/seed-model48.pt, 20 vgg steps of 128
    python bench/memory.py --model model/realtime.pt --steps 40
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

os.environ["FEL_KEEP_FREED_MEMORY"] = "0"  # the baseline first: glibc's own thresholds
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from result_file import add_result_arg, save  # noqa: E402  (bench/ is on the path when a bench runs)


def measure(fn) -> dict:
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    fn()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    return {"s": time.perf_counter() - t0, "sys": r1.ru_stime - r0.ru_stime, "faults": r1.ru_minflt - r0.ru_minflt}


def show(name: str, m: dict) -> None:
    print(f"  {name:<34} {m['s']:7.2f} s   sys {m['sys']:6.2f} s   {m['faults']:>10,} page faults")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="model/seed-model48.pt", help="checkpoint to evaluate")
    ap.add_argument("--train-model", default="vgg", help="architecture for the training steps (width 32)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    add_result_arg(ap, "bench-memory")
    args = ap.parse_args()

    from core.data.augment import augment
    from core.models.checkpoint import load_model
    from core.data import load_dataset
    from core.evaluate import predict_probs
    from core.malloc import keep_freed_memory
    from core.models import create_model

    torch.set_num_threads(args.threads)
    ds = load_dataset()
    test, train = ds.splits["test"], ds.splits["train"]
    model, meta = load_model(args.model)
    student = create_model(args.train_model, num_classes=7, width=32)
    opt = torch.optim.SGD(student.parameters(), lr=0.01, momentum=0.9)
    gen = torch.Generator().manual_seed(0)

    def evaluate(batch_size):
        return lambda: predict_probs(model, test.images, meta.mean, meta.std, batch_size=batch_size)

    def steps():
        student.train()
        for _ in range(args.steps):
            idx = torch.randint(0, len(train), (128,), generator=gen)
            x = (augment(train.images[idx].float() / 255.0, gen) - 0.5) / 0.25
            loss = F.cross_entropy(student(x), train.labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()

    print(f"{args.model} on {len(test)} PrivateTest faces; {args.steps} {args.train_model} training steps of 128; "
          f"{args.threads} threads, {os.cpu_count()} cores")
    evaluate(128)(), steps()  # warm-up
    base = {"evaluation, batch 512 (before)": measure(evaluate(512)),
            "evaluation, batch 128": measure(evaluate(128)), "training steps": measure(steps)}
    print("glibc's defaults:")
    for k, v in base.items():
        show(k, v)
    del os.environ["FEL_KEEP_FREED_MEMORY"]
    if not keep_freed_memory():
        sys.exit("core could not raise glibc's thresholds here (not glibc, or MALLOC_* set): nothing to compare")
    evaluate(128)(), steps()  # the first round under the new thresholds grows the heap
    ours = {"evaluation, batch 128": measure(evaluate(128)), "training steps": measure(steps)}
    print("core keeps freed memory:")
    for k, v in ours.items():
        show(k, v)
    e0 = base["evaluation, batch 512 (before)"]["s"]
    print(f"evaluation: {e0 / ours['evaluation, batch 128']['s']:.2f}x faster than before "
          f"({base['evaluation, batch 128']['s'] / ours['evaluation, batch 128']['s']:.2f}x at the same batch)")
    print(f"training steps: {base['training steps']['s'] / ours['training steps']['s']:.2f}x faster")
    save(args, {"model": args.model, "train_model": args.train_model, "steps": args.steps, "threads": args.threads,
                "glibc": {"evaluation_512": base["evaluation, batch 512 (before)"],
                          "evaluation_128": base["evaluation, batch 128"], "training": base["training steps"]},
                "kept": {"evaluation_128": ours["evaluation, batch 128"], "training": ours["training steps"]},
                "evaluation_speedup": e0 / ours["evaluation, batch 128"]["s"],
                "training_speedup": base["training steps"]["s"] / ours["training steps"]["s"]})


if __name__ == "__main__":
    main()
