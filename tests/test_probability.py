"""utils.probability: hand-computed cases, properties against scipy.special, bad input."""

from __future__ import annotations

import inspect
import itertools
import math
import warnings

import numpy as np
import pytest
import scipy.special
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import utils
from utils import entropy, log_softmax, logsumexp, naive_softmax, softmax

FLOAT_DTYPES = [np.float16, np.float32, np.float64]


# --- tolerances derived from the dtype --------------------------------------------------------
def _eps(dtype) -> tuple[float, float]:
    """(eps of the dtype the result is stored in, eps of the dtype it is computed in)."""
    out = float(np.finfo(dtype).eps)
    compute = float(np.finfo(np.float32).eps) if dtype == np.float16 else out
    return out, compute


def probability_tolerance(dtype, n: int) -> dict:
    out, compute = _eps(dtype)
    tol = 2 * out + 16 * compute * math.sqrt(n)
    return {"rtol": tol, "atol": tol}


def log_tolerance(dtype, n: int) -> dict:
    out, compute = _eps(dtype)
    return {"rtol": 4 * compute + 2 * out, "atol": 16 * compute * (1 + math.log(n))}


# --- hand-computed three-token cases ---------------------------------------------------------
# z = [2, 1, 0]: exp(z) = [e^2, e, 1], sum = e^2 + e + 1 = 11.107337927...
THREE = np.array([2.0, 1.0, 0.0])
THREE_SUM = math.e**2 + math.e + 1
THREE_PROBS = np.array([math.e**2, math.e, 1.0]) / THREE_SUM


def test_softmax_of_three_tokens_matches_hand_computation():
    np.testing.assert_allclose(softmax(THREE), THREE_PROBS, rtol=1e-15)
    np.testing.assert_allclose(softmax(THREE).round(4), [0.6652, 0.2447, 0.0900])


def test_log_softmax_and_logsumexp_of_three_tokens():
    assert logsumexp(THREE) == pytest.approx(math.log(THREE_SUM), rel=1e-15)
    np.testing.assert_allclose(log_softmax(THREE), THREE - math.log(THREE_SUM), rtol=1e-15)


def test_mask_renormalizes_over_the_candidates_only():
    # Candidates "cat" and "dog" only: e^2 / (e^2 + e) = e / (e + 1).
    probs = softmax(THREE, mask=[True, True, False])
    np.testing.assert_allclose(probs, [math.e / (math.e + 1), 1 / (math.e + 1), 0.0], rtol=1e-15)
    logp = log_softmax(THREE, mask=[True, True, False])
    assert logp[2] == -np.inf
    assert logsumexp(THREE, mask=[True, True, False]) == pytest.approx(
        math.log(math.e**2 + math.e), rel=1e-15
    )


def test_temperature_divides_the_scores():
    # T = 2: softmax([1, 0.5, 0]).
    expected = np.exp([1.0, 0.5, 0.0]) / np.exp([1.0, 0.5, 0.0]).sum()
    np.testing.assert_allclose(softmax(THREE, temperature=2.0), expected, rtol=1e-14)
    np.testing.assert_allclose(log_softmax(THREE, temperature=2.0), np.log(expected), rtol=1e-14)


def test_large_scores_where_the_naive_formula_overflows():
    scores = np.array([1000.0, 999.0, 998.0])  # same differences as THREE
    np.testing.assert_allclose(softmax(scores), THREE_PROBS, rtol=1e-14)
    assert logsumexp(scores) == pytest.approx(998.0 + math.log(THREE_SUM), rel=1e-15)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        naive = naive_softmax(scores)
    assert np.isnan(naive).all()
    assert any(issubclass(w.category, RuntimeWarning) for w in caught)


