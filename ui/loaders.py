"""What the pages load once and keep across reruns: the model list (refreshed when a checkpoint appears),
predictors (warmed up), face detectors, DeepFace's status, the data set."""
from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from core.data import DataError, default_data_path, is_cached, load_dataset
from core.files import read_object
from core.predict.catalogue import discover_models
from core.predict.detectors import TURNS, create_detector, fallback_notice, unavailable_reason
from core.predict.loading import load_predictor
from core.runs import list_shipped_runs
from core.settings import model_dir, runs_root

from .widgets import data_help


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
    return discover_models()  # reads $FEL_MODEL_DIR and the runs folder ($FEL_RUNS_DIR) itself


def all_models() -> list:
    """Every checkpoint found (ModelInfo), including broken ones (their `error` says why):
    model/*.pt (shipped) and the training runs' best.pt."""
    folder, runs = model_dir(), runs_root()
    sig = _folder_signature([(folder, ("*.pt", "runs/*/best.pt")), (runs, ("*/best.pt", "*/summary.json"))])
    try:
        return list(_discover(str(folder), str(runs), sig))
    except Exception as e:  # noqa: BLE001
        st.warning(f"Could not list the models in `{folder}`: {e}")
        return []


def shipped_without_history() -> dict[str, str]:
    """Shipped models (model/*.pt) with no training history to list (graphs/<name>/): name -> why, in words."""
    histories = {r.name for r in list_shipped_runs()}
    out = {}
    for p in sorted(model_dir().glob("*.pt")):
        if p.stem in histories:
            continue
        card = read_object(p.with_name(f"{p.stem}.card.json"), {})
        source = (card.get("quantized") or {}).get("source") if isinstance(card.get("quantized"), dict) else None
        out[p.stem] = f"an int8 copy of {Path(source).stem}" if source else "no history shipped with it"
    return out


def usable_models() -> list:
    return [m for m in all_models() if not getattr(m, "error", None)]


def model_sources() -> tuple[list, dict, bool]:
    """What a page can predict with: our usable models, DeepFace's weight status, and whether DeepFace runs."""
    status = deepface_status()
    return usable_models(), status, bool(status.get("present", False))


def get_predictor(source: str, tta=None):
    """A loaded, warmed-up predictor ("deepface" or a checkpoint path), kept across reruns in core's one
    predictor cache (core.predict.loading; a changed file is loaded again). Raises on failure."""
    return load_predictor(str(source), tta=tta, warm=True)


@st.cache_data(show_spinner=False, ttl=20)
def _weights_status(deepface_home: str | None) -> dict:
    from core.predict.deepface import weights_status  # no TensorFlow: only the weights file is looked at

    return dict(weights_status())


def deepface_status() -> dict:
    """DeepFace's weights: present or not, and what to do (no TensorFlow import)."""
    try:
        return _weights_status(os.environ.get("DEEPFACE_HOME"))
    except Exception as e:  # noqa: BLE001
        return {"present": False, "message": f"DeepFace is not usable here: {e}"}


@st.cache_resource(show_spinner=False, max_entries=8)
def _detector(name: str | None, min_size: float, detect_width: int, turns: tuple):
    return create_detector(name, fallback=True, min_size=min_size, detect_width=detect_width, turns=turns)


def get_detector(name: str | None = None, min_size: float = 0.08, detect_width: int = 480, tilted: bool = False):
    """A face detector by name (None: the default), kept across reruns. One that cannot load here is replaced
    by Haar, and the page says so once (`detector_notice`). `tilted`: also search the frame turned by
    +-25 degrees (TURNS), for faces tilted beyond what the detector sees upright; three searches' time."""
    return _detector(name, float(min_size), int(detect_width), TURNS if tilted else ())


def detector_notice(name: str | None = None) -> str | None:
    return fallback_notice(name)


def detector_unavailable(name: str | None) -> str | None:
    """Why detector `name` cannot run here (YuNet: its model file, named, and why it is refused), or None."""
    reason = unavailable_reason(name) if name else None
    return f"Face detector {name!r} is not available here: {reason}" if reason else None


@st.cache_resource(show_spinner=False, max_entries=3)
def dataset_at(path: str, task: str, labels: str = "fer2013"):
    """The data set at `path` in one task ("emotion" or "stress") and label set, loaded once per server; FER2013's
    labels come with FER+'s votes beside each face where they are found."""
    if labels == "fer2013":
        try:
            return load_dataset(path, task=task, join_votes=True)
        except DataError:
            pass  # no votes beside it (or another row order): FER2013's labels alone
    return load_dataset(path, task=task, labels=labels)


def get_dataset(task: str = "emotion"):
    """(dataset, None) or (None, message) for the configured data set. The first read of a data set (decoding
    FER2013 takes about a minute) says so while it lasts, and that later reads take a second."""
    path = default_data_path()
    if path is None:
        return None, data_help()
    status = None
    if not is_cached(path):
        status = st.status(f"Reading `{Path(path).name}` for the first time (FER2013's 35,887 faces take about a "
                           "minute)...", expanded=True)
        status.write("Each face is decoded once and kept in the data cache: from then on the data set loads in "
                     "a second or two, also after the app restarts.")
    try:
        ds = dataset_at(str(path), task)
    except Exception as e:  # noqa: BLE001
        if status is not None:
            status.update(label="The data set could not be read.", state="error", expanded=False)
        return None, f"The data set at `{path}` could not be read: {e}"
    if status is not None:
        status.update(label=f"Read `{Path(path).name}` ({sum(ds.sizes().values()):,} faces); kept for next time.",
                      state="complete", expanded=False)
    return ds, None
