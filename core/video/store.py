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

from ..files import read_json, read_lines, read_object, to_json, write_json
from ..processes import pid_alive
from ..records import STATES, FolderRecord
from ..settings import video_dir

__all__ = ["ACTIVE", "STATES", "LineWriter", "VideoAnalysis", "list_analyses"]

ACTIVE = ("queued", "running")


class VideoAnalysis(FolderRecord):
    """An analysis's folder (core.records: status, progress, STOP, the log, delete, list)."""

    kind, marker, log_name = "analysis", "status.json", "job.log"
    default_root = staticmethod(lambda: video_dir())
    busy = ACTIVE
    cleared = ("error", "warning", "damaged")

    # ------------------------------------------------------------ creation and lookup
    @classmethod
    def create(cls, clip_name: str, root=None, **status) -> "VideoAnalysis":
        """A new, empty analysis folder (atomic mkdir: two starters never share one), state queued."""
        a = cls(cls.new_folder(Path(str(clip_name)).stem or "clip", root))
        a.set_status("queued", created=time.time(), clip_name=str(clip_name), **status)
        return a

    # ------------------------------------------------------------ paths
    settings_path = property(lambda self: self.dir / "settings.json")
    frames_path = property(lambda self: self.dir / "frames.jsonl")
    tracks_path = property(lambda self: self.dir / "tracks.json")
    thumbs_dir = property(lambda self: self.dir / "thumbs")
    job_path = property(lambda self: self.dir / "job.json")

    def thumb_path(self, track: int) -> Path:
        return self.thumbs_dir / f"{int(track)}.jpg"

    # ------------------------------------------------------------ contents
    def settings(self) -> dict:
        return read_object(self.settings_path, {})

    def write_settings(self, data: dict) -> None:
        write_json(self.settings_path, data)

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
        return super().state() if state == "running" else state

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

    def delete_root(self) -> Path:
        return video_dir()  # an analysis is deleted from the video folder only


def list_analyses(root=None) -> list[VideoAnalysis]:
    """Every analysis, newest first."""
    return VideoAnalysis.list_in(root)


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
        """Flush, sync and close; the file is closed even when the flush fails (a full disk: OSError, and the
        lines written before stay)."""
        if self._f.closed:
            return
        try:
            self._f.flush()
            self.sync()
        finally:
            try:
                self._f.close()
            except OSError:  # its buffer still cannot be written: the first error is the one raised
                pass
