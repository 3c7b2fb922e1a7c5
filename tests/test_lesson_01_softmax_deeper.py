"""Lesson 01's deeper softmax (issue 14): the notation box, logits as log counts,
the Jacobian, and the Plackett-Luce tree figure (`utils.plots.plot_selection_tree`).

Every number the new prose states is recomputed here with the course's code.
"""

from __future__ import annotations

import re
from itertools import pairwise, permutations
from pathlib import Path

import nbformat
import numpy as np
import pytest
from matplotlib.figure import Figure

from utils import plots
from utils.exercises import lesson01
from utils.lm import corpus
from utils.probability import softmax

NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / "01_scores_to_probabilities.ipynb"
# The literature's formula, written the same way wherever a lesson defines the conditional.
LITERATURE_FORMULA = r"P(y_i \mid x, y_{<i}) \;=\; \frac{\exp s(y_i)}{\sum_{y \in V} \exp s(y)}"


@pytest.fixture(scope="module")
def cells() -> dict:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    return {cell.id: cell for cell in notebook.cells}


def _plain(cell) -> str:
    return "".join(output.get("data", {}).get("text/plain", "") for output in cell.outputs)


# --- the notation box ----------------------------------------------------------------------------


def test_the_notation_box_maps_the_course_symbols_to_the_literature(cells):
    box = cells["notation"].source
    assert LITERATURE_FORMULA in box
    for symbol in (r"$x, y_{<i}$", r"$y_i$", r"$s(y_i)$", r"$V$", r"$P(y_i \mid x, y_{<i})$"):
        assert symbol in box, symbol
    for words in ("the prompt $x$", "the tokens so far", "the candidate set"):
        assert words in box
    # It comes right after the softmax is defined and computed.
    order = list(cells)
    assert order.index("probabilities") < order.index("notation") < order.index("ex-softmax")


# --- logits as log counts ------------------------------------------------------------------------


def _counts_after(word: str) -> np.ndarray:
    """The lesson's bigram counts, recomputed with a plain loop over the sentences."""
    ids = {token: index for index, token in enumerate(corpus.VOCAB)}
    counts = np.zeros(len(corpus.VOCAB))
    for sentence in corpus.sample_sentences(2000, np.random.default_rng(0)):
        for previous, following in pairwise(sentence):
            if previous == ids[word]:
                counts[following] += 1
    return counts


def test_the_softmax_of_log_counts_is_the_frequencies_the_lesson_prints(cells):
    counts = _counts_after("cat")
    with np.errstate(divide="ignore"):
        probabilities = softmax(np.log(counts))
    assert probabilities == pytest.approx(counts / counts.sum(), rel=1e-12, abs=0)
    assert (probabilities[counts == 0] == 0).all()
    printed = _plain(cells["bigram-corpus"])
    for index in np.flatnonzero(counts):
        assert f"'{corpus.VOCAB[index]}': {int(counts[index])}" in printed
    table = _plain(cells["bigram-table"])
    for index in np.flatnonzero(counts):
        value = round(float(counts[index] / counts.sum()), 4)
        assert f"'{corpus.VOCAB[index]}': ({value}, {value})" in table
    assert _plain(cells["bigram-log-counts"]) == "True"


# --- the Jacobian ---------------------------------------------------------------------------------


def _jacobian(logits: np.ndarray) -> np.ndarray:
    p = softmax(logits)
    return np.diag(p) - np.outer(p, p)


@pytest.mark.parametrize("logits", [[2.0, 1.0, 0.0], [0.3, -4.0, 2.5, 1.0], [50.0, 49.0, -3.0]])
def test_the_jacobian_matches_central_differences_entry_by_entry(logits):
    logits = np.asarray(logits)
    h = 1e-6
    numeric = np.stack(
        [
            (softmax(logits + h * e) - softmax(logits - h * e)) / (2 * h)
            for e in np.eye(logits.size)
        ],
        axis=1,
    )
    assert numeric == pytest.approx(_jacobian(logits), abs=1e-9)


