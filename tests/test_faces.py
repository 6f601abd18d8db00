"""core.data.images, core.predict.detectors and crops: decoding, colour, detection on real photographs, crops."""
from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from core.predict.detectors import DetectorError, HaarDetector
from core.predict.boxes import Face
from core.data.images import ImageError, load_image, to_grey
from core.predict.crops import crop_faces, preprocess

SAMPLES = Path(__file__).resolve().parent.parent / "sample_images"
PHOTOS = sorted(p for p in SAMPLES.glob("*.jpg") if "collage" not in p.name)
GROUP = SAMPLES / "group_four_faces_collage.jpg"


@pytest.fixture(scope="module")
def detector():
    return HaarDetector()


@pytest.fixture(scope="module")
def astronaut():
    return load_image(SAMPLES / "happy_astronaut.jpg")


def iou(a, b) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / float(a[2] * a[3] + b[2] * b[3] - inter)


# ---------------------------------------------------------------- sample photographs and detection

def test_sample_images_are_documented():
    readme = (SAMPLES / "README.md").read_text()
    files = sorted(SAMPLES.glob("*.jpg"))
    assert len(files) >= 2
    for f in files:
        assert f.name in readme, f"{f.name} is not listed in sample_images/README.md"
        img = load_image(f)
        assert max(img.shape[:2]) <= 800


@pytest.mark.parametrize("path", PHOTOS, ids=lambda p: p.stem)
def test_finds_the_face_in_each_photograph(detector, path):
    img = load_image(path)
    faces = detector.detect(img)
    assert len(faces) == 1, faces
    f = faces[0]
    assert isinstance(f, Face) and f.box == (f.x, f.y, f.w, f.h)
    assert 0 <= f.x and 0 <= f.y and f.x + f.w <= img.shape[1] and f.y + f.h <= img.shape[0]
    assert 0.0 < f.score <= 1.0
    assert f.w >= 0.1 * min(img.shape[:2])


def test_several_faces_sorted_left_to_right(detector):
    faces = detector.detect(load_image(GROUP))
    assert len(faces) == 4
    xs = [f.x for f in faces]
    assert xs == sorted(xs)


def test_no_face_in_blank_or_tiny_images(detector):
    assert detector.detect(np.full((480, 640, 3), 200, np.uint8)) == []
    assert detector.detect(np.zeros((10, 10), np.uint8)) == []


def test_detection_same_on_rgb_bgr_grey_rgba(detector, astronaut):
    ref = [f.box for f in detector.detect(astronaut, color="rgb")]
    assert len(ref) == 1
    bgr = np.ascontiguousarray(astronaut[:, :, ::-1])
    assert [f.box for f in detector.detect(bgr, color="bgr")] == ref
    grey = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    assert [f.box for f in detector.detect(grey)] == ref
    assert [f.box for f in detector.detect(grey[:, :, None])] == ref
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    assert [f.box for f in detector.detect(rgba, color="rgb")] == ref


def test_large_frame_boxes_map_back_to_original_coordinates(detector, astronaut):
    ref = detector.detect(astronaut)[0].box
    k = 3000 / astronaut.shape[1]
    big = cv2.resize(astronaut, (3000, 3000), interpolation=cv2.INTER_LINEAR)
    faces = detector.detect(big)
    assert len(faces) == 1
    scaled_back = tuple(v / k for v in faces[0].box)
    assert iou(scaled_back, ref) > 0.7
    assert faces[0].w > 3 * ref[2]  # in the big image's pixels, not the detector's


def test_detector_parameters_and_missing_cascade(tmp_path):
    with pytest.raises(DetectorError, match="does not exist"):
        HaarDetector(cascade=tmp_path / "nope.xml")
    bad = tmp_path / "bad.xml"
    bad.write_text("<not a cascade/>")
    with pytest.raises(DetectorError):
        HaarDetector(cascade=bad)
    with pytest.raises(ValueError):
        HaarDetector(scale_factor=1.0)
    with pytest.raises(ValueError):
        HaarDetector(min_size=1.5)


# ---------------------------------------------------------------- crops

def test_crops_have_the_training_shape(detector):
    img = load_image(GROUP)
    faces = detector.detect(img)
    crops = crop_faces(img, faces)
    assert crops.shape == (4, 48, 48) and crops.dtype == np.uint8
    assert crops.std() > 10  # real content, not padding
    assert crop_faces(img, []).shape == (0, 48, 48)
    assert crop_faces(img, faces, size=64).shape == (4, 64, 64)


def test_crop_accepts_boxes_and_pads_at_the_border():
    img = np.zeros((100, 120), np.uint8)
    img[:, :60] = 50
    img[:, 60:] = 250
    crops = crop_faces(img, [(0, 0, 40, 40), Face(100, 70, 40, 40, 1.0), (-30, -30, 20, 20)])
    assert crops.shape == (3, 48, 48)
    assert (crops[0] == 50).all()   # replicated border, not black
    assert (crops[1] == 250).all()
    assert (crops[2] == 50).all()   # entirely outside: nearest border pixels


def test_crop_is_centred_square_with_margin():
    img = np.zeros((200, 200), np.uint8)
    img[50:150, 50:150] = 255  # the "face" box exactly
    crop = crop_faces(img, [(50, 50, 100, 100)], margin=0.25, size=150)[0]
    # side = 100 * 1.5 = 150: the face occupies the middle 100 px
    assert crop[75, 75] == 255 and crop[5, 5] == 0 and crop[75, 5] == 0
    same_rgb = crop_faces(np.dstack([img] * 3), [(50, 50, 100, 100)], margin=0.25, size=150)[0]
    assert np.array_equal(crop, same_rgb)


