"""Layer 3, evaluation: probabilities of a model on uint8 faces (with optional test-time augmentation),
accuracy, per-class precision/recall/F1 and the confusion matrix. The one forward pass every measurement and
every prediction makes (`view_probs`: the TTA views in one batch, softmax averaged; the modes' names are
core.labels').
Imports data, labels and models only: evaluating a checkpoint file on a data set is a workflow
(core.workflows.evaluation)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .data import normalize
from .labels import STRESS_CLASSES, TTA_CHOICES, canonical, is_stress_task, stress_index, stress_probability
from .models.int8 import is_quantized


def tta_views(x: torch.Tensor, tta, size: int | None = None, shift: int = 3):
    """Views of a float batch (N, C, H, W) to average over, each `size` square (default H).

    A model that sees the whole face (size == H): identity; + flip; or "ten-crop", crops of (H - 2 shift) at the
    four corners and the centre resized back, and their mirrors. A model trained on crops (size < H, e.g. 40
    of 48): the centre crop; + its mirror; or the ten crops of the published recipes, the four corners and
    the centre, and their mirrors."""
    h, w = x.shape[-2:]
    size = int(size or h)
    if size < h:
        o = (h - size) // 2
        centre = x[..., o:o + size, o:o + size]
        if not tta:
            return [centre]
        if tta == "flip":
            return [centre, centre.flip(-1)]
        if tta == "tencrop":
            e = h - size
            crops = [centre] + [x[..., i:i + size, j:j + size] for i, j in ((0, 0), (0, e), (e, 0), (e, e))]
            return crops + [v.flip(-1) for v in crops]
    elif size > h:
        raise ValueError(f"faces of {h} px cannot give views of {size} px")
    if not tta:
        return [x]
    if tta == "flip":
        return [x, x.flip(-1)]
    if tta == "tencrop":
        c = h - 2 * shift
        offsets = [(shift, shift), (0, 0), (0, 2 * shift), (2 * shift, 0), (2 * shift, 2 * shift)]
        crops = [F.interpolate(x[..., i:i + c, j:j + c], size=(h, w), mode="bilinear", align_corners=False)
                 for i, j in offsets]
        return crops + [v.flip(-1) for v in crops]
    raise ValueError(f"unknown test-time augmentation {tta!r}; use one of {TTA_CHOICES}")


def inference_net(model):
    """An inference copy of `model` with each BatchNorm folded into the convolution before it (torch.fx); ~30%
    fewer operations per face on CPU, the same function. The model itself is left as it is (Grad-CAM, int8
    calibration use it). An int8 model (folded when it was quantized) or one fx cannot trace is used as it is."""
    if is_quantized(model):
        return model
    try:
        from torch.fx.experimental.optimization import fuse

        fused = fuse(model.eval())  # a deep copy: the original keeps its BatchNorm layers
        fused.eval()
        return fused
    except Exception:  # noqa: BLE001 - an optimisation only
        return model


def view_softmax(net, x: torch.Tensor, tta=None, input_size: int | None = None, layout=None) -> torch.Tensor:
    """The one forward pass: softmax probabilities (V views, N, C) of normalised faces x (N, C, H, W) for each of
    their TTA views (tta_views), every view in one batch."""
    views = tta_views(x, tta, input_size)
    batch = torch.cat(views) if len(views) > 1 else views[0]
    if layout is not None:
        batch = batch.contiguous(memory_format=layout)
    return F.softmax(net(batch), 1).reshape(len(views), len(x), -1)


def view_probs(net, x: torch.Tensor, tta=None, input_size: int | None = None, layout=None) -> torch.Tensor:
    """Probabilities of normalised faces x averaged over their TTA views (view_softmax): what a predictor
    answers and what an evaluation measures."""
    return view_softmax(net, x, tta, input_size, layout).mean(0)


def _device_and_layout(model):
    """Where the model's weights are (an int8 model: no parameters, CPU) and its memory layout (channels_last or None)."""
    param = next(model.parameters(), None)  # a model still on the GPU it trained on
    dev = param.device if param is not None else torch.device("cpu")
    layout = torch.channels_last if param is not None and param.dim() == 4 and \
        param.is_contiguous(memory_format=torch.channels_last) and not param.is_contiguous() else None
    return dev, layout


