"""Exercises of lesson 04, "The next-token distribution".

* ``04.next_token_distribution``: the model's next-token probabilities
  restricted to a list of candidate words (renormalized over them, in the
  order given).
* ``04.most_likely_next_word``: the most likely next word and its probability
  under the full vocabulary.
* ``04.kl_learned_vs_true``: how far a model's distribution is from the true
  one, as the Kullback–Leibler divergence KL(true || model) in nats.
* ``04.expected_calibration_error``: the expected calibration error of
  top-word confidences against how often (or how probably) the top word is
  right, with equal-width bins.
* ``04.predict_restoring_temperature``: a reasoning exercise: the temperature
  that turns a rescaled, shifted copy of the model back into the model.

Every case is plain data (arrays, lists of words), so the grader can run the
answers in a child process; the lesson's notebook feeds the same functions
with the tiny model's real logits.

>>> from utils.exercises import get
>>> spec = get("04.most_likely_next_word")
>>> word, probability = spec.reference(np.array([2.0, 1.0, 0.0]), ["cat", "dog", "mat"])
>>> word, round(probability, 4)
('cat', 0.6652)
"""

from __future__ import annotations

import numpy as np

from utils.exercises._matching import first_matching_mistake
from utils.exercises._spec import Case, Exercise
from utils.lm.corpus import VOCAB
from utils.probability import log_softmax, softmax

__all__ = [
    "EXERCISES",
    "calibration_bins",
    "expected_calibration_error_reference",
    "kl_learned_vs_true_reference",
    "most_likely_next_word_reference",
    "next_token_distribution_reference",
    "predict_restoring_temperature_reference",
]

_HAND_VOCAB = ["cat", "dog", "mat", "sat"]
_TINY_VOCAB = list(VOCAB)


def _close(got, expected, *, rtol: float = 1e-7, atol: float = 1e-10) -> bool:
    """True when `got` has `expected`'s shape and values (inf must match inf)."""
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        return False
    return bool(np.allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True))


def _word_ids(vocab, words) -> list[int]:
    position = {word: index for index, word in enumerate(vocab)}
    return [position[word] for word in words]


def _seeded_logits(seed: int, shape: tuple, spread: float = 2.0) -> np.ndarray:
    """Fixed, realistic-looking scores for the visible cases (not hand-checkable)."""
    return np.round(spread * np.random.default_rng(seed).standard_normal(shape), 3)


# ------------------------------------------------------ 04.next_token_distribution


def next_token_distribution_reference(logits, vocab, candidates):
    """P(word | context, next word in `candidates`) for each candidate, in order.

    `logits` has shape (..., len(vocab)); the result (..., len(candidates)).

    >>> next_token_distribution_reference([2.0, 1.0, 0.0], ["cat", "dog", "mat"], ["mat", "cat"])
    array([0.11920292, 0.88079708])
    """
    scores = np.asarray(logits, dtype=np.float64)
    return softmax(scores[..., _word_ids(vocab, candidates)], axis=-1)


def _distribution_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(6):
        size = int(rng.integers(4, len(_TINY_VOCAB) + 1))
        vocab = [str(word) for word in rng.choice(_TINY_VOCAB, size=size, replace=False)]
        count = int(rng.integers(1, size + 1))
        candidates = [str(word) for word in rng.choice(vocab, size=count, replace=False)]
        batch = tuple(int(n) for n in rng.integers(1, 4, size=int(rng.integers(0, 3))))
        offset = float(rng.choice([0.0, rng.uniform(-30, 30), rng.uniform(300, 800)]))
        logits = offset + rng.uniform(0.5, 4.0) * rng.standard_normal((*batch, size))
        cases.append(
            Case(
                args=(logits, vocab, candidates),
                label=f"random scores #{index + 1}: {count} of {size} words, batch {batch}",
            )
        )
    return cases


