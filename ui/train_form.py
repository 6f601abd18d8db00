"""The Train page's form: a recipe fills every field, the user changes what they like, and the form becomes
a TrainConfig (the widgets keep their values in session state, under one prefix, kept for the browser session
when the user visits another page: ui.state). What will run is said in words from the form, never from the
recipe's own description, so it cannot go stale."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.config import OPTIMIZERS, SCHEDULES, TrainConfig, config_field
from core.data import default_data_path
from core.models import describe, list_models, model_defaults
from core.predict.catalogue import discover_models
from core.train import describe_device
from core.train.recipes import RECIPES, recipe_config

from .state import keep


FORM_FIELDS = ("model", "width", "dropout", "epochs", "batch_size", "optimizer", "lr", "momentum", "schedule",
               "warmup_epochs", "weight_decay", "label_smoothing", "seed", "flip", "crop", "mixup", "cutmix",
               "tencrop_test")
# the form's other values; FORM_FIELDS and these are kept for the session (a field added to the form goes in one)
OTHER_FIELDS = ("recipe", "task", "data", "name", "limit", "threads", "val_fraction", "teacher", "init", "distill",
                "shift", "rotate", "scale", "erase", "use_shift", "use_rotate", "use_scale", "use_erase", "labels",
                "label_mode", "grey")
LABEL_WORDS = {"fer2013": "FER2013 (one person per face)", "ferplus": "FER+ (ten people's votes)"}
FERPLUS_TEXT = ("FER+ (Microsoft, 2016) had ten people label every FER2013 face: a model that learns their votes "
                "answers as people would, and learns contempt as an eighth emotion. It needs Microsoft's "
                "`fer2013new.csv` beside Kaggle's `fer2013.csv`.")
MODE_WORDS = {"majority": "majority: the top emotion", "crossentropy": "crossentropy: the votes' distribution",
              "probability": "probability: one vote drawn each time", "multi_target": "multi-target: any named emotion"}
GREY_WORDS = {"none": "as they are", "equalise": "equalised (histogram)"}
CROPS = {0: "no: the whole 48 px face", 40: "40 px (the published recipes)", 44: "44 px"}


AUG_AMOUNTS = {"shift": 4, "rotate": 10.0, "scale": 0.1, "erase": 0.25}  # the amount a switch turns on


RECIPE_TEXT = {  # what each recipe is for; its numbers are said from the form (run_summary), which the user changes
    "quick": "A first look in minutes: a few epochs of a small model.",
    "realtime": "The webcam model: small, and fast on a CPU.",
    "default": "A VGG-style CNN: best on a GPU (hours on a CPU).",
    "accurate": "The published FER2013 recipe (ResNet-18, crops, mixup, SGD + Nesterov): for a GPU (days on a CPU).",
    "accurate-cpu": "The accurate recipe cut to what a CPU trains in hours.",
    "accurate-finetune": "The accurate recipe as a second, short schedule on top of the shipped seed-resnet (its "
                         "weights, a fresh cosine).",
    "realtime-distilled": "The real-time VGG again: seed-vgg's weights, also learning the answers of seed-resnet, "
                          "the most accurate shipped model (distillation); then quantize it to int8 for the webcam.",
    "stress": "Stress / no stress: a model of the stress view of the data.",
    "ferplus-finetune": "Learns what ten people said of each face (FER+'s votes, 8 emotions with contempt), on top "
                        "of the shipped `accurate` model's weights.",
    "ferplus-scratch": "The accurate recipe on FER+'s votes, from random weights: for a GPU (hours on a CPU).",
    "ferplus-realtime": "The webcam's model on FER+'s votes: the real-time VGG, taught by the FER+ accurate model; "
                        "then quantize it to int8.",
}


def default_recipe() -> str:
    """`accurate` (the published recipe) where there is a GPU; `realtime` on a CPU, where it takes days."""
    try:
        import torch

        return "accurate" if torch.cuda.is_available() else "realtime"
    except Exception:  # noqa: BLE001
        return "realtime"


def recipe_description(name: str) -> str:
    if name in RECIPE_TEXT:
        return RECIPE_TEXT[name]
    if name.startswith("seed-"):
        return f"The shared comparison recipe for the `{name[5:]}` architecture."
    return ""


CHANGES = ("model", "width", "dropout", "epochs", "batch_size", "optimizer", "lr", "schedule", "warmup_epochs",
           "weight_decay", "label_smoothing", "momentum", "crop", "mixup", "cutmix", "task")


def _said(name: str, value) -> str:
    """One setting in words: "width 8", "2 epochs", "lr 0.003"."""
    words = {"epochs": "{} epochs", "batch_size": "batch {}", "warmup_epochs": "{:g} warm-up epochs",
             "label_smoothing": "label smoothing {:g}", "weight_decay": "weight decay {:g}", "lr": "lr {:g}",
             "crop": "{} px crops", "dropout": "dropout {:g}", "mixup": "mixup {:g}", "cutmix": "CutMix {:g}",
             "schedule": "{} schedule", "momentum": "momentum {:g}"}
    return words.get(name, name + " {}").format(value)


def recipe_changes(cfg: TrainConfig) -> list[str]:
    """The settings of `cfg` that differ from its recipe's, in words: "width 8 (recipe: 16)"."""
    try:
        base = recipe_config(cfg.recipe)
    except (KeyError, ValueError):
        return []
    base.width = int(base.width or model_default(base.model, "width", 32))
    base.dropout = float(base.dropout if base.dropout is not None else model_default(base.model, "dropout", 0.0) or 0.0)
    out = []
    for f in CHANGES:
        now, was = getattr(cfg, f), getattr(base, f)
        if now != was and not (isinstance(now, float) and isinstance(was, (int, float)) and abs(now - was) < 1e-12):
            out.append(f"{_said(f, now)} (recipe: {was:g})" if isinstance(was, (int, float)) and not isinstance(
                was, bool) else f"{_said(f, now)} (recipe: {was})")
    return out


