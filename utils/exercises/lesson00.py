"""Lesson 00 (Start here): two warm-up exercises that show how checks work.

The notebook defines the same scores as `WARMUP_SCORES`, so the value
exercise compares the learner's number with the mean of these. The scores
are chosen so that no usual slip gives the mean too (the sum, the median,
the mean of the first two or three, the sum divided by a wrong count, the
mean of the absolute values all differ). The check compares about 12
significant digits, so a rounded number typed by hand fails and says so
(an exact one, 0.8125, cannot be told from a computed one).
"""

from __future__ import annotations

import numpy as np

from utils.exercises._matching import first_matching_mistake
from utils.exercises._spec import Case, Exercise

# The scores the lesson's notebook shows for four candidate next tokens.
WARMUP_TOKENS = ("cat", "dog", "car", "the")
WARMUP_SCORES = np.array([2.0, 1.5, -0.6, 0.35])


def _mean_score() -> float:
    return float(np.mean(WARMUP_SCORES))


def _diagnose_mean_score(case: Case, expected, got) -> str | None:
    scores = WARMUP_SCORES
    mistakes = [
        (scores.sum(), "that is the sum of the scores; the mean divides it by their number."),
        (np.median(scores), "that is the median (the middle score); the mean is the average."),
        (scores.max(), "that is the highest score; the mean is the average of all of them."),
        (
            np.mean(np.abs(scores)),
            "that is the mean of the absolute values; average the scores themselves, "
            "negative ones included.",
        ),
    ]
    mistakes += [
        (
            scores.sum() / count,
            f"that is the sum divided by {count}; divide by the number of scores, "
            f"{scores.size} (len(scores), or let NumPy count).",
        )
        for count in range(2, scores.size + 2)
        if count != scores.size
    ]
    mistakes += [
        (
            scores[:count].mean(),
            f"that is the mean of the first {count} scores only; average all {scores.size}.",
        )
        for count in range(2, scores.size)
    ]
    mistakes.append(
        (
            np.mean(np.exp(scores)),
            "that is the mean of exp(scores); the exercise asks for the mean of the scores.",
        )
    )
    return first_matching_mistake(got, expected, mistakes, rtol=1e-12, atol=0.0, unique=True)


def scores_above(scores, threshold):
    """Indices of the scores strictly greater than `threshold`, in increasing order.

    >>> scores_above(np.array([2.0, 1.5, -0.5, 1.0]), 1.0)
    array([0, 1])
    """
    return np.flatnonzero(np.asarray(scores) > threshold)


def _diagnose_scores_above(case: Case, expected, got) -> str | None:
    scores, threshold = case.args
    got = np.asarray(got)
    same_set = got.shape == expected.shape and np.array_equal(np.sort(got), expected)
    if same_set and not np.array_equal(got, expected):
        return "the right indices, but not in increasing order; return them sorted."
    at_least = np.flatnonzero(np.asarray(scores) >= threshold)
    if np.array_equal(got, at_least):
        return (
            "the result includes tokens whose score equals the threshold; "
            "'above' means strictly greater (>), not greater or equal (>=)."
        )
    return None


def _hidden_scores_above(rng: np.random.Generator) -> list[Case]:
    cases = []
    for _ in range(6):
        size = int(rng.integers(1, 40))
        scores = np.round(rng.normal(0.0, 3.0, size=size), 1)
        # A threshold equal to one of the scores tests "strictly above".
        threshold = float(scores[rng.integers(size)]) if rng.random() < 0.5 else 0.0
        cases.append(Case(args=(scores, threshold)))
    return cases


EXERCISES = [
    Exercise(
        id="00.mean_score",
        title="The mean of the scores",
        points=1,
        answer_name="mean_score",
        kind="value",
        reference=_mean_score,
        # Computed by NumPy: the same float64 value to the last bits; typed digits fail.
        rtol=1e-12,
        atol=0.0,
        diagnose=_diagnose_mean_score,
        hints=(
            "The mean is the total of the scores divided by how many there are; NumPy "
            "computes it for a whole array in one call, without a loop.",
            "Apply NumPy's mean to the `scores` array defined above (the function or the "
            "array's method) and keep the result as it comes: the check compares far more "
            "digits than anyone types by hand.",
        ),
    ),
    Exercise(
        id="00.scores_above",
        title="Which tokens score above a threshold",
        points=1,
        answer_name="scores_above",
        kind="function",
        reference=scores_above,
        visible_cases=(
            Case(args=(WARMUP_SCORES, 1.0), label="the lesson's four scores, threshold 1.0"),
            Case(args=(np.array([0.3, -2.0, 0.7]), 5.0), label="no score above the threshold"),
            Case(args=(np.array([-1.0, 4.0, 4.0, 2.5]), -3.0), label="every score above"),
            Case(args=(np.array([1.0, 1.0, 2.0]), 1.0), label="scores equal to the threshold"),
        ),
        hidden_cases=_hidden_scores_above,
        diagnose=_diagnose_scores_above,
        hints=(
            "Comparing an array with a number gives one True/False per score: which "
            "tokens are strictly above the threshold.",
            "You need the positions of the True entries, not the mask itself: NumPy has a "
            "function that turns a mask into the indices where it is True, in increasing "
            "order.",
        ),
        partial_credit=True,
    ),
]


def _top_token(scores):
    return np.argmax(scores)


# Lesson 00 shows the four statuses of `check` live on versions of this
# function that it writes itself; it is a demonstration, never graded.
DEMOS = [
    Exercise(
        id="00.demo_top_token",
        title="Demo: the position of the highest score",
        points=1,
        answer_name="top_token",
        kind="function",
        reference=_top_token,
        visible_cases=(
            Case(args=(WARMUP_SCORES,), label="the lesson's four scores"),
            Case(args=(np.array([-3.0, -1.0, -2.0]),), label="all scores negative"),
            Case(args=(np.array([1.0, 3.0, 3.0]),), label="a tie: the first one wins"),
        ),
        hints=(
            "The answer is a position in the array, not the highest score itself.",
            "NumPy has a function that returns the position of the largest entry (the "
            "first one on a tie).",
        ),
    ),
]
