"""Exercises of lesson 05, "Sampling the next token".

* ``05.inverse_cdf_sample``: turn uniform random numbers into token ids by the
  inverse CDF of a distribution (the way `utils.sampling.sample_next_token`
  draws).
* ``05.top_k_filter``: keep the k highest logits, set the rest to -inf
  (exactly k; ties keep the lower token ids).
* ``05.top_p_filter``: keep the smallest set of most likely tokens whose
  probability reaches p (Hugging Face's nucleus filter; the token that brings
  the mass exactly to p stays; p = 1 keeps everything).
* ``05.top_p_range``: a reasoning exercise: the range of p for which top-p
  keeps exactly k tokens of a given row (the boundary rule decides its ends).

The references are the course's own functions, so an answer that passes here
behaves like `utils.sampling`. Cases are float64: the top-p rule counts a
cumulative probability within 1e-12 of p as reaching it (rounding must not
decide the boundary token), which float64 sums always meet.

>>> from utils.exercises import get
>>> get("05.inverse_cdf_sample").reference(np.array([0.5, 0.3, 0.2]), np.array([0.1, 0.62, 0.95]))
array([0, 1, 2])
"""

from __future__ import annotations

import numpy as np

from utils.exercises._matching import first_matching_mistake
from utils.exercises._spec import Case, Exercise
from utils.probability import softmax
from utils.sampling import top_k_filter, top_p_filter

__all__ = [
    "EXERCISES",
    "inverse_cdf_sample_reference",
    "top_k_filter_reference",
    "top_p_filter_reference",
    "top_p_range_reference",
]


# Whole numbers from -2 to 2: a tie at almost every place (-0.0 made 0.0 by the + 0.0).
_WHOLE_NUMBER_LOGITS = np.round(np.random.default_rng(5).standard_normal(30)) + 0.0


def _same(got, expected) -> bool:
    """Exact equality of shape and values (-inf equals -inf)."""
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    expected = np.asarray(expected, dtype=np.float64)
    return got.shape == expected.shape and bool(np.array_equal(got, expected))


# ------------------------------------------------------------- 05.inverse_cdf_sample


def inverse_cdf_sample_reference(probs, uniforms):
    """Token ids for uniform numbers u in [0, 1): the first token whose cumulative
    probability exceeds u.

    Token i owns the interval [c_{i-1}, c_i) of the cumulative sums
    c = np.cumsum(probs), so a token of probability 0 is never chosen and u
    equal to c_i belongs to token i + 1. If rounding leaves c[-1] a hair
    under 1 and u lands above it, the last token with probability > 0 is
    chosen. `probs` has shape (vocab,); the result has the shape of `uniforms`.

    >>> inverse_cdf_sample_reference(np.array([0.5, 0.25, 0.25]), np.array([0.0, 0.5, 0.75]))
    array([0, 1, 2])
    """
    p = np.asarray(probs, dtype=np.float64)
    u = np.asarray(uniforms, dtype=np.float64)
    cumulative = np.cumsum(p)
    ids = np.searchsorted(cumulative, u, side="right")
    last_possible = int(np.flatnonzero(p > 0)[-1])
    return np.minimum(ids, last_possible).astype(np.int64)


def _inverse_cdf_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(6):
        size = int(rng.integers(2, 60))
        if index % 2 == 0:
            # Multiples of 1/16: the cumulative sums are exact, so uniforms placed
            # exactly on them test which token owns a boundary.
            counts = rng.multinomial(16, np.full(size, 1.0 / size))
            probs = counts / 16.0
            edges = np.cumsum(probs)[:-1]
            uniforms = np.concatenate([rng.choice(edges, size=5), rng.random(20)])
        else:
            probs = rng.dirichlet(np.full(size, 0.5))
            probs[rng.random(size) < 0.3] = 0.0
            if probs.sum() == 0:
                probs[int(rng.integers(size))] = 1.0
            probs /= probs.sum()
            uniforms = rng.random(int(rng.integers(1, 40)))
        shape = (uniforms.size,) if rng.random() < 0.5 else (1, uniforms.size)
        cases.append(
            Case(
                args=(probs, uniforms.reshape(shape)),
                label=f"random distribution #{index + 1} over {size} tokens",
            )
        )
    return cases


