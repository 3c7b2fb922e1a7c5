"""Scoring whole sequences, and decoding them: greedy, sampling, beam search, exhaustive.

The chain rule makes a sequence's probability a product of next-token
probabilities; in log space it is a sum, which neither underflows nor loses
digits::

    log p(w_1 .. w_T | prefix) = sum_t log p(w_t | prefix, w_1 .. w_{t-1})

* `token_log_probs` / `sequence_log_prob`: the terms and the sum, for a batch
  of sequences with padding masked out. ``logits[..., t, :]`` must be the
  scores for position t, i.e. computed from the tokens before it (with a
  Hugging Face causal LM run on ``ids``: ``logits[:, :-1]`` scores
  ``ids[:, 1:]``). Each position's normalizer logsumexp(logits) is computed
  a few rows at a time, so no log-softmax the size of the logits is ever
  built (a (32, 128, 50257) float32 batch is 823 MB).
* `length_normalized`: Hugging Face's score of a finished beam,
  sum of log-probs / length ** length_penalty, where length counts the
  generated tokens (``</s>`` included, the prompt not).
* `greedy_decode`, `sample_decode`, `beam_search`, `exhaustive_search` on any
  model with ``next_token_logits(ids)`` for a (batch, length) array of ids
  (the tiny model `utils.lm.load()` is one). Each returns `Hypothesis`
  objects scored with the model's own log-probabilities (before temperature
  or filtering), so the results of different methods compare directly.

The tiny model has a case built in where greedy decoding loses: after
"the cat", "sat" is the likeliest word but "slept soundly" beats "sat on".

>>> from utils import lm
>>> model = lm.load()
>>> greedy_decode(model, "the cat", max_new_tokens=2).text
'the cat sat on'
>>> beam_search(model, "the cat", beam_width=2, max_new_tokens=2)[0].text
'the cat slept soundly'
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import numpy as np

from utils._validation import as_float_array
from utils.probability import log_softmax, logsumexp
from utils.sampling import sample_next_token

__all__ = [
    "BeamStep",
    "Hypothesis",
    "beam_search",
    "beam_search_steps",
    "exhaustive_search",
    "greedy_decode",
    "length_normalized",
    "sample_decode",
    "sequence_log_prob",
    "token_log_probs",
]

# Positions are normalized in chunks of about this many logits (4 MB of
# float32): small enough to stay in the CPU cache, large enough to amortize
# the per-call overhead.
_CHUNK_ENTRIES = 1 << 20
# exhaustive_search refuses to enumerate more sequences than this.
_MAX_EXHAUSTIVE = 2_000_000


# --- scoring -------------------------------------------------------------------------------------
def _check_token_ids(token_ids, logits_shape: tuple) -> np.ndarray:
    ids = np.asarray(token_ids)
    if ids.dtype.kind not in "iu":
        raise TypeError(
            f"token_ids must be integer token ids, got dtype {ids.dtype}; "
            "e.g. token_ids = np.array([[2, 16, 36]])."
        )
    expected = logits_shape[:-1]
    if ids.shape != expected:
        raise ValueError(
            f"token_ids has shape {ids.shape} but logits has shape {logits_shape}: pass one "
            f"id per scored position, shape {expected}. Off by one? With a causal model run "
            "on ids, logits[:, :-1] are the scores of ids[:, 1:]."
        )
    return ids


def _check_position_mask(mask, shape: tuple) -> np.ndarray:
    if mask is None:
        return np.ones(shape, dtype=bool)
    mask = np.asarray(mask)
    if mask.dtype.kind != "b":
        raise TypeError(
            f"mask must be boolean (True = a real token, False = padding), got dtype "
            f"{mask.dtype}; e.g. mask = token_ids != pad_id."
        )
    try:
        return np.broadcast_to(mask, shape)
    except ValueError:
        raise ValueError(
            f"mask of shape {mask.shape} does not match token_ids of shape {shape}; give "
            "one True/False per position."
        ) from None


def _describe_bad_row(row: np.ndarray) -> str:
    if np.isnan(row).any():
        return "contain NaN"
    if (row == np.inf).any():
        return "contain +inf"
    return "are all -inf (no token is possible there)"


def _row_pieces(scores: np.ndarray):
    """(first position, (positions, vocab) view) pieces that cover `scores` in order.

    One piece, a reshape, when that needs no copy; otherwise (a slice such as
    ``logits[:, :-1]``, whose rows do not follow each other in memory from one
    sequence to the next) one piece per index of the leading axes that must be
    iterated over. Never a copy of the logits.
    """
    lead = scores.shape[:-1]
    for outer in range(len(lead) + 1):
        inner = math.prod(lead[outer:])
        try:
            pieces = [
                np.reshape(scores[index], (inner, scores.shape[-1]), copy=False)
                for index in np.ndindex(lead[:outer])
            ]
        except ValueError:  # (this many leading axes still need a copy)
            continue
        return [(number * inner, piece) for number, piece in enumerate(pieces)]
    raise AssertionError("unreachable: a single row always reshapes without a copy")


def _position_logsumexp(scores: np.ndarray, selected: np.ndarray, compute, batch_shape):
    """logsumexp of each selected position of a (..., vocab) array, flat.

    Runs of consecutive selected rows are passed to `logsumexp` as views, a
    few rows at a time, so nothing the size of `scores` is allocated (float16
    rows are converted to float32 one chunk at a time).
    """
    result = np.zeros(selected.size, dtype=compute)
    step = max(1, _CHUNK_ENTRIES // scores.shape[-1])
    for offset, rows in _row_pieces(scores):
        chosen = selected[offset : offset + len(rows)]
        edges = np.flatnonzero(np.diff(np.concatenate([[False], chosen, [False]]).astype(np.int8)))
        for run_start, run_stop in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
            for start in range(run_start, run_stop, step):
                stop = min(start + step, run_stop)
                chunk = rows[start:stop]
                try:
                    value = logsumexp(chunk.astype(compute, copy=False), axis=-1)
                except ValueError:
                    # The row maximum is NaN, +inf or -inf exactly for the unusable rows.
                    bad = int(np.flatnonzero(~np.isfinite(np.max(chunk, axis=-1)))[0])
                    where = np.unravel_index(offset + start + bad, batch_shape)
                    raise ValueError(
                        f"logits at position {tuple(int(i) for i in where)} "
                        f"{_describe_bad_row(chunk[bad])}; mask that position out or fix "
                        "the scores that produced it."
                    ) from None
                result[offset + start : offset + stop] = value
    return result


def token_log_probs(logits, token_ids, *, mask=None) -> np.ndarray:
    """log p(token) at every position: logits[..., id] - logsumexp(logits[..., :]).

    Parameters
    ----------
    logits : array_like of float, shape (..., time, vocab)
        Scores for each position (any leading axes; usually (batch, time, vocab)).
    token_ids : array_like of int, shape (..., time)
        The token at each position (logits.shape[:-1]).
    mask : array_like of bool, broadcastable to token_ids.shape, optional
        False marks padding: its log-probability is reported as 0.0 (log 1,
        so sums ignore it) and its logits and id are not looked at.

    Returns float64 / float32 log-probabilities of shape token_ids.shape
    (float16 logits are computed and returned in float32: a float16 log-prob
    has only three significant digits).

    >>> import numpy as np
    >>> logits = np.log([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]])
    >>> np.exp(token_log_probs(logits, [0, 2])).round(3)
    array([0.5, 0.8])
    """
    scores = as_float_array(logits)
    if scores.ndim < 1:
        raise ValueError("logits must have a vocabulary axis: shape (..., time, vocab).")
    ids = _check_token_ids(token_ids, scores.shape)
    selected = _check_position_mask(mask, ids.shape)
    compute = np.float32 if scores.dtype == np.float16 else scores.dtype.type
    vocab = scores.shape[-1]
    outside = selected & ((ids < 0) | (ids >= vocab))
    if outside.any():
        where = tuple(int(i) for i in np.argwhere(outside)[0])
        raise ValueError(
            f"token_ids[{where}] = {int(ids[where])} is not a token id: ids run from 0 to "
            f"{vocab - 1}. If it is padding, set mask=False there."
        )
    safe_ids = np.where(selected, ids, 0)
    picked = np.take_along_axis(scores, safe_ids[..., None], axis=-1)[..., 0].astype(compute)
    totals = _position_logsumexp(scores, selected.reshape(-1), compute, ids.shape)
    return np.where(selected, picked - totals.reshape(ids.shape), compute(0))


def sequence_log_prob(logits, token_ids, *, mask=None) -> np.ndarray:
    """Log-probability of each whole sequence: the sum of its tokens' log-probs.

    Same arguments as `token_log_probs` (padding masked out with `mask`); the
    sum runs over the time axis (the last axis of `token_ids`) in float64.
    Returns shape token_ids.shape[:-1] (a numpy float for one sequence).
    Never builds a log-softmax the size of `logits`.

    >>> import numpy as np
    >>> logits = np.log([[[0.5, 0.5], [0.9, 0.1]], [[0.5, 0.5], [0.2, 0.8]]])
    >>> np.exp(sequence_log_prob(logits, [[0, 0], [1, 1]], mask=[[True, True], [True, False]]))
    array([0.45, 0.5 ])
    """
    per_token = token_log_probs(logits, token_ids, mask=mask)
    if per_token.ndim == 0:
        raise ValueError("token_ids needs a time axis: shape (..., time).")
    return per_token.sum(axis=-1, dtype=np.float64)[()]


def length_normalized(score, length, *, length_penalty=1.0):
    """Hugging Face's score of a finished beam: score / length ** length_penalty.

    `score` is a sum of log-probabilities (<= 0), `length` the number of
    generated tokens (``</s>`` included, the prompt not; >= 1). Because the
    score is negative, length_penalty > 0 favours longer sequences (dividing
    by a larger number brings the score towards 0), < 0 shorter ones, and
    0 compares raw sums. Broadcasts; returns float64.

    >>> float(length_normalized(-6.0, 3)), float(length_normalized(-6.0, 3, length_penalty=0.0))
    (-2.0, -6.0)
    """
    if isinstance(length_penalty, (bool, np.bool_)) or not isinstance(length_penalty, numbers.Real):
        raise TypeError(f"length_penalty must be a real number, got {length_penalty!r}.")
    if not math.isfinite(length_penalty):
        raise ValueError(f"length_penalty must be finite, got {length_penalty}.")
    scores = as_float_array(score, "score").astype(np.float64, copy=False)
    lengths = np.asarray(length)
    if lengths.dtype.kind not in "iuf" or lengths.size == 0:
        raise TypeError(f"length must be a number of tokens (int >= 1), got {length!r}.")
    if (lengths <= 0).any() or not np.isfinite(lengths).all():
        raise ValueError(
            f"length must be >= 1 (the number of generated tokens), got {length!r}; "
            "a sequence of length 0 has no score to normalize."
        )
    try:
        return (scores / lengths.astype(np.float64) ** float(length_penalty))[()]
    except ValueError:
        raise ValueError(
            f"score of shape {scores.shape} and length of shape {lengths.shape} do not "
            "broadcast; give one length per score."
        ) from None


# --- decoding ------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Hypothesis:
    """One decoded continuation of a prefix.

    `token_ids`: the generated tokens (the prefix excluded), int64.
    `token_log_probs`: the model's log-probability of each of them.
    `score`: `length_normalized(log_prob, length, length_penalty=...)`.
    `finished`: True if it ended with the end-of-sequence token.
    `text`: prefix and continuation decoded (if the model can decode).
    """

    token_ids: np.ndarray
    token_log_probs: np.ndarray
    score: float
    finished: bool
    text: str = field(default="")

    @property
    def log_prob(self) -> float:
        """log p(continuation | prefix): the sum of the token log-probabilities."""
        return float(np.sum(self.token_log_probs))

    @property
    def length(self) -> int:
        return len(self.token_ids)

    def __repr__(self) -> str:
        return (
            f"Hypothesis(text={self.text!r}, log_prob={self.log_prob:.4f}, "
            f"score={self.score:.4f}, finished={self.finished})"
        )


@dataclass(frozen=True)
class BeamStep:
    """What one step of beam search did (for step-by-step displays).

    `step`: 1 for the first generated token. `candidates`: the best
    2 * beam_width one-token extensions of the live beams, best first (by
    log_prob), as Hugging Face ranks them. `beams`: the live beams after the
    step. `finished`: every hypothesis that has left the search so far, best
    score first: those that ended with the end-of-sequence token
    (`Hypothesis.finished` True) and, at the last step, the live beams cut off
    by max_new_tokens (`Hypothesis.finished` False).
    """

    step: int
    candidates: list
    beams: list
    finished: list


def _check_positive_int(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number >= 1, got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}.")
    return int(value)


def _prefix_ids(model, prefix) -> np.ndarray:
    if not hasattr(model, "next_token_logits"):
        raise TypeError(
            "model must have a next_token_logits(ids) method taking (batch, length) ids, "
            f"such as utils.lm.load(); got {type(model).__name__}."
        )
    if isinstance(prefix, str):
        if not hasattr(model, "encode"):
            raise TypeError("this model cannot encode text: pass the prefix as token ids.")
        ids = model.encode(prefix)
    else:
        ids = np.asarray(prefix)
        if ids.size == 0 and ids.ndim == 1:
            ids = ids.astype(np.int64)
        if ids.dtype.kind not in "iu" or ids.ndim != 1:
            raise TypeError(
                "prefix must be a str or a 1-D sequence of token ids, "
                f"got {np.asarray(prefix).dtype} of shape {np.shape(prefix)}."
            )
    if ids.size == 0:
        raise ValueError(
            f"prefix is empty; start from the start-of-text token, {_bos_text(model)} "
            "(model.bos_id), to generate a text from scratch."
        )
    return ids.astype(np.int64)


def _bos_text(model) -> str:
    """The model's own start token, as text, for error messages ('<s>', '<|endoftext|>')."""
    bos, vocab = getattr(model, "bos_id", None), getattr(model, "vocab", None)
    try:
        return repr(vocab[bos])
    except (TypeError, IndexError, KeyError):
        return "the model's start token"


