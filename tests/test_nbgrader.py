"""nbgrader interop: a check cell is an nbgrader test cell worth its partial credit.

nbgrader's autograder (`nbgrader.utils.determine_grade`, read in nbgrader
0.9.6) scores a test cell from its outputs, in order: an `error` output or a
stderr stream gives 0; the first `execute_result` gives `float(text/plain)` if
that parses and is between 0 and the cell's points (above: ValueError), full
points with a warning if it does not parse (or is negative); no result at all
gives full points. `NBGRADER_RULE` below is that rule; the tests apply it, and
nbgrader's own function when nbgrader is installed (`pip install -e
".[instructor]"`, which `make bench` does), to check cells executed in a real
kernel with NBGRADER_EXECUTION set. With nbgrader installed, the README's
recipe also runs as written, in a folder outside the repository.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from utils import exercises
from utils.checks import check

ROOT = Path(__file__).resolve().parents[1]
HAS_NBGRADER = importlib.util.find_spec("nbgrader") is not None


def _require_nbgrader() -> None:
    """These tests run the real nbgrader: `make test` installs it (the `instructor` extra)."""
    if not HAS_NBGRADER:
        pytest.fail('nbgrader is not installed: run `make test`, or pip install -e ".[instructor]"')


LOG2_LOGSUMEXP = (
    "def logsumexp(logits, axis=-1):\n"
    "    row_max = np.max(logits, axis=axis, keepdims=True)\n"
    "    sums = np.sum(np.exp(logits - row_max), axis=axis)\n"
    "    return np.squeeze(row_max, axis=axis) + np.log2(sums)\n"
)
WRONG_SCORES_ABOVE = (
    "def scores_above(scores, threshold):\n"
    "    return np.flatnonzero(np.asarray(scores) >= threshold)\n"
)


def nbgrader_rule(cell) -> float:
    """nbgrader 0.9.6's determine_grade for a code test cell (the points it gives)."""
    max_points = float(cell.metadata["nbgrader"]["points"])
    for output in cell.outputs:
        if output.output_type == "error" or (
            output.output_type == "stream" and output.name == "stderr"
        ):
            return 0.0
        if output.output_type == "execute_result":
            try:
                grade = float(output.data["text/plain"])
            except ValueError:
                return max_points  # nbgrader warns: "cannot be converted to a float"
            if grade > max_points:
                raise ValueError("partial credit cannot be greater than maximum points for cell")
            return grade if grade >= 0 else max_points
    return max_points


def test_every_check_cell_is_worth_its_exercise_points():
    """So the credit a check returns never exceeds the cell's points."""
    for path in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            nbgrader = cell.metadata.get("nbgrader", {})
            if nbgrader.get("grade"):
                exercise_id = nbgrader["grade_id"].removesuffix("_check").replace("_", ".", 1)
                spec = exercises.get(exercise_id)
                assert float(nbgrader["points"]) == float(spec.points), (path.name, exercise_id)


def test_check_returns_the_points_as_plain_text_under_nbgrader(monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    namespace: dict = {}
    exec("import numpy as np\n" + WRONG_SCORES_ABOVE, namespace)
    partial = check("00.scores_above", namespace["scores_above"])
    assert 0 < partial.points < 1
    assert repr(partial) == repr(partial.points)
    assert float(repr(partial)) == partial.points
    assert "nbgrader:" in partial._repr_html_()
    assert partial.status == "failed"  # the check's own verdict is still there
    right = check(
        "00.scores_above",
        lambda s, t: __import__("numpy").flatnonzero(__import__("numpy").asarray(s) > t),
    )
    assert repr(right) == "1.0"
    with pytest.raises(AssertionError, match=r"^\[failed\]"):
        check("00.mean_score", 123.0)


def _run_lesson_00(answers: dict[str, str], tmp_path: Path, monkeypatch):
    """Solutions/00 with some answers replaced, executed in a kernel under nbgrader."""
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")  # the kernel inherits it
    notebook = nbformat.read(ROOT / "solutions" / "00_start_here.ipynb", as_version=4)
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    client = NotebookClient(
        notebook,
        kernel_name="next-token-course",
        timeout=120,
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    return {
        cell.metadata["nbgrader"]["grade_id"]: cell
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("grade")
    }


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({}, {"00_mean_score_check": 1.0, "00_scores_above_check": 1.0}),
        (
            {"00_scores_above": "import numpy as np\n" + WRONG_SCORES_ABOVE},
            {"00_mean_score_check": 1.0, "00_scores_above_check": "partial"},
        ),
        (
            {"00_mean_score": "mean_score = 7.0", "00_scores_above": "scores_above = None"},
            {"00_mean_score_check": 0.0, "00_scores_above_check": 0.0},
        ),
    ],
    ids=["correct", "partial", "wrong"],
)
def test_nbgrader_reads_partial_credit_without_warnings(
    answers, expected, tmp_path: Path, monkeypatch, caplog
):
    namespace: dict = {}
    exec("import numpy as np\n" + WRONG_SCORES_ABOVE, namespace)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    partial_points = check("00.scores_above", namespace["scores_above"]).points
    assert 0 < partial_points < 1
    cells = _run_lesson_00(answers, tmp_path, monkeypatch)
    for grade_id, points in expected.items():
        wanted = partial_points if points == "partial" else points
        assert nbgrader_rule(cells[grade_id]) == pytest.approx(wanted), grade_id
    _require_nbgrader()
    from nbgrader.utils import determine_grade

    log = logging.getLogger("nbgrader-test")
    with caplog.at_level(logging.WARNING, logger="nbgrader-test"):
        for grade_id, cell in cells.items():
            assert determine_grade(cell, log)[0] == nbgrader_rule(cell), grade_id
    assert not caplog.records, [record.getMessage() for record in caplog.records]