def run_summary(cfg: TrainConfig, train_images: int | None = None) -> str:
    """What Start will train, in one line of words from the form (markdown for st.caption, which renders no
    HTML). `train_images`: how many the data set has, where known."""
    model = f"{cfg.model}, width {cfg.width}" + (f", dropout {cfg.dropout:g}" if cfg.dropout else "")
    opt = f"{cfg.optimizer}, lr {cfg.lr:g}, {cfg.schedule} schedule"
    aug = [k for k in ("flip", "shift", "rotate", "scale", "erase") if getattr(cfg, k)]
    aug += [f"{cfg.crop} px crops"] if cfg.crop else []
    aug += [f"mixup {cfg.mixup:g}"] if cfg.mixup else []
    aug += [f"CutMix {cfg.cutmix:g}"] if cfg.cutmix else []
    data = Path(cfg.data).name if cfg.data else "FER2013"
    of = f"its {train_images:,}" if train_images is not None else "its"
    images = (f"{cfg.limit:,} of {of} training images (drawn at random)" if cfg.limit and not (
        train_images is not None and cfg.limit >= train_images) else f"all {of} training images")
    parts = [model, opt, f"{cfg.epochs} epochs of batch {cfg.batch_size}",
             ("augmented: " + ", ".join(aug)) if aug else "no augmentation",
             f"`{data}` ({'stress / no stress' if cfg.task == 'stress' else 'emotions'}), {images}"]
    if cfg.labels != "fer2013":
        parts.append(f"FER+ votes ({cfg.label_mode})")
    if cfg.grey != "none":
        parts.append(f"faces {GREY_WORDS.get(cfg.grey, cfg.grey)}")
    if cfg.init:
        parts.append(f"starting from {_model_name(cfg.init)}")
    if cfg.teacher:
        parts.append(f"taught by {_model_name(cfg.teacher)} (weight {cfg.distill:g})")
    return " · ".join(parts)


def _model_name(path: str) -> str:
    p = Path(path)
    return p.parent.name if p.name == "best.pt" else p.stem


def model_default(model: str, key: str, fallback=None):
    try:
        return model_defaults(model).get(key, fallback)
    except ValueError:
        return fallback


