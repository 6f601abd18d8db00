"""YuNet's ONNX file and the one way it runs here: OpenCV's `cv2.FaceDetectorYN` (every Python and platform
OpenCV has wheels for). `YuNetDetector` sees only `network.run(bgr, threshold, threads)`.

The file is not in the repository: it is fetched once (`python -m core detectors --fetch-yunet`, which
`install.sh` runs) into `model/detectors/`, or named by FEL_YUNET_MODEL, and checked before OpenCV reads it: a
regular file of YuNet 2023's size and SHA-256 (a FIFO, a directory or a 2 GB file is never opened). A file that
is refused is named with the reason wherever YuNet is chosen (`python -m core detectors`, `predict`, the pages);
FEL_YUNET_MODEL is never silently replaced by another file.
"""
from __future__ import annotations

import hashlib
import math
import stat
import threading
import urllib.request
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np

from ...files import atomic_path
from ...settings import ROOT, yunet_model_file

# YuNet 2023 (libfacedetection.train `onnx/yunet_s_640_640.onnx`, the same bytes as opencv_zoo's
# `face_detection_yunet_2023mar.onnx`): MIT in opencv_zoo, Apache-2.0 in libfacedetection.train
YUNET_FILE = "face_detection_yunet_2023mar.onnx"
YUNET_BYTES = 232_589
YUNET_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
YUNET_URLS = (
    "https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/face_detection_yunet_2023mar.onnx",
    "https://github.com/ShiqiYu/libfacedetection.train/raw/master/onnx/yunet_s_640_640.onnx",
)
_NMS = 0.3       # libfacedetection's own NMS threshold
_TOP_K = 5000
_SIZES_KEPT = 8  # OpenCV networks kept, one per input size (the webcam uses 3: the frame, follow and refine views)
_CHECKED: dict = {}


def default_model_path() -> Path:
    """Where `fetch_yunet_model` puts the file, and where it is looked for when FEL_YUNET_MODEL is not set: the
    repository's model/detectors/, wherever FEL_MODEL_DIR points the emotion models."""
    return ROOT / "model" / "detectors" / YUNET_FILE


def yunet_model_path() -> Path:
    """The ONNX file YuNet reads: FEL_YUNET_MODEL, else model/detectors/<YUNET_FILE>."""
    return yunet_model_file() or default_model_path()


def _what(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "a special file"


def model_problem(path: Path) -> str | None:
    """Why `path` is not YuNet's 2023 ONNX file ("<path> is not there", "<path> is a FIFO...", other bytes,
    unreadable), or None. Only a regular file of the right size is read, its hash computed once per (path, size,
    mtime)."""
    why = _why(Path(path))
    return None if why is None else f"{path} {why}"


def _why(path: Path) -> str | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return "is not there"
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if not stat.S_ISREG(st.st_mode):
        return f"is {_what(st.st_mode)}, not a file"
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _CHECKED:
        if st.st_size != YUNET_BYTES:
            return f"has {st.st_size:,} bytes, not YuNet 2023's {YUNET_BYTES:,}"
        try:
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError as e:
            return f"cannot be read ({e.strerror or e})"
        _CHECKED[key] = None if digest == YUNET_SHA256 else \
            f"is not YuNet 2023's file (SHA-256 {digest[:12]}..., not {YUNET_SHA256[:12]}...)"
    return _CHECKED[key]


def yunet_problem() -> str | None:
    """Why YuNet cannot run here, naming the file it would read, why it is refused and what to do; or None."""
    path = yunet_model_path()
    why = _why(path)
    if why is None:
        return None
    if yunet_model_file() is not None:
        return (f"FEL_YUNET_MODEL={path} {why}: point it at YuNet 2023's {YUNET_FILE} (SHA-256 "
                f"{YUNET_SHA256[:12]}...), or unset it and run `python -m core detectors --fetch-yunet`")
    return f"its model file {path} {why}: {fetch_hint()}"


def yunet_source() -> str:
    """Which file YuNet reads and where that choice comes from, in words."""
    return f"{yunet_model_path()}" + (" (named by FEL_YUNET_MODEL)" if yunet_model_file() is not None else "")


def fetch_hint() -> str:
    return (f"run `python -m core detectors --fetch-yunet` (or put {YUNET_FILE}, SHA-256 {YUNET_SHA256[:12]}..., "
            f"at {default_model_path()}, or name a copy in FEL_YUNET_MODEL)")


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


class YuNetNetwork:
    """YuNet through `cv2.FaceDetectorYN` on one checked file, one network per input size (changing a network's
    size re-plans it)."""

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


_NETWORKS: dict = {}
_MADE = threading.Lock()


def yunet_network() -> YuNetNetwork:
    """The network to use (shared by every detector on one file: one network per size, one lock). RuntimeError
    saying why when the file is refused."""
    problem = yunet_problem()
    if problem:
        raise RuntimeError(problem)
    key = str(yunet_model_path())
    with _MADE:
        if key not in _NETWORKS:
            _NETWORKS[key] = YuNetNetwork(yunet_model_path())
        return _NETWORKS[key]
