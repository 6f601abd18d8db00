"""FER+'s votes (core.data.ferplus): the four label modes as Microsoft's code makes them, both layouts users have,
the join checked before use, training on soft targets, and the grey-level step applied alike in training and
prediction."""
from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from core.data import DataError, apply_grey, load_dataset, with_grey
from core.data.ferplus import (MS_COLUMNS, VOTE_NAMES, agreement_references, describe_votes, human_agreement,
                               read_votes, vote_targets)
from core.data.synthetic import synthetic_images, write_synthetic_ferplus
from core.labels import EMOTIONS, FERPLUS_CLASSES

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "datasets"


def ours(**counts) -> np.ndarray:
    """One face's ten votes in our column order (VOTE_NAMES), from counts by name."""
    row = np.zeros(len(VOTE_NAMES), dtype=np.int64)
    for name, n in counts.items():
        row[VOTE_NAMES.index(name.replace("_", " "))] = n
    return row


# ---------------------------------------------------------------- the modes, against Microsoft's rules

def test_majority_keeps_a_top_emotion_with_more_than_half_of_the_votes_left_after_single_votes_go():
    rows = np.stack([
        ours(neutral=6, sad=3, angry=1),        # single vote dropped: 6 of 9 -> neutral
        ours(happy=5, surprise=5),              # a tie: no majority -> dropped
        ours(sad=4, angry=3, fear=1, happy=1, disgust=1),  # singles dropped: 4 of 7 -> sad
        ours(unknown=6, neutral=4),             # unknown has the majority -> dropped
        ours(not_a_face=10),                    # not a face -> dropped
        ours(contempt=6, neutral=4),            # contempt, FER+'s eighth class
    ])
    targets, kept = vote_targets(rows, "majority")
    assert kept.tolist() == [True, False, True, False, False, True]
    assert [FERPLUS_CLASSES[i] for i in targets[kept].argmax(1)] == ["neutral", "sad", "contempt"]
    assert np.allclose(targets[kept].max(1), 1.0)  # one-hot


def test_crossentropy_takes_the_top_emotions_up_to_three_and_their_share_of_the_votes():
    rows = np.stack([
        ours(neutral=6, sad=3, angry=1),        # 6 then 3 (>= 75% of 9 reached): 2/3 neutral, 1/3 sad
        ours(happy=5, surprise=2, fear=2, sad=1),  # 5, then 2 and 2 together (three emotions; 9 of 9)
        ours(happy=2, sad=2, angry=2, fear=2, neutral=2),  # five tied at the top: too many -> dropped
        ours(unknown=5, neutral=5),             # unknown tied at the top, after neutral: neutral alone is 50% -> dropped
    ])
    targets, kept = vote_targets(rows, "crossentropy")
    assert kept.tolist() == [True, True, False, False]
    i = FERPLUS_CLASSES.index
    assert targets[0, i("neutral")] == pytest.approx(2 / 3) and targets[0, i("sad")] == pytest.approx(1 / 3)
    assert targets[1, [i("happy"), i("surprise"), i("fear")]] == pytest.approx([5 / 9, 2 / 9, 2 / 9])
    assert np.allclose(targets[kept].sum(1), 1.0)
    probability, kept_p = vote_targets(rows, "probability")  # the same distributions, drawn from in training
    assert np.array_equal(kept, kept_p) and np.allclose(probability, targets)


def test_multi_target_keeps_every_emotion_with_30_percent_of_the_votes():
    rows = np.stack([ours(happy=4, surprise=4, sad=2), ours(neutral=3, sad=3, angry=2, fear=2)])
    targets, kept = vote_targets(rows, "multi_target")
    assert kept.tolist() == [True, True]
    i = FERPLUS_CLASSES.index
    assert (targets[0] > 0).sum() == 2 and targets[0, i("happy")] == targets[0, i("surprise")]
    assert sorted(np.flatnonzero(targets[1])) == sorted([i("neutral"), i("sad")])
    with pytest.raises(ValueError, match="label mode"):
        vote_targets(rows, "plurality")


