"""Benchmark utils.softmax / log_softmax / logsumexp and sequence_log_prob against SciPy.

Prints, per function, shape and dtype, the median CPU time of `utils`,
`scipy.special` and the naive formula, the ratio utils / scipy (< 1: utils
is faster) and the peak extra memory, then the WORST ratio and whether the
targets hold. The shapes are the lessons' own ((2, 3), (4, 1000),
(1000, 10), one row of GPT-2's 50257 tokens) and vocabulary-sized batches.
All timings are interleaved in one loop (`block_medians`), so a busy
machine slows every candidate alike; the ratio is the median of the
side-by-side ratios of the blocks (`paired_ratio`), the times shown the
lowest block medians. They are CPU time (`time.process_time`:
the time spent waiting for a core on a shared machine does not count; the
functions are single-threaded, utils and SciPy alike). `python -m bench`
runs this in the learner's environment (OpenBLAS's default threads), then
again with OPENBLAS_NUM_THREADS=1 and with NumPy limited to AVX2
(`bench.cpu`), those two without the naive formula (`--no-naive`).
"""

from __future__ import annotations

import sys
import time
import warnings
from functools import partial

import numpy as np
import scipy.special

import utils
from bench import cpu
from bench.common import (
    block_medians,
    format_bytes,
    median_seconds,
    paired_ratio,
    peak_extra_bytes,
    print_table,
)

# The lessons' shapes, then rows of a vocabulary: one (GPT-2's 50257 tokens), a batch,
# and a few long rows (256000: the vocabulary of some larger models).
SHAPES = [(2, 3), (4, 1000), (1000, 10), (50257,), (32, 50257), (8, 256000)]
DTYPES = [np.float32, np.float64]
# Targets on the ratio utils / scipy: every entry, and batches of vocabulary-sized rows.
WORST_TARGET = 1.0
BATCHED_TARGETS = {"softmax": 0.8, "log_softmax": 0.8, "logsumexp": 0.4}
SEQUENCE_SHAPE = (8, 128, 50257)
SEQUENCE_TARGET, SEQUENCE_MEMORY_LIMIT = 2.0, 0.02
# Timing: 9 interleaved blocks of 3 samples; a sample lasts >= 2 ms (calls in a row). The
# ratio is the median of the 9 side-by-side ratios (`paired_ratio`).
TIMING = {"blocks": 9, "calls": 3, "clock": time.process_time, "min_sample": 2e-3}


def is_batched(shape: tuple) -> bool:
    """More than one row of a vocabulary: where the batched targets apply."""
    return len(shape) == 2 and shape[0] > 1 and shape[1] >= 50257


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


def log_softmax_sequence_log_prob(logits, token_ids, mask):
    """The reference: SciPy's full log_softmax, then a gather of each token's entry."""
    log_probs = scipy.special.log_softmax(logits, axis=-1)
    picked = np.take_along_axis(log_probs, token_ids[..., None], axis=-1)[..., 0]
    return np.where(mask, picked, 0).sum(axis=-1, dtype=np.float64)


# (function, offset added to the scores): N(0, 4.5²) rows have maxima near +20, where
# softmax may skip the max-shift; raw logits of a real LM are often all far below 0
# (GPT-2's are around -100), where it may not.
CASES = [(name, 0.0) for name in FUNCTIONS] + [("softmax", -100.0)]


def bench_functions(rng, naive_too: bool = True) -> tuple[list[dict], list[list[str]]]:
    results, rows = [], []
    for shape in SHAPES:
        for dtype in DTYPES:
            centred = rng.normal(0.0, 4.5, size=shape).astype(dtype)
            for name, offset in CASES:
                ours, scipys, naive = FUNCTIONS[name]
                logits = centred + dtype(offset) if offset else centred
                label = f"{name} (z{offset:+g})" if offset else name
                np.testing.assert_allclose(
                    ours(logits), scipys(logits), rtol=1e-4 if dtype == np.float32 else 1e-10
                )
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    candidates = [partial(ours, logits), partial(scipys, logits)]
                    if naive_too:
                        candidates.append(partial(naive, logits))
                    medians = block_medians(*candidates, **TIMING)
                    t_ours, t_scipy, *t_naive = [min(times) for times in medians]
                    ratio = paired_ratio(medians[0], medians[1])
                    m_ours = peak_extra_bytes(partial(ours, logits))
                    m_scipy = peak_extra_bytes(partial(scipys, logits))
                result = {"function": name, "label": label, "shape": shape, "dtype": dtype}
                results.append({**result, "ratio": ratio})
                rows.append(
                    [
                        label,
                        "x".join(map(str, shape)),
                        np.dtype(dtype).name,
                        f"{t_ours * 1e3:.3f}",
                        f"{t_scipy * 1e3:.3f}",
                        f"{t_naive[0] * 1e3:.3f}" if t_naive else "-",
                        f"{ratio:.2f}",
                        f"{format_bytes(m_ours)} ({m_ours / logits.nbytes:.2f}x)",
                        f"{format_bytes(m_scipy)} ({m_scipy / logits.nbytes:.2f}x)",
                    ]
                )
    return results, rows


