"""The app's one stylesheet (ui.page) is emitted once per page run: no page, run header or live panel adds its
own copy. Every page of the multipage app through AppTest, Experiments with a run in detail."""
from __future__ import annotations

from core.config import TrainConfig
from core.runs import Run
from tests.test_app_home_webcam_compare import HOME, app, no_exception
from ui.page import PAGES


def _walk(node):
    children = getattr(node, "children", None)
    for child in (children.values() if isinstance(children, dict) else []):
        yield from _walk(child)
    yield node


def _stylesheets(at) -> list[str]:
    return [n.proto.body for n in _walk(at._tree) if getattr(n, "type", None) == "html" and "<style>" in n.proto.body]


def test_every_page_emits_the_stylesheet_once(app_env, synthetic_csv):
    Run.create(TrainConfig(data=str(synthetic_csv), model="model48", width=8, epochs=1), state="finished")
    at = app(HOME).run()
    no_exception(at)
    assert len(_stylesheets(at)) == 1
    for spec in PAGES:
        at.switch_page(spec.file).run()
        no_exception(at)
        sheets = _stylesheets(at)
        assert len(sheets) == 1, (spec.file, len(sheets))
        assert ".fel-run-head" in sheets[0] and ".st-key-webcam_stopped" in sheets[0]
    assert any("fel-run-head" in str(m.value) for m in at.markdown)  # Experiments drew a run's header
