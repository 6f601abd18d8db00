"""Cards keep their PrivateTest answers, and `card --table` pairs every two cards of the same faces
(core.workflows.card_pairs): checked against a small case worked by hand and against `compare` itself."""
import json

import numpy as np
import pytest
from tests.helpers import run_cli

from core.workflows.card_pairs import decode_classes, encode_classes, fingerprint, paired_rows, paired_table

CLASSES = ["x", "y", "z"]
LABELS = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
A = [0, 0, 0, 1, 1, 1, 0, 2, 0, 2]  # 7 of 10 right
B = [0, 0, 1, 1, 1, 1, 1, 2, 2, 2]  # 8 of 10 right: only A right on face 2, only B on faces 6 and 8


def a_card(answers, labels=LABELS, classes=CLASSES, split="test") -> dict:
    return {"classes": classes, "predictions": {"split": split, "n": len(labels), "labels_sha256": fingerprint(labels),
                                                "none": encode_classes(answers)}}


def labels_from(**by_task):
    """labels_of for paired_rows: the labels of each task's test split (no data set in these tests)."""
    return lambda classes, split: by_task["stress" if "stress" in classes else "emotion"]


def write_cards(folder, cards: dict) -> list:
    for name, c in cards.items():
        (folder / f"{name}.card.json").write_text(json.dumps(c))
    return [folder / f"{name}.card.json" for name in cards]


def test_answers_are_one_character_a_face():
    assert encode_classes([0, 3, 6, 1]) == "0361" and encode_classes([]) == ""
    assert encode_classes([10, 35]) == "az"
    assert decode_classes("0361az").tolist() == [0, 3, 6, 1, 10, 35]
    with pytest.raises(ValueError):
        encode_classes([36])
    with pytest.raises(ValueError):
        decode_classes("01?")


def test_a_pair_by_hand(tmp_path):
    """Counts 6 / 1 / 2 / 1; McNemar on 1 against 2 discordant faces: p = 2 * (C(3,0) + C(3,1)) / 2^3 = 1;
    the less accurate card is A whatever the cards' order, so B - A = +10 points."""
    for order in (("b", "a"), ("a", "b")):
        cards = {n: a_card({"a": A, "b": B}[n]) for n in order}
        out = paired_rows(cards, labels_from(emotion=LABELS), n_boot=500)
        assert out["left_out"] == {}
        r, = out["rows"]
        assert r["names"] == ["a", "b"] and r["split"] == "test" and r["tta"] == "none"
        assert r["counts"] == {"both_right": 6, "only_a": 1, "only_b": 2, "both_wrong": 1}
        assert r["mcnemar_p"] == pytest.approx(1.0)
        assert r["difference"]["accuracy"]["value"] == pytest.approx(0.1)
    table = paired_table(write_cards(tmp_path, cards), n_boot=500, labels_of=labels_from(emotion=LABELS))
    row = next(line for line in table.splitlines() if line.startswith("| a | b |"))
    assert "| 70.00% | 80.00% | +10.0 points (" in row and "| 1 / 2 | 1 | 1 | no |" in row
    assert "10 faces" in table and "500 bootstrap resamples" in table


def test_a_significant_pair_and_the_cards_left_out(tmp_path):
    """12 faces of class 0; A right on 1, B on 11: only B right on 10, only A on 0, p = 2 / 2^10."""
    labels = [0] * 12
    a = [0] + [1] * 11
    b = [1] + [0] * 11
    cards = {"weak": a_card(a, labels), "strong": a_card(b, labels), "old": {"classes": CLASSES},
             "stress": a_card([1, 0] * 6, [1, 1] * 6, ["no_stress", "stress"]),
             "other-faces": a_card(a, [1] * 12),
             "damaged": {"classes": CLASSES, "predictions": {"split": "test", "n": 12, "none": "0"}}}
    out = paired_rows(cards, labels_from(emotion=labels, stress=[1, 1] * 6), n_boot=200)
    r, = out["rows"]
    assert r["names"] == ["weak", "strong"] and r["counts"]["only_a"] == 1 and r["counts"]["only_b"] == 11
    assert r["mcnemar_p"] == pytest.approx(2 * (1 + 12) / 2 ** 12)
    assert out["left_out"]["stress"] == "no other card of the same faces and classes"
    assert out["left_out"]["other-faces"] == "measured on other faces than the data set's test split"
    table = paired_table(write_cards(tmp_path, cards), n_boot=200,
                         labels_of=labels_from(emotion=labels, stress=[1, 1] * 6))
    row = next(line for line in table.splitlines() if line.startswith("| weak | strong |"))
    assert "| 8.33% | 91.67% | +83.3 points" in row and row.endswith("| 1 / 11 | 0.0063 | 0.0063 | **yes** |")
    assert "Not paired, no stored answers (none; `python -m core card --predictions" in table
    assert "stores them): old, damaged." in table
    assert "Not paired, no other card of the same faces and classes: stress." in table


