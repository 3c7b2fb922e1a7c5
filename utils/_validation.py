"""Input checks shared by the public functions of `utils`.

Every public function validates at its boundary and raises a `TypeError` or
`ValueError` whose message names the argument and says what to do; inside,
the code trusts the data.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

FLOAT_DTYPES = (np.float16, np.float32, np.float64)


def as_float_array(values, name: str = "logits") -> np.ndarray:
    """Return `values` as a float array without copying float16/32/64 input.

    Integers become float64. Booleans, complex numbers, strings and objects
    are rejected with a `TypeError`; empty input with a `ValueError`.
    """
    try:
        array = np.asarray(values)
    except (ValueError, TypeError) as error:  # ragged lists and the like
        raise TypeError(
            f"{name} must be a rectangular array of real numbers; "
            f"NumPy could not convert it ({error})."
        ) from None
    kind = array.dtype.kind
    if kind == "b":
        raise TypeError(
            f"{name} has dtype bool; pass real-valued scores (floats), "
            "e.g. logits.astype(float) if you really mean 0/1 scores."
        )
    if kind == "c":
        raise TypeError(f"{name} is complex ({array.dtype}); scores must be real numbers.")
    if kind in "iu":
        array = array.astype(np.float64)
    elif kind == "f":
        if array.dtype.type not in FLOAT_DTYPES:  # e.g. longdouble
            array = array.astype(np.float64)
    else:
        raise TypeError(
            f"{name} must contain real numbers, got dtype {array.dtype} "
            f"(for example {array.flat[0]!r} )."
            if array.size
            else f"{name} must contain real numbers, got dtype {array.dtype}."
        )
    if array.size == 0:
        raise ValueError(
            f"{name} is empty (shape {array.shape}); a distribution needs at "
            "least one candidate token."
        )
    return array


def normalize_axis(axis, ndim: int, name: str = "logits") -> int | None:
    """Return `axis` as a non-negative int (or None), or raise a clear error."""
    if axis is None:
        return None
    if type(axis) is int and -ndim <= axis < ndim:  # the common case, without the ABC checks
        return axis % ndim
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"axis must be an int or None, got {axis!r}.")
    if ndim == 0:
        raise ValueError(
            f"{name} is a single number (0-d); pass a vector of scores, e.g. [2.0, 1.0, 0.1]."
        )
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"axis {axis} is out of range for {name} with {ndim} "
            f"dimension(s) (shape has {ndim} axes); use an axis in "
            f"[{-ndim}, {ndim - 1}], usually -1 for the vocabulary axis."
        )
    return int(axis) % ndim


def check_temperature(temperature) -> float:
    """Return the temperature as a float, or raise: it must be finite and > 0."""
    if type(temperature) is float and 0 < temperature < math.inf:  # the common case, quickly
        return temperature
    if isinstance(temperature, (bool, np.bool_)) or not isinstance(temperature, numbers.Real):
        raise TypeError(f"temperature must be a positive real number, got {temperature!r}.")
    value = float(temperature)
    if math.isnan(value):
        raise ValueError("temperature is NaN; pass a positive number such as 0.7.")
    if value == 0:
        raise ValueError(
            "temperature must be > 0; temperature 0 means always taking the most "
            "likely token: use greedy decoding (argmax of the logits) instead."
        )
    if value < 0:
        raise ValueError(
            f"temperature must be > 0, got {value}; a negative temperature would "
            "reverse the order of the tokens."
        )
    if math.isinf(value):
        raise ValueError(
            "temperature is infinite; the limit is the uniform distribution, "
            "pass a large finite value (e.g. 1e6) to approach it."
        )
    return value


def check_mask(mask, shape: tuple) -> np.ndarray:
    """Return a boolean mask broadcast to `shape`, or raise a clear error."""
    mask = np.asarray(mask)
    if mask.dtype.kind != "b":
        raise TypeError(
            f"mask must be a boolean array (True = candidate token), got dtype "
            f"{mask.dtype}; e.g. mask = np.isin(np.arange(vocab_size), candidate_ids)."
        )
    try:
        return np.broadcast_to(mask, shape)
    except ValueError:
        raise ValueError(
            f"mask of shape {mask.shape} does not broadcast to the logits' shape "
            f"{shape}; give it the logits' shape or a shape that broadcasts, "
            "e.g. (vocab_size,) for the same candidates in every row."
        ) from None


def first_bad_index(bad: np.ndarray) -> str:
    """Describe where the first True of a boolean array is, e.g. 'row (1, 0)'."""
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    return f"at index {index}" if index else ""
