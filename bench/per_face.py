"""CPU time per face of every shipped emotion model, in one process, and each one's speed-up over the
default: the most accurate shipped model (core.predict.best_model), which the real-time model must
beat by 3x. The models take turns in blocks of faces (a few untimed, then `--block` timed), as on the
webcam where one model answers frame after frame, and the turns go round `--rounds` times, so the host's
load hits them alike.

Each model answers one 48x48 face the way the pages ask it (CNNPredictor.predict: preprocessing and
one forward pass), without and with flip test-time augmentation (the Webcam and Compare default),
on `--threads` torch threads. Prints the median ms per face and the ratios; asserts nothing.

    python bench/per_face.py                  # 10 rounds of 40 faces per model and TTA, 2 threads
    python bench/per_face.py --rounds 30 --threads 1
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from result_file import add_result_arg, save  # noqa: E402  (bench/ is on the path when a bench runs)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=10, help="turns of every model and TTA (default 10)")
    ap.add_argument("--block", type=int, default=40, help="timed faces per turn (default 40)")
    ap.add_argument("--warmup", type=int, default=5, help="untimed faces at the start of each turn (default 5)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model-dir", default=None, help="where shipped checkpoints are (default: model/)")
    add_result_arg(ap, "bench-per-face")
    a = ap.parse_args(argv)

    from core.predict import CNNPredictor, best_model, discover_models, set_inference_threads

    set_inference_threads(a.threads)
    models = [m for m in discover_models(a.model_dir, runs="none") if not m.error and m.kind == "emotion"]
    if not models:
        raise SystemExit("no usable shipped emotion model")
    default = best_model(models)
    preds = {(m.name, tta): CNNPredictor(m.path, tta=tta, threads=a.threads) for m in models for tta in (None, "flip")}
    face = [np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)]
    times = {k: [] for k in preds}
    for _ in range(a.rounds):
        for k, p in preds.items():
            for i in range(a.warmup + a.block):
                t = time.perf_counter()
                p.predict(face)
                if i >= a.warmup:
                    times[k].append(time.perf_counter() - t)
    ms = {k: 1000 * statistics.median(v) for k, v in times.items()}

    print(f"ms per face, median of {a.rounds * a.block}, {a.threads} threads; x default = the default's time / this one's "
          f"(default: {default.name}, the most accurate shipped model)\n")
    print(f"{'model':<26} {'PrivateTest':>11} {'ms':>7} {'x default':>10} {'ms +flip':>9} {'x default':>10}")
    rows = {}
    for m in sorted(models, key=lambda m: ms[(m.name, None)]):
        plain, flip = ms[(m.name, None)], ms[(m.name, "flip")]
        acc = f"{m.accuracy:.2%}" if m.accuracy is not None else "-"
        print(f"{m.name:<26} {acc:>11} {plain:7.2f} {ms[(default.name, None)] / plain:9.2f}x "
              f"{flip:9.2f} {ms[(default.name, 'flip')] / flip:9.2f}x")
        rows[Path(m.path).stem] = {"arch": m.arch, "accuracy": m.accuracy, "ms": plain, "ms_flip": flip,
                                   "x_default": ms[(default.name, None)] / plain,
                                   "x_default_flip": ms[(default.name, "flip")] / flip}  # keyed by the file's name
    save(a, {"threads": a.threads, "faces_timed": a.rounds * a.block, "default": Path(default.path).stem, "models": rows})


if __name__ == "__main__":
    main()