def test_votes_in_words_and_agreement_with_people():
    assert describe_votes(ours(neutral=6, sad=3, angry=1)) == "6 neutral, 3 sad, 1 angry"
    votes = np.stack([ours(neutral=6, sad=4), ours(happy=10), ours(not_a_face=10)])
    i = FERPLUS_CLASSES.index
    # the face without an emotion vote is left out; 6/10 and 10/10 of the people agree
    assert human_agreement(votes, np.array([i("neutral"), i("happy"), 0])) == pytest.approx(0.8)
    refs = agreement_references(votes)
    assert refs["faces"] == 2 and refs["plurality"] == pytest.approx(0.8)
    # one annotator judged by the others: 6 neutral voters agree (the others: 5 neutral 4 sad), 4 sad voters do
    # not (6 neutral 3 sad), 10 happy voters agree
    assert refs["one_annotator"] == pytest.approx((6 + 10) / 20)


# ---------------------------------------------------------------- Kaggle's CSV + Microsoft's votes, joined

def test_csv_and_votes_file_beside_it_load_as_ferplus(tmp_path):
    csv_path, votes_path = write_synthetic_ferplus(tmp_path / "kaggle", n_per_class=12)
    raw = read_votes(votes_path)
    ds = load_dataset(csv_path, labels="ferplus", label_mode="crossentropy")  # the votes are found beside it
    assert ds.classes == FERPLUS_CLASSES and ds.info["votes"] == str(votes_path)
    assert ds.info["fer2013_agreement"] > 0.5
    for split in ("train", "val", "test"):
        s = ds.splits[split]
        expected = vote_targets(raw["votes"][raw["usage"] == split], "crossentropy" if split == "train" else "majority")
        assert len(s) == int(expected[1].sum())  # the faces each mode discards are dropped
        assert s.votes.shape == (len(s), 10) and s.fer2013 is not None
    assert ds.splits["train"].targets is not None and torch.allclose(ds.splits["train"].targets.sum(1),
                                                                   torch.ones(len(ds.splits["train"])))
    assert ds.splits["test"].targets is not None  # the test's one-hot majority targets
    assert (ds.splits["test"].labels == FERPLUS_CLASSES.index("contempt")).any()
    majority = load_dataset(csv_path, labels="ferplus")  # majority: integer labels, no soft targets in training
    assert majority.splits["train"].targets is None
    fer = load_dataset(csv_path)  # FER2013's own labels: the votes are not read
    assert fer.classes == EMOTIONS and fer.splits["train"].votes is None


def test_a_pair_in_different_row_orders_is_refused(tmp_path):
    csv_path, votes_path = write_synthetic_ferplus(tmp_path / "kaggle", n_per_class=12)
    header, *rows = votes_path.read_text().splitlines()
    by_split = {}
    for r in rows:
        by_split.setdefault(r.split(",")[0], []).append(r)
    rng = np.random.default_rng(0)
    order = {u: rng.permutation(len(rs)) for u, rs in by_split.items()}
    seen = {u: 0 for u in by_split}
    shuffled = []
    for r in rows:  # the same Usage on every row, the faces shuffled within each split: only the labels tell
        u = r.split(",")[0]
        shuffled.append(by_split[u][order[u][seen[u]]])
        seen[u] += 1
    votes_path.write_text("\n".join([header] + shuffled) + "\n")
    with pytest.raises(DataError, match="not aligned"):
        load_dataset(csv_path, labels="ferplus")
    votes_path.write_text("\n".join([header] + rows[:-5]) + "\n")
    with pytest.raises(DataError, match="votes for"):
        load_dataset(csv_path, labels="ferplus")


def test_missing_votes_file_says_where_to_get_it(tmp_path):
    csv_path, votes_path = write_synthetic_ferplus(tmp_path / "kaggle", n_per_class=4)
    votes_path.unlink()
    with pytest.raises(DataError, match="fer2013new.csv"):
        load_dataset(csv_path, labels="ferplus", votes=tmp_path / "nowhere.csv")


@pytest.mark.fer2013
def test_the_shared_pair_joins_and_the_older_copy_is_refused():
    """The shared data: Kaggle's file joins with FER+'s (official counts), the older copy (other row order) does
    not. Only labels and Usage are read before the refusal (no pixel parse)."""
    votes = SHARED / "ferplus" / "fer2013new.csv.gz"
    original = SHARED / "fer2013-original" / "fer2013.csv.gz"
    older = SHARED / "fer2013" / "fer2013.csv.gz"
    if not (votes.exists() and original.exists() and older.exists()):
        pytest.skip("the shared FER2013 copies and FER+'s votes are not here")
    with pytest.raises(DataError, match="not aligned.*18%"):
        load_dataset(older, labels="ferplus", votes=votes)
    raw = read_votes(votes)
    counts = {split: int(vote_targets(raw["votes"][raw["usage"] == split], "majority")[1].sum())
              for split in ("train", "val", "test")}
    assert counts == {"train": 25060, "val": 3199, "test": 3153}  # the README's official majority counts


