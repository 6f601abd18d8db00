"""Two models on the Experiments page: is one really better? The paired comparison of
core.workflows.comparison (the numbers of `python -m core compare`), each model's reliability diagram, and
the faces where exactly one of them is right, with both models' probabilities and, a face at a time, where each
of them looked (Grad-CAM). DeepFace can be either model where its weights are present."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.data import default_data_path
from core.labels import TTA_CHOICES, task_of, tta_mode
from core.predict.loading import DEEPFACE
from core.settings import readable_by_app
from core.workflows.comparison import compare_models, disagreements

from . import charts
from .dataset import outside_roots_message
from .face_cam import cam_panel, open_button
from .format import fmt_pct
from .loaders import dataset_at, deepface_status, usable_models
from .state import keep
from .votes import votes_caption, votes_filter
from .widgets import deepface_warning, friendly_error, model_picker

PAGE = 12  # faces per page of the gallery
CAM = "cmp_cam"  # the gallery's face whose Grad-CAM is open


def _interval(iv, scale: float = 100, fmt: str = ".1f") -> str:
    return f"{scale * iv[0]:{fmt}} to {scale * iv[1]:{fmt}}"


def compare_view() -> None:
    ss = st.session_state
    models = usable_models()
    if not models:  # one of ours is enough: DeepFace can be the other
        st.info("A model is needed: train a run on the **Train** page, or ship one.", icon=":material/info:")
        return
    st.caption("Both models answer the same faces. Is the difference between them real, or noise? Each accuracy "
               "gets a 95% interval (a bootstrap over the faces), the difference its own, and McNemar's test "
               "looks at the faces where exactly one of them is right. The same as `python -m core compare A B`.")
    a, b, ready = _pick_pair(models)
    if b is None:
        return
    c1, c2, c3 = st.columns([1, 1, 2])
    split = c1.selectbox("Split", ["test", "val"], key=keep("cmp_split", ["test", "val"]),
                         format_func={"test": "test (PrivateTest)", "val": "validation (PublicTest)"}.get)
    tta = c2.selectbox("Test-time augmentation", TTA_CHOICES, key=keep("cmp_tta", TTA_CHOICES))
    data = c3.text_input("Data set", key=keep("cmp_data", default=str(default_data_path() or "")))
    if st.button("Compare", key="cmp_go", icon=":material/compare_arrows:", type="primary", disabled=not ready):
        bar = st.progress(0.0, text="Loading the models and the data set…")
        try:
            if data and not readable_by_app(data):
                raise ValueError(outside_roots_message(data))
            ss["cmp_result"] = compare_models(a, b, data=data or None, split=split, tta=tta_mode(tta),
                                              progress=lambda d, t: bar.progress(d / max(t, 1), text=f"{d:,} / {t:,} faces"))
            ss["cmp_result"]["data_path"] = data or None
            ss.pop(CAM, None)
        except Exception as e:  # noqa: BLE001 - data or checkpoint problems, in words
            st.error(f"The comparison failed: {friendly_error(e)}", icon=":material/error:")
        bar.empty()
    r = ss.get("cmp_result")
    if r:
        result_view(r)


def _pick_pair(models) -> tuple:
    """Models A and B (paths, or "deepface" on either side for an emotion comparison) and whether both can run:
    DeepFace without its weights says so under its picker, where its results would be."""
    c1, c2 = st.columns(2)
    a = model_picker(models, key="cmp_a", label="Model A", container=c1,
                     help="Our trained CNNs, or DeepFace's pre-trained emotion model (where its weights are present).")
    mine = None if a == DEEPFACE else next(m for m in models if str(m.path) == a)
    kind, labels = ("emotion", "fer2013") if mine is None else (mine.kind, mine.labels)
    # B answers the same question as A, on the same faces: a FER+ model beside FER+ models (FER+'s test keeps only
    # the faces with a majority), a FER2013 one beside FER2013's and DeepFace
    others = [m for m in models if m.kind == kind and m.labels == labels and str(m.path) != a]
    with_deepface = kind == "emotion" and a != DEEPFACE and labels == "fer2013"
    if not others and not with_deepface:
        c2.info(f"No other {kind} model of the same labels to compare with.", icon=":material/info:")
        return a, None, False
    b = model_picker(others, key="cmp_b", include_deepface=with_deepface, label="Model B", container=c2,
                     help="A model answering the same classes as A, from the same labels (FER+ models pair with FER+ "
                          "models here; `python -m core card --table` pairs every model on FER+'s test).")
    ready = True
    for side, col in ((a, c1), (b, c2)):
        if side == DEEPFACE:
            ready = deepface_warning(deepface_status(), col)
            if ready:
                col.caption("DeepFace answers each face once: no test-time augmentation, no temperature.")
    return a, b, ready


def result_view(r: dict) -> None:
    name_a, name_b = r["names"]
    significant = r["mcnemar_p"] < 0.05
    (st.success if significant else st.info)(f"**Verdict:** {r['verdict']}.", icon=":material/balance:")
    rows = []
    for side, name in (("a", name_a), ("b", name_b)):
        m = r[side]
        rows.append({"model": f"{side.upper()}: {name}", "accuracy": fmt_pct(m["accuracy"]["value"]),
                     "95% interval": _interval(m["accuracy"]["interval"]), "macro-F1": f"{m['macro_f1']['value']:.3f}",
                     "macro-F1 interval": _interval(m["macro_f1"]["interval"], 1, ".3f"),
                     "ECE": f"{m['ece']:.3f}", "ECE at its temperature": f"{m['ece_calibrated']:.3f}",
                     "temperature": f"{m['temperature']:.2f}"})
    d = r["difference"]
    rows.append({"model": "B - A", "accuracy": f"{100 * d['accuracy']['value']:+.2f} points",
                 "95% interval": _interval(d["accuracy"]["interval"], fmt="+.1f"),
                 "macro-F1": f"{d['macro_f1']['value']:+.3f}",
                 "macro-F1 interval": _interval(d["macro_f1"]["interval"], 1, "+.3f"),
                 "ECE": "–", "ECE at its temperature": "–", "temperature": "–"})
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="cmp_table")
    c = r["counts"]
    st.caption(f"{r['n']:,} faces of the {r['split']} split: both right {c['both_right']:,}, only A {c['only_a']:,}, "
               f"only B {c['only_b']:,}, both wrong {c['both_wrong']:,}. McNemar's exact p = {r['mcnemar_p']:.3g}; "
               f"intervals from {r['n_boot']:,} bootstrap resamples (seed {r['seed']}).")
    c1, c2 = st.columns(2)
    c1.plotly_chart(charts.reliability_diagram({name_a: r["a"]["reliability"], name_b: r["b"]["reliability"]}),
                    key="cmp_reliability")
    c2.dataframe(pd.DataFrame([{"class": p["class"], "faces": p["support"], "F1 A": p["f1_a"], "F1 B": p["f1_b"],
                                "B - A": p["f1_difference"], "95% interval": _interval(p["f1_interval"], 1, "+.3f")}
                               for p in r["per_class"]]), hide_index=True, key="cmp_per_class",
                 column_config={k: st.column_config.NumberColumn(format="%.3f") for k in ("F1 A", "F1 B", "B - A")})
    gallery(r)


def gallery(r: dict) -> None:
    """The faces behind the difference: where only A, or only B, is right; the wrong model's surest first."""
    st.markdown("**The faces they disagree on**")
    which = st.radio("Show", ["only_a", "only_b"], horizontal=True, key="cmp_which",
                     format_func={"only_a": f"only A right ({r['counts']['only_a']:,})",
                                  "only_b": f"only B right ({r['counts']['only_b']:,})"}.get)
    m = {"votes": np.asarray(r["votes"]) if r.get("votes") is not None else None,
         "fer2013": np.asarray(r["fer2013"]) if r.get("fer2013") is not None else None,
         "ferplus": r.get("label_set") == "ferplus"}
    idx = votes_filter(m, disagreements(r, which), "cmp_shown").tolist()
    if not idx:
        st.caption("None.")
        return
    wrong = np.asarray(r["probs"][1 if which == "only_a" else 0])
    idx.sort(key=lambda i: -wrong[i].max())
    pages = (len(idx) + PAGE - 1) // PAGE
    page = st.number_input("Page", 1, pages, 1, key="cmp_page", help=f"{pages} pages") if pages > 1 else 1
    faces = _faces(r)
    if faces is not None and st.session_state.get(CAM) in idx:
        _cam(r, faces, st.session_state[CAM])
    classes = r["classes"]
    cols = st.columns(6)
    for j, i in enumerate(idx[(page - 1) * PAGE: page * PAGE]):
        pa, pb = np.asarray(r["probs"][0][i]), np.asarray(r["probs"][1][i])
        with cols[j % 6]:
            if faces is not None:
                st.image(faces[i], width=96)
            st.caption(f"true **{classes[r['labels'][i]]}**  \nA: {classes[pa.argmax()]} {pa.max():.0%}  \n"
                       f"B: {classes[pb.argmax()]} {pb.max():.0%}"
                       + (f"  \n{votes_caption(m, i)}" if m["votes"] is not None else ""))
            if faces is not None:
                open_button(CAM, i, f"{CAM}_{i}")


def _cam(r: dict, faces, i: int) -> None:
    """The opened face of the gallery: where each model looked for its own answer."""
    classes = r["classes"]
    maps = []
    for side, name, source, probs in zip("AB", r["names"], r["checkpoints"], r["probs"]):
        k = int(np.argmax(probs[i]))
        maps.append((f"{side} ({name}) looking for {classes[k]}", source, k))
    cam_panel(CAM, faces[i], f"**Face {i:,}** of the {r['split']} split, true **{classes[r['labels'][i]]}**: "
              "where each model looked for its answer", maps)


def _faces(r: dict):
    """The split's faces (uint8, N x H x W) from the data set compared on, or None where it cannot be read."""
    path = r.get("data_path") or default_data_path()
    try:
        return dataset_at(str(path), task_of(r["classes"]), r.get("label_set") or "fer2013"
                          ).splits[r["split"]].images[:, 0].numpy()
    except Exception:  # noqa: BLE001 - the numbers stand without the pictures
        return None
