import gzip

import numpy as np
import pytest
import torch

from core.data import DataError, detect_layout, load_dataset, normalize, to_stress
from core.labels import EMOTIONS, STRESS_CLASSES, stress_index, stress_probability
from core.data.synthetic import write_synthetic_csv, write_synthetic_folders


def _csv(path, rows, header="emotion,pixels,Usage"):
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def _row(label=0, n=2304, usage="Training", value="7"):
    return f"{label},{' '.join([value] * n)},{usage}"


def test_csv_layout_loads_splits_as_uint8(tmp_path):
    p = write_synthetic_csv(tmp_path / "s.csv", n_per_class=10)
    ds = load_dataset(p)
    assert ds.layout == "csv" and ds.classes == EMOTIONS
    assert sum(ds.sizes().values()) == 70
    for s in ds.splits.values():
        assert s.images.dtype == torch.uint8 and s.images.shape[1:] == (1, 48, 48)
        assert s.labels.dtype == torch.int64


def test_gzip_csv_and_cache_give_same_arrays(tmp_path):
    p = write_synthetic_csv(tmp_path / "s.csv.gz", n_per_class=5)
    a = load_dataset(p)
    b = load_dataset(p)  # from the cache
    c = load_dataset(p, cache=False)
    for name in ("train", "val", "test"):
        assert torch.equal(a.splits[name].images, b.splits[name].images)
        assert torch.equal(a.splits[name].labels, c.splits[name].labels)


def test_any_image_size(tmp_path):
    p = write_synthetic_csv(tmp_path / "s.csv", n_per_class=3)
    assert load_dataset(p, image_size=64).image_size == 64


@pytest.mark.parametrize("rows, match", [
    ([_row(), _row(n=2000)], r"line 3: pixels has 2000 values, expected 2304"),
    ([_row(label=9)], r"line 2: label '9' is not one of 0..6"),
    ([_row(label="x")], r"line 2: label 'x'"),
    ([_row(usage="Other")], r"line 2: Usage 'Other'"),
    ([_row(value="300")], r"line 2: a pixel value is outside 0..255"),
    ([_row(value="a")], r"not an integer"),
])
def test_bad_csv_rows_name_file_and_row(tmp_path, rows, match):
    p = _csv(tmp_path / "bad.csv", rows)
    with pytest.raises(DataError, match=match) as e:
        load_dataset(p, cache=False)
    assert "bad.csv" in str(e.value)


def test_missing_column_and_missing_path(tmp_path):
    with pytest.raises(DataError, match="missing column"):
        load_dataset(_csv(tmp_path / "x.csv", ["1,2"], header="label,stuff"), cache=False)
    with pytest.raises(DataError, match="no such file"):
        load_dataset(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="expected a FER2013-style"):
        detect_layout(_csv(tmp_path / "x.txt", []))


def test_truncated_gzip_is_a_clear_error(tmp_path):
    p = write_synthetic_csv(tmp_path / "s.csv.gz", n_per_class=5)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="cannot read"):
        load_dataset(p, cache=False)


def test_folder_layout_with_fer_classes_keeps_fer_order(tmp_path):
    root = write_synthetic_folders(tmp_path / "fer", n_per_class=10)
    ds = load_dataset(root, val_fraction=0.2, seed=1)
    assert ds.layout == "folders" and ds.classes == EMOTIONS
    assert ds.sizes() == {"train": 56, "val": 14, "test": 70}
    again = load_dataset(root, val_fraction=0.2, seed=1, cache=False)  # seeded: the same carve
    assert torch.equal(ds.splits["val"].labels, again.splits["val"].labels)
    assert torch.equal(ds.splits["val"].images, again.splits["val"].images)


def test_folder_layout_with_own_classes_and_any_size(tmp_path):
    root = write_synthetic_folders(tmp_path / "stress", classes=("stress", "no_stress"), n_per_class=10, size=64,
                                   ext=".jpg")
    ds = load_dataset(root, image_size=48)
    assert ds.classes == STRESS_CLASSES and ds.image_size == 48


def test_single_folder_of_classes_is_carved_into_three_splits(tmp_path):
    root = write_synthetic_folders(tmp_path / "flat", classes=("a", "b"), n_per_class=20, splits=("x",)) / "x"
    ds = load_dataset(root, val_fraction=0.1)
    assert ds.classes == ("a", "b") and ds.sizes() == {"train": 32, "val": 4, "test": 4}


def test_folder_errors(tmp_path):
    root = write_synthetic_folders(tmp_path / "d", classes=("a", "b"), n_per_class=3)
    (root / "train" / "c").mkdir()
    with pytest.raises(DataError, match=r"train/c: empty class folder"):
        load_dataset(root, cache=False)
    (root / "train" / "c" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"broken.png: unreadable"):
        load_dataset(root, cache=False)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no class folders"):
        load_dataset(empty, cache=False)


def test_stress_view_follows_the_mapping(tmp_path):
    ds = load_dataset(write_synthetic_csv(tmp_path / "s.csv", n_per_class=4))
    st = to_stress(ds)
    assert st.classes == STRESS_CLASSES
    expected = torch.tensor([1 if EMOTIONS[i] in ("angry", "fear", "sad") else 0 for i in ds.splits["train"].labels])
    assert torch.equal(st.splits["train"].labels, expected)
    custom = to_stress(ds, stress_emotions={"disgust"})
    assert set(custom.splits["train"].labels[ds.splits["train"].labels == 1].tolist()) == {1}
    assert stress_index(EMOTIONS).tolist() == [1, 0, 1, 0, 1, 0, 0]
    p = np.full(7, 1 / 7)
    assert stress_probability(p, EMOTIONS) == pytest.approx(3 / 7)


def test_normalize_is_shared_arithmetic():
    x = torch.tensor([[[[0, 255]]]], dtype=torch.uint8)
    assert normalize(x, 0.5, 0.5).flatten().tolist() == [-1.0, 1.0]


def test_fer2013_gz_written_by_gzip_module_reads(tmp_path):
    p = tmp_path / "one.csv.gz"
    with gzip.open(p, "wt") as f:
        f.write("emotion,pixels,Usage\n" + _row(3) + "\n" + _row(4, usage="PublicTest") + "\n"
                + _row(5, usage="PrivateTest") + "\n")
    ds = load_dataset(p, cache=False)
    assert ds.sizes() == {"train": 1, "val": 1, "test": 1}
