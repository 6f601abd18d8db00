"""The READMEs' measured figures, rendered from the files that hold them: the measurements under `results/`
(core.results) and the model cards (`model/*.card.json`). `python -m core docs` rewrites them; `--check` says,
with a diff, where a committed README differs from its rendering (a test runs it).

A README keeps its prose. Each measured table or block sits between two markers, and what is between them is
remade by the block's renderer (core.docs.blocks) from the files its arguments name:

    <!-- results:KIND ARGS -->
    ...
    <!-- /results -->

and a figure quoted in a sentence sits in an inline marker, its source, field and format (core.docs.figures):

    <!--fig card/accurate:test_none.accuracy .2%-->69.16%<!--/fig-->

A source is a measurement's name (results/NAME.json, its figures), card/NAME (model/NAME.card.json) or
history/NAME (a shipped model's training history, graphs/NAME/metrics.jsonl).

A figure that no file holds renders as nothing (and `docs` names it); a figure from a transcription says so.

Layer 7, beside the workflows whose card tables it reuses.
"""
from __future__ import annotations

DOCS = ("README.md", "model/README.md")  # the files `python -m core docs` renders, from the repository's root
