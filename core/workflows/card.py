"""A model card's figures, measured by one command, and the saved cards side by side:

    python -m core card model/realtime.pt           # markdown: accuracy (+TTA), per-class F1, latency
    python -m core card --table                     # the saved cards (model/*.card.json) side by side, and
                                                    # every two of them paired (core.workflows.card_pairs)

The checkpoint and the data set are loaded once (core.workflows.evaluation.Subject); every split and
test-time augmentation, and the stress view of an emotion model, is measured from them.
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
from ..labels import STRESS_CLASSES, TTA_LABELS, TTA_MODES, is_stress_task, tta_name
from ..models import count_parameters
from ..models.checkpoint import update_checkpoint
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


def card(path, data=None) -> dict:
    """Every figure of a model card, measured now, on one load of the checkpoint and of the data set."""
    subject = open_subject(path, data)
    meta, model = subject.meta, subject.model
    quantized = meta.quantized or {}
    out = {"checkpoint": str(path), "model": meta.model, "model_kwargs": meta.model_kwargs,
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
    cal = subject.calibration("test")
    out.update(temperature=cal["temperature"], ece=cal["ece"], ece_calibrated=cal["ece_calibrated"],
               calibration=cal, temperature_stored=meta.temperature)
    if not is_stress_task(meta.classes):
        out["test_stress_from_emotion"] = stress_from_emotion(subject)
        out.update(label_set_blocks(subject, data))  # FER2013's labels and FER+'s votes, side by side
    out["latency_ms_per_face_2_threads"] = latency_ms_per_face(model, subject.input_size)
    return out


def calibrate_card(path, data=None) -> dict:
    """Calibration for a shipped model whose card predates it: a temperature fitted on PublicTest, stored in the
    checkpoint, and ECE before and after on PrivateTest added to its saved card (`<name>.card.json` beside it);
    every other figure of the card stays as it was measured. Returns the calibration."""
    path = Path(path)
    cal = open_subject(path, data).calibration("test")
    store_temperature(path, cal["temperature"])
    card_path = path.with_name(path.stem + ".card.json")
    saved = json.loads(card_path.read_text()) if card_path.is_file() else {}
    if not isinstance(saved, dict):
        raise ValueError(f"{card_path} is not a card (a JSON object)")
    saved.update(temperature=cal["temperature"], ece=cal["ece"], ece_calibrated=cal["ece_calibrated"],
                 calibration=cal, temperature_stored=cal["temperature"])
    write_json(card_path, saved)
    return cal


def store_temperature(path, temperature: float) -> Path:
    """Write a fitted temperature into a checkpoint's metadata, everything else as it was."""
    update_checkpoint(path, temperature=float(temperature))
    return Path(path)


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
    if "ece" in c:
        lines.append(f"Calibration on PrivateTest (15 bins): ECE {c['ece']:.3f}, {c['ece_calibrated']:.3f} at "
                     f"temperature {c['temperature']:.2f} (fitted on PublicTest; accuracy unchanged).")
    if "test_stress_from_emotion" in c:
        st = c["test_stress_from_emotion"]
        lines.append(f"Stress / no stress on PrivateTest, derived from the emotions (angry, fear, sad -> stress): "
                     f"{st['accuracy']:.2%} accuracy, macro-F1 {st['macro_f1']:.3f} (always answering the commoner "
                     f"verdict: {st['majority_share']:.2%}).")
    if t:
        lines.append(f"Training: {t.get('epochs')} epochs, {t.get('seconds', 0) / 60:.0f} min of training steps "
                     f"on {t.get('hardware')}" + _started_from(c, ", starting from the weights of `{}`") + ".")
    return "\n".join(lines)


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


def _card_row(path: Path, c: dict) -> str:
    """One card's row of the table (KeyError, TypeError... where the card is damaged)."""
    if not isinstance(c, dict):
        raise ValueError("not a JSON object")
    ckpt = path.with_name(path.name.removesuffix(".card.json") + ".pt")
    size = f"{ckpt.stat().st_size / 1e6:.2f} MB" if ckpt.exists() else "-"
    arch = f"{c['model']}, width {c['model_kwargs'].get('width', '-')}"
    if c.get("quantized"):
        arch += ", int8"
    if is_stress_task(c["classes"]):
        arch += ", stress / no stress"
    t = c.get("training") or {}
    trained = f"{t.get('epochs', '?')} epochs, {t.get('seconds', 0) / 60:.0f} min" if t else "-"
    trained += _started_from(c, " on top of {}")
    ece = f"{c['ece']:.3f} / {c['ece_calibrated']:.3f}" if "ece" in c else "-"
    return (f"| {path.name.removesuffix('.card.json')} | {arch} | {c['params']:,} | {size} | "
            f"{c['val_none']['accuracy']:.2%} | {c['test_none']['accuracy']:.2%} | "
            f"{c['test_flip']['accuracy']:.2%} | {c['test_none']['macro_f1']:.3f} | "
            f"{c['latency_ms_per_face_2_threads']:.1f} | {trained} | {ece} |")
