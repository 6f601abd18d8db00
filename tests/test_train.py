import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from core.models.checkpoint import CheckpointError, load_checkpoint, load_model
from core.config import TrainConfig
from core.runs import Run, list_runs, runs_root
from core.train import train
from tests.helpers import biased_checkpoint

ROOT = Path(__file__).resolve().parent.parent


def _cfg(data, **kw):
    base = dict(data=str(data), model="model48", width=8, epochs=4, batch_size=32, optimizer="adam", lr=3e-3,
                warmup_epochs=0, threads=1)
    return TrainConfig(**{**base, **kw})


def test_a_few_epochs_beat_chance_and_write_a_complete_run(synthetic_csv):
    run = train(_cfg(synthetic_csv, name="learn"), progress=False)
    assert run.state() == "finished"
    rows = run.metrics()
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert max(r["val_acc"] for r in rows) > 2 / 7  # chance is 1/7
    assert run.summary()["test_acc"] > 2 / 7
    for f in ("config.json", "metrics.jsonl", "status.json", "best.pt", "last.pt", "train.log", "summary.json"):
        assert (run.dir / f).exists(), f
    for f in ("loss.png", "accuracy.png", "confusion.png"):
        assert (run.graphs_dir / f).stat().st_size > 1000, f
    cfg = json.loads(run.config_path.read_text())
    assert cfg["model"] == "model48" and cfg["epochs"] == 4
    model, meta = load_model(run.best_path)  # everything prediction needs travels with the weights
    assert list(meta.classes) == list(run.summary()["classes"]) and meta.input_size == 48
    assert 0 < meta.std < 1 and "test_acc" in meta.metrics
    assert model(torch.zeros(1, 1, 48, 48)).shape == (1, 7)


def test_stress_task_trains_a_binary_model(synthetic_csv):
    run = train(_cfg(synthetic_csv, task="stress", epochs=1), progress=False)
    _, meta = load_model(run.best_path)
    assert list(meta.classes) == ["no_stress", "stress"]


def test_invalid_config_is_refused_before_anything_starts(synthetic_csv):
    with pytest.raises(ValueError, match="epochs must be between"):
        train(_cfg(synthetic_csv, epochs=0), progress=False)
    assert list_runs() == []


def test_device_is_checked_before_anything_starts(synthetic_csv):
    with pytest.raises(ValueError, match="device must be"):
        train(_cfg(synthetic_csv, device="tpu"), progress=False)
    if not torch.cuda.is_available():  # the CPU machines CI runs on
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            train(_cfg(synthetic_csv, device="cuda"), progress=False)
    assert list_runs() == []
    run = train(_cfg(synthetic_csv, device="cpu", epochs=1), progress=False)
    assert run.state() == "finished" and "on cpu" in (run.dir / "train.log").read_text()


def test_distillation_makes_the_student_answer_like_its_teacher(synthetic_csv, tmp_path):
    """A teacher that always says "angry": with most of the loss on its soft answers, the student says
    "angry" far more often than the same run on the labels alone (which, this early, hardly ever does)."""
    from core.data import load_dataset
    from core.evaluate import predict_probs

    teacher = biased_checkpoint(tmp_path / "teacher.pt")
    plain = train(_cfg(synthetic_csv, epochs=3, name="plain"), progress=False)
    taught = train(_cfg(synthetic_csv, epochs=3, teacher=str(teacher), distill=0.95, temperature=1.0,
                        name="taught"), progress=False)
    assert taught.state() == "finished" and "distilling from mini_xception" in (taught.dir / "train.log").read_text()
    val = load_dataset(synthetic_csv).splits["val"]

    def angry_share(run):
        model, meta = load_model(run.last_path)  # the weights at the end (best.pt is chosen on the labels)
        return float((predict_probs(model, val.images, meta.mean, meta.std).argmax(1) == 0).float().mean())

    assert angry_share(taught) > 0.8 and angry_share(plain) < 0.3