def _inverse_cdf_diagnose(case: Case, expected, got) -> str | None:
    probs = np.asarray(case.args[0], dtype=np.float64)
    uniforms = np.asarray(case.args[1], dtype=np.float64)
    try:
        got = np.asarray(got)
    except (TypeError, ValueError):
        return None
    if got.shape != np.shape(expected) or got.dtype.kind not in "iu":
        return None
    if np.array_equal(got, expected + 1) or np.array_equal(got, expected - 1):
        return "every id is off by one; token ids start at 0 like the positions in `probs`."
    cumulative = np.cumsum(probs)
    right = np.searchsorted(cumulative, uniforms, side="right")
    if np.array_equal(got, np.minimum(right, probs.size - 1)):
        return (
            "you capped the ids at the last token, but its probability is 0; when rounding "
            "leaves u above every cumulative sum, choose the last token with probability > 0."
        )
    with np.errstate(invalid="ignore"):
        first_above = np.argmax(cumulative > uniforms[..., None], axis=-1)
    if np.array_equal(got, first_above):
        return (
            "where rounding leaves u above every cumulative sum, the comparison c > u is "
            "all-False and np.argmax of an all-False row is 0, so token 0 is chosen; choose "
            "the last token with probability > 0 then."
        )
    by_probability = np.argsort(-probs, kind="stable")
    sorted_cdf = np.cumsum(probs[by_probability])
    sorted_ids = np.minimum(
        np.searchsorted(sorted_cdf, uniforms, side="right"), np.count_nonzero(probs) - 1
    )
    if np.array_equal(got, by_probability[sorted_ids]) and not np.array_equal(got, expected):
        return (
            "you sorted the tokens by probability before the cumulative sums; the inverse CDF "
            "runs over the tokens in vocabulary order (token 0 first), as np.cumsum(probs) does."
        )
    if (got >= probs.size).any() or (got < 0).any():
        return (
            f"an id is outside 0..{probs.size - 1} (the vocabulary): when rounding leaves the last "
            "cumulative sum a hair under 1, u can land above it; choose the last token "
            "with probability > 0 then."
        )
    if (probs[got] == 0).any():
        return (
            "you chose a token whose probability is 0; each token owns the interval "
            "[c[i-1], c[i]) of the cumulative sums, which is empty when p[i] = 0 — pick "
            "the first token whose cumulative sum is strictly greater than u."
        )
    left = np.minimum(np.searchsorted(cumulative, uniforms, side="left"), probs.size - 1)
    if np.array_equal(got, left):
        return (
            "a uniform number equal to a cumulative sum went to the token before it: "
            "token i owns [c[i-1], c[i]), so u = c[i] belongs to token i + 1 "
            "(searchsorted with side='right', or count the sums <= u)."
        )
    return None


