"""core.predict.detectors: every registered detector that can run here on real photographs and on bad frames;
YuNet's landmarks, their alignment, its settings and threads; its model file (checked, fetched, and a refused one
named everywhere YuNet is chosen); the fallback to Haar when it cannot run."""
from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.data.images import load_image
from core.predict.boxes import Face
from core.predict.crops import crop_faces, eye_angle
from core.predict.detectors import yunet_onnx
from core.predict.detectors import (PREFERENCE, TURNS, available_detectors, create_detector, default_detector_name,
                                    fallback_notice, list_detectors, registry, unavailable_reason)

SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"
GROUP = SAMPLES / "group_four_faces_collage.jpg"
AVAILABLE = available_detectors()
needs_yunet = pytest.mark.skipif("yunet" not in AVAILABLE, reason=f"yunet: {unavailable_reason('yunet')}")

_made: dict = {}


def detector(name: str, **settings):
    """One detector per name and settings for the whole module (BlazeFace's TensorFlow loads once)."""
    key = (name, tuple(sorted(settings.items())))
    if key not in _made:
        _made[key] = create_detector(name, **settings)
    return _made[key]


@pytest.fixture(scope="module")
def group():
    return load_image(GROUP)


def inside(face: Face, shape) -> bool:
    H, W = shape[:2]
    return 0 <= face.x and 0 <= face.y and face.w > 0 and face.h > 0 and face.x + face.w <= W and face.y + face.h <= H


def rotated(img: np.ndarray, angle: float, centre) -> np.ndarray:
    """`img` turned by `angle` degrees about `centre` (cv2's sense: positive = counter-clockwise on screen)."""
    m = cv2.getRotationMatrix2D(tuple(float(v) for v in centre), angle, 1.0)
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


# ---------------------------------------------------------------- the registry

def test_yunet_is_registered_first_and_haar_last():
    assert PREFERENCE[0] == "yunet" and PREFERENCE[-1] == "haar"
    assert {"yunet", "haar"} <= set(list_detectors())
    assert "haar" in AVAILABLE
    for name in list_detectors():
        reason = unavailable_reason(name)
        assert reason is None or (isinstance(reason, str) and reason), name


@needs_yunet
def test_default_is_yunet_where_it_can_run(monkeypatch):
    monkeypatch.delenv("FEL_DETECTOR", raising=False)
    assert default_detector_name() == "yunet"
    assert type(create_detector()).__name__ == "YuNetDetector"


# ---------------------------------------------------------------- every available detector

@pytest.mark.parametrize("name", AVAILABLE)
def test_finds_the_four_faces_of_the_group_photo(name, group):
    faces = detector(name).detect(group)
    assert len(faces) == 4, faces
    assert all(isinstance(f, Face) and inside(f, group.shape) and 0.0 < f.score <= 1.0 for f in faces)
    assert [f.x for f in faces] == sorted(f.x for f in faces)
    for f in faces:
        if f.landmarks is not None:
            assert len(f.landmarks) == 5
            assert all(f.x <= x < f.x + f.w and f.y <= y < f.y + f.h for x, y in f.landmarks), f


@pytest.mark.parametrize("name", AVAILABLE)
def test_same_faces_in_rgb_bgr_rgba_and_float(name, group):
    det = detector(name)
    ref = [f.box for f in det.detect(group)]
    assert [f.box for f in det.detect(np.ascontiguousarray(group[:, :, ::-1]), color="bgr")] == ref
    rgba = np.dstack([group, np.full(group.shape[:2], 255, np.uint8)])
    assert [f.box for f in det.detect(rgba)] == ref
    assert [f.box for f in det.detect(group.astype(np.float32) / 255.0)] == ref


