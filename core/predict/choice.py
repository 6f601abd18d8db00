"""Which model a page starts on: the most accurate for Compare, the fastest good-enough one for the Webcam."""
from __future__ import annotations


from ..files import read_json
from .catalogue import ModelInfo, card_path, discover_models


def best_model(models: list[ModelInfo] | None = None, kind: str = "emotion", prefer_shipped: bool = True):
    """The usable model of `kind` that best agrees with people (shipped ones first, if any), or None: the highest
    accuracy on FER+'s test (ten people's votes per face; each emotion card measures it, whatever labels the model
    learned), else, for models without that figure, the highest accuracy of their own."""
    models = discover_models() if models is None else models
    ok = [m for m in models if not m.error and m.kind == kind]
    if prefer_shipped and any(m.source == "shipped" for m in ok):
        ok = [m for m in ok if m.source == "shipped"]
    if not ok:
        return None
    return max(ok, key=_agreement_rank)


def _agreement_rank(m: ModelInfo) -> tuple:
    """Sort key: models measured on FER+'s test first, by that accuracy; then the others by their own accuracy."""
    fp = saved_ferplus_accuracy(m.path)
    if fp is not None:
        return (1, fp)
    return (0, m.accuracy if m.accuracy is not None else -1.0)


def saved_ferplus_accuracy(path) -> float | None:
    """The model's accuracy on FER+'s official test (majority protocol), from its saved card's `ferplus` block."""
    card = read_json(card_path(path), None)
    block = card.get("ferplus") if isinstance(card, dict) else None
    v = block.get("accuracy") if isinstance(block, dict) else None
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def compare_models(models: list[ModelInfo] | None = None) -> list[ModelInfo]:
    """The models the Compare page starts with: our most accurate emotion model and our stress model,
    so DeepFace is first compared with the best we have, not the fastest (empty when no model is usable)."""
    models = discover_models() if models is None else models
    return [m for m in (best_model(models), best_model(models, kind="stress")) if m is not None]


# What a webcam model must reach on FER2013 PrivateTest (the accuracy bar for the real-time model).
WEBCAM_ACCURACY_BAR = 0.66
# Cards are timed on different days, and the same model's ms per face moves by up to about a fifth between
# them: models within this factor of the fastest count as equally fast, and the most accurate of them wins.
WEBCAM_SPEED_TIE = 1.25


def saved_latency_ms(path) -> float | None:
    """Milliseconds per face on 2 CPU threads, from the model's saved card (`<name>.card.json`), if any."""
    card = read_json(card_path(path), None)
    v = card.get("latency_ms_per_face_2_threads") if isinstance(card, dict) else None
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 else None


def webcam_model(models: list[ModelInfo] | None = None):
    """The model the Webcam page starts on: the fastest shipped emotion model (by its card's latency) that
    reaches the accuracy bar (WEBCAM_ACCURACY_BAR on FER2013's labels, or WEBCAM_FERPLUS_BAR for a model that
    learned FER+'s votes, on FER+'s test), the one that best agrees with people where several are about as fast
    (WEBCAM_SPEED_TIE; best_model's ranking); with none measured, the one with fewest parameters; with none at the
    bar, the first usable model. Face detection costs more per frame than any of our CNNs, so accuracy decides
    what users see, and speed only picks among models good enough."""
    models = discover_models() if models is None else models
    usable = [m for m in models if not m.error]
    good = [m for m in usable if m.source == "shipped" and m.kind == "emotion" and _good_enough(m)]
    timed = [(ms, m) for m in good if (ms := saved_latency_ms(m.path)) is not None]
    if timed:
        fastest = min(ms for ms, _ in timed)
        near = [m for ms, m in timed if ms <= fastest * WEBCAM_SPEED_TIE]
        return max(near, key=lambda m: (_agreement_rank(m), -m.params))
    if good:
        return min(good, key=lambda m: m.params)
    return usable[0] if usable else None


# What a webcam model that learned FER+'s votes must reach on FER+'s test (the FER2013 bar's counterpart: FER+'s
# labels are easier to agree with, a FER2013 model at the FER2013 bar scores about 70% there)
WEBCAM_FERPLUS_BAR = 0.80


def _good_enough(m: ModelInfo) -> bool:
    if m.labels == "ferplus":
        return (m.accuracy or 0.0) >= WEBCAM_FERPLUS_BAR
    return (m.accuracy or 0.0) >= WEBCAM_ACCURACY_BAR
