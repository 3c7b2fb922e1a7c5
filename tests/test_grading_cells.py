"""Cells graded for what they did: one class of notebooks whose cells loop, ignore or
swallow the interrupt, fork, exit, flood their output, fail to parse or raise, forge
the grader's cell messages, or call the course's own implementation, graded once
under the real sandbox with a short per-cell limit.

Each looping or exiting cell costs the notebook only that cell: the exercises whose
cells ran keep their grades (as nbgrader's interrupt-and-go-on gives), the answer's
own cell failing is `error`/`timeout` with the cell in grades.csv, and forging the
cell messages gains nothing.
"""

from __future__ import annotations

import csv
import dataclasses

import grading_fixtures as fx
import nbformat
import pytest
from test_grading import copy_course, run_grader

from utils.grading._grade import Row, _flagged
from utils.grading._sandbox import ChildRun

SEED = "cells-seed-31337"
CELL_TIMEOUT = 1.5
TIMEOUT = 20
LESSON_FILE = fx.lesson_path("solutions", fx.LESSON).name
MEAN, ABOVE = "00.mean_score", "00.scores_above"
ABOVE_ID = "00_scores_above"
GOOD_ABOVE = "def scores_above(scores, threshold):\n    return np.flatnonzero(scores > threshold)\n"

FORGE = """\
import json, os, struct, sys, time
def frame(header):
    text = json.dumps({**header, "arrays": []}).encode()
    return b"NTG1" + struct.pack(">IQ", len(text), 0) + text
def forge(header):
    try:
        os.write(int(sys.argv[2]), frame(header))
    except OSError:
        pass
"""


def untagged_answer(source: str):
    """The answer cell with `source` and without its nbgrader metadata (moved, retyped)."""
    notebook = fx.set_answer(fx.correct(), ABOVE_ID, source)
    notebook.cells[fx._index(notebook, ABOVE_ID)].metadata = {}
    return notebook


STUCK = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n"


PATCH_RUNNER = """\
import sys
_m = sys.modules["__main__"]
if hasattr(_m, "_run_exercise"):
    _orig = _m._run_exercise
    def _patched(task, arrays, namespace, tools):
        spec = tools["specs"][task["id"]]
        answer = spec.reference() if spec.kind == "value" else spec.reference
        namespace[task["answer_name"]] = answer
        return _orig(task, arrays, namespace, tools)
    _m._run_exercise = _patched
"""


def after_cell(notebook, cell_id: str, *sources: str):
    """New code cells right after the cell with that id."""
    position = next(i for i, cell in enumerate(notebook.cells) if cell.get("id") == cell_id) + 1
    for offset, source in enumerate(sources):
        notebook.cells.insert(position + offset, nbformat.v4.new_code_cell(source))
    return notebook


# Legal work: cells within the per-cell limit that together take most of --timeout.
SLOW = "import time\ntime.sleep(1.2)\n"
SWALLOW = (
    "while True:\n    try:\n        while True:\n            pass\n    except:\n        pass\n"
)


