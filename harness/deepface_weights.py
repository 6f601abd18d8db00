"""Untrained weights for DeepFace's emotion model, for tests and speed benchmarks on machines without internet
(speed does not depend on the values). Test-only: the app never writes them, it only says when it finds them
(core.predict.deepface reads the mark `_RANDOM_MARK` this file writes)."""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from core.files import atomic_path
from core.predict import deepface as dfb


def _build_emotion_architecture():
    """DeepFace's own emotion network (deepface.models.demography.tf.Emotion.load_model), untrained.

    load_model always fetches and loads weights after building; we stub those two steps for the
    duration of the call so that nothing is downloaded."""
    dfb._import_tf()
    from deepface.commons import weight_utils
    from deepface.models.demography.tf import Emotion

    with dfb._lock:
        saved = weight_utils.download_weights_if_necessary, weight_utils.load_model_weights
        weight_utils.download_weights_if_necessary = lambda file_name, source_url, compress_type=None: file_name
        weight_utils.load_model_weights = lambda model, weight_file: model
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return Emotion.load_model()
        finally:
            weight_utils.download_weights_if_necessary, weight_utils.load_model_weights = saved


def _save_legacy_h5(model, path: Path) -> None:
    import h5py

    if type(model).__module__.startswith("tf_keras"):  # deepface on tf-keras (TF_USE_LEGACY_KERAS=1)
        model.save_weights(str(path))
    else:  # Keras 3: model.save_weights wants *.weights.h5 and writes a layout DeepFace cannot read
        from keras.src.legacy.saving import legacy_h5_format

        with h5py.File(path, "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, model)
    with h5py.File(path, "a") as f:
        f.attrs[dfb._RANDOM_MARK] = "untrained weights from harness/deepface_weights.py"


def write_random_weights(deepface_home: str | os.PathLike | None = None, overwrite: bool = False) -> Path:
    """Write untrained weights for DeepFace's emotion model where DeepFace loads them.

    Written in the legacy Keras h5 layout that DeepFace's `model.load_weights(...h5)` reads, and checked by
    loading them back with DeepFace's loader. Refuses to replace a file it did not write itself (real
    weights) unless overwrite=True."""
    home = Path(deepface_home) if deepface_home is not None else Path(dfb._deepface_home())
    path = home / ".deepface" / "weights" / dfb.EMOTION_WEIGHTS_FILE
    if path.exists() and not overwrite and not dfb._is_random(path):
        raise FileExistsError(f"{path} exists and is not random weights written by us; pass overwrite=True to replace it")
    from deepface.commons import weight_utils

    model = _build_emotion_architecture()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, ".h5") as tmp:
        _save_legacy_h5(model, tmp)
        # the proof that DeepFace can use the file: its own loader, into a fresh network
        check = weight_utils.load_model_weights(model=_build_emotion_architecture(), weight_file=str(tmp))
        if not all(np.array_equal(a, b) for a, b in zip(model.get_weights(), check.get_weights())):
            raise RuntimeError(f"DeepFace read back different weights from {tmp}")
    return path
