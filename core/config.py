"""Layer 3: a training run's configuration, one dataclass of plain data, saved as the run's config.json."""
from __future__ import annotations

import json
import numbers
import re
from dataclasses import asdict, dataclass, field, fields

from .data.grey import GREY_STEPS
from .labels import LABEL_MODES, LABEL_SETS
from .models import list_models

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "onecycle", "plateau", "none")
TASKS = ("emotion", "stress")


def config_field(name: str):
    """The TrainConfig field `name` (its metadata: help, label, bounds)."""
    return next(f for f in fields(TrainConfig) if f.name == name)


def bounds_problem(f, value) -> str:
    """The message for a value outside field `f`'s bounds ("" when inside, or when the field has none or is unset)."""
    bounds = f.metadata.get("bounds")
    if not bounds or value is None or not isinstance(value, (int, float)):
        return ""
    low, high, kind = bounds
    ok = (low is None or (value >= low if kind[0] == "[" else value > low)) and \
         (high is None or (value <= high if kind[1] == "]" else value < high))
    if ok:
        return ""
    label = f.metadata.get("label") or f.name
    if high is None:
        return f"{label} must be {'>=' if kind[0] == '[' else '>'} {low}"
    if kind == "[]":
        return f"{label} must be between {low} and {high}"
    if kind == "(]":
        return f"{label} must be > {low} and <= {high}"
    return f"{label} must be in {kind[0]}{low}, {high}{kind[1]}"


def teacher_sources(teacher: str) -> list[str]:
    """The checkpoints a run's `teacher` names: one, or several separated by commas."""
    return [t.strip() for t in str(teacher or "").split(",") if t.strip()]

def _f(default, help: str, label: str = "", bounds: tuple | None = None, *, factory=None):
    """A TrainConfig field with what every reader of it needs, said once: its label and help (the CLI's flags,
    the Train page's form, the search space) and its bounds (`validate`, the form's limits, the search's)."""
    meta = {"help": help, "label": label, "bounds": bounds}
    return field(default_factory=factory, metadata=meta) if factory else field(default=default, metadata=meta)


