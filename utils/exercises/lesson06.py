"""Exercises of lesson 06, "Scoring whole sequences".

* ``06.sequence_log_prob``: the log-probability of a sequence from the logits
  of each step (the chain rule, in log space).
* ``06.length_normalized``: Hugging Face's length normalization of a finished
  sequence's score, ``score / length ** length_penalty``.
* ``06.best_sequence``: the most likely three-token sequence of a tiny model,
  by scoring every sequence (the answer greedy decoding and beam search only
  approximate).
* ``06.greedy_traps`` (reasoning): for each of seven contexts of the tiny model,
  is greedy decoding's 3-token continuation the best one?
* ``06.beam_trap`` (reasoning): tables of next-token distributions on which
  beam search of width 2 misses the best sequence; any such tables pass, verified
  with the course's beam search and exhaustive search (`Exercise.accepts`).
* ``06.run_on_diagnosis`` (reasoning): why a length penalty of 2 prefers
  run-on text, as a choice among labelled diagnoses.
* ``06.sequence_entropy``: the entropy of a three-token model's distribution
  over sequences: the mean surprise of a sampled sequence, which the mode's
  surprise is far below.

Convention for ``06.sequence_log_prob``: ``logits[t]`` are the scores of the
token at position ``t`` (already aligned with ``token_ids[t]``; a causal LM's
raw output would first be shifted by one position).

>>> import numpy as np
>>> from utils.exercises import get
>>> logits = np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
>>> round(get("06.sequence_log_prob").reference(logits, np.array([0, 2])), 4)
-1.5062
"""

from __future__ import annotations

from functools import cache, partial

import numpy as np

from utils import lm, sequences
from utils.exercises._matching import as_float64, first_matching_mistake, values_match
from utils.exercises._spec import Case, Exercise
from utils.probability import log_softmax

__all__ = [
    "EXERCISES",
    "GREEDY_TRAP_CONTEXTS",
    "RUN_ON_OPTIONS",
    "TableModel",
    "beam_trap_reference",
    "beam_trap_searches",
    "beam_trap_verdict",
    "best_continuation_ids",
    "best_sequence_reference",
    "greedy_sequence",
    "greedy_traps_reference",
    "length_normalized_reference",
    "run_on_diagnosis_reference",
    "sequence_entropy_reference",
    "sequence_log_prob_reference",
]


# The default tolerance for recognising a mistake; some diagnoses pass their own.
_matches = partial(values_match, rtol=1e-6, atol=1e-9)


# ------------------------------------------------------- 06.sequence_log_prob


def sequence_log_prob_reference(logits, token_ids) -> float:
    """sum over t of log softmax(logits[t])[token_ids[t]]: the chain rule in log space.

    `logits` (time, vocab) holds the scores of each step, `token_ids` (time,)
    the chosen tokens; the result is a float (natural log, <= 0). Computed
    by `utils.sequences.sequence_log_prob` in float64.
    """
    scores = np.asarray(logits, dtype=np.float64)
    return float(sequences.sequence_log_prob(scores, np.asarray(token_ids, dtype=np.int64)))


def _steps(rng: np.random.Generator, time: int, vocab: int, spread: float) -> np.ndarray:
    return spread * rng.standard_normal((time, vocab))


def _long_sequence() -> tuple[np.ndarray, np.ndarray]:
    """400 steps whose probabilities multiply to far below float64's smallest number."""
    rng = np.random.default_rng(406)
    logits = _steps(rng, 400, 20, 1.5)
    token_ids = rng.integers(0, 20, size=400)
    return logits, token_ids


_HAND_LOGITS = np.array([[2.0, 1.0, 0.0], [0.5, 2.5, 0.5]])
_LONG_LOGITS, _LONG_IDS = _long_sequence()
_FIVE_STEPS = _steps(np.random.default_rng(6), 5, 6, 2.0)

_SEQUENCE_CASES = (
    Case(args=(_HAND_LOGITS, np.array([0, 1])), label="cat, dog, mat: 'cat' then 'dog'"),
    Case(args=(np.array([[1.0, 2.0, 3.0]]), np.array([2])), label="a single step"),
    Case(args=(_FIVE_STEPS, np.array([3, 0, 5, 5, 1])), label="five steps, six tokens"),
    Case(args=(_LONG_LOGITS, _LONG_IDS), label="400 steps (the product underflows)"),
    Case(
        args=(
            np.array([[10000.0, 9999.0, 9990.0], [-10000.0, -10002.0, -10001.0]]),
            np.array([1, 2]),
        ),
        label="scores near +-1e4",
    ),
    Case(
        args=(np.array([[100.0, 99.0, 90.0], [95.0, 97.0, 96.0]], np.float32), np.array([0, 2])),
        label="scores near 100 (float32: exp overflows)",
    ),
    Case(
        args=(np.array([[0.0, -800.0, -1.0], [3.0, 1.0, 2.0]]), np.array([1, 0])),
        label="a token with log-probability near -800",
    ),
    Case(
        args=(np.array([[1.0, -np.inf, 0.5], [-np.inf, 2.0, 2.0]]), np.array([2, 1])),
        label="masked tokens scored -inf (not chosen)",
    ),
    Case(
        args=(np.array([[1.0, -np.inf, 0.5], [0.0, 2.0, 1.0]]), np.array([1, 2])),
        label="a masked token chosen: probability 0, log-probability -inf",
    ),
)


def _sequence_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(6):
        time = int(rng.integers(1, 60)) if index % 3 else int(rng.integers(300, 700))
        vocab = int(rng.integers(2, 40))
        offset = float(rng.choice([0.0, 1e3, -1e3, 5e4, 95.0]))
        # float32 only where its spacing (about 8e-6 near 100) stays below the tolerance.
        dtype = np.float32 if offset in (0.0, 95.0) else np.float64
        logits = (offset + _steps(rng, time, vocab, float(rng.uniform(0.5, 6.0)))).astype(dtype)
        token_ids = rng.integers(0, vocab, size=time)
        if index == 4 and vocab > 2:
            # A masked token (-inf) at every step, never the chosen one.
            masked = (token_ids + 1 + rng.integers(0, vocab - 1, size=time)) % vocab
            logits[np.arange(time), masked] = -np.inf
        elif index == 5:
            logits[0, token_ids[0]] -= 800.0  # a chosen token far below the others
        label = f"random #{index + 1}: {time} steps, {vocab} tokens, scores near {offset:g}"
        cases.append(Case(args=(logits, token_ids), label=label))
    return cases


