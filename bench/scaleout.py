"""Scaling out on one machine, two comparisons, each part one run of the real commands in fresh folders:

- the search: `python -m core search --workers 2 --trials T` (2 workers x T trials) against `--workers 1
  --trials 2T`, the same trials in one worker: the wall time of each and the ratio;
- DDP: `python -m core train --nproc 2` against one process (with one thread, and with every core), the same
  epochs of the same images: the images/s of the last epoch's training (the run's metrics), the wall time
  of each, and the ratios.

On a machine with few cores both ratios stay near 1 (the processes share the cores): the point of the
commands there is that they are correct, and the gain comes with more cores, GPUs or machines.

    python bench/scaleout.py                               # synthetic faces, tiny trials (a few minutes)
    python bench/scaleout.py --data data/fer2013.csv --images 4096 --model mini_xception --width 16
    python bench/scaleout.py --storage postgresql+psycopg2://user:pw@host/db     # the search on PostgreSQL
    python bench/scaleout.py --only ddp
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from result_file import add_result_arg, save  # noqa: E402  (bench/ is on the path when a bench runs)


def core(args: list, env: dict) -> float:
    """Run `python -m core ARGS` to its end; its wall time in seconds (an error ends the bench, with its output)."""
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "core", *map(str, args)], cwd=ROOT, env=env, capture_output=True,
                         text=True)
    if res.returncode != 0:
        sys.exit(f"python -m core {' '.join(map(str, args))} failed:\n{res.stderr[-3000:]}")
    return time.perf_counter() - t0


def fresh_env(tmp: Path, name: str) -> dict:
    env = dict(os.environ)
    for var, sub in (("FEL_RUNS_DIR", "runs"), ("FEL_GRAPHS_DIR", "graphs")):
        env[var] = str(tmp / name / sub)
    env.setdefault("FEL_CACHE_DIR", str(tmp / "cache"))
    env.pop("FEL_STUDY_STORAGE", None)
    return env


def bench_search(a, data: str, tmp: Path) -> dict:
    times = {}
    for workers in (1, 2):  # the cores shared out: one worker has them all, two have half each
        spec = tmp / f"spec{workers}.json"
        spec.write_text(json.dumps({"space": {"lr": {"low": 1e-3, "high": 1e-2, "log": True},
                                              "label_smoothing": {"low": 0.0, "high": 0.2}},
                                    "fixed": {"model": a.model, "width": a.width, "batch_size": a.batch_size,
                                              "threads": max(1, (os.cpu_count() or 1) // workers),
                                              "warmup_epochs": 0}}))
        env = fresh_env(tmp, f"search{workers}")
        storage = ["--storage", a.storage] if a.storage else []
        study = f"bench-{workers}w-{os.getpid()}"
        times[workers] = core(["search", "--study", study, "--workers", workers, "--trials", a.trials * 2 // workers,
                               "--epochs", a.epochs, "--limit", a.images, "--data", data, "--spec-file", spec,
                               "--no-progress", *storage], env)
        print(f"search, {workers} worker{'s' if workers > 1 else ''} x {a.trials * 2 // workers} trials: "
              f"{times[workers]:7.1f} s", flush=True)
    print(f"search: 2 workers / 1 worker, same {a.trials * 2} trials: {times[1] / times[2]:.2f}x faster "
          f"({os.cpu_count()} cores; storage {'given' if a.storage else 'SQLite'})")
    return {"trials": a.trials * 2, "storage": a.storage.split(":", 1)[0].split("+", 1)[0] if a.storage else "sqlite",
            "one_worker_s": times[1], "two_workers_s": times[2], "speedup": times[1] / times[2]}


def bench_ddp(a, data: str, tmp: Path) -> dict:
    """One process with one thread and with every core, then two processes sharing the cores; the images/s
    of the last epoch (the first carries the warm-up)."""
    from core.runs import list_runs

    cores = os.cpu_count() or 1
    figures = {}
    for nproc, threads in ((1, 1), (1, cores), (2, cores)):
        env = fresh_env(tmp, f"ddp{nproc}-{threads}")
        wall = core(["train", "--nproc", nproc, "--name", f"ddp{nproc}", "--data", data, "--model", a.model,
                     "--width", a.width, "--batch-size", a.batch_size, "--epochs", a.ddp_epochs, "--limit",
                     a.ddp_images, "--threads", threads, "--warmup-epochs", 0, "--no-progress", "--json"], env)
        os.environ["FEL_RUNS_DIR"] = env["FEL_RUNS_DIR"]
        ips = list_runs()[0].metrics()[-1]["images_per_s"]
        figures[nproc, threads] = (ips, wall)
        print(f"DDP, {nproc} process{'es' if nproc > 1 else ''}, {threads} thread{'s' if threads > 1 else ''} in all: "
              f"{ips:8.0f} images/s (epoch {a.ddp_epochs}), {wall:6.1f} s wall for {a.ddp_epochs} epoch(s) "
              "with start-up and test", flush=True)
    one = max(figures[1, 1], figures[1, cores])
    print(f"DDP: 2 processes / the better single process: {figures[2, cores][0] / one[0]:.2f}x the images/s, "
          f"{one[1] / figures[2, cores][1]:.2f}x faster wall ({cores} cores)")
    return {"epochs": a.ddp_epochs, "one_process_ips": one[0], "two_processes_ips": figures[2, cores][0],
            "speedup": figures[2, cores][0] / one[0], "wall_speedup": one[1] / figures[2, cores][1],
            "runs": {f"{n} process(es), {t} thread(s)": {"ips": ips, "wall_s": wall}
                     for (n, t), (ips, wall) in figures.items()}}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="a data set (default: a synthetic one made here)")
    ap.add_argument("--only", choices=("search", "ddp"), help="one of the two comparisons")
    ap.add_argument("--storage", help="the search's study database (default: SQLite in a fresh runs folder)")
    ap.add_argument("--trials", type=int, default=3, help="trials per worker of the 2-worker search")
    ap.add_argument("--epochs", type=int, default=1, help="epochs per trial")
    ap.add_argument("--images", type=int, default=160, help="training images per trial")
    ap.add_argument("--ddp-epochs", type=int, default=2, help="epochs of each DDP run; the last one is timed")
    ap.add_argument("--ddp-images", type=int, default=0, help="training images of the DDP epoch (0 = all)")
    ap.add_argument("--model", default="model48")
    ap.add_argument("--width", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=32)
    add_result_arg(ap, "bench-scaleout")
    a = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="fel-scaleout-"))
    data = a.data
    if not data:
        from core.data.synthetic import write_synthetic_csv

        data = str(write_synthetic_csv(tmp / "synthetic.csv", n_per_class=300))
    print(f"data {data}; {os.cpu_count()} cores; model {a.model} width {a.width}, batch {a.batch_size}", flush=True)
    figures = {"data": "synthetic" if not a.data else Path(data).name, "model": a.model, "width": a.width}
    if a.only in (None, "search"):
        figures["search"] = bench_search(a, data, tmp)
    if a.only in (None, "ddp"):
        figures["ddp"] = bench_ddp(a, data, tmp)
    save(a, figures)


if __name__ == "__main__":
    main()
