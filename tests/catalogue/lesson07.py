"""Lesson 07 (the training signal): answers learners write, wrong and right."""

from tests.catalogue import Right, Wrong

_SGD_HEAD = """
import numpy as np
import utils


def gradient_of(logits, targets):
    probs = utils.softmax(logits, axis=-1)
    probs[np.arange(len(targets)), targets] -= 1.0
    return probs / len(targets)

"""

WRONG = [
    # --- 07.cross_entropy --------------------------------------------------------------------
    Wrong(
        "07.cross_entropy",
        "one loss per position (no mean)",
        source="""
        import numpy as np
        import utils

        def cross_entropy(logits, targets):
            rows = np.arange(len(targets))
            return utils.logsumexp(logits, axis=-1) - logits[rows, targets]
        """,
        diagnosis="one loss per position",
    ),
    Wrong(
        "07.cross_entropy",
        "the sign is flipped",
        source="""
        import numpy as np
        import utils

        def cross_entropy(logits, targets):
            rows = np.arange(len(targets))
            return np.mean(logits[rows, targets] - utils.logsumexp(logits, axis=-1))
        """,
        diagnosis="sign is flipped",
    ),
    Wrong(
        "07.cross_entropy",
        "the sum instead of the mean",
        source="""
        import numpy as np
        import utils

        def cross_entropy(logits, targets):
            rows = np.arange(len(targets))
            return np.sum(utils.logsumexp(logits, axis=-1) - logits[rows, targets])
        """,
        diagnosis="summed the losses",
    ),
    Wrong(
        "07.cross_entropy",
        "returns the mean p(target)",
        source="""
        import numpy as np
        import utils

        def cross_entropy(logits, targets):
            return utils.softmax(logits, axis=-1)[np.arange(len(targets)), targets].mean()
        """,
        diagnosis="returned p(target)",
    ),
    Wrong(
        "07.cross_entropy",
        "log base 2 (bits)",
        source="""
        import numpy as np
        import utils

        def cross_entropy(logits, targets):
            rows = np.arange(len(targets))
            return np.mean(utils.logsumexp(logits, axis=-1) - logits[rows, targets]) / np.log(2)
        """,
        diagnosis="natural logarithm",
    ),
    Wrong(
        "07.cross_entropy",
        "the most likely token instead of the target",
        source="""
        import numpy as np
        import utils

        def cross_entropy(logits, targets):
            return np.mean(utils.logsumexp(logits, axis=-1) - logits.max(axis=-1))
        """,
        diagnosis="most likely token",
    ),
    Wrong(
        "07.cross_entropy",
        "logits[:, targets] picks every target in every row",
        source="""
        import numpy as np
        import utils

        def cross_entropy(logits, targets):
            return np.mean(utils.logsumexp(logits, axis=-1)[:, None] - logits[:, targets])
        """,
        diagnosis="every target in every row",
    ),
    Wrong(
        "07.cross_entropy",
        "normalizes over the batch axis",
        source="""
        import numpy as np
        import utils

        def cross_entropy(logits, targets):
            return -np.mean(utils.log_softmax(logits, axis=0)[np.arange(len(targets)), targets])
        """,
        diagnosis="batch axis",
    ),
    Wrong(
        "07.cross_entropy",
        "log of a naive softmax",
        source="""
        import numpy as np

        def cross_entropy(logits, targets):
            probs = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
            return -np.mean(np.log(probs[np.arange(len(targets)), targets]))
        """,
        diagnosis="exp of large scores overflowed",
    ),
    Wrong(
        "07.cross_entropy",
        "log of a stable softmax (p(target) underflows)",
        source="""
        import numpy as np
        import utils

        def cross_entropy(logits, targets):
            probs = utils.softmax(logits, axis=-1)
            return -np.mean(np.log(probs[np.arange(len(targets)), targets]))
        """,
        diagnosis="underflowed to 0",
    ),
    Wrong(
        "07.cross_entropy",
        "picks the targets by multiplying with a one-hot",
        source="""
        import numpy as np
        import utils

        def cross_entropy(logits, targets):
            one_hot = np.eye(logits.shape[-1])[targets]
            return -np.mean((utils.log_softmax(logits, axis=-1) * one_hot).sum(axis=-1))
        """,
        diagnosis="one-hot",
    ),
    Wrong(
        "07.cross_entropy",
        "shifted pairing (logits[n] with targets[n + 1])",
        source="""
        import numpy as np
        import utils

        def cross_entropy(logits, targets):
            z, y = logits[:-1], targets[1:]
            return np.mean(utils.logsumexp(z, axis=-1) - z[np.arange(len(y)), y])
        """,
    ),
    # --- 07.cross_entropy_gradient -----------------------------------------------------------
    Wrong(
        "07.cross_entropy_gradient",
        "the gradient of the summed loss (no / N)",
        source="""
        import numpy as np
        import utils

        def cross_entropy_gradient(logits, targets):
            gradient = utils.softmax(logits, axis=-1)
            gradient[np.arange(len(targets)), targets] -= 1.0
            return gradient
        """,
        diagnosis="gradient of the summed loss",
    ),
    Wrong(
        "07.cross_entropy_gradient",
        "y - p (sign)",
        source="""
        import numpy as np
        import utils

        def cross_entropy_gradient(logits, targets):
            one_hot = np.eye(logits.shape[-1])[targets]
            return (one_hot - utils.softmax(logits, axis=-1)) / len(targets)
        """,
        diagnosis="sign is flipped",
    ),
    Wrong(
        "07.cross_entropy_gradient",
        "forgot the one-hot",
        source="""
        import utils

        def cross_entropy_gradient(logits, targets):
            return utils.softmax(logits, axis=-1) / len(targets)
        """,
        diagnosis="forgot to subtract the one-hot",
    ),
    Wrong(
        "07.cross_entropy_gradient",
        "returns the softmax",
        source="""
        import utils

        def cross_entropy_gradient(logits, targets):
            return utils.softmax(logits, axis=-1)
        """,
        diagnosis="forgot to subtract the one-hot",
    ),
    Wrong(
        "07.cross_entropy_gradient",
        "forgot p",
        source="""
        import numpy as np

        def cross_entropy_gradient(logits, targets):
            return -np.eye(logits.shape[-1])[targets] / len(targets)
        """,
        diagnosis="you forgot p",
    ),
    Wrong(
        "07.cross_entropy_gradient",
        "divides by the vocabulary size",
        source="""
        import numpy as np
        import utils

        def cross_entropy_gradient(logits, targets):
            one_hot = np.eye(logits.shape[-1])[targets]
            return (utils.softmax(logits, axis=-1) - one_hot) / logits.shape[-1]
        """,
        diagnosis="not by the vocabulary size",
    ),
    Wrong(
        "07.cross_entropy_gradient",
        "softmax over the batch axis",
        source="""
        import numpy as np
        import utils

        def cross_entropy_gradient(logits, targets):
            one_hot = np.eye(logits.shape[-1])[targets]
            return (utils.softmax(logits, axis=0) - one_hot) / len(targets)
        """,
        diagnosis="batch axis",
    ),
    Wrong(
        "07.cross_entropy_gradient",
        "naive softmax",
        source="""
        import numpy as np

        def cross_entropy_gradient(logits, targets):
            probs = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
            return (probs - np.eye(logits.shape[-1])[targets]) / len(targets)
        """,
        diagnosis="exp of large scores overflowed",
    ),
    Wrong(
        "07.cross_entropy_gradient",
        "subtracts 1 at every target in every row",
        source="""
        import utils

        def cross_entropy_gradient(logits, targets):
            gradient = utils.softmax(logits, axis=-1)
            gradient[:, targets] -= 1.0
            return gradient / len(targets)
        """,
        diagnosis="every row",
    ),
    Wrong(
        "07.cross_entropy_gradient",
        "max-shift done in place on the logits",
        source="""
        import numpy as np

        def cross_entropy_gradient(logits, targets):
            logits -= logits.max(axis=-1, keepdims=True)
            probs = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
            probs[np.arange(len(targets)), targets] -= 1.0
            return probs / len(targets)
        """,
        diagnosis="changed its input in place",
    ),
    # --- 07.sgd_step -------------------------------------------------------------------------
    Wrong(
        "07.sgd_step",
        "updates weights and bias in place",
        source=_SGD_HEAD
        + """
def sgd_step(weights, bias, features, targets, learning_rate):
    gradient = gradient_of(features @ weights + bias, targets)
    weights -= learning_rate * (features.T @ gradient)
    bias -= learning_rate * gradient.sum(axis=0)
    return weights, bias
""",
        diagnosis="changed its input in place",
    ),
    Wrong(
        "07.sgd_step",
        "steps uphill",
        source=_SGD_HEAD
        + """
def sgd_step(weights, bias, features, targets, learning_rate):
    gradient = gradient_of(features @ weights + bias, targets)
    return (
        weights + learning_rate * (features.T @ gradient),
        bias + learning_rate * gradient.sum(axis=0),
    )
""",
        diagnosis="you stepped uphill",
    ),
    Wrong(
        "07.sgd_step",
        "forgets to update the bias",
        source=_SGD_HEAD
        + """
def sgd_step(weights, bias, features, targets, learning_rate):
    gradient = gradient_of(features @ weights + bias, targets)
    return weights - learning_rate * (features.T @ gradient), bias
""",
        diagnosis="the bias did not change",
    ),
    Wrong(
        "07.sgd_step",
        "the gradient of the summed loss (N times too large)",
        source=_SGD_HEAD
        + """
def sgd_step(weights, bias, features, targets, learning_rate):
    gradient = gradient_of(features @ weights + bias, targets) * len(targets)
    return (
        weights - learning_rate * (features.T @ gradient),
        bias - learning_rate * gradient.sum(axis=0),
    )
""",
        diagnosis="N times too large",
    ),
    Wrong(
        "07.sgd_step",
        "returns only the new weights",
        source=_SGD_HEAD
        + """
def sgd_step(weights, bias, features, targets, learning_rate):
    gradient = gradient_of(features @ weights + bias, targets)
    return weights - learning_rate * (features.T @ gradient)
""",
        diagnosis="tuple of 2 items",
    ),
    Wrong(
        "07.sgd_step",
        "weight gradient G.T @ features (transposed)",
        source=_SGD_HEAD
        + """
def sgd_step(weights, bias, features, targets, learning_rate):
    gradient = gradient_of(features @ weights + bias, targets)
    return (
        weights - learning_rate * (gradient.T @ features),
        bias - learning_rate * gradient.sum(axis=0),
    )
""",
    ),
    Wrong(
        "07.sgd_step",
        "bias gradient averaged over the positions",
        source=_SGD_HEAD
        + """
def sgd_step(weights, bias, features, targets, learning_rate):
    gradient = gradient_of(features @ weights + bias, targets)
    return (
        weights - learning_rate * (features.T @ gradient),
        bias - learning_rate * gradient.mean(axis=0),
    )
""",
        diagnosis="not averaged again",
    ),
    Wrong(
        "07.sgd_step",
        "the bias steps uphill",
        source=_SGD_HEAD
        + """
def sgd_step(weights, bias, features, targets, learning_rate):
    gradient = gradient_of(features @ weights + bias, targets)
    return (
        weights - learning_rate * (features.T @ gradient),
        bias + learning_rate * gradient.sum(axis=0),
    )
""",
        diagnosis="the bias stepped uphill",
    ),
    Wrong(
        "07.sgd_step",
        "naive softmax in the gradient",
        source="""
        import numpy as np

        def sgd_step(weights, bias, features, targets, learning_rate):
            logits = features @ weights + bias
            probs = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
            gradient = (probs - np.eye(logits.shape[-1])[targets]) / len(targets)
            return (
                weights - learning_rate * (features.T @ gradient),
                bias - learning_rate * gradient.sum(axis=0),
            )
        """,
        diagnosis="overflow",
    ),
    Wrong(
        "07.sgd_step",
        "logits without the bias",
        source=_SGD_HEAD
        + """
def sgd_step(weights, bias, features, targets, learning_rate):
    gradient = gradient_of(features @ weights, targets)
    return (
        weights - learning_rate * (features.T @ gradient),
        bias - learning_rate * gradient.sum(axis=0),
    )
""",
        diagnosis="features @ weights + bias",
    ),
]

