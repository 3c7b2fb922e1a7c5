"""utils.sampling: hand-worked filters, Hugging Face semantics, properties, sampling frequencies."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import scipy.special
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import utils
import utils.sampling
from utils import greedy_next_token, sample_next_token, top_k_filter, top_p_filter

FLOAT_DTYPES = [np.float16, np.float32, np.float64]


def kept(filtered) -> np.ndarray:
    return np.isfinite(filtered)


# --- references written the slow, obvious way ----------------------------------------------------
def reference_top_p(logits: np.ndarray, p: float, min_tokens_to_keep: int = 1) -> np.ndarray:
    """Kept mask by the definition: sort by (probability desc, id asc) in float64 and keep
    the shortest prefix whose mass reaches p, within the documented rounding allowance
    (4 epsilons of the logits' dtype plus one float64 epsilon per token summed); p = 1
    keeps everything."""
    eps = float(np.finfo(np.asarray(logits).dtype).eps)
    logits = np.asarray(logits, dtype=np.float64)
    if p == 1.0:
        return np.isfinite(logits)
    mask = np.zeros(logits.shape, dtype=bool)
    for index in np.ndindex(logits.shape[:-1]):
        row = logits[index]
        order = np.lexsort((np.arange(len(row)), -row))
        mass = np.cumsum(scipy.special.softmax(row)[order])
        reached = mass >= p - (4 * eps + np.arange(1, len(row) + 1) * np.finfo(float).eps)
        count = int(np.argmax(reached)) + 1 if reached.any() else len(row)
        mask[index][order[: max(count, min_tokens_to_keep)]] = True
    return mask & np.isfinite(logits)


def assert_top_p_kept_as_defined(logits: np.ndarray, p: float, kept_mask: np.ndarray):
    """`kept_mask` is the reference's kept set, or (where a row's mass reaches p only to
    within a few roundings, so either count is right) the set one token longer or shorter."""
    expected = reference_top_p(logits, p)
    logits = np.asarray(logits, dtype=np.float64)
    for index in np.ndindex(logits.shape[:-1]):
        ours, theirs = kept_mask[index], expected[index]
        if (ours == theirs).all():
            continue
        row = logits[index]
        order = np.lexsort((np.arange(len(row)), -row))
        mass = np.cumsum(scipy.special.softmax(row)[order])
        count, wanted = int(ours.sum()), int(theirs.sum())
        assert abs(count - wanted) == 1, (index, count, wanted)
        assert (ours[order[:count]]).all(), index  # a prefix of the ranking
        shorter = min(count, wanted)
        # The reference's threshold for the shorter set (see `reference_top_p`).
        threshold = p - (4 + shorter) * np.finfo(float).eps
        assert abs(mass[shorter - 1] - threshold) <= 4 * np.finfo(float).eps, (index, p)


def reference_top_k(logits: np.ndarray, k: int) -> np.ndarray:
    logits = np.asarray(logits)
    mask = np.zeros(logits.shape, dtype=bool)
    for index in np.ndindex(logits.shape[:-1]):
        row = logits[index]
        order = np.lexsort((np.arange(len(row)), -row))
        mask[index][order[:k]] = True
    return mask & np.isfinite(logits)


def hugging_face_top_k(logits: np.ndarray, k: int) -> np.ndarray:
    """TopKLogitsWarper's rule: remove what is below the k-th largest value."""
    kth = np.sort(logits, axis=-1)[..., -k, None]
    return logits >= kth


# --- top-k ---------------------------------------------------------------------------------------
def test_top_k_keeps_the_k_largest_and_sets_the_rest_to_minus_inf():
    logits = np.array([1.0, 3.0, 2.0, 0.5])
    np.testing.assert_array_equal(top_k_filter(logits, 2), [-np.inf, 3.0, 2.0, -np.inf])
    np.testing.assert_array_equal(top_k_filter(logits, 1), [-np.inf, 3.0, -np.inf, -np.inf])


