"""Named, re-runnable training recipes: `python -m core train --recipe default`.

Each recipe is a set of TrainConfig fields; command-line flags override them. The seed is part of
the recipe, so a recipe re-run gives the same run (up to floating-point non-determinism)."""
from __future__ import annotations

from dataclasses import fields

from ..config import TrainConfig

RECIPES: dict[str, dict] = {
    # quick sanity run: minutes on 2 CPU cores
    "quick": dict(model="mini_xception", width=16, epochs=3, batch_size=128, optimizer="adamw", lr=3e-3,
                  weight_decay=1e-4, schedule="cosine", warmup_epochs=0.5, seed=0,
                  tencrop_test=False),  # a first look: the plain test alone (ten crops would double its wait)
    # the real-time webcam model: depthwise-separable, tiny, trains on CPU
    "realtime": dict(model="mini_xception", width=16, epochs=40, batch_size=128, optimizer="adamw", lr=3e-3,
                     weight_decay=5e-4, schedule="cosine", warmup_epochs=1, label_smoothing=0.1, seed=0),
    # the accurate default: VGG-style with BatchNorm, SGD + cosine, strong augmentation
    "default": dict(model="vgg", width=64, epochs=60, batch_size=128, optimizer="sgd", lr=0.05, momentum=0.9,
                    weight_decay=5e-4, schedule="cosine", warmup_epochs=2, label_smoothing=0.1, seed=0),
    # stress / no stress through the FER2013 stress view
    "stress": dict(task="stress", model="mini_xception", width=32, epochs=40, batch_size=128, optimizer="adamw",
                   lr=3e-3, weight_decay=5e-4, schedule="cosine", warmup_epochs=1, label_smoothing=0.05, seed=0),
}
# the accurate model, after the published FER2013 recipes (Khaireddin & Chen 2021; ResNet-18 with label
# smoothing, mixup and 40 px crops): SGD + Nesterov, cosine, 40x40 random crops (tested on the centre and
# ten crops), mixup, random erasing, flip. 300 epochs is for a GPU (minutes there); `accurate-cpu` is the
# longest schedule of the same recipe that a 2-core CPU trains in hours.
_ACCURATE = dict(model="resnet", width=64, epochs=300, batch_size=128, optimizer="sgd", lr=0.1, momentum=0.9,
                 weight_decay=5e-4, schedule="cosine", warmup_epochs=5, label_smoothing=0.1, crop=40, shift=0,
                 rotate=10.0, scale=0.15, erase=0.5, mixup=0.2, seed=0)
RECIPES["accurate"] = dict(_ACCURATE)
# fits one working session on 2 cores (about 3 min per epoch with bf16); without mixup, which pays off only
# over long schedules
RECIPES["accurate-cpu"] = dict(_ACCURATE, width=32, epochs=32, warmup_epochs=1, mixup=0.0)
# the long CPU run, trained in the background across sessions (`--resume` continues it): the whole recipe,
# mixup included (it pays off over long schedules), on width 32 and a cosine fitted to 100 epochs
RECIPES["accurate-cpu-long"] = dict(_ACCURATE, width=32, epochs=100, warmup_epochs=2)
# the same recipe as a second, short schedule on top of seed-resnet (hours of CPU already spent): its
# weights, a fresh cosine from a lower peak, 40 px crops; no mixup, which pays off only over long schedules
RECIPES["accurate-finetune"] = dict(_ACCURATE, width=32, epochs=20, warmup_epochs=1, lr=0.02, mixup=0.0,
                                    init="seed-resnet")
# the real-time model again, taught by the most accurate shipped model (seed-resnet): seed-vgg's weights, a short
# schedule in which it also learns the teacher's soft answers (then `python -m core quantize` makes its int8 copy)
RECIPES["realtime-distilled"] = dict(model="vgg", width=32, epochs=10, batch_size=128, optimizer="sgd", lr=0.01,
                                     weight_decay=5e-4, schedule="cosine", warmup_epochs=0.5, label_smoothing=0.1,
                                     init="seed-vgg", teacher="seed-resnet", distill=0.5, temperature=4.0, seed=0)
# FER+ (ten annotators' votes per face, 8 classes with contempt): `accurate`'s weights fine-tuned on the votes'
# distribution (Barsoum et al.'s crossentropy mode), its grey-level step (histogram equalisation, which every
# shipped model was trained with) kept; a fresh cosine from a low peak, 40 px crops, no label smoothing (the
# votes are soft already). Needs fer2013new.csv beside Kaggle's fer2013.csv.
_FERPLUS = dict(labels="ferplus", label_mode="crossentropy", grey="equalise", label_smoothing=0.0)
RECIPES["ferplus-finetune"] = dict(_ACCURATE, **_FERPLUS, width=32, epochs=24, warmup_epochs=1, lr=0.02, mixup=0.0,
                                   init="accurate")
# the same from random weights: the whole accurate recipe on the votes (hours on a CPU, minutes on a GPU)
RECIPES["ferplus-scratch"] = dict(_ACCURATE, **_FERPLUS, width=32, epochs=100, warmup_epochs=2)
# the webcam's FER+ model: vgg-distilled's weights (the real-time VGG), taught by the FER+ accurate model on the
# votes; `python -m core quantize` then makes its int8 copy
RECIPES["ferplus-realtime"] = dict(model="vgg", width=32, epochs=12, batch_size=128, optimizer="sgd", lr=0.01,
                                   weight_decay=5e-4, schedule="cosine", warmup_epochs=0.5, **_FERPLUS,
                                   init="vgg-distilled", teacher="ferplus-accurate", distill=0.5, temperature=4.0,
                                   seed=0)
# the seed architectures, trained with one shared recipe for the comparison table
for _arch, _w in (("model48", 32), ("ourmodel", 32), ("vgg", 32), ("resnet", 32)):
    RECIPES[f"seed-{_arch}"] = dict(model=_arch, width=_w, epochs=30, batch_size=128, optimizer="sgd", lr=0.05,
                                    weight_decay=5e-4, schedule="cosine", warmup_epochs=1, label_smoothing=0.1, seed=0)


def recipe_config(recipe: str | None = None, /, **overrides) -> TrainConfig:
    base = {}
    if recipe:
        if recipe not in RECIPES:
            raise ValueError(f"unknown recipe {recipe!r}; known: {', '.join(sorted(RECIPES))}")
        base = {**RECIPES[recipe], "recipe": recipe}
    known = {f.name for f in fields(TrainConfig)}
    cfg = TrainConfig.from_dict({**base, **{k: v for k, v in overrides.items() if k in known and v is not None}})
    return cfg
