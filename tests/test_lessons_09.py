"""Lesson 09 (tokens, not words): exercises, notebook code and the claims of its prose.

* every exercise's reference, and the solution written in the notebook, pass the visible
  cases and the grader's hidden cases;
* the buggy scorer the lesson shows fails `check` with the diagnosis of its bug;
* what the prose says about the tokenizer, the token model and the truth still holds
  (a retrained model that breaks a claim fails here, so the prose gets updated).
"""

from __future__ import annotations

import csv
import functools
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from notebook_code import SOLUTIONS, solution_namespace

from tests.catalogue import lesson09 as catalogue
from tests.catalogue import load
from utils import exercises, lm
from utils.checks import check, evaluate, run_case
from utils.exercises import lesson09
from utils.exercises.lesson09 import encode, next_token_log_probs
from utils.lm.token_train import evaluate as evaluate_model
from utils.lm.token_train import nucleus_sizes, token_corpus
from utils.sampling import repetition_penalty
from utils.sequences import greedy_decode, sample_decode

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "09_tokens_not_words.ipynb"
EXPECTED_POINTS = {
    "09.word_log_prob": 2,
    "09.diagnose_scorer": 1,
    "09.candidate_scores": 3,
    "09.normalized_score": 2,
}
SEEDS = (0, 1, 2, 3)
LOOP = " that saw the"


@functools.cache
def model():
    return lm.load_token_model()


def namespace() -> dict:
    return solution_namespace(NOTEBOOK)


def outcome(spec, answer, cases):
    result = evaluate(spec, cases, [run_case(answer, spec, case) for case in cases])
    return result.status, result.message


# --- the specs --------------------------------------------------------------------------------


def test_lesson_registers_the_expected_exercises():
    assert {spec.id: spec.points for spec in exercises.for_lesson("09")} == EXPECTED_POINTS


@pytest.mark.parametrize("exercise_id", sorted(EXPECTED_POINTS))
def test_reference_passes_visible_and_hidden_cases(exercise_id):
    spec = exercises.get(exercise_id)
    answer = spec.reference if spec.kind == "function" else spec.reference()
    assert check(exercise_id, answer).status == "passed"
    if spec.kind == "value":
        return
    for seed in SEEDS:
        cases = spec.draw_hidden_cases(seed)
        assert len(cases) >= 5
        status, message = outcome(spec, spec.reference, cases)
        assert status == "passed", f"seed {seed}: {message}"


def test_hidden_cases_depend_on_the_seed():
    for spec in exercises.for_lesson("09"):
        if spec.kind == "function":
            first, second = spec.draw_hidden_cases(0), spec.draw_hidden_cases(1)
            assert repr(first[0].args) != repr(second[0].args), spec.id


def notebook_answer(spec):
    if spec.kind == "function":
        return namespace()[spec.answer_name]
    notebook = nbformat.read(SOLUTIONS / NOTEBOOK, as_version=4)
    (cell,) = [
        cell
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id") == spec.grade_id
    ]
    values: dict = {}
    exec(cell.source, values)
    return values[spec.answer_name]


@pytest.mark.parametrize("exercise_id", sorted(EXPECTED_POINTS))
def test_notebook_solution_passes_visible_and_hidden_cases(exercise_id):
    spec = exercises.get(exercise_id)
    answer = notebook_answer(spec)
    assert check(exercise_id, answer).status == "passed"
    if spec.kind == "function":
        for seed in SEEDS[:2]:
            status, message = outcome(spec, answer, spec.draw_hidden_cases(seed))
            assert status == "passed", f"seed {seed}: {message}"


def test_the_lessons_naive_scorer_fails_with_the_diagnosis_of_its_bug():
    naive = namespace()["naive_candidate_scores"]
    result = check(
        "09.candidate_scores",
        lambda prompt, candidates, encode, next_token_log_probs: naive(prompt, candidates),
    )
    assert result.status == "failed"
    assert "without its leading space" in result.message


def test_the_exercise_text_lists_the_diagnosis_options_of_the_spec():
    notebook = nbformat.read(SOLUTIONS / NOTEBOOK, as_version=4)
    (text,) = [cell.source for cell in notebook.cells if cell.id == "diagnose-exercise"]
    words = " ".join(text.split())
    for letter, option in lesson09.DIAGNOSIS_OPTIONS.items():
        assert f"({letter}) {option}" in words, letter


