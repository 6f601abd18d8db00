"""DeepFace integration, offline: missing weights fail fast and clearly, generated weights run through
DeepFace's real code, labels map by name. No test touches ~/.deepface or the network."""
from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest

import core.predict.deepface as dfb
from core.labels import EMOTIONS, canonical
from harness.deepface_weights import write_random_weights

WEIGHTS = "facial_expression_model_weights.h5"
LOCAL = ("127.0.0.1", "::1", "localhost")


@pytest.fixture(scope="module", autouse=True)
def real_home_untouched():
    real = Path.home() / ".deepface"
    before = real.exists() and sorted(p.name for p in real.rglob("*"))
    yield
    assert (real.exists() and sorted(p.name for p in real.rglob("*"))) == before, "a test touched ~/.deepface"


@pytest.fixture(autouse=True)
def offline_home(tmp_path, monkeypatch):
    """A fresh empty DEEPFACE_HOME, and no connection beyond localhost: even on a machine with
    internet, DeepFace cannot download anything here."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guard(real):
        def connect(self, address):
            if isinstance(address, tuple) and address[0] not in LOCAL:
                raise OSError(f"network disabled in tests ({address[0]})")
            return real(self, address)
        return connect

    monkeypatch.setattr(socket.socket, "connect", guard(real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guard(real_connect_ex))
    home = tmp_path / "dfhome"
    monkeypatch.setenv("DEEPFACE_HOME", str(home))
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    dfb.reset()
    yield home
    dfb.reset()


@pytest.fixture(scope="module")
def weights_home(tmp_path_factory):
    """Random weights in DeepFace's layout, written once (building the network imports TensorFlow)."""
    home = tmp_path_factory.mktemp("dfweights")
    path = write_random_weights(home)
    assert path == home / ".deepface" / "weights" / WEIGHTS
    return home


@pytest.fixture
def with_weights(weights_home, monkeypatch):
    monkeypatch.setenv("DEEPFACE_HOME", str(weights_home))
    return weights_home


def crops(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, s, dtype=np.uint8) for s in shapes]


# ---------------------------------------------------------------- no weights


def test_missing_weights_raise_a_clear_error(offline_home):
    with pytest.raises(dfb.DeepFaceUnavailable) as err:
        dfb.DeepFacePredictor().predict(crops((48, 48)))
    msg = str(err.value)
    assert WEIGHTS in msg and str(offline_home / ".deepface" / "weights") in msg
    assert dfb.EMOTION_WEIGHTS_URLS[0] in msg
    with pytest.raises(dfb.DeepFaceUnavailable):
        dfb.DeepFacePredictor().analyse(np.zeros((60, 80, 3), np.uint8))
    assert not (offline_home / ".deepface" / "weights" / WEIGHTS).exists()


def test_failed_download_becomes_deepface_unavailable(offline_home, monkeypatch):
    """When the hosts seem reachable, DeepFace's own downloader runs; its failure is wrapped."""
    monkeypatch.setattr(dfb, "_can_download", lambda urls: True)
    with pytest.raises(dfb.DeepFaceUnavailable, match="Downloading"):
        dfb.DeepFacePredictor().predict(crops((48, 48)))
    assert not (offline_home / ".deepface" / "weights" / WEIGHTS).exists()


def test_weights_status_absent_then_present(offline_home, weights_home, monkeypatch):
    s = dfb.weights_status()
    assert s["present"] is False and s["random"] is False
    assert s["path"] == str(offline_home / ".deepface" / "weights" / WEIGHTS)
    assert s["folder"] == str(offline_home / ".deepface" / "weights")
    assert s["url"] in s["message"] and s["folder"] in s["message"]
    monkeypatch.setenv("DEEPFACE_HOME", str(weights_home))
    s = dfb.weights_status()
    assert s["present"] is True and s["random"] is True and "RANDOM" in s["message"]
    assert s["path"] == str(weights_home / ".deepface" / "weights" / WEIGHTS)


def test_probe_is_local_and_quick():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    try:
        assert dfb._reachable("127.0.0.1", port, timeout=1)
    finally:
        srv.close()
    assert not dfb._reachable("127.0.0.1", port, timeout=1)
    assert not dfb._reachable("github.com", 443, timeout=1)  # blocked by the fixture


