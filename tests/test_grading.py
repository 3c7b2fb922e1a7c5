"""The instructor's grader, end to end: a whole class of honest, broken and hostile
submissions graded in one run, and the guarantees around it.

Fixtures come from the course's own notebooks (see grading_fixtures.py). The
grader runs as a separate process on a private copy of the `utils` package,
so a submission that tried to rewrite the course could only ever damage the
copy; the tests then check that it did not (or, where the grader cannot
prevent it, that it noticed).
"""

from __future__ import annotations

import csv
import hashlib
import html
import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import grading_fixtures as fx
import numpy as np
import pytest

from utils import exercises
from utils.checks import CaseOutcome
from utils.grading import _protocol
from utils.grading._child import is_display_only
from utils.grading._grade import course_fingerprint, exercise_seed, plan_lesson
from utils.grading._sandbox import FIRST_SANDBOX_UID

ROOT = Path(__file__).resolve().parents[1]
SEED = "test-seed-1729"
CLASS_TIMEOUT = 10
IS_ROOT = os.geteuid() == 0
GRADER = [sys.executable, "-m", "utils.grading"]
GRADE_COLUMNS = [
    "student",
    "notebook",
    "exercise",
    "points",
    "max_points",
    "status",
    "message",
    "cell",
]


# --- running the grader --------------------------------------------------------


def copy_course(destination: Path) -> Path:
    shutil.copytree(
        ROOT / "utils", destination / "utils", ignore=shutil.ignore_patterns("__pycache__")
    )
    return destination


def run_grader(course: Path, *arguments, environment=None, **options):
    env = {key: value for key, value in os.environ.items() if key != "COURSE_GRADING_SEED"}
    env.update(environment or {})
    options = {"capture_output": True, "text": True, "timeout": 240, **options}
    return subprocess.run(
        [sys.executable, "-m", "utils.grading", *map(str, arguments)],
        cwd=course,
        env=env,
        **options,
    )


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def rows_by_student(out: Path) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {}
    for row in read_csv(out / "grades.csv"):
        rows.setdefault(row["student"], []).append(row)
    return rows


def marker_processes() -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if fx.BACKGROUND_MARKER in command and "sleep" in command:
            found.append(f"{pid}: {command}")
    return found


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


def forged_result_files() -> dict[str, str]:
    """Result files in the grader's own format, claiming a wrong value and no cases."""
    import json

    record, arrays = CaseOutcome("ok", value=12345.0, value_type="float").to_record()
    forged = {
        "exercise-0.json": {
            "id": "00.mean_score",
            "defined": True,
            "outcomes": [{"record": record, "arrays": arrays}],
        },
        "exercise-1.json": {"id": "00.scores_above", "defined": True, "outcomes": []},
        "cells.json": {"problems": []},
    }
    return {name: json.dumps(_protocol.to_plain(payload, {})) for name, payload in forged.items()}


# --- the class -------------------------------------------------------------------

# Lessons 00 and 01 both appear among them (multi), so summary maxima match the class.
HONEST = ("correct", "wrong", "multi")


