"""Where things are, and every setting the environment can change: the one place `FEL_*` is read.

Layer 0 of the engine: imports nothing of core. Every folder is a function, read at call time, so a
test (or a second app on the same machine) can point a process elsewhere by setting a variable.

| variable | what | default |
|---|---|---|
| FEL_MODEL_DIR | shipped checkpoints (`*.pt`, `*.card.json`) | `<repo>/model` |
| FEL_SHIPPED_GRAPHS_DIR | shipped models' curves and training history (`<name>/`) | `<repo>/graphs` |
| FEL_RUNS_DIR | training runs, the queue, searches (`optuna.db`) | `<repo>/model/runs` |
| FEL_GRAPHS_DIR | runs' curves (`<run-id>/`) | `<repo>/graphs/runs` |
| FEL_CACHE_DIR | decoded data sets | `<repo>/data/cache` |
| FEL_VIDEO_DIR | video analyses (`<analysis-id>/`) | `<repo>/model/videos` |
| FEL_SAMPLE_DIR | sample photos | `<repo>/sample_images` |
| FEL_RESULTS_DIR | measured figures (`<name>.json`), what READMEs and pages quote | `<repo>/results` |
| FER2013_PATH | the data set | `data/fer2013.csv[.gz]`, `data/fer2013/`, `../shared/datasets/fer2013-original/` |
| FERPLUS_PATH | FER+'s votes (`fer2013new.csv[.gz]`) | beside the data set, `data/`, `../shared/datasets/ferplus/` |
| FEL_DATA_ROOTS | folders the app may read data sets from (`:`-separated), beside data/ and FER2013's | none |
| FEL_STUDY_STORAGE | the search's database URL (any SQLAlchemy URL Optuna takes) | `sqlite:///<runs>/optuna.db` |
| FEL_ICE_SERVERS | STUN/TURN servers for the webcam (JSON) | none (localhost) |
| FEL_INFER_THREADS | torch threads for inference | min(2, cores) |
| FEL_LIVE_THREADS | torch threads of the webcam's analysis thread | 1 |
| FEL_LIVE_INLINE | 1: analyse every webcam frame on the stream's thread (the stream waits for it) | 0 |
| FEL_TF_THREADS | TensorFlow threads (DeepFace) | all cores |
| FEL_KEEP_FREED_MEMORY | 0: leave glibc's malloc thresholds alone | 1 |
| FEL_DETECTOR | the face detector the pages and the CLI start with | the best one installed |
| FEL_YUNET_MODEL | YuNet's ONNX file (checked; a refused one is named, never replaced) | `<repo>/model/detectors/face_detection_yunet_2023mar.onnx` |
| FEL_DDP_TIMEOUT | seconds a training process waits for the others before it ends the run as failed | 300 |
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _path(var: str, default: Path) -> Path:
    value = os.environ.get(var, "").strip()
    return Path(value).expanduser() if value else default


def _positive_int(var: str) -> int | None:
    value = os.environ.get(var, "").strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def model_dir() -> Path:
    return _path("FEL_MODEL_DIR", ROOT / "model")


def shipped_graphs_dir() -> Path:
    return _path("FEL_SHIPPED_GRAPHS_DIR", ROOT / "graphs")


def runs_root() -> Path:
    return _path("FEL_RUNS_DIR", ROOT / "model" / "runs")


def graphs_root() -> Path:
    return _path("FEL_GRAPHS_DIR", ROOT / "graphs" / "runs")


def cache_dir() -> Path:
    return _path("FEL_CACHE_DIR", ROOT / "data" / "cache")


def video_dir() -> Path:
    return _path("FEL_VIDEO_DIR", ROOT / "model" / "videos")


def results_dir() -> Path:
    return _path("FEL_RESULTS_DIR", ROOT / "results")


def sample_dir() -> Path:
    return _path("FEL_SAMPLE_DIR", ROOT / "sample_images")


def data_candidates() -> list[Path]:
    """Where FER2013 may be, in the order it is looked for."""
    env = os.environ.get("FER2013_PATH", "").strip()
    if env:
        return [Path(env).expanduser()]
    return [ROOT / "data" / "fer2013.csv", ROOT / "data" / "fer2013.csv.gz", ROOT / "data" / "fer2013",
            ROOT.parent / "shared" / "datasets" / "fer2013-original" / "fer2013.csv.gz",
            ROOT.parent / "shared" / "datasets" / "fer2013" / "fer2013.csv.gz"]


def ferplus_candidates() -> list[Path]:
    """Where FER+'s votes (Microsoft's fer2013new.csv) may be, beyond the data set's own folder."""
    env = os.environ.get("FERPLUS_PATH", "").strip()
    if env:
        return [Path(env).expanduser()]
    return [ROOT / "data" / "fer2013new.csv", ROOT / "data" / "fer2013new.csv.gz",
            ROOT.parent / "shared" / "datasets" / "ferplus" / "fer2013new.csv.gz"]