BAD_FRAMES = {
    "1x1": lambda: np.zeros((1, 1, 3), np.uint8),
    "1x1 grey": lambda: np.full((1, 1), 7, np.uint8),
    "empty": lambda: np.zeros((0, 0, 3), np.uint8),
    "empty rows": lambda: np.zeros((0, 640), np.float32),
    "empty columns": lambda: np.zeros((480, 0, 3), np.uint8),
    "one row": lambda: np.zeros((1, 640, 3), np.uint8),
    "tiny": lambda: np.zeros((5, 7), np.uint8),
    "grey": lambda: np.full((480, 640), 128, np.uint8),
    "HxWx1": lambda: np.full((480, 640, 1), 128, np.uint8),
    "RGBA": lambda: np.zeros((480, 640, 4), np.uint8),
    "float 0..1": lambda: np.random.default_rng(0).random((240, 320, 3), dtype=np.float32),
    "float NaN": lambda: np.full((240, 320), np.nan),
    "uint16": lambda: np.full((240, 320, 3), 40000, np.uint16),
    "bool": lambda: np.random.default_rng(1).random((240, 320)) > 0.5,
    "non-contiguous": lambda: np.zeros((480, 640, 3), np.uint8)[::-1, ::2],
    "8000x6000": lambda: np.zeros((6000, 8000, 3), np.uint8),
    "8000x6000 float": lambda: np.zeros((6000, 8000), np.float32),
}


@pytest.mark.parametrize("frame", list(BAD_FRAMES), ids=list(BAD_FRAMES))
@pytest.mark.parametrize("name", AVAILABLE)
def test_any_frame_gives_faces_or_nothing_never_an_error(name, frame):
    img = BAD_FRAMES[frame]()
    faces = detector(name).detect(img)
    assert isinstance(faces, list)
    assert all(isinstance(f, Face) and inside(f, img.shape) for f in faces)
    if frame in ("1x1", "1x1 grey", "empty", "empty rows", "empty columns", "one row", "tiny"):
        assert faces == []


@pytest.mark.parametrize("name", AVAILABLE)
def test_huge_frame_boxes_in_its_own_pixels(name, group):
    big = np.zeros((6000, 8000, 3), np.uint8)
    big[:, 1000:7000] = cv2.resize(group, (6000, 6000), interpolation=cv2.INTER_LINEAR)
    ref = detector(name).detect(group)
    faces = detector(name).detect(big)  # searched on a 480 px copy: the collage's smallest face may be lost
    assert len(faces) >= 3
    k = 6000 / group.shape[1]
    for f in faces:  # each one is a face of the collage, in the big frame's pixels
        assert inside(f, big.shape)
        r = min(ref, key=lambda r: abs((f.x + f.w / 2) - (1000 + (r.x + r.w / 2) * k)))
        assert abs((f.x + f.w / 2) - (1000 + (r.x + r.w / 2) * k)) < 0.25 * f.w
        assert abs((f.y + f.h / 2) - (r.y + r.h / 2) * k) < 0.25 * f.h
        assert 0.5 < f.w / (r.w * k) < 2.0


# ---------------------------------------------------------------- YuNet

@needs_yunet
def test_min_size_drops_small_faces(group):
    sizes = sorted(max(f.w, f.h) for f in detector("yunet").detect(group))
    short = min(group.shape[:2])
    assert sizes[0] < 0.15 * short < sizes[1]  # the collage's one small face
    assert len(detector("yunet", min_size=0.15).detect(group)) == 3
    assert detector("yunet", min_size=0.5).detect(group) == []


@needs_yunet
def test_settings_are_checked():
    from core.predict.detectors import YuNetDetector

    for bad in ({"min_size": 1.5}, {"detect_width": 10}, {"conf_threshold": 1.0}):
        with pytest.raises(ValueError):
            YuNetDetector(**bad)
    with pytest.raises(ValueError):
        YuNetDetector().detect(np.zeros((64, 64, 3), np.uint8), color="hsv")


