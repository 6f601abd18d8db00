"""What a damaged analysis folder looks like: each file's fields checked as the pages and the summary read them,
so one damaged folder is listed as damaged, and a damaged line, summary or picture inside one is said in its own
view, never met later as a traceback (an AttributeError while listing, an OverflowError drawing a time of 1e400).

Each check returns why the thing is damaged ("time_s is 1e400, not a finite number"), or None. Pure functions of
what was read; the folder itself is core.video.store's.
"""
from __future__ import annotations

import math

# the fields the pages read, by file: numbers (None allowed) and texts (None allowed)
CLIP_NUMBERS = ("width", "height", "fps", "duration_s", "frames")
STATUS_NUMBERS = ("created", "started", "ended", "updated", "elapsed_s", "speed", "stopped_at_s", "stopped_at_frame",
                  "dropped", "analysed", "frames_read", "tracks", "analysed_per_s")
STATUS_TEXTS = ("error", "reason", "warning", "clip_name", "source")
PROGRESS_NUMBERS = ("time_s", "duration_s", "analysed", "analysed_total", "analysed_per_s", "eta_s", "fraction",
                    "tracks", "frames_done", "elapsed_s")
TRACK_NUMBERS = ("first_s", "last_s", "seen_s")


def number(v) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _shown(v) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _not(what: str, name: str, v) -> str:
    return f"{name} is {_shown(v)}, not {what}"


def fields_problem(obj: dict, numbers=(), texts=()) -> str | None:
    """The first of `numbers` that is there and not a finite number, or of `texts` that is not a text."""
    for name in numbers:
        if obj.get(name) is not None and not number(obj[name]):
            return _not("a finite number", name, obj[name])
    for name in texts:
        if obj.get(name) is not None and not isinstance(obj[name], str):
            return _not("a text", name, obj[name])
    return None


def settings_problem(s: dict) -> str | None:
    """settings.json: the clip, the settings, the models (name and classes) and the detector."""
    for name, kind in (("clip", dict), ("settings", dict), ("models", list), ("live", dict)):
        if s.get(name) is not None and not isinstance(s[name], kind):
            return _not("an object" if kind is dict else "a list", name, s[name])
    clip = s.get("clip") or {}
    why = fields_problem(clip, CLIP_NUMBERS, ("path", "source"))
    if why:
        return f"clip: {why}"
    why = fields_problem(s.get("settings") or {}, ("fps",)) or fields_problem(s, (), ("detector", "detector_note"))
    if why:
        return why
    for i, m in enumerate(s.get("models") or [], 1):
        if not isinstance(m, dict) or not isinstance(m.get("name"), str):
            return f"model {i} is {_shown(m)}, not a model with a name"
        classes = m.get("classes")
        if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
            return _not("a list of class names", f"model {i}'s classes", classes)
    return None


def status_problem(st: dict) -> str | None:
    why = fields_problem(st, STATUS_NUMBERS, STATUS_TEXTS)
    if why is None and st.get("annotated") is not None and not isinstance(st["annotated"], dict):
        why = _not("an object", "annotated", st["annotated"])
    return why


def progress_problem(p: dict) -> str | None:
    return fields_problem(p, PROGRESS_NUMBERS)


def _box_problem(box) -> str | None:
    if not isinstance(box, list) or len(box) != 4 or not all(number(v) for v in box):
        return _not("four finite numbers", "box", box)
    return None


def frame_problem(row, models: list) -> str | None:
    """One line of frames.jsonl: its frame number, time and faces, each face's track, box and one answer per
    model (probabilities over its classes, an emotion, a confidence)."""
    if not isinstance(row, dict):
        return f"it holds {_shown(row)}, not a frame"
    if not number(row.get("time_s")):
        return _not("a finite number", "time_s", row.get("time_s"))
    if not isinstance(row.get("frame"), int) or isinstance(row.get("frame"), bool):
        return _not("a whole number", "frame", row.get("frame"))
    faces = row.get("faces")
    if not isinstance(faces, list):
        return _not("a list", "faces", faces)
    for face in faces:
        if not isinstance(face, dict):
            return f"a face is {_shown(face)}, not an object"
        track = face.get("track")
        if not isinstance(track, int) or isinstance(track, bool):
            return _not("a whole number", "track", track)
        why = _box_problem(face.get("box"))
        if why:
            return f"track {track}: {why}"
        answers = face.get("models")
        if not isinstance(answers, list) or len(answers) != len(models):
            return f"track {track}: {len(answers) if isinstance(answers, list) else 'no'} answers for {len(models)} model(s)"
        for m, (answer, model) in enumerate(zip(answers, models), 1):
            if not isinstance(answer, dict):
                return f"track {track}: answer {m} is {_shown(answer)}, not an object"
            probs = answer.get("probs")
            if not isinstance(probs, list) or len(probs) != len(model.get("classes") or []) or \
                    not all(number(p) for p in probs):
                return f"track {track}: " + _not(f"{len(model.get('classes') or [])} finite numbers", "probs", probs)
            if not isinstance(answer.get("emotion"), str):
                return f"track {track}: " + _not("a class name", "emotion", answer.get("emotion"))
            if not number(answer.get("confidence")):
                return f"track {track}: " + _not("a finite number", "confidence", answer.get("confidence"))
            why = fields_problem(answer, ("p_stress", "stress_confidence"), ("stress",))
            if why:
                return f"track {track}: {why}"
    return None


def track_problem(t, models: list) -> str | None:
    """One face's summary in tracks.json, as the page's table and timelines read it."""
    if not isinstance(t, dict):
        return f"a face is {_shown(t)}, not an object"
    track = t.get("track")
    if not isinstance(track, int) or isinstance(track, bool):
        return _not("a whole number", "track", track)
    why = fields_problem(t, TRACK_NUMBERS) or _box_problem(t.get("box"))
    if why is None and not all(number(t.get(k)) for k in TRACK_NUMBERS):
        why = f"{', '.join(k for k in TRACK_NUMBERS if not number(t.get(k)))} missing"
    if why:
        return f"track {track}: {why}"
    ms = t.get("models")
    if not isinstance(ms, list) or len(ms) != len(models) or not all(isinstance(m, dict) for m in ms):
        return f"track {track}: its models are {_shown(ms)}, not one summary per model"
    for m in ms:
        why = fields_problem(m, ("mean_p_stress", "peak_p_stress", "longest_stress_s", "mean_confidence",
                                 "stress_share"), ("emotion",))
        if why is None and m.get("share") is not None and not (
                isinstance(m["share"], dict) and all(number(v) for v in m["share"].values())):
            why = _not("an object of shares", "share", m["share"])
        if why:
            return f"track {track}: {why}"
    agreement = t.get("agreement")
    if agreement is not None and (not isinstance(agreement, dict) or fields_problem(agreement, ("share",))):
        return f"track {track}: " + _not("an agreement", "agreement", agreement)
    return None
