"""From the per-frame table (frames.jsonl) to what a person reads about each face: when it was seen, the
share of its time in each emotion, its mean and peak P(stress), its longest stretch of stress, and how
often two models agree. Pure functions of the rows, so the summary can always be recomputed from the
table (and a test can check that the two agree).

Time, not frame counts: each analysed frame stands for the time until the next analysed frame (the last
one for the median step, or up to the clip's end), so a variable-frame-rate clip is weighed right.
"""
from __future__ import annotations

import math
import statistics

import numpy as np


def frame_weights(rows: list[dict], end_s: float | None = None) -> list[float]:
    """Seconds each analysed frame stands for."""
    times = [float(r["time_s"]) for r in rows]
    if not times:
        return []
    steps = [b - a for a, b in zip(times, times[1:]) if b > a]
    typical = statistics.median(steps) if steps else 0.0
    last = typical
    if end_s is not None and end_s > times[-1]:
        last = min(end_s - times[-1], typical) if typical > 0 else end_s - times[-1]
    return [max(b - a, 0.0) for a, b in zip(times, times[1:])] + [last]


def track_rows(rows: list[dict], weights: list[float] | None = None):
    """track id -> [(time_s, weight, face)] in time order."""
    weights = frame_weights(rows) if weights is None else weights
    out: dict[int, list] = {}
    for row, w in zip(rows, weights):
        for face in row.get("faces", []):
            out.setdefault(int(face["track"]), []).append((float(row["time_s"]), w, face))
    return out


def _longest_stress(items, m: int) -> tuple[float, float | None]:
    """(seconds, start) of the longest run of consecutive frames this model calls stress."""
    best, best_from, run, run_from = 0.0, None, 0.0, None
    for t, w, face in items:
        if face["models"][m].get("stress") == "stress":
            if run_from is None:
                run_from = t
            run += w
            if run > best + 1e-9:
                best, best_from = run, run_from
        else:
            run, run_from = 0.0, None
    return best, best_from


def _model_summary(items, m: int, model: dict) -> dict:
    classes = list(model.get("classes") or [])
    total = sum(w for _, w, _ in items) or 1.0
    share = {c: 0.0 for c in classes}
    for _, w, face in items:
        share[face["models"][m]["emotion"]] = share.get(face["models"][m]["emotion"], 0.0) + w / total
    ps = [(t, face["models"][m].get("p_stress")) for t, _, face in items]
    ps = [(t, p) for t, p in ps if isinstance(p, (int, float)) and math.isfinite(p)]
    conf = [face["models"][m]["confidence"] for _, _, face in items]
    longest, longest_from = _longest_stress(items, m)
    peak = max(ps, key=lambda x: x[1]) if ps else (None, None)
    stressed = sum(w for _, w, face in items if face["models"][m].get("stress") == "stress")
    return {"name": model.get("name"), "emotion": max(share, key=share.get) if share else None,
            "share": {c: round(v, 4) for c, v in share.items()},
            "mean_confidence": round(float(np.mean(conf)), 4) if conf else None,
            "mean_p_stress": round(float(np.mean([p for _, p in ps])), 4) if ps else None,
            "peak_p_stress": round(float(peak[1]), 4) if ps else None, "peak_at_s": peak[0],
            "stress_share": round(stressed / total, 4) if ps else None,
            "longest_stress_s": round(longest, 3) if ps else None, "longest_stress_from_s": longest_from}


def agreement_basis(models: list[dict]) -> str | None:
    """What two models can agree on: the emotion when both answer emotions (a FER+ model's contempt and a FER2013
    model's seven: the emotions they share), else the stress verdict."""
    if len(models) < 2:
        return None
    a, b = (set(m.get("classes") or []) for m in models[:2])
    if a == b or (len(a & b) >= 2 and not ({"stress", "no_stress"} & (a | b))):
        return "emotion"
    return "stress"


def agrees(face: dict, basis: str, a: int = 0, b: int = 1, models: list[dict] | None = None) -> bool | None:
    """Whether models a and b say the same about this face (None if either says nothing); on emotions, among the
    classes both have when `models` says their classes differ."""
    ma, mb = face["models"][a], face["models"][b]
    key = "emotion" if basis == "emotion" else "stress"
    if ma.get(key) is None or mb.get(key) is None:
        return None
    if key == "emotion" and models is not None:
        ca, cb = (list(m.get("classes") or []) for m in (models[a], models[b]))
        if ca != cb:
            shared = [c for c in ca if c in cb]
            return _shared_top(ma, ca, shared) == _shared_top(mb, cb, shared)
    return ma[key] == mb[key]


def _shared_top(answer: dict, classes: list, shared: list) -> str | None:
    """A model's answer among the classes `shared` (its own where shared, else its likeliest shared class)."""
    if answer.get("emotion") in shared:
        return answer["emotion"]
    probs = answer.get("probs") or []
    scored = [(probs[classes.index(c)], c) for c in shared if classes.index(c) < len(probs)]
    return max(scored)[1] if scored else None


def summarise_tracks(rows: list[dict], models: list[dict], end_s: float | None = None) -> list[dict]:
    """One summary per track, in the order the tracks appeared."""
    weights = frame_weights(rows, end_s)
    basis = agreement_basis(models)
    out = []
    for track, items in track_rows(rows, weights).items():
        first, last = items[0][0], items[-1][0]
        best = max(items, key=lambda x: x[2]["box"][2] * x[2]["box"][3])
        summary = {"track": track, "first_s": round(first, 3), "last_s": round(last, 3),
                   "seen_s": round(sum(w for _, w, _ in items), 3), "frames": len(items),
                   "box": best[2]["box"], "models": [_model_summary(items, m, model) for m, model in enumerate(models)]}
        if basis:
            votes = [(w, agrees(face, basis, models=models)) for _, w, face in items]
            votes = [(w, v) for w, v in votes if v is not None]
            total = sum(w for w, _ in votes)
            summary["agreement"] = {"on": basis, "models": [models[0].get("name"), models[1].get("name")],
                                    "share": round(sum(w for w, v in votes if v) / total, 4) if total else None}
        out.append(summary)
    return out


def table_rows(rows: list[dict], models: list[dict]) -> list[dict]:
    """The per-frame table flattened, one dict per (frame, face, model): what the CSV download holds."""
    out = []
    for row in rows:
        for face in row.get("faces", []):
            x, y, w, h = face["box"]
            for m, model in enumerate(models):
                r = face["models"][m]
                item = {"time_s": row["time_s"], "frame": row["frame"], "track": face["track"], "x": x, "y": y,
                        "w": w, "h": h, "model": model.get("name"), "emotion": r["emotion"],
                        "confidence": r["confidence"], "stress": r.get("stress"), "p_stress": r.get("p_stress")}
                item.update({f"p_{c}": p for c, p in zip(model.get("classes") or [], r["probs"])})
                out.append(item)
    return out


def faces_at(rows: list[dict], time_s: float) -> dict | None:
    """The analysed frame shown at `time_s`: the last one at or before it (the first, before the first)."""
    if not rows:
        return None
    times = [float(r["time_s"]) for r in rows]
    i = int(np.searchsorted(times, time_s + 1e-6, side="right")) - 1
    return rows[max(i, 0)]
