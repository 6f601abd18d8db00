"""The predictor contract, run over every model the catalogue lists in model/ (as timm's tests run over
list_models()): whatever a model is (its family, int8 or float, emotion or stress), the catalogue describes it as
it is, and its predictor answers every face with one row of probabilities over its classes, in every view."""
from pathlib import Path

import numpy as np
import pytest

from core.labels import STRESS_CLASSES, task_of
from core.predict.catalogue import discover_models

MODEL_DIR = Path(__file__).resolve().parent.parent / "model"
CATALOGUE = discover_models(MODEL_DIR, runs="none")
CROPS = [np.full((48, 48), 128, np.uint8), np.zeros((60, 50), np.uint8),
         np.random.default_rng(0).integers(0, 256, (100, 90), dtype=np.uint8)]


def test_the_catalogue_lists_every_shipped_model():
    assert sorted(Path(m.path).name for m in CATALOGUE) == sorted(p.name for p in MODEL_DIR.glob("*.pt"))


@pytest.mark.parametrize("info", CATALOGUE, ids=[Path(m.path).stem for m in CATALOGUE])
def test_every_catalogued_model_describes_itself_as_it_is(info):
    from core.models.checkpoint import checkpoint_meta, load_checkpoint

    meta = checkpoint_meta(load_checkpoint(info.path), info.path)
    assert info.error is None and info.source == "shipped" and info.params > 0
    assert info.classes == tuple(meta.classes) and info.kind == task_of(info.classes)
    assert info.accuracy is None or 0 < info.accuracy <= 1
    assert Path(info.path).with_suffix(".card.json").exists(), f"{info.path} ships without its card"


@pytest.mark.parametrize("tta", [None, "flip"], ids=["plain", "flip"])
@pytest.mark.parametrize("info", CATALOGUE, ids=[Path(m.path).stem for m in CATALOGUE])
def test_every_catalogued_model_keeps_the_predictor_contract(info, tta):
    from core.predict import load_predictor
    from core.predict.stress import StressFromEmotion

    pred = load_predictor(info.path, tta=tta)
    k = len(pred.classes)
    assert pred.classes == (STRESS_CLASSES if info.kind == "stress" else info.classes) and pred.kind == info.kind
    probs = pred.predict(CROPS)
    assert probs.shape == (len(CROPS), k) and np.isfinite(probs).all() and (probs >= 0).all()
    assert np.allclose(probs.sum(1), 1, atol=1e-5)
    assert np.array_equal(pred.predict(CROPS), probs)  # the same faces, the same answer
    assert pred.predict([]).shape == (0, k)
    assert pred.temperature == pred.meta.scale_for(tta) and isinstance(pred.calibrated_view, bool)
    if tta == "flip":  # the mirror average answers a face and its mirror image alike
        assert np.allclose(pred.predict([c[:, ::-1] for c in CROPS]), probs, atol=1e-5)
    stress = StressFromEmotion(pred).predict(CROPS)
    assert stress.shape == (len(CROPS), 2) and np.allclose(stress.sum(1), 1, atol=1e-5)


def test_a_shipped_model_is_listed_with_its_cards_accuracy_not_its_trainings(tmp_path):
    """The card is the measurement the pages quote: a re-measured card outranks the figure training wrote into the
    checkpoint (measured on another copy of the data), and a model without a card keeps the checkpoint's."""
    import json
    import shutil

    from core.models.checkpoint import checkpoint_meta, load_checkpoint
    from core.predict.catalogue import model_info

    pt = shutil.copy(MODEL_DIR / "realtime.pt", tmp_path / "mine.pt")
    trained = checkpoint_meta(load_checkpoint(pt), pt).metrics["test_acc"]
    assert model_info(pt).accuracy == pytest.approx(trained)
    (tmp_path / "mine.card.json").write_text(json.dumps({"test_none": {"accuracy": 0.5}, "val_none": {"accuracy": 0.4}}))
    assert model_info(pt).accuracy == 0.5 and model_info(pt).metrics["val_acc"] == 0.4
    (tmp_path / "mine.card.json").write_text("{not json")
    assert model_info(pt).accuracy == pytest.approx(trained)
