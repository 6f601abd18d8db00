"""Shipping a run as a model in model/, and the figures of its model card, measured by one command:

    python -m core ship <run-id> --as realtime      # model/realtime.pt + graphs/realtime/
    python -m core card model/realtime.pt           # markdown: accuracy (+TTA), per-class F1, latency
    python -m core card --table model/*.card.json   # the saved cards side by side
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_checkpoint, write_checkpoint_state
from .labels import STRESS_CLASSES
from .runs import ROOT, Run, slug


def ship(run: Run, name: str, model_dir=None, graphs_dir=None) -> Path:
    """Copy a run's best checkpoint (weights and metadata only) and its curves under a stable name."""
    name = slug(name)
    model_dir = Path(model_dir or ROOT / "model")
    graphs = Path(graphs_dir or ROOT / "graphs") / name
    state = load_checkpoint(run.best_path)
    state = {k: v for k, v in state.items() if k not in ("optimizer", "scheduler", "rng", "torch_rng", "sums")}
    state["run_id"] = run.id
    state["training"] = {"seconds": sum(r.get("seconds", 0) for r in run.metrics()), "epochs": len(run.metrics()),
                         "hardware": f"{platform.machine()} CPU, {os.cpu_count()} cores"}
    model_dir.mkdir(parents=True, exist_ok=True)
    out = write_checkpoint_state(model_dir / f"{name}.pt", state)
    graphs.mkdir(parents=True, exist_ok=True)
    for png in run.graphs_dir.glob("*.png"):
        shutil.copy2(png, graphs / png.name)
    shutil.copy2(run.metrics_path, graphs / "metrics.jsonl")
    shutil.copy2(run.config_path, graphs / "config.json")
    return out


def latency_ms_per_face(model, input_size: int = 48, threads: int = 2, repeats: int = 200) -> float:
    """Median time of one forward pass on one face, after warm-up, with `threads` torch threads."""
    torch.set_num_threads(threads)
    x = torch.randn(1, 1, input_size, input_size)
    times = []
    with torch.inference_mode():
        for i in range(repeats + 20):
            t = time.perf_counter()
            model(x)
            if i >= 20:
                times.append(time.perf_counter() - t)
    return float(np.median(times) * 1000)


def card(path, data=None) -> dict:
    """Every figure of a model card, measured now."""
    from .checkpoint import build_model
    from .evaluate import evaluate_checkpoint
    from .models import count_parameters

    state = load_checkpoint(path)
    model = build_model(state, path)
    quantized = state.get("quantized") or {}
    out = {"checkpoint": str(path), "model": state["model"], "model_kwargs": state["model_kwargs"],
           "params": quantized.get("float_params") or count_parameters(model), "classes": state["classes"],
           "training": state.get("training", {}), "run_id": state.get("run_id"), "config": state.get("config", {})}
    if quantized:
        out["quantized"] = quantized
    for split in ("val", "test"):
        for tta in (None, "flip", "tencrop"):
            r = evaluate_checkpoint(path, data=data, split=split, tta=tta)
            out[f"{split}_{tta or 'none'}"] = {"accuracy": r["accuracy"], "macro_f1": r["macro_f1"],
                                               "per_class": r["per_class"], "confusion": r["confusion"]}
    if tuple(state["classes"]) != STRESS_CLASSES:
        out["test_stress_from_emotion"] = stress_from_emotion(path, data)
    out["latency_ms_per_face_2_threads"] = latency_ms_per_face(model, state["input_size"])
    return out


def stress_from_emotion(path, data=None, split: str = "test") -> dict:
    """An emotion model answering stress / no stress through the mapping in core.labels (P(stress) = sum of the
    stress emotions), scored against the stress view of the split's labels; with the majority-class share,
    the accuracy of always answering the commoner verdict."""
    from .checkpoint import load_model
    from .data import load_dataset, to_stress
    from .evaluate import align_probs, metrics_from_probs, predict_probs

    model, meta = load_model(path)
    ds = load_dataset(data, image_size=meta["input_size"])
    s = ds.splits[split]
    probs = align_probs(predict_probs(model, s.images, meta["mean"], meta["std"]).numpy(), meta["classes"],
                        STRESS_CLASSES)
    labels = to_stress(ds).splits[split].labels.numpy()
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
        "| split | accuracy | + flip TTA | + ten-crop TTA | macro-F1 |",
        "|---|---|---|---|---|",
    ]
    for split, label in (("val", "PublicTest (val)"), ("test", "PrivateTest (test)")):
        lines.append(f"| {label} | {c[f'{split}_none']['accuracy']:.2%} | {c[f'{split}_flip']['accuracy']:.2%} | "
                     f"{c[f'{split}_tencrop']['accuracy']:.2%} | {c[f'{split}_none']['macro_f1']:.3f} |")
    lines += ["", "Per-class F1 on PrivateTest (no TTA): " + ", ".join(
        f"{r['class']} {r['f1']:.2f}" for r in c["test_none"]["per_class"]), "",
        f"CPU latency: {c['latency_ms_per_face_2_threads']:.2f} ms per face (one forward pass, 2 threads, median).",
    ]
    if "test_stress_from_emotion" in c:
        st = c["test_stress_from_emotion"]
        lines.append(f"Stress / no stress on PrivateTest, derived from the emotions (angry, fear, sad -> stress): "
                     f"{st['accuracy']:.2%} accuracy, macro-F1 {st['macro_f1']:.3f} (always answering the commoner "
                     f"verdict: {st['majority_share']:.2%}).")
    if t:
        lines.append(f"Training: {t.get('epochs')} epochs, {t.get('seconds', 0) / 60:.0f} min of training steps "
                     f"on {t.get('hardware')}.")
    return "\n".join(lines)


def card_table(paths) -> str:
    """One markdown row per card (`model/<name>.card.json`, written by `card --json`): the comparison at a glance."""
    lines = ["| model | architecture | parameters | file | PublicTest | PrivateTest | + flip TTA | macro-F1 | "
             "CPU ms / face | training |", "|---|---|---|---|---|---|---|---|---|---|"]
    for path in paths:
        path = Path(path)
        c = json.loads(path.read_text())
        ckpt = path.with_name(path.name.removesuffix(".card.json") + ".pt")
        size = f"{ckpt.stat().st_size / 1e6:.2f} MB" if ckpt.exists() else "-"
        arch = f"{c['model']}, width {c['model_kwargs'].get('width', '-')}"
        if c.get("quantized"):
            arch += ", int8"
        if tuple(c["classes"]) == STRESS_CLASSES:
            arch += ", stress / no stress"
        t = c.get("training") or {}
        trained = f"{t.get('epochs', '?')} epochs, {t.get('seconds', 0) / 60:.0f} min" if t else "-"
        lines.append(f"| {path.name.removesuffix('.card.json')} | {arch} | {c['params']:,} | {size} | "
                     f"{c['val_none']['accuracy']:.2%} | {c['test_none']['accuracy']:.2%} | "
                     f"{c['test_flip']['accuracy']:.2%} | {c['test_none']['macro_f1']:.3f} | "
                     f"{c['latency_ms_per_face_2_threads']:.1f} | {trained} |")
    return "\n".join(lines)


def main_card(path, data=None, as_json=False) -> str:
    c = card(path, data)
    return json.dumps(c) if as_json else card_markdown(c)
