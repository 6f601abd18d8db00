"""core.labels: the one rule for "is this the stress task", and the emotion -> stress mapping said in full."""
import numpy as np
import pytest

from core.labels import (EMOTIONS, FERPLUS_CLASSES, NO_STRESS_EMOTIONS, STRESS_CLASSES, STRESS_EMOTIONS,
                         is_stress_task, stress_index, task_of)


@pytest.mark.parametrize("classes, stress", [
    (STRESS_CLASSES, True),
    (("stress", "no_stress"), True),             # the other order
    (("No stress", "Stressed"), True),           # other spellings
    (EMOTIONS, False),
    (FERPLUS_CLASSES, False),
    (("stress", "bored", "tired"), False),        # a class called stress is not the stress task
    (("stress",), False),
    (("stress", "stress"), False),
])
def test_one_rule_for_the_stress_task(classes, stress):
    assert is_stress_task(classes) is stress
    assert task_of(classes) == ("stress" if stress else "emotion")


def test_every_place_that_asks_uses_the_rule():
    """The predictor, a photo's answer, the expected answer of a labelled face and P(stress) agree."""
    from core.predict.photo import ModelAnswer, expected_answer
    from core.predict.stress import STRESS_MODEL, p_stress, stress_reading

    reversed_ = ("stress", "no_stress")
    assert expected_answer("sad", reversed_) == "stress" and expected_answer("happy", reversed_) == "no_stress"
    odd = ("stress", "bored", "tired")  # a data set of its own: its labels are its own answers
    assert expected_answer("stress", odd) == "stress" and expected_answer("tired", odd) == "tired"
    assert not ModelAnswer.of("m", odd, [0.2, 0.5, 0.3]).is_stress_model
    assert ModelAnswer.of("m", reversed_, [0.9, 0.1]).is_stress_model
    assert stress_reading(reversed_) == STRESS_MODEL and p_stress([0.9, 0.1], reversed_) == pytest.approx(0.9)


def test_the_mapping_names_every_ferplus_emotion_and_contempt_is_no_stress():
    assert STRESS_EMOTIONS | NO_STRESS_EMOTIONS == set(FERPLUS_CLASSES)
    assert not STRESS_EMOTIONS & NO_STRESS_EMOTIONS
    assert "contempt" in NO_STRESS_EMOTIONS
    index = stress_index(FERPLUS_CLASSES)
    assert index.tolist() == [int(c in STRESS_EMOTIONS) for c in FERPLUS_CLASSES] and index[-1] == 0
    assert np.array_equal(stress_index(FERPLUS_CLASSES)[:7], stress_index(EMOTIONS))  # FER2013's seven alike
