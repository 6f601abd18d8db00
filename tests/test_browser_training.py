"""The Train and Experiments pages in a real headless Chromium: the app is served by `streamlit run`, a run is
started from the browser and watched to the end, and every page and tab is saved as a screenshot under
test-artifacts/ (train-new-run.png, train-runs.png, experiments-runs.png, experiments-search.png).

Without Chromium or Playwright these tests skip locally and FAIL when $CI is set (harness/browser.py)."""
from __future__ import annotations

import os
import signal
import time

import pytest

from core import jobs as launcher
from core.config import TrainConfig
from core.runs import list_runs
from core.train import train
from harness.browser import assert_no_exception, browser_page, goto_page, require_browser, screenshot, serve_app, \
    wait_for_app

pytestmark = pytest.mark.browser


def _settle(page, seconds: float = 1.0) -> None:
    time.sleep(seconds)
    wait_for_app(page)


def test_train_and_experiments_pages_in_a_browser(synthetic_csv, monkeypatch):
    require_browser()
    monkeypatch.setenv("FER2013_PATH", str(synthetic_csv))
    done = train(TrainConfig(data=str(synthetic_csv), model="model48", width=8, epochs=3, batch_size=32,
                             optimizer="adam", lr=3e-3, warmup_epochs=0, threads=1, name="baseline"), progress=False)
    done.update_info(promoted=True)
    from core.jobs.search import run_search

    run_search("browser-demo", n_trials=2, data=synthetic_csv, epochs=2, limit=120, progress=False,
               space={"lr": {"low": 1e-3, "high": 1e-2, "log": True}},
               fixed={"model": "model48", "width": 8, "batch_size": 32, "threads": 1, "warmup_epochs": 0})
    env = {k: os.environ[k] for k in ("FEL_RUNS_DIR", "FEL_GRAPHS_DIR", "FEL_CACHE_DIR", "FER2013_PATH")}
    try:
        with serve_app(env=env) as url, browser_page(viewport=(1400, 1000)) as page:
            # ---------------------------------------------------------------- Train: the form
            goto_page(page, url, "Train")
            page.get_by_role("heading", name="Train a model").wait_for()
            page.get_by_role("tab", name="New run").click()
            _settle(page)
            page.get_by_text("Training images").first.wait_for()
            start = page.get_by_role("button", name="Start training")
            assert start.is_enabled()
            for label in ("Recipe", "Model", "Learning rate", "Weight decay", "Label smoothing"):
                assert page.get_by_label(label, exact=True).count() >= 1, label
            assert_no_exception(page)
            screenshot(page, "train-new-run")

            # ---------------------------------------------------------------- start a short run and watch it
            epochs = page.get_by_role("spinbutton", name="Epochs", exact=True)
            epochs.fill("2")
            epochs.press("Enter")
            _settle(page)
            name = page.get_by_role("textbox", name="Name of the run (optional)")
            name.fill("from the browser")
            name.press("Enter")
            _settle(page)
            start.click()
            page.get_by_text("Epochs done").first.wait_for(timeout=60_000)
            started = [r for r in list_runs() if r.config().name == "from the browser"]
            assert len(started) == 1
            run = started[0]
            deadline = time.time() + 240
            while run.state() in ("queued", "running") and time.time() < deadline:
                time.sleep(0.5)
            assert run.state() == "finished", run.status()
            assert [r["epoch"] for r in run.metrics()] == [1, 2] and run.config().epochs == 2
            # the live view notices by itself (it refreshes every few seconds): no reload here
            try:
                page.locator("[data-testid='stAlert']", has_text="Best validation accuracy").first.wait_for(
                    timeout=60_000)
            except Exception:
                screenshot(page, "train-runs-failed")
                raise
            _settle(page, 2)
            screenshot(page, "train-runs")
            assert page.locator("[data-testid='stPlotlyChart']:visible").count() >= 2
            assert_no_exception(page)

            # ---------------------------------------------------------------- Experiments: runs
            goto_page(page, url, "Experiments")
            page.get_by_role("heading", name="Experiments").first.wait_for()
            page.locator("[data-testid='stDataFrame']").first.wait_for()
            page.get_by_role("heading", name="Curves").wait_for()
            _settle(page, 2)
            assert page.locator("[data-testid='stPlotlyChart']").count() >= 4
            assert_no_exception(page)
            screenshot(page, "experiments-runs")

            # ---------------------------------------------------------------- Experiments: search
            page.get_by_role("tab", name="Hyper-parameter search").click()
            _settle(page, 2)
            page.get_by_role("heading", name="Studies").wait_for()
            page.get_by_text("Best so far").first.wait_for()
            assert page.locator("[data-testid='stPlotlyChart']:visible").count() >= 1  # Optuna's history
            page.get_by_text("Start a new search").click()
            page.get_by_role("button", name="Start search").wait_for()
            _settle(page)
            assert_no_exception(page)
            screenshot(page, "experiments-search")
    finally:
        for w in launcher.live_workers():
            try:
                os.kill(w["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass
