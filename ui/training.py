"""Streamlit helpers of the Train and Experiments pages (pages/3_Train.py, pages/4_Experiments.py).

The pages are thin: widgets -> core (launcher, runs, search, evaluate) -> the drawing here. Everything
a run is lives in its folder (core.runs), so these helpers only read files and call core; closing the
tab or restarting Streamlit loses nothing. The pure parts (tables, figures, formatting) take no
Streamlit call and are tested on their own.
"""
from __future__ import annotations

import html
import math
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import launcher
from core.config import OPTIMIZERS, SCHEDULES, TASKS, TrainConfig
from core.runs import Run, read_json, write_json
from ui.charts import model_color

REFRESH_S = 2           # live view refresh while a run is active
SEARCH_REFRESH_S = 5
STATE_STYLE = {  # state -> (colour, what it means)
    "queued": ("#64748b", "waiting for its turn"),
    "running": ("#4f46e5", "training now"),
    "stopping": ("#6366f1", "saving a checkpoint, then stopping"),
    "finished": ("#059669", "done: tested on the test split"),
    "stopped": ("#d97706", "stopped with a checkpoint: can be resumed"),
    "cancelled": ("#94a3b8", "taken out of the queue before it started"),
    "pruned": ("#a1a1aa", "ended early by the search (not promising)"),
    "interrupted": ("#ea580c", "its process ended unexpectedly: can be resumed"),
    "failed": ("#e11d48", "ended with an error"),
}
TRAIN_COLOR, VAL_COLOR = "#f97316", "#4f46e5"
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), font=dict(size=13), plot_bgcolor="rgba(0,0,0,0)",
               paper_bgcolor="rgba(0,0,0,0)", hovermode="x unified",
               legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1))
_CSS = """
<style>
  .fel-run-head { display:flex; align-items:center; gap:0.6rem; flex-wrap:wrap; margin-bottom:0.1rem; }
  .fel-run-title { font-size:1.25rem; font-weight:700; color:#1f2333; }
  .fel-kv { color:#4b5563; font-size:0.88rem; }
  .fel-kv b { color:#1f2333; font-weight:600; }
</style>
"""


# ---------------------------------------------------------------- formatting (pure)

