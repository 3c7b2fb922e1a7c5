"""Train the tiny language model with NumPy only, reproducibly to the last bit.

`python -m utils.lm train` runs `train()` and writes the weights file that
ships with the course; with the same seed it writes the same bytes.

The model (see `utils.lm.model`): the last three tokens are embedded
(a shared table of 16 numbers per token), the three embeddings are
concatenated, a hidden layer of 64 ReLU units reads them, and a softmax
layer turns the hidden units into one logit per vocabulary word.

Training minimizes the corpus cross-entropy -mean log p(next token | context)
with full-batch Adam. Identical contexts are grouped: for a context c seen
n_c times, with C[c, w] of them followed by word w, the gradient with respect
to its logits is (n_c * p_c - C[c]) / N, the sum of p - y over its positions
(N is the number of positions in the corpus). That is the whole corpus's
gradient, computed once per distinct context.

Bit-for-bit reproducibility on any machine: floating-point results usually
depend on the order of additions, which BLAS libraries choose per CPU, and on
the SIMD code of `exp`. So every matrix product rounds its two operands to
integers times a power of two (at least 19 significant bits, ample for
training) and multiplies those: every partial sum is then an integer below
2**53, exact in float64 in any order. `exp` is computed from +, *, `floor`
and a power of two built from its bits, which IEEE 754 defines exactly; sums
add in a fixed order; the uniform random numbers come from a seeded PCG64
stream; the .npz file is written without timestamps. The bytes depend only
on the settings in `TrainingConfig` (checked by `python -m utils.lm train
--check` and by the tests).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from dataclasses import asdict, dataclass

import numpy as np

from utils.lm import corpus

__all__ = ["TrainingConfig", "train", "weights_file_bytes"]

PARAMETER_NAMES = ("embedding", "hidden_weights", "hidden_bias", "output_weights", "output_bias")
FORMAT_VERSION = 1


@dataclass(frozen=True)
class TrainingConfig:
    """Everything that decides the weights. The defaults make the shipped file."""

    seed: int = 2024
    sentences: int = 50_000
    steps: int = 300
    learning_rate: float = 0.02
    embedding_size: int = 16
    hidden_size: int = 64
    context_length: int = 3


# --- arithmetic that gives the same bits on every machine ----------------------------------------
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split so that k * _LN2_HI is exact for |k| < 2**11
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00


def _exp_nonpositive(x: np.ndarray) -> np.ndarray:
    """exp(x) for x <= 0 from exactly rounded operations only (relative error < 1e-11).

    exp(x) = 2**k * exp(r) with k = round(x / ln 2) and |r| <= ln(2) / 2;
    exp(r) is its Taylor polynomial of degree 9 (the rest is below 1e-11), and
    2**k is built from its bits. Below -700 the result is exp(-700) ~ 1e-304:
    nothing next to the row's largest term, exp(0) = 1.
    """
    x = np.maximum(x, -700.0)
    k = np.floor(x * _INV_LN2 + 0.5)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    result = np.full_like(r, 1.0 / math.factorial(9))
    for n in range(8, -1, -1):  # Horner's scheme
        result *= r
        result += 1.0 / math.factorial(n)
    power_of_two = ((k.astype(np.int64) + 1023) << 52).view(np.float64)
    return result * power_of_two


def _as_scaled_integers(values: np.ndarray, bits: int) -> tuple[np.ndarray, int]:
    """(q, shift) with q integer-valued, |q| < 2**bits and values ~= q * 2**-shift."""
    largest = float(np.max(np.abs(values))) if values.size else 0.0
    if largest == 0.0:
        return np.zeros_like(values), 0
    shift = bits - math.frexp(largest)[1]
    # Multiplying by a power of two is exact (no rounding) and faster than ldexp.
    return np.rint(values * 2.0**shift), shift


def _bits_for(inner: int) -> int:
    """Significant bits per operand so that a sum of `inner` products stays below 2**52."""
    bits = (52 - max(1, math.ceil(math.log2(inner)))) // 2
    if bits < 16:  # pragma: no cover - the corpus would need > 2**20 distinct contexts
        raise ValueError(f"a product over {inner} terms cannot be computed exactly")
    return bits


# OpenBLAS multiplies on one thread below about this many multiply-adds. Threads
# stall when the CPUs are busy (a test run in parallel), so products are cut into
# pieces this small; being exact, the pieces add up to the same bits.
_SINGLE_THREAD_PRODUCT = 1 << 18


def _integer_product(qa: np.ndarray, qb: np.ndarray) -> np.ndarray:
    """qa @ qb for integer-valued float64 matrices, in pieces small enough for one thread."""
    rows, inner = qa.shape
    columns = qb.shape[1]
    if rows >= inner:  # cut the rows
        step = max(1, _SINGLE_THREAD_PRODUCT // (inner * columns))
        return np.concatenate([qa[i : i + step] @ qb for i in range(0, rows, step)])
    step = max(1, _SINGLE_THREAD_PRODUCT // (rows * columns))  # cut the sum itself
    total = qa[:, :step] @ qb[:step]
    for i in range(step, inner, step):
        total += qa[:, i : i + step] @ qb[i : i + step]
    return total


def _exact_matmul(a: np.ndarray, b: np.ndarray, *, a_is_integer: bool = False) -> np.ndarray:
    """a @ b with operands rounded to integers: exact, so the same bits on any BLAS.

    `a_is_integer`: `a` already holds small integers (a 0/1 matrix) and is used as is.
    """
    bits = _bits_for(a.shape[-1])
    qa, shift_a = (a, 0) if a_is_integer else _as_scaled_integers(a, bits)
    qb, shift_b = _as_scaled_integers(b, bits)
    return _integer_product(qa, qb) * 2.0 ** -(shift_a + shift_b)


def _row_sums(values: np.ndarray) -> np.ndarray:
    """Sums along the last axis by pairwise halving: a fixed order of additions."""
    while values.shape[-1] > 1:
        half = values.shape[-1] // 2
        paired = values[..., :half] + values[..., half : 2 * half]
        if values.shape[-1] % 2:
            paired[..., 0] += values[..., -1]
        values = paired
    return values[..., 0]


def _softmax(logits: np.ndarray) -> np.ndarray:
    weights = _exp_nonpositive(logits - np.max(logits, axis=-1, keepdims=True))
    return weights / _row_sums(weights)[..., None]


# --- data ----------------------------------------------------------------------------------------
def training_contexts(sentences: list[np.ndarray], context_length: int):
    """Distinct contexts and their next-word counts.

    Every position of every sentence after ``<s>`` is a training example whose
    context is the previous `context_length` tokens, left-padded with ``<s>``.
    Returns (contexts, counts): contexts (U, context_length) int64 in
    increasing order, counts (U, vocab) float64 with counts[c, w] the number of
    times context c is followed by word w.
    """
    vocab = len(corpus.VOCAB)
    bos = corpus.VOCAB.index(corpus.BOS)
    pad = np.full(context_length - 1, bos)
    stream = np.concatenate([np.concatenate([pad, sentence]) for sentence in sentences])
    starts = np.cumsum([0] + [len(pad) + len(sentence) for sentence in sentences])[:-1]
    # Targets: every token except each sentence's padding and its <s>.
    is_target = np.ones(len(stream), dtype=bool)
    for offset in range(len(pad) + 1):
        is_target[starts + offset] = False
    positions = np.flatnonzero(is_target)
    windows = stream[positions[:, None] - context_length + np.arange(context_length)]
    codes = np.zeros(len(windows), dtype=np.int64)
    for column in range(context_length):
        codes = codes * vocab + windows[:, column]
    unique_codes, inverse = np.unique(codes, return_inverse=True)
    contexts = np.zeros((len(unique_codes), context_length), dtype=np.int64)
    remaining = unique_codes.copy()
    for column in range(context_length - 1, -1, -1):
        contexts[:, column] = remaining % vocab
        remaining //= vocab
    counts = np.zeros((len(unique_codes), vocab))
    np.add.at(counts, (inverse, stream[positions]), 1.0)
    return contexts, counts


def _initial_parameters(config: TrainingConfig, rng: np.random.Generator) -> dict:
    """Uniform (Glorot-style) initial weights from the generator's raw uniforms."""
    vocab = len(corpus.VOCAB)
    inputs = config.context_length * config.embedding_size

    def uniform(shape, limit):
        return (2.0 * rng.random(shape) - 1.0) * limit

    return {
        "embedding": uniform((vocab, config.embedding_size), 1.0),
        "hidden_weights": uniform((inputs, config.hidden_size), math.sqrt(6 / inputs)),
        "hidden_bias": np.zeros(config.hidden_size),
        "output_weights": uniform(
            (config.hidden_size, vocab), math.sqrt(6 / (config.hidden_size + vocab))
        ),
        "output_bias": np.zeros(vocab),
    }


