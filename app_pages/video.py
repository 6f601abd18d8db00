"""Video: a recorded clip, every face followed through it, its emotions on a timeline, an annotated copy.
The analysis runs in its own process (core.video, `python -m core video`), written to its folder as it
goes; this page starts it, follows it and reads the folder back."""
import streamlit as st

from core.predict.choice import webcam_model
from core.video.synth import sample_clip
from ui import loaders as L
from ui import video as V
from ui import widgets as w
from ui.page import setup_page

setup_page("Video",
           "Give the app a recorded clip: it follows **every face** through it, reads each one's emotions on "
           "every analysed frame, and shows them **on a timeline** per face, with the stress line, a summary "
           "per face, a frame-by-frame view and an **annotated copy** to download.")

# ---------------------------------------------------------------- sidebar: models and settings
sb = st.sidebar
sb.header("Models")
models, _, df_ok = L.model_sources()
chosen = V.model_choice(models, webcam_model(models), df_ok, sb)
mirror = w.mirror_toggle("video_mirror", sb)
sb.header("Analysis")
detector = w.detector_picker("video_detector", sb)
if L.detector_unavailable(detector):  # the analysis then uses the default, with this note kept in its settings
    sb.warning(f"{L.detector_unavailable(detector)}; the analysis uses the default detector instead.",
               icon=":material/warning:")
    detector = None
tilted = w.tilted_toggle("video_tilted", sb, cost=" Off by default: the analysis takes longer.")
fps = V.rate_choice(sb)
min_face = sb.slider("Smallest face (% of the frame)", 3, 40, 10, key="video_min_face",
                     help="Faces smaller than this are ignored. Larger = faster and fewer false detections.")
annotate = sb.toggle("Annotated copy", value=True, key="video_annotate",
                     help="Also write the clip with every face boxed and labelled (H.264 MP4), to download.")
max_minutes = sb.number_input("Longest clip (minutes)", 1, 240, 10, key="video_max_minutes",
                              help="Longer clips are refused (an analysis of an hour takes a while on a CPU).")
if not models and not df_ok:
    w.no_model_message()

# ---------------------------------------------------------------- the clip
src_col, go_col = st.columns([3, 1], vertical_alignment="bottom")
source = src_col.radio("Clip", ["Upload", "Sample clip"], horizontal=True, key="video_source",
                       captions=["mp4, mov, webm, mkv or avi", "made from the sample photos"])
upload, sample = None, None
if source == "Upload":
    upload = st.file_uploader("Video clip", type=V.UPLOAD_TYPES, key="video_upload")
else:
    try:
        with st.spinner("Making the sample clip (once)…"):
            sample = sample_clip()
        st.caption("Six seconds made from the sample photos: one face drifting and zooming, a second one "
                   "entering and leaving.")
    except (FileNotFoundError, OSError, ValueError) as e:
        st.warning(f"No sample clip: {w.friendly_error(e)}")
ready = bool(chosen) and (upload is not None or sample is not None)
if go_col.button("Analyse", type="primary", icon=":material/play_arrow:", disabled=not ready, key="video_go"):
    settings = V.settings_from_sidebar(chosen, detector, fps, annotate, mirror, min_face / 100.0, float(max_minutes),
                                       tilted)
    if upload is not None:
        V.start(data=upload.getvalue(), name=upload.name, settings=settings)
    else:
        V.start(clip_path=sample, settings=settings)

# ---------------------------------------------------------------- analyses: the current one, past ones
st.divider()
pick_col, del_col = st.columns([5, 1], vertical_alignment="bottom")
analysis = V.pick_analysis(pick_col)
if analysis is None:
    st.info("No analysis yet: upload a clip (or take the sample clip) and press **Analyse**.",
            icon=":material/movie:")
else:
    V.delete_button(analysis, del_col)
    V.show(analysis)
