"""An analysis is a folder, like a training run, and the folder is the truth: the CLI writes it, the page
reads it (while it is written, too), and it survives the process that made it.

    <video_dir>/<analysis-id>/  settings.json   the clip (size, rotation, fps, duration), models, detector, rate
                                status.json     queued | running | finished | stopped | failed (+ owner pid)
                                progress.json   frames done / total, frames/s, ETA; where it is now
                                frames.jsonl    one line per analysed frame: time, every face's track, box,
                                                each model's probabilities and stress (append-only)
                                tracks.json     per face followed: first/last seen, share of each emotion,
                                                mean and peak P(stress), longest stress stretch
                                thumbs/<track>.jpg   a picture of each face
                                annotated.mp4   the copy with boxes and labels (if asked; .avi without H.264/MPEG-4)
                                <clip>          the uploaded clip (from the page), job.json + job.log (background)
                                STOP            asks the analysis to stop (it keeps what it has)

A "running" analysis whose process is gone reads as interrupted (core.processes), and keeps what it wrote.
The ids are made like run ids: time, the clip's name, host and pid.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from ..files import marked_folders, read_json, read_lines, read_object, read_status, remove_folder, to_json, write_json
from ..processes import owner, pid_alive
from ..runs import check_run_id, new_run_id
from ..settings import video_dir

STATES = ("queued", "running", "finished", "stopped", "failed", "interrupted")
ACTIVE = ("queued", "running")


class VideoAnalysis:
    def __init__(self, directory):
        self.dir = Path(directory)
        self.id = self.dir.name

    # ------------------------------------------------------------ creation and lookup
    @classmethod
    def create(cls, clip_name: str, root=None, **status) -> "VideoAnalysis":
        """A new, empty analysis folder (atomic mkdir: two starters never share one), state queued."""
        root = Path(root) if root else video_dir()
        root.mkdir(parents=True, exist_ok=True)
        base = new_run_id(Path(str(clip_name)).stem or "clip")
        for n in range(1, 10_000):
            aid = base if n == 1 else f"{base}-{n}"
            try:
                os.mkdir(root / aid)
                break
            except FileExistsError:
                continue
        a = cls(root / aid)
        a.set_status("queued", created=time.time(), clip_name=str(clip_name), **status)
        return a

    @classmethod
    def open(cls, analysis_id, root=None) -> "VideoAnalysis":
        """An analysis by its id, inside the video folder only (a path elsewhere, '..' or '' is refused)."""
        root = Path(root) if root else video_dir()
        text = str(analysis_id)
        p = Path(text)
        if p.is_absolute() and p.parent.resolve() == root.resolve():
            text = p.name
        try:
            d = root / check_run_id(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a valid analysis id") from None
        if not (d / "status.json").exists():
            raise FileNotFoundError(f"no video analysis {text!r} in {root}")
        return cls(d)

    # ------------------------------------------------------------ paths
    settings_path = property(lambda self: self.dir / "settings.json")
    status_path = property(lambda self: self.dir / "status.json")
    progress_path = property(lambda self: self.dir / "progress.json")
    frames_path = property(lambda self: self.dir / "frames.jsonl")
    tracks_path = property(lambda self: self.dir / "tracks.json")
    thumbs_dir = property(lambda self: self.dir / "thumbs")
    stop_path = property(lambda self: self.dir / "STOP")
    job_path = property(lambda self: self.dir / "job.json")
    log_path = property(lambda self: self.dir / "job.log")

    def thumb_path(self, track: int) -> Path:
        return self.thumbs_dir / f"{int(track)}.jpg"

    # ------------------------------------------------------------ contents
    def settings(self) -> dict:
        return read_object(self.settings_path, {})

    def write_settings(self, data: dict) -> None:
        write_json(self.settings_path, data)

    def status(self) -> dict:
        return read_status(self.status_path, STATES)

    def set_status(self, state: str, **fields) -> dict:
        """The only writer of status.json; "running" records this process as the owner."""
        if state not in STATES:
            raise ValueError(f"{state!r} is not an analysis state ({', '.join(STATES)})")
        old = read_object(self.status_path, {})
        data = {k: v for k, v in old.items() if k not in ("error", "warning", "damaged") or k in fields}
        data.update(state=state, updated=time.time(), **fields)
        if state == "running":
            data.update(owner())
            data.setdefault("started", time.time())
        write_json(self.status_path, data)
        return data

    def state(self) -> str:
        """The state checked against the process: a running (or started, still queued) analysis whose
        process is gone is interrupted."""
        state = self.status().get("state", "failed")
        if state == "queued":
            job = read_json(self.job_path, None)
            if isinstance(job, dict) and job.get("pid") and not pid_alive(job["pid"], job.get("pid_start")):
                state = self.status().get("state", "failed")  # it may have ended since we read it
                if state == "queued":
                    return "interrupted"
        if state == "running":
            st = self.status()
            if st.get("state") == "running" and not pid_alive(st.get("pid"), st.get("pid_start"), st.get("host")):
                return "interrupted"
            return st.get("state", "failed")
        return state

    def progress(self) -> dict:
        return read_object(self.progress_path, {})

    def write_progress(self, **fields) -> None:
        write_json(self.progress_path, {**fields, "time": time.time()})

    def frames(self) -> list[dict]:
        """Every analysed frame so far, in order (a torn last line, from a kill mid-write, is left out)."""
        return [row for row in read_lines(self.frames_path) if isinstance(row, dict)]

    def tracks(self) -> list[dict]:
        tracks = read_object(self.tracks_path, {}).get("tracks")
        return [t for t in tracks if isinstance(t, dict)] if isinstance(tracks, list) else []

    def write_tracks(self, tracks: list[dict], **fields) -> None:
        write_json(self.tracks_path, {"tracks": tracks, **fields, "time": time.time()})

    def annotated_path(self) -> Path | None:
        info = self.status().get("annotated") or {}
        p = self.dir / str(info.get("file", "")) if info.get("file") else None
        return p if p is not None and p.is_file() and p.parent == self.dir else None

    def clip_path(self) -> Path | None:
        """The clip the analysis read, if it is still there (a copy in the folder, or the original path)."""
        s = self.settings().get("clip") or {}
        p = Path(str(s.get("path", ""))) if s.get("path") else None
        return p if p is not None and p.is_file() else None

    @property
    def title(self) -> str:
        return str((self.settings().get("clip") or {}).get("name") or self.status().get("clip_name") or self.id)

    # ------------------------------------------------------------ control
    def request_stop(self) -> None:
        self.stop_path.touch()

    def stop_requested(self) -> bool:
        return self.stop_path.exists()

    def delete(self) -> None:
        """Remove the folder: never while its process runs, never outside the video folder."""
        if self.state() in ACTIVE:
            raise RuntimeError(f"analysis {self.id} is {self.state()}: stop it first")
        remove_folder(self.dir, video_dir())

    def __repr__(self) -> str:
        return f"VideoAnalysis({self.id!r})"


def list_analyses(root=None) -> list[VideoAnalysis]:
    """Every analysis, newest first."""
    return [VideoAnalysis(d) for d in marked_folders(Path(root) if root else video_dir(), "status.json")]


class LineWriter:
    """An append-only JSON-lines file kept open: every line is flushed at once (a reader sees it, a kill
    leaves at most a torn last line, which readers skip) and fsync'd about once a second."""

    def __init__(self, path, sync_every_s: float = 1.0):
        self._f = open(path, "a")
        self._every = sync_every_s
        self._synced = time.monotonic()

    def write(self, row: dict) -> None:
        self._f.write(to_json(row, indent=None) + "\n")
        self._f.flush()
        if time.monotonic() - self._synced >= self._every:
            self.sync()

    def sync(self) -> None:
        os.fsync(self._f.fileno())
        self._synced = time.monotonic()

    def close(self) -> None:
        if not self._f.closed:
            self._f.flush()
            self.sync()
            self._f.close()
