"""Exercises of lesson 08, "Debugging case studies".

Each exercise is the fixed version of a piece of scoring code that shipped
with a real kind of bug; its `diagnose` recognises the original bug and says
so ("still normalizes over the batch axis"), so a learner whose fix does not
fix it is told which bug is left.

* ``08.next_token_probs``: normalized over the batch axis instead of the
  vocabulary (and one maximum for the whole batch).
* ``08.candidate_probs``: renormalized over a candidate subset and reported as
  a full-vocabulary probability (a "high-confidence wrong token").
* ``08.sequence_scores``: multiplied probabilities (underflow) instead of
  adding log-probabilities.
* ``08.most_confident_context``: compared raw logits across contexts.
* ``08.log_probs_fp16``: exponentiated float16 logits (overflow above 11.09;
  a vocabulary sum above 65504).
* ``08.rank_completions``: ranked completions of different lengths by their
  raw total log-probability.
* ``08.score_completions``: a correct sequence scorer: log space, full
  vocabulary, padding masked, float32 or better, length-normalized.
* ``08.audit_completion``: the audit of a completion from a causal model's
  logits for the whole sequence: each completion token's probability, rank,
  the model's top choice and the entropy at that step (row t scores token
  t + 1; the prompt is not scored).
* ``08.audit_verdict``: a reasoning exercise: the one-line verdict on the
  audit of a completion, as a choice among labelled diagnoses.

>>> import numpy as np
>>> from utils.exercises import get
>>> get("08.most_confident_context").reference(np.array([[10.0, 9.8, 9.7], [3.0, -2.0, -2.0]]))
1
"""

from __future__ import annotations

from functools import partial

import numpy as np

from utils import sequences
from utils.exercises._matching import as_float64, first_matching_mistake, values_match
from utils.exercises._spec import Case, Exercise
from utils.probability import log_softmax, softmax

__all__ = [
    "AUDIT_KEYS",
    "AUDIT_VERDICT_OPTIONS",
    "EXERCISES",
    "audit_completion_reference",
    "audit_verdict_reference",
    "candidate_probs_reference",
    "log_probs_fp16_reference",
    "most_confident_context_reference",
    "next_token_probs_reference",
    "rank_completions_reference",
    "score_completions_reference",
    "sequence_scores_reference",
]

_FLOAT16_EXP_LIMIT = float(np.log(np.finfo(np.float16).max))  # 11.09


# The default tolerance for recognising a mistake; some diagnoses pass their own.
_matches = partial(values_match, rtol=1e-6, atol=1e-9)


def _quiet(function, *args, **kwargs):
    """Run a re-creation of a bug without its RuntimeWarnings (None if it raises)."""
    with np.errstate(all="ignore"):
        try:
            return function(*args, **kwargs)
        except (ValueError, FloatingPointError, IndexError):
            return None


# ------------------------------------------------------ 08.next_token_probs


def next_token_probs_reference(logits):
    """softmax of each row (one context per row, tokens on the last axis)."""
    return softmax(logits, axis=-1)


def _global_shift_over_batch(logits):
    exponentials = np.exp(logits - logits.max())
    return exponentials / exponentials.sum(axis=0)


def _naive_softmax(logits):
    exponentials = np.exp(logits)
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def _column_shift(logits):
    exponentials = np.exp(logits - logits.max(axis=-1))
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def _global_shift(logits):
    exponentials = np.exp(logits - logits.max())
    return exponentials / exponentials.sum(axis=-1, keepdims=True)


def _fixed_seed_logits(seed: int, shape, spread: float, offset: float = 0.0) -> np.ndarray:
    return offset + spread * np.random.default_rng(seed).standard_normal(shape)


_NEXT_CASES = (
    Case(args=(np.array([[2.0, 1.0, 0.0]]),), label="one context (a batch of one)"),
    Case(
        args=(np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0], [1.0, 3.0, -1.0]]),),
        label="three contexts",
    ),
    Case(args=(_fixed_seed_logits(801, (4, 78), 3.0),), label="four contexts, 78 tokens"),
    Case(
        args=(np.array([[1000.0, 999.0, 998.0], [-1000.0, -1001.0, -1003.0]]),),
        label="two contexts far apart (scores near +-1000)",
    ),
    Case(
        args=(np.array([[800.0, 0.0, -5.0], [1.0, 2.0, 3.0]]),),
        label="a row whose scores span 805",
    ),
)


def _next_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(5):
        batch, vocab = int(rng.integers(1, 9)), int(rng.integers(2, 90))
        offsets = rng.uniform(-500.0, 500.0, size=(batch, 1)) * float(rng.integers(0, 2))
        logits = offsets + rng.uniform(0.5, 6.0) * rng.standard_normal((batch, vocab))
        if index == 4:
            logits[0, 0] += 900.0  # one row wider than exp's range
        cases.append(Case(args=(logits,), label=f"random #{index + 1}: {batch} contexts"))
    return cases


def _next_diagnose(case: Case, expected, got) -> str | None:
    logits = np.asarray(case.args[0], dtype=np.float64)
    value = np.asarray(got, dtype=np.float64)
    if value.shape != logits.shape:
        return None
    over_batch = _quiet(softmax, logits, axis=0)
    if _matches(value, over_batch, rtol=1e-5) or _matches(
        value, _quiet(_global_shift_over_batch, logits), rtol=1e-5
    ):
        return (
            "still normalizes over the batch axis (axis 0): each column sums to 1, so a "
            "context's probabilities depend on the other contexts in its batch (a batch of "
            "one gives every token probability 1). Normalize along the last axis."
        )
    if np.isnan(value).any():
        global_nan = np.isnan(_quiet(_global_shift, logits))
        naive_nan = np.isnan(_quiet(_naive_softmax, logits))
        if global_nan.any() and np.array_equal(np.isnan(value), global_nan):
            return (
                "a row is NaN: one maximum for the whole batch is subtracted, so a row far "
                "below it underflows to 0 / 0. Subtract each row's own maximum (along the "
                "last axis, keeping that axis)."
            )
        if naive_nan.any() and np.array_equal(np.isnan(value), naive_nan):
            return (
                "a row is NaN: exp of large scores overflowed (inf / inf). Subtract each "
                "row's own maximum before exponentiating."
            )
        return None
    if logits.shape[0] > 1 and _matches(value, softmax(logits.ravel()).reshape(logits.shape)):
        return "you normalized over the whole batch at once; normalize each row on its own."
    if logits.shape[0] == logits.shape[-1]:
        column_max = _quiet(_column_shift, logits)
        if column_max is not None and _matches(value, column_max, rtol=1e-5):
            return (
                "the maximum lost its axis (no keepdims=True), so row i had column i's "
                "maximum subtracted, which is not a constant per row; keep the axis."
            )
    return None


NEXT_TOKEN_PROBS = Exercise(
    id="08.next_token_probs",
    title="Fix: probabilities normalized over the wrong axis",
    points=1,
    answer_name="next_token_probs",
    kind="function",
    reference=next_token_probs_reference,
    visible_cases=_NEXT_CASES,
    hidden_cases=_next_hidden,
    rtol=1e-5,
    atol=1e-9,
    diagnose=_next_diagnose,
    hints=(
        "Each row is one context with its own distribution over the vocabulary: nothing "
        "about one row may depend on another row.",
        "Both the maximum you subtract and the sum you divide by must run along the "
        "vocabulary (last) axis, keeping that axis so they broadcast back over the row.",
    ),
)


