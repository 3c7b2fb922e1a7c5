"""What every course widget shares: the returned object, output records, label checks.

Results are written by assigning ``out.outputs = (...)`` once per update (a
text record and a PNG record), never with ``with out:``: capturing inside
``with out:`` is done by the browser, so it does nothing in plain Python or
in a kernel without a frontend, and mixing it with ``clear_output`` loses
text in JupyterLab. One assignment renders the same in JupyterLab, Voilà and
tests, and does not flicker.
"""

from __future__ import annotations

import abc
import base64
import html
import io
import math
import re
from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from utils._validation import as_float_array, check_temperature
from utils.plots import figure_png

__all__ = [
    "CourseWidget",
    "LiveFigure",
    "check_tokens",
    "check_vector",
    "figure_record",
    "format_number",
    "format_table",
    "html_record",
    "rich_text",
    "temperature_slider",
    "text_record",
]


class CourseWidget(abc.ABC):
    """A built widget: `.widget` (the root to display), `.out`, `.state` and its controls.

    Displaying the object (ending a cell on it) displays `.widget`; its text
    form is a one-line summary without memory addresses, so stored notebook
    outputs stay stable. `.state` is a dict of the last computed values;
    `refresh()` recomputes it from the controls and redraws.
    """

    css_class = "course-widget"

    def __init__(self, widget, out, summary: str):
        self.widget = widget
        self.out = out
        self.state: dict = {}
        self._summary = summary
        widget.add_class("course-widget")
        widget.add_class(self.css_class)
        out.add_class("course-output")
        out.add_class(f"{self.css_class}-output")

    @abc.abstractmethod
    def refresh(self) -> dict:
        """Recompute the state from the controls, redraw, and return the state."""

    def _on_change(self, _event=None):
        """What every control's observer and button handler calls."""
        self.refresh()

    def _repr_mimebundle_(self, include=None, exclude=None):
        """The widget view, with a static copy of what it shows for readers without a kernel.

        A frontend with a live kernel (JupyterLab, Notebook, Voila) shows the
        widget view. A saved notebook read without its kernel and without a
        stored widget state (GitHub, nbviewer, `jupyter nbconvert --to html`)
        cannot: nbconvert then skips the widget view and shows the next
        mimetype of its priority list, so the bundle also carries the picture
        of the widget's state when it was displayed (`image/png`, taken from
        `.out`) and a readable `text/plain` (`static_text`). nbval compares
        that text, never the PNG: it holds no numbers beyond a few digits.
        """
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude)
        bundle["text/plain"] = self.static_text()
        picture = self.static_picture()
        if picture is not None:
            bundle["image/png"] = picture
        return bundle

    def static_picture(self) -> str | None:
        """The base64 PNG that `.out` shows now (None if it shows no picture)."""
        for record in self.out.outputs:
            picture = record.get("data", {}).get("image/png")
            if picture is not None:
                return picture
        return None

    def static_text(self) -> str:
        """A plain-text copy of the widget for a reader without a kernel: the summary
        line, a note, and the text `.out` shows now."""
        shown = "".join(
            record["text"] if record["output_type"] == "stream" else ""
            for record in self.out.outputs
        )
        note = f"(an interactive {self._kind}: run the notebook to use it"
        note += "; what it shows at first:)\n" if shown else ")\n"
        return f"{self!r}\n{note}{shown}".rstrip("\n")

    _kind = "widget"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._summary})"


# --- output records (nbformat's output dicts) ----------------------------------------------------
def text_record(text: str) -> dict:
    """A stdout stream output: shown monospaced, so tables line up."""
    return {"output_type": "stream", "name": "stdout", "text": text}


class LiveFigure:
    """A widget's figure, kept for the widget's whole life and drawn again on each update.

    Rebuilding a figure and saving it cost a slider move 60-200 ms (layout,
    two draws, PNG compression). The first `png()` lays the figure out
    (constrained layout); later ones keep that layout and draw straight to
    the figure's Agg canvas. With `moving`, the artists a control moves (bars,
    value labels, titles, markers), the rest (axes, ticks, labels, legends)
    is drawn once into a background that later calls copy back before
    drawing only the moving artists: matplotlib's blitting. Call without
    `moving` after changing anything else (a new set of bars, new limits).
    `on_top`: artists that do not move but must cover the moving ones
    (legends): drawn once, and their pixels pasted back over the moving
    artists, which costs a copy instead of laying out and rendering their
    text again (a sampling lab's two legends took a third of a slider move;
    what a moving bar has under a legend is then hidden, not seen through
    its frame). `make bench` measures the result.
    """

    def __init__(self, figure):
        self.figure = figure
        self._canvas: FigureCanvasAgg | None = None
        self._moving: list = []
        self._on_top: list = []
        self._background = None
        self._covers: list = []

    def png(self, moving=None, on_top=None) -> bytes:
        moving = list(moving or [])
        on_top = list(on_top or []) if moving else []  # (without moving: one full draw)
        first = self._canvas is None
        if first:
            self._canvas = FigureCanvasAgg(self.figure)
        redraw = moving != self._moving or on_top != self._on_top
        if first or redraw or self._background is None:
            for artist in self._moving:
                artist.set_animated(False)
            for artist in moving:
                artist.set_animated(True)  # left out of full draws: the background
            self._moving, self._on_top = moving, on_top
            self._canvas.draw()  # the first time, this runs the constrained layout too
            if first:
                self.figure.set_layout_engine("none")  # keep the axes where they are now
            self._background = self._canvas.copy_from_bbox(self.figure.bbox) if moving else None
            renderer = self._canvas.get_renderer()
            self._covers = [
                self._canvas.copy_from_bbox(artist.get_window_extent(renderer).expanded(1.02, 1.02))
                for artist in on_top
            ]
        else:
            self._canvas.restore_region(self._background)
        for artist in sorted(moving, key=lambda artist: artist.get_zorder()):
            self.figure.draw_artist(artist)
        for cover in self._covers:  # (captured before the moving artists were drawn)
            self._canvas.restore_region(cover)
        width, height = self._canvas.get_width_height()
        image = Image.frombuffer("RGBA", (width, height), self._canvas.buffer_rgba())
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="png", compress_level=1)  # opaque anyway
        return buffer.getvalue()

    def forget_background(self) -> None:
        """Draw everything again at the next `png()` (something static changed)."""
        self._background = None


