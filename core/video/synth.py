"""Clips made from the sample photos (sample_images/, public-domain portraits), for the page's sample clip,
the benchmark and the tests: faces pasted on a soft background, drifting, zooming, entering and leaving.
No real sample clip can ship with the app, and no FER2013 picture is ever used here."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..files import atomic_path
from ..settings import cache_dir, sample_dir


def face_patches(folder=None, max_patches: int = 4) -> list[np.ndarray]:
    """Square RGB patches around the face of each single-face sample photo (the face about half the patch)."""
    from ..data.images import load_image
    from ..predict.detectors import HaarDetector

    folder = Path(folder) if folder else sample_dir()
    det = HaarDetector()
    out = []
    for path in sorted(folder.glob("*")):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png") or "collage" in path.name:
            continue
        try:
            img = load_image(path)
        except Exception:  # noqa: BLE001 - a sample we cannot read is not one of ours
            continue
        faces = det.detect(img)
        if len(faces) != 1:
            continue
        f = faces[0]
        side = int(f.w * 2.0)
        cx, cy = f.x + f.w // 2, f.y + f.h // 2
        x0, y0 = max(0, cx - side // 2), max(0, cy - side // 2)
        patch = img[y0:y0 + side, x0:x0 + side]
        s = min(patch.shape[:2])
        out.append(np.ascontiguousarray(patch[:s, :s]))
        if len(out) >= max_patches:
            break
    if not out:
        raise FileNotFoundError(f"no photo with exactly one face in {folder}: cannot make a sample clip")
    return out


def background(size=(640, 480), seed: int = 0) -> np.ndarray:
    """A soft gradient with a little noise (made at a quarter of the size: a 4K frame costs little)."""
    import cv2

    w, h = size
    sw, sh = max(2, w // 4), max(2, h // 4)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:sh, 0:sw]
    base = (90 + 60 * xx / sw + 30 * yy / sh)[..., None] * np.array([1.0, 0.95, 0.9])
    small = np.clip(base + rng.normal(0, 4, (sh, sw, 3)), 0, 255).astype(np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


@dataclass
class Face:
    """One face of a synthetic clip: which patch, when it is on screen, and where (centre, as fractions of
    the frame) and how big (side, as a fraction of the frame's height), each a function of the time."""
    patch: int
    start_s: float = 0.0
    end_s: float = float("inf")
    cx: Callable[[float], float] = lambda t: 0.5
    cy: Callable[[float], float] = lambda t: 0.5
    side: Callable[[float], float] = lambda t: 0.5


def paste(canvas: np.ndarray, patch: np.ndarray, cx: float, cy: float, side: int) -> None:
    import cv2

    h, w = canvas.shape[:2]
    side = max(8, int(side))
    img = cv2.resize(patch, (side, side), interpolation=cv2.INTER_AREA if side < patch.shape[0] else cv2.INTER_LINEAR)
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    if xb > xa and yb > ya:
        canvas[ya:yb, xa:xb] = img[ya - y0:yb - y0, xa - x0:xb - x0]


def scene_frames(patches, faces: list[Face], seconds: float, fps: float, size=(640, 480), seed: int = 0):
    """(time_s, RGB frame) of the scene, one by one."""
    bg = background(size, seed)
    w, h = size
    for i in range(max(1, int(round(seconds * fps)))):
        t = i / fps
        frame = bg.copy()
        for f in faces:
            if f.start_s <= t < f.end_s:
                paste(frame, patches[f.patch % len(patches)], f.cx(t) * w, f.cy(t) * h, f.side(t) * h)
        yield t, frame


def write_clip(path, frames: Iterable, fps: float = 30, codec: str | None = None, rotation: int | None = None,
               time_base: Fraction | None = None) -> Path:
    """Encode (time_s, RGB frame) pairs. `codec` None: libx264 for .mp4/.mov/.mkv, vp9 for .webm, mpeg4
    for .avi. `rotation` (degrees counterclockwise) is written as a display matrix, as phones do. Frames
    keep their own times, so a variable frame rate can be written too."""
    import av

    path = Path(path)
    codec = codec or {".webm": "libvpx-vp9", ".avi": "mpeg4"}.get(path.suffix.lower(), "libx264")
    tb = time_base or Fraction(1, 1000)
    c = av.open(str(path), "w")
    try:
        s = c.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
        stream_set = False
        for t, rgb in frames:
            if not stream_set:
                s.height, s.width = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
                s.pix_fmt = "yuv420p"
                if codec == "libx264":
                    s.options = {"preset": "ultrafast"}
                if codec in ("libx264", "mpeg4"):
                    s.codec_context.time_base = tb
                if rotation:
                    s.set_display_rotation(rotation)
                stream_set = True
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[:s.height, :s.width]), format="rgb24")
            if codec in ("libx264", "mpeg4"):
                frame.pts, frame.time_base = int(round(t / tb)), tb
            for packet in s.encode(frame):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    finally:
        c.close()
    return path


