"""Benchmark the lessons: how long each notebook takes to run top to bottom.

Each student notebook (notebooks/) and solution notebook (solutions/) is run
in the course kernel from a copy in a temporary folder, the way a learner
runs "Restart and run all". Reported: the kernel's CPU time for the cells
(`time.process_time` in the kernel, all its threads: the notebook's own work,
whatever else the machine runs; the target applies to it), the wall time of
the cells (what the learner waits for; on a machine shared with other busy
processes it also counts waiting for a core), and the kernel's start-up
apart. Target: a few seconds per notebook, `TARGET_SECONDS`. Student
notebooks stop at no stub: cells tagged `raises-exception` may raise.
Two notebooks run at a time (`WORKERS`, one kernel per core of a 2-core
machine): it halves the bench's time and leaves each kernel's CPU time as
it is (a kernel is single-threaded but for BLAS, which the lessons barely use).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from bench.common import print_table

ROOT = Path(__file__).resolve().parents[1]
KERNEL_NAME = "next-token-course"
TARGET_SECONDS = 5.0
WORKERS = 2


def _kernel_cpu_seconds(client: NotebookClient) -> float:
    cell = nbformat.v4.new_code_cell("import time as _t\nprint(_t.process_time())")
    client.execute_cell(cell, 0)
    return float(cell.outputs[0].text)


def run_seconds(path: Path) -> tuple[float, float, float]:
    """(kernel start-up, wall, kernel CPU) seconds to run every cell of the notebook at `path`."""
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / path.name
        shutil.copyfile(path, copy)
        notebook = nbformat.read(copy, as_version=4)
        client = NotebookClient(
            notebook, kernel_name=KERNEL_NAME, timeout=300, resources={"metadata": {"path": folder}}
        )
        begin = time.perf_counter()
        with client.setup_kernel():
            cpu_before = _kernel_cpu_seconds(client)
            started = time.perf_counter()
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index)
            finished = time.perf_counter()
            cpu = _kernel_cpu_seconds(client) - cpu_before
    return started - begin, finished - started, cpu


def main() -> bool:
    rows, slowest = [], (0.0, "")
    paths = [
        path
        for folder in ("notebooks", "solutions")
        for path in sorted((ROOT / folder).glob("[0-9][0-9]_*.ipynb"))
    ]
    with ProcessPoolExecutor(WORKERS) as pool:
        for path, (start_up, wall, cpu) in zip(paths, pool.map(run_seconds, paths), strict=True):
            name = f"{path.parent.name}/{path.name}"
            slowest = max(slowest, (cpu, name))
            rows.append([name, f"{cpu:.2f}", f"{wall:.2f}", f"{start_up:.2f}"])
    print(
        "Seconds to run each notebook's cells top to bottom in the course kernel "
        f"(target: kernel CPU time < {TARGET_SECONDS:g} s each; kernel start-up apart)"
    )
    print_table(["notebook", "kernel CPU s", "wall s", "kernel start s"], rows)
    met = slowest[0] < TARGET_SECONDS
    verdict = "target met" if met else "TARGET MISSED"
    print(f"slowest notebook (kernel CPU): {slowest[1]} {slowest[0]:.2f} s; {verdict}")
    return met


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