def test_negative_infinity_entries_get_probability_zero():
    scores = np.array([0.0, -np.inf, 0.0])
    np.testing.assert_array_equal(softmax(scores), [0.5, 0.0, 0.5])
    assert log_softmax(scores)[1] == -np.inf
    assert logsumexp(scores) == pytest.approx(math.log(2))


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_extreme_finite_scores_in_every_dtype(dtype):
    big = np.finfo(dtype).max
    scores = np.array([big, -big, 0.0], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        probs = softmax(scores)
        logp = log_softmax(scores)
        total = logsumexp(scores)
    np.testing.assert_array_equal(probs, np.array([1, 0, 0], dtype=dtype))
    assert probs.dtype == logp.dtype == total.dtype == dtype
    assert logp[0] == 0
    assert total == big


def test_public_names_at_the_package_top():
    for name in ["softmax", "log_softmax", "logsumexp", "naive_softmax", "entropy"]:
        assert getattr(utils, name) is getattr(utils.probability, name)


# --- dtype, shape, axis ------------------------------------------------------------------------
@pytest.mark.parametrize("function", [softmax, log_softmax])
def test_integers_become_float64_and_floats_keep_their_dtype(function):
    assert function([1, 2, 3]).dtype == np.float64
    for dtype in FLOAT_DTYPES:
        assert function(np.array([1, 2, 3], dtype=dtype)).dtype == dtype


@pytest.mark.parametrize("axis", [0, 1, 2, -1, None])
def test_any_axis_and_batch_shape(axis):
    rng = np.random.default_rng(0)
    scores = rng.normal(0, 3, size=(2, 3, 4))
    np.testing.assert_allclose(softmax(scores, axis=axis), scipy.special.softmax(scores, axis=axis))
    np.testing.assert_allclose(
        log_softmax(scores, axis=axis), scipy.special.log_softmax(scores, axis=axis)
    )
    np.testing.assert_allclose(
        logsumexp(scores, axis=axis), scipy.special.logsumexp(scores, axis=axis)
    )
    np.testing.assert_allclose(
        logsumexp(scores, axis=axis, keepdims=True),
        scipy.special.logsumexp(scores, axis=axis, keepdims=True),
    )


# --- memory layouts: the same values, strided, reversed, a column, transposed ---------------
LAYOUTS = ["c", "fortran", "reversed", "strided", "column", "transposed"]


def in_layout(scores: np.ndarray, layout: str, along: int = 0) -> np.ndarray:
    """A view with the values and shape of `scores` but another memory layout.

    `along` picks the axis that "reversed" and "strided" act on.
    """
    if layout == "c":
        return scores
    if layout == "fortran":
        return np.asfortranarray(scores)
    if layout == "reversed":  # negative stride along `along`
        return np.flip(np.flip(scores, axis=along).copy(), axis=along)
    if layout == "strided":  # every other entry along `along` of a larger buffer
        shape = list(scores.shape)
        shape[along] *= 2
        buffer = np.zeros(shape, scores.dtype)
        view = buffer[(slice(None),) * along + (slice(None, None, 2),)]
        view[...] = scores
        return view
    if layout == "column":  # a column of a matrix (for a vector), stride 3 on every axis
        buffer = np.zeros((*scores.shape, 3), scores.dtype)
        buffer[..., 1] = scores
        return buffer[..., 1]
    if layout == "transposed":  # stored with the axes reversed, seen in the original order
        return np.ascontiguousarray(scores.T).T
    raise AssertionError(layout)


def test_layouts_are_what_they_claim():
    scores = np.arange(24.0).reshape(2, 3, 4)
    for layout in LAYOUTS:
        view = in_layout(scores, layout, along=1)
        np.testing.assert_array_equal(view, scores)
        assert view.flags.c_contiguous == (layout == "c"), layout
    assert in_layout(np.arange(5.0), "reversed").strides[0] < 0
    assert not in_layout(np.arange(5.0), "column").flags.c_contiguous


def test_non_contiguous_input():
    scores = np.random.default_rng(1).normal(size=(6, 8))[::2, ::3]
    np.testing.assert_allclose(softmax(scores), scipy.special.softmax(scores, axis=-1))
    np.testing.assert_allclose(logsumexp(scores.T, axis=0), scipy.special.logsumexp(scores, axis=1))


LAYOUT_SHAPES = [(5,), (1,), (3, 4), (4, 1), (2, 3, 5), (2, 40000)]


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_every_layout_rank_and_axis_agrees_with_scipy(layout, dtype):
    """Non-contiguous input of every rank (a column, reversed, strided, transposed), any axis."""
    rng = np.random.default_rng(7)
    for shape in LAYOUT_SHAPES:
        contiguous = (rng.normal(size=shape) * 5).astype(dtype)
        for along, axis in itertools.product(range(len(shape)), [*range(len(shape)), -1, None]):
            scores = in_layout(contiguous, layout, along)
            before = scores.copy()
            n = _row_length(scores, axis)
            reference = contiguous.astype(np.float64)
            where = f"{layout} {shape} {np.dtype(dtype)} axis={axis}"
            np.testing.assert_allclose(
                softmax(scores, axis=axis),
                scipy.special.softmax(reference, axis=axis),
                **probability_tolerance(dtype, n),
                err_msg=where,
            )
            np.testing.assert_allclose(
                log_softmax(scores, axis=axis),
                scipy.special.log_softmax(reference, axis=axis),
                **log_tolerance(dtype, n),
                err_msg=where,
            )
            np.testing.assert_allclose(
                logsumexp(scores, axis=axis),
                scipy.special.logsumexp(reference, axis=axis),
                **log_tolerance(dtype, n),
                err_msg=where,
            )
            np.testing.assert_array_equal(scores, before, err_msg=where)


def test_a_matrix_column_and_a_reversed_vector():
    """The red team's reproduction: 1-D views that are not contiguous."""
    matrix = np.arange(12.0).reshape(3, 4)
    for vector in (matrix[:, 0], np.arange(5.0)[::-1], np.arange(9.0)[::2]):
        np.testing.assert_allclose(logsumexp(vector), scipy.special.logsumexp(vector))
        np.testing.assert_allclose(log_softmax(vector), scipy.special.log_softmax(vector))
        np.testing.assert_allclose(softmax(vector), scipy.special.softmax(vector))


@pytest.mark.parametrize("function", [softmax, log_softmax, logsumexp])
def test_input_is_never_modified(function):
    scores = np.array([[3.0, -np.inf, 1.0], [0.5, 0.25, 0.0]], dtype=np.float32)
    before = scores.copy()
    function(scores)
    function(scores, mask=np.array([True, False, True]))
    np.testing.assert_array_equal(scores, before)


# --- properties against scipy.special ---------------------------------------------------------
@st.composite
def logits_arrays(draw, *, allow_negative_infinity=True):
    dtype = draw(st.sampled_from(FLOAT_DTYPES))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=7))
    limit = float(np.finfo(dtype).max)
    magnitude = draw(st.sampled_from([1.0, 30.0, 1e3, limit / 4, limit]))
    magnitude = min(magnitude, limit)
    width = np.finfo(dtype).bits
    elements = st.floats(-magnitude, magnitude, width=width, allow_nan=False)
    scores = draw(hnp.arrays(dtype, shape, elements=elements))
    axis = draw(st.sampled_from([*range(-len(shape), len(shape)), None]))
    if allow_negative_infinity and draw(st.booleans()):
        # Knock out some entries, but leave every row along `axis` a finite maximum.
        holes = draw(hnp.arrays(np.bool_, shape))
        keep = np.zeros(shape, bool)
        if axis is None:
            keep.flat[np.argmax(scores)] = True
        else:
            np.put_along_axis(keep, np.argmax(scores, axis=axis, keepdims=True), True, axis=axis)
        scores = np.where(holes & ~keep, dtype(-np.inf), scores)
    layout = draw(st.sampled_from(LAYOUTS))
    along = draw(st.integers(0, len(shape) - 1))
    return in_layout(scores, layout, along), axis