# ------------------------------------------------------- 08.candidate_probs


def candidate_probs_reference(logits, candidate_ids):
    """Full-vocabulary probabilities of the candidates: softmax(logits)[..., candidate_ids]."""
    ids = np.asarray(candidate_ids, dtype=np.int64)
    return softmax(np.asarray(logits, dtype=np.float64), axis=-1)[..., ids]


_CANDIDATE_CASES = (
    Case(args=(np.array([3.0, 2.0, 0.0, -1.0]), np.array([2, 3])), label="two unlikely tokens"),
    Case(args=(np.array([0.5, 2.0, 1.0]), np.array([1])), label="a single candidate"),
    Case(
        args=(_fixed_seed_logits(802, (2, 6), 2.0), np.array([0, 4, 5])),
        label="two contexts, three candidates",
    ),
    Case(
        args=(np.array([1.0, 2.0, 3.0, 4.0]), np.array([3, 0, 1, 2])),
        label="every token is a candidate (in another order)",
    ),
    Case(
        args=(np.array([10000.0, 9999.0, 9980.0, 9990.0]), np.array([2, 3])),
        label="scores near 1e4",
    ),
)


def _candidate_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(5):
        vocab = int(rng.integers(3, 80))
        shape = (vocab,) if index % 2 else (int(rng.integers(1, 5)), vocab)
        logits = float(rng.choice([0.0, 800.0])) + rng.uniform(0.5, 5.0) * rng.standard_normal(
            shape
        )
        count = int(rng.integers(1, min(vocab, 6)))
        ids = rng.choice(vocab, size=count, replace=False)
        cases.append(Case(args=(logits, ids), label=f"random #{index + 1}: {count} candidates"))
    return cases


def _candidate_diagnose(case: Case, expected, got) -> str | None:
    logits = np.asarray(case.args[0], dtype=np.float64)
    ids = np.asarray(case.args[1], dtype=np.int64)
    value = np.asarray(got, dtype=np.float64)
    if value.shape != np.shape(expected):
        if value.shape == logits.shape:
            return (
                "you returned the whole vocabulary's probabilities; return only the "
                "candidates' (softmax(logits)[..., candidate_ids])."
            )
        return None
    if np.isnan(value).any():
        if np.isnan(_quiet(_naive_softmax, logits)).any():
            return "the result contains NaN: exp overflowed; use a stable softmax (max-shift)."
        return None
    mistakes = [
        (
            softmax(logits[..., ids], axis=-1),
            "still renormalizes over the candidate subset: the candidates' probabilities sum "
            "to 1 as if no other token existed, so an unlikely token can look certain. "
            "Normalize over the whole vocabulary, then pick the candidates.",
        ),
        (
            log_softmax(logits, axis=-1)[..., ids],
            "you returned log-probabilities; return probabilities.",
        ),
    ]
    if logits.ndim > 1:
        mistakes.append(
            (
                softmax(logits, axis=0)[..., ids],
                "you normalized over the batch axis (axis 0); each context's distribution "
                "runs along the last axis.",
            )
        )
    return first_matching_mistake(value, expected, mistakes, rtol=1e-5, atol=1e-9)


CANDIDATE_PROBS = Exercise(
    id="08.candidate_probs",
    title="Fix: a renormalized candidate probability reported as the model's",
    points=1,
    answer_name="candidate_probs",
    kind="function",
    reference=candidate_probs_reference,
    visible_cases=_CANDIDATE_CASES,
    hidden_cases=_candidate_hidden,
    rtol=1e-6,
    atol=1e-12,
    diagnose=_candidate_diagnose,
    hints=(
        "The model's probability of a token is its share of the WHOLE vocabulary's mass; "
        "a few candidates normalized among themselves always look confident.",
        "Normalize first, over every token of the last axis (stably), and only then pick "
        "the candidates' columns.",
    ),
)


# ------------------------------------------------------ 08.sequence_scores


def sequence_scores_reference(logits, token_ids):
    """log p(sequence) for a batch: the sum over time of log softmax(logits)[token]."""
    scores = np.asarray(logits, dtype=np.float64)
    return sequences.sequence_log_prob(scores, np.asarray(token_ids, dtype=np.int64))


def _documents(seed: int, batch: int, time: int, vocab: int, spread: float):
    rng = np.random.default_rng(seed)
    return spread * rng.standard_normal((batch, time, vocab)), rng.integers(0, vocab, (batch, time))


_SEQUENCE_CASES = (
    Case(args=_documents(803, 2, 3, 4, 1.0), label="two short sequences"),
    Case(args=_documents(804, 1, 5, 7, 2.0), label="a batch of one"),
    Case(args=_documents(805, 3, 300, 50, 1.0), label="three documents of 300 tokens"),
    Case(
        args=(
            np.array(
                [[[10000.0, 9999.0, 9990.0], [0.0, 1.0, 2.0]], [[-5.0, 9000.0, 9001.0], [1, 1, 1]]]
            ),
            np.array([[1, 2], [1, 0]]),
        ),
        label="scores near 1e4",
    ),
    Case(
        args=(
            np.array([[[0.0, -800.0, -1.0], [2.0, 1.0, 0.0]], [[1.0, 2.0, 3.0], [0.5, 0.5, 0.0]]]),
            np.array([[1, 0], [2, 1]]),
        ),
        label="a token with log-probability near -800",
    ),
)


def _sequence_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(5):
        batch, vocab = int(rng.integers(1, 5)), int(rng.integers(2, 60))
        time = int(rng.integers(1, 20)) if index % 2 else int(rng.integers(250, 500))
        logits = rng.uniform(0.5, 4.0) * rng.standard_normal((batch, time, vocab))
        ids = rng.integers(0, vocab, size=(batch, time))
        cases.append(
            Case(args=(logits, ids), label=f"random #{index + 1}: {batch} x {time} tokens")
        )
    return cases


def _token_probs(logits, token_ids) -> np.ndarray:
    probs = softmax(np.asarray(logits, dtype=np.float64), axis=-1)
    return np.take_along_axis(probs, np.asarray(token_ids)[..., None], axis=-1)[..., 0]