def _eos(model, eos):
    """The end-of-sequence token id from `eos`: None (the model's), a token id or a token."""
    if eos is None:
        return getattr(model, "eos_id", None)
    if isinstance(eos, str):
        vocab = list(getattr(model, "vocab", []))
        if eos not in vocab:
            raise ValueError(f"eos {eos!r} is not in the model's vocabulary; pass a token it has.")
        return vocab.index(eos)
    if isinstance(eos, (bool, np.bool_)) or not isinstance(eos, numbers.Integral):
        raise TypeError(f"eos must be a token id (int), a token (str) or None, got {eos!r}.")
    size = len(getattr(model, "vocab", ())) or None
    if eos < 0 or (size is not None and eos >= size):
        known = f" (0 to {size - 1})" if size else ""
        raise ValueError(f"eos = {eos} is not a token id of this model{known}.")
    return int(eos)


def _next_log_probs(model, contexts: np.ndarray) -> np.ndarray:
    logits = np.asarray(model.next_token_logits(contexts), dtype=np.float64)
    if logits.shape[:-1] != contexts.shape[:-1]:
        raise ValueError(
            f"model.next_token_logits returned shape {logits.shape} for contexts of shape "
            f"{contexts.shape}; expected {(*contexts.shape[:-1], 'vocab')}."
        )
    return log_softmax(logits)


