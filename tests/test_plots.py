"""utils.plots: each chart type, its marks for bad values, the palette, and no pyplot state."""

from __future__ import annotations

import doctest
import re

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

import utils.plots
from utils import lm, sequences
from utils.plots import (
    COLORS,
    OKABE_ITO,
    CourseFigure,
    figure_png,
    plot_beam_tree,
    plot_comparison,
    plot_distribution,
    plot_heatmap,
)

PNG_MAGIC = b"\x89PNG"


def texts(figure) -> list[str]:
    return [text.get_text() for ax in figure.axes for text in ax.texts]


def test_docstring_examples_run():
    result = doctest.testmod(utils.plots, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 6
    assert result.failed == 0


def test_palette_is_okabe_ito():
    assert OKABE_ITO == {
        "black": "#000000",
        "orange": "#E69F00",
        "sky_blue": "#56B4E9",
        "bluish_green": "#009E73",
        "yellow": "#F0E442",
        "blue": "#0072B2",
        "vermillion": "#D55E00",
        "reddish_purple": "#CC79A7",
    }
    assert set(COLORS.values()) <= {*OKABE_ITO.values(), COLORS["removed"]}
    assert COLORS["removed"] == "#BBBBBB"  # a neutral grey, always paired with a hatch


def test_figures_render_without_pyplot_and_show_as_png_in_ipython():
    import matplotlib.pyplot as plt
    from IPython.core.formatters import DisplayFormatter

    before = plt.get_fignums()
    figure = plot_distribution(["cat", "dog"], [0.7, 0.3], title="P(next)")
    assert isinstance(figure, Figure)
    assert isinstance(figure, CourseFigure)
    assert plt.get_fignums() == before  # nothing registered with pyplot
    data, _ = DisplayFormatter().format(figure)
    assert data["image/png"][:4] == PNG_MAGIC
    # matplotlib's own repr: no memory address, so stored notebook outputs stay stable
    assert data["text/plain"] == "<CourseFigure size 600x280 with 1 Axes>"
    assert not re.search(r"at 0x[0-9a-f]+", repr(figure))


def test_plot_distribution_bars_labels_and_values():
    figure = plot_distribution(["cat", "dog", "bird"], [0.665, 0.245, 0.090], title="P(next)")
    ax = figure.axes[0]
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["cat", "dog", "bird"]
    heights = [patch.get_height() for patch in ax.patches]
    np.testing.assert_allclose(heights, [0.665, 0.245, 0.090])
    assert texts(figure) == ["0.665", "0.245", "0.090"]
    assert ax.get_title() == "P(next)"
    assert [patch.get_facecolor() for patch in ax.patches] == [
        matplotlib.colors.to_rgba(COLORS["probability"])
    ] * 3
    assert figure_png(figure)[:4] == PNG_MAGIC


def test_plot_distribution_marks_removed_tokens_with_a_hatch_and_a_legend():
    figure = plot_distribution(["a", "b", "c"], [0.5, 0.5, 0.0], kept=[True, True, False])
    ax = figure.axes[0]
    assert [patch.get_hatch() for patch in ax.patches] == [None, None, "//"]
    assert texts(figure)[-1] == "out"  # a removed token with no probability says so
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["kept", "removed"]


def test_plot_distribution_marks_nan_and_inf():
    figure = plot_distribution(["a", "b", "c"], [np.nan, np.inf, 0.0])
    assert {"NaN", "inf"} <= set(texts(figure))
    bad_bars = [patch for patch in figure.axes[0].patches if patch.get_hatch() == "xx"]
    assert len(bad_bars) == 2
    assert all(patch.get_height() == pytest.approx(1.08) for patch in bad_bars)


def test_plot_distribution_reference_markers():
    figure = plot_distribution(
        ["a", "b"], [0.6, 0.4], reference=[0.55, 0.45], reference_label="sampled"
    )
    (line,) = figure.axes[0].get_lines()
    np.testing.assert_allclose(line.get_ydata(), [0.55, 0.45])
    assert line.get_label() == "sampled"
    assert texts(figure) == []  # no value labels under the markers


@pytest.mark.parametrize(
    ("tokens", "probs", "kwargs", "error", "words"),
    [
        ("ab", [0.5, 0.5], {}, TypeError, "list of labels"),
        ([], [], {}, ValueError, "empty"),
        (["a", "b"], [1.0], {}, ValueError, "one value per label"),
        (["a", "b"], ["x", "y"], {}, TypeError, "real numbers"),
        (["a", "b"], [0.5, 0.5], {"kept": [1, 0]}, ValueError, "boolean array"),
        (["a", "b"], [0.5, 0.5], {"reference": [1.0]}, ValueError, "reference"),
    ],
)
def test_plot_distribution_rejects_bad_input(tokens, probs, kwargs, error, words):
    with pytest.raises(error, match=words):
        plot_distribution(tokens, probs, **kwargs)


def test_plot_comparison_side_by_side():
    figure = plot_comparison(["a", "b"], [np.nan, 0.0], [0.9, 0.1], labels=("naive", "stable"))
    left, right = figure.axes
    assert (left.get_title(), right.get_title()) == ("naive", "stable")
    assert "NaN" in [t.get_text() for t in left.texts]
    np.testing.assert_allclose([p.get_height() for p in right.patches], [0.9, 0.1])
    with pytest.raises(ValueError, match="two panel titles"):
        plot_comparison(["a"], [1.0], [1.0], labels="one")


def test_plot_heatmap_annotates_and_leaves_nan_blank():
    grid = np.array([[0.9, 0.1], [np.nan, 0.7]])
    figure = plot_heatmap(grid, row_labels=["x", "y"], column_labels=["a", "b"], title="p")
    ax = figure.axes[0]
    assert sorted(texts(figure)) == ["0.10", "0.70", "0.90"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["x", "y"]
    assert len(figure.axes) == 2  # the heatmap and its colour bar
    assert ax.images[0].get_cmap().name == "cividis"


@pytest.mark.parametrize(
    ("values", "kwargs", "words"),
    [
        ([1.0, 2.0], {}, "2-D"),
        ([[1.0, 2.0]], {"row_labels": ["a", "b"]}, "row_labels has 2 labels for 1 rows"),
        ([[1.0, 2.0]], {"column_labels": ["a"]}, "column_labels has 1 labels for 2 columns"),
    ],
)
def test_plot_heatmap_rejects_bad_shapes(values, kwargs, words):
    with pytest.raises(ValueError, match=words):
        plot_heatmap(values, **kwargs)


def test_plot_beam_tree_draws_every_candidate_and_the_greedy_path():
    model = lm.load()
    steps = list(sequences.beam_search_steps(model, "the cat", beam_width=2, max_new_tokens=3))
    greedy = sequences.greedy_decode(model, "the cat", 3)
    figure = plot_beam_tree(
        steps, prefix="the cat", vocab=model.vocab, greedy_token_ids=greedy.token_ids
    )
    ax = figure.axes[0]
    labels = [text.get_text() for text in ax.texts]
    assert labels[0] == "the cat"
    assert len(labels) == 1 + sum(len(step.candidates) for step in steps)
    first = steps[0].candidates[0]
    assert f"{model.vocab[first.token_ids[-1]]}\n{first.log_prob:.2f}" in labels
    thick = [line for line in ax.get_lines() if line.get_linewidth() == 3]
    assert len(thick) == 3  # the greedy path: sat, on, the — all among the candidates
    assert all(line.get_color() == COLORS["greedy"] for line in thick)
    colours = {text.get_bbox_patch().get_facecolor() for text in ax.texts[1:]}
    assert matplotlib.colors.to_rgba(COLORS["kept"]) in colours
    assert matplotlib.colors.to_rgba(COLORS["removed"]) in colours


def test_figure_png_rejects_other_objects():
    with pytest.raises(TypeError, match="matplotlib Figure"):
        figure_png("not a figure")
