"""The benches' own tables, from their results/ files: ms per face of every shipped model (bench/per_face.py),
the Webcam page in a browser (bench/webcam_browser.py), face detectors' recall and speed, and classification of
re-detected tilted faces (bench/detection.py)."""
from __future__ import annotations


def per_face_table(f: dict) -> str:
    lines = [f"One face through each shipped emotion model (`CNNPredictor.predict`: preprocessing and the forward "
             f"pass; median of {f['faces_timed']:,} faces, {f['threads']} thread{'s' * (f['threads'] != 1)}); x default: the time of "
             f"`{f['default']}` (the most accurate shipped model) over the model's.", "",
             "| model | PrivateTest | ms | x default | ms + flip | x default |", "|---|---|---|---|---|---|"]
    for name, m in f["models"].items():
        acc = f"{m['accuracy']:.2%}" if m.get("accuracy") is not None else "-"
        lines.append(f"| {name} | {acc} | {m['ms']:.2f} | {m['x_default']:.2f}x | {m['ms_flip']:.2f} | "
                     f"{m['x_default_flip']:.2f}x |")
    return "\n".join(lines)


def _clip_and_path(key: str) -> tuple[str, str]:
    clip, _, path = key.rpartition(", ")
    clip = clip.replace("1 face(s)", "1 face, panning").replace("4 face(s)", "4 faces")
    if "ms analysis" in clip:  # "1 face, +200 ms analysis"
        clip = f"1 face, analysis {clip.split('+', 1)[1].split(' ms')[0]} ms slower (a slow model)"
    return clip, path.replace(" (newest frame)", "")


def webcam_browser_table(f: dict) -> str:
    lines = ["| clip | path | new frames/s shown | labels/s | server ms per frame | analysis ms | label lag (frames) "
             "| server / browser CPU (cores) |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key, r in f["rows"].items():
        clip, path = _clip_and_path(r.get("label", key))
        shown = f"{r['new_fps']:.1f}" if path.startswith("before") else f"**{r['new_fps']:.1f}**"
        lines.append(f"| {clip} | {path} | {shown} | {r['labels_fps']:.1f} | {r['frame_ms']:.1f} | "
                     f"{r['analysis_ms']:.1f} | {r['lag_frames']:.2f} | {r['server_cpu']:.2f} / {r['browser_cpu']:.2f} |")
    return "\n".join(lines)


def _detector_label(name: str) -> str:
    base, turns = name.removesuffix(" +turns"), name.endswith(" +turns")
    detector, _, engine = base.partition("@")  # a measurement of one engine of a detector ("yunet@opencv")
    engine = f"{detector}, {'OpenCV' if engine == 'opencv' else engine} engine" if engine else base
    return engine + (" + turned search" if turns else "") + (" (photos' default)" if name == "yunet +turns" else "")


def detection_table(records: list[dict]) -> str:
    """Detectors' recall and speed, one row each, from one measurement or several (the rows of the second and
    later ones marked with its number, whose line under the table says where and when it was measured)."""
    first = records[0]
    cpu = any(r.get("cpu_ms") is not None for f in records for r in f["detectors"].values())
    groups = first.get("groups")
    counts = (f" ({groups['upright']} upright, {groups['+-15']} at ±15°, {groups['+-30']} at ±30°)" if groups else "")
    lines = [f"{first['faces']} faces on {first['canvases']} canvases{counts}.", "",
             "| detector | recall | upright | ±15° | ±30° | false positives / canvas | ms / 640x480 frame |"
             + (" cpu ms / frame |" if cpu else ""), "|---|---|---|---|---|---|---|" + ("---|" if cpu else "")]
    for i, f in enumerate(records):
        d = f["detectors"]
        mark = f" ({i + 1})" if len(records) > 1 and i else ""
        for name, r in d.items():
            if name == "yunet, raw":
                continue
            ms = f"{r['ms']:.1f}"
            if name == "yunet" and "yunet, raw" in d:
                ms += f" ({d['yunet, raw']['ms']:.1f} without landmark refinement)"
            lines.append(f"| {_detector_label(name)}{mark} | {r['recall']:.1%} | {r['upright']:.1%} | {r['+-15']:.1%} | "
                         f"{r['+-30']:.1%} | {r['fp']:.3f} | {ms} |" + (f" {r['cpu_ms']:.1f} |" if cpu else ""))
    notes = [f"({i + 1}) {f['note']}" if i else f["note"] for i, f in enumerate(records) if f.get("note")]
    return "\n".join(lines + ([""] + notes if notes else []))


BEFORE = {"margin_015": "crops, margin 0.15 (before)", "turn_48px": "turned on the 48 px crop (before)"}


def tilt_table(f: dict) -> str:
    """Classification of re-detected upright and tilted faces, cropped as they are and turned upright; with the
    ways it was done before where the measurement kept them."""
    before = f.get("before") or {}
    lines = [f"{f['faces']:,} {dict(test='PrivateTest', val='PublicTest')[f['split']]} faces, detector {f['detector']}, "
             f"model {f['model']} (mirror average); accuracy over the faces found:", "",
             "| faces | found | the 48x48 images as they are | " + "".join(f"{BEFORE.get(k, k)} | " for k in before)
             + "crops | + turned upright |", "|---|---|---|" + "---|" * len(before) + "---|---|"]
    for label, r in f["rows"].items():
        key = "upright" if label == "upright" else "tilted"
        what = "upright" if label == "upright" else f"turned ±{f['tilt']:g} degrees"
        found = f"{r['found']:,} of {r['n']:,}" if "found" in r else f"{r['n']:,}"
        direct = f"{r['direct']:.2%}" if "direct" in r else "-"
        lines.append(f"| {what} | {found} | {direct} | " + "".join(f"{b[key]:.2%} | " for b in before.values())
                     + f"{r['plain']:.2%} | {r['aligned']:.2%} ({100 * (r['aligned'] - r['plain']):+.2f}) |")
    return "\n".join(lines)
