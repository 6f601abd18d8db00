"""What learning FER+'s votes does to "neutral", from the saved cards' FER+ confusion matrices (PrivateTest, official
majority test): each emotion model's neutral recall, and the share of the faces people called an expression (any
emotion but neutral) that the model called neutral. A model that learned the votes says "neutral" more often;
this keeps that cost in view. Writes results/ferplus-neutral.json.

    python bench/ferplus_neutral.py [model/*.card.json ...]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from result_file import add_result_arg, save


def neutral_figures(card: dict) -> dict | None:
    """{neutral_recall, expressions_called_neutral, accuracy} from a card's ferplus block, or None without one."""
    from core.labels import FERPLUS_CLASSES

    block = card.get("ferplus") if isinstance(card, dict) else None
    if not isinstance(block, dict) or "confusion" not in block:
        return None
    cm = block["confusion"]
    n = FERPLUS_CLASSES.index("neutral")
    neutral_row = sum(cm[n])
    expressive = [i for i in range(len(cm)) if i != n]
    shown = sum(sum(cm[i]) for i in expressive)
    return {"neutral_recall": cm[n][n] / neutral_row if neutral_row else None,
            "expressions_called_neutral": sum(cm[i][n] for i in expressive) / shown if shown else None,
            "expressive_faces": shown, "neutral_faces": neutral_row, "accuracy": block["accuracy"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cards", nargs="*", help="saved cards (default: every shipped model's)")
    add_result_arg(ap, "ferplus-neutral")
    args = ap.parse_args()
    from core.settings import model_dir

    paths = [Path(p) for p in args.cards] or sorted(model_dir().glob("*.card.json"))
    figures = {}
    for path in paths:
        f = neutral_figures(json.loads(path.read_text()))
        if f is not None:
            figures[path.name.removesuffix(".card.json")] = f
            print(f"{path.name.removesuffix('.card.json'):22} neutral recall {f['neutral_recall']:.1%}  expressions "
                  f"called neutral {f['expressions_called_neutral']:.1%}  FER+ accuracy {f['accuracy']:.2%}")
    save(args, figures)


if __name__ == "__main__":
    main()
