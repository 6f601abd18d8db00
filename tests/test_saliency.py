"""core.saliency: Grad-CAM for every architecture, leaving the model untouched."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from core.models.checkpoint import save_checkpoint
from core.predict.detectors import HaarDetector
from core.predict.crops import crop_faces
from core.data.images import load_image
from core.labels import EMOTIONS
from core.models import create_model, list_models
from core.predict.saliency import grad_cam, overlay

SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"


@pytest.fixture(scope="module")
def face_crop():
    img = load_image(SAMPLES / "happy_astronaut.jpg")
    return crop_faces(img, HaarDetector().detect(img))[0]


def no_hooks(model) -> bool:
    return all(not m._forward_hooks and not m._backward_hooks and not getattr(m, "_forward_pre_hooks", None)
               for m in model.modules())


@pytest.mark.parametrize("arch", list_models())
def test_grad_cam_every_architecture(arch, face_crop):
    torch.manual_seed(0)
    model = create_model(arch, 7, width=8).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    heat = grad_cam(model, face_crop, mean=0.5, std=0.25)
    assert heat.shape == face_crop.shape and heat.dtype == np.float32
    assert heat.min() >= 0.0 and heat.max() <= 1.0
    assert no_hooks(model)
    assert not model.training
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in model.parameters())
    # any crop size, any class; the map is at the crop's size
    big = np.kron(face_crop, np.ones((2, 2), np.uint8))[:90, :80]
    heat2 = grad_cam(model, big, class_index=3, mean=0.5, std=0.25)
    assert heat2.shape == (90, 80) and 0.0 <= heat2.min() and heat2.max() <= 1.0
    assert no_hooks(model)


def test_grad_cam_keeps_training_mode_and_works_under_inference_mode(face_crop):
    model = create_model("model48", 7, width=8).train()
    heat = grad_cam(model, face_crop)
    assert model.training and heat.shape == (48, 48)
    model.eval()
    with torch.inference_mode():
        assert grad_cam(model, face_crop).shape == (48, 48)
    assert no_hooks(model)


def test_grad_cam_from_a_predictor(tmp_path, face_crop):
    from core.predict import CNNPredictor

    path = save_checkpoint(tmp_path / "r.pt", create_model("resnet", 7, width=8), classes=EMOTIONS,
                           mean=0.45, std=0.2)
    p = CNNPredictor(path)
    heat = grad_cam(p, face_crop)
    assert heat.shape == (48, 48) and 0.0 <= heat.min() and heat.max() <= 1.0
    assert no_hooks(p.model)
    with pytest.raises(IndexError):
        grad_cam(p, face_crop, class_index=7)
    with pytest.raises(TypeError):
        grad_cam(object(), face_crop)


def test_overlay_grey_and_rgb():
    heat = np.linspace(0, 1, 48 * 48, dtype=np.float32).reshape(48, 48)
    grey = np.full((48, 48), 100, np.uint8)
    out = overlay(grey, heat)
    assert out.shape == (48, 48, 3) and out.dtype == np.uint8
    assert not np.array_equal(out[0, 0], out[-1, -1])  # cold vs hot colours
    rgb = np.zeros((96, 96, 3), np.uint8)
    out2 = overlay(rgb, heat, alpha=1.0)  # heat resized to the image
    assert out2.shape == (96, 96, 3)
    assert out2[-1, -1, 0] > out2[-1, -1, 2]  # hot = red in RGB order
    assert np.array_equal(overlay(rgb, heat, alpha=0.0), rgb)
