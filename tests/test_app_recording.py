"""Recording a live session on the Webcam page (ui.recording), through Streamlit's AppTest: the privacy text
is there before anything is recorded, Record waits for the camera, Record / Stop recording write the frames
the page's analyser labels, and the recording is then listed on the Video page ("source: webcam") with its
summary, timelines and downloads, and can be deleted. The camera is streamlit-webrtc's component, replaced
here by a stand-in that says it plays; the frames are handed to the page's analyser as the callback would."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from core.video import list_analyses

ROOT = Path(__file__).resolve().parent.parent


def _app(page: str):
    import streamlit.config
    from streamlit.testing.v1 import AppTest

    streamlit.config.set_option("client.showErrorDetails", "full")
    return AppTest.from_file(str(ROOT / "app_pages" / page), default_timeout=180)


def _no_exception(at):
    assert not at.exception, "\n".join(str(e.value) for e in at.exception)


def _text(at) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "success", "info", "warning")
                     for e in getattr(at, kind))


@pytest.fixture
def camera(monkeypatch):
    """streamlit-webrtc's streamer replaced: `camera.playing` is what the page is told."""
    import streamlit_webrtc

    cam = SimpleNamespace(playing=False)
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer",
                        lambda **kw: SimpleNamespace(state=SimpleNamespace(playing=cam.playing)))
    return cam


def test_record_into_a_folder_that_cannot_be_written_says_so_and_the_live_view_goes_on(app_env, camera,
                                                                                      monkeypatch):
    """#41 item 2: FEL_VIDEO_DIR on a read-only filesystem (sysfs: refused even to root): Record gives a
    sentence, not a traceback; nothing is recorded and the camera's view and controls stay."""
    monkeypatch.setenv("FEL_VIDEO_DIR", "/sys/fel-videos")
    camera.playing = True
    at = _app("webcam.py").run()
    _no_exception(at)
    at.button(key="webcam_record").click().run()
    _no_exception(at)
    errors = [str(e.value) for e in at.error]
    assert any("Nothing is being recorded" in e and "/sys/fel-videos" in e and "FEL_VIDEO_DIR" in e for e in errors)
    assert "webcam_recorder" not in at.session_state and list_analyses() == []
    analyser = at.session_state["webcam_analyser"]
    assert analyser.recording is None and not at.button(key="webcam_record").disabled
    assert analyser.process(np.zeros((48, 64, 3), np.uint8)).shape == (48, 64, 3)  # the live view goes on


def test_record_and_stop_on_the_webcam_page_then_the_video_page_shows_it(app_env, camera):
    import cv2

    at = _app("webcam.py").run()
    _no_exception(at)
    text = _text(at)
    assert "Nothing is recorded until you press Record" in text and "FEL_VIDEO_DIR" in text
    assert at.toggle(key="webcam_record_video").value is False  # the annotated video is opt-in
    assert at.button(key="webcam_record").disabled  # no camera yet
    camera.playing = True
    at.run()
    assert not at.button(key="webcam_record").disabled and list_analyses() == []  # nothing recorded yet
    at.button(key="webcam_record").click().run()
    _no_exception(at)
    rec, analyser = at.session_state["webcam_recorder"], at.session_state["webcam_analyser"]
    assert rec.active and analyser.recording is rec and at.toggle(key="webcam_record_video").disabled
    frame = cv2.imread(str(app_env["face"]), cv2.IMREAD_COLOR)
    labelled = []
    analyser.inline = True  # each frame analysed before it is shown: the record is compared frame by frame
    for i in range(12):  # what the frame callback does
        analyser.process(frame, color="bgr", time_s=i / 15)
        labelled.append([f["id"] for f in analyser.snapshot()["faces"]])
    at.button(key="webcam_record_stop").click().run()
    _no_exception(at)
    a = rec.analysis
    assert not rec.active and analyser.recording is None and a.state() == "finished"
    assert [[f["track"] for f in r["faces"]] for r in a.frames()] == labelled
    assert labelled[0] == [] and labelled[1] == [1]  # a face shows from its second detection
    assert "Recording saved" in _text(at)
    assert at.session_state["video_open"] == a.id

    video = _app("video.py").run()
    _no_exception(video)
    assert "source: webcam" in video.selectbox(key="video_pick").format_func(a.id)
    table = next(d.value for d in video.dataframe if "track" in d.value.columns)
    assert list(table["track"]) == ["#1"]
    assert len(video.get("plotly_chart")) >= 1  # the face's timeline
    assert "Frames recorded" in [m.label for m in video.metric]
    video.button(key=f"video_del_{a.id}").click().run()
    _no_exception(video)
    assert list_analyses() == []


def test_a_camera_that_stops_closes_the_recording(app_env, camera):
    camera.playing = True
    at = _app("webcam.py").run()
    at.button(key="webcam_record").click().run()
    rec = at.session_state["webcam_recorder"]
    assert rec.active
    camera.playing = False
    at.run()
    _no_exception(at)
    assert not rec.active and rec.analysis.state() == "finished" and "Recording saved" in _text(at)


def test_a_recording_whose_process_died_shows_as_interrupted_with_its_faces(app_env, app_model_dir):
    """As a killed app leaves it: status running with a dead owner, no tracks.json yet; the Video page says
    interrupted and summarises the faces from frames.jsonl."""
    import cv2

    from core.files import write_json
    from core.predict import load_predictor
    from core.predict.detectors import HaarDetector
    from core.predict.frame import LiveAnalyser
    from core.video.record import LiveRecorder

    predictor, detector = load_predictor(str(app_model_dir / "tiny.pt")), HaarDetector(min_size=0.1)
    la = LiveAnalyser(predictor, detector, inline=True)  # the face is in the record's frames
    rec = LiveRecorder.start([predictor], detector, la.settings)
    la.record_into(rec)
    frame = cv2.imread(str(app_env["face"]), cv2.IMREAD_COLOR)
    for i in range(8):
        la.process(frame, color="bgr", time_s=i / 15)
    a = rec.stop()
    write_json(a.status_path, {**a.status(), "state": "running", "pid": 2 ** 22 + 12345, "pid_start": "1"})
    a.tracks_path.unlink()
    assert a.state() == "interrupted"
    video = _app("video.py").run()
    _no_exception(video)
    assert any("the recording ended without" in w.value for w in video.warning)
    table = next(d.value for d in video.dataframe if "track" in d.value.columns)
    assert list(table["track"]) == ["#1"]