def test_no_data_set_no_pairs_and_the_table_says_why(tmp_path):
    """The labels are the data set's (a card keeps only their fingerprint): without it, the pairs wait."""
    def nowhere(classes, split):
        raise FileNotFoundError("no FER2013 here")

    paths = write_cards(tmp_path, {"a": a_card(A), "b": a_card(B)})
    table = paired_table(paths, labels_of=nowhere)
    assert "| A | B |" not in table and "the data set's labels are needed: no FER2013 here: a, b." in table
    assert paired_table(paths[:1], labels_of=nowhere) == ""  # one card: nothing to pair
    assert "labels" not in json.loads(paths[0].read_text())["predictions"]  # only the answers and a print


def test_card_keeps_its_answers_and_pairs_as_compare_does(synthetic_csv, tmp_path, monkeypatch):
    """A new card keeps every PrivateTest answer of each view (the card's own accuracies), and the pair made from
    two cards is `python -m core compare`'s result to the last digit: same faces, same resamples."""
    import torch

    from core.labels import EMOTIONS
    from core.models import create_model
    from core.models.checkpoint import save_checkpoint
    import core.workflows.card as card_module
    from core.data import load_dataset
    from core.workflows.card_pairs import dataset_labels
    from core.workflows.comparison import compare_models

    monkeypatch.setattr(card_module, "latency_ms_per_face", lambda *a, **k: 1.0)  # not what is checked here
    card = card_module.card
    torch.manual_seed(0)
    paths = [save_checkpoint(tmp_path / f"{n}.pt", create_model(m, num_classes=7, width=8), classes=EMOTIONS, mean=0.5,
                             std=0.25) for n, m in (("alpha", "mini_xception"), ("beta", "model48"))]
    cards = {p.stem: card(p, synthetic_csv) for p in paths}
    labels = load_dataset(synthetic_csv).splits["test"].labels.numpy()
    for c in cards.values():
        rec = c["predictions"]
        assert rec["split"] == "test" and rec["n"] == len(labels) > 0 and rec["labels_sha256"] == fingerprint(labels)
        for tta in ("none", "flip", "tencrop"):
            assert np.mean(decode_classes(rec[tta]) == labels) == pytest.approx(c[f"test_{tta}"]["accuracy"])
    r, = paired_rows(cards, dataset_labels(synthetic_csv), n_boot=300)["rows"]
    a, b = r["names"]
    direct = compare_models(tmp_path / f"{a}.pt", tmp_path / f"{b}.pt", data=synthetic_csv, n_boot=300)
    for key in ("counts", "mcnemar_p", "difference", "a", "b", "per_class", "verdict"):
        got, want = r[key], direct[key]
        if key in ("a", "b"):
            got, want = got, {m: want[m] for m in got}
        assert got == want, key


