"""Exercises of lesson 02, "Overflow, underflow and log-sum-exp".

* ``02.stable_softmax``: softmax that survives any finite scores.
* ``02.logsumexp``: log(sum(exp(z))) without overflow.
* ``02.log_softmax``: log-probabilities without taking the log of a 0.

Every case is adversarial somewhere: scores beyond where `exp` overflows
(about 11.09 in float16, 88.72 in float32, 709.78 in float64), scores so
negative that every `exp` underflows to 0, tokens so unlikely that their
probability underflows while their log-probability is an ordinary number,
-inf entries (masked tokens), batches whose rows live at very different
magnitudes, and an `axis` argument. Results must keep the input's float
dtype. The hidden cases draw every one of these regimes on each seed, with
random dtypes, shapes and axes.

Tolerance: the spec's rtol/atol are for float64; `check` holds each case to
what its float dtype resolves: 4 eps relative and 2 eps absolute (float16:
eps = 2**-10, float32: 2**-23). `log_softmax` may also be off by 4 eps of the
case's largest |score| absolutely, and so may `stable_softmax`:
z - logsumexp(z) subtracts two numbers as large as the scores, so in float32
on scores near 1e4 a correct answer is off by about 1e-3 (that formula, and
exp(z - logsumexp(z)), are right; the max-shifted one is merely more
accurate there). Every mistake these exercises look for is off by far more.

>>> import numpy as np
>>> from utils.exercises import get
>>> round(float(get("02.logsumexp").reference(np.array([1000.0, 1000.0]))), 4)
1000.6931
"""

from __future__ import annotations

import numpy as np

from utils.exercises._matching import as_float64, first_matching_mistake
from utils.exercises._spec import Case, Exercise
from utils.probability import log_softmax, logsumexp, softmax

__all__ = ["EXERCISES", "EXP_OVERFLOW_THRESHOLD", "EXP_UNDERFLOW_THRESHOLD"]

# Float64 tolerances; `check` widens them to 4 and 2 eps of a float32 or
# float16 case's dtype, so every case is held to what its dtype can resolve.
_RTOL = 1e-9
_ATOL = 1e-12

# The largest x whose exp(x) is finite, per dtype: log(finfo.max).
EXP_OVERFLOW_THRESHOLD = {
    np.dtype(dtype): float(np.log(np.finfo(dtype).max))
    for dtype in (np.float16, np.float32, np.float64)
}
# -x for the largest x whose exp(x) rounds to 0: exp underflows below -this.
EXP_UNDERFLOW_THRESHOLD = {
    np.dtype(dtype): float(np.log(2.0) - np.log(np.float64(np.finfo(dtype).smallest_subnormal)))
    for dtype in (np.float16, np.float32, np.float64)
}


def _scores_and_axis(case: Case):
    """The case's scores (as float64) and its axis, as the answer received them."""
    scores = np.asarray(case.args[0])
    axis = case.kwargs.get("axis", case.args[1] if len(case.args) > 1 else -1)
    return scores.astype(np.float64), axis


# ---------------------------------------------------------------- the cases


def _f16(*values) -> np.ndarray:
    return np.array(values, dtype=np.float16)


def _f32(*values) -> np.ndarray:
    return np.array(values, dtype=np.float32)


def _f64(*values) -> np.ndarray:
    return np.array(values, dtype=np.float64)


_INF = np.inf

# Rows at very different magnitudes: subtracting one global maximum (instead
# of each row's own) sends the second row to exp(-2000) = 0 and then 0/0.
_ROWS_FAR_APART = np.array([[1000.0, 999.0, 998.0], [-1000.0, -1001.0, -1002.0]], np.float32)

# One distribution per column (axis=0), beyond float64's exp limit of 709.78.
_COLUMNS = np.array([[500.0, -3.0], [800.0, -1.0], [799.0, -2.0]])

# A (batch, position, vocab)-like array normalized over the middle axis.
_MIDDLE_AXIS = np.array(
    [[[1.0, 90.0], [2.0, 91.0], [3.0, 89.0]], [[-5.0, 0.5], [-6.0, -0.5], [-7.0, 100.0]]],
    dtype=np.float32,
)

