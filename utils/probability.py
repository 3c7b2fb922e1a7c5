"""From scores to probabilities: softmax, log-softmax, log-sum-exp, entropy.

The functions follow `scipy.special` (same results to within rounding) with
three differences a learner should know about:

* `axis` defaults to -1, the vocabulary axis of a (batch, ..., vocab) array
  (SciPy's `softmax` and `logsumexp` default to `axis=None`, all entries);
* `temperature` and `mask` arguments apply the two things decoding code does
  to scores before normalizing: dividing by a temperature, and restricting
  the distribution to a candidate subset of the vocabulary;
* bad input (NaN or +inf scores, a row with no candidate left, an empty
  array, temperature 0) raises a `ValueError` that says what to do, where
  SciPy returns NaN.

Every function keeps the input's float dtype (float16, float32, float64;
integers become float64), never modifies its input, and never emits a
`RuntimeWarning` for finite input: the largest score of each row is
subtracted before exponentiating, so `exp` never sees a positive number.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from utils._validation import (
    as_float_array,
    check_mask,
    check_temperature,
    first_bad_index,
    normalize_axis,
)

__all__ = ["entropy", "log_softmax", "logsumexp", "naive_softmax", "softmax"]

# Rows are processed a block of about this many entries at a time (1 MiB in
# float32: within a core's L2 cache on current x86 CPUs), so each block is
# read from memory once and its later passes run in the cache, and logsumexp
# and log_softmax need no temporary array the size of the input. Measured on
# 2-core AMD EPYC: 2**18 beats 2**15..2**17 (per-call overhead) and 2**20.
_BLOCK_ENTRIES = 1 << 18

# exp(z) == exp2(z * log2(e)); NumPy's float32 exp2 is about twice as fast as
# its exp, and the multiplication can absorb the division by the temperature.
# But exp2 takes a 10-20x slower path for results below the smallest normal
# float (2**-126 in float32), -inf included (masked tokens), where exp does
# not: `_exp2_is_fast` checks the range first, with one cheap pass (a min).
_LOG2_E = 1.0 / math.log(2.0)  # a Python float: its arithmetic never warns
_EXP2_NORMAL_MIN = {np.dtype(np.float32): -126.0, np.dtype(np.float64): -1022.0}


def _prepare(logits, axis, temperature, mask):
    """Validate the arguments; return (scores, axis, temperature, result dtype).

    float16 scores are computed in float32 (NumPy's float16 `exp` runs in
    float32 anyway, and a float16 sum of 65504 ones overflows); the caller
    casts the result back to the input's dtype.
    """
    scores = as_float_array(logits)
    dtype = scores.dtype
    if dtype == np.float16:
        scores = scores.astype(np.float32)
    axis = normalize_axis(axis, scores.ndim)
    temperature = check_temperature(temperature)
    if mask is not None:
        mask = check_mask(mask, scores.shape)
        # Masked-out tokens become -inf: probability 0, log-probability -inf.
        scores = np.where(mask, scores, scores.dtype.type(-np.inf))
    return scores, axis, temperature, dtype


def _row_max(scores: np.ndarray, axis: int | None, masked: bool) -> np.ndarray:
    """The largest score along `axis` (keepdims); raise if a row is unusable.

    NaN propagates through `max` and +inf wins it, so checking the maxima
    finds bad scores without another pass over the whole array.
    """
    row_max = np.max(scores, axis=axis, keepdims=True)
    if np.isfinite(row_max).all():
        return row_max
    if np.isnan(row_max).any():
        raise ValueError(
            f"logits contain NaN {first_bad_index(np.isnan(scores))}; NaN scores "
            "usually come from an earlier overflow (inf - inf) or from 0/0. Fix the "
            "computation that produced them."
        )
    if (row_max == np.inf).any():
        raise ValueError(
            f"logits contain +inf {first_bad_index(scores == np.inf)}; a score of "
            "+inf has no finite probability. Clip the scores or find the overflow "
            "that produced it."
        )
    what = "every candidate is masked out or scored -inf" if masked else "every score is -inf"
    raise ValueError(
        f"a row of logits has no candidate left ({what}: row maximum -inf "
        f"{first_bad_index(row_max == -np.inf)}); a distribution needs at least "
        "one token with a finite score."
    )


def _as_rows(values: np.ndarray, axis: int | None):
    """A (rows, vocab) view when `axis` is the last, contiguous one, else None."""
    if not values.flags.c_contiguous:
        return None
    if axis is None:
        return values.reshape(1, -1)
    if axis == values.ndim - 1:
        return values.reshape(-1, values.shape[-1])
    return None


def _keepdims_shape(shape: tuple, axis: int | None) -> tuple:
    if axis is None:
        return (1,) * len(shape)
    return (*shape[:axis], 1, *shape[axis + 1 :])


@functools.lru_cache(maxsize=8)
def _ones(width: int, dtype: np.dtype) -> np.ndarray:
    """A read-only vector of ones for `_row_sums`, built once per (width, dtype)."""
    ones = np.ones(width, dtype)
    ones.flags.writeable = False
    return ones


def _row_sums(rows: np.ndarray, ones: np.ndarray | None = None) -> np.ndarray:
    """Sums of a C-contiguous (rows, vocab) array of non-negative terms, (rows, 1).

    A matrix-vector product with ones runs in BLAS: about five times faster
    than `sum` on these arrays and as accurate for non-negative terms. Loops
    pass their `ones` (vocab,) once instead of building it per block.
    """
    if ones is None:
        ones = _ones(rows.shape[1], rows.dtype)
    return (rows @ ones)[:, None]


def _keepdims_sums(values: np.ndarray, axis: int | None) -> np.ndarray:
    """Sums along `axis`, keeping the reduced axis (as `sum(keepdims=True)`)."""
    rows = _as_rows(values, axis)
    if rows is None:
        return values.sum(axis=axis, keepdims=True)
    return _row_sums(rows).reshape(_keepdims_shape(values.shape, axis))


def _exp2_is_fast(scores: np.ndarray, row_max: np.ndarray, temperature: float) -> bool:
    """True when every exponent (z - row max) / T, in base 2, stays in exp2's normal range."""
    lowest = np.min(scores)
    if not np.isfinite(lowest):
        return False
    spread = (float(np.max(row_max)) - float(lowest)) * _LOG2_E / float(temperature)
    return -spread >= _EXP2_NORMAL_MIN[scores.dtype]


