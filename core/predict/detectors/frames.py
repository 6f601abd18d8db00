"""The frame preparation the detectors share: any array (grey, RGB/BGR, RGBA, float, empty, huge) becomes a
small contiguous uint8 BGR copy, or None. Its own module, below the registry and every detector family, so
that a wrapper of any detector (core.predict.detectors.turned) can use it too."""
from __future__ import annotations

import cv2
import numpy as np

from ...data.images import channel_order, to_uint8


def detection_frame(image, color: str, max_w: int, max_h: int, scale_cap: float = 1.0):
    """(small BGR uint8 HxWx3 contiguous copy, its scale against the frame, frame H, frame W), or None for
    an empty or degenerate frame. The copy is at most max_w x max_h and at most `scale_cap` times the frame.
    Huge non-uint8 frames are subsampled before conversion, so an 8000x6000 float frame costs little."""
    img, color = channel_order(image, color)
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)):
        raise ValueError(f"expected an HxW, HxWx1, HxWx3 or HxWx4 image, got shape {tuple(np.shape(image))}")
    H, W = img.shape[:2]
    if img.size == 0 or H < 2 or W < 2:
        return None
    scale = min(1.0, float(scale_cap), max_w / W, max_h / H)
    tw, th = max(1, int(round(W * scale))), max(1, int(round(H * scale)))
    if img.dtype != np.uint8:
        step = max(1, int(1.0 / (2.0 * scale)))  # keep >= 2x the target before the area resize
        img = to_uint8(img[::step, ::step])
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[:, :, :3]
    if (tw, th) != (img.shape[1], img.shape[0]):
        img = cv2.resize(img, (tw, th), interpolation=cv2.INTER_AREA)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif color == "rgb":
        img = img[:, :, ::-1]
    return np.ascontiguousarray(img), tw / W, H, W
