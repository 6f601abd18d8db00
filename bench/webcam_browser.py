"""What the user sees on the Webcam page: frames shown per second in the browser, label updates per second,
the page's per-frame cost, how far the labels trail a moving face, and the CPU of the server and of the
browser, for the path before issue 33 (every frame analysed on the stream's thread: FEL_LIVE_INLINE=1) and
the one after (the newest frame analysed on a thread of its own, every frame shown), in one run.

The app is started as a user starts it (`streamlit run Home.py`, the shipped models, the page's defaults:
its default model and detector), headless Chromium's fake camera plays a 30 frames/s clip made from a
sample photo, the bench presses START, waits for the stream to settle and measures over `--seconds`:

- new/s: distinct camera frames the page shows per second: the frame callback's rate (the stats file
  the test hook writes, harness/webcam_stats.py). The path before runs the callback on streamlit-webrtc's
  processing thread (async_processing), which answers every incoming frame with the last frame done and
  drops the ones it had no time for: the browser then presents about the camera's rate, many frames
  repeats. The path after runs the (now cheap) callback on every frame as it arrives.
- browser/s: what the <video> element presented (getVideoPlaybackQuality), repeats included; captured/s,
  sent/s, decoded/s and what limits the sender (cpu, bandwidth, none): Chromium's own WebRTC statistics
- labels/s: analyses (label updates) per second (the same stats file)
- frame ms: the stream's own time per frame on the server; analysis ms: one analysis
- lag: shown frames between the frame an analysis ran on and the frame its labels are drawn on (averaged
  over the last 30 frames, sampled once a second); x px/frame of the panning clip = how far a box trails
- CPU: cores used by the Streamlit server and by all Chromium processes (from /proc, over the window)

Clips: `happy_obama.jpg` panning left and right (1 face) and `group_four_faces_collage.jpg` (4 faces).
Nothing here asserts; it prints figures and the ratio new / before. Figures depend on the machine and its
load: on a 2-core machine the browser, its video decoder and encoder, and the server share the cores.

    python bench/webcam_browser.py                    # 30 s per measurement, both clips, both paths,
                                                      # and the 1-face clip with a 200 ms slower analysis
    python bench/webcam_browser.py --seconds 10 --clips 1 --slow-ms 0
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from result_file import add_result_arg, save  # (bench/ is on the path when a bench runs)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.browser import WEBRTC_IFRAME, browser_page, goto_page, serve_app, write_y4m  # noqa: E402
from harness.env import hooked_env  # noqa: E402 - the stats file is a hook (harness/webcam_stats.py)

FPS = 30
PATHS = {"before (inline)": "1", "after (newest frame)": "0"}


def clip(photo: Path, path: Path, pan_px: int, seconds: float = 4.0, size=(640, 480)) -> Path:
    """A 30 frames/s camera clip of one photo, letterboxed; with `pan_px`, it swings that far left and right."""
    import cv2

    w, h = size
    rgb = cv2.cvtColor(cv2.imread(str(photo), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    s = min(w / rgb.shape[1], h / rgb.shape[0]) * (0.6 if pan_px else 0.95)
    img = cv2.resize(rgb, (int(rgb.shape[1] * s) // 2 * 2, int(rgb.shape[0] * s) // 2 * 2))
    n = int(seconds * FPS)
    frames = []
    for i in range(n):
        canvas = np.full((h, w, 3), 40, np.uint8)
        dx = int(pan_px * np.sin(2 * np.pi * i / n))
        x0 = min(max((w - img.shape[1]) // 2 + dx, 0), w - img.shape[1])
        y0 = (h - img.shape[0]) // 2
        canvas[y0:y0 + img.shape[0], x0:x0 + img.shape[1]] = img
        frames.append(canvas)
    return write_y4m(path, frames, FPS)


def cpu_seconds(match) -> float:
    """User + system CPU seconds of every process whose command line `match`es."""
    total, tick = 0.0, os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if not match(cmd):
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            continue
    return total


def stats(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


# every RTCPeerConnection a frame of the page makes is kept, so its own statistics can be read
KEEP_CONNECTIONS = """(() => { const Original = window.RTCPeerConnection; if (!Original || window.__felPcs) return;
  window.__felPcs = [];
  window.RTCPeerConnection = function (...args) { const pc = new Original(...args); window.__felPcs.push(pc); return pc; };
  window.RTCPeerConnection.prototype = Original.prototype; Object.setPrototypeOf(window.RTCPeerConnection, Original);
})();"""
RTC_STATS = """async () => { const out = {}; for (const pc of (window.__felPcs || [])) { (await pc.getStats()).forEach(s => {
  if (s.kind !== 'video') return;
  if (s.type === 'media-source') out.captured = s.frames;
  if (s.type === 'outbound-rtp') { out.sent = s.framesSent; out.limited = s.qualityLimitationReason;
                                   out.sent_size = s.frameWidth + 'x' + s.frameHeight; }
  if (s.type === 'inbound-rtp') out.decoded = s.framesDecoded; }); } return out; }"""


def rtc_stats(page) -> dict:
    """The browser's own WebRTC counters: frames captured from the camera, sent (encoded), decoded (the
    annotated stream coming back), and why the sender holds back, if it does (cpu, bandwidth)."""
    out = {}
    for frame in page.frames:
        try:
            out.update(frame.evaluate(RTC_STATS) or {})
        except Exception:  # noqa: BLE001 - a frame being replaced
            continue
    return out


def video_frames(page) -> int:
    """Frames the page's <video> (in the webrtc component's iframe) has presented so far."""
    for frame in page.frames:
        try:
            n = frame.evaluate("() => { const v = document.querySelector('video'); "
                               "return v ? v.getVideoPlaybackQuality().totalVideoFrames : -1; }")
        except Exception:  # noqa: BLE001 - a frame being replaced
            continue
        if n >= 0:
            return n
    return 0


def measure(video: Path, inline: str, seconds: float, slow_ms: float = 0) -> dict:
    """One app, one browser, one clip: START, settle, then the window's figures."""
    with tempfile.TemporaryDirectory() as tmp:
        stats_path = Path(tmp) / "stats.json"
        env = hooked_env(FEL_LIVE_INLINE=inline, FEL_WEBCAM_STATS=stats_path, FEL_RUNS_DIR=Path(tmp) / "runs",
                         FEL_VIDEO_DIR=Path(tmp) / "videos", **({"FEL_SLOW_ANALYSIS_MS": slow_ms} if slow_ms else {}))
        with serve_app(env=env, log_path=Path(tmp) / "streamlit.log") as url, \
                browser_page(fake_video=video) as page:
            port = url.rsplit(":", 1)[1]
            server = lambda cmd: "streamlit run" in cmd and f"--server.port {port}" in cmd  # noqa: E731
            browser = lambda cmd: "chrom" in cmd.split(" ", 1)[0].lower()  # noqa: E731 - every Chromium process
            page.context.add_init_script(KEEP_CONNECTIONS)
            goto_page(page, url, "Webcam", expect_text="Press START")
            page.frame_locator(WEBRTC_IFRAME).get_by_role("button", name="START").click()
            deadline = time.time() + 120
            while stats(stats_path).get("frames", 0) < 3 * FPS and time.time() < deadline:
                time.sleep(0.5)
            time.sleep(3)  # settle
            s0, v0, r0, t0 = stats(stats_path), video_frames(page), rtc_stats(page), time.time()
            c0s, c0b = cpu_seconds(server), cpu_seconds(browser)
            lags = []
            while time.time() - t0 < seconds:
                time.sleep(1)
                lags.append(stats(stats_path).get("label_lag", 0.0))
            s1, v1, r1, wall = stats(stats_path), video_frames(page), rtc_stats(page), time.time() - t0
            c1s, c1b = cpu_seconds(server), cpu_seconds(browser)
    return {"new_fps": (s1.get("frames", 0) - s0.get("frames", 0)) / wall, "browser_fps": (v1 - v0) / wall,
            "labels_fps": (s1.get("analyses", 0) - s0.get("analyses", 0)) / wall,
            "frame_ms": s1.get("latency_ms", float("nan")), "analysis_ms": s1.get("analysis_ms", float("nan")),
            "lag_frames": float(np.mean(lags)) if lags else float("nan"), "faces": s1.get("faces"),
            "model": s1.get("model"), "detector": s1.get("detector"),
            **{f"{k}_fps": (r1[k] - r0[k]) / wall for k in ("captured", "sent", "decoded")
               if isinstance(r1.get(k), (int, float)) and isinstance(r0.get(k), (int, float))},
            "sender_limited_by": r1.get("limited"), "sent_size": r1.get("sent_size"),
            "server_cpu": (c1s - c0s) / wall, "browser_cpu": (c1b - c0b) / wall, "seconds": wall}