def _exp_into(values: np.ndarray, out: np.ndarray, scale: float, use_exp2: bool) -> np.ndarray:
    """out <- exp(values * scale) (`out` may be `values`); exp2 when it is fast, see above."""
    if use_exp2:
        np.multiply(values, out.dtype.type(scale * _LOG2_E), out=out)
        return np.exp2(out, out=out)
    if scale != 1.0:
        np.multiply(values, out.dtype.type(scale), out=out)
        return np.exp(out, out=out)
    return np.exp(values, out=out)


def _sum_exp(values: np.ndarray, shift, axis: int | None, use_exp2: bool) -> np.ndarray:
    """sum(exp(values - shift)) along `axis` (keepdims); `shift` holds the row
    maxima (None: `values` are already shifted).

    Rows go through a small reused buffer a block at a time, so there is no
    temporary array the size of `values`.
    """
    rows = _as_rows(values, axis)
    with np.errstate(over="ignore"):  # only ever an exponent -> -inf, exp -> 0
        if rows is None:
            # Shift first: scaling a huge score before the shift would overflow.
            exponents = np.empty_like(values) if shift is None else np.subtract(values, shift)
            source = values if shift is None else exponents
            return _keepdims_sums(_exp_into(source, exponents, 1.0, use_exp2), axis)
        n_rows, width = rows.shape
        if shift is not None:
            shift_rows = np.broadcast_to(shift, _keepdims_shape(values.shape, axis))
            shift_rows = shift_rows.reshape(-1, 1)
        step = max(1, _BLOCK_ENTRIES // width)
        buffer = np.empty((min(n_rows, step), width), rows.dtype)
        ones = _ones(width, rows.dtype)
        totals = np.empty((n_rows, 1), rows.dtype)
        for start in range(0, n_rows, step):
            block = slice(start, min(start + step, n_rows))
            exponents = buffer[: block.stop - block.start]
            if shift is None:
                source = rows[block]
            else:
                source = np.subtract(rows[block], shift_rows[block], out=exponents)
            totals[block] = _row_sums(_exp_into(source, exponents, 1.0, use_exp2), ones)
    return totals.reshape(_keepdims_shape(values.shape, axis))


def _normalize_rows(rows, row_max, out, temperature, *, log: bool) -> None:
    """softmax or log_softmax of the rows of a C-contiguous (rows, vocab) array, into `out`.

    A block of rows at a time: each block is read once from memory, shifted
    and scaled into `out`, and exponentiated and summed while it is still in
    the cache (into a small scratch buffer for log_softmax, in place for
    softmax, which also finishes the block there). Whether exp2 is safe is
    decided per block from its smallest exponent, read from the cache too.
    """
    n_rows, width = rows.shape
    step = max(1, _BLOCK_ENTRIES // width)
    scratch = np.empty((min(n_rows, step), width), rows.dtype) if log else None
    ones = _ones(width, rows.dtype)
    totals = np.empty((n_rows, 1), rows.dtype)
    scale = 1.0 / temperature
    lowest_fast = _EXP2_NORMAL_MIN[rows.dtype] / _LOG2_E
    for start in range(0, n_rows, step):
        block = slice(start, min(start + step, n_rows))
        shifted = np.subtract(rows[block], row_max[block], out=out[block])
        use_exp2 = float(np.min(shifted)) * scale >= lowest_fast  # -inf (masked) fails this
        if log:
            if scale != 1.0:  # the log-probabilities are the scaled, shifted scores...
                np.multiply(shifted, shifted.dtype.type(scale), out=shifted)
            exponentials = _exp_into(shifted, scratch[: len(shifted)], 1.0, use_exp2)
            totals[block] = _row_sums(exponentials, ones)
        else:  # ...while softmax folds the scale into exp's own multiplication
            _exp_into(shifted, shifted, scale, use_exp2)
            totals[block] = _row_sums(shifted, ones)
            np.multiply(shifted, 1.0 / totals[block], out=shifted)
    if log:
        np.subtract(out, np.log(totals), out=out)


def _normalize(logits, axis, temperature, mask, *, log: bool) -> np.ndarray:
    """softmax (log=False) or log_softmax (log=True) of validated arguments."""
    scores, axis, temperature, dtype = _prepare(logits, axis, temperature, mask)
    row_max = _row_max(scores, axis, mask is not None)
    rows = _as_rows(scores, axis)
    if rows is not None:
        # With a mask, `scores` is already a fresh array: write the result into it.
        out = scores if mask is not None else np.empty_like(scores)
        with np.errstate(over="ignore"):  # only ever a hopeless score -> -inf
            _normalize_rows(rows, row_max.reshape(-1, 1), _as_rows(out, axis), temperature, log=log)
            # float16 input: a log-probability below -65504 rounds to -inf, as it should.
            return out.astype(dtype, copy=False)
    use_exp2 = _exp2_is_fast(scores, row_max, temperature)
    # With a mask, `scores` is already a fresh array: write the result into it.
    out = scores if mask is not None else np.empty_like(scores)
    with np.errstate(over="ignore"):  # only ever a hopeless score -> -inf
        np.subtract(scores, row_max, out=out)
        if log:
            if temperature != 1.0:
                np.multiply(out, out.dtype.type(1.0 / temperature), out=out)
            log_totals = np.log(_sum_exp(out, None, axis, use_exp2)).astype(out.dtype)
            np.subtract(out, log_totals, out=out)
        else:
            _exp_into(out, out, 1.0 / temperature, use_exp2)
            # One division per row, then a multiplication per entry.
            inverse_totals = (1.0 / _keepdims_sums(out, axis)).astype(out.dtype)
            np.multiply(out, inverse_totals, out=out)
        # float16 input: a log-probability below -65504 rounds to -inf, as it should.
        return out.astype(dtype, copy=False)


def softmax(logits, axis=-1, *, temperature=1.0, mask=None) -> np.ndarray:
    """Probabilities from scores: exp(z / T) normalized over `axis`.

    Parameters
    ----------
    logits : array_like of float, shape (..., vocab)
        Raw scores. Entries of -inf are allowed and get probability 0.
    axis : int or None
        The axis to normalize over (None: all entries). Default -1.
    temperature : float > 0
        Divide the scores by this before normalizing; < 1 sharpens, > 1 flattens.
    mask : array_like of bool, broadcastable to ``logits.shape``, optional
        True for the candidate tokens; the others get probability 0 and the
        candidates' probabilities sum to 1.

    Returns an array of the input's shape and float dtype.

    >>> softmax([2.0, 1.0, 0.0]).round(4)
    array([0.6652, 0.2447, 0.09  ])
    >>> softmax([2.0, 1.0, 0.0], mask=[True, True, False]).round(4)
    array([0.7311, 0.2689, 0.    ])
    """
    return _normalize(logits, axis, temperature, mask, log=False)


def log_softmax(logits, axis=-1, *, temperature=1.0, mask=None) -> np.ndarray:
    """Log-probabilities: z / T - logsumexp(z / T), computed without overflow.

    Same arguments as `softmax`; masked-out tokens get -inf.

    >>> log_softmax([2.0, 1.0, 0.0]).round(4)
    array([-0.4076, -1.4076, -2.4076])
    """
    return _normalize(logits, axis, temperature, mask, log=True)


def logsumexp(logits, axis=-1, *, keepdims=False, mask=None) -> np.ndarray:
    """log(sum(exp(logits))) over `axis`, as m + log(sum(exp(logits - m))).

    `m` is the largest score, so `exp` never overflows. Like
    `scipy.special.logsumexp` but `axis` defaults to -1, and a row with no
    finite score (or no candidate under `mask`) is an error, not -inf.

    >>> float(logsumexp([1000.0, 1000.0]))  # 1000 + log 2
    1000.6931471805599
    """
    scores, axis, _, dtype = _prepare(logits, axis, 1.0, mask)
    row_max = _row_max(scores, axis, mask is not None)
    use_exp2 = _exp2_is_fast(scores, row_max, 1.0)
    with np.errstate(over="ignore"):
        result = (row_max + np.log(_sum_exp(scores, row_max, axis, use_exp2))).astype(dtype)
    if keepdims:
        return result
    return result.reshape(()) if axis is None else np.squeeze(result, axis=axis)


def naive_softmax(logits, axis=-1) -> np.ndarray:
    """The textbook formula exp(z) / sum(exp(z)), with no protection at all.

    Kept to show what goes wrong: in float32, exp(89) is already inf, and
    inf / inf is NaN. Use `softmax` for real work.
    """
    scores = np.asarray(logits)
    exponentials = np.exp(scores)
    return exponentials / exponentials.sum(axis=axis, keepdims=True)


def entropy(probs, axis=-1, *, base=None) -> np.ndarray:
    """Shannon entropy -sum(p log p) of distributions along `axis`.

    `probs` must be non-negative and sum to 1 along `axis` (pass
    ``softmax(logits)`` for scores); 0 log 0 counts as 0. The result is in
    nats, or in units of `base` (2 for bits).

    >>> float(entropy([0.5, 0.5], base=2))
    1.0
    """
    p = as_float_array(probs, name="probs")
    axis = normalize_axis(axis, p.ndim, name="probs")
    if np.isnan(p).any() or np.isinf(p).any():
        raise ValueError(f"probs contain NaN or inf {first_bad_index(~np.isfinite(p))}.")
    if (p < 0).any():
        raise ValueError(
            f"probs contain a negative value {first_bad_index(p < 0)}; "
            "probabilities are >= 0 (did you pass logits? use softmax first)."
        )
    totals = p.sum(axis=axis, dtype=np.float64)
    tolerance = 1e-3 if p.dtype == np.float16 else 1e-5 if p.dtype == np.float32 else 1e-9
    tolerance *= max(1, p.size if axis is None else p.shape[axis]) ** 0.5
    if not np.allclose(totals, 1.0, rtol=0, atol=tolerance):
        raise ValueError(
            "probs do not sum to 1 along axis "
            f"{axis} (sums range from {totals.min():.6g} to {totals.max():.6g}); "
            "pass a normalized distribution, e.g. softmax(logits)."
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1)), 0)
    result = -terms.sum(axis=axis)
    if base is not None:
        if not np.isscalar(base) or not base > 0 or base == 1:
            raise ValueError(f"base must be a positive number other than 1, got {base!r}.")
        result = result / np.log(base)
    return np.maximum(result, 0).astype(p.dtype)
