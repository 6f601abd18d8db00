"""Calibration (core.calibration): ECE, the reliability diagram's data, and temperature scaling, which
recovers a known temperature, never changes a prediction, and leaves old checkpoints as they were."""
import json

import numpy as np
import pytest

from core.calibration import apply_temperature, calibration_report, ece, fit_temperature, reliability


def softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def synthetic_logits(t_true: float, n: int = 4000, k: int = 7, seed: int = 0):
    """Labels drawn from softmax(z / t_true): a model whose logits z are right at temperature t_true."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, (n, k))
    p = softmax(z / t_true)
    labels = (p.cumsum(1) > rng.random((n, 1))).argmax(1)
    return z, labels


@pytest.mark.parametrize("t_true", [0.7, 2.0])
def test_fitting_recovers_a_known_temperature(t_true):
    z, labels = synthetic_logits(t_true)
    t = fit_temperature(softmax(z), labels)
    assert t == pytest.approx(t_true, rel=0.1)
    cal = apply_temperature(softmax(z), t)
    assert np.allclose(cal, softmax(z / t))  # on one view: softmax(logits / T)
    assert ece(cal, labels) < ece(softmax(z), labels)
    assert (cal.argmax(1) == softmax(z).argmax(1)).all()  # accuracy unchanged


def test_temperature_keeps_the_order_of_averaged_views():
    rng = np.random.default_rng(1)
    avg = (softmax(rng.normal(0, 3, (500, 7))) + softmax(rng.normal(0, 3, (500, 7)))) / 2  # TTA: averaged views
    for t in (0.3, 1.7, 5.0):
        assert (apply_temperature(avg, t).argmax(1) == avg.argmax(1)).all()
    assert np.allclose(apply_temperature(avg, 1.0), avg)


def test_ece_and_reliability_by_hand():
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
    labels = np.array([0, 1, 0, 1])
    bins = reliability(probs, labels, bins=10)
    full = {i: b for i, b in enumerate(bins) if b["count"]}
    assert sorted(full) == [5, 6, 8]  # (0.5, 0.6], (0.6, 0.7], (0.8, 0.9]
    assert full[8] == {"lo": 0.8, "hi": pytest.approx(0.9), "count": 2, "confidence": 0.9, "accuracy": 0.5}
    assert ece(probs, labels, bins=10) == pytest.approx((2 * 0.4 + 0.4 + 0.3) / 4)
    rep = calibration_report(probs, labels, probs, labels)
    json.dumps(rep, allow_nan=False)  # empty bins are null, not NaN
    assert len(rep["reliability"]) == 15


def test_checkpoint_temperature_is_applied_and_old_ones_load(tmp_path, synthetic_csv):
    from core.labels import EMOTIONS
    from core.models import create_model
    from core.models.checkpoint import save_checkpoint
    from core.predict.cnn import CNNPredictor
    from core.workflows.evaluation import open_subject

    model = create_model("mini_xception", num_classes=len(EMOTIONS), width=8)
    old = save_checkpoint(tmp_path / "old.pt", model, classes=EMOTIONS, mean=0.5, std=0.25)
    new = save_checkpoint(tmp_path / "new.pt", model, classes=EMOTIONS, mean=0.5, std=0.25, temperature=2.5)
    crops = [np.random.default_rng(0).integers(0, 255, (48, 48), dtype=np.uint8) for _ in range(4)]
    p_old, p_new = CNNPredictor(old), CNNPredictor(new)
    assert (p_old.temperature, p_old.calibrated, p_new.temperature, p_new.calibrated) == (1.0, False, 2.5, True)
    a, b = p_old.predict(crops), p_new.predict(crops)
    assert np.allclose(b, apply_temperature(a, 2.5), atol=1e-6) and (a.argmax(1) == b.argmax(1)).all()
    so, sn = open_subject(old, synthetic_csv), open_subject(new, synthetic_csv)
    eo, en = so.evaluate("test"), sn.evaluate("test")
    assert (eo["temperature"], en["temperature"]) == (1.0, 2.5)
    assert eo["accuracy"] == en["accuracy"] and eo["confusion"] == en["confusion"]
    cal = sn.calibration("test")
    assert cal["temperature"] > 0 and 0 <= cal["ece_calibrated"] <= 1
    from core.workflows.card import store_temperature

    store_temperature(old, cal["temperature"])  # an old checkpoint given the temperature its card fitted
    assert CNNPredictor(old).temperature == pytest.approx(cal["temperature"])


def test_an_old_card_gets_calibration_and_keeps_its_other_figures(tmp_path, synthetic_csv):
    """`card --calibrate`: a shipped model from before calibration gets its temperature (checkpoint) and ECE
    (card); every figure its card already had stays as measured."""
    import json
    import subprocess
    import sys

    from core.labels import EMOTIONS
    from core.models import create_model
    from core.models.checkpoint import load_checkpoint, save_checkpoint
    from core.predict.cnn import CNNPredictor

    model = create_model("mini_xception", num_classes=len(EMOTIONS), width=8)
    path = save_checkpoint(tmp_path / "shipped.pt", model, classes=EMOTIONS, mean=0.5, std=0.25)
    old_card = {"model": "mini_xception", "test_none": {"accuracy": 0.6}, "latency_ms_per_face_2_threads": 2.0}
    (tmp_path / "shipped.card.json").write_text(json.dumps(old_card))
    done = subprocess.run([sys.executable, "-m", "core", "card", str(path), "--calibrate", "--data", str(synthetic_csv)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "temperature" in done.stdout and "card updated" in done.stdout
    card = json.loads((tmp_path / "shipped.card.json").read_text())
    assert {k: card[k] for k in old_card} == old_card
    assert card["temperature"] > 0 and 0 <= card["ece"] <= 1 and 0 <= card["ece_calibrated"] <= 1
    assert load_checkpoint(path)["temperature"] == pytest.approx(card["temperature"])
    assert CNNPredictor(path).calibrated


def test_a_temperature_from_too_few_faces_is_said():
    rng = np.random.default_rng(0)
    probs = softmax(rng.normal(0, 2, (150, 7)))
    labels = rng.integers(0, 7, 150)
    one = calibration_report(probs[:1], labels[:1], probs, labels)
    assert one["fit_faces"] == 1 and "fitted on only 1 PublicTest face (fewer than 100)" in one["warning"]
    enough = calibration_report(probs, labels, probs, labels)
    assert enough["fit_faces"] == 150 and enough["warning"] is None


def test_a_checkpoint_keeps_a_temperature_per_view_and_predictors_apply_theirs(tmp_path):
    """Flip TTA averages a face with its mirror image, a less sure answer than one view: its own temperature
    (tta_temperatures). A view without one falls back on the plain view's and says it is not its own."""
    from core.labels import EMOTIONS
    from core.models import create_model
    from core.models.checkpoint import load_checkpoint, save_checkpoint
    from core.models.meta import CheckpointMeta, MetaError
    from core.predict.cnn import CNNPredictor
    from core.workflows.card import store_temperature

    model = create_model("mini_xception", num_classes=len(EMOTIONS), width=8)
    path = save_checkpoint(tmp_path / "m.pt", model, classes=EMOTIONS, mean=0.5, std=0.25, temperature=1.5)
    assert CNNPredictor(path, tta="flip").calibrated_view is False  # fitted on single faces only
    meta = store_temperature(path, 1.5, {"flip": 0.8})
    assert load_checkpoint(path)["temperature"] == 1.5 and meta.tta_temperatures == {"flip": 0.8}  # old readers: plain T
    plain, flip, ten = (CNNPredictor(path, tta=t) for t in (None, "flip", "tencrop"))
    assert (plain.temperature, flip.temperature, ten.temperature) == (1.5, 0.8, 1.5)
    assert (plain.calibrated_view, flip.calibrated_view, ten.calibrated_view) == (True, True, False)
    crops = [np.random.default_rng(1).integers(0, 255, (48, 48), dtype=np.uint8) for _ in range(3)]
    raw = CNNPredictor(save_checkpoint(tmp_path / "raw.pt", model, classes=EMOTIONS, mean=0.5, std=0.25), tta="flip")
    assert np.allclose(flip.predict(crops), apply_temperature(raw.predict(crops), 0.8), atol=1e-6)
    state = load_checkpoint(path)
    for bad in ({"flip": -1.0}, {"mirror": 1.0}, {"flip": float("nan")}, "flip"):
        with pytest.raises(MetaError, match="tta_temperatures"):
            CheckpointMeta.from_state({**state, "tta_temperatures": bad}, path)