def test_top_k_ties_keep_exactly_k_with_lower_ids_and_differ_from_hugging_face():
    logits = np.array([2.0, 1.0, 2.0, 2.0])
    np.testing.assert_array_equal(top_k_filter(logits, 2), [2.0, -np.inf, 2.0, -np.inf])
    # Hugging Face keeps every token tied with the k-th value: three here.
    assert hugging_face_top_k(logits, 2).sum() == 3


def test_top_k_of_at_least_the_vocabulary_keeps_everything_as_a_copy():
    logits = np.array([0.3, -1.0, 2.0])
    result = top_k_filter(logits, 10)
    np.testing.assert_array_equal(result, logits)
    assert result is not logits


def test_min_tokens_to_keep_raises_k():
    logits = np.array([4.0, 3.0, 2.0, 1.0])
    assert kept(top_k_filter(logits, 1, min_tokens_to_keep=3)).sum() == 3


def test_top_k_with_minus_inf_entries_keeps_the_finite_ones_only():
    logits = np.array([[1.0, -np.inf, 0.0, -np.inf], [-np.inf, -np.inf, -np.inf, 5.0]])
    result = top_k_filter(logits, 3)
    np.testing.assert_array_equal(kept(result), [[True, False, True, False], [False] * 3 + [True]])


# --- top-p ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_top_p_keeps_the_token_that_brings_the_mass_exactly_to_p_and_nothing_after(dtype):
    logits = np.log(np.array([0.5, 0.3, 0.1, 0.1])).astype(dtype)
    np.testing.assert_array_equal(kept(top_p_filter(logits, 0.8)), [True, True, False, False])
    np.testing.assert_array_equal(kept(top_p_filter(logits, 0.5)), [True, False, False, False])
    np.testing.assert_array_equal(kept(top_p_filter(logits, 0.81)), [True, True, True, False])
    np.testing.assert_array_equal(kept(top_p_filter(logits, 0.79)), [True, True, False, False])


BOUNDARY_CASES = [
    ([0.5, 0.3, 0.1, 0.1], 0.8, 2),
    ([0.6, 0.3, 0.1], 0.9, 2),
    ([0.3, 0.3, 0.3, 0.1], 0.9, 3),
    ([0.15, 0.25, 0.6], 0.85, 2),
    ([0.1, 0.2, 0.3, 0.4], 0.7, 2),
    ([0.4, 0.4, 0.2], 0.8, 2),
    ([0.2] * 5, 0.6, 3),
]


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize(("probs", "p", "count"), BOUNDARY_CASES)
def test_a_mass_equal_to_p_up_to_rounding_keeps_the_boundary_token_only(probs, p, count, dtype):
    # In float32 / float16 these sums land a hair below p; the boundary must not move.
    logits = np.log(np.array(probs)).astype(dtype)
    assert kept(top_p_filter(logits, p)).sum() == count


def test_top_p_order_of_tokens_does_not_matter():
    logits = np.log([0.1, 0.3, 0.1, 0.5])  # Hugging Face's test distribution, shuffled
    np.testing.assert_array_equal(kept(top_p_filter(logits, 0.8)), [False, True, False, True])


def test_top_p_can_keep_a_single_token():
    logits = np.log([0.02, 0.95, 0.03])
    np.testing.assert_array_equal(kept(top_p_filter(logits, 0.9)), [False, True, False])
    # A tiny p keeps exactly one token, never zero.
    assert kept(top_p_filter(np.zeros(5), 1e-9)).sum() == 1


def test_top_p_of_one_keeps_every_token():
    logits = np.array([10.0, 0.0, -50.0, -np.inf])
    np.testing.assert_array_equal(top_p_filter(logits, 1.0), logits)


def test_top_p_ties_break_towards_lower_token_ids():
    np.testing.assert_array_equal(kept(top_p_filter(np.zeros(4), 0.5)), [True, True, False, False])
    np.testing.assert_array_equal(kept(top_p_filter(np.zeros(4), 0.51)), [True, True, True, False])


