"""The training signal: gradient descent on one position's logits, one step at a time.

`gradient_step_state` computes everything shown (tested directly); the
`GradientExplorer` widget only draws it. The loss is the cross-entropy
-log p(target) of a single position, and its gradient with respect to the
logits is p - y, with y the one-hot vector of the target.

>>> state = gradient_step_state([2.0, 1.0, 0.0], target=1, learning_rate=1.0, steps=0)
>>> state["gradient"].round(4), round(state["loss"], 4)
(array([ 0.6652, -0.7553,  0.09  ]), 1.4076)
"""

from __future__ import annotations

import math
import numbers

import ipywidgets as widgets
import numpy as np

from utils._validation import as_float_array
from utils.plots import (
    COLORS,
    OKABE_ITO,
    draw_distribution,
    moving_artists,
    new_figure,
    subplots_of,
    update_distribution,
)
from utils.probability import log_softmax, softmax
from utils.widgets._display import (
    CourseWidget,
    LiveFigure,
    check_tokens,
    check_vector,
    figure_record,
    format_table,
    text_record,
)

__all__ = ["GradientExplorer", "gradient_explorer", "gradient_step_state"]

MAX_TOKENS = 20
# The learning-rate slider spans 10**-2 .. 10**1 (log scale).
LEARNING_RATE_EXPONENTS = (-2.0, 1.0)
# Diverging bars of p - y: the target's (negative: its logit goes up) and the others' (positive).
RAISED_COLOR = OKABE_ITO["bluish_green"]
LOWERED_COLOR = OKABE_ITO["vermillion"]


def _no_negative_zero(value: float) -> float:
    """-0.0 + 0.0 is +0.0: keeps "-0.0000" out of the text."""
    return float(value) + 0.0


def _check_target(target, size: int) -> int:
    if isinstance(target, bool | np.bool_) or not isinstance(target, numbers.Integral):
        raise TypeError(
            f"target must be the index of the target token (an int from 0 to {size - 1}), "
            f"got {target!r}."
        )
    if not 0 <= target < size:
        raise ValueError(
            f"target {target} is out of range: there are {size} logits, so use an index "
            f"from 0 to {size - 1}."
        )
    return int(target)


def _check_learning_rate(learning_rate) -> float:
    if isinstance(learning_rate, bool | np.bool_) or not isinstance(learning_rate, numbers.Real):
        raise TypeError(f"learning_rate must be a number such as 1.0, got {learning_rate!r}.")
    value = float(learning_rate)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(
            f"learning_rate must be a positive finite number (the step size), got {value}."
        )
    return value


def _check_steps(steps) -> int:
    if isinstance(steps, bool | np.bool_) or not isinstance(steps, numbers.Integral):
        raise TypeError(f"steps must be a whole number of gradient steps, got {steps!r}.")
    if steps < 0:
        raise ValueError(f"steps must be >= 0 (0 = the starting logits), got {steps}.")
    return int(steps)


def _loss(logits: np.ndarray, target: int) -> float:
    """-log p(target) = logsumexp(z) - z_target, from log_softmax: no log of a rounded 0."""
    return _no_negative_zero(-log_softmax(logits)[target])


