"""What can fail before any work is checked before a run folder is made: the config itself, a GPU asked for
where there is none, a teacher or starting weights that do not exist or do not fit, a data set that cannot
be read."""
from __future__ import annotations

from ..config import TrainConfig
from .device import resolve_device


def check_before_start(cfg: TrainConfig, data: bool = True) -> None:
    """ValueError with every problem of the config at once, else the first other problem (RuntimeError for
    the device, CheckpointError for a teacher or starting checkpoint that is missing or cannot be read,
    ValueError for one of other classes, DataError for the data set).
    Raised here, no run folder is left behind. The data set is read through its cache, so the run's own load
    is then instant."""
    errs = cfg.validate()
    if errs:
        raise ValueError("invalid configuration: " + "; ".join(errs))
    resolve_device(cfg.device)
    if cfg.teacher:
        from ..config import teacher_sources
        from ..predict.catalogue import resolve_model

        for source in teacher_sources(cfg.teacher):
            resolve_model(source)
    classes = None
    if data:
        from .data import load_for

        classes = load_for(cfg).classes
    if cfg.teacher and classes is not None:  # loaded as the run would: unsafe, damaged or of other classes
        from .distill import make_teacher

        make_teacher(cfg.teacher, classes, cfg.input_size, grey=cfg.grey)
    if cfg.init:
        from .finetune import start_weights

        start_weights(cfg, classes)