@needs_yunet
def test_threads_from_several_threads_and_torch_setting_kept(group):
    import torch

    det = detector("yunet")
    ref = [(f.box, f.landmarks) for f in det.detect(group)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: [(f.box, f.landmarks) for f in det.detect(group)], range(8)))
    assert all(r == ref for r in results)
    before = torch.get_num_threads()
    det.detect(group)
    assert torch.get_num_threads() == before  # YuNet's OpenMP threads are set for its call only


@needs_yunet
@pytest.mark.parametrize("angle", [20, -20])
def test_a_tilted_face_is_measured_and_aligned_level(angle):
    img = load_image(SAMPLES / "neutral_grace_hopper.jpg")
    det = detector("yunet")
    (upright,) = det.detect(img)
    base = eye_angle(upright.landmarks)
    assert abs(base) < 6
    centre = (upright.x + upright.w / 2, upright.y + upright.h / 2)
    tilted = rotated(img, angle, centre)
    (face,) = det.detect(tilted)
    measured = eye_angle(face.landmarks)
    # a face turned counter-clockwise by `angle` has its eye line at -angle
    assert abs(measured - (base - angle)) < 5, (measured, base, angle)
    crop = crop_faces(tilted, [face], margin=0.3, size=256, align=True)[0]
    plain = crop_faces(tilted, [face], margin=0.3, size=256, align=False)[0]
    (again,) = det.detect(crop)
    assert abs(eye_angle(again.landmarks)) < 6
    (unaligned,) = det.detect(plain)
    assert abs(eye_angle(unaligned.landmarks)) > 12  # without alignment the crop stays tilted


def test_an_aligned_crop_keeps_the_detail_of_an_unrotated_one():
    """Rotating the 48 px crop itself blurred it (0.9 points of accuracy lost on upright faces): a face turned
    by one degree keeps at least 90% of the unrotated crop's detail (variance of the Laplacian)."""
    img = load_image(SAMPLES / "neutral_grace_hopper.jpg")
    h, w = img.shape[:2]
    box = (int(0.3 * w), int(0.2 * h), int(0.4 * w), int(0.4 * w))
    eyes = ((box[0] + 50.0, box[1] + 80.0), (box[0] + 150.0, box[1] + 80.0 + 100 * np.tan(np.radians(1.0))))
    turned = Face(*box, landmarks=eyes)
    assert abs(eye_angle(turned.landmarks) - 1.0) < 1e-6
    (aligned,), (plain,) = crop_faces(img, [turned], align=True), crop_faces(img, [box], align=True)
    detail = lambda c: cv2.Laplacian(c.astype(np.float64), cv2.CV_64F).var()  # noqa: E731
    assert detail(aligned) >= 0.9 * detail(plain)
    assert np.abs(aligned.astype(int) - plain.astype(int)).mean() < 10  # the same face, barely turned