def _with_ones(values: np.ndarray) -> np.ndarray:
    """Append a column of ones: a bias becomes one more row of the weight matrix."""
    return np.concatenate([values, np.ones((len(values), 1))], axis=1)


def _loss_gradients(parameters: dict, contexts, counts, context_counts, scatter):
    """(probs, gradients) of the mean corpus cross-entropy.

    `context_counts` (U,) holds how often each context occurs divided by the
    number of positions; `scatter` is the 0/1 matrix (vocab, U * context_length)
    that adds the context slots up per token.
    """
    n_contexts, width = contexts.shape
    inputs = _with_ones(parameters["embedding"][contexts].reshape(n_contexts, -1))
    hidden_layer = np.concatenate([parameters["hidden_weights"], parameters["hidden_bias"][None]])
    pre_activation = _exact_matmul(inputs, hidden_layer)
    hidden = _with_ones(np.maximum(pre_activation, 0.0))
    output_layer = np.concatenate([parameters["output_weights"], parameters["output_bias"][None]])
    probs = _softmax(_exact_matmul(hidden, output_layer))
    # d loss / d logits = (n_c p_c - C_c) / N: p - y summed over the context's positions.
    logit_gradient = context_counts[:, None] * probs - counts
    output_gradient = _exact_matmul(hidden.T, logit_gradient)
    hidden_gradient = _exact_matmul(logit_gradient, parameters["output_weights"].T)
    pre_gradient = np.where(pre_activation > 0.0, hidden_gradient, 0.0)
    hidden_layer_gradient = _exact_matmul(inputs.T, pre_gradient)
    input_gradient = _exact_matmul(pre_gradient, parameters["hidden_weights"].T)
    slots = input_gradient.reshape(n_contexts, width, -1).transpose(1, 0, 2)
    gradients = {
        "embedding": _exact_matmul(
            scatter, slots.reshape(n_contexts * width, -1), a_is_integer=True
        ),
        "hidden_weights": hidden_layer_gradient[:-1],
        "hidden_bias": hidden_layer_gradient[-1],
        "output_weights": output_gradient[:-1],
        "output_bias": output_gradient[-1],
    }
    return probs, gradients