def test_top_p_min_tokens_to_keep():
    logits = np.log([0.9, 0.05, 0.03, 0.02])
    assert kept(top_p_filter(logits, 0.5, min_tokens_to_keep=3)).sum() == 3
    np.testing.assert_array_equal(
        kept(top_p_filter(logits, 0.5, min_tokens_to_keep=3)), [True, True, True, False]
    )


def test_top_p_ignores_a_constant_shift_of_the_logits():
    logits = np.log([0.5, 0.3, 0.1, 0.1])
    np.testing.assert_array_equal(
        kept(top_p_filter(logits + 1000.0, 0.8)), kept(top_p_filter(logits, 0.8))
    )


# --- large vocabularies: the candidate pool and its growth ---------------------------------------
VOCAB = 50257


def _large_cases():
    rng = np.random.default_rng(7)
    peaked = rng.normal(0.0, 4.5, size=(3, VOCAB))
    flat = rng.normal(0.0, 0.3, size=(2, VOCAB))
    ties = rng.integers(0, 4, size=(2, VOCAB)).astype(np.float64)  # thousands of exact ties
    # Large values only where a strided sample does not look (an adversarial layout).
    hidden = np.full((1, VOCAB), -5.0)
    hidden[0, 1::49] = rng.normal(5.0, 1.0, size=len(range(1, VOCAB, 49)))
    with_minus_inf = rng.normal(0.0, 2.0, size=(1, VOCAB))
    with_minus_inf[0, rng.random(VOCAB) < 0.9] = -np.inf
    return np.concatenate([peaked, flat, ties, hidden, with_minus_inf])


@pytest.mark.parametrize("p", [0.05, 0.5, 0.9, 0.999])
def test_top_p_on_a_large_vocabulary_matches_the_definition(p):
    # Rows that need thousands of tokens exceed the first candidate pool: it must grow.
    logits = _large_cases()
    filtered = top_p_filter(logits, p)
    np.testing.assert_array_equal(kept(filtered), reference_top_p(logits, p))
    np.testing.assert_array_equal(filtered[kept(filtered)], logits[kept(filtered)])


@pytest.mark.parametrize("k", [1, 7, 50, 3000, 20000])
def test_top_k_on_a_large_vocabulary_matches_the_definition(k):
    logits = _large_cases()
    filtered = top_k_filter(logits, k)
    np.testing.assert_array_equal(kept(filtered), reference_top_k(logits, k))
    np.testing.assert_array_equal(filtered[kept(filtered)], logits[kept(filtered)])


def test_flat_rows_are_settled_by_the_band_search_not_by_sorting_whole_rows(monkeypatch):
    calls = []
    original = utils.sampling._boundary_in
    monkeypatch.setattr(
        utils.sampling, "_boundary_in", lambda *a: calls.append(a[0].shape) or original(*a)
    )
    logits = np.random.default_rng(4).normal(0.0, 0.3, size=(3, VOCAB))
    np.testing.assert_array_equal(kept(top_p_filter(logits, 0.9)), reference_top_p(logits, 0.9))
    assert len(calls) == 2  # the first pool, then the band; no third, whole-row stage
    assert calls[1][1] < 2000  # the band is narrow


def test_whole_rows_are_the_exact_fallback(monkeypatch):
    # If the band search finds nothing, whole rows are ranked: the answer is unchanged.
    def no_band(rows, log_totals, target):
        empty = np.full((len(rows), 1), -np.inf, dtype=rows.dtype)
        return empty, np.zeros(len(rows)), np.zeros(len(rows), dtype=np.intp)

    monkeypatch.setattr(utils.sampling, "_boundary_band", no_band)
    logits = _large_cases()
    np.testing.assert_array_equal(kept(top_p_filter(logits, 0.9)), reference_top_p(logits, 0.9))


def test_top_p_of_a_uniform_row_keeps_the_smallest_count_reaching_p():
    logits = np.zeros((2, VOCAB), dtype=np.float32)
    result = kept(top_p_filter(logits, 0.5))
    # j / 50257 >= 0.5 first at j = 25129; ties: the lowest ids.
    np.testing.assert_array_equal(result.sum(axis=1), [25129, 25129])
    assert result[:, :25129].all()


