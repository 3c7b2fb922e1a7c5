"""Explorers for one distribution: scores, overflow, temperature.

Each explorer is a pure function that computes everything shown
(`score_state`, `overflow_state`, `temperature_state`, tested directly) and a
thin widget around it that redraws when a control moves.

>>> explorer = score_explorer(["cat", "dog", "bird"], [2.0, 1.0, 0.1])
>>> explorer.state["probs"].round(3)
array([0.659, 0.242, 0.099])
>>> explorer.sliders["bird"].value = 2.0   # what a learner does with the mouse
>>> explorer.state["probs"].round(3)
array([0.422, 0.155, 0.422])
"""

from __future__ import annotations

import math
import textwrap

import ipywidgets as widgets
import numpy as np

from utils._validation import as_float_array, check_temperature
from utils.plots import (
    COLORS,
    OKABE_ITO,
    draw_distribution,
    moving_artists,
    new_figure,
    plot_comparison,
    plot_distribution,
    subplots_of,
    update_distribution,
)
from utils.probability import entropy, logsumexp, naive_softmax, softmax
from utils.widgets._display import (
    CourseWidget,
    LiveFigure,
    check_tokens,
    check_vector,
    figure_record,
    format_number,
    format_table,
    temperature_slider,
    text_record,
)

__all__ = [
    "OverflowExplorer",
    "ScoreExplorer",
    "TemperatureExplorer",
    "overflow_explorer",
    "overflow_state",
    "score_explorer",
    "score_state",
    "temperature_explorer",
    "temperature_state",
]

MAX_SLIDERS = 12
FLOAT_TYPES = ("float16", "float32", "float64")
# The temperature slider spans 10**-2 .. 10**2 (log scale).
TEMPERATURE_EXPONENTS = (-2.0, 2.0)


def _description_style(labels) -> dict:
    """Room for the longest label, so slider tracks line up and no label is cut."""
    return {"description_width": f"{max(len(label) for label in labels) + 2}ch"}


def _check_candidates(candidates, size: int) -> np.ndarray:
    if candidates is None:
        return np.ones(size, dtype=bool)
    array = np.asarray(candidates)
    if array.dtype.kind != "b" or array.shape != (size,):
        raise ValueError(
            f"mask must be one True/False per token (shape ({size},)), got dtype "
            f"{array.dtype} and shape {array.shape}; True marks a candidate."
        )
    return array.copy()


def _probabilities_text(tokens, probs) -> str:
    return ", ".join(f"P({token}) = {p:.3f}" for token, p in zip(tokens, probs, strict=True))


# --- score explorer ------------------------------------------------------------------------------
def score_state(tokens, scores, candidates=None) -> dict:
    """Everything the score explorer shows, for scores z and a candidate subset.

    Returns a dict: `tokens`, `scores`, `candidates` (bool), `exp_scores`
    (exp(z), inf where it overflows), `normalizer` Z = sum of exp(z) over the
    candidates and `log_normalizer` log Z, `probs` (softmax over the
    candidates; 0 elsewhere), `entropy` and `max_entropy` (log of the number
    of candidates) in nats, and `message` (empty, or why there is no
    distribution). With no candidate, `probs` and the sums are None.

    >>> state = score_state(["a", "b"], [0.0, 0.0])
    >>> state["probs"], round(state["entropy"], 4), state["normalizer"]
    (array([0.5, 0.5]), 0.6931, 2.0)
    """
    labels = check_tokens(tokens)
    values = check_vector(scores, len(labels), "scores")
    chosen = _check_candidates(candidates, len(labels))
    with np.errstate(over="ignore"):  # an inf term is shown as inf, not raised
        exp_scores = np.exp(values)
    state = {
        "tokens": labels,
        "scores": values,
        "candidates": chosen,
        "exp_scores": exp_scores,
        "normalizer": None,
        "log_normalizer": None,
        "probs": None,
        "entropy": None,
        "max_entropy": None,
        "message": "",
    }
    if not chosen.any():
        state["message"] = (
            "No candidate is ticked: a softmax over an empty set of tokens is undefined "
            "(the normalizing sum would be 0). Tick at least one token."
        )
        return state
    log_normalizer = float(logsumexp(values, mask=chosen))
    probs = softmax(values, mask=chosen)
    with np.errstate(over="ignore"):
        normalizer = math.exp(log_normalizer) if log_normalizer < 709 else math.inf
    state.update(
        normalizer=normalizer,
        log_normalizer=log_normalizer,
        probs=probs,
        entropy=float(entropy(probs)),
        max_entropy=math.log(int(chosen.sum())),
    )
    return state


