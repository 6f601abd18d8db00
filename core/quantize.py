"""Int8 post-training quantization: a trained CNN made faster on a CPU (seed-vgg: 2x), for the webcam.

No retraining: the BatchNorm layers are folded into the convolutions, a few thousand training images
calibrate the activations' ranges (HistogramObserver), weights are quantized per channel, and the
convolutions then run on int8 kernels (fbgemm / oneDNN, the "x86" backend). What the model answers
barely moves (seed-vgg: -0.06 points on PublicTest, -0.09 on PrivateTest) and it runs 2x faster
(`python bench/per_face.py`).

    python -m core quantize model/seed-vgg.pt --as seed-vgg-int8

The checkpoint keeps the float model's architecture and metadata plus `quantized` (how it was made)
and the int8 state dict; `build_quantized` rebuilds the same int8 graph to load it into. It uses
torch.fx graph-mode quantization (torch.ao), which torch 2.13 (pinned in requirements.txt) still ships
though it announces a move to torchao: where it is gone or the CPU lacks the backend,
`unavailable_reason` says so and the app lists such checkpoints as unusable instead of failing.
"""
from __future__ import annotations

import copy
import platform
import time
import warnings
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path

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


def quantize_checkpoint(src, dst, data=None, images: int = 2048, seed: int = 0, backend: str = BACKEND,
                        overwrite: bool = False) -> dict:
    """Write an int8 copy of checkpoint `src` to `dst`, calibrated on `images` random training images of
    `data` (default FER2013); measure both on PublicTest (selection) and PrivateTest, as training does,
    and store the int8 model's figures as its metrics. Returns those figures. An existing `dst` is kept
    (FileExistsError) unless `overwrite`: a model someone made is never replaced by accident."""
    from .checkpoint import build_model, load_checkpoint, write_checkpoint_state
    from .data import load_dataset, normalize, to_stress
    from .evaluate import evaluate_model
    from .labels import STRESS_CLASSES

    if Path(dst).exists() and not overwrite:
        raise FileExistsError(f"{Path(dst).name} exists already in {Path(dst).parent}: choose another name")
    state = load_checkpoint(src)
    if state.get("quantized"):
        raise ValueError(f"{src} is already quantized ({state['quantized'].get('dtype', 'int8')})")
    model = build_model(state, src)
    size = int(state.get("input_size", 48))
    ds = load_dataset(data, image_size=size)
    if tuple(state["classes"]) == STRESS_CLASSES:
        ds = to_stress(ds)
    if tuple(ds.classes) != tuple(state["classes"]):
        raise ValueError(f"{src} answers {', '.join(state['classes'])}; the data set has {', '.join(ds.classes)}")
    train = ds.splits["train"]
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(train), generator=g)[:images]
    t0 = time.perf_counter()
    qmodel = quantize_model(model, normalize(train.images[idx], state["mean"], state["std"]), size, backend)
    seconds = time.perf_counter() - t0
    figures = {}
    for split in ("val", "test"):
        s = ds.splits[split]
        for label, m in (("float", model), ("int8", qmodel)):
            r = evaluate_model(m, s.images, s.labels, ds.classes, state["mean"], state["std"])
            figures[f"{label}_{split}_acc"] = r["accuracy"]
    figures["int8_test_confusion"] = r["confusion"]  # the last one measured: int8 on PrivateTest
    out = {k: v for k, v in state.items() if k not in ("state_dict", "optimizer", "scheduler", "rng", "torch_rng",
                                                        "sums", "history")}
    out["metrics"] = {"val_acc": figures["int8_val_acc"], "test_acc": figures["int8_test_acc"],
                      "float_val_acc": figures["float_val_acc"], "float_test_acc": figures["float_test_acc"]}
    out["quantized"] = {"dtype": "int8", "backend": backend, "source": Path(src).name,
                        "float_params": sum(p.numel() for p in model.parameters()),
                        "calibration_images": int(len(idx)), "seed": int(seed), "seconds": round(seconds, 1),
                        "torch": torch.__version__, "machine": platform.machine()}
    out["state_dict"] = plain_state_dict(qmodel)
    write_checkpoint_state(dst, out)
    return {"checkpoint": str(dst), "classes": list(ds.classes), **figures, "calibration_images": int(len(idx)), "seconds": seconds}