def fmt_duration(seconds) -> str:
    if seconds is None or not isinstance(seconds, (int, float)) or math.isnan(seconds) or seconds < 0:
        return "–"
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s" if s < 600 else f"{s // 60} min"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def fmt_pct(x, digits: int = 1) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f} %"


def pill(state: str) -> str:
    color = STATE_STYLE.get(state, ("#64748b", ""))[0]
    return f"<span class='fel-pill' style='background:{color}'>{html.escape(state)}</span>"


def display_state(run: Run, state: str | None = None) -> str:
    """The state in the user's words: a stopped run may have been cancelled or pruned; a running one stopping."""
    state = state or run.state()
    st_ = run.status()
    if state == "stopped" and st_.get("cancelled"):
        return "cancelled"
    if state == "stopped" and st_.get("pruned"):
        return "pruned"
    if state == "running" and run.stop_requested():
        return "stopping"
    return state


def title_of(run: Run) -> str:
    """What to call a run: the title the user gave it, else the name it was started with, else its folder."""
    info = run.info()
    if info.get("title"):
        return str(info["title"])
    try:
        name = read_json(run.config_path, {}).get("name")
    except AttributeError:
        name = None
    return str(name) if name else run.id


def data_name(cfg: TrainConfig) -> str:
    return Path(cfg.data).name if cfg.data else "FER2013 (default)"


def run_started(run: Run) -> datetime | None:
    st_ = run.status()
    t = st_.get("started") or st_.get("created")
    if not t:
        try:
            return datetime.strptime(run.id[:15], "%Y%m%d-%H%M%S")
        except ValueError:
            return None
    return datetime.fromtimestamp(float(t))


def run_record(run: Run) -> dict:
    """One row of the experiments table (everything read from the run's files)."""
    try:
        cfg = run.config()
    except Exception:  # noqa: BLE001 - a hand-broken config still gets a row
        cfg = TrainConfig()
    info, summary, rows = run.info(), run.summary(), run.metrics()
    state = display_state(run)
    best_val = summary.get("best_val_acc", max((r["val_acc"] for r in rows), default=None))
    return {
        "run_id": run.id,
        "name": title_of(run),
        "status": state,
        "promoted": bool(info.get("promoted")),
        "model": cfg.model,
        "width": cfg.width,
        "task": cfg.task,
        "data": data_name(cfg),
        "epochs": f"{len(rows)}/{cfg.epochs}",
        "best val acc": None if best_val is None else 100 * best_val,
        "test acc": None if summary.get("test_acc") is None else 100 * summary["test_acc"],
        "optimizer": cfg.optimizer,
        "lr": cfg.lr,
        "batch": cfg.batch_size,
        "weight decay": cfg.weight_decay,
        "label smoothing": cfg.label_smoothing,
        "schedule": cfg.schedule,
        "teacher": f"{teacher_label(cfg.teacher)} ({cfg.distill:g})" if cfg.teacher else "",
        "limit": cfg.limit or None,
        "minutes": sum(r.get("seconds", 0) for r in rows) / 60 if rows else None,
        "date": run_started(run),
        "study": (cfg.extra or {}).get("study", ""),
        "notes": info.get("notes", ""),
    }


def teacher_label(teacher: str) -> str:
    """A shipped model's name, or the run id of a run's best.pt."""
    p = Path(teacher)
    return p.parent.name if p.name == "best.pt" else p.stem


def runs_frame(runs: list[Run]) -> pd.DataFrame:
    recs = [run_record(r) for r in runs]
    return pd.DataFrame(recs) if recs else pd.DataFrame(columns=["run_id", "name", "status", "model", "task"])


def filter_frame(df: pd.DataFrame, text: str = "", states=(), models=(), tasks=()) -> pd.DataFrame:
    if df.empty:
        return df
    keep = pd.Series(True, index=df.index)
    if states:
        keep &= df["status"].isin(states)
    if models:
        keep &= df["model"].isin(models)
    if tasks:
        keep &= df["task"].isin(tasks)
    text = (text or "").strip().lower()
    if text:
        hay = (df["name"].astype(str) + " " + df["run_id"].astype(str) + " " + df["model"].astype(str) + " "
               + df["notes"].astype(str) + " " + df["study"].astype(str)).str.lower()
        keep &= hay.str.contains(text, regex=False)
    return df[keep].reset_index(drop=True)


# ---------------------------------------------------------------- figures (pure)

def curves_figure(series: dict[str, list[dict]], metric: str = "acc", show_train: bool = True,
                  height: int = 320, title: str | None = None) -> go.Figure:
    """Loss or accuracy per epoch. One run: train (orange) and validation (indigo). Several runs: one
    colour per run, validation solid and training dotted."""
    fig = go.Figure()
    scale = 100.0 if metric == "acc" else 1.0
    single = len(series) == 1
    for i, (label, rows) in enumerate(series.items()):
        if not rows:
            continue
        x = [r["epoch"] for r in rows]
        mode = "lines+markers" if len(rows) < 30 else "lines"
        val = [scale * r[f"val_{metric}"] for r in rows]
        train = [scale * r[f"train_{metric}"] for r in rows]
        fmt = "%{y:.1f}%" if metric == "acc" else "%{y:.3f}"
        if single:
            if show_train:
                fig.add_scatter(x=x, y=train, name="train", mode=mode, line=dict(color=TRAIN_COLOR, width=2),
                                hovertemplate=fmt)
            fig.add_scatter(x=x, y=val, name="validation", mode=mode, line=dict(color=VAL_COLOR, width=3),
                            hovertemplate=fmt)
        else:
            color = model_color(i)
            fig.add_scatter(x=x, y=val, name=label, mode=mode, legendgroup=label, line=dict(color=color, width=3),
                            hovertemplate=fmt)
            if show_train:
                fig.add_scatter(x=x, y=train, name=f"{label} (train)", mode="lines", legendgroup=label,
                                showlegend=False, line=dict(color=color, width=1.5, dash="dot"), hovertemplate=fmt)
    ytitle = "accuracy (%)" if metric == "acc" else "loss"
    fig.update_layout(**_LAYOUT, height=height,
                      title=title or ("Accuracy" if metric == "acc" else "Loss"),
                      xaxis=dict(title="epoch", gridcolor="#eef0f4", rangemode="tozero", tickformat="d"),
                      yaxis=dict(title=ytitle, gridcolor="#e5e7eb"))
    if metric == "acc":
        fig.update_yaxes(rangemode="tozero")
    if not single:  # many runs: the legend goes under the plot, where there is room for their names
        fig.update_layout(legend=dict(orientation="h", yanchor="top", y=-0.25, xanchor="left", x=0),
                          margin=dict(l=10, r=10, t=40, b=10))
    return fig


def class_bars(per_class: list[dict], height: int = 320, title: str = "Per class") -> go.Figure:
    """Recall (accuracy on that class) as bars, precision as diamonds, for one evaluation."""
    names = [p["class"] for p in per_class]
    recall = [100 * p["recall"] for p in per_class]
    precision = [100 * p["precision"] for p in per_class]
    support = [p["support"] for p in per_class]
    fig = go.Figure()
    fig.add_bar(x=names, y=recall, name="accuracy on the class (recall)", marker_color=VAL_COLOR,
                text=[f"{v:.0f}" for v in recall], textposition="outside", customdata=support,
                hovertemplate="%{x}: %{y:.1f}% of %{customdata} faces<extra></extra>")
    fig.add_scatter(x=names, y=precision, name="precision", mode="markers",
                    marker=dict(symbol="diamond", size=11, color=TRAIN_COLOR, line=dict(color="white", width=1)),
                    hovertemplate="%{x}: precision %{y:.1f}%<extra></extra>")
    fig.update_layout(**{**_LAYOUT, "hovermode": "closest"}, height=height, title=title,
                      yaxis=dict(title="%", range=[0, 112], gridcolor="#e5e7eb"), xaxis=dict(tickangle=-30))
    return fig


def progress_of(run: Run, cfg: TrainConfig | None = None) -> tuple[float, str]:
    """(fraction done, one line) from progress.json and the metrics."""
    p = run.progress()
    cfg = cfg or run.config()
    if not p or "epoch" not in p:
        done = len(run.metrics())
        return done / max(cfg.epochs, 1), "Starting: loading the data set and building the model…"
    epochs, steps = max(int(p.get("epochs", cfg.epochs)), 1), max(int(p.get("steps", 1)), 1)
    epoch, step = int(p.get("epoch", 1)), int(p.get("step", 0))
    frac = min(1.0, ((epoch - 1) * steps + step) / (epochs * steps))
    parts = [f"Epoch {epoch}/{epochs}", f"batch {step}/{steps}"]
    if p.get("images_per_s"):
        parts.append(f"{p['images_per_s']:,.0f} images/s")
    if p.get("eta_s") is not None and frac < 1:
        parts.append(f"about {fmt_duration(p['eta_s'])} left")
    if p.get("loss") is not None:
        parts.append(f"loss {p['loss']:.3f}, accuracy {100 * p.get('acc', 0):.1f}% this epoch")
    return frac, " · ".join(parts)


# ---------------------------------------------------------------- data set

def demo_data_path() -> Path:
    """Where the demo data set goes: beside the data cache (data/ by default; a temp folder in tests)."""
    from core.data import cache_dir

    return cache_dir().parent / "demo" / "synthetic-faces.csv"


def make_demo_dataset() -> Path:
    from core.synthetic import write_synthetic_csv

    return write_synthetic_csv(demo_data_path(), n_per_class=60)


def use_demo_dataset(key: str = "tr_data") -> None:
    """Button callback: write the demo data set and put its path in the data set field."""
    try:
        st.session_state[key] = str(make_demo_dataset())
    except OSError as e:
        st.session_state[key + "_error"] = f"The demo data set could not be written: {e}"


@st.cache_data(show_spinner=False, max_entries=16)
def _dataset_info(path: str, task: str, stamp: tuple) -> dict:
    from core.data import detect_layout, load_dataset

    layout = detect_layout(path)
    ds = load_dataset(path, task=task)
    return {"layout": layout, "classes": list(ds.classes), "sizes": ds.sizes(), "counts": ds.class_counts("train")}


def dataset_info(path: str, task: str) -> tuple[dict | None, str | None]:
    """(info, None) or (None, message). Cached on the path, task and the file's size and time."""
    if not path:
        return None, "No data set chosen."
    p = Path(path).expanduser()
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
        fig = go.Figure(go.Bar(x=list(counts.values()), y=list(counts), orientation="h", marker_color=VAL_COLOR,
                               text=[f"{v:,}" for v in counts.values()], textposition="auto"))
        fig.update_layout(**{**_LAYOUT, "hovermode": "closest"}, height=60 + 26 * len(counts),
                          title="Training images per class", xaxis=dict(visible=False),
                          yaxis=dict(autorange="reversed"), showlegend=False)
        st.plotly_chart(fig, key="tr_class_counts", config={"displayModeBar": False})


# ---------------------------------------------------------------- the training form

FORM_FIELDS = ("model", "width", "dropout", "epochs", "batch_size", "optimizer", "lr", "momentum", "schedule",
               "warmup_epochs", "weight_decay", "label_smoothing", "seed", "flip")
AUG_AMOUNTS = {"shift": 4, "rotate": 10.0, "scale": 0.1, "erase": 0.25}  # the amount a switch turns on
RECIPE_TEXT = {
    "quick": "3 epochs of a small mini-Xception: a first look in minutes.",
    "realtime": "The webcam model: mini-Xception (width 16), AdamW, 40 epochs. Fast on a CPU.",
    "default": "Our most accurate recipe: VGG-style CNN, SGD + cosine, 60 epochs. Best on a GPU (hours on a CPU).",
    "stress": "Stress / no stress: mini-Xception (width 32) on the stress view of the data.",
}


def default_recipe() -> str:
    """`default` (the accurate VGG) where there is a GPU; `realtime` on a CPU, where VGG takes many hours."""
    try:
        import torch

        return "default" if torch.cuda.is_available() else "realtime"
    except Exception:  # noqa: BLE001
        return "realtime"


def recipe_description(name: str) -> str:
    if name in RECIPE_TEXT:
        return RECIPE_TEXT[name]
    if name.startswith("seed-"):
        return f"The shared comparison recipe for the `{name[5:]}` architecture: SGD + cosine, 30 epochs."
    return ""


def model_default(model: str, key: str, fallback=None):
    from core.models import model_defaults

    try:
        return model_defaults(model).get(key, fallback)
    except ValueError:
        return fallback


def apply_recipe(name: str, prefix: str = "tr_") -> None:
    """Fill the form's widgets from a recipe (the widgets read their value from session state)."""
    from core.recipes import recipe_config

    cfg = recipe_config(name)
    ss = st.session_state
    for f in FORM_FIELDS:
        ss[prefix + f] = getattr(cfg, f)
    ss[prefix + "width"] = int(cfg.width or model_default(cfg.model, "width", 32))
    ss[prefix + "dropout"] = float(cfg.dropout if cfg.dropout is not None else model_default(cfg.model, "dropout", 0.0))
    ss[prefix + "lr"] = float(cfg.lr)
    ss[prefix + "weight_decay"] = float(cfg.weight_decay)
    ss[prefix + "warmup_epochs"] = float(cfg.warmup_epochs)
    ss[prefix + "label_smoothing"] = float(cfg.label_smoothing)
    ss[prefix + "momentum"] = float(cfg.momentum)
    for k, amount in AUG_AMOUNTS.items():
        v = getattr(cfg, k)
        ss[prefix + "use_" + k] = bool(v)
        ss[prefix + k] = type(amount)(v or amount)
    if cfg.task != TrainConfig().task or name == "stress":
        ss[prefix + "task"] = cfg.task


def on_model_change(prefix: str = "tr_") -> None:
    m = st.session_state[prefix + "model"]
    st.session_state[prefix + "width"] = int(model_default(m, "width", 32))
    st.session_state[prefix + "dropout"] = float(model_default(m, "dropout", 0.0) or 0.0)


def init_form(prefix: str = "tr_") -> None:
    from core.data import default_data_path

    ss = st.session_state
    if prefix + "recipe" not in ss:
        ss[prefix + "recipe"] = default_recipe()
        ss[prefix + "task"] = "emotion"
        apply_recipe(ss[prefix + "recipe"], prefix)
        ss[prefix + "name"] = ""
        ss[prefix + "limit"] = 0
        ss[prefix + "threads"] = 0
        ss[prefix + "val_fraction"] = 0.1
    ss.setdefault(prefix + "teacher", "")
    ss.setdefault(prefix + "distill", float(TrainConfig().distill))
    if prefix + "data" not in ss:
        p = default_data_path()
        ss[prefix + "data"] = str(p) if p else ""


def config_from_form(prefix: str = "tr_") -> TrainConfig:
    ss = st.session_state
    g = lambda k: ss[prefix + k]  # noqa: E731
    return TrainConfig(
        data=str(g("data")).strip(), task=g("task"), model=g("model"), width=int(g("width")),
        dropout=float(g("dropout")), epochs=int(g("epochs")), batch_size=int(g("batch_size")),
        optimizer=g("optimizer"), lr=float(g("lr")), momentum=float(g("momentum")), schedule=g("schedule"),
        warmup_epochs=float(g("warmup_epochs")), weight_decay=float(g("weight_decay")),
        label_smoothing=float(g("label_smoothing")), flip=bool(g("flip")),
        shift=int(g("shift")) if g("use_shift") else 0, rotate=float(g("rotate")) if g("use_rotate") else 0.0,
        scale=float(g("scale")) if g("use_scale") else 0.0, erase=float(g("erase")) if g("use_erase") else 0.0,
        seed=int(g("seed")), threads=int(g("threads")), val_fraction=float(g("val_fraction")), limit=int(g("limit")),
        name=str(g("name")).strip(), recipe=g("recipe"), teacher=str(ss.get(prefix + "teacher") or ""),
        distill=float(ss.get(prefix + "distill", TrainConfig().distill)),
    )


AUG_LABELS = {"flip": "Flip", "shift": "Shift", "rotate": "Rotate", "scale": "Scale", "erase": "Erase"}


def recipe_section(prefix: str = "tr_") -> None:
    from core.models import describe, list_models
    from core.recipes import RECIPES

    p = prefix
    first = [r for r in ("realtime", "quick", "default", "stress") if r in RECIPES]
    recipes = first + sorted(r for r in RECIPES if r not in first)
    st.selectbox("Recipe", recipes, key=p + "recipe", on_change=lambda: apply_recipe(st.session_state[p + "recipe"], p),
                 help="A recipe fills in every setting with values known to work; change any of them after.")
    note = "" if default_recipe() == "default" else (
        " Without a GPU, **realtime** is the sensible start; **default** is the most accurate but takes hours.")
    st.caption(recipe_description(st.session_state[p + "recipe"]) + note)
    c1, c2, c3 = st.columns([2, 1, 1])
    c1.selectbox("Model", list_models(), key=p + "model", on_change=lambda: on_model_change(p),
                 help="\n".join(f"- **{m}**: {describe(m)}" for m in list_models()))
    c2.number_input("Width", min_value=4, max_value=512, step=4, key=p + "width",
                    help="Channels of the first layer; deeper layers have more. Wider = more accurate, slower.")
    c3.number_input("Dropout", min_value=0.0, max_value=0.95, step=0.05, key=p + "dropout",
                    help="Share of units switched off at random in training, against over-fitting.")
    st.caption(describe(st.session_state[p + "model"]))


def optimisation_section(prefix: str = "tr_") -> None:
    p = prefix
    c1, c2, c3 = st.columns(3)
    c1.number_input("Epochs", min_value=1, max_value=1000, step=1, key=p + "epochs",
                    help="Passes over the training images.")
    c2.selectbox("Batch size", [8, 16, 32, 64, 128, 256, 512], key=p + "batch_size", help="Images per step.")
    c3.selectbox("Optimizer", OPTIMIZERS, key=p + "optimizer", help="SGD (Nesterov momentum), Adam or AdamW.")
    c1, c2, c3 = st.columns(3)
    c1.number_input("Learning rate", min_value=1e-6, max_value=10.0, step=1e-4, format="%g", key=p + "lr",
                    help="Typical: 0.05 for SGD, 0.001 to 0.005 for Adam(W).")
    c2.selectbox("Schedule", SCHEDULES, key=p + "schedule",
                 help="cosine: decays smoothly after a warm-up; onecycle: up then down; plateau: halves when "
                      "validation stalls; none: constant.")
    c3.number_input("Warm-up epochs", min_value=0.0, max_value=100.0, step=0.5, key=p + "warmup_epochs",
                    help="The learning rate climbs from 0 during these epochs.")
    c1, c2, c3 = st.columns(3)
    c1.number_input("Weight decay", min_value=0.0, max_value=0.99, step=1e-4, format="%g", key=p + "weight_decay",
                    help="Pulls weights towards 0 (not BatchNorm or biases).")
    c2.number_input("Label smoothing", min_value=0.0, max_value=0.99, step=0.05, key=p + "label_smoothing",
                    help="Softens the targets: FER2013's labels are noisy, 0.1 helps.")
    c3.number_input("Momentum", min_value=0.0, max_value=0.999, step=0.05, key=p + "momentum",
                    help="Used by SGD only.")
    teachers = teacher_options()
    if st.session_state.get(p + "teacher") not in teachers:  # a teacher deleted since it was picked
        st.session_state[p + "teacher"] = ""
    c1, c2 = st.columns([2, 1])
    c1.selectbox("Learn from a teacher (distillation)", list(teachers), format_func=teachers.get, key=p + "teacher",
                 help="A trained model whose soft answers the new model also learns, on the same augmented "
                      "images: the usual way to make a small, fast model nearly as good as a big one. The "
                      "teacher must know the same classes (emotions, or stress / no stress).")
    c2.number_input("Teacher's weight", min_value=0.0, max_value=1.0, step=0.1, key=p + "distill",
                    disabled=not st.session_state.get(p + "teacher"),
                    help="Share of the loss from the teacher's answers; the labels get the rest.")


def teacher_options() -> dict[str, str]:
    """"" (no teacher) and every loadable checkpoint, shipped ones first: path -> label."""
    from core.predictors import discover_models

    out = {"": "none"}
    for m in discover_models(runs="all"):
        if not m.error:
            out[str(m.path)] = f"{m.name} ({m.kind})"
    return out


def _aug_selected(prefix: str) -> list[str]:
    ss = st.session_state
    return [k for k in AUG_LABELS if (ss[prefix + "flip"] if k == "flip" else ss[prefix + "use_" + k])]


def _on_aug_change(prefix: str) -> None:
    ss = st.session_state
    chosen = set(ss[prefix + "aug"] or [])
    ss[prefix + "flip"] = "flip" in chosen
    for k in AUG_AMOUNTS:
        ss[prefix + "use_" + k] = k in chosen


def augmentation_section(prefix: str = "tr_") -> None:
    p = prefix
    ss = st.session_state
    ss[p + "aug"] = _aug_selected(p)  # the pills mirror the switches the recipe set
    st.pills("Random changes to each training batch, so the model learns faces rather than pictures",
             list(AUG_LABELS), selection_mode="multi", format_func=AUG_LABELS.get, key=p + "aug",
             on_change=_on_aug_change, args=(p,),
             help="Flip: mirror left-right. Shift: move by a few pixels. Rotate: tilt. Scale: zoom in or out. "
                  "Erase: blank a random patch.")
    with st.expander("Amounts", icon=":material/tune:"):
        c1, c2 = st.columns(2)
        c1.number_input("Shift (pixels)", min_value=1, max_value=12, step=1, key=p + "shift")
        c2.number_input("Rotation (degrees)", min_value=1.0, max_value=45.0, step=1.0, key=p + "rotate")
        c1.number_input("Scale (±)", min_value=0.01, max_value=0.5, step=0.05, key=p + "scale")
        c2.number_input("Erase probability", min_value=0.05, max_value=1.0, step=0.05, key=p + "erase")


def advanced_section(prefix: str = "tr_") -> None:
    p = prefix
    c1, c2 = st.columns(2)
    c1.number_input("Seed", min_value=0, max_value=2**31 - 1, step=1, key=p + "seed",
                    help="Same seed, same settings: the same run.")
    c2.number_input("Training images (0 = all)", min_value=0, step=1000, key=p + "limit",
                    help="Train on a random subset: for quick tries.")
    c1.number_input("CPU threads (0 = all)", min_value=0, max_value=256, step=1, key=p + "threads")
    c2.number_input("Validation share", min_value=0.01, max_value=0.49, step=0.01, key=p + "val_fraction",
                    help="For image folders without a val/ folder: the share of train set aside.")
    from core.train import describe_device

    st.caption(f"Runs train on this machine's **{describe_device()}**; a CUDA GPU is used automatically when "
               "there is one, and its checkpoints still run on a CPU.")


# ---------------------------------------------------------------- a run, live

def run_options(runs: list[Run]) -> list[str]:
    """Active runs first (running, then the queue), then the others, newest first."""
    active = [r.id for r in launcher.active_runs()]
    return active + [r.id for r in runs if r.id not in active]


def run_label(run_id: str) -> str:
    """A stable label (the state shows beside the run, not here: a label must not change under the user's click)."""
    try:
        run = Run.open(run_id)
    except (ValueError, FileNotFoundError):
        return run_id
    when = run_started(run)
    return f"{title_of(run)} · {when:%b %d, %H:%M}" if when else title_of(run)


def run_header(run: Run, state: str, cfg: TrainConfig) -> None:
    st.html(_CSS)
    items = [("model", f"{cfg.model}" + (f" ×{cfg.width}" if cfg.width else "")), ("task", cfg.task),
             ("data", data_name(cfg)), ("epochs", cfg.epochs), ("batch", cfg.batch_size),
             ("optimizer", f"{cfg.optimizer} lr {cfg.lr:g}")]
    if cfg.limit:
        items.append(("images", f"{cfg.limit:,}"))
    kv = " · ".join(f"{k} <b>{html.escape(str(v))}</b>" for k, v in items)
    title = title_of(run)
    st.markdown(f"<div class='fel-run-head'><span class='fel-run-title'>{html.escape(title)}</span>"
                f"{pill(state)}</div><div class='fel-kv'>{kv} · folder <code>{html.escape(run.id)}</code></div>",
                unsafe_allow_html=True)


def run_metrics_row(run: Run, cfg: TrainConfig, rows: list[dict]) -> None:
    summary = run.summary()
    best = max(rows, key=lambda r: r["val_acc"]) if rows else None
    c = st.columns(4)
    c[0].metric("Epochs done", f"{len(rows)} / {cfg.epochs}")
    c[1].metric("Best val. accuracy", fmt_pct(best["val_acc"]) if best else "–",
                help=f"at epoch {best['epoch']}" if best else None)
    if summary.get("test_acc") is not None:
        c[2].metric("Test accuracy", fmt_pct(summary["test_acc"]), help="of the best epoch's weights")
    else:
        c[2].metric("Train accuracy", fmt_pct(rows[-1]["train_acc"]) if rows else "–")
    c[3].metric("Training time", fmt_duration(sum(r.get("seconds", 0) for r in rows)) if rows else "–")


def run_controls(run: Run, state: str, key: str) -> None:
    """Stop / resume / cancel. A click reruns the fragment (or the page where the refresh must change)."""
    cols = st.columns([1, 1, 3])
    if state in ("running", "stopping"):
        if cols[0].button("Stop", key=f"{key}_stop", icon=":material/stop_circle:", disabled=state == "stopping",
                          help="Saves a checkpoint at once (mid-epoch); Resume continues from exactly there."):
            launcher.stop(run)
            st.toast(f"Stopping {title_of(run)}: saving a checkpoint…", icon=":material/stop_circle:")
            st.rerun()
    elif state == "queued":
        if cols[0].button("Cancel", key=f"{key}_cancel", icon=":material/cancel:",
                          help="Take it out of the queue. You can still start it later with Resume."):
            _queue_action(launcher.cancel, run, "taken out of the queue.", ":material/cancel:")
    elif state in ("stopped", "interrupted", "failed", "cancelled", "pruned"):
        label = "Resume" if (run.last_path.exists() and state != "failed") else (
            "Retry" if state == "failed" else "Start")
        if cols[0].button(label, key=f"{key}_resume", icon=":material/play_arrow:", type="primary",
                          help="Queue it again; it continues from its last checkpoint (or starts over if it has none)."):
            _queue_action(launcher.resume, run, "is queued again.", ":material/play_arrow:")


def _queue_action(action, run: Run, done: str, icon: str) -> None:
    """Cancel or resume through the launcher: a toast and a redraw when it worked; its reason, left on the
    page (a rerun would wipe it at once), when it refused."""
    try:
        action(run)
    except ValueError as e:
        st.warning(str(e))
        return
    st.toast(f"{title_of(run)} {done}", icon=icon)
    st.rerun()


def state_message(run: Run, state: str, rows: list[dict]) -> None:
    status = run.status()
    if state == "failed":
        st.error(f"**Training failed.** {status.get('error') or 'See the log below.'}", icon=":material/error:")
    elif state == "interrupted":
        st.warning(f"**Interrupted.** The process training this run ended without finishing (the computer "
                   f"restarted, or it was killed). Nothing is lost: **Resume** continues from the last checkpoint "
                   f"({len(rows)} epoch(s) done).", icon=":material/warning:")
    elif state == "stopped":
        st.info("Stopped with a checkpoint. **Resume** continues at the same batch.", icon=":material/pause_circle:")
    elif state == "cancelled":
        st.info("Taken out of the queue before it started.", icon=":material/cancel:")
    elif state == "pruned":
        st.info("Ended early by the hyper-parameter search: it was doing worse than earlier trials.",
                icon=":material/content_cut:")
    elif state == "queued":
        pos = launcher.queue_position(run)
        n = launcher.max_parallel()
        st.info(f"**Waiting in the queue**{f' (position {pos})' if pos else ''}. It starts as soon as "
                f"{'a run' if n > 1 else 'the run'} before it ends (runs at once: {n}).", icon=":material/schedule:")
    elif state == "finished":
        s = run.summary()
        if s:
            st.success(f"**Finished.** Best validation accuracy {fmt_pct(s.get('best_val_acc'))} at epoch "
                       f"{s.get('best_epoch')}; test accuracy {fmt_pct(s.get('test_acc'))}. Compare it with the others "
                       "on the **Experiments** page.", icon=":material/check_circle:")


def run_view(run: Run, key: str = "live", show_controls: bool = True, log_lines: int = 12) -> str:
    """Everything about one run: header, state, progress, numbers, curves, controls, log. Returns the state."""
    try:
        cfg = run.config()
    except Exception as e:  # noqa: BLE001
        st.error(f"The configuration of run `{run.id}` cannot be read: {e}")
        return "failed"
    state = display_state(run)
    rows = run.metrics()
    run_header(run, state, cfg)
    if state in ("running", "stopping"):
        frac, text = progress_of(run, cfg)
        st.progress(frac, text=text)
    state_message(run, state, rows)
    if show_controls:
        run_controls(run, state, key)
    run_metrics_row(run, cfg, rows)
    if rows:
        c1, c2 = st.columns(2)
        c1.plotly_chart(curves_figure({title_of(run): rows}, "loss", height=300), key=f"{key}_loss",
                        config={"displayModeBar": False})
        c2.plotly_chart(curves_figure({title_of(run): rows}, "acc", height=300), key=f"{key}_acc",
                        config={"displayModeBar": False})
    elif state in ("running", "queued", "stopping"):
        st.caption("The curves appear when the first epoch ends.")
    log = run.tail_log(log_lines)
    with st.expander("Log (last lines)", expanded=state in ("failed",), icon=":material/article:"):
        st.code(log or "(nothing yet)", language=None)
        out = run.dir / "output.log"
        if state == "failed" and out.exists():
            tail = "\n".join(out.read_text(errors="replace").splitlines()[-15:])
            if tail.strip():
                st.caption("Process output")
                st.code(tail, language=None)
    return state


def live_run(run_id: str) -> None:
    """The selected run, refreshed every few seconds while it is queued or running."""
    try:
        run = Run.open(run_id)
    except (ValueError, FileNotFoundError):
        st.info("This run no longer exists.")
        return
    active = run.state() in ("queued", "running")

    @st.fragment(run_every=REFRESH_S if active else None)
    def _live():
        now_active = run.state() in ("queued", "running")
        if now_active != active:
            st.rerun()  # the whole page: the refresh switches on or off, the lists change
        run_view(run, key=f"live_{run.id}")

    _live()


def queue_panel(refresh: bool = False) -> None:
    """Running runs and the queue, in the order they will start; cancel a waiting run; runs at once."""

    @st.fragment(run_every=REFRESH_S * 2 if refresh else None)
    def _queue():
        queued = launcher.queued_runs()
        running = launcher.running_runs()
        n = launcher.max_parallel()
        with st.container(border=True):
            st.markdown("##### :material/queue: Queue")
            st.caption(f"{len(running)} running · {len(queued)} waiting · up to **{n}** at a time")
            if not queued and not running:
                st.caption("Nothing running: a run you start begins at once.")
            for r in running:
                frac, text = progress_of(r)
                st.progress(frac, text=f"**{html.escape(title_of(r))}** · {text.split(' · ')[0]}")
            for i, r in enumerate(queued, 1):
                managed = " · search trial" if r.status().get("managed") else ""
                st.markdown(f"**{i}.** {html.escape(title_of(r))} <span class='fel-kv'>· waiting{managed}</span>",
                            unsafe_allow_html=True)
                if st.button("Cancel", key=f"q_cancel_{r.id}", icon=":material/close:", type="tertiary",
                             help="Take it out of the queue (Resume starts it later)."):
                    try:
                        launcher.cancel(r)
                    except ValueError as e:
                        st.warning(str(e))
                    st.rerun()
            with st.popover("Runs at once", icon=":material/settings:", width="stretch"):
                new = st.number_input("Runs training at the same time", min_value=1, max_value=launcher.MAX_PARALLEL,
                                      value=n, step=1, key="q_max_parallel",
                                      help="On a small computer one at a time is fastest overall: two runs share "
                                           "the same cores and each takes twice as long.")
                if st.button("Save", key="q_save", disabled=new == n):
                    launcher.set_max_parallel(int(new))
                    st.rerun()

    _queue()


# ---------------------------------------------------------------- evaluations stored with a run

def evaluations(run: Run) -> list[dict]:
    return list(read_json(run.dir / "evaluations.json", {}).get("items", []))


def save_evaluation(run: Run, result: dict) -> dict:
    item = {k: result.get(k) for k in ("split", "tta", "data", "n", "accuracy", "macro_f1", "loss", "classes",
                                        "confusion", "per_class")}
    item["time"] = time.time()
    items = [e for e in evaluations(run)
             if (e.get("split"), e.get("tta"), e.get("data")) != (item["split"], item["tta"], item["data"])]
    write_json(run.dir / "evaluations.json", {"items": items + [item]})
    return item


def evaluation_label(e: dict) -> str:
    tta = {None: "no TTA", "flip": "flip TTA", "tencrop": "ten-crop TTA"}.get(e.get("tta"), str(e.get("tta")))
    return f"{e.get('split')} split, {tta} · {fmt_pct(e.get('accuracy'))}"


# ---------------------------------------------------------------- search helpers

def optuna_figure(kind: str, study):
    """One of Optuna's plotly views, styled like ours; (figure, None) or (None, why not)."""
    import optuna
    from optuna.trial import TrialState

    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    need = {"history": 1, "importances": 2, "parallel": 1, "intermediate": 1}[kind]
    if len(complete) < need and kind != "intermediate":
        return None, (f"Needs at least {need} finished trial{'s' if need > 1 else ''} "
                      f"({len(complete)} so far).")
    import warnings

    try:
        warnings.filterwarnings("ignore", message="Target and region quantiles")  # few trials: importances equal
        vis = optuna.visualization
        if kind == "history":
            fig = vis.plot_optimization_history(study, target_name="validation accuracy")
        elif kind == "importances":
            if not complete[0].params or len({tuple(sorted(t.params.items())) for t in complete}) < 2:
                return None, "Needs finished trials with different parameters."
            fig = vis.plot_param_importances(study, target_name="validation accuracy")
        elif kind == "parallel":
            fig = vis.plot_parallel_coordinate(study, target_name="validation accuracy")
        else:
            fig = vis.plot_intermediate_values(study)
    except Exception as e:  # noqa: BLE001 - optuna refuses some studies (e.g. one parameter value)
        return None, f"Optuna cannot draw this yet: {e}"
    fig.update_layout(margin=dict(l=10, r=10, t=50, b=10), height=360, paper_bgcolor="rgba(0,0,0,0)",
                      font=dict(size=12))
    return fig, None


# ---------------------------------------------------------------- experiments: the table of runs

TABLE_ORDER = ["name", "status", "promoted", "model", "width", "task", "data", "epochs", "best val acc", "test acc",
               "optimizer", "lr", "batch", "weight decay", "label smoothing", "schedule", "limit", "minutes", "date",
               "study", "run_id"]


def table_config() -> dict:
    cc = st.column_config
    return {
        "name": cc.TextColumn("name", help="the title you gave it, or the run's folder name", pinned=True),
        "status": cc.TextColumn("status"),
        "promoted": cc.CheckboxColumn("★", help="promoted: offered first on the Webcam and Compare pages"),
        "width": cc.NumberColumn("width", format="%d"),
        "epochs": cc.TextColumn("epochs", help="done / planned"),
        "best val acc": cc.ProgressColumn("best val acc", format="%.1f%%", min_value=0, max_value=100,
                                          help="best validation accuracy over the epochs"),
        "test acc": cc.ProgressColumn("test acc", format="%.1f%%", min_value=0, max_value=100,
                                      help="test split, weights of the best epoch"),
        "lr": cc.NumberColumn("lr", format="%g"),
        "weight decay": cc.NumberColumn("weight decay", format="%g"),
        "label smoothing": cc.NumberColumn("smoothing", format="%.2f"),
        "limit": cc.NumberColumn("images", format="%d", help="training images used (empty = all)"),
        "minutes": cc.NumberColumn("minutes", format="%.1f", help="training time"),
        "date": cc.DatetimeColumn("started", format="YYYY-MM-DD HH:mm"),
        "study": cc.TextColumn("study", help="the hyper-parameter search it belongs to"),
        "run_id": cc.TextColumn("run folder"),
    }


def _on_table_select() -> None:
    ss = st.session_state
    rows = ss["exp_table"].selection.rows if "exp_table" in ss else []
    ids = ss.get("_exp_ids", [])
    picked = [ids[i] for i in rows if i < len(ids)]
    if picked:
        ss["exp_pick"] = picked


def unique_labels(ids: list[str], names: dict[str, str]) -> dict[str, str]:
    out, seen = {}, {}
    for i in ids:
        n = names.get(i, i)
        seen[n] = seen.get(n, 0) + 1
        out[i] = n if seen[n] == 1 else f"{n} ({i[-6:]})"
    return out


def default_picks(df: pd.DataFrame, n: int = 3) -> list[str]:
    """What to show first: the best finished runs by validation accuracy, else the newest with curves."""
    if df.empty:
        return []
    done = df[df["status"] == "finished"].sort_values("best val acc", ascending=False, na_position="last")
    if len(done):
        return list(done["run_id"][:n])
    started = df[df["best val acc"].notna()] if "best val acc" in df else df
    return list((started if len(started) else df)["run_id"][:1])


def runs_table(runs: list[Run]) -> tuple[pd.DataFrame, list[str]]:
    """Filters and the sortable table; returns (all runs' frame, the picked run ids)."""
    ss = st.session_state
    df = runs_frame(runs)
    c = st.columns([3, 2, 2, 2])
    text = c[0].text_input("Search", key="exp_text", placeholder="name, model, notes, study…")
    states = c[1].multiselect("Status", sorted(df["status"].unique()), key="exp_states")
    models = c[2].multiselect("Model", sorted(df["model"].unique()), key="exp_models")
    tasks = c[3].multiselect("Task", sorted(df["task"].unique()), key="exp_tasks")
    view = filter_frame(df, text, states, models, tasks)
    ss["_exp_ids"] = list(view["run_id"])
    st.dataframe(view, key="exp_table", on_select=_on_table_select, selection_mode="multi-row", hide_index=True,
                 column_order=[c for c in TABLE_ORDER if c in view.columns], column_config=table_config(),
                 height=min(420, 38 + 35 * max(len(view), 1)))
    st.caption(f"{len(view)} of {len(df)} runs · click a header to sort · tick rows to compare them below")

    ids = list(df["run_id"])
    if "exp_pick" not in ss:
        ss["exp_pick"] = default_picks(df)
    ss["exp_pick"] = [i for i in ss["exp_pick"] if i in ids]
    names = dict(zip(df["run_id"], df["name"]))
    labels = unique_labels(ids, names)
    st.multiselect("Runs to compare", ids, key="exp_pick", format_func=lambda i: labels.get(i, i),
                   help="Or tick rows in the table.")
    return df, list(ss["exp_pick"])


def overlay_curves(picked: list[str], labels: dict[str, str]) -> None:
    series = {}
    for rid in picked:
        try:
            series[labels.get(rid, rid)] = Run.open(rid).metrics()
        except (ValueError, FileNotFoundError):
            continue
    if not any(series.values()):
        st.info("None of these runs has finished an epoch yet: no curves to show.", icon=":material/show_chart:")
        return
    show_train = st.toggle("Show the training curves too (dotted)", key="exp_show_train", value=True)
    c1, c2 = st.columns(2)
    c1.plotly_chart(curves_figure(series, "acc", show_train, height=380), key="exp_curves_acc")
    c2.plotly_chart(curves_figure(series, "loss", show_train, height=380), key="exp_curves_loss")
    if show_train and len(series) > 1:
        st.caption("Solid: validation. Dotted: training. A growing gap between them is over-fitting.")


# ---------------------------------------------------------------- experiments: one run

def result_sources(run: Run) -> dict[str, dict]:
    """label -> an evaluation dict (accuracy, confusion, per_class, classes): the end-of-training test, then
    the evaluations made from this page."""
    out = {}
    s = run.summary()
    if s.get("test"):
        out["test split, at the end of training"] = {**s["test"], "split": "test", "tta": None}
    for e in sorted(evaluations(run), key=lambda e: e.get("time", 0), reverse=True):
        out[evaluation_label(e)] = e
    return out


def results_view(run: Run) -> None:
    from ui.charts import confusion_heatmap

    sources = result_sources(run)
    state = display_state(run)
    if not sources:
        st.info(f"No test results yet: the run is **{state}**. They appear when it finishes"
                + (", or evaluate its best checkpoint in the **Evaluate** tab." if run.best_path.exists() else "."),
                icon=":material/info:")
        return
    label = st.selectbox("Results of", list(sources), key=f"exp_src_{run.id}")
    r = sources[label]
    c = st.columns(4)
    c[0].metric("Accuracy", fmt_pct(r.get("accuracy")))
    c[1].metric("Macro F1", fmt_pct(r.get("macro_f1")), help="mean of the per-class F1 scores: every class counts "
                "the same, however rare")
    c[2].metric("Faces", f"{int(r.get('n') or sum(map(sum, r.get('confusion', [[0]])))):,}")
    per = r.get("per_class") or []
    worst = min(per, key=lambda p: p["recall"]) if per else None
    if worst and all(p["recall"] == worst["recall"] for p in per):
        worst = None  # all equal: no class is the hardest
    c[3].metric("Hardest class", worst["class"] if worst else "–",
                help=f"{fmt_pct(worst['recall'])} recognised" if worst else None)
    c1, c2 = st.columns(2)
    c1.plotly_chart(confusion_heatmap(r["confusion"], r["classes"], title="Confusion matrix (row share, count)",
                                      height=400), key=f"exp_cm_{run.id}")
    if per:
        c2.plotly_chart(class_bars(per, height=400, title="Accuracy per class"), key=f"exp_pc_{run.id}")


def evaluate_view(run: Run) -> None:
    from core.data import default_data_path
    from core.evaluate import evaluate_checkpoint

    if not run.best_path.exists():
        st.info("This run has no checkpoint yet (it saves one after its first epoch).", icon=":material/info:")
        return
    cfg = run.config()
    st.caption("Measure the run's best checkpoint on a split of a data set, optionally with test-time "
               "augmentation (TTA): the model sees each face several ways and the answers are averaged.")
    c1, c2 = st.columns(2)
    split = c1.selectbox("Split", ["test", "val"], key=f"exp_ev_split_{run.id}",
                         format_func={"test": "test", "val": "validation"}.get)
    tta = c2.selectbox("Test-time augmentation", ["none", "flip", "tencrop"], key=f"exp_ev_tta_{run.id}",
                       format_func={"none": "none", "flip": "flip (2 views)", "tencrop": "ten-crop (10 views, slower)"}.get)
    default = cfg.data or str(default_data_path() or "")
    data = st.text_input("Data set", value=default, key=f"exp_ev_data_{run.id}")
    if st.button("Evaluate", key=f"exp_ev_go_{run.id}", icon=":material/fact_check:", type="primary"):
        bar = st.progress(0.0, text="Loading the data set…")

        def cb(done, total):
            bar.progress(done / max(total, 1), text=f"Evaluating: {done:,} / {total:,} faces")

        try:
            res = evaluate_checkpoint(run.best_path, data=data or None, split=split,
                                      tta=None if tta == "none" else tta, progress=cb)
        except Exception as e:  # noqa: BLE001 - data or checkpoint problems, in words
            bar.empty()
            st.error(f"The evaluation failed: {e}", icon=":material/error:")
        else:
            item = save_evaluation(run, res)
            bar.progress(1.0, text="Done")
            st.success(f"{evaluation_label(item)}; macro F1 {fmt_pct(item['macro_f1'])}. Saved with the run: "
                       "see it in **Results**.", icon=":material/check_circle:")
    items = evaluations(run)
    if items:
        st.dataframe(pd.DataFrame([{"split": e.get("split"), "TTA": e.get("tta") or "none",
                                    "accuracy": 100 * e["accuracy"], "macro F1": 100 * e["macro_f1"],
                                    "faces": e.get("n"), "data": Path(str(e.get("data"))).name,
                                    "when": datetime.fromtimestamp(e.get("time", 0))} for e in items]),
                     hide_index=True, key=f"exp_ev_table_{run.id}",
                     column_config={"accuracy": st.column_config.NumberColumn(format="%.1f%%"),
                                    "macro F1": st.column_config.NumberColumn(format="%.1f%%"),
                                    "when": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")})


def _save_info(run_id: str) -> None:
    ss = st.session_state
    try:
        run = Run.open(run_id)
        run.update_info(title=ss[f"exp_title_{run_id}"].strip(), notes=ss[f"exp_notes_{run_id}"])
        ss["exp_flash"] = ("success", "Saved.")
    except (ValueError, FileNotFoundError, OSError) as e:
        ss["exp_flash"] = ("error", f"Could not save: {e}")


def _toggle_promoted(run_id: str) -> None:
    ss = st.session_state
    try:
        Run.open(run_id).update_info(promoted=bool(ss[f"exp_promote_{run_id}"]))
    except (ValueError, FileNotFoundError, OSError) as e:
        ss["exp_flash"] = ("error", f"Could not save: {e}")


def int8_copy_view(run: Run) -> None:
    """Make an int8 copy of the run's best checkpoint in the models folder (core.quantize): the same answers
    within a fraction of a point, faster on a CPU (2x for seed-vgg), so a better model still keeps the webcam smooth."""
    from core.predictors import clear_caches, default_model_dir
    from core.quantize import quantize_checkpoint
    from core.runs import slug
    from ui.widgets import friendly_error

    ss = st.session_state
    st.markdown("**A faster copy for the webcam**")
    st.caption("An int8 copy of this run's best checkpoint: faster on a CPU (`seed-vgg`'s runs 2x faster) for "
               "nearly the same accuracy (both are measured and shown). It joins your models on the Webcam and Compare pages. "
               "No retraining: a few thousand training images calibrate it, in about a minute.")
    key = f"exp_int8_name_{run.id}"
    if key not in ss:
        ss[key] = f"{slug(title_of(run))}-int8"
    c1, c2 = st.columns([3, 2], vertical_alignment="bottom")
    c1.text_input("Name of the copy", key=key, max_chars=60)
    go_ = c2.button("Make the int8 copy", key=f"exp_int8_go_{run.id}", icon=":material/bolt:",
                    disabled=not run.best_path.exists(), help=None if run.best_path.exists() else "Needs best.pt.")
    done = ss.pop(f"exp_int8_done_{run.id}", None)
    if done:
        st.success(done, icon=":material/bolt:")
    if not go_:
        return
    dst = default_model_dir() / f"{slug(ss[key] or 'int8')}.pt"
    try:  # an existing file of that name is kept and said (core.quantize)
        with st.spinner("Quantizing, then measuring the float and the int8 model on the validation and test "
                        "splits…"):
            r = quantize_checkpoint(run.best_path, dst, data=run.config().data or None)
    except Exception as e:  # noqa: BLE001 - whatever goes wrong is said, not raised
        st.error(f"No int8 copy made: {friendly_error(e)}")
        return
    clear_caches()
    ss[f"exp_int8_done_{run.id}"] = (
        f"Saved `{dst.name}`: validation {r['int8_val_acc']:.2%} (float {r['float_val_acc']:.2%}), test "
        f"{r['int8_test_acc']:.2%} (float {r['float_test_acc']:.2%}). Pick it on the Webcam page.")
    st.rerun()


def manage_view(run: Run) -> None:
    ss = st.session_state
    info = run.info()
    state = run.state()
    if f"exp_title_{run.id}" not in ss:
        ss[f"exp_title_{run.id}"] = info.get("title", "")
        ss[f"exp_notes_{run.id}"] = info.get("notes", "")
    ss[f"exp_promote_{run.id}"] = bool(info.get("promoted"))
    st.toggle("Promoted: offered first on the Webcam and Compare pages", key=f"exp_promote_{run.id}",
              on_change=_toggle_promoted, args=(run.id,), disabled=not run.best_path.exists(),
              help="Needs a checkpoint (best.pt)." if not run.best_path.exists() else None)
    st.text_input("Name", key=f"exp_title_{run.id}", placeholder=run.id, max_chars=120,
                  help="Shown everywhere instead of the folder name. The folder itself keeps its name.")
    st.text_area("Notes", key=f"exp_notes_{run.id}", height=90, placeholder="What you tried, what you saw…")
    st.button("Save name and notes", key=f"exp_save_{run.id}", icon=":material/save:", on_click=_save_info,
              args=(run.id,))
    flash = ss.pop("exp_flash", None)
    if flash:
        (st.success if flash[0] == "success" else st.error)(flash[1])
    st.divider()
    int8_copy_view(run)
    st.divider()
    if ss.get("exp_confirm_delete") == run.id:
        st.warning(f"Delete **{html.escape(title_of(run))}** for good? Its checkpoints, metrics, log and curves are "
                   "removed; this cannot be undone.", icon=":material/warning:")
        c1, c2, _ = st.columns([1, 1, 3])
        if c1.button("Yes, delete it", key=f"exp_del_yes_{run.id}", type="primary", icon=":material/delete:"):
            title = title_of(run)
            try:
                if run.state() == "queued":
                    launcher.cancel(run)
                run.delete()
            except (RuntimeError, ValueError, OSError) as e:
                st.error(f"Not deleted: {e}")
            else:
                ss.pop("exp_confirm_delete", None)
                ss["exp_deleted"] = title
                st.rerun()
        if c2.button("Keep it", key=f"exp_del_no_{run.id}"):
            ss.pop("exp_confirm_delete", None)
            st.rerun()
    else:
        running = state == "running"
        if st.button("Delete this run…", key=f"exp_del_{run.id}", icon=":material/delete:", disabled=running,
                     help="Stop it first." if running else "Asks for confirmation."):
            ss["exp_confirm_delete"] = run.id
            st.rerun()
    st.caption(f"Folder: `{run.dir}`. Shipped models (`model/*.pt`) are not runs and cannot be deleted here.")


# ---------------------------------------------------------------- experiments: hyper-parameter search

PARAM_CHOICES = {"batch_size": [16, 32, 64, 128, 256, 512], "optimizer": list(OPTIMIZERS),
                 "schedule": list(SCHEDULES), "width": [8, 16, 24, 32, 48, 64, 96, 128]}


def search_space_inputs(n_cols: int = 2) -> dict:
    """A checkbox per searchable parameter, and its range or choices when ticked. Returns the space."""
    from core.search import DEFAULT_PARAMS, SEARCHABLE

    ss = st.session_state
    space = {}
    names = [n for n in SEARCHABLE if n != "model"]  # the architectures are chosen above
    cols = st.columns(n_cols, gap="medium")
    for i, name in enumerate(names):
        meta = SEARCHABLE[name]
        d = meta["default"]
        key = f"se_on_{name}"
        if key not in ss:
            ss[key] = name in DEFAULT_PARAMS
        with cols[i % n_cols]:
            on = st.checkbox(meta["label"].capitalize(), key=key)
            if not on:
                continue
            if meta["kind"] == "categorical":
                choices = st.multiselect(f"{meta['label']}: choices", PARAM_CHOICES.get(name, d["choices"]),
                                         default=d["choices"], key=f"se_ch_{name}", label_visibility="collapsed")
                space[name] = {"choices": list(choices)}
                continue
            c1, c2 = st.columns(2)
            if meta["kind"] == "int":
                lo = c1.number_input("from", min_value=meta["bounds"][0], max_value=meta["bounds"][1],
                                     value=d["low"], step=1, key=f"se_lo_{name}")
                hi = c2.number_input("to", min_value=meta["bounds"][0], max_value=meta["bounds"][1],
                                     value=d["high"], step=1, key=f"se_hi_{name}")
                space[name] = {"low": int(lo), "high": int(hi)}
            else:
                lo = c1.number_input("from", min_value=float(meta["bounds"][0]), max_value=float(meta["bounds"][1]),
                                     value=float(d["low"]), format="%g", key=f"se_lo_{name}")
                hi = c2.number_input("to", min_value=float(meta["bounds"][0]), max_value=float(meta["bounds"][1]),
                                     value=float(d["high"]), format="%g", key=f"se_hi_{name}")
                log = st.checkbox("log scale", value=bool(d.get("log")), key=f"se_log_{name}",
                                  help="Sample on a log scale (for ranges over several powers of ten).")
                space[name] = {"low": float(lo), "high": float(hi), "log": bool(log)}
    return space


def new_search_form() -> None:
    from core.data import default_data_path
    from core.models import list_models
    from core.recipes import RECIPES

    ss = st.session_state
    if "se_name" not in ss:
        ss["se_name"] = f"search-{time.strftime('%m%d-%H%M')}"
        p = default_data_path()
        ss["se_data"] = ss.get("tr_data") or (str(p) if p else "")
    left, right = st.columns([2, 3], gap="large")
    with left:
        st.text_input("Study name", key="se_name", max_chars=60,
                      help="Letters, digits, - and _. Starting a study with an existing name adds trials to it.")
        c1, c2, c3 = st.columns(3)
        trials = c1.number_input("Trials", min_value=1, max_value=200, value=10, step=1, key="se_trials")
        epochs = c2.number_input("Epochs each", min_value=1, max_value=200, value=5, step=1, key="se_epochs",
                                 help="Epochs per trial.")
        limit = c3.number_input("Images each", min_value=0, value=5000, step=1000, key="se_limit",
                                help="Training images per trial (0 = all): a search tries many settings, so each "
                                     "trial is kept short.")
        st.text_input("Data set", key="se_data")
        c1, c2 = st.columns(2)
        task = c1.radio("Task", list(TASKS), key="se_task", horizontal=True)
        recipe = c2.selectbox("Start from recipe", sorted(RECIPES), index=sorted(RECIPES).index("realtime"),
                              key="se_recipe", help="Everything not searched comes from this recipe.")
        models = st.multiselect("Architectures to try", list_models(), default=["mini_xception"], key="se_models")
    with right:
        st.markdown("**Parameters to search** · the others stay as in the recipe")
        space = search_space_inputs()
    st.caption(f"Up to {int(trials) * int(epochs)} epochs in all; weak trials are stopped early (median pruning). "
               "Trials take turns with the other runs in the queue.")
    if st.button("Start search", type="primary", icon=":material/travel_explore:", key="se_start"):
        from core.search import validate_space

        errs = [] if models else ["pick at least one architecture"]
        errs += validate_space(space)
        data = ss["se_data"].strip()
        if not data:
            errs.append("choose a data set")
        if errs:
            st.error("Please fix these first:\n\n" + "\n".join(f"- {e}" for e in errs), icon=":material/error:")
            return
        try:
            launcher.start_search(ss["se_name"].strip(), n_trials=int(trials), epochs=int(epochs), models=models,
                                  limit=int(limit), task=task, data=data, space=space, recipe=recipe)
        except (ValueError, OSError) as e:
            st.error(f"The search could not be started: {e}", icon=":material/error:")
        else:
            ss["se_view"] = ss["se_name"].strip()
            ss["se_started"] = True
            st.rerun()


def study_view(name: str, alive: bool) -> None:
    from core import search

    try:
        study = search.load_study(name)
    except ValueError:
        study = None
    if study is None:
        if alive:
            st.info("The search is starting (loading the data set)…", icon=":material/hourglass_top:")
            st.code(launcher.search_log(name, 8) or "(no output yet)", language=None)
        else:
            st.warning("This search ended before its first trial.", icon=":material/warning:")
            log = launcher.search_log(name, 15)
            if log:
                st.code(log, language=None)
        return
    rows = search.trials_table(study)
    states = [r["state"] for r in rows]
    done = [r for r in rows if r["state"] == "complete" and r["val_acc"] is not None]
    best = max(done, key=lambda r: r["val_acc"]) if done else None
    c = st.columns(4)
    c[0].metric("Trials", len(rows))
    c[1].metric("Finished / pruned", f"{states.count('complete')} / {states.count('pruned')}")
    c[2].metric("Failed", states.count("fail") + states.count("interrupted"))
    c[3].metric("Best val. accuracy", fmt_pct(best["val_acc"]) if best else "–",
                help=f"trial {best['trial']}" if best else None)
    if best:
        params = {k[6:]: v for k, v in best.items() if k.startswith("param ")}
        st.success("**Best so far:** " + ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}"
                                                   for k, v in params.items())
                   + f" (run `{best['run_id']}`)", icon=":material/emoji_events:")
    if rows:
        df = pd.DataFrame(rows)
        df["val_acc"] = df["val_acc"].map(lambda v: None if v is None else 100 * v)
        st.dataframe(df.drop(columns=["error"] if df["error"].isna().all() else []), hide_index=True,
                     key=f"se_trials_{name}", height=min(320, 38 + 35 * len(df)),
                     column_config={"val_acc": st.column_config.ProgressColumn("val acc", format="%.1f%%",
                                                                               min_value=0, max_value=100),
                                    "seconds": st.column_config.NumberColumn("seconds", format="%.0f"),
                                    "run_id": st.column_config.TextColumn("run")})
    tabs = st.tabs(["Optimization history", "Parallel coordinates", "Parameter importance", "Per-epoch values"])
    for tab, kind in zip(tabs, ("history", "parallel", "importances", "intermediate")):
        with tab:
            fig, why = optuna_figure(kind, study)
            if fig is None:
                st.info(why, icon=":material/hourglass_empty:")
            else:
                st.plotly_chart(fig, key=f"se_fig_{kind}_{name}")
    with st.expander("Search log", icon=":material/article:"):
        st.code(launcher.search_log(name, 20) or "(started from the command line: no log here)", language=None)