_SHARED_CASES = (
    Case(args=(_f64(2.0, 1.0, 0.0),), label="cat, dog, mat: scores 2, 1, 0"),
    Case(args=(_f64(1000.0, 999.0, 998.0),), label="scores near 1000 (float64)"),
    # Shifting by the mean (or the minimum) still overflows here: only the maximum works.
    Case(args=(_f64(800.0, 0.0, -800.0),), label="a row spread wider than exp's range (float64)"),
    Case(args=(_f32(10000.0, 9999.0, 9998.0),), label="scores near +1e4 (float32)"),
    Case(args=(_f32(-10000.0, -10001.0, -10002.0),), label="scores near -1e4 (float32)"),
    Case(args=(_f16(65504.0, 65504.0, 65472.0),), label="float16 scores near its maximum 65504"),
    Case(args=(_f64(0.0, -_INF, 1.0, -_INF),), label="masked tokens scored -inf"),
    Case(args=(_ROWS_FAR_APART,), label="two rows far apart (float32)"),
    Case(args=(_COLUMNS,), kwargs={"axis": 0}, label="axis=0: one distribution per column"),
    Case(args=(_MIDDLE_AXIS,), kwargs={"axis": 1}, label="axis=1 of a 3-d array (float32)"),
)

# log_softmax also meets a token so unlikely that its probability underflows
# to 0 in float32 while its log-probability (-200) is an ordinary number.
_UNLIKELY_TOKEN = Case(args=(_f32(0.0, -200.0),), label="a very unlikely token (float32)")


# How the hidden cases break the naive formulas; every draw uses each regime.
_REGIMES = ("overflow", "underflow", "near maximum", "rows far apart", "unlikely tokens")


def _random_logits(rng: np.random.Generator, regime: str):
    """(scores, axis, description): random dtype, shape and axis in one regime."""
    dtype = np.dtype(rng.choice(["float16", "float32", "float64"]))
    ndim = int(rng.integers(1, 4))
    shape = [int(size) for size in rng.integers(1, 6, size=ndim)]
    axis = int(rng.integers(-ndim, ndim))
    if regime == "unlikely tokens":
        shape[axis] = max(shape[axis], 2)
    shape = tuple(shape)
    threshold = EXP_OVERFLOW_THRESHOLD[dtype]
    largest = float(np.finfo(dtype).max)
    noise = rng.uniform(0.5, 20.0) * rng.standard_normal(shape)
    if regime == "overflow":
        scores = rng.uniform(1.5, 40.0) * threshold + noise
    elif regime == "underflow":
        scores = -rng.uniform(1.5, 40.0) * threshold + noise
    elif regime == "near maximum":
        # Close to the largest finite float16; far beyond exp's limit for the others.
        top = {"float16": largest, "float32": 1e6, "float64": 1e9}[dtype.name]
        scores = rng.uniform(0.5, 0.9) * top + noise * max(
            1.0, float(np.spacing(dtype.type(top / 2)))
        )
    elif regime == "rows far apart":
        # Each slice along `axis` gets its own offset, some huge, some tiny.
        offsets_shape = list(shape)
        offsets_shape[axis] = 1
        scores = rng.uniform(-30.0, 30.0, size=offsets_shape) * threshold + noise
    else:
        # The last token of every slice sits so far below the others that its
        # probability underflows to 0, while its log-probability is finite.
        scores = rng.uniform(-1.0, 1.0) * threshold + noise
        last = [slice(None)] * ndim
        last[axis] = -1
        depth = rng.uniform(1.3, 3.0, size=scores[tuple(last)].shape)
        scores[tuple(last)] = scores.max(axis=axis) - depth * EXP_UNDERFLOW_THRESHOLD[dtype]
    scores = np.clip(scores, -0.95 * largest, 0.95 * largest).astype(dtype)
    if rng.random() < 0.4:
        # Mask some tokens with -inf, but keep a finite score in every slice.
        masked = rng.random(shape) < 0.3
        first = [slice(None)] * ndim
        first[axis] = 0
        masked[tuple(first)] &= ~masked.all(axis=axis)
        scores[masked] = -np.inf
    return scores, axis, f"{regime}, {dtype}, shape {shape}, axis {axis}"