def test_a_card_measures_calibration_in_each_view_and_stores_each_temperature(tmp_path, synthetic_csv, capsys):
    """`card --write-temperature`: one temperature per view, fitted on PublicTest in that view; the card gives ECE in
    each, and the plain view's figures where they always were (old cards stay readable)."""
    from core.cli import main
    from core.labels import EMOTIONS
    from core.models import create_model
    from core.models.checkpoint import save_checkpoint
    from core.predict.cnn import CNNPredictor
    import core.workflows.card as card_module

    path = save_checkpoint(tmp_path / "m.pt", create_model("mini_xception", num_classes=7, width=8), classes=EMOTIONS,
                           mean=0.5, std=0.25)
    card_module.latency_ms_per_face, saved = (lambda *a, **k: 1.0), card_module.latency_ms_per_face
    try:
        assert main(["card", str(path), "--data", str(synthetic_csv), "--json", "--write-temperature"]) == 0
    finally:
        card_module.latency_ms_per_face = saved
    out = capsys.readouterr()
    c = json.loads(out.out)
    views = c["calibration_by_view"]
    assert set(views) == {"none", "flip", "tencrop"} and views["none"]["temperature"] == c["temperature"]
    assert all(0 <= v["ece_calibrated"] <= 1 and v["fit_faces"] > 0 for v in views.values())
    assert "warning: the temperature was fitted on only" in out.err  # the synthetic PublicTest is small
    for tta in (None, "flip", "tencrop"):
        p = CNNPredictor(path, tta=tta)
        assert p.calibrated_view and p.temperature == pytest.approx(views[tta or "none"]["temperature"])
    text = card_module.card_markdown(c)
    assert "flip TTA: ECE" in text and "ten-crop TTA: ECE" in text and "Note: the temperature was fitted on only" in text
    old = {k: v for k, v in c.items() if k != "calibration_by_view"}  # a card from before views
    assert "no TTA: ECE" in card_module.card_markdown(old)


