"""A model card's figures, measured by one command, and the saved cards side by side:

    python -m core card model/realtime.pt           # markdown: accuracy (+TTA), per-class F1, latency
    python -m core card --table                     # the saved cards (model/*.card.json) side by side, and
                                                    # every two of them paired (core.workflows.card_pairs)

The checkpoint and the data set are loaded once (core.workflows.evaluation.Subject); every split and
test-time augmentation, and the stress view of an emotion model, is measured from them. Calibration is measured
in each view (plain, flip, ten-crop), each with a temperature fitted on that view's PublicTest probabilities:
the pages average a face with its mirror image, and that average needs its own temperature.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

from ..data import to_stress
from ..evaluate import align_probs, metrics_from_probs
from ..files import write_json
from ..labels import STRESS_CLASSES, TTA_LABELS, TTA_MODES, is_stress_task, tta_mode, tta_name
from ..models import count_parameters
from ..models.checkpoint import update_checkpoint
from ..predict.catalogue import card_path
from ..results import provenance
from .card_pairs import KEY as PREDICTIONS
from .card_pairs import predictions_record
from .evaluation import Subject, open_subject
from .label_sets import label_set_blocks


def latency_ms_per_face(model, input_size: int = 48, threads: int = 2, repeats: int = 200) -> float:
    """Median time of one forward pass on one face, after warm-up, with `threads` torch threads (the process's
    own thread count given back afterwards: a card measured inside the app must not slow it down)."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    x = torch.randn(1, 1, input_size, input_size)
    times = []
    try:
        with torch.inference_mode():
            for i in range(repeats + 20):
                t = time.perf_counter()
                model(x)
                if i >= 20:
                    times.append(time.perf_counter() - t)
    finally:
        torch.set_num_threads(before)
    return float(np.median(times) * 1000)


def card(path, data=None, command: str | None = None) -> dict:
    """Every figure of a model card, measured now, on one load of the checkpoint and of the data set, with where
    they come from (the command, the commit, the date, the host: core.results.provenance)."""
    subject = open_subject(path, data)
    meta, model = subject.meta, subject.model
    quantized = meta.quantized or {}
    out = {**provenance(command or f"python -m core card {path}"), "checkpoint": str(path), "model": meta.model,
           "model_kwargs": meta.model_kwargs,
           "params": quantized.get("float_params") or count_parameters(model), "classes": list(meta.classes),
           "training": meta.training, "run_id": meta.run_id, "config": meta.config}
    if quantized:
        out["quantized"] = quantized
    for split in ("val", "test"):
        for tta in TTA_MODES:
            r = subject.evaluate(split, tta)
            out[f"{split}_{tta_name(tta)}"] = {"accuracy": r["accuracy"], "macro_f1": r["macro_f1"],
                                               "per_class": r["per_class"], "confusion": r["confusion"]}
    out[PREDICTIONS] = predictions_record(subject, "test")  # the answers just measured: pairs in `card --table`
    bad = int((~np.isfinite(subject.probs("test", temperature=1.0))).any(1).sum())
    if bad:  # a diverged model: its "answers" are argmaxes of NaN (card --table leaves it out of the pairs)
        out["non_finite_faces"] = bad
    cals = {tta_name(t): subject.calibration("test", t) for t in TTA_MODES}
    cal = cals["none"]
    out.update(temperature=cal["temperature"], ece=cal["ece"], ece_calibrated=cal["ece_calibrated"],
               calibration=cal, temperature_stored=meta.temperature, calibration_by_view=_by_view(cals),
               tta_temperatures_stored=meta.tta_temperatures)
    if not is_stress_task(meta.classes):
        out["test_stress_from_emotion"] = stress_from_emotion(subject)
        out.update(label_set_blocks(subject, data))  # FER2013's labels and FER+'s votes, side by side
    out["latency_ms_per_face_2_threads"] = latency_ms_per_face(model, subject.input_size)
    return out