def _sequence_diagnose(case: Case, expected, got) -> str | None:
    logits, token_ids = case.args
    value = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    token_probs = _token_probs(logits, token_ids)
    if value.shape == np.shape(token_ids):
        return "you returned one log-probability per token; sum them over the time axis."
    batch, time = np.shape(token_ids)
    if value.shape == (time,) and batch != time:
        return (
            "you summed over the batch axis (one number per time step); each document's "
            "score sums over its own tokens: the time axis (the last axis of token_ids)."
        )
    if value.shape != expected.shape:
        return None
    if (np.isneginf(value) & np.isfinite(expected)).any():
        with np.errstate(divide="ignore"):
            logs_of_probs = np.log(token_probs).sum(axis=-1)
        if np.isneginf(logs_of_probs).any():
            return (
                "-inf: a token's probability rounded to 0 before its log was taken (its "
                "log-probability is far below -745). Take log-probabilities straight from a "
                "log-softmax and add them; never the log of a probability or of a product."
            )
        return (
            "still multiplies probabilities: the product of hundreds of probabilities "
            "underflows to 0 and its log is -inf, so long documents all tie. Add the "
            "log-probabilities (log_softmax) instead."
        )
    if np.isnan(value).any():
        if np.isnan(_quiet(_naive_softmax, np.asarray(logits, dtype=np.float64))).any():
            return "the result contains NaN: exp overflowed; compute log_softmax with logsumexp."
        return None
    with np.errstate(divide="ignore"):
        mistakes = [
            (token_probs.sum(axis=-1), "you summed probabilities; sum log-probabilities."),
            (
                np.log(token_probs.sum(axis=-1)),
                "you took the log of a sum of probabilities; sum the log-probabilities.",
            ),
            (np.exp(expected), "you returned the sequence's probability; return its log."),
            (
                expected / np.shape(token_ids)[-1],
                "you averaged over the tokens; this function "
                "returns the total log-probability (normalization comes later).",
            ),
        ]
    return first_matching_mistake(value, expected, mistakes, rtol=1e-5, atol=1e-9)


SEQUENCE_SCORES = Exercise(
    id="08.sequence_scores",
    title="Fix: sequence scores that underflow to -inf",
    points=1,
    answer_name="sequence_scores",
    kind="function",
    reference=sequence_scores_reference,
    visible_cases=_SEQUENCE_CASES,
    hidden_cases=_sequence_hidden,
    rtol=1e-5,
    atol=1e-6,
    diagnose=_sequence_diagnose,
    hints=(
        "A document's probability is a product of hundreds of numbers below 1; in log "
        "space it becomes a sum that stays representable.",
        "Take log-probabilities over the vocabulary axis (stably), pick each position's "
        "own token, and add them up along the time axis.",
    ),
)


# ------------------------------------------------- 08.most_confident_context


def most_confident_context_reference(logits) -> int:
    """Index of the context (row) whose most likely next token has the highest probability."""
    probs = softmax(np.asarray(logits, dtype=np.float64), axis=-1)
    return int(np.argmax(probs.max(axis=-1)))


_CONFIDENCE_CASES = (
    # The right row, the largest logit, the smallest top probability, the lowest and the
    # highest entropy, the largest gap between the two top logits and a softmax over the
    # contexts pick seven different rows here (ties: the first, as np.argmax), so each
    # criterion a learner may use instead gets its own message.
    Case(
        args=(
            np.array(
                [
                    [7.0, 5.0, 4.0, 6.0],
                    [6.0, 7.0, 8.0, 3.0],
                    [5.0, 7.0, 5.0, 8.0],
                    [8.0, 4.0, 8.0, 3.0],
                    [0.0, 1.0, -2.0, 1.0],
                    [-1.0, -4.0, -3.0, 0.0],
                    [-1.0, 0.0, -1.0, -1.0],
                ]
            ),
        ),
        label="seven contexts where the measures of confidence disagree",
    ),
    Case(
        args=(
            np.array(
                [
                    [0.2, -0.7, -0.6, -0.7],
                    [6.7, 6.3, 1.8, 4.6],
                    [4.9, 4.9, 4.7, 0.4],
                    [-0.8, -1.8, -2.8, -1.6],
                ]
            ),
        ),
        label="four contexts: the largest gap between two top probabilities is elsewhere",
    ),
    Case(
        args=(
            np.array(
                [[4.0, 3.9, 3.8, 0.0], [2.0, -1.0, -1.0, -1.0], [6.0, 5.0, 5.0, 5.0]], np.float32
            ),
        ),
        label="three contexts",
    ),
    Case(args=(np.array([[10.0, 9.8, 9.7], [3.0, -2.0, -2.0]]),), label="a high but flat row"),
    Case(
        args=(np.array([[1.0, 0.0, 0.0], [101.0, 100.5, 100.0]]),),
        label="a row shifted up by 100",
    ),
    Case(
        args=(np.array([[9000.0, 8999.0, 8990.0], [20.0, 10.0, 9.0]]),),
        label="scores near 9000",
    ),
    Case(
        args=(np.array([[0.0, 0.0, 1.0], [2.0, 1.0, 0.0], [2.0, 1.0, 0.0]]),),
        label="two identical contexts, equally confident (the first one wins, as np.argmax)",
    ),
)


def _confidence_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(5):
        batch, vocab = int(rng.integers(2, 8)), int(rng.integers(2, 50))
        offsets = rng.uniform(-50.0, 50.0, size=(batch, 1))
        logits = offsets + rng.uniform(0.2, 5.0, size=(batch, 1)) * rng.standard_normal(
            (batch, vocab)
        )
        # No near-ties: two top probabilities closer than rounding would let a correct answer
        # computed another way pick the other row. (The visible cases hold an exact tie of
        # identical 3-token rows, where every formulation computes the same numbers.)
        top = np.sort(softmax(logits, axis=-1).max(axis=-1))
        while top.size > 1 and top[-1] - top[-2] < 1e-6:
            best = int(np.argmax(softmax(logits, axis=-1).max(axis=-1)))
            logits[best, int(np.argmax(logits[best]))] += 1.0
            top = np.sort(softmax(logits, axis=-1).max(axis=-1))
        cases.append(Case(args=(logits,), label=f"random #{index + 1}: {batch} contexts"))
    return cases


def _confidence_mistakes(case: Case) -> list[tuple[str, int]]:
    """(message, the row that mistake returns) for each criterion of confidence."""
    logits = np.asarray(case.args[0], dtype=np.float64)
    probs = softmax(logits, axis=-1)
    entropy = -np.sum(probs * log_softmax(logits, axis=-1), axis=-1, where=probs > 0)
    top_two = np.sort(logits, axis=-1)[:, -2:]
    top_two_probs = np.sort(probs, axis=-1)[:, -2:]
    criteria = [
        (
            np.argmax(logits.max(axis=-1)),
            "still compares raw logits across contexts: a logit means something only next "
            "to the other logits of its own context (adding a constant to a row changes no "
            "probability). Compare the top probabilities instead.",
        ),
        (
            np.argmin(probs.max(axis=-1)),
            "that row is the least confident context (the smallest top probability); the "
            "exercise asks for the largest.",
        ),
        (
            np.argmin(entropy),
            "that row is the context with the lowest entropy; entropy measures the spread of "
            "the whole distribution, and it can disagree with the top probability, which "
            "is what this exercise compares.",
        ),
        (
            np.argmax(entropy),
            "that row is the context with the highest entropy: the most spread-out "
            "distribution, the opposite of confident. Compare the top probabilities.",
        ),
        (
            np.argmax(top_two[:, 1] - top_two[:, 0]) if logits.shape[1] > 1 else -1,
            "that row is the context with the largest gap between its two top logits; the "
            "gap ignores every other token, while the top probability depends on all of them.",
        ),
        (
            np.argmax(softmax(logits, axis=0).max(axis=-1)) if logits.shape[0] > 1 else -1,
            "that row has the largest probability when each token is normalized over the "
            "contexts (axis 0); each context's distribution runs along the last axis.",
        ),
        (
            np.argmax(top_two_probs[:, 1] - top_two_probs[:, 0]) if logits.shape[1] > 1 else -1,
            "that row has the largest gap between its two top probabilities; the exercise "
            "compares the top probability itself, and a large gap can sit under a small top.",
        ),
    ]
    return [(message, int(row)) for row, message in criteria if int(row) >= 0]


