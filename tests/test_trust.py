"""Trust under careless and hostile use: no code runs from a model file, no run or model is written twice or
overwritten, a data set without a test split still ends in real numbers, parallel search workers never repeat
each other, photos with many small faces are searched at a size that finds them."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.helpers import wait_for

from core.config import TrainConfig
from core.runs import list_runs

ROOT = Path(__file__).resolve().parent.parent


def cli(*args, check=False, timeout=600):
    return subprocess.run([sys.executable, "-m", "core", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


class _WritesAFile:
    """A pickle payload: unpickling it calls open(path, "w"), creating the file: any code could run instead."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.fixture
def evil_checkpoint(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    marker = tmp_path / "PWNED"
    torch.save({"format": "facial-emotion-lab/1", "model": "vgg", "classes": ["a", "b"], "payload": _WritesAFile(marker)},
               models / "evil.pt")
    return models / "evil.pt", marker


# ---------------------------------------------------------------- no code runs from a model file


def test_a_checkpoint_that_would_run_code_is_refused_everywhere(evil_checkpoint, monkeypatch, app_model_dir):
    from core.models.checkpoint import UnsafeCheckpoint, load_checkpoint
    from core.predict.catalogue import discover_models

    path, marker = evil_checkpoint
    with pytest.raises(UnsafeCheckpoint, match="unsafe to load.*open"):
        load_checkpoint(path)
    listed = {Path(m.path).name: m for m in discover_models(path.parent, runs="none")}
    assert "unsafe to load" in listed["evil.pt"].error
    res = cli("predict", ROOT / "sample_images" / "happy_obama.jpg", "--model", path)
    assert res.returncode == 2 and "unsafe to load" in res.stderr and "Traceback" not in res.stderr

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("FEL_MODEL_DIR", str(path.parent))
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60).run()
    assert not at.exception
    status = at.dataframe[0].value["status"]
    assert status.str.contains("unsafe to load").sum() == 1
    assert not marker.exists()  # from the library, the CLI and the page: the pickle never ran


def test_the_shipped_models_load_with_weights_only():
    from core.models.checkpoint import load_model

    for path in sorted((ROOT / "model").glob("*.pt")):
        model, meta = load_model(path)
        assert meta.classes, path


# ---------------------------------------------------------------- nothing overwritten, nothing trained twice


def test_ship_never_replaces_a_model_unless_forced_and_then_replaces_all_of_it(synthetic_csv, tmp_path, monkeypatch):
    from core.train import train
    from core.workflows.ship import ship

    models, graphs = tmp_path / "model", tmp_path / "graphs"
    cfg = dict(data=str(synthetic_csv), model="model48", width=8, epochs=1, batch_size=32, threads=1)
    first = train(TrainConfig(**cfg, name="first"), progress=False)
    second = train(TrainConfig(**cfg, name="second"), progress=False)
    ship(first, "mine", models, graphs)
    (models / "mine.card.json").write_text('{"describes": "first"}')
    before = {p: p.read_bytes() for p in (models / "mine.pt", models / "mine.card.json", graphs / "mine" / "config.json")}
    with pytest.raises(FileExistsError, match="--force"):
        ship(second, "mine", models, graphs)
    assert {p: p.read_bytes() for p in before} == before  # all three untouched
    ship(second, "mine", models, graphs, force=True)
    assert torch.load(models / "mine.pt", weights_only=True)["run_id"] == second.id
    assert json.loads((graphs / "mine" / "config.json").read_text())["name"] == "second"
    assert not (models / "mine.card.json").exists()  # the old card described the old file
    assert not list(models.glob(".ship-*"))

    monkeypatch.setenv("FEL_MODEL_DIR", str(models))  # the CLI's ship, into the same folders
    monkeypatch.setenv("FEL_SHIPPED_GRAPHS_DIR", str(graphs))
    res = cli("ship", first.id, "--as", "mine")
    assert res.returncode == 2 and "exists already" in res.stderr
    assert torch.load(models / "mine.pt", weights_only=True)["run_id"] == second.id


