"""Benchmark utils.softmax / log_softmax / logsumexp against scipy.special.

Prints, per shape and dtype, the median time of `utils`, `scipy.special` and
the naive formula, the ratio utils / scipy (< 1 means utils is faster) and
the peak extra memory each needs, as a multiple of the input's size.
"""

from __future__ import annotations

import warnings
from functools import partial

import numpy as np
import scipy.special

import utils
from bench.common import format_bytes, median_seconds, peak_extra_bytes, print_table

SHAPES = [(1, 50257), (32, 50257), (8, 256000)]
DTYPES = [np.float32, np.float64]


def naive_log_softmax(x):
    return np.log(utils.naive_softmax(x))


def naive_logsumexp(x):
    return np.log(np.exp(x).sum(axis=-1))


FUNCTIONS = {
    "softmax": (utils.softmax, lambda x: scipy.special.softmax(x, axis=-1), utils.naive_softmax),
    "log_softmax": (
        utils.log_softmax,
        lambda x: scipy.special.log_softmax(x, axis=-1),
        naive_log_softmax,
    ),
    "logsumexp": (
        utils.logsumexp,
        lambda x: scipy.special.logsumexp(x, axis=-1),
        naive_logsumexp,
    ),
}


def main() -> list[dict]:
    rng = np.random.default_rng(0)
    results, rows = [], []
    for shape in SHAPES:
        for dtype in DTYPES:
            logits = rng.normal(0.0, 4.5, size=shape).astype(dtype)
            for name, (ours, scipys, naive) in FUNCTIONS.items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t_ours, t_scipy, t_naive = median_seconds(
                        partial(ours, logits), partial(scipys, logits), partial(naive, logits)
                    )
                    m_ours = peak_extra_bytes(partial(ours, logits))
                    m_scipy = peak_extra_bytes(partial(scipys, logits))
                ratio = t_ours / t_scipy
                results.append(
                    {
                        "function": name,
                        "shape": shape,
                        "dtype": np.dtype(dtype).name,
                        "ratio": ratio,
                        "memory_ratio": m_ours / logits.nbytes,
                    }
                )
                rows.append(
                    [
                        name,
                        "x".join(map(str, shape)),
                        np.dtype(dtype).name,
                        f"{t_ours * 1e3:.3f}",
                        f"{t_scipy * 1e3:.3f}",
                        f"{t_naive * 1e3:.3f}",
                        f"{ratio:.2f}",
                        f"{format_bytes(m_ours)} ({m_ours / logits.nbytes:.2f}x)",
                        f"{format_bytes(m_scipy)} ({m_scipy / logits.nbytes:.2f}x)",
                    ]
                )
    print("utils.probability vs scipy.special (median ms; ratio < 1: utils faster;")
    print("memory: peak extra bytes incl. the result, as a multiple of the input)")
    print_table(
        [
            "function",
            "shape",
            "dtype",
            "utils",
            "scipy",
            "naive",
            "utils/scipy",
            "utils peak mem",
            "scipy peak mem",
        ],
        rows,
    )
    return results


if __name__ == "__main__":
    main()
