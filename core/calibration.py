"""Layer 3, confidence that means what it says: when a model says 87%, is it right 87% of the time?

Expected calibration error (ECE, equal-width confidence bins) and the reliability diagram's data, and
temperature scaling: one scalar T, fitted by minimising the negative log-likelihood on the selection split
(PublicTest, never PrivateTest), that softens (T > 1) or sharpens (T < 1) every answer. T is applied to
log-probabilities, softmax(log p / T): for one view that is softmax(logits / T), and the order of the
classes of every face, so every prediction and every accuracy, stays exactly as it was, TTA included.

A temperature belongs to the view it was fitted on: the mirror average (flip TTA) or ten crops are less sure of
themselves than one view, so each test-time augmentation gets its own (CheckpointMeta.tta_temperatures). One
fitted on fewer than MIN_FIT_FACES faces is mostly noise: the report says so.
"""
from __future__ import annotations

import numpy as np

BINS = 15
MIN_FIT_FACES = 100


def fit_warning(faces: int) -> str | None:
    """What to say about a temperature fitted on `faces` faces: None when they are enough."""
    if faces >= MIN_FIT_FACES:
        return None
    return (f"the temperature was fitted on only {faces} PublicTest face{'s' * (faces != 1)} (fewer than "
            f"{MIN_FIT_FACES}): it is mostly noise")


def apply_temperature(probs, temperature: float = 1.0) -> np.ndarray:
    """Probabilities (N x k) at temperature T: softmax(log p / T); T = 1 (old checkpoints) leaves them."""
    probs = np.asarray(probs, dtype=np.float64)
    if temperature == 1.0 or not len(probs):
        return probs
    z = np.log(np.clip(probs, 1e-300, None)) / float(temperature)
    z -= z.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


def reliability(probs, labels, bins: int = BINS) -> list[dict]:
    """Per confidence bin ((lo, hi], equal width): its faces, their mean confidence and their accuracy
    (None in an empty bin): the reliability diagram's points."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    conf = probs.max(1) if len(probs) else np.empty(0)
    right = probs.argmax(1) == labels if len(probs) else np.empty(0, dtype=bool)
    which = np.clip(np.ceil(conf * bins).astype(np.int64) - 1, 0, bins - 1)
    out = []
    for b in range(bins):
        m = which == b
        n = int(m.sum())
        out.append({"lo": b / bins, "hi": (b + 1) / bins, "count": n,
                    "confidence": float(conf[m].mean()) if n else None,
                    "accuracy": float(right[m].mean()) if n else None})
    return out


def ece(probs, labels, bins: int = BINS) -> float:
    """Expected calibration error: the faces' share-weighted gap between confidence and accuracy per bin."""
    table = reliability(probs, labels, bins)
    n = sum(r["count"] for r in table)
    return float(sum(r["count"] * abs(r["confidence"] - r["accuracy"]) for r in table if r["count"]) / n) if n else 0.0


def nll(probs, labels) -> float:
    probs = np.asarray(probs, dtype=np.float64)
    return float(-np.log(np.clip(probs[np.arange(len(probs)), np.asarray(labels)], 1e-300, None)).mean())


def fit_temperature(probs, labels, lo: float = 0.05, hi: float = 20.0, steps: int = 80) -> float:
    """The T that minimises the NLL of softmax(log p / T) on these faces. The NLL is convex in 1 / T, so a
    golden-section search over 1 / T finds its minimum without gradients (or scipy)."""
    logp = np.log(np.clip(np.asarray(probs, dtype=np.float64), 1e-300, None))
    labels = np.asarray(labels, dtype=np.int64)
    if not len(logp):
        return 1.0
    picked = logp[np.arange(len(logp)), labels]

    def loss(beta: float) -> float:
        z = logp * beta
        top = z.max(1)
        return float(np.mean(top + np.log(np.exp(z - top[:, None]).sum(1)) - beta * picked))

    g = (np.sqrt(5) - 1) / 2
    a, b = 1 / hi, 1 / lo
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = loss(c), loss(d)
    for _ in range(steps):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = loss(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = loss(d)
    return float(2 / (a + b))


def calibration_report(fit_probs, fit_labels, probs, labels, bins: int = BINS) -> dict:
    """T fitted on one split (`fit_*`), ECE and NLL before and after on another, and both diagrams' data; with
    how many faces T was fitted on, and a warning (else None) when they are too few."""
    t = fit_temperature(fit_probs, fit_labels)
    cal = apply_temperature(probs, t)
    faces = len(fit_labels)
    return {"temperature": t, "fit_faces": faces, "warning": fit_warning(faces),
            "ece": ece(probs, labels, bins), "ece_calibrated": ece(cal, labels, bins),
            "nll": nll(probs, labels), "nll_calibrated": nll(cal, labels), "bins": bins,
            "reliability": reliability(probs, labels, bins), "reliability_calibrated": reliability(cal, labels, bins)}
