"""DeepFace's pre-trained emotion model behind our `Predictor` interface, plus DeepFace end to end.

Why this module exists, rather than calling `DeepFace.analyze` directly:
- Importing TensorFlow takes seconds, and the app imports this module at start: deepface and
  TensorFlow are imported inside functions only. `weights_status()` never imports them.
- DeepFace downloads missing weights on first use. Offline (as on our machines) that means a
  traceback from requests/gdown after network timeouts; here a missing file that cannot be
  fetched raises `DeepFaceUnavailable` at once, naming the file, the folder and the URL.
- `from deepface import DeepFace` refuses TensorFlow >= 2.16 without the `tf-keras` package,
  which we do not install (Keras 3 runs the model fine). So we use the modules that
  `DeepFace.analyze` delegates to (`deepface.modules.demography.analyze`, `modeling.build_model`).
- Our CNNs and DeepFace must see the same face crops for a fair comparison:
  `DeepFacePredictor.predict` feeds our crops to DeepFace's own model and preprocessing.
- DeepFace's labels are mapped to ours by name, never by position.
"""
from __future__ import annotations

import os
import shutil
import socket
import threading
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Sequence

import numpy as np

from ..files import atomic_path
from ..labels import EMOTIONS, canonical
from ..native import before_tensorflow
from ..settings import tf_threads
from .base import Predictor

EMOTION_WEIGHTS_FILE = "facial_expression_model_weights.h5"
# Where deepface 0.0.103 fetches it (deepface/models/demography/tf/Emotion.py, WEIGHTS_URL:
# the GitHub release first, Hugging Face as the backup). Copied here so that weights_status()
# need not import deepface's model module, which imports TensorFlow; a test checks they agree.
EMOTION_WEIGHTS_URLS: tuple[str, ...] = (
    "https://github.com/serengil/deepface_models/releases/download/v1.0/facial_expression_model_weights.h5",
    "https://huggingface.co/serengil/deepface/resolve/main/facial_expression_model_weights.h5",
)
PROBE_TIMEOUT_S = 2.0
_RANDOM_MARK = "fel_random_weights"  # h5 attribute of untrained weights (harness/deepface_weights.py writes them)

_lock = threading.RLock()
_client = None          # deepface's EmotionClient, built through deepface.modules.modeling
_client_key = None      # (path, mtime_ns, size) of the weights file it was loaded from
_tf_ready = False


class DeepFaceUnavailable(RuntimeError):
    """DeepFace cannot run here (weights missing and not downloadable): a message for the user, no traceback."""


# ---------------------------------------------------------------- where the weights live


def _deepface_home() -> str:
    # The same expression as deepface.commons.folder_utils.get_deepface_home, read at call time
    # (an empty DEEPFACE_HOME means the current folder there too).
    return str(os.getenv("DEEPFACE_HOME", default=os.path.expanduser("~")))


def weights_dir() -> Path:
    """The folder DeepFace reads (and downloads) weights into, for the current DEEPFACE_HOME."""
    return Path(_deepface_home()) / ".deepface" / "weights"


def emotion_weights_path() -> Path:
    return weights_dir() / EMOTION_WEIGHTS_FILE


def _is_random(path: Path) -> bool:
    """Whether the file holds untrained weights marked `_RANDOM_MARK` (a test's, a benchmark's), so the app says so."""
    try:
        import h5py

        with h5py.File(path, "r") as f:
            return _RANDOM_MARK in f.attrs
    except Exception:  # noqa: BLE001 - unreadable or not h5: not ours
        return False


def _how_to_get(folder: Path) -> str:
    # Kept short: the app cuts error messages at 600 characters.
    return (f"DeepFace downloads it by itself on first use when online; otherwise download "
            f"{EMOTION_WEIGHTS_URLS[0]} into {folder} (or set DEEPFACE_HOME: DeepFace reads $DEEPFACE_HOME/.deepface/weights).")


def weights_status() -> dict:
    """Is DeepFace's emotion model usable, and if not, what to do. Cheap: no TensorFlow, no network."""
    path = emotion_weights_path()
    present = path.is_file()
    random = present and _is_random(path)
    if not present:
        message = f"DeepFace's emotion weights ({EMOTION_WEIGHTS_FILE}) are not in {path.parent}. " + _how_to_get(path.parent)
    elif random:
        message = (f"{path} holds RANDOM weights written for tests/benchmarks: DeepFace's predictions are "
                   f"meaningless. Delete the file to let DeepFace download the real ones ({EMOTION_WEIGHTS_URLS[0]}).")
    else:
        message = f"DeepFace's emotion weights are present ({path})."
    return {"present": present, "path": str(path), "folder": str(path.parent), "url": EMOTION_WEIGHTS_URLS[0],
            "urls": list(EMOTION_WEIGHTS_URLS), "random": random, "message": message}


