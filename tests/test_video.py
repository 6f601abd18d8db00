"""Video files (core.video, `python -m core video`, the Video page): every face followed through a clip, its
emotions on a timeline, an annotated copy. Clips are made here with PyAV from the sample photos (faces
drifting, zooming, entering and leaving), small and short: 320x240, a few seconds.

Documented choices the tests pin: a face that leaves and comes back is a NEW track; a face is shown from the
second analysed frame that finds it (a track needs two detections, as on the webcam: no one-frame phantom); a
face the detector misses is held for one analysed frame (`held`) while its box still looks as it did, as on the
webcam; boxes are in the clip's own pixels."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent

from core.video import (NoFrames, NotAVideo, NoVideoStream, TooLong, VideoAnalysis, VideoError,  # noqa: E402
                        VideoReader, VideoSettings, analyse_video, list_analyses, probe, summarise_tracks,
                        table_rows)
from core.video.synth import Face, face_patches, scene_frames, write_clip  # noqa: E402

SIZE = (320, 240)


# ---------------------------------------------------------------- clips and models

@pytest.fixture(scope="session")
def patches():
    return face_patches(ROOT / "sample_images")


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("clips")


def _two_faces():
    """Face A the whole time, drifting right and growing; face B from 1.0 s to 2.0 s on the right."""
    return [Face(0, cx=lambda t: 0.28 + 0.03 * t, cy=lambda t: 0.5, side=lambda t: 0.5 + 0.05 * t),
            Face(1, start_s=1.0, end_s=2.0, cx=lambda t: 0.78, cy=lambda t: 0.45, side=lambda t: 0.45)]


@pytest.fixture(scope="session")
def two_clip(clip_dir, patches):
    return write_clip(clip_dir / "two faces.mp4", scene_frames(patches, _two_faces(), 3.0, 15, SIZE), 15)


@pytest.fixture(scope="session")
def tiny(app_model_dir):
    """The tests' small CNN (conftest's app_model_dir), loaded once."""
    from core.video import load_models

    return load_models([str(app_model_dir / "tiny.pt")])


@pytest.fixture(scope="session")
def detector():
    from core.video.analyse import make_detector

    return make_detector(VideoSettings())[0]


@pytest.fixture(scope="session")
def two(two_clip, tiny, detector, tmp_path_factory):
    """The two-face clip analysed at 5 frames/s (15 analysed frames), once for the tests that read it."""
    return analyse_video(two_clip, VideoSettings(fps=5), root=tmp_path_factory.mktemp("videos"),
                         predictors=tiny, detector=detector)


def run(clip, tiny, detector, **kw):
    settings = VideoSettings(**{"fps": 5, **kw.pop("settings", {})})
    return analyse_video(clip, settings, predictors=tiny, detector=detector, **kw)


# ---------------------------------------------------------------- tracks and times

def test_every_face_is_followed_with_the_clips_own_times(two):
    status, rows, tracks = two.status(), two.frames(), two.tracks()
    assert status["state"] == "finished" and two.state() == "finished"
    assert [t["track"] for t in tracks] == [1, 2]
    assert len(rows) == 15  # 3 s at 5 of 15 frames/s: every third frame
    for k, row in enumerate(rows):
        assert row["time_s"] == pytest.approx(0.2 * k, abs=1e-3)
        assert row["frame"] == 3 * k
    a, b = tracks
    assert a["first_s"] == 0.2 and a["last_s"] == pytest.approx(2.8, abs=1e-3)  # shown once confirmed
    assert 1.2 <= b["first_s"] <= 1.41 and 1.8 <= b["last_s"] <= 2.21  # held one frame after it left at most
    assert b["box"][0] > SIZE[0] / 2 > a["box"][0]  # in the clip's pixels, where each face was
    for t in tracks:
        assert two.thumb_path(t["track"]).is_file()
    settings, progress = two.settings(), two.progress()
    assert settings["clip"]["fps"] == pytest.approx(15, abs=0.01) and settings["clip"]["width"] == SIZE[0]
    assert settings["models"][0]["classes"] and settings["settings"]["fps"] == 5
    assert progress["fraction"] == 1.0 and progress["analysed"] == 15 and progress["eta_s"] == 0.0


def test_the_summary_agrees_with_the_frame_table(two):
    rows, tracks, models = two.frames(), two.tracks(), two.settings()["models"]
    duration = two.settings()["clip"]["duration_s"]
    assert summarise_tracks(rows, models, end_s=duration) == tracks
    for t in tracks:
        mine = [f for r in rows for f in r["faces"] if f["track"] == t["track"]]
        times = [r["time_s"] for r in rows if any(f["track"] == t["track"] for f in r["faces"])]
        assert t["frames"] == len(mine) and (t["first_s"], t["last_s"]) == (min(times), max(times))
        m = t["models"][0]
        assert sum(m["share"].values()) == pytest.approx(1.0, abs=1e-3)
        tops = [f["models"][0]["emotion"] for f in mine]  # every analysed frame stands for 0.2 s here
        assert m["share"][m["emotion"]] == pytest.approx(tops.count(m["emotion"]) / len(tops), abs=1e-3)
        ps = [f["models"][0]["p_stress"] for f in mine]
        assert m["mean_p_stress"] == pytest.approx(np.mean(ps), abs=1e-3)
        assert m["peak_p_stress"] == pytest.approx(max(ps), abs=1e-4)
        assert t["seen_s"] == pytest.approx(0.2 * len(mine), abs=1e-3)
        assert 0.0 <= m["longest_stress_s"] <= t["seen_s"] + 1e-9
    assert len(table_rows(rows, models)) == sum(len(r["faces"]) for r in rows) * len(models)


def test_a_face_that_leaves_and_comes_back_is_a_new_track(clip_dir, patches, tiny, detector):
    place = dict(cx=lambda t: 0.5, cy=lambda t: 0.5, side=lambda t: 0.55)
    clip = write_clip(clip_dir / "back.mp4", scene_frames(patches, [Face(2, end_s=1.0, **place),
                                                                    Face(2, start_s=2.0, **place)], 3.0, 15, SIZE), 15)
    a = run(clip, tiny, detector)
    tracks = a.tracks()
    assert [t["track"] for t in tracks] == [1, 2]
    assert tracks[0]["last_s"] <= 1.21 and tracks[1]["first_s"] >= 2.0
    assert abs(tracks[0]["box"][0] - tracks[1]["box"][0]) < 20  # the same place, a new track
    held = [f for r in a.frames() for f in r["faces"] if f["held"]]
    assert len(held) <= 2  # only the frame after each disappearance


def test_a_variable_frame_rate_clip_keeps_each_frames_time(tmp_path, patches, tiny, detector):
    times = [0.0, 0.04, 0.1, 0.25, 0.31, 0.7, 0.74, 1.2, 1.26, 1.9]
    frames = dict(scene_frames(patches, [Face(0, side=lambda t: 0.55)], 2.0, 50, SIZE))
    clip = write_clip(tmp_path / "vfr.mp4", ((t, frames[round(t * 50) / 50]) for t in times), 30)
    assert [round(f.time_s, 3) for f in VideoReader(clip).frames()] == times
    every = run(clip, tiny, detector, settings={"fps": None})
    assert [r["time_s"] for r in every.frames()] == times
    at5 = run(clip, tiny, detector, settings={"fps": 5})  # the first frame at or after each 0.2 s
    assert [r["time_s"] for r in at5.frames()] == [0.0, 0.25, 0.7, 1.2, 1.9]
    assert [r["frame"] for r in at5.frames()] == [0, 3, 5, 7, 9]
    assert at5.tracks()[0]["frames"] == 4  # shown from the second analysed frame on


# ---------------------------------------------------------------- stopping, crashing

def test_cancel_keeps_what_was_done_and_says_where_it_stopped(two_clip, tiny, detector, tmp_path):
    out = tmp_path / "stopped"
    calls = []

    def stop_file_at_frame_20():  # the page's cancel: a STOP file in the folder
        calls.append(1)
        if len(calls) == 20:
            VideoAnalysis(out).request_stop()
        return False

    a = run(two_clip, tiny, detector, out=out, should_stop=stop_file_at_frame_20)
    st = a.status()
    assert st["state"] == "stopped" and a.state() == "stopped"
    assert st["stopped_at_frame"] == 19 and st["stopped_at_s"] == pytest.approx(19 / 15, abs=1e-3)
    rows = a.frames()
    assert [r["frame"] for r in rows] == [0, 3, 6, 9, 12, 15, 18]
    assert (a.dir / "tracks.json").is_file() and a.tracks()[0]["last_s"] <= st["stopped_at_s"]
    assert json.loads((a.dir / "tracks.json").read_text())["partial"] is True
    assert not a.stop_path.exists()
    b = run(two_clip, tiny, detector, should_stop=lambda: True)  # a cancel callback
    assert b.status()["state"] == "stopped" and b.frames() == []


class Flaky:
    """A predictor that fails on its 4th batch (a model crashing mid-clip)."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0
        self.name, self.classes, self.kind = inner.name, inner.classes, "emotion"

    def predict(self, crops):
        self.calls += 1
        if self.calls == 4:
            raise RuntimeError("the model broke")
        return self.inner.predict(crops)


