"""Byte-pair encoding (BPE) trained by the course: GPT-2's algorithm and conventions.

`load()` returns the tokenizer the course ships (`utils/data/tokenizer.json`,
trained on the long-tail corpus of `utils.lm.grammar` by `python -m utils.lm
train-tokens`). It has the names you will meet in Hugging Face:

>>> tokenizer = load()
>>> tokenizer.tokenize("The cat sat.")
['The', 'Ġcat', 'Ġsat', '.']
>>> ids = tokenizer.encode("The cat sat.")
>>> tokenizer.decode(ids)
'The cat sat.'
>>> tokenizer.convert_ids_to_tokens(tokenizer.encode(" cat"))   # 'Ġ' is the space
['Ġcat']
>>> tokenizer.encode("cat") == tokenizer.encode(" cat")
False
>>> tokenizer.eos_token, tokenizer.eos_token_id == tokenizer.vocab_size - 1
('<|endoftext|>', True)

How text becomes tokens, exactly as GPT-2 (and Hugging Face's ``ByteLevel``
pre-tokenizer with its ``BPE`` model) does it:

1. special tokens (only ``<|endoftext|>``) are cut out of the text first;
2. the rest is split into *pre-tokens* by GPT-2's pattern: a run of letters,
   of digits or of other symbols, each with at most one leading space (so
   ``" cat"`` is one pre-token, and different from ``"cat"``), contractions
   such as ``'s``, and runs of whitespace;
3. each pre-token's UTF-8 bytes are written as printable characters (GPT-2's
   byte-to-unicode table: a space is ``Ġ``, a newline ``Ċ``), so every string
   can be encoded: there is no unknown token;
4. the learned merges are applied inside each pre-token, the merge learned
   first (lowest rank) first, until no learned pair is left.

Training (`train_bpe`) counts the pre-tokens of a corpus and repeatedly
merges the most frequent adjacent pair of symbols. Ties are broken by a fixed
rule so that training is deterministic on every machine: among pairs of equal
count the one whose (left, right) strings come first in Python's string order
wins. The vocabulary is the 256 byte symbols (in GPT-2's order), then one
token per merge (in merge order), then ``<|endoftext|>`` (last, as in GPT-2).

`BPETokenizer.save(path)` writes Hugging Face's ``tokenizers`` JSON format,
so ``tokenizers.Tokenizer.from_file(path)`` loads the same tokenizer (the
tests check that both give the same ids). Where the course differs from
Hugging Face: `encode` returns a plain list of ints (as
``transformers``' ``tokenizer.encode``), and a batch is encoded by a loop.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "EOS_TOKEN",
    "TOKENIZER_PATH",
    "BPETokenizer",
    "bytes_to_unicode",
    "load",
    "pre_tokenize",
    "train_bpe",
]

EOS_TOKEN = "<|endoftext|>"
TOKENIZER_PATH = Path(__file__).resolve().parent / "data" / "tokenizer.json"


@functools.cache
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table from the 256 byte values to printable characters.

    Printable Latin-1 bytes stand for themselves; the others (control bytes,
    space, ...) are moved to characters from U+0100 on, in byte order, so a
    space (32) becomes 'Ġ' (U+0120) and a newline (10) 'Ċ' (U+010A).

    >>> bytes_to_unicode()[ord(" ")], bytes_to_unicode()[ord("a")]
    ('Ġ', 'a')
    """
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    table, shifted = {}, 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + shifted)
            shifted += 1
    return table


@functools.cache
def _unicode_to_bytes() -> dict[str, int]:
    return {character: byte for byte, character in bytes_to_unicode().items()}


# --- pre-tokenization: GPT-2's pattern -----------------------------------------------------------
# GPT-2's pattern is  's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
# Python's `re` has no \p{L} / \p{N}; for ASCII text this is the same pattern.
# (Its \s is spelled out: Python's also matches the ASCII separators \x1c-\x1f.)
_ASCII_PATTERN = re.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\t\n\x0b\x0c\r A-Za-z0-9]+"""
    r"""|[\t\n\x0b\x0c\r ]+(?![^\t\n\x0b\x0c\r ])|[\t\n\x0b\x0c\r ]+"""
)
_CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")
# Unicode's White_Space property (what \s means in Hugging Face's regex engine).
_WHITESPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _kind(character: str) -> str:
    """'s' whitespace, 'L' letter, 'N' number, 'o' anything else."""
    if character in _WHITESPACE:
        return "s"
    category = unicodedata.category(character)[0]
    return category if category in "LN" else "o"


def _scan(text: str) -> list[str]:
    """GPT-2's pattern, matched by hand character class by character class (any Unicode)."""
    kinds = [_kind(c) for c in text]
    pieces, start, length = [], 0, len(text)
    while start < length:
        contraction = next((c for c in _CONTRACTIONS if text.startswith(c, start)), None)
        if contraction:
            pieces.append(contraction)
            start += len(contraction)
            continue
        first = start + 1 if text[start] == " " and start + 1 < length else start
        kind = kinds[first]
        if kind in "LNo" and (first == start or kinds[first] != "s"):
            end = first + 1
            while end < length and kinds[end] == kind:
                end += 1
            pieces.append(text[start:end])
            start = end
            continue
        end = start
        while end < length and kinds[end] == "s":
            end += 1
        # \s+(?!\S): leave the last whitespace to the next piece if a non-space follows.
        if end < length and end - start > 1:
            end -= 1
        pieces.append(text[start:end])
        start = end
    return pieces


