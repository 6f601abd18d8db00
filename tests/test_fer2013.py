"""The real data set from ../shared (CI points FER2013_PATH at it; missing there = failure)."""
import pytest
import torch

from core.data import to_stress
from core.labels import EMOTIONS

pytestmark = pytest.mark.fer2013


def test_fer2013_splits_and_classes(fer2013_dataset):
    ds = fer2013_dataset
    assert ds.classes == EMOTIONS
    assert ds.sizes() == {"train": 28709, "val": 3589, "test": 3589}
    assert ds.splits["train"].images.shape == (28709, 1, 48, 48)
    assert ds.splits["train"].images.dtype == torch.uint8
    counts = ds.class_counts("train")
    assert counts["happy"] == max(counts.values()) and counts["disgust"] == min(counts.values())


def test_fer2013_stress_view(fer2013_dataset):
    st = to_stress(fer2013_dataset)
    share = st.splits["train"].labels.float().mean().item()
    assert 0.3 < share < 0.5  # angry + fear + sad are about 45 % of FER2013
