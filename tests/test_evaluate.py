import numpy as np
import pytest
import torch

from core.evaluate import align_probs, evaluate_model, metrics_from_probs
from core.workflows.evaluation import evaluate_checkpoint
from core.labels import EMOTIONS
from core.models import create_model


def test_confusion_matrix_sums_to_split_size_and_metrics_agree():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, 500)
    probs = rng.random((500, 7))
    probs[np.arange(500), labels] += 0.6  # better than chance
    probs /= probs.sum(1, keepdims=True)
    m = metrics_from_probs(probs, labels, EMOTIONS)
    cm = np.array(m["confusion"])
    assert cm.sum() == 500 and cm.shape == (7, 7)
    assert m["accuracy"] == pytest.approx(np.trace(cm) / 500)
    assert m["accuracy"] == pytest.approx((probs.argmax(1) == labels).mean())
    assert [r["support"] for r in m["per_class"]] == np.bincount(labels, minlength=7).tolist()
    for r in m["per_class"]:
        assert 0 <= r["f1"] <= 1


@pytest.mark.parametrize("tta", [None, "flip", "tencrop"])
def test_evaluate_model_with_tta(tta):
    model = create_model("mini_xception", width=8).eval()
    images = torch.randint(0, 256, (40, 1, 48, 48), dtype=torch.uint8)
    labels = torch.randint(0, 7, (40,))
    res = evaluate_model(model, images, labels, EMOTIONS, 0.5, 0.25, tta=tta, batch_size=16)
    assert np.array(res["confusion"]).sum() == 40 and res["tta"] == tta


def test_align_probs_by_name_and_to_stress():
    p = np.eye(7)[[3]]  # happy
    reordered = align_probs(p, EMOTIONS, list(reversed(EMOTIONS)))
    assert reordered[0, list(reversed(EMOTIONS)).index("happy")] == 1
    assert align_probs(np.eye(7)[[0]], EMOTIONS, ("no_stress", "stress")).tolist() == [[0.0, 1.0]]
    with pytest.raises(ValueError, match="no class"):
        align_probs(np.ones((1, 2)) / 2, ("a", "b"), ("a", "c"))


def test_evaluate_checkpoint_on_a_split(synthetic_csv):
    from core.config import TrainConfig
    from core.train import train

    run = train(TrainConfig(data=str(synthetic_csv), model="model48", width=8, epochs=1, batch_size=32,
                            threads=1), progress=False)
    res = evaluate_checkpoint(run.best_path, data=synthetic_csv, split="test", tta="flip")
    assert np.array(res["confusion"]).sum() == run.summary()["sizes"]["test"] == res["n"]
