"""`python -m core compare A B`: two checkpoints on the same faces of a tiny synthetic set, from the shell."""
import json

import pytest


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    import torch

    from core.labels import EMOTIONS
    from core.models import create_model
    from core.models.checkpoint import save_checkpoint

    d = tmp_path_factory.mktemp("pair")
    torch.manual_seed(0)
    a = save_checkpoint(d / "alpha.pt", create_model("mini_xception", num_classes=7, width=8), classes=EMOTIONS,
                        mean=0.5, std=0.25)
    b = save_checkpoint(d / "beta.pt", create_model("model48", num_classes=7, width=8), classes=EMOTIONS,
                        mean=0.5, std=0.25, temperature=1.5)
    return a, b


def compare(capsys, *args):
    from core.cli import main

    assert main(["compare", *map(str, args)]) == 0
    return capsys.readouterr().out


def test_compare_json_is_paired_valid_and_mirrors(two_models, synthetic_csv, capsys):
    from core.workflows.evaluation import evaluate_checkpoint

    a, b = two_models
    ab = json.loads(compare(capsys, a, b, "--data", synthetic_csv, "--bootstrap", 200, "--json"))
    ba = json.loads(compare(capsys, b, a, "--data", synthetic_csv, "--bootstrap", 200, "--json"))
    assert ab["names"] == ["alpha", "beta"] and ab["split"] == "test"
    assert sum(ab["counts"].values()) == ab["n"]
    assert ab["a"]["accuracy"]["value"] == pytest.approx(evaluate_checkpoint(a, synthetic_csv)["accuracy"])
    assert ab["b"]["temperature"] == 1.5 and ab["a"]["temperature"] == 1.0
    assert 0 <= ab["mcnemar_p"] <= 1 and ab["mcnemar_p"] == ba["mcnemar_p"]
    lo, hi = ab["difference"]["accuracy"]["interval"]
    assert ba["difference"]["accuracy"]["interval"] == pytest.approx([-hi, -lo])
    assert ab["verdict"] and "probs" not in ab
    from core.results import read_result  # the measurement kept with where it was made (results/, here a tmp folder)

    kept = read_result("compare.alpha.beta.test.none")
    assert kept["figures"]["mcnemar_p"] == ab["mcnemar_p"] and kept["command"].startswith("python -m core compare")
    assert kept["host"]["cores"] and kept["date"]


def test_compare_text_and_the_faces_behind_it(two_models, synthetic_csv, capsys):
    from core.workflows.comparison import compare_models, disagreements

    a, b = two_models
    text = compare(capsys, a, b, "--data", synthetic_csv, "--bootstrap", 100, "--tta", "flip")
    assert "McNemar exact p" in text and "B - A" in text and "neutral" in text
    r = compare_models(a, b, data=synthetic_csv, n_boot=100)
    assert len(r["probs"][0]) == r["n"] and len(disagreements(r, "only_a")) == r["counts"]["only_a"]
    assert len(disagreements(r, "only_b")) == r["counts"]["only_b"]
    assert sum(x["count"] for x in r["b"]["reliability"]) == r["n"]


def test_evaluate_fits_and_reports_a_temperature_and_writes_the_mistakes(two_models, synthetic_csv, capsys, tmp_path):
    from core.cli import main

    a, _ = two_models
    assert main(["evaluate", "--checkpoint", str(a), "--data", str(synthetic_csv), "--calibration", "--json"]) == 0
    cal = json.loads(capsys.readouterr().out)["calibration"]
    assert cal["temperature"] > 0 and cal["ece_calibrated"] >= 0 and len(cal["reliability"]) == 15
    assert main(["evaluate", "--checkpoint", str(a), "--data", str(synthetic_csv), "--calibration", "--mistakes",
                 str(tmp_path / "m")]) == 0
    out = capsys.readouterr()
    assert "fitted on val (stored: 1)" in out.out and "mistakes.png" in out.err
    assert (tmp_path / "m" / "mistakes.png").exists() and (tmp_path / "m" / "mistakes.csv").exists()


def test_models_of_different_tasks_are_refused_in_words(two_models, synthetic_csv, tmp_path, capsys):
    from core.cli import main
    from core.labels import STRESS_CLASSES
    from tests.helpers import biased_checkpoint

    stress = biased_checkpoint(tmp_path / "stress.pt", classes=list(STRESS_CLASSES))
    assert main(["compare", str(two_models[0]), str(stress), "--data", str(synthetic_csv)]) == 2
    assert "error:" in capsys.readouterr().err


def test_deepface_can_be_either_side(two_models, synthetic_csv, monkeypatch):
    """DeepFace answers the other model's faces (a stand-in here: no TensorFlow in this test)."""
    import numpy as np

    import core.workflows.comparison as comparison

    class Stub:  # answers "happy" for every face, its classes in another order than the data's
        classes = ("happy", "angry", "disgust", "fear", "sad", "surprise", "neutral")
        name = "DeepFace"

        def predict(self, crops):
            return np.tile(np.eye(7)[0], (len(crops), 1))

    monkeypatch.setattr(comparison, "load_predictor", lambda name: Stub())
    ab = comparison.compare_models(two_models[0], "deepface", data=synthetic_csv, n_boot=100)
    ba = comparison.compare_models("DeepFace", two_models[0], data=synthetic_csv, n_boot=100)
    assert ab["names"] == ["alpha", "deepface"] and ba["names"] == ["deepface", "alpha"]
    happy = ab["classes"].index("happy")
    assert ab["b"]["accuracy"]["value"] == np.mean(np.asarray(ab["labels"]) == happy)
    assert ab["b"]["accuracy"] == ba["a"]["accuracy"] and ab["mcnemar_p"] == ba["mcnemar_p"]


@pytest.mark.parametrize("n", ["0", "-3", "50", "many"])
def test_too_few_bootstrap_resamples_are_refused_in_words(two_models, synthetic_csv, capsys, n):
    from core.cli import main

    with pytest.raises(SystemExit) as e:
        main(["compare", str(two_models[0]), str(two_models[1]), "--data", str(synthetic_csv), "--bootstrap", n])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "--bootstrap" in err and "Traceback" not in err
    assert ("at least 100 resamples" if n != "many" else "a whole number of resamples") in err


def test_compare_help_says_95_percent(capsys):
    from core.cli import main

    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    out = capsys.readouterr().out
    assert "95% interval" in out and "%%" not in out
