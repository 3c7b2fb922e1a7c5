"""Lesson 05 (sampling): answers learners write, wrong and right."""

from tests.catalogue import Right, Wrong

_TOP_P_HEAD = """
import numpy as np
import utils

"""

WRONG = [
    # --- 05.inverse_cdf_sample ---------------------------------------------------------------
    Wrong(
        "05.inverse_cdf_sample",
        "searchsorted with side='left' (u = c[i] goes to token i)",
        source="""
        import numpy as np

        def inverse_cdf_sample(probs, uniforms):
            ids = np.searchsorted(np.cumsum(probs), uniforms)
            return np.minimum(ids, np.flatnonzero(probs > 0)[-1])
        """,
        diagnosis="belongs to token i + 1",
    ),
    Wrong(
        "05.inverse_cdf_sample",
        "a loop comparing u <= c (the left rule)",
        source="""
        import numpy as np

        def inverse_cdf_sample(probs, uniforms):
            cumulative = np.cumsum(probs)
            out = []
            for u in np.ravel(uniforms):
                i = 0
                while i < len(probs) - 1 and cumulative[i] < u:
                    i += 1
                out.append(i)
            return np.array(out).reshape(np.shape(uniforms))
        """,
        diagnosis="belongs to token i + 1",
    ),
    Wrong(
        "05.inverse_cdf_sample",
        "no cap: u above every cumulative sum falls off the end",
        source="""
        import numpy as np

        def inverse_cdf_sample(probs, uniforms):
            return np.searchsorted(np.cumsum(probs), uniforms, side="right")
        """,
        diagnosis="is outside 0..",
    ),
    Wrong(
        "05.inverse_cdf_sample",
        "caps at the last token, whose probability is 0",
        source="""
        import numpy as np

        def inverse_cdf_sample(probs, uniforms):
            ids = np.searchsorted(np.cumsum(probs), uniforms, side="right")
            return np.minimum(ids, len(probs) - 1)
        """,
        diagnosis="capped the ids at the last token",
    ),
    Wrong(
        "05.inverse_cdf_sample",
        "argmax of cumsum > u (all-False row gives token 0)",
        source="""
        import numpy as np

        def inverse_cdf_sample(probs, uniforms):
            above = np.cumsum(probs) > np.asarray(uniforms)[..., None]
            return np.argmax(above, axis=-1)
        """,
        diagnosis="all-False",
    ),
    Wrong(
        "05.inverse_cdf_sample",
        "float ids",
        source="""
        import numpy as np

        def inverse_cdf_sample(probs, uniforms):
            ids = np.searchsorted(np.cumsum(probs), uniforms, side="right")
            return np.minimum(ids, np.flatnonzero(probs > 0)[-1]).astype(float)
        """,
        diagnosis="expected integers",
    ),
    Wrong(
        "05.inverse_cdf_sample",
        "ids counted from 1",
        source="""
        import numpy as np

        def inverse_cdf_sample(probs, uniforms):
            ids = np.searchsorted(np.cumsum(probs), uniforms, side="right")
            return np.minimum(ids, np.flatnonzero(probs > 0)[-1]) + 1
        """,
        diagnosis="off by one",
    ),
    Wrong(
        "05.inverse_cdf_sample",
        "draws new random numbers instead of using the uniforms",
        source="""
        import numpy as np

        def inverse_cdf_sample(probs, uniforms):
            rng = np.random.default_rng(0)
            return rng.choice(len(probs), size=np.shape(uniforms), p=probs)
        """,
    ),
    Wrong(
        "05.inverse_cdf_sample",
        "a CDF over the tokens sorted by probability",
        source="""
        import numpy as np

        def inverse_cdf_sample(probs, uniforms):
            order = np.argsort(-probs, kind="stable")
            cumulative = np.cumsum(probs[order])
            ids = np.searchsorted(cumulative, uniforms, side="right")
            return order[np.minimum(ids, int((probs > 0).sum()) - 1)]
        """,
        diagnosis="vocabulary order",
    ),
    # --- 05.top_k_filter ---------------------------------------------------------------------
    Wrong(
        "05.top_k_filter",
        "keeps every token tied with the k-th (threshold >=)",
        source="""
        import numpy as np

        def top_k_filter(logits, k):
            k = min(k, logits.shape[-1])
            kth = np.sort(logits, axis=-1)[..., -k][..., None]
            return np.where(logits >= kth, logits, -np.inf)
        """,
        diagnosis="Hugging Face's rule",
    ),
    Wrong(
        "05.top_k_filter",
        "off by one: k + 1 tokens",
        source="""
        import numpy as np

        def top_k_filter(logits, k):
            order = np.argsort(-logits, axis=-1, kind="stable")
            keep = np.zeros(logits.shape, dtype=bool)
            np.put_along_axis(keep, order[..., : k + 1], True, axis=-1)
            return np.where(keep, logits, -np.inf)
        """,
        diagnosis="k + 1 tokens",
    ),
    Wrong(
        "05.top_k_filter",
        "off by one: k - 1 tokens",
        source="""
        import numpy as np

        def top_k_filter(logits, k):
            order = np.argsort(-logits, axis=-1, kind="stable")
            keep = np.zeros(logits.shape, dtype=bool)
            np.put_along_axis(keep, order[..., : k - 1], True, axis=-1)
            return np.where(keep, logits, -np.inf)
        """,
        diagnosis="k - 1 tokens",
    ),
    Wrong(
        "05.top_k_filter",
        "removed tokens set to 0",
        source="""
        import numpy as np

        def top_k_filter(logits, k):
            order = np.argsort(-logits, axis=-1, kind="stable")
            keep = np.zeros(logits.shape, dtype=bool)
            np.put_along_axis(keep, order[..., :k], True, axis=-1)
            return np.where(keep, logits, 0.0)
        """,
        diagnosis="0 is an ordinary score",
    ),
    Wrong(
        "05.top_k_filter",
        "returns renormalized probabilities",
        source="""
        import numpy as np
        import utils

        def top_k_filter(logits, k):
            order = np.argsort(-logits, axis=-1, kind="stable")
            keep = np.zeros(logits.shape, dtype=bool)
            np.put_along_axis(keep, order[..., :k], True, axis=-1)
            return utils.softmax(np.where(keep, logits, -np.inf))
        """,
        diagnosis="sums to 1 like probabilities",
    ),
    Wrong(
        "05.top_k_filter",
        "changes the logits in place",
        source="""
        import numpy as np

        def top_k_filter(logits, k):
            order = np.argsort(-logits, axis=-1, kind="stable")
            np.put_along_axis(logits, order[..., k:], -np.inf, axis=-1)
            return logits
        """,
        diagnosis="changed its input in place",
    ),
    Wrong(
        "05.top_k_filter",
        "keeps the k lowest",
        source="""
        import numpy as np

        def top_k_filter(logits, k):
            order = np.argsort(logits, axis=-1, kind="stable")
            keep = np.zeros(logits.shape, dtype=bool)
            np.put_along_axis(keep, order[..., :k], True, axis=-1)
            return np.where(keep, logits, -np.inf)
        """,
        diagnosis="k LOWEST",
    ),
    Wrong(
        "05.top_k_filter",
        "reverses an ascending sort (ties: higher ids first)",
        source="""
        import numpy as np

        def top_k_filter(logits, k):
            order = np.argsort(logits, axis=-1, kind="stable")[..., ::-1]
            keep = np.zeros(logits.shape, dtype=bool)
            np.put_along_axis(keep, order[..., :k], True, axis=-1)
            return np.where(keep, logits, -np.inf)
        """,
        diagnosis="among the tokens tied",
    ),
    Wrong(
        "05.top_k_filter",
        "an unstable sort (np.argsort's default)",
        source="""
        import numpy as np

        def top_k_filter(logits, k):
            order = np.argsort(-logits, axis=-1)
            keep = np.zeros(logits.shape, dtype=bool)
            np.put_along_axis(keep, order[..., :k], True, axis=-1)
            return np.where(keep, logits, -np.inf)
        """,
        diagnosis="among the tokens tied",
    ),
    Wrong(
        "05.top_k_filter",
        "np.argpartition (ties and k > vocabulary)",
        source="""
        import numpy as np

        def top_k_filter(logits, k):
            k = min(k, logits.shape[-1])
            top = np.argpartition(-logits, k - 1, axis=-1)[..., :k]
            keep = np.zeros(logits.shape, dtype=bool)
            np.put_along_axis(keep, top, True, axis=-1)
            return np.where(keep, logits, -np.inf)
        """,
        diagnosis="among the tokens tied",
    ),
    Wrong(
        "05.top_k_filter",
        "returns the kept token ids",
        source="""
        import numpy as np

        def top_k_filter(logits, k):
            return np.argsort(-logits, axis=-1, kind="stable")[..., :k]
        """,
    ),
    Wrong(
        "05.top_k_filter",
        "ranks the whole batch as one row",
        source="""
        import numpy as np

        def top_k_filter(logits, k):
            flat = logits.ravel()
            order = np.argsort(-flat, kind="stable")
            out = np.full_like(flat, -np.inf)
            out[order[:k]] = flat[order[:k]]
            return out.reshape(logits.shape)
        """,
        diagnosis="whole batch as one row",
    ),
    Wrong(
        "05.top_k_filter",
        "removed tokens set to -1e9 instead of -inf",
        source="""
        import numpy as np

        def top_k_filter(logits, k):
            order = np.argsort(-logits, axis=-1, kind="stable")
            keep = np.zeros(logits.shape, dtype=bool)
            np.put_along_axis(keep, order[..., :k], True, axis=-1)
            return np.where(keep, logits, -1e9)
        """,
        diagnosis="is not -inf at positions",
    ),
    # --- 05.top_p_filter ---------------------------------------------------------------------
    Wrong(
        "05.top_p_filter",
        "running total >= p without a rounding tolerance",
        source=_TOP_P_HEAD
        + """
def top_p_filter(logits, p):
    if p == 1.0:
        return logits.copy()
    order = np.argsort(-logits, axis=-1, kind="stable")
    running = np.cumsum(np.take_along_axis(utils.softmax(logits), order, axis=-1), axis=-1)
    before = running - np.take_along_axis(utils.softmax(logits), order, axis=-1)
    keep_ranked = before < p
    keep_ranked[..., 0] = True
    keep = np.empty_like(keep_ranked)
    np.put_along_axis(keep, order, keep_ranked, axis=-1)
    return np.where(keep, logits, -np.inf)
""",
        diagnosis="within 1e-12 of p",
    ),
    Wrong(
        "05.top_p_filter",
        "p = 1 not special-cased (tiny tail dropped)",
        source=_TOP_P_HEAD
        + """
def top_p_filter(logits, p):
    order = np.argsort(-logits, axis=-1, kind="stable")
    ranked = np.take_along_axis(utils.softmax(logits), order, axis=-1)
    before = np.cumsum(ranked, axis=-1) - ranked
    keep_ranked = before < p - 1e-12
    keep_ranked[..., 0] = True
    keep = np.empty_like(keep_ranked)
    np.put_along_axis(keep, order, keep_ranked, axis=-1)
    return np.where(keep, logits, -np.inf)
""",
        diagnosis="with p = 1 every token",
    ),
    Wrong(
        "05.top_p_filter",
        "keeps tokens while the cumulative mass is <= p (drops the crossing token)",
        source=_TOP_P_HEAD
        + """
def top_p_filter(logits, p):
    if p == 1.0:
        return logits.copy()
    order = np.argsort(-logits, axis=-1, kind="stable")
    running = np.cumsum(np.take_along_axis(utils.softmax(logits), order, axis=-1), axis=-1)
    keep_ranked = running <= p + 1e-12
    keep = np.empty_like(keep_ranked)
    np.put_along_axis(keep, order, keep_ranked, axis=-1)
    return np.where(keep, logits, -np.inf)
""",
        diagnosis="dropped the token",
    ),
    Wrong(
        "05.top_p_filter",
        "off by one: keeps the token after the crossing one",
        source=_TOP_P_HEAD
        + """
def top_p_filter(logits, p):
    if p == 1.0:
        return logits.copy()
    order = np.argsort(-logits, axis=-1, kind="stable")
    ranked = np.take_along_axis(utils.softmax(logits), order, axis=-1)
    before = np.cumsum(ranked, axis=-1) - ranked
    keep_ranked = before <= p + 1e-12
    keep = np.empty_like(keep_ranked)
    np.put_along_axis(keep, order, keep_ranked, axis=-1)
    return np.where(keep, logits, -np.inf)
""",
        diagnosis="one token too many",
    ),
    Wrong(
        "05.top_p_filter",
        "an unstable sort (np.argsort's default)",
        source=_TOP_P_HEAD
        + """
def top_p_filter(logits, p):
    if p == 1.0:
        return logits.copy()
    order = np.argsort(-logits, axis=-1)
    ranked = np.take_along_axis(utils.softmax(logits), order, axis=-1)
    before = np.cumsum(ranked, axis=-1) - ranked
    keep_ranked = before < p - 1e-12
    keep = np.empty_like(keep_ranked)
    np.put_along_axis(keep, order, keep_ranked, axis=-1)
    return np.where(keep, logits, -np.inf)
""",
        diagnosis="lower token id first",
    ),
    Wrong(
        "05.top_p_filter",
        "reverses an ascending sort (ties: higher ids first)",
        source=_TOP_P_HEAD
        + """
def top_p_filter(logits, p):
    if p == 1.0:
        return logits.copy()
    order = np.argsort(logits, axis=-1, kind="stable")[..., ::-1]
    ranked = np.take_along_axis(utils.softmax(logits), order, axis=-1)
    before = np.cumsum(ranked, axis=-1) - ranked
    keep_ranked = before < p - 1e-12
    keep = np.empty_like(keep_ranked)
    np.put_along_axis(keep, order, keep_ranked, axis=-1)
    return np.where(keep, logits, -np.inf)
""",
        diagnosis="lower token id first",
    ),
    Wrong(
        "05.top_p_filter",
        "returns the renormalized probabilities",
        source=_TOP_P_HEAD
        + """
def top_p_filter(logits, p):
    order = np.argsort(-logits, axis=-1, kind="stable")
    ranked = np.take_along_axis(utils.softmax(logits), order, axis=-1)
    before = np.cumsum(ranked, axis=-1) - ranked
    keep_ranked = (before < p - 1e-12) | (p == 1.0)
    keep = np.empty_like(keep_ranked)
    np.put_along_axis(keep, order, keep_ranked, axis=-1)
    return utils.softmax(np.where(keep, logits, -np.inf))
""",
        diagnosis="sums to 1 like probabilities",
    ),
    Wrong(
        "05.top_p_filter",
        "Hugging Face's tail rule (remove while the tail mass <= 1 - p)",
        source=_TOP_P_HEAD
        + """
def top_p_filter(logits, p):
    order = np.argsort(logits, axis=-1, kind="stable")
    tail = np.cumsum(np.take_along_axis(utils.softmax(logits), order, axis=-1), axis=-1)
    remove_ranked = tail <= 1 - p
    remove_ranked[..., -1] = False
    remove = np.empty_like(remove_ranked)
    np.put_along_axis(remove, order, remove_ranked, axis=-1)
    return np.where(remove, -np.inf, logits)
""",
        diagnosis="lower token id first",
    ),
    Wrong(
        "05.top_p_filter",
        "cumsum without an axis (a batch is summed as one row)",
        source=_TOP_P_HEAD
        + """
def top_p_filter(logits, p):
    if p == 1.0:
        return logits.copy()
    order = np.argsort(-logits, axis=-1, kind="stable")
    ranked = np.take_along_axis(utils.softmax(logits), order, axis=-1)
    before = (np.cumsum(ranked) - ranked.ravel()).reshape(ranked.shape)
    keep_ranked = before < p - 1e-12
    keep_ranked[..., 0] = True
    keep = np.empty_like(keep_ranked)
    np.put_along_axis(keep, order, keep_ranked, axis=-1)
    return np.where(keep, logits, -np.inf)
""",
        diagnosis="carries over from one row",
    ),
    Wrong(
        "05.top_p_filter",
        "changes the logits in place",
        source=_TOP_P_HEAD
        + """
def top_p_filter(logits, p):
    if p == 1.0:
        return logits
    order = np.argsort(-logits, axis=-1, kind="stable")
    ranked = np.take_along_axis(utils.softmax(logits), order, axis=-1)
    before = np.cumsum(ranked, axis=-1) - ranked
    remove = np.empty(logits.shape, dtype=bool)
    np.put_along_axis(remove, order, before >= p - 1e-12, axis=-1)
    logits[remove] = -np.inf
    return logits
""",
        diagnosis="changed its input in place",
    ),
]

