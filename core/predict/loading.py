"""Predictors by name, loaded once per process and reused: "deepface" or any checkpoint (path, file in
model/, run id, listed name)."""
from __future__ import annotations

import threading

from .base import Predictor, tta_mode
from .catalogue import clear_info_cache, resolve_model
from .cnn import CNNPredictor

DEEPFACE = "deepface"

_PREDICTORS: dict[tuple, Predictor] = {}
_PREDICTORS_LOCK = threading.Lock()


def load_predictor(path_or_name, tta: str | None = None) -> Predictor:
    """A predictor, loaded once and reused: "deepface" -> DeepFacePredictor, anything else is a
    checkpoint (path, name in model/, or run id) -> CNNPredictor. Raises CheckpointError naming the file."""
    tta = tta_mode(tta)
    if str(path_or_name).strip().lower() == DEEPFACE:
        key = (DEEPFACE,)
        with _PREDICTORS_LOCK:
            if key not in _PREDICTORS:
                from .deepface import DeepFacePredictor  # TensorFlow only now

                _PREDICTORS[key] = DeepFacePredictor()
            return _PREDICTORS[key]
    path = resolve_model(path_or_name)
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, tta)
    with _PREDICTORS_LOCK:
        hit = _PREDICTORS.get(key)
        if hit is None:
            stale = [k for k in _PREDICTORS if k[0] == key[0] and k[3] == tta]
            for k in stale:  # the file changed: forget the old weights
                del _PREDICTORS[k]
            hit = _PREDICTORS[key] = CNNPredictor(path, tta=tta)
        return hit


def clear_caches() -> None:
    with _PREDICTORS_LOCK:
        _PREDICTORS.clear()
    clear_info_cache()
