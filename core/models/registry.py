"""The registry of architectures: each family file registers its constructors with `@register_model`; models
are then made by name with their keyword arguments checked."""
from __future__ import annotations

import inspect

from torch import nn

_REGISTRY: dict[str, callable] = {}


def register_model(fn):
    _REGISTRY[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def describe(name: str) -> str:
    return (inspect.getdoc(_entry(name)) or "").split("\n")[0]


def model_defaults(name: str) -> dict:
    """The keyword arguments a model takes, with their defaults (what the training form shows)."""
    sig = inspect.signature(_entry(name))
    return {k: p.default for k, p in sig.parameters.items() if k not in ("num_classes", "in_chans")}


def create_model(name: str, num_classes: int = 7, in_chans: int = 1, **kwargs) -> nn.Module:
    fn = _entry(name)
    allowed = model_defaults(name)
    unknown = set(kwargs) - set(allowed)
    if unknown:
        raise ValueError(f"model {name!r} takes no argument(s) {sorted(unknown)}; it takes {sorted(allowed)}")
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    model = fn(num_classes=num_classes, in_chans=in_chans, **kwargs)
    model.model_name = name
    model.model_kwargs = {**{k: v for k, v in allowed.items()}, **kwargs}
    return model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _entry(name: str):
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(list_models())}") from None
