"""utils.sequences: sequence scores against scipy, length normalization, and decoding
(greedy, beam, exhaustive) against brute force on a hand-made model and on the tiny model."""

from __future__ import annotations

import doctest
import itertools
import math
import re
import tracemalloc
from typing import ClassVar

import numpy as np
import pytest
import scipy.special

import utils
import utils.sequences
from utils import lm
from utils.sequences import (
    beam_search,
    beam_search_steps,
    exhaustive_search,
    greedy_decode,
    length_normalized,
    sample_decode,
    sequence_log_prob,
    token_log_probs,
)


def scipy_token_log_probs(logits, token_ids):
    log_probs = scipy.special.log_softmax(np.asarray(logits, dtype=np.float64), axis=-1)
    return np.take_along_axis(log_probs, np.asarray(token_ids)[..., None], axis=-1)[..., 0]


# --- token_log_probs / sequence_log_prob ---------------------------------------------------------
def test_token_log_probs_of_a_hand_worked_example():
    logits = np.log([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]])
    np.testing.assert_allclose(token_log_probs(logits, [0, 2]), np.log([0.5, 0.8]), rtol=1e-14)
    # Unnormalized scores: softmax([1, 2, 3])[2] = e^3 / (e + e^2 + e^3).
    expected = 3 - math.log(math.e + math.e**2 + math.e**3)
    assert token_log_probs([[1.0, 2.0, 3.0]], [2])[0] == pytest.approx(expected, rel=1e-15)


def test_sequence_log_prob_is_the_chain_rule_sum_with_padding_ignored():
    logits = np.log([[[0.5, 0.5], [0.9, 0.1], [0.3, 0.7]], [[0.5, 0.5], [0.2, 0.8], [0.6, 0.4]]])
    ids = np.array([[0, 0, 1], [1, 1, -100]])  # -100: Hugging Face's "ignore" label, as padding
    mask = ids >= 0
    np.testing.assert_allclose(
        np.exp(sequence_log_prob(logits, ids, mask=mask)), [0.5 * 0.9 * 0.7, 0.5 * 0.8]
    )
    np.testing.assert_array_equal(token_log_probs(logits, ids, mask=mask)[1, 2], 0.0)


@pytest.mark.parametrize(("dtype", "rtol"), [(np.float64, 1e-12), (np.float32, 2e-6)])
def test_matches_scipy_log_softmax_and_gather(dtype, rtol):
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4.5, size=(3, 7, 1000)).astype(dtype)
    ids = rng.integers(0, 1000, size=(3, 7))
    reference = scipy_token_log_probs(logits, ids)
    result = token_log_probs(logits, ids)
    assert result.dtype == dtype
    np.testing.assert_allclose(result, reference, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(sequence_log_prob(logits, ids), reference.sum(-1), rtol=rtol)


def test_many_chunks_and_ragged_padding_match_the_reference():
    # 5000 tokens: about 200 positions per chunk, so several chunks and runs per batch.
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, size=(4, 300, 5000)).astype(np.float32)
    ids = rng.integers(0, 5000, size=(4, 300))
    mask = rng.random((4, 300)) < 0.7
    mask[2] = False  # a sequence of padding only scores 0 (log 1)
    reference = np.where(mask, scipy_token_log_probs(logits, ids), 0.0).sum(axis=-1)
    result = sequence_log_prob(logits, ids, mask=mask)
    np.testing.assert_allclose(result, reference, rtol=1e-5)
    assert result[2] == 0.0


def test_float16_logits_are_scored_in_float32():
    logits = np.random.default_rng(2).normal(0, 4, size=(2, 5, 300)).astype(np.float16)
    ids = np.arange(10).reshape(2, 5)
    result = token_log_probs(logits, ids)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, scipy_token_log_probs(logits, ids), rtol=1e-5, atol=1e-5)