def _say(key: str, r: dict) -> None:
    print(f"{key}: " + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in r.items()),
          flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="the measuring window per path and clip")
    ap.add_argument("--clips", nargs="+", choices=["1", "4"], default=["1", "4"], help="faces in the clip")
    ap.add_argument("--pan", type=int, default=120, help="how far the 1-face clip swings (px, each way)")
    ap.add_argument("--slow-ms", type=float, default=200,
                    help="also measure the 1-face clip with every analysis this much slower (a slow model); 0: not")
    ap.add_argument("--json", help="also write the figures to this file")
    add_result_arg(ap, "bench-webcam-browser")
    args = ap.parse_args(argv)
    samples = ROOT / "sample_images"
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        clips = {"1": clip(samples / "happy_obama.jpg", Path(tmp) / "one.y4m", args.pan),
                 "4": clip(samples / "group_four_faces_collage.jpg", Path(tmp) / "four.y4m", 0)}
        for faces in args.clips:
            for name, inline in PATHS.items():
                r = results[f"{faces} face(s), {name}"] = measure(clips[faces], inline, args.seconds)
                _say(f"{faces} face(s), {name}", r)
        if args.slow_ms:
            for name, inline in PATHS.items():
                key = f"1 face, +{args.slow_ms:g} ms analysis, {name}"
                _say(key, results.setdefault(key, measure(clips["1"], inline, args.seconds, args.slow_ms)))
    px_per_frame = 4 * args.pan / (4.0 * FPS)  # the pan's mean speed: x = A sin(2 pi i / n) moves 4A / n a frame
    print(f"\nWebcam page in headless Chromium, fake camera at {FPS} frames/s, {args.seconds:.0f} s windows, "
          f"{os.cpu_count()} CPU cores (browser included)")
    print(f"{'clip, path':52s} {'new/s':>8s} {'browser/s':>9s} {'labels/s':>9s} {'frame ms':>9s} "
          f"{'analysis ms':>12s} {'lag fr':>7s} {'server CPU':>11s} {'browser CPU':>12s}")
    for key, r in results.items():
        print(f"{key:52s} {r['new_fps']:8.1f} {r['browser_fps']:9.1f} {r['labels_fps']:9.1f} {r['frame_ms']:9.1f} "
              f"{r['analysis_ms']:12.1f} {r['lag_frames']:7.2f} {r['server_cpu']:11.2f} {r['browser_cpu']:12.2f}")
    for faces in args.clips:
        before, after = (results.get(f"{faces} face(s), {n}") for n in PATHS)
        if before and after and before["new_fps"] > 0:
            print(f"{faces} face(s): new frames/s after / before = {after['new_fps'] / before['new_fps']:.2f}x, "
                  f"labels/s {after['labels_fps'] / max(before['labels_fps'], 1e-9):.2f}x")
    if "1" in args.clips:
        print(f"(the 1-face clip pans at about {px_per_frame:.1f} px per frame on average: lag x that = how far "
              "a box trails its face)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    slug = {"before (inline)": "inline", "after (newest frame)": "newest"}  # results/ keys: one word each
    save(args, {"fps": FPS, "seconds": args.seconds, "pan_px_per_frame": px_per_frame, "rows": {
        ("1-face-slow-" if "ms analysis" in key else f"{key[0]}-face{'s' * (key[0] != '1')}-")
        + slug[key.rpartition(", ")[2]]: {"label": key, **r} for key, r in results.items()}})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
