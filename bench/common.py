"""Small timing and memory helpers shared by the benchmark scripts.

Timings are medians of repeated calls measured in the same process and run,
so ratios between implementations are meaningful even on a noisy machine.
Peak extra memory is measured with `tracemalloc`, which NumPy reports its
array allocations to.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc


def block_medians(
    *functions, blocks: int = 7, calls: int = 15, clock=time.perf_counter, min_sample=0.0
) -> list[list[float]]:
    """Per function, the median time of one call in each of `blocks` interleaved blocks.

    Each function runs `calls` samples in a row (its steady state: the memory
    allocator then serves it as it would in a loop of real use), and these
    runs alternate between the functions `blocks` times, so that a slow
    spell of a shared machine hits all of them alike. The median of a block
    ignores a few preempted calls. A sample is one call, or as many calls in
    a row as take `min_sample` seconds (so that calls of a few microseconds
    are not lost in the clock's own cost), divided out.
    `clock=time.process_time` measures the CPU time of this process (all its
    threads): on a machine shared with other busy processes, the time spent
    waiting for a core does not count.
    """
    repeats = []
    for function in functions:
        begin = clock()
        function()
        once = max(clock() - begin, 1e-7)
        repeats.append(max(1, round(min_sample / once)) if min_sample else 1)
    times: list[list[float]] = [[] for _ in functions]
    for _ in range(blocks):
        for function, repeat, medians in zip(functions, repeats, times, strict=True):
            function()  # settle the allocator and caches for this function
            samples = []
            for _ in range(calls):
                begin = clock()
                for _ in range(repeat):
                    function()
                samples.append((clock() - begin) / repeat)
            medians.append(statistics.median(samples))
    return times


def median_seconds(*functions, **timing) -> list[float]:
    """Time of one call of each function: the lowest of its per-block medians
    (`block_medians`; the lowest ignores a block spent competing with other
    processes for the cores)."""
    return [min(medians) for medians in block_medians(*functions, **timing)]


def paired_ratio(ours: list[float], reference: list[float]) -> float:
    """The median over blocks of ours / reference, each pair measured side by side
    (`block_medians`): steadier on a busy machine than a ratio of two minima, which
    may come from blocks run under different loads."""
    return statistics.median(a / b for a, b in zip(ours, reference, strict=True))


def peak_extra_bytes(function) -> int:
    """Peak memory allocated during `function()` beyond what was live before it.

    The result returned by `function` counts (it is allocated during the call).
    """
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        result = function()
        _, peak = tracemalloc.get_traced_memory()
        del result
    finally:
        tracemalloc.stop()
    return peak - before


def format_bytes(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(count) < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    line = "  ".join(f"{{:>{w}}}" for w in widths)
    print(line.format(*header))
    print(line.format(*("-" * w for w in widths)))
    for row in rows:
        print(line.format(*row))
