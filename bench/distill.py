"""What distillation costs per training step on this machine: a student's steps alone, then the same
steps with the teacher's forward pass and the distillation loss that `--teacher` adds. Random 48x48
batches (the cost does not depend on the pixels), so no data set is needed. Prints seconds per step,
the ratio, and what 30 epochs of FER2013 (224 steps of 128) would take.

    python bench/distill.py                                   # mini_xception w16 student, seed-vgg teacher
    python bench/distill.py --student model48 --width 32 --teacher model/seed-vgg.pt
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from result_file import add_result_arg, save  # noqa: E402  (bench/ is on the path when a bench runs)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--student", default="mini_xception", help="architecture of the student")
    ap.add_argument("--width", type=int, default=16, help="the student's width")
    ap.add_argument("--teacher", default="model/seed-vgg.pt", help="trained checkpoint to distil from")
    ap.add_argument("--steps", type=int, default=10, help="timed steps per side")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    add_result_arg(ap, "bench-distill")
    args = ap.parse_args()

    from core.config import TrainConfig
    from core.train.distill import Teacher
    from core.labels import EMOTIONS
    from core.models import create_model
    from core.train import make_optimizer, train_step

    torch.set_num_threads(args.threads)
    cfg = TrainConfig()  # the optimiser, label smoothing, weight and temperature `--teacher` trains with
    teacher = Teacher(args.teacher, EMOTIONS, 48)
    student = create_model(args.student, num_classes=len(EMOTIONS), width=args.width)
    opt = make_optimizer(cfg, student)
    gen = torch.Generator().manual_seed(0)
    x01 = torch.rand(args.batch, 1, 48, 48, generator=gen)
    y = torch.randint(0, len(EMOTIONS), (args.batch,), generator=gen)

    def steps(distil: bool) -> float:
        student.train()
        t0 = time.perf_counter()
        for _ in range(args.steps):
            train_step(student, opt, x01, y, 0.5, 0.25, cfg, teacher if distil else None)
        return (time.perf_counter() - t0) / args.steps

    steps(False), steps(True)  # warm-up
    alone, with_teacher = steps(False), steps(True)
    per_run = lambda s: s * 224 * 30 / 60  # noqa: E731
    print(f"student {args.student} w{args.width}, teacher {teacher.name}; batch {args.batch}, "
          f"{args.threads} threads, {os.cpu_count()} cores, {args.steps} steps each")
    print(f"  student alone      {alone:6.3f} s / step   30 epochs: {per_run(alone):5.0f} min")
    print(f"  with the teacher   {with_teacher:6.3f} s / step   30 epochs: {per_run(with_teacher):5.0f} min")
    print(f"  the teacher adds {with_teacher - alone:.3f} s / step: {with_teacher / alone:.2f}x the student's step")
    save(args, {"student": args.student, "width": args.width, "teacher": teacher.name, "batch": args.batch,
                "threads": args.threads, "steps": args.steps, "alone_s": alone, "with_teacher_s": with_teacher,
                "ratio": with_teacher / alone, "alone_30_epochs_min": per_run(alone),
                "with_teacher_30_epochs_min": per_run(with_teacher)})


if __name__ == "__main__":
    main()