def cross_entropy(probs: np.ndarray, counts: np.ndarray) -> float:
    """Mean -log p(next token) over the corpus positions (for reports, not for training)."""
    with np.errstate(divide="ignore"):
        log_probs = np.where(counts > 0, np.log(np.where(counts > 0, probs, 1.0)), 0.0)
    return float(-(counts * log_probs).sum() / counts.sum())


def train(config: TrainingConfig = TrainingConfig(), *, progress=None):
    """Train from scratch; return (parameters, metadata).

    Full-batch Adam with a learning rate that decays linearly to zero.
    `progress`, if given, is called as progress(step, probs, counts) at step 1
    and every 100 steps (the command line prints the loss with it).
    """
    corpus_rng = np.random.default_rng([config.seed, 0])
    init_rng = np.random.default_rng([config.seed, 1])
    sentences = corpus.sample_sentences(config.sentences, corpus_rng)
    contexts, counts = training_contexts(sentences, config.context_length)
    parameters = _initial_parameters(config, init_rng)
    total = _row_sums(_row_sums(counts))
    context_counts = _row_sums(counts) / total
    scatter = np.zeros((len(corpus.VOCAB), contexts.size))
    scatter[contexts.T.ravel(), np.arange(contexts.size)] = 1.0
    first = {name: np.zeros_like(value) for name, value in parameters.items()}
    second = {name: np.zeros_like(value) for name, value in parameters.items()}
    beta1, beta2, epsilon = 0.9, 0.999, 1e-8
    beta1_power, beta2_power = 1.0, 1.0
    for step in range(1, config.steps + 1):
        probs, gradients = _loss_gradients(
            parameters, contexts, counts / total, context_counts, scatter
        )
        if progress is not None and (step % 100 == 0 or step == 1):
            progress(step, probs, counts)
        beta1_power *= beta1  # repeated products, not pow(): the same bits everywhere
        beta2_power *= beta2
        rate = config.learning_rate * (config.steps - step + 1) / config.steps
        for name, gradient in gradients.items():
            first[name] = beta1 * first[name] + (1.0 - beta1) * gradient
            second[name] = beta2 * second[name] + (1.0 - beta2) * (gradient * gradient)
            corrected_first = first[name] / (1.0 - beta1_power)
            corrected_second = second[name] / (1.0 - beta2_power)
            parameters[name] = parameters[name] - rate * corrected_first / (
                np.sqrt(corrected_second) + epsilon
            )
    corpus_bytes = np.concatenate(sentences).astype("<i8").tobytes()
    metadata = {
        "format": FORMAT_VERSION,
        "trainer": "python -m utils.lm train",
        **asdict(config),
        "corpus_positions": int(counts.sum()),
        "distinct_contexts": len(contexts),
        "corpus_sha256": hashlib.sha256(corpus_bytes).hexdigest(),
        "parameters_sha256": parameters_sha256(parameters),
    }
    return parameters, metadata


