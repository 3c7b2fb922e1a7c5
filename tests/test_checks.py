"""`utils.checks`: statuses, diagnostics, plain-data outcomes, nbgrader mode.

The exercises here are built in the test from `utils.probability`, so the
checks are tested independently of the lessons' own specs.
"""

from __future__ import annotations

import inspect
import io
import json
import re
import types
import warnings

import numpy as np
import pytest

from utils import check
from utils.checks import CaseOutcome, CheckResult, evaluate, run_case
from utils.exercises import Case, Exercise, collect
from utils.exercises import get as exercises_get
from utils.probability import log_softmax, logsumexp, naive_softmax, softmax

MATRIX = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 9.0], [0.5, 0.0, -1.0]])
LARGE_FLOAT32 = np.array([[1000.0, 999.0, 990.0], [-5.0, 0.0, 2.0]], dtype=np.float32)

SOFTMAX = Exercise(
    id="99.softmax",
    title="Softmax",
    points=3,
    answer_name="softmax",
    kind="function",
    reference=softmax,
    visible_cases=(
        Case(args=(np.array([2.0, 1.0, 0.1]),), label="three scores"),
        Case(args=(MATRIX,), label="a batch of three rows"),
        Case(args=(LARGE_FLOAT32,), label="scores near 1000 (float32)"),
    ),
    rtol=1e-5,
    atol=1e-7,
)
LOGSUMEXP = Exercise(
    id="99.logsumexp",
    title="Log-sum-exp",
    points=2,
    answer_name="logsumexp",
    kind="function",
    reference=logsumexp,
    visible_cases=(Case(args=(MATRIX,), label="a batch of three rows"),),
)
LOG_SOFTMAX = Exercise(
    id="99.log_softmax",
    title="Log-softmax",
    points=2,
    answer_name="log_softmax",
    kind="function",
    reference=log_softmax,
    visible_cases=(
        Case(args=(MATRIX,), label="a batch of three rows"),
        Case(args=(np.array([0.0, -800.0]),), label="a very unlikely token"),
    ),
)
VALUE = Exercise(
    id="99.probability",
    title="A probability",
    points=1,
    answer_name="answer",
    kind="value",
    reference=lambda: 0.123456,
)


def run(exercise: Exercise, answer) -> CheckResult:
    cases = exercise.check_cases
    return evaluate(exercise, cases, [run_case(answer, exercise, case) for case in cases])


def unfinished(*args, **kwargs):
    raise NotImplementedError("Exercise 99.x: replace this line with your code")


# --- The four statuses -------------------------------------------------------


def test_passed_reports_every_case():
    result = run(SOFTMAX, softmax)
    assert result.status == "passed"
    assert (result.passed, result.total, result.points, result.max_points) == (3, 3, 3.0, 3.0)
    assert result.text == "[passed] 99.softmax — 3/3 cases passed."
    assert repr(result) == str(result) == result.text


def test_not_attempted_when_the_stub_still_raises():
    result = run(SOFTMAX, unfinished)
    assert result.status == "not_attempted"
    assert result.points == 0
    assert result.text == (
        "[not attempted] 99.softmax — replace the NotImplementedError in your softmax with "
        "your code, then run this cell again."
    )


@pytest.mark.parametrize("stub", [None, Ellipsis])
def test_value_not_attempted(stub):
    result = run(VALUE, stub)
    assert result.status == "not_attempted"
    assert result.message.startswith("answer is still None")


def test_error_names_the_exception_and_the_line():
    def buggy(logits):
        total = np.exp(logits).sum()
        return total / 0 if isinstance(total, int) else {}["missing"]

    result = run(SOFTMAX, buggy)
    assert result.status == "error"
    assert result.text.startswith('[error] 99.softmax — case "three scores": KeyError: ')
    line = inspect.getsourcelines(buggy)[1] + 2
    assert f"in your buggy, line {line}: `return total / 0 if isinstance" in result.message
    assert "(0/3 cases passed)" in result.message


def test_error_message_hides_memory_addresses():
    def leaky(logits):
        raise ValueError(f"cannot use {object()}")

    message = run(SOFTMAX, leaky).message
    assert "0x" not in message
    assert "ValueError: cannot use <object object>" in message


def test_failed_with_partial_credit():
    def only_small(logits):
        return naive_softmax(logits)

    result = run(SOFTMAX, only_small)
    assert result.status == "failed"
    assert (result.passed, result.total) == (2, 3)
    assert result.points == pytest.approx(2.0)
    no_partial = Exercise(**{**SOFTMAX.__dict__, "partial_credit": False})
    assert run(no_partial, only_small).points == 0.0


def test_value_exercise_passes_and_fails_without_revealing_the_value():
    assert run(VALUE, 0.123456).text == "[passed] 99.probability — correct."
    failed = run(VALUE, 0.2)
    assert failed.status == "failed"
    assert "0.12" not in failed.message
    assert failed.message == (
        "answer differs from the reference (off by 8e-2, relative 6e-1; allowed 1e-7 = "
        "1e-6 relative + 1e-9 absolute for float64 work)."
    )


