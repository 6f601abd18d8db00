"""Images in, faces out: decoding, colour handling, face detection and the one way crops are made.

- `load_image(source)` decodes a path, bytes or file-like object to RGB uint8 (grey, RGBA, palette,
  16-bit, EXIF orientation, huge images downscaled with bounded memory); anything unusable raises
  `ImageError` with a sentence a user can act on.
- `FaceDetector` finds frontal faces with OpenCV's Haar cascade (shipped with opencv-python in
  `cv2.data.haarcascades`; nothing is downloaded), on a downscaled grey copy, so a webcam frame costs
  a few milliseconds.
- `crop_faces` makes the square grey crops every caller feeds to every model (webcam, upload, CLI,
  DeepFace comparison); `preprocess` turns crops into the normalised tensor our CNNs take.

No Streamlit here.
"""
from __future__ import annotations

import io
import math
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

CASCADE_FILE = "haarcascade_frontalface_default.xml"
_WINDOW = 24  # the cascade's detection window (pixels)

# Decoding limits: an image is never decoded at more than MAX_DECODE_PIXELS (JPEGs are decoded at a
# reduced scale by libjpeg itself, so even a 10,000 x 10,000 photo costs a few MB).
MAX_DECODE_PIXELS = 64_000_000
_PIL_LOCK = threading.Lock()


class ImageError(ValueError):
    """An input that cannot be used as an image; the message is a sentence for the user."""


class DetectorError(RuntimeError):
    """The face detector cannot be set up (e.g. the Haar cascade file is missing)."""


# ---------------------------------------------------------------- decoding

def _source_name(source) -> str:
    if isinstance(source, (str, os.PathLike)):
        return f"'{Path(source).name}'"
    name = getattr(source, "name", None)
    if isinstance(name, str) and name:
        return f"'{Path(name).name}'"
    return "The image"


def _open_bytes(source) -> tuple[io.BytesIO | object, str]:
    """A seekable binary stream for `source` (path, bytes-like or file-like)."""
    name = _source_name(source)
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise ImageError(f"{name}: no such file ({path}).")
        if path.is_dir():
            raise ImageError(f"{name} is a folder, not an image file.")
        try:
            data = path.read_bytes()
        except OSError as e:
            raise ImageError(f"{name} cannot be read ({e.strerror or e}).") from e
        stream = io.BytesIO(data)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        stream = io.BytesIO(bytes(source))
    elif hasattr(source, "read"):
        try:
            if hasattr(source, "seek") and getattr(source, "seekable", lambda: True)():
                source.seek(0)
            data = source.read()
        except Exception as e:  # noqa: BLE001 - any stream failure is the user's file failing
            raise ImageError(f"{name} cannot be read ({e}).") from e
        if isinstance(data, str):
            raise ImageError(f"{name} was opened in text mode; open it in binary mode ('rb').")
        stream = io.BytesIO(bytes(data))
    elif isinstance(source, np.ndarray):
        raise ImageError("Got an array, not an encoded image; pass the array straight to the detector.")
    else:
        raise ImageError(f"Cannot read an image from a {type(source).__name__}; give a path, bytes or a file.")
    if stream.getbuffer().nbytes == 0:
        raise ImageError(f"{name} is empty (0 bytes).")
    return stream, name