def _confidence_diagnose(case: Case, expected, got) -> str | list[str] | None:
    logits = np.asarray(case.args[0], dtype=np.float64)
    try:
        index = int(np.asarray(got))
    except (TypeError, ValueError):
        return None
    probs = softmax(logits, axis=-1)
    if 0 <= index < logits.shape[0] and index != int(expected):
        top = probs.max(axis=-1)
        if np.isclose(top[index], top[int(expected)], rtol=1e-12, atol=0.0):
            return (
                "several contexts tie for the highest top probability and you returned a "
                "later one; return the first (as np.argmax does)."
            )
    # Every criterion that picks this row: on a small case several coincide, and
    # check names the one that also explains the answer's other cases.
    criteria = _confidence_mistakes(case)
    matched = [m for m, row in criteria if index == row and index != int(expected)]
    if matched:
        return matched
    if 0 <= index < logits.shape[1] and index >= logits.shape[0]:
        return "the answer is a context (row) index, not a token id."
    return None


MOST_CONFIDENT_CONTEXT = Exercise(
    id="08.most_confident_context",
    title="Fix: confidence compared with raw logits",
    points=1,
    answer_name="most_confident_context",
    kind="function",
    reference=most_confident_context_reference,
    visible_cases=_CONFIDENCE_CASES,
    hidden_cases=_confidence_hidden,
    diagnose=_confidence_diagnose,
    consistent_diagnosis=True,
    differing_mistakes=lambda case: [
        message
        for message, row in _confidence_mistakes(case)
        if row != most_confident_context_reference(case.args[0])
    ],
    hints=(
        "Confidence is a probability: how likely the context's most likely next token is. "
        "Raw logits of different contexts cannot be compared.",
        "Turn each row into probabilities, read each row's largest one, and return the "
        "position of the row where that is largest (the first row on a tie), as an int.",
    ),
)


# ---------------------------------------------------------- 08.log_probs_fp16


def log_probs_fp16_reference(logits):
    """log_softmax computed in float32 from float16 logits (as Hugging Face upcasts)."""
    return log_softmax(np.asarray(logits).astype(np.float32), axis=-1)


def _naive_log_softmax(logits):
    """log(exp(z) / sum exp(z)) in the logits' own dtype (None if it raises)."""
    return _quiet(lambda z: np.log(np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)), logits)


def _shifted_log_softmax(logits):
    """The max-shift alone, still in the logits' own dtype."""

    def shifted(z):
        z = z - z.max(axis=-1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))

    return _quiet(shifted, logits)


def _fp16_production_logits() -> np.ndarray:
    """Logits like a large model's: 2 contexts x 5000 tokens, a few near 25."""
    rng = np.random.default_rng(805)
    logits = 3.0 * rng.standard_normal((2, 5000))
    logits[0, [17, 401, 2024]] = [25.0, 23.5, 21.0]
    logits[1, [5, 6]] = [18.0, 17.75]
    return logits.astype(np.float16)


# The production case comes first: it is where the original code breaks.
_FP16_CASES = (
    Case(args=(_fp16_production_logits(),), label="production logits up to 25 (float16)"),
    Case(
        args=(np.zeros((1, 70_000), np.float16),),
        label="a flat distribution over 70,000 tokens (float16)",
    ),
    Case(
        args=(np.array([[-80.0, -60.0, -75.0], [-30.0, -31.0, -29.5]], np.float16),),
        label="large negative scores (float16)",
    ),
    Case(args=(np.array([[2.0, 1.0, 0.0]], np.float16),), label="small scores (float16)"),
    Case(
        args=(np.array([[100.0, 98.0, -60.0, 20.0], [90.0, 89.5, 10.0, -40.0]], np.float16),),
        label="confident logits near 100, 160 apart (float16; exp overflows even in float32)",
    ),
)


def _fp16_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(4):
        batch, vocab = int(rng.integers(1, 4)), int(rng.integers(2, 3000))
        logits = float(rng.uniform(-60.0, 30.0)) + rng.uniform(0.5, 5.0) * rng.standard_normal(
            (batch, vocab)
        )
        if index == 3:
            # Confident and wide: exp overflows even in float32, a softmax underflows to 0.
            logits = rng.uniform(-60.0, 60.0, size=(batch, vocab))
            logits[:, 0] = 100.0
        cases.append(
            Case(args=(logits.astype(np.float16),), label=f"random #{index + 1}: {vocab} tokens")
        )
    return cases


def _fp16_diagnose(case: Case, expected, got) -> str | None:
    logits = np.asarray(case.args[0])
    value = np.asarray(got)
    if value.shape != logits.shape or value.dtype.kind != "f":
        return None
    as_float = value.astype(np.float64)
    broken = ~np.isfinite(as_float) & np.isfinite(np.asarray(expected, dtype=np.float64))
    if broken.any():
        wide = logits.astype(np.float32)
        for mistake, message in (
            (
                _shifted_log_softmax(logits),
                "still sums in float16: the sum of exp over a large vocabulary passes 65504 "
                "(float16's maximum) and becomes inf. Upcast the logits to float32 first.",
            ),
            (
                _naive_log_softmax(logits),
                "still computes exp in float16: exp overflows to inf above 11.09 (and "
                "underflows to 0 below -17), so inf / inf = NaN. Upcast the logits to float32 "
                "first.",
            ),
            (
                _naive_log_softmax(wide),
                "you upcast, but exp(z) still overflows in float32 above 88.7 (inf / inf = "
                "NaN): subtract each row's maximum before exponentiating.",
            ),
            (
                _quiet(lambda z: np.log(softmax(z, axis=-1)), wide),
                "you took the log of a softmax: a probability below float32's smallest number "
                "(about e^-103) rounds to 0 and its log is -inf. Stay in log space: subtract "
                "the log of the normalizer from the shifted logits.",
            ),
        ):
            if (
                mistake is not None
                and np.array_equal(
                    ~np.isfinite(np.asarray(mistake, dtype=np.float64)) & broken, broken
                )
                and np.array_equal(np.isnan(mistake), np.isnan(as_float))
            ):
                return message
        return None
    if value.dtype == np.float16:
        return (
            "the result is float16, which keeps about 3 significant digits; upcast the logits "
            "to float32 before computing and return float32 (as Hugging Face's generate does)."
        )
    if value.dtype == np.float64:
        return (
            "return float32: it is exact enough for log-probabilities and half the memory "
            "of float64 (a 128k-token vocabulary is 0.5 MB per position)."
        )
    with np.errstate(over="ignore"):
        representable_in_half = np.array_equal(as_float.astype(np.float16), as_float)
    if representable_in_half and _matches(as_float, expected, rtol=4e-3, atol=4e-3):
        return (
            "you computed in float16 and converted the result (every value is a float16 "
            "number); upcast the logits to float32 before exp and log, not after."
        )
    return None


