"""The LMS export: a roster of the class, and grade files Canvas and Moodle import as they are.

`--roster roster.csv` maps each submission folder to the student's identity in
the LMS. Its header names the columns (any order, any case; spaces, "_" and
"-" ignored); only `folder` is required:

| column | meaning | Canvas column | Moodle column |
| --- | --- | --- | --- |
| `folder` | the submission folder's name (the `student` of grades.csv) | | |
| `name` (or `student`) | the student's name, as the LMS shows it | Student | Full name |
| `id` | Canvas's user ID | ID | |
| `sis_user_id` | the institution's student ID | SIS User ID | ID number |
| `sis_login_id` | the login | SIS Login ID | Username |
| `section` | the section | Section | |
| `email` (or `email address`) | the e-mail address | | Email address |

Canvas's own gradebook export has the same columns (Student, ID, SIS User ID,
SIS Login ID, Section): add a `folder` column to it and it is a roster (its
"Points Possible" row and its assignment columns are ignored).

With a roster the grader writes, beside grades.csv:
- `canvas.csv`: Canvas's gradebook import layout: Student, ID, SIS User ID,
  SIS Login ID, Section, then one column per lesson ("Lesson 02"), a second
  row "Points Possible" with each lesson's maximum, then one row per student
  of the roster, in roster order;
- `moodle.csv`: Full name, ID number, Username, Email address, one column per
  lesson, one row per student; Moodle's CSV import maps one identifier column
  to its user field and each lesson column to a grade item;
- `roster-problems.csv`: students of the roster without any submission, and
  submission folders the roster does not name (graded, but in no LMS file).
A lesson's cell holds the points summary.csv counts for it (the best
notebook of the lesson) and is empty when the student handed in no notebook
of that lesson: both LMSs leave an empty cell unchanged.

A roster folder matches a submission folder when both are equal after
Unicode NFC normalization and trimming (a zip made on macOS stores "jörg"
decomposed); letter case counts, and roster-problems.csv points out folders
that differ only in case. IDs, logins and e-mail addresses are written
exactly as the roster has them (the LMS matches them literally); names and
sections that a spreadsheet would run as a formula get a leading quote.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

__all__ = [
    "MAX_ROSTER_BYTES",
    "Roster",
    "RosterEntry",
    "canvas_csv",
    "lesson_scores",
    "load_roster",
    "moodle_csv",
    "parse_roster",
    "roster_problems_csv",
]

MAX_ROSTER_BYTES = 16 << 20
MAX_ROSTER_ROWS = 100_000
FIELDS = ("folder", "name", "id", "sis_user_id", "sis_login_id", "section", "email")
_ALIASES = {
    "folder": "folder",
    "submission": "folder",
    "submissionfolder": "folder",
    "name": "name",
    "student": "name",
    "studentname": "name",
    "id": "id",
    "canvasid": "id",
    "sisuserid": "sis_user_id",
    "sisloginid": "sis_login_id",
    "section": "section",
    "email": "email",
    "emailaddress": "email",
}
POINTS_POSSIBLE = "Points Possible"


@dataclass(frozen=True)
class RosterEntry:
    """One student of the roster: their submission folder and LMS identity."""

    folder: str
    name: str = ""
    id: str = ""
    sis_user_id: str = ""
    sis_login_id: str = ""
    section: str = ""
    email: str = ""


@dataclass(frozen=True)
class Roster:
    """The class, in the roster's order."""

    entries: tuple[RosterEntry, ...]

    def folders(self) -> set[str]:
        return {entry.folder for entry in self.entries}


def _key(header: str) -> str:
    return re.sub(r"[\s_\-]+", "", header.strip().lower())


