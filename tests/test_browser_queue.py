"""The Train page never contradicts itself (#42 item 4): while a run goes from waiting to training and back, the
run's badge and the Queue panel beside it say the same thing at every moment, in a real browser watching the
page refresh by itself.

The run's state is set by the test (a search trial's run, which no worker of the queue takes), so the moments of
change are the test's. Without Chromium or Playwright this test skips locally and FAILS when $CI is set."""
from __future__ import annotations

import time

import pytest

from core.config import TrainConfig
from core.runs import Run
from harness.browser import assert_no_exception, browser_page, goto_page, require_browser, screenshot, serve_app, \
    wait_for_app

pytestmark = pytest.mark.browser

READ = """() => {
    const pill = document.querySelector(".fel-run-head .fel-pill");
    const captions = [...document.querySelectorAll("[data-testid='stCaptionContainer']")].map(c => c.innerText);
    return [pill ? pill.innerText : "", captions.find(c => c.includes(" waiting · ")) || ""];
}"""


def _contradiction(badge: str, queue: str) -> str:
    """What the two say that cannot both be true ("" when they agree)."""
    running, waiting = queue.startswith("1 running"), " 1 waiting" in queue
    if badge == "running" and not running:
        return f"badge {badge!r}, queue {queue!r}"
    if badge == "queued" and not waiting:
        return f"badge {badge!r}, queue {queue!r}"
    return ""


def _watch(page, want: str, seconds: float = 6.0) -> list[str]:
    """Sample the badge and the queue for `seconds` after a change; return the contradictions seen on two samples
    in a row (one sample could fall between two elements of the same refresh), after checking both show `want`."""
    seen, last, deadline = [], "", time.time() + seconds
    while time.time() < deadline:
        badge, queue = page.evaluate(READ)
        now = _contradiction(badge, queue)
        if now and last:
            seen.append(now)
        last = now
        time.sleep(0.2)
    badge, queue = page.evaluate(READ)
    assert badge == want, (badge, queue)
    return seen


def test_the_run_badge_and_the_queue_agree_while_the_run_changes_state(synthetic_csv, monkeypatch):
    require_browser()
    monkeypatch.setenv("FER2013_PATH", str(synthetic_csv))
    cfg = TrainConfig(data=str(synthetic_csv), model="model48", width=8, epochs=6, name="ux-tiny")
    run = Run.create(cfg, state="queued", managed="search")  # waits for its search's process: no worker takes it
    env = {"FEL_RUNS_DIR": run.dir.parent, "FER2013_PATH": synthetic_csv}
    with serve_app(env=env) as url, browser_page(viewport=(1400, 1000)) as page:
        goto_page(page, url, "Train", timeout=180, expect_text="Queue")
        page.locator(".fel-run-head").first.wait_for()
        wait_for_app(page, timeout=180)
        assert page.evaluate(READ)[0] == "queued"
        contradictions = []
        for i in range(4):
            if i % 2 == 0:
                run.set_status("running")  # this test's process "trains" it
                run.write_progress(epoch=2, epochs=6, step=3, steps=3)
                contradictions += _watch(page, "running")
            else:
                run.mark_queued(managed="search")
                contradictions += _watch(page, "queued")
            time.sleep(0.3 + 0.9 * i)  # the next change at another moment of the pages' refresh cycle
        screenshot(page, "train-queue-agrees")
        assert_no_exception(page)
        run.set_status("stopped")
    assert not contradictions, contradictions