def test_a_float32_row_matches_a_float64_reference():
    logits = np.random.default_rng(3).normal(0.0, 4.5, size=(4, VOCAB)).astype(np.float32)
    np.testing.assert_array_equal(
        kept(top_p_filter(logits, 0.9)), reference_top_p(logits.astype(np.float64), 0.9)
    )


# --- shapes, dtypes, input untouched -------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("function", [lambda x: top_k_filter(x, 2), lambda x: top_p_filter(x, 0.7)])
def test_filters_keep_dtype_shape_values_and_never_modify_input(dtype, function):
    logits = np.random.default_rng(0).normal(0, 2, size=(2, 3, 6)).astype(dtype)
    before = logits.copy()
    result = function(logits)
    np.testing.assert_array_equal(logits, before)
    assert result.dtype == dtype
    assert result.shape == logits.shape
    np.testing.assert_array_equal(result[kept(result)], logits[kept(result)])
    # Batched equals row by row.
    for index in np.ndindex(logits.shape[:-1]):
        np.testing.assert_array_equal(function(logits[index]), result[index])


def test_integer_logits_are_treated_as_float64():
    assert top_k_filter([3, 1, 2], 2).dtype == np.float64


# --- properties ----------------------------------------------------------------------------------
logit_rows = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=12),
    elements=st.floats(-30, 30, allow_nan=False, allow_infinity=False),
)


@settings(max_examples=60, deadline=None)
@given(logit_rows, st.floats(0.01, 1.0), st.floats(0.01, 1.0))
def test_top_p_kept_sets_are_nested_minimal_and_normalize(logits, p1, p2):
    low, high = sorted([p1, p2])
    kept_low, kept_high = kept(top_p_filter(logits, low)), kept(top_p_filter(logits, high))
    assert (kept_low <= kept_high).all()
    assert_top_p_kept_as_defined(logits, high, kept_high)
    renormalized = utils.softmax(top_p_filter(logits, high))
    np.testing.assert_allclose(renormalized.sum(axis=-1), 1.0, rtol=1e-12)
    probs = scipy.special.softmax(logits, axis=-1)
    mass = np.where(kept_high, probs, 0).sum(axis=-1)
    assert (mass >= high - 1e-9).all()
    # Minimal: dropping the least likely kept token falls below p.
    smallest = np.where(kept_high, probs, np.inf).min(axis=-1)
    assert (mass - smallest < high + 1e-9).all()


@settings(max_examples=60, deadline=None)
@given(logit_rows, st.integers(1, 12), st.integers(1, 12))
def test_top_k_kept_sets_are_nested_and_exactly_k(logits, k1, k2):
    low, high = sorted([k1, k2])
    kept_low, kept_high = kept(top_k_filter(logits, low)), kept(top_k_filter(logits, high))
    assert (kept_low <= kept_high).all()
    assert (kept_high.sum(axis=-1) == min(high, logits.shape[-1])).all()
    np.testing.assert_array_equal(kept_high, reference_top_k(logits, high))