def _token_log_probs(logits, token_ids) -> np.ndarray:
    log_probs = log_softmax(np.asarray(logits, dtype=np.float64), axis=-1)
    ids = np.asarray(token_ids, dtype=np.int64)
    return np.take_along_axis(log_probs, ids[:, None], axis=-1)[:, 0]


def _sequence_diagnose(case: Case, expected, got) -> str | None:
    logits, token_ids = np.asarray(case.args[0], dtype=np.float64), np.asarray(case.args[1])
    time = len(token_ids)
    per_token = _token_log_probs(logits, token_ids)
    value = np.asarray(got, dtype=np.float64)
    if value.shape == (time,) and time > 1:
        if _matches(value, per_token, rtol=1e-5):
            return (
                "you returned one log-probability per token; the sequence's log-probability "
                "is their sum (the chain rule, in log space)."
            )
        return "the result should be one number for the whole sequence, not one per token."
    if value.shape != ():
        return None
    if np.isneginf(expected) and np.isfinite(value):
        return (
            "a chosen token is masked (its score is -inf), so its probability is 0 and the "
            "sequence's log-probability is -inf; keep the -inf instead of replacing it."
        )
    if np.isnan(value):
        with np.errstate(all="ignore"):
            exponentials = np.exp(logits)
            naive = np.log(exponentials / exponentials.sum(axis=-1, keepdims=True))
        if np.isnan(naive).any():
            return (
                "the result is NaN: exp of large scores overflowed. Compute each step's "
                "log-probabilities as z - logsumexp(z) (log_softmax), never log(exp(z) / sum)."
            )
        if np.isneginf(logits).any():
            return (
                "the result is NaN: a masked token's log-probability is -inf, and -inf * 0 = "
                "NaN, so the chosen tokens cannot be picked by multiplying with a one-hot "
                "vector; index the chosen entry of each step instead."
            )
        return None
    if np.isneginf(value) and np.isfinite(expected):
        return (
            "the result is -inf although every chosen token has a probability above 0: a "
            "probability (or the product of many) underflowed to 0 before the log. Add the "
            "log-probabilities z - logsumexp(z) instead of multiplying probabilities."
        )
    token_probs = np.exp(per_token)
    gathered = np.take_along_axis(logits, token_ids[:, None], axis=-1)[:, 0]
    with np.errstate(invalid="ignore"):
        every_step = log_softmax(logits, axis=-1)[:, token_ids].sum()
    mistakes = [
        (
            np.exp(expected),
            "you returned the probability of the sequence (the product); "
            "return its log, computed as a sum of log-probabilities (the product underflows).",
        ),
        (
            token_probs.sum(),
            "you added probabilities; add log-probabilities (log p(a and b) = "
            "log p(a) + log p(b)).",
        ),
        (
            -expected,
            "the sign is flipped: that is the negative log-likelihood (a loss, >= 0); "
            "a log-probability is <= 0.",
        ),
        (
            gathered.sum(),
            "you added the raw scores of the chosen tokens; normalize each step "
            "first: log_softmax(logits) at the chosen token.",
        ),
        (
            expected / time,
            "you averaged the log-probabilities (a length-normalized score); "
            "this exercise asks for their sum.",
        ),
        (expected / np.log(2), "use the natural logarithm (np.log), not log2."),
        (
            every_step,
            "logits[:, token_ids] (or log_probs[:, token_ids]) picks every chosen token at "
            "every step; pick one entry per step: step t's entry for token_ids[t].",
        ),
        (expected / np.log(10), "use the natural logarithm (np.log), not log10."),
    ]
    if time > 1:
        over_time = log_softmax(logits, axis=0)
        mistakes.append(
            (
                np.take_along_axis(over_time, token_ids[:, None], axis=-1).sum(),
                "you normalized over the time axis (axis 0); each step is its own distribution "
                "over the vocabulary: normalize along the last axis.",
            )
        )
        shifted = log_softmax(logits, axis=-1)[np.arange(time - 1), token_ids[1:]].sum()
        mistakes.append(
            (
                shifted,
                "you paired logits[t] with token_ids[t + 1]; here the logits are already aligned: "
                "logits[t] scores token_ids[t].",
            )
        )
    return first_matching_mistake(value, expected, mistakes, rtol=1e-5, atol=1e-7)


SEQUENCE_LOG_PROB = Exercise(
    id="06.sequence_log_prob",
    title="The log-probability of a whole sequence",
    points=2,
    answer_name="sequence_log_prob",
    kind="function",
    reference=sequence_log_prob_reference,
    visible_cases=_SEQUENCE_CASES,
    hidden_cases=_sequence_hidden,
    rtol=1e-5,
    atol=1e-5,
    diagnose=_sequence_diagnose,
    hints=(
        "The chain rule multiplies the steps' probabilities; in log space that product "
        "becomes a sum, which never underflows.",
        "Normalize each step (each row) over the vocabulary in log space, read one entry "
        "per step: row t at column token_ids[t], and add those entries up.",
    ),
)


# ------------------------------------------------------- 06.length_normalized


def length_normalized_reference(score, length, length_penalty=1.0):
    """score / length ** length_penalty, as Hugging Face scores a finished beam.

    >>> float(length_normalized_reference(-6.0, 3))
    -2.0
    """
    return sequences.length_normalized(score, length, length_penalty=length_penalty)


_LENGTH_CASES = (
    Case(args=(-6.0, 3), label="score -6 over 3 tokens"),
    Case(args=(np.array([-6.0, -9.0, -2.5]), np.array([3, 6, 1])), label="three sequences"),
    Case(
        args=(np.array([-6.0, -9.0]), np.array([3, 6])),
        kwargs={"length_penalty": 0.0},
        label="length_penalty=0: no normalization",
    ),
    Case(
        args=(np.array([-6.0, -9.0]), np.array([3, 6])),
        kwargs={"length_penalty": 2.0},
        label="length_penalty=2: favours longer sequences more",
    ),
    Case(
        args=(np.array([-4.0, -12.0]), np.array([4, 9])),
        kwargs={"length_penalty": 0.5},
        label="length_penalty=0.5",
    ),
    Case(
        args=(np.array([-6.0, -9.0]), np.array([3, 6])),
        kwargs={"length_penalty": -1.0},
        label="length_penalty=-1: favours shorter sequences",
    ),
    Case(
        args=(np.array([[-6.0, -9.0], [-1.0, -20.0]]), np.array([[3, 6], [1, 10]])),
        kwargs={"length_penalty": 1.0},
        label="a (2, 2) batch",
    ),
)


