"""Exact next-*token* probabilities of the long-tail grammar, for a given tokenizer.

The grammar (`utils.lm.grammar`) emits units (``"The"``, ``" cat"``,
``","``, ``"."``, ``<|endoftext|>``), and the tokenizer turns each unit into
a fixed token sequence, tok(unit): a text's tokens are its units' token
sequences one after the other. So for a token prefix t_1 .. t_n:

1. Cut the prefix into segments where a unit must start: at the beginning,
   after ``<|endoftext|>``, and at every token that begins with a space
   ('Ġ'), is ``,`` or ``.``, or is ``<|endoftext|>``. (No other token can
   start a unit, and none of these can continue one.) Every segment but the
   last is a whole unit; walking them through the machine gives its state q
   (or shows that the prefix is impossible, probability 0).
2. The last segment s is the start of the current unit. Every unit u that
   state q can emit and whose tokens begin with s (found in a trie of the
   units' token sequences) is consistent with the prefix, with weight
   P(u | q). If tok(u) is longer than s, its next token is tok(u)[len(s)];
   if tok(u) == s, the unit is complete and the next token is the first token
   of the next unit, distributed as FIRST[q'] (q' the state after u, and
   FIRST the first-token distribution of each state, one matrix product).
3. P(next token | prefix) is the weighted sum, divided by the total weight
   of the consistent units.

A prefix that no text of the grammar tokenizes to (a word cut into other
tokens than the tokenizer's, as ``" c" "at"`` for ``" cat"``) has
probability 0 and raises a `ValueError` saying why.

`TokenTruth.along(ids)` gives the truth at every position of a token stream
in one left-to-right pass (for the training report's KL divergence).
"""

from __future__ import annotations

import numpy as np

from utils.lm import grammar

__all__ = ["TokenTruth"]


