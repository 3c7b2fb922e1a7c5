"""Lesson 02's bfloat16 (issue 14): the notebook's emulation `to_bfloat16` rounds
float32 to its top 16 bits, to the nearest, ties to even; and the numbers the new
prose states (the tiny model's score, spacings, sequence scores) are the course's own.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest

from utils import lm
from utils.probability import naive_softmax, softmax

NAME = "02_overflow_and_logsumexp.ipynb"
NOTEBOOK = Path(__file__).resolve().parents[1] / "solutions" / NAME


@pytest.fixture(scope="module")
def cells() -> dict:
    return {cell.id: cell for cell in nbformat.read(NOTEBOOK, as_version=4).cells}


@pytest.fixture(scope="module")
def to_bfloat16(cells):
    """The notebook's own function, as written in its cell."""
    namespace = {"np": np}
    exec(compile(cells["bfloat16-helper"].source, f"{NAME}:bfloat16-helper", "exec"), namespace)
    return namespace["to_bfloat16"]


def _bits(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).view(np.uint32)


def _from_bits(bits) -> np.ndarray:
    return np.asarray(bits, dtype=np.uint32).view(np.float32)


def _plain(cell) -> str:
    return "".join(output.get("data", {}).get("text/plain", "") for output in cell.outputs)


def test_results_are_bfloat16_numbers_and_the_nearest_ones(to_bfloat16):
    rng = np.random.default_rng(0)
    values = np.concatenate(
        [
            rng.standard_normal(2000).astype(np.float32)
            * np.float32(10.0) ** rng.integers(-30, 30, 2000),
            _from_bits(rng.integers(0, 0x7F7F0000, 2000, dtype=np.uint32)),
        ]
    ).astype(np.float32)
    rounded = to_bfloat16(values)
    assert rounded.dtype == np.float32
    assert (_bits(rounded) & 0xFFFF == 0).all()
    # The two bfloat16 neighbours of each value (truncated, and one step up).
    below = _from_bits(_bits(values) & 0xFFFF0000)
    above = _from_bits((_bits(values) & 0xFFFF0000) + 0x10000)
    gap = np.abs(rounded.astype(np.float64) - values.astype(np.float64))
    best = np.minimum(
        np.abs(below.astype(np.float64) - values), np.abs(above.astype(np.float64) - values)
    )
    assert (gap <= best).all()
    assert to_bfloat16(-values) == pytest.approx(-rounded, abs=0)


@pytest.mark.parametrize(
    ("bits", "expected"),
    [
        (0x3F808000, 0x3F800000),  # exactly halfway, kept part even: down
        (0x3F818000, 0x3F820000),  # exactly halfway, kept part odd: up to even
        (0x3F808001, 0x3F810000),  # just above halfway: up
        (0x3F807FFF, 0x3F800000),  # just below halfway: down
        (0x7F7F8000, 0x7F800000),  # halfway above the largest bfloat16: inf, as in hardware
        (0x7F800000, 0x7F800000),  # inf stays inf
        (0x00000001, 0x00000000),  # the smallest subnormal rounds to 0
    ],
)
def test_ties_go_to_even_and_the_edges_behave(to_bfloat16, bits, expected):
    assert int(_bits(to_bfloat16(_from_bits([bits])))[0]) == expected


def test_nan_stays_nan_whatever_its_payload(to_bfloat16):
    nans = _from_bits([0x7FC00000, 0x7FFFFFFF, 0xFFFFFFFF, 0x7F800001])
    assert np.isnan(to_bfloat16(nans)).all()


def test_the_prose_numbers_are_the_course_s_own(cells, to_bfloat16):
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
