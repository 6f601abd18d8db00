"""The registry of face detectors: each family file registers its class with `@register_detector(name)`;
`create_detector` makes one by name, with Haar as the fallback a page can ask for."""
from __future__ import annotations

import inspect
import threading

PREFERENCE = ("yunet", "blazeface", "haar")  # the default is the first one that can be made here (bench/detection.py)
# what a photo is searched with (the Compare page, `python -m core predict`): faces down to 5% of the short
# side, on a copy at most 1024 px wide, so a group photo's small faces are still found, and on copies turned
# by +-25 degrees, so faces tilted by 30 are too (core.predict.detectors.turned)
TURNS = (25.0, -25.0)
PHOTO_SETTINGS = {"min_size": 0.05, "detect_width": 1024, "turns": TURNS}


class DetectorError(RuntimeError):
    """A face detector that cannot be set up here; the message names it and says why."""


_REGISTRY: dict[str, type] = {}
_NOTICES: dict[str, str] = {}
_LOCK = threading.Lock()


def register_detector(name: str):
    def wrap(cls):
        cls.detector_name = name
        _REGISTRY[name] = cls
        return cls
    return wrap


def list_detectors() -> list[str]:
    return [n for n in PREFERENCE if n in _REGISTRY] + sorted(n for n in _REGISTRY if n not in PREFERENCE)


def describe_detector(name: str) -> str:
    return (inspect.getdoc(_entry(name)) or "").split("\n")[0]


def unavailable_reason(name: str) -> str | None:
    """Why detector `name` cannot run here (its package is missing), or None."""
    return _entry(name).unavailable_reason()  # declared by each family (core.predict.detectors.base)


def available_detectors() -> list[str]:
    return [n for n in list_detectors() if unavailable_reason(n) is None]


def default_detector_name() -> str:
    from ...settings import detector_name

    chosen = detector_name()
    if chosen in _REGISTRY and unavailable_reason(chosen) is None:
        return chosen
    return next(iter(available_detectors()), "haar")


def create_detector(name: str | None = None, fallback: bool = False, turns=(), **settings):
    """A detector by name (None: the default). DetectorError if it cannot be made; with `fallback`, Haar
    instead, and the reason kept for `fallback_notice`. `turns`: angles (degrees) at which the frame is also
    searched, for tilted faces (TurnedSearch); none by default."""
    made = _create(name, fallback, **settings)
    if turns:
        from .turned import TurnedSearch

        return TurnedSearch(made, turns)
    return made


def _create(name: str | None, fallback: bool, **settings):
    if name is None:
        name = default_detector_name()
        if fallback:
            _note_passed_over(name)
    try:
        reason = unavailable_reason(name)
        if reason:
            raise DetectorError(f"face detector {name!r} is not available here: {reason}")
        try:
            return _entry(name)(**settings)
        except DetectorError:
            raise
        except (ImportError, OSError, RuntimeError) as e:
            raise DetectorError(f"face detector {name!r} could not be loaded ({type(e).__name__}: {e})") from e
    except DetectorError as e:
        if not fallback or name == "haar":
            raise
        with _LOCK:
            _NOTICES.setdefault(name, f"{e}; using the Haar cascade instead.")
        return _entry("haar")(**settings)


def _note_passed_over(chosen: str) -> None:
    """The default is the first detector that can run here: where the one wanted (FEL_DETECTOR's, else YuNet)
    cannot, the notice says which, why (YuNet: the model file refused, named) and what is used instead."""
    from ...settings import detector_name

    wanted = detector_name() or PREFERENCE[0]
    if wanted == chosen:
        return
    instead = "the Haar cascade" if chosen == "haar" else repr(chosen)
    if wanted not in _REGISTRY:
        text = f"FEL_DETECTOR is {wanted!r}, not one of {', '.join(list_detectors())}; using {instead} instead."
    else:
        reason = unavailable_reason(wanted)
        if not reason:
            return
        text = f"face detector {wanted!r} is not available here: {reason}; using {instead} instead."
    with _LOCK:
        _NOTICES.setdefault(wanted, text)


def fallback_notice(name: str | None = None) -> str | None:
    """The one sentence saying a detector fell back to Haar (None if it did not)."""
    with _LOCK:
        if name is not None:
            return _NOTICES.get(name)
        return next(iter(_NOTICES.values()), None)


def _entry(name: str):
    try:
        return _REGISTRY[name]
    except KeyError:
        raise DetectorError(f"unknown face detector {name!r}; known: {', '.join(list_detectors())}") from None
