"""A checkpoint carries everything prediction needs beside the weights: its description, a CheckpointMeta
(core.models.meta: architecture, class names, sizes, normalisation, metrics, calibration), checked on every
read and written from the record, never from a loose dict. Writes are atomic (temp file + rename), so a
process killed mid-save never leaves a half-written checkpoint.

Reading never runs code from the file: `torch.load(weights_only=True)` with a short allow-list of the
harmless types our own files hold. A file that needs anything else (a pickle that would call a
function, build an arbitrary object) is refused as unsafe, with the name of what it asked for.
"""
from __future__ import annotations

import dataclasses
import pickle
import re
import zipfile
from pathlib import Path

import torch
from torch.torch_version import TorchVersion

from ..files import replace_atomically
from .meta import TRAINING_KEYS, CheckpointMeta, MetaError
from .registry import create_model

META_FIELDS = frozenset(f.name for f in dataclasses.fields(CheckpointMeta)) - {"extra", "path"}

FORMAT = "facial-emotion-lab/1"
SAFE_GLOBALS = [TorchVersion]  # older int8 files recorded torch.__version__ as this str subclass


class CheckpointError(RuntimeError):
    """A checkpoint that is missing or cannot be read; the message names the file."""


class UnsafeCheckpoint(CheckpointError):
    """A file whose pickle asks for more than weights and plain data: it is never unpickled."""


def save_checkpoint(path, model, meta: CheckpointMeta | None = None, **fields) -> Path:
    """`model`'s weights and description (`meta`, or its fields as keywords: classes=, mean=, std=, ...);
    keywords that are no field of CheckpointMeta (a run's epoch, optimiser, ...) are saved beside them."""
    own = {k: fields.pop(k) for k in list(fields) if k in META_FIELDS}
    meta = meta.replace(**own) if meta is not None else CheckpointMeta.for_model(model, **own)
    return write_checkpoint(path, meta, model.state_dict(), **fields)


def write_checkpoint(path, meta: CheckpointMeta, weights: dict, **training) -> Path:
    """A checkpoint file from its description, its weights and (a run's last.pt) what resuming needs."""
    state = {"format": FORMAT, **meta.to_state(), **training,
             "state_dict": {k: v.detach().cpu().contiguous() if isinstance(v, torch.Tensor) else v
                            for k, v in weights.items()}}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_checkpoint_state(path, state)


def update_checkpoint(path, **changes) -> CheckpointMeta:
    """Change fields of a checkpoint's description (a fitted temperature, new metrics), the weights and the
    rest as they were; returns the new description."""
    state = load_checkpoint(path)
    meta = checkpoint_meta(state, path).replace(**changes)
    write_checkpoint(path, meta, state["state_dict"], **{k: state[k] for k in TRAINING_KEYS if k in state})
    return meta


def write_checkpoint_state(path, state: dict) -> Path:
    """Atomic, and a save that fails (a full disk) leaves no half-written temp file behind."""
    return replace_atomically(path, lambda tmp: torch.save(state, tmp))


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
    checkpoint_meta(state, path)
    problem = weights_problem(state)
    if problem:
        raise CheckpointError(f"checkpoint {path} cannot be used: {problem}")
    return state


def checkpoint_meta(state: dict, path="checkpoint") -> CheckpointMeta:
    """A checkpoint's description (CheckpointMeta), its missing fields defaulted; CheckpointError naming the
    file and the field that cannot be right."""
    try:
        return CheckpointMeta.from_state(state, path)
    except MetaError as e:
        raise CheckpointError(f"checkpoint {path} cannot be used: {e}") from None


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
    """The model a checkpoint's dict describes, its weights loaded, in eval mode."""
    meta = checkpoint_meta(state, path)
    try:
        model = create_model(meta.model, num_classes=len(meta.classes), in_chans=meta.in_chans, **meta.model_kwargs)
        if meta.quantized:  # an int8 copy (core.workflows.quantize): rebuild its graph, then load
            from .int8 import build_quantized, unavailable_reason

            backend = meta.quantized.get("backend", "x86")
            reason = unavailable_reason(backend)
            if reason:
                raise CheckpointError(f"checkpoint {path} is an int8 model: {reason}")
            return build_quantized(model, state["state_dict"], meta.input_size, backend)
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["state_dict"].items()})
    except CheckpointError:
        raise
    except Exception as e:
        raise CheckpointError(f"checkpoint {path}: weights do not fit model {meta.model!r} ({e})") from e
    return model.eval()


def load_model(path, map_location="cpu") -> tuple:
    """(model in eval mode, its CheckpointMeta) from a checkpoint file."""
    state = load_checkpoint(path, map_location)
    return build_model(state, path), checkpoint_meta(state, path)
