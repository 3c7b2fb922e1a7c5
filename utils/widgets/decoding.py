"""Explorers on the tiny language model: the sampling lab and the beam-search stepper.

Both read the model's real next-token logits (`utils.lm.load()` unless you
pass another model with the same interface) and use the course's own
decoding code (`utils.sampling`, `utils.sequences`), so what a learner sees
is what those functions do. As everywhere: `sampling_state` and
`beam_stepper_state` compute, the widgets only draw.

>>> lab = sampling_lab(context="the cat", top_p=0.5, seed=0, samples=100)
>>> lab.state["kept_tokens"]
['sat', 'slept']
>>> stepper = beam_search_stepper(prefix="the cat", beam_width=2, max_new_tokens=2)
>>> stepper.next_button.click(); stepper.next_button.click()
>>> stepper.state["best"].text
'the cat slept soundly'
"""

from __future__ import annotations

import numbers

import ipywidgets as widgets
import numpy as np
from matplotlib.legend import Legend

from utils._validation import as_float_array, check_temperature
from utils.plots import (
    draw_distribution,
    moving_artists,
    new_figure,
    plot_beam_tree,
    subplots_of,
    update_distribution,
)
from utils.probability import softmax
from utils.sampling import sample_next_token, top_k_filter, top_p_filter
from utils.sequences import beam_search_steps, greedy_decode
from utils.widgets._display import (
    CourseWidget,
    LiveFigure,
    figure_record,
    format_table,
    temperature_slider,
    text_record,
)

__all__ = [
    "BeamSearchStepper",
    "SamplingLab",
    "beam_search_stepper",
    "beam_stepper_state",
    "sampling_lab",
    "sampling_state",
]

SAMPLE_COUNTS = (10, 100, 1000, 10000)
MAX_SAMPLES = 100_000
# The lab's temperature slider spans 10**-1 .. 10**1 (log scale).
LAB_TEMPERATURE_EXPONENTS = (-1.0, 1.0)
MAX_BEAM_WIDTH = 6


def _load_model(model):
    if model is None:
        from utils import lm

        return lm.load()
    for attribute in ("next_token_logits", "encode", "decode", "vocab"):
        if not hasattr(model, attribute):
            raise TypeError(
                f"model must be a language model like utils.lm.load() (with {attribute}); "
                f"got {type(model).__name__}."
            )
    return model


def _whole_number(value, name: str, *, low: int, high: int | None = None) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number, got {value!r}.")
    if value < low or (high is not None and value > high):
        upper = f" and <= {high}" if high is not None else ""
        raise ValueError(f"{name} must be >= {low}{upper}, got {value}.")
    return int(value)


# --- sampling lab --------------------------------------------------------------------------------
def sampling_state(logits, *, temperature=1.0, top_k=None, top_p=None, seed=0, samples=1000):
    """What the sampling lab shows for one next-token distribution.

    Applies temperature, then top-k, then top-p (Hugging Face's order, as
    `sample_next_token` does), and draws `samples` tokens with
    `sample_next_token` from ``numpy.random.default_rng(seed)``.

    Returns a dict: `probs` (softmax(z / T) before filtering), `kept` (bool
    per token), `kept_count`, `kept_mass` (their probability before
    renormalizing), `renormalized` (the distribution sampled from: 0 outside
    the kept set), `draws` (token ids), `counts`, `frequencies`,
    `total_variation` (half the L1 distance between frequencies and
    `renormalized`), `order` (token ids by decreasing score), and the
    arguments.

    >>> state = sampling_state([2.0, 1.0, 0.1], top_k=2, seed=0, samples=1000)
    >>> state["kept"].tolist(), state["renormalized"].round(3).tolist()
    ([True, True, False], [0.731, 0.269, 0.0])
    """
    values = as_float_array(logits).astype(np.float64)
    if values.ndim != 1 or not np.isfinite(values).all():
        raise ValueError("logits must be a 1-D vector of finite scores (one per vocabulary word).")
    temperature = check_temperature(temperature)
    seed = _whole_number(seed, "seed", low=0)
    samples = _whole_number(samples, "samples", low=1, high=MAX_SAMPLES)
    # Shift by the maximum before dividing by T, exactly as sample_next_token does.
    scaled = (values - values.max()) / temperature
    filtered = scaled
    if top_k is not None:
        filtered = top_k_filter(filtered, top_k)
    if top_p is not None:
        filtered = top_p_filter(filtered, top_p)
    probs = softmax(scaled)
    kept = np.isfinite(filtered)
    renormalized = softmax(filtered)
    rng = np.random.default_rng(seed)
    draws = sample_next_token(
        np.broadcast_to(values, (samples, len(values))),
        rng,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
    )
    counts = np.bincount(draws, minlength=len(values))
    frequencies = counts / samples
    return {
        "temperature": temperature,
        "top_k": top_k,
        "top_p": top_p,
        "seed": seed,
        "samples": samples,
        "probs": probs,
        "kept": kept,
        "kept_count": int(kept.sum()),
        "kept_mass": float(probs[kept].sum()),
        "renormalized": renormalized,
        "draws": draws,
        "counts": counts,
        "frequencies": frequencies,
        "total_variation": float(0.5 * np.abs(frequencies - renormalized).sum()),
        "order": np.argsort(-values, kind="stable"),
    }


