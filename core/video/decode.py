"""Reading a clip with PyAV one frame at a time, as it should be shown: turned upright (a phone's rotation
metadata), downscaled when it is wider than `MAX_WIDTH` (detection and crops need no more; the scale comes
with each frame so boxes go back to the clip's own pixels), and timed by each frame's own pts x time_base
(a variable-frame-rate clip keeps its real times). Frames are streamed, never collected: memory stays flat
however long the clip is.

Everything a user's file can do wrong is a `VideoError` (a ValueError) that names the file and says why.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi")
MAX_WIDTH = 1280              # frames wider than this are downscaled before detection
DEFAULT_MAX_MINUTES = 10.0    # longer clips are refused unless the caller raises the limit


class VideoError(ValueError):
    """A clip that cannot be analysed: the message names the file and says why."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{Path(path).name}: {reason}")


class NotAVideo(VideoError):
    """Not a video file PyAV can open (a text file renamed .mp4, a damaged header)."""


class DamagedVideo(NotAVideo):
    """A file that starts like a video container but cannot be read: truncated or damaged."""


class NoVideoStream(VideoError):
    """The file opens but holds no picture: audio only, or truncated before its index."""


class NoFrames(VideoError):
    """A video stream with no frame in it."""


class TooLong(VideoError):
    """Longer than the duration limit (the caller can raise it)."""


def _av():
    """PyAV, with its default logging (none: FFmpeg's callback into Python is a known source of deadlocks)."""
    import av

    return av


def _open(path):
    """The container, or the VideoError that says why it cannot be opened."""
    p = Path(path)
    if not p.is_file():
        raise VideoError(p, "no such file")
    if p.suffix.lower() not in VIDEO_EXTENSIONS:
        raise VideoError(p, f"not a video file type this app reads ({', '.join(e[1:] for e in VIDEO_EXTENSIONS)})")
    if p.stat().st_size == 0:
        raise NotAVideo(p, "the file is empty")
    av = _av()
    try:
        return av.open(str(p), "r")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as e:
        kind = _container_magic(p)
        if kind:
            raise DamagedVideo(p, f"starts like {kind} video but cannot be read: it may be truncated (an unfinished "
                                  f"recording or download) or damaged ({_why(e)})") from None
        raise NotAVideo(p, f"not a video file that can be read ({_why(e)})") from None


