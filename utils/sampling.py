"""Choosing the next token: greedy choice, temperature, top-k, top-p, and sampling.

The semantics are those of Hugging Face `generate` (its `TopKLogitsWarper`,
`TopPLogitsWarper` and `TemperatureLogitsWarper`), with the differences said
plainly:

* Filters return new logits with the removed tokens set to -inf
  (`filter_value=-inf`), over any leading batch axes; they never change their
  input. The kept entries are the input's values, unchanged, in its dtype.
* `top_k_filter` keeps exactly k tokens. When several tokens tie with the
  k-th largest logit, the lower token ids are kept. (Hugging Face keeps every
  token whose logit is >= the k-th largest, so ties can keep more than k.)
* `top_p_filter` keeps the smallest set of most likely tokens whose
  probability reaches p: a token that brings the mass exactly to p is kept,
  and nothing after it. Ties are broken by lower token id, so the kept set is
  deterministic. A cumulative probability within rounding error of p (4
  machine epsilons of the logits' dtype, plus one float64 epsilon per token
  summed) counts as reaching p: float rounding must not decide whether the
  boundary token stays. (Hugging Face compares the ascending cumulative
  probability with 1 - p without a tolerance, so rounding decides there: on
  probabilities (0.5, 0.3, 0.2) with p = 0.8 its rule keeps all three tokens
  in float64, because 1 - 0.8 rounds to 0.19999999999999996 < 0.2; this
  module keeps two.) p = 1 keeps every token, as `generate` does by skipping
  the filter.
* `repetition_penalty` is Hugging Face's `RepetitionPenaltyLogitsProcessor`:
  the logit of every token already in the sequence is divided by the penalty
  when it is positive and multiplied by it when it is negative, once per
  token however often it occurred.
* `sample_next_token` applies temperature, then top-k, then top-p (Hugging
  Face's order), then draws one token per row by the inverse CDF with one
  uniform number per row from your `numpy.random.Generator`.
* Bad arguments raise errors that say what to pass instead: k < 1, p outside
  (0, 1], temperature 0 (use `greedy_next_token`), NaN or +inf logits.

How the filters stay fast on a 50,257-token vocabulary without sorting it:
a strided sample of each row gives a threshold that a few hundred tokens
pass; only those candidates are sorted. When top-p needs more tokens than
that (a flat distribution), a binary search over sampled values brackets the
boundary and only the tokens in between are sorted; rows where that fails
(many ties) are sorted whole, so the result is always exact.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from utils._validation import as_float_array, check_temperature
from utils.probability import _row_max

__all__ = [
    "greedy_next_token",
    "repetition_penalty",
    "sample_next_token",
    "top_k_filter",
    "top_p_filter",
]

# Rows longer than this are pre-filtered through a strided sample of about
# _SAMPLE_SIZE entries; shorter rows are simply partitioned.
_SAMPLE_SIZE = 1024
# Sampling sums weights in blocks of this many tokens, then searches one block.
_BLOCK = 256
# Top-p first ranks this many candidates per row (enough for peaked distributions).
_FIRST_POOL = 256


# --- argument checks -----------------------------------------------------------------------------
def _check_count(value, name: str, hint: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number >= 1, got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}; {hint}")
    return int(value)


def _check_k(k) -> int:
    return _check_count(
        k,
        "k",
        "k = 0 would remove every token. To switch top-k off, do not filter "
        "(sample_next_token(..., top_k=None)); Hugging Face's generate spells that top_k=0.",
    )


def _check_min_tokens(min_tokens_to_keep) -> int:
    return _check_count(
        min_tokens_to_keep, "min_tokens_to_keep", "at least one token must stay (the default is 1)."
    )


def _check_p(p) -> float:
    if isinstance(p, (bool, np.bool_)) or not isinstance(p, numbers.Real):
        raise TypeError(f"p must be a number in (0, 1], got {p!r}.")
    value = float(p)
    if math.isnan(value) or not 0.0 < value <= 1.0:
        raise ValueError(
            f"p must be in (0, 1], got {value}. p is the probability mass to keep: "
            "p = 1 keeps every token; for only the most likely token use "
            "greedy_next_token (p = 0 is a known trap: Hugging Face then keeps "
            "min_tokens_to_keep tokens)."
        )
    return value


def _check_rng(rng) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator, e.g. rng = np.random.default_rng(0), "
            f"got {type(rng).__name__}; a seeded generator makes the draws reproducible."
        )
    return rng


def _scores(logits) -> np.ndarray:
    """The logits as a float array with a vocabulary axis, validated row by row."""
    scores = as_float_array(logits)
    if scores.ndim == 0:
        raise ValueError(
            "logits is a single number (0-d); pass one score per vocabulary token, "
            "shape (vocab,) or (batch, ..., vocab)."
        )
    _row_max(scores, scores.ndim - 1, False)  # NaN, +inf or a row of -inf: a clear error
    return scores


def _row_counts(mask: np.ndarray) -> np.ndarray:
    """The number of True entries in each row of a 2-D boolean array."""
    if len(mask) <= 256:  # np.count_nonzero of a whole row is much faster than axis=1
        return np.array([np.count_nonzero(row) for row in mask], dtype=np.intp)
    return mask.view(np.uint8).sum(axis=1, dtype=np.uint32).astype(np.intp)


def _rows(scores: np.ndarray) -> np.ndarray:
    """A C-contiguous (rows, vocab) view of the scores (a copy only if needed)."""
    return np.ascontiguousarray(scores).reshape(-1, scores.shape[-1])


# --- candidate pools -----------------------------------------------------------------------------
def _candidate_pool(rows: np.ndarray, count: int):
    """The finite entries at or above a per-row threshold that `count` entries reach.

    Returns (values, sizes): values (rows, width) holds each row's candidates
    (in increasing token id, padded with -inf), sizes (rows,) how many. The
    pool always contains the min(count, finite entries) largest entries of
    its row, ties with the smallest of them included; -inf entries never
    enter it.
    """
    n_rows, vocab = rows.shape
    if count >= vocab // 8 or vocab <= 4 * _SAMPLE_SIZE:
        threshold = np.full(n_rows, -np.inf, dtype=rows.dtype)
    else:
        # The rank-th largest entry of a 1-in-stride sample: about rank * stride
        # entries are at or above it, and at least `count` with high probability
        # (rank is the expected number plus four standard deviations).
        stride = vocab // _SAMPLE_SIZE
        sample = rows[:, ::stride]
        expected = count / stride
        rank = min(sample.shape[1], math.ceil(expected + 4 * math.sqrt(expected) + 4))
        width = sample.shape[1]
        threshold = np.partition(sample, width - rank, axis=1)[:, width - rank]
    above = rows >= threshold[:, None]
    sizes = _row_counts(above)
    # Unlucky samples and rows with many ties get the exact threshold.
    unusual = (sizes < count) | (sizes > 4 * count + 4 * _SAMPLE_SIZE)
    unusual &= threshold > -np.inf
    if unusual.any():
        exact = np.partition(rows[unusual], vocab - count, axis=1)[:, vocab - count]
        threshold[unusual] = exact
        above[unusual] = rows[unusual] >= exact[:, None]
    # A -inf threshold: every finite entry, and no -inf (probability 0) entry.
    at_minus_inf = threshold == -np.inf
    if at_minus_inf.any():
        above[at_minus_inf] = rows[at_minus_inf] > -np.inf
    return _gather(rows, above)


def _gather(rows: np.ndarray, selected: np.ndarray):
    """(values, sizes): each row's selected entries in increasing token id, padded with -inf."""
    sizes = _row_counts(selected)
    if (sizes == rows.shape[1]).all():  # whole rows (small or flat ones): nothing to gather
        return rows, sizes
    flat = np.flatnonzero(selected)
    row_of = flat // rows.shape[1]
    slot = np.arange(flat.size) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    values = np.full((len(rows), max(1, int(sizes.max()))), -np.inf, dtype=rows.dtype)
    values[row_of, slot] = rows.reshape(-1)[flat]
    return values, sizes