# --- the maths -----------------------------------------------------------------------------------
def gradient_step_state(logits, target, learning_rate, steps) -> dict:
    """Gradient descent on the cross-entropy of one position, after `steps` steps.

    Starting from `logits` z (1-D, finite), each step is
    ``z <- z - learning_rate * (softmax(z) - onehot(target))``: the gradient
    of the loss -log p(target) with respect to the logits is p - y.

    Parameters
    ----------
    logits : array_like of float, shape (V,)
    target : int in 0 .. V-1, the index of the token the text says comes next
    learning_rate : float > 0, the step size
    steps : int >= 0

    Returns a dict: `logits` (after the steps, float64), `probs` (their
    softmax), `one_hot` (y), `gradient` (p - y at these logits, summing to
    0), `loss` (-log p(target), via `log_softmax`), `losses` (the loss after
    0, 1, ..., `steps` steps), `initial_logits`, `step`, `target`,
    `learning_rate`.

    >>> state = gradient_step_state([2.0, 1.0, 0.0], target=1, learning_rate=1.0, steps=1)
    >>> state["logits"].round(4), state["losses"].round(4)
    (array([ 1.3348,  1.7553, -0.09  ]), array([1.4076, 0.5959]))
    """
    initial = as_float_array(logits).astype(np.float64)
    if initial.ndim != 1:
        raise ValueError(
            f"logits must be a 1-D vector of scores (one per token), got shape {initial.shape}."
        )
    if not np.isfinite(initial).all():
        bad = initial[~np.isfinite(initial)][0]
        raise ValueError(f"logits must be finite, got {bad}; gradient descent needs real scores.")
    target = _check_target(target, len(initial))
    learning_rate = _check_learning_rate(learning_rate)
    steps = _check_steps(steps)
    one_hot = np.zeros_like(initial)
    one_hot[target] = 1.0
    current = initial.copy()
    losses = [_loss(current, target)]
    for _ in range(steps):  # each step starts where the last one ended: no batching over steps
        current = current - learning_rate * (softmax(current) - one_hot)
        losses.append(_loss(current, target))
    probs = softmax(current)
    return {
        "logits": current,
        "probs": probs,
        "one_hot": one_hot,
        "gradient": probs - one_hot,
        "loss": losses[-1],
        "losses": np.array(losses),
        "initial_logits": initial,
        "step": steps,
        "target": target,
        "learning_rate": learning_rate,
    }


def format_gradient_state(state: dict, tokens) -> str:
    """The explorer's text: one row per token, the loss, the gradient's sum, the next step."""
    target = state["target"]
    rows = [
        [
            token,
            f"{_no_negative_zero(round(state['logits'][index], 4)):.4f}",
            f"{state['probs'][index]:.4f}",
            f"{state['one_hot'][index]:.0f}",
            f"{_no_negative_zero(round(state['gradient'][index], 4)):.4f}",
            "<- target" if index == target else "",
        ]
        for index, token in enumerate(tokens)
    ]
    header = ["token", "logit z", "p", "y", "p - y", ""]
    gradient = state["gradient"]
    others = [index for index in range(len(tokens)) if index != target]
    lines = [
        f"target {tokens[target]!r}, learning rate {state['learning_rate']:.3g}, "
        f"step {state['step']}",
        f"loss -log p({tokens[target]}) = {state['loss']:.4f}",
        "",
        format_table(header, rows, align="lrrrrl").rstrip("\n"),
        "",
        f"sum of p - y = {_no_negative_zero(round(float(gradient.sum()), 4)):.4f}, so the sum "
        f"of the logits stays {float(state['logits'].sum()):.4f} "
        f"(it started at {float(state['initial_logits'].sum()):.4f})",
    ]
    step_size = state["learning_rate"] * float(np.linalg.norm(gradient))
    if others:
        pushed = max(others, key=lambda index: gradient[index])
        rise = _no_negative_zero(-state["learning_rate"] * gradient[target])
        lines += [
            f"next step, z <- z - {state['learning_rate']:.3g} x (p - y):",
            f"  {tokens[target]} rises by {rise:.4f}; "
            f"{tokens[pushed]}, the most probable wrong token, falls the most "
            f"(by {state['learning_rate'] * gradient[pushed]:.4f})",
        ]
    lines.append(
        f"step length = learning rate x |p - y| = {step_size:.4g}: it shrinks as "
        f"p({tokens[target]}) = {state['probs'][target]:.4f} -> 1"
    )
    return "\n".join(lines) + "\n"


