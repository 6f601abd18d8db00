"""The Video page's pieces: the clip and settings form, an analysis followed live (progress, ETA, cancel;
a fragment that reruns itself, so the page survives reruns and reattaches to the folder), and a finished
analysis read back: summary table with thumbnails, a timeline per face, two models side by side, a frame
scrubber, downloads; past analyses, reopened or deleted. The work is core.video's, in its own process."""
from __future__ import annotations

import base64
import html
import time

import streamlit as st

from core.files import to_json
from core.predict.loading import DEEPFACE
from core.video import VIDEO_EXTENSIONS, VideoAnalysis, VideoSettings, list_analyses, table_rows
from core.video.job import start_analysis, stop_analysis
from core.video.render import annotated_frame
from core.video.store import ACTIVE
from core.video.summary import agreement_basis, summarise_tracks

from . import video_charts as vc
from .format import fmt_duration, state_pill
from .widgets import friendly_error, model_options

KEY = "video_open"               # the analysis the page shows (its id)
REFRESH_S = 1.0
MAX_TRACKS_SHOWN = 6
RATES = [1, 2, 5, 10, 15, 30, "every frame"]
UPLOAD_TYPES = [e.lstrip(".") for e in VIDEO_EXTENSIONS]


# ---------------------------------------------------------------- the form

def model_choice(models, first, df_ok: bool, container=st) -> list[str]:
    """Up to three models (our CNNs, and DeepFace when its weights are here); starts on the real-time one."""
    opts = model_options(models, include_deepface=df_ok)
    default = [str(first.path)] if first is not None and str(first.path) in opts else list(opts)[:1]
    return container.multiselect("Models", list(opts), default=default, format_func=opts.get, key="video_models",
                                 max_selections=3,
                                 help="Each face is read by every model you pick. Two models: their answers are "
                                      "shown side by side on the same faces, with how often they agree.")


def rate_choice(container=st):
    v = container.select_slider("Frames analysed per second", RATES, value=10, key="video_rate",
                                help="Every analysed frame runs the face detector and the models. 10 per second "
                                     "follows faces well; 'every frame' is the most precise and the slowest.")
    return None if v == "every frame" else float(v)


def start(clip_path=None, data: bytes | None = None, name: str | None = None, settings: VideoSettings | None = None):
    """Start an analysis in the background and open it; a clip that cannot be read is said at once."""
    try:
        a = start_analysis(clip_path, settings, data=data, name=name)
    except ValueError as e:  # VideoError is one too: names the file, says why
        st.error(str(e), icon=":material/movie_off:")
        return None
    st.session_state[KEY] = a.id
    st.toast(f"Analysing {a.title}…", icon=":material/movie:")
    return a


# ---------------------------------------------------------------- past analyses

def from_webcam(a: VideoAnalysis) -> bool:
    """A live session recorded on the Webcam page (core.video.record), not a clip."""
    return a.status().get("source") == "webcam"


def analysis_label(a: VideoAnalysis) -> str:
    """Its name, when it was made and where from; "damaged" where a file keeps it from being read."""
    if a.damage():
        return f"{a.title} · damaged"
    when = a.status().get("created")
    when = time.strftime("%b %d, %H:%M", time.localtime(when)) if when else a.id
    return f"{a.title} · {when}" + (" · source: webcam" if from_webcam(a) else "")


def pick_analysis(container=st) -> VideoAnalysis | None:
    """The analysis to show: the one just started, or picked in the list (newest first)."""
    found = list_analyses()
    if not found:
        return None
    ids = [a.id for a in found]
    current = st.session_state.get(KEY)
    if current not in ids:
        current = ids[0]
    st.session_state["video_pick"] = current  # the one just started wins over the last pick

    def picked():
        st.session_state[KEY] = st.session_state["video_pick"]

    labels = {a.id: analysis_label(a) for a in found}
    chosen = container.selectbox("Analysis", ids, key="video_pick", format_func=labels.get, on_change=picked,
                                 help="Every analysis is kept in its folder (FEL_VIDEO_DIR) until you delete it.")
    st.session_state[KEY] = chosen
    return next(a for a in found if a.id == chosen)