LOG_PROBS_FP16 = Exercise(
    id="08.log_probs_fp16",
    title="Fix: float16 logits that overflow in production",
    points=1,
    answer_name="log_probs_fp16",
    kind="function",
    reference=log_probs_fp16_reference,
    visible_cases=_FP16_CASES,
    hidden_cases=_fp16_hidden,
    rtol=1e-5,
    atol=1e-5,
    diagnose=_fp16_diagnose,
    hints=(
        "float16 tops out at 65504, so exp overflows above about 11, and its sums and "
        "results keep only about three significant digits: compute in a wider type.",
        "Convert the logits to float32 before any exp, log or sum, then use a stable "
        "log-softmax (shift by each row's maximum, subtract the log of the normalizer); "
        "the result stays float32.",
    ),
    check_dtype=True,
)


# ------------------------------------------------------ 08.rank_completions


def rank_completions_reference(total_log_probs, lengths, length_penalty=1.0):
    """Indices of the completions, best length-normalized score first (ties: lower index)."""
    scores = sequences.length_normalized(
        np.asarray(total_log_probs, dtype=np.float64), lengths, length_penalty=length_penalty
    )
    return np.argsort(-np.atleast_1d(scores), kind="stable")


def _many_ties():
    """24 completions whose per-token scores take four values: long runs of ties."""
    rng = np.random.default_rng(3)
    lengths = rng.integers(1, 9, size=24)
    per_token = rng.choice([-1.0, -1.5, -2.0, -2.5], size=24)
    return per_token * lengths, lengths


_RANK_CASES = (
    Case(
        args=(np.array([-5.0, -4.0, -6.0, -1.0]), np.array([1, 3, 8, 1])),
        label="four completions of very different lengths",
    ),
    Case(
        args=(np.array([-3.2, -7.9, -5.1, -12.4, -2.9]), np.array([3, 8, 4, 11, 2])),
        label="five completions",
    ),
    Case(args=(np.array([-4.0, -6.5, -9.0]), np.array([2, 5, 10])), label="three completions"),
    Case(
        args=(np.array([-4.0, -6.5, -9.0, -5.0]), np.array([2, 5, 10, 1])),
        kwargs={"length_penalty": 0.0},
        label="length_penalty=0 (raw totals)",
    ),
    Case(
        args=(np.array([-4.0, -6.0, -30.0, -1.5]), np.array([2, 4, 6, 1])),
        kwargs={"length_penalty": 2.0},
        label="length_penalty=2",
    ),
    Case(
        args=(np.array([-6.0, -3.0, -4.0, -2.0, -8.0]), np.array([3, 3, 2, 1, 4])),
        label="four completions tied at -2 per token (ties: lower index first)",
    ),
    Case(args=_many_ties(), label="24 completions, many tied scores"),
)


def _rank_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(5):
        count = int(rng.integers(2, 12))
        lengths = rng.integers(1, 40, size=count)
        totals = -rng.uniform(0.2, 3.0, size=count) * lengths
        penalty = float(np.round(rng.uniform(0.0, 2.0), 2))
        if index == 4:
            # Per-token scores from three values: exact ties at length_penalty = 1.
            count = int(rng.integers(18, 30))
            lengths = rng.integers(1, 12, size=count)
            totals = rng.choice([-1.0, -1.5, -2.0], size=count) * lengths
            penalty = 1.0
        cases.append(
            Case(
                args=(totals, lengths),
                kwargs={"length_penalty": penalty},
                label=f"random #{index + 1}: {count} completions, length_penalty={penalty}",
            )
        )
    return cases


def _rank_diagnose(case: Case, expected, got) -> str | None:
    totals = np.asarray(case.args[0], dtype=np.float64)
    lengths = np.asarray(case.args[1])
    penalty = case.kwargs.get("length_penalty", 1.0)
    try:
        order = np.asarray(got).astype(np.int64)
    except (TypeError, ValueError):
        return None
    if order.shape != np.shape(expected):
        return None
    expected = np.asarray(expected)
    scores = np.atleast_1d(totals / lengths.astype(np.float64) ** penalty)
    # Each message fires only when the answer is exactly that mistake's ranking (and
    # that ranking is wrong here).
    mistakes = [
        (
            np.argsort(-totals, kind="stable"),
            "still ranks by the raw total log-probability: every token adds a negative term, "
            "so short completions always win. Rank by total / length ** length_penalty.",
        ),
        (
            np.argsort(-(totals / lengths), kind="stable"),
            "you divided by the length but ignored length_penalty.",
        ),
        (
            np.argsort(-(totals * lengths.astype(np.float64) ** penalty), kind="stable"),
            "you multiplied by length ** length_penalty; the normalized score divides by it.",
        ),
        (
            np.argsort(scores, kind="stable"),
            "the order is reversed: put the best (highest) score first.",
        ),
        (
            np.argsort(scores, kind="stable")[::-1],
            "best first, but tied completions come in reverse index order (a reversed "
            "ascending sort); among equal scores the lower index comes first: sort the "
            "negated scores with a stable sort.",
        ),
        (
            np.argsort(expected, kind="stable"),
            "you returned each completion's rank; return the completions' indices in ranked "
            "order (what np.argsort gives).",
        ),
    ]
    for ranking, message in mistakes:
        if np.array_equal(order, ranking) and not np.array_equal(ranking, expected):
            return message
    if np.array_equal(np.sort(scores[order])[::-1], scores[order]) and np.array_equal(
        np.sort(order), np.arange(len(order))
    ):
        return (
            "best first, but tied completions are not in index order: an unstable sort "
            "(np.argsort's default) orders equal scores as it likes; use a stable sort."
        )
    return None


RANK_COMPLETIONS = Exercise(
    id="08.rank_completions",
    title="Fix: ranking completions of different lengths",
    points=1,
    answer_name="rank_completions",
    kind="function",
    reference=rank_completions_reference,
    visible_cases=_RANK_CASES,
    hidden_cases=_rank_hidden,
    diagnose=_rank_diagnose,
    hints=(
        "Compare completions by their length-normalized score, total / length ** "
        "length_penalty, not by their raw total: short ones would always win.",
        "Sort the indices by that score from the highest down, with a sort that keeps "
        "equal scores in index order (a stable sort of the negated scores; reversing an "
        "ascending sort would flip the ties).",
    ),
)


# ----------------------------------------------------- 08.score_completions


def score_completions_reference(logits, token_ids, mask, length_penalty=1.0):
    """Length-normalized log-probability of each padded completion.

    `logits` (batch, time, vocab) of any float dtype (computed in float64),
    `token_ids` (batch, time), `mask` (batch, time) True for real tokens.
    Returns (batch,) float64: sum of masked log-probs / n_real ** length_penalty.
    """
    mask = np.asarray(mask, dtype=bool)
    totals = sequences.sequence_log_prob(
        np.asarray(logits, dtype=np.float64), np.asarray(token_ids, dtype=np.int64), mask=mask
    )
    return sequences.length_normalized(totals, mask.sum(axis=-1), length_penalty=length_penalty)