def test_old_cards_get_their_answers_from_the_shell(synthetic_csv, tmp_path):
    """`card --predictions`: answers added, every other figure kept, the stored answers checked against the card's
    accuracy; then `card --table` pairs the two cards."""
    import torch

    from core.labels import EMOTIONS
    from core.models import create_model
    from core.models.checkpoint import save_checkpoint
    from core.workflows.evaluation import evaluate_checkpoint

    torch.manual_seed(1)
    old = {}
    for name, arch in (("one", "mini_xception"), ("two", "model48")):
        path = save_checkpoint(tmp_path / f"{name}.pt", create_model(arch, num_classes=7, width=8), classes=EMOTIONS,
                               mean=0.5, std=0.25)
        acc = evaluate_checkpoint(path, synthetic_csv)["accuracy"]
        old[name] = {"model": arch, "model_kwargs": {"width": 8}, "params": 1, "classes": list(EMOTIONS),
                     "val_none": {"accuracy": 0.5}, "test_none": {"accuracy": acc, "macro_f1": 0.1},
                     "test_flip": {"accuracy": 0.999}, "latency_ms_per_face_2_threads": 2.0}
        (tmp_path / f"{name}.card.json").write_text(json.dumps(old[name]))
    done = run_cli("card", "--predictions", tmp_path / "one.pt", tmp_path / "two.pt", "--tta", "none", "flip",
                   "--data", synthetic_csv)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("none: PrivateTest answers stored") == 2 and done.stdout.count("= the card's") == 2
    assert "the card says 99.90%" in done.stdout  # a card that says otherwise is told
    for name in ("one", "two"):
        c = json.loads((tmp_path / f"{name}.card.json").read_text())
        assert {k: c[k] for k in old[name]} == old[name]
        assert set(c["predictions"]) == {"split", "n", "labels_sha256", "none", "flip"}
    table = run_cli("card", "--table", tmp_path / "one.card.json", tmp_path / "two.card.json", "--data", synthetic_csv)
    assert table.returncode == 0, table.stderr
    assert "Pairs on the same faces" in table.stdout
    assert sum(line.startswith(("| one | two |", "| two | one |")) for line in table.stdout.splitlines()) == 1