INVERSE_CDF_SAMPLE = Exercise(
    id="05.inverse_cdf_sample",
    title="Sampling by the inverse CDF",
    points=2,
    answer_name="inverse_cdf_sample",
    kind="function",
    reference=inverse_cdf_sample_reference,
    visible_cases=(
        Case(
            args=(np.array([0.5, 0.3, 0.2]), np.array([0.1, 0.62, 0.95])),
            label="cat, dog, mat with u = 0.1, 0.62, 0.95",
        ),
        Case(
            args=(np.array([0.5, 0.25, 0.25]), np.array([0.0, 0.5, 0.75, 0.999])),
            label="u exactly on a cumulative sum (0.5 and 0.75)",
        ),
        Case(
            args=(np.array([0.0, 0.5, 0.0, 0.5]), np.array([0.0, 0.25, 0.5, 0.75])),
            label="tokens with probability 0",
        ),
        Case(args=(np.array([0.2, 0.8]), np.float64(0.3)), label="a single uniform number"),
        Case(
            args=(np.array([0.5, 0.3, 0.2]), np.array([[0.9, 0.1], [0.55, 0.85], [0.2, 0.7]])),
            label="a (3, 2) array of uniform numbers",
        ),
        Case(
            args=(np.full(10, 0.1), np.array([np.nextafter(1.0, 0.0), 0.05])),
            label="ten tokens of 0.1 (their sum rounds to 0.9999999999999999), u just below 1",
        ),
        Case(
            args=(np.append(np.full(10, 0.1), 0.0), np.array([0.3, np.nextafter(1.0, 0.0)])),
            label="the same ten tokens and a last token of probability 0, u just below 1",
        ),
        Case(
            args=(np.array([0.2, 0.5, 0.3]), np.array([0.1, 0.3, 0.75])),
            label="probabilities not sorted (the CDF runs in vocabulary order)",
        ),
    ),
    hidden_cases=_inverse_cdf_hidden,
    rtol=0.0,
    atol=0.0,
    diagnose=_inverse_cdf_diagnose,
    hints=(
        "Lay the tokens' probabilities end to end on [0, 1): token i owns the stretch from "
        "the cumulative sum before it up to its own, so u picks the stretch it falls in.",
        "The chosen token is the number of cumulative sums that are <= u (NumPy can count "
        "them for a whole array of u at once). Rounding can leave the last sum a hair "
        "under 1: then fall back to the last token whose probability is above 0.",
    ),
)


# ------------------------------------------------------------------- 05.top_k_filter


def top_k_filter_reference(logits, k):
    """The k highest logits of each row kept, the rest -inf (`utils.sampling.top_k_filter`).

    >>> top_k_filter_reference(np.array([2.0, 1.0, 2.0, 2.0]), 2)
    array([  2., -inf,   2., -inf])
    """
    return top_k_filter(np.asarray(logits, dtype=np.float64), k)


def _top_k_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(6):
        size = int(rng.integers(2, 80))
        batch = tuple(int(n) for n in rng.integers(1, 4, size=int(rng.integers(0, 3))))
        logits = float(rng.uniform(-20, 20)) + 2.5 * rng.standard_normal((*batch, size))
        if index % 3 == 0:
            logits = np.round(logits)  # whole numbers: ties at the k-th place
        k = int(rng.integers(1, size + 3))
        cases.append(
            Case(args=(logits, k), label=f"random logits #{index + 1}, shape {logits.shape}, k={k}")
        )
    return cases


def _filter_shape_diagnose(logits, got, expected) -> str | None:
    """Mistakes common to both filters: probabilities instead of logits, 0 for removed."""
    got = np.asarray(got, dtype=np.float64)
    if got.shape != expected.shape or np.isinf(got).any():
        return None
    if np.allclose(got.sum(axis=-1), 1.0, atol=1e-6) and (got >= 0).all():
        return (
            "the result sums to 1 like probabilities; a filter returns LOGITS: the kept "
            "tokens' own scores, and -inf for the removed ones."
        )
    if np.isinf(expected).any() and _same(got, np.where(np.isfinite(expected), logits, 0.0)):
        return (
            "removed tokens are 0, but 0 is an ordinary score (e^0 = 1); set them to "
            "-np.inf so that their probability becomes exactly 0."
        )
    return None


