"""Layer 3, two models on the same faces: is the difference between them real or noise?

Two accuracies a point apart say nothing by themselves; on the same faces the answer is in the pairing.
Each model's accuracy and macro-F1 get a 95% interval from a seeded bootstrap over faces, the paired
difference (B - A) its own interval from the same resamples, and McNemar's exact test looks only at the
faces where exactly one of the two is right. The verdict says which model is better only when both agree (p
under ALPHA and an interval that leaves out 0), and says so when they disagree. Many pairs at once (a table of
them) are judged on Holm's adjusted p-values: at 5% each, 36 pairs would call about two differences real by
chance alone. Plain numpy on labels and predictions: no model, no data set.
"""
from __future__ import annotations

import math

import numpy as np

N_BOOT = 2000
MIN_BOOT = 100  # fewer resamples give an interval that moves with the seed: not an interval
LEVEL = 0.95
ALPHA = 0.05


def confusion_stack(labels, pred, k: int, draws=None) -> np.ndarray:
    """Confusion matrices (B, k, k), rows true, one per bootstrap resample: `draws` (B, N) are the faces
    each resample drew (None: every face once, B = 1)."""
    codes = labels * k + pred
    if draws is None:
        return np.bincount(codes, minlength=k * k).reshape(1, k, k)
    b = len(draws)
    rows = (np.arange(b)[:, None] * k * k + codes[draws]).ravel()
    return np.bincount(rows, minlength=b * k * k).reshape(b, k, k)


def scores(cm: np.ndarray) -> dict:
    """Accuracy, per-class recall and F1, and macro-F1 of confusion matrices (..., k, k), as in
    core.evaluate.metrics_from_probs (an undefined F1 counts as 0)."""
    cm = cm.astype(np.float64)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    true, pred = cm.sum(-1), cm.sum(-2)
    n = true.sum(-1)
    f1 = np.divide(2 * tp, true + pred, out=np.zeros_like(tp), where=(true + pred) > 0)
    recall = np.divide(tp, true, out=np.zeros_like(tp), where=true > 0)
    return {"accuracy": tp.sum(-1) / np.maximum(n, 1), "macro_f1": f1.mean(-1), "f1": f1, "recall": recall}


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: under no difference, each discordant face is a fair coin toss."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1))
    return min(1.0, 2 * tail / 2 ** n)


def holm(pvalues) -> list[float]:
    """Holm's step-down adjustment of p-values tested together (in their order): the smallest times m, the next
    times m - 1, ..., each at least the one before and at most 1. An adjusted p under ALPHA keeps the chance of any
    false "significant" in the whole family under ALPHA."""
    p = np.asarray(pvalues, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    stepped = np.minimum(1.0, np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order]))
    out = np.empty(len(p))
    out[order] = stepped
    return out.tolist()


def _interval(samples: np.ndarray, level: float = LEVEL) -> list:
    lo, hi = np.percentile(samples, [50 * (1 - level), 50 * (1 + level)], axis=0)
    return [lo.tolist(), hi.tolist()] if np.ndim(lo) else [float(lo), float(hi)]


def verdict(name_a: str, name_b: str, diff: float, interval, p: float, alpha: float = ALPHA) -> str:
    """The comparison in one sentence, in accuracy points: one model is better only when McNemar's test (p) and
    the bootstrap interval of the difference agree; when one says "real" and the other does not, it says so."""
    lo, hi = interval
    excludes_zero = lo > 0 or hi < 0
    if p < alpha and excludes_zero:
        better, worse, d, lo, hi = (name_b, name_a, diff, lo, hi) if diff > 0 else (name_a, name_b, -diff, -hi, -lo)
        return (f"{better} is better than {worse} by {100 * d:.1f} points, 95% interval {100 * lo:.1f} to "
                f"{100 * hi:.1f}, p = {p:.2g}")
    said = (f"{name_b} - {name_a} = {100 * diff:+.1f} points, 95% interval {100 * lo:+.1f} to {100 * hi:+.1f}, "
            f"p = {p:.2g}")
    if p < alpha or excludes_zero:
        why = ("McNemar's test calls it significant but the bootstrap interval includes 0" if p < alpha else
               "the bootstrap interval leaves out 0 but McNemar's test does not call it significant")
        return f"no established difference between {name_a} and {name_b} (the two tests disagree: {why}): {said}"
    return f"no significant difference between {name_a} and {name_b}: {said}"


def compare_predictions(labels, pred_a, pred_b, classes, names=("A", "B"), n_boot: int = N_BOOT,
                        seed: int = 0) -> dict:
    """Everything the paired comparison says, as plain JSON-able data (no NaN). `pred_*` are class indices
    (or probabilities, N x k, whose argmax is taken); differences are B - A."""
    labels = np.asarray(labels, dtype=np.int64)
    pred_a, pred_b = (np.asarray(p).argmax(1) if np.ndim(p) == 2 else np.asarray(p, dtype=np.int64)
                      for p in (pred_a, pred_b))
    if int(n_boot) < 1:
        raise ValueError(f"the intervals need bootstrap resamples: at least {MIN_BOOT}, not {n_boot}")
    if not len(labels) or not (len(labels) == len(pred_a) == len(pred_b)):
        raise ValueError(f"a paired comparison needs the same faces, at least one: {len(labels)} labels, "
                         f"{len(pred_a)} and {len(pred_b)} predictions")
    k, n = len(classes), len(labels)
    right_a, right_b = pred_a == labels, pred_b == labels
    counts = {"both_right": int(np.sum(right_a & right_b)), "only_a": int(np.sum(right_a & ~right_b)),
              "only_b": int(np.sum(~right_a & right_b)), "both_wrong": int(np.sum(~right_a & ~right_b))}
    draws = np.random.default_rng(seed).integers(0, n, (n_boot, n))
    point = [scores(confusion_stack(labels, p, k)[0]) for p in (pred_a, pred_b)]
    boot = [scores(confusion_stack(labels, p, k, draws)) for p in (pred_a, pred_b)]
    out = {"names": list(names), "n": n, "classes": list(classes), "n_boot": n_boot, "seed": seed, "level": LEVEL,
           "counts": counts, "mcnemar_p": mcnemar_exact(counts["only_a"], counts["only_b"])}
    for key, (pt, bs) in zip(("a", "b"), zip(point, boot)):
        out[key] = {m: {"value": float(pt[m]), "interval": _interval(bs[m])} for m in ("accuracy", "macro_f1")}
    out["difference"] = {m: {"value": float(point[1][m] - point[0][m]), "interval": _interval(boot[1][m] - boot[0][m])}
                         for m in ("accuracy", "macro_f1")}
    f1_lo, f1_hi = _interval(boot[1]["f1"] - boot[0]["f1"])
    out["per_class"] = [{"class": c, "support": int(np.sum(labels == i)),
                         "recall_a": float(point[0]["recall"][i]), "recall_b": float(point[1]["recall"][i]),
                         "f1_a": float(point[0]["f1"][i]), "f1_b": float(point[1]["f1"][i]),
                         "f1_difference": float(point[1]["f1"][i] - point[0]["f1"][i]),
                         "f1_interval": [f1_lo[i], f1_hi[i]]} for i, c in enumerate(classes)]
    d = out["difference"]["accuracy"]
    out["verdict"] = verdict(names[0], names[1], d["value"], d["interval"], out["mcnemar_p"])
    return out