def _padded_batch(seed: int, lengths, time: int, vocab: int, spread: float, dtype=np.float64):
    """A padded batch: padding positions hold garbage logits and pad id 0."""
    rng = np.random.default_rng(seed)
    batch = len(lengths)
    logits = spread * rng.standard_normal((batch, time, vocab))
    token_ids = rng.integers(1, vocab, size=(batch, time))
    mask = np.arange(time) < np.asarray(lengths)[:, None]
    # What sits in padded positions is whatever the model computed there: huge,
    # unnormalized numbers that must never reach the score.
    logits[~mask] = rng.uniform(-300.0, 300.0, size=(int((~mask).sum()), vocab))
    logits[~mask, 0] = -300.0
    token_ids[~mask] = 0
    return logits.astype(dtype), token_ids, mask


def _production_batch():
    logits, token_ids, mask = _padded_batch(811, [6, 3, 5], 6, 300, 3.0)
    logits[mask] += 18.0 * (np.arange(300) == 7)  # one confident token per position
    logits[~mask] = np.clip(logits[~mask], -60000.0, 60000.0)
    return logits.astype(np.float16), token_ids, mask


def _masked_pad_token():
    # Models often rule the pad token out: its log-probability at the padding is -inf.
    logits, token_ids, mask = _padded_batch(813, [4, 2, 3], 4, 6, 1.5)
    logits[~mask, 0] = -np.inf
    return logits, token_ids, mask


def _tiny_real_token():
    logits, token_ids, mask = _padded_batch(815, [3, 2], 3, 5, 1.0)
    logits[0, 1, token_ids[0, 1]] = -800.0
    return logits, token_ids, mask


def _impossible_real_token():
    # The first completion contains a token of probability 0: its score is -inf.
    logits, token_ids, mask = _padded_batch(816, [3, 2], 3, 5, 1.0)
    logits[0, 1, token_ids[0, 1]] = -np.inf
    logits[~mask, 0] = -np.inf
    return logits, token_ids, mask


def _nan_padding():
    logits, token_ids, mask = _padded_batch(814, [3, 1], 3, 5, 1.0)
    logits[~mask] = np.nan
    return logits, token_ids, mask


def _raw_token_log_probs(logits, token_ids) -> np.ndarray:
    """Every position's log-probability with NumPy's own semantics (NaN and -inf propagate)."""
    z = np.asarray(logits, dtype=np.float64)
    ids = np.asarray(token_ids, dtype=np.int64)
    with np.errstate(all="ignore"):
        top = np.max(z, axis=-1, keepdims=True)
        top = np.where(np.isfinite(top), top, 0.0)
        normalizer = top[..., 0] + np.log(np.exp(z - top).sum(axis=-1))
        return np.take_along_axis(z, ids[..., None], axis=-1)[..., 0] - normalizer


_SCORE_CASES = (
    Case(
        args=(*_padded_batch(807, [3, 3], 3, 4, 1.0),),
        label="two completions, no padding",
    ),
    Case(args=(*_padded_batch(808, [4, 2, 3], 4, 6, 1.5),), label="three padded completions"),
    Case(
        args=(*_padded_batch(809, [4, 2, 3], 4, 6, 1.5),),
        kwargs={"length_penalty": 0.0},
        label="length_penalty=0 (padded)",
    ),
    Case(
        args=(*_padded_batch(810, [5, 1], 5, 5, 1.0),),
        kwargs={"length_penalty": 2.0},
        label="length_penalty=2 (padded)",
    ),
    Case(args=_production_batch(), label="float16 logits up to 25, padded"),
    Case(args=(*_padded_batch(812, [300, 180], 300, 40, 1.0),), label="completions of 300 tokens"),
    Case(args=_masked_pad_token(), label="the pad token scored -inf at the padding"),
    Case(args=_tiny_real_token(), label="a real token with log-probability near -800"),
    Case(args=_impossible_real_token(), label="a real token the model rules out (score -inf)"),
    Case(args=_nan_padding(), label="NaN logits at the padding (a fully masked attention row)"),
)


def _score_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(5):
        batch, vocab = int(rng.integers(1, 5)), int(rng.integers(2, 40))
        time = int(rng.integers(1, 12)) if index % 2 else int(rng.integers(200, 400))
        lengths = rng.integers(1, time + 1, size=batch)
        dtype = np.float16 if index == 2 else np.float64
        seed = int(rng.integers(0, 2**32))
        logits, token_ids, mask = _padded_batch(seed, lengths, time, vocab, 2.0, dtype)
        if index == 1:
            logits[~mask, 0] = -np.inf  # the pad token ruled out at the padding
        elif index == 3:
            logits[~mask] = np.nan  # a fully masked attention row
        penalty = float(np.round(rng.uniform(0.0, 2.0), 2))
        cases.append(
            Case(
                args=(logits, token_ids, mask),
                kwargs={"length_penalty": penalty},
                label=f"random #{index + 1}: {batch} x {time}, {np.dtype(dtype).name}",
            )
        )
    return cases


def _score_diagnose(case: Case, expected, got) -> str | None:
    logits, token_ids, mask = case.args
    penalty = case.kwargs.get("length_penalty", 1.0)
    value = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if value.shape != expected.shape:
        if value.shape == np.shape(token_ids):
            return "you returned one number per token; return one score per completion."
        return None
    mask = np.asarray(mask, dtype=bool)
    real = mask.sum(axis=-1)
    time = mask.shape[-1]
    picked = _raw_token_log_probs(logits, token_ids)
    with np.errstate(all="ignore"):
        multiplied = (picked * mask).sum(axis=-1) / real**penalty
        everything = picked.sum(axis=-1)
    if (np.isneginf(expected) & np.isfinite(value)).any():
        return (
            "a real token has probability 0 (score -inf), so its completion's score is -inf; "
            "keep that -inf: only the padding positions are left out."
        )
    broken = ~np.isfinite(value) & np.isfinite(expected)
    if broken.any():
        if np.array_equal(np.isnan(value), np.isnan(multiplied)) and np.isnan(multiplied).any():
            return (
                "masks the padding by multiplying with the mask: a padding position's "
                "log-probability can be -inf or NaN, and -inf * 0 = NaN * 0 = NaN. Select "
                "the real positions instead (np.where(mask, ..., 0.0))."
            )
        half = np.asarray(logits).dtype == np.float16
        if half and np.isnan(value).any() and np.isnan(_quiet(_naive_softmax, logits)).any():
            return (
                "the result contains NaN: exp overflowed (float16 overflows above 11.09). "
                "Upcast the logits to float32 or float64 and use log_softmax."
            )
        if np.array_equal(broken, ~np.isfinite(everything) & np.isfinite(expected)):
            return (
                "still adds the padding positions' log-probabilities, and one of them is not "
                "finite; leave the padding out of the sum."
            )
        if np.isneginf(value).any():
            return (
                "a score is -inf: probabilities were combined as a product (it underflowed) "
                "or a log of 0 was taken; add log-probabilities instead."
            )
        return None
    masked = np.where(mask, picked, 0.0).sum(axis=-1)
    mistakes = [
        (
            sequences.length_normalized(everything, time, length_penalty=penalty),
            "still counts the padding positions: their logits are garbage; mask them out.",
        ),
        (
            sequences.length_normalized(everything, real, length_penalty=penalty),
            "still adds the padding positions' log-probabilities; mask them out.",
        ),
        (
            sequences.length_normalized(masked, time, length_penalty=penalty),
            "divides by the padded length; divide by the number of real tokens "
            "(mask.sum(axis=-1)) ** length_penalty.",
        ),
        (
            masked / float(real.sum()) ** penalty,
            "mask.sum() without an axis counts the real tokens of the whole batch; count "
            "each completion's own (along the time axis).",
        ),
        (masked, "the scores are not length-normalized: divide by n_real ** length_penalty."),
        (masked / real, "you divided by the number of real tokens but ignored length_penalty."),
    ]
    message = first_matching_mistake(value, expected, mistakes, rtol=1e-5, atol=1e-9)
    if message:
        return message
    if np.asarray(logits).dtype == np.float16 and _matches(value, expected, rtol=2e-2):
        return (
            "close, but off in the 4th digit: the log-probabilities were computed in float16 "
            "(about 3 significant digits). Upcast the logits before log_softmax."
        )
    return None