def parameters_sha256(parameters: dict) -> str:
    """SHA-256 of the parameters' little-endian float64 bytes, in a fixed order."""
    digest = hashlib.sha256()
    for name in PARAMETER_NAMES:
        array = np.ascontiguousarray(parameters[name], dtype="<f8")
        digest.update(name.encode() + str(array.shape).encode() + array.tobytes())
    return digest.hexdigest()


def weights_file_bytes(parameters: dict, metadata: dict) -> bytes:
    """The .npz file as bytes: uncompressed, fixed timestamps, so equal inputs give equal bytes.

    (`numpy.savez` stamps the current time into the zip, so it cannot be used.)
    """
    arrays = {name: np.ascontiguousarray(parameters[name], dtype="<f8") for name in PARAMETER_NAMES}
    arrays["vocab"] = np.array(corpus.VOCAB)
    arrays["metadata"] = np.array(json.dumps(metadata, sort_keys=True))
    return npz_bytes(arrays)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An uncompressed .npz of `arrays` (in their order) with fixed timestamps, as bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            with archive.open(info, "w") as member:
                np.lib.format.write_array(member, array, allow_pickle=False)
    return buffer.getvalue()


def true_probs_for_contexts(sentences: list[np.ndarray], contexts: np.ndarray) -> np.ndarray:
    """The process's true next-token distribution (U, vocab) for each training context.

    A context window does not start at the start of a sentence, so its state
    is read off a sentence in which it occurs (the grammar makes the last
    three tokens decide the state, so any occurrence gives the same answer).
    """
    width = contexts.shape[1]
    bos = corpus.VOCAB.index(corpus.BOS)
    state_of: dict[tuple, int] = {}
    for sentence in sentences:
        tokens = [bos] * (width - 1) + sentence.tolist()
        state = corpus.START_STATE
        for position in range(1, len(sentence)):
            if position > 1:
                state = int(corpus.TRANSITION[state, sentence[position - 1]])
            state_of.setdefault(tuple(tokens[position - 1 : position - 1 + width]), state)
    return corpus.EMISSION[[state_of[tuple(row)] for row in contexts.tolist()]]
