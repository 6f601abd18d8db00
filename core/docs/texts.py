"""Sentences of the pages that quote a measurement, made from its results/ file when the page runs (and by
`python -m core docs` for a README that quotes the same). Light: no torch, no card code."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..results import measured_where


@dataclass(frozen=True)
class Text:
    result: str                      # the measurement it quotes, results/<result>.json
    render: Callable[[dict], str]    # its figures -> the sentence


def _change(v: float) -> str:
    return "no change" if round(100 * v) == 0 else f"{100 * v:+.0f}%"


def _cores(v: float) -> str:
    return "no measurable CPU" if v < 0.01 else f"{v:.2f} of a core"


def _recording_cost(f: dict) -> str:
    """What Record costs the live stream, from bench/recording.py's figures: one face in full, five in brief."""
    faces = f.get("faces") or {}
    one, five = faces.get("1"), faces.get("5")
    if not one:
        raise KeyError("faces.1")
    on, video = one["on"], one["video"]
    text = (f"The analysis runs on a thread of its own, so recording takes CPU, not frames: in `bench/recording.py`, "
            f"with one face the video stayed at {on['shown_fps']:.0f} frames/s while recording, and the labels changed "
            f"{on['labels_fps']:.0f} times a second ({_change(on['labels_change'])}; "
            f"{_change(video['labels_change'])} with the annotated video); the recorder took {_cores(on['cpu_added'])} "
            f"({_cores(video['cpu_added'])} with the annotated video)")
    if video.get("dropped"):
        text += (f", and left {video['dropped']:.0f} of {video['dropped'] + video['written']:.0f} frames out of the "
                 "annotated recording when it fell behind")
    if five:
        text += (f". With five faces, the labels changed {_change(five['on']['labels_change'])} "
                 f"({_change(five['video']['labels_change'])} with the annotated video)")
    return text + "."


def _int8_speedup(f: dict) -> str:
    """How much faster an int8 copy answers than its float original, from bench/per_face.py's figures."""
    m = f["models"]
    return (f"`seed-vgg-int8` answered a face {m['seed-vgg']['ms'] / m['seed-vgg-int8']['ms']:.1f}x faster than "
            "`seed-vgg` in `bench/per_face.py`")


TEXTS = {"recording-cost": Text("bench-recording", _recording_cost),
         "int8-speedup": Text("bench-per-face", _int8_speedup)}


def page_text(name: str, record: dict | None, here: dict | None = None) -> str:
    """The sentence, with where and when it was measured when that was not on this kind of machine; "" when no
    file holds the measurement (a page then quotes no figure)."""
    if not record:
        return ""
    try:
        text = TEXTS[name].render(record["figures"])
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return ""
    where = measured_where(record, here)
    return text + (f" ({where[0].upper()}{where[1:]}.)" if where else "")
