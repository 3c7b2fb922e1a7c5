"""The gradebook: grades.csv, summary.csv and one feedback report per submission.

Every file is written whole to a temporary name and renamed into place, and
nothing in it depends on time or on the order children finished, so grading
the same submissions with the same seed again gives byte-identical files.

>>> format_points(1.3333), format_points(2.0), format_points(0.5)
('1.33', '2', '0.5')
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import shutil
import stat
import tempfile
from collections import defaultdict
from pathlib import Path

from utils.exercises import Exercise
from utils.grading._grade import Graded

__all__ = [
    "GRADE_COLUMNS",
    "best_per_lesson",
    "format_points",
    "write_gradebook",
]

GRADE_COLUMNS = ("student", "notebook", "exercise", "points", "max_points", "status", "message")


def format_points(points: float) -> str:
    return f"{points:.2f}".rstrip("0").rstrip(".")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _write_atomically(path: Path, text: str) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as file:
            file.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _csv_text(header, rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def best_per_lesson(graded: list[Graded]) -> dict[tuple[str, str], Graded]:
    """(student, lesson) -> that student's best notebook of the lesson (ties: first by name)."""
    best: dict[tuple[str, str], Graded] = {}
    for item in sorted(graded, key=lambda g: (g.submission.student, g.submission.notebook)):
        lesson = item.submission.lesson
        if lesson is None:
            continue
        key = (item.submission.student, lesson)
        points = sum(row.points for row in item.rows)
        if key not in best or points > sum(row.points for row in best[key].rows):
            best[key] = item
    return best


def _grades_csv(graded: list[Graded], order: dict[str, int]) -> str:
    rows = []
    for item in graded:
        for row in sorted(item.rows, key=lambda r: (order.get(r.exercise, -1), r.exercise)):
            rows.append(
                [
                    row.student,
                    row.notebook,
                    row.exercise,
                    format_points(row.points),
                    format_points(row.max_points),
                    row.status,
                    _one_line(row.message),
                ]
            )
    return _csv_text(GRADE_COLUMNS, rows)


def _summary_csv(graded: list[Graded], lesson_points: dict[str, float]) -> str:
    lessons = sorted(lesson_points)
    best = best_per_lesson(graded)
    students = sorted({item.submission.student for item in graded})
    header = ["student", "points", "max_points", *(f"lesson_{lesson}" for lesson in lessons)]
    rows = []
    total_max = sum(lesson_points.values())
    for student in students:
        per_lesson = []
        for lesson in lessons:
            item = best.get((student, lesson))
            per_lesson.append(sum(row.points for row in item.rows) if item else 0.0)
        rows.append(
            [
                student,
                format_points(sum(per_lesson)),
                format_points(total_max),
                *(format_points(points) for points in per_lesson),
            ]
        )
    return _csv_text(header, rows)


def _cell(text: str) -> str:
    return _one_line(text).replace("|", "\\|")


def _feedback(
    item: Graded,
    specs: dict[str, Exercise],
    order: dict[str, int],
    siblings: list[Graded],
    best: Graded | None,
) -> str:
    submission = item.submission
    rows = sorted(item.rows, key=lambda r: (order.get(r.exercise, -1), r.exercise))
    points = sum(row.points for row in rows)
    maximum = sum(row.max_points for row in rows)
    lines = [f"# Feedback on `{submission.notebook}` ({submission.student})", ""]
    if submission.lesson is not None:
        lines.append(
            f"Lesson {submission.lesson}: **{format_points(points)} of "
            f"{format_points(maximum)} points**."
        )
    else:
        lines.append("This file could not be graded.")
    lines += [
        "",
        "| exercise | status | points | what the grader found |",
        "| --- | --- | --- | --- |",
    ]
    for row in rows:
        spec = specs.get(row.exercise)
        title = f"{row.exercise} ({spec.title})" if spec else row.exercise
        lines.append(
            f"| {_cell(title)} | {row.status.replace('_', ' ')} | "
            f"{format_points(row.points)} / {format_points(row.max_points)} | "
            f"{_cell(row.message)} |"
        )
    for row in rows:
        result = item.results.get(row.exercise)
        if result is None:
            continue
        spec = specs[row.exercise]
        lines += ["", f"## {row.exercise}: {spec.title}", ""]
        for case in result.cases:
            mark = {"passed": "passed", "not_attempted": "not attempted"}.get(
                case.status, case.status
            )
            detail = f": {_one_line(case.message)}" if case.message else ""
            lines.append(f"- {case.label}: {mark}{detail}")
        if spec.hint and row.status != "passed":
            lines += ["", f"Hint: {_one_line(spec.hint)}"]
    if item.cell_problems:
        lines += ["", "## Cells that raised an exception", ""]
        lines += [
            f"- cell {problem.get('cell')}: {_one_line(problem.get('error', ''))}"
            for problem in item.cell_problems
        ]
        lines += [
            "",
            "The grader runs every cell in order and goes on after an error, as "
            "Jupyter's Run All with errors allowed would.",
        ]
    if len(siblings) > 1 and submission.lesson is not None:
        names = ", ".join(f"`{s.submission.notebook}`" for s in siblings)
        chosen = "this one" if best is item else f"`{best.submission.notebook}`"
        lines += [
            "",
            f"You submitted {len(siblings)} notebooks of lesson {submission.lesson} "
            f"({names}); the summary counts the best of them: {chosen}.",
        ]
    lines += [
        "",
        "Hidden cases are drawn by the grader from the instructor's seed; their inputs are "
        "not shown. Checks in your notebook run the visible cases only.",
        "",
    ]
    return "\n".join(lines)


def _replace_folder(built: Path, target: Path) -> None:
    """Put the freshly built folder where `target` was, removing the old one."""
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        os.replace(built, target)
        return
    if stat.S_ISDIR(info.st_mode):
        retired = Path(tempfile.mkdtemp(dir=target.parent, prefix=".feedback-old-"))
        os.replace(target, retired / "feedback")
        os.replace(built, target)
        shutil.rmtree(retired)
    else:  # a file or a symlink where the folder belongs: never follow it
        os.unlink(target)
        os.replace(built, target)


def write_gradebook(
    out: Path,
    graded: list[Graded],
    specs: dict[str, Exercise],
    lesson_points: dict[str, float],
) -> None:
    """Write OUT/grades.csv, OUT/summary.csv and OUT/feedback/<student>/<notebook>.md.

    `lesson_points` holds the maximum of every lesson present in the class;
    summary.csv's `max_points` is their sum.
    """
    order = {exercise_id: index for index, exercise_id in enumerate(specs)}
    graded = sorted(graded, key=lambda g: (g.submission.student, g.submission.notebook))
    best = best_per_lesson(graded)
    by_lesson: dict[tuple[str, str | None], list[Graded]] = defaultdict(list)
    for item in graded:
        by_lesson[(item.submission.student, item.submission.lesson)].append(item)
    built = Path(tempfile.mkdtemp(dir=out, prefix=".feedback-new-"))
    try:
        os.chmod(built, 0o755)
        for item in graded:
            submission = item.submission
            path = built / submission.student / f"{submission.stem}.md"
            path.parent.mkdir(parents=True, exist_ok=True)
            key = (submission.student, submission.lesson)
            text = _feedback(item, specs, order, by_lesson[key], best.get(key))
            path.write_text(text, encoding="utf-8")
        _replace_folder(built, out / "feedback")
    except BaseException:
        shutil.rmtree(built, ignore_errors=True)
        raise
    _write_atomically(out / "grades.csv", _grades_csv(graded, order))
    _write_atomically(out / "summary.csv", _summary_csv(graded, lesson_points))
