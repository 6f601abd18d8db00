"""An analysis in the background, so a page survives its reruns (and its browser tab closing): the folder
is made first (queued), then `python -m core video CLIP --out FOLDER ...` is started in its own session,
with fixed, checked arguments (no shell) and the environment a worker gets. The page reattaches to the
folder by its id; a STOP file cancels (the process keeps what it has and says where it stopped)."""
from __future__ import annotations

import re
import shutil
import sys
import time
from pathlib import Path

from ..files import write_json
from ..processes import identity, spawn
from ..settings import ROOT, child_environment, video_dir
from .analyse import VideoSettings
from .decode import VIDEO_EXTENSIONS, VideoError, probe
from .store import VideoAnalysis


def safe_clip_name(name: str) -> str:
    """A file name for an uploaded clip inside its analysis folder: letters, digits, - _ . only."""
    p = Path(str(name or "clip.mp4"))
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", p.stem).strip("-_")[:60] or "clip"
    suffix = p.suffix.lower()
    return stem + (suffix if suffix in VIDEO_EXTENSIONS else ".mp4")


def _check_models(models) -> list[str]:
    from ..predict.catalogue import resolve_model
    from ..predict.loading import DEEPFACE

    out = []
    for m in models or []:
        m = str(m).strip()
        if m.lower() == DEEPFACE:
            out.append(DEEPFACE)
            continue
        try:
            out.append(str(resolve_model(m)))
        except Exception as e:  # noqa: BLE001 - the message names the model
            raise ValueError(f"model {m}: {e}") from None
    return out


def command(clip: Path, folder: Path, s: VideoSettings) -> list[str]:
    """The argument list of the background process (each value checked before it gets here)."""
    args = [sys.executable, "-m", "core", "video", str(clip), "--out", str(folder), "--no-progress",
            "--fps", "all" if s.every_frame else f"{float(s.fps):g}", "--min-face", f"{float(s.min_face):g}",
            "--detect-width", str(int(s.detect_width)), "--smoothing", str(int(s.smoothing))]
    for m in s.models:
        args += ["--model", str(m)]
    if s.detector:
        args += ["--detector", s.detector]
    if s.annotate:
        args.append("--annotate")
    if s.tilted:
        args.append("--tilted")
    if s.tta:
        args += ["--tta", s.tta]
    args += ["--max-minutes", f"{float(s.max_minutes):g}"] if s.max_minutes else ["--max-minutes", "0"]
    if not s.align:
        args.append("--no-align")
    return args


def start_analysis(clip, settings: VideoSettings | None = None, data: bytes | None = None,
                   name: str | None = None, root=None) -> VideoAnalysis:
    """Check everything, make the folder, start the process; returns the (queued) analysis at once.
    `data` (an upload) is saved into the folder as the clip; otherwise `clip` is a path read in place.
    A clip that cannot be analysed (VideoError) or a bad setting (ValueError) is refused before any
    process starts, and leaves no folder behind."""
    from ..predict.detectors import list_detectors

    s = (settings or VideoSettings()).check()
    if s.detector is not None and s.detector not in list_detectors():
        raise ValueError(f"unknown face detector {s.detector!r}; known: {', '.join(list_detectors())}")
    s.models = _check_models(s.models)
    clip_name = safe_clip_name(name or Path(str(clip)).name)
    analysis = VideoAnalysis.create(clip_name, root)
    try:
        if data is not None:
            path = analysis.dir / clip_name
            path.write_bytes(data)
        else:
            path = Path(clip).expanduser().resolve()
        probe(path, s.max_minutes)  # a bad clip fails here, in the page's process, with its message
    except (VideoError, OSError, ValueError):
        shutil.rmtree(analysis.dir, ignore_errors=True)
        raise
    analysis.write_settings({"clip": {"path": str(path), "name": Path(name or path.name).name},
                             "settings": s.to_dict(), "models": [], "created": time.time()})
    env = child_environment()
    env["FEL_VIDEO_DIR"] = str((Path(root) if root else video_dir()).resolve())
    proc = spawn(command(path, analysis.dir.resolve(), s), analysis.log_path, env=env, cwd=ROOT)
    write_json(analysis.job_path, {**identity(proc.pid), "started": time.time(),
                                   "command": command(path, analysis.dir, s)[1:]})
    return analysis


def stop_analysis(analysis: VideoAnalysis) -> None:
    """Ask it to stop (the STOP file): it ends at the next frame and keeps what it has."""
    analysis.request_stop()