def pre_tokenize(text: str) -> list[str]:
    """Split text into GPT-2's pre-tokens (before bytes and merges).

    >>> pre_tokenize("The cat's 3 toys,  finally!")
    ['The', 'Ġcat', "'s", 'Ġ3', 'Ġtoys', ',', 'Ġ', 'Ġfinally', '!']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}.")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValueError(
                f"text holds {text[error.start]!r} at index {error.start}, a lone surrogate "
                "that is not a character: it has no UTF-8 bytes to tokenize."
            ) from None
    pieces = _ASCII_PATTERN.findall(text) if text.isascii() else _scan(text)
    table = bytes_to_unicode()
    return ["".join(table[b] for b in piece.encode("utf-8")) for piece in pieces]


# --- the tokenizer -------------------------------------------------------------------------------
class BPETokenizer:
    """A byte-level BPE tokenizer: the 256 byte symbols, the merges, and ``<|endoftext|>``.

    `merges` is the list of learned pairs in the order they were learned
    (a pair's position is its rank). Build one with `train_bpe`, load the
    shipped one with `load()`, or read a saved file with `BPETokenizer.from_file`.
    """

    def __init__(self, merges: Iterable[tuple[str, str]], *, eos_token: str = EOS_TOKEN):
        self.merges = [(str(left), str(right)) for left, right in merges]
        symbols = list(bytes_to_unicode().values())
        tokens = symbols + [left + right for left, right in self.merges]
        known = set(symbols)
        for rank, (left, right) in enumerate(self.merges):
            if left not in known or right not in known:
                raise ValueError(
                    f"merge {rank} ({left!r}, {right!r}) uses a symbol that no earlier merge "
                    "made; merges must be listed in the order they were learned."
                )
            known.add(left + right)
        if len(set(tokens)) != len(tokens):
            raise ValueError("two merges make the same token; the merges are not a BPE's.")
        self.eos_token = eos_token
        self._tokens = [*tokens, eos_token]
        self._ids = {token: index for index, token in enumerate(self._tokens)}
        self._ranks = {pair: rank for rank, pair in enumerate(self.merges)}
        self._piece_ids = functools.lru_cache(maxsize=1 << 16)(self._encode_piece)

    # --- Hugging Face's names -------------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        """Number of tokens, ``<|endoftext|>`` included."""
        return len(self._tokens)

    def __len__(self) -> int:
        return self.vocab_size

    @property
    def eos_token_id(self) -> int:
        return self._ids[self.eos_token]

    @property
    def bos_token(self) -> str:
        """GPT-2 starts texts with the same token that ends them."""
        return self.eos_token

    @property
    def bos_token_id(self) -> int:
        return self.eos_token_id

    def get_vocab(self) -> dict[str, int]:
        """token -> id (a copy), as Hugging Face's ``get_vocab``."""
        return dict(self._ids)

    def _encode_piece(self, piece: str) -> tuple[int, ...]:
        """Token ids of one pre-token: merges applied lowest rank first."""
        symbols = list(piece)
        while len(symbols) > 1:
            ranked = [
                (self._ranks.get(pair, len(self._ranks)), index)
                for index, pair in enumerate(itertools.pairwise(symbols))
            ]
            rank, _ = min(ranked)
            if rank == len(self._ranks):
                break
            symbols = _merge_pair(symbols, *self.merges[rank])
        return tuple(self._ids[symbol] for symbol in symbols)

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` (no token is added at either end, as GPT-2).

        ``<|endoftext|>`` written in the text becomes its special token.

        >>> tokenizer = load()
        >>> tokenizer.decode(tokenizer.encode("The dog ran.<|endoftext|>"))
        'The dog ran.<|endoftext|>'
        """
        if not isinstance(text, str):
            raise TypeError(
                f"text must be a str, got {type(text).__name__}; to encode several texts, "
                "call encode on each."
            )
        ids: list[int] = []
        for index, part in enumerate(text.split(self.eos_token)):
            if index:
                ids.append(self.eos_token_id)
            for piece in pre_tokenize(part):
                ids.extend(self._piece_ids(piece))
        return ids

    def tokenize(self, text: str) -> list[str]:
        """The tokens of `text` as strings (GPT-2's byte characters: a space is 'Ġ')."""
        return self.convert_ids_to_tokens(self.encode(text))

    def _check_id(self, token_id) -> int:
        # As the models accept them: a float that is a whole number is its integer.
        if isinstance(token_id, float) and token_id.is_integer():
            token_id = int(token_id)
        if isinstance(token_id, bool) or not hasattr(token_id, "__index__"):
            raise TypeError(f"token ids must be integers, got {token_id!r}.")
        token_id = int(token_id.__index__())
        if not 0 <= token_id < self.vocab_size:
            raise ValueError(
                f"token id {token_id} is out of range: ids run from 0 to {self.vocab_size - 1}."
            )
        return token_id

    def _id_list(self, token_ids) -> list[int]:
        if hasattr(token_ids, "tolist"):
            token_ids = token_ids.tolist()
        if isinstance(token_ids, int) and not isinstance(token_ids, bool):
            token_ids = [token_ids]
        if not isinstance(token_ids, (list, tuple)):
            raise TypeError(
                f"token_ids must be a sequence of ints, got {type(token_ids).__name__}."
            )
        if any(isinstance(item, (list, tuple)) for item in token_ids):
            raise ValueError("token_ids must be one sequence (1-D); decode a batch row by row.")
        return [self._check_id(token_id) for token_id in token_ids]

    def decode(self, token_ids, *, skip_special_tokens: bool = False) -> str:
        """The text of a sequence of token ids (bytes that are not valid UTF-8 become '�').

        >>> load().decode(load().encode(" a cat"))
        ' a cat'
        """
        table = _unicode_to_bytes()
        data = bytearray()
        for token_id in self._id_list(token_ids):
            if token_id == self.eos_token_id:
                if not skip_special_tokens:
                    data.extend(self.eos_token.encode("utf-8"))
                continue
            data.extend(table[character] for character in self._tokens[token_id])
        return data.decode("utf-8", errors="replace")

    def convert_ids_to_tokens(self, ids):
        """Token string(s) of an id or a sequence of ids."""
        if getattr(ids, "ndim", None) == 0:
            ids = ids.item()  # a 0-d array is its scalar
        if isinstance(ids, int) or (hasattr(ids, "__index__") and not hasattr(ids, "__len__")):
            return self._tokens[self._check_id(ids)]
        return [self._tokens[token_id] for token_id in self._id_list(ids)]

    def convert_tokens_to_ids(self, tokens):
        """Id(s) of a token string or a sequence of them (an unknown token is an error)."""
        if isinstance(tokens, str):
            if tokens not in self._ids:
                raise ValueError(
                    f"{tokens!r} is not a token of this vocabulary; tokens are written with "
                    "GPT-2's byte characters (a leading space is 'Ġ'): see tokenize(text)."
                )
            return self._ids[tokens]
        if not isinstance(tokens, (list, tuple)):
            raise TypeError(
                f"tokens must be a token string or a list of them, got {type(tokens).__name__}."
            )
        return [self.convert_tokens_to_ids(token) for token in tokens]

    def token_text(self, token_id) -> str:
        """What one token stands for, as text (' cat' for 'Ġcat'; '�' for a partial character)."""
        return self.decode([token_id])

    # --- Hugging Face's JSON format -------------------------------------------------------------
    def to_json(self) -> dict:
        """The tokenizer in Hugging Face ``tokenizers``' JSON format (as a dict)."""
        byte_level = {"add_prefix_space": False, "trim_offsets": True, "use_regex": True}
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [
                {
                    "id": self.eos_token_id,
                    "content": self.eos_token,
                    "single_word": False,
                    "lstrip": False,
                    "rstrip": False,
                    "normalized": False,
                    "special": True,
                }
            ],
            "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", **byte_level},
            "post_processor": {"type": "ByteLevel", **byte_level, "trim_offsets": False},
            "decoder": {"type": "ByteLevel", **byte_level},
            "model": {
                "type": "BPE",
                "dropout": None,
                "unk_token": None,
                "continuing_subword_prefix": None,
                "end_of_word_suffix": None,
                "fuse_unk": False,
                "byte_fallback": False,
                "ignore_merges": False,
                "vocab": {token: index for index, token in enumerate(self._tokens[:-1])},
                "merges": [f"{left} {right}" for left, right in self.merges],
            },
        }

    def to_json_string(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, indent=1) + "\n"

    def save(self, path) -> None:
        """Write the tokenizer to `path` in Hugging Face's JSON format (atomically)."""
        path = Path(path)
        temporary = path.with_suffix(path.suffix + ".tmp")
        temporary.write_text(self.to_json_string(), encoding="utf-8")
        temporary.replace(path)

    @classmethod
    def from_json(cls, data: dict) -> BPETokenizer:
        """Read the format `to_json` writes (a byte-level BPE with one special token)."""
        try:
            model = data["model"]
            merges = [
                tuple(pair.split(" ")) if isinstance(pair, str) else tuple(pair)
                for pair in model["merges"]
            ]
            special = [token["content"] for token in data["added_tokens"] if token["special"]]
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"not a byte-level BPE tokenizer file ({error!r} missing).") from None
        if model.get("type") != "BPE" or len(special) != 1:
            raise ValueError("expected a BPE model with exactly one special token.")
        bad = [
            pair
            for pair in merges
            if len(pair) != 2 or not all(isinstance(part, str) and part for part in pair)
        ]
        if bad:
            raise ValueError(f"merge {bad[0]!r} is not a pair of two tokens.")
        tokenizer = cls(merges, eos_token=special[0])
        expected = {token: index for index, token in enumerate(tokenizer._tokens[:-1])}
        if model["vocab"] != expected:
            raise ValueError(
                "the file's vocabulary is not the byte symbols followed by its merges "
                "(in order): it was not written by this course's BPE."
            )
        return tokenizer

    @classmethod
    def from_file(cls, path) -> BPETokenizer:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"no tokenizer file at {path}; the course ships one at {TOKENIZER_PATH} "
                "(recreate it with `python -m utils.lm train-tokens`)."
            )
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path} is not a tokenizer JSON file ({error}).") from None
        return cls.from_json(data)

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)})"


def train_bpe(texts: Iterable[str] | Counter, vocab_size: int) -> BPETokenizer:
    """Learn byte-level BPE merges from `texts` until the vocabulary has `vocab_size` tokens.

    `texts`: an iterable of str, or a `Counter` mapping text -> how often it
    occurs (faster for a corpus with repeats). Training stops early when no
    pair occurs twice. Ties: the pair whose (left, right) comes first in
    Python's string order.

    >>> train_bpe(["low lower lowest"] * 3, 256 + 3 + 1).merges
    [('l', 'o'), ('lo', 'w'), ('low', 'e')]
    """
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 257:
        raise ValueError(
            f"vocab_size must be an int >= 257 (256 byte symbols and <|endoftext|>), got "
            f"{vocab_size!r}."
        )
    if isinstance(texts, str):
        raise TypeError("texts must be a list (or other iterable) of str, not one str.")
    counts = texts if isinstance(texts, Counter) else Counter(texts)
    if not all(isinstance(text, str) for text in counts):
        raise TypeError("texts must hold only str.")
    pieces: Counter = Counter()
    for text, count in counts.items():
        for part in text.split(EOS_TOKEN):
            for piece in pre_tokenize(part):
                pieces[piece] += count
    words = [list(piece) for piece in sorted(pieces)]
    frequencies = [pieces[piece] for piece in sorted(pieces)]
    merges: list[tuple[str, str]] = []
    while 256 + len(merges) + 1 < vocab_size:
        pair_counts: Counter = Counter()
        for symbols, frequency in zip(words, frequencies, strict=True):
            for pair in itertools.pairwise(symbols):
                pair_counts[pair] += frequency
        if not pair_counts:
            break
        best_count = max(pair_counts.values())
        if best_count < 2:
            break
        best = min(pair for pair, count in pair_counts.items() if count == best_count)
        merges.append(best)
        left, right = best
        for index, symbols in enumerate(words):
            if len(symbols) >= 2:
                words[index] = _merge_pair(symbols, left, right)
    return BPETokenizer(merges)


def _merge_pair(symbols: list[str], left: str, right: str) -> list[str]:
    """`symbols` with every occurrence of the pair (left, right) merged, left to right."""
    merged, position = [], 0
    while position < len(symbols):
        if (
            position + 1 < len(symbols)
            and symbols[position] == left
            and symbols[position + 1] == right
        ):
            merged.append(left + right)
            position += 2
        else:
            merged.append(symbols[position])
            position += 1
    return merged


@functools.lru_cache(maxsize=4)
def _load_cached(path: str) -> BPETokenizer:
    return BPETokenizer.from_file(path)


def load(path=None) -> BPETokenizer:
    """The course's tokenizer, from `utils/data/tokenizer.json` (offline; the same object
    on every call). `path`: another file written by `BPETokenizer.save`."""
    return _load_cached(str(Path(path) if path is not None else TOKENIZER_PATH))
