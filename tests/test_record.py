"""A live session recorded (core.video.record.LiveRecorder, fed by the webcam's LiveAnalyser): the folder it
writes is a video analysis like a clip's, its frames.jsonl holds exactly the frames the analyser labelled
(same count, same tracks, the frames' own times), a writer that falls behind drops frames from the record
and counts them without ever blocking the stream, and a recording whose process is killed stays readable
and reads as interrupted."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from core.predict.frame import LiveAnalyser, LiveSettings
from core.video import VideoAnalysis, list_analyses, summarise_tracks
from core.video.record import LiveRecorder
from core.video.synth import Face, face_patches, scene_frames
from tests.helpers import FixedDetector, wait_for

ROOT = Path(__file__).resolve().parent.parent

FPS = 15


class Spy:
    """A sink between the analyser and the recorder: keeps what the analyser labelled, passes it on."""

    def __init__(self, recorder):
        self.recorder, self.labelled = recorder, []

    def feed(self, image, faces, time_s, color):
        self.labelled.append((time_s, [f["id"] for f in faces], [f["held"] for f in faces]))
        self.recorder.feed(image, faces, time_s, color)


@pytest.fixture(scope="module")
def scene():
    """Two faces: A the whole time, B from 1.0 s to 2.0 s (RGB frames, 320x240, 15 frames/s)."""
    patches = face_patches(ROOT / "sample_images")
    faces = [Face(0, cx=lambda t: 0.28 + 0.03 * t, cy=lambda t: 0.5, side=lambda t: 0.5 + 0.05 * t),
             Face(1, start_s=1.0, end_s=2.0, cx=lambda t: 0.78, cy=lambda t: 0.45, side=lambda t: 0.45)]
    return list(scene_frames(patches, faces, 3.0, FPS, (320, 240)))


@pytest.fixture(scope="module")
def analyser_parts(app_model_dir):
    from core.predict import load_predictor
    from core.predict.detectors import HaarDetector

    return load_predictor(str(app_model_dir / "tiny.pt")), HaarDetector(min_size=0.1, detect_width=480)


def test_the_record_holds_the_frames_the_analyser_labelled(scene, analyser_parts):
    predictor, detector = analyser_parts
    # inline: every frame analysed before it is shown, so both faces' tracks are in the record, whatever the speed
    la = LiveAnalyser(predictor, detector, LiveSettings(detect_every=3), inline=True)
    rec = LiveRecorder.start([predictor], detector, la.settings, queue_frames=10_000)
    spy = Spy(rec)
    for t, rgb in scene[:5]:
        la.process(rgb[..., ::-1].copy(), color="bgr", time_s=100.0 + t)  # not recording yet: not in the record
    la.record_into(spy)
    for t, rgb in scene[5:]:
        la.process(rgb[..., ::-1].copy(), color="bgr", time_s=100.0 + t)  # a stream's own clock, not 0-based
    la.record_into(None)
    la.process(scene[0][1][..., ::-1].copy(), color="bgr", time_s=200.0)  # stopped: not in the record either
    a = rec.stop()

    assert a.state() == "finished" and a.status()["source"] == "webcam"
    rows = a.frames()
    assert len(rows) == len(spy.labelled) == len(scene) - 5 and rec.dropped == 0
    assert [[f["track"] for f in r["faces"]] for r in rows] == [ids for _, ids, _ in spy.labelled]
    assert [[f["held"] for f in r["faces"]] for r in rows] == [held for _, _, held in spy.labelled]
    assert {f["track"] for r in rows for f in r["faces"]} >= {1, 2}  # both faces were followed
    t0 = spy.labelled[0][0]
    assert [r["time_s"] for r in rows] == pytest.approx([t - t0 for t, _, _ in spy.labelled], abs=1e-3)
    # the same files and formats as a clip's analysis: the Video page's loaders read it
    models = a.settings()["models"]
    assert [m["classes"] for m in models] == [list(predictor.classes)]
    assert a.tracks() == summarise_tracks(rows, models)
    assert all(a.thumb_path(t["track"]).is_file() for t in a.tracks())
    assert a.settings()["clip"]["width"] == 320 and a.settings()["clip"]["duration_s"] == pytest.approx(rows[-1]["time_s"])
    assert a.id in [x.id for x in list_analyses()] and a.annotated_path() is None


def test_an_annotated_copy_when_asked(scene, analyser_parts):
    import av

    predictor, detector = analyser_parts
    la = LiveAnalyser(predictor, detector)
    rec = LiveRecorder.start([predictor], detector, la.settings, annotate=True, queue_frames=10_000)
    la.record_into(rec)
    for t, rgb in scene[:10]:
        la.process(rgb[..., ::-1].copy(), color="bgr", time_s=t)
    a = rec.stop()
    path = a.annotated_path()
    assert path is not None and a.status()["annotated"]["frames"] == 10
    with av.open(str(path)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 10


def test_a_writer_behind_drops_frames_from_the_record_and_counts_them(monkeypatch):
    """The writer is held on its first frame: the queue (1 frame) fills, later frames are dropped at once."""
    entered, release = threading.Event(), threading.Event()
    rec = LiveRecorder.start(queue_frames=1)
    write = rec._write

    def held_write(*args):
        entered.set()
        release.wait(60)
        write(*args)

    monkeypatch.setattr(rec, "_write", held_write)
    image = np.zeros((48, 64, 3), np.uint8)
    rec.feed(image, [], 0.0)
    assert entered.wait(60)
    for i in range(1, 6):
        rec.feed(image, [], i / FPS)  # returns at once: one waits in the queue, four are dropped
    assert rec.fed == 6 and rec.dropped == 4
    release.set()
    a = rec.stop()
    assert [r["frame"] for r in a.frames()] == [0, 1] and a.status()["dropped"] == 4


def test_a_stream_that_stops_sending_closes_the_recording_as_interrupted():
    rec = LiveRecorder.start(idle_s=0.5)
    rec.feed(np.zeros((48, 64, 3), np.uint8), [], 1.0)
    wait_for(lambda: rec.state != "running", 60, "the idle recording to close")
    a = rec.analysis
    assert a.state() == "interrupted" and "no frame" in a.status()["reason"] and len(a.frames()) == 1


KILLED = r"""
import sys, time
import numpy as np
from core.predict.frame import LiveAnalyser, LiveSettings
from core.video.record import LiveRecorder
from tests.helpers import FixedDetector as Detector

