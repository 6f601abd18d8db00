"""What a checkpoint says about its model, beside the weights, as one typed record (as timm's `PretrainedCfg`):
the architecture, the class names, the input and face sizes, the normalisation, the metrics and the
calibration. It owns its defaults (an older checkpoint without `face_size` cuts faces at its input size,
one without `temperature` is uncalibrated) and its validation: every reader (predictors, Grad-CAM,
distillation, evaluation) trusts its fields, and every writer (training, ship, quantize, card) goes through it.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass, field

from ..data.grey import GREY_STEPS
from ..labels import EMOTIONS, LABEL_SETS, STRESS_CLASSES, TTA_MODES, tta_name

# what only training needs (to resume): dropped from a shipped model, an int8 copy, a model's description
TRAINING_KEYS = ("optimizer", "scheduler", "rng", "torch_rng", "sums", "history")
_NOT_META = ("format", "state_dict", *TRAINING_KEYS)
DEFAULT_INPUT_SIZE = 48
_TTA_VIEWS = tuple(tta_name(m) for m in TTA_MODES if m)  # the averaged views a temperature may be fitted for


class MetaError(ValueError):
    """A checkpoint description with a missing or impossible field; the message names the field and its value."""


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _size(v, lo=8, hi=512) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


@dataclass(frozen=True)
class CheckpointMeta:
    """A checkpoint's description. `face_size` is the face a crop is cut at, `input_size` what the network sees
    (its centre crop, when smaller); `temperature` is None for a checkpoint never calibrated, else the one fitted on
    the plain view, and `tta_temperatures` those fitted on a test-time augmentation's averaged probabilities
    ("flip", "tencrop"), where they were (core.calibration). `extra` keeps any
    other key a checkpoint carries (a run's epoch, best accuracy) as it was; `path` is where it was read from."""
    model: str
    classes: tuple[str, ...]
    mean: float
    std: float
    model_kwargs: dict = field(default_factory=dict)
    input_size: int = DEFAULT_INPUT_SIZE
    face_size: int | None = None
    in_chans: int = 1
    metrics: dict = field(default_factory=dict)
    temperature: float | None = None
    tta_temperatures: dict = field(default_factory=dict)
    grey: str = "none"
    labels: str | None = None
    quantized: dict | None = None
    run_id: str | None = None
    training: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    path: str = field(default="", compare=False)

    def __post_init__(self):
        for name, kind, to in (("mean", numbers.Real, float), ("std", numbers.Real, float),
                               ("temperature", numbers.Real, float), ("input_size", numbers.Integral, int),
                               ("face_size", numbers.Integral, int), ("in_chans", numbers.Integral, int)):
            v = getattr(self, name)
            if isinstance(v, kind) and not isinstance(v, bool):  # numpy's numbers, as plain ones
                object.__setattr__(self, name, to(v))
        if self.face_size is None:  # an older checkpoint (or a model trained on whole faces)
            object.__setattr__(self, "face_size", self.input_size)
        object.__setattr__(self, "classes", tuple(self.classes) if isinstance(self.classes, (list, tuple))
                           else self.classes)
        if isinstance(self.tta_temperatures, dict):  # numpy's numbers, as plain ones
            object.__setattr__(self, "tta_temperatures", {k: float(v) if isinstance(v, numbers.Real) and not
                                                          isinstance(v, bool) else v
                                                          for k, v in self.tta_temperatures.items()})
        problem = self.problem()
        if problem:
            raise MetaError(problem)

    @classmethod
    def from_state(cls, state: dict, path="") -> "CheckpointMeta":
        """The description in a checkpoint's dict (what `torch.load` gives), its missing fields defaulted;
        MetaError naming the first field that cannot be right."""
        if not isinstance(state, dict):
            raise MetaError("a checkpoint is a dict of its fields and weights")
        names = {f.name for f in dataclasses.fields(cls)} - {"extra", "path"}
        given = {k: state[k] for k in names if k in state and (state[k] is not None or k == "face_size")}
        for k in ("model", "classes", "mean", "std"):
            if k not in given:
                raise MetaError(f"{_WHY[k]} (it says nothing: the field is missing)")
        extra = {k: v for k, v in state.items() if k not in names and k not in _NOT_META}
        return cls(**given, extra=extra, path=str(path))

    @classmethod
    def for_model(cls, model, **fields) -> "CheckpointMeta":
        """The description of a model of ours (core.models.create_model): its architecture and arguments."""
        return cls(model=model.model_name, model_kwargs=dict(model.model_kwargs), **fields)

    def to_state(self) -> dict:
        """The fields as a checkpoint stores them (plain lists and dicts; unset optional ones left out)."""
        out = {"model": self.model, "model_kwargs": dict(self.model_kwargs), "classes": list(self.classes),
               "input_size": int(self.input_size), "in_chans": int(self.in_chans), "mean": float(self.mean),
               "std": float(self.std), "metrics": dict(self.metrics)}
        if self.face_size != self.input_size:
            out["face_size"] = int(self.face_size)
        optional = {"config": self.config, "training": self.training, "run_id": self.run_id,
                    "quantized": self.quantized, "temperature": self.temperature, "labels": self.labels,
                    "tta_temperatures": self.tta_temperatures}
        if self.grey != "none":
            out["grey"] = self.grey
        out.update({k: v for k, v in optional.items() if v not in (None, {})})
        return {**out, **self.extra}

    def replace(self, **changes) -> "CheckpointMeta":
        return dataclasses.replace(self, **changes)

    @property
    def calibrated(self) -> bool:
        """Whether a temperature was fitted (core.calibration); an older checkpoint's confidences are raw."""
        return self.temperature is not None

    @property
    def label_set(self) -> str:
        """Which labels the model learned: "ferplus" (FER+'s votes), "fer2013" (FER2013's own labels; an older
        checkpoint of FER2013's classes, or their stress view), or "" (a data set of its own)."""
        if self.labels:
            return self.labels
        names = set(self.classes)
        if "contempt" in names:
            return "ferplus"
        return "fer2013" if names <= set(EMOTIONS) | set(STRESS_CLASSES) else ""

    @property
    def scale(self) -> float:
        """The temperature its probabilities are divided at: the fitted one, else 1."""
        return float(self.temperature) if self.temperature is not None else 1.0

    def scale_for(self, tta=None) -> float:
        """The temperature a view's probabilities are divided at: the view's own where one was fitted, else the
        plain view's (fitted on single faces: closer than none), else 1."""
        return float(self.tta_temperatures.get(tta_name(tta), self.scale)) if tta else self.scale

    def calibrated_for(self, tta=None) -> bool:
        """Whether a temperature was fitted on this view's probabilities (the plain view, or a TTA's average)."""
        return tta_name(tta) in self.tta_temperatures if tta else self.calibrated

    @property
    def quantized_from(self) -> str | None:
        """The float checkpoint an int8 copy was made from (its file name), or None."""
        return (self.quantized or {}).get("source")

    def problem(self) -> str:
        """What cannot be right ("" when nothing), naming the field: the sizes, the classes and the normalisation
        are trusted further on (an input size of 30000 would cost gigabytes per face, a std of 0 divides by zero)."""
        kw = self.model_kwargs
        checks = [
            ("model", isinstance(self.model, str) and bool(self.model)),
            ("model_kwargs", isinstance(kw, dict)),
            ("classes", isinstance(self.classes, tuple) and 1 <= len(self.classes) <= 1000
             and all(isinstance(c, str) for c in self.classes)),
            ("input_size", _size(self.input_size)),
            ("face_size", _size(self.face_size) and self.face_size >= self.input_size if _size(self.input_size)
             else _size(self.face_size)),
            ("in_chans", self.in_chans in (1, 3) and not isinstance(self.in_chans, bool)),
            ("mean", _number(self.mean)),
            ("std", _number(self.std) and 1e-6 < self.std < 1e6),
            ("metrics", isinstance(self.metrics, dict)),
            ("temperature", self.temperature is None or (_number(self.temperature) and self.temperature > 0)),
            ("tta_temperatures", isinstance(self.tta_temperatures, dict) and all(
                k in _TTA_VIEWS and _number(v) and v > 0 for k, v in self.tta_temperatures.items())),
            ("grey", self.grey in GREY_STEPS),
            ("labels", self.labels is None or self.labels in LABEL_SETS),
            ("quantized", self.quantized is None or isinstance(self.quantized, dict)),
        ]
        if isinstance(kw, dict):
            checks += [("model_kwargs.input_size", _size(kw.get("input_size", DEFAULT_INPUT_SIZE))),
                       ("model_kwargs.width", _size(kw.get("width", 16), 1, 1024))]
        bad = next((name for name, ok in checks if not ok), None)
        return f"{_WHY[bad]} (it says {self._said(bad)})" if bad else ""

    def _said(self, name: str) -> str:
        owner, _, key = name.rpartition(".")
        value = getattr(self, owner).get(key) if owner else getattr(self, name)
        return repr(list(value) if isinstance(value, tuple) else value)[:60]


_WHY = {
    "model": "model must be an architecture's name",
    "model_kwargs": "model_kwargs must be an object",
    "classes": "classes must be 1 to 1000 names",
    "input_size": "input_size must be a whole number from 8 to 512",
    "face_size": "face_size must be a whole number from 8 to 512, at least input_size",
    "in_chans": "in_chans must be 1 or 3",
    "mean": "mean must be a finite number",
    "std": "std must be a positive number",
    "metrics": "metrics must be an object",
    "temperature": "temperature must be a positive number",
    "tta_temperatures": "tta_temperatures must map flip or tencrop to a positive number",
    "grey": f"grey must be one of {', '.join(GREY_STEPS)}",
    "labels": f"labels must be one of {', '.join(LABEL_SETS)}",
    "quantized": "quantized must be an object",
    "model_kwargs.input_size": "model_kwargs.input_size must be a whole number from 8 to 512",
    "model_kwargs.width": "model_kwargs.width must be a whole number from 1 to 1024",
}