RIGHT = [
    Right(
        "07.cross_entropy",
        "own logsumexp with keepdims",
        source="""
        import numpy as np

        def cross_entropy(logits, targets):
            top = logits.max(axis=-1, keepdims=True)
            norm = top + np.log(np.exp(logits - top).sum(axis=-1, keepdims=True))
            picked = np.take_along_axis(logits - norm, targets[:, None], axis=-1)
            return -picked.mean()
        """,
    ),
    Right(
        "07.cross_entropy",
        "scipy's log_softmax in the input's dtype (float32 stays float32)",
        source="""
        import numpy as np
        from scipy.special import log_softmax

        def cross_entropy(logits, targets):
            return -log_softmax(logits, axis=-1)[np.arange(len(targets)), targets].mean()
        """,
    ),
    Right(
        "07.cross_entropy",
        "a Python loop with np.logaddexp.reduce",
        source="""
        import numpy as np

        def cross_entropy(logits, targets):
            losses = [np.logaddexp.reduce(row) - row[y] for row, y in zip(logits, targets)]
            return sum(losses) / len(losses)
        """,
    ),
    Right(
        "07.cross_entropy_gradient",
        "np.eye one-hot and scipy's softmax",
        source="""
        import numpy as np
        from scipy.special import softmax

        def cross_entropy_gradient(logits, targets):
            return (softmax(logits, axis=-1) - np.eye(logits.shape[-1])[targets]) / len(targets)
        """,
    ),
    Right(
        "07.cross_entropy_gradient",
        "np.put_along_axis on a copy of the probabilities",
        source="""
        import numpy as np

        def cross_entropy_gradient(logits, targets):
            shifted = logits - logits.max(axis=-1, keepdims=True)
            probs = np.exp(shifted)
            probs /= probs.sum(axis=-1, keepdims=True)
            picked = np.take_along_axis(probs, targets[:, None], axis=-1)
            np.put_along_axis(probs, targets[:, None], picked - 1.0, axis=-1)
            return probs / logits.shape[0]
        """,
    ),
    Right(
        "07.cross_entropy_gradient",
        "exp of the log-softmax, a loop over rows",
        source="""
        import numpy as np
        import utils

        def cross_entropy_gradient(logits, targets):
            rows = []
            for row, y in zip(logits, targets):
                g = np.exp(utils.log_softmax(row))
                g[y] -= 1
                rows.append(g / len(targets))
            return np.stack(rows)
        """,
    ),
    Right(
        "07.sgd_step",
        "np.einsum for the weight gradient",
        source="""
        import numpy as np
        import utils

        def sgd_step(weights, bias, features, targets, learning_rate):
            probs = utils.softmax(features @ weights + bias, axis=-1)
            gradient = (probs - np.eye(weights.shape[1])[targets]) / len(targets)
            new_weights = weights - learning_rate * np.einsum("nd,nv->dv", features, gradient)
            return new_weights, bias - learning_rate * gradient.sum(axis=0)
        """,
    ),
    Right(
        "07.sgd_step",
        "copies, then in-place updates of the copies",
        source="""
        import numpy as np
        from scipy.special import softmax

        def sgd_step(weights, bias, features, targets, learning_rate):
            gradient = softmax(features @ weights + bias, axis=-1)
            gradient[np.arange(len(targets)), targets] -= 1
            gradient /= len(targets)
            new_weights, new_bias = weights.copy(), bias.copy()
            new_weights -= learning_rate * features.T @ gradient
            new_bias -= learning_rate * gradient.sum(axis=0)
            return new_weights, new_bias
        """,
    ),
    Right(
        "07.sgd_step",
        "a list [weights, bias]",
        source="""
        import numpy as np
        import utils

        def sgd_step(weights, bias, features, targets, learning_rate):
            gradient = utils.softmax(features @ weights + bias, axis=-1)
            gradient[np.arange(len(targets)), targets] -= 1.0
            gradient = gradient / len(targets)
            return [
                weights - learning_rate * (features.T @ gradient),
                bias - learning_rate * gradient.sum(axis=0),
            ]
        """,
    ),
    Right(
        "07.cross_entropy_gradient",
        "computed in float32",
        source="""
        import numpy as np
        import utils

        def cross_entropy_gradient(logits, targets):
            gradient = utils.softmax(logits.astype(np.float32), axis=-1)
            gradient[np.arange(len(targets)), targets] -= 1
            return gradient / len(targets)
        """,
    ),
    Right(
        "07.sgd_step",
        "the whole step in float32",
        source="""
        import numpy as np
        import utils

        def sgd_step(weights, bias, features, targets, learning_rate):
            w, b, h = (a.astype(np.float32) for a in (weights, bias, features))
            gradient = utils.softmax(h @ w + b, axis=-1)
            gradient[np.arange(len(targets)), targets] -= 1
            gradient /= len(targets)
            rate = np.float32(learning_rate)
            return w - rate * (h.T @ gradient), b - rate * gradient.sum(axis=0)
        """,
    ),
]