def _top_k_diagnose(case: Case, expected, got) -> str | None:
    logits = np.asarray(case.args[0], dtype=np.float64)
    k = int(case.args[1])
    expected = np.asarray(expected, dtype=np.float64)
    if logits.ndim > 1:
        flat = logits.ravel()
        keep = np.zeros(flat.size, dtype=bool)
        keep[np.argsort(-flat, kind="stable")[:k]] = True
        if _same(got, np.where(keep, flat, -np.inf).reshape(logits.shape)):
            return (
                "you ranked the whole batch as one row, so some rows keep fewer than k tokens "
                "(or none); rank each row on its own, along the last axis."
            )
    message = _filter_shape_diagnose(logits, got, expected)
    if message:
        return message
    got = np.asarray(got, dtype=np.float64)
    if got.shape != expected.shape:
        return None
    kept = np.count_nonzero(np.isfinite(got), axis=-1)
    want = np.count_nonzero(np.isfinite(expected), axis=-1)
    kth = np.sort(logits, axis=-1)[..., -min(k, logits.shape[-1])][..., None]
    at_least = np.where(logits >= kth, logits, -np.inf)
    if _same(got, at_least):
        return (
            "you kept every token tied with the k-th largest logit (Hugging Face's rule), "
            "so more than k stay; the course keeps exactly k: among tied tokens, the lower "
            "token ids (np.argsort(-logits, kind='stable') orders them so)."
        )
    if (kept == want + 1).all():
        return "you kept k + 1 tokens; keep exactly k (check an off-by-one in your slice)."
    if (kept == want - 1).all():
        return "you kept k - 1 tokens; keep exactly k (check an off-by-one in your slice)."
    if (kept == want).all():
        smallest = np.where(logits <= np.sort(logits, axis=-1)[..., k - 1 : k], logits, -np.inf)
        if k < logits.shape[-1] and _same(got, smallest):
            return "you kept the k LOWEST logits; keep the k highest."
        kept_mask = np.isfinite(got) | (np.isneginf(got) & np.isneginf(logits) & (kept > 0))
        a_top_k = (
            _same(np.where(kept_mask, logits, -np.inf), got)
            and (np.where(kept_mask, logits, np.inf) >= kth).all()
            and (np.where(kept_mask, -np.inf, logits) <= kth).all()
        )
        if a_top_k:
            return (
                "you kept k of the highest logits, but among the tokens tied at the k-th place "
                "not the lower token ids: a reversed ascending sort, np.argpartition or an "
                "unstable sort choose among ties in their own order; rank with a stable sort "
                "of the negated logits."
            )
        return "you kept k tokens, but not the right ones: the k highest logits stay."
    return None


TOP_K_FILTER = Exercise(
    id="05.top_k_filter",
    title="Top-k filtering",
    points=2,
    answer_name="top_k_filter",
    kind="function",
    reference=top_k_filter_reference,
    visible_cases=(
        Case(args=(np.array([1.0, 3.0, 2.0, 0.5]), 2), label="four tokens, k = 2"),
        Case(args=(np.array([1.0, 3.0, 2.0, 0.5]), 1), label="k = 1 (greedy)"),
        Case(args=(np.array([1.0, 3.0, 2.0, 0.5]), 4), label="k = vocabulary size"),
        Case(args=(np.array([1.0, 3.0, 2.0, 0.5]), 10), label="k larger than the vocabulary"),
        Case(
            args=(np.array([2.0, 1.0, 2.0, 2.0]), 2),
            label="a three-way tie for the top (exactly k stay: lower ids first)",
        ),
        Case(
            args=(np.array([[1.0, 3.0, 2.0, 0.5], [-1.0, -5.0, 4.0, 4.5]]), 2),
            label="a batch of two rows, k = 2",
        ),
        Case(
            args=(np.array([0.5, -np.inf, 2.0, -np.inf, 1.0]), 2),
            label="logits already holding -inf",
        ),
        Case(
            args=(_WHOLE_NUMBER_LOGITS, 8),
            label="30 whole-number logits, k = 8 (the 8th place is a tie)",
        ),
    ),
    hidden_cases=_top_k_hidden,
    rtol=0.0,
    atol=0.0,
    diagnose=_top_k_diagnose,
    hints=(
        "Rank each row's tokens from the highest logit down; the first k of that ranking "
        "stay, everything else becomes -inf. Ties must be ranked by token id.",
        "A stable sort keeps equal keys in their original order: sort the NEGATED logits "
        "stably (a reversed ascending sort puts tied tokens backwards), then mark the "
        "first k ranked positions as kept, in a new array.",
    ),
)