def test_not_a_function_for_a_function_exercise():
    result = run(SOFTMAX, softmax(np.array([1.0, 2.0])))
    assert result.status == "error"
    assert 'pass the function without calling it, e.g. check("99.softmax", softmax)' in (
        result.message
    )


# --- Diagnostics, one wrong answer each --------------------------------------


def test_naive_softmax_overflows_on_large_float32_scores():
    result = run(SOFTMAX, naive_softmax)
    assert result.status == "failed"
    assert result.message.startswith(
        'case "scores near 1000 (float32)": the result contains inf or NaN at positions '
        "(0, 0), (0, 1), (0, 2) where the expected values are finite — exp overflowed to inf "
        "(your code emitted RuntimeWarning: overflow encountered in exp). Subtract the "
        "maximum before exponentiating."
    )


def test_nonfinite_without_a_warning_guesses_no_cause():
    def silent_overflow(logits):
        with np.errstate(all="ignore"):
            return naive_softmax(logits)

    message = run(SOFTMAX, silent_overflow).message
    assert message.startswith(
        'case "scores near 1000 (float32)": the result contains inf or NaN at positions (0, 0), '
        "(0, 1), (0, 2) where the expected values are finite. (2/3 cases passed)"
    )


def test_positions_off_by_one_are_named_and_nothing_else_about_integers():
    spec = Exercise(
        id="99.above",
        title="Positions above zero",
        points=1,
        answer_name="above",
        kind="function",
        reference=lambda scores: np.flatnonzero(scores > 0),
        visible_cases=(Case(args=(np.array([0.5, 3.0, -2.0, 1.0]),), label="four scores"),),
    )
    one_based = run(spec, lambda scores: np.flatnonzero(scores > 0) + 1).message
    assert "every value of the result is 1 too high (off by one)" in one_based
    assert run(spec, lambda scores: np.array([1, 0, 3])).message == (
        'case "four scores": 2 of 3 values of the result differ from the reference at '
        "positions 0, 1."
    )


def test_nonfinite_on_moderate_scores_blames_no_overflow():
    def nan_where_masked(logits):
        return np.where(logits > 8.5, np.nan, softmax(logits))

    message = run(SOFTMAX, nan_where_masked).message
    assert "at position (1, 2) where the expected values are finite." in message
    assert "overflow" not in message
    assert "underflow" not in message


def test_softmax_over_the_wrong_axis():
    message = run(SOFTMAX, lambda logits: softmax(logits, axis=0)).message
    assert message.startswith(
        'case "a batch of three rows": the result is what you get along axis 0, but this case '
        "asks for the last axis (axis=-1)"
    )
    assert "wrong axis" in message


def test_wrong_axis_only_when_the_answer_is_that_axis():
    def column_sums_to_one_otherwise(logits):
        if logits.ndim == 1:
            return softmax(logits)
        probabilities = softmax(logits, axis=0) ** 2
        return probabilities / probabilities.sum(axis=0, keepdims=True)

    message = run(SOFTMAX, column_sums_to_one_otherwise).message
    assert "wrong axis" not in message
    assert "the slices along the last axis (axis=-1) do not sum to 1" in message


def test_logsumexp_over_the_wrong_axis_via_the_reference():
    message = run(LOGSUMEXP, lambda logits: logsumexp(logits, axis=0)).message
    assert "the result is what you get along axis 0" in message
    assert "axis=-1" in message


def test_logsumexp_plus_one_is_off_by_a_constant():
    message = run(LOGSUMEXP, lambda logits: logsumexp(logits) + 1.0).message
    assert "off by a constant" in message


def test_log_softmax_missing_the_normalizer_is_off_by_a_constant_per_row():
    message = run(LOG_SOFTMAX, lambda logits: logits - logits.max(axis=-1, keepdims=True)).message
    assert "off by a constant along the last axis" in message


def test_log2_instead_of_natural_log_is_a_constant_factor():
    message = run(LOGSUMEXP, lambda logits: logsumexp(logits) / np.log(2.0)).message
    assert "a logarithm in base 2" in message
    message = run(LOGSUMEXP, lambda logits: 2 * logsumexp(logits)).message
    assert "off by a constant factor" in message
    assert "base" not in message


def test_constant_offset_and_factor_never_fire_on_rounding():
    # A float32 result on float64 input is within the float32 tolerance: it passes.
    assert run(SOFTMAX, lambda logits: softmax(logits.astype(np.float32))).status == "passed"
    tight = Exercise(**{**LOGSUMEXP.__dict__, "rtol": 1e-15, "atol": 0.0})
    nudged = run(tight, lambda logits: logsumexp(logits) * (1 + 3e-15) + 1e-14)
    assert "constant" not in nudged.message