def test_a_big_face_is_aligned_as_the_same_face_smaller():
    """A face too big for one warp is shrunk first: the aligned crop of a photo and of the same photo at 4x
    are the same face (no aliasing, same framing)."""
    img = load_image(SAMPLES / "neutral_grace_hopper.jpg")
    big = cv2.resize(img, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    eyes = ((200.0, 250.0), (320.0, 280.0))  # 14 degrees
    small_face = Face(150, 170, 220, 220, landmarks=eyes)
    big_face = Face(600, 680, 880, 880, landmarks=tuple((4 * x + 1.5, 4 * y + 1.5) for x, y in eyes))
    a = crop_faces(img, [small_face], align=True)[0].astype(int)
    b = crop_faces(big, [big_face], align=True)[0].astype(int)
    assert np.abs(a - b).mean() < 3


@needs_yunet
def test_refinement_is_what_follows_the_tilt():
    """Over the sample faces turned by +-10 and +-20 degrees, the refined eye line is nearer the true tilt than
    YuNet's own landmarks."""
    raw_err, refined_err = [], []
    for path in sorted(SAMPLES.glob("*.jpg")):
        img = load_image(path)
        found = detector("yunet").detect(img)
        if len(found) != 1:
            continue
        (upright,) = found
        for angle in (-20, -10, 10, 20):
            tilted = rotated(img, angle, (upright.x + upright.w / 2, upright.y + upright.h / 2))
            raw = detector("yunet", refine=0).detect(tilted)
            refined = detector("yunet").detect(tilted)
            if len(raw) != 1 or len(refined) != 1:  # a second, false face at a low score: not this test's
                continue
            assert raw[0].box == refined[0].box
            truth = eye_angle(upright.landmarks) - angle
            raw_err.append(abs(eye_angle(raw[0].landmarks) - truth))
            refined_err.append(abs(eye_angle(refined[0].landmarks) - truth))
    assert len(raw_err) >= 12
    assert np.mean(refined_err) < np.mean(raw_err) - 3, (np.mean(refined_err), np.mean(raw_err))


@needs_yunet
def test_the_frame_pipeline_measures_a_tracks_tilt_once_and_reuses_it(monkeypatch):
    """Webcam and video: detection with YuNet's own landmarks on every detection frame, the tilt of a track
    measured on refined landmarks when it appears (and every ANGLE_EVERY detections), not on every frame."""
    from core.predict.frame import FramePipeline, LiveSettings

    img = load_image(SAMPLES / "neutral_grace_hopper.jpg")
    det = detector("yunet")
    (upright,) = det.detect(img)
    tilted = rotated(img, 20, (upright.x + upright.w / 2, upright.y + upright.h / 2))
    calls = []
    real = det.refine_landmarks
    monkeypatch.setattr(det, "refine_landmarks", lambda *a, **k: calls.append(1) or real(*a, **k))
    pipe = FramePipeline(det, [], LiveSettings(detect_every=1))
    for _ in range(5):
        faces = pipe.step(tilted)
    assert len(faces) == 1 and len(calls) == 1  # measured once, reused for the next 4 detections
    track = pipe.tracker.tracks[0]
    assert abs(track.angle - (eye_angle(upright.landmarks) - 20)) < 5


# ---------------------------------------------------------------- following a tracked face (YuNet)

def shifted(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), borderMode=cv2.BORDER_REFLECT)


def centre_of(face) -> tuple[float, float]:
    return face.x + face.w / 2.0, face.y + face.h / 2.0


@needs_yunet
@pytest.mark.parametrize("move", [(0, 0), (0.3, 0.1), (-0.25, 0.3)])
def test_follow_finds_a_face_that_moved_near_its_track(move):
    img = load_image(SAMPLES / "neutral_grace_hopper.jpg")
    det = detector("yunet")
    (was,) = det.detect(img)
    dx, dy = move[0] * was.w, move[1] * was.h
    face = det.follow(shifted(img, dx, dy), was)
    assert face is not None and inside(face, img.shape)
    (cx, cy), (wx, wy) = centre_of(face), centre_of(was)
    assert abs(cx - (wx + dx)) < 0.1 * was.w and abs(cy - (wy + dy)) < 0.1 * was.h
    assert 0.8 < face.w / was.w < 1.25
    assert all(face.x <= x < face.x + face.w and face.y <= y < face.y + face.h for x, y in face.landmarks)


@needs_yunet
def test_following_a_still_face_again_and_again_does_not_drift():
    """Each follow starts from the box the last one found: a big face (its view shrinks it 4x) must stay where it
    is, not move half a view pixel (2 frame pixels) further each time. Follows jitter by a few pixels: over 30 follows the fitted drift is under 0.2 px a follow and every box stays near the others."""
    img = load_image(SAMPLES / "neutral_grace_hopper.jpg")
    det = detector("yunet")
    (small,) = det.detect(img)
    big = cv2.resize(img, None, fx=256 / small.w, fy=256 / small.w, interpolation=cv2.INTER_LINEAR)
    face, centres = det.detect(big)[0], []
    for _ in range(30):
        face = det.follow(big, face)
        assert face is not None
        centres.append(centre_of(face))
    centres = np.array(centres, dtype=float)
    for axis in (0, 1):
        assert abs(np.polyfit(np.arange(len(centres)), centres[:, axis], 1)[0]) < 0.2, centres[:, axis]
    assert np.abs(centres - centres.mean(axis=0)).max() < 12, centres


