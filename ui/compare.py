"""What the Compare page draws for one image and one face.

The analysis itself, face by face, is core's (`core.predict.photo`: a PhotoResult of FaceResults, each model's
answer summarised once); this module arranges it for people: annotated image, side-by-side model cards,
agreement, Grad-CAM, charts, CSV. The labelled-set evaluation is ui.batch.
"""
from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.data.ferplus import describe_votes, differs_from_people, people_split
import pandas as pd
import streamlit as st

from core.data.images import ImageError, load_image
from core.labels import display
from core.predict import draw
from core.predict.crops import FACE_MARGIN
from core.predict.photo import FaceResult, ModelAnswer, PhotoResult, analyse_crops, analyse_photo
from core.predict.stress import stress_reading_note

from . import charts
from . import page
from . import widgets as w
from .face_cam import cam_overlay

MAX_FACES_SHOWN = 12  # faces detailed one by one; the table and the CSV hold all of them


@dataclass
class Picture:
    """One input picture: a name, the decoded RGB image (or crops given directly), and where it came from."""
    name: str
    image: np.ndarray | None = None          # RGB uint8
    crops: np.ndarray | None = None          # (N, 48, 48) grey: faces given without a photo (data set faces)
    truths: list | None = None               # true labels of `crops`, if known
    people: list | None = None               # FER+'s votes of `crops` in words ("6 neutral, 3 sad"), if known
    error: str | None = None
    key: str = ""


@dataclass
class Result:
    """One picture as the page shows it: core's answer for it, or why there is none."""
    picture: Picture
    photo: PhotoResult | None = None
    error: str | None = None

    @property
    def faces(self) -> list[FaceResult]:
        return self.photo.faces if self.photo else []

    def rows(self) -> list[dict]:
        """The results table's rows, under the picture's current name."""
        return self.photo.rows(self.picture.name) if self.photo else []


# ---------------------------------------------------------------- reading inputs

@st.cache_data(show_spinner=False, max_entries=8)
def _decode(data: bytes):
    """(RGB image, None) or (None, message); decoded once per distinct file, not on every rerun (st.cache_data:
    each caller gets its own copy, so nothing drawn on one reaches the cache)."""
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


DATASET_FACES = {"all": "any", "split": "people disagreed", "differs": "FER2013's label is not what people said"}


def dataset_faces(ds, n: int, seed: int, which: str = "all") -> Picture:
    """`n` random test faces with their FER2013 labels (and FER+'s votes where the data set has them); `which`:
    any, those the ten people disagreed on, or those whose FER2013 label is not the people's top emotion."""
    test = ds.splits["test"]
    pool = np.arange(len(test))
    votes = test.votes.numpy() if test.votes is not None else None
    if votes is not None and which == "split":
        pool = pool[people_split(votes)]
    elif votes is not None and which == "differs":
        pool = pool[differs_from_people(votes, test.labels.numpy())]
    rng = np.random.default_rng(seed)
    idx = rng.choice(pool, size=min(n, len(pool)), replace=False) if len(pool) else pool
    crops = test.images[idx, 0].numpy()
    truths = [ds.classes[int(i)] for i in test.labels[idx]]
    people = [describe_votes(votes[i]) for i in idx] if votes is not None else None
    return Picture(f"{len(idx)} test faces (draw {seed})", crops=crops, truths=truths, people=people,
                   key=f"ds-{seed}-{n}-{which}")


# ---------------------------------------------------------------- analysis

def run_analysis(picture: Picture, predictors: list, detector, deepface_e2e=None, margin: float = FACE_MARGIN,
                 align: bool = True) -> Result:
    """Every face and every model's answer (core.predict.photo); DeepFace end to end matched to our faces."""
    try:
        if picture.crops is not None:  # faces given directly (data set faces): no detection
            photo = analyse_crops(picture.crops, predictors, picture.truths)
        else:
            photo = analyse_photo(picture.image, predictors, detector, margin=margin, align=align,
                                  deepface_e2e=deepface_e2e)
    except Exception as e:  # noqa: BLE001
        return Result(picture, error=w.friendly_error(e))
    return Result(picture, photo)


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
        res = replace(res, picture=picture)
    return res


# ---------------------------------------------------------------- drawing one picture

def annotated_image(res: Result) -> np.ndarray:
    faces = []
    for f in res.faces:
        top = f.answers[0] if f.answers else None
        faces.append({"box": f.box, "label": f"#{f.number}" + (f" {display(top.emotion)}" if top else ""),
                      "cls": top.emotion if top else None})
    img = draw.annotate(res.picture.image, faces, color="rgb")
    return draw.fit_width(img, 1400)


def glance_table(res: Result) -> pd.DataFrame:
    """One row per face, one column per model: 'happy 85%' (with ✓ or ✗ where the true label is known; a stress
    model judged on the label folded to stress); plus whether the emotion models agree."""
    rows = []
    people = res.picture.people
    for f in res.faces:
        row = {"face": f"#{f.number}"}
        if f.truth is not None:
            row["true"] = f.truth
        if people and isinstance(f.number, int) and f.number <= len(people):  # crops keep their order
            row["people"] = people[f.number - 1]
        for a in f.answers:
            right = a.is_right(f.truth)
            mark = "" if right is None else ("✓ " if right else "✗ ")
            row[a.model] = f"{mark}{display(a.emotion)} {a.confidence:.0%}"
        if f.agree is not None:
            row["agree"] = "yes" if f.agree else "no"
        rows.append(row)
    return pd.DataFrame(rows)