def test_log_of_underflowed_probabilities():
    message = run(LOG_SOFTMAX, lambda logits: np.log(naive_softmax(logits))).message
    assert 'case "a very unlikely token": the result contains inf or NaN at position 1' in message
    assert "log(0) gave -inf (your code emitted RuntimeWarning: divide by zero" in message
    assert "some probabilities are below the smallest float64 number" in message


def test_rows_that_do_not_sum_to_one():
    message = run(SOFTMAX, lambda logits: np.exp(logits - np.max(logits, -1, keepdims=True)))
    assert "proportional to the right probabilities but does not sum to 1" in message.message
    message = run(SOFTMAX, lambda logits: softmax(logits) ** 2)
    assert "the probabilities do not sum to 1 (one sums to" in message.message
    assert "proportional" not in message.message


def test_negative_probabilities():
    message = run(SOFTMAX, lambda logits: softmax(logits) - 0.5).message
    assert "negative probabilities" in message


def test_wrong_shape_names_both_shapes_only():
    message = run(LOGSUMEXP, lambda logits: logsumexp(logits, keepdims=True)).message
    assert "the result is an array of shape (3, 1); expected an array of shape (3,)" in message


def test_returning_nothing():
    def forgot_return(logits):
        softmax(logits)

    message = run(SOFTMAX, forgot_return).message
    assert "the result is None — did your softmax forget to `return` it?" in message


@pytest.mark.parametrize(
    ("answer", "expected_text"),
    [
        (lambda logits: "0.1, 0.2", "the result is a string; expected an array of numbers"),
        (lambda logits: print, "the result is a builtin_function_or_method"),
        (lambda logits: softmax(logits) > 0.3, "holds True/False values"),
        (lambda logits: softmax(logits).astype(complex), "holds complex numbers"),
    ],
)
def test_not_numbers(answer, expected_text):
    assert expected_text in run(SOFTMAX, answer).message


def test_a_list_of_numbers_is_accepted():
    assert run(SOFTMAX, lambda logits: softmax(logits).tolist()).status == "passed"


def test_modified_input_is_reported_even_when_the_values_are_right():
    def in_place(logits):
        logits -= logits.max(axis=-1, keepdims=True)
        return softmax(logits)

    result = run(SOFTMAX, in_place)
    assert result.status == "failed"
    assert "changed its input in place (argument logits)" in result.message


def test_input_is_protected_from_the_answer():
    case = SOFTMAX.visible_cases[1]
    before = case.args[0].copy()

    def vandal(logits):
        logits[:] = 0
        return softmax(before)

    run(SOFTMAX, vandal)
    np.testing.assert_array_equal(case.args[0], before)


def test_values_differ_reports_relative_error_and_count():
    def slightly_off(logits):
        probabilities = softmax(logits)
        return probabilities + np.where(probabilities == probabilities.max(), -0.01, 0.005)

    message = run(SOFTMAX, slightly_off).message
    assert re.search(
        r"3 of 3 values of the result differ from the reference at every position \(worst at "
        r"\d: off by \de-\d, relative \de-\d; allowed there \de-\d = 1e-5 relative \+ 1e-7 "
        r"absolute for float64 work\)",
        message,
    )


def test_the_worst_entry_is_judged_against_its_own_allowance():
    def one_small_entry_off(logits):
        probabilities = softmax(logits)
        return probabilities * np.where(probabilities < 0.05, 1.001, 1.0)

    message = run(SOFTMAX, one_small_entry_off).message
    assert "2 of 9 values of the result differ from the reference at positions (1, 0), (1, 1)" in (
        message
    )
    assert ", relative 1e-3; allowed there 3e-7 = 1e-5 relative" in message


def test_runtime_warning_on_a_correct_answer_passes_with_a_note():
    def noisy(logits):
        with np.errstate(over="warn"):
            np.exp(np.float32(1000.0))
        return softmax(logits)

    result = run(SOFTMAX, noisy)
    assert result.status == "passed"
    assert result.message == (
        '3/3 cases passed. Note: case "three scores" (and 2 more case(s)) emitted '
        "RuntimeWarning: overflow encountered in exp."
    )


def test_warnings_are_recorded_not_raised():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outcome = run_case(naive_softmax, SOFTMAX, SOFTMAX.visible_cases[2])
    assert outcome.status == "ok"
    assert "RuntimeWarning: overflow encountered in exp" in outcome.warnings


def test_exercise_diagnose_wins_and_a_broken_one_is_ignored():
    def diagnose(case, expected, got):
        return "you divided instead of multiplied" if np.ndim(got) else None

    spec = Exercise(**{**LOGSUMEXP.__dict__, "diagnose": diagnose})
    assert run(spec, lambda x: logsumexp(x) + 1).message.endswith(
        "you divided instead of multiplied"
    )

    def broken(case, expected, got):
        raise RuntimeError("bug in the diagnosis")

    spec = Exercise(**{**LOGSUMEXP.__dict__, "diagnose": broken})
    assert "off by a constant" in run(spec, lambda x: logsumexp(x) + 1).message


