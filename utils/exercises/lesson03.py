"""Exercises of lesson 03, "Shift invariance, scale and temperature".

* ``03.apply_temperature``: the next-token distribution at temperature T.
* ``03.entropy``: the entropy of distributions, in nats.
* ``03.predict_shift`` and ``03.predict_tie_limit``: predict-then-verify
  questions; the learner writes a number down before running the cell
  that computes it.
* ``03.temperature_for_confidence``: work backwards from a probability to the
  temperature that gives it (an equation to solve, or a search).
* ``03.predict_peaked``: a reasoning question answered with a letter: which
  statement about softmax([1, 5, 10]) against softmax([1, 2, 3]) is true,
  decided before computing either.

>>> from utils.exercises import get
>>> round(get("03.predict_shift").reference(), 4)
0.6652
"""

from __future__ import annotations

import numpy as np

from utils.exercises._matching import as_float64, first_matching_mistake
from utils.exercises._spec import Case, Exercise
from utils.probability import entropy, softmax

__all__ = [
    "CONFIDENCE_TARGET",
    "EXERCISES",
    "PEAKED_OPTIONS",
    "PREDICT_PEAKED",
    "PREDICT_SHIFT",
    "PREDICT_TIE_LIMIT",
    "TEMPERATURE_FOR_CONFIDENCE",
]

# float64 everywhere in this lesson.
_RTOL = 1e-7
_ATOL = 1e-10


# A prediction is matched to a typical wrong guess to three decimals.
_GUESS_ATOL = 5e-4


def _first_mistake(got, expected, mistakes, atol: float = _ATOL) -> str | None:
    return first_matching_mistake(got, expected, mistakes, rtol=_RTOL, atol=atol, unique=True)


# -------------------------------------------------------- 03.apply_temperature


def apply_temperature_reference(logits, temperature):
    """softmax(logits / temperature) over the last axis, computed stably."""
    return softmax(logits, axis=-1, temperature=temperature)


def _temperature_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(8):
        ndim = int(rng.integers(1, 3))
        shape = tuple(int(size) for size in rng.integers(2, 8, size=ndim))
        logits = rng.uniform(-5.0, 5.0) + rng.uniform(0.5, 4.0) * rng.standard_normal(shape)
        # Log-uniform from 0.001 (dividing pushes scores past exp's limit) to 1000.
        temperature = float(10.0 ** rng.uniform(-3.0, 3.0))
        cases.append(
            Case(
                args=(logits, temperature),
                label=f"random #{index + 1}: shape {shape}, temperature {temperature:.3g}",
            )
        )
    return cases


def _scaled_scores_size(case: Case) -> float:
    """max |z / T|: what float32 rounding of the divided scores is relative to."""
    logits, temperature = np.asarray(case.args[0], dtype=np.float64), float(case.args[1])
    return float(np.max(np.abs(logits))) / temperature


def _temperature_diagnose(case: Case, expected, got) -> str | None:
    logits, temperature = np.asarray(case.args[0], dtype=np.float64), float(case.args[1])
    mistakes = [
        (
            softmax(logits),
            "your result does not change with the temperature: it is the T = 1 "
            "distribution. Divide the scores by T before the softmax (adding or "
            "subtracting T changes nothing: shift invariance).",
        ),
        (
            softmax(logits, temperature=1.0 / temperature),
            "you multiplied the scores by the temperature; divide them by it, so that "
            "T < 1 sharpens the distribution and T > 1 flattens it.",
        ),
        (
            logits / temperature,
            "you returned the scaled scores z / T; the exercise asks for the "
            "probabilities, softmax(z / T).",
        ),
    ]
    with np.errstate(all="ignore"):
        powered = softmax(logits) ** (1.0 / temperature)
    if np.isfinite(powered).all():
        mistakes.append(
            (
                powered,
                "you raised the probabilities to the power 1/T but did not renormalize: "
                "p ** (1/T) is proportional to the answer; divide it by its sum over the "
                "last axis.",
            )
        )
    with np.errstate(all="ignore"):
        scaled = np.exp(logits / temperature)
    if np.isfinite(scaled).all():
        mistakes.append(
            (
                scaled,
                "you returned exp(z / T) without normalizing; divide by its sum over the "
                "last axis.",
            )
        )
    return _first_mistake(got, expected, mistakes)


