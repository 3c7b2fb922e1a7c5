"""The README screenshots are rewritten only when what they show changed (a tracked file
must stay clean after `make test`): the comparison, on images made here."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
from jupyter_pages import shows_the_same

matplotlib.use("Agg")
from matplotlib.figure import Figure


def _png(text: str, height_pixels: int = 120) -> bytes:
    figure = Figure(figsize=(3.0, height_pixels / 100), dpi=100)
    figure.text(0.1, 0.5, text, fontsize=14)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def test_the_same_picture_is_the_same():
    assert shows_the_same(_png("p = 0.523"), _png("p = 0.523"))


def test_a_box_one_pixel_taller_still_shows_the_same():
    assert shows_the_same(_png("p = 0.523"), _png("p = 0.523", height_pixels=121))


def test_another_number_is_a_change():
    assert not shows_the_same(_png("p = 0.523"), _png("p = 0.877"))


def test_a_much_larger_picture_is_a_change():
    assert not shows_the_same(_png("p = 0.523"), _png("p = 0.523", height_pixels=160))


def test_the_pictures_differ_only_where_the_text_is():
    image = matplotlib.image.imread(io.BytesIO(_png("p = 0.523")), format="png")
    assert np.ptp(image) > 0  # not a blank picture: the comparisons above compare something
