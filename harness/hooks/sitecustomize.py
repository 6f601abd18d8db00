"""Test-only code for the processes a test starts (torchrun's training ranks, the app's server): the test puts
this folder first on PYTHONPATH (harness/env.py's `hooked_env`), and Python runs this file as the process starts. Nothing
happens unless the test also sets one of:

    FEL_DDP_TRACE=<folder>    each training rank writes what it trained on and its final model (harness/ddp_trace.py)
    FEL_WEBCAM_STATS=<file>   the webcam analyser writes its counters there (harness/webcam_stats.py)
    FEL_SLOW_ANALYSIS_MS=<ms> every analysis of a frame takes that much longer (a slow model; the webcam bench)

Each hook waits for its module to be imported, then sets the plain attribute production leaves for it
(`_Training.trace`, `LiveAnalyser.on_frame`): production code holds no test code and reads no test variable.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys

class _AfterImport(importlib.abc.MetaPathFinder):
    """Calls `then(module)` once `name` has been imported (and only if it is)."""

    def __init__(self, name: str, then):
        self.name, self.then = name, then

    def find_spec(self, fullname, path, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        run, then = spec.loader.exec_module, self.then

        def exec_module(module):
            run(module)
            then(module)

        spec.loader.exec_module = exec_module
        return spec


def after_import(name: str, then) -> None:
    sys.meta_path.insert(0, _AfterImport(name, then))


def _ddp_trace(loop) -> None:
    from harness.ddp_trace import install

    install(loop, os.environ["FEL_DDP_TRACE"])


def _webcam_stats(frame) -> None:
    from harness.webcam_stats import install

    install(frame, os.environ["FEL_WEBCAM_STATS"])


def _slow_analysis(frame) -> None:
    from harness.webcam_stats import slow_analysis

    slow_analysis(frame, float(os.environ["FEL_SLOW_ANALYSIS_MS"]))


if os.environ.get("FEL_DDP_TRACE"):
    after_import("core.train.loop", _ddp_trace)
if os.environ.get("FEL_WEBCAM_STATS"):
    after_import("core.predict.frame", _webcam_stats)
if os.environ.get("FEL_SLOW_ANALYSIS_MS"):
    after_import("core.predict.frame", _slow_analysis)
