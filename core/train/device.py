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


def describe_device(name: str = "auto") -> str:
    """Where a run with this device setting would train, in words."""
    try:
        dev = resolve_device(name)
    except RuntimeError as e:
        return str(e)
    if dev.type == "cuda":
        return f"GPU {torch.cuda.get_device_name(dev)}"
    return f"CPU, {os.cpu_count()} cores"
