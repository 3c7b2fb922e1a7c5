"""Exercises of lesson 09, "Tokens, not words".

* ``09.word_log_prob``: a word's log-probability from its tokens' conditional
  log-probabilities, times the probability that the word ends there (the next
  token starts a new word).
* ``09.candidate_scores``: multiple-choice scoring: each candidate answer
  scored as a continuation of the same prompt tokenization, with the space
  between prompt and answer on the answer's side.
* ``09.normalized_score``: a completion's log-probability per token or per
  word.
* ``09.diagnose_scorer``: which bug explains a multiple-choice scorer's
  symptoms (a choice among diagnoses).

Each `diagnose` recomputes the typical mistakes on the case at hand and names
one only when the answer matches that mistake's own output.

>>> import numpy as np
>>> from utils.exercises import get
>>> rows = np.log([[0.5, 0.4, 0.1], [0.25, 0.25, 0.5]])  # after the context, after token 1
>>> starts_word = np.array([True, True, False])          # token 2 continues a word
>>> round(get("09.word_log_prob").reference(rows, [1], starts_word), 4)  # log(0.4 * 0.5)
-1.6094
"""

from __future__ import annotations

import dataclasses

import numpy as np

from utils.exercises._matching import first_matching_mistake
from utils.exercises._spec import Case, Exercise
from utils.probability import log_softmax, logsumexp, softmax

__all__ = [
    "DIAGNOSIS_OPTIONS",
    "EXERCISES",
    "candidate_scores_reference",
    "encode",
    "next_token_log_probs",
    "normalized_score_reference",
    "word_log_prob_reference",
]


def _hints(*tiers: str) -> dict:
    """The hint tiers as the spec takes them (`hints=`; a single `hint=` before tiers existed)."""
    names = {spec_field.name for spec_field in dataclasses.fields(Exercise)}
    return {"hints": tuple(tiers)} if "hints" in names else {"hint": tiers[0]}


# A vocabulary of eight tokens to work by hand: " butter" is " but" + "ter", and
# " butterfly" continues it with "fly"; " cat" continues into " caterer" with "er".
HAND_TOKENS = ("<|endoftext|>", ".", " the", " but", "ter", "fly", " cat", "er")
HAND_STARTS_WORD = np.array([True, True, True, True, False, False, True, False])
_AFTER_CONTEXT = [0.01, 0.01, 0.30, 0.20, 0.02, 0.02, 0.40, 0.04]
_AFTER_BUT = [0.02, 0.02, 0.30, 0.01, 0.50, 0.05, 0.05, 0.05]
_AFTER_BUTTER = [0.05, 0.30, 0.20, 0.02, 0.01, 0.40, 0.01, 0.01]
_AFTER_CAT = [0.10, 0.30, 0.30, 0.02, 0.02, 0.01, 0.02, 0.23]


def _log_rows(*rows) -> np.ndarray:
    return np.log(np.array(rows, dtype=np.float64))


# ---------------------------------------------------------------- 09.word_log_prob


def word_log_prob_reference(step_log_probs, token_ids, starts_word) -> float:
    """log P(word) = sum_i log p(token_i | before) + log P(the next token starts a word).

    `step_log_probs[i]` is the next-token log-distribution after the context and
    the word's first i tokens, so it has one row more than the word has tokens.
    """
    rows = np.asarray(step_log_probs, dtype=np.float64)
    ids = np.asarray(token_ids, dtype=np.int64)
    starts = np.asarray(starts_word, dtype=bool)
    inside = rows[np.arange(len(ids)), ids].sum()
    return float(inside + logsumexp(rows[len(ids)][starts]))


def _random_word_case(rng: np.random.Generator, tokens: int, vocab: int, label: str) -> Case:
    rows = log_softmax(rng.uniform(0.5, 3.0) * rng.standard_normal((tokens + 1, vocab)), axis=-1)
    starts = rng.random(vocab) < 0.5
    starts[int(rng.integers(vocab))] = True
    starts[int(rng.integers(vocab))] = False
    ids = rng.integers(0, vocab, size=tokens)
    return Case(args=(rows, ids, starts), label=label)


