"""Phantom faces on the Webcam (#42, item 2): boxes shown where no face is, per minute, on a clip whose faces are
known. The frame engine the Webcam page runs (core.predict.frame, its default settings and detector) is fed a
clip made from the sample photos (core.video.synth.cut_faces): one face, then three others elsewhere, cut
abruptly from one scene to the other every 4 s, as the fake camera that showed the problem alternated photos.
Frames go through a VP8 encode and decode first, as WebRTC delivers them (`--kbps 0`: untouched), and the
engine analyses every 3rd frame (10 analyses a second from a 30 frames/s camera, what the page reached on a
2-core machine; `--every 1`: every frame).

Measured for the engine as it is (a track shown once two detections found it, boxes rechecked between
detections) and with those checks off (`confirm=1, min_score=0, recheck=False`: a track shown on its first
detection and kept, unchecked, until a detection misses it twice, as before #42). Scored by
core.video.phantoms: phantom tracks (a track shown at least once where no face is) per minute, seconds of
boxes on no face per minute, the known faces found, and how soon. Written to results/phantom-tracks.json.

    python bench/phantom_tracks.py                     # 60 s, VP8 at 500 kbit/s, every 3rd frame
    python bench/phantom_tracks.py --seconds 20 --kbps 0 --every 1
"""
from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.predict.detectors import create_detector  # noqa: E402
from core.predict.frame import FramePipeline, LiveSettings  # noqa: E402
from core.results import write_result  # noqa: E402
from core.video.phantoms import score_shown  # noqa: E402
from core.video.synth import cut_faces, face_patches, scene_frames  # noqa: E402

FPS, SIZE = 30, (640, 480)
ENGINES = {"as it is": LiveSettings(),
           "without the checks (as before #42)": LiveSettings(confirm=1, min_score=0.0, recheck=False)}


def through_vp8(frames, kbps: int):
    """(time, RGB frame) pairs as a WebRTC receiver gets them: VP8-encoded at `kbps` and decoded again."""
    import av

    enc = av.CodecContext.create("libvpx", "w")
    enc.width, enc.height, enc.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
    enc.time_base, enc.bit_rate = Fraction(1, FPS), kbps * 1000
    enc.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    dec = av.CodecContext.create("libvpx", "r")
    for i, (t, rgb) in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = i
        for packet in enc.encode(frame):
            for out in dec.decode(packet):
                yield t, out.to_ndarray(format="rgb24")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--hold", type=float, default=4.0, help="seconds between cuts")
    ap.add_argument("--kbps", type=int, default=500, help="VP8 bit rate the frames go through (0: none)")
    ap.add_argument("--every", type=int, default=3, help="analyse every Nth camera frame")
    ap.add_argument("--no-write", action="store_true", help="print only, write nothing under results/")
    args = ap.parse_args(argv)
    faces = cut_faces(args.hold, args.seconds)
    frames = scene_frames(face_patches(ROOT / "sample_images"), faces, args.seconds, FPS, SIZE)
    if args.kbps:
        frames = through_vp8(frames, args.kbps)
    detector = create_detector(None, fallback=True, min_size=0.10, detect_width=480)  # the Webcam page's
    pipes = {name: FramePipeline(detector, [], settings) for name, settings in ENGINES.items()}
    shown = {name: [] for name in pipes}
    for i, (t, rgb) in enumerate(frames):
        if i % max(1, args.every):
            continue
        for name, pipe in pipes.items():
            shown[name].append((t, [(f["id"], f["box"]) for f in pipe.step(rgb)]))
    figures = {name: score_shown(rows, faces, SIZE) for name, rows in shown.items()}
    print(f"{args.seconds:.0f} s, a cut every {args.hold:g} s, {'VP8 at %d kbit/s' % args.kbps if args.kbps else 'raw'}"
          f", every {args.every} frame(s) analysed, detector {detector.detector_name}")
    keys = ("phantom_tracks_per_min", "off_face_box_s_per_min", "tracks", "face_showings_found", "face_showings",
            "face_frames_found", "mean_delay_s", "max_delay_s")
    print(f"{'engine':40s} " + " ".join(f"{k:>14s}" for k in keys))
    for name, f in figures.items():
        print(f"{name:40s} " + " ".join(f"{str(f.get(k)):>14s}" for k in keys))
    if not args.no_write:
        path = write_result("phantom-tracks", figures, clip={
            "seconds": args.seconds, "cut_every_s": args.hold, "fps": FPS, "size": list(SIZE), "vp8_kbps": args.kbps,
            "analysed_every": args.every, "detector": detector.detector_name,
            "faces": "core.video.synth.cut_faces: 1 face, then 3 others elsewhere"})
        print(f"written: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
