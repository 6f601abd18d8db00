"""Boxes, labels and landmarks drawn on images and video frames (OpenCV; no Streamlit).

Every function works on RGB or BGR arrays: pass `color="bgr"` for OpenCV / webcam frames.
"""
from __future__ import annotations

import cv2
import numpy as np

# One colour per class, RGB. Emotions follow a common convention (happy warm, sad blue, ...).
CLASS_COLORS = {
    "angry": (220, 38, 38),
    "disgust": (101, 163, 13),
    "fear": (147, 51, 234),
    "happy": (234, 179, 8),
    "sad": (37, 99, 235),
    "surprise": (6, 182, 212),
    "neutral": (100, 116, 139),
    "contempt": (190, 24, 93),  # FER+'s eighth emotion
    "no_stress": (22, 163, 74),
    "stress": (234, 88, 12),
}
DEFAULT_COLOR = (79, 70, 229)
STRESS_COLOR = (234, 88, 12)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def class_color(name: str | None) -> tuple[int, int, int]:
    return CLASS_COLORS.get(str(name), DEFAULT_COLOR)


def hex_color(name: str | None) -> str:
    r, g, b = class_color(name)
    return f"#{r:02x}{g:02x}{b:02x}"


def _c(rgb, color: str):
    return tuple(int(v) for v in (rgb[::-1] if color == "bgr" else rgb))


def text_scale(image: np.ndarray) -> float:
    """Text and line size that reads well on a 320 px thumbnail and on a 4K photo alike."""
    return max(0.45, min(image.shape[:2]) / 640.0)


def draw_label(image: np.ndarray, text: str, x: int, y: int, rgb, color: str = "rgb", font_scale: float | None = None,
               above: bool = True) -> None:
    """A filled tag with white text, its bottom-left corner at (x, y) (or its top-left, if not `above`)."""
    h_img, w_img = image.shape[:2]
    fs = font_scale or 0.55 * text_scale(image)
    thick = max(1, int(round(fs * 1.8)))
    (tw, th), base = cv2.getTextSize(text, FONT, fs, thick)
    pad = max(2, int(th * 0.35))
    box_h = th + base + 2 * pad
    top = y - box_h if above else y
    if top < 0:  # no room above: put it inside the box instead
        top = y if above else 0
    top = int(min(max(top, 0), max(h_img - box_h, 0)))
    left = int(min(max(x, 0), max(w_img - tw - 2 * pad, 0)))
    cv2.rectangle(image, (left, top), (left + tw + 2 * pad, top + box_h), _c(rgb, color), -1)
    cv2.putText(image, text, (left + pad, top + pad + th), FONT, fs, (255, 255, 255), thick, cv2.LINE_AA)


def draw_face(image: np.ndarray, box, label: str | None = None, rgb=DEFAULT_COLOR, color: str = "rgb",
              sublabel: str | None = None, sub_rgb=None) -> None:
    """One face: a box, a tag above it (`label`), and optionally a second tag below it (`sublabel`)."""
    x, y, w, h = (int(v) for v in box)
    s = text_scale(image)
    cv2.rectangle(image, (x, y), (x + w, y + h), _c(rgb, color), max(2, int(round(2.5 * s))), cv2.LINE_AA)
    if label:
        draw_label(image, label, x, y, rgb, color)
    if sublabel:
        draw_label(image, sublabel, x, y + h, sub_rgb or rgb, color, above=False)


def annotate(image: np.ndarray, faces: list[dict], color: str = "rgb", copy: bool = True) -> np.ndarray:
    """Draw several faces; each dict has `box` and optionally `label`, `cls` (for its colour), `sublabel`,
    `sub_cls`. Returns the annotated image (a copy unless `copy=False`)."""
    out = image.copy() if copy else image
    if out.ndim == 2:
        out = cv2.cvtColor(out, cv2.COLOR_GRAY2RGB if color == "rgb" else cv2.COLOR_GRAY2BGR)
    for f in faces:
        draw_face(out, f["box"], f.get("label"), class_color(f.get("cls")), color,
                  f.get("sublabel"), class_color(f.get("sub_cls")) if f.get("sub_cls") else None)
    return out


def draw_landmarks(image: np.ndarray, landmarks, color: str = "rgb", rgb=(250, 204, 21)) -> None:
    """The detector's five landmarks (eyes, nose, mouth corners) as dots."""
    r = max(2, int(round(2 * text_scale(image))))
    for x, y in landmarks:
        cv2.circle(image, (int(round(x)), int(round(y))), r, _c(rgb, color), -1, cv2.LINE_AA)


def banner(image: np.ndarray, text: str, rgb=(15, 23, 42), color: str = "rgb") -> None:
    """A line of text in the top-left corner (frame rate, a warning)."""
    draw_label(image, text, 4, 4, rgb, color, font_scale=0.45 * text_scale(image), above=False)


def fit_width(image: np.ndarray, max_width: int = 1280) -> np.ndarray:
    """Downscale for display only (the analysis works on the full image)."""
    h, w = image.shape[:2]
    if w <= max_width:
        return image
    return cv2.resize(image, (max_width, int(round(h * max_width / w))), interpolation=cv2.INTER_AREA)


def grey_to_rgb(crop: np.ndarray, size: int = 144) -> np.ndarray:
    """A 48x48 grey crop enlarged for display."""
    interp = cv2.INTER_NEAREST if crop.shape[0] < size // 2 else cv2.INTER_LINEAR
    img = cv2.resize(crop, (size, size), interpolation=interp)
    return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB) if img.ndim == 2 else img