def figure_record(figure, description: str, moving=None, on_top=None) -> dict:
    """A PNG output of a matplotlib figure or a `LiveFigure` (`moving`, `on_top`: see
    `LiveFigure.png`); `description` is its text form (alt text)."""
    png = figure.png(moving, on_top) if isinstance(figure, LiveFigure) else figure_png(figure)
    return {
        "output_type": "display_data",
        "metadata": {},
        "data": {
            "image/png": base64.b64encode(png).decode("ascii"),
            "text/plain": description,
        },
    }


def html_record(markup: str, text: str) -> dict:
    """An HTML output with its plain-text form."""
    return {
        "output_type": "display_data",
        "metadata": {},
        "data": {"text/html": markup, "text/plain": text},
    }


def rich_text(text: str) -> str:
    """Escape `text` for HTML, then show `code` spans as code; $math$ is left for MathJax."""
    escaped = html.escape(text, quote=False)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)


def format_table(header: list[str], rows: list[list[str]], align: str = "") -> str:
    """A plain-text table; `align` has "l" or "r" per column (default: first left, rest right)."""
    align = align or "l" + "r" * (len(header) - 1)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(width) if side == "l" else cell.rjust(width)
            for cell, width, side in zip(row, widths, align, strict=True)
        )
        for row in [header, *rows]
    ]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def format_number(value, digits: int = 4) -> str:
    """Finite numbers to `digits` significant digits; inf and NaN spelled out."""
    value = float(value)
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}g}"


# --- argument checks -----------------------------------------------------------------------------
def check_tokens(tokens, *, max_tokens: int | None = None) -> list[str]:
    """The tokens as a list of distinct strings, or a clear error."""
    if isinstance(tokens, str) or not isinstance(tokens, Sequence | np.ndarray):
        raise TypeError(
            "tokens must be a list of token strings such as ['cat', 'dog', 'bird'], "
            f"got {tokens!r}."
        )
    labels = list(tokens)
    if not labels:
        raise ValueError("tokens is empty; give at least one candidate token.")
    not_text = [token for token in labels if not isinstance(token, str | np.str_)]
    if not_text:
        raise TypeError(f"tokens must be strings, got {not_text[0]!r}; e.g. model.vocab[i].")
    labels = [str(token) for token in labels]
    if len(set(labels)) != len(labels):
        repeated = sorted({token for token in labels if labels.count(token) > 1})
        raise ValueError(f"tokens must be distinct (they label the sliders); repeated: {repeated}.")
    if max_tokens is not None and len(labels) > max_tokens:
        raise ValueError(
            f"{len(labels)} tokens are too many to explore one slider each (at most "
            f"{max_tokens}); pick the few most likely ones, e.g. with np.argsort(logits)[::-1][:8]."
        )
    return labels


def check_vector(values, size: int, name: str = "logits") -> np.ndarray:
    """A finite float64 vector of length `size`, or a clear error."""
    array = as_float_array(values, name).astype(np.float64)
    if array.shape != (size,):
        raise ValueError(
            f"{name} has shape {array.shape} but there are {size} tokens; give one score per token."
        )
    if not np.isfinite(array).all():
        bad = array[~np.isfinite(array)][0]
        raise ValueError(f"{name} must be finite to put on a slider, got {bad}.")
    return array


def temperature_slider(temperature, exponents, *, width: str, description_width: str):
    """A log-scale temperature slider from 10**exponents[0] to 10**exponents[1].

    Steps of 10**0.05 (the arrow keys move one); `temperature` must be a
    valid temperature inside the slider's range.
    """
    temperature = check_temperature(temperature)
    low, high = exponents
    if not 10**low <= temperature <= 10**high:
        raise ValueError(
            f"temperature must be between {10**low:g} and {10**high:g} for the slider, "
            f"got {temperature}."
        )
    return widgets.FloatLogSlider(
        value=temperature,
        base=10,
        min=low,
        max=high,
        step=0.05,
        description="temperature T",
        readout_format=".3g",
        continuous_update=False,
        style={"description_width": description_width},
        layout=widgets.Layout(width=width),
    )