_WORD_CASES = (
    Case(
        args=(
            _log_rows(_AFTER_CONTEXT, _AFTER_BUT, _AFTER_BUTTER),
            np.array([3, 4]),
            HAND_STARTS_WORD,
        ),
        label="' butter' = ' but' + 'ter' (then 'fly' would make ' butterfly')",
    ),
    Case(
        args=(_log_rows(_AFTER_CONTEXT, _AFTER_CAT), np.array([6]), HAND_STARTS_WORD),
        label="' cat', one token (then 'er' would make ' caterer')",
    ),
    _random_word_case(np.random.default_rng(901), 4, 50, "a word of four tokens, 50 tokens"),
    _random_word_case(np.random.default_rng(902), 9, 300, "a word of nine tokens, 300 tokens"),
)


def _word_hidden(rng: np.random.Generator) -> list[Case]:
    cases = []
    for index in range(6):
        tokens, vocab = int(rng.integers(1, 8)), int(rng.integers(4, 200))
        cases.append(_random_word_case(rng, tokens, vocab, f"random #{index + 1}: {tokens} tokens"))
    return cases


def _word_mistakes(rows, ids, starts):
    steps = np.arange(len(ids))
    inside = rows[steps, ids]
    last = rows[len(ids)]
    boundary = logsumexp(last[starts])
    return [
        (
            inside.sum(),
            "you added the tokens' log-probabilities but not the probability that the word ends "
            "there (or you added the log of the whole last row's probability, which is 0): the "
            "same tokens can begin a longer word, so add log P(the next token starts a new "
            "word), from the last row.",
        ),
        (
            rows[steps + 1, ids].sum() + boundary,
            "your rows and tokens are shifted by one: row i, computed before token i was "
            "seen, is the one that scores token i; only the last row gives the word's end.",
        ),
        (
            inside.sum() + logsumexp(rows[len(ids) - 1][starts]),
            "the end of the word was read from the row that scores its last token; the word "
            "has ended only if the token AFTER it starts a new word: use the last row.",
        ),
        (
            inside.sum() + last[starts].max(),
            "the end of the word counted only the most likely word-starting token; the word "
            "ends whichever new word follows, so add up the probabilities of all of them.",
        ),
        (
            inside.sum() + last[starts].sum(),
            "you added the log-probabilities of the word-starting tokens; the word's end is "
            "the log of the SUM of their probabilities, not the sum of their logs.",
        ),
        (
            inside.mean() + boundary,
            "you averaged the tokens' log-probabilities; the chain rule adds them.",
        ),
        (
            float(np.exp(inside.sum() + boundary)),
            "you returned the probability; return its log.",
        ),
        (
            float(np.prod(inside)) + boundary,
            "you multiplied log-probabilities; in log space the product of probabilities is a sum.",
        ),
    ]


def _word_diagnose(case: Case, expected, got) -> str | None:
    rows = np.asarray(case.args[0], dtype=np.float64)
    ids = np.asarray(case.args[1], dtype=np.int64)
    starts = np.asarray(case.args[2], dtype=bool)
    value = np.asarray(got, dtype=np.float64) if np.ndim(got) == 0 else None
    if value is None:
        if np.shape(got) == (len(ids),):
            return "you returned one number per token; the word's log-probability is one number."
        return None
    mistakes = [
        (wrong, text) for wrong, text in _word_mistakes(rows, ids, starts) if wrong is not None
    ]
    return first_matching_mistake(value, expected, mistakes, rtol=1e-7, atol=1e-9)


WORD_LOG_PROB = Exercise(
    id="09.word_log_prob",
    title="A word's log-probability from its tokens",
    points=2,
    answer_name="word_log_prob",
    kind="function",
    reference=word_log_prob_reference,
    visible_cases=_WORD_CASES,
    hidden_cases=_word_hidden,
    # Float32 arithmetic on log-probabilities near -10 is exact work to a few 1e-6.
    rtol=1e-6,
    atol=1e-6,
    diagnose=_word_diagnose,
    **_hints(
        "The chain rule inside a word: each token is conditioned on the tokens before it, and "
        "the word is only finished when what comes next is not more of the same word.",
        "Add the log-probability each row gives to its own token, then add the log of the "
        "total probability, in the last row, of the tokens that start a new word.",
    ),
)


# -------------------------------------------------------------- 09.candidate_scores


