"""Lesson 08 (debugging case studies): answers learners write, wrong and right.

Besides these, tests/test_lessons_06_08.py runs the buggy code the lesson ships (read from
its notebook) through every check.
"""

from tests.catalogue import Right, Wrong

_SCORE_HEAD = """
import numpy as np
import scipy.special


def token_log_probs(logits, token_ids):
    log_probs = scipy.special.log_softmax(logits.astype(np.float64), axis=-1)
    return np.take_along_axis(log_probs, token_ids[..., None], axis=-1)[..., 0]

"""

WRONG = [
    # --- 08.next_token_probs -----------------------------------------------------------------
    Wrong(
        "08.next_token_probs",
        "the original bug: sums over the batch axis, one global maximum",
        source="""
        import numpy as np

        def next_token_probs(logits):
            exponentials = np.exp(logits - logits.max())
            return exponentials / exponentials.sum(axis=0)
        """,
        diagnosis="still normalizes over the batch axis",
    ),
    Wrong(
        "08.next_token_probs",
        "half-fixed: the axis of the sum, but one global maximum",
        source="""
        import numpy as np

        def next_token_probs(logits):
            exponentials = np.exp(logits - logits.max())
            return exponentials / exponentials.sum(axis=-1, keepdims=True)
        """,
        diagnosis="Subtract each row's own maximum (along",
    ),
    Wrong(
        "08.next_token_probs",
        "no max-shift at all",
        source="""
        import numpy as np

        def next_token_probs(logits):
            exponentials = np.exp(logits)
            return exponentials / exponentials.sum(axis=-1, keepdims=True)
        """,
        diagnosis="exp of large scores overflowed",
    ),
    Wrong(
        "08.next_token_probs",
        "the maximum without keepdims",
        source="""
        import numpy as np

        def next_token_probs(logits):
            exponentials = np.exp(logits - logits.max(axis=-1))
            return exponentials / exponentials.sum(axis=-1, keepdims=True)
        """,
        diagnosis="keepdims",
    ),
    Wrong(
        "08.next_token_probs",
        "normalizes over the whole batch",
        source="""
        import numpy as np

        def next_token_probs(logits):
            exponentials = np.exp(logits - logits.max())
            return exponentials / exponentials.sum()
        """,
        diagnosis="whole batch at once",
    ),
    Wrong(
        "08.next_token_probs",
        "the sum without keepdims",
        source="""
        import numpy as np

        def next_token_probs(logits):
            exponentials = np.exp(logits - logits.max(axis=-1, keepdims=True))
            return exponentials / exponentials.sum(axis=-1)
        """,
    ),
    Wrong(
        "08.next_token_probs",
        "shifts by each row's minimum",
        source="""
        import numpy as np

        def next_token_probs(logits):
            exponentials = np.exp(logits - logits.min(axis=-1, keepdims=True))
            return exponentials / exponentials.sum(axis=-1, keepdims=True)
        """,
        diagnosis="exp of large scores overflowed",
    ),
    # --- 08.candidate_probs ------------------------------------------------------------------
    Wrong(
        "08.candidate_probs",
        "the original bug: renormalized over the candidates",
        source="""
        import utils

        def candidate_probs(logits, candidate_ids):
            return utils.softmax(logits[..., candidate_ids], axis=-1)
        """,
        diagnosis="still renormalizes over the candidate subset",
    ),
    Wrong(
        "08.candidate_probs",
        "log-probabilities",
        source="""
        import utils

        def candidate_probs(logits, candidate_ids):
            return utils.log_softmax(logits, axis=-1)[..., candidate_ids]
        """,
        diagnosis="you returned log-probabilities",
    ),
    Wrong(
        "08.candidate_probs",
        "every token's probability",
        source="""
        import utils

        def candidate_probs(logits, candidate_ids):
            return utils.softmax(logits, axis=-1)
        """,
        diagnosis="whole vocabulary's probabilities",
    ),
    Wrong(
        "08.candidate_probs",
        "naive softmax",
        source="""
        import numpy as np

        def candidate_probs(logits, candidate_ids):
            probs = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
            return probs[..., candidate_ids]
        """,
        diagnosis="exp overflowed",
    ),
    Wrong(
        "08.candidate_probs",
        "softmax over axis 0",
        source="""
        import utils

        def candidate_probs(logits, candidate_ids):
            return utils.softmax(logits, axis=0)[..., candidate_ids]
        """,
        diagnosis="batch axis",
    ),
    # --- 08.sequence_scores ------------------------------------------------------------------
    Wrong(
        "08.sequence_scores",
        "the original bug: log of a product of probabilities",
        source="""
        import numpy as np
        import utils

        def sequence_scores(logits, token_ids):
            probs = utils.softmax(logits, axis=-1)
            token_probs = np.take_along_axis(probs, token_ids[..., None], axis=-1)[..., 0]
            return np.log(np.prod(token_probs, axis=-1))
        """,
        diagnosis="still multiplies probabilities",
    ),
    Wrong(
        "08.sequence_scores",
        "sums probabilities",
        source="""
        import numpy as np
        import utils

        def sequence_scores(logits, token_ids):
            probs = utils.softmax(logits, axis=-1)
            return np.take_along_axis(probs, token_ids[..., None], axis=-1)[..., 0].sum(axis=-1)
        """,
        diagnosis="you summed probabilities",
    ),
    Wrong(
        "08.sequence_scores",
        "log of a sum of probabilities",
        source="""
        import numpy as np
        import utils

        def sequence_scores(logits, token_ids):
            probs = utils.softmax(logits, axis=-1)
            picked = np.take_along_axis(probs, token_ids[..., None], axis=-1)[..., 0]
            return np.log(picked.sum(axis=-1))
        """,
        diagnosis="log of a sum",
    ),
    Wrong(
        "08.sequence_scores",
        "one log-probability per token",
        source="""
        import numpy as np
        import utils

        def sequence_scores(logits, token_ids):
            log_probs = utils.log_softmax(logits, axis=-1)
            return np.take_along_axis(log_probs, token_ids[..., None], axis=-1)[..., 0]
        """,
        diagnosis="one log-probability per token",
    ),
    Wrong(
        "08.sequence_scores",
        "the mean over the tokens",
        source="""
        import numpy as np
        import utils

        def sequence_scores(logits, token_ids):
            log_probs = utils.log_softmax(logits, axis=-1)
            return np.take_along_axis(log_probs, token_ids[..., None], axis=-1)[..., 0].mean(-1)
        """,
        diagnosis="averaged over the tokens",
    ),
    Wrong(
        "08.sequence_scores",
        "sums over the batch axis",
        source="""
        import numpy as np
        import utils

        def sequence_scores(logits, token_ids):
            log_probs = utils.log_softmax(logits, axis=-1)
            return np.take_along_axis(log_probs, token_ids[..., None], axis=-1)[..., 0].sum(0)
        """,
        diagnosis="summed over the batch axis",
    ),
    Wrong(
        "08.sequence_scores",
        "log of a naive softmax",
        source="""
        import numpy as np

        def sequence_scores(logits, token_ids):
            probs = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
            picked = np.take_along_axis(probs, token_ids[..., None], axis=-1)[..., 0]
            return np.log(picked).sum(axis=-1)
        """,
        diagnosis="exp overflowed",
    ),
    Wrong(
        "08.sequence_scores",
        "log of each softmax probability",
        source="""
        import numpy as np
        import utils

        def sequence_scores(logits, token_ids):
            probs = utils.softmax(logits, axis=-1)
            picked = np.take_along_axis(probs, token_ids[..., None], axis=-1)[..., 0]
            return np.log(picked).sum(axis=-1)
        """,
        diagnosis="rounded to 0 before its log",
    ),
    # --- 08.most_confident_context -----------------------------------------------------------
    Wrong(
        "08.most_confident_context",
        "the original bug: the largest raw logit",
        source="""
        import numpy as np

        def most_confident_context(logits):
            return int(np.argmax(logits.max(axis=-1)))
        """,
        diagnosis="still compares raw logits",
    ),
    Wrong(
        "08.most_confident_context",
        "argmin of the top probability",
        source="""
        import numpy as np
        import utils

        def most_confident_context(logits):
            return int(np.argmin(utils.softmax(logits, axis=-1).max(axis=-1)))
        """,
        diagnosis="least confident context",
    ),
    Wrong(
        "08.most_confident_context",
        "the lowest entropy",
        source="""
        import numpy as np
        import utils

        def most_confident_context(logits):
            p = utils.softmax(logits, axis=-1)
            entropy = -(p * utils.log_softmax(logits, axis=-1)).sum(axis=-1)
            return int(np.argmin(entropy))
        """,
        diagnosis="lowest entropy",
    ),
    Wrong(
        "08.most_confident_context",
        "the highest entropy",
        source="""
        import numpy as np
        import utils

        def most_confident_context(logits):
            p = utils.softmax(logits, axis=-1)
            entropy = -(p * utils.log_softmax(logits, axis=-1)).sum(axis=-1)
            return int(np.argmax(entropy))
        """,
        diagnosis="highest entropy",
    ),
    Wrong(
        "08.most_confident_context",
        "the gap between the two top logits",
        source="""
        import numpy as np

        def most_confident_context(logits):
            top_two = np.sort(logits, axis=-1)[:, -2:]
            return int(np.argmax(top_two[:, 1] - top_two[:, 0]))
        """,
        diagnosis="largest gap between its two top logits",
    ),
    Wrong(
        "08.most_confident_context",
        "softmax over the contexts (axis 0)",
        source="""
        import numpy as np
        import utils

        def most_confident_context(logits):
            return int(np.argmax(utils.softmax(logits, axis=0).max(axis=-1)))
        """,
        diagnosis="normalized over the contexts",
    ),
    Wrong(
        "08.most_confident_context",
        "the last of tied contexts",
        source="""
        import numpy as np
        import utils

        def most_confident_context(logits):
            top = utils.softmax(logits, axis=-1).max(axis=-1)
            return int(len(top) - 1 - np.argmax(top[::-1]))
        """,
        diagnosis="tie for the highest top probability",
    ),
    Wrong(
        "08.most_confident_context",
        "the gap between the two top probabilities",
        source="""
        import numpy as np
        import utils

        def most_confident_context(logits):
            top_two = np.sort(utils.softmax(logits, axis=-1), axis=-1)[:, -2:]
            return int(np.argmax(top_two[:, 1] - top_two[:, 0]))
        """,
        diagnosis="two top probabilities",
    ),
    Wrong(
        "08.most_confident_context",
        "a hard-coded row 0 (coincides with some criterion on one case, no mistake)",
        source="""
        def most_confident_context(logits):
            return 0
        """,
        diagnosis=None,
    ),
    Wrong(
        "08.most_confident_context",
        "a hard-coded row 1 (coincides with some criterion on one case, no mistake)",
        source="""
        def most_confident_context(logits):
            return 1
        """,
        diagnosis=None,
    ),
    Wrong(
        "08.most_confident_context",
        "a hard-coded row 2 (coincides with some criterion on one case, no mistake)",
        source="""
        def most_confident_context(logits):
            return 2
        """,
        diagnosis=None,
    ),
    Wrong(
        "08.most_confident_context",
        "a hard-coded row 3 (coincides with some criterion on one case, no mistake)",
        source="""
        def most_confident_context(logits):
            return 3
        """,
        diagnosis=None,
    ),
    # --- 08.log_probs_fp16 -------------------------------------------------------------------
    Wrong(
        "08.log_probs_fp16",
        "the original bug: naive softmax in float16",
        source="""
        import numpy as np

        def log_probs_fp16(logits):
            return np.log(np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True))
        """,
        diagnosis="still computes exp in float16",
    ),
    Wrong(
        "08.log_probs_fp16",
        "the max-shift, still in float16",
        source="""
        import numpy as np

        def log_probs_fp16(logits):
            shifted = logits - logits.max(axis=-1, keepdims=True)
            result = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
            return result.astype(np.float32)
        """,
        diagnosis="not after",
    ),
    Wrong(
        "08.log_probs_fp16",
        "a stable log-softmax returned in float16",
        source="""
        import numpy as np
        import utils

        def log_probs_fp16(logits):
            return utils.log_softmax(logits.astype(np.float32), axis=-1).astype(np.float16)
        """,
        diagnosis="the result is float16",
    ),
    Wrong(
        "08.log_probs_fp16",
        "computed in float16, converted after",
        source="""
        import numpy as np
        import utils

        def log_probs_fp16(logits):
            return utils.log_softmax(logits, axis=-1).astype(np.float32)
        """,
        diagnosis="not after",
    ),
    Wrong(
        "08.log_probs_fp16",
        "float64 result",
        source="""
        import numpy as np
        import utils

        def log_probs_fp16(logits):
            return utils.log_softmax(logits.astype(np.float64), axis=-1)
        """,
        diagnosis="half the memory",
    ),
    Wrong(
        "08.log_probs_fp16",
        "upcast, then a naive log(softmax)",
        source="""
        import numpy as np

        def log_probs_fp16(logits):
            z = logits.astype(np.float32)
            return np.log(np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True))
        """,
        diagnosis="still overflows in float32",
    ),
    Wrong(
        "08.log_probs_fp16",
        "upcast, then the log of a stable softmax",
        source="""
        import numpy as np
        import utils

        def log_probs_fp16(logits):
            return np.log(utils.softmax(logits.astype(np.float32), axis=-1))
        """,
        diagnosis="log of a softmax",
    ),
    # --- 08.rank_completions -----------------------------------------------------------------
    Wrong(
        "08.rank_completions",
        "the original bug: raw totals",
        source="""
        import numpy as np

        def rank_completions(total_log_probs, lengths, length_penalty=1.0):
            return np.argsort(-total_log_probs, kind="stable")
        """,
        diagnosis="still ranks by the raw total",
    ),
    Wrong(
        "08.rank_completions",
        "ascending order",
        source="""
        import numpy as np

        def rank_completions(total_log_probs, lengths, length_penalty=1.0):
            return np.argsort(total_log_probs / lengths**length_penalty, kind="stable")
        """,
        diagnosis="the order is reversed",
    ),
    Wrong(
        "08.rank_completions",
        "a reversed ascending sort (ties backwards)",
        source="""
        import numpy as np

        def rank_completions(total_log_probs, lengths, length_penalty=1.0):
            return np.argsort(total_log_probs / lengths**length_penalty, kind="stable")[::-1]
        """,
        diagnosis="reverse index order",
    ),
    Wrong(
        "08.rank_completions",
        "an unstable sort",
        source="""
        import numpy as np

        def rank_completions(total_log_probs, lengths, length_penalty=1.0):
            return np.argsort(-(total_log_probs / lengths**length_penalty))
        """,
        diagnosis="unstable sort",
    ),
    Wrong(
        "08.rank_completions",
        "divides by the length, ignores length_penalty",
        source="""
        import numpy as np

        def rank_completions(total_log_probs, lengths, length_penalty=1.0):
            return np.argsort(-(total_log_probs / lengths), kind="stable")
        """,
        diagnosis="ignored length_penalty",
    ),
    Wrong(
        "08.rank_completions",
        "multiplies by length ** length_penalty",
        source="""
        import numpy as np

        def rank_completions(total_log_probs, lengths, length_penalty=1.0):
            return np.argsort(-(total_log_probs * lengths**length_penalty), kind="stable")
        """,
        diagnosis="multiplied by length",
    ),
    Wrong(
        "08.rank_completions",
        "returns each completion's rank",
        source="""
        import numpy as np

        def rank_completions(total_log_probs, lengths, length_penalty=1.0):
            order = np.argsort(-(total_log_probs / lengths**length_penalty), kind="stable")
            return np.argsort(order, kind="stable")
        """,
        diagnosis="each completion's rank",
    ),
    # --- 08.score_completions ----------------------------------------------------------------
    Wrong(
        "08.score_completions",
        "masks the padding by multiplying",
        source=_SCORE_HEAD
        + """
def score_completions(logits, token_ids, mask, length_penalty=1.0):
    totals = (token_log_probs(logits, token_ids) * mask).sum(axis=-1)
    return totals / mask.sum(axis=-1) ** length_penalty
""",
        diagnosis="by multiplying with the mask",
    ),
    Wrong(
        "08.score_completions",
        "no mask at all",
        source=_SCORE_HEAD
        + """
def score_completions(logits, token_ids, mask, length_penalty=1.0):
    totals = token_log_probs(logits, token_ids).sum(axis=-1)
    return totals / mask.sum(axis=-1) ** length_penalty
""",
        diagnosis="still adds the padding positions",
    ),
    Wrong(
        "08.score_completions",
        "np.nansum instead of the mask",
        source=_SCORE_HEAD
        + """
def score_completions(logits, token_ids, mask, length_penalty=1.0):
    totals = np.nansum(token_log_probs(logits, token_ids), axis=-1)
    return totals / mask.sum(axis=-1) ** length_penalty
""",
        diagnosis="still adds the padding positions",
    ),
    Wrong(
        "08.score_completions",
        "divides by the padded length",
        source=_SCORE_HEAD
        + """
def score_completions(logits, token_ids, mask, length_penalty=1.0):
    totals = np.where(mask, token_log_probs(logits, token_ids), 0.0).sum(axis=-1)
    return totals / mask.shape[-1] ** length_penalty
""",
        diagnosis="divides by the padded length",
    ),
    Wrong(
        "08.score_completions",
        "mask.sum() without an axis",
        source=_SCORE_HEAD
        + """
def score_completions(logits, token_ids, mask, length_penalty=1.0):
    totals = np.where(mask, token_log_probs(logits, token_ids), 0.0).sum(axis=-1)
    return totals / mask.sum() ** length_penalty
""",
        diagnosis="whole batch",
    ),
    Wrong(
        "08.score_completions",
        "not length-normalized",
        source=_SCORE_HEAD
        + """
def score_completions(logits, token_ids, mask, length_penalty=1.0):
    return np.where(mask, token_log_probs(logits, token_ids), 0.0).sum(axis=-1)
""",
        diagnosis="not length-normalized",
    ),
    Wrong(
        "08.score_completions",
        "ignores length_penalty",
        source=_SCORE_HEAD
        + """
def score_completions(logits, token_ids, mask, length_penalty=1.0):
    totals = np.where(mask, token_log_probs(logits, token_ids), 0.0).sum(axis=-1)
    return totals / mask.sum(axis=-1)
""",
        diagnosis="ignored length_penalty",
    ),
    Wrong(
        "08.score_completions",
        "computed in float16",
        source="""
        import numpy as np
        import scipy.special

        def score_completions(logits, token_ids, mask, length_penalty=1.0):
            log_probs = scipy.special.log_softmax(logits, axis=-1)
            picked = np.take_along_axis(log_probs, token_ids[..., None], axis=-1)[..., 0]
            totals = np.where(mask, picked, 0.0).sum(axis=-1)
            return totals / mask.sum(axis=-1) ** length_penalty
        """,
        diagnosis="computed in float16",
    ),
    Wrong(
        "08.score_completions",
        "utils.log_softmax over padding that holds NaN",
        source="""
        import numpy as np
        import utils

        def score_completions(logits, token_ids, mask, length_penalty=1.0):
            log_probs = utils.log_softmax(logits.astype(np.float64), axis=-1)
            picked = np.take_along_axis(log_probs, token_ids[..., None], axis=-1)[..., 0]
            totals = np.where(mask, picked, 0.0).sum(axis=-1)
            return totals / mask.sum(axis=-1) ** length_penalty
        """,
    ),
]

