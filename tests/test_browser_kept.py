"""What a user enters stays for the browser session (#42 item 1), in one real browser session moving between pages
through the sidebar as a user does: the Train form (a small CSV, 3 epochs), a photo uploaded on Compare, and on
Experiments the run opened in detail, the runs ticked, the open tab and a paired comparison's verdict.

Two tiny emotion models stand in for the shipped ones (with training histories, so Experiments lists them); the
synthetic data set stands in for FER2013. Screenshots: test-artifacts/kept-*.png.
Without Chromium or Playwright these tests skip locally and FAIL when $CI is set (tests/browser.py)."""
from __future__ import annotations

import json
import re
import shutil

import pytest

from core.config import TrainConfig
from core.data.synthetic import write_synthetic_csv
from harness.browser import ROOT, assert_no_exception, browser_page, goto_page, require_browser, screenshot, \
    serve_app, wait_for_app
from tests.helpers import biased_checkpoint

pytestmark = pytest.mark.browser

SET_TWICE = "was created with a default value but also had its value set"  # Streamlit's warning for a kept widget


def _history(folder, width: int) -> None:
    """graphs/<name>/: the config and three epochs, what makes a shipped model a read-only run on Experiments."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(TrainConfig(model="mini_xception", width=width, epochs=3).to_json())
    rows = [{"epoch": e, "train_loss": 1.9 - 0.1 * e, "train_acc": 0.2 + 0.05 * e, "val_loss": 1.95 - 0.1 * e,
             "val_acc": 0.18 + 0.04 * e, "lr": 0.01, "seconds": 3.0} for e in (1, 2, 3)]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _nav(page, name: str, expect_text: str) -> None:
    """To another page through the sidebar's navigation: the same browser session, as a user moves."""
    page.locator("[data-testid='stSidebarNav'] a").filter(has_text=name).first.click()
    wait_for_app(page, timeout=180, expect_text=expect_text)


def _choose(page, widget, option: str) -> None:
    """Pick `option` in a selectbox or multiselect (the locator of its stSelectbox/stMultiSelect element) by
    typing it, as a user who knows its name does."""
    widget.locator("input").first.click()
    page.keyboard.type(option)
    try:
        page.get_by_role("option").filter(has_text=option).first.click(timeout=30_000)
    except Exception:
        screenshot(page, "kept-choose-failed")
        raise
    page.keyboard.press("Escape")
    wait_for_app(page, timeout=180)


def test_what_the_user_entered_stays_when_moving_between_pages(tmp_path, app_model_dir, face_photo, synthetic_csv):
    require_browser()
    models, graphs = tmp_path / "models", tmp_path / "graphs"
    models.mkdir()
    shutil.copy(app_model_dir / "tiny.pt", models / "tiny-a.pt")
    biased_checkpoint(models / "tiny-b.pt", favourite=3)
    _history(graphs / "tiny-a", 8)
    _history(graphs / "tiny-b", 8)
    data = tmp_path / "data"
    small = write_synthetic_csv(data / "small.csv", n_per_class=12)  # readable: beside "FER2013"
    fer = shutil.copy(synthetic_csv, data / "fer2013.csv")
    photo = shutil.copy(face_photo, tmp_path / f"my-photo{face_photo.suffix.lower()}")
    df_home = tmp_path / "deepface-home"
    df_home.mkdir()
    log = ROOT / "test-artifacts" / "streamlit-kept.log"
    env = {"FEL_MODEL_DIR": models, "FEL_SHIPPED_GRAPHS_DIR": graphs, "FER2013_PATH": fer, "DEEPFACE_HOME": df_home,
           "FEL_RUNS_DIR": tmp_path / "runs", "FEL_GRAPHS_DIR": tmp_path / "run-graphs",
           "FEL_CACHE_DIR": tmp_path / "cache", "FEL_VIDEO_DIR": tmp_path / "videos"}
    with serve_app(env=env, log_path=log) as url, browser_page(viewport=(1400, 1000)) as page:
        main = page.locator("[data-testid='stMain']")
        # ---------------------------------------------------------------- Train: a small CSV, 3 epochs
        goto_page(page, url, "Train", timeout=180, expect_text="Training images")
        data_box = page.get_by_role("textbox", name="A FER2013-style CSV (.csv, .csv.gz) or a folder of class folders")
        data_box.fill(str(small))
        data_box.press("Enter")
        wait_for_app(page, timeout=180)
        epochs = page.get_by_role("spinbutton", name="Epochs", exact=True)
        epochs.fill("3")
        epochs.press("Enter")
        wait_for_app(page, timeout=180)
        assert data_box.input_value() == str(small) and epochs.input_value() == "3"

        # ---------------------------------------------------------------- Compare: a photo uploaded
        _nav(page, "Compare", "All results")
        main.locator("[data-testid='stRadio']").filter(has_text="Faces from").get_by_text("Upload", exact=True).click()
        wait_for_app(page, timeout=180)
        page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(photo))
        wait_for_app(page, timeout=180, expect_text="All results")
        assert main.get_by_role("heading", name=photo.name).count() == 1

        # ---------------------------------------------------------------- back to Train: the form as it was
        _nav(page, "Train", "Training images")
        assert data_box.input_value() == str(small), "the data set went back to the default"
        assert epochs.input_value() == "3", "the epochs went back to the recipe's"
        screenshot(page, "kept-train")

        # ---------------------------------------------------------------- back to Compare: the photo is still there
        _nav(page, "Compare", "All results")
        assert main.get_by_role("heading", name=photo.name).count() == 1, "the uploaded photo is gone"
        screenshot(page, "kept-compare")

        # ---------------------------------------------------------------- Experiments: a run in detail, a verdict
        _nav(page, "Experiments", "Curves")
        picks = main.locator("[data-testid='stMultiSelect']").filter(has_text="Runs to compare")
        if picks.locator("[data-tag]").filter(has_text="tiny-b").count() == 0:
            _choose(page, picks, "tiny-b")
        detail = main.locator("[data-testid='stSelectbox']").filter(
            has=page.locator("label").get_by_text(re.compile(r"^Run( or shipped model)?$"))).first
        _choose(page, detail, "tiny-b")
        assert main.locator(".fel-run-title").first.inner_text() == "tiny-b"
        page.get_by_role("tab", name="Compare two models").click()
        wait_for_app(page, timeout=180)
        page.get_by_role("button", name="Compare", exact=True).click()
        wait_for_app(page, timeout=240, expect_text="Verdict:")
        verdict = main.get_by_text("Verdict:").first.inner_text()

        _nav(page, "Compare", "All results")
        _nav(page, "Experiments", "Experiments")
        compare_tab = page.get_by_role("tab", name="Compare two models")
        assert compare_tab.get_attribute("aria-selected") == "true", "the open tab went back to Runs"
        assert main.get_by_text("Verdict:").first.is_visible(), "the verdict is gone"
        assert main.get_by_text("Verdict:").first.inner_text() == verdict
        screenshot(page, "kept-experiments-compare")
        page.get_by_role("tab", name="Runs").click()
        wait_for_app(page, timeout=180)
        assert picks.locator("[data-tag]").filter(has_text="tiny-b").count() == 1, "the ticked runs changed"
        assert main.locator(".fel-run-title").first.inner_text() == "tiny-b", "the run in detail changed"
        assert_no_exception(page)
        screenshot(page, "kept-experiments-runs")
    assert SET_TWICE not in log.read_text()