def encode(text: str) -> list[int]:
    """The course tokenizer's ids for `text` (the token model's `encode`)."""
    from utils import lm

    return [int(token) for token in lm.load_token_model().encode(text)]


def next_token_log_probs(token_ids) -> np.ndarray:
    """The token model's log-probabilities of the next token after `token_ids`, shape (vocab,).

    An empty list means the start of a text (the model reads `<|endoftext|>`).
    """
    from utils import lm

    model = lm.load_token_model()
    ids = np.asarray(token_ids)
    if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
        raise ValueError(
            f"next_token_log_probs takes one list of token ids, got shape {ids.shape} "
            f"({ids.dtype}); call it once per prefix."
        )
    if ids.size == 0:
        ids = np.array([model.eos_id])
    return log_softmax(model.next_token_logits(ids.astype(np.int64)), axis=-1)


def _continuation_score(context_ids, ids, next_log_probs) -> float:
    return float(sum(next_log_probs(ids[:t])[ids[t]] for t in range(len(context_ids), len(ids))))


def candidate_scores_reference(prompt, candidates, encode, next_token_log_probs) -> np.ndarray:
    """log P(candidate | prompt) for each candidate, scored as a continuation of the prompt.

    The space between them belongs to the candidate (" mat", as the tokenizer
    writes a word inside a sentence): the prompt loses its trailing spaces, the
    candidate gets exactly one leading space. The prompt's tokens are then a
    prefix of the tokens of prompt + candidate, and every candidate is scored
    after the same prompt tokens.
    """
    context = prompt.rstrip()
    context_ids = list(encode(context))
    scores = []
    for candidate in candidates:
        ids = list(encode(context + " " + candidate.lstrip()))
        if ids[: len(context_ids)] != context_ids:
            raise ValueError(f"the prompt's tokens are not a prefix for candidate {candidate!r}")
        scores.append(_continuation_score(context_ids, ids, next_token_log_probs))
    return np.array(scores)


def _scored(context_ids, continuation_ids, next_log_probs) -> float:
    ids = list(context_ids) + list(continuation_ids)
    return _continuation_score(context_ids, ids, next_log_probs)


def _candidate_mistakes(prompt, candidates, encode, next_log_probs):
    context = prompt.rstrip()
    context_ids = list(encode(context))
    raw_ids = list(encode(prompt))

    def per_candidate(score):
        return np.array([score(candidate) for candidate in candidates])

    def continuation(candidate):
        return list(encode(context + " " + candidate.lstrip()))[len(context_ids) :]

    right = per_candidate(lambda c: _scored(context_ids, continuation(c), next_log_probs))
    yield (
        per_candidate(lambda c: _scored(context_ids, encode(c.strip()), next_log_probs)),
        "a candidate was encoded without its leading space: inside a sentence a word is "
        "' mat' (one token), while 'mat' is another token (or several) that the model hardly "
        "ever sees there. Put one space in front of each candidate.",
    )
    if raw_ids != context_ids:
        yield (
            per_candidate(lambda c: _scored(raw_ids, encode(c.strip()), next_log_probs)),
            "the prompt's trailing space was encoded as a token of its own ('Ġ'), then the "
            "candidate without a space: for most words a split the tokenizer never makes (it "
            "writes ' mat' as one token), so the model never saw it. Move the space from the "
            "end of the prompt to the start of the candidate.",
        )
        yield (
            per_candidate(lambda c: _scored(raw_ids, encode(" " + c.lstrip()), next_log_probs)),
            "the prompt kept its trailing space and the candidate got one too: two spaces. "
            "Strip the prompt's trailing spaces before adding the candidate's.",
        )
    yield (
        per_candidate(lambda c: _scored(context_ids, encode(" " + c), next_log_probs)),
        "a candidate that already starts with a space got a second one; give each candidate "
        "exactly one leading space.",
    )
    yield (
        per_candidate(lambda c: _scored([], encode(" " + c.strip()), next_log_probs)),
        "the candidates were scored from the start of a text, without the prompt; score "
        "their tokens after the prompt's tokens.",
    )
    yield (
        per_candidate(lambda c: _scored([], encode(c.strip()), next_log_probs)),
        "the candidates were scored from the start of a text, without the prompt; score "
        "their tokens after the prompt's tokens.",
    )
    yield (
        per_candidate(lambda c: float(next_log_probs(context_ids)[continuation(c)[0]])),
        "only each candidate's first token was scored; a candidate of several tokens needs "
        "the log-probability of every one of them, each after the tokens before it.",
    )
    lengths = np.array([len(continuation(c)) for c in candidates])
    yield (
        right / lengths,
        "you averaged over each candidate's tokens; return the total log-probability (how "
        "to normalize is the next exercise's question).",
    )
    yield (
        np.exp(right),
        "you returned probabilities; return log-probabilities.",
    )
    if len(candidates) > 1:
        yield (
            log_softmax(right),
            "you normalized the scores over the candidates; return each candidate's own "
            "log-probability under the model.",
        )
    yield (
        softmax(right),
        "you returned each candidate's share among the candidates; return its "
        "log-probability under the model.",
    )