def _peak_extra_bytes(function) -> int:
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        function()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("view", ["whole", "logits[:, :-1]", "reversed batch"])
def test_no_log_softmax_the_size_of_the_logits_is_built(view):
    # logits[:, :-1] (a causal LM's scores of ids[:, 1:]) cannot be reshaped to
    # (positions, vocab) without a copy: it must still not be copied.
    logits = np.random.default_rng(3).normal(0, 4.5, size=(8, 65, 50257)).astype(np.float32)
    ids = np.random.default_rng(4).integers(0, 50257, size=(8, 65))
    mask = np.arange(65) < np.arange(20, 65, 5.5)[:8, None]  # ragged lengths
    if view == "logits[:, :-1]":
        logits, ids, mask = logits[:, :-1], ids[:, 1:], mask[:, 1:]
    elif view == "reversed batch":
        logits, ids, mask = logits[::-1, :-1], ids[::-1, 1:], mask[::-1, 1:]
    assert view == "whole" or not logits.flags.c_contiguous
    peak = _peak_extra_bytes(lambda: sequence_log_prob(logits, ids, mask=mask))
    assert peak < 0.02 * logits.nbytes, f"peak extra memory {peak} bytes"
    expected = sequence_log_prob(np.ascontiguousarray(logits), ids, mask=mask)
    np.testing.assert_allclose(sequence_log_prob(logits, ids, mask=mask), expected, rtol=1e-6)
    reference = np.where(mask[:2], scipy_token_log_probs(logits[:2], ids[:2]), 0).sum(-1)
    np.testing.assert_allclose(expected[:2], reference, rtol=1e-5)


def test_impossible_tokens_score_minus_inf_without_warnings():
    logits = np.array([[0.0, -np.inf, 1.0]])
    assert token_log_probs(logits, [1])[0] == -np.inf


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: token_log_probs(np.zeros((2, 3, 5)), np.zeros((2, 2), int)), ValueError, "ids"),
        (lambda: token_log_probs(np.zeros((2, 5)), [0.0, 1.0]), TypeError, "integer"),
        (lambda: token_log_probs(np.zeros((2, 5)), [0, 5]), ValueError, "mask=False"),
        (lambda: token_log_probs(np.zeros((2, 5)), [0, 1], mask=[1, 0]), TypeError, "boolean"),
        (
            lambda: token_log_probs(np.zeros((2, 5)), [0, 1], mask=[True, False, True]),
            ValueError,
            "one True/False per position",
        ),
        (
            lambda: sequence_log_prob(np.array([[[0.0, np.inf], [0.0, 0.0]]]), [[0, 0]]),
            ValueError,
            r"position \(0, 0\) contain \+inf",
        ),
        (
            lambda: sequence_log_prob(np.full((1, 2, 3), -np.inf), [[0, 0]]),
            ValueError,
            "all -inf",
        ),
    ],
)
def test_bad_scoring_input_raises_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_off_by_one_alignment_is_explained():
    with pytest.raises(ValueError, match=r"logits\[:, :-1\] are the scores of ids\[:, 1:\]"):
        sequence_log_prob(np.zeros((1, 4, 3)), np.zeros((1, 3), dtype=int))


def test_masked_positions_are_not_looked_at():
    logits = np.array([[[0.0, 1.0], [np.nan, np.nan]]])
    result = sequence_log_prob(logits, [[1, 999]], mask=[[True, False]])
    assert result[0] == pytest.approx(1 - math.log(1 + math.e))


# --- length normalization ------------------------------------------------------------------------
def test_length_normalized_follows_hugging_face():
    assert length_normalized(-6.0, 3) == -2.0
    assert length_normalized(-6.0, 3, length_penalty=0.0) == -6.0
    assert length_normalized(-8.0, 4, length_penalty=2.0) == -0.5
    np.testing.assert_allclose(length_normalized([-6.0, -6.0], [2, 3]), [-3.0, -2.0])


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"score": -1.0, "length": 0}, ValueError),
        ({"score": -1.0, "length": -2}, ValueError),
        ({"score": -1.0, "length": 2, "length_penalty": float("inf")}, ValueError),
        ({"score": -1.0, "length": 2, "length_penalty": True}, TypeError),
        ({"score": [-1.0, -2.0], "length": [1, 2, 3]}, ValueError),
    ],
)
def test_length_normalized_rejects_bad_input(kwargs, error):
    with pytest.raises(error):
        length_normalized(**kwargs)


