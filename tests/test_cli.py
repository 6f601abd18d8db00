import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def cli(*args, check=True):
    res = subprocess.run([sys.executable, "-m", "core", *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                         timeout=600)  # a hung child fails the test instead of outliving it
    if check:
        assert res.returncode == 0, res.stderr[-3000:]
    return res


@pytest.mark.parametrize("cmd", ["train", "evaluate", "search", "predict", "runs", "models"])
def test_every_command_has_help(cmd):
    assert "usage" in cli(cmd, "--help").stdout.lower()


def test_train_evaluate_and_list_from_the_command_line(synthetic_csv):
    out = cli("train", "--recipe", "quick", "--data", synthetic_csv, "--width", 8, "--epochs", 1, "--batch-size", 32,
              "--name", "cli run", "--no-progress", "--json").stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["state"] == "finished" and 0 <= result["test_acc"] <= 1
    ev = json.loads(cli("evaluate", "--run", result["run"], "--data", synthetic_csv, "--tta", "flip", "--json").stdout)
    assert ev["n"] == sum(map(sum, ev["confusion"]))
    text = cli("evaluate", "--run", result["run"], "--data", synthetic_csv).stdout
    assert "accuracy" in text and "neutral" in text
    runs = json.loads(cli("runs", "--json").stdout)
    assert [r["run"] for r in runs] == [result["run"]]
    assert "mini_xception" in cli("models").stdout


def test_clear_errors_not_tracebacks(tmp_path):
    import torch

    if not torch.cuda.is_available():
        gpu = cli("train", "--recipe", "quick", "--device", "cuda", check=False)
        assert gpu.returncode == 2 and "no CUDA GPU" in gpu.stderr and "Traceback" not in gpu.stderr
        assert not cli("runs", "--json").stdout.strip("[] \n")  # and no run folder was made
    bad = cli("train", "--data", tmp_path / "none.csv", "--epochs", 0, check=False)
    assert bad.returncode == 2 and "epochs must be between" in bad.stderr and "Traceback" not in bad.stderr
    missing = cli("train", "--data", tmp_path / "none.csv", "--epochs", 1, "--no-progress", check=False)
    assert missing.returncode != 0 and "no such file" in missing.stderr and "Traceback" not in missing.stderr
    ev = cli("evaluate", "--checkpoint", tmp_path / "x.pt", check=False)
    assert ev.returncode == 2 and "x.pt does not exist" in ev.stderr


def test_ship_and_card(synthetic_csv, tmp_path, monkeypatch):
    from core.workflows.card import card, card_markdown
    from core.workflows.ship import ship
    from core.models.checkpoint import load_model
    from core.config import TrainConfig
    from core.train import train

    run = train(TrainConfig(data=str(synthetic_csv), model="model48", width=8, epochs=1, batch_size=32, threads=1),
                progress=False)
    path = ship(run, "../My Model", model_dir=tmp_path / "model", graphs_dir=tmp_path / "graphs")
    assert path == tmp_path / "model" / "My-Model.pt"
    assert (tmp_path / "graphs" / "My-Model" / "loss.png").exists()
    model, meta = load_model(path)
    assert meta.run_id == run.id and meta.training["epochs"] == 1
    assert meta.temperature > 0 and meta.temperature == run.summary()["calibration"]["temperature"]
    c = card(path, data=synthetic_csv)
    assert c["command"] == f"python -m core card {path}" and c["date"] and c["host"]["cores"]  # where it was measured
    assert c["temperature"] == pytest.approx(meta.temperature) and 0 <= c["ece_calibrated"] <= 1
    assert "Calibration on PrivateTest" in card_markdown(c)
    assert 0 <= c["test_flip"]["accuracy"] <= 1 and c["latency_ms_per_face_2_threads"] > 0
    st = c["test_stress_from_emotion"]
    assert sum(map(sum, st["confusion"])) == sum(map(sum, c["test_none"]["confusion"]))
    assert 0.5 <= st["majority_share"] <= 1 and 0 <= st["accuracy"] <= 1
    assert "PrivateTest" in card_markdown(c) and "derived from the emotions" in card_markdown(c)
    (tmp_path / "model" / "My-Model.card.json").write_text(json.dumps(c))
    table = cli("card", "--table", tmp_path / "model" / "My-Model.card.json").stdout.splitlines()
    assert len(table) == 3 and table[2].startswith("| My-Model | model48, width 8 |")
    assert f"{c['test_none']['accuracy']:.2%}" in table[2] and f"{c['params']:,}" in table[2]
    assert table[2].endswith(f"| {c['ece']:.3f} / {c['ece_calibrated']:.3f} |")
    assert "one checkpoint at a time" in cli("card", path, path, check=False).stderr
