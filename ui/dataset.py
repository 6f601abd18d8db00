"""The data set box of the Train page: what a path holds (layout, classes, split sizes, class counts), read
once per file version, and the demo data set for trying the page without FER2013."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.data import detect_layout, load_dataset
from core.data.synthetic import write_synthetic_csv
from core.settings import cache_dir, data_roots_shown, readable_by_app

from . import charts


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
def _dataset_info(path: str, task: str, stamp: tuple) -> dict:
    layout = detect_layout(path)
    ds = load_dataset(path, task=task)
    return {"layout": layout, "classes": list(ds.classes), "sizes": ds.sizes(), "counts": ds.class_counts("train")}


def dataset_info(path: str, task: str) -> tuple[dict | None, str | None]:
    """(info, None) or (None, message). Cached on the path, task and the file's size and time."""
    if not path:
        return None, "No data set chosen."
    p = Path(path).expanduser()
    if not readable_by_app(p):
        return None, outside_roots_message(path)
    try:
        stat = p.stat()
    except OSError:
        return None, f"`{path}`: no such file or folder."
    try:
        return _dataset_info(str(p), task, (stat.st_size, stat.st_mtime_ns)), None
    except Exception as e:  # noqa: BLE001 - DataError and friends: their message says what is wrong
        return None, f"The data set at `{path}` cannot be used: {e}"


def show_dataset_info(info: dict) -> None:
    sizes = info["sizes"]
    c = st.columns(4)
    c[0].metric("Training images", f"{sizes.get('train', 0):,}")
    c[1].metric("Validation", f"{sizes.get('val', 0):,}")
    c[2].metric("Test", f"{sizes.get('test', 0):,}")
    c[3].metric("Classes", len(info["classes"]))
    kind = "FER2013-style CSV" if info["layout"] == "csv" else "image folders"
    counts = info.get("counts") or {}
    with st.expander(f"{kind}: {', '.join(info['classes'])}", icon=":material/bar_chart:"):
        st.plotly_chart(charts.class_counts(counts), key="tr_class_counts", config={"displayModeBar": False})


def outside_roots_message(path: str) -> str:
    """Why the app will not open a path (it reads data sets from a few folders only: a web page must not be a
    way to read any file of the server)."""
    roots = ", ".join(f"`{r}`" for r in data_roots_shown())
    return (f"`{path}` is outside the folders this app reads data sets from ({roots}). Put the data set in "
            "`data/`, or add its folder to the `FEL_DATA_ROOTS` environment variable and restart the app.")