@needs_yunet
def test_follow_finds_nothing_where_the_face_was_not():
    img = load_image(SAMPLES / "neutral_grace_hopper.jpg")
    det = detector("yunet")
    (was,) = det.detect(img)
    blank = np.full_like(img, 120)
    assert det.follow(blank, was) is None
    far = Face(0, 0, max(8, was.w // 3), max(8, was.h // 3))  # a corner of the photo, no face there
    assert det.follow(img, far) is None
    assert detector("yunet", min_size=0.95).follow(img, was) is None  # there, but smaller than the pages ask


@needs_yunet
@pytest.mark.parametrize("angle", [35, -35])
def test_follow_searches_a_tilted_face_upright_by_its_tracks_tilt(angle):
    """A face turned too far for YuNet's own landmarks (a full search measures a few degrees) is found again on
    a view turned by the track's tilt, and its landmarks come back into the frame along the tilted eye line."""
    img = load_image(SAMPLES / "neutral_grace_hopper.jpg")
    det = detector("yunet")
    (was,) = det.detect(img)
    tilted = rotated(img, angle, centre_of(was))
    tilt = eye_angle(was.landmarks) - angle
    face = det.follow(tilted, was, angle=tilt)
    assert face is not None
    assert abs(centre_of(face)[0] - centre_of(was)[0]) < 0.1 * was.w
    assert abs(centre_of(face)[1] - centre_of(was)[1]) < 0.1 * was.h
    assert abs(eye_angle(face.landmarks) - tilt) < 8


@needs_yunet
@pytest.mark.parametrize("frame", ["1x1", "empty", "empty rows", "one row", "grey", "RGBA", "float NaN", "8000x6000"])
def test_follow_takes_any_frame(frame):
    img = BAD_FRAMES[frame]()
    face = detector("yunet").follow(img, Face(100, 100, 80, 80))
    assert face is None or (isinstance(face, Face) and inside(face, img.shape))


@needs_yunet
def test_the_frame_pipeline_searches_the_whole_frame_every_nth_detection_and_follows_in_between(monkeypatch):
    """Webcam: a full search on every `full_search_every`-th detection (a new face shows up then), the tracked
    faces looked for near where they were on the others; a lost face brings the full search forward, and a
    box that no longer shows what it did brings it to that very frame."""
    from core.predict.frame import FramePipeline, LiveSettings

    img = load_image(SAMPLES / "neutral_grace_hopper.jpg")
    det = create_detector("yunet")
    calls = []
    for name in ("detect", "follow"):
        real = getattr(det, name)
        monkeypatch.setattr(det, name, lambda *a, _real=real, _name=name, **k: calls.append(_name) or _real(*a, **k))
    pipe = FramePipeline(det, [], LiveSettings(detect_every=1, full_search_every=3, recheck=False))
    ids = []
    for i in range(6):
        faces = pipe.step(shifted(img, 4 * i, 0))
        ids.append([f["id"] for f in faces])
    assert calls == ["detect", "follow", "follow", "detect", "follow", "follow"]
    assert ids == [[]] + [[1]] * 5  # one face, one track, shown once a second detection confirmed it
    pipe.step(img)  # the whole frame, on schedule
    calls.clear()
    pipe.step(np.full_like(img, 120))  # a follow that loses the face ...
    pipe.step(img)                     # ... brings the next whole-frame search forward
    assert calls == ["follow", "detect"]
    looking = FramePipeline(det, [], LiveSettings(detect_every=3, full_search_every=3))  # the page's: boxes checked
    assert [len(looking.step(img)) for _ in range(5)] == [0, 1, 1, 1, 1]
    calls.clear()
    assert looking.step(np.full_like(img, 120)) == []  # the 6th frame: no detection due, but the box shows
    assert calls == ["detect"]                         # something else: searched whole at once, nothing shown
    calls.clear()
    whole = FramePipeline(det, [], LiveSettings(detect_every=1, full_search_every=1))
    for _ in range(3):
        whole.step(img)
    assert calls == ["detect"] * 3
    haar = FramePipeline(detector("haar"), [], LiveSettings(detect_every=1))  # no follow: full searches
    assert [len(haar.step(img)) for _ in range(3)] == [0, 1, 1]


# ---------------------------------------------------------------- tilted faces: the turned search

@pytest.mark.parametrize("name", AVAILABLE)
def test_the_turned_search_keeps_each_face_once(name, group):
    faces = detector(name, turns=TURNS).detect(group)
    assert len(faces) == 4, faces  # found upright and turned: kept once
    assert all(inside(f, group.shape) for f in faces)
    for f in faces:
        if f.landmarks is not None:
            assert all(f.x <= x < f.x + f.w and f.y <= y < f.y + f.h for x, y in f.landmarks), f


@pytest.mark.parametrize("angle", [30, -30])
def test_the_turned_search_finds_a_tilted_face_haar_misses_upright(angle):
    img = load_image(SAMPLES / "neutral_grace_hopper.jpg")
    (upright,) = detector("haar").detect(img)
    centre = (upright.x + upright.w / 2, upright.y + upright.h / 2)
    tilted = rotated(img, angle, centre)
    assert detector("haar").detect(tilted) == []
    (face,) = detector("haar", turns=TURNS).detect(tilted)
    assert inside(face, tilted.shape)
    assert abs(face.x + face.w / 2 - centre[0]) < 0.15 * upright.w
    assert abs(face.y + face.h / 2 - centre[1]) < 0.15 * upright.h
    assert 0.7 < face.w / upright.w < 1.4


@needs_yunet
@pytest.mark.parametrize("angle", [40, -40])
def test_the_turned_search_brings_landmarks_back_into_the_frame(angle):
    img = load_image(SAMPLES / "neutral_grace_hopper.jpg")
    (upright,) = detector("yunet").detect(img)
    centre = (upright.x + upright.w / 2, upright.y + upright.h / 2)
    (face,) = detector("yunet", turns=TURNS).detect(rotated(img, angle, centre))
    assert abs(face.x + face.w / 2 - centre[0]) < 0.15 * upright.w
    assert abs(face.y + face.h / 2 - centre[1]) < 0.15 * upright.h
    assert abs(eye_angle(face.landmarks) - (eye_angle(upright.landmarks) - angle)) < 6


@pytest.mark.parametrize("frame", ["1x1", "empty", "one row", "grey", "RGBA", "float NaN", "8000x6000"])
def test_the_turned_search_takes_any_frame(frame):
    img = BAD_FRAMES[frame]()
    for name in AVAILABLE:
        faces = detector(name, turns=TURNS).detect(img)
        assert isinstance(faces, list) and all(inside(f, img.shape) for f in faces)


def test_the_turned_search_checks_its_angles():
    from core.predict.detectors import TurnedSearch

    with pytest.raises(ValueError, match="between -90 and 90"):
        TurnedSearch(detector("haar"), (120,))
    plain = TurnedSearch(detector("haar"), (0,))
    assert plain.angles == () and plain.detector_name == "haar" and plain.min_size == detector("haar").min_size


# ---------------------------------------------------------------- YuNet's model file, and without it

def _refused_files(tmp_path) -> dict:
    """FEL_YUNET_MODEL values YuNet must refuse, by what they are (#41 item 7)."""
    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(fifo)  # opening it to read would wait forever: it must never be opened
    sparse = tmp_path / "huge.onnx"
    with open(sparse, "wb") as f:
        f.truncate(2 * 1024 ** 3)  # 2 GB, no blocks: must not be hashed
    wrong = tmp_path / "zeros.onnx"
    wrong.write_bytes(b"\0" * yunet_onnx.YUNET_BYTES)  # the right size, other bytes
    (tmp_path / "folder.onnx").mkdir()
    return {fifo: "is a FIFO", tmp_path / "missing.onnx": "is not there", wrong: "is not YuNet 2023's file",
            sparse: "has 2,147,483,648 bytes", tmp_path / "folder.onnx": "is a directory"}


def test_a_refused_yunet_file_is_named_with_the_reason_everywhere_yunet_is_chosen(monkeypatch, tmp_path, capsys):
    """FEL_YUNET_MODEL pointing at a FIFO, a missing file, wrong bytes, a 2 GB sparse file or a directory: `core
    detectors`, `predict` (by default and when asked for yunet) and the registry name the file and why; the default
    falls back to Haar saying so, never silently."""
    from core.cli import main as cli_main
    from core.cli.predict import main as predict_main

    monkeypatch.delenv("FEL_DETECTOR", raising=False)
    photo = str(SAMPLES / "happy_obama.jpg")
    for path, why in _refused_files(tmp_path).items():
        monkeypatch.setenv("FEL_YUNET_MODEL", str(path))
        monkeypatch.setattr(registry, "_NOTICES", {})
        said = f"FEL_YUNET_MODEL={path} {why}"
        assert said in unavailable_reason("yunet") and "yunet" not in available_detectors()

        assert cli_main(["detectors"]) == 0
        out = capsys.readouterr().out
        assert f"yunet      not available: {said}" in out and "ready (engine" not in out
        assert cli_main(["detectors", "--fetch-yunet"]) == 2  # the user's file: checked, never replaced
        assert said in capsys.readouterr().err

        assert predict_main([photo, "--no-tilted", "--json"]) in (0, 2)  # the default: Haar, and why
        out, err = capsys.readouterr()
        assert said in json.loads(out)["detector_note"] and "Haar" in err and said in err
        assert predict_main([photo, "--detector", "yunet", "--json"]) == 2
        out, err = capsys.readouterr()
        assert said in json.loads(out)["error"] and said in err and "Traceback" not in err

        with pytest.raises(registry.DetectorError, match="yunet"):
            create_detector("yunet")
        det = create_detector("yunet", fallback=True, min_size=0.05, detect_width=640)
        assert type(det).__name__ == "HaarDetector" and said in fallback_notice("yunet")


def test_the_pages_name_a_refused_yunet_file(monkeypatch, tmp_path, app_env):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("FEL_YUNET_MODEL", str(tmp_path / "gone.onnx"))
    monkeypatch.delenv("FEL_DETECTOR", raising=False)
    monkeypatch.setattr(registry, "_NOTICES", {})
    said = f"FEL_YUNET_MODEL={tmp_path / 'gone.onnx'} is not there"
    root = Path(__file__).resolve().parent.parent
    for page in ("Home.py", "app_pages/video.py"):
        at = AppTest.from_file(str(root / page), default_timeout=120).run()
        assert not at.exception, [e.value for e in at.exception]
        shown = [str(e.value) for e in at.warning] + [str(e.value) for e in at.sidebar.warning]
        assert any(said in text for text in shown), (page, shown)


def test_without_its_file_yunet_falls_back_to_haar_and_the_default_says_why(monkeypatch, group, tmp_path):
    monkeypatch.setenv("FEL_YUNET_MODEL", str(tmp_path / "missing.onnx"))
    monkeypatch.setattr(registry, "_NOTICES", {})
    monkeypatch.delenv("FEL_DETECTOR", raising=False)
    reason = unavailable_reason("yunet")
    assert reason and "missing.onnx is not there" in reason and "--fetch-yunet" in reason
    assert default_detector_name() != "yunet"
    det = create_detector(None, fallback=True, min_size=0.05, detect_width=640)  # the default, as predict asks
    assert type(det).__name__ == "HaarDetector" and det.min_size == 0.05 and det.detect_width == 640
    notice = fallback_notice()
    assert notice and "'yunet' is not available here" in notice and "missing.onnx" in notice and "Haar" in notice
    create_detector("yunet", fallback=True)
    assert fallback_notice("yunet") == notice and list(registry._NOTICES) == ["yunet"]  # kept once
    assert len(det.detect(group)) == 4
    monkeypatch.delenv("FEL_YUNET_MODEL")
    monkeypatch.setenv("FEL_DETECTOR", "nonesuch")
    monkeypatch.setattr(registry, "_NOTICES", {})
    create_detector(None, fallback=True)
    assert "FEL_DETECTOR is 'nonesuch'" in fallback_notice()


@pytest.mark.skipif(yunet_onnx.yunet_problem() is not None, reason="YuNet's ONNX file is not here (FEL_YUNET_MODEL)")
def test_a_good_file_in_fel_yunet_model_is_used_and_never_downloaded(monkeypatch, tmp_path, capsys):
    """install.sh runs `detectors --fetch-yunet`: with FEL_YUNET_MODEL naming a good file it says that file is the
    one YuNet uses, without a download (here: none could succeed)."""
    from core.cli import main as cli_main

    monkeypatch.setattr(yunet_onnx, "YUNET_URLS", ((tmp_path / "none").as_uri(),))
    good = yunet_onnx.yunet_model_path()
    monkeypatch.setenv("FEL_YUNET_MODEL", str(good))
    assert cli_main(["detectors", "--fetch-yunet"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"YuNet will use {good} (named by FEL_YUNET_MODEL)"
    assert f"yunet      ready, reads {good}" in out


@pytest.mark.skipif(yunet_onnx.yunet_problem() is not None, reason="YuNet's ONNX file is not here (FEL_YUNET_MODEL)")
def test_fetch_checks_the_hash_and_keeps_a_good_file(monkeypatch, tmp_path):
    good = yunet_onnx.yunet_model_path()
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\1" * 1000)
    monkeypatch.setattr(yunet_onnx, "YUNET_URLS", (bad.as_uri(), good.as_uri()))
    dest = tmp_path / "detectors" / "yunet.onnx"
    assert yunet_onnx.fetch_yunet_model(dest) == dest
    assert yunet_onnx.model_problem(dest) is None and not list(dest.parent.glob(".*tmp*"))
    monkeypatch.setattr(yunet_onnx, "YUNET_URLS", (bad.as_uri(), (tmp_path / "none").as_uri()))
    assert yunet_onnx.fetch_yunet_model(dest) == dest  # already there and right: nothing fetched
    with pytest.raises(OSError, match="not the expected file"):
        yunet_onnx.fetch_yunet_model(tmp_path / "other.onnx")


def test_yunet_has_one_engine_and_yuface_is_gone():
    """#40: one YuNet everywhere, OpenCV's FaceDetectorYN: no second engine to choose, nothing asks for yuface."""
    root = Path(__file__).resolve().parent.parent
    assert "yuface" not in (root / "requirements.txt").read_text()
    sources = list((root / "core").rglob("*.py")) + list((root / "bench").glob("*.py")) + [root / "install.sh"]
    assert not [p for p in sources if "yuface" in p.read_text() or "FEL_YUNET_ENGINE" in p.read_text()]


def test_falls_back_when_the_class_says_why(monkeypatch):
    cls = registry._entry("yunet")
    monkeypatch.setattr(cls, "unavailable_reason", staticmethod(lambda: "the wheel is broken here"))
    monkeypatch.setattr(registry, "_NOTICES", {})
    det = create_detector("yunet", fallback=True)
    assert type(det).__name__ == "HaarDetector"
    assert "the wheel is broken here" in fallback_notice("yunet")
    assert fallback_notice() == fallback_notice("yunet")
