"""The model catalogue: every checkpoint the pages and the CLI can offer (shipped `model/*.pt`, runs'
`best.pt`), what each is (architecture, size, classes, accuracy), read cheaply and cached, and how a name
a user types becomes a file (`resolve_model`)."""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..files import read_json
from ..labels import canonical, task_of
from ..models.checkpoint import FORMAT, CheckpointError, UnsafeCheckpoint, checkpoint_meta, read_state
from ..models.int8 import unavailable_reason
from ..runs import Run
from ..settings import model_dir as default_model_dir
from ..settings import runs_root
from .cnn import friendly_name

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
    labels: str = ""          # the labels it learned: "fer2013", "ferplus" (FER+'s votes), "" (a data set of its own)

    @property
    def accuracy(self) -> float | None:
        return model_accuracy(self.metrics)

    @property
    def labels_text(self) -> str:
        """Which labels the model learned, in words a picker shows beside its name."""
        return labels_text(self.labels, self.classes)


def labels_text(labels: str, classes) -> str:
    """"FER+ votes, 8 classes" / "FER2013 labels, 7 classes" / "its own data set, 2 classes"."""
    what = {"ferplus": "FER+ votes", "fer2013": "FER2013 labels"}.get(labels, "its own data set")
    return f"{what}, {len(classes)} classes"


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


_INFO_CACHE: dict[tuple, ModelInfo] = {}
_INFO_LOCK = threading.Lock()


def _param_count(state_dict) -> int:
    skip = ("running_mean", "running_var", "num_batches_tracked")
    return int(sum(v.numel() for k, v in state_dict.items() if hasattr(v, "numel") and not k.endswith(skip)))


def model_info(path, source: str = "shipped") -> ModelInfo:
    """What a checkpoint is (name, architecture, size, classes, metrics), cached on (path, mtime, size).
    A file that cannot be read, or that would run code when read, gets `error` set instead of raising."""
    path = Path(path)
    try:
        st = path.stat()
        info_json = path.parent / "info.json"
        renamed = info_json.stat().st_mtime_ns if source == "run" and info_json.exists() else 0
        card = card_path(path)
        remeasured = card.stat().st_mtime_ns if source == "shipped" and card.exists() else 0
        key = (str(path.resolve()), st.st_mtime_ns, st.st_size, source, renamed, remeasured)
    except OSError as e:
        return ModelInfo(path.stem, str(path), "?", 0, (), "emotion", {}, source, f"cannot read {path}: {e}")
    with _INFO_LOCK:
        hit = _INFO_CACHE.get(key)
    if hit is not None:
        return hit
    run_id = path.parent.name if source == "run" else None
    try:
        try:  # memory-mapped: the weights are not read, only their shapes
            state = read_state(path, mmap=True)
        except UnsafeCheckpoint:
            raise
        except RuntimeError:
            state = read_state(path)
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise ValueError("not a Facial Emotion Lab checkpoint")
        meta = checkpoint_meta(state, path)  # listed as broken, naming the field, before its sizes are trusted
        classes = tuple(canonical(c) for c in meta.classes)
        arch = meta.model
        metrics = dict(meta.metrics)
        if source == "run":
            metrics = {**metrics, **_run_summary(path.parent)}
        elif remeasured:
            metrics = {**metrics, **card_metrics(card)}
        name = _run_name(path.parent, arch) if source == "run" else friendly_name(path, arch)
        quantized = meta.quantized or {}
        params = quantized.get("float_params") or _param_count(state.get("state_dict", {}))
        unusable = None
        if quantized:  # an int8 copy runs only where its quantized engine does
            reason = unavailable_reason(quantized.get("backend", "x86"))
            unusable = f"{path.name} is an int8 model: {reason}" if reason else None
        info = ModelInfo(name, str(path), arch, int(params),
                         classes, task_of(classes), metrics,
                         source, unusable, meta.input_size, run_id, meta.label_set)
        del state
    except CheckpointError as e:  # listed, with why (unsafe ones never unpickled)
        info = ModelInfo(friendly_name(path, None), str(path), "?", 0, (), "emotion", {}, source, str(e), 48, run_id)
    except Exception as e:  # noqa: BLE001 - a corrupt file is listed, not fatal
        info = ModelInfo(friendly_name(path, None), str(path), "?", 0, (), "emotion", {}, source,
                         f"checkpoint {path} is corrupt or unreadable ({type(e).__name__}: {e})", 48, run_id)
    with _INFO_LOCK:
        if len(_INFO_CACHE) > 256:
            _INFO_CACHE.clear()
        _INFO_CACHE[key] = info
    return info


def card_path(path) -> Path:
    """The saved card beside a shipped checkpoint: model/<name>.card.json."""
    path = Path(path)
    return path.with_name(path.name.removesuffix(".pt") + ".card.json")


