"""channels_last (NHWC) where it is safe: one training step's gradients agree in both memory layouts for every
architecture and width the loop runs in NHWC, and the layers that meet the oneDNN bug's condition (1x1
convolution, stride 2, few input channels) keep a model in NCHW.

"Agree" is measured against the same step in float64: float32 in either layout differs from it by rounding,
which a ReLU whose input sits near zero can turn into a different mask for a few units (measured here: a
relative L2 error of 1e-6 to 5e-3, cosine above 0.99998). A kernel that writes past its buffer or skips part of
the batch gives errors of order 1."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from core.models import create_model, list_models
from core.models.layout import channels_last_ok, channels_last_risk

CASES = [(m, w) for m in list_models() for w in (8, 16, 32)]


def _grads(model, x, y) -> torch.Tensor:
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()
    return torch.cat([p.grad.detach().double().contiguous().flatten() for p in model.parameters()])


@pytest.mark.parametrize("arch, width", CASES, ids=[f"{m}-w{w}" for m, w in CASES])
def test_one_step_has_the_same_gradients_in_both_layouts(arch, width):
    torch.manual_seed(0)
    kw = {"input_size": 40} if arch in ("vgg", "ourmodel") else {}
    model = create_model(arch, num_classes=7, width=width, dropout=0.0, **kw).train()
    if not channels_last_ok(model):
        pytest.skip(f"kept in NCHW: {channels_last_risk(model)}")
    x, y = torch.randn(32, 1, 40, 40), torch.randint(0, 7, (32,))
    exact = _grads(copy.deepcopy(model).double(), x.double(), y)
    nchw = _grads(copy.deepcopy(model), x, y)
    nhwc = _grads(copy.deepcopy(model).to(memory_format=torch.channels_last),
                  x.contiguous(memory_format=torch.channels_last), y)
    for grads in (nchw, nhwc):
        assert (grads - exact).norm() / exact.norm() < 2e-2
        assert F.cosine_similarity(grads, exact, 0) > 0.999


def test_the_risky_layers_are_found():
    assert channels_last_risk(create_model("mini_xception", width=8))  # its 1x1 stride-2 shortcuts have 4 inputs
    assert channels_last_risk(create_model("mini_xception", width=16))  # 8 inputs: below AVX-512's block
    assert channels_last_risk(create_model("resnet", width=32)) is None
    assert channels_last_risk(create_model("vgg", width=32)) is None  # no 1x1 convolution at all
    assert channels_last_ok(create_model("mini_xception", width=8), "cuda")  # the bug is oneDNN's, on CPUs
