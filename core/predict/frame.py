"""What happens to a frame, for the webcam, the video pipeline and the CLI alike: find the faces (every N
frames, and at once where a box no longer shows what it did), follow them between detections (IoU tracks,
each shown only once detections confirmed it: core.predict.tracking), crop them (aligned where the detector gives
landmarks), run ONE batched forward pass per model over all faces, smooth each face's probabilities over
the last frames, summarise them, and draw the labels.

`FramePipeline` is that engine, state and all (the tracks); `LiveAnalyser` wraps it for a live stream: the
Webcam page hands `LiveAnalyser.process` to streamlit-webrtc as its frame callback (it runs on the WebRTC
worker thread, as in the streamlit-webrtc examples: a small callback, state outside it) and polls
`snapshot()` from the script thread. No Streamlit here.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from ..settings import live_inline, live_threads
from . import draw
from .base import checked_probs
from .boxes import suppress_duplicates
from .crops import FACE_MARGIN, crop_faces, eye_angle
from .detectors.base import can_follow, can_refine
from .newest import NewestFrameWorker
from .rate import Rate
from .summary import face_summary
from .tracking import FaceTracker, box_look, looks_changed, smooth

_local = threading.local()


def _one_thread_here() -> None:
    """Small batches (a few 48x48 faces) run fastest on one torch thread, and much faster than on two
    when the CPU is busy. torch's thread count is per calling thread here: only the stream's thread
    changes, the rest of the app (batch evaluation) keeps its setting."""
    if getattr(_local, "done", False):
        return
    _local.done = True
    try:
        import torch

        torch.set_num_threads(live_threads())
    except Exception:  # noqa: BLE001 - a speed setting only
        pass


@dataclass
class LiveSettings:
    detect_every: int = 3       # run the face detector on every Nth frame; boxes are reused in between
    full_search_every: int = 5  # of those detections, every Nth searches the whole frame; the others look for
    #                             each tracked face near where it was (detectors with `follow`: YuNet); 1: always whole
    smoothing: int = 5          # average probabilities over about the last K frames (1 = no smoothing)
    show_stress: bool = True    # the stress marker under each face
    margin: float = FACE_MARGIN  # crop margin around each face box (FER2013's framing)
    align: bool = True          # rotate faces upright on their eye line (detectors with landmarks)
    show_landmarks: bool = False
    confirm: int = 2            # detections a face needs before its box is shown (1: at once)
    min_score: float = 0.5      # the detector's score a detection needs to start or confirm a track
    recheck: bool = True        # detect again at once where a box no longer looks as it did when found, and
    #                             hide a missed face whose box changed (False: boxes are reused blindly)


def face_label(summary: dict | None, face_id: int, show_stress: bool = True) -> tuple[str, str | None, str | None]:
    """(tag above the box, tag below it or None, the class whose colour the lower tag takes) for one face.
    A stress model's own answer is the verdict: it gets no second stress tag."""
    if not summary or not summary.get("emotion"):
        return f"#{face_id}", None, None
    emotion = summary["emotion"]
    stress_model = emotion in ("stress", "no_stress")
    shown = "STRESS" if emotion == "stress" else emotion.replace("_", " ")
    sub = sub_cls = None
    if show_stress and summary.get("stress") and not stress_model:
        stressed = summary["stress"] == "stress"
        sub = f"{'STRESS' if stressed else 'no stress'} {summary['stress_confidence']:.0%}"
        sub_cls = "stress" if stressed else "no_stress"
    return f"#{face_id} {shown} {summary['confidence']:.0%}", sub, sub_cls


def scale_box(box, sx: float, sy: float) -> list[float]:
    x, y, w, h = box
    return [x * sx, y * sy, w * sx, h * sy]


def scale_faces(faces: list[dict], sx: float, sy: float) -> list[dict]:
    """Faces (as `FramePipeline.step` gives them) with their boxes and landmarks in pixels `sx`, `sy` times as
    large: for a frame of another size than the one analysed."""
    if sx == 1 and sy == 1:
        return faces
    return [{**f, "box": scale_box(f["box"], sx, sy),
             "landmarks": [(px * sx, py * sy) for px, py in f["landmarks"]] if f.get("landmarks") else None}
            for f in faces]


