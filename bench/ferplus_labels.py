"""FER2013's labels beside FER+'s ten votes, measured on your copy of both files: how often FER2013's one label is
the people's most voted emotion (row by row, and on PrivateTest), the faces each label mode keeps per split, the
FER+ test's classes, and what human agreement a model can be compared with (always answering the plurality, one
annotator judged by the other nine). Writes results/ferplus-labels.json, which the README quotes.

    python bench/ferplus_labels.py [--data fer2013.csv] [--votes fer2013new.csv]
"""
from __future__ import annotations

import argparse

from result_file import add_result_arg, save


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", help="Kaggle's fer2013.csv (default: the one core finds)")
    ap.add_argument("--votes", help="Microsoft's fer2013new.csv (default: found beside the data)")
    add_result_arg(ap, "ferplus-labels")
    args = ap.parse_args()
    import numpy as np

    from core.data import load_dataset
    from core.data.ferplus import (agreement_references, differs_from_people, people_split, plurality,
                                   read_votes, vote_targets)
    from core.labels import EMOTIONS, FERPLUS_CLASSES, LABEL_MODES

    everyone = load_dataset(args.data, join_votes=True, votes=args.votes)
    raw = read_votes(everyone.info["votes"])
    kept = {mode: {split: int(vote_targets(raw["votes"][raw["usage"] == split], mode)[1].sum())
                   for split in ("train", "val", "test")} for mode in LABEL_MODES}
    test = everyone.splits["test"]
    votes, fer = test.votes.numpy(), test.labels.numpy()
    top = plurality(votes)
    shared = top < len(EMOTIONS)
    targets, majority = vote_targets(votes, "majority")
    classes = np.bincount(targets[majority].argmax(1), minlength=len(FERPLUS_CLASSES))
    refs = agreement_references(votes)
    figures = {
        "faces": int(sum(len(s) for s in everyone.splits.values())),
        "fer2013_agreement": everyone.info["fer2013_agreement"],
        "test_fer2013_agreement": float((top[shared] == fer[shared]).mean()),
        "test_faces_with_emotion_plurality": int(shared.sum()),
        "kept": kept,
        "test_majority_classes": dict(zip(FERPLUS_CLASSES, map(int, classes))),
        "test_people_split_share": float(people_split(votes).mean()),
        "test_fer2013_differs_share": float(differs_from_people(votes, fer).mean()),
        "plurality_agreement": refs["plurality"], "one_annotator_agreement": refs["one_annotator"],
        "agreement_faces": refs["faces"],
    }
    for k, v in figures.items():
        print(f"{k}: {v}")
    save(args, figures, data=everyone.source, votes_file=everyone.info["votes"])


if __name__ == "__main__":
    main()
