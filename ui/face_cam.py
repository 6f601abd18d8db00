"""Grad-CAM for one face: where a CNN looked for an answer (core.predict.saliency), drawn over the face. Used
by the Compare page for each face found in a photo, and opened from the face grids of the Experiments page
(the faces two models disagree on, the faces behind a confusion cell): each face there has a Grad-CAM button
and the panel it opens shows the face beside each model's map."""
from __future__ import annotations

import cv2
import numpy as np
import streamlit as st

from core.predict import draw
from core.predict.loading import DEEPFACE
from core.predict.saliency import grad_cam, overlay

from .loaders import get_predictor
from .widgets import friendly_error

SIZE = 144
NO_DEEPFACE_CAM = "DeepFace has no Grad-CAM here (its TensorFlow network is not one of our CNNs)"
NOTE = "Red: the parts of the face that pushed the model most towards that class."


def cam_overlay(predictor, crop: np.ndarray, size: int = SIZE, class_index: int | None = None):
    """(RGB image of the face with the heat map over it, "") or (None, why there is none: DeepFace, int8...)."""
    if not getattr(predictor, "explainable", False):
        if str(getattr(predictor, "source", "")).lower() == DEEPFACE:
            return None, NO_DEEPFACE_CAM
        return None, "no Grad-CAM for this model: it is not one of our CNNs"
    try:
        heat = grad_cam(predictor, crop, class_index)
    except Exception as e:  # noqa: BLE001 - an int8 model, or one without a spatial map, says why in words
        return None, friendly_error(e)
    heat = cv2.resize(np.asarray(heat, dtype=np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
    return overlay(draw.grey_to_rgb(crop, size), heat), ""


def open_button(state_key: str, i: int, key: str) -> None:
    """A face's button in a grid: it opens that face's Grad-CAM panel (`cam_panel` reads `state_key`)."""
    st.button("Grad-CAM", key=key, icon=":material/visibility:", type="tertiary", on_click=st.session_state.__setitem__,
              args=(state_key, i), help="Where the model looked for its answer on this face")


def cam_panel(state_key: str, face: np.ndarray, title: str, maps: list[tuple[str, str, int | None]]) -> None:
    """The opened face: the face itself, then one Grad-CAM per (caption, model source, class index) in `maps`
    (a source is a checkpoint path, or "deepface", which has none), and a button that closes the panel."""
    with st.container(border=True, key=f"{state_key}_panel"):
        c1, c2 = st.columns([5, 1], vertical_alignment="center")
        c1.markdown(title)
        c2.button("Close", key=f"{state_key}_close", icon=":material/close:", on_click=st.session_state.pop,
                  args=(state_key, None))
        cols = st.columns(len(maps) + 1)
        cols[0].image(draw.grey_to_rgb(face, SIZE), caption="the face", width=SIZE)
        for col, (caption, source, k) in zip(cols[1:], maps):
            img, why = _map(source, face, k)
            if img is None:
                col.info(f"{caption}: {why}", icon=":material/visibility_off:")
            else:
                col.image(img, caption=caption, width=SIZE)
        st.caption(NOTE)


def _map(source: str, face: np.ndarray, class_index: int | None):
    if str(source).lower() == DEEPFACE:
        return None, NO_DEEPFACE_CAM  # no TensorFlow loaded for a map it cannot draw
    try:
        predictor = get_predictor(source)
    except Exception as e:  # noqa: BLE001 - a checkpoint deleted or damaged since the comparison
        return None, friendly_error(e)
    return cam_overlay(predictor, face, class_index=class_index)