def apply_recipe(name: str, prefix: str = "tr_") -> None:
    """Fill the form's widgets from a recipe (the widgets read their value from session state)."""
    cfg = recipe_config(name)
    ss = st.session_state
    for f in FORM_FIELDS:
        ss[prefix + f] = getattr(cfg, f)
    ss[prefix + "width"] = int(cfg.width or model_default(cfg.model, "width", 32))
    ss[prefix + "dropout"] = float(cfg.dropout if cfg.dropout is not None else model_default(cfg.model, "dropout", 0.0))
    ss[prefix + "lr"] = float(cfg.lr)
    ss[prefix + "weight_decay"] = float(cfg.weight_decay)
    ss[prefix + "warmup_epochs"] = float(cfg.warmup_epochs)
    ss[prefix + "label_smoothing"] = float(cfg.label_smoothing)
    ss[prefix + "momentum"] = float(cfg.momentum)
    ss[prefix + "mixup"] = float(cfg.mixup)
    ss[prefix + "cutmix"] = float(cfg.cutmix)
    for k, amount in AUG_AMOUNTS.items():
        v = getattr(cfg, k)
        ss[prefix + "use_" + k] = bool(v)
        ss[prefix + k] = type(amount)(v or amount)
    ss[prefix + "init"] = _start_path(cfg.init)
    ss[prefix + "teacher"] = _start_path(cfg.teacher)  # a recipe's teacher, where that model is here
    ss[prefix + "distill"] = float(cfg.distill)
    if cfg.task != TrainConfig().task or name == "stress":
        ss[prefix + "task"] = cfg.task
    ss[prefix + "labels"], ss[prefix + "label_mode"], ss[prefix + "grey"] = cfg.labels, cfg.label_mode, cfg.grey


def on_model_change(prefix: str = "tr_") -> None:
    m = st.session_state[prefix + "model"]
    st.session_state[prefix + "width"] = int(model_default(m, "width", 32))
    st.session_state[prefix + "dropout"] = float(model_default(m, "dropout", 0.0) or 0.0)


def init_form(prefix: str = "tr_") -> None:
    """The form's values: those the user set (kept across pages), else the recipe's. Call before the form."""
    ss = st.session_state
    for f in FORM_FIELDS + OTHER_FIELDS:
        keep(prefix + f)
    if prefix + "recipe" not in ss:
        ss[prefix + "recipe"] = default_recipe()
        ss[prefix + "task"] = "emotion"
        apply_recipe(ss[prefix + "recipe"], prefix)
        ss[prefix + "name"] = ""
        ss[prefix + "limit"] = 0
        ss[prefix + "threads"] = 0
        ss[prefix + "val_fraction"] = 0.1
    ss.setdefault(prefix + "teacher", "")
    ss.setdefault(prefix + "init", "")
    for f in ("labels", "label_mode", "grey"):
        ss.setdefault(prefix + f, getattr(TrainConfig(), f))
    ss.setdefault(prefix + "distill", float(TrainConfig().distill))
    if prefix + "data" not in ss:
        p = default_data_path()
        ss[prefix + "data"] = str(p) if p else ""


def config_from_form(prefix: str = "tr_") -> TrainConfig:
    ss = st.session_state
    g = lambda k: ss[prefix + k]  # noqa: E731
    return TrainConfig(
        data=str(g("data")).strip(), task=g("task"), model=g("model"), width=int(g("width")),
        dropout=float(g("dropout")), epochs=int(g("epochs")), batch_size=int(g("batch_size")),
        optimizer=g("optimizer"), lr=float(g("lr")), momentum=float(g("momentum")), schedule=g("schedule"),
        warmup_epochs=float(g("warmup_epochs")), weight_decay=float(g("weight_decay")),
        label_smoothing=float(g("label_smoothing")), flip=bool(g("flip")), crop=int(g("crop")),
        mixup=float(g("mixup")), cutmix=float(g("cutmix")),
        shift=int(g("shift")) if g("use_shift") else 0, rotate=float(g("rotate")) if g("use_rotate") else 0.0,
        scale=float(g("scale")) if g("use_scale") else 0.0, erase=float(g("erase")) if g("use_erase") else 0.0,
        seed=int(g("seed")), threads=int(g("threads")), val_fraction=float(g("val_fraction")), limit=int(g("limit")),
        name=str(g("name")).strip(), recipe=g("recipe"), teacher=str(ss.get(prefix + "teacher") or ""),
        distill=float(ss.get(prefix + "distill", TrainConfig().distill)), init=str(ss.get(prefix + "init") or ""),
        tencrop_test=bool(ss.get(prefix + "tencrop_test", TrainConfig().tencrop_test)),
        labels=ss.get(prefix + "labels", "fer2013"), label_mode=ss.get(prefix + "label_mode", "majority"),
        grey=ss.get(prefix + "grey", "none"),
    )


def field_help(name: str) -> str:
    """The help TrainConfig says for a field (core.config), as a sentence."""
    text = config_field(name).metadata.get("help") or ""
    return (text[:1].upper() + text[1:] + ".") if text else ""


