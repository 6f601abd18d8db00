"""Webcam: live emotion recognition on the user's camera (streamlit-webrtc). What happens to each frame is
core.predict.frame; recording the session is core.video.record (controls in ui.recording); this page only
picks the settings and shows the results."""
import streamlit as st

from core.predict import frame
from core.predict.choice import WEBCAM_ACCURACY_BAR, webcam_model
from core.settings import ice_servers_text
from ui import live
from ui import loaders as L
from ui import recording as R
from ui import widgets as w
from ui.page import setup_page
from ui.state import keep

setup_page("Webcam",
           "Press **START** and allow the camera: every face is boxed and labelled live with its emotion, "
           "the model's confidence and a stress marker. The bars on the right show each face's probabilities.")

CAMERA_SIZE = (640, 480)  # asked of the camera; a browser short of CPU or bandwidth sends less, and the panel says so

# Everything above the video is drawn the same on every run (messages go in `notices`, made once): an element
# that came and went above it would move the webrtc component, and the browser would rebuild the stream.
notices = st.container()

# ---------------------------------------------------------------- sidebar: model and settings
sb = st.sidebar
sb.header("Model")
models, df_status, df_ok = L.model_sources()
default_model = webcam_model(models)
choice = None
if models or df_ok:
    choice = w.model_picker(models, key="webcam_model", container=sb, first=default_model,
                            help="Your trained CNNs (fast), or DeepFace (slower, TensorFlow). It starts on the "
                                 f"fastest shipped model that reaches {WEBCAM_ACCURACY_BAR:.0%} on FER2013's "
                                 "test faces, if one does.")
model_note = sb.empty()  # beside the picker: why the chosen model is not the one running, if it is not
mirror = w.mirror_toggle("webcam_mirror", sb)

sb.header("Face detection")
detector_name = w.detector_picker("webcam_detector", sb)
tilted = w.tilted_toggle("webcam_tilted", sb, cost=" Off by default: it makes the frames that search slower.")
show_landmarks = sb.toggle("Show the landmarks", key=keep("webcam_landmarks", default=False),
                           help="Eyes, nose and mouth corners, where the detector finds them.")
align = sb.toggle("Turn faces upright", key=keep("webcam_align", default=True),
                  help="Rotate each face so its eyes are level before the model sees it (detectors with "
                       "landmarks only).")
min_face = sb.slider("Smallest face (% of the frame)", 4, 50, step=1, key=keep("webcam_min_face", default=10),
                     help="Faces smaller than this are ignored. Larger = faster and fewer false detections.")
WIDTHS = [240, 320, 400, 480, 640]
detect_width = sb.select_slider("Detect on a frame this wide (px)", WIDTHS,
                                key=keep("webcam_detect_width", WIDTHS, default=480),
                                help="The detector runs on a downscaled copy of the frame: smaller is faster.")
detect_every = sb.slider("Detect every N frames", 1, 10, key=keep("webcam_detect_every", default=3),
                         help="In between, the last boxes are reused (the emotion is still computed every frame).")
full_every = sb.slider("Search the whole frame every N detections", 1, 10, key=keep("webcam_full_every", default=5),
                       help="In between, a detector that can follow faces (YuNet) looks for each face only near "
                            "where it was, upright by its tilt: much faster. A new face appears at the next whole "
                            "search. 1 = always the whole frame.")
sb.header("Display")
smoothing = sb.slider("Smooth over the last K frames", 1, 15, key=keep("webcam_smoothing", default=5),
                      help="Averages each face's probabilities over about K frames so labels do not flicker. 1 = off.")
show_stress = sb.toggle("Stress marker", key=keep("webcam_stress", default=True),
                        help="Under each face: stress (angry + fear + sad) or no stress, with its probability.")
with sb.expander("Connection (remote use)"):
    ice_text = st.text_area(
        "STUN/TURN servers (JSON)", key=keep("webcam_ice", default=ice_servers_text()),
        placeholder='[{"urls": ["stun:stun.l.google.com:19302"]}]',
        help="Empty works on this computer (localhost). To reach the app from another machine, give STUN/TURN "
             "servers here or in the FEL_ICE_SERVERS environment variable.")