_PROMPT = "The cat sat on the"
_CANDIDATE_CASES = (
    Case(
        args=(_PROMPT, ["mat", "sofa", "tree", "moon"], encode, next_token_log_probs),
        label="'The cat sat on the' + mat / sofa / tree / moon",
    ),
    Case(
        args=(_PROMPT + " ", ["mat", "rug", "marzipan"], encode, next_token_log_probs),
        label="a prompt ending with a space",
    ),
    Case(
        args=(_PROMPT, [" mat", "bed"], encode, next_token_log_probs),
        label="a candidate written with its space",
    ),
    Case(
        args=(
            "A farmer devoured",
            ["butter", "butterfly", "marzipan"],
            encode,
            next_token_log_probs,
        ),
        label="candidates of several tokens",
    ),
    Case(args=("Alice saw the", ["dog"], encode, next_token_log_probs), label="one candidate"),
)


def _candidate_hidden(rng: np.random.Generator) -> list[Case]:
    from utils import lm

    model = lm.load_token_model()
    nouns = [word[1:] for word in model.words if word.startswith(" ") and word[1:].isalpha()]
    cases = []
    for index, sentence in enumerate(lm.grammar.sample_sentences(6, rng)):
        units = [model.words[int(i)] for i in sentence]
        cut = int(rng.integers(2, max(3, len(units) - 2)))
        prompt = "".join(units[:cut]).rstrip()
        if prompt.endswith((".", "<|endoftext|>")) or not prompt:
            prompt = _PROMPT
        if rng.random() < 0.4:
            prompt += " "
        count = int(rng.integers(1, 5))
        picked = [nouns[int(i)] for i in rng.choice(len(nouns), size=count, replace=False)]
        candidates = [(" " + word) if rng.random() < 0.3 else word for word in picked]
        cases.append(
            Case(
                args=(prompt, candidates, encode, next_token_log_probs),
                label=f"random #{index + 1}: {count} candidates",
            )
        )
    return cases


def _candidate_diagnose(case: Case, expected, got) -> str | None:
    prompt, candidates, encode_text, next_log_probs = case.args
    value = np.asarray(got, dtype=np.float64) if np.shape(got) == np.shape(expected) else None
    if value is None:
        return None
    with np.errstate(all="ignore"):
        mistakes = list(_candidate_mistakes(prompt, candidates, encode_text, next_log_probs))
    return first_matching_mistake(value, expected, mistakes, rtol=1e-6, atol=1e-8)


CANDIDATE_SCORES = Exercise(
    id="09.candidate_scores",
    title="Multiple-choice scoring: candidates as continuations of one prompt",
    points=3,
    answer_name="candidate_scores",
    kind="function",
    reference=candidate_scores_reference,
    visible_cases=_CANDIDATE_CASES,
    hidden_cases=_candidate_hidden,
    rtol=1e-6,
    atol=1e-6,
    diagnose=_candidate_diagnose,
    **_hints(
        "Every candidate must be scored after exactly the same prompt tokens, and a word "
        "inside a sentence carries its space at its front.",
        "Strip the prompt's trailing spaces; tokenize the prompt, then the prompt, one space "
        "and the candidate; the tokens after the prompt's are the candidate's. Add each one's "
        "log-probability given all the tokens before it.",
    ),
)


# ------------------------------------------------------------ 09.normalized_score


