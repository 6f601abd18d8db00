"""The hyper-parameter search on the Experiments page: the form that starts a background search (parameters
to search and their ranges), and a study's trials, best result and Optuna's plots.

The studies come from the database in FEL_STUDY_STORAGE when it is set (a PostgreSQL study that workers on
other machines share), else from SQLite in the runs folder; every figure shown is read from the study, so a
trial trained on another machine, whose run folder is not here, is listed all the same."""
from __future__ import annotations

import html
import time

import pandas as pd
import streamlit as st

from core import jobs
from core.config import OPTIMIZERS, SCHEDULES, TASKS
from core.data import default_data_path
from core.jobs import search
from core.jobs.estimate import estimate_search, measured_images_per_s
from core.jobs.places import is_study_name
from core.jobs.space import DEFAULT_PARAMS, SEARCHABLE, validate_space
from core.models import list_models
from core.runs import Run
from core.settings import readable_by_app, study_storage
from core.train.recipes import RECIPES

from . import study_charts
from .dataset import outside_roots_message
from .format import fmt_duration, fmt_pct, state_pill


SEARCH_REFRESH_S = 5


PARAM_CHOICES = {"batch_size": [16, 32, 64, 128, 256, 512], "optimizer": list(OPTIMIZERS),
                 "schedule": list(SCHEDULES), "width": [8, 16, 24, 32, 48, 64, 96, 128]}


def search_space_inputs(n_cols: int = 2) -> dict:
    """A checkbox per searchable parameter, and its range or choices when ticked. Returns the space."""
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
    estimate = time_estimate(int(trials), int(epochs), int(limit), tuple(models))
    if estimate:
        st.info(estimate, icon=":material/schedule:")
    if st.button("Start search", type="primary", icon=":material/travel_explore:", key="se_start"):
        errs = [] if models else ["pick at least one architecture"]
        errs += validate_space(space)
        data = ss["se_data"].strip()
        if not data:
            errs.append("choose a data set")
        elif not readable_by_app(data):
            errs.append(outside_roots_message(data))
        if errs:
            st.error("Please fix these first:\n\n" + "\n".join(f"- {e}" for e in errs), icon=":material/error:")
            return
        try:
            jobs.start_search(ss["se_name"].strip(), n_trials=int(trials), epochs=int(epochs), models=models,
                              limit=int(limit), task=task, data=data, space=space, recipe=recipe)
        except (ValueError, OSError) as e:
            st.error(f"The search could not be started: {e}", icon=":material/error:")
        else:
            ss["se_view"] = ss["se_name"].strip()
            ss["se_started"] = True
            st.rerun()


@st.cache_data(show_spinner=False, ttl=600)
def _measured_speed(model: str) -> float:
    return measured_images_per_s(model)


def time_estimate(trials: int, epochs: int, limit: int, models: tuple) -> str | None:
    """The search's estimated length, in words, with what it is based on (None when it cannot be estimated)."""
    try:
        e = estimate_search(trials, epochs, limit, list(models), measure=_measured_speed)
    except Exception:  # noqa: BLE001 - an estimate only: never in the way of starting a search
        return None
    if e is None:
        return None
    basis = ("this machine's recorded training speed" if e.source == "recorded"
             else "a few training steps timed just now (no run has been trained here yet)")
    each = f"{e.images_per_trial:,} images" + ("" if limit else " (all of FER2013's training faces)")
    return (f"**Estimate: about {fmt_duration(e.seconds)}** if every trial runs all its epochs: {trials} trials × "
            f"{epochs} epochs × {each} at {e.images_per_s:,.0f} images/s, from {basis}. Pruned trials end "
            "sooner; other runs in the queue make it longer.")


def study_url() -> str | None:
    """The study database this page reads: FEL_STUDY_STORAGE's URL, or None for SQLite in the runs folder."""
    return study_storage() or None


def database_caption(url: str | None) -> str:
    """Which database the studies come from, in words, without its password."""
    where = "FEL_STUDY_STORAGE" if url else "SQLite in the runs folder"
    return f"Studies from `{search.redacted(search.storage_url(url=url))}` ({where})."


def run_here(run_id) -> bool:
    """Whether a trial's run folder is on this machine (a worker elsewhere keeps its own runs folder)."""
    if not run_id:
        return False
    try:
        Run.open(run_id)
    except (ValueError, FileNotFoundError, OSError):
        return False
    return True


def study_heading(name: str, alive: bool) -> str:
    """The study's state and name, as HTML: the name comes from a database other users write, so it is
    escaped; one outside this app's names is marked read-only."""
    foreign = "" if is_study_name(name) else " <span class='fel-muted'>(made outside this app: read-only)</span>"
    return state_pill("running" if alive else "idle") + f" &nbsp;<b>{html.escape(name)}</b>{foreign}"


