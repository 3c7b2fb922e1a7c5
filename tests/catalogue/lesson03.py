"""Lesson 03: temperature, entropy, and two predictions."""

from tests.catalogue import Right, Wrong

WRONG = [
    # --------------------------------------------------- 03.apply_temperature
    Wrong(
        "03.apply_temperature",
        "multiplies by the temperature",
        """
import utils
def apply_temperature(logits, temperature):
    return utils.softmax(logits * temperature)
""",
        diagnosis="you multiplied the scores by the temperature",
    ),
    Wrong(
        "03.apply_temperature",
        "ignores the temperature",
        """
import utils
def apply_temperature(logits, temperature):
    return utils.softmax(logits)
""",
        diagnosis="does not change with the temperature",
    ),
    Wrong(
        "03.apply_temperature",
        "adds the temperature (a shift)",
        """
import utils
def apply_temperature(logits, temperature):
    return utils.softmax(logits + temperature)
""",
        diagnosis="does not change with the temperature",
    ),
    Wrong(
        "03.apply_temperature",
        "returns the scaled scores",
        """
def apply_temperature(logits, temperature):
    return logits / temperature
""",
        diagnosis="you returned the scaled scores z / T",
    ),
    Wrong(
        "03.apply_temperature",
        "the naive softmax of z / T",
        """
import numpy as np
def apply_temperature(logits, temperature):
    exponentials = np.exp(logits / temperature)
    return exponentials / exponentials.sum(axis=-1, keepdims=True)
""",
        diagnosis="exp overflowed to inf",
    ),
    Wrong(
        "03.apply_temperature",
        "p ** (1 / T) without renormalizing",
        """
import utils
def apply_temperature(logits, temperature):
    return utils.softmax(logits) ** (1.0 / temperature)
""",
        diagnosis="did not renormalize",
    ),
    Wrong(
        "03.apply_temperature",
        "normalizes over the whole batch",
        """
import numpy as np
def apply_temperature(logits, temperature):
    scaled = logits / temperature
    exponentials = np.exp(scaled - scaled.max())
    return exponentials / exponentials.sum()
""",
        diagnosis="is proportional to the right distribution",
    ),
    # ------------------------------------------------------------ 03.entropy
    Wrong(
        "03.entropy",
        "0 * log(0) left as nan",
        """
import numpy as np
def entropy(probs):
    return -np.sum(probs * np.log(probs), axis=-1)
""",
        diagnosis="0 * log(0) gave nan",
    ),
    Wrong(
        "03.entropy",
        "log2: bits instead of nats",
        """
import numpy as np
def entropy(probs):
    safe = np.where(probs > 0, probs, 1.0)
    return -np.sum(probs * np.log2(safe), axis=-1)
""",
        diagnosis="that is the entropy in bits",
    ),
    Wrong(
        "03.entropy",
        "forgets the minus sign",
        """
import numpy as np
def entropy(probs):
    safe = np.where(probs > 0, probs, 1.0)
    return np.sum(probs * np.log(safe), axis=-1)
""",
        diagnosis="the sign is flipped",
    ),
    Wrong(
        "03.entropy",
        "sums over the whole batch",
        """
import numpy as np
def entropy(probs):
    safe = np.where(probs > 0, probs, 1.0)
    return -np.sum(probs * np.log(safe))
""",
        diagnosis="you summed over the whole array",
    ),
    Wrong(
        "03.entropy",
        "the mean of -p log p instead of the sum",
        """
import numpy as np
def entropy(probs):
    safe = np.where(probs > 0, probs, 1.0)
    return -np.mean(probs * np.log(safe), axis=-1)
""",
        diagnosis="you averaged the terms",
    ),
    Wrong(
        "03.entropy",
        "sums along axis 0",
        """
import numpy as np
def entropy(probs):
    safe = np.where(probs > 0, probs, 1.0)
    return -np.sum(probs * np.log(safe), axis=0)
""",
        diagnosis="you summed along axis 0",
    ),
    Wrong(
        "03.entropy",
        "-sum(log p) without the weights",
        """
import numpy as np
def entropy(probs):
    safe = np.where(probs > 0, probs, 1.0)
    return -np.sum(np.log(safe), axis=-1)
""",
        diagnosis=None,
    ),
    # ------------------------------------------------------ 03.predict_shift
    Wrong(
        "03.predict_shift",
        "larger scores, more confident",
        "predict_shift = 1.0",
        diagnosis="larger scores do not mean more confidence",
    ),
    Wrong(
        "03.predict_shift",
        "the shift flattens to uniform",
        "predict_shift = 0.333",
        diagnosis="the shift does not flatten the distribution",
    ),
    Wrong(
        "03.predict_shift",
        "rounded too far",
        "predict_shift = 0.67",
        diagnosis="too coarse here",
    ),
    # -------------------------------------------------- 03.predict_tie_limit
    Wrong(
        "03.predict_tie_limit",
        "the top token takes everything",
        "predict_tie_limit = 1.0",
        diagnosis="two tokens share it",
    ),
    Wrong(
        "03.predict_tie_limit",
        "uniform over the three",
        "predict_tie_limit = 1 / 3",
        diagnosis="a uniform distribution is the limit T -> infinity",
    ),
    Wrong(
        "03.predict_tie_limit",
        "all mass vanishes",
        "predict_tie_limit = 0.0",
        diagnosis="this token has a top score",
    ),
    # ------------------------------------------ 03.temperature_for_confidence
    Wrong(
        "03.temperature_for_confidence",
        "leaves out the third token",
        """
import numpy as np
# 1 / (1 + exp(-1/T)) = 0.9, as if only cat and dog were there
temperature_for_confidence = float(1 / np.log(9))
""",
        diagnosis="against dog alone",
    ),
    Wrong(
        "03.temperature_for_confidence",
        "returns the factor 1/T",
        """
import numpy as np
x = (-1 + np.sqrt(1 + 4 * (1 / 0.9 - 1))) / 2
temperature_for_confidence = float(-np.log(x))
""",
        diagnosis="the factor 1/T",
    ),
    Wrong(
        "03.temperature_for_confidence",
        "typed the value, rounded",
        "temperature_for_confidence = 0.436",
        diagnosis="rounded to 3 significant digits",
    ),
    Wrong(
        "03.temperature_for_confidence",
        "float32 work cast to a Python float",
        """
import numpy as np
import utils
scores = np.array([2.0, 1.0, 0.0], dtype=np.float32)
low, high = np.float32(0.01), np.float32(1.0)
for _ in range(60):
    middle = (low + high) / np.float32(2)
    if utils.softmax(scores, temperature=float(middle))[0] > 0.9:
        low = middle
    else:
        high = middle
temperature_for_confidence = float(middle)
""",
        diagnosis="significant digits, not the 8 the check needs",
    ),
    Wrong(
        "03.temperature_for_confidence",
        "a search that stops early (xtol=1e-6)",
        """
import numpy as np
import scipy.optimize
import utils
def excess(temperature):
    return utils.softmax(np.array([2.0, 1.0, 0.0]), temperature=temperature)[0] - 0.9
temperature_for_confidence = scipy.optimize.brentq(excess, 0.05, 1.0, xtol=1e-6)
""",
        diagnosis="significant digits, not the 8 the check needs",
    ),
    Wrong(
        "03.temperature_for_confidence",
        "a guess from the table",
        "temperature_for_confidence = 0.5",
        diagnosis="a lower temperature is needed",
    ),
    Wrong(
        "03.temperature_for_confidence",
        "bisection that keeps the wrong half",
        """
import numpy as np
import utils
low, high = 0.01, 1.0
for _ in range(60):
    middle = (low + high) / 2
    if utils.softmax(np.array([2.0, 1.0, 0.0]), temperature=middle)[0] > 0.9:
        high = middle
    else:
        low = middle
temperature_for_confidence = (low + high) / 2
""",
        diagnosis="a lower temperature is needed",
    ),
    Wrong(
        "03.temperature_for_confidence",
        "a negative root",
        """
import numpy as np
x = (-1 - np.sqrt(1 + 4 * (1 / 0.9 - 1))) / 2
temperature_for_confidence = float(-1 / np.log(abs(x)))
""",
        diagnosis="a temperature must be positive",
    ),
    # ------------------------------------------------------ 03.predict_peaked
    Wrong(
        "03.predict_peaked", "only the order matters", 'predict_peaked = "a"', diagnosis="not (a)"
    ),
    Wrong(
        "03.predict_peaked",
        "divides by the sum of the scores",
        'predict_peaked = "b"',
        diagnosis="not (b)",
    ),
    Wrong(
        "03.predict_peaked",
        "ratios in proportion to the gaps",
        'predict_peaked = "d"',
        diagnosis="not (d)",
    ),
    Wrong(
        "03.predict_peaked",
        "a higher level means more peaked",
        'predict_peaked = "e"',
        diagnosis="not (e)",
    ),
    Wrong(
        "03.predict_peaked",
        "never exactly zero forgotten",
        'predict_peaked = "f"',
        diagnosis="not (f)",
    ),
    Wrong(
        "03.predict_peaked",
        "the top probability instead of a letter",
        "predict_peaked = 0.99",
        diagnosis="expected a string",
    ),
    Wrong(
        "03.predict_peaked",
        "the letter with its parentheses",
        'predict_peaked = "(c)"',
        diagnosis="letter alone",
    ),
]