def build_class(submissions: Path, out: Path) -> None:
    lesson_file = fx.lesson_path("solutions", fx.LESSON).name
    notebooks = {
        "correct": fx.correct(),
        "untouched": fx.untouched(),
        "wrong": fx.wrong(),
        "warns": fx.set_answer(
            fx.set_answer(
                fx.correct(),
                "00_mean_score",
                "import warnings\nmean_score = None\n"
                "warnings.warn('an unrelated warning', RuntimeWarning)\n"
                "mean_score = scores.mean()\n",
            ),
            "00_scores_above",
            "def scores_above(scores, threshold):\n"
            "    np.log(np.zeros(1))  # RuntimeWarning: divide by zero\n"
            "    return np.flatnonzero(scores > threshold)\n",
        ),
        "patches_before": fx.patches_before(),
        "patches_inside": fx.patches_inside(),
        "forger": fx.forger(forged_result_files()),
        "sys_exit": fx.sys_exit(),
        "exit_in_cell": fx.exit_in_cell(),
        "exit_in_answer": fx.exit_in_answer(),
        "endless_cell": fx.endless_cell(),
        "endless_answer": fx.endless_answer(),
        "memory_bomb": fx.memory_bomb(),
        # Leaves processes behind, then reports what it could see (one child for both).
        "background": fx.at_end(fx.background(), fx.probe_source(str(submissions), str(out))),
        "writes_out": fx.writes_out(
            [
                str(out / "grades.csv"),
                str(out / "planted.txt"),
                str(out / "feedback" / "correct" / f"{Path(lesson_file).stem}.md"),
                str(submissions / "correct" / lesson_file),
                str(submissions / "planted" / "planted.ipynb"),
            ]
        ),
        "deleted_cell": fx.deleted_cell(),
        "extra_cells": fx.extra_cells(),
        "other_lesson": fx.other_lesson(),
        "unknown_lesson": fx.unknown_lesson(),
        "no_metadata": fx.no_metadata(),
    }
    notebooks["tamperer"] = fx.tamperer()
    for student, notebook in notebooks.items():
        fx.write(notebook, submissions / student / lesson_file)
    # A checkpoint copy next to a real submission is not a submission.
    fx.write(fx.wrong(), submissions / "correct" / ".ipynb_checkpoints" / "x-checkpoint.ipynb")
    fx.write(fx.wrong(), submissions / "multi" / "first_try.ipynb")
    fx.write(fx.correct(), submissions / "multi" / "final.ipynb")
    fx.write(fx.other_lesson(), submissions / "multi" / "lesson01.ipynb")
    fx.write_bytes(fx.damaged().encode(), submissions / "damaged" / lesson_file)
    fx.write_bytes(b'{"cells": [', submissions / "broken_json" / lesson_file)
    fx.write_bytes(b"", submissions / "empty" / lesson_file)
    fx.write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", submissions / "not_a_notebook" / lesson_file)
    fx.write_bytes(b"[1, 2, 3]", submissions / "json_list.ipynb")


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """Grade the whole class once, with 2 jobs, as the instructor would."""
    base = tmp_path_factory.mktemp("class")
    course = copy_course(base / "course")
    submissions, out = base / "submissions", base / "out"
    build_class(submissions, out)
    before = {
        "course": tree_digest(course / "utils"),
        "fingerprint": course_fingerprint(str(course)),
        "correct": (submissions / "correct")
        .joinpath(fx.lesson_path("solutions", fx.LESSON).name)
        .read_bytes(),
    }
    result = run_grader(
        course,
        submissions,
        "--out",
        out,
        "--jobs",
        2,
        "--timeout",
        CLASS_TIMEOUT,
        "--seed",
        SEED,
        "--memory-mb",
        1024,
        environment={"NBGRADER_EXECUTION": "autograde"},
    )
    return {
        "base": base,
        "course": course,
        "submissions": submissions,
        "out": out,
        "result": result,
        "rows": rows_by_student(out),
        "before": before,
        "markers_after": marker_processes(),
        "uids_after": fx.sandbox_processes(course),
    }


def rows_of(graded, student):
    rows = graded["rows"].get(student)
    assert rows, f"no rows for {student}: {graded['result'].stderr}"
    return {row["exercise"]: row for row in rows}


def lesson_ids(lesson=fx.LESSON):
    return [spec.id for spec in exercises.for_lesson(lesson)]


def max_points(exercise_id):
    return float(exercises.get(exercise_id).points)


def test_the_class_run_exits_0_and_writes_the_gradebook(graded_class):
    result = graded_class["result"]
    assert result.returncode == 0, result.stderr
    out = graded_class["out"]
    names = sorted(p.name for p in out.iterdir())
    assert {"feedback", "grades.csv", "summary.csv", "rows.jsonl", "grading.json"} <= set(names)
    assert not [name for name in names if name.startswith(".")], names  # nothing half-written
    header = (out / "grades.csv").read_text().splitlines()[0]
    assert header.split(",") == GRADE_COLUMNS
    assert "\r" not in result.stderr  # no progress bar when stderr is not a terminal


