"""The annotated copy of a clip: H.264 in .mp4 where this PyAV has libx264, else MPEG-4 Part 2 in .mp4,
else Motion JPEG in .avi (all written by PyAV, all played by a browser or VLC; the first two by every
browser). Each frame keeps its own time from the source, so a variable-frame-rate clip stays in sync.
No sound: the copy shows what the models saw."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

MAX_WIDTH = 1280  # the copy is at most this wide (a 4K H.264 encode on 2 cores would be slower than the analysis)

# (codec, file suffix, container, what the status says), best first
CODECS = (("libx264", ".mp4", "mp4", "H.264 (libx264) in MP4"),
          ("mpeg4", ".mp4", "mp4", "MPEG-4 Part 2 in MP4 (no H.264 encoder here)"),
          ("mjpeg", ".avi", "avi", "Motion JPEG in AVI (no H.264 or MPEG-4 encoder here)"))
TIME_BASE = Fraction(1, 1000)


def pick_codec() -> tuple[str, str, str, str]:
    import av

    for entry in CODECS:
        if entry[0] in av.codecs_available:
            return entry
    raise RuntimeError("this PyAV build has no video encoder (libx264, mpeg4 or mjpeg): cannot write the "
                       "annotated copy")


def output_size(width: int, height: int, max_width: int = MAX_WIDTH) -> tuple[int, int]:
    """Even sizes (4:2:0 needs them), at most `max_width` wide."""
    if width > max_width:
        height, width = int(round(height * max_width / width)), max_width
    return max(2, width // 2 * 2), max(2, height // 2 * 2)


class AnnotatedWriter:
    """Frames in, a playable file out. `path_stem` gets the codec's suffix (annotated.mp4 or .avi)."""

    def __init__(self, path_stem, width: int, height: int, fps: float | None, codec: str | None = None):
        import av

        entry = next((e for e in CODECS if e[0] == codec), None) if codec else pick_codec()
        if entry is None:
            raise ValueError(f"unknown codec {codec!r}; known: {', '.join(e[0] for e in CODECS)}")
        self.codec, suffix, fmt, self.description = entry
        self.path = Path(path_stem).with_suffix(suffix)
        self.size = output_size(width, height)
        self.frames = 0
        self._last_pts = -1
        self._container = av.open(str(self.path), "w", format=fmt)
        rate = Fraction(fps or 25).limit_denominator(1000)
        self._stream = self._container.add_stream(self.codec, rate=rate)
        self._stream.width, self._stream.height = self.size
        self._stream.pix_fmt = "yuvj420p" if self.codec == "mjpeg" else "yuv420p"
        if self.codec == "libx264":
            self._stream.options = {"preset": "veryfast", "crf": "23"}
            self._stream.codec_context.time_base = TIME_BASE
        elif self.codec == "mpeg4":
            self._stream.codec_context.time_base = TIME_BASE
            self._stream.codec_context.qscale = 4
            self._stream.codec_context.flags |= 0x0002  # AV_CODEC_FLAG_QSCALE: constant quality
        self._tb = self._stream.codec_context.time_base or Fraction(1, int(round(float(rate))) or 25)

    def write(self, image: np.ndarray, time_s: float) -> None:
        """One RGB frame shown from `time_s` on (resized to the copy's size if needed)."""
        import av
        import cv2

        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        pts = max(int(round(time_s / self._tb)), self._last_pts + 1)  # strictly increasing
        frame.pts, frame.time_base = pts, self._tb
        self._last_pts = pts
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> dict:
        """Flush and close; what the status records about the copy."""
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
        finally:
            self._container.close()
        return {"file": self.path.name, "codec": self.codec, "format": self.description, "frames": self.frames,
                "width": self.size[0], "height": self.size[1]}

    def finish(self) -> dict:
        """`close()` for a status file: what it says, or why the copy could not be finished (the analysis or
        recording stands without it)."""
        try:
            return self.close()
        except Exception as e:  # noqa: BLE001 - recorded, not raised
            return {"error": f"the annotated copy could not be finished ({e})"}
