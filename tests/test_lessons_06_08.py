"""Lessons 06 (sequence scores), 07 (the training signal) and 08 (debugging case studies).

* every exercise's reference, and the solution written in the lesson's notebook, pass the
  visible cases and the grader's hidden cases; other correct ways of writing them pass too;
* realistic wrong answers fail with the diagnostic written for them, and the buggy code that
  lesson 08 ships (read from the notebook itself) fails with the message naming its bug;
* the code the notebooks write agrees with `utils`;
* the claims the lessons' prose makes about the shipped tiny model still hold.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import nbformat
import numpy as np
import pytest
from notebook_code import solution_namespace

import utils
from utils import exercises, lm, sequences
from utils.checks import evaluate, run_case
from utils.exercises import lesson07

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = {
    "06": "06_sequence_scores.ipynb",
    "07": "07_training_signal.ipynb",
    "08": "08_debugging_case_studies.ipynb",
}
EXPECTED_POINTS = {
    "06.sequence_log_prob": 2,
    "06.length_normalized": 1,
    "06.best_sequence": 2,
    "06.greedy_traps": 2,
    "06.beam_trap": 3,
    "06.run_on_diagnosis": 2,
    "06.sequence_entropy": 2,
    "07.cross_entropy": 2,
    "07.cross_entropy_gradient": 2,
    "07.sgd_step": 2,
    "07.predict_step_signs": 2,
    "08.next_token_probs": 1,
    "08.candidate_probs": 1,
    "08.sequence_scores": 1,
    "08.most_confident_context": 1,
    "08.log_probs_fp16": 1,
    "08.rank_completions": 1,
    "08.score_completions": 3,
    "08.audit_completion": 3,
    "08.audit_verdict": 2,
}
SEEDS = (0, 1, 2, 3)
# The value exercises (a prediction, a verdict) are tested in tests/test_lesson_07_08_reasoning.py.
FUNCTION_EXERCISES = sorted(
    exercise_id for exercise_id in EXPECTED_POINTS if exercises.get(exercise_id).kind == "function"
)


def notebook_namespace(lesson: str) -> dict:
    return solution_namespace(NOTEBOOKS[lesson])


def notebook_function(lesson: str, name: str):
    return notebook_namespace(lesson)[name]


# Cells a value exercise's answer cell reads, run before it (besides the imports cell).
VALUE_SETUP = {"06.greedy_traps": ["greedy-trap-contexts"]}


def notebook_value(spec):
    """The value a value exercise's answer cell computes in the solution notebook."""
    notebook = nbformat.read(ROOT / "solutions" / NOTEBOOKS[spec.lesson], as_version=4)
    cells = {cell.id: cell for cell in notebook.cells}
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    (answer,) = [
        cell
        for cell in code_cells
        if cell.metadata.get("nbgrader", {}).get("grade_id") == spec.grade_id
    ]
    values: dict = {}
    with np.printoptions():
        exec(code_cells[0].source, values)
        values["model"] = lm.load()
        for cell_id in VALUE_SETUP.get(spec.id, []):
            exec(cells[cell_id].source, values)
        exec(answer.source, values)
    return values[spec.answer_name]


def verdict(exercise_id: str, answer, cases=None) -> tuple[str, str]:
    spec = exercises.get(exercise_id)
    cases = list(spec.check_cases if cases is None else cases)
    result = evaluate(spec, cases, [run_case(answer, spec, case) for case in cases])
    return result.status, result.message


def all_cases(exercise_id: str) -> list:
    spec = exercises.get(exercise_id)
    cases = list(spec.visible_cases)
    for seed in SEEDS:
        cases += spec.draw_hidden_cases(seed)
    return cases


# --- the specs -----------------------------------------------------------------------------------


def test_lessons_register_the_expected_exercises():
    found = {
        spec.id: spec.points
        for lesson in ("06", "07", "08")
        for spec in exercises.for_lesson(lesson)
    }
    assert found == EXPECTED_POINTS


@pytest.mark.parametrize("exercise_id", FUNCTION_EXERCISES)
def test_reference_passes_visible_and_hidden_cases(exercise_id):
    spec = exercises.get(exercise_id)
    if spec.kind == "value":
        assert verdict(exercise_id, spec.reference())[0] == "passed"
        return
    status, message = verdict(exercise_id, spec.reference, all_cases(exercise_id))
    assert status == "passed", message