def _distribution_diagnose(case: Case, expected, got) -> str | None:
    logits, vocab, candidates = case.args
    scores = np.asarray(logits, dtype=np.float64)
    ids = _word_ids(vocab, candidates)
    if len(ids) < scores.shape[-1] and _close(got, softmax(scores)[..., ids], rtol=1e-5):
        return (
            "these are the candidates' probabilities under the whole vocabulary; the "
            "question restricts the next word to the candidates, so renormalize over "
            "them only (divide by the candidates' total)."
        )
    if _close(got, scores[..., ids]):
        return "you returned the candidates' scores (logits); turn them into probabilities."
    if _close(got, log_softmax(scores[..., ids]), rtol=1e-5):
        return (
            "these are the candidates' log-probabilities (log-softmax); return the "
            "probabilities themselves."
        )
    if scores.ndim > 1 and _close(
        got, softmax(scores[..., ids].ravel()).reshape(np.shape(expected)), rtol=1e-5
    ):
        return (
            "you normalized over all the contexts of the batch at once; each context (one "
            "row of logits) is its own distribution: normalize along the last axis."
        )
    with np.errstate(over="ignore"):
        if _close(got, np.exp(scores[..., ids]), rtol=1e-5):
            return "you exponentiated the scores but did not divide by their sum."
    in_vocab_order = sorted(ids)
    if in_vocab_order != ids and _close(
        got, softmax(scores[..., in_vocab_order]), rtol=1e-5, atol=1e-8
    ):
        return (
            "the right probabilities in the vocabulary's order; return them in the "
            "order of `candidates` (the i-th number is the i-th candidate's)."
        )
    return None


NEXT_TOKEN_DISTRIBUTION = Exercise(
    id="04.next_token_distribution",
    title="The next-token distribution over a list of candidate words",
    points=2,
    answer_name="next_token_distribution",
    kind="function",
    reference=next_token_distribution_reference,
    visible_cases=(
        Case(
            args=(np.array([2.0, 1.0, 0.0, -1.0]), _HAND_VOCAB, ["cat", "dog", "mat"]),
            label="cat, dog, mat out of four words",
        ),
        Case(
            args=(np.array([2.0, 1.0, 0.0, -1.0]), _HAND_VOCAB, ["mat", "cat"]),
            label="candidates not in vocabulary order",
        ),
        Case(
            args=(np.array([2.0, 1.0, 0.0, -1.0]), _HAND_VOCAB, ["sat"]),
            label="a single candidate",
        ),
        Case(
            args=(np.array([2.0, 1.0, 0.0, -1.0]), _HAND_VOCAB, list(_HAND_VOCAB)),
            label="every word is a candidate",
        ),
        Case(
            args=(np.array([1000.0, 999.0, 990.0, 0.0]), _HAND_VOCAB, ["dog", "cat", "mat"]),
            label="scores near 1000",
        ),
        Case(
            args=(
                _seeded_logits(4, (2, len(_TINY_VOCAB))),
                _TINY_VOCAB,
                ["sat", "slept", "ran", "chased"],
            ),
            label="two contexts, the tiny model's 78 words, four verbs",
        ),
        Case(
            args=(
                _seeded_logits(40, (2, 3, len(_HAND_VOCAB))),
                _HAND_VOCAB,
                ["sat", "cat", "mat"],
            ),
            label="a (2, 3) batch of contexts (two leading axes)",
        ),
    ),
    hidden_cases=_distribution_hidden,
    rtol=1e-7,
    atol=1e-12,
    diagnose=_distribution_diagnose,
    hints=(
        "Restricting the next word to the candidates means: keep only their scores and "
        "forget every other word, then turn those scores into probabilities.",
        "A candidate's token id is its position in `vocab`; gather the candidates' scores "
        "along the last axis (the ellipsis keeps any batch axes), in the order of "
        "`candidates`, and apply a stable softmax to them.",
    ),
)