def test_check_dtype_when_the_spec_asks():
    spec = Exercise(**{**SOFTMAX.__dict__, "check_dtype": True})
    message = run(spec, lambda logits: softmax(np.asarray(logits, dtype=np.float64))).message
    assert "has dtype float64; expected float32" in message
    assert run(spec, softmax).status == "passed"


def test_integer_results_must_be_integers():
    spec = Exercise(
        id="99.top",
        title="Top token",
        points=1,
        answer_name="top",
        kind="function",
        reference=lambda scores: np.argmax(scores),
        visible_cases=(Case(args=(np.array([0.1, 3.0, 2.0]),)),),
    )
    assert run(spec, lambda scores: float(np.argmax(scores))).message.startswith(
        'case "case 1": the result holds float64 values; expected integers'
    )
    assert (
        run(spec, lambda scores: 0).message
        == 'case "case 1": the result differs from the reference.'
    )
    assert run(spec, lambda scores: int(np.argmax(scores))).status == "passed"


def test_structured_results():
    spec = Exercise(
        id="99.pair",
        title="Pair",
        points=1,
        answer_name="pair",
        kind="function",
        reference=lambda x: (np.argmax(x), float(np.max(x)), "ok"),
        visible_cases=(Case(args=(np.array([0.5, 2.0]),), label="two"),),
    )
    assert run(spec, lambda x: [np.argmax(x), float(np.max(x)), "OK "]).status == "passed"
    assert "has 2 items; expected 3" in run(spec, lambda x: (1, 2.0)).message
    assert "item 1 of the result differs" in run(spec, lambda x: (1, 3.0, "ok")).message


def test_messages_never_contain_expected_values():
    expected = softmax(MATRIX)
    for answer in (
        lambda x: softmax(x) * 0.9,
        lambda x: softmax(x, axis=0),
        lambda x: softmax(x)[:, :2],
        lambda x: softmax(x) + 0.01,
    ):
        message = run(SOFTMAX, answer).message
        for value in expected.ravel():
            assert f"{value:.4g}" not in message


def test_result_is_deterministic():
    assert run(SOFTMAX, naive_softmax).text == run(SOFTMAX, naive_softmax).text


# --- Presentation ------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "label"),
    [(softmax, "passed"), (naive_softmax, "failed"), (unfinished, "not attempted")],
)
def test_html_badge_says_the_status_in_words(answer, label):
    page = run(SOFTMAX, answer)._repr_html_()
    assert f'aria-label="check {label}"' in page
    assert f"</span> {label}</span>" in page
    assert "<code>99.softmax</code>" in page


def _with_hints(spec: Exercise, hints: tuple[str, ...]) -> Exercise:
    fields = {**spec.__dict__, "hints": hints}
    return Exercise(**fields)


def test_html_escapes_the_message_and_shows_the_first_hint():
    spec = _with_hints(SOFTMAX, ("use <max>", "then the second tier"))
    page = run(spec, lambda logits: "<script>")._repr_html_()
    assert "<script>" not in page
    assert "use &lt;max&gt;" in page
    assert "Hint 1/2" in page
    assert "utils.hint(&quot;99.softmax&quot;)" in page
    assert "second tier" not in page
    assert "Hint" not in run(spec, softmax)._repr_html_()


def test_text_shows_only_the_first_hint_and_how_to_get_the_next():
    spec = _with_hints(SOFTMAX, ("the idea", "the approach"))
    failed = run(spec, lambda logits: np.ones(np.shape(logits)))
    assert failed.hint == "the idea"
    assert failed.text.splitlines()[1] == 'Hint 1/2: the idea (next hint: utils.hint("99.softmax"))'
    assert "the approach" not in failed.text
    assert "Hint" not in run(spec, softmax).text
    assert "Hint" not in run(spec, unfinished).text  # not attempted: nothing tried yet
    single = run(_with_hints(SOFTMAX, ("only one",)), lambda logits: np.ones(np.shape(logits)))
    assert single.text.splitlines()[1] == "Hint 1/1: only one"


def test_hint_gives_the_next_tier_after_a_failed_check(monkeypatch):
    from utils import checks

    monkeypatch.setattr(checks, "_HINTS_SHOWN", {})
    registry = {"00.scores_above": exercises_get("00.scores_above")}
    spec = registry["00.scores_above"]
    assert len(spec.hints) >= 2
    assert checks.hint(spec.id) == spec.hints[0]  # no check yet: the first tier
    monkeypatch.setattr(checks, "_HINTS_SHOWN", {})
    result = check(spec.id, lambda scores, threshold: np.array([0]))
    assert result.status == "failed"
    assert result.hint == spec.hints[0]
    second = checks.hint(spec.id)
    assert second == spec.hints[1]
    assert second.tier == 2
    assert repr(second).startswith(f"Hint 2/{len(spec.hints)} for 00.scores_above")
    last = [checks.hint(spec.id) for _ in range(4)][-1]
    assert last == spec.hints[-1]
    assert "last one" in repr(last)
    assert last._repr_html_().startswith('<div role="note">')
    import utils

    assert utils.hint is checks.hint


