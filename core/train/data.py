"""The data set a training config names, loaded as the config says (its labels, label mode and votes file)."""
from __future__ import annotations

from ..config import TrainConfig
from ..data import load_dataset


def load_for(cfg: TrainConfig, path=None):
    """`cfg`'s data set (or the one at `path`): FER2013's labels or FER+'s votes, its task's view."""
    return load_dataset(path or cfg.data or None, image_size=cfg.image_size, task=cfg.task,
                        val_fraction=cfg.val_fraction, seed=cfg.seed, labels=cfg.labels, label_mode=cfg.label_mode,
                        votes=cfg.votes or None)
