"""Trust, round 3 (issue 31), continued: checkpoints and images whose sizes are not trusted, two writers racing
for one name, what a killed or failing save leaves, messages that say what to do, and the review's findings."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import TrainConfig
from core.runs import Run
from tests.helpers import run_cli as cli

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------- 7. messages


class _CallsSystem:
    def __reduce__(self):
        import os

        return (os.system, ("true",))


def test_an_unsafe_or_damaged_checkpoint_is_never_advised_to_load_unsafely(tmp_path):
    import pickle

    import torch

    from core.models.checkpoint import CheckpointError, UnsafeCheckpoint, load_checkpoint

    torch.save({"format": "facial-emotion-lab/1", "payload": _CallsSystem()}, tmp_path / "system.pt")
    (tmp_path / "plain.pt").write_bytes(pickle.dumps({"payload": _CallsSystem()}, protocol=4))
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(UnsafeCheckpoint, match="unsafe to load: it asks to run or build posix.system.*not opened"):
        load_checkpoint(tmp_path / "system.pt")
    for name in ("plain.pt", "text.pt"):
        with pytest.raises(CheckpointError) as e:
            load_checkpoint(tmp_path / name)
        assert "weights_only" not in str(e.value) and "corrupt" not in str(e.value)
    res = cli("predict", ROOT / "sample_images" / "happy_obama.jpg", "--model", tmp_path / "system.pt")
    assert res.returncode == 2 and "posix.system" in res.stderr
    assert "weights_only" not in res.stderr and "Traceback" not in res.stderr


def test_json_output_is_strict_json_even_for_a_model_that_answers_nan(tmp_path, synthetic_csv):
    import torch

    from tests.helpers import biased_checkpoint

    path = biased_checkpoint(tmp_path / "nan.pt")
    state = torch.load(path, weights_only=True)
    state["state_dict"] = {k: v.fill_(1e30) if v.is_floating_point() else v  # finite, yet its answers overflow
                           for k, v in state["state_dict"].items()}
    torch.save(state, path)

    def strict(text):
        return json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the JSON output"))

    pred = cli("predict", ROOT / "sample_images" / "happy_obama.jpg", "--model", path, "--json")
    assert pred.returncode == 2, pred.stderr  # its NaN answers are its error, never a label (#41 item 5)
    assert "NaN or infinite" in strict(pred.stdout)["images"][0]["models"][0]["error"]
    ev = cli("evaluate", "--checkpoint", path, "--data", synthetic_csv, "--json")
    assert ev.returncode != 0 and "NaN or infinite" in ev.stderr and "Traceback" not in ev.stderr


def test_resume_from_a_damaged_last_checkpoint_says_so(synthetic_csv, tmp_path):
    from tests.helpers import biased_checkpoint

    for kind in ("garbage", "not-this-run"):
        run = Run.create(TrainConfig(data=str(synthetic_csv), model="model48", width=8, epochs=1, threads=1,
                                     name=kind), state="stopped")
        if kind == "garbage":
            run.last_path.write_bytes(b"\x80\x04garbage")
        else:
            biased_checkpoint(run.last_path)  # a model, without the optimizer and the step to resume at
        res = cli("train", "--resume", run.id, "--no-progress")
        assert res.returncode != 0 and "Traceback" not in res.stderr, res.stderr
        assert "last.pt" in res.stderr and ("damaged" in res.stderr or "cannot resume" in res.stderr)
        assert run.dir.is_dir() and run.state() in ("stopped", "failed")  # its folder and files kept


def test_quantize_refuses_too_few_images_and_an_unusable_teacher_leaves_no_run(tmp_path, synthetic_csv):
    from core.runs import list_runs
    from tests.helpers import biased_checkpoint

    src = biased_checkpoint(tmp_path / "float.pt")
    res = cli("quantize", src, "--out", tmp_path / "int8.pt", "--data", synthetic_csv, "--images", "0")
    assert res.returncode == 2 and "calibrate on 32" in res.stderr and not (tmp_path / "int8.pt").exists()

    other = biased_checkpoint(tmp_path / "two-classes.pt", classes=["calm", "tense"])
    res = cli("train", "--data", synthetic_csv, "--model", "model48", "--width", "8", "--epochs", "1",
              "--teacher", other, "--no-progress")
    assert res.returncode == 2 and "teacher" in res.stderr and "Traceback" not in res.stderr
    assert list_runs() == []  # nothing made, as the README says


# ---------------------------------------------------------------- 8. from review


def test_recipes_and_the_model_order_name_only_shipped_models():
    from core.config import teacher_sources
    from core.predict.catalogue import SHIPPED_FIRST
    from core.train.recipes import RECIPES

    shipped = {p.stem for p in (ROOT / "model").glob("*.pt")}
    assert set(SHIPPED_FIRST) <= shipped
    for name, recipe in RECIPES.items():
        named = teacher_sources(recipe.get("teacher")) + ([recipe["init"]] if recipe.get("init") else [])
        assert set(named) <= shipped, name


def test_a_card_gives_back_the_thread_count_and_set_status_refuses_an_unknown_state(tmp_path, synthetic_csv):
    import torch

    from core.models import create_model
    from core.workflows.card import latency_ms_per_face

    before = torch.get_num_threads()
    latency_ms_per_face(create_model("model48", num_classes=7, width=4).eval(), threads=1 if before != 1 else 2,
                        repeats=2)
    assert torch.get_num_threads() == before

    run = Run.create(TrainConfig(data=str(synthetic_csv), name="x"), root=tmp_path / "elsewhere",
                     graphs=tmp_path / "graphs", state="stopped")
    with pytest.raises(ValueError, match="not a run state"):
        run.set_status("exploded")
    run.delete()  # a run of another runs folder than the default one
    assert not run.dir.exists()


# ---------------------------------------------------------------- 6. races and leftovers


def _tiny_run(data, **kw) -> Run:
    from core.train import train

    cfg = dict(data=str(data), model="model48", width=8, epochs=1, batch_size=32, optimizer="adam", lr=3e-3,
               warmup_epochs=0.0, threads=1, name="tiny")
    return train(TrainConfig(**{**cfg, **kw}), progress=False)


def test_two_ships_to_one_name_at_once_one_wins(synthetic_csv, tmp_path, monkeypatch):
    import threading

    from core.workflows import ship as shipping

    run = _tiny_run(synthetic_csv)
    both_checked = threading.Barrier(2, timeout=60)
    real_load = shipping.load_checkpoint

    def load_after_both_checked(path):  # both have found the name free: the race of the issue
        both_checked.wait()
        return real_load(path)

    monkeypatch.setattr(shipping, "load_checkpoint", load_after_both_checked)
    outcomes = []

    def ship_it():
        try:
            shipping.ship(run, "same", model_dir=tmp_path / "models", graphs_dir=tmp_path / "graphs")
            outcomes.append("shipped")
        except FileExistsError as e:
            outcomes.append(str(e))

    threads = [threading.Thread(target=ship_it) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(outcomes)[-1] == "shipped" and "shipped meanwhile" in sorted(outcomes)[0], outcomes
    assert (tmp_path / "models" / "same.pt").stat().st_size > 0 and (tmp_path / "graphs" / "same").is_dir()
    assert [p.name for p in (tmp_path / "models").iterdir()] == ["same.pt"]  # no stage left behind


def test_a_resume_removes_checkpoints_half_saved_by_a_killed_process(synthetic_csv):
    from core.train import train

    run = _tiny_run(synthetic_csv, epochs=2)
    run.set_status("stopped")
    orphans = [run.dir / ".last.pt.tmp4242", run.dir / ".best.pt.tmp4243"]
    for p in orphans:
        p.write_bytes(b"\0" * 1000)  # what a kill -9 during torch.save leaves
    train(run=run, resume=True, progress=False)
    assert not any(p.exists() for p in orphans)


def test_a_full_disk_during_a_save_fails_the_run_with_the_reason_and_no_temp_file(synthetic_csv, monkeypatch):
    import errno

    import torch

    from core.models import checkpoint
    from core.train import train

    def save_half_then_fill_the_disk(state, path):
        Path(path).write_bytes(b"\0" * 1000)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", save_half_then_fill_the_disk)
    run = Run.create(TrainConfig(data=str(synthetic_csv), model="model48", width=8, epochs=1, batch_size=32,
                                 threads=1, name="full"), state="queued")
    with pytest.raises(OSError):
        train(run=run, progress=False)
    monkeypatch.setattr(checkpoint.torch, "save", torch.save)
    assert run.state() == "failed" and "No space left on device" in run.status()["error"]
    assert list(run.dir.glob(".*.tmp*")) == []


# ---------------------------------------------------------------- 5. sizes are not trusted


def _big_rgba_png(path: Path, side: int = 7900) -> Path:
    """A PNG of side x side RGBA pixels, written row by row: a few hundred KB on disk, 250 MB decoded."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    comp = zlib.compressobj(9)
    row = b"\0" + bytes([200, 30, 30, 128]) * side
    body = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 6, 0, 0, 0))
                     + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def test_a_huge_rgba_png_is_decoded_in_bounded_memory(tmp_path):
    png = _big_rgba_png(tmp_path / "big.png")
    code = ("import resource, sys\nfrom core.data.images import load_image\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "image = load_image(sys.argv[1])\n"
            "print(image.shape[0], image.shape[1], *image[0, 0],"
            " (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n")
    res = subprocess.run([sys.executable, "-c", code, str(png)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    h, w, r, g, b, extra_mb = map(int, res.stdout.split())
    assert (h, w) == (4096, 4096) and (r, g, b) == (227, 142, 142)  # half-transparent red on white
    assert extra_mb < 1000, f"{extra_mb} MB to load a {png.stat().st_size // 1000} KB PNG"  # 3,300 MB before


def test_only_regular_files_are_read_as_images(tmp_path):
    import os

    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    # the memory limit comes after the imports: PyTorch's CUDA build (pip's on 3.12+) maps GBs of libraries
    code = ("import resource, sys\nfrom core.data.images import ImageError, load_image\n"
            "vm = int(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmSize:'))) * 1024\n"
            "resource.setrlimit(resource.RLIMIT_AS, (vm + (2 << 30), vm + (2 << 30)))\n"
            "for path in sys.argv[1:]:\n"
            "    try:\n        load_image(path)\n    except ImageError as e:\n        print(e)\n")
    res = subprocess.run([sys.executable, "-c", code, str(fifo), "/dev/zero"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)  # before: the FIFO blocked for ever, /dev/zero read without end
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("is not a regular file") == 2, res.stdout


def _checkpoint_with(path: Path, **changes) -> Path:
    import torch

    from tests.helpers import biased_checkpoint

    biased_checkpoint(path)
    state = torch.load(path, weights_only=True)
    for key, value in changes.items():
        if key == "nan_weight":
            next(v for v in state["state_dict"].values() if v.is_floating_point()).view(-1)[0] = float("nan")
        else:
            state[key] = value
    torch.save(state, path)
    return path


def test_checkpoint_metadata_is_checked_on_load_and_listing(tmp_path):
    from core.models.checkpoint import CheckpointError, load_checkpoint
    from core.predict.catalogue import discover_models

    bad = {"input_size": (dict(input_size=30000), "input_size must be a whole number from 8 to 512 (it says 30000)"),
           "std": (dict(std=0.0), "std must be a positive number"),
           "size": (dict(input_size=-48), "input_size"),
           "classes": (dict(classes="abc"), "classes must be"),
           "nan": (dict(nan_weight=True), "NaN or infinite")}
    for name, (changes, why) in bad.items():
        path = _checkpoint_with(tmp_path / f"{name}.pt", **changes)
        with pytest.raises(CheckpointError, match=re.escape(why)):
            load_checkpoint(path)
    listed = {Path(m.path).stem: m for m in discover_models(tmp_path, runs="none")}
    assert "input_size must be" in listed["input_size"].error and "std must be" in listed["std"].error


def test_a_zip_bomb_checkpoint_is_refused_from_its_declared_sizes(tmp_path):
    import zipfile

    from core.models.checkpoint import UnsafeCheckpoint, load_checkpoint
    from core.predict.catalogue import discover_models

    bomb = tmp_path / "bomb.pt"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("bomb/data/0", "w", force_zip64=True) as f:
            block = b"\0" * 1_000_000
            for _ in range(300):  # 300 MB of zeros, packed into about 300 KB
                f.write(block)
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(UnsafeCheckpoint, match="declare 300 MB"):
        load_checkpoint(bomb)
    assert "declare 300 MB" in discover_models(tmp_path, runs="none")[0].error