APPLY_TEMPERATURE = Exercise(
    id="03.apply_temperature",
    title="The distribution at temperature T",
    points=2,
    answer_name="apply_temperature",
    kind="function",
    reference=apply_temperature_reference,
    visible_cases=(
        Case(args=(np.array([2.0, 1.0, 0.0]), 1.0), label="cat, dog, mat at T = 1"),
        Case(args=(np.array([2.0, 1.0, 0.0]), 0.5), label="cat, dog, mat at T = 0.5"),
        Case(args=(np.array([2.0, 1.0, 0.0]), 2.0), label="cat, dog, mat at T = 2"),
        Case(args=(np.array([2.0, 1.0, 0.0]), 100.0), label="a very high temperature, T = 100"),
        Case(
            args=(np.array([5.0, 4.9, 1.0]), 0.001),
            label="a very low temperature, T = 0.001 (scores / T exceed exp's limit)",
        ),
        Case(
            args=(np.array([[2.0, 1.0, 0.0], [0.3, 0.2, 0.1]]), 0.7),
            label="a batch of two contexts at T = 0.7",
        ),
    ),
    hidden_cases=_temperature_hidden,
    rtol=_RTOL,
    atol=_ATOL,
    diagnose=_temperature_diagnose,
    input_scale=_scaled_scores_size,
    axis_of_reference=-1,
    hints=(
        "The temperature rescales the scores before the softmax: T < 1 spreads them apart "
        "(sharper), T > 1 pulls them together (flatter).",
        "Scale the scores by 1/T, then apply a softmax that survives large scores (your "
        "stable_softmax from lesson 02, or utils.softmax) over the last axis.",
    ),
)


# ----------------------------------------------------------------- 03.entropy


def entropy_reference(probs):
    """-sum(p log p) over the last axis, in nats, with 0 log 0 = 0."""
    return entropy(probs, axis=-1)


def _entropy_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(6):
        ndim = int(rng.integers(1, 3))
        shape = tuple(int(size) for size in rng.integers(2, 9, size=ndim))
        logits = rng.uniform(0.3, 5.0) * rng.standard_normal(shape)
        # Some tokens ruled out entirely: exact zeros, where log(0) = -inf.
        zeros = rng.random(shape) < 0.3
        zeros[..., 0] = False
        probs = softmax(np.where(zeros, -np.inf, logits), axis=-1)
        cases.append(Case(args=(probs,), label=f"random #{index + 1}: shape {shape}"))
    return cases


def _entropy_diagnose(case: Case, expected, got) -> str | None:
    expected = np.asarray(expected, dtype=np.float64)
    probs = np.asarray(case.args[0], dtype=np.float64)
    values = as_float64(got)
    # Reached when evaluate asks diagnose about non-finite results too.
    if values is not None and values.shape == expected.shape:
        nan = np.isnan(values)
        if nan.any() and np.array_equal(nan, (probs == 0).any(axis=-1)):
            return (
                "0 * log(0) gave nan: a token with probability 0 adds nothing to the "
                "entropy (0 log 0 = 0), so replace the zeros by a number whose log is 0 "
                "before taking the log."
            )
    terms = -probs * np.log(np.where(probs > 0, probs, 1.0))
    mistakes = [
        (
            expected / np.log(2),
            "that is the entropy in bits (log2); use the natural log (np.log) for nats.",
        ),
        (expected / np.log(10), "you used log10; use the natural log (np.log) for nats."),
        (-expected, "the sign is flipped: entropy is -sum(p log p), which is >= 0."),
        (
            terms.mean(axis=-1),
            "you averaged the terms -p log p over the tokens; the entropy is their sum "
            "(the weights p already make it an average of the surprise -log p).",
        ),
    ]
    if probs.ndim > 1:
        mistakes.append(
            (
                terms.sum(),
                "you summed over the whole array; sum over the last axis (one entropy per row).",
            )
        )
        mistakes += [
            (
                terms.sum(axis=axis),
                f"you summed along axis {axis}; each distribution lies along the last axis.",
            )
            for axis in range(probs.ndim - 1)
        ]
    return _first_mistake(got, expected, mistakes)


