"""The course's charts: distributions, before/after comparisons, heatmaps, beam trees.

Every function returns a new `CourseFigure` (a `matplotlib.figure.Figure`
that shows itself as a PNG in Jupyter) and never touches pyplot's global
state, so the widgets can redraw as often as they like and lessons can end a
cell on ``plot_distribution(...)`` without ``plt.show()``.

Colours come from the Okabe–Ito palette, which readers with the common forms
of colour blindness can tell apart; where a colour carries meaning (a token
removed by top-p, an overflowed NaN) a hatch or a text label says it too.

>>> fig = plot_distribution(["cat", "dog", "bird"], [0.665, 0.245, 0.090], title="P(next)")
>>> fig
<CourseFigure size 600x280 with 1 Axes>
>>> figure_png(fig)[:4]
b'\\x89PNG'
"""

from __future__ import annotations

import io
import math
import weakref
from collections.abc import Sequence

import numpy as np
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.spines import Spine

__all__ = [
    "COLORS",
    "OKABE_ITO",
    "CourseFigure",
    "draw_distribution",
    "figure_png",
    "moving_artists",
    "new_figure",
    "plot_beam_pruning",
    "plot_beam_tree",
    "plot_comparison",
    "plot_distribution",
    "plot_heatmap",
    "plot_inverse_cdf",
    "plot_reliability_diagram",
    "plot_temperature_search",
    "plot_truncation",
    "subplots_of",
    "update_distribution",
]

# Okabe & Ito (2008), "Color Universal Design".
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
# What each colour means across the course's charts.
COLORS = {
    "probability": OKABE_ITO["blue"],
    "reference": OKABE_ITO["orange"],
    "bad": OKABE_ITO["vermillion"],
    "removed": "#BBBBBB",
    "greedy": OKABE_ITO["vermillion"],
    "kept": OKABE_ITO["blue"],
    "finished": OKABE_ITO["bluish_green"],
    "limit": OKABE_ITO["reddish_purple"],
}
_DPI = 100
# Above this many bars the value labels would overlap: leave them out.
_MAX_VALUE_LABELS = 16
# What `draw_distribution` drew on each Axes, for `update_distribution`.
_DRAWN: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class CourseFigure(Figure):
    """A `matplotlib.figure.Figure` that displays itself as a PNG in Jupyter.

    Its repr is matplotlib's (``<CourseFigure size 600x280 with 1 Axes>``):
    no memory address, so stored notebook outputs compare equal across runs.
    """

    def _repr_png_(self) -> bytes:
        return figure_png(self)


def figure_png(figure: Figure, *, dpi: int = _DPI) -> bytes:
    """The figure rendered as PNG bytes (no pyplot involved)."""
    if not isinstance(figure, Figure):
        raise TypeError(f"figure must be a matplotlib Figure, got {type(figure).__name__}.")
    buffer = io.BytesIO()
    if dpi == figure.dpi:
        # One draw, which runs the layout itself; savefig draws twice when a layout
        # engine is set (the course's figures have one), for the same picture.
        FigureCanvasAgg(figure).print_png(buffer)
    else:
        figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def new_figure(width: float, height: float) -> CourseFigure:
    """An empty `CourseFigure` of `width` x `height` inches with constrained layout."""
    return CourseFigure(figsize=(width, height), dpi=_DPI, layout="constrained")


def subplots_of(figure: Figure, count: int, **subplot_args) -> list:
    """`count` axes side by side in `figure`: created the first time, then the same
    axes, cleared, so a widget that redraws keeps the figure and its layout."""
    for ax in figure.axes:
        _DRAWN.pop(ax, None)
    if len(figure.axes) == count:
        for ax in figure.axes:
            ax.clear()
        return list(figure.axes)
    figure.clear()
    axes = figure.subplots(1, count, squeeze=False, **subplot_args)[0]
    return list(axes)


# --- argument checks -----------------------------------------------------------------------------
def _labels(tokens, name: str = "tokens") -> list[str]:
    if isinstance(tokens, str) or not isinstance(tokens, Sequence | np.ndarray):
        raise TypeError(
            f"{name} must be a list of labels such as ['cat', 'dog', 'bird'], got {tokens!r}."
        )
    labels = [str(token) for token in tokens]
    if not labels:
        raise ValueError(f"{name} is empty; give one label per bar.")
    return labels


