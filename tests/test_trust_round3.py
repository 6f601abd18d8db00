"""Trust, round 3 (issue 31): a diverged run ends failed with its reason; a damaged file in one folder leaves the
others listed and working; names from data reach the pages as text, never as HTML."""
from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.config import TrainConfig
from core.runs import Run
from tests.helpers import run_cli as cli

ROOT = Path(__file__).resolve().parent.parent
DIVERGING = dict(model="mini_xception", width=8, epochs=2, batch_size=16, optimizer="sgd", lr=10.0, momentum=0.9,
                 warmup_epochs=0.0, threads=1, amp=False)  # NaN within the first epoch's batches


def page(name: str, **state) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app_pages" / f"{name}.py"), default_timeout=90)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    parts = []
    for kind in ("markdown", "caption", "info", "success", "warning", "error", "code"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [f"{m.label}: {m.value}" for m in at.metric]
    return "\n".join(parts)


# ---------------------------------------------------------------- 1. a diverged run


def test_a_diverged_run_fails_with_its_reason_and_keeps_its_folder(synthetic_csv):
    from core.train import train

    run = train(TrainConfig(data=str(synthetic_csv), name="diverges", **DIVERGING), progress=False)
    st = run.status()
    assert st["state"] == "failed", st
    assert re.fullmatch(r"loss became (NaN|infinite) at epoch 1, batch \d+: lower the learning rate", st["error"])
    assert run.dir.is_dir() and run.metrics() == [] and not run.last_path.exists()
    assert "FAILED: loss became" in run.tail_log()


def test_the_pages_show_a_diverged_run_and_old_runs_with_null_losses(synthetic_csv, monkeypatch):
    from core.train import train

    monkeypatch.setenv("FER2013_PATH", str(synthetic_csv))
    failed = train(TrainConfig(data=str(synthetic_csv), name="diverges", **DIVERGING), progress=False)
    old = Run.create(TrainConfig(data=str(synthetic_csv), model="model48", epochs=2, name="old-nan"), state="finished")
    for epoch in (1, 2):  # what the old code wrote: the run "finished", its NaN losses saved as null
        old.append_metrics({"epoch": epoch, "train_loss": None, "train_acc": 0.14, "val_loss": None, "val_acc": 0.14,
                            "lr": 10.0, "seconds": 1.0})

    at = page("train", tr_view=failed.id)
    assert "Training failed." in texts(at) and "lower the learning rate" in texts(at)
    at.selectbox(key="tr_view").set_value(old.id).run()
    assert not at.exception, [e.value for e in at.exception]
    at = page("experiments", exp_pick=[old.id, failed.id])
    assert not at.exception


def test_a_search_marks_a_diverged_trial_failed(synthetic_csv):
    from optuna.trial import TrialState

    from core.jobs import search

    fixed = {k: v for k, v in DIVERGING.items() if k != "epochs"}
    study = search.run_search("diverging", n_trials=1, data=synthetic_csv, epochs=2, progress=False,
                              space={"label_smoothing": {"low": 0.0, "high": 0.1}}, fixed=fixed)
    trial = study.trials[0]
    assert trial.state == TrialState.FAIL
    assert "lower the learning rate" in trial.user_attrs["error"]


# ---------------------------------------------------------------- 3. one damaged file, one damaged folder


def _damaged_runs(data) -> dict[str, Run]:
    """A good run beside runs each with one damaged file (what a crash, a disk or a hand edit leaves)."""
    cfg = TrainConfig(data=str(data), model="model48", width=8, epochs=2)
    row = {"epoch": 1, "train_loss": 1.9, "train_acc": 0.2, "val_loss": 1.8, "val_acc": 0.25, "seconds": 1.0}
    runs = {}
    for kind in ("good", "status-null", "status-list", "config-types", "metrics-row"):
        run = runs[kind] = Run.create(TrainConfig(**{**cfg.__dict__, "name": kind}), state="stopped")
        run.append_metrics(row)
    runs["status-null"].status_path.write_text("null")
    runs["status-list"].status_path.write_text('["running"]')
    runs["config-types"].config_path.write_text(json.dumps({**cfg.__dict__, "epochs": "many"}))
    runs["metrics-row"].append_metrics({"epoch": 2, "train_loss": 1.7, "train_acc": 0.3})  # no val_acc
    return runs


def test_damaged_run_folders_are_listed_as_damaged_beside_the_good_one(synthetic_csv):
    runs = _damaged_runs(synthetic_csv)
    res = cli("runs", "--json")
    assert res.returncode == 0, res.stderr
    listed = {r["run"]: r for r in json.loads(res.stdout)}
    assert set(listed) == {r.id for r in runs.values()}
    assert listed[runs["good"].id]["state"] == "stopped" and listed[runs["good"].id]["problem"] is None
    assert "status.json is damaged" in listed[runs["status-null"].id]["problem"]
    assert "status.json is damaged" in listed[runs["status-list"].id]["problem"]
    assert "epochs must be a whole number, not 'many'" in listed[runs["config-types"].id]["problem"]
    assert "metrics.jsonl line 2" in listed[runs["metrics-row"].id]["problem"]
    assert {listed[r.id]["state"] for k, r in runs.items() if k != "good"} == {"damaged"}
    assert listed[runs["metrics-row"].id]["best_val"] == 0.25  # the good lines still count

    table = cli("runs")
    assert table.returncode == 0 and "Traceback" not in table.stderr and table.stdout.count("damaged") >= 4
    resume = cli("train", "--resume", runs["config-types"].id)
    assert resume.returncode == 2 and "config.json is damaged" in resume.stderr and "Traceback" not in resume.stderr


def test_the_pages_show_a_damaged_run_and_list_the_others(synthetic_csv, monkeypatch):
    monkeypatch.setenv("FER2013_PATH", str(synthetic_csv))
    runs = _damaged_runs(synthetic_csv)
    for kind, run in runs.items():
        at = page("train", tr_view=run.id)
        assert ("damaged" in texts(at)) == (kind != "good"), kind
    at = page("experiments", exp_pick=[r.id for r in runs.values()])
    table = at.dataframe[0].value
    assert len(table) == len(runs) and (table["status"] == "damaged").sum() == len(runs) - 1
    at.selectbox(key="exp_detail").set_value(runs["config-types"].id).run()
    assert not at.exception and "epochs must be a whole number" in texts(at)


def test_damaged_cards_and_analyses_leave_the_rest_working(tmp_path, monkeypatch):
    from core.video.store import VideoAnalysis, list_analyses

    good = json.loads(next((ROOT / "model").glob("*.card.json")).read_text())
    (tmp_path / "good.card.json").write_text(json.dumps(good))
    (tmp_path / "list.card.json").write_text("[1, 2]")
    res = cli("card", "--table", tmp_path / "good.card.json", tmp_path / "list.card.json")
    assert res.returncode == 0, res.stderr
    assert "| good |" in res.stdout and "| list | damaged card" in res.stdout

    damaged = VideoAnalysis.create("clip.mp4")
    damaged.status_path.write_text("[]")
    (damaged.dir / "settings.json").write_text("null")
    (damaged.dir / "tracks.json").write_text('{"tracks": [1]}')
    assert damaged.state() == "failed" and "status.json is damaged" in damaged.status()["error"]
    assert damaged.tracks() == [] and damaged.settings() == {} and len(list_analyses()) == 1
    at = AppTest.from_file(str(ROOT / "app_pages" / "video.py"), default_timeout=90).run()
    assert not at.exception, [e.value for e in at.exception]


def test_a_config_with_wrong_types_is_refused_with_every_problem(tmp_path):
    with pytest.raises(ValueError, match="epochs must be a whole number, not 'many'; flip must be true or false"):
        TrainConfig.from_dict({"epochs": "many", "flip": 1})
    assert TrainConfig.from_dict({"epochs": 30.0, "lr": 1}).epochs == 30  # a whole float is a whole number
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"lr": "fast", "epoch": 3}))
    res = cli("train", "--config", bad, "--data", tmp_path / "none.csv")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "lr must be a number" in res.stderr and "epoch" in res.stderr