def test_write_random_weights_will_not_replace_real_weights(offline_home):
    path = offline_home / ".deepface" / "weights" / WEIGHTS
    path.parent.mkdir(parents=True)
    path.write_bytes(b"pretend these are the real weights")
    with pytest.raises(FileExistsError):
        write_random_weights(offline_home)
    assert path.read_bytes() == b"pretend these are the real weights"


# ---------------------------------------------------------------- with generated weights


def test_a_damaged_weights_file_is_reported_not_a_traceback(offline_home, weights_home):
    path = offline_home / ".deepface" / "weights" / WEIGHTS
    path.parent.mkdir(parents=True)
    path.write_bytes((weights_home / ".deepface" / "weights" / WEIGHTS).read_bytes()[:100_000])  # cut short
    with pytest.raises(dfb.DeepFaceUnavailable, match="could not load"):
        dfb.DeepFacePredictor().predict(crops((48, 48)))


def test_paths_and_urls_agree_with_deepface(with_weights):
    from deepface.commons import folder_utils
    from deepface.models.demography.tf import Emotion

    assert dfb.weights_dir() == Path(folder_utils.get_deepface_home()) / ".deepface" / "weights"
    assert list(dfb.EMOTION_WEIGHTS_URLS) == list(Emotion.WEIGHTS_URL)


def test_deepface_loader_reads_the_generated_file(with_weights):
    """DeepFace's real path (modeling.build_model -> load_weights) yields exactly the stored arrays."""
    import h5py

    model = dfb._emotion_client().model
    with h5py.File(dfb.emotion_weights_path(), "r") as f:
        stored = [np.asarray(f[name][w]) for name in f.attrs["layer_names"]
                  for w in f[name].attrs["weight_names"]]
    loaded = model.get_weights()
    assert len(stored) == len(loaded) == 16  # 5 conv + 3 dense layers, kernel + bias each
    assert all(np.array_equal(a, b) for a, b in zip(stored, loaded))


def test_predict_one_and_a_batch(with_weights):
    p = dfb.DeepFacePredictor()
    assert (p.name, p.source, p.kind, p.classes) == ("DeepFace", "deepface", "emotion", EMOTIONS)
    one = p.predict(crops((48, 48)))
    assert one.shape == (1, 7) and np.allclose(one.sum(axis=1), 1)
    batch = p.predict(crops((48, 48), (100, 80), (37, 53)))
    assert batch.shape == (3, 7) and np.allclose(batch.sum(axis=1), 1) and (batch >= 0).all()
    assert np.allclose(batch[0], one[0], atol=1e-5)  # same crop, same answer alone or in a batch
    assert p.predict([]).shape == (0, 7)


def test_predict_matches_deepface_by_name(with_weights):
    """Our column for each class is DeepFace's column for the label of the same meaning."""
    from deepface.models.demography.DemographyUtils import EMOTION_LABELS
    from deepface.modules import preprocessing

    c = crops((64, 64), (90, 70))
    ours = dfb.DeepFacePredictor().predict(c)
    x = np.concatenate([preprocessing.resize_image(np.repeat(g[:, :, None] / 255.0, 3, axis=2).astype(np.float32),
                                                   (224, 224)) for g in c])
    theirs = dfb._emotion_client().predict(x)  # DeepFace's order
    for i, ours_name in enumerate(EMOTIONS):
        j = [canonical(n) for n in EMOTION_LABELS].index(ours_name)
        assert np.allclose(ours[:, i], theirs[:, j], atol=1e-5), ours_name


def test_mapping_survives_a_reordering_in_deepface(monkeypatch):
    """If DeepFace relabelled or reordered its outputs, columns must follow the names, not positions."""
    from deepface.models.demography import DemographyUtils

    meaning = {"Sadness": "sad", "anger": "angry", "Happy": "happy", "neutral": "neutral",
               "surprised": "surprise", "fearful": "fear", "disgust": "disgust"}
    shuffled = list(meaning)  # a made-up order and spelling, as a future DeepFace might have
    monkeypatch.setattr(DemographyUtils, "EMOTION_LABELS", shuffled)

    class FakeClient:  # output j = (j + 1): each value tells which DeepFace label it came from
        def predict(self, x):
            return np.tile(np.arange(1.0, 8.0), (len(x), 1))

    monkeypatch.setattr(dfb, "_emotion_client", lambda: FakeClient())
    probs = dfb.DeepFacePredictor().predict(crops((48, 48), (50, 60)))
    for i, ours_name in enumerate(EMOTIONS):
        label = next(k for k, v in meaning.items() if v == ours_name)
        assert np.allclose(probs[:, i], (shuffled.index(label) + 1) / 28.0), ours_name

    monkeypatch.setattr(DemographyUtils, "EMOTION_LABELS", shuffled[:-1] + ["contempt"])
    with pytest.raises(RuntimeError, match="do not map"):
        dfb.DeepFacePredictor().predict(crops((48, 48)))


