"""The Home, Webcam and Compare pages through Streamlit's AppTest (no browser): they render with models and
without, Compare gives one result row per face per model, DeepFace without weights is a warning (our models
still answer), DeepFace with (random) weights adds its rows, and bad input is a message, never a traceback.

Fixtures: app_env, app_model_dir, face_photo (tests/conftest.py, section "app pages")."""
from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent

HOME, WEBCAM, COMPARE = "Home.py", "app_pages/webcam.py", "app_pages/compare.py"


def app(script: str, timeout: float = 120):
    """An AppTest of one of our pages; errors shown in full (the app's config hides them from users)."""
    import streamlit.config
    from streamlit.testing.v1 import AppTest

    streamlit.config.set_option("client.showErrorDetails", "full")
    return AppTest.from_file(str(ROOT / script), default_timeout=timeout)


def no_exception(at) -> None:
    assert not at.exception, "\n".join(str(e.value) for e in at.exception)


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def results(at):
    """The Compare page's results table (a pandas DataFrame), or None."""
    for df in at.dataframe:
        v = df.value
        if "model" in v.columns and "emotion" in v.columns and "face" in v.columns:
            return v
    return None


def ours(env) -> str:
    return str(next(Path(env["models"]).glob("*.pt")))


# ---------------------------------------------------------------- Home


def test_home_lists_models_deepface_and_data(app_env):
    at = app(HOME).run()
    no_exception(at)
    assert "Facial Emotion Lab" in texts(at.title)
    tables = [d.value for d in at.dataframe]
    assert tables and tables[0]["name"].iloc[0].startswith("tiny"), tables
    assert tables[0]["architecture"].iloc[0] == "mini_xception"
    # DeepFace has no weights in this environment: Home says so, with how to get them
    assert ".deepface" in texts(at.warning) and "facial_expression_model_weights.h5" in texts(at.warning)
    assert [m.label for m in at.metric][:3] == ["Your models", "DeepFace", "Data set"]


@pytest.fixture
def no_models(app_env, monkeypatch, tmp_path):
    """The app as a newcomer sees it before training anything: an empty model folder."""
    empty = tmp_path / "no-models"
    empty.mkdir()
    monkeypatch.setenv("FEL_MODEL_DIR", str(empty))
    return app_env


def test_home_without_models_says_how_to_train(no_models):
    at = app(HOME).run()
    no_exception(at)
    assert "python -m core train --recipe quick" in texts(at.info)
    assert not at.dataframe


def test_home_and_compare_list_a_corrupt_checkpoint_without_crashing(app_env, monkeypatch, tmp_path):
    import shutil

    d = tmp_path / "models"
    d.mkdir()
    shutil.copy(ours(app_env), d / "good.pt")
    (d / "broken.pt").write_bytes(b"not a checkpoint")
    monkeypatch.setenv("FEL_MODEL_DIR", str(d))
    at = app(HOME).run()
    no_exception(at)
    table = at.dataframe[0].value
    assert len(table) == 2 and table["status"].str.startswith("cannot load").sum() == 1
    at = app(COMPARE).run()
    no_exception(at)
    assert all("broken" not in v for v in at.multiselect(key="compare_models").options)


