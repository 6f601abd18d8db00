"""Face detectors by name, as the model registry does it: `create_detector("yunet", min_size=0.05)`.

A detector's `detect(image, color="rgb")` takes any frame (grey, RGB/BGR, RGBA, any size; an empty or
degenerate one gives no faces) and returns `Face`s (core.predict.boxes) in the frame's own pixels, with a
score and, where the detector finds them, five landmarks. Every detector takes the same settings:
`min_size` (the smallest face, as a fraction of the frame's short side) and `detect_width` (frames wider
than this are downscaled for detection; boxes come back in full-frame coordinates).

What a detector is, and the capabilities a family may declare (`can_follow`: YuNet finds a tracked face again
near where it was; `can_refine`: it measures a face's landmarks again), is the `Detector` protocol (base.py);
the families share `DetectorBase` (their settings checked once) and `clip_face`.

Families register themselves with `@register_detector(name)`; the registry keeps their one-line description
and whether their package can be imported here (`available`). `create_detector(None)` is the default: the
most accurate detector installed. A detector that cannot be made is a `DetectorError` naming it and why;
`create_detector(name, fallback=True)` then gives Haar instead, and `fallback_notice()` says so once.
`create_detector(name, turns=TURNS)` also searches the frame turned by those angles, for tilted faces.
"""
from .base import Detector, DetectorBase, can_follow, can_refine, clip_face
from .registry import (PHOTO_SETTINGS, PREFERENCE, TURNS, DetectorError, available_detectors, create_detector,
                       default_detector_name, describe_detector, fallback_notice, list_detectors, register_detector,
                       unavailable_reason)
from . import blazeface, haar, yunet  # noqa: E402,F401  (registers the detectors)
from .haar import HaarDetector  # noqa: E402
from .yunet import YuNetDetector  # noqa: E402
from .turned import TurnedSearch  # noqa: E402

__all__ = ["PHOTO_SETTINGS", "PREFERENCE", "TURNS", "Detector", "DetectorBase", "DetectorError", "can_follow", "can_refine",
           "clip_face", "HaarDetector", "TurnedSearch", "YuNetDetector",
           "available_detectors", "create_detector", "default_detector_name", "describe_detector", "fallback_notice", "list_detectors",
           "register_detector", "unavailable_reason"]