def _length_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(6):
        shape = tuple(int(size) for size in rng.integers(1, 6, size=int(rng.integers(1, 3))))
        length = rng.integers(1, 60, size=shape)
        score = -rng.uniform(0.1, 3.0, size=shape) * length
        penalty = float(np.round(rng.uniform(-1.0, 3.0), 2))
        cases.append(
            Case(
                args=(score, length),
                kwargs={"length_penalty": penalty},
                label=f"random #{index + 1}: shape {shape}, length_penalty={penalty}",
            )
        )
    return cases


def _length_diagnose(case: Case, expected, got) -> str | None:
    score = np.asarray(case.args[0], dtype=np.float64)
    length = np.asarray(case.args[1], dtype=np.float64)
    penalty = float(case.kwargs.get("length_penalty", 1.0))
    mistakes = [
        (score * length**penalty, "you multiplied by length ** length_penalty; divide by it."),
        (
            score / length,
            "you divided by the length but ignored length_penalty; divide by "
            "length ** length_penalty.",
        ),
        (
            score / (penalty * length),
            "you divided by length_penalty * length; the penalty is "
            "an exponent: length ** length_penalty.",
        ),
        (
            -np.asarray(expected),
            "the sign is flipped; the normalized score of a log-probability stays <= 0.",
        ),
    ]
    google = ((5.0 + length) / 6.0) ** penalty
    mistakes.append(
        (
            score / google,
            "that is Google's length penalty ((5 + length) / 6) ** length_penalty; this "
            "exercise uses Hugging Face's: length ** length_penalty.",
        )
    )
    if penalty != 0:
        mistakes.append(
            (
                score / length ** (1 / penalty),
                "the exponent is length_penalty itself, not 1 / length_penalty.",
            )
        )
    return first_matching_mistake(got, expected, mistakes, rtol=1e-6, atol=1e-9)


LENGTH_NORMALIZED = Exercise(
    id="06.length_normalized",
    title="Length-normalized sequence scores",
    points=1,
    answer_name="length_normalized",
    kind="function",
    reference=length_normalized_reference,
    visible_cases=_LENGTH_CASES,
    hidden_cases=_length_hidden,
    rtol=1e-9,
    atol=1e-12,
    diagnose=_length_diagnose,
    hints=(
        "The score is divided by a power of the length, and length_penalty is that power's "
        "exponent: 0 leaves the score alone, 1 gives the mean per token.",
        "Write it so that it works element by element on NumPy arrays (a batch of scores "
        "with one length each) as well as on single numbers: avoid the math module.",
    ),
)


# ------------------------------------------------------------ 06.best_sequence


def _joint_log_probs(first, second, third) -> np.ndarray:
    """joint[a, b, c] = log first[a] + log second[a, b] + log third[a, b, c]."""
    with np.errstate(divide="ignore"):
        return (
            np.log(np.asarray(first, dtype=np.float64))[:, None, None]
            + np.log(np.asarray(second, dtype=np.float64))[:, :, None]
            + np.log(np.asarray(third, dtype=np.float64))
        )


def best_sequence_reference(first, second, third):
    """(token_ids, log_prob) of the most likely 3-token sequence, by exhaustive search.

    `first[a]` = p(a), `second[a, b]` = p(b | a), `third[a, b, c]` = p(c | a, b).
    Ties go to the sequence that comes first in vocabulary order (np.argmax).

    >>> first = np.array([0.6, 0.4])
    >>> second = np.array([[0.5, 0.5], [0.9, 0.1]])
    >>> third = np.full((2, 2, 2), 0.5)
    >>> ids, log_prob = best_sequence_reference(first, second, third)
    >>> ids.tolist(), round(float(np.exp(log_prob)), 3)
    ([1, 0, 0], 0.18)
    """
    joint = _joint_log_probs(first, second, third)
    best = np.unravel_index(int(np.argmax(joint)), joint.shape)
    return np.array(best, dtype=np.int64), float(joint[best])


def greedy_sequence(first, second, third) -> np.ndarray:
    """The ids greedy decoding picks: the most likely token at each step."""
    a = int(np.argmax(first))
    b = int(np.argmax(second[a]))
    c = int(np.argmax(third[a, b]))
    return np.array([a, b, c], dtype=np.int64)


def _beam_sequence(first, second, third, width: int) -> np.ndarray:
    """The best sequence a beam search of `width` finds (for the diagnosis)."""
    joint = _joint_log_probs(first, second, third)
    with np.errstate(divide="ignore"):
        step1 = np.log(np.asarray(first, dtype=np.float64))
        step2 = step1[:, None] + np.log(np.asarray(second, dtype=np.float64))
    keep1 = np.argsort(-step1, kind="stable")[:width]
    pairs = [(int(a), int(b)) for a in keep1 for b in range(step2.shape[1])]
    pairs.sort(key=lambda pair: -step2[pair])
    candidates = [(a, b, c) for a, b in pairs[:width] for c in range(joint.shape[2])]
    best = max(candidates, key=lambda triple: joint[triple])
    return np.array(best, dtype=np.int64)


def _table(rows) -> np.ndarray:
    return np.array(rows, dtype=np.float64)


# The lesson's hand example: "cat" is the likelier first word, but "dog" is
# followed by a near-certain second word and a likely third one.
_HAND_FIRST = _table([0.5, 0.4, 0.1])
_HAND_SECOND = _table([[0.4, 0.3, 0.3], [0.05, 0.9, 0.05], [0.2, 0.3, 0.5]])
_HAND_THIRD = np.full((3, 3, 3), 1 / 3)
_HAND_THIRD[0, 0] = [0.6, 0.2, 0.2]
_HAND_THIRD[1, 1] = [0.1, 0.1, 0.8]


def _greedy_wins():
    first = _table([0.7, 0.2, 0.1])
    second = _table([[0.8, 0.1, 0.1], [0.3, 0.3, 0.4], [0.2, 0.5, 0.3]])
    third = np.full((3, 3, 3), 1 / 3)
    third[0, 0] = [0.1, 0.2, 0.7]
    return first, second, third