def test_the_single_hint_field_is_gone():
    with pytest.raises(TypeError, match="hint"):
        Exercise(**{**SOFTMAX.__dict__, "hint": "the old single hint"})
    assert _with_hints(SOFTMAX, ("first", "second")).hint == "first"
    assert SOFTMAX.hint == ""


def test_hint_of_an_unknown_exercise_names_the_lesson_ids():
    from utils import checks

    with pytest.raises(KeyError, match=r"00\.mean_score"):
        checks.hint("00.nope")


@pytest.mark.parametrize(
    ("hints", "error"),
    [
        ("one string", TypeError),
        (("a", "b", "c", "d"), ValueError),
        (("fine", ""), TypeError),
        (("fine", 3), TypeError),
    ],
)
def test_hints_are_validated(hints, error):
    with pytest.raises(error):
        _with_hints(SOFTMAX, hints)


# --- Plain-data outcomes ------------------------------------------------------


def test_outcomes_round_trip_through_json_and_npz():
    outcomes = [
        run_case(softmax, SOFTMAX, SOFTMAX.visible_cases[1]),
        run_case(naive_softmax, SOFTMAX, SOFTMAX.visible_cases[2]),
        run_case(unfinished, SOFTMAX, SOFTMAX.visible_cases[0]),
        CaseOutcome("ok", value=(1, 2.5, float("nan"), "x", None, [np.int64(3)], {"k": True})),
        CaseOutcome("error", error="ZeroDivisionError: division by zero"),
    ]
    for outcome in outcomes:
        record, arrays = outcome.to_record()
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        buffer.seek(0)
        with np.load(buffer, allow_pickle=False) as loaded:
            back = CaseOutcome.from_record(json.loads(json.dumps(record)), loaded)
        assert back.status == outcome.status
        assert (back.warnings, back.error) == (outcome.warnings, outcome.error)
        assert repr(_normalized(back.value)) == repr(_normalized(outcome.value))


def _normalized(value):
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.shape, value.tolist())
    if isinstance(value, np.generic):
        return ("scalar", value.dtype.str, value.item())
    if isinstance(value, (list, tuple)):
        return type(value)(_normalized(v) for v in value)
    if isinstance(value, dict):
        return {k: _normalized(v) for k, v in value.items()}
    return value


def test_non_plain_results_are_not_shipped():
    outcome = run_case(lambda logits: types.SimpleNamespace(), SOFTMAX, SOFTMAX.visible_cases[0])
    assert (outcome.value, outcome.value_type) == (None, "SimpleNamespace")
    assert outcome.to_record()[0]["value"] == {"type": "none"}


def test_evaluate_needs_one_outcome_per_case():
    with pytest.raises(ValueError, match="one outcome per case"):
        evaluate(SOFTMAX, SOFTMAX.visible_cases, [])


def test_case_outcome_status_is_validated():
    with pytest.raises(ValueError, match="status must be one of"):
        CaseOutcome("passed")


# --- check() and nbgrader -----------------------------------------------------


def test_check_uses_the_registry():
    assert check("00.mean_score", None).status == "not_attempted"
    with pytest.raises(KeyError, match=r"lesson 00 has: 00\.mean_score, 00\.scores_above"):
        check("00.mean", 1.0)
    with pytest.raises(TypeError, match=r'check\("00.mean_score", mean_score\)'):
        check("00.mean_score")


def test_nbgrader_execution_turns_failures_into_assertion_errors(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(AssertionError, match=r"^\[failed\] 00.mean_score — "):
        check("00.mean_score", 123.0)
    with pytest.raises(AssertionError, match=r"^\[not attempted\]"):
        check("00.mean_score", None)
    assert check("00.mean_score", float(np.mean([2.0, 1.5, -0.6, 0.35]))).status == "passed"
    monkeypatch.delenv("NBGRADER_EXECUTION")
    assert check("00.mean_score", 123.0).status == "failed"


# --- Specs and the registry ---------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"id": "2.softmax"}, "malformed"),
        ({"id": "02.Softmax"}, "malformed"),
        ({"id": "02softmax"}, "malformed"),
        ({"kind": "method"}, "kind must be one of"),
        ({"answer_name": "not a name"}, "identifier"),
        ({"points": 0}, "points must be > 0"),
        ({"visible_cases": ()}, "at least one visible case"),
        ({"visible_cases": (1,)}, "Case objects"),
        ({"rtol": -1.0}, "rtol and atol"),
    ],
)
def test_malformed_specs_are_rejected(changes, error):
    with pytest.raises((ValueError, TypeError), match=error):
        Exercise(**{**SOFTMAX.__dict__, **changes})