WRONG.append(
    Wrong(
        "05.top_p_filter",
        "running total of exponentials that were never normalized",
        source=_TOP_P_HEAD
        + """
def top_p_filter(logits, p):
    if p == 1.0:
        return logits.copy()
    order = np.argsort(-logits, axis=-1, kind="stable")
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    ranked = np.take_along_axis(weights, order, axis=-1)
    keep_ranked = np.cumsum(ranked, axis=-1) - ranked < p - 1e-12
    keep_ranked[..., 0] = True
    keep = np.empty_like(keep_ranked)
    np.put_along_axis(keep, order, keep_ranked, axis=-1)
    return np.where(keep, logits, -np.inf)
""",
        diagnosis="were not normalized",
    )
)

WRONG += [
    # --- 05.top_p_range -----------------------------------------------------------------------
    Wrong(
        "05.top_p_range",
        "s[k - 2] for the lower end, also for k = 1 (Python's s[-1]; red team B1)",
        source="""
        import numpy as np
        import utils

        def top_p_range(logits, k):
            s = np.cumsum(np.sort(utils.softmax(logits))[::-1])
            return (s[k - 2], s[k - 1])
        """,
        diagnosis="for k = 1 the lower end is S_0 = 0",
    ),
    Wrong(
        "05.top_p_range",
        "the open end nudged inside (p = low is excluded; red team B1)",
        source="""
        import numpy as np
        import utils

        def top_p_range(logits, k):
            s = np.concatenate([[0.0], np.cumsum(np.sort(utils.softmax(logits))[::-1])])
            return (s[k - 1] + 1e-9, min(s[k], 1.0))
        """,
        diagnosis="give each end itself, not a value just inside it",
    ),
    Wrong(
        "05.top_p_range",
        "boundary token excluded (one running total too far)",
        source="""
        import numpy as np
        import utils

        def top_p_range(logits, k):
            running = np.cumsum(np.sort(utils.softmax(logits))[::-1])
            return running[k - 1], running[k] if k < len(running) else 1.0
        """,
        diagnosis="that range keeps k + 1 tokens",
    ),
    Wrong(
        "05.top_p_range",
        "one running total too early",
        source="""
        import numpy as np
        import utils

        def top_p_range(logits, k):
            ranked = np.sort(utils.softmax(logits))[::-1]
            running = np.concatenate([[0.0, 0.0], np.cumsum(ranked)])
            return running[k - 1], running[k]
        """,
        diagnosis="that range keeps k - 1 tokens",
    ),
    Wrong(
        "05.top_p_range",
        "running total in vocabulary order",
        source="""
        import numpy as np
        import utils

        def top_p_range(logits, k):
            running = np.concatenate([[0.0], np.cumsum(utils.softmax(logits))])
            return running[k - 1], running[k]
        """,
        diagnosis="in vocabulary order",
    ),
    Wrong(
        "05.top_p_range",
        "ascending sort",
        source="""
        import numpy as np
        import utils

        def top_p_range(logits, k):
            running = np.concatenate([[0.0], np.cumsum(np.sort(utils.softmax(logits)))])
            return running[k - 1], running[k]
        """,
        diagnosis="least likely tokens first",
    ),
    Wrong(
        "05.top_p_range",
        "tail masses",
        source="""
        import numpy as np
        import utils

        def top_p_range(logits, k):
            ranked = np.sort(utils.softmax(logits))[::-1]
            running = np.concatenate([[0.0], np.cumsum(ranked)])
            return 1.0 - running[k], 1.0 - running[k - 1]
        """,
        diagnosis="the tail",
    ),
    Wrong(
        "05.top_p_range",
        "logits added up instead of probabilities",
        source="""
        import numpy as np

        def top_p_range(logits, k):
            running = np.concatenate([[0.0], np.cumsum(np.sort(logits)[::-1])])
            return running[k - 1], min(running[k], 1.0)
        """,
        diagnosis="added up scores (logits)",
    ),
    Wrong(
        "05.top_p_range",
        "naive softmax (overflows near 1000)",
        source="""
        import numpy as np

        def top_p_range(logits, k):
            e = np.exp(logits)
            running = np.concatenate([[0.0], np.cumsum(np.sort(e / e.sum())[::-1])])
            return running[k - 1], min(running[k], 1.0)
        """,
        diagnosis="overflowed",
    ),
    Wrong(
        "05.top_p_range",
        "lower end always 0",
        source="""
        import numpy as np
        import utils

        def top_p_range(logits, k):
            running = np.cumsum(np.sort(utils.softmax(logits))[::-1])
            return 0.0, min(running[k - 1], 1.0)
        """,
        diagnosis="the upper end is right",
    ),
]

