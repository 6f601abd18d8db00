"""What the Compare page draws for one image and one face.

The analysis itself is `core.predict.analysis.analyze`; this module arranges its results for people:
annotated image, side-by-side model cards, agreement, Grad-CAM, charts, CSV. The labelled-set evaluation is
ui.batch.
"""
from __future__ import annotations

import hashlib
import html
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from core.data.images import ImageError, load_image
from core.labels import EMOTIONS, STRESS_EMOTIONS, canonical, display
from core.predict import draw
from core.predict.analysis import Analysis, analyze, results_table, run_predictor
from core.predict.boxes import Face, iou
from core.predict.crops import FACE_MARGIN
from core.predict.stress import stress_reading_note
from core.predict.summary import face_summary as summarize

from . import charts
from . import page
from . import widgets as w
from .face_cam import cam_overlay

DEEPFACE_E2E = "DeepFace (end to end)"
MAX_FACES_SHOWN = 12  # faces detailed one by one; the table and the CSV hold all of them


@dataclass
class Picture:
    """One input picture: a name, the decoded RGB image (or crops given directly), and where it came from."""
    name: str
    image: np.ndarray | None = None          # RGB uint8
    crops: np.ndarray | None = None          # (N, 48, 48) grey: faces given without a photo (data set faces)
    truths: list | None = None               # true labels of `crops`, if known
    error: str | None = None
    key: str = ""


@dataclass
class Result:
    picture: Picture
    boxes: list = field(default_factory=list)        # (x, y, w, h) per face
    crops: np.ndarray | None = None                   # (N, 48, 48)
    outputs: list = field(default_factory=list)       # [{name, classes, probs (N, C), latency_ms, error, source}]
    rows: list = field(default_factory=list)          # results_table rows (+ image)
    extra_faces: list = field(default_factory=list)   # DeepFace end-to-end faces that match none of ours
    error: str | None = None


# ---------------------------------------------------------------- reading inputs

@st.cache_resource(show_spinner=False, max_entries=8)
def _decode(data: bytes):
    """(RGB image, None) or (None, message); decoded once per distinct file, not on every rerun."""
    try:
        return load_image(data), None
    except ImageError as e:
        return None, str(e)
    except Exception as e:  # noqa: BLE001 - whatever the decoder throws, the user gets a sentence
        return None, f"it could not be read as an image ({type(e).__name__}: {e})"


def picture_from_bytes(name: str, data: bytes) -> Picture:
    key = hashlib.sha1(data).hexdigest()[:16]
    image, error = _decode(data)
    return Picture(name, image, key=key, error=error)


def unique_pictures(pictures: list[Picture]) -> tuple[list[Picture], list[str]]:
    """The pictures with repeats of the same file (same bytes) left out, and the names left out: a file uploaded
    twice is analysed and shown once."""
    seen, out, repeats = set(), [], []
    for pic in pictures:
        if pic.key and pic.key in seen:
            repeats.append(pic.name)
            continue
        seen.add(pic.key)
        out.append(pic)
    return out, repeats


def picture_from_path(path: Path) -> Picture:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        return Picture(Path(path).name, error=f"cannot read {path}: {e}")
    return picture_from_bytes(Path(path).name, data)


def dataset_faces(ds, n: int, seed: int) -> Picture:
    test = ds.splits["test"]
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(test), size=min(n, len(test)), replace=False)
    crops = test.images[idx, 0].numpy()
    truths = [ds.classes[int(i)] for i in test.labels[idx]]
    return Picture(f"{len(idx)} test faces (draw {seed})", crops=crops, truths=truths, key=f"ds-{seed}-{n}")


# ---------------------------------------------------------------- analysis

def _output_dict(o) -> dict:
    return {"name": o.name, "classes": list(o.classes), "probs": None if o.probs is None else np.asarray(o.probs),
            "latency_ms": float(o.latency_ms or 0.0), "latency_warm": bool(o.latency_warm), "error": o.error}