def test_preprocess_uses_the_shared_normalisation():
    from core.data import normalize

    crops = np.random.default_rng(0).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    x = preprocess(crops, 48, 0.5, 0.25)
    assert x.shape == (3, 1, 48, 48) and x.dtype == torch.float32
    assert torch.allclose(x, normalize(torch.from_numpy(crops).unsqueeze(1), 0.5, 0.25))
    mixed = [np.zeros((30, 30), np.uint8), np.zeros((96, 80), np.uint8)]
    assert preprocess(mixed, 40, 0.5, 0.25).shape == (2, 1, 40, 40)


# ---------------------------------------------------------------- colour

def test_to_grey_variants():
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 255  # pure red
    g_rgb = to_grey(rgb, "rgb")
    g_bgr = to_grey(rgb, "bgr")  # the same array read as BGR is pure blue
    assert g_rgb.shape == (4, 5) and g_rgb.dtype == np.uint8
    assert g_rgb[0, 0] == 76 and g_bgr[0, 0] == 29
    assert to_grey(np.dstack([rgb, np.zeros((4, 5), np.uint8)]), "rgb")[0, 0] == 76
    assert to_grey(np.full((4, 5, 1), 7, np.uint8)).shape == (4, 5)
    assert to_grey(np.full((4, 5), 65535, np.uint16))[0, 0] == 255
    assert to_grey(np.full((4, 5), 1.0, np.float32))[0, 0] == 255
    with pytest.raises(ValueError):
        to_grey(rgb, "hsv")
    with pytest.raises(ValueError):
        to_grey(np.zeros((4, 5, 2), np.uint8))


# ---------------------------------------------------------------- load_image

def _png(tmp_path, arr, name="x.png", **kw) -> Path:
    path = tmp_path / name
    Image.fromarray(arr, **kw).save(path)
    return path


def test_load_image_sources(tmp_path):
    path = SAMPLES / "happy_astronaut.jpg"
    a = load_image(path)
    assert a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3
    assert np.array_equal(load_image(str(path)), a)
    assert np.array_equal(load_image(path.read_bytes()), a)
    with open(path, "rb") as fh:
        assert np.array_equal(load_image(fh), a)
    assert np.array_equal(load_image(io.BytesIO(path.read_bytes())), a)


def test_load_grey_rgba_palette(tmp_path):
    grey = np.tile(np.arange(0, 250, 10, dtype=np.uint8), (8, 1))
    g = load_image(_png(tmp_path, grey))
    assert g.shape == (8, 25, 3) and np.array_equal(g[..., 0], grey) and np.array_equal(g[..., 1], grey)

    rgba = np.zeros((6, 6, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, :3, 3] = 255   # left half opaque red-ish
    rgba[:, 3:, 3] = 0     # right half transparent
    out = load_image(_png(tmp_path, rgba, "rgba.png"))
    assert tuple(out[0, 0]) == (200, 0, 0)
    assert tuple(out[0, 5]) == (255, 255, 255)  # composited on white

    pal = Image.fromarray(np.full((5, 5, 3), (10, 120, 240), np.uint8)).convert("P", palette=Image.Palette.ADAPTIVE)
    pal.save(tmp_path / "p.png")
    assert tuple(load_image(tmp_path / "p.png")[2, 2]) == (10, 120, 240)


def test_load_16bit_png_scales_to_8bit(tmp_path):
    a = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    path = tmp_path / "16.png"
    Image.fromarray(a).save(path)
    out = load_image(path)
    assert out.dtype == np.uint8
    assert out[0, :, 0].tolist() == [0, 1, 128, 255]
    dark = np.full((4, 4), 200, np.uint16)  # dark 16-bit data stays dark (not read as 8-bit 200)
    Image.fromarray(dark).save(tmp_path / "dark.png")
    assert load_image(tmp_path / "dark.png").max() <= 1


def test_load_applies_exif_orientation(tmp_path):
    arr = np.zeros((20, 40, 3), np.uint8)
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees when shown
    im.save(tmp_path / "rot.jpg", exif=exif)
    assert load_image(tmp_path / "rot.jpg").shape == (40, 20, 3)


def test_bad_inputs_give_clear_image_errors(tmp_path):
    (tmp_path / "notes.txt").write_text("hello, I am not a picture")
    with pytest.raises(ImageError, match="not an image"):
        load_image(tmp_path / "notes.txt")
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "missing.jpg")
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)
    data = (SAMPLES / "happy_astronaut.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageError, match="damaged or incomplete"):
        load_image(tmp_path / "cut.jpg")
    with pytest.raises(ImageError):
        load_image(data[:200])


def test_huge_jpeg_is_downscaled(tmp_path):
    path = tmp_path / "huge.jpg"
    Image.new("L", (10000, 10000), 128).save(path, quality=50)  # 100 megapixels: PIL's bomb warning
    img = load_image(path, max_side=2048)
    assert img.dtype == np.uint8 and img.shape == (2048, 2048, 3)
    assert abs(int(img[100, 100, 0]) - 128) <= 2


def test_huge_png_is_a_clear_error_not_a_traceback(tmp_path):
    path = tmp_path / "bomb.png"
    Image.new("1", (15000, 15000), 0).save(path)  # 225 megapixels: PIL's decompression-bomb error
    with pytest.raises(ImageError, match="too large"):
        load_image(path)
    from PIL import Image as PILImage

    assert PILImage.MAX_IMAGE_PIXELS is not None  # PIL's global guard is left in place
