"""From the per-frame table (frames.jsonl) to what a person reads about each face: when it was seen, the
share of its time in each emotion, its mean and peak P(stress), its longest stretch of stress, and how
often two models agree. A function of the rows, so the summary can always be recomputed from the table (and
a test can check that the two agree); `Summariser` computes it a row at a time, in memory that does not grow
with the number of rows (a recording may run for hours), and `summarise_tracks` is the same fed all at once.

Time, not frame counts: each analysed frame stands for the time until the next analysed frame (the last
one for the median step, or up to the clip's end), so a variable-frame-rate clip is weighed right. Steps are
counted to 0.1 ms, the precision frames.jsonl keeps times at, so the median needs no list of them.
"""
from __future__ import annotations

import copy
import math
from collections import Counter

import numpy as np

STEP_UNIT_S = 1e-4  # steps between frames are counted in these (frames.jsonl rounds times to 4 decimals)


def _median_step(steps: Counter) -> float:
    """The median of the steps counted (as statistics.median of the list they stand for), in seconds."""
    n = sum(steps.values())
    if not n:
        return 0.0
    lo, hi, seen = (n - 1) // 2, n // 2, 0
    low = None
    for step in sorted(steps):
        seen += steps[step]
        if low is None and seen > lo:
            low = step
        if seen > hi:
            return (low + step) / 2.0 * STEP_UNIT_S
    raise AssertionError("unreachable")


def _last_weight(typical: float, last_t: float, end_s: float | None) -> float:
    """Seconds the last analysed frame stands for: the typical step, or up to the clip's end if that is sooner."""
    if end_s is not None and end_s > last_t:
        return min(end_s - last_t, typical) if typical > 0 else end_s - last_t
    return typical


class _ModelSums:
    """One model's running figures for one track."""

    def __init__(self, classes: list):
        self.share = {c: 0.0 for c in classes}   # seconds per emotion
        self.conf_sum, self.conf_n = 0.0, 0
        self.ps_sum, self.ps_n = 0.0, 0
        self.peak: tuple | None = None            # (time, P(stress)) of the first highest
        self.stressed = 0.0                       # seconds called stress
        self.run, self.run_from, self.best, self.best_from = 0.0, None, 0.0, None  # the longest stress stretch

    def add(self, t: float, w: float, answer: dict) -> None:
        self.share[answer["emotion"]] = self.share.get(answer["emotion"], 0.0) + w
        self.conf_sum += answer["confidence"]
        self.conf_n += 1
        p = answer.get("p_stress")
        if isinstance(p, (int, float)) and math.isfinite(p):
            self.ps_sum += p
            self.ps_n += 1
            if self.peak is None or p > self.peak[1]:
                self.peak = (t, p)
        if answer.get("stress") == "stress":
            self.stressed += w
            if self.run_from is None:
                self.run_from = t
            self.run += w
            if self.run > self.best + 1e-9:
                self.best, self.best_from = self.run, self.run_from
        else:
            self.run, self.run_from = 0.0, None

    def summary(self, model: dict, seen: float) -> dict:
        total = seen or 1.0
        share = {c: v / total for c, v in self.share.items()}
        has_ps = self.ps_n > 0
        return {"name": model.get("name"), "emotion": max(share, key=share.get) if share else None,
                "share": {c: round(v, 4) for c, v in share.items()},
                "mean_confidence": round(self.conf_sum / self.conf_n, 4) if self.conf_n else None,
                "mean_p_stress": round(self.ps_sum / self.ps_n, 4) if has_ps else None,
                "peak_p_stress": round(float(self.peak[1]), 4) if has_ps else None,
                "peak_at_s": self.peak[0] if has_ps else None,
                "stress_share": round(self.stressed / total, 4) if has_ps else None,
                "longest_stress_s": round(self.best, 3) if has_ps else None, "longest_stress_from_s": self.best_from}