def format_score_state(state: dict) -> str:
    """The score explorer's text: a table, the normalizing sum and the entropy."""
    rows = []
    for index, token in enumerate(state["tokens"]):
        chosen = state["candidates"][index]
        probability = "-" if state["probs"] is None else f"{state['probs'][index]:.4f}"
        rows.append(
            [
                token,
                f"{state['scores'][index]:.2f}",
                format_number(state["exp_scores"][index]) if chosen else "(not a candidate)",
                probability,
            ]
        )
    text = format_table(["token", "score z", "exp(z)", "probability"], rows)
    if state["probs"] is None:
        return text + "\n" + textwrap.fill(state["message"], width=100) + "\n"
    count = int(state["candidates"].sum())
    text += (
        f"\nnormalizing sum Z = sum of exp(z) over the {count} candidate(s) = "
        f"{format_number(state['normalizer'], 5)}  (log Z = {state['log_normalizer']:.4f})\n"
        f"probabilities: exp(z) / Z, summing to {float(state['probs'].sum()):.4f}\n"
        f"entropy H = {state['entropy']:.4f} nats  (0 = certain; at most log {count} = "
        f"{state['max_entropy']:.4f} when all {count} candidates are equally likely)\n"
    )
    return text


class ScoreExplorer(CourseWidget):
    """One slider per token's score, a candidate-subset toggle, the live distribution."""

    css_class = "score-explorer"

    def __init__(self, tokens, logits, *, mask=None, subset_toggle=True):
        self.tokens = check_tokens(tokens, max_tokens=MAX_SLIDERS)
        initial = check_vector(logits, len(self.tokens))
        chosen = _check_candidates(mask, len(self.tokens))
        low = math.floor(float(initial.min())) - 5
        high = math.ceil(float(initial.max())) + 5
        style = _description_style(self.tokens)
        self.sliders = {
            token: widgets.FloatSlider(
                value=float(value),
                min=low,
                max=high,
                step=0.1,
                description=token,
                readout_format=".1f",
                continuous_update=False,  # redraw on release and on each arrow key
                style=style,
                layout=widgets.Layout(width="460px"),
            )
            for token, value in zip(self.tokens, initial, strict=True)
        }
        self.checkboxes = {
            token: widgets.Checkbox(
                value=bool(keep),
                description=token,
                indent=False,
                layout=widgets.Layout(width="auto"),
            )
            for token, keep in zip(self.tokens, chosen, strict=True)
        }
        out = widgets.Output()
        children = [
            widgets.HTML("<b>Drag a score</b> (or focus a slider and use the arrow keys)."),
            *self.sliders.values(),
        ]
        if subset_toggle:
            children.append(
                widgets.HBox(
                    [
                        widgets.Label("Candidates (softmax over the ticked tokens):"),
                        *self.checkboxes.values(),
                    ]
                )
            )
        children.append(out)
        super().__init__(widgets.VBox(children), out, f"tokens={self.tokens}")
        for control in [*self.sliders.values(), *self.checkboxes.values()]:
            control.observe(self._on_change, names="value")
        self._figure = LiveFigure(new_figure(min(12.0, max(6.0, 0.55 * len(self.tokens))), 2.8))
        self.refresh()

    def refresh(self) -> dict:
        scores = [slider.value for slider in self.sliders.values()]
        chosen = [box.value for box in self.checkboxes.values()]
        self.state = score_state(self.tokens, scores, np.array(chosen, dtype=bool))
        text = format_score_state(self.state)
        if self.state["probs"] is None:
            self.out.outputs = (text_record(text),)
            return self.state
        arguments = {
            "kept": self.state["candidates"],
            "title": "softmax of the scores over the candidates",
        }
        axes = self._figure.figure.axes
        probs = self.state["probs"]
        if not (axes and update_distribution(axes[0], self.tokens, probs, **arguments)):
            plot_distribution(
                self.tokens,
                self.state["probs"],
                kept_labels=("candidate", "not a candidate"),
                figure=self._figure.figure,
                **arguments,
            )
        description = "bar chart: " + _probabilities_text(self.tokens, self.state["probs"])
        moving = moving_artists(self._figure.figure.axes[0])
        self.out.outputs = (text_record(text), figure_record(self._figure, description, moving))
        return self.state