def test_a_crash_keeps_what_was_done_and_says_where(two_clip, tiny, detector, tmp_path):
    with pytest.raises(RuntimeError, match="the model broke"):
        analyse_video(two_clip, VideoSettings(fps=5), out=tmp_path / "crash", predictors=[Flaky(tiny[0])],
                      detector=detector)
    a = VideoAnalysis(tmp_path / "crash")
    st = a.status()
    assert st["state"] == "failed" and "the model broke" in st["error"]
    # the first analysed frame shows no face yet (a track needs two detections): the model runs from the second
    assert st["stopped_at_s"] == pytest.approx(0.8 - 1 / 15, abs=1e-3)  # the last frame it got through
    assert len(a.frames()) == 4 and a.tracks()


def test_a_dead_process_reads_as_interrupted(two):
    import shutil
    from core.settings import video_dir

    copy = video_dir() / "20200101-000000-dead-x1"
    shutil.copytree(two.dir, copy)
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    VideoAnalysis(copy).set_status("running")
    status = json.loads((copy / "status.json").read_text())
    status.update(pid=int(proc.stdout), pid_start="1")
    (copy / "status.json").write_text(json.dumps(status))
    a = VideoAnalysis.open(copy.name)
    assert a.state() == "interrupted" and len(a.frames()) == 15
    a.delete()  # an interrupted analysis can be deleted
    assert not copy.exists()