def parse_roster(text: str) -> Roster:
    """A Roster from the CSV text; ValueError (one line, naming the line) if it is not one.

    >>> parse_roster("Folder,Name,SIS User ID\\nalice,\\"Liddell, Alice\\",s001\\n").entries
    (RosterEntry(folder='alice', name='Liddell, Alice', id='', sis_user_id='s001', \
sis_login_id='', section='', email=''),)
    """
    text = text.removeprefix("\ufeff")
    try:
        lines = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise ValueError(f"not a CSV file ({error})") from None
    if not lines or not any(cell.strip() for cell in lines[0]):
        raise ValueError("empty: the first line must name the columns (folder, name, id, ...)")
    if len(lines) > MAX_ROSTER_ROWS + 1:
        raise ValueError(f"more than {MAX_ROSTER_ROWS} students")
    columns: dict[str, int] = {}
    for index, header in enumerate(lines[0]):
        field = _ALIASES.get(_key(header))
        if field is None:
            continue  # other columns (a Canvas export's assignments) are ignored
        if field in columns:
            raise ValueError(f"two columns mean {field!r} ({header.strip()!r} and another)")
        columns[field] = index
    if "folder" not in columns:
        found = ", ".join(repr(h.strip()) for h in lines[0][:8])
        raise ValueError(
            f"no 'folder' column (the submission folder of each student); found {found}"
        )
    entries, seen = [], {}
    unique: dict[str, dict[str, int]] = defaultdict(dict)
    for number, line in enumerate(lines[1:], start=2):
        if not any(cell.strip() for cell in line):
            continue
        values = {
            field: line[index].strip() if index < len(line) else ""
            for field, index in columns.items()
        }
        if not values["folder"]:
            identity = [values.get(f, "") for f in ("name", "id", "sis_user_id", "sis_login_id")]
            if not any(identity) or POINTS_POSSIBLE in (identity[0], line[0].strip()):
                continue  # a Canvas export's "Points Possible" or "Manual Posting" row
            raise ValueError(f"line {number}: no folder for this student")
        key = folder_key(values["folder"])
        if key in seen:
            raise ValueError(
                f"line {number}: folder {values['folder']!r} is already on line {seen[key]}"
            )
        seen[key] = number
        for field in ("id", "sis_user_id", "sis_login_id", "email"):
            value = values.get(field, "")
            if value and value in unique[field]:
                raise ValueError(
                    f"line {number}: {field} {value!r} is already on line {unique[field][value]}"
                )
            if value:
                unique[field][value] = number
        entries.append(RosterEntry(**values))
    if not entries:
        raise ValueError("no students: every line below the header is empty")
    return Roster(tuple(entries))