def _hypothesis(model, prefix, tokens, log_probs, finished, length_penalty) -> Hypothesis:
    tokens = np.asarray(tokens, dtype=np.int64)
    log_probs = np.asarray(log_probs, dtype=np.float64)
    total = float(log_probs.sum())
    score = float(length_normalized(total, len(tokens), length_penalty=length_penalty))
    text = ""
    if hasattr(model, "decode"):
        text = model.decode(np.concatenate([prefix, tokens]))
    return Hypothesis(tokens, log_probs, score, bool(finished), text)


def greedy_decode(model, prefix, max_new_tokens, *, length_penalty=1.0, eos=None):
    """Extend `prefix` by the most likely token, step by step.

    Stops after `max_new_tokens` tokens or at the end-of-sequence token
    (`eos`: a token id or the token itself; default ``model.eos_id``).
    Returns a `Hypothesis`.

    >>> from utils import lm
    >>> greedy_decode(lm.load(), "the cat", 10)
    Hypothesis(text='the cat sat on the mat </s>', log_prob=-3.9449, score=-0.7890, finished=True)
    """
    prefix_ids = _prefix_ids(model, prefix)
    max_new_tokens = _check_positive_int(max_new_tokens, "max_new_tokens")
    eos = _eos(model, eos)
    tokens, log_probs = [], []
    for _ in range(max_new_tokens):
        context = np.concatenate([prefix_ids, np.array(tokens, dtype=np.int64)])
        step_log_probs = _next_log_probs(model, context[None])[0]
        token = int(np.argmax(step_log_probs))
        tokens.append(token)
        log_probs.append(step_log_probs[token])
        if token == eos:
            break
    finished = eos is not None and tokens[-1] == eos
    return _hypothesis(model, prefix_ids, tokens, log_probs, finished, length_penalty)


