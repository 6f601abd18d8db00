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
               cfg: TrainConfig, mix_seed, layout=torch.contiguous_format, targets: torch.Tensor | None = None):
    """(x in [0, 1], y_a, y_b, lam) for the rows `idx` of uint8 `images`, augmented on their own device (the
    CPU, or the GPU that holds the whole data set): flip, warp, crop, erase, then mixup / CutMix.
    With soft `targets` (FER+'s votes, (N, C)), y is their rows (crossentropy, multi_target), or one label drawn
    from each row (probability: a new draw each time a face is seen); mixing mixes them like labels."""
    x = augment(images[idx].float() / 255.0, gen, flip=cfg.flip, shift=cfg.shift, rotate=cfg.rotate,
                scale=cfg.scale, erase=cfg.erase, out_size=cfg.crop or None)
    y = labels[idx]
    if targets is not None:
        t = targets[idx]
        y = torch.multinomial(t, 1, generator=gen).squeeze(1) if cfg.label_mode == "probability" else t
    x, y_a, y_b, lam = mix_batch(x, y, mix_seed, cfg.mixup, cfg.cutmix)
    return x.contiguous(memory_format=layout), y_a, y_b, lam


def hard_labels(y: torch.Tensor) -> torch.Tensor:
    """Class indices of labels or soft targets (their top class): what a batch's accuracy is counted against."""
    return y.argmax(1) if y.is_floating_point() else y


MULTI_TARGET_EPSILON = 0.001  # as Microsoft's FER+ code: no target is exactly 0


def target_loss(logits: torch.Tensor, y: torch.Tensor, cfg: TrainConfig) -> torch.Tensor:
    """The labels' loss: cross-entropy against class indices or soft targets (label smoothing on both); for
    FER+'s multi_target mode, Barsoum et al.'s -log max_i t_i p_i (any emotion people named counts as right)."""
    if y.is_floating_point() and cfg.label_mode == "multi_target":
        t = (y > 0).float() * (1 - MULTI_TARGET_EPSILON) + MULTI_TARGET_EPSILON
        return -torch.log((t * F.softmax(logits.float(), 1)).amax(1)).mean()
    return F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)


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
    batch is mixed and the loss is lam * CE(y) + (1 - lam) * CE(y_b); y may be soft targets. Returns (logits, loss)."""
    with autocast or contextlib.nullcontext():
        logits = model((x01 - mean) / std)
        loss = target_loss(logits, y, cfg)
        if y_b is not None and lam < 1.0:
            loss = lam * loss + (1 - lam) * target_loss(logits, y_b, cfg)
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


def epoch_divergence(val_loss, model: torch.nn.Module, epoch: int) -> str:
    """Why training cannot go on after an epoch ("" when it can): a validation loss that is not a number, or
    weights (BatchNorm statistics included) that are not, diverged as surely as a NaN training loss, even where
    every training batch's loss was still finite."""
    if val_loss is None or not math.isfinite(float(val_loss)):
        what = "NaN" if val_loss is None or math.isnan(float(val_loss)) else "infinite"
        return f"validation loss became {what} at epoch {epoch}: lower the learning rate"
    with torch.no_grad():
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                return f"weights became NaN or infinite at epoch {epoch} ({name}): lower the learning rate"
    return ""
