"""No box where no face is (#42, item 2): a track is shown, and recorded, only while detections confirm it.
The clip is made from the sample photos with its faces' places known (core.video.synth.cut_faces): one face,
then three others elsewhere, cut abruptly from one scene to the other as a fake camera alternating photos
does; core.video.phantoms counts the boxes shown where no face is. Checked on the frame engine the Webcam page,
the Video page and the CLI share, and through the Webcam page: a recording keeps no phantom track, and the
Video page counts only the faces that were there."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from core.video.phantoms import score_shown
from core.video.synth import cut_faces, face_patches, scene_frames

ROOT = Path(__file__).resolve().parent.parent

SIZE, FPS, HOLD, SECONDS = (640, 480), 15, 1.0, 4.0


@pytest.fixture(scope="module")
def clip():
    """(faces, [(time, RGB frame)]): 4 s at 15 frames/s, the scene cut every second."""
    faces = cut_faces(HOLD, SECONDS)
    return faces, list(scene_frames(face_patches(ROOT / "sample_images"), faces, SECONDS, FPS, SIZE))


def _detector():
    """The Webcam page's default detector with its default settings (YuNet; Haar where YuNet cannot load)."""
    from core.predict.detectors import create_detector

    return create_detector(None, fallback=True, min_size=0.10, detect_width=480)


def test_the_frame_engine_shows_no_box_where_no_face_is(clip):
    from core.predict.frame import FramePipeline, LiveSettings

    faces, frames = clip
    pipe = FramePipeline(_detector(), [], LiveSettings())  # the Webcam page's defaults
    shown = [(t, [(f["id"], f["box"]) for f in pipe.step(rgb)]) for t, rgb in frames]
    score = score_shown(shown, faces, SIZE)
    assert score["phantom_tracks"] == 0, score
    assert score["face_showings_found"] == score["face_showings"] == 8, score  # 1 + 3 + 1 + 3 faces
    assert score["max_delay_s"] <= 0.2 and score["face_frames_found"] >= 0.85, score


def test_no_box_is_carried_onto_frames_shown_after_a_cut_while_the_analysis_lags(clip):
    """The Webcam page shows every frame with the latest analysis's boxes, which may be of an older frame: after
    a cut, the boxes of the scene before must not be drawn (nor recorded) on the frames of the new one."""
    import threading

    from core.predict.frame import LiveAnalyser

    faces, frames = clip
    one = [rgb for t, rgb in frames if t < HOLD]
    three = [rgb for t, rgb in frames if HOLD <= t < 2 * HOLD]
    la = LiveAnalyser(None, _detector(), inline=True)
    fed = []
    la.record_into(type("Sink", (), {"feed": lambda self, image, faces, t, color: fed.append(faces)})())
    for rgb in one[:4]:
        la.process(rgb, color="rgb")
    assert len(fed[-1]) == 1  # the face of the first scene, confirmed and shown
    gate, step = threading.Event(), la.pipeline.step
    la.pipeline.step = lambda *a, **k: gate.wait(60) and step(*a, **k)  # the next analysis takes its time
    la.inline = False
    fed.clear()
    for rgb in three[:6]:  # the cut: new frames shown while the analysis of the first of them runs
        la.process(rgb, color="rgb")
    gate.set()
    assert la.wait_idle()
    assert fed == [[]] * 6, [[f["box"] for f in x] for x in fed]


@pytest.fixture
def camera(monkeypatch):
    """streamlit-webrtc's streamer replaced by one that says it plays (tests/test_app_recording.py)."""
    import streamlit_webrtc

    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer",
                        lambda **kw: SimpleNamespace(state=SimpleNamespace(playing=True)))


def test_a_recording_keeps_no_phantom_track_and_the_video_page_counts_the_real_faces(app_env, camera, clip):
    import cv2
    import streamlit.config
    from streamlit.testing.v1 import AppTest

    streamlit.config.set_option("client.showErrorDetails", "full")
    faces, frames = clip
    at = AppTest.from_file(str(ROOT / "app_pages" / "webcam.py"), default_timeout=180).run()
    assert not at.exception
    at.button(key="webcam_record").click().run()
    rec, analyser = at.session_state["webcam_recorder"], at.session_state["webcam_analyser"]
    analyser.inline = True  # each frame analysed before it is shown, as the page's callback would on a fast CPU
    for t, rgb in frames:
        analyser.process(np.ascontiguousarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)), color="bgr", time_s=t)
    at.button(key="webcam_record_stop").click().run()
    assert not at.exception
    a = rec.analysis
    rows = a.frames()
    assert len(rows) == len(frames)
    score = score_shown([(r["time_s"], [(f["track"], f["box"]) for f in r["faces"]]) for r in rows], faces, SIZE)
    assert score["phantom_tracks"] == 0, score
    assert score["face_showings_found"] == 8, score
    assert len(a.tracks()) == score["tracks"] == 8  # one track per face shown: nothing else was recorded

    video = AppTest.from_file(str(ROOT / "app_pages" / "video.py"), default_timeout=180).run()
    assert not video.exception
    assert next(m.value for m in video.metric if m.label == "Faces followed") == "8"
