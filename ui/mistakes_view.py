"""The faces behind a confusion matrix, on the Experiments page: pick a cell (true class x predicted class) and
see its faces, the model's surest first, each with its probabilities, a page at a time. The faces are read
from the data set the run was measured on (core.evaluate.mistakes; from a shell, `python -m core evaluate
--mistakes DIR`). A face's Grad-CAM button shows where the model looked for its answer and for the truth."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from core.data import default_data_path
from core.evaluate import mistakes
from core.runs import Run
from core.settings import readable_by_app
from core.workflows.evaluation import open_subject

from .face_cam import cam_panel, open_button
from .votes import votes_caption, votes_filter
from .widgets import friendly_error

PAGE, COLUMNS = 18, 6


def _data_of(run: Run) -> str | None:
    """The run's own data set where the app may read it, else the configured one."""
    try:
        data = run.config().data
    except Exception:  # noqa: BLE001 - a shipped model's history may not say
        data = None
    if data and Path(data).exists() and readable_by_app(data):
        return data
    found = default_data_path()
    return str(found) if found else None


def _measure(run: Run) -> dict:
    subject = open_subject(run.best_path, _data_of(run), votes=True)  # FER+'s votes beside each face, where found
    test = subject.dataset.splits["test"]
    fer = test.fer2013 if test.fer2013 is not None else (subject.labels("test") if test.votes is not None else None)
    return {"probs": subject.probs("test"), "labels": subject.labels("test"), "classes": list(subject.dataset.classes),
            "faces": test.images[:, 0].numpy(), "source": subject.dataset.source,
            "votes": None if test.votes is None else test.votes.numpy(),
            "fer2013": None if fer is None else np.asarray(fer), "ferplus": test.fer2013 is not None}


def _worst_cell(probs, labels, k: int) -> tuple[int, int]:
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (labels, probs.argmax(1)), 1)
    np.fill_diagonal(cm, -1)
    return tuple(int(v) for v in np.unravel_index(cm.argmax(), cm.shape))


def mistakes_view(run: Run) -> None:
    ss = st.session_state
    key = f"exp_mk_{run.id}"
    st.markdown("**The faces behind a cell**")
    if key not in ss:
        intro = st.empty()  # the invitation goes once the faces are there
        with intro.container():
            st.caption("Choose a cell of the confusion matrix (true class x predicted class) and see those test "
                       "faces, the model's surest first. Measures the checkpoint on the test split once.")
            go = st.button("Show the faces", key=f"{key}_go", icon=":material/grid_view:",
                           disabled=not run.best_path.exists())
        if not go:
            return
        try:
            with st.spinner("Measuring the checkpoint on the test split…"):
                ss[key] = _measure(run)
        except Exception as e:  # noqa: BLE001 - no data set, or a checkpoint that cannot be read
            st.error(f"Cannot show the faces: {friendly_error(e)}")
            return
        intro.empty()
    m = ss[key]
    probs, labels, classes = m["probs"], m["labels"], m["classes"]
    if f"{key}_true" not in ss:
        ss[f"{key}_true"], ss[f"{key}_pred"] = _worst_cell(probs, labels, len(classes))
    c1, c2 = st.columns(2)
    true = c1.selectbox("True class", range(len(classes)), format_func=classes.__getitem__, key=f"{key}_true")
    pred = c2.selectbox("Predicted class", range(len(classes)), format_func=classes.__getitem__, key=f"{key}_pred")
    idx = votes_filter(m, mistakes(probs, labels, true, pred), f"{key}_shown")
    what = "recognised" if true == pred else f"taken for {classes[pred]}"
    st.caption(f"{len(idx):,} {classes[true]} faces {what}, the surest first (from `{Path(str(m['source'])).name}`).")
    if not len(idx):
        return
    pages = -(-len(idx) // PAGE)
    page = st.number_input("Page", 1, pages, 1, key=f"{key}_page") if pages > 1 else 1
    if ss.get(f"{key}_cam") in idx:
        _cam(run, m, ss[f"{key}_cam"], true, pred)
    cols = st.columns(COLUMNS)
    for j, i in enumerate(idx[(page - 1) * PAGE: page * PAGE]):
        top = np.argsort(-probs[i])[:3]
        with cols[j % COLUMNS]:
            st.image(m["faces"][i], width=96)
            st.caption(" · ".join(f"{classes[c]} {probs[i][c]:.0%}" for c in top)
                       + (f"  \n{votes_caption(m, int(i))}" if m.get("votes") is not None else ""))
            open_button(f"{key}_cam", int(i), f"{key}_cam_{i}")


def _cam(run: Run, m: dict, i: int, true: int, pred: int) -> None:
    """The opened face: where the model looked for its answer and, for a mistake, for the true class."""
    classes = m["classes"]
    maps = [(f"looking for its answer, {classes[pred]}", str(run.best_path), pred)]
    if true != pred:
        maps.append((f"looking for the truth, {classes[true]}", str(run.best_path), true))
    cam_panel(f"exp_mk_{run.id}_cam", m["faces"][i], f"**Face {i:,}** of the test split, true **{classes[true]}**, "
              f"answered **{classes[pred]}** ({m['probs'][i][pred]:.0%})", maps)
