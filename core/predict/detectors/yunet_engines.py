"""The two ways YuNet runs here, behind one call: OpenCV's `cv2.FaceDetectorYN` on YuNet's 2023 ONNX file (every
Python and platform OpenCV has wheels for), and the `yuface` wheel (YuNet compiled in; wheels for CPython 3.8-3.11
only). The same network either way; `YuNetDetector` sees only `engine.run(bgr, threshold, threads)`.

The ONNX file is not in the repository: it is fetched once (`python -m core detectors --fetch-yunet`, which
`install.sh` runs, or by hand) into `model/detectors/`, or named by FEL_YUNET_MODEL, and checked against its
SHA-256 before OpenCV reads it. Where neither the file nor yuface is here, YuNet is unavailable and the pages fall
back to Haar with a sentence that says how to get it.
"""
from __future__ import annotations

import ctypes
import hashlib
import math
import threading
import urllib.request
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np

from ...files import atomic_path
from ...settings import ROOT, yunet_engine_name, yunet_model_file

# YuNet 2023 (libfacedetection.train `onnx/yunet_s_640_640.onnx`, the same bytes as opencv_zoo's
# `face_detection_yunet_2023mar.onnx`): MIT in opencv_zoo, Apache-2.0 in libfacedetection.train
YUNET_FILE = "face_detection_yunet_2023mar.onnx"
YUNET_BYTES = 232_589
YUNET_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
YUNET_URLS = (
    "https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/face_detection_yunet_2023mar.onnx",
    "https://github.com/ShiqiYu/libfacedetection.train/raw/master/onnx/yunet_s_640_640.onnx",
)
ENGINES = ("opencv", "yuface")
_NMS = 0.3       # libfacedetection's own NMS threshold, which yuface applies too
_TOP_K = 5000
_SIZES_KEPT = 8  # OpenCV networks kept, one per input size (the webcam uses 3: the frame, follow and refine views)
_CHECKED: dict = {}


def default_model_path() -> Path:
    """Where `fetch_yunet_model` puts the file, and where it is looked for when FEL_YUNET_MODEL is not set: the
    repository's model/detectors/, wherever FEL_MODEL_DIR points the emotion models."""
    return ROOT / "model" / "detectors" / YUNET_FILE


def yunet_model_path() -> Path:
    """The ONNX file YuNet's OpenCV engine reads: FEL_YUNET_MODEL, else model/detectors/<YUNET_FILE>."""
    return yunet_model_file() or default_model_path()


def model_problem(path: Path) -> str | None:
    """Why `path` is not YuNet's 2023 ONNX file (missing, not a regular file, other bytes), or None. The hash is
    computed once per (path, size, mtime)."""
    try:
        st = path.stat()
    except OSError:
        return f"its model file {path} is not there"
    if not path.is_file():
        return f"{path} is not a regular file"
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _CHECKED:
        if st.st_size != YUNET_BYTES:
            _CHECKED[key] = f"{path} has {st.st_size:,} bytes, not YuNet 2023's {YUNET_BYTES:,}"
        else:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            _CHECKED[key] = None if digest == YUNET_SHA256 else f"{path} is not YuNet 2023 (SHA-256 {digest[:12]}...)"
    return _CHECKED[key]


def fetch_yunet_model(dest: Path | None = None, timeout: float = 20.0) -> Path:
    """Downloads YuNet's ONNX file to `dest` (default: model/detectors/), checks its SHA-256 and moves it into
    place; a file already there and right is kept. OSError (with every address tried) when it cannot."""
    dest = Path(dest) if dest else default_model_path()
    if model_problem(dest) is None:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tried = []
    for url in YUNET_URLS:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                data = r.read(YUNET_BYTES + 1)
        except (OSError, ValueError) as e:
            tried.append(f"{url}: {e}")
            continue
        if hashlib.sha256(data).hexdigest() != YUNET_SHA256:
            tried.append(f"{url}: not the expected file ({len(data):,} bytes)")
            continue
        with atomic_path(dest) as tmp:
            tmp.write_bytes(data)
        return dest
    raise OSError("YuNet's model file could not be downloaded: " + "; ".join(tried))


class OpenCVEngine:
    """YuNet through `cv2.FaceDetectorYN`, one network per input size (changing a network's size re-plans it)."""

    name = "opencv"

    def __init__(self, path: Path):
        self.path = str(path)
        self._nets: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def run(self, bgr: np.ndarray, threshold: float, threads: int = 1) -> list:
        """[(score 0..1, (x, y, w, h), ((x, y) * 5))] in `bgr`'s pixels (a C-contiguous BGR uint8 image)."""
        h, w = bgr.shape[:2]
        with self._lock:
            net = self._net(w, h)
            net.setScoreThreshold(float(threshold))
            saved = cv2.getNumThreads()
            cv2.setNumThreads(int(threads))
            try:
                _, found = net.detect(bgr)
            finally:
                cv2.setNumThreads(saved)
        out = []
        for row in ([] if found is None else np.asarray(found, dtype=np.float64).tolist()):
            x, y, bw, bh, marks, score = row[0], row[1], row[2], row[3], row[4:14], row[14]
            if bw > 0 and bh > 0 and all(math.isfinite(v) for v in marks):
                out.append((score, (x, y, bw, bh), [(marks[2 * k], marks[2 * k + 1]) for k in range(5)]))
        return out

    def _net(self, w: int, h: int):
        net = self._nets.pop((w, h), None)
        if net is None:
            net = cv2.FaceDetectorYN.create(self.path, "", (w, h), 0.3, _NMS, _TOP_K)
            if len(self._nets) >= _SIZES_KEPT:
                self._nets.popitem(last=False)
        self._nets[(w, h)] = net
        return net