# --------------------------------------------------------- 04.most_likely_next_word


def most_likely_next_word_reference(logits, vocab) -> tuple[str, float]:
    """(word, probability) of the most likely next word over the whole vocabulary.

    Ties go to the word earlier in `vocab`, as with `np.argmax`.

    >>> most_likely_next_word_reference([0.0, 3.0, 3.0], ["cat", "dog", "mat"])
    ('dog', 0.4878555511603684)
    """
    scores = np.asarray(logits, dtype=np.float64)
    best = int(np.argmax(scores))
    return str(vocab[best]), float(softmax(scores)[best])


def _most_likely_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(6):
        size = int(rng.integers(2, len(_TINY_VOCAB) + 1))
        vocab = [str(word) for word in rng.choice(_TINY_VOCAB, size=size, replace=False)]
        offset = float(rng.choice([0.0, rng.uniform(-50, 50), rng.uniform(200, 900)]))
        logits = offset + rng.uniform(0.2, 5.0) * rng.standard_normal(size)
        if index == 5:
            logits = np.round(logits)  # whole numbers: ties for the top are likely
            logits[int(rng.integers(size))] = logits.max()  # and at least one tie
        cases.append(Case(args=(logits, vocab), label=f"random scores #{index + 1}, {size} words"))
    return cases


def _most_likely_diagnose(case: Case, expected, got) -> str | None:
    logits, vocab = case.args
    scores = np.asarray(logits, dtype=np.float64)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return None
    word, number = got
    best = int(np.argmax(scores))
    try:
        finite = bool(np.isfinite(float(number)))
    except (TypeError, ValueError):
        finite = True
    if not finite:
        return (
            "the probability is not a finite number: exp of large scores overflowed "
            "(inf / inf = NaN). Subtract the largest score before exponentiating."
        )
    probs = softmax(scores)
    if isinstance(word, str) and word in vocab and word != expected[0]:
        # The mistakes below still compute a probability: that of the top word or of the
        # word returned. Any other number (typed by hand) names no mistake.
        own = probs[list(vocab).index(word)]
        if not any(_close(number, value, rtol=1e-6) for value in (probs[best], own)):
            return None
        # Every mistake that picks this word: on a small case several coincide, and
        # check names the one that also explains the answer's other cases.
        matched = [m for m, words in _word_mistakes(case) if word in words]
        return matched or None
    if _close(number, scores[best]):
        return (
            "the number is the largest score (a logit), not a probability; apply the "
            "softmax over the whole vocabulary and read that word's probability."
        )
    if _close(number, log_softmax(scores)[best]):
        return "the number is a log-probability; return the probability itself."
    if _close(number, 1.0):
        return (
            "the probability is 1: you normalized over the top word alone; the softmax's "
            "denominator sums over the whole vocabulary."
        )
    return None


def _word_mistakes(case: Case) -> list[tuple[str, set]]:
    """(message, the words that mistake returns instead of the right one) on this case."""
    logits, vocab = case.args
    scores = np.asarray(logits, dtype=np.float64)
    best = int(np.argmax(scores))
    tied = {vocab[i] for i in np.flatnonzero(scores == scores[best])} - {vocab[best]}
    least = {vocab[int(np.argmin(scores))]} - {vocab[best]}
    near = {vocab[i] for i in (best - 1, best + 1) if 0 <= i < len(vocab)} - {vocab[best]}
    return [
        (
            "several words tie for the top score and you returned a later one; return "
            "the tied word that comes first in `vocab` (as np.argmax does).",
            tied,
        ),
        ("you picked the least likely word; the most likely one has the largest score.", least),
        (
            "the word is the neighbour of the right one in `vocab`: the position of the "
            "largest score is already the word's index, without adding or subtracting 1.",
            near,
        ),
    ]


