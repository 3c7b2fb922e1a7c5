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
