"""Training throughput, two comparisons in one process each (same data, same threads):

- `--steps`: one training step of vgg and of resnet (width 32, batch 128) as the loop took it before (NCHW,
  48 px faces) against the loop now (channels_last where safe, 40 px random crops, and bf16 autocast on a CPU
  that has bf16 in hardware), and each change alone; steps of every kind are interleaved round by round, and
  the median is printed with the ratio, the step's GFLOP and the GFLOP/s reached;
- otherwise: our loop (uint8 tensors in memory, augmentation on whole batches) against the seed projects'
  way (a per-sample Dataset doing per-image PIL transforms through a DataLoader).

    python bench/train_throughput.py --steps         # the step speed-ups (a few minutes)
    python bench/train_throughput.py                 # 8,192 FER2013 training images, mini_xception
    python bench/train_throughput.py --images 0      # one whole epoch (28,709 images)
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402
from result_file import add_result_arg, save  # noqa: E402  (bench/ is on the path when a bench runs)


class PerImageDataset(torch.utils.data.Dataset):
    """The baseline: PIL image per sample, transforms one image at a time (flip, pad+crop, rotate)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, mean: float, std: float):
        self.images, self.labels, self.mean, self.std = images, labels, mean, std

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        img = Image.fromarray(self.images[i])
        if random.random() < 0.5:
            img = img.transpose(Image.FLIP_LEFT_RIGHT)
        img = img.rotate(random.uniform(-10, 10), resample=Image.BILINEAR)
        padded = Image.new("L", (56, 56))
        padded.paste(img, (4, 4))
        x, y = random.randint(0, 8), random.randint(0, 8)
        img = padded.crop((x, y, x + 48, y + 48))
        t = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).unsqueeze(0)
        return (t - self.mean) / self.std, int(self.labels[i])


def baseline(model, images, labels, mean, std, batch_size, workers) -> float:
    loader = torch.utils.data.DataLoader(PerImageDataset(images, labels, mean, std), batch_size=batch_size,
                                         shuffle=True, num_workers=workers, drop_last=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    seen, t0 = 0, time.perf_counter()
    for x, y in loader:
        loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        seen += len(y)
    return seen / (time.perf_counter() - t0)


def data_path_only(images, labels, mean, std, batch_size, batches=30) -> tuple[float, float]:
    """Images/s of the input pipelines alone, no model: our batched augmentation against the per-image loader."""
    from core.data.augment import augment

    x8, y = torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels)
    gen = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    for b in range(batches):
        idx = torch.randint(0, len(y), (batch_size,), generator=gen)
        _ = (augment(x8[idx].float() / 255.0, gen) - mean) / std, y[idx]
    ours_ips = batches * batch_size / (time.perf_counter() - t0)
    loader = iter(torch.utils.data.DataLoader(PerImageDataset(images, labels, mean, std), batch_size=batch_size,
                                              shuffle=True, num_workers=0))
    t0 = time.perf_counter()
    for _ in range(batches):
        next(loader)
    return ours_ips, batches * batch_size / (time.perf_counter() - t0)


def ours(cfg_kwargs, data) -> float:
    from core.config import TrainConfig
    from core.runs import Run
    from core.train import train

    cfg = TrainConfig(data=str(data), epochs=1, warmup_epochs=0, **cfg_kwargs)
    run = train(run=Run.create(cfg), progress=False)
    row = run.metrics()[0]
    return row["images_per_s"]


KEYS = {"before (NCHW, 48 px)": "before", "channels_last only": "channels_last", "40 px crops only": "crops",
        "channels_last + 40 px crops": "channels_last_crops", "now (+ bf16 autocast)": "bf16"}  # in results/


