"""Which differences between shipped models are real, from their saved cards:

    python -m core card --predictions               # store each shipped model's PrivateTest answers in its card
    python -m core card --table                     # the cards side by side, then every pair of them, paired

A card keeps every answer its model gave on PrivateTest (one character per face, in the split's order, for each
test-time augmentation it was measured with) and a fingerprint of the split's labels (the labels themselves
are the data set's, read from your copy of it, never kept in the repository). Any two cards of the same faces
then give the paired comparison of core.paired (the difference with its bootstrap interval, McNemar's exact
test) without running either model again: the same numbers as `python -m core compare A B` (same resamples).
The table tests every pair at once, so it calls a difference significant on Holm's adjusted p (core.paired.holm).
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
from ..labels import FERPLUS_CLASSES, TTA_MODES, task_of
from ..models.checkpoint import load_checkpoint
from ..models.meta import CheckpointMeta
from ..paired import ALPHA, N_BOOT, compare_predictions, holm
from ..predict.catalogue import card_path
from .evaluation import Subject, open_subject

KEY = "predictions"
DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def encode_classes(indices) -> str:
    """Class indices (one per face, in the split's order) as one character each: a model card keeps every answer
    it was measured on in a few kilobytes (digits for up to ten classes, then letters)."""
    idx = np.asarray(indices, dtype=np.int64)
    if len(idx) and (idx.min() < 0 or idx.max() >= len(DIGITS)):
        raise ValueError(f"class indices must lie in 0..{len(DIGITS) - 1} to be written one character each")
    return "".join(DIGITS[i] for i in idx.tolist())


def decode_classes(text: str) -> np.ndarray:
    """The class indices `encode_classes` wrote (ValueError on a character it does not write)."""
    try:
        return np.array([DIGITS.index(ch) for ch in text], dtype=np.int64)
    except ValueError:
        raise ValueError("stored answers hold a character that is no class index") from None


def fingerprint(labels) -> str:
    """Which faces, in which order, with which labels: a hash of the split's labels (they are not stored)."""
    return hashlib.sha256(encode_classes(labels).encode()).hexdigest()[:16]


def predictions_record(subject: Subject, split: str = "test", ttas=TTA_MODES, progress=None) -> dict:
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


def store_predictions(subject: Subject, ttas=TTA_MODES) -> dict:
    """For a saved card made before cards kept their answers: measure the checkpoint's PrivateTest answers (the
    views `ttas`) and add them to `<name>.card.json` beside it, every other figure kept. Answers of other views
    already stored for the same faces stay. Returns, per view, the accuracy of the stored answers and the card's."""
    path = Path(subject.path)
    card_file = card_path(path)
    saved = json.loads(card_file.read_text())  # FileNotFoundError: a card is made first, by `card --json`
    if not isinstance(saved, dict):
        raise ValueError(f"{card_file} is not a card (a JSON object)")
    rec = predictions_record(subject, "test", ttas)
    old = saved.get(KEY)
    if isinstance(old, dict) and old.get("labels_sha256") == rec["labels_sha256"]:
        rec = {**old, **rec}
    saved[KEY] = rec
    write_json(card_file, saved)
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


def paired_rows(cards: dict, labels_of: Callable, tta: str = "none", n_boot: int = N_BOOT, seed: int = 0,
                left_out: dict | None = None) -> dict:
    """core.paired's comparison of every two cards (`name -> card`) that answered the same faces (same split,
    labels' print and classes), the less accurate of the two as A (so B - A >= 0), in the cards' order; each row
    with McNemar's p adjusted by Holm's method over all the rows (`mcnemar_p_holm`) and `significant` on it.
    `labels_of(classes, split)` gives the split's labels from the data set; `left_out` (name -> why) names cards
    not to pair. Returns {"rows": [...], "left_out": {name: why}}."""
    left_out = dict(left_out or {})
    found = {name: a for name, c in cards.items() if name not in left_out and (a := _answers(c, tta)) is not None}
    left_out.update({n: f"no stored answers ({tta}; `python -m core card --predictions model/<name>.pt` stores them)"
                     for n in cards if n not in found and n not in left_out})
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
    for name, (faces, answers) in found.items():  # answers that cannot be this split's: the card is named
        if faces not in labels or name in left_out:
            continue
        if len(answers) != len(labels[faces]):
            left_out[name] = (f"stored answers for {len(answers):,} faces, but the data set's {faces[0]} split has "
                              f"{len(labels[faces]):,}")
        elif len(answers) and answers.max() >= len(faces[2]):
            left_out[name] = f"stored answers name a class beyond its {len(faces[2])} classes"
    rows = []
    for na, nb in combinations([n for n in found if n not in left_out], 2):
        (faces, pa), (faces_b, pb) = found[na], found[nb]
        if faces != faces_b:
            continue  # other faces or other classes: no pairing
        y = labels[faces]
        if np.mean(pb == y) < np.mean(pa == y):
            na, nb, pa, pb = nb, na, pb, pa
        rows.append(compare_predictions(y, pa, pb, faces[2], (na, nb), n_boot, seed) | {"split": faces[0], "tta": tta})
    for r, p in zip(rows, holm([r["mcnemar_p"] for r in rows])):
        r.update(mcnemar_p_holm=p, significant=p < ALPHA)
    paired = {n for r in rows for n in r["names"]}
    left_out.update({n: "no other card of the same faces and classes" for n in found if n not in paired | set(left_out)})
    return {"rows": rows, "left_out": left_out}


def dataset_labels(data=None) -> Callable:
    """`labels_of` for paired_rows: a split's labels from the data set (FER2013 by default), in a card's task and
    label set (FER+'s for a card of FER+'s eight classes)."""
    def labels_of(classes, split):
        labels = "ferplus" if "contempt" in classes else "fer2013"
        return load_dataset(data, task=task_of(classes), labels=labels).splits[split].labels.numpy()
    return labels_of


def ferplus_labels(data=None) -> Callable:
    """`labels_of` for paired_rows on FER+'s labels: the official majority test of FER+'s votes beside the data set."""
    def labels_of(classes, split):
        from ..data import to_ferplus

        return to_ferplus(load_dataset(data, join_votes=True)).splits[split].labels.numpy()
    return labels_of


def on_ferplus(cards: dict) -> dict:
    """The cards as FER+'s test saw them (each card's `ferplus` block: its answers to FER+'s faces, in FER+'s eight
    classes), for paired_rows; cards without that block are left out by it."""
    out = {}
    for name, c in cards.items():
        block = c.get("ferplus") if isinstance(c, dict) else None
        if isinstance(block, dict) and isinstance(block.get(KEY), dict):
            out[name] = {"classes": list(FERPLUS_CLASSES), KEY: block[KEY]}
        else:
            out[name] = {}
    return out


def paired_table(paths, data=None, tta: str = "none", n_boot: int = N_BOOT, seed: int = 0,
                 labels_of: Callable | None = None, left_out: dict | None = None, labels: str = "own",
                 rows: dict | None = None) -> str:
    """Markdown: one row per pair of saved cards on the same faces, B - A in accuracy points with its 95%
    interval, the faces only one of them gets right, McNemar's p unadjusted and Holm-adjusted over every pair of
    the table, and whether the difference is significant (on the adjusted p); then the cards left out, and why
    (`left_out`, name -> why: cards the caller found unusable, e.g. damaged). `labels="ferplus"` pairs the cards on
    FER+'s official test (every emotion card's ferplus block), whatever labels each model learned. `rows`:
    paired_result's, measured before (results/card-pairs.json)."""
    cards = {}
    for p in paths:
        try:
            cards[Path(p).name.removesuffix(".card.json")] = json.loads(Path(p).read_text())
        except (OSError, ValueError):
            continue  # card_table says which card is damaged
    if len(cards) < 2:
        return ""  # one card: nothing to pair, nothing to say
    if labels == "ferplus":
        cards, labels_of = on_ferplus(cards), labels_of or ferplus_labels(data)
    out = rows if rows is not None else paired_rows(cards, labels_of or dataset_labels(data), tta, n_boot, seed,
                                                    {n: why for n, why in (left_out or {}).items() if n in cards})
    lines = []
    if out["rows"]:
        r0, m = out["rows"][0], len(out["rows"])
        on = "FER+'s votes, the official majority test" if labels == "ferplus" else "each model's own labels"
        lines += [f"Pairs on the same faces ({on}: {r0['split']} split, {r0['n']:,} faces, TTA {tta}; B - A with a 95% "
                  f"interval from {n_boot:,} bootstrap resamples, seed {seed}; McNemar's exact p, unadjusted and "
                  f"Holm-adjusted over the {m} pair{'s' * (m != 1)} of this table; significant: Holm-adjusted p < "
                  f"{ALPHA}; each pair alone is `python -m core compare A B`):", "",
                  "| A | B | A | B | B - A (95% interval) | only A right / only B right | McNemar p | Holm-adjusted p "
                  "| significant |",
                  "|---|---|---|---|---|---|---|---|---|"]
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
    sig = "**yes**" if r["significant"] else "no"
    return (f"| {r['names'][0]} | {r['names'][1]} | {r['a']['accuracy']['value']:.2%} | "
            f"{r['b']['accuracy']['value']:.2%} | {100 * d['value']:+.1f} points ({100 * lo:+.1f} to {100 * hi:+.1f}) | "
            f"{c['only_a']} / {c['only_b']} | {r['mcnemar_p']:.2g} | {r['mcnemar_p_holm']:.2g} | {sig} |")


def paired_result(paths, data=None, tta: str = "none", n_boot: int = N_BOOT, seed: int = 0,
                  left_out: dict | None = None, labels: str = "own") -> dict | None:
    """What `card --table` measures and keeps in results/ (card-pairs.json; card-pairs.ferplus.json on FER+'s
    labels): paired_rows of the saved cards at `paths` (None for fewer than two), with the view, the resamples, how
    many pairs are significant, and each card's stored answers' print (so a card measured again later shows in the
    record). paired_table(paths, labels=..., rows=it) renders it again."""
    cards = {}
    for p in paths:
        try:
            cards[Path(p).name.removesuffix(".card.json")] = json.loads(Path(p).read_text())
        except (OSError, ValueError):
            continue
    if len(cards) < 2:
        return None
    labels_of = dataset_labels(data)
    if labels == "ferplus":
        cards, labels_of = on_ferplus(cards), ferplus_labels(data)
    out = paired_rows(cards, labels_of, tta, n_boot, seed, {n: why for n, why in (left_out or {}).items() if n in cards})
    answers = {n: hashlib.sha256(a.encode()).hexdigest()[:16] for n, c in cards.items()
               if isinstance(c, dict) and isinstance(a := (c.get(KEY) or {}).get(tta), str)}
    counts = {"pairs": len(out["rows"]), "significant": sum(bool(r.get("significant")) for r in out["rows"]),
              "significant_unadjusted": sum(r["mcnemar_p"] < ALPHA for r in out["rows"])}
    return {"labels": labels, "tta": tta, "n_boot": n_boot, "seed": seed, "cards": list(cards),
            "answers_sha256": answers, **counts, **out}