SCORE_COMPLETIONS = Exercise(
    id="08.score_completions",
    title="Design: a correct sequence-scoring function",
    points=3,
    answer_name="score_completions",
    kind="function",
    reference=score_completions_reference,
    visible_cases=_SCORE_CASES,
    hidden_cases=_score_hidden,
    rtol=1e-5,
    atol=1e-6,
    diagnose=_score_diagnose,
    hints=(
        "Everything from cases 1-6 at once: normalize over the vocabulary in log space, in "
        "a wide float type, and let nothing computed at a padding position reach a score.",
        "Padding may hold anything, even -inf or NaN, and 0 times those is NaN: select the "
        "real positions (or replace the padding before computing) rather than multiplying "
        "by the mask, then divide each total by its own real length to the power "
        "length_penalty.",
    ),
)


# ------------------------------------------------------ 08.audit_completion

AUDIT_KEYS = ("prob", "rank", "argmax", "entropy")


def _audit_rows(logits, token_ids, prompt_length, *, shift: int = 1):
    """(rows of logits, scored token ids) of the completion; shift=0 is the unshifted bug."""
    logits = np.asarray(logits, dtype=np.float64)
    token_ids = np.asarray(token_ids, dtype=np.int64)
    positions = np.arange(int(prompt_length), len(token_ids))
    return logits[positions - shift], token_ids[positions]


def _audit_of(rows: np.ndarray, tokens: np.ndarray) -> dict:
    log_probs = log_softmax(rows, axis=-1)
    steps = np.arange(len(tokens))
    own = rows[steps, tokens]
    with np.errstate(invalid="ignore"):
        plogp = np.where(np.isneginf(log_probs), 0.0, np.exp(log_probs) * log_probs)
    return {
        "prob": np.exp(log_probs[steps, tokens]),
        "rank": 1 + (rows > own[:, None]).sum(axis=-1),
        "argmax": np.argmax(rows, axis=-1),
        "entropy": -plogp.sum(axis=-1),
    }


def audit_completion_reference(logits, token_ids, prompt_length) -> dict:
    """The audit of the completion token_ids[prompt_length:].

    `logits` (time, vocab): row t is the model's logits for the token after
    token_ids[:t + 1] (what a causal model returns for the whole sequence);
    `token_ids` (time,): the prompt, then the completion. For each completion
    token (scored by the row before it): "prob" its probability, "rank" 1 +
    the number of tokens with a larger logit, "argmax" the model's top choice
    (the lowest id on a tie), "entropy" of that step's distribution in nats.
    """
    return _audit_of(*_audit_rows(logits, token_ids, prompt_length))


def _audit_sequence(seed: int, time: int, vocab: int, spread: float, prompt_length: int):
    rng = np.random.default_rng(seed)
    logits = spread * rng.standard_normal((time, vocab))
    token_ids = rng.integers(0, vocab, size=time)
    return logits, token_ids, prompt_length


def _audit_by_hand():
    # <s> the cat | sat </s>, over the vocabulary (<s>, the, cat, sat, </s>)
    logits = np.array(
        [
            [-5.0, 3.0, 1.0, 0.0, -1.0],  # after "<s>"
            [-5.0, -2.0, 2.0, 1.0, 0.0],  # after "<s> the"
            [-5.0, -1.0, -3.0, 2.0, 1.5],  # after "<s> the cat": "sat" is the favourite
            [-5.0, 0.0, 0.0, -2.0, 3.0],  # after "<s> the cat sat": "</s>" is likely
            [0.0, 0.0, 0.0, 0.0, 0.0],  # after "</s>": never used to score
        ]
    )
    return logits, np.array([0, 1, 2, 3, 4]), 3


def _audit_ties():
    # A completion token tied with another at the top, and one tied behind a leader.
    logits, token_ids, prompt_length = _audit_sequence(821, 5, 6, 1.5, 2)
    logits[1, token_ids[2]] = logits[1].max() + 1.0
    logits[1, (token_ids[2] + 1) % 6] = logits[1, token_ids[2]]
    logits[2, :] = 0.0
    logits[2, 5] = 2.0
    token_ids[3] = 1
    return logits, token_ids, prompt_length


def _audit_ruled_out():
    # A token the model rules out (-inf logit) at every step; never the completion's.
    logits, token_ids, prompt_length = _audit_sequence(822, 6, 5, 2.0, 2)
    token_ids[token_ids == 4] = 3
    logits[:, 4] = -np.inf
    return logits, token_ids, prompt_length


def _audit_large():
    logits, token_ids, prompt_length = _audit_sequence(823, 5, 8, 3.0, 1)
    return logits + 1000.0, token_ids, prompt_length


_AUDIT_CASES = (
    Case(args=_audit_by_hand(), label="<s> the cat | sat </s> (by hand)"),
    Case(args=_audit_sequence(824, 7, 12, 2.0, 3), label="a prompt of 3 tokens, 4 to audit"),
    Case(args=_audit_sequence(825, 6, 9, 1.0, 1), label="only <s> as the prompt"),
    Case(args=_audit_ties(), label="tied logits at the top"),
    Case(args=_audit_ruled_out(), label="a token ruled out (-inf) at every step"),
    Case(args=_audit_large(), label="logits near 1000"),
)


def _audit_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(5):
        time, vocab = int(rng.integers(3, 14)), int(rng.integers(3, 40))
        prompt_length = int(rng.integers(1, time))
        spread = float(rng.uniform(0.5, 4.0))
        seed = int(rng.integers(0, 2**32))
        logits, token_ids, prompt_length = _audit_sequence(seed, time, vocab, spread, prompt_length)
        if index == 1:
            logits[:, 0] = -np.inf  # the model never predicts <s>
            token_ids[prompt_length:][token_ids[prompt_length:] == 0] = 1
        elif index == 2:
            logits += float(rng.choice([-700.0, 700.0]))
        cases.append(
            Case(
                args=(logits, token_ids, prompt_length),
                label=f"random #{index + 1}: {time} tokens, prompt {prompt_length}, {vocab} words",
            )
        )
    return cases


