"""Class names and the emotion -> stress mapping, and the test-time augmentation modes' names, kept in one place
so every caller agrees. Layer 0 of the engine: imports nothing of core."""
from __future__ import annotations

import numpy as np

# FER2013's label order (the `emotion` column of fer2013.csv).
EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

# FER+'s eight emotions in our order: FER2013's seven, then contempt (which FER2013 never labels), so that a
# FER2013 model's outputs are the first seven of a FER+ model's.
FERPLUS_CLASSES: tuple[str, ...] = EMOTIONS + ("contempt",)

# The label sets a model can learn from FER2013's faces: FER2013's own label (one person's guess per face), or
# FER+'s ten annotators' votes (Barsoum et al., ICMI 2016); and the ways FER+'s votes become targets (the
# paper's four modes, as Microsoft's src/ferplus.py implements them).
LABEL_SETS: tuple[str, ...] = ("fer2013", "ferplus")
LABEL_MODES: tuple[str, ...] = ("majority", "probability", "crossentropy", "multi_target")

STRESS_CLASSES: tuple[str, ...] = ("no_stress", "stress")

# The stress-detection project's view: these emotions mean "stress"...
STRESS_EMOTIONS: frozenset[str] = frozenset({"angry", "fear", "sad"})
# ...and these "no stress", FER+'s contempt included: a cool, unaroused sneer at someone, not distress (as disgust).
NO_STRESS_EMOTIONS: frozenset[str] = frozenset({"disgust", "happy", "surprise", "neutral", "contempt"})

# Common spellings of the same classes, so labels from other tools map by name, not position.
ALIASES = {
    "anger": "angry", "angry": "angry", "mad": "angry",
    "disgust": "disgust", "disgusted": "disgust",
    "fear": "fear", "fearful": "fear", "scared": "fear", "afraid": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "surprised": "surprise",
    "neutral": "neutral", "calm": "neutral",
    "contempt": "contempt", "contemptuous": "contempt",
    "stress": "stress", "stressed": "stress",
    "no_stress": "no_stress", "no stress": "no_stress", "nostress": "no_stress",
    "no-stress": "no_stress", "not_stress": "no_stress", "relaxed": "no_stress",
}


def canonical(name: str) -> str:
    """Our spelling of a class name (case, spaces and synonyms folded)."""
    key = str(name).strip().lower()
    return ALIASES.get(key, ALIASES.get(key.replace(" ", "_"), key.replace(" ", "_")))


def display(name: str) -> str:
    """A class name as people write it ("no_stress" -> "no stress")."""
    return str(name).replace("_", " ")


def is_stress_task(classes) -> bool:
    """Whether these classes (a model's, a data set's, a card's) are the stress task: exactly stress and no stress,
    in either order and any spelling. The one rule every caller asks."""
    names = [canonical(c) for c in classes]
    return len(names) == 2 and set(names) == set(STRESS_CLASSES)


def task_of(classes) -> str:
    """"stress" for the stress task's classes, else "emotion"."""
    return "stress" if is_stress_task(classes) else "emotion"


def stress_index(classes, stress_emotions=None) -> np.ndarray:
    """For each class, 1 if it counts as stress, else 0 (NO_STRESS_EMOTIONS, and any class of a data set of its
    own, count as no stress). Stress emotions missing from the classes raise."""
    stress = {canonical(e) for e in (STRESS_EMOTIONS if stress_emotions is None else stress_emotions)}
    names = [canonical(c) for c in classes]
    unknown = stress - set(names)
    if unknown:
        raise ValueError(f"stress emotions {sorted(unknown)} are not among the classes {list(classes)}")
    return np.array([1 if n in stress else 0 for n in names], dtype=np.int64)


def stress_probability(probs, classes, stress_emotions=None) -> np.ndarray:
    """P(stress) = sum of the probabilities of the stress emotions; works on (C,) or (N, C)."""
    probs = np.asarray(probs, dtype=np.float64)
    return probs @ stress_index(classes, stress_emotions).astype(np.float64)


# Test-time augmentation, said once: the modes (None: the face as it is), how flags and menus spell them, how many
# views each averages, and how results name them
TTA_MODES = (None, "flip", "tencrop")
TTA_VIEWS = {None: 1, "flip": 2, "tencrop": 10}
TTA_LABELS = {None: "no TTA", "flip": "flip TTA", "tencrop": "ten-crop TTA"}


def tta_name(mode) -> str:
    """A mode as a flag or a menu spells it: "none", "flip", "tencrop"."""
    return mode or "none"


TTA_CHOICES = tuple(tta_name(m) for m in TTA_MODES)


def tta_mode(tta) -> str | None:
    """A test-time augmentation name as given by a page or a flag, checked: None, "flip" or "tencrop"."""
    tta = None if tta in (None, "", "none", "None") else str(tta)
    if tta not in TTA_MODES:
        raise ValueError(f"unknown test-time augmentation {tta!r}; use one of {TTA_CHOICES}")
    return tta
