"""A checkpoint carries everything prediction needs: architecture, class names, input size,
normalisation and metrics, beside the weights. Writes are atomic (temp file + rename), so a
process killed mid-save never leaves a half-written checkpoint.

Reading never runs code from the file: `torch.load(weights_only=True)` with a short allow-list of the
harmless types our own files hold. A file that needs anything else (a pickle that would call a
function, build an arbitrary object) is refused as unsafe, with the name of what it asked for.
"""
from __future__ import annotations

import pickle
import re
from pathlib import Path

import torch
from torch.torch_version import TorchVersion

from ..files import replace_atomically
from .registry import create_model

FORMAT = "facial-emotion-lab/1"
# what only training needs (to resume): dropped from a shipped model, an int8 copy, a model's description
TRAINING_KEYS = ("optimizer", "scheduler", "rng", "torch_rng", "sums", "history")
SAFE_GLOBALS = [TorchVersion]  # older int8 files recorded torch.__version__ as this str subclass


class CheckpointError(RuntimeError):
    """A checkpoint that is missing or cannot be read; the message names the file."""


class UnsafeCheckpoint(CheckpointError):
    """A file whose pickle asks for more than weights and plain data: it is never unpickled."""


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
        "state_dict": {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
        **extra,
    }
    return write_checkpoint_state(path, state)


def write_checkpoint_state(path, state: dict) -> Path:
    """Atomic, and a save that fails (a full disk) leaves no half-written temp file behind."""
    return replace_atomically(path, lambda tmp: torch.save(state, tmp))


def without_training_state(state: dict) -> dict:
    """The checkpoint as a model: weights and metadata, without what only resuming a run needs."""
    return {k: v for k, v in state.items() if k not in TRAINING_KEYS}


def read_state(path, map_location="cpu", mmap: bool = False):
    """`torch.load` with weights only (no code runs); UnsafeCheckpoint for a file that asks for more,
    CheckpointError for one that cannot be read (never PyTorch's advice to load it without weights_only)."""
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as e:
        what = re.search(r"GLOBAL ([\w.]+) was not an allowed global|Unsupported global: GLOBAL ([\w.]+)"
                         r"|unsupported GLOBAL ([\w.]+)", str(e))
        if not what:
            raise CheckpointError(f"checkpoint {path} is unsafe or damaged ({torch_reason(e)}): it was not "
                                  "opened") from None
        raise UnsafeCheckpoint(f"checkpoint {path} is unsafe to load: it asks to run or build "
                               f"{next(g for g in what.groups() if g)}, which a model file never needs; it was not "
                               "opened. Delete it unless you trust and know its author.") from None
    except Exception as e:  # noqa: BLE001 - truncated, empty, or not a PyTorch file at all
        raise CheckpointError(f"checkpoint {path} is damaged or not a PyTorch file ({torch_reason(e)})") from None


_TORCH_ADVICE = ("weights_only", "PyTorch 2.6", "Re-running", "trusted source", "file an issue", "documentation")


def torch_reason(error: Exception) -> str:
    """PyTorch's reason for refusing a file, without its advice: we never suggest loading a file unsafely."""
    lines = [ln.strip() for ln in str(error).splitlines() if ln.strip() and not any(a in ln for a in _TORCH_ADVICE)]
    return f"{type(error).__name__}: {lines[0][:200]}" if lines else type(error).__name__


def load_checkpoint(path, map_location="cpu") -> dict:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    state = read_state(path, map_location)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path} is not a Facial Emotion Lab checkpoint")
    return state


def build_model(state: dict, path="checkpoint"):
    try:
        model = create_model(state["model"], num_classes=len(state["classes"]), in_chans=state.get("in_chans", 1),
                             **state["model_kwargs"])
        if state.get("quantized"):  # an int8 copy (core.workflows.quantize): rebuild its graph, then load
            from .int8 import build_quantized, unavailable_reason

            backend = state["quantized"].get("backend", "x86")
            reason = unavailable_reason(backend)
            if reason:
                raise CheckpointError(f"checkpoint {path} is an int8 model: {reason}")
            return build_quantized(model, state["state_dict"], int(state.get("input_size", 48)), backend)
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["state_dict"].items()})
    except CheckpointError:
        raise
    except Exception as e:
        raise CheckpointError(f"checkpoint {path}: weights do not fit model {state.get('model')!r} ({e})") from e
    return model.eval()


def load_model(path, map_location="cpu"):
    """(model in eval mode, metadata without the weights) from a checkpoint file."""
    state = load_checkpoint(path, map_location)
    model = build_model(state, path)
    meta = {k: v for k, v in without_training_state(state).items() if k != "state_dict"}
    meta["path"] = str(path)
    return model, meta
