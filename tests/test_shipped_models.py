"""Every checkpoint shipped in model/ loads and predicts on CPU, and on FER2013 PrivateTest reaches the
accuracy its card states (model/<name>.card.json, written by `python -m core card model/<name>.pt --json`),
minus half a point for noise."""
import json
from pathlib import Path

import numpy as np
import pytest

from core.predict import CNNPredictor

MODEL_DIR = Path(__file__).resolve().parent.parent / "model"
SHIPPED = sorted(MODEL_DIR.glob("*.pt"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_model_loads_and_predicts_on_cpu(path):
    pred = CNNPredictor(path)
    probs = pred.predict([np.full((48, 48), 128, np.uint8), np.zeros((60, 50), np.uint8)])
    assert probs.shape == (2, len(pred.classes)) and np.allclose(probs.sum(1), 1, atol=1e-5)
    assert path.with_suffix(".card.json").exists(), f"{path.name} ships without its card"


@pytest.mark.fer2013
@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_model_reaches_its_stated_accuracy(path, fer2013_dataset):
    """On FER2013 as Kaggle ships it (raw grey levels: each model's own grey-level step, from its checkpoint, is
    applied as in every prediction), on its own labels, and on the other label set (the card's fer2013 / ferplus
    blocks: FER+'s official majority test)."""
    from core.data import to_ferplus, to_stress
    from core.workflows.card import stress_from_emotion
    from core.workflows.evaluation import labels_of, open_subject
    from core.workflows.label_sets import label_set_figures

    card = json.loads(path.with_suffix(".card.json").read_text())
    pred = CNNPredictor(path)
    ds = fer2013_dataset
    if pred.kind == "stress":
        ds = to_stress(ds)
    elif labels_of(pred.meta) == "ferplus":
        ds = to_ferplus(ds)
    subject = open_subject(path, dataset=ds)
    res = subject.evaluate("test")
    stated = card["test_none"]["accuracy"]
    assert res["accuracy"] >= stated - 0.005, f"{path.name}: {res['accuracy']:.4f} < card {stated:.4f} - 0.005"
    if "test_stress_from_emotion" in card:  # the stress verdict the pages derive from this model's emotions
        got, stated = stress_from_emotion(subject)["accuracy"], card["test_stress_from_emotion"]["accuracy"]
        assert got >= stated - 0.005, f"{path.name} stress: {got:.4f} < card {stated:.4f} - 0.005"
    if pred.kind == "emotion" and fer2013_dataset.has_votes:
        assert "ferplus" in card and "fer2013" in card, f"{path.name}: its card has no FER+ / FER2013 block"
        figures = label_set_figures(subject, fer2013_dataset)
        for block in ("fer2013", "ferplus"):
            got, stated = figures[block]["accuracy"], card[block]["accuracy"]
            assert got >= stated - 0.005, f"{path.name} {block}: {got:.4f} < card {stated:.4f} - 0.005"
