"""`python -m core predict IMAGE... [--model M]... [--json] [--tta flip] [--margin F] [--stress]`

The emotion of every face in the images, per model: an aligned table, or JSON. Errors (a missing
model, an unreadable image) are one line on stderr and exit code 2, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .data import IMAGE_EXTENSIONS

EXIT_USAGE = 2


class _Fail(Exception):
    pass


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m core predict",
        description="Find the faces in images and print each model's emotion probabilities for each face.",
        epilog="Examples:\n  python -m core predict sample_images/\n"
               "  python -m core predict photo.jpg --model model/resnet.pt --model deepface --json\n"
               "  python -m core predict photo.jpg --stress --tta flip",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files or folders of images")
    p.add_argument("--model", "-m", action="append", default=None, metavar="MODEL",
                   help="a checkpoint path, a model name in model/ (file stem or run id), or 'deepface'; "
                        "repeat for several; default: the best shipped model (else the best run)")
    p.add_argument("--json", action="store_true", help="print JSON (one object with every face) instead of a table")
    p.add_argument("--tta", choices=("none", "flip", "tencrop"), default="none",
                   help="test-time augmentation for our CNNs (default: none)")
    p.add_argument("--margin", type=float, default=0.15,
                   help="margin around each detected face, as a fraction of its size (default: 0.15)")
    p.add_argument("--stress", action="store_true",
                   help="also give the stress verdict (angry/fear/sad -> stress) for each face")
    return p


def _image_files(paths) -> list[Path]:
    files = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS | {".gif"})
            if not found:
                raise _Fail(f"{p}: no images in this folder")
            files += found
        elif p.exists():
            files.append(p)
        else:
            raise _Fail(f"{p}: no such file or folder")
    return files


def _load_predictors(names, tta):
    from .predictors import best_model, discover_models, load_predictor

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


def run(args) -> int:
    from .faces import FaceDetector, ImageError, crop_faces, load_image
    from .predictors import run_predictor, stress_verdict

    files = _image_files(args.images)
    tta = None if args.tta == "none" else args.tta
    predictors = _load_predictors(args.model, tta)
    detector = FaceDetector()
    records, failed = [], []
    for path in files:
        rec = {"image": str(path), "faces": [], "models": []}
        try:
            image = load_image(path)
        except ImageError as e:
            failed.append(str(e) if path.name in str(e) else f"{path}: {e}")
            rec["error"] = str(e)
            records.append(rec)
            continue
        faces = detector.detect(image)
        crops = crop_faces(image, faces, margin=args.margin)
        outputs = [run_predictor(p, crops) for p in predictors]
        rec["models"] = [{"model": o.name, "classes": list(o.classes), "kind": o.kind,
                          "latency_ms": round(o.latency_ms, 3), "error": o.error} for o in outputs]
        for i, f in enumerate(faces):
            preds = {}
            for o in outputs:
                if o.error:
                    continue
                p = o.probs[i]
                k = int(p.argmax())
                r = {"emotion": o.classes[k], "confidence": round(float(p[k]), 6),
                     "probabilities": {c: round(float(v), 6) for c, v in zip(o.classes, p)}}
                if args.stress:
                    try:
                        label, conf = stress_verdict(p, o.classes)
                        r.update(stress=label, stress_confidence=round(float(conf), 6))
                    except ValueError:
                        r.update(stress=None, stress_confidence=None)
                preds[o.name] = r
            rec["faces"].append({"face": i + 1, "box": [int(v) for v in f.box], "score": float(f.score),
                                 "predictions": preds})
        records.append(rec)
    if args.json:
        print(json.dumps({"images": records}, indent=2))
    else:
        print(_fmt_table(records, args.stress))
    for msg in failed:
        print(f"error: {msg}", file=sys.stderr)
    model_errors = [m for r in records for m in r["models"] if m.get("error")]
    if failed or (model_errors and len(model_errors) == sum(len(r["models"]) for r in records)):
        return EXIT_USAGE
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or a usage error (2)
        return int(e.code or 0)
    if not 0.0 <= args.margin <= 2.0:
        print("error: --margin must be between 0 and 2", file=sys.stderr)
        return EXIT_USAGE
    try:
        return run(args)
    except _Fail as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001 - a CLI answers in one line
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