def test_correct_submission_gets_full_marks(graded_class):
    rows = rows_of(graded_class, "correct")
    assert list(rows) == lesson_ids()
    for exercise_id, row in rows.items():
        assert row["status"] == "passed", row
        assert float(row["points"]) == max_points(exercise_id)


def test_untouched_student_notebook_is_not_attempted(graded_class):
    for row in rows_of(graded_class, "untouched").values():
        assert (row["status"], float(row["points"])) == ("not_attempted", 0.0), row


def test_wrong_answers_fail_or_get_partial_credit_for_the_cases_they_pass(graded_class):
    rows = rows_of(graded_class, "wrong")
    assert (rows["00.mean_score"]["status"], rows["00.mean_score"]["points"]) == ("failed", "0")
    spec = exercises.get("00.scores_above")
    cases = all_cases("00", spec.id)
    passed = sum(
        np.array_equal(fx.wrong_scores_above(*c.args), spec.reference(*c.args)) for c in cases
    )
    assert 0 < passed < len(cases), "the fixture should pass some cases and fail others"
    row = rows["00.scores_above"]
    assert row["status"] == "partial"
    assert float(row["points"]) == round(spec.points * passed / len(cases), 2)
    assert f"({passed}/{len(cases)} cases passed)" in row["message"]


def test_a_correct_answer_that_warns_keeps_full_marks(graded_class):
    rows = rows_of(graded_class, "warns")
    for exercise_id, row in rows.items():
        assert (row["status"], float(row["points"])) == ("passed", max_points(exercise_id))
    assert "RuntimeWarning" in rows["00.scores_above"]["message"]


@pytest.mark.parametrize("student", ["patches_before", "patches_inside"])
def test_patching_numpy_utils_checks_and_builtins_gains_nothing(graded_class, student):
    for row in rows_of(graded_class, student).values():
        assert float(row["points"]) == 0.0, row
        # Patching the checker's module or builtins reaches into the grading process.
        assert row["status"] == "invalid", row
        assert "reaches into the grading process" in row["message"], row


def test_printed_and_planted_fake_results_gain_nothing(graded_class):
    """Results come over the grader's pipe only: printed text and planted files are
    never read, and a process that exits in its cells has sent nothing."""
    for row in rows_of(graded_class, "forger").values():
        # Its exiting cell is left out and the untouched notebook graded without it.
        assert (row["status"], row["points"]) == ("not_attempted", "0"), row
    assert "ended the notebook's process" in feedback_text(graded_class, "forger").replace("\\", "")


def test_sys_exit_in_cells_is_recorded_and_grading_goes_on(graded_class):
    for exercise_id, row in rows_of(graded_class, "sys_exit").items():
        assert (row["status"], float(row["points"])) == ("passed", max_points(exercise_id))
    feedback = feedback_text(graded_class, "sys_exit")
    assert "SystemExit" in feedback
    assert "KeyboardInterrupt" in feedback


def test_os_exit_in_a_cell_costs_only_that_cell(graded_class):
    """The cell that ended the process is left out and the notebook run again without it:
    the answers defined in the other cells keep their points."""
    for exercise_id, row in rows_of(graded_class, "exit_in_cell").items():
        assert (row["status"], float(row["points"])) == ("passed", max_points(exercise_id))
    text = feedback_text(graded_class, "exit_in_cell").replace("\\", "")
    assert "ended the notebook's process (it exited with code 0); the notebook was run" in text