def _settings(state: dict) -> str:
    top_k = "off" if state["top_k"] is None else str(state["top_k"])
    top_p = "off" if state["top_p"] is None else f"{state['top_p']:.2f}"
    return f"T = {state['temperature']:.3g}, top-k {top_k}, top-p {top_p}"


def format_sampling_state(state: dict, vocab, context: str, shown: int) -> str:
    kept_words = [vocab[i] for i in state["order"] if state["kept"][i]]
    listed = ", ".join(kept_words[:15]) + (", ..." if len(kept_words) > 15 else "")
    rows = [
        [
            vocab[i],
            f"{state['probs'][i]:.4f}",
            "yes" if state["kept"][i] else "no",
            f"{state['renormalized'][i]:.4f}",
            f"{state['frequencies'][i]:.4f}",
        ]
        for i in state["order"][:shown]
    ]
    header = ["token", "p after T", "kept", "renormalized", "sampled"]
    hidden = len(vocab) - shown
    return (
        f"next token after {context!r} ({_settings(state)})\n"
        f"kept {state['kept_count']} of {len(vocab)} tokens (mass before renormalizing "
        f"{state['kept_mass']:.4f}): {listed}\n\n"
        + format_table(header, rows)
        + (f"(+ {hidden} less likely tokens not shown)\n" if hidden > 0 else "")
        + f"\n{state['samples']} draws with seed {state['seed']}: total variation distance "
        f"between the sample frequencies and the renormalized distribution = "
        f"{state['total_variation']:.4f} (it shrinks like 1/sqrt(draws))\n"
    )