def _row_length(scores, axis) -> int:
    return scores.size if axis is None else scores.shape[axis]


@settings(max_examples=150, deadline=None)
@given(logits_arrays())
def test_agrees_with_scipy_special(case):
    scores, axis = case
    n = _row_length(scores, axis)
    reference = scores.astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning for any finite input
        probs, logp, total = (
            softmax(scores, axis=axis),
            log_softmax(scores, axis=axis),
            logsumexp(scores, axis=axis),
        )
    assert probs.dtype == logp.dtype == total.dtype == scores.dtype
    np.testing.assert_allclose(
        probs, scipy.special.softmax(reference, axis=axis), **probability_tolerance(scores.dtype, n)
    )
    expected_logp = scipy.special.log_softmax(reference, axis=axis)
    with np.errstate(over="ignore"):  # below -max of the dtype: -inf is the right answer
        expected_logp = expected_logp.astype(scores.dtype).astype(np.float64)
    np.testing.assert_array_equal(np.isneginf(logp), np.isneginf(expected_logp))
    finite = np.isfinite(expected_logp)
    np.testing.assert_allclose(
        logp[finite], expected_logp[finite], **log_tolerance(scores.dtype, n)
    )
    expected_total = scipy.special.logsumexp(reference, axis=axis)
    if np.all(np.abs(expected_total) <= np.finfo(scores.dtype).max):  # representable
        np.testing.assert_allclose(total, expected_total, **log_tolerance(scores.dtype, n))