def _pil_open(stream, name):
    """PIL's lazy open (header only). PIL's decompression-bomb guard is replaced by our own limits:
    a huge image is decoded at a reduced scale or refused with a clear message, never a traceback."""
    from PIL import Image, UnidentifiedImageError

    def _open():
        stream.seek(0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(stream)

    try:
        try:
            return _open()
        except Image.DecompressionBombError:
            # Bigger than twice PIL's limit: open the header without PIL's check, then apply ours.
            with _PIL_LOCK:
                old = Image.MAX_IMAGE_PIXELS
                Image.MAX_IMAGE_PIXELS = None
                try:
                    return _open()
                finally:
                    Image.MAX_IMAGE_PIXELS = old
    except UnidentifiedImageError:
        raise ImageError(f"{name} is not an image file (or not in a format we can read: "
                         "use JPEG, PNG, BMP, WebP, GIF or TIFF).") from None
    except Exception as e:  # noqa: BLE001
        raise ImageError(f"{name} could not be opened as an image ({e}).") from e


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    """Any numeric image array -> uint8, scaling 16-bit and float data properly."""
    arr = np.asarray(arr)
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.floating):
        finite = arr[np.isfinite(arr)]
        hi = float(finite.max()) if finite.size else 1.0
        lo = float(finite.min()) if finite.size else 0.0
        if lo >= 0.0 and hi <= 1.0:
            out = arr * 255.0
        elif lo >= 0.0 and hi <= 255.0:
            out = arr
        else:
            out = (arr - lo) * (255.0 / max(hi - lo, 1e-12))
        return np.clip(np.nan_to_num(out), 0, 255).round().astype(np.uint8)
    if arr.dtype == np.uint16:  # 16-bit data: full range 0..65535 -> 0..255
        return ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        hi = int(arr.max()) if arr.size else 0
        lo = int(arr.min()) if arr.size else 0
        if lo >= 0 and hi <= 255:
            return arr.astype(np.uint8)
        if lo >= 0 and hi <= 65535:  # 16-bit data: full range 0..65535 -> 0..255
            return ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
        arr = arr.astype(np.float64)
        return np.clip((arr - lo) * (255.0 / max(hi - lo, 1)), 0, 255).round().astype(np.uint8)
    raise ImageError(f"Unsupported pixel type {arr.dtype}.")