def card_metrics(card: Path) -> dict:
    """A shipped model's accuracies as its saved card measured them (on the data set the cards are measured on,
    with today's preprocessing), which outrank the figures its training wrote into the checkpoint: the pages and
    the model cards then quote one measurement. {} for a card without them."""
    c = read_json(card, None)
    out = {}
    for key, view in (("test_acc", "test_none"), ("val_acc", "val_none"), ("test_tencrop_acc", "test_tencrop")):
        v = c.get(view, {}).get("accuracy") if isinstance(c, dict) and isinstance(c.get(view), dict) else None
        if isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v):
            out[key] = float(v)
    return out


def _run_name(run_dir: Path, arch: str) -> str:
    """A run's model as the lists show it: the run's title (the name the user gave it, else the one it started
    with) and architecture, with the day it was made to tell runs of one name apart; its folder id where it has
    no name."""
    run = Run(run_dir)
    title = run.title
    if title == run.id:
        return friendly_name(run_dir / "best.pt", arch)
    made = re.match(r"(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})", run.id)
    when = f", {made[1]}-{made[2]}-{made[3]} {made[4]}:{made[5]}" if made else ""
    return f"{title} ({arch}{when})"


def _run_summary(run_dir: Path) -> dict:
    """Test figures a finished run wrote beside its checkpoint (summary.json), if any."""
    data = Run(run_dir).summary()
    return {k: v for k, v in data.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)} \
        if isinstance(data, dict) else {}


def is_promoted(run_dir) -> bool:
    """A run the user promoted on the Experiments page (info.json "promoted": true)."""
    info = Run(run_dir).info()
    return bool(info.get("promoted")) if isinstance(info, dict) else False


def clear_info_cache() -> None:
    with _INFO_LOCK:
        _INFO_CACHE.clear()


# The shipped models the pages offer first, in this order (the webcam takes the first); others follow by name.
SHIPPED_FIRST = ("realtime", "stress")


def _shipped_rank(path: Path) -> tuple:
    return (SHIPPED_FIRST.index(path.stem) if path.stem in SHIPPED_FIRST else len(SHIPPED_FIRST), path.name)


def discover_models(model_dir=None, runs: str = "promoted") -> list[ModelInfo]:
    """Checkpoints in `model_dir` (default: $FEL_MODEL_DIR or <repo>/model): the promoted runs' `best.pt` first
    (newest first: the user put them forward), then the shipped `*.pt` (realtime, stress, then the others by
    name), then with `runs="all"` the other runs' (newest first); `runs="none"`: the shipped ones only. The
    webcam and compare pages offer the promoted runs (the default); which model they start on is
    core.predict.choice's. With no `model_dir`, runs come from core.runs' runs folder ($FEL_RUNS_DIR, default
    model/runs). Cheap: each file is read once per mtime."""
    if runs not in ("promoted", "all", "none"):
        raise ValueError(f"runs must be 'promoted', 'all' or 'none', not {runs!r}")
    if model_dir is None:
        base = default_model_dir()
        runs_dir = runs_root()
    else:
        base = Path(model_dir)
        runs_dir = base / "runs"
    shipped = sorted((p for p in base.glob("*.pt") if p.is_file()), key=_shipped_rank)
    run_files = []
    if runs != "none" and runs_dir.is_dir():
        run_files = sorted((p for p in runs_dir.glob("*/best.pt") if p.is_file()), key=lambda p: p.parent.name,
                           reverse=True)
    promoted = [p for p in run_files if is_promoted(p.parent)]
    others = [p for p in run_files if runs == "all" and p not in promoted]
    return [model_info(p, "run") for p in promoted] + [model_info(p, "shipped") for p in shipped] + \
        [model_info(p, "run") for p in others]


def resolve_model(path_or_name, model_dir=None) -> Path:
    """A checkpoint path from a path, a file name in model/, a run id, or a model's listed name."""
    text = str(path_or_name).strip()
    p = Path(text).expanduser()
    if p.is_file():
        return p
    base = Path(model_dir) if model_dir else default_model_dir()
    for cand in (base / text, base / f"{text}.pt", base / "runs" / text / "best.pt"):
        if cand.is_file():
            return cand
    if model_dir is None:
        cand = runs_root() / text / "best.pt"
        if cand.is_file():
            return cand
    models = discover_models(model_dir, runs="all")
    for m in models:
        if text in (m.name, Path(m.path).stem, m.run_id) and not m.error:
            return Path(m.path)
    if p.suffix == ".pt" or "/" in text:
        raise CheckpointError(f"checkpoint {text} does not exist")
    known = ", ".join(m.name for m in models if not m.error) or "none"
    raise CheckpointError(f"no model named {text!r} (a checkpoint path, a file in {base}, a run id, or "
                          f"'deepface'); known models: {known}")
