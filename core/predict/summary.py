"""What one model says about one face, in the words every page, the CLI and the video pipeline show: the
top class and its confidence, the stress verdict with its confidence, and P(stress). Computed here only."""
from __future__ import annotations

import numpy as np

from .stress import p_stress, stress_reading, stress_verdict


def face_summary(probs, classes, stress_emotions=None) -> dict:
    """{emotion, confidence, stress, stress_confidence, p_stress, stress_reading} for one face's probabilities.
    stress_reading says where the verdict comes from ("stress model", or "from emotions" for an emotion
    model's folded P(stress)). A model whose classes hold no stress emotions gets stress None and NaN figures."""
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    k = int(np.argmax(p))
    try:
        label, conf = stress_verdict(p, classes, stress_emotions)
        ps = float(p_stress(p, classes, stress_emotions))
    except ValueError:  # classes without the stress emotions
        label, conf, ps = None, float("nan"), float("nan")
    return {"emotion": str(classes[k]), "confidence": float(p[k]), "stress": label,
            "stress_confidence": float(conf), "p_stress": ps,
            "stress_reading": stress_reading(classes, stress_emotions) if label is not None else None}