def _pil_to_rgb(im) -> np.ndarray:
    """A loaded PIL image of any mode -> RGB uint8, transparency composited on white."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        arr = np.asarray(im)
        if mode.startswith("I;16") or (mode == "I" and im.format == "PNG" and arr.size and arr.min() >= 0
                                       and arr.max() <= 65535):
            arr = arr.astype(np.uint16)  # a 16-bit PNG: scale its full range, whatever the values
        grey = _to_uint8(arr)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode in ("LA", "La", "PA", "RGBa"):
        im = im.convert("RGBA")
    elif mode == "1":
        im = im.convert("L")
    elif mode not in ("RGB", "RGBA", "L"):
        im = im.convert("RGB")  # CMYK, YCbCr, LAB, HSV, ...
    arr = np.asarray(im)
    if im.mode == "L":
        return np.repeat(arr[:, :, None], 3, axis=2)
    if im.mode == "RGBA":
        rgb = arr[:, :, :3].astype(np.float32)
        a = arr[:, :, 3:4].astype(np.float32) / 255.0
        return (rgb * a + 255.0 * (1.0 - a)).round().astype(np.uint8)
    return np.ascontiguousarray(arr[:, :, :3])


def load_image(source, max_side: int = 4096) -> np.ndarray:
    """Decode an image (path, bytes, or binary file-like) to RGB uint8 (H, W, 3).

    Grey, palette, RGBA/LA (composited on white), 16-bit and CMYK images are converted; the EXIF
    orientation is applied; images with a side over `max_side` are downscaled (JPEGs while decoding,
    so memory stays bounded). Raises `ImageError` with a clear sentence for anything unusable.
    """
    from PIL import ImageOps

    stream, name = _open_bytes(source)
    im = _pil_open(stream, name)
    try:
        w, h = im.size
        if w <= 0 or h <= 0:
            raise ImageError(f"{name} has no pixels ({w} x {h}).")
        if max_side and max(w, h) > max_side and im.format == "JPEG":
            # libjpeg decodes at 1/2, 1/4 or 1/8 scale, never below the size asked for.
            f = max_side / max(w, h)
            try:
                im.draft(im.mode if im.mode in ("L", "RGB") else "RGB", (max(1, int(w * f)), max(1, int(h * f))))
            except Exception:  # noqa: BLE001 - draft is an optimisation only
                pass
        dw, dh = im.size
        if dw * dh > MAX_DECODE_PIXELS:
            raise ImageError(f"{name} is too large to open ({w:,} x {h:,} pixels, {w * h / 1e6:.0f} megapixels; "
                             f"the limit is {MAX_DECODE_PIXELS / 1e6:.0f} megapixels unless it is a JPEG). "
                             "Resize it, or save it as a JPEG, and try again.")
        try:
            im.load()
        except (OSError, SyntaxError, ValueError, EOFError) as e:
            text = str(e)
            if "truncated" in text.lower() or isinstance(e, EOFError):
                raise ImageError(f"{name} is damaged or incomplete (the file ends before the image does).") from e
            raise ImageError(f"{name} could not be decoded: it is damaged or not a supported image ({text}).") from e
        except MemoryError as e:
            raise ImageError(f"{name} is too large to decode in memory ({w:,} x {h:,} pixels).") from e
        try:
            im = ImageOps.exif_transpose(im) or im
        except Exception:  # noqa: BLE001 - a broken EXIF block must not lose the picture
            pass
        rgb = _pil_to_rgb(im)
    finally:
        try:
            im.close()
        except Exception:  # noqa: BLE001
            pass
    if max_side and max(rgb.shape[:2]) > max_side:
        f = max_side / max(rgb.shape[:2])
        size = (max(1, round(rgb.shape[1] * f)), max(1, round(rgb.shape[0] * f)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgb)


# ---------------------------------------------------------------- colour

def to_grey(image: np.ndarray, color: str = "rgb") -> np.ndarray:
    """HxW, HxWx1, HxWx3 (`color` "rgb" or "bgr") or HxWx4 (RGBA/BGRA) -> HxW uint8."""
    color = str(color).lower()
    if color not in ("rgb", "bgr"):
        raise ValueError(f"color must be 'rgb' or 'bgr', not {color!r}")
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    img = _to_uint8(img)
    if img.ndim == 2:
        return np.ascontiguousarray(img)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError(f"expected an HxW, HxWx1, HxWx3 or HxWx4 image, got shape {tuple(np.shape(image))}")
    if img.shape[2] == 3:
        code = cv2.COLOR_RGB2GRAY if color == "rgb" else cv2.COLOR_BGR2GRAY
    else:
        code = cv2.COLOR_RGBA2GRAY if color == "rgb" else cv2.COLOR_BGRA2GRAY
    return cv2.cvtColor(np.ascontiguousarray(img), code)


# ---------------------------------------------------------------- detection

@dataclass
class Face:
    """A face box in the ORIGINAL image's pixel coordinates, and the detector's confidence.

    `score` is in (0, 1): a logistic squash of the Haar cascade's last-stage weight. It ranks
    boxes; it is not a calibrated probability.
    """
    x: int
    y: int
    w: int
    h: int
    score: float = 1.0

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.w, self.h)


def cascade_path() -> Path:
    """Where OpenCV's frontal-face Haar cascade is; DetectorError if this OpenCV has none."""
    base = getattr(getattr(cv2, "data", None), "haarcascades", None)
    path = Path(base) / CASCADE_FILE if base else None
    if path is None or not path.is_file():
        raise DetectorError(
            f"OpenCV's face detector file {CASCADE_FILE} was not found"
            + (f" in {base}" if base else " (this OpenCV build has no cv2.data)")
            + f" (OpenCV {cv2.__version__}). Install the pinned opencv-contrib-python-headless 4.x from "
            "requirements.txt: the OpenCV 5 wheels ship no Haar cascades.")
    return path


