"""Facial Emotion Lab: the home page. What the app does, where to go, and the state of things."""
import pandas as pd
import streamlit as st

from core.data import default_data_path  # cheap: finds the file, reads nothing
from core.predict.detectors import available_detectors, default_detector_name, unavailable_reason
from core.results import read_result
from core.settings import model_dir, runs_root
from ui import loaders as L
from ui import widgets as w
from ui.page import available_pages, page_link, setup_page

setup_page()


def labels_note() -> str:
    """Why FER2013 is hard, and what FER+ changes, with the measured agreement where results/ holds it."""
    measured = read_result("ferplus-labels")
    share = (measured or {}).get("figures", {}).get("fer2013_agreement")
    said = (f"FER+'s ten people chose FER2013's label as their most voted emotion on {share:.0%} of the faces "
            "(`python bench/ferplus_labels.py`). " if isinstance(share, float) else "")
    return ("FER2013's label is one person's guess per face. " + said + "Models that learned FER+'s votes answer "
            "more as people would. Expect mistakes, especially between *fear*, *sad* and *surprise*.")


st.title("Facial Emotion Lab")
st.markdown(
    "See **facial emotion recognition** at work: live on your webcam, on your own photos, and in numbers. "
    "Every face is found, cut out as a 48×48 grey image (the **FER2013** format) and classified into seven "
    "emotions: *angry, disgust, fear, happy, sad, surprise, neutral*, or eight by models that learned what ten people "
    "said of each face (**FER+**), which adds *contempt*. "
    "The **stress view** folds them into two: *angry, fear* and *sad* count as **stress**, the rest as **no stress**. "
    "Compare **DeepFace**'s pre-trained model with CNNs you train yourself."
)

st.subheader("Where to go")
shown = available_pages()
cols = st.columns(len(shown))
for col, spec in zip(cols, shown):
    with col.container(border=True, height="stretch"):
        page_link(spec.file)
        st.markdown(f"<div class='fel-card-text'>{spec.text}</div>", unsafe_allow_html=True)

# ---------------------------------------------------------------- state of things
st.subheader("At a glance")
models = L.all_models()
usable = [m for m in models if not getattr(m, "error", None)]
df_status = L.deepface_status()
data_path = default_data_path()

c1, c2, c3 = st.columns(3)
c1.metric("Your models", len(usable),
          help=f"Checkpoints in {model_dir()} (*.pt) and the training runs in {runs_root()}.")
df_state = "random weights" if df_status.get("random") else "ready" if df_status.get("present") else "no weights"
c2.metric("DeepFace", df_state,
          help="DeepFace's pre-trained emotion model (TensorFlow).")
c3.metric("Data set", "found" if data_path else "not set",
          help="Needed to train, and to measure models on the FER2013 test split.")
untrained = L.shipped_without_history()
st.caption("**Your models**: what the Webcam and Compare pages offer (the shipped models and your promoted runs). "
           "**Experiments** counts trainings instead (the shipped models' and all your runs)"
           + ("; not there, made without training of their own: " + ", ".join(
               f"{name} ({why})" for name, why in untrained.items()) if untrained else "") + ".")

st.markdown("#### Models")
if models:
    rows = []
    for m in models:
        acc = w.model_accuracy(m)
        kind = getattr(m, "kind", "emotion")
        rows.append({
            "name": m.name,
            "architecture": getattr(m, "arch", None),
            "parameters": getattr(m, "params", None),
            "labels": m.labels_text if hasattr(m, "labels_text") else "",
            # out of different numbers of classes: one column each, never one bar for both
            "emotion accuracy": None if acc is None or kind == "stress" else 100 * acc,
            "stress accuracy": None if acc is None or kind != "stress" else 100 * acc,
            "kind": kind,
            "source": {"run": "your run (promoted)"}.get(m.source, str(m.source or "")),
            "status": "ok" if not getattr(m, "error", None) else f"cannot load: {m.error}",
        })
    st.dataframe(
        pd.DataFrame(rows), hide_index=True, width="stretch",
        column_config={
            "parameters": st.column_config.NumberColumn(format="compact", help="trainable weights"),
            "emotion accuracy": st.column_config.ProgressColumn(
                "test accuracy: emotions", format="%.1f%%", min_value=0, max_value=100,
                help="Emotion models: share of test faces whose emotion it names right, on the labels it learned: "
                     "FER2013's (7 emotions, chance 14%), or FER+'s official test for a model that learned FER+'s "
                     "ten votes per face (8 emotions). model/README.md puts every model on both."),
            "stress accuracy": st.column_config.ProgressColumn(
                "test accuracy: stress or not", format="%.1f%%", min_value=0, max_value=100,
                help="Stress models: share of test faces it puts on the right side of stress / no stress (2 "
                     "classes; chance is 50%). Not comparable with the 7-emotion figures."),
            "labels": st.column_config.TextColumn("learned", help="the labels it learned, and its number of classes"),
            "kind": st.column_config.TextColumn(help="emotion: 7 classes (8 with FER+'s contempt); stress: stress / "
                                                     "no stress"),
            "source": st.column_config.TextColumn("where it came from"),
        },
    )
    if not usable:
        w.no_model_message()
else:
    w.no_model_message()
st.caption(f"Model folder: `{model_dir()}` (set `FEL_MODEL_DIR` to use another). Face detectors installed: "
           f"{', '.join(available_detectors())} (default **{default_detector_name()}**).")
yunet_problem = unavailable_reason("yunet")  # a refused model file is named here, not silently replaced
if yunet_problem:
    st.warning(f"**YuNet**, the default face detector, cannot run here: {yunet_problem}. Faces are found with "
               f"**{default_detector_name()}** instead.", icon=":material/warning:")

left, right = st.columns(2)
with left:
    st.markdown("#### DeepFace")
    if df_status.get("random"):
        st.info(df_status.get("message", ""), icon=":material/casino:")
    elif df_status.get("present"):
        st.success(f"DeepFace's emotion weights are present (`{df_status.get('path', '')}`).",
                   icon=":material/check_circle:")
    else:
        st.warning(df_status.get("message") or "DeepFace's weights are missing.", icon=":material/warning:")
        st.caption("Without them the app works with your own models only.")
with right:
    st.markdown("#### Data set")
    if data_path:
        st.success(f"FER2013 found at `{data_path}`.", icon=":material/check_circle:")
    else:
        st.info(w.data_help(), icon=":material/info:")

with st.expander("How it works"):
    st.markdown(
        "1. **Find faces**: a face detector (YuNet by default, OpenCV's Haar cascade where YuNet cannot run) "
        "scans the picture, downscaled first so big photos stay fast, and finds each face's eyes, nose and mouth.\n"
        "2. **Crop**: each face, with a small margin and turned upright on its eye line, becomes a 48×48 grey "
        "image like those in FER2013.\n"

        "3. **Classify**: a CNN gives a probability for each emotion; the one with the highest is the label, "
        "its probability the *confidence*.\n"
        "4. **Stress**: P(stress) = P(angry) + P(fear) + P(sad) for an emotion model (disgust, happy, surprise, "
        "neutral and a FER+ model's contempt count as no stress), or a dedicated stress model.\n"
        "5. **Explain**: Grad-CAM shows which parts of the face drove a CNN's decision.\n\n"
        + labels_note()
    )
