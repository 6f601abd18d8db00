"""The paired comparison of two models (core.paired) against a small case worked by hand."""
import json

import numpy as np
import pytest

from core.evaluate import metrics_from_probs
from core.paired import compare_predictions, mcnemar_exact

CLASSES = ("x", "y", "z")
LABELS = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
A = [0, 0, 0, 1, 1, 1, 0, 2, 0, 2]  # 7 of 10 right
B = [0, 0, 1, 1, 1, 1, 1, 2, 2, 2]  # 8 of 10 right


def test_mcnemar_exact_by_hand():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 10) == pytest.approx(2 / 2 ** 10)
    assert mcnemar_exact(1, 4) == pytest.approx(2 * (1 + 5) / 2 ** 5)  # 0.375
    assert mcnemar_exact(4, 1) == mcnemar_exact(1, 4)
    assert mcnemar_exact(3, 3) == 1.0  # capped
    assert 0 <= mcnemar_exact(1500, 1620) < 0.05  # big counts: exact integers, no overflow


def test_comparison_by_hand():
    r = compare_predictions(LABELS, A, B, CLASSES, names=("a", "b"), n_boot=500)
    assert r["counts"] == {"both_right": 6, "only_a": 1, "only_b": 2, "both_wrong": 1}
    assert r["mcnemar_p"] == pytest.approx(1.0)  # n = 3: 2 * (C(3,0) + C(3,1)) / 8
    assert r["a"]["accuracy"]["value"] == pytest.approx(0.7) and r["b"]["accuracy"]["value"] == pytest.approx(0.8)
    # F1 per class = 2 tp / (true + predicted): a (6/9, 4/6, 4/5), b (4/6, 6/8, 6/6)
    assert r["a"]["macro_f1"]["value"] == pytest.approx((6 / 9 + 4 / 6 + 4 / 5) / 3)
    assert r["b"]["macro_f1"]["value"] == pytest.approx((4 / 6 + 6 / 8 + 1) / 3)
    assert r["difference"]["accuracy"]["value"] == pytest.approx(0.1)
    assert [c["f1_difference"] for c in r["per_class"]] == pytest.approx([0, 6 / 8 - 4 / 6, 1 - 4 / 5])
    assert [c["recall_b"] for c in r["per_class"]] == pytest.approx([0.5, 1, 1])
    for m in ("accuracy", "macro_f1"):  # the same figures as the evaluation's own
        one_hot = np.eye(3)[A]
        assert r["a"][m]["value"] == pytest.approx(metrics_from_probs(one_hot, LABELS, CLASSES)[m])
        lo, hi = r["difference"][m]["interval"]
        assert lo <= r["difference"][m]["value"] <= hi
    assert r["verdict"].startswith("no significant difference between a and b: b - a = +10.0 points")
    json.dumps(r, allow_nan=False)
    assert compare_predictions(LABELS, A, B, CLASSES, n_boot=500) == compare_predictions(LABELS, A, B, CLASSES,
                                                                                         n_boot=500)  # seeded


def test_swapping_the_models_mirrors_everything():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 400)
    a = np.where(rng.random(400) < 0.6, labels, rng.integers(0, 3, 400))
    b = np.where(rng.random(400) < 0.75, labels, rng.integers(0, 3, 400))
    ab = compare_predictions(labels, a, b, CLASSES, names=("a", "b"), n_boot=300)
    ba = compare_predictions(labels, b, a, CLASSES, names=("b", "a"), n_boot=300)
    assert ab["a"] == ba["b"] and ab["b"] == ba["a"] and ab["mcnemar_p"] == ba["mcnemar_p"]
    assert (ab["counts"]["only_a"], ab["counts"]["only_b"]) == (ba["counts"]["only_b"], ba["counts"]["only_a"])
    for m in ("accuracy", "macro_f1"):
        d, e = ab["difference"][m], ba["difference"][m]
        assert d["value"] == pytest.approx(-e["value"])
        assert d["interval"] == pytest.approx([-e["interval"][1], -e["interval"][0]])
    assert ab["mcnemar_p"] < 0.05 and ab["verdict"] == ba["verdict"]
    assert ab["verdict"].startswith("b is better than a by")


def test_probabilities_or_indices_and_mismatched_faces():
    probs = np.eye(3)[A] * 0.8 + 0.1
    assert compare_predictions(LABELS, probs, B, CLASSES, n_boot=50)["counts"]["only_a"] == 1
    with pytest.raises(ValueError, match="same faces"):
        compare_predictions(LABELS, A[:5], B, CLASSES)


def test_holm_adjusts_step_down_by_hand():
    from core.paired import holm

    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1: 0.02, 0.03, 0.06, 0.04 -> kept rising: 0.02, 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0]) and holm([]) == [] and holm([0.04]) == [0.04]


def test_the_verdict_says_when_the_test_and_the_interval_disagree():
    from core.paired import verdict

    assert verdict("a", "b", 0.02, [0.01, 0.03], 0.001).startswith("b is better than a by 2.0 points")
    assert verdict("a", "b", 0.001, [-0.01, 0.01], 0.6).startswith("no significant difference between a and b")
    both = [verdict("a", "b", 0.01, [-0.001, 0.02], 0.03), verdict("a", "b", 0.01, [0.001, 0.02], 0.07)]
    for v in both:
        assert v.startswith("no established difference between a and b (the two tests disagree") and "better" not in v
    assert "McNemar's test calls it significant but the bootstrap interval includes 0" in both[0]
    assert "the bootstrap interval leaves out 0 but McNemar's test does not call it significant" in both[1]


def test_no_resamples_is_a_sentence():
    with pytest.raises(ValueError, match="at least 100"):
        compare_predictions(LABELS, A, B, CLASSES, n_boot=0)