def test_os_exit_inside_an_answer_costs_only_the_cases_not_checked(graded_class):
    """It exits on the hidden cases only: the visible ones still earn partial credit."""
    rows = rows_of(graded_class, "exit_in_answer")
    assert rows["00.mean_score"]["status"] == "passed"
    row = rows["00.scores_above"]
    visible = len(exercises.get("00.scores_above").visible_cases)
    assert (row["status"], float(row["points"])) == ("partial", round(visible / 10, 2))
    assert "ended while the hidden cases were checked" in row["message"]
    assert "code 3" not in row["message"]  # an exit code chosen on hidden inputs is not shown


def test_an_endless_cell_is_interrupted_and_the_rest_graded(graded_class):
    """Past the per-cell limit (default: half of --timeout) the cell is interrupted, as
    Jupyter would, and the next cells run (nbgrader gives this notebook full marks too)."""
    for exercise_id, row in rows_of(graded_class, "endless_cell").items():
        assert (row["status"], float(row["points"])) == ("passed", max_points(exercise_id))
    text = feedback_text(graded_class, "endless_cell").replace("\\", "")
    assert f"--cell-timeout {CLASS_TIMEOUT / 2:g} s) and was interrupted" in text


def test_an_endless_answer_is_stopped_by_the_case_budget(graded_class):
    """It loops on the hidden cases only: the visible ones still earn partial credit."""
    rows = rows_of(graded_class, "endless_answer")
    assert rows["00.mean_score"]["status"] == "passed"
    row = rows["00.scores_above"]
    visible = len(exercises.get("00.scores_above").visible_cases)
    total = len(all_cases("00", "00.scores_above"))
    assert row["status"] == "partial"
    assert float(row["points"]) == round(visible / total, 2)
    assert "per-case time limit" in row["message"]


def test_a_memory_bomb_hits_the_limit_and_the_rest_is_graded(graded_class):
    rows = rows_of(graded_class, "memory_bomb")
    assert rows["00.mean_score"]["status"] == "passed"
    assert rows["00.scores_above"]["status"] == "error"
    assert "MemoryError" in rows["00.scores_above"]["message"]
    assert "MemoryError" in feedback_text(graded_class, "memory_bomb")


def test_background_processes_are_ended_with_the_submission(graded_class):
    for exercise_id, row in rows_of(graded_class, "background").items():
        assert (row["status"], float(row["points"])) == ("passed", max_points(exercise_id))
    assert graded_class["markers_after"] == []


def test_writing_into_the_output_and_submissions_folders_changes_nothing(graded_class):
    for row in rows_of(graded_class, "writes_out").values():
        assert row["status"] == "passed", row
    out, submissions = graded_class["out"], graded_class["submissions"]
    assert not (out / "planted.txt").exists()
    assert not (submissions / "planted").exists()
    lesson_file = fx.lesson_path("solutions", fx.LESSON).name
    assert (submissions / "correct" / lesson_file).read_bytes() == graded_class["before"]["correct"]
    for path in out.rglob("*"):
        assert not path.is_file() or b"forged by writes_out" not in path.read_bytes(), path


def test_rewriting_the_course_files_fails_in_the_sandbox(graded_class):
    """The course is mounted read-only in the sandbox: its writes to `utils` fail, so
    nothing changes for later submissions (unconfined: see the detection test)."""
    course = graded_class["course"]
    assert tree_digest(course / "utils") == graded_class["before"]["course"]
    assert not (course / "utils" / "exercises" / "lesson99.py").exists()
    for row in rows_of(graded_class, "tamperer").values():
        assert row["status"] == "not_attempted", row
    assert "course's files" not in graded_class["result"].stderr
    assert rows_of(graded_class, "correct")["00.scores_above"]["status"] == "passed"