def test_raising_one_score_lowers_every_other_at_the_same_relative_rate(cells):
    logits = np.array([2.0, 1.0, 0.0])
    jacobian, p = _jacobian(logits), softmax(logits)
    off_diagonal = jacobian[~np.eye(3, dtype=bool)]
    assert (off_diagonal < 0).all()
    assert (np.diag(jacobian) > 0).all()
    assert jacobian.sum(axis=0) == pytest.approx(0.0, abs=1e-15)
    relative = jacobian[:, 0] / p
    assert relative[1:] == pytest.approx([-p[0], -p[0]], rel=1e-12)
    # The stored output shows these rates and the agreement with finite differences.
    assert _plain(cells["jacobian-relative-rates"]) == (
        f"(array([ {1 - p[0]:.4f}, {-p[0]:.4f}, {-p[0]:.4f}]), True)"
    )
    assert _plain(cells["jacobian-agree"]) == "True"
    # The quiz's numbers are the Jacobian's entry for (dog, cat).
    quiz = cells["quiz-jacobian"].source
    assert f"{p[0]:.3f} * {p[1]:.3f}" in quiz


# --- the Plackett-Luce tree figure ---------------------------------------------------------------


def _texts(figure: Figure) -> list[str]:
    return [text.get_text() for text in figure.axes[0].texts]


def test_the_tree_labels_every_branch_and_every_complete_order():
    scores = np.array([2.0, 1.0, 0.0])
    figure = plots.plot_selection_tree(["cat", "dog", "mat"], scores, path=[2, 0, 1])
    assert isinstance(figure, plots.CourseFigure)
    texts = _texts(figure)
    leaves = {}
    for text in texts:
        match = re.fullmatch(r"(\w+), (\w+), (\w+):  ([0-9.]+)", text)
        if match:
            leaves[match.groups()[:3]] = float(match.group(4))
    names = ["cat", "dog", "mat"]
    assert len(leaves) == 6
    for order in permutations(range(3)):
        expected = lesson01.ordered_selection_reference(scores, list(order))
        assert leaves[tuple(names[i] for i in order)] == pytest.approx(expected, abs=5e-5)
    assert sum(leaves.values()) == pytest.approx(1.0, abs=5e-4)
    # First-level branches are the softmax, the second "cat" after "mat" its renormalization.
    first = softmax(scores)
    for value in first:
        assert f"{value:.3f}" in texts
    assert f"{np.exp(2) / (np.exp(2) + np.exp(1)):.3f}" in texts
    # 1 root + 3 + 6 + 6 nodes, 15 edge labels, 6 leaf labels, and the title.
    assert len(texts) == 1 + 15 + 15 + 6
    png = plots.figure_png(figure)
    assert png[:4] == b"\x89PNG"


def test_the_highlighted_path_is_thick_and_the_others_thin():
    figure = plots.plot_selection_tree(["a", "b", "c"], [0.0, 0.0, 0.0], path=[1, 2])
    widths = sorted(line.get_linewidth() for line in figure.axes[0].lines)
    assert widths.count(3) == 2
    assert len(widths) == 15


def test_a_partial_tree_of_four_items_sums_to_one_at_its_leaves():
    figure = plots.plot_selection_tree(list("abcd"), [1.5, -0.5, 3.0, 0.0], depth=2)
    values = [float(t.rsplit(":", 1)[1]) for t in _texts(figure) if ", " in t and ":" in t]
    assert len(values) == 12
    assert sum(values) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"scores": [1.0, 2.0]}, ValueError, "scores"),
        ({"scores": [1.0, -np.inf, 0.0]}, ValueError, "finite"),
        ({"depth": 0}, ValueError, "depth must be between 1 and 3"),
        ({"depth": 2.0}, TypeError, "depth must be an int"),
        ({"path": [0, 0]}, ValueError, "distinct item indices"),
        ({"path": [5]}, ValueError, "distinct item indices"),
    ],
)
def test_bad_arguments_get_a_clear_error(kwargs, error, words):
    arguments = {"items": ["cat", "dog", "mat"], "scores": [2.0, 1.0, 0.0], **kwargs}
    with pytest.raises(error, match=words):
        plots.plot_selection_tree(**arguments)


def test_a_tree_too_large_to_read_is_refused():
    with pytest.raises(ValueError, match="leaves"):
        plots.plot_selection_tree(list("abcde"), np.zeros(5))
