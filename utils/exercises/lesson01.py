"""Exercises of lesson 01, "From scores to probabilities".

* ``01.softmax``: turn scores into probabilities over the last axis.
* ``01.candidate_probability``: the probability of one token when only a
  subset of the vocabulary is allowed.
* ``01.ordered_selection_probability``: the probability of picking several
  items in a given order without replacement (Plackett–Luce).

The scores here stay moderate (|z| < 40 in float64), so the textbook formula
works; lesson 02 is where large scores break it.

>>> from utils.exercises import get
>>> round(get("01.candidate_probability").reference(), 4)
0.2447
"""

from __future__ import annotations

import numpy as np

from utils.exercises._matching import first_matching_mistake
from utils.exercises._spec import Case, Exercise
from utils.probability import log_softmax, softmax

__all__ = [
    "CANDIDATES",
    "CANDIDATE_CONTEXT",
    "CANDIDATE_LOGITS",
    "CANDIDATE_TARGET",
    "CANDIDATE_VOCABULARY",
    "EXERCISES",
]

# Tolerances for float64 work: a few ulps of rounding, far below any mistake.
# `check` widens them for an answer computed in float32 (a few float32 ulps,
# and its rounding of the scores), so float32 arithmetic passes too.
_RTOL = 1e-9
_ATOL = 1e-12
# Diagnoses match a mistake more loosely than checks match the answer.
_MISTAKE_RTOL = 1e-7
_MISTAKE_ATOL = 1e-10


def _first_mistake(got, expected, mistakes, rtol: float = _MISTAKE_RTOL) -> str | None:
    return first_matching_mistake(
        got, expected, mistakes, rtol=rtol, atol=_MISTAKE_ATOL, unique=True
    )


# ---------------------------------------------------------------- 01.softmax


def softmax_reference(logits):
    """Probabilities over the last axis: exp(z) / sum(exp(z))."""
    return softmax(logits, axis=-1)


def _softmax_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(6):
        ndim = int(rng.integers(1, 4))
        shape = tuple(int(size) for size in rng.integers(1, 7, size=ndim))
        spread = float(rng.uniform(0.1, 6.0))
        offset = float(rng.uniform(-20.0, 20.0))
        logits = offset + spread * rng.standard_normal(shape)
        cases.append(Case(args=(logits,), label=f"random scores #{index + 1}, shape {shape}"))
    return cases


def _softmax_diagnose(case: Case, expected, got) -> str | None:
    logits = np.asarray(case.args[0], dtype=np.float64)
    exponentials = np.exp(logits)
    with np.errstate(divide="ignore", invalid="ignore"):
        divided_by_sum = logits / logits.sum(axis=-1, keepdims=True)
    mistakes = []
    if logits.ndim == 2 and logits.shape[0] == logits.shape[1]:
        # Without keepdims, a square batch broadcasts instead of raising.
        mistakes.append(
            (
                exponentials / exponentials.sum(axis=-1),
                "each entry was divided by the total of another row: the sum over the last "
                "axis lost that axis, so it broadcast along the wrong one. Keep the summed "
                "axis (keepdims=True) so that each row is divided by its own total.",
            )
        )
    mistakes += [
        (
            exponentials,
            "you returned exp(z) itself; divide by the sum of the exponentials "
            "so that the probabilities add up to 1.",
        ),
        (
            divided_by_sum,
            "you divided the scores by their sum without exponentiating; scores can "
            "be negative or sum to 0, so exponentiate first.",
        ),
    ]
    if logits.ndim >= 2:
        mistakes.append(
            (
                exponentials / exponentials.sum(),
                "you normalized over the whole array; each row (last axis) is its own "
                "distribution: sum with axis=-1, keepdims=True.",
            )
        )
        mistakes += [
            (
                softmax(logits, axis=axis),
                f"you normalized along axis {axis}; the tokens are on the last axis, "
                "so sum with axis=-1, keepdims=True.",
            )
            for axis in range(logits.ndim - 1)
        ]
    return _first_mistake(got, expected, mistakes)


