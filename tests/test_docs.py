"""core.docs: the READMEs' figures rendered from results/ and the model cards, and the check that a committed
README is its own rendering."""
from __future__ import annotations

import json

import pytest

from core.docs.figures import render_figure
from core.docs.render import render_docs, render_file
from core.docs.sources import Sources, provenance_line
from core.docs.texts import page_text
from core.results import host_info, measured_where, write_result

from tests.test_layers import ROOT

HOST = {"cpu": "AMD EPYC", "cores": 2, "load_1min": 6.1, "python": "3.11.2", "torch": "2.13.0+cpu"}
PER_FACE = {"threads": 2, "faces_timed": 400, "default": "big", "models": {
    "small": {"accuracy": 0.6765, "ms": 1.5, "ms_flip": 2.1, "x_default": 7.69, "x_default_flip": 7.12},
    "big": {"accuracy": 0.6815, "ms": 11.35, "ms_flip": 15.1, "x_default": 1.0, "x_default_flip": 1.0}}}


@pytest.fixture
def results(tmp_path, monkeypatch):
    folder = tmp_path / "results"
    monkeypatch.setenv("FEL_RESULTS_DIR", str(folder))
    write_result("bench-per-face", PER_FACE, command="python bench/per_face.py", host=HOST,
                 date="2026-12-07T20:00:00+00:00", commit="17ee29c")
    return folder


def test_the_committed_readmes_are_their_rendering():
    """README.md and model/README.md as committed are what `python -m core docs` makes of results/ and the cards:
    a figure edited by hand, or a measurement rerun without rendering, fails here (with the difference)."""
    for r in render_docs(src=Sources(ROOT / "model", ROOT / "results", ROOT / "graphs")):
        assert r.problems == [], f"{r.path}: {r.problems}"
        assert not r.changed, f"{r.path} differs from its rendering (python -m core docs):\n{r.diff()[:6000]}"


def test_a_readme_edited_by_hand_fails_the_check(results, tmp_path, capsys):
    from core.cli import main

    readme = tmp_path / "README.md"
    readme.write_text("Prose stays.\n\n<!-- results:per-face bench-per-face -->\n<!-- /results -->\n\n"
                      "The small model is <!--fig bench-per-face:models.small.x_default x.1f-->?<!--/fig--> faster.\n")
    assert main(["docs", "--check", str(readme)]) == 1
    out, err = capsys.readouterr()
    assert "differs from its rendering" in err and "+| small | 67.65% | 1.50 |" in out
    assert main(["docs", str(readme)]) == 0
    rendered = readme.read_text()
    assert rendered.startswith("Prose stays.") and \
        "is <!--fig bench-per-face:models.small.x_default x.1f-->7.7x<!--/fig--> faster" in rendered
    assert "Measured 2026-12-07 by `python bench/per_face.py` on AMD EPYC, 2 cores, load 6.1" in rendered
    assert main(["docs", "--check", str(readme)]) == 0
    readme.write_text(rendered.replace("| 1.50 |", "| 1.40 |"))  # a figure typed over
    capsys.readouterr()
    assert main(["docs", "--check", str(readme)]) == 1
    assert "-| small | 67.65% | 1.40 |" in capsys.readouterr().out


