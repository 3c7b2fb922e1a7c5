"""Lesson 09 (tokens, not words): answers learners write, wrong and right."""

from tests.catalogue import Right, Wrong

WRONG = [
    # --- 09.word_log_prob ------------------------------------------------------------------------
    Wrong(
        "09.word_log_prob",
        "the tokens only, no end of word",
        source="""
        import numpy as np

        def word_log_prob(step_log_probs, token_ids, starts_word):
            return float(sum(step_log_probs[i, t] for i, t in enumerate(token_ids)))
        """,
        diagnosis="not the probability that the word ends",
    ),
    Wrong(
        "09.word_log_prob",
        "tokens read from the next rows (row i taken as 'after token i')",
        source="""
        import numpy as np
        from utils import logsumexp

        def word_log_prob(step_log_probs, token_ids, starts_word):
            n = len(token_ids)
            inside = step_log_probs[np.arange(1, n + 1), token_ids].sum()
            return float(inside + logsumexp(step_log_probs[-1][starts_word]))
        """,
        diagnosis="shifted by one",
    ),
    Wrong(
        "09.word_log_prob",
        "end of word from the last token's row",
        source="""
        import numpy as np
        from utils import logsumexp

        def word_log_prob(step_log_probs, token_ids, starts_word):
            n = len(token_ids)
            inside = step_log_probs[np.arange(n), token_ids].sum()
            return float(inside + logsumexp(step_log_probs[n - 1][starts_word]))
        """,
        diagnosis="the row that scores its last token",
    ),
    Wrong(
        "09.word_log_prob",
        "end of word = the most likely word-starting token",
        source="""
        import numpy as np

        def word_log_prob(step_log_probs, token_ids, starts_word):
            n = len(token_ids)
            inside = step_log_probs[np.arange(n), token_ids].sum()
            return float(inside + step_log_probs[n][starts_word].max())
        """,
        diagnosis="only the most likely word-starting token",
    ),
    Wrong(
        "09.word_log_prob",
        "end of word = sum of the log-probabilities",
        source="""
        import numpy as np

        def word_log_prob(step_log_probs, token_ids, starts_word):
            n = len(token_ids)
            inside = step_log_probs[np.arange(n), token_ids].sum()
            return float(inside + step_log_probs[n][starts_word].sum())
        """,
        diagnosis="not the sum of their logs",
    ),
    Wrong(
        "09.word_log_prob",
        "mean instead of sum over the tokens",
        source="""
        import numpy as np
        from scipy.special import logsumexp

        def word_log_prob(step_log_probs, token_ids, starts_word):
            n = len(token_ids)
            inside = step_log_probs[np.arange(n), token_ids].mean()
            return float(inside + logsumexp(step_log_probs[n][starts_word]))
        """,
        diagnosis="averaged",
    ),
    Wrong(
        "09.word_log_prob",
        "returned the probability",
        source="""
        import numpy as np

        def word_log_prob(step_log_probs, token_ids, starts_word):
            probs = np.exp(step_log_probs)
            n = len(token_ids)
            return float(np.prod(probs[np.arange(n), token_ids]) * probs[n][starts_word].sum())
        """,
        diagnosis="returned the probability",
    ),
    Wrong(
        "09.word_log_prob",
        "multiplied the log-probabilities",
        source="""
        import numpy as np
        from utils import logsumexp

        def word_log_prob(step_log_probs, token_ids, starts_word):
            n = len(token_ids)
            inside = np.prod(step_log_probs[np.arange(n), token_ids])
            return float(inside + logsumexp(step_log_probs[n][starts_word]))
        """,
        diagnosis="multiplied log-probabilities",
    ),
    # --- 09.candidate_scores ---------------------------------------------------------------------
    Wrong(
        "09.candidate_scores",
        "candidates encoded without a leading space",
        source="""
        import numpy as np

        def candidate_scores(prompt, candidates, encode, next_token_log_probs):
            prompt_ids = encode(prompt.rstrip())
            scores = []
            for candidate in candidates:
                ids = prompt_ids + encode(candidate.strip())
                scores.append(sum(next_token_log_probs(ids[:t])[ids[t]]
                                  for t in range(len(prompt_ids), len(ids))))
            return np.array(scores)
        """,
        diagnosis="without its leading space",
    ),
    Wrong(
        "09.candidate_scores",
        "prompt + candidate as written (the prompt's trailing space kept)",
        source="""
        import numpy as np

        def candidate_scores(prompt, candidates, encode, next_token_log_probs):
            prompt_ids = encode(prompt)
            scores = []
            for candidate in candidates:
                ids = encode(prompt + candidate)
                scores.append(sum(next_token_log_probs(ids[:t])[ids[t]]
                                  for t in range(len(prompt_ids), len(ids))))
            return np.array(scores)
        """,
        diagnosis="without its leading space",
    ),
    Wrong(
        "09.candidate_scores",
        "one space added, but the prompt's trailing space kept",
        source="""
        import numpy as np

        def candidate_scores(prompt, candidates, encode, next_token_log_probs):
            prompt_ids = encode(prompt)
            scores = []
            for candidate in candidates:
                ids = prompt_ids + encode(" " + candidate.strip())
                scores.append(sum(next_token_log_probs(ids[:t])[ids[t]]
                                  for t in range(len(prompt_ids), len(ids))))
            return np.array(scores)
        """,
        diagnosis="two spaces",
    ),
    Wrong(
        "09.candidate_scores",
        "a space always added, even to ' mat'",
        source="""
        import numpy as np

        def candidate_scores(prompt, candidates, encode, next_token_log_probs):
            prompt_ids = encode(prompt.rstrip())
            scores = []
            for candidate in candidates:
                ids = prompt_ids + encode(" " + candidate)
                scores.append(sum(next_token_log_probs(ids[:t])[ids[t]]
                                  for t in range(len(prompt_ids), len(ids))))
            return np.array(scores)
        """,
        diagnosis="got a second one",
    ),
    Wrong(
        "09.candidate_scores",
        "the candidate scored on its own, from the start of a text",
        source="""
        import numpy as np

        def candidate_scores(prompt, candidates, encode, next_token_log_probs):
            scores = []
            for candidate in candidates:
                ids = encode(candidate.strip())
                scores.append(sum(next_token_log_probs(ids[:t])[ids[t]] for t in range(len(ids))))
            return np.array(scores)
        """,
        diagnosis="without the prompt",
    ),
    Wrong(
        "09.candidate_scores",
        "only the first token of each candidate",
        source="""
        import numpy as np

        def candidate_scores(prompt, candidates, encode, next_token_log_probs):
            prompt_ids = encode(prompt.rstrip())
            log_probs = next_token_log_probs(prompt_ids)
            return np.array([log_probs[encode(" " + c.strip())[0]] for c in candidates])
        """,
        diagnosis="only each candidate's first token",
    ),
    Wrong(
        "09.candidate_scores",
        "the mean over each candidate's tokens",
        source="""
        import numpy as np

        def candidate_scores(prompt, candidates, encode, next_token_log_probs):
            prompt_ids = encode(prompt.rstrip())
            scores = []
            for candidate in candidates:
                ids = encode(prompt.rstrip() + " " + candidate.strip())
                steps = range(len(prompt_ids), len(ids))
                scores.append(np.mean([next_token_log_probs(ids[:t])[ids[t]] for t in steps]))
            return np.array(scores)
        """,
        diagnosis="averaged over each candidate's tokens",
    ),
    Wrong(
        "09.candidate_scores",
        "softmax over the candidates' scores",
        source="""
        import numpy as np
        import utils

        def candidate_scores(prompt, candidates, encode, next_token_log_probs):
            prompt_ids = encode(prompt.rstrip())
            scores = []
            for candidate in candidates:
                ids = encode(prompt.rstrip() + " " + candidate.strip())
                scores.append(sum(next_token_log_probs(ids[:t])[ids[t]]
                                  for t in range(len(prompt_ids), len(ids))))
            return utils.softmax(np.array(scores))
        """,
        diagnosis="share among the candidates",
    ),
    # --- 09.normalized_score ---------------------------------------------------------------------
    Wrong(
        "09.normalized_score",
        "per word and per token swapped",
        source="""
        import numpy as np

        def normalized_score(token_log_probs, token_ids, starts_word, per):
            total = np.sum(token_log_probs)
            words = starts_word[token_ids].sum()
            return float(total / (words if per == "token" else len(token_ids)))
        """,
        diagnosis="per token you divided by the number of words",
    ),
    Wrong(
        "09.normalized_score",
        "words counted over the whole vocabulary",
        source="""
        import numpy as np

        def normalized_score(token_log_probs, token_ids, starts_word, per):
            total = np.sum(token_log_probs)
            count = len(token_ids) if per == "token" else np.sum(starts_word)
            return float(total / count)
        """,
        diagnosis="of the whole vocabulary",
    ),
    Wrong(
        "09.normalized_score",
        "words counted as the tokens that continue a word",
        source="""
        import numpy as np

        def normalized_score(token_log_probs, token_ids, starts_word, per):
            total = np.sum(token_log_probs)
            count = len(token_ids) if per == "token" else np.sum(~starts_word[token_ids])
            return float(total / count)
        """,
        diagnosis="continue a word",
    ),
    Wrong(
        "09.normalized_score",
        "only the word-starting tokens' log-probabilities",
        source="""
        import numpy as np

        def normalized_score(token_log_probs, token_ids, starts_word, per):
            token_log_probs = np.asarray(token_log_probs)
            if per == "token":
                return float(token_log_probs.mean())
            first = starts_word[token_ids]
            return float(token_log_probs[first].sum() / first.sum())
        """,
        diagnosis="left out the log-probabilities of the tokens inside words",
    ),
    Wrong(
        "09.normalized_score",
        "per word computed as the mean over tokens",
        source="""
        import numpy as np

        def normalized_score(token_log_probs, token_ids, starts_word, per):
            return float(np.mean(token_log_probs))
        """,
        diagnosis="per word you divided by the number of tokens",
    ),
    Wrong(
        "09.normalized_score",
        "one word too many (counted the boundaries between words plus one)",
        source="""
        import numpy as np

        def normalized_score(token_log_probs, token_ids, starts_word, per):
            total = np.sum(token_log_probs)
            if per == "token":
                return float(total / len(token_ids))
            return float(total / (starts_word[token_ids].sum() + 1))
        """,
    ),
    Wrong(
        "09.word_log_prob",
        "end of word summed over the whole last row",
        source="""
        import numpy as np
        from utils import logsumexp

        def word_log_prob(step_log_probs, token_ids, starts_word):
            n = len(token_ids)
            inside = step_log_probs[np.arange(n), token_ids].sum()
            return float(inside + logsumexp(step_log_probs[n]))
        """,
        diagnosis="not the probability that the word ends",
    ),
    Wrong(
        "09.normalized_score",
        "distinct words counted",
        source="""
        import numpy as np

        def normalized_score(token_log_probs, token_ids, starts_word, per):
            words = set(token_ids[starts_word[token_ids]])
            count = len(token_ids) if per == "token" else len(words)
            return float(np.sum(token_log_probs) / count)
        """,
    ),
    Wrong(
        "09.candidate_scores",
        "the candidate's tokens counted from the raw prompt's length (clamped)",
        source="""
        import numpy as np

        def candidate_scores(prompt, candidates, encode, next_token_log_probs):
            scores = []
            for candidate in candidates:
                ids = encode(prompt.rstrip() + " " + candidate.strip())
                start = min(len(encode(prompt)), len(ids) - 1)
                scores.append(sum(next_token_log_probs(ids[:t])[ids[t]]
                                  for t in range(start, len(ids))))
            return np.array(scores)
        """,
    ),
    # --- 09.diagnose_scorer ----------------------------------------------------------------------
    Wrong("09.diagnose_scorer", "blames the model", 'diagnose_scorer = "a"', "not (a)"),
    Wrong("09.diagnose_scorer", "length normalization", 'diagnose_scorer = "b"', "not (b)"),
    Wrong("09.diagnose_scorer", "renormalize the candidates", 'diagnose_scorer = "d"', "not (d)"),
    Wrong("09.diagnose_scorer", "temperature", 'diagnose_scorer = "e"', "not (e)"),
    Wrong("09.diagnose_scorer", "the option's number", "diagnose_scorer = 3", "expected a string"),
    Wrong(
        "09.diagnose_scorer",
        "the option with its parentheses",
        'diagnose_scorer = "(b)"',
        "letter alone",
    ),
]