def score_explorer(tokens, logits, *, mask=None, subset_toggle=True) -> ScoreExplorer:
    """Drag each token's score and watch softmax, the normalizing sum and the entropy move.

    Parameters
    ----------
    tokens : list of str
        The candidate tokens (at most 12), one slider each, labelled by the token.
    logits : array_like of float, shape (len(tokens),)
        The starting scores.
    mask : array_like of bool, optional
        Which tokens start as candidates (default: all); the softmax is taken
        over the ticked tokens only, the others get probability 0.
    subset_toggle : bool
        Show the candidate checkboxes (default True).

    Returns a `ScoreExplorer`: `.widget`, `.sliders` and `.checkboxes` (dicts
    by token), `.out`, `.state` (see `score_state`). End a cell on it to show it.

    >>> explorer = score_explorer(["cat", "dog", "bird"], [2.0, 1.0, 0.1])
    >>> explorer.checkboxes["cat"].value = False   # renormalize over dog and bird
    >>> explorer.state["probs"].round(3)
    array([0.   , 0.711, 0.289])
    """
    return ScoreExplorer(tokens, logits, mask=mask, subset_toggle=subset_toggle)


# --- overflow explorer ---------------------------------------------------------------------------
def overflow_state(logits, scale, dtype) -> dict:
    """Naive and stable softmax of ``scale * logits`` computed in `dtype`.

    Returns a dict: `scale`, `dtype` (name), `scaled` (the scores in that
    dtype; inf where even they overflow), `exp_scores` (exp of them, inf on
    overflow) and their sum `exp_sum` (computed in the dtype), `naive`
    (`naive_softmax`; NaN where it broke), `stable` (`softmax`; NaN if the
    scores themselves are not finite), `naive_ok` (finite and summing to 1),
    `scores_ok`, `exp_limit` (log of the dtype's largest number: exp of
    anything larger is inf), `max_abs_difference` and `message`.

    >>> state = overflow_state([2.0, 1.0, 0.1], 10.0, "float16")
    >>> state["naive_ok"], state["stable"].round(3)
    (False, array([1., 0., 0.], dtype=float16))
    """
    if str(dtype) not in FLOAT_TYPES:
        raise ValueError(f"dtype must be one of {FLOAT_TYPES}, got {dtype!r}.")
    float_type = np.dtype(str(dtype))
    base = as_float_array(logits).astype(np.float64)
    if base.ndim != 1 or not np.isfinite(base).all():
        raise ValueError("logits must be a 1-D vector of finite scores, e.g. [2.0, 1.0, 0.1].")
    if isinstance(scale, bool) or not isinstance(scale, int | float | np.floating | np.integer):
        raise TypeError(f"scale must be a number, got {scale!r}.")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive finite number, got {scale}.")
    exp_limit = math.log(float(np.finfo(float_type).max))
    # Overflow is the point of this explorer: compute it, do not warn about it.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        scaled = (base * scale).astype(float_type)
        exp_scores = np.exp(scaled)
        exp_sum = float(exp_scores.sum())  # in the dtype, as naive_softmax sums
        naive = naive_softmax(scaled)
    scores_ok = bool(np.isfinite(scaled).all())
    stable = softmax(scaled) if scores_ok else np.full(base.shape, np.nan, dtype=float_type)
    # Broken: NaN, or finite numbers that are not a distribution (every term / inf = 0).
    naive_ok = bool(np.isfinite(naive).all()) and abs(float(naive.sum(dtype=np.float64)) - 1) < 1e-2
    largest = float(np.max(scaled))
    name = float_type.name
    biggest = f"{float(np.finfo(float_type).max):.5g}"
    stable_fix = (
        "The stable softmax subtracts the largest score first, so it only ever takes exp of "
        "numbers <= 0: every term is at most 1, one term is exactly 1."
    )
    if not scores_ok:
        message = (
            f"The scaled scores themselves overflow {name} (largest finite {name}: {biggest}): "
            "they are inf before any softmax, so even the stable softmax has nothing to work "
            "with. Lower the scale or choose a wider dtype."
        )
    elif not naive_ok and largest > exp_limit:
        message = (
            f"Naive softmax breaks: exp({largest:.4g}) is larger than the largest {name} "
            f"({biggest} = e^{exp_limit:.2f}), so exp gives inf, the sum is inf, and "
            f"inf / inf = NaN. {stable_fix}"
        )
    elif not naive_ok and math.isinf(exp_sum):
        message = (
            f"Naive softmax breaks: every exp(z) fits in {name}, but their sum does not "
            f"(largest {name}: {biggest}), so the sum is inf and every exp(z) / inf = 0: "
            f'"probabilities" that add up to 0. {stable_fix}'
        )
    elif not naive_ok and exp_sum == 0:
        message = (
            f"Naive softmax breaks: every exp(z) underflows to 0 in {name}, and 0 / 0 = NaN. "
            f"{stable_fix}"
        )
    elif not naive_ok:
        message = f"Naive softmax is off: its values do not sum to 1 in {name}. {stable_fix}"
    else:
        message = (
            f"Naive and stable softmax agree: the largest score {largest:.4g} is below "
            f"{exp_limit:.2f} = log of the largest {name}, so exp does not overflow yet. "
            "Increase the scale."
        )
    difference = float(np.max(np.abs(naive.astype(np.float64) - stable.astype(np.float64))))
    return {
        "scale": float(scale),
        "dtype": name,
        "scaled": scaled,
        "exp_scores": exp_scores,
        "exp_sum": exp_sum,
        "naive": naive,
        "stable": stable,
        "naive_ok": naive_ok,
        "scores_ok": scores_ok,
        "exp_limit": exp_limit,
        "max_abs_difference": difference,
        "message": message,
    }


