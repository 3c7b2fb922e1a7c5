"""Exercises of lesson 07, "The training signal".

* ``07.cross_entropy``: the mean of -log p(target) over a batch of positions,
  computed from logits without overflow or log(0).
* ``07.cross_entropy_gradient``: its gradient with respect to the logits,
  (softmax(z) - onehot(y)) / N.
* ``07.sgd_step``: one gradient-descent step on a softmax layer
  (logits = features @ weights + bias).
* ``07.predict_step_signs``: a reasoning exercise: which way each entry of a
  bias shared by two positions with different targets moves in one step.

Float32 inputs stay near 100 (spacing about 8e-6), larger magnitudes come
in float64, so that any stable float32 computation passes the tolerances.

The loss is the **mean** over the N positions of the batch, as in
``torch.nn.functional.cross_entropy`` (its default ``reduction="mean"``), so
its gradient carries a factor 1 / N.

>>> import numpy as np
>>> from utils.exercises import get
>>> round(get("07.cross_entropy").reference(np.array([[2.0, 1.0, 0.0]]), np.array([1])), 4)
1.4076
"""

from __future__ import annotations

from functools import partial

import numpy as np

from utils.exercises._matching import first_matching_mistake, values_match
from utils.exercises._spec import Case, Exercise
from utils.probability import log_softmax, logsumexp, softmax

__all__ = [
    "EXERCISES",
    "STEP_SIGNS_BIAS",
    "STEP_SIGNS_TARGETS",
    "cross_entropy_gradient_reference",
    "cross_entropy_reference",
    "predict_step_signs_reference",
    "sgd_step_reference",
]


# The default tolerance for recognising a mistake; some diagnoses pass their own.
_matches = partial(values_match, rtol=1e-6, atol=1e-9)


def _as_inputs(case: Case):
    logits = np.asarray(case.args[0], dtype=np.float64)
    targets = np.asarray(case.args[1], dtype=np.int64)
    return logits, targets


def _one_hot(targets: np.ndarray, vocab: int) -> np.ndarray:
    return np.eye(vocab)[targets]


# ----------------------------------------------------------- 07.cross_entropy


def cross_entropy_reference(logits, targets) -> float:
    """mean over positions of logsumexp(z) - z[target] = -log softmax(z)[target].

    `logits` (N, vocab), `targets` (N,) token ids; a float (nats).
    """
    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    picked = np.take_along_axis(logits, targets[:, None], axis=-1)[:, 0]
    return float(np.mean(logsumexp(logits, axis=-1) - picked))


_BATCH_LOGITS = np.array(
    [[2.0, 1.0, 0.0, -1.0], [0.5, 0.5, 3.0, 0.0], [-2.0, 4.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]]
)
_LOSS_CASES = (
    Case(args=(np.array([[2.0, 1.0, 0.0]]), np.array([1])), label="cat, dog, mat: target 'dog'"),
    Case(args=(np.array([[0.0, 0.0, 0.0]]), np.array([2])), label="three equal scores"),
    Case(args=(_BATCH_LOGITS, np.array([0, 2, 3, 1])), label="a batch of four positions"),
    Case(args=(np.array([[8.0, 0.0, 0.0]]), np.array([0])), label="confident and right"),
    Case(
        args=(
            np.array([[10000.0, 9999.0, 9990.0], [-10000.0, -10003.0, -10001.0]]),
            np.array([0, 1]),
        ),
        label="scores near +-1e4",
    ),
    Case(
        args=(np.array([[100.0, 99.0, 90.0], [95.0, 97.0, 96.0]], np.float32), np.array([1, 2])),
        label="scores near 100 (float32: exp overflows)",
    ),
    Case(
        args=(np.array([[0.0, -800.0, -2.0], [1.0, 2.0, 3.0]]), np.array([1, 2])),
        label="confidently wrong: p(target) underflows to 0",
    ),
    Case(
        args=(np.array([[1.0, -np.inf, 0.5], [-np.inf, 2.0, 2.0]]), np.array([2, 1])),
        label="masked tokens scored -inf (not the targets)",
    ),
)


