"""07.predict_step_signs: check's feedback must not let three signs be found by trying.

Red team D1/D2: every wrong answer of three signs gets a message that names no entry (no
"item k"), and the right signs pass in any container (tuple, list, int or float array).
"""

import itertools
import re

import numpy as np
import pytest

from utils.checks import check
from utils.exercises import get

EXERCISE = get("07.predict_step_signs")
ANSWER = EXERCISE.reference()


WRONG_SIGNS = [
    signs
    for signs in itertools.product((-1, 0, 1), repeat=3)
    if signs != tuple(int(s) for s in ANSWER)
]


def test_every_other_triple_of_signs_is_tried():
    assert len(WRONG_SIGNS) == 3**3 - 1


@pytest.mark.parametrize("signs", WRONG_SIGNS)
def test_a_wrong_set_of_signs_is_not_located(signs):
    for answer in (signs, list(signs), np.array(signs), np.array(signs, dtype=float)):
        result = check("07.predict_step_signs", answer)
        assert result.status == "failed"
        message = result.message.lower()
        assert not re.search(r"\b(item|entry|entries|position|index|word) \d", message), message
        assert not re.search(r"\b(first|second|third|last) (sign|entry|word)", message), message
        assert "allowed" not in message, message


@pytest.mark.parametrize(
    "answer",
    [
        ANSWER,
        list(ANSWER),
        np.array(ANSWER),
        np.array(ANSWER, dtype=np.float32),
        np.array([int(s) for s in ANSWER]),
    ],
    ids=["tuple", "list", "float64 array", "float32 array", "int array"],
)
def test_the_right_signs_pass_in_any_container(answer):
    assert check("07.predict_step_signs", answer).status == "passed"


def test_a_two_dimensional_array_is_still_refused():
    result = check("07.predict_step_signs", np.array([ANSWER]))
    assert result.status == "failed"
