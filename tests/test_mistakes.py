"""The faces behind the errors: one confusion cell or every mistake, surest first, written as a CSV and a grid."""
import csv

import cv2
import numpy as np

from core.evaluate import mistakes
from core.workflows.mistakes import write_mistakes

PROBS = np.array([[0.6, 0.3, 0.1],   # 0: true 1, says 0 (60%)
                  [0.1, 0.8, 0.1],   # 1: true 1, right
                  [0.9, 0.05, 0.05],  # 2: true 2, says 0 (90%)
                  [0.2, 0.1, 0.7],   # 3: true 1, says 2 (70%)
                  [0.1, 0.2, 0.7]])  # 4: true 2, right
LABELS = np.array([1, 1, 2, 1, 2])


def test_mistakes_surest_first_and_one_cell():
    assert mistakes(PROBS, LABELS).tolist() == [2, 3, 0]
    assert mistakes(PROBS, LABELS, true=1).tolist() == [3, 0]
    assert mistakes(PROBS, LABELS, true=1, pred=0).tolist() == [0]
    assert mistakes(PROBS, LABELS, true=2, pred=2).tolist() == [4]  # the diagonal: the faces it gets right
    assert mistakes(np.zeros((0, 3)), []).tolist() == []


def test_write_mistakes_csv_and_grid(tmp_path):
    images = np.random.default_rng(0).integers(0, 255, (5, 1, 48, 48), dtype=np.uint8)
    r = write_mistakes(tmp_path / "out", images, PROBS, LABELS, ["a", "b", "c"], top=2)
    assert (r["mistakes"], r["shown"]) == (3, 2)
    rows = list(csv.DictReader(open(r["csv"])))
    assert [(x["face"], x["true"], x["predicted"]) for x in rows] == [("2", "c", "a"), ("3", "b", "c"), ("0", "b", "a")]
    grid = cv2.imread(r["png"], cv2.IMREAD_GRAYSCALE)
    assert grid.shape == (96 + 30, 10 * 96)
