"""Re-execute solution notebooks in place so their stored outputs are current.

    python -m tools.refresh_solutions [NAMES...]      (or: make solutions)

Each `solutions/NN_topic.ipynb` runs top to bottom in the course kernel
(`next-token-course`) with `solutions/` as the working folder; errors are
allowed only in cells tagged `raises-exception`. Metadata is reduced the same
way as for student notebooks (kernelspec, language_info name, course; cell
tags and nbgrader), so the stored file is what nbval compares against, and
it is written atomically. The stored outputs are the reference of
`pytest --nbval`: review the diff before committing.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from tools.make_student import (
    ROOT,
    NotebookError,
    minimal_cell_metadata,
    minimal_notebook_metadata,
    notebook_text,
    read_notebook,
    select_sources,
    write_atomically,
)

KERNEL_NAME = "next-token-course"
CELL_TIMEOUT_SECONDS = 120


def execute(notebook, working_dir: Path, kernel_name: str = KERNEL_NAME):
    """Run every cell (in place) and return the notebook with minimal metadata."""
    client = NotebookClient(
        notebook,
        kernel_name=kernel_name,
        timeout=CELL_TIMEOUT_SECONDS,
        resources={"metadata": {"path": str(working_dir)}},
        record_timing=False,
        store_widget_state=False,
        coalesce_streams=True,
    )
    client.execute()
    notebook.metadata = minimal_notebook_metadata(notebook.metadata)
    for cell in notebook.cells:
        cell.metadata = minimal_cell_metadata(cell.metadata)
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.refresh_solutions",
        description="Re-execute solution notebooks in place to store their outputs.",
    )
    parser.add_argument("names", nargs="*", help="lessons to run: 02, 02_overflow_... (all)")
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the course folder (default: this repository)"
    )
    options = parser.parse_args(argv)
    solutions = options.root.resolve() / "solutions"
    try:
        sources = select_sources(solutions, options.names)
        notebooks = [(path, read_notebook(path, f"solutions/{path.name}")) for path in sources]
    except NotebookError as error:
        print(f"refresh_solutions: {error}", file=sys.stderr)
        return 2
    failed = 0
    for path, notebook in notebooks:
        started = time.perf_counter()
        try:
            execute(notebook, solutions)
        except CellExecutionError as error:
            summary = str(error).strip().splitlines()
            print(f"FAILED {path.name}: {summary[-1] if summary else error}", file=sys.stderr)
            failed += 1
            continue
        write_atomically(path, notebook_text(notebook))
        print(f"ran {path.name} in {time.perf_counter() - started:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