@settings(max_examples=100, deadline=None)
@given(logits_arrays())
def test_rows_sum_to_one(case):
    scores, axis = case
    sums = softmax(scores, axis=axis).astype(np.float64).sum(axis=axis)
    tolerance = probability_tolerance(scores.dtype, _row_length(scores, axis))["atol"]
    np.testing.assert_allclose(sums, 1.0, rtol=0, atol=tolerance * _row_length(scores, axis))


@settings(max_examples=100, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(1, 12), elements=st.integers(-1000, 1000).map(float)),
    st.integers(-(10**6), 10**6).map(float),
)
def test_shift_invariance(scores, shift):
    # Integer scores and shifts keep `scores + shift` exact in float64.
    np.testing.assert_allclose(softmax(scores + shift), softmax(scores), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(
        log_softmax(scores + shift), log_softmax(scores), rtol=1e-12, atol=1e-9
    )
    assert logsumexp(scores + shift) == pytest.approx(logsumexp(scores) + shift, rel=1e-12)


@settings(max_examples=100, deadline=None)
@given(logits_arrays(allow_negative_infinity=False))
def test_monotone_higher_score_never_gets_lower_probability(case):
    scores, _ = case
    rows = scores.reshape(-1, scores.shape[-1])
    probs = softmax(rows)
    order = np.argsort(rows, axis=-1, kind="stable")
    sorted_probs = np.take_along_axis(probs, order, axis=-1)
    assert (np.diff(sorted_probs.astype(np.float64), axis=-1) >= 0).all()


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(2, 10), elements=st.floats(-50, 50), unique=True).filter(
        lambda s: np.sort(s)[-1] - np.sort(s)[-2] > 1e-3
    )
)
def test_temperature_towards_zero_approaches_one_hot(scores):
    winner = np.argmax(scores)
    top = [softmax(scores, temperature=t)[winner] for t in (1.0, 0.1, 0.01, 1e-3, 1e-5)]
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(top))
    one_hot = np.eye(scores.size)[winner]
    gap = np.sort(scores)[-1] - np.sort(scores)[-2]
    np.testing.assert_allclose(softmax(scores, temperature=gap / 100), one_hot, atol=1e-30)


