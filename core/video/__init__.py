"""Layer 6, video: a recorded clip, every face followed through it, its emotions over time, an annotated copy.
Beside train: it imports layers 0-5 (settings, files, processes, runs, predict), and only the CLI and the
app's Video page use it.

- `decode`: PyAV, streamed frame by frame, turned upright, downscaled past 1280 px, timed by each pts;
  `VideoError` (a ValueError naming the file) for anything a user's file can do wrong;
- `analyse`: the clip through the webcam's FramePipeline, written to its folder as it goes;
- `store`: the analysis folder (settings, status, progress, frames.jsonl, tracks.json, thumbs), listing,
  reopening, deleting; `summary`: the per-track summary, always recomputable from frames.jsonl;
- `encode`: the annotated copy (H.264 where possible); `render`: one annotated frame for a scrubber;
- `record`: a live session (the webcam's labelled frames) written as an analysis, from a writer thread;
- `job`: an analysis as a background process (`python -m core video ... --out FOLDER`);
- `synth`: clips made from the sample photos (the page's sample clip, the benchmark, the tests).
"""
from .analyse import VideoSettings, analyse_video, load_models, read_settings
from .decode import (DEFAULT_MAX_MINUTES, DamagedVideo, MAX_WIDTH, VIDEO_EXTENSIONS, ClipInfo, NoFrames, NotAVideo, NoVideoStream,
                     TooLong, VideoError, VideoReader, frame_at, probe)
from .record import LiveRecorder
from .store import STATES, VideoAnalysis, list_analyses
from .summary import faces_at, summarise_tracks, table_rows

__all__ = ["ClipInfo", "DamagedVideo", "DEFAULT_MAX_MINUTES", "MAX_WIDTH", "NoFrames", "NoVideoStream", "NotAVideo", "STATES",
           "LiveRecorder", "TooLong", "VIDEO_EXTENSIONS", "VideoAnalysis", "VideoError", "VideoReader", "VideoSettings",
           "analyse_video", "faces_at", "frame_at", "list_analyses", "load_models", "probe", "read_settings",
           "summarise_tracks", "table_rows"]