def _readme_recipe() -> tuple[str, str]:
    """The README's nbgrader commands: (up to generate_assignment, the rest)."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Using `solutions/` with nbgrader", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.DOTALL).group(1)
    before, after = block.split("# collect", 1)
    return before, "# collect" + after


@pytest.mark.slow
def test_readme_nbgrader_recipe_works_outside_the_repository(tmp_path: Path):
    _require_nbgrader()
    before, after = _readme_recipe()
    assert "$COURSE" in before, "the recipe must work in a folder outside the repository"
    course = tmp_path / "nbgrader-course"  # the README's "$HOME/nbgrader-course"
    nbgrader_names = {"source", "release", "submitted", "autograded", "feedback", "course"}
    nbgrader_names |= {"gradebook.db", "grades.csv", "nbgrader_config.py"}
    assert not nbgrader_names & {path.name for path in ROOT.iterdir()}
    environment = {
        **os.environ,
        "HOME": str(tmp_path),
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
    }
    environment.pop("NBGRADER_EXECUTION", None)

    def run(script: str, cwd: Path) -> subprocess.CompletedProcess:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=cwd,
            env=environment,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result

    run(before, ROOT)  # from the repository, as the README says
    (released,) = (course / "release").rglob("*.ipynb")
    assignment = released.parent.name
    stubs = nbformat.read(released, as_version=4)
    answer_sources = [
        c.source for c in stubs.cells if c.metadata.get("nbgrader", {}).get("solution")
    ]
    assert answer_sources
    assert all("raise NotImplementedError()" in source for source in answer_sources)
    assert all("YOUR CODE HERE" in source for source in answer_sources)
    solution = ROOT / "solutions" / released.name
    for student, source in (("ada", solution), ("bob", released)):
        target = course / "submitted" / student / assignment
        target.mkdir(parents=True)
        shutil.copyfile(source, target / released.name)
    # cy answers logsumexp with log2: right on some visible cases, so partial credit.
    partial = nbformat.read(solution, as_version=4)
    for cell in partial.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "02_logsumexp":
            cell.source = LOG2_LOGSUMEXP
    (course / "submitted" / "cy" / assignment).mkdir(parents=True)
    nbformat.write(partial, course / "submitted" / "cy" / assignment / released.name)
    namespace: dict = {}
    exec("import numpy as np\n" + LOG2_LOGSUMEXP, namespace)
    credit = check("02.logsumexp", namespace["logsumexp"]).points
    assert 0 < credit < 2

    graded = run(after, course)
    log = graded.stdout + graded.stderr
    assert "cannot be converted" not in log
    assert "partial credit" not in log, [line for line in log.splitlines() if "WARN" in line]
    grades = (course / "grades.csv").read_text().splitlines()
    header = grades[0].split(",")
    rows = {
        row["student_id"]: row
        for row in (dict(zip(header, line.split(","), strict=True)) for line in grades[1:])
    }
    maximum = float(rows["ada"]["max_score"])
    assert maximum == sum(
        s.points for s in exercises.all_exercises() if s.lesson == assignment[-2:]
    )
    assert float(rows["ada"]["score"]) == maximum
    assert float(rows["bob"]["score"]) == 0.0
    assert float(rows["cy"]["score"]) == pytest.approx(maximum - 2 + credit)
    # Nothing of nbgrader's was left in the repository.
    assert not nbgrader_names & {path.name for path in ROOT.iterdir()}