# ---------------------------------------------------------------- Microsoft's folders

def _write_ms_folders(root: Path, with_box: bool) -> None:
    x, y = synthetic_images(3)
    k = 0
    for folder, n in (("FER2013Train", 9), ("FER2013Valid", 6), ("FER2013Test", 6)):
        d = root / folder
        d.mkdir(parents=True)
        rows = []
        for j in range(n):
            name = f"fer{k:07d}.png"
            cv2.imwrite(str(d / name), x[k])
            counts = [0] * 10
            counts[MS_COLUMNS.index({0: "anger", 1: "disgust", 2: "fear", 3: "happiness", 4: "sadness", 5: "surprise",
                                     6: "neutral"}[int(y[k])])] = 8
            counts[MS_COLUMNS.index("contempt" if j == 0 else "unknown")] = 2
            rows.append([name] + (["(0, 0, 48, 48)"] if with_box else []) + counts)
            k += 1
        with open(d / "label.csv", "w", newline="") as f:
            csv.writer(f).writerows(rows)


@pytest.mark.parametrize("with_box", [False, True], ids=["generate_training_data", "repository-copy"])
def test_microsofts_folders_load_with_their_votes(tmp_path, with_box):
    _write_ms_folders(tmp_path / "FERPlus", with_box)
    ds = load_dataset(tmp_path / "FERPlus", labels="ferplus", label_mode="probability")
    assert ds.layout == "ferplus-folders" and ds.classes == FERPLUS_CLASSES
    assert ds.sizes() == {"train": 9, "val": 6, "test": 6}
    assert ds.splits["test"].fer2013 is None  # these folders carry no FER2013 label
    with pytest.raises(DataError, match="ferplus"):
        load_dataset(tmp_path / "FERPlus")  # FER2013's labels asked of votes-only folders


# ---------------------------------------------------------------- training on votes

def _ferplus_run(tmp_path, **overrides):
    from core.config import TrainConfig
    from core.train import train

    csv_path, _ = write_synthetic_ferplus(tmp_path / "kaggle", n_per_class=16)
    cfg = TrainConfig(data=str(csv_path), labels="ferplus", model="mini_xception", width=8, epochs=1, batch_size=32,
                      optimizer="adamw", lr=3e-3, warmup_epochs=0, tencrop_test=False, threads=1,
                      **overrides)
    return train(cfg, progress=False)


@pytest.mark.parametrize("mode,mix", [("crossentropy", dict(mixup=0.4)), ("probability", dict(cutmix=1.0)),
                                      ("multi_target", {}), ("majority", dict(label_smoothing=0.1))])
def test_a_run_learns_from_votes_in_each_mode(tmp_path, mode, mix):
    run = _ferplus_run(tmp_path, label_mode=mode, **mix)
    assert run.state() == "finished", run.status()
    from core.models.checkpoint import checkpoint_meta, load_checkpoint

    meta = checkpoint_meta(load_checkpoint(run.best_path))
    assert meta.classes == FERPLUS_CLASSES and meta.labels == "ferplus" and meta.label_set == "ferplus"
    assert run.summary()["sizes"]["test"] < 7 * 16  # the test under the majority protocol: some faces dropped
    assert np.isfinite(run.metrics()[-1]["train_loss"])


def test_soft_targets_mix_and_smooth_like_labels():
    from core.config import TrainConfig
    from core.train.step import make_batch, target_loss

    images = torch.randint(0, 255, (8, 1, 48, 48), dtype=torch.uint8)
    targets = torch.softmax(torch.randn(8, 8), 1)
    cfg = TrainConfig(labels="ferplus", label_mode="crossentropy", mixup=0.4)
    x, y_a, y_b, lam = make_batch(images, targets.argmax(1), torch.arange(8), torch.Generator().manual_seed(0), cfg,
                                  [0, 1], targets=targets)
    assert y_a.shape == (8, 8) and y_a.is_floating_point() and 0 < lam < 1
    assert torch.equal(y_a, targets) and sorted(y_b.sum(1).tolist()) == pytest.approx([1.0] * 8)
    logits = torch.randn(8, 8)
    smooth = target_loss(logits, targets, TrainConfig(label_smoothing=0.1))
    expected = -(((0.9 * targets + 0.1 / 8) * torch.log_softmax(logits, 1)).sum(1)).mean()
    assert smooth.item() == pytest.approx(expected.item(), rel=1e-5)
    probability = TrainConfig(labels="ferplus", label_mode="probability")
    _, drawn, _, _ = make_batch(images, targets.argmax(1), torch.arange(8), torch.Generator().manual_seed(0),
                                probability, [0, 1], targets=targets)
    assert drawn.dtype == torch.int64 and drawn.shape == (8,)  # one label drawn per face


