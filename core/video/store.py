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
The ids are made like run ids: time, the clip's name, host and pid. A damaged file (core.video.checks) never
downs a listing: a folder whose status, settings or progress is damaged is listed as damaged (`damage`), and a
damaged frames.jsonl line, tracks.json or picture is said by `problem` and left out of what is read.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from ..files import read_json, read_lines, read_object, to_json, write_json
from ..processes import pid_alive
from ..records import STATES, FolderRecord
from ..settings import video_dir
from .checks import frame_problem, progress_problem, settings_problem, status_problem, track_problem

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
        """Every analysed frame so far, in order, up to the first damaged line (a torn last line, from a kill
        mid-write, is left out; `frames_checked` says which line is damaged)."""
        return self.frames_checked()[0]

    def frames_checked(self) -> tuple[list[dict], str]:
        """(the frames up to the first damaged line, "frames.jsonl line N is damaged: why" or "")."""
        models, rows = self.models(), []
        for i, row in enumerate(read_lines(self.frames_path), 1):
            why = frame_problem(row, models)
            if why:
                return rows, f"frames.jsonl line {i} is damaged: {why}"
            rows.append(row)
        return rows, ""

    def tracks(self) -> list[dict]:
        """The summary per face in tracks.json; none when it is damaged (it is a function of the frames, which
        the page then summarises itself)."""
        return self.tracks_checked()[0]

    def tracks_checked(self) -> tuple[list[dict], str]:
        data = read_json(self.tracks_path)
        if data is None:
            return [], ""
        tracks = data.get("tracks") if isinstance(data, dict) else None
        why = None if isinstance(tracks, list) else "it holds no list of faces"
        for t in tracks if why is None else ():
            why = track_problem(t, self.models())
            if why:
                break
        return ([], f"tracks.json is damaged: {why}") if why else (tracks, "")

    def models(self) -> list[dict]:
        """The models the analysis ran (settings.json), [] where that file is damaged."""
        s = self.settings()
        return [] if settings_problem(s) else list(s.get("models") or [])

    def damage(self) -> str:
        """What keeps the pages from reading this analysis at all ("" when nothing does): status.json,
        settings.json or progress.json damaged. Small files only, so a listing can ask every folder."""
        st = self.status()
        if st.get("damaged"):
            return st["error"]
        why = status_problem(st)
        if why:
            return f"status.json is damaged: {why}"
        raw = read_json(self.settings_path)
        if self.settings_path.exists() and not isinstance(raw, dict):
            return "settings.json is damaged: " + ("it is not JSON" if raw is None else "it is not an object")
        why = settings_problem(raw or {})
        if why:
            return f"settings.json is damaged: {why}"
        why = progress_problem(self.progress())
        return f"progress.json is damaged: {why}" if why else ""

    def thumb(self, track) -> Path | None:
        """The picture of face `track`, if there is one and it is a picture (a damaged one: None)."""
        path = self.thumb_path(track)
        return path if path.is_file() and _picture(path) else None

    def problem(self, tracks=None) -> str:
        """Everything damaged in the folder, "" when nothing is: what `damage` says, else a damaged frames.jsonl
        line, tracks.json, or picture of one of `tracks` (default: tracks.json's faces). Reads every frame."""
        if self.damage():
            return self.damage()
        found = [self.frames_checked()[1], self.tracks_checked()[1]]
        for t in self.tracks() if tracks is None else tracks:
            path = self.thumb_path(t["track"])
            if path.is_file() and not _picture(path):
                found.append(f"thumbs/{path.name} is damaged: it is not a picture")
        return "; ".join(w for w in found if w)

    def write_tracks(self, tracks: list[dict], **fields) -> None:
        write_json(self.tracks_path, {"tracks": tracks, **fields, "time": time.time()})

    def annotated_path(self) -> Path | None:
        info = self.status().get("annotated")
        info = info if isinstance(info, dict) else {}
        p = self.dir / str(info.get("file", "")) if info.get("file") else None
        return p if p is not None and p.is_file() and p.parent == self.dir else None

    def clip_path(self) -> Path | None:
        """The clip the analysis read, if it is still there (a copy in the folder, or the original path)."""
        s = self.settings().get("clip")
        s = s if isinstance(s, dict) else {}
        p = Path(str(s.get("path", ""))) if s.get("path") else None
        return p if p is not None and p.is_file() else None

    @property
    def title(self) -> str:
        """The clip's name (a damaged settings.json or status.json: the folder's id)."""
        clip = self.settings().get("clip")
        name = clip.get("name") if isinstance(clip, dict) else None
        return str(name or self.status().get("clip_name") or self.id)

    def delete_root(self) -> Path:
        return video_dir()  # an analysis is deleted from the video folder only


def list_analyses(root=None) -> list[VideoAnalysis]:
    """Every analysis, newest first."""
    return VideoAnalysis.list_in(root)


def _picture(path: Path) -> bool:
    """Whether the file is an image PIL can read (a thumbnail that is not one must not reach the page)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.verify()
        return True
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        return False


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