def _audit_mistakes(case: Case) -> list[tuple[str, dict]]:
    logits, token_ids, prompt_length = case.args
    rows, tokens = _audit_rows(logits, token_ids, prompt_length)
    right = _audit_of(rows, tokens)
    unshifted = _audit_of(*_audit_rows(logits, token_ids, prompt_length, shift=0))
    order = np.argsort(-rows, axis=-1, kind="stable")
    own = rows[np.arange(len(tokens)), tokens]
    steps = np.arange(len(tokens))
    return [
        (
            "unshifted",
            unshifted,
            "row t of the logits predicts the token AFTER token t: score token t with row "
            "t - 1. You paired each token with its own row (no shift).",
        ),
        (
            "rank",
            {**right, "rank": right["rank"] - 1},
            "the rank counts from 1: the model's top choice has rank 1.",
        ),
        (
            "rank",
            {**right, "rank": (rows >= own[:, None]).sum(axis=-1)},
            "a tied token shares the better rank: count only the tokens with a strictly "
            "larger logit (>= also counts the tokens tied with it).",
        ),
        (
            "rank",
            {**right, "rank": 1 + np.argmax(order == tokens[:, None], axis=-1)},
            "a tied token shares the better rank: count only the tokens with a strictly "
            "larger logit (a sorted position depends on how ties were ordered).",
        ),
        (
            "entropy",
            {**right, "entropy": right["entropy"] / np.log(2)},
            "the entropy is in nats (natural log), not bits.",
        ),
        (
            "prob",
            {**right, "prob": softmax(rows, axis=0)[steps, tokens]},
            "normalized over the time axis; each step's distribution is along the "
            "vocabulary (last axis).",
        ),
        (
            "argmax",
            {**right, "argmax": tokens},
            "argmax is the model's own top choice at that step, not the token the completion took.",
        ),
    ]


def _audit_diagnose(case: Case, expected, got) -> str | None:
    if not isinstance(got, dict) or set(got) != set(AUDIT_KEYS):
        return None
    logits, token_ids, prompt_length = case.args
    steps = len(token_ids) - int(prompt_length)
    shapes = {key: np.shape(got[key]) for key in AUDIT_KEYS}
    if any(shape != (steps,) for shape in shapes.values()):
        if any(shape == (len(token_ids) - 1,) for shape in shapes.values()):
            return (
                "you audited the prompt too: audit only the completion's tokens, "
                "token_ids[prompt_length:], one entry each."
            )
        if any(shape == (len(token_ids),) for shape in shapes.values()):
            return (
                "one entry per completion token (token_ids[prompt_length:]): the prompt is "
                "given, not scored."
            )
        return None
    entropy = as_float64(got["entropy"])
    rows, _ = _audit_rows(logits, token_ids, prompt_length)
    ruled_out = np.isneginf(rows).any(axis=-1)
    if entropy is not None and ruled_out.any() and np.array_equal(np.isnan(entropy), ruled_out):
        return (
            "the entropy is NaN exactly where a token is ruled out (probability 0): "
            "0 * log 0 = NaN in floating point, but its term in the entropy is 0 (the limit "
            "of p log p)."
        )
    for key, wrong, message in _audit_mistakes(case):
        keys = AUDIT_KEYS if key == "unshifted" else (key,)
        if all(_matches(got[name], wrong[name]) for name in keys) and not all(
            _matches(wrong[name], expected[name]) for name in keys
        ):
            return message
    return None


AUDIT_COMPLETION = Exercise(
    id="08.audit_completion",
    title="Audit a completion: probability, rank, top choice and entropy per step",
    points=3,
    answer_name="audit_completion",
    kind="function",
    reference=audit_completion_reference,
    visible_cases=_AUDIT_CASES,
    hidden_cases=_audit_hidden,
    rtol=1e-6,
    atol=1e-9,
    diagnose=_audit_diagnose,
    hints=(
        "A causal model's output at position t is its guess for the NEXT token, so each "
        "completion token is judged by the row of the position before it; the prompt's own "
        "tokens are not judged.",
        "For each of those rows: a stable softmax over the vocabulary, the token's own "
        "probability, how many words have a strictly larger logit (plus one), the index "
        "of the largest logit, and -sum p log p where a probability of 0 adds nothing.",
    ),
)


# --------------------------------------------------------- 08.audit_verdict

AUDIT_VERDICT_OPTIONS = {
    "a": "the model hesitates at every step: the low score is spread over many words it "
    "found about as likely as the others",
    "b": 'one step decides it: right after "slept" the model is fairly sure of another word '
    'and gives "on" almost nothing; the other steps are ordinary',
    "c": "it is the greedy completion: every token is the model's top choice",
    "d": "a scoring bug, not the model: the probabilities are paired with the wrong rows",
    "e": "the completion was cut short: its end token was never scored",
}


def audit_verdict_reference() -> str:
    """The audit of 'the cat | slept on the mat </s>': one confident step decides (b)."""
    return "b"


_VERDICT_EXPLANATIONS = {
    "a": "look at the entropy where the score drops: the model is not hesitating there, it "
    "is fairly sure of another word.",
    "c": "look at the rank column: a token of rank 1 is the top choice, and not all of them are.",
    "d": "the audit scores each token with the row before it, and most steps look ordinary: "
    "a shifted pairing makes nearly every probability absurd.",
    "e": "the completion ends with </s>, and its row is in the audit.",
}


def _verdict_diagnose(case: Case, expected, got) -> str | None:
    if not isinstance(got, str):
        return None
    choice = got.strip().casefold()
    if choice in _VERDICT_EXPLANATIONS:
        return f"not ({choice}): {_VERDICT_EXPLANATIONS[choice]}"
    if choice not in AUDIT_VERDICT_OPTIONS:
        return "answer with the letter alone, a to e, as a string: e.g. 'a'."
    return None


AUDIT_VERDICT = Exercise(
    id="08.audit_verdict",
    title="Choose: the one-line verdict on a completion's audit",
    points=2,
    answer_name="audit_verdict",
    kind="value",
    reference=audit_verdict_reference,
    diagnose=_verdict_diagnose,
    hints=(
        "Find the step where the probability collapses, then read that step's rank, top "
        "choice and entropy together.",
        "A low entropy says the model was sure at that step; a high rank and a tiny "
        "probability say the completion took a word it did not expect. Does that happen "
        "once or everywhere?",
    ),
)


EXERCISES = [
    NEXT_TOKEN_PROBS,
    CANDIDATE_PROBS,
    SEQUENCE_SCORES,
    MOST_CONFIDENT_CONTEXT,
    LOG_PROBS_FP16,
    RANK_COMPLETIONS,
    SCORE_COMPLETIONS,
    AUDIT_COMPLETION,
    AUDIT_VERDICT,
]
