"""Grad-CAM (Selvaraju et al., 2017): where in the face a CNN looked for its answer.

`grad_cam` works on any of our architectures: it finds the last Conv2d whose output is still a
spatial map (more than 1x1) by watching one forward pass, weights that layer's channels by the
gradient of the class score, and returns a heat map at the crop's size. Hooks are removed before
it returns and the model's mode and weights are left as they were.
"""
from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

from ..data.images import to_uint8
from ..evaluate import tta_views
from ..models.int8 import is_quantized
from ..models.meta import CheckpointMeta
from .crops import as_crop, preprocess

# FER2013's pixel statistics: the normalisation used when a bare model comes without its own.
DEFAULT_MEAN, DEFAULT_STD = 0.508, 0.255


def _unwrap(model_or_predictor, mean, std):
    """(model, mean, std, input size) from a CNNPredictor-like object or a bare nn.Module."""
    from torch import nn

    obj = model_or_predictor
    if isinstance(obj, nn.Module):
        return obj, (DEFAULT_MEAN if mean is None else mean), (DEFAULT_STD if std is None else std), (48, 48)
    model = getattr(obj, "model", None)
    if not isinstance(model, nn.Module):
        raise TypeError(f"Grad-CAM needs one of our CNNs (a torch model or a CNNPredictor), not "
                        f"{type(obj).__name__}" + (" (DeepFace has no Grad-CAM here)"
                                                   if "deepface" in str(getattr(obj, "source", "")).lower() else ""))
    meta = getattr(obj, "meta", None)
    if not isinstance(meta, CheckpointMeta):
        raise TypeError(f"Grad-CAM needs a predictor of one of our checkpoints (with its CheckpointMeta), not "
                        f"{type(obj).__name__}")
    return model, meta.mean if mean is None else float(mean), meta.std if std is None else float(std), \
        (meta.face_size, meta.input_size)


def grad_cam(model_or_predictor, crop, class_index: int | None = None, mean: float | None = None,
             std: float | None = None) -> np.ndarray:
    """Heat map (H, W) float32 in [0, 1] at the crop's size: where the evidence for `class_index`
    (default: the predicted class) lies. `crop` is a grey uint8 face crop of any size."""
    model, mean, std, (face, size) = _unwrap(model_or_predictor, mean, std)
    if is_quantized(model):
        meta = getattr(model_or_predictor, "meta", None)
        source = meta.quantized_from if isinstance(meta, CheckpointMeta) else None
        raise ValueError("no Grad-CAM for an int8 model: its integer layers have no gradients"
                         + (f"; its float original, {Path(source).stem}, shows where it looks" if source else ""))
    crop = as_crop(crop)
    meta = getattr(model_or_predictor, "meta", None)
    grey = meta.grey if isinstance(meta, CheckpointMeta) else "none"
    x = tta_views(preprocess([crop], face, mean, std, grey), None, size)[0]  # what the model sees: its centre crop
    return _scaled(_class_map(model, x, class_index), crop.shape)


def _class_map(model, x, class_index: int | None):
    """Grad-CAM's map at the last convolution that keeps a spatial map: its activations weighted by the mean
    gradient of the class's logit, rectified (a torch tensor, that layer's size)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    me = threading.get_ident()
    seen: list[tuple[nn.Module, torch.Tensor]] = []

    def hook(module, _inp, out):
        if threading.get_ident() == me and torch.is_tensor(out) and out.dim() == 4:
            seen.append((module, out))  # only our pass: another thread may be predicting with this model
            return out.clone()  # downstream in-place ops (ReLU(inplace=True)) must not touch the saved map
        return None

    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError(f"{type(model).__name__} has no Conv2d layer: Grad-CAM needs a CNN")
    handles = [m.register_forward_hook(hook) for m in convs]
    was_training = model.training
    try:
        model.eval()
        with torch.inference_mode(False), torch.enable_grad():
            x = x.clone().requires_grad_(True)  # a graph even if the weights are frozen
            logits = model(x)
            spatial = [(m, a) for m, a in seen if a.shape[-1] > 1 or a.shape[-2] > 1]
            if not spatial:
                raise ValueError("no convolution in this model keeps a spatial map (>1x1) for Grad-CAM")
            _, act = spatial[-1]  # the last one run
            k = int(torch.argmax(logits[0])) if class_index is None else int(class_index)
            if not 0 <= k < logits.shape[1]:
                raise IndexError(f"class_index {k} is out of range for {logits.shape[1]} classes")
            grad, = torch.autograd.grad(logits[0, k], act, retain_graph=False, allow_unused=True)
        if grad is None:
            return torch.zeros(act.shape[-2:])
        weights = grad[0].mean(dim=(1, 2), keepdim=True)          # (C, 1, 1)
        return F.relu((weights * act[0]).sum(0)).detach()          # (h, w)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
        seen.clear()


def _scaled(cam, shape) -> np.ndarray:
    """The map resized to the crop's (H, W) and scaled to [0, 1] (all zeros where it is flat or not finite)."""
    H, W = shape
    cam = cam.float().numpy()
    cam = cv2.resize(cam, (W, H), interpolation=cv2.INTER_LINEAR) if cam.shape != (H, W) else cam
    cam = np.maximum(cam, 0.0)
    hi = float(cam.max()) if cam.size else 0.0
    if not np.isfinite(hi) or hi <= 1e-12:
        return np.zeros((H, W), dtype=np.float32)
    return np.clip(cam / hi, 0.0, 1.0).astype(np.float32)


def overlay(image, heat, alpha: float = 0.45) -> np.ndarray:
    """The heat map in JET colours over a grey (H, W) or RGB (H, W, 3) image -> RGB uint8."""
    img = to_uint8(np.asarray(image))
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 2:
        rgb = np.repeat(img[:, :, None], 3, axis=2)
    elif img.ndim == 3 and img.shape[2] in (3, 4):
        rgb = img[:, :, :3]
    else:
        raise ValueError(f"overlay needs a grey or RGB image, got shape {img.shape}")
    h, w = rgb.shape[:2]
    heat = np.nan_to_num(np.asarray(heat, dtype=np.float32))
    if heat.shape != (h, w):
        heat = cv2.resize(heat, (w, h), interpolation=cv2.INTER_LINEAR)
    colored = cv2.applyColorMap((np.clip(heat, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)
    colored = cv2.cvtColor(colored, cv2.COLOR_BGR2RGB)
    a = float(np.clip(alpha, 0.0, 1.0))
    return cv2.addWeighted(np.ascontiguousarray(rgb), 1.0 - a, colored, a, 0.0)
