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