def test_temperature_towards_infinity_approaches_uniform():
    np.testing.assert_allclose(softmax(THREE, temperature=1e9), np.full(3, 1 / 3), rtol=1e-8)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(2, 10), elements=st.floats(-100, 100)),
    st.data(),
)
def test_mask_equals_softmax_over_the_subset(scores, data):
    mask = data.draw(hnp.arrays(np.bool_, scores.shape))
    assume(mask.any())
    probs = softmax(scores, mask=mask)
    np.testing.assert_array_equal(probs[~mask], 0.0)
    np.testing.assert_allclose(probs[mask], scipy.special.softmax(scores[mask]), rtol=1e-12)


# --- entropy ----------------------------------------------------------------------------------
def test_entropy_hand_computed():
    assert entropy([0.5, 0.5], base=2) == pytest.approx(1.0)
    assert entropy(np.full(4, 0.25)) == pytest.approx(math.log(4))
    assert entropy([1.0, 0.0, 0.0]) == 0.0
    np.testing.assert_allclose(entropy([[1.0, 0.0], [0.5, 0.5]]), [0.0, math.log(2)])


def test_entropy_agrees_with_scipy_stats():
    import scipy.stats

    probs = softmax(np.random.default_rng(3).normal(size=(4, 9)))
    np.testing.assert_allclose(entropy(probs), scipy.stats.entropy(probs, axis=-1), rtol=1e-12)


# --- bad input ---------------------------------------------------------------------------------
BAD_LOGITS = [
    ([], ValueError, "empty"),
    (np.zeros((3, 0)), ValueError, "empty"),
    (["a", "b"], TypeError, "real numbers"),
    ([1 + 2j, 0], TypeError, "complex"),
    ([True, False], TypeError, "bool"),
    ([[1.0, 2.0], [3.0]], TypeError, "rectangular"),
    ([1.0, np.nan], ValueError, "NaN"),
    ([1.0, np.inf], ValueError, r"\+inf"),
    ([-np.inf, -np.inf], ValueError, "no candidate"),
    (3.0, ValueError, "single number"),
]


@pytest.mark.parametrize("function", [softmax, log_softmax, logsumexp])
@pytest.mark.parametrize(("logits", "error", "message"), BAD_LOGITS)
def test_bad_logits_get_a_clear_error(function, logits, error, message):
    with pytest.raises(error, match=message):
        function(logits)


@pytest.mark.parametrize(
    ("temperature", "error", "message"),
    [
        (0, ValueError, "greedy"),
        (0.0, ValueError, "greedy"),
        (-1.0, ValueError, "> 0"),
        (float("nan"), ValueError, "NaN"),
        (float("inf"), ValueError, "infinite"),
        ("hot", TypeError, "temperature"),
        (None, TypeError, "temperature"),
        (True, TypeError, "temperature"),
    ],
)
@pytest.mark.parametrize("function", [softmax, log_softmax])
def test_bad_temperature(function, temperature, error, message):
    with pytest.raises(error, match=message):
        function(THREE, temperature=temperature)


@pytest.mark.parametrize("function", [softmax, log_softmax, logsumexp])
def test_bad_axis_and_mask(function):
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        function(np.zeros((2, 3)), axis=2)
    with pytest.raises(TypeError, match="axis must be an int"):
        function(THREE, axis=1.5)
    with pytest.raises(ValueError, match="does not broadcast"):
        function(np.zeros((2, 3)), mask=np.ones(2, bool))
    with pytest.raises(TypeError, match="boolean"):
        function(THREE, mask=[1, 0, 1])
    with pytest.raises(ValueError, match="masked out"):
        function(np.zeros((2, 3)), mask=np.array([[True, False, False], [False, False, False]]))


def test_nan_error_names_the_position():
    with pytest.raises(ValueError, match=r"at index \(1, 2\)"):
        softmax(np.array([[0.0, 1.0, 2.0], [0.0, 1.0, np.nan]]))


