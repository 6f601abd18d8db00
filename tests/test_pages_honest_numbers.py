"""What the pages' figures are out of (issue #32, items 6 and 7): a warm time per face or none, a stress model's
accuracy never in the same bar as the 7-emotion ones, batch accuracy measuring a stress model on the labels
folded to stress, a face card naming its two readings of stress, the search's trials in one format and its
figures in ours, a time estimate on the search form, a file uploaded twice analysed once, DeepFace
pre-selected only where it runs, the Data set view's marks, data-path messages in the user's own words,
the first read of a data set announced, and no file watcher outside development.

Pages through Streamlit's AppTest; the engine's parts as plain functions. No wall-clock figure is asserted:
the timing tests drive a fake clock."""
from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest

from core.labels import EMOTIONS, STRESS_CLASSES
from tests.helpers import biased_checkpoint
from tests.test_app_home_webcam_compare import COMPARE, HOME, app, no_exception, ours, results, texts

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- a warm time per face, or none

class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class _SlowFirst:
    """A predictor whose first call takes `first` seconds and every later one `warm` (on a fake clock)."""
    name, classes, kind, source = "fake", EMOTIONS, "emotion", "fake"

    def __init__(self, clock, first, warm):
        self.clock, self.first, self.warm, self.calls = clock, first, warm, 0

    def predict(self, crops):
        self.clock.now += self.first if self.calls == 0 else self.warm
        self.calls += 1
        return np.full((len(crops), len(EMOTIONS)), 1 / len(EMOTIONS))


def test_time_per_face_is_the_median_of_warm_calls_not_the_first(monkeypatch):
    from core.predict import analysis

    clock = _Clock()
    monkeypatch.setattr(analysis.time, "perf_counter", clock)
    p = _SlowFirst(clock, first=0.424, warm=0.014)
    out = analysis.run_predictor(p, [np.zeros((48, 48), np.uint8)] * 2)
    assert out.latency_warm and out.latency_ms == pytest.approx(7.0)  # 14 ms for the batch of two faces
    assert p.calls == 1 + analysis.WARM_REPEATS


def test_a_first_call_too_slow_to_repeat_is_not_shown_as_a_speed(monkeypatch):
    from core.predict import analysis
    from core.predict.boxes import Face

    clock = _Clock()
    monkeypatch.setattr(analysis.time, "perf_counter", clock)
    p = _SlowFirst(clock, first=2 * analysis.WARM_BUDGET_S, warm=0.01)
    out = analysis.run_predictor(p, [np.zeros((48, 48), np.uint8)])
    assert not out.latency_warm and p.calls == 1
    from core.predict.photo import photo_result

    rows = photo_result(analysis.Analysis([Face(0, 0, 48, 48, 1.0)], np.zeros((1, 48, 48)), [out])).rows()
    assert np.isnan(rows[0]["latency_ms"])


def test_a_card_shows_ms_only_when_warm():
    from dataclasses import replace

    from core.labels import EMOTIONS
    from core.predict.photo import ModelAnswer
    from ui.compare import card_footer

    s = ModelAnswer.of("m", EMOTIONS, [0.3, 0, 0.22, 0.1, 0, 0, 0.38])  # P(stress) 0.52, read from its emotions
    assert s.stress == "stress" and s.latency_ms is None
    assert "ms per face" not in card_footer(s) and "from emotions" in card_footer(s)
    assert "14 ms per face" in card_footer(replace(s, latency_ms=14.2))


# ---------------------------------------------------------------- two readings of stress

def _models_with_stress(app_env, tmp_path, monkeypatch) -> tuple[Path, Path]:
    d = tmp_path / "models"
    d.mkdir()
    shutil.copy(ours(app_env), d / "tiny.pt")
    stress = biased_checkpoint(d / "stressy.pt", STRESS_CLASSES, favourite=0)  # always says no_stress
    monkeypatch.setenv("FEL_MODEL_DIR", str(d))
    return d / "tiny.pt", stress