def test_a_run_being_trained_cannot_be_trained_by_a_second_process(synthetic_csv):
    train_cmd = [sys.executable, "-m", "core", "train", "--data", str(synthetic_csv), "--model", "model48", "--width", "8",
                 "--epochs", "400", "--batch-size", "16", "--threads", "1", "--name", "busy", "--no-progress"]
    first = subprocess.Popen(train_cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: list_runs() and list_runs()[0].metrics(), what="the first epoch of the first process")
        run = list_runs()[0]
        second = cli("train", "--resume", run.id)
        assert second.returncode == 2 and "being trained by a live process" in second.stderr
        for bad, why in (("", "not a valid run id"), (str(run.dir.parent.parent), "not a valid run id"),
                         ("../x", "not a valid run id")):
            res = cli("train", "--resume", bad)
            assert res.returncode == 2 and why in res.stderr, (bad, res.stderr)
        with _held_elsewhere(run):  # the lock is the run's, held for as long as the first process trains it
            pass
        run.request_stop()
        first.wait(timeout=240)
    finally:
        if first.poll() is None:
            first.kill()
    epochs = [r["epoch"] for r in run.metrics()]
    assert epochs == list(range(1, len(epochs) + 1))  # one line per epoch, nothing written twice
    assert run.state() == "stopped"


class _held_elsewhere:
    """While the first process trains, the run's lock is held: taking it here must fail at once."""

    def __init__(self, run):
        self.run = run

    def __enter__(self):
        from core.runs import RunBusy

        with pytest.raises(RunBusy, match="being trained by another process"):
            with self.run.hold():
                pass
        return self

    def __exit__(self, *exc):
        return False


def test_a_finished_run_stays_finished_when_asked_to_resume(synthetic_csv):
    from core.train import train

    run = train(TrainConfig(data=str(synthetic_csv), model="model48", width=8, epochs=1, batch_size=32, threads=1),
                progress=False)
    run.last_path.write_bytes(b"damaged")
    res = cli("train", "--resume", run.id)
    assert res.returncode == 2 and "has finished" in res.stderr
    assert run.state() == "finished"


# ---------------------------------------------------------------- bad data sets


def test_a_csv_with_training_rows_only_gets_a_carved_test_split_and_real_numbers(tmp_path):
    from core.data import load_dataset
    from core.data.synthetic import synthetic_images
    from core.train import train

    x, y = synthetic_images(30)
    path = tmp_path / "train-only.csv"
    path.write_text("emotion,pixels,Usage\n" + "".join(f"{c},{' '.join(map(str, im.ravel()))},Training\n"
                                                       for im, c in zip(x, y)))
    ds = load_dataset(path)
    assert min(ds.sizes().values()) > 0
    run = train(TrainConfig(data=str(path), model="model48", width=8, epochs=1, batch_size=16, threads=1),
                progress=False)
    text = (run.dir / "summary.json").read_text()
    assert "NaN" not in text and 0 <= json.loads(text)["test_acc"] <= 1


@pytest.mark.parametrize("value, where", [("a", "line 2"), ("1.5", "line 2")])
def test_a_pixel_that_is_not_an_integer_is_named_with_its_line(tmp_path, value, where):
    from core.data import DataError, load_dataset

    path = tmp_path / "bad.csv"
    path.write_text("emotion,pixels,Usage\n0," + " ".join(["1"] * 2303 + [value]) + ",Training\n")
    with pytest.raises(DataError, match=f"{where}: pixel value '{value}' is not an integer"):
        load_dataset(path)


