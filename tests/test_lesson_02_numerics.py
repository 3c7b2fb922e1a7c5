"""utils.numerics.to_bfloat16: exact bfloat16 values by round-to-nearest-even of
float32 to its top 16 bits, checked against hand-computed bit patterns."""

from __future__ import annotations

import numpy as np
import pytest

from utils.numerics import to_bfloat16


def _bits(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).view(np.uint32)


def _from_bits(bits) -> np.ndarray:
    return np.asarray(bits, dtype=np.uint32).view(np.float32)


@pytest.mark.parametrize(
    ("bits", "expected"),
    [
        (0x3F800000, 0x3F800000),  # 1.0 is a bfloat16 number
        (0x3F808000, 0x3F800000),  # exactly halfway, kept part even: stays
        (0x3F818000, 0x3F820000),  # exactly halfway, kept part odd: up to even
        (0x3F808001, 0x3F810000),  # just above halfway: up
        (0x3F807FFF, 0x3F800000),  # just below halfway: down
        (0xBF818000, 0xBF820000),  # negative halfway: the same, with the sign
        (0x3F80FFFF, 0x3F810000),  # the carry into the kept bits
        (0x3FFF8000, 0x40000000),  # the carry into the exponent: 1.99609375.. -> 2
        (0x7F7F0000, 0x7F7F0000),  # the largest bfloat16
        (0x7F7F7FFF, 0x7F7F0000),  # below half a step beyond it: rounds down to it
        (0x7F7F8000, 0x7F800000),  # halfway beyond the largest: overflow to inf
        (0x7F7FFFFF, 0x7F800000),  # float32's largest: inf in bfloat16
        (0xFF7FFFFF, 0xFF800000),  # and -inf on the negative side
        (0x7F800000, 0x7F800000),  # inf stays inf
        (0x00008000, 0x00000000),  # half the smallest bfloat16 subnormal, even: 0
        (0x00018000, 0x00020000),  # a subnormal halfway, odd: up
        (0x80000001, 0x80000000),  # a tiny negative: -0
    ],
)
def test_hand_computed_bit_patterns(bits, expected):
    assert int(_bits(to_bfloat16(_from_bits([bits])))[0]) == expected


def test_every_result_is_the_nearest_bfloat16_number():
    rng = np.random.default_rng(0)
    values = _from_bits(rng.integers(0, 0x7F7F0000, 5000, dtype=np.uint32))
    rounded = to_bfloat16(values)
    assert (_bits(rounded) & 0xFFFF == 0).all()
    below = _from_bits(_bits(values) & 0xFFFF0000).astype(np.float64)
    above = _from_bits((_bits(values) & 0xFFFF0000) + 0x10000).astype(np.float64)
    exact = values.astype(np.float64)
    error = np.abs(rounded.astype(np.float64) - exact)
    assert (error <= np.minimum(exact - below, above - exact)).all()
    assert np.array_equal(to_bfloat16(-values), -rounded)


def test_nan_stays_nan_whatever_its_payload():
    nans = _from_bits([0x7FC00000, 0x7FFFFFFF, 0xFFFFFFFF, 0x7F800001, 0xFF80FFFF])
    assert np.isnan(to_bfloat16(nans)).all()


def test_shapes_dtypes_and_the_input_are_kept():
    values = np.array([[1.0, 100.2], [0.999, -3.0]])
    before = values.copy()
    rounded = to_bfloat16(values)
    assert rounded.shape == (2, 2)
    assert rounded.dtype == np.float32
    assert rounded.tolist() == [[1.0, 100.0], [1.0, -3.0]]
    assert np.array_equal(values, before)
    assert to_bfloat16(2.5).shape == ()
    assert to_bfloat16([]).shape == (0,)
    assert to_bfloat16(np.array([3, 257], dtype=np.int64)).tolist() == [3.0, 256.0]
    strided = np.arange(8, dtype=np.float32)[::2] + np.float32(0.001)
    assert to_bfloat16(strided).tolist() == [float(to_bfloat16(v)) for v in strided]


def test_range_and_precision_are_bfloat16_s():
    assert float(to_bfloat16(np.exp(np.float32(12.0)))) == 162816.0  # float16 overflows there
    assert float(to_bfloat16(65504.0 * 2)) == 131072.0
    spacing_at_one = float(_from_bits([0x3F810000])[0]) - 1.0
    assert spacing_at_one == 2.0**-7


@pytest.mark.parametrize(
    ("values", "error", "words"),
    [
        (np.array([True, False]), TypeError, "bool"),
        (np.array([1 + 2j]), TypeError, "complex"),
        (["a", "b"], TypeError, "real numbers"),
        ([[1.0, 2.0], [3.0]], TypeError, "rectangular"),
        (None, TypeError, "real numbers"),
    ],
)
def test_bad_input_gets_a_clear_error(values, error, words):
    with pytest.raises(error, match=words):
        to_bfloat16(values)
