"""Lesson 00: the warm-up exercises (mean_score, scores_above)."""

from tests.catalogue import Right, Wrong

_SCORES = """
import numpy as np
scores = np.array([2.0, 1.5, -0.6, 0.35])
"""

WRONG = [
    Wrong(
        "00.mean_score",
        "typed the mean by hand, rounded",
        "mean_score = 0.81",
        diagnosis="rounded to 2 significant digits",
    ),
    Wrong(
        "00.mean_score",
        "typed more digits, still rounded",
        "mean_score = 0.813",
        diagnosis="rounded to 3 significant digits",
    ),
    Wrong(
        "00.mean_score",
        "the mean of the first two scores",
        _SCORES + "mean_score = scores[:2].mean()",
        diagnosis="mean of the first 2 scores",
    ),
    Wrong(
        "00.mean_score",
        "the mean of the first three scores",
        _SCORES + "mean_score = scores[:3].mean()",
        diagnosis="mean of the first 3 scores",
    ),
    Wrong(
        "00.mean_score",
        "the value the old data gave",
        "mean_score = 1.0",
        diagnosis=None,
    ),
    Wrong(
        "00.mean_score",
        "the sum instead of the mean",
        _SCORES + "mean_score = scores.sum()",
        diagnosis="that is the sum of the scores",
    ),
    Wrong(
        "00.mean_score",
        "divided by three",
        _SCORES + "mean_score = scores.sum() / 3",
        diagnosis="sum divided by 3",
    ),
    Wrong(
        "00.mean_score",
        "the median",
        _SCORES + "mean_score = np.median(scores)",
        diagnosis="median",
    ),
    Wrong(
        "00.scores_above",
        "greater or equal instead of strictly greater",
        """
import numpy as np
def scores_above(scores, threshold):
    return np.flatnonzero(scores >= threshold)
""",
        diagnosis="strictly greater (>)",
    ),
    Wrong(
        "00.scores_above",
        "returns the mask, not the positions",
        """
def scores_above(scores, threshold):
    return scores > threshold
""",
        diagnosis="holds True/False values",
    ),
    Wrong(
        "00.scores_above",
        "returns the scores themselves",
        """
def scores_above(scores, threshold):
    return scores[scores > threshold]
""",
        diagnosis="holds float64 values",
    ),
    Wrong(
        "00.scores_above",
        "positions in decreasing order",
        """
import numpy as np
def scores_above(scores, threshold):
    return np.flatnonzero(scores > threshold)[::-1]
""",
        diagnosis="not in increasing order",
    ),
    Wrong(
        "00.scores_above",
        "sorted by score instead of by position",
        """
import numpy as np
def scores_above(scores, threshold):
    order = np.argsort(-scores)
    return order[scores[order] > threshold]
""",
        diagnosis="not in increasing order",
    ),
    Wrong(
        "00.scores_above",
        "np.where without [0]: a tuple",
        """
import numpy as np
def scores_above(scores, threshold):
    return np.where(scores > threshold)
""",
        diagnosis="a tuple of 1 item",
    ),
    Wrong(
        "00.scores_above",
        "1-based positions",
        """
import numpy as np
def scores_above(scores, threshold):
    return np.nonzero(scores > threshold)[0] + 1
""",
        diagnosis="1 too high (off by one)",
    ),
    Wrong(
        "00.scores_above",
        "sorts the caller's scores in place first",
        """
import numpy as np
def scores_above(scores, threshold):
    scores.sort()
    return np.nonzero(scores > threshold)[0]
""",
        diagnosis="changed its input in place",
    ),
    Wrong(
        "00.mean_score",
        "the mean of the absolute values",
        _SCORES + "mean_score = np.mean(np.abs(scores))",
        diagnosis="mean of the absolute values",
    ),
    Wrong(
        "00.mean_score",
        "an int typed by hand",
        "mean_score = 1",
        diagnosis=None,
    ),
    Wrong(
        "00.scores_above",
        "an endless loop",
        """
def scores_above(scores, threshold):
    index, found = 0, []
    while index < len(scores):
        if scores[index] > threshold:
            found.append(index)
        # forgot: index += 1
    return found
""",
        diagnosis="the time limit per case",
    ),
]

RIGHT = [
    Right("00.mean_score", "the array's mean method", _SCORES + "mean_score = scores.mean()"),
    Right("00.mean_score", "np.mean", _SCORES + "mean_score = np.mean(scores)"),
    Right(
        "00.mean_score",
        "sum divided by the length",
        _SCORES + "mean_score = sum(scores) / len(scores)",
    ),
    Right(
        "00.scores_above",
        "np.flatnonzero",
        """
import numpy as np
def scores_above(scores, threshold):
    return np.flatnonzero(scores > threshold)
""",
    ),
    Right(
        "00.scores_above",
        "np.where(...)[0]",
        """
import numpy as np
def scores_above(scores, threshold):
    return np.where(scores > threshold)[0]
""",
    ),
    Right(
        "00.scores_above",
        "a list comprehension with enumerate",
        """
def scores_above(scores, threshold):
    return [index for index, score in enumerate(scores) if score > threshold]
""",
    ),
]