def _values(values, size: int, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be real numbers, got dtype {array.dtype}.")
    array = array.astype(np.float64)
    if array.shape != (size,):
        raise ValueError(
            f"{name} has shape {array.shape} but there are {size} labels; give one value per label."
        )
    return array


def _flags(flags, size: int, name: str) -> np.ndarray:
    if flags is None:
        return np.zeros(size, dtype=bool)
    array = np.asarray(flags)
    if array.dtype.kind != "b" or array.shape != (size,):
        raise ValueError(
            f"{name} must be a boolean array with one entry per label (shape ({size},)), "
            f"got dtype {array.dtype} and shape {array.shape}."
        )
    return array


# --- distributions -------------------------------------------------------------------------------
def draw_distribution(
    ax,
    tokens,
    probs,
    *,
    title=None,
    kept=None,
    reference=None,
    reference_label="reference",
    ylabel="probability",
    ylim=(0.0, 1.08),
    color=None,
    value_labels=True,
    kept_labels=("kept", "removed"),
):
    """Draw bars of `probs` labelled by `tokens` on the matplotlib Axes `ax`.

    `kept` (bool per token): tokens with False are drawn grey and hatched
    ("removed", e.g. by top-k; `kept_labels` names the two kinds in the
    legend). `reference` (one value per token): drawn as
    orange diamonds on top of the bars (e.g. sample frequencies, the true
    distribution). NaN and inf values are drawn as full-height hatched bars
    labelled "NaN" / "inf", so an overflow is impossible to miss.
    Returns `ax`.
    """
    labels = _labels(tokens)
    values = _values(probs, len(labels), "probs")
    kept = np.ones(len(labels), dtype=bool) if kept is None else _flags(kept, len(labels), "kept")
    positions = np.arange(len(labels))
    finite = np.isfinite(values)
    bar_color = color or COLORS["probability"]
    colors = [bar_color if keep else COLORS["removed"] for keep in kept]
    heights = np.where(finite, values, 0.0)
    bars = ax.bar(positions, heights, color=colors, edgecolor="#333333", linewidth=0.6)
    for bar, keep in zip(bars, kept, strict=True):
        if not keep:
            bar.set_hatch("//")
    top = ylim[1] if ylim is not None else max(1.0, float(np.max(heights, initial=0.0)) * 1.15)
    for position in np.flatnonzero(~finite):
        word = (
            "NaN" if math.isnan(values[position]) else ("inf" if values[position] > 0 else "-inf")
        )
        ax.bar(
            position,
            top,
            color="none",
            edgecolor=COLORS["bad"],
            hatch="xx",
            linewidth=1.5,
        )
        ax.text(
            position,
            top / 2,
            word,
            ha="center",
            va="center",
            fontsize=10,
            fontweight="bold",
            color=COLORS["bad"],
            bbox={"facecolor": "white", "edgecolor": COLORS["bad"], "boxstyle": "round"},
        )
    # With reference markers on top of the bars, value labels would sit under them.
    value_texts = None
    if value_labels and reference is None and len(labels) <= _MAX_VALUE_LABELS:
        value_texts = []
        for position in np.flatnonzero(finite):
            removed = not kept[position] and heights[position] == 0
            value_texts.append(
                ax.text(
                    position,
                    heights[position] + 0.01 * top,
                    "out" if removed else f"{heights[position]:.3f}",
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color="#555555" if removed else "black",
                    fontstyle="italic" if removed else "normal",
                )
            )
    reference_line = None
    if reference is not None:
        reference_values = _values(reference, len(labels), "reference")
        (reference_line,) = ax.plot(
            positions,
            reference_values,
            "D",
            color=COLORS["reference"],
            markeredgecolor="black",
            markersize=6,
            label=reference_label,
            zorder=3,
        )
    ax.set_xticks(positions, labels, rotation=0 if len(labels) <= 8 else 45, ha="center")
    ax.set_ylim(*(ylim if ylim is not None else (0, top)))
    if ylim is not None and ylim[0] == 0 and 1 < ylim[1] <= 1.2:  # room for labels above 1
        ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    handles = []
    if not kept.all():
        handles += [
            Patch(facecolor=bar_color, edgecolor="#333333", label=kept_labels[0]),
            Patch(
                facecolor=COLORS["removed"], hatch="//", edgecolor="#333333", label=kept_labels[1]
            ),
        ]
    if reference is not None:
        handles += ax.get_legend_handles_labels()[0]
    if handles:
        ax.legend(handles=handles, fontsize=8, loc="upper right", frameon=False)
    _DRAWN[ax] = {
        "labels": labels,
        "bars": bars,
        "value_texts": value_texts,
        "reference": reference_line,
        "legend": (not kept.all(), reference is not None, reference_label),
        "finite": bool(finite.all()),
        "top": top,
        "color": bar_color,
    }
    return ax


def moving_artists(ax) -> list:
    """Everything drawn inside `ax` (bars, labels, markers, lines, title, legend), in
    drawing order, but not its frame, ticks and axis labels: what a widget draws again
    over a kept background when only the values move (see `LiveFigure`)."""
    return [
        artist
        for artist in ax.get_children()
        if artist is not ax.patch and not isinstance(artist, Spine | Axis)
    ]


def update_distribution(
    ax, tokens, probs, *, title=None, kept=None, reference=None, reference_label="reference"
) -> bool:
    """Move what `draw_distribution` drew on `ax` to new values, in place.

    For widgets: changing the bars' heights and colours and the labels' text
    is several times cheaper than clearing the axes and drawing again. Returns
    False, changing nothing, when an update cannot show the same as a fresh
    `draw_distribution` with these arguments (other tokens, NaN or inf values,
    a legend that would change); then draw again.
    """
    drawn = _DRAWN.get(ax)
    labels = _labels(tokens)
    if drawn is None or drawn["labels"] != labels or not drawn["finite"]:
        return False
    values = _values(probs, len(labels), "probs")
    kept = np.ones(len(labels), dtype=bool) if kept is None else _flags(kept, len(labels), "kept")
    legend = (not kept.all(), reference is not None, reference_label)
    if not np.isfinite(values).all() or legend != drawn["legend"]:
        return False
    for bar, value, keep in zip(drawn["bars"], values, kept, strict=True):
        bar.set_height(value)
        bar.set_facecolor(drawn["color"] if keep else COLORS["removed"])
        bar.set_hatch(None if keep else "//")
    if drawn["value_texts"] is not None:
        for text, value, keep in zip(drawn["value_texts"], values, kept, strict=True):
            removed = not keep and value == 0
            text.set_y(value + 0.01 * drawn["top"])
            text.set_text("out" if removed else f"{value:.3f}")
            text.set_color("#555555" if removed else "black")
            text.set_fontstyle("italic" if removed else "normal")
    if reference is not None:
        drawn["reference"].set_ydata(_values(reference, len(labels), "reference"))
    if title:
        ax.set_title(title, fontsize=10)
    return True


def plot_distribution(
    tokens,
    probs,
    *,
    title=None,
    kept=None,
    reference=None,
    reference_label="reference",
    ylabel="probability",
    ylim=(0.0, 1.08),
    figsize=None,
    kept_labels=("kept", "removed"),
    figure=None,
) -> CourseFigure:
    """A bar chart of one distribution over tokens (see `draw_distribution`).

    `figure`: draw into this figure (a widget's, redrawn on every update)
    instead of a new one.

    >>> plot_distribution(["the", "a"], [0.65, 0.35], kept=[True, False])
    <CourseFigure size 600x280 with 1 Axes>
    """
    labels = _labels(tokens)
    width = min(12.0, max(6.0, 0.55 * len(labels)))
    if figure is None:
        figure = new_figure(*(figsize or (width, 2.8)))
    (ax,) = subplots_of(figure, 1)
    draw_distribution(
        ax,
        labels,
        probs,
        title=title,
        kept=kept,
        reference=reference,
        reference_label=reference_label,
        ylabel=ylabel,
        ylim=ylim,
        kept_labels=kept_labels,
    )
    return figure


def plot_comparison(
    tokens,
    before,
    after,
    *,
    labels=("before", "after"),
    title=None,
    ylabel="probability",
    ylim=(0.0, 1.08),
    figure=None,
) -> CourseFigure:
    """Two distributions over the same tokens, side by side (e.g. naive vs. stable softmax).

    NaN / inf values are marked as in `draw_distribution`; `figure` as in
    `plot_distribution`.

    >>> plot_comparison(["a", "b"], [0.5, 0.5], [0.9, 0.1], labels=("T = 10", "T = 0.5"))
    <CourseFigure size 900x280 with 2 Axes>
    """
    names = _labels(tokens)
    if isinstance(labels, str) or len(labels) != 2:
        raise ValueError(f"labels must be two panel titles, got {labels!r}.")
    width = min(14.0, max(9.0, 1.1 * len(names)))
    if figure is None:
        figure = new_figure(width, 2.8)
    left, right = subplots_of(figure, 2, sharey=True)
    draw_distribution(left, names, before, title=labels[0], ylabel=ylabel, ylim=ylim)
    draw_distribution(right, names, after, title=labels[1], ylabel="", ylim=ylim)
    if title:
        figure.suptitle(title, fontsize=11)
    return figure


# --- heatmap -------------------------------------------------------------------------------------
def plot_heatmap(
    values,
    *,
    row_labels=None,
    column_labels=None,
    title=None,
    colorbar_label=None,
    annotate=True,
    number_format=".2f",
    cmap="cividis",
) -> CourseFigure:
    """A heatmap of a 2-D array (e.g. next-token probabilities, one row per context).

    `cividis` is readable in colour-blind vision and in greyscale. NaN cells
    are left blank. Cells are annotated when there are at most 300 of them.

    >>> plot_heatmap([[0.9, 0.1], [0.3, 0.7]], row_labels=["x", "y"], column_labels=["a", "b"])
    <CourseFigure size 410x300 with 2 Axes>
    """
    grid = np.asarray(values)
    if grid.dtype.kind not in "iuf":
        raise TypeError(f"values must be real numbers, got dtype {grid.dtype}.")
    if grid.ndim != 2 or grid.size == 0:
        raise ValueError(f"values must be a non-empty 2-D array, got shape {grid.shape}.")
    grid = grid.astype(np.float64)
    rows, columns = grid.shape
    row_names = _labels(row_labels, "row_labels") if row_labels is not None else None
    column_names = _labels(column_labels, "column_labels") if column_labels is not None else None
    if row_names is not None and len(row_names) != rows:
        raise ValueError(f"row_labels has {len(row_names)} labels for {rows} rows.")
    if column_names is not None and len(column_names) != columns:
        raise ValueError(f"column_labels has {len(column_names)} labels for {columns} columns.")
    width = min(14.0, max(4.1, 0.55 * columns + 2.0))
    height = min(12.0, max(3.0, 0.4 * rows + 1.2))
    figure = new_figure(width, height)
    ax = figure.subplots()
    image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, aspect="auto")
    colorbar = figure.colorbar(image, ax=ax)
    if colorbar_label:
        colorbar.set_label(colorbar_label)
    ax.set_xticks(np.arange(columns), column_names or range(columns), rotation=45, ha="right")
    ax.set_yticks(np.arange(rows), row_names or range(rows))
    if annotate and grid.size <= 300:
        finite = grid[np.isfinite(grid)]
        middle = (finite.min() + finite.max()) / 2 if finite.size else 0.0
        for (row, column), value in np.ndenumerate(grid):
            if np.isfinite(value):
                ax.text(
                    column,
                    row,
                    format(value, number_format),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="black" if value > middle else "white",
                )
    if title:
        ax.set_title(title, fontsize=10)
    return figure