# --- greedy and sampling -------------------------------------------------------------------------
def test_greedy_next_token_is_the_argmax_with_ties_to_the_lower_id():
    assert greedy_next_token([0.1, 2.0, 2.0]) == 1
    assert isinstance(greedy_next_token([0.1, 2.0]), np.integer)
    np.testing.assert_array_equal(
        greedy_next_token([[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]), [0, 1, 0]
    )


def _frequencies_match(tokens, expected_probs, alpha=1e-3):
    counts = np.bincount(tokens, minlength=len(expected_probs))
    support = expected_probs > 0
    assert counts[~support].sum() == 0, "a token of probability 0 was drawn"
    result = scipy.stats.chisquare(counts[support], expected_probs[support] * len(tokens))
    return result.pvalue > alpha


SAMPLING_CASES = [
    ({}, None),
    ({"temperature": 0.5}, None),
    ({"temperature": 2.0, "top_k": 4}, None),
    ({"top_p": 0.8}, None),
    ({"temperature": 1.5, "top_k": 5, "top_p": 0.9}, None),
]


@pytest.mark.parametrize(("options", "_"), SAMPLING_CASES)
def test_sampling_frequencies_match_the_filtered_distribution(options, _):
    logits = np.array([2.0, 1.5, 1.0, 0.2, -0.5, -1.0, -3.0])
    scaled = logits / options.get("temperature", 1.0)
    if "top_k" in options:
        scaled = top_k_filter(scaled, options["top_k"])
    if "top_p" in options:
        scaled = top_p_filter(scaled, options["top_p"])
    expected = utils.softmax(scaled)
    rng = np.random.default_rng(2024)
    draws = sample_next_token(np.broadcast_to(logits, (100_000, len(logits))), rng, **options)
    assert _frequencies_match(draws, expected)


def test_the_chi_square_check_notices_a_wrong_distribution():
    # Guard against a vacuous test: draws at temperature 1 do not pass for temperature 0.5.
    logits = np.array([2.0, 1.5, 1.0, 0.2, -0.5, -1.0, -3.0])
    draws = sample_next_token(np.broadcast_to(logits, (100_000, 7)), np.random.default_rng(1))
    assert not _frequencies_match(draws, utils.softmax(logits / 0.5))


def test_temperature_comes_before_top_p():
    # At temperature 1, p = 0.8 keeps two tokens; at temperature 3 the third is needed too.
    logits = np.log([0.6, 0.3, 0.1])
    assert kept(top_p_filter(logits, 0.8)).sum() == 2
    draws = sample_next_token(
        np.broadcast_to(logits, (20_000, 3)), np.random.default_rng(0), temperature=3.0, top_p=0.8
    )
    assert (draws == 2).any()


def test_sampling_on_a_large_vocabulary_matches_the_distribution():
    # Mass spread over many blocks of the two-level inverse CDF, and a long flat tail.
    vocab, rng = 1300, np.random.default_rng(5)  # 5 full blocks of 256 and a partial one
    logits = np.full(vocab, -9.0, dtype=np.float32)
    heavy = rng.choice(vocab, size=30, replace=False)
    logits[heavy] = rng.normal(2.0, 1.0, size=30)
    probs = utils.softmax(logits.astype(np.float64))
    draw_rng = np.random.default_rng(9)
    batch = np.broadcast_to(logits, (10_000, vocab))
    draws = np.concatenate([sample_next_token(batch, draw_rng) for _ in range(10)])
    counts = np.bincount(draws, minlength=vocab)
    grouped_counts = np.append(counts[heavy], counts.sum() - counts[heavy].sum())
    grouped_expected = np.append(probs[heavy], 1.0 - probs[heavy].sum()) * len(draws)
    assert scipy.stats.chisquare(grouped_counts, grouped_expected).pvalue > 1e-3


def test_sampling_never_draws_a_filtered_token_and_respects_the_batch_shape():
    logits = np.random.default_rng(0).normal(0, 1, size=(4, 5, 300))
    filtered = top_k_filter(logits, 3)
    draws = sample_next_token(filtered, np.random.default_rng(0))
    assert draws.shape == (4, 5)
    assert draws.dtype == np.int64
    assert np.isfinite(np.take_along_axis(filtered, draws[..., None], axis=-1)).all()


def test_sampling_is_reproducible_and_uses_one_uniform_per_row():
    logits = np.random.default_rng(0).normal(0, 1, size=(7, 50))
    first = sample_next_token(logits, np.random.default_rng(42))
    np.testing.assert_array_equal(first, sample_next_token(logits, np.random.default_rng(42)))
    rng_a, rng_b = np.random.default_rng(3), np.random.default_rng(3)
    sample_next_token(logits, rng_a)
    rng_b.random(7)
    assert rng_a.random() == rng_b.random()


def test_top_k_one_sampling_is_greedy():
    logits = np.random.default_rng(1).normal(0, 1, size=(50, 20))
    np.testing.assert_array_equal(
        sample_next_token(logits, np.random.default_rng(0), top_k=1), greedy_next_token(logits)
    )


def test_float16_logits_with_a_small_temperature_do_not_overflow():
    logits = np.array([60000.0, 59000.0, 0.0], dtype=np.float16)
    assert sample_next_token(logits, np.random.default_rng(0), temperature=0.01) == 0


# --- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: top_k_filter([1.0, 2.0], 0), ValueError, "k must be >= 1"),
        (lambda: top_k_filter([1.0, 2.0], -3), ValueError, "top_k=None"),
        (lambda: top_k_filter([1.0, 2.0], 1.5), TypeError, "whole number"),
        (lambda: top_k_filter([1.0, 2.0], True), TypeError, "whole number"),
        (lambda: top_k_filter([1.0, 2.0], 1, min_tokens_to_keep=0), ValueError, "min_tokens"),
        (lambda: top_p_filter([1.0, 2.0], 0.0), ValueError, r"\(0, 1\]"),
        (lambda: top_p_filter([1.0, 2.0], 1.5), ValueError, r"\(0, 1\]"),
        (lambda: top_p_filter([1.0, 2.0], float("nan")), ValueError, r"\(0, 1\]"),
        (lambda: top_p_filter([1.0, 2.0], "0.9"), TypeError, "number"),
        (lambda: top_p_filter([1.0, np.nan], 0.9), ValueError, "NaN"),
        (lambda: top_k_filter([1.0, np.inf], 1), ValueError, r"\+inf"),
        (lambda: top_k_filter([[1.0, 2.0], [-np.inf, -np.inf]], 1), ValueError, "no candidate"),
        (lambda: top_k_filter(3.0, 1), ValueError, "single number"),
        (lambda: top_k_filter([], 1), ValueError, "empty"),
        (lambda: greedy_next_token([[1.0, np.nan]]), ValueError, "NaN"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_temperature_zero_points_to_greedy_decoding():
    with pytest.raises(ValueError, match="greedy_next_token"):
        sample_next_token([1.0, 2.0], np.random.default_rng(0), temperature=0)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        sample_next_token([1.0, 2.0], np.random.default_rng(0), temperature=-1.0)


@pytest.mark.parametrize("rng", [0, np.random.RandomState(0), None])
def test_sampling_needs_a_generator(rng):
    with pytest.raises(TypeError, match="default_rng"):
        sample_next_token([1.0, 2.0], rng)


def test_docstring_examples_run():
    assert doctest.testmod(utils.sampling, raise_on_error=False).failed == 0


def _hugging_face_top_p_kept(probs, p):
    """How many tokens TopPLogitsWarper's rule keeps: sort ascending, remove the tokens whose
    cumulative probability is <= 1 - p (no tolerance)."""
    ascending = np.sort(probs)
    return int((np.cumsum(ascending) > 1 - p).sum())


def test_top_p_where_rounding_decides_hugging_faces_rule():
    # The README and the module docstring: on (0.5, 0.3, 0.2) with p = 0.8, Hugging Face's
    # exact comparison keeps all three tokens in float64 (1 - 0.8 < 0.2 after rounding);
    # the course counts a mass within rounding of p as reaching it and keeps two.
    assert 1 - 0.8 == 0.19999999999999996
    logits = np.log([0.5, 0.3, 0.2])
    probs = scipy.special.softmax(logits)
    assert _hugging_face_top_p_kept(probs, 0.8) == 3
    kept = np.isfinite(top_p_filter(logits, 0.8))
    np.testing.assert_array_equal(kept, [True, True, False])
    np.testing.assert_array_equal(np.isfinite(top_p_filter(logits.astype(np.float32), 0.8)), kept)
    # Away from a rounding tie both rules agree.
    assert _hugging_face_top_p_kept(probs, 0.85) == np.isfinite(top_p_filter(logits, 0.85)).sum()