def test_several_teachers_teach_their_average_answer(synthetic_csv, tmp_path):
    """--teacher a,b: the two checkpoints' averaged probabilities are the soft targets (a teacher that says
    "angry" and one that says "happy": both become the student's likeliest classes), and the log names both."""
    from core.data import load_dataset
    from core.evaluate import predict_probs
    from core.labels import EMOTIONS
    from core.train.distill import TeacherEnsemble, make_teacher

    angry, happy = biased_checkpoint(tmp_path / "angry.pt"), biased_checkpoint(tmp_path / "happy.pt", favourite=3)
    pair = make_teacher(f"{angry}, {happy}", EMOTIONS, 48)
    assert isinstance(pair, TeacherEnsemble) and len(pair.members) == 2
    probs = pair(torch.rand(4, 1, 48, 48)).softmax(1)
    assert torch.allclose(probs.sum(1), torch.ones(4), atol=1e-5)
    assert torch.allclose(probs[:, 0], probs[:, 3], atol=1e-4) and float(probs[0, 0]) > 0.45
    run = train(_cfg(synthetic_csv, epochs=3, teacher=f"{angry},{happy}", distill=0.95, temperature=1.0,
                     name="pair"), progress=False)
    assert run.state() == "finished"
    assert (run.dir / "train.log").read_text().count("distilling from mini_xception") == 1
    assert " + mini_xception from " in (run.dir / "train.log").read_text()
    model, meta = load_model(run.last_path)
    val = load_dataset(synthetic_csv).splits["val"]
    answers = predict_probs(model, val.images, meta.mean, meta.std)
    top2 = set(answers.mean(0).topk(2).indices.tolist())
    assert top2 == {0, 3}  # its two likeliest classes, on average, are the teachers' two
    with pytest.raises(CheckpointError, match="no-such-teacher"):
        train(_cfg(synthetic_csv, teacher=f"{angry},{tmp_path / 'no-such-teacher.pt'}", name="x"), progress=False)


def test_a_missing_or_mismatched_teacher_is_a_clear_error(synthetic_csv, tmp_path):
    from core.labels import STRESS_CLASSES

    with pytest.raises(CheckpointError, match="no-such-teacher"):
        train(_cfg(synthetic_csv, teacher=str(tmp_path / "no-such-teacher.pt")), progress=False)
    assert list_runs() == []  # refused before a run folder was made
    stress = biased_checkpoint(tmp_path / "stress.pt", classes=STRESS_CLASSES)
    with pytest.raises(ValueError, match="same classes"):
        train(_cfg(synthetic_csv, epochs=1, teacher=str(stress)), progress=False)
    assert list_runs() == []  # a teacher of other classes is refused before a run folder is made, too


def test_failure_is_recorded_in_the_run(tmp_path):
    run = Run.create(_cfg(tmp_path / "missing.csv"))
    with pytest.raises(Exception):
        train(run=run, progress=False)
    assert run.state() == "failed" and "no such file" in run.status()["error"]


def test_a_run_whose_validation_loss_explodes_fails_with_the_reason(synthetic_csv):
    """#41 item 4: the issue's command (lr 10), whose every training loss stays finite while the validation loss
    becomes NaN, ends failed with the reason: no temperature fitted to NaN answers, no final test, no warning."""
    from tests.helpers import run_cli

    res = run_cli("train", "--data", synthetic_csv, "--model", "mini_xception", "--width", "8", "--epochs", "2",
                  "--lr", "10", "--threads", "1", "--no-amp", "--no-tencrop-test", "--no-progress", "--json")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    run = Run.open(out["run"])
    assert res.returncode == 1 and out["state"] == run.state() == "failed", res.stdout
    assert "validation loss became NaN at epoch" in out["error"] or "weights became NaN" in out["error"], out
    assert "lower the learning rate" in out["error"] and run.status().get("diverged") is True
    assert all(row["val_loss"] is not None for row in run.metrics())  # the epochs kept are the good ones
    assert not run.summary() and "RuntimeWarning" not in res.stderr and "Traceback" not in res.stderr
    assert "FAILED: " in run.tail_log()


def test_non_finite_weights_are_divergence_too():
    from core.models import create_model
    from core.train.step import epoch_divergence

    model = create_model("model48", num_classes=7, width=8)
    assert epoch_divergence(1.9, model, 3) == ""
    assert epoch_divergence(float("inf"), model, 3).startswith("validation loss became infinite at epoch 3")
    assert epoch_divergence(None, model, 3).startswith("validation loss became NaN")
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] = float("nan")
    assert epoch_divergence(1.9, model, 3).startswith("weights became NaN or infinite at epoch 3")