def test_value_specs_take_no_cases():
    with pytest.raises(ValueError, match="takes no visible or hidden cases"):
        Exercise(**{**VALUE.__dict__, "visible_cases": SOFTMAX.visible_cases})


def test_case_args_must_be_a_tuple():
    with pytest.raises(TypeError, match=r"args=\(logits,\)"):
        Case(args=np.array([1.0]))


def test_registry_rejects_duplicates_and_misfiled_specs():
    module = types.SimpleNamespace(__name__="lesson99", EXERCISES=[SOFTMAX])
    twin = types.SimpleNamespace(__name__="lesson99b", EXERCISES=[SOFTMAX])
    with pytest.raises(ValueError, match="defined twice"):
        collect([("99", module), ("99", twin)])
    with pytest.raises(ValueError, match="whose lesson is not 98"):
        collect([("98", module)])
    with pytest.raises(TypeError, match="must define EXERCISES"):
        collect([("99", types.SimpleNamespace(__name__="lesson99"))])
    registry, demos = collect(
        [("99", types.SimpleNamespace(__name__="m", EXERCISES=[SOFTMAX], DEMOS=[LOGSUMEXP]))]
    )
    assert (list(registry), list(demos)) == (["99.softmax"], ["99.logsumexp"])


# --- The time limit per case ----------------------------------------------------


def test_an_endless_loop_is_stopped_and_reported(monkeypatch, tmp_path):
    import signal

    from utils import checks

    monkeypatch.setattr(checks, "CASE_TIME_LIMIT_SECONDS", 0.2)
    calls = tmp_path / "calls"  # the answer runs in a child: it reports through a file

    def endless(logits):
        with calls.open("a") as file:
            file.write("1")
        while True:
            pass

    def swallows_one_alarm(logits):
        try:
            while True:
                pass
        except BaseException:  # the learner catches the first alarm and goes on
            pass
        while True:
            pass

    previous = signal.getsignal(signal.SIGALRM)
    result = checks.check("02.logsumexp", endless)
    assert result.status == "error"
    assert result.message.startswith(
        'case "cat, dog, mat: scores 2, 1, 0": TimeoutError: your logsumexp ran longer '
        "than 0.2 s of CPU time (0.4 s in all) on this case and was stopped (the time limit "
        "per case)"
    )
    assert calls.read_text() == "1"  # the other cases are reported, not run again
    assert result.cases[1].message.startswith('not run: case "cat, dog, mat: scores 2, 1, 0"')
    assert checks.check("02.logsumexp", swallows_one_alarm).status == "error"
    assert signal.getsignal(signal.SIGALRM) is previous
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert checks.check("02.logsumexp", logsumexp).status == "passed"


def test_a_loop_whose_bare_except_swallows_every_alarm_is_stopped(monkeypatch):
    import time

    from utils import checks

    monkeypatch.setattr(checks, "CASE_TIME_LIMIT_SECONDS", 0.2)

    def sleeps_forever(logits):
        while True:
            try:  # noqa: SIM105 - the learner's bare except, on purpose
                time.sleep(0.05)
            except:  # noqa: E722
                pass

    def spins_forever(logits):
        while True:
            try:  # noqa: SIM105
                sum(range(1000))
            except:  # noqa: E722
                pass

    for answer in (sleeps_forever, spins_forever):
        result = checks.check("02.logsumexp", answer)
        assert result.status == "error"
        assert "TimeoutError" in result.message
        assert "time limit per case" in result.message
        assert all(case.message.startswith("not run:") for case in result.cases[1:])


def test_a_forked_answer_prints_keeps_warnings_and_inputs_and_its_globals_stay_there(capsys):
    state = []

    def loud(logits, axis=-1):
        print("thinking about", np.shape(logits))
        state.append(1)
        return logsumexp(logits, axis=axis)

    assert check("02.logsumexp", loud).status == "passed"
    assert "thinking about" in capsys.readouterr().out
    assert state == []  # the answer ran in a child process

    def in_place(logits, axis=-1):
        logits = np.asarray(logits)
        value = logsumexp(logits, axis=axis)
        logits -= 1.0
        return value

    assert "changed" in check("02.logsumexp", in_place).message

    def stub(logits, axis=-1):
        raise NotImplementedError

    assert check("02.logsumexp", stub).status == "not_attempted"


def test_an_answer_that_ends_its_process_is_reported():
    import os

    def leaves(logits, axis=-1):
        os._exit(3)

    result = check("02.logsumexp", leaves)
    assert result.status == "error"
    assert "ended the process" in result.message
    assert result.cases[1].message.startswith("not run:")


def test_without_fork_the_cases_run_in_process_under_the_alarm(monkeypatch):
    import os

    from utils import checks

    def refused():
        raise OSError("fork refused")

    monkeypatch.setattr(checks, "CASE_TIME_LIMIT_SECONDS", 0.2)
    monkeypatch.setattr(os, "fork", refused)
    state = []

    def counted(logits, axis=-1):
        state.append(1)
        return logsumexp(logits, axis=axis)

    result = check("02.logsumexp", counted)
    assert result.status == "passed"
    assert len(state) == result.total

    def endless(logits, axis=-1):
        while True:
            pass

    assert "TimeoutError" in check("02.logsumexp", endless).message
    monkeypatch.delattr(os, "fork")
    assert check("02.logsumexp", counted).status == "passed"


