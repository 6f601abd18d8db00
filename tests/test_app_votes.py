"""FER+'s ten votes on the pages (AppTest): every face of a confusion cell, of the faces two models disagree on and of
Compare's data set faces shows what the people said beside FER2013's label, and each can be narrowed to the faces
people disagreed on or whose FER2013 label is not what they said."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from tests.helpers import biased_checkpoint

from core.data import load_dataset
from core.data.ferplus import differs_from_people, people_split
from core.data.synthetic import write_synthetic_ferplus

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def kaggle_pair(tmp_path, monkeypatch):
    """A FER2013 CSV with FER+'s votes beside it, as the configured data set."""
    csv_path, _ = write_synthetic_ferplus(tmp_path / "kaggle", n_per_class=20)
    monkeypatch.setenv("FER2013_PATH", str(csv_path))
    monkeypatch.setenv("FEL_DATA_ROOTS", str(tmp_path))
    return csv_path


def _people(at) -> list[str]:
    return [c.value for c in at.caption if "people: " in c.value]


def test_a_confusion_cell_shows_each_faces_votes_and_the_faces_people_disagreed_on(kaggle_pair):
    from core.config import TrainConfig
    from core.evaluate import mistakes
    from core.train import train
    from core.workflows.evaluation import open_subject

    run = train(TrainConfig(data=str(kaggle_pair), model="model48", width=8, epochs=1, batch_size=32,
                            warmup_epochs=0, threads=1), progress=False)
    at = AppTest.from_file(str(ROOT / "app_pages" / "experiments.py"), default_timeout=90)
    at.run()
    at.button(key=f"exp_mk_{run.id}_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.exception] + [e.value for e in at.error]
    key = f"exp_mk_{run.id}"
    true, pred = at.selectbox(key=f"{key}_true").value, at.selectbox(key=f"{key}_pred").value
    subject = open_subject(run.best_path, kaggle_pair, votes=True)
    probs, labels = subject.probs("test"), subject.labels("test")
    votes = subject.dataset.splits["test"].votes.numpy()
    cell = mistakes(probs, labels, true, pred)
    shown = _people(at)
    assert len(shown) == min(len(cell), 18) and all("people: " in s for s in shown)
    assert at.radio(key=f"{key}_shown").value == "all"
    at.radio(key=f"{key}_shown").set_value("differs").run()
    expected = cell[differs_from_people(votes[cell], labels[cell])]
    assert len(_people(at)) == min(len(expected), 18)
    at.radio(key=f"{key}_shown").set_value("split").run()
    assert len(_people(at)) == min(int(people_split(votes[cell]).sum()), 18)


def test_two_models_disagreeing_faces_show_the_votes(kaggle_pair, tmp_path, monkeypatch):
    monkeypatch.setenv("FEL_MODEL_DIR", str(tmp_path))
    biased_checkpoint(tmp_path / "always-happy.pt", favourite=3)
    biased_checkpoint(tmp_path / "always-sad.pt", favourite=4)
    at = AppTest.from_file(str(ROOT / "app_pages" / "experiments.py"), default_timeout=90)
    at.run()
    at.selectbox(key="cmp_a").set_value(str(tmp_path / "always-happy.pt")).run()
    at.selectbox(key="cmp_b").set_value(str(tmp_path / "always-sad.pt"))
    at.button(key="cmp_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.exception] + [e.value for e in at.error]
    faces = [c.value for c in at.caption if c.value.startswith("true **")]
    assert faces and all("people: " in f for f in faces)
    test = load_dataset(kaggle_pair).splits["test"].labels.numpy()
    assert len(faces) == min(int(np.sum(test == 3)), 12)
    at.radio(key="cmp_shown").set_value("split").run()
    assert len([c for c in at.caption if c.value.startswith("true **")]) <= len(faces)


def test_compare_data_set_faces_show_fer2013_and_the_people(kaggle_pair, tmp_path, monkeypatch):
    monkeypatch.setenv("FEL_MODEL_DIR", str(tmp_path))
    model = biased_checkpoint(tmp_path / "always-happy.pt", favourite=3)
    at = AppTest.from_file(str(ROOT / "app_pages" / "compare.py"), default_timeout=90)
    at.run()
    at.multiselect(key="compare_models").set_value([str(model)])
    at.radio(key="compare_source").set_value("Data set").run()
    assert not at.exception, [e.value for e in at.exception]
    at.radio(key="compare_ds_which").set_value("differs").run()
    at.slider(key="compare_ds_n").set_value(8).run()
    glance = next(d.value for d in at.dataframe if "people" in d.value.columns)
    assert len(glance) > 0 and glance["people"].str.contains(r"\d+ \w+").all()
    # every face drawn is one whose FER2013 label is not the people's top emotion
    assert all(top.split(", ")[0].split(" ", 1)[1] != true for top, true in zip(glance["people"], glance["true"]))
    assert any("FER+'s ten votes" in c.value for c in at.caption)
    said = [c.value for c in at.caption if c.value.startswith("FER+'s ten people said: ")]
    assert len(said) == len(glance)  # each face's card says what the people said