def calibrate_card(path, data=None, ttas=TTA_MODES) -> dict:
    """Calibration for a shipped model whose card predates it: a temperature fitted on PublicTest for each view of
    `ttas` (the plain view always), stored in the checkpoint, and ECE before and after on PrivateTest in that view
    added to its saved card (`<name>.card.json` beside it); every other figure of the card stays as it was
    measured. Returns each view's calibration ({"none": {...}, "flip": {...}})."""
    path = Path(path)
    subject = open_subject(path, data)
    views = [None] + [t for t in ttas if t]
    cals = {tta_name(t): subject.calibration("test", t) for t in views}
    cal = cals["none"]
    meta = store_temperature(path, cal["temperature"], {v: c["temperature"] for v, c in cals.items() if v != "none"})
    card_file = card_path(path)
    saved = json.loads(card_file.read_text()) if card_file.is_file() else {}
    if not isinstance(saved, dict):
        raise ValueError(f"{card_file} is not a card (a JSON object)")
    saved.update(temperature=cal["temperature"], ece=cal["ece"], ece_calibrated=cal["ece_calibrated"],
                 calibration=cal, temperature_stored=cal["temperature"],
                 calibration_by_view={**(saved.get("calibration_by_view") or {}), **_by_view(cals)},
                 tta_temperatures_stored=meta.tta_temperatures)
    write_json(card_file, saved)
    return cals


def _by_view(cals: dict) -> dict:
    """Each view's calibration in brief (the plain view's diagrams are the card's `calibration`)."""
    keys = ("temperature", "fit_faces", "warning", "ece", "ece_calibrated", "nll", "nll_calibrated")
    return {view: {k: c.get(k) for k in keys} for view, c in cals.items()}


def store_temperature(path, temperature: float, tta_temperatures: dict | None = None):
    """Write a fitted temperature (the plain view's) into a checkpoint's metadata, and those of test-time
    augmentations (`{"flip": T, ...}`) where given, everything else as it was. Returns the new description."""
    changes = {"temperature": float(temperature)}
    if tta_temperatures:
        changes["tta_temperatures"] = {k: float(v) for k, v in tta_temperatures.items()}
    return update_checkpoint(path, **changes)


def stress_from_emotion(subject: Subject, split: str = "test") -> dict:
    """An emotion model answering stress / no stress through the mapping in core.labels (P(stress) = sum of the
    stress emotions), scored against the stress view of the split's labels; with the majority-class share,
    the accuracy of always answering the commoner verdict."""
    probs = align_probs(subject.probs(split), subject.meta.classes, STRESS_CLASSES)
    labels = to_stress(subject.dataset).splits[split].labels.numpy()
    r = metrics_from_probs(probs, labels, STRESS_CLASSES)
    return {"accuracy": r["accuracy"], "macro_f1": r["macro_f1"], "per_class": r["per_class"],
            "confusion": r["confusion"], "majority_share": float(max(np.mean(labels), 1 - np.mean(labels)))}


def card_markdown(c: dict) -> str:
    t = c["training"]
    q = c.get("quantized")
    int8 = (f", **int8** ({q['backend']} backend; quantized from `{q['source']}` after training, calibrated on "
            f"{q['calibration_images']:,} training images, seed {q['seed']})" if q else "")
    lines = [
        f"**{c['model']}** {c['model_kwargs']}{int8}, {c['params']:,} parameters, classes {', '.join(c['classes'])}",
        "",
        "| split | accuracy | " + " | ".join(f"+ {TTA_LABELS[m]}" for m in TTA_MODES[1:]) + " | macro-F1 |",
        "|---|---|---|---|---|",
    ]
    for split, label in (("val", "PublicTest (val)"), ("test", "PrivateTest (test)")):
        lines.append(f"| {label} | " + " | ".join(f"{c[f'{split}_{tta_name(m)}']['accuracy']:.2%}" for m in TTA_MODES)
                     + f" | {c[f'{split}_none']['macro_f1']:.3f} |")
    lines += ["", "Per-class F1 on PrivateTest (no TTA): " + ", ".join(
        f"{r['class']} {r['f1']:.2f}" for r in c["test_none"]["per_class"]), "",
        f"CPU latency: {c['latency_ms_per_face_2_threads']:.2f} ms per face (one forward pass, 2 threads, median).",
    ]
    if c.get("non_finite_faces"):
        lines.append(f"**Its outputs are NaN or infinite** on {c['non_finite_faces']:,} PrivateTest faces (its training "
                     "diverged?): its figures are not answers.")
    if "ece" in c:
        lines.append(calibration_sentence(c))
    if "test_stress_from_emotion" in c:
        st = c["test_stress_from_emotion"]
        lines.append(f"Stress / no stress on PrivateTest, derived from the emotions (angry, fear, sad -> stress; the others, contempt too, -> no stress): "
                     f"{st['accuracy']:.2%} accuracy, macro-F1 {st['macro_f1']:.3f} (always answering the commoner "
                     f"verdict: {st['majority_share']:.2%}).")
    if t:
        lines.append(f"Training: {t.get('epochs')} epochs, {t.get('seconds', 0) / 60:.0f} min of training steps "
                     f"on {t.get('hardware')}" + _started_from(c, ", starting from the weights of `{}`") + ".")
    return "\n".join(lines)


