"""The renderers of the READMEs' measured blocks, by kind (`<!-- results:KIND ARGS -->`): the model cards'
tables (made by the card workflows' own functions, so `card --table` and the READMEs agree), the paired table
`card --table` measured, and the benches' tables. Each says under its table who measured it, where and when."""
from __future__ import annotations

from collections.abc import Callable

from .markers import Missing
from .rows import figure_rows
from .sources import Sources, provenance_line
from .tables import detection_table, per_face_table, tilt_table, webcam_browser_table
from .texts import TEXTS

CARD_COMMAND = "python -m core card model/{}.pt"


def card_names(src: Sources, args: list[str]) -> list[str]:
    """The cards a block names, or every card there is (a card made tomorrow joins the table by itself)."""
    names = args or [n for n, c in src.cards().items() if "damaged" not in c]
    for n in names:
        src.card(n)  # Missing where a named card is not there
    return names


def cards_provenance(src: Sources, names: list[str]) -> str:
    """Where and when the cards were measured, cards measured alike (the same command, host, versions and commit;
    dates and loads given as their span) named together."""
    groups: dict[str, list[dict]] = {}
    for name in names:
        card = src.card(name)
        one = (card.get("command") or CARD_COMMAND.format(name)) if len(names) == 1 else CARD_COMMAND.format("<name>")
        if card.get("date") or card.get("host"):
            alike = {**card, "command": one, "date": "", "host": {**(card.get("host") or {}), "load_1min": None}}
            key = provenance_line(alike)
        else:
            key = f"Measured by `{one}` before cards kept their host and date"
        groups.setdefault(key, []).append({**card, "name": name, "command": one})
    lines = []
    for key, cards in groups.items():
        first = cards[0]
        if first.get("date") or first.get("host"):
            host = dict(first.get("host") or {})
            host["load_1min"] = _span([c.get("host", {}).get("load_1min") for c in cards], "g")
            date = _span([str(c.get("date") or "")[:10] for c in cards], "s", " to ")
            key = provenance_line({**first, "date": date, "host": host}).removesuffix(".")
        lines.append(key + ("." if len(names) == 1 else f": {', '.join(c['name'] for c in cards)}."))
    return " ".join(lines)


def _span(values: list, fmt: str, sep: str = "-"):
    """The smallest and largest of some figures as "lo-hi" (one figure as itself; None when none is known)."""
    known = sorted({v for v in values if v not in (None, "")})
    if not known:
        return None
    lo, hi = format(known[0], fmt), format(known[-1], fmt)
    return lo if lo == hi else f"{lo}{sep}{hi}"


def block_cards(src: Sources, args: list[str]) -> str:
    """The saved cards side by side: `python -m core card --table`'s first table."""
    from ..workflows.card import card_table

    names = card_names(src, args)
    if not names:
        raise Missing("no saved card (model/*.card.json)")
    return card_table([src.card_path(n) for n in names]) + "\n\n" + cards_provenance(src, names)


def block_card(src: Sources, args: list[str]) -> str:
    """One model's card, as `python -m core card` prints it."""
    from ..workflows.card import card_markdown

    if len(args) != 1:
        raise Missing("card takes one model name")
    try:
        text = card_markdown(src.card(args[0]))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise Missing(f"card {args[0]} lacks a figure: {type(e).__name__} {e}") from None
    return text + "\n\n" + cards_provenance(src, args)


def block_card_pairs(src: Sources, args: list[str]) -> str:
    """Every two shipped models paired on the same faces: the table `python -m core card --table` measured and
    kept in results/card-pairs.json (the bootstrap and McNemar need the data set's labels, not kept here)."""
    from ..workflows.card_pairs import paired_table

    record = src.result(args[0] if args else "card-pairs")
    f = record["figures"]
    try:
        text = paired_table([src.card_path(n) for n in f.get("cards", [])], tta=f.get("tta", "none"),
                            n_boot=f.get("n_boot", 2000), seed=f.get("seed", 0), labels=f.get("labels", "own"), rows=f)
    except (KeyError, TypeError, ValueError) as e:  # rows kept by an older card --table than the table's code
        raise Missing(f"results/{record['name']}.json lacks {e}: `python -m core card --table` measures it again") \
            from None
    if not text:
        raise Missing("no pair in results/card-pairs.json")
    return text + "\n\n" + provenance_line(record)


def block_label_sets(src: Sources, args: list[str]) -> str:
    """Every emotion card on both label sets, FER2013's and FER+'s (`card --table`'s second table); nothing until a
    card holds both blocks."""
    from ..workflows.label_sets import label_sets_table

    names = card_names(src, args)
    text = label_sets_table([src.card_path(n) for n in names])
    return text + "\n\n" + cards_provenance(src, names) if text else ""


