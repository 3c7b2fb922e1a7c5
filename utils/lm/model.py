"""The tiny language model of the course: load it, encode text, read its next-token logits.

>>> model = load()
>>> ids = model.encode("the cat")
>>> model.decode(ids)
'the cat'
>>> logits = model.next_token_logits(ids)       # one score per vocabulary word
>>> model.vocab[int(logits.argmax())]
'sat'

How it computes: the last `context_length` (3) tokens of the context,
left-padded with ``<s>``, are looked up in an embedding table (16 numbers per
token) and concatenated; a hidden layer of 64 ReLU units reads them; the
softmax layer maps the hidden units to one logit per word::

    h = relu(concat(E[w_{t-3}], E[w_{t-2}], E[w_{t-1}]) @ W_hidden + b_hidden)
    logits = h @ W_output + b_output

`features(context)` returns h, so the softmax layer can be studied (and
retrained) on its own: ``model.features(c) @ model.output_weights +
model.output_bias`` equals ``model.next_token_logits(c)``.

Contexts are read from the start of a sentence: the model sees ``<s>``
before the first token, so ``"the cat"`` and ``"<s> the cat"`` are the same
context. An empty context is an error; pass ``"<s>"`` for the first word of
a sentence.
"""

from __future__ import annotations

import difflib
import functools
import json
from pathlib import Path

import numpy as np

from utils.lm import corpus
from utils.lm.corpus import _check_ids
from utils.lm.train import PARAMETER_NAMES, parameters_sha256
from utils.probability import softmax

__all__ = ["WEIGHTS_PATH", "TinyLanguageModel", "load"]

WEIGHTS_PATH = Path(__file__).resolve().parent.parent / "data" / "tiny_lm.npz"


