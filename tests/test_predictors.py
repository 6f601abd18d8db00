"""core.predict (and core.cli.predict): loading, predicting, stress, discovery, analysis."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.models.checkpoint import CheckpointError, save_checkpoint
from core.predict.detectors import HaarDetector
from core.data.images import load_image
from core.labels import EMOTIONS, STRESS_CLASSES
from core.models import create_model
from core.predict import (Analysis, CNNPredictor, ModelInfo, ModelOutput, Predictor, StressFromEmotion, StressPredictor, analyse, compare_models, discover_models, load_predictor, photo_result, stress_verdict, webcam_model)

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_images"
GROUP = SAMPLES / "group_four_faces_collage.jpg"


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    """A tiny model/ folder: an emotion model, a stress model, a run's best.pt and a corrupt file."""
    import torch

    torch.manual_seed(0)
    d = tmp_path_factory.mktemp("model")
    emo = save_checkpoint(d / "tiny_emotion.pt", create_model("mini_xception", 7, width=8), classes=EMOTIONS,
                          mean=0.5, std=0.25, metrics={"test_accuracy": 0.61})
    stress = save_checkpoint(d / "tiny_stress.pt", create_model("model48", 2, width=8), classes=STRESS_CLASSES,
                             mean=0.5, std=0.25, metrics={"test_accuracy": 0.7})
    run = save_checkpoint(d / "runs" / "20260101-000000-try" / "best.pt", create_model("model48", 7, width=8),
                          classes=EMOTIONS, mean=0.5, std=0.25, metrics={"val_acc": 0.4})
    (d / "broken.pt").write_bytes(b"this is not a checkpoint")
    return {"dir": d, "emotion": emo, "stress": stress, "run": run, "broken": d / "broken.pt"}


@pytest.fixture(scope="module")
def crops():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (48, 48), dtype=np.uint8), rng.integers(0, 256, (70, 64), dtype=np.uint8),
            rng.integers(0, 256, (30, 30), dtype=np.uint8)]


class FakeEmotion(Predictor):
    """Known probabilities for every face."""

    def __init__(self, row, classes=EMOTIONS, name="fake"):
        self.row = np.asarray(row, dtype=np.float64)
        self.classes = tuple(classes)
        self.name, self.source, self.kind = name, "fake", "emotion"

    def predict(self, crops):
        return np.tile(self.row, (len(crops), 1))


class Broken(Predictor):
    name, classes, source, kind = "broken", EMOTIONS, "nowhere", "emotion"

    def predict(self, crops):
        raise RuntimeError("DeepFace's weights are missing (test)")


def sums_to_one(p, n, c):
    p = np.asarray(p)
    assert p.shape == (n, c)
    assert np.all(p >= 0) and np.allclose(p.sum(1), 1.0, atol=1e-6)


# ---------------------------------------------------------------- our CNNs

def test_cnn_predictor_one_face_and_batch(ckpts, crops):
    p = CNNPredictor(ckpts["emotion"])
    assert p.classes == EMOTIONS and p.kind == "emotion" and p.source == str(ckpts["emotion"])
    assert "tiny_emotion" in p.name and "mini_xception" in p.name
    assert p.meta.mean == 0.5 and not p.model.training
    sums_to_one(p.predict(crops[:1]), 1, 7)
    batch = p.predict(crops)
    sums_to_one(batch, 3, 7)
    assert np.allclose(batch[1], p.predict([crops[1]])[0], atol=1e-5)  # one batched pass = one at a time
    import torch

    from core.predict.crops import preprocess

    with torch.no_grad():  # the inference copy (BatchNorm folded) computes what the model computes
        ref = torch.softmax(p.model(preprocess(crops, 48, 0.5, 0.25)), 1).numpy()
    assert np.allclose(batch, ref, atol=1e-5)
    assert p.predict([]).shape == (0, 7)
    assert p.predict(np.stack([crops[0]] * 2)).shape == (2, 7)


def test_tta_flip_averages_with_the_mirror(ckpts, crops):
    plain = CNNPredictor(ckpts["emotion"])
    flip = CNNPredictor(ckpts["emotion"], tta="flip")
    assert flip.name != plain.name
    got = flip.predict(crops)
    sums_to_one(got, 3, 7)
    mirrored = [np.ascontiguousarray(c[:, ::-1]) for c in crops]
    expected = (plain.predict(crops) + plain.predict(mirrored)) / 2
    assert np.allclose(got, expected, atol=1e-5)
    with pytest.raises(ValueError):
        CNNPredictor(ckpts["emotion"], tta="rotate")


