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
import dataclasses
import hashlib
import io
import json
import os
import re
import shutil
import stat
import tempfile
from collections import defaultdict
from pathlib import Path

from utils.exercises import Exercise
from utils.grading._grade import STATUSES, Graded, Row

__all__ = [
    "GRADE_COLUMNS",
    "MANIFEST_FILE",
    "ROWS_FILE",
    "best_per_lesson",
    "csv_cell",
    "feedback_name",
    "format_points",
    "markdown_text",
    "read_rows",
    "row_line",
    "write_gradebook",
    "write_outputs",
]

GRADE_COLUMNS = (
    "student",
    "notebook",
    "exercise",
    "points",
    "max_points",
    "status",
    "message",
    "cell",
)
ROWS_FILE = "rows.jsonl"
MANIFEST_FILE = "grading.json"
_ROW_FIELDS = tuple(field.name for field in dataclasses.fields(Row))
_TUPLE_FIELDS = ("diagnoses", "failed_cases", "own_calls")
MAX_ROWS_BYTES = 1 << 30


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
    """(student, lesson) -> that student's best notebook of the lesson (ties: the first in
    the gradebook's order)."""
    best: dict[tuple[str, str], Graded] = {}
    for item in graded:
        lesson = item.submission.lesson
        if lesson is None:
            continue
        key = (item.submission.student, lesson)
        points = sum(row.points for row in item.rows)
        if key not in best or points > sum(row.points for row in best[key].rows):
            best[key] = item
    return best


def row_line(row: Row) -> str:
    """One line of rows.jsonl (without its newline): every field, in order."""
    return json.dumps(dataclasses.asdict(row), ensure_ascii=False, separators=(",", ":"))


def _row_from(item) -> Row:
    if not isinstance(item, dict) or tuple(item) != _ROW_FIELDS:
        raise ValueError("a line is not a grades row with the fields in order")
    values = dict(item)
    for name in _TUPLE_FIELDS:
        if not isinstance(values[name], list) or not all(isinstance(v, str) for v in values[name]):
            raise ValueError(f"a row's {name} is not a list of strings")
        values[name] = tuple(values[name])
    for name in ("points", "max_points"):
        if type(values[name]) not in (int, float) or not 0 <= values[name] <= 1e6:
            raise ValueError(f"a row's {name} is not a number of points")
        values[name] = float(values[name])
    if not isinstance(values["counted"], bool):
        raise ValueError("a row's counted is not true or false")
    if values["status"] not in STATUSES or values["checked_status"] not in STATUSES:
        raise ValueError("a row has an unknown status")
    points, maximum, status = values["points"], values["max_points"], values["status"]
    if points > maximum or (status == "passed" and points != maximum):
        raise ValueError(f"a row's points do not fit its status {status}")
    if status in ("failed", "not_attempted", "error", "timeout", "invalid") and points != 0:
        raise ValueError(f"a row's points do not fit its status {status}")
    for name in _ROW_FIELDS:
        if name not in (*_TUPLE_FIELDS, "points", "max_points", "counted") and not isinstance(
            values[name], str
        ):
            raise ValueError(f"a row's {name} is not text")
    return Row(**values)


def read_rows(path: Path) -> list[Row]:
    """The rows of a rows.jsonl the grader wrote; ValueError (one line) if it is not one."""
    with open(path, "rb") as file:
        data = file.read(MAX_ROWS_BYTES + 1)
    if len(data) > MAX_ROWS_BYTES:
        raise ValueError(f"{path} is larger than {MAX_ROWS_BYTES >> 20} MiB")
    rows = []
    for number, line in enumerate(data.decode("utf-8").split("\n")[:-1], start=1):
        try:
            rows.append(_row_from(json.loads(line)))
        except (ValueError, TypeError) as error:
            raise ValueError(f"{path}, line {number}: {error}") from None
    if not data.endswith(b"\n") and data:
        raise ValueError(f"{path} does not end with a complete line")
    return rows


