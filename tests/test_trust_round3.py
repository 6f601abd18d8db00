"""Trust, round 3 (issue 31): a diverged run ends failed with its reason; a damaged file in one folder leaves the
others listed and working; names from data reach the pages as text, never as HTML."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.config import TrainConfig
from core.files import write_json
from core.runs import Run

ROOT = Path(__file__).resolve().parent.parent
DIVERGING = dict(model="mini_xception", width=8, epochs=2, batch_size=16, optimizer="sgd", lr=10.0, momentum=0.9,
                 warmup_epochs=0.0, threads=1, amp=False)  # NaN within the first epoch's batches


def cli(*args):
    return subprocess.run([sys.executable, "-m", "core", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)


def page(name: str, **state) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app_pages" / f"{name}.py"), default_timeout=90)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    parts = []
    for kind in ("markdown", "caption", "info", "success", "warning", "error", "code"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label}: {m.value}" for m in at.metric]
    return "\n".join(parts)


# ---------------------------------------------------------------- 1. a diverged run


def test_a_diverged_run_fails_with_its_reason_and_keeps_its_folder(synthetic_csv):
    from core.train import train

    run = train(TrainConfig(data=str(synthetic_csv), name="diverges", **DIVERGING), progress=False)
    st = run.status()
    assert st["state"] == "failed", st
    assert re.fullmatch(r"loss became (NaN|infinite) at epoch 1, batch \d+: lower the learning rate", st["error"])
    assert run.dir.is_dir() and run.metrics() == [] and not run.last_path.exists()
    assert "FAILED: loss became" in run.tail_log()


def test_the_pages_show_a_diverged_run_and_old_runs_with_null_losses(synthetic_csv, monkeypatch):
    from core.train import train

    monkeypatch.setenv("FER2013_PATH", str(synthetic_csv))
    failed = train(TrainConfig(data=str(synthetic_csv), name="diverges", **DIVERGING), progress=False)
    old = Run.create(TrainConfig(data=str(synthetic_csv), model="model48", epochs=2, name="old-nan"), state="finished")
    for epoch in (1, 2):  # what the old code wrote: the run "finished", its NaN losses saved as null
        old.append_metrics({"epoch": epoch, "train_loss": None, "train_acc": 0.14, "val_loss": None, "val_acc": 0.14,
                            "lr": 10.0, "seconds": 1.0})

    at = page("train", tr_view=failed.id)
    assert "Training failed." in texts(at) and "lower the learning rate" in texts(at)
    at.selectbox(key="tr_view").set_value(old.id).run()
    assert not at.exception, [e.value for e in at.exception]
    at = page("experiments", exp_pick=[old.id, failed.id])
    assert not at.exception


def test_a_search_marks_a_diverged_trial_failed(synthetic_csv):
    from optuna.trial import TrialState

    from core.jobs import search

    fixed = {k: v for k, v in DIVERGING.items() if k != "epochs"}
    study = search.run_search("diverging", n_trials=1, data=synthetic_csv, epochs=2, progress=False,
                              space={"label_smoothing": {"low": 0.0, "high": 0.1}}, fixed=fixed)
    trial = study.trials[0]
    assert trial.state == TrialState.FAIL
    assert "lower the learning rate" in trial.user_attrs["error"]