def test_stress_predictor_on_a_binary_checkpoint(ckpts, crops):
    p = StressPredictor(ckpts["stress"])
    assert p.classes == STRESS_CLASSES and p.kind == "stress"
    sums_to_one(p.predict(crops), 3, 2)
    sums_to_one(p.predict(crops[:1]), 1, 2)
    assert CNNPredictor(ckpts["stress"]).kind == "stress"
    with pytest.raises(CheckpointError, match="not a binary stress model"):
        StressPredictor(ckpts["emotion"])


def test_stress_from_emotion_follows_the_mapping(crops):
    row = np.array([0.10, 0.05, 0.20, 0.30, 0.15, 0.12, 0.08])  # angry disgust fear happy sad surprise neutral
    s = StressFromEmotion(FakeEmotion(row))
    assert s.classes == STRESS_CLASSES and s.kind == "stress"
    out = s.predict(crops)
    sums_to_one(out, 3, 2)
    assert np.allclose(out[:, 1], 0.10 + 0.20 + 0.15)  # angry + fear + sad
    custom = StressFromEmotion(FakeEmotion(row), stress_emotions={"disgust"})
    assert np.allclose(custom.predict(crops[:1])[0, 1], 0.05)
    with pytest.raises(ValueError):
        StressFromEmotion(FakeEmotion([0.5, 0.5], classes=("cat", "dog")))
    # DeepFace-style spellings map by name
    reordered = FakeEmotion(row[[3, 0, 1, 2, 4, 5, 6]], classes=("happiness", "anger", "disgusted", "fearful",
                                                                  "sadness", "surprised", "neutral"))
    assert np.allclose(StressFromEmotion(reordered).predict(crops[:1])[0, 1], 0.45)


def test_stress_verdict_for_emotion_and_stress_classes():
    assert stress_verdict([0.7, 0, 0, 0.3, 0, 0, 0], EMOTIONS) == ("stress", pytest.approx(0.7))
    assert stress_verdict([0.1, 0, 0, 0.9, 0, 0, 0], EMOTIONS) == ("no_stress", pytest.approx(0.9))
    assert stress_verdict(np.array([[0.2, 0.8]]), STRESS_CLASSES) == ("stress", pytest.approx(0.8))
    assert stress_verdict([0.8, 0.2], ("stress", "no_stress")) == ("stress", pytest.approx(0.8))
    with pytest.raises(ValueError):
        stress_verdict(np.ones((2, 7)) / 7, EMOTIONS)


def test_missing_and_corrupt_checkpoints_name_the_file(ckpts, tmp_path):
    with pytest.raises(CheckpointError, match="nothere.pt"):
        CNNPredictor(tmp_path / "nothere.pt")
    with pytest.raises(CheckpointError, match="broken.pt"):
        CNNPredictor(ckpts["broken"])
    with pytest.raises(CheckpointError, match="nothere.pt"):
        load_predictor(tmp_path / "nothere.pt")
    with pytest.raises(CheckpointError, match="no model named"):
        load_predictor("no-such-model-name")


# ---------------------------------------------------------------- discovery and loading

def test_discover_models_lists_shipped_runs_and_broken(ckpts):
    run_dir = ckpts["run"].parent
    assert "20260101-000000-try" not in {m.run_id for m in discover_models(ckpts["dir"])}  # not promoted yet
    assert "20260101-000000-try" in {m.run_id for m in discover_models(ckpts["dir"], runs="all")}
    (run_dir / "info.json").write_text('{"promoted": true}')
    models = discover_models(ckpts["dir"])
    assert all(isinstance(m, ModelInfo) for m in models)
    by_path = {Path(m.path).name if m.source == "shipped" else m.run_id: m for m in models}
    assert set(by_path) == {"tiny_emotion.pt", "tiny_stress.pt", "broken.pt", "20260101-000000-try"}
    e = by_path["tiny_emotion.pt"]
    assert (e.arch, e.kind, e.source, e.error, e.classes) == ("mini_xception", "emotion", "shipped", None, EMOTIONS)
    assert e.params == sum(p.numel() for p in create_model("mini_xception", 7, width=8).parameters())
    assert e.metrics["test_accuracy"] == 0.61 and e.accuracy == 0.61
    assert by_path["tiny_stress.pt"].kind == "stress"
    run = by_path["20260101-000000-try"]
    assert run.source == "run" and run.arch == "model48" and "20260101-000000-try" in run.name
    assert by_path["broken.pt"].error and "broken.pt" in by_path["broken.pt"].error
    again = discover_models(ckpts["dir"])
    assert [id(m) for m in again] == [id(m) for m in models]  # cached on (path, mtime)


