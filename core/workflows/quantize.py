"""Int8 post-training quantization: a trained CNN made faster on a CPU (seed-vgg: 2x), for the webcam.

    python -m core quantize model/seed-vgg.pt --as seed-vgg-int8

No retraining: a few thousand training images calibrate the activations' ranges, and both models are
measured on PublicTest (selection) and PrivateTest, as training does. What the model answers barely moves
(seed-vgg: -0.06 points on PublicTest, -0.09 on PrivateTest) and it runs 2x faster (`python bench/per_face.py`).
The mechanics of an int8 model are core.models.int8.
"""
from __future__ import annotations

import platform
import time
from pathlib import Path

import torch

from ..data import normalize
from ..evaluate import evaluate_model, tta_views
from ..models.checkpoint import write_checkpoint
from ..models.int8 import BACKEND, plain_state_dict, quantize_model
from .evaluation import open_subject


MIN_CALIBRATION = 32  # images: below that the activations' ranges are guesses, and the int8 model answers noise


def quantize_checkpoint(src, dst, data=None, images: int = 2048, seed: int = 0, backend: str = BACKEND,
                        overwrite: bool = False) -> dict:
    """Write an int8 copy of checkpoint `src` to `dst`, calibrated on `images` random training images of
    `data` (default FER2013); measure both on PublicTest (selection) and PrivateTest, as training does,
    and store the int8 model's figures as its metrics. Returns those figures. An existing `dst` is kept
    (FileExistsError) unless `overwrite`: a model someone made is never replaced by accident."""
    if Path(dst).exists() and not overwrite:
        raise FileExistsError(f"{Path(dst).name} exists already in {Path(dst).parent}: choose another name")
    if not MIN_CALIBRATION <= int(images) <= 1_000_000:
        raise ValueError(f"calibrate on {MIN_CALIBRATION} to 1000000 images, not {images}: fewer leave the int8 "
                         "ranges unmeasured (2048, the default, is plenty)")
    subject = open_subject(src, data)
    meta, model, ds = subject.meta, subject.model, subject.dataset
    if meta.quantized:
        raise ValueError(f"{src} is already quantized ({meta.quantized.get('dtype', 'int8')})")
    train = ds.splits["train"]
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(train), generator=g)[:images]
    t0 = time.perf_counter()
    calibration = tta_views(normalize(subject.faces("train")[idx], meta.mean, meta.std), None, subject.input_size)[0]
    qmodel = quantize_model(model, calibration, subject.input_size, backend)
    seconds = time.perf_counter() - t0
    figures = {}
    for split in ("val", "test"):
        s = ds.splits[split]
        for label, m in (("float", model), ("int8", qmodel)):
            r = evaluate_model(m, subject.faces(split), s.labels, ds.classes, meta.mean, meta.std,
                               input_size=subject.input_size)
            figures[f"{label}_{split}_acc"] = r["accuracy"]
    figures["int8_test_confusion"] = r["confusion"]  # the last one measured: int8 on PrivateTest
    metrics = {"val_acc": figures["int8_val_acc"], "test_acc": figures["int8_test_acc"],
               "float_val_acc": figures["float_val_acc"], "float_test_acc": figures["float_test_acc"]}
    quantized = {"dtype": "int8", "backend": backend, "source": Path(src).name,
                 "float_params": sum(p.numel() for p in model.parameters()),
                 "calibration_images": int(len(idx)), "seed": int(seed), "seconds": round(seconds, 1),
                 "torch": str(torch.__version__), "machine": platform.machine()}
    write_checkpoint(dst, meta.replace(metrics=metrics, quantized=quantized), plain_state_dict(qmodel))
    return {"checkpoint": str(dst), "classes": list(ds.classes), **figures, "calibration_images": int(len(idx)),
            "seconds": seconds}