ENTROPY = Exercise(
    id="03.entropy",
    title="Entropy of a distribution (nats)",
    points=2,
    answer_name="entropy",
    kind="function",
    reference=entropy_reference,
    visible_cases=(
        Case(args=(np.array([0.25, 0.25, 0.25, 0.25]),), label="uniform over four tokens"),
        Case(args=(np.array([0.5, 0.25, 0.25]),), label="one half, two quarters"),
        Case(args=(np.array([0.0, 1.0, 0.0]),), label="one certain token (zeros elsewhere)"),
        Case(args=(np.array([0.7, 0.3, 0.0]),), label="a token with probability exactly 0"),
        Case(
            args=(np.array([[0.5, 0.5, 0.0, 0.0], [0.1, 0.2, 0.3, 0.4]]),),
            label="a batch of two distributions (one per row)",
        ),
    ),
    hidden_cases=_entropy_hidden,
    rtol=_RTOL,
    atol=_ATOL,
    diagnose=_entropy_diagnose,
    axis_of_reference=-1,
    hints=(
        "Entropy is the expected surprise: each token adds p times -log p, summed over the "
        "tokens of one distribution (the last axis), with the natural log (nats).",
        "A token with p = 0 adds nothing (0 log 0 counts as 0), but log(0) is -inf and "
        "0 times -inf is nan: replace the zero probabilities by something whose log is 0 "
        "before taking the log.",
    ),
)


# ------------------------------------------------------------ 03.predict_shift

# cat, dog, mat scores before the shift; every score then gets +100.
_PREDICT_LOGITS = np.array([2.0, 1.0, 0.0])
_SHIFT = 100.0


def predict_shift_reference() -> float:
    """P(cat) after adding 100 to every score: unchanged."""
    return float(softmax(_PREDICT_LOGITS + _SHIFT)[0])


def _predict_shift_diagnose(case: Case, expected, got) -> str | None:
    return _first_mistake(
        got,
        expected,
        [
            (
                1.0,
                "larger scores do not mean more confidence: adding the same number to every "
                "score multiplies every exp by the same factor, which the normalization "
                "cancels.",
            ),
            (
                1.0 / 3.0,
                "the shift does not flatten the distribution either: only differences "
                "between scores matter, and they did not change.",
            ),
        ],
        atol=_GUESS_ATOL,
    )


PREDICT_SHIFT = Exercise(
    id="03.predict_shift",
    title="Predict: P(cat) after adding 100 to every score",
    points=1,
    answer_name="predict_shift",
    kind="value",
    reference=predict_shift_reference,
    # A prediction written to three decimals is a right prediction.
    rtol=0.0,
    atol=_GUESS_ATOL,
    diagnose=_predict_shift_diagnose,
    hints=(
        "Which quantities does the softmax depend on? Adding the same number to every "
        "score changes no difference between two scores.",
        "exp(z + 100) is exp(z) times exp(100): the same factor in every term of the "
        "numerator and of the denominator, so it cancels. Work out P(cat) for the "
        "original scores.",
    ),
)


# -------------------------------------------------------- 03.predict_tie_limit

# Two tokens tie for the top score; the third is lower.
_TIE_LOGITS = np.array([2.0, 2.0, 1.0])


def predict_tie_limit_reference() -> float:
    """lim_{T -> 0} P(token 0) when tokens 0 and 1 tie at the top: 1/2."""
    return float(softmax(_TIE_LOGITS, temperature=1e-3)[0])


def _predict_tie_limit_diagnose(case: Case, expected, got) -> str | None:
    return _first_mistake(
        got,
        expected,
        [
            (
                1.0,
                "as T -> 0 the mass goes to the top score, but two tokens share it: "
                "their ratio exp((z_i - z_j) / T) stays exp(0) = 1 at every temperature.",
            ),
            (1.0 / 3.0, "a uniform distribution is the limit T -> infinity, not T -> 0."),
            (0.0, "the lowest score's probability goes to 0; this token has a top score."),
        ],
        atol=_GUESS_ATOL,
    )