def test_a_face_card_names_each_reading_of_stress(app_env, tmp_path, monkeypatch):
    from core.predict.summary import face_summary

    assert face_summary([0.9, 0.1], STRESS_CLASSES)["stress_reading"] == "stress model"
    assert face_summary(np.full(7, 1 / 7), EMOTIONS)["stress_reading"] == "from emotions"
    tiny, stress = _models_with_stress(app_env, tmp_path, monkeypatch)
    at = app(COMPARE).run()
    at.multiselect(key="compare_models").set_value([str(tiny), str(stress)]).run()
    no_exception(at)
    cards = texts(at.markdown)
    assert "from emotions" in cards and "stress model" in cards
    assert "Two different readings of stress" in texts(at.caption)


# ---------------------------------------------------------------- what an accuracy is out of

def test_a_stress_model_is_measured_on_labels_folded_to_stress():
    from core.evaluate import evaluate_predictor

    class AlwaysStress:
        name, classes = "s", STRESS_CLASSES

        def predict(self, crops):
            return np.tile([0.2, 0.8], (len(crops), 1))

    labels = np.array([0, 2, 3, 4, 6, 6])  # angry, fear, happy, sad, neutral, neutral: 3 of 6 stressed
    r = evaluate_predictor(AlwaysStress(), np.zeros((6, 48, 48), np.uint8), labels, EMOTIONS)
    assert r["folded"] and r["classes"] == list(STRESS_CLASSES) and r["accuracy"] == pytest.approx(0.5)


def test_batch_accuracy_measures_the_stress_model_in_its_own_table(app_env, tmp_path, monkeypatch, synthetic_csv):
    monkeypatch.setenv("FER2013_PATH", str(synthetic_csv))
    tiny, stress = _models_with_stress(app_env, tmp_path, monkeypatch)
    at = app(COMPARE).run()
    at.multiselect(key="compare_models").set_value([str(tiny), str(stress)]).run()
    at.button(key="batch_run").click().run()
    no_exception(at)
    assert "could not be measured" not in texts(at.warning)
    tables = [d.value for d in at.dataframe if "accuracy" in d.value.columns]
    assert len(tables) == 2  # one per task: a stress accuracy never shares a bar with the emotion ones
    emotion, stressed = tables
    assert list(emotion["model"]) == [at.multiselect(key="compare_models").format_func(str(tiny))] or \
        emotion["model"].iloc[0].startswith("tiny")
    assert stressed["model"].iloc[0].startswith("stressy") and {"no_stress", "stress"} <= set(stressed.columns)
    headings = texts(at.markdown)
    assert "7 classes" in headings and "2 classes" in headings


def test_home_keeps_stress_and_emotion_accuracies_apart(app_env, tmp_path, monkeypatch):
    from core.models import create_model
    from core.models.checkpoint import save_checkpoint

    d = tmp_path / "models"
    d.mkdir()
    for name, acc, classes in (("emo", 0.62, EMOTIONS), ("stress", 0.77, STRESS_CLASSES)):
        save_checkpoint(d / f"{name}.pt", create_model("mini_xception", num_classes=len(classes), width=8),
                        classes=classes, mean=0.5, std=0.25, metrics={"test_acc": acc})
    monkeypatch.setenv("FEL_MODEL_DIR", str(d))
    at = app(HOME).run()
    no_exception(at)
    table = next(df.value for df in at.dataframe if "name" in df.value.columns)
    assert "test accuracy" not in table.columns
    stress = table[table["name"].str.startswith("stress")].iloc[0]
    emo = table[table["name"].str.startswith("emo")].iloc[0]
    assert stress["stress accuracy"] == pytest.approx(77) and np.isnan(stress["emotion accuracy"])
    assert emo["emotion accuracy"] == pytest.approx(62) and np.isnan(emo["stress accuracy"])


# ---------------------------------------------------------------- the search: its trials, figures and length