def _last_step_decides():
    # Greedy's first two words lead to a flat third distribution; the
    # second-best second word leads to a certain one.
    first = _table([0.6, 0.3, 0.1])
    second = _table([[0.45, 0.4, 0.15], [0.3, 0.3, 0.4], [0.1, 0.1, 0.8]])
    third = np.full((3, 3, 3), 1 / 3)
    third[0, 1] = [0.0, 0.95, 0.05]
    return first, second, third


def _beyond_beam_two():
    # The best sequence starts with the third most likely token: a beam of
    # width 2 never sees it. Greedy, that beam and a search over the first three
    # tokens only each end on another sequence.
    first = _table([0.4, 0.35, 0.2, 0.05])
    second = np.full((4, 4), 0.25)
    second[2] = [0.0, 0.0, 1.0, 0.0]
    third = np.full((4, 4, 4), 0.25)
    third[0, 0] = [0.2, 0.2, 0.2, 0.4]  # where greedy goes
    third[0, 1] = [0.1, 0.1, 0.1, 0.7]  # what a width-2 beam settles for
    third[2, 2] = [0.02, 0.02, 0.02, 0.94]
    return first, second, third


def _no_shortcut():
    # Greedy and adding the steps' probabilities each pick another sequence.
    first = _table([0.47, 0.39, 0.14])
    second = _table([[0.04, 0.61, 0.35], [0.79, 0.15, 0.06], [0.9, 0.04, 0.06]])
    third = _table(
        [
            [[0.81, 0.16, 0.03], [0.36, 0.22, 0.42], [0.5, 0.25, 0.25]],
            [[0.08, 0.46, 0.46], [0.49, 0.5, 0.01], [0.14, 0.79, 0.07]],
            [[0.29, 0.65, 0.06], [0.45, 0.06, 0.49], [0.43, 0.47, 0.1]],
        ]
    )
    return first, second, third


_BEST_CASES = (
    # First the case where every shortcut gives its own answer, so that the first message
    # a learner sees names the shortcut that was really taken.
    Case(args=_no_shortcut(), label="3 tokens: greedy and adding probabilities both miss the best"),
    Case(args=(_HAND_FIRST, _HAND_SECOND, _HAND_THIRD), label="the lesson's example (3 tokens)"),
    Case(args=_greedy_wins(), label="a model where greedy happens to be right"),
    Case(args=_last_step_decides(), label="greedy's second word leads to a flat last step"),
    Case(args=_beyond_beam_two(), label="4 tokens: the best starts with the 3rd likeliest token"),
)


def _best_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(6):
        vocab = int(rng.integers(2, 6))
        alpha = float(rng.uniform(0.2, 2.0))
        first = rng.dirichlet(np.full(vocab, alpha))
        second = rng.dirichlet(np.full(vocab, alpha), size=vocab)
        third = rng.dirichlet(np.full(vocab, alpha), size=(vocab, vocab))
        cases.append(
            Case(
                args=(first, second, third),
                label=f"random #{index + 1}: {vocab} tokens, Dirichlet({alpha:.2f}) tables",
            )
        )
    return cases


def _best_diagnose(case: Case, expected, got) -> str | None:
    first, second, third = (np.asarray(table, dtype=np.float64) for table in case.args)
    expected_ids, expected_log_prob = expected
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return (
            "return a pair (token_ids, log_prob): the three token ids of the best sequence "
            "and its total log-probability."
        )
    ids = np.asarray(got[0])
    if (
        ids.shape == ()
        and ids.dtype.kind in "iu"
        and int(ids) == int(np.argmax(_joint_log_probs(first, second, third)))
    ):
        return (
            "the first item is np.argmax's flat index into the (vocab, vocab, vocab) table; "
            "turn it into three token ids with np.unravel_index."
        )
    if ids.shape != (3,):
        return None
    if np.array_equal(ids, expected_ids):
        log_prob = np.asarray(got[1], dtype=np.float64)
        if _matches(log_prob, np.exp(expected_log_prob)):
            return "the ids are right; the second item is a probability, return its log."
        if _matches(log_prob, -expected_log_prob):
            return "the ids are right; the log-probability's sign is flipped (it is <= 0)."
        return None
    if np.array_equal(ids, expected_ids[::-1]):
        return "the ids are in reverse order; the first token comes first."
    # A search that picks other ids still scores what it picked (or a mistake's own score):
    # a number that is no score of these ids means the ids were not searched for at all
    # (typed by hand), and then no mistake is named.
    joint = _joint_log_probs(first, second, third)
    if ids.dtype.kind not in "iu" or (ids < 0).any() or (ids >= len(first)).any():
        return None
    own = float(joint[tuple(int(i) for i in ids)])
    try:
        number = float(np.asarray(got[1], dtype=np.float64))
    except (TypeError, ValueError):
        return None
    scored = [own, float(np.exp(own)), -own]
    if not any(np.isclose(number, value, rtol=1e-6, atol=1e-12) for value in scored):
        with np.errstate(divide="ignore"):
            logs = [np.log(table) for table in (first, second, third)]
        misaligned_scores = [
            (logs[0][None, None, :] + logs[1][None, :, :] + logs[2])[tuple(ids)],
            (logs[0][:, None, None] + logs[1][None, :, :] + logs[2])[tuple(ids)],
        ]
        if not any(np.isclose(number, value) for value in misaligned_scores):
            return None
    # Every search mistake that finds these ids: on a small case several coincide, and
    # check names the one that also explains the answer's other cases.
    matched = [message for message, wrong in _best_mistakes(case) if np.array_equal(ids, wrong)]
    return matched or None


