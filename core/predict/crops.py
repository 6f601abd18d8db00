"""The one way face crops are made, for every caller and every model (webcam, photos, video, CLI, DeepFace
comparison), and the one way crops become the tensor our CNNs take."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from ..data import apply_grey, normalize
from ..data.images import to_grey, to_uint8
from .boxes import box_of


# How much room a crop leaves around a detector's box, as a share of the box on every side. FER2013's faces
# are framed tightly: YuNet's box of a FER2013 face is 0.96 of its 48 px frame (Haar's 0.97; measured on 600
# Training faces pasted on canvases: bench/detection.py, "crop framing"), so a margin of 0.02 gives the models
# faces framed as they learned them. The 0.15 used before showed them faces at 80% of that size: 6.7 points
# lower accuracy on re-detected PrivateTest faces (69.86% against 63.20%, seed-resnet with flip).
FACE_MARGIN = 0.02


def crop_faces(image: np.ndarray, faces: Sequence, margin: float = FACE_MARGIN, size: int = 48,
               color: str = "rgb", align: bool = False) -> np.ndarray:
    """Square grey crops (N, size, size) uint8 around each face box.

    The square has the box's longer side plus `margin` of it on every side, centred on the box;
    parts outside the image are filled by replicating the border. Downscaling uses INTER_AREA
    (upscaling tiny faces INTER_LINEAR). `faces` are `Face`s, objects with `.box`, or (x, y, w, h).
    With `align`, a face that has landmarks is rotated about its centre so that its eyes are level (the
    upright faces FER2013 and our models know); faces without landmarks are cropped as they are.
    This is the one place crops are made, for every caller and every model.
    """
    size = int(size)
    faces = list(faces or [])
    out = np.empty((len(faces), size, size), dtype=np.uint8)
    if not faces:
        return out
    grey = to_grey(image, color)
    for i, face in enumerate(faces):
        x, y, w, h = box_of(face)
        side = max(1, int(round(max(w, h) * (1.0 + 2.0 * float(margin)))))
        cx, cy = x + w / 2.0, y + h / 2.0
        angle = None
        if align:  # a tilt the caller measured (a track's), else the one its landmarks show
            angle = getattr(face, "angle", None)
            angle = eye_angle(getattr(face, "landmarks", None)) if angle is None else angle
        if angle is None or abs(angle) < 0.5:
            out[i] = _square(grey, cx, cy, side, size)
            continue
        out[i] = _rotated_square(grey, cx, cy, side, size, angle)
    return out


# The turn is sampled at this many times the crop's resolution, then shrunk with INTER_AREA: turning the
# 48 px crop itself blurred it twice (INTER_AREA, then INTER_LINEAR), which cost 0.9 points of accuracy on
# upright faces; at 4x, aligned crops score as the unturned ones upright and still gain at +-20 degrees
# (bench/detection.py, "aligned" rows).
ROTATE_OVERSAMPLE = 4


def _rotated_square(grey: np.ndarray, cx: float, cy: float, side: int, size: int, angle: float) -> np.ndarray:
    """`_square`, turned by `angle` degrees about its centre first: one affine warp from the frame (crop,
    scale and turn at once, about 0.5 ms a face), after an INTER_AREA shrink where the face is big enough
    for the warp's sampling to alias."""
    fine = size * ROTATE_OVERSAMPLE
    if side > 2 * fine:
        big = int(round(fine * 1.5))  # room for the corners the turn brings in
        grey = _square(grey, cx, cy, int(round(side * 1.5)), big)
        cx = cy = big / 2.0
        side = fine
    rot = cv2.getRotationMatrix2D((cx, cy), angle, fine / side)
    rot[0, 2] += fine / 2.0 - cx
    rot[1, 2] += fine / 2.0 - cy
    patch = cv2.warpAffine(grey, rot, (fine, fine), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)


def eye_angle(landmarks) -> float | None:
    """The tilt of the eye line in degrees (positive: the face's left eye, on the image's right, is lower),
    from five landmarks (right eye, left eye, ...); None without landmarks."""
    if landmarks is None or len(landmarks) < 2:
        return None
    (rx, ry), (lx, ly) = landmarks[0][:2], landmarks[1][:2]
    if not all(np.isfinite([rx, ry, lx, ly])) or (lx - rx) ** 2 + (ly - ry) ** 2 < 1:
        return None
    return float(np.degrees(np.arctan2(ly - ry, lx - rx)))


def _square(grey: np.ndarray, cx: float, cy: float, side: int, size: int) -> np.ndarray:
    """The side x side square centred on (cx, cy), border-replicated where it leaves the image, resized to size."""
    H, W = grey.shape
    x0 = int(round(cx - side / 2.0))
    y0 = int(round(cy - side / 2.0))
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
    return cv2.resize(patch, (size, size), interpolation=interp)


def as_crop(crop) -> np.ndarray:
    """One crop as a 2-D grey uint8 array (colour crops are taken as RGB)."""
    arr = np.asarray(crop)
    if arr.ndim == 3 and arr.shape[2] in (1, 3, 4):
        return to_grey(arr, "rgb")
    if arr.ndim != 2:
        raise ValueError(f"a face crop must be a 2-D grey image, got shape {arr.shape}")
    return to_uint8(arr)


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


def preprocess(crops, size: int, mean: float, std: float, grey: str = "none"):
    """Crops (N, H, W) or a list of 2-D arrays -> float tensor (N, 1, size, size): resized to the model's face size,
    through its grey-level step (`core.data.apply_grey`, as its training faces were) and normalised by
    `core.data.normalize`, the one normalisation training and inference share."""
    import torch

    arr = apply_grey(resize_crops(crops, int(size)), grey)
    return normalize(torch.from_numpy(np.ascontiguousarray(arr)).unsqueeze(1), mean, std)
