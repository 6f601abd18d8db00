"""Augmentation of whole batches on tensors, on whatever device the batch is on (the CPU, or a GPU holding
the whole data set): one affine warp, a few masks and one mix per batch, no per-image work.

A random crop (`out_size` below the faces' size, e.g. 40 of 48, as the published FER2013 recipes train) is
part of the same warp: the crop's offset is one more translation and its size the grid's, so it costs
nothing beyond the warp, and every later operation runs on the smaller image."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def augment(x: torch.Tensor, gen: torch.Generator, *, flip=True, shift=4, rotate=10.0, scale=0.1,
            erase=0.25, out_size: int | None = None) -> torch.Tensor:
    """x: (N, C, H, W) float in [0, 1]. Random flip, shift, rotation, scale and crop (to `out_size`), then
    random erasing. `gen` is a generator on x's device."""
    n, c, h, w = x.shape
    out = int(out_size or h)
    dev = x.device
    rand = lambda *s: torch.rand(*s, generator=gen, device=dev)  # noqa: E731
    if flip:
        x = torch.where((rand(n) < 0.5).view(n, 1, 1, 1), x.flip(-1), x)
    if shift or rotate or scale or out != h:
        angle = (rand(n) * 2 - 1) * math.radians(rotate)
        s = 1 + (rand(n) * 2 - 1) * scale
        frac = out / h  # the crop's share of the face: the grid covers that much of the input
        tx, ty = [(rand(n) * 2 - 1) * ((2 * shift + (d - out)) / d) for d in (w, h)]
        cos, sin = frac * torch.cos(angle) / s, frac * torch.sin(angle) / s
        theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
        grid = F.affine_grid(theta, [n, c, out, out], align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        h = w = out
    if erase:
        # one rectangle per chosen image, 2-20 % of the area, aspect 0.3-3.3, filled with noise
        area = (0.02 + rand(n) * 0.18) * h * w
        aspect = torch.exp((rand(n) * 2 - 1) * math.log(3.3))
        eh = (area * aspect).sqrt().clamp(1, h)
        ew = (area / aspect).sqrt().clamp(1, w)
        y0 = rand(n) * (h - eh)
        x0 = rand(n) * (w - ew)
        ys = torch.arange(h, device=dev).view(1, h, 1)
        xs = torch.arange(w, device=dev).view(1, 1, w)
        box = ((ys >= y0.view(n, 1, 1)) & (ys < (y0 + eh).view(n, 1, 1))
               & (xs >= x0.view(n, 1, 1)) & (xs < (x0 + ew).view(n, 1, 1)))
        box &= (rand(n) < erase).view(n, 1, 1)
        x = torch.where(box.unsqueeze(1), rand(x.shape), x)
    return x


def mix_batch(x: torch.Tensor, y: torch.Tensor, seed, mixup: float = 0.0, cutmix: float = 0.0):
    """Mixup (Zhang et al. 2018) or CutMix (Yun et al. 2019) of a batch with a shuffled copy of itself:
    (x, y_a, y_b, lam), the loss being lam * CE(y_a) + (1 - lam) * CE(y_b). With both on, each batch takes one
    of the two at random. `seed` (e.g. [run seed, epoch, step]) makes every draw the same on a resume."""
    if not (mixup or cutmix):
        return x, y, y, 1.0
    rng = np.random.default_rng(seed)
    use_cut = bool(cutmix) and (not mixup or rng.random() < 0.5)
    lam = float(rng.beta(cutmix, cutmix) if use_cut else rng.beta(mixup, mixup))
    perm = torch.from_numpy(rng.permutation(len(y))).to(x.device)
    if use_cut:
        h, w = x.shape[-2:]
        ch, cw = int(round(h * math.sqrt(1 - lam))), int(round(w * math.sqrt(1 - lam)))
        cy, cx = int(rng.integers(h)), int(rng.integers(w))
        y0, y1 = max(cy - ch // 2, 0), min(cy + (ch + 1) // 2, h)
        x0, x1 = max(cx - cw // 2, 0), min(cx + (cw + 1) // 2, w)
        x = x.clone()
        x[..., y0:y1, x0:x1] = x[perm][..., y0:y1, x0:x1]
        lam = 1.0 - (y1 - y0) * (x1 - x0) / float(h * w)  # the share of the image that kept its label
    else:
        x = lam * x + (1 - lam) * x[perm]
    return x, y, y[perm], lam
