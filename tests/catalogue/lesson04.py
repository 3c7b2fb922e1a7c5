"""Lesson 04 (the next-token distribution): answers learners write, wrong and right."""

from tests.catalogue import Right, Wrong

WRONG = [
    # --- 04.next_token_distribution ----------------------------------------------------------
    Wrong(
        "04.next_token_distribution",
        "softmax over the whole vocabulary, then pick the candidates",
        source="""
        import utils

        def next_token_distribution(logits, vocab, candidates):
            ids = [vocab.index(word) for word in candidates]
            return utils.softmax(logits)[..., ids]
        """,
        diagnosis="under the whole vocabulary",
    ),
    Wrong(
        "04.next_token_distribution",
        "candidates taken in vocabulary order",
        source="""
        import utils

        def next_token_distribution(logits, vocab, candidates):
            ids = [i for i, word in enumerate(vocab) if word in candidates]
            return utils.softmax(logits[..., ids])
        """,
        diagnosis="in the order of `candidates`",
    ),
    Wrong(
        "04.next_token_distribution",
        "naive softmax (no max-shift)",
        source="""
        import numpy as np

        def next_token_distribution(logits, vocab, candidates):
            ids = [vocab.index(word) for word in candidates]
            e = np.exp(logits[..., ids])
            return e / e.sum(axis=-1, keepdims=True)
        """,
        diagnosis="exp overflowed",
    ),
    Wrong(
        "04.next_token_distribution",
        "returns the candidates' logits",
        source="""
        def next_token_distribution(logits, vocab, candidates):
            return logits[..., [vocab.index(word) for word in candidates]]
        """,
        diagnosis="scores (logits)",
    ),
    Wrong(
        "04.next_token_distribution",
        "exponentiated but not normalized",
        source="""
        import numpy as np

        def next_token_distribution(logits, vocab, candidates):
            return np.exp(logits[..., [vocab.index(word) for word in candidates]])
        """,
        diagnosis="did not divide by their sum",
    ),
    Wrong(
        "04.next_token_distribution",
        "log-probabilities instead of probabilities",
        source="""
        import utils

        def next_token_distribution(logits, vocab, candidates):
            return utils.log_softmax(logits[..., [vocab.index(word) for word in candidates]])
        """,
        diagnosis="log-probabilities",
    ),
    Wrong(
        "04.next_token_distribution",
        "normalized over the whole batch (no axis)",
        source="""
        import numpy as np

        def next_token_distribution(logits, vocab, candidates):
            scores = logits[..., [vocab.index(word) for word in candidates]]
            e = np.exp(scores - scores.max())
            return e / e.sum()
        """,
        diagnosis="each context",
    ),
    Wrong(
        "04.next_token_distribution",
        "indexes the first axis (forgets the batch)",
        source="""
        import utils

        def next_token_distribution(logits, vocab, candidates):
            return utils.softmax(logits[[vocab.index(word) for word in candidates]])
        """,
    ),
    Wrong(
        "04.next_token_distribution",
        "written for 1-D and 2-D logits only",
        source="""
        import numpy as np
        import utils

        def next_token_distribution(logits, vocab, candidates):
            ids = [vocab.index(c) for c in candidates]
            z = np.asarray(logits)
            return utils.softmax(z[:, ids]) if z.ndim == 2 else utils.softmax(z[ids])
        """,
    ),
    # --- 04.most_likely_next_word ------------------------------------------------------------
    Wrong(
        "04.most_likely_next_word",
        "returns the top logit instead of its probability",
        source="""
        import numpy as np

        def most_likely_next_word(logits, vocab):
            best = int(np.argmax(logits))
            return vocab[best], float(logits[best])
        """,
        diagnosis="largest score (a logit)",
    ),
    Wrong(
        "04.most_likely_next_word",
        "off by one in the vocabulary lookup",
        source="""
        import numpy as np
        import utils

        def most_likely_next_word(logits, vocab):
            best = int(np.argmax(logits))
            return vocab[best + 1], float(utils.softmax(logits)[best])
        """,
        diagnosis="neighbour of the right one",
    ),
    Wrong(
        "04.most_likely_next_word",
        "argmin instead of argmax",
        source="""
        import numpy as np
        import utils

        def most_likely_next_word(logits, vocab):
            best = int(np.argmin(logits))
            return vocab[best], float(utils.softmax(logits)[best])
        """,
        diagnosis="least likely word",
    ),
    Wrong(
        "04.most_likely_next_word",
        "returns the log-probability",
        source="""
        import numpy as np
        import utils

        def most_likely_next_word(logits, vocab):
            best = int(np.argmax(logits))
            return vocab[best], float(utils.log_softmax(logits)[best])
        """,
        diagnosis="is a log-probability",
    ),
    Wrong(
        "04.most_likely_next_word",
        "the last of tied words",
        source="""
        import numpy as np
        import utils

        def most_likely_next_word(logits, vocab):
            best = len(logits) - 1 - int(np.argmax(logits[::-1]))
            return vocab[best], float(utils.softmax(logits)[best])
        """,
        diagnosis="tie for the top",
    ),
    Wrong(
        "04.most_likely_next_word",
        "normalized over the top word alone",
        source="""
        import numpy as np

        def most_likely_next_word(logits, vocab):
            best = int(np.argmax(logits))
            top = np.exp(logits[best] - logits[best])
            return vocab[best], float(top / top)
        """,
        diagnosis="normalized over the top word alone",
    ),
    Wrong(
        "04.most_likely_next_word",
        "naive softmax",
        source="""
        import numpy as np

        def most_likely_next_word(logits, vocab):
            probs = np.exp(logits) / np.exp(logits).sum()
            best = int(np.argmax(probs))
            return vocab[best], float(probs[best])
        """,
        diagnosis="overflow",
    ),
    Wrong(
        "04.most_likely_next_word",
        "returns the token id instead of the word",
        source="""
        import numpy as np
        import utils

        def most_likely_next_word(logits, vocab):
            best = int(np.argmax(logits))
            return best, float(utils.softmax(logits)[best])
        """,
        diagnosis="expected a string",
    ),
    Wrong(
        "04.most_likely_next_word",
        "always word 0 of vocab, with its own probability (no mistake to name)",
        source="""
        import numpy as np
        import utils

        def most_likely_next_word(logits, vocab):
            return vocab[0], float(utils.softmax(np.asarray(logits, dtype=float))[0])
        """,
        diagnosis=None,
    ),
    Wrong(
        "04.most_likely_next_word",
        "always word 1 of vocab, with its own probability (no mistake to name)",
        source="""
        import numpy as np
        import utils

        def most_likely_next_word(logits, vocab):
            return vocab[1], float(utils.softmax(np.asarray(logits, dtype=float))[1])
        """,
        diagnosis=None,
    ),
    Wrong(
        "04.most_likely_next_word",
        "always word 2 of vocab, with its own probability (no mistake to name)",
        source="""
        import numpy as np
        import utils

        def most_likely_next_word(logits, vocab):
            return vocab[2], float(utils.softmax(np.asarray(logits, dtype=float))[2])
        """,
        diagnosis=None,
    ),
    # --- 04.kl_learned_vs_true ---------------------------------------------------------------
    Wrong(
        "04.kl_learned_vs_true",
        "0 * log 0 gives NaN",
        source="""
        import numpy as np
        import utils

        def kl_learned_vs_true(true_probs, logits):
            log_q = utils.log_softmax(logits)
            return np.sum(true_probs * (np.log(true_probs) - log_q), axis=-1)
        """,
        diagnosis="contributes 0",
    ),
    Wrong(
        "04.kl_learned_vs_true",
        "0 * (-inf) where the model rules out an impossible word",
        source="""
        import numpy as np
        import scipy.special
        import utils

        def kl_learned_vs_true(true_probs, logits):
            log_q = utils.log_softmax(logits)
            return np.sum(scipy.special.xlogy(true_probs, true_probs) - true_probs * log_q, axis=-1)
        """,
        diagnosis="contributes 0",
    ),
    Wrong(
        "04.kl_learned_vs_true",
        "KL the other way round",
        source="""
        import numpy as np
        import utils

        def kl_learned_vs_true(true_probs, logits):
            q = utils.softmax(logits)
            log_q = utils.log_softmax(logits)
            with np.errstate(divide="ignore"):
                log_p = np.log(true_probs)
            terms = np.where(q > 0, q * (log_q - log_p), 0.0)
            return np.sum(terms, axis=-1)
        """,
        diagnosis="KL(model || true)",
    ),
    Wrong(
        "04.kl_learned_vs_true",
        "the cross-entropy",
        source="""
        import numpy as np
        import utils

        def kl_learned_vs_true(true_probs, logits):
            log_q = utils.log_softmax(logits)
            return -np.sum(np.where(true_probs > 0, true_probs * log_q, 0.0), axis=-1)
        """,
        diagnosis="cross-entropy",
    ),
    Wrong(
        "04.kl_learned_vs_true",
        "log of the softmax",
        source="""
        import numpy as np
        import utils

        def kl_learned_vs_true(true_probs, logits):
            q = utils.softmax(logits)
            possible = true_probs > 0
            with np.errstate(divide="ignore"):
                gap = np.log(np.where(possible, true_probs, 1.0)) - np.log(q)
            return np.sum(np.where(possible, true_probs * gap, 0.0), axis=-1)
        """,
        diagnosis="never leaves log space",
    ),
    Wrong(
        "04.kl_learned_vs_true",
        "log base 2 (bits)",
        source="""
        import numpy as np
        import utils

        def kl_learned_vs_true(true_probs, logits):
            log_q = utils.log_softmax(logits) / np.log(2)
            possible = true_probs > 0
            log_p = np.log2(np.where(possible, true_probs, 1.0))
            return np.sum(np.where(possible, true_probs * (log_p - log_q), 0.0), axis=-1)
        """,
        diagnosis="in bits",
    ),
    Wrong(
        "04.kl_learned_vs_true",
        "sums over every axis (one number for a batch)",
        source="""
        import numpy as np
        import utils

        def kl_learned_vs_true(true_probs, logits):
            log_q = utils.log_softmax(logits)
            possible = true_probs > 0
            log_p = np.log(np.where(possible, true_probs, 1.0))
            return np.sum(np.where(possible, true_probs * (log_p - log_q), 0.0))
        """,
        diagnosis="expected an array of shape (2,)",
    ),
    Wrong(
        "04.kl_learned_vs_true",
        "scipy.stats.entropy with its default axis=0",
        source="""
        import scipy.stats
        import utils

        def kl_learned_vs_true(true_probs, logits):
            return scipy.stats.entropy(true_probs, utils.softmax(logits))
        """,
        diagnosis="never leaves log space",
    ),
    # --- 04.expected_calibration_error ---------------------------------------------------------
    Wrong(
        "04.expected_calibration_error",
        "bins averaged with equal weights",
        source="""
        import numpy as np

        def expected_calibration_error(confidences, outcomes, n_bins=10):
            bins = np.minimum((confidences * n_bins).astype(int), n_bins - 1)
            gaps = [
                abs(confidences[bins == b].mean() - outcomes[bins == b].mean())
                for b in range(n_bins)
                if (bins == b).any()
            ]
            return float(np.mean(gaps))
        """,
        diagnosis="equal weights",
    ),
    Wrong(
        "04.expected_calibration_error",
        "empty bins included (mean of nothing is NaN)",
        source="""
        import numpy as np

        def expected_calibration_error(confidences, outcomes, n_bins=10):
            bins = np.minimum((confidences * n_bins).astype(int), n_bins - 1)
            total = 0.0
            for b in range(n_bins):
                chosen = bins == b
                gap = abs(confidences[chosen].mean() - outcomes[chosen].mean())
                total += chosen.mean() * gap
            return total
        """,
        diagnosis="a bin with no predictions has no mean",
    ),
    Wrong(
        "04.expected_calibration_error",
        "signed gaps (no absolute value)",
        source="""
        import numpy as np

        def expected_calibration_error(confidences, outcomes, n_bins=10):
            bins = np.minimum((confidences * n_bins).astype(int), n_bins - 1)
            total = 0.0
            for b in range(n_bins):
                chosen = bins == b
                if chosen.any():
                    total += chosen.mean() * (confidences[chosen].mean() - outcomes[chosen].mean())
            return abs(total)
        """,
        diagnosis="summed with their signs",
    ),
    Wrong(
        "04.expected_calibration_error",
        "one gap over all predictions",
        source="""
        import numpy as np

        def expected_calibration_error(confidences, outcomes, n_bins=10):
            return float(abs(np.mean(confidences) - np.mean(outcomes)))
        """,
        diagnosis="summed with their signs",
    ),
    Wrong(
        "04.expected_calibration_error",
        "the largest gap (maximum calibration error)",
        source="""
        import numpy as np

        def expected_calibration_error(confidences, outcomes, n_bins=10):
            bins = np.minimum((confidences * n_bins).astype(int), n_bins - 1)
            return max(
                abs(confidences[bins == b].mean() - outcomes[bins == b].mean())
                for b in range(n_bins)
                if (bins == b).any()
            )
        """,
        diagnosis="maximum calibration error",
    ),
    Wrong(
        "04.expected_calibration_error",
        "a confidence of 1 in a bin of its own",
        source="""
        import numpy as np

        def expected_calibration_error(confidences, outcomes, n_bins=10):
            bins = (confidences * n_bins).astype(int)
            total = 0.0
            for b in range(n_bins + 1):
                chosen = bins == b
                if chosen.any():
                    gap = abs(confidences[chosen].mean() - outcomes[chosen].mean())
                    total += chosen.mean() * gap
            return total
        """,
        diagnosis="got a bin of its own",
    ),
    Wrong(
        "04.expected_calibration_error",
        "bins closed on the right",
        source="""
        import numpy as np

        def expected_calibration_error(confidences, outcomes, n_bins=10):
            bins = np.clip(np.ceil(confidences * n_bins).astype(int) - 1, 0, n_bins - 1)
            total = 0.0
            for b in range(n_bins):
                chosen = bins == b
                if chosen.any():
                    gap = abs(confidences[chosen].mean() - outcomes[chosen].mean())
                    total += chosen.mean() * gap
            return total
        """,
        diagnosis="closed on the left",
    ),
    Wrong(
        "04.expected_calibration_error",
        "squared gaps",
        source="""
        import numpy as np

        def expected_calibration_error(confidences, outcomes, n_bins=10):
            bins = np.minimum((confidences * n_bins).astype(int), n_bins - 1)
            total = 0.0
            for b in range(n_bins):
                chosen = bins == b
                if chosen.any():
                    gap = confidences[chosen].mean() - outcomes[chosen].mean()
                    total += chosen.mean() * gap**2
            return float(np.sqrt(total))
        """,
        diagnosis="squared the gaps",
    ),
    # --- 04.predict_restoring_temperature -------------------------------------------------------
    Wrong(
        "04.predict_restoring_temperature",
        "the inverse factor",
        "restoring_temperature = 2.0",
        diagnosis="halves them once more",
    ),
    Wrong(
        "04.predict_restoring_temperature",
        "temperature cannot fix calibration",
        "restoring_temperature = 1.0",
        diagnosis="a temperature does change calibration",
    ),
    Wrong(
        "04.predict_restoring_temperature",
        "undoing the shift",
        "restoring_temperature = 4.0",
        diagnosis="adding a constant changes no probability",
    ),
    Wrong(
        "04.predict_restoring_temperature",
        "shift divided by the scale",
        "restoring_temperature = 8.0",
        diagnosis="adding a constant changes no probability",
    ),
]

