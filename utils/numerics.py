"""Number formats NumPy does not have, emulated exactly: bfloat16.

bfloat16 ("brain floating point") keeps float32's sign bit and 8 exponent bits
and only the top 7 of its 23 fraction bits: float32's range (largest finite
value about 3.39e38) with 8 significant bits (epsilon 2**-7). Every bfloat16
number is a float32 whose lower 16 bits are zero, so `to_bfloat16` returns
the bfloat16 values exactly, stored in float32; arithmetic on them is then
float32's, as on hardware that stores bfloat16 and computes in float32. (The
package ``ml_dtypes`` has a real bfloat16 dtype; the course does not need it.)

>>> to_bfloat16([1.0, 100.2, 1 + 2**-8, 3.0e38]).tolist()
[1.0, 100.0, 1.0, 3.00405527047391e+38]
"""

from __future__ import annotations

import numpy as np

__all__ = ["to_bfloat16"]

_KEEP_TOP_16_BITS = np.uint32(0xFFFF0000)
_JUST_BELOW_HALF = np.uint32(0x7FFF)


def to_bfloat16(values) -> np.ndarray:
    """`values` rounded to bfloat16: round to nearest, ties to even, like hardware.

    values: real numbers of any shape (a scalar, a list, an int or float
    array). They are converted to float32 first (float64 input is thus
    rounded twice, to float32 and then to bfloat16, which can differ from a
    direct rounding in the last kept bit when a float64 lies within float32
    rounding of a bfloat16 halfway point). Returns a float32 array of the same
    shape holding bfloat16 values: finite values beyond bfloat16's largest
    (by at least half a step) become +-inf, inf stays inf, NaN stays NaN, and
    values below half the smallest bfloat16 subnormal become 0 (with their sign).

    >>> to_bfloat16(np.array([[0.999, 65504.0 * 2]], dtype=np.float32))
    array([[1.00000e+00, 1.31072e+05]], dtype=float32)
    """
    try:
        array = np.asarray(values)
    except (ValueError, TypeError) as error:  # ragged lists and the like
        raise TypeError(
            f"values must be a rectangular array of real numbers; NumPy could not convert it "
            f"({error})."
        ) from None
    kind = array.dtype.kind
    if kind == "b":
        raise TypeError("values has dtype bool; pass real numbers, e.g. values.astype(float).")
    if kind == "c":
        raise TypeError(f"values is complex ({array.dtype}); bfloat16 holds real numbers only.")
    if kind not in "iuf":
        raise TypeError(f"values must contain real numbers, got dtype {array.dtype}.")
    # A contiguous float32 copy: its bit pattern is what gets rounded.
    single = np.array(array, dtype=np.float32, copy=True, order="C")
    bits = single.view(np.uint32)
    lowest_kept_bit = (bits >> np.uint32(16)) & np.uint32(1)
    # Adding 0x7FFF, plus 1 when the kept part is odd, carries into the kept bits exactly
    # when the dropped half is above one half, or equal to it with an odd kept part.
    rounded = ((bits + _JUST_BELOW_HALF + lowest_kept_bit) & _KEEP_TOP_16_BITS).view(np.float32)
    # NaN's fraction could carry into the sign or make inf: keep NaN as it was.
    return np.where(np.isnan(single), single, rounded)
