"""The mistake catalogue (tests/catalogue/): every wrong answer a learner really
writes fails on the visible cases, with its diagnosis and no other one; every
correct formulation passes `check` and gets full points with hidden cases.

The grader's judging path is reproduced here: run_case on the visible and the
hidden cases, each outcome round-tripped through CaseOutcome.to_record /
from_record (the grader's plain-data channel), then `evaluate`.
"""

from __future__ import annotations

import io
import signal
import threading

import numpy as np
import pytest

from tests.catalogue import Right, Wrong, entries, load
from utils import check, checks, exercises
from utils.checks import CaseOutcome, evaluate

WRONG, RIGHT = entries()
# A few fixed seeds keep the test fast; test_exercises covers the generators.
SEEDS = (0, 1, 7)
# Central exercises need more catalogued mistakes than the floor of four.
CENTRAL = {
    "01.softmax": 8,
    "02.stable_softmax": 6,
    "02.logsumexp": 6,
    "02.log_softmax": 6,
    "05.top_p_filter": 6,
    "06.sequence_log_prob": 6,
    "07.cross_entropy": 6,
    "07.cross_entropy_gradient": 6,
}
MIN_WRONG_FUNCTION = 4
MIN_WRONG_VALUE = 3
MIN_RIGHT = 2
# Seconds an entry may take per call before the test reports it (an endless loop
# in a catalogued answer must fail this test, not hang it).
_SECONDS = 20


def _entry_id(entry) -> str:
    what = entry.mistake if isinstance(entry, Wrong) else entry.formulation
    return f"{entry.exercise_id}: {what}"


def _answer(entry):
    spec = exercises.get(entry.exercise_id)
    return spec, load(entry.source, spec.answer_name)


def _round_trip(outcome: CaseOutcome) -> CaseOutcome:
    """What the grader's parent reads: the record as JSON-able data, arrays via npz."""
    record, arrays = outcome.to_record()
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as loaded:
        return CaseOutcome.from_record(record, {key: loaded[key] for key in loaded.files})


def _graded(spec, answer, seed: int):
    """Visible + hidden cases, each under a time limit like the grader child's."""
    cases = [*spec.check_cases, *spec.draw_hidden_cases(seed)]
    outcomes = []
    for case in cases:
        outcome = checks._run_with_time_limit(answer, spec, case, checks.CASE_TIME_LIMIT_SECONDS)
        outcomes.append(_round_trip(outcome))
        if outcome.error.startswith("TimeoutError"):
            outcomes += [outcomes[-1]] * (len(cases) - len(outcomes))
            break
    return evaluate(spec, cases, outcomes)


def _other_diagnoses(entry: Wrong) -> list[str]:
    return sorted(
        {
            other.diagnosis
            for other in WRONG
            if other.exercise_id == entry.exercise_id
            and other.diagnosis
            and other.diagnosis.casefold() != (entry.diagnosis or "").casefold()
            and other.diagnosis.casefold() not in (entry.diagnosis or "").casefold()
        }
    )


@pytest.fixture(autouse=True)
def _time_limit(monkeypatch):
    """Stop a catalogued answer that never returns (main thread only)."""
    # Catalogued endless loops are stopped sooner than a learner's 5 s.
    monkeypatch.setattr(checks, "CASE_TIME_LIMIT_SECONDS", 1.0)
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise TimeoutError(f"a catalogued answer ran longer than {_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_catalogue_is_not_empty():
    assert WRONG
    assert RIGHT


def test_every_entry_names_a_registered_exercise():
    known = {spec.id for spec in exercises.all_exercises()}
    unknown = sorted({entry.exercise_id for entry in [*WRONG, *RIGHT]} - known)
    assert not unknown, f"catalogue entries for unknown exercises: {unknown}"
    ids = [_entry_id(entry) for entry in [*WRONG, *RIGHT]]
    duplicates = sorted({name for name in ids if ids.count(name) > 1})
    assert not duplicates, f"catalogue entries need distinct names: {duplicates}"


@pytest.mark.parametrize("spec", exercises.all_exercises(), ids=lambda spec: spec.id)
def test_every_exercise_has_a_catalogue(spec):
    wrong = [entry for entry in WRONG if entry.exercise_id == spec.id]
    right = [entry for entry in RIGHT if entry.exercise_id == spec.id]
    floor = MIN_WRONG_FUNCTION if spec.kind == "function" else MIN_WRONG_VALUE
    needed = CENTRAL.get(spec.id, floor)
    assert len(wrong) >= needed, (
        f"{spec.id} catalogues {len(wrong)} wrong answers; it needs at least {needed} "
        "(tests/catalogue/lesson{spec.lesson}.py)"
    )
    assert len(right) >= MIN_RIGHT, (
        f"{spec.id} catalogues {len(right)} correct formulations; it needs {MIN_RIGHT}"
    )


@pytest.mark.parametrize("entry", WRONG, ids=_entry_id)
def test_wrong_answer_fails_on_the_visible_cases(entry: Wrong):
    spec, answer = _answer(entry)
    result = check(spec.id, answer)
    assert result.status in ("failed", "error"), (
        f"a wrong answer ({entry.mistake}) got {result.status}: {result.text}"
    )
    message = result.message.casefold()
    if entry.diagnosis is not None:
        assert entry.diagnosis.casefold() in message, (
            f"the message should name the mistake ({entry.diagnosis!r}): {result.message}"
        )
    wrongly_named = [phrase for phrase in _other_diagnoses(entry) if phrase.casefold() in message]
    assert not wrongly_named, (
        f"the message names another mistake {wrongly_named} for {entry.mistake!r}: {result.message}"
    )
    for seed in SEEDS[:1]:
        graded = _graded(spec, answer, seed)
        assert graded.status in ("failed", "error"), graded.text
        assert graded.passed < graded.total


@pytest.mark.parametrize("entry", RIGHT, ids=_entry_id)
def test_right_answer_passes_check_and_gets_full_points(entry: Right):
    spec, answer = _answer(entry)
    result = check(spec.id, answer)
    assert result.status == "passed", f"{entry.formulation}: {result.text}"
    assert result.points == spec.points
    for seed in SEEDS:
        graded = _graded(spec, answer, seed)
        assert graded.status == "passed", f"{entry.formulation}, seed {seed}: {graded.text}"
        assert graded.points == spec.points
