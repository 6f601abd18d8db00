"""The bottom layer's shared pieces: the folder record a run and a video analysis both are (core.records),
`atomic_path` and `tail` (core.files), and the one way a background process is started (core.processes)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from core.files import atomic_path, read_json, replace_atomically, tail, temp_path
from core.processes import identity, pid_alive, reap, spawn
from core.records import FolderRecord, check_id, new_id


class Thing(FolderRecord):
    kind, marker, log_name = "thing", "status.json", "thing.log"
    default_root = None  # set per test

    @classmethod
    def create(cls, name, root):
        t = cls(cls.new_folder(name, root))
        t.set_status("queued", created=1.0)
        return t


# ---------------------------------------------------------------- atomic_path


def test_atomic_path_renames_into_place_on_success(tmp_path):
    target = tmp_path / "a.json"
    target.write_text("old")
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp != target and not tmp.exists()
        tmp.write_text("new")
        assert target.read_text() == "old"  # readers see the old file until the block ends
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["a.json"]


def test_atomic_path_keeps_the_old_file_and_leaves_no_temp_when_the_write_fails(tmp_path):
    target = tmp_path / "a.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["a.json"]
    with pytest.raises(KeyboardInterrupt):  # a kill signal turned into an exception, too
        with atomic_path(tmp_path / "b") as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == ["a.json"]


def test_atomic_path_keeps_a_suffix_for_writers_that_pick_the_format_by_name(tmp_path):
    target = tmp_path / "x.npz"
    with atomic_path(target, ".npz") as tmp:
        assert tmp.name.endswith(".npz") and tmp.name.startswith(".x.npz.tmp")
        tmp.write_bytes(b"z")
    assert target.read_bytes() == b"z"
    assert temp_path(target) == tmp_path / f".x.npz.tmp{os.getpid()}"  # checkpoints' temp names, unchanged
    assert replace_atomically(tmp_path / "y", lambda p: p.write_text("y")).read_text() == "y"


def test_atomic_path_with_nothing_written_fails_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "a"
    target.write_text("old")
    with pytest.raises(FileNotFoundError):
        with atomic_path(target):
            pass
    assert target.read_text() == "old"


# ---------------------------------------------------------------- tail


def test_tail_is_the_last_lines_or_nothing(tmp_path):
    log = tmp_path / "x.log"
    assert tail(log) == ""  # missing
    log.write_text("".join(f"line {i}\n" for i in range(30)))
    assert tail(log, 3) == "line 27\nline 28\nline 29"
    assert tail(log).splitlines() == [f"line {i}" for i in range(10, 30)]  # 20 by default
    assert tail(log, 100).count("\n") == 29 and tail(log, 0) == ""
    log.write_bytes(b"ok\n\xff\xfe broken\n")
    assert tail(log, 1) == "\ufffd\ufffd broken"  # undecodable bytes are replaced, never an error
    assert tail(tmp_path) == ""  # a folder: unreadable


# ---------------------------------------------------------------- the folder record


def test_ids_are_safe_and_unique_in_one_second(tmp_path):
    assert check_id("20240101-x-host1") == "20240101-x-host1"
    for bad in ("", "..", "../x", "/etc", "a/b", ".hidden"):
        with pytest.raises(ValueError, match="not a valid thing id"):
            check_id(bad, "thing")
    assert new_id("my clip/../x").startswith(time.strftime("%Y%m%d")) and "/" not in new_id("a/b")
    a, b = Thing.create("same", tmp_path), Thing.create("same", tmp_path)
    assert a.id != b.id and b.id == a.id + "-2"


def test_a_record_opens_by_id_or_its_own_path_and_nothing_else(tmp_path):
    t = Thing.create("one", tmp_path)
    assert Thing.open(t.id, tmp_path).dir == t.dir and Thing.open(str(t.dir), tmp_path).id == t.id
    with pytest.raises(ValueError, match="not a valid thing id"):
        Thing.open(str(tmp_path.parent / "elsewhere" / t.id), tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no thing 'empty'"):
        Thing.open("empty", tmp_path)
    assert [x.id for x in Thing.list_in(tmp_path)] == [t.id] and Thing.list_in(tmp_path / "none") == []
    assert repr(t) == f"Thing({t.id!r})"


def test_status_keeps_its_fields_records_the_owner_and_clears_the_last_error(tmp_path):
    t = Thing.create("s", tmp_path)
    t.set_status("failed", error="boom")
    st = t.set_status("running", note="x")
    assert st["created"] == 1.0 and "error" not in st and st["pid"] == os.getpid() and t.state() == "running"
    assert t.set_status("stopped", fresh=True).keys() >= {"created", "started"}
    assert "note" not in t.status()
    with pytest.raises(ValueError, match="not a thing state"):
        t.set_status("dancing")
    t.status_path.write_text("[1, 2]")  # damaged: read as failed, never a crash
    assert t.status()["damaged"] and t.state() == "failed"
    assert t.set_status("queued")["state"] == "queued"


def test_a_running_record_whose_process_is_gone_is_interrupted(tmp_path):
    t = Thing.create("dead", tmp_path)
    t.set_status("running")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    status = {**t.status(), "pid": int(dead.stdout), "pid_start": "1"}
    t.status_path.write_text(json.dumps(status))
    assert t.status()["state"] == "running" and t.state() == "interrupted"


def test_progress_stop_log_and_delete(tmp_path):
    t = Thing.create("p", tmp_path)
    assert t.progress() == {}
    t.write_progress(done=3)
    assert t.progress()["done"] == 3 and "time" in t.progress()
    assert not t.stop_requested()
    t.request_stop()
    assert t.stop_requested() and t.stop_path.name == "STOP"
    t.clear_stop()
    assert not t.stop_requested()
    t.log_path.write_text("a\nb\nc\n")
    assert t.tail_log(2) == "b\nc"
    t.set_status("running")
    with pytest.raises(RuntimeError, match=f"thing {t.id} is running: stop it first"):
        t.delete()
    t.set_status("finished")
    t.delete()
    assert not t.dir.exists()
    stranger = Thing(tmp_path / "not-one")
    stranger.dir.mkdir()
    with pytest.raises(RuntimeError, match="not a thing folder"):
        stranger.delete()
    assert stranger.dir.exists()


def test_runs_and_analyses_are_folder_records():
    from core.runs import Run
    from core.video.store import VideoAnalysis

    assert issubclass(Run, FolderRecord) and issubclass(VideoAnalysis, FolderRecord)
    for cls, method in ((Run, "set_status"), (VideoAnalysis, "set_status"), (Run, "open"), (VideoAnalysis, "open"),
                        (VideoAnalysis, "progress"), (Run, "request_stop"), (VideoAnalysis, "tail_log")):
        assert getattr(cls, method).__qualname__.startswith("FolderRecord.")  # said once


# ---------------------------------------------------------------- spawning


def test_spawn_detaches_appends_output_and_reaps(tmp_path):
    log = tmp_path / "logs" / "child.log"
    log.parent.mkdir()
    log.write_text("before\n")
    code = "import os, sys; print('sid', os.getsid(0) == os.getpid()); print('err', file=sys.stderr); print('stdin', repr(sys.stdin.read()))"
    proc = spawn([sys.executable, "-c", code], log, env={**os.environ, "X": "1"}, cwd=tmp_path)
    assert proc.wait(timeout=60) == 0
    assert log.read_text().splitlines()[:1] == ["before"]  # appended, not replaced
    out = log.read_text()
    assert "sid True" in out and "err" in out and "stdin ''" in out  # own session; stderr logged; no stdin
    rec = identity(os.getpid())
    assert rec["pid"] == os.getpid() and pid_alive(rec["pid"], rec["pid_start"])
    reap()
    import core.processes as processes

    assert proc not in processes._children


def test_spawn_makes_the_log_folder(tmp_path):
    proc = spawn([sys.executable, "-c", "print('hi')"], tmp_path / "a" / "b.log")
    assert proc.wait(timeout=60) == 0 and (tmp_path / "a" / "b.log").read_text() == "hi\n"
    assert read_json(tmp_path / "missing.json", 5) == 5