# --- beam search ---------------------------------------------------------------------------------
def _token_label(hypothesis, vocab) -> str:
    if vocab is not None:
        return str(vocab[int(hypothesis.token_ids[-1])])
    return hypothesis.text.split()[-1] if hypothesis.text else str(int(hypothesis.token_ids[-1]))


def plot_beam_tree(
    steps, *, prefix="", vocab=None, greedy_token_ids=None, title=None
) -> CourseFigure:
    """The search tree of beam search, one column per step.

    `steps`: the `BeamStep`s of `utils.sequences.beam_search_steps` (any
    objects with `.candidates`, `.beams` and `.finished` lists of hypotheses
    having `.token_ids` and `.log_prob`). Each step's candidates are drawn
    best first, labelled with their token and cumulative log-probability:
    blue = kept as a live beam, green = ended with ``</s>``, purple = stopped at
    the length limit (no ``</s>``: `Hypothesis.finished` is False), grey =
    dropped. The greedy
    path (`greedy_token_ids`) is drawn with thick vermillion edges.

    >>> from utils import lm, sequences
    >>> model = lm.load()
    >>> steps = list(sequences.beam_search_steps(model, "the cat", beam_width=2, max_new_tokens=2))
    >>> plot_beam_tree(steps, prefix="the cat", vocab=model.vocab)
    <CourseFigure size 790x330 with 1 Axes>
    """
    steps = list(steps)
    greedy = tuple(int(t) for t in greedy_token_ids) if greedy_token_ids is not None else ()
    rows = max([len(step.candidates) for step in steps], default=1)
    width, height = max(6.0, 1.0 + 2.3 * (len(steps) + 1)), max(3.3, 0.5 * rows + 1.0)
    # A fixed layout (the axes have no ticks to make room for): constrained layout
    # spent half of each redraw of the beam search stepper measuring the node boxes.
    figure = CourseFigure(figsize=(width, height), dpi=_DPI)
    figure.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=1 - 0.35 / height)
    ax = figure.subplots()
    ax.set_axis_off()
    position = {(): (0.0, 0.0)}  # token-id tuple -> (x, y)
    ax.text(
        0,
        0,
        prefix or "prefix",
        ha="center",
        va="center",
        fontsize=9,
        bbox={"facecolor": "white", "edgecolor": "#333333", "boxstyle": "round"},
        zorder=2,
    )
    for depth, step in enumerate(steps, start=1):
        live = {tuple(int(t) for t in h.token_ids) for h in step.beams}
        done = {tuple(int(t) for t in h.token_ids) for h in step.finished if h.finished}
        cut_off = {tuple(int(t) for t in h.token_ids) for h in step.finished if not h.finished}
        count = len(step.candidates)
        for rank, hypothesis in enumerate(step.candidates):
            key = tuple(int(t) for t in hypothesis.token_ids)
            y = (count - 1) / 2 - rank
            position[key] = (float(depth), y)
            status_color = (
                COLORS["kept"]
                if key in live
                else COLORS["finished"]
                if key in done
                else COLORS["limit"]
                if key in cut_off
                else COLORS["removed"]
            )
            on_greedy = len(key) <= len(greedy) and key == greedy[: len(key)]
            parent = position.get(key[:-1])
            if parent is not None:
                ax.plot(  # centre to centre, under the opaque boxes
                    [parent[0], depth],
                    [parent[1], y],
                    color=COLORS["greedy"] if on_greedy else "#777777",
                    linewidth=3 if on_greedy else 0.8,
                    zorder=1,
                )
            ax.text(
                depth,
                y,
                f"{_token_label(hypothesis, vocab)}\n{hypothesis.log_prob:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if key in live or key in done or key in cut_off else "black",
                bbox={
                    "facecolor": status_color,
                    "edgecolor": COLORS["greedy"] if on_greedy else "#333333",
                    "linewidth": 2 if on_greedy else 0.6,
                    "boxstyle": "round",
                },
                zorder=2,
            )
    ax.set_xlim(-0.6, len(steps) + 0.6)
    ax.set_ylim(-rows / 2 - 0.2, rows / 2 + 0.2)
    handles = [
        Patch(facecolor=COLORS["kept"], label="kept beam"),
        Patch(facecolor=COLORS["finished"], label="ended with </s>"),
        Patch(facecolor=COLORS["limit"], label="length limit"),
        Patch(facecolor=COLORS["removed"], label="dropped"),
        Patch(facecolor="white", edgecolor=COLORS["greedy"], linewidth=2, label="greedy path"),
    ]
    ax.legend(handles=handles, fontsize=7, loc="lower left", frameon=False, ncols=5)
    ax.set_title(title or "beam search: token and cumulative log-probability", fontsize=10)
    return figure


