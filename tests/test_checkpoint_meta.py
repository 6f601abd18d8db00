"""A checkpoint's description is one typed record (core.models.meta.CheckpointMeta): every shipped checkpoint
loads through it, a dict with missing fields gets its defaults, one with impossible ones a clear error naming
the field, and writing goes through it (fields kept, training state kept where a run needs it)."""
from pathlib import Path

import numpy as np
import pytest
import torch

from core.labels import EMOTIONS
from core.models import create_model
from core.models.checkpoint import (CheckpointError, checkpoint_meta, load_checkpoint, load_model, save_checkpoint,
                                    update_checkpoint)
from core.models.meta import CheckpointMeta, MetaError

SHIPPED = sorted((Path(__file__).resolve().parent.parent / "model").glob("*.pt"))
MINIMAL = {"model": "model48", "classes": list(EMOTIONS), "mean": 0.5, "std": 0.25}


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_checkpoint_loads_through_its_meta(path):
    state = load_checkpoint(path)
    meta = checkpoint_meta(state, path)
    assert isinstance(meta, CheckpointMeta) and meta.path == str(path)
    assert meta.model == state["model"] and list(meta.classes) == state["classes"]
    assert meta.input_size == state.get("input_size", 48) and meta.face_size == state.get("face_size", meta.input_size)
    assert (meta.mean, meta.std) == (state["mean"], state["std"]) and meta.metrics == state["metrics"]
    assert meta.calibrated and meta.scale == state["temperature"]  # every shipped model is calibrated
    assert bool(meta.quantized) == path.stem.endswith("-int8")
    assert "state_dict" not in meta.extra and "history" not in meta.extra  # weights and training state stay out
    assert CheckpointMeta.from_state(meta.to_state()) == meta  # what it writes, it reads back the same
    _, loaded = load_model(path)
    assert loaded == meta


def test_missing_fields_get_their_defaults():
    meta = CheckpointMeta.from_state(MINIMAL)
    assert (meta.input_size, meta.face_size, meta.in_chans) == (48, 48, 1)
    assert meta.model_kwargs == {} and meta.metrics == {} and meta.training == {} and meta.config == {}
    assert meta.temperature is None and not meta.calibrated and meta.scale == 1.0
    assert meta.quantized is None and meta.quantized_from is None and meta.run_id is None
    crop = CheckpointMeta.from_state({**MINIMAL, "input_size": 40, "face_size": 48, "face_size_note": "kept"})
    assert (crop.input_size, crop.face_size) == (40, 48) and crop.extra == {"face_size_note": "kept"}
    assert CheckpointMeta.from_state({**MINIMAL, "face_size": None, "temperature": None}).face_size == 48


@pytest.mark.parametrize("changes, why", [
    ({"mean": None}, "mean must be a finite number (it says nothing: the field is missing)"),
    ({"classes": None}, "classes must be 1 to 1000 names (it says nothing"),
    ({"model": None}, "model must be an architecture's name (it says nothing"),
    ({"classes": "abc"}, "classes must be 1 to 1000 names (it says 'abc')"),
    ({"classes": []}, "classes must be 1 to 1000 names"),
    ({"input_size": 30000}, "input_size must be a whole number from 8 to 512 (it says 30000)"),
    ({"input_size": 48.5}, "input_size must be a whole number"),
    ({"input_size": 48, "face_size": 40}, "face_size must be a whole number from 8 to 512, at least input_size (it "
                                          "says 40)"),
    ({"std": 0.0}, "std must be a positive number (it says 0.0)"),
    ({"mean": float("nan")}, "mean must be a finite number"),
    ({"in_chans": 2}, "in_chans must be 1 or 3"),
    ({"temperature": 0.0}, "temperature must be a positive number"),
    ({"metrics": [0.5]}, "metrics must be an object"),
    ({"model_kwargs": {"width": 0}}, "model_kwargs.width must be a whole number from 1 to 1024 (it says 0)"),
])
def test_a_field_that_cannot_be_right_is_named(changes, why):
    state = {k: v for k, v in {**MINIMAL, **changes}.items() if v is not None}
    with pytest.raises(MetaError) as e:
        CheckpointMeta.from_state(state)
    assert why in str(e.value)


def test_numpy_numbers_are_taken_as_plain_ones():
    meta = CheckpointMeta.from_state({**MINIMAL, "mean": np.float32(0.5), "input_size": np.int64(40), "face_size": 48})
    assert type(meta.mean) is float and type(meta.input_size) is int and meta.input_size == 40


def test_an_old_checkpoint_without_optional_fields_loads_and_predicts(tmp_path):
    from core.predict import CNNPredictor

    model = create_model("model48", len(EMOTIONS))  # default arguments: no model_kwargs needed to rebuild it
    path = tmp_path / "old.pt"
    torch.save({"format": "facial-emotion-lab/1", **MINIMAL, "state_dict": model.state_dict()}, path)
    p = CNNPredictor(path)
    assert (p.input_size, p.face_size, p.temperature, p.calibrated, p.metrics) == (48, 48, 1.0, False, {})
    probs = p.predict([np.full((48, 48), 128, np.uint8)])
    assert probs.shape == (1, 7) and np.isclose(probs.sum(), 1)
    broken = tmp_path / "broken.pt"
    torch.save({"format": "facial-emotion-lab/1", **{**MINIMAL, "std": -1.0}, "state_dict": model.state_dict()}, broken)
    with pytest.raises(CheckpointError, match=r"broken\.pt cannot be used: std must be a positive number"):
        CNNPredictor(broken)


def test_writing_goes_through_the_meta_and_updates_keep_the_rest(tmp_path):
    model = create_model("model48", len(EMOTIONS), width=8)
    meta = CheckpointMeta.for_model(model, classes=EMOTIONS, mean=0.5, std=0.25, input_size=40, face_size=48)
    with pytest.raises(MetaError, match="std must be"):
        meta.replace(std=0.0)  # a bad record is refused before anything is written
    path = save_checkpoint(tmp_path / "run" / "last.pt", model, meta, epoch=3, history=[{"epoch": 1}])
    state = load_checkpoint(path)
    assert state["epoch"] == 3 and state["history"] == [{"epoch": 1}] and state["face_size"] == 48
    new = update_checkpoint(path, temperature=1.5, metrics={"test_acc": 0.5})
    again = load_checkpoint(path)
    assert checkpoint_meta(again, path) == new and new.temperature == 1.5 and new.extra["epoch"] == 3
    assert again["history"] == [{"epoch": 1}]  # what resuming needs stays
    assert all(torch.equal(again["state_dict"][k], v) for k, v in state["state_dict"].items())
    keywords = save_checkpoint(tmp_path / "kw.pt", model, classes=EMOTIONS, mean=0.5, std=0.25, input_size=40,
                               face_size=48)  # the fields as keywords: the same record
    assert checkpoint_meta(load_checkpoint(keywords)) == meta
