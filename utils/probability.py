"""From scores to probabilities: softmax, log-softmax, log-sum-exp, entropy.

The functions follow `scipy.special` (same results to within rounding) with
three differences a learner should know about:

* `axis` defaults to -1, the vocabulary axis of a (batch, ..., vocab) array
  (SciPy's `softmax`, `log_softmax` and `logsumexp` all default to
  `axis=None`, all entries);
* `temperature` and `mask` arguments apply the two things decoding code does
  to scores before normalizing: dividing by a temperature, and restricting
  the distribution to a candidate subset of the vocabulary;
* bad input (NaN or +inf scores, a row with no candidate left, an empty
  array, temperature 0) raises a `ValueError` that says what to do. SciPy
  instead returns NaN from `softmax` and `log_softmax` (`log_softmax` gives
  -inf to a row's other entries next to a +inf), and from `logsumexp` NaN,
  +inf and -inf respectively; an empty array makes its `softmax` and
  `log_softmax` raise NumPy's "zero-size array" error and its `logsumexp`
  return -inf.

Every function keeps the input's float dtype (float16, float32, float64;
integers become float64), never modifies its input, and never emits a
`RuntimeWarning` for finite input: the largest score of each row is
subtracted before exponentiating, so `exp` never overflows (softmax skips
the subtraction when the scores are too small to overflow anyway; see
`_shift`). They are plain NumPy passes (max, subtract, exp, sum,
multiply) over blocks of rows that fit in a core's cache.
"""

from __future__ import annotations

import contextlib
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

# On a C-contiguous (rows, vocab) array the rows are processed a block of
# about this many entries at a time (256 KiB in float32, 512 KiB in float64:
# within the L2 cache of any current x86 or ARM core), so each block is read
# from memory once and its later passes (exp, sum, normalize) run in the
# cache. On 50257-token rows this makes softmax ~20% faster than the same
# passes over the whole array, with or without AVX-512, on any thread setting
# (`make bench`). It is the only optimization: every pass is a plain NumPy call.
_BLOCK_ENTRIES = 1 << 16

# exp(64) * 2**31 terms is still far below float32's largest number (~3.4e38),
# exp(640) * 2**63 below float64's: see `_exponents`.
_UNSHIFTED_MAX = {np.dtype(np.float32): 64.0, np.dtype(np.float64): 640.0}
# float64's exp(x) is a normal number (full precision) for x >= -708; float32's only for
# x >= -87, above the raw logits of real LMs (GPT-2's lie near -100): see `_shift`.
_NORMAL_EXP_FLOOR = {np.dtype(np.float64): -700.0}
_FAST_DTYPES = (np.float32, np.float64)
# Below this many entries, checking that no subtraction can overflow is cheaper than
# entering np.errstate (a few microseconds, as much as a small softmax's arithmetic).
_SMALL_BLOCK = 4096
_LARGEST = {np.dtype(dtype): float(np.finfo(dtype).max) for dtype in (np.float32, np.float64)}


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
    row_max = scores.max(axis=axis, keepdims=True)
    if not np.isfinite(row_max).all():
        _raise_for_bad_rows(scores, row_max, masked)
    return row_max


def _raise_for_bad_rows(scores: np.ndarray, row_max: np.ndarray, masked: bool):
    """Raise the error that explains a row maximum that is not finite."""
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


def _row_maxima(block: np.ndarray) -> np.ndarray:
    """The largest score of each row of a (rows, vocab) block, as a column.

    NumPy's `max` along a short axis costs ~60 ns per row (one call of its
    inner loop per row: 60 us for (1000, 10), more than the rest of softmax),
    so many short rows are compared a whole column at a time instead.
    """
    rows, width = block.shape
    if width * 8 > rows:
        return np.maximum.reduce(block, axis=1, keepdims=True)
    row_max = block[:, :1].copy()
    for column in range(1, width):
        np.maximum(row_max, block[:, column : column + 1], out=row_max)
    return row_max


