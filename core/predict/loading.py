"""Predictors by name, loaded once per process and reused: "deepface" or any checkpoint (path, file in
model/, run id, listed name). The one predictor cache: the CLI, the workflows and the app's pages (ui/loaders.py)
all ask here, so clearing it (`clear_caches`) forgets every loaded model."""
from __future__ import annotations

import os
import threading

from ..labels import tta_mode
from .base import Predictor
from .catalogue import clear_info_cache, resolve_model
from .cnn import CNNPredictor

DEEPFACE = "deepface"
MAX_LOADED = 16  # predictors kept; the least recently loaded goes first

_PREDICTORS: dict[tuple, Predictor] = {}
_PREDICTORS_LOCK = threading.Lock()


def load_predictor(path_or_name, tta: str | None = None, warm: bool = False) -> Predictor:
    """A predictor, loaded once and reused: "deepface" -> DeepFacePredictor, anything else is a
    checkpoint (path, name in model/, or run id) -> CNNPredictor. Raises CheckpointError naming the file.
    `warm`: also load what it loads lazily and run one face through it (Predictor.warm_up), as a page does
    before it times anything."""
    tta = tta_mode(tta)
    if str(path_or_name).strip().lower() == DEEPFACE:
        key = (DEEPFACE, os.environ.get("DEEPFACE_HOME"))
        with _PREDICTORS_LOCK:
            if key not in _PREDICTORS:
                from .deepface import DeepFacePredictor  # TensorFlow only now

                _keep(key, DeepFacePredictor())
            hit = _PREDICTORS[key]
    else:
        path = resolve_model(path_or_name)
        st = path.stat()
        key = (str(path.resolve()), st.st_mtime_ns, st.st_size, tta)
        with _PREDICTORS_LOCK:
            hit = _PREDICTORS.get(key)
            if hit is None:
                for k in [k for k in _PREDICTORS if k[0] == key[0] and k[-1] == tta]:
                    del _PREDICTORS[k]  # the file changed: forget the old weights
                hit = _keep(key, CNNPredictor(path, tta=tta))
    if warm:
        hit.warm_up()  # outside the lock: DeepFace's first pass takes seconds
    return hit


def _keep(key: tuple, predictor: Predictor) -> Predictor:
    while len(_PREDICTORS) >= MAX_LOADED:
        del _PREDICTORS[next(iter(_PREDICTORS))]
    _PREDICTORS[key] = predictor
    return predictor


def clear_caches() -> None:
    with _PREDICTORS_LOCK:
        _PREDICTORS.clear()
    clear_info_cache()
