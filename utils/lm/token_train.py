"""Train the token model (a tiny GPT) with NumPy only, reproducibly to the last bit.

`python -m utils.lm train-tokens` runs `train_token_model()` and writes the
files lesson 09 ships: the tokenizer (`utils/data/tokenizer.json`, BPE
trained on the grammar's corpus) and the weights (`utils/data/token_lm.npz`).

Why a transformer: the model learners meet next is a GPT, and two blocks of
causal self-attention over a window of 32 tokens train here in about three
minutes on 2 cores. A Bengio-style MLP would need one weight matrix per
window position to see as far; attention shares them, and it can find the
subject of a clause a dozen tokens back (the verbs depend on it). (One
block trains in two thirds of the time with a KL to the truth about 40%
higher.) The model, as in GPT-2 (see `utils.lm.token_model` for the
forward pass):

    x = E[tokens] + P[positions]                       (token + position embeddings)
    x = x + Attention(LayerNorm(x))                    (causal, several heads) } `layers`
    x = x + MLP(LayerNorm(x))                          (ReLU; GPT-2 uses GELU) } times
    logits = LayerNorm(x) @ E.T                        (tied embeddings, as in GPT-2)

Training: Adam on minibatches of windows of the corpus's token stream
(sentences joined by ``<|endoftext|>``, as GPT-2's documents), every
position of a window a training example, learning rate warmed up, then
decayed linearly to zero.

Bit-for-bit reproducibility (the same approach as `utils.lm.train`): every
matrix product and every sum over a batch works on integers (values rounded
to integers times a power of two, with enough bits for training), whose
sums are exact in any order, so BLAS and SIMD cannot change a bit; sums
along a row add in a fixed pairwise order; `exp` is built from +, *, floor
and powers of two; `sqrt` and division are exactly rounded by IEEE 754;
the random numbers come from seeded PCG64 streams (uniforms only). So the
file's bytes depend only on `TokenTrainingConfig` (`--check` compares them).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from dataclasses import asdict, dataclass

import numpy as np

from utils.lm import grammar
from utils.lm.token_truth import TokenTruth
from utils.lm.train import (
    _as_scaled_integers,
    _bits_for,
    _exp_nonpositive,
    _row_sums,
    npz_bytes,
)
from utils.tokenizer import BPETokenizer, train_bpe

__all__ = [
    "TokenTrainingConfig",
    "evaluate",
    "parameter_names",
    "token_corpus",
    "train_token_model",
    "weights_file_bytes",
]

FORMAT_VERSION = 1


@dataclass(frozen=True)
class TokenTrainingConfig:
    """Everything that decides the tokenizer and the weights; the defaults make the shipped
    files."""

    seed: int = 2025
    tokenizer_sentences: int = 50_000
    vocab_size: int = 1024
    sentences: int = 60_000
    context_length: int = 32
    embedding_size: int = 64
    heads: int = 4
    layers: int = 2
    mlp_size: int = 256
    batch_size: int = 32
    steps: int = 1500
    learning_rate: float = 3e-3
    warmup_steps: int = 100


def parameter_names(layers: int) -> tuple[str, ...]:
    block = ("ln1_gain", "ln1_bias", "qkv_weights", "qkv_bias", "attention_output_weights",
             "attention_output_bias", "ln2_gain", "ln2_bias", "mlp_weights", "mlp_bias",
             "mlp_output_weights", "mlp_output_bias")  # fmt: skip
    names = ["token_embedding", "position_embedding"]
    for layer in range(layers):
        names += [f"block{layer}.{name}" for name in block]
    return (*names, "final_gain", "final_bias")


# --- exact arithmetic ----------------------------------------------------------------------------
_LN2 = 0.6931471805599453
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
# 2 ** (j / 64), from the exactly-rounded-operations exp of utils.lm.train.
_TWO_POWERS = _exp_nonpositive(np.arange(64) / 64 * _LN2 - _LN2) * 2.0


def _exp(x: np.ndarray) -> np.ndarray:
    """exp(x) for x <= 0 (relative error < 1e-9) from +, *, floor and a table.

    exp(x) = 2 ** (n / 64) * exp(r) with n = round(64 x / ln 2), |r| <= ln 2 / 128:
    a degree-5 polynomial for exp(r), 2 ** (j / 64) from a table, 2 ** k from its
    bits. Twice as fast as `utils.lm.train._exp_nonpositive`.
    """
    x = np.maximum(x, -700.0)
    n = np.floor(x * (64 / _LN2) + 0.5)
    r = x - n * (_LN2_HI / 64)
    r -= n * (_LN2_LO / 64)
    whole = n.astype(np.int64)
    result = r * (1 / 120) + (1 / 24)
    for coefficient in (1 / 6, 0.5, 1.0, 1.0):
        result *= r
        result += coefficient
    result *= _TWO_POWERS[whole & 63]
    result *= (((whole >> 6) + 1023) << 52).view(np.float64)
    return result


def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b (2-D, or stacks of matrices) with both operands rounded to integers: exact.

    Each partial sum is an integer below 2**52, so any BLAS, any order of
    additions, any number of threads gives the same bits.
    """
    bits = _bits_for(a.shape[-1])
    qa, shift_a = _as_scaled_integers(a, bits)
    qb, shift_b = _as_scaled_integers(b, bits)
    return (qa @ qb) * 2.0 ** -(shift_a + shift_b)