def test_hostile_names_stay_inside_the_runs_folder(synthetic_csv):
    for name in ("../../etc/passwd", "/abs/path", "..", "a b/c\\d", "....", "💥"):
        run = Run.create(_cfg(synthetic_csv, name=name))
        assert run.dir.resolve().parent == runs_root().resolve()
        assert ".." not in run.id and "/" not in run.id
    with pytest.raises(ValueError):
        Run.open("../x")


def test_two_runs_with_the_same_name_get_two_folders(synthetic_csv):
    a, b = Run.create(_cfg(synthetic_csv, name="same")), Run.create(_cfg(synthetic_csv, name="same"))
    assert a.dir != b.dir


def _start(args, env):
    return subprocess.Popen([sys.executable, "-m", "core", *args], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait(pred, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


def test_killed_run_resumes_at_the_right_epoch(synthetic_csv, tmp_path):
    cfg = _cfg(synthetic_csv, epochs=6, name="killme")
    run = Run.create(cfg)
    env = {**os.environ}
    proc = _start(["train", "--run", run.id, "--no-progress"], env)
    assert _wait(lambda: len(run.metrics()) >= 2), proc.stderr.read().decode()[-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert run.state() == "interrupted"  # the file says running; the process is gone
    done = len(run.metrics())
    assert done < 6
    res = subprocess.run([sys.executable, "-m", "core", "train", "--resume", run.id, "--no-progress"], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert run.state() == "finished"
    assert [r["epoch"] for r in run.metrics()] == [1, 2, 3, 4, 5, 6]
    lines = run.metrics_path.read_text().splitlines()
    assert len(lines) == 6 and all(json.loads(line) for line in lines)
    assert f"resumed at epoch {done + 1}" in run.log_path.read_text()


def test_stop_mid_epoch_then_resume_matches_an_uninterrupted_run(synthetic_csv):
    straight = train(_cfg(synthetic_csv, epochs=2, name="straight"), progress=False)

    run = Run.create(_cfg(synthetic_csv, epochs=2, name="stopped"))
    proc = _start(["train", "--run", run.id, "--no-progress"], dict(os.environ))
    assert _wait(lambda: run.progress().get("step", 0) >= 1 and run.status().get("state") == "running")
    run.request_stop()  # the STOP file: ends cleanly with a checkpoint
    proc.wait(timeout=120)
    assert run.state() == "stopped"
    ck = load_checkpoint(run.last_path)
    assert ck["step"] > 0 or ck["epoch"] > 0
    train(run=run, resume=True, progress=False)
    a, b = straight.metrics(), run.metrics()
    assert [r["epoch"] for r in b] == [1, 2]
    for ra, rb in zip(a, b):  # resume continues at the exact batch with the same random state
        assert rb["val_acc"] == pytest.approx(ra["val_acc"], abs=1e-6)
        assert rb["train_loss"] == pytest.approx(ra["train_loss"], rel=1e-4)


def test_sigterm_stops_cleanly(synthetic_csv):
    run = Run.create(_cfg(synthetic_csv, epochs=50, name="term"))
    proc = _start(["train", "--run", run.id, "--no-progress"], dict(os.environ))
    assert _wait(lambda: len(run.metrics()) >= 1)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    assert run.state() == "stopped" and run.last_path.exists()


def test_torn_metrics_line_is_ignored(synthetic_csv):
    run = Run.create(_cfg(synthetic_csv))
    run.append_metrics({"epoch": 1, "train_acc": 0.4, "val_acc": 0.5})
    with open(run.metrics_path, "a") as f:
        f.write('{"epoch": 2, "val_a')
    assert [r["epoch"] for r in run.metrics()] == [1]


def test_missing_and_corrupt_checkpoints_are_named(tmp_path):
    with pytest.raises(CheckpointError, match="nope.pt does not exist"):
        load_model(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="bad.pt is (unsafe or )?damaged"):
        load_model(bad)


# ---------------------------------------------------------------- crops, mixup and the accurate recipe


def test_crops_and_mixup_train_a_model_every_caller_feeds_right(synthetic_csv, tmp_path):
    """40 px random crops of the 48 px faces, with mixup: the checkpoint says both sizes, and the predictor,
    the evaluation, the card and the int8 copy all cut the centre 40 px from a 48 px face."""
    import numpy as np

    from core.predict.cnn import CNNPredictor
    from core.workflows.card import card
    from core.workflows.evaluation import evaluate_checkpoint
    from core.workflows.quantize import quantize_checkpoint

    run = train(_cfg(synthetic_csv, model="vgg", width=8, epochs=2, crop=40, mixup=0.4, cutmix=1.0, shift=0),
                progress=False)
    assert run.state() == "finished" and "40 px input" in (run.dir / "train.log").read_text()
    model, meta = load_model(run.best_path)
    assert meta.input_size == 40 and meta.face_size == 48 and meta.model_kwargs["input_size"] == 40
    assert 0 <= run.summary()["test_tencrop_acc"] <= 1
    p = CNNPredictor(run.best_path, tta="tencrop")
    probs = p.predict([np.full((48, 48), 120, np.uint8), np.zeros((90, 70), np.uint8)])
    assert probs.shape == (2, 7) and np.allclose(probs.sum(1), 1)
    ev = evaluate_checkpoint(run.best_path, data=synthetic_csv, split="test", tta="flip")
    assert ev["n"] == sum(map(sum, ev["confusion"]))
    assert 0 <= card(run.best_path, data=synthetic_csv)["test_tencrop"]["accuracy"] <= 1
    q = quantize_checkpoint(run.best_path, tmp_path / "q.pt", data=synthetic_csv, images=64)
    assert 0 <= q["int8_test_acc"] <= 1


def test_views_of_a_crop_trained_model_are_its_crops():
    from core.evaluate import tta_views

    x = torch.arange(48 * 48, dtype=torch.float32).view(1, 1, 48, 48)
    centre, = tta_views(x, None, 40)
    assert centre.shape[-1] == 40 and torch.equal(centre, x[..., 4:44, 4:44])
    ten = tta_views(x, "tencrop", 40)
    assert len(ten) == 10 and all(v.shape[-2:] == (40, 40) for v in ten)
    assert torch.equal(ten[1], x[..., :40, :40]) and torch.equal(ten[5], centre.flip(-1))
    assert len(tta_views(x, "tencrop")) == 10 and tta_views(x, "tencrop")[0].shape[-1] == 48  # whole-face models


def test_mixup_and_cutmix_keep_labels_and_are_seeded():
    from core.data.augment import augment, mix_batch

    x, y = torch.rand(16, 1, 40, 40), torch.arange(16) % 7
    a = mix_batch(x, y, [0, 1, 2], mixup=0.4)
    b = mix_batch(x, y, [0, 1, 2], mixup=0.4)
    assert torch.equal(a[0], b[0]) and a[3] == b[3] and 0 < a[3] < 1
    assert torch.equal(a[1], y) and sorted(a[2].tolist()) == sorted(y.tolist())  # a permutation of the batch
    xc, ya, yb, lam = mix_batch(x, y, [3], cutmix=1.0)
    kept = (xc == x).float().mean().item()
    assert abs(kept - lam) < 0.1  # lam is the share of each image that kept its own label
    assert mix_batch(x, y, [0])[3] == 1.0  # both off: the batch unchanged
    g = torch.Generator().manual_seed(0)
    out = augment(torch.rand(8, 1, 48, 48), g, out_size=40)
    assert out.shape == (8, 1, 40, 40) and 0 <= out.min() and out.max() <= 1


def test_a_gpu_style_run_keeps_its_data_on_the_device_and_its_checkpoint_loads_on_the_cpu(synthetic_csv):
    """The loop's device path on the CPU: the same code moves the data set to the run's device once, cuts and
    augments batches there, and saves CPU tensors; channels_last is used where the model is safe in it."""
    run = train(_cfg(synthetic_csv, model="resnet", width=16, epochs=1, crop=40, device="cpu"), progress=False)
    log = (run.dir / "train.log").read_text()
    assert "channels_last" in log and "40 px input" in log
    state = load_checkpoint(run.best_path)
    assert all(v.device.type == "cpu" and v.is_contiguous() for v in state["state_dict"].values())


def test_fine_tuning_starts_from_the_checkpoint_weights(synthetic_csv, tmp_path):
    """--init: the run's first weights are the checkpoint's (a learning rate too small to move them leaves
    the convolutions as they were), and the log says where they came from."""
    start = biased_checkpoint(tmp_path / "start.pt")
    run = train(_cfg(synthetic_csv, model="mini_xception", width=8, epochs=1, lr=1e-12, init=str(start)),
                progress=False)
    assert run.state() == "finished"
    assert f"started from the weights of {start}" in (run.dir / "train.log").read_text()
    before, after = load_checkpoint(start)["state_dict"], load_checkpoint(run.last_path)["state_dict"]
    convs = [k for k, v in before.items() if k.endswith("weight") and v.ndim == 4]
    assert convs and all(torch.allclose(before[k], after[k], atol=1e-6) for k in convs)
    fresh = train(_cfg(synthetic_csv, model="mini_xception", width=8, epochs=1, lr=1e-12), progress=False)
    assert not torch.allclose(before[convs[0]], load_checkpoint(fresh.last_path)["state_dict"][convs[0]])


def test_a_checkpoint_that_does_not_fit_is_refused_before_a_run_starts(synthetic_csv, tmp_path):
    from core.labels import STRESS_CLASSES

    start = biased_checkpoint(tmp_path / "start.pt")
    with pytest.raises(ValueError, match=r"mini_xception \(width 8\).*--model mini_xception --width 8"):
        train(_cfg(synthetic_csv, init=str(start)), progress=False)  # a model48 run
    with pytest.raises(ValueError, match="width 8.*width 16"):
        train(_cfg(synthetic_csv, model="mini_xception", width=16, init=str(start)), progress=False)
    stress = biased_checkpoint(tmp_path / "stress.pt", classes=STRESS_CLASSES)
    with pytest.raises(ValueError, match="predicts"):
        train(_cfg(synthetic_csv, model="mini_xception", width=8, init=str(stress)), progress=False)
    with pytest.raises(CheckpointError, match="no-such"):
        train(_cfg(synthetic_csv, init=str(tmp_path / "no-such.pt")), progress=False)
    assert list_runs() == []  # nothing was made


def test_a_crop_trained_teacher_sees_the_centre_crop_of_whole_faces(tmp_path):
    """As it is tested: a 48 px face gives a teacher trained on 40 px crops its centre 40 px, not a squeezed copy."""
    from core.labels import EMOTIONS
    from core.models import create_model
    from core.models.checkpoint import save_checkpoint
    from core.train.distill import Teacher

    torch.manual_seed(0)
    model = create_model("mini_xception", num_classes=7, width=8).eval()
    path = save_checkpoint(tmp_path / "t.pt", model, classes=EMOTIONS, mean=0.5, std=0.25, input_size=40, face_size=48)
    teacher = Teacher(str(path), EMOTIONS, 48)
    x = torch.rand(3, 1, 48, 48)
    with torch.no_grad():
        want = model((x[..., 4:44, 4:44] - 0.5) / 0.25)
    assert torch.allclose(teacher(x), want, atol=1e-5)
    assert teacher(torch.rand(2, 1, 40, 40)).shape == (2, 7)


def test_a_shipped_checkpoint_saved_before_input_size_was_an_argument_can_start_a_run():
    """seed-vgg keeps its input size beside its arguments (older format): the realtime-distilled recipe's
    start from it is accepted, and a different input size is still refused."""
    from core.config import TrainConfig
    from core.train.finetune import start_weights

    path, state = start_weights(TrainConfig(model="vgg", width=32, init="seed-vgg"))
    assert path.name == "seed-vgg.pt" and "input_size" not in state["model_kwargs"]
    with pytest.raises(ValueError, match="input_size 40"):
        start_weights(TrainConfig(model="vgg", width=32, crop=40, init="seed-vgg"))
