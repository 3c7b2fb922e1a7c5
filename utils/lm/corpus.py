"""The stochastic process that writes the tiny model's corpus, with its exact probabilities.

Sentences come from a small probabilistic grammar, written as a deterministic
finite-state machine: every state has a fixed distribution over the next word,
and the word chosen decides the next state. A sentence starts in the state
after ``<s>`` and stops when ``</s>`` is drawn::

    <s> the cat sat on the mat </s>
    <s> a small dog chased the ball and the girl sang loudly </s>
    <s> the bird was hungry </s>

The grammar (probabilities in the tables below):

* start -> ``the`` | ``a``, then an optional adjective, then a subject noun;
* the subject noun picks a verb (cats and dogs sit and sleep, birds sing and
  fly, people see and like things): an intransitive verb takes an optional
  adverb (``slept soundly``), a transitive verb an object (``chased the
  mouse``), a verb of place a preposition and a place (``sat on the mat``),
  ``was`` a predicate adjective (``was hungry``);
* a clause ends with ``</s>`` or continues with ``and`` and a new clause.

Because the machine is deterministic, reading a context from the start of a
sentence gives its state exactly, and the **true** next-token distribution is
that state's row of the table: `true_next_token_probs`. The grammar is built
so that the last three tokens (left-padded with ``<s>``) always decide the
state, so a model that sees three tokens of context can, in principle, learn
the truth exactly.

A case built in for the lessons (greedy decoding versus the best sequence):
after ``the cat`` the most likely next word is ``sat`` (0.34, then ``on``
with 0.35: 0.119 for the two words), but ``slept`` (0.26) is followed by
``soundly`` with 0.8: 0.208. Greedy decoding takes ``sat``; the best
two-word continuation starts with the less likely ``slept``.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "BOS",
    "EOS",
    "VOCAB",
    "sample_sentences",
    "sentence_log_prob",
    "states_after",
    "true_next_token_probs",
]

BOS = "<s>"
EOS = "</s>"

# --- the grammar ---------------------------------------------------------------------------------
# Each table maps a word to its probability in that state; every table sums to 1.

DETERMINERS = {"the": 0.65, "a": 0.35}
PLACE_DETERMINERS = {"the": 0.8, "a": 0.2}
OBJECT_DETERMINERS = {"the": 0.6, "a": 0.4}

SUBJECT_ADJECTIVE_PROBABILITY = 0.25
SUBJECT_ADJECTIVES = {
    "big": 0.20, "small": 0.15, "little": 0.12, "black": 0.12, "white": 0.10,
    "brown": 0.10, "lazy": 0.08, "happy": 0.08, "sleepy": 0.05,
}  # fmt: skip

SUBJECTS = {
    "cat": 0.16, "dog": 0.14, "bird": 0.09, "mouse": 0.07, "rabbit": 0.06, "fox": 0.05,
    "duck": 0.05, "hen": 0.03, "girl": 0.08, "boy": 0.08, "man": 0.06, "woman": 0.06,
    "farmer": 0.04, "teacher": 0.03,
}  # fmt: skip
SUBJECT_CLASS = {
    **dict.fromkeys(["cat"], "cat"),
    **dict.fromkeys(["dog", "mouse", "rabbit", "fox"], "pet"),
    **dict.fromkeys(["bird", "duck", "hen"], "bird"),
    **dict.fromkeys(["girl", "boy", "man", "woman", "farmer", "teacher"], "person"),
}

VERBS_BY_CLASS = {
    # The cat is the lessons' example: "sat" is the likelier verb, "slept soundly"
    # the likelier pair of words.
    "cat": {"sat": 0.34, "slept": 0.26, "chased": 0.12, "hid": 0.08, "ate": 0.08, "was": 0.12},
    "pet": {
        "sat": 0.28, "slept": 0.22, "ran": 0.14, "chased": 0.14, "hid": 0.08, "ate": 0.06,
        "was": 0.08,
    },
    "bird": {"sang": 0.30, "flew": 0.25, "sat": 0.15, "ate": 0.10, "was": 0.10, "slept": 0.10},
    "person": {
        "saw": 0.18, "liked": 0.12, "found": 0.12, "sat": 0.12, "ran": 0.10, "sang": 0.08,
        "stood": 0.10, "ate": 0.06, "was": 0.12,
    },
}  # fmt: skip

# Intransitive verbs: an adverb, or the clause ends at once ("</s>" or "and").
INTRANSITIVE = {
    "slept": {"soundly": 0.80, EOS: 0.15, "and": 0.05},
    "ran": {"away": 0.35, "home": 0.30, "quickly": 0.20, EOS: 0.10, "and": 0.05},
    "sang": {"loudly": 0.40, "sweetly": 0.30, "happily": 0.15, EOS: 0.10, "and": 0.05},
    "flew": {"away": 0.50, "home": 0.30, EOS: 0.15, "and": 0.05},
}
# Transitive verbs: a determiner, then one of these objects.
TRANSITIVE = {
    "chased": {"mouse": 0.25, "cat": 0.20, "bird": 0.15, "rabbit": 0.15, "dog": 0.10, "ball": 0.15},
    "saw": {
        "cat": 0.15, "dog": 0.15, "bird": 0.15, "fox": 0.10, "girl": 0.10, "boy": 0.10,
        "man": 0.05, "woman": 0.05, "teacher": 0.05, "farmer": 0.05, "duck": 0.05,
    },
    "liked": {"cookie": 0.25, "fish": 0.20, "ball": 0.20, "book": 0.15, "cake": 0.20},
    "found": {"ball": 0.30, "bone": 0.25, "book": 0.20, "cookie": 0.15, "fish": 0.10},
    "ate": {"cookie": 0.30, "fish": 0.30, "cake": 0.25, "bone": 0.15},
}  # fmt: skip
# Verbs of place: a preposition, a determiner, an optional adjective, a place.
LOCATIVE = {
    "sat": {"on": 0.35, "under": 0.20, "near": 0.15, "by": 0.15, "behind": 0.15},
    "stood": {"near": 0.30, "by": 0.30, "behind": 0.20, "on": 0.20},
    "hid": {"under": 0.40, "behind": 0.40, "in": 0.20},
}
PLACES = {
    "on": {"mat": 0.30, "sofa": 0.15, "bed": 0.15, "rug": 0.15, "table": 0.10, "chair": 0.10,
           "wall": 0.05},
    "under": {"table": 0.30, "bed": 0.25, "tree": 0.20, "car": 0.15, "chair": 0.10},
    "near": {"tree": 0.30, "door": 0.20, "house": 0.20, "fence": 0.15, "car": 0.15},
    "by": {"door": 0.30, "fence": 0.25, "window": 0.20, "tree": 0.15, "house": 0.10},
    "behind": {"door": 0.30, "tree": 0.25, "house": 0.20, "sofa": 0.15, "fence": 0.10},
    "in": {"box": 0.35, "garden": 0.30, "house": 0.20, "car": 0.15},
}  # fmt: skip
PLACE_ADJECTIVE_PROBABILITY = 0.2
PLACE_ADJECTIVES = {"big": 0.3, "small": 0.3, "little": 0.2, "white": 0.2}
PREDICATES = {"happy": 0.20, "sleepy": 0.20, "hungry": 0.20, "tired": 0.15, "angry": 0.10,
              "lazy": 0.15}  # fmt: skip
CLAUSE_END = {EOS: 0.85, "and": 0.15}

# The vocabulary in a fixed, readable order (token ids are positions here).
VOCAB: tuple[str, ...] = (
    BOS, EOS, "the", "a",
    "big", "small", "little", "black", "white", "brown", "lazy", "happy", "sleepy",
    "hungry", "tired", "angry",
    "cat", "dog", "mouse", "rabbit", "fox", "bird", "duck", "hen",
    "girl", "boy", "man", "woman", "farmer", "teacher",
    "ball", "bone", "book", "cake", "cookie", "fish",
    "sat", "stood", "hid", "slept", "ran", "sang", "flew",
    "chased", "saw", "liked", "found", "ate", "was",
    "on", "under", "near", "by", "behind", "in",
    "mat", "sofa", "bed", "rug", "table", "chair", "wall", "tree", "car", "door", "house",
    "fence", "window", "box", "garden",
    "soundly", "away", "home", "quickly", "loudly", "sweetly", "happily",
    "and",
)  # fmt: skip
_ID = {word: index for index, word in enumerate(VOCAB)}

START, END = "start", "end"


def _rules() -> dict[str, dict[str, tuple[float, str]]]:
    """state -> {word: (probability, next state)}: the machine, from the tables above."""
    rules: dict[str, dict[str, tuple[float, str]]] = {}

    def add(state: str, table: dict[str, float], next_state, scale: float = 1.0) -> None:
        row = rules.setdefault(state, {})
        for word, probability in table.items():
            target = next_state(word) if callable(next_state) else next_state
            if word == EOS:
                target = END
            elif word == "and":
                target = START
            row[word] = (row.get(word, (0.0, target))[0] + scale * probability, target)

    add(START, DETERMINERS, "subject_det")
    add("subject_det", SUBJECT_ADJECTIVES, "subject_adj", SUBJECT_ADJECTIVE_PROBABILITY)
    add("subject_det", SUBJECTS, lambda noun: f"subject:{noun}", 1 - SUBJECT_ADJECTIVE_PROBABILITY)
    add("subject_adj", SUBJECTS, lambda noun: f"subject:{noun}")
    for noun, noun_class in SUBJECT_CLASS.items():
        add(f"subject:{noun}", VERBS_BY_CLASS[noun_class], lambda verb: f"verb:{verb}")
    for verb, table in INTRANSITIVE.items():
        add(f"verb:{verb}", table, "clause_end")
    for verb, objects in TRANSITIVE.items():
        add(f"verb:{verb}", OBJECT_DETERMINERS, f"object_det:{verb}")
        add(f"object_det:{verb}", objects, "clause_end")
    for verb, prepositions in LOCATIVE.items():
        add(f"verb:{verb}", prepositions, lambda preposition: f"prep:{preposition}")
    for preposition, places in PLACES.items():
        add(f"prep:{preposition}", PLACE_DETERMINERS, f"place_det:{preposition}")
        add(f"place_det:{preposition}", PLACE_ADJECTIVES, f"place_adj:{preposition}",
            PLACE_ADJECTIVE_PROBABILITY)  # fmt: skip
        add(f"place_det:{preposition}", places, "clause_end", 1 - PLACE_ADJECTIVE_PROBABILITY)
        add(f"place_adj:{preposition}", places, "clause_end")
    add("verb:was", PREDICATES, "clause_end")
    add("clause_end", CLAUSE_END, "clause_end")
    return rules


def _compile():
    rules = _rules()
    names = [START, *sorted(set(rules) - {START}), END]
    index = {name: i for i, name in enumerate(names)}
    emission = np.zeros((len(names), len(VOCAB)))
    transition = np.full((len(names), len(VOCAB)), -1, dtype=np.int64)
    for state, row in rules.items():
        for word, (probability, target) in row.items():
            emission[index[state], _ID[word]] = probability
            transition[index[state], _ID[word]] = index[target]
    # <s> in the start state changes nothing: left padding of a context with <s> is harmless.
    transition[index[START], _ID[BOS]] = index[START]
    totals = emission[: index[END]].sum(axis=1)
    if not np.allclose(totals, 1.0, rtol=0, atol=1e-12):  # pragma: no cover - a table typo
        bad = [names[i] for i in np.flatnonzero(np.abs(totals - 1) > 1e-12)]
        raise AssertionError(f"the probabilities of states {bad} do not sum to 1")
    emission.setflags(write=False)
    transition.setflags(write=False)
    return tuple(names), emission, transition


STATE_NAMES, EMISSION, TRANSITION = _compile()
START_STATE = STATE_NAMES.index(START)
END_STATE = STATE_NAMES.index(END)
# Inverse-CDF tables for sampling, computed once in a fixed order (reproducible bits).
_CUMULATIVE = np.cumsum(EMISSION, axis=1)


def _check_ids(context_ids, name: str = "context_ids") -> np.ndarray:
    ids = np.asarray(context_ids)
    if ids.dtype.kind not in "iu":
        if ids.dtype.kind == "f" and ids.size and np.array_equal(ids, np.round(ids)):
            ids = ids.astype(np.int64)
        else:
            raise TypeError(
                f"{name} must be integer token ids, got dtype {ids.dtype}; "
                "turn text into ids with model.encode(text)."
            )
    if ids.ndim == 0:
        raise ValueError(
            f"{name} is a single number; pass a sequence of token ids, "
            "e.g. model.encode('the cat')."
        )
    if ids.shape[-1] == 0:
        raise ValueError(
            f"{name} is empty (shape {ids.shape}); a context needs at least one token. "
            f"For the first word of a sentence pass the start token: [{_ID[BOS]}] ('<s>')."
        )
    bad = (ids < 0) | (ids >= len(VOCAB))
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name} contains {int(ids[where])} at index {where}; token ids run from 0 to "
            f"{len(VOCAB) - 1} (the vocabulary has {len(VOCAB)} tokens)."
        )
    return ids.astype(np.int64, copy=False)


def states_after(context_ids) -> np.ndarray:
    """The machine's state after reading each context from the start of a sentence.

    `context_ids` has shape (..., length); the result has shape (...). A context
    the process cannot produce raises a `ValueError` that names the first
    impossible token.
    """
    ids = _check_ids(context_ids)
    flat = ids.reshape(-1, ids.shape[-1])
    states = np.full(flat.shape[0], START_STATE, dtype=np.int64)
    for position in range(flat.shape[1]):
        tokens = flat[:, position]
        following = TRANSITION[states, tokens]
        if (following < 0).any():
            row = int(np.flatnonzero(following < 0)[0])
            context = " ".join(VOCAB[t] for t in flat[row, : position + 1])
            previous = VOCAB[flat[row, position - 1]] if position else BOS
            reason = (
                "the sentence already ended with </s>"
                if states[row] == END_STATE
                else f"{VOCAB[tokens[row]]!r} never follows {previous!r} there"
            )
            raise ValueError(
                f"the context {context!r} has probability 0 under the corpus process: "
                f"{reason}. Contexts are read from the start of a sentence (an implicit <s>), "
                "e.g. 'the cat sat' is possible but 'cat sat' is not."
            )
        states = following
    return states.reshape(ids.shape[:-1])


def true_next_token_probs(context_ids) -> np.ndarray:
    """The exact next-token distribution of the corpus process after each context.

    `context_ids`: token ids of shape (..., length), read from the start of a
    sentence (leading ``<s>`` tokens are allowed and change nothing). Returns
    float64 probabilities of shape (..., vocab). After ``</s>`` nothing can
    follow: such contexts raise a `ValueError`, as do contexts the process
    cannot produce.

    >>> probs = true_next_token_probs([VOCAB.index("the"), VOCAB.index("cat")])
    >>> round(float(probs[VOCAB.index("sat")]), 2), round(float(probs[VOCAB.index("slept")]), 2)
    (0.34, 0.26)
    """
    states = states_after(context_ids)
    if (states == END_STATE).any():
        raise ValueError("a context ends with </s>: the sentence is over and no token follows it.")
    return EMISSION[states]


def sentence_log_prob(token_ids) -> float:
    """Natural log of the probability the process gives to a whole sentence.

    `token_ids` is one sentence, from the first word (a leading ``<s>`` is
    optional) to ``</s>`` included; a sentence the process cannot produce
    gets -inf.

    >>> ids = [VOCAB.index(w) for w in "the cat slept soundly </s>".split()]
    >>> round(float(np.exp(sentence_log_prob(ids))), 6)  # 0.65 * 0.75 * 0.16 * 0.26 * 0.8 * 0.85
    0.01379
    """
    ids = _check_ids(token_ids, "token_ids")
    if ids.ndim != 1:
        raise ValueError(f"token_ids must be one sentence (1-D), got shape {ids.shape}.")
    state, total = START_STATE, 0.0
    for token in ids:
        if state == START_STATE and token == _ID[BOS]:
            continue
        if state == END_STATE or TRANSITION[state, token] < 0:
            return -np.inf
        total += float(np.log(EMISSION[state, token]))
        state = int(TRANSITION[state, token])
    return total


def sample_sentences(count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Draw `count` sentences from the process with a seeded generator.

    Each sentence is an int64 array from ``<s>`` to ``</s>``. Uses one uniform
    number per word (inverse CDF over the state's fixed table), so the same
    seed gives the same sentences on every platform.

    >>> [" ".join(VOCAB[t] for t in s) for s in sample_sentences(2, np.random.default_rng(1))]
    ['<s> the black mouse chased the bird </s>', '<s> a farmer saw the cat </s>']
    """
    if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 0:
        raise ValueError(f"count must be a non-negative integer, got {count!r}.")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator, e.g. np.random.default_rng(0); got {rng!r}."
        )
    sentences: list[list[int]] = [[_ID[BOS]] for _ in range(count)]
    states = np.full(count, START_STATE, dtype=np.int64)
    active = np.arange(count)
    while active.size:
        uniforms = rng.random(active.size)
        cumulative = _CUMULATIVE[states[active]]
        # Inverse CDF: the first word whose cumulative probability exceeds u.
        words = np.minimum((cumulative <= uniforms[:, None]).sum(axis=1), len(VOCAB) - 1)
        # Rounding at the top of a row can point past the last possible word: step back.
        impossible = EMISSION[states[active], words] == 0
        while impossible.any():
            words[impossible] -= 1
            impossible = EMISSION[states[active], words] == 0
        for sentence_index, word in zip(active.tolist(), words.tolist(), strict=True):
            sentences[sentence_index].append(word)
        states[active] = TRANSITION[states[active], words]
        active = active[states[active] != END_STATE]
    return [np.array(sentence, dtype=np.int64) for sentence in sentences]