def test_discover_models_offers_realtime_and_stress_first(ckpts, tmp_path):
    """The pickers list realtime and stress first, others by name ("default" is no longer one of ours: it is
    listed by name like any other); the webcam takes the first when none reaches its bar, Compare the first two
    when no model has an accuracy."""
    import shutil

    for name in ("seed-vgg", "stress", "aaa", "default", "realtime"):
        shutil.copy(ckpts["emotion"], tmp_path / f"{name}.pt")
    names = [Path(m.path).stem for m in discover_models(tmp_path, runs="none")]
    assert names == ["realtime", "stress", "aaa", "default", "seed-vgg"]


def test_compare_starts_on_the_most_accurate_emotion_model_and_the_stress_model(tmp_path):
    """DeepFace is first compared with our best: the shipped emotion model with the highest test accuracy,
    whatever its speed or place in the list, and the best stress model; none when none is usable."""
    def ship(name, acc=None, classes=EMOTIONS):
        save_checkpoint(tmp_path / f"{name}.pt", create_model("model48", len(classes), width=8), classes=classes,
                        mean=0.5, std=0.25, metrics={"test_acc": acc} if acc is not None else None)

    ship("realtime", 0.62)
    ship("seed-resnet", 0.68)
    ship("seed-vgg", 0.666)
    ship("stress", 0.77, classes=STRESS_CLASSES)
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    models = discover_models(tmp_path, runs="none")
    assert [Path(m.path).stem for m in compare_models(models)] == ["seed-resnet", "stress"]
    (tmp_path / "stress.pt").unlink()
    assert [Path(m.path).stem for m in compare_models(discover_models(tmp_path, runs="none"))] == ["seed-resnet"]
    assert compare_models([]) == []


def test_webcam_starts_on_the_fastest_model_that_reaches_the_bar(tmp_path):
    """Among shipped emotion models at >= 66% test accuracy, the one whose card says fewest ms per face;
    a faster model below the bar, a stress model or an unmeasured one do not win; with none at the bar,
    the first listed."""
    def ship(name, acc, ms=None, classes=EMOTIONS):
        save_checkpoint(tmp_path / f"{name}.pt", create_model("model48", len(classes), width=8), classes=classes,
                        mean=0.5, std=0.25, metrics={"test_acc": acc})
        if ms is not None:
            (tmp_path / f"{name}.card.json").write_text(json.dumps({"latency_ms_per_face_2_threads": ms}))

    ship("realtime", 0.62, ms=2.7)            # fast, not accurate enough
    ship("default", 0.71, ms=15.0)            # accurate, slow
    ship("seed-vgg", 0.666, ms=4.5)           # the fastest good enough
    ship("unmeasured", 0.70)                  # no card: taken only if no measured model qualifies
    ship("stress", 0.80, ms=1.0, classes=STRESS_CLASSES)
    models = discover_models(tmp_path, runs="none")
    assert Path(webcam_model(models).path).stem == "seed-vgg"
    (tmp_path / "seed-vgg.card.json").unlink()
    (tmp_path / "default.card.json").write_text("not json")
    assert Path(webcam_model(models).path).stem == "default"  # none measured: fewest parameters, then listed order
    for name in ("seed-vgg", "default", "unmeasured"):
        (tmp_path / f"{name}.pt").unlink()
    models = discover_models(tmp_path, runs="none")
    assert Path(webcam_model(models).path).stem == "realtime"  # none at the bar: the first listed
    assert webcam_model([]) is None