def test_a_figure_no_file_holds_does_not_appear(results, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("<!-- results:per-face bench-gone -->\nold table\n<!-- /results -->\n"
                      "It was <!--fig bench-gone:x .1f-->3.33<!--/fig--> ms, <!--fig bench-per-face:models.nope.ms .1f-->"
                      "2.22<!--/fig--> ms.\n<!-- results:figures bench-gone bench-per-face -->\n<!-- /results -->\n")
    r = render_file(readme, Sources(tmp_path, results))
    assert "old table" not in r.new and "3.33" not in r.new and "2.22" not in r.new
    assert "`small` 1.50, `big` 11.35; `small` 7.7x faster than `big` (7.1x with the mirror average)" in r.new
    assert len(r.problems) == 4 and any("results/bench-gone.json" in p for p in r.problems)
    assert any("no 'nope'" in p for p in r.problems)


def test_inline_figures_work_out_differences_and_ratios(tmp_path):
    (tmp_path / "a.card.json").write_text(json.dumps({"val_none": {"accuracy": 0.6662, "per_class": [
        {"class": "disgust", "f1": 0.4567}]}}))
    (tmp_path / "b.card.json").write_text(json.dumps({"val_none": {"accuracy": 0.6551}}))
    src = Sources(tmp_path, tmp_path)
    assert render_figure("card/a:val_none.accuracy - card/b:val_none.accuracy p+.2f", src.value) == "+1.11"
    assert render_figure("card/a:val_none.accuracy / card/b:val_none.accuracy x.3f", src.value) == "1.017x"
    assert render_figure("card/a:val_none.per_class.disgust.f1 .2f", src.value) == "0.46"
    assert render_figure("card/b:val_none.accuracy * 3589 ,d", src.value) == "2,351"


def test_a_transcription_says_so_and_where_it_was_measured():
    line = provenance_line({"command": "python bench/detection.py", "date": "2026-12-03", "host": {"note": "host not recorded"},
                            "source": "Transcribed from README.md at commit 87b0258"})
    assert line == ("Transcribed from README.md at commit 87b0258: measured 2026-12-03 by `python bench/detection.py` "
                    "on host not recorded.")


def test_the_recording_cost_sentence_comes_from_its_measurement():
    rows = {"off": {"shown_fps": 30.0, "labels_fps": 24.0, "cpu_cores": 0.5},
            "on": {"shown_fps": 29.9, "labels_fps": 22.8, "labels_change": -0.05, "cpu_added": 0.06},
            "video": {"shown_fps": 29.8, "labels_fps": 18.0, "labels_change": -0.25, "cpu_added": 0.31}}
    record = {"figures": {"faces": {"1": rows}}, "host": HOST, "date": "2026-12-07T20:00:00+00:00"}
    here = dict(HOST, load_1min=0.2)
    text = page_text("recording-cost", dict(record, host=dict(HOST, load_1min=1.5)), here=here)
    assert "with one face the video stayed at 30 frames/s while recording, and the labels changed 23 times a second " \
           "(-5%; -25% with the annotated video); the recorder took 0.06 of a core (0.31 of a core with the " \
           "annotated video)." in text
    assert "measured" not in text.lower()  # measured on this kind of machine, not busy: no host to name
    elsewhere = page_text("recording-cost", record, here=dict(HOST, cpu="Intel Xeon"))
    assert elsewhere.endswith("(Measured on AMD EPYC, 2 cores, load 6.1, 2026-12-07.)")
    assert measured_where(record, here=dict(HOST, cores=16)) == "measured on AMD EPYC, 2 cores, load 6.1, 2026-12-07"
    assert measured_where(record, here=here) == "measured here, on a busy machine (AMD EPYC, 2 cores, load 6.1), 2026-12-07"
    assert page_text("recording-cost", None) == "" and page_text("recording-cost", {"figures": {}}) == ""


def test_the_webcam_page_quotes_the_recording_cost_only_from_its_measurement(tmp_path, monkeypatch):
    """The toggle's help quotes bench/recording.py's figures, read from results/ when the page runs; with no
    measurement there is no figure at all (not an old one typed in)."""
    from ui.recording import annotated_cost

    monkeypatch.setenv("FEL_RESULTS_DIR", str(tmp_path))
    bare = annotated_cost()
    assert "frames/s" not in bare and "slower" not in bare and "%" not in bare
    rows = {"off": {"shown_fps": 30.0, "labels_fps": 24.0, "cpu_cores": 0.5},
            "on": {"shown_fps": 30.0, "labels_fps": 23.0, "labels_change": -0.04, "cpu_added": 0.05},
            "video": {"shown_fps": 29.0, "labels_fps": 15.0, "labels_change": -0.375, "cpu_added": 0.4}}
    write_result("bench-recording", {"faces": {"1": rows}}, command="python bench/recording.py",
                 host=dict(host_info(), load_1min=0.1))
    text = annotated_cost()
    assert "the video stayed at 30 frames/s" in text and "-38% with the annotated video" in text
    assert "the recorder took 0.05 of a core" in text
    assert "easured" not in text  # this kind of machine measured it, not busy: no host to name
    write_result("bench-recording", {"faces": {"1": rows}}, command="python bench/recording.py",
                 host=dict(host_info(), load_1min=5.0 * (host_info()["cores"] or 1)))
    assert "(Measured here, on a busy machine (" in annotated_cost()


def test_the_int8_caption_quotes_the_per_face_bench(results):
    text = page_text("int8-speedup", {"figures": {"models": {"seed-vgg": {"ms": 5.14}, "seed-vgg-int8": {"ms": 2.55}}}},
                     here={})
    assert text.startswith("`seed-vgg-int8` answered a face 2.0x faster than `seed-vgg`")
    assert page_text("int8-speedup", {"figures": PER_FACE}) == ""  # the record lacks the pair: no figure


def test_cards_are_tabulated_with_where_they_were_measured(tmp_path):
    """The cards' table is made from whatever cards there are (a new one joins it by itself), and says where and
    when each was measured, or that an older card did not record it."""
    view = {"accuracy": 0.6, "macro_f1": 0.5, "per_class": [{"class": "a", "f1": 0.5}]}
    card = {"model": "vgg", "model_kwargs": {"width": 8}, "params": 1234, "classes": ["a", "b"], "training": {},
            **{f"{s}_{t}": view for s in ("val", "test") for t in ("none", "flip", "tencrop")},
            "latency_ms_per_face_2_threads": 1.5}
    measured = {"command": "python -m core card model/new.pt", "date": "2026-12-08T10:00:00+00:00", "host": HOST}
    (tmp_path / "old.card.json").write_text(json.dumps(card))
    (tmp_path / "new.card.json").write_text(json.dumps({**card, **measured}))
    (tmp_path / "README.md").write_text("<!-- results:cards -->\n<!-- /results -->\n<!-- results:card new -->\n"
                                        "<!-- /results -->\n<!-- results:label-sets -->\nold\n<!-- /results -->\n")
    r = render_file(tmp_path / "README.md", Sources(tmp_path, tmp_path))
    assert r.problems == []
    assert "| new | vgg, width 8 | 1,234 | - | 60.00% |" in r.new and "| old | vgg, width 8 |" in r.new
    assert ("Measured 2026-12-08 by `python -m core card model/<name>.pt` on AMD EPYC, 2 cores, load 6.1 (Python "
            "3.11.2, torch 2.13.0+cpu): new.") in r.new
    assert "Measured by `python -m core card model/<name>.pt` before cards kept their host and date: old." in r.new
    assert "Measured 2026-12-08 by `python -m core card model/new.pt` on AMD EPYC" in r.new  # the one card's block
    assert "<!-- results:label-sets -->\n<!-- /results -->" in r.new  # no card on both label sets yet: nothing