class TinyLanguageModel:
    """A trained next-token model over the corpus vocabulary (NumPy only, float64).

    Attributes: `vocab` (list of str; a token's id is its position),
    `context_length`, `bos_id` / `eos_id` (``<s>`` / ``</s>``), `metadata`
    (how the weights were trained), and the weights themselves
    (`embedding`, `hidden_weights`, `hidden_bias`, `output_weights`,
    `output_bias`; read-only arrays).

    Every method that takes a context accepts a string (``"the cat"``), a
    list of strings (a batch; shorter ones are left-padded with ``<s>``,
    which changes nothing), or token ids of shape (..., length).
    """

    def __init__(self, parameters: dict, *, vocab=corpus.VOCAB, metadata: dict | None = None):
        missing = [name for name in PARAMETER_NAMES if name not in parameters]
        if missing:
            raise ValueError(f"parameters lack {missing}; expected {list(PARAMETER_NAMES)}.")
        self._vocab = tuple(str(word) for word in vocab)
        self._index = {word: i for i, word in enumerate(self._vocab)}
        for name in PARAMETER_NAMES:
            array = np.array(parameters[name], dtype=np.float64)  # a private, read-only copy
            array.setflags(write=False)
            setattr(self, name, array)
        self.metadata = dict(metadata or {})
        embedding_size = self.embedding.shape[1]
        self.context_length = self.hidden_weights.shape[0] // embedding_size
        self.bos_id = self._index[corpus.BOS]
        self.eos_id = self._index[corpus.EOS]
        if self.embedding.shape[0] != len(self._vocab) or self.output_bias.shape != (
            len(self._vocab),
        ):
            raise ValueError(
                f"the weights are for a vocabulary of {self.embedding.shape[0]} tokens, "
                f"not {len(self._vocab)}."
            )

    # --- text <-> ids ---------------------------------------------------------------------------
    @property
    def vocab(self) -> list[str]:
        return list(self._vocab)

    @property
    def vocab_size(self) -> int:
        return len(self._vocab)

    def encode(self, text: str) -> np.ndarray:
        """Token ids (int64) of a text of space-separated vocabulary words.

        No ``<s>`` is added (write it if you want it). An unknown word raises a
        `ValueError` that names it and suggests close vocabulary words.

        >>> load().encode("the cat sat")
        array([ 2, 16, 36])
        """
        if not isinstance(text, str):
            raise TypeError(
                f"text must be a str such as 'the cat', got {type(text).__name__}; "
                "to encode several texts, call encode on each."
            )
        words = text.split()
        if not words:
            raise ValueError(
                "text is empty; write at least one word, e.g. 'the', or '<s>' for the "
                "start of a sentence."
            )
        unknown = [word for word in words if word not in self._index]
        if unknown:
            word = unknown[0]
            close = difflib.get_close_matches(word.lower().strip(".,!?;:"), self._vocab, n=3)
            hint = (
                f"did you mean {' or '.join(repr(c) for c in close)}?"
                if close
                else f"the words are lower-case, e.g. {', '.join(self._vocab[2:8])}, ..."
            )
            raise ValueError(
                f"unknown word {word!r}: the tiny model knows {self.vocab_size} words "
                f"(see model.vocab); {hint}"
            )
        return np.array([self._index[word] for word in words], dtype=np.int64)

    def decode(self, token_ids, *, skip_special_tokens: bool = False):
        """Text of token ids: a str for shape (length,), a list of str for (batch, length).

        `skip_special_tokens` drops ``<s>`` and ``</s>`` (as in Hugging Face).

        >>> model = load()
        >>> model.decode([0, 2, 16, 1]), model.decode([0, 2, 16, 1], skip_special_tokens=True)
        ('<s> the cat </s>', 'the cat')
        """
        ids = np.asarray(token_ids)
        if ids.ndim == 0:
            ids = ids.reshape(1)
        if ids.size == 0:
            return ""
        ids = _check_ids(ids, "token_ids")
        if ids.ndim > 2:
            raise ValueError(f"token_ids must be 1-D or 2-D (a batch), got shape {ids.shape}.")
        if ids.ndim == 2:
            return [self.decode(row, skip_special_tokens=skip_special_tokens) for row in ids]
        special = {self.bos_id, self.eos_id} if skip_special_tokens else set()
        return " ".join(self._vocab[i] for i in ids.tolist() if i not in special)

    def context_ids(self, context) -> np.ndarray:
        """Token ids of shape (..., length) for a context in any accepted form.

        >>> load().context_ids(["the cat", "a big dog"])
        array([[ 0,  2, 16],
               [ 3,  4, 17]])
        """
        if isinstance(context, str):
            return self.encode(context)
        if (
            isinstance(context, (list, tuple))
            and context
            and all(isinstance(item, str) for item in context)
        ):
            encoded = [self.encode(text) for text in context]
            width = max(len(ids) for ids in encoded)
            return np.array(
                [np.concatenate([np.full(width - len(ids), self.bos_id), ids]) for ids in encoded]
            )
        try:
            ids = np.asarray(context)
        except ValueError:
            ids = None
        if ids is None or ids.dtype == object:
            raise TypeError(
                "context must be a str, a list of str, or token ids of shape (..., length); "
                "contexts of different lengths: pass them as strings, or left-pad the ids "
                f"with bos_id={self.bos_id}."
            )
        return _check_ids(ids)

    def context_window(self, context) -> np.ndarray:
        """The last `context_length` tokens the model reads, left-padded with ``<s>``.

        >>> model = load()
        >>> model.decode(model.context_window("the cat"))
        '<s> the cat'
        """
        ids = self.context_ids(context)
        length = ids.shape[-1]
        if length >= self.context_length:
            return ids[..., length - self.context_length :]
        padding = np.full((*ids.shape[:-1], self.context_length - length), self.bos_id)
        return np.concatenate([padding, ids], axis=-1)

    # --- the network ----------------------------------------------------------------------------
    def features(self, context) -> np.ndarray:
        """The hidden layer h (..., hidden_size): what the softmax layer reads."""
        window = self.context_window(context)
        inputs = self.embedding[window].reshape(*window.shape[:-1], -1)
        return np.maximum(inputs @ self.hidden_weights + self.hidden_bias, 0.0)

    def next_token_logits(self, context) -> np.ndarray:
        """Logits (..., vocab) for the token after each context (float64).

        >>> load().next_token_logits(["the cat", "a dog"]).shape
        (2, 78)
        """
        return self.features(context) @ self.output_weights + self.output_bias

    def next_token_probs(self, context) -> np.ndarray:
        """softmax of `next_token_logits`: the model's next-token distribution."""
        return softmax(self.next_token_logits(context))

    def true_next_token_probs(self, context) -> np.ndarray:
        """The corpus process's exact next-token distribution (..., vocab) after each context.

        The process reads the whole context from the start of a sentence; a
        context it cannot produce (``"cat sat"``, anything after ``</s>``)
        raises a `ValueError` saying why. See `utils.lm.corpus`.

        >>> model = load()
        >>> p = model.true_next_token_probs("the cat")
        >>> round(float(p[model.vocab.index("sat")]), 2)
        0.34
        """
        return corpus.true_next_token_probs(self.context_ids(context))

    def __repr__(self) -> str:
        count = sum(getattr(self, name).size for name in PARAMETER_NAMES)
        return (
            f"TinyLanguageModel(vocab_size={self.vocab_size}, context_length="
            f"{self.context_length}, hidden_size={self.hidden_weights.shape[1]}, "
            f"parameters={count})"
        )


@functools.lru_cache(maxsize=4)
def _load_cached(path: str) -> TinyLanguageModel:
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(
            f"no weights file at {file}; the course ships one at {WEIGHTS_PATH}. "
            "Recreate it with `python -m utils.lm train`."
        )
    with np.load(file, allow_pickle=False) as archive:
        parameters = {name: archive[name] for name in PARAMETER_NAMES}
        vocab = [str(word) for word in archive["vocab"]]
        metadata = json.loads(str(archive["metadata"]))
    if tuple(vocab) != corpus.VOCAB:
        raise ValueError(
            f"{file} was trained on another vocabulary than utils.lm.corpus defines; "
            "retrain with `python -m utils.lm train`."
        )
    if metadata.get("parameters_sha256") != parameters_sha256(parameters):
        raise ValueError(
            f"{file} is damaged: its weights do not match the checksum stored with them; "
            "restore it from the repository or retrain with `python -m utils.lm train`."
        )
    return TinyLanguageModel(parameters, vocab=vocab, metadata=metadata)


def load(path=None) -> TinyLanguageModel:
    """The trained tiny model, from the weights shipped with the course (offline).

    `path`: another weights file written by `python -m utils.lm train --out PATH`.
    The model is immutable, so repeated calls return the same object.
    """
    return _load_cached(str(Path(path) if path is not None else WEIGHTS_PATH))
