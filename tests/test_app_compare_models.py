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


def captions_of_images(at) -> list[str]:
    return [c for e in at.get("image") for c in e.captions]


def face_buttons(at, prefix: str) -> list:
    return [b for b in at.button if b.key and b.key.startswith(prefix) and b.key[len(prefix):].isdigit()]


def no_trouble(at) -> None:
    assert not at.exception and not at.error, [e.value for e in at.exception] + [e.value for e in at.error]


def test_a_disagreement_opens_both_models_grad_cam(synthetic_csv, tmp_path, monkeypatch):
    monkeypatch.setenv("FER2013_PATH", str(synthetic_csv))
    monkeypatch.setenv("FEL_MODEL_DIR", str(tmp_path))
    biased_checkpoint(tmp_path / "always-happy.pt", favourite=3)
    biased_checkpoint(tmp_path / "always-sad.pt", favourite=4)
    at = AppTest.from_file(str(ROOT / "app_pages" / "experiments.py"), default_timeout=90)
    at.run()
    at.selectbox(key="cmp_a").set_value(str(tmp_path / "always-happy.pt"))
    at.run().selectbox(key="cmp_b").set_value(str(tmp_path / "always-sad.pt"))
    at.button(key="cmp_go").click().run()
    no_trouble(at)
    assert not any("looking for" in c for c in captions_of_images(at))  # closed until a face is opened
    first = face_buttons(at, "cmp_cam_")[0]
    first.click().run()
    no_trouble(at)
    caps = captions_of_images(at)
    assert "A (always-happy) looking for happy" in caps and "B (always-sad) looking for sad" in caps, caps
    assert any(f"**Face {int(first.key.rsplit('_', 1)[1]):,}**" in m.value and "true **happy**" in m.value
               for m in at.markdown)
    at.button(key="cmp_cam_close").click().run()
    assert not any("looking for" in c for c in captions_of_images(at))


def test_a_confusion_cell_face_opens_its_grad_cam(synthetic_csv, tmp_path, monkeypatch):
    """A face taken for another class: where the model looked for its answer, and for the truth."""
    from core.config import TrainConfig
    from core.train import train

    monkeypatch.setenv("FER2013_PATH", str(synthetic_csv))
    monkeypatch.setenv("FEL_RUNS_DIR", str(tmp_path / "runs"))
    run = train(TrainConfig(data=str(synthetic_csv), model="model48", width=8, epochs=1, batch_size=32,
                            warmup_epochs=0, threads=1), progress=False)
    at = AppTest.from_file(str(ROOT / "app_pages" / "experiments.py"), default_timeout=90)
    at.run()
    at.button(key=f"exp_mk_{run.id}_go").click().run()
    classes = list(at.selectbox(key=f"exp_mk_{run.id}_true").options)
    true, pred = at.selectbox(key=f"exp_mk_{run.id}_true").value, at.selectbox(key=f"exp_mk_{run.id}_pred").value
    face_buttons(at, f"exp_mk_{run.id}_cam_")[0].click().run()
    no_trouble(at)
    caps = captions_of_images(at)
    assert f"looking for its answer, {classes[pred]}" in caps and f"looking for the truth, {classes[true]}" in caps
    assert "the face" in caps


def test_deepface_without_weights_is_offered_and_says_why_it_cannot_run(synthetic_csv, tmp_path, monkeypatch):
    monkeypatch.setenv("FER2013_PATH", str(synthetic_csv))
    monkeypatch.setenv("FEL_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path / "no-weights"))
    biased_checkpoint(tmp_path / "always-happy.pt", favourite=3)
    biased_checkpoint(tmp_path / "always-stressed.pt", classes=["no_stress", "stress"], favourite=1)
    biased_checkpoint(tmp_path / "always-calm.pt", classes=["no_stress", "stress"], favourite=0)
    at = AppTest.from_file(str(ROOT / "app_pages" / "experiments.py"), default_timeout=90)
    at.run()
    at.selectbox(key="cmp_a").set_value(str(tmp_path / "always-happy.pt"))
    assert at.run().selectbox(key="cmp_b").options == ["DeepFace (pre-trained)"]  # A's only partner here
    at.selectbox(key="cmp_b").set_value("deepface").run()
    no_trouble(at)
    warning = "\n".join(w.value for w in at.warning)
    assert "DeepFace is not available" in warning and str(tmp_path / "no-weights") in warning
    assert at.button(key="cmp_go").disabled
    at.selectbox(key="cmp_a").set_value(str(tmp_path / "always-stressed.pt")).run()  # a stress model: no DeepFace
    assert not any("DeepFace" in o for o in at.selectbox(key="cmp_b").options)
    at.selectbox(key="cmp_a").set_value("deepface").run()  # DeepFace as A: B is one of our emotion models
    no_trouble(at)
    options = at.selectbox(key="cmp_b").options
    assert len(options) == 1 and options[0].startswith("always-happy")
    assert at.button(key="cmp_go").disabled


def test_deepface_with_weights_is_compared_and_has_no_grad_cam(synthetic_csv, tmp_path, monkeypatch):
    """Weights made from DeepFace's own architecture (random): the comparison runs, and a disagreement's Grad-CAM
    shows our model's map beside a note that DeepFace has none."""
    import pytest

    pytest.importorskip("tensorflow")
    from harness.deepface_weights import write_random_weights

    monkeypatch.setenv("FER2013_PATH", str(synthetic_csv))
    monkeypatch.setenv("FEL_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path / "home"))
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)  # the same untrained network each time: its answers, so the disagreements
    write_random_weights(tmp_path / "home")
    biased_checkpoint(tmp_path / "always-happy.pt", favourite=3)
    at = AppTest.from_file(str(ROOT / "app_pages" / "experiments.py"), default_timeout=300)
    at.run()
    at.selectbox(key="cmp_b").set_value("deepface").run()
    assert not at.button(key="cmp_go").disabled
    at.button(key="cmp_go").click().run()
    no_trouble(at)
    table = next(d.value for d in at.dataframe if "ECE" in d.value.columns)
    assert list(table["model"]) == ["A: always-happy", "B: deepface", "B - A"]
    if not face_buttons(at, "cmp_cam_"):
        at.radio(key="cmp_which").set_value("only_b").run()
    face_buttons(at, "cmp_cam_")[0].click().run()
    no_trouble(at)
    assert any(c.startswith("A (always-happy) looking for") for c in captions_of_images(at))
    assert any("DeepFace has no Grad-CAM" in i.value for i in at.info)
