"""Lesson 01: softmax, the probability of a candidate, ordered selections."""

from tests.catalogue import Right, Wrong

_CANDIDATES = """
import numpy as np
import utils
vocabulary = ["mat", "rug", "floor", "sofa", "moon", "ran"]
vocabulary_logits = np.array([3.0, 2.0, 2.0, 1.0, 0.0, -2.0])
"""

WRONG = [
    # ------------------------------------------------------------ 01.softmax
    Wrong(
        "01.softmax",
        "normalizes over axis=1 (right for 2-d, wrong for 3-d)",
        """
import numpy as np
def softmax(logits):
    exponentials = np.exp(logits)
    if exponentials.ndim == 1:
        return exponentials / exponentials.sum()
    return exponentials / exponentials.sum(axis=1, keepdims=True)
""",
        diagnosis="you normalized along axis 1",
    ),
    Wrong(
        "01.softmax",
        "normalizes over axis 0",
        """
import numpy as np
def softmax(logits):
    exponentials = np.exp(logits)
    return exponentials / exponentials.sum(axis=0, keepdims=True)
""",
        diagnosis="you normalized along axis 0",
    ),
    Wrong(
        "01.softmax",
        "sums without keepdims",
        """
import numpy as np
def softmax(logits):
    exponentials = np.exp(logits)
    return exponentials / exponentials.sum(axis=-1)
""",
        diagnosis="keepdims=True keeps it",
    ),
    Wrong(
        "01.softmax",
        "no exp: divides the scores by their sum",
        """
import numpy as np
def softmax(logits):
    return logits / np.sum(logits, axis=-1, keepdims=True)
""",
        diagnosis="without exponentiating",
    ),
    Wrong(
        "01.softmax",
        "forgets to normalize",
        """
import numpy as np
def softmax(logits):
    return np.exp(logits)
""",
        diagnosis="you returned exp(z) itself",
    ),
    Wrong(
        "01.softmax",
        "one sum over the whole batch",
        """
import numpy as np
def softmax(logits):
    exponentials = np.exp(logits)
    return exponentials / np.sum(exponentials)
""",
        diagnosis="you normalized over the whole array",
    ),
    Wrong(
        "01.softmax",
        "returns log-probabilities",
        """
import numpy as np
def softmax(logits):
    return logits - np.log(np.sum(np.exp(logits), axis=-1, keepdims=True))
""",
        diagnosis="negative probabilities",
    ),
    Wrong(
        "01.softmax",
        "squares instead of exponentiating",
        """
import numpy as np
def softmax(logits):
    squares = logits ** 2
    return squares / squares.sum(axis=-1, keepdims=True)
""",
        diagnosis=None,
    ),
    Wrong(
        "01.softmax",
        "computed in float16",
        """
import numpy as np
def softmax(logits):
    exponentials = np.exp(np.asarray(logits, dtype=np.float16))
    return exponentials / exponentials.sum(axis=-1, keepdims=True)
""",
        diagnosis="float16 keeps only about 3 digits",
    ),
    Wrong(
        "01.softmax",
        "shifts the caller's scores in place",
        """
import numpy as np
def softmax(logits):
    logits -= logits.max(axis=-1, keepdims=True)
    exponentials = np.exp(logits)
    return exponentials / exponentials.sum(axis=-1, keepdims=True)
""",
        diagnosis="changed its input in place",
    ),
    Wrong(
        "01.softmax",
        "loops over the first axis (right for 1-d and 2-d, not 3-d)",
        """
import numpy as np
def softmax(logits):
    if logits.ndim == 1:
        return np.exp(logits) / np.exp(logits).sum()
    return np.array([np.exp(row) / np.exp(row).sum() for row in logits])
""",
        diagnosis=None,
    ),
    # --------------------------------------------- 01.candidate_probability
    Wrong(
        "01.candidate_probability",
        "softmax over the whole vocabulary",
        _CANDIDATES
        + """
probabilities = utils.softmax(vocabulary_logits)
candidate_probability = float(probabilities[vocabulary.index("rug")])
""",
        diagnosis="probability over the whole vocabulary",
    ),
    Wrong(
        "01.candidate_probability",
        "the log-probability",
        _CANDIDATES
        + """
in_stock = np.isin(vocabulary, ["mat", "rug", "sofa"])
log_probabilities = utils.log_softmax(vocabulary_logits, mask=in_stock)
candidate_probability = float(log_probabilities[vocabulary.index("rug")])
""",
        diagnosis="that is a log-probability",
    ),
    Wrong(
        "01.candidate_probability",
        "the probability of the wrong word (mat)",
        _CANDIDATES
        + """
in_stock = np.isin(vocabulary, ["mat", "rug", "sofa"])
candidate_probability = float(utils.softmax(vocabulary_logits, mask=in_stock)[0])
""",
        diagnosis="that is the probability of 'mat'",
    ),
    Wrong(
        "01.candidate_probability",
        "normalizes the raw scores",
        _CANDIDATES
        + """
candidate_probability = 2.0 / (3.0 + 2.0 + 1.0)
""",
        diagnosis="you divided the scores themselves",
    ),
    Wrong(
        "01.candidate_probability",
        "typed the value, rounded",
        "candidate_probability = 0.2447",
        diagnosis="rounded to 4 significant digits",
    ),
    # ------------------------------------- 01.ordered_selection_probability
    Wrong(
        "01.ordered_selection_probability",
        "never removes a picked item",
        """
import numpy as np
import utils
def ordered_selection_probability(scores, order):
    probabilities = utils.softmax(scores)
    return float(np.prod(probabilities[order]))
""",
        diagnosis="you used the full softmax at every pick",
    ),
    Wrong(
        "01.ordered_selection_probability",
        "only the first pick",
        """
import utils
def ordered_selection_probability(scores, order):
    return float(utils.softmax(scores)[order[0]])
""",
        diagnosis="you returned the first pick's probability",
    ),
    Wrong(
        "01.ordered_selection_probability",
        "returns the log-probability",
        """
import numpy as np
import utils
def ordered_selection_probability(scores, order):
    available = np.ones(len(scores), dtype=bool)
    total = 0.0
    for index in order:
        total += utils.log_softmax(scores, mask=available)[index]
        available[index] = False
    return float(total)
""",
        diagnosis="that is the log of the probability",
    ),
    Wrong(
        "01.ordered_selection_probability",
        "picks in reverse order",
        """
import numpy as np
import utils
def ordered_selection_probability(scores, order):
    available = np.ones(len(scores), dtype=bool)
    probability = 1.0
    for index in reversed(order):
        probability *= utils.softmax(scores, mask=available)[index]
        available[index] = False
    return float(probability)
""",
        diagnosis="you scored the picks in reverse order",
    ),
    Wrong(
        "01.ordered_selection_probability",
        "sorts the order before scoring",
        """
import numpy as np
import utils
def ordered_selection_probability(scores, order):
    available = np.ones(len(scores), dtype=bool)
    probability = 1.0
    for index in sorted(order):
        probability *= utils.softmax(scores, mask=available)[index]
        available[index] = False
    return float(probability)
""",
        diagnosis=None,
    ),
    Wrong(
        "01.ordered_selection_probability",
        "adds the probabilities instead of multiplying",
        """
import numpy as np
import utils
def ordered_selection_probability(scores, order):
    available = np.ones(len(scores), dtype=bool)
    probability = 0.0
    for index in order:
        probability += utils.softmax(scores, mask=available)[index]
        available[index] = False
    return float(probability)
""",
        diagnosis=None,
    ),
    Wrong(
        "01.ordered_selection_probability",
        "removes a picked item by changing the caller's scores",
        """
import numpy as np
import utils
def ordered_selection_probability(scores, order):
    probability = 1.0
    for index in order:
        probability *= utils.softmax(scores)[index]
        scores[index] = -np.inf
    return float(probability)
""",
        diagnosis="changed its input in place",
    ),
]