# --- what the prose says ----------------------------------------------------------------------


def test_spaces_belong_to_the_word_after_them():
    tokenizer = model().tokenizer
    assert tokenizer.tokenize(" cat") == ["Ġcat"]
    assert len(tokenizer.tokenize("cat")) >= 2
    assert tokenizer.tokenize("A") == ["A"]
    assert tokenizer.tokenize(" A") == ["Ġ", "A"]
    assert tokenizer.tokenize("The cat sat on the ")[-1] == "Ġ"


def test_hand_example_of_the_chain_rule_inside_a_word():
    rows = np.array([lesson09._AFTER_CONTEXT, lesson09._AFTER_BUT, lesson09._AFTER_BUTTER])
    np.testing.assert_allclose(rows.sum(axis=1), 1.0)
    but, ter = lesson09.HAND_TOKENS.index(" but"), lesson09.HAND_TOKENS.index("ter")
    assert rows[0, but] * rows[1, ter] == pytest.approx(0.1)
    assert rows[2, lesson09.HAND_STARTS_WORD].sum() == pytest.approx(0.58)
    reference = lesson09.word_log_prob_reference(
        np.log(rows), [but, ter], lesson09.HAND_STARTS_WORD
    )
    assert np.exp(reference) == pytest.approx(0.058)


def _truth_along_word(context, word):
    context_ids = list(model().encode(context))
    word_ids = list(model().word_token_ids(word))
    true = model().truth.along(np.array(context_ids + word_ids))[len(context_ids) - 1 :]
    pieces = np.prod([true[i, token] for i, token in enumerate(word_ids)])
    return pieces, true[-1, model().starts_word].sum()


def test_butter_is_seen_only_as_the_start_of_butterfly():
    pieces, ends = _truth_along_word("Alice saw the", " butter")
    assert pieces > 1e-4
    assert ends == 0.0
    assert model().true_next_word_probs("Alice saw the")[model().words.index(" butter")] == 0.0
    pieces, ends = _truth_along_word("Alice ate the", " butter")
    word = model().true_next_word_probs("Alice ate the")[model().words.index(" butter")]
    assert ends == pytest.approx(1.0)
    assert pieces * ends == pytest.approx(word, rel=1e-12)


def test_multi_token_words_are_about_as_close_to_the_truth_as_single_tokens():
    model_word_prob = namespace()["model_word_prob"]
    truth = model().true_next_word_probs("Alice ate the")
    for word in (" plum", " carrot", " sandwich", " pizza"):
        ratio = model_word_prob("Alice ate the", word) / truth[model().words.index(word)]
        assert 0.5 < ratio < 2.0, (word, ratio)
    assert len(model().word_tokens(" plum")) == 1
    assert len(model().word_tokens(" sandwich")) == 5


def test_the_naive_split_differs_from_the_tokenizers_except_after_a_bare_space():
    prompt = "The cat sat on the "
    for word, same in (("mat", False), ("sofa", False), ("island", True), ("orchard", True)):
        assert (encode(prompt) + encode(word) == encode(prompt + word)) is same, word
    assert model().tokenizer.tokenize(" island")[0] == "Ġ"


def test_the_naive_scorer_makes_every_candidate_look_impossible():
    options = ["mat", "sofa", "tree", "moon"]
    naive = namespace()["naive_candidate_scores"]("The cat sat on the ", options)
    fixed = lesson09.candidate_scores_reference(
        "The cat sat on the ", options, encode, next_token_log_probs
    )
    assert naive.max() < fixed.max() - 8  # "all but impossible"
    assert list(np.argsort(naive)) != list(np.argsort(fixed))
    assert int(np.argmax(fixed)) == 0
    assert int(np.argmin(fixed)) == 3
    assert " moon" not in model().words


def test_per_token_and_per_word_normalization_disagree_on_sofa_and_kitchen():
    completion_log_probs = namespace()["completion_log_probs"]
    scores = {}
    for text in (" sofa.", " kitchen."):
        log_probs, ids = completion_log_probs("The cat sat on the", text)
        words = int(model().starts_word[ids].sum())
        assert words == 2
        scores[text] = (log_probs.sum(), log_probs.sum() / len(ids), log_probs.sum() / words)
        assert len(ids) == (2 if text == " sofa." else 6)
        if text == " kitchen.":
            assert log_probs[0] < -3  # "about 5 nats at its first token"
            assert (log_probs[2:5] > -0.2).all()  # "c he n nearly certain"
    (sofa_total, sofa_token, sofa_word), (kitchen_total, kitchen_token, kitchen_word) = (
        scores[" sofa."],
        scores[" kitchen."],
    )
    assert sofa_total > kitchen_total
    assert sofa_word > kitchen_word
    assert kitchen_token > sofa_token
    truth = model().true_next_word_probs("The cat sat on the")
    assert truth[model().words.index(" sofa")] > truth[model().words.index(" kitchen")]


