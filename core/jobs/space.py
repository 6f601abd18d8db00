"""What a search may search: each parameter's kind and default range (its label and allowed values are
TrainConfig's), a space checked in words, and a trial's draw from it (core.jobs.search runs the study)."""
from __future__ import annotations

import math

from ..config import TrainConfig, config_field

# what can be searched: its kind and the default range offered. Its label and the values it may take are
# TrainConfig's (core.config: the field's metadata and `validate`), said there once.
SEARCHABLE: dict[str, dict] = {
    "lr": dict(kind="float", default={"low": 1e-4, "high": 0.1, "log": True}),
    "weight_decay": dict(kind="float", default={"low": 1e-6, "high": 1e-2, "log": True}),
    "label_smoothing": dict(kind="float", default={"low": 0.0, "high": 0.2}),
    "dropout": dict(kind="float", default={"low": 0.0, "high": 0.5}),
    "momentum": dict(kind="float", default={"low": 0.8, "high": 0.95}),
    "erase": dict(kind="float", default={"low": 0.0, "high": 0.5}),
    "rotate": dict(kind="float", default={"low": 0.0, "high": 20.0}),
    "scale": dict(kind="float", default={"low": 0.0, "high": 0.2}),
    "shift": dict(kind="int", default={"low": 0, "high": 6}),
    "batch_size": dict(kind="categorical", default={"choices": [64, 128, 256]}),
    "optimizer": dict(kind="categorical", default={"choices": ["sgd", "adamw"]}),
    "schedule": dict(kind="categorical", default={"choices": ["cosine", "onecycle"]}),
    "model": dict(kind="categorical", default={"choices": ["mini_xception", "model48"]}),
    "width": dict(kind="categorical", default={"choices": [16, 32]}),
}
for _name, _spec in SEARCHABLE.items():
    _spec["label"] = config_field(_name).metadata["label"]
    _spec["bounds"] = tuple(v for v in (config_field(_name).metadata["bounds"] or (None, None, ""))[:2])
MAX_TRIALS = 1000  # a study's trials in one command, from the shell or the app
DEFAULT_PARAMS = ("lr", "weight_decay", "label_smoothing", "optimizer")


def default_space(models=None) -> dict:
    space = {k: dict(SEARCHABLE[k]["default"]) for k in DEFAULT_PARAMS}
    if models and len(models) > 1:
        space["model"] = {"choices": list(models)}
    return space


def validate_space(space: dict, fixed: dict | None = None) -> list[str]:
    """Every problem with a space at once, in words (empty list = fine)."""

    errs = []
    if not isinstance(space, dict):
        return ["the search space must be a mapping of parameter -> range or choices"]
    for name, spec in space.items():
        meta = SEARCHABLE.get(name)
        label = meta["label"] if meta else name
        if meta is None:
            errs.append(f"{name!r} cannot be searched; searchable: {', '.join(SEARCHABLE)}")
            continue
        if not isinstance(spec, dict):
            errs.append(f"{label}: give a range (low, high) or a list of choices")
            continue
        if meta["kind"] == "categorical" or "choices" in spec:
            choices = spec.get("choices")
            if not isinstance(choices, (list, tuple)) or not choices:
                errs.append(f"{label}: pick at least one choice")
                continue
            for c in choices:
                problem = _value_problem(name, c)
                if problem:
                    errs.append(f"{label}: {c!r} is not allowed ({problem})")
            continue
        try:
            low, high = float(spec["low"]), float(spec["high"])
        except (KeyError, TypeError, ValueError):
            errs.append(f"{label}: give numbers for low and high")
            continue
        if not (math.isfinite(low) and math.isfinite(high)) or low > high:
            errs.append(f"{label}: low must not be above high")
        elif spec.get("log") and low <= 0:
            errs.append(f"{label}: a log-uniform range must start above 0")
        else:
            problem = _value_problem(name, low) or _value_problem(name, high)
            if problem:
                errs.append(f"{label}: the range must lie within what a run takes ({problem})")
    for k in (fixed or {}):
        if k not in {f for f in TrainConfig.__dataclass_fields__} or k in ("data", "task", "epochs", "limit", "name"):
            errs.append(f"{k!r} cannot be fixed here")
    return errs


def _value_problem(name: str, value) -> str:
    """Why a run cannot take `value` for `name` (TrainConfig's own rules), or ""."""
    from ..models import list_models

    if name == "model":
        return "" if value in list_models() else f"unknown model {value!r}"
    try:
        kind = SEARCHABLE[name]["kind"]
        value = int(value) if kind == "int" and float(value).is_integer() else value
        errs = TrainConfig(**{name: value}).validate()
    except (TypeError, ValueError):
        return f"{value!r} is not a valid value"
    return errs[0] if errs else ""


def suggest(trial, name: str, spec: dict):
    meta = SEARCHABLE[name]
    if meta["kind"] == "categorical" or "choices" in spec:
        return trial.suggest_categorical(name, list(spec["choices"]))
    if meta["kind"] == "int":
        return trial.suggest_int(name, int(spec["low"]), int(spec["high"]))
    return trial.suggest_float(name, float(spec["low"]), float(spec["high"]), log=bool(spec.get("log")))
