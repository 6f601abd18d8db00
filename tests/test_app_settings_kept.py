"""A page's settings are kept for the browser session: leave Compare or Webcam for another page and come
back, and the models, toggles and sliders are as you left them (ui.state). Through AppTest's multipage
switch, which cleans up a page's widgets when another page runs, as the real app does.

Fixtures: app_env (tests/conftest.py, section "app pages")."""
from __future__ import annotations

from tests.test_app_home_webcam_compare import COMPARE, HOME, WEBCAM, app, no_exception
from ui.state import STORE

HOME_PAGE = "app_pages/home.py"


def _visit(at, page: str):
    at.switch_page(page).run()
    no_exception(at)
    return at


def test_compare_settings_survive_a_visit_to_home(app_env):
    at = app(HOME).run()
    _visit(at, COMPARE)
    models = at.multiselect(key="compare_models")
    assert "deepface" not in models.value  # pre-selected only where its weights are (none here)
    models.select("deepface")  # a choice that is not the page's default
    at.toggle(key="compare_cam").set_value(False)
    at.slider(key="compare_min_face").set_value(7)
    at.run()
    kept = list(at.multiselect(key="compare_models").value)
    assert "deepface" in kept
    _visit(at, HOME_PAGE)
    assert "Facial Emotion Lab" in "\n".join(str(t.value) for t in at.title)
    _visit(at, COMPARE)
    assert list(at.multiselect(key="compare_models").value) == kept
    assert at.toggle(key="compare_cam").value is False
    assert at.slider(key="compare_min_face").value == 7


def test_webcam_settings_survive_a_visit_to_compare(app_env):
    at = app(HOME).run()
    _visit(at, WEBCAM)
    at.slider(key="webcam_min_face").set_value(20)
    at.slider(key="webcam_smoothing").set_value(9)
    at.select_slider(key="webcam_detect_width").set_value(320)
    at.toggle(key="webcam_mirror").set_value(False)
    at.run()
    _visit(at, COMPARE)
    _visit(at, WEBCAM)
    assert at.slider(key="webcam_min_face").value == 20
    assert at.slider(key="webcam_smoothing").value == 9
    assert at.select_slider(key="webcam_detect_width").value == 320
    assert at.toggle(key="webcam_mirror").value is False
    settings = at.session_state["webcam_analyser"].settings
    assert settings.smoothing == 9


def test_a_kept_model_that_is_gone_falls_back_to_the_default(app_env):
    """A kept value the widget can no longer show (a model deleted meanwhile) is dropped, not an error."""
    at = app(HOME).run()
    _visit(at, WEBCAM)
    at.session_state[STORE] = {"webcam_model": "/nowhere/gone.pt"}
    _visit(at, HOME_PAGE)
    _visit(at, WEBCAM)
    assert at.selectbox(key="webcam_model").value != "/nowhere/gone.pt"