def sample_decode(
    model,
    prefix,
    rng,
    *,
    max_new_tokens,
    temperature=1.0,
    top_k=None,
    top_p=None,
    length_penalty=1.0,
    eos=None,
):
    """Extend `prefix` by sampling each token (`utils.sampling.sample_next_token`).

    Temperature, top-k and top-p shape the sampling; the returned
    `Hypothesis` scores the tokens with the model's unmodified
    log-probabilities. Seeded `rng`, reproducible text.

    >>> import numpy as np
    >>> from utils import lm
    >>> sample_decode(lm.load(), "the dog", np.random.default_rng(0), max_new_tokens=10).text
    'the dog ran away </s>'
    """
    prefix_ids = _prefix_ids(model, prefix)
    max_new_tokens = _check_positive_int(max_new_tokens, "max_new_tokens")
    eos = _eos(model, eos)
    tokens, log_probs = [], []
    for _ in range(max_new_tokens):
        context = np.concatenate([prefix_ids, np.array(tokens, dtype=np.int64)])
        logits = np.asarray(model.next_token_logits(context[None]), dtype=np.float64)[0]
        token = int(
            sample_next_token(logits, rng, temperature=temperature, top_k=top_k, top_p=top_p)
        )
        tokens.append(token)
        log_probs.append(log_softmax(logits)[token])
        if token == eos:
            break
    finished = eos is not None and tokens[-1] == eos
    return _hypothesis(model, prefix_ids, tokens, log_probs, finished, length_penalty)