def delete_button(a: VideoAnalysis, container=st) -> None:
    state = a.state()
    with container.popover("Delete", icon=":material/delete:", disabled=state in ACTIVE,
                           help="Cancel it first." if state in ACTIVE else "Remove this analysis and its files."):
        st.markdown(f"Delete **{html.escape(a.title)}** and everything it wrote (its folder `{a.id}`)?")
        if st.button("Delete for good", type="primary", key=f"video_del_{a.id}", icon=":material/delete_forever:"):
            try:
                a.delete()
            except RuntimeError as e:
                st.error(str(e))
                return
            st.session_state.pop(KEY, None)
            st.toast(f"Deleted {a.title}.", icon=":material/delete:")
            st.rerun()


# ---------------------------------------------------------------- live

def progress_line(p: dict) -> tuple[float, str]:
    frac = p.get("fraction")
    if frac is None:
        tot = p.get("analysed_total")
        frac = p.get("analysed", 0) / tot if tot else 0.0
    parts = [f"{p.get('time_s', 0):.1f} s of {p['duration_s']:.1f} s" if p.get("duration_s") else
             f"{p.get('time_s', 0):.1f} s", f"{p.get('analysed', 0)} frames analysed"]
    if p.get("analysed_per_s"):
        parts.append(f"{p['analysed_per_s']:.1f} frames/s")
    if p.get("eta_s") is not None:
        parts.append(f"about {fmt_duration(p['eta_s'])} left")
    parts.append(f"{p.get('tracks', 0)} face(s) so far")
    return float(min(max(frac, 0.0), 1.0)), " · ".join(parts)


def live_view(aid: str) -> None:
    """Progress with ETA and a cancel button, refreshed every second; when it ends, the page reruns and
    shows the results."""

    @st.fragment(run_every=REFRESH_S)
    def _live():
        try:
            a = VideoAnalysis.open(aid)
        except (ValueError, FileNotFoundError):
            st.rerun()
            return
        state = a.state()
        if state not in ACTIVE:
            st.rerun()
            return
        p = a.progress()
        if state == "queued" or not p:
            st.progress(0.0, text="Starting: loading the models and opening the clip…")
        else:
            frac, text = progress_line(p)
            st.progress(frac, text=text)
        stopping = a.stop_requested()
        if st.button("Stopping…" if stopping else "Cancel", key=f"video_cancel_{aid}", icon=":material/cancel:",
                     disabled=stopping, help="Stops at the next frame; everything analysed so far is kept."):
            stop_analysis(a)
            st.rerun(scope="fragment")

    _live()


# ---------------------------------------------------------------- results

def header(a: VideoAnalysis, state: str) -> None:
    s, status = a.settings(), a.status()
    clip, cfg = s.get("clip") or {}, s.get("settings") or {}
    items = []
    if clip.get("width"):
        items.append(("clip", f"{clip['width']}×{clip['height']}"
                      + (f", {clip['fps']:.0f} fps" if clip.get("fps") else "")
                      + (f", {fmt_duration(clip['duration_s'])}" if clip.get("duration_s") else "")))
    if from_webcam(a):
        items.insert(0, ("source", "webcam"))
        if status.get("dropped"):
            items.append(("left out", f"{status['dropped']} frames (the writer was behind)"))
    items.append(("rate", "every frame" if not cfg.get("fps") else f"{cfg['fps']:g} frames/s"))
    if s.get("models"):
        items.append(("models", ", ".join(str(m["name"]) for m in s["models"])))
    if s.get("detector"):
        items.append(("detector", s["detector"]))
    if status.get("elapsed_s") is not None and not from_webcam(a):
        items.append(("took", f"{fmt_duration(status['elapsed_s'])} ({status.get('speed') or 0:.1f}× real time)"))
    kv = " · ".join(f"{k} <b>{html.escape(str(v))}</b>" for k, v in items)
    st.markdown(f"<div class='fel-run-head'><span class='fel-run-title'>{html.escape(a.title)}</span>"
                f"{state_pill(state)}</div><div class='fel-kv'>{kv}</div>", unsafe_allow_html=True)


