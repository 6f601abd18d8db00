"""Which differences between shipped models are real, from their saved cards:

    python -m core card --predictions               # store each shipped model's PrivateTest answers in its card
    python -m core card --table                     # the cards side by side, then every pair of them, paired

A card keeps every answer its model gave on PrivateTest (one character per face, in the split's order, for each
test-time augmentation it was measured with) and a fingerprint of the split's labels (the labels themselves
are the data set's, read from your copy of it, never kept in the repository). Any two cards of the same faces
then give the paired comparison of core.paired (the difference with its bootstrap interval, McNemar's exact
test) without running either model again: the same numbers as `python -m core compare A B` (same resamples).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from itertools import combinations
from pathlib import Path

import numpy as np

from ..data import load_dataset
from ..files import write_json
from ..labels import TTA_MODES, task_of
from ..models.checkpoint import load_checkpoint
from ..models.meta import CheckpointMeta
from ..paired import ALPHA, N_BOOT, compare_predictions, decode_classes, encode_classes
from .evaluation import Subject, open_subject

TTAS = TTA_MODES  # the views a card measures
KEY = "predictions"


def fingerprint(labels) -> str:
    """Which faces, in which order, with which labels: a hash of the split's labels (they are not stored)."""
    return hashlib.sha256(encode_classes(labels).encode()).hexdigest()[:16]


def predictions_record(subject: Subject, split: str = "test", ttas=TTAS, progress=None) -> dict:
    """A model's answer to every face of a split (one character per face) for each view, and the faces' print."""
    labels = subject.labels(split)
    rec = {"split": split, "n": int(len(labels)), "labels_sha256": fingerprint(labels)}
    for tta in ttas:
        rec[tta or "none"] = encode_classes(subject.probs(split, tta, progress).argmax(1))
    return rec


def open_subjects(paths, data=None):
    """Each checkpoint opened on the data set (Subject), one at a time; the data set is loaded once per task and
    face size, not once per checkpoint."""
    loaded = {}
    for path in paths:
        meta = CheckpointMeta.from_state(load_checkpoint(path), path)
        key = (task_of(meta.classes), meta.face_size)
        subject = open_subject(path, data, dataset=loaded.get(key))
        loaded[key] = subject.dataset
        yield subject


def store_predictions(subject: Subject, ttas=TTAS) -> dict:
    """For a saved card made before cards kept their answers: measure the checkpoint's PrivateTest answers (the
    views `ttas`) and add them to `<name>.card.json` beside it, every other figure kept. Answers of other views
    already stored for the same faces stay. Returns, per view, the accuracy of the stored answers and the card's."""
    path = Path(subject.path)
    card_path = path.with_name(path.name.removesuffix(".pt") + ".card.json")
    saved = json.loads(card_path.read_text())  # FileNotFoundError: a card is made first, by `card --json`
    if not isinstance(saved, dict):
        raise ValueError(f"{card_path} is not a card (a JSON object)")
    rec = predictions_record(subject, "test", ttas)
    old = saved.get(KEY)
    if isinstance(old, dict) and old.get("labels_sha256") == rec["labels_sha256"]:
        rec = {**old, **rec}
    saved[KEY] = rec
    write_json(card_path, saved)
    labels = subject.labels("test")
    return {tta or "none": {"stored": float(np.mean(decode_classes(rec[tta or "none"]) == labels)),
                            "card": (saved.get(f"test_{tta or 'none'}") or {}).get("accuracy")} for tta in ttas}


def _answers(card, tta: str):
    """((split, labels' print, classes), answers) of a card that stored `tta`'s answers; None if it did not."""
    rec = card.get(KEY) if isinstance(card, dict) else None
    if not isinstance(rec, dict) or not isinstance(rec.get(tta), str) or len(rec[tta]) != rec.get("n"):
        return None
    try:
        return (rec.get("split"), rec.get("labels_sha256"), tuple(card.get("classes") or ())), decode_classes(rec[tta])
    except ValueError:  # a damaged record: that card is left out of the pairs
        return None