def _sum_rows(values: np.ndarray) -> np.ndarray:
    """values.sum(axis=0) for a (rows, ...) array, exactly (on integers)."""
    bits = min(52 - max(1, math.ceil(math.log2(max(2, values.shape[0])))), 46)
    q, shift = _as_scaled_integers(values, bits)
    return q.sum(axis=0) * 2.0**-shift


def _scatter_rows(ids: np.ndarray, values: np.ndarray, rows: int) -> np.ndarray:
    """out[i] = sum of values[j] over ids[j] == i, exactly (integer sums)."""
    bits = min(52 - max(1, math.ceil(math.log2(max(2, len(ids))))), 46)
    q, shift = _as_scaled_integers(values, bits)
    out = np.zeros((rows, values.shape[1]))
    np.add.at(out, ids, q)
    return out * 2.0**-shift


def _softmax_rows(scores: np.ndarray) -> np.ndarray:
    weights = _exp(scores - np.max(scores, axis=-1, keepdims=True))
    return weights / _row_sums(weights)[..., None]


_LAYER_NORM_EPSILON = 1e-5


def _layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray):
    width = x.shape[-1]
    centred = x - (_row_sums(x) / width)[..., None]
    inverse_std = 1.0 / np.sqrt(_row_sums(centred * centred) / width + _LAYER_NORM_EPSILON)
    normalized = centred * inverse_std[..., None]
    return normalized * gain + bias, (normalized, inverse_std)


def _layer_norm_backward(gradient, gain, cache):
    normalized, inverse_std = cache
    width = normalized.shape[-1]
    scaled = gradient * gain
    mean_scaled = _row_sums(scaled) / width
    mean_projection = _row_sums(scaled * normalized) / width
    input_gradient = inverse_std[..., None] * (
        scaled - mean_scaled[..., None] - normalized * mean_projection[..., None]
    )
    flat = gradient.reshape(-1, width)
    return (
        input_gradient,
        _sum_rows(flat * normalized.reshape(-1, width)),
        _sum_rows(flat),
    )


