"""The grey-level step a model's faces go through before normalisation, said once: the same function on every
training image and on every face a predictor, an evaluation or a page gives the model, and recorded in the
checkpoint (`CheckpointMeta.grey`), so what a model saw in training is what it sees afterwards.

- "none": the grey levels as they are (Kaggle's fer2013.csv, webcam frames and photos are raw).
- "equalise": OpenCV's histogram equalisation of each face (`cv2.equalizeHist`). The shipped FER2013 models were
  trained on an equalised copy of FER2013: given raw faces they lose about 2 points (68.04% raw vs 69.96%
  equalised for `accurate` on raw PrivateTest), so their checkpoints say "equalise" and every face is equalised
  for them. It also evens out a webcam's lighting.
"""
from __future__ import annotations

import numpy as np

GREY_STEPS: tuple[str, ...] = ("none", "equalise")
GREY_HELP = {"none": "the grey levels as they are", "equalise": "each face's histogram equalised (cv2.equalizeHist)"}


def check_grey(step) -> str:
    """`step` checked and spelt as GREY_STEPS does (None is "none"; "equalize" is "equalise")."""
    step = "none" if step in (None, "") else str(step).strip().lower()
    step = {"equalize": "equalise", "histeq": "equalise"}.get(step, step)
    if step not in GREY_STEPS:
        raise ValueError(f"unknown grey-level step {step!r}; use one of {', '.join(GREY_STEPS)}")
    return step


def apply_grey(faces, step):
    """uint8 faces ((N, H, W), (N, 1, H, W), or one (H, W); a numpy array or a torch tensor) after the grey-level
    step, in the same type and shape; "none" returns them untouched (no copy)."""
    step = check_grey(step)
    if step == "none":
        return faces
    import cv2

    is_tensor = not isinstance(faces, np.ndarray)
    arr = faces.cpu().numpy() if is_tensor else faces
    if arr.dtype != np.uint8:
        raise ValueError(f"the grey-level step takes uint8 faces, not {arr.dtype}")
    flat = arr.reshape(-1, *arr.shape[-2:])
    out = np.empty_like(flat)
    for i, face in enumerate(flat):
        out[i] = cv2.equalizeHist(np.ascontiguousarray(face))
    out = out.reshape(arr.shape)
    if is_tensor:
        import torch

        return torch.from_numpy(out).to(faces.device)
    return out