def _best_mistakes(case: Case) -> list[tuple[str, np.ndarray]]:
    """(message, the ids that mistake finds) for each search mistake on this case."""
    first, second, third = (np.asarray(table, dtype=np.float64) for table in case.args)
    mistakes = []
    vocab = len(first)
    if vocab > 3:
        restricted = _joint_log_probs(first[:3], second[:3, :3], third[:3, :3, :3])
        mistakes.append(
            (
                "that is the best sequence among the first 3 tokens only; this model has "
                "more: let the search run over every token id (len(first)), not a fixed 3.",
                np.unravel_index(int(np.argmax(restricted)), restricted.shape),
            )
        )
    added = first[:, None, None] + second[:, :, None] + third
    mistakes.append(
        (
            "that sequence maximizes the sum of the steps' probabilities; the probability "
            "of a sequence is their product (the sum of their logs): you added the "
            "probabilities.",
            np.unravel_index(int(np.argmax(added)), added.shape),
        )
    )
    with np.errstate(divide="ignore"):
        logs = [np.log(table) for table in (first, second, third)]
    for misaligned in (
        logs[0][None, None, :] + logs[1][None, :, :] + logs[2],
        logs[0][:, None, None] + logs[1][None, :, :] + logs[2],
    ):
        mistakes.append(
            (
                "the three tables are broadcast along the wrong axes: first[a] must vary "
                "along axis 0 of the table, second[a, b] along axes 0 and 1, third[a, b, c] "
                "along all three.",
                np.unravel_index(int(np.argmax(misaligned)), misaligned.shape),
            )
        )
    mistakes.append(
        (
            "that is the greedy sequence (the most likely token at each step); the most "
            "likely sequence may start with a less likely token: score every sequence.",
            greedy_sequence(first, second, third),
        )
    )
    for width in (2, 3):
        if width < vocab:
            mistakes.append(
                (
                    f"that is what a beam search of width {width} finds; beam search can miss "
                    "the best sequence too: score all vocab ** 3 sequences.",
                    _beam_sequence(first, second, third, width),
                )
            )
    return [(message, np.asarray(ids).ravel()) for message, ids in mistakes]


def _best_differing(case: Case) -> list[str]:
    expected_ids = np.asarray(best_sequence_reference(*case.args)[0]).ravel()
    return [m for m, ids in _best_mistakes(case) if not np.array_equal(ids, expected_ids)]


BEST_SEQUENCE = Exercise(
    id="06.best_sequence",
    title="The most likely sequence, by exhaustive search",
    points=2,
    answer_name="best_sequence",
    kind="function",
    reference=best_sequence_reference,
    visible_cases=_BEST_CASES,
    hidden_cases=_best_hidden,
    rtol=1e-9,
    atol=1e-12,
    diagnose=_best_diagnose,
    consistent_diagnosis=True,
    differing_mistakes=_best_differing,
    hints=(
        "A sequence's probability is the product of its three steps' probabilities; the "
        "best sequence is the one whose product (or sum of logs) is largest, and only "
        "scoring every one of the vocab ** 3 sequences is sure to find it.",
        "Score all sequences at once in a (vocab, vocab, vocab) table by broadcasting the "
        "three tables against each other, then find the table's largest entry and turn "
        "its position into three token ids.",
    ),
)


# ------------------------------------------------------------ 06.greedy_traps

# The contexts the lesson asks about, in its order: for each, is the continuation greedy
# decoding writes in 3 tokens the best continuation of up to 3 tokens (by total score)?
# Chosen so that every catalogued mistake gets at least two verdicts wrong: an answer one
# verdict off is a slip, and is never told it made one of those mistakes.
GREEDY_TRAP_CONTEXTS = (
    "the cat",
    "the bird",
    "the girl",
    "the hen",
    "the cat sat",
    "the teacher",
    "the bird sat",
)


def best_continuation_ids(model, context: str, max_new_tokens: int) -> tuple[int, ...]:
    """The ids `sequences.exhaustive_search(..., length_penalty=0.0, top=1)` returns.

    The same search (every continuation of up to `max_new_tokens` tokens, one
    that ends in ``</s>`` may be shorter, ranked by total log-probability, ties
    to the first found), kept in arrays: the course's `exhaustive_search` builds
    a `Hypothesis` per continuation, which takes about a second here.
    """
    prefix = model.encode(context)
    frontier = np.zeros((1, 0), dtype=np.int64)
    totals = np.zeros(1)
    best, best_total = (), -np.inf
    for step in range(1, max_new_tokens + 1):
        contexts = np.concatenate(
            [np.broadcast_to(prefix, (len(frontier), len(prefix))), frontier], axis=1
        )
        step_totals = totals[:, None] + log_softmax(
            np.asarray(model.next_token_logits(contexts), dtype=np.float64), axis=-1
        )
        ending = step_totals if step == max_new_tokens else step_totals[:, [model.eos_id]]
        row, column = np.unravel_index(int(np.argmax(ending)), ending.shape)
        if ending[row, column] > best_total:
            token = column if step == max_new_tokens else model.eos_id
            best = (*(int(t) for t in frontier[row]), int(token))
            best_total = float(ending[row, column])
        flat = step_totals.ravel()
        beam_of, token_of = np.divmod(np.arange(flat.size), step_totals.shape[1])
        growing = np.isfinite(flat) & (token_of != model.eos_id)
        frontier = np.concatenate([frontier[beam_of[growing]], token_of[growing, None]], axis=1)
        totals = flat[growing]
    return best


@cache
def _continuations(context: str) -> dict[str, tuple[int, ...]]:
    """Token ids each search writes after `context` on the tiny model (computed once)."""
    model = lm.load()

    def greedy(tokens: int) -> tuple[int, ...]:
        return tuple(int(t) for t in sequences.greedy_decode(model, context, tokens).token_ids)

    return {
        "greedy": greedy(3),
        "best": best_continuation_ids(model, context, 3),
        "greedy_2": greedy(2),
        "best_2": best_continuation_ids(model, context, 2),
        "greedy_sentence": greedy(12),
    }


def _greedy_verdicts(search: str, against: str) -> dict[str, bool]:
    return {
        context: _continuations(context)[search] == _continuations(context)[against]
        for context in GREEDY_TRAP_CONTEXTS
    }


def greedy_traps_reference() -> dict[str, bool]:
    """{context: True if greedy's 3 tokens are the best continuation of up to 3 tokens}.

    "Best" is the highest total log-probability (length_penalty=0) among all
    continuations of at most 3 tokens (one ending in </s> may be shorter), as
    `sequences.exhaustive_search` finds it on the tiny model.
    """
    return _greedy_verdicts("greedy", "best")