class SamplingLab(CourseWidget):
    """Temperature, top-k, top-p, seed and sample count on the tiny model's next token."""

    css_class = "sampling-lab"

    def __init__(self, model, context, *, temperature, top_k, top_p, seed, samples, shown):
        self.model = _load_model(model)
        self.vocab = list(self.model.vocab)
        vocab_size = len(self.vocab)
        self.shown = _whole_number(shown, "shown", low=1)
        if samples not in SAMPLE_COUNTS:
            raise ValueError(f"samples must be one of {SAMPLE_COUNTS}, got {samples!r}.")
        top_k = 0 if top_k is None else _whole_number(top_k, "top_k", low=1, high=vocab_size)
        top_p = 1.0 if top_p is None else float(top_p)
        if not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}.")
        if not isinstance(context, str):
            raise TypeError(f"context must be a str such as 'the cat', got {context!r}.")
        style = {"description_width": "16ch"}
        wide = widgets.Layout(width="520px")
        self.context = widgets.Text(
            value=context,
            description="context",
            continuous_update=False,  # Enter or leaving the box applies it
            style=style,
            layout=wide,
        )
        self.temperature = temperature_slider(
            temperature, LAB_TEMPERATURE_EXPONENTS, width="520px", description_width="16ch"
        )
        self.top_k = widgets.IntSlider(
            value=top_k,
            min=0,
            max=vocab_size,
            description="top-k (0 = off)",
            continuous_update=False,
            style=style,
            layout=wide,
        )
        self.top_p = widgets.FloatSlider(
            value=top_p,
            min=0.01,
            max=1.0,
            step=0.01,
            description="top-p (1 = off)",
            readout_format=".2f",
            continuous_update=False,
            style=style,
            layout=wide,
        )
        self.seed = widgets.BoundedIntText(
            value=_whole_number(seed, "seed", low=0, high=2**32 - 1),
            min=0,
            max=2**32 - 1,
            description="seed",
            style=style,
            layout=widgets.Layout(width="260px"),
        )
        self.samples = widgets.Dropdown(
            options=list(SAMPLE_COUNTS),
            value=samples,
            description="draws",
            style={"description_width": "6ch"},
            layout=widgets.Layout(width="160px"),
        )
        out = widgets.Output()
        intro = widgets.HTML(
            "<b>Sampling lab</b>: temperature first, then top-k, then top-p (Hugging Face's "
            "order); the draws come from <code>utils.sample_next_token</code>."
        )
        controls = [self.context, self.temperature, self.top_k, self.top_p]
        super().__init__(
            widgets.VBox([intro, *controls, widgets.HBox([self.seed, self.samples]), out]),
            out,
            f"context={context!r}",
        )
        for control in [*controls, self.seed, self.samples]:
            control.observe(self._on_change, names="value")
        self._live = LiveFigure(new_figure(11.0, 3.2))
        self.refresh()

    def refresh(self) -> dict:
        context = self.context.value
        try:
            logits = self.model.next_token_logits(context)
        except (ValueError, TypeError) as error:
            self.state = {"context": context, "error": str(error)}
            self.out.outputs = (text_record(f"context {context!r}: {error}\n"),)
            return self.state
        state = sampling_state(
            logits,
            temperature=self.temperature.value,
            top_k=self.top_k.value or None,
            top_p=self.top_p.value if self.top_p.value < 1.0 else None,
            seed=self.seed.value,
            samples=self.samples.value,
        )
        state["context"] = context
        state["error"] = ""
        state["kept_tokens"] = [self.vocab[i] for i in state["order"] if state["kept"][i]]
        self.state = state
        shown = min(self.shown, len(self.vocab))
        self.out.outputs = (
            text_record(format_sampling_state(state, self.vocab, context, shown)),
            figure_record(self._figure(shown), self._description(), *self._moving_and_on_top()),
        )
        return state

    def _figure(self, shown: int):
        state = self.state
        order = state["order"][:shown]
        labels = [self.vocab[i] for i in order]
        figure = self._live.figure
        panels = [
            {
                "probs": state["probs"][order],
                "kept": state["kept"][order],
                "title": f"softmax(z / T), T = {state['temperature']:.3g}: kept set in blue",
            },
            {
                "probs": state["renormalized"][order],
                "kept": state["kept"][order],
                "reference": state["frequencies"][order],
                "reference_label": f"sampled ({state['samples']} draws, seed {state['seed']})",
                "title": "renormalized over the kept set, and the samples",
            },
        ]
        # Move the bars of the figure already drawn where that shows the same (same tokens,
        # same legend); else draw both panels again.
        if len(figure.axes) != 2 or not all(
            update_distribution(ax, labels, **panel)
            for ax, panel in zip(figure.axes, panels, strict=True)
        ):
            before, after = subplots_of(figure, 2, sharey=True)
            draw_distribution(before, labels, **panels[0])
            draw_distribution(after, labels, ylabel="", **panels[1])
        figure.suptitle(f"next token after {state['context']!r}", fontsize=11)
        return self._live

    def _moving_and_on_top(self) -> tuple[list, list]:
        """The artists a control moves, and the legends, which stay put on top of them."""
        figure = self._live.figure
        drawn = [*moving_artists(figure.axes[0]), *moving_artists(figure.axes[1])]
        legends = [artist for artist in drawn if isinstance(artist, Legend)]
        moving = [artist for artist in drawn if not isinstance(artist, Legend)]
        return [*moving, figure._suptitle], legends

    def _description(self) -> str:
        state = self.state
        return (
            f"kept {state['kept_count']} tokens: {', '.join(state['kept_tokens'][:15])}; "
            f"total variation of the samples {state['total_variation']:.3f}"
        )