def test_the_child_runs_confined(graded_class):
    feedback = feedback_text(graded_class, "background")
    line = next(line for line in feedback.splitlines() if "sandbox uid=" in line)
    facts = dict(item.split("=", 1) for item in line.split("sandbox ", 1)[1].split())
    assert facts["nbgrader"] == "None", "NBGRADER_EXECUTION must not reach the child"
    assert (facts["backend"], facts["threads"]) == ("Agg", "1")
    if IS_ROOT:
        assert FIRST_SANDBOX_UID <= int(facts["uid"]) < FIRST_SANDBOX_UID + 64 * 1000
        assert graded_class["uids_after"] == [], "sandbox processes outlived the grader"
    assert facts["course_writable"] == "False"
    assert facts["submissions_visible"] == "False"
    assert facts["out_visible"] == "False"


@pytest.mark.parametrize(
    ("student", "reason"),
    [
        ("broken_json", "not valid JSON"),
        ("empty", "empty"),
        ("not_a_notebook", "not text"),
        ("json_list", "not a Jupyter notebook"),
        ("unknown_lesson", "lesson 99 has no graded exercises"),
    ],
)
def test_files_that_are_not_gradable_notebooks_are_invalid(graded_class, student, reason):
    (row,) = graded_class["rows"][student]
    assert (row["exercise"], row["status"], row["points"], row["max_points"]) == (
        "-",
        "invalid",
        "0",
        "0",
    )
    assert reason in row["message"]


def test_a_damaged_notebook_of_a_known_lesson_is_invalid_per_exercise(graded_class):
    rows = rows_of(graded_class, "damaged")
    assert list(rows) == lesson_ids()
    for row in rows.values():
        assert row["status"] == "invalid"
        assert "damaged" in row["message"]


def test_a_deleted_exercise_cell_is_not_attempted(graded_class):
    rows = rows_of(graded_class, "deleted_cell")
    assert rows["00.mean_score"]["status"] == "passed"
    assert rows["00.scores_above"]["status"] == "not_attempted"
    assert rows["00.scores_above"]["message"].startswith("no `scores_above` defined")


def test_extra_cells_magics_and_a_syntax_error_cell_are_fine(graded_class):
    for exercise_id, row in rows_of(graded_class, "extra_cells").items():
        assert (row["status"], float(row["points"])) == ("passed", max_points(exercise_id))
    assert "SyntaxError" in feedback_text(graded_class, "extra_cells")


def test_a_notebook_of_another_lesson_is_graded_as_that_lesson(graded_class):
    rows = rows_of(graded_class, "other_lesson")
    assert list(rows) == lesson_ids(fx.OTHER_LESSON)
    for exercise_id, row in rows.items():
        assert (row["status"], float(row["points"])) == ("passed", max_points(exercise_id))


def test_the_lesson_falls_back_to_nbgrader_cell_ids(graded_class):
    rows = rows_of(graded_class, "no_metadata")
    assert list(rows) == lesson_ids()
    assert all(row["status"] == "passed" for row in rows.values())


def test_several_notebooks_are_all_graded_and_the_summary_counts_the_best(graded_class):
    notebooks = {row["notebook"] for row in graded_class["rows"]["multi"]}
    assert notebooks == {"final.ipynb", "first_try.ipynb", "lesson01.ipynb"}
    summary = {row["student"]: row for row in read_csv(graded_class["out"] / "summary.csv")}
    lesson_max = {
        lesson: sum(max_points(i) for i in lesson_ids(lesson))
        for lesson in (fx.LESSON, fx.OTHER_LESSON)
    }
    assert float(summary["multi"]["points"]) == sum(lesson_max.values())
    assert float(summary["multi"][f"lesson_{fx.LESSON}"]) == lesson_max[fx.LESSON]
    feedback = feedback_text(graded_class, "multi", "first_try")
    assert "the summary counts the best of them: final.ipynb" in feedback


def test_summary_has_every_student_and_the_class_maximum(graded_class):
    summary = read_csv(graded_class["out"] / "summary.csv")
    assert [row["student"] for row in summary] == sorted(graded_class["rows"])
    class_max = sum(max_points(i) for lesson in ("00", "01") for i in lesson_ids(lesson))
    assert {float(row["max_points"]) for row in summary} == {class_max}
    by_student = {row["student"]: row for row in summary}
    assert float(by_student["correct"]["points"]) == sum(max_points(i) for i in lesson_ids())
    assert float(by_student["untouched"]["points"]) == 0.0