# --- the widget ----------------------------------------------------------------------------------
class GradientExplorer(CourseWidget):
    """Step / Reset through gradient descent on one position's logits; p, p - y, the loss."""

    css_class = "gradient-explorer"

    def __init__(self, tokens, logits, target, *, learning_rate):
        self.tokens = check_tokens(tokens, max_tokens=MAX_TOKENS)
        self.logits = check_vector(logits, len(self.tokens))
        if isinstance(target, str | np.str_):
            if str(target) not in self.tokens:
                raise ValueError(f"target {target!r} is not one of the tokens {self.tokens}.")
            target = self.tokens.index(str(target))
        target = _check_target(target, len(self.tokens))
        learning_rate = _check_learning_rate(learning_rate)
        low, high = LEARNING_RATE_EXPONENTS
        if not 10**low <= learning_rate <= 10**high:
            raise ValueError(
                f"learning_rate must be between {10**low:g} and {10**high:g} for the slider, "
                f"got {learning_rate}."
            )
        style = {"description_width": "14ch"}
        self.target = widgets.Dropdown(
            options=[(token, index) for index, token in enumerate(self.tokens)],
            value=target,
            description="target token",
            style=style,
            layout=widgets.Layout(width="320px"),
        )
        self.learning_rate = widgets.FloatLogSlider(
            value=learning_rate,
            base=10,
            min=low,
            max=high,
            step=0.1,
            description="learning rate",
            readout_format=".3g",
            continuous_update=False,
            style=style,
            layout=widgets.Layout(width="520px"),
        )
        self.step_button = widgets.Button(
            description="Step",
            button_style="primary",
            tooltip="one gradient-descent step: z <- z - learning rate * (p - y)",
        )
        self.reset_button = widgets.Button(
            description="Reset", tooltip="back to the starting logits, step 0"
        )
        out = widgets.Output()
        intro = widgets.HTML(
            "<b>Gradient descent on one position</b>: the loss is &minus;log p(target), its "
            "gradient with respect to the logits is p &minus; y. Press <b>Step</b> (or focus it "
            "and press Enter) to apply z &larr; z &minus; learning rate &times; (p &minus; y). "
            "Changing the target or the learning rate starts again from step 0."
        )
        super().__init__(
            widgets.VBox(
                [
                    intro,
                    self.target,
                    self.learning_rate,
                    widgets.HBox([self.step_button, self.reset_button]),
                    out,
                ]
            ),
            out,
            f"tokens={self.tokens}",
        )
        self._step = 0
        self.step_button.on_click(self._on_step)
        self.reset_button.on_click(self._on_reset)
        self.target.observe(self._on_reset, names="value")
        self.learning_rate.observe(self._on_reset, names="value")
        self._live = LiveFigure(new_figure(12.0, 3.3))
        self._moving = None  # the artists a step moves, once drawn for the current target
        self.refresh()

    def _on_step(self, _button=None):
        self._step += 1
        self.refresh()

    def _on_reset(self, _change=None):
        self._step = 0
        self.refresh()

    def _figure(self):
        state = self.state
        target = state["target"]
        labels = [
            f"{token}\n(target)" if index == target else token
            for index, token in enumerate(self.tokens)
        ]
        positions = np.arange(len(self.tokens))
        values, losses = state["gradient"], state["losses"]
        bars_title = f"p = softmax(z) at step {state['step']}; dashed: y (one-hot)"
        gradient_title = (
            f"gradient p - y (sums to {_no_negative_zero(round(float(values.sum()), 4)):.4f})"
        )
        curve_title = f"loss {state['loss']:.4f} at step {state['step']}"
        moving = self._moving
        if moving is not None and moving["target"] == target:
            # Same target: move the artists instead of drawing the figure again.
            update_distribution(moving["bars"], labels, state["probs"], title=bars_title)
            for bar, text, value in zip(moving["gradient"], moving["texts"], values, strict=True):
                bar.set_height(value)
                bar.set_facecolor(RAISED_COLOR if value < 0 else LOWERED_COLOR)
                text.set_y(value + (0.03 if value >= 0 else -0.03))
                text.set_va("bottom" if value >= 0 else "top")
                text.set_text(f"{value:+.3f}")
            moving["gradient_axes"].set_title(gradient_title, fontsize=10)
            moving["losses"].set_data(np.arange(len(losses)), losses)
            moving["point"].set_data([state["step"]], [state["loss"]])
            limits = (-0.3, max(5, state["step"]) + 0.3)
            if tuple(moving["curve"].get_xlim()) != limits:  # new ticks: a new background
                moving["curve"].set_xlim(*limits)
                self._live.forget_background()
            moving["curve"].set_ylim(0, max(float(losses[0]), 0.1) * 1.1)
            moving["curve"].set_title(curve_title, fontsize=10)
            return self._live
        bars, gradient, curve = subplots_of(self._live.figure, 3, width_ratios=[1.2, 1.2, 1])
        draw_distribution(
            bars,
            labels,
            state["probs"],
        )
        bars.set_title(bars_title, fontsize=10)
        bars.bar(
            positions,
            state["one_hot"],
            color="none",
            edgecolor=COLORS["limit"],
            linestyle="--",
            linewidth=1.5,
        )

        colors = [RAISED_COLOR if value < 0 else LOWERED_COLOR for value in values]
        drawn = gradient.bar(positions, values, color=colors, edgecolor="#333333", linewidth=0.6)
        drawn[target].set_hatch("//")  # the colour is not the only cue
        gradient.axhline(0, color=OKABE_ITO["black"], linewidth=0.8)
        texts = []
        for position, value in zip(positions, values, strict=True):
            text = gradient.text(
                position,
                value + (0.03 if value >= 0 else -0.03),
                f"{value:+.3f}",
                ha="center",
                va="bottom" if value >= 0 else "top",
                fontsize=8,
            )
            texts.append(text)
        gradient.set_xticks(positions, labels)
        gradient.set_ylim(-1.15, 1.15)
        gradient.set_ylabel("p - y")
        gradient.set_title(gradient_title, fontsize=10)
        gradient.text(
            0.02,
            0.03,
            "below 0: the logit goes up\nabove 0: the logit goes down",
            transform=gradient.transAxes,
            fontsize=8,
            va="bottom",
        )
        gradient.spines[["top", "right"]].set_visible(False)

        steps = np.arange(len(losses))
        (loss_line,) = curve.plot(steps, losses, "o-", color=COLORS["probability"], markersize=4)
        (point,) = curve.plot(
            [state["step"]],
            [state["loss"]],
            "o",
            color=COLORS["reference"],
            markeredgecolor="black",
            markersize=8,
        )
        curve.set_xlim(-0.3, max(5, state["step"]) + 0.3)
        curve.set_ylim(0, max(float(losses[0]), 0.1) * 1.1)
        curve.set_xlabel("step")
        curve.set_ylabel("loss -log p(target)")
        curve.set_title(curve_title, fontsize=10)
        curve.spines[["top", "right"]].set_visible(False)
        self._moving = {
            "target": target,
            "bars": bars,
            "gradient": drawn,
            "texts": texts,
            "gradient_axes": gradient,
            "losses": loss_line,
            "point": point,
            "curve": curve,
        }
        return self._live

    def _moving_artists(self) -> list:
        moving = self._moving
        return [
            *moving_artists(moving["bars"]),
            *moving_artists(moving["gradient_axes"]),
            moving["losses"],
            moving["point"],
            moving["curve"].title,
        ]

    def refresh(self) -> dict:
        self.state = gradient_step_state(
            self.logits, self.target.value, self.learning_rate.value, self._step
        )
        state = self.state
        description = f"step {state['step']}: loss {state['loss']:.4f}; " + ", ".join(
            f"p({token}) = {p:.3f}, p - y = {g:+.3f}"
            for token, p, g in zip(self.tokens, state["probs"], state["gradient"], strict=True)
        )
        self.out.outputs = (
            text_record(format_gradient_state(state, self.tokens)),
            figure_record(self._figure(), description, self._moving_artists()),
        )
        return state


def gradient_explorer(tokens, logits, target, *, learning_rate=1.0) -> GradientExplorer:
    """Press Step to take gradient-descent steps on -log p(target) and watch p - y at work.

    Parameters
    ----------
    tokens : list of str (at most 20)
    logits : array_like of float, shape (len(tokens),)
        The starting logits (Reset returns to them).
    target : int or str
        The target token: its index, or the token itself.
    learning_rate : float in [0.01, 10]
        The starting step size (a log-scale slider).

    The table lists each token's logit, p, y and p - y with the loss; the
    chart shows p against the one-hot y, the gradient p - y (negative only at
    the target) and the loss curve so far. Returns a `GradientExplorer`:
    `.widget`, `.target` (dropdown), `.learning_rate` (slider),
    `.step_button`, `.reset_button`, `.out`, `.state` (see
    `gradient_step_state`).

    >>> explorer = gradient_explorer(["cat", "dog", "mat"], [2.0, 1.0, 0.0], target=1)
    >>> explorer.step_button.click()
    >>> explorer.state["step"], explorer.state["probs"].round(3)
    (1, array([0.362, 0.551, 0.087]))
    """
    return GradientExplorer(tokens, logits, target, learning_rate=learning_rate)
