"""`python -m core video CLIP [--model M ...] [--detector D] [--fps 10] [--out DIR] [--annotate]
[--max-minutes N] [--json]`

Every face of a clip followed through it, each model's emotions on every analysed frame, written to an
analysis folder (core.video.store: frames.jsonl, tracks.json, thumbnails, the annotated copy); then the
per-track summary as a table (or JSON) and the folder. A tqdm bar on stderr meanwhile; the App's Video
page starts this same command in the background (--out its folder, --no-progress). Errors are one line on
stderr and exit code 2; Ctrl-C stops it (exit 130) keeping what it did.
"""
from __future__ import annotations

import argparse
import sys

from ..files import to_json
from ..labels import TTA_CHOICES
from .common import command_parser, fail, parse


def _rate(text: str):
    if str(text).strip().lower() in ("all", "0"):
        return None
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of frames per second (or 'all')") from None
    if not 0 < v <= 60:
        raise argparse.ArgumentTypeError("the analysis rate is between 0 and 60 frames/s, or 'all'")
    return v


def build_parser() -> argparse.ArgumentParser:
    from ..predict.detectors import list_detectors
    from ..video.decode import DEFAULT_MAX_MINUTES

    p = command_parser("video", "Follow every face through a video clip and give each model's emotions over time.",
                       ["talk.mp4", "talk.mp4 --model seed-vgg --model stress --fps 5 --annotate",
                        "long.mkv --max-minutes 45 --json > talk.json"])
    p.add_argument("clip", metavar="CLIP", help="a video file: mp4, mov, m4v, webm, mkv or avi")
    p.add_argument("--model", "-m", action="append", default=None, metavar="MODEL",
                   help="a checkpoint path, a model name in model/ or a run id, or 'deepface'; repeat for "
                        "several; default: the real-time model (the Webcam page's)")
    p.add_argument("--detector", choices=list_detectors(), default=None,
                   help="face detector (default: the most accurate one installed)")
    p.add_argument("--fps", type=_rate, default=10.0, metavar="N",
                   help="frames analysed per second of video, or 'all' for every frame (default 10)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="the analysis folder (new or empty; default: a new folder in the video folder, "
                        "FEL_VIDEO_DIR)")
    p.add_argument("--annotate", action="store_true",
                   help="also write a copy of the clip with every face boxed and labelled (H.264 MP4)")
    p.add_argument("--max-minutes", type=float, default=DEFAULT_MAX_MINUTES, metavar="N",
                   help=f"refuse clips longer than this (default {DEFAULT_MAX_MINUTES:g}; 0: no limit)")
    p.add_argument("--json", action="store_true", help="print JSON (settings, status, tracks) instead of a table")
    p.add_argument("--tta", choices=TTA_CHOICES, default="none",
                   help="test-time augmentation for our CNNs (default: none)")
    p.add_argument("--min-face", type=float, default=0.10,
                   help="the smallest face, as a fraction of the frame's short side (default 0.10, as the webcam)")
    p.add_argument("--detect-width", type=int, default=480,
                   help="detect on a copy at most this wide, in pixels (default 480, as the webcam)")
    p.add_argument("--smoothing", type=int, default=3,
                   help="average each face's probabilities over about this many analysed frames (default 3)")
    p.add_argument("--no-align", action="store_true", help="do not rotate faces upright on their eye line")
    p.add_argument("--tilted", action="store_true",
                   help="also search each frame turned by 25 degrees either way, for tilted faces (slower)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (the page's background jobs)")
    return p


def _fmt_time(s) -> str:
    if s is None:
        return "-"
    m, sec = divmod(float(s), 60)
    return f"{int(m)}:{sec:04.1f}"


def format_tracks(tracks: list[dict]) -> str:
    """The per-track summary: one row per (track, model)."""
    if not tracks:
        return "no face found in the clip"
    head = ["track", "seen", "first", "last", "model", "emotion", "share", "mean P(stress)", "peak", "longest stress"]
    rows = []
    for t in tracks:
        for m in t["models"]:
            share = m["share"].get(m["emotion"]) if m.get("emotion") else None
            rows.append([f"#{t['track']}", f"{t['seen_s']:.1f} s", _fmt_time(t["first_s"]), _fmt_time(t["last_s"]),
                         str(m["name"]), str(m.get("emotion") or "-"), "-" if share is None else f"{share:.0%}",
                         "-" if m.get("mean_p_stress") is None else f"{m['mean_p_stress']:.2f}",
                         "-" if m.get("peak_p_stress") is None else f"{m['peak_p_stress']:.2f}",
                         "-" if m.get("longest_stress_s") is None else f"{m['longest_stress_s']:.1f} s"])
        if t.get("agreement") and t["agreement"].get("share") is not None:
            rows.append(["", "", "", "", f"agreement ({t['agreement']['on']})", "",
                         f"{t['agreement']['share']:.0%}", "", "", ""])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    left = {0, 4, 5}
    line = lambda cells: "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    return "\n".join([line(head)] + [line(r) for r in rows])


class _Bar:
    """A tqdm bar over the clip's seconds, opened with the first progress (an error before it prints alone)."""

    def __init__(self):
        self.bar = None
        self.done = 0.0

    def __call__(self, p: dict) -> None:
        from tqdm import tqdm

        if self.bar is None:
            total = round(float(p.get("duration_s") or 0), 1) or None
            self.bar = tqdm(total=total, unit="s", desc="analysing", file=sys.stderr,
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s of video "
                                       "[{elapsed}<{remaining}, {postfix}]")
        t = float(p.get("time_s") or 0.0)
        if self.bar.total:
            t = min(t, self.bar.total)
        self.bar.update(t - self.done)
        self.done = t
        self.bar.set_postfix_str(f"{p.get('analysed_per_s') or 0:.1f} frames/s, {p.get('tracks', 0)} face(s)",
                                 refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(args) -> int:
    from ..video import VideoSettings, analyse_video

    settings = VideoSettings(models=list(args.model or []), detector=args.detector, fps=args.fps,
                             annotate=args.annotate, max_minutes=args.max_minutes or None,
                             tta=None if args.tta == "none" else args.tta, min_face=args.min_face,
                             detect_width=args.detect_width, smoothing=args.smoothing, align=not args.no_align,
                             tilted=args.tilted)
    settings.check()
    bar = None if args.no_progress or args.json else _Bar()
    try:
        analysis = analyse_video(args.clip, settings, out=args.out, on_progress=bar)
    finally:
        if bar is not None:
            bar.close()
    status, tracks = analysis.status(), analysis.tracks()
    if args.json:
        print(to_json({"folder": str(analysis.dir), "id": analysis.id, "settings": analysis.settings(),
                       "status": status, "tracks": tracks}))
    else:
        print(format_tracks(tracks))
        s = status
        line = (f"{s.get('analysed', 0)} frames analysed in {s.get('elapsed_s') or 0:.1f} s "
                f"({s.get('analysed_per_s') or 0:.1f} frames/s, {s.get('speed') or 0:.2f}x real time); "
                f"{len(tracks)} face(s) followed")
        print(line)
        if s.get("annotated") and s["annotated"].get("file"):
            print(f"annotated copy: {analysis.dir / s['annotated']['file']} ({s['annotated']['format']})")
        print(f"folder: {analysis.dir}")
    if status.get("warning"):
        print(f"warning: {status['warning']}", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    args, code = parse(parser, argv)
    if args is None:
        return code
    if args.max_minutes < 0:
        return fail("--max-minutes must be 0 (no limit) or more")
    try:
        return run(args)
    except (ValueError, FileNotFoundError, OSError, RuntimeError) as e:
        return fail(f"{e}")
    except KeyboardInterrupt:
        print("stopped: what was analysed is kept in the folder", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - a CLI answers in one line (the folder's status.json has it too)
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
