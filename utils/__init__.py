"""The shared package of the next-token probability course.

Every notebook imports from here: the reference implementations, plots,
widgets, the tiny language model and `check(...)`.
"""

from utils.checks import check
from utils.probability import entropy, log_softmax, logsumexp, naive_softmax, softmax

__all__ = ["check", "entropy", "log_softmax", "logsumexp", "naive_softmax", "softmax"]
