"""The Train page's form, through Streamlit's AppTest: it is kept when the user visits another page and comes
back; its recipe text says what will run, not what the recipe said; a data set that is not decoded yet shows its
counts at once while its faces are decoded in the background (#42 items 1, 4, 6).

The synthetic data set stands in for FER2013 (tests/conftest.py's synthetic_csv)."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import core.data.dataset
from core.data import is_cached
from core.data.synthetic import write_synthetic_csv
from tests.helpers import page_texts, wait_for

ROOT = Path(__file__).resolve().parent.parent
HOME, TRAIN = "Home.py", "app_pages/train.py"


@pytest.fixture(autouse=True)
def synthetic_default(synthetic_csv, monkeypatch):
    monkeypatch.setenv("FER2013_PATH", str(synthetic_csv))


def texts(at: AppTest) -> str:
    return page_texts(at)


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def usage_counts(csv: Path) -> dict[str, int]:
    rows = [line.rsplit(",", 1)[1] for line in csv.read_text().splitlines()[1:]]
    return {name: rows.count(usage) for name, usage in (("train", "Training"), ("val", "PublicTest"),
                                                         ("test", "PrivateTest"))}


def test_the_train_form_survives_a_visit_to_another_page(tmp_path, monkeypatch):
    """A small CSV and 3 epochs, Home, back to Train: still the small CSV and 3 epochs (not FER2013 and the
    recipe's 40), whatever else was set too."""
    monkeypatch.setenv("FEL_DATA_ROOTS", str(tmp_path))  # a folder the app may read data sets from
    small = write_synthetic_csv(tmp_path / "small.csv", n_per_class=12)
    at = AppTest.from_file(str(ROOT / HOME), default_timeout=90).run()
    at.switch_page(TRAIN).run()
    no_exception(at)
    at.text_input(key="tr_data").set_value(str(small)).run()
    at.number_input(key="tr_epochs").set_value(3)
    at.number_input(key="tr_width").set_value(8)
    at.text_input(key="tr_name").set_value("small one")
    at.run()
    at.switch_page("app_pages/home.py").run()
    no_exception(at)
    at.switch_page(TRAIN).run()
    no_exception(at)
    assert at.text_input(key="tr_data").value == str(small)
    assert at.number_input(key="tr_epochs").value == 3
    assert at.number_input(key="tr_width").value == 8
    assert at.text_input(key="tr_name").value == "small one"
    assert metric(at, "Training images") == f"{usage_counts(small)['train']:,}"


def test_the_recipe_text_says_what_will_run(synthetic_csv):
    """Width 8 and 2 epochs set by hand: the text says width 8 and 2 epochs, not the recipe's numbers."""
    at = AppTest.from_file(str(ROOT / TRAIN), default_timeout=90).run()
    no_exception(at)
    at.selectbox(key="tr_recipe").set_value("realtime").run()
    recipe_width, recipe_epochs = at.number_input(key="tr_width").value, at.number_input(key="tr_epochs").value
    assert (recipe_width, recipe_epochs) != (8, 2)
    assert f"{recipe_epochs} epochs" in texts(at)
    at.number_input(key="tr_width").set_value(8)
    at.number_input(key="tr_epochs").set_value(2)
    at.run()
    no_exception(at)
    said = texts(at)
    assert "width 8" in said and "2 epochs" in said, said
    assert f"{recipe_epochs} epochs" not in said and f"width {recipe_width}" not in said, said


@pytest.fixture
def held_decoding(monkeypatch):
    """Decoding a CSV's faces waits until the test opens the gate: what the page shows meanwhile is what a user
    sees during FER2013's first, minute-long decode."""
    gate = threading.Event()
    real = core.data.dataset.load_csv_arrays

    def held(*args, **kwargs):
        gate.wait(300)
        return real(*args, **kwargs)

    monkeypatch.setattr(core.data.dataset, "load_csv_arrays", held)
    yield gate
    gate.set()


def test_a_data_set_not_decoded_yet_shows_its_counts_at_once(tmp_path, monkeypatch, held_decoding):
    """FER2013's first read took 37 s before the page showed anything: now the labels' counts show at once."""
    fresh = write_synthetic_csv(tmp_path / "fresh.csv", n_per_class=30)
    monkeypatch.setenv("FER2013_PATH", str(fresh))
    expected = usage_counts(fresh)
    at = AppTest.from_file(str(ROOT / TRAIN), default_timeout=90).run()  # must not wait for the decode
    no_exception(at)
    assert not is_cached(fresh)
    assert metric(at, "Training images") == f"{expected['train']:,}"
    assert metric(at, "Test") == f"{expected['test']:,}" and metric(at, "Classes") == "7"
    assert "Decoding the faces" in texts(at)
    assert at.button(key="tr_start").disabled is False
    at.radio(key="tr_task").set_value("stress").run()
    no_exception(at)
    assert metric(at, "Classes") == "2" and metric(at, "Training images") == f"{expected['train']:,}"

    held_decoding.set()
    wait_for(lambda: is_cached(fresh), timeout=120, what="the background decode")
    wait_for(lambda: "Decoding the faces" not in texts(at.run()), timeout=60, what="the page to notice the end")
    no_exception(at)
    assert metric(at, "Training images") == f"{expected['train']:,}"


def test_a_data_set_whose_faces_cannot_be_decoded_says_so(tmp_path, monkeypatch):
    """The labels count fine but a face's pixels are broken: once the background decode finds it, the page says
    which line, and Start is off."""
    broken = write_synthetic_csv(tmp_path / "broken.csv", n_per_class=10)
    lines = broken.read_text().splitlines()
    label, pixels, usage = lines[5].split(",")
    lines[5] = ",".join([label, pixels.replace(" ", " x", 1), usage])
    broken.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("FER2013_PATH", str(broken))
    at = AppTest.from_file(str(ROOT / TRAIN), default_timeout=90).run()
    no_exception(at)
    wait_for(lambda: at.run().error, timeout=120, what="the decode's error on the page")
    no_exception(at)
    assert "line 6" in "\n".join(str(e.value) for e in at.error)
    assert at.button(key="tr_start").disabled is True