def test_a_fer2013_model_starts_a_ferplus_run_with_contempt_added(tmp_path):
    from core.config import TrainConfig
    from core.models import create_model
    from core.models.checkpoint import save_checkpoint
    from core.train.finetune import load_start_weights

    old = create_model("mini_xception", num_classes=7, width=8)
    src = save_checkpoint(tmp_path / "seven.pt", old, classes=list(EMOTIONS), mean=0.5, std=0.25)
    new = create_model("mini_xception", num_classes=8, width=8)
    before = {k: v.clone() for k, v in new.state_dict().items()}
    said = load_start_weights(new, TrainConfig(model="mini_xception", width=8, init=str(src)), FERPLUS_CLASSES)
    assert "new outputs: contempt" in said
    changed = 0
    for k, v in new.state_dict().items():
        o = old.state_dict()[k]
        if v.shape == o.shape:
            assert torch.equal(v, o)
        else:  # the output layer: FER2013's seven rows in place, contempt's row as it was made
            changed += 1
            assert torch.equal(v[:7], o) and torch.equal(v[7], before[k][7])
    assert changed >= 1


# ---------------------------------------------------------------- the grey-level step, said once

def test_grey_step_is_recorded_and_applied_alike_in_training_and_prediction(tmp_path):
    from core.models.checkpoint import checkpoint_meta, load_checkpoint
    from core.predict.cnn import CNNPredictor
    from core.workflows.evaluation import open_subject

    run = _ferplus_run(tmp_path, label_mode="majority", grey="equalise")
    meta = checkpoint_meta(load_checkpoint(run.best_path))
    assert meta.grey == "equalise"
    dark = (np.random.default_rng(1).random((48, 48)) * 60).astype(np.uint8)  # a dim face: equalising changes it
    equalised = cv2.equalizeHist(dark)
    assert not np.array_equal(dark, equalised)
    assert np.array_equal(apply_grey(dark[None], "equalise")[0], equalised)
    predictor = CNNPredictor(run.best_path)
    seen = predictor.faces([dark])[0, 0]
    expected = (torch.from_numpy(equalised).float() / 255 - meta.mean) / meta.std
    assert torch.allclose(seen, expected)  # what the model sees from a raw crop: the equalised face
    ds = load_dataset(tmp_path / "kaggle" / "fer2013.csv", labels="ferplus")
    trained_on = with_grey(ds, "equalise").splits["test"].images
    subject = open_subject(run.best_path, tmp_path / "kaggle" / "fer2013.csv")
    assert torch.equal(subject.faces("test"), trained_on)  # evaluation sees the test faces as training did
    assert torch.equal(subject.dataset.splits["test"].images, ds.splits["test"].images)  # the data set untouched


def test_shipped_models_say_equalise():
    from core.models.checkpoint import checkpoint_meta, load_checkpoint

    for path in sorted((ROOT / "model").glob("*.pt")):
        assert checkpoint_meta(load_checkpoint(path), path).grey == "equalise", path.name


def test_votes_file_read_from_gzip_and_plain(tmp_path):
    _, votes_path = write_synthetic_ferplus(tmp_path, n_per_class=3)
    gz = tmp_path / "fer2013new.csv.gz"
    with gzip.open(gz, "wt") as f:
        f.write(votes_path.read_text())
    a, b = read_votes(votes_path), read_votes(gz)
    assert np.array_equal(a["votes"], b["votes"]) and list(a["usage"]) == list(b["usage"])
    bad = tmp_path / "bad.csv"
    bad.write_text("Usage,Image name,happy\nTraining,x,1\n")
    with pytest.raises(DataError, match="not FER\\+'s"):
        read_votes(bad)
    text = io.StringIO(votes_path.read_text()).getvalue().replace(",0,", ",x,", 1)
    bad.write_text(text)
    with pytest.raises(DataError, match="whole numbers"):
        read_votes(bad)