WRONG.append(
    Wrong(
        "08.score_completions",
        "log of a float32 softmax, masked with np.where",
        source="""
        import numpy as np
        import utils

        def score_completions(logits, token_ids, mask, length_penalty=1.0):
            safe = np.where(mask[..., None], logits.astype(np.float32), 0.0)
            probs = utils.softmax(safe, axis=-1)
            picked = np.log(np.take_along_axis(probs, token_ids[..., None], axis=-1)[..., 0])
            return np.where(mask, picked, 0.0).sum(axis=-1) / mask.sum(axis=-1) ** length_penalty
        """,
        diagnosis="a log of 0 was taken",
    )
)

WRONG.append(
    Wrong(
        "08.score_completions",
        "every -inf and NaN zeroed, then multiplied by the mask",
        source=_SCORE_HEAD
        + """
def score_completions(logits, token_ids, mask, length_penalty=1.0):
    picked = np.nan_to_num(token_log_probs(logits, token_ids), nan=0.0, neginf=0.0)
    return (picked * mask).sum(axis=-1) / mask.sum(axis=-1) ** length_penalty
""",
        diagnosis="keep that -inf",
    )
)

RIGHT = [
    Right(
        "08.next_token_probs",
        "exp of z minus its log-sum-exp",
        source="""
        import numpy as np
        from scipy.special import logsumexp

        def next_token_probs(logits):
            return np.exp(logits - logsumexp(logits, axis=-1, keepdims=True))
        """,
    ),
    Right(
        "08.next_token_probs",
        "np.expand_dims instead of keepdims",
        source="""
        import numpy as np

        def next_token_probs(logits):
            exponentials = np.exp(logits - np.expand_dims(logits.max(axis=-1), -1))
            return exponentials / np.expand_dims(exponentials.sum(axis=-1), -1)
        """,
    ),
    Right(
        "08.candidate_probs",
        "exp of the candidates' logits minus the full log-sum-exp",
        source="""
        import numpy as np
        from scipy.special import logsumexp

        def candidate_probs(logits, candidate_ids):
            return np.exp(logits[..., candidate_ids] - logsumexp(logits, axis=-1, keepdims=True))
        """,
    ),
    Right(
        "08.candidate_probs",
        "scipy's softmax and np.take",
        source="""
        import numpy as np
        from scipy.special import softmax

        def candidate_probs(logits, candidate_ids):
            return np.take(softmax(logits, axis=-1), candidate_ids, axis=-1)
        """,
    ),
    Right(
        "08.sequence_scores",
        "utils.sequence_log_prob",
        source="""
        import utils

        def sequence_scores(logits, token_ids):
            return utils.sequence_log_prob(logits, token_ids)
        """,
    ),
    Right(
        "08.sequence_scores",
        "a loop over the documents",
        source="""
        import numpy as np
        from scipy.special import logsumexp

        def sequence_scores(logits, token_ids):
            scores = []
            for document, ids in zip(logits, token_ids):
                picked = document[np.arange(len(ids)), ids]
                scores.append(float(np.sum(picked - logsumexp(document, axis=-1))))
            return np.array(scores)
        """,
    ),
    Right(
        "08.most_confident_context",
        "the smallest gap between the log-sum-exp and the maximum",
        source="""
        import numpy as np
        from scipy.special import logsumexp

        def most_confident_context(logits):
            return int(np.argmin(logsumexp(logits, axis=-1) - logits.max(axis=-1)))
        """,
    ),
    Right(
        "08.most_confident_context",
        "the row of the largest probability anywhere",
        source="""
        import numpy as np
        import utils

        def most_confident_context(logits):
            probs = utils.softmax(logits, axis=-1)
            return np.unravel_index(np.argmax(probs), probs.shape)[0]
        """,
    ),
    Right(
        "08.most_confident_context",
        "max with a key over the rows",
        source="""
        import math

        def most_confident_context(logits):
            def top_probability(row):
                top = max(row)
                return 1.0 / sum(math.exp(z - top) for z in row)

            return max(range(len(logits)), key=lambda i: top_probability(logits[i]))
        """,
    ),
    Right(
        "08.log_probs_fp16",
        "own float32 log-sum-exp",
        source="""
        import numpy as np

        def log_probs_fp16(logits):
            z = logits.astype(np.float32)
            top = z.max(axis=-1, keepdims=True)
            return z - top - np.log(np.exp(z - top).sum(axis=-1, keepdims=True))
        """,
    ),
    Right(
        "08.log_probs_fp16",
        "float64 work, float32 result",
        source="""
        import numpy as np
        from scipy.special import log_softmax

        def log_probs_fp16(logits):
            return log_softmax(logits.astype(np.float64), axis=-1).astype(np.float32)
        """,
    ),
    Right(
        "08.rank_completions",
        "np.lexsort with the index as the tie-breaker",
        source="""
        import numpy as np

        def rank_completions(total_log_probs, lengths, length_penalty=1.0):
            scores = total_log_probs / lengths**length_penalty
            return np.lexsort((np.arange(len(scores)), -scores))
        """,
    ),
    Right(
        "08.rank_completions",
        "sorted with a key and reverse=True (stable)",
        source="""
        def rank_completions(total_log_probs, lengths, length_penalty=1.0):
            scores = [t / n**length_penalty for t, n in zip(total_log_probs, lengths)]
            return sorted(range(len(scores)), key=lambda i: scores[i], reverse=True)
        """,
    ),
    Right(
        "08.rank_completions",
        "np.argsort with kind='mergesort'",
        source="""
        import numpy as np

        def rank_completions(total_log_probs, lengths, length_penalty=1.0):
            return np.argsort(-total_log_probs / lengths**length_penalty, kind="mergesort")
        """,
    ),
    Right(
        "08.score_completions",
        "np.where on the mask, scipy's log_softmax in float64",
        source=_SCORE_HEAD
        + """
def score_completions(logits, token_ids, mask, length_penalty=1.0):
    totals = np.where(mask, token_log_probs(logits, token_ids), 0.0).sum(axis=-1)
    return totals / mask.sum(axis=-1) ** length_penalty
""",
    ),
    Right(
        "08.score_completions",
        "np.nansum over the real positions (padding set to NaN)",
        source=_SCORE_HEAD
        + """
def score_completions(logits, token_ids, mask, length_penalty=1.0):
    totals = np.nansum(np.where(mask, token_log_probs(logits, token_ids), np.nan), axis=-1)
    return totals / mask.sum(axis=-1) ** length_penalty
""",
    ),
    Right(
        "08.score_completions",
        "padding replaced before the log-softmax, float32 work",
        source="""
        import numpy as np
        import utils

        def score_completions(logits, token_ids, mask, length_penalty=1.0):
            safe = np.where(mask[..., None], logits.astype(np.float32), 0.0)
            log_probs = utils.log_softmax(safe, axis=-1)
            picked = np.take_along_axis(log_probs, token_ids[..., None], axis=-1)[..., 0]
            return np.where(mask, picked, 0.0).sum(axis=-1) / mask.sum(axis=-1) ** length_penalty
        """,
    ),
    Right(
        "08.score_completions",
        "a loop over the completions with boolean indexing",
        source=_SCORE_HEAD
        + """
def score_completions(logits, token_ids, mask, length_penalty=1.0):
    scores = []
    for row_logits, row_ids, row_mask in zip(logits, token_ids, mask):
        picked = token_log_probs(row_logits[row_mask], row_ids[row_mask])
        scores.append(picked.sum() / row_mask.sum() ** length_penalty)
    return np.array(scores)
""",
    ),
    Right(
        "08.next_token_probs",
        "computed in float32",
        source="""
        import numpy as np

        def next_token_probs(logits):
            z = logits.astype(np.float32)
            exponentials = np.exp(z - z.max(axis=-1, keepdims=True))
            return exponentials / exponentials.sum(axis=-1, keepdims=True)
        """,
    ),
]