def test_card_calibrate_says_when_publictest_is_one_face(tmp_path, synthetic_csv):
    """A data set whose PublicTest is a single face: the temperature is fitted, stored, and said to be noise."""
    import subprocess
    import sys

    from core.labels import EMOTIONS
    from core.models import create_model
    from core.models.checkpoint import save_checkpoint

    lines = synthetic_csv.read_text().splitlines()
    seen = []
    for i, line in enumerate(lines):
        if line.endswith(",PublicTest"):
            if seen:
                lines[i] = line.removesuffix(",PublicTest") + ",Training"
            seen.append(i)
    data = tmp_path / "one-val.csv"
    data.write_text("\n".join(lines) + "\n")
    path = save_checkpoint(tmp_path / "m.pt", create_model("mini_xception", num_classes=7, width=8), classes=EMOTIONS,
                           mean=0.5, std=0.25)
    (tmp_path / "m.card.json").write_text("{}")
    done = subprocess.run([sys.executable, "-m", "core", "card", str(path), "--calibrate", "--tta", "none",
                           "--data", str(data)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "fitted on only 1 PublicTest face (fewer than 100): it is mostly noise" in done.stderr
    assert json.loads((tmp_path / "m.card.json").read_text())["calibration"]["fit_faces"] == 1


def test_the_pages_say_which_view_the_confidence_was_calibrated_on():
    """The Webcam page averages each face with its mirror and over the last frames: the note says what holds."""
    from types import SimpleNamespace as P

    from ui.widgets import calibration_note

    own = P(name="m +flip", calibrated=True, calibrated_view=True)
    other = P(name="n +flip", calibrated=True, calibrated_view=False)
    none = P(name="o", calibrated=False, calibrated_view=False)
    assert "Confidence calibrated (m +flip): a temperature fitted on PublicTest in the view shown" in \
        calibration_note([own])
    text = calibration_note([other], smoothing=5)
    assert "fitted on single faces, not on their average with the mirror image" in text and "80% is right" not in text
    assert "average the last 5 frames: that was not measured" in text
    assert "frames" not in calibration_note([own], smoothing=1) and "Not calibrated (o)" in calibration_note([none])
    assert calibration_note([P(name="DeepFace", calibrated=None)]) is None