def _study():
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import TrialState, create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    dist = {"lr": FloatDistribution(1e-4, 1e-1, log=True)}
    study.add_trial(create_trial(value=0.218, params={"lr": 0.01}, distributions=dist,
                                 intermediate_values={1: 0.18, 2: 0.218}, user_attrs={"test_acc": 0.2118}))
    study.add_trial(create_trial(value=0.25, params={"lr": 0.003}, distributions=dist,
                                 intermediate_values={1: 0.2, 2: 0.25}, user_attrs={"test_acc": 0.24}))
    study.add_trial(create_trial(state=TrialState.PRUNED, params={"lr": 0.05}, distributions=dist,
                                 intermediate_values={1: 0.1}))
    return study


def test_trials_table_says_every_figure_one_way_and_never_none():
    from core.jobs.search import trials_table
    from ui.search_form import trials_frame

    df = trials_frame([{**r, "here": False} for r in trials_table(_study())])
    assert list(df["test_acc"]) == ["21.2%", "24.0%", "–"]
    assert df["val_acc"].iloc[0] == pytest.approx(21.8)
    shown = df.drop(columns=["val_acc", "here", "trial", "epochs"]).astype(str).to_numpy().ravel()
    assert not any(v in ("None", "nan", "NaN") for v in shown), shown
    assert not any(v.startswith("0.") for v in df["test_acc"])


def test_the_best_trial_without_a_run_says_no_none():
    from ui.search_form import best_run_note

    assert best_run_note({"run_id": None, "here": False, "worker": None}) == ""
    assert best_run_note({"run_id": "r1", "here": False, "worker": "h:1"}) == " (run `r1`, trained by h:1: not on this machine)"


def test_search_figures_are_in_percent_and_name_what_they_show():
    from ui import study_charts

    fig, _ = study_charts.history_figure(_study())
    assert list(fig.data[0].y) == pytest.approx([21.8, 25.0]) and "%" in fig.layout.yaxis.title.text
    fig, _ = study_charts.epochs_figure(_study())
    assert [t.name for t in fig.data] == ["trial 0", "trial 1", "trial 2 (pruned)"]
    assert max(max(t.y) for t in fig.data) == pytest.approx(25.0)
    fig, why = study_charts.parallel_figure(_study())
    assert fig is not None, why
    assert max(fig.data[0].dimensions[-1].values) == pytest.approx(25.0)


def test_search_time_is_estimated_from_a_recorded_speed():
    from core.jobs.estimate import estimate_search

    e = estimate_search(10, 5, 5000, ["mini_xception"], speeds={"mini_xception": [90.0, 100.0, 110.0]},
                        measure=None)
    assert e.source == "recorded" and e.images_per_s == pytest.approx(100) and e.seconds == pytest.approx(2500)
    e = estimate_search(2, 3, 0, ["vgg"], speeds={}, measure=lambda m: 50.0, train_images=1000)
    assert e.source == "measured" and e.seconds == pytest.approx(2 * 3 * 1000 / 50)
    assert estimate_search(1, 1, 10, ["vgg"], speeds={}, measure=None) is None


def test_search_form_shows_its_estimate(app_env, monkeypatch, synthetic_csv):
    import core.jobs.estimate as estimate

    monkeypatch.setenv("FER2013_PATH", str(synthetic_csv))
    monkeypatch.setattr(estimate, "measured_images_per_s", lambda model, **_: 100.0)
    monkeypatch.setattr("ui.search_form.measured_images_per_s", lambda model, **_: 100.0)
    # the page keeps a measured speed for 10 minutes (st.cache_data, shared by every AppTest of this process):
    # an earlier page's measurement must not answer here
    monkeypatch.setattr("ui.search_form._measured_speed", lambda model: 100.0)
    at = app("app_pages/experiments.py").run()
    no_exception(at)
    info = texts(at.info)
    assert "Estimate: about 41 min" in info and "10 trials × 5 epochs × 5,000 images at 100 images/s" in info, info


# ---------------------------------------------------------------- smaller things