def state_messages(a: VideoAnalysis, state: str) -> None:
    status = a.status()
    if state == "failed":
        st.error(f"**The analysis failed.** {status.get('error') or a.tail_log(8) or 'No reason was recorded.'}",
                 icon=":material/error:")
    elif state == "interrupted" and from_webcam(a):
        why = status.get("reason") or "the app stopped while it recorded"
        st.warning(f"**Interrupted:** the recording ended without *Stop recording* ({why}), at "
                   f"{a.progress().get('time_s', 0):.1f} s. What it recorded until then is shown below.",
                   icon=":material/warning:")
    elif state == "interrupted":
        p = a.progress()
        st.warning(f"**Interrupted:** its process ended without finishing, at {p.get('time_s', 0):.1f} s. What it "
                   "analysed until then is shown below.", icon=":material/warning:")
    elif state == "stopped":
        st.info(f"**Stopped** at {status.get('stopped_at_s') or 0:.1f} s (frame {status.get('stopped_at_frame', 0)}): "
                "the results below cover the clip up to there.", icon=":material/pause_circle:")
    if status.get("warning"):
        st.warning(status["warning"], icon=":material/warning:")
    note = a.settings().get("detector_note")
    if note:
        st.caption(note)
    for line in (size_note(a), small_faces_note(status)):
        if line:
            st.info(line, icon=":material/info:")


def _area(size: str) -> int:
    w, _, h = size.partition("x")
    return int(w) * int(h) if w.isdigit() and h.isdigit() else 0


def size_note(a: VideoAnalysis) -> str | None:
    """A recording whose frames came smaller than it is kept at: how many, and why (#42: 320×240 without a word)."""
    sizes, clip = a.status().get("frame_sizes") or {}, a.settings().get("clip") or {}
    kept = (clip.get("width") or 0) * (clip.get("height") or 0)
    small = {k: n for k, n in sizes.items() if 0 < _area(k) < kept}
    if not small:
        return None
    which = ", ".join(k.replace("x", "×") for k in sorted(small, key=_area))
    return (f"The browser sent {which} frames for {sum(small.values())} of the {sum(sizes.values())} frames: browsers "
            "lower the resolution when their CPU or the network falls short. They are scaled up to the recording's "
            f"{clip['width']}×{clip['height']}.")


def small_faces_note(status: dict) -> str | None:
    """Faces the analysis saw but left out as smaller than *Smallest face*, and the setting that keeps them."""
    small = status.get("small_faces") or {}
    if not small.get("count"):
        return None
    n = small["count"]
    return (f"{n} face{'s' if n > 1 else ''} smaller than *Smallest face* ({small['min_face']:.0%} of the frame) "
            f"{'were' if n > 1 else 'was'} left out (seen at {small['at_s']:.1f} s). To follow "
            f"{'them' if n > 1 else 'it'}, analyse again with *Smallest face* at {small['keeps_them']:.0%} or less.")


def _data_uri(path) -> str | None:
    try:
        return "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode()
    except OSError:
        return None


def summary_frame(a: VideoAnalysis, tracks: list[dict], models: list[dict]):
    import pandas as pd

    rows = []
    for t in tracks:  # shares as whole percents (ProgressColumn's "percent" writes 98.67% beside 58%)
        thumb = a.thumb(t["track"])
        r = {"face": _data_uri(thumb) if thumb else None, "track": f"#{t['track']}", "first (s)": t["first_s"],
             "last (s)": t["last_s"], "on screen (s)": t["seen_s"]}
        for i, m in enumerate(t["models"]):
            tag = "" if len(t["models"]) == 1 else f" · {i + 1}"
            r[f"emotion{tag}"] = m.get("emotion")
            r[f"share{tag}"] = _percent((m.get("share") or {}).get(m.get("emotion")))
            r[f"mean P(stress){tag}"] = m.get("mean_p_stress")
            r[f"peak P(stress){tag}"] = m.get("peak_p_stress")
            r[f"longest stress (s){tag}"] = m.get("longest_stress_s")
        if t.get("agreement"):
            r["agreement"] = _percent(t["agreement"].get("share"))
        rows.append(r)
    return pd.DataFrame(rows)


def _percent(share) -> int | None:
    return None if share is None else int(round(100 * float(share)))


def summary_table(a: VideoAnalysis, tracks: list[dict], models: list[dict]) -> None:
    df = summary_frame(a, tracks, models)
    config = {"face": st.column_config.ImageColumn("face", width="small")}
    for c in df.columns:
        if c.startswith("share") or c == "agreement":
            config[c] = st.column_config.ProgressColumn(c, format="%d%%", min_value=0, max_value=100)
        elif "P(stress)" in c:
            config[c] = st.column_config.NumberColumn(c, format="%.2f")
        elif c.endswith("(s)") or "(s) ·" in c:  # times to a tenth of a second, as the timelines say them
            config[c] = st.column_config.NumberColumn(c, format="%.1f")
    st.dataframe(df, hide_index=True, width="stretch", column_config=config, key=f"video_tracks_{a.id}",
                 row_height=64)