# --- the model, forward and backward -------------------------------------------------------------
def _forward(parameters: dict, inputs: np.ndarray, config: TokenTrainingConfig):
    """(logits (batch, time, vocab), cache) for token windows `inputs` (batch, time)."""
    batch, time_steps = inputs.shape
    width, heads = config.embedding_size, config.heads
    head_size = width // heads
    x = parameters["token_embedding"][inputs] + parameters["position_embedding"][:time_steps]
    causal = np.tril(np.ones((time_steps, time_steps), dtype=bool))
    caches = []
    for layer in range(config.layers):
        p = {name: parameters[f"block{layer}.{name}"] for name in _BLOCK}
        normed, ln1 = _layer_norm(x, p["ln1_gain"], p["ln1_bias"])
        flat = normed.reshape(-1, width)
        qkv = _matmul(flat, p["qkv_weights"]) + p["qkv_bias"]
        q, k, v = (
            part.reshape(batch, time_steps, heads, head_size).transpose(0, 2, 1, 3)
            for part in np.split(qkv, 3, axis=1)
        )
        scores = _matmul(q, k.transpose(0, 1, 3, 2)) * (1.0 / math.sqrt(head_size))
        scores = np.where(causal, scores, -np.inf)
        attention = np.where(causal, _softmax_rows(scores), 0.0)
        mixed = _matmul(attention, v).transpose(0, 2, 1, 3).reshape(-1, width)
        x = x + (
            _matmul(mixed, p["attention_output_weights"]) + p["attention_output_bias"]
        ).reshape(x.shape)
        normed2, ln2 = _layer_norm(x, p["ln2_gain"], p["ln2_bias"])
        flat2 = normed2.reshape(-1, width)
        pre = _matmul(flat2, p["mlp_weights"]) + p["mlp_bias"]
        hidden = np.maximum(pre, 0.0)
        x = x + (_matmul(hidden, p["mlp_output_weights"]) + p["mlp_output_bias"]).reshape(x.shape)
        caches.append((ln1, flat, q, k, v, attention, mixed, ln2, flat2, pre, hidden))
    final, final_cache = _layer_norm(x, parameters["final_gain"], parameters["final_bias"])
    flat_final = final.reshape(-1, width)
    logits = _matmul(flat_final, parameters["token_embedding"].T)
    return logits.reshape(batch, time_steps, -1), (inputs, caches, final_cache, flat_final)


_BLOCK = tuple(name.split(".", 1)[1] for name in parameter_names(1) if name.startswith("block0."))


def _backward(parameters: dict, logit_gradient: np.ndarray, cache, config: TokenTrainingConfig):
    """Gradients of the loss for d loss / d logits = `logit_gradient` (batch, time, vocab)."""
    inputs, caches, final_cache, flat_final = cache
    batch, time_steps = inputs.shape
    width, heads = config.embedding_size, config.heads
    head_size = width // heads
    flat_gradient = logit_gradient.reshape(-1, logit_gradient.shape[-1])
    gradients = {"token_embedding": _matmul(flat_gradient.T, flat_final)}
    final_gradient = _matmul(flat_gradient, parameters["token_embedding"]).reshape(
        batch, time_steps, width
    )
    dx, gradients["final_gain"], gradients["final_bias"] = _layer_norm_backward(
        final_gradient, parameters["final_gain"], final_cache
    )
    for layer in reversed(range(config.layers)):
        prefix = f"block{layer}."
        p = {name: parameters[prefix + name] for name in _BLOCK}
        ln1, flat, q, k, v, attention, mixed, ln2, flat2, pre, hidden = caches[layer]
        g = {}
        # MLP
        d_out = dx.reshape(-1, width)
        g["mlp_output_weights"] = _matmul(hidden.T, d_out)
        g["mlp_output_bias"] = _sum_rows(d_out)
        d_pre = np.where(pre > 0.0, _matmul(d_out, p["mlp_output_weights"].T), 0.0)
        g["mlp_weights"] = _matmul(flat2.T, d_pre)
        g["mlp_bias"] = _sum_rows(d_pre)
        d_normed2 = _matmul(d_pre, p["mlp_weights"].T).reshape(dx.shape)
        d_ln2, g["ln2_gain"], g["ln2_bias"] = _layer_norm_backward(d_normed2, p["ln2_gain"], ln2)
        dx = dx + d_ln2
        # Attention
        d_attention_out = dx.reshape(-1, width)
        g["attention_output_weights"] = _matmul(mixed.T, d_attention_out)
        g["attention_output_bias"] = _sum_rows(d_attention_out)
        d_mixed = _matmul(d_attention_out, p["attention_output_weights"].T)
        d_mixed = d_mixed.reshape(batch, time_steps, heads, head_size).transpose(0, 2, 1, 3)
        d_weights = _matmul(d_mixed, v.transpose(0, 1, 3, 2))
        d_v = _matmul(attention.transpose(0, 1, 3, 2), d_mixed)
        d_scores = attention * (d_weights - _row_sums(d_weights * attention)[..., None])
        d_scores *= 1.0 / math.sqrt(head_size)
        d_q = _matmul(d_scores, k)
        d_k = _matmul(d_scores.transpose(0, 1, 3, 2), q)
        d_qkv = np.concatenate(
            [part.transpose(0, 2, 1, 3).reshape(-1, width) for part in (d_q, d_k, d_v)], axis=1
        )
        g["qkv_weights"] = _matmul(flat.T, d_qkv)
        g["qkv_bias"] = _sum_rows(d_qkv)
        d_normed = _matmul(d_qkv, p["qkv_weights"].T).reshape(dx.shape)
        d_ln1, g["ln1_gain"], g["ln1_bias"] = _layer_norm_backward(d_normed, p["ln1_gain"], ln1)
        dx = dx + d_ln1
        gradients.update({prefix + name: value for name, value in g.items()})
    flat_dx = dx.reshape(-1, width)
    gradients["token_embedding"] = gradients["token_embedding"] + _scatter_rows(
        inputs.reshape(-1), flat_dx, parameters["token_embedding"].shape[0]
    )
    gradients["position_embedding"] = np.zeros_like(parameters["position_embedding"])
    gradients["position_embedding"][:time_steps] = _sum_rows(dx)
    return gradients


