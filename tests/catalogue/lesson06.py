"""Lesson 06 (sequence scores): answers learners write, wrong and right."""

from tests.catalogue import Right, Wrong

WRONG = [
    # --- 06.sequence_log_prob ----------------------------------------------------------------
    Wrong(
        "06.sequence_log_prob",
        "returns the per-token log-probabilities",
        source="""
        import numpy as np
        import utils

        def sequence_log_prob(logits, token_ids):
            return utils.log_softmax(logits, axis=-1)[np.arange(len(token_ids)), token_ids]
        """,
        diagnosis="one log-probability per token",
    ),
    Wrong(
        "06.sequence_log_prob",
        "multiplies probabilities, then takes the log",
        source="""
        import numpy as np
        import utils

        def sequence_log_prob(logits, token_ids):
            probs = utils.softmax(logits, axis=-1)[np.arange(len(token_ids)), token_ids]
            return np.log(np.prod(probs))
        """,
        diagnosis="underflowed to 0 before the log",
    ),
    Wrong(
        "06.sequence_log_prob",
        "log of a naive softmax",
        source="""
        import numpy as np

        def sequence_log_prob(logits, token_ids):
            probs = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
            return np.log(probs[np.arange(len(token_ids)), token_ids]).sum()
        """,
        diagnosis="exp of large scores overflowed",
    ),
    Wrong(
        "06.sequence_log_prob",
        "normalizes over the time axis",
        source="""
        import numpy as np
        import utils

        def sequence_log_prob(logits, token_ids):
            return utils.log_softmax(logits, axis=0)[np.arange(len(token_ids)), token_ids].sum()
        """,
        diagnosis="normalized over the time axis",
    ),
    Wrong(
        "06.sequence_log_prob",
        "adds the raw scores",
        source="""
        import numpy as np

        def sequence_log_prob(logits, token_ids):
            return logits[np.arange(len(token_ids)), token_ids].sum()
        """,
        diagnosis="raw scores of the chosen tokens",
    ),
    Wrong(
        "06.sequence_log_prob",
        "shifted pairing (logits[t] with token_ids[t + 1])",
        source="""
        import numpy as np
        import utils

        def sequence_log_prob(logits, token_ids):
            log_probs = utils.log_softmax(logits[:-1], axis=-1)
            return log_probs[np.arange(len(token_ids) - 1), token_ids[1:]].sum()
        """,
        diagnosis="paired logits[t] with token_ids[t + 1]",
    ),
    Wrong(
        "06.sequence_log_prob",
        "picks the chosen tokens by multiplying with a one-hot",
        source="""
        import numpy as np
        import utils

        def sequence_log_prob(logits, token_ids):
            one_hot = np.eye(logits.shape[-1])[token_ids]
            return (utils.log_softmax(logits, axis=-1) * one_hot).sum()
        """,
        diagnosis="one-hot",
    ),
    Wrong(
        "06.sequence_log_prob",
        "the mean instead of the sum",
        source="""
        import numpy as np
        import utils

        def sequence_log_prob(logits, token_ids):
            return utils.log_softmax(logits, axis=-1)[np.arange(len(token_ids)), token_ids].mean()
        """,
        diagnosis="averaged the log-probabilities",
    ),
    Wrong(
        "06.sequence_log_prob",
        "the negative log-likelihood (sign)",
        source="""
        import numpy as np
        import utils

        def sequence_log_prob(logits, token_ids):
            return -utils.log_softmax(logits, axis=-1)[np.arange(len(token_ids)), token_ids].sum()
        """,
        diagnosis="sign is flipped",
    ),
    Wrong(
        "06.sequence_log_prob",
        "log base 2",
        source="""
        import numpy as np
        import utils

        def sequence_log_prob(logits, token_ids):
            picked = utils.log_softmax(logits, axis=-1)[np.arange(len(token_ids)), token_ids]
            return picked.sum() / np.log(2)
        """,
        diagnosis="not log2",
    ),
    Wrong(
        "06.sequence_log_prob",
        "logits[:, token_ids] picks every chosen token at every step",
        source="""
        import utils

        def sequence_log_prob(logits, token_ids):
            return utils.log_softmax(logits, axis=-1)[:, token_ids].sum()
        """,
        diagnosis="at every step",
    ),
    Wrong(
        "06.sequence_log_prob",
        "replaces -inf log-probabilities by 0",
        source="""
        import numpy as np
        import utils

        def sequence_log_prob(logits, token_ids):
            log_probs = utils.log_softmax(logits, axis=-1)
            log_probs = np.where(np.isinf(log_probs), 0.0, log_probs)
            return log_probs[np.arange(len(token_ids)), token_ids].sum()
        """,
        diagnosis="keep the -inf",
    ),
    # --- 06.length_normalized ----------------------------------------------------------------
    Wrong(
        "06.length_normalized",
        "divides by the length, ignores length_penalty",
        source="""
        import numpy as np

        def length_normalized(score, length, length_penalty=1.0):
            return np.asarray(score) / np.asarray(length)
        """,
        diagnosis="ignored length_penalty",
    ),
    Wrong(
        "06.length_normalized",
        "multiplies by length ** length_penalty",
        source="""
        import numpy as np

        def length_normalized(score, length, length_penalty=1.0):
            return np.asarray(score) * np.asarray(length, dtype=float) ** length_penalty
        """,
        diagnosis="you multiplied by length ** length_penalty",
    ),
    Wrong(
        "06.length_normalized",
        "divides by length_penalty * length",
        source="""
        import numpy as np

        def length_normalized(score, length, length_penalty=1.0):
            return np.asarray(score) / (length_penalty * np.asarray(length))
        """,
        diagnosis="length_penalty * length",
    ),
    Wrong(
        "06.length_normalized",
        "exponent 1 / length_penalty",
        source="""
        import numpy as np

        def length_normalized(score, length, length_penalty=1.0):
            return np.asarray(score) / np.asarray(length, dtype=float) ** (1 / length_penalty)
        """,
    ),
    Wrong(
        "06.length_normalized",
        "sign flipped",
        source="""
        import numpy as np

        def length_normalized(score, length, length_penalty=1.0):
            return -np.asarray(score) / np.asarray(length, dtype=float) ** length_penalty
        """,
        diagnosis="sign is flipped",
    ),
    Wrong(
        "06.length_normalized",
        "Google's ((5 + length) / 6) ** length_penalty",
        source="""
        import numpy as np

        def length_normalized(score, length, length_penalty=1.0):
            return np.asarray(score) / ((5 + np.asarray(length)) / 6) ** length_penalty
        """,
        diagnosis="Google",
    ),
    Wrong(
        "06.length_normalized",
        "math.pow (single numbers only)",
        source="""
        import math

        def length_normalized(score, length, length_penalty=1.0):
            return score / math.pow(length, length_penalty)
        """,
    ),
    Wrong(
        "06.length_normalized",
        "floor division",
        source="""
        import numpy as np

        def length_normalized(score, length, length_penalty=1.0):
            return np.asarray(score) // np.asarray(length, dtype=float) ** length_penalty
        """,
    ),
    # --- 06.best_sequence --------------------------------------------------------------------
    Wrong(
        "06.best_sequence",
        "greedy decoding",
        source="""
        import numpy as np

        def best_sequence(first, second, third):
            a = int(np.argmax(first))
            b = int(np.argmax(second[a]))
            c = int(np.argmax(third[a, b]))
            return np.array([a, b, c]), float(np.log(first[a] * second[a, b] * third[a, b, c]))
        """,
        diagnosis="greedy sequence",
    ),
    Wrong(
        "06.best_sequence",
        "loops hard-coded to 3 tokens",
        source="""
        import math
        import numpy as np

        def best_sequence(first, second, third):
            best, best_p = None, -1.0
            for a in range(3):
                for b in range(3):
                    for c in range(3):
                        p = first[a] * second[a, b] * third[a, b, c]
                        if p > best_p:
                            best, best_p = (a, b, c), p
            return np.array(best), math.log(best_p)
        """,
        diagnosis="first 3 tokens only",
    ),
    Wrong(
        "06.best_sequence",
        "ids in reverse order",
        source="""
        import numpy as np

        def best_sequence(first, second, third):
            with np.errstate(divide="ignore"):
                joint = np.log(first)[:, None, None] + np.log(second)[:, :, None] + np.log(third)
            best = np.unravel_index(np.argmax(joint), joint.shape)
            return np.array(best[::-1]), float(joint[best])
        """,
        diagnosis="reverse order",
    ),
    Wrong(
        "06.best_sequence",
        "returns the probability, not its log",
        source="""
        import numpy as np

        def best_sequence(first, second, third):
            joint = first[:, None, None] * second[:, :, None] * third
            best = np.unravel_index(np.argmax(joint), joint.shape)
            return np.array(best), float(joint[best])
        """,
        diagnosis="is a probability",
    ),
    Wrong(
        "06.best_sequence",
        "log-probability with the sign flipped",
        source="""
        import numpy as np

        def best_sequence(first, second, third):
            joint = first[:, None, None] * second[:, :, None] * third
            best = np.unravel_index(np.argmax(joint), joint.shape)
            return np.array(best), float(-np.log(joint[best]))
        """,
        diagnosis="sign is flipped",
    ),
    Wrong(
        "06.best_sequence",
        "beam search of width 2",
        source="""
        import numpy as np

        def best_sequence(first, second, third):
            beams = [((int(a),), np.log(first[a])) for a in np.argsort(-first, kind="stable")[:2]]
            for table in (second, third):
                grown = []
                for ids, score in beams:
                    row = table[ids]
                    grown += [(ids + (t,), score + np.log(row[t])) for t in range(len(row))]
                grown.sort(key=lambda item: -item[1])
                beams = grown[:2]
            ids, score = beams[0]
            return np.array(ids), float(score)
        """,
        diagnosis="beam search of width 2",
    ),
    Wrong(
        "06.best_sequence",
        "np.argmax's flat index, not unravelled",
        source="""
        import numpy as np

        def best_sequence(first, second, third):
            joint = np.log(first[:, None, None] * second[:, :, None] * third)
            best = np.argmax(joint)
            return best, float(joint.ravel()[best])
        """,
        diagnosis="flat index",
    ),
    Wrong(
        "06.best_sequence",
        "adds the probabilities of the three steps",
        source="""
        import numpy as np

        def best_sequence(first, second, third):
            joint = first[:, None, None] + second[:, :, None] + third
            best = np.unravel_index(np.argmax(joint), joint.shape)
            a, b, c = best
            return np.array(best), float(np.log(first[a] * second[a, b] * third[a, b, c]))
        """,
        diagnosis="added the probabilities",
    ),
    Wrong(
        "06.best_sequence",
        "hard-coded ids (0, 1, 2) scored by the model (no search, no mistake to name)",
        source="""
        import numpy as np

        def best_sequence(first, second, third):
            a, b, c = (0, 1, 2)
            return np.array([a, b, c]), float(np.log(first[a] * second[a, b] * third[a, b, c]))
        """,
        diagnosis=None,
    ),
    Wrong(
        "06.best_sequence",
        "hard-coded ids (1, 0, 0) scored by the model (no search, no mistake to name)",
        source="""
        import numpy as np

        def best_sequence(first, second, third):
            a, b, c = (1, 0, 0)
            return np.array([a, b, c]), float(np.log(first[a] * second[a, b] * third[a, b, c]))
        """,
        diagnosis=None,
    ),
    Wrong(
        "06.best_sequence",
        "hard-coded ids (0, 0, 0) scored by the model (no search, no mistake to name)",
        source="""
        import numpy as np

        def best_sequence(first, second, third):
            a, b, c = (0, 0, 0)
            return np.array([a, b, c]), float(np.log(first[a] * second[a, b] * third[a, b, c]))
        """,
        diagnosis=None,
    ),
]

