"""Where a run trains: a CUDA GPU when there is one (its checkpoints still load on a CPU), else the CPU."""
from __future__ import annotations

import os

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """auto: the GPU when CUDA has one (a checkpoint trained there still loads on CPU), else the CPU."""
    if name in ("", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} asked for, but this machine has no CUDA GPU; use --device cpu or auto")
    return torch.device(name)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX: recent Xeon, AMD Zen 4) and
    PyTorch's oneDNN uses it. Elsewhere bf16 is emulated and slower than float32, so training stays float32."""
    global _NATIVE_BF16
    if _NATIVE_BF16 is None:
        try:
            with open("/proc/cpuinfo") as fh:
                flags = next((line.split(":", 1)[1].split() for line in fh if line.startswith("flags")), [])
            _NATIVE_BF16 = bool({"avx512_bf16", "amx_bf16"} & set(flags)) and \
                bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except Exception:  # noqa: BLE001 - not Linux, or an older torch: float32, as before
            _NATIVE_BF16 = False
    return _NATIVE_BF16


_NATIVE_BF16: bool | None = None


def describe_device(name: str = "auto") -> str:
    """Where a run with this device setting would train, in words."""
    try:
        dev = resolve_device(name)
    except RuntimeError as e:
        return str(e)
    if dev.type == "cuda":
        return f"GPU {torch.cuda.get_device_name(dev)}"
    return f"CPU, {os.cpu_count()} cores"
