"""Lesson 04's notation box and calibration section: the numbers its prose states, the
notebook's helper against the exercise's reference, and the reliability-diagram plot."""

from __future__ import annotations

from pathlib import Path

import matplotlib.collections
import nbformat
import numpy as np
import pytest
from notebook_code import solution_namespace

import utils
from utils import exercises, lm
from utils.checks import check
from utils.exercises.lesson04 import calibration_bins, expected_calibration_error_reference
from utils.plots import CourseFigure, figure_png, plot_reliability_diagram

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "04_next_token_distribution.ipynb"


def _cells() -> dict[str, str]:
    notebook = nbformat.read(ROOT / "solutions" / NOTEBOOK, as_version=4)
    return {cell.id: cell.source for cell in notebook.cells}


@pytest.fixture(scope="module")
def lesson_data():
    """The section's data, built as the notebook builds it (sections 5 and 7)."""
    model = lm.load()
    sample = lm.corpus.sample_sentences(2000, np.random.default_rng(1))
    contexts = [sentence[:t] for sentence in sample for t in range(1, len(sentence))]
    width = max(len(context) for context in contexts)
    ids = np.array([np.concatenate([np.full(width - len(c), model.bos_id), c]) for c in contexts])
    next_words = np.array([sentence[t] for sentence in sample for t in range(1, len(sentence))])
    return model, ids, next_words


def _top_word_calibration(logits, truth, temperature=1.0):
    q = utils.softmax(logits, temperature=temperature)
    top = q.argmax(axis=-1)
    return q.max(axis=-1), truth[np.arange(len(top)), top], top


# --- the notation box ---------------------------------------------------------------------------


def test_notation_box_uses_the_shared_formula_and_symbols():
    box = _cells()["l04-notation"]
    assert r"P(y_i \mid x, y_{<i})" in box
    assert r"\frac{\exp s(y_i)}{\sum_{y \in V} \exp s(y)}" in box
    for meaning in ("$x$ the prompt", "$y_{<i}$ the tokens generated so far", "$V$"):
        assert meaning in box


# --- the numbers of section 7 -----------------------------------------------------------------


def test_ece_claims_against_the_truth_and_the_sampled_words(lesson_data):
    model, ids, next_words = lesson_data
    logits = model.next_token_logits(ids)
    truth = model.true_next_token_probs(ids)
    confidences, chance_right, top = _top_word_calibration(logits, truth)
    observed = (top == next_words).astype(float)
    at_one = expected_calibration_error_reference(confidences, chance_right)
    sampled = expected_calibration_error_reference(confidences, observed)
    # "an ECE of about 0.003", "against the sampled words ... 0.005".
    assert round(at_one, 3) == 0.003
    assert round(sampled, 3) == 0.005
    assert sampled > at_one
    # "T = 0.5 ... over-confident", "T = 2 ... under-confident", and the ECEs printed.
    eces = {}
    for temperature in (0.5, 2.0):
        conf, right, _ = _top_word_calibration(logits, truth, temperature)
        eces[temperature] = round(expected_calibration_error_reference(conf, right), 3)
        gap = conf.mean() - right.mean()
        assert (gap > 0.05) if temperature < 1 else (gap < -0.05)
    assert eces == {0.5: 0.126, 2.0: 0.087}
    read = _cells()["l04-calibration-read"]
    assert "about 0.003" in read
    assert "0.005" in read


def test_temperature_search_restores_the_rescaled_copy(lesson_data):
    model, ids, _ = lesson_data
    logits = model.next_token_logits(ids)
    truth = model.true_next_token_probs(ids)
    copy = 0.5 * logits + 4.0
    grid = np.round(np.arange(0.2, 1.5, 0.025), 3)
    ece = [
        expected_calibration_error_reference(*_top_word_calibration(copy, truth, t)[:2])
        for t in grid
    ]
    nll = [-(truth * utils.log_softmax(copy / t)).sum(axis=-1).mean() for t in grid]
    assert grid[int(np.argmin(ece))] == 0.5
    assert grid[int(np.argmin(nll))] == 0.5
    # "At T = 1 the copy is as miscalibrated as our model at T = 2 (0.087)".
    at_one = ece[int(np.flatnonzero(grid == 1.0)[0])]
    original_at_two = expected_calibration_error_reference(
        *_top_word_calibration(logits, truth, 2.0)[:2]
    )
    assert at_one == pytest.approx(original_at_two, abs=1e-9)
    assert "(0.087)" in _cells()["l04-restore-read"]
    # The predicted value is exactly the temperature that undoes the halving.
    np.testing.assert_allclose(
        utils.softmax(copy[:50] / exercises.get("04.predict_restoring_temperature").reference()),
        utils.softmax(logits[:50]),
        rtol=1e-10,
        atol=1e-15,
    )