def _keep_top(rows: np.ndarray, threshold: np.ndarray, keep) -> np.ndarray:
    """New logits keeping, per row, the `keep` largest entries; `threshold` is the
    keep-th largest value. Among entries equal to it, the lower token ids stay."""
    above = rows >= threshold[:, None]
    filtered = np.full(rows.shape, -np.inf, dtype=rows.dtype)
    np.copyto(filtered, rows, where=above)
    excess = _row_counts(above) - keep
    # Only rows with ties at the threshold keep too many (practically never with
    # real logits); at a -inf threshold the extra entries are -inf already.
    for row in np.flatnonzero((excess > 0) & (threshold > -np.inf)):
        tied = np.flatnonzero(rows[row] == threshold[row])
        filtered[row, tied[len(tied) - excess[row] :]] = -np.inf
    return filtered


def _ranked(values: np.ndarray) -> np.ndarray:
    """Each row sorted most likely first (-inf padding last); ties need no order."""
    return np.sort(values, axis=1)[:, ::-1]


def _boundary_band(rows: np.ndarray, log_totals: np.ndarray, target: float):
    """Bracket each row's top-p boundary between sampled values: (band, mass_above, count_above).

    A strided sample of each row, sorted, gives candidate thresholds; a binary
    search (about ten passes over the rows) finds the highest one whose tokens
    reach the target mass. `band` holds, ranked, the tokens between it and two
    sampled values above it (a few hundred per row); `count_above` tokens of
    total probability `mass_above` lie above the band.
    """
    compute = np.float64 if rows.dtype == np.float64 else np.float32
    # Probabilities in the compute dtype, from a float64 difference: rounding errors
    # are independent from token to token, so sums of them stay accurate.
    probs = np.exp((rows.astype(np.float64) - log_totals[:, None]).astype(compute))
    sample = _ranked(rows[:, :: rows.shape[1] // _SAMPLE_SIZE])
    width = sample.shape[1]
    index = np.arange(len(rows))
    low, high = np.zeros(len(rows), dtype=np.intp), np.full(len(rows), width)
    while (low < high).any():
        middle = (low + high) // 2
        candidate = sample[index, np.minimum(middle, width - 1)]
        # Plain sums, not a BLAS product: BLAS threads stall when the CPUs are busy.
        enough = ((rows >= candidate[:, None]) * probs).sum(axis=1) >= target
        searching = low < high
        high = np.where(searching & enough, middle, high)
        low = np.where(searching & ~enough, middle + 1, low)
    upper = np.where(low >= 2, sample[index, np.maximum(low - 2, 0)], np.inf).astype(rows.dtype)
    lower = np.where(low + 1 < width, sample[index, np.minimum(low + 1, width - 1)], -np.inf)
    above = rows >= upper[:, None]
    band, _ = _gather(rows, (rows >= lower.astype(rows.dtype)[:, None]) & ~above)
    return _ranked(band), (above * probs).sum(axis=1, dtype=np.float64), _row_counts(above)


def _boundary_in(ranked, mass_above, count_above, log_totals, p, tolerance_base):
    """Find each row's top-p boundary in `ranked`: (found, count).

    `ranked` (rows, width) holds tokens sorted most likely first, right after
    `count_above` more likely tokens of total probability `mass_above`.
    found[r]: the mass reaches p at one of them; count[r]: how many tokens
    are then kept. A row whose mass was reached above `ranked` is not found.
    """
    epsilon = np.finfo(np.float64).eps
    probs = np.exp(ranked.astype(np.float64) - log_totals[:, None])
    mass = mass_above[:, None] + np.cumsum(probs, axis=1)
    counted = count_above[:, None] + np.arange(1, ranked.shape[1] + 1)
    reached = mass >= p - (tolerance_base + counted * epsilon)
    reached &= (mass_above < p - (tolerance_base + count_above * epsilon))[:, None]
    return reached.any(axis=1), count_above + reached.argmax(axis=1) + 1


# --- the filters ---------------------------------------------------------------------------------
def top_k_filter(logits, k, *, min_tokens_to_keep=1) -> np.ndarray:
    """Keep the k highest logits of each row; set the others to -inf.

    Parameters
    ----------
    logits : array_like of float, shape (..., vocab)
    k : int >= 1
        How many tokens to keep (all of them if k >= vocab).
    min_tokens_to_keep : int >= 1
        Keep at least this many (Hugging Face's argument): max(k, min_tokens_to_keep).

    Exactly k tokens stay: ties with the k-th largest logit keep the lower
    token ids (Hugging Face keeps all tied tokens). Returns a new array of the
    input's shape and dtype; the input is not modified.

    >>> top_k_filter([1.0, 3.0, 2.0, 3.0], k=2)
    array([-inf,   3., -inf,   3.])
    >>> top_k_filter([2.0, 1.0, 2.0, 2.0], k=2)  # a three-way tie: ids 0 and 2 stay
    array([  2., -inf,   2., -inf])
    """
    scores = _scores(logits)
    k = _check_k(k)
    rows = _rows(scores)
    keep = min(max(k, _check_min_tokens(min_tokens_to_keep)), rows.shape[1])
    if keep == rows.shape[1]:
        return scores.copy()
    values, sizes = _candidate_pool(rows, keep)
    width = values.shape[1]
    # Rows with fewer than `keep` finite logits keep all of them: threshold -inf.
    threshold = np.full(len(rows), -np.inf, dtype=rows.dtype)
    if width >= keep:
        kth = np.partition(values, width - keep, axis=1)[:, width - keep]
        threshold = np.where(sizes >= keep, kth, threshold)
    return _keep_top(rows, threshold, keep).reshape(scores.shape)


def top_p_filter(logits, p, *, min_tokens_to_keep=1) -> np.ndarray:
    """Keep the smallest set of most likely tokens whose probability reaches p.

    Parameters
    ----------
    logits : array_like of float, shape (..., vocab)
    p : float in (0, 1]
        The probability mass to keep ("nucleus"). A token that brings the
        mass exactly to p is kept, and nothing after it; p = 1 keeps all.
    min_tokens_to_keep : int >= 1
        Keep at least this many of the most likely tokens.

    Probabilities are softmax(logits) over the whole row. Returns a new array
    of the input's shape and dtype; the input is not modified.

    >>> import numpy as np
    >>> logits = np.log([0.5, 0.3, 0.1, 0.1])
    >>> top_p_filter(logits, 0.8).round(3)  # 0.5 + 0.3 reaches 0.8: two tokens
    array([-0.693, -1.204,   -inf,   -inf])
    >>> top_p_filter(logits, 0.81).round(3)  # one more is needed
    array([-0.693, -1.204, -2.303,   -inf])
    """
    scores = _scores(logits)
    p = _check_p(p)
    rows = _rows(scores)
    n_rows, vocab = rows.shape
    keep_at_least = min(_check_min_tokens(min_tokens_to_keep), vocab)
    if p == 1.0:
        return scores.copy()
    # log of each row's normalizer, accurate to float64 rounding: the row maximum
    # plus the log of a float64 sum of the shifted exponentials.
    compute = np.float64 if rows.dtype == np.float64 else np.float32
    work = rows.astype(compute, copy=False)
    row_max = np.max(work, axis=1, keepdims=True)
    weights = np.subtract(work, row_max)
    # np.exp, not np.exp2: NumPy's float32 exp2 is ~20 times slower on -inf or underflow.
    np.exp(weights, out=weights)
    log_totals = row_max[:, 0].astype(np.float64) + np.log(weights.sum(axis=1, dtype=np.float64))
    del weights
    finite = _row_counts(rows > -np.inf)
    # How close to p counts as reaching it: the logits' own precision, plus
    # one float64 rounding per probability added up.
    tolerance_base = 4 * float(np.finfo(rows.dtype).eps)
    threshold = np.empty(n_rows, dtype=rows.dtype)
    keep = np.empty(n_rows, dtype=np.intp)

    def settle(done, ranked, count, count_above):
        """Record the kept count of rows `done` (indices into `rows`) and its threshold."""
        keep[done] = np.maximum(count, keep_at_least)
        position = keep[done] - count_above - 1
        inside = position < ranked.shape[1]  # else: min_tokens_to_keep > finite tokens
        boundary = ranked[np.arange(len(done)), np.minimum(position, ranked.shape[1] - 1)]
        threshold[done] = np.where(inside, boundary, -np.inf)

    # 1. The most likely few hundred tokens: enough for peaked rows.
    values, sizes = _candidate_pool(rows, min(max(_FIRST_POOL, keep_at_least), vocab))
    ranked = _ranked(values)
    nothing = np.zeros(n_rows), np.zeros(n_rows, dtype=np.intp)
    found, count = _boundary_in(ranked, *nothing, log_totals, p, tolerance_base)
    # A pool of every finite token is final even if rounding leaves its mass a hair short.
    complete = sizes == finite
    count = np.where(found, count, sizes)
    settled = found | complete
    settle(np.flatnonzero(settled), ranked[settled], count[settled], nothing[1][settled])
    pending = np.flatnonzero(~settled)
    # 2. Flatter rows: bracket the boundary by bisection, rank only the band around it.
    if pending.size and vocab > 4 * _SAMPLE_SIZE:
        subset, totals = rows[pending], log_totals[pending]
        band, mass_above, count_above = _boundary_band(subset, totals, p - tolerance_base)
        found, count = _boundary_in(band, mass_above, count_above, totals, p, tolerance_base)
        settle(pending[found], band[found], count[found], count_above[found])
        pending = pending[~found]
    # 3. Anything left (ties, rounding at the band's edge): rank whole rows.
    if pending.size:
        values, sizes = _gather(rows[pending], rows[pending] > -np.inf)
        ranked = _ranked(values)
        nothing = np.zeros(len(pending)), np.zeros(len(pending), dtype=np.intp)
        found, count = _boundary_in(ranked, *nothing, log_totals[pending], p, tolerance_base)
        settle(pending, ranked, np.where(found, count, sizes), nothing[1])
    return _keep_top(rows, threshold, keep).reshape(scores.shape)


# --- choosing a token ----------------------------------------------------------------------------
def repetition_penalty(logits, previous_ids, penalty) -> np.ndarray:
    """Make the tokens already in the sequence less likely, as Hugging Face does.

    Parameters
    ----------
    logits : array_like of float, shape (vocab,) or (batch, vocab)
    previous_ids : array_like of int, shape (length,) or (batch, length)
        The tokens generated (and prompted) so far; one row per logits row.
    penalty : float > 0
        1 changes nothing; above 1 discourages repeats, below 1 encourages them.

    Every token that occurs in `previous_ids` (once or many times) has its
    logit divided by `penalty` if it is positive and multiplied by it if it is
    negative (Hugging Face's `RepetitionPenaltyLogitsProcessor`, `repetition_penalty`
    in `generate`), so a seen token's logit moves down (a logit of exactly 0
    stays). Its probability usually falls, but not always: the other seen tokens
    fall too. The rule depends on where zero is, which the softmax ignores:
    adding a constant to every logit changes what the penalty does. Returns a
    new array.

    >>> repetition_penalty([2.0, -1.0, 0.5], [0, 1, 0], penalty=2.0)
    array([ 1. , -2. ,  0.5])
    """
    scores = _scores(logits)
    if scores.ndim > 2:
        raise ValueError(
            f"logits has shape {scores.shape}; pass (vocab,) or (batch, vocab) with one "
            "row of previous_ids per row."
        )
    if isinstance(penalty, bool) or not isinstance(penalty, numbers.Real):
        raise TypeError(f"penalty must be a positive number, got {penalty!r}.")
    penalty = float(penalty)
    if not (math.isfinite(penalty) and penalty > 0):
        raise ValueError(f"penalty must be a finite number > 0 (1 changes nothing), got {penalty}.")
    ids = np.asarray(previous_ids)
    if ids.size == 0:
        ids = ids.reshape((*scores.shape[:-1], 0)).astype(np.intp)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"previous_ids must be integer token ids, got dtype {ids.dtype}.")
    if ids.ndim != scores.ndim or ids.shape[:-1] != scores.shape[:-1]:
        raise ValueError(
            f"previous_ids has shape {ids.shape} for logits of shape {scores.shape}; "
            "give one row of ids per row of logits (shape (length,) for (vocab,))."
        )
    vocab = scores.shape[-1]
    if ids.size and (ids.min() < 0 or ids.max() >= vocab):
        raise ValueError(f"previous_ids holds ids outside 0..{vocab - 1} (the vocabulary).")
    rows = scores.reshape(-1, vocab).copy()
    for row, seen in zip(rows, ids.reshape(len(rows), -1), strict=True):
        seen = np.unique(seen)
        picked = row[seen]
        row[seen] = np.where(picked < 0, picked * penalty, picked / penalty)
    return rows.reshape(scores.shape)


def greedy_next_token(logits):
    """The most likely token of each row: argmax over the last axis.

    Ties go to the lower token id (as `numpy.argmax`). Returns an int64 id
    (numpy integer) for a 1-D input, an int64 array of shape (...) otherwise.

    >>> int(greedy_next_token([0.1, 2.0, 2.0]))
    1
    """
    scores = _scores(logits)
    return np.argmax(scores, axis=-1).astype(np.int64)[()]


def sample_next_token(logits, rng, *, temperature=1.0, top_k=None, top_p=None):
    """Draw one token per row from softmax(logits / temperature), after top-k and top-p.

    Parameters
    ----------
    logits : array_like of float, shape (..., vocab)
    rng : numpy.random.Generator
        Source of randomness; one uniform number is drawn per row, so a seeded
        generator gives reproducible tokens.
    temperature : float > 0
        Divide the logits by this first; temperature 0 is an error (use
        `greedy_next_token`, its limit).
    top_k : int >= 1 or None
        Then keep only the k most likely tokens (`top_k_filter`).
    top_p : float in (0, 1] or None
        Then keep the smallest set reaching probability p (`top_p_filter`).

    Returns an int64 token id (numpy integer) for 1-D logits, an int64 array of
    shape (...) for batched logits.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> [int(sample_next_token([2.0, 1.0, 0.1], rng)) for _ in range(8)]
    [0, 0, 0, 0, 1, 2, 0, 1]
    >>> int(sample_next_token([2.0, 1.0, 0.1], rng, top_k=1))  # only the argmax is left
    0
    """
    rng = _check_rng(rng)
    if (
        isinstance(temperature, numbers.Real)
        and not isinstance(temperature, (bool, np.bool_))
        and temperature == 0
    ):
        raise ValueError(
            "temperature must be > 0: temperature 0 means always taking the most likely "
            "token, which is greedy_next_token(logits), not sampling."
        )
    temperature = check_temperature(temperature)
    scores = _scores(logits)
    if scores.dtype == np.float16:  # float16 would overflow when divided by a small temperature
        scores = scores.astype(np.float32)
    if temperature != 1.0:
        # Shifting by the row maximum first changes no probability and cannot overflow.
        shifted = scores - np.max(scores, axis=-1, keepdims=True)
        scores = np.divide(shifted, scores.dtype.type(temperature), out=shifted)
    if top_k is not None:
        scores = top_k_filter(scores, top_k)
    if top_p is not None:
        scores = top_p_filter(scores, top_p)
    rows = _rows(scores)
    weights = rows - np.max(rows, axis=1, keepdims=True)
    np.exp(weights, out=weights)  # filtered tokens: exp(-inf) = 0
    tokens = _inverse_cdf(weights, rng.random(len(rows)))
    return tokens.reshape(scores.shape[:-1])[()]


def _inverse_cdf(weights: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Per row, the first token whose cumulative weight exceeds u * total.

    Two levels, so no row is cumulated in full: sums of blocks of _BLOCK
    tokens locate the block, then only that block is cumulated. A token of
    weight 0 is never returned.
    """
    n_rows, vocab = weights.shape
    size = min(_BLOCK, vocab)
    full = vocab // size * size
    # Pairwise sums within a block are accurate in the weights' dtype; the
    # running total across blocks is kept in float64.
    block_sums = weights[:, :full].reshape(n_rows, -1, size).sum(axis=2)
    if full < vocab:
        block_sums = np.concatenate([block_sums, weights[:, full:].sum(axis=1)[:, None]], axis=1)
    cumulative = np.cumsum(block_sums, axis=1, dtype=np.float64)
    targets = uniforms * cumulative[:, -1]
    block = np.count_nonzero(cumulative <= targets[:, None], axis=1)
    # u * total can round up to the total: fall back to the last block with weight.
    last_with_weight = block_sums.shape[1] - 1 - np.argmax(block_sums[:, ::-1] > 0, axis=1)
    block = np.minimum(block, last_with_weight)
    row = np.arange(n_rows)
    before = np.where(block > 0, cumulative[row, np.maximum(block - 1, 0)], 0.0)
    columns = block[:, None] * size + np.arange(size)
    inside = columns < vocab
    in_block = np.where(inside, weights[row[:, None], np.minimum(columns, vocab - 1)], 0.0)
    running = np.cumsum(in_block, axis=1, dtype=np.float64)
    offset = np.count_nonzero(running <= (targets - before)[:, None], axis=1)
    last_positive = size - 1 - np.argmax(in_block[:, ::-1] > 0, axis=1)
    return block * size + np.minimum(offset, last_positive)
