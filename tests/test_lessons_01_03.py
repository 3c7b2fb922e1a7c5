"""The exercise specs of lessons 01–03: references pass, mistakes are named.

For every exercise: the reference passes its visible cases and hidden cases
for several seeds; realistic wrong answers fail with the diagnostic meant for
them (and never see the expected value); hidden cases are random, adversarial
and reproducible per seed. Lesson 02's tolerance is derived from float16 and
must let a correct float16 implementation through on every hidden case.
"""

from __future__ import annotations

import numpy as np
import pytest

from utils import check, exercises
from utils.checks import evaluate, run_case
from utils.exercises import Case, lesson01, lesson02, lesson03
from utils.probability import log_softmax, softmax

LESSONS = ("01", "02", "03")
SEEDS = (0, 1, 2, 3, 4)
SPECS = [spec for lesson in LESSONS for spec in exercises.for_lesson(lesson)]


def _grade(spec, answer, cases) -> list:
    """The per-case reports of `answer` on `cases`, as the grader would see them."""
    result = evaluate(spec, cases, [run_case(answer, spec, case) for case in cases])
    return list(result.cases)


# --- every exercise -----------------------------------------------------------


def test_the_lessons_define_the_planned_exercises():
    assert {spec.id: spec.points for spec in SPECS} == {
        "01.softmax": 2,
        "01.candidate_probability": 1,
        "01.ordered_selection_probability": 2,
        "02.stable_softmax": 2,
        "02.logsumexp": 2,
        "02.log_softmax": 2,
        "03.predict_shift": 1,
        "03.predict_peaked": 2,
        "03.apply_temperature": 2,
        "03.temperature_for_confidence": 3,
        "03.predict_tie_limit": 1,
        "03.entropy": 2,
    }


def _reference_answer(spec):
    return spec.reference() if spec.kind == "value" else spec.reference


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.id)
def test_reference_passes_visible_and_hidden_cases(spec):
    result = check(spec.id, _reference_answer(spec))
    assert result.status == "passed", result.text
    assert "emitted" not in result.message, result.text
    for seed in SEEDS:
        cases = spec.draw_hidden_cases(seed)
        if spec.kind == "value":
            assert cases == []
            continue
        assert len(cases) >= 6
        reports = _grade(spec, spec.reference, cases)
        assert all(report.status == "passed" for report in reports), reports


def _same_cases(first, second) -> bool:
    if len(first) != len(second):
        return False
    for a, b in zip(first, second, strict=True):
        if a.label != b.label or a.kwargs != b.kwargs or len(a.args) != len(b.args):
            return False
        for x, y in zip(a.args, b.args, strict=True):
            x, y = np.asarray(x), np.asarray(y)
            if x.dtype != y.dtype or not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
                return False
    return True


@pytest.mark.parametrize(
    "spec", [s for s in SPECS if s.hidden_cases is not None], ids=lambda spec: spec.id
)
def test_hidden_cases_are_deterministic_per_seed_and_differ_between_seeds(spec):
    assert _same_cases(spec.draw_hidden_cases(7), spec.draw_hidden_cases(7))
    assert not _same_cases(spec.draw_hidden_cases(7), spec.draw_hidden_cases(8))


# --- realistic mistakes and the diagnostic each one gets -----------------------


def _softmax_exp_only(logits):
    return np.exp(logits)


def _softmax_axis0(logits):
    exponentials = np.exp(logits)
    return exponentials / exponentials.sum(axis=0, keepdims=True)


def _softmax_whole_array(logits):
    exponentials = np.exp(logits)
    return exponentials / exponentials.sum()


def _softmax_divide_by_sum(logits):
    return logits / logits.sum(axis=-1, keepdims=True)


def _ordered_with_replacement(scores, order):
    return float(np.prod(softmax(scores)[order]))


def _ordered_first_pick_only(scores, order):
    return float(softmax(scores)[order[0]])


