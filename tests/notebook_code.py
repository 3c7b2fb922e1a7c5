"""The code a solution notebook defines, loaded into a namespace for tests."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import nbformat
import numpy as np

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"


@functools.cache
def solution_namespace(notebook_name: str) -> dict:
    """The notebook's import cell and every function its code cells define, run here.

    Of the other cells only the `def` statements run (not the cells' other lines),
    so the namespace holds the notebook's own solutions, helpers and buggy
    functions (lesson 08), as written.
    """
    notebook = nbformat.read(SOLUTIONS / notebook_name, as_version=4)
    cells = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    namespace: dict = {}
    with np.printoptions():  # the notebook sets print options; keep them out of the tests
        exec(compile(cells[0], f"{notebook_name}:imports", "exec"), namespace)
        for index, source in enumerate(cells[1:], start=1):
            tree = ast.parse(source)
            tree.body = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
            exec(compile(tree, f"{notebook_name}:cell{index}", "exec"), namespace)
    return namespace
