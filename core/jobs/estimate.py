"""How long a search may take, roughly, before it starts: the images its trials train on over this machine's
training speed, as its runs recorded it (each epoch's `images_per_s` in metrics.jsonl) or, where no run has
been trained here, as a few training steps measure it. An estimate: trials pruned early take less, and the
validation after each epoch a little more."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..runs import list_runs

# FER2013's training faces after the validation share is set aside (28,709 x 0.9): a trial with no image
# limit trains on about this many per epoch.
FER2013_TRAIN_IMAGES = 25_838


@dataclass
class SearchEstimate:
    seconds: float           # every trial run to its last epoch
    images_per_s: float      # the training speed it assumes
    source: str              # "recorded" (this machine's runs) or "measured" (a few steps just now)
    images_per_trial: int    # per epoch


def recorded_speeds(runs=None, last: int = 30) -> dict[str, list[float]]:
    """Architecture -> the images_per_s of each epoch of this machine's most recent runs (newest first)."""
    speeds: dict[str, list[float]] = {}
    for run in (list_runs() if runs is None else runs)[:last]:
        try:
            model, rows = run.config().model, run.metrics()
        except (ValueError, OSError):
            continue
        values = [float(r["images_per_s"]) for r in rows
                  if isinstance(r.get("images_per_s"), (int, float)) and r["images_per_s"] > 0]
        speeds.setdefault(model, []).extend(values)
    return speeds


def measured_images_per_s(model: str, batch_size: int = 64, steps: int = 3) -> float:
    """Training speed of `model` (its default size) here: a few steps on random 48x48 faces, after one warm-up
    step."""
    import torch

    from ..models import create_model

    net = create_model(model, num_classes=7).train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    x, y = torch.randn(batch_size, 1, 48, 48), torch.randint(0, 7, (batch_size,))
    times = []
    for _ in range(steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    return batch_size / float(np.median(times[1:]))


def estimate_search(n_trials: int, epochs: int, limit: int, models: list[str], speeds: dict | None = None,
                    measure=measured_images_per_s, train_images: int = FER2013_TRAIN_IMAGES) -> SearchEstimate | None:
    """The time of `n_trials` trials of `epochs` epochs each on `limit` images (0: all, `train_images`), the
    architectures taking turns: each one's recorded speed (any architecture's where it has none), else
    `measure`d (None: not measured, and no estimate)."""
    speeds = recorded_speeds() if speeds is None else speeds
    models = list(models) or ["mini_xception"]
    anyone = [v for vs in speeds.values() for v in vs]
    per_model, source = [], "recorded"
    for m in models:
        values = speeds.get(m) or anyone
        if values:
            per_model.append(float(np.median(values)))
        elif measure is not None:
            per_model.append(float(measure(m)))
            source = "measured"
        else:
            return None
    images = int(limit) if limit and limit > 0 else int(train_images)
    ips = float(np.mean(per_model))
    seconds = float(np.mean([images / s for s in per_model])) * int(n_trials) * int(epochs)
    return SearchEstimate(seconds, ips, source, images)