def _ordered_log(scores, order):
    return float(np.log(lesson01.ordered_selection_reference(scores, order)))


def _ordered_reversed(scores, order):
    return lesson01.ordered_selection_reference(scores, list(order)[::-1])


def _naive_softmax(logits, axis=-1):
    exponentials = np.exp(logits)
    return exponentials / exponentials.sum(axis=axis, keepdims=True)


def _softmax_global_max(logits, axis=-1):
    exponentials = np.exp(logits - np.max(logits))
    return exponentials / exponentials.sum(axis=axis, keepdims=True)


def _softmax_unnormalized(logits, axis=-1):
    return np.exp(logits - np.max(logits, axis=axis, keepdims=True))


def _softmax_in_float64(logits, axis=-1):
    scores = np.asarray(logits, dtype=float)
    exponentials = np.exp(scores - scores.max(axis=axis, keepdims=True))
    return exponentials / exponentials.sum(axis=axis, keepdims=True)


def _softmax_ignores_axis(logits, axis=-1):
    return softmax(logits, axis=-1)


def _logsumexp_naive(logits, axis=-1):
    return np.log(np.sum(np.exp(logits), axis=axis))


def _logsumexp_forgets_max(logits, axis=-1):
    row_max = np.max(logits, axis=axis, keepdims=True)
    return np.log(np.sum(np.exp(logits - row_max), axis=axis))


def _logsumexp_global_max(logits, axis=-1):
    global_max = np.max(logits)
    return global_max + np.log(np.sum(np.exp(logits - global_max), axis=axis))


def _logsumexp_keepdims(logits, axis=-1):
    row_max = np.max(logits, axis=axis, keepdims=True)
    return row_max + np.log(np.sum(np.exp(logits - row_max), axis=axis, keepdims=True))


def _logsumexp_log2(logits, axis=-1):
    row_max = np.max(logits, axis=axis, keepdims=True)
    return np.squeeze(row_max, axis=axis) + np.log2(np.sum(np.exp(logits - row_max), axis=axis))


def _log_softmax_probabilities(logits, axis=-1):
    return softmax(logits, axis=axis)


def _log_softmax_log_of_softmax(logits, axis=-1):
    return np.log(softmax(logits, axis=axis))


def _log_softmax_shift_only(logits, axis=-1):
    return logits - np.max(logits, axis=axis, keepdims=True)


def _log_softmax_negated(logits, axis=-1):
    return -log_softmax(logits, axis=axis)


def _temperature_multiplied(logits, temperature):
    return softmax(logits * temperature)


def _temperature_subtracted(logits, temperature):
    return softmax(logits - temperature)


def _temperature_naive(logits, temperature):
    exponentials = np.exp(logits / temperature)
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def _temperature_scaled_scores(logits, temperature):
    return logits / temperature


def _entropy_terms(probs):
    safe = np.where(probs > 0, probs, 1.0)
    return -probs * np.log(safe)


def _entropy_naive(probs):
    return -np.sum(probs * np.log(probs), axis=-1)


def _entropy_bits(probs):
    return _entropy_terms(probs).sum(axis=-1) / np.log(2)


def _entropy_negated(probs):
    return -_entropy_terms(probs).sum(axis=-1)


def _entropy_axis0(probs):
    return _entropy_terms(probs).sum(axis=0)


def _entropy_whole_array(probs):
    return _entropy_terms(probs).sum()


_CANDIDATE_LOGITS = np.array(lesson01.CANDIDATE_LOGITS)
_RUG = lesson01.CANDIDATE_VOCABULARY.index("rug")
_IN_STOCK = np.isin(lesson01.CANDIDATE_VOCABULARY, lesson01.CANDIDATES)

