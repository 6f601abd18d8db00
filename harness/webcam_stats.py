"""Test-only (harness/hooks, FEL_WEBCAM_STATS=<file>): the app's webcam analyser writes its counters to a file,
twice a second at most, so a browser test can see what the stream did without reading the page."""
from __future__ import annotations

import time
from pathlib import Path

from core.files import write_json


class StatsWriter:
    """A `LiveAnalyser.on_frame`: the analyser's snapshot as JSON in `path` (atomic)."""

    def __init__(self, path, every_s: float = 0.5):
        self.path, self.every_s, self.written = Path(path), every_s, 0.0

    def __call__(self, analyser) -> None:
        now = time.time()
        if now - self.written < self.every_s:
            return
        self.written = now
        snap = analyser.snapshot()
        detector = getattr(analyser.pipeline.detector, "detector_name", None)
        data = {**{k: snap[k] for k in ("frames", "frames_with_faces", "max_faces", "fps", "latency_ms", "error",
                                         "model", "analyses", "analysis_fps", "analysis_ms", "label_lag", "inline")},
                "faces": len(snap["faces"]), "detector": detector, "labels": [f.get("emotion") for f in snap["faces"]],
                "time": now}
        try:
            write_json(self.path, data)
        except OSError:
            pass


def install(frame, path: str) -> None:
    """Every `LiveAnalyser` of core.predict.frame (the module given) writes its counters to `path`."""
    init = frame.LiveAnalyser.__init__

    def with_stats(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.on_frame = StatsWriter(path)

    frame.LiveAnalyser.__init__ = with_stats


def slow_analysis(frame, ms: float) -> None:
    """Every `FramePipeline.step` of core.predict.frame (the module given) takes `ms` longer: a slow model."""
    import time as _time

    step = frame.FramePipeline.step

    def slow_step(self, *args, **kwargs):
        _time.sleep(ms / 1000.0)
        return step(self, *args, **kwargs)

    frame.FramePipeline.step = slow_step