def _random_batch(rng: np.random.Generator, index: int):
    positions = int(rng.integers(1, 40))
    vocab = int(rng.integers(2, 60))
    offset = float(rng.choice([0.0, 0.0, 900.0, -900.0]))
    spread = float(rng.uniform(0.3, 8.0))
    logits = offset + spread * rng.standard_normal((positions, vocab))
    targets = rng.integers(0, vocab, size=positions)
    rows = np.arange(positions)
    if index == 4 and vocab > 2:
        # A masked token (-inf) in every row, never the target.
        masked = (targets + 1 + rng.integers(0, vocab - 1, size=positions)) % vocab
        logits[rows, masked] = -np.inf
    elif index == 5:
        logits[0, targets[0]] -= 800.0  # a target whose probability underflows to 0
    label = f"random #{index + 1}: {positions} positions, {vocab} tokens, scores near {offset:g}"
    return logits, targets, label


def _loss_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(6):
        logits, targets, label = _random_batch(rng, index)
        cases.append(Case(args=(logits, targets), label=label))
    return cases


def _naive_overflows(logits: np.ndarray) -> bool:
    """Does the textbook softmax exp(z) / sum(exp(z)) give NaN on these logits?"""
    with np.errstate(all="ignore"):
        exponentials = np.exp(logits)
        return bool(np.isnan(exponentials / exponentials.sum(axis=-1, keepdims=True)).any())


_ONE_HOT_NAN = (
    "the result contains NaN: a masked token's log-probability is -inf, and -inf * 0 = NaN, "
    "so the targets cannot be picked by multiplying with a one-hot vector; index each row's "
    "target entry instead."
)


def _nonfinite_message(value: np.ndarray, logits: np.ndarray) -> str | None:
    if np.isnan(value).any():
        if _naive_overflows(logits):
            return (
                "the result contains NaN: exp of large scores overflowed (inf / inf). Compute "
                "-log p(target) as logsumexp(z) - z[target], never log(exp(z) / sum)."
            )
        if np.isneginf(logits).any():
            return _ONE_HOT_NAN
        return None
    if np.isinf(value).any():
        return (
            "the result contains inf although every target has a probability above 0: "
            "p(target) underflowed to 0 and -log(0) = inf. Stay in log space: "
            "logsumexp(z) - z[target]."
        )
    return None


def _loss_diagnose(case: Case, expected, got) -> str | None:
    logits, targets = _as_inputs(case)
    positions = len(targets)
    per_position = logsumexp(logits, axis=-1) - logits[np.arange(positions), targets]
    value = np.asarray(got, dtype=np.float64)
    if value.shape == (positions,):
        if _matches(value, per_position, rtol=1e-5):
            return (
                "you returned one loss per position; the cross-entropy of the batch is their "
                "mean (reduction='mean')."
            )
        return None
    if value.shape != ():
        return None
    nonfinite = _nonfinite_message(value, logits)
    if nonfinite:
        return nonfinite
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        top = logsumexp(logits, axis=-1) - logits.max(axis=-1)
        every_target = logsumexp(logits, axis=-1)[:, None] - logits[:, targets]
        mistakes = [
            (-expected, "the sign is flipped: the loss is -log p(target), which is >= 0."),
            (per_position.sum(), "you summed the losses of the positions; take their mean."),
            (np.exp(-per_position).mean(), "you returned p(target); the loss is -log p(target)."),
            (expected / np.log(2), "use the natural logarithm (np.log): the loss is in nats."),
            (top.mean(), "you took -log of the most likely token's probability; use the target's."),
            (
                every_target.mean(),
                "logits[:, targets] picks every target in every row; pick "
                "one per row: logits[np.arange(len(targets)), targets].",
            ),
        ]
        over_batch = -log_softmax(logits, axis=0)[np.arange(positions), targets]
        mistakes.append(
            (
                over_batch.mean(),
                "you normalized over the batch axis (axis 0); "
                "each position's distribution is along the last axis.",
            )
        )
        if positions > 1:
            shifted = (
                logsumexp(logits[:-1], axis=-1) - logits[np.arange(positions - 1), targets[1:]]
            )
            mistakes.append(
                (
                    shifted.mean(),
                    "you paired logits[n] with targets[n + 1] (shifted by one); here row n "
                    "already scores targets[n].",
                )
            )
    return first_matching_mistake(value, expected, mistakes, rtol=1e-5, atol=1e-7)


CROSS_ENTROPY = Exercise(
    id="07.cross_entropy",
    title="Cross-entropy: the mean of -log p(target)",
    points=2,
    answer_name="cross_entropy",
    kind="function",
    reference=cross_entropy_reference,
    visible_cases=_LOSS_CASES,
    hidden_cases=_loss_hidden,
    rtol=1e-5,
    atol=1e-5,
    diagnose=_loss_diagnose,
    hints=(
        "Each position's loss is minus the log-probability of its target, and the batch's "
        "loss is the average over the positions.",
        "Write -log softmax(z)[y] as the log-sum-exp of the row minus the target's own "
        "score: no probability is ever formed, so nothing overflows or underflows. Pick "
        "one score per row (row n, column targets[n]).",
    ),
)


