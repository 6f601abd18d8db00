"""core.data.counts: a CSV's split sizes and class counts from its labels alone are those `load_dataset` finds
after decoding every face, with a Usage column, without one (seeded carving), with Training rows only, and in
the stress view; wrong labels are refused with their line, and image folders are left to the full read."""
from __future__ import annotations

import pytest

from core.data import DataError, load_dataset
from core.data.counts import label_counts
from core.data.synthetic import write_synthetic_csv


def _drop_usage(src, dst, keep=None):
    lines = src.read_text().splitlines()
    rows = [line.rsplit(",", 1) for line in lines[1:]]
    if keep is None:
        dst.write_text("emotion,pixels\n" + "\n".join(r[0] for r in rows) + "\n")
    else:
        dst.write_text(lines[0] + "\n" + "\n".join(",".join(r) for r in rows if r[1] in keep) + "\n")
    return dst


def _full(path, task="emotion", **kw) -> dict:
    ds = load_dataset(path, task=task, cache=False, **kw)
    return {"layout": ds.layout, "classes": list(ds.classes), "sizes": ds.sizes(), "counts": ds.class_counts("train")}


@pytest.mark.parametrize("variant", ["usage", "no-usage", "training-only"])
@pytest.mark.parametrize("task", ["emotion", "stress"])
def test_label_counts_are_what_the_full_read_finds(tmp_path, variant, task):
    csv = write_synthetic_csv(tmp_path / "syn.csv", n_per_class=15)
    if variant == "no-usage":
        csv = _drop_usage(csv, tmp_path / "bare.csv")
    elif variant == "training-only":
        csv = _drop_usage(csv, tmp_path / "train-only.csv", keep={"Training"})
    assert label_counts(csv, task=task, val_fraction=0.2, seed=3) == _full(csv, task, val_fraction=0.2, seed=3)


def test_a_gzipped_csv_is_counted_too(tmp_path):
    csv = write_synthetic_csv(tmp_path / "syn.csv.gz", n_per_class=5)
    assert label_counts(csv) == _full(csv)


def test_wrong_labels_are_refused_with_their_line(tmp_path):
    csv = write_synthetic_csv(tmp_path / "syn.csv", n_per_class=5)
    lines = csv.read_text().splitlines()
    lines[3] = "9" + lines[3][1:]
    csv.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="line 4: label '9'"):
        label_counts(csv)
    no_pixels = tmp_path / "no-pixels.csv"
    no_pixels.write_text("emotion,Usage\n3,Training\n")
    with pytest.raises(DataError, match="missing column"):
        label_counts(no_pixels)


def test_image_folders_are_left_to_the_full_read(tmp_path):
    (tmp_path / "happy").mkdir()
    assert label_counts(tmp_path) is None