ice, ice_error = w.ice_servers(ice_text)
if ice_error:
    sb.warning(ice_error)

# ---------------------------------------------------------------- the predictor (a model that cannot run
# leaves the running one in place, and says so beside the picker)
predictor, source, note = live.running_model(choice, models, df_status, df_ok, mirror, default_model)
if note:
    model_note.warning(note, icon=":material/warning:")
if not models and not df_ok:
    with notices:
        w.no_model_message()
        st.caption("Without a model, the webcam still shows the faces it finds.")
calibration = w.calibration_note([predictor], smoothing)  # do the confidences mean what they say?
if calibration:
    sb.caption(calibration)

detector = L.get_detector(detector_name, min_size=min_face / 100.0, detect_width=int(detect_width), tilted=tilted)
detector_note = L.detector_notice(detector_name)
if detector_note:
    sb.warning(detector_note, icon=":material/warning:")
settings = frame.LiveSettings(detect_every=detect_every, full_search_every=full_every, smoothing=smoothing,
                              show_stress=show_stress, align=align, show_landmarks=show_landmarks)
if "webcam_analyser" not in st.session_state:
    st.session_state["webcam_analyser"] = frame.LiveAnalyser()
analyser: frame.LiveAnalyser = st.session_state["webcam_analyser"]
analyser.configure(predictor=predictor, detector=detector, settings=settings)

# ---------------------------------------------------------------- video and live panel
video_col, panel_col = st.columns([3, 2], gap="large")
with video_col:
    try:
        import av
        from streamlit_webrtc import WebRtcMode, webrtc_streamer

        def on_frame(frame: "av.VideoFrame") -> "av.VideoFrame":
            out = analyser.process(frame.to_ndarray(format="bgr24"), color="bgr", time_s=frame.time)
            return av.VideoFrame.from_ndarray(out, format="bgr24")

        ctx = webrtc_streamer(
            key="fel-webcam",
            mode=WebRtcMode.SENDRECV,
            rtc_configuration={"iceServers": ice},
            media_stream_constraints={"video": {"width": {"ideal": CAMERA_SIZE[0]}, "height": {"ideal": CAMERA_SIZE[1]}},
                                      "audio": False},
            video_frame_callback=on_frame,
            # the analyser analyses on its own thread and returns each frame in about a millisecond: called on
            # every frame as it arrives, none is dropped; inline (FEL_LIVE_INLINE=1) it needs streamlit-webrtc's
            # thread, which answers with the last frame done and drops the ones it had no time for
            async_processing=analyser.inline,
            translations=live.TRANSLATIONS,
        )
        playing = bool(ctx.state.playing)
    except Exception as e:  # noqa: BLE001
        st.error(f"The live video could not start: {w.friendly_error(e)}")
        ctx, playing = None, False
    live.translate_camera_errors()
    st.caption(":material/info: The browser asks for the camera when you press START. Cameras work only on "
               "**http://localhost** or **https://** pages; if the video stays black, check the permission "
               "(camera icon in the address bar) and that no other app holds the camera.")
    st.subheader("Record this session")
    R.privacy_note()
    R.controls(analyser, playing, detector, settings, source, camera_size=CAMERA_SIZE)


@st.fragment(run_every=0.7 if playing else None)
def live_panel() -> None:
    snap = analyser.snapshot()
    if not playing and snap["frames"] == 0:
        st.info("Press **START** under the video to begin.", icon=":material/play_circle:")
        return
    R.status_line()
    live.panel(snap, playing, show_stress, asked=CAMERA_SIZE)


@st.fragment(run_every=2.0 if playing and R.current() is not None and R.current().active else None)
def recording_timelines() -> None:
    R.live_timelines()


with panel_col:
    live_panel()
    recording_timelines()
