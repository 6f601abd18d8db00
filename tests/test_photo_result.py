"""A photo's answer face by face (core.predict.photo): numbered in reading order with each model's answer kept
with its own face, every summary computed once, DeepFace end to end matched to our faces by overlap."""
from __future__ import annotations

import numpy as np
import pytest

from core.labels import EMOTIONS
from core.predict import photo as ph
from core.predict.base import Predictor
from core.predict.boxes import Face

# four faces, 2 x 2, each a flat grey of its own brightness; the detector lists them out of reading order
BOXES = {"top-right": (200, 10, 80, 80), "bottom-left": (10, 150, 80, 80), "top-left": (12, 14, 80, 80),
         "bottom-right": (205, 148, 80, 80)}
GREY = {"top-left": 20, "top-right": 60, "bottom-left": 110, "bottom-right": 160}


class _Detector:
    def detect(self, image, color="rgb"):
        return [Face(*BOXES[k], score=0.9) for k in BOXES]


class _TupleDetector:
    """A detector of the simplest kind: bare (x, y, w, h) boxes."""

    def detect(self, image, color="rgb"):
        return [BOXES[k] for k in BOXES]


class ByBrightness(Predictor):
    """Answers a class from the face's brightness: the answer shows which face it was given."""
    classes = EMOTIONS
    source = "fake"

    def __init__(self, name="bright", shift=0):
        self.name, self.shift = name, shift

    def predict(self, crops):
        out = np.full((len(crops), 7), 0.01)
        for i, c in enumerate(crops):
            out[i, (int(np.mean(c)) // 45 + self.shift) % 7] = 0.94
        return out


def _image():
    img = np.zeros((240, 300, 3), np.uint8)
    for k, (x, y, w, h) in BOXES.items():
        img[max(y - 10, 0):y + h + 10, max(x - 10, 0):x + w + 10] = GREY[k]  # the crop's margin is the face's too
    return img


@pytest.mark.parametrize("detector", [_Detector(), _TupleDetector()], ids=["faces", "bare boxes"])
def test_faces_are_numbered_in_reading_order_and_each_keeps_its_own_answers(detector):
    res = ph.analyse_photo(_image(), [ByBrightness(), ByBrightness("shifted", 1)], detector, align=False)
    assert [f.number for f in res.faces] == [1, 2, 3, 4]
    assert [f.box for f in res.faces] == [BOXES[k] for k in ("top-left", "top-right", "bottom-left", "bottom-right")]
    for f, k in zip(res.faces, ("top-left", "top-right", "bottom-left", "bottom-right")):
        assert abs(int(np.mean(f.crop)) - GREY[k]) < 3  # the crop is the face's own
        a, b = f.answers
        assert a.emotion == EMOTIONS[GREY[k] // 45] and b.emotion == EMOTIONS[(GREY[k] // 45 + 1) % 7]
        assert a.confidence == pytest.approx(0.94, abs=1e-9)
        assert f.score == pytest.approx(0.9 if isinstance(detector, _Detector) else 1.0)  # a bare box has no score
        assert f.agree is False and sum(f.votes.values()) == 2
    rows = res.rows("group.jpg")
    assert [(r["face"], r["model"]) for r in rows][:2] == [(1, "bright"), (1, "shifted")]
    assert rows[0]["image"] == "group.jpg" and rows[0]["p_" + rows[0]["emotion"]] == pytest.approx(0.94)


def test_each_answer_is_summarised_once_whatever_the_page_draws(monkeypatch):
    from ui import compare as cmp

    calls = []
    real = ph.face_summary
    monkeypatch.setattr(ph, "face_summary", lambda *a, **k: calls.append(1) or real(*a, **k))
    photo = ph.analyse_photo(_image(), [ByBrightness(), ByBrightness("shifted", 1)], _Detector(), align=False)
    res = cmp.Result(cmp.Picture("group.jpg", _image(), key="k"), photo)
    cmp.glance_table(res), cmp.annotated_image(res), res.rows(), [cmp.agreement(f) for f in res.faces]
    assert len(calls) == 4 * 2  # faces x models, at analysis time only


def test_agreement_and_right_answers_fold_the_label_for_a_stress_model():
    emo = ph.ModelAnswer.of("a", EMOTIONS, np.eye(7)[EMOTIONS.index("sad")])
    emo2 = ph.ModelAnswer.of("b", EMOTIONS, np.eye(7)[EMOTIONS.index("sad")])
    stress = ph.ModelAnswer.of("s", ("no_stress", "stress"), [0.2, 0.8])
    face = ph.FaceResult(1, (0, 0, 48, 48), None, [emo, stress, emo2], truth="sad")
    assert face.agree is True and face.votes == {"sad": 2}  # the stress model does not vote
    assert emo.is_right("sad") and stress.is_right("sad") and stress.is_right("happy") is False
    assert emo.is_right(None) is None and stress.stress_reading == "stress model"
    assert ph.FaceResult(1, (0, 0, 1, 1), None, [emo, stress]).agree is None  # one emotion model: nothing to agree on


class _DeepFaceE2E:
    def __init__(self, found=None, fail=None):
        self.found, self.fail = found or [], fail

    def analyse(self, image, color="rgb"):
        if self.fail:
            raise RuntimeError(self.fail)
        return self.found


def test_deepface_end_to_end_answers_the_face_it_overlaps_and_adds_the_ones_we_missed():
    happy = np.eye(7)[EMOTIONS.index("happy")]
    found = [{"box": (14, 16, 78, 76), "probs": happy},                      # our top-left face
             {"box": (120, 90, 40, 40), "probs": happy, "confidence": 0.7},  # a face our detector missed
             {"box": (0, 0, 300, 240), "probs": happy, "whole_image": True}]  # no face: DeepFace took the picture
    res = ph.analyse_photo(_image(), [ByBrightness()], _Detector(), align=False, deepface_e2e=_DeepFaceE2E(found))
    first = res.faces[0]
    assert [a.model for a in first.answers] == ["bright", ph.DEEPFACE_E2E]
    e2e = first.answers[1]
    assert e2e.emotion == "happy" and e2e.latency_ms is None and e2e.box == (14, 16, 78, 76)
    assert all(len(f.answers) == 1 for f in res.faces[1:])
    assert [(f.number, f.box) for f in res.extra_faces] == [("D1", (120, 90, 40, 40))]
    rows = res.rows()
    assert [r["face"] for r in rows if r["model"] == ph.DEEPFACE_E2E] == [1, "D1"]
    assert np.isnan([r for r in rows if r["model"] == ph.DEEPFACE_E2E][0]["latency_ms"])  # one cold call: no speed
    assert res.errors == []


def test_deepface_end_to_end_failing_keeps_our_answers_and_says_why():
    res = ph.analyse_photo(_image(), [ByBrightness()], _Detector(), align=False,
                           deepface_e2e=_DeepFaceE2E(fail="weights are missing"))
    assert len(res.faces) == 4 and all(len(f.answers) == 1 for f in res.faces)
    assert res.errors == [(ph.DEEPFACE_E2E, "RuntimeError: weights are missing")]


def test_faces_given_as_crops_keep_their_order_and_true_labels():
    crops = np.stack([np.full((48, 48), g, np.uint8) for g in (160, 20, 110)])
    res = ph.analyse_crops(crops, [ByBrightness()], truths=["neutral", "angry", "happy"])
    assert [f.number for f in res.faces] == [1, 2, 3]
    assert [f.truth for f in res.faces] == ["neutral", "angry", "happy"]
    assert [f.answers[0].emotion for f in res.faces] == [EMOTIONS[3], EMOTIONS[0], EMOTIONS[2]]
    assert [f.answers[0].is_right(f.truth) for f in res.faces] == [False, True, False]
    assert all(r["true"] == f.truth for f in res.faces for r in f.rows())