class FramePipeline:
    """Detector + tracker + crops + predictors + smoothing for a stream of frames (one per call to `step`).

    A detector whose landmarks need refining to follow a tilt (YuNet: `refine_landmarks`) detects with its own
    landmarks only, and each track's tilt is measured on refined landmarks when it appears and every
    ANGLE_EVERY detections after: a face turns slowly, and refining every face of every detection would cost
    more than the detection itself.

    A detector that can `follow` a face (YuNet) searches the whole frame on every `full_search_every`-th
    detection only (and whenever there is no track, or a track was lost); in between it looks for each
    tracked face on a small view around it, turned upright by the track's tilt: a detection frame costs a
    fraction of a full search, and a tilted face is searched upright. A new face shows up at the next full
    search (every 15 frames, half a second at 30 frames/s, with the Webcam page's defaults)."""

    ANGLE_EVERY = 10

    def __init__(self, detector=None, predictors=(), settings: LiveSettings | None = None):
        self.detector = detector
        self.predictors = list(predictors)
        self.settings = settings or LiveSettings()
        self.tracker = FaceTracker()
        self.frames = 0
        self._followed = 0  # detections since the last full search
        self._size: tuple[int, int] | None = None  # the last frame's (width, height)

    def set_predictors(self, predictors) -> None:
        """Other models, other classes: every track starts smoothing afresh."""
        self.predictors = list(predictors)
        for t in self.tracker.tracks:
            t.probs = {}

    def step(self, image: np.ndarray, color: str = "rgb", detect: bool | None = None) -> list[dict]:
        """One frame: the faces on it, each {id, box, landmarks, score, held (missed by this detection, kept by
        the tracker's grace), models: [{name, classes, probs, **summary}]}, with the first model's summary and
        probabilities also at the top level."""
        s, tracker = self.settings, self.tracker
        tracker.confirm, tracker.min_score = max(1, int(s.confirm)), float(s.min_score)
        self._follow_size(image)
        # a shown box that no longer looks as it did (the face went, the scene was cut): search the whole frame now
        changed = detect is None and s.recheck and self._looks_changed(image)
        if detect is None:
            detect = self.frames % max(1, s.detect_every) == 0 or not tracker.tracks or tracker.pending() or changed
        self.frames += 1
        refine = self.settings.align and can_refine(self.detector)
        if self.detector is not None and detect:
            if changed or not self._follow(image, color):
                self._followed = 0
                found = self.detector.detect(image, color=color, refine=0) if refine else \
                    self.detector.detect(image, color=color)
                tracker.update(found)
            if s.recheck:
                self._look(image)
            if refine:
                self._measure_angles(image, color)
        tracks = tracker.active()
        if not tracks:
            return []
        faces = [{"id": t.id, "box": list(t.box), "landmarks": t.landmarks, "score": t.score, "held": t.missed > 0,
                  "models": [],
                  "emotion": None, "confidence": float("nan"), "stress": None, "stress_confidence": float("nan"),
                  "p_stress": float("nan"), "probs": []} for t in tracks]
        if not self.predictors:  # no model: the faces only
            return faces
        crops = crop_faces(image, tracks, margin=s.margin, color=color, align=s.align)
        for m, predictor in enumerate(self.predictors):
            name = getattr(predictor, "name", f"model {m + 1}")
            probs = checked_probs(predictor.predict(list(crops)), len(crops), predictor.classes, name)  # one pass
            classes = list(predictor.classes)
            for t, face, p in zip(tracks, faces, probs):
                q = t.probs[m] = smooth(t.probs.get(m), p, s.smoothing)
                face["models"].append({"name": name, "classes": classes,
                                       "probs": [float(v) for v in q], **face_summary(q, classes)})
        for face in faces:
            first = face["models"][0]
            face.update({k: first[k] for k in ("emotion", "confidence", "stress", "stress_confidence", "p_stress",
                                               "probs")})
        return faces

    def _follow(self, image, color: str) -> bool:
        """Each track looked for near where it was (see the class); False where the whole frame is to be
        searched instead: this detector cannot follow, it is time for a full search, there is no track, or
        there are so many that following them all would cost more than a full search."""
        tracks = self.tracker.tracks  # a turned search declares its detector's capabilities (YuNet's)
        if not can_follow(self.detector) or not tracks or any(t.missed for t in tracks) or \
                self._followed + 1 >= max(1, self.settings.full_search_every) or \
                len(tracks) > self.detector.follow_at_most(image):
            self._followed = 0
            return False
        # a face not found again leaves its track missed: the next detection searches the whole frame for it
        found = [self.detector.follow(image, t, color, angle=t.angle) for t in tracks]
        # a search near a track finds that track or nothing: it starts none (a view zoomed on a jacket is no face)
        self.tracker.update(suppress_duplicates([f for f in found if f is not None]), start=False)
        self._followed += 1
        return True

    def _follow_size(self, image) -> None:
        """A stream whose size changes (a browser lowers or raises its resolution as its CPU and network allow):
        the tracks' boxes follow, so each face keeps its track and its box stays on it."""
        size = (int(image.shape[1]), int(image.shape[0]))
        if self._size is not None and size != self._size:
            sx, sy = size[0] / self._size[0], size[1] / self._size[1]
            for t in self.tracker.tracks:
                t.box = tuple(int(round(v)) for v in scale_box(t.box, sx, sy))
                t.landmarks = tuple((int(round(x * sx)), int(round(y * sy))) for x, y in t.landmarks) \
                    if t.landmarks else t.landmarks
        self._size = size

    def _looks_changed(self, image) -> bool:
        """Whether a shown box no longer shows what it showed when a detection last found its face."""
        return any(t.look is not None and looks_changed(t.look, box_look(image, t.box)) for t in self.tracker.active())

    def _look(self, image) -> None:
        """After a detection: each found track's look, kept; each missed one's compared with it (gone: hidden)."""
        for t in self.tracker.tracks:
            if not t.missed:
                t.look = box_look(image, t.box)
            elif not t.gone:
                t.gone = looks_changed(t.look, box_look(image, t.box))

    def _measure_angles(self, image, color: str) -> None:
        """The tilt of new tracks, and of the others every ANGLE_EVERY detections, on refined landmarks."""
        for t in self.tracker.tracks:
            if t.missed:
                continue
            if t.angle is None or t.angle_age >= self.ANGLE_EVERY:
                refined = self.detector.refine_landmarks(image, t, color)
                t.landmarks, t.angle, t.angle_age = refined.landmarks, eye_angle(refined.landmarks), 0
            else:
                t.angle_age += 1

    def draw(self, out: np.ndarray, faces: list[dict], color: str = "rgb") -> np.ndarray:
        """The faces' boxes and labels (and landmarks, if asked) on `out`, in place."""
        for f in faces:
            label, sub, sub_cls = face_label(f if f.get("emotion") else None, f["id"], self.settings.show_stress)
            draw.draw_face(out, f["box"], label, draw.class_color(f.get("emotion")), color, sub,
                           draw.class_color(sub_cls) if sub_cls else None)
            if self.settings.show_landmarks and f.get("landmarks"):
                draw.draw_landmarks(out, f["landmarks"], color)
        return out

    def reset(self) -> None:
        self.tracker.reset()
        self.frames = 0
        self._followed = 0
        self._size = None