def _greedy_traps_diagnose(case: Case, expected, got) -> str | None:
    if not isinstance(got, dict):
        return (
            "answer with a dict that maps each of the seven contexts (the strings in "
            "GREEDY_TRAP_CONTEXTS) to True or False."
        )
    if set(got) != set(expected):
        return None
    if not all(isinstance(value, (bool, np.bool_)) for value in got.values()):
        return "give each context True or False (a bool), not a number or a text."
    answer = {context: bool(value) for context, value in got.items()}
    mistakes = [
        (
            {context: not value for context, value in expected.items()},
            "every verdict is flipped: True means greedy's continuation IS the best one "
            "(greedy is fine there), False means greedy misses it.",
        ),
        (
            _greedy_verdicts("greedy_2", "best_2"),
            "those are the verdicts for 2-token continuations; the question is about 3 "
            "tokens, and a third token can change which start is best.",
        ),
        (
            _greedy_verdicts("greedy_sentence", "best"),
            "you compared greedy's whole sentence with the best 3-token continuation; let "
            "greedy write 3 tokens too (max_new_tokens=3), so both answer the same question.",
        ),
        (
            dict.fromkeys(expected, True),
            "greedy is not always best: it picks the likeliest token at each step, and a "
            "less likely first token can start a likelier continuation.",
        ),
    ]
    for verdicts, message in mistakes:
        # A mistake one verdict away from the truth cannot be told from a slip: never named.
        wrong = sum(verdicts[context] != expected[context] for context in expected)
        if answer == verdicts and wrong >= 2:
            return message
    # Say neither which verdicts are wrong nor how many: the answer is six bits, and a
    # message that points at them would let check do the reasoning.
    return (
        "some of the verdicts are wrong. For each context, compare the tokens greedy "
        "decoding writes in 3 tokens with those of the best continuation of up to 3 tokens."
    )


GREEDY_TRAPS = Exercise(
    id="06.greedy_traps",
    title="Find the contexts where greedy decoding is not the best 3-token continuation",
    points=2,
    answer_name="greedy_traps",
    kind="value",
    reference=greedy_traps_reference,
    diagnose=_greedy_traps_diagnose,
    hints=(
        "Greedy maximizes each factor on its own; the best continuation maximizes their "
        "product. The two agree only when no less likely token starts a likelier path.",
        "For each context, let greedy decoding write 3 tokens and let exhaustive search "
        "find the best continuation of up to 3 tokens by total score (no length "
        "normalization); compare the tokens they chose, not their texts' lengths.",
    ),
)


# -------------------------------------------------------- 06.run_on_diagnosis

RUN_ON_OPTIONS = {
    "a": "a length penalty of 2 multiplies each finished beam's score by its length squared, "
    "so a longer sentence gets a larger score",
    "b": "the score is a negative sum divided by length ** 2: the sum grows about linearly "
    "with the length, so the quotient moves towards 0 (gets better) as the text grows, and "
    "one more clause of ordinary tokens raises the score",
    "c": "with a length penalty the model itself gives 'and' a higher probability than "
    "'</s>', so the beams keep going",
    "d": "length_penalty=2 is the mean log-probability per token, and long texts have the "
    "best mean",
    "e": "beam search removes '</s>' from the candidates when length_penalty > 1, so no "
    "beam can finish before the length limit",
}


def run_on_diagnosis_reference() -> str:
    """Why length_penalty=2 favours run-on text: score / T**2 rises with T (option b)."""
    return "b"


_RUN_ON_EXPLANATIONS = {
    "a": "Hugging Face divides by length ** length_penalty; it never multiplies. (Dividing a "
    "negative number by more is what makes it larger.)",
    "c": "the length penalty never touches the model's probabilities: it only rescales the "
    "score of a finished beam when finished beams are compared.",
    "d": "the mean per token is length_penalty=1; a penalty of 2 divides by the length once "
    "more, which the mean does not.",
    "e": "'</s>' stays a candidate at every step, and finished beams are kept; they just "
    "lose the comparison to longer ones.",
}


def _run_on_diagnose(case: Case, expected, got) -> str | None:
    if not isinstance(got, str):
        return None
    choice = got.strip().casefold()
    if choice in _RUN_ON_EXPLANATIONS:
        return f"not ({choice}): {_RUN_ON_EXPLANATIONS[choice]}"
    return "answer with the letter alone, a to e, as a string: e.g. 'a'."


RUN_ON_DIAGNOSIS = Exercise(
    id="06.run_on_diagnosis",
    title="Choose: why does a length penalty of 2 prefer run-on text?",
    points=2,
    answer_name="run_on_diagnosis",
    kind="value",
    reference=run_on_diagnosis_reference,
    diagnose=_run_on_diagnose,
    hints=(
        "Write the normalized score of a sentence of T tokens whose tokens each cost "
        "about c nats: the sum is about -c T. What does dividing it by T ** 2 give?",
        "Compare how -c T / T ** alpha changes with T for alpha = 0, 1 and 2. Then, for each "
        "option, ask whether it describes something the length penalty does at all: it "
        "only rescales finished beams' scores.",
    ),
)


# ------------------------------------------------------------ 06.sequence_entropy


def sequence_entropy_reference(first, second, third) -> float:
    """H = -sum over all (a, b, c) of p(a, b, c) log p(a, b, c), in nats.

    The mean of -log p(sequence) over sequences drawn from the model: the
    "typical" surprise. Sequences of probability 0 add nothing (0 log 0 = 0).

    >>> first = np.array([0.5, 0.5])
    >>> second = np.full((2, 2), 0.5)
    >>> third = np.full((2, 2, 2), 0.5)
    >>> round(float(sequence_entropy_reference(first, second, third) / np.log(2)), 6)  # 3 coins
    3.0
    """
    joint = np.exp(_joint_log_probs(first, second, third))
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(joint > 0, -joint * np.log(joint), 0.0)
    return float(terms.sum())


