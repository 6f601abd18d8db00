"""Where rendered figures come from: the measurements under `results/` and the model cards beside the shipped
checkpoints, read once per rendering; a field of either named by a dotted path; and the line that says who
measured a figure, where and when."""
from __future__ import annotations

import json
from pathlib import Path

from ..files import read_lines
from ..results import host_label, read_result
from ..settings import model_dir, results_dir, shipped_graphs_dir
from .markers import Missing

CARD = "card/"  # a source named card/NAME is model/NAME.card.json; any other name is results/NAME.json
HISTORY = "history/"  # history/NAME: a shipped model's training history, graphs/NAME/metrics.jsonl (one line an epoch)
AGGREGATES = {"min": min, "max": max, "sum": sum, "mean": lambda v: sum(v) / len(v),
              "median": lambda v: sorted(v)[len(v) // 2]}


class Sources:
    """The records a rendering reads: `result(name)`, `card(name)`, `cards()`, and `value("SOURCE:PATH")`."""

    def __init__(self, models: Path | None = None, results: Path | None = None, graphs: Path | None = None):
        self.models = Path(models) if models else model_dir()
        self.folder = Path(results) if results else results_dir()
        self.graphs = Path(graphs) if graphs else shipped_graphs_dir()
        self._results: dict = {}
        self._cards: dict | None = None
        self.problems: list[str] = []  # parts left out while rendering (a block that shows the rest says why here)

    def result(self, name: str) -> dict:
        if name not in self._results:
            try:
                self._results[name] = read_result(name, self.folder)
            except ValueError as e:  # not a result's name
                raise Missing(str(e)) from None
        if self._results[name] is None:
            raise Missing(f"no measurement results/{name}.json")
        return self._results[name]

    def cards(self) -> dict[str, dict]:
        """Every saved card (`model/*.card.json`), by model name, sorted; a damaged one as {"damaged": why}."""
        if self._cards is None:
            self._cards = {}
            for path in sorted(self.models.glob("*.card.json")):
                try:
                    card = json.loads(path.read_text())
                except (OSError, ValueError) as e:
                    card = {"damaged": f"{type(e).__name__}: {e}"}
                self._cards[path.name.removesuffix(".card.json")] = card if isinstance(card, dict) else \
                    {"damaged": "not a JSON object"}
        return self._cards

    def card_path(self, name: str) -> Path:
        return self.models / f"{name}.card.json"

    def card(self, name: str) -> dict:
        card = self.cards().get(name)
        if card is None or "damaged" in card:
            raise Missing(f"no card model/{name}.card.json" if card is None else f"card {name}: {card['damaged']}")
        return card

    def record(self, source: str) -> dict:
        """The card or measurement a source names; for a measurement, its figures."""
        return self.card(source[len(CARD):]) if source.startswith(CARD) else self.result(source)["figures"]

    def value(self, ref: str):
        """The value at "SOURCE:PATH" (card/accurate:test_none.accuracy, bench-per-face:models.seed-vgg.ms)."""
        source, sep, path = ref.partition(":")
        if not sep or not path:
            raise Missing(f"{ref!r} is not SOURCE:PATH")
        if source.startswith(HISTORY):
            return self.history(source[len(HISTORY):], path, ref)
        return field(self.record(source), path, ref)

    def history(self, name: str, path: str, ref: str = ""):
        """A figure of a shipped model's training history: `epochs` (how many), `best.FIELD` (of the epoch with
        the best val_acc: best.epoch), or EPOCHS.FIELD.AGGREGATE over a span of epochs: `all`, `A-B` (inclusive)
        or `lastN`, then min, max, mean, median or sum (last12.val_acc.min, all.seconds.sum)."""
        rows = [r for r in read_lines(self.graphs / name / "metrics.jsonl") if isinstance(r.get("epoch"), int)]
        if not rows:
            raise Missing(f"no training history graphs/{name}/metrics.jsonl")
        parts = path.split(".")
        if parts == ["epochs"]:
            return len(rows)
        if parts[0] == "best" and len(parts) == 2:
            return field(max(rows, key=lambda r: r.get("val_acc", float("-inf"))), parts[1], ref)
        if len(parts) != 3 or parts[2] not in AGGREGATES:
            raise Missing(f"{ref}: a history's figure is epochs, best.FIELD or EPOCHS.FIELD.AGGREGATE")
        span, key, agg = parts
        if span.startswith("last") and span[4:].isdigit():
            chosen = rows[-int(span[4:]):]
        elif span == "all":
            chosen = rows
        else:
            lo, _, hi = span.partition("-")
            if not (lo.isdigit() and hi.isdigit()):
                raise Missing(f"{ref}: {span!r} is not all, A-B or lastN")
            chosen = [r for r in rows if int(lo) <= r["epoch"] <= int(hi)]
        values = [r[key] for r in chosen if isinstance(r.get(key), (int, float))]
        if not values:
            raise Missing(f"{ref}: no {key} in epochs {span}")
        return AGGREGATES[agg](values)


def field(data, path: str, ref: str = ""):
    """`data` followed along a dotted path. A list is entered by position, or by the element whose "class",
    "name" or "names" (joined by "+") is the segment: per_class.disgust.f1, rows.seed-vgg+seed-resnet.mcnemar_p."""
    for seg in path.split("."):
        if isinstance(data, dict) and seg in data:
            data = data[seg]
        elif isinstance(data, list):
            data = _element(data, seg, ref or path)
        else:
            raise Missing(f"{ref or path}: no {seg!r}")
    return data


def _element(items: list, seg: str, ref: str):
    if seg.isdigit() and int(seg) < len(items):
        return items[int(seg)]
    for item in items:
        if isinstance(item, dict) and seg in (item.get("class"), item.get("name"), "+".join(item.get("names") or ())):
            return item
    raise Missing(f"{ref}: no {seg!r}")


def provenance_line(record: dict, what: str = "Measured") -> str:
    """Who measured a figure, where and when, in one line: "Measured 2026-12-07 by `python bench/per_face.py` on
    AMD EPYC, 2 cores, load 6.1 (Python 3.11.2, torch 2.13.0; commit 17ee29c)." A transcription says so first."""
    host = record.get("host") if isinstance(record.get("host"), dict) else {}
    versions = ", ".join(f"{k.capitalize() if k == 'python' else k} {host[k]}" for k in ("python", "torch")
                         if host.get(k))
    commit = f"commit {str(record['commit'])[:12]}" if record.get("commit") and not record.get("source") else ""
    extra = "; ".join(x for x in (versions, commit) if x)
    date = str(record.get("date") or "")
    date = (date[:10] if date[10:11] == "T" else date) or "on a date not recorded"  # a timestamp's day, or a span
    line = f"{what} {date} by `{record.get('command') or '?'}` on {host_label(host)}" + (f" ({extra})" if extra else "")
    if record.get("source"):
        line = f"{str(record['source']).rstrip('.')}: {line[0].lower()}{line[1:]}"
    return line + "."