MOST_LIKELY_NEXT_WORD = Exercise(
    id="04.most_likely_next_word",
    title="The most likely next word and its probability",
    points=1,
    answer_name="most_likely_next_word",
    kind="function",
    reference=most_likely_next_word_reference,
    visible_cases=(
        Case(args=(np.array([2.0, 1.0, 0.0]), ["cat", "dog", "mat"]), label="cat, dog, mat"),
        Case(args=(np.array([-3.0, -1.0, -2.0]), ["cat", "dog", "mat"]), label="negative scores"),
        Case(
            args=(np.array([1.0, 4.0, 4.0, 0.5]), _HAND_VOCAB),
            label="a tie for the top (the earlier word wins, as with np.argmax)",
        ),
        Case(
            args=(np.array([990.0, 1000.0, 998.0]), ["cat", "dog", "mat"]),
            label="scores near 1000",
        ),
        Case(
            args=(_seeded_logits(5, (len(_TINY_VOCAB),)), _TINY_VOCAB),
            label="the tiny model's 78 words",
        ),
    ),
    hidden_cases=_most_likely_hidden,
    rtol=1e-7,
    atol=1e-12,
    diagnose=_most_likely_diagnose,
    consistent_diagnosis=True,
    differing_mistakes=lambda case: [m for m, words in _word_mistakes(case) if words],
    hints=(
        "The softmax keeps the order of the scores: the most likely word is the one with "
        "the largest score, but its probability depends on every score.",
        "Find the position of the largest score (the first one on a tie), read the word "
        "at that position in `vocab`, and its probability from a stable softmax over the "
        "whole vocabulary.",
    ),
)


# ----------------------------------------------------------- 04.kl_learned_vs_true


def kl_learned_vs_true_reference(true_probs, logits):
    """KL(true || model) = sum_w p(w) (log p(w) - log q(w)) in nats, over the last axis.

    `true_probs` (..., vocab) are the true next-token probabilities, `logits`
    (..., vocab) the model's scores; q = softmax(logits). Terms with p(w) = 0
    contribute 0; a word with p(w) > 0 and q(w) = 0 makes the divergence inf.

    >>> round(float(kl_learned_vs_true_reference([0.5, 0.5, 0.0], [0.0, 0.0, 0.0])), 6)
    0.405465
    """
    p = np.asarray(true_probs, dtype=np.float64)
    log_q = log_softmax(np.asarray(logits, dtype=np.float64), axis=-1)
    possible = p > 0
    log_p = np.log(np.where(possible, p, 1.0))
    # Impossible words (p = 0) contribute 0 even where log q = -inf (0 log 0 = 0).
    gap = np.where(possible, log_p - log_q, 0.0)
    return np.sum(p * gap, axis=-1)


