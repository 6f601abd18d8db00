"""A checkpoint carries everything prediction needs: architecture, class names, input size,
normalisation and metrics, beside the weights. Writes are atomic (temp file + rename), so a
process killed mid-save never leaves a half-written checkpoint."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from .models import create_model

FORMAT = "facial-emotion-lab/1"


class CheckpointError(RuntimeError):
    """A checkpoint that is missing or cannot be read; the message names the file."""


def save_checkpoint(path, model, *, classes, mean: float, std: float, input_size: int = 48,
                    metrics: dict | None = None, **extra) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "format": FORMAT,
        "model": model.model_name,
        "model_kwargs": dict(model.model_kwargs),
        "classes": list(classes),
        "input_size": int(input_size),
        "in_chans": 1,
        "mean": float(mean),
        "std": float(std),
        "metrics": dict(metrics or {}),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        **extra,
    }
    return write_checkpoint_state(path, state)


def write_checkpoint_state(path, state: dict) -> Path:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path, map_location="cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:
        raise CheckpointError(f"checkpoint {path} is corrupt or not a PyTorch file ({type(e).__name__}: {e})") from e
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path} is not a Facial Emotion Lab checkpoint")
    return state


def build_model(state: dict, path="checkpoint"):
    try:
        model = create_model(state["model"], num_classes=len(state["classes"]), in_chans=state.get("in_chans", 1),
                             **state["model_kwargs"])
        if state.get("quantized"):  # an int8 copy (core.quantize): rebuild its graph, then load
            from .quantize import build_quantized, unavailable_reason

            backend = state["quantized"].get("backend", "x86")
            reason = unavailable_reason(backend)
            if reason:
                raise CheckpointError(f"checkpoint {path} is an int8 model: {reason}")
            return build_quantized(model, state["state_dict"], int(state.get("input_size", 48)), backend)
        model.load_state_dict(state["state_dict"])
    except CheckpointError:
        raise
    except Exception as e:
        raise CheckpointError(f"checkpoint {path}: weights do not fit model {state.get('model')!r} ({e})") from e
    return model.eval()


def load_model(path, map_location="cpu"):
    """(model in eval mode, metadata without the weights) from a checkpoint file."""
    state = load_checkpoint(path, map_location)
    model = build_model(state, path)
    meta = {k: v for k, v in state.items() if k not in ("state_dict", "optimizer", "scheduler", "rng", "torch_rng", "history", "sums")}
    meta["path"] = str(path)
    return model, meta