# ------------------------------------------------------------------- 05.top_p_filter


def top_p_filter_reference(logits, p):
    """The smallest set of most likely tokens reaching probability p (`utils.sampling`).

    >>> top_p_filter_reference(np.log([0.5, 0.25, 0.125, 0.125]), 0.75).round(3)
    array([-0.693, -1.386,   -inf,   -inf])
    """
    return top_p_filter(np.asarray(logits, dtype=np.float64), p)


def _top_p_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(7):
        size = int(rng.integers(2, 80))
        if index % 3 == 0:
            # Multiples of 1/32 and p equal to a cumulative sum: the exact boundary.
            counts = rng.multinomial(32, rng.dirichlet(np.ones(size)))
            counts[0] += 1 if counts.sum() == 0 else 0
            probs = counts / counts.sum()
            with np.errstate(divide="ignore"):
                logits = np.log(probs)
            ranked = np.sort(probs)[::-1]
            p = float(np.cumsum(ranked)[int(rng.integers(0, max(1, np.count_nonzero(ranked))))])
            p = min(p, 1.0)
            label = f"random distribution #{index + 1}: p equal to a cumulative sum"
        else:
            batch = tuple(int(n) for n in rng.integers(1, 4, size=int(rng.integers(0, 3))))
            logits = float(rng.uniform(-20, 20)) + rng.uniform(0.5, 4) * rng.standard_normal(
                (*batch, size)
            )
            p = 1.0 if index == 5 else float(np.round(rng.uniform(0.05, 0.99), 2))
            label = f"random logits #{index + 1}, shape {logits.shape}, p={p}"
        cases.append(Case(args=(logits, p), label=label))
    return cases


def _top_p_rules(logits, probs, p):
    """(kept mask, message) of the top-p rules learners write instead of the right one."""
    order = np.argsort(-logits, axis=-1, kind="stable")
    ranked = np.take_along_axis(probs, order, axis=-1)
    before = np.cumsum(ranked, axis=-1) - ranked
    flat_before = (np.cumsum(ranked) - ranked.ravel()).reshape(ranked.shape)
    first = np.arange(logits.shape[-1]) == 0

    def unranked(keep_ranked):
        keep = np.empty_like(keep_ranked)
        np.put_along_axis(keep, order, keep_ranked, axis=-1)
        return keep

    ascending = np.argsort(logits, axis=-1, kind="stable")
    tail = np.cumsum(np.take_along_axis(probs, ascending, axis=-1), axis=-1)
    remove_ranked = tail <= 1 - p
    remove_ranked[..., -1] = False
    remove = np.empty_like(remove_ranked)
    np.put_along_axis(remove, ascending, remove_ranked, axis=-1)
    rounding = (
        "at the boundary you kept an extra token: the token that brings the mass to "
        "exactly p is the last one kept. Rounding may make that mass a hair under p (0.5 + "
        "0.3 can come out as 0.7999999999999998), so count a cumulative probability within "
        "1e-12 of p as reaching p."
    )
    exponentials = np.exp(logits - logits.max(axis=-1, keepdims=True))
    ranked_mass = np.take_along_axis(exponentials, order, axis=-1)
    mass_before = np.cumsum(ranked_mass, axis=-1) - ranked_mass
    return [
        (unranked((before < p) | first), rounding),
        (
            unranked(np.cumsum(ranked, axis=-1) <= p + 1e-12),
            "you dropped the token that makes the mass reach p; top-p keeps the smallest set "
            "whose probability is AT LEAST p, so the crossing token stays.",
        ),
        (
            unranked((mass_before < p - 1e-12) | first),
            "your running total adds exponentials that were not normalized, so it is not a "
            "probability: divide by the row's total (the softmax of the whole row) first.",
        ),
        (
            ~remove,
            "you removed tokens while the tail mass is <= 1 - p (Hugging Face's rule): "
            "rounding in 1 - p and in the tail sums moves the boundary. "
            + rounding[rounding.index("Rounding may") :],
        ),
        (
            unranked((flat_before < p - 1e-12) | first),
            "the running total carries over from one row to the next (a cumsum over the "
            "flattened batch); each row is its own distribution: sum along the last axis.",
        ),
        (
            unranked((before <= p + 1e-12) | first),
            "you kept one token too many: a token whose mass before it already reaches p is "
            "not needed; stop at the first token whose cumulative probability reaches p.",
        ),
    ]


