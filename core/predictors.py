"""One interface for every model the app can ask: `predict(face_crops) -> probabilities`.

A predictor takes a batch of face crops (grey uint8 arrays, any size; each predictor resizes to its
own input) and returns an (N, C) array of probabilities over its named `classes`, in one forward pass.

- `CNNPredictor` / `StressPredictor`: our checkpoints (core.checkpoint), loaded once.
- `StressFromEmotion`: any emotion predictor seen through the stress mapping of core.labels.
- `DeepFacePredictor` (core.deepface_backend, imported lazily: no TensorFlow until it is used).
- `discover_models`, `load_predictor`: what the pages and the CLI list and load, cached.
- `analyze`, `results_table`: detect once, crop once, ask every predictor, tabulate.
"""
from __future__ import annotations

import os
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from .labels import STRESS_CLASSES, canonical, stress_index, stress_probability

ROOT = Path(__file__).resolve().parent.parent
DEEPFACE = "deepface"
TTA_MODES = (None, "flip", "tencrop")


class Predictor(ABC):
    name: str          # what the app shows, e.g. "resnet (default)" or "DeepFace"
    classes: tuple     # class names, our spelling (core.labels)
    source: str        # a checkpoint path, or "deepface"
    kind: str = "emotion"  # "emotion" or "stress"

    @abstractmethod
    def predict(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """(N, len(classes)) probabilities, each row summing to 1."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({getattr(self, 'name', '?')!r})"


def __getattr__(name):  # DeepFace only when asked for: importing core.predictors never loads TensorFlow
    if name in ("DeepFacePredictor", "DeepFaceUnavailable"):
        from . import deepface_backend

        return getattr(deepface_backend, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------- our CNNs

_THREADS_SET = False
_THREADS_LOCK = threading.Lock()


def set_inference_threads(threads: int | None = None) -> int:
    """torch's intra-op threads for inference: `threads`, else $FEL_INFER_THREADS, else min(2, CPUs);
    set once per process (an explicit `threads` always applies). On a machine whose cores are busy
    with other work, 1 thread can be much faster for single faces than 2 (OpenMP threads wait on
    each other): set FEL_INFER_THREADS=1 there."""
    import torch

    global _THREADS_SET
    with _THREADS_LOCK:
        if threads or not _THREADS_SET:
            env = os.environ.get("FEL_INFER_THREADS", "").strip()
            n = int(threads or (int(env) if env.isdigit() and int(env) > 0 else min(2, os.cpu_count() or 1)))
            if torch.get_num_threads() != n:
                torch.set_num_threads(n)
            _THREADS_SET = True
        return torch.get_num_threads()


def friendly_name(path, arch: str | None) -> str:
    """`<run id> (<arch>)` for model/runs/<id>/best.pt, `<file stem> (<arch>)` for model/<name>.pt."""
    p = Path(path)
    base = p.stem
    if p.stem in ("best", "last") and p.parent.name:
        base = p.parent.name + ("" if p.stem == "best" else " (last)")
    if arch and arch.lower() not in base.lower():
        return f"{base} ({arch})"
    return base


def _fold_batchnorm(model):
    """An inference copy of `model` with each BatchNorm folded into the convolution before it
    (torch.fx); ~30% fewer operations per face on CPU. The model itself is left as it is (Grad-CAM
    uses it). Any model fx cannot trace is used as it is."""
    from .quantize import is_quantized

    if is_quantized(model):  # folded already, when it was quantized
        return model
    try:
        from torch.fx.experimental.optimization import fuse

        fused = fuse(model)  # a deep copy: the original keeps its BatchNorm layers
        fused.eval()
        return fused
    except Exception:  # noqa: BLE001 - an optimisation only
        return model


class CNNPredictor(Predictor):
    """One of our checkpoints, loaded once; `predict` is one batched forward pass.

    tta: None, "flip" (average with the horizontal mirror) or "tencrop" (5 shifts x 2 flips).
    """

    def __init__(self, path, tta: str | None = None, threads: int | None = None):
        from .checkpoint import load_model

        tta = None if tta in (None, "", "none", "None") else str(tta)
        if tta not in TTA_MODES:
            raise ValueError(f"unknown test-time augmentation {tta!r}; use one of {TTA_MODES}")
        set_inference_threads(threads)
        self.model, self.meta = load_model(path)
        self.model.eval()
        self._net = _fold_batchnorm(self.model)  # what predict runs: the same function, fewer ops
        self.source = str(path)
        self.path = Path(path)
        self.tta = tta
        self.arch = str(self.meta.get("model", "?"))
        self._checkpoint_classes = tuple(str(c) for c in self.meta["classes"])
        self.classes = tuple(canonical(c) for c in self._checkpoint_classes)
        self._order = None  # column order applied to the model's outputs (stress checkpoints)
        if set(self.classes) == set(STRESS_CLASSES) and len(self.classes) == 2:
            self._order = [self.classes.index(c) for c in STRESS_CLASSES]
            self.classes = STRESS_CLASSES
        self.kind = "stress" if self.classes == STRESS_CLASSES else "emotion"
        self.input_size = int(self.meta.get("input_size", 48))
        self.mean = float(self.meta.get("mean", 0.5))
        self.std = float(self.meta.get("std", 0.25))
        self.name = friendly_name(path, self.arch) + (f" +{tta}" if tta else "")

    @property
    def metrics(self) -> dict:
        return dict(self.meta.get("metrics") or {})

    def logits(self, crops):
        """Raw logits (torch, N x C, the checkpoint's class order) of the crops, without TTA."""
        import torch

        from .faces import preprocess

        x = preprocess(crops, self.input_size, self.mean, self.std)
        with torch.inference_mode():
            return self.model(x)

    def predict(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        from .faces import preprocess

        n = len(crops)
        if n == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float64)
        x = preprocess(crops, self.input_size, self.mean, self.std)
        with torch.inference_mode():
            if self.tta == "flip":  # both views in one batch: one forward pass
                out = F.softmax(self._net(torch.cat([x, x.flip(-1)])), 1)
                probs = (out[:n] + out[n:]) / 2
            elif self.tta:
                from .evaluate import _views

                views = _views(x, self.tta)
                out = F.softmax(self._net(torch.cat(views)), 1).reshape(len(views), n, -1)
                probs = out.mean(0)
            else:
                probs = F.softmax(self._net(x), 1)
        probs = probs.double().numpy()
        if self._order is not None:
            probs = probs[:, self._order]
        return probs / probs.sum(1, keepdims=True)


class StressPredictor(CNNPredictor):
    """A CNN trained on the binary stress task (classes no_stress / stress)."""

    def __init__(self, path, tta: str | None = None, threads: int | None = None):
        super().__init__(path, tta=tta, threads=threads)
        if self.kind != "stress":
            from .checkpoint import CheckpointError

            raise CheckpointError(f"checkpoint {path} is not a binary stress model: it predicts "
                                  f"{list(self._checkpoint_classes)}, not {list(STRESS_CLASSES)}. "
                                  "Use StressFromEmotion to read stress from an emotion model.")


class StressFromEmotion(Predictor):
    """Any emotion predictor (ours or DeepFace) seen as a stress predictor: P(stress) is the sum of
    the stress emotions' probabilities (core.labels.STRESS_EMOTIONS unless given)."""

    kind = "stress"

    def __init__(self, predictor: Predictor, stress_emotions=None):
        self.predictor = predictor
        self.stress_emotions = stress_emotions
        self.classes = STRESS_CLASSES
        self.source = getattr(predictor, "source", "?")
        self.name = f"{predictor.name} -> stress"
        self._passthrough = tuple(canonical(c) for c in predictor.classes) == STRESS_CLASSES
        if not self._passthrough:
            stress_index(predictor.classes, stress_emotions)  # unknown stress emotions raise now

    def predict(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        probs = np.asarray(self.predictor.predict(crops), dtype=np.float64)
        if len(probs) == 0:
            return np.zeros((0, 2), dtype=np.float64)
        if self._passthrough:
            return probs
        p = np.clip(stress_probability(probs, self.predictor.classes, self.stress_emotions), 0.0, 1.0)
        return np.stack([1.0 - p, p], axis=1)


def p_stress(probs, classes, stress_emotions=None) -> np.ndarray | float:
    """P(stress) of one row (C,) or of rows (N, C), for emotion and stress classes alike."""
    probs = np.asarray(probs, dtype=np.float64)
    names = [canonical(c) for c in classes]
    if sorted(names) == sorted(STRESS_CLASSES):
        out = probs[..., names.index("stress")]
    else:
        out = stress_probability(probs, names, stress_emotions)
    return float(out) if np.ndim(out) == 0 else out


def stress_verdict(probs, classes, stress_emotions=None, threshold: float = 0.5) -> tuple[str, float]:
    """("stress" | "no_stress", confidence in that label) for one face's probabilities."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim == 2 and probs.shape[0] == 1:
        probs = probs[0]
    if probs.ndim != 1 or len(probs) != len(classes):
        raise ValueError(f"stress_verdict takes one row of {len(classes)} probabilities, got shape {probs.shape}")
    p = float(np.clip(p_stress(probs, classes, stress_emotions), 0.0, 1.0))
    return ("stress", p) if p >= threshold else ("no_stress", 1.0 - p)


# ---------------------------------------------------------------- finding checkpoints

@dataclass
class ModelInfo:
    name: str
    path: str
    arch: str
    params: int
    classes: tuple
    kind: str                 # "emotion" or "stress"
    metrics: dict
    source: str               # "shipped" (model/*.pt) or "run" (model/runs/<id>/best.pt)
    error: str | None = None  # why the file cannot be used (the rest is then best effort)
    input_size: int = 48
    run_id: str | None = None

    @property
    def accuracy(self) -> float | None:
        return model_accuracy(self.metrics)


def model_accuracy(metrics: dict | None) -> float | None:
    """The best accuracy figure a checkpoint carries: test first, then validation."""
    m = metrics or {}
    for key in ("test_accuracy", "test_acc", "accuracy", "val_accuracy", "val_acc", "best_acc"):
        v = m.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v):
            return float(v)
        if isinstance(v, dict) and isinstance(v.get("accuracy"), (int, float)):
            return float(v["accuracy"])
    test = m.get("test")
    if isinstance(test, dict) and isinstance(test.get("accuracy"), (int, float)):
        return float(test["accuracy"])
    return None


def default_model_dir() -> Path:
    return Path(os.environ.get("FEL_MODEL_DIR") or ROOT / "model")


_INFO_CACHE: dict[tuple, ModelInfo] = {}
_INFO_LOCK = threading.Lock()


def _param_count(state_dict) -> int:
    skip = ("running_mean", "running_var", "num_batches_tracked")
    return int(sum(v.numel() for k, v in state_dict.items() if hasattr(v, "numel") and not k.endswith(skip)))


def model_info(path, source: str = "shipped") -> ModelInfo:
    """What a checkpoint is (name, architecture, size, classes, metrics), cached on (path, mtime, size).
    A file that cannot be read gets `error` set instead of raising."""
    import torch

    from .checkpoint import FORMAT

    path = Path(path)
    try:
        st = path.stat()
        info_json = path.parent / "info.json"
        renamed = info_json.stat().st_mtime_ns if source == "run" and info_json.exists() else 0
        key = (str(path.resolve()), st.st_mtime_ns, st.st_size, source, renamed)
    except OSError as e:
        return ModelInfo(path.stem, str(path), "?", 0, (), "emotion", {}, source, f"cannot read {path}: {e}")
    with _INFO_LOCK:
        hit = _INFO_CACHE.get(key)
    if hit is not None:
        return hit
    run_id = path.parent.name if source == "run" else None
    try:
        try:  # memory-mapped: the weights are not read, only their shapes
            state = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
        except RuntimeError:
            state = torch.load(path, map_location="cpu", weights_only=False)
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise ValueError("not a Facial Emotion Lab checkpoint")
        classes = tuple(canonical(c) for c in state["classes"])
        arch = str(state["model"])
        metrics = dict(state.get("metrics") or {})
        if source == "run":
            metrics = {**metrics, **_run_summary(path.parent)}
        name = friendly_name(path, arch)
        if source == "run":  # the title the user gave the run on the Experiments page, if any
            title = _run_title(path.parent)
            name = f"{title} ({arch})" if title else name
        quantized = state.get("quantized") or {}
        params = quantized.get("float_params") or _param_count(state.get("state_dict", {}))
        unusable = None
        if quantized:  # an int8 copy runs only where its quantized engine does
            from .quantize import unavailable_reason

            reason = unavailable_reason(quantized.get("backend", "x86"))
            unusable = f"{path.name} is an int8 model: {reason}" if reason else None
        info = ModelInfo(name, str(path), arch, int(params),
                         classes, "stress" if sorted(classes) == sorted(STRESS_CLASSES) else "emotion", metrics,
                         source, unusable, int(state.get("input_size", 48)), run_id)
        del state
    except Exception as e:  # noqa: BLE001 - a corrupt file is listed, not fatal
        info = ModelInfo(friendly_name(path, None), str(path), "?", 0, (), "emotion", {}, source,
                         f"checkpoint {path} is corrupt or unreadable ({type(e).__name__}: {e})", 48, run_id)
    with _INFO_LOCK:
        if len(_INFO_CACHE) > 256:
            _INFO_CACHE.clear()
        _INFO_CACHE[key] = info
    return info


def _run_summary(run_dir: Path) -> dict:
    """Test figures a finished run wrote beside its checkpoint (summary.json), if any."""
    import json

    try:
        data = json.loads((run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)} \
        if isinstance(data, dict) else {}


def _run_title(run_dir) -> str:
    import json

    try:
        return str(json.loads((Path(run_dir) / "info.json").read_text()).get("title") or "")
    except (OSError, ValueError, AttributeError):
        return ""


def is_promoted(run_dir) -> bool:
    """A run the user promoted on the Experiments page (info.json "promoted": true)."""
    import json

    try:
        return bool(json.loads((Path(run_dir) / "info.json").read_text()).get("promoted"))
    except (OSError, ValueError, AttributeError):
        return False


# The shipped models the pages offer first, in this order (the webcam takes the first); others follow by name.
SHIPPED_FIRST = ("realtime", "default", "stress")


def _shipped_rank(path: Path) -> tuple:
    return (SHIPPED_FIRST.index(path.stem) if path.stem in SHIPPED_FIRST else len(SHIPPED_FIRST), path.name)


def discover_models(model_dir=None, runs: str = "promoted") -> list[ModelInfo]:
    """Checkpoints in `model_dir` (default: $FEL_MODEL_DIR or <repo>/model): shipped `*.pt` first
    (realtime, default, stress, then the others by name),
    then runs' `runs/*/best.pt` (newest first): only the promoted ones (what the webcam and compare
    pages offer), or `runs="all"`, or `runs="none"`. With no `model_dir`, runs come from core.runs'
    runs folder ($FEL_RUNS_DIR, default model/runs). Cheap: each file is read once per mtime."""
    if runs not in ("promoted", "all", "none"):
        raise ValueError(f"runs must be 'promoted', 'all' or 'none', not {runs!r}")
    if model_dir is None:
        base = default_model_dir()
        from .runs import runs_root

        runs_dir = runs_root()
    else:
        base = Path(model_dir)
        runs_dir = base / "runs"
    shipped = sorted((p for p in base.glob("*.pt") if p.is_file()), key=_shipped_rank)
    out = [model_info(p, "shipped") for p in shipped]
    run_files = []
    if runs != "none" and runs_dir.is_dir():
        run_files = [p for p in runs_dir.glob("*/best.pt") if p.is_file()
                     and (runs == "all" or is_promoted(p.parent))]
    run_files.sort(key=lambda p: p.parent.name, reverse=True)
    out += [model_info(p, "run") for p in run_files]
    return out


def best_model(models: list[ModelInfo] | None = None, kind: str = "emotion", prefer_shipped: bool = True):
    """The usable model of `kind` with the highest accuracy (shipped ones first, if any), or None."""
    models = discover_models() if models is None else models
    ok = [m for m in models if not m.error and m.kind == kind]
    if prefer_shipped and any(m.source == "shipped" for m in ok):
        ok = [m for m in ok if m.source == "shipped"]
    if not ok:
        return None
    return max(ok, key=lambda m: (m.accuracy if m.accuracy is not None else -1.0))


def compare_models(models: list[ModelInfo] | None = None) -> list[ModelInfo]:
    """The models the Compare page starts with: our most accurate emotion model and our stress model,
    so DeepFace is first compared with the best we have, not the fastest (empty when no model is usable)."""
    models = discover_models() if models is None else models
    return [m for m in (best_model(models), best_model(models, kind="stress")) if m is not None]


# What a webcam model must reach on FER2013 PrivateTest (the accuracy bar for the real-time model).
WEBCAM_ACCURACY_BAR = 0.66


def saved_latency_ms(path) -> float | None:
    """Milliseconds per face on 2 CPU threads, from the model's saved card (`<name>.card.json`), if any."""
    import json

    card_file = Path(path).with_name(Path(path).name.removesuffix(".pt") + ".card.json")
    try:
        v = json.loads(card_file.read_text()).get("latency_ms_per_face_2_threads")
    except (OSError, ValueError, AttributeError):
        return None
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 else None


def webcam_model(models: list[ModelInfo] | None = None):
    """The model the Webcam page starts on: the fastest shipped emotion model (by its card's latency) that
    reaches WEBCAM_ACCURACY_BAR; with none there, the first usable model. Face detection costs more per frame
    than any of our CNNs, so accuracy decides what users see, and speed only picks among models good enough."""
    models = discover_models() if models is None else models
    usable = [m for m in models if not m.error]
    good = [m for m in usable if m.source == "shipped" and m.kind == "emotion"
            and (m.accuracy or 0.0) >= WEBCAM_ACCURACY_BAR]
    if good:
        return min(good, key=lambda m: (saved_latency_ms(m.path) or float("inf"), m.params))
    return usable[0] if usable else None


def resolve_model(path_or_name, model_dir=None) -> Path:
    """A checkpoint path from a path, a file name in model/, a run id, or a model's listed name."""
    from .checkpoint import CheckpointError

    text = str(path_or_name).strip()
    p = Path(text).expanduser()
    if p.is_file():
        return p
    base = Path(model_dir) if model_dir else default_model_dir()
    for cand in (base / text, base / f"{text}.pt", base / "runs" / text / "best.pt"):
        if cand.is_file():
            return cand
    if model_dir is None:
        from .runs import runs_root

        cand = runs_root() / text / "best.pt"
        if cand.is_file():
            return cand
    models = discover_models(model_dir, runs="all")
    for m in models:
        if text in (m.name, Path(m.path).stem, m.run_id) and not m.error:
            return Path(m.path)
    if p.suffix == ".pt" or os.sep in text:
        raise CheckpointError(f"checkpoint {text} does not exist")
    known = ", ".join(m.name for m in models if not m.error) or "none"
    raise CheckpointError(f"no model named {text!r} (a checkpoint path, a file in {base}, a run id, or "
                          f"'deepface'); known models: {known}")


_PREDICTORS: dict[tuple, Predictor] = {}
_PREDICTORS_LOCK = threading.Lock()


def load_predictor(path_or_name, tta: str | None = None) -> Predictor:
    """A predictor, loaded once and reused: "deepface" -> DeepFacePredictor, anything else is a
    checkpoint (path, name in model/, or run id) -> CNNPredictor. Raises CheckpointError naming the file."""
    tta = None if tta in (None, "", "none", "None") else str(tta)
    if str(path_or_name).strip().lower() == DEEPFACE:
        key = (DEEPFACE,)
        with _PREDICTORS_LOCK:
            if key not in _PREDICTORS:
                from .deepface_backend import DeepFacePredictor

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
    with _INFO_LOCK:
        _INFO_CACHE.clear()


# ---------------------------------------------------------------- one picture, many models

@dataclass
class ModelOutput:
    name: str
    classes: tuple
    probs: np.ndarray | None      # (N faces, C); None when the model failed
    latency_ms: float             # per face: the batch's time / N (the batch's time when N <= 1)
    error: str | None = None
    kind: str = "emotion"
    source: str = ""
    batch_ms: float = 0.0         # the whole batched call


@dataclass
class Analysis:
    faces: list                   # [Face], left to right, original image coordinates
    crops: np.ndarray             # (N, 48, 48) uint8: what every model saw
    outputs: list                 # [ModelOutput], one per predictor, in the order given
    detect_ms: float = 0.0
    image_shape: tuple = field(default_factory=tuple)


_DEFAULT_DETECTOR = None


def default_detector():
    global _DEFAULT_DETECTOR
    if _DEFAULT_DETECTOR is None:
        from .faces import FaceDetector

        _DEFAULT_DETECTOR = FaceDetector()
    return _DEFAULT_DETECTOR


def _error_text(e: BaseException) -> str:
    text = str(e).strip()
    if type(e).__name__ in ("DeepFaceUnavailable", "CheckpointError", "ImageError") and text:
        return text
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def run_predictor(predictor: Predictor, crops) -> ModelOutput:
    """One predictor on a batch of crops, timed; failures become `error`, never an exception."""
    classes = tuple(getattr(predictor, "classes", ()) or ())
    name = str(getattr(predictor, "name", type(predictor).__name__))
    kind = str(getattr(predictor, "kind", "emotion"))
    source = str(getattr(predictor, "source", ""))
    n = len(crops)
    t0 = time.perf_counter()
    try:
        probs = np.asarray(predictor.predict(crops), dtype=np.float64) if n else np.zeros((0, len(classes)))
        ms = (time.perf_counter() - t0) * 1000.0
        if probs.shape != (n, len(classes)):
            raise ValueError(f"returned probabilities of shape {probs.shape}, expected {(n, len(classes))}")
        return ModelOutput(name, classes, probs, ms / max(n, 1), None, kind, source, ms)
    except Exception as e:  # noqa: BLE001 - one model failing must not stop the others
        ms = (time.perf_counter() - t0) * 1000.0
        return ModelOutput(name, classes, None, 0.0, _error_text(e), kind, source, ms)


def analyze(image: np.ndarray, predictors: Sequence[Predictor], detector=None, color: str = "rgb",
            margin: float = 0.15) -> Analysis:
    """Detect the faces once, crop them once (48x48 grey), run every predictor on the whole batch.
    A predictor that raises gets `error` set in its ModelOutput; the others still run."""
    from .faces import crop_faces

    detector = detector or default_detector()
    t0 = time.perf_counter()
    faces = list(detector.detect(image, color=color))
    detect_ms = (time.perf_counter() - t0) * 1000.0
    crops = crop_faces(image, faces, margin=margin, size=48, color=color)
    outputs = [run_predictor(p, crops) for p in predictors]
    return Analysis(faces, crops, outputs, detect_ms, tuple(np.shape(image)))


def results_table(analysis: Analysis, stress_emotions=None) -> list[dict]:
    """One row per face per model (models that failed have no rows): face (1-based), model, emotion
    (the top class), confidence, stress, stress_confidence, p_stress, latency_ms, x, y, w, h, and
    p_<class> for each of the model's classes."""
    rows = []
    for i, face in enumerate(analysis.faces):
        x, y, w, h = (int(v) for v in (face.box if hasattr(face, "box") else face))
        for o in analysis.outputs:
            if o.error or o.probs is None or i >= len(o.probs):
                continue
            p = np.asarray(o.probs[i], dtype=np.float64)
            k = int(np.argmax(p))
            try:
                label, conf = stress_verdict(p, o.classes, stress_emotions)
                ps = float(p_stress(p, o.classes, stress_emotions))
            except ValueError:  # classes without the stress emotions
                label, conf, ps = None, float("nan"), float("nan")
            row = {"face": i + 1, "model": o.name, "emotion": o.classes[k], "confidence": float(p[k]),
                   "stress": label, "stress_confidence": float(conf), "p_stress": ps,
                   "latency_ms": float(o.latency_ms), "x": x, "y": y, "w": w, "h": h}
            row.update({f"p_{c}": float(v) for c, v in zip(o.classes, p)})
            rows.append(row)
    return rows
