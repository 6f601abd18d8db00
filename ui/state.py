"""A page's settings kept for the browser session. Streamlit forgets a widget's value when a run does not
draw it (another page ran), so each kept widget's value is also copied to a plain session key, and put back
into the widget's key before the widget is drawn again: Streamlit's documented pattern for multipage apps.

    st.slider("Smallest face", 4, 50, 10, key=keep("webcam_min_face"))
"""
from __future__ import annotations

from collections.abc import Iterable

import streamlit as st

STORE = "_fel_kept"  # widget key -> its last value, in st.session_state (not a widget key: never cleaned up)


def keep(key: str, options: Iterable | None = None) -> str:
    """Call as the widget's `key=` (before the widget is drawn): remembers its value, or restores the value
    remembered when it was last drawn. With `options`, a remembered value (every item of a list) the widget
    can no longer offer is dropped, so the widget starts on its default. Returns `key`."""
    store = st.session_state.setdefault(STORE, {})
    if key in st.session_state:  # drawn in the previous run: its value is the one to keep
        store[key] = st.session_state[key]
    elif key in store:
        value = store[key]
        if options is None or _offered(value, list(options)):
            st.session_state[key] = value
        else:
            del store[key]
    return key


def _offered(value, options: list) -> bool:
    if isinstance(value, (list, tuple)):
        return all(v in options for v in value)
    return value in options
