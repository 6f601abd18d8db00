"""Shared fixtures. Every test gets its own runs/graphs/cache folders: nothing touches model/ or data/."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

from core.native import before_tensorflow  # noqa: E402

before_tensorflow()  # some tests import TensorFlow themselves (importorskip): Triton first, as core does (core/native.py)

# YuNet's model file where ../shared has it, as .ci/run sets it: the suite runs the pages' default detector, not
# the Haar fallback, also when it is run by hand without the variable
_YUNET = ROOT.parent / "shared" / "models" / "yunet" / "face_detection_yunet_2023mar.onnx"
if not os.environ.get("FEL_YUNET_MODEL") and _YUNET.is_file():
    os.environ["FEL_YUNET_MODEL"] = str(_YUNET)

# ---------------------------------------------------------------- core (project lead)


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path_factory, monkeypatch):
    base = tmp_path_factory.mktemp("fel")
    monkeypatch.setenv("FEL_RUNS_DIR", str(base / "runs"))
    monkeypatch.setenv("FEL_GRAPHS_DIR", str(base / "graphs"))
    monkeypatch.setenv("FEL_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("FEL_SHIPPED_GRAPHS_DIR", str(base / "shipped-graphs"))
    monkeypatch.setenv("FEL_VIDEO_DIR", str(base / "videos"))
    monkeypatch.setenv("FEL_RESULTS_DIR", str(base / "results"))  # what a measuring command writes: not the repo's
    monkeypatch.delenv("FEL_STUDY_STORAGE", raising=False)
    return base


@pytest.fixture(scope="session")
def synthetic_csv(tmp_path_factory):
    from core.data.synthetic import write_synthetic_csv

    return write_synthetic_csv(tmp_path_factory.mktemp("syn") / "syn.csv", n_per_class=40)


def fer2013_path() -> Path | None:
    env = os.environ.get("FER2013_PATH")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT.parent / "shared" / "datasets" / "fer2013-original" / "fer2013.csv.gz")
    return next((p for p in candidates if p.exists()), None)


@pytest.fixture(scope="session")
def fer2013():
    """The real data set. In CI it must be there: a missing data set fails, it does not skip."""
    path = fer2013_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("FER2013 not found: set FER2013_PATH or put it in ../shared/datasets/fer2013-original/")
        pytest.skip("FER2013 not available here")
    return path


@pytest.fixture(scope="session")
def fer2013_dataset(fer2013, tmp_path_factory):
    """FER2013 loaded once per test session (the parse takes ~30 s; the cache then makes it instant), with FER+'s
    ten votes beside every face where they are found (Kaggle's row order: ../shared's fer2013-original)."""
    import core.data

    old = os.environ.get("FEL_CACHE_DIR")
    os.environ["FEL_CACHE_DIR"] = str(tmp_path_factory.mktemp("fer-cache"))
    try:
        try:
            return core.data.load_dataset(fer2013, join_votes=True)
        except core.data.DataError:  # no votes beside this copy (or another row order): FER2013's labels alone
            return core.data.load_dataset(fer2013)
    finally:
        if old is None:
            os.environ.pop("FEL_CACHE_DIR", None)
        else:
            os.environ["FEL_CACHE_DIR"] = old


# ---------------------------------------------------------------- app pages: Home, Webcam, Compare (UI engineer)


def _detect_count(path) -> int:
    """Faces found in a photo with the Compare page's and the Webcam page's default detector settings
    (-1 if they disagree)."""
    from core.predict.detectors import HaarDetector
    from core.data.images import load_image

    img = load_image(path)
    counts = {len(HaarDetector(min_size=0.05, detect_width=1024).detect(img)),
              len(HaarDetector(min_size=0.10, detect_width=480).detect(img))}
    return counts.pop() if len(counts) == 1 else -1


@pytest.fixture(scope="session")
def app_model_dir(tmp_path_factory):
    """A model folder with one small emotion CNN (mini_xception, width 8): what FEL_MODEL_DIR points at."""
    from core.models.checkpoint import save_checkpoint
    from core.labels import EMOTIONS
    from core.models import create_model

    d = tmp_path_factory.mktemp("app-models")
    model = create_model("mini_xception", num_classes=len(EMOTIONS), width=8)
    save_checkpoint(d / "tiny.pt", model, classes=EMOTIONS, mean=0.5, std=0.25,
                    metrics={"test_accuracy": 0.42, "accuracy": 0.42})
    return d


@pytest.fixture(scope="session")
def face_photo(request, tmp_path_factory) -> Path:
    """A photo in which the app's detector finds exactly one face: a shipped sample if one qualifies,
    else a FER2013 test face enlarged onto a background (needs the data set)."""
    import cv2
    import numpy as np

    samples = sorted(p for p in (ROOT / "sample_images").glob("*")
                     if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp", ".bmp"))
    for p in samples:
        try:
            if _detect_count(p) == 1:
                return p
        except Exception:  # noqa: BLE001 - a sample we cannot read is not our fixture
            continue
    test = request.getfixturevalue("fer2013_dataset").splits["test"]  # skips (fails in CI) without FER2013
    out = tmp_path_factory.mktemp("face") / "face.png"
    for i in range(200):
        face = cv2.resize(test.images[i, 0].numpy(), (240, 240), interpolation=cv2.INTER_CUBIC)
        img = cv2.copyMakeBorder(face, 120, 120, 200, 200, cv2.BORDER_CONSTANT, value=90)
        cv2.imwrite(str(out), np.stack([img] * 3, -1))
        if _detect_count(out) == 1:
            return out
    pytest.fail("could not make a face photo the detector finds")


@pytest.fixture
def app_env(monkeypatch, tmp_path, app_model_dir, face_photo):
    """Environment for the app: our tiny model, a sample folder with the face photo, DeepFace without weights."""
    import shutil

    samples = tmp_path / "samples"
    samples.mkdir()
    shutil.copy(face_photo, samples / ("face" + face_photo.suffix.lower()))
    df_home = tmp_path / "deepface-home"
    df_home.mkdir()
    monkeypatch.setenv("FEL_MODEL_DIR", str(app_model_dir))
    monkeypatch.setenv("FEL_SAMPLE_DIR", str(samples))
    monkeypatch.setenv("DEEPFACE_HOME", str(df_home))
    return {"models": app_model_dir, "samples": samples, "deepface_home": df_home, "face": face_photo}