def block_calibration(src: Sources, args: list[str]) -> str:
    """Each card's expected calibration error before and after its fitted temperature."""
    lines = ["| model | ECE | ECE at the fitted temperature | temperature |", "|---|---|---|---|"]
    names = [n for n in card_names(src, args) if "ece" in src.card(n)]
    if not names:
        raise Missing("no card with a calibration")
    for n in names:
        c = src.card(n)
        lines.append(f"| {n} | {c['ece']:.4f} | {c['ece_calibrated']:.4f} | {c['temperature']:.3f} |")
    return "\n".join(lines)


def block_card_summary(src: Sources, args: list[str]) -> str:
    """The shipped models at a glance, for the top README: accuracy with each view, speed, where measured."""
    lines = ["| model | PrivateTest | + flip | + ten crops | stress derived | CPU ms / face | measured |",
             "|---|---|---|---|---|---|---|"]
    for n in card_names(src, args):
        c = src.card(n)
        try:
            stress = c.get("test_stress_from_emotion", {}).get("accuracy")
            when = str(c.get("date") or "")[:10] or "not recorded"
            lines.append(f"| `{n}` | {c['test_none']['accuracy']:.2%} | {c['test_flip']['accuracy']:.2%} | "
                         f"{c['test_tencrop']['accuracy']:.2%} | {f'{stress:.2%}' if stress else '-'} | "
                         f"{c['latency_ms_per_face_2_threads']:.1f} | {when} |")
        except (KeyError, TypeError) as e:
            raise Missing(f"card {n} lacks {e}") from None
    return "\n".join(lines) + "\n\n" + cards_provenance(src, card_names(src, args))


def block_figures(src: Sources, args: list[str]) -> str:
    """The benches' figures, a few rows per measurement, in the order the block names them."""
    lines = ["| what | figure | measured |", "|---|---|---|"]
    for name in args:
        try:  # a figure no file holds does not appear (`docs` names it); the others do
            record = src.result(name)
            lines += [f"| {what} | {figure} | {provenance_line(record).removesuffix('.')} |"
                      for what, figure in figure_rows(name, record)]
        except Missing as e:
            src.problems.append(f"figures {name}: {e}")
    if len(lines) == 2:
        raise Missing(f"none of {', '.join(args)} is measured")
    return "\n".join(lines)


def block_text(src: Sources, args: list[str]) -> str:
    """A page's sentence about a measurement (core.docs.texts), as the page shows it."""
    if not args or args[0] not in TEXTS:
        raise Missing(f"no text {args[:1]}: one of {', '.join(TEXTS)}")
    text = TEXTS[args[0]]
    record = src.result(args[1] if len(args) > 1 else text.result)
    try:
        return text.render(record["figures"]) + " " + provenance_line(record)
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as e:
        raise Missing(f"results/{record['name']}.json lacks a figure: {type(e).__name__} {e}") from None


def block_detection(src: Sources, args: list[str]) -> str:
    """Face detectors side by side (bench/detection.py), from one measurement or several."""
    if not args:
        raise Missing("the table takes the measurements' names")
    records = [src.result(n) for n in args]
    try:
        table = detection_table([r["figures"] for r in records])
    except (KeyError, TypeError, ValueError) as e:
        raise Missing(f"{' '.join(args)} lacks a figure: {type(e).__name__} {e}") from None
    lines = [f"({i + 1}) {provenance_line(r)}" if i else provenance_line(r) for i, r in enumerate(records)]
    return table + "\n\n" + "\n\n".join(lines)


def _table(render) -> Callable[[Sources, list[str]], str]:
    def block(src: Sources, args: list[str]) -> str:
        if len(args) != 1:
            raise Missing("the table takes one measurement's name")
        record = src.result(args[0])
        try:
            return render(record["figures"]) + "\n\n" + provenance_line(record)
        except (KeyError, TypeError, ValueError, ZeroDivisionError) as e:
            raise Missing(f"results/{args[0]}.json lacks a figure: {type(e).__name__} {e}") from None
    return block


BLOCKS: dict[str, Callable[[Sources, list[str]], str]] = {
    "cards": block_cards, "card": block_card, "card-pairs": block_card_pairs, "calibration": block_calibration,
    "label-sets": block_label_sets,
    "card-summary": block_card_summary, "figures": block_figures, "text": block_text,
    "per-face": _table(per_face_table), "webcam-browser": _table(webcam_browser_table),
    "detection": block_detection, "tilt": _table(tilt_table),
}


def render_block(src: Sources, kind: str, args: list[str]) -> str:
    if kind not in BLOCKS:
        raise Missing(f"no block kind {kind!r} (one of {', '.join(BLOCKS)})")
    return BLOCKS[kind](src, args)
