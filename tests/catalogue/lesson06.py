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
    # --- 06.greedy_traps ------------------------------------------------------------------------
    Wrong(
        "06.greedy_traps",
        "True and False swapped (True = greedy misses)",
        source="""
        greedy_traps = {
            "the cat": True, "the bird": True, "the girl": True, "the hen": False,
            "the cat sat": False, "the teacher": True, "the bird sat": False,
        }
        """,
        diagnosis="every verdict is flipped",
    ),
    Wrong(
        "06.greedy_traps",
        "compared 2-token continuations",
        source="""
        import numpy as np
        from utils import lm, sequences
        from utils.exercises.lesson06 import GREEDY_TRAP_CONTEXTS

        model = lm.load()
        greedy_traps = {}
        for context in GREEDY_TRAP_CONTEXTS:
            greedy = sequences.greedy_decode(model, context, 2)
            best = sequences.exhaustive_search(
                model, context, max_new_tokens=2, length_penalty=0.0, top=1
            )[0]
            greedy_traps[context] = bool(np.array_equal(greedy.token_ids, best.token_ids))
        """,
        diagnosis="2-token continuations",
    ),
    Wrong(
        "06.greedy_traps",
        "greedy's whole sentence against the best 3 tokens",
        source="""
        greedy_traps = {
            "the cat": False, "the bird": False, "the girl": False, "the hen": True,
            "the cat sat": False, "the teacher": False, "the bird sat": False,
        }
        """,
        diagnosis="whole sentence",
    ),
    Wrong(
        "06.greedy_traps",
        "greedy is always best",
        source="""
        from utils.exercises.lesson06 import GREEDY_TRAP_CONTEXTS

        greedy_traps = {context: True for context in GREEDY_TRAP_CONTEXTS}
        """,
        diagnosis="greedy is not always best",
    ),
    Wrong(
        "06.greedy_traps",
        "one context misjudged (a slip, not a catalogued mistake)",
        source="""
        greedy_traps = {
            "the cat": False, "the bird": False, "the girl": False, "the hen": True,
            "the cat sat": False, "the teacher": False, "the bird sat": True,
        }
        """,
        diagnosis="some of the verdicts are wrong",
    ),
    Wrong(
        "06.greedy_traps",
        "a list of the contexts where greedy misses",
        source="""
        greedy_traps = ["the cat", "the bird", "the girl", "the teacher"]
        """,
        diagnosis="expected a dict",
    ),
    # --- 06.run_on_diagnosis --------------------------------------------------------------------
    Wrong("06.run_on_diagnosis", "multiplies", 'run_on_diagnosis = "a"', "not (a)"),
    Wrong("06.run_on_diagnosis", "the model changes", 'run_on_diagnosis = "c"', "not (c)"),
    Wrong("06.run_on_diagnosis", "the mean per token", 'run_on_diagnosis = "d"', "not (d)"),
    Wrong("06.run_on_diagnosis", "</s> removed", 'run_on_diagnosis = "e"', "not (e)"),
    Wrong(
        "06.run_on_diagnosis",
        "the letter in parentheses",
        'run_on_diagnosis = "(b)"',
        "letter alone",
    ),
    # --- 06.sequence_entropy --------------------------------------------------------------------
    Wrong(
        "06.sequence_entropy",
        "log2 (bits)",
        source="""
        import numpy as np

        def sequence_entropy(first, second, third):
            joint = first[:, None, None] * second[:, :, None] * third
            p = joint[joint > 0]
            return float(-(p * np.log2(p)).sum())
        """,
        diagnosis="in bits",
    ),
    Wrong(
        "06.sequence_entropy",
        "sign flipped",
        source="""
        import numpy as np

        def sequence_entropy(first, second, third):
            joint = first[:, None, None] * second[:, :, None] * third
            p = joint[joint > 0]
            return float((p * np.log(p)).sum())
        """,
        diagnosis="sign is flipped",
    ),
    Wrong(
        "06.sequence_entropy",
        "0 log 0 gives NaN",
        source="""
        import numpy as np

        def sequence_entropy(first, second, third):
            joint = first[:, None, None] * second[:, :, None] * third
            return float(-(joint * np.log(joint)).sum())
        """,
        diagnosis="0 * log 0",
    ),
    Wrong(
        "06.sequence_entropy",
        "the surprise of the mode",
        source="""
        import numpy as np

        def sequence_entropy(first, second, third):
            joint = first[:, None, None] * second[:, :, None] * third
            return float(-np.log(joint.max()))
        """,
        diagnosis="most likely sequence (the mode)",
    ),
    Wrong(
        "06.sequence_entropy",
        "unweighted mean of -log p",
        source="""
        import numpy as np

        def sequence_entropy(first, second, third):
            joint = first[:, None, None] * second[:, :, None] * third
            return float(-np.log(joint[joint > 0]).mean())
        """,
        diagnosis="as if each were equally likely",
    ),
    Wrong(
        "06.sequence_entropy",
        "sum of -log p without weights",
        source="""
        import numpy as np

        def sequence_entropy(first, second, third):
            joint = first[:, None, None] * second[:, :, None] * third
            return float(-np.log(joint[joint > 0]).sum())
        """,
        diagnosis="you added -log p over all sequences",
    ),
    Wrong(
        "06.sequence_entropy",
        "the first step's entropy only",
        source="""
        import numpy as np

        def sequence_entropy(first, second, third):
            p = first[first > 0]
            return float(-(p * np.log(p)).sum())
        """,
        diagnosis="entropy of the first step only",
    ),
    Wrong(
        "06.sequence_entropy",
        "the chain rule with rows averaged uniformly",
        source="""
        import numpy as np

        def entropy(p):
            p = np.asarray(p, dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(p > 0, -p * np.log(p), 0.0).sum(axis=-1)

        def sequence_entropy(first, second, third):
            return float(entropy(first) + entropy(second).mean() + entropy(third).mean())
        """,
        diagnosis="averaged the rows' entropies uniformly",
    ),
    Wrong(
        "06.sequence_entropy",
        "adds every row's entropy without weights",
        source="""
        import numpy as np

        def entropy(p):
            p = p[p > 0]
            return -(p * np.log(p)).sum()

        def sequence_entropy(first, second, third):
            total = entropy(first)
            total += sum(entropy(row) for row in second)
            total += sum(entropy(row) for rows in third for row in rows)
            return float(total)
        """,
        diagnosis="without weighting them",
    ),
    Wrong(
        "06.sequence_entropy",
        "entropies along the greedy path",
        source="""
        import numpy as np

        def entropy(p):
            p = p[p > 0]
            return -(p * np.log(p)).sum()

        def sequence_entropy(first, second, third):
            a = int(np.argmax(first))
            b = int(np.argmax(second[a]))
            return float(entropy(first) + entropy(second[a]) + entropy(third[a, b]))
        """,
        diagnosis="greedy path only",
    ),
    # --- 06.beam_trap ---------------------------------------------------------------------------
    Wrong(
        "06.beam_trap",
        "a table where greedy misses (the lesson's example): beam 2 finds the best",
        source="""
        import numpy as np

        first = np.array([0.5, 0.4, 0.1])
        second = np.array([[0.4, 0.3, 0.3], [0.05, 0.9, 0.05], [0.2, 0.3, 0.5]])
        third = np.full((3, 3, 3), 1 / 3)
        third[0, 0] = [0.6, 0.2, 0.2]
        third[1, 1] = [0.1, 0.1, 0.8]
        beam_trap = (first, second, third)
        """,
        diagnosis="greedy decoding misses the best sequence",
    ),
    Wrong(
        "06.beam_trap",
        "the best path starts with the third token, but is not good enough",
        source="""
        import numpy as np

        first = np.array([0.5, 0.3, 0.2])
        second = np.full((3, 3), 1 / 3)
        second[2] = [0.0, 0.0, 1.0]
        third = np.full((3, 3, 3), 1 / 3)
        third[0, 0] = [1.0, 0.0, 0.0]
        second[0] = [1.0, 0.0, 0.0]
        beam_trap = (first, second, third)
        """,
        diagnosis="a beam of width 2 finds the best sequence",
    ),
    Wrong(
        "06.beam_trap",
        "rows that do not sum to 1",
        source="""
        import numpy as np

        first = np.array([0.4, 0.35, 0.25])
        second = np.full((3, 3), 0.3)
        second[2] = [0.0, 0.0, 1.0]
        third = np.full((3, 3, 3), 0.3)
        third[2, 2] = [0.0, 0.0, 1.0]
        beam_trap = (first, second, third)
        """,
        diagnosis="must sum to 1",
    ),
    Wrong(
        "06.beam_trap",
        "the best path's first token ties with the beam's second: pruned only by tie order",
        source="""
        import numpy as np

        first = np.array([0.5, 0.25, 0.25])
        second = np.full((3, 3), 1 / 3)
        second[2] = [0.0, 0.0, 1.0]
        third = np.full((3, 3, 3), 1 / 3)
        third[2, 2] = [0.0, 0.0, 1.0]
        beam_trap = (first, second, third)
        """,
        diagnosis="ties with the last prefix the beam keeps",
    ),
    Wrong(
        "06.beam_trap",
        "a ragged table (a row too short)",
        source="""
        beam_trap = ([0.5, 0.5], [[0.5, 0.5], [1.0]], [[[0.5, 0.5]] * 2] * 2)
        """,
        diagnosis="ragged",
    ),
    Wrong(
        "06.beam_trap",
        "only two tables",
        source="""
        import numpy as np

        beam_trap = (np.array([0.5, 0.5]), np.full((2, 2), 0.5))
        """,
        diagnosis="three tables",
    ),
    Wrong(
        "06.beam_trap",
        "one distribution per step instead of one per context",
        source="""
        import numpy as np

        first = np.array([0.4, 0.35, 0.25])
        beam_trap = (first, np.array([0.2, 0.2, 0.6]), np.array([0.1, 0.1, 0.8]))
        """,
        diagnosis="2-D table",
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
    # --- 06.greedy_traps ------------------------------------------------------------------------
    # (Computing the verdicts with greedy_decode and exhaustive_search, as the solution does,
    # takes about 6 s, 20 s on a loaded machine: tests/test_lessons_06_08.py runs the notebook's
    # own answer cell through check, and tests/test_lesson_06_decoding.py checks the reference
    # against those functions.)
    Right(
        "06.greedy_traps",
        "the verdicts zipped onto the contexts",
        source="""
        from utils.exercises.lesson06 import GREEDY_TRAP_CONTEXTS

        verdicts = [False, False, False, True, True, False, True]
        greedy_traps = dict(zip(GREEDY_TRAP_CONTEXTS, verdicts, strict=True))
        """,
    ),
    Right(
        "06.greedy_traps",
        "typed by hand with NumPy booleans",
        source="""
        import numpy as np

        greedy_traps = {
            "the cat": np.False_, "the bird": np.False_, "the girl": np.False_,
            "the hen": np.True_, "the cat sat": np.True_, "the teacher": np.False_,
            "the bird sat": np.True_,
        }
        """,
    ),
    # --- 06.run_on_diagnosis --------------------------------------------------------------------
    Right("06.run_on_diagnosis", "the letter", 'run_on_diagnosis = "b"'),
    Right("06.run_on_diagnosis", "the letter in capitals with spaces", 'run_on_diagnosis = " B "'),
    # --- 06.sequence_entropy --------------------------------------------------------------------
    Right(
        "06.sequence_entropy",
        "the joint table, 0 log 0 left out with np.where",
        source="""
        import numpy as np

        def sequence_entropy(first, second, third):
            joint = first[:, None, None] * second[:, :, None] * third
            with np.errstate(divide="ignore", invalid="ignore"):
                return float(np.where(joint > 0, -joint * np.log(joint), 0.0).sum())
        """,
    ),
    Right(
        "06.sequence_entropy",
        "the chain rule: each step's entropy weighted by the probability of its context",
        source="""
        import numpy as np

        def entropy(p):
            p = np.asarray(p, dtype=float)
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(p > 0, -p * np.log(p), 0.0).sum(axis=-1)

        def sequence_entropy(first, second, third):
            pair = first[:, None] * second
            return float(entropy(first) + first @ entropy(second) + (pair * entropy(third)).sum())
        """,
    ),
    Right(
        "06.sequence_entropy",
        "scipy.stats.entropy of the flattened joint table",
        source="""
        from scipy.stats import entropy

        def sequence_entropy(first, second, third):
            joint = first[:, None, None] * second[:, :, None] * third
            return float(entropy(joint.ravel()))
        """,
    ),
    Right(
        "06.sequence_entropy",
        "three loops with math.log",
        source="""
        import math

        def sequence_entropy(first, second, third):
            total = 0.0
            n = len(first)
            for a in range(n):
                for b in range(n):
                    for c in range(n):
                        p = first[a] * second[a][b] * third[a][b][c]
                        if p > 0:
                            total -= p * math.log(p)
            return total
        """,
    ),
    # --- 06.beam_trap ---------------------------------------------------------------------------
    Right(
        "06.beam_trap",
        "the third first token leads to certain next tokens",
        source="""
        import numpy as np

        first = np.array([0.4, 0.35, 0.25])
        second = np.full((3, 3), 1 / 3)
        second[2] = [0.0, 0.0, 1.0]
        third = np.full((3, 3, 3), 1 / 3)
        third[2, 2] = [0.0, 0.0, 1.0]
        beam_trap = (first, second, third)
        """,
    ),
    Right(
        "06.beam_trap",
        "two tokens: the miss happens at the second step (nested lists)",
        source="""
        # Step 1 keeps both tokens; at step 2 the prefix (1, 1) ranks third of four,
        # yet its certain last token beats every continuation of the two kept prefixes.
        first = [0.5, 0.5]
        second = [[0.55, 0.45], [0.6, 0.4]]
        third = [[[0.5, 0.5], [0.5, 0.5]], [[0.5, 0.5], [0.0, 1.0]]]
        beam_trap = (first, second, third)
        """,
    ),
    Right(
        "06.beam_trap",
        "four tokens in float32",
        source="""
        import numpy as np

        first = np.array([0.3, 0.3, 0.2, 0.2], dtype=np.float32)
        second = np.full((4, 4), 0.25, dtype=np.float32)
        second[3] = [0.0, 0.0, 0.0, 1.0]
        third = np.full((4, 4, 4), 0.25, dtype=np.float32)
        third[3, 3] = [0.0, 0.0, 0.0, 1.0]
        beam_trap = (first, second, third)
        """,
    ),
]