# --- a hand-made model where greedy loses --------------------------------------------------------
class TableModel:
    """A first-order Markov model: the next-token distribution depends on the last token."""

    vocab: ClassVar[list[str]] = ["<s>", "</s>", "a", "b", "c"]
    bos_id, eos_id = 0, 1

    def __init__(self, table):
        with np.errstate(divide="ignore"):
            self.log_table = np.log(np.asarray(table, dtype=np.float64))

    def next_token_logits(self, ids):
        return self.log_table[np.asarray(ids)[..., -1]]

    def encode(self, text):
        return np.array([self.vocab.index(word) for word in text.split()])

    def decode(self, ids):
        return " ".join(self.vocab[i] for i in np.asarray(ids).tolist())


#        <s>   </s>  a     b     c
TABLE = [
    [0.0, 0.0, 0.5, 0.4, 0.1],  # after <s>: "a" is the likeliest first token...
    [0.2, 0.2, 0.2, 0.2, 0.2],  # (after </s>: never used)
    [0.0, 0.25, 0.25, 0.25, 0.25],  # ...but nothing is likely after "a",
    [0.0, 0.1, 0.0, 0.0, 0.9],  # while "b" is followed by "c" 9 times in 10
    [0.0, 0.6, 0.2, 0.2, 0.0],
]


def brute_force(model, prefix_ids, max_new_tokens, length_penalty):
    """Every continuation (ending at </s> or at the length limit), scored by hand."""
    results = []
    vocab = len(model.vocab)
    for length in range(1, max_new_tokens + 1):
        for tokens in itertools.product(range(vocab), repeat=length):
            if any(t == model.eos_id for t in tokens[:-1]):
                continue
            if length < max_new_tokens and tokens[-1] != model.eos_id:
                continue
            total, context = 0.0, list(prefix_ids)
            for token in tokens:
                total += float(utils.log_softmax(model.next_token_logits(np.array(context)))[token])
                context.append(token)
            if np.isfinite(total):
                results.append((tokens, total, total / length**length_penalty))
    return sorted(results, key=lambda result: -result[2])


def test_greedy_takes_the_likeliest_first_token_and_loses():
    model = TableModel(TABLE)
    greedy = greedy_decode(model, "<s>", 2)
    # "a" (0.5), then a four-way tie at 0.25 broken towards the lowest id: </s>.
    assert greedy.text == "<s> a </s>"
    assert greedy.finished
    assert greedy.log_prob == pytest.approx(math.log(0.5 * 0.25))
    best = beam_search(model, "<s>", beam_width=2, max_new_tokens=2)[0]
    assert best.text == "<s> b c"
    assert best.log_prob == pytest.approx(math.log(0.4 * 0.9))
    assert not best.finished
    np.testing.assert_allclose(best.token_log_probs, np.log([0.4, 0.9]))


@pytest.mark.parametrize("length_penalty", [0.0, 1.0, 2.0, -1.0])
@pytest.mark.parametrize("max_new_tokens", [1, 2, 3])
def test_exhaustive_search_matches_brute_force(max_new_tokens, length_penalty):
    model = TableModel(TABLE)
    expected = brute_force(model, [0], max_new_tokens, length_penalty)
    found = exhaustive_search(
        model, [0], max_new_tokens=max_new_tokens, length_penalty=length_penalty
    )
    assert sorted(tuple(h.token_ids.tolist()) for h in found) == sorted(e[0] for e in expected)
    np.testing.assert_allclose([h.score for h in found], [e[2] for e in expected], rtol=1e-12)


@pytest.mark.parametrize("length_penalty", [0.0, 1.0, 2.0])
@pytest.mark.parametrize("max_new_tokens", [1, 2, 3])
def test_a_wide_enough_beam_is_exhaustive(max_new_tokens, length_penalty):
    model = TableModel(TABLE)
    options = {"max_new_tokens": max_new_tokens, "length_penalty": length_penalty}
    exhaustive = exhaustive_search(model, "<s>", **options)
    beams = beam_search(model, "<s>", beam_width=5**max_new_tokens, **options)
    np.testing.assert_allclose([h.score for h in beams], [h.score for h in exhaustive])
    assert {h.text for h in beams} == {h.text for h in exhaustive}


def test_beam_width_one_is_greedy():
    model = TableModel(TABLE)
    for prefix in ["<s>", "<s> b", "<s> a c"]:
        beam = beam_search(model, prefix, beam_width=1, max_new_tokens=3)[0]
        assert beam.text == greedy_decode(model, prefix, 3).text


