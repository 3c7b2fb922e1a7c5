"""utils.sampling.repetition_penalty: Hugging Face's RepetitionPenaltyLogitsProcessor."""

from __future__ import annotations

import numpy as np
import pytest

from utils.sampling import repetition_penalty


def hugging_face_rule(row, seen, penalty):
    # HF gathers the seen tokens' logits, rescales them, scatters them back: once per token.
    result = [float(value) for value in row]
    for token in {int(token) for token in seen}:
        value = result[token]
        result[token] = value * penalty if value < 0 else value / penalty
    return result


def test_hand_worked_example():
    got = repetition_penalty([2.0, -1.0, 0.5, 0.0], [0, 1, 0, 3], penalty=2.0)
    np.testing.assert_array_equal(got, [1.0, -2.0, 0.5, 0.0])


@pytest.mark.parametrize("penalty", [0.5, 1.0, 1.3, 3.0])
def test_matches_the_rule_on_random_batches(penalty):
    rng = np.random.default_rng(9)
    logits = rng.normal(0.0, 3.0, (4, 17))
    seen = rng.integers(0, 17, (4, 9))
    got = repetition_penalty(logits, seen, penalty)
    want = [hugging_face_rule(row, ids, penalty) for row, ids in zip(logits, seen, strict=True)]
    np.testing.assert_allclose(got, want, rtol=0, atol=0)


def test_a_repeated_token_is_penalized_once_and_becomes_less_likely():
    logits = np.array([3.0, 1.0, -2.0])
    once = repetition_penalty(logits, [0], 1.5)
    many = repetition_penalty(logits, [0, 0, 0, 0], 1.5)
    np.testing.assert_array_equal(once, many)
    assert once[0] < logits[0]
    assert repetition_penalty(logits, [2], 1.5)[2] < logits[2]


def test_penalty_one_and_no_history_change_nothing():
    logits = np.array([0.3, -1.0, 2.0], dtype=np.float32)
    np.testing.assert_array_equal(repetition_penalty(logits, [0, 1, 2], 1.0), logits)
    np.testing.assert_array_equal(repetition_penalty(logits, [], 2.0), logits)


def test_keeps_dtype_minus_inf_and_does_not_modify_input():
    logits = np.array([[1.0, -np.inf, 4.0]], dtype=np.float32)
    before = logits.copy()
    got = repetition_penalty(logits, np.array([[1, 2]]), 2.0)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, [[1.0, -np.inf, 2.0]])
    np.testing.assert_array_equal(logits, before)


@pytest.mark.parametrize(
    ("logits", "ids", "penalty", "error", "words"),
    [
        ([1.0, 2.0], [0], 0.0, ValueError, "> 0"),
        ([1.0, 2.0], [0], -1.0, ValueError, "> 0"),
        ([1.0, 2.0], [0], float("nan"), ValueError, "finite"),
        ([1.0, 2.0], [0], True, TypeError, "positive number"),
        ([1.0, 2.0], [2], 1.5, ValueError, "outside"),
        ([1.0, 2.0], [-1], 1.5, ValueError, "outside"),
        ([1.0, 2.0], [0.5], 1.5, TypeError, "integer"),
        ([[1.0, 2.0], [0.0, 1.0]], [0], 1.5, ValueError, "one row of ids"),
        ([1.0, float("nan")], [0], 1.5, ValueError, "NaN"),
    ],
)
def test_bad_arguments_are_named(logits, ids, penalty, error, words):
    with pytest.raises(error, match=words):
        repetition_penalty(logits, ids, penalty)


def test_a_seen_logit_never_rises_but_a_seen_probability_can():
    logits = np.array([10.0, 1.0, 0.0, -2.0])
    penalized = repetition_penalty(logits, [0, 1, 2, 3], 2.0)
    assert (penalized <= logits).all()
    assert penalized[2] == 0.0  # a logit of exactly 0 stays
    probs = np.exp(logits) / np.exp(logits).sum()
    new_probs = np.exp(penalized) / np.exp(penalized).sum()
    assert new_probs[1] > probs[1]  # the favourite fell further: token 1 gained