def track_sections(a: VideoAnalysis, rows: list[dict], tracks: list[dict], models: list[dict]) -> None:
    """A timeline per face (per model, side by side), the longest-seen faces first."""
    shown = sorted(tracks, key=lambda t: -t["seen_s"])[:MAX_TRACKS_SHOWN]
    if len(tracks) > len(shown):
        st.caption(f"{len(tracks)} faces: the {len(shown)} seen longest have their timeline here; the table has all.")
    basis = agreement_basis(models)
    for t in sorted(shown, key=lambda t: t["track"]):
        st.markdown(f"**Face #{t['track']}** · on screen {t['first_s']:.1f}–{t['last_s']:.1f} s")
        thumb_col, *cols = st.columns([1] + [6] * min(len(models), 2))
        thumb = a.thumb(t["track"])  # None: missing, or not a picture (said above the results)
        if thumb is not None:
            thumb_col.image(str(thumb), width="stretch")
        for i, (col, m) in enumerate(zip(cols, models)):
            col.plotly_chart(vc.timeline_figure(rows, t["track"], m, i), width="stretch",
                             key=f"video_tl_{a.id}_{t['track']}_{i}")
        if basis:
            st.plotly_chart(vc.agreement_figure(rows, t["track"], models, basis), width="stretch",
                            key=f"video_agree_{a.id}_{t['track']}")


def annotated_player(a: VideoAnalysis) -> None:
    """The annotated copy, played in the page where the browser can play it (H.264 in MP4)."""
    ann = a.annotated_path()
    if ann is None:
        return
    info = a.status().get("annotated") or {}
    st.subheader("Annotated video")
    if ann.suffix == ".mp4" and info.get("codec", "libx264") == "libx264":
        st.video(str(ann))
        if info.get("width"):
            st.caption(f"{info['width']}×{info['height']}, every face boxed and labelled as the analysis saw it.")
    else:
        st.caption(f"The annotated copy is {info.get('format') or ann.suffix[1:].upper()}, which browsers cannot play: "
                   "download it below and open it in a video player (VLC plays it).")


def scrubber(a: VideoAnalysis, rows: list[dict], models: list[dict]) -> None:
    """The frame at a chosen time, with the labels the analysis gave it."""
    clip = a.clip_path() or a.annotated_path()
    if clip is None or not rows:
        st.caption("No video was kept of this recording (tick *Save the annotated video* on the Webcam page to keep "
                   "one)." if from_webcam(a) else "The clip is no longer where it was read from: no frames to show.")
        return
    last = float(rows[-1]["time_s"])
    c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
    t = c1.slider("Time (s)", 0.0, max(last, 0.01), 0.0, step=0.1, key=f"video_time_{a.id}", format="%.1f")
    model = 0
    if len(models) > 1:
        model = c2.selectbox("Labels of", list(range(len(models))), format_func=lambda i: models[i]["name"],
                             key=f"video_scrub_model_{a.id}")
    try:
        image, shown_t, row = annotated_frame(clip, rows, t, model=model if clip == a.clip_path() else 0)
    except ValueError as e:
        st.warning(friendly_error(e))
        return
    img_col, faces_col = st.columns([3, 2], gap="medium")
    img_col.image(image, caption=f"{shown_t:.2f} s · labels of the analysed frame at "
                                 f"{row['time_s'] if row else 0:.2f} s", width="stretch")
    faces = (row or {}).get("faces") or []
    if not faces:
        faces_col.info("No face in this frame.", icon=":material/face:")
        return
    faces_col.dataframe([{"face": f"#{f['track']}", **{str(models[i]["name"]) if len(models) > 1 else "emotion":
                          f"{m['emotion']} {m['confidence']:.0%}" for i, m in enumerate(f["models"])},
                          "P(stress)": f["models"][0].get("p_stress")} for f in faces],
                        hide_index=True, width="stretch", key=f"video_scrub_faces_{a.id}",
                        column_config={"P(stress)": st.column_config.NumberColumn(format="%.2f")})


