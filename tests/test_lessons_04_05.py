"""Lessons 04 (the next-token distribution) and 05 (sampling): exercises and notebooks.

* every exercise's reference, and the solution written in the lesson's notebook, pass the
  visible cases and the grader's hidden cases;
* realistic wrong answers fail with the diagnostic written for them;
* the code the notebooks re-implement agrees with `utils` (and SciPy / NumPy);
* the claims the lessons' prose makes about the shipped tiny model still hold.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest
from notebook_code import solution_namespace
from scipy.special import rel_entr
from scipy.stats import chisquare

import utils
from utils import exercises, lm
from utils.checks import check, evaluate, run_case

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = {"04": "04_next_token_distribution.ipynb", "05": "05_sampling.ipynb"}
EXPECTED_POINTS = {
    "04.next_token_distribution": 2,
    "04.most_likely_next_word": 1,
    "04.kl_learned_vs_true": 2,
    "04.expected_calibration_error": 2,
    "04.predict_restoring_temperature": 2,
    "05.inverse_cdf_sample": 2,
    "05.top_k_filter": 2,
    "05.top_p_filter": 3,
    "05.top_p_range": 2,
}
# The exercises whose answer is a function (the others are a predicted value).
FUNCTION_EXERCISES = sorted(
    exercise_id for exercise_id in EXPECTED_POINTS if exercises.get(exercise_id).kind == "function"
)
SEEDS = (0, 1, 2, 3)


def notebook_namespace(lesson: str) -> dict:
    return solution_namespace(NOTEBOOKS[lesson])


def notebook_function(exercise_id: str):
    spec = exercises.get(exercise_id)
    return notebook_namespace(spec.lesson)[spec.answer_name]


def outcome_status(spec, answer, cases) -> tuple[str, str]:
    result = evaluate(spec, cases, [run_case(answer, spec, case) for case in cases])
    return result.status, result.message


# --- the specs ------------------------------------------------------------------------------------


def test_lessons_register_the_expected_exercises():
    found = {
        spec.id: spec.points for lesson in ("04", "05") for spec in exercises.for_lesson(lesson)
    }
    assert found == EXPECTED_POINTS


@pytest.mark.parametrize("exercise_id", FUNCTION_EXERCISES)
def test_reference_passes_visible_and_hidden_cases(exercise_id):
    spec = exercises.get(exercise_id)
    assert check(exercise_id, spec.reference).status == "passed"
    for seed in SEEDS:
        cases = spec.draw_hidden_cases(seed)
        assert len(cases) >= 5
        status, message = outcome_status(spec, spec.reference, cases)
        assert status == "passed", f"seed {seed}: {message}"


@pytest.mark.parametrize("exercise_id", FUNCTION_EXERCISES)
def test_notebook_solution_passes_visible_and_hidden_cases(exercise_id):
    spec = exercises.get(exercise_id)
    answer = notebook_function(exercise_id)
    assert check(exercise_id, answer).status == "passed"
    for seed in SEEDS:
        status, message = outcome_status(spec, answer, spec.draw_hidden_cases(seed))
        assert status == "passed", f"seed {seed}: {message}"


def _fingerprint(cases) -> list:
    return [
        (
            case.label,
            [arg if isinstance(arg, list) else np.asarray(arg).tobytes() for arg in case.args],
        )
        for case in cases
    ]


@pytest.mark.parametrize("exercise_id", FUNCTION_EXERCISES)
def test_hidden_cases_are_deterministic_per_seed_and_vary_between_seeds(exercise_id):
    spec = exercises.get(exercise_id)
    assert _fingerprint(spec.draw_hidden_cases(7)) == _fingerprint(spec.draw_hidden_cases(7))
    assert _fingerprint(spec.draw_hidden_cases(7)) != _fingerprint(spec.draw_hidden_cases(8))


@pytest.mark.parametrize("exercise_id", FUNCTION_EXERCISES)
def test_the_stub_is_not_attempted(exercise_id):
    def stub(*args, **kwargs):
        raise NotImplementedError(f"Exercise {exercise_id}: replace this line with your code")

    assert check(exercise_id, stub).status == "not_attempted"


# --- realistic wrong answers ------------------------------------------------------------------
# They live in the mistake catalogue (tests/catalogue/lesson04.py, lesson05.py), which
# tests/test_catalogue.py runs through `check` and the grader's path with hidden cases.


def _ids(vocab, words):
    return [vocab.index(word) for word in words]


# --- the notebooks' own code agrees with utils -----------------------------------------------


def test_notebook_inverse_cdf_draws_the_same_tokens_as_the_course_sampler_and_numpy():
    inverse_cdf_sample = notebook_function("05.inverse_cdf_sample")
    model = lm.load()
    rng = np.random.default_rng(11)
    for logits in (
        np.log([0.5, 0.3, 0.2]),
        rng.normal(0.0, 3.0, size=40),
        model.next_token_logits("the cat"),
        model.next_token_logits("the"),
    ):
        probs = utils.softmax(logits)
        draws = 2000
        by_notebook = inverse_cdf_sample(probs, np.random.default_rng(5).random(draws))
        by_course = utils.sample_next_token(np.tile(logits, (draws, 1)), np.random.default_rng(5))
        by_numpy = np.random.default_rng(5).choice(len(probs), size=draws, p=probs)
        np.testing.assert_array_equal(by_notebook, by_course)
        np.testing.assert_array_equal(by_notebook, by_numpy)


def _random_logit_rows(rng, count):
    for index in range(count):
        size = int(rng.integers(1, 90))
        shape = (int(rng.integers(1, 4)), size) if index % 2 else (size,)
        logits = rng.normal(float(rng.uniform(-5, 5)), float(rng.uniform(0.3, 5.0)), size=shape)
        if index % 3 == 0:
            logits = np.round(logits)  # ties
        yield logits


def test_notebook_filters_agree_with_utils_sampling():
    top_k_filter = notebook_function("05.top_k_filter")
    top_p_filter = notebook_function("05.top_p_filter")
    rng = np.random.default_rng(3)
    for logits in _random_logit_rows(rng, 60):
        size = logits.shape[-1]
        for k in {1, 2, max(1, size // 2), size, size + 3}:
            np.testing.assert_array_equal(top_k_filter(logits, k), utils.top_k_filter(logits, k))
        for p in (0.05, 0.3, 0.5, 0.9, 0.99, 1.0, float(rng.uniform(0.01, 1.0))):
            np.testing.assert_array_equal(top_p_filter(logits, p), utils.top_p_filter(logits, p))


def test_notebook_top_p_keeps_the_boundary_token_like_utils():
    top_p_filter = notebook_function("05.top_p_filter")
    for probs, p, kept in [
        ([0.5, 0.3, 0.1, 0.1], 0.8, 2),
        ([0.3, 0.1, 0.1, 0.5], 0.8, 2),
        ([0.5, 0.25, 0.125, 0.125], 0.75, 2),
        ([0.5, 0.3, 0.1, 0.1], 0.81, 3),
        ([0.5, 0.3, 0.1, 0.1], 0.3, 1),
        ([0.5, 0.3, 0.1, 0.1], 1.0, 4),
    ]:
        logits = np.log(probs)
        ours, course = top_p_filter(logits, p), utils.top_p_filter(logits, p)
        np.testing.assert_array_equal(ours, course)
        assert int(np.isfinite(ours).sum()) == kept


def test_notebook_gumbel_max_samples_the_softmax():
    gumbel_max_sample = notebook_namespace("05")["gumbel_max_sample"]
    logits = np.array([1.0, 0.2, -0.5, 2.0, 0.0])
    draws = 20_000
    tokens = gumbel_max_sample(logits, np.random.default_rng(8), draws)
    counts = np.bincount(tokens, minlength=logits.size)
    assert chisquare(counts, draws * utils.softmax(logits)).pvalue > 1e-3
    # Shift invariance: adding a constant to the logits changes no draw.
    np.testing.assert_array_equal(
        gumbel_max_sample(logits + 100.0, np.random.default_rng(8), 50),
        gumbel_max_sample(logits, np.random.default_rng(8), 50),
    )


def test_notebook_lesson_04_functions_agree_with_utils_and_scipy():
    namespace = notebook_namespace("04")
    model = lm.load()
    contexts = ["the cat", "the girl", "a sleepy bird sat", "the cat sat on the"]
    logits = model.next_token_logits(contexts)
    truth = model.true_next_token_probs(contexts)
    verbs = ["slept", "sat", "ran"]
    mask = np.isin(model.vocab, verbs)
    by_mask = utils.softmax(logits, mask=mask)[:, _ids(model.vocab, verbs)]
    np.testing.assert_allclose(
        namespace["next_token_distribution"](logits, model.vocab, verbs), by_mask, rtol=1e-12
    )
    for row in logits:
        word, probability = namespace["most_likely_next_word"](row, model.vocab)
        assert word == model.vocab[int(utils.greedy_next_token(row))]
        assert probability == pytest.approx(float(utils.softmax(row).max()), rel=1e-12)
    by_scipy = rel_entr(truth, utils.softmax(logits)).sum(axis=-1)
    np.testing.assert_allclose(
        namespace["kl_learned_vs_true"](truth, logits), by_scipy, rtol=1e-9, atol=1e-12
    )
    np.testing.assert_allclose(
        namespace["kl_divergence"](truth, utils.softmax(logits)), by_scipy, rtol=1e-12
    )


# --- the lessons' prose about the shipped model -------------------------------------------------


@pytest.fixture(scope="module")
def model():
    return lm.load()


def _kl(model, context) -> float:
    return float(
        rel_entr(model.true_next_token_probs(context), model.next_token_probs(context)).sum()
    )


def test_lesson_04_claims_about_the_model(model):
    # Section 5: the bars of the rare context visibly disagree, those of the common one do not.
    rare, common = "a sleepy bird sat", "the cat"
    gap = {
        c: np.abs(model.next_token_probs(c) - model.true_next_token_probs(c))
        for c in (rare, common)
    }
    assert gap[rare].max() > 0.05
    assert gap[common].max() < 0.02
    assert _kl(model, rare) > 20 * _kl(model, common)
    # Section 3 and the quiz: "sat" is about 33 % overall and about 56 % among three verbs.
    cat_probs = model.next_token_probs("the cat")
    sat, slept, ran_id = (model.vocab.index(w) for w in ("sat", "slept", "ran"))
    assert round(float(cat_probs[sat]), 2) == 0.33
    assert round(float(cat_probs[sat] / cat_probs[[sat, slept, ran_id]].sum()), 2) == 0.56
    # Section 6: a larger top logit with a smaller top probability.
    girl, cat = model.next_token_logits(["the girl", "the cat slept"])
    assert girl.max() > cat.max()
    assert utils.softmax(girl).max() < 0.5 * utils.softmax(cat).max()
    # Section 2: "ran" cannot follow "the cat" in the grammar, yet gets a (small) probability.
    ran = model.vocab.index("ran")
    assert model.true_next_token_probs("the cat")[ran] == 0
    assert 0 < model.next_token_probs("the cat")[ran] < 0.01


def test_lesson_04_average_divergence_is_small_and_largest_on_rare_contexts(model):
    sample = lm.corpus.sample_sentences(2000, np.random.default_rng(1))
    contexts = [sentence[:t] for sentence in sample for t in range(1, len(sentence))]
    width = max(len(context) for context in contexts)
    ids = np.array([np.concatenate([np.full(width - len(c), model.bos_id), c]) for c in contexts])
    truth = model.true_next_token_probs(ids)
    divergences = rel_entr(truth, model.next_token_probs(ids)).sum(axis=-1)
    assert divergences.mean() < 0.01  # "a few thousandths of a nat"
    assert 1.3 < utils.entropy(truth).mean() < 1.7  # "about 1.5 nats"
    _, window_of, window_counts = np.unique(
        ids[:, -3:], axis=0, return_inverse=True, return_counts=True
    )
    counts = window_counts[window_of.reshape(-1)]
    assert divergences[counts == 1].mean() > 5 * divergences[counts >= 100].mean()


def test_lesson_05_claims_about_the_model(model):
    assert utils.greedy_decode(model, "<s>", 20).text == "<s> the cat sat on the mat </s>"
    kept = {
        context: int(np.isfinite(utils.top_p_filter(model.next_token_logits(context), 0.9)).sum())
        for context in ("the", "the cat slept")
    }
    assert kept["the"] >= 10
    assert kept["the cat slept"] <= 2
    cat_logits = model.next_token_logits("the cat")
    impossible = model.true_next_token_probs("the cat") == 0
    mass = [
        utils.softmax(cat_logits, temperature=t)[impossible].sum() for t in (0.5, 1.0, 2.0, 3.0)
    ]
    assert mass == sorted(mass)
    assert mass[-1] > 10 * mass[1]


def test_lesson_05_text_table_claims(model):
    """Section 9's reading of the table: greedy one sentence, T = 2 breaks the grammar most."""
    namespace = notebook_namespace("05")
    namespace["model"] = model
    settings = {"greedy": None, "T = 1": {}, "T = 2": {"temperature": 2.0}, "top-p": {"top_p": 0.9}}
    stats = {name: namespace["text_statistics"](setting) for name, setting in settings.items()}
    grammatical = {name: int(row["grammatical"].rstrip("%")) for name, row in stats.items()}
    assert stats["greedy"] == {"grammatical": "100%", "distinct": 1}
    assert grammatical["T = 2"] < min(grammatical["T = 1"], grammatical["top-p"]) - 5
    assert grammatical["T = 1"] >= 95
    assert stats["T = 2"]["distinct"] > stats["top-p"]["distinct"] > 200


def test_notebooks_compare_every_output_and_use_the_course_widgets():
    """Widget reprs are stable one-line summaries, so no cell needs excluding from nbval."""
    expected_widgets = {"04": ("score_explorer(", "quiz("), "05": ("sampling_lab(", "quiz(")}
    for lesson, name in NOTEBOOKS.items():
        notebook = nbformat.read(ROOT / "solutions" / name, as_version=4)
        code = [cell for cell in notebook.cells if cell.cell_type == "code"]
        for cell in code:
            assert not {"nbval-ignore-output", "nbval-skip"} & set(cell.metadata.get("tags", []))
        sources = "\n".join(cell.source for cell in code)
        for call in expected_widgets[lesson]:
            assert f"utils.widgets.{call}" in sources, (name, call)