def format_overflow_state(state: dict, tokens) -> str:
    """The overflow explorer's text: one row per token, bad values flagged."""

    def flagged(value) -> str:
        return format_number(value) + ("  <-" if not np.isfinite(value) else "")

    rows = [
        [
            token,
            format_number(state["scaled"][index], 6),
            flagged(state["exp_scores"][index]),
            flagged(state["naive"][index]),
            flagged(state["stable"][index]),
        ]
        for index, token in enumerate(tokens)
    ]
    header = ["token", "scaled score z", "exp(z)", "naive softmax", "stable softmax"]
    return (
        f"scale x {state['scale']:.4g} in {state['dtype']}: exp overflows above "
        f"z = {state['exp_limit']:.2f}\n\n"
        + format_table(header, rows)
        + f"sum of exp(z) in {state['dtype']} = {flagged(state['exp_sum'])}\n\n"
        + textwrap.fill(state["message"], width=100)
        + "\n"
    )


class OverflowExplorer(CourseWidget):
    """Scale the scores up and switch the dtype until the naive softmax breaks."""

    css_class = "overflow-explorer"

    def __init__(self, logits, tokens, *, scale, dtype):
        self.logits = as_float_array(logits).astype(np.float64)
        if self.logits.ndim != 1:
            raise ValueError(f"logits must be a 1-D vector, got shape {self.logits.shape}.")
        if tokens is None:
            tokens = [f"token {index}" for index in range(len(self.logits))]
        self.tokens = check_tokens(tokens, max_tokens=MAX_SLIDERS)
        check_vector(self.logits, len(self.tokens))
        overflow_state(self.logits, scale, dtype)  # validate the starting values
        # Up to where even float64 overflows (e^709.78), and a bit beyond.
        largest = max(float(np.max(np.abs(self.logits))), 1e-3)
        top_exponent = min(6, max(1, math.ceil(math.log10(800 / largest))))
        self.scale = widgets.FloatLogSlider(
            value=float(scale),
            base=10,
            min=0,
            max=top_exponent,
            step=0.02,
            description="scale ×",
            readout_format=".4g",
            continuous_update=False,
            style={"description_width": "7ch"},
            layout=widgets.Layout(width="520px"),
        )
        self.dtype = widgets.ToggleButtons(
            options=list(FLOAT_TYPES),
            value=str(dtype),
            description="dtype",
            tooltips=[
                "half precision: exp overflows above 11.09",
                "single precision: exp overflows above 88.72",
                "double precision: exp overflows above 709.78",
            ],
            style={"description_width": "7ch", "button_width": "80px"},
        )
        out = widgets.Output()
        intro = widgets.HTML(
            "<b>Scale the scores</b> and pick a float type: the naive softmax "
            "exp(z) / sum(exp(z)) breaks, the stable one does not."
        )
        super().__init__(
            widgets.VBox([intro, self.scale, self.dtype, out]),
            out,
            f"tokens={self.tokens}, logits={[float(x) for x in self.logits]}",
        )
        self.scale.observe(self._on_change, names="value")
        self.dtype.observe(self._on_change, names="value")
        self._figure = LiveFigure(new_figure(min(14.0, max(9.0, 1.1 * len(self.tokens))), 2.8))
        self.refresh()

    def refresh(self) -> dict:
        self.state = overflow_state(self.logits, self.scale.value, self.dtype.value)
        labels = ("naive: exp(z) / sum(exp(z))", "stable: exp(z - max z) / sum(...)")
        title = f"softmax of {self.state['scale']:.4g} × scores in {self.state['dtype']}"
        figure = self._figure.figure
        values = (self.state["naive"], self.state["stable"])
        # NaN or inf bars (an overflow) cannot be moved into place: then draw again.
        if len(figure.axes) == 2 and all(
            update_distribution(ax, self.tokens, value, title=label)
            for ax, value, label in zip(figure.axes, values, labels, strict=True)
        ):
            figure.suptitle(title, fontsize=11)
        else:
            plot_comparison(self.tokens, *values, labels=labels, title=title, figure=figure)
        moving = [*moving_artists(figure.axes[0]), *moving_artists(figure.axes[1])]
        moving.append(figure.suptitle(title, fontsize=11))
        bad = ", ".join(
            f"{token}: {format_number(value)}"
            for token, value in zip(self.tokens, self.state["naive"], strict=True)
            if not np.isfinite(value)
        )
        description = "naive vs stable softmax" + (
            f"; naive is not finite for {bad}" if bad else ""
        )
        self.out.outputs = (
            text_record(format_overflow_state(self.state, self.tokens)),
            figure_record(self._figure, description, moving),
        )
        return self.state


