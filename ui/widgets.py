"""Streamlit pieces every page shares: the model picker (and DeepFace beside our CNNs), the detector picker,
the mirror toggle, sample photos, the webcam's connection setting and the standard messages."""
from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from core.predict.catalogue import model_accuracy as metrics_accuracy
from core.predict.detectors import describe_detector, list_detectors, unavailable_reason
from core.predict.loading import DEEPFACE
from core.settings import ice_servers_text, sample_dir

from .state import keep

IMAGE_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff"]
NO_MODEL_HELP = ("No trained model yet. Train one on the **Train** page, or from a terminal in the project folder:\n\n"
                 "```\npython -m core train --recipe quick\n```\n"
                 "Checkpoints land in `model/runs/<run>/best.pt` and show up here by themselves.")


def sample_images() -> list[Path]:
    d = sample_dir()
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if p.suffix.lower().lstrip(".") in IMAGE_TYPES and p.is_file())


def ice_servers(text: str | None = None) -> tuple[list, str | None]:
    """STUN/TURN servers for WebRTC: from `text` (the sidebar) or $FEL_ICE_SERVERS, as a JSON list.
    Returns (servers, error message or None). Empty by default: fine on localhost, no internet needed."""
    raw = (text if text is not None else ice_servers_text()).strip()
    if not raw:
        return [], None
    try:
        servers = json.loads(raw)
    except ValueError as e:
        return [], f"The ICE server setting is not valid JSON ({e}); using none."
    if isinstance(servers, dict):
        servers = [servers]
    if isinstance(servers, str):
        servers = [{"urls": [servers]}]
    if not isinstance(servers, list) or not all(isinstance(s, dict) and "urls" in s for s in servers):
        return [], 'The ICE server setting must be a list like [{"urls": ["stun:host:3478"]}]; using none.'
    return servers, None


def data_help() -> str:
    return ("No data set configured. Get **FER2013** from Kaggle (`fer2013.csv`, or the image-folder version with "
            "`train/<emotion>/` and `test/<emotion>/`), put it in the `data/` folder of the project, or point the "
            "`FER2013_PATH` environment variable at it, then reload.")


def model_label(info) -> str:
    """A model in a picker: its name, which labels it learned (FER2013's 7 classes or FER+'s votes, 8 with
    contempt), and its test accuracy on those labels."""
    acc = model_accuracy(info)
    extra = f" · {acc:.0%}" if acc is not None else ""
    kind = " · stress" if getattr(info, "kind", "emotion") == "stress" else ""
    learned = getattr(info, "labels_text", "")
    learned = f" · {learned}" if learned and not kind else ""
    return f"{info.name}{kind}{learned}{extra}"


def model_accuracy(info) -> float | None:
    return metrics_accuracy(getattr(info, "metrics", None))


def model_options(models, include_deepface: bool = True) -> dict[str, str]:
    """value -> label for the pickers: checkpoint paths, then DeepFace."""
    opts = {str(m.path): model_label(m) for m in models}
    if include_deepface:
        opts[DEEPFACE] = "DeepFace (pre-trained)"
    return opts


def model_picker(models, key: str, multi: bool = False, include_deepface: bool = True, label: str | None = None,
                 help: str | None = None, container=st, first=None, with_deepface: bool = True):
    """A selectbox (or multiselect) of our models and DeepFace. Returns the chosen value(s) ("deepface" or paths).
    `first` is the initial choice instead of the list's first: a ModelInfo, or for `multi` a list of them.
    `with_deepface`: a multiselect starts with DeepFace among the chosen (False where it cannot run here)."""
    opts = model_options(models, include_deepface)
    values = list(opts)
    if multi:
        default = ([str(m.path) for m in first if str(m.path) in values] if first else []) \
            or [v for v in values if v != DEEPFACE][:2] or values[:1]
        if with_deepface and include_deepface and DEEPFACE in values and len(default) < 3:
            default.append(DEEPFACE)
        key = keep(key, values, default=default)  # the choice survives a visit to another page
        return container.multiselect(label or "Models", values, format_func=opts.get, key=key,
                                     help=help or "Pick one or more; each face is shown with every model side by side.")
    default = str(first.path) if first is not None and str(first.path) in values else (values[0] if values else None)
    key = keep(key, values, default=default)
    return container.selectbox(label or "Model", values, format_func=opts.get, key=key,
                               help=help or "Your trained CNNs, or DeepFace's pre-trained model.")