WRONG.append(
    Wrong(
        "06.best_sequence",
        "the first table broadcast along the last axis",
        source="""
        import numpy as np

        def best_sequence(first, second, third):
            with np.errstate(divide="ignore"):
                t = np.log(first)[None, None, :] + np.log(second)[None, :, :] + np.log(third)
            best = np.unravel_index(np.argmax(t), t.shape)
            return np.array(best), float(t[best])
        """,
        diagnosis="broadcast along the wrong axes",
    )
)

RIGHT = [
    Right(
        "06.sequence_log_prob",
        "np.take_along_axis minus scipy's logsumexp",
        source="""
        import numpy as np
        from scipy.special import logsumexp

        def sequence_log_prob(logits, token_ids):
            picked = np.take_along_axis(logits, token_ids[:, None], axis=-1)[:, 0]
            return float(np.sum(picked - logsumexp(logits, axis=-1)))
        """,
    ),
    Right(
        "06.sequence_log_prob",
        "a Python loop over the steps",
        source="""
        import math

        def sequence_log_prob(logits, token_ids):
            total = 0.0
            for row, token in zip(logits, token_ids):
                top = max(row)
                norm = top + math.log(sum(math.exp(z - top) for z in row))
                total += row[token] - norm
            return total
        """,
    ),
    Right(
        "06.sequence_log_prob",
        "scipy's log_softmax in the input's dtype (float32 stays float32)",
        source="""
        import numpy as np
        from scipy.special import log_softmax

        def sequence_log_prob(logits, token_ids):
            return log_softmax(logits, axis=-1)[np.arange(len(token_ids)), token_ids].sum()
        """,
    ),
    Right(
        "06.length_normalized",
        "np.divide and np.power",
        source="""
        import numpy as np

        def length_normalized(score, length, length_penalty=1.0):
            return np.divide(score, np.power(np.asarray(length, dtype=float), length_penalty))
        """,
    ),
    Right(
        "06.length_normalized",
        "the plain formula",
        source="""
        def length_normalized(score, length, length_penalty=1.0):
            return score / length**length_penalty
        """,
    ),
    Right(
        "06.length_normalized",
        "a negative power",
        source="""
        import numpy as np

        def length_normalized(score, length, length_penalty=1.0):
            return np.asarray(score) * np.asarray(length, dtype=float) ** -length_penalty
        """,
    ),
    Right(
        "06.best_sequence",
        "itertools.product and max with a key",
        source="""
        import itertools
        import math
        import numpy as np

        def best_sequence(first, second, third):
            n = len(first)

            def probability(ids):
                a, b, c = ids
                return first[a] * second[a, b] * third[a, b, c]

            best = max(itertools.product(range(n), repeat=3), key=probability)
            return np.array(best), math.log(probability(best))
        """,
    ),
    Right(
        "06.best_sequence",
        "the product of the three tables (no underflow with three factors)",
        source="""
        import numpy as np

        def best_sequence(first, second, third):
            joint = first[:, None, None] * second[:, :, None] * third
            a, b, c = np.unravel_index(np.argmax(joint), joint.shape)
            return np.array([a, b, c]), float(np.log(joint[a, b, c]))
        """,
    ),
    Right(
        "06.best_sequence",
        "nested loops over len(first) in log space",
        source="""
        import math
        import numpy as np

        def best_sequence(first, second, third):
            best, best_score = None, -math.inf
            for a in range(len(first)):
                for b in range(len(first)):
                    for c in range(len(first)):
                        p = first[a] * second[a][b] * third[a][b][c]
                        score = math.log(p) if p > 0 else -math.inf
                        if score > best_score:
                            best, best_score = [a, b, c], score
            return np.array(best), best_score
        """,
    ),
]
