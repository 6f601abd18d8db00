"""The Webcam page's live pieces: which model the stream runs (a model that cannot run leaves the running one
in place, and says so beside the picker), the panel beside the video (live, or stopped and greyed), and the
camera's errors put into words. Nothing here touches the webrtc component itself: changing the model changes
the page's LiveAnalyser (core.predict.frame), never the component's arguments or its place on the page, so
the stream is never rebuilt."""
from __future__ import annotations

import json

import streamlit as st

from core.predict.loading import DEEPFACE

from . import charts
from . import loaders as L
from . import widgets as w
from .page import pill

RUNNING = "webcam_running"  # session state: the source ("deepface" or a checkpoint path) the stream runs now
MAX_BARS = 4
# What the camera's errors mean for the user: the webrtc component's own messages, and (in the same words)
# the browser's getUserMedia errors, which the component would otherwise show raw ("NotAllowedError: ...").
TRANSLATIONS = {
    "media_api_not_available": "This browser gives no camera access here: open the app at http://localhost or "
                               "over https://.",
    "device_access_denied": "Camera access was denied. Allow it (camera icon in the address bar), then press "
                            "START again.",
    "device_not_available": "No camera found, or another application is using it. Plug one in or close the "
                            "other application, then press START again.",
}
_BROWSER_ERRORS = {
    "NotAllowedError": TRANSLATIONS["device_access_denied"],
    "PermissionDeniedError": TRANSLATIONS["device_access_denied"],
    "NotFoundError": TRANSLATIONS["device_not_available"],
    "OverconstrainedError": TRANSLATIONS["device_not_available"],
    "NotReadableError": TRANSLATIONS["device_not_available"],
    "AbortError": TRANSLATIONS["device_not_available"],
    "SecurityError": TRANSLATIONS["media_api_not_available"],
    "TypeError": TRANSLATIONS["media_api_not_available"],
    "default": "The camera could not start. Check the camera permission (camera icon in the address bar) and "
               "that no other application holds the camera, then press START again.",
}
# Runs in the page: every 300 ms, an error the webrtc component shows as "<Name>Error: <browser text>" is
# rewritten in the page's words (the browser's text stays as the tooltip). Text nodes are changed in place, so
# the component's own updates still land and are translated in turn.
_TRANSLATE_JS = """<script>
(() => {
  if (window.__felCameraWords) { window.__felCameraWords = WORDS; return; }
  window.__felCameraWords = WORDS;
  const fix = (doc) => {
    let changed = false;
    for (const box of doc.querySelectorAll(".MuiAlert-message")) {
      const raw = box.textContent, m = /^(\\w+Error): /.exec(raw);
      if (!m) continue;
      const words = window.__felCameraWords, walker = doc.createTreeWalker(box, NodeFilter.SHOW_TEXT);
      let node, first = true;
      while ((node = walker.nextNode())) {
        node.nodeValue = first ? (words[m[1]] || words["default"]) : "";
        first = false;
      }
      box.title = raw;
      changed = true;
    }
    return changed || doc.querySelector(".MuiAlert-message[title]") !== null;
  };
  setInterval(() => {
    for (const f of document.querySelectorAll("iframe[title='streamlit_webrtc.component.webrtc_streamer']")) {
      try {
        const doc = f.contentDocument;
        if (!doc || !doc.body) continue;
        // our words may take more lines than the browser's: the frame grows to its content meanwhile
        const height = fix(doc) ? doc.body.scrollHeight + "px" : "";
        if (f.style.height !== height) f.style.height = height;
      } catch (e) { /* not ours to read */ }
    }
  }, 300);
})();
</script>"""


def translate_camera_errors() -> None:
    """The browser's camera errors, shown by the webrtc component, in the page's words (one element, drawn
    at the same place on every run)."""
    st.html(_TRANSLATE_JS.replace("WORDS", json.dumps(_BROWSER_ERRORS)), unsafe_allow_javascript=True)