# ---------------------------------------------------------------- failing fast offline


def _reachable(host: str, port: int = 443, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Can we open a TCP connection to host:port within `timeout`? Name resolution included:
    it runs in a thread so that a hanging DNS lookup cannot hold us longer than the timeout."""
    ok = []

    def probe():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            ok.append(True)
        except OSError:
            pass

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout + 0.5)
    return bool(ok)


def _can_download(urls: Sequence[str]) -> bool:
    """True if any URL's host (or the HTTPS proxy, when one is configured) answers.
    Hosts are probed in parallel, so a dead network costs one timeout, not one per host."""
    proxy = urllib.request.getproxies().get("https")
    if proxy:
        p = urllib.parse.urlsplit(proxy if "://" in proxy else "http://" + proxy)
        targets = {(p.hostname, p.port or 80)} if p.hostname else set()
    else:
        targets = {(p.hostname, p.port or (443 if p.scheme == "https" else 80))
                   for p in map(urllib.parse.urlsplit, urls) if p.hostname}
    if len(targets) <= 1:
        return any(_reachable(h, port) for h, port in targets)
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=len(targets))
    try:
        return any(pool.map(lambda t: _reachable(*t), targets))
    finally:
        pool.shutdown(wait=False)


def _ensure_emotion_weights() -> Path:
    """The weights file, downloaded by DeepFace's own downloader if (and only if) its hosts answer."""
    path = emotion_weights_path()
    if path.is_file():
        return path
    if not _can_download(EMOTION_WEIGHTS_URLS):
        raise DeepFaceUnavailable(
            f"DeepFace's emotion weights {EMOTION_WEIGHTS_FILE} are missing from {path.parent} and cannot be "
            f"downloaded ({' / '.join(urllib.parse.urlsplit(u).hostname for u in EMOTION_WEIGHTS_URLS)} unreachable). "
            + _how_to_get(path.parent))
    from deepface.commons import weight_utils

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return Path(weight_utils.download_weights_if_necessary(
            file_name=EMOTION_WEIGHTS_FILE, source_url=list(EMOTION_WEIGHTS_URLS)))
    except Exception as e:  # noqa: BLE001 - requests/gdown errors become one readable message
        raise DeepFaceUnavailable(
            f"Downloading DeepFace's emotion weights {EMOTION_WEIGHTS_FILE} into {path.parent} failed "
            f"({type(e).__name__}: {str(e)[:120]}). "
            + _how_to_get(path.parent)) from e


def _opencv_data_dir() -> Path:
    """Where deepface's opencv detector looks first (OpenCvClient.__get_opencv_path)."""
    import cv2

    return Path(os.path.dirname(cv2.__file__)) / "data"


def _ensure_haarcascades() -> None:
    """Make sure DeepFace's "opencv" detector finds its cascades without downloading them.

    DeepFace reads them from cv2's data folder and otherwise downloads them into its weights
    folder; OpenCV wheels without that folder may still have cv2.data.haarcascades, so we copy
    from there into the weights folder, where DeepFace's downloader finds them and stops."""
    import cv2
    from deepface.models.face_detection import OpenCv

    missing = []
    for name in OpenCv.HAARCASCADE_FILES.values():
        if (_opencv_data_dir() / name).is_file() or (weights_dir() / name).is_file():
            continue
        src = Path(getattr(getattr(cv2, "data", None), "haarcascades", "") or "/nonexistent") / name
        if src.is_file():
            weights_dir().mkdir(parents=True, exist_ok=True)
            with atomic_path(weights_dir() / name) as tmp:
                shutil.copyfile(src, tmp)
        else:
            missing.append(name)
    if missing:
        urls = [OpenCv.HAARCASCADE_URL.format(file_name=n) for n in missing]
        if not _can_download(urls):
            raise DeepFaceUnavailable(
                f"DeepFace's opencv face detector needs {', '.join(missing)}, which this OpenCV does not ship, "
                f"and {urllib.parse.urlsplit(urls[0]).hostname} cannot be reached to download them. "
                f"Put them in {weights_dir()} (from {urls[0]}), or install opencv-contrib-python-headless 4.x.")


# ---------------------------------------------------------------- TensorFlow and the model


def _threads() -> int:
    if tf_threads():
        return tf_threads()
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _import_tf():
    """Import TensorFlow quietly, with thread counts set before its runtime starts."""
    global _tf_ready
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # deepface's DeepFace.py sets TF_USE_LEGACY_KERAS=1, which breaks tf.keras without tf-keras installed.
    if os.environ.get("TF_USE_LEGACY_KERAS", "").lower() in ("1", "true", "yes"):
        import importlib.util

        if importlib.util.find_spec("tf_keras") is None:
            os.environ.pop("TF_USE_LEGACY_KERAS")
    before_tensorflow()
    import tensorflow as tf

    if not _tf_ready:
        _tf_ready = True
        tf.get_logger().setLevel("ERROR")
        try:  # only possible before TensorFlow's runtime is initialised
            tf.config.threading.set_intra_op_parallelism_threads(_threads())
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass
        try:  # share the GPU with PyTorch instead of grabbing all its memory
            for gpu in tf.config.list_physical_devices("GPU"):
                tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            pass
    return tf


def _check_backend() -> None:
    from deepface.commons import backend_utils

    engine = backend_utils.get_backend_engine()
    if engine != backend_utils.TENSORFLOW:
        raise DeepFaceUnavailable(
            f"DeepFace runs on {engine} here ({backend_utils.BACKEND_ENGINE_ENV_VAR}); this app uses its "
            f"TensorFlow model ({EMOTION_WEIGHTS_FILE}). Unset {backend_utils.BACKEND_ENGINE_ENV_VAR}.")


def _forget_deepface_cache(task: str, model_name: str) -> None:
    """deepface caches built models per process whatever DEEPFACE_HOME is: drop one entry."""
    import sys

    modeling = sys.modules.get("deepface.modules.modeling")
    cache = getattr(modeling, "cached_models", None) if modeling else None
    if isinstance(cache, dict):
        cache.get(task, {}).pop(model_name, None)


def _file_key(path: Path):
    st = path.stat()
    return (str(path), st.st_mtime_ns, st.st_size)


def _emotion_client():
    """deepface's EmotionClient for the current weights file, built once and reused.

    Rebuilt when DEEPFACE_HOME points elsewhere or the file changed; raises DeepFaceUnavailable
    when the file is missing and cannot be downloaded."""
    global _client, _client_key
    with _lock:
        path = emotion_weights_path()
        if _client is not None and path.is_file() and _client_key == _file_key(path):
            return _client
        _client, _client_key = None, None
        path = _ensure_emotion_weights()
        _check_backend()
        _import_tf()
        import warnings

        from deepface.modules import modeling

        _forget_deepface_cache("facial_attribute", "Emotion")
        try:
            with warnings.catch_warnings():  # Keras 3 warns about deepface's input_shape= style
                warnings.simplefilter("ignore")
                client = modeling.build_model(task="facial_attribute", model_name="Emotion")
        except DeepFaceUnavailable:
            raise
        except ValueError as e:  # deepface's "could not load the weights" (e.g. a truncated download)
            _forget_deepface_cache("facial_attribute", "Emotion")
            raise DeepFaceUnavailable(f"DeepFace could not load {path} (damaged or incomplete?): delete it and "
                                      f"try again. " + _how_to_get(path.parent)) from e
        _client, _client_key = client, _file_key(path)
        return client


def reset() -> None:
    """Forget loaded models (ours and deepface's cache), e.g. after DEEPFACE_HOME changed in tests."""
    global _client, _client_key
    with _lock:
        _client, _client_key = None, None
        _forget_deepface_cache("facial_attribute", "Emotion")
        _forget_deepface_cache("face_detector", "opencv")


def _label_index() -> np.ndarray:
    """For each of our EMOTIONS, its column in DeepFace's output, found by name."""
    from deepface.models.demography.DemographyUtils import EMOTION_LABELS

    theirs = [canonical(n) for n in EMOTION_LABELS]
    missing = [e for e in EMOTIONS if theirs.count(e) != 1]
    if missing or len(theirs) != len(EMOTIONS):
        raise RuntimeError(f"DeepFace's emotion labels {list(EMOTION_LABELS)} do not map one to one onto ours "
                           f"{list(EMOTIONS)} (unmatched: {missing})")
    return np.array([theirs.index(e) for e in EMOTIONS], dtype=np.int64)


def _to_unit_grey(crop) -> np.ndarray:
    """A crop as float32 grey in [0, 1] (what DeepFace's detector hands its models)."""
    a = np.asarray(crop)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    elif a.ndim == 3 and a.shape[2] in (3, 4):  # colour crops are taken as RGB(A)
        import cv2

        a = cv2.cvtColor(np.ascontiguousarray(a[:, :, :3]), cv2.COLOR_RGB2GRAY)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"a face crop must be a non-empty 2-D grey image, got shape {np.shape(crop)}")
    f = a.astype(np.float32)
    if a.dtype == np.uint8 or f.max() > 1.0:
        f /= 255.0
    return f