class YufaceEngine:
    """YuNet through the yuface wheel (C, global state: one call at a time; OpenMP threads set per call)."""

    name = "yuface"
    _lock = threading.Lock()

    def __init__(self):
        import yuface  # ImportError: the caller says yuface is missing

        self._yuface = yuface

    def run(self, bgr: np.ndarray, threshold: float, threads: int = 1) -> list:
        with self._lock, _omp_threads(threads):
            confs, boxes, marks = self._yuface.detect(bgr, threshold)
        out = []
        for c, box, m in zip(np.asarray(confs).tolist(), np.asarray(boxes).reshape(-1, 4).tolist(),
                             np.asarray(marks).reshape(-1, 10).tolist()):
            if box[2] > 0 and box[3] > 0 and all(math.isfinite(v) for v in m):
                out.append((c / 100.0, box, [(m[2 * k], m[2 * k + 1]) for k in range(5)]))
        return out


def _yuface_problem() -> str | None:
    try:
        import yuface  # noqa: F401
    except Exception as e:  # noqa: BLE001 - an unusable wheel is as good as none
        return f"the yuface package cannot be imported ({type(e).__name__}: {e})"
    return None


def engine_problem(name: str | None = None) -> str | None:
    """Why YuNet cannot run here with engine `name` (None: FEL_YUNET_ENGINE, else either), or None."""
    name = name or yunet_engine_name()
    if name and name not in ENGINES:
        return f"FEL_YUNET_ENGINE is {name!r}; it is one of {', '.join(ENGINES)}"
    opencv = model_problem(yunet_model_path())
    opencv = opencv and f"{opencv}: {fetch_hint()}"
    if name == "opencv":
        return opencv
    yuface = _yuface_problem()
    if name == "yuface" or opencv is None or yuface is None:
        return None if name != "yuface" else yuface
    return f"{opencv}; and {yuface}"


def chosen_engine(name: str | None = None) -> str:
    """The engine `name` asks for, FEL_YUNET_ENGINE's, else OpenCV's where its file is here, else yuface."""
    return name or yunet_engine_name() or ("opencv" if model_problem(yunet_model_path()) is None else "yuface")


def fetch_hint() -> str:
    return (f"run `python -m core detectors --fetch-yunet` (or put {YUNET_FILE}, SHA-256 {YUNET_SHA256[:12]}..., "
            f"at {default_model_path()} or FEL_YUNET_MODEL)")


_ENGINES: dict = {}
_MADE = threading.Lock()


def create_engine(name: str | None = None):
    """The YuNet engine to use (shared by every detector: one network per size, one lock). RuntimeError
    saying why when none can run."""
    problem = engine_problem(name)
    if problem:
        raise RuntimeError(problem)
    name = chosen_engine(name)
    key = (name, str(yunet_model_path()) if name == "opencv" else "")
    with _MADE:
        if key not in _ENGINES:
            _ENGINES[key] = OpenCVEngine(yunet_model_path()) if name == "opencv" else YufaceEngine()
        return _ENGINES[key]


# ---------------------------------------------------------------- yuface's OpenMP threads

_OMP = {"lib": None, "looked": False, "global": None}


def _omp_runtimes() -> list:
    """The OpenMP runtimes a yuface call may run on, to set its threads: the one in the process's global
    scope (torch's libgomp, once torch is imported: yuface's calls bind to it then) and yuface's own."""
    if _OMP["global"] is None:  # looked up until torch (or another OpenMP user) is loaded, then kept
        try:
            glob = ctypes.CDLL(None)
            if hasattr(glob, "omp_set_num_threads"):
                _OMP["global"] = glob
        except OSError:
            pass
    libs = [] if _OMP["global"] is None else [_OMP["global"]]
    if not _OMP["looked"]:
        _OMP["looked"] = True
        try:
            import yuface

            found = sorted((Path(yuface.__file__).resolve().parent.parent / "yuface.libs").glob("libgomp*"))
            _OMP["lib"] = ctypes.CDLL(str(found[0])) if found else None
        except Exception:  # noqa: BLE001 - a speed setting only
            _OMP["lib"] = None
    if _OMP["lib"] is not None:
        libs.append(_OMP["lib"])
    return libs


class _omp_threads:
    """OpenMP threads for the calling thread (OpenMP keeps the setting per thread) while inside, restored
    after, so torch's own setting on this thread is left as it was."""

    def __init__(self, n: int):
        self.n, self.saved = n, []

    def __enter__(self):
        for lib in _omp_runtimes():
            try:
                self.saved.append((lib, int(lib.omp_get_max_threads())))
                lib.omp_set_num_threads(ctypes.c_int(self.n))
            except Exception:  # noqa: BLE001 - a speed setting only
                pass
        return self

    def __exit__(self, *exc):
        for lib, old in self.saved:
            try:
                lib.omp_set_num_threads(ctypes.c_int(old))
            except Exception:  # noqa: BLE001
                pass
        return False
