"""The mistake catalogue (tests/catalogue/): every wrong answer a learner really
writes fails on the visible cases, with its diagnosis and no other one; every
correct formulation passes `check` and gets full points with hidden cases.

The grader's judging path is reproduced here: run_case on the visible and the
hidden cases, each outcome round-tripped through CaseOutcome.to_record /
from_record (the grader's plain-data channel), then `evaluate`.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from tests.catalogue import Right, Wrong, entries, load
from utils import check, exercises
from utils.checks import CaseOutcome, evaluate, run_case

WRONG, RIGHT = entries()
SEEDS = (0, 1, 7)
MIN_WRONG = 4
MIN_RIGHT = 2
# The lessons this branch catalogues (the other lessons' catalogue lives on another branch).
CATALOGUED_LESSONS = sorted({entry.exercise_id[:2] for entry in [*WRONG, *RIGHT]})


def _entry_id(entry) -> str:
    what = entry.mistake if isinstance(entry, Wrong) else entry.formulation
    return f"{entry.exercise_id}: {what}"


def _answer(entry):
    spec = exercises.get(entry.exercise_id)
    return spec, load(entry.source, spec.answer_name)


def _round_trip(outcome: CaseOutcome) -> CaseOutcome:
    record, arrays = outcome.to_record()
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as loaded:
        return CaseOutcome.from_record(record, {key: loaded[key] for key in loaded.files})


def _graded(spec, answer, seed: int):
    cases = [*spec.check_cases, *spec.draw_hidden_cases(seed)]
    outcomes = [_round_trip(run_case(answer, spec, case)) for case in cases]
    return evaluate(spec, cases, outcomes)


def _other_diagnoses(entry: Wrong) -> list[str]:
    mine = (entry.diagnosis or "").casefold()
    return sorted(
        {
            other.diagnosis
            for other in WRONG
            if other.exercise_id == entry.exercise_id
            and other.diagnosis
            and other.diagnosis.casefold() not in mine
        }
    )


def test_catalogue_is_not_empty():
    assert WRONG
    assert RIGHT


@pytest.mark.parametrize(
    "spec",
    [spec for lesson in CATALOGUED_LESSONS for spec in exercises.for_lesson(lesson)],
    ids=lambda spec: spec.id,
)
def test_every_exercise_of_a_catalogued_lesson_has_a_catalogue(spec):
    wrong = [entry for entry in WRONG if entry.exercise_id == spec.id]
    right = [entry for entry in RIGHT if entry.exercise_id == spec.id]
    assert len(wrong) >= MIN_WRONG, f"{spec.id} catalogues {len(wrong)} wrong answers"
    assert len(right) >= MIN_RIGHT, f"{spec.id} catalogues {len(right)} correct formulations"


@pytest.mark.parametrize("entry", WRONG, ids=_entry_id)
def test_wrong_answer_fails_on_the_visible_cases(entry: Wrong):
    spec, answer = _answer(entry)
    result = check(spec.id, answer)
    assert result.status in ("failed", "error"), f"{entry.mistake}: {result.text}"
    message = result.message.casefold()
    if entry.diagnosis is not None:
        assert entry.diagnosis.casefold() in message, result.message
    named = [phrase for phrase in _other_diagnoses(entry) if phrase.casefold() in message]
    assert not named, f"{entry.mistake!r} is named as {named}: {result.message}"
    graded = _graded(spec, answer, SEEDS[0])
    assert graded.status in ("failed", "error"), graded.text
    assert graded.passed < graded.total


@pytest.mark.parametrize("entry", RIGHT, ids=_entry_id)
def test_right_answer_passes_check_and_gets_full_points(entry: Right):
    spec, answer = _answer(entry)
    result = check(spec.id, answer)
    assert result.status == "passed", f"{entry.formulation}: {result.text}"
    for seed in SEEDS:
        graded = _graded(spec, answer, seed)
        assert graded.status == "passed", f"seed {seed}: {graded.text}"
        assert graded.points == spec.points