def _data_roots_given() -> list[Path]:
    roots = [ROOT / "data", cache_dir().parent, ROOT.parent / "shared" / "datasets"]
    roots += [c.parent for c in data_candidates()]
    return roots + [Path(p).expanduser() for p in os.environ.get("FEL_DATA_ROOTS", "").split(os.pathsep) if p.strip()]


def data_roots() -> list[Path]:
    """The folders a data set typed into the app may come from: the project's data/ (and the data cache, where
    the demo set is written), the folder FER2013 was found in, and FEL_DATA_ROOTS; links resolved (what a
    path is checked against). The CLI reads any path."""
    out = []
    for r in _data_roots_given():
        try:
            r = r.resolve()
        except OSError:
            continue
        if r not in out:
            out.append(r)
    return out


def data_roots_shown() -> list[Path]:
    """The same folders as people wrote them (not the targets of their links), those that exist, each once and
    none inside another: what a message lists."""
    out, seen = [], set()
    for r in _data_roots_given():
        try:
            real = r.resolve()
        except OSError:
            continue
        if r.is_dir() and not any(real == s or s in real.parents for s in seen):
            seen.add(real)
            out.append(r)
    return out


def readable_by_app(path) -> bool:
    """Whether the app may open `path` (it lies inside one of `data_roots()`, links resolved)."""
    try:
        p = Path(path).expanduser().resolve()
    except OSError:
        return False
    return any(p == r or r in p.parents for r in data_roots())


def fer2013_env() -> str:
    return os.environ.get("FER2013_PATH", "").strip()


def study_storage() -> str:
    return os.environ.get("FEL_STUDY_STORAGE", "").strip()


def ice_servers_text() -> str:
    return os.environ.get("FEL_ICE_SERVERS", "")


def infer_threads() -> int | None:
    return _positive_int("FEL_INFER_THREADS")


def live_threads() -> int:
    return _positive_int("FEL_LIVE_THREADS") or 1


def tf_threads() -> int | None:
    return _positive_int("FEL_TF_THREADS")


def live_inline() -> bool:
    return os.environ.get("FEL_LIVE_INLINE", "0").strip() == "1"


def keep_freed_memory() -> bool:
    return os.environ.get("FEL_KEEP_FREED_MEMORY", "1") != "0"


def detector_name() -> str:
    return os.environ.get("FEL_DETECTOR", "").strip()


def yunet_model_file() -> Path | None:
    value = os.environ.get("FEL_YUNET_MODEL", "").strip()
    return Path(value).expanduser() if value else None


def ddp_timeout() -> int | None:
    return _positive_int("FEL_DDP_TIMEOUT")


def child_environment() -> dict:
    """The environment of a process we start (a worker, a search): ours, with every folder made explicit
    and absolute, so the child works on exactly the folders this process sees."""
    env = dict(os.environ)
    env["FEL_RUNS_DIR"] = str(runs_root().resolve())
    env["FEL_GRAPHS_DIR"] = str(graphs_root().resolve())
    env["FEL_MODEL_DIR"] = str(model_dir().resolve())
    env["FEL_CACHE_DIR"] = str(cache_dir().resolve())
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env