def _grades_csv(rows: list[Row]) -> str:
    lines = [
        [
            csv_cell(row.student),
            csv_cell(row.notebook),
            csv_cell(row.exercise),
            format_points(row.points),
            format_points(row.max_points),
            row.status,
            csv_cell(_one_line(row.message)),
            csv_cell(_one_line(row.cell)),
        ]
        for row in rows
    ]
    return _csv_text(GRADE_COLUMNS, lines)


def _summary_csv(rows: list[Row], lesson_points: dict[str, float]) -> str:
    lessons = sorted(lesson_points)
    counted: dict[tuple[str, str], float] = defaultdict(float)
    for row in rows:
        if row.counted and row.lesson:
            counted[(row.student, row.lesson)] += row.points
    students = sorted({row.student for row in rows})
    header = ["student", "points", "max_points", *(f"lesson_{lesson}" for lesson in lessons)]
    lines = []
    total_max = sum(lesson_points.values())
    for student in students:
        per_lesson = [counted.get((student, lesson), 0.0) for lesson in lessons]
        lines.append(
            [
                csv_cell(student),
                format_points(sum(per_lesson)),
                format_points(total_max),
                *(format_points(points) for points in per_lesson),
            ]
        )
    return _csv_text(header, lines)


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
    if item.cell_notes:
        lines += ["", "## Cells the grader stopped", ""]
        lines += [f"- {markdown_text(note)}" for note in item.cell_notes]
        lines += [
            "",
            "Exercises whose cells ran are graded as they are, as Jupyter's Run All would "
            "leave them after an interrupt.",
        ]
    flagged = [row for row in rows if row.status == "flagged"]
    if flagged:
        lines += ["", "## Answers that call the course's own implementation", ""]
        lines += [
            f"- {markdown_text(row.exercise)}: {markdown_text(', '.join(row.own_calls))}"
            for row in flagged
        ]
        lines += [
            "",
            "The exercise is to write this yourself: use NumPy and your own earlier "
            "functions, not the course's or a library's version of the same function.",
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


def _write_new(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


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


def _class_outputs(folder: Path, rows: list[Row], lesson_points: dict[str, float], roster):
    """The instructors' class report and LMS files, written into `folder`."""
    # class outputs (instructors): one call of their writer goes here.
    from utils.grading._class_report import write_class_outputs

    write_class_outputs(folder, rows, lesson_points, roster)


def _order_key(item: Graded):
    return (
        item.submission.student,
        item.submission.notebook,
        [os.fsencode(part) for part in item.submission.parts],
    )


def gradebook_rows(
    graded: list[Graded], specs: dict[str, Exercise]
) -> tuple[list[Graded], list[Row], dict[str, Graded]]:
    """The submissions in the gradebook's order, every row in grades.csv's order (with
    `counted` and `feedback` filled in), and each feedback path's submission."""
    order = {exercise_id: index for index, exercise_id in enumerate(specs)}
    graded = sorted(graded, key=_order_key)
    best = best_per_lesson(graded)
    counted = {id(item) for item in best.values()}
    rows, paths = [], {}
    for item in graded:
        folder, name = feedback_name(item.submission.parts)
        path, copy = f"{folder}/{name}", 1
        while path in paths:  # "bob.ipynb" beside "bob/bob.ipynb": both "bob/bob.md"
            copy += 1
            path = f"{folder}/{name[: -len('.md')]}~{copy}.md"
        paths[path] = item
        for row in sorted(item.rows, key=lambda r: (order.get(r.exercise, -1), r.exercise)):
            rows.append(
                dataclasses.replace(
                    row,
                    counted=id(item) in counted,
                    feedback=path,
                    checked_status=row.checked_status or row.status,
                )
            )
    return graded, rows, paths


def write_gradebook(
    out: Path,
    graded: list[Graded],
    specs: dict[str, Exercise],
    lesson_points: dict[str, float],
    manifest: dict | None = None,
    roster=None,
) -> None:
    """Write OUT/grades.csv, summary.csv, rows.jsonl, grading.json, the class outputs and
    OUT/feedback/<student>/<notebook>.md.

    `lesson_points` holds the maximum of every lesson present in the class;
    summary.csv's `max_points` is their sum. `manifest` goes to grading.json.
    """
    order = {exercise_id: index for index, exercise_id in enumerate(specs)}
    graded, rows, paths = gradebook_rows(graded, specs)
    best = best_per_lesson(graded)
    by_lesson: dict[tuple[str, str | None], list[Graded]] = defaultdict(list)
    for item in graded:
        by_lesson[(item.submission.student, item.submission.lesson)].append(item)
    feedback = {}
    for path, item in paths.items():
        submission = item.submission
        key = (submission.student, submission.lesson)
        try:
            text = _feedback(item, specs, order, by_lesson[key], best.get(key))
        except Exception as error:  # one odd submission must not cost the others
            text = (
                f"# Feedback on {markdown_text(submission.display)}\n\nThe report could "
                f"not be written ({type(error).__name__}); see grades.csv.\n"
            )
        feedback[path] = text.encode("utf-8")
    write_outputs(out, rows, feedback, lesson_points, manifest or {}, roster)


def manifest_text(manifest: dict) -> str:
    return json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=True) + "\n"


def write_outputs(
    out: Path,
    rows: list[Row],
    feedback: dict[str, bytes],
    lesson_points: dict[str, float],
    manifest: dict,
    roster=None,
) -> None:
    """Every output file from the rows and the feedback reports (path below feedback/ ->
    bytes): what a grading run and `merge` both write, so they give the same bytes."""
    built = Path(tempfile.mkdtemp(dir=out, prefix=".feedback-new-"))  # mode 0700
    try:
        for path, data in feedback.items():
            folder, name = path.split("/")
            target = built / folder / name
            if not target.parent.is_dir():
                target.parent.mkdir(mode=0o700)
            _write_new(target, data)
        _replace_folder(built, out / "feedback")
    except BaseException:
        shutil.rmtree(built, ignore_errors=True)
        raise
    staging = Path(tempfile.mkdtemp(dir=out, prefix=".class-new-"))
    try:
        _class_outputs(staging, rows, lesson_points, roster)
        for entry in sorted(staging.iterdir()):
            if entry.is_file():
                os.chmod(entry, 0o600)
            target = out / entry.name
            if entry.is_dir() and os.path.lexists(target):
                _replace_folder(entry, target)
            else:
                os.replace(entry, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _write_atomically(out / "grades.csv", _grades_csv(rows))
    _write_atomically(out / "summary.csv", _summary_csv(rows, lesson_points))
    rows_text = "".join(row_line(row) + "\n" for row in rows)
    _write_atomically(out / ROWS_FILE, rows_text)
    # Last, and with what it vouches for: a gradebook cut short (a failed copy, a full
    # disk, a job killed while writing) is refused by merge.
    manifest = {**manifest, "contents": gradebook_contents(rows_text.encode("utf-8"), feedback)}
    _write_atomically(out / MANIFEST_FILE, manifest_text(manifest))


def gradebook_contents(rows_bytes: bytes, feedback: dict[str, bytes]) -> dict:
    """What grading.json vouches for: the rows' count and digest, the feedback files'."""
    files = hashlib.sha256()
    for path in sorted(feedback):
        files.update(path.encode("utf-8", "surrogateescape") + b"\0")
        files.update(hashlib.sha256(feedback[path]).digest())
    return {
        "rows": rows_bytes.count(b"\n"),
        "rows_sha256": hashlib.sha256(rows_bytes).hexdigest(),
        "feedback": len(feedback),
        "feedback_sha256": files.hexdigest(),
    }