def _top_p_diagnose(case: Case, expected, got) -> str | None:
    logits = np.asarray(case.args[0], dtype=np.float64)
    p = float(case.args[1])
    expected = np.asarray(expected, dtype=np.float64)
    message = _filter_shape_diagnose(logits, got, expected)
    if message:
        return message
    got = np.asarray(got, dtype=np.float64)
    if got.shape != expected.shape:
        return None
    kept = np.count_nonzero(np.isfinite(got), axis=-1)
    want = np.count_nonzero(np.isfinite(expected), axis=-1)
    if p == 1.0 and (kept < want).any():
        return (
            "with p = 1 every token stays (Hugging Face skips the filter): the mass "
            "before the last, tiny tokens already rounds to 1, so return the logits unchanged."
        )
    if (kept != want).any():
        # Rules that move the boundary: named only when the answer is exactly that rule's.
        for rule, message in _top_p_rules(logits, softmax(logits), p):
            if _same(got, np.where(rule, logits, -np.inf)):
                return message
    if np.isfinite(got).sum() and (kept == want + 1).any() and (kept >= want).all():
        return (
            "you kept one token too many: stop at the first token whose cumulative "
            "probability reaches p (that token included)."
        )
    if (kept == want - 1).any() and (kept <= want).all():
        return (
            "you dropped the token that makes the mass reach p; top-p keeps the smallest "
            "set whose probability is AT LEAST p, so the crossing token stays."
        )
    if (kept == want).all():
        return (
            "you kept the right number of tokens, but not the right ones: rank them from the "
            "most likely down, and among equal logits put the lower token id first (a "
            "stable sort of the negated logits; an unstable or reversed sort breaks ties "
            "its own way)."
        )
    return None


TOP_P_FILTER = Exercise(
    id="05.top_p_filter",
    title="Top-p (nucleus) filtering",
    points=3,
    answer_name="top_p_filter",
    kind="function",
    reference=top_p_filter_reference,
    visible_cases=(
        Case(
            args=(np.log([0.5, 0.25, 0.125, 0.125]), 0.8), label="probs 1/2, 1/4, 1/8, 1/8, p=0.8"
        ),
        Case(
            args=(np.log([0.5, 0.25, 0.125, 0.125]), 0.75),
            label="the mass reaches p exactly (1/2 + 1/4 = 0.75)",
        ),
        Case(
            args=(np.log([0.5, 0.3, 0.1, 0.1]), 0.8),
            label="0.5 + 0.3 reaches p = 0.8, up to rounding",
        ),
        Case(args=(np.log([0.3, 0.1, 0.1, 0.5]), 0.8), label="the same tokens in another order"),
        Case(args=(np.array([3.0, 0.0, 0.0]), 0.1), label="p below the top probability: one token"),
        Case(
            args=(np.array([0.0, -50.0, -100.0]), 1.0),
            label="p = 1 with tokens of tiny probability",
        ),
        Case(args=(np.zeros(4), 0.5), label="four equal logits, p = 0.5 (ties: lower ids first)"),
        Case(
            args=(np.array([[2.0, 1.0, 0.0, -1.0], [0.0, 0.0, 5.0, 0.0]]), 0.9),
            label="a batch of two rows, p = 0.9",
        ),
        Case(
            args=(np.log([[0.5, 0.3, 0.1, 0.1], [0.1, 0.4, 0.1, 0.4]]), 0.6),
            label="a batch of two rows, p = 0.6 (two tokens in each)",
        ),
        Case(
            args=(_WHOLE_NUMBER_LOGITS, 0.7),
            label="30 whole-number logits, p = 0.7 (the boundary falls among tied tokens)",
        ),
    ),
    hidden_cases=_top_p_hidden,
    rtol=0.0,
    atol=0.0,
    diagnose=_top_p_diagnose,
    hints=(
        "Walk down the tokens from the most likely (ties: lower id first), adding up their "
        "probabilities; stop at the first token at which the total reaches p, and keep it.",
        "A token is kept exactly when the probability of the tokens ranked BEFORE it is "
        "still short of p (allow the 1e-12 of rounding). Compute that for every ranked "
        "position at once, map it back to the original token order, and treat p = 1 as "
        "keeping everything.",
    ),
)