# -------------------------------------------------- 07.cross_entropy_gradient


def cross_entropy_gradient_reference(logits, targets) -> np.ndarray:
    """d(mean cross-entropy) / d(logits) = (softmax(z) - onehot(y)) / N, shape (N, vocab)."""
    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    probs = softmax(logits, axis=-1)
    return (probs - _one_hot(targets, logits.shape[-1])) / len(targets)


def _gradient_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(6):
        logits, targets, label = _random_batch(rng, index)
        cases.append(Case(args=(logits, targets), label=label))
    return cases


def _gradient_diagnose(case: Case, expected, got) -> str | None:
    logits, targets = _as_inputs(case)
    positions, vocab = logits.shape
    value = np.asarray(got, dtype=np.float64)
    if value.shape != logits.shape:
        if value.shape == (positions,):
            return (
                "the gradient has one entry per logit: shape (N, vocab), like the logits; "
                "you returned one number per position."
            )
        return None
    if np.isnan(value).any() and _naive_overflows(logits):
        return (
            "the result contains NaN: exp of large scores overflowed. Compute softmax with "
            "the max-shift (utils.softmax or your own stable version)."
        )
    probs = softmax(logits, axis=-1)
    one_hot = _one_hot(targets, vocab)
    every_target = probs.copy()
    every_target[:, targets] -= 1.0
    mistakes = [
        (
            (probs - one_hot),
            "that is the gradient of the summed loss; the loss is the mean over "
            "the N positions, so divide by N.",
        ),
        (-expected, "the sign is flipped: the gradient is p - y (y - p points downhill)."),
        (
            probs / positions,
            "you forgot to subtract the one-hot target y: the gradient is (p - y) / N.",
        ),
        (probs, "you returned softmax(z); the gradient is (p - y) / N."),
        (-one_hot / positions, "you forgot p: the gradient is (p - y) / N."),
        (
            (probs - one_hot) / vocab,
            "divide by the number of positions N (rows), not by the vocabulary size.",
        ),
        (
            every_target / positions,
            "gradient[:, targets] -= 1 subtracts 1 at every target column in every row; "
            "subtract it once per row, at that row's own target.",
        ),
        (
            (softmax(logits, axis=0) - one_hot) / positions,
            "you normalized over the batch axis (axis 0); softmax each row (last axis).",
        ),
    ]
    return first_matching_mistake(value, expected, mistakes, rtol=1e-5, atol=1e-9)


CROSS_ENTROPY_GRADIENT = Exercise(
    id="07.cross_entropy_gradient",
    title="The gradient p - y",
    points=2,
    answer_name="cross_entropy_gradient",
    kind="function",
    reference=cross_entropy_gradient_reference,
    visible_cases=_LOSS_CASES,
    hidden_cases=_gradient_hidden,
    rtol=1e-5,
    atol=1e-7,
    diagnose=_gradient_diagnose,
    hints=(
        "For one position, the derivative of -log softmax(z)[y] with respect to z is the "
        "predicted distribution minus the one-hot target: p - y.",
        "Start from a stable softmax of every row, subtract 1 at each row's own target "
        "(in a new array, not in the logits), and divide by the number of positions: the "
        "loss is their mean.",
    ),
)


# ------------------------------------------------------------------ 07.sgd_step


def sgd_step_reference(weights, bias, features, targets, learning_rate):
    """One gradient-descent step on the mean cross-entropy of a softmax layer.

    logits = features @ weights + bias; G = (softmax(logits) - onehot) / N;
    returns (weights - learning_rate * features.T @ G,
    bias - learning_rate * G.sum(axis=0)) as new arrays.
    """
    weights = np.asarray(weights, dtype=np.float64)
    bias = np.asarray(bias, dtype=np.float64)
    features = np.asarray(features, dtype=np.float64)
    gradient = cross_entropy_gradient_reference(features @ weights + bias, targets)
    return (
        weights - learning_rate * (features.T @ gradient),
        bias - learning_rate * gradient.sum(axis=0),
    )