def paired_rows(cards: dict, labels_of: Callable, tta: str = "none", n_boot: int = N_BOOT, seed: int = 0) -> dict:
    """core.paired's comparison of every two cards (`name -> card`) that answered the same faces (same split,
    labels' print and classes), the less accurate of the two as A (so B - A >= 0), in the cards' order.
    `labels_of(classes, split)` gives the split's labels from the data set. Returns {"rows": [...], "left_out":
    {name: why}}."""
    found = {name: a for name, c in cards.items() if (a := _answers(c, tta)) is not None}
    left_out = {n: f"no stored answers ({tta}; `python -m core card --predictions model/<name>.pt` stores them)"
                for n in cards if n not in found}
    labels = {}
    for faces in {k for k, _ in found.values()}:
        try:
            y = np.asarray(labels_of(faces[2], faces[0]), dtype=np.int64)
        except Exception as e:  # noqa: BLE001 - no data set here: the pairs wait for one
            y, why = None, f"the data set's labels are needed: {str(e)[:120]}"
        else:
            why = f"measured on other faces than the data set's {faces[0]} split"
        if y is not None and fingerprint(y) == faces[1]:
            labels[faces] = y
        else:
            left_out.update({n: why for n, (k, _) in found.items() if k == faces})
    rows = []
    for na, nb in combinations([n for n in found if n not in left_out], 2):
        (faces, pa), (faces_b, pb) = found[na], found[nb]
        if faces != faces_b:
            continue  # other faces or other classes: no pairing
        y = labels[faces]
        if np.mean(pb == y) < np.mean(pa == y):
            na, nb, pa, pb = nb, na, pb, pa
        rows.append(compare_predictions(y, pa, pb, faces[2], (na, nb), n_boot, seed) | {"split": faces[0], "tta": tta})
    paired = {n for r in rows for n in r["names"]}
    left_out.update({n: "no other card of the same faces and classes" for n in found if n not in paired | set(left_out)})
    return {"rows": rows, "left_out": left_out}


def dataset_labels(data=None) -> Callable:
    """`labels_of` for paired_rows: a split's labels from the data set (FER2013 by default), in a card's task."""
    def labels_of(classes, split):
        task = task_of(classes)
        return load_dataset(data, task=task).splits[split].labels.numpy()
    return labels_of


def paired_table(paths, data=None, tta: str = "none", n_boot: int = N_BOOT, seed: int = 0,
                 labels_of: Callable | None = None) -> str:
    """Markdown: one row per pair of saved cards on the same faces, B - A in accuracy points with its 95%
    interval, the faces only one of them gets right, McNemar's p and whether the difference is significant;
    then the cards left out, and why."""
    cards = {}
    for p in paths:
        try:
            cards[Path(p).name.removesuffix(".card.json")] = json.loads(Path(p).read_text())
        except (OSError, ValueError):
            continue  # card_table says which card is damaged
    if len(cards) < 2:
        return ""  # one card: nothing to pair, nothing to say
    out = paired_rows(cards, labels_of or dataset_labels(data), tta, n_boot, seed)
    lines = []
    if out["rows"]:
        r0 = out["rows"][0]
        lines += [f"Pairs on the same faces ({r0['split']} split, {r0['n']:,} faces, TTA {tta}; B - A with a 95% "
                  f"interval from {n_boot:,} bootstrap resamples, seed {seed}; McNemar's exact test; significant: "
                  f"p < {ALPHA}; the same as `python -m core compare A B`):", "",
                  "| A | B | A | B | B - A (95% interval) | only A right / only B right | McNemar p | significant |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [_pair_row(r) for r in out["rows"]]
    whys = {}
    for name, why in out["left_out"].items():
        whys.setdefault(why, []).append(name)
    lines += [""] + [f"Not paired, {why}: {', '.join(names)}." for why, names in whys.items()]
    return "\n".join(lines).strip()


def _pair_row(r: dict) -> str:
    d = r["difference"]["accuracy"]
    lo, hi = d["interval"]
    c = r["counts"]
    sig = "**yes**" if r["mcnemar_p"] < ALPHA else "no"
    return (f"| {r['names'][0]} | {r['names'][1]} | {r['a']['accuracy']['value']:.2%} | "
            f"{r['b']['accuracy']['value']:.2%} | {100 * d['value']:+.1f} points ({100 * lo:+.1f} to {100 * hi:+.1f}) | "
            f"{c['only_a']} / {c['only_b']} | {r['mcnemar_p']:.2g} | {sig} |")
