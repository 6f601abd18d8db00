"""What a user made stays for the browser session: a page's settings, and the files they uploaded.

Streamlit forgets a widget's value when a run does not draw it (another page ran), so each kept widget's value is
also copied to a plain session key, and put back into the widget's key before the widget is drawn again:
Streamlit's documented pattern for multipage apps. A kept widget gets its first value here (`default`), not from
its own `value=`/`default=`/`index=`: a widget given both logs "created with a default value but also had its
value set via the Session State API".

    st.slider("Smallest face", 4, 50, key=keep("webcam_min_face", default=10))

An uploader's widget is emptied the same way, so the files themselves are kept in the session (`kept_uploader`).
"""
from __future__ import annotations

from collections.abc import Iterable

import streamlit as st

STORE = "_fel_kept"  # widget key -> its last value, in st.session_state (not a widget key: never cleaned up)
UPLOADS = "_fel_uploads"  # uploader key -> {"files": {file id: (name, bytes)}, "shown": [ids its widget holds]}
_NONE = object()


def keep(key: str, options: Iterable | None = None, default=_NONE) -> str:
    """Call as the widget's `key=` (before the widget is drawn): remembers its value, or restores the value
    remembered when it was last drawn. With `options`, a remembered value (every item of a list) the widget
    can no longer offer is dropped, so the widget starts on its default. `default`: the widget's value the first
    time (pass no default to the widget itself). Returns `key`."""
    store = st.session_state.setdefault(STORE, {})
    if key in st.session_state:  # drawn in the previous run: its value is the one to keep
        store[key] = st.session_state[key]
    elif key in store:
        value = store[key]
        if options is None or _offered(value, list(options)):
            st.session_state[key] = value
        else:
            del store[key]
    if default is not _NONE and key not in st.session_state:
        st.session_state[key] = default
    return key


def _offered(value, options: list) -> bool:
    if isinstance(value, (list, tuple)):
        return all(v in options for v in value)
    return value in options


# ---------------------------------------------------------------- uploads


def kept_uploader(label: str, key: str, container=st, camera: bool = False, **kwargs) -> list[tuple[str, bytes]]:
    """`st.file_uploader` (or `st.camera_input`) whose files stay for the session: (name, bytes) of every file
    uploaded and not removed, also those of an earlier visit to the page, which its new, empty widget no longer
    holds (they are named under it, with a button to forget them)."""
    box = _box(key)
    if key not in st.session_state:  # a new widget (first visit, or back from another page): it holds none
        box["shown"] = []
    draw = container.camera_input if camera else container.file_uploader
    single = camera or not kwargs.get("accept_multiple_files")  # a new file replaces the kept one
    draw(label, key=key, on_change=_uploaded, args=(key, single), **kwargs)
    earlier = [name for fid, (name, _) in box["files"].items() if fid not in box["shown"]]
    if earlier:
        c1, c2 = container.columns([4, 1], vertical_alignment="center")
        c1.caption(("The photo taken earlier" if camera else "Also kept from before: " + ", ".join(
            f"**{n}**" for n in earlier)) + " (it stays until you leave the app).")
        c2.button("Forget", key=f"{key}_forget", icon=":material/delete:", type="tertiary", on_click=_forget,
                  args=(key,), help="Remove the files kept from before.")
    return list(box["files"].values())


def _box(key: str) -> dict:
    return st.session_state.setdefault(UPLOADS, {}).setdefault(key, {"files": {}, "shown": []})


def _uploaded(key: str, single: bool) -> None:
    """The widget changed: files it no longer holds were removed by the user, new ones are kept."""
    box = _box(key)
    value = st.session_state.get(key)
    now = value if isinstance(value, list) else ([] if value is None else [value])
    ids = [f.file_id for f in now]
    for gone in set(box["shown"]) - set(ids):
        box["files"].pop(gone, None)
    if single and now:
        box["files"] = {}
    for f in now:
        box["files"].setdefault(f.file_id, (f.name, f.getvalue()))
    box["shown"] = ids


def _forget(key: str) -> None:
    box = _box(key)
    box["files"] = {fid: f for fid, f in box["files"].items() if fid in box["shown"]}
