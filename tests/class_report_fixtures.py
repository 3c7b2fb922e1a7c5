"""A small class of lesson 02, graded for real, for the class report's tests.

Shared by tests/test_class_report.py, tests/test_lms.py and the browser test
(tests/browser/test_report.py): right, untouched and wrong answers (two
students forget to add the maximum back in log-sum-exp, one uses log2), a
syntax error, and students whose folder names and exception messages carry
HTML and JavaScript.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
LESSON_FILE = "02_overflow_and_logsumexp.ipynb"
SEED = "class-report-tests"
HOSTILE_NAMES = ('<img src=x onerror="alert(1)">', "\"'><script>alert(2)<\\script>")
HOSTILE_MESSAGE = "<script>alert(3)</script>"

FORGOT_THE_MAXIMUM = (
    "def logsumexp(logits, axis=-1):\n"
    "    row_max = np.max(logits, axis=axis, keepdims=True)\n"
    "    return np.log(np.sum(np.exp(logits - row_max), axis=axis))\n"
)
LOG2 = (
    "def logsumexp(logits, axis=-1):\n"
    "    row_max = np.max(logits, axis=axis, keepdims=True)\n"
    "    sums = np.sum(np.exp(logits - row_max), axis=axis)\n"
    "    return np.squeeze(row_max, axis=axis) + np.log2(sums)\n"
)
RAISES_HOSTILE = f"def logsumexp(logits, axis=-1):\n    raise ValueError({HOSTILE_MESSAGE!r})\n"
SYNTAX_ERROR = (
    "def logsumexp(logits, axis=-1):\n    return np.log(np.sum(np.exp(logits)), axis=axis\n"
)


def _notebook(folder: str):
    return nbformat.read(ROOT / folder / LESSON_FILE, as_version=4)


def _with(source: str, grade_id: str = "02_logsumexp"):
    notebook = _notebook("solutions")
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = source
            return notebook
    raise LookupError(grade_id)


def class_notebooks() -> dict[str, object]:
    """student folder -> notebook."""
    return {
        "ada": _notebook("solutions"),
        "bob": _notebook("notebooks"),
        "cy": _with(FORGOT_THE_MAXIMUM),
        "dee": _with(FORGOT_THE_MAXIMUM),
        "eli": _with(LOG2),
        "fay": _with(SYNTAX_ERROR),
        HOSTILE_NAMES[0]: _with(RAISES_HOSTILE),
        HOSTILE_NAMES[1]: _with(FORGOT_THE_MAXIMUM),
    }


def write_class(submissions: Path, only: tuple[str, ...] = ()) -> list[str]:
    students = {k: v for k, v in class_notebooks().items() if not only or k in only}
    for student, notebook in students.items():
        (submissions / student).mkdir(parents=True)
        nbformat.write(notebook, submissions / student / LESSON_FILE)
    return sorted(students)


def copy_course(destination: Path) -> Path:
    """The course's utils package (the grader reads the course it is run from)."""
    shutil.copytree(
        ROOT / "utils", destination / "utils", ignore=shutil.ignore_patterns("__pycache__")
    )
    return destination


def run_grader(course: Path, *arguments) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "COURSE_GRADING_SEED"}
    return subprocess.run(
        [sys.executable, "-m", "utils.grading", *map(str, arguments)],
        cwd=course,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def grade_class(base: Path, *extra: str, only: tuple[str, ...] = (), out: str = "out") -> Path:
    """Grade the class below `base` (all students, or `only` these); returns the output
    folder. Calls again with the same `base` grade the same submissions."""
    course = base / "course"
    if not course.exists():
        copy_course(course)
    submissions, out_folder = base / "submissions", base / out
    if not submissions.exists():
        write_class(submissions, only)
    result = run_grader(
        course,
        submissions,
        "--out",
        out_folder,
        "--jobs",
        2,
        "--seed",
        SEED,
        "--timeout",
        120,
        *extra,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return out_folder
