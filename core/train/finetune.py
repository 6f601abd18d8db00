"""Fine-tuning: a run that starts from a trained checkpoint's weights instead of random ones (`--init`).
The cheap way to a better model on a CPU: a second, shorter schedule (new augmentation, 40 px crops) on top
of a model that already took hours, rather than those hours again."""
from __future__ import annotations

from pathlib import Path

from ..labels import canonical
from ..models.checkpoint import load_checkpoint


def start_weights(cfg, classes=None) -> tuple[Path, dict]:
    """(path, state) of the checkpoint `cfg.init` names, checked against the run: the same architecture and
    width, float weights, and (when given) the same classes. ValueError says what differs."""
    from ..predict.catalogue import resolve_model

    path = resolve_model(cfg.init)
    state = load_checkpoint(path)
    if state.get("quantized"):
        raise ValueError(f"{path} is an int8 copy: fine-tune its float original "
                         f"({state['quantized'].get('source', 'the model it was made from')})")
    want = {k: v for k, v in cfg.model_kwargs().items() if k != "dropout"}
    # older checkpoints keep the input size beside the model's arguments, not among them
    have = {k: state["model_kwargs"].get(k, state.get(k)) for k in want}
    if state["model"] != cfg.model or have != want:
        shown = ", ".join(f"{k} {v}" for k, v in state["model_kwargs"].items() if k != "dropout")
        raise ValueError(f"{path} is a {state['model']} ({shown}); this run trains a {cfg.model} "
                         f"({', '.join(f'{k} {v}' for k, v in want.items())}): start from the same architecture "
                         f"and width (e.g. --model {state['model']}"
                         + (f" --width {state['model_kwargs']['width']}" if "width" in state["model_kwargs"] else "")
                         + ")")
    if classes is not None and [canonical(c) for c in state["classes"]] != [canonical(c) for c in classes]:
        raise ValueError(f"{path} predicts {list(state['classes'])}, but this run learns {list(classes)}")
    return path, state


def load_start_weights(model, cfg, classes) -> str:
    """Copy `cfg.init`'s weights into `model` (before training); returns what was loaded, for the log."""
    path, state = start_weights(cfg, classes)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["state_dict"].items()})
    acc = (state.get("metrics") or {}).get("val_acc")
    return f"started from the weights of {path}" + (f" (val_acc {acc:.4f})" if acc is not None else "")
