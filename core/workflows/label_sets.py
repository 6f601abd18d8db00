"""Every emotion model measured on both label sets of FER2013's faces: FER2013's own labels (one person's guess per
face, 7 classes) and FER+'s ten votes (8 classes, contempt added; Barsoum et al., ICMI 2016) under the official
majority protocol. A model is scored on the classes it has, matched by name: a FER2013 model never answers
contempt (FER+'s contempt faces count as its mistakes), a FER+ model's contempt is left out on FER2013's labels.

Beside accuracy, `human_agreement` says how many of the people who looked at a face would have said what the model
said (the mean share of a face's emotion votes that agree with its answer, over every PrivateTest face with an
emotion vote), next to the best any answer can do (always the plurality) and one annotator judged by the others.
"""
from __future__ import annotations

from ..data import Dataset, DataError, load_dataset
from ..data.ferplus import agreement_references, human_agreement, vote_targets
from ..evaluate import align_probs, metrics_from_probs
from ..labels import FERPLUS_CLASSES
from .card_pairs import encode_classes, fingerprint
from .evaluation import Subject

FERPLUS_PROTOCOL = ("majority: emotions with a single vote dropped, a face kept when its top emotion has more than "
                    "half of the remaining votes and is neither unknown nor not-a-face (Microsoft's src/ferplus.py)")


def with_votes(data=None, image_size: int = 48) -> Dataset:
    """FER2013 (every face, its own labels) with FER+'s votes beside each face (DataError where there are none)."""
    return load_dataset(data, image_size=image_size, join_votes=True)


def on_dataset(subject: Subject, dataset: Dataset) -> Subject:
    """The same checkpoint (its loaded model and description) measured on another data set, whose classes may be
    another set of the same emotions (compared by name)."""
    return Subject(subject.path, subject.state, subject.meta, subject.model, dataset)


def label_set_figures(subject: Subject, everyone: Dataset) -> dict:
    """A card's `fer2013` and `ferplus` blocks, from one forward pass per view over PrivateTest. `everyone` is FER2013
    with FER+'s votes beside every face (with_votes). `ferplus`: the model on FER+'s official test (the majority
    protocol's faces), with and without flip TTA, its answers (for pairs), and its agreement with the people who
    voted on every PrivateTest face. `fer2013`: the model on FER2013's own labels (the seven classes both have)."""
    base = on_dataset(subject, everyone)
    test = everyone.splits["test"]
    votes, fer_labels = test.votes.numpy(), test.labels.numpy()
    targets, kept = vote_targets(votes, "majority")
    fp_labels = targets[kept].argmax(1)
    fer, fp = {}, {}
    for tta in (None, "flip"):
        probs = base.probs("test", tta)
        fer[tta] = metrics_from_probs(align_probs(probs, subject.meta.classes, everyone.classes), fer_labels,
                                      everyone.classes)
        p8 = align_probs(probs, subject.meta.classes, FERPLUS_CLASSES, missing_as_zero=True)
        fp[tta] = (metrics_from_probs(p8[kept], fp_labels, FERPLUS_CLASSES), p8.argmax(1))
    refs = agreement_references(votes)
    (plain, answers), (flip, answers_flip) = fp[None], fp["flip"]
    ferplus = {"protocol": FERPLUS_PROTOCOL, "split": "test", "n": int(kept.sum()),
               "accuracy": plain["accuracy"], "accuracy_flip": flip["accuracy"], "macro_f1": plain["macro_f1"],
               "per_class": plain["per_class"], "confusion": plain["confusion"],
               "human_agreement": human_agreement(votes, answers),
               "human_agreement_flip": human_agreement(votes, answers_flip),
               "agreement_faces": refs["faces"], "plurality_agreement": refs["plurality"],
               "one_annotator_agreement": refs["one_annotator"],
               "predictions": {"split": "test", "n": int(kept.sum()), "labels_sha256": fingerprint(fp_labels),
                               "none": encode_classes(answers[kept]), "flip": encode_classes(answers_flip[kept])}}
    fer2013 = {"split": "test", "n": int(len(fer_labels)), "accuracy": fer[None]["accuracy"],
               "accuracy_flip": fer["flip"]["accuracy"], "macro_f1": fer[None]["macro_f1"]}
    return {"fer2013": fer2013, "ferplus": ferplus}


def label_set_blocks(subject: Subject, data=None) -> dict:
    """{"fer2013": ..., "ferplus": ...} for an emotion model on FER2013's faces; where FER+'s votes are not found
    beside the data set, {"ferplus_missing": why} instead (a card is still made)."""
    try:
        everyone = with_votes(data, subject.meta.face_size)
    except DataError as e:
        return {"ferplus_missing": str(e)}
    return label_set_figures(subject, everyone)


def label_sets_table(paths) -> str:
    """Markdown: every emotion card on both label sets of the same PrivateTest faces: FER2013's own labels and FER+'s
    votes (official majority test), each plain and with flip TTA, and how many of the people agree with the model's
    answers (beside what always answering the plurality gets, and one annotator judged by the others). "" when no
    card has both blocks."""
    import json
    from pathlib import Path

    rows, refs = [], None
    for path in map(Path, paths):
        try:
            c = json.loads(path.read_text())
            fer, fp = c["fer2013"], c["ferplus"]
            learned = "FER+ votes" if "contempt" in c["classes"] else "FER2013"
            rows.append(f"| {path.name.removesuffix('.card.json')} | {learned} | {fer['accuracy']:.2%} | "
                        f"{fer['accuracy_flip']:.2%} | {fp['accuracy']:.2%} | {fp['accuracy_flip']:.2%} | "
                        f"{fp['macro_f1']:.3f} | {fp['human_agreement']:.1%} |")
            refs = refs or (fp["plurality_agreement"], fp["one_annotator_agreement"], fp["agreement_faces"],
                            fer["n"], fp["n"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # a stress card, a card made before both blocks, or a damaged one
    if not rows:
        return ""
    plurality, one, faces, n_fer, n_fp = refs
    return "\n".join([
        f"Both label sets, PrivateTest: FER2013's own label ({n_fer:,} faces) and FER+'s ten votes (official majority "
        f"test, {n_fp:,} faces; a FER2013 model never answers contempt). *People agree*: the share of the people's "
        f"emotion votes that went to the model's answer, over the {faces:,} faces with a vote; always answering each "
        f"face's most voted emotion gets {plurality:.1%}, one annotator judged by the other nine {one:.1%}.", "",
        "| model | learned | FER2013 | + flip | FER+ | + flip | FER+ macro-F1 | people agree |",
        "|---|---|---|---|---|---|---|---|", *rows])