# bounds: (low, high, "[]" closed, "[)" or "(]" half-open, "()" open); None on a side = no limit
@dataclass
class TrainConfig:
    data: str = _f("", "CSV or image folder; empty = the FER2013 copy found (core.data.default_data_path)", "data set")
    task: str = _f("emotion", "emotion (7 classes, or the folder's) or stress (the binary view)", "task")
    labels: str = _f("fer2013", "fer2013: FER2013's own label (one person's guess per face); ferplus: FER+'s ten "
                     "annotators' votes per face (8 classes, contempt added; fer2013new.csv beside the data set)",
                     "labels")
    label_mode: str = _f("majority", "how FER+'s votes become targets: majority (the top emotion, faces without a "
                         "majority dropped), probability (one label drawn from the votes each time), crossentropy (the "
                         "votes' distribution as a soft target) or multi_target (any emotion with 30% of the votes)",
                         "label mode")
    votes: str = _f("", "FER+'s fer2013new.csv; empty = found beside the data set, in data/ or ../shared", "votes file")
    grey: str = _f("none", "the grey-level step every face goes through, in training and in every prediction "
                   "after: none, or equalise (histogram equalisation, as the shipped models were trained)", "grey levels")
    model: str = _f("mini_xception", "the architecture (python -m core models)", "model")
    width: int | None = _f(None, "channels of the first block; empty = the architecture's default", "width",
                           (4, 512, "[]"))
    dropout: float | None = _f(None, "share of units switched off at random in training, against over-fitting",
                               "dropout", (0, 1, "[)"))
    image_size: int = _f(48, "the faces' size in pixels", "image size", (16, 256, "[]"))
    epochs: int = _f(30, "passes over the training images", "epochs", (1, 1000, "[]"))
    batch_size: int = _f(128, "images per step", "batch size", (1, 4096, "[]"))
    optimizer: str = _f("sgd", "SGD (Nesterov momentum), Adam or AdamW", "optimizer")
    lr: float = _f(0.05, "typical: 0.05 for SGD, 0.001 to 0.005 for Adam(W)", "learning rate", (0, 10, "(]"))
    momentum: float = _f(0.9, "used by SGD only", "momentum (SGD)", (0, 1, "[)"))
    weight_decay: float = _f(5e-4, "pulls weights towards 0 (not BatchNorm or biases)", "weight decay", (0, 1, "[)"))
    schedule: str = _f("cosine", "cosine: decays smoothly after a warm-up; onecycle: up then down; plateau: halves "
                       "when validation stalls; none: constant", "schedule")
    warmup_epochs: float = _f(1.0, "the learning rate climbs from 0 during these epochs", "warm-up epochs")
    label_smoothing: float = _f(0.1, "softens the targets: FER2013's labels are noisy, 0.1 helps", "label smoothing",
                                (0, 1, "[)"))
    init: str = _f("", "start from a trained checkpoint's weights (same architecture and classes) instead of "
                   "random ones: fine-tuning", "start from")
    teacher: str = _f("", "also learn the soft answers of a trained teacher (a checkpoint path or model name; "
                      "several, comma-separated: their average answer)", "teacher")
    distill: float = _f(0.5, "share of the loss from the teacher's answers; the labels get the rest",
                        "distillation weight", (0, 1, "[]"))
    temperature: float = _f(4.0, "softens both distributions; the KL term is scaled by T^2", "distillation temperature",
                            (0.5, 20, "[]"))
    # augmentation, applied to whole batches on the tensors
    flip: bool = _f(True, "mirror left-right", "flip")
    shift: int = _f(4, "random translation, pixels (at most a quarter of the image)", "shift (pixels)", (0, 64, "[]"))
    rotate: float = _f(10.0, "random rotation, degrees either way", "rotation (degrees)", (0, 45, "[]"))
    scale: float = _f(0.1, "random zoom, +- this share", "scale", (0, 0.5, "[]"))
    erase: float = _f(0.25, "probability of blanking a random patch", "erase probability", (0, 1, "[]"))
    crop: int = _f(0, "train on random crops of this size (e.g. 40 of 48), test on the centre; 0 = off", "crop")
    mixup: float = _f(0.0, "mixup's Beta(alpha, alpha); 0 = off, 0.2 is usual", "mixup alpha", (0, 5, "[]"))
    cutmix: float = _f(0.0, "CutMix's Beta(alpha, alpha); 0 = off (both on: each batch takes one)", "cutmix alpha",
                       (0, 5, "[]"))
    channels_last: bool = _f(True, "NHWC memory layout where every layer is safe in it (faster on CPU and GPU)",
                             "channels last")
    amp: bool = _f(True, "bf16 autocast on a CUDA GPU or a CPU with bf16 in hardware (else float32)", "bf16")
    seed: int = _f(0, "same seed, same settings: the same run", "seed")
    threads: int = _f(0, "CPU threads; 0 = all cores", "threads", (0, 256, "[]"))
    device: str = _f("auto", "auto = a CUDA GPU if there is one, else the CPU; or cpu, cuda, cuda:N", "device")
    val_fraction: float = _f(0.1, "folder data sets without a val/ folder: the share of train set aside",
                             "validation fraction", (0, 0.5, "()"))
    limit: int = _f(0, "use only this many training images (0 = all): quick tries", "limit", (0, None, "[]"))
    tencrop_test: bool = _f(True, "after the last epoch, also test the best weights on ten crops of every face (ten "
                            "more passes over the test split: minutes on a CPU)", "ten-crop test")
    name: str = _f("", "what the user called the run", "name")
    recipe: str = _f("", "the recipe it started from", "recipe")
    extra: dict = _f(None, "anything else a caller keeps with the run", "extra", factory=dict)

    def validate(self) -> list[str]:
        """Every problem at once, in words a user can act on (empty list = fine)."""
        errs = []
        for name, choices in (("model", list_models()), ("task", TASKS), ("optimizer", OPTIMIZERS),
                              ("schedule", SCHEDULES), ("labels", LABEL_SETS), ("label_mode", LABEL_MODES),
                              ("grey", GREY_STEPS)):
            if getattr(self, name) not in choices:
                errs.append(f"{name} must be one of {', '.join(choices)}")
        errs += [msg for f in fields(self) if (msg := bounds_problem(f, getattr(self, f.name)))]
        checks = [
            (0 <= self.warmup_epochs <= max(self.epochs, 1), "warm-up must not be longer than the run"),
            (0 <= self.shift <= self.image_size // 4, "shift must be between 0 and a quarter of the image"),
            (self.crop == 0 or 16 <= self.crop <= self.image_size, "crop must be 0 (off) or between 16 and the image size"),
        ]
        errs += [msg for ok, msg in checks if not ok]
        if not (self.device in ("auto", "cpu", "cuda") or re.fullmatch(r"cuda:\d+", self.device or "")):
            errs.append("device must be auto, cpu, cuda or cuda:N")
        return errs

    @property
    def input_size(self) -> int:
        """What the network sees: the crop, or the whole face."""
        return int(self.crop or self.image_size)

    def model_kwargs(self) -> dict:
        from .models import model_defaults

        kw = {k: v for k, v in (("width", self.width), ("dropout", self.dropout)) if v is not None}
        if "input_size" in model_defaults(self.model):  # a dense head sized by its input
            kw["input_size"] = self.input_size
        return kw

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """A config from JSON (a run's config.json, a --config file): ValueError naming every unknown key and
        every value of the wrong type, so a damaged file is said, not met later as a traceback."""
        if not isinstance(d, dict):
            raise ValueError(f"a config must be a JSON object, not {type(d).__name__}")
        known = {f.name: f.type for f in fields(cls)}
        unknown = set(d) - set(known)
        values, errs = {}, [f"unknown config key(s): {', '.join(sorted(unknown))}"] if unknown else []
        for key, value in d.items():
            if key in unknown:
                continue
            ok, value = _typed(value, known[key])
            values[key] = value
            if not ok:
                errs.append(f"{key} must be {_TYPE_WORDS[known[key].split(' ')[0]]}, not {value!r}")
        if errs:
            raise ValueError("; ".join(errs))
        return cls(**values)


_TYPE_WORDS = {"str": "text", "int": "a whole number", "float": "a number", "bool": "true or false",
               "dict": "an object"}


def _typed(value, annotation: str):
    """(fits, the value): `annotation` as the dataclass writes it ("int", "float | None"); an int is a float, a
    whole float an int (30.0 epochs is 30), a bool neither."""
    if value is None:
        return annotation.endswith("| None"), value
    kind = annotation.split(" ")[0]
    number = isinstance(value, numbers.Real) and not isinstance(value, bool)  # numpy's numbers too
    if kind == "int" and number and float(value).is_integer():
        return True, int(value)
    if kind == "float" and number:
        return True, value if isinstance(value, (int, float)) else float(value)
    fits = {"str": isinstance(value, str), "bool": isinstance(value, bool), "dict": isinstance(value, dict)}
    return fits.get(kind, False), value
