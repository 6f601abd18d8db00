"""Training's end, its live curves and promotion (#32, items 3-5): the final test says how far it is (progress.json,
the CLI's bar) and is as cheap as it can be (each view once; no ten crops in quick runs and search trials unless
asked); the live curves have points within the epoch, kept in step with the checkpoint on resume; a promoted run is
listed first, by its name, and the switch says what it does."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from core.config import TrainConfig
from core.data import load_dataset
from core.evaluate import predict_plain_and_tta, predict_probs
from core.models import create_model
from core.runs import Run
from core.train import train
from core.train.loop import STEP_POINTS, _FinalTest, _StopFlag
from core.train.recipes import recipe_config
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parent.parent


def _cfg(data, **kw):
    base = dict(data=str(data), model="model48", width=8, epochs=2, batch_size=32, optimizer="adam", lr=3e-3,
                warmup_epochs=0, threads=1)
    return TrainConfig(**{**base, **kw})


# ---------------------------------------------------------------- 3. the final test


@pytest.mark.parametrize("crop,tta", [(0, "tencrop"), (40, "tencrop"), (0, "flip"), (40, "flip")])
def test_plain_and_ten_crop_in_one_pass_per_view_match_the_separate_passes(crop, tta):
    torch.manual_seed(0)
    model = create_model("model48", num_classes=7, width=8)  # global pooling: any input size
    images = torch.randint(0, 256, (37, 1, 48, 48), dtype=torch.uint8)
    size = crop or None
    seen = []
    plain, ten = predict_plain_and_tta(model, images, 0.5, 0.25, tta, batch_size=16, input_size=size,
                                       progress=lambda done, total: seen.append((done, total)))
    assert torch.allclose(plain, predict_probs(model, images, 0.5, 0.25, None, input_size=size), atol=1e-5)
    assert torch.allclose(ten, predict_probs(model, images, 0.5, 0.25, tta, input_size=size), atol=1e-5)
    assert seen == [(16, 37), (32, 37), (37, 37)]
    only, none = predict_plain_and_tta(model, images, 0.5, 0.25, None, input_size=size)
    assert none is None and torch.allclose(only, plain)


def test_quick_runs_and_search_trials_skip_ten_crops_unless_asked():
    assert recipe_config("quick").tencrop_test is False
    assert recipe_config("realtime").tencrop_test is True and TrainConfig().tencrop_test is True
    assert TrainConfig.from_dict({"model": "vgg"}).tencrop_test is True  # a run made before the field: as before


def test_search_trials_skip_ten_crops_unless_the_search_fixes_it(synthetic_csv):
    from core.jobs.search import run_search

    study = run_search("tc", n_trials=1, data=str(synthetic_csv), epochs=1, limit=64, progress=False,
                       space={"lr": {"low": 1e-3, "high": 2e-3}}, fixed={"width": 8, "threads": 1, "batch_size": 32})
    run = Run.open(study.trials[0].user_attrs["run_id"])
    assert run.config().tencrop_test is False and run.summary()["test_tencrop_acc"] is None
    asked = run_search("tc2", n_trials=1, data=str(synthetic_csv), epochs=1, limit=64, progress=False,
                       space={"lr": {"low": 1e-3, "high": 2e-3}},
                       fixed={"width": 8, "threads": 1, "batch_size": 32, "tencrop_test": True})
    run = Run.open(asked.trials[0].user_attrs["run_id"])
    assert run.config().tencrop_test is True and 0 <= run.summary()["test_tencrop_acc"] <= 1


def test_a_search_from_the_shell_asks_for_ten_crops_with_a_flag_its_other_workers_get_too():
    from core.cli import build_parser
    from core.cli.search import _worker_argv

    a = build_parser().parse_args(["search", "--study", "s", "--workers", "2", "--tencrop-test"])
    assert a.tencrop_test is True and "--tencrop-test" in _worker_argv(a)
    assert build_parser().parse_args(["search"]).tencrop_test is False


def test_the_final_test_writes_its_progress_and_skips_ten_crops_when_told(synthetic_csv):
    run = train(_cfg(synthetic_csv, tencrop_test=False, name="plain"), progress=False)
    assert run.state() == "finished"
    p = run.progress()
    n_val, n_test = (run.summary()["sizes"][s] for s in ("val", "test"))
    assert (p["phase"], p["done"], p["total"], p["views"]) == ("test", n_val + n_test, n_val + n_test, 1)
    assert run.summary()["test_tencrop_acc"] is None and 0 <= run.summary()["test_acc"] <= 1
    assert "ten-crop" not in run.tail_log(2).splitlines()[-1]
    both = train(_cfg(synthetic_csv, name="ten"), progress=False)
    p = both.progress()
    assert p["views"] == 11 and p["done"] == p["total"] == n_val + 11 * n_test  # the plain view, then ten crops
    assert 0 <= both.summary()["test_tencrop_acc"] <= 1


def test_a_stop_during_the_final_test_ends_the_run_stopped_and_resume_tests_again(synthetic_csv):
    cfg = _cfg(synthetic_csv, epochs=1, name="stop-in-test")
    run = train(cfg, progress=False)
    run.set_status("running")
    stop = _StopFlag()
    stop.set = True
    ds = load_dataset(str(synthetic_csv), image_size=48)
    _FinalTest(run, ds, cfg, stop, progress=False).finish()
    assert run.status()["state"] == "stopped" and "stopped during the final test" in run.tail_log(1)
    train(run=run, resume=True, progress=False)
    assert run.state() == "finished" and run.summary()["test_acc"] is not None


def test_the_cli_shows_the_final_test_progress(synthetic_csv):
    r = run_cli("train", "--data", synthetic_csv, "--model", "model48", "--width", "8", "--epochs", "1",
                "--batch-size", "32", "--threads", "1", "--warmup-epochs", "0", "--no-tencrop-test", "--name", "cli")
    assert r.returncode == 0, r.stderr
    assert "final test: 100%" in r.stderr and "face/s" in r.stderr, r.stderr[-2000:]


def test_the_run_view_says_the_final_test_is_under_way(synthetic_csv):
    run = Run.create(_cfg(synthetic_csv, epochs=3), state="running")
    run.write_progress(epoch=3, epochs=3, step=23, steps=23, images_per_s=100.0, eta_s=0.0, loss=1.0, acc=0.5)
    run.write_progress(phase="test", split="test", done=3000, total=12000, views=11, epoch=3, epochs=3)
    at = _run_view_app(run).run()
    assert not at.exception, [e.value for e in at.exception]
    text = " ".join(str(p.proto.text) for p in at.get("progress"))
    assert "testing the best weights (plain and on ten crops): 25% of 12,000 face passes" in text, text
    assert "batch 23/23" not in text


def _run_view_app(run: Run) -> AppTest:
    def script(run_id: str):
        from core.runs import Run
        from ui.run_view import run_view

        run_view(Run.open(run_id), show_controls=False)

    return AppTest.from_function(script, args=(run.id,), default_timeout=60)


# ---------------------------------------------------------------- 4. live curves within the epoch


def test_steps_hold_a_few_running_points_per_epoch_ending_on_the_epoch_figures(synthetic_csv):
    run = train(_cfg(synthetic_csv, name="steps"), progress=False)
    points, rows = run.steps(), run.metrics()
    steps = max(p["step"] for p in points) // 2  # batches per epoch
    assert STEP_POINTS <= len(points) <= 2 * (STEP_POINTS + 1)
    assert [p["step"] for p in points] == sorted({p["step"] for p in points})
    assert all(0 < p["epoch"] <= 2 and p["epoch"] == pytest.approx(p["step"] / steps, abs=1e-4) for p in points)
    ends = {round(p["epoch"]): p for p in points if p["step"] % steps == 0}
    for row in rows:  # an epoch's last point is the epoch's own train figures
        assert ends[row["epoch"]]["train_loss"] == pytest.approx(row["train_loss"])
        assert ends[row["epoch"]]["train_acc"] == pytest.approx(row["train_acc"])


def test_resume_keeps_only_the_points_of_the_checkpoint_and_a_fresh_start_none(synthetic_csv):
    run = Run.create(_cfg(synthetic_csv, name="resume-steps"))
    train(run=run, progress=False, on_epoch=lambda row: False)  # ends after epoch 1, stopped, last.pt there
    first = run.steps()
    end = first[-1]["step"]
    run.append_step({"epoch": 1.5, "step": end + 3, "train_loss": 99.0, "train_acc": 0.0, "time": 0})  # killed later
    train(run=run, resume=True, progress=False)
    points = run.steps()
    assert points[:len(first)] == first and all(p["train_loss"] != 99.0 for p in points)
    assert [p["step"] for p in points] == sorted({p["step"] for p in points}) and points[-1]["epoch"] == 2
    train(run=run, progress=False, on_epoch=lambda row: False)  # the same folder trained from the start again
    assert max(p["epoch"] for p in run.steps()) == 1


def test_live_curves_show_the_epoch_under_way_on_fractional_epochs(synthetic_csv):
    run = Run.create(_cfg(synthetic_csv, epochs=3), state="running")
    for i, loss in enumerate((2.0, 1.8, 1.6), 1):  # the first epoch, not over yet: no metrics line
        run.append_step({"epoch": i / 8, "step": i, "train_loss": loss, "train_acc": 0.1 * i, "time": 0})
    at = _run_view_app(run).run()
    assert not at.exception, [e.value for e in at.exception]
    charts = at.get("plotly_chart")
    assert len(charts) == 2, "the curves wait for the end of the first epoch"
    loss = json.loads(charts[0].proto.spec)
    train_line = next(d for d in loss["data"] if d["name"] == "train")
    assert train_line["x"] == [0.125, 0.25, 0.375] and train_line["y"] == [2.0, 1.8, 1.6]
    assert loss["layout"]["xaxis"].get("tickformat") != "d"  # 0.5 epoch is not written "1"


def test_an_old_run_without_steps_still_draws_its_epochs(synthetic_csv):
    run = Run.create(_cfg(synthetic_csv, epochs=2), state="finished")
    for e in (1, 2):
        run.append_metrics({"epoch": e, "train_loss": 2.0 / e, "train_acc": 0.3 * e, "val_loss": 2.1 / e,
                            "val_acc": 0.25 * e, "seconds": 1.0})
    at = _run_view_app(run).run()
    assert not at.exception, [e.value for e in at.exception]
    loss = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert [d["x"] for d in loss["data"]] == [[1, 2], [1, 2]]


# ---------------------------------------------------------------- 5. promotion


def _run_with_checkpoint(tmp_path, name: str, run_id: str, promoted: bool) -> Path:
    from core.labels import EMOTIONS
    from core.models.checkpoint import save_checkpoint

    d = tmp_path / "runs" / run_id
    save_checkpoint(d / "best.pt", create_model("model48", 7, width=8), classes=EMOTIONS, mean=0.5, std=0.25,
                    metrics={"val_acc": 0.4})
    (d / "config.json").write_text(TrainConfig(model="model48", name=name).to_json())
    if promoted:
        (d / "info.json").write_text('{"promoted": true}')
    return d


def test_promoted_runs_come_first_by_their_names(tmp_path, app_model_dir):
    import shutil

    from core.predict.catalogue import discover_models

    shutil.copy(next(app_model_dir.glob("*.pt")), tmp_path / "realtime.pt")
    _run_with_checkpoint(tmp_path, "ux-quick", "20261203-103331-ux-quick-vm1234", promoted=True)
    _run_with_checkpoint(tmp_path, "other", "20261203-110000-other-vm1234", promoted=False)
    listed = discover_models(tmp_path)
    assert [m.name for m in listed] == ["ux-quick (model48, 2026-12-03 10:33)", "realtime (mini_xception)"]
    every = [m.source for m in discover_models(tmp_path, runs="all")]
    assert every == ["run", "shipped", "run"]


def test_home_lists_a_promoted_run_first_by_its_name(tmp_path, monkeypatch, app_model_dir):
    import shutil

    shutil.copy(next(app_model_dir.glob("*.pt")), tmp_path / "tiny.pt")
    _run_with_checkpoint(tmp_path, "ux-quick", "20261203-103331-ux-quick-vm1234", promoted=True)
    monkeypatch.setenv("FEL_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("FEL_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(str(ROOT / "Home.py"), default_timeout=90).run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert table["name"].iloc[0] == "ux-quick (model48, 2026-12-03 10:33)", table
    assert "20261203-103331" not in " ".join(table["name"])
    assert table["source"].iloc[0] == "your run (promoted)"


def test_the_promote_switch_says_what_it_does(synthetic_csv, monkeypatch):
    monkeypatch.setenv("FER2013_PATH", str(synthetic_csv))
    run = train(_cfg(synthetic_csv, epochs=1, tencrop_test=False, name="promote-me"), progress=False)
    at = AppTest.from_file(str(ROOT / "app_pages" / "experiments.py"), default_timeout=90).run()
    assert not at.exception, [e.value for e in at.exception]
    toggle = at.toggle(key=f"exp_promote_{run.id}")
    assert "offered first" not in toggle.label
    assert toggle.label == "Promoted: on the Webcam and Compare pages, at the top of their model lists"
    assert "still starts on" in toggle.help


def test_the_train_form_takes_the_ten_crop_choice_from_the_recipe(synthetic_csv, monkeypatch):
    monkeypatch.setenv("FER2013_PATH", str(synthetic_csv))
    at = AppTest.from_file(str(ROOT / "app_pages" / "train.py"), default_timeout=90).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.checkbox(key="tr_tencrop_test").value is True  # realtime / accurate: a long run, ten crops are cheap
    at.selectbox(key="tr_recipe").set_value("quick").run()
    assert at.checkbox(key="tr_tencrop_test").value is False  # the quick recipe: a first look, the plain test alone
