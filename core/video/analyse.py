"""A clip analysed: every k-th frame (the analysis rate) goes through the same FramePipeline as the webcam
(detector, IoU tracker, aligned crops, one batched forward pass per model, smoothing), and what it finds is
written to the analysis folder as it goes (core.video.store), so a stopped or crashed analysis keeps
everything up to where it stopped, and a page can watch it.

Choices, said once:
- the detector runs on every analysed frame (`step(..., detect=True)`): a recording has no frame budget to
  save, and boxes reused from an older frame would drift off a moving face; and it searches the whole frame
  each time (`full_search_every=1`), not only near the faces it follows as the webcam does, so a face that
  walks in is found on the frame it appears, and recorded from the next analysed frame, which confirms it
  (core.predict.tracking: a track is shown once two detections found it, as on the webcam);
- a face the detector misses once is still followed where its box still looks as it did (the tracker's
  one-frame grace, as on the webcam) and recorded with `held: true`; one missing for longer ends its track,
  so a face that leaves and comes back is a NEW track (the tracker matches boxes, not faces: it cannot tell
  who came back);
- smoothing counts analysed frames (3 at 10 frames/s: about 0.3 s);
- boxes and landmarks are in the clip's own pixels (as shown, after rotation), whatever size the frame
  was analysed at;
- faces smaller than `min_face` are left out, and said: the first analysed frame and one every PROBE_EVERY_S
  are also searched for faces down to half that size (`small_faces` in the status: how many, when, and the
  setting that would keep them), so the page can say why a face it did not follow was left out.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from ..files import atomic_path
from ..labels import TTA_CHOICES, TTA_MODES
from ..predict.crops import FACE_MARGIN
from ..predict.frame import FramePipeline, LiveSettings
from ..settings import live_threads
from .decode import DEFAULT_MAX_MINUTES, MAX_WIDTH, ClipInfo, VideoError, VideoReader, probe
from .store import LineWriter, VideoAnalysis
from .summary import summarise_tracks

MAX_FPS = 60.0
PROGRESS_EVERY_S = 0.5
TRACKS_EVERY_S = 2.0
THUMB_HEIGHT = 128
PROBE_EVERY_S = 5.0     # how often an analysis looks for faces below its smallest face (see the docstring)


@dataclass
class VideoSettings:
    """How a clip is analysed. `fps` None (or 0): every frame. `models` empty: the real-time model."""
    models: list = field(default_factory=list)
    detector: str | None = None
    fps: float | None = 10.0
    annotate: bool = False
    max_minutes: float | None = DEFAULT_MAX_MINUTES
    tta: str | None = None
    min_face: float = 0.10          # the webcam's: faces under 10% of the short side are ignored
    detect_width: int = 480
    smoothing: int = 3
    margin: float = FACE_MARGIN
    align: bool = True
    tilted: bool = False            # also search each frame turned by +-25 degrees (three searches' time)

    def check(self) -> "VideoSettings":
        """ValueError listing every setting out of range."""
        errs = []
        if self.fps is not None and self.fps != 0 and not (0 < float(self.fps) <= MAX_FPS):
            errs.append(f"the analysis rate must be between 0 and {MAX_FPS:g} frames/s (or every frame)")
        if self.max_minutes is not None and not (0 < float(self.max_minutes) <= 24 * 60):
            errs.append("the duration limit must be between 0 and 1440 minutes")
        if not 0.0 <= float(self.min_face) < 1.0:
            errs.append("the smallest face is a fraction of the frame's short side, between 0 and 1")
        if not 64 <= int(self.detect_width) <= 4096:
            errs.append("the detection width must be between 64 and 4096 pixels")
        if not 1 <= int(self.smoothing) <= 50:
            errs.append("smoothing must be between 1 and 50 frames")
        if not 0.0 <= float(self.margin) <= 2.0:
            errs.append("the crop margin must be between 0 and 2")
        if self.tta not in TTA_MODES:
            errs.append(f"test-time augmentation must be {', '.join(TTA_CHOICES[:-1])} or {TTA_CHOICES[-1]}")
        if errs:
            raise ValueError("; ".join(errs))
        return self

    @property
    def every_frame(self) -> bool:
        return not self.fps

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "VideoSettings":
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in (data or {}).items() if k in known})


def load_models(names, tta: str | None = None) -> list:
    """Predictors by name or path ("deepface" too); none given: the real-time model (the Webcam page's).
    ValueError naming the model that cannot be loaded."""
    from ..predict.choice import webcam_model
    from ..predict.loading import DEEPFACE, load_predictor

    names = [str(n) for n in (names or []) if str(n).strip()]
    if not names:
        pick = webcam_model()
        if pick is None:
            raise ValueError("no trained model found (train one with `python -m core train`, or pass --model)")
        names = [str(pick.path)]
    out = []
    for name in names:
        try:
            out.append(load_predictor(name, tta=None if name.lower() == DEEPFACE else tta))
        except Exception as e:  # noqa: BLE001 - a missing or broken checkpoint is the user's to fix
            raise ValueError(f"model {name}: {e}") from None
    return out


def make_detector(settings: VideoSettings):
    """(detector, note): the detector asked for; the default one falls back to Haar if it cannot load."""
    from ..predict.detectors import TURNS, DetectorError, create_detector, fallback_notice

    try:
        det = create_detector(settings.detector, fallback=settings.detector is None, min_size=settings.min_face,
                              detect_width=settings.detect_width, turns=TURNS if settings.tilted else ())
    except DetectorError as e:
        raise ValueError(str(e)) from None
    return det, fallback_notice(settings.detector)


def model_meta(predictor, source: str | None = None) -> dict:
    return {"name": getattr(predictor, "name", "model"), "source": source or str(getattr(predictor, "path", "")),
            "classes": list(predictor.classes), "kind": getattr(predictor, "kind", "emotion")}


def prepare_folder(out) -> VideoAnalysis:
    """The analysis folder `out`: made if missing; one the page prepared (queued) is taken over; one that
    holds another analysis, or anything else, is refused: nothing earlier is overwritten."""
    d = Path(out)
    if d.exists() and not d.is_dir():
        raise ValueError(f"{d} is a file, not a folder")
    if (d / "status.json").exists():
        a = VideoAnalysis(d)
        st = a.status()
        if st.get("state") != "queued" or (d / "frames.jsonl").exists():
            raise ValueError(f"{d} already holds an analysis ({a.state()}): choose another folder")
        return a
    if d.exists() and any(d.iterdir()):
        raise ValueError(f"{d} is not empty and holds no analysis: choose an empty or new folder")
    d.mkdir(parents=True, exist_ok=True)
    a = VideoAnalysis(d)
    a.set_status("queued", created=time.time())
    return a


class Thumbnails:
    """A picture of each track's face: the one its (first) model was most confident on, so the picture shows the
    emotion the track is summed up by, not whatever face it had on its first frame; without a model, the one
    it was seen largest on. Rewritten only when clearly better (a smoothed confidence creeps up frame by frame)."""

    BETTER = 0.02  # confidence a new picture must add

    def __init__(self, analysis: VideoAnalysis):
        self.analysis = analysis
        self.best: dict[int, tuple[float, float]] = {}  # track -> (confidence, or -1 without one; box area)

    def wants(self, faces: list[dict]) -> bool:
        """Whether `update` would write a picture for any of these faces (so a caller can skip the image)."""
        return any(self._better(f) for f in faces)

    @staticmethod
    def _merit(face: dict) -> tuple[float, float]:
        conf = face.get("confidence")
        _, _, w, h = face["box"]
        return (float(conf) if isinstance(conf, (int, float)) and math.isfinite(conf) else -1.0, float(w * h))

    def _better(self, face: dict) -> bool:
        old = self.best.get(face["id"])
        if old is None:
            return True
        conf, area = self._merit(face)
        return conf > old[0] + self.BETTER if conf >= 0 or old[0] >= 0 else area > old[1] * 1.2

    def update(self, image, faces: list[dict]) -> None:
        for f in faces:
            if not self._better(f):
                continue
            self.best[f["id"]] = self._merit(f)
            x, y, w, h = f["box"]
            self._write(image, f["id"], x, y, w, h)

    def _write(self, image, track: int, x, y, w, h) -> None:
        import cv2

        H, W = image.shape[:2]
        m = 0.25 * max(w, h)
        x0, y0, x1, y1 = (int(max(0, x - m)), int(max(0, y - m)), int(min(W, x + w + m)), int(min(H, y + h + m)))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        crop = image[y0:y1, x0:x1]
        s = THUMB_HEIGHT / crop.shape[0]
        crop = cv2.resize(crop, (max(1, int(round(crop.shape[1] * s))), THUMB_HEIGHT), interpolation=cv2.INTER_AREA)
        self.analysis.thumbs_dir.mkdir(exist_ok=True)
        path = self.analysis.thumb_path(track)
        with contextlib.suppress(OSError), atomic_path(path, ".jpg") as tmp:  # no picture is no reason to stop
            if not cv2.imwrite(str(tmp), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85]):
                raise OSError(f"cv2 could not write {tmp}")


def face_record(face: dict, scale: tuple[float, float] = (1.0, 1.0)) -> dict:
    """One face of one analysed frame, as frames.jsonl keeps it (box in the clip's pixels)."""
    sx, sy = scale
    x, y, w, h = face["box"]
    rec = {"track": int(face["id"]), "box": [int(round(x * sx)), int(round(y * sy)), int(round(w * sx)),
                                             int(round(h * sy))],
           "score": round(float(face.get("score") or 0.0), 4), "held": bool(face.get("held")),
           "models": [{"probs": [round(float(p), 4) for p in m["probs"]], "emotion": m["emotion"],
                       "confidence": round(float(m["confidence"]), 4), "stress": m.get("stress"),
                       "stress_confidence": _r(m.get("stress_confidence")), "p_stress": _r(m.get("p_stress"))}
                      for m in face["models"]]}
    if face.get("landmarks"):
        rec["landmarks"] = [[round(float(px) * sx, 1), round(float(py) * sy, 1)] for px, py in face["landmarks"]]
    return rec


def _r(v, digits: int = 4):
    return round(float(v), digits) if isinstance(v, (int, float)) and math.isfinite(v) else None


class _Due:
    """Which frames are analysed: the first at or after each multiple of 1/fps (all of them without fps)."""

    def __init__(self, fps: float | None):
        self.interval = 1.0 / fps if fps else None
        self.next = 0.0

    def __call__(self, t: float) -> bool:
        return self.interval is None or t >= self.next - 1e-3

    def advance(self, t: float) -> None:
        if self.interval is not None:
            self.next = (math.floor((t + 1e-3) / self.interval) + 1) * self.interval


def expected_analysed(info: ClipInfo, fps: float | None) -> int | None:
    if not fps or not info.duration_s:
        return info.frames
    n = int(math.floor(info.duration_s * fps - 1e-6)) + 1
    return min(n, info.frames) if info.frames else n


def analyse_video(clip, settings: VideoSettings | None = None, out=None, root=None,
                  should_stop: Callable[[], bool] | None = None, on_progress: Callable[[dict], None] | None = None,
                  predictors=None, detector=None, source_names=None) -> VideoAnalysis:
    """Analyse `clip` into a new folder under the video folder (or `out`); returns the analysis when it
    ended (finished, or stopped: STOP file or `should_stop()`). A clip that cannot be analysed raises
    VideoError before anything is written, except in a prepared `out`, which then says failed and why.
    `predictors`/`detector`: already-loaded ones (a benchmark, a test), else loaded from `settings`."""
    settings = (settings or VideoSettings()).check()
    clip = Path(clip)
    analysis = prepare_folder(out) if out is not None else None
    try:
        info = probe(clip, settings.max_minutes)
        if predictors is None:
            predictors = load_models(settings.models, settings.tta)
            source_names = [str(n) for n in settings.models] or None
        note = None
        if detector is None:
            detector, note = make_detector(settings)
    except (VideoError, ValueError) as e:
        if analysis is not None:
            analysis.set_status("failed", error=str(e), ended=time.time())
        raise
    if analysis is None:
        analysis = VideoAnalysis.create(clip.name, root)
    shown = (analysis.settings().get("clip") or {}).get("name")  # an upload's own name (the page's folder)
    if shown:
        info = dataclasses.replace(info, name=str(shown))
    models = [model_meta(p, (source_names or [None] * len(predictors))[i] if source_names else None)
              for i, p in enumerate(predictors)]
    analysis.write_settings({"clip": info.to_dict(), "settings": settings.to_dict(), "models": models,
                             "detector": getattr(detector, "detector_name", type(detector).__name__),
                             "detector_note": note, "analysis_width": None, "created": time.time()})
    return _Run(analysis, clip, info, settings, predictors, detector, models, should_stop, on_progress).run()


@contextlib.contextmanager
def _torch_threads(n: int):
    """Torch threads for the analysis, as the webcam's stream thread has them (FEL_LIVE_THREADS, 1): a few
    48x48 faces per frame run fastest on one thread, and two threads that spin between batches slow the
    face detector down several times on a busy machine. The caller's setting comes back afterwards."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _Run:
    """The loop of one analysis and everything it writes on the way."""

    def __init__(self, analysis, clip, info, settings, predictors, detector, models, should_stop, on_progress):
        self.a, self.clip, self.info, self.s = analysis, clip, info, settings
        self.models, self.should_stop, self.on_progress = models, should_stop, on_progress
        self.pipeline = FramePipeline(detector, predictors, LiveSettings(
            detect_every=1, full_search_every=1, smoothing=settings.smoothing, show_stress=True, margin=settings.margin,
            align=settings.align, show_landmarks=False))
        self.rows: list[dict] = []
        self.probe, self.probed_at, self.small = _smaller_search(detector), None, None
        self.t0 = time.perf_counter()
        self.position = (0, 0.0)   # (frame index, time) reached
        self.frames_done = 0
        self.expected = expected_analysed(info, settings.fps)
        self._progress_at = self._tracks_at = 0.0

    def run(self) -> VideoAnalysis:
        with _torch_threads(live_threads()):
            return self._run()

    def _run(self) -> VideoAnalysis:
        a, s = self.a, self.s
        reader = VideoReader(self.clip, max_width=MAX_WIDTH, max_minutes=s.max_minutes, info=self.info)
        settings = a.settings()
        settings["analysis_width"], settings["analysis_height"] = reader.size
        a.write_settings(settings)
        a.set_status("running", clip_name=self.info.name, annotated=None, stopped_at_s=None)
        writer = LineWriter(a.frames_path)
        encoder = None
        thumbs = Thumbnails(a)
        due = _Due(s.fps)
        last_faces: list[dict] = []
        outcome, reason = "finished", None
        frames = reader.frames(lambda i, t: encoder is not None or due(t))
        try:
            if s.annotate:
                from .encode import AnnotatedWriter

                encoder = AnnotatedWriter(a.dir / "annotated", *reader.size, self.info.fps)
                a.set_status("running", annotating=encoder.description)
            for fr in frames:
                if self._stop_asked():
                    outcome, reason = "stopped", "asked to stop"
                    break
                if due(fr.time_s):
                    due.advance(fr.time_s)
                    last_faces = self._analyse(fr, writer, thumbs)
                if encoder is not None:
                    encoder.write(self.pipeline.draw(fr.image, last_faces), fr.time_s)
                self.position = (fr.index, fr.time_s)
                self.frames_done = fr.index + 1
                self._maybe_report()
        except KeyboardInterrupt:
            outcome, reason = "stopped", "interrupted from the keyboard"
            raise
        except Exception as e:  # noqa: BLE001 - recorded in status.json, then raised to the caller
            outcome, reason = "failed", (str(e) if isinstance(e, VideoError) else f"{type(e).__name__}: {e}")
            raise
        finally:
            frames.close()  # a stop leaves the clip mid-way: close it now, not whenever it is collected
            self._finish(outcome, reason, reader, writer, encoder)
        return a

    def _stop_asked(self) -> bool:
        return self.a.stop_requested() or bool(self.should_stop and self.should_stop())

    def _analyse(self, fr, writer: LineWriter, thumbs: Thumbnails) -> list[dict]:
        faces = self.pipeline.step(fr.image, "rgb", detect=True)
        if self.probe is not None and (self.probed_at is None or fr.time_s - self.probed_at >= PROBE_EVERY_S):
            self.probed_at = fr.time_s
            self._look_for_smaller(fr)
        row = {"frame": fr.index, "time_s": round(fr.time_s, 4), "faces": [face_record(f, fr.scale) for f in faces]}
        writer.write(row)
        self.rows.append(row)
        thumbs.update(fr.image, faces)
        return faces

    def _look_for_smaller(self, fr) -> None:
        """Faces smaller than the analysis keeps, on this frame: the most seen on one frame is kept for the status."""
        short = min(fr.image.shape[:2])
        sides = [max(f.w, f.h) / short for f in self.probe.detect(fr.image, color="rgb")]
        small = [v for v in sides if v < self.s.min_face]
        if small and (self.small is None or len(small) > self.small["count"]):
            self.small = {"count": len(small), "at_s": round(fr.time_s, 2), "min_face": self.s.min_face,
                          "keeps_them": max(0.01, math.floor(min(small) * 100) / 100)}

    def _progress(self) -> dict:
        elapsed = max(time.perf_counter() - self.t0, 1e-6)
        _, t = self.position
        dur = self.info.duration_s
        speed = t / elapsed if t > 0 else None
        eta = max(dur - t, 0.0) / speed if dur and speed else None
        return {"frames_done": self.frames_done, "frames_total": self.info.frames, "analysed": len(self.rows),
                "analysed_total": self.expected, "time_s": round(t, 3), "duration_s": dur,
                "fraction": min(1.0, t / dur) if dur else None, "analysed_per_s": round(len(self.rows) / elapsed, 2),
                "speed": round(speed, 3) if speed else None, "eta_s": round(eta, 1) if eta is not None else None,
                "elapsed_s": round(elapsed, 2), "tracks": len({f["track"] for r in self.rows for f in r["faces"]})}

    def _maybe_report(self, force: bool = False) -> None:
        now = time.perf_counter()
        if force or now - self._progress_at >= PROGRESS_EVERY_S:
            self._progress_at = now
            p = self._progress()
            self.a.write_progress(**p)
            if self.on_progress:
                self.on_progress(p)
        if force or now - self._tracks_at >= TRACKS_EVERY_S:
            self._tracks_at = now
            self.a.write_tracks(summarise_tracks(self.rows, self.models), partial=not force,
                                up_to_s=self.position[1])

    def _finish(self, outcome: str, reason: str | None, reader, writer: LineWriter, encoder) -> None:
        writer.close()
        annotated = encoder.finish() if encoder is not None else None
        end = self.info.duration_s if outcome == "finished" else None
        tracks = summarise_tracks(self.rows, self.models, end_s=end)
        self.a.write_tracks(tracks, partial=outcome != "finished", up_to_s=self.position[1])
        p = self._progress()
        if outcome == "finished":
            p.update(fraction=1.0, eta_s=0.0)
        self.a.write_progress(**p)
        if self.on_progress:
            self.on_progress(p)
        fields = {"ended": time.time(), "analysed": len(self.rows), "tracks": len(tracks), "annotated": annotated,
                  "elapsed_s": p["elapsed_s"], "analysed_per_s": p["analysed_per_s"], "speed": p["speed"],
                  "frames_read": self.frames_done, "clip_name": self.info.name}
        if reader.warning:
            fields["warning"] = reader.warning
        if self.small:
            fields["small_faces"] = self.small
        if outcome != "finished":
            fields.update(stopped_at_s=round(self.position[1], 3), stopped_at_frame=self.position[0])
        if reason:
            fields["error" if outcome == "failed" else "reason"] = reason
        self.a.set_status(outcome, **fields)
        self.a.stop_path.unlink(missing_ok=True)


def _smaller_search(detector):
    """The same family of detector looking for faces down to half its smallest face (None where it cannot be made,
    or it already keeps every size): what tells an analysis that it left faces out."""
    from ..predict.detectors import create_detector

    name, min_size = getattr(detector, "detector_name", None), float(getattr(detector, "min_size", 0.0) or 0.0)
    if not name or min_size <= 0.02:
        return None
    try:
        return create_detector(name, min_size=min_size / 2, detect_width=getattr(detector, "detect_width", 480))
    except Exception:  # noqa: BLE001 - a hint only: no hint where the detector cannot be made again
        return None


def read_settings(analysis: VideoAnalysis) -> VideoSettings:
    return VideoSettings.from_dict((analysis.settings() or {}).get("settings") or {})
