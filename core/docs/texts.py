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


def _recording_cost(f: dict) -> str:
    """What Record costs the live stream, from bench/recording.py's figures."""
    parts = []
    for n, label in (("1", "one face"), ("5", "five faces")):
        rows = (f.get("faces") or {}).get(n)
        if not rows:
            continue
        on, video = rows["on"], rows["video"]
        parts.append(f"with {label} the video stayed at {on['shown_fps']:.0f} frames/s, the labels changed "
                     f"{on['labels_fps']:.0f} times a second ({_change(on['labels_change'])}; "
                     f"{_change(video['labels_change'])} with the annotated video) and recording took "
                     f"{on['cpu_added']:.2f} of a core more ({video['cpu_added']:.2f} with the annotated video)")
    if not parts:
        raise KeyError("faces")
    return ("The analysis runs on a thread of its own, so recording takes CPU, not frames: in `bench/recording.py`, "
            + "; ".join(parts) + ".")


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