@pytest.mark.parametrize("exercise_id", FUNCTION_EXERCISES)
def test_notebook_solution_passes_visible_and_hidden_cases(exercise_id):
    spec = exercises.get(exercise_id)
    if spec.kind == "value":
        status, message = verdict(exercise_id, notebook_value(spec))
        assert status == "passed", message
        return
    answer = notebook_function(spec.lesson, spec.answer_name)
    status, message = verdict(exercise_id, answer, all_cases(exercise_id))
    assert status == "passed", message


@pytest.mark.parametrize("exercise_id", FUNCTION_EXERCISES)
def test_hidden_cases_are_deterministic_per_seed_and_vary_between_seeds(exercise_id):
    spec = exercises.get(exercise_id)
    if spec.kind == "value":  # judged once, without hidden cases
        assert spec.draw_hidden_cases(5) == []
        return
    labels = [[case.label for case in spec.draw_hidden_cases(seed)] for seed in (5, 5, 6)]
    assert labels[0] == labels[1]
    first, again, other = (spec.draw_hidden_cases(seed) for seed in (5, 5, 6))
    for left, right in zip(first, again, strict=True):
        for a, b in zip(left.args, right.args, strict=True):
            np.testing.assert_array_equal(a, b)
    assert any(
        np.shape(a) != np.shape(b) or not np.array_equal(a, b)
        for left, right in zip(first, other, strict=False)
        for a, b in zip(left.args, right.args, strict=False)
    )


@pytest.mark.parametrize("exercise_id", FUNCTION_EXERCISES)
def test_the_stub_is_not_attempted(exercise_id):
    def stub(*args, **kwargs):
        raise NotImplementedError(f"Exercise {exercise_id}: replace this line with your code")

    # A value exercise's stub cell leaves the answer None.
    answer = None if exercises.get(exercise_id).kind == "value" else stub
    assert verdict(exercise_id, answer)[0] == "not_attempted"


# --- wrong and other correct answers ------------------------------------------------------------
# They live in the mistake catalogue (tests/catalogue/lesson06.py .. lesson08.py), which
# tests/test_catalogue.py runs through `check` and the grader's path with hidden cases.


# The buggy code lesson 08 ships, read from the notebook: each must fail its exercise's check
# with the message that names its bug.
LESSON_08_BUGS = [
    ("buggy_next_token_probs", "08.next_token_probs", "still normalizes over the batch axis"),
    ("buggy_candidate_probs", "08.candidate_probs", "still renormalizes over the candidate subset"),
    ("buggy_sequence_scores", "08.sequence_scores", "still multiplies probabilities"),
    (
        "buggy_most_confident_context",
        "08.most_confident_context",
        "still compares raw logits across contexts",
    ),
    ("buggy_log_probs_fp16", "08.log_probs_fp16", "still computes exp in float16"),
    ("buggy_rank_completions", "08.rank_completions", "still ranks by the raw total"),
]


@pytest.mark.parametrize(("function_name", "exercise_id", "expected"), LESSON_08_BUGS)
def test_lesson_08_buggy_code_fails_with_the_message_naming_its_bug(
    function_name, exercise_id, expected
):
    buggy = notebook_function("08", function_name)
    status, message = verdict(exercise_id, buggy)
    assert status == "failed", message
    assert expected in message, message
    # and on the grader's hidden cases it is never right everywhere either
    spec = exercises.get(exercise_id)
    hidden = [case for seed in SEEDS for case in spec.draw_hidden_cases(seed)]
    with np.errstate(all="ignore"):
        assert verdict(exercise_id, buggy, hidden)[0] == "failed"


def test_lesson_08_second_float16_bug_the_vocabulary_sum_is_named():
    # The max-shift alone, kept in float16: fine on small vocabularies, inf on 70,000 tokens.
    def shifted_in_half(z):
        shifted = z - z.max(axis=-1, keepdims=True)
        return (shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))).astype(np.float32)

    spec = exercises.get("08.log_probs_fp16")
    flat = [case for case in spec.visible_cases if "70,000" in case.label]
    assert len(flat) == 1
    status, message = verdict("08.log_probs_fp16", shifted_in_half, flat)
    assert status == "failed"
    assert "still sums in float16" in message, message


# --- the notebooks' code agrees with utils -------------------------------------------------------