RIGHT = [
    Right(
        "03.apply_temperature",
        "utils.softmax of z / T",
        """
import utils
def apply_temperature(logits, temperature):
    return utils.softmax(logits / temperature)
""",
    ),
    Right(
        "03.apply_temperature",
        "utils.softmax's own temperature argument",
        """
import utils
def apply_temperature(logits, temperature):
    return utils.softmax(logits, temperature=temperature)
""",
    ),
    Right(
        "03.apply_temperature",
        "a stable softmax written out",
        """
import numpy as np
def apply_temperature(logits, temperature):
    scaled = logits / temperature
    exponentials = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
    return exponentials / exponentials.sum(axis=-1, keepdims=True)
""",
    ),
    Right(
        "03.apply_temperature",
        "p ** (1 / T), renormalized, in log space",
        """
import numpy as np
import utils
def apply_temperature(logits, temperature):
    powered = utils.log_softmax(logits) / temperature
    weights = np.exp(powered - powered.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True)
""",
    ),
    Right(
        "03.apply_temperature",
        "computed in float32",
        """
import numpy as np
def apply_temperature(logits, temperature):
    scaled = np.float32(logits) / np.float32(temperature)
    exponentials = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
    return exponentials / exponentials.sum(axis=-1, keepdims=True)
""",
    ),
    Right(
        "03.entropy",
        "np.where before the log",
        """
import numpy as np
def entropy(probs):
    safe = np.where(probs > 0, probs, 1.0)
    return -np.sum(probs * np.log(safe), axis=-1)
""",
    ),
    Right(
        "03.entropy",
        "scipy.special.entr",
        """
import scipy.special
def entropy(probs):
    return scipy.special.entr(probs).sum(axis=-1)
""",
    ),
    Right(
        "03.entropy",
        "scipy.stats.entropy along the last axis",
        """
import scipy.stats
def entropy(probs):
    return scipy.stats.entropy(probs, axis=-1)
""",
    ),
    Right(
        "03.entropy",
        "np.nansum of p log p (warns, still right)",
        """
import numpy as np
def entropy(probs):
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.nansum(probs * np.log(probs), axis=-1)
""",
    ),
    Right("03.predict_shift", "three decimals", "predict_shift = 0.665"),
    Right(
        "03.predict_shift",
        "computed",
        """
import numpy as np
predict_shift = float(np.exp(2) / (np.exp(2) + np.exp(1) + np.exp(0)))
""",
    ),
    Right("03.predict_tie_limit", "one half", "predict_tie_limit = 0.5"),
    Right("03.predict_tie_limit", "as a fraction", "predict_tie_limit = 1 / 2"),
    Right("03.predict_peaked", "the letter", 'predict_peaked = "c"'),
    Right("03.predict_peaked", "the letter in capitals with spaces", 'predict_peaked = " C "'),
    Right(
        "03.temperature_for_confidence",
        "the quadratic in x = exp(-1/T)",
        """
import numpy as np
x = (-1 + np.sqrt(1 + 4 * (1 / 0.9 - 1))) / 2
temperature_for_confidence = float(-1 / np.log(x))
""",
    ),
    Right(
        "03.temperature_for_confidence",
        "bisection with utils.softmax",
        """
import numpy as np
import utils
low, high = 0.01, 1.0
for _ in range(60):
    middle = (low + high) / 2
    if utils.softmax(np.array([2.0, 1.0, 0.0]), temperature=middle)[0] > 0.9:
        low = middle
    else:
        high = middle
temperature_for_confidence = (low + high) / 2
""",
    ),
    Right(
        "03.temperature_for_confidence",
        "the quadratic in float32, kept as a float32",
        """
import numpy as np
one = np.float32(1.0)
x = (-one + np.sqrt(one + np.float32(4.0) * (one / np.float32(0.9) - one))) / np.float32(2.0)
temperature_for_confidence = -one / np.log(x)
""",
    ),
    Right(
        "03.temperature_for_confidence",
        "scipy.optimize.brentq",
        """
import numpy as np
import scipy.optimize
import utils
def excess(temperature):
    return utils.softmax(np.array([2.0, 1.0, 0.0]), temperature=temperature)[0] - 0.9
temperature_for_confidence = scipy.optimize.brentq(excess, 0.05, 1.0, xtol=1e-14)
""",
    ),
]