# ---------------------------------------------------------------- 4. names from data are text, never HTML

HOSTILE = "<img src=x onerror=alert(1)>"


def shown_as_text(at: AppTest, hostile: str = HOSTILE) -> bool:
    """The name reaches the page's HTML escaped, and nowhere as markup."""
    html_parts = [str(e.value) for e in at.markdown] + [str(e.proto.body) for e in at.get("html")]
    return not any(hostile in p for p in html_parts) and any(html.escape(hostile) in p for p in html_parts)


def test_study_names_from_a_shared_database_show_as_text_and_foreign_ones_read_only(monkeypatch):
    import optuna

    from core.jobs import search

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = search.get_storage()
    for name in (HOSTILE, "my study"):  # both legal in Optuna, made by another user of the database
        study = optuna.create_study(study_name=name, storage=storage, direction="maximize")
        study.tell(study.ask(), 0.5)
    at = page("experiments", se_view=HOSTILE)
    assert shown_as_text(at)
    assert "made outside this app" in texts(at)
    at.selectbox(key="se_view").set_value("my study").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "read-only" in texts(at) and "<b>my study</b>" in texts(at)


def test_run_and_analysis_names_show_as_text(synthetic_csv, monkeypatch):
    from core.video.store import VideoAnalysis

    monkeypatch.setenv("FER2013_PATH", str(synthetic_csv))
    run = Run.create(TrainConfig(data=str(synthetic_csv), model="model48", width=8, epochs=2, name="x"), state="queued",
                     managed="search")  # queued and managed: listed in the queue panel, no worker takes it
    run.update_info(title=HOSTILE)
    assert shown_as_text(page("train", tr_view=run.id))
    at = page("experiments", exp_pick=[run.id])
    assert shown_as_text(at)

    analysis = VideoAnalysis.create(HOSTILE + ".mp4")
    analysis.set_status("failed", error="no frames")
    at = AppTest.from_file(str(ROOT / "app_pages" / "video.py"), default_timeout=90).run()
    assert not at.exception and shown_as_text(at, HOSTILE)


