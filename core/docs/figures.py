"""One figure quoted in a sentence: `<!--fig EXPR FORMAT-->text<!--/fig-->`.

EXPR is a value, or arithmetic on values (+ - * / and parentheses, a space on either side of each sign): a value is
a number or SOURCE:PATH (core.docs.sources), e.g. `card/vgg-distilled:val_none.accuracy - card/seed-vgg:val_none.accuracy`.
FORMAT is Python's format spec (`.2%`, `.1f`, `,d`, `+.3f`; `s` for text), after optional letters: `p` takes the
value x 100 (points), `x` writes it as a ratio ("7.7x"), `a` takes its absolute value (a cost named as such).
"""
from __future__ import annotations

import ast
import operator

from .markers import Missing

OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
FLAGS = "pxa"


def evaluate(expr: str, value) -> object:
    """The value of EXPR, `value(ref)` giving each SOURCE:PATH's: one value as it is (text too), or arithmetic on
    numbers with the usual precedence and parentheses, a space on either side of each sign."""
    tokens = expr.replace("(", " ( ").replace(")", " ) ").split()
    values, words = {}, []
    for tok in tokens:
        if ":" in tok:
            values[f"v{len(values)}"] = value(tok)
            words.append(f"v{len(values) - 1}")
        else:
            words.append(tok)
    if len(words) == 1 and words[0] in values:
        return values[words[0]]
    try:
        tree = ast.parse(" ".join(words), mode="eval").body
    except SyntaxError:
        raise Missing(f"{expr!r} is not VALUE [OP VALUE ...]") from None
    return _number(tree, values, expr)


def _number(node, values: dict, expr: str) -> float:
    try:
        if isinstance(node, ast.BinOp) and type(node.op) in OPS:
            return OPS[type(node.op)](_number(node.left, values, expr), _number(node.right, values, expr))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -_number(node.operand, values, expr)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.Name) and node.id in values:
            return float(values[node.id])
    except (TypeError, ValueError, ZeroDivisionError) as e:
        raise Missing(f"{expr!r}: {e}") from None
    raise Missing(f"{expr!r}: only numbers, SOURCE:PATH, + - * / and parentheses")


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
