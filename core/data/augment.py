"""Augmentation of whole batches on tensors: one affine warp and a few masks per batch, no per-image work."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def augment(x: torch.Tensor, gen: torch.Generator, *, flip=True, shift=4, rotate=10.0, scale=0.1,
            erase=0.25) -> torch.Tensor:
    """x: (N, C, H, W) float in [0, 1]. Random flip, shift, rotation, scale, then random erasing."""
    n, _, h, w = x.shape
    rand = lambda *s: torch.rand(*s, generator=gen)  # noqa: E731
    if flip:
        x = torch.where((rand(n) < 0.5).view(n, 1, 1, 1), x.flip(-1), x)
    if shift or rotate or scale:
        angle = (rand(n) * 2 - 1) * math.radians(rotate)
        s = 1 + (rand(n) * 2 - 1) * scale
        tx, ty = [(rand(n) * 2 - 1) * (2 * shift / d) for d in (w, h)]
        cos, sin = torch.cos(angle) / s, torch.sin(angle) / s
        theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if erase:
        # one rectangle per chosen image, 2-20 % of the area, aspect 0.3-3.3, filled with noise
        area = (0.02 + rand(n) * 0.18) * h * w
        aspect = torch.exp((rand(n) * 2 - 1) * math.log(3.3))
        eh = (area * aspect).sqrt().clamp(1, h)
        ew = (area / aspect).sqrt().clamp(1, w)
        y0 = rand(n) * (h - eh)
        x0 = rand(n) * (w - ew)
        ys = torch.arange(h).view(1, h, 1)
        xs = torch.arange(w).view(1, 1, w)
        box = ((ys >= y0.view(n, 1, 1)) & (ys < (y0 + eh).view(n, 1, 1))
               & (xs >= x0.view(n, 1, 1)) & (xs < (x0 + ew).view(n, 1, 1)))
        box &= (rand(n) < erase).view(n, 1, 1)
        x = torch.where(box.unsqueeze(1), rand(x.shape), x)
    return x