def _rows_of(scores: np.ndarray, axis: int | None):
    """`scores` as a C-contiguous (rows, vocab) array with `axis` as the vocab
    axis, and the shape (`axis` moved last) its results are reshaped to.

    A copy only when `axis` is not already the last, contiguous axis (another
    axis, a column of a matrix, a reversed, strided or transposed view): so
    every layout goes through the same blocked passes, and every row sum is
    NumPy's pairwise sum along a contiguous axis (a float32 sum along a
    strided axis adds the terms one by one: ~5e-5 off for 40000 terms).
    """
    if axis is None:
        return np.ascontiguousarray(scores).reshape(1, -1), scores.shape
    if axis != scores.ndim - 1:  # (checked first: moveaxis costs microseconds)
        scores = np.moveaxis(scores, axis, -1)
    rows = np.ascontiguousarray(scores)
    return rows.reshape(-1, rows.shape[-1]), rows.shape


def _blocks(rows: np.ndarray) -> list[slice]:
    """Blocks of whole rows of about `_BLOCK_ENTRIES` entries (at least one row)."""
    step = max(1, _BLOCK_ENTRIES // rows.shape[1])
    return [slice(start, start + step) for start in range(0, len(rows), step)]


def _restored(result: np.ndarray, shape: tuple, axis: int | None) -> np.ndarray:
    """A result of `_rows_of(scores, axis)`'s rows in the shape and axis order of `scores`."""
    result = result.reshape(shape)
    return result if axis in (None, len(shape) - 1) else np.moveaxis(result, -1, axis)


@contextlib.contextmanager
def _errors_located_in(scores: np.ndarray, axis: int | None, masked: bool):
    """Re-raise a bad block's error with the index in the whole array, not in the block."""
    try:
        yield
    except ValueError:
        _row_max(scores, axis, masked)
        raise


def _shift(block, row_max, row_range, scale):
    """What to subtract from each row of a (rows, vocab) block before exponentiating:
    its largest score, `row_max` (a column, checked finite; `row_range`: its lowest
    and highest entry).

    The lesson's max-shift: every exponent is then <= 0, so exp never
    overflows. When every row maximum (times `scale`) is already between 0
    and `_UNSHIFTED_MAX`, exp of the raw scores cannot overflow either, nor
    can a sum of them, and the result is as accurate (no rounding of a
    subtraction): then None, no shift, which saves one of softmax's five
    passes over the data (~15% faster, `make bench`, with AVX-512 and AVX2
    alike). In float64 the same holds for rows whose maximum is below 0 (real
    LMs' raw logits) as long as no exp of a raw score is a subnormal number,
    which rounds coarser than exp of the shifted score would: one pass finds
    the lowest score to check that. log_softmax and logsumexp never skip the
    shift: their results are sums and differences on the scale of the scores,
    where the shifted form keeps the last digit that the unshifted one can lose.
    """
    if row_range[1] * scale > _UNSHIFTED_MAX[row_max.dtype]:
        return row_max
    if row_range[0] * scale >= 0:
        return None
    floor = _NORMAL_EXP_FLOOR.get(row_max.dtype)
    if (
        floor is not None
        and row_range[0] * scale >= floor
        and float(np.minimum.reduce(block, axis=None)) * scale >= floor  # (-inf: a mask)
    ):
        return None
    return row_max


def _exponents(block, shift, scale, out):
    """(block - shift) * scale, written to `out`; `block` itself when that is all."""
    if shift is None and scale == 1.0:
        return block
    if shift is None:
        return np.multiply(block, out.dtype.type(scale), out=out)
    np.subtract(block, shift, out=out)  # shift first: scaling a huge score could overflow
    return out if scale == 1.0 else np.multiply(out, out.dtype.type(scale), out=out)


def _exp_sums(block, shift, scratch):
    """sum(exp(block - shift)) of each row of a (rows, vocab) block, as a column.

    The exponentials go to the flat buffer `scratch` (`_block_scratch`) a
    chunk of columns at a time, so that it stays in the cache next to the
    block however long the rows are.
    """
    rows, width = block.shape
    step = scratch.size // rows
    total = 0
    for start in range(0, width, step):
        chunk = block[:, start : start + step]
        buffer = scratch[: chunk.size].reshape(chunk.shape)
        source = chunk if shift is None else np.subtract(chunk, shift, out=buffer)
        total = total + np.exp(source, out=buffer).sum(axis=1, keepdims=True)
    return total


def _softmax_into(block, row_max, row_range, out, scale):
    shift = _shift(block, row_max, row_range, scale)
    probs = np.exp(_exponents(block, shift, scale, out), out=out)
    sums = np.add.reduce(probs, axis=1, keepdims=True)
    if probs.shape[1] < _SMALL_BLOCK:  # (short rows: one call fewer)
        return np.divide(probs, sums, out=out)
    # Long rows: one division per row, then a multiplication per entry (a division is slower).
    return np.multiply(probs, np.reciprocal(sums, out=sums), out=out)


def _log_softmax_into(block, row_max, out, scale, scratch):
    """Like `_exp_sums`, a chunk of columns at a time: each chunk's shifted scores are
    written to `out` and exponentiated into `scratch` while still in the cache."""
    step = scratch.size // len(block)
    total = 0
    for start in range(0, block.shape[1], step):
        columns = slice(start, start + step)
        exponents = _exponents(block[:, columns], row_max, scale, out[:, columns])
        buffer = scratch[: exponents.size].reshape(exponents.shape)
        total = total + np.exp(exponents, out=buffer).sum(axis=1, keepdims=True)
    return np.subtract(out, np.log(total), out=out)


def _logsumexp_column(block, row_max, scratch):
    return row_max + np.log(_exp_sums(block, row_max, scratch))


def _block_scratch(rows: np.ndarray) -> np.ndarray:
    """A flat buffer for the exponentials of one block (see `_exp_sums`)."""
    return np.empty(min(_BLOCK_ENTRIES, rows.size), rows.dtype)


def _one_block(logits, axis, temperature, mask):
    """(scores, its (rows, vocab) view) in the common case, else None.

    The common case: a C-contiguous float32 or float64 array of at most one
    block (`_BLOCK_ENTRIES`), normalized along its last axis, at temperature
    1, without a mask: every lesson's call, and a row of a vocabulary. Then
    nothing needs converting, and checking the row maxima (as every path
    does) is all the validation needed; skipping the general path's argument
    handling makes a (2, 3) softmax ~1.6x faster (16 -> 10 us here; `make bench`).
    Anything else, and any bad input, takes the general path, which raises
    the error that names the problem.
    """
    if mask is not None or type(axis) is not int or type(temperature) is not float:
        return None
    if type(logits) is np.ndarray:
        scores = logits
    else:
        try:
            scores = np.asarray(logits)
        except (TypeError, ValueError):
            return None
    if (
        scores.dtype.type not in _FAST_DTYPES
        or temperature != 1.0
        or scores.ndim == 0
        or axis not in (-1, scores.ndim - 1)
        or not 0 < scores.size <= _BLOCK_ENTRIES
        or not scores.flags.c_contiguous
    ):
        return None
    return scores, scores if scores.ndim == 2 else scores.reshape(-1, scores.shape[-1])


def _finite_row_max(block: np.ndarray):
    """(the row maxima of a (rows, vocab) block as a column, (their lowest, their
    highest)), or None if one is not finite."""
    row_max = _row_maxima(block)
    lowest = float(np.minimum.reduce(row_max, axis=None))  # (NaN and +-inf propagate)
    highest = float(np.maximum.reduce(row_max, axis=None))
    finite = -math.inf < lowest and highest < math.inf  # (False for NaN)
    return (row_max, (lowest, highest)) if finite else None


def _small_block_row_max(block: np.ndarray):
    """The row maxima of a small (rows, vocab) block as a column, or None.

    On a block of fewer than `_SMALL_BLOCK` entries the checks, not the
    arithmetic, take most of the time, so they are two small reductions:
    no score is NaN, +-inf or so far below the highest row maximum that
    subtracting it overflows. Then every maximum is finite and nothing can
    warn (no np.errstate needed, which costs as much as a small softmax).
    None sends anything else (a -inf score, a bad row) to the general path.
    """
    row_max = _row_maxima(block)
    lowest = float(np.minimum.reduce(block, axis=None))
    highest = float(np.maximum.reduce(row_max, axis=None))
    safe = -math.inf < lowest and highest - lowest <= _LARGEST[block.dtype]  # (False for NaN)
    return row_max if safe else None


def _small_block(block: np.ndarray, kind: str):
    """softmax, log_softmax or logsumexp (a column) of a small block, or None (see
    `_small_block_row_max`): the lesson's max-shift, in as few NumPy calls as it takes."""
    row_max = _small_block_row_max(block)
    if row_max is None:
        return None
    shifted = block - row_max
    if kind == "softmax":
        probs = np.exp(shifted, out=shifted)
        return np.divide(probs, np.add.reduce(probs, axis=1, keepdims=True), out=probs)
    log_sums = np.log(np.add.reduce(np.exp(shifted), axis=1, keepdims=True))
    if kind == "log_softmax":
        return np.subtract(shifted, log_sums, out=shifted)
    return np.add(row_max, log_sums, out=log_sums)


def _normalize(logits, axis, temperature, mask, *, log: bool) -> np.ndarray:
    """softmax (log=False) or log_softmax (log=True) of the public arguments."""
    common = _one_block(logits, axis, temperature, mask)
    if common is not None:
        scores, block = common
        if block.size < _SMALL_BLOCK:
            out = _small_block(block, "log_softmax" if log else "softmax")
        else:
            out, maxima = np.empty_like(block), _finite_row_max(block)
            if maxima is None:
                out = None
            else:
                with np.errstate(over="ignore"):  # (only ever a hopeless score - max -> -inf)
                    if log:
                        _log_softmax_into(block, maxima[0], out, 1.0, _block_scratch(block))
                    else:
                        _softmax_into(block, *maxima, out, 1.0)
        if out is not None:  # (else the general path raises the error that explains it)
            return out if scores.ndim == 2 else out.reshape(scores.shape)
    scores, axis, temperature, dtype = _prepare(logits, axis, temperature, mask)
    masked = mask is not None
    rows, shape = _rows_of(scores, axis)
    # A fresh array (a mask's `np.where`, or a copy by `_rows_of`): write the result into it.
    out = rows if masked or not np.may_share_memory(rows, scores) else np.empty_like(rows)
    scale = 1.0 / temperature
    scratch = _block_scratch(rows) if log else None
    with np.errstate(over="ignore"), _errors_located_in(scores, axis, masked):
        # (over: only ever a hopeless score * scale -> -inf)
        for block in _blocks(rows):
            block_rows, block_out = rows[block], out[block]
            maxima = _finite_row_max(block_rows)
            if maxima is None:
                _raise_for_bad_rows(block_rows, _row_maxima(block_rows), masked)
            row_max, row_range = maxima
            if log:
                _log_softmax_into(block_rows, row_max, block_out, scale, scratch)
            else:
                _softmax_into(block_rows, row_max, row_range, block_out, scale)
        # float16 input: a log-probability below -65504 rounds to -inf, as it should.
        return _restored(out, shape, axis).astype(dtype, copy=False)


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
    `scipy.special.logsumexp` but `axis` defaults to -1, and NaN, +inf, a row
    with no finite score (or no candidate under `mask`) and an empty array are
    errors, where SciPy returns NaN, +inf, -inf and -inf.

    >>> float(logsumexp([1000.0, 1000.0]))  # 1000 + log 2
    1000.6931471805599
    """
    common = _one_block(logits, axis, 1.0, mask)
    if common is not None:
        scores, block = common
        if block.size < _SMALL_BLOCK:
            result = _small_block(block, "logsumexp")
        else:
            maxima = _finite_row_max(block)
            if maxima is None:
                result = None
            else:
                with np.errstate(over="ignore"):  # (only ever a hopeless score - max -> -inf)
                    result = _logsumexp_column(block, maxima[0], _block_scratch(block))
        if result is not None:  # (else the general path raises the error that explains it)
            return result.reshape((*scores.shape[:-1], 1) if keepdims else scores.shape[:-1])
    scores, axis, _, dtype = _prepare(logits, axis, 1.0, mask)
    masked = mask is not None
    rows, shape = _rows_of(scores, axis)
    scratch = _block_scratch(rows)
    result = np.empty((len(rows), 1), rows.dtype)
    with np.errstate(over="ignore"), _errors_located_in(scores, axis, masked):
        # (over: only ever a hopeless score - max -> -inf)
        for block in _blocks(rows):
            block_rows = rows[block]
            maxima = _finite_row_max(block_rows)
            if maxima is None:
                _raise_for_bad_rows(block_rows, _row_maxima(block_rows), masked)
            row_max = maxima[0]
            result[block] = _logsumexp_column(block_rows, row_max, scratch)
    kept_shape = (1,) * scores.ndim if axis is None else (*shape[:-1], 1)
    result = _restored(result, kept_shape, axis).astype(dtype, copy=False)
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
