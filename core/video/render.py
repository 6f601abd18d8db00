"""One frame of an analysed clip, annotated after the fact: the frame decoded at a time, and the faces of
the analysed frame shown then, drawn by the same code as the live annotation (FramePipeline.draw), so
a scrubber needs no annotated copy."""
from __future__ import annotations

import numpy as np

from ..predict.frame import FramePipeline, LiveSettings
from .decode import MAX_WIDTH, frame_at
from .summary import faces_at


def pipeline_faces(row: dict | None, scale=(1.0, 1.0), model: int = 0) -> list[dict]:
    """A frames.jsonl row's faces in the shape FramePipeline.draw takes, boxes in picture pixels."""
    if not row:
        return []
    sx, sy = scale
    out = []
    for f in row.get("faces", []):
        m = f["models"][model] if f.get("models") else {}
        x, y, w, h = f["box"]
        out.append({"id": f["track"], "box": [x / sx, y / sy, w / sx, h / sy], "emotion": m.get("emotion"),
                    "confidence": m.get("confidence") or 0.0, "stress": m.get("stress"),
                    "stress_confidence": m.get("stress_confidence") or 0.0,
                    "landmarks": [(px / sx, py / sy) for px, py in f["landmarks"]] if f.get("landmarks") else None})
    return out


def annotated_frame(clip, rows: list[dict], time_s: float, model: int = 0, max_width: int = MAX_WIDTH,
                    show_stress: bool = True) -> tuple[np.ndarray, float, dict | None]:
    """(RGB picture, its time, the analysed row drawn on it) for the frame shown at `time_s`."""
    fr = frame_at(clip, time_s, max_width=max_width)
    row = faces_at(rows, fr.time_s)
    image = fr.image.copy()
    FramePipeline(settings=LiveSettings(show_stress=show_stress)).draw(image, pipeline_faces(row, fr.scale, model))
    return image, fr.time_s, row
