"""Lesson 02's bfloat16 and large scores (issue 14): the lesson uses the course's
emulation (utils.numerics, tested in test_lesson_02_numerics.py), and the numbers the
new prose states (the tiny model's score, spacings, sequence scores) are the course's own.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest

from utils import lm
from utils.numerics import to_bfloat16
from utils.probability import naive_softmax, softmax

NAME = "02_overflow_and_logsumexp.ipynb"
NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / NAME


@pytest.fixture(scope="module")
def cells() -> dict:
    return {cell.id: cell for cell in nbformat.read(NOTEBOOK, as_version=4).cells}


def _bits(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).view(np.uint32)


def _from_bits(bits) -> np.ndarray:
    return np.asarray(bits, dtype=np.uint32).view(np.float32)


def _plain(cell) -> str:
    return "".join(output.get("data", {}).get("text/plain", "") for output in cell.outputs)


def test_the_lesson_uses_the_course_s_emulation_and_shows_ties_to_even(cells):
    assert "from utils.numerics import to_bfloat16" in cells["bfloat16-helper"].source
    assert "def to_bfloat16" not in "".join(cell.source for cell in cells.values())
    assert _plain(cells["bfloat16-helper"]) == "array([1.    , 1.    , 1.0156], dtype=float32)"
    assert float(to_bfloat16(1.0 + 3 * 2.0**-8)) == 1.0 + 2.0**-6


def test_the_prose_numbers_are_the_course_s_own(cells):
    model = lm.load()
    logits = model.next_token_logits("the cat")
    assert round(float(logits.max()), 1) == 12.9
    assert model.vocab[int(np.argmax(logits))] == "sat"
    assert "12.9" in cells["overflow-float16"].source
    assert "12.9" in cells["naive"].source
    assert "129" in cells["naive"].source
    assert 10 * round(float(logits.max()), 1) > np.log(np.finfo(np.float32).max)
    # Spacings near 12.9 and 100, and bfloat16's exp limit (the same as float32's to 2 digits).
    for value, spacing in ((12.9, 0.0625), (100.0, 0.5)):
        rounded = to_bfloat16(value)
        step = float(_from_bits(_bits(rounded) + 0x10000) - rounded)
        assert step == spacing
        assert f"{spacing}" in cells["bfloat16-digits"].source
    largest = float(_from_bits([0x7F7F0000])[0])
    assert float(to_bfloat16(_from_bits([0x7F7F7FFF]))[0]) == largest  # rounds down to it
    assert round(float(np.log(largest)), 2) == 88.72
    # Close scores tie, and the top token gains about 5 points of probability.
    close = np.array([100.0, 100.2, 100.4], dtype=np.float32)
    rounded = to_bfloat16(close)
    assert rounded[0] == rounded[1] != rounded[2]
    gain = float(softmax(rounded)[2] - softmax(close)[2])
    assert round(100 * gain) == 5
    assert "about 5 points" in cells["bfloat16-reading"].source
    assert float(to_bfloat16(0.999)) == 1.0


def test_sequence_scores_defeat_the_naive_softmax_even_in_float64(cells):
    scores = 200 * np.log(np.array([0.0100, 0.0099, 0.0098]))
    assert [round(float(score)) for score in scores] == [-921, -923, -925]
    assert scores.max() < np.log(np.finfo(np.float64).smallest_subnormal)
    with np.errstate(all="ignore"):
        assert np.isnan(naive_softmax(scores)).all()
    assert np.isfinite(softmax(scores)).all()
    for number in ("-921", "-923", "-925"):
        assert number in cells["naive-sequence-scores"].source
    assert "-745" in cells["naive"].source
    underflow = np.log(np.finfo(np.float64).smallest_subnormal) + np.log(0.5)
    assert round(float(underflow), 1) == -745.1
    assert "nan, nan, nan" in _plain(cells["naive-sequence-scores-code"])


def test_the_bfloat16_quiz_is_right_about_both_formats(cells):
    quiz = cells["quiz-bfloat16"].source
    assert "correct=0" in quiz
    assert np.float16(100.2) != np.float16(100.0)
    assert float(np.spacing(np.float16(100.0))) == 0.0625
    assert "spacing 0.0625 near 100" in quiz
    assert float(to_bfloat16(100.2)) == 100.0
    assert float(to_bfloat16(100.0) + 0.5) == float(to_bfloat16(100.5))


def test_the_intro_and_the_section_give_bfloat16_the_same_precision(cells):
    bits = 8  # 7 stored fraction bits and the implicit leading one
    assert float(_from_bits([0x3F810000])[0]) - 1.0 == 2.0 ** -(bits - 1)
    decimal_digits = bits * np.log10(2)
    assert 2 < decimal_digits < 3
    for cell_id in ("intro", "bfloat16-digits"):
        text = " ".join(cells[cell_id].source.split())
        assert "8 significant bits" in text, cell_id
        assert "between 2 and 3 decimal digits" in text, cell_id
    assert "about 3 significant digits" not in cells["intro"].source