def test_a_cached_model_is_not_reused_when_the_file_is_gone(with_weights, monkeypatch, tmp_path):
    p = dfb.DeepFacePredictor()
    assert p.predict(crops((48, 48))).shape == (1, 7)
    monkeypatch.setenv("DEEPFACE_HOME", str(tmp_path / "empty"))  # no reset(): the module must notice
    with pytest.raises(dfb.DeepFaceUnavailable):
        p.predict(crops((48, 48)))


def test_analyse_end_to_end_without_a_face(with_weights):
    """DeepFace's own opencv detector finds no face in noise; enforce_detection=False means the whole image."""
    img = np.random.default_rng(1).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    for image, color in ((img, "rgb"), (img[:, :, ::-1], "bgr"), (img[:, :, 0], "rgb")):
        found = dfb.DeepFacePredictor().analyse(image, color=color)
        assert len(found) == 1
        f = found[0]
        assert f["whole_image"] and f["box"] == (0, 0, 119, 89)
        assert f["probs"].shape == (7,) and np.isclose(f["probs"].sum(), 1)
        assert list(f["probabilities"]) == list(EMOTIONS) and f["dominant"] in EMOTIONS
        assert f["dominant"] == EMOTIONS[int(np.argmax(f["probs"]))]


def test_analyse_uses_the_cascades_opencv_ships(with_weights, monkeypatch, tmp_path):
    """If cv2's data folder lacks the cascades, they are copied from cv2.data.haarcascades where
    DeepFace looks next, so its detector never downloads them; with no copy at all, a clear error."""
    import cv2

    monkeypatch.setattr(cv2, "__file__", str(tmp_path / "fakecv2" / "__init__.py"))
    weights = with_weights / ".deepface" / "weights"
    for name in ("haarcascade_frontalface_default.xml", "haarcascade_eye.xml"):
        (weights / name).unlink(missing_ok=True)
    found = dfb.DeepFacePredictor().analyse(np.zeros((64, 64, 3), np.uint8))
    assert len(found) == 1
    assert (weights / "haarcascade_frontalface_default.xml").is_file() and (weights / "haarcascade_eye.xml").is_file()

    for name in ("haarcascade_frontalface_default.xml", "haarcascade_eye.xml"):
        (weights / name).unlink()
    monkeypatch.setattr(cv2.data, "haarcascades", str(tmp_path / "nocascades") + "/")
    dfb.reset()
    with pytest.raises(dfb.DeepFaceUnavailable, match="haarcascade"):
        dfb.DeepFacePredictor().analyse(np.zeros((64, 64, 3), np.uint8))


def test_pytorch_can_load_triton_after_deepface_loaded_tensorflow():
    """PyTorch's CUDA wheels (pip's choice on Python 3.12+) bring Triton, which segfaults when imported after
    TensorFlow: a process that ran DeepFace and then made an optimiser died. DeepFace's TensorFlow now comes
    after Triton (core.native); where Triton is not installed this checks the same path does no harm."""
    import subprocess
    import sys

    code = ("import core.predict.deepface as d; d._import_tf(); import torch, torch.optim; "
            "from torch.utils._triton import has_triton_package; has_triton_package(); "
            "torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1); print('alive')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0 and "alive" in done.stdout, (done.returncode, done.stderr[-2000:])


def test_the_webcam_page_can_load_after_deepface_loaded_tensorflow():
    """aiortc's pylibsrtp (imported by the Webcam page's streamlit-webrtc) segfaults when imported after
    TensorFlow: a server that had run DeepFace on the Compare page died when the Webcam page opened (CI's
    suite, with the Experiments page's DeepFace tests first, found it). It now comes first (core.native)."""
    import subprocess
    import sys

    code = ("import core.predict.deepface as d; d._import_tf(); import streamlit_webrtc, aiortc; print('alive')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 0 and "alive" in done.stdout, (done.returncode, done.stderr[-2000:])