def _box_overlap(a, b) -> tuple[float, float]:
    """(IoU, intersection over the smaller box) of two (x, y, w, h) boxes."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    if inter <= 0:
        return 0.0, 0.0
    aa, ab = a[2] * a[3], b[2] * b[3]
    return inter / float(aa + ab - inter), inter / float(max(min(aa, ab), 1))


def suppress_duplicates(faces: list[Face], iou: float = 0.3, contain: float = 0.6) -> list[Face]:
    """Keep the best-scoring box of each group of overlapping boxes (also a box mostly inside another)."""
    kept: list[Face] = []
    for f in sorted(faces, key=lambda f: (-f.score, -f.w * f.h)):
        if all(_box_overlap(f.box, k.box)[0] <= iou and _box_overlap(f.box, k.box)[1] <= contain for k in kept):
            kept.append(f)
    return kept


class FaceDetector:
    """Frontal faces with OpenCV's Haar cascade, fast enough for a live 640x480 webcam.

    scale_factor, min_neighbors: the cascade's own parameters (bigger = faster / stricter).
    min_size: the smallest face, as a fraction of the image's short side.
    detect_width: big frames are downscaled to this width (and at most twice it in height) before
    detection; boxes are mapped back to the original image.
    """

    def __init__(self, scale_factor: float = 1.1, min_neighbors: int = 5, min_size: float = 0.08,
                 detect_width: int = 480, cascade: str | os.PathLike | None = None):
        if not scale_factor > 1.0:
            raise ValueError(f"scale_factor must be > 1, got {scale_factor}")
        if not 0.0 <= float(min_size) < 1.0:
            raise ValueError(f"min_size is a fraction of the image's short side (0..1), got {min_size}")
        if int(detect_width) < 64:
            raise ValueError(f"detect_width must be at least 64 pixels, got {detect_width}")
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        self.min_size = float(min_size)
        self.detect_width = int(detect_width)
        self.cascade_file = Path(cascade) if cascade else cascade_path()
        if not self.cascade_file.is_file():
            raise DetectorError(f"face detector file {self.cascade_file} does not exist")
        try:
            self._cascade = cv2.CascadeClassifier(str(self.cascade_file))
        except Exception as e:  # noqa: BLE001 - OpenCV raises cv2.error / SystemError on a bad file
            raise DetectorError(f"face detector file {self.cascade_file} could not be loaded ({e})") from e
        if self._cascade.empty():
            raise DetectorError(f"face detector file {self.cascade_file} could not be loaded (corrupt?)")
        self._lock = threading.Lock()  # a CascadeClassifier is not safe to share between threads

    def __repr__(self) -> str:
        return (f"FaceDetector(scale_factor={self.scale_factor}, min_neighbors={self.min_neighbors}, "
                f"min_size={self.min_size}, detect_width={self.detect_width})")

    def detect(self, image: np.ndarray, color: str = "rgb") -> list[Face]:
        """Faces in `image` (HxW grey, HxWx3 RGB/BGR per `color`, or HxWx4), sorted left to right."""
        grey = to_grey(image, color)
        H, W = grey.shape
        scale = min(1.0, self.detect_width / W, 2.0 * self.detect_width / H)
        small = grey
        if scale < 1.0:
            small = cv2.resize(grey, (max(1, round(W * scale)), max(1, round(H * scale))),
                               interpolation=cv2.INTER_AREA)
        sh, sw = small.shape
        min_px = max(_WINDOW, int(math.floor(self.min_size * min(sh, sw))))
        if min(sh, sw) < min_px:
            return []
        small = cv2.equalizeHist(small)
        with self._lock:
            rects, _levels, weights = self._cascade.detectMultiScale3(
                small, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
                minSize=(min_px, min_px), outputRejectLevels=True)
        rects = np.asarray(rects).reshape(-1, 4)
        weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        sx, sy = W / sw, H / sh
        faces = []
        for i, (x, y, w, h) in enumerate(rects.tolist()):
            x0, y0 = max(0, int(round(x * sx))), max(0, int(round(y * sy)))
            x1, y1 = min(W, int(round((x + w) * sx))), min(H, int(round((y + h) * sy)))
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            weight = float(weights[i]) if i < len(weights) else 0.0
            score = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, weight))))
            faces.append(Face(x0, y0, x1 - x0, y1 - y0, round(score, 4)))
        faces = suppress_duplicates(faces)
        return sorted(faces, key=lambda f: (f.x, f.y))

    __call__ = detect


# ---------------------------------------------------------------- crops

def _box_of(face) -> tuple[float, float, float, float]:
    if hasattr(face, "box"):
        face = face.box
    elif all(hasattr(face, k) for k in ("x", "y", "w", "h")):
        face = (face.x, face.y, face.w, face.h)
    x, y, w, h = (float(v) for v in face)
    return x, y, w, h


def crop_faces(image: np.ndarray, faces: Sequence, margin: float = 0.15, size: int = 48,
               color: str = "rgb") -> np.ndarray:
    """Square grey crops (N, size, size) uint8 around each face box.

    The square has the box's longer side plus `margin` of it on every side, centred on the box;
    parts outside the image are filled by replicating the border. Downscaling uses INTER_AREA
    (upscaling tiny faces INTER_LINEAR). `faces` are `Face`s, objects with `.box`, or (x, y, w, h).
    This is the one place crops are made, for every caller and every model.
    """
    size = int(size)
    faces = list(faces or [])
    out = np.empty((len(faces), size, size), dtype=np.uint8)
    if not faces:
        return out
    grey = to_grey(image, color)
    H, W = grey.shape
    for i, face in enumerate(faces):
        x, y, w, h = _box_of(face)
        side = max(1, int(round(max(w, h) * (1.0 + 2.0 * float(margin)))))
        x0 = int(round(x + w / 2.0 - side / 2.0))
        y0 = int(round(y + h / 2.0 - side / 2.0))
        x1, y1 = x0 + side, y0 + side
        cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(W, x1), min(H, y1)
        if cx1 <= cx0 or cy1 <= cy0:  # entirely outside: nearest border pixels
            cx0, cy0 = min(max(x0, 0), W - 1), min(max(y0, 0), H - 1)
            cx1, cy1 = cx0 + 1, cy0 + 1
        patch = grey[cy0:cy1, cx0:cx1]
        pads = (cy0 - y0, y1 - cy1, cx0 - x0, x1 - cx1)
        if any(p > 0 for p in pads):
            top, bottom, left, right = (max(0, p) for p in pads)
            patch = cv2.copyMakeBorder(patch, top, bottom, left, right, cv2.BORDER_REPLICATE)
        interp = cv2.INTER_AREA if patch.shape[0] >= size else cv2.INTER_LINEAR
        out[i] = cv2.resize(patch, (size, size), interpolation=interp)
    return out


def as_crop(crop) -> np.ndarray:
    """One crop as a 2-D grey uint8 array (colour crops are taken as RGB)."""
    arr = np.asarray(crop)
    if arr.ndim == 3 and arr.shape[2] in (1, 3, 4):
        return to_grey(arr, "rgb")
    if arr.ndim != 2:
        raise ValueError(f"a face crop must be a 2-D grey image, got shape {arr.shape}")
    return _to_uint8(arr)


def resize_crops(crops, size: int) -> np.ndarray:
    """Crops of any sizes -> (N, size, size) uint8."""
    if isinstance(crops, np.ndarray) and crops.ndim == 3 and crops.dtype == np.uint8 \
            and crops.shape[1:] == (size, size):
        return crops
    out = np.empty((len(crops), size, size), dtype=np.uint8)
    for i, c in enumerate(crops):
        c = as_crop(c)
        if c.shape != (size, size):
            interp = cv2.INTER_AREA if min(c.shape) >= size else cv2.INTER_LINEAR
            c = cv2.resize(c, (size, size), interpolation=interp)
        out[i] = c
    return out


def preprocess(crops, size: int, mean: float, std: float):
    """Crops (N, H, W) or a list of 2-D arrays -> float tensor (N, 1, size, size), normalised by
    `core.data.normalize`, the one normalisation training and inference share."""
    import torch

    from .data import normalize

    arr = resize_crops(crops, int(size))
    return normalize(torch.from_numpy(np.ascontiguousarray(arr)).unsqueeze(1), mean, std)
