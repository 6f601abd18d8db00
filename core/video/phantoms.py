"""Boxes shown where no face is: a tracker's phantoms, counted on a clip whose faces are known (core.video.synth).

A shown box is ON a face when its centre lies in a known face's box (grown by a quarter on each side) and its
area is between a quarter and four times the face's: detectors frame a face a little differently (YuNet's box
is taller than the pasted square), never that differently. A PHANTOM track is one shown at least once where no
face is: a box left on an empty place after its face went, or one a detector found on a jacket. Each known
face's showing is also checked the other way (found, and how soon), so that a tracker cannot score well by
showing nothing.
"""
from __future__ import annotations

from .synth import Face, face_box


def on_face(box, faces) -> bool:
    """Whether a shown (x, y, w, h) box frames one of the known face boxes `faces`."""
    x, y, w, h = (float(v) for v in box)
    cx, cy = x + w / 2, y + h / 2
    for fx, fy, fw, fh in faces:
        if fx - fw / 4 <= cx <= fx + fw * 1.25 and fy - fh / 4 <= cy <= fy + fh * 1.25 and \
                0.25 <= (w * h) / max(fw * fh, 1e-9) <= 4.0:
            return True
    return False


def score_shown(shown: list[tuple[float, list[tuple[int, tuple]]]], faces: list[Face], size=(640, 480)) -> dict:
    """`shown`: per analysed frame, (its time, [(track id, box), ...] as shown). What was shown where no face
    was, per track and in time, and how much of the known faces was found."""
    if not shown:
        return {"seconds": 0.0, "frames": 0, "tracks": 0, "phantom_tracks": 0, "phantom_tracks_per_min": 0.0}
    times = [t for t, _ in shown]
    step = (times[-1] - times[0]) / max(len(times) - 1, 1) if len(times) > 1 else 0.0
    seconds = times[-1] - times[0] + step
    tracks, phantoms = set(), set()
    off_frames = 0
    face_frames = found_frames = 0
    first_seen: dict[int, float] = {}  # known face (index in `faces`) -> when a box first framed it
    for t, boxes in shown:
        here = [(i, face_box(f, t, size)) for i, f in enumerate(faces) if f.start_s <= t < f.end_s]
        for track, box in boxes:
            tracks.add(track)
            if not on_face(box, [b for _, b in here]):
                phantoms.add(track)
                off_frames += 1
        for i, fb in here:
            face_frames += 1
            if any(on_face(box, [fb]) for _, box in boxes):
                found_frames += 1
                first_seen.setdefault(i, t)
    showings = [i for i, f in enumerate(faces) if f.start_s <= times[-1] and f.end_s > times[0]]
    delays = [first_seen[i] - max(faces[i].start_s, times[0]) for i in showings if i in first_seen]
    minutes = seconds / 60.0
    return {"seconds": round(seconds, 2), "frames": len(shown), "tracks": len(tracks),
            "phantom_tracks": len(phantoms), "phantom_tracks_per_min": round(len(phantoms) / minutes, 2),
            "off_face_box_s_per_min": round(off_frames * step / minutes, 2),
            "face_showings": len(showings), "face_showings_found": len(delays),
            "face_frames_found": round(found_frames / face_frames, 4) if face_frames else None,
            "mean_delay_s": round(sum(delays) / len(delays), 3) if delays else None,
            "max_delay_s": round(max(delays), 3) if delays else None}