def reading_order(analysis):
    """Faces numbered as people read a photo: row by row (rows about a face high), left to right."""
    faces = list(analysis.faces)
    if len(faces) < 2:
        return analysis
    h = float(np.median([f.box[3] for f in faces])) or 1.0
    order = sorted(range(len(faces)), key=lambda i: (round(faces[i].box[1] / h), faces[i].box[0]))
    if order == list(range(len(faces))):
        return analysis
    analysis.faces = [faces[i] for i in order]
    analysis.crops = np.asarray(analysis.crops)[order]
    for o in analysis.outputs:
        if o.probs is not None and len(o.probs) == len(faces):
            o.probs = np.asarray(o.probs)[order]
    return analysis


def run_analysis(picture: Picture, predictors: list, detector, deepface_e2e=None, margin: float = FACE_MARGIN,
                 align: bool = True) -> Result:
    """Detect faces and ask every predictor; DeepFace end to end (its own detector) matched to our faces."""
    res = Result(picture)
    try:
        if picture.crops is not None:  # faces given directly (data set faces): no detection
            crops = np.asarray(picture.crops)
            faces = [Face(0, 0, int(c.shape[1]), int(c.shape[0]), 1.0) for c in crops]
            analysis = Analysis(faces, crops, [run_predictor(p, crops) for p in predictors])
        else:
            analysis = reading_order(analyze(picture.image, predictors, detector=detector, margin=margin, align=align))
        res.boxes = [tuple(int(v) for v in f.box) for f in analysis.faces]
        res.crops = analysis.crops
        res.outputs = [_output_dict(o) for o in analysis.outputs]
        rows = results_table(analysis) if len(res.boxes) else []
        for r in rows:
            r["image"] = picture.name
            if picture.truths is not None:
                r["true"] = picture.truths[int(r["face"]) - 1] if int(r["face"]) >= 1 else None
        res.rows = rows
    except Exception as e:  # noqa: BLE001
        res.error = w.friendly_error(e)
        return res
    if deepface_e2e is not None and picture.image is not None:
        _add_deepface_e2e(res, deepface_e2e)
    return res


def _add_deepface_e2e(res: Result, dfp) -> None:
    """DeepFace with its own detector on the whole photo; its faces are matched to ours by overlap."""
    t0 = time.perf_counter()
    try:
        found = dfp.analyze(res.picture.image, color="rgb")
    except Exception as e:  # noqa: BLE001
        res.outputs.append({"name": DEEPFACE_E2E, "classes": list(EMOTIONS), "probs": None, "latency_ms": 0.0,
                            "latency_warm": False, "error": w.friendly_error(e)})
        return
    ms = (time.perf_counter() - t0) * 1000
    found = [d for d in found if not d.get("whole_image")]  # DeepFace found no face and took the whole picture
    per_face = ms / max(len(found), 1)
    probs = np.full((len(res.boxes), len(EMOTIONS)), np.nan)
    used = set()
    for d in found:
        box = tuple(int(v) for v in d["box"])
        p = np.asarray(d["probs"], dtype=np.float64)
        best = max(((iou(box, b), i) for i, b in enumerate(res.boxes) if i not in used), default=(0.0, -1))
        if best[0] >= 0.3:
            used.add(best[1])
            probs[best[1]] = p
            face = best[1] + 1
        else:
            res.extra_faces.append({"box": box, "probs": p})
            face = f"D{len(res.extra_faces)}"
        # one cold call with its own detector: not a per-face speed to show beside the warm figures of the others
        row = {"face": face, "model": DEEPFACE_E2E, **summarize(p, EMOTIONS), "latency_ms": float("nan"),
               "x": box[0], "y": box[1], "w": box[2], "h": box[3], "image": res.picture.name}
        row.update({f"p_{c}": float(v) for c, v in zip(EMOTIONS, p)})
        res.rows.append(row)
    res.outputs.append({"name": DEEPFACE_E2E, "classes": list(EMOTIONS), "probs": probs, "latency_ms": per_face,
                        "latency_warm": False, "error": None})