def beam_search_steps(model, prefix, *, beam_width, max_new_tokens, length_penalty=1.0, eos=None):
    """Beam search one step at a time: yields a `BeamStep` after each token.

    See `beam_search` for the rules; this generator exposes every step.
    """
    prefix_ids = _prefix_ids(model, prefix)
    beam_width = _check_positive_int(beam_width, "beam_width")
    max_new_tokens = _check_positive_int(max_new_tokens, "max_new_tokens")
    eos = _eos(model, eos)
    beam_tokens = np.zeros((1, 0), dtype=np.int64)  # live beams' generated tokens
    beam_log_probs = np.zeros((1, 0))  # and their per-token log-probs
    finished: list[Hypothesis] = []

    def make(tokens, log_probs, is_finished):
        return _hypothesis(model, prefix_ids, tokens, log_probs, is_finished, length_penalty)

    for step in range(1, max_new_tokens + 1):
        contexts = np.concatenate(
            [np.broadcast_to(prefix_ids, (len(beam_tokens), len(prefix_ids))), beam_tokens],
            axis=1,
        )
        step_log_probs = _next_log_probs(model, contexts)
        totals = beam_log_probs.sum(axis=1)[:, None] + step_log_probs
        flat = totals.ravel()
        # Best first; among equal totals the lower (beam, token) index first.
        order = np.argsort(-flat, kind="stable")[: 2 * beam_width]
        order = order[np.isfinite(flat[order])]
        beam_of, token_of = np.divmod(order, step_log_probs.shape[1])
        extended_tokens = np.concatenate([beam_tokens[beam_of], token_of[:, None]], axis=1)
        extended_log_probs = np.concatenate(
            [beam_log_probs[beam_of], step_log_probs[beam_of, token_of][:, None]], axis=1
        )
        candidates, keep = [], []
        for rank, (tokens, log_probs) in enumerate(
            zip(extended_tokens, extended_log_probs, strict=True)
        ):
            is_eos = eos is not None and tokens[-1] == eos
            candidates.append(make(tokens, log_probs, is_eos))
            if is_eos:
                # As in Hugging Face: an end of sequence counts only from the top
                # beam_width candidates.
                if rank < beam_width:
                    finished.append(candidates[-1])
            elif len(keep) < beam_width:
                keep.append(rank)
        beam_tokens, beam_log_probs = extended_tokens[keep], extended_log_probs[keep]
        if step == max_new_tokens:  # out of steps: live beams end here, unfinished
            finished.extend(
                make(t, lp, False) for t, lp in zip(beam_tokens, beam_log_probs, strict=True)
            )
            beam_tokens, beam_log_probs = beam_tokens[:0], beam_log_probs[:0]
        finished.sort(key=lambda hypothesis: -hypothesis.score)
        beams = [make(t, lp, False) for t, lp in zip(beam_tokens, beam_log_probs, strict=True)]
        yield BeamStep(step, candidates, beams, list(finished))
        if not len(beam_tokens):
            return