MISTAKES = [
    ("01.softmax", _softmax_exp_only, "you returned exp(z) itself"),
    ("01.softmax", _softmax_axis0, "you normalized along axis 0"),
    ("01.softmax", _softmax_whole_array, "you normalized over the whole array"),
    ("01.softmax", _softmax_divide_by_sum, "without exponentiating"),
    (
        "01.candidate_probability",
        float(softmax(_CANDIDATE_LOGITS)[_RUG]),
        "probability over the whole vocabulary",
    ),
    (
        "01.candidate_probability",
        float(log_softmax(_CANDIDATE_LOGITS, mask=_IN_STOCK)[_RUG]),
        "that is a log-probability",
    ),
    ("01.candidate_probability", 0.6652, "that is the probability of 'mat'"),
    ("01.ordered_selection_probability", _ordered_with_replacement, "leaves the pool"),
    ("01.ordered_selection_probability", _ordered_first_pick_only, "first pick's probability"),
    ("01.ordered_selection_probability", _ordered_log, "log of the probability"),
    ("01.ordered_selection_probability", _ordered_reversed, "reverse order"),
    ("02.stable_softmax", _naive_softmax, "exp overflowed to inf"),
    ("02.stable_softmax", _softmax_global_max, "each slice's own maximum"),
    ("02.stable_softmax", _softmax_unnormalized, "without normalizing"),
    ("02.stable_softmax", _softmax_in_float64, "has dtype float64; expected float32"),
    ("02.stable_softmax", _softmax_ignores_axis, "along axis 0"),
    ("02.logsumexp", _logsumexp_naive, "exp overflowed"),
    ("02.logsumexp", _logsumexp_global_max, "each slice's own maximum"),
    ("02.logsumexp", _logsumexp_forgets_max, "did not add the maximum m back"),
    ("02.logsumexp", _logsumexp_keepdims, "expected a single number"),
    ("02.logsumexp", _logsumexp_log2, "natural logarithm"),
    ("02.log_softmax", _log_softmax_probabilities, "you returned probabilities"),
    ("02.log_softmax", _log_softmax_log_of_softmax, "log(0) gave -inf"),
    ("02.log_softmax", _log_softmax_shift_only, "z - max(z) and stopped"),
    ("02.log_softmax", _log_softmax_negated, "the sign is flipped"),
    ("03.predict_shift", 1.0, "larger scores do not mean more confidence"),
    ("03.predict_shift", 0.333, "does not flatten the distribution either"),
    ("03.apply_temperature", _temperature_multiplied, "you multiplied the scores"),
    ("03.apply_temperature", _temperature_subtracted, "does not change with the temperature"),
    ("03.apply_temperature", _temperature_naive, "exp overflowed"),
    ("03.apply_temperature", _temperature_scaled_scores, "scaled scores z / T"),
    ("03.predict_tie_limit", 1.0, "two tokens share it"),
    ("03.predict_tie_limit", 1 / 3, "T -> infinity"),
    ("03.predict_tie_limit", 0.0, "lowest score's probability"),
    ("03.entropy", _entropy_naive, "0 log 0 = 0"),
    ("03.entropy", _entropy_bits, "entropy in bits"),
    ("03.entropy", _entropy_negated, "the sign is flipped"),
    ("03.entropy", _entropy_axis0, "summed along axis 0"),
    ("03.entropy", _entropy_whole_array, "summed over the whole array"),
    ("03.entropy", _entropy_terms, "an array of shape (4,); expected a single number"),
    ("03.predict_peaked", "a", "not (a): the order is the same, but the gaps are not"),
    ("03.temperature_for_confidence", float(1 / np.log(9)), "gives cat 0.9 against dog alone"),
    ("03.temperature_for_confidence", 2.2933755059552188, "the factor 1/T"),
    ("03.predict_peaked", "e", "not (e): adding the same number to every score changes nothing"),
    ("03.predict_peaked", "d", "not (d): a probability ratio grows exponentially with the gap"),
]