def test_among_about_equally_fast_webcam_models_the_most_accurate_wins(tmp_path):
    """Two int8 copies of one architecture time differently on different days: within WEBCAM_SPEED_TIE of
    the fastest they count as equally fast and the more accurate one is taken; a model slower than that is
    not, however accurate."""
    from core.predict.choice import WEBCAM_SPEED_TIE

    def ship(name, acc, ms):
        save_checkpoint(tmp_path / f"{name}.pt", create_model("model48", len(EMOTIONS), width=8), classes=EMOTIONS,
                        mean=0.5, std=0.25, metrics={"test_acc": acc})
        (tmp_path / f"{name}.card.json").write_text(json.dumps({"latency_ms_per_face_2_threads": ms}))

    ship("seed-vgg-int8", 0.6656, ms=2.6)
    ship("vgg-distilled-int8", 0.675, ms=2.6 * WEBCAM_SPEED_TIE * 0.95)
    ship("seed-resnet", 0.6815, ms=2.6 * WEBCAM_SPEED_TIE * 1.2)
    assert Path(webcam_model(discover_models(tmp_path, runs="none")).path).stem == "vgg-distilled-int8"
    (tmp_path / "vgg-distilled-int8.pt").unlink()
    assert Path(webcam_model(discover_models(tmp_path, runs="none")).path).stem == "seed-vgg-int8"


def test_load_predictor_is_cached_and_resolves_names(ckpts, monkeypatch):
    a = load_predictor(ckpts["emotion"])
    assert load_predictor(str(ckpts["emotion"])) is a
    assert load_predictor(ckpts["emotion"], tta="flip") is not a
    monkeypatch.setenv("FEL_MODEL_DIR", str(ckpts["dir"]))
    assert load_predictor("tiny_emotion") is a
    assert load_predictor("tiny_emotion.pt") is a
    assert load_predictor("20260101-000000-try").source == str(ckpts["run"])


def test_deepface_is_imported_lazily():
    code = ("import sys, core.predict as p; assert 'tensorflow' not in sys.modules; "
            "assert 'deepface' not in sys.modules; assert callable(p.load_predictor)")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)


# ---------------------------------------------------------------- analysis of a photo

def test_analyse_runs_every_predictor_on_every_face(ckpts):
    image = load_image(GROUP)
    emo = CNNPredictor(ckpts["emotion"])
    preds = [emo, StressPredictor(ckpts["stress"]), StressFromEmotion(emo)]
    a = analyse(image, preds, detector=HaarDetector())
    assert isinstance(a, Analysis)
    n = len(a.faces)
    assert n == 4 and a.crops.shape == (4, 48, 48)
    assert [o.name for o in a.outputs] == [p.name for p in preds]
    for o, p in zip(a.outputs, preds):
        assert isinstance(o, ModelOutput) and o.error is None and o.classes == p.classes
        sums_to_one(o.probs, n, len(p.classes))
        assert o.latency_ms >= 0
    rows = photo_result(a, ordered=False).rows()
    assert len(rows) == n * len(preds)
    r = rows[0]
    for key in ("face", "model", "emotion", "confidence", "stress", "stress_confidence", "latency_ms",
                "x", "y", "w", "h", "p_angry", "p_neutral"):
        assert key in r
    assert r["face"] == 1 and (r["x"], r["y"], r["w"], r["h"]) == a.faces[0].box
    assert r["emotion"] in EMOTIONS and r["stress"] in STRESS_CLASSES
    assert {row["face"] for row in rows} == {1, 2, 3, 4}
    stress_rows = [row for row in rows if row["model"] == preds[1].name]
    assert all("p_stress" in row and "p_no_stress" in row for row in stress_rows)


def test_a_failing_predictor_is_reported_and_the_others_run(ckpts):
    image = load_image(SAMPLES / "happy_astronaut.jpg")
    good = CNNPredictor(ckpts["emotion"])
    a = analyse(image, [Broken(), good])
    assert len(a.faces) == 1
    bad, ok = a.outputs
    assert bad.probs is None and "weights are missing" in bad.error
    assert ok.error is None and ok.probs.shape == (1, 7)
    assert len(photo_result(a).rows()) == 1


def test_analyse_without_faces(ckpts):
    a = analyse(np.full((240, 320, 3), 127, np.uint8), [CNNPredictor(ckpts["emotion"])])
    assert a.faces == [] and a.crops.shape == (0, 48, 48)
    assert a.outputs[0].probs.shape == (0, 7) and photo_result(a).rows() == []