def loss_and_gradients(parameters: dict, windows: np.ndarray, config: TokenTrainingConfig):
    """(mean cross-entropy, gradients) on windows (batch, time + 1): predict each next token."""
    inputs, targets = windows[:, :-1], windows[:, 1:]
    logits, cache = _forward(parameters, inputs, config)
    probs = _softmax_rows(logits)
    count = targets.size
    picked = np.take_along_axis(probs, targets[..., None], axis=-1)[..., 0]
    loss = float(-_row_sums(np.log(picked).reshape(1, -1))[0] / count)
    logit_gradient = probs
    np.put_along_axis(logit_gradient, targets[..., None], picked[..., None] - 1.0, axis=-1)
    logit_gradient *= 1.0 / count
    return loss, _backward(parameters, logit_gradient, cache, config)


# --- data ----------------------------------------------------------------------------------------
def train_tokenizer(config: TokenTrainingConfig) -> BPETokenizer:
    """BPE trained on the units of a sample of the grammar's corpus (its own seed)."""
    rng = np.random.default_rng([config.seed, 0])
    sentences = grammar.sample_sentences(config.tokenizer_sentences, rng)
    counts = Counter(np.concatenate(sentences).tolist())
    texts = Counter({grammar.UNITS[u]: n for u, n in counts.items() if u != grammar.EOS_ID})
    return train_bpe(texts, config.vocab_size)


