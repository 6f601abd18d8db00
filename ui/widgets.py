"""Streamlit pieces every page shares: page setup, settings from the environment, cached loaders
(models, predictors, detector, data set), the model picker and the standard messages.

Settings read from the environment (all optional):
- FEL_MODEL_DIR   folder of checkpoints (default <repo>/model: model/*.pt and model/runs/*/best.pt)
- FEL_SAMPLE_DIR  folder of sample photos (default <repo>/sample_images)
- FEL_ICE_SERVERS JSON list of STUN/TURN servers for the webcam, e.g. '[{"urls": ["stun:stun.l.google.com:19302"]}]'
- FER2013_PATH    the data set (see core.data.default_data_path)
- DEEPFACE_HOME   where DeepFace keeps its weights (~/.deepface/weights by default)
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import streamlit as st

ROOT = Path(__file__).resolve().parent.parent
DEEPFACE = "deepface"  # the value the pickers use for DeepFace
IMAGE_TYPES = ["jpg", "jpeg", "png", "webp", "bmp"]
PAGES = {  # page file -> (label, icon, what it is for)
    "pages/1_Webcam.py": ("Webcam", ":material/videocam:",
                          "Live emotions on your camera: every face boxed and labelled, with a stress marker."),
    "pages/2_Compare.py": ("Compare", ":material/compare:",
                           "Your models vs DeepFace on photos, face by face, with Grad-CAM, and their accuracy."),
    "pages/3_Train.py": ("Train", ":material/model_training:",
                         "Train a CNN on FER2013 or your own image folders, with live curves."),
    "pages/4_Experiments.py": ("Experiments", ":material/science:",
                               "All training runs side by side: curves, confusion matrices, the best model."),
}
NO_MODEL_HELP = ("No trained model yet. Train one on the **Train** page, or from a terminal in the project folder:\n\n"
                 "```\npython -m core train --recipe quick\n```\n"
                 "Checkpoints land in `model/runs/<run>/best.pt` and show up here by themselves.")


# ---------------------------------------------------------------- page setup

_CSS = """
<style>
  [data-testid="stMetricValue"] { font-size: 1.6rem; }
  .fel-card-text { color: #4b5563; font-size: 0.92rem; min-height: 3.6em; }
  .fel-muted { color: #6b7280; font-size: 0.9rem; }
  .fel-pill { display:inline-block; padding:0.1rem 0.55rem; border-radius:999px; color:white; font-weight:600;
              font-size:0.85rem; margin-right:0.3rem; }
</style>
"""


def setup_page(title: str, icon: str = ":material/mood:", wide: bool = True) -> None:
    st.set_page_config(page_title=f"{title} · Facial Emotion Lab", page_icon=icon,
                       layout="wide" if wide else "centered")
    st.html(_CSS)


def page_link(path: str, label: str | None = None, icon: str | None = None) -> None:
    """`st.page_link` to one of our pages, or plain text if that page is not there (yet)."""
    lab, ic, _ = PAGES.get(path, (Path(path).stem, None, ""))
    label, icon = label or lab, icon or ic
    if (ROOT / path).exists():
        try:
            st.page_link(path, label=label, icon=icon)
            return
        except Exception:  # noqa: BLE001 - e.g. run outside the multipage app (a test of a single page)
            pass
    st.markdown(f"**{label}** <span class='fel-muted'>(not available)</span>", unsafe_allow_html=True)


def pill(text: str, color: str) -> str:
    return f"<span class='fel-pill' style='background:{color}'>{text}</span>"


# ---------------------------------------------------------------- settings from the environment

def model_dir() -> Path:
    return Path(os.environ.get("FEL_MODEL_DIR") or ROOT / "model")


def sample_dir() -> Path:
    return Path(os.environ.get("FEL_SAMPLE_DIR") or ROOT / "sample_images")


def sample_images() -> list[Path]:
    d = sample_dir()
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if p.suffix.lower().lstrip(".") in IMAGE_TYPES and p.is_file())


def ice_servers(text: str | None = None) -> tuple[list, str | None]:
    """STUN/TURN servers for WebRTC: from `text` (the sidebar) or $FEL_ICE_SERVERS, as a JSON list.
    Returns (servers, error message or None). Empty by default: fine on localhost, no internet needed."""
    raw = (text if text is not None else os.environ.get("FEL_ICE_SERVERS", "")).strip()
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


# ---------------------------------------------------------------- cached loaders

def _folder_signature(folders) -> tuple:
    """Cheap fingerprint of the checkpoints in the model folders, so the list refreshes when one appears."""
    items = []
    for folder, patterns in folders:
        for pattern in patterns:
            for p in Path(folder).glob(pattern):
                try:
                    st_ = p.stat()
                    items.append((str(p), st_.st_mtime_ns, st_.st_size))
                except OSError:
                    pass
    return tuple(sorted(items))


@st.cache_data(show_spinner=False, max_entries=16)
def _discover(folder: str, runs: str, signature: tuple) -> list:
    from core.predictors import discover_models

    return discover_models()  # reads $FEL_MODEL_DIR and the runs folder ($FEL_RUNS_DIR) itself


def runs_dir() -> Path:
    from core.runs import runs_root

    return runs_root()


def all_models() -> list:
    """Every checkpoint found (ModelInfo), including broken ones (their `error` says why):
    model/*.pt (shipped) and the training runs' best.pt."""
    folder, runs = model_dir(), runs_dir()
    sig = _folder_signature([(folder, ("*.pt", "runs/*/best.pt")), (runs, ("*/best.pt", "*/summary.json"))])
    try:
        return list(_discover(str(folder), str(runs), sig))
    except Exception as e:  # noqa: BLE001
        st.warning(f"Could not list the models in `{folder}`: {e}")
        return []


def usable_models() -> list:
    return [m for m in all_models() if not getattr(m, "error", None)]


@st.cache_resource(show_spinner=False, max_entries=12)
def _predictor(source: str, tta, deepface_home: str | None):
    from core.predictors import load_predictor

    import numpy as np

    p = load_predictor(source, tta=tta)
    if hasattr(p, "load"):  # DeepFace: load TensorFlow and the weights now, not on the first frame
        p.load()
    try:  # warm up: the first forward pass is slow, and it should not count in the latency we show
        p.predict([np.full((48, 48), 128, np.uint8)])
    except Exception:  # noqa: BLE001 - a real failure shows up (with its message) on real faces
        pass
    return p


def get_predictor(source: str, tta=None):
    """A loaded predictor ("deepface" or a checkpoint path), kept across reruns. Raises on failure."""
    return _predictor(str(source), tta, os.environ.get("DEEPFACE_HOME"))


@st.cache_data(show_spinner=False, ttl=20)
def _weights_status(deepface_home: str | None) -> dict:
    from core.deepface_backend import weights_status

    return dict(weights_status())


def deepface_status() -> dict:
    """DeepFace's weights: present or not, and what to do (no TensorFlow import)."""
    try:
        return _weights_status(os.environ.get("DEEPFACE_HOME"))
    except Exception as e:  # noqa: BLE001
        return {"present": False, "message": f"DeepFace is not usable here: {e}"}


@st.cache_resource(show_spinner=False, max_entries=8)
def get_detector(min_size: float = 0.08, detect_width: int = 480, min_neighbors: int = 5, scale_factor: float = 1.1):
    from core.faces import FaceDetector

    return FaceDetector(scale_factor=scale_factor, min_neighbors=min_neighbors, min_size=min_size,
                        detect_width=detect_width)


@st.cache_resource(show_spinner="Loading the data set (the first time takes a little while)...", max_entries=2)
def _dataset(path: str, task: str):
    from core.data import load_dataset

    return load_dataset(path, task=task)


def get_dataset(task: str = "emotion"):
    """(dataset, None) or (None, message) for the configured data set."""
    from core.data import default_data_path

    path = default_data_path()
    if path is None:
        return None, data_help()
    try:
        return _dataset(str(path), task), None
    except Exception as e:  # noqa: BLE001
        return None, f"The data set at `{path}` could not be read: {e}"


def data_help() -> str:
    return ("No data set configured. Get **FER2013** from Kaggle (`fer2013.csv`, or the image-folder version with "
            "`train/<emotion>/` and `test/<emotion>/`), put it in the `data/` folder of the project, or point the "
            "`FER2013_PATH` environment variable at it, then reload.")


# ---------------------------------------------------------------- model picker and messages

def model_label(info) -> str:
    acc = model_accuracy(info)
    extra = f" · {acc:.0%}" if acc is not None else ""
    kind = " · stress" if getattr(info, "kind", "emotion") == "stress" else ""
    return f"{info.name}{kind}{extra}"


def model_accuracy(info) -> float | None:
    from core.predictors import model_accuracy as _acc

    return _acc(getattr(info, "metrics", None))


def model_options(models, include_deepface: bool = True) -> dict[str, str]:
    """value -> label for the pickers: checkpoint paths, then DeepFace."""
    opts = {str(m.path): model_label(m) for m in models}
    if include_deepface:
        opts[DEEPFACE] = "DeepFace (pre-trained)"
    return opts


def model_picker(models, key: str, multi: bool = False, include_deepface: bool = True, label: str | None = None,
                 help: str | None = None, container=st, first=None):
    """A selectbox (or multiselect) of our models and DeepFace. Returns the chosen value(s) ("deepface" or paths).
    `first` is the initial choice instead of the list's first: a ModelInfo, or for `multi` a list of them."""
    opts = model_options(models, include_deepface)
    values = list(opts)
    if multi:
        default = ([str(m.path) for m in first if str(m.path) in values] if first else []) \
            or [v for v in values if v != DEEPFACE][:2] or values[:1]
        if include_deepface and DEEPFACE in values and len(default) < 3:
            default.append(DEEPFACE)
        return container.multiselect(label or "Models", values, default=default, format_func=opts.get, key=key,
                                     help=help or "Pick one or more; each face is shown with every model side by side.")
    index = values.index(str(first.path)) if first is not None and str(first.path) in values else 0
    return container.selectbox(label or "Model", values, index=index, format_func=opts.get, key=key,
                               help=help or "Your trained CNNs, or DeepFace's pre-trained model.")


def mirror_toggle(key: str, container=st) -> bool:
    """Flip test-time augmentation for our CNNs, on by default: it costs a batch of two per face and buys
    1-2 points of accuracy (the model cards' "+ flip TTA" column)."""
    return container.toggle("Average with the mirror image", value=True, key=key,
                            help="Each face is also classified flipped left-right and the two answers averaged: "
                                 "a little more accurate (see the '+ flip TTA' column of the model cards) for "
                                 "about a millisecond more per face. Our CNNs only; DeepFace is not affected.")


def tta_for(source: str, mirror: bool):
    """The test-time augmentation to load `source` with: flip for our CNNs when asked, never for DeepFace."""
    return "flip" if mirror and str(source) != DEEPFACE else None


def no_model_message(container=st) -> None:
    container.info(NO_MODEL_HELP, icon=":material/info:")


def deepface_warning(container=st) -> bool:
    """Warn if DeepFace's weights are missing; True if DeepFace can run."""
    s = deepface_status()
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