def downloads(a: VideoAnalysis, rows: list[dict], tracks: list[dict], models: list[dict]) -> None:
    import pandas as pd

    stem = a.title.rsplit(".", 1)[0]
    c1, c2, c3 = st.columns(3)
    c1.download_button("Per-frame table (CSV)", pd.DataFrame(table_rows(rows, models)).to_csv(index=False).encode(),
                       f"{stem}-emotions.csv", "text/csv", icon=":material/download:", key=f"video_csv_{a.id}")
    doc = {"settings": a.settings(), "status": a.status(), "tracks": tracks, "frames": rows}
    c2.download_button("Everything (JSON)", to_json(doc).encode(), f"{stem}-analysis.json", "application/json",
                       icon=":material/download:", key=f"video_json_{a.id}")
    ann = a.annotated_path()
    if ann is not None:
        mime = "video/mp4" if ann.suffix == ".mp4" else "video/x-msvideo"
        c3.download_button(f"Annotated video ({ann.suffix[1:].upper()})", ann.read_bytes(), f"{stem}-annotated{ann.suffix}",
                           mime, icon=":material/movie:", key=f"video_ann_{a.id}")
    else:
        c3.caption("No annotated video (tick *Save the annotated video* before recording to get one)." if from_webcam(a)
                   else "No annotated copy (tick *Annotated copy* before analysing to get one).")


def results(a: VideoAnalysis, state: str) -> None:
    (rows, bad_line), (tracks, bad_tracks) = a.frames_checked(), a.tracks_checked()
    models = a.models()
    if bad_line or bad_tracks or state in ("interrupted", "failed"):  # the frames' own summary: tracks.json may
        tracks = summarise_tracks(rows, models)  # be older than the last frame, unwritten, or damaged
    bad_thumbs = [f"thumbs/{t['track']}.jpg" for t in tracks
                  if a.thumb_path(t["track"]).is_file() and a.thumb(t["track"]) is None]
    damaged = [w for w in (bad_line, bad_tracks) if w] + ([f"{', '.join(bad_thumbs)}: not a picture"] if bad_thumbs
                                                          else [])
    if damaged:
        st.warning("**A file of this analysis is damaged:** " + "; ".join(damaged) + ". "
                   + ("Only the frames before that line are shown. " if bad_line else "")
                   + "The other analyses are not affected.", icon=":material/broken_image:")
    if not rows:
        if state not in ("failed",):
            st.info("No frame was analysed.", icon=":material/movie:")
        return
    if not tracks:
        st.info("No face was found in this clip. Faces should be frontal, lit and not too small (see *Smallest "
                "face* in the sidebar).", icon=":material/face:")
        downloads(a, rows, tracks, models)
        return
    c = st.columns(4)
    c[0].metric("Faces followed", len(tracks))
    c[1].metric("Frames recorded" if from_webcam(a) else "Frames analysed", len(rows))
    longest = max((m.get("longest_stress_s") or 0.0 for t in tracks for m in t["models"][:1]), default=0.0)
    c[2].metric("Longest stress stretch", f"{longest:.1f} s")
    if from_webcam(a):
        c[3].metric("Recorded", fmt_duration(rows[-1]["time_s"]))
    else:
        span = a.status().get("speed")
        c[3].metric("Speed", f"{span:.1f}× real time" if span else "–")
    st.subheader("Faces")
    summary_table(a, tracks, models)
    if len(tracks) > 1:
        st.plotly_chart(vc.tracks_overview(tracks), width="stretch", key=f"video_overview_{a.id}")
    st.subheader("Timelines")
    track_sections(a, rows, tracks, models)
    annotated_player(a)
    st.subheader("Frame by frame")
    scrubber(a, rows, models)
    st.subheader("Downloads")
    downloads(a, rows, tracks, models)


def show(a: VideoAnalysis) -> None:
    damage = a.damage()
    if damage:  # nothing of it can be read as it is: said, like a damaged run; Delete still works
        st.markdown(f"<div class='fel-run-head'><span class='fel-run-title'>{html.escape(a.title)}</span>"
                    f"{state_pill('damaged')}</div>", unsafe_allow_html=True)
        st.error(f"**The folder of this analysis is damaged:** {damage}. The other analyses are not affected; mend "
                 f"the file or delete the analysis. Folder: `{a.dir}`", icon=":material/broken_image:")
        return
    state = a.state()
    header(a, state)
    if state in ACTIVE:
        live_view(a.id)
        return
    state_messages(a, state)
    results(a, state)


def settings_from_sidebar(models: list[str], detector: str | None, fps, annotate: bool, mirror: bool,
                          min_face: float, max_minutes: float, tilted: bool = False) -> VideoSettings:
    tta = "flip" if mirror and any(m != DEEPFACE for m in models) else None
    return VideoSettings(models=models, detector=detector, fps=fps, annotate=annotate, tta=tta,
                         min_face=min_face, max_minutes=max_minutes, tilted=tilted)
