"""Fine-tuning: a run that starts from a trained checkpoint's weights instead of random ones (`--init`).
The cheap way to a better model on a CPU: a second, shorter schedule (new augmentation, 40 px crops) on top
of a model that already took hours, rather than those hours again."""
from __future__ import annotations

from pathlib import Path

import torch

from ..labels import canonical
from ..models.checkpoint import checkpoint_meta, load_checkpoint


def start_weights(cfg, classes=None) -> tuple[Path, dict]:
    """(path, state) of the checkpoint `cfg.init` names, checked against the run: the same architecture and
    width, float weights, and (when given) the same classes. ValueError says what differs."""
    from ..predict.catalogue import resolve_model

    path = resolve_model(cfg.init)
    state = load_checkpoint(path)
    meta = checkpoint_meta(state, path)
    if meta.quantized:
        raise ValueError(f"{path} is an int8 copy: fine-tune its float original "
                         f"({meta.quantized_from or 'the model it was made from'})")
    want = {k: v for k, v in cfg.model_kwargs().items() if k != "dropout"}
    # older checkpoints keep the input size beside the model's arguments, not among them
    have = {k: meta.model_kwargs.get(k, getattr(meta, k, None)) for k in want}
    if meta.model != cfg.model or have != want:
        shown = ", ".join(f"{k} {v}" for k, v in meta.model_kwargs.items() if k != "dropout")
        raise ValueError(f"{path} is a {meta.model} ({shown}); this run trains a {cfg.model} "
                         f"({', '.join(f'{k} {v}' for k, v in want.items())}): start from the same architecture "
                         f"and width (e.g. --model {meta.model}"
                         + (f" --width {meta.model_kwargs['width']}" if "width" in meta.model_kwargs else "")
                         + ")")
    if classes is not None:
        have, want = [canonical(c) for c in meta.classes], [canonical(c) for c in classes]
        if have != want and not (set(have) < set(want)):
            raise ValueError(f"{path} predicts {list(meta.classes)}, but this run learns {list(classes)}: start from "
                             "a model of the same classes (or of some of them: its other outputs start new)")
    return path, state


def load_start_weights(model, cfg, classes) -> str:
    """Copy `cfg.init`'s weights into `model` (before training); returns what was loaded, for the log. A checkpoint
    of fewer classes (a FER2013 model starting a FER+ run, which adds contempt) gives its output rows to the classes
    of the same name; the new classes' rows keep their fresh initialisation."""
    path, state = start_weights(cfg, classes)
    meta = checkpoint_meta(state, path)
    weights = {k: v.float() if v.is_floating_point() else v for k, v in state["state_dict"].items()}
    new = _widen_outputs(model, weights, meta.classes, classes)
    model.load_state_dict(weights)
    acc = meta.metrics.get("val_acc")
    return (f"started from the weights of {path}" + (f" (val_acc {acc:.4f})" if acc is not None else "")
            + (f"; new outputs: {', '.join(new)}" if new else ""))


def _widen_outputs(model, weights: dict, old_classes, classes) -> list[str]:
    """Where the checkpoint has fewer classes than the run, its output layer's rows (the tensors whose first
    dimension is the number of classes, the rest matching) are placed at their classes' rows of the model's own;
    returns the classes that start new."""
    old = [canonical(c) for c in old_classes]
    new = [canonical(c) for c in classes]
    if old == new:
        return []
    rows = torch.tensor([new.index(c) for c in old])
    own = model.state_dict()
    for k, v in weights.items():
        mine = own.get(k)
        if mine is not None and v.shape != mine.shape and v.shape[0] == len(old) and mine.shape[0] == len(new) \
                and v.shape[1:] == mine.shape[1:]:
            widened = mine.detach().clone().float()
            widened[rows] = v
            weights[k] = widened
    return [c for c in classes if canonical(c) not in old]
