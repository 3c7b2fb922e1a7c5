"""Lesson 02: stable softmax, logsumexp, log_softmax (every dtype, any axis)."""

from tests.catalogue import Right, Wrong

WRONG = [
    # ------------------------------------------------------ 02.stable_softmax
    Wrong(
        "02.stable_softmax",
        "the naive formula, no max-shift",
        """
import numpy as np
def stable_softmax(logits, axis=-1):
    exponentials = np.exp(logits)
    return exponentials / np.sum(exponentials, axis=axis, keepdims=True)
""",
        diagnosis="exp overflowed to inf",
    ),
    Wrong(
        "02.stable_softmax",
        "one global maximum for the whole array",
        """
import numpy as np
def stable_softmax(logits, axis=-1):
    exponentials = np.exp(logits - np.max(logits))
    return exponentials / np.sum(exponentials, axis=axis, keepdims=True)
""",
        diagnosis="you subtracted one maximum for the whole array",
    ),
    Wrong(
        "02.stable_softmax",
        "ignores the axis argument",
        """
import numpy as np
def stable_softmax(logits, axis=-1):
    exponentials = np.exp(logits - np.max(logits, axis=-1, keepdims=True))
    return exponentials / np.sum(exponentials, axis=-1, keepdims=True)
""",
        diagnosis="(wrong axis)",
    ),
    Wrong(
        "02.stable_softmax",
        "maximum without keepdims",
        """
import numpy as np
def stable_softmax(logits, axis=-1):
    exponentials = np.exp(logits - np.max(logits, axis=axis))
    return exponentials / np.sum(exponentials, axis=axis, keepdims=True)
""",
        diagnosis="keepdims=True keeps it",
    ),
    Wrong(
        "02.stable_softmax",
        "converts to float64",
        """
import numpy as np
def stable_softmax(logits, axis=-1):
    logits = np.asarray(logits, dtype=float)
    exponentials = np.exp(logits - np.max(logits, axis=axis, keepdims=True))
    return exponentials / np.sum(exponentials, axis=axis, keepdims=True)
""",
        diagnosis="has dtype float64",
    ),
    Wrong(
        "02.stable_softmax",
        "shifts by the minimum",
        """
import numpy as np
def stable_softmax(logits, axis=-1):
    finite = np.where(np.isfinite(logits), logits, np.inf)
    exponentials = np.exp(logits - np.min(finite, axis=axis, keepdims=True))
    return exponentials / np.sum(exponentials, axis=axis, keepdims=True)
""",
        diagnosis="exp overflowed to inf",
    ),
    Wrong(
        "02.stable_softmax",
        "shifts by the mean",
        """
import numpy as np
def stable_softmax(logits, axis=-1):
    finite = np.where(np.isinf(logits), 0, logits)
    exponentials = np.exp(logits - np.mean(finite, axis=axis, keepdims=True))
    return exponentials / exponentials.sum(axis=axis, keepdims=True)
""",
        diagnosis="exp overflowed to inf",
    ),
    Wrong(
        "02.stable_softmax",
        "forgets to normalize",
        """
import numpy as np
def stable_softmax(logits, axis=-1):
    return np.exp(logits - np.max(logits, axis=axis, keepdims=True))
""",
        diagnosis="without normalizing",
    ),
    Wrong(
        "02.stable_softmax",
        "subtracts the maximum in place",
        """
import numpy as np
def stable_softmax(logits, axis=-1):
    logits -= np.max(logits, axis=axis, keepdims=True)
    exponentials = np.exp(logits)
    return exponentials / np.sum(exponentials, axis=axis, keepdims=True)
""",
        diagnosis="changed its input in place",
    ),
    Wrong(
        "02.stable_softmax",
        "a one-hot of the maximum",
        """
import numpy as np
def stable_softmax(logits, axis=-1):
    return (logits == np.max(logits, axis=axis, keepdims=True)).astype(logits.dtype)
""",
        diagnosis=None,
    ),
    # ----------------------------------------------------------- 02.logsumexp
    Wrong(
        "02.logsumexp",
        "forgets to add the maximum back",
        """
import numpy as np
def logsumexp(logits, axis=-1):
    row_max = np.max(logits, axis=axis, keepdims=True)
    return np.log(np.sum(np.exp(logits - row_max), axis=axis))
""",
        diagnosis="did not add the maximum m back",
    ),
    Wrong(
        "02.logsumexp",
        "the naive formula",
        """
import numpy as np
def logsumexp(logits, axis=-1):
    return np.log(np.sum(np.exp(logits), axis=axis))
""",
        diagnosis="exp overflowed to inf",
    ),
    Wrong(
        "02.logsumexp",
        "log2 instead of the natural log",
        """
import numpy as np
def logsumexp(logits, axis=-1):
    row_max = np.max(logits, axis=axis, keepdims=True)
    sums = np.sum(np.exp(logits - row_max), axis=axis)
    return np.squeeze(row_max, axis=axis) + np.log2(sums)
""",
        diagnosis="use the natural logarithm",
    ),
    Wrong(
        "02.logsumexp",
        "shifts by the mean",
        """
import numpy as np
def logsumexp(logits, axis=-1):
    m = np.mean(np.where(np.isinf(logits), 0, logits), axis=axis, keepdims=True)
    return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(logits - m), axis=axis))
""",
        diagnosis="exp overflowed to inf",
    ),
    Wrong(
        "02.logsumexp",
        "subtracts the log instead of adding it",
        """
import numpy as np
def logsumexp(logits, axis=-1):
    row_max = np.max(logits, axis=axis, keepdims=True)
    sums = np.sum(np.exp(logits - row_max), axis=axis)
    return np.squeeze(row_max, axis=axis) - np.log(sums)
""",
        diagnosis="the sign is wrong",
    ),
    Wrong(
        "02.logsumexp",
        "one global maximum",
        """
import numpy as np
def logsumexp(logits, axis=-1):
    m = np.max(logits)
    return m + np.log(np.sum(np.exp(logits - m), axis=axis))
""",
        diagnosis="you subtracted one maximum for the whole array",
    ),
    Wrong(
        "02.logsumexp",
        "keeps the reduced axis",
        """
import numpy as np
def logsumexp(logits, axis=-1):
    row_max = np.max(logits, axis=axis, keepdims=True)
    return row_max + np.log(np.sum(np.exp(logits - row_max), axis=axis, keepdims=True))
""",
        diagnosis="the result is an array of shape (1,); expected a single number",
    ),
    Wrong(
        "02.logsumexp",
        "ignores the axis argument",
        """
import numpy as np
def logsumexp(logits, axis=-1):
    row_max = np.max(logits, axis=-1, keepdims=True)
    sums = np.sum(np.exp(logits - row_max), axis=-1)
    return np.squeeze(row_max, axis=-1) + np.log(sums)
""",
        diagnosis="what you get along axis 1",
    ),
    Wrong(
        "02.logsumexp",
        "converts to float64",
        """
import numpy as np
def logsumexp(logits, axis=-1):
    logits = logits.astype(np.float64)
    row_max = np.max(logits, axis=axis, keepdims=True)
    sums = np.sum(np.exp(logits - row_max), axis=axis)
    return np.squeeze(row_max, axis=axis) + np.log(sums)
""",
        diagnosis="has dtype float64",
    ),
    # --------------------------------------------------------- 02.log_softmax
    Wrong(
        "02.log_softmax",
        "log of the (stable) softmax",
        """
import numpy as np
def log_softmax(logits, axis=-1):
    shifted = logits - np.max(logits, axis=axis, keepdims=True)
    probabilities = np.exp(shifted) / np.sum(np.exp(shifted), axis=axis, keepdims=True)
    return np.log(probabilities)
""",
        diagnosis="log(0) gave -inf",
    ),
    Wrong(
        "02.log_softmax",
        "stops after subtracting the maximum",
        """
import numpy as np
def log_softmax(logits, axis=-1):
    return logits - np.max(logits, axis=axis, keepdims=True)
""",
        diagnosis="you returned z - max(z) and stopped",
    ),
    Wrong(
        "02.log_softmax",
        "returns probabilities",
        """
import numpy as np
def log_softmax(logits, axis=-1):
    shifted = np.exp(logits - np.max(logits, axis=axis, keepdims=True))
    return shifted / np.sum(shifted, axis=axis, keepdims=True)
""",
        diagnosis="you returned probabilities",
    ),
    Wrong(
        "02.log_softmax",
        "the naive normalizer",
        """
import numpy as np
def log_softmax(logits, axis=-1):
    return logits - np.log(np.sum(np.exp(logits), axis=axis, keepdims=True))
""",
        diagnosis="exp overflowed to inf",
    ),
    Wrong(
        "02.log_softmax",
        "flipped sign",
        """
import numpy as np
def log_softmax(logits, axis=-1):
    shifted = logits - np.max(logits, axis=axis, keepdims=True)
    return np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True)) - shifted
""",
        diagnosis="the sign is flipped",
    ),
    Wrong(
        "02.log_softmax",
        "log2 of the normalizer",
        """
import numpy as np
def log_softmax(logits, axis=-1):
    shifted = logits - np.max(logits, axis=axis, keepdims=True)
    return shifted - np.log2(np.sum(np.exp(shifted), axis=axis, keepdims=True))
""",
        diagnosis="natural logarithm (np.log) for the normalizer",
    ),
    Wrong(
        "02.log_softmax",
        "replaces masked -inf scores by a large negative number",
        """
import numpy as np
def log_softmax(logits, axis=-1):
    logits = np.where(np.isneginf(logits), logits.dtype.type(-1e4), logits)
    shifted = logits - np.max(logits, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
""",
        diagnosis="the expected value is infinite",
    ),
    Wrong(
        "02.log_softmax",
        "normalizer without keepdims",
        """
import numpy as np
def log_softmax(logits, axis=-1):
    shifted = logits - np.max(logits, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis))
""",
        diagnosis="keepdims=True keeps it",
    ),
]