def field_input(container, name: str, prefix: str, label: str, step, fmt: str | None = None, **limits):
    """A number input for TrainConfig field `name`: its help and, unless given, its limits from the config (an
    open bound becomes the nearest value the widget can take)."""
    low, high, kind = config_field(name).metadata.get("bounds") or (None, None, "[]")
    if low is not None and "min_value" not in limits:
        limits["min_value"] = type(step)(low if kind[0] == "[" else low + step)
    if high is not None and "max_value" not in limits:
        limits["max_value"] = type(step)(high if kind[1] == "]" else high - step)
    return container.number_input(label, step=step, format=fmt, key=prefix + name, help=field_help(name), **limits)


AUG_LABELS = {"flip": "Flip", "shift": "Shift", "rotate": "Rotate", "scale": "Scale", "erase": "Erase"}


def labels_section(prefix: str = "tr_") -> None:
    """Which labels the run learns: FER2013's own, or FER+'s votes (and how the votes become targets)."""
    p = prefix
    c1, c2 = st.columns([3, 2])
    c1.radio("Labels", list(LABEL_WORDS), key=p + "labels", horizontal=True, format_func=LABEL_WORDS.get,
             help=field_help("labels"))
    ferplus = st.session_state[p + "labels"] == "ferplus"
    c2.selectbox("How the votes teach", list(MODE_WORDS), key=p + "label_mode", format_func=MODE_WORDS.get,
                 disabled=not ferplus, help=field_help("label_mode"))
    if ferplus:
        st.caption(FERPLUS_TEXT)


def recipe_section(prefix: str = "tr_") -> None:
    p = prefix
    first = [r for r in ("realtime", "quick", "accurate", "accurate-cpu", "default", "stress") if r in RECIPES]
    recipes = first + sorted(r for r in RECIPES if r not in first)
    st.selectbox("Recipe", recipes, key=p + "recipe", on_change=lambda: apply_recipe(st.session_state[p + "recipe"], p),
                 help="A recipe fills in every setting with values known to work; change any of them after.")
    note = "" if default_recipe() == "accurate" else (
        " Without a GPU, **realtime** is the sensible start; **accurate-cpu** is the most accurate but takes hours.")
    changed = recipe_changes(config_from_form(p))
    st.caption(recipe_description(st.session_state[p + "recipe"]) + note
               + (" **Changed here:** " + ", ".join(changed) + "." if changed else ""))
    c1, c2, c3 = st.columns([2, 1, 1])
    c1.selectbox("Model", list_models(), key=p + "model", on_change=lambda: on_model_change(p),
                 help="\n".join(f"- **{m}**: {describe(m)}" for m in list_models()))
    field_input(c2, "width", p, "Width", 4)
    field_input(c3, "dropout", p, "Dropout", 0.05)
    st.caption(describe(st.session_state[p + "model"]))


def optimisation_section(prefix: str = "tr_") -> None:
    p = prefix
    c1, c2, c3 = st.columns(3)
    field_input(c1, "epochs", p, "Epochs", 1)
    c2.selectbox("Batch size", [8, 16, 32, 64, 128, 256, 512], key=p + "batch_size", help=field_help("batch_size"))
    c3.selectbox("Optimizer", OPTIMIZERS, key=p + "optimizer", help=field_help("optimizer"))
    c1, c2, c3 = st.columns(3)
    field_input(c1, "lr", p, "Learning rate", 1e-4, "%g", min_value=1e-6)
    c2.selectbox("Schedule", SCHEDULES, key=p + "schedule", help=field_help("schedule"))
    field_input(c3, "warmup_epochs", p, "Warm-up epochs", 0.5, min_value=0.0, max_value=100.0)
    c1, c2, c3 = st.columns(3)
    field_input(c1, "weight_decay", p, "Weight decay", 1e-4, "%g", max_value=0.99)
    field_input(c2, "label_smoothing", p, "Label smoothing", 0.05, max_value=0.99)
    field_input(c3, "momentum", p, "Momentum", 0.05, max_value=0.999)
    teachers = teacher_options()
    if st.session_state.get(p + "teacher") not in teachers:  # a teacher deleted since it was picked
        st.session_state[p + "teacher"] = ""
    c1, c2 = st.columns([2, 1])
    c1.selectbox("Learn from a teacher (distillation)", list(teachers), format_func=teachers.get, key=p + "teacher",
                 help="A trained model whose soft answers the new model also learns, on the same augmented "
                      "images: the usual way to make a small, fast model nearly as good as a big one. The "
                      "teacher must know the same classes (emotions, or stress / no stress).")
    field_input(c2, "distill", p, "Teacher's weight", 0.1, disabled=not st.session_state.get(p + "teacher"))
    starts = start_options()
    if st.session_state.get(p + "init") not in starts:
        st.session_state[p + "init"] = ""
    st.selectbox("Start from a trained model (fine-tune)", list(starts), format_func=starts.get, key=p + "init",
                 help="Begin with a trained model's weights instead of random ones: a short second schedule on "
                      "top of hours already spent. Model and width must be the checkpoint's.")