# --- lessons 01-03 (helper lessons-a): the ordered-selection (Plackett-Luce) tree --------------
__all__ += ["plot_selection_tree"]

# Leaves beyond this would no longer fit one readable figure.
_MAX_TREE_LEAVES = 24


def _selection_tree(scores: np.ndarray, depth: int) -> list[tuple[tuple[int, ...], float, float]]:
    """Every ordered selection of up to `depth` items, depth first:
    (order, probability of its last pick given the earlier ones, probability of the order)."""
    nodes = []

    def grow(order: tuple[int, ...], probability: float) -> None:
        if len(order) == depth:
            return
        left = [index for index in range(scores.size) if index not in order]
        weights = np.exp(scores[left] - scores[left].max())
        for index, weight in zip(left, weights / weights.sum(), strict=True):
            child = (*order, index)
            nodes.append((child, float(weight), probability * float(weight)))
            grow(child, probability * float(weight))

    grow((), 1.0)
    return nodes


def plot_selection_tree(items, scores, *, depth=None, path=None, title=None) -> CourseFigure:
    """The Plackett-Luce tree of picking items one at a time without replacement.

    Each level is one pick: a softmax of `scores` over the items not picked
    yet. Every edge is labelled with its branch probability; each leaf with
    the ordered selection and its probability, the product along its path
    (the leaves of a complete tree add up to 1). `path` (indices in pick
    order) is drawn with thick vermillion edges.

    >>> plot_selection_tree(["cat", "dog", "mat"], [2.0, 1.0, 0.0], path=[2, 0])
    <CourseFigure size 820x370 with 1 Axes>
    """
    labels = _labels(items, "items")
    values = _values(scores, len(labels), "scores")
    if not np.isfinite(values).all():
        raise ValueError("scores must be finite: an item scored -inf could never be picked.")
    depth = len(labels) if depth is None else depth
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)):
        raise TypeError(f"depth must be an int, got {type(depth).__name__}.")
    if not 1 <= depth <= len(labels):
        raise ValueError(f"depth must be between 1 and {len(labels)} (the items), got {depth}.")
    leaves = math.perm(len(labels), int(depth))
    if leaves > _MAX_TREE_LEAVES:
        raise ValueError(
            f"{len(labels)} items picked {depth} times make {leaves} leaves; draw at most "
            f"{_MAX_TREE_LEAVES} (fewer items or a smaller depth)."
        )
    highlighted = () if path is None else tuple(int(index) for index in path)
    if len(set(highlighted)) != len(highlighted) or not all(
        0 <= index < len(labels) for index in highlighted
    ):
        raise ValueError(f"path must list distinct item indices below {len(labels)}, got {path!r}.")
    nodes = _selection_tree(values, int(depth))
    # Leaves one row each, top to bottom; an inner node sits at the mean of its leaves.
    leaf_orders = [order for order, _, _ in nodes if len(order) == depth]
    y_of = {order: float(len(leaf_orders) - 1 - row) for row, order in enumerate(leaf_orders)}
    for order, _, _ in sorted(nodes, key=lambda node: -len(node[0])):
        if order not in y_of:
            below = [y for key, y in y_of.items() if key[: len(order)] == order]
            y_of[order] = float(np.mean(below))
    y_of[()] = float(np.mean([y_of[order] for order in leaf_orders]))
    height = max(3.0, 0.45 * leaves + 1.0)
    figure = CourseFigure(figsize=(1.9 * depth + 2.5, height), dpi=_DPI)
    figure.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=1 - 0.4 / height)
    ax = figure.subplots()
    ax.set_axis_off()
    box = {"facecolor": "white", "edgecolor": "#333333", "boxstyle": "round"}
    ax.text(0, y_of[()], "start", ha="center", va="center", fontsize=9, bbox=box, zorder=2)
    for order, branch, probability in nodes:
        x, y = float(len(order)), y_of[order]
        parent_x, parent_y = x - 1, y_of[order[:-1]]
        on_path = order == highlighted[: len(order)]
        colour = COLORS["greedy"] if on_path else "#777777"
        ax.plot([parent_x, x], [parent_y, y], color=colour, linewidth=3 if on_path else 0.8,
                zorder=1)  # fmt: skip
        ax.text((parent_x + x) / 2, (parent_y + y) / 2, f"{branch:.3f}", ha="center",
                va="center", fontsize=7, color=colour, zorder=3,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})  # fmt: skip
        ax.text(x, y, labels[order[-1]], ha="center", va="center", fontsize=8, zorder=2,
                bbox={**box, "edgecolor": colour, "linewidth": 2 if on_path else 0.6})  # fmt: skip
        if len(order) == depth:
            ax.text(x + 0.3, y, f"{', '.join(labels[i] for i in order)}:  {probability:.4f}",
                    ha="left", va="center", fontsize=8,
                    fontweight="bold" if on_path else "normal")  # fmt: skip
    ax.set_xlim(-0.4, depth + 1.9)
    ax.set_ylim(-0.6, len(leaf_orders) - 0.4)
    ax.set_title(
        title
        or "ordered selection: each pick a softmax over the items left; "
        "an order's probability is the product along its path",
        fontsize=9,
    )
    return figure


