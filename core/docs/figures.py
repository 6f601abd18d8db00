"""One figure quoted in a sentence: `<!--fig EXPR FORMAT-->text<!--/fig-->`.

EXPR is a value, or values joined by + - * / (worked left to right, spaces around each sign): a value is a number
or SOURCE:PATH (core.docs.sources), e.g. `card/vgg-distilled:val_none.accuracy - card/seed-vgg:val_none.accuracy`.
FORMAT is Python's format spec (`.2%`, `.1f`, `,d`, `+.3f`; `s` for text), after optional letters: `p` takes the
value x 100 (points), `x` writes it as a ratio ("7.7x"), `a` takes its absolute value (a cost named as such).
"""
from __future__ import annotations

import operator

from .markers import Missing

OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
FLAGS = "pxa"


def evaluate(expr: str, value) -> object:
    """The value of EXPR, `value(ref)` giving each SOURCE:PATH's."""
    tokens = expr.split()
    if not tokens or len(tokens) % 2 == 0:
        raise Missing(f"{expr!r} is not VALUE [OP VALUE ...]")
    result = _operand(tokens[0], value)
    for op, tok in zip(tokens[1::2], tokens[2::2]):
        if op not in OPS:
            raise Missing(f"{expr!r}: {op!r} is not one of + - * /")
        b = _operand(tok, value)
        try:
            result = OPS[op](float(result), float(b))
        except (TypeError, ValueError, ZeroDivisionError) as e:
            raise Missing(f"{expr!r}: {e}") from None
    return result


def _operand(tok: str, value):
    if ":" in tok:
        return value(tok)
    try:
        return float(tok)
    except ValueError:
        raise Missing(f"{tok!r} is neither a number nor SOURCE:PATH") from None


def formatted(v, fmt: str) -> str:
    """`v` written as FORMAT says (module docstring)."""
    flags = ""
    while fmt and fmt[0] in FLAGS and fmt[1:2] != "" and fmt != "s":
        flags, fmt = flags + fmt[0], fmt[1:]
    if v is None:
        raise Missing("no value (null)")
    if fmt.endswith("s"):
        return format(str(v), fmt)
    try:
        v = float(v)
        if "a" in flags:
            v = abs(v)
        if "p" in flags:
            v *= 100
        text = format(int(round(v)), fmt) if fmt.endswith("d") else format(v, fmt)
    except (TypeError, ValueError) as e:
        raise Missing(f"{v!r} cannot be written as {fmt!r}: {e}") from None
    return text + ("x" if "x" in flags else "")


def render_figure(spec: str, value) -> str:
    """The text of one inline figure: "EXPR FORMAT" (the format is the last word)."""
    expr, _, fmt = spec.rpartition(" ")
    if not expr:
        raise Missing(f"{spec!r} has no format (e.g. .2%)")
    return formatted(evaluate(expr, value), fmt)