def _layer(rng: np.random.Generator, positions: int, width: int, vocab: int, scale: float):
    weights = scale * rng.standard_normal((width, vocab))
    bias = scale * rng.standard_normal(vocab)
    features = np.maximum(rng.standard_normal((positions, width)), 0.0)
    targets = rng.integers(0, vocab, size=positions)
    return weights, bias, features, targets


_SMALL = _layer(np.random.default_rng(7), 4, 3, 5, 0.5)
_LARGE = _layer(np.random.default_rng(70), 6, 4, 5, 300.0)

_SGD_CASES = (
    Case(
        args=(np.zeros((2, 3)), np.zeros(3), np.array([[1.0, 0.5]]), np.array([1]), 0.1),
        label="one position, zero weights (by hand)",
    ),
    Case(args=(*_SMALL, 0.5), label="four positions, 3 features, 5 tokens"),
    Case(args=(*_SMALL, 0.0), label="learning rate 0 changes nothing"),
    Case(args=(*_LARGE, 0.01), label="large scores (logits in the hundreds)"),
)


def _sgd_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(6):
        positions, width, vocab = (int(n) for n in rng.integers(1, 12, size=3))
        vocab = max(vocab, 2)
        scale = float(rng.choice([0.1, 1.0, 50.0]))
        rate = float(np.round(rng.uniform(0.01, 2.0), 3))
        cases.append(
            Case(
                args=(*_layer(rng, positions, width, vocab, scale), rate),
                label=(
                    f"random #{index + 1}: {positions} positions, {width} features, "
                    f"{vocab} tokens, learning rate {rate}"
                ),
            )
        )
    return cases


def _sgd_diagnose(case: Case, expected, got) -> str | None:
    weights, bias, features, targets, rate = case.args
    weights = np.asarray(weights, dtype=np.float64)
    bias = np.asarray(bias, dtype=np.float64)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return "return a pair (new_weights, new_bias)."
    new_weights, new_bias = (np.asarray(item, dtype=np.float64) for item in got)
    if new_weights.shape != weights.shape:
        if new_weights.shape == weights.shape[::-1]:
            return (
                "new_weights has the shape of weights.T; the weight gradient is "
                "features.T @ G, shape (features, vocab) like the weights."
            )
        return None
    if new_bias.shape != bias.shape:
        return (
            "new_bias must have the shape of bias (vocab,); the bias gradient sums G over "
            "the positions (axis 0)."
        )
    gradient = cross_entropy_gradient_reference(features @ weights + bias, targets)
    weight_step = features.T @ gradient
    bias_step = gradient.sum(axis=0)
    positions = len(targets)
    expected_weights, expected_bias = expected
    weights_right = _matches(new_weights, expected_weights)
    bias_right = _matches(new_bias, expected_bias)
    if _matches(new_weights, weights + rate * weight_step) and rate != 0:
        return "you stepped uphill: subtract learning_rate * gradient (gradient descent)."
    if (
        positions > 1
        and rate != 0
        and _matches(new_weights, weights - rate * positions * weight_step)
    ):
        return (
            "your step is N times too large: it uses the gradient of the summed loss; "
            "the loss is the mean over the positions, so G = (p - y) / N."
        )
    if weights_right and _matches(new_bias, bias) and rate != 0:
        return "new_weights is right but the bias did not change; update it with G.sum(axis=0)."
    if weights_right and not bias_right and _matches(new_bias, bias - rate * gradient.mean(axis=0)):
        return "the bias gradient is G summed over the positions (axis 0), not averaged again."
    if np.isnan(new_weights).any() or np.isnan(new_bias).any():
        return (
            "the result contains NaN: exp of large scores overflowed. Use a stable softmax "
            "(subtract each row's maximum)."
        )
    without_bias = cross_entropy_gradient_reference(features @ weights, targets)
    if not weights_right and _matches(new_weights, weights - rate * (features.T @ without_bias)):
        return (
            "your gradient comes from logits without the bias; the layer's logits are "
            "features @ weights + bias."
        )
    if weights_right and not bias_right and _matches(new_bias, bias + rate * bias_step):
        return "the bias stepped uphill: subtract learning_rate * G.sum(axis=0)."
    return None


SGD_STEP = Exercise(
    id="07.sgd_step",
    title="One gradient-descent step on the softmax layer",
    points=2,
    answer_name="sgd_step",
    kind="function",
    reference=sgd_step_reference,
    visible_cases=_SGD_CASES,
    hidden_cases=_sgd_hidden,
    rtol=1e-7,
    atol=1e-10,
    diagnose=_sgd_diagnose,
    hints=(
        "First the gradient with respect to the logits (your previous exercise), then the "
        "chain rule through logits = features @ weights + bias carries it to the weights "
        "and the bias; a descent step moves each against its gradient.",
        "The weight gradient pairs every feature with every logit's gradient, summed over "
        "the positions (a matrix product with the features transposed, shape like the "
        "weights); the bias gradient sums the logits' gradient over the positions. Return "
        "two new arrays.",
    ),
)


