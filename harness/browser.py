"""Helpers for end-to-end tests in a real browser: serve the Streamlit app in a subprocess, drive it with
Playwright and Debian's Chromium, feed Chromium's fake camera from a .y4m file.

    from harness.browser import require_browser, serve_app, browser_page, goto_page

    def test_something(tmp_path):
        require_browser()
        with serve_app(env={"FEL_MODEL_DIR": str(tmp_path)}) as url, browser_page() as page:
            goto_page(page, url, "Train")
            page.get_by_text("Start training").wait_for()
            screenshot(page, "train")

Without Chromium or Playwright the tests skip locally and FAIL when the `CI` environment variable is set.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("FEL_CHROMIUM", "/usr/bin/chromium")
WEBRTC_IFRAME = "iframe[title='streamlit_webrtc.component.webrtc_streamer']"  # the webcam component's frame
BASE_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
              "--disable-features=WebRtcHideLocalIpsWithMdns"]


def require_browser() -> None:
    """Skip (locally) or fail (when $CI is set) unless Playwright and Chromium are both here."""
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("the playwright Python package (pip install playwright)")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        missing.append(f"Chromium at {CHROMIUM} (apt-get install chromium, or set FEL_CHROMIUM)")
    if missing:
        msg = "browser tests need " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_app(env: dict | None = None, script: str = "Home.py", port: int | None = None, timeout: float = 90,
              log_path: Path | None = None):
    """Run `streamlit run <script>` headless on a free port; yield its URL; stop it afterwards.
    The server's output goes to `log_path` (default test-artifacts/streamlit-<port>.log)."""
    port = port or free_port()
    ARTIFACTS.mkdir(exist_ok=True)
    log_path = Path(log_path or ARTIFACTS / f"streamlit-{port}.log")
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **{k: str(v) for k, v in (env or {}).items()}}
    cmd = [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none", "--server.runOnSave", "false"]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError(f"streamlit did not answer on {url} within {timeout:.0f}s:\n"
                                   f"{log_path.read_text()[-3000:]}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@contextlib.contextmanager
def browser_page(fake_video: Path | None = None, viewport=(1400, 1000), extra_flags=()):
    """A Playwright page in headless Chromium. With `fake_video` (a .y4m), getUserMedia gets that video
    as the camera: this page's context is granted the camera, and any other context of the browser
    (`page.context.browser.new_context()`) is refused it, as a user who says no."""
    from playwright.sync_api import sync_playwright

    flags = list(BASE_FLAGS) + list(extra_flags)
    if fake_video is not None:
        flags += ["--deny-permission-prompts", "--use-fake-device-for-media-stream",
                  f"--use-file-for-fake-video-capture={fake_video}"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=flags)
        try:
            context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
            if fake_video is not None:
                context.grant_permissions(["camera", "microphone"])
            page = context.new_page()
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def wait_for_app(page, timeout: float = 90, expect_text: str | None = None) -> None:
    """Wait until the page has content (`expect_text`, if given, is visible) and the script run is over
    (Streamlit's "Running..." indicator has been gone for a moment)."""
    deadline = time.time() + timeout
    main = "[data-testid='stMain'] [data-testid='stElementContainer']"
    page.wait_for_selector(main, timeout=timeout * 1000)
    if expect_text:
        page.get_by_text(expect_text).first.wait_for(timeout=max(1.0, deadline - time.time()) * 1000)
    quiet = 0
    while time.time() < deadline:
        running = page.locator("[data-testid='stStatusWidget']").count()
        skeleton = page.locator("[data-testid='stSkeleton']").count()
        quiet = quiet + 1 if not running and not skeleton else 0
        if quiet >= 4:  # ~1 s without a running script
            return
        time.sleep(0.25)
    raise TimeoutError("the Streamlit script was still running after %.0fs" % timeout)


def goto_page(page, url: str, name: str = "", timeout: float = 90, expect_text: str | None = None) -> None:
    """Open a page of the multipage app by its URL path ('' = Home, 'Webcam', 'Compare', ...)."""
    page.goto(f"{url}/{name}", wait_until="domcontentloaded")
    wait_for_app(page, timeout, expect_text)


def screenshot(page, name: str, full_page: bool = True, max_height: int = 6000) -> Path:
    """Save test-artifacts/<name>.png. Streamlit scrolls inside its own container, so for a full-page shot
    the viewport is stretched to the content's height for the moment of the shot."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    size = page.viewport_size
    if full_page and size:
        height = page.evaluate("""() => {
            const m = document.querySelector("[data-testid='stMain']");
            const b = document.querySelector("[data-testid='stMainBlockContainer']");
            return Math.max(m ? m.scrollHeight : 0, b ? b.scrollHeight + 100 : 0, window.innerHeight);
        }""")
        page.set_viewport_size({"width": size["width"], "height": int(min(max(height, size["height"]), max_height))})
        time.sleep(0.5)  # let charts re-layout
    try:
        page.screenshot(path=str(path))
    finally:
        if full_page and size:
            page.set_viewport_size(size)
    return path


def assert_no_exception(page) -> None:
    """No Streamlit exception box on the page."""
    n = page.locator("[data-testid='stException']").count()
    assert n == 0, page.locator("[data-testid='stException']").first.inner_text()


# ---------------------------------------------------------------- fake camera

def write_y4m(path: Path, frames, fps: int = 15) -> Path:
    """Write RGB frames (H, W, 3) uint8, all the same even size, as a YUV4MPEG2 4:2:0 file for Chromium."""
    import cv2

    frames = list(frames)
    h, w = frames[0].shape[:2]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            yuv = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420)  # Y plane, then U, then V
            f.write(b"FRAME\n")
            f.write(yuv.tobytes())
    return path


def face_video(image_rgb: np.ndarray, path: Path, seconds: float = 3, fps: int = 15, size=(640, 480)) -> Path:
    """A few seconds of camera-like video from one photo: letterboxed to 640x480, drifting slightly."""
    import cv2

    w, h = size
    ih, iw = image_rgb.shape[:2]
    s = min(w / iw, h / ih) * 0.95
    img = cv2.resize(image_rgb, (int(iw * s) // 2 * 2, int(ih * s) // 2 * 2), interpolation=cv2.INTER_AREA)
    frames = []
    n = max(1, int(seconds * fps))
    for i in range(n):
        canvas = np.full((h, w, 3), 40, np.uint8)
        dx = int(6 * np.sin(2 * np.pi * i / n))
        y0 = (h - img.shape[0]) // 2
        x0 = min(max((w - img.shape[1]) // 2 + dx, 0), w - img.shape[1])
        canvas[y0:y0 + img.shape[0], x0:x0 + img.shape[1]] = img
        frames.append(canvas)
    return write_y4m(path, frames, fps)
