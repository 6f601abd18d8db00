"""The analysis folder (core.video.store, core.video.checks) when one of its files is damaged (#41 item 3): a
settings.json, status.json or progress.json that cannot be read lists the analysis as damaged and the others as
ever; a damaged frames.jsonl line, tracks.json or thumbnail is said in that analysis's own view, which shows what
can be read. No traceback on the Video page either way."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.video import VideoAnalysis, list_analyses, summarise_tracks
from core.video.record import LiveRecorder

ROOT = Path(__file__).resolve().parent.parent


class Steady:
    name, classes = "steady", ("happy", "sad")


def _faces(i: int) -> list[dict]:
    p = 0.8 if i < 10 else 0.3
    return [{"id": 1, "box": [60, 40, 90 + i, 90 + i], "score": 0.9, "held": False, "landmarks": None,
             "models": [{"name": "steady", "classes": ["happy", "sad"], "probs": [p, 1 - p],
                         "emotion": "happy" if p > 0.5 else "sad", "confidence": max(p, 1 - p),
                         "stress": "no_stress" if p > 0.5 else "stress", "stress_confidence": 0.7,
                         "p_stress": 1 - p}]}]


def recording(name: str) -> VideoAnalysis:
    """A short finished recording of one face (20 frames, its thumbnail written)."""
    rec = LiveRecorder.start([Steady()], None, name=name, queue_frames=100)
    image = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    for i in range(20):
        rec.feed(image, _faces(i), i / 15)
    a = rec.stop()
    assert a.state() == "finished" and len(a.frames()) == 20 and a.thumb(1) is not None
    return a


def video_page(**state) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app_pages" / "video.py"), default_timeout=120)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("error", "warning", "markdown", "caption") for e in getattr(at, kind))


@pytest.mark.parametrize("file, content, said", [
    ("settings.json", {"clip": "notadict", "models": "x"}, "settings.json is damaged: clip is 'notadict'"),
    ("settings.json", {"clip": {"name": "x", "fps": "fast"}, "models": []}, "clip: fps is 'fast'"),
    ("settings.json", {"models": [{"name": "m", "classes": "happy"}]}, "model 1's classes is 'happy'"),
    ("status.json", {"state": "finished", "speed": "x"}, "status.json is damaged: speed is 'x'"),
    ("progress.json", {"time_s": [1]}, "progress.json is damaged: time_s is [1]"),
])
def test_an_analysis_that_cannot_be_read_is_listed_as_damaged_beside_the_good_one(file, content, said):
    good, bad = recording("good"), recording("bad")
    (bad.dir / file).write_text(json.dumps(content))
    assert {a.id for a in list_analyses()} == {good.id, bad.id}
    assert said in bad.damage() and good.damage() == "" and good.problem() == ""
    assert isinstance(bad.title, str) and bad.annotated_path() is None and bad.clip_path() is None

    at = video_page(video_open=bad.id)
    labels = at.selectbox(key="video_pick").options  # as shown
    assert any(label.endswith("· damaged") for label in labels) and sum("damaged" in x for x in labels) == 1
    assert "The folder of this analysis is damaged" in shown(at) and said in shown(at)
    at.selectbox(key="video_pick").set_value(good.id).run()
    assert not at.exception and "damaged" not in shown(at) and at.metric[0].value == "1"  # one face followed


def test_a_damaged_line_summary_or_picture_is_said_in_its_own_view_with_the_rest_shown():
    a = recording("partly damaged")
    rows = a.frames()
    with open(a.frames_path, "a") as f:  # a time of 1e400 (infinite once read), then a good line after it
        f.write(json.dumps({**rows[-1], "frame": 20}).replace(f'"time_s": {rows[-1]["time_s"]}', '"time_s": 1e400')
                + "\n" + json.dumps({**rows[-1], "frame": 21, "time_s": 2.0}) + "\n")
    tracks = json.loads(a.tracks_path.read_text())
    tracks["tracks"][0]["track"] = "x"
    a.tracks_path.write_text(json.dumps(tracks))
    a.thumb_path(1).write_bytes(b"not a jpeg")

    assert a.frames() == rows and "frames.jsonl line 21 is damaged: time_s is inf" in a.frames_checked()[1]
    assert a.tracks() == [] and "tracks.json is damaged: track is 'x'" in a.tracks_checked()[1]
    assert a.thumb(1) is None and a.damage() == ""
    problem = a.problem(summarise_tracks(rows, a.models()))
    assert "frames.jsonl line 21" in problem and "tracks.json" in problem and "thumbs/1.jpg" in problem

    at = video_page(video_open=a.id)
    text = shown(at)
    assert "A file of this analysis is damaged" in text and "frames.jsonl line 21" in text
    assert "tracks.json is damaged" in text and "thumbs/1.jpg" in text
    assert at.metric[0].value == "1" and at.metric[1].value == "20"  # the face and the frames before the line
    assert not any("· damaged" in o for o in at.selectbox(key="video_pick").options)  # readable: listed as ever
