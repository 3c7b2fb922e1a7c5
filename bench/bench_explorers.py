"""Benchmark the explorers: kernel time of one slider move, per explorer.

Each explorer is built the way its lesson builds it, then one of its sliders
is moved back and forth (`slider.value = ...` runs the same callback a kernel
runs when the browser sends the new value) and the callback is timed until
it returns: the state recomputed and the picture drawn to PNG, all the
kernel does before the update goes to the browser. This runs in-process with
the widget objects (no browser, no comm round trip), in the environment
`make bench` runs in. Reported per move: the CPU time of the callback
(`time.process_time`, all the process's threads: what the kernel spends, whatever else the
machine runs) and its wall time (which on a machine shared with other busy
processes also counts the time spent waiting for a core).
"""

from __future__ import annotations

import statistics
import time

import utils
from bench.common import print_table
from utils import lm

TARGET_MS = 50.0
MOVES = 21


def _explorers():
    """(name, slider, the values to alternate between) for every explorer of the course."""
    model = lm.load()
    tokens, logits = ["cat", "dog", "bird", "fish", "mat"], [2.0, 1.0, 0.1, -0.5, -1.2]
    score = utils.widgets.score_explorer(tokens, logits)
    yield "score_explorer", score.sliders["bird"], [2.5, -1.0]
    overflow = utils.widgets.overflow_explorer()
    yield "overflow_explorer (finite)", overflow.scale, [2.0, 4.0]
    yield "overflow_explorer (overflows)", overflow.scale, [2.0, 40.0]
    temperature = utils.widgets.temperature_explorer(tokens, logits)
    yield "temperature_explorer", temperature.temperature, [0.3, 3.0]
    lab = utils.widgets.sampling_lab(model, context="the cat")
    yield "sampling_lab (top-p)", lab.top_p, [0.5, 0.9]
    yield "sampling_lab (temperature)", lab.temperature, [0.7, 1.5]
    stepper = utils.widgets.beam_search_stepper(model, prefix="the cat", beam_width=2)
    stepper.next_button.click()  # a beam tree to redraw
    stepper.next_button.click()
    yield "beam_search_stepper", stepper.length_penalty, [0.0, 1.5]
    gradient = utils.widgets.gradient_explorer(["cat", "dog", "mat"], [2.0, 1.0, 0.1], 2)
    yield "gradient_explorer", gradient.learning_rate, [0.3, 3.0]


def main() -> bool:
    """Print the table; True when every explorer's median CPU time meets the target."""
    rows, medians = [], {}
    for name, slider, values in _explorers():
        cpu, wall = [], []
        for move in range(MOVES):
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            slider.value = values[move % 2]
            cpu.append(time.process_time() - cpu_start)
            wall.append(time.perf_counter() - wall_start)
        cpu, wall = cpu[1:], wall[1:]  # the first move draws the background
        medians[name] = statistics.median(cpu) * 1e3
        rows.append(
            [
                name,
                slider.description,
                f"{medians[name]:.1f}",
                f"{max(cpu) * 1e3:.1f}",
                f"{statistics.median(wall) * 1e3:.1f}",
            ]
        )
    stepper = utils.widgets.beam_search_stepper(lm.load(), prefix="the cat", beam_width=2)
    cpu, wall = [], []
    for _ in range(MOVES // 3):
        stepper.reset_button.click()
        for _ in range(3):  # steps 1, 2, 3: a new, larger beam tree each time
            cpu_start, wall_start = time.process_time(), time.perf_counter()
            stepper.next_button.click()
            cpu.append(time.process_time() - cpu_start)
            wall.append(time.perf_counter() - wall_start)
    button = statistics.median(cpu) * 1e3
    rows.append(
        [
            "beam_search_stepper (button)",
            "Next step",
            f"{button:.1f}",
            f"{max(cpu) * 1e3:.1f}",
            f"{statistics.median(wall) * 1e3:.1f}",
        ]
    )
    print(
        f"Kernel time of one slider move (callback: state + PNG), in-process with the widget\n"
        f"objects, {MOVES - 1} moves each; target: median CPU time < {TARGET_MS:.0f} ms"
    )
    print_table(["explorer", "slider", "median CPU ms", "max CPU ms", "median wall ms"], rows)
    worst = max(medians, key=medians.get)
    met = medians[worst] < TARGET_MS
    print(
        f"worst median CPU time of a slider move: {medians[worst]:.1f} ms ({worst}); "
        + ("target met" if met else "TARGET MISSED")
        + f"\n(the beam search stepper's sliders restart it; its Next step button computes"
        f" one more step and draws a new tree: {button:.1f} ms)"
    )
    return met


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
