"""A model's answer read as an answer only when it is one (core.evaluate.checked_probs): NaN or infinite
probabilities, or a shape other than one row per face and one column per class, are an error of that model on
every path (photo, `predict --json`, the webcam's analyser, `compare`, `evaluate`), never a label: argmax of a
NaN row is the first class, "angry"."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.labels import EMOTIONS
from core.predict import Predictor, StressFromEmotion, analyse
from core.predict.frame import LiveAnalyser, LiveSettings
from tests.helpers import FixedDetector, biased_checkpoint, run_cli

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT / "sample_images" / "happy_obama.jpg"


class Answers(Predictor):
    """A predictor that answers whatever it is told to, for any number of faces."""

    def __init__(self, classes, row, name="fixed"):
        self.classes, self.row, self.name, self.source = tuple(classes), np.asarray(row, np.float64), name, name

    def predict(self, crops):
        return np.tile(self.row, (len(crops), 1))


NAN = Answers(EMOTIONS, [np.nan] * 7, "nan-model")
INF = Answers(EMOTIONS, [np.inf] + [0.0] * 6, "inf-model")
WIDE = Answers(("no_stress", "stress"), [0.2] * 5, "five-columns")  # 5 columns for a 2-class model
GOOD = Answers(EMOTIONS, [0, 0, 0, 1, 0, 0, 0], "happy-model")


@pytest.fixture(scope="module")
def overflowing(tmp_path_factory):
    """A real checkpoint whose weights are finite (so it loads) but whose answers overflow to NaN."""
    import torch

    path = biased_checkpoint(tmp_path_factory.mktemp("nan") / "overflows.pt")
    state = torch.load(path, weights_only=True)
    state["state_dict"] = {k: v.fill_(1e30) if v.is_floating_point() else v for k, v in state["state_dict"].items()}
    torch.save(state, path)
    return path


def strict(text: str):
    return json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the JSON output"))


@pytest.mark.parametrize("bad, why", [(NAN, "NaN or infinite"), (INF, "NaN or infinite"), (WIDE, "shape (1, 5)")])
def test_a_photo_gives_the_bad_model_an_error_and_no_label(bad, why):
    image = np.full((200, 200, 3), 128, np.uint8)
    result = analyse(image, [bad, GOOD], FixedDetector((50, 50, 100, 100)))
    out = {o.name: o for o in result.outputs}
    assert out[bad.name].probs is None and why in out[bad.name].error
    assert out[GOOD.name].error is None and out[GOOD.name].probs.argmax(1).tolist() == [3]
    stress = StressFromEmotion(NAN)
    with pytest.raises(ValueError, match="NaN or infinite"):
        stress.predict([np.zeros((48, 48), np.uint8)])


@pytest.mark.parametrize("bad, why", [(NAN, "NaN or infinite"), (WIDE, "shape (1, 5)")])
def test_the_webcam_says_the_model_failed_instead_of_drawing_a_label(bad, why):
    la = LiveAnalyser(bad, FixedDetector(), LiveSettings(), inline=True)
    for i in range(2):  # a face is shown, and the model asked, once a second detection confirmed it
        la.process(np.full((240, 320, 3), 100, np.uint8), color="bgr", time_s=i / 30)
    snap = la.snapshot()
    assert snap["error"] and why in snap["error"] and bad.name in snap["error"]
    assert not any(f.get("emotion") for f in snap["faces"])  # no "#1 angry nan%"


def test_predict_json_names_the_model_that_answered_nan(overflowing):
    good = biased_checkpoint(overflowing.parent / "good.pt", favourite=3)
    res = run_cli("predict", PHOTO, "--model", overflowing, "--model", good, "--json")
    assert res.returncode == 0, res.stderr
    image = strict(res.stdout)["images"][0]
    errors = {m["model"]: m["error"] for m in image["models"]}
    bad_name = next(n for n in errors if "overflows" in n)
    assert "NaN or infinite" in errors[bad_name] and not any(e for n, e in errors.items() if n != bad_name)
    for face in image["faces"]:
        assert bad_name not in face["predictions"]  # no "emotion": "angry", "confidence": null
        assert all(p["confidence"] is not None for p in face["predictions"].values())

    alone = run_cli("predict", PHOTO, "--model", overflowing, "--json")
    assert alone.returncode == 2 and "Traceback" not in alone.stderr
    assert "NaN or infinite" in strict(alone.stdout)["images"][0]["models"][0]["error"]


def test_compare_and_evaluate_refuse_a_model_that_answers_nan(overflowing, synthetic_csv):
    good = biased_checkpoint(overflowing.parent / "good.pt", favourite=3)
    for args in (("compare", overflowing, good), ("evaluate", "--checkpoint", overflowing)):
        res = run_cli(*args, "--data", synthetic_csv)
        assert res.returncode != 0 and "Traceback" not in res.stderr, res.stdout + res.stderr
        assert "overflows.pt answered NaN or infinite probabilities" in res.stderr
        assert "always" not in res.stdout and "angry" not in res.stdout
