"""Layer 8, the command line: `python -m core train | evaluate | compare | search | predict | video | runs | ship |
quantize | card | models | detectors | docs`, everything the app does, from a shell. The top layer: it may import any layer
of core, and nothing in core imports it.

Every failure a user can cause is one line on stderr and exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import sys

from .common import fail


def build_parser() -> argparse.ArgumentParser:
    from . import checkpoints, detectors, docs, search, training

    p = argparse.ArgumentParser(prog="python -m core", description="Facial Emotion Lab: train, evaluate and use "
                                "emotion CNNs on FER2013-style data.")
    sub = p.add_subparsers(dest="command", required=True)
    training.add_train(sub)
    checkpoints.add_evaluate(sub)
    checkpoints.add_compare(sub)
    search.add_search(sub)
    pr = sub.add_parser("predict", help="emotion of every face in images", add_help=False)
    pr.add_argument("rest", nargs=argparse.REMAINDER)
    vi = sub.add_parser("video", help="every face of a video clip followed, its emotions over time", add_help=False)
    vi.add_argument("rest", nargs=argparse.REMAINDER)
    training.add_runs(sub)
    checkpoints.add_ship(sub)
    checkpoints.add_quantize(sub)
    checkpoints.add_card(sub)
    training.add_models(sub)
    detectors.add_detectors(sub)
    docs.add_docs(sub)
    return p


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "predict":  # its own parser, with its own --help
        from .predict import main as predict_main
        return predict_main(argv[1:])
    if argv and argv[0] == "video":
        from .video import main as video_main
        return video_main(argv[1:])
    a = build_parser().parse_args(argv)
    try:
        return a.fn(a)
    except (ValueError, FileNotFoundError, FileExistsError, RuntimeError, OSError) as e:
        return fail(str(e))
    except KeyboardInterrupt:
        return 130
