"""`python -m core predict IMAGE... [--model M]... [--detector D] [--json] [--tta flip] [--margin F] [--stress]`

The emotion of every face in the images, per model: an aligned table, or JSON. Errors (a missing
model, a missing or unreadable image) are one line on stderr and exit code 2, never a traceback; with --json
they are in the JSON on stdout too, in one shape: `error` at the top says what failed (an image that cannot be
read also has its own `error` in its record; an error before any image, a model that cannot load, has
`"images": []`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..data import IMAGE_EXTENSIONS
from ..files import to_json
from ..labels import TTA_CHOICES
from .common import EXIT_USAGE, command_parser, fail, parse


class _Fail(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    from ..predict.crops import FACE_MARGIN

    p = command_parser("predict", "Find the faces in images and print each model's emotion probabilities for "
                       "each face.", ["sample_images/", "photo.jpg --model model/resnet.pt --model deepface --json",
                                      "photo.jpg --stress --tta flip"])
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders of images")
    p.add_argument("--model", "-m", action="append", default=None, metavar="MODEL",
                   help="a checkpoint path, a model name in model/ (file stem or run id), or 'deepface'; "
                        "repeat for several; default: the best shipped model (else the best run)")
    p.add_argument("--json", action="store_true", help="print JSON (one object with every face) instead of a table")
    p.add_argument("--tta", choices=TTA_CHOICES, default="none",
                   help="test-time augmentation for our CNNs (default: none)")
    p.add_argument("--margin", type=float, default=FACE_MARGIN,
                   help="margin around each detected face, as a fraction of its size (default: "
                        f"{FACE_MARGIN}, FER2013's framing)")
    p.add_argument("--stress", action="store_true",
                   help="also give the stress verdict (angry/fear/sad -> stress) for each face")
    add_detector_flags(p)
    return p


def add_detector_flags(p: argparse.ArgumentParser) -> None:
    """--detector, --detect-width, --min-face, --no-align, --no-tilted: the photo settings the Compare page uses."""
    from ..predict.detectors import PHOTO_SETTINGS, list_detectors

    p.add_argument("--detector", choices=list_detectors(), default=None,
                   help="face detector (default: the most accurate one installed)")
    p.add_argument("--detect-width", type=int, default=PHOTO_SETTINGS["detect_width"],
                   help=f"detect on a copy at most this wide, in pixels (default {PHOTO_SETTINGS['detect_width']})")
    p.add_argument("--min-face", type=float, default=PHOTO_SETTINGS["min_size"],
                   help="the smallest face, as a fraction of the picture's short side "
                        f"(default {PHOTO_SETTINGS['min_size']})")
    p.add_argument("--no-align", action="store_true", help="do not rotate faces upright on their eye line")
    p.add_argument("--no-tilted", action="store_true",
                   help="search the picture upright only (faster; faces tilted by more than ~20 degrees may be "
                        "missed): by default it is also searched turned by 25 degrees either way")


def make_detector(args):
    """The detector the flags ask for; one that cannot load here falls back to Haar, said once on stderr."""
    from ..predict.detectors import TURNS, DetectorError, create_detector, fallback_notice

    if not 64 <= args.detect_width <= 8192:
        raise _Fail("--detect-width must be between 64 and 8192 pixels")
    if not 0.0 <= args.min_face < 1.0:
        raise _Fail("--min-face is a fraction of the picture's short side, between 0 and 1")
    try:
        detector = create_detector(args.detector, fallback=args.detector is None, min_size=args.min_face,
                                   detect_width=args.detect_width, turns=() if args.no_tilted else TURNS)
    except DetectorError as e:
        raise _Fail(str(e)) from None
    notice = fallback_notice(args.detector)
    if notice:
        print(f"note: {notice}", file=sys.stderr)
        args.detector_note = notice  # --json gives it too: which detector was passed over, and why
    return detector


def _image_files(paths) -> list[tuple[Path, str | None]]:
    """(path, None) for each image to read, (path, why) for a path that gives none: every image said apart."""
    files = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS | {".gif"})
            files += [(f, None) for f in found] or [(p, "no images in this folder")]
        elif p.exists():
            files.append((p, None))
        else:
            files.append((p, "no such file or folder"))
    return files


def _load_predictors(names, tta):
    from ..predict.choice import best_model
    from ..predict.catalogue import discover_models
    from ..predict.loading import load_predictor

    if not names:  # the best shipped or promoted model, else the best of all runs
        best = best_model(discover_models()) or best_model(discover_models(runs="all"))
        if best is None:
            raise _Fail("no trained model found in model/ (train one with `python -m core train`, or pass "
                        "--model PATH or --model deepface)")
        names = [best.path]
    out = []
    for name in names:
        try:
            out.append(load_predictor(name, tta=None if str(name).lower() == "deepface" else tta))
        except Exception as e:  # noqa: BLE001
            raise _Fail(f"model {name}: {e}") from None
    return out


def _fmt_table(records, stress: bool) -> str:
    lines = []
    for rec in records:
        if rec.get("error"):
            lines.append(f"{rec['image']}: not read ({rec['error']})")
            continue
        lines.append(f"{rec['image']}: {len(rec['faces'])} face(s)")
        for model in rec["models"]:
            if model.get("error"):
                lines.append(f"  {model['model']}: ERROR {model['error']}")
        if not rec["faces"]:
            continue
        # one block per model: a header of its classes, then a row per face
        for model in rec["models"]:
            if model.get("error"):
                continue
            classes = model["classes"]
            head = ["face", "box (x,y,w,h)", "emotion", "conf"] + (["stress", "s.conf"] if stress else []) + classes
            rows = []
            for f in rec["faces"]:
                r = f["predictions"].get(model["model"])
                if r is None:
                    continue
                box = ",".join(str(v) for v in f["box"])
                row = [str(f["face"]), box, r["emotion"], f"{r['confidence']:.3f}"]
                if stress:
                    row += [str(r.get("stress") or "-"),
                            "-" if r.get("stress_confidence") is None else f"{r['stress_confidence']:.3f}"]
                row += [f"{r['probabilities'][c]:.3f}" for c in classes]
                rows.append(row)
            widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
            lines.append(f"  model: {model['model']}  ({model['latency_ms']:.1f} ms per face)")
            lines.append("    " + "  ".join(h.ljust(w) if i < 3 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths))))
            for r in rows:
                lines.append("    " + "  ".join(v.ljust(w) if i < 3 else v.rjust(w)
                                                for i, (v, w) in enumerate(zip(r, widths))))
    return "\n".join(lines)


def _face_record(face, stress: bool) -> dict:
    """One face as `predict --json` writes it: box, score, landmarks and each model's answer."""
    preds = {}
    for a in face.answers:
        r = {"emotion": a.emotion, "confidence": round(a.confidence, 6),
             "probabilities": {c: round(float(v), 6) for c, v in zip(a.classes, a.probs)}}
        if stress:
            r.update(stress=a.stress, stress_confidence=round(a.stress_confidence, 6) if a.stress is not None else None)
        preds[a.model] = r
    return {"face": face.number, "box": list(face.box), "score": face.score,
            "landmarks": [[round(float(v), 1) for v in pt] for pt in face.landmarks] if face.landmarks else None,
            "predictions": preds}