@pytest.mark.parametrize(
    ("probs", "message"),
    [
        ([0.5, 0.6], "do not sum to 1"),
        ([1.5, -0.5], "negative"),
        ([0.5, np.nan], "NaN"),
        ([], "empty"),
    ],
)
def test_entropy_bad_input(probs, message):
    with pytest.raises(ValueError, match=message):
        entropy(probs)


# Rows are processed in blocks of about probability._BLOCK_ENTRIES entries, rows
# longer than that in chunks of columns, and the max-shift is skipped when the row
# maxima lie in [0, _UNSHIFTED_MAX]: every combination must agree with SciPy.
# The lessons' shapes take the common-case path (one block, `_one_block`); many short rows
# take their maxima column by column (`_row_maxima`).
BLOCK_SHAPES = [
    (3, 70_000), (40, 3_000), (1, 200_000), (70_000, 2),
    (2, 3), (4, 1_000), (1_000, 10), (1, 50_257), (64, 8),
]  # fmt: skip


@pytest.mark.parametrize("shape", BLOCK_SHAPES, ids=lambda shape: "x".join(map(str, shape)))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("offset", [-80.0, 0.0, 20.0, 700.0], ids=lambda o: f"offset{o:g}")
def test_blocked_paths_agree_with_scipy(shape, dtype, offset):
    rng = np.random.default_rng(11)
    scores = (rng.normal(0.0, 4.5, size=shape) + offset).astype(dtype)
    if dtype == np.float32 and offset > 100:
        scores = (scores - offset + 80.0).astype(dtype)  # float32: exp(700) is no test of it
    reference = scores.astype(np.float64)
    mask = rng.random(shape) < 0.9
    mask[:, 0] = True
    rtol = 2e-5 if dtype == np.float32 else 1e-12
    for temperature in (1.0, 0.7):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ours = softmax(scores, temperature=temperature)
            ours_log = log_softmax(scores, temperature=temperature)
        np.testing.assert_allclose(
            ours, scipy.special.softmax(reference / temperature, axis=-1), rtol=rtol, atol=1e-30
        )
        np.testing.assert_allclose(
            ours_log,
            scipy.special.log_softmax(reference / temperature, axis=-1),
            rtol=rtol,
            atol=rtol * 10,
        )
    np.testing.assert_allclose(
        logsumexp(scores), scipy.special.logsumexp(reference, axis=-1), rtol=rtol, atol=rtol
    )
    masked_reference = np.where(mask, reference, -np.inf)
    np.testing.assert_allclose(
        softmax(scores, mask=mask),
        scipy.special.softmax(masked_reference, axis=-1),
        rtol=rtol,
        atol=1e-30,
    )
    np.testing.assert_allclose(
        logsumexp(scores, mask=mask),
        scipy.special.logsumexp(masked_reference, axis=-1),
        rtol=rtol,
        atol=rtol,
    )
    np.testing.assert_array_equal(np.isneginf(log_softmax(scores, mask=mask)), ~mask)