def sampling_lab(
    model=None,
    context="the cat",
    *,
    temperature=1.0,
    top_k=None,
    top_p=None,
    seed=0,
    samples=1000,
    shown=12,
) -> SamplingLab:
    """Tune temperature, top-k and top-p on the tiny model's real next-token distribution.

    Parameters
    ----------
    model : a model like `utils.lm.load()` (the default)
    context : str
        The text before the next token (editable in the lab).
    temperature : float in [0.1, 10]; top_k : int or None (off);
    top_p : float in (0, 1] or None (off); seed : int >= 0;
    samples : one of 10, 100, 1000, 10000
        The starting settings of the controls.
    shown : int
        How many of the most likely tokens the table and chart show.

    Shows the kept set, the renormalized distribution and a histogram of the
    seeded draws against it. Returns a `SamplingLab`: `.widget`, `.context`,
    `.temperature`, `.top_k` (0 = off), `.top_p` (1 = off), `.seed`,
    `.samples`, `.out`, `.state` (see `sampling_state`, plus `context`,
    `kept_tokens` and `error`).
    """
    return SamplingLab(
        model,
        context,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        seed=seed,
        samples=samples,
        shown=shown,
    )


# --- beam search stepper -------------------------------------------------------------------------
def _key(hypothesis) -> tuple:
    return tuple(int(token) for token in hypothesis.token_ids)


def beam_stepper_state(
    model, prefix, *, beam_width, max_new_tokens, length_penalty=1.0, step=0
) -> dict:
    """Beam search on `model` from `prefix`, as it stands after `step` steps.

    Returns a dict: `steps` (every `utils.sequences.BeamStep` of the whole
    search), `step` (clipped to 0 .. total), `total_steps`, `done`, `rows`
    (this step's candidates, best first: `text`, `token`, `token_log_prob`,
    `log_prob` (cumulative), `score` (length-normalized), `status` "kept" /
    "finished" / "ended" (out of steps) / "dropped", `greedy` (on the
    greedy path)), `greedy` (`greedy_decode`'s `Hypothesis` with the same
    limits) and `best` (the best finished hypothesis, once done).

    >>> from utils import lm
    >>> state = beam_stepper_state(lm.load(), "the cat", beam_width=2, max_new_tokens=2, step=1)
    >>> [(row["token"], row["status"]) for row in state["rows"]]
    [('sat', 'kept'), ('slept', 'kept'), ('chased', 'dropped'), ('was', 'dropped')]
    """
    steps = list(
        beam_search_steps(
            model,
            prefix,
            beam_width=beam_width,
            max_new_tokens=max_new_tokens,
            length_penalty=length_penalty,
        )
    )
    greedy = greedy_decode(model, prefix, max_new_tokens, length_penalty=length_penalty)
    greedy_path = _key(greedy)
    step = min(_whole_number(step, "step", low=0), len(steps))
    rows = []
    if step:
        current = steps[step - 1]
        live = {_key(h) for h in current.beams}
        finished = {_key(h) for h in current.finished}
        vocab = model.vocab
        for hypothesis in current.candidates:
            key = _key(hypothesis)
            if key in live:
                status = "kept"
            elif key in finished:
                status = "finished" if hypothesis.finished else "ended"
            else:
                status = "dropped"
            rows.append(
                {
                    "text": hypothesis.text,
                    "token": vocab[key[-1]],
                    "token_log_prob": float(hypothesis.token_log_probs[-1]),
                    "log_prob": hypothesis.log_prob,
                    "score": hypothesis.score,
                    "status": status,
                    "greedy": key == greedy_path[: len(key)],
                }
            )
    done = step == len(steps)
    return {
        "prefix": prefix,
        "beam_width": beam_width,
        "length_penalty": length_penalty,
        "steps": steps,
        "step": step,
        "total_steps": len(steps),
        "done": done,
        "rows": rows,
        "finished": list(steps[step - 1].finished) if step else [],
        "greedy": greedy,
        "best": steps[-1].finished[0] if done and steps[-1].finished else None,
    }