def notebooks() -> dict:
    return {
        # Its answer cell never stops and carries no nbgrader id: found by its `def`
        # (read before any cell ran), left out, and named in the row.
        "stuck_untagged": untagged_answer(STUCK + GOOD_ABOVE),
        "honest": fx.correct(),
        "loop_first": fx.after_imports(fx.correct(), "while True:\n    pass\n"),
        "loop_after_def": fx.set_answer(
            fx.correct(), ABOVE_ID, GOOD_ABOVE + "while True:\n    pass\n"
        ),
        "loop_before_def": fx.set_answer(
            fx.correct(), ABOVE_ID, "while True:\n    pass\n" + GOOD_ABOVE
        ),
        "ignores_sigint": fx.after_imports(
            fx.correct(),
            "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n",
        ),
        "swallows_interrupts": fx.at_end(
            fx.correct(),
            "while True:\n    try:\n        while True:\n            pass\n"
            "    except BaseException:\n        pass\n",
        ),
        "forks": fx.after_imports(
            fx.correct(), "import os\nif os.fork() == 0:\n    while True:\n        pass\n"
        ),
        "floods": fx.after_imports(fx.correct(), "while True:\n    print('x' * 100_000)\n"),
        "os_exit": fx.after_imports(fx.correct(), "import os\nos._exit(7)\n"),
        "sys_exit_in_answer": fx.set_answer(
            fx.correct(), ABOVE_ID, "import sys\nsys.exit(0)\n" + GOOD_ABOVE
        ),
        "syntax_error": fx.set_answer(
            fx.correct(), ABOVE_ID, "def scores_above(scores, threshold)\n    return scores\n"
        ),
        "raises": fx.set_answer(
            fx.correct(), ABOVE_ID, "import numpy\nnumpy.zeros(3).reshape(2)\n" + GOOD_ABOVE
        ),
        # A loop that keeps telling the grader a new cell started, to escape the
        # per-cell limit: it runs into the notebook limit instead.
        "forges_cell_starts": fx.after_imports(
            fx.correct(),
            FORGE + "n = 100\nwhile True:\n    n += 1\n    forge({'kind': 'cell', 'cell': n})\n"
            "    time.sleep(0.3)\n",
        ),
        # Claims the cells are over while they are not: invalid, never points.
        "forges_cells_done": fx.after_imports(
            fx.correct(), FORGE + "forge({'kind': 'cells', 'problems': []})\n"
        ),
        # Red team 01:49: an untouched notebook patching the runner through the child's
        # module, or reaching it through a frame: not graded.
        "patches_runner": fx.after_imports(fx.untouched(), PATCH_RUNNER),
        "walks_frames": fx.after_imports(
            fx.untouched(), "import sys\nrunner = sys._getframe(1).f_globals\n"
        ),
        # Red team 01:49: several cells that ignore the interrupt, after the answers: no
        # time for a rerun per cell, so a last run stops before them.
        "many_stuck": fx.at_end(fx.correct(), STUCK, STUCK, STUCK, STUCK),
        # CI 2026-12-02: the last run kept the per-cell limit shrunk for reruns (below 1 s,
        # negative on a loaded machine) and interrupted the cells it kept. An answer cell
        # that takes a second, within --cell-timeout, must still define its answer there.
        "slow_answer_many_stuck": fx.at_end(
            fx.set_answer(fx.correct(), ABOVE_ID, "import time\ntime.sleep(1.0)\n" + GOOD_ABOVE),
            STUCK,
            STUCK,
            STUCK,
            STUCK,
        ),
        # Red team 05:25: after legal work that leaves no time for a rerun, a cell that
        # ignores the interrupt (or swallows it with a bare `except`) is stopped where it
        # is and the answers before it are graded, rather than nothing.
        "slow_then_stuck": fx.at_end(fx.after_imports(fx.correct(), *[SLOW] * 7), STUCK),
        "slow_then_swallows": fx.at_end(fx.after_imports(fx.correct(), *[SLOW] * 7), SWALLOW),
        # ... and a stuck cell between the answers, where a rerun fits, is left out and the
        # answer after it graded (the rerun had been given a per-cell limit of < 0 s).
        "slow_stuck_between": after_cell(
            fx.after_imports(fx.correct(), *[SLOW] * 3), "check-mean-score", STUCK
        ),
        # A forked child that leaves its branch ends at the end of its cell; it does not
        # run (or report) the notebook's later cells.
        "fork_child_raises": fx.after_imports(
            fx.correct(), "import os\nif os.fork() == 0:\n    raise ValueError('in the child')\n"
        ),
        "fork_child_returns": fx.after_imports(fx.correct(), "import os\npid = os.fork()\n"),
        "raises_after_def": fx.set_answer(
            fx.correct(), ABOVE_ID, GOOD_ABOVE + "raise ValueError('after the def')\n"
        ),
        "own_implementation": fx.set_answer(
            fx.correct(),
            ABOVE_ID,
            "from utils.exercises import lesson00 as course\n"
            "def scores_above(scores, threshold):\n"
            "    return course.scores_above(scores, threshold)\n",
        ),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("cells")
    course = copy_course(base / "course")
    submissions, out = base / "submissions", base / "out"
    for student, notebook in notebooks().items():
        fx.write(notebook, submissions / student / LESSON_FILE)
    result = run_grader(
        course,
        submissions,
        "--out",
        out,
        "--jobs",
        2,
        "--timeout",
        TIMEOUT,
        "--cell-timeout",
        CELL_TIMEOUT,
        "--seed",
        SEED,
        "--memory-mb",
        1024,
    )
    assert result.returncode == 0, result.stderr
    with open(out / "grades.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    by_student: dict[str, dict[str, dict]] = {}
    for row in rows:
        by_student.setdefault(row["student"], {})[row["exercise"]] = row
    return {"out": out, "rows": by_student, "result": result}


def feedback(graded, student: str) -> str:
    return (graded["out"] / "feedback" / student / LESSON_FILE.replace(".ipynb", ".md")).read_text()


def full(row) -> bool:
    return row["status"] == "passed" and float(row["points"]) == float(row["max_points"])


@pytest.mark.parametrize(
    "student",
    [
        "loop_first",
        "loop_after_def",
        "ignores_sigint",
        "swallows_interrupts",
        "many_stuck",
        "slow_answer_many_stuck",
        "slow_then_stuck",
        "slow_then_swallows",
        "slow_stuck_between",
        "fork_child_raises",
        "fork_child_returns",
        "forks",
        "floods",
        "os_exit",
    ],
)
def test_a_cell_that_loops_or_exits_costs_nothing_else(graded, student):
    """Interrupted (or left out and the notebook rerun without it), then the next cells
    run: every exercise whose cells ran keeps its full points."""
    rows = graded["rows"][student]
    said = {name: (row["status"], row["points"], row["message"]) for name, row in rows.items()}
    assert all(full(row) for row in rows.values()), said
    assert graded["rows"]["honest"].keys() == rows.keys()


@pytest.mark.parametrize(
    ("student", "said"),
    [
        ("loop_first", "was interrupted; the next cells ran"),
        ("floods", "was interrupted; the next cells ran"),
        ("ignores_sigint", "did not stop when interrupted; the notebook was run again without it"),
        ("swallows_interrupts", "did not stop when interrupted"),
        ("os_exit", "ended the notebook's process (it exited with code 7); the notebook was run"),
    ],
)
def test_the_feedback_names_the_cell_and_what_the_grader_did(graded, student, said):
    text = " ".join(feedback(graded, student).replace("\\", "").split())
    assert "Cells the grader stopped" in text
    assert said in text, text
    assert f"--cell-timeout {CELL_TIMEOUT:g} s" in text or "ended" in said


@pytest.mark.parametrize("student", ["slow_then_stuck", "slow_then_swallows"])
def test_a_cell_stopped_where_it_was_is_said_so_and_not_as_a_rerun(graded, student):
    text = " ".join(feedback(graded, student).replace("\\", "").split())
    assert (
        "did not stop when interrupted, and no time was left within the notebook time limit "
        f"(--timeout {TIMEOUT:g} s) to run the notebook again without it: the cells were "
        "stopped there and no later cell ran"
    ) in text, text
    assert "the notebook was run again without it" not in text
    assert "was interrupted; the next cells ran" not in text


@pytest.mark.parametrize("student", ["loop_before_def", "stuck_untagged"])
def test_a_loop_before_the_answer_is_defined_times_out_that_exercise_only(graded, student):
    rows = graded["rows"][student]
    assert full(rows[MEAN])
    row = rows[ABOVE]
    assert (row["status"], float(row["points"])) == ("timeout", 0.0), row
    assert row["cell"].startswith("cell ")
    assert row["cell"] in row["message"]
    assert "per-cell time limit" in row["message"]


@pytest.mark.parametrize(
    ("student", "error"),
    [
        ("syntax_error", "SyntaxError"),
        ("raises", "ValueError"),
        ("sys_exit_in_answer", "SystemExit"),
    ],
)
def test_an_answer_cell_that_fails_is_an_error_with_its_cell(graded, student, error):
    rows = graded["rows"][student]
    assert full(rows[MEAN])
    row = rows[ABOVE]
    assert (row["status"], float(row["points"])) == ("error", 0.0), row
    assert row["status"] != "not_attempted"
    assert error in row["message"]
    assert "scores_above" in row["message"]
    assert row["cell"].startswith("cell ")
    assert "(id " in row["cell"]
    assert row["cell"] in row["message"]
    assert error in feedback(graded, student)


def test_forging_cell_starts_only_runs_into_the_notebook_limit(graded):
    for row in graded["rows"]["forges_cell_starts"].values():
        assert float(row["points"]) == 0.0, row
        assert row["status"] in ("timeout", "invalid"), row


def test_forging_the_end_of_the_cells_makes_the_submission_invalid(graded):
    for row in graded["rows"]["forges_cells_done"].values():
        assert (row["status"], float(row["points"])) == ("invalid", 0.0), row


def test_an_own_implementation_call_is_flagged_with_its_points_kept(graded):
    rows = graded["rows"]["own_implementation"]
    assert full(rows[MEAN])
    row = rows[ABOVE]
    assert row["status"] == "flagged", row
    assert float(row["points"]) == float(row["max_points"])
    assert "utils.exercises.lesson00" in row["message"]
    assert "own implementation" in feedback(graded, "own_implementation")
    with open(graded["out"] / "rows.jsonl", encoding="utf-8") as file:
        line = next(line for line in file if '"own_implementation"' in line and ABOVE in line)
    assert '"checked_status":"passed"' in line
    assert '"own_calls":["utils.exercises' in line


def test_own_implementation_zero_gives_no_points_and_flag_keeps_them():
    row = Row("s", "n.ipynb", ABOVE, 1.0, 1.0, "passed", "10/10 cases passed.", lesson="00")
    run = ChildRun(analysis=[{"cells": [], "own_calls": []}, {"cells": [3], "own_calls": ["u.f"]}])
    kept, zeroed = _flagged(row, run, 1, "flag"), _flagged(row, run, 1, "zero")
    for flagged in (kept, zeroed):
        assert (flagged.status, flagged.checked_status, flagged.own_calls) == (
            "flagged",
            "passed",
            ("u.f",),
        )
        assert "u.f" in flagged.message
        assert "10/10 cases passed." in flagged.message
    assert (kept.points, zeroed.points) == (1.0, 0.0)
    assert _flagged(row, run, 0, "zero") == row  # nothing found: nothing changes
    not_attempted = dataclasses.replace(row, status="not_attempted", points=0.0)
    assert _flagged(not_attempted, run, 1, "flag") == not_attempted


@pytest.mark.parametrize("student", ["patches_runner", "walks_frames"])
def test_a_notebook_that_reaches_into_the_grader_earns_nothing(graded, student):
    for row in graded["rows"][student].values():
        assert (row["status"], float(row["points"])) == ("invalid", 0.0), row
        assert "reaches into the grading process" in row["message"]


def test_an_answer_cell_that_raises_after_the_def_is_graded_with_the_error_named(graded):
    """Red team 02:01: graded on what it defined (nbgrader would give the points too),
    the cell and its error beside the grade, in the message and the cell column."""
    row = graded["rows"]["raises_after_def"][ABOVE]
    assert full(row), row
    assert row["cell"].startswith("cell ")
    assert "ValueError: after the def" in row["message"]
    assert row["cell"] in row["message"]
