"""`python -m core docs`: README.md and model/README.md rendered from the measurements (results/*.json) and the
model cards (model/*.card.json); `--check` writes nothing, prints what would change and exits 1 if anything
would (CI's test runs it)."""
from __future__ import annotations

import sys


def cmd_docs(a) -> int:
    from ..docs.render import render_docs

    out = render_docs(a.files or None)
    bad = False
    for r in out:
        for problem in r.problems:
            print(f"{r.path}: not rendered: {problem}", file=sys.stderr)
        bad |= bool(r.problems)
        if not r.changed:
            print(f"{r.path}: as rendered")
        elif a.check:
            bad = True
            print(r.diff(), end="")
            print(f"{r.path}: differs from its rendering (python -m core docs remakes it)", file=sys.stderr)
        else:
            r.path.write_text(r.new)
            print(f"{r.path}: rendered")
    return 1 if bad and a.check else 0


def add_docs(sub) -> None:
    d = sub.add_parser("docs", help="render the READMEs' figures from results/ and the model cards",
                       description="Remake every measured block (<!-- results:KIND ... --> ... <!-- /results -->) "
                       "and inline figure (<!--fig SOURCE:FIELD FORMAT-->...<!--/fig-->) of README.md and "
                       "model/README.md from the files that hold the figures (core.docs).")
    d.add_argument("files", nargs="*", help="the files to render (default: README.md and model/README.md)")
    d.add_argument("--check", action="store_true", help="write nothing: print the difference and exit 1 where a "
                   "file differs from its rendering, or a figure cannot be rendered")
    d.set_defaults(fn=cmd_docs)