RIGHT = [
    # --- 09.word_log_prob ------------------------------------------------------------------------
    Right(
        "09.word_log_prob",
        "fancy indexing and utils.logsumexp",
        source="""
        import numpy as np
        import utils

        def word_log_prob(step_log_probs, token_ids, starts_word):
            n = len(token_ids)
            inside = step_log_probs[np.arange(n), token_ids].sum()
            return float(inside + utils.logsumexp(step_log_probs[n][starts_word]))
        """,
    ),
    Right(
        "09.word_log_prob",
        "a loop, and the log of the summed probabilities",
        source="""
        import math
        import numpy as np

        def word_log_prob(step_log_probs, token_ids, starts_word):
            total = 0.0
            for row, token in zip(step_log_probs, token_ids):
                total += row[token]
            end = np.exp(step_log_probs[len(token_ids)])[starts_word].sum()
            return total + math.log(end)
        """,
    ),
    Right(
        "09.word_log_prob",
        "the end as 1 minus the mass that continues the word",
        source="""
        import numpy as np

        def word_log_prob(step_log_probs, token_ids, starts_word):
            n = len(token_ids)
            inside = np.take_along_axis(step_log_probs[:n], np.asarray(token_ids)[:, None], 1)
            continues = np.exp(step_log_probs[n][~starts_word]).sum()
            return float(inside.sum() + np.log1p(-continues))
        """,
    ),
    Right(
        "09.word_log_prob",
        "in float32",
        source="""
        import numpy as np

        def word_log_prob(step_log_probs, token_ids, starts_word):
            rows = step_log_probs.astype(np.float32)
            n = len(token_ids)
            end = np.log(np.exp(rows[n][starts_word]).sum())
            return rows[np.arange(n), token_ids].sum() + end
        """,
    ),
    # --- 09.candidate_scores ---------------------------------------------------------------------
    Right(
        "09.candidate_scores",
        "prompt ids + ids of ' candidate'",
        source="""
        import numpy as np

        def candidate_scores(prompt, candidates, encode, next_token_log_probs):
            prompt_ids = encode(prompt.rstrip())
            scores = []
            for candidate in candidates:
                ids = prompt_ids + encode(" " + candidate.lstrip())
                scores.append(sum(next_token_log_probs(ids[:t])[ids[t]]
                                  for t in range(len(prompt_ids), len(ids))))
            return np.array(scores)
        """,
    ),
    Right(
        "09.candidate_scores",
        "the whole text encoded, the prompt's tokens checked as a prefix",
        source="""
        import numpy as np

        def candidate_scores(prompt, candidates, encode, next_token_log_probs):
            context = prompt.rstrip(" ")
            n = len(encode(context))
            out = np.empty(len(candidates))
            for i, candidate in enumerate(candidates):
                ids = encode(context + " " + candidate.strip())
                assert ids[:n] == encode(context)
                out[i] = np.sum([next_token_log_probs(ids[:t])[ids[t]] for t in range(n, len(ids))])
            return out
        """,
    ),
    Right(
        "09.candidate_scores",
        "a list comprehension over a helper",
        source="""
        def candidate_scores(prompt, candidates, encode, next_token_log_probs):
            context = encode(prompt.rstrip())

            def score(candidate):
                total = 0.0
                ids = list(context)
                for token in encode(" " + candidate.strip()):
                    total += float(next_token_log_probs(ids)[token])
                    ids.append(token)
                return total

            return [score(candidate) for candidate in candidates]
        """,
    ),
    # --- 09.normalized_score ---------------------------------------------------------------------
    Right(
        "09.normalized_score",
        "sum divided by a count",
        source="""
        import numpy as np

        def normalized_score(token_log_probs, token_ids, starts_word, per):
            total = np.sum(token_log_probs)
            if per == "token":
                return float(total / len(token_ids))
            return float(total / np.count_nonzero(starts_word[token_ids]))
        """,
    ),
    Right(
        "09.normalized_score",
        "a loop counting words",
        source="""
        def normalized_score(token_log_probs, token_ids, starts_word, per):
            words = 0
            for token in token_ids:
                if starts_word[token]:
                    words += 1
            count = len(token_ids) if per == "token" else words
            return sum(token_log_probs) / count
        """,
    ),
    # --- 09.diagnose_scorer ----------------------------------------------------------------------
    Right("09.diagnose_scorer", "the letter", 'diagnose_scorer = "c"'),
    Right("09.diagnose_scorer", "the letter in capitals with spaces", 'diagnose_scorer = " C "'),
]
