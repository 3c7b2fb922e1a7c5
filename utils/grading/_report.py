"""The gradebook: grades.csv, summary.csv and one feedback report per submission.

Every file is written whole to a temporary name and renamed into place,
readable by its owner only (files 0600, folders 0700), and nothing in it
depends on time or on the order children finished, so grading the same
submissions with the same seed again gives byte-identical files.

Everything a submission chose (names, exception text, messages) is escaped
where it is quoted: Markdown feedback gets no raw HTML, links, emphasis or
maths from it (`markdown_text`), and a CSV cell that a spreadsheet would run
as a formula starts with a quote (`csv_cell`). Feedback file names are
derived from the submission's path by `feedback_name`: any bytes, any
length, no collisions.

>>> format_points(1.3333), format_points(2.0), format_points(0.5)
('1.33', '2', '0.5')
>>> csv_cell("=2+3*cmd"), csv_cell("alice")
("'=2+3*cmd", 'alice')
>>> markdown_text("<b>x</b> [a](javascript:f)")
'&lt;b&gt;x&lt;/b&gt; \\[a\\]\\(javascript\\:f\\)'
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import os
import re
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
    "csv_cell",
    "feedback_name",
    "format_points",
    "markdown_text",
    "write_gradebook",
]

GRADE_COLUMNS = ("student", "notebook", "exercise", "points", "max_points", "status", "message")


def format_points(points: float) -> str:
    return f"{points:.2f}".rstrip("0").rstrip(".")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def csv_cell(text: str) -> str:
    """A CSV cell a spreadsheet shows as text: a leading =, +, -, @, tab or CR gets a quote
    (a lone "-" is text already)."""
    if text.startswith(("\t", "\r")) or (len(text) > 1 and text.startswith(("=", "+", "-", "@"))):
        return "'" + text
    return text


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:@$\"'=^])")


def markdown_text(text: str) -> str:
    """`text` on one line, shown literally by any Markdown renderer (CommonMark, GFM,
    JupyterLab): every character that could start markup, a link, an autolink, HTML
    or maths is escaped."""
    line = _MARKDOWN_SPECIAL.sub(r"\\\1", _one_line(text))
    return line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_SAFE_NAME = re.compile(rb"[A-Za-z0-9_-]")
MAX_FILE_NAME = 120


def _safe_component(name: str) -> str:
    raw = os.fsencode(name)
    escaped = "".join(
        chr(byte) if _SAFE_NAME.fullmatch(bytes([byte])) else f"%{byte:02X}" for byte in raw
    )
    if len(escaped) > MAX_FILE_NAME:
        escaped = escaped[: MAX_FILE_NAME - 17] + "~" + hashlib.sha256(raw).hexdigest()[:16]
    return escaped or "%"


def feedback_name(parts: tuple[str, ...]) -> tuple[str, str]:
    """(folder, file name) of a submission's feedback below OUT/feedback/.

    Every byte but letters, digits, "_" and "-" is %-escaped (so "/", "." and "%"
    too: different paths give different names, and none is hidden or "..");
    long names are cut and end with a hash of the whole.

    >>> feedback_name(("alice", "a.md", "b.ipynb")), feedback_name(("alice", "a.ipynb"))
    (('alice', 'a%2Emd%2Fb.md'), ('alice', 'a.md'))
    """
    if len(parts) == 1:
        student = parts[0][: -len(".ipynb")] if parts[0].endswith(".ipynb") else parts[0]
        notebook = parts[0]
    else:
        student, notebook = parts[0], "/".join(parts[1:])
    stem = notebook[: -len(".ipynb")] if notebook.endswith(".ipynb") else notebook
    return _safe_component(student), _safe_component(stem) + ".md"


def _write_atomically(path: Path, text: str) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as file:
            file.write(text)
        os.chmod(temporary, 0o600)
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
                    csv_cell(row.student),
                    csv_cell(row.notebook),
                    csv_cell(row.exercise),
                    format_points(row.points),
                    format_points(row.max_points),
                    row.status,
                    csv_cell(_one_line(row.message)),
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
                csv_cell(student),
                format_points(sum(per_lesson)),
                format_points(total_max),
                *(format_points(points) for points in per_lesson),
            ]
        )
    return _csv_text(header, rows)


def _cell(text: str) -> str:
    return markdown_text(text)


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
    lines = [
        f"# Feedback on {markdown_text(submission.notebook)} ({markdown_text(submission.student)})",
        "",
    ]
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
        lines += ["", f"## {markdown_text(row.exercise)}: {markdown_text(spec.title)}", ""]
        for case in result.cases:
            mark = {"passed": "passed", "not_attempted": "not attempted"}.get(
                case.status, case.status
            )
            detail = f": {markdown_text(case.message)}" if case.message else ""
            lines.append(f"- {markdown_text(case.label)}: {mark}{detail}")
        if spec.hint and row.status != "passed":
            lines += ["", f"Hint: {markdown_text(spec.hint)}"]
    if item.cell_problems:
        lines += ["", "## Cells that raised an exception", ""]
        lines += [
            f"- cell {int(problem.get('cell', 0))}: {markdown_text(problem.get('error', ''))}"
            for problem in item.cell_problems
        ]
        lines += [
            "",
            "The grader runs every cell in order and goes on after an error, as "
            "Jupyter's Run All with errors allowed would.",
        ]
    if len(siblings) > 1 and submission.lesson is not None:
        names = ", ".join(markdown_text(s.submission.notebook) for s in siblings)
        chosen = "this one" if best is item else markdown_text(best.submission.notebook)
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


def _write_new(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)


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
        shutil.rmtree(retired, ignore_errors=True)
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
    built = Path(tempfile.mkdtemp(dir=out, prefix=".feedback-new-"))  # mode 0700
    try:
        for item in graded:
            submission = item.submission
            folder, name = feedback_name(submission.parts)
            path = built / folder / name
            if not path.parent.is_dir():
                path.parent.mkdir(mode=0o700)
            key = (submission.student, submission.lesson)
            try:
                text = _feedback(item, specs, order, by_lesson[key], best.get(key))
            except Exception as error:  # one odd submission must not cost the others
                text = (
                    f"# Feedback on {markdown_text(submission.display)}\n\nThe report could "
                    f"not be written ({type(error).__name__}); see grades.csv.\n"
                )
            _write_new(path, text)
        _replace_folder(built, out / "feedback")
    except BaseException:
        shutil.rmtree(built, ignore_errors=True)
        raise
    _write_atomically(out / "grades.csv", _grades_csv(graded, order))
    _write_atomically(out / "summary.csv", _summary_csv(graded, lesson_points))