def test_the_time_limit_keeps_an_outer_timer_running(monkeypatch):
    import signal

    from utils import checks

    monkeypatch.setattr(checks, "CASE_TIME_LIMIT_SECONDS", 0.2)
    fired = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
    try:
        signal.setitimer(signal.ITIMER_REAL, 30.0)
        assert checks.check("02.logsumexp", logsumexp).status == "passed"
        remaining, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 0 < remaining <= 30.0
        assert not fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_outside_the_main_thread_the_case_runs_without_a_limit():
    import threading

    from utils import checks

    results = []
    worker = threading.Thread(target=lambda: results.append(check("02.logsumexp", logsumexp)))
    worker.start()
    worker.join()
    assert results[0].status == "passed"
    assert checks.CASE_TIME_LIMIT_SECONDS == 3.0


# --- Tolerances that follow the numbers ----------------------------------------


def test_float32_work_on_float64_scores_passes_and_float16_work_fails():
    assert run(SOFTMAX, lambda z: softmax(np.asarray(z, np.float32))).status == "passed"
    tight = Exercise(**{**SOFTMAX.__dict__, "rtol": 1e-12, "atol": 1e-15})
    assert run(tight, lambda z: softmax(np.asarray(z, np.float32))).status == "passed"
    float16 = run(tight, lambda z: softmax(np.asarray(z, np.float16)))
    assert float16.status == "failed"
    assert "float16 keeps only about 3 digits: compute in float32 or float64" in float16.message


def test_log_probabilities_may_be_off_by_ulps_of_the_largest_score():
    scores = np.array([10000.0, 9999.0, 9998.0], dtype=np.float32)
    spec = Exercise(
        **{**LOG_SOFTMAX.__dict__, "visible_cases": (Case(args=(scores,), label="near 1e4"),)}
    )

    def through_logsumexp(logits):
        return logits - logsumexp(logits, keepdims=True)

    assert not np.allclose(through_logsumexp(scores), log_softmax(scores), rtol=1e-6, atol=0)
    assert run(spec, through_logsumexp).status == "failed"  # held to a few ulps of the result
    scaled = Exercise(**{**spec.__dict__, "input_scaled_tolerance": True})
    assert run(scaled, through_logsumexp).status == "passed"
    missing_normalizer = run(scaled, lambda logits: logits - logits.max())
    assert missing_normalizer.status == "failed"


def test_a_failed_comparison_states_the_tolerance():
    message = run(LOGSUMEXP, lambda z: logsumexp(z) + np.array([1e-3, 0.0, 0.0])).message
    assert message.startswith(
        'case "a batch of three rows": 1 of 3 values of the result differ from the reference '
        "at position 0 (worst at 0: off by 1e-3, relative 3e-4; allowed there 3e-6 = 1e-6 "
        "relative + 1e-9 absolute for float64 work)."
    )


def test_rounded_values_are_named_only_when_they_are_the_rounded_answer():
    assert "rounded to 3 significant digits" in run(VALUE, 0.123).message
    assert "rounded" not in run(VALUE, 0.124).message
    assert run(VALUE, 0.1234560000001).status == "passed"


# --- Messages that describe what came back -------------------------------------


def test_a_tuple_is_named_a_tuple_not_an_array():
    message = run(SOFTMAX, lambda z: (softmax(z), z)).message
    assert "the result is a tuple of 2 items; expected an array of numbers: return only that" in (
        message
    )


def test_an_object_array_and_a_numeric_array_are_described_as_such():
    pair = Exercise(
        id="99.pair",
        title="A pair",
        points=1,
        answer_name="pair",
        kind="function",
        reference=lambda z: (np.asarray(z) * 2, 1.0),
        visible_cases=(Case(args=(np.array([1.0, 2.0]),), label="two numbers"),),
    )
    message = run(pair, lambda z: z * 2).message
    assert "an array of float64 numbers of shape (2,); expected a tuple of 2 items" in message
    ragged = run(SOFTMAX, lambda z: np.array([z, "x"], dtype=object)).message
    assert "an array of Python objects (dtype object), not numbers" in ragged


def test_a_reduction_that_lost_its_axis_is_named_from_the_shapes():
    wide = Exercise(
        **{**SOFTMAX.__dict__, "visible_cases": (Case(args=(MATRIX[:2],), label="two rows"),)}
    )
    message = run(wide, lambda z: np.exp(z) / np.exp(z).sum(axis=-1)).message
    assert "the shape (2,) is (2, 3) without axis 1: a sum or max over that axis lost it" in message
    other = run(wide, lambda z: np.exp(z) / np.ones((7,))).message
    assert "without axis" not in other