def overflow_explorer(
    logits=(2.0, 1.0, 0.1), tokens=("cat", "dog", "bird"), *, scale=1.0, dtype="float32"
) -> OverflowExplorer:
    """Scale the scores and change the float type until the naive softmax overflows.

    Parameters
    ----------
    logits : array_like of float, 1-D
        The scores to scale (default: cat 2.0, dog 1.0, bird 0.1).
    tokens : list of str, or None
        Labels for the scores (None: "token 0", "token 1", ...).
    scale : float > 0
        The starting scale factor (a log-scale slider from 1 up to where
        float64 overflows).
    dtype : "float16", "float32" or "float64"
        The starting float type.

    Returns an `OverflowExplorer`: `.widget`, `.scale` (slider), `.dtype`
    (toggle buttons), `.out`, `.state` (see `overflow_state`).

    >>> explorer = overflow_explorer()
    >>> explorer.scale.value = 50.0   # 2.0 * 50 = 100 > 88.72: float32's exp overflows
    >>> explorer.state["naive_ok"], explorer.state["stable"].round(3).tolist()
    (False, [1.0, 0.0, 0.0])
    """
    return OverflowExplorer(logits, tokens, scale=scale, dtype=dtype)


# --- temperature explorer ------------------------------------------------------------------------
def temperature_state(logits, temperature) -> dict:
    """softmax(z / T), its entropy, and the two limits it moves between.

    Returns a dict: `temperature`, `probs`, `entropy` (nats), `max_entropy`
    (log V), `cold_limit` (T -> 0: all mass on the largest score, shared
    equally if several tie) and `hot_limit` (T -> inf: uniform 1/V).

    >>> state = temperature_state([2.0, 1.0, 0.0], 0.01)
    >>> state["probs"].round(3), state["cold_limit"]
    (array([1., 0., 0.]), array([1., 0., 0.]))
    """
    values = as_float_array(logits).astype(np.float64)
    if values.ndim != 1 or not np.isfinite(values).all():
        raise ValueError("logits must be a 1-D vector of finite scores, e.g. [2.0, 1.0, 0.1].")
    temperature = check_temperature(temperature)
    probs = softmax(values, temperature=temperature)
    top = values == values.max()
    return {
        "temperature": temperature,
        "probs": probs,
        "entropy": float(entropy(probs)),
        "max_entropy": math.log(len(values)),
        "cold_limit": top / top.sum(),
        "hot_limit": np.full(len(values), 1 / len(values)),
    }