_STATUS_TEXT = {
    "kept": "kept",
    "finished": "finished (</s>)",
    "ended": "ended (length limit)",
    "dropped": "dropped",
}


def format_beam_state(state: dict) -> str:
    head = (
        f"beam search from {state['prefix']!r}: beam width {state['beam_width']}, "
        f"length penalty {state['length_penalty']:g}; step {state['step']} of "
        f"{state['total_steps']}\n"
    )
    if not state["step"]:
        return head + (
            "\nPress Next. Each step extends every live beam by every token and keeps the\n"
            f"{state['beam_width']} best by cumulative log-probability; greedy decoding keeps "
            "only the single most likely token.\n"
        )
    rows = [
        [
            str(rank),
            row["text"],
            f"{row['token_log_prob']:.3f}",
            f"{row['log_prob']:.3f}",
            f"{row['score']:.3f}",
            _STATUS_TEXT[row["status"]] + ("  <- greedy path" if row["greedy"] else ""),
        ]
        for rank, row in enumerate(state["rows"], start=1)
    ]
    header = ["rank", "hypothesis", "log p(token)", "cumulative", "score", "status"]
    text = (
        head + f"\ncandidates: the best {2 * state['beam_width']} extensions by cumulative "
        "log-probability (score = cumulative / length ** length_penalty)\n"
        + format_table(header, rows, align="rlrrrl")
    )
    if state["finished"]:
        # At the last step the list also holds the live beams cut off by the length limit.
        text += "\nout of the search so far (best score first):\n" + "".join(
            f"  {h.text!r}: log p {h.log_prob:.3f}, score {h.score:.3f}, "
            f"{_STATUS_TEXT['finished' if h.finished else 'ended']}\n"
            for h in state["finished"]
        )
    greedy = state["greedy"]
    if state["done"] and state["best"] is not None:
        best = state["best"]
        verdict = (
            "beam search found a better sequence than greedy decoding"
            if best.score > greedy.score + 1e-12
            else "greedy decoding found the same best score"
        )
        text += (
            f"\nDone. Best: {best.text!r} (score {best.score:.3f}); greedy: {greedy.text!r} "
            f"(score {greedy.score:.3f}): {verdict}.\n"
        )
    return text