def show_glance(res: Result, container) -> None:
    """The glance table, every row shown (no inner scrolling); with true labels, each model's score."""
    table = glance_table(res)
    container.markdown("**At a glance**")
    container.dataframe(table, hide_index=True, width="stretch", height=38 + 35 * len(table))
    if res.picture.truths:
        scores = [f"{m}: {table[m].str.startswith('✓').sum()} of {table[m].notna().sum()}"
                  for m in table.columns if m not in ("face", "true", "people", "agree")]
        container.caption("✓ right, ✗ wrong (a stress model against the true label folded to stress or no stress). "
                          + ("*true* is FER2013's one label; *people* are FER+'s ten votes for the same face. "
                             if res.picture.people else "") + " · ".join(scores))


def agreement(face: FaceResult) -> tuple[str, str]:
    """('success'|'warning'|'info', sentence) about whether the emotion models agree on this face."""
    if face.agree is None:
        return "info", ""
    votes = face.votes.most_common()
    if face.agree:
        return "success", f"All {votes[0][1]} models agree: **{votes[0][0]}**."
    return "warning", "The models disagree: " + ", ".join(f"{e} ({c})" for e, c in votes) + "."


def card_footer(a: ModelAnswer) -> str:
    """Under a model's card: its stress verdict, saying which reading it is (from the emotions, or the stress
    model's own), and its warm time per face (none where it could not be measured warm)."""
    parts = []
    if a.stress:
        parts.append(page.pill(f"{display(a.stress)} {a.stress_confidence:.0%}", draw.hex_color(a.stress))
                     + f"<span class='fel-muted'>{html.escape(str(a.stress_reading))}</span>")
    if a.latency_ms is not None:
        parts.append(f"<span class='fel-muted'>{a.latency_ms:.0f} ms per face</span>")
    return "<br>".join(parts)


def gradcam_images(crop: np.ndarray, predictors: list, size: int = 144) -> list[tuple]:
    """Grad-CAM overlays of a face for each of our CNNs that can show one (`explainable`; DeepFace cannot):
    (name, image) or (name, None, why not)."""
    out = []
    for p in predictors:
        if not getattr(p, "explainable", False):
            continue
        img, why = cam_overlay(p, crop, size)
        out.append((p.name, img) if img is not None else (p.name, None, why))
    return out


def _face_pictures(face: FaceResult, predictors: list, show_cam: bool) -> None:
    imgs, caps = [draw.grey_to_rgb(face.crop, 144)], ["what the models see (48×48)"]
    if show_cam:
        for item in gradcam_images(face.crop, predictors):
            if item[1] is None:
                st.caption(f"Grad-CAM · {item[0]}: {item[2]}")
            else:
                imgs.append(item[1])
                caps.append(f"Grad-CAM · {item[0]}")
    st.image(imgs, caption=caps, width=144)
    if show_cam and len(imgs) > 1:
        st.caption("Grad-CAM: red = the parts of the face that pushed the CNN most towards its answer.")


def _face_answers(face: FaceResult, key: str, first: bool) -> None:
    cols = st.columns(len(face.answers))
    for c, a in zip(cols, face.answers):
        c.metric(a.model, display(a.emotion), f"{a.confidence:.0%} confident",
                 delta_color="inverse" if a.is_right(face.truth) is False else "off", delta_arrow="off")
        c.markdown(card_footer(a), unsafe_allow_html=True)
    if first and len({a.stress_reading for a in face.answers if a.stress_reading}) > 1:  # once a photo
        st.caption(stress_reading_note())
    kind, text = agreement(face)
    if text:
        (st.success if kind == "success" else st.warning)(text)
    emo = face.emotion_answers
    if emo:
        per_model = {a.model: dict(zip(a.classes, a.probs)) for a in emo}
        classes = list(dict.fromkeys(c for a in emo for c in a.classes))  # every class any model has (contempt too)
        st.plotly_chart(charts.probability_chart(per_model, classes, height=280), width="stretch",
                        key=f"{key}-probs", config={"displayModeBar": False})
    for a in face.answers:
        if a.is_stress_model:
            st.caption(f"{a.model} (stress model): P(stress) = {a.p_stress:.0%}")


def show_face(face: FaceResult, predictors: list, show_cam: bool, key: str, first: bool = False,
              people: str | None = None) -> None:
    """One face's card: what the models saw (and where our CNNs looked), each model's answer, their agreement;
    `people`: FER+'s votes for the face in words, where known."""
    with st.container(border=True):
        st.markdown(f"#### Face {face.number}" + (f" · true label: **{face.truth}**" if face.truth else ""))
        if people:
            st.caption(f"FER+'s ten people said: {people}")
        if not face.answers:
            st.warning("No model gave a result for this face.")
            return
        left, right = st.columns([2, 3], gap="medium")
        with left:
            _face_pictures(face, predictors, show_cam)
        with right:
            _face_answers(face, key, first)


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