def _mistake_id(mistake) -> str:
    exercise_id, answer, _ = mistake
    name = getattr(answer, "__name__", repr(answer)).lstrip("_")
    return f"{exercise_id}-{name}"


@pytest.mark.parametrize("mistake", MISTAKES, ids=_mistake_id)
def test_a_realistic_mistake_fails_with_its_diagnostic(mistake):
    exercise_id, answer, expected_text = mistake
    result = check(exercise_id, answer)
    assert result.status == "failed", result.text
    assert expected_text in result.message, result.text
    spec = exercises.get(exercise_id)
    if spec.kind == "value" and isinstance(spec.reference(), str):
        assert f"({spec.reference()})" not in result.message, "the answer leaked"
    elif spec.kind == "value":
        expected = spec.reference()
        for digits in (3, 4, 6):
            assert f"{expected:.{digits}f}" not in result.message, "the answer leaked"


NON_FINITE_MISTAKES = [
    ("02.stable_softmax", _softmax_global_max, "two rows far apart (float32)", "own maximum"),
    ("02.logsumexp", _logsumexp_global_max, "two rows far apart (float32)", "own maximum"),
    ("03.entropy", _entropy_naive, "a token with probability exactly 0", "0 log 0 = 0"),
]


@pytest.mark.parametrize(
    ("exercise_id", "answer", "label", "expected_text"),
    NON_FINITE_MISTAKES,
    ids=[m[0] for m in NON_FINITE_MISTAKES],
)
def test_diagnose_explains_the_nan_or_inf_of_a_typical_mistake(
    exercise_id, answer, label, expected_text
):
    # The exercise's own explanation of inf/NaN, asked directly.
    spec = exercises.get(exercise_id)
    case = next(case for case in spec.visible_cases if case.label == label)
    with np.errstate(all="ignore"):
        got = answer(*case.args, **case.kwargs)
    assert not np.isfinite(got).all()
    expected = spec.reference(*case.args, **case.kwargs)
    assert expected_text in spec.diagnose(case, expected, got)
    assert spec.diagnose(case, expected, expected) is None


@pytest.mark.parametrize(
    "spec", [s for s in SPECS if s.diagnose is not None], ids=lambda spec: spec.id
)
def test_diagnose_never_explains_a_right_answer_as_a_mistake(spec):
    cases = list(spec.check_cases)
    for seed in SEEDS:
        cases += spec.draw_hidden_cases(seed)
    for case in cases:
        if spec.kind == "value":
            expected = spec.reference()
        else:
            expected = spec.reference(*case.args, **case.kwargs)
        assert spec.diagnose(case, expected, expected) is None, case.label


def test_every_exercise_has_at_least_two_named_mistakes():
    for spec in SPECS:
        assert len([m for m in MISTAKES if m[0] == spec.id]) >= 2, spec.id


# --- lesson 02: adversarial hidden cases and a float16-derived tolerance -------


