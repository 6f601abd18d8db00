"""Models of FER2013's seven classes and FER+'s eight side by side: compared on the classes both have, scored on both
label sets (the cards' fer2013 / ferplus blocks), and each model's labels said in the pickers."""
from __future__ import annotations

import numpy as np
import pytest

from core.evaluate import align_probs
from core.labels import EMOTIONS, FERPLUS_CLASSES
from core.predict.photo import FaceResult, ModelAnswer


def _probs(classes, top: str, second: str | None = None) -> np.ndarray:
    p = np.full(len(classes), 0.02)
    p[classes.index(top)] = 0.6
    if second:
        p[classes.index(second)] = 0.3
    return p / p.sum()


def test_probabilities_over_the_other_label_set():
    p8 = _probs(list(FERPLUS_CLASSES), "contempt", "happy")
    p7 = align_probs(p8, FERPLUS_CLASSES, EMOTIONS)  # contempt left out, the rest renormalised
    assert p7.shape == (7,) and p7.sum() == pytest.approx(1) and EMOTIONS[int(p7.argmax())] == "happy"
    q = _probs(list(EMOTIONS), "sad")
    q8 = align_probs(q, EMOTIONS, FERPLUS_CLASSES, missing_as_zero=True)  # a FER2013 model never says contempt
    assert q8[FERPLUS_CLASSES.index("contempt")] == 0 and FERPLUS_CLASSES[int(q8.argmax())] == "sad"
    with pytest.raises(ValueError, match="contempt"):
        align_probs(q, EMOTIONS, FERPLUS_CLASSES)


def test_a_photo_face_compares_models_on_the_classes_both_have():
    ferplus = ModelAnswer.of("ferplus-accurate", FERPLUS_CLASSES, _probs(list(FERPLUS_CLASSES), "contempt", "happy"))
    fer2013 = ModelAnswer.of("accurate", EMOTIONS, _probs(list(EMOTIONS), "happy"))
    face = FaceResult(1, (0, 0, 10, 10), None, [ferplus, fer2013])
    assert ferplus.emotion == "contempt"  # what the FER+ model says, shown as it is
    assert face.shared_classes == EMOTIONS
    assert face.agree is True and face.votes == {"happy": 2}  # its likeliest shared emotion: happy, as the other
    other = ModelAnswer.of("seed-vgg", EMOTIONS, _probs(list(EMOTIONS), "sad"))
    assert FaceResult(2, (0, 0, 10, 10), None, [ferplus, other]).agree is False


def test_a_video_summary_compares_models_on_the_classes_both_have():
    from core.video.summary import agreement_basis, summarise_tracks

    models = [{"name": "ferplus-accurate", "classes": list(FERPLUS_CLASSES)},
              {"name": "accurate", "classes": list(EMOTIONS)}]
    assert agreement_basis(models) == "emotion"
    p8 = _probs(list(FERPLUS_CLASSES), "contempt", "neutral")
    p7 = _probs(list(EMOTIONS), "neutral")
    face = {"track": 1, "box": [0, 0, 10, 10],
            "models": [{"probs": list(p8), "emotion": "contempt", "confidence": 0.6, "stress": "no_stress", "p_stress": 0.1},
                       {"probs": list(p7), "emotion": "neutral", "confidence": 0.6, "stress": "no_stress",
                        "p_stress": 0.1}]}
    rows = [{"frame": i, "time_s": i / 10, "faces": [face]} for i in range(5)]
    summary = summarise_tracks(rows, models, end_s=0.5)
    assert summary[0]["agreement"] == {"on": "emotion", "models": ["ferplus-accurate", "accurate"], "share": 1.0}
    stress = [{"name": "stress", "classes": ["no_stress", "stress"]}, models[1]]
    assert agreement_basis(stress) == "stress"


def test_each_model_says_which_labels_it_learned(tmp_path):
    from core.models import create_model
    from core.models.checkpoint import save_checkpoint
    from core.predict.catalogue import model_info

    seven = save_checkpoint(tmp_path / "seven.pt", create_model("mini_xception", num_classes=7, width=8),
                            classes=list(EMOTIONS), mean=0.5, std=0.25)
    eight = save_checkpoint(tmp_path / "eight.pt", create_model("mini_xception", num_classes=8, width=8),
                            classes=list(FERPLUS_CLASSES), mean=0.5, std=0.25, labels="ferplus")
    assert model_info(seven).labels_text == "FER2013 labels, 7 classes"
    assert model_info(eight).labels == "ferplus" and model_info(eight).labels_text == "FER+ votes, 8 classes"
    from ui.widgets import model_label

    assert "FER+ votes, 8 classes" in model_label(model_info(eight))  # what the pickers show
    assert "FER2013 labels, 7 classes" in model_label(model_info(seven))


