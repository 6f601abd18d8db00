"""The Experiments page's table of runs (the user's runs and the shipped models' histories), its filters,
which runs are picked, and their curves overlaid."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from core.config import TrainConfig
from core.runs import Run, open_run

from . import charts
from .format import PROMOTED, data_name, display_state, run_started, teacher_label
from .state import keep


TABLE_ORDER = ["name", "status", "promoted", "model", "width", "task", "data", "epochs", "best val acc", "test acc",
               "optimizer", "lr", "batch", "weight decay", "label smoothing", "schedule", "limit", "minutes", "date",
               "study", "run_id"]


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
        "name": run.title,
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
        "notes": run.problem() or info.get("notes", ""),
    }


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


def table_config() -> dict:
    cc = st.column_config
    return {
        "name": cc.TextColumn("name", help="the title you gave it, or the run's folder name", pinned=True),
        "status": cc.TextColumn("status"),
        "promoted": cc.CheckboxColumn("★", help=PROMOTED.replace("Promoted:", "promoted:")),
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


def counts_note(df: pd.DataFrame, untrained: dict[str, str]) -> str:
    """What the table counts (trainings: ours and the shipped models'), and the shipped models it cannot list."""
    shipped = int((df["status"] == "shipped").sum()) if len(df) else 0
    mine = len(df) - shipped
    text = (f"{mine} run{'s' if mine != 1 else ''} of yours" if mine else "no run of yours yet") + \
        f" and the trainings of {shipped} shipped model{'s' if shipped != 1 else ''}"
    if untrained:
        text += "; not listed (no training of their own): " + ", ".join(
            f"**{name}** ({why})" for name, why in untrained.items())
    return text


def runs_table(runs: list[Run], untrained: dict[str, str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Filters and the sortable table; returns (all runs' frame, the picked run ids). `untrained`: the shipped
    models the table cannot list, said under it (loaders.shipped_without_history)."""
    ss = st.session_state
    df = runs_frame(runs)
    c = st.columns([3, 2, 2, 2])
    text = c[0].text_input("Search", key=keep("exp_text"), placeholder="name, model, notes, study…")
    choices = {k: sorted(df[col].unique()) for k, col in (("states", "status"), ("models", "model"), ("tasks", "task"))}
    states = c[1].multiselect("Status", choices["states"], key=keep("exp_states", choices["states"]))
    models = c[2].multiselect("Model", choices["models"], key=keep("exp_models", choices["models"]))
    tasks = c[3].multiselect("Task", choices["tasks"], key=keep("exp_tasks", choices["tasks"]))
    view = filter_frame(df, text, states, models, tasks)
    ss["_exp_ids"] = list(view["run_id"])
    st.dataframe(view, key="exp_table", on_select=_on_table_select, selection_mode="multi-row", hide_index=True,
                 column_order=[c for c in TABLE_ORDER if c in view.columns], column_config=table_config(),
                 height=min(420, 38 + 35 * max(len(view), 1)))
    st.caption(f"{len(view)} of {len(df)}: {counts_note(df, untrained or {})} · click a header to sort · tick "
               "rows to compare them below")

    ids = list(df["run_id"])
    keep("exp_pick")  # the runs ticked stay when the user comes back from another page
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
            series[labels.get(rid, rid)] = open_run(rid).metrics()
        except (ValueError, FileNotFoundError):
            continue
    if not any(series.values()):
        st.info("None of these runs has finished an epoch yet: no curves to show.", icon=":material/show_chart:")
        return
    show_train = st.toggle("Show the training curves too (dotted)", key=keep("exp_show_train", default=True))
    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.curves_figure(series, "acc", show_train, height=380), key="exp_curves_acc")
    c2.plotly_chart(charts.curves_figure(series, "loss", show_train, height=380), key="exp_curves_loss")
    if show_train and len(series) > 1:
        st.caption("Solid: validation. Dotted: training. A growing gap between them is over-fitting.")