def entropy_curve(logits, temperatures) -> np.ndarray:
    """The entropy of softmax(z / T) for each temperature (one softmax call, batched)."""
    values = as_float_array(logits).astype(np.float64)
    grid = np.asarray(temperatures, dtype=np.float64)[:, None]
    shifted = values - values.max()
    return entropy(softmax(shifted / grid))


def format_temperature_state(state: dict, tokens) -> str:
    rows = [
        [token, f"{state['probs'][index]:.4f}", f"{state['cold_limit'][index]:.4f}"]
        for index, token in enumerate(tokens)
    ]
    leaders = [token for token, share in zip(tokens, state["cold_limit"], strict=True) if share]
    size = len(tokens)
    why = "the largest score" if len(leaders) == 1 else "tied for the largest score: shared equally"
    cold_entropy = "0" if len(leaders) == 1 else f"log {len(leaders)}"
    return (
        f"T = {state['temperature']:.3g}: p = softmax(z / T)\n\n"
        + format_table(["token", "p at this T", "T -> 0 limit"], rows)
        + f"\nentropy H = {state['entropy']:.4f} nats\n"
        f"T -> 0:   all mass on {' and '.join(leaders)} ({why}), H -> {cold_entropy}\n"
        f"T -> inf: uniform, 1/{size} = {1 / size:.4f} each, "
        f"H -> log {size} = {state['max_entropy']:.4f}\n"
    )