def test_a_missed_infinity_is_named_at_its_position():
    scores = np.array([0.0, -np.inf, 1.0])
    spec = Exercise(
        **{**LOG_SOFTMAX.__dict__, "visible_cases": (Case(args=(scores,), label="masked"),)}
    )
    message = run(spec, lambda z: np.nan_to_num(log_softmax(z))).message
    assert message.startswith(
        'case "masked": the result is not -inf at position 1, where the expected value '
    )
    assert "overflow" not in message


def test_the_spec_can_say_what_size_the_computed_numbers_have():
    scores = np.array([5.0, 4.97, 4.9])
    spec = Exercise(
        id="99.temperature",
        title="Temperature",
        points=1,
        answer_name="apply_temperature",
        kind="function",
        reference=lambda logits, temperature: softmax(logits / temperature),
        visible_cases=(Case(args=(scores, 0.03), label="T = 0.03"),),
        rtol=1e-9,
        atol=1e-12,
    )

    def in_float32(logits, temperature):
        return softmax(np.float32(logits) / np.float32(temperature))

    worst = np.max(np.abs(in_float32(scores, 0.03) - softmax(scores / 0.03)))
    assert worst > 4 * np.finfo(np.float32).eps * np.max(np.abs(scores))
    assert run(spec, in_float32).status == "failed"
    sized = Exercise(**{**spec.__dict__, "input_scale": lambda case: 5.0 / 0.03})
    assert run(sized, in_float32).status == "passed"
    assert run(sized, lambda logits, temperature: softmax(logits)).status == "failed"


def test_a_diagnosis_can_be_required_to_hold_on_every_failing_case():
    def diagnose(case, expected, got):
        (scores,) = case.args
        if int(got) == 0:
            return "you took the first"
        if int(got) == len(scores) - 1:
            return "you took the last"
        return None

    spec = Exercise(
        id="99.pick",
        title="Pick",
        points=1,
        answer_name="pick",
        kind="function",
        reference=lambda scores: np.argmax(scores),
        visible_cases=(
            Case(args=(np.array([0.0, 5.0, 1.0]),), label="middle"),
            Case(args=(np.array([0.0, 5.0, 1.0, 2.0]),), label="second of four"),
        ),
        diagnose=diagnose,
    )
    plain = "the result differs from the reference."
    # By default each case names what it matches, coincidence or not.
    wobbly = run(spec, lambda scores: 0 if len(scores) == 3 else 3)
    assert [case.message for case in wobbly.cases] == ["you took the first", "you took the last"]
    strict = Exercise(**{**spec.__dict__, "consistent_diagnosis": True})
    wobbly = run(strict, lambda scores: 0 if len(scores) == 3 else 3)
    assert [case.message for case in wobbly.cases] == [plain, plain]
    assert run(strict, lambda scores: len(scores) - 1).cases[1].message == "you took the last"
    assert run(strict, lambda scores: 0).message.startswith('case "middle": you took the first')


def test_a_consistent_diagnosis_names_the_mistake_common_to_every_case_and_no_passed_one():
    def criteria(case):
        (scores,) = case.args
        return [("the smallest", int(np.argmin(scores))), ("the last", len(scores) - 1)]

    def diagnose(case, expected, got):
        return [message for message, row in criteria(case) if int(got) == row] or None

    spec = Exercise(
        id="99.pick",
        title="Pick",
        points=1,
        answer_name="pick",
        kind="function",
        reference=lambda scores: np.argmax(scores),
        visible_cases=(
            Case(args=(np.array([5.0, 2.0, 0.0]),), label="smallest is last"),
            Case(args=(np.array([5.0, 0.0, 2.0]),), label="smallest in the middle"),
            Case(args=(np.array([0.0, 5.0, 1.0]),), label="largest in the middle"),
        ),
        diagnose=diagnose,
        consistent_diagnosis=True,
        differing_mistakes=lambda case: [
            message for message, row in criteria(case) if row != np.argmax(case.args[0])
        ],
    )
    # On the first case both mistakes coincide: the other cases tell them apart.
    smallest = run(spec, lambda scores: int(np.argmin(scores)))
    assert [case.message for case in smallest.cases] == ["the smallest"] * 3
    last = run(spec, lambda scores: len(scores) - 1)
    assert last.cases[0].message == "the last"
    # An answer that is "the last" on the first two cases but passes a case where the last
    # row is wrong is not that mistake: the plain message.
    plain = "the result differs from the reference."
    sometimes = run(spec, lambda scores: 1 if scores[1] == 5.0 else 2)
    assert sometimes.cases[2].status == "passed"
    assert [case.message for case in sometimes.cases[:2]] == [plain, plain]
    without = Exercise(**{**spec.__dict__, "differing_mistakes": None})
    assert run(without, lambda scores: 1 if scores[1] == 5.0 else 2).cases[0].message == "the last"