def cached_analysis(picture: Picture, predictors: list, detector, deepface_e2e, settings_key: tuple,
                    align: bool = True) -> Result:
    """The same picture with the same models and settings is analysed once per session."""
    store = st.session_state.setdefault("_compare_cache", {})
    key = (picture.key or picture.name, settings_key)
    if key not in store:
        if len(store) > 24:
            store.pop(next(iter(store)))
        store[key] = run_analysis(picture, predictors, detector, deepface_e2e, align=align)
    res = store[key]
    if res.picture.name != picture.name:  # the same bytes under another name (a sample, then uploaded)
        res = replace(res, picture=picture, rows=[{**r, "image": picture.name} for r in res.rows])
    return res


# ---------------------------------------------------------------- drawing one picture

def face_summary(res: Result, i: int) -> list[dict]:
    """Per model, for face i: label, confidence, stress verdict (models that failed or missed the face skipped)."""
    out = []
    for o in res.outputs:
        if o["error"] or o["probs"] is None or i >= len(o["probs"]) or np.isnan(o["probs"][i]).any():
            continue
        p = np.asarray(o["probs"][i], dtype=float)
        out.append({"model": o["name"], "classes": list(o["classes"]), "probs": p, **summarize(p, o["classes"]),
                    "latency_ms": o["latency_ms"] if o.get("latency_warm") else None})
    return out


def annotated_image(res: Result) -> np.ndarray:
    faces = []
    for i, box in enumerate(res.boxes):
        s = face_summary(res, i)
        label = f"#{i + 1}"
        cls = None
        if s:
            label += f" {display(s[0]['emotion'])}"
            cls = s[0]["emotion"]
        faces.append({"box": box, "label": label, "cls": cls})
    img = draw.annotate(res.picture.image, faces, color="rgb")
    return draw.fit_width(img, 1400)


def expected_answer(truth: str | None, classes) -> str | None:
    """The answer a model should give for a face labelled `truth`: the label itself, or for a stress model the
    label folded to stress / no stress (core.labels)."""
    if truth is None:
        return None
    if "stress" in classes:
        return "stress" if canonical(truth) in STRESS_EMOTIONS else "no_stress"
    return canonical(truth)


def glance_table(res: Result) -> pd.DataFrame:
    """One row per face, one column per model: 'happy 85%' (with ✓ or ✗ where the true label is known; a stress
    model judged on the label folded to stress); plus whether the emotion models agree."""
    rows = []
    for i in range(len(res.boxes)):
        summary = face_summary(res, i)
        row = {"face": f"#{i + 1}"}
        truth = res.picture.truths[i] if res.picture.truths else None
        if truth is not None:
            row["true"] = truth
        for s_ in summary:
            mark = ""
            if truth is not None:
                mark = "✓ " if s_["emotion"] == expected_answer(truth, s_["classes"]) else "✗ "
            row[s_["model"]] = f"{mark}{display(s_['emotion'])} {s_['confidence']:.0%}"
        emo = {s_["emotion"] for s_ in summary if "stress" not in s_["classes"]}
        if len([s_ for s_ in summary if "stress" not in s_["classes"]]) > 1:
            row["agree"] = "yes" if len(emo) == 1 else "no"
        rows.append(row)
    return pd.DataFrame(rows)


def show_glance(res: Result, container) -> None:
    """The glance table, every row shown (no inner scrolling); with true labels, each model's score."""
    table = glance_table(res)
    container.markdown("**At a glance**")
    container.dataframe(table, hide_index=True, width="stretch", height=38 + 35 * len(table))
    if res.picture.truths:
        scores = [f"{m}: {table[m].str.startswith('✓').sum()} of {table[m].notna().sum()}"
                  for m in table.columns if m not in ("face", "true", "agree")]
        container.caption("✓ right, ✗ wrong (a stress model against the true label folded to stress or no stress). "
                          + " · ".join(scores))


def agreement(summary: list[dict]) -> tuple[str, str]:
    """('success'|'warning'|'info', sentence) about whether the models agree on this face."""
    emo = [s for s in summary if "stress" not in s["classes"]]
    if len(emo) < 2:
        return "info", ""
    votes = Counter(s["emotion"] for s in emo)
    top, n = votes.most_common(1)[0]
    if n == len(emo):
        return "success", f"All {len(emo)} models agree: **{top}**."
    parts = ", ".join(f"{e} ({c})" for e, c in votes.most_common())
    return "warning", f"The models disagree: {parts}."