# --- 07.predict_step_signs (a value: the direction of each bias entry's change) -------------
WRONG += [
    Wrong(
        "07.predict_step_signs",
        "every target rises, the other word falls",
        "predicted_signs = (1, 1, -1)",
        "not every target rises",
    ),
    Wrong(
        "07.predict_step_signs",
        "the signs of the gradient instead of the step",
        "predicted_signs = (1, -1, 1)",
        "signs of the gradient",
    ),
    Wrong(
        "07.predict_step_signs",
        "the two positions' pulls cancel for the targets",
        "predicted_signs = (0, 0, -1)",
        "do not cancel",
    ),
    Wrong(
        "07.predict_step_signs",
        "the size of each change instead of its direction",
        """
        import numpy as np

        probs = np.exp([2.0, 1.0, 0.0]) / np.exp([2.0, 1.0, 0.0]).sum()
        predicted_signs = tuple(-(probs - np.array([0.5, 0.5, 0.0])))
        """,
        "not its size",
    ),
    Wrong(
        "07.predict_step_signs",
        "only the most probable word rises",
        "predicted_signs = (1, -1, -1)",
        "does not simply favour the likeliest word",
    ),
    Wrong(
        "07.predict_step_signs",
        "the word that is never a target stays (one sign wrong; check must not say which)",
        "predicted_signs = (-1, 1, 0)",
        "1 of the 3 signs is wrong (check does not say which)",
    ),
    Wrong(
        "07.predict_step_signs",
        "only the target with the larger logit falls (two signs wrong, as an array)",
        """
        import numpy as np

        predicted_signs = np.array([-1, -1, 1])
        """,
        "2 of the 3 signs are wrong",
    ),
]
RIGHT += [
    Right("07.predict_step_signs", "a tuple of ints", "predicted_signs = (-1, 1, -1)"),
    Right(
        "07.predict_step_signs",
        "an int array (red team D1)",
        """
        import numpy as np

        predicted_signs = np.array([-1, 1, -1])
        """,
    ),
    Right(
        "07.predict_step_signs",
        "the verify computation, a float array (red team D1)",
        """
        import numpy as np
        import utils

        shares = np.array([0.5, 0.5, 0])
        predicted_signs = -np.sign(utils.softmax(np.array([2.0, 1.0, 0.0])) - shares)
        """,
    ),
    Right("07.predict_step_signs", "a list of floats", "predicted_signs = [-1.0, 1.0, -1.0]"),
    Right(
        "07.predict_step_signs",
        "computed: np.sign of minus the bias gradient",
        """
        import numpy as np

        bias = np.array([2.0, 1.0, 0.0])
        probs = np.exp(bias - bias.max()) / np.exp(bias - bias.max()).sum()
        gradient = probs - np.array([0.5, 0.5, 0.0])
        predicted_signs = tuple(np.sign(-gradient))
        """,
    ),
]