def _random_distribution(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    weights = rng.gamma(0.4, size=shape)
    weights[rng.random(shape) < 0.3] = 0.0
    weights[..., 0] += 1e-3  # every row keeps at least one possible word
    return weights / weights.sum(axis=-1, keepdims=True)


def _kl_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(6):
        size = int(rng.integers(2, len(_TINY_VOCAB) + 1))
        batch = tuple(int(n) for n in rng.integers(1, 4, size=int(rng.integers(0, 3))))
        p = _random_distribution(rng, (*batch, size))
        spread = float(rng.choice([1.0, 3.0, 150.0]))
        logits = float(rng.uniform(-20, 20)) + spread * rng.standard_normal((*batch, size))
        cases.append(
            Case(
                args=(p, logits),
                label=f"random distributions #{index + 1}, shape {(*batch, size)}",
            )
        )
    return cases


def _kl_diagnose(case: Case, expected, got) -> str | None:
    p = np.asarray(case.args[0], dtype=np.float64)
    logits = np.asarray(case.args[1], dtype=np.float64)
    q = softmax(logits)
    log_q = log_softmax(logits)
    got_array = np.asarray(got, dtype=np.float64)
    if got_array.shape != np.shape(expected):
        return None
    nan_rows = np.isnan(got_array)
    zero_rows = (p == 0).any(axis=-1)
    if nan_rows.any() and (zero_rows | ~nan_rows).all():
        return (
            "NaN where the true distribution has zeros: 0 * log 0 (and 0 * -inf, where the "
            "model rules the word out) give NaN in NumPy, but a word that cannot occur "
            "contributes 0 to the divergence; keep only the terms with p > 0."
        )
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        log_p = np.log(p)
        log_of_softmax = np.sum(np.where(p > 0, p * (log_p - np.log(q)), 0.0), axis=-1)
        reverse = np.sum(np.where(q > 0, q * (log_q - log_p), 0.0), axis=-1)
        cross_entropy = -np.sum(np.where(p > 0, p * log_q, 0.0), axis=-1)
    if (
        np.isfinite(expected).all()
        and not np.isfinite(log_of_softmax).all()
        and _close(got_array, log_of_softmax, rtol=1e-6)
    ):
        return (
            "inf where the model gives a possible word a tiny probability: softmax "
            "rounded it to 0 and log(0) = -inf. Compute log q with a log-softmax "
            "(z - logsumexp(z)), which never leaves log space."
        )
    if not _close(expected, reverse) and _close(got_array, reverse, rtol=1e-6):
        return (
            "you computed KL(model || true), the divergence the other way round; KL is "
            "not symmetric: weight the log-ratio by the TRUE probabilities, "
            "sum p (log p - log q)."
        )
    if not _close(expected, cross_entropy) and _close(got_array, cross_entropy, rtol=1e-6):
        return (
            "that is the cross-entropy -sum p log q; the divergence subtracts the true "
            "distribution's own entropy: sum p (log p - log q)."
        )
    if np.any(np.asarray(expected) != 0) and _close(got_array, np.asarray(expected) / np.log(2)):
        return "that is the divergence in bits (log base 2); use the natural log, np.log."
    return None


KL_LEARNED_VS_TRUE = Exercise(
    id="04.kl_learned_vs_true",
    title="How far the learned distribution is from the true one (KL divergence)",
    points=2,
    answer_name="kl_learned_vs_true",
    kind="function",
    reference=kl_learned_vs_true_reference,
    visible_cases=(
        Case(
            args=(np.array([0.5, 0.25, 0.25]), np.log([0.5, 0.25, 0.25])),
            label="the model matches the truth exactly",
        ),
        Case(
            args=(np.array([0.5, 0.5, 0.0]), np.array([0.0, 0.0, 0.0])),
            label="a word the truth never produces (p = 0)",
        ),
        Case(
            args=(np.array([0.0, 1.0, 0.0, 0.0]), np.array([2.0, 1.0, 0.0, -1.0])),
            label="only one word can follow",
        ),
        Case(
            args=(np.array([0.5, 0.5, 0.0]), np.array([0.0, -900.0, 5.0])),
            label="the model gives a possible word a tiny probability (scores 900 apart)",
        ),
        Case(
            args=(np.array([0.5, 0.5, 0.0]), np.array([0.0, -np.inf, 1.0])),
            label="the model rules out a word that can occur (score -inf)",
        ),
        Case(
            args=(np.array([0.5, 0.5, 0.0]), np.array([0.0, 1.0, -np.inf])),
            label="the model rules out a word the truth never produces (both 0)",
        ),
        Case(
            args=(
                np.array([[0.7, 0.2, 0.1, 0.0], [0.25, 0.25, 0.25, 0.25]]),
                np.array([[1.0, 0.5, 0.0, -2.0], [0.0, 0.1, -0.1, 0.3]]),
            ),
            label="a batch of two contexts (one per row)",
        ),
    ),
    hidden_cases=_kl_hidden,
    rtol=1e-7,
    atol=1e-10,
    diagnose=_kl_diagnose,
    hints=(
        "KL(p || q) averages the log-ratio log p - log q with the TRUE probabilities p as "
        "weights; a word with p = 0 adds nothing, whatever q says about it.",
        "Take log q straight from the logits with a stable log-softmax (the softmax itself "
        "can round a tiny q to 0), and leave the terms with p = 0 out of the sum instead "
        "of multiplying them by 0 (0 * log 0 and 0 * -inf are NaN).",
    ),
)


# ------------------------------------------------------ 04.expected_calibration_error


def calibration_bins(confidences, outcomes, n_bins: int = 10):
    """Per bin: (mean confidence, mean outcome, count); empty bins give NaN means.

    Bin b holds the confidences c with b / n_bins <= c < (b + 1) / n_bins; c = 1
    goes into the last bin. `outcomes` are 0/1 (was the top word right?) or the
    probability that it is right.

    >>> conf, hits, counts = calibration_bins([0.9, 0.9, 0.6, 0.6], [1, 0, 1, 1])
    >>> conf[[6, 9]], hits[[6, 9]], counts[[6, 9]]
    (array([0.6, 0.9]), array([1. , 0.5]), array([2, 2]))
    """
    confidences = np.asarray(confidences, dtype=np.float64)
    outcomes = np.asarray(outcomes, dtype=np.float64)
    bins = np.minimum(np.floor(confidences * n_bins).astype(int), n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    confidence_sums = np.bincount(bins, weights=confidences, minlength=n_bins)
    outcome_sums = np.bincount(bins, weights=outcomes, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return confidence_sums / counts, outcome_sums / counts, counts


def expected_calibration_error_reference(confidences, outcomes, n_bins=10) -> float:
    """ECE = sum over bins of (n_b / N) * |mean confidence_b - mean outcome_b|.

    >>> expected_calibration_error_reference([0.9, 0.9, 0.6, 0.6], [1, 0, 1, 1])
    0.4
    """
    mean_confidence, mean_outcome, counts = calibration_bins(confidences, outcomes, n_bins)
    used = counts > 0
    gaps = np.abs(mean_confidence[used] - mean_outcome[used])
    return float(np.sum(counts[used] * gaps) / counts.sum())


def _ece_variants(confidences, outcomes, n_bins) -> list[tuple[float, str]]:
    """What the usual mistakes return on this case (None where they would crash)."""
    conf = np.asarray(confidences, dtype=np.float64)
    hits = np.asarray(outcomes, dtype=np.float64)
    mean_conf, mean_hit, counts = calibration_bins(conf, hits, n_bins)
    used = counts > 0
    gaps = mean_conf[used] - mean_hit[used]
    weights = counts[used] / counts.sum()
    variants = [
        (
            float(np.mean(np.abs(gaps))),
            "you averaged the bins' gaps with equal weights; a bin counts in proportion to "
            "how many predictions fall into it (n_b / N), so a nearly empty bin barely counts.",
        ),
        (
            float(abs(np.sum(weights * gaps))),
            "the gaps were summed with their signs, so over- and under-confident bins "
            "cancel (the same as one gap between the average confidence and the average "
            "outcome over all predictions); add up the absolute gap of every bin.",
        ),
        (
            float(np.max(np.abs(gaps))),
            "that is the largest gap of any bin (the maximum calibration error); the "
            "expected calibration error is the weighted average of the gaps.",
        ),
        (
            float(np.sqrt(np.sum(weights * gaps**2))),
            "you squared the gaps (a root-mean-square calibration error); the expected "
            "calibration error weights their absolute values.",
        ),
    ]
    # Bins closed on the right, (b/n, (b+1)/n]: differs where a confidence sits on an edge.
    right_closed = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    if not np.array_equal(right_closed, np.minimum(np.floor(conf * n_bins), n_bins - 1)):
        variants.append(
            (
                _ece_of_bins(conf, hits, right_closed, n_bins),
                "a confidence on a bin edge went into the bin below it; bins are closed on "
                "the left: b/n <= c < (b+1)/n (only c = 1 joins the last bin).",
            )
        )
    if (conf == 1.0).any():
        overflow = np.floor(conf * n_bins).astype(int)  # c = 1 in a bin of its own
        variants.append(
            (
                _ece_of_bins(conf, hits, overflow, n_bins + 1),
                "a confidence of exactly 1 got a bin of its own (number n_bins); it belongs "
                "to the last bin, [1 - 1/n, 1].",
            )
        )
    return variants


def _ece_of_bins(conf, hits, bins, n_bins) -> float:
    counts = np.bincount(bins, minlength=n_bins)
    conf_sums = np.bincount(bins, weights=conf, minlength=n_bins)
    hit_sums = np.bincount(bins, weights=hits, minlength=n_bins)
    return float(np.sum(np.abs(conf_sums - hit_sums)) / counts.sum())


def _ece_diagnose(case: Case, expected, got) -> str | None:
    confidences, outcomes = case.args[:2]
    n_bins = case.kwargs.get("n_bins", case.args[2] if len(case.args) > 2 else 10)
    try:
        number = float(got)
    except (TypeError, ValueError):
        return None
    if np.isnan(number):
        counts = calibration_bins(confidences, outcomes, n_bins)[2]
        if (counts == 0).any():  # only then can an empty bin's mean be the NaN
            return (
                "the result is NaN: a bin with no predictions has no mean (NumPy's mean of an "
                "empty array is NaN); leave empty bins out, they carry weight 0."
            )
        return None
    return first_matching_mistake(
        number, expected, _ece_variants(confidences, outcomes, n_bins), rtol=1e-9, atol=1e-12
    )


def _off_edge_confidences(rng: np.random.Generator, size: int, n_bins: int) -> np.ndarray:
    """Uniform confidences kept at least 1e-6 away from every bin edge but 0, 1/2 and 1,
    where every correct way of binning agrees."""
    grid = n_bins * 1000
    return (rng.integers(0, grid, size=size) + rng.uniform(0.01, 0.99, size=size)) / grid


def _ece_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(6):
        n_bins = int(rng.choice([4, 5, 10, 15, 20]))
        size = int(rng.integers(5, 400))
        conf = _off_edge_confidences(rng, size, n_bins)
        if index % 2:
            conf[rng.random(size) < 0.1] = 1.0
        if index == 4 and n_bins % 2 == 0:
            conf[: size // 4] = 0.5
        if index < 3:
            outcomes = (rng.random(size) < conf ** rng.uniform(0.5, 2.0)).astype(float)
        else:
            outcomes = np.clip(conf + rng.normal(0.0, 0.2, size=size), 0.0, 1.0)
        cases.append(
            Case(
                args=(conf, outcomes),
                kwargs={"n_bins": n_bins},
                label=f"random predictions #{index + 1}: {size} of them, {n_bins} bins",
            )
        )
    return cases


_ECE_CONF = np.array([0.95, 0.91, 0.87, 0.82, 0.55, 0.52, 0.33, 0.12])
_ECE_HITS = np.array([1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0])

EXPECTED_CALIBRATION_ERROR = Exercise(
    id="04.expected_calibration_error",
    title="Expected calibration error with equal-width bins",
    points=2,
    answer_name="expected_calibration_error",
    kind="function",
    reference=expected_calibration_error_reference,
    visible_cases=(
        Case(
            args=(np.array([0.9, 0.9, 0.6, 0.6]), np.array([1.0, 0.0, 1.0, 1.0])),
            label="four predictions by hand (two bins used)",
        ),
        Case(
            args=(_ECE_CONF, _ECE_HITS),
            label="eight predictions, over-confident in some bins and under- in others",
        ),
        Case(
            args=(_ECE_CONF, _ECE_HITS),
            kwargs={"n_bins": 4},
            label="the same eight with 4 bins",
        ),
        Case(
            args=(
                np.array([1.0, 1.0, 0.95, 0.6, 0.5, 0.5, 0.3, 0.25]),
                np.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0]),
            ),
            kwargs={"n_bins": 4},
            label="confidences on bin edges (0.25, 0.5) and exactly 1",
        ),
        Case(
            args=(np.array([0.72, 0.74, 0.78]), np.array([0.7, 0.8, 0.75])),
            label="outcomes given as probabilities of being right, one bin used",
        ),
        Case(
            args=(
                _off_edge_confidences(np.random.default_rng(14), 300, 10),
                (np.random.default_rng(15).random(300) < 0.6).astype(float),
            ),
            label="300 predictions, 10 bins",
        ),
    ),
    hidden_cases=_ece_hidden,
    rtol=1e-9,
    atol=1e-12,
    diagnose=_ece_diagnose,
    hints=(
        "Group the predictions by how confident they are; in each group compare the average "
        "confidence with how often (or how probably) the top word was right, and average "
        "those gaps, each weighted by its group's share of all predictions.",
        "A confidence c belongs to bin floor(c * n_bins), except c = 1, which joins the last "
        "bin. Bins without predictions have no average and weight 0: skip them. Use the "
        "absolute gap, and divide by the total number of predictions.",
    ),
)


# ------------------------------------------------ 04.predict_restoring_temperature

# A copy of the model whose logits are z' = _COPY_SCALE * z + _COPY_SHIFT.
_COPY_SCALE = 0.5
_COPY_SHIFT = 4.0


def predict_restoring_temperature_reference() -> float:
    """The T with softmax(z' / T) = softmax(z) for z' = 0.5 z + 4: the shift never
    matters, and z' / T = z + 4 / T exactly when T = 0.5."""
    return float(_COPY_SCALE)


def _restoring_temperature_diagnose(case: Case, expected, got) -> str | None:
    return first_matching_mistake(
        got,
        expected,
        [
            (
                1.0 / _COPY_SCALE,
                "dividing the copy's scores by 2 halves them once more: the copy is too "
                "flat (under-confident) and needs sharpening, a temperature below 1.",
            ),
            (
                1.0,
                "a temperature does change calibration: it rescales every logit, which "
                "moves every confidence while keeping the top word. The copy's scores are "
                "half of ours; which T undoes that?",
            ),
            (
                _COPY_SHIFT,
                "the +4 is added to every score, and adding a constant changes no "
                "probability (lesson 03); only the factor 0.5 needs undoing.",
            ),
            (
                _COPY_SHIFT / _COPY_SCALE,
                "the +4 is added to every score, and adding a constant changes no "
                "probability (lesson 03); only the factor 0.5 needs undoing.",
            ),
        ],
        rtol=0.0,
        atol=5e-4,
    )


PREDICT_RESTORING_TEMPERATURE = Exercise(
    id="04.predict_restoring_temperature",
    title="Predict: the temperature that restores a rescaled copy of the model",
    points=2,
    answer_name="restoring_temperature",
    kind="value",
    reference=predict_restoring_temperature_reference,
    rtol=0.0,
    atol=5e-4,
    diagnose=_restoring_temperature_diagnose,
    hints=(
        "Write what the copy's distribution at temperature T is: softmax(z' / T) with "
        "z' = 0.5 z + 4. Which part of z' / T can the softmax ignore?",
        "The constant 4 / T is added to every score and cancels in the softmax. What "
        "factor multiplies z in what is left, and for which T does the copy give back the "
        "model's own distribution?",
    ),
)


EXERCISES = [
    NEXT_TOKEN_DISTRIBUTION,
    MOST_LIKELY_NEXT_WORD,
    KL_LEARNED_VS_TRUE,
    EXPECTED_CALIBRATION_ERROR,
    PREDICT_RESTORING_TEMPERATURE,
]
