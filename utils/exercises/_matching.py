"""Helpers for exercise `diagnose` functions: does an answer match a known mistake?

A diagnose function recomputes the result of each typical mistake (forgot to
normalize, wrong axis, log2 instead of log, ...) and names the first one the
learner's answer matches. Two rules keep it honest: compare with a tolerance,
and skip a mistake whose result the tolerance cannot tell from the right
answer (then the mistake cannot be what went wrong).

>>> import numpy as np
>>> right = np.array([0.5, 0.5])
>>> first_matching_mistake(
...     np.array([1.0, 1.0]), right, [(np.array([1.0, 1.0]), "not normalized")],
...     rtol=1e-7, atol=1e-12,
... )
'not normalized'
>>> first_matching_mistake(right, right, [(right, "looks the same")], rtol=1e-7, atol=1e-12)
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

__all__ = ["as_float64", "first_matching_mistake", "values_match", "widened_tolerance"]


def as_float64(values) -> np.ndarray | None:
    """`values` as a float64 array, or None when they are not numbers."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def widened_tolerance(got, expected, *, rtol: float, atol: float) -> tuple[float, float]:
    """(rtol, atol) no tighter than 8 eps of `got`'s float dtype (float64: unchanged)."""
    dtype = getattr(got, "dtype", None)
    if dtype is None or dtype.kind != "f" or dtype == np.float64:
        return rtol, atol
    eps = float(np.finfo(dtype).eps)
    values = as_float64(expected)
    finite = values[np.isfinite(values)] if values is not None else np.zeros(0)
    scale = max(1.0, float(np.max(np.abs(finite), initial=0.0)))
    return max(rtol, 8 * eps), max(atol, 8 * eps * scale)


def values_match(got, expected, *, rtol: float, atol: float) -> bool:
    """Same shape and values within tolerance; equal infinities match, NaN never does."""
    got, expected = as_float64(got), as_float64(expected)
    if got is None or expected is None or got.shape != expected.shape:
        return False
    return bool(np.allclose(got, expected, rtol=rtol, atol=atol))


def first_matching_mistake(
    got,
    expected,
    mistakes: Iterable[tuple[object, str]],
    *,
    rtol: float,
    atol: float,
    unique: bool = False,
) -> str | None:
    """The message of the first (wrong result, message) that `got` matches.

    A wrong result that matches `expected` itself is skipped: on that case the
    mistake is harmless, so it cannot explain a failure. With `unique=True`,
    when mistakes with different messages all match (on this case they give
    the same result), none is named: the case cannot tell which one it was. A float32 or float16
    answer is matched to what its dtype resolves (8 of its eps, relative and
    absolute, scaled by the largest expected value), like `check` itself.
    """
    rtol, atol = widened_tolerance(got, expected, rtol=rtol, atol=atol)
    matched = [
        message
        for wrong, message in mistakes
        if values_match(got, wrong, rtol=rtol, atol=atol)
        and not values_match(wrong, expected, rtol=rtol, atol=atol)
    ]
    if not matched or (unique and len(set(matched)) > 1):
        return None
    return matched[0]
