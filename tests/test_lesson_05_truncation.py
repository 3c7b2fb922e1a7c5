"""Lesson 05's corrections, the top-p range exercise against the course's filter, the Hugging
Face table, and the two new figures (inverse CDF staircase, truncation)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest
from notebook_code import solution_namespace

import utils
from utils import exercises, lm
from utils.exercises.lesson05 import top_p_range_reference
from utils.plots import CourseFigure, figure_png, plot_inverse_cdf, plot_truncation

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "05_sampling.ipynb"


def _cells() -> dict[str, str]:
    notebook = nbformat.read(ROOT / "solutions" / NOTEBOOK, as_version=4)
    return {cell.id: cell.source for cell in notebook.cells}


def _kept(logits, p) -> int:
    return int(np.isfinite(utils.top_p_filter(np.asarray(logits, dtype=np.float64), p)).sum())


# --- section 1 and 3 corrections --------------------------------------------------------------


def test_share_of_sentences_not_starting_with_the_cat_is_about_92_percent():
    model = lm.load()
    prefix = float(np.exp(lm.corpus.sentence_log_prob(model.encode("the cat"))))
    assert round(prefix, 3) == 0.078  # what lesson 04 prints
    assert round(1 - prefix, 2) == 0.92
    cells = _cells()
    assert "About 92 % of all sentences" in cells["l05-sample-to-see-variety"]
    assert "0.078" in cells["l05-009"]
    assert "half of all sentences" not in "\n".join(cells.values())


def test_p_value_wording_does_not_rank_larger_p_values_as_better():
    text = _cells()["l05-023"]
    assert "a large p-value means" not in text
    assert 'not "more correct"' in text
    assert "uniformly" in text
    assert "0.58 and 0.134" in text  # the two p-values the next cell prints


# --- 05.top_p_range -------------------------------------------------------------------------


def test_top_p_keeps_exactly_k_tokens_inside_the_range_and_not_outside():
    model = lm.load()
    for context in ("the", "the cat", "the cat slept", "a sleepy bird sat"):
        logits = model.next_token_logits(context)
        for k in (1, 2, 3, 5, 10):
            low, high = top_p_range_reference(logits, k)
            assert low < high
            assert _kept(logits, (low + high) / 2) == k
            assert _kept(logits, low + 1e-9 * (high - low) + 1e-12) == k
            if high < 1 - 1e-6:
                assert _kept(logits, high + 1e-6) == k + 1
            if low > 1e-6:
                assert _kept(logits, low - 1e-6) == k - 1


def test_top_p_range_boundary_token_is_kept_where_the_sums_are_exact():
    # Dyadic probabilities: every running total is exact, so p = high is the boundary itself.
    logits = np.log([0.125, 0.5, 0.125, 0.25])
    for k, (low, high) in {1: (0.0, 0.5), 2: (0.5, 0.75), 3: (0.75, 0.875)}.items():
        assert top_p_range_reference(logits, k) == (low, high)
        assert _kept(logits, high) == k  # the boundary token stays
    assert top_p_range_reference(logits, 4) == (0.875, 1.0)


def test_notebook_top_p_range_agrees_with_the_reference_on_hidden_cases():
    answer = solution_namespace(NOTEBOOK)["top_p_range"]
    spec = exercises.get("05.top_p_range")
    for case in spec.draw_hidden_cases(11):
        np.testing.assert_allclose(answer(*case.args), spec.reference(*case.args), rtol=1e-12)


# --- section 10: the Hugging Face table ------------------------------------------------------


def test_hugging_face_table_names_the_version_and_the_pitfalls():
    table = _cells()["l05-hugging-face"]
    assert "transformers 4.51" in table
    for pitfall in (
        "| `top_k` | **`50`** |",
        "**ignored**",
        "upcast to **float32**",
        "with `num_beams > 1`, `generate` passes one more than the number of end tokens",
        "prefer `max_new_tokens`",
        "temperature, then top-k, then top-p",
        "`length_penalty`",
        "`-100`",
    ):
        assert pitfall in table, pitfall
    # The course's own order is the one the table claims.
    assert "temperature, then top-k, then top-p" in table


# --- utils.plots.plot_inverse_cdf ------------------------------------------------------------


def _annotations(figure) -> list[str]:
    return [child.get_text() for child in figure.axes[0].texts]


@pytest.mark.parametrize(
    ("u", "drawn"),
    [(0.0, "cat"), (0.49, "cat"), (0.5, "dog"), (0.62, "dog"), (0.8, "mat"), (0.999, "mat")],
)
def test_inverse_cdf_figure_marks_the_token_the_draw_selects(u, drawn):
    figure = plot_inverse_cdf(["cat", "dog", "mat"], [0.5, 0.3, 0.2], u)
    assert isinstance(figure, CourseFigure)
    assert f"draws {drawn!r}" in _annotations(figure)
    assert figure_png(figure)[:4] == b"\x89PNG"


def test_inverse_cdf_figure_never_selects_a_zero_probability_token():
    probs = [0.5, 0.5, 0.0]
    figure = plot_inverse_cdf(["a", "b", "c"], probs, 0.75)
    assert "draws 'b'" in _annotations(figure)


@pytest.mark.parametrize(
    ("tokens", "probs", "u", "error"),
    [
        (["a", "b"], [0.5, 0.6], 0.1, ValueError),
        (["a", "b"], [1.2, -0.2], 0.1, ValueError),
        (["a", "b"], [0.5, 0.5], 1.0, ValueError),
        (["a", "b"], [0.5, 0.5], -0.1, ValueError),
        (["a", "b"], [1.0], 0.1, ValueError),
        ("ab", [0.5, 0.5], 0.1, TypeError),
    ],
)
def test_inverse_cdf_figure_rejects_bad_input(tokens, probs, u, error):
    with pytest.raises(error):
        plot_inverse_cdf(tokens, probs, u)


# --- utils.plots.plot_truncation -------------------------------------------------------------


def test_truncation_figure_counts_over_the_whole_row_and_draws_the_shown_tokens():
    peaked = ("peaked", ["a", "b", "c", "d"], [0.8, 0.15, 0.04, 0.01])
    flat = ("flat", [f"w{i}" for i in range(20)], [0.05] * 20)
    figure = plot_truncation([peaked, flat], k=3, p=0.9, shown=5)
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == [
        "peaked: top-k, k = 3 keeps 3",
        "peaked: top-p, p = 0.9 keeps 2",
        "flat: top-k, k = 3 keeps 3",
        "flat: top-p, p = 0.9 keeps 18",
    ]
    flat_bars = list(figure.axes[3].patches)
    assert len(flat_bars) == 5  # only the shown tokens
    assert figure_png(figure)[:4] == b"\x89PNG"


def test_truncation_figure_keeps_the_boundary_token_like_utils():
    probs = np.array([0.5, 0.3, 0.1, 0.1])
    figure = plot_truncation([("row", ["a", "b", "c", "d"], probs)], k=1, p=0.8)
    assert figure.axes[1].get_title().endswith(f"keeps {_kept(np.log(probs), 0.8)}")


@pytest.mark.parametrize(
    ("rows", "kwargs", "error"),
    [
        ([], {"k": 2, "p": 0.9}, TypeError),
        ([("r", ["a", "b"], [0.2, 0.8])], {"k": 1, "p": 0.9}, ValueError),
        ([("r", ["a", "b"], [0.8, 0.2])], {"k": 0, "p": 0.9}, ValueError),
        ([("r", ["a", "b"], [0.8, 0.2])], {"k": 1, "p": 0.0}, ValueError),
        ([("r", ["a", "b"], [0.8, 0.2])], {"k": 1, "p": 0.9, "shown": 0}, ValueError),
        ([("r", ["a", "b"])], {"k": 1, "p": 0.9}, ValueError),
    ],
)
def test_truncation_figure_rejects_bad_input(rows, kwargs, error):
    with pytest.raises(error):
        plot_truncation(rows, **kwargs)


# --- red team B3/B4: the max_length row and the truncation caption's numbers ------------------


def test_hugging_face_max_length_row_says_the_default_adds_the_prompt():
    # transformers' _prepare_generated_length: an unset max_length still equal to
    # GenerationConfig().max_length (20) becomes 20 + the prompt's length (lesson 06 agrees).
    table = _cells()["l05-hugging-face"]
    assert "left unset, `max_length` is 20 *new* tokens" in table
    assert "a `max_length` you pass" in table
    assert "counts the prompt's tokens too" in table


def test_truncation_caption_numbers_are_the_models():
    model = lm.load()
    peaked, flat = (model.next_token_logits(c) for c in ("the cat slept", "the"))
    running = np.cumsum(np.sort(utils.softmax(flat))[::-1])
    kept_flat = _kept(flat, 0.9)
    caption = _cells()["l05-truncation-caption"]
    assert _kept(peaked, 0.9) == 2
    assert "top-p keeps two where the model is sure" in caption
    assert f"and {kept_flat} where it is not" in caption
    assert f"total is only {running[11]:.2f}\nat the twelfth word" in caption
    assert f"reaches 0.9 at word {kept_flat}, off the plot" in caption
    assert kept_flat > 12  # off the plot: the figure shows twelve words
    assert running[kept_flat - 2] < 0.9 <= running[kept_flat - 1]