def teacher_options() -> dict[str, str]:
    """"" (no teacher) and every loadable checkpoint, shipped ones first: path -> label."""
    out = {"": "none"}
    for m in discover_models(runs="all"):
        if not m.error:
            out[str(m.path)] = f"{m.name} ({m.kind})"
    return out


def start_options() -> dict[str, str]:
    """"" (random weights) and every loadable checkpoint: path -> label (one that does not fit the run, an
    int8 copy or another architecture, is refused with a message when the run starts)."""
    out = {"": "none: random weights"}
    for m in discover_models(runs="all"):
        if not m.error:
            out[str(m.path)] = f"{m.name} ({m.arch}, {m.kind})"
    return out


def _start_path(source: str) -> str:
    """The form's value for a recipe's starting checkpoint or teacher (a model name): its path, or "" if it
    is not here."""
    if not source:
        return ""
    try:
        from core.predict.catalogue import resolve_model

        return str(resolve_model(source))
    except Exception:  # noqa: BLE001 - a recipe whose model is not here starts from random weights
        return ""


def _aug_selected(prefix: str) -> list[str]:
    ss = st.session_state
    return [k for k in AUG_LABELS if (ss[prefix + "flip"] if k == "flip" else ss[prefix + "use_" + k])]


def _on_aug_change(prefix: str) -> None:
    ss = st.session_state
    chosen = set(ss[prefix + "aug"] or [])
    ss[prefix + "flip"] = "flip" in chosen
    for k in AUG_AMOUNTS:
        ss[prefix + "use_" + k] = k in chosen


def augmentation_section(prefix: str = "tr_") -> None:
    p = prefix
    ss = st.session_state
    ss[p + "aug"] = _aug_selected(p)  # the pills mirror the switches the recipe set
    st.pills("Random changes to each training batch, so the model learns faces rather than pictures",
             list(AUG_LABELS), selection_mode="multi", format_func=AUG_LABELS.get, key=p + "aug",
             on_change=_on_aug_change, args=(p,),
             help="Flip: mirror left-right. Shift: move by a few pixels. Rotate: tilt. Scale: zoom in or out. "
                  "Erase: blank a random patch.")
    with st.expander("Amounts", icon=":material/tune:"):
        c1, c2 = st.columns(2)
        c1.number_input("Shift (pixels)", min_value=1, max_value=12, step=1, key=p + "shift")
        c2.number_input("Rotation (degrees)", min_value=1.0, max_value=45.0, step=1.0, key=p + "rotate")
        c1.number_input("Scale (±)", min_value=0.01, max_value=0.5, step=0.05, key=p + "scale")
        c2.number_input("Erase probability", min_value=0.05, max_value=1.0, step=0.05, key=p + "erase")
    c1, c2, c3 = st.columns(3)
    c1.selectbox("Random crops", list(CROPS), format_func=CROPS.get, key=p + "crop",
                 help="Train on random crops of the 48 px faces (tested on the centre crop, or ten crops): about "
                      "30% less work per image, and the usual recipe of the most accurate FER2013 models.")
    field_input(c2, "mixup", p, "Mixup", 0.1)
    field_input(c3, "cutmix", p, "CutMix", 0.1)


def advanced_section(prefix: str = "tr_") -> None:
    p = prefix
    c1, c2 = st.columns(2)
    field_input(c1, "seed", p, "Seed", 1, min_value=0, max_value=2**31 - 1)
    field_input(c2, "limit", p, "Training images (0 = all)", 1000)
    field_input(c1, "threads", p, "CPU threads (0 = all)", 1)
    field_input(c2, "val_fraction", p, "Validation share", 0.01)
    st.checkbox("Ten-crop test at the end", key=p + "tencrop_test", help=field_help("tencrop_test"))
    st.selectbox("Grey levels of every face", list(GREY_WORDS), key=p + "grey", format_func=GREY_WORDS.get,
                 help=field_help("grey") + " The step is kept in the model file and applied to every face it "
                 "sees after (webcam, photos, evaluations).")
    st.caption(f"Runs train on this machine's **{describe_device()}**; a CUDA GPU is used automatically when "
               "there is one, and its checkpoints still run on a CPU.")