def test_the_html_helpers_escape_what_they_are_given():
    from ui import charts
    from ui import widgets as w
    from ui.page import pill
    from ui.search_form import study_heading

    for text in (charts.html_bars([0.5, 0.5], [HOSTILE, "b"], title=HOSTILE), pill(HOSTILE, "#fff"),
                 w.stream_caption({"faces": [], "frames": 3, "model": HOSTILE}), study_heading(HOSTILE, False)):
        assert HOSTILE not in text and html.escape(HOSTILE) in text


# ---------------------------------------------------------------- 2. the server answers this machine only


def _listening(port: int) -> list[str]:
    """The local addresses (hex, as /proc/net/tcp* writes them) of the sockets listening on `port`."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                out.append(address)
    return out


def test_a_fresh_server_listens_on_localhost_only():
    from harness.browser import free_port
    from tests.helpers import wait_for

    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs Linux's /proc/net/tcp")
    loopback = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1 and ::1
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "Home.py", "--server.headless", "true",
                             "--server.port", str(port), "--browser.gatherUsageStats", "false"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _listening(port) or proc.poll() is not None, timeout=120, what="streamlit to listen")
        assert proc.poll() is None
        assert set(_listening(port)) <= loopback, _listening(port)  # not 0.0.0.0 nor ::, nor the LAN address
    finally:
        proc.terminate()
        proc.wait(timeout=30)