RIGHT = [
    Right(
        "05.inverse_cdf_sample",
        "count the cumulative sums <= u",
        source="""
        import numpy as np

        def inverse_cdf_sample(probs, uniforms):
            u = np.asarray(uniforms)
            ids = (np.cumsum(probs) <= u[..., None]).sum(axis=-1)
            return np.minimum(ids, np.nonzero(probs)[0].max())
        """,
    ),
    Right(
        "05.inverse_cdf_sample",
        "a Python loop over the uniforms",
        source="""
        import numpy as np

        def inverse_cdf_sample(probs, uniforms):
            cumulative = np.cumsum(probs)
            last = max(i for i, p in enumerate(probs) if p > 0)
            out = []
            for u in np.ravel(uniforms):
                chosen = last
                for i, c in enumerate(cumulative):
                    if c > u:
                        chosen = min(i, last)
                        break
                out.append(chosen)
            return np.array(out, dtype=int).reshape(np.shape(uniforms))
        """,
    ),
    Right(
        "05.inverse_cdf_sample",
        "np.digitize",
        source="""
        import numpy as np

        def inverse_cdf_sample(probs, uniforms):
            ids = np.digitize(uniforms, np.cumsum(probs))
            return np.minimum(ids, np.flatnonzero(probs)[-1])
        """,
    ),
    Right(
        "05.top_k_filter",
        "sorted with a key, row by row",
        source="""
        import numpy as np

        def top_k_filter(logits, k):
            rows = logits.reshape(-1, logits.shape[-1])
            out = np.full(rows.shape, -np.inf)
            for r, row in enumerate(rows):
                for i in sorted(range(len(row)), key=lambda i: -row[i])[:k]:
                    out[r, i] = row[i]
            return out.reshape(logits.shape)
        """,
    ),
    Right(
        "05.top_k_filter",
        "ranks from a double argsort",
        source="""
        import numpy as np

        def top_k_filter(logits, k):
            order = np.argsort(-logits, axis=-1, kind="stable")
            rank = np.argsort(order, axis=-1, kind="stable")
            return np.where(rank < k, logits, -np.inf)
        """,
    ),
    Right(
        "05.top_k_filter",
        "np.lexsort on (id, -logit), then a copy",
        source="""
        import numpy as np

        def top_k_filter(logits, k):
            out = np.full_like(logits, -np.inf)
            for index in np.ndindex(logits.shape[:-1]):
                row = logits[index]
                keep = np.lexsort((np.arange(row.size), -row))[:k]
                out[index + (keep,)] = row[keep]
            return out
        """,
    ),
    Right(
        "05.top_p_filter",
        "sorted with a key and a running total in Python",
        source="""
        import numpy as np
        import utils

        def top_p_filter(logits, p):
            if p == 1:
                return logits.copy()
            probs = utils.softmax(logits)
            out = np.full_like(logits, -np.inf)
            for index in np.ndindex(logits.shape[:-1]):
                row = probs[index]
                total = 0.0
                for i in sorted(range(row.size), key=lambda i: -logits[index][i]):
                    out[index + (i,)] = logits[index][i]
                    total += row[i]
                    if total >= p - 1e-12:
                        break
            return out
        """,
    ),
    Right(
        "05.top_p_filter",
        "mass before each ranked token, with a double argsort for ranks",
        source="""
        import numpy as np
        import scipy.special

        def top_p_filter(logits, p):
            if p >= 1.0:
                return np.array(logits, copy=True)
            order = np.argsort(-logits, axis=-1, kind="stable")
            ranked = np.take_along_axis(scipy.special.softmax(logits, axis=-1), order, -1)
            before = np.cumsum(ranked, axis=-1) - ranked
            keep_ranked = (before < p - 1e-12) | (np.arange(ranked.shape[-1]) == 0)
            rank = np.argsort(order, axis=-1, kind="stable")
            keep = np.take_along_axis(keep_ranked, rank, axis=-1)
            return np.where(keep, logits, -np.inf)
        """,
    ),
    Right(
        "05.top_p_range",
        "a loop over sorted probabilities",
        source="""
        import utils

        def top_p_range(logits, k):
            ranked = sorted(utils.softmax(logits), reverse=True)
            low = sum(ranked[: k - 1])
            high = min(sum(ranked[:k]), 1.0)
            return low, high
        """,
    ),
    Right(
        "05.top_p_range",
        "scipy softmax and np.partition",
        source="""
        import numpy as np
        from scipy.special import softmax

        def top_p_range(logits, k):
            probs = np.sort(softmax(np.asarray(logits, dtype=float)))[::-1]
            return float(probs[: k - 1].sum()), float(min(probs[:k].sum(), 1.0))
        """,
    ),
    Right(
        "05.top_p_range",
        "a list [low, high]",
        source="""
        import numpy as np
        import utils

        def top_p_range(logits, k):
            running = np.concatenate([[0.0], np.cumsum(-np.sort(-utils.softmax(logits)))])
            return [running[k - 1], min(running[k], 1.0)]
        """,
    ),
]