def test_a_bad_data_set_given_to_train_leaves_no_run_folder(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("emotion,pixels\n9,1 2 3\n")
    res = cli("train", "--data", bad, "--epochs", "1", "--no-progress")
    assert res.returncode == 2 and "line 2" in res.stderr and "Traceback" not in res.stderr
    assert list_runs() == []


# ---------------------------------------------------------------- searches


def test_parallel_search_workers_never_repeat_a_parameter_set(synthetic_csv):
    from core.jobs import search

    res = cli("search", "--study", "par", "--workers", "2", "--trials", "3", "--epochs", "1", "--limit", "80",
              "--data", synthetic_csv, "--models", "model48", "--no-progress", timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    trials = search.load_study("par").trials
    assert len(trials) == 6
    params = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(params)) == 6
    assert len({t.user_attrs["run_id"] for t in trials}) == 6 and len({t.user_attrs["pid"] for t in trials}) == 2


def test_the_cli_refuses_a_second_search_only_where_the_page_would(synthetic_csv):
    from core import jobs

    rec = jobs.start_search("taken", n_trials=2, epochs=30, limit=120, data=synthetic_csv,
                            space={"lr": {"low": 1e-3, "high": 1e-2, "log": True}},
                            fixed={"model": "model48", "width": 8, "batch_size": 16, "threads": 1}, recipe="quick")
    try:
        res = cli("search", "--study", "taken", "--trials", "1", "--data", synthetic_csv)
        assert res.returncode == 2 and "running from the app already" in res.stderr
    finally:
        jobs.stop_search("taken")
        wait_for(lambda: not jobs.search_alive("taken"), 120, "the search to end")
    del rec


# ---------------------------------------------------------------- photos


def test_predict_finds_every_face_of_a_six_by_six_grid(tmp_path):
    """36 faces of about 60 px in a 900 px picture, under 7% of its side: with the CLI's old fixed settings
    (faces of 8% of the side or more, detected on a copy 480 px wide) most were missed; at the photo settings
    the Compare page uses, all are found."""
    import cv2

    from core.data.images import load_image
    from core.predict.detectors import create_detector

    photos = [p for p in sorted((ROOT / "sample_images").glob("*.jpg")) if "collage" not in p.name]
    detector = create_detector("haar", min_size=0.05, detect_width=1024)
    tiles = []
    for p in photos:
        img = load_image(p)
        face = max(detector.detect(img), key=lambda f: f.w * f.h)
        cx, cy, side = face.x + face.w // 2, face.y + face.h // 2, int(max(face.w, face.h) * 2.5)
        crop = img[max(0, cy - side // 2):cy + side // 2, max(0, cx - side // 2):cx + side // 2]
        tiles.append(cv2.resize(crop, (150, 150), interpolation=cv2.INTER_AREA))
    grid = np.vstack([np.hstack([tiles[(r * 6 + c) % len(tiles)] for c in range(6)]) for r in range(6)])
    path = tmp_path / "grid.png"
    cv2.imwrite(str(path), cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    res = cli("predict", path, "--detector", "haar", "--json")
    assert res.returncode == 0, res.stderr[-2000:]
    assert len(json.loads(res.stdout)["images"][0]["faces"]) == 36
    res = cli("predict", path, "--detector", "haar", "--json", "--detect-width", "480", "--min-face", "0.08")
    assert len(json.loads(res.stdout)["images"][0]["faces"]) < 36  # the old fixed settings, for the record


def test_the_app_reads_data_sets_from_its_own_folders_only(tmp_path, monkeypatch):
    from core.settings import readable_by_app

    monkeypatch.delenv("FEL_DATA_ROOTS", raising=False)
    assert not readable_by_app("/etc/passwd") and not readable_by_app(tmp_path / "x.csv")
    monkeypatch.setenv("FEL_DATA_ROOTS", str(tmp_path))
    assert readable_by_app(tmp_path / "x.csv")
    link = tmp_path / "link.csv"
    link.symlink_to("/etc/passwd")
    assert not readable_by_app(link)  # a link out of the folder is followed before it is judged

    from ui.dataset import dataset_info

    monkeypatch.delenv("FEL_DATA_ROOTS")
    info, err = dataset_info("/etc/passwd", "emotion")
    assert info is None and "outside the folders this app reads" in err


def test_names_shown_in_html_are_escaped():
    from ui.widgets import stream_caption

    text = stream_caption({"faces": [], "frames": 3, "model": "<img src=x onerror=alert(1)>"})
    assert "<img" not in text and "&lt;img" in text