@pytest.mark.fer2013
def test_shipped_cards_answers_are_fer2013_privatetest_and_their_accuracy(fer2013_dataset):
    """Every shipped card's stored answers are of its own labels' PrivateTest (FER2013's, or FER+'s official test for
    a model of FER+'s eight classes: the labels' print) and score the card's own PrivateTest accuracy; every emotion
    model is paired with every other of the same labels (no model is run)."""
    from pathlib import Path

    from core.data import to_ferplus, to_stress
    from core.labels import STRESS_CLASSES

    cards = {p.name.removesuffix(".card.json"): json.loads(p.read_text())
             for p in sorted((Path(__file__).resolve().parent.parent / "model").glob("*.card.json"))}
    labels = {"emotion": fer2013_dataset.splits["test"].labels.numpy(),
              "stress": to_stress(fer2013_dataset).splits["test"].labels.numpy(),
              "ferplus": to_ferplus(fer2013_dataset).splits["test"].labels.numpy()}

    def kind(classes):
        return "stress" if tuple(classes) == STRESS_CLASSES else "ferplus" if "contempt" in classes else "emotion"

    for name, c in cards.items():
        y = labels[kind(c["classes"])]
        rec = c["predictions"]
        assert rec["labels_sha256"] == fingerprint(y), name
        for tta in ("none", "flip"):
            assert np.mean(decode_classes(rec[tta]) == y) == pytest.approx(c[f"test_{tta}"]["accuracy"]), (name, tta)
    out = paired_rows(cards, lambda classes, split: labels[kind(classes)], n_boot=50)
    n = {k: sum(kind(c["classes"]) == k for c in cards.values()) for k in ("emotion", "ferplus")}
    assert n["ferplus"] >= 2 and list(out["left_out"]) == ["stress"]
    assert len(out["rows"]) == sum(k * (k - 1) // 2 for k in n.values())


def test_significance_is_decided_on_holm_adjusted_p_over_the_table(tmp_path):
    """30 faces of class 0: a and c right on 10, b on 16. Alone, b over a has p = 2 / 2^6 = 0.031 (< 0.05); with
    three pairs tested, Holm multiplies the smallest by 3: 0.094, not significant."""
    labels = [0] * 30
    a = [0] * 10 + [1] * 20
    b = [0] * 16 + [1] * 14
    cards = {"a": a_card(a, labels), "b": a_card(b, labels), "c": a_card(a, labels)}
    out = paired_rows(cards, labels_from(emotion=labels), n_boot=200)
    by = {tuple(r["names"]): r for r in out["rows"]}
    assert by["a", "b"]["mcnemar_p"] == pytest.approx(2 / 2 ** 6) and by["c", "b"]["mcnemar_p"] == pytest.approx(2 / 2 ** 6)
    assert by["a", "b"]["mcnemar_p_holm"] == pytest.approx(3 * 2 / 2 ** 6) and not by["a", "b"]["significant"]
    assert by["a", "c"]["mcnemar_p_holm"] == 1.0
    table = paired_table(write_cards(tmp_path, cards), n_boot=200, labels_of=labels_from(emotion=labels))
    assert "Holm-adjusted over the 3 pairs of this table; significant: Holm-adjusted p < 0.05" in table
    assert "| McNemar p | Holm-adjusted p | significant |" in table
    row = next(line for line in table.splitlines() if line.startswith("| a | b |"))
    assert row.endswith("| 0 / 6 | 0.031 | 0.094 | no |")


def test_answers_of_another_length_than_the_labels_name_their_card_and_the_rest_pair(tmp_path):
    """A card whose stored answers (and n) say 9 faces, with the print of the 10-face split: left out, named;
    the other two still paired (it used to abort every pair with numpy's broadcast error)."""
    short = a_card(A[:9], LABELS[:9])
    short["predictions"]["labels_sha256"] = fingerprint(LABELS)
    beyond = a_card([0, 0, 0, 0, 1, 1, 1, 2, 2, 9])  # a class index the card's three classes do not have
    cards = {"a": a_card(A), "short": short, "b": a_card(B), "beyond": beyond}
    out = paired_rows(cards, labels_from(emotion=LABELS), n_boot=100)
    assert [r["names"] for r in out["rows"]] == [["a", "b"]]
    assert out["left_out"] == {"short": "stored answers for 9 faces, but the data set's test split has 10",
                               "beyond": "stored answers name a class beyond its 3 classes"}
    table = paired_table(write_cards(tmp_path, cards), n_boot=100, labels_of=labels_from(emotion=LABELS))
    assert "Not paired, stored answers for 9 faces, but the data set's test split has 10: short." in table


def full_card(answers, **figures) -> dict:
    """A card as `core card --json` writes it, as far as the table reads it."""
    return {"model": "mini_xception", "model_kwargs": {"width": 8}, "params": 1000, "training": {},
            "val_none": {"accuracy": 0.5}, "test_none": {"accuracy": 0.5, "macro_f1": 0.4},
            "test_flip": {"accuracy": 0.5}, "latency_ms_per_face_2_threads": 1.0, "ece": 0.05, "ece_calibrated": 0.02,
            **a_card(answers), **figures}


def test_a_card_of_a_diverged_model_is_shown_and_left_out_of_the_pairs(tmp_path):
    """`core card --json` of a model whose outputs are NaN writes ECE as null: the table shows its row (not
    "damaged"), and the pairs leave it out by name; a damaged card is left out of the pairs too."""
    from core.workflows.card import card_table, unusable_cards

    cards = {"a": full_card(A), "b": full_card(B), "diverged": full_card([0] * 10, ece=None, ece_calibrated=None),
             "damaged": {**full_card(B), "params": "many"}}
    paths = write_cards(tmp_path, cards)
    rows = {line.split(" | ")[0][2:]: line for line in card_table(paths).splitlines()[2:]}
    assert "damaged" not in rows["diverged"] and rows["diverged"].endswith("| - / - (NaN answers) |")
    assert "damaged card" in rows["damaged"] and rows["a"].endswith("| 0.050 / 0.020 |")
    left = unusable_cards(paths)
    assert set(left) == {"diverged", "damaged"} and "NaN" in left["diverged"]
    table = paired_table(paths, n_boot=100, labels_of=labels_from(emotion=LABELS), left_out=left)
    assert [line for line in table.splitlines() if line.startswith("| a |") or line.startswith("| b |")]
    assert "diverged |" not in table and "Not paired, its model answered NaN or infinity" in table
    assert "Not paired, damaged card (ValueError): damaged." in table
