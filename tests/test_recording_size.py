"""The annotated recording at the camera's size, played on the Video page (#42, item 7): a recording made while
the browser sent 320x240 (browsers start a stream small, and lower it when short of CPU or bandwidth) came out
320x240 from a 640x480 camera, without a word, and the annotated video could only be downloaded. A recording
is now kept at the size the page asks of the camera (smaller frames scaled up, their boxes with them), the
Video page says what the browser sent, and plays the H.264 copy in the page."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def camera(monkeypatch):
    """streamlit-webrtc's streamer replaced by one that says it plays (tests/test_app_recording.py)."""
    import streamlit_webrtc

    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer",
                        lambda **kw: SimpleNamespace(state=SimpleNamespace(playing=True)))


def _letterboxed(path, size):
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    w, h = size
    s = min(w / img.shape[1], h / img.shape[0]) * 0.9
    small = cv2.resize(img, (int(img.shape[1] * s), int(img.shape[0] * s)), interpolation=cv2.INTER_AREA)
    out = np.full((h, w, 3), 40, np.uint8)
    y0, x0 = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    out[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
    return out


def test_a_recording_keeps_the_cameras_size_says_what_came_smaller_and_plays_on_the_video_page(app_env, camera):
    import av
    import cv2
    import streamlit.config
    from streamlit.testing.v1 import AppTest

    streamlit.config.set_option("client.showErrorDetails", "full")
    at = AppTest.from_file(str(ROOT / "app_pages" / "webcam.py"), default_timeout=180).run()
    assert not at.exception
    at.toggle(key="webcam_record_video").set_value(True).run()
    at.button(key="webcam_record").click().run()
    rec, analyser = at.session_state["webcam_recorder"], at.session_state["webcam_analyser"]
    analyser.inline = True
    big = _letterboxed(app_env["face"], (640, 480))
    small = cv2.resize(big, (320, 240), interpolation=cv2.INTER_AREA)
    for i in range(16):  # the stream starts small, then the browser raises it to what the page asked
        analyser.process(small if i < 8 else big, color="bgr", time_s=i / 15)
    at.button(key="webcam_record_stop").click().run()
    assert not at.exception
    a = rec.analysis
    clip, status = a.settings()["clip"], a.status()
    assert (clip["width"], clip["height"]) == (640, 480)
    assert status["annotated"]["width"] == 640 and status["annotated"]["height"] == 480
    assert status["frame_sizes"] == {"320x240": 8, "640x480": 8}
    with av.open(str(a.annotated_path())) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == (640, 480)
    assert {f["track"] for r in a.frames() for f in r["faces"]} == {1}  # one face, one track across the change
    boxes = [r["faces"][0]["box"] for r in a.frames() if r["faces"]]
    early, late = boxes[1], boxes[-1]  # a face found on a 320x240 frame, and on a 640x480 one: the same pixels
    assert all(abs(e - v) <= 0.1 * late[2] for e, v in zip(early, late)), (early, late)

    video = AppTest.from_file(str(ROOT / "app_pages" / "video.py"), default_timeout=180).run()
    assert not video.exception
    assert len(video.get("video")) == 1  # the annotated copy plays in the page
    said = " ".join(str(e.value) for e in video.info)
    assert "320×240 frames for 8 of the 16 frames" in said and "640×480" in said