# ------------------------------------------------------- 07.predict_step_signs

# A bias-only layer (logits = bias at every position) over cat, dog, mat, and a batch of
# two positions whose targets are cat and dog: a shared parameter pulled two ways.
STEP_SIGNS_BIAS = np.array([2.0, 1.0, 0.0])
STEP_SIGNS_TARGETS = np.array([0, 1])


def _step_sign_pieces():
    probs = softmax(STEP_SIGNS_BIAS)
    shares = np.bincount(STEP_SIGNS_TARGETS, minlength=len(STEP_SIGNS_BIAS)) / len(
        STEP_SIGNS_TARGETS
    )
    return probs, shares


def predict_step_signs_reference() -> tuple:
    """Signs of the change of each bias entry after one descent step: -(p - share)."""
    probs, shares = _step_sign_pieces()
    return tuple(float(sign) for sign in -np.sign(probs - shares))


def _step_signs_diagnose(case: Case, expected, got) -> str | None:
    if not isinstance(got, (tuple, list, np.ndarray)):
        return None
    values = np.asarray(got, dtype=object).ravel()
    if values.size != len(STEP_SIGNS_BIAS):
        return None
    try:
        numbers = np.array([float(value) for value in values])
    except (TypeError, ValueError):
        return "give three numbers, each +1 (rises), -1 (falls) or 0 (stays)."
    if not np.all(np.isin(numbers, (-1.0, 0.0, 1.0))):
        return (
            "give only the direction of each change: +1 (rises), -1 (falls) or 0 (stays), "
            "not its size."
        )
    probs, shares = _step_sign_pieces()
    gradient_signs = np.sign(probs - shares)
    expected = np.asarray(expected, dtype=float)
    if np.array_equal(numbers, gradient_signs):
        return (
            "those are the signs of the gradient; a descent step moves each entry against "
            "its gradient."
        )
    targets = np.isin(np.arange(len(STEP_SIGNS_BIAS)), STEP_SIGNS_TARGETS)
    every_target_up = np.where(targets, 1.0, -1.0)
    if np.array_equal(numbers, every_target_up):
        return (
            "not every target rises: the two positions share the bias, so its gradient is "
            "the average predicted distribution minus each word's share of the targets. "
            "Compare each target's probability with its share."
        )
    if np.array_equal(numbers, np.where(targets, 0.0, -1.0)):
        return (
            "the two positions' pulls do not cancel: each word is pushed by its probability "
            "minus its share of the targets, and those are not equal for the targets."
        )
    top = np.arange(len(STEP_SIGNS_BIAS)) == np.argmax(STEP_SIGNS_BIAS)
    if np.array_equal(numbers, np.where(top, 1.0, -1.0)):
        return (
            "a step does not simply favour the likeliest word: each entry moves by its share "
            "of the targets minus its probability; compare the two for every word."
        )
    # Any other three signs: say how many are wrong, never which (three entries of
    # -1, 0, +1 would otherwise be found by trying, without reasoning).
    wrong = int(np.count_nonzero(numbers != expected))
    return (
        f"{wrong} of the 3 signs {'is' if wrong == 1 else 'are'} wrong (check does not say "
        "which): compare each word's probability with its share of the targets."
    )


PREDICT_STEP_SIGNS = Exercise(
    id="07.predict_step_signs",
    title="Predict: which way each shared logit moves in one step",
    points=2,
    answer_name="predicted_signs",
    kind="value",
    reference=predict_step_signs_reference,
    rtol=0.0,
    atol=0.0,
    diagnose=_step_signs_diagnose,
    hints=(
        "The bias is the same at both positions, so its gradient adds the two positions' "
        "p - y and divides by 2: the predicted distribution minus each word's share of the "
        "targets.",
        "Work out the softmax of (2, 1, 0) and each word's share of the two targets; a "
        "descent step lowers an entry whose probability is above its share and raises one "
        "whose probability is below it.",
    ),
)


EXERCISES = [CROSS_ENTROPY, CROSS_ENTROPY_GRADIENT, SGD_STEP, PREDICT_STEP_SIGNS]
