"""channels_last (NHWC) where it is safe: one training step's gradients agree in both memory layouts for every
architecture and width the loop runs in NHWC, and the layers that meet the oneDNN bug's condition (1x1
convolution, stride 2, few input channels) keep a model in NCHW.

"Agree" is measured against the same step in float64: float32 in either layout differs from it by rounding,
which a ReLU whose input sits near zero can turn into a different mask for a few units (measured here: a
relative L2 error of 1e-6 to 5e-3, cosine above 0.99998). A kernel that writes past its buffer or skips part of
the batch gives errors of order 1. A bf16 autocast step (what the loop runs on a CPU with bf16 in hardware) is
held to bf16's own, coarser rounding."""
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


@pytest.mark.parametrize("arch, width", [("vgg", 16), ("resnet", 16)])
def test_a_bf16_autocast_step_has_nearly_the_float64_gradients(arch, width):
    """What the loop runs on a CPU with bf16 in hardware (and any CPU can run, slowly): bf16 products, float32
    weights. bf16 keeps 8 bits of mantissa, and BatchNorm's backward pass subtracts near-equal numbers, so one
    step's gradients from a random start differ from float64's by about 30% (measured: relative L2 error
    0.27-0.30, cosine 0.95-0.96); a kernel that writes past its buffer leaves little of their direction.
    That it learns as float32 does is measured, not asserted here: 3 epochs of seed-vgg with 40 px crops
    reached 55.3% validation accuracy in bf16 and 54.7% in float32."""
    torch.manual_seed(0)
    kw = {"input_size": 40} if arch == "vgg" else {}
    model = create_model(arch, num_classes=7, width=width, dropout=0.0, **kw).train()
    x, y = torch.randn(32, 1, 40, 40), torch.randint(0, 7, (32,))
    exact = _grads(copy.deepcopy(model).double(), x.double(), y)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        half = _grads(copy.deepcopy(model).to(memory_format=torch.channels_last),
                      x.contiguous(memory_format=torch.channels_last), y)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert (half - exact).norm() / exact.norm() < 0.5
    assert F.cosine_similarity(half, exact, 0) > 0.9


def test_the_loop_uses_bf16_on_a_cpu_only_where_it_is_in_hardware(monkeypatch):
    from core.config import TrainConfig
    from core.train import step

    cpu = torch.device("cpu")
    monkeypatch.setattr(step, "cpu_has_native_bf16", lambda: True)
    ctx = step.autocast_for(cpu, TrainConfig())
    assert isinstance(ctx, torch.autocast) and ctx.fast_dtype == torch.bfloat16
    assert not isinstance(step.autocast_for(cpu, TrainConfig(amp=False)), torch.autocast)  # --no-amp
    monkeypatch.setattr(step, "cpu_has_native_bf16", lambda: False)
    assert not isinstance(step.autocast_for(cpu, TrainConfig()), torch.autocast)
