"""Lesson 09's model: a tiny GPT over subword tokens, with the exact truth beside it.

>>> model = load_token_model()
>>> ids = model.encode("The cat sat")
>>> model.convert_ids_to_tokens(ids)
['The', 'Ġcat', 'Ġsat']
>>> logits = model.next_token_logits(ids)          # one score per token of the vocabulary
>>> logits.shape == (model.vocab_size,)
True
>>> model.vocab[int(logits.argmax())]
' on'
>>> round(float(model.true_next_token_probs(ids)[model.encode(" on")[0]]), 3)
0.289

What it holds:

* `tokenizer`: the course's byte-level BPE (`utils.tokenizer.load()`);
  `encode`, `decode`, `convert_ids_to_tokens`, `eos_id` (``<|endoftext|>``,
  which both ends a text and, written first, starts one, as in GPT-2);
* `next_token_logits(context)`: the network's scores, float64, for a
  context of token ids of shape (..., length) (a string is encoded first);
  only the last `context_length` (32) tokens are read, as a GPT reads its
  window. Batched like the word model's, so `utils.sequences`' decoding
  functions (greedy, sampling, beam search) run on it unchanged;
* the truth from the grammar (`utils.lm.grammar`): `true_next_token_probs`
  (exact P(next token | token prefix), summing over the words a partial word
  can become; see `utils.lm.token_truth`), `true_next_word_probs` (over the
  grammar's units, `words`), `true_sequence_log_prob`;
* helpers: `word_tokens(" rhinoceros")` (a word's tokens as strings),
  `word_token_ids`, `starts_word` (a boolean mask of the tokens that begin a
  new word: a leading space, punctuation, ``<|endoftext|>``).

A word's probability is the product of its tokens' conditional
probabilities *and* the probability that the word ends there: the next token
must start a new word (`starts_word`), or the tokens are only the start of a
longer word (``" bee"`` begins ``" beetle"``).

Contexts are read from the start of a text: ``"The cat"`` and
``"<|endoftext|>The cat"`` are the same context for the truth (the second is
what the model saw in training after a sentence; both work).

The network (trained by `utils.lm.token_train`, GPT-2's layout)::

    x = E[tokens] + P[positions]
    x = x + Attention(LayerNorm(x))      causal self-attention, `heads` heads  } `layers`
    x = x + MLP(LayerNorm(x))            ReLU                                  } times
    logits = LayerNorm(x) @ E.T          the token embedding, tied
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import zipfile
from pathlib import Path

import numpy as np

from utils.lm import grammar
from utils.lm.token_train import FORMAT_VERSION, parameter_names, parameters_sha256
from utils.lm.token_truth import TokenTruth
from utils.probability import softmax
from utils.tokenizer import TOKENIZER_PATH, BPETokenizer

__all__ = ["TOKEN_WEIGHTS_PATH", "TokenLanguageModel", "load_token_model"]

TOKEN_WEIGHTS_PATH = Path(__file__).resolve().parent.parent / "data" / "token_lm.npz"
TRAINER = "python -m utils.lm train-tokens"


# OpenBLAS multiplies on one thread below 2**18 multiply-adds. These products are
# small, and threads only cost time here (a learner's kernel runs default threads:
# greedy decoding measured 2.6x, a held-out evaluation 5.7x slower threaded on 2
# cores), so larger ones are cut into row blocks under that size.
_SINGLE_THREAD_PRODUCT = 1 << 18


def _product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for a (..., n) array and an (n, m) matrix, in single-threaded row blocks."""
    rows = a.reshape(-1, a.shape[-1])
    step = max(1, _SINGLE_THREAD_PRODUCT // (a.shape[-1] * b.shape[-1]))
    if len(rows) <= step:
        return a @ b
    blocks = [rows[start : start + step] @ b for start in range(0, len(rows), step)]
    return np.concatenate(blocks).reshape(*a.shape[:-1], b.shape[-1])


def _layer_norm(x, gain, bias, epsilon=1e-5):
    centred = x - x.mean(axis=-1, keepdims=True)
    return (
        centred / np.sqrt((centred * centred).mean(axis=-1, keepdims=True) + epsilon) * gain + bias
    )


def _is_text_batch(context) -> bool:
    return (
        isinstance(context, (list, tuple))
        and bool(context)
        and all(isinstance(item, str) for item in context)
    )


class TokenLanguageModel:
    """A tiny GPT over the course tokenizer's tokens (NumPy, float64 inference).

    Attributes: `tokenizer`, `truth` (a `TokenTruth`), `metadata`,
    `context_length`, `vocab_size`, `vocab` (each token's text, e.g. ' cat'),
    `eos_id` / `bos_id`, `words` (the grammar's units), `starts_word`, and the
    weights as read-only float64 arrays in `parameters`.
    """

    def __init__(self, parameters: dict, tokenizer: BPETokenizer, metadata: dict):
        self.metadata = dict(metadata)
        self.layers = int(self.metadata["layers"])
        self.heads = int(self.metadata["heads"])
        names = parameter_names(self.layers)
        missing = [name for name in names if name not in parameters]
        if missing:
            raise ValueError(f"parameters lack {missing}.")
        self.parameters = {}
        for name in names:
            array = np.array(parameters[name], dtype=np.float64)
            array.setflags(write=False)
            self.parameters[name] = array
        self.tokenizer = tokenizer
        self.vocab_size = tokenizer.vocab_size
        if self.parameters["token_embedding"].shape[0] != self.vocab_size:
            raise ValueError(
                f"the weights are for {self.parameters['token_embedding'].shape[0]} tokens, "
                f"the tokenizer has {self.vocab_size}."
            )
        self.context_length = self.parameters["position_embedding"].shape[0]
        self.eos_id = self.bos_id = tokenizer.eos_token_id
        self.eos_token = tokenizer.eos_token
        # E.T stored contiguous: a transposed view would make every product copy it.
        self._unembedding = np.ascontiguousarray(self.parameters["token_embedding"].T)
        self.vocab = [tokenizer.token_text(i) for i in range(self.vocab_size)]
        self.vocab[self.eos_id] = tokenizer.eos_token
        self.words = list(grammar.UNITS)

    @functools.cached_property
    def truth(self) -> TokenTruth:
        return TokenTruth(self.tokenizer)

    @property
    def starts_word(self) -> np.ndarray:
        """Boolean (vocab,): the tokens that begin a new word (or end the text)."""
        return self.truth.starts_unit.copy()

    # --- text <-> ids ---------------------------------------------------------------------------
    def encode(self, text: str) -> np.ndarray:
        """Token ids (int64) of `text` (nothing added; `tokenizer.encode` gives a list)."""
        return np.array(self.tokenizer.encode(text), dtype=np.int64)

    def decode(self, token_ids, *, skip_special_tokens: bool = False):
        """Text of token ids: a str for shape (length,), a list of str for (batch, length)."""
        ids = np.asarray(token_ids)
        if ids.ndim == 2:
            return [self.decode(row, skip_special_tokens=skip_special_tokens) for row in ids]
        if ids.ndim > 2:
            raise ValueError(f"token_ids must be 1-D or 2-D (a batch), got shape {ids.shape}.")
        return self.tokenizer.decode(ids.reshape(-1), skip_special_tokens=skip_special_tokens)

    def convert_ids_to_tokens(self, ids):
        return self.tokenizer.convert_ids_to_tokens(ids)

    def word_tokens(self, word: str) -> list[str]:
        """The tokens of one word as written in a text: ``" rhino"`` (with its space) or a
        sentence's first word ``"The"``.

        >>> load_token_model().word_tokens(" cat")
        ['Ġcat']
        """
        return self.tokenizer.convert_ids_to_tokens(self.word_token_ids(word))

    def word_token_ids(self, word: str) -> list[int]:
        """The token ids of one word (see `word_tokens`)."""
        if not isinstance(word, str) or not word.strip():
            raise ValueError(f"word must be a non-empty str such as ' cat', got {word!r}.")
        if len(word.split()) > 1:
            raise ValueError(f"{word!r} holds several words; pass one, e.g. ' cat'.")
        return self.tokenizer.encode(word)

    def context_ids(self, context) -> np.ndarray:
        """Token ids (..., length) of a context: a str, a list of str (left-padded with
        ``<|endoftext|>``, which the truth ignores at the start; the network would not:
        `next_token_logits` reads each text of a list on its own), or ids."""
        if isinstance(context, str):
            return self.truth._check(self.encode(context))
        if _is_text_batch(context):
            encoded = [self.encode(text) for text in context]
            width = max(len(ids) for ids in encoded)
            return np.array(
                [np.concatenate([np.full(width - len(ids), self.eos_id), ids]) for ids in encoded],
                dtype=np.int64,
            )
        ids = np.asarray(context)
        if ids.dtype == object:
            raise TypeError(
                "context must be a str, a list of str, or token ids of shape (..., length)."
            )
        return self.truth._check(ids)

    # --- the network ----------------------------------------------------------------------------
    def _logits_all(self, windows: np.ndarray, *, last_only: bool = False) -> np.ndarray:
        """Logits (batch, time, vocab) at every position of windows (batch, time <= 32);
        with `last_only`, (batch, 1, vocab) for the last position (a third of the work)."""
        p = self.parameters
        batch, steps = windows.shape
        width = p["token_embedding"].shape[1]
        head_size = width // self.heads
        x = p["token_embedding"][windows] + p["position_embedding"][:steps]
        causal = np.tril(np.ones((steps, steps), dtype=bool))
        for layer in range(self.layers):
            b = {name.split(".", 1)[1]: p[name] for name in p if name.startswith(f"block{layer}.")}
            normed = _layer_norm(x, b["ln1_gain"], b["ln1_bias"])
            qkv = _product(normed, b["qkv_weights"]) + b["qkv_bias"]
            q, k, v = (
                part.reshape(batch, steps, self.heads, head_size).transpose(0, 2, 1, 3)
                for part in np.split(qkv, 3, axis=-1)
            )
            scores = np.where(causal, q @ k.transpose(0, 1, 3, 2) / math.sqrt(head_size), -np.inf)
            attention = softmax(scores)
            mixed = (attention @ v).transpose(0, 2, 1, 3).reshape(batch, steps, width)
            x = x + _product(mixed, b["attention_output_weights"]) + b["attention_output_bias"]
            normed = _layer_norm(x, b["ln2_gain"], b["ln2_bias"])
            hidden = np.maximum(_product(normed, b["mlp_weights"]) + b["mlp_bias"], 0.0)
            x = x + _product(hidden, b["mlp_output_weights"]) + b["mlp_output_bias"]
        if last_only:
            x = x[:, -1:]
        final = _layer_norm(x, p["final_gain"], p["final_bias"])
        return _product(final, self._unembedding)

    def next_token_logits(self, context) -> np.ndarray:
        """Logits (..., vocab) of the token after each context (float64).

        Reads the last `context_length` tokens of each context of shape (..., length).
        A list of str is a batch of texts, each read on its own (as Hugging Face's left
        padding with an attention mask would), so a row never depends on the others.
        """
        if _is_text_batch(context):
            return np.stack([self.next_token_logits(text) for text in context])
        ids = self.context_ids(context)
        window = ids[..., -self.context_length :]
        flat = window.reshape(-1, window.shape[-1])
        logits = self._logits_all(flat, last_only=True)[:, -1]
        return logits.reshape(*ids.shape[:-1], self.vocab_size)

    def next_token_probs(self, context) -> np.ndarray:
        """softmax of `next_token_logits`."""
        return softmax(self.next_token_logits(context))

    def next_token_probs_along(self, token_ids) -> np.ndarray:
        """The model's distribution after every prefix of a 1-D sequence: (length, vocab).

        Row i equals ``next_token_probs(token_ids[: i + 1])``; computed with one
        causal pass over the first window and one window per later position.
        """
        ids = self.truth._check(token_ids)
        if ids.ndim != 1:
            raise ValueError(f"token_ids must be 1-D, got shape {ids.shape}.")
        length = self.context_length
        logits = [self._logits_all(ids[None, :length])[0]]
        if len(ids) > length:
            windows = np.lib.stride_tricks.sliding_window_view(ids, length)[1:]
            logits.append(self._logits_all(np.ascontiguousarray(windows), last_only=True)[:, -1])
        return softmax(np.concatenate(logits))

    # --- the truth ------------------------------------------------------------------------------
    def true_next_token_probs(self, context) -> np.ndarray:
        """The grammar's exact next-token distribution (..., vocab) after each context.

        See `utils.lm.token_truth`: a context the corpus never starts with
        (``"cat sat"``, a word split into other tokens than the tokenizer's)
        raises a `ValueError` saying why.
        """
        return self.truth.next_token_probs(self.context_ids(context))

    def true_next_word_probs(self, text: str) -> np.ndarray:
        """The grammar's exact distribution over `words` (its units) after `text`,
        which must end at a word boundary (``"The cat"``; ``""`` for a text's start).

        >>> model = load_token_model()
        >>> probs = model.true_next_word_probs("The cat sat")
        >>> model.words[int(probs.argmax())], round(float(probs.max()), 3)
        (' on', 0.289)
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str such as 'The cat', got {type(text).__name__}.")
        while text.startswith(self.eos_token):  # a text may start with <|endoftext|>
            text = text[len(self.eos_token) :]
        return grammar.true_next_unit_probs(grammar.units_of_text(text) if text else [])

    def true_sequence_log_prob(self, token_ids) -> float:
        """log P(a text starts with these tokens) under the grammar (-inf if it cannot)."""
        return self.truth.sequence_log_prob(self.context_ids(token_ids))

    def __repr__(self) -> str:
        return (
            f"TokenLanguageModel(vocab_size={self.vocab_size}, context_length="
            f"{self.context_length}, layers={self.layers}, heads={self.heads}, "
            f"parameters={self.metadata.get('parameters')})"
        )


@functools.lru_cache(maxsize=4)
def _load_cached(weights: str, tokenizer_path: str) -> TokenLanguageModel:
    file = Path(weights)
    if not file.is_file():
        raise FileNotFoundError(
            f"no weights file at {file}; the course ships one at {TOKEN_WEIGHTS_PATH} "
            "(recreate it with `python -m utils.lm train-tokens`)."
        )
    tokenizer = BPETokenizer.from_file(tokenizer_path)
    try:
        with np.load(file, allow_pickle=False) as archive:
            metadata = json.loads(str(archive["metadata"]))
            parameters = {name: archive[name] for name in archive.files if name != "metadata"}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{file} is not a token model's weights file ({error}); the course ships one at "
            f"{TOKEN_WEIGHTS_PATH}."
        ) from None
    if not isinstance(metadata, dict) or metadata.get("trainer") != TRAINER:
        raise ValueError(
            f"{file} was not written by `{TRAINER}` (for the 78-word model use utils.lm.load())."
        )
    if metadata.get("format") != FORMAT_VERSION:
        raise ValueError(f"{file} has format {metadata.get('format')}, expected {FORMAT_VERSION}.")
    if metadata.get("parameters_sha256") != parameters_sha256(parameters):
        raise ValueError(
            f"{file} is damaged: its weights do not match the checksum stored with them; "
            "restore it from the repository or retrain with `python -m utils.lm train-tokens`."
        )
    digest = hashlib.sha256(tokenizer.to_json_string().encode()).hexdigest()
    if metadata.get("tokenizer_sha256") != digest:
        raise ValueError(
            f"{file} was trained with another tokenizer than {tokenizer_path}; retrain both "
            "with `python -m utils.lm train-tokens`."
        )
    return TokenLanguageModel(parameters, tokenizer, metadata)


def load_token_model(path=None, *, tokenizer_path=None) -> TokenLanguageModel:
    """The trained token model and its tokenizer, from the files shipped with the course.

    `path` / `tokenizer_path`: files written by `python -m utils.lm train-tokens --out DIR`.
    The model is immutable, so repeated calls return the same object.
    """
    weights = Path(path) if path is not None else TOKEN_WEIGHTS_PATH
    if tokenizer_path is None:
        beside = weights.parent / "tokenizer.json"
        tokenizer_path = beside if path is not None and beside.is_file() else TOKENIZER_PATH
    return _load_cached(str(weights), str(tokenizer_path))