# -------------------------------------------------------------- 05.top_p_range


def top_p_range_reference(logits, k) -> tuple[float, float]:
    """(low, high): top-p keeps exactly k tokens of this row for every p with low < p <= high.

    Top-p keeps the smallest set of most likely tokens whose mass reaches p. With
    S_j the mass of the j most likely tokens (S_0 = 0), k tokens are kept exactly
    when S_{k-1} < p <= S_k: the k-th token is then the boundary token, and it
    stays. `high` is capped at 1 against rounding. At either end, which tokens a
    float computation keeps is decided by its rounding; inside, it is not.

    >>> low, high = top_p_range_reference(np.log([0.1, 0.5, 0.1, 0.3]), 2)
    >>> round(low, 12), round(high, 12)
    (0.5, 0.8)
    """
    probs = softmax(np.asarray(logits, dtype=np.float64))
    running = np.cumsum(np.sort(probs)[::-1])
    low = float(running[k - 2]) if k >= 2 else 0.0
    return low, float(min(running[k - 1], 1.0))


def _top_p_range_mistakes(logits, k) -> list[tuple[tuple[float, float], str]]:
    scores = np.asarray(logits, dtype=np.float64)
    probs = softmax(scores)
    running = np.concatenate([[0.0], np.cumsum(np.sort(probs)[::-1])])
    mistakes = []
    if k < len(probs):
        mistakes.append(
            (
                (running[k], running[k + 1]),
                "that range keeps k + 1 tokens: for p just above the mass of the k most "
                "likely tokens, one more token is needed to reach it. Which range of p "
                "makes the k-th token the boundary token?",
            )
        )
    if k >= 2:
        mistakes.append(
            (
                (running[k - 2], running[k - 1]),
                "that range keeps k - 1 tokens: for p up to the mass of the k - 1 most likely "
                "tokens, those already reach it.",
            )
        )
    if k == 1:
        # running[k - 2] with k = 1 is running[-1] in Python: the total mass, not S_0 = 0.
        mistakes.append(
            (
                (running[-1], running[1]),
                "for k = 1 the lower end is S_0 = 0, nothing kept yet; an index k - 2 is -1 "
                "there, which Python reads as the last running total (the whole mass, 1).",
            )
        )
    in_vocab_order = np.concatenate([[0.0], np.cumsum(probs)])
    ascending = np.concatenate([[0.0], np.cumsum(np.sort(probs))])
    mistakes += [
        (
            (in_vocab_order[k - 1], in_vocab_order[k]),
            "you added up the probabilities in vocabulary order; top-p ranks the tokens from "
            "the most likely down before adding them up.",
        ),
        (
            (ascending[k - 1], ascending[k]),
            "you added up the least likely tokens first; top-p starts from the most likely.",
        ),
        (
            (1.0 - running[k], 1.0 - running[k - 1]),
            "those are masses left outside the kept tokens (the tail); p is the mass that "
            "the kept tokens reach.",
        ),
    ]
    ranked_scores = np.concatenate([[0.0], np.cumsum(np.sort(scores)[::-1])])
    mistakes.append(
        (
            (ranked_scores[k - 1], ranked_scores[k]),
            "you added up scores (logits); p is a probability: turn the logits into "
            "probabilities with a softmax first.",
        )
    )
    return [((float(low), float(min(high, 1.0))), message) for (low, high), message in mistakes]