RIGHT = [
    Right(
        "02.stable_softmax",
        "max-shift with keepdims",
        """
import numpy as np
def stable_softmax(logits, axis=-1):
    exponentials = np.exp(logits - np.max(logits, axis=axis, keepdims=True))
    return exponentials / np.sum(exponentials, axis=axis, keepdims=True)
""",
    ),
    Right(
        "02.stable_softmax",
        "np.expand_dims instead of keepdims",
        """
import numpy as np
def stable_softmax(logits, axis=-1):
    shifted = logits - np.expand_dims(np.max(logits, axis=axis), axis)
    exponentials = np.exp(shifted)
    return exponentials / np.expand_dims(exponentials.sum(axis=axis), axis)
""",
    ),
    Right(
        "02.stable_softmax",
        "moves the axis last, then works on rows",
        """
import numpy as np
def stable_softmax(logits, axis=-1):
    moved = np.moveaxis(logits, axis, -1)
    exponentials = np.exp(moved - moved.max(axis=-1)[..., None])
    result = exponentials / exponentials.sum(axis=-1)[..., None]
    return np.moveaxis(result, -1, axis)
""",
    ),
    Right(
        "02.stable_softmax",
        "scipy.special.softmax",
        """
import scipy.special
def stable_softmax(logits, axis=-1):
    return scipy.special.softmax(logits, axis=axis)
""",
    ),
    Right(
        "02.stable_softmax",
        "exp(z - logsumexp(z))",
        """
import scipy.special
import numpy as np
def stable_softmax(logits, axis=-1):
    return np.exp(logits - scipy.special.logsumexp(logits, axis=axis, keepdims=True))
""",
    ),
    Right(
        "02.logsumexp",
        "max-shift, squeeze the maximum",
        """
import numpy as np
def logsumexp(logits, axis=-1):
    row_max = np.max(logits, axis=axis, keepdims=True)
    sums = np.sum(np.exp(logits - row_max), axis=axis)
    return np.squeeze(row_max, axis=axis) + np.log(sums)
""",
    ),
    Right(
        "02.logsumexp",
        "the maximum twice, with and without keepdims",
        """
import numpy as np
def logsumexp(logits, axis=-1):
    shifted = logits - logits.max(axis=axis, keepdims=True)
    return logits.max(axis=axis) + np.log(np.exp(shifted).sum(axis=axis))
""",
    ),
    Right(
        "02.logsumexp",
        "scipy.special.logsumexp",
        """
import scipy.special
def logsumexp(logits, axis=-1):
    return scipy.special.logsumexp(logits, axis=axis)
""",
    ),
    Right(
        "02.log_softmax",
        "z - logsumexp(z), the docstring's formula",
        """
import numpy as np
def log_softmax(logits, axis=-1):
    row_max = np.max(logits, axis=axis, keepdims=True)
    log_normalizer = row_max + np.log(np.sum(np.exp(logits - row_max), axis=axis, keepdims=True))
    return logits - log_normalizer
""",
    ),
    Right(
        "02.log_softmax",
        "shift first, then subtract the log of the sum",
        """
import numpy as np
def log_softmax(logits, axis=-1):
    shifted = logits - np.max(logits, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
""",
    ),
    Right(
        "02.log_softmax",
        "scipy.special.log_softmax",
        """
import scipy.special
def log_softmax(logits, axis=-1):
    return scipy.special.log_softmax(logits, axis=axis)
""",
    ),
    Right(
        "02.log_softmax",
        "z - scipy's logsumexp with keepdims",
        """
import scipy.special
def log_softmax(logits, axis=-1):
    return logits - scipy.special.logsumexp(logits, axis=axis, keepdims=True)
""",
    ),
]