# ---------------------------------------------------------------- bad input

@pytest.fixture(scope="session")
def bad(clip_dir, patches):
    """Broken and awkward files, made once."""
    import av

    d = clip_dir / "bad"
    d.mkdir()
    (d / "text.mp4").write_text("this is not a video\n" * 20)
    (d / "notes.txt").write_text("hello")
    good = write_clip(d / "whole.mp4", scene_frames(patches, [Face(0)], 2.0, 10, (160, 120)), 10)
    data = good.read_bytes()
    (d / "truncated.mp4").write_bytes(data[:len(data) // 2])  # the index (moov) is at the end: lost
    c = av.open(str(d / "audio.mp4"), "w")
    s = c.add_stream("aac", rate=16000)
    for i in range(20):
        fr = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        fr.sample_rate, fr.pts = 16000, i * 1024
        for p in s.encode(fr):
            c.mux(p)
    for p in s.encode():
        c.mux(p)
    c.close()
    c = av.open(str(d / "zero.avi"), "w")
    s = c.add_stream("mpeg4", rate=10)
    s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
    c.start_encoding()
    c.close()
    grey = np.full((48, 64, 3), 90, np.uint8)  # 30 minutes: one frame a minute
    write_clip(d / "long.mp4", ((60.0 * i, grey) for i in range(30)), Fraction(1, 60))
    return d


BAD_CASES = [("text.mp4", NotAVideo, "not a video file that can be read"),
             ("truncated.mp4", VideoError, "truncated"),
             ("audio.mp4", NoVideoStream, "audio only"),
             ("zero.avi", NoFrames, "no frames"),
             ("long.mp4", TooLong, "lasts 30.0 minutes, over the limit of 10 minutes"),
             ("notes.txt", VideoError, "not a video file type"),
             ("missing.mp4", VideoError, "no such file")]


def test_bad_input_is_a_clear_error_naming_the_file_and_loses_nothing(bad, two_clip, tiny, detector):
    from core.settings import video_dir

    earlier = run(two_clip, tiny, detector)
    before = {p.relative_to(earlier.dir): p.stat().st_mtime_ns for p in earlier.dir.rglob("*")}
    for name, kind, words in BAD_CASES:
        with pytest.raises(kind) as e:
            run(bad / name, tiny, detector)
        assert isinstance(e.value, ValueError)
        assert str(e.value).startswith(f"{name}: ") and words in str(e.value), str(e.value)
    assert [a.id for a in list_analyses()] == [earlier.id]  # no folder for a clip that cannot be read
    assert {p.relative_to(earlier.dir): p.stat().st_mtime_ns for p in earlier.dir.rglob("*")} == before
    assert list(video_dir().iterdir()) == [earlier.dir]


def test_a_bad_clip_in_a_prepared_folder_says_failed_and_why(bad, tiny, detector, tmp_path):
    from core.video.analyse import prepare_folder

    out = tmp_path / "prepared"
    prepare_folder(out)
    with pytest.raises(NotAVideo):
        run(bad / "text.mp4", tiny, detector, out=out)
    st = VideoAnalysis(out).status()
    assert st["state"] == "failed" and st["error"].startswith("text.mp4: not a video file")
    with pytest.raises(ValueError, match="already holds an analysis"):
        prepare_folder(out)  # nothing earlier is overwritten


def test_awkward_clips_give_normal_results(bad, clip_dir, patches, tiny, detector):
    long = run(bad / "long.mp4", tiny, detector, settings={"max_minutes": 40})
    assert long.status()["state"] == "finished" and long.tracks() == [] and len(long.frames()) == 30
    assert long.frames()[-1]["time_s"] == pytest.approx(1740.0)
    nobody = write_clip(clip_dir / "nobody.mp4", scene_frames(patches, [], 1.0, 10, (160, 120)), 10)
    a = run(nobody, tiny, detector)
    assert a.status()["state"] == "finished" and a.tracks() == [] and len(a.frames()) == 5
    cut = clip_dir / "cut.mp4"  # the index first (faststart): half the clip plays, then it breaks off
    whole = clip_dir / "faststart.mp4"
    import av

    with av.open(str(bad / "whole.mp4")) as src, av.open(str(whole), "w", options={"movflags": "faststart"}) as dst:
        s_in = src.streams.video[0]
        s_out = dst.add_stream_from_template(s_in)
        for packet in src.demux(s_in):
            if packet.dts is not None:
                packet.stream = s_out
                dst.mux(packet)
    data = whole.read_bytes()
    cut.write_bytes(data[:len(data) // 2])
    c = run(cut, tiny, detector)
    st = c.status()
    assert st["state"] == "finished" and "breaks off" in st["warning"] and 0 < len(c.frames()) < 10


def test_a_4k_clip_is_downscaled_for_detection_and_boxes_stay_in_its_pixels(clip_dir, patches, tiny, detector):
    face = Face(1, cx=lambda t: 0.7, cy=lambda t: 0.45, side=lambda t: 0.5)
    clip = write_clip(clip_dir / "uhd.mp4", scene_frames(patches, [face], 0.4, 10, (3840, 2160)), 10)
    a = run(clip, tiny, detector)
    s = a.settings()
    assert (s["clip"]["width"], s["clip"]["height"]) == (3840, 2160)
    assert (s["analysis_width"], s["analysis_height"]) == (1280, 720)
    x, y, w, h = a.tracks()[0]["box"]
    assert 0.7 * 3840 - 540 <= x and x + w <= 0.7 * 3840 + 540 and w > 300  # the patch is 1080 px wide


@pytest.mark.parametrize("rotation", [90, -90, 180])
def test_a_phones_rotation_is_honoured(tmp_path, rotation):
    upright = np.zeros((96, 64, 3), np.uint8)  # portrait, with a mark top-left
    upright[:30, :20] = 255
    upright[60:, 40:] = (0, 0, 255)
    stored = np.ascontiguousarray(np.rot90(upright, -rotation // 90))
    clip = write_clip(tmp_path / "phone.mp4", ((i / 10, stored) for i in range(3)), 10, rotation=rotation)
    info = probe(clip)
    assert info.rotation == rotation % 360
    assert (info.width, info.height) == (64, 96) and (info.coded_width, info.coded_height) == stored.shape[1::-1]
    first = next(iter(VideoReader(clip).frames()))
    assert first.image.shape == upright.shape
    assert np.abs(first.image.astype(int) - upright).mean() < 12


def test_the_old_rotate_tag_is_honoured(tmp_path):
    import av

    upright = np.zeros((96, 64, 3), np.uint8)
    upright[:30, :20] = 255
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # "rotate: 90" means turn it 90 degrees clockwise
    c = av.open(str(tmp_path / "tagged.mkv"), "w")
    s = c.add_stream("libx264", rate=10)
    s.width, s.height, s.pix_fmt = stored.shape[1], stored.shape[0], "yuv420p"
    s.metadata["rotate"] = "90"
    for _ in range(2):
        for p in s.encode(av.VideoFrame.from_ndarray(stored, format="rgb24")):
            c.mux(p)
    for p in s.encode():
        c.mux(p)
    c.close()
    first = next(iter(VideoReader(tmp_path / "tagged.mkv").frames()))
    assert first.image.shape == upright.shape and np.abs(first.image.astype(int) - upright).mean() < 12


# ---------------------------------------------------------------- the folder: listing, reopening, deleting

def test_analyses_are_listed_reopened_and_deleted_only_inside_the_video_folder(two_clip, tiny, detector, tmp_path):
    a = run(two_clip, tiny, detector)
    b = run(two_clip, tiny, detector)
    assert [x.id for x in list_analyses()] == [b.id, a.id]  # newest first
    assert VideoAnalysis.open(a.id).tracks() == a.tracks() and VideoAnalysis.open(str(a.dir)).id == a.id
    for bad_id in ("..", "../x", "", "a/b"):
        with pytest.raises((ValueError, FileNotFoundError)):
            VideoAnalysis.open(bad_id)
    b.set_status("running")  # this process owns it now: a live analysis is not deleted
    with pytest.raises(RuntimeError, match="stop it first"):
        b.delete()
    b.set_status("stopped")
    b.delete()
    assert [x.id for x in list_analyses()] == [a.id]
    outside = run(two_clip, tiny, detector, out=tmp_path / "elsewhere")
    with pytest.raises(RuntimeError, match="not inside"):
        outside.delete()


# ---------------------------------------------------------------- the command line and the background job

def _cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "core", "video", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_the_cli_prints_the_tracks_and_the_folder_and_writes_an_h264_copy(two_clip, tmp_path):
    out = tmp_path / "cli"
    r = _cli(two_clip, "--fps", "5", "--annotate", "--out", out)  # the default: the real-time model
    assert r.returncode == 0, r.stderr
    assert f"folder: {out}" in r.stdout and "#1" in r.stdout and "#2" in r.stdout and "emotion" in r.stdout
    a = VideoAnalysis(out)
    from core.predict.choice import webcam_model

    assert a.settings()["models"][0]["name"] == webcam_model().name
    copy = probe(out / "annotated.mp4")
    assert copy.codec == "h264" and copy.frames == 45 and a.status()["annotated"]["codec"] == "libx264"
    bad = tmp_path / "text.mp4"
    bad.write_text("not a video")
    r = _cli(bad)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().splitlines() == ["error: text.mp4: not a video file that can be read (Invalid data "
                                             "found when processing input)"]


def test_the_cli_json_and_its_usage_errors(two_clip, app_model_dir, capsys):
    from core.cli.video import main

    assert main([str(two_clip), "--model", str(app_model_dir / "tiny.pt"), "--fps", "5", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert len(doc["tracks"]) == 2 and doc["status"]["state"] == "finished" and Path(doc["folder"]).is_dir()
    assert main([str(two_clip), "--fps", "fast"]) == 2
    assert "--fps" in capsys.readouterr().err
    assert main([str(two_clip), "--model", "no-such-model"]) == 2
    assert capsys.readouterr().err.startswith("error: model no-such-model")
    assert main([str(two_clip), "--max-minutes", "0.01"]) == 2
    assert "over the limit of 0.01 minutes" in capsys.readouterr().err


def test_a_background_analysis_is_cancelled_by_its_stop_file(patches, clip_dir, app_model_dir):
    from core.video.job import start_analysis, stop_analysis
    from tests.helpers import wait_for

    long = write_clip(clip_dir / "long face.mp4", scene_frames(patches, [Face(0, side=lambda t: 0.6)], 30.0, 10,
                                                               (160, 120)), 10)
    text = clip_dir / "text again.mp4"
    text.write_text("not a video")
    with pytest.raises(NotAVideo):
        start_analysis(text)
    assert list_analyses() == []  # refused before any process or folder
    a = start_analysis(long, VideoSettings(models=[str(app_model_dir / "tiny.pt")], fps=None))
    assert a.state() in ("queued", "running")
    wait_for(lambda: a.state() == "running" and a.progress().get("analysed", 0) > 0, 240, "the job to start")
    stop_analysis(a)
    wait_for(lambda: a.state() not in ("queued", "running"), 120, "the job to stop")
    st = a.status()
    assert st["state"] == "stopped" and 0 < st["stopped_at_s"] < 30 and len(a.frames()) > 0


# ---------------------------------------------------------------- the page

def _app():
    import streamlit.config
    from streamlit.testing.v1 import AppTest

    streamlit.config.set_option("client.showErrorDetails", "full")
    return AppTest.from_file(str(ROOT / "app_pages" / "video.py"), default_timeout=180)


def _no_exception(at):
    assert not at.exception, "\n".join(str(e.value) for e in at.exception)


def test_the_page_shows_a_finished_analysis_with_two_models_and_deletes_it(app_env, two_clip, detector):
    from core.video import load_models
    from tests.helpers import biased_checkpoint

    sad = biased_checkpoint(app_env["models"].parent / "sad-only.pt", favourite=4)
    models = load_models([str(app_env["models"] / "tiny.pt"), str(sad)])
    a = analyse_video(two_clip, VideoSettings(fps=5), predictors=models, detector=detector)
    at = _app().run()
    _no_exception(at)
    assert at.title[0].value == "Video"
    charts = at.get("plotly_chart")
    assert len(charts) >= 2 * 2 + 2  # a timeline per face per model, their agreement per face
    table = next(d.value for d in at.dataframe if "track" in d.value.columns)
    assert list(table["track"]) == ["#1", "#2"] and "agreement" in table.columns
    assert str(table["face"].iloc[0]).startswith("data:image/jpeg;base64,")
    assert any("two faces.mp4" in m.value for m in at.markdown)
    at.button(key=f"video_del_{a.id}").click().run()
    _no_exception(at)
    assert list_analyses() == [] and "No analysis yet" in "\n".join(i.value for i in at.info)


def test_the_page_says_why_an_analysis_failed(app_env, tmp_path):
    from core.settings import video_dir
    from core.video.analyse import prepare_folder

    bad = tmp_path / "broken.mp4"
    bad.write_text("nope")
    with pytest.raises(NotAVideo):
        analyse_video(bad, out=prepare_folder(video_dir() / "20200101-000000-broken-x1").dir)
    at = _app().run()
    _no_exception(at)
    assert "broken.mp4: not a video file" in "\n".join(e.value for e in at.error)


# ---------------------------------------------------------------- in a real browser

@pytest.mark.browser
def test_in_a_browser_a_clip_is_uploaded_and_its_timeline_shown(app_model_dir, two_clip, tmp_path):
    from harness.browser import (assert_no_exception, browser_page, goto_page, require_browser, screenshot, serve_app,
                               wait_for_app)

    require_browser()
    env = {"FEL_MODEL_DIR": str(app_model_dir), "FEL_VIDEO_DIR": str(tmp_path / "videos"),
           "FEL_CACHE_DIR": str(tmp_path / "cache"), "DEEPFACE_HOME": str(tmp_path / "df")}
    with serve_app(env=env, log_path=ROOT / "test-artifacts" / "streamlit-video-test.log") as url, \
            browser_page() as page:
        goto_page(page, url, "Video", expect_text="No analysis yet")
        assert_no_exception(page)
        page.locator("[data-testid='stFileUploader'] input[type='file']").set_input_files(str(two_clip))
        page.get_by_text("two faces.mp4").first.wait_for()
        page.get_by_role("button", name="Analyse", exact=True).click()
        page.get_by_text("Timelines").first.wait_for(timeout=240_000)
        page.get_by_text("Face #2").first.wait_for()
        page.locator("[data-testid='stPlotlyChart']").nth(2).wait_for(timeout=60_000)  # the timelines, drawn
        wait_for_app(page)
        assert page.locator("[data-testid='stPlotlyChart']").count() >= 3
        assert page.get_by_text("Annotated video (MP4)").is_visible()
        assert_no_exception(page)
        screenshot(page, "video")
    found = list_analyses(tmp_path / "videos")
    assert len(found) == 1 and found[0].state() == "finished" and len(found[0].tracks()) == 2


def test_the_tilted_setting_reaches_the_detector_and_the_background_process(tmp_path):
    from core.predict.detectors import TURNS, TurnedSearch
    from core.video.analyse import make_detector
    from core.video.job import command

    plain, _ = make_detector(VideoSettings())
    turned, _ = make_detector(VideoSettings(tilted=True))
    assert not isinstance(plain, TurnedSearch)
    assert isinstance(turned, TurnedSearch) and turned.angles == TURNS
    assert "--tilted" in command(tmp_path / "a.mp4", tmp_path / "out", VideoSettings(tilted=True))
    assert "--tilted" not in command(tmp_path / "a.mp4", tmp_path / "out", VideoSettings())