def run(args) -> int:
    from ..data.images import ImageError, load_image
    from ..predict.photo import analyse_photo

    files = _image_files(args.images)
    tta = None if args.tta == "none" else args.tta
    predictors = _load_predictors(args.model, tta)
    detector = make_detector(args)
    records, failed = [], []
    for path, missing in files:
        rec = {"image": str(path), "faces": [], "models": []}
        try:
            if missing:
                raise ImageError(missing)
            image = load_image(path)
        except ImageError as e:
            failed.append(str(e) if path.name in str(e) else f"{path}: {e}")
            rec["error"] = str(e)
            records.append(rec)
            continue
        photo = analyse_photo(image, predictors, detector, margin=args.margin, align=not args.no_align)
        rec["models"] = [{"model": o.name, "classes": list(o.classes), "kind": o.kind,
                          "latency_ms": round(o.latency_ms, 3), "error": o.error} for o in photo.models]
        rec["faces"] = [_face_record(f, args.stress) for f in photo.faces]
        records.append(rec)
    model_errors = [m for r in records for m in r["models"] if m.get("error")]
    if model_errors and len(model_errors) == sum(len(r["models"]) for r in records):  # no model answered
        failed += list(dict.fromkeys(f"model {m['model']}: {m['error']}" for m in model_errors))
    if args.json:
        note = getattr(args, "detector_note", None)
        print(to_json({"images": records, **({"detector_note": note} if note else {}),
                       **({"error": "; ".join(failed)} if failed else {})}))
    else:
        print(_fmt_table(records, args.stress))
    for msg in failed:
        print(f"error: {msg}", file=sys.stderr)
    return EXIT_USAGE if failed else 0


def main(argv=None) -> int:
    parser = build_parser()
    args, code = parse(parser, argv)
    if args is None:
        return code
    if not 0.0 <= args.margin <= 2.0:
        return fail("--margin must be between 0 and 2")
    try:
        return run(args)
    except _Fail as e:
        return _failed(args, str(e), EXIT_USAGE)
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001 - a CLI answers in one line
        return _failed(args, f"{type(e).__name__}: {e}", 1)


def _failed(args, msg: str, code: int) -> int:
    """An error before any image was read: one line on stderr and, with --json, the same in JSON on stdout."""
    if args.json:
        print(to_json({"images": [], "error": msg}))
    fail(msg)
    return code


if __name__ == "__main__":
    sys.exit(main())