def test_an_end_of_sequence_outside_the_top_beam_width_candidates_is_dropped():
    # As in Hugging Face: with one beam, "</s>" (0.4) ranks second at step 1, so it is
    # not a finished hypothesis, although its score beats everything that follows.
    table = np.array(TABLE)
    table[0] = [0.0, 0.4, 0.6, 0.0, 0.0]
    model = TableModel(table)
    results = beam_search(model, "<s>", beam_width=1, max_new_tokens=2)
    assert all(h.text != "<s> </s>" for h in results)
    assert exhaustive_search(model, "<s>", max_new_tokens=2)[0].text == "<s> </s>"


def test_beam_search_steps_expose_each_step():
    model = TableModel(TABLE)
    steps = list(beam_search_steps(model, "<s>", beam_width=2, max_new_tokens=3))
    assert [step.step for step in steps] == [1, 2, 3]
    first, second = steps[0], steps[1]
    assert [h.text for h in first.candidates] == ["<s> a", "<s> b", "<s> c"]
    assert [h.text for h in first.beams] == ["<s> a", "<s> b"]
    # Step 2: "b c" (0.36), then four ties at 0.125 after "a", lower token ids first.
    assert [h.text for h in second.candidates] == ["<s> b c", "<s> a </s>", "<s> a a", "<s> a b"]
    assert [h.text for h in second.beams] == ["<s> b c", "<s> a a"]
    assert [h.text for h in second.finished] == ["<s> a </s>"]
    assert steps[-1].beams == []
    for step in steps:
        assert len(step.beams) <= 2
        assert len(step.candidates) <= 4
        scores = [h.score for h in step.finished]
        assert scores == sorted(scores, reverse=True)
        for h in step.candidates:
            assert h.score == pytest.approx(length_normalized(h.log_prob, h.length))


# --- the tiny model ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def model():
    return lm.load()


def test_on_the_tiny_model_the_best_two_words_start_with_a_less_likely_word(model):
    greedy = greedy_decode(model, "the cat", 2)
    best = exhaustive_search(model, "the cat", max_new_tokens=2, top=1)[0]
    assert greedy.text == "the cat sat on"
    assert best.text == "the cat slept soundly"
    first_probs = model.next_token_probs("the cat")
    assert first_probs[best.token_ids[0]] < first_probs[greedy.token_ids[0]]
    assert best.log_prob > greedy.log_prob + 0.5
    assert beam_search(model, "the cat", beam_width=2, max_new_tokens=2)[0].text == best.text


def test_on_the_tiny_model_a_full_width_beam_equals_exhaustive_search(model):
    options = {"max_new_tokens": 2, "length_penalty": 1.0}
    exhaustive = exhaustive_search(model, "the dog", **options)
    beams = beam_search(model, "the dog", beam_width=model.vocab_size**2, **options)
    assert len(beams) == len(exhaustive) == model.vocab_size * (model.vocab_size - 1) + 1
    np.testing.assert_allclose([h.score for h in beams], [h.score for h in exhaustive])
    assert [h.text for h in beams[:20]] == [h.text for h in exhaustive[:20]]


def test_length_penalty_changes_which_complete_sentence_wins(model):
    short = beam_search(model, "<s>", beam_width=4, max_new_tokens=12, length_penalty=0.0)[0]
    long = beam_search(model, "<s>", beam_width=4, max_new_tokens=12, length_penalty=3.0)[0]
    assert short.finished
    assert long.finished
    assert long.length > short.length


def test_sample_decode_is_reproducible_and_top_k_one_is_greedy(model):
    first = sample_decode(model, "the", np.random.default_rng(4), max_new_tokens=12)
    again = sample_decode(model, "the", np.random.default_rng(4), max_new_tokens=12)
    assert first.text == again.text
    assert first.finished
    ids = np.concatenate([model.encode("the"), first.token_ids])
    manual = sum(
        float(utils.log_softmax(model.next_token_logits(ids[:t]))[ids[t]])
        for t in range(1, len(ids))
    )
    assert first.log_prob == pytest.approx(manual, rel=1e-12)
    greedy = greedy_decode(model, "the", 12)
    sampled = sample_decode(model, "the", np.random.default_rng(0), max_new_tokens=12, top_k=1)
    assert sampled.text == greedy.text
    assert sampled.log_prob == pytest.approx(greedy.log_prob)


