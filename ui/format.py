"""How the pages say things: durations, percentages, a run's state in the user's words and its colour.
Pure functions, no Streamlit."""
from __future__ import annotations

import html
import math
from datetime import datetime
from pathlib import Path

from core.config import TrainConfig, teacher_sources
from core.runs import Run


STATE_STYLE = {  # state -> (colour, what it means)
    "queued": ("#64748b", "waiting for its turn"),
    "running": ("#4f46e5", "training now"),
    "stopping": ("#6366f1", "saving a checkpoint, then stopping"),
    "finished": ("#059669", "done: tested on the test split"),
    "stopped": ("#d97706", "stopped with a checkpoint: can be resumed"),
    "cancelled": ("#94a3b8", "taken out of the queue before it started"),
    "pruned": ("#a1a1aa", "ended early by the search (not promising)"),
    "interrupted": ("#ea580c", "its process ended unexpectedly: can be resumed"),
    "failed": ("#e11d48", "ended with an error"),
    "shipped": ("#0d9488", "a shipped model's own training history (read-only)"),
    "damaged": ("#9f1239", "a file in its folder is damaged: the run cannot be shown or resumed"),
}


def fmt_duration(seconds) -> str:
    if seconds is None or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or seconds < 0:
        return "–"
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s" if s < 600 else f"{s // 60} min"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def fmt_pct(x, digits: int = 1) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f} %"


def state_pill(state: str) -> str:
    color = STATE_STYLE.get(state, ("#64748b", ""))[0]
    return f"<span class='fel-pill' style='background:{color}'>{html.escape(state)}</span>"


def display_state(run: Run, state: str | None = None) -> str:
    """The state in the user's words: a stopped run may have been cancelled or pruned; a running one stopping."""
    if run.shipped:
        return "shipped"
    if run.problem():
        return "damaged"
    state = state or run.state()
    st_ = run.status()
    if state == "stopped" and st_.get("cancelled"):
        return "cancelled"
    if state == "stopped" and st_.get("pruned"):
        return "pruned"
    if state == "running" and run.stop_requested():
        return "stopping"
    return state


def data_name(cfg: TrainConfig) -> str:
    return Path(cfg.data).name if cfg.data else "FER2013 (default)"


def run_started(run: Run) -> datetime | None:
    return _moment(run.status().get("started")) or run_made(run)


def run_made(run: Run) -> datetime | None:
    """When the run folder was made: unlike its start, it never changes (a queued run starts later)."""
    made = _moment(run.status().get("created"))
    if made is None:
        try:
            return datetime.strptime(run.id[:15], "%Y%m%d-%H%M%S")
        except ValueError:
            return None
    return made


def _moment(t) -> datetime | None:
    """A time stamp from status.json, or None where there is none (or a damaged one)."""
    try:
        return datetime.fromtimestamp(float(t)) if t else None
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def teacher_label(teacher: str) -> str:
    """A shipped model's name, or the run id of a run's best.pt; several teachers joined by " + "."""
    return " + ".join(Path(t).parent.name if Path(t).name == "best.pt" else Path(t).stem
                      for t in teacher_sources(teacher))


# What promoting a run does, said the same wherever the switch or its column is (core.predict.catalogue).
PROMOTED = "Promoted: on the Webcam and Compare pages, at the top of their model lists"
PROMOTED_HELP = ("Only promoted runs are offered there, above the shipped models; each page still starts on the "
                 "model it picks (the Webcam its fastest good one, Compare the most accurate), so choose the run "
                 "from the list.")