# --- lessons 04-05: calibration, the inverse CDF, truncation (helper lessons-b) ------------------
def plot_reliability_diagram(panels, *, title=None) -> CourseFigure:
    """Reliability diagrams side by side: mean outcome against mean confidence per bin.

    `panels`: a list of `(label, mean_confidence, mean_outcome, counts)`, one per
    diagram, each array with one entry per bin (empty bins: count 0, their
    NaN means are not drawn). A calibrated model lies on the diagonal; points
    below it are over-confident, above it under-confident. Marker areas follow
    the share of predictions in the bin.

    >>> plot_reliability_diagram([("T = 1", [0.25, 0.75], [0.3, 0.7], [10, 30])])
    <CourseFigure size 380x360 with 1 Axes>
    """
    if isinstance(panels, tuple | str) or not isinstance(panels, Sequence) or not panels:
        raise TypeError(
            "panels must be a non-empty list of (label, mean_confidence, mean_outcome, counts)."
        )
    checked = []
    for panel in panels:
        if not isinstance(panel, tuple | list) or len(panel) != 4:
            raise ValueError(
                f"each panel is (label, mean_confidence, mean_outcome, counts), got {panel!r}."
            )
        label, confidence, outcome, counts = panel
        counts = np.asarray(counts)
        if counts.ndim != 1 or counts.dtype.kind not in "iu" or (counts < 0).any():
            raise ValueError("counts must be a 1-D array of non-negative whole numbers per bin.")
        size = counts.size
        confidence = _values(confidence, size, "mean_confidence")
        outcome = _values(outcome, size, "mean_outcome")
        checked.append((str(label), confidence, outcome, counts))
    figure = new_figure(3.8 * len(checked), 3.6)
    axes = subplots_of(figure, len(checked), sharey=True)
    for index, (ax, (label, confidence, outcome, counts)) in enumerate(
        zip(axes, checked, strict=True)
    ):
        used = counts > 0
        share = counts[used] / max(int(counts.sum()), 1)
        ax.plot(
            [0, 1],
            [0, 1],
            linestyle="--",
            color=OKABE_ITO["black"],
            linewidth=1,
            label="calibrated",
        )
        for x, y in zip(confidence[used], outcome[used], strict=True):
            ax.plot([x, x], [x, y], color=COLORS["bad"], linewidth=1.5, zorder=1)
        ax.scatter(
            confidence[used],
            outcome[used],
            s=20 + 600 * share,
            color=COLORS["probability"],
            edgecolor="white",
            zorder=2,
            label="one bin",
        )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("mean confidence in the bin")
        if index == 0:
            ax.set_ylabel("how often the top word is right")
            ax.legend(fontsize=8, loc="upper left", frameon=False)
    if title:
        figure.suptitle(title, fontsize=11)
    return figure


