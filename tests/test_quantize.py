"""Int8 copies of our CNNs (core.models.int8, core.workflows.quantize): made from a checkpoint, saved, loaded back, used like any model."""
import json

import numpy as np
import pytest
import torch

from core.models.checkpoint import (CheckpointError, load_checkpoint, load_model, save_checkpoint, write_checkpoint_state)
from core.labels import EMOTIONS
from core.models import count_parameters, create_model, list_models
from core.models.int8 import build_quantized, is_quantized, plain_state_dict, quantize_model
from core.workflows.quantize import quantize_checkpoint


@pytest.fixture(scope="module")
def float_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    model = create_model("vgg", num_classes=len(EMOTIONS), width=8).eval()
    path = tmp_path_factory.mktemp("q") / "small-vgg.pt"
    save_checkpoint(path, model, classes=EMOTIONS, mean=0.5, std=0.25, metrics={"val_acc": 0.5, "test_acc": 0.5})
    return path


@pytest.fixture(scope="module")
def int8_ckpt(float_ckpt, synthetic_csv):
    dst = float_ckpt.with_name("small-vgg-int8.pt")
    figures = quantize_checkpoint(float_ckpt, dst, data=synthetic_csv, images=128, seed=0)
    return dst, figures


@pytest.mark.parametrize("arch", list_models())
def test_every_architecture_quantizes_and_reloads_to_the_same_int8_model(arch):
    torch.manual_seed(0)
    model = create_model(arch, num_classes=7, width=8).eval()
    q = quantize_model(model, torch.randn(64, 1, 48, 48))
    assert is_quantized(q) and not is_quantized(model)
    again = build_quantized(create_model(arch, num_classes=7, width=8), plain_state_dict(q))
    x = torch.randn(5, 1, 48, 48)
    with torch.inference_mode():
        assert torch.equal(q(x), again(x))
        rel = (q(x) - model(x)).norm() / model(x).norm()
    assert rel < 0.1, f"{arch}: int8 logits differ from float by {rel:.1%}"


def test_saved_int8_checkpoint_has_no_quantized_tensors_and_records_how_it_was_made(int8_ckpt, float_ckpt):
    dst, figures = int8_ckpt
    state = load_checkpoint(dst)
    q = state["quantized"]
    assert q["dtype"] == "int8" and q["source"] == float_ckpt.name and q["calibration_images"] == 128
    flat = [v for v in state["state_dict"].values() if torch.is_tensor(v)]
    assert flat and not any(v.is_quantized for v in flat)  # plain tensors: torch.load raises no deprecation notice
    assert q["float_params"] == count_parameters(load_model(float_ckpt)[0])
    assert state["metrics"]["val_acc"] == figures["int8_val_acc"]
    assert state["metrics"]["float_test_acc"] == figures["float_test_acc"]
    assert state["classes"] == list(EMOTIONS) and state["mean"] == 0.5
    with pytest.raises(ValueError, match="already quantized"):
        quantize_checkpoint(dst, dst.with_name("twice.pt"))


def test_int8_checkpoint_answers_like_its_float_model(int8_ckpt, float_ckpt, synthetic_csv):
    from core.data import load_dataset
    from core.workflows.evaluation import evaluate_checkpoint

    dst, figures = int8_ckpt
    qmodel, _ = load_model(dst)
    fmodel, _ = load_model(float_ckpt)
    x = (load_dataset(synthetic_csv).splits["test"].images.float() / 255 - 0.5) / 0.25
    with torch.inference_mode():
        pq, pf = qmodel(x).softmax(1), fmodel(x).softmax(1)
    assert (pq - pf).abs().max() < 0.05
    assert evaluate_checkpoint(dst, data=synthetic_csv, split="val")["accuracy"] == figures["int8_val_acc"]


def test_int8_model_is_a_predictor_like_any_other(int8_ckpt, float_ckpt):
    from core.predict import CNNPredictor, discover_models

    dst, _ = int8_ckpt
    for tta in (None, "flip", "tencrop"):
        p = CNNPredictor(dst, tta=tta)
        probs = p.predict([np.full((48, 48), 128, np.uint8), np.zeros((60, 50), np.uint8)])
        assert probs.shape == (2, 7) and np.allclose(probs.sum(1), 1)
    info = {m.name: m for m in discover_models(dst.parent, runs="none")}["small-vgg-int8"]
    assert info.error is None and info.params == load_checkpoint(dst)["quantized"]["float_params"]