class BeamSearchStepper(CourseWidget):
    """Next / Reset through beam search on the tiny model; the tree grows step by step."""

    css_class = "beam-stepper"

    def __init__(self, model, prefix, *, beam_width, max_new_tokens, length_penalty):
        self.model = _load_model(model)
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str such as 'the cat', got {prefix!r}.")
        self.max_new_tokens = _whole_number(max_new_tokens, "max_new_tokens", low=1, high=12)
        style = {"description_width": "15ch"}
        self.prefix = widgets.Text(
            value=prefix,
            description="prefix",
            continuous_update=False,
            style=style,
            layout=widgets.Layout(width="420px"),
        )
        self.beam_width = widgets.IntSlider(
            value=_whole_number(beam_width, "beam_width", low=1, high=MAX_BEAM_WIDTH),
            min=1,
            max=MAX_BEAM_WIDTH,
            description="beam width",
            continuous_update=False,
            style=style,
        )
        if isinstance(length_penalty, bool) or not isinstance(length_penalty, numbers.Real):
            raise TypeError(f"length_penalty must be a number, got {length_penalty!r}.")
        if not 0 <= length_penalty <= 2:
            raise ValueError(
                f"length_penalty must be in [0, 2] for the slider, got {length_penalty}."
            )
        self.length_penalty = widgets.FloatSlider(
            value=float(length_penalty),
            min=0.0,
            max=2.0,
            step=0.1,
            description="length penalty",
            readout_format=".1f",
            continuous_update=False,
            style=style,
        )
        self.next_button = widgets.Button(description="Next step", button_style="primary")
        self.reset_button = widgets.Button(description="Reset")
        out = widgets.Output()
        intro = widgets.HTML(
            "<b>Beam search, step by step</b>: every hypothesis with its cumulative "
            "log-probability and length-normalized score; the greedy path is outlined."
        )
        super().__init__(
            widgets.VBox(
                [
                    intro,
                    self.prefix,
                    self.beam_width,
                    self.length_penalty,
                    widgets.HBox([self.next_button, self.reset_button]),
                    out,
                ]
            ),
            out,
            f"prefix={prefix!r}",
        )
        self._step = 0
        self.next_button.on_click(self._on_next)
        self.reset_button.on_click(self._on_reset)
        for control in (self.prefix, self.beam_width, self.length_penalty):
            control.observe(self._on_reset, names="value")
        self.refresh()

    def _on_next(self, _button=None):
        if self.state.get("done") is False:
            self._step += 1
        self.refresh()

    def _on_reset(self, _change=None):
        self._step = 0
        self.refresh()

    def refresh(self) -> dict:
        try:
            state = beam_stepper_state(
                self.model,
                self.prefix.value,
                beam_width=self.beam_width.value,
                max_new_tokens=self.max_new_tokens,
                length_penalty=self.length_penalty.value,
                step=self._step,
            )
        except (ValueError, TypeError) as error:
            self.state = {"error": str(error), "done": None}
            self.next_button.disabled = True
            self.out.outputs = (text_record(f"prefix {self.prefix.value!r}: {error}\n"),)
            return self.state
        state["error"] = ""
        self.state = state
        self.next_button.disabled = state["done"]
        outputs = [text_record(format_beam_state(state))]
        if state["step"]:
            figure = plot_beam_tree(
                state["steps"][: state["step"]],
                prefix=self.prefix.value,
                vocab=self.model.vocab,
                greedy_token_ids=state["greedy"].token_ids,
                title=f"beam search from {self.prefix.value!r}, width {state['beam_width']}",
            )
            kept = [row["text"] for row in state["rows"] if row["status"] == "kept"]
            outputs.append(figure_record(figure, f"beam tree at step {state['step']}: {kept}"))
        self.out.outputs = tuple(outputs)
        return state


def beam_search_stepper(
    model=None, prefix="the cat", *, beam_width=2, max_new_tokens=4, length_penalty=1.0
) -> BeamSearchStepper:
    """Step through beam search on the tiny model with Next / Reset.

    Parameters
    ----------
    model : a model like `utils.lm.load()` (the default)
    prefix : str
        The text to continue (editable).
    beam_width : int in 1..6; length_penalty : float in [0, 2]
        Starting values of the sliders (Hugging Face's meaning: finished
        hypotheses are ranked by log p / length ** length_penalty).
    max_new_tokens : int in 1..12
        The longest continuation.

    Each step lists every candidate with its cumulative log-probability,
    its length-normalized score and what happened to it (kept, finished,
    dropped), and draws the growing search tree with the greedy path
    outlined. Uses `utils.sequences.beam_search_steps`, so the final answer
    is exactly `utils.beam_search`'s. Returns a `BeamSearchStepper`:
    `.widget`, `.prefix`, `.beam_width`, `.length_penalty`, `.next_button`,
    `.reset_button`, `.out`, `.state` (see `beam_stepper_state`).
    """
    return BeamSearchStepper(
        model,
        prefix,
        beam_width=beam_width,
        max_new_tokens=max_new_tokens,
        length_penalty=length_penalty,
    )
