"""FER+ in a real browser: the Train page's labels choice (FER+'s votes, contempt as an eighth class, where FER2013 and
the people part) and Compare's data set faces narrowed to those whose FER2013 label is not what the people said,
each with the people's votes. A small FER2013 CSV with FER+'s votes beside it stands in for Kaggle's pair.
Screenshots: test-artifacts/votes-*.png. Without Chromium or Playwright these tests skip locally and FAIL when $CI
is set (harness/browser.py)."""
from __future__ import annotations

import pytest

from core.data.synthetic import write_synthetic_ferplus
from harness.browser import (assert_no_exception, browser_page, goto_page, require_browser, screenshot, serve_app,
                             wait_for_app)
from tests.helpers import biased_checkpoint

pytestmark = pytest.mark.browser


def _pick_radio(page, option: str) -> None:
    page.locator("[data-testid='stRadio'] label").filter(has_text=option).first.click()
    wait_for_app(page, timeout=180)


def test_ferplus_on_the_train_and_compare_pages(tmp_path):
    require_browser()
    csv_path, _ = write_synthetic_ferplus(tmp_path / "kaggle", n_per_class=20)
    models = tmp_path / "models"
    models.mkdir()
    biased_checkpoint(models / "always-happy.pt", favourite=3)
    env = {"FER2013_PATH": str(csv_path), "FEL_DATA_ROOTS": str(tmp_path), "FEL_MODEL_DIR": str(models),
           "FEL_RUNS_DIR": str(tmp_path / "runs"), "FEL_GRAPHS_DIR": str(tmp_path / "graphs"),
           "FEL_CACHE_DIR": str(tmp_path / "cache"), "DEEPFACE_HOME": str(tmp_path / "df")}
    with serve_app(env=env) as url, browser_page() as page:
        goto_page(page, url, "Train", timeout=180, expect_text="Labels")
        _pick_radio(page, "FER+ (ten people's votes)")
        page.get_by_text("ten people label every FER2013 face", exact=False).first.wait_for(timeout=120_000)
        page.get_by_text("agrees with the people's most voted emotion", exact=False).first.wait_for(timeout=120_000)
        assert_no_exception(page)
        classes = page.locator("[data-testid='stMetric']").filter(has_text="Classes")
        assert classes.first.inner_text().split()[-1] == "8"  # contempt added
        screenshot(page, "votes-train")

        goto_page(page, url, "Compare", timeout=180)
        _pick_radio(page, "Data set")
        page.get_by_text("Faces where").first.wait_for(timeout=120_000)
        _pick_radio(page, "FER2013's label is not what people said")
        page.get_by_text("FER+'s ten votes for the same face", exact=False).first.wait_for(timeout=120_000)
        assert_no_exception(page)
        screenshot(page, "votes-compare")
