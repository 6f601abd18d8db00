"""`python -m core detectors`: the face detectors, which of them can run here and why not; `--fetch-yunet`
downloads YuNet's ONNX file for OpenCV's engine (install.sh runs it; it needs the internet once)."""
from __future__ import annotations

from .common import fail


def cmd_detectors(a) -> int:
    from ..predict.detectors import describe_detector, list_detectors, unavailable_reason
    from ..predict.detectors.yunet_engines import chosen_engine, engine_problem, fetch_yunet_model

    if a.fetch_yunet:
        try:
            print(f"YuNet's model file: {fetch_yunet_model()}")
        except OSError as e:
            return fail(f"{e}. YuNet runs through yuface where that is installed (Python 3.11); else the app "
                        "uses Haar.")
    for name in list_detectors():
        reason = unavailable_reason(name)
        how = f" (engine: {chosen_engine()})" if name == "yunet" and engine_problem() is None else ""
        print(f"{name:10} {'ready' + how if reason is None else 'not available: ' + reason}")
        print(f"{'':10} {describe_detector(name)}")
    return 0


def add_detectors(sub) -> None:
    d = sub.add_parser("detectors", help="the face detectors and whether each can run here")
    d.add_argument("--fetch-yunet", action="store_true",
                   help="download YuNet's ONNX file (232,589 bytes, SHA-256 checked) into model/detectors/")
    d.set_defaults(fn=cmd_detectors)
