"""Int8 models on a CPU: what an int8 checkpoint is and how it is rebuilt (the workflow that makes one is
core.workflows.quantize).

BatchNorm folded into the convolutions, activations calibrated (HistogramObserver), weights per channel,
convolutions on int8 kernels (fbgemm / oneDNN, the "x86" backend), with torch.fx graph-mode quantization
(torch.ao), which torch 2.13 (pinned in requirements.txt) still ships though it announces a move to
torchao: where it is gone or the CPU lacks the backend, `unavailable_reason` says so and the app lists such
checkpoints as unusable instead of failing. The int8 weights are stored as plain integer tensors with their
scales and zero points (`plain_state_dict`), which `torch.load(weights_only=True)` reads.
"""
from __future__ import annotations

import copy
import warnings
from collections import OrderedDict
from contextlib import contextmanager

import torch

BACKEND = "x86"


def unavailable_reason(backend: str = BACKEND) -> str | None:
    """Why int8 models cannot run here (None when they can)."""
    try:
        from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx  # noqa: F401
    except Exception as e:  # noqa: BLE001 - a future torch without torch.ao.quantization
        return f"this PyTorch ({torch.__version__}) has no torch.ao quantization ({type(e).__name__})"
    if backend not in torch.backends.quantized.supported_engines:
        return (f"int8 models need the {backend!r} quantized engine, which this CPU / PyTorch lacks "
                f"(has {', '.join(torch.backends.quantized.supported_engines)}); use the float model")
    return None


@contextmanager
def _quiet_engine(backend: str):
    """torch.ao's deprecation and observer notices are not the user's business; the engine must match
    the one the weights were packed for."""
    reason = unavailable_reason(backend)
    if reason:
        raise RuntimeError(reason)
    before = torch.backends.quantized.engine
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.backends.quantized.engine = backend
        try:
            yield
        finally:
            torch.backends.quantized.engine = before


def _prepared(model: torch.nn.Module, input_size: int, backend: str):
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import prepare_fx

    example = (torch.zeros(1, 1, input_size, input_size),)
    return prepare_fx(copy.deepcopy(model).eval(), get_default_qconfig_mapping(backend), example)


@torch.inference_mode()
def quantize_model(model: torch.nn.Module, calibration: torch.Tensor, input_size: int = 48,
                   backend: str = BACKEND, batch_size: int = 256) -> torch.nn.Module:
    """An int8 copy of a float `model`, calibrated on `calibration`: normalised inputs (N, 1, H, W)."""
    from torch.ao.quantization.quantize_fx import convert_fx

    with _quiet_engine(backend):
        try:
            prepared = _prepared(model, input_size, backend)
        except Exception as e:  # noqa: BLE001 - fx cannot trace every model
            raise RuntimeError(f"{type(model).__name__} cannot be quantized: torch.fx cannot trace it "
                               f"({type(e).__name__}: {e})") from e
        for i in range(0, len(calibration), batch_size):
            prepared(calibration[i:i + batch_size])
        return convert_fx(prepared).eval()


def plain_state_dict(qmodel: torch.nn.Module) -> dict:
    """The int8 model's state dict with each quantized tensor as its integers, scales and zero points:
    plain tensors, which torch.load reads without the deprecation notices quantized tensors raise."""
    return {k: _plain(v) for k, v in qmodel.state_dict().items()}


def _plain(v):
    if isinstance(v, (tuple, list)):  # a quantized Linear keeps (weight, bias) as one entry
        return type(v)(_plain(x) for x in v)
    if not (torch.is_tensor(v) and v.is_quantized):
        return v
    per_channel = v.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric)
    return {"int8": v.int_repr(), "dtype": str(v.dtype).removeprefix("torch."),
            "scale": v.q_per_channel_scales() if per_channel else torch.tensor(v.q_scale()),
            "zero_point": v.q_per_channel_zero_points() if per_channel else torch.tensor(v.q_zero_point()),
            "axis": v.q_per_channel_axis() if per_channel else None}


def _restore(v):
    if isinstance(v, (tuple, list)):
        return type(v)(_restore(x) for x in v)
    if not (isinstance(v, dict) and "int8" in v):
        return v
    if v["axis"] is not None:
        return torch._make_per_channel_quantized_tensor(v["int8"], v["scale"], v["zero_point"], v["axis"])
    return torch._make_per_tensor_quantized_tensor(v["int8"], float(v["scale"]), int(v["zero_point"]))


def build_quantized(model: torch.nn.Module, state_dict: dict, input_size: int = 48,
                    backend: str = BACKEND) -> torch.nn.Module:
    """The int8 graph of float `model`'s architecture with a saved int8 state dict (`plain_state_dict`)
    loaded into it."""
    from torch.ao.quantization.quantize_fx import convert_fx

    with _quiet_engine(backend):
        qmodel = convert_fx(_prepared(model, input_size, backend))  # uncalibrated: the scales come from the file
        restored = OrderedDict((k, _restore(v)) for k, v in state_dict.items())
        restored._metadata = qmodel.state_dict()._metadata  # module versions: quantized Linear reads them
        qmodel.load_state_dict(restored)
    return qmodel.eval()


def is_quantized(model: torch.nn.Module) -> bool:
    return any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in model.modules())