def normalized_score_reference(token_log_probs, token_ids, starts_word, per) -> float:
    """The completion's total log-probability divided by its number of tokens or words.

    A word is counted at each token that starts one (`starts_word[token_ids]`):
    ' butterfly' is one word of three tokens; '.' and `<|endoftext|>` count as units.
    """
    if per not in ("token", "word"):
        raise ValueError(f"per must be 'token' or 'word', got {per!r}")
    log_probs = np.asarray(token_log_probs, dtype=np.float64)
    ids = np.asarray(token_ids, dtype=np.int64)
    if per == "token":
        return float(log_probs.sum() / len(ids))
    return float(log_probs.sum() / np.asarray(starts_word, dtype=bool)[ids].sum())


# The hand vocabulary and four more word-starting tokens: its count of word starts (9) is
# none of the counts a completion's words or tokens give, give or take one, so a count taken
# over the vocabulary cannot be mistaken for an off-by-one.
COMPLETION_TOKENS = (*HAND_TOKENS, " dog", " sat", " on", ",")
COMPLETION_STARTS_WORD = np.concatenate([HAND_STARTS_WORD, np.ones(4, dtype=bool)])
_COMPLETION_IDS = np.array([2, 3, 4, 5, 1, 0])  # ' the', ' but', 'ter', 'fly', '.', eos
_COMPLETION_LOG_PROBS = np.array([-0.5, -2.0, -0.3, -1.2, -0.4, -0.2])


def _random_completion(rng: np.random.Generator, label: str, per: str) -> Case:
    vocab, length = int(rng.integers(6, 120)), int(rng.integers(2, 30))
    starts = rng.random(vocab) < 0.6
    starts[0] = True
    ids = rng.integers(0, vocab, size=length)
    ids[0] = 0  # a completion begins a word
    log_probs = -rng.exponential(1.5, size=length)
    return Case(args=(log_probs, ids, starts, per), label=label)


def _denominators(ids, starts) -> list[int]:
    """The counts a learner may divide by: right and wrong ones (distinct on a good case)."""
    tokens, words = len(ids), int(starts[ids].sum())
    distinct = len(set(ids[starts[ids]].tolist()))
    vocabulary = int(starts.sum())
    return [
        tokens,
        words,
        distinct,
        tokens - words,
        words - 1,
        words + 1,
        tokens - 1,
        tokens + 1,
        vocabulary,
    ]


def _long_completion() -> Case:
    """A completion of 15+ tokens and 6+ words, some repeated, on which every plausible
    denominator differs (small cases let integer counts coincide, and a diagnosis that
    matches values would then name a mistake that was not made)."""
    for seed in range(903, 2000):
        case = _random_completion(np.random.default_rng(seed), "", "word")
        _, ids, starts, _ = case.args
        counts = _denominators(ids, starts)
        long_enough = len(ids) >= 15 and counts[1] >= 6 and counts[2] < counts[1]
        if long_enough and len(set(counts)) == len(counts):
            label = f"a completion of {len(ids)} tokens and {counts[1]} words, per word"
            return Case(args=case.args, label=label)
    raise RuntimeError("no seed gives a completion with distinct counts")


_NORMALIZED_CASES = (
    Case(
        args=(_COMPLETION_LOG_PROBS, _COMPLETION_IDS, COMPLETION_STARTS_WORD, "token"),
        label="' the butterfly.' + end of text, per token",
    ),
    Case(
        args=(_COMPLETION_LOG_PROBS, _COMPLETION_IDS, COMPLETION_STARTS_WORD, "word"),
        label="' the butterfly.' + end of text, per word",
    ),
    Case(
        args=(
            np.array([-1.0, -0.5, -2.5, -0.7]),
            np.array([2, 6, 9, 1]),
            COMPLETION_STARTS_WORD,
            "word",
        ),
        label="' the cat sat.', one token per word, per word",
    ),
    _long_completion(),
)


def _normalized_hidden(rng: np.random.Generator) -> list[Case]:
    return [
        _random_completion(rng, f"random #{index + 1}, per {per}", per)
        for index, per in enumerate(["token", "word", "word", "token", "word"])
    ]