def plot_inverse_cdf(tokens, probs, u, *, title=None) -> CourseFigure:
    """The CDF of a distribution over tokens as a staircase, with the draw `u` on it.

    Token i owns the step [c_{i-1}, c_i) of the cumulative sums c; the
    horizontal line at height u meets the first step above it: the token
    drawn, highlighted.

    >>> plot_inverse_cdf(["cat", "dog", "mat"], [0.5, 0.3, 0.2], 0.62)
    <CourseFigure size 600x340 with 1 Axes>
    """
    labels = _labels(tokens)
    probs = _values(probs, len(labels), "probs")
    if (probs < 0).any() or not np.isclose(probs.sum(), 1.0, atol=1e-6):
        raise ValueError("probs must be non-negative and sum to 1.")
    u = float(u)
    if not 0.0 <= u < 1.0:
        raise ValueError(f"u must be in [0, 1), got {u}.")
    cumulative = np.cumsum(probs)
    chosen = min(int(np.searchsorted(cumulative, u, side="right")), len(labels) - 1)
    lower = np.concatenate([[0.0], cumulative[:-1]])
    figure = new_figure(6.0, 3.4)
    (ax,) = subplots_of(figure, 1)
    positions = np.arange(len(labels))
    for i in positions:
        colour = COLORS["greedy"] if i == chosen else COLORS["probability"]
        ax.bar(i, probs[i], bottom=lower[i], width=0.7, color=colour, alpha=0.35)
        ax.plot([i - 0.35, i + 0.35], [cumulative[i]] * 2, color=colour, linewidth=2)
        ax.text(
            i + 0.38,
            (lower[i] + cumulative[i]) / 2,
            f"[{lower[i]:.2f}, {cumulative[i]:.2f})",
            fontsize=8,
            va="center",
        )
    ax.step(
        np.concatenate([[-0.5], positions + 0.5]),
        np.concatenate([[0.0], cumulative]),
        where="pre",
        color=OKABE_ITO["black"],
        linewidth=1,
    )
    ax.axhline(u, color=COLORS["greedy"], linestyle="--", linewidth=1.2)
    ax.text(-0.45, u + 0.02, f"u = {u:g}", color=COLORS["greedy"], fontsize=9)
    ax.annotate(
        f"draws {labels[chosen]!r}",
        xy=(chosen, u),
        xytext=(chosen, min(u + 0.2, 0.97)),
        ha="center",
        fontsize=9,
        arrowprops={"arrowstyle": "->"},
    )
    ax.set_xticks(positions, labels)
    ax.set_xlim(-0.6, len(labels) - 0.1)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("cumulative probability")
    ax.set_title(
        title or "inverse CDF: the first token whose cumulative sum exceeds u", fontsize=10
    )
    return figure


