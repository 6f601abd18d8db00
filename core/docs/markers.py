"""The markers a README's measured parts sit between, and the rendering of a whole file: every block and every
inline figure remade from the files it names, the prose around them untouched."""
from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Callable

BLOCK = re.compile(r"(?P<open><!-- results:(?P<spec>[^\n]*?) -->)(?P<body>.*?)(?P<close><!-- /results -->)", re.S)
FIGURE = re.compile(r"(?P<open><!--fig (?P<spec>[^\n]*?)-->)(?P<text>[^\n]*?)(?P<close><!--/fig-->)")


class Missing(LookupError):
    """A figure no file holds (its source, or a field of it, is absent): it is not shown."""


def render_text(text: str, block: Callable[[str, list[str]], str], figure: Callable[[str], str]) -> tuple[str, list]:
    """`text` with each block's body remade by `block(kind, args)` and each inline figure by `figure(spec)`.
    Returns (the new text, the problems: "where: why" for each part that could not be rendered)."""
    problems = []

    def one_block(m: re.Match) -> str:
        kind, *args = shlex.split(m["spec"]) or [""]
        try:
            body = block(kind, args).strip("\n")
        except Missing as e:
            problems.append(f"block {m['spec']!r}: {e}")
            body = ""
        return f"{m['open']}\n{body}\n{m['close']}" if body else f"{m['open']}\n{m['close']}"

    def one_figure(m: re.Match) -> str:
        try:
            value = figure(m["spec"].strip())
        except Missing as e:
            problems.append(f"figure {m['spec'].strip()!r}: {e}")
            value = ""
        return f"{m['open']}{value}{m['close']}"

    return FIGURE.sub(one_figure, BLOCK.sub(one_block, text)), problems


def unified_diff(old: str, new: str, name: str) -> str:
    """What rendering would change in a file, as a unified diff ("" when nothing)."""
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        f"{name} (committed)", f"{name} (rendered)"))