def beam_search(model, prefix, *, beam_width, max_new_tokens, length_penalty=1.0, eos=None):
    """The `beam_width` best continuations found by beam search, best score first.

    At each step every live beam is extended by every token; the best
    2 * beam_width extensions by total log-probability are ranked; an
    extension ending in ``</s>`` (`eos`: a token id or the token; default ``model.eos_id``) that
    ranks within the top beam_width is finished, and the best beam_width
    others stay live. After `max_new_tokens` steps the live beams end too
    (unfinished). Finished hypotheses are ranked by
    `length_normalized(log_prob, length, length_penalty=length_penalty)`.

    These are the rules of Hugging Face's beam search with
    ``early_stopping="never"`` (canonical beam search), which finds the same
    best hypotheses; this version simply runs until no live beam is left or
    `max_new_tokens` is reached, where Hugging Face stops once no live beam
    can still win. (Its default, ``early_stopping=False``, stops earlier on a
    heuristic and can miss a better hypothesis.) With beam_width 1 this is
    greedy decoding; with a width as large as the number of possible
    sequences it is `exhaustive_search`.

    >>> from utils import lm
    >>> [h.text for h in beam_search(lm.load(), "the cat", beam_width=2, max_new_tokens=2)]
    ['the cat slept soundly', 'the cat sat on']
    """
    finished: list[Hypothesis] = []
    for step in beam_search_steps(
        model,
        prefix,
        beam_width=beam_width,
        max_new_tokens=max_new_tokens,
        length_penalty=length_penalty,
        eos=eos,
    ):
        finished = step.finished
    return finished[:beam_width]