@torch.inference_mode()
def predict_probs(model, images: torch.Tensor, mean: float, std: float, tta=None, batch_size: int = 128,
                  progress=None, input_size: int | None = None) -> torch.Tensor:
    """Softmax probabilities for uint8 images (N, 1, H, W), averaged over the TTA views (each of the model's
    `input_size`, the whole face by default)."""
    model.eval()
    dev, layout = _device_and_layout(model)
    out = []
    for i in range(0, len(images), batch_size):
        x = normalize(images[i:i + batch_size].to(dev), mean, std)
        out.append(view_probs(model, x, tta, input_size, layout).float().cpu())
        if progress:
            progress(min(i + batch_size, len(images)), len(images))
    return torch.cat(out) if out else torch.empty(0)


@torch.inference_mode()
def predict_plain_and_tta(model, images: torch.Tensor, mean: float, std: float, tta="tencrop",
                          batch_size: int = 256, progress=None, input_size: int | None = None):
    """(plain probabilities, TTA probabilities) of the same faces through the one forward pass (view_softmax),
    each view once: where the plain view is one of the TTA views (a crop-trained model's centre, the unflipped
    face of "flip") it is not computed twice. `tta` None: (plain, None). `progress(done, total)` counts faces."""
    model.eval()
    dev, layout = _device_and_layout(model)
    plain, averaged = [], []
    for i in range(0, len(images), batch_size):
        x = normalize(images[i:i + batch_size].to(dev), mean, std)
        per_view = view_softmax(model, x, tta, input_size, layout).float() if tta else None
        shared = per_view is not None and (tta == "flip" or int(input_size or x.shape[-1]) < x.shape[-1])
        plain.append((per_view[0] if shared else view_probs(model, x, None, input_size, layout).float()).cpu())
        if per_view is not None:
            averaged.append(per_view.mean(0).cpu())
        if progress:
            progress(min(i + batch_size, len(images)), len(images))
    empty = torch.empty(0)
    return (torch.cat(plain) if plain else empty), ((torch.cat(averaged) if averaged else empty) if tta else None)


