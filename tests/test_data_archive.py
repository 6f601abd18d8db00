"""core.data.archive: labelled faces from a zip of class folders, and every broken zip a sentence (the Compare
page's batch accuracy; its page test drives the same through the uploader)."""
import io
import zipfile

import cv2
import numpy as np
import pytest

from core.data.archive import faces_from_zip, sample_split


def png(value: int) -> bytes:
    ok, buf = cv2.imencode(".png", np.full((48, 48), value, np.uint8))
    assert ok
    return buf.tobytes()


def zipped(entries: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_class_folders_under_a_top_folder_and_a_test_folder():
    images, labels, classes, what = faces_from_zip(zipped({f"faces/{c}/{i}.png": png(40 * i)
                                                           for c in ("happy", "sad") for i in range(3)}))
    assert classes == ("happy", "sad") and images.shape == (6, 1, 48, 48) and sorted(labels.tolist()) == [0] * 3 + [1] * 3
    assert what == "6 images (all its images), classes happy, sad"
    split = {f"{s}/{c}/{i}.png": png(10 * i) for s, n in (("train", 4), ("test", 2)) for c in ("happy", "sad")
             for i in range(n)}
    images, labels, classes, what = faces_from_zip(zipped(split))
    assert len(labels) == 4 and "its test/ folder" in what


@pytest.mark.parametrize("entries, message", [
    (b"PK\x03\x04 not really a zip", "not a zip archive"),
    ({}, "The zip is empty"),
    ({"readme.txt": b"hello"}, "no class folders"),
    ({"../evil/happy/a.png": b"x"}, "unsafe path"),
])
def test_a_broken_zip_is_a_sentence(entries, message):
    data = entries if isinstance(entries, bytes) else zipped(entries)
    with pytest.raises(ValueError, match=message):
        faces_from_zip(data)


def test_a_sample_of_a_split_is_fixed_by_its_seed(synthetic_csv):
    from core.data import load_dataset

    ds = load_dataset(synthetic_csv)
    a, b = sample_split(ds, "test", 10), sample_split(ds, "test", 10)
    assert len(a[1]) == 10 and a[1].tolist() == b[1].tolist() and a[2] == tuple(ds.classes)
    assert len(sample_split(ds, "test", 10 ** 6)[1]) == len(ds.splits["test"])