def card_footer(s: dict) -> str:
    """Under a model's card: its stress verdict, saying which reading it is (from the emotions, or the stress
    model's own), and its warm time per face (none where it could not be measured warm)."""
    parts = []
    if s["stress"]:
        parts.append(page.pill(f"{display(s['stress'])} {s['stress_confidence']:.0%}", draw.hex_color(s["stress"]))
                     + f"<span class='fel-muted'>{html.escape(str(s['stress_reading']))}</span>")
    if s.get("latency_ms") is not None:
        parts.append(f"<span class='fel-muted'>{s['latency_ms']:.0f} ms per face</span>")
    return "<br>".join(parts)


def gradcam_images(res: Result, i: int, predictors: list, size: int = 144) -> list[tuple[str, np.ndarray]]:
    """Grad-CAM overlays of face i for each of our CNNs (DeepFace has none)."""
    out = []
    for p in predictors:
        if str(getattr(p, "source", "")).lower() == "deepface" or not hasattr(p, "model"):
            continue
        img, why = cam_overlay(p, res.crops[i], size)
        out.append((p.name, img) if img is not None else (p.name, None, why))
    return out


def show_face(res: Result, i: int, predictors: list, show_cam: bool, key: str) -> None:
    summary = face_summary(res, i)
    truth = res.picture.truths[i] if res.picture.truths else None
    with st.container(border=True):
        head = f"#### Face {i + 1}" + (f" · true label: **{truth}**" if truth else "")
        st.markdown(head)
        if not summary:
            st.warning("No model gave a result for this face.")
            return
        left, right = st.columns([2, 3], gap="medium")
        with left:
            imgs, caps = [draw.grey_to_rgb(res.crops[i], 144)], ["what the models see (48×48)"]
            if show_cam:
                for item in gradcam_images(res, i, predictors):
                    if item[1] is None:
                        st.caption(f"Grad-CAM · {item[0]}: {item[2]}")
                    else:
                        imgs.append(item[1])
                        caps.append(f"Grad-CAM · {item[0]}")
            st.image(imgs, caption=caps, width=144)
            if show_cam and len(imgs) > 1:
                st.caption("Grad-CAM: red = the parts of the face that pushed the CNN most towards its answer.")
        with right:
            cols = st.columns(len(summary))
            for c, s in zip(cols, summary):
                ok = truth is None or s["emotion"] == expected_answer(truth, s["classes"])
                c.metric(s["model"], display(s["emotion"]), f"{s['confidence']:.0%} confident",
                         delta_color="off" if ok else "inverse", delta_arrow="off")
                c.markdown(card_footer(s), unsafe_allow_html=True)
            if i == 0 and len({s["stress_reading"] for s in summary if s["stress_reading"]}) > 1:  # once a photo
                st.caption(stress_reading_note())
            kind, text = agreement(summary)
            if text:
                (st.success if kind == "success" else st.warning)(text)
            emo = [s for s in summary if "stress" not in s["classes"]]
            if emo:
                classes = emo[0]["classes"]
                per_model = {s["model"]: dict(zip(s["classes"], s["probs"])) for s in emo}
                st.plotly_chart(charts.probability_chart(per_model, classes, height=280), width="stretch",
                                key=f"{key}-probs", config={"displayModeBar": False})
            stress_only = [s for s in summary if "stress" in s["classes"]]
            for s in stress_only:
                st.caption(f"{s['model']} (stress model): P(stress) = {s['p_stress']:.0%}")


def shown_results(df: pd.DataFrame) -> pd.DataFrame:
    """The results as the page's table shows them: a time that was not measured warm is a dash, not "None"."""
    if "latency_ms" not in df.columns:
        return df
    return df.assign(latency_ms=df["latency_ms"].map(lambda v: "–" if v is None or v != v else f"{v:.1f}"))


def results_frame(rows: list[dict]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame()
    df = pd.DataFrame(rows)
    front = [c for c in ("image", "face", "true", "model", "emotion", "confidence", "stress", "stress_confidence",
                         "latency_ms") if c in df.columns]
    return df[front + [c for c in df.columns if c not in front]]
