"""FER+'s ten votes beside a face in the galleries (Experiments: a confusion cell's faces, the faces two models
disagree on): what the people said, FER2013's own label beside a FER+ model's answer, and a choice of the faces
people disagreed on."""
from __future__ import annotations

import numpy as np
import streamlit as st

from core.data.ferplus import describe_votes, differs_from_people, people_split
from core.labels import EMOTIONS

from .state import keep

FACES_SHOWN = {"all": "every face", "split": "faces people disagreed on",
               "differs": "faces whose FER2013 label is not what people said"}


def votes_filter(m: dict, idx: np.ndarray, key: str) -> np.ndarray:
    """Where the faces have FER+'s votes: a choice of which faces to show (all; those the ten people split on; those
    whose FER2013 label is not the people's most voted emotion), applied to the indices `idx`."""
    idx = np.asarray(idx, dtype=np.int64)
    if m.get("votes") is None:
        return idx
    shown = st.radio("Show", list(FACES_SHOWN), format_func=FACES_SHOWN.get, horizontal=True, key=keep(key),
                     help="FER+ asked ten people about each face. *Disagreed*: no emotion got more than half of "
                          "their votes. *FER2013 label*: the one label FER2013 gives is not the people's top emotion.")
    if shown == "split":
        return idx[people_split(m["votes"][idx])]
    if shown == "differs" and m.get("fer2013") is not None:
        return idx[differs_from_people(m["votes"][idx], m["fer2013"][idx])]
    return idx


def votes_caption(m: dict, i: int) -> str:
    """A face's people's votes ("people: 6 neutral, 3 sad, 1 angry") and, beside a FER+ model's answer, FER2013's own
    label; "" without votes."""
    if m.get("votes") is None:
        return ""
    text = f"people: {describe_votes(m['votes'][i])}"
    if m.get("ferplus") and m.get("fer2013") is not None:
        text += f"  \nFER2013: {EMOTIONS[int(m['fer2013'][i])]}"
    return text