def study_view(name: str, alive: bool, url: str | None = None) -> None:
    try:
        study = search.load_study(name, url=url)
    except ValueError:
        study = None
    if study is None:
        _study_not_started(name, alive)
        return
    rows = search.trials_table(study)
    for r in rows:
        r["here"] = run_here(r["run_id"])
    _study_summary(rows)
    if rows:
        _trials_table(rows, name)
    _study_figures(study, name)
    if not is_study_name(name):  # no log or stop file of ours can belong to it
        st.caption("This study was made outside this app (its name is not one the app gives): its trials and "
                   "figures are shown, read-only; it has no search log here.")
        return
    with st.expander("Search log", icon=":material/article:"):
        st.code(jobs.search_log(name, 20) or "(started from the command line: no log here)", language=None)


def _study_not_started(name: str, alive: bool) -> None:
    if alive:
        st.info("The search is starting (loading the data set)…", icon=":material/hourglass_top:")
        st.code(jobs.search_log(name, 8) or "(no output yet)", language=None)
        return
    st.warning("This search ended before its first trial.", icon=":material/warning:")
    log = jobs.search_log(name, 15)
    if log:
        st.code(log, language=None)


def _study_summary(rows: list[dict]) -> None:
    """Trials by state, the best validation accuracy, and the best trial's parameters."""
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
                                                   for k, v in params.items()) + best_run_note(best),
                   icon=":material/emoji_events:")


def best_run_note(best: dict) -> str:
    """Where the best trial's run is: its id, and the worker that trained it when that is not this machine
    (nothing said where the study does not know the run)."""
    if not best.get("run_id"):
        return ""
    where = "" if best["here"] else f", trained by {best['worker'] or 'another worker'}: not on this machine"
    return f" (run `{best['run_id']}`{where})"


def trials_frame(rows: list[dict]) -> pd.DataFrame:
    """The trials as the table shows them: both accuracies in %, durations in words, settings to 4 figures, and
    a dash (never a raw "None") where a trial has no value yet."""
    df = pd.DataFrame(rows)
    df["val_acc"] = df["val_acc"].map(lambda v: None if v is None else 100 * v)
    df["test_acc"] = df["test_acc"].map(lambda v: "–" if v is None or v != v else f"{100 * v:.1f}%")
    df["seconds"] = df["seconds"].map(fmt_duration)
    front = ["trial", "state", "val_acc", "test_acc", "epochs", "worker", "run_id", "here"]
    df = df[front + [c for c in df.columns if c not in front]]
    df = df.drop(columns=[c for c in ("error", "retry_of") if df[c].isna().all()])
    for c in df.columns:
        if c.startswith("param "):
            df[c] = df[c].map(lambda v: "–" if v is None or v != v else f"{v:.4g}" if isinstance(v, float) else str(v))
    for c in ("worker", "run_id", "error", "retry_of"):
        if c in df.columns:
            df[c] = df[c].map(lambda v: "–" if v is None or v != v else str(int(v)) if isinstance(v, float) else str(v))
    return df


def _trials_table(rows: list[dict], name: str) -> None:
    df = trials_frame(rows)
    st.dataframe(df, hide_index=True,
                 key=f"se_trials_{name}", height=min(320, 38 + 35 * len(df)),
                 column_config={"val_acc": st.column_config.ProgressColumn("val acc", format="%.1f%%",
                                                                           min_value=0, max_value=100),
                                "test_acc": st.column_config.TextColumn(
                                    "test acc", help="Of the trial's best epoch, on the test split (finished "
                                    "trials only)."),
                                "seconds": st.column_config.TextColumn("time"),
                                "worker": st.column_config.TextColumn(
                                    "worker", help="The machine and process that ran the trial (host:pid)."),
                                "run_id": st.column_config.TextColumn("run"),
                                "here": st.column_config.CheckboxColumn(
                                    "run here", help="Its run folder is on this machine (open it in the Runs "
                                    "tab); the figures shown come from the study either way."),
                                "retry_of": st.column_config.TextColumn(
                                    "retry of", help="The trial it runs again: that one's worker died.")})


def _study_figures(study, name: str) -> None:
    tabs = st.tabs(list(study_charts.FIGURES))
    for tab, (title, make) in zip(tabs, study_charts.FIGURES.items()):
        with tab:
            fig, why = make(study)
            if fig is None:
                st.info(why, icon=":material/hourglass_empty:")
            else:
                st.plotly_chart(fig, key=f"se_fig_{title}_{name}")
