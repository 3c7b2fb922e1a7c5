"""Student notebooks: generated exactly from solutions/, runnable, and safe to regenerate.

(a) `notebooks/` is exactly what `python -m tools.make_student` writes;
(b) every student notebook runs top to bottom: only the stubs raise, only in
    cells tagged `raises-exception`, and every check says "not attempted";
(c) the generator refuses to destroy a learner's work, writes atomically and
    rejects malformed input with a one-line error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tools import make_student
from tools.make_student import FORCE_ADVICE, main, write_atomically

ROOT = Path(__file__).resolve().parents[1]
STUDENT_NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
KERNEL_NAME = "next-token-course"


# --- (a) notebooks/ is generated ------------------------------------------


def test_notebooks_folder_is_exactly_what_make_student_writes(capsys):
    assert STUDENT_NOTEBOOKS, "no student notebooks: run `make student`"
    status = main(["--check"])
    captured = capsys.readouterr()
    assert status == 0, captured.err


# --- (b) every student notebook runs --------------------------------------


def _text_output(cell) -> str:
    for output in cell.get("outputs", []):
        if output.output_type in ("execute_result", "display_data"):
            return output.data.get("text/plain", "")
        if output.output_type == "stream":
            return output.text
    return ""


def _is_check_cell(cell) -> bool:
    return bool(cell.metadata.get("nbgrader", {}).get("grade"))


@pytest.mark.parametrize("path", STUDENT_NOTEBOOKS, ids=[p.stem for p in STUDENT_NOTEBOOKS])
def test_student_notebook_runs_to_the_end(path: Path, tmp_path: Path):
    copy = tmp_path / path.name
    shutil.copyfile(path, copy)
    notebook = nbformat.read(copy, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name=KERNEL_NAME,
        timeout=120,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    # How long each notebook takes is measured by `make bench` (no timings in tests).
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)

    raising = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        tags = cell.metadata.get("tags", [])
        if "raises-exception" in tags:
            assert [e.ename for e in errors] == ["NotImplementedError"], (
                f"{path.name} cell {index} is tagged raises-exception but did not raise the stub"
            )
            assert errors[0].evalue.startswith("Exercise "), errors[0].evalue
            raising.append(index)
        else:
            assert not errors, f"{path.name} cell {index} raised {errors[0].ename}"
        if _is_check_cell(cell):
            text = _text_output(cell)
            assert text.startswith("[not attempted]"), f"{path.name} cell {index}: {text!r}"


# --- (c) the generator on a small course in a temporary folder ------------


def _solution_notebook(title: str = "Test lesson", lesson: str = "01"):
    cells = [
        nbformat.v4.new_markdown_cell(f"# {lesson} · {title}"),
        nbformat.v4.new_code_cell("import numpy as np\nvalues = np.arange(3.0)\nvalues"),
        nbformat.v4.new_code_cell(
            "answer = None\n### BEGIN SOLUTION\nanswer = values.sum()\n### END SOLUTION\nanswer",
            metadata={
                "nbgrader": {
                    "grade_id": f"{lesson}_total",
                    "solution": True,
                    "grade": False,
                    "locked": False,
                    "schema_version": 3,
                },
                "collapsed": False,
                "scrolled": True,
            },
        ),
        nbformat.v4.new_code_cell(
            "def double(x):\n    '''Twice x.'''\n    ### BEGIN SOLUTION\n"
            "    result = 2 * x\n    return result\n    ### END SOLUTION",
            metadata={
                "nbgrader": {
                    "grade_id": f"{lesson}_double",
                    "solution": True,
                    "grade": False,
                    "locked": False,
                    "schema_version": 3,
                },
                "tags": ["keep-me"],
                "execution": {"iopub.status.busy": "2024-01-01T00:00:00Z"},
            },
        ),
    ]
    for cell in cells:
        if cell.cell_type == "code":
            cell.execution_count = 7
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="stored\n")]
    notebook = nbformat.v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {
                "name": KERNEL_NAME,
                "display_name": "Python 3 (next-token course)",
                "language": "python",
            },
            "language_info": {"name": "python", "version": "3.11.9", "mimetype": "text/x-python"},
            "course": {"id": lesson, "title": title, "order": int(lesson)},
            "widgets": {"application/vnd.jupyter.widget-state+json": {}},
            "toc": {"base_numbering": 1},
        },
    )
    for index, cell in enumerate(notebook.cells):
        cell["id"] = f"{lesson}-cell-{index}"
    return notebook


def _course(root: Path, lessons=("01", "02")) -> Path:
    (root / "solutions").mkdir(parents=True)
    for lesson in lessons:
        nbformat.write(
            _solution_notebook(lesson=lesson), root / "solutions" / f"{lesson}_test.ipynb"
        )
    return root


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.invalid", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def _commit_all(root: Path) -> None:
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "course")


@pytest.fixture
def course(tmp_path: Path, monkeypatch) -> Path:
    # Never let git find a repository above the temporary folder.
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    return _course(tmp_path / "course")


def _generate(course: Path, *args: str) -> int:
    return main(["--root", str(course), *args])


def test_generated_notebook_has_stubs_minimal_metadata_and_stable_ids(course: Path, capsys):
    assert _generate(course) == 0
    assert "wrote notebooks/01_test.ipynb" in capsys.readouterr().out
    student = nbformat.read(course / "notebooks" / "01_test.ipynb", as_version=4)
    solution = nbformat.read(course / "solutions" / "01_test.ipynb", as_version=4)

    assert student.metadata == {
        "kernelspec": solution.metadata.kernelspec,
        "language_info": {"name": "python"},
        "course": {"id": "01", "title": "Test lesson", "order": 1},
    }
    assert [c.id for c in student.cells] == [c.id for c in solution.cells]
    value_cell, function_cell = student.cells[2], student.cells[3]
    assert value_cell.source == (
        "answer = None\n"
        'raise NotImplementedError("Exercise 01.total: replace this line with your code")\n'
        "answer"
    )
    assert value_cell.metadata == {
        "nbgrader": solution.cells[2].metadata.nbgrader,
        "tags": ["raises-exception"],
    }
    assert function_cell.source == (
        "def double(x):\n    '''Twice x.'''\n"
        '    raise NotImplementedError("Exercise 01.double: replace this line with your code")'
    )
    assert function_cell.metadata == {
        "nbgrader": solution.cells[3].metadata.nbgrader,
        "tags": ["keep-me"],
    }
    for cell in student.cells:
        if cell.cell_type == "code":
            assert (cell.outputs, cell.execution_count) == ([], None)
    text = (course / "notebooks" / "01_test.ipynb").read_text()
    assert "BEGIN SOLUTION" not in text
    assert "values.sum()" not in text
    assert "2 * x" not in text


def test_the_generated_student_stub_really_raises(course: Path):
    _generate(course)
    student = nbformat.read(course / "notebooks" / "01_test.ipynb", as_version=4)
    namespace: dict = {}
    exec(student.cells[3].source, namespace)
    with pytest.raises(NotImplementedError, match=r"Exercise 01\.double"):
        namespace["double"](1)


def test_generation_is_deterministic_and_idempotent(course: Path, capsys):
    assert _generate(course) == 0
    first = (course / "notebooks" / "01_test.ipynb").read_bytes()
    mtime = (course / "notebooks" / "01_test.ipynb").stat().st_mtime_ns
    capsys.readouterr()
    assert _generate(course) == 0
    assert "up to date (2 notebooks)" in capsys.readouterr().out
    assert (course / "notebooks" / "01_test.ipynb").read_bytes() == first
    assert (course / "notebooks" / "01_test.ipynb").stat().st_mtime_ns == mtime


def _edit_solution(course: Path, lesson: str, new_title: str) -> None:
    path = course / "solutions" / f"{lesson}_test.ipynb"
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[0].source = f"# {lesson} · {new_title}"
    nbformat.write(notebook, path)


def test_refuses_to_overwrite_uncommitted_learner_work(course: Path, capsys):
    _generate(course)
    _commit_all(course)
    learner = course / "notebooks" / "01_test.ipynb"
    other = course / "notebooks" / "02_test.ipynb"
    learner.write_text(learner.read_text().replace("answer = None", "answer = 3.0"))
    work = learner.read_bytes()
    other_before = other.read_bytes()
    _edit_solution(course, "01", "Renamed")
    _edit_solution(course, "02", "Renamed")
    capsys.readouterr()

    assert _generate(course) == 1
    err = capsys.readouterr().err
    assert "notebooks/01_test.ipynb" in err
    assert "notebooks/02_test.ipynb" not in err
    assert FORCE_ADVICE in err
    assert learner.read_bytes() == work
    assert other.read_bytes() == other_before, "nothing at all may be written when refusing"

    assert _generate(course, "--force") == 0
    assert "Renamed" in learner.read_text()
    assert "answer = 3.0" not in learner.read_text()
    assert "Renamed" in other.read_text()


def test_committed_unchanged_notebooks_are_updated_without_force(course: Path):
    _generate(course)
    _commit_all(course)
    _edit_solution(course, "01", "Renamed")
    assert _generate(course) == 0
    assert "Renamed" in (course / "notebooks" / "01_test.ipynb").read_text()


def test_untracked_notebook_that_differs_is_learner_work(course: Path, capsys):
    _commit_all(course)  # solutions committed, notebooks/ never generated
    target = course / "notebooks" / "01_test.ipynb"
    target.parent.mkdir()
    target.write_text('{"my": "work"}')
    assert _generate(course) == 1
    assert "notebooks/01_test.ipynb" in capsys.readouterr().err
    assert target.read_text() == '{"my": "work"}'
    assert not (course / "notebooks" / "02_test.ipynb").exists()


def test_outside_git_any_different_file_is_learner_work(course: Path, capsys):
    _generate(course)
    target = course / "notebooks" / "02_test.ipynb"
    target.write_text(target.read_text() + " ")
    _edit_solution(course, "01", "Renamed")
    assert _generate(course) == 1
    assert "notebooks/02_test.ipynb" in capsys.readouterr().err
    assert "Renamed" not in (course / "notebooks" / "01_test.ipynb").read_text()


def test_check_mode_reports_and_writes_nothing(course: Path, capsys):
    assert _generate(course, "--check") == 1
    assert "out of date: notebooks/01_test.ipynb" in capsys.readouterr().err
    assert not (course / "notebooks").exists()
    _generate(course)
    assert _generate(course, "--check") == 0
    _edit_solution(course, "02", "Renamed")
    (course / "notebooks" / "03_orphan.ipynb").write_text("{}")
    assert _generate(course, "--check") == 1
    err = capsys.readouterr().err
    assert "out of date: notebooks/02_test.ipynb" in err
    assert "no solution for: notebooks/03_orphan.ipynb" in err
    assert "out of date: notebooks/01_test.ipynb" not in err


def test_names_select_notebooks(course: Path, capsys):
    assert _generate(course, "02") == 0
    assert sorted(p.name for p in (course / "notebooks").iterdir()) == ["02_test.ipynb"]
    assert _generate(course, "01_test") == 0
    assert _generate(course, "05") == 2
    assert "no solution notebook named '05'; available: 01_test, 02_test" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "solutions/01_test.ipynb: not valid JSON"),
        ("[1, 2, 3]", "solutions/01_test.ipynb: valid JSON but not a Jupyter notebook"),
        ('{"cells": [], "nbformat": 4}', "solutions/01_test.ipynb: not a valid notebook"),
    ],
)
def test_malformed_notebooks_exit_2_and_write_nothing(course: Path, capsys, content, message):
    (course / "solutions" / "01_test.ipynb").write_text(content)
    assert _generate(course) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"make_student: {message}")
    assert err.count("\n") == 1
    assert not (course / "notebooks").exists()


@pytest.mark.parametrize(
    ("cell_type", "source", "message"),
    [
        ("code", "x = 1\n### END SOLUTION", "cell 2: ### END SOLUTION on line 2 without a BEGIN"),
        (
            "code",
            "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION",
            "cell 2: nested ### BEGIN SOLUTION on line 2",
        ),
        ("code", "### BEGIN SOLUTION\nx = 1", "cell 2: ### BEGIN SOLUTION on line 1 is never"),
        ("code", "answer = values.sum()", "cell 2 is an nbgrader solution cell without"),
        ("markdown", "### BEGIN SOLUTION\nx\n### END SOLUTION", "cell 2 is a markdown cell"),
    ],
)
def test_bad_solution_regions_name_notebook_and_cell(
    course: Path, capsys, cell_type, source, message
):
    path = course / "solutions" / "01_test.ipynb"
    notebook = nbformat.read(path, as_version=4)
    old = notebook.cells[2]
    new = (
        nbformat.v4.new_code_cell(source, metadata=old.metadata)
        if cell_type == "code"
        else nbformat.v4.new_markdown_cell(source)
    )
    new["id"] = old.id
    notebook.cells[2] = new
    nbformat.write(notebook, path)
    assert _generate(course) == 2
    assert f"solutions/01_test.ipynb {message}" in capsys.readouterr().err
    assert not (course / "notebooks").exists()


def test_region_without_grade_id_is_an_error(course: Path, capsys):
    path = course / "solutions" / "01_test.ipynb"
    notebook = nbformat.read(path, as_version=4)
    del notebook.cells[3].metadata["nbgrader"]
    nbformat.write(notebook, path)
    assert _generate(course) == 2
    assert "cell 3 has a solution region but no nbgrader grade_id" in capsys.readouterr().err


def test_atomic_write_leaves_no_partial_file(tmp_path: Path, monkeypatch):
    target = tmp_path / "00_x.ipynb"
    target.write_text("learner work")
    target.chmod(0o640)

    def failing_replace(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr(make_student.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, "new content")
    assert target.read_text() == "learner work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["00_x.ipynb"]

    monkeypatch.undo()
    write_atomically(target, "new content")
    assert target.read_text() == "new content"
    assert target.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["00_x.ipynb"]


def test_write_failure_is_reported_with_exit_2(course: Path, capsys, monkeypatch):
    def failing_fsync(descriptor):
        raise OSError("I/O error")

    monkeypatch.setattr(make_student.os, "fsync", failing_fsync)
    assert _generate(course) == 2
    assert "could not write notebooks/01_test.ipynb: I/O error" in capsys.readouterr().err
    assert [p.name for p in (course / "notebooks").iterdir()] == []


def test_command_line_entry_point(course: Path):
    result = subprocess.run(
        [sys.executable, "-m", "tools.make_student", "--root", str(course)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads((course / "notebooks" / "01_test.ipynb").read_text())["nbformat"] == 4