def test_grad_cam_of_an_int8_model_says_why_not_and_names_the_float_original(int8_ckpt):
    from core.predict import CNNPredictor
    from core.predict.saliency import grad_cam

    with pytest.raises(ValueError, match="int8.*small-vgg"):
        grad_cam(CNNPredictor(int8_ckpt[0]), np.zeros((48, 48), np.uint8))


def test_int8_model_where_its_engine_is_missing_is_listed_unusable_not_picked(int8_ckpt, tmp_path):
    from core.predict import discover_models, webcam_model

    state = load_checkpoint(int8_ckpt[0])
    state["quantized"]["backend"] = "no-such-engine"
    state["metrics"]["test_acc"] = 0.9
    write_checkpoint_state(tmp_path / "elsewhere-int8.pt", state)
    with pytest.raises(CheckpointError, match="int8 model.*no-such-engine"):
        load_model(tmp_path / "elsewhere-int8.pt")
    models = discover_models(tmp_path, runs="none")
    assert "no-such-engine" in models[0].error
    assert webcam_model(models) is None


def test_card_of_an_int8_model_says_int8_and_counts_the_float_parameters(int8_ckpt, synthetic_csv, tmp_path):
    from core.workflows.card import card, card_markdown, card_table

    c = card(int8_ckpt[0], data=synthetic_csv)
    assert c["params"] == c["quantized"]["float_params"] > 0
    assert c["latency_ms_per_face_2_threads"] > 0
    assert "**int8**" in card_markdown(c) and "small-vgg.pt" in card_markdown(c)
    saved = tmp_path / "small-vgg-int8.card.json"
    saved.write_text(json.dumps(c))
    assert "vgg, width 8, int8" in card_table([saved])


def test_cli_quantize_writes_the_int8_copy_and_prints_both_accuracies(float_ckpt, synthetic_csv, tmp_path, capsys):
    from core.cli import main

    out = tmp_path / "cli-int8.pt"
    assert main(["quantize", str(float_ckpt), "--out", str(out), "--data", str(synthetic_csv), "--images", "64",
                 "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert out.exists() and set(r) >= {"int8_val_acc", "float_val_acc", "int8_test_acc", "float_test_acc"}
    assert main(["quantize", str(float_ckpt), "--out", str(float_ckpt)]) == 2  # never over its float original
    assert "name of its own" in capsys.readouterr().err


def test_compare_page_grad_cam_explains_an_int8_model_and_still_draws_the_float_ones(int8_ckpt, float_ckpt):
    from core.predict import CNNPredictor
    from ui.compare import gradcam_images

    crop = np.full((48, 48), 120, np.uint8)
    out = {item[0]: item for item in gradcam_images(crop, [CNNPredictor(int8_ckpt[0]), CNNPredictor(float_ckpt)])}
    assert out["small-vgg-int8"][1] is None and "int8" in out["small-vgg-int8"][2]
    assert out["small-vgg"][1].shape == (144, 144, 3)


def test_an_existing_model_is_never_replaced_unless_asked(float_ckpt, synthetic_csv, tmp_path, capsys):
    from core.cli import main

    mine = tmp_path / "mine.pt"
    mine.write_bytes(b"a model someone made")
    with pytest.raises(FileExistsError, match="exists already"):
        quantize_checkpoint(float_ckpt, mine, data=synthetic_csv, images=64)
    assert main(["quantize", str(float_ckpt), "--out", str(mine), "--data", str(synthetic_csv)]) == 2
    assert "--force" in capsys.readouterr().err and mine.read_bytes() == b"a model someone made"
    assert main(["quantize", str(float_ckpt), "--out", str(mine), "--data", str(synthetic_csv), "--images", "64",
                 "--force"]) == 0
    assert load_checkpoint(mine)["quantized"]["dtype"] == "int8"