class _TrackSums:
    """One face's running figures: when it was seen, its biggest box, each model's sums, the agreement."""

    def __init__(self, models: list[dict]):
        self.meta = models
        self.first = self.last = None
        self.seen, self.frames = 0.0, 0
        self.box, self.area = None, -1.0
        self.models = [_ModelSums(list(m.get("classes") or [])) for m in models]
        self.agree, self.voted = 0.0, 0.0

    def add(self, t: float, w: float, face: dict, basis: str | None) -> None:
        self.first = t if self.first is None else self.first
        self.last = t
        self.seen += w
        self.frames += 1
        area = face["box"][2] * face["box"][3]
        if area > self.area:
            self.box, self.area = face["box"], area
        for m, sums in enumerate(self.models):
            sums.add(t, w, face["models"][m])
        if basis:
            vote = agrees(face, basis, models=self.meta)
            if vote is not None:
                self.voted += w
                self.agree += w if vote else 0.0

    def summary(self, track: int, models: list[dict], basis: str | None) -> dict:
        out = {"track": track, "first_s": round(self.first, 3), "last_s": round(self.last, 3),
               "seen_s": round(self.seen, 3), "frames": self.frames, "box": self.box,
               "models": [s.summary(model, self.seen) for s, model in zip(self.models, models)]}
        if basis:
            out["agreement"] = {"on": basis, "models": [models[0].get("name"), models[1].get("name")],
                                "share": round(self.agree / self.voted, 4) if self.voted else None}
        return out


class Summariser:
    """The per-track summary of analysed frames fed one at a time, in order (`add`); `tracks()` is what
    `summarise_tracks` gives for all the rows so far. A row's weight is the time to the next row, so the last
    one is held back until the next comes (or `tracks()` weighs it by the median step); nothing else of a row
    is kept: memory is one set of sums per face, whatever the length of the recording."""

    def __init__(self, models: list[dict]):
        self.models = list(models)
        self.basis = agreement_basis(self.models)
        self.rows = 0
        self._tracks: dict[int, _TrackSums] = {}   # in the order the faces appeared
        self._steps: Counter = Counter()            # positive steps between rows, in STEP_UNIT_S
        self._pending: tuple | None = None          # (time, faces) of the last row, its weight not known yet

    def add(self, row: dict) -> None:
        t = float(row["time_s"])
        if self._pending is not None:
            before, faces = self._pending
            if t > before:
                self._steps[int(round((t - before) / STEP_UNIT_S))] += 1
            self._apply(self._tracks, before, max(t - before, 0.0), faces)
        self._pending = (t, list(row.get("faces", [])))
        self.rows += 1

    def _apply(self, tracks: dict, t: float, w: float, faces: list) -> None:
        for face in faces:
            key = int(face["track"])
            if key not in tracks:
                tracks[key] = _TrackSums(self.models)
            tracks[key].add(t, w, face, self.basis)

    @property
    def track_count(self) -> int:
        return len(self._tracks) + (0 if self._pending is None else
                                    len({int(f["track"]) for f in self._pending[1]} - set(self._tracks)))

    def tracks(self, end_s: float | None = None) -> list[dict]:
        """One summary per track, in the order the tracks appeared; the last row weighed by the median step
        (or up to `end_s`, the clip's end, if that is sooner). The running sums are left as they are."""
        tracks = self._tracks
        if self._pending is not None:
            t, faces = self._pending
            held = {int(f["track"]) for f in faces}
            tracks = {k: copy.deepcopy(v) if k in held else v for k, v in tracks.items()}
            self._apply(tracks, t, _last_weight(_median_step(self._steps), t, end_s), faces)
        return [s.summary(track, self.models, self.basis) for track, s in tracks.items()]


def frame_weights(rows: list[dict], end_s: float | None = None) -> list[float]:
    """Seconds each analysed frame stands for (as `Summariser` weighs them)."""
    times = [float(r["time_s"]) for r in rows]
    if not times:
        return []
    steps = Counter(int(round((b - a) / STEP_UNIT_S)) for a, b in zip(times, times[1:]) if b > a)
    return [max(b - a, 0.0) for a, b in zip(times, times[1:])] + \
        [_last_weight(_median_step(steps), times[-1], end_s)]


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
    """One summary per track, in the order the tracks appeared (a Summariser fed every row)."""
    s = Summariser(models)
    for row in rows:
        s.add(row)
    return s.tracks(end_s)


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