def test_card_blocks_score_a_model_on_both_label_sets(tmp_path):
    """A 7-class model on a small FER2013 + FER+ pair: its FER+ accuracy counts contempt faces wrong, its human
    agreement is the share of the votes its answers get, and its FER2013 block equals its own evaluation."""
    from core.data.synthetic import write_synthetic_ferplus
    from core.models import create_model
    from core.models.checkpoint import save_checkpoint
    from core.workflows.evaluation import open_subject
    from core.workflows.label_sets import label_set_blocks, with_votes

    csv_path, _ = write_synthetic_ferplus(tmp_path / "kaggle", n_per_class=10)
    path = save_checkpoint(tmp_path / "m.pt", create_model("mini_xception", num_classes=7, width=8),
                           classes=list(EMOTIONS), mean=0.5, std=0.25)
    subject = open_subject(path, csv_path)
    blocks = label_set_blocks(subject, csv_path)
    assert blocks["fer2013"]["accuracy"] == pytest.approx(subject.evaluate("test")["accuracy"])
    fp = blocks["ferplus"]
    everyone = with_votes(csv_path)
    votes = everyone.splits["test"].votes.numpy()
    answers = subject.probs("test").argmax(1)  # indices of EMOTIONS, which are FERPLUS_CLASSES' first seven
    shares = [v[a] / v[:8].sum() for v, a in zip(votes, answers) if v[:8].sum()]
    assert fp["human_agreement"] == pytest.approx(float(np.mean(shares)))
    assert fp["agreement_faces"] == len(shares) and 0 < fp["plurality_agreement"] <= 1
    assert len(fp["predictions"]["none"]) == fp["n"] and "contempt" not in fp["predictions"]["none"]
    contempt = FERPLUS_CLASSES.index("contempt")
    confusion = np.array(fp["confusion"])
    assert confusion[:, contempt].sum() == 0  # never answered
    (tmp_path / "kaggle" / "fer2013new.csv").unlink()
    assert "ferplus_missing" in label_set_blocks(subject, csv_path)  # no votes: the card says why, and is made


def _shipped(tmp_path, name, classes, ferplus_acc, own_acc, latency, labels=None):
    import json

    from core.models import create_model
    from core.models.checkpoint import save_checkpoint

    path = save_checkpoint(tmp_path / f"{name}.pt", create_model("mini_xception", num_classes=len(classes), width=8),
                           classes=list(classes), mean=0.5, std=0.25, labels=labels,
                           metrics={"test_acc": own_acc})
    (tmp_path / f"{name}.card.json").write_text(json.dumps({"latency_ms_per_face_2_threads": latency,
                                                            "ferplus": {"accuracy": ferplus_acc}}))
    return path


def test_pages_start_on_the_models_that_agree_most_with_people(tmp_path):
    """Compare starts on the model with the best FER+ accuracy, the Webcam on the fastest good one, ranked the same
    way: a FER+ model is chosen once it beats the FER2013 ones on FER+'s test, not before."""
    from core.predict.catalogue import discover_models
    from core.predict.choice import best_model, webcam_model

    _shipped(tmp_path, "fer-accurate", EMOTIONS, 0.69, 0.70, 9.0)
    _shipped(tmp_path, "fer-fast", EMOTIONS, 0.71, 0.68, 2.0)
    fp_fast = _shipped(tmp_path, "fp-fast", FERPLUS_CLASSES, 0.86, 0.86, 2.1, labels="ferplus")
    fp_accurate = _shipped(tmp_path, "fp-accurate", FERPLUS_CLASSES, 0.88, 0.88, 9.5, labels="ferplus")
    models = discover_models(tmp_path, runs="none")
    assert best_model(models).path == str(fp_accurate)
    assert webcam_model(models).path == str(fp_fast)
    for p in (fp_fast, fp_accurate):  # FER+ models that do not beat the FER2013 ones there: not chosen
        p.with_name(p.stem + ".card.json").write_text('{"latency_ms_per_face_2_threads": 2.0, "ferplus": '
                                                      '{"accuracy": 0.60}}')
    from core.predict.catalogue import clear_info_cache

    clear_info_cache()
    models = discover_models(tmp_path, runs="none")
    assert best_model(models).name.startswith("fer-fast") or "fer-fast" in best_model(models).path
    assert "fer-fast" in webcam_model(models).path


def test_cards_pair_on_ferplus_and_tabulate_both_label_sets(tmp_path):
    """Two cards made by `card` on a small FER2013 + FER+ pair (one FER2013 model, one FER+ model): the table of
    both label sets lists both, and they pair on FER+'s test although they learned different labels."""
    import json

    from core.data.synthetic import write_synthetic_ferplus
    from core.workflows.card import card
    from core.workflows.card_pairs import paired_table
    from core.workflows.label_sets import label_sets_table
    from tests.helpers import biased_checkpoint

    csv_path, _ = write_synthetic_ferplus(tmp_path / "kaggle", n_per_class=10)
    happy = biased_checkpoint(tmp_path / "happy.pt", favourite=3)
    neutral = biased_checkpoint(tmp_path / "neutral8.pt", classes=list(FERPLUS_CLASSES), favourite=6)
    cards = []
    for path in (happy, neutral):
        c = card(path, csv_path)
        assert {"fer2013", "ferplus"} <= set(c)
        out = path.with_name(path.stem + ".card.json")
        out.write_text(json.dumps(c, default=str))
        cards.append(out)
    table = label_sets_table(cards)
    assert "| happy | FER2013 |" in table and "| neutral8 | FER+ votes |" in table
    own = paired_table(cards, csv_path, n_boot=200)
    assert "| happy |" not in own.split("Not paired")[0]  # different classes and faces: no pair on own labels
    fp = paired_table(cards, csv_path, n_boot=200, labels="ferplus")
    assert "FER+'s votes, the official majority test" in fp
    assert "| happy | neutral8 |" in fp or "| neutral8 | happy |" in fp