SOFTMAX = Exercise(
    id="01.softmax",
    title="Softmax: from scores to probabilities",
    points=2,
    answer_name="softmax",
    kind="function",
    reference=softmax_reference,
    visible_cases=(
        Case(args=(np.array([2.0, 1.0, 0.0]),), label="cat, dog, mat: scores 2, 1, 0"),
        Case(args=(np.array([0.0, 0.0, 0.0]),), label="three equal scores"),
        Case(args=(np.array([-1.0, -2.0, -4.0]),), label="negative scores"),
        Case(args=(np.array([3.5]),), label="a single candidate"),
        Case(
            args=(np.array([[2.0, 1.0, 0.0], [0.5, 0.5, 3.0]]),),
            label="a batch of two contexts (one per row)",
        ),
        Case(
            args=(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]),),
            label="three contexts, two candidates each",
        ),
        Case(
            args=(np.array([[0.0, 1.0, 2.0], [4.0, 2.0, 0.5], [-1.0, -1.0, 3.0]]),),
            label="three contexts, three candidates each",
        ),
        Case(
            args=(
                np.array(
                    [
                        [[1.0, 0.0, -1.0], [2.0, 2.0, 0.0]],
                        [[0.5, 3.0, 1.0], [-2.0, 0.0, 4.0]],
                    ]
                ),
            ),
            label="a 3-d batch: 2 sequences x 2 positions x 3 tokens",
        ),
    ),
    hidden_cases=_softmax_hidden,
    rtol=_RTOL,
    atol=_ATOL,
    diagnose=_softmax_diagnose,
    axis_of_reference=-1,
    hints=(
        "Scores can be any real numbers, probabilities must be positive and add up to 1: "
        "first make every score positive in a way that keeps their order, then normalize.",
        "Exponentiate every score, then divide each one by the total of its own row: the "
        "sum runs over the last axis and keeps that axis, so that the division lines up "
        "with every entry (a 3-d batch too).",
    ),
)


# ---------------------------------------------------- 01.candidate_probability

CANDIDATE_CONTEXT = "the cat sat on the"
CANDIDATE_VOCABULARY = ("mat", "rug", "floor", "sofa", "moon", "ran")
CANDIDATE_LOGITS = (3.0, 2.0, 2.0, 1.0, 0.0, -2.0)
CANDIDATES = ("mat", "rug", "sofa")
CANDIDATE_TARGET = "rug"


def _candidate_mask() -> np.ndarray:
    return np.isin(CANDIDATE_VOCABULARY, CANDIDATES)


def candidate_probability_reference() -> float:
    """P(target | context, next token in CANDIDATES), from CANDIDATE_LOGITS."""
    probabilities = softmax(np.array(CANDIDATE_LOGITS), mask=_candidate_mask())
    return float(probabilities[CANDIDATE_VOCABULARY.index(CANDIDATE_TARGET)])


def _candidate_diagnose(case: Case, expected, got) -> str | None:
    # A learner may round a value answer: match the usual mistakes to 3 digits.
    logits = np.array(CANDIDATE_LOGITS)
    target = CANDIDATE_VOCABULARY.index(CANDIDATE_TARGET)
    mask = _candidate_mask()
    mistakes = [
        (
            softmax(logits)[target],
            "that is the probability over the whole vocabulary; the sum in the "
            "denominator runs over the allowed candidates only.",
        ),
        (
            log_softmax(logits, mask=mask)[target],
            "that is a log-probability; the question asks for the probability itself.",
        ),
        (
            logits[target] / logits[mask].sum(),
            "you divided the scores themselves; exponentiate them before normalizing.",
        ),
        (
            np.exp(logits[target]),
            "you exponentiated the score but did not divide by the candidates' sum.",
        ),
    ]
    for token, probability in zip(CANDIDATE_VOCABULARY, softmax(logits, mask=mask), strict=True):
        if mask[CANDIDATE_VOCABULARY.index(token)] and token != CANDIDATE_TARGET:
            mistakes.append(
                (
                    probability,
                    f"that is the probability of {token!r}; the question asks about "
                    f"{CANDIDATE_TARGET!r}.",
                )
            )
    return _first_mistake(got, expected, mistakes, rtol=1e-3)