def _container_magic(path) -> str | None:
    """Which container the first bytes announce (MP4/MOV, Matroska/WebM, AVI), if any."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
    except OSError:
        return None
    if head[4:8] == b"ftyp" or head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "an MP4/MOV"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "a Matroska/WebM"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "an AVI"
    return None


def _why(e: BaseException) -> str:
    text = getattr(e, "strerror", None) or str(e) or type(e).__name__
    return str(text).split(":")[0].strip()


def _rotation(frame, stream) -> int:
    """Degrees counterclockwise that turn the stored picture upright: the display matrix (side data, what
    phones write) first, else the old `rotate` tag (clockwise degrees)."""
    angle = 0
    try:
        angle = int(round(frame.rotation or 0))
    except Exception:  # noqa: BLE001 - an odd matrix: show the picture as stored
        angle = 0
    if angle == 0:
        tags = {str(k).lower(): v for k, v in (stream.metadata or {}).items()}
        try:
            angle = -int(float(tags.get("rotate", 0)))
        except (TypeError, ValueError):
            angle = 0
    return int(round(angle / 90.0)) * 90 % 360


@dataclass(frozen=True)
class ClipInfo:
    """What a clip is, from its header and its first frame. width/height are as shown (after rotation)."""
    path: str
    name: str
    width: int
    height: int
    coded_width: int
    coded_height: int
    rotation: int              # degrees counterclockwise applied to every frame
    fps: float | None          # average frame rate (a variable-rate clip has its own times per frame)
    duration_s: float | None
    frames: int | None         # from the header, else duration x fps; None when unknown
    codec: str
    container: str
    has_audio: bool
    start_s: float = 0.0       # the stream's first timestamp; frame times are counted from it

    def to_dict(self) -> dict:
        return asdict(self)


def _duration(container, stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000.0
    return None


def probe(path, max_minutes: float | None = DEFAULT_MAX_MINUTES) -> ClipInfo:
    """The clip's size, rotation, frame rate and duration; VideoError if it cannot be analysed (not a video,
    no picture, no frame, longer than `max_minutes`; None = no limit)."""
    p = Path(path)
    with _open(p) as c:
        if not c.streams.video:
            if c.streams.audio:
                raise NoVideoStream(p, "has sound but no picture (audio only): there are no faces to follow")
            raise NoVideoStream(p, "holds no video stream: the file may be truncated (an unfinished recording "
                                   "or download) or damaged")
        s = c.streams.video[0]
        rate = s.average_rate or s.guessed_rate or s.base_rate
        fps = float(rate) if rate else None
        duration = _duration(c, s)
        start = float(s.start_time * s.time_base) if s.start_time is not None and s.time_base else 0.0
        first = None
        try:
            for first in c.decode(s):
                break
        except Exception as e:  # noqa: BLE001 - any decoder failure on the very first frame
            raise NotAVideo(p, f"its video cannot be decoded ({_why(e)})") from None
        if first is None:
            raise NoFrames(p, "its video stream has no frames")
        rotation = _rotation(first, s)
        cw, ch = int(first.width), int(first.height)
        frames = int(s.frames) if s.frames else (int(round(duration * fps)) if duration and fps else None)
        if max_minutes is not None and duration is not None and duration > max_minutes * 60 + 1e-6:
            raise TooLong(p, f"lasts {duration / 60:.1f} minutes, over the limit of {max_minutes:g} minutes "
                             "(raise the limit to analyse it)")
        w, h = (ch, cw) if rotation in (90, 270) else (cw, ch)
        return ClipInfo(str(p), p.name, w, h, cw, ch, rotation, fps, duration, frames, s.codec_context.name,
                        c.format.name, bool(c.streams.audio), start)


@dataclass
class Frame:
    """One decoded frame: its place in the clip and, when asked for, its picture (RGB, upright, at most
    MAX_WIDTH wide). `scale` is (x, y) clip pixels per picture pixel."""
    index: int
    time_s: float
    image: np.ndarray | None
    scale: tuple[float, float] = (1.0, 1.0)


def analysis_size(info: ClipInfo, max_width: int | None = MAX_WIDTH) -> tuple[int, int]:
    """(width, height) of the pictures frames() gives: the shown size, downscaled to `max_width`."""
    if not max_width or info.width <= max_width:
        return info.width, info.height
    s = max_width / info.width
    return max_width, max(2, int(round(info.height * s)))


class VideoReader:
    """Streams the frames of a clip. `want(index, time_s)` says which frames need their picture (the others
    are decoded, as the codec requires, but never converted). A clip that breaks off mid-way ends the
    stream early with `warning` saying where; the frames before it are kept."""

    def __init__(self, path, max_width: int | None = MAX_WIDTH, max_minutes: float | None = DEFAULT_MAX_MINUTES,
                 info: ClipInfo | None = None):
        self.path = Path(path)
        self.info = info or probe(self.path, max_minutes)
        self.max_minutes = max_minutes
        self.size = analysis_size(self.info, max_width)
        self.warning: str | None = None
        self.frames_read = 0

    def _picture(self, frame) -> np.ndarray:
        w, h = self.size
        cw, ch = (h, w) if self.info.rotation in (90, 270) else (w, h)
        if (cw, ch) != (frame.width, frame.height):
            img = frame.reformat(width=cw, height=ch, format="rgb24", interpolation="AREA").to_ndarray()
        else:
            img = frame.to_ndarray(format="rgb24")
        k = self.info.rotation // 90
        return np.ascontiguousarray(np.rot90(img, k)) if k else img

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def frames(self, want: Callable[[int, float], bool] | None = None) -> Iterator[Frame]:
        av = _av()
        info = self.info
        scale = (info.width / self.size[0], info.height / self.size[1])
        limit = self.max_minutes * 60 if self.max_minutes is not None else None
        with _open(self.path) as c:
            # PyAV's default slice threads: frame threads ("AUTO") can hang a decode left mid-way (a cancel)
            # once torch is loaded (PyAV issue 1849)
            s = c.streams.video[0]
            last_t, index = -math.inf, 0
            it = c.decode(s)
            while True:
                try:
                    frame = next(it)
                except StopIteration:
                    break
                except (av.error.FFmpegError, OSError) as e:
                    if index == 0:
                        raise NotAVideo(self.path, f"its video cannot be decoded ({_why(e)})") from None
                    self.warning = (f"the file breaks off after {max(last_t, 0):.1f} s (truncated or damaged: "
                                    f"{_why(e)}); the frames before that were analysed")
                    break
                t = frame.time
                t = (index / info.fps if info.fps else 0.0) if t is None else float(t) - info.start_s
                t = max(t, last_t if last_t > -math.inf else 0.0)  # never backwards (a damaged pts)
                if limit is not None and t > limit + 1e-6:
                    raise TooLong(self.path, f"runs past the limit of {self.max_minutes:g} minutes "
                                             "(raise the limit to analyse it)")
                need = want is None or want(index, t)
                yield Frame(index, t, self._picture(frame) if need else None, scale)
                last_t, index = t, index + 1
                self.frames_read = index
            it.close()
        if index == 0:
            raise NoFrames(self.path, "its video stream has no frames")
        step = 1.0 / info.fps if info.fps else 0.0
        if self.warning is None and info.duration_s and info.duration_s - (last_t + step) > max(0.5, 2 * step):
            self.warning = (f"the file breaks off after {last_t:.1f} s of the {info.duration_s:.1f} s its header "
                            "announces (truncated or damaged); the frames before that were analysed")


def frame_at(path, time_s: float, max_width: int | None = MAX_WIDTH) -> Frame:
    """The frame shown at `time_s` (the last one that starts at or before it), decoded from the nearest
    keyframe before: what a scrubber shows, without reading the clip from its start."""
    reader = VideoReader(path, max_width=max_width, max_minutes=None)
    info = reader.info
    av = _av()
    best = None
    with _open(path) as c:
        s = c.streams.video[0]
        try:
            if s.time_base and time_s > 0:
                c.seek(int((time_s + info.start_s) / s.time_base), stream=s, backward=True)
            for index, frame in enumerate(c.decode(s)):
                t = float(frame.time) - info.start_s if frame.time is not None else 0.0
                if best is not None and t > time_s + 1e-3:
                    break
                best = (frame, t)
        except (av.error.FFmpegError, OSError) as e:
            if best is None:
                raise NotAVideo(path, f"its video cannot be decoded ({_why(e)})") from None
    if best is None:
        raise NoFrames(path, "its video stream has no frames")
    frame, t = best
    w, h = reader.size
    return Frame(-1, t, reader._picture(frame), (info.width / w, info.height / h))