def test_the_same_file_uploaded_twice_is_analysed_once(app_env):
    at = app(COMPARE).run()
    at.multiselect(key="compare_models").set_value([ours(app_env)])
    at.radio(key="compare_source").set_value("Upload").run()
    data = Path(app_env["face"]).read_bytes()
    at.file_uploader(key="compare_upload").set_value([("a.jpg", data, "image/jpeg"),
                                                       ("b.jpg", data, "image/jpeg")]).run()
    no_exception(at)
    df = results(at)
    assert df is not None and list(df["image"].unique()) == ["a.jpg"]
    assert "Uploaded more than once, analysed once: **b.jpg**" in texts(at.caption)


def test_deepface_is_not_preselected_when_it_cannot_run(app_env, tmp_path, monkeypatch):
    tiny, stress = _models_with_stress(app_env, tmp_path, monkeypatch)
    at = app(COMPARE).run()  # app_env: DeepFace has no weights
    no_exception(at)
    assert "deepface" not in at.multiselect(key="compare_models").value
    assert "deepface" in at.multiselect(key="compare_models").options or \
        "DeepFace (pre-trained)" in at.multiselect(key="compare_models").options  # still offered


def _blocks_above(node, target, path=()) -> tuple | None:
    """The types of the blocks that hold `target` in AppTest's element tree, outermost first."""
    if node is target:
        return path
    for child in getattr(node, "children", {}).values():
        found = _blocks_above(child, target, path + (getattr(child, "type", ""),))
        if found is not None:
            return found
    return None


def test_data_set_faces_fill_the_width_with_marks_and_every_row(app_env, monkeypatch, synthetic_csv):
    monkeypatch.setenv("FER2013_PATH", str(synthetic_csv))
    at = app(COMPARE).run()
    at.multiselect(key="compare_models").set_value([ours(app_env)])
    at.radio(key="compare_source").set_value("Data set").run()
    at.slider(key="compare_ds_n").set_value(16).run()
    no_exception(at)
    glance = next(d for d in at.dataframe if "agree" not in d.value.columns and "true" in d.value.columns
                  and "model" not in d.value.columns)
    cells = [v for c in glance.value.columns if c not in ("face", "true") for v in glance.value[c]]
    assert len(cells) == 16 and all(v[:2] in ("✓ ", "✗ ") for v in cells), cells
    assert "column" not in _blocks_above(at.main, glance)  # no empty photo column beside it: the whole width
    df = results(at)  # the results table: one row per face, each with its true label
    assert df is not None and len(df) == 16 and df["true"].notna().all()
    assert "✓ right, ✗ wrong" in texts(at.caption)


def test_first_read_of_a_data_set_is_announced_then_cached(app_env, monkeypatch, synthetic_csv, tmp_path):
    from core.data import is_cached, load_dataset

    csv = tmp_path / "fresh.csv"
    shutil.copy(synthetic_csv, csv)
    monkeypatch.setenv("FER2013_PATH", str(csv))
    assert not is_cached(csv)
    at = app(COMPARE).run()
    at.multiselect(key="compare_models").set_value([ours(app_env)])
    at.radio(key="compare_source").set_value("Data set").run()
    no_exception(at)
    labels = [s.label for s in at.status]
    assert any("for the first time" in s for s in labels) or any("kept for next time" in s for s in labels), labels
    load_dataset(csv)
    assert is_cached(csv)


def test_a_data_path_message_lists_the_folders_as_written(tmp_path, monkeypatch):
    from ui.dataset import outside_roots_message

    target = tmp_path / "real-place"
    target.mkdir()
    link = tmp_path / "my-data"
    link.symlink_to(target)
    monkeypatch.setenv("FEL_DATA_ROOTS", str(link))
    message = outside_roots_message("/nowhere/x.csv")
    assert f"`{link}`" in message and str(target) not in message


def test_no_file_watcher_outside_development():
    from streamlit import config

    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]
    assert server["fileWatcherType"] == "none"
    assert {"model", "data"} <= set(server["folderWatchBlacklist"])
    for option in ("server.fileWatcherType", "server.folderWatchBlacklist"):
        assert option in config._config_options_template  # options this Streamlit knows