def _entropy_of_rows(table) -> np.ndarray:
    table = np.asarray(table, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(table > 0, -table * np.log(table), 0.0).sum(axis=-1)


# Tables with impossible continuations (probability 0): 0 log 0 must count as 0.
_ZERO_FIRST = _table([0.6, 0.4, 0.0])
_ZERO_SECOND = _table([[0.0, 1.0, 0.0], [0.5, 0.25, 0.25], [1 / 3, 1 / 3, 1 / 3]])
_ZERO_THIRD = np.full((3, 3, 3), 1 / 3)
_ZERO_THIRD[0, 1] = [0.9, 0.1, 0.0]
_ZERO_THIRD[1, 0] = [0.0, 0.0, 1.0]

_ENTROPY_CASES = (
    Case(args=(_HAND_FIRST, _HAND_SECOND, _HAND_THIRD), label="the lesson's example (3 tokens)"),
    Case(args=_no_shortcut(), label="3 tokens, no two tables alike"),
    Case(args=(_ZERO_FIRST, _ZERO_SECOND, _ZERO_THIRD), label="impossible sequences (p = 0)"),
    Case(args=_beyond_beam_two(), label="4 tokens, some probabilities 0"),
    Case(
        args=(_table([1.0, 0.0]), _table([[1.0, 0.0], [0.5, 0.5]]), np.full((2, 2, 2), 0.5)),
        label="a certain start: only the last token is random",
    ),
)


def _entropy_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(6):
        vocab = int(rng.integers(2, 7))
        alpha = float(rng.uniform(0.1, 2.0))
        first = rng.dirichlet(np.full(vocab, alpha))
        second = rng.dirichlet(np.full(vocab, alpha), size=vocab)
        third = rng.dirichlet(np.full(vocab, alpha), size=(vocab, vocab))
        if index % 2:
            third[0, 0] = 0.0
            third[0, 0, int(rng.integers(0, vocab))] = 1.0  # a certain last token
        cases.append(
            Case(
                args=(first, second, third),
                label=f"random #{index + 1}: {vocab} tokens, Dirichlet({alpha:.2f}) tables",
            )
        )
    return cases


def _entropy_diagnose(case: Case, expected, got) -> str | None:
    first, second, third = (np.asarray(table, dtype=np.float64) for table in case.args)
    value = np.asarray(got, dtype=np.float64) if np.ndim(got) == 0 else None
    if value is None:
        if np.shape(got) == _joint_log_probs(first, second, third).shape:
            return (
                "you returned one term per sequence; the entropy is one number, the sum of "
                "-p log p over all sequences."
            )
        return None
    if np.isnan(value):
        return (
            "the result is NaN: a sequence of probability 0 gives 0 * log 0 = 0 * (-inf) = "
            "NaN; such a sequence adds nothing to the entropy, so leave it out of the sum."
        )
    joint_log = _joint_log_probs(first, second, third)
    joint = np.exp(joint_log)
    finite = np.where(np.isfinite(joint_log), joint_log, 0.0)
    unweighted = (
        _entropy_of_rows(first) + _entropy_of_rows(second).sum() + _entropy_of_rows(third).sum()
    )
    greedy = greedy_sequence(first, second, third)
    greedy_path = (
        _entropy_of_rows(first)
        + _entropy_of_rows(second[greedy[0]])
        + _entropy_of_rows(third[greedy[0], greedy[1]])
    )
    mistakes = [
        (expected / np.log(2), "that is the entropy in bits (log2); use the natural log (nats)."),
        (-expected, "the sign is flipped: the entropy is -sum p log p, which is >= 0."),
        (
            -float(joint_log.max()),
            "that is the surprise -log p of the single most likely sequence (the mode); the "
            "entropy is the mean surprise over all sequences, weighted by their probabilities.",
        ),
        (
            -float(finite[joint > 0].mean()),
            "you averaged -log p over the sequences as if each were equally likely; weight "
            "each sequence's -log p by its probability p (a sum of -p log p).",
        ),
        (
            -float(finite[joint > 0].sum()),
            "you added -log p over all sequences; each sequence's -log p counts with its "
            "probability p as weight (a sum of -p log p).",
        ),
        (
            float(_entropy_of_rows(first)),
            "that is the entropy of the first step only; the second and third tokens are "
            "random too, and their uncertainty adds to the sequence's.",
        ),
        (
            float(
                _entropy_of_rows(first)
                + _entropy_of_rows(second).mean()
                + _entropy_of_rows(third).mean()
            ),
            "you averaged the rows' entropies uniformly (the chain rule without weights): "
            "each row of `second` counts with the probability of its context, p(a), and "
            "each row of `third` with p(a, b).",
        ),
        (
            unweighted,
            "you added the entropies of every row of the tables without weighting them: "
            "each row of `second` counts with the probability of reaching it, p(a), and each "
            "row of `third` with p(a, b).",
        ),
        (
            greedy_path,
            "you added the entropies of the three steps along the greedy path only; every "
            "path counts, each with its probability.",
        ),
    ]
    return first_matching_mistake(value, expected, mistakes, rtol=1e-6, atol=1e-9)


SEQUENCE_ENTROPY = Exercise(
    id="06.sequence_entropy",
    title="The entropy of a distribution over sequences",
    points=2,
    answer_name="sequence_entropy",
    kind="function",
    reference=sequence_entropy_reference,
    visible_cases=_ENTROPY_CASES,
    hidden_cases=_entropy_hidden,
    rtol=1e-9,
    atol=1e-12,
    diagnose=_entropy_diagnose,
    hints=(
        "The entropy is the mean surprise -log p of a sequence drawn from the model: every "
        "sequence counts, weighted by its own probability.",
        "Build the probability of every (a, b, c) as in 06.best_sequence, then add up "
        "-p log p over all of them; a sequence with p = 0 contributes 0, not NaN.",
    ),
)


# ---------------------------------------------------------------- 06.beam_trap

# A table answer is read only up to this vocabulary size (a hostile answer can be any data).
_MAX_TRAP_VOCAB = 8


class TableModel:
    """A three-token model given by tables, in the interface the course's searches use.

    `next_token_logits(ids)` reads the tokens after the first column of `ids`
    (a start token) and returns the log of `first`, `second[a]` or
    `third[a, b]`; probability 0 becomes a score of -inf (impossible).
    """

    def __init__(self, first, second, third):
        self.tables = tuple(np.asarray(t, dtype=np.float64) for t in (first, second, third))
        self.vocab = [str(token) for token in range(len(self.tables[0]))]

    def next_token_logits(self, ids) -> np.ndarray:
        generated = np.asarray(ids)[:, 1:]
        table = self.tables[generated.shape[1]]
        rows = (
            table[tuple(generated.T)]
            if generated.shape[1]
            else np.broadcast_to(table, (len(generated), len(table)))
        )
        with np.errstate(divide="ignore"):
            return np.log(rows)


def beam_trap_searches(first, second, third, beam_width: int = 2):
    """(beam search's best, exhaustive search's best) on the tables: two `Hypothesis`es.

    Both searches are the course's (`utils.sequences`), over exactly three tokens
    (no end token), ranked by total log-probability (length_penalty=0).
    """
    model = TableModel(first, second, third)
    start = np.zeros(1, dtype=np.int64)
    beam = sequences.beam_search(
        model, start, beam_width=beam_width, max_new_tokens=3, length_penalty=0.0
    )[0]
    exact = sequences.exhaustive_search(model, start, max_new_tokens=3, length_penalty=0.0, top=1)[
        0
    ]
    return beam, exact


def _trap_tables(value):
    """The three tables of an answer as float64 arrays, or a message saying what is wrong."""
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        what = f"{len(value)} items" if isinstance(value, (tuple, list)) else type(value).__name__
        return f"beam_trap must be a tuple (first, second, third) of three tables; got {what}."
    tables = []
    for name, table, ndim in zip(("first", "second", "third"), value, (1, 2, 3), strict=True):
        try:
            shape = np.shape(table) if isinstance(table, (np.ndarray, list, tuple)) else None
        except ValueError:  # nested lists of different lengths
            return (
                f"{name} is ragged: its rows have different lengths. Every row needs one "
                "probability per token of the vocabulary."
            )
        if shape is None or len(shape) != ndim:
            return (
                f"{name} must be a {ndim}-D table of probabilities; got "
                f"{'a ' + type(table).__name__ if shape is None else f'shape {shape}'}."
            )
        if not all(2 <= size <= _MAX_TRAP_VOCAB for size in shape):
            return (
                f"{name} has shape {shape}; use a vocabulary of 2 to {_MAX_TRAP_VOCAB} tokens "
                "(a few tokens are enough for a trap)."
            )
        array = as_float64(table)
        if array is None:
            return f"{name} must hold numbers (probabilities)."
        tables.append(array)
    vocab = len(tables[0])
    for name, table, ndim in zip(("first", "second", "third"), tables, (1, 2, 3), strict=True):
        if table.shape != (vocab,) * ndim:
            want = ", ".join(["V"] * ndim)
            return (
                f"{name} has shape {table.shape}; with V = len(first) = {vocab} tokens it "
                f"must have shape ({want}{',' if ndim == 1 else ''})."
            )
        if not np.isfinite(table).all() or (table < 0).any():
            return f"{name} holds a negative or non-finite number; probabilities are >= 0."
        sums = table.sum(axis=-1)
        bad = np.flatnonzero(np.abs(sums.ravel() - 1.0) > 1e-6)
        if bad.size:
            where = np.unravel_index(int(bad[0]), sums.shape)
            row = f"{name}[{', '.join(str(int(i)) for i in where)}]" if where else name
            return (
                f"{row} sums to {float(sums[where]):.6g}; every next-token distribution (each "
                "row of each table) must sum to 1."
            )
    return tables


def _pruned_by_a_tie(tables, best: tuple, exact) -> str | None:
    """A message when the best sequence's prefix left the beam only by tie-breaking."""
    model = TableModel(*tables)
    steps = sequences.beam_search_steps(
        model, np.zeros(1, dtype=np.int64), beam_width=2, max_new_tokens=3, length_penalty=0.0
    )
    totals = np.cumsum(exact.token_log_probs)
    for depth, step in enumerate(steps, start=1):
        kept = {tuple(int(t) for t in h.token_ids): h.log_prob for h in step.beams}
        if depth == 3 or best[:depth] in kept:
            continue
        lowest = min(kept.values())
        if abs(totals[depth - 1] - lowest) <= 1e-9 * max(1.0, abs(lowest)):
            return (
                f"at step {depth} the best sequence's start {best[:depth]} ties with the last "
                "prefix the beam keeps: whether it is pruned depends only on how ties are "
                "broken. Make it strictly less likely than the prefixes the beam keeps."
            )
        return None
    return None


def beam_trap_verdict(value) -> str | None:
    """None when beam search of width 2 misses the best sequence of the tables in `value`.

    `value` = (first, second, third) as in 06.best_sequence. Otherwise a message
    that says what is wrong, never which table would work.
    """
    tables = _trap_tables(value)
    if isinstance(tables, str):
        return tables
    beam, exact = beam_trap_searches(*tables)
    found = tuple(int(t) for t in beam.token_ids)
    best = tuple(int(t) for t in exact.token_ids)
    if found != best and exact.log_prob > beam.log_prob + 1e-9:
        tie = _pruned_by_a_tie(tables, best, exact)
        if tie is not None:
            return tie
        return None
    if found != best:
        return (
            f"beam search of width 2 returns {found}, exhaustive search {best}, and both have "
            "the same probability: a tie is not a miss. Make the best sequence strictly more "
            "likely than what the beam finds."
        )
    greedy = tuple(int(t) for t in greedy_sequence(*tables))
    if greedy != best:
        return (
            f"greedy decoding misses the best sequence {best} here (it writes {greedy}), but a "
            "beam of width 2, which keeps two prefixes at every step, finds it. The best "
            "sequence must start where the beam does not look: with a prefix that ranks "
            "third or lower at some step."
        )
    return (
        f"a beam of width 2 finds the best sequence {best} of these tables (so does greedy "
        "decoding). Give a token that ranks third or lower at the first step a continuation "
        "so likely that its sequence beats every sequence after the two likeliest first tokens."
    )


def beam_trap_reference():
    """One right answer: the best sequence starts with the third most likely token."""
    first = _table([0.4, 0.35, 0.25])
    second = np.full((3, 3), 1 / 3)
    second[2] = [0.0, 0.0, 1.0]
    third = np.full((3, 3, 3), 1 / 3)
    third[2, 2] = [0.0, 0.0, 1.0]
    return first, second, third


BEAM_TRAP = Exercise(
    id="06.beam_trap",
    title="Build a table on which beam search of width 2 misses the best sequence",
    points=3,
    answer_name="beam_trap",
    kind="value",
    reference=beam_trap_reference,
    accepts=beam_trap_verdict,
    hints=(
        "A beam of width 2 never extends a prefix that ranks third or lower at a step, "
        "however good its continuation would be.",
        "Ask what a dropped prefix's continuation would need for its whole sequence to beat "
        "every sequence the beam can still reach, and write tables where it has that; "
        "compare products of the steps, not single steps.",
    ),
)


EXERCISES = [
    SEQUENCE_LOG_PROB,
    LENGTH_NORMALIZED,
    BEST_SEQUENCE,
    GREEDY_TRAPS,
    BEAM_TRAP,
    RUN_ON_DIAGNOSIS,
    SEQUENCE_ENTROPY,
]