class DeepFacePredictor(Predictor):
    """DeepFace's emotion CNN on the same face crops our CNNs get, so they are compared on equal terms."""

    name = "DeepFace"
    classes = EMOTIONS
    source = "deepface"
    kind = "emotion"

    def load(self) -> "DeepFacePredictor":
        """Load the model now (raises DeepFaceUnavailable), instead of on the first predict."""
        _emotion_client()
        return self

    def warm_up(self) -> None:
        """TensorFlow and the weights loaded now (DeepFaceUnavailable where they cannot be), then one face."""
        self.load()
        super().warm_up()

    def predict(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """(N, 7) probabilities over our EMOTIONS; one forward pass for the whole batch.

        Preprocessed with DeepFace's own code, as DeepFace.analyze does it: face in [0, 1], BGR,
        letterboxed to 224x224 (preprocessing.resize_image), then the model's grey 48x48."""
        crops = list(crops)
        if not crops:
            return np.zeros((0, len(self.classes)), dtype=np.float64)
        batch = [_to_unit_grey(c) for c in crops]  # bad input fails before the slow model load
        with _lock:
            client = _emotion_client()
            from deepface.modules import preprocessing

            x = np.concatenate([preprocessing.resize_image(np.repeat(g[:, :, None], 3, axis=2), (224, 224))
                                for g in batch])
            raw = np.asarray(client.predict(x), dtype=np.float64)  # (7,) for one image, (N, 7) for more
        raw = raw.reshape(len(crops), -1)[:, _label_index()]
        return raw / np.clip(raw.sum(axis=1, keepdims=True), 1e-12, None)

    def analyse(self, image, color: str = "rgb", align: bool = True) -> list[dict]:
        """DeepFace end to end (its own detector), for comparison with our detector + predictor.

        Returns per face: box (x, y, w, h), probs (array over our EMOTIONS, sums to 1),
        probabilities ({emotion: p}, same numbers), dominant (our spelling), confidence
        (DeepFace's detector score) and whole_image (True when no face was found and DeepFace
        fell back to analysing the whole picture, as it does with enforce_detection=False)."""
        img = _to_bgr(image, color)
        with _lock:
            _emotion_client()  # weights present (or DeepFaceUnavailable) and in deepface's cache
            _ensure_haarcascades()
            from deepface.modules import demography

            found = demography.analyze(img_path=img, actions=["emotion"], detector_backend="opencv",
                                       enforce_detection=False, align=align, silent=True)
        h, w = img.shape[:2]
        out = []
        for d in found:
            p = np.zeros(len(EMOTIONS), dtype=np.float64)
            for label, v in d.get("emotion", {}).items():
                p[EMOTIONS.index(canonical(label))] += float(v)
            p = p / p.sum() if p.sum() > 0 else np.full(len(EMOTIONS), 1.0 / len(EMOTIONS))
            r = d.get("region", {})
            box = tuple(int(r.get(k, 0)) for k in ("x", "y", "w", "h"))
            conf = float(d.get("face_confidence", 0.0) or 0.0)
            out.append({
                "box": box,
                "probs": p,
                "probabilities": dict(zip(EMOTIONS, p.tolist())),
                "dominant": canonical(d["dominant_emotion"]) if "dominant_emotion" in d else EMOTIONS[int(np.argmax(p))],
                "confidence": conf,
                "whole_image": conf == 0.0 and box[:2] == (0, 0) and box[2] >= w - 1 and box[3] >= h - 1,
            })
        return out

    def __repr__(self) -> str:
        return f"DeepFacePredictor(weights={emotion_weights_path()})"


def _to_bgr(image, color: str) -> np.ndarray:
    """A uint8 BGR copy of an RGB/BGR/grey(/alpha) array: the layout DeepFace's detector expects."""
    import cv2

    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = np.clip(a * 255.0 if a.size and float(a.max()) <= 1.0 else a, 0, 255).astype(np.uint8)
    color = color.lower()
    if a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 1):
        return cv2.cvtColor(a.reshape(a.shape[:2]), cv2.COLOR_GRAY2BGR)
    if a.ndim != 3 or a.shape[2] not in (3, 4) or color not in ("rgb", "bgr"):
        raise ValueError(f"expected an RGB/BGR/grey image array and color 'rgb' or 'bgr', got shape "
                         f"{a.shape} and color {color!r}")
    a = a[:, :, :3]
    return np.ascontiguousarray(a[:, :, ::-1] if color == "rgb" else a)