def token_corpus(truth: TokenTruth, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """`count` sentences of the grammar as token ids, each ending with <|endoftext|>."""
    return [
        np.array([t for unit in sentence.tolist() for t in truth.unit_tokens[unit]], np.int64)
        for sentence in grammar.sample_sentences(count, rng)
    ]


def _initial_parameters(config: TokenTrainingConfig, vocab_size: int, rng) -> dict:
    """GPT-2's initial scales (std 0.02; residual outputs / sqrt(2 * layers)), from uniforms."""

    def uniform(shape, std):
        return (2.0 * rng.random(shape) - 1.0) * (std * math.sqrt(3.0))

    width, residual = config.embedding_size, 0.02 / math.sqrt(2 * config.layers)
    parameters = {
        "token_embedding": uniform((vocab_size, width), 0.02),
        "position_embedding": uniform((config.context_length, width), 0.01),
    }
    for layer in range(config.layers):
        prefix = f"block{layer}."
        parameters.update(
            {
                prefix + "ln1_gain": np.ones(width),
                prefix + "ln1_bias": np.zeros(width),
                prefix + "qkv_weights": uniform((width, 3 * width), 0.02),
                prefix + "qkv_bias": np.zeros(3 * width),
                prefix + "attention_output_weights": uniform((width, width), residual),
                prefix + "attention_output_bias": np.zeros(width),
                prefix + "ln2_gain": np.ones(width),
                prefix + "ln2_bias": np.zeros(width),
                prefix + "mlp_weights": uniform((width, config.mlp_size), 0.02),
                prefix + "mlp_bias": np.zeros(config.mlp_size),
                prefix + "mlp_output_weights": uniform((config.mlp_size, width), residual),
                prefix + "mlp_output_bias": np.zeros(width),
            }
        )
    parameters["final_gain"] = np.ones(width)
    parameters["final_bias"] = np.zeros(width)
    return parameters


def _check_config(config: TokenTrainingConfig) -> None:
    if config.embedding_size % config.heads:
        raise ValueError(
            f"embedding_size {config.embedding_size} must be a multiple of heads {config.heads}."
        )
    for name in ("sentences", "steps", "batch_size", "context_length", "layers"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(config, name)}.")


def train_token_model(
    config: TokenTrainingConfig = TokenTrainingConfig(), *, tokenizer=None, progress=None
):
    """Train from scratch; return (tokenizer, parameters, metadata).

    `tokenizer`: reuse a trained one (it depends only on the seed, the
    tokenizer sample and the vocabulary size; the tests pass it to save
    time). `progress(step, loss)` is called every 100 steps.
    """
    _check_config(config)
    tokenizer = tokenizer if tokenizer is not None else train_tokenizer(config)
    truth = TokenTruth(tokenizer)
    sentences = token_corpus(truth, config.sentences, np.random.default_rng([config.seed, 1]))
    stream = np.concatenate([[tokenizer.eos_token_id], *sentences])
    parameters = _initial_parameters(
        config, tokenizer.vocab_size, np.random.default_rng([config.seed, 2])
    )
    batch_rng = np.random.default_rng([config.seed, 3])
    first = {name: np.zeros_like(value) for name, value in parameters.items()}
    second = {name: np.zeros_like(value) for name, value in parameters.items()}
    beta1, beta2, epsilon = 0.9, 0.999, 1e-8
    beta1_power, beta2_power = 1.0, 1.0
    window = config.context_length + 1
    offsets = np.arange(window)
    running = 0.0
    for step in range(1, config.steps + 1):
        starts = batch_rng.integers(0, len(stream) - window + 1, size=config.batch_size)
        loss, gradients = loss_and_gradients(parameters, stream[starts[:, None] + offsets], config)
        running += loss
        if progress is not None and (step % 100 == 0 or step == config.steps):
            progress(step, running / (100 if step % 100 == 0 else step % 100))
        if step % 100 == 0:
            running = 0.0
        beta1_power *= beta1  # repeated products, not pow(): the same bits everywhere
        beta2_power *= beta2
        if step <= config.warmup_steps:
            rate = config.learning_rate * step / config.warmup_steps
        else:
            rate = (
                config.learning_rate
                * (config.steps - step + 1)
                / (config.steps - config.warmup_steps + 1)
            )
        for name, gradient in gradients.items():
            first[name] = beta1 * first[name] + (1.0 - beta1) * gradient
            second[name] = beta2 * second[name] + (1.0 - beta2) * (gradient * gradient)
            corrected_first = first[name] / (1.0 - beta1_power)
            corrected_second = second[name] / (1.0 - beta2_power)
            parameters[name] = parameters[name] - rate * corrected_first / (
                np.sqrt(corrected_second) + epsilon
            )
    stored = {name: parameters[name].astype("<f4") for name in parameter_names(config.layers)}
    metadata = {
        "format": FORMAT_VERSION,
        "trainer": "python -m utils.lm train-tokens",
        "architecture": "GPT-2-style decoder: token + position embeddings, pre-LayerNorm "
        "blocks of causal multi-head self-attention and a ReLU MLP, final LayerNorm, "
        "tied output embedding",
        **asdict(config),
        "corpus_tokens": len(stream),
        "corpus_sha256": hashlib.sha256(stream.astype("<i8").tobytes()).hexdigest(),
        "tokenizer_sha256": hashlib.sha256(tokenizer.to_json_string().encode()).hexdigest(),
        "parameters": int(sum(value.size for value in stored.values())),
        "parameters_sha256": parameters_sha256(stored),
    }
    return tokenizer, stored, metadata


def parameters_sha256(parameters: dict) -> str:
    """SHA-256 of the stored (float32) parameters, in name order."""
    digest = hashlib.sha256()
    for name in sorted(parameters):
        array = np.ascontiguousarray(parameters[name], dtype="<f4")
        digest.update(name.encode() + str(array.shape).encode() + array.tobytes())
    return digest.hexdigest()


def weights_file_bytes(parameters: dict, metadata: dict) -> bytes:
    """The .npz as bytes: uncompressed, fixed timestamps: equal inputs, equal bytes."""
    arrays = {name: np.ascontiguousarray(parameters[name], dtype="<f4") for name in parameters}
    arrays["metadata"] = np.array(json.dumps(metadata, sort_keys=True))
    return npz_bytes(arrays)


# --- the report ----------------------------------------------------------------------------------
def evaluate(model, sentences: list[np.ndarray]) -> dict:
    """Held-out figures: the model against the exact truth, position by position.

    Each sentence is read after ``<|endoftext|>`` (as a text starts); every
    token of it (its final ``<|endoftext|>`` included) is predicted. Returns
    mean cross-entropy of the model and of the truth on these tokens, the
    truth's mean entropy, the mean KL(truth || model), all in nats per token,
    and the range of top-p 0.9 nucleus sizes of the truth and of the model.
    """
    truth = model.truth
    eos = model.tokenizer.eos_token_id
    rows = {"model_ce": [], "truth_ce": [], "entropy": [], "kl": [], "nucleus": [], "mnucleus": []}
    for sentence in sentences:
        text = np.concatenate([[eos], sentence])
        true_probs = truth.along(text[:-1])
        model_probs = model.next_token_probs_along(text[:-1])
        targets = text[1:]
        positions = np.arange(len(targets))
        with np.errstate(divide="ignore", invalid="ignore"):
            log_true = np.where(true_probs > 0, np.log(np.where(true_probs > 0, true_probs, 1)), 0)
            log_model = np.log(model_probs)
        rows["model_ce"].append(-log_model[positions, targets])
        rows["truth_ce"].append(-log_true[positions, targets])
        rows["entropy"].append(-(true_probs * log_true).sum(axis=1))
        rows["kl"].append((true_probs * (log_true - log_model)).sum(axis=1))
        rows["nucleus"].append(nucleus_sizes(true_probs))
        rows["mnucleus"].append(nucleus_sizes(model_probs))
    joined = {name: np.concatenate(values) for name, values in rows.items()}
    return {
        "tokens": len(joined["kl"]),
        "model_cross_entropy": float(joined["model_ce"].mean()),
        "truth_cross_entropy": float(joined["truth_ce"].mean()),
        "truth_entropy": float(joined["entropy"].mean()),
        "kl_truth_model": float(joined["kl"].mean()),
        "truth_nucleus_range": (int(joined["nucleus"].min()), int(joined["nucleus"].max())),
        "model_nucleus_range": (int(joined["mnucleus"].min()), int(joined["mnucleus"].max())),
        "truth_nucleus_median": float(np.median(joined["nucleus"])),
    }


def nucleus_sizes(probs: np.ndarray, top_p: float = 0.9) -> np.ndarray:
    """How many tokens top-p keeps in each row (the smallest set whose mass reaches top_p)."""
    ordered = -np.sort(-probs, axis=-1)
    return (np.cumsum(ordered, axis=-1) < top_p).sum(axis=-1) + 1