def test_the_model_is_within_a_tenth_of_a_nat_of_the_truth():
    gap = evaluate_model(model(), token_corpus(model().truth, 100, np.random.default_rng(2026)))
    assert 0.0 < gap["kl_truth_model"] < 0.1
    excess = gap["model_cross_entropy"] - gap["truth_cross_entropy"]
    assert abs(excess - gap["kl_truth_model"]) < 0.03  # "exceeds the truth's by about the KL"


def test_nucleus_sizes_range_from_one_to_over_a_hundred():
    sentences = token_corpus(model().truth, 40, np.random.default_rng(9))
    sizes = nucleus_sizes(np.concatenate([model().next_token_probs_along(s) for s in sentences]))
    assert sizes.min() == 1
    assert sizes.max() > 100
    flat = np.sort(model().next_token_probs("The"))[::-1]
    assert 0.55 < flat[:50].sum() < 0.78  # "about two thirds"
    peaked = model().next_token_probs("A farmer devoured")
    assert nucleus_sizes(peaked[None])[0] < 50


def test_greedy_loops_and_sampling_or_a_penalty_escapes():
    greedy = greedy_decode(model(), "Alice saw the dog", 40).text
    assert greedy.count(LOOP) >= 8
    nouns = {part.split()[0] for part in greedy.split(LOOP)[1:] if part.split()}
    assert len(nouns) <= 4, nouns  # "the noun switching between a few favourites"
    for seed in range(3):
        text = sample_decode(
            model(), "Alice saw the dog", np.random.default_rng(seed), max_new_tokens=40, top_p=0.9
        ).text
        assert text.count(LOOP) < 3, text
    greedy_with_penalty = namespace()["greedy_with_penalty"]
    assert greedy_with_penalty("Alice saw the dog", 40, 1.0) == greedy
    escaped = greedy_with_penalty("Alice saw the dog", 40, 1.2)
    assert escaped.endswith("<|endoftext|>")
    assert escaped.count(LOOP) < 3


def test_the_penalty_demotes_the_looping_token_and_depends_on_the_shift():
    greedy = greedy_decode(model(), "Alice saw the dog", 40).text
    looping = model().encode(greedy)
    logits = model().next_token_logits(looping)
    top = int(np.argmax(logits))
    assert top in looping  # the loop goes on with a token it has written before
    penalized_logits = repetition_penalty(logits, looping, 1.3)
    assert penalized_logits[top] < logits[top]
    unseen = np.setdiff1d(np.arange(len(logits)), looping)
    np.testing.assert_array_equal(penalized_logits[unseen], logits[unseen])
    # The notebook's function reads the cell-level names it defined before it.
    namespace().update(looping=looping, looping_logits=logits, top_token=top)
    probability = namespace()["top_token_probability"]
    plain = {shift: probability(shift)[0] for shift in (0.0, 10.0, -10.0)}
    penalized = {shift: probability(shift)[1] for shift in (0.0, 10.0, -10.0)}
    assert len(set(plain.values())) == 1
    assert logits[top] > 0  # so that +10 makes it larger and -10 negative, as the prose says
    assert penalized[10.0] < penalized[0.0] < penalized[-10.0]


