"""A live session recorded: the webcam's labelled frames written to an analysis folder of the same kind as a
clip's (core.video.store: settings, status, progress, frames.jsonl, tracks.json, thumbs, an optional
annotated copy), so the Video page reads, summarises and deletes it like any other analysis.

The frames come from the `LiveAnalyser` that labels them (core.predict.frame): no second detection or
classification. `feed` runs on the WebRTC thread, inside the frame callback, and only puts the frame's
image, faces and time on a bounded queue (no copy, no file): a writer thread does the rest. When the writer
falls behind and the queue is full, the frame is left out of the record and counted (`dropped`), never
waited for: the video must not stall for the record's sake.

Times are the frames' own (their presentation timestamps, counted from the first frame recorded), so a
stream that slows down is weighed right. A recording ends as `finished` on `stop()`; one that gets no frame
for `idle_s` (the tab closed, the camera was lost) closes itself as `interrupted`; one whose process dies
stays `running` on disk with a dead owner, which `VideoAnalysis.state()` reads as interrupted, and every
line written before the kill is still there (frames.jsonl is flushed line by line). One that cannot write (a full
disk) ends `failed` with the reason, keeps what it wrote, and says what it could not save; status.json is
overwritten in place when a full disk refuses even its temp file (core.records).

Memory stays flat however long it records: each row is written and added to the running summary
(core.video.summary.Summariser), and only the last minute is kept, for the page's live timeline.
"""
from __future__ import annotations

import errno
import queue
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass

import numpy as np

from ..predict.frame import FramePipeline, LiveSettings, scale_faces
from .analyse import PROGRESS_EVERY_S, Thumbnails, face_record, model_meta
from .store import LineWriter, VideoAnalysis
from .summary import Summariser

SOURCE = "webcam"
QUEUE_FRAMES = 32       # about a second of video: ~30 MB of 640x480 frames at most
IDLE_S = 15.0           # no frame for this long: the stream is gone, the recording closes as interrupted
RECENT_S = 60.0         # what `recent()` keeps for the page's live timeline
TRACKS_EVERY_S = 10.0   # tracks.json rewritten from the running summary: a writer that shares the CPU with the
#                         stream need not do it as often as a clip's analysis (2 s)


@dataclass
class _Frame:
    index: int
    time_s: float
    image: np.ndarray
    faces: list
    color: str