def test_notebook_reliability_helper_agrees_with_the_exercise_reference():
    reliability = solution_namespace(NOTEBOOK)["reliability"]
    rng = np.random.default_rng(3)
    for n_bins in (4, 10, 15):
        confidences = rng.uniform(0.0, 1.0, 500)
        confidences[:20] = 1.0
        outcomes = (rng.random(500) < confidences).astype(float)
        mean_conf, mean_out, counts, ece = reliability(confidences, outcomes, n_bins)
        ref_conf, ref_out, ref_counts = calibration_bins(confidences, outcomes, n_bins)
        np.testing.assert_array_equal(counts, ref_counts)
        np.testing.assert_allclose(mean_conf, ref_conf, equal_nan=True)
        np.testing.assert_allclose(mean_out, ref_out, equal_nan=True)
        assert ece == pytest.approx(
            expected_calibration_error_reference(confidences, outcomes, n_bins), abs=1e-12
        )


def test_predict_restoring_temperature_stub_and_answers():
    assert check("04.predict_restoring_temperature", None).status == "not_attempted"
    assert check("04.predict_restoring_temperature", 0.5).status == "passed"
    assert check("04.predict_restoring_temperature", 2.0).status == "failed"
    assert "restoring_temperature = 0.5" in _cells()["l04-restore-answer"]


# --- utils.plots.plot_reliability_diagram ---------------------------------------------------


def test_reliability_diagram_draws_one_panel_per_diagram_and_skips_empty_bins():
    mean_conf = np.array([np.nan, 0.3, 0.72, 0.95])
    mean_out = np.array([np.nan, 0.25, 0.7, 0.8])
    counts = np.array([0, 10, 30, 60])
    figure = plot_reliability_diagram(
        [("A", mean_conf, mean_out, counts), ("B", mean_conf, mean_out, counts)], title="t"
    )
    assert isinstance(figure, CourseFigure)
    assert [ax.get_title() for ax in figure.axes] == ["A", "B"]
    points = [
        c
        for c in figure.axes[0].collections
        if isinstance(c, matplotlib.collections.PathCollection)
    ]
    assert len(points) == 1
    np.testing.assert_allclose(points[0].get_offsets(), np.column_stack([mean_conf, mean_out])[1:])
    sizes = points[0].get_sizes()
    assert sizes[0] < sizes[1] < sizes[2]  # area follows the share of predictions
    assert figure_png(figure)[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("panels", "error"),
    [
        ([], TypeError),
        ((("A", [0.5], [0.5], [1]),), TypeError),
        ([("A", [0.5], [0.5])], ValueError),
        ([("A", [0.5, 0.6], [0.5], [1, 2])], ValueError),
        ([("A", [0.5], [0.5], [-1])], ValueError),
        ([("A", [0.5], [0.5], [1.5])], ValueError),
    ],
)
def test_reliability_diagram_rejects_malformed_panels(panels, error):
    with pytest.raises(error):
        plot_reliability_diagram(panels)


def test_ece_nan_diagnosis_names_empty_bins_only_when_the_case_has_them():
    from utils.exercises._spec import Case

    spec = exercises.get("04.expected_calibration_error")
    full = np.linspace(0.05, 0.95, 10)  # one prediction in every bin
    no_empty = Case(args=(full, np.ones(10)))
    with_empty = Case(args=(np.array([0.9, 0.6]), np.array([1.0, 0.0])))
    expected = spec.reference(*no_empty.args)
    assert spec.diagnose(no_empty, expected, float("nan")) is None
    message = spec.diagnose(with_empty, spec.reference(*with_empty.args), float("nan"))
    assert "no mean" in message


# --- utils.plots.plot_temperature_search ----------------------------------------------------


def test_temperature_search_marks_each_criterion_minimum():
    from utils.plots import plot_temperature_search

    grid = np.array([0.25, 0.5, 1.0, 2.0])
    figure = plot_temperature_search(grid, {"ECE": [0.2, 0.01, 0.1, 0.3], "NLL": [3, 2, 1, 2]})
    assert [ax.get_title() for ax in figure.axes] == [
        "ECE: smallest at T = 0.5",
        "NLL: smallest at T = 1",
    ]
    assert figure.axes[0].get_lines()[-1].get_xdata()[0] == 0.5
    assert figure_png(figure)[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("grid", "criteria", "error"),
    [
        ([1.0], {"ECE": [0.1]}, ValueError),
        ([1.0, 0.5], {"ECE": [0.1, 0.2]}, ValueError),
        ([0.0, 0.5], {"ECE": [0.1, 0.2]}, ValueError),
        ([0.5, 1.0], {}, TypeError),
        ([0.5, 1.0], {"ECE": [0.1]}, ValueError),
    ],
)
def test_temperature_search_rejects_bad_input(grid, criteria, error):
    from utils.plots import plot_temperature_search

    with pytest.raises(error):
        plot_temperature_search(grid, criteria)