class Model:
    name, classes = "fixed", ("happy", "sad")
    def predict(self, crops):
        return np.tile([0.7, 0.3], (len(crops), 1))

la = LiveAnalyser(Model(), Detector(), LiveSettings(detect_every=1), inline=True)
rec = LiveRecorder.start([Model()], Detector(), la.settings)
la.record_into(rec)
image = np.full((240, 320, 3), 90, np.uint8)
i, said = 0, False
while True:
    la.process(image, color="bgr", time_s=i / 15)
    i += 1
    if rec.written >= 20 and not said:
        print(rec.analysis.dir, flush=True)
        said = True
    time.sleep(0.01)
"""


def test_a_killed_recording_stays_readable_and_reads_as_interrupted(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", KILLED], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        folder = Path(proc.stdout.readline().strip())
        a = VideoAnalysis(folder)
        wait_for(lambda: len(a.frames()) >= 25, 120, "frames after the first twenty")
        assert a.state() == "running"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert a.state() == "interrupted" and a.status()["state"] == "running"  # its owner is gone
    rows = a.frames()
    assert len(rows) >= 25 and [r["frame"] for r in rows] == list(range(len(rows)))
    assert rows[0]["faces"] == []  # a face is shown from its second detection on
    assert all([f["track"] for f in r["faces"]] == [1] for r in rows[1:])
    tracks = summarise_tracks(rows, a.settings()["models"])
    assert tracks[0]["models"][0]["emotion"] == "happy" and tracks[0]["frames"] == len(rows) - 1
    assert a.id in [x.id for x in list_analyses(folder.parent)]
    a.delete()  # interrupted is not active: it can be deleted
    assert not folder.exists()


def test_a_slow_model_never_holds_the_stream():
    """Showing and analysing are apart: while the model is stuck on one frame, the stream shows every frame
    it gets (none waits for the model), the analysis takes the newest frame when it is free, and the
    recording holds every shown frame with the labels drawn on it."""
    gate, entered = threading.Event(), threading.Event()

    class Stuck:
        name, classes = "stuck", ("happy", "sad")

        def predict(self, crops):
            entered.set()
            assert gate.wait(60)
            return np.tile([0.8, 0.2], (len(crops), 1))

    # confirm=1: the first frame's face is shown, so its analysis reaches the model
    la = LiveAnalyser(Stuck(), FixedDetector(), LiveSettings(detect_every=1, smoothing=1, confirm=1))
    assert not la.inline  # the page's default
    rec = LiveRecorder.start([Stuck()], FixedDetector(), la.settings, queue_frames=10_000)
    la.record_into(rec)
    image, n = np.full((240, 320, 3), 90, np.uint8), 12
    for i in range(n):
        out = la.process(image, color="bgr", time_s=i / FPS)
        assert out.shape == image.shape
        if i == 0:
            assert entered.wait(60)  # the first frame's analysis is now stuck in the model
    snap = la.snapshot()
    assert snap["frames"] == n and snap["analyses"] == 0 and snap["faces"] == []
    gate.set()
    assert la.wait_idle()
    assert la.snapshot()["analyses"] == 2  # the stuck first frame, then the newest; the ones between skipped
    assert la._worker.dropped == n - 2
    la.process(image, color="bgr", time_s=n / FPS)
    snap = la.snapshot()
    assert [f["emotion"] for f in snap["faces"]] == ["happy"] and snap["label_lag"] > 0
    la.record_into(None)
    rows = rec.stop().frames()
    assert len(rows) == n + 1  # every shown frame is in the record, none waited for the model
    assert [len(r["faces"]) for r in rows] == [0] * n + [1]  # as shown: the labels came with the last one


# ---------------------------------------------------------------- a full disk; memory flat in the length (#41, #40)

class Steady:
    name, classes = "steady", ("happy", "sad")


def labelled(i: int, tracks=(1,)) -> list[dict]:
    """The faces of frame `i` as the LiveAnalyser hands them over (one per track, "happy" then "sad" in turn)."""
    p = 0.7 if i % 40 < 25 else 0.3
    return [{"id": t, "box": [40 + t * 60, 30, 50 + i % 7, 50], "score": 0.9, "held": False,
             "landmarks": None, "models": [{"name": "steady", "classes": ["happy", "sad"], "probs": [p, 1 - p],
                                            "emotion": "happy" if p > 0.5 else "sad", "confidence": max(p, 1 - p),
                                            "stress": "stress" if p < 0.5 else "no_stress", "stress_confidence": 0.6,
                                            "p_stress": 1 - p}]} for t in tracks]


def _feed_until_it_ends(rec, frames: int, image) -> None:
    for i in range(frames):
        rec.feed(image, labelled(i, (1, 2)), i / FPS)
        if i % 50 == 49:
            wait_for(lambda: rec._queue.empty() or not rec._thread.is_alive(), 60, "the writer to catch up")
        if not rec._thread.is_alive():
            return


@pytest.fixture
def tiny_disk(tmp_path, monkeypatch):
    """FEL_VIDEO_DIR on a 160 KB tmpfs of its own (needs the right to mount, as CI's root has)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (not root)")
    monkeypatch.setenv("FEL_VIDEO_DIR", str(mnt))
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_full_disk_fails_the_recording_with_the_reason_and_keeps_what_was_written(tiny_disk):
    """#41 item 1: the disk fills during a recording: it ends failed (not "running" forever) with the reason in
    status.json, the frames written before are still there and readable, and the Webcam page says it was not
    fully saved."""
    from streamlit.testing.v1 import AppTest

    rec = LiveRecorder.start([Steady()], FixedDetector(), LiveSettings(), queue_frames=10_000)
    a = rec.analysis
    _feed_until_it_ends(rec, 4000, np.full((240, 320, 3), 90, np.uint8))
    rec.stop()
    assert rec.state == "failed" and "the disk is full" in rec.reason, rec.stats()
    status = a.status()
    assert status["state"] == a.state() == "failed" and "the disk is full" in status["error"]
    assert "pid" in status and not VideoAnalysis(a.dir).state() == "running"
    rows = a.frames()
    assert 0 < len(rows) < rec.fed and [r["frame"] for r in rows] == list(range(len(rows)))
    assert [x.id for x in list_analyses()] == [a.id]

    def page():
        import streamlit as st

        from ui.recording import ended

        ended(st.session_state["rec"])

    at = AppTest.from_function(page)
    at.session_state["rec"] = rec
    at.run()
    assert not at.exception and at.error and "not fully saved" in at.error[0].value
    assert "the disk is full" in at.error[0].value and "Recording saved" not in at.error[0].value


def test_a_writer_that_cannot_write_ends_the_recording_failed_and_says_why(tmp_path):
    """The same without a tmpfs: frames.jsonl is /dev/full (every write: ENOSPC, as a full disk gives)."""
    a = VideoAnalysis.create("webcam", source="webcam")
    a.write_settings({"clip": {"name": "full", "path": "", "source": "webcam"}, "models": [{"name": "steady",
                      "classes": ["happy", "sad"]}]})
    a.set_status("running", source="webcam")
    a.frames_path.symlink_to("/dev/full")
    rec = LiveRecorder(a, [{"name": "steady", "classes": ["happy", "sad"]}], queue_frames=100)
    image = np.full((120, 160, 3), 90, np.uint8)
    for i in range(20):
        rec.feed(image, labelled(i), i / FPS)
    rec.stop()
    assert rec.state == a.state() == "failed" and "the disk is full" in a.status()["error"]
    assert not rec._thread.is_alive()


def test_the_running_summary_is_the_summary_of_the_rows_so_far():
    """core.video.summary.Summariser, fed a row at a time, gives at every point what summarise_tracks gives for
    the rows so far: uneven steps, a step back in time, faces coming and going, two models, NaN P(stress)."""
    import random

    from core.video.summary import Summariser

    models = [{"name": "steady", "classes": ["happy", "sad"]}, {"name": "twin", "classes": ["happy", "sad"]}]
    rng = random.Random(4)
    rows, t = [], 0.0
    for i in range(400):
        t = round(t + rng.choice([0.0333, 0.0334, 0.0667, 0.0, -0.01, 0.4]), 4)
        faces = labelled(i, rng.sample([1, 2, 3], rng.randint(0, 3)))
        for f in faces:
            f["models"].append(dict(f["models"][0], emotion=rng.choice(["happy", "sad"]),
                                    p_stress=rng.choice([0.2, float("nan"), None])))
        rows.append({"frame": i, "time_s": t, "faces": [_record(f) for f in faces]})
    s = Summariser(models)
    for i, row in enumerate(rows):
        s.add(row)
        if i % 23 == 0 or i == len(rows) - 1:
            assert s.tracks() == summarise_tracks(rows[:i + 1], models), i
            assert s.track_count == len(summarise_tracks(rows[:i + 1], models))
    assert s.tracks(end_s=t + 5) == summarise_tracks(rows, models, end_s=t + 5)


def _record(face: dict) -> dict:
    from core.video.analyse import face_record

    return face_record(face)


def test_a_long_recording_holds_no_growing_list():
    """#40: the recorder keeps running sums, not every row: after 3000 frames its state is as big as after 300
    (only the last minute is kept, for the live timeline), and its summary is the batch summary of its file."""
    import pickle

    rec = LiveRecorder.start([Steady()], FixedDetector(), LiveSettings(), queue_frames=10_000)
    image = np.full((60, 80, 3), 90, np.uint8)
    sizes = {}
    for i in range(3000):
        rec.feed(image, labelled(i, (1, 2)), i / FPS)
        if i + 1 in (300, 3000):
            wait_for(lambda: rec.written == i + 1, 120, "the writer to catch up")
            sizes[i + 1] = len(pickle.dumps(rec._summary))
    assert sizes[3000] <= sizes[300] + 64, sizes
    assert not [k for k, v in vars(rec).items() if hasattr(v, "__len__") and len(v) > 60 * FPS + 5]
    a = rec.stop()
    assert a.tracks() == summarise_tracks(a.frames(), a.settings()["models"]) and len(a.frames()) == 3000
