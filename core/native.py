"""Native libraries that crash a process when loaded in the wrong order.

Triton, which PyTorch's CUDA wheels bring along (what pip installs on Python 3.12 and 3.13 here), segfaults on
import when TensorFlow was loaded first (their bundled LLVMs clash); loaded the other way round, both work. PyTorch
imports Triton lazily, the first time anything touches torch._dynamo (an optimiser, for one), so a process that
ran DeepFace and then trained or quantized would crash. Layer 0: imports nothing of core.
"""
from __future__ import annotations

import importlib.util
import sys


def before_tensorflow() -> None:
    """Loads Triton (where it is installed) before TensorFlow is; called by every module that loads TensorFlow.
    Nothing where Triton is absent (the CPU wheel of PyTorch on 3.11) or TensorFlow is already loaded."""
    if "triton" in sys.modules or "tensorflow" in sys.modules:
        return
    try:
        if importlib.util.find_spec("triton") is None:
            return
        import triton  # noqa: F401
    except Exception:  # noqa: BLE001 - a broken Triton is PyTorch's to report, if it ever needs it
        pass