def calibration_sentence(c: dict) -> str:
    """The card's calibration in words: ECE before and after the temperature, in each view measured."""
    views = c.get("calibration_by_view") or {"none": {k: c.get(k) for k in ("ece", "ece_calibrated", "temperature")}}
    parts = [f"{TTA_LABELS[tta_mode(v)]}: ECE {_num(m.get('ece'), '.3f')}, {_num(m.get('ece_calibrated'), '.3f')} at "
             f"temperature {_num(m.get('temperature'), '.2f')}" for v, m in views.items()]
    warning = next((m["warning"] for m in views.values() if m.get("warning")), None)
    return (f"Calibration on PrivateTest (15 bins; each view's temperature fitted on PublicTest in that view; accuracy "
            f"unchanged): {'; '.join(parts)}." + (f" Note: {warning}." if warning else ""))


def _num(v, spec: str, none: str = "-") -> str:
    """A figure of a card, or `none` where the card holds none (null: not measurable, e.g. NaN answers)."""
    return none if v is None else format(v, spec)


def _started_from(card: dict, text: str) -> str:
    """`text` with the model a fine-tuned run started from (its name), or "" for a run from scratch."""
    init = (card.get("config") or {}).get("init")
    return text.format(Path(init).stem) if init else ""


def card_table(paths) -> str:
    """One markdown row per card (`model/<name>.card.json`, written by `card --json`): the comparison at a glance."""
    lines = ["| model | architecture | parameters | file | PublicTest | PrivateTest | + flip TTA | macro-F1 | "
             "CPU ms / face | training | ECE / calibrated |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for path in paths:
        path = Path(path)
        try:
            lines.append(_card_row(path, json.loads(path.read_text())))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as e:  # one damaged card
            lines.append(f"| {path.name.removesuffix('.card.json')} | damaged card: {type(e).__name__} "
                         f"{str(e)[:60]} |" + " |" * 9)
    return "\n".join(lines)


def unusable_cards(paths) -> dict:
    """{name: why} for the saved cards whose answers must not be paired: damaged ones (as the table says), and
    those of a model that answered NaN (a diverged model: its stored answers are argmaxes of nothing)."""
    out = {}
    for path in map(Path, paths):
        name = path.name.removesuffix(".card.json")
        try:
            c = json.loads(path.read_text())
            _card_row(path, c)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
            out[name] = f"damaged card ({type(e).__name__})"
            continue
        if c.get("non_finite_faces") or ("ece" in c and c["ece"] is None):
            out[name] = "its model answered NaN or infinity (a diverged model: no answers to pair)"
    return out


def _card_row(path: Path, c: dict) -> str:
    """One card's row of the table (KeyError, TypeError... where the card is damaged); a figure the card holds as
    null (not measurable: a model that answered NaN) is shown as "-"."""
    if not isinstance(c, dict):
        raise ValueError("not a JSON object")
    ckpt = path.with_name(path.name.removesuffix(".card.json") + ".pt")
    size = f"{ckpt.stat().st_size / 1e6:.2f} MB" if ckpt.exists() else "-"
    arch = f"{c['model']}, width {c['model_kwargs'].get('width', '-')}"
    if c.get("quantized"):
        arch += ", int8"
    if is_stress_task(c["classes"]):
        arch += ", stress / no stress"
    if (c.get("config") or {}).get("labels") == "ferplus" or "contempt" in c["classes"]:
        arch += ", FER+ votes (its accuracies on FER+'s test)"
    t = c.get("training") or {}
    trained = f"{t.get('epochs', '?')} epochs, {(t.get('seconds') or 0) / 60:.0f} min" if t else "-"
    trained += _started_from(c, " on top of {}")
    ece = f"{_num(c['ece'], '.3f')} / {_num(c.get('ece_calibrated'), '.3f')}" if "ece" in c else "-"
    if c.get("non_finite_faces") or ("ece" in c and c["ece"] is None):
        ece += " (NaN answers)"
    params = c["params"]
    return (f"| {path.name.removesuffix('.card.json')} | {arch} | {_num(params, ',')} | {size} | "
            f"{_num(c['val_none']['accuracy'], '.2%')} | {_num(c['test_none']['accuracy'], '.2%')} | "
            f"{_num(c['test_flip']['accuracy'], '.2%')} | {_num(c['test_none']['macro_f1'], '.3f')} | "
            f"{_num(c['latency_ms_per_face_2_threads'], '.1f')} | {trained} | {ece} |")
