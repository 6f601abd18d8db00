"""Optuna search: a study in SQLite beside the runs, every trial a run folder, reloadable after a restart;
the background search the page starts, and its stop."""
from __future__ import annotations

import os
import signal

import pytest
from tests.helpers import wait_for

from core import jobs as launcher
from core.jobs import search
from core.runs import Run, list_runs, runs_root

FIXED = {"model": "model48", "width": 8, "batch_size": 32, "threads": 1, "warmup_epochs": 0, "optimizer": "adam"}
SPACE = {"lr": {"low": 1e-3, "high": 1e-2, "log": True}, "label_smoothing": {"low": 0.0, "high": 0.2}}




def test_trials_are_runs_in_a_study_that_survives_a_restart(synthetic_csv):
    study = search.run_search("tiny", n_trials=3, data=synthetic_csv, epochs=2, limit=120, progress=False,
                              space=SPACE, fixed=FIXED)
    assert (runs_root() / "optuna.db").exists()
    assert len(study.trials) == 3
    for t in study.trials:
        run = Run.open(t.user_attrs["run_id"])
        cfg = run.config()
        assert cfg.name == f"tiny-t{t.number}" and cfg.extra == {"study": "tiny", "trial": t.number}
        assert cfg.lr == pytest.approx(t.params["lr"]) and cfg.model == "model48" and cfg.epochs == 2
        assert run.state() in ("finished", "stopped")  # stopped = pruned
        if t.state.name == "COMPLETE":
            assert t.value == pytest.approx(run.summary()["best_val_acc"])
    assert {r.config().name for r in list_runs()} == {"tiny-t0", "tiny-t1", "tiny-t2"}

    search._STORAGES.clear()  # a restart: nothing cached in memory
    again = search.load_study("tiny")
    assert [t.number for t in again.trials] == [0, 1, 2]
    assert again.user_attrs["space"] == SPACE and again.user_attrs["epochs"] == 2
    listed = {s["name"]: s for s in search.list_studies()}
    assert listed["tiny"]["n_trials"] == 3
    assert len(search.trials_table(again)) == 3

    more = search.run_search("tiny", n_trials=1, data=synthetic_csv, epochs=2, limit=120, progress=False,
                             fixed=FIXED)  # the stored space is used
    assert len(more.trials) == 4 and set(more.trials[-1].params) == set(SPACE)


def test_unknown_study_and_bad_spaces_are_explained(synthetic_csv):
    with pytest.raises(ValueError, match="no study"):
        search.load_study("nothing")
    errs = search.validate_space({"lr": {"low": 0.1, "high": 0.01}, "colour": {"choices": [1]},
                                  "weight_decay": {"low": 0, "high": 0.01, "log": True},
                                  "optimizer": {"choices": ["rmsprop"]}, "batch_size": {"choices": []}})
    text = " | ".join(errs)
    for part in ("low must not be above high", "'colour' cannot be searched", "log-uniform range must start above 0",
                 "'rmsprop' is not allowed", "pick at least one choice"):
        assert part in text, text
    assert search.validate_space(search.default_space(["model48", "vgg"])) == []
    with pytest.raises(ValueError, match="study name"):
        search.run_search("../up", data=synthetic_csv)


def test_a_background_search_runs_and_stops_cleanly(synthetic_csv):
    rec = launcher.start_search("bg", n_trials=3, epochs=30, limit=150, data=synthetic_csv, space=SPACE,
                                fixed={**FIXED, "batch_size": 16}, recipe="quick")
    try:
        assert launcher.search_alive("bg") and rec["pid"] != os.getpid()
        with pytest.raises(ValueError, match="already running"):
            launcher.start_search("bg", data=synthetic_csv, space=SPACE)

        def first_trial_run():
            runs = [r for r in list_runs() if r.config().extra.get("study") == "bg"]
            return runs[0] if runs and runs[0].metrics() else None

        wait_for(first_trial_run, what="the first trial's first epoch")
        run = first_trial_run()
        assert run.status()["managed"] == "search" and run.state() == "running"
        launcher.stop_search("bg")
        wait_for(lambda: not launcher.search_alive("bg"), 120, "the search process to end")
        assert run.state() == "stopped" and run.last_path.exists()  # resumable like any stopped run
        study = search.load_study("bg")
        assert len(study.trials) == 1 and study.trials[0].state.name == "PRUNED"
        assert "Traceback" not in launcher.search_log("bg", lines=200)
        procs = launcher.search_processes()
        assert procs[0]["study"] == "bg" and procs[0]["alive"] is False
    finally:
        if launcher.search_alive("bg"):
            os.kill(rec["pid"], signal.SIGKILL)