def test_decoded_log_probs_agree_with_sequence_log_prob(model):
    hypothesis = greedy_decode(model, "a girl", 10)
    ids = np.concatenate([model.encode("a girl"), hypothesis.token_ids])
    # Position t of the logits scores token t + 1: contexts are the prefixes.
    logits = np.stack([model.next_token_logits(ids[:t]) for t in range(2, len(ids))])
    assert sequence_log_prob(logits, ids[2:]) == pytest.approx(hypothesis.log_prob, rel=1e-12)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda m: greedy_decode(m, "", 3), ValueError, "empty"),
        (lambda m: greedy_decode(m, [], 3), ValueError, "prefix is empty"),
        (lambda m: greedy_decode(m, [1.5, 2.0], 3), TypeError, "token ids"),
        (lambda m: greedy_decode(m, "the", 0), ValueError, "max_new_tokens must be >= 1"),
        (lambda m: beam_search(m, "the", beam_width=0, max_new_tokens=2), ValueError, "beam"),
        (lambda m: greedy_decode(object(), [0], 2), TypeError, "next_token_logits"),
        (lambda m: exhaustive_search(m, "the", max_new_tokens=5), ValueError, "beam_search"),
        (lambda m: greedy_decode(m, "the", 3, eos="<end>"), ValueError, "not in the model's"),
        (lambda m: greedy_decode(m, "the", 3, eos=78), ValueError, "0 to 77"),
        (lambda m: greedy_decode(m, "the", 3, eos=1.0), TypeError, "token id"),
    ],
)
def test_bad_decoding_arguments_raise_clear_errors(model, call, error, message):
    with pytest.raises(error, match=message):
        call(model)


def test_eos_is_a_token_or_its_id_and_stops_decoding(model):
    by_token = greedy_decode(model, "the cat", 10, eos="mat")
    by_id = greedy_decode(model, "the cat", 10, eos=model.vocab.index("mat"))
    default = greedy_decode(model, "the cat", 10)
    assert by_token.text == by_id.text
    np.testing.assert_array_equal(by_token.token_ids, by_id.token_ids)
    assert by_token.text == "the cat sat on the mat"
    assert by_token.finished
    assert default.text.endswith("</s>")
    assert len(default.token_ids) > len(by_token.token_ids)
    beams = beam_search(model, "the cat", beam_width=2, max_new_tokens=4, eos="mat")
    assert all(h.token_ids[-1] == model.vocab.index("mat") for h in beams if h.finished)


def test_docstring_examples_run():
    assert doctest.testmod(utils.sequences, raise_on_error=False).failed == 0


def test_an_empty_prefix_names_the_models_own_start_token():
    for model, start in ((lm.load(), "'<s>'"), (lm.load_token_model(), "'<|endoftext|>'")):
        with pytest.raises(ValueError, match=re.escape(start)):
            greedy_decode(model, [], 3)


def test_the_last_steps_finished_list_also_holds_length_limited_beams():
    model = lm.load()
    steps = list(beam_search_steps(model, "the cat", beam_width=3, max_new_tokens=3))
    last = steps[-1].finished
    assert [h.finished for h in last] == [h.token_ids[-1] == model.eos_id for h in last]
    assert any(h.finished for h in last)
    assert not all(h.finished for h in last)
    assert all(h.finished for step in steps[:-1] for h in step.finished)
    assert [h.score for h in last] == sorted((h.score for h in last), reverse=True)


def test_exhaustive_search_top_is_the_head_of_the_full_ranking():
    # Hypothesis objects are built only for the `top` returned: the same ones, in the same
    # order (ties included), as the head of the full ranking.
    model = lm.load()
    for length_penalty in (0.0, 1.0, -0.5):
        full = exhaustive_search(model, "the cat", max_new_tokens=2, length_penalty=length_penalty)
        head = exhaustive_search(
            model, "the cat", max_new_tokens=2, length_penalty=length_penalty, top=7
        )
        assert len(head) == 7
        assert len(full) > 7
        for short, long in zip(head, full, strict=False):
            assert (short.text, short.score) == (long.text, long.score)
            assert short.finished == long.finished
            np.testing.assert_array_equal(short.token_ids, long.token_ids)
            np.testing.assert_array_equal(short.token_log_probs, long.token_log_probs)
        scores = [h.score for h in full]
        assert scores == sorted(scores, reverse=True)