PREDICT_TIE_LIMIT = Exercise(
    id="03.predict_tie_limit",
    title="Predict: the T -> 0 limit with a tie at the top",
    points=1,
    answer_name="predict_tie_limit",
    kind="value",
    reference=predict_tie_limit_reference,
    rtol=0.0,
    atol=_GUESS_ATOL,
    diagnose=_predict_tie_limit_diagnose,
    hints=(
        "Write the ratio of two probabilities, p_i / p_j = exp((z_i - z_j) / T). What does "
        "it do as T -> 0 when z_i > z_j, and when z_i = z_j?",
        "As T -> 0 the lower token's share vanishes, while the two tied tokens keep a "
        "ratio of exactly 1 at every temperature: they split the mass between them.",
    ),
)


# ----------------------------------------------------------- 03.predict_peaked

# The two score vectors the learner compares before computing anything.
PEAKED_WIDE = np.array([1.0, 5.0, 10.0])
PEAKED_NARROW = np.array([1.0, 2.0, 3.0])

PEAKED_OPTIONS = {
    "a": "they are equally peaked: both put the three tokens in the same order",
    "b": "softmax([1, 5, 10]) is more peaked, with a top probability of about 0.63: the top "
    "score's share of the total, 10 / 16",
    "c": "softmax([1, 5, 10]) is more peaked: its top score leads the runner-up by 5, a "
    "probability ratio of e^5, about 148, so its top probability is above 0.99",
    "d": "softmax([1, 5, 10]) is more peaked, but not by much: its top score leads by 5 "
    "instead of 1, five times as far, so its top token is about 5 x 2.7 = 14 times as likely "
    "as the runner-up, a top probability near 0.93",
    "e": "softmax([1, 5, 10]) is more peaked because its top score is higher: the scores "
    "(8, 9, 10) would be just as peaked",
    "f": "softmax([1, 5, 10]) puts all of its mass on the top token: the other two get exactly 0",
}

_PEAKED_EXPLANATIONS = {
    "a": "the order is the same, but the gaps are not: a gap of 5 between the top two "
    "scores is a ratio of e^5, a gap of 1 only e, so one distribution is far more peaked.",
    "b": "dividing a score by the total is lesson 01's first, broken idea; the softmax "
    "compares exponentials, and e^10 is about 150 times e^5.",
    "d": "a probability ratio grows exponentially with the gap, not in proportion to it: "
    "p_i / p_j = e^(z_i - z_j), so five times the gap is the ratio to the fifth power, "
    "not five times the ratio.",
    "e": "adding the same number to every score changes nothing (section 1): (8, 9, 10) has "
    "the gaps of (1, 2, 3), so its distribution is that of (1, 2, 3). What makes a "
    "distribution peaked is the gaps, not the level.",
    "f": "e^z is positive for every finite score, so no token gets exactly 0; the two "
    "lower tokens are unlikely (about 0.0001 and 0.007), not impossible.",
}


def predict_peaked_reference() -> str:
    """The true statement (c): the gap of 5 makes softmax([1, 5, 10]) top above 0.99."""
    return "c"


def _predict_peaked_diagnose(case: Case, expected, got) -> str | None:
    if not isinstance(got, str):
        return None
    choice = got.strip().casefold()
    if choice in _PEAKED_EXPLANATIONS:
        return f"not ({choice}): {_PEAKED_EXPLANATIONS[choice]}"
    if choice not in PEAKED_OPTIONS:
        letters = sorted(PEAKED_OPTIONS)
        return (
            f"answer with the letter alone, {letters[0]} to {letters[-1]}, as a string: e.g. 'a'."
        )
    return None


PREDICT_PEAKED = Exercise(
    id="03.predict_peaked",
    title="Reason: which of two score vectors gives the more peaked distribution?",
    points=2,
    answer_name="predict_peaked",
    kind="value",
    reference=predict_peaked_reference,
    diagnose=_predict_peaked_diagnose,
    hints=(
        "Only differences between scores matter. In each vector, how far is the top score "
        "from the runner-up, and from the lowest score?",
        "A gap g between two scores is a probability ratio of e^g, whatever the level of the "
        "scores. Work out both vectors' ratios of the top token to the other two, and test "
        "each statement against those numbers.",
    ),
)


# ------------------------------------------------ 03.temperature_for_confidence