def plot_truncation(rows, *, k, p, shown=None, title=None) -> CourseFigure:
    """Top-k and top-p on several distributions: one row of two panels per distribution.

    `rows`: a list of `(label, tokens, probs)` with `probs` sorted from the
    most likely down. Left: the k most likely tokens kept; right: the smallest
    set whose mass reaches p (boundary token included), with the running total
    and the line at p. Removed tokens are grey and hatched. `shown`: draw only
    the first `shown` tokens of each row (the kept counts in the titles are over
    the whole row).

    >>> plot_truncation([("peaked", ["a", "b", "c"], [0.8, 0.15, 0.05])], k=2, p=0.9)
    <CourseFigure size 1000x260 with 2 Axes>
    """
    if isinstance(rows, tuple | str) or not isinstance(rows, Sequence) or not rows:
        raise TypeError("rows must be a non-empty list of (label, tokens, probs).")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a whole number >= 1, got {k!r}.")
    if not 0.0 < float(p) <= 1.0:
        raise ValueError(f"p must be in (0, 1], got {p!r}.")
    if shown is not None and (isinstance(shown, bool) or not isinstance(shown, int) or shown < 1):
        raise ValueError(f"shown must be a whole number >= 1 or None, got {shown!r}.")
    checked = []
    for row in rows:
        if not isinstance(row, tuple | list) or len(row) != 3:
            raise ValueError(f"each row is (label, tokens, probs), got {row!r}.")
        label, tokens, probs = row
        names = _labels(tokens)
        values = _values(probs, len(names), "probs")
        if (np.diff(values) > 1e-12).any():
            raise ValueError(f"probs of {label!r} must be sorted from the most likely down.")
        checked.append((str(label), names, values))
    figure = CourseFigure(figsize=(10.0, 2.6 * len(checked)), dpi=_DPI, layout="constrained")
    axes = figure.subplots(len(checked), 2, squeeze=False)
    for (left, right), (label, names, values) in zip(axes, checked, strict=True):
        running = np.cumsum(values)
        before = running - values
        kept_by_k = np.arange(len(values)) < k
        kept_by_p = before < float(p) - 1e-12
        kept_by_p[0] = True
        counts = {"k": int(kept_by_k.sum()), "p": int(kept_by_p.sum())}
        width = len(names) if shown is None else min(shown, len(names))
        names, values, running = names[:width], values[:width], running[:width]
        kept_by_k, kept_by_p = kept_by_k[:width], kept_by_p[:width]
        for ax, kept, rule, count in (
            (left, kept_by_k, f"top-k, k = {k}", counts["k"]),
            (right, kept_by_p, f"top-p, p = {p:g}", counts["p"]),
        ):
            positions = np.arange(len(names))
            ax.bar(positions[kept], values[kept], color=COLORS["kept"], label="kept")
            ax.bar(
                positions[~kept],
                values[~kept],
                color=COLORS["removed"],
                hatch="//",
                label="removed",
            )
            ax.set_xticks(positions, names, rotation=40, fontsize=8)
            ax.set_ylim(0, 1.05)
            ax.set_title(f"{label}: {rule} keeps {count}", fontsize=10)
        right.plot(
            np.arange(len(names)),
            running,
            "o-",
            color=COLORS["limit"],
            markersize=3,
            linewidth=1,
            label="running total",
        )
        right.axhline(float(p), color=COLORS["limit"], linestyle="--", linewidth=1)
        left.set_ylabel("probability")
    axes[0][1].legend(fontsize=8, loc="center right", frameon=False)
    if title:
        figure.suptitle(title, fontsize=11)
    return figure


def plot_temperature_search(temperatures, criteria, *, title=None) -> CourseFigure:
    """One panel per criterion of a temperature search, its minimum marked.

    `temperatures`: the grid, increasing; `criteria`: a dict {name: values on
    the grid}, e.g. {"ECE": ..., "mean NLL (nats)": ...}. Each panel draws the
    curve and a vertical line at the temperature where it is smallest.

    >>> plot_temperature_search([0.5, 1.0, 2.0], {"ECE": [0.1, 0.0, 0.1]})
    <CourseFigure size 380x300 with 1 Axes>
    """
    grid = np.asarray(temperatures)
    if grid.ndim != 1 or grid.size < 2 or grid.dtype.kind not in "iuf":
        raise ValueError("temperatures must be a 1-D array of at least two numbers.")
    grid = grid.astype(np.float64)
    if not (np.all(np.isfinite(grid)) and np.all(np.diff(grid) > 0) and grid[0] > 0):
        raise ValueError("temperatures must be positive, finite and increasing.")
    if not isinstance(criteria, dict) or not criteria:
        raise TypeError("criteria must be a non-empty dict {name: values on the grid}.")
    checked = {
        str(name): _values(values, grid.size, str(name)) for name, values in criteria.items()
    }
    figure = new_figure(3.8 * len(checked), 3.0)
    axes = subplots_of(figure, len(checked))
    for ax, (name, values) in zip(axes, checked.items(), strict=True):
        best = float(grid[int(np.nanargmin(values))])
        ax.plot(grid, values, color=COLORS["probability"], linewidth=1.5)
        ax.axvline(best, color=COLORS["greedy"], linestyle="--", linewidth=1)
        ax.set_title(f"{name}: smallest at T = {best:g}", fontsize=10)
        ax.set_xlabel("temperature T")
        ax.set_ylabel(name)
    if title:
        figure.suptitle(title, fontsize=11)
    return figure


# --- lesson 06 (sequence scores): beam search with its pruned branches ---------------------------
# The four fates of a candidate in one step of beam search, and how each is drawn.
_BEAM_FATES = {
    "kept": ("kept beam", COLORS["kept"], "white"),
    "eos": ("ended with </s>", COLORS["finished"], "white"),
    "limit": ("stopped at the length limit", COLORS["limit"], "white"),
    "pruned": ("pruned", COLORS["removed"], "black"),
    "unranked": ("never a candidate", "white", "black"),
}


def _beam_fate(key: tuple, step) -> str:
    if any(tuple(int(t) for t in h.token_ids) == key for h in step.beams):
        return "kept"
    for hypothesis in step.finished:
        if tuple(int(t) for t in hypothesis.token_ids) == key:
            return "eos" if hypothesis.finished else "limit"
    return "pruned"