def calibration_note(predictors, smoothing: int = 1) -> str | None:
    """Whether the confidences shown mean what they say: which models carry a temperature fitted on PublicTest in
    the view they answer with (plain, or averaged with the mirror image), which one fitted on single faces only,
    which none (core.calibration); and that the webcam's smoothing over `smoothing` frames was not measured. None
    when no model of ours is shown."""
    ours = [p for p in predictors if p is not None and getattr(p, "calibrated", None) is not None]
    if not ours:
        return None
    done = [p.name for p in ours if p.calibrated and getattr(p, "calibrated_view", None) is not False]
    other_view = [p.name for p in ours if p.calibrated and getattr(p, "calibrated_view", None) is False]
    not_yet = [p.name for p in ours if not p.calibrated]
    parts = []
    if done:
        parts.append(f"Confidence calibrated ({', '.join(done)}): a temperature fitted on PublicTest in the view "
                     "shown, so a face said 80% is right about 80% of the time (measured on single photos).")
    if other_view:
        parts.append(f"Confidence of {', '.join(other_view)}: its temperature was fitted on single faces, not on their "
                     "average with the mirror image shown here, so 80% is only roughly 80% (`python -m core card "
                     "--calibrate <model>` fits one for each view).")
    if not_yet:
        parts.append(f"Not calibrated ({', '.join(not_yet)}): measure one with `python -m core card <model> "
                     "--write-temperature`.")
    if smoothing > 1 and (done or other_view):
        parts.append(f"The live labels average the last {smoothing} frames: that was not measured.")
    return " ".join(parts)


def mirror_toggle(key: str, container=st) -> bool:
    """Flip test-time augmentation for our CNNs, on by default: it costs a batch of two per face and buys
    1-2 points of accuracy (the model cards' "+ flip TTA" column)."""
    return container.toggle("Average with the mirror image", key=keep(key, default=True),
                            help="Each face is also classified flipped left-right and the two answers averaged: "
                                 "a little more accurate (see the '+ flip TTA' column of the model cards) for "
                                 "about a millisecond more per face. Our CNNs only; DeepFace is not affected.")


def tta_for(source: str, mirror: bool):
    """The test-time augmentation to load `source` with: flip for our CNNs when asked, never for DeepFace."""
    return "flip" if mirror and str(source) != DEEPFACE else None


def no_model_message(container=st) -> None:
    container.info(NO_MODEL_HELP, icon=":material/info:")


def deepface_warning(status: dict, container=st) -> bool:
    """Warn if DeepFace's weights are missing (`status`: loaders.deepface_status()); True if DeepFace can run."""
    s = status
    if s.get("present"):
        if s.get("random"):
            container.info("**DeepFace runs with random test weights:** " + (s.get("message") or ""),
                           icon=":material/casino:")
        return True
    container.warning("**DeepFace is not available:** " + (s.get("message") or "its weights are missing."),
                      icon=":material/warning:")
    return False


def friendly_error(e: BaseException) -> str:
    """One line for the user: the message our engine raises, without the Python noise."""
    text = str(e).strip() or type(e).__name__
    return text if len(text) < 600 else text[:600] + "..."


def detector_picker(key: str, container=st, help: str | None = None) -> str:
    """A select of the face detectors; the ones that cannot run here (a package missing, YuNet's file refused) are
    listed, marked."""
    names = list_detectors()
    labels = {n: n + ("" if unavailable_reason(n) is None else " (not available here)") for n in names}
    return container.selectbox("Face detector", names, format_func=labels.get, key=keep(key, names),
                               help=help or "\n".join(f"- **{n}**: {describe_detector(n)}" for n in names))


def tilted_toggle(key: str, container=st, value: bool = False, cost: str = "") -> bool:
    """"Find tilted faces too": the detector also searches the frame turned by +-25 degrees."""
    return container.toggle("Find tilted faces too", key=keep(key, default=value),
                            help="Also search the picture turned by 25 degrees either way: finds faces tilted by "
                                 "30 degrees that an upright search misses, for three searches' time." + cost)


def stream_caption(snap: dict) -> str:
    """The line under the live panel's numbers (HTML: every name in it escaped, a model file may be called
    anything)."""
    from html import escape

    size = f"camera {snap['size'][0]}×{snap['size'][1]} · " if snap.get("size") else ""
    return (f"<span class='fel-muted'>faces: {len(snap['faces'])} · frames processed: {snap['frames']} · {size}"
            f"model: {escape(str(snap.get('model') or 'none'))}</span>")
