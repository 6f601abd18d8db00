"""One run on the Experiments page: its results (confusion matrix, per-class accuracy), evaluations made
here (kept in the run's evaluations.json, as `python -m core evaluate --run` keeps them), and managing it
(title, notes, promote, an int8 copy, delete). A shipped model's history is shown read-only."""
from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from core import jobs
from core.data import default_data_path
from core.docs.texts import page_text
from core.labels import TTA_CHOICES, TTA_LABELS, TTA_VIEWS, tta_mode, tta_name
from core.predict.loading import clear_caches
from core.results import read_result
from core.runs import Run, slug
from core.settings import model_dir as default_model_dir
from core.settings import readable_by_app
from core.workflows.evaluation import evaluate_checkpoint
from core.workflows.quantize import quantize_checkpoint

from . import charts
from .dataset import outside_roots_message
from .format import PROMOTED, PROMOTED_HELP, display_state, fmt_pct
from .mistakes_view import mistakes_view
from .widgets import friendly_error


def evaluation_label(e: dict) -> str:
    tta = TTA_LABELS.get(e.get("tta"), str(e.get("tta")))
    return f"{e.get('split')} split, {tta} · {fmt_pct(e.get('accuracy'))}"


def tta_choice(choice: str) -> str:
    """A TTA menu entry: its name and how many views it averages."""
    mode = tta_mode(choice)
    n = TTA_VIEWS[mode]
    return choice if n == 1 else f"{TTA_LABELS[mode].removesuffix(' TTA')} ({n} views{', slower' if n > 2 else ''})"


def result_sources(run: Run) -> dict[str, dict]:
    """label -> an evaluation dict (accuracy, confusion, per_class, classes): the end-of-training test, then
    the evaluations made from this page."""
    out = {}
    s = run.summary()
    if s.get("test"):
        out["test split, at the end of training"] = {**s["test"], "split": "test", "tta": None}
    for e in sorted(run.evaluations(), key=lambda e: e.get("time", 0), reverse=True):
        out[evaluation_label(e)] = e
    return out


def hardest_class(per: list[dict]) -> tuple[str, str | None]:
    """(what the "Hardest class" metric says, its help): the class recognised least, or how many tie for it
    (six classes at 0% have no hardest one among them), or "–" where all are recognised alike."""
    if not per:
        return "–", None
    low = min(p["recall"] for p in per)
    tied = [p["class"] for p in per if p["recall"] == low]
    if len(tied) == len(per):
        return "–", f"every class {fmt_pct(low)} recognised"
    if len(tied) == 1:
        return tied[0], f"{fmt_pct(low)} recognised"
    return f"{len(tied)} tied", f"{', '.join(tied)}: each {fmt_pct(low)} recognised"


def results_view(run: Run) -> None:
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
    value, why = hardest_class(per)
    c[3].metric("Hardest class", value, help=why)
    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.confusion_heatmap(r["confusion"], r["classes"], title="Confusion matrix (row share, count)",
                                      height=400), key=f"exp_cm_{run.id}")
    if per:
        c2.plotly_chart(charts.class_bars(per, height=400, title="Accuracy per class"), key=f"exp_pc_{run.id}")
    mistakes_view(run)


def evaluate_view(run: Run) -> None:
    if not run.best_path.exists():
        st.info("This run has no checkpoint yet (it saves one after its first epoch).", icon=":material/info:")
        return
    cfg = run.config()
    st.caption("Measure the run's best checkpoint on a split of a data set, optionally with test-time "
               "augmentation (TTA): the model sees each face several ways and the answers are averaged.")
    c1, c2 = st.columns(2)
    split = c1.selectbox("Split", ["test", "val"], key=f"exp_ev_split_{run.id}",
                         format_func={"test": "test", "val": "validation"}.get)
    tta = c2.selectbox("Test-time augmentation", TTA_CHOICES, key=f"exp_ev_tta_{run.id}", format_func=tta_choice)
    default = cfg.data or str(default_data_path() or "")
    data = st.text_input("Data set", value=default, key=f"exp_ev_data_{run.id}")
    if st.button("Evaluate", key=f"exp_ev_go_{run.id}", icon=":material/fact_check:", type="primary"):
        bar = st.progress(0.0, text="Loading the data set…")

        def cb(done, total):
            bar.progress(done / max(total, 1), text=f"Evaluating: {done:,} / {total:,} faces")

        try:
            if data and not readable_by_app(data):
                raise ValueError(outside_roots_message(data))
            res = evaluate_checkpoint(run.best_path, data=data or None, split=split,
                                      tta=tta_mode(tta), progress=cb)
        except Exception as e:  # noqa: BLE001 - data or checkpoint problems, in words
            bar.empty()
            st.error(f"The evaluation failed: {e}", icon=":material/error:")
        else:
            item = run.save_evaluation(res)
            bar.progress(1.0, text="Done")
            st.success(f"{evaluation_label(item)}; macro F1 {fmt_pct(item['macro_f1'])}. Saved with the run: "
                       "see it in **Results**.", icon=":material/check_circle:")
    items = run.evaluations()
    if items:
        st.dataframe(pd.DataFrame([{"split": e.get("split"), "TTA": tta_name(e.get("tta")),
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
    within a fraction of a point, faster on a CPU (as measured: results/bench-per-face.json), so a better model still
    keeps the webcam smooth."""
    ss = st.session_state
    st.markdown("**A faster copy for the webcam**")
    measured = page_text("int8-speedup", read_result("bench-per-face"))
    st.caption("An int8 copy of this run's best checkpoint: faster on a CPU" + (f" ({measured})" if measured else "")
               + " for nearly the same accuracy (both are measured and shown). It joins your models on the Webcam and Compare pages. "
               "No retraining: a few thousand training images calibrate it, in about a minute.")
    key = f"exp_int8_name_{run.id}"
    if key not in ss:
        ss[key] = f"{slug(run.title)}-int8"
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
    st.toggle(PROMOTED, key=f"exp_promote_{run.id}", on_change=_toggle_promoted, args=(run.id,),
              disabled=not run.best_path.exists(),
              help=PROMOTED_HELP if run.best_path.exists() else "Needs a checkpoint (best.pt).")
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
        st.warning(f"Delete **{html.escape(run.title)}** for good? Its checkpoints, metrics, log and curves are "
                   "removed; this cannot be undone.", icon=":material/warning:")
        c1, c2, _ = st.columns([1, 1, 3])
        if c1.button("Yes, delete it", key=f"exp_del_yes_{run.id}", type="primary", icon=":material/delete:"):
            title = run.title
            try:
                if run.state() == "queued":
                    jobs.cancel(run)
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