def exhaustive_search(model, prefix, *, max_new_tokens, length_penalty=1.0, eos=None, top=None):
    """Score every continuation of up to `max_new_tokens` tokens; return them best first.

    A continuation ends at ``</s>`` or after `max_new_tokens` tokens; it is
    scored like a finished beam (`length_normalized`). Feasible only for
    small problems: vocab ** max_new_tokens sequences (at most two million).
    `top`: return only that many (default: all).

    >>> from utils import lm
    >>> exhaustive_search(lm.load(), "the cat", max_new_tokens=2, top=1)[0].text
    'the cat slept soundly'
    """
    prefix_ids = _prefix_ids(model, prefix)
    max_new_tokens = _check_positive_int(max_new_tokens, "max_new_tokens")
    eos = _eos(model, eos)
    frontier_tokens = np.zeros((1, 0), dtype=np.int64)
    frontier_log_probs = np.zeros((1, 0))
    # The continuations that end at each step, as arrays (one row each): hundreds of
    # thousands of them, so Hypothesis objects are built only for the `top` returned.
    ended_tokens, ended_log_probs, ended_at_eos = [], [], []
    for step in range(1, max_new_tokens + 1):
        contexts = np.concatenate(
            [np.broadcast_to(prefix_ids, (len(frontier_tokens), len(prefix_ids))), frontier_tokens],
            axis=1,
        )
        step_log_probs = _next_log_probs(model, contexts)
        vocab = step_log_probs.shape[1]
        if step == 1 and vocab**max_new_tokens > _MAX_EXHAUSTIVE:
            raise ValueError(
                f"exhaustive search over {vocab}**{max_new_tokens} = "
                f"{vocab**max_new_tokens:,} sequences is too large (limit "
                f"{_MAX_EXHAUSTIVE:,}); use fewer tokens or beam_search."
            )
        beam_of, token_of = np.divmod(np.arange(step_log_probs.size), vocab)
        tokens = np.concatenate([frontier_tokens[beam_of], token_of[:, None]], axis=1)
        log_probs = np.concatenate(
            [frontier_log_probs[beam_of], step_log_probs.reshape(-1, 1)], axis=1
        )
        possible = np.isfinite(log_probs[:, -1])
        ends = possible & ((token_of == eos) if eos is not None else False)
        if step == max_new_tokens:
            ends = possible
        ended_tokens.append(tokens[ends])
        ended_log_probs.append(log_probs[ends])
        ended_at_eos.append(token_of[ends] == eos)
        growing = possible & ~ends
        frontier_tokens, frontier_log_probs = tokens[growing], log_probs[growing]
        if not len(frontier_tokens):
            break
    totals = np.concatenate([log_probs.sum(axis=1) for log_probs in ended_log_probs])
    lengths = np.concatenate([np.full(len(ids), ids.shape[1]) for ids in ended_tokens])
    scores = length_normalized(totals, lengths, length_penalty=length_penalty)
    order = np.argsort(-np.atleast_1d(scores), kind="stable")[:top]
    starts = np.cumsum([0] + [len(ids) for ids in ended_tokens])
    hypotheses = []
    for index in order.tolist():
        step = int(np.searchsorted(starts, index, side="right")) - 1
        row = index - starts[step]
        hypotheses.append(
            _hypothesis(
                model,
                prefix_ids,
                ended_tokens[step][row],
                ended_log_probs[step][row],
                bool(ended_at_eos[step][row]),
                length_penalty,
            )
        )
    return hypotheses
