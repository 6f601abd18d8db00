"""Face detectors declare what they can do (core.predict.detectors.base.Detector) instead of callers probing for
methods: the capabilities, the shared settings checks and box clipping; and the contract every registered
detector keeps."""
from pathlib import Path

import numpy as np
import pytest

from core.predict.boxes import Face
from core.predict.detectors import (Detector, DetectorBase, HaarDetector, TurnedSearch, can_follow, can_refine,
                                    clip_face, list_detectors, unavailable_reason)
from core.predict.detectors.registry import _entry
from core.predict.frame import FramePipeline, LiveSettings


@pytest.mark.parametrize("name", list_detectors())
def test_every_family_declares_its_capabilities(name):
    cls = _entry(name)
    assert issubclass(cls, DetectorBase) and cls.detector_name == name
    assert isinstance(cls.can_follow, bool) and isinstance(cls.can_refine, bool)
    assert (cls.can_follow, cls.can_refine) == ((True, True) if name == "yunet" else (False, False))
    for method in ("follow", "follow_at_most", "refine_landmarks"):  # a declared capability is implemented
        declared = cls.can_follow if method.startswith("follow") else cls.can_refine
        assert (getattr(cls, method) is not getattr(DetectorBase, method)) == declared, (name, method)
    assert unavailable_reason(name) is None or isinstance(unavailable_reason(name), str)


@pytest.mark.parametrize("settings, why", [({"min_size": 1.0}, "min_size is a fraction"),
                                           ({"detect_width": 32}, "detect_width must be at least 64")])
def test_the_settings_are_checked_the_same_way_by_every_family(settings, why):
    for name in list_detectors():
        if unavailable_reason(name) is None:
            with pytest.raises(ValueError, match=why):
                _entry(name)(**settings)


def test_haar_declares_no_capability_and_a_turned_search_declares_its_detectors():
    haar = HaarDetector(min_size=0.1)
    assert isinstance(haar, Detector) and not can_follow(haar) and not can_refine(haar)
    with pytest.raises(NotImplementedError, match="cannot follow"):
        haar.follow(np.zeros((64, 64, 3), np.uint8), Face(0, 0, 10, 10))
    turned = TurnedSearch(haar)
    assert isinstance(turned, Detector) and turned.detector_name == "haar" and turned.min_size == 0.1
    assert not can_follow(turned) and not can_refine(turned)
    assert turned(np.zeros((64, 64, 3), np.uint8)) == []  # called, it detects

    class Bare:  # anything with `detect` still runs the frame pipeline, with no capability
        def detect(self, image, color="rgb"):
            return [Face(8, 8, 40, 40, 0.9)]

    assert not can_follow(Bare()) and not can_refine(Bare())
    pipe = FramePipeline(Bare(), [], LiveSettings(detect_every=1))
    assert pipe.step(np.zeros((64, 64, 3), np.uint8)) == []  # found once: not shown before a second detection
    assert [f["box"] for f in pipe.step(np.zeros((64, 64, 3), np.uint8))] == [[8, 8, 40, 40]]


def test_clip_face_keeps_boxes_scores_and_landmarks_inside_the_frame():
    f = clip_face(-5.4, 10.2, 50.6, 200.0, 1.0, [(-3, 12), (60, 300)], H=100, W=40)
    assert f.box == (0, 10, 40, 90) and f.score == 0.9999 and f.landmarks == ((0, 12), (39, 99))
    assert clip_face(10, 10, 12, 40, 0.5, None, 100, 100) is None  # 2 px wide: under the 4 px minimum
    assert clip_face(10, 10, 12, 40, 0.5, None, 100, 100, min_box=2) is not None  # Haar keeps 2 px boxes
    assert clip_face(10, 10, 30, 30, 0.5, None, 100, 100, min_px=25) is None  # smaller than the pages ask


SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"


def _inside(face, h: int, w: int) -> bool:
    x, y, bw, bh = face.box
    points = face.landmarks or ()
    return (0 <= x and 0 <= y and bw > 0 and bh > 0 and x + bw <= w and y + bh <= h and 0 <= face.score <= 1
            and all(0 <= px < w and 0 <= py < h for px, py in points))


@pytest.mark.parametrize("name", list_detectors())
def test_every_registered_detector_keeps_the_detector_contract(name):
    """Every detector the registry lists (as timm's tests run over list_models()), made as the pages make it:
    it finds the face of a portrait, every box and landmark inside the frame, whatever the frame's colours and
    size, and no face in an empty or blank frame; a detector that can follow finds the face again near itself."""
    import cv2

    from core.data.images import load_image
    from core.predict.detectors import create_detector

    if unavailable_reason(name):
        pytest.skip(f"{name} cannot run here: {unavailable_reason(name)}")
    det = create_detector(name, min_size=0.1, detect_width=480)
    assert isinstance(det, Detector) and det.detector_name == name
    rgb = load_image(SAMPLES / "happy_obama.jpg")
    h, w = rgb.shape[:2]
    faces = det.detect(rgb)
    assert len(faces) >= 1 and all(isinstance(f, Face) and _inside(f, h, w) for f in faces)
    for image, color in ((rgb[:, :, ::-1].copy(), "bgr"), (cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), "rgb"),
                         (np.dstack([rgb, np.full((h, w), 255, np.uint8)]), "rgb"),
                         (cv2.resize(rgb, (w // 3, h // 3)), "rgb")):
        found = det.detect(image, color=color)
        assert len(found) >= 1 and all(_inside(f, *image.shape[:2]) for f in found), (image.shape, color)
    for blank in (np.zeros((0, 0, 3), np.uint8), np.full((240, 320, 3), 127, np.uint8), np.zeros((8, 8), np.uint8)):
        assert det.detect(blank) == []
    if can_follow(det):
        again = det.follow(rgb, faces[0])
        assert again is None or _inside(again, h, w)
        assert det.follow_at_most(rgb) >= 1
