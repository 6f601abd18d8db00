"""Whether a model may run in channels_last (NHWC) memory layout on this machine's CPU.

oneDNN's AVX2 / AVX-512 1x1-convolution backward-weights kernel writes past its workspace for NHWC input when
the convolution has stride 2 and fewer input channels than its vector block (8 on AVX2, 16 on AVX-512):
training hangs or gets wrong gradients (oneDNN issue 6035). Every other layer is safe in NHWC, and faster
here (tests/test_layout.py compares one step's gradients in both layouts). A CUDA GPU has no such bug.
"""
from __future__ import annotations

from torch import nn

BLOCK = 16  # the wider block (AVX-512), so the rule holds on either instruction set


def channels_last_risk(model: nn.Module) -> str | None:
    """The first layer that meets the oneDNN bug's condition, named, or None if the model is safe in NHWC."""
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d) and tuple(m.kernel_size) == (1, 1) and max(m.stride) >= 2 \
                and m.in_channels < BLOCK:
            return f"{name}: 1x1 convolution, stride {max(m.stride)}, {m.in_channels} input channels"
    return None


def channels_last_ok(model: nn.Module, device_type: str = "cpu") -> bool:
    return device_type == "cuda" or channels_last_risk(model) is None