def _hidden_cases(rng: np.random.Generator, count: int = 8) -> list[Case]:
    """`count` cases: every regime once, the rest drawn at random, in random order."""
    extra = rng.choice(len(_REGIMES), size=max(0, count - len(_REGIMES)))
    regimes = [_REGIMES[i] for i in rng.permutation([*range(len(_REGIMES)), *extra])]
    cases = []
    for index, regime in enumerate(regimes[:count]):
        scores, axis, description = _random_logits(rng, regime)
        cases.append(
            Case(args=(scores,), kwargs={"axis": axis}, label=f"random #{index + 1}: {description}")
        )
    return cases


# ---------------------------------------------------------- 02.stable_softmax


def stable_softmax_reference(logits, axis=-1):
    """softmax with the max-shift: exp(z - max) / sum(exp(z - max))."""
    return softmax(logits, axis=axis)


def _far_below_global_max(case: Case) -> np.ndarray:
    """Per slice (keepdims): is its maximum so far below the array's maximum
    that exp(z - global max) underflows to 0 for all of it?"""
    scores, axis = _scores_and_axis(case)
    dtype = np.asarray(case.args[0]).dtype
    limit = EXP_UNDERFLOW_THRESHOLD.get(dtype, EXP_UNDERFLOW_THRESHOLD[np.dtype(np.float64)])
    return np.max(scores) - np.max(scores, axis=axis, keepdims=True) > limit


_GLOBAL_MAX_MESSAGE = (
    "the slices whose scores sit far below the array's maximum came out {what}: you "
    "subtracted one maximum for the whole array. Subtract each slice's own maximum, "
    "taken along `axis` and kept as an axis of length 1."
)


def _first_match(got, expected, mistakes) -> str | None:
    return first_matching_mistake(got, expected, mistakes, rtol=_RTOL, atol=_ATOL, unique=True)


def _stable_softmax_diagnose(case: Case, expected, got) -> str | None:
    scores, axis = _scores_and_axis(case)
    values = as_float64(got)
    far = np.broadcast_to(_far_below_global_max(case), scores.shape)
    if values is not None and values.shape == scores.shape and far.any():
        # Reached when evaluate asks diagnose about non-finite results too.
        nan = np.isnan(values)
        if nan.any() and np.array_equal(nan, far & (scores > -np.inf)):
            return _GLOBAL_MAX_MESSAGE.format(what="as nan (0/0)")
    shifted = np.exp(scores - np.max(scores, axis=axis, keepdims=True))
    mistakes = [
        (
            shifted,
            "you returned exp(z - max) without normalizing; divide by its sum along the same axis.",
        )
    ]
    if scores.ndim > 1:
        mistakes.append(
            (
                shifted / shifted.sum(),
                "you normalized over the whole array; sum along `axis` only "
                "(with keepdims=True), one distribution per slice.",
            )
        )
    return _first_match(got, expected, mistakes)


STABLE_SOFTMAX = Exercise(
    id="02.stable_softmax",
    title="A softmax that never overflows",
    points=2,
    answer_name="stable_softmax",
    kind="function",
    reference=stable_softmax_reference,
    visible_cases=_SHARED_CASES,
    hidden_cases=_hidden_cases,
    rtol=_RTOL,
    atol=_ATOL,
    diagnose=_stable_softmax_diagnose,
    # exp(z - logsumexp(z)) is right too; in float32 near 1e4 it is off by ulps of |z|.
    input_scaled_tolerance=True,
    hints=(
        "Only differences between scores matter: subtracting the same number from every "
        "score of a slice leaves its softmax unchanged.",
        "Subtract each slice's own maximum along `axis` (keeping the axis, so it "
        "broadcasts) before exponentiating: the largest exponential is then exp(0) = 1 and "
        "cannot overflow. Then normalize along the same axis; keep the input's dtype.",
    ),
    check_dtype=True,
)


# --------------------------------------------------------------- 02.logsumexp


def logsumexp_reference(logits, axis=-1):
    """log(sum(exp(z))) along `axis`, computed as m + log(sum(exp(z - m)))."""
    return logsumexp(logits, axis=axis)