def test_home_does_not_import_tensorflow(app_env):
    """Home must stay cheap: no TensorFlow (DeepFace) import just to show the state of things."""
    import subprocess

    code = ("import sys; from streamlit.testing.v1 import AppTest; "
            f"AppTest.from_file({str(ROOT / HOME)!r}, default_timeout=60).run(); "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stderr[-2000:]


# ---------------------------------------------------------------- Webcam


def test_webcam_renders_with_a_model(app_env):
    at = app(WEBCAM).run()
    no_exception(at)
    assert at.selectbox(key="webcam_model").value == ours(app_env)
    assert at.slider(key="webcam_detect_every").value >= 1
    assert at.slider(key="webcam_full_every").value == 5
    assert at.session_state["webcam_analyser"].settings.full_search_every == 5
    at.slider(key="webcam_full_every").set_value(1).run()
    assert at.session_state["webcam_analyser"].settings.full_search_every == 1
    assert at.toggle(key="webcam_stress").value is True
    assert at.toggle(key="webcam_mirror").value is True  # flip TTA for our CNNs by default
    assert at.session_state["webcam_analyser"].predictor.tta == "flip"
    at.toggle(key="webcam_mirror").set_value(False).run()
    assert at.session_state["webcam_analyser"].predictor.tta is None
    assert "localhost" in texts(at.caption)  # the camera permission / https hint
    assert "Not calibrated (tiny" in texts(at.caption)  # a checkpoint without a temperature says so


@pytest.fixture
def weak_and_good(app_env, monkeypatch, tmp_path):
    """Two checkpoints: aaa.pt (42%) listed first, zzz.pt (67%, the only one at the webcam's bar)."""
    import json
    import shutil

    from core.models.checkpoint import save_checkpoint
    from core.labels import EMOTIONS
    from core.models import create_model

    d = tmp_path / "models"
    d.mkdir()
    weak = shutil.copy(ours(app_env), d / "aaa.pt")  # 42%
    good = save_checkpoint(d / "zzz.pt", create_model("model48", len(EMOTIONS), width=8), classes=EMOTIONS,
                           mean=0.5, std=0.25, metrics={"test_acc": 0.67})
    (d / "zzz.card.json").write_text(json.dumps({"latency_ms_per_face_2_threads": 4.5}))
    monkeypatch.setenv("FEL_MODEL_DIR", str(d))
    return {"weak": str(weak), "good": str(good)}


def test_webcam_starts_on_a_model_that_reaches_the_bar(weak_and_good):
    """Listed second, but the only one at >= 66% on the test faces: the webcam starts on it."""
    at = app(WEBCAM).run()
    no_exception(at)
    assert at.selectbox(key="webcam_model").value == weak_and_good["good"]
    assert at.session_state["webcam_analyser"].predictor.arch == "model48"


def test_webcam_without_models(no_models):
    at = app(WEBCAM).run()
    no_exception(at)
    assert "python -m core train --recipe quick" in texts(at.info)


def test_webcam_a_model_that_cannot_run_leaves_the_running_one(weak_and_good):
    """DeepFace without weights, chosen while the page's default runs: the default keeps running (not the
    first model listed), and why is said in the sidebar beside the picker, not above the video (an element
    there would move the webrtc component and rebuild the stream)."""
    at = app(WEBCAM).run()
    at.selectbox(key="webcam_model").set_value("deepface").run()
    no_exception(at)
    assert at.session_state["webcam_analyser"].predictor.arch == "model48"  # zzz.pt, not aaa.pt
    note = texts(at.sidebar.warning)
    assert "DeepFace cannot run here" in note and "facial_expression_model_weights.h5" in note
    assert "Still running **zzz" in note
    assert not at.main.warning
    # the weak one chosen, then DeepFace again: the weak one, running now, stays
    at.selectbox(key="webcam_model").set_value(weak_and_good["weak"]).run()
    assert at.session_state["webcam_analyser"].predictor.arch == "mini_xception"
    assert "DeepFace" not in texts(at.sidebar.warning)
    at.selectbox(key="webcam_model").set_value("deepface").run()
    assert at.session_state["webcam_analyser"].predictor.arch == "mini_xception"
    assert "Still running **aaa" in texts(at.sidebar.warning)


def test_webcam_bad_ice_servers_is_a_message(app_env, monkeypatch):
    monkeypatch.setenv("FEL_ICE_SERVERS", "{not json")
    at = app(WEBCAM).run()
    no_exception(at)
    assert "not valid JSON" in texts(at.sidebar.warning)


# ---------------------------------------------------------------- Compare: photos


def test_compare_without_models(no_models):
    at = app(COMPARE).run()
    no_exception(at)
    assert "python -m core train --recipe quick" in texts(at.info)
    assert "DeepFace is not available" in texts(at.warning)  # the only other model, and it has no weights
    assert results(at) is None


def test_compare_sample_photo_one_row_per_face_per_model(app_env):
    at = app(COMPARE).run()
    no_exception(at)
    at.multiselect(key="compare_models").set_value([ours(app_env)]).run()
    no_exception(at)
    assert at.selectbox(key="compare_sample").value.name.startswith("face")
    df = results(at)
    assert df is not None, texts(at.info) + texts(at.warning) + texts(at.error)
    assert len(df) == 1 and list(df["face"]) == [1] and df["model"].iloc[0].startswith("tiny")
    assert "Not calibrated (tiny" in texts(at.caption)
    probs = [c for c in df.columns if c.startswith("p_") and c != "p_stress"]
    assert len(probs) == 7 and abs(df[probs].sum(axis=1).iloc[0] - 1) < 1e-4
    assert df["model"].iloc[0].endswith("+flip")  # averaged with the mirror image by default
    at.toggle(key="compare_mirror").set_value(False).run()
    plain = results(at)
    assert not plain["model"].iloc[0].endswith("+flip")
    assert not np.allclose(plain[probs].to_numpy(), df[probs].to_numpy())
    assert at.download_button  # the CSV download is offered (AppTest exposes the widget, not the file)


def test_compare_starts_with_our_most_accurate_model_our_stress_model_and_deepface(app_env, tmp_path, monkeypatch):
    """Opening Compare pits DeepFace against the best of ours, not the first listed (`realtime`, the fastest);
    DeepFace only where it can run (here it has weights)."""
    from core.models.checkpoint import save_checkpoint
    from core.labels import EMOTIONS, STRESS_CLASSES
    from core.models import create_model

    d = tmp_path / "models"
    d.mkdir()
    for name, acc, classes in (("realtime", 0.62, EMOTIONS), ("seed-resnet", 0.68, EMOTIONS),
                               ("stress", 0.77, STRESS_CLASSES)):
        save_checkpoint(d / f"{name}.pt", create_model("mini_xception", num_classes=len(classes), width=8),
                        classes=classes, mean=0.5, std=0.25, metrics={"test_acc": acc})
    monkeypatch.setenv("FEL_MODEL_DIR", str(d))
    monkeypatch.setattr("ui.loaders.deepface_status", lambda: {"present": True})  # loading it is not this test's
    monkeypatch.setattr("ui.loaders.get_predictor", lambda source, tta=None: (_ for _ in ()).throw(OSError("x")))
    at = app(COMPARE).run()
    no_exception(at)
    assert at.multiselect(key="compare_models").value == [str(d / "seed-resnet.pt"), str(d / "stress.pt"), "deepface"]


def test_compare_shows_a_stress_verdict_in_words(app_env, tmp_path, monkeypatch):
    """A stress model answering no_stress reads "no stress" on the card and in the table, as on the webcam."""
    import shutil

    from core.labels import STRESS_CLASSES
    from tests.helpers import biased_checkpoint

    d = tmp_path / "models"
    d.mkdir()
    shutil.copy(ours(app_env), d / "tiny.pt")
    stress = biased_checkpoint(d / "stressy.pt", STRESS_CLASSES, favourite=0)  # always says no_stress
    monkeypatch.setenv("FEL_MODEL_DIR", str(d))
    at = app(COMPARE).run()
    at.multiselect(key="compare_models").set_value([str(d / "tiny.pt"), str(stress)]).run()
    no_exception(at)
    verdicts = [m.value for m in at.metric if m.label.startswith("stressy")]
    assert verdicts == ["no stress"], [(m.label, m.value) for m in at.metric]
    glance = [df.value for df in at.dataframe if "face" in df.value.columns and "agree" not in df.value.columns
              and any(c.startswith("stressy") for c in df.value.columns)]
    cells = [str(v) for df in glance for c in df.columns if c.startswith("stressy") for v in df[c]]
    assert cells and all(v.startswith("no stress ") for v in cells), cells


def test_compare_deepface_without_weights_warns_and_keeps_our_results(app_env):
    at = app(COMPARE).run()
    at.multiselect(key="compare_models").set_value([ours(app_env), "deepface"]).run()
    no_exception(at)
    warning = texts(at.warning)
    assert "DeepFace is not available" in warning and str(app_env["deepface_home"]) in warning
    df = results(at)
    assert df is not None and len(df) == 1 and df["model"].iloc[0].startswith("tiny")


def test_compare_deepface_with_weights_adds_its_rows(app_env):
    pytest.importorskip("tensorflow")
    from harness.deepface_weights import write_random_weights

    write_random_weights(app_env["deepface_home"])
    at = app(COMPARE, timeout=300).run()
    at.multiselect(key="compare_models").set_value([ours(app_env), "deepface"]).run()
    no_exception(at)
    df = results(at)
    assert df is not None, texts(at.warning) + texts(at.error)
    assert len(df) == 2 and sorted(m.split(" ")[0] for m in df["model"]) == ["DeepFace", "tiny"], df[["face", "model"]]
    # DeepFace end to end: its own detector on the whole photo; no traceback whatever it finds
    at.radio(key="compare_df_mode").set_value("the whole photo (DeepFace end to end)").run()
    no_exception(at)
    df = results(at)
    assert df is not None and any(m.startswith("tiny") for m in df["model"])


def _png(array) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", array)
    assert ok
    return buf.tobytes()


def test_compare_bad_and_unusual_uploads(app_env):
    """Non-image, truncated image, no face, grey / RGBA / 16-bit PNG: a message or a correct result each."""
    import cv2

    face_bgr = cv2.imread(str(app_env["face"]), cv2.IMREAD_COLOR)
    grey = cv2.cvtColor(face_bgr, cv2.COLOR_BGR2GRAY)
    good = _png(face_bgr)
    files = [
        ("notes.png", b"this is not an image at all", "image/png"),
        ("cut.png", good[: len(good) // 3], "image/png"),
        ("blank.png", _png(np.full((300, 400, 3), 200, np.uint8)), "image/png"),
        ("grey.png", _png(grey), "image/png"),
        ("rgba.png", _png(cv2.cvtColor(face_bgr, cv2.COLOR_BGR2BGRA)), "image/png"),
        ("grey16.png", _png(grey.astype(np.uint16) * 257), "image/png"),
    ]
    at = app(COMPARE).run()
    at.multiselect(key="compare_models").set_value([ours(app_env)])
    at.radio(key="compare_source").set_value("Upload").run()
    at.file_uploader(key="compare_upload").set_value(files).run()
    no_exception(at)
    errors = texts(at.error)
    assert "notes.png" in errors and "cut.png" in errors
    assert "No face found" in texts(at.info)
    df = results(at)
    assert df is not None and sorted(df["image"]) == ["grey.png", "grey16.png", "rgba.png"]


def test_compare_huge_image_and_many_faces(app_env):
    """A 10,000 x 10,000 JPEG is decoded downscaled (memory bounded) and analysed; a 10,000 x 10,000 PNG
    gets a clear message; a picture with 30 faces gives a row per face."""
    import cv2

    from core.predict.detectors import HaarDetector

    face = cv2.imread(str(app_env["face"]), cv2.IMREAD_COLOR)
    huge = np.full((10_000, 10_000, 3), 90, np.uint8)
    f = cv2.resize(face, (8000, int(8000 * face.shape[0] / face.shape[1])))[:9000]
    huge[1000:1000 + f.shape[0], 1000:1000 + f.shape[1]] = f
    x, y, w_, h_ = HaarDetector(min_size=0.05, detect_width=1024).detect(face, color="bgr")[0].box
    m = int(0.4 * w_)
    head = face[max(0, y - m):y + h_ + m, max(0, x - m):x + w_ + m]
    tile = cv2.resize(head, (170, 170), interpolation=cv2.INTER_AREA)
    crowd = np.full((5 * 190, 6 * 190, 3), 90, np.uint8)
    for r in range(5):
        for c in range(6):
            crowd[r * 190 + 10:r * 190 + 180, c * 190 + 10:c * 190 + 180] = tile
    at = app(COMPARE, timeout=300).run()
    at.multiselect(key="compare_models").set_value([ours(app_env)])
    at.radio(key="compare_source").set_value("Upload").run()
    ok, jpg = cv2.imencode(".jpg", huge, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    at.file_uploader(key="compare_upload").set_value([("huge.jpg", jpg.tobytes(), "image/jpeg"),
                                                      ("huge.png", _png(huge), "image/png"),
                                                      ("crowd.png", _png(crowd), "image/png")]).run()
    no_exception(at)
    assert "huge.png" in texts(at.error) and "too large" in texts(at.error)
    df = results(at)
    assert df is not None
    assert (df["image"] == "huge.jpg").sum() == 1
    n_crowd = int((df["image"] == "crowd.png").sum())
    assert n_crowd >= 25, n_crowd  # the detector may miss a face at the border, not most of them
    assert any("shown in detail" in c for c in (str(x.value) for x in at.caption))


# ---------------------------------------------------------------- Compare: batch accuracy


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_compare_batch_zip_of_class_folders(app_env):
    from core.data.synthetic import synthetic_images

    x, y = synthetic_images(4)
    from core.labels import EMOTIONS

    entries = {f"faces/{EMOTIONS[int(c)]}/{i}.png": _png(img) for i, (img, c) in enumerate(zip(x, y))}
    at = app(COMPARE).run()
    at.multiselect(key="compare_models").set_value([ours(app_env)])
    at.radio(key="batch_source").set_value("A zip of class folders").run()
    at.file_uploader(key="batch_zip").set_value(("faces.zip", _zip(entries), "application/zip")).run()
    no_exception(at)
    assert "28 images" in texts(at.success)
    at.button(key="batch_run").click().run()
    no_exception(at)
    table = next(d.value for d in at.dataframe if "accuracy" in d.value.columns)
    assert len(table) == 1 and table["model"].iloc[0].startswith("tiny") and int(table["faces"].iloc[0]) == 28


def _damaged_zip() -> bytes:
    """A zip whose member's data no longer matches its CRC (a bit flipped in transfer)."""
    data = bytearray(_zip({"happy/a.png": _png(np.full((48, 48), 200, np.uint8))}))
    at = data.index(b"IDAT") + 8  # inside the PNG, which the zip stores as it is (no compression pays)
    data[at] ^= 0xFF
    return bytes(data)


def _encrypted_zip() -> bytes:
    """A zip whose member says it is encrypted (a password-protected zip, as far as a reader can tell): the
    "encrypted" bit set in its local header and in the central directory."""
    data = bytearray(_zip({"happy/a.png": _png(np.zeros((48, 48), np.uint8))}))
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature) + flag_at
        data[at] |= 0x01
    return bytes(data)


@pytest.mark.parametrize("content, message", [
    (b"PK\x03\x04 not really a zip", "not a zip"),
    (None, "no class folders"),
    ("damaged", "damaged"),
    ("encrypted", "password-protected"),
])
def test_compare_bad_zip_is_a_message(app_env, content, message):
    if content is None:
        content = _zip({"readme.txt": b"hello", "img.png": _png(np.zeros((48, 48), np.uint8))})
    elif content == "damaged":
        content = _damaged_zip()
    elif content == "encrypted":
        content = _encrypted_zip()
    at = app(COMPARE).run()
    at.radio(key="batch_source").set_value("A zip of class folders").run()
    at.file_uploader(key="batch_zip").set_value(("x.zip", content, "application/zip")).run()
    no_exception(at)
    assert message in texts(at.error)


def test_compare_batch_on_a_dataset_test_split(app_env, monkeypatch, synthetic_csv):
    monkeypatch.setenv("FER2013_PATH", str(synthetic_csv))
    at = app(COMPARE).run()
    at.multiselect(key="compare_models").set_value([ours(app_env)]).run()
    no_exception(at)
    at.button(key="batch_run").click().run()
    no_exception(at)
    table = next(d.value for d in at.dataframe if "accuracy" in d.value.columns)
    assert int(table["faces"].iloc[0]) > 0
    assert len(at.get("plotly_chart")) >= 2  # per-class chart + a confusion matrix


# ---------------------------------------------------------------- the live analyser (no browser)


def test_live_analyser_tracks_smooths_and_never_raises(face_photo, app_model_dir):
    import cv2

    from core.predict.detectors import HaarDetector
    from core.predict import load_predictor
    from core.predict.frame import LiveAnalyser, LiveSettings, smooth

    frame = cv2.imread(str(face_photo), cv2.IMREAD_COLOR)
    pred = load_predictor(str(next(Path(app_model_dir).glob("*.pt"))))
    la = LiveAnalyser(pred, HaarDetector(min_size=0.1, detect_width=480), LiveSettings(detect_every=3, smoothing=5))
    for _ in range(2):  # a face shows once a second detection confirmed it
        out = la.process(frame, color="bgr")
        assert la.wait_idle()  # the analysis runs on its own thread: the labels come with the next frames
    first = [f["id"] for f in la.snapshot()["faces"]]
    for _ in range(3):
        out = la.process(frame, color="bgr")
        assert la.wait_idle()
    assert out.shape == frame.shape and not np.array_equal(out, frame)  # boxes drawn
    snap = la.snapshot()
    assert snap["frames"] == 5 and len(snap["faces"]) == 1 and snap["error"] is None
    assert [f["id"] for f in snap["faces"]] == first == [1]  # the same face, followed across frames
    assert abs(sum(snap["faces"][0]["probs"]) - 1) < 1e-6

    class Broken:
        name, classes = "broken", ("a", "b")

        def predict(self, crops):
            raise RuntimeError("boom")

    la.configure(predictor=Broken())
    out = la.process(frame, color="bgr")
    assert la.wait_idle()
    assert out.shape == frame.shape and "boom" in la.snapshot()["error"]
    a = smooth(np.array([1.0, 0.0]), np.array([0.0, 1.0]), 3)
    assert np.allclose(a, [0.5, 0.5])



def test_live_frames_per_second_count_from_a_restart(monkeypatch, tmp_path):
    """After STOP and START, frames/s is measured from the new frames, not across the pause (a clock of
    our own: no wall time is measured)."""
    from core.predict import frame as fr

    clock = iter([0.0, 0.0, 0.1, 0.1, 0.2, 0.2, 60.0, 60.0, 60.1, 60.1])
    monkeypatch.setattr(fr.time, "perf_counter", lambda: next(clock))
    la = fr.LiveAnalyser()
    for _ in range(3):
        la._count(fr.time.perf_counter(), 0, 0)
    assert round(la.fps) == 10
    for _ in range(2):  # 60 s later
        la._count(fr.time.perf_counter(), 0, 0)
    assert round(la.fps) == 10 and la.frames == 5


def test_live_stress_model_labels_its_verdict_once(face_photo, tmp_path, monkeypatch):
    """A stress / no stress model: the box label is the verdict; no second stress marker under it."""
    import cv2

    from core.models.checkpoint import save_checkpoint
    from core.predict.detectors import HaarDetector
    from core.labels import STRESS_CLASSES
    from core.models import create_model
    from core.predict import load_predictor
    from core.predict import frame as live

    path = save_checkpoint(tmp_path / "stress.pt", create_model("mini_xception", num_classes=2, width=8),
                           classes=STRESS_CLASSES, mean=0.5, std=0.25)
    drawn = []
    monkeypatch.setattr(live.draw, "draw_face", lambda out, box, label, col, color, sub=None, sub_col=None:
                        drawn.append((label, sub)))
    la = live.LiveAnalyser(load_predictor(str(path)), HaarDetector(min_size=0.1, detect_width=480))
    image = cv2.imread(str(face_photo), cv2.IMREAD_COLOR)
    for _ in range(2):  # found twice: shown (a face shows once a second detection confirmed it)
        la.process(image, color="bgr")
        assert la.wait_idle()  # the analysis runs on its own thread: the next frame carries its labels
    drawn.clear()
    la.process(image, color="bgr")
    face = la.snapshot()["faces"][0]
    assert face["emotion"] in STRESS_CLASSES and face["stress"] == face["emotion"]
    (label, sub), = drawn
    assert sub is None and ("no stress" in label or "STRESS" in label) and "_" not in label

def test_ice_servers_setting():
    from ui.widgets import ice_servers

    assert ice_servers("") == ([], None)
    assert ice_servers('[{"urls": ["stun:stun.example.org:3478"]}]')[0] == [{"urls": ["stun:stun.example.org:3478"]}]
    assert ice_servers('{"urls": "turn:t.example.org", "username": "u", "credential": "c"}')[0][0]["username"] == "u"
    servers, err = ice_servers("[1, 2]")
    assert servers == [] and "must be a list" in err
