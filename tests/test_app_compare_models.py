"""The Experiments page's "Compare two models" tab, driven with Streamlit's AppTest: two checkpoints that always
answer one class each, so the faces where only one is right are exactly that class's faces."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest
from tests.helpers import biased_checkpoint

ROOT = Path(__file__).resolve().parent.parent


def test_two_models_compared_with_their_reliability_and_disagreements(synthetic_csv, tmp_path, monkeypatch):
    from core.data import load_dataset

    monkeypatch.setenv("FER2013_PATH", str(synthetic_csv))
    monkeypatch.setenv("FEL_MODEL_DIR", str(tmp_path))
    biased_checkpoint(tmp_path / "always-happy.pt", favourite=3)
    biased_checkpoint(tmp_path / "always-neutral.pt", favourite=6)
    biased_checkpoint(tmp_path / "always-stressed.pt", classes=["no_stress", "stress"], favourite=1)
    test = load_dataset(synthetic_csv).splits["test"].labels.numpy()
    happy, neutral = int(np.sum(test == 3)), int(np.sum(test == 6))

    at = AppTest.from_file(str(ROOT / "app_pages" / "experiments.py"), default_timeout=90)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.selectbox(key="cmp_a").set_value(str(tmp_path / "always-happy.pt"))
    assert not any("stress" in o for o in at.run().selectbox(key="cmp_b").options)  # only models of A's task
    at.selectbox(key="cmp_b").set_value(str(tmp_path / "always-neutral.pt"))
    at.button(key="cmp_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.exception] + [e.value for e in at.error]
    verdict = [e.value for e in at.info] + [e.value for e in at.success]
    assert any("always-happy" in v and "p = " in v for v in verdict), verdict
    table = next(d.value for d in at.dataframe if "ECE" in d.value.columns)
    assert list(table["model"]) == ["A: always-happy", "B: always-neutral", "B - A"]
    assert any("only A " + str(happy) in c.value for c in at.caption)
    assert at.get("plotly_chart"), "no reliability diagram"
    faces = [c.value for c in at.caption if c.value.startswith("true **")]
    assert len(faces) == min(happy, 12) and all("true **happy**" in f for f in faces)
    at.radio(key="cmp_which").set_value("only_b").run()
    faces = [c.value for c in at.caption if c.value.startswith("true **")]
    assert len(faces) == min(neutral, 12) and all("true **neutral**" in f for f in faces)


def test_a_confusion_cell_shows_its_faces(synthetic_csv, monkeypatch):
    from core.config import TrainConfig
    from core.evaluate import mistakes
    from core.train import train
    from core.workflows.evaluation import open_subject

    monkeypatch.setenv("FER2013_PATH", str(synthetic_csv))
    run = train(TrainConfig(data=str(synthetic_csv), model="model48", width=8, epochs=1, batch_size=32,
                            warmup_epochs=0, threads=1), progress=False)
    at = AppTest.from_file(str(ROOT / "app_pages" / "experiments.py"), default_timeout=90)
    at.run()
    at.button(key=f"exp_mk_{run.id}_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.exception] + [e.value for e in at.error]
    subject = open_subject(run.best_path, synthetic_csv)
    probs, labels = subject.probs("test"), subject.labels("test")
    true, pred = at.selectbox(key=f"exp_mk_{run.id}_true").value, at.selectbox(key=f"exp_mk_{run.id}_pred").value
    assert true != pred  # it opens on the commonest mistake
    expected = mistakes(probs, labels, true, pred)
    faces = [c.value for c in at.caption if " · " in c.value and "%" in c.value]
    assert len(faces) == min(len(expected), 18)
    at.selectbox(key=f"exp_mk_{run.id}_pred").set_value(true).run()  # the diagonal: the faces it gets right
    assert f"{int(np.sum((probs.argmax(1) == labels) & (labels == true)))} " in "\n".join(c.value for c in at.caption)