RIGHT = [
    Right(
        "04.kl_learned_vs_true",
        "np.nansum drops the 0 * log 0 terms (with a warning)",
        source="""
        import numpy as np
        import utils

        def kl_learned_vs_true(true_probs, logits):
            gap = np.log(true_probs) - utils.log_softmax(logits)
            return np.nansum(true_probs * gap, axis=-1)
        """,
    ),
    Right(
        "04.next_token_distribution",
        "own stable softmax with a dict of positions",
        source="""
        import numpy as np

        def next_token_distribution(logits, vocab, candidates):
            position = {word: i for i, word in enumerate(vocab)}
            scores = np.asarray(logits)[..., [position[w] for w in candidates]]
            e = np.exp(scores - scores.max(axis=-1, keepdims=True))
            return e / e.sum(axis=-1, keepdims=True)
        """,
    ),
    Right(
        "04.next_token_distribution",
        "scipy.special.softmax on the last axis",
        source="""
        import scipy.special

        def next_token_distribution(logits, vocab, candidates):
            ids = [vocab.index(word) for word in candidates]
            return scipy.special.softmax(logits[..., ids], axis=-1)
        """,
    ),
    Right(
        "04.next_token_distribution",
        "log-sum-exp then exp, np.expand_dims instead of keepdims",
        source="""
        import numpy as np
        import scipy.special

        def next_token_distribution(logits, vocab, candidates):
            scores = np.take(logits, [vocab.index(word) for word in candidates], axis=-1)
            total = np.expand_dims(scipy.special.logsumexp(scores, axis=-1), -1)
            return np.exp(scores - total)
        """,
    ),
    Right(
        "04.most_likely_next_word",
        "max with a key and math.exp of a log-sum-exp",
        source="""
        import math
        import scipy.special

        def most_likely_next_word(logits, vocab):
            best = max(range(len(vocab)), key=lambda i: logits[i])
            return vocab[best], math.exp(logits[best] - scipy.special.logsumexp(logits))
        """,
    ),
    Right(
        "04.most_likely_next_word",
        "a dict of word probabilities",
        source="""
        import utils

        def most_likely_next_word(logits, vocab):
            probability = dict(zip(vocab, utils.softmax(logits).tolist()))
            word = max(probability, key=probability.get)
            return word, probability[word]
        """,
    ),
    Right(
        "04.most_likely_next_word",
        "numpy scalars returned as they are",
        source="""
        import numpy as np
        import utils

        def most_likely_next_word(logits, vocab):
            probs = utils.softmax(logits)
            best = np.argmax(probs)
            return vocab[best], probs[best]
        """,
    ),
    Right(
        "04.kl_learned_vs_true",
        "xlogy for p log p, np.where for p log q",
        source="""
        import numpy as np
        import scipy.special
        import utils

        def kl_learned_vs_true(true_probs, logits):
            log_q = utils.log_softmax(logits)
            cross = np.where(true_probs > 0, true_probs * log_q, 0.0)
            return np.sum(scipy.special.xlogy(true_probs, true_probs) - cross, axis=-1)
        """,
    ),
    Right(
        "04.kl_learned_vs_true",
        "a loop over rows with a list comprehension over words",
        source="""
        import math
        import numpy as np
        import scipy.special

        def kl_learned_vs_true(true_probs, logits):
            p = np.asarray(true_probs, dtype=float)
            z = np.asarray(logits, dtype=float)
            rows_p, rows_z = p.reshape(-1, p.shape[-1]), z.reshape(-1, z.shape[-1])
            result = []
            for row_p, row_z in zip(rows_p, rows_z):
                norm = scipy.special.logsumexp(row_z)
                pairs = zip(row_p, row_z)
                result.append(sum(pw * (math.log(pw) - (zw - norm)) for pw, zw in pairs if pw > 0))
            return np.array(result).reshape(p.shape[:-1])
        """,
    ),
    Right(
        "04.kl_learned_vs_true",
        "np.sum with where=",
        source="""
        import numpy as np
        import utils

        def kl_learned_vs_true(true_probs, logits):
            possible = true_probs > 0
            log_p = np.log(true_probs, where=possible, out=np.zeros_like(true_probs))
            gap = log_p - utils.log_softmax(logits)
            return np.sum(true_probs * gap, axis=-1, where=possible)
        """,
    ),
    Right(
        "04.next_token_distribution",
        "computed in float32",
        source="""
        import numpy as np
        import utils

        def next_token_distribution(logits, vocab, candidates):
            ids = [vocab.index(word) for word in candidates]
            return utils.softmax(np.asarray(logits, dtype=np.float32)[..., ids])
        """,
    ),
    Right(
        "04.expected_calibration_error",
        "sums per bin with np.bincount",
        source="""
        import numpy as np

        def expected_calibration_error(confidences, outcomes, n_bins=10):
            c = np.asarray(confidences, dtype=float)
            o = np.asarray(outcomes, dtype=float)
            bins = np.minimum(np.floor(c * n_bins).astype(int), n_bins - 1)
            c_sums = np.bincount(bins, weights=c, minlength=n_bins)
            o_sums = np.bincount(bins, weights=o, minlength=n_bins)
            return float(np.abs(c_sums - o_sums).sum() / len(c))
        """,
    ),
    Right(
        "04.expected_calibration_error",
        "np.digitize on the interior edges",
        source="""
        import numpy as np

        def expected_calibration_error(confidences, outcomes, n_bins=10):
            edges = np.linspace(0.0, 1.0, n_bins + 1)
            bins = np.digitize(confidences, edges[1:-1])
            ece = 0.0
            for b in range(n_bins):
                in_bin = bins == b
                if np.any(in_bin):
                    weight = np.sum(in_bin) / len(confidences)
                    ece += weight * abs(np.mean(confidences[in_bin]) - np.mean(outcomes[in_bin]))
            return ece
        """,
    ),
    Right(
        "04.expected_calibration_error",
        "a plain Python loop over the predictions",
        source="""
        def expected_calibration_error(confidences, outcomes, n_bins=10):
            sums = {}
            for c, o in zip(confidences, outcomes):
                b = min(int(c * n_bins), n_bins - 1)
                n, sc, so = sums.get(b, (0, 0.0, 0.0))
                sums[b] = (n + 1, sc + c, so + o)
            total = len(confidences)
            return sum(abs(sc - so) for n, sc, so in sums.values()) / total
        """,
    ),
    Right("04.predict_restoring_temperature", "one half", "restoring_temperature = 0.5"),
    Right("04.predict_restoring_temperature", "as a fraction", "restoring_temperature = 1 / 2"),
]
