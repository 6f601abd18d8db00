"""OpenCV's Haar cascade (Viola-Jones, 2001): frontal faces, no landmarks, shipped with opencv-python in
`cv2.data.haarcascades` (nothing is downloaded). Run on a downscaled, equalised grey copy."""
from __future__ import annotations

import math
import os
import threading
from pathlib import Path

import cv2
import numpy as np

from ...data.images import to_grey
from ..boxes import Face, suppress_duplicates
from .base import DetectorBase, clip_face
from .registry import DetectorError, register_detector

CASCADE_FILE = "haarcascade_frontalface_default.xml"
_WINDOW = 24  # the cascade's detection window (pixels)


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


@register_detector("haar")
class HaarDetector(DetectorBase):
    """Frontal faces with OpenCV's Haar cascade (no landmarks), fast enough for a live 640x480 webcam.

    scale_factor, min_neighbors: the cascade's own parameters (bigger = faster / stricter).
    min_size: the smallest face, as a fraction of the image's short side.
    detect_width: big frames are downscaled to this width (and at most twice it in height) before
    detection; boxes are mapped back to the original image.
    """

    def __init__(self, scale_factor: float = 1.1, min_neighbors: int = 5, min_size: float = 0.08,
                 detect_width: int = 480, cascade: str | os.PathLike | None = None):
        if not scale_factor > 1.0:
            raise ValueError(f"scale_factor must be > 1, got {scale_factor}")
        super().__init__(min_size, detect_width)
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
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
        return (f"HaarDetector(scale_factor={self.scale_factor}, min_neighbors={self.min_neighbors}, "
                f"min_size={self.min_size}, detect_width={self.detect_width})")

    def detect(self, image: np.ndarray, color: str = "rgb") -> list[Face]:
        """Faces in `image` (HxW grey, HxWx3 RGB/BGR per `color`, or HxWx4; any numeric type), sorted left to
        right. An empty or degenerate frame has no faces."""
        shape = np.shape(image)
        if len(shape) < 2 or shape[0] < 2 or shape[1] < 2 or np.size(image) == 0:
            if str(color).lower() not in ("rgb", "bgr"):
                raise ValueError(f"color must be 'rgb' or 'bgr', not {color!r}")
            return []
        arr = np.asarray(image)
        if arr.dtype != np.uint8:  # a huge float frame: subsample before the conversion (>= 2x what is searched)
            scale = min(1.0, self.detect_width / shape[1], 2.0 * self.detect_width / shape[0])
            step = max(1, int(1.0 / (2.0 * scale)))
            arr = arr[::step, ::step]
        grey = to_grey(arr, color)
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
        H, W = shape[0], shape[1]  # boxes in the frame's own pixels, subsampled or not
        sx, sy = W / sw, H / sh
        faces = []
        for i, (x, y, w, h) in enumerate(rects.tolist()):
            weight = float(weights[i]) if i < len(weights) else 0.0
            score = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, weight))))
            face = clip_face(x * sx, y * sy, (x + w) * sx, (y + h) * sy, score, None, H, W, min_box=2)
            if face is not None:
                faces.append(face)
        faces = suppress_duplicates(faces)
        return sorted(faces, key=lambda f: (f.x, f.y))