def _float16_native_softmax(logits, axis=-1):
    # Every step in the input's dtype, as a learner would write it.
    shifted = logits - np.max(logits, axis=axis, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / np.sum(exponentials, axis=axis, keepdims=True)


def _float16_native_logsumexp(logits, axis=-1):
    row_max = np.max(logits, axis=axis, keepdims=True)
    return np.squeeze(row_max, axis=axis) + np.log(np.sum(np.exp(logits - row_max), axis=axis))


def _float16_native_log_softmax(logits, axis=-1):
    shifted = logits - np.max(logits, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


NATIVE = {
    "02.stable_softmax": _float16_native_softmax,
    "02.logsumexp": _float16_native_logsumexp,
    "02.log_softmax": _float16_native_log_softmax,
}


@pytest.mark.parametrize("exercise_id", sorted(NATIVE))
def test_a_correct_implementation_in_the_input_dtype_passes_every_hidden_case(exercise_id):
    spec = exercises.get(exercise_id)
    cases = [case for seed in range(40) for case in spec.draw_hidden_cases(seed)]
    assert {np.asarray(case.args[0]).dtype.name for case in cases} == {
        "float16",
        "float32",
        "float64",
    }
    reports = _grade(spec, NATIVE[exercise_id], cases)
    failed = [report for report in reports if report.status != "passed"]
    assert not failed, failed[:3]


@pytest.mark.parametrize("exercise_id", sorted(NATIVE))
def test_hidden_cases_catch_the_naive_formula_for_every_seed(exercise_id):
    spec = exercises.get(exercise_id)
    naive = {
        "02.stable_softmax": _naive_softmax,
        "02.logsumexp": _logsumexp_naive,
        "02.log_softmax": _log_softmax_log_of_softmax,
    }[exercise_id]
    for seed in SEEDS:
        reports = _grade(spec, naive, spec.draw_hidden_cases(seed))
        assert any(report.status == "failed" for report in reports), seed


def test_lesson02_hidden_cases_vary_dtype_shape_axis_and_masking():
    cases = [
        case for seed in range(20) for case in lesson02._hidden_cases(np.random.default_rng(seed))
    ]
    arrays = [np.asarray(case.args[0]) for case in cases]
    assert {array.ndim for array in arrays} == {1, 2, 3}
    assert len({case.kwargs["axis"] for case in cases}) >= 4
    assert any(np.isneginf(array).any() for array in arrays)
    for case, array in zip(cases, arrays, strict=True):
        # Every slice keeps a finite score, and no score is +inf or NaN.
        assert not np.isnan(array).any()
        assert not np.isposinf(array).any()
        assert np.isfinite(array).any(axis=case.kwargs["axis"]).all(), case.label
    largest = max(float(np.max(np.abs(array[np.isfinite(array)]))) for array in arrays)
    assert largest > lesson02.EXP_OVERFLOW_THRESHOLD[np.dtype(np.float64)]


@pytest.mark.parametrize(
    ("dtype", "relative_error", "status"),
    [
        (np.float64, 2e-7, "failed"),  # far above what float64 resolves
        (np.float32, 2e-7, "passed"),  # about one float32 ulp
        (np.float32, 1e-5, "failed"),
        (np.float16, 1e-3, "passed"),  # about one float16 ulp
    ],
)
def test_lesson02_holds_each_case_to_what_its_dtype_can_resolve(dtype, relative_error, status):
    spec = exercises.get("02.stable_softmax")
    for other in exercises.for_lesson("02"):
        assert other.check_dtype
    case = Case(args=(np.array([2.0, 1.0, 0.0], dtype=dtype),), label="three tokens")

    def nudged(logits, axis=-1):
        return (softmax(logits, axis=axis) * (1 + relative_error)).astype(logits.dtype)

    result = evaluate(spec, [case], [run_case(nudged, spec, case)])
    assert result.status == status, result.message


# --- value exercises and their data --------------------------------------------


def test_candidate_probability_is_the_softmax_over_the_candidates_only():
    exponentials = np.exp(_CANDIDATE_LOGITS)
    by_hand = exponentials[_RUG] / exponentials[_IN_STOCK].sum()
    assert lesson01.candidate_probability_reference() == pytest.approx(by_hand, rel=1e-12)


def test_predict_exercises_accept_a_three_decimal_prediction():
    assert check("03.predict_shift", round(lesson03.predict_shift_reference(), 3)).status == (
        "passed"
    )
    assert check("03.predict_tie_limit", 0.5).status == "passed"
    assert check("03.predict_shift", 0.67).status == "failed"


def test_plackett_luce_probabilities_of_all_orders_sum_to_one():
    from itertools import permutations

    scores = np.array([1.5, -0.5, 3.0, 0.0])
    total = sum(
        lesson01.ordered_selection_reference(scores, list(order))
        for order in permutations(range(4))
    )
    assert total == pytest.approx(1.0, abs=1e-12)