RIGHT = [
    Right(
        "01.softmax",
        "the textbook formula with keepdims",
        """
import numpy as np
def softmax(logits):
    exponentials = np.exp(logits)
    return exponentials / exponentials.sum(axis=-1, keepdims=True)
""",
    ),
    Right(
        "01.softmax",
        "computed in float32",
        """
import numpy as np
def softmax(logits):
    exponentials = np.exp(np.asarray(logits, dtype=np.float32))
    return exponentials / exponentials.sum(axis=-1, keepdims=True)
""",
    ),
    Right(
        "01.softmax",
        "np.expand_dims instead of keepdims",
        """
import numpy as np
def softmax(logits):
    exponentials = np.exp(logits)
    return exponentials / np.expand_dims(exponentials.sum(axis=-1), -1)
""",
    ),
    Right(
        "01.softmax",
        "shifted by the maximum first",
        """
import numpy as np
def softmax(logits):
    exponentials = np.exp(logits - np.max(logits, axis=-1, keepdims=True))
    return exponentials / exponentials.sum(axis=-1, keepdims=True)
""",
    ),
    Right(
        "01.softmax",
        "a loop over the rows of any batch",
        """
import math
import numpy as np
def softmax(logits):
    logits = np.asarray(logits)
    rows = logits.reshape(-1, logits.shape[-1])
    result = []
    for row in rows:
        exponentials = [math.exp(score) for score in row]
        total = sum(exponentials)
        result.append([value / total for value in exponentials])
    return np.array(result).reshape(logits.shape)
""",
    ),
    Right(
        "01.softmax",
        "scipy.special.softmax on the last axis",
        """
import scipy.special
def softmax(logits):
    return scipy.special.softmax(logits, axis=-1)
""",
    ),
    Right(
        "01.candidate_probability",
        "utils.softmax with a mask",
        _CANDIDATES
        + """
in_stock = np.isin(vocabulary, ["mat", "rug", "sofa"])
candidate_probability = float(utils.softmax(vocabulary_logits, mask=in_stock)[1])
""",
    ),
    Right(
        "01.candidate_probability",
        "exp of the candidates' scores, by hand",
        """
import math
candidate_probability = math.exp(2.0) / (math.exp(3.0) + math.exp(2.0) + math.exp(1.0))
""",
    ),
    Right(
        "01.candidate_probability",
        "float32 arithmetic",
        """
import numpy as np
scores = np.array([3.0, 2.0, 1.0], dtype=np.float32)
candidate_probability = np.exp(scores[1]) / np.exp(scores).sum()
""",
    ),
    Right(
        "01.ordered_selection_probability",
        "a mask of the items left",
        """
import numpy as np
import utils
def ordered_selection_probability(scores, order):
    available = np.ones(len(scores), dtype=bool)
    probability = 1.0
    for index in order:
        probability *= utils.softmax(scores, mask=available)[index]
        available[index] = False
    return float(probability)
""",
    ),
    Right(
        "01.ordered_selection_probability",
        "the full softmax renormalized by the mass left",
        """
import numpy as np
def ordered_selection_probability(scores, order):
    probabilities = np.exp(scores - np.max(scores))
    probabilities /= probabilities.sum()
    left, probability = 1.0, 1.0
    for index in order:
        probability *= probabilities[index] / left
        left -= probabilities[index]
    return probability
""",
    ),
    Right(
        "01.ordered_selection_probability",
        "log-probabilities summed, then exp",
        """
import math
import numpy as np
def ordered_selection_probability(scores, order):
    remaining = list(range(len(scores)))
    log_probability = 0.0
    for index in order:
        top = max(scores[i] for i in remaining)
        normalizer = top + math.log(sum(math.exp(scores[i] - top) for i in remaining))
        log_probability += scores[index] - normalizer
        remaining.remove(index)
    return math.exp(log_probability)
""",
    ),
]