def test_feedback_names_hidden_cases_without_their_inputs(graded_class):
    text = feedback_text(graded_class, "wrong")
    assert "hidden case 1" in text
    assert "partial" in text
    assert "00.scores_above" in text
    spec = exercises.get("00.scores_above")
    hidden = spec.draw_hidden_cases(exercise_seed(SEED, spec.id))
    for case in hidden:
        scores = case.args[0]
        assert np.array2string(scores, separator=", ") not in text
        assert str(scores.tolist()) not in text


def unescape(markdown: str) -> str:
    """The text a Markdown renderer shows for the grader's escaped feedback."""
    return html.unescape(re.sub(r"\\(.)", r"\1", markdown))


def feedback_text(graded, student, stem=None):
    stem = stem or fx.lesson_path("solutions", fx.LESSON).stem
    return unescape((graded["out"] / "feedback" / student / f"{stem}.md").read_text())


# --- the same class without the hostile students ---------------------------------


@pytest.fixture(scope="module")
def honest_reruns(graded_class):
    """The honest students alone, graded twice at the same time (two graders on one
    machine must not share sandbox uids): same rows as in the hostile class."""
    subset = graded_class["base"] / "honest"
    for student in HONEST:
        shutil.copytree(graded_class["submissions"] / student, subset / student)
    outs = [graded_class["base"] / f"honest-out-{number}" for number in (1, 2)]
    env = {key: value for key, value in os.environ.items() if key != "COURSE_GRADING_SEED"}
    graders = [
        subprocess.Popen(
            [*GRADER, str(subset), "--out", str(out), "--jobs", "2", "--seed", SEED],
            cwd=graded_class["course"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for out in outs
    ]
    for grader in graders:
        _, stderr = grader.communicate(timeout=240)
        assert grader.returncode == 0, stderr
    return outs


def test_no_fixture_changed_another_students_rows_or_feedback(graded_class, honest_reruns):
    alone = rows_by_student(honest_reruns[0])
    for student in HONEST:
        assert alone[student] == graded_class["rows"][student], student
        folder = graded_class["out"] / "feedback" / student
        for path in folder.rglob("*.md"):
            twin = honest_reruns[0] / "feedback" / student / path.relative_to(folder)
            assert twin.read_bytes() == path.read_bytes(), path


def test_a_rerun_gives_byte_identical_files(honest_reruns):
    first, second = honest_reruns
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for relative in files:
        assert (first / relative).read_bytes() == (second / relative).read_bytes(), relative


# --- when the grader cannot confine the child: detection -------------------------


def test_unconfined_rewriting_the_course_is_detected_and_stops_grading(tmp_path):
    """--unconfined runs children without a sandbox, as the grader's own user: a
    submission can then write the course, so the grader must notice and stop
    trusting later children (and warn loudly about the mode)."""
    course = copy_course(tmp_path / "course")
    submissions = tmp_path / "submissions"
    lesson_file = fx.lesson_path("solutions", fx.LESSON).name
    fx.write(fx.correct(), submissions / "a_honest" / lesson_file)
    tamper = fx.after_imports(fx.tamperer(), fx.BACKGROUND)
    fx.write(tamper, submissions / "m_tamperer" / lesson_file)
    fx.write(fx.untouched(), submissions / "z_after" / lesson_file)
    real_course = course_fingerprint(str(ROOT))
    result = run_grader(
        course,
        submissions,
        "--out",
        tmp_path / "out",
        "--seed",
        SEED,
        "--unconfined",
    )
    assert result.returncode == 0, result.stderr
    assert "WITHOUT a sandbox" in result.stderr
    rows = rows_by_student(tmp_path / "out")
    assert {row["status"] for row in rows["a_honest"]} == {"passed"}
    for row in rows["m_tamperer"]:
        assert row["status"] == "invalid"
        assert "modified the course's files" in row["message"]
    for row in rows["z_after"]:  # the rewritten checks.py would have passed it
        assert row["status"] == "invalid"
        assert "not graded" in row["message"]
    assert "changed during grading" in result.stderr
    assert marker_processes() == []
    assert course_fingerprint(str(ROOT)) == real_course


def test_every_lessons_solution_gets_full_points_under_the_real_grader(tmp_path):
    """The whole path (sandbox, pipe, decoder, judge) on every exercise's reference
    answer: results of every shape and layout the course returns (transposed views,
    0-d arrays, tuples) come back and pass."""
    submissions = tmp_path / "subs"
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        fx.write_bytes(path.read_bytes(), submissions / "alice" / path.name)
    result = run_grader(
        copy_course(tmp_path / "course"),
        submissions,
        "--out",
        tmp_path / "out",
        "--jobs",
        2,
        "--seed",
        SEED,
    )
    assert result.returncode == 0, result.stderr
    rows = read_csv(tmp_path / "out" / "grades.csv")
    graded = {row["exercise"] for row in rows}
    assert graded == {spec.id for spec in exercises.all_exercises()}
    for row in rows:
        assert (row["status"], float(row["points"])) == ("passed", max_points(row["exercise"])), row


# --- the command line ------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (["missing-folder", "--out", "out"], "does not exist"),
        (["subs", "--out", "out", "--jobs", "0"], "--jobs"),
        (["subs", "--out", "out", "--timeout", "-1"], "--timeout"),
        (["subs", "--out", "subs"], "must not be the submissions folder"),
        (["subs"], "--out"),
        (["subs", "--out", "out", "--colour"], "unrecognized arguments"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(tmp_path, arguments, reason):
    (tmp_path / "subs").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "utils.grading", *arguments],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert reason in result.stderr


def test_without_a_seed_the_grader_warns_that_hidden_cases_are_predictable(tmp_path):
    (tmp_path / "subs").mkdir()
    result = run_grader(ROOT, tmp_path / "subs", "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert "predictable" in result.stderr
    assert read_csv(tmp_path / "out" / "grades.csv") == []
    assert (tmp_path / "out" / "summary.csv").read_text() == "student,points,max_points\n"


def test_the_progress_bar_shows_on_a_terminal_only(tmp_path):
    submissions = tmp_path / "subs"
    fx.write(fx.correct(), submissions / "alice.ipynb")
    leader, follower = pty.openpty()
    try:
        result = run_grader(
            copy_course(tmp_path / "course"),
            submissions,
            "--out",
            tmp_path / "out",
            environment={"COURSE_GRADING_SEED": SEED},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=follower,
            capture_output=False,
            text=False,
        )
        os.close(follower)
        follower = None
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the terminal's other end is closed: everything was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
        if follower is not None:
            os.close(follower)
    assert result.returncode == 0
    assert b"\rgrading [" in shown
    assert b"1/1" in shown
    assert "predictable" not in shown.decode(errors="replace")  # the seed came from the env


# --- seeds and the protocol --------------------------------------------------------


def all_cases(lesson, exercise_id, seed=SEED):
    plan = plan_lesson(lesson, seed, 2.0)
    return (*plan.visible[exercise_id], *plan.hidden[exercise_id])


def test_the_seed_decides_the_hidden_cases_and_the_same_seed_repeats_them():
    def hidden_inputs(seed):
        return [
            repr(case.args) for case in plan_lesson(fx.LESSON, seed, 2.0).hidden["00.scores_above"]
        ]

    assert hidden_inputs("one") == hidden_inputs("one")
    assert hidden_inputs("one") != hidden_inputs("two")
    assert exercise_seed("one", "00.scores_above") != exercise_seed("one", "00.mean_score")


def same(first, second) -> bool:
    if isinstance(first, np.ndarray):
        return (
            isinstance(second, np.ndarray)
            and first.dtype == second.dtype
            and np.array_equal(first, second, equal_nan=first.dtype.kind == "f")
        )
    if isinstance(first, (list, tuple)):
        return (
            type(first) is type(second)
            and len(first) == len(second)
            and all(same(a, b) for a, b in zip(first, second, strict=True))
        )
    if isinstance(first, dict):
        return first.keys() == second.keys() and all(same(first[k], second[k]) for k in first)
    return type(first) is type(second) and (first == second or first != first)


@pytest.mark.parametrize("lesson", exercises.lessons())
def test_every_lessons_cases_reach_the_child_unchanged(lesson):
    import io

    plan = plan_lesson(lesson, SEED, 2.0)
    for frame, cases in [(plan.visible_frame, plan.visible), (plan.hidden_frame, plan.hidden)]:
        header, arrays = _protocol.read_frame(io.BytesIO(frame))
        named = {f"a{index}": array for index, array in enumerate(arrays)}
        assert [task["id"] for task in header["tasks"]] == [spec.id for spec in plan.specs]
        for task in header["tasks"]:
            assert len(task["cases"]) == len(cases[task["id"]])
            for encoded, case in zip(task["cases"], cases[task["id"]], strict=True):
                received = _protocol.from_plain(encoded, named, callables=True)
                assert same(received["args"], case.args), (task["id"], case.label)
                assert same(received["kwargs"], case.kwargs), (task["id"], case.label)


def test_the_protocol_round_trips_plain_data_and_refuses_objects():
    import io

    generator = np.random.default_rng(5)
    value = {
        "array": np.arange(6, dtype=np.float32).reshape(2, 3),
        "scalar": np.float16(1.5),
        "tuple": (1, "two", None, [3.0, float("inf")]),
        "set": {1, 2},
        "complex": 1 + 2j,
        "rng": generator,
    }
    arrays = {}
    plain = _protocol.to_plain(value, arrays)
    header, received = _protocol.read_frame(
        io.BytesIO(_protocol.encode_frame({"kind": "job", "value": plain}, list(arrays.values())))
    )
    back = _protocol.from_plain(
        header["value"], {f"a{i}": array for i, array in enumerate(received)}
    )
    assert back["array"].dtype == np.float32
    assert back["array"].tolist() == value["array"].tolist()
    assert back["scalar"].dtype == np.float16
    assert back["scalar"] == 1.5
    assert back["tuple"] == value["tuple"]
    assert back["set"] == {1, 2}
    assert back["complex"] == 1 + 2j
    assert back["rng"].random() == np.random.default_rng(5).random()
    with pytest.raises(TypeError, match="cannot send"):
        _protocol.to_plain(object(), {})
    with pytest.raises(TypeError, match="cannot send"):
        _protocol.to_plain(np.array([object()]), {})
    with pytest.raises(_protocol.MessageError):  # the grader never imports what a child names
        _protocol.from_plain({"$callable": ["utils.grading.__main__", "main"]}, {})


@pytest.mark.parametrize(
    ("source", "skipped"),
    [
        ('utils.widgets.quiz("Q?", ["a", "b"], 0, ["Yes.", "No."])', True),
        ("utils.widgets.score_explorer(tokens, logits)", True),
        ("utils.numeric_quiz('1/4?', 0.25, 0.01, 'A quarter.')", True),
        ("explorer = utils.widgets.score_explorer(tokens, logits)", False),
        ("utils.widgets.quiz(1)\nsoftmax = None", False),
        ("utils.widgets.quiz((softmax := None))", False),
        ("utils.widgets.quiz(lambda: None)", False),
        ("widgets.quiz(1)", False),
        ("utils.softmax(z)", False),
        ("check('02.logsumexp', logsumexp)", False),
        ("utils.widgets.quiz(", False),
    ],
)
def test_only_cells_that_just_display_a_course_widget_are_skipped(source, skipped):
    assert is_display_only(source) is skipped
