"""Stress from emotions: P(stress) is the sum of the stress emotions' probabilities (core.labels), and any
emotion predictor (ours or DeepFace) can be asked as a stress predictor."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..labels import NO_STRESS_EMOTIONS, STRESS_CLASSES, STRESS_EMOTIONS, canonical, is_stress_task, stress_index, stress_probability
from .base import Predictor, checked_probs


class StressFromEmotion(Predictor):
    """Any emotion predictor (ours or DeepFace) seen as a stress predictor: P(stress) is the sum of
    the stress emotions' probabilities (core.labels.STRESS_EMOTIONS unless given)."""

    kind = "stress"

    def __init__(self, predictor: Predictor, stress_emotions=None):
        self.predictor = predictor
        self.stress_emotions = stress_emotions
        self.classes = STRESS_CLASSES
        self.source = getattr(predictor, "source", "?")
        self.name = f"{predictor.name} -> stress"
        self._passthrough = is_stress_task(predictor.classes)
        if not self._passthrough:
            stress_index(predictor.classes, stress_emotions)  # unknown stress emotions raise now

    def predict(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        probs = checked_probs(self.predictor.predict(crops), len(crops), self.predictor.classes, self.predictor.name)
        if len(probs) == 0:
            return np.zeros((0, 2), dtype=np.float64)
        if self._passthrough:
            return probs
        p = np.clip(stress_probability(probs, self.predictor.classes, self.stress_emotions), 0.0, 1.0)
        return np.stack([1.0 - p, p], axis=1)


def p_stress(probs, classes, stress_emotions=None) -> np.ndarray | float:
    """P(stress) of one row (C,) or of rows (N, C), for emotion and stress classes alike."""
    probs = np.asarray(probs, dtype=np.float64)
    names = [canonical(c) for c in classes]
    if is_stress_task(names):
        out = probs[..., names.index("stress")]
    else:
        out = stress_probability(probs, names, stress_emotions)
    return float(out) if np.ndim(out) == 0 else out


def stress_verdict(probs, classes, stress_emotions=None, threshold: float = 0.5) -> tuple[str, float]:
    """("stress" | "no_stress", confidence in that label) for one face's probabilities."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim == 2 and probs.shape[0] == 1:
        probs = probs[0]
    if probs.ndim != 1 or len(probs) != len(classes):
        raise ValueError(f"stress_verdict takes one row of {len(classes)} probabilities, got shape {probs.shape}")
    p = float(np.clip(p_stress(probs, classes, stress_emotions), 0.0, 1.0))
    return ("stress", p) if p >= threshold else ("no_stress", 1.0 - p)


# The two readings of stress a page may show side by side, and what each is, in the user's words.
FROM_EMOTIONS = "from emotions"
STRESS_MODEL = "stress model"


def stress_reading(classes, stress_emotions=None) -> str | None:
    """Where a model's stress verdict comes from: STRESS_MODEL (a model trained on stress vs no stress),
    FROM_EMOTIONS (an emotion model's P(stress) = the sum of its stress emotions), or None (neither)."""
    names = [canonical(c) for c in classes]
    if is_stress_task(names):
        return STRESS_MODEL
    try:
        stress_index(names, stress_emotions)
    except ValueError:
        return None
    return FROM_EMOTIONS


def stress_reading_note(stress_emotions=None) -> str:
    """One sentence telling the two readings apart, for a page that shows both."""
    emotions = " + ".join(f"P({e})" for e in sorted(STRESS_EMOTIONS if stress_emotions is None else stress_emotions))
    return (f"Two different readings of stress: *{FROM_EMOTIONS}* is an emotion model's {emotions} (the other "
            f"emotions, a FER+ model's contempt among them, count as no stress: {NO_STRESS_WORDS}); *{STRESS_MODEL}* "
            "is a model trained on stress vs no stress. They are separate measurements and can disagree.")


NO_STRESS_WORDS = ", ".join(sorted(NO_STRESS_EMOTIONS))