# --- 08.audit_completion -------------------------------------------------------------------------
_AUDIT_HEAD = """
        import numpy as np
        import scipy.special
"""

WRONG += [
    Wrong(
        "08.audit_completion",
        "no shift: token t scored with row t",
        source=_AUDIT_HEAD
        + """
        def audit_completion(logits, token_ids, prompt_length):
            rows = logits[prompt_length:]
            tokens = token_ids[prompt_length:]
            probs = scipy.special.softmax(rows, axis=-1)
            steps = np.arange(len(tokens))
            own = rows[steps, tokens]
            return {
                "prob": probs[steps, tokens],
                "rank": 1 + (rows > own[:, None]).sum(axis=-1),
                "argmax": rows.argmax(axis=-1),
                "entropy": scipy.special.entr(probs).sum(axis=-1),
            }
        """,
        diagnosis="no shift",
    ),
    Wrong(
        "08.audit_completion",
        "audits the prompt's tokens too",
        source=_AUDIT_HEAD
        + """
        def audit_completion(logits, token_ids, prompt_length):
            rows = logits[:-1]
            tokens = token_ids[1:]
            probs = scipy.special.softmax(rows, axis=-1)
            steps = np.arange(len(tokens))
            own = rows[steps, tokens]
            return {
                "prob": probs[steps, tokens],
                "rank": 1 + (rows > own[:, None]).sum(axis=-1),
                "argmax": rows.argmax(axis=-1),
                "entropy": scipy.special.entr(probs).sum(axis=-1),
            }
        """,
        diagnosis="you audited the prompt too",
    ),
    Wrong(
        "08.audit_completion",
        "rank counted from 0",
        source=_AUDIT_HEAD
        + """
        def audit_completion(logits, token_ids, prompt_length):
            rows = logits[prompt_length - 1 : -1]
            tokens = token_ids[prompt_length:]
            probs = scipy.special.softmax(rows, axis=-1)
            steps = np.arange(len(tokens))
            own = rows[steps, tokens]
            return {
                "prob": probs[steps, tokens],
                "rank": (rows > own[:, None]).sum(axis=-1),
                "argmax": rows.argmax(axis=-1),
                "entropy": scipy.special.entr(probs).sum(axis=-1),
            }
        """,
        diagnosis="the rank counts from 1",
    ),
    Wrong(
        "08.audit_completion",
        "rank as the position in a sorted row (ties by order)",
        source=_AUDIT_HEAD
        + """
        def audit_completion(logits, token_ids, prompt_length):
            rows = logits[prompt_length - 1 : -1]
            tokens = token_ids[prompt_length:]
            probs = scipy.special.softmax(rows, axis=-1)
            steps = np.arange(len(tokens))
            order = np.argsort(-probs, axis=-1, kind="stable")
            ranks = [1 + list(order[step]).index(tokens[step]) for step in steps]
            return {
                "prob": probs[steps, tokens],
                "rank": np.array(ranks),
                "argmax": rows.argmax(axis=-1),
                "entropy": scipy.special.entr(probs).sum(axis=-1),
            }
        """,
        diagnosis="a tied token shares the better rank",
    ),
    Wrong(
        "08.audit_completion",
        "rank counts the tokens with a logit >= its own (ties counted ahead)",
        source=_AUDIT_HEAD
        + """
        def audit_completion(logits, token_ids, prompt_length):
            rows = logits[prompt_length - 1 : -1]
            tokens = token_ids[prompt_length:]
            probs = scipy.special.softmax(rows, axis=-1)
            steps = np.arange(len(tokens))
            own = rows[steps, tokens]
            return {
                "prob": probs[steps, tokens],
                "rank": (rows >= own[:, None]).sum(axis=-1),
                "argmax": rows.argmax(axis=-1),
                "entropy": scipy.special.entr(probs).sum(axis=-1),
            }
        """,
        diagnosis="a tied token shares the better rank",
    ),
    Wrong(
        "08.audit_completion",
        "entropy in bits",
        source=_AUDIT_HEAD
        + """
        def audit_completion(logits, token_ids, prompt_length):
            rows = logits[prompt_length - 1 : -1]
            tokens = token_ids[prompt_length:]
            probs = scipy.special.softmax(rows, axis=-1)
            steps = np.arange(len(tokens))
            own = rows[steps, tokens]
            return {
                "prob": probs[steps, tokens],
                "rank": 1 + (rows > own[:, None]).sum(axis=-1),
                "argmax": rows.argmax(axis=-1),
                "entropy": scipy.special.entr(probs).sum(axis=-1) / np.log(2),
            }
        """,
        diagnosis="not bits",
    ),
    Wrong(
        "08.audit_completion",
        "entropy as -sum p log p with 0 * log 0 = NaN",
        source=_AUDIT_HEAD
        + """
        def audit_completion(logits, token_ids, prompt_length):
            rows = logits[prompt_length - 1 : -1]
            tokens = token_ids[prompt_length:]
            log_probs = scipy.special.log_softmax(rows, axis=-1)
            probs = np.exp(log_probs)
            steps = np.arange(len(tokens))
            own = rows[steps, tokens]
            return {
                "prob": probs[steps, tokens],
                "rank": 1 + (rows > own[:, None]).sum(axis=-1),
                "argmax": rows.argmax(axis=-1),
                "entropy": -(probs * log_probs).sum(axis=-1),
            }
        """,
        diagnosis="0 * log 0 = NaN",
    ),
    Wrong(
        "08.audit_completion",
        "argmax: the completion's own token",
        source=_AUDIT_HEAD
        + """
        def audit_completion(logits, token_ids, prompt_length):
            rows = logits[prompt_length - 1 : -1]
            tokens = token_ids[prompt_length:]
            probs = scipy.special.softmax(rows, axis=-1)
            steps = np.arange(len(tokens))
            own = rows[steps, tokens]
            return {
                "prob": probs[steps, tokens],
                "rank": 1 + (rows > own[:, None]).sum(axis=-1),
                "argmax": tokens,
                "entropy": scipy.special.entr(probs).sum(axis=-1),
            }
        """,
        diagnosis="not the token the completion took",
    ),
    Wrong(
        "08.audit_completion",
        "softmax over the time axis",
        source=_AUDIT_HEAD
        + """
        def audit_completion(logits, token_ids, prompt_length):
            rows = logits[prompt_length - 1 : -1]
            tokens = token_ids[prompt_length:]
            probs = scipy.special.softmax(rows, axis=0)
            steps = np.arange(len(tokens))
            own = rows[steps, tokens]
            return {
                "prob": probs[steps, tokens],
                "rank": 1 + (rows > own[:, None]).sum(axis=-1),
                "argmax": rows.argmax(axis=-1),
                "entropy": scipy.special.entr(scipy.special.softmax(rows, axis=-1)).sum(axis=-1),
            }
        """,
        diagnosis="normalized over the time axis",
    ),
    # --- 08.audit_verdict (a letter) -----------------------------------------------------------
    Wrong("08.audit_verdict", "hesitates everywhere", 'audit_verdict = "a"', "not (a)"),
    Wrong("08.audit_verdict", "the greedy completion", 'audit_verdict = "c"', "not (c)"),
    Wrong("08.audit_verdict", "a shifted pairing", 'audit_verdict = "d"', "not (d)"),
    Wrong("08.audit_verdict", "cut short", 'audit_verdict = "e"', "not (e)"),
    Wrong(
        "08.audit_verdict",
        "the option's text, not its letter",
        'audit_verdict = "one step"',
        "letter alone",
    ),
]
RIGHT += [
    Right(
        "08.audit_completion",
        "scipy.special and a strict comparison for the rank",
        source=_AUDIT_HEAD
        + """
        def audit_completion(logits, token_ids, prompt_length):
            rows = logits[prompt_length - 1 : -1]
            tokens = token_ids[prompt_length:]
            probs = scipy.special.softmax(rows, axis=-1)
            steps = np.arange(len(tokens))
            own = rows[steps, tokens]
            return {
                "prob": probs[steps, tokens],
                "rank": 1 + (rows > own[:, None]).sum(axis=-1),
                "argmax": rows.argmax(axis=-1),
                "entropy": scipy.special.entr(probs).sum(axis=-1),
            }
        """,
    ),
    Right(
        "08.audit_completion",
        "a loop over the steps with utils",
        source="""
        import numpy as np
        import utils

        def audit_completion(logits, token_ids, prompt_length):
            audit = {"prob": [], "rank": [], "argmax": [], "entropy": []}
            for t in range(prompt_length, len(token_ids)):
                row = logits[t - 1]
                token = token_ids[t]
                probs = utils.softmax(row)
                audit["prob"].append(probs[token])
                audit["rank"].append(1 + int(np.sum(row > row[token])))
                audit["argmax"].append(int(np.argmax(row)))
                audit["entropy"].append(float(utils.entropy(probs)))
            return {key: np.array(values) for key, values in audit.items()}
        """,
    ),
    Right(
        "08.audit_completion",
        "probabilities compared for the rank, np.where for 0 log 0",
        source="""
        import numpy as np
        import utils

        def audit_completion(logits, token_ids, prompt_length):
            rows = logits[prompt_length - 1 : len(token_ids) - 1]
            tokens = np.asarray(token_ids)[prompt_length:]
            log_probs = utils.log_softmax(rows, axis=-1)
            probs = np.exp(log_probs)
            steps = np.arange(len(tokens))
            own = probs[steps, tokens]
            terms = np.where(probs > 0, probs * np.where(probs > 0, log_probs, 0.0), 0.0)
            return {
                "prob": own,
                "rank": 1 + np.sum(probs > own[:, None], axis=-1),
                "argmax": np.argmax(probs, axis=-1),
                "entropy": -terms.sum(axis=-1),
            }
        """,
    ),
    Right("08.audit_verdict", "the letter", 'audit_verdict = "b"'),
    Right("08.audit_verdict", "the letter in capitals with spaces", 'audit_verdict = " B "'),
]