def _top_p_range_diagnose(case: Case, expected, got) -> str | None:
    logits, k = case.args
    try:
        pair = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if pair.shape != (2,):
        return "return two numbers, (low, high), e.g. as a tuple."
    if np.isnan(pair).any() and np.max(logits) > np.log(np.finfo(np.float64).max):
        return (
            "the result holds NaN: exp of large scores overflowed (inf / inf); compute the "
            "probabilities with a stable softmax."
        )
    message = first_matching_mistake(
        pair, expected, _top_p_range_mistakes(logits, k), rtol=1e-9, atol=1e-12, unique=True
    )
    if message:
        return message
    low_right = bool(np.isclose(pair[0], expected[0], rtol=1e-9, atol=1e-12))
    high_right = bool(np.isclose(pair[1], expected[1], rtol=1e-9, atol=1e-12))
    if low_right != high_right:
        wrong_end, right_value = (1, expected[1]) if low_right else (0, expected[0])
        if 0.0 < abs(pair[wrong_end] - right_value) <= 1e-6:
            # A nudge, not a rounding (that would move both ends): "p = low is excluded".
            return (
                "give each end itself, not a value just inside it: the range is "
                "low < p <= high, and which end is open is part of the answer, not of the "
                "numbers."
            )
        which = "lower" if low_right else "upper"
        return f"the {which} end is right, the other one is not."
    return None


def _top_p_range_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(6):
        size = int(rng.integers(3, 79))
        offset = float(rng.choice([0.0, rng.uniform(-40, 40), rng.uniform(300, 900)]))
        logits = offset + rng.uniform(0.3, 3.0) * rng.standard_normal(size)
        if index == 5:
            logits = np.round(logits)  # ties, also at the boundary
        k = int(rng.integers(1, size + 1))
        cases.append(
            Case(args=(logits, k), label=f"random scores #{index + 1}: {size} tokens, k={k}")
        )
    return cases


TOP_P_RANGE = Exercise(
    id="05.top_p_range",
    title="Which p makes top-p keep exactly k tokens?",
    points=2,
    answer_name="top_p_range",
    kind="function",
    reference=top_p_range_reference,
    visible_cases=(
        Case(args=(np.log([0.5, 0.3, 0.1, 0.1]), 2), label="probs 0.5, 0.3, 0.1, 0.1 and k=2"),
        Case(args=(np.log([0.1, 0.5, 0.1, 0.3]), 2), label="the same tokens in another order, k=2"),
        Case(args=(np.log([0.1, 0.5, 0.1, 0.3]), 1), label="k=1: only the most likely token"),
        Case(args=(np.log([0.1, 0.5, 0.1, 0.3]), 4), label="k=4: every token"),
        Case(args=(np.log([0.2, 0.4, 0.2, 0.2]), 2), label="a tie at the boundary, k=2"),
        Case(args=(np.array([1000.0, 998.0, 990.0, 995.0]), 3), label="scores near 1000, k=3"),
        Case(
            args=(np.round(2.0 * np.random.default_rng(50).standard_normal(78), 3), 5),
            label="78 words, k=5",
        ),
        Case(args=(np.array([2.0, -1.0, 0.5, 3.0, 0.0]), 3), label="five scores, k=3"),
    ),
    hidden_cases=_top_p_range_hidden,
    rtol=1e-9,
    atol=1e-12,
    diagnose=_top_p_range_diagnose,
    hints=(
        "Let S_j be the probability of the j most likely tokens together. For which p does "
        "top-p need the k-th token, and for which p does it stop there?",
        "Top-p keeps a token while the mass ranked before it is still below p, and the "
        "token that reaches p stays. So the k-th token is the last one kept when p is above "
        "one running total and at most the next one: which two? (S_0 = 0.)",
    ),
)

EXERCISES = [INVERSE_CDF_SAMPLE, TOP_K_FILTER, TOP_P_FILTER, TOP_P_RANGE]