class LiveAnalyser:
    """Holds the frame pipeline (model, detector, face tracks) for one webcam stream.

    Showing and analysing are apart (core.predict.newest): `process()`, on the WebRTC thread, hands the
    frame to a worker that analyses the newest frame when it is free, and returns at once with the latest
    answer drawn on it, so the stream keeps the camera's rate however slow the model is; the labels follow
    at the rate the analysis reaches (`analysis_fps`), `label_lag` frames behind. `inline=True` (or
    FEL_LIVE_INLINE=1) analyses every frame on the stream's thread instead: labels exactly in step, the
    stream as slow as the analysis (the path before; the bench compares both).

    `configure()` may be called at any time from the script thread (the sidebar changed). A failing model
    never kills the stream: the frame comes back with the error written on it and `snapshot()["error"]`
    says what happened.

    `record_into(sink)` hands every shown frame, with the labels it shows, to a sink with `feed(image, faces,
    time_s, color)` (core.video.record.LiveRecorder): the record is what the stream showed, with no second pass.
    """

    def __init__(self, predictor=None, detector=None, settings: LiveSettings | None = None,
                 inline: bool | None = None):
        self._lock = threading.Lock()   # the pipeline: an analysis against configure()
        self._state = threading.Lock()  # the latest answer and the counters: held for moments only
        self.pipeline = FramePipeline(detector, [predictor] if predictor is not None else [], settings)
        self.inline = live_inline() if inline is None else bool(inline)
        self._worker = NewestFrameWorker(self._analyse)
        self.frames = 0
        self.frames_with_faces = 0
        self.max_faces = 0
        self.fps = 0.0               # frames shown per second
        self.latency_ms = 0.0        # the stream's own time per shown frame
        self.analyses = 0
        self.analysis_fps = 0.0      # analyses (label updates) per second
        self.analysis_ms = 0.0       # one analysis: detection, crops, the model
        self.label_lag = 0.0         # shown frames between the analysed frame and the one its labels are drawn on
        self.error: str | None = None
        self._last_shown: float | None = None
        self._shown_rate = Rate()    # frames shown, by the clock and by their own timestamps (core.predict.rate)
        self._analysis_rate = Rate()
        self._latencies: deque = deque(maxlen=30)
        self._analysis_ms: deque = deque(maxlen=30)
        self._lags: deque = deque(maxlen=30)
        self.frame_size: tuple[int, int] | None = None  # (width, height) of the last frame shown: what the browser sends
        self._faces: list[dict] = []
        self._faces_looks: dict = {}     # face id -> what its box showed on the analysed frame (tracking.box_look)
        self._faces_size = None          # the analysed frame's (width, height)
        self._faces_frame = 0        # the shown-frame number the latest answer was computed on
        self._sink = None
        self.on_frame = None  # called with the analyser after each frame, outside its lock (a test's counters)

    @property
    def predictor(self):
        return self.pipeline.predictors[0] if self.pipeline.predictors else None

    @property
    def settings(self) -> LiveSettings:
        return self.pipeline.settings

    # ------------------------------------------------------------ from the script thread
    def configure(self, predictor=..., detector=None, settings: LiveSettings | None = None) -> None:
        """Change the model (None: faces only), the detector or the settings; omitted ones stay."""
        with self._lock:
            if predictor is not ... and predictor is not self.predictor:
                self.pipeline.set_predictors([predictor] if predictor is not None else [])
                with self._state:
                    self.error = None
            if detector is not None:
                self.pipeline.detector = detector
            if settings is not None:
                self.pipeline.settings = settings

    def record_into(self, sink) -> None:
        """Start (a sink) or stop (None) handing the shown frames on."""
        with self._state:
            self._sink = sink

    @property
    def recording(self):
        return self._sink

    def snapshot(self) -> dict:
        """What the page shows beside the video: counters and, per face, the smoothed probabilities."""
        p = self.predictor
        with self._state:
            return {
                "frames": self.frames, "frames_with_faces": self.frames_with_faces, "max_faces": self.max_faces,
                "fps": round(self.fps, 1), "latency_ms": round(self.latency_ms, 1), "error": self.error,
                "analyses": self.analyses, "analysis_fps": round(self.analysis_fps, 1),
                "analysis_ms": round(self.analysis_ms, 1), "label_lag": round(self.label_lag, 2),
                "inline": self.inline, "size": list(self.frame_size) if self.frame_size else None,
                "model": getattr(p, "name", None), "classes": list(getattr(p, "classes", ()) or ()),
                "faces": [{k: v for k, v in f.items() if k != "models"} for f in self._faces],
            }

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Until the frame handed over last has been analysed (tests; a script driving the analyser)."""
        return self._worker.wait_idle(timeout)

    # ------------------------------------------------------------ from the WebRTC thread
    def process(self, image: np.ndarray, color: str = "bgr", time_s: float | None = None) -> np.ndarray:
        """Show one frame: hand it to the analysis and return it (same size, same colour order) with the
        latest labels drawn. `time_s`: the frame's own timestamp (what a recording times it by)."""
        t0 = time.perf_counter()
        with self._state:
            number = self.frames
        if self.inline:
            self._analyse((image, color, number, time_s))
        else:
            self._worker.submit((image, color, number, time_s))
        with self._state:
            faces, looks, size, error, sink = self._faces, self._faces_looks, self._faces_size, self.error, self._sink
            lag = number - self._faces_frame
        faces = self._still_there(image, faces, looks, size)
        out = image.copy()  # the analysis may still be reading `image`
        if sink is not None:
            sink.feed(image, faces, time_s, color)
        self.pipeline.draw(out, faces, color)
        with self._state:
            self.frame_size = (int(image.shape[1]), int(image.shape[0]))
            self._count(t0, len(faces), lag, time_s)
            fps, labels = self.fps, self.analysis_fps
        draw.banner(out, f"{fps:4.1f} fps  labels {labels:4.1f}/s  faces: {len(faces)}", color=color)
        if error:
            draw.draw_label(out, error[:80], 4, out.shape[0] - 4, draw.STRESS_COLOR, color,
                            font_scale=0.45 * draw.text_scale(out))
        if self.on_frame is not None:
            self.on_frame(self)
        return out

    def _still_there(self, image, faces: list[dict], looks: dict, size) -> list[dict]:
        """The latest answer's faces for the frame shown now, which may be newer than the one analysed (and of
        another size): boxes in its pixels, and only those whose box still shows what it showed then. Where the
        picture was cut, or the face went, in the frames since, no box is left on the empty place."""
        h, w = image.shape[:2]
        if size and size != (w, h):
            faces = scale_faces(faces, w / size[0], h / size[1])
        if not self.settings.recheck or not looks:
            return faces
        return [f for f in faces if not looks_changed(looks.get(f["id"]), box_look(image, f["box"]))]

    def _analyse(self, item) -> None:
        """One analysis (on the worker's thread, or the stream's when inline): the faces and their labels."""
        image, color, number, time_s = item
        _one_thread_here()
        t0 = time.perf_counter()
        with self._lock:
            try:
                faces, error = self.pipeline.step(image, color), None
            except Exception as e:  # noqa: BLE001 - a live stream must survive anything a model does
                faces, error = [], f"{type(e).__name__}: {e}"
            looks = {f["id"]: box_look(image, f["box"]) for f in faces} if self.settings.recheck else {}
        now = time.perf_counter()
        with self._state:
            self._faces, self.error, self._faces_frame = faces, error, number
            self._faces_looks, self._faces_size = looks, (int(image.shape[1]), int(image.shape[0]))
            self.analyses += 1
            self._analysis_ms.append((now - t0) * 1000)
            self.analysis_fps = self._analysis_rate.add(now, time_s)
            self.analysis_ms = sum(self._analysis_ms) / len(self._analysis_ms)

    def _count(self, t0: float, n_faces: int, lag: int, time_s: float | None = None) -> None:
        """Frames/s (core.predict.rate: never faster than the frames' own timestamps say they came) and the
        per-frame time over the last ~30 frames (robust to the slow first frame)."""
        now = time.perf_counter()
        if self._last_shown is not None and now - self._last_shown > 2.0:  # the stream was stopped: count anew
            self._shown_rate.clear()
            self._analysis_rate.clear()
            self._latencies.clear()
            self._lags.clear()
        self._last_shown = now
        self._latencies.append((now - t0) * 1000)
        self._lags.append(lag)
        self.fps = self._shown_rate.add(now, time_s)
        self.latency_ms = sum(self._latencies) / len(self._latencies)
        self.label_lag = sum(self._lags) / len(self._lags)
        self.frames += 1
        if n_faces:
            self.frames_with_faces += 1
            self.max_faces = max(self.max_faces, n_faces)
