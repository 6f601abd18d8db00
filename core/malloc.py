"""Keep the memory of one batch for the next, instead of handing it back to the kernel after every batch.

glibc gives each allocation above its mmap threshold (adaptive, but never above 32 MiB) fresh pages
from the kernel and returns them on free. A batch's large tensors (model48's first activations for a
512-face evaluation batch are 150 MB; vgg's for a training batch of 128, 37 MB) are then
page-faulted in again for every batch: evaluating a model here spent as much CPU time in the
kernel as in PyTorch. Evaluation batches are 128 faces, so that they fit under the raised threshold. Raising the thresholds lets glibc reuse those pages. Linux/glibc only; nothing
happens elsewhere, when FEL_KEEP_FREED_MEMORY=0, or when the user tuned glibc's malloc already. Layer 0 of the
engine: imports only core.settings."""
from __future__ import annotations

import ctypes
import os
import sys

from . import settings

MMAP_THRESHOLD = 128 * 2**20  # larger allocations still come from (and go back to) the kernel
TRIM_THRESHOLD = 2**30  # up to this much freed memory stays with the process for the next batch
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, <malloc.h>
_USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; True when they were raised."""
    if not settings.keep_freed_memory() or not sys.platform.startswith("linux"):
        return False
    if any(k in os.environ for k in _USER_SETTINGS) or "glibc.malloc" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
