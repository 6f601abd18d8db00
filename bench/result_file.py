"""Every bench writes what it measured to `results/<name>.json` (core.results: the figures with the command, the
commit, the date and the host), which the READMEs' figures are rendered from (`python -m core docs`).

    add_result_arg(parser, "bench-per-face")     # --result NAME (or --result none: print only)
    save(args, figures)
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def add_result_arg(parser, default: str) -> None:
    parser.add_argument("--result", default=default, metavar="NAME",
                        help=f"the results/ file to write, results/NAME.json (default {default}; none: write nothing)")


def save(args, figures: dict, **extra) -> None:
    from core.results import write_result

    if args.result and args.result != "none":
        print(f"written: {write_result(args.result, figures, **extra)}")
