"""`Exercise.accepts`: value exercises with many right answers, judged by a verifier.

The verifier replaces the comparison with `reference()`; it runs where the
answer is judged (`evaluate`: the learner's `check`, the grader's parent on
decoded plain data), never where the answer was computed.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from utils.checks import CaseOutcome, evaluate, run_case
from utils.exercises import Case, Exercise


def _even_pair(value):
    """Right: any pair of distinct even integers below 100."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        return "give a pair (a, b)."
    a, b = value
    if not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in (a, b)):
        return "a and b must be whole numbers."
    if a == b:
        return "a and b must differ."
    if a % 2 or b % 2 or not (0 <= a < 100 and 0 <= b < 100):
        return "both numbers must be even and between 0 and 99."
    return None


SPEC = Exercise(
    id="99.even_pair",
    title="Two even numbers",
    points=3,
    answer_name="even_pair",
    kind="value",
    reference=lambda: (2, 4),
    accepts=_even_pair,
    hints=("Even numbers end in 0, 2, 4, 6 or 8.",),
)


def _judged(answer, spec=SPEC):
    cases = list(spec.check_cases)
    return evaluate(spec, cases, [run_case(answer, spec, case) for case in cases])


def _round_trip(outcome: CaseOutcome) -> CaseOutcome:
    """What the grader's parent decodes from the child's record."""
    record, arrays = outcome.to_record()
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as loaded:
        return CaseOutcome.from_record(record, {key: loaded[key] for key in loaded.files})


@pytest.mark.parametrize("answer", [(2, 4), [98, 0], (np.int64(10), 12)])
def test_every_accepted_answer_passes_not_only_the_reference(answer):
    result = _judged(answer)
    assert result.status == "passed", result.text
    assert result.points == 3


@pytest.mark.parametrize(
    ("answer", "words"),
    [((2, 2), "must differ"), ((3, 4), "even"), ([2], "give a pair"), ((2.0, 4), "whole")],
)
def test_a_rejected_answer_fails_with_the_verifiers_message(answer, words):
    result = _judged(answer)
    assert result.status == "failed"
    assert words in result.message
    assert result.points == 0


def test_not_attempted_is_still_not_attempted():
    assert _judged(None).status == "not_attempted"


def test_the_grader_path_judges_the_decoded_value_with_the_verifier():
    cases = list(SPEC.check_cases)
    for answer, status in (((6, 8), "passed"), ((6, 6), "failed")):
        outcome = _round_trip(run_case(answer, SPEC, cases[0]))
        assert evaluate(SPEC, cases, [outcome]).status == status


def test_an_answer_that_is_no_plain_data_fails_plainly():
    result = _judged(object())
    assert result.status == "failed"
    assert "expected plain data" in result.message


def test_a_verifier_that_cannot_read_the_answer_fails_it_with_the_reason():
    def strict(value):
        return None if int(value["a"]) > 0 else "a must be positive"

    spec = Exercise(
        id="99.strict",
        title="Strict",
        points=1,
        answer_name="strict",
        kind="value",
        reference=lambda: {"a": 1},
        accepts=strict,
    )
    result = _judged([1, 2], spec)  # a list where the verifier reads a dict
    assert result.status == "failed"
    assert "could not be checked: TypeError" in result.message


def test_a_verifier_must_return_none_or_a_message():
    spec = Exercise(
        id="99.broken",
        title="Broken",
        points=1,
        answer_name="broken",
        kind="value",
        reference=lambda: 1,
        accepts=lambda value: False,
    )
    with pytest.raises(TypeError, match="accepts must return None or a message"):
        _judged(1, spec)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"accepts": "yes"}, TypeError, "accepts must be a function"),
        (
            {
                "accepts": _even_pair,
                "kind": "function",
                "visible_cases": (Case(args=(1,)),),
            },
            ValueError,
            "accepts judges a value exercise",
        ),
    ],
)
def test_the_spec_refuses_a_bad_accepts(kwargs, error, words):
    base = {
        "id": "99.bad",
        "title": "Bad",
        "points": 1,
        "answer_name": "bad",
        "kind": "value",
        "reference": lambda: 1,
    }
    with pytest.raises(error, match=words):
        Exercise(**{**base, **kwargs})
