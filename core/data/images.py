"""Images in: any path, bytes or file a user gives becomes RGB uint8, or an `ImageError` with a sentence
they can act on (grey, palette, RGBA, 16-bit, CMYK, EXIF orientation, bombs and huge photos handled with
bounded memory). `to_grey` is the one colour conversion every crop and detector uses."""
from __future__ import annotations

import io
import os
import threading
import warnings
from pathlib import Path

import cv2
import numpy as np

# Decoding limits: an image is never decoded at more than MAX_DECODE_PIXELS (JPEGs are decoded at a
# reduced scale by libjpeg itself, so even a 10,000 x 10,000 photo costs a few MB).
MAX_DECODE_PIXELS = 64_000_000
MAX_FILE_BYTES = 512_000_000  # the largest image file read (the app's upload limit is 500 MB)
_PIL_LOCK = threading.Lock()


class ImageError(ValueError):
    """An input that cannot be used as an image; the message is a sentence for the user."""


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
        if not path.is_file():  # a FIFO would block for ever, /dev/zero never end
            raise ImageError(f"{name} is not a regular file (a pipe, a device or a socket): give an image file.")
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ImageError(f"{name} is {path.stat().st_size / 1e6:,.0f} MB: larger than any photo we read "
                                 f"({MAX_FILE_BYTES / 1e6:.0f} MB at most).")
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
            data = source.read(MAX_FILE_BYTES + 1)  # a stream that never ends is cut, not read for ever
        except Exception as e:  # noqa: BLE001 - any stream failure is the user's file failing
            raise ImageError(f"{name} cannot be read ({e}).") from e
        if len(data) > MAX_FILE_BYTES:
            raise ImageError(f"{name} is larger than any photo we read ({MAX_FILE_BYTES / 1e6:.0f} MB at most).")
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


def to_uint8(arr: np.ndarray) -> np.ndarray:
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
        grey = to_uint8(arr)
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
    if im.mode == "RGBA":  # on white, in 16-bit integers (exactly the rounded float result, at a third the memory)
        a = arr[:, :, 3:4].astype(np.uint16)
        out = arr[:, :, :3].astype(np.uint16) * a  # at most 255 * 255: fits, with what is added below
        out += (255 - a) * 255 + 127
        out //= 255
        return out.astype(np.uint8)
    return np.ascontiguousarray(arr[:, :, :3])


_SHRINKABLE = ("L", "RGB", "RGBA", "LA", "I", "F", "CMYK", "P", "1")


def _shrink(im, max_side: int):
    """An image with a side over `max_side`, brought down to it by PIL in the image's own 8-bit buffers, before
    any conversion: a 62-megapixel RGBA PNG then costs its decode (250 MB), not gigabytes of float copies."""
    from PIL import Image

    w, h = im.size
    if not max_side or max(w, h) <= max_side or im.mode not in _SHRINKABLE:
        return im
    if im.mode in ("P", "1"):  # a palette is not averaged: its colours first
        im = im.convert("RGBA" if "transparency" in im.info else "RGB" if im.mode == "P" else "L")
    f = max_side / max(w, h)
    return im.resize((max(1, round(w * f)), max(1, round(h * f))), Image.Resampling.BOX)


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
        rgb = _pil_to_rgb(_shrink(im, max_side))
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

def channel_order(image, color: str) -> tuple[np.ndarray, str]:
    """(the image as an array, HxWx1 made HxW; `color` checked and lower-cased: "rgb" or "bgr")."""
    color = str(color).lower()
    if color not in ("rgb", "bgr"):
        raise ValueError(f"color must be 'rgb' or 'bgr', not {color!r}")
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    return img, color


def to_grey(image: np.ndarray, color: str = "rgb") -> np.ndarray:
    """HxW, HxWx1, HxWx3 (`color` "rgb" or "bgr") or HxWx4 (RGBA/BGRA) -> HxW uint8."""
    img, color = channel_order(image, color)
    img = to_uint8(img)
    if img.ndim == 2:
        return np.ascontiguousarray(img)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError(f"expected an HxW, HxWx1, HxWx3 or HxWx4 image, got shape {tuple(np.shape(image))}")
    if img.shape[2] == 3:
        code = cv2.COLOR_RGB2GRAY if color == "rgb" else cv2.COLOR_BGR2GRAY
    else:
        code = cv2.COLOR_RGBA2GRAY if color == "rgb" else cv2.COLOR_BGRA2GRAY
    return cv2.cvtColor(np.ascontiguousarray(img), code)