def step_speedups(x8, y, threads: int, rounds: int = 7, batch: int = 128) -> dict:
    """Median seconds per training step, old loop vs new, for vgg and resnet at width 32."""
    from core.config import TrainConfig
    from core.models import create_model
    from core.models.layout import channels_last_ok
    from core.train import make_optimizer
    from core.train.device import cpu_has_native_bf16
    from core.train.step import autocast_for, make_batch, train_step

    kinds = {"before (NCHW, 48 px)": (False, 0, False), "channels_last only": (True, 0, False),
             "40 px crops only": (False, 40, False), "channels_last + 40 px crops": (True, 40, False)}
    if cpu_has_native_bf16():  # what the loop does on such a CPU
        kinds["now (+ bf16 autocast)"] = (True, 40, True)
    out = {"batch": batch, "threads": threads, "rounds": rounds, "bf16": cpu_has_native_bf16(), "archs": {}}
    for arch in ("vgg", "resnet"):
        setups = {}
        for label, (cl, crop, amp) in kinds.items():
            cfg = TrainConfig(model=arch, width=32, batch_size=batch, crop=crop, shift=0 if crop else 4,
                              channels_last=cl, amp=amp)
            torch.manual_seed(0)
            model = create_model(arch, num_classes=7, **cfg.model_kwargs())
            layout = torch.channels_last if cl and channels_last_ok(model) else torch.contiguous_format
            model = model.to(memory_format=layout).train()
            setups[label] = (cfg, model, make_optimizer(cfg, model), layout, torch.Generator().manual_seed(0), [])
        for r in range(rounds + 1):  # round 0 warms up
            for label, (cfg, model, opt, layout, gen, times) in setups.items():
                idx = torch.randint(0, len(y), (batch,), generator=gen)
                t0 = time.perf_counter()
                xb, ya, yb, lam = make_batch(x8, y, idx, gen, cfg, [0, r], layout)
                train_step(model, opt, xb, ya, 0.5, 0.25, cfg, None, yb, lam, autocast_for(torch.device("cpu"), cfg))
                if r:
                    times.append(time.perf_counter() - t0)
        base = float(np.median(setups["before (NCHW, 48 px)"][5]))
        print(f"{arch} width 32, batch {batch}, {threads} threads:")
        out["archs"][arch] = {}
        for label, (cfg, model, opt, layout, gen, times) in setups.items():
            med = float(np.median(times))
            flops = step_flops(model, cfg, batch)
            print(f"  {label:<30} {med:6.3f} s / step   {base / med:4.2f}x   {flops / 1e9:6.1f} GFLOP / step, "
                  f"{flops / med / 1e9:5.0f} GFLOP/s")
            out["archs"][arch][KEYS[label]] = {"label": label, "s": med, "speedup": base / med, "gflop": flops / 1e9,
                                               "gflops": flops / med / 1e9}
    print("(GFLOP: the forward and backward pass's multiply-adds x 2, counted by torch.utils.flop_counter; "
          "an x86 core with AVX2 does at most 32 float32 FLOP a cycle, about 100 GFLOP/s at 3 GHz; "
          "'+ bf16 autocast' is measured only on a CPU with bf16 in hardware, AVX512-BF16 or AMX)")
    return out


def step_flops(model, cfg, batch: int) -> float:
    """Floating-point operations of one forward + backward pass on a batch of the config's input size."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.rand(batch, 1, cfg.input_size, cfg.input_size)
    counter = FlopCounterMode(display=False)
    with counter:
        F.cross_entropy(model(x), torch.zeros(batch, dtype=torch.long)).backward()
    model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="FER2013 CSV (default: the one core finds)")
    ap.add_argument("--model", default="mini_xception")
    ap.add_argument("--images", type=int, default=8192, help="training images to use (0 = the whole epoch)")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", action="store_true", help="only the step speed-ups of vgg and resnet, before vs now")
    add_result_arg(ap, "bench-train-throughput")
    args = ap.parse_args()
    if args.steps and args.result == "bench-train-throughput":  # the other measurement has a file of its own
        args.result = "bench-train-steps"

    from core.data import default_data_path, load_dataset, pixel_stats
    from core.models import create_model
    from core.train import subsample

    tmp = tempfile.mkdtemp()
    os.environ.setdefault("FEL_RUNS_DIR", os.path.join(tmp, "runs"))
    os.environ.setdefault("FEL_GRAPHS_DIR", os.path.join(tmp, "graphs"))
    torch.set_num_threads(args.threads)
    data = args.data or default_data_path()
    ds = load_dataset(data)
    x, y = ds.splits["train"].images, ds.splits["train"].labels
    if args.images:
        keep = subsample(y, args.images, 0)
        x, y = x[keep], y[keep]
    mean, std = pixel_stats(x)
    if args.steps:
        save(args, step_speedups(x, y, args.threads))
        return
    print(f"{args.model}, {len(y)} training images, batch {args.batch_size}, {args.threads} threads, "
          f"{os.cpu_count()} cores")

    torch.manual_seed(0)
    cfg = dict(model=args.model, batch_size=args.batch_size, threads=args.threads, limit=args.images)
    ours_ips = ours(cfg, data)
    print(f"ours (batched tensor augmentation, real training loop): {ours_ips:8.0f} images/s")
    results = {}
    for workers in (0, 2):
        torch.manual_seed(0)
        model = create_model(args.model, num_classes=7)
        results[workers] = baseline(model, x[:, 0].numpy(), y.numpy(), mean, std, args.batch_size, workers)
        print(f"baseline (per-image PIL Dataset, DataLoader num_workers={workers}): {results[workers]:8.0f} images/s")
    best = max(results.values())
    print(f"ratio ours / best baseline: {ours_ips / best:.2f}x")
    a, b = data_path_only(x[:, 0].numpy(), y.numpy(), mean, std, args.batch_size)
    print(f"input pipeline alone, no model: ours {a:,.0f} images/s, per-image loader {b:,.0f} images/s "
          f"({a / b:.1f}x); the rest of a step is the model")
    save(args, {"model": args.model, "images": len(y), "batch": args.batch_size, "threads": args.threads,
                "step": {"ours": ours_ips, "per_image_workers_0": results[0], "per_image_workers_2": results[2],
                         "ratio": ours_ips / best},
                "input_pipeline": {"ours": a, "per_image": b, "ratio": a / b}})


if __name__ == "__main__":
    main()
