"""Native libraries that crash a process when loaded in the wrong order.

Triton, which PyTorch's CUDA wheels bring along (what pip installs on Python 3.12 and 3.13 here), segfaults on
import when TensorFlow was loaded first (their bundled LLVMs clash); loaded the other way round, both work. PyTorch
imports Triton lazily, the first time anything touches torch._dynamo (an optimiser, for one), so a process that
ran DeepFace and then trained or quantized would crash.

pylibsrtp (aiortc's SRTP, which the Webcam page's streamlit-webrtc imports) segfaults on import when TensorFlow
was loaded first (its OpenSSL against TensorFlow's); loaded the other way round, both work. So a server that
ran DeepFace on the Compare page and then opened the Webcam page would crash.

Layer 0: imports nothing of core.
"""
from __future__ import annotations

import importlib.util
import sys


FIRST = ("triton", "pylibsrtp")  # native libraries that must be loaded before TensorFlow


def before_tensorflow() -> None:
    """Loads the libraries of FIRST (those installed) before TensorFlow is; called by every module that loads
    TensorFlow. Nothing for one that is absent (Triton with the CPU wheel of PyTorch on 3.11), or once
    TensorFlow is loaded."""
    if "tensorflow" in sys.modules:
        return
    for name in FIRST:
        if name in sys.modules:
            continue
        try:
            if importlib.util.find_spec(name) is None:
                continue
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a broken library is its user's to report, if it ever needs it
            pass