def metrics_from_probs(probs, labels, classes) -> dict:
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    k = len(classes)
    pred = probs.argmax(1) if len(probs) else np.empty(0, dtype=np.int64)
    cm = np.zeros((k, k), dtype=np.int64)
    np.add.at(cm, (labels, pred), 1)
    tp = np.diag(cm).astype(np.float64)
    precision = np.divide(tp, cm.sum(0), out=np.zeros(k), where=cm.sum(0) > 0)
    recall = np.divide(tp, cm.sum(1), out=np.zeros(k), where=cm.sum(1) > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(k), where=(precision + recall) > 0)
    n = int(len(labels))
    nll = float(-np.log(np.clip(probs[np.arange(n), labels], 1e-12, 1)).mean()) if n else float("nan")
    return {
        "n": n,
        "accuracy": float(tp.sum() / n) if n else float("nan"),
        "loss": nll,
        "macro_f1": float(f1.mean()),
        "classes": list(classes),
        "confusion": cm.tolist(),
        "per_class": [{"class": c, "precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                      for c, p, r, f, s in zip(classes, precision, recall, f1, cm.sum(1))],
    }


def evaluate_model(model, images, labels, classes, mean, std, tta=None, batch_size=128, progress=None,
                   input_size: int | None = None) -> dict:
    probs = predict_probs(model, images, mean, std, tta, batch_size, progress, input_size)
    return {**metrics_from_probs(probs.numpy(), labels.cpu().numpy() if torch.is_tensor(labels) else labels, classes),
            "tta": tta}


def align_probs(probs, from_classes, to_classes, missing_as_zero: bool = False) -> np.ndarray:
    """Re-express probabilities over another class list, by name: reorder, keep the classes both have (a FER+
    model's contempt dropped for FER2013's seven, the rest renormalised), or fold emotions to stress. A class the
    model does not have raises, or with `missing_as_zero` gets probability 0 (a FER2013 model scored on FER+'s
    eight classes never answers contempt)."""
    probs = np.asarray(probs, dtype=np.float64)
    src = [canonical(c) for c in from_classes]
    dst = [canonical(c) for c in to_classes]
    if dst == list(STRESS_CLASSES) and src != dst:
        p_stress = stress_probability(probs, src)
        return np.stack([1 - p_stress, p_stress], -1)
    missing = set(dst) - set(src)
    if missing and not missing_as_zero:
        raise ValueError(f"the model has no class(es) {sorted(missing)} (it predicts {list(from_classes)})")
    out = np.zeros(probs.shape[:-1] + (len(dst),))
    have = [i for i, c in enumerate(dst) if c in src]
    out[..., have] = probs[..., [src.index(dst[i]) for i in have]]
    return out / np.clip(out.sum(-1, keepdims=True), 1e-12, None)


def predictor_probs(predictor, images, classes, batch_size: int = 256, progress=None) -> np.ndarray:
    """Any Predictor's (ours or DeepFace) probabilities on face crops, its classes matched to `classes` by name."""
    images = images.numpy() if torch.is_tensor(images) else np.asarray(images)
    if images.ndim == 4:
        images = images[:, 0]
    probs = []
    for i in range(0, len(images), batch_size):
        batch = list(images[i:i + batch_size])
        answer = checked_probs(predictor.predict(batch), len(batch), predictor.classes, getattr(predictor, "name", "?"))
        probs.append(align_probs(answer, predictor.classes, classes))
        if progress:
            progress(min(i + batch_size, len(images)), len(images))
    return np.concatenate(probs) if probs else np.zeros((0, len(classes)))


def evaluate_predictor(predictor, images, labels, classes, batch_size: int = 256, progress=None) -> dict:
    """Any Predictor (ours or DeepFace) on labelled face crops, its classes matched to the data's by name. A
    stress model on emotion labels is measured on the labels folded to stress (core.labels): its result's
    `classes` are then no_stress/stress and `folded` is True."""
    labels = labels.numpy() if torch.is_tensor(labels) else np.asarray(labels)
    classes, labels, folded = labels_for(predictor.classes, classes, labels)
    probs = predictor_probs(predictor, images, classes, batch_size, progress)
    return {**metrics_from_probs(probs, labels, classes), "model": getattr(predictor, "name", "?"), "folded": folded}


def labels_for(model_classes, classes, labels) -> tuple[tuple, np.ndarray, bool]:
    """(classes, labels, folded): the labels a model can be measured on. A stress model (no_stress/stress) on
    emotion labels gets them folded to stress (the stress emotions -> stress); any other model the labels as
    they are."""
    model = [canonical(c) for c in model_classes]
    data = [canonical(c) for c in classes]
    if is_stress_task(model) and not is_stress_task(data):
        return STRESS_CLASSES, stress_index(data)[np.asarray(labels, dtype=np.int64)], True
    return tuple(classes), np.asarray(labels), False


def mistakes(probs, labels, true: int | None = None, pred: int | None = None) -> np.ndarray:
    """The faces a model gets wrong (indices), its surest mistakes first: all of them, those of one true class
    (`true`), or one cell of the confusion matrix (`true` row, `pred` column; on the diagonal, the faces it gets
    right)."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    guess = probs.argmax(1) if len(probs) else np.empty(0, dtype=np.int64)
    keep = guess != labels if pred is None else guess == pred
    if true is not None:
        keep &= labels == true
    idx = np.flatnonzero(keep)
    return idx[np.argsort(-probs[idx].max(1), kind="stable")] if len(idx) else idx


class ModelOutputError(ValueError):
    """A model's answer that is no answer: probabilities that are not numbers (NaN, infinite), or not one row
    per face and one column per class."""


def checked_probs(raw, n: int, classes, name: str = "the model") -> np.ndarray:
    """`raw` as an (n, len(classes)) float64 array of finite numbers; ModelOutputError naming the model and
    what is wrong otherwise."""
    want = (int(n), len(classes))
    try:
        probs = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise ModelOutputError(f"{name} answered something that is not an array of probabilities "
                               f"({type(raw).__name__})") from None
    if probs.shape != want:
        raise ModelOutputError(f"{name} answered probabilities of shape {probs.shape}, not {want} (one row per "
                               f"face, one column per class of {', '.join(map(str, classes))})")
    finite = np.isfinite(probs).all(axis=1)
    if not finite.all():
        raise ModelOutputError(f"{name} answered NaN or infinite probabilities for {int((~finite).sum())} of "
                               f"{want[0]} face(s)")
    return probs
