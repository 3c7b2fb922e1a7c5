"""Finding submissions and reading them: who submitted what, for which lesson.

The student is the first folder below SUBMISSIONS (or the file's stem for a
notebook lying directly in it). The lesson comes from the notebook's own
metadata (`metadata.course.id`), or else from its nbgrader cell ids; never
from the file name alone, so a renamed notebook is graded as what it is.

>>> student_and_notebook(Path("class"), Path("class/alice/hw/02.ipynb"))
('alice', 'hw/02.ipynb')
>>> student_and_notebook(Path("class"), Path("class/bob.ipynb"))
('bob', 'bob.ipynb')
"""

from __future__ import annotations

import ast
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Submission", "find_notebooks", "read_submission", "student_and_notebook"]

MAX_NOTEBOOK_BYTES = 50 * 2**20


@dataclass(frozen=True)
class Submission:
    """One notebook: whose, which lesson, its code cells, or why it cannot be graded.

    `cells` holds (cell number, Python source) pairs, numbered from 1 over all
    cells as Jupyter shows them; magics and `!commands` are already converted.
    """

    student: str
    notebook: str
    path: Path
    lesson: str | None
    cells: tuple[tuple[int, str], ...] = ()
    problem: str | None = None

    @property
    def stem(self) -> str:
        """The notebook's path without `.ipynb`: names its feedback file."""
        return self.notebook[: -len(".ipynb")]


def find_notebooks(root: Path, skip: tuple[Path, ...] = ()) -> list[Path]:
    """Every `*.ipynb` below `root`, sorted; hidden folders (checkpoints) and `skip` left out."""
    skipped = {os.path.realpath(path) for path in skip}
    found = []
    for directory, folders, files in os.walk(root):
        folders[:] = sorted(
            name
            for name in folders
            if not name.startswith(".")
            and os.path.realpath(os.path.join(directory, name)) not in skipped
        )
        found.extend(
            Path(directory, name)
            for name in files
            if name.endswith(".ipynb") and not name.startswith(".")
        )
    return sorted(found, key=lambda path: path.relative_to(root).parts)


def student_and_notebook(root: Path, path: Path) -> tuple[str, str]:
    """(student, notebook path inside the student's folder, with "/" separators)."""
    parts = path.relative_to(root).parts
    if len(parts) == 1:
        return path.stem, parts[0]
    return parts[0], "/".join(parts[1:])


def _cell_source(cell) -> str | None:
    source = cell.get("source") if isinstance(cell, dict) else None
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    return None


def _lesson_from_metadata(notebook: dict) -> str | None:
    metadata = notebook.get("metadata")
    course = metadata.get("course") if isinstance(metadata, dict) else None
    lesson = course.get("id") if isinstance(course, dict) else None
    if isinstance(lesson, int) and not isinstance(lesson, bool) and 0 <= lesson < 100:
        return f"{lesson:02d}"
    if isinstance(lesson, str) and len(lesson) == 2 and lesson.isdigit():
        return lesson
    return None


def _lesson_from_grade_ids(cells: list, grade_ids: dict[str, str]) -> str | None:
    votes = Counter()
    for cell in cells:
        metadata = cell.get("metadata") if isinstance(cell, dict) else None
        nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
        grade_id = nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
        if isinstance(grade_id, str) and grade_id in grade_ids:
            votes[grade_ids[grade_id]] += 1
    if not votes:
        return None
    best = max(votes.values())
    return min(lesson for lesson, count in votes.items() if count == best)


def _to_python(source: str) -> str:
    """IPython syntax (magics, `!shell`) as plain Python, as Jupyter would run it."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(source)
    except Exception:  # leave it: compiling it in the child reports the syntax error
        return source


# Cells that only display a course widget (an explorer, a quiz) are skipped:
# they define nothing an answer can use, and drawing their charts would
# double the time of a lesson's run in the grader.
_DISPLAY_ONLY_PREFIXES = ("utils.widgets.", "utils.quiz(", "utils.numeric_quiz(")


def is_display_only(source: str) -> bool:
    """True for a cell that is one call of a course widget builder, e.g.
    ``utils.widgets.quiz(...)``: a single expression that assigns nothing."""
    try:
        body = ast.parse(source).body
    except (SyntaxError, ValueError):
        return False
    if len(body) != 1 or not isinstance(body[0], ast.Expr):
        return False
    call = body[0].value
    if not isinstance(call, ast.Call):
        return False
    name = ast.unparse(call.func) + "("
    return name.startswith(_DISPLAY_ONLY_PREFIXES) and not any(
        isinstance(node, ast.NamedExpr | ast.Lambda) for node in ast.walk(call)
    )


def read_submission(
    root: Path, path: Path, lessons: set[str], grade_ids: dict[str, str]
) -> Submission:
    """Parse one file; `problem` says why it is `invalid` when it cannot be graded.

    `lessons` are the lessons that have exercises; `grade_ids` maps nbgrader
    cell ids ("02_logsumexp", "02_logsumexp_check") to their lesson.
    """
    student, notebook = student_and_notebook(root, path)

    def invalid(problem: str, lesson: str | None = None) -> Submission:
        return Submission(student, notebook, path, lesson, problem=problem)

    try:
        size = path.stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            return invalid(f"the file is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
        data = path.read_bytes()
    except OSError as error:
        return invalid(f"the file cannot be read ({error.strerror})")
    if not data.strip():
        return invalid("the file is empty: it is not a notebook")
    try:
        content = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        return invalid("the file is not text (not UTF-8): it is not a notebook")
    except json.JSONDecodeError as error:
        return invalid(
            f"the file is not valid JSON (line {error.lineno}, column {error.colno}): "
            "it is not a Jupyter notebook, or it was damaged; save it again from Jupyter"
        )
    except (ValueError, RecursionError):
        return invalid("the file is not valid JSON: it is not a Jupyter notebook")
    if not isinstance(content, dict) or not isinstance(content.get("cells"), list):
        return invalid("the file is JSON but not a Jupyter notebook (it has no list of cells)")
    version = content.get("nbformat")
    if version != 4:
        return invalid(
            f"the notebook has format version {version!r}; open it in Jupyter and save it "
            "again (version 4)"
        )
    cells = content["cells"]
    lesson = _lesson_from_metadata(content)
    if lesson not in lessons:
        lesson = _lesson_from_grade_ids(cells, grade_ids) or lesson
    if lesson is None:
        return invalid(
            "cannot tell which lesson this notebook is: its metadata has no course id and "
            "none of its cells carries a lesson's nbgrader id; start from the course's "
            "notebooks/ folder"
        )
    if lesson not in lessons:
        return invalid(f"lesson {lesson} has no graded exercises (unknown lesson)")
    code = []
    for number, cell in enumerate(cells, start=1):
        source = _cell_source(cell)
        if source is None or cell.get("cell_type") not in ("code", "markdown", "raw"):
            return invalid(
                f"the notebook is damaged: cell {number} has no valid cell_type or source",
                lesson,
            )
        if cell["cell_type"] == "code" and source.strip():
            python = _to_python(source)
            if not is_display_only(python):
                code.append((number, python))
    return Submission(student, notebook, path, lesson, tuple(code))