CANDIDATE_PROBABILITY = Exercise(
    id="01.candidate_probability",
    title="The probability of one candidate among a subset",
    points=1,
    answer_name="candidate_probability",
    kind="value",
    reference=candidate_probability_reference,
    # A computed value matches to the last bits; typed digits do not.
    rtol=1e-9,
    atol=1e-12,
    diagnose=_candidate_diagnose,
    hints=(
        "Tokens outside the candidate set get probability 0: the softmax's denominator "
        "runs over the allowed tokens only.",
        "Mark the candidates in the vocabulary (a True/False mask), take the softmax over "
        "their scores only (utils.softmax accepts a mask), then read the entry of the "
        "target word. Keep the number unrounded.",
    ),
)


# ------------------------------------------- 01.ordered_selection_probability


def ordered_selection_reference(scores, order) -> float:
    """Plackett–Luce: the product of softmax probabilities over what is left.

    >>> round(ordered_selection_reference([2.0, 1.0, 0.0], [0, 1]), 4)
    0.4863
    """
    scores = np.asarray(scores, dtype=np.float64)
    remaining = np.ones(scores.shape, dtype=bool)
    log_probability = 0.0
    for index in order:
        log_probability += float(log_softmax(scores, mask=remaining)[index])
        remaining[index] = False
    return float(np.exp(log_probability))


def _ordered_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(6):
        size = int(rng.integers(2, 11))
        scores = float(rng.uniform(-10.0, 10.0)) + rng.uniform(0.3, 3.0) * rng.standard_normal(size)
        picks = int(rng.integers(1, size + 1))
        order = [int(item) for item in rng.permutation(size)[:picks]]
        cases.append(
            Case(
                args=(scores, order),
                label=f"random scores #{index + 1}: {picks} of {size} items",
            )
        )
    return cases


def _ordered_diagnose(case: Case, expected, got) -> str | None:
    scores, order = np.asarray(case.args[0], dtype=np.float64), list(case.args[1])
    probabilities = softmax(scores)
    return _first_mistake(
        got,
        expected,
        [
            (np.log(expected), "that is the log of the probability; return the probability."),
            (
                np.prod(probabilities[order]),
                "you used the full softmax at every pick; a chosen item leaves the pool, "
                "so each later pick is normalized over the items still remaining.",
            ),
            (
                probabilities[order[0]],
                "you returned the first pick's probability; multiply in every later pick too.",
            ),
            (
                ordered_selection_reference(scores, order[::-1]),
                "you scored the picks in reverse order; the first item in `order` is picked first.",
            ),
            (
                ordered_selection_reference(scores, sorted(order)),
                "you scored the picks in increasing index order; `order` gives the order of "
                "picking, keep it as it is.",
            ),
        ],
    )


ORDERED_SELECTION_PROBABILITY = Exercise(
    id="01.ordered_selection_probability",
    title="The probability of an ordered selection (Plackett–Luce)",
    points=2,
    answer_name="ordered_selection_probability",
    kind="function",
    reference=ordered_selection_reference,
    visible_cases=(
        Case(args=(np.array([2.0, 1.0, 0.0]), [0]), label="one pick: cat"),
        Case(args=(np.array([2.0, 1.0, 0.0]), [0, 1, 2]), label="cat, then dog, then mat"),
        Case(args=(np.array([2.0, 1.0, 0.0]), [2, 0]), label="mat, then cat"),
        Case(args=(np.array([0.0, 0.0, 0.0, 0.0]), [3, 1, 0, 2]), label="four equal scores"),
        Case(
            args=(np.array([1.5, -0.5, 3.0, 0.0, 2.2, -1.0]), [2, 4, 0]),
            label="the top three of six, in order",
        ),
    ),
    hidden_cases=_ordered_hidden,
    rtol=1e-7,
    atol=1e-12,
    diagnose=_ordered_diagnose,
    hints=(
        "Picking without replacement: each pick is a softmax over the items still "
        "available, and the probability of the whole order is the product of the picks' "
        "probabilities.",
        "Keep track of which items remain (a boolean mask works); for each item of `order` "
        "in turn, multiply in its probability among the remaining items, then remove it.",
    ),
)


EXERCISES = [SOFTMAX, CANDIDATE_PROBABILITY, ORDERED_SELECTION_PROBABILITY]