def test_the_grader_grades_lesson_09(tmp_path):
    for student, folder in (("alice", "solutions"), ("bob", "notebooks")):
        (tmp_path / "in" / student).mkdir(parents=True)
        shutil.copy(ROOT / folder / NOTEBOOK, tmp_path / "in" / student / NOTEBOOK)
    command = [sys.executable, "-m", "utils.grading", str(tmp_path / "in")]
    subprocess.run(
        [*command, "--out", str(tmp_path / "out"), "--seed", "5"],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    with open(tmp_path / "out" / "grades.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    graded = {(row["student"], row["exercise"]): row for row in rows}
    for exercise_id, points in EXPECTED_POINTS.items():
        alice, bob = graded["alice", exercise_id], graded["bob", exercise_id]
        assert (alice["status"], float(alice["points"])) == ("passed", points), alice
        assert (bob["status"], float(bob["points"])) == ("not_attempted", 0.0), bob


def test_the_long_completion_case_keeps_every_plausible_count_apart():
    # Integer counts that coincide let a value-matching diagnosis name the wrong mistake.
    (case,) = [
        case
        for case in exercises.get("09.normalized_score").visible_cases
        if "tokens" in case.label
    ]
    counts = lesson09._denominators(case.args[1], case.args[2])
    assert len(set(counts)) == len(counts), counts


def test_distinct_words_as_the_count_gets_no_wrong_diagnosis():
    def distinct_words(token_log_probs, token_ids, starts_word, per):
        count = len(token_ids) if per == "token" else len(set(token_ids[starts_word[token_ids]]))
        return float(np.sum(token_log_probs) / count)

    result = check("09.normalized_score", distinct_words)
    assert result.status == "failed"
    assert "differs from the reference" in result.message


@pytest.mark.parametrize("letter", "abcde")
@pytest.mark.parametrize("spelling", ["{}", "({})", "{})", " {} ", "{}."])
def test_every_spelling_of_a_choice_gets_the_verdict_of_its_letter(letter, spelling):
    answer = spelling.format(letter)
    result = check("09.diagnose_scorer", answer)
    # Every spelling but the bare letter gets the same request, whatever the letter: a
    # right answer in another notation is never read as a verdict on its letter.
    bare = answer.strip().casefold() == letter
    if letter == "c" and bare:
        assert result.status == "passed", result.message
    elif bare:
        assert f"not ({letter})" in result.message
    else:
        assert result.status == "failed"
        assert "letter alone" in result.message, result.message


def test_a_prompt_length_taken_from_the_raw_prompt_fails_on_the_visible_cases():
    def late_start(prompt, candidates, encode, next_token_log_probs):
        scores = []
        for candidate in candidates:
            ids = encode(prompt.rstrip() + " " + candidate.strip())
            start = min(len(encode(prompt)), len(ids) - 1)
            scores.append(
                sum(next_token_log_probs(ids[:t])[ids[t]] for t in range(start, len(ids)))
            )
        return np.array(scores)

    assert check("09.candidate_scores", late_start).status == "failed"


def _downstream(answer_name: str):
    """The lesson's cells that use an exercise's answer, as functions of the namespace."""
    ns = namespace()
    if answer_name == "word_log_prob":
        return lambda: ns["compare_word_probs"]("Alice ate the", [" plum", " sandwich"])
    if answer_name == "candidate_scores":
        return ns["compare_scorers"]
    return ns["compare_normalizations"]


@pytest.mark.parametrize(
    "entry",
    [entry for entry in catalogue.RIGHT if exercises.get(entry.exercise_id).kind == "function"],
    ids=lambda entry: f"{entry.exercise_id}: {entry.formulation}",
)
def test_every_accepted_answer_runs_the_lessons_next_cells(entry):
    # An answer check accepts must not crash the cells after it (a 0-d array, a list, ...).
    spec = exercises.get(entry.exercise_id)
    ns = namespace()
    ns.setdefault("options", ["mat", "sofa", "tree", "moon"])
    ns.setdefault(
        "scored",
        {
            text: ns["completion_log_probs"]("The cat sat on the", text)
            for text in (" sofa.", " kitchen.")
        },
    )
    original = ns[spec.answer_name]
    ns[spec.answer_name] = load(entry.source, spec.answer_name)
    try:
        shown = _downstream(spec.answer_name)()
    finally:
        ns[spec.answer_name] = original
    assert shown


def test_a_zero_dimensional_array_is_accepted_and_runs_the_next_cells():
    def normalized_score(token_log_probs, token_ids, starts_word, per):
        count = len(token_ids) if per == "token" else starts_word[token_ids].sum()
        return np.array(np.sum(token_log_probs) / count)

    assert check("09.normalized_score", normalized_score).status == "passed"
    ns = namespace()
    ns.setdefault(
        "scored",
        {
            text: ns["completion_log_probs"]("The cat sat on the", text)
            for text in (" sofa.", " kitchen.")
        },
    )
    original, ns["normalized_score"] = ns["normalized_score"], normalized_score
    try:
        assert ns["compare_normalizations"]()
    finally:
        ns["normalized_score"] = original
