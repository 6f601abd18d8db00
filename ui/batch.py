"""The Compare page's batch accuracy: the chosen models measured on labelled faces (FER2013's test split or a
zip of class folders the user uploads, read by core.data.archive), side by side."""
from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from core.data.archive import faces_from_zip
from core.evaluate import evaluate_predictor
from core.labels import STRESS_EMOTIONS, is_stress_task

from . import charts
from . import widgets as w


@st.cache_data(show_spinner=False, max_entries=4)
def zip_dataset(data: bytes):
    """core.data.archive.faces_from_zip once per uploaded file (reruns reuse it)."""
    return faces_from_zip(data)


def evaluate_all(predictors: list, images, labels, classes, progress_bar) -> list[dict]:
    """Each predictor on the labelled faces, with one progress bar over all of them."""
    results = []
    n = len(predictors)
    for k, p in enumerate(predictors):
        def prog(done, total, k=k, name=p.name):
            progress_bar.progress(min(1.0, (k + done / max(total, 1)) / n), text=f"{name}: {done}/{total} faces")

        t0 = time.perf_counter()
        try:
            r = evaluate_predictor(p, images, labels, classes, batch_size=128, progress=prog)
            r["seconds"] = time.perf_counter() - t0
            r["model"] = p.name
        except Exception as e:  # noqa: BLE001
            r = {"model": p.name, "error": w.friendly_error(e)}
        results.append(r)
    progress_bar.progress(1.0, text="done")
    return results


def task_heading(classes, folded: bool) -> str:
    """What a group of accuracies is out of, in words."""
    if is_stress_task(classes):
        how = f" (the labels folded: {', '.join(sorted(STRESS_EMOTIONS))} = stress)" if folded else ""
        return f"Stress models: stress or no stress, 2 classes{how}; chance is 50%"
    return f"Emotion models: {len(classes)} classes; chance is {100 / max(len(classes), 1):.0f}%"


def result_groups(results: list[dict]) -> list[tuple[tuple, bool, list[dict]]]:
    """Results grouped by what they are out of: (classes, folded, results), emotion models first."""
    groups: dict = {}
    for r in results:
        groups.setdefault((tuple(r["classes"]), bool(r.get("folded"))), []).append(r)
    return sorted(((c, f, rs) for (c, f), rs in groups.items()), key=lambda g: is_stress_task(g[0]))


def _accuracy_table(ok: list[dict], classes) -> None:
    table = pd.DataFrame([{
        "model": r["model"], "faces": r["n"], "accuracy": 100 * r["accuracy"], "macro F1": 100 * r["macro_f1"],
        "ms per face": 1000 * r.get("seconds", 0) / max(r["n"], 1),
        **{f"{pc['class']}": 100 * pc["recall"] for pc in r["per_class"]},
    } for r in ok])
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "accuracy": st.column_config.ProgressColumn(format="%.1f%%", min_value=0, max_value=100,
                                                    help=f"of {len(classes)} classes"),
        "macro F1": st.column_config.NumberColumn(format="%.1f%%"),
        "ms per face": st.column_config.NumberColumn(format="%.1f", help="the whole sample's time / its faces"),
        **{c: st.column_config.NumberColumn(format="%.0f%%", help=f"recall on {c}") for c in classes},
    })


def show_batch_results(results: list[dict], classes) -> None:
    ok = [r for r in results if not r.get("error")]
    for r in results:
        if r.get("error"):
            st.warning(f"**{r['model']}** could not be measured: {r['error']}")
    if not ok:
        return
    st.markdown("#### Measured accuracy")
    groups = result_groups(ok)
    for g_classes, folded, rs in groups:
        st.markdown(f"**{task_heading(g_classes, folded)}**")
        _accuracy_table(rs, g_classes)
    st.caption("Per-class columns are the share of that class's faces the model got right (recall). An emotion "
               "model's accuracy and a stress model's are out of different numbers of classes: compare each only "
               "with its own kind.")
    verdict = deepface_vs_ours(ok)
    if verdict:
        st.info(verdict, icon=":material/balance:")
    for g_classes, _, rs in groups:
        kind = "stress models" if is_stress_task(g_classes) else "emotion models"
        st.plotly_chart(charts.per_class_chart({r["model"]: {pc["class"]: pc["recall"] for pc in r["per_class"]}
                                                for r in rs}, g_classes,
                                               title=f"Accuracy per class (recall), {kind}"),
                        width="stretch", key=f"batch-per-class-{len(g_classes)}")
    st.markdown("#### Confusion matrices")
    st.caption("Rows: the true class. Columns: what the model said. The diagonal is right; "
               "the rest shows which emotions get mixed up.")
    per_row = 2
    for start in range(0, len(ok), per_row):
        cols = st.columns(per_row)
        for c, r in zip(cols, ok[start:start + per_row]):
            c.plotly_chart(charts.confusion_heatmap(r["confusion"], r["classes"],
                                                    title=f"{r['model']} · {100 * r['accuracy']:.1f}%"),
                           width="stretch", key=f"cm-{start}-{r['model']}")


def deepface_vs_ours(results: list[dict]) -> str | None:
    """One sentence comparing DeepFace with the best of our emotion models (same classes as DeepFace's result),
    in accuracy points, if both were measured."""
    df = [r for r in results if str(r["model"]).startswith("DeepFace")]
    if not df:
        return None
    d = df[0]
    ours = [r for r in results if not str(r["model"]).startswith("DeepFace") and r["classes"] == d["classes"]]
    if not ours:
        return None
    best = max(ours, key=lambda r: r["accuracy"])
    diff = 100 * (best["accuracy"] - d["accuracy"])
    lead = "level with" if abs(diff) < 0.05 else f"{abs(diff):.1f} points {'ahead of' if diff > 0 else 'behind'}"
    return (f"On the same {d['n']} faces, our best model **{best['model']}** scores {100 * best['accuracy']:.1f}% "
            f"and DeepFace {100 * d['accuracy']:.1f}%: ours is {lead} DeepFace.")

