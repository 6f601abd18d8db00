"""Charts and words that say what is true (#42, item 8): the reliability diagram shows how many faces each
confidence bin holds and draws no line to a nearly empty bin; "Hardest class" names no class picked among a
tie; the Video page's table gives shares as whole percents and times to a tenth of a second, says when faces
smaller than *Smallest face* were left out (the astronaut of the sample collage, at 10%), and shows each face
at the moment its model was surest. Through Streamlit's AppTest."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest

from core.video import VideoSettings, analyse_video
from core.video.synth import Face, face_patches, scene_frames, write_clip

ROOT = Path(__file__).resolve().parent.parent


def _app_test(func, **kwargs):
    import streamlit.config
    from streamlit.testing.v1 import AppTest

    streamlit.config.set_option("client.showErrorDetails", "full")
    return AppTest.from_function(func, kwargs=kwargs, default_timeout=180)


# ---------------------------------------------------------------- the reliability diagram

def _reliability_page(bins_json):
    import json

    import streamlit as st

    from ui import charts

    st.plotly_chart(charts.reliability_diagram({"seed-resnet": json.loads(bins_json)}))


def test_the_reliability_diagram_shows_bin_counts_and_draws_no_line_to_a_nearly_empty_bin():
    bins = [{"lo": b / 15, "hi": (b + 1) / 15, "count": 0, "confidence": None, "accuracy": None} for b in range(15)]
    bins[3].update(count=2, confidence=0.22, accuracy=1.0)  # 2 faces at 22% confidence, both right
    for b, (n, acc) in zip(range(5, 15), [(300, 0.3), (500, 0.4), (700, 0.45), (800, 0.55), (900, 0.6),
                                         (900, 0.68), (1000, 0.75), (1200, 0.83), (1500, 0.9), (2000, 0.97)]):
        bins[b].update(count=n, confidence=(b + 0.5) / 15, accuracy=acc)
    at = _app_test(_reliability_page, bins_json=json.dumps(bins)).run()
    assert not at.exception
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    lines = [t for t in fig["data"] if "lines" in (t.get("mode") or "") and t.get("name") != "calibrated"]
    assert lines, "no line for the model"
    for t in lines:  # no line passes through the 2-face bin
        assert all(not (x is not None and abs(x - 0.22) < 1e-9) for x in t["x"]), t["x"]
    bars = [t for t in fig["data"] if t.get("type") == "bar"]
    assert bars and sorted(v for v in bars[0]["y"] if v) == sorted(b["count"] for b in bins if b["count"])
    lone = [t for t in fig["data"] if t.get("mode") == "markers" and 0.22 in (t.get("x") or [])]
    assert lone, "the 2-face bin is still shown, as a point of its own"


# ---------------------------------------------------------------- the hardest class

def _results_page(run_dir):
    from core.runs import Run
    from ui import experiments as X

    X.results_view(Run(run_dir))


def _run_with_recalls(tmp_path, recalls: dict) -> Path:
    from core.config import TrainConfig
    from core.files import write_json
    from core.runs import Run

    run = Run.create(TrainConfig(name="ties"), root=tmp_path / "runs", graphs=tmp_path / "graphs", state="finished")
    classes = list(recalls)
    confusion = [[100 if i == j and recalls[c] else (100 if j == 3 and i != j else 0) for j in range(len(classes))]
                 for i, c in enumerate(classes)]
    per = [{"class": c, "precision": 0.5, "recall": r, "f1": 0.3, "support": 100} for c, r in recalls.items()]
    write_json(run.dir / "summary.json", {"test": {"accuracy": 0.14, "macro_f1": 0.05, "n": 700, "classes": classes,
                                                   "confusion": confusion, "per_class": per}})
    return run.dir


@pytest.mark.parametrize("recalls, value", [
    ({"angry": 0.0, "disgust": 0.0, "fear": 0.0, "happy": 1.0, "sad": 0.0, "surprise": 0.0, "neutral": 0.0},
     "6 tied"),
    ({"angry": 0.4, "disgust": 0.1, "fear": 0.3, "happy": 0.9, "sad": 0.4, "surprise": 0.6, "neutral": 0.5,
      "contempt": 0.2}, "disgust"),
])
def test_the_hardest_class_is_never_picked_among_a_tie(tmp_path, recalls, value):
    at = _app_test(_results_page, run_dir=str(_run_with_recalls(tmp_path, recalls))).run()
    assert not at.exception
    hardest = next(m for m in at.metric if m.label == "Hardest class")
    assert hardest.value == value
    if value == "6 tied":
        assert "angry, disgust, fear, sad, surprise, neutral" in hardest.proto.help


# ---------------------------------------------------------------- the Video page's words

@pytest.fixture(scope="module")
def tiny(app_model_dir):
    from core.video import load_models

    return load_models([str(app_model_dir / "tiny.pt")])


def _collage_clip(path: Path) -> Path:
    """The sample collage letterboxed in a 1280x720 clip: its astronaut's face is about 9.5% of the height."""
    import cv2

    rgb = cv2.cvtColor(cv2.imread(str(ROOT / "sample_images" / "group_four_faces_collage.jpg")), cv2.COLOR_BGR2RGB)
    s = 720 / rgb.shape[0]
    img = cv2.resize(rgb, (int(rgb.shape[1] * s) // 2 * 2, 720), interpolation=cv2.INTER_AREA)
    frame = np.zeros((720, 1280, 3), np.uint8)
    x0 = (1280 - img.shape[1]) // 2
    frame[:, x0:x0 + img.shape[1]] = img
    return write_clip(path, ((i / 5, frame) for i in range(5)), 5)


def _video_page():
    import streamlit.config
    from streamlit.testing.v1 import AppTest

    streamlit.config.set_option("client.showErrorDetails", "full")
    return AppTest.from_file(str(ROOT / "app_pages" / "video.py"), default_timeout=180)


def test_the_video_page_says_a_face_was_left_out_as_too_small_and_writes_shares_and_times_plainly(
        tmp_path, tiny, app_env):
    a = analyse_video(_collage_clip(tmp_path / "collage.mp4"), VideoSettings(fps=5), predictors=tiny)
    small = a.status()["small_faces"]
    assert small["count"] == 1 and small["keeps_them"] < 0.10  # the astronaut, seen and left out
    assert len(a.tracks()) == 3
    at = _video_page().run()
    assert not at.exception
    said = " ".join(str(e.value) for e in at.info)
    assert "1 face smaller than *Smallest face* (10% of the frame) was left out" in said
    assert f"*Smallest face* at {small['keeps_them']:.0%} or less" in said
    table = next(d for d in at.dataframe if "track" in d.value.columns)
    df, config = table.value, json.loads(table.proto.columns)
    assert all(isinstance(v, (int, np.integer)) for v in df["share"])  # whole percents, as 58% is written
    assert config["share"]["type_config"]["format"] == "%d%%"
    for col in ("first (s)", "last (s)", "on screen (s)", "longest stress (s)"):
        assert config[col]["type_config"]["format"] == "%.1f", col


class _SurestInTheMiddle:
    """The tiny model's classes, with a confidence of 0.95 on calls 18 to 23 and 0.5 on every other: the
    thumbnail must come from those frames (the second face, after the cut), not the first one."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0
        self.name, self.classes, self.kind = inner.name, inner.classes, "emotion"

    def predict(self, crops):
        top = 0.95 if 18 <= self.calls < 24 else 0.5
        self.calls += 1
        rest = (1 - top) / (len(self.classes) - 1)
        return np.array([[top] + [rest] * (len(self.classes) - 1)] * len(crops))


def test_a_face_is_shown_at_the_moment_its_model_was_surest(tmp_path, tiny, app_env):
    import cv2

    patches = face_patches(ROOT / "sample_images")
    place = dict(cx=lambda t: 0.5, cy=lambda t: 0.5, side=lambda t: 0.8)
    faces = [Face(0, end_s=1.0, **place), Face(1, start_s=1.0, **place)]  # one place, two faces: one track
    clip = write_clip(tmp_path / "two.mp4", scene_frames(patches, faces, 2.0, 15, (320, 240)), 15)
    a = analyse_video(clip, VideoSettings(fps=None, smoothing=1), predictors=[_SurestInTheMiddle(tiny[0])])
    (track,) = a.tracks()
    thumb = cv2.cvtColor(cv2.imread(str(a.thumb_path(track["track"]))), cv2.COLOR_BGR2RGB).astype(np.float32)

    def distance(patch):
        return float(np.abs(cv2.resize(patch, thumb.shape[1::-1]).astype(np.float32) - thumb).mean())

    assert distance(patches[1]) < distance(patches[0])  # the face the model was surest on
    at = _video_page().run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "track" in d.value.columns)
    shown = table["face"][0]
    assert shown == "data:image/jpeg;base64," + base64.b64encode(a.thumb_path(track["track"]).read_bytes()).decode()
