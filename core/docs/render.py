"""`python -m core docs`: each README rendered from the measurements and cards, written or compared."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..settings import ROOT
from . import DOCS
from .blocks import render_block
from .figures import render_figure
from .markers import BLOCK, render_text, unified_diff
from .sources import Sources


@dataclass
class Rendered:
    path: Path
    old: str
    new: str
    problems: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.old != self.new

    def diff(self) -> str:
        return unified_diff(self.old, self.new, str(self.path))


def render_file(path: Path, src: Sources | None = None) -> Rendered:
    """One file rendered (not written): every block and inline figure remade; what could not be, named."""
    src = src or Sources()
    old = Path(path).read_text()
    opened, closed = old.count("<!-- results:"), old.count("<!-- /results -->")
    before = len(src.problems)
    new, problems = render_text(old, lambda kind, args: render_block(src, kind, args),
                                lambda spec: render_figure(spec, src.value))
    problems = src.problems[before:] + problems
    if opened != closed or opened != len(BLOCK.findall(old)):
        problems.append(f"{opened} block markers opened, {closed} closed: each `<!-- results:... -->` needs its "
                        "`<!-- /results -->`")
    return Rendered(Path(path), old, new, problems)


def render_docs(paths=None, root: Path = ROOT, src: Sources | None = None) -> list[Rendered]:
    """Every README (`DOCS`, or `paths`) rendered."""
    src = src or Sources()
    return [render_file(Path(p) if paths else root / p, src) for p in (paths or DOCS)]
