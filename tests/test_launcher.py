"""The launcher and its worker: runs train in real background processes that outlive their starter, one at
a time, stop and resume cleanly, survive a killed worker, and never write outside the runs folder."""
from __future__ import annotations

import os
import signal
import threading

import pytest
from tests.helpers import kill_live_workers
from tests.helpers import wait_for as _wait_for

from core import jobs as launcher
from core.config import TrainConfig
from core.processes import pid_alive
from core.runs import Run, check_run_id, list_runs
from core.settings import runs_root

TIMEOUT = 240  # the machine is shared: generous, the runs themselves take seconds


def cfg(data, **kw) -> TrainConfig:
    base = dict(data=str(data), model="model48", width=8, epochs=2, batch_size=32, optimizer="adam", lr=3e-3,
                warmup_epochs=0, threads=1)
    return TrainConfig(**{**base, **kw})




def wait_for(pred, timeout=TIMEOUT, what="condition"):
    _wait_for(pred, timeout, what, poll=0.1)


def wait_state(run: Run, states, timeout=TIMEOUT) -> str:
    states = (states,) if isinstance(states, str) else tuple(states)
    wait_for(lambda: run.state() in states, timeout, f"{run.id} to be {'/'.join(states)} (is {run.state()}; "
             f"log: {run.tail_log(5)!r})")
    return run.state()


def epochs_of(run: Run) -> list[int]:
    return [r["epoch"] for r in run.metrics()]


@pytest.fixture(autouse=True)
def no_stray_workers():
    """Whatever happens, the workers a test started are ended (by pid, from this test's registry)."""
    yield
    kill_live_workers()


def test_submit_trains_in_a_background_worker(synthetic_csv):
    run = launcher.submit(cfg(synthetic_csv, name="bg"))
    assert run.status()["state"] in ("queued", "running")
    workers = launcher.live_workers()
    assert len(workers) == 1 and workers[0]["pid"] != os.getpid()
    assert wait_state(run, ("finished", "failed")) == "finished", run.status()
    assert epochs_of(run) == [1, 2]
    assert run.summary()["test_acc"] >= 0 and run.best_path.exists()
    assert run.status()["pid"] == workers[0]["pid"]  # trained by the worker, not by us
    assert (run.dir / "output.log").exists()
    wait_for(lambda: not launcher.live_workers(), 30, "the worker to exit on an empty queue")


def test_stop_then_resume_continues_with_an_unbroken_metrics_file(synthetic_csv):
    run = launcher.submit(cfg(synthetic_csv, name="stop-resume", epochs=8, batch_size=16))
    wait_for(lambda: len(run.metrics()) >= 1, what="the first epoch")
    assert launcher.stop(run) == "stopping"
    assert wait_state(run, ("stopped", "finished")) == "stopped"
    assert run.last_path.exists() and len(run.metrics()) < 8
    assert "stopped at epoch" in run.tail_log(5)

    launcher.resume(run)
    assert run.status()["resume"] is True
    assert wait_state(run, ("finished", "failed")) == "finished", run.status()
    assert epochs_of(run) == list(range(1, 9))  # every epoch exactly once
    assert "resumed at epoch" in run.log_path.read_text()
    with pytest.raises(ValueError, match="has finished"):
        launcher.resume(run)


def test_a_killed_worker_leaves_an_interrupted_run_that_resumes(synthetic_csv):
    run = launcher.submit(cfg(synthetic_csv, name="killed", epochs=6, batch_size=16))
    wait_for(lambda: len(run.metrics()) >= 1, what="the first epoch")
    pid = run.status()["pid"]
    os.kill(pid, signal.SIGKILL)
    assert wait_state(run, "interrupted", 30) == "interrupted"
    assert not pid_alive(pid)
    assert launcher.live_workers() == []  # the registry checks the process, not the file

    launcher.resume(run)
    assert wait_state(run, ("finished", "failed")) == "finished", run.status()
    assert epochs_of(run) == list(range(1, 7))


def test_a_queued_run_is_cancelled_without_starting_and_can_be_started_later(synthetic_csv):
    run = launcher.submit(cfg(synthetic_csv, name="later"), start_worker=False)
    assert run.state() == "queued" and launcher.queue_position(run) == 1
    with pytest.raises(ValueError, match="already queued"):
        launcher.resume(run)
    assert launcher.stop(run) == "cancelled"
    assert run.state() == "stopped" and run.status()["cancelled"] is True
    assert not run.last_path.exists() and run.metrics() == []
    with pytest.raises(ValueError, match="not queued"):
        launcher.cancel(run)
    launcher.resume(run, start_worker=False)
    assert run.state() == "queued" and "cancelled" not in run.status()


def test_hostile_names_stay_inside_the_runs_root(synthetic_csv):
    for name in ("../../etc/passwd", "/abs/path", "..", "a b/c\\d", "....", "💥", "~/x", "$(rm -rf /)"):
        run = launcher.submit(cfg(synthetic_csv, name=name), start_worker=False)
        assert run.dir.resolve().parent == runs_root().resolve()
        assert check_run_id(run.id) == run.id
    for bad in ("../x", "a/b", "..", "", "-rf", "x" * 200):
        with pytest.raises(ValueError):
            check_run_id(bad)
    for bad in ("../s", "a b", "", "-x", "s;rm"):
        with pytest.raises(ValueError):
            launcher.check_study_name(bad)
    with pytest.raises(ValueError):
        launcher.start_search("../evil", data=str(synthetic_csv))


def test_invalid_configs_are_refused_before_anything_is_made(synthetic_csv):
    with pytest.raises(ValueError, match="warm-up must not be longer"):
        launcher.submit(cfg(synthetic_csv, epochs=1, warmup_epochs=5))
    with pytest.raises(ValueError, match="no-such-teacher"):
        launcher.submit(cfg(synthetic_csv, epochs=1, teacher="no-such-teacher.pt"))
    assert launcher.queued_runs() == [] and launcher.live_workers() == [] and list_runs() == []


def test_two_users_at_once_get_two_runs_that_train_one_after_the_other(synthetic_csv):
    runs, errors = [], []

    def start():
        try:
            runs.append(launcher.submit(cfg(synthetic_csv, name="same name")))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(runs) == 2 and runs[0].dir != runs[1].dir
    assert len(launcher.live_workers()) == 1  # max_parallel 1: one worker for both
    for r in runs:
        assert wait_state(r, ("finished", "failed")) == "finished", r.status()
    a, b = sorted(runs, key=lambda r: r.status()["started"])
    assert b.status()["started"] >= a.status()["updated"] - 0.01  # b began after a had finished


def test_a_failing_run_is_recorded_and_the_queue_goes_on(synthetic_csv, tmp_path):
    bad = launcher.submit(cfg(tmp_path / "missing.csv", name="bad"))
    good = launcher.submit(cfg(synthetic_csv, name="good", epochs=1))
    assert wait_state(bad, ("failed", "finished")) == "failed"
    assert "no such file" in bad.status()["error"]
    assert wait_state(good, ("finished", "failed")) == "finished"


def test_runs_at_once_setting_is_checked_and_kept():
    assert launcher.max_parallel() == 1
    assert launcher.set_max_parallel(2) == 2 and launcher.max_parallel() == 2
    for bad in (0, 99):
        with pytest.raises(ValueError):
            launcher.set_max_parallel(bad)
    assert launcher.max_parallel() == 2