def plot_beam_pruning(steps, *, vocab, prefix="", best=None, title=None) -> CourseFigure:
    """A static beam-search tree: what each step kept, finished and pruned.

    `steps`: the `BeamStep`s of `utils.sequences.beam_search_steps`. Each
    column is one step's ranked candidates (the best 2 * beam_width
    extensions, best at the top), each labelled with its token and
    cumulative log-probability and coloured by its fate: kept as a live beam,
    ended with ``</s>``, stopped at the length limit (no ``</s>``) or pruned.
    `best` (a `Hypothesis`, e.g. from `sequences.exhaustive_search`) draws
    the best sequence's path with dashed orange edges; where that path is not
    among a step's candidates, its node is added below the column in a dashed
    white box, "never a candidate" ("not ranked" where the beam lost it, "never
    reached" after that), so the reader sees where the search dropped it.

    >>> from utils import lm, sequences
    >>> model = lm.load()
    >>> steps = list(sequences.beam_search_steps(model, "the cat", beam_width=2, max_new_tokens=2))
    >>> plot_beam_pruning(steps, vocab=model.vocab, prefix="the cat")
    <CourseFigure size 750x368 with 1 Axes>
    """
    steps = list(steps)
    if not steps:
        raise ValueError("steps is empty; pass the steps of sequences.beam_search_steps(...).")
    for step in steps:
        if not all(hasattr(step, name) for name in ("candidates", "beams", "finished")):
            raise TypeError(
                "steps must be BeamStep objects (with candidates, beams and finished), "
                f"got {type(step).__name__}."
            )
    best_ids = tuple(int(t) for t in best.token_ids) if best is not None else ()
    best_totals = np.cumsum(best.token_log_probs) if best is not None else np.zeros(0)
    rows = max(len(step.candidates) for step in steps) + (1 if best is not None else 0)
    figure = new_figure(max(7.0, 1.2 + 2.1 * (len(steps) + 1)), max(3.3, 0.62 * rows + 1.2))
    ax = figure.subplots()
    ax.set_axis_off()
    box = {"boxstyle": "round", "linewidth": 0.6, "edgecolor": "#333333"}
    position = {(): (0.0, 0.0)}
    ax.text(
        0,
        0,
        prefix or "prefix",
        ha="center",
        va="center",
        fontsize=9,
        bbox={**box, "facecolor": "white"},
        zorder=3,
    )
    top = (rows - 1) / 2
    lost = False  # has the best sequence's path already left the beam?
    unranked_drawn = False
    for depth, step in enumerate(steps, start=1):
        nodes = [
            (
                tuple(int(t) for t in h.token_ids),
                float(h.log_prob),
                _beam_fate(tuple(int(t) for t in h.token_ids), step),
            )
            for h in step.candidates
        ]
        on_best = best_ids[:depth] if depth <= len(best_ids) else None
        if on_best is not None and all(key != on_best for key, _, _ in nodes):
            nodes.append((on_best, float(best_totals[depth - 1]), "unranked"))
            unranked_drawn = True
        for rank, (key, total, fate) in enumerate(nodes):
            y = top - rank if fate != "unranked" else -top
            position[key] = (float(depth), y)
            is_best = on_best is not None and key == on_best
            parent = position.get(key[:-1])
            if parent is not None:
                ax.plot(
                    [parent[0], depth],
                    [parent[1], y],
                    zorder=1,
                    color=OKABE_ITO["orange"] if is_best else "#777777",
                    linestyle="--" if is_best else "-",
                    linewidth=2.5 if is_best else 0.8,
                )
            _, face, ink = _BEAM_FATES[fate]
            word = str(vocab[key[-1]])
            note = ""
            if fate == "unranked":
                note = "\n(never reached)" if lost else "\n(not ranked)"
            ax.text(
                depth,
                y,
                f"{word}\n{total:.2f}{note}",
                ha="center",
                va="center",
                fontsize=8,
                color=ink,
                zorder=3,
                bbox={
                    **box,
                    "facecolor": face,
                    "edgecolor": OKABE_ITO["orange"] if is_best else "#333333",
                    "linewidth": 2.0 if is_best else 0.6,
                    "linestyle": "--" if fate == "unranked" else "-",
                },
            )
        if on_best is not None and (
            nodes[-1][2] == "unranked" or _beam_fate(on_best, step) == "pruned"
        ):
            lost = True
    ax.set_xlim(-0.6, len(steps) + 0.6)
    ax.set_ylim(-rows / 2 - 0.1, rows / 2 + 0.1)
    handles = [
        Patch(
            facecolor=face,
            edgecolor="#333333",
            linestyle="--" if fate == "unranked" else "-",
            label=label,
        )
        for fate, (label, face, _) in _BEAM_FATES.items()
        if fate != "unranked" or unranked_drawn
    ]
    if best is not None:
        handles.append(
            Patch(
                facecolor="white",
                edgecolor=OKABE_ITO["orange"],
                linewidth=2,
                linestyle="--",
                label="best sequence (exhaustive search)",
            )
        )
    ax.legend(
        handles=handles,
        fontsize=7,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        frameon=False,
        ncols=min(len(handles), 6),
    )
    ax.set_title(title or "beam search: token and cumulative log-probability, by step", fontsize=10)
    return figure