def load_roster(path: str) -> Roster:
    """Read and parse a roster file; ValueError or OSError (one line) if it cannot be used."""
    with open(path, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            raise ValueError("not a regular file")
        data = file.read(MAX_ROSTER_BYTES + 1)
    if len(data) > MAX_ROSTER_BYTES:
        raise ValueError(f"larger than {MAX_ROSTER_BYTES >> 20} MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"not UTF-8 (byte {error.start}); save it as CSV UTF-8 from the spreadsheet"
        ) from None
    return parse_roster(text)


def lesson_scores(rows) -> dict[tuple[str, str], float]:
    """(student, lesson) -> the points summary.csv counts, for every lesson handed in."""
    scores: dict[tuple[str, str], float] = defaultdict(float)
    for row in rows:
        if row.counted and row.lesson:
            scores[(row.student, row.lesson)] += row.points
    return dict(scores)


def lesson_column(lesson: str) -> str:
    return f"Lesson {lesson}"


def folder_key(name: str) -> str:
    """How a roster folder and a submission folder are compared: Unicode NFC (a zip made on
    macOS writes names decomposed, NFD), without surrounding spaces. Letter case counts."""
    return unicodedata.normalize("NFC", name).strip()


def match_students(rows, roster: Roster) -> dict[str, list[str]]:
    """roster folder -> the submission folders (grades.csv's `student`) that match it."""
    students: dict[str, list[str]] = defaultdict(list)
    for student in sorted({row.student for row in rows}):
        students[folder_key(student)].append(student)
    return {entry.folder: students.get(folder_key(entry.folder), []) for entry in roster.entries}


def _shown(value: str) -> str:
    """A name or section as the LMS shows it: one line, and no formula for a spreadsheet."""
    from utils.grading._report import csv_cell

    return csv_cell(" ".join(value.split()))


def _identity(value: str) -> str:
    """An ID, login or e-mail address exactly as the roster has it: the LMS matches it
    literally, so a quote in front would make the student unknown."""
    return value


def _csv(lines: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(lines)
    return buffer.getvalue()


def _score_cells(matched: list[str], lessons, scores) -> list[str]:
    """A lesson's points, or "" when the student handed in none of it (or when several
    submission folders match the roster's, which roster-problems.csv lists)."""
    from utils.grading._report import format_points

    if len(matched) != 1:
        return ["" for _ in lessons]
    (student,) = matched
    return [
        format_points(scores[(student, lesson)]) if (student, lesson) in scores else ""
        for lesson in lessons
    ]


def canvas_csv(rows, lesson_points: dict[str, float], roster: Roster) -> str:
    """Canvas's gradebook import file: identity columns, one column per lesson."""
    from utils.grading._report import format_points

    lessons = sorted(lesson_points)
    scores, matches = lesson_scores(rows), match_students(rows, roster)
    header = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    lines = [[*header, *(lesson_column(lesson) for lesson in lessons)]]
    maxima = [format_points(lesson_points[lesson]) for lesson in lessons]
    lines.append(["    " + POINTS_POSSIBLE, "", "", "", "", *maxima])
    for entry in roster.entries:
        lines.append(
            [
                _shown(entry.name or entry.folder),
                *(_identity(v) for v in (entry.id, entry.sis_user_id, entry.sis_login_id)),
                _shown(entry.section),
                *_score_cells(matches[entry.folder], lessons, scores),
            ]
        )
    return _csv(lines)


def moodle_csv(rows, lesson_points: dict[str, float], roster: Roster) -> str:
    """A file for Moodle's CSV grade import: identifier columns, one column per lesson."""
    lessons = sorted(lesson_points)
    scores, matches = lesson_scores(rows), match_students(rows, roster)
    header = ["Full name", "ID number", "Username", "Email address"]
    lines = [[*header, *(lesson_column(lesson) for lesson in lessons)]]
    for entry in roster.entries:
        lines.append(
            [
                _shown(entry.name or entry.folder),
                *(_identity(v) for v in (entry.sis_user_id, entry.sis_login_id, entry.email)),
                *_score_cells(matches[entry.folder], lessons, scores),
            ]
        )
    return _csv(lines)


def roster_problems(rows, roster: Roster) -> list[tuple[str, str, str, str]]:
    """(problem, folder, name, note): roster students without a submission (or with
    several matching folders), and submission folders the roster does not name."""
    matches = match_students(rows, roster)
    matched = {student for students in matches.values() for student in students}
    unknown = sorted({row.student for row in rows} - matched)
    by_case = defaultdict(list)
    for student in unknown:
        by_case[folder_key(student).casefold()].append(student)
    problems = []
    for entry in roster.entries:
        found = matches[entry.folder]
        if not found:
            alike = by_case.get(folder_key(entry.folder).casefold(), [])
            note = f"differs only in letter case from {', '.join(alike)}" if alike else ""
            problems.append(("no submission", entry.folder, entry.name, note))
        elif len(found) > 1:
            note = f"{len(found)} submission folders match it: no grade written"
            problems.append(("several submissions", entry.folder, entry.name, note))
    problems += [("not in the roster", student, "", "") for student in unknown]
    return problems


def roster_problems_csv(rows, roster: Roster) -> str:
    lines = [["problem", "folder", "name", "note"]]
    lines += [
        [problem, _shown(folder), _shown(name), _shown(note)]
        for problem, folder, name, note in roster_problems(rows, roster)
    ]
    return _csv(lines)
