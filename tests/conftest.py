"""Shared fixtures. Every test gets its own runs/graphs/cache folders: nothing touches model/ or data/."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------- core (project lead)


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path_factory, monkeypatch):
    base = tmp_path_factory.mktemp("fel")
    monkeypatch.setenv("FEL_RUNS_DIR", str(base / "runs"))
    monkeypatch.setenv("FEL_GRAPHS_DIR", str(base / "graphs"))
    monkeypatch.setenv("FEL_CACHE_DIR", str(base / "cache"))
    return base


@pytest.fixture(scope="session")
def synthetic_csv(tmp_path_factory):
    from core.synthetic import write_synthetic_csv

    return write_synthetic_csv(tmp_path_factory.mktemp("syn") / "syn.csv", n_per_class=40)


def fer2013_path() -> Path | None:
    env = os.environ.get("FER2013_PATH")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT.parent / "shared" / "datasets" / "fer2013" / "fer2013.csv.gz")
    return next((p for p in candidates if p.exists()), None)


@pytest.fixture(scope="session")
def fer2013():
    """The real data set. In CI it must be there: a missing data set fails, it does not skip."""
    path = fer2013_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("FER2013 not found: set FER2013_PATH or put it in ../shared/datasets/fer2013/")
        pytest.skip("FER2013 not available here")
    return path


@pytest.fixture(scope="session")
def fer2013_dataset(fer2013, tmp_path_factory):
    """FER2013 loaded once per test session (the parse takes ~30 s; the cache then makes it instant)."""
    import core.data

    old = os.environ.get("FEL_CACHE_DIR")
    os.environ["FEL_CACHE_DIR"] = str(tmp_path_factory.mktemp("fer-cache"))
    try:
        return core.data.load_dataset(fer2013)
    finally:
        if old is None:
            os.environ.pop("FEL_CACHE_DIR", None)
        else:
            os.environ["FEL_CACHE_DIR"] = old
