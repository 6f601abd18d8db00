"""Video analysis speed and memory: core.video (the Video page and `python -m core video`) on clips made
from the sample photos, against DeepFace.analyze on the same frames.

Clips: 640x480 at 30 frames/s, written with PyAV (H.264), faces from sample_images/ pasted on a soft
background and drifting: one with one face, one with four. Each is analysed at 10 frames/s with the
real-time model (core.predict.webcam_model, the Webcam page's), the default detector, as the CLI does it
(`analyse_video`: decoding every frame, detection, tracking, crops, the model, writing the folder). Printed:
analysed frames/s, and the ratio clip duration / wall time (above 1: faster than real time). Then the
same analysed frames through DeepFace.analyze (its own detector and model, core.predict.deepface; without
its real weights here, untrained ones are written to a temporary DEEPFACE_HOME: speed does not depend on
the values), ms per frame, and the ratio per analysed frame. Last, the peak RSS of a whole analysis of a
10 s and a 60 s clip, each in its own process (memory should not grow with the clip's length).

Targets: faster than real time at 10 frames/s with one face on 2 cores; >= 3x faster per analysed frame
than DeepFace.analyze. Nothing asserts; the machine's load is printed with the figures.

    python bench/video.py                       # 10 s clips, 30 DeepFace frames per clip, RSS at 10 s and 60 s
    python bench/video.py --seconds 20 --no-deepface --no-rss
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from deepface_ready import ready_deepface  # noqa: E402  (bench/ is on the path when a bench runs)
from result_file import add_result_arg, save  # noqa: E402

RATE = 10.0
REALTIME_TARGET = 1.0
DEEPFACE_RATIO_TARGET = 3.0


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Targets: faster than real time at 10 frames/s with one face; "
                                       ">= 3x faster per analysed frame than DeepFace.analyze.")
    p.add_argument("--seconds", type=float, default=10.0, help="length of the timed clips (default 10)")
    p.add_argument("--deepface-frames", type=int, default=30,
                   help="analysed frames per clip also given to DeepFace.analyze (default 30)")
    p.add_argument("--no-deepface", action="store_true", help="skip DeepFace (no TensorFlow import)")
    p.add_argument("--no-rss", action="store_true", help="skip the peak-memory runs")
    p.add_argument("--annotate", action="store_true", help="also time the one-face clip with the annotated copy")
    p.add_argument("--rss-child", metavar="CLIP", help=argparse.SUPPRESS)  # internal: one analysis, print its RSS
    add_result_arg(p, "bench-video")
    return p.parse_args(argv)


# ---------------------------------------------------------------- clips

def four_faces():
    from core.video.synth import Face

    spots = [(0.25, 0.28), (0.75, 0.28), (0.25, 0.74), (0.75, 0.74)]
    return [Face(i, cx=lambda t, x=x, i=i: x + 0.02 * np.sin(t + i), cy=lambda t, y=y: y,
                 side=lambda t: 0.42) for i, (x, y) in enumerate(spots)]


def one_face():
    from core.video.synth import Face

    return [Face(0, cx=lambda t: 0.5 + 0.12 * np.sin(t / 2), cy=lambda t: 0.5,
                 side=lambda t: 0.6 + 0.08 * np.sin(t / 3))]


def make_clip(path: Path, faces, seconds: float, patches) -> Path:
    from core.video.synth import scene_frames, write_clip

    return write_clip(path, scene_frames(patches, faces, seconds, 30, (640, 480)), 30)


# ---------------------------------------------------------------- peak memory, in a process of its own

def rss_child(clip: str) -> int:
    """One analysis in this process; prints its RSS figures as JSON."""
    from core.video import VideoSettings, analyse_video, load_models

    predictors = load_models([])
    base = _rss_mb()
    t0 = time.perf_counter()
    a = analyse_video(clip, VideoSettings(fps=RATE), root=Path(tempfile.mkdtemp(prefix="fel-bench-rss-")),
                      predictors=predictors)
    wall = time.perf_counter() - t0
    peak = _status_mb("VmHWM")  # this process's own peak (ru_maxrss would count the parent's, kept over exec)
    print(json.dumps({"before_mb": base, "peak_mb": peak, "analysed": len(a.frames()), "wall_s": wall}))
    shutil.rmtree(a.dir.parent, ignore_errors=True)
    return 0


def _status_mb(field: str) -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # no /proc: the best there is


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def measure_rss(clip: Path) -> dict:
    out = subprocess.run([sys.executable, __file__, "--rss-child", str(clip)], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- DeepFace

def analysed_frames(clip: Path, n: int) -> list[np.ndarray]:
    """The first `n` frames the analysis at RATE looks at (the same pictures, decoded the same way)."""
    from core.video import VideoReader
    from core.video.analyse import _Due

    due, out = _Due(RATE), []
    for fr in VideoReader(clip).frames(lambda i, t: due(t)):
        if fr.image is not None:
            due.advance(fr.time_s)
            out.append(fr.image)
            if len(out) >= n:
                break
    return out


def time_deepface(df, frames) -> tuple[float, float]:
    """(median wall ms, mean CPU ms) per frame of DeepFace.analyze (two untimed frames first)."""
    for f in frames[:2]:
        df.analyse(f, color="rgb")
    times = []
    c0 = time.process_time()
    for f in frames:
        t0 = time.perf_counter()
        df.analyse(f, color="rgb")
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000.0, 1000.0 * (time.process_time() - c0) / max(len(frames), 1)


# ---------------------------------------------------------------- ours

def time_ours(clip: Path, predictors, detector, annotate: bool = False) -> dict:
    from core.video import VideoSettings, analyse_video

    root = Path(tempfile.mkdtemp(prefix="fel-bench-video-"))
    try:
        c0, t0 = time.process_time(), time.perf_counter()
        a = analyse_video(clip, VideoSettings(fps=RATE, annotate=annotate), root=root, predictors=predictors,
                          detector=detector)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rows, tracks = a.frames(), a.tracks()
        duration = a.settings()["clip"]["duration_s"]
        faces = statistics.mean(len(r["faces"]) for r in rows) if rows else 0.0
        return {"wall_s": wall, "cpu_s": cpu, "analysed": len(rows), "tracks": len(tracks), "faces": faces,
                "duration_s": duration, "fps": len(rows) / wall, "realtime": duration / wall,
                "realtime_cpu": duration / cpu, "cpu_ms_per_analysed": 1000.0 * cpu / max(len(rows), 1),
                "ms_per_analysed": 1000.0 * wall / max(len(rows), 1)}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.rss_child:
        return rss_child(args.rss_child)
    os.environ.setdefault("FEL_TF_THREADS", "2")
    import cv2
    import torch

    from core.settings import live_threads
    from core.video import load_models
    from core.video.analyse import VideoSettings, make_detector
    from core.video.synth import face_patches

    print(f"torch {torch.__version__}; analysis torch threads: {live_threads()} (FEL_LIVE_THREADS); OpenCV threads: "
          f"{cv2.getNumThreads()}; CPUs: {os.cpu_count()}; load average: "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    tmp = Path(tempfile.mkdtemp(prefix="fel-bench-"))
    try:
        patches = face_patches(ROOT / "sample_images")
        t0 = time.perf_counter()
        clips = {1: make_clip(tmp / "one.mp4", one_face(), args.seconds, patches),
                 4: make_clip(tmp / "four.mp4", four_faces(), args.seconds, patches)}
        print(f"clips: 640x480, 30 frames/s, {args.seconds:g} s, H.264 (made in {time.perf_counter() - t0:.1f} s); "
              f"analysed at {RATE:g} frames/s")
        predictors = load_models([])
        detector, note = make_detector(VideoSettings())
        print(f"model: {predictors[0].name} (the real-time model); detector: "
              f"{getattr(detector, 'detector_name', type(detector).__name__)}" + (f" ({note})" if note else ""))
        time_ours(clips[1], predictors, detector)  # warm-up: first forward passes, first detections
        ours = {n: time_ours(c, predictors, detector) for n, c in clips.items()}
        figures = {"seconds": args.seconds, "rate": RATE, "model": predictors[0].name,
                   "detector": getattr(detector, "detector_name", type(detector).__name__),
                   "ours": {f"{n}_faces": r for n, r in ours.items()}}
        print(f"\n{'clip':<10} {'tracks':>6} {'faces/fr':>8} {'analysed':>8} {'wall s':>7} {'cpu s':>6} "
              f"{'frames/s':>8} {'ms/frame':>8} {'cpu ms':>7} {'x real time':>11} {'(cpu)':>6}")
        for n, r in ours.items():
            print(f"{n} face(s) {r['tracks']:>7} {r['faces']:>8.1f} {r['analysed']:>8} {r['wall_s']:>7.1f} "
                  f"{r['cpu_s']:>6.1f} {r['fps']:>8.1f} {r['ms_per_analysed']:>8.1f} {r['cpu_ms_per_analysed']:>7.1f} "
                  f"{r['realtime']:>11.2f} {r['realtime_cpu']:>6.2f}")
        print("(x real time = clip duration / wall time; (cpu) = clip duration / CPU time of the analysis, what it "
              "runs at with a core to itself)")
        if args.annotate:
            r = figures["annotated_1_face"] = time_ours(clips[1], predictors, detector, annotate=True)
            print(f"1 face + annotated H.264 copy: {r['fps']:.1f} analysed frames/s, {r['realtime']:.2f}x real time")
        rt = ours[1]["realtime"]
        print(f"\ntarget: faster than real time at {RATE:g} frames/s with one face: {rt:.2f}x wall "
              f"({ours[1]['realtime_cpu']:.2f}x by CPU time) -> {'MET' if rt >= REALTIME_TARGET else 'NOT MET'}")

        if not args.no_deepface:
            df = ready_deepface(tmp)
            if df is not None:
                ratios = {}
                for n, clip in clips.items():
                    frames = analysed_frames(clip, args.deepface_frames)
                    ms, cpu = time_deepface(df, frames)
                    ratios[n] = ms / ours[n]["ms_per_analysed"]
                    figures.setdefault("deepface", {})[f"{n}_faces"] = {"ms": ms, "cpu_ms": cpu, "frames": len(frames),
                                                                        "ratio": ratios[n]}
                    print(f"DeepFace.analyze, {n} face(s): {ms:.1f} ms per frame, {cpu:.1f} ms CPU ({len(frames)} "
                          f"frames); ours {ours[n]['ms_per_analysed']:.1f} ms, {ours[n]['cpu_ms_per_analysed']:.1f} ms "
                          f"CPU per analysed frame (decoding included) -> {ratios[n]:.1f}x wall, "
                          f"{cpu / ours[n]['cpu_ms_per_analysed']:.1f}x CPU")
                worst = min(ratios.values())
                print(f"target: >= {DEEPFACE_RATIO_TARGET:g}x faster per analysed frame than DeepFace.analyze: "
                      f"{worst:.1f}x at worst -> {'MET' if worst >= DEEPFACE_RATIO_TARGET else 'NOT MET'}")

        if not args.no_rss:
            print("\npeak memory of one whole analysis (one face, its own process):")
            rss = {}
            for secs in (10, 60):
                clip = make_clip(tmp / f"rss-{secs}.mp4", one_face(), secs, patches)
                rss[secs] = r = measure_rss(clip)
                figures.setdefault("rss", {})[f"{secs}_s"] = r
                if "error" in r:
                    print(f"  {secs:>3} s clip: failed ({r['error']})")
                    continue
                print(f"  {secs:>3} s clip: peak RSS {r['peak_mb']:.0f} MB (after loading the model "
                      f"{r['before_mb']:.0f} MB), {r['analysed']} frames analysed in {r['wall_s']:.1f} s")
                clip.unlink(missing_ok=True)
            if all("error" not in r for r in rss.values()):
                figures["rss"]["ratio"] = rss[60]["peak_mb"] / rss[10]["peak_mb"]
                print(f"  ratio peak RSS 60 s / 10 s: {rss[60]['peak_mb'] / rss[10]['peak_mb']:.2f} "
                      "(frames are streamed: memory does not grow with the clip)")
        save(args, figures)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"(load average now: {', '.join(f'{v:.1f}' for v in os.getloadavg())}; figures from a busy machine are "
          "slower than the code)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