# At which temperature does cat (scores 2, 1, 0) get this probability?
CONFIDENCE_LOGITS = np.array([2.0, 1.0, 0.0])
CONFIDENCE_TARGET = 0.9
# Computed answers agree to the last bits; 8 significant digits separate them from typed ones.
_CONFIDENCE_RTOL = 1e-8


def temperature_for_confidence_reference() -> float:
    """The T with softmax((2, 1, 0) / T)[0] = 0.9, in closed form.

    With x = exp(-1/T), P(cat) = 1 / (1 + x + x**2), so x**2 + x + 1 - 1/0.9 = 0.
    """
    x = (-1.0 + np.sqrt(1.0 + 4.0 * (1.0 / CONFIDENCE_TARGET - 1.0))) / 2.0
    return float(-1.0 / np.log(x))


def _cat_probability(temperature: float) -> float:
    return float(softmax(CONFIDENCE_LOGITS, temperature=temperature)[0])


def _is_rounding_of(value: float, exact: float) -> bool:
    """Is `value` `exact` rounded to some number of significant digits (a typed number)?"""
    return any(float(f"{exact:.{digits}g}") == value for digits in range(1, 16))


def _confidence_diagnose(case: Case, expected, got) -> str | None:
    values = as_float64(got)
    if values is None or values.shape != () or not np.isfinite(values):
        return None
    mistakes = [
        (
            float(1.0 / np.log(CONFIDENCE_TARGET / (1.0 - CONFIDENCE_TARGET))),
            "that temperature gives cat 0.9 against dog alone: the third token, mat, also "
            "takes a share of the mass, so keep all three scores in the equation.",
        ),
        (
            1.0 / expected,
            "that is the factor 1/T that multiplies the scores; the temperature is its reciprocal.",
        ),
    ]
    named = _first_mistake(got, expected, mistakes, atol=0.0)
    if named is not None:
        return named
    temperature = float(values)
    if temperature <= 0:
        return "a temperature must be positive: T <= 0 gives no distribution."
    relative_error = abs(temperature - expected) / expected
    if _CONFIDENCE_RTOL < relative_error < 1e-4 and not _is_rounding_of(temperature, expected):
        digits = int(np.floor(-np.log10(relative_error)))
        return (
            f"your temperature agrees with the answer to about {digits} significant digits, "
            "not the 8 the check needs: about what float32 arithmetic (7 digits) or a search "
            "stopped early gives. Compute in float64 (NumPy's default) and keep searching "
            "until the interval is far narrower than 1e-8 of T, or solve the equation exactly."
        )
    probability = _cat_probability(temperature)
    if abs(probability - CONFIDENCE_TARGET) > 1e-3:
        direction = "lower" if probability < CONFIDENCE_TARGET else "higher"
        return (
            f"at T = {temperature:.4g} cat gets {probability:.4f}, not "
            f"{CONFIDENCE_TARGET}: a {direction} temperature is needed."
        )
    return None


TEMPERATURE_FOR_CONFIDENCE = Exercise(
    id="03.temperature_for_confidence",
    title="Work backwards: the temperature that makes cat 90% likely",
    points=3,
    answer_name="temperature_for_confidence",
    kind="value",
    reference=temperature_for_confidence_reference,
    rtol=_CONFIDENCE_RTOL,
    atol=0.0,
    diagnose=_confidence_diagnose,
    hints=(
        "Cat's probability falls steadily as T grows, from 1 (T -> 0) to 1/3 (T -> "
        "infinity), so exactly one temperature gives 0.9, and it lies below 0.5, where cat "
        "has 0.8668.",
        "Either search: halve an interval of temperatures around the answer again and "
        "again, keeping the half where cat's probability crosses 0.9 (about 40 halvings "
        "give 8 digits). Or solve: with x = exp(-1/T), cat's probability is "
        "1 / (1 + x + x^2), a quadratic equation in x.",
    ),
)


# In the order the lesson asks them.
EXERCISES = [
    PREDICT_SHIFT,
    PREDICT_PEAKED,
    APPLY_TEMPERATURE,
    TEMPERATURE_FOR_CONFIDENCE,
    PREDICT_TIE_LIMIT,
    ENTROPY,
]
