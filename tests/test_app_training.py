"""The Train and Experiments pages, driven with Streamlit's AppTest. The scripts run in-process; the runs they
start are real background processes (core.jobs), so the tests poll the run folders until done."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from tests.helpers import biased_checkpoint, kill_live_workers, page_texts, wait_for
from streamlit.testing.v1 import AppTest

from core import jobs as launcher
from core.config import TrainConfig
from core.runs import Run, list_runs, write_json
from core.train import train

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 240
EPOCHS_TO_STOP = 40


@pytest.fixture(autouse=True)
def synthetic_default(synthetic_csv, monkeypatch):
    """The synthetic data set is 'FER2013' for these pages; workers started here are ended afterwards."""
    monkeypatch.setenv("FER2013_PATH", str(synthetic_csv))
    yield
    kill_live_workers()




def page(name: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app_pages" / f"{name}.py"), default_timeout=90)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    return page_texts(at)


def n_charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def tiny_form(at: AppTest, **values) -> AppTest:
    """Fill the training form for a run of seconds (the model first: choosing it resets width and dropout)."""
    at.selectbox(key="tr_model").set_value(values.pop("model", "model48")).run()
    settings = dict(width=8, epochs=2, warmup_epochs=0.0, threads=1, lr=0.003)
    settings.update(values)
    for key, value in settings.items():
        if key in ("batch_size", "optimizer"):
            at.selectbox(key=f"tr_{key}").set_value(value)
        elif key == "name":
            at.text_input(key="tr_name").set_value(value)
        else:
            at.number_input(key=f"tr_{key}").set_value(value)
    at.selectbox(key="tr_optimizer").set_value(settings.get("optimizer", "adam"))
    at.selectbox(key="tr_batch_size").set_value(settings.get("batch_size", 32))
    return at.run()


def test_train_page_starts_a_run_shows_it_live_stops_and_resumes_it(synthetic_csv):
    at = page("train")
    assert at.text_input(key="tr_data").value == str(synthetic_csv)
    assert "Training images" in texts(at) and at.button(key="tr_start").disabled is False
    assert at.selectbox(key="tr_recipe").value in ("realtime", "accurate")
    # long enough (seconds an epoch) that it is still running when the page is looked at again on a busy machine
    tiny_form(at, epochs=EPOCHS_TO_STOP, batch_size=16, name="app run")
    at.button(key="tr_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    runs = list_runs()
    assert len(runs) == 1
    run = runs[0]
    cfg = run.config()
    assert (cfg.model, cfg.width, cfg.epochs, cfg.batch_size, cfg.name) == ("model48", 8, EPOCHS_TO_STOP, 16, "app run")
    assert at.session_state["tr_view"] == run.id and at.session_state["tr_tab"].endswith("Runs")

    wait_for(lambda: len(run.metrics()) >= 1, what="the first epoch")
    at.run()
    assert n_charts(at) >= 2, "loss and accuracy curves"
    assert "app run" in texts(at)
    at.button(key=f"live_{run.id}_stop").click().run()
    wait_for(lambda: run.state() in ("stopped", "finished"), what="the stop")
    assert run.state() == "stopped" and run.last_path.exists()
    at.run()
    assert "Stopped with a checkpoint" in texts(at)
    at.button(key=f"live_{run.id}_resume").click().run()
    wait_for(lambda: run.state() in ("finished", "failed"), what="the resumed run to end")
    assert run.state() == "finished", run.status()
    assert [r["epoch"] for r in run.metrics()] == list(range(1, EPOCHS_TO_STOP + 1))
    at.run()
    assert "Finished." in texts(at) and f"{EPOCHS_TO_STOP} / {EPOCHS_TO_STOP}" in texts(at)

    ex = page("experiments")
    df = ex.dataframe[0].value
    row = df[df["run_id"] == run.id].iloc[0]
    assert row["name"] == "app run" and row["status"] == "finished" and row["epochs"] == f"{EPOCHS_TO_STOP}/{EPOCHS_TO_STOP}"
    assert row["best val acc"] == pytest.approx(100 * run.summary()["best_val_acc"])
    assert row["test acc"] == pytest.approx(100 * run.summary()["test_acc"])
    assert n_charts(ex) >= 4  # overlay (2), confusion matrix, per-class accuracy


def test_invalid_settings_are_explained_and_nothing_starts(synthetic_csv):
    at = page("train")
    import torch

    assert ("on this machine's **GPU" if torch.cuda.is_available() else "on this machine's **CPU, ") in texts(at)
    tiny_form(at, epochs=1, warmup_epochs=5.0)
    at.button(key="tr_start").click().run()
    assert "warm-up must not be longer than the run" in texts(at)
    assert list_runs() == []
    at.text_input(key="tr_data").set_value(str(synthetic_csv.parent / "no-such-data.csv")).run()
    assert "no such file" in texts(at) and at.button(key="tr_start").disabled
    at.text_input(key="tr_data").set_value("/etc/passwd").run()  # a path of the server, not a data set folder
    assert "outside the folders this app reads" in texts(at) and at.button(key="tr_start").disabled


def test_a_run_can_learn_from_a_teacher_model(synthetic_csv, tmp_path, monkeypatch):
    """Distillation from the page: the picked checkpoint goes into the run's config and the worker uses it."""
    teacher = biased_checkpoint(tmp_path / "models" / "teacher.pt")
    monkeypatch.setenv("FEL_MODEL_DIR", str(tmp_path / "models"))
    at = page("train")
    assert at.selectbox(key="tr_teacher").value == "" and at.number_input(key="tr_distill").disabled
    tiny_form(at, epochs=1, name="pupil")
    at.selectbox(key="tr_teacher").set_value(str(teacher)).run()
    at.number_input(key="tr_distill").set_value(0.7).run()
    at.button(key="tr_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    run, = list_runs()
    assert (run.config().teacher, run.config().distill) == (str(teacher), 0.7)
    wait_for(lambda: run.state() in ("finished", "failed"), what="the distilled run to end")
    assert run.state() == "finished", run.status()
    assert "distilling from mini_xception" in (run.dir / "train.log").read_text()
    df = page("experiments").dataframe[0].value
    assert df[df["run_id"] == run.id].iloc[0]["teacher"] == "teacher (0.7)"


def test_a_run_can_start_from_a_trained_model(synthetic_csv, tmp_path, monkeypatch):
    """Fine-tuning from the page: a checkpoint of another width is refused with a message and nothing starts;
    the same architecture and width trains from its weights."""
    start = biased_checkpoint(tmp_path / "models" / "start.pt")  # mini_xception, width 8
    monkeypatch.setenv("FEL_MODEL_DIR", str(tmp_path / "models"))
    at = page("train")
    assert at.selectbox(key="tr_init").value == ""
    tiny_form(at, model="mini_xception", width=16, epochs=1, name="tuned")
    at.selectbox(key="tr_init").set_value(str(start)).run()
    at.button(key="tr_start").click().run()
    assert "--width 8" in texts(at) and list_runs() == []
    at.number_input(key="tr_width").set_value(8).run()
    at.button(key="tr_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    run, = list_runs()
    assert run.config().init == str(start)
    wait_for(lambda: run.state() in ("finished", "failed"), what="the fine-tuned run to end")
    assert run.state() == "finished", run.status()
    assert f"started from the weights of {start}" in (run.dir / "train.log").read_text()


def test_a_recipe_fills_in_its_teacher_and_starting_model_where_they_are_here(tmp_path, monkeypatch):
    teacher = biased_checkpoint(tmp_path / "models" / "seed-resnet.pt")
    monkeypatch.setenv("FEL_MODEL_DIR", str(tmp_path / "models"))
    at = page("train")
    at.selectbox(key="tr_recipe").set_value("realtime-distilled").run()
    assert at.selectbox(key="tr_teacher").value == str(teacher)
    assert at.selectbox(key="tr_init").value == ""  # no seed-vgg in this models folder: random weights
    at.selectbox(key="tr_recipe").set_value("quick").run()
    assert at.selectbox(key="tr_teacher").value == ""


def test_dead_processes_show_as_interrupted_or_failed_not_running(synthetic_csv):
    cfg = TrainConfig(data=str(synthetic_csv), model="model48", width=8, epochs=3, name="ghost")
    ghost = Run.create(cfg, state="queued")
    write_json(ghost.status_path, {"state": "running", "pid": os.getpid(), "pid_start": "not-this-process",
                                   "updated": time.time()})  # its process is gone (pid reused by another)
    broken = Run.create(TrainConfig(**{**cfg.__dict__, "name": "broken"}), state="queued")
    broken.set_status("failed", error="DataError: fer.csv row 12: 2303 pixels, expected 2304")

    at = AppTest.from_file(str(ROOT / "app_pages" / "train.py"), default_timeout=90)
    at.session_state["tr_view"] = ghost.id
    at.run()
    assert "Interrupted." in texts(at) and "running" not in at.selectbox(key="tr_view").format_func(ghost.id)
    assert at.button(key=f"live_{ghost.id}_resume").label == "Start"  # no checkpoint yet: it starts over
    at.selectbox(key="tr_view").set_value(broken.id).run()
    assert "Training failed." in texts(at) and "2303 pixels" in texts(at)
    assert at.button(key=f"live_{broken.id}_resume").label == "Retry"


def test_experiments_page_renames_promotes_evaluates_and_deletes(synthetic_csv):
    run = train(TrainConfig(data=str(synthetic_csv), model="model48", width=8, epochs=2, batch_size=32,
                            optimizer="adam", lr=3e-3, warmup_epochs=0, threads=1, name="to manage"), progress=False)
    at = page("experiments")
    assert at.multiselect(key="exp_pick").value == [run.id]
    at.text_input(key=f"exp_title_{run.id}").set_value("My best model")
    at.button(key=f"exp_save_{run.id}").click().run()
    assert run.info()["title"] == "My best model"
    at.toggle(key=f"exp_promote_{run.id}").set_value(True).run()
    assert run.info()["promoted"] is True
    assert at.dataframe[0].value.iloc[0]["name"] == "My best model"

    at.selectbox(key=f"exp_ev_tta_{run.id}").set_value("flip")
    at.button(key=f"exp_ev_go_{run.id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    saved = json.loads((run.dir / "evaluations.json").read_text())["items"]
    assert saved[0]["tta"] == "flip" and saved[0]["split"] == "test" and 0 <= saved[0]["accuracy"] <= 1
    at.run()
    assert any("flip TTA" in o for o in at.selectbox(key=f"exp_src_{run.id}").options)

    at.button(key=f"exp_del_{run.id}").click().run()
    assert "cannot be undone" in texts(at) and run.dir.exists()
    at.button(key=f"exp_del_yes_{run.id}").click().run()
    assert not run.dir.exists() and "Deleted My best model" in texts(at)


def test_a_search_started_from_the_page_shows_its_trials(synthetic_csv):
    at = page("experiments")
    at.text_input(key="se_name").set_value("page-search")
    at.number_input(key="se_trials").set_value(2)
    at.number_input(key="se_epochs").set_value(1)
    at.number_input(key="se_limit").set_value(100)
    at.selectbox(key="se_recipe").set_value("quick")
    at.multiselect(key="se_models").set_value(["model48"])
    at.checkbox(key="se_on_optimizer").uncheck()
    at.run()
    at.button(key="se_start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert launcher.search_processes()[0]["study"] == "page-search"
    wait_for(lambda: not launcher.search_alive("page-search"), what="the search to end")
    at.run()
    assert at.selectbox(key="se_view").value == "page-search"
    t = texts(at)
    assert "Trials: 2" in t and "Best so far" in t, t
    assert n_charts(at) >= 1
    trial_runs = [r for r in list_runs() if r.config().extra.get("study") == "page-search"]
    assert len(trial_runs) == 2 and all(r.config().model == "model48" for r in trial_runs)


def test_experiments_page_makes_an_int8_copy_that_joins_the_models(synthetic_csv, tmp_path, monkeypatch):
    from core.models.checkpoint import load_checkpoint
    from core.predict import discover_models

    monkeypatch.setenv("FEL_MODEL_DIR", str(tmp_path))
    run = train(TrainConfig(data=str(synthetic_csv), model="vgg", width=8, epochs=1, batch_size=32,
                            optimizer="adam", lr=3e-3, warmup_epochs=0, threads=1, name="fast one"), progress=False)
    at = page("experiments")
    assert at.text_input(key=f"exp_int8_name_{run.id}").value == "fast-one-int8"
    at.button(key=f"exp_int8_go_{run.id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Saved `fast-one-int8.pt`: validation" in texts(at)
    assert load_checkpoint(tmp_path / "fast-one-int8.pt")["quantized"]["dtype"] == "int8"
    assert [m.name for m in discover_models(tmp_path, runs="none")] == ["fast-one-int8 (vgg)"]
    at.button(key=f"exp_int8_go_{run.id}").click().run()  # the same name again: refused, nothing overwritten
    assert "exists already" in texts(at)


def test_shipped_models_histories_are_listed_beside_the_runs_read_only(synthetic_csv, monkeypatch):
    """A fresh clone's explorer is not empty: the shipped models' training histories (graphs/<name>/) are runs,
    marked shipped, with their cards' test figures; their curves overlay like any run's."""
    monkeypatch.setenv("FEL_SHIPPED_GRAPHS_DIR", str(ROOT / "graphs"))
    monkeypatch.setenv("FEL_MODEL_DIR", str(ROOT / "model"))
    run = train(TrainConfig(data=str(synthetic_csv), model="model48", width=8, epochs=1, batch_size=32,
                            optimizer="adam", lr=3e-3, warmup_epochs=0, threads=1, name="mine"), progress=False)
    at = page("experiments")
    table = at.dataframe[0].value
    shipped = table[table["status"] == "shipped"]
    assert {"seed-resnet", "seed-vgg", "realtime"} <= set(shipped["name"]) and run.id in set(table["run_id"])
    row = shipped[shipped["name"] == "seed-resnet"].iloc[0]
    card = json.loads((ROOT / "model" / "seed-resnet.card.json").read_text())
    assert row["test acc"] == pytest.approx(100 * card["test_none"]["accuracy"]) and row["epochs"] == "30/30"
    at.multiselect(key="exp_pick").set_value([run.id, "model:seed-resnet"]).run()
    assert not at.exception, [e.value for e in at.exception]
    at.selectbox(key="exp_detail").set_value("model:seed-resnet").run()
    assert not at.exception and "read-only" in texts(at)
    assert n_charts(at) >= 4  # the overlaid curves (2), its confusion matrix and per-class accuracy
    assert not any(b.key and b.key.startswith("exp_del_") and "seed-resnet" in b.key for b in at.button)


def test_a_run_learns_ferplus_votes_chosen_on_the_train_page(tmp_path, monkeypatch):
    """The labels choice: FER+'s votes (found beside the CSV) with a mode; the data box says where FER2013 and the
    people part, the summary says what will run, and the run's config and checkpoint carry it."""
    from core.data.synthetic import write_synthetic_ferplus

    csv_path, _ = write_synthetic_ferplus(tmp_path / "kaggle", n_per_class=20)
    monkeypatch.setenv("FER2013_PATH", str(csv_path))
    monkeypatch.setenv("FEL_DATA_ROOTS", str(tmp_path))
    at = page("train")
    assert at.radio(key="tr_labels").value == "fer2013" and at.selectbox(key="tr_label_mode").disabled
    assert at.metric[-1].value == "7"  # FER2013's classes
    at.radio(key="tr_labels").set_value("ferplus").run()
    at.selectbox(key="tr_label_mode").set_value("crossentropy").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = texts(at)
    assert "ten people" in shown and "fer2013new.csv" in shown
    assert "agrees with the people's most voted emotion on" in shown
    assert at.metric[-1].value == "8"  # contempt added
    tiny_form(at, epochs=1, batch_size=16, name="votes")
    assert "FER+ votes (crossentropy)" in texts(at)
    at.button(key="tr_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    run = list_runs()[0]
    assert (run.config().labels, run.config().label_mode) == ("ferplus", "crossentropy")
    wait_for(lambda: run.state() in ("finished", "failed"), TIMEOUT)
    assert run.state() == "finished", run.status()
    from core.models.checkpoint import checkpoint_meta, load_checkpoint

    assert checkpoint_meta(load_checkpoint(run.best_path)).classes[-1] == "contempt"