def running_model(choice: str | None, models, df_status: dict, df_ok: bool, mirror: bool, default):
    """(predictor, source, note) for the stream. The chosen model if it runs; otherwise the one running now
    (or the page's `default` ModelInfo) stays, and `note` says why, for beside the picker."""
    if choice is None:
        return None, None, None
    if choice == DEEPFACE and not df_ok:
        problem, detail = "DeepFace cannot run here.", df_status.get("message") or "Its weights are missing."
    else:
        try:
            predictor = _load(choice, mirror)
            st.session_state[RUNNING] = choice
            return predictor, choice, None
        except Exception as e:  # noqa: BLE001
            problem, detail = "Could not load that model.", w.friendly_error(e)
    current = st.session_state.get(RUNNING) or (str(default.path) if default is not None else None)
    try:
        predictor = _load(current, mirror) if current not in (None, choice) else None
    except Exception:  # noqa: BLE001
        predictor = None
    if predictor is None:
        return None, None, f"{problem} No model runs: faces are only boxed.\n\n{detail}"
    st.session_state[RUNNING] = current
    label = w.model_options(models).get(current, getattr(predictor, "name", current))
    return predictor, current, f"{problem} Still running **{label}**.\n\n{detail}"


def _load(source: str, mirror: bool):
    with st.sidebar, st.spinner("Loading DeepFace (TensorFlow, a few seconds the first time)..."
                                if source == DEEPFACE else "Loading the model..."):
        return L.get_predictor(source, tta=w.tta_for(source, mirror))


def panel(snap: dict, playing: bool, show_stress: bool, asked: tuple[int, int] | None = None) -> None:
    """Beside the video: the numbers and each face's bars while the stream plays; after STOP the last ones,
    greyed, under a "stopped" line. `asked`: the size asked of the camera (said when the browser sends less)."""
    if not playing:
        st.markdown(pill("Stopped", "#6b7280") + " <span class='fel-muted'>The camera is off: these are the last "
                    "numbers it gave. Press <b>START</b> to go on.</span>", unsafe_allow_html=True)
    with st.container(key="webcam_live" if playing else "webcam_stopped"):
        _numbers(snap, playing, show_stress, asked)


def _numbers(snap: dict, playing: bool, show_stress: bool, asked: tuple[int, int] | None = None) -> None:
    faces = snap["faces"]
    # two by two: four metrics side by side in this column cut their labels ("Frame…")
    c1, c2 = st.columns(2)
    c1.metric("Frames/s", f"{snap['fps']:.1f}",
              help="Camera frames shown per second, each with the latest labels drawn on it: the same figure as "
                   "on the video, counted over the last 3 s and never faster than the camera's own timestamps.")
    c2.metric("Labels/s", f"{snap.get('analysis_fps', 0):.1f}",
              help="Analyses per second: how often the boxes and labels are updated. The analysis works on the "
                   "newest frame on a thread of its own, so a slow model lowers this rate, not the video's.")
    c3, c4 = st.columns(2)
    c3.metric("Analysis", f"{snap.get('analysis_ms', 0):.0f} ms",
              help="One analysis (face detection every N analyses, crops, the model), averaged over the last 30.")
    c4.metric("Faces", len(faces), help="Faces a detection confirmed: a face shows after its second detection.")
    st.markdown(w.stream_caption(snap), unsafe_allow_html=True)
    size = snap.get("size")
    if size and asked and size[0] * size[1] < asked[0] * asked[1]:
        st.caption(f":material/info: The browser sends {size[0]}×{size[1]}, less than the {asked[0]}×{asked[1]} asked "
                   "of the camera: browsers lower the resolution when their CPU or the network falls short. A "
                   f"recording stays {asked[0]}×{asked[1]} (smaller frames are scaled up).")
    if snap.get("error"):
        st.error(f"The model failed on the last frame: {snap['error']}")
    if not faces:
        if playing:
            st.info("No face in view. Face the camera, with light on your face.", icon=":material/face:")
        return
    classes = snap["classes"]
    if not classes:  # no model: boxes only
        return
    for f in faces[:MAX_BARS]:
        title = f"Face {f['id']}: {f['emotion']} ({f['confidence']:.0%})"
        if show_stress and f["stress"]:
            title += f" · {'stress' if f['stress'] == 'stress' else 'no stress'} {f['stress_confidence']:.0%}"
        st.html(charts.html_bars(f["probs"], classes, title=title))
    if len(faces) > MAX_BARS:
        st.caption(f"...and {len(faces) - MAX_BARS} more faces (all are labelled on the video).")
