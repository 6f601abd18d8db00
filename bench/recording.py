"""What recording costs the live webcam stream, as the Webcam page runs it now: the frame callback
(core.predict.frame.LiveAnalyser.process) shows each frame at once and hands it to the analysis thread
(core.predict.newest), and with Record on it also hands the labelled frame to a core.video.record.LiveRecorder,
whose writer thread writes the rows, the thumbnails and (with *Save the annotated video*) an H.264 copy.

A camera is played into the callback at 30 frames/s (640x480 frames composed from sample_images/, one face
and five), with the page's default model (the mirror average) and detector, for `--seconds` per window; the
three modes (recording off, on, on with the annotated video) take turns window by window, `--rounds` times, so
load from elsewhere hits them alike. Per mode: frames shown per second, the callback's mean ms per frame,
labels per second (analyses finished: what recording competes with for the cores), the analysis's ms, the
process's CPU (cores), and the frames the recorder wrote and left out. Nothing asserts; the figures depend on
the machine and its load (printed, and kept with them in results/bench-recording.json).

    python bench/recording.py                    # 3 rounds of 8 s windows, 1 and 5 faces
    python bench/recording.py --rounds 1 --seconds 5 --faces 1
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from inference import WEBCAM_DETECT, compose_frame, face_patches  # noqa: E402  (bench/ is on the path)
from result_file import add_result_arg, save  # noqa: E402

FPS = 30.0
MODES = {"off": None, "on": False, "video": True}  # LiveRecorder's annotate, None: not recording
LABELS = {"off": "recording off", "on": "recording on", "video": "recording on + annotated video"}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=8.0, help="one window of one mode (default 8; the first second "
                   "is not counted)")
    p.add_argument("--rounds", type=int, default=3, help="turns of the three modes (default 3)")
    p.add_argument("--faces", type=int, nargs="+", default=[1, 5], choices=(1, 5), help="faces in the frame")
    add_result_arg(p, "bench-recording")
    return p.parse_args(argv)


def window(frame_bgr, predictor, detector, annotate, seconds: float, root: Path) -> dict:
    """One stream of `seconds` at the camera's rate into a fresh analyser (and recorder): its figures, the first
    second left out (model warm-up, the recorder's first files)."""
    from core.predict.frame import LiveAnalyser, LiveSettings
    from core.video.record import LiveRecorder

    analyser = LiveAnalyser(predictor, detector, LiveSettings(), inline=False)
    rec = None
    if annotate is not None:
        rec = LiveRecorder.start([predictor], detector, analyser.settings, annotate=annotate, root=root)
        analyser.record_into(rec)
    n, start = 0, time.perf_counter()
    callback_ms, counted = [], None
    while True:
        now = time.perf_counter() - start
        if now >= seconds:
            break
        if counted is None and now >= 1.0:
            counted = (n, analyser.analyses, time.perf_counter(), time.process_time(), rec.dropped if rec else 0)
        t0 = time.perf_counter()
        analyser.process(frame_bgr, color="bgr", time_s=n / FPS)
        if counted is not None:
            callback_ms.append((time.perf_counter() - t0) * 1000)
        n += 1
        wait = n / FPS - (time.perf_counter() - start)  # the camera's next frame
        if wait > 0:
            time.sleep(wait)
    n0, a0, t0, c0, d0 = counted
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    out = {"shown_fps": (n - n0) / wall, "callback_ms": statistics.mean(callback_ms),
           "labels_fps": (analyser.analyses - a0) / wall, "analysis_ms": analyser.analysis_ms, "cpu_cores": cpu / wall}
    analyser.wait_idle()
    if rec is not None:
        analyser.record_into(None)
        out["dropped"] = rec.dropped - d0
        rec.stop()
        out["written"] = rec.written
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    from core.predict import CNNPredictor, discover_models, webcam_model
    from core.predict.detectors import create_detector, default_detector_name

    pick = webcam_model([m for m in discover_models(runs="none") if not m.error and m.kind == "emotion"])
    if pick is None:
        raise SystemExit("no shipped emotion model for the webcam")
    predictor = CNNPredictor(pick.path, tta="flip")
    detector_name = default_detector_name()
    detector = create_detector(detector_name, fallback=True, **WEBCAM_DETECT)
    patches = face_patches()
    frames = {n: np.ascontiguousarray(compose_frame(patches, n)[..., ::-1]) for n in args.faces}  # BGR, a camera's
    print(f"torch {torch.__version__}; CPUs: {os.cpu_count()}; load average: "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}; model {predictor.name} + mirror; detector {detector!r}")
    tmp = Path(tempfile.mkdtemp(prefix="fel-bench-rec-"))
    runs = {(n, m): [] for n in frames for m in MODES}
    try:
        window(frames[args.faces[0]], predictor, detector, None, 2.0, tmp)  # warm-up
        for r in range(args.rounds):
            for n, frame in frames.items():
                for mode, annotate in MODES.items():
                    runs[(n, mode)].append(window(frame, predictor, detector, annotate, args.seconds, tmp / f"{r}"))
                    print(f"round {r + 1}, {n} face(s), {LABELS[mode]}: " + ", ".join(
                        f"{k} {v:.2f}" for k, v in runs[(n, mode)][-1].items()), flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    figures = {"seconds": args.seconds, "rounds": args.rounds, "fps": FPS, "model": predictor.name,
               "detector": detector_name, "faces": {}}
    print(f"\n{'faces, mode':<40} {'shown/s':>8} {'callback ms':>12} {'labels/s':>9} {'analysis ms':>12} "
          f"{'CPU cores':>10} {'written':>8} {'dropped':>8}")
    for n in frames:
        rows = figures["faces"][f"{n}"] = {}
        for mode in MODES:
            ws = runs[(n, mode)]
            rows[mode] = row = {k: statistics.mean(w[k] for w in ws) for k in ws[0] if k not in ("written", "dropped")}
            if mode != "off":
                row.update(written=sum(w["written"] for w in ws), dropped=sum(w["dropped"] for w in ws))
            print(f"{f'{n} face(s), {LABELS[mode]}':<40} {row['shown_fps']:>8.1f} {row['callback_ms']:>12.2f} "
                  f"{row['labels_fps']:>9.1f} {row['analysis_ms']:>12.1f} {row['cpu_cores']:>10.2f} "
                  f"{row.get('written', '-'):>8} {row.get('dropped', '-'):>8}")
        off = rows["off"]
        for mode in ("on", "video"):
            rows[mode]["labels_change"] = rows[mode]["labels_fps"] / off["labels_fps"] - 1
            rows[mode]["shown_change"] = rows[mode]["shown_fps"] / off["shown_fps"] - 1
            rows[mode]["cpu_added"] = rows[mode]["cpu_cores"] - off["cpu_cores"]
        print(f"  {n} face(s): labels/s with recording {rows['on']['labels_change']:+.0%}, with the annotated video "
              f"{rows['video']['labels_change']:+.0%}; frames shown/s {rows['on']['shown_change']:+.0%} / "
              f"{rows['video']['shown_change']:+.0%}; CPU added {rows['on']['cpu_added']:+.2f} / "
              f"{rows['video']['cpu_added']:+.2f} cores")
    print(f"(load average now: {', '.join(f'{v:.1f}' for v in os.getloadavg())})")
    save(args, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