class TokenTruth:
    """The grammar's exact token-level distributions for one tokenizer (`utils.tokenizer`)."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.vocab_size = tokenizer.vocab_size
        self.eos_id = tokenizer.eos_token_id
        self.unit_tokens = []
        for unit in grammar.UNITS:
            ids = tokenizer.encode(unit)
            if not ids:  # pragma: no cover - no unit is empty
                raise AssertionError(f"unit {unit!r} has no tokens")
            self.unit_tokens.append(tuple(ids))
        if len(set(self.unit_tokens)) != len(self.unit_tokens):  # pragma: no cover
            raise AssertionError("two units have the same tokens")
        tokens = tokenizer.convert_ids_to_tokens(list(range(self.vocab_size)))
        self.starts_unit = np.array(
            [t.startswith("Ġ") or t in (",", ".") for t in tokens], dtype=bool
        )
        self.starts_unit[self.eos_id] = True
        # The trie, flattened: token prefix -> units whose tokens begin with it.
        trie: dict[tuple, list[int]] = {}
        for unit, ids in enumerate(self.unit_tokens):
            for length in range(1, len(ids) + 1):
                trie.setdefault(ids[:length], []).append(unit)
        self._nodes = {}
        for prefix, units in trie.items():
            units_array = np.array(units, dtype=np.int64)
            longer = np.array([len(self.unit_tokens[u]) > len(prefix) for u in units], dtype=bool)
            next_tokens = np.array(
                [self.unit_tokens[u][len(prefix)] for u in units_array[longer]], dtype=np.int64
            )
            complete = units_array[~longer]
            self._nodes[prefix] = (units_array, units_array[longer], next_tokens, complete)
        self._unit_of = {ids: unit for unit, ids in enumerate(self.unit_tokens)}
        first = np.zeros((len(grammar.UNITS), self.vocab_size))
        first[np.arange(len(grammar.UNITS)), [ids[0] for ids in self.unit_tokens]] = 1.0
        self.first_token_probs = grammar.EMISSION @ first  # (states, vocab)

    # --- walking a token sequence ---------------------------------------------------------------
    def _impossible(self, ids, position: int, reason: str) -> ValueError:
        text = self.tokenizer.decode(ids[: position + 1])
        return ValueError(
            f"the token prefix {text!r} has probability 0 under the grammar: {reason}. "
            "Token prefixes are read from the start of a text; encode text with the "
            "course's tokenizer (tokenizer.encode), as the corpus is."
        )

    def _distribution(self, state: int, segment: tuple) -> tuple[np.ndarray, float]:
        """(unnormalized next-token weights, total weight) after `segment` in `state`."""
        if not segment:
            return self.first_token_probs[state].copy(), 1.0
        node = self._nodes.get(segment)
        weights = np.zeros(self.vocab_size)
        if node is None:
            return weights, 0.0
        units, longer, next_tokens, complete = node
        emission = grammar.EMISSION[state]
        np.add.at(weights, next_tokens, emission[longer])
        for unit in complete.tolist():
            if emission[unit] > 0:
                weights += emission[unit] * self.first_token_probs[grammar.TRANSITION[state, unit]]
        return weights, float(emission[units].sum())

    def along(self, token_ids) -> np.ndarray:
        """The truth after every prefix of a 1-D token sequence: shape (length, vocab).

        Row i is P(next token | token_ids[: i + 1]).
        """
        ids = self._check(token_ids)
        if ids.ndim != 1:
            raise ValueError(f"token_ids must be 1-D here, got shape {ids.shape}.")
        result = np.zeros((len(ids), self.vocab_size))
        state, segment = grammar.START_STATE, ()
        for position, token in enumerate(ids.tolist()):
            state, segment = self._step(ids, position, state, segment, token)
            weights, total = self._distribution(state, segment)
            if total <= 0:
                raise self._impossible(ids, position, "no unit of the grammar begins this way")
            result[position] = weights / total
        return result

    def _step(self, ids, position, state, segment, token):
        """Read one token: first close the current unit if this token starts a new one."""
        if token == self.eos_id and state == grammar.START_STATE and not segment:
            return state, segment  # <|endoftext|> before a text's first sentence: no change
        if segment and (self.starts_unit[token] or segment == (self.eos_id,)):
            unit = self._unit_of.get(segment)
            if unit is None or grammar.TRANSITION[state, unit] < 0:
                raise self._impossible(
                    ids, position - 1, "its last word is not one the grammar has there"
                )
            state, segment = int(grammar.TRANSITION[state, unit]), ()
        return state, (*segment, token)

    def _check(self, token_ids) -> np.ndarray:
        ids = np.asarray(token_ids)
        if ids.ndim and ids.shape[-1] == 0:
            ids = ids.astype(np.int64)  # [] is an empty context, explained below
        if ids.dtype.kind not in "iu":
            if ids.dtype.kind == "f" and ids.size and np.array_equal(ids, np.round(ids)):
                ids = ids.astype(np.int64)
            else:
                raise TypeError(
                    f"token ids must be integers, got dtype {ids.dtype}; turn text into ids "
                    "with tokenizer.encode(text)."
                )
        if ids.ndim == 0:
            raise ValueError("token ids must be a sequence (..., length), not a single number.")
        if ids.shape[-1] == 0:
            raise ValueError(
                f"the token prefix is empty; for the first token of a text pass "
                f"[{self.eos_id}] (<|endoftext|>, which starts texts as in GPT-2)."
            )
        bad = (ids < 0) | (ids >= self.vocab_size)
        if bad.any():
            raise ValueError(
                f"token id {int(ids[bad][0])} is out of range: ids run from 0 to "
                f"{self.vocab_size - 1}."
            )
        return ids.astype(np.int64, copy=False)

    def next_token_probs(self, token_ids) -> np.ndarray:
        """P(next token | prefix) for prefixes of shape (..., length): (..., vocab) float64."""
        ids = self._check(token_ids)
        flat = ids.reshape(-1, ids.shape[-1])
        rows = [self._last(row) for row in flat]
        return np.array(rows).reshape(*ids.shape[:-1], self.vocab_size)

    def _last(self, row: np.ndarray) -> np.ndarray:
        state, segment = grammar.START_STATE, ()
        for position, token in enumerate(row.tolist()):
            state, segment = self._step(row, position, state, segment, token)
        weights, total = self._distribution(state, segment)
        if total <= 0:
            raise self._impossible(row, len(row) - 1, "no unit of the grammar begins this way")
        return weights / total

    def sequence_log_prob(self, token_ids) -> float:
        """log P(the text has these tokens), from the start of a text, by the chain rule.

        Leading ``<|endoftext|>`` tokens are the start of the text, not scored;
        a sequence the grammar's tokenized texts never begin with gets -inf.
        """
        ids = self._check(token_ids)
        if ids.ndim != 1:
            raise ValueError(f"token_ids must be 1-D, got shape {ids.shape}.")
        real = np.flatnonzero(ids != self.eos_id)
        if not real.size:
            raise ValueError("token_ids holds only <|endoftext|>: there is no text to score.")
        ids = ids[real[0] :]  # leading <|endoftext|> tokens start the text; they are not scored
        first = self.first_token_probs[grammar.START_STATE][ids[0]]
        picked = np.zeros(0)
        if len(ids) > 1:
            try:
                picked = self.along(ids[:-1])[np.arange(len(ids) - 1), ids[1:]]
            except ValueError:  # a prefix the grammar cannot produce
                return -np.inf
        probs = np.concatenate([[first], picked])
        if (probs == 0).any():
            return -np.inf
        return float(np.log(probs).sum())