@pytest.mark.parametrize("width", [10, 5_000, 50_257])
def test_float64_rows_below_zero_keep_every_digit_of_their_smallest_probabilities(width):
    """Rows whose maximum is below 0 skip the max-shift in float64 only while no exp of a
    raw score is subnormal: a score of -720 in a row peaking at -100 has probability
    e^-620, a normal number that the raw exp(-720) (subnormal) would round coarsely."""
    scores = np.random.default_rng(3).normal(-100.0, 4.5, size=(3, width))
    scores[1, width // 2] = -720.0
    ours = softmax(scores)
    np.testing.assert_allclose(ours, scipy.special.softmax(scores, axis=-1), rtol=1e-13)
    assert ours[1, width // 2] > 0


@pytest.mark.parametrize("function", [softmax, log_softmax, logsumexp])
def test_an_error_in_a_later_block_names_its_index_in_the_whole_array(function):
    scores = np.zeros((40, 5_000))
    scores[33, 4_321] = np.nan
    with pytest.raises(ValueError, match=r"NaN at index \(33, 4321\)"):
        function(scores)
    scores[33, 4_321] = np.inf
    with pytest.raises(ValueError, match=r"\+inf at index \(33, 4321\)"):
        function(scores)


@pytest.mark.parametrize("function", [softmax, log_softmax, logsumexp])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1_000, 10), (4, 1_000), (7,)], ids=str)
def test_the_common_case_path_reports_bad_rows_like_the_general_one(function, dtype, shape):
    # Small C-contiguous arrays along the last axis skip the general path's argument
    # handling; a bad row must still get the general path's error, with its index.
    where = tuple(size - 3 for size in shape)
    for bad, message in [(np.nan, "NaN"), (np.inf, r"\+inf")]:
        scores = np.zeros(shape, dtype)
        scores[where] = bad
        with pytest.raises(
            ValueError, match=rf"{message} at index \({', '.join(map(str, where))},?\)"
        ):
            function(scores)
        with pytest.raises(ValueError, match=message):  # and the same in another layout
            function(np.asfortranarray(scores))
    scores = np.zeros(shape, dtype)
    scores[where[:-1]] = -np.inf
    with pytest.raises(ValueError, match="every score is -inf"):
        function(scores)


# --- what SciPy does where the course differs (the README and the module docstring say so) ----
def test_scipy_defaults_to_all_entries_where_the_course_uses_the_last_axis():
    scores = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 3.0]])
    for ours, theirs in [
        (softmax, scipy.special.softmax),
        (log_softmax, scipy.special.log_softmax),
        (logsumexp, scipy.special.logsumexp),
    ]:
        assert inspect.signature(theirs).parameters["axis"].default is None
        assert inspect.signature(ours).parameters["axis"].default == -1
        everything, per_row = theirs(scores), theirs(scores, axis=-1)
        np.testing.assert_allclose(everything, theirs(scores, axis=None))
        assert everything.shape != per_row.shape or not np.allclose(everything, per_row)
        np.testing.assert_allclose(ours(scores), per_row)


@pytest.mark.parametrize(
    ("scores", "softmax_gives", "log_softmax_gives", "logsumexp_gives"),
    [
        ([1.0, np.nan], [np.nan, np.nan], [np.nan, np.nan], np.nan),
        ([1.0, np.inf], [np.nan, np.nan], [-np.inf, np.nan], np.inf),
        ([-np.inf, -np.inf], [np.nan, np.nan], [np.nan, np.nan], -np.inf),
    ],
    ids=["NaN", "+inf", "all -inf"],
)
def test_where_the_course_raises_scipy_returns_nan_or_inf(
    scores, softmax_gives, log_softmax_gives, logsumexp_gives
):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(scipy.special.softmax(scores), softmax_gives)
        np.testing.assert_array_equal(scipy.special.log_softmax(scores), log_softmax_gives)
        np.testing.assert_array_equal(scipy.special.logsumexp(scores), logsumexp_gives)
    for function in (softmax, log_softmax, logsumexp):
        with pytest.raises(ValueError, match=r"NaN|\+inf|no candidate"):
            function(scores)


def test_on_an_empty_array_scipy_raises_numpys_error_or_returns_minus_inf():
    for theirs in (scipy.special.softmax, scipy.special.log_softmax):
        with pytest.raises(ValueError, match="zero-size array"):
            theirs(np.zeros((3, 0)), axis=-1)
    np.testing.assert_array_equal(scipy.special.logsumexp(np.zeros((3, 0)), axis=-1), -np.inf)
    for ours in (softmax, log_softmax, logsumexp):
        with pytest.raises(ValueError, match="empty"):
            ours(np.zeros((3, 0)))
