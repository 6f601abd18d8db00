"""One inference path: a checkpoint measured through the Compare page's batch accuracy (its predictor, as
ui/batch.py asks it) and through the Experiments page's Evaluate tab (core.workflows.evaluation) gets the same
probabilities and the same accuracy, with every test-time augmentation."""
from pathlib import Path

import numpy as np
import pytest

from core.labels import EMOTIONS, TTA_CHOICES, TTA_MODES, tta_mode
from core.models import create_model
from core.models.checkpoint import save_checkpoint
from core.predict.loading import clear_caches, load_predictor
from core.workflows.evaluation import open_subject

REALTIME = Path(__file__).resolve().parent.parent / "model" / "realtime.pt"


class Bar:
    """Streamlit's progress bar, as ui/batch.py uses it."""

    def progress(self, value, text=None):
        assert 0 <= value <= 1


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    d = tmp_path_factory.mktemp("ckpt")
    crop = save_checkpoint(d / "crop.pt", create_model("vgg", len(EMOTIONS), width=8, input_size=40),
                           classes=EMOTIONS, mean=0.5, std=0.25, input_size=40, face_size=48, temperature=0.7)
    return {"realtime": REALTIME, "crop": crop}  # a shipped, trained model; a model trained on 40 px crops


@pytest.mark.parametrize("tta", TTA_MODES)
@pytest.mark.parametrize("which", ["realtime", "crop"])
def test_compare_batch_and_evaluate_tab_agree(which, tta, checkpoints, synthetic_csv):
    from ui.batch import evaluate_all

    path = checkpoints[which]
    subject = open_subject(path, data=synthetic_csv)  # the Evaluate tab (evaluate_checkpoint) measures this
    evaluated = subject.evaluate("train", tta)  # its biggest split: 200 faces
    test = subject.dataset.splits["train"]
    clear_caches()
    predictor = load_predictor(str(path), tta=tta, warm=True)  # what ui/loaders.get_predictor hands the page
    batch, = evaluate_all([predictor], test.images, test.labels, subject.dataset.classes, Bar())
    assert "error" not in batch, batch
    assert batch["n"] == evaluated["n"] == len(test.labels) >= 150
    assert batch["accuracy"] == evaluated["accuracy"] and batch["confusion"] == evaluated["confusion"]
    assert np.allclose(predictor.predict(list(test.images[:, 0].numpy())), subject.probs("train", tta), atol=1e-5)


def test_tta_names_are_said_once():
    assert TTA_CHOICES == ("none", "flip", "tencrop") and [tta_mode(c) for c in TTA_CHOICES] == list(TTA_MODES)
    with pytest.raises(ValueError, match="unknown test-time augmentation 'mirror'"):
        tta_mode("mirror")