def _logsumexp_diagnose(case: Case, expected, got) -> str | None:
    scores, axis = _scores_and_axis(case)
    values = as_float64(got)
    far = np.squeeze(_far_below_global_max(case), axis=axis)
    # Reached when evaluate asks diagnose about non-finite results too.
    if (
        values is not None
        and values.shape == far.shape
        and far.any()
        and np.array_equal(np.isneginf(values), far)
    ):
        return _GLOBAL_MAX_MESSAGE.format(what="as -inf (log of 0)")
    row_max = np.max(scores, axis=axis)
    sums = np.sum(np.exp(scores - np.max(scores, axis=axis, keepdims=True)), axis=axis)
    other_base = "use the natural logarithm (np.log); the softmax's exponential is base e."
    return _first_match(
        got,
        expected,
        [
            (
                np.log(sums),
                "you computed log(sum(exp(z - m))) but did not add the maximum m back; "
                "log-sum-exp = m + log(sum(exp(z - m))).",
            ),
            (row_max + np.log2(sums), other_base),
            (row_max + np.log10(sums), other_base),
            (
                row_max - np.log(sums),
                "the sign is wrong: it is m + log(sum(exp(z - m))), not m - log(...).",
            ),
        ],
    )


LOGSUMEXP = Exercise(
    id="02.logsumexp",
    title="log-sum-exp without overflow",
    points=2,
    answer_name="logsumexp",
    kind="function",
    reference=logsumexp_reference,
    visible_cases=_SHARED_CASES,
    hidden_cases=_hidden_cases,
    rtol=_RTOL,
    atol=_ATOL,
    diagnose=_logsumexp_diagnose,
    hints=(
        "Factor the largest exponential out of the sum: log(sum(exp(z))) equals "
        "m + log(sum(exp(z - m))) for any number m.",
        "Take m as each slice's maximum along `axis`, sum the shifted exponentials along "
        "that axis, take the natural log, and add m back; the reduced axis is removed and "
        "the input's dtype kept.",
    ),
    check_dtype=True,
)


# ------------------------------------------------------------- 02.log_softmax


def log_softmax_reference(logits, axis=-1):
    """log(softmax(z)) computed as z - logsumexp(z): no log of 0."""
    return log_softmax(logits, axis=axis)


def _log_softmax_diagnose(case: Case, expected, got) -> str | None:
    scores, axis = _scores_and_axis(case)
    expected = np.asarray(expected, dtype=np.float64)
    shifted = scores - np.max(scores, axis=axis, keepdims=True)
    log_sums = np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    other_base = "use the natural logarithm (np.log) for the normalizer."
    return _first_match(
        got,
        expected,
        [
            (
                np.exp(expected),
                "you returned probabilities; this exercise wants log-probabilities "
                "(all <= 0), computed as z - logsumexp(z).",
            ),
            (
                shifted,
                "you returned z - max(z) and stopped; subtract log(sum(exp(z - max))) too, "
                "so that exp of the result sums to 1.",
            ),
            (-expected, "the sign is flipped: log-probabilities are <= 0."),
            (shifted - log_sums / np.log(2), other_base),
            (shifted - log_sums / np.log(10), other_base),
        ],
    )


LOG_SOFTMAX = Exercise(
    id="02.log_softmax",
    title="log-softmax in log space",
    points=2,
    answer_name="log_softmax",
    kind="function",
    reference=log_softmax_reference,
    visible_cases=(*_SHARED_CASES[:4], _UNLIKELY_TOKEN, *_SHARED_CASES[4:]),
    hidden_cases=_hidden_cases,
    rtol=_RTOL,
    atol=_ATOL,
    diagnose=_log_softmax_diagnose,
    input_scaled_tolerance=True,
    hints=(
        "log(exp(z_i) / sum(exp(z))) splits into z_i minus the log of the normalizer: no "
        "probability, and so no log of 0, is ever needed.",
        "From every score subtract its slice's log-sum-exp, computed stably with the "
        "maximum shift and keeping the reduced axis so that it broadcasts.",
    ),
    check_dtype=True,
)


EXERCISES = [STABLE_SOFTMAX, LOGSUMEXP, LOG_SOFTMAX]