def demo_faces(seconds: float = 6.0) -> list[Face]:
    """The sample clip's story: one face drifting and zooming the whole time, a second one entering at a
    third of the clip and leaving at two thirds."""
    third = seconds / 3
    return [Face(0, cx=lambda t: 0.3 + 0.08 * np.sin(t), cy=lambda t: 0.5, side=lambda t: 0.45 + 0.1 * np.sin(t / 2)),
            Face(1, start_s=third, end_s=2 * third, cx=lambda t: 0.75, cy=lambda t: 0.45, side=lambda t: 0.4)]


def face_box(face: Face, t: float, size=(640, 480)) -> tuple[float, float, float, float]:
    """Where `face`'s face is at `t` (x, y, w, h in frame pixels): a patch is twice its face's width, centred on it
    (face_patches), so the face is the middle half of the pasted square."""
    w, h = size
    side = face.side(t) * h
    cx, cy = face.cx(t) * w, face.cy(t) * h
    return cx - side / 4, cy - side / 4, side / 2, side / 2


def known_boxes(faces: list[Face], t: float, size=(640, 480)) -> list[tuple[float, float, float, float]]:
    """The face boxes on screen at `t`: what a detector and tracker should show, and nothing else."""
    return [face_box(f, t, size) for f in faces if f.start_s <= t < f.end_s]


def cut_scenes(scenes: list[list[Face]], hold_s: float, seconds: float) -> list[Face]:
    """Scenes shown in turn, each for `hold_s`, cut abruptly from one to the next (as a fake camera that
    alternates photos does): each face of each showing becomes a Face of its own, on screen for that showing."""
    out = []
    start, k = 0.0, 0
    while start < seconds:
        for f in scenes[k % len(scenes)]:
            out.append(Face(f.patch, start_s=start, end_s=min(start + hold_s, seconds), cx=f.cx, cy=f.cy,
                            side=f.side))
        start, k = start + hold_s, k + 1
    return out


def cut_faces(hold_s: float = 4.0, seconds: float = 60.0) -> list[Face]:
    """The phantom-track clip's story (bench/phantom_tracks.py, the tests): one big face on the left, then three
    smaller ones elsewhere (top left, right), cut from one to the other every `hold_s`. No face of one scene
    overlaps a face of the other: a box left where a face was before a cut is on an empty place."""
    one = [Face(0, cx=lambda t: 0.32, cy=lambda t: 0.58, side=lambda t: 0.6)]
    three = [Face(1, cx=lambda t: 0.2, cy=lambda t: 0.2, side=lambda t: 0.36),
             Face(2, cx=lambda t: 0.75, cy=lambda t: 0.27, side=lambda t: 0.4),
             Face(3, cx=lambda t: 0.76, cy=lambda t: 0.75, side=lambda t: 0.4)]
    return cut_scenes([one, three], hold_s, seconds)


def sample_clip(seconds: float = 6.0, fps: float = 15.0) -> Path:
    """The page's sample clip in the data cache, made once from the sample photos."""
    path = cache_dir() / "video" / f"sample-faces-{int(seconds)}s.mp4"
    if path.is_file() and path.stat().st_size > 0:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, ".mp4") as tmp:
        write_clip(tmp, scene_frames(face_patches(), demo_faces(seconds), seconds, fps), fps)
    return path
