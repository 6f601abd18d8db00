"""Beyond one machine: the search on a real PostgreSQL server with workers in separate processes (one killed
mid-trial: the heartbeat fails its trial, the study goes on), the Experiments page reading that study, and one
run trained on two CPU processes with DDP (torchrun): one run folder, disjoint shards, identical models, one
metrics line per epoch, a stop, a killed rank, a hung rank, and resumes at the right epoch."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from harness.ddp_trace import digest
from harness.env import hooked_env
from tests.helpers import wait_for

from core.jobs import search
from core.runs import Run, list_runs
from core.train import distributed

pytest_plugins = ["tests.postgres"]  # the throwaway PostgreSQL server: fixtures postgres_server, postgres_url
ROOT = Path(__file__).resolve().parent.parent
FIXED = {"model": "model48", "width": 8, "batch_size": 32, "threads": 1, "warmup_epochs": 0, "optimizer": "adam"}
SPACE = {"lr": {"low": 1e-3, "high": 1e-2, "log": True}, "label_smoothing": {"low": 0.0, "high": 0.2}}
DDP = ["--model", "model48", "--width", "8", "--batch-size", "16", "--limit", "160", "--threads", "1",
       "--warmup-epochs", "0", "--no-progress"]


def core_cmd(*args, env=None, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "core", *map(str, args)], cwd=ROOT, env=env or dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def spec_file(tmp_path) -> Path:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"space": SPACE, "fixed": FIXED}))
    return path


def worker(url, study, data, spec, trials, epochs=1, *extra, env=None) -> subprocess.Popen:
    """One search worker, a process of its own, as on another machine: the same command, the same database."""
    return core_cmd("search", "--storage", url, "--study", study, "--trials", trials, "--epochs", epochs,
                    "--limit", 80, "--data", data, "--spec-file", spec, "--no-progress", *extra, env=env)


# ---------------------------------------------------------------- the search on PostgreSQL


def test_without_postgres_the_database_tests_skip_here_and_fail_in_ci(monkeypatch):
    from tests import postgres

    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="PostgreSQL not available"):
        postgres.missing("no initdb found")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="PostgreSQL is needed in CI"):
        postgres.missing("no initdb found")


def test_two_workers_share_one_postgres_study_and_the_page_reads_it(postgres_url, synthetic_csv, tmp_path,
                                                                     monkeypatch):
    spec = spec_file(tmp_path)
    workers = [worker(postgres_url, "pg", synthetic_csv, spec, 3) for _ in range(2)]
    for w in workers:
        code, _, err = finish(w)
        assert code == 0, err[-2000:]

    study = search.load_study("pg", url=postgres_url)
    trials = study.trials
    assert len(trials) == 6 and len({t.number for t in trials}) == 6
    assert len({tuple(sorted(t.params.items())) for t in trials}) == 6  # no parameter set drawn twice
    assert len({t.user_attrs["pid"] for t in trials}) == 2 and all(t.user_attrs["host"] for t in trials)
    run_ids = {t.user_attrs["run_id"] for t in trials}
    assert len(run_ids) == 6 and run_ids == {r.id for r in list_runs()}  # six folders: none written twice
    for t in trials:
        assert Run.open(t.user_attrs["run_id"]).config().name == f"pg-t{t.number}"
    best = Run.open(study.best_trial.user_attrs["run_id"])
    assert best.state() == "finished" and (best.dir / "summary.json").exists()
    assert study.best_trial.user_attrs["test_acc"] == pytest.approx(best.summary()["test_acc"])
    table = search.trials_table(study)
    assert {r["worker"] for r in table} == {f"{t.user_attrs['host']}:{t.user_attrs['pid']}" for t in trials}
    assert not (Path(os.environ["FEL_RUNS_DIR"]) / "optuna.db").exists()  # nothing went to SQLite

    # the page on a machine without these runs: the study's figures, its worker per trial, the database named
    from streamlit.testing.v1 import AppTest

    shown_url = postgres_url.replace("fel@", "fel:s3cret@")  # trust authentication: the password is not checked
    monkeypatch.setenv("FEL_STUDY_STORAGE", shown_url)
    monkeypatch.setenv("FEL_RUNS_DIR", str(tmp_path / "elsewhere"))
    search._STORAGES.clear()
    at = AppTest.from_file(str(ROOT / "app_pages" / "experiments.py"), default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    text = " ".join(str(m.value) for m in [*at.markdown, *at.caption, *at.success])
    assert search.redacted(shown_url) in text and "s3cret" not in text, text
    assert "not on this machine" in text
    df = next(d.value for d in at.dataframe if "worker" in d.value.columns)
    assert len(df) == 6 and not df["here"].any() and set(df["worker"]) == {r["worker"] for r in table}
    assert df["val_acc"].notna().sum() >= 1


def test_workers_opening_an_empty_database_at_once_all_get_it(postgres_url, tmp_path):
    """Optuna's tables are made by whichever worker comes first; the others' attempt fails and is retried."""
    code = ("import sys, time, pathlib, optuna, psycopg2; from core.jobs import search\n"
            "gate = pathlib.Path(sys.argv[2]); (gate / sys.argv[3]).touch()\n"
            "while len(list(gate.iterdir())) < 4: time.sleep(0.001)\n"  # all imported: open at the same moment
            "search.get_storage(url=sys.argv[1]); print('ok')")
    procs = [subprocess.Popen([sys.executable, "-c", code, postgres_url, tmp_path, str(i)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(4)]
    results = [finish(p, 120) for p in procs]
    assert all(c == 0 and out.strip() == "ok" for c, out, _ in results), [err[-500:] for *_, err in results]


def test_a_killed_worker_s_trial_is_failed_by_the_heartbeat_and_retried(postgres_url, synthetic_csv, tmp_path):
    spec = spec_file(tmp_path)
    doomed = worker(postgres_url, "beat", synthetic_csv, spec, 1, 60, "--heartbeat", 1)
    try:
        def training():
            try:
                ts = search.load_study("beat", url=postgres_url).trials
            except ValueError:
                return False
            return bool(ts and ts[0].intermediate_values)
        wait_for(training, what="the first trial's first epoch")
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.communicate()
    killed = search.load_study("beat", url=postgres_url).trials[0]
    assert killed.state.name == "RUNNING"  # nobody has said otherwise yet
    time.sleep(search.GRACE_S / search.HEARTBEAT_S + 1)  # a heartbeat of 1 s: failed after 4 s of silence

    code, _, err = finish(worker(postgres_url, "beat", synthetic_csv, spec, 2, 1, "--heartbeat", 1, "--retries", 1))
    assert code == 0, err[-2000:]
    search._STORAGES.clear()
    study = search.load_study("beat", url=postgres_url)
    states = {t.number: t.state.name for t in study.trials}
    assert states[0] == "FAIL" and list(states.values()).count("COMPLETE") == 2, states
    rows = {r["trial"]: r for r in search.trials_table(study)}
    assert rows[0]["error"] == search.LOST
    retry = next(r for r in rows.values() if r["retry_of"] == 0)  # the retry: the same parameters, run anew
    assert retry["state"] == "complete" and retry["run_id"] != rows[0]["run_id"]
    assert study.trials[retry["trial"]].params == killed.params
    assert Run.open(killed.user_attrs["run_id"]).state() == "interrupted"  # its folder says so too


def test_a_worker_told_to_stop_ends_after_a_clean_stop_of_its_trial(synthetic_csv, tmp_path):
    """SIGTERM (or Ctrl-C) ends the worker, not just its trial: no new trial starts after it (SQLite here)."""
    proc = worker(f"sqlite:///{tmp_path / 'study.db'}", "term", synthetic_csv, spec_file(tmp_path), 3, 60)
    wait_for(lambda: list_runs() and _epochs(list_runs()[0]) >= 1, what="the first epoch")
    proc.send_signal(signal.SIGTERM)
    code, _, err = finish(proc, 300)
    assert code == 0, err[-2000:]
    trials = search.load_study("term", url=f"sqlite:///{tmp_path / 'study.db'}").trials
    assert [t.state.name for t in trials] == ["PRUNED"] and list_runs()[0].state() == "stopped"


# ---------------------------------------------------------------- one run on two processes (DDP, gloo)


def test_shards_are_disjoint_and_cover_the_epoch():
    perm = torch.randperm(103, generator=torch.Generator().manual_seed(1))
    for world in (1, 2, 3, 4):
        parts = [distributed.shard(perm, distributed.Context(r, world)) for r in range(world)]
        flat = torch.cat(parts).tolist()
        assert sorted(flat) == list(range(103)) and len(set(flat)) == 103
        assert max(len(p) for p in parts) - min(len(p) for p in parts) <= 1
    one = distributed.Context()
    assert not one.active and distributed.any_rank(True, one) and distributed.share(7, one) == 7
    assert distributed.on_rank0(lambda: "made", one) == "made"


def test_a_ddp_run_on_two_processes_is_one_run_with_one_model(synthetic_csv, tmp_path):
    from core.models.checkpoint import build_model, load_checkpoint

    env = hooked_env(FEL_DDP_TRACE=tmp_path / "trace")  # each rank says what it trained on (harness/ddp_trace.py)
    code, out, err = finish(core_cmd("train", "--nproc", 2, "--name", "ddp", "--data", synthetic_csv, "--epochs", 2,
                                     "--json", *DDP, env=env))
    assert code == 0, err[-3000:]
    runs = list_runs()
    assert len(runs) == 1  # rank 0 made the folder; rank 1 trained in it
    run = runs[0]
    assert json.loads(out.strip().splitlines()[-1])["run"] == run.id
    assert run.state() == "finished" and run.status()["processes"] == 2 and run.summary()["test_acc"] is not None
    assert [r["epoch"] for r in run.metrics()] == [1, 2] and len(run.metrics_path.read_text().splitlines()) == 2

    traces = [json.loads((tmp_path / "trace" / f"rank{r}.json").read_text()) for r in (0, 1)]
    n, batch = 160, 16
    for epoch in ("0", "1"):
        a, b = (set(t["seen"][epoch]) for t in traces)
        assert not a & b and len(a) == len(b) == n // 2  # disjoint halves...
        assert len(a | b) == (n // (batch * 2)) * batch * 2  # ...covering the epoch (less a ragged tail)
    ck = load_checkpoint(run.last_path)
    assert not any(k.startswith("module.") for k in ck["state_dict"]) and ck["world"] == 2
    assert traces[0]["digest"] == traces[1]["digest"] == digest(ck["state_dict"])  # one model on both ranks
    assert build_model(load_checkpoint(run.best_path), run.best_path) is not None  # the single-process format


def _rank_pid(root: int, rank: int) -> int | None:
    """The process of `rank` among `root`'s descendants (torchrun's workers carry RANK in their environment)."""
    kids: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, ppid = int(stat.parent.name), int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(pid)
    todo, seen = [root], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += kids.get(p, [])
    for pid in seen[1:]:
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in env and b"TORCHELASTIC_RUN_ID" in b" ".join(env):
            return pid
    return None


def _epochs(run) -> int:
    return len(run.metrics()) if run.metrics_path.exists() else 0


def test_a_ddp_run_stops_fails_when_a_rank_dies_and_resumes_at_the_right_epoch(synthetic_csv):
    epochs = 12
    proc = core_cmd("train", "--nproc", 2, "--name", "life", "--data", synthetic_csv, "--epochs", epochs, *DDP)
    wait_for(lambda: list_runs() and _epochs(list_runs()[0]) >= 1, what="the first epoch")
    run = list_runs()[0]
    run.request_stop()  # the STOP file, seen by a rank: both stop at the same step
    code, _, err = finish(proc)
    assert code == 0 and run.state() == "stopped", err[-3000:]
    stopped_at = _epochs(run)
    assert stopped_at < epochs

    res = subprocess.run([sys.executable, "-m", "core", "train", "--resume", run.id, "--no-progress"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 2 and "trained on 2 processes" in res.stderr and run.state() == "stopped"

    torchrun = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                                 "2", "-m", "core", "train", "--resume", run.id, "--no-progress"], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: _epochs(run) > stopped_at and _rank_pid(torchrun.pid, 1), what="an epoch after the resume")
    os.kill(_rank_pid(torchrun.pid, 1), signal.SIGKILL)  # a rank dies: torchrun ends the other one
    _, err = torchrun.communicate(timeout=300)
    assert torchrun.returncode != 0
    st = run.status()
    assert run.state() == "failed" and "another of the 2 training processes stopped" in st["error"], (st, err[-3000:])
    assert f"resumed at epoch {stopped_at + 1}" in run.log_path.read_text()
    died_at = _epochs(run)
    assert died_at < epochs, "the run ended before the rank was killed: give it more epochs"

    code, _, err = finish(core_cmd("train", "--nproc", 2, "--resume", run.id, "--no-progress"))
    assert code == 0 and run.state() == "finished", err[-3000:]
    assert f"resumed at epoch {died_at + 1}" in run.log_path.read_text()
    assert [r["epoch"] for r in run.metrics()] == list(range(1, epochs + 1))  # no epoch lost or repeated
    assert len(run.metrics_path.read_text().splitlines()) == epochs


def test_a_hung_rank_ends_the_run_failed_within_the_timeout(synthetic_csv):
    env = {**os.environ, "FEL_DDP_TIMEOUT": "5"}
    proc = core_cmd("train", "--nproc", 2, "--name", "hang", "--data", synthetic_csv, "--epochs", 200, *DDP, env=env)
    hung = None
    try:
        wait_for(lambda: list_runs() and _epochs(list_runs()[0]) >= 1 and _rank_pid(proc.pid, 1),
                 what="the first epoch")
        hung = _rank_pid(proc.pid, 1)
        os.kill(hung, signal.SIGSTOP)  # alive but silent: only the timeout can tell
        run = list_runs()[0]
        wait_for(lambda: run.status().get("state") == "failed", 120, "rank 0 to give up on the silent rank")
        assert "hung for 5 s" in run.status()["error"] and _epochs(run) < 200
    finally:
        if hung:
            try:
                os.kill(hung, signal.SIGKILL)
            except ProcessLookupError:
                pass
        finish(proc, 120)
    assert proc.returncode == 1 and run.state() == "failed"