def _normalized_diagnose(case: Case, expected, got) -> str | None:
    log_probs, ids, starts, per = case.args
    log_probs = np.asarray(log_probs, dtype=np.float64)
    starts = np.asarray(starts, dtype=bool)
    total, tokens, words = log_probs.sum(), len(ids), int(starts[ids].sum())
    mistakes = [
        (
            total / (words if per == "token" else tokens),
            "per token you divided by the number of words; divide by the number of tokens."
            if per == "token"
            else "per word you divided by the number of tokens; divide by the number of words "
            "(the tokens that start one).",
        ),
        (
            # Only where the vocabulary's count is no off-by-one of a completion's count.
            total / starts.sum()
            if not {starts.sum() + step for step in (-1, 0, 1)} & {tokens, words, tokens - words}
            else None,
            "you counted the word-starting tokens of the whole vocabulary; count those of "
            "this completion (index the mask with its token ids).",
        ),
        (
            total / (tokens - words) if tokens > words else None,
            "you counted the tokens that continue a word; a word begins at a token that "
            "starts one.",
        ),
        (
            log_probs[starts[ids]].sum() / (words if per == "word" else tokens),
            "you left out the log-probabilities of the tokens inside words; the total is "
            "over every token, only the count changes.",
        ),
    ]
    mistakes = [(wrong, text) for wrong, text in mistakes if wrong is not None]
    return first_matching_mistake(got, expected, mistakes, rtol=1e-7, atol=1e-9)


NORMALIZED_SCORE = Exercise(
    id="09.normalized_score",
    title="A completion's score per token or per word",
    points=2,
    answer_name="normalized_score",
    kind="function",
    reference=normalized_score_reference,
    visible_cases=_NORMALIZED_CASES,
    hidden_cases=_normalized_hidden,
    rtol=1e-6,
    atol=1e-9,
    diagnose=_normalized_diagnose,
    **_hints(
        "The total log-probability is the same either way; only what it is divided by changes.",
        "The number of words is the number of this completion's tokens that start one; "
        "the mask says which tokens of the vocabulary do.",
    ),
)


# -------------------------------------------------------------- 09.diagnose_scorer

DIAGNOSIS_OPTIONS = {
    "a": "the model is too small to know that cats sit on mats",
    "b": 'the scores must be length-normalized, because "mat" has fewer letters',
    "c": "the prompt's trailing space became a token of its own and the candidates were "
    "encoded without a space: a split of the text the tokenizer never makes, so the model "
    "never saw it",
    "d": "the candidates' probabilities must be renormalized with a softmax over the four",
    "e": "the model needs a higher temperature to score rare words",
}


def diagnose_scorer_reference() -> str:
    """The lesson's scorer bug: tokenization, not the model (option c)."""
    return "c"


_OPTION_EXPLANATIONS = {
    "a": "the same model, given ' mat' after 'The cat sat on the', rates it among its most "
    "likely words: the model knows; what it was asked is the problem.",
    "b": "letters play no role: the model scores tokens, and ' mat' is a single token.",
    "d": "a softmax over the candidates keeps their order; it cannot explain why they all look "
    "nearly impossible.",
    "e": "temperature is a sampling setting; scoring reads the model's probabilities as they "
    "are, and the symptom is a split of the text the model never saw.",
}


def _diagnose_scorer_diagnose(case: Case, expected, got) -> str | None:
    if not isinstance(got, str):
        return None
    choice = got.strip().casefold()
    if choice in _OPTION_EXPLANATIONS:
        return f"not ({choice}): {_OPTION_EXPLANATIONS[choice]}"
    if choice not in DIAGNOSIS_OPTIONS or choice != got.strip().casefold():
        return "answer with the letter alone, a to e, as a string: e.g. 'a'."
    return None


DIAGNOSE_SCORER = Exercise(
    id="09.diagnose_scorer",
    title="Choose: why does the multiple-choice scorer fail?",
    points=1,
    answer_name="diagnose_scorer",
    kind="value",
    reference=diagnose_scorer_reference,
    diagnose=_diagnose_scorer_diagnose,
    **_hints(
        "Look at the tokens the scorer actually sent the model, not at the text.",
        "Print the tokens of the prompt with its final space, then of the candidate: which "
        "of those tokens did the training text ever contain at that place?",
    ),
)


# In the order the lesson asks them.
EXERCISES = [WORD_LOG_PROB, DIAGNOSE_SCORER, CANDIDATE_SCORES, NORMALIZED_SCORE]
