"""The Webcam page's recording: what is recorded and where (said before anything is), the Record / Stop
recording control, and while it records the elapsed time, frames written and dropped, and a timeline of the
last minute per face. The recording itself is core.video.record's, fed by the page's LiveAnalyser; it is
then listed, opened and deleted on the Video page like any analysis."""
from __future__ import annotations

import html

import streamlit as st

from core.docs.texts import page_text
from core.results import read_result
from core.settings import video_dir
from core.video.record import RECENT_S, LiveRecorder

from . import video_charts as vc
from .format import fmt_duration
from .page import page_link

KEY = "webcam_recorder"          # the LiveRecorder of this browser session (or None)
VIDEO_KEY = "video_open"          # the Video page opens this analysis first (ui.video.KEY)
MAX_LIVE_TIMELINES = 2
ENDINGS = {"stopped": "was stopped", "interrupted": "was interrupted", "failed": "failed"}


def annotated_cost() -> str:
    """The toggle's help: what the annotated video costs, quoted from its measurement (results/bench-recording.json,
    made by bench/recording.py; where and when it was measured when that was another kind of machine)."""
    measured = page_text("recording-cost", read_result("bench-recording"))
    return ("Also writes the video you see, boxes and labels included, as an H.264 MP4 in the recording's folder. "
            "It costs disk space and CPU: every frame is encoded. " + (measured + " " if measured else "")
            + "Frames the recorder cannot keep up with are left out of the record, and counted.")


def privacy_note() -> None:
    st.markdown(
        ":material/lock: **Nothing is recorded until you press Record.** A recording keeps each frame's faces: "
        "their boxes, emotions and P(stress) over time, and a small picture of each face; the video itself only "
        f"if you tick *Save the annotated video*. It is written on the computer running the app, in `{video_dir()}` "
        "(FEL_VIDEO_DIR), and listed on the **Video** page, where you can review, download or delete it.")


def current() -> LiveRecorder | None:
    return st.session_state.get(KEY)


def controls(analyser, playing: bool, detector, settings, source: str | None,
             camera_size: tuple[int, int] | None = None) -> None:
    """Record / Stop recording. Record needs the camera on; Stop (or the camera stopping) closes the
    recording and the Video page opens it. `camera_size`: what the page asks of the camera (a recording
    is kept at that size when the browser sends smaller frames)."""
    rec = current()
    if rec is not None and rec.active and not playing:
        _stop(analyser, rec, "The camera stopped: the recording was closed.")
        rec = current()
    recording = rec is not None and rec.active
    annotate = st.toggle("Save the annotated video", value=False, key="webcam_record_video", disabled=recording,
                         help=annotated_cost())
    if recording:
        if st.button("Stop recording", type="primary", icon=":material/stop_circle:", key="webcam_record_stop"):
            _stop(analyser, rec, None)
            st.rerun()
    else:
        if st.button("Record", icon=":material/radio_button_checked:", key="webcam_record", disabled=not playing,
                     help="Starts writing this session (press START first)." if not playing else
                          "Starts writing this session to a new recording."):
            predictors = [analyser.predictor] if analyser.predictor is not None else []
            try:
                rec = LiveRecorder.start(predictors, detector, settings, annotate=annotate,
                                         sources=[source] if predictors else None, size=camera_size)
            except OSError as e:  # a read-only or full video folder: said, and the live view goes on unrecorded
                st.error(f"**Nothing is being recorded:** the video folder `{video_dir()}` cannot be written "
                         f"({e.strerror or e}). Set FEL_VIDEO_DIR to a folder you can write to, or free some "
                         "space, then press Record again.", icon=":material/videocam_off:")
                return
            st.session_state[KEY] = rec
            analyser.record_into(rec)
            st.rerun()
    ended(rec)


def _stop(analyser, rec: LiveRecorder, note: str | None) -> None:
    analyser.record_into(None)
    with st.spinner("Closing the recording…"):
        rec.stop()
    st.session_state[VIDEO_KEY] = rec.analysis.id
    if note:
        st.toast(note, icon=":material/videocam_off:")


def ended(rec: LiveRecorder | None) -> None:
    """After a recording: what was kept and a link to it."""
    if rec is None or rec.active:
        return
    s = rec.stats()
    kept = (f"{fmt_duration(s['elapsed_s'])}, {s['frames']} frames"
            + (f", {s['dropped']} left out while the writer was behind" if s["dropped"] else ""))
    text = f"**Recording saved** ({kept})."
    if s["state"] == "finished":
        st.success(text, icon=":material/check_circle:")
    elif s["state"] == "failed":  # a full disk: what was written is kept, the rest is not
        st.error(f"**The recording failed and was not fully saved** ({s['reason'] or 'no reason recorded'}). What "
                 f"was written before is kept ({kept}).", icon=":material/error:")
    else:
        st.warning(f"**The recording {ENDINGS.get(s['state'], 'ended')}** ({s['reason'] or 'no reason recorded'}). "
                   + text, icon=":material/warning:")
    page_link("app_pages/video.py", label="Open it on the Video page", icon=":material/movie:")


def status_line() -> None:
    """While recording: elapsed time, frames written and dropped (the page's live panel calls this)."""
    rec = current()
    if rec is None or not rec.active:
        return
    s = rec.stats()
    dropped = f" · {s['dropped']} dropped (the writer was behind)" if s["dropped"] else ""
    st.markdown(f"<span class='fel-pill' style='background:#dc2626'>● REC</span> "
                f"<b>{html.escape(fmt_duration(s['elapsed_s']))}</b> · {s['frames']} frames written{dropped}",
                unsafe_allow_html=True)


def live_timelines() -> None:
    """The last minute of the faces seen most recently, one timeline each (first model)."""
    rec = current()
    if rec is None or not rec.active or not rec.models:
        return
    rows = rec.recent()
    latest = [f["track"] for r in reversed(rows) for f in r["faces"]]
    tracks = list(dict.fromkeys(latest))[:MAX_LIVE_TIMELINES]
    if not tracks:
        return
    st.caption(f"The last {RECENT_S:.0f} s of each face:")
    for track in sorted(tracks):
        st.plotly_chart(vc.timeline_figure(rows, track, rec.models[0], height=220, title=f"Face #{track}"),
                        width="stretch", key=f"webcam_rec_tl_{track}")
