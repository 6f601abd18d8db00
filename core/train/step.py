"""One training step, and the batch it is taken on: the same code for the loop and the benches."""
from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F

from ..config import TrainConfig
from ..data.augment import augment, mix_batch
from .device import cpu_has_native_bf16
from .distill import distill_loss


def make_batch(images: torch.Tensor, labels: torch.Tensor, idx: torch.Tensor, gen: torch.Generator,
               cfg: TrainConfig, mix_seed, layout=torch.contiguous_format):
    """(x in [0, 1], y_a, y_b, lam) for the rows `idx` of uint8 `images`, augmented on their own device (the
    CPU, or the GPU that holds the whole data set): flip, warp, crop, erase, then mixup / CutMix."""
    x = augment(images[idx].float() / 255.0, gen, flip=cfg.flip, shift=cfg.shift, rotate=cfg.rotate,
                scale=cfg.scale, erase=cfg.erase, out_size=cfg.crop or None)
    x, y_a, y_b, lam = mix_batch(x, labels[idx], mix_seed, cfg.mixup, cfg.cutmix)
    return x.contiguous(memory_format=layout), y_a, y_b, lam


def autocast_for(device: torch.device, cfg: TrainConfig):
    """bf16 autocast (when asked) on a CUDA GPU, and on a CPU that multiplies bf16 in hardware (1.6-1.8x faster
    steps there, bench/train_throughput.py --steps); float32 everywhere else. Weights, BatchNorm and the
    optimiser stay float32: only the convolutions' and linear layers' products are bf16."""
    if device.type == "cpu" and cfg.amp and cpu_has_native_bf16():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    if device.type == "cuda" and cfg.amp:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def train_step(model, opt, x01, y, mean: float, std: float, cfg: TrainConfig, teacher=None, y_b=None,
               lam: float = 1.0, autocast=None):
    """One optimiser step on a batch of [0, 1] images; the benches time this same step. With `y_b`, the
    batch is mixed and the loss is lam * CE(y) + (1 - lam) * CE(y_b). Returns (logits, loss)."""
    with autocast or contextlib.nullcontext():
        logits = model((x01 - mean) / std)
        loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
        if y_b is not None and lam < 1.0:
            loss = lam * loss + (1 - lam) * F.cross_entropy(logits, y_b, label_smoothing=cfg.label_smoothing)
        if teacher is not None:  # the teacher's soft answers on the same augmented batch
            loss = distill_loss(loss, logits.float(), teacher(x01).float(), cfg.distill, cfg.temperature)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return logits, loss


def divergence(loss_value: float, epoch: int, batch: int) -> str:
    """Why training cannot go on ("" while the loss is a number): once it is NaN or infinite, every later step
    is too, and the weights are lost."""
    if math.isfinite(loss_value):
        return ""
    what = "NaN" if math.isnan(loss_value) else "infinite"
    return f"loss became {what} at epoch {epoch}, batch {batch}: lower the learning rate"
