"""`python -m core detectors`: the face detectors, which of them can run here and why not (YuNet: which model file
it reads, or which file was refused and why); `--fetch-yunet` makes sure YuNet has its ONNX file: the one
FEL_YUNET_MODEL names is checked (never replaced), else model/detectors/ is checked and, where the file is
missing or wrong, downloaded (install.sh runs it; it needs the internet once)."""
from __future__ import annotations

from .common import fail


def cmd_detectors(a) -> int:
    from ..settings import yunet_model_file
    from ..predict.detectors import describe_detector, list_detectors, unavailable_reason
    from ..predict.detectors.yunet_onnx import fetch_yunet_model, yunet_problem, yunet_source

    if a.fetch_yunet:
        if yunet_model_file() is not None:  # the user's file: checked, never replaced by a download
            problem = yunet_problem()
            if problem:
                return fail(f"YuNet cannot run: {problem}")
        else:
            try:
                fetch_yunet_model()
            except OSError as e:
                return fail(f"{e}. The app finds faces with Haar until YuNet has its file: run this again online, "
                            "or name a copy in FEL_YUNET_MODEL.")
        print(f"YuNet will use {yunet_source()}")
    for name in list_detectors():
        reason = unavailable_reason(name)
        how = f", reads {yunet_source()}" if name == "yunet" and reason is None else ""
        print(f"{name:10} {'ready' + how if reason is None else 'not available: ' + reason}")
        print(f"{'':10} {describe_detector(name)}")
    return 0


def add_detectors(sub) -> None:
    d = sub.add_parser("detectors", help="the face detectors and whether each can run here")
    d.add_argument("--fetch-yunet", action="store_true",
                   help="make sure YuNet has its ONNX file: FEL_YUNET_MODEL's is checked; else it is downloaded "
                        "(232,589 bytes, SHA-256 checked) into model/detectors/ unless a good copy is there")
    d.set_defaults(fn=cmd_detectors)
