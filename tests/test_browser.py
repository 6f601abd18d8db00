"""End to end in a real browser: `streamlit run Home.py` in a subprocess, headless Chromium driven by
Playwright. Home, Compare and Webcam load and show their main elements; the Webcam page gets Chromium's
fake camera (a .y4m made from a face photo), the test presses START, and the server must process the
frames and find the face; a live session is recorded for about 5 s and opened on the Video page.
Screenshots go to test-artifacts/.

Skipped locally without Playwright/Chromium; in CI ($CI set) their absence fails."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from tests.browser import (ROOT, assert_no_exception, browser_page, face_video, goto_page, require_browser,
                           screenshot, serve_app, wait_for_app)
from tests.helpers import hooked_env, wait_for

pytestmark = pytest.mark.browser

WEBRTC_IFRAME = "iframe[title='streamlit_webrtc.component.webrtc_streamer']"


@pytest.fixture(scope="module")
def served(tmp_path_factory, app_model_dir, face_photo):
    """The app on a free port (our tiny model, DeepFace without weights, a webcam stats file) and a
    Chromium page whose camera plays a face video."""
    require_browser()
    import cv2

    tmp = tmp_path_factory.mktemp("browser")
    stats = tmp / "webcam_stats.json"
    df_home = tmp / "deepface-home"
    df_home.mkdir()
    env = hooked_env(FEL_WEBCAM_STATS=stats,  # the webcam analyser writes its counters there (tests/webcam_stats.py)
                     FEL_MODEL_DIR=app_model_dir, DEEPFACE_HOME=df_home, FEL_RUNS_DIR=tmp / "runs",
                     FEL_GRAPHS_DIR=tmp / "graphs", FEL_CACHE_DIR=tmp / "cache", FEL_VIDEO_DIR=tmp / "videos")
    if not any(p.suffix.lower() in (".jpg", ".jpeg", ".png") for p in (ROOT / "sample_images").glob("*")):
        samples = tmp / "samples"
        samples.mkdir()
        shutil.copy(face_photo, samples / face_photo.name)
        env["FEL_SAMPLE_DIR"] = str(samples)
    rgb = cv2.cvtColor(cv2.imread(str(face_photo), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    video = face_video(rgb, tmp / "face.y4m", seconds=3, fps=15)
    with serve_app(env=env, log_path=ROOT / "test-artifacts" / "streamlit-browser-test.log") as url, \
            browser_page(fake_video=video) as page:
        yield {"url": url, "page": page, "stats": stats, "videos": tmp / "videos"}


def test_home_page(served):
    page = served["page"]
    goto_page(page, served["url"], "", expect_text="At a glance")
    assert_no_exception(page)
    assert page.get_by_role("heading", name="Facial Emotion Lab").is_visible()
    assert page.locator("[data-testid='stDataFrame']").count() == 1  # the models table (drawn on a canvas)
    assert page.get_by_text("Your models").first.is_visible()
    for name in ("Webcam", "Compare"):  # links to the pages
        assert page.locator(f"[data-testid='stPageLink'] >> text={name}").count() >= 1
    screenshot(page, "home")


def test_compare_page(served):
    page = served["page"]
    goto_page(page, served["url"], "Compare", expect_text="All results")
    assert_no_exception(page)
    assert page.get_by_text("Face 1", exact=True).first.is_visible()
    assert page.get_by_text("face(s) found").first.is_visible()
    assert page.get_by_text("Download as CSV").is_visible()
    assert page.locator("[data-testid='stPlotlyChart']").count() >= 1
    screenshot(page, "compare")


def _stats_when(stats: Path, done, timeout: float = 90) -> dict:
    """The webcam's stats file once `done(stats)` holds (or the last one read, after `timeout` s)."""
    deadline = time.time() + timeout
    s = {}
    while time.time() < deadline:
        if stats.exists():
            try:
                s = json.loads(stats.read_text())
            except ValueError:
                s = {}
            if done(s):
                break
        time.sleep(0.5)
    return s


def _start_camera(page, url: str, stats: Path):
    """The Webcam page with the fake camera started; the webrtc iframe's locator and the stats once frames
    with a face came."""
    before = _stats_when(stats, lambda s: True, 0).get("frames", 0) if stats.exists() else 0
    goto_page(page, url, "Webcam", expect_text="Press START")
    assert_no_exception(page)
    frame = page.frame_locator(WEBRTC_IFRAME)
    frame.get_by_role("button", name="START").click()
    return frame, _stats_when(stats, lambda s: s.get("frames", 0) >= before + 15 and s.get("max_faces", 0) >= 1)


def test_webcam_page_processes_fake_camera_frames(served):
    page, stats = served["page"], served["stats"]
    frame, s = _start_camera(page, served["url"], stats)
    assert s.get("frames", 0) >= 15, f"the server processed too few frames: {s}"
    assert s.get("max_faces", 0) >= 1 and s.get("frames_with_faces", 0) >= 5, f"no face found: {s}"
    assert s.get("error") is None, s
    page.get_by_text("faces: 1").first.wait_for(timeout=30_000)  # the live panel beside the video
    time.sleep(1.5)
    screenshot(page, "webcam", full_page=False)
    # the annotated video really plays in the page
    playing = frame.locator("video").first.evaluate("v => v.readyState >= 2 && v.videoWidth > 0")
    assert playing
    frame.get_by_role("button", name="STOP").click()


def test_a_live_session_recorded_then_opened_on_the_video_page(served):
    """About 5 s recorded from the fake camera; the Video page shows it with its per-face table and timeline."""
    from playwright.sync_api import expect

    from core.video import list_analyses

    page, stats = served["page"], served["stats"]
    frame, s = _start_camera(page, served["url"], stats)
    assert s.get("max_faces", 0) >= 1, f"no face found: {s}"
    assert list_analyses(served["videos"]) == []  # nothing recorded before Record
    record = page.get_by_role("button", name="Record", exact=True)
    record.wait_for()
    expect(record).to_be_enabled(timeout=60_000)  # once the page knows the camera plays
    record.click()
    page.get_by_text("frames written").first.wait_for(timeout=60_000)
    (rec,) = list_analyses(served["videos"])
    wait_for(lambda: rec.frames() and rec.frames()[-1]["time_s"] >= 5.0, 120, "about 5 s of recorded frames")
    screenshot(page, "webcam-recording", full_page=False)
    page.get_by_role("button", name="Stop recording").click()
    page.get_by_text("Recording saved").first.wait_for(timeout=60_000)
    assert_no_exception(page)
    frame.get_by_role("button", name="STOP").click()
    assert rec.state() == "finished" and rec.status()["source"] == "webcam"
    rows = rec.frames()
    assert len(rows) >= 10 and sum(1 for r in rows if r["faces"]) >= 5, f"{len(rows)} frames recorded"

    wait_for_app(page)  # the camera's stop reran the page
    page.get_by_text("Open it on the Video page").first.click()
    try:
        page.get_by_text("Timelines").first.wait_for(timeout=120_000)
        wait_for_app(page)
    finally:
        screenshot(page, "video-webcam-recording")
    assert_no_exception(page)
    assert "source webcam" in page.locator(".fel-kv").first.inner_text()  # the recording's header
    assert page.get_by_text("Face #1").first.is_visible()
    assert page.locator("[data-testid='stDataFrame']").count() >= 1  # the per-face table
    assert page.locator("[data-testid='stPlotlyChart']").count() >= 1  # the face's timeline
