"""Lesson 03's reasoning exercise and its "pros and cons of the softmax" (issue 14).

The exercise's options in the notebook are the spec's; its true statement and the
numbers its explanations quote are recomputed; every number the new section states
is the course's own.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest

from utils import check, exercises
from utils.exercises import lesson03
from utils.probability import entropy, log_softmax, logsumexp, softmax

NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / "03_shift_scale_temperature.ipynb"


@pytest.fixture(scope="module")
def cells() -> dict:
    return {cell.id: cell for cell in nbformat.read(NOTEBOOK, as_version=4).cells}


def _plain(cell) -> str:
    return "".join(output.get("data", {}).get("text/plain", "") for output in cell.outputs)


# --- 03.predict_peaked ----------------------------------------------------------------------------


def test_the_notebook_lists_the_spec_s_options_in_order(cells):
    text = cells["ex-predict-peaked"].source
    positions = [text.index(f"- **({letter})** {option}.") for letter, option in
                 lesson03.PEAKED_OPTIONS.items()]  # fmt: skip
    assert positions == sorted(positions)
    order = list(cells)
    # Asked before anything computes softmax([1, 5, 10]).
    assert order.index("ex-predict-peaked") < order.index("verify-peaked")


def test_only_the_reference_statement_is_true():
    wide, narrow = softmax(lesson03.PEAKED_WIDE), softmax(lesson03.PEAKED_NARROW)
    truth = {
        "a": bool(np.isclose(wide.max(), narrow.max())),
        "b": abs(wide.max() - 10 / 16) < 0.01,
        "c": bool(wide.max() > 0.99 and wide.max() > narrow.max())
        and round(float(np.exp(lesson03.PEAKED_WIDE[2] - lesson03.PEAKED_WIDE[1]))) == 148,
        # Five times the gap, five times the ratio (about 14), a top near 0.93?
        "d": abs(wide.max() - 0.93) < 0.01,
        # (8, 9, 10) as peaked as (1, 5, 10)?
        "e": bool(np.isclose(softmax(np.array([8.0, 9.0, 10.0])).max(), wide.max())),
        "f": bool((wide[:2] == 0).all()),
    }
    assert truth == {letter: letter == lesson03.predict_peaked_reference() for letter in truth}


def test_the_explanations_quote_the_right_numbers():
    wide = softmax(lesson03.PEAKED_WIDE)
    explanation = lesson03._PEAKED_EXPLANATIONS["f"]
    assert f"about {wide[0]:.4f} and {wide[1]:.3f}" in explanation
    assert round(float(np.exp(10.0) / np.exp(5.0)), -1) == 150
    assert "about 150 times" in lesson03._PEAKED_EXPLANATIONS["b"]


def test_every_wrong_letter_is_explained_and_the_answer_never_leaks():
    for letter in lesson03.PEAKED_OPTIONS:
        result = check("03.predict_peaked", letter.upper())
        if letter == lesson03.predict_peaked_reference():
            assert result.status == "passed"
            continue
        assert result.status == "failed"
        assert result.message.startswith(f"not ({letter}): ")
        assert "(c)" not in result.message
    spec = exercises.get("03.predict_peaked")
    assert spec.points > max(exercises.get(i).points for i in ("03.predict_shift",))


def test_the_verification_prints_what_the_reading_states(cells):
    wide, narrow = softmax(lesson03.PEAKED_WIDE), softmax(lesson03.PEAKED_NARROW)
    reading = cells["peaked-reading"].source
    assert f"{wide.max():.4f}" in reading
    assert f"{narrow.max():.4f}" in reading
    assert f"{entropy(wide):.4f}" in reading
    assert f"{entropy(narrow):.4f}" in reading
    assert f"{wide.max():.4f}" in _plain(cells["verify-peaked"])


# --- pros and cons -----------------------------------------------------------------------------


def test_the_long_tail_holds_most_of_the_mass(cells):
    scores = np.concatenate([[0.0], np.full(50256, -8.0)])
    p = softmax(scores)
    assert round(float(p[1:].sum()), 2) == 0.94
    assert round(float(np.exp(8.0))) == 2981
    assert "94%" in cells["tail-mass-reading"].source
    assert "2981" in cells["pros-cons"].source
    assert "2981" in cells["tail-mass-reading"].source
    assert _plain(cells["tail-mass"]) == f"({p[0]:.3f}, {p[1:].sum():.3f})"
    quiz = cells["quiz-pros-cons"].source
    assert "about 17 times" in quiz
    assert round(50000 / np.exp(8.0)) == 17


def test_the_sampled_normalizer_is_close_and_the_tree_needs_16_choices(cells):
    rng = np.random.default_rng(0)
    scores = rng.normal(0.0, 2.0, size=50257)
    sample = rng.choice(50257, size=1000, replace=False)
    estimate = float(logsumexp(scores[sample]) + np.log(50257 / 1000))
    assert abs(estimate - float(logsumexp(scores))) < 0.1
    assert round(1000 / 50257, 2) == 0.02
    assert "2% of the work" in cells["hierarchical-softmax"].source
    assert int(np.ceil(np.log2(50257))) == 16
    assert "16 two-way choices" in cells["hierarchical-reading"].source
    assert _plain(cells["hierarchical-softmax-code"]) == "(1.0, 16)"


def test_overconfidence_identifiability_and_labels(cells):
    assert round(float(softmax(np.array([7.0, 0.0]))[0]), 4) == 0.9991
    assert "0.9991" in cells["hierarchical-reading"].source
    shifted = np.array([2.0, 1.0, 0.0]) + 42.0
    difference = shifted - log_softmax(shifted)
    assert np.ptp(difference) < 1e-12
    assert difference[0] == pytest.approx(float(logsumexp(shifted)), abs=1e-12)
    labels = np.array([4.0, 4.0, -3.0])
    assert softmax(labels)[:2].max() < 0.5
    sigmoid = 1.0 / (1.0 + np.exp(-labels))
    assert round(float(sigmoid[0]), 2) == 0.98
    assert "0.98" in cells["multi-label-reading"].source
    # For two outcomes the softmax is the sigmoid of the difference.
    a, b = 1.3, -0.4
    assert softmax(np.array([a, b]))[0] == pytest.approx(1.0 / (1.0 + np.exp(-(a - b))), rel=1e-12)


# --- 03.temperature_for_confidence ---------------------------------------------------------------


def test_the_reference_temperature_gives_cat_exactly_the_target():
    temperature = lesson03.temperature_for_confidence_reference()
    probabilities = softmax(lesson03.CONFIDENCE_LOGITS, temperature=temperature)
    assert probabilities[0] == pytest.approx(lesson03.CONFIDENCE_TARGET, abs=1e-14)
    # The only one: cat's probability falls strictly with the temperature.
    grid = np.geomspace(0.05, 50.0, 400)
    cat = softmax(lesson03.CONFIDENCE_LOGITS[None, :] / grid[:, None])[:, 0]
    assert (np.diff(cat) < 0).all()
    assert np.count_nonzero(np.diff(np.sign(cat - lesson03.CONFIDENCE_TARGET))) == 1


def test_the_text_brackets_the_answer_with_numbers_the_lesson_printed(cells):
    text = cells["ex-temperature-for-confidence"].source
    for temperature in (1.0, 0.5):
        probability = softmax(lesson03.CONFIDENCE_LOGITS, temperature=temperature)[0]
        assert f"{probability:.4f} at $T = {temperature:g}$" in text
        assert f"{probability:.4f}" in _plain(cells["temperature-demo"])
    answer = lesson03.temperature_for_confidence_reference()
    assert 0.5 > answer > 0.0
    assert f"About {answer:.3f}" in cells["temperature-for-confidence-reading"].source
    assert _plain(cells["verify-temperature-for-confidence"]).startswith(f"({answer:.6f}, ")
    assert (
        f"{softmax(np.array([2.0, 1.0, 0.0]), temperature=0.5)[0]:.4f}"
        in (exercises.get("03.temperature_for_confidence").hints[0])
    )


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (1.0, "at T = 1 cat gets 0.6652, not 0.9: a lower temperature is needed"),
        (0.2, "a higher temperature is needed"),
        (0.0, "must be positive"),
    ],
)
def test_a_wrong_temperature_is_told_what_cat_gets_there(answer, words):
    result = check("03.temperature_for_confidence", answer)
    assert result.status == "failed"
    assert words in result.message


def test_a_temperature_within_rounding_of_the_answer_is_called_rounded_not_far():
    result = check("03.temperature_for_confidence", 0.43604)
    assert result.status == "failed"
    assert "rounded" in result.message
    assert "temperature is needed" not in result.message


def test_option_d_works_its_misconception_through_consistently():
    # Ratios taken in proportion to the gaps: 5 e to the runner-up, 4 e from it to the last.
    to_runner_up = 5 * np.e
    assert round(to_runner_up) == 14
    top = to_runner_up / (to_runner_up + 1 + 1 / (4 * np.e))
    assert round(top, 2) == 0.93
    assert "5 x 2.7 = 14" in lesson03.PEAKED_OPTIONS["d"]
    assert "near 0.93" in lesson03.PEAKED_OPTIONS["d"]


def test_the_second_hint_teaches_the_idea_without_echoing_the_right_option():
    hint = exercises.get("03.predict_peaked").hints[1]
    right = lesson03.PEAKED_OPTIONS[lesson03.predict_peaked_reference()]
    for words in ("e^5", "148", "runner-up by 5", "0.99"):
        assert words in right
        assert words not in hint


def test_a_temperature_close_but_short_of_8_digits_is_told_why():
    answer = lesson03.temperature_for_confidence_reference()
    for near in (answer * (1 + 2e-7), answer * (1 - 3e-6)):
        result = check("03.temperature_for_confidence", float(near))
        assert result.status == "failed"
        assert "significant digits, not the 8 the check needs" in result.message
        assert "rounded" not in result.message
    assert check("03.temperature_for_confidence", answer * (1 + 2e-9)).status == "passed"


def test_the_verification_leaves_no_answer_good_enough_to_pass(cells):
    import ast

    tree = ast.parse(cells["verify-temperature-for-confidence"].source)
    assigned = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert assigned == {"found_temperature"}
    shown = round(lesson03.temperature_for_confidence_reference(), 6)
    assert check("03.temperature_for_confidence", shown).status == "failed"