def bench_sequence_log_prob(rng) -> list[dict]:
    """sequence_log_prob vs SciPy's log_softmax + gather, on a whole (batch, time, vocab)
    array and on `logits[:, :-1]` (how a causal LM's logits score the ids after them: a
    slice that is not contiguous)."""
    batch, length, vocab = SEQUENCE_SHAPE
    logits = rng.standard_normal(SEQUENCE_SHAPE, dtype=np.float32)
    logits *= 4.5
    ids = rng.integers(0, vocab, size=(batch, length))
    mask = np.arange(length) < rng.integers(length // 2, length + 1, size=batch)[:, None]
    cases = {
        "logits": (logits, ids, mask),
        "logits[:, :-1]": (logits[:, :-1], ids[:, 1:], mask[:, 1:]),
    }
    results = []
    for label, (scores, token_ids, token_mask) in cases.items():
        ours = partial(utils.sequence_log_prob, scores, token_ids, mask=token_mask)
        reference = partial(log_softmax_sequence_log_prob, scores, token_ids, token_mask)
        np.testing.assert_allclose(ours(), reference(), rtol=1e-5)
        t_ours, t_scipy = median_seconds(ours, reference, blocks=3, calls=3, clock=TIMING["clock"])
        memory_ours, memory_scipy = peak_extra_bytes(ours), peak_extra_bytes(reference)
        results.append(
            {
                "label": label,
                "speedup": t_scipy / t_ours,
                "memory": memory_ours / scores.nbytes,
                "line": (
                    f"sequence_log_prob({label}), float32 {'x'.join(map(str, scores.shape))} "
                    f"({format_bytes(scores.nbytes)}), {length // 2}-{length} real tokens per "
                    f"sequence: {t_ours * 1e3:.1f} ms vs {t_scipy * 1e3:.1f} ms for scipy "
                    f"log_softmax + gather ({t_scipy / t_ours:.2f}x faster); peak extra memory "
                    f"{format_bytes(memory_ours)} ({memory_ours / scores.nbytes:.2%} of the "
                    f"logits) vs {format_bytes(memory_scipy)}"
                ),
            }
        )
    return results


def missed_targets(results: list[dict], sequences: list[dict]) -> list[str]:
    missed = []
    for result in results:
        where = f"{result['label']} {result['shape']} {np.dtype(result['dtype']).name}"
        if result["ratio"] > WORST_TARGET:
            missed.append(f"{where}: {result['ratio']:.2f} > {WORST_TARGET}")
        target = BATCHED_TARGETS[result["function"]]
        if is_batched(result["shape"]) and result["ratio"] > target:
            missed.append(f"{where} (batched): {result['ratio']:.2f} > {target}")
    for sequence in sequences:
        where = f"sequence_log_prob({sequence['label']})"
        if sequence["speedup"] < SEQUENCE_TARGET:
            missed.append(f"{where}: {sequence['speedup']:.2f}x < {SEQUENCE_TARGET}x")
        if sequence["memory"] >= SEQUENCE_MEMORY_LIMIT:
            missed.append(f"{where} memory: {sequence['memory']:.2%} >= 2%")
    return missed


def main(naive_too: bool = True) -> bool:
    """Run, print the table and the verdict; True when every target holds."""
    print(cpu.summary(cpu.describe()), flush=True)
    rng = np.random.default_rng(0)
    results, rows = bench_functions(rng, naive_too)
    sequences = bench_sequence_log_prob(rng)
    print("utils vs scipy.special (CPU ms, lowest block median; utils/scipy: median of the")
    print("side-by-side block ratios, < 1: utils faster; memory: peak extra bytes incl. the")
    print("result, as a multiple of the input)")
    print_table(
        ["function", "shape", "dtype", "utils", "scipy", "naive", "utils/scipy", "utils mem",
         "scipy mem"],
        rows,
    )  # fmt: skip
    for sequence in sequences:
        print(sequence["line"])
    worst = max(results, key=lambda result: result["ratio"])
    print(
        f"WORST ratio utils/scipy: {worst['ratio']:.2f} ({worst['label']} "
        f"{'x'.join(map(str, worst['shape']))} {np.dtype(worst['dtype']).name})"
    )
    missed = missed_targets(results, sequences)
    print(
        f"targets (worst <= {WORST_TARGET}; batched (rows of >= 50257) softmax, log_softmax "
        f"<= 0.8, logsumexp <= 0.4; sequence_log_prob >= {SEQUENCE_TARGET}x with < 2% extra "
        "memory): " + ("all met" if not missed else "MISSED: " + "; ".join(missed))
    )
    return not missed


if __name__ == "__main__":
    raise SystemExit(0 if main(naive_too="--no-naive" not in sys.argv[1:]) else 1)