def test_lesson_06_notebook_functions_agree_with_utils():
    namespace = notebook_namespace("06")
    rng = np.random.default_rng(60)
    for _ in range(5):
        logits = 3.0 * rng.standard_normal((int(rng.integers(1, 30)), 11))
        ids = rng.integers(0, 11, size=len(logits))
        assert namespace["sequence_log_prob"](logits, ids) == pytest.approx(
            float(utils.sequence_log_prob(logits, ids)), rel=1e-12
        )
        score, length, penalty = -rng.uniform(1, 20), int(rng.integers(1, 20)), rng.uniform(0, 2)
        assert namespace["length_normalized"](score, length, penalty) == pytest.approx(
            float(utils.length_normalized(score, length, length_penalty=penalty)), rel=1e-12
        )


def test_lesson_06_best_sequence_agrees_with_a_loop_over_every_sequence():
    best_sequence = notebook_function("06", "best_sequence")
    rng = np.random.default_rng(61)
    for vocab in (2, 3, 4):
        first = rng.dirichlet(np.ones(vocab))
        second = rng.dirichlet(np.ones(vocab), size=vocab)
        third = rng.dirichlet(np.ones(vocab), size=(vocab, vocab))
        scores = {
            (a, b, c): np.log(first[a]) + np.log(second[a, b]) + np.log(third[a, b, c])
            for a in range(vocab)
            for b in range(vocab)
            for c in range(vocab)
        }
        best = max(scores, key=scores.get)
        ids, log_prob = best_sequence(first, second, third)
        assert tuple(int(i) for i in ids) == best
        assert log_prob == pytest.approx(scores[best], rel=1e-12)


def test_lesson_07_notebook_gradient_matches_its_finite_differences():
    namespace = notebook_namespace("07")
    rng = np.random.default_rng(70)
    logits = 4.0 * rng.standard_normal((3, 9))
    targets = rng.integers(0, 9, size=3)
    numeric = namespace["numerical_gradient"](
        lambda z: namespace["cross_entropy"](z, targets), logits
    )
    analytic = namespace["cross_entropy_gradient"](logits, targets)
    np.testing.assert_allclose(numeric, analytic, atol=1e-9)
    np.testing.assert_allclose(analytic.sum(axis=-1), 0.0, atol=1e-15)


def test_lesson_07_notebook_sgd_step_lowers_the_loss_and_keeps_its_inputs():
    namespace = notebook_namespace("07")
    rng = np.random.default_rng(71)
    weights, bias = rng.standard_normal((5, 7)), rng.standard_normal(7)
    features, targets = rng.standard_normal((20, 5)), rng.integers(0, 7, size=20)
    before = weights.copy(), bias.copy()
    new_weights, new_bias = namespace["sgd_step"](weights, bias, features, targets, 0.05)
    np.testing.assert_array_equal(weights, before[0])
    np.testing.assert_array_equal(bias, before[1])
    loss = namespace["cross_entropy"]
    assert loss(features @ new_weights + new_bias, targets) < loss(
        features @ weights + bias, targets
    )


def test_lesson_08_fixed_scorer_agrees_with_utils_on_a_padded_float16_batch():
    score_completions = notebook_function("08", "score_completions")
    rng = np.random.default_rng(80)
    logits = (3.0 * rng.standard_normal((4, 6, 13))).astype(np.float16)
    ids = rng.integers(0, 13, size=(4, 6))
    mask = np.arange(6) < np.array([6, 1, 3, 4])[:, None]
    expected = utils.length_normalized(
        utils.sequence_log_prob(logits.astype(np.float64), ids, mask=mask),
        mask.sum(-1),
        length_penalty=0.7,
    )
    np.testing.assert_allclose(
        score_completions(logits, ids, mask, length_penalty=0.7), expected, rtol=1e-12
    )


# --- what the prose says about the tiny model ----------------------------------------------------


@pytest.fixture(scope="module")
def model():
    return lm.load()


def test_lesson_06_claims_about_the_model(model):
    assert utils.greedy_decode(model, "the cat", max_new_tokens=2).text == "the cat sat on"
    best = sequences.exhaustive_search(
        model, "the cat", max_new_tokens=2, length_penalty=0.0, top=1
    )[0]
    assert best.text == "the cat slept soundly"
    by_width = {
        width: utils.beam_search(model, "the cat", beam_width=width, max_new_tokens=8)[0].text
        for width in (1, 2)
    }
    assert by_width == {1: "the cat sat on the mat </s>", 2: "the cat slept soundly </s>"}
    rambling = utils.beam_search(
        model, "the cat", beam_width=3, max_new_tokens=10, length_penalty=2.0
    )[0]
    assert " and " in rambling.text
    assert not rambling.finished
    mode = sequences.exhaustive_search(
        model, "the cat", max_new_tokens=3, length_penalty=0.0, top=1
    )[0]
    assert 0.15 < np.exp(mode.log_prob) < 0.21  # "about 18%"