# ---------------------------------------------------------------- the predict command

def test_predict_cli_table_and_json(ckpts, capsys):
    from core.cli.predict import main

    assert main([str(SAMPLES / "happy_astronaut.jpg"), "--model", str(ckpts["emotion"]), "--stress"]) == 0
    out = capsys.readouterr().out
    assert "happy_astronaut.jpg: 1 face(s)" in out and "neutral" in out and "stress" in out
    assert main([str(GROUP), "--model", str(ckpts["emotion"]), "--model", str(ckpts["stress"]), "--json",
                 "--tta", "flip"]) == 0
    data = json.loads(capsys.readouterr().out)
    faces = data["images"][0]["faces"]
    assert len(faces) == 4 and len(faces[0]["predictions"]) == 2
    probs = next(iter(faces[0]["predictions"].values()))["probabilities"]
    assert abs(sum(probs.values()) - 1) < 1e-4


def test_predict_cli_finds_a_tilted_face_unless_told_to_search_upright_only(ckpts, tmp_path, capsys):
    import cv2

    from core.cli.predict import main
    from core.data.images import load_image

    img = load_image(SAMPLES / "neutral_grace_hopper.jpg")
    m = cv2.getRotationMatrix2D((img.shape[1] / 2, img.shape[0] / 2), 30, 1.0)
    tilted = tmp_path / "tilted.png"
    cv2.imwrite(str(tilted), cv2.warpAffine(img, m, img.shape[1::-1], borderMode=cv2.BORDER_REFLECT)[:, :, ::-1])
    args = [str(tilted), "--model", str(ckpts["emotion"]), "--detector", "haar", "--json"]
    assert main(args) == 0
    assert len(json.loads(capsys.readouterr().out)["images"][0]["faces"]) == 1  # found turned by -25 degrees
    assert main(args + ["--no-tilted"]) == 0
    assert json.loads(capsys.readouterr().out)["images"][0]["faces"] == []  # Haar upright misses it


def test_predict_cli_errors_are_one_line(ckpts, tmp_path, capsys):
    from core.cli.predict import main

    img = str(SAMPLES / "happy_astronaut.jpg")
    assert main([img, "--model", str(tmp_path / "missing.pt")]) == 2
    err = capsys.readouterr().err
    assert "missing.pt" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    assert main([str(tmp_path / "bad.jpg"), "--model", str(ckpts["emotion"])]) == 2
    err = capsys.readouterr().err
    assert "bad.jpg" in err and "Traceback" not in err
    assert main([str(tmp_path / "nothing.jpg")]) == 2
    assert main(["--help"]) == 0


def test_predict_json_errors_have_one_shape(ckpts, tmp_path, capsys):
    """#41 item 8: a missing file, a file that is no image, and a model that cannot load all give JSON on stdout
    with `error` at the top (and the image's own `error` in its record), one line each on stderr, exit code 2."""
    from core.cli.predict import main

    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    (tmp_path / "empty").mkdir()
    good = str(SAMPLES / "happy_astronaut.jpg")
    cases = {"missing": [str(tmp_path / "nothing.jpg")], "not an image": [str(tmp_path / "bad.jpg")],
             "empty folder": [str(tmp_path / "empty")], "all three": [str(tmp_path / "nothing.jpg"), good,
                                                                  str(tmp_path / "bad.jpg")]}
    for case, images in cases.items():
        assert main(images + ["--model", str(ckpts["emotion"]), "--json"]) == 2, case
        out, err = capsys.readouterr()
        data = json.loads(out)
        records = {Path(r["image"]).name: r for r in data["images"]}
        assert set(records) == {Path(p).name for p in images}, case
        failed = [r for n, r in records.items() if n != "happy_astronaut.jpg"]
        assert all(r["error"] and r["faces"] == [] for r in failed), case
        assert all(r["image"].split("/")[-1] in data["error"] for r in failed), case
        assert len(err.strip().splitlines()) == len(failed) and "Traceback" not in err, case
        if good in images:
            assert len(records["happy_astronaut.jpg"]["faces"]) == 1 and "error" not in records["happy_astronaut.jpg"]
    assert main([good, "--model", str(tmp_path / "missing.pt"), "--json"]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["images"] == [] and "missing.pt" in json.loads(out)["error"] and "missing.pt" in err