class TemperatureExplorer(CourseWidget):
    """A log-scale temperature slider, the distribution and its entropy between the limits."""

    css_class = "temperature-explorer"

    def __init__(self, tokens, logits, *, temperature):
        self.tokens = check_tokens(tokens, max_tokens=20)
        self.logits = check_vector(logits, len(self.tokens))
        self.temperature = temperature_slider(
            temperature, TEMPERATURE_EXPONENTS, width="560px", description_width="14ch"
        )
        self._curve_temperatures = np.logspace(*TEMPERATURE_EXPONENTS, 161)
        self._curve = entropy_curve(self.logits, self._curve_temperatures)
        out = widgets.Output()
        intro = widgets.HTML(
            "<b>Move the temperature</b> (log scale; arrow keys step by a factor 1.12): "
            "T &lt; 1 sharpens, T &gt; 1 flattens."
        )
        super().__init__(widgets.VBox([intro, self.temperature, out]), out, f"tokens={self.tokens}")
        self.temperature.observe(self._on_change, names="value")
        self._live = LiveFigure(new_figure(10.0, 3.0))
        self._moving = None  # the artists a temperature change moves, once drawn
        self.refresh()

    def _figure(self) -> LiveFigure:
        """Draw the figure the first time; afterwards move only what the temperature moves."""
        state = self.state
        if self._moving is not None:
            bars, values, bar_axes, point, curve = self._moving
            for bar, label, p in zip(bars, values, state["probs"], strict=True):
                bar.set_height(p)
                label.set_y(p + 0.01 * 1.08)  # as draw_distribution places it (ylim top 1.08)
                label.set_text(f"{p:.3f}")
            bar_axes.set_title(f"softmax(z / T) at T = {state['temperature']:.3g}", fontsize=10)
            point.set_data([state["temperature"]], [state["entropy"]])
            curve.set_title(f"entropy H = {state['entropy']:.3f} nats", fontsize=10)
            return self._live
        bars, curve = subplots_of(self._live.figure, 2, width_ratios=[1.3, 1])
        draw_distribution(
            bars,
            self.tokens,
            state["probs"],
            title=f"softmax(z / T) at T = {state['temperature']:.3g}",
        )
        positions = np.arange(len(self.tokens))
        bars.bar(
            positions,
            state["cold_limit"],
            color="none",
            edgecolor=COLORS["limit"],
            linestyle="--",
            linewidth=1.5,
            label="T → 0: argmax",
        )
        bars.axhline(
            1 / len(self.tokens),
            color=OKABE_ITO["black"],
            linestyle=":",
            linewidth=1.2,
            label=f"T → ∞: uniform 1/{len(self.tokens)}",
        )
        bars.legend(fontsize=8, loc="upper right", frameon=False)
        curve.semilogx(self._curve_temperatures, self._curve, color=COLORS["probability"])
        # Plain decade labels and no minor ticks: log-axis labels are typeset as maths,
        # which took a third of each redraw.
        curve.set_xticks([0.01, 0.1, 1, 10, 100], ["0.01", "0.1", "1", "10", "100"])
        curve.minorticks_off()
        curve.axhline(0, color=COLORS["limit"], linestyle="--", linewidth=1)
        curve.axhline(state["max_entropy"], color=OKABE_ITO["black"], linestyle=":", linewidth=1)
        curve.text(1.2e-2, state["max_entropy"], f"log {len(self.tokens)}", va="bottom", fontsize=8)
        (point,) = curve.plot(
            [state["temperature"]],
            [state["entropy"]],
            "o",
            color=COLORS["reference"],
            markeredgecolor="black",
            markersize=8,
        )
        # The probability bars and their value labels are the first of their kind.
        self._moving = (bars.containers[0], bars.texts[: len(self.tokens)], bars, point, curve)
        curve.set_xlabel("temperature T (log scale)")
        curve.set_ylabel("entropy (nats)")
        curve.set_ylim(-0.05, state["max_entropy"] * 1.15 + 0.05)
        curve.set_title(f"entropy H = {state['entropy']:.3f} nats", fontsize=10)
        curve.spines[["top", "right"]].set_visible(False)
        return self._live

    def _moving_artists(self) -> list:
        _, _, bar_axes, point, curve = self._moving
        return [*moving_artists(bar_axes), point, curve.title]

    def refresh(self) -> dict:
        self.state = temperature_state(self.logits, self.temperature.value)
        description = f"T = {self.state['temperature']:.3g}: " + _probabilities_text(
            self.tokens, self.state["probs"]
        )
        self.out.outputs = (
            text_record(format_temperature_state(self.state, self.tokens)),
            figure_record(self._figure(), description, self._moving_artists()),
        )
        return self.state


def temperature_explorer(tokens, logits, *, temperature=1.0) -> TemperatureExplorer:
    """A log-scale temperature slider over softmax(z / T), with the two limits marked.

    Parameters
    ----------
    tokens : list of str (at most 20)
    logits : array_like of float, shape (len(tokens),)
    temperature : float in [0.01, 100]
        The starting temperature.

    The chart marks the T -> 0 limit (all mass on the largest score) and the
    T -> inf limit (uniform 1/V, entropy log V). Returns a
    `TemperatureExplorer`: `.widget`, `.temperature` (slider), `.out`,
    `.state` (see `temperature_state`).

    >>> explorer = temperature_explorer(["cat", "dog", "bird"], [2.0, 1.0, 0.1])
    >>> explorer.temperature.value = 100.0
    >>> explorer.state["probs"].round(2)
    array([0.34, 0.33, 0.33])
    """
    return TemperatureExplorer(tokens, logits, temperature=temperature)