def test_lesson_06_length_bias_claims(model):
    namespace = notebook_namespace("06")
    namespace["model"] = model  # the helper reads the notebook's global `model`
    continuation_log_probs = namespace["continuation_log_probs"]
    short = continuation_log_probs("the cat", "slept </s>")
    long = continuation_log_probs("the cat", "sat on the mat </s>")
    # "about -3.2 against -3.9 ... per token about -1.6 against -0.8"
    assert round(float(short.sum()), 1) == -3.2
    assert round(float(long.sum()), 1) == -3.9
    assert round(float(short.mean()), 1) == -1.6
    assert round(float(long.mean()), 1) == -0.8


def test_lesson_06_underflow_numbers():
    token_probs = np.random.default_rng(6).uniform(0.01, 0.2, size=400)
    assert np.prod(token_probs) == 0.0
    assert -1000 < np.log(token_probs).sum() < -745
    float32_product = np.cumprod(token_probs.astype(np.float32))
    assert 35 <= int(np.argmax(float32_product == 0)) + 1 <= 50  # "after about 40 tokens"


def test_lesson_07_claims_about_the_model(model):
    sentences = lm.corpus.sample_sentences(300, np.random.default_rng(11))
    width = max(len(ids) for ids in sentences)
    prefixes = np.array(
        [
            np.concatenate([[model.bos_id] * (width - t), ids[:t]])
            for ids in sentences
            for t in range(1, len(ids))
        ]
    )
    targets = np.array([ids[t] for ids in sentences for t in range(1, len(ids))])
    model_loss = lesson07.cross_entropy_reference(model.next_token_logits(prefixes), targets)
    truth = model.true_next_token_probs(prefixes)[np.arange(len(targets)), targets]
    grammar_loss = float(-np.log(truth).mean())
    assert grammar_loss < model_loss < grammar_loss + 0.02 < np.log(model.vocab_size)


def test_lesson_07_retrained_layer_ends_below_the_shipped_model_on_its_own_data(model):
    namespace = notebook_namespace("07")
    sentences = lm.corpus.sample_sentences(50, np.random.default_rng(20))
    contexts = [model.context_window(ids[:t]) for ids in sentences for t in range(1, len(ids))]
    targets = np.array([ids[t] for ids in sentences for t in range(1, len(ids))])
    features = model.features(np.array(contexts))
    weights, bias = np.zeros_like(model.output_weights), np.zeros_like(model.output_bias)
    losses = []
    for _ in range(100):
        weights, bias = namespace["sgd_step"](weights, bias, features, targets, 0.1)
        losses.append(namespace["cross_entropy"](features @ weights + bias, targets))
    shipped = namespace["cross_entropy"](model.next_token_logits(np.array(contexts)), targets)
    assert losses[-1] < shipped < losses[50]  # "towards the end it even drops below"
    assert all(later < earlier for earlier, later in itertools.pairwise(losses))


def test_lesson_08_claims_about_the_model(model):
    vocab = model.vocab
    logits = model.next_token_logits("the cat sat on the")
    ids = [vocab.index("tree"), vocab.index("car")]
    assert utils.softmax(logits[ids])[0] > 0.9  # "over 90 % sure"
    assert utils.softmax(logits)[ids].sum() < 1e-3
    monitored = ["the cat", "the cat sat", "the cat slept", "the dog ran"]
    monitored_logits = model.next_token_logits(monitored)
    top = utils.softmax(monitored_logits).max(-1)
    assert monitored[int(np.argmax(monitored_logits.max(-1)))] == "the cat sat"
    assert monitored[int(np.argmax(top))] == "the cat slept"
    assert 0.3 < top[1] < 0.38  # "top word 0.34"
    assert 0.75 < top[2] < 0.85  # "80 % sure of soundly"
    half = model.next_token_logits(["the cat", "the dog ran", "a bird"]).astype(np.float16)
    overflows = half.max(axis=-1) > np.log(np.finfo(np.float16).max)
    assert overflows.tolist() == [True, False, True]
