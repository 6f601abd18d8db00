"""The data set box of the Train page: what a path holds (layout, classes, split sizes, class counts), read
once per file version, and the demo data set for trying the page without FER2013.

A data set read for the first time is not waited for: its faces are decoded into the data cache in a thread of
the app (`Decode`, once per file version, for every session), while the page shows a CSV's counts read from its
labels alone (core.data.counts: seconds, where decoding FER2013 takes a minute or more)."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from core.data import detect_layout, is_cached, load_dataset
from core.data.counts import label_counts
from core.data.synthetic import write_synthetic_csv
from core.settings import cache_dir, data_roots_shown, readable_by_app

from . import charts
from .format import fmt_duration

DECODE_POLL_S = 2  # how often the page looks whether a background decode has ended


def demo_data_path() -> Path:
    """Where the demo data set goes: beside the data cache (data/ by default; a temp folder in tests)."""
    return cache_dir().parent / "demo" / "synthetic-faces.csv"


def make_demo_dataset() -> Path:
    return write_synthetic_csv(demo_data_path(), n_per_class=60)


def use_demo_dataset(key: str = "tr_data") -> None:
    """Button callback: write the demo data set and put its path in the data set field."""
    try:
        st.session_state[key] = str(make_demo_dataset())
    except OSError as e:
        st.session_state[key + "_error"] = f"The demo data set could not be written: {e}"


@st.cache_data(show_spinner=False, max_entries=16)
def _dataset_info(path: str, task: str, stamp: tuple, labels: str = "fer2013", label_mode: str = "majority") -> dict:
    layout = detect_layout(path)
    ds = load_dataset(path, task=task, labels=labels, label_mode=label_mode)
    return {"layout": layout, "classes": list(ds.classes), "sizes": ds.sizes(), "counts": ds.class_counts("train"),
            "labels": labels, "votes": ds.info.get("votes"), "fer2013_agreement": ds.info.get("fer2013_agreement")}


@st.cache_data(show_spinner=False, max_entries=16)
def _label_counts(path: str, task: str, stamp: tuple, labels: str = "fer2013",
                  label_mode: str = "majority") -> dict | None:
    return label_counts(path, task=task, labels=labels, label_mode=label_mode)


@dataclass
class Decode:
    """The first decode of a data set's faces into the data cache, in a thread of the app's process."""
    started: float
    done: bool = False
    error: str | None = None

    @property
    def seconds(self) -> float:
        return time.time() - self.started


_DECODES: dict[tuple, Decode] = {}  # (path, size, mtime) -> its decode, shared by every session of the app
_DECODES_LOCK = threading.Lock()


def decode_in_background(path: Path, stamp: tuple) -> Decode:
    """Start decoding `path` into the data cache, unless this version of it is decoding or decoded already."""
    key = (str(path), stamp)
    with _DECODES_LOCK:
        decode = _DECODES.get(key)
        if decode is None:
            decode = _DECODES[key] = Decode(time.time())
            threading.Thread(target=_decode, args=(path, decode), name=f"decode {path.name}", daemon=True).start()
    return decode


def _decode(path: Path, decode: Decode) -> None:
    try:
        load_dataset(path)  # the page's settings (val share 0.1, seed 0): the cache file the page then reads
    except Exception as e:  # noqa: BLE001 - DataError and friends: their message says what is wrong
        decode.error = str(e)
    finally:
        decode.done = True


def dataset_info(path: str, task: str, labels: str = "fer2013",
                 label_mode: str = "majority") -> tuple[dict | None, str | None]:
    """(info, None) or (None, message); info may be counted from the labels while the faces are decoded."""
    info, err, _ = dataset_state(path, task, labels, label_mode)
    return info, err


def dataset_state(path: str, task: str, labels: str = "fer2013",
                  label_mode: str = "majority") -> tuple[dict | None, str | None, Decode | None]:
    """(info, None, None) or (None, message, None) for a data set read before; for one whose faces are being
    decoded in the background, (its counts from the labels, or None where they cannot be read apart, None,
    the decode). Cached on the path, task and the file's size and time."""
    if not path:
        return None, "No data set chosen.", None
    p = Path(path).expanduser()
    if not readable_by_app(p):
        return None, outside_roots_message(path), None
    try:
        stat = p.stat()
    except OSError:
        return None, f"`{path}`: no such file or folder.", None
    stamp = (stat.st_size, stat.st_mtime_ns)
    try:
        if not is_cached(p):
            decode = decode_in_background(p, stamp)
            if decode.error:
                return None, f"The data set at `{path}` cannot be used: {decode.error}", None
            if not decode.done:
                return _label_counts(str(p), task, stamp, labels, label_mode), None, decode
        return _dataset_info(str(p), task, stamp, labels, label_mode), None, None
    except Exception as e:  # noqa: BLE001 - DataError and friends: their message says what is wrong
        return None, f"The data set at `{path}` cannot be used: {e}", None


def decode_status(path: str, decode: Decode, counted: bool) -> None:
    """What is happening while the faces are decoded, refreshed until it ends; then the page runs again."""

    @st.fragment(run_every=DECODE_POLL_S)
    def _status():
        if decode.done:
            st.rerun()
        what = ("The counts above are read from the labels; training can start now." if counted else
                "Training can start when this is done.")
        st.caption(f":material/hourglass_top: **Decoding the faces** of `{Path(path).name}` into the data cache, "
                   f"in the background: {fmt_duration(decode.seconds)} so far (FER2013 takes a minute or two, once; "
                   f"then it loads in a second). {what}")

    _status()


def show_dataset_info(info: dict) -> None:
    sizes = info["sizes"]
    c = st.columns(4)
    c[0].metric("Training images", f"{sizes.get('train', 0):,}")
    c[1].metric("Validation", f"{sizes.get('val', 0):,}")
    c[2].metric("Test", f"{sizes.get('test', 0):,}")
    c[3].metric("Classes", len(info["classes"]))
    kind = {"csv": "FER2013-style CSV", "ferplus-folders": "FER+ folders"}.get(info["layout"], "image folders")
    if info.get("labels") == "ferplus":
        kind += " with FER+'s votes"
        agreement = info.get("fer2013_agreement")
        if agreement is not None:  # where the two label sets part
            st.caption(f"FER+'s votes from `{Path(str(info.get('votes'))).name}`. FER2013's own label agrees with "
                       f"the people's most voted emotion on {agreement:.0%} of the faces: on the rest, the run "
                       "learns what the people said.")
    counts = info.get("counts") or {}
    with st.expander(f"{kind}: {', '.join(info['classes'])}", icon=":material/bar_chart:"):
        st.plotly_chart(charts.class_counts(counts), key="tr_class_counts", config={"displayModeBar": False})


def outside_roots_message(path: str) -> str:
    """Why the app will not open a path (it reads data sets from a few folders only: a web page must not be a
    way to read any file of the server)."""
    roots = ", ".join(f"`{r}`" for r in data_roots_shown())
    return (f"`{path}` is outside the folders this app reads data sets from ({roots}). Put the data set in "
            "`data/`, or add its folder to the `FEL_DATA_ROOTS` environment variable and restart the app.")
