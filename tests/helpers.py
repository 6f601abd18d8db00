"""Small helpers shared by the tests that start real processes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wait_for(pred, timeout: float = 240, what: str = "condition", poll: float = 0.2) -> None:
    """Poll until `pred()` is true; fail with `what` after `timeout` seconds (a limit, not a timing)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


def kill_live_workers() -> None:
    """End the launcher's workers that a test started (by pid, from that test's registry)."""
    from core import jobs as launcher

    for w in launcher.live_workers():
        try:
            os.kill(w["pid"], signal.SIGKILL)
        except ProcessLookupError:
            pass


def biased_checkpoint(path, classes=None, favourite: int = 0):
    """A tiny checkpoint that answers class `favourite` whatever the face: its class layer is all bias."""
    import torch

    from core.models.checkpoint import save_checkpoint
    from core.labels import EMOTIONS
    from core.models import create_model

    classes = classes or EMOTIONS
    model = create_model("mini_xception", num_classes=len(classes), width=8)
    with torch.no_grad():
        model[7].weight.zero_()
        model[7].bias.zero_()
        model[7].bias[favourite % len(classes)] = 8.0
    return save_checkpoint(path, model, classes=classes, mean=0.5, std=0.25)


def run_cli(*args, timeout: float = 600) -> subprocess.CompletedProcess:
    """`python -m core ARGS` in the repository, its output captured (never raises on a non-zero exit)."""
    return subprocess.run([sys.executable, "-m", "core", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


class FixedDetector:
    """A detector that finds the same face box in every frame: live and recording tests without a real face."""

    def __init__(self, box=(40, 30, 80, 80)):
        self.box = tuple(box)

    def detect(self, image, color="rgb"):
        return [self.box]


def page_texts(at, metric_help: bool = False) -> str:
    """Every text an AppTest page shows (markdown, captions, alerts) and its metrics ("label: value", with their
    help where `metric_help`), one per line: what a test reads a page's words from."""
    parts = []
    for kind in ("markdown", "caption", "info", "success", "warning", "error"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label}: {m.value}" + (f" {m.help or ''}" if metric_help else "") for m in at.metric]
    return "\n".join(parts)
