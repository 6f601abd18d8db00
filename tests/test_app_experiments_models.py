"""The shipped models on the Experiments page, through Streamlit's AppTest (#42 item 5): any run or shipped model
opens in "One run in detail" without ticking it first, and the Home and Experiments pages say why their counts
differ (Home counts models you can pick; Experiments counts trainings, and the int8 copies had none).

With the repository's own model/ and graphs/ (the shipped models, two of them int8 copies) and one run of ours."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from tests.helpers import page_texts

from core.config import TrainConfig
from core.runs import list_shipped_runs
from core.train import train

ROOT = Path(__file__).resolve().parent.parent


def texts(at: AppTest) -> str:
    return page_texts(at, metric_help=True)


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.fixture
def shipped_and_mine(synthetic_csv, monkeypatch):
    monkeypatch.setenv("FER2013_PATH", str(synthetic_csv))
    monkeypatch.setenv("FEL_SHIPPED_GRAPHS_DIR", str(ROOT / "graphs"))
    monkeypatch.setenv("FEL_MODEL_DIR", str(ROOT / "model"))
    return train(TrainConfig(data=str(synthetic_csv), model="model48", width=8, epochs=1, batch_size=32,
                             optimizer="adam", lr=3e-3, warmup_epochs=0, threads=1, name="mine"), progress=False)


def test_a_shipped_model_opens_in_detail_without_ticking_it_first(shipped_and_mine):
    mine = shipped_and_mine
    at = AppTest.from_file(str(ROOT / "app_pages" / "experiments.py"), default_timeout=120).run()
    no_exception(at)
    assert at.multiselect(key="exp_pick").value == [mine.id]  # only our run is ticked
    detail = at.selectbox(key="exp_detail")
    shipped = {f"{r.name} · shipped" for r in list_shipped_runs()}
    assert {"mine", *shipped} <= set(detail.options), detail.options  # the options as the page labels them
    detail.set_value("model:accurate").run()
    no_exception(at)
    assert "read-only" in texts(at)
    assert any("Confusion matrix" in str(c.proto.spec) for c in at.get("plotly_chart"))


def test_home_and_experiments_say_why_their_counts_differ(shipped_and_mine):
    """Every shipped model on Home, the shipped trainings and our run on Experiments: the int8 copies, which have no
    training of their own, are named as such on both pages."""
    shipped = sorted(p.stem for p in (ROOT / "model").glob("*.pt"))
    untrained = [m for m in shipped if not (ROOT / "graphs" / m / "config.json").exists()]
    assert untrained and all(m.endswith("-int8") for m in untrained)  # the situation of the issue
    runs = len(shipped) - len(untrained) + 1  # + ours
    ex = AppTest.from_file(str(ROOT / "app_pages" / "experiments.py"), default_timeout=120).run()
    no_exception(ex)
    said = texts(ex)
    assert f"{runs} of {runs}" in said and all(name in said for name in untrained) and "int8 cop" in said, said
    home = AppTest.from_file(str(ROOT / "app_pages" / "home.py"), default_timeout=120).run()
    no_exception(home)
    said = texts(home)
    assert any(m.label == "Your models" and m.value == str(len(shipped)) for m in home.metric)
    assert "Experiments" in said and all(name in said for name in untrained) and "int8 cop" in said, said


def test_home_says_which_labels_each_models_accuracy_is_on():
    """Home's model table: a FER+ model's accuracy is on FER+'s test (8 emotions), a FER2013 model's on FER2013's
    (7): a column says which labels each learned, so 87% beside 70% reads as what it is."""
    home = AppTest.from_file(str(ROOT / "app_pages" / "home.py"), default_timeout=120).run()
    no_exception(home)
    table = home.dataframe[0].value
    learned = dict(zip(table["name"], table["labels"]))
    assert learned["ferplus-accurate (resnet)"] == "FER+ votes, 8 classes"
    assert learned["accurate (resnet)"] == "FER2013 labels, 7 classes"
    assert "test accuracy: 7 emotions" not in str(home.dataframe[0].proto)
