"""Layer 3: a training run's configuration, one dataclass of plain data, saved as the run's config.json."""
from __future__ import annotations

import json
import numbers
import re
from dataclasses import asdict, dataclass, field, fields

from .models import list_models

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "onecycle", "plateau", "none")
TASKS = ("emotion", "stress")



def teacher_sources(teacher: str) -> list[str]:
    """The checkpoints a run's `teacher` names: one, or several separated by commas."""
    return [t.strip() for t in str(teacher or "").split(",") if t.strip()]

@dataclass
class TrainConfig:
    data: str = ""                 # CSV or image folder; empty = core.data.default_data_path()
    task: str = "emotion"          # emotion (7 classes or the folder's) or stress (binary view)
    model: str = "mini_xception"
    width: int | None = None       # None = the architecture's default
    dropout: float | None = None
    image_size: int = 48
    epochs: int = 30
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.1
    # fine-tuning: start from a trained checkpoint's weights (same architecture and classes) instead of random ones
    init: str = ""
    # knowledge distillation: also learn the soft answers of a trained teacher (a checkpoint path or model name;
    # several, comma-separated: their average answer)
    teacher: str = ""
    distill: float = 0.5           # weight of the teacher's soft targets in the loss (the labels get the rest)
    temperature: float = 4.0       # softens both distributions; the KL term is scaled by T^2
    # augmentation, applied to whole batches on the tensors
    flip: bool = True
    shift: int = 4                 # random translation, pixels
    rotate: float = 10.0           # degrees
    scale: float = 0.1             # +-10 %
    erase: float = 0.25            # probability of random erasing
    crop: int = 0                  # train on random crops of this size (e.g. 40 of 48), test on the centre; 0 = off
    mixup: float = 0.0             # mixup's Beta(alpha, alpha); 0 = off
    cutmix: float = 0.0            # CutMix's Beta(alpha, alpha); 0 = off (both on: each batch takes one)
    channels_last: bool = True     # NHWC memory layout where every layer is safe in it (faster on CPU and GPU)
    amp: bool = True               # bf16 autocast on a CUDA GPU or a CPU with bf16 in hardware (else float32)
    seed: int = 0
    threads: int = 0               # 0 = all cores
    device: str = "auto"           # auto = a CUDA GPU if there is one, else the CPU; or cpu, cuda, cuda:N
    val_fraction: float = 0.1      # folder data sets without a val/ folder
    limit: int = 0                 # use only this many training images (0 = all): quick tries
    name: str = ""                 # what the user called the run
    recipe: str = ""
    extra: dict = field(default_factory=dict)

    def validate(self) -> list[str]:
        """Every problem at once, in words a user can act on (empty list = fine)."""
        errs = []
        if self.model not in list_models():
            errs.append(f"model must be one of {', '.join(list_models())}")
        if self.task not in TASKS:
            errs.append(f"task must be one of {', '.join(TASKS)}")
        if self.optimizer not in OPTIMIZERS:
            errs.append(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            errs.append(f"schedule must be one of {', '.join(SCHEDULES)}")
        checks = [
            (1 <= self.epochs <= 1000, "epochs must be between 1 and 1000"),
            (1 <= self.batch_size <= 4096, "batch size must be between 1 and 4096"),
            (0 < self.lr <= 10, "learning rate must be > 0 and <= 10"),
            (0 <= self.momentum < 1, "momentum must be in [0, 1)"),
            (0 <= self.weight_decay < 1, "weight decay must be in [0, 1)"),
            (0 <= self.label_smoothing < 1, "label smoothing must be in [0, 1)"),
            (0 <= self.distill <= 1, "distillation weight must be in [0, 1]"),
            (0.5 <= self.temperature <= 20, "distillation temperature must be between 0.5 and 20"),
            (0 <= self.warmup_epochs <= max(self.epochs, 1), "warm-up must not be longer than the run"),
            (16 <= self.image_size <= 256, "image size must be between 16 and 256"),
            (self.width is None or 4 <= self.width <= 512, "width must be between 4 and 512"),
            (self.dropout is None or 0 <= self.dropout < 1, "dropout must be in [0, 1)"),
            (0 <= self.shift <= self.image_size // 4, "shift must be between 0 and a quarter of the image"),
            (0 <= self.rotate <= 45, "rotation must be between 0 and 45 degrees"),
            (0 <= self.scale <= 0.5, "scale must be between 0 and 0.5"),
            (0 <= self.erase <= 1, "erase probability must be in [0, 1]"),
            (self.crop == 0 or 16 <= self.crop <= self.image_size, "crop must be 0 (off) or between 16 and the image size"),
            (0 <= self.mixup <= 5, "mixup alpha must be between 0 (off) and 5"),
            (0 <= self.cutmix <= 5, "cutmix alpha must be between 0 (off) and 5"),
            (0 <= self.threads <= 256, "threads must be between 0 and 256"),
            (0 < self.val_fraction < 0.5, "validation fraction must be in (0, 0.5)"),
            (self.limit >= 0, "limit must be >= 0"),
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