class LiveRecorder:
    """Frames in from a live stream (`feed`), an analysis folder out. Start one with `LiveRecorder.start`."""

    def __init__(self, analysis: VideoAnalysis, models: list[dict], live: LiveSettings | None = None,
                 annotate: bool = False, idle_s: float = IDLE_S, queue_frames: int = QUEUE_FRAMES,
                 size: tuple[int, int] | None = None):
        self.analysis = analysis
        self.models = models
        self.annotate = bool(annotate)
        self.idle_s = float(idle_s)
        self.fed = 0          # frames the stream offered while recording
        self.dropped = 0      # of those, left out because the writer was behind
        self.written = 0      # rows in frames.jsonl
        self.state = "running"
        self.reason: str | None = None
        self.started = time.time()
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, int(queue_frames)))
        self._closing = False
        self._t0: float | None = None   # the first frame's own time
        self._last_t = 0.0
        self._summary = Summariser(models)  # running sums: no row is kept
        self._recent: deque = deque()
        self._recent_lock = threading.Lock()
        self._drawer = FramePipeline(settings=live or LiveSettings())  # draws the annotated copy's labels
        self._asked = tuple(size) if size else None  # the size asked of the camera (the page's constraint)
        self.size: tuple[int, int] | None = None      # the recording's: every box and the copy are in its pixels
        self.sizes: dict[str, int] = {}               # "WxH" -> frames that came at that size
        self._thread = threading.Thread(target=self._write_loop, name=f"recorder-{analysis.id}", daemon=True)
        self._thread.start()

    @classmethod
    def start(cls, predictors=(), detector=None, live: LiveSettings | None = None, annotate: bool = False,
              root=None, sources=None, name: str | None = None, **kw) -> "LiveRecorder":
        """A new recording in the video folder (or `root`), running at once. `predictors` and `detector`
        are the live analyser's (only their names and classes are recorded); `sources`: where each model
        came from; `size`: the (width, height) asked of the camera (see `_first_frame`)."""
        name = name or time.strftime("Webcam %Y-%m-%d %H:%M:%S")
        a = VideoAnalysis.create("webcam", root, source=SOURCE)
        sources = list(sources or [None] * len(predictors))
        models = [model_meta(p, sources[i] if i < len(sources) else None) for i, p in enumerate(predictors)]
        live = live or LiveSettings()
        a.write_settings({"clip": {"name": name, "path": "", "source": SOURCE}, "source": SOURCE,
                          "settings": {"fps": None, "annotate": bool(annotate), "smoothing": live.smoothing,
                                       "align": live.align, "margin": live.margin},
                          "live": asdict(live), "models": models,
                          "detector": getattr(detector, "detector_name", type(detector).__name__ if detector else None),
                          "created": time.time()})
        a.set_status("running", clip_name=name, source=SOURCE, annotated=None)
        return cls(a, models, live, annotate, **kw)

    # ------------------------------------------------------------ from the stream's thread
    def feed(self, image: np.ndarray, faces: list[dict], time_s: float | None = None, color: str = "bgr") -> None:
        """One labelled frame. Never blocks: a full queue drops the frame from the record (counted).
        `image` and `faces` must not be changed afterwards (the analyser makes new ones per frame)."""
        if self._closing:
            return
        index = self.fed
        self.fed += 1
        t = float(time_s) if time_s is not None else time.monotonic()
        try:
            self._queue.put_nowait(_Frame(index, t, image, faces, color))
        except queue.Full:
            self.dropped += 1

    # ------------------------------------------------------------ from the page
    @property
    def active(self) -> bool:
        return self.state == "running" and not self._closing

    def stop(self, timeout: float = 30.0) -> VideoAnalysis:
        """Close the recording as finished: the frames already queued are written first."""
        if not self._closing:
            self._closing = True
            try:
                self._queue.put(None, timeout=timeout)
            except queue.Full:
                pass
        self._thread.join(timeout)
        return self.analysis

    def stats(self) -> dict:
        return {"id": self.analysis.id, "state": self.state, "frames": self.written, "fed": self.fed,
                "dropped": self.dropped, "elapsed_s": round(self._last_t, 2), "annotate": self.annotate,
                "reason": self.reason}

    def recent(self) -> list[dict]:
        """The rows of the last minute (RECENT_S), for a live timeline."""
        with self._recent_lock:
            return list(self._recent)

    # ------------------------------------------------------------ the writer thread
    def _write_loop(self) -> None:
        a = self.analysis
        lines = LineWriter(a.frames_path)
        thumbs = Thumbnails(a)
        encoder = None
        outcome, reason = "finished", None
        reported = tracked = time.monotonic()
        last_frame = time.monotonic()
        try:
            while True:
                try:
                    fr = self._queue.get(timeout=0.5)
                except queue.Empty:
                    fr = ...
                now = time.monotonic()
                if fr is None:
                    break
                if fr is ...:
                    if now - last_frame > self.idle_s:
                        outcome, reason = "interrupted", (f"no frame came for {self.idle_s:.0f} s: the camera stopped "
                                                          "or the page was closed")
                        break
                    continue
                last_frame = now
                if not self._same_models(fr.faces):
                    outcome, reason = "stopped", "the model was changed during the recording"
                    break
                first = self._t0 is None
                # the frame in RGB only where a picture is made of it (the copy, a face's thumbnail)
                rgb = _rgb(fr.image, fr.color) if first or self.annotate or thumbs.wants(fr.faces) else None
                if first:
                    self._t0 = fr.time_s
                    self._first_frame(rgb)
                    if self.annotate:
                        encoder = self._open_encoder(rgb)
                self._write(fr, rgb, lines, thumbs)
                if encoder is not None:
                    picture, faces = self._at_size(rgb, fr.faces)
                    encoder.write(self._drawer.draw(picture, faces), self._last_t)
                if now - reported >= PROGRESS_EVERY_S:
                    reported = now
                    a.write_progress(**self._progress())
                    if a.stop_requested():  # the Video page's Cancel
                        outcome, reason = "stopped", "stopped from the Video page"
                        break
                if now - tracked >= TRACKS_EVERY_S:
                    tracked = now
                    a.write_tracks(self._summary.tracks(), partial=True, up_to_s=self._last_t)
        except Exception as e:  # noqa: BLE001 - recorded in status.json; the stream goes on without a record
            outcome, reason = "failed", _failure(e, a)
        finally:
            self._closing = True
            self._finish(outcome, reason, lines, encoder)

    def _same_models(self, faces: list[dict]) -> bool:
        """Whether the frame was labelled by the models the recording started with (the page can change them)."""
        return all([m["name"] for m in f["models"]] == [m["name"] for m in self.models] for f in faces)

    def _first_frame(self, rgb: np.ndarray) -> None:
        """The recording's size: the first frame's, or the size asked of the camera where that is larger with the
        same shape. A browser starts a stream small and raises its resolution as it goes (and lowers it when its
        CPU or the network falls short): a recording started early is not kept at 320x240 for that."""
        s = self.analysis.settings()
        h, w = rgb.shape[:2]
        if self._asked and self._asked[0] * self._asked[1] > w * h and \
                abs(self._asked[0] / self._asked[1] - w / h) < 0.02:
            w, h = self._asked
        self.size = (int(w), int(h))
        s["clip"].update(width=w, height=h)
        s["analysis_width"], s["analysis_height"] = w, h
        self.analysis.write_settings(s)

    def _open_encoder(self, rgb: np.ndarray):
        from .encode import AnnotatedWriter

        try:
            enc = AnnotatedWriter(self.analysis.dir / "annotated", *self.size, 30)
        except Exception as e:  # noqa: BLE001 - the record stands without its copy
            self.analysis.set_status("running", annotated={"error": f"no annotated copy ({e})"})
            return None
        self.analysis.set_status("running", annotating=enc.description)
        return enc

    def _write(self, fr: _Frame, rgb: np.ndarray | None, lines: LineWriter, thumbs: Thumbnails) -> None:
        t = max(fr.time_s - self._t0, self._last_t)  # never back in time
        self._last_t = t
        h, w = fr.image.shape[:2]
        self.sizes[f"{w}x{h}"] = self.sizes.get(f"{w}x{h}", 0) + 1
        scale = (self.size[0] / w, self.size[1] / h)  # boxes in the recording's pixels, whatever size this frame came at
        row = {"frame": fr.index, "time_s": round(t, 4), "faces": [face_record(f, scale) for f in fr.faces]}
        lines.write(row)
        self._summary.add(row)
        self.written += 1
        if rgb is not None:
            thumbs.update(rgb, fr.faces)
        with self._recent_lock:
            self._recent.append(row)
            while self._recent and self._recent[0]["time_s"] < t - RECENT_S:
                self._recent.popleft()

    def _at_size(self, rgb: np.ndarray, faces: list[dict]) -> tuple[np.ndarray, list[dict]]:
        """A frame (a copy) and its faces at the recording's size, for the annotated copy."""
        h, w = rgb.shape[:2]
        if (w, h) == self.size:
            return rgb.copy(), faces
        import cv2

        return cv2.resize(rgb, self.size, interpolation=cv2.INTER_LINEAR), \
            scale_faces(faces, self.size[0] / w, self.size[1] / h)

    def _progress(self) -> dict:
        t = self._last_t
        return {"frames_done": self.fed, "analysed": self.written, "dropped": self.dropped, "time_s": round(t, 3),
                "duration_s": None, "fraction": None, "eta_s": None, "elapsed_s": round(time.time() - self.started, 2),
                "analysed_per_s": round(self.written / t, 2) if t > 0 else None,
                "tracks": self._summary.track_count}

    def _finish(self, outcome: str, reason: str | None, lines: LineWriter, encoder) -> None:
        """Close the record: frames.jsonl, the annotated copy, tracks.json, progress, settings, then status.json
        with how it ended. Each step is tried on its own (a full disk may refuse any of them): what could not be
        saved is said in the status, which then reads failed; what was written stays."""
        a = self.analysis
        unsaved: list[str] = []
        why: list[str] = []

        def attempt(what: str, step):
            try:
                return step()
            except Exception as e:  # noqa: BLE001 - said in the status; the rest is still closed
                unsaved.append(what)
                why.append(_failure(e, a))
                return None

        try:
            attempt("the last frames", lines.close)
            annotated = attempt("the annotated video", encoder.finish) if encoder is not None else None
            tracks = self._summary.tracks()
            attempt("tracks.json", lambda: a.write_tracks(tracks, partial=outcome != "finished", up_to_s=self._last_t))
            p = self._progress()
            attempt("progress.json", lambda: a.write_progress(**p))
            attempt("settings.json", self._write_clip_settings)
            if unsaved:
                outcome = "failed"
                causes = [w for w in dict.fromkeys(why) if w != reason]
                reason = "; ".join(([reason] if reason else []) + causes) + "; not saved: " + ", ".join(unsaved)
            fields = {"ended": time.time(), "analysed": self.written, "tracks": len(tracks), "frames_read": self.fed,
                      "dropped": self.dropped, "elapsed_s": round(self._last_t, 2), "speed": 1.0,
                      "analysed_per_s": p["analysed_per_s"], "frame_sizes": dict(self.sizes)}
            if encoder is not None or self.annotate:
                fields["annotated"] = annotated
            if outcome != "finished":
                fields["stopped_at_s"] = round(self._last_t, 3)
            if reason:
                fields["error" if outcome == "failed" else "reason"] = reason
            try:
                a.set_status(outcome, **fields)
            except OSError:  # not even in place: the page is told by `state`/`reason`, the next listing by the pid
                pass
            a.stop_path.unlink(missing_ok=True)
        finally:
            self.state, self.reason = outcome, reason

    def _write_clip_settings(self) -> None:
        s = self.analysis.settings()
        s.setdefault("clip", {}).update(duration_s=round(self._last_t, 3), frames=self.written,
                                        fps=round(self.written / self._last_t, 2) if self._last_t > 0 else None)
        self.analysis.write_settings(s)


def _failure(e: BaseException, analysis: VideoAnalysis) -> str:
    """Why writing stopped, in words: a full disk says so, and where."""
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full: nothing more could be written to {analysis.dir}"
    return f"{type(e).__name__}: {e}"


def _rgb(image: np.ndarray, color: str) -> np.ndarray:
    if color == "rgb":
        return image
    import cv2

    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
