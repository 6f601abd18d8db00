"""A checkpoint carries everything prediction needs: architecture, class names, input size,
normalisation and metrics, beside the weights. Writes are atomic (temp file + rename), so a
process killed mid-save never leaves a half-written checkpoint.

Reading never runs code from the file: `torch.load(weights_only=True)` with a short allow-list of the
harmless types our own files hold. A file that needs anything else (a pickle that would call a
function, build an arbitrary object) is refused as unsafe, with the name of what it asked for.
"""
from __future__ import annotations

import math
import pickle
import re
import zipfile
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


MAX_DECLARED_BYTES = 2_000_000_000  # what a checkpoint's archive may say it unpacks to (ours: under 100 MB)


def check_archive(path) -> None:
    """A checkpoint (a zip archive) judged by the sizes its directory declares, before anything is unpacked:
    one that would unpack to gigabytes, or packs much into little (a zip bomb; torch.save stores its entries
    uncompressed), is refused, not inflated every time the models are listed."""
    try:
        with zipfile.ZipFile(path) as z:
            entries = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return  # not a zip (an older PyTorch format, or damaged): torch.load says which
    total = sum(e.file_size for e in entries)
    bomb = any(e.file_size > 10_000_000 and e.file_size > 100 * max(e.compress_size, 1) for e in entries)
    if total > MAX_DECLARED_BYTES or bomb:
        raise UnsafeCheckpoint(f"checkpoint {path} is unsafe to load: its {Path(path).stat().st_size / 1e6:.1f} MB "
                               f"declare {total / 1e6:,.0f} MB of contents (a model file holds its weights as "
                               "they are); it was not opened")


def read_state(path, map_location="cpu", mmap: bool = False):
    """`torch.load` with weights only (no code runs); UnsafeCheckpoint for a file that asks for more,
    CheckpointError for one that cannot be read (never PyTorch's advice to load it without weights_only)."""
    check_archive(path)
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
    problem = metadata_problem(state) or weights_problem(state)
    if problem:
        raise CheckpointError(f"checkpoint {path} cannot be used: {problem}")
    return state


def metadata_problem(state: dict) -> str:
    """What in a checkpoint's description cannot be right ("" when nothing), naming the field: the sizes, the
    classes and the normalisation are trusted further on (an input size of 30000 would cost gigabytes per face,
    a std of 0 divides by zero)."""
    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    def size(v, lo=8, hi=512):
        return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi

    kwargs = state.get("model_kwargs", {})
    classes = state.get("classes")
    checks = [
        (isinstance(state.get("model"), str), "model must be an architecture's name"),
        (isinstance(kwargs, dict), "model_kwargs must be an object"),
        (isinstance(classes, (list, tuple)) and 1 <= len(classes) <= 1000
         and all(isinstance(c, str) for c in classes), "classes must be 1 to 1000 names"),
        (size(state.get("input_size", 48)), "input_size must be a whole number from 8 to 512"),
        (state.get("face_size") is None or size(state["face_size"]),
         "face_size must be a whole number from 8 to 512"),
        (state.get("in_chans", 1) in (1, 3), "in_chans must be 1 or 3"),
        (number(state.get("mean")), "mean must be a finite number"),
        (number(state.get("std")) and 1e-6 < state["std"] < 1e6, "std must be a positive number"),
    ]
    if isinstance(kwargs, dict):
        checks += [(size(kwargs.get("input_size", 48)), "model_kwargs.input_size must be a whole number from 8 "
                                                        "to 512"),
                   (size(kwargs.get("width", 16), 1, 1024), "model_kwargs.width must be a whole number from 1 to "
                                                           "1024")]
    return next((f"{why} (it says {_said(state, why)})" for ok, why in checks if not ok), "")


def _said(state: dict, why: str) -> str:
    """The value a failed check read, short."""
    key = why.split(" ")[0]
    owner, _, field = key.rpartition(".")
    value = (state.get(owner) if owner else state).get(field) if isinstance(state.get(owner, {}), dict) else None
    return repr(value)[:60]


def weights_problem(state: dict) -> str:
    """A weight that is NaN or infinite ("" when none): a run that diverged, whose answers would be noise."""
    weights = state.get("state_dict")
    if not isinstance(weights, dict):
        return "it holds no weights (state_dict)"
    for name, t in weights.items():
        if isinstance(t, torch.Tensor) and t.is_floating_point() and not bool(torch.isfinite(t).all()):
            return f"its weights are NaN or infinite ({name}): the training that made them diverged"
    return ""


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
