"""The LMS export: the roster, canvas.csv and moodle.csv.

(a) rosters: the documented columns in any order and case, a Canvas export
    with a `folder` column added, and a one-line error for every bad file;
(b) canvas.csv has Canvas's gradebook import layout (Student, ID, SIS User
    ID, SIS Login ID, Section, one column per lesson, a Points Possible row),
    moodle.csv an identifier and a column per lesson; the points are
    summary.csv's; students missing on either side are reported, not crashed;
(c) a class graded for real with --roster, and the same class graded in 3
    shards and merged, give the same LMS files byte for byte.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from pathlib import Path

import pytest
from class_report_fixtures import grade_class, run_grader

from utils.grading._grade import Row
from utils.grading._lms import (
    POINTS_POSSIBLE,
    RosterEntry,
    canvas_csv,
    load_roster,
    moodle_csv,
    parse_roster,
    roster_problems_csv,
)

CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def table(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


# --- (a) rosters ---------------------------------------------------------------------------------


def test_roster_reads_the_documented_columns_in_any_order_and_case():
    roster = parse_roster(
        "\ufeffSIS User ID,Email Address,folder,Name,section,SIS_Login_ID,id\n"
        's001,ada@example.edu,ada,"Lovelace, Ada",A,alove,101\n'
        "\n"
        "s002,,bob,Bob,B,,102\n"
    )
    assert roster.entries == (
        RosterEntry("ada", "Lovelace, Ada", "101", "s001", "alove", "A", "ada@example.edu"),
        RosterEntry("bob", "Bob", "102", "s002", "", "B", ""),
    )


def test_a_canvas_export_with_a_folder_column_is_a_roster():
    export = (
        "Student,ID,SIS User ID,SIS Login ID,Section,Homework 1 (5521),folder\n"
        "    Points Possible,,,,,10,\n"
        ",,,,,Manual Posting,\n"
        '"Lovelace, Ada",101,s001,alove,Section A,9,ada\n'
    )
    (entry,) = parse_roster(export).entries
    assert entry == RosterEntry("ada", "Lovelace, Ada", "101", "s001", "alove", "Section A")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("name,id\nAda,1\n", "no 'folder' column"),
        ("folder,name\nada,Ada\nada,Ada again\n", "line 3: folder 'ada' is already on line 2"),
        ("folder,id\nada,1\nbob,1\n", "line 3: id '1' is already on line 2"),
        ("folder,name\n,Ada\n", "line 2: no folder for this student"),
        ("folder,Student,student name\nada,A,B\n", "two columns mean 'name'"),
        ("folder\n\n\n", "no students"),
    ],
)
def test_a_bad_roster_is_refused_in_one_line(text, message):
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        parse_roster(text)


def test_a_roster_that_is_not_utf8_or_too_large_is_refused(tmp_path: Path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes("folder,name\nzoe,Zoë\n".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8"):
        load_roster(str(latin))
    huge = tmp_path / "huge.csv"
    huge.write_bytes(b"folder\n" + b"x" * (17 << 20))
    with pytest.raises(ValueError, match="larger than 16 MiB"):
        load_roster(str(huge))


# --- (b) the files ------------------------------------------------------------------------------


def rows() -> list[Row]:
    def row(student, lesson, exercise, points, counted=True):
        return Row(
            student,
            f"{lesson}.ipynb",
            exercise,
            points,
            2.0,
            "partial",
            "",
            lesson=lesson,
            counted=counted,
        )

    return [
        row("ada", "02", "02.logsumexp", 2.0),
        row("ada", "02", "02.log_softmax", 1.5),
        row("ada", "02", "02.log_softmax", 2.0, counted=False),  # a second notebook, not counted
        row("ada", "03", "03.temperature", 1.0),
        row("bob", "02", "02.logsumexp", 0.0),
        row("=cmd|' /C calc'!A0", "02", "02.logsumexp", 2.0),  # not in the roster
    ]


ROSTER = parse_roster(
    "folder,name,id,sis_user_id,sis_login_id,section,email\n"
    "bob,@SUM(1+1),102,s002,bob2,B,bob@example.edu\n"
    '"ada","Lovelace, Ada",101,s001,alove,A,ada@example.edu\n'
    "zoe,Zoe,103,s003,zoe3,A,\n"
)


def test_canvas_csv_has_canvas_import_layout():
    lines = table(canvas_csv(rows(), {"02": 6.0, "03": 4.0}, ROSTER))
    assert lines[0] == [*CANVAS_HEADER, "Lesson 02", "Lesson 03"]
    assert lines[1] == ["    " + POINTS_POSSIBLE, "", "", "", "", "6", "4"]
    assert lines[2:] == [
        ["'@SUM(1+1)", "102", "s002", "bob2", "B", "0", ""],  # a formula shown as text
        ["Lovelace, Ada", "101", "s001", "alove", "A", "3.5", "1"],
        ["Zoe", "103", "s003", "zoe3", "A", "", ""],  # no submission: left unchanged in Canvas
    ]


def test_moodle_csv_has_an_identifier_and_a_column_per_lesson():
    lines = table(moodle_csv(rows(), {"02": 6.0, "03": 4.0}, ROSTER))
    assert lines[0] == [
        "Full name",
        "ID number",
        "Username",
        "Email address",
        "Lesson 02",
        "Lesson 03",
    ]
    assert lines[2] == ["Lovelace, Ada", "s001", "alove", "ada@example.edu", "3.5", "1"]
    assert len(lines) == 4  # no Points Possible row: Moodle would read it as a student


def test_students_missing_on_either_side_are_reported():
    lines = table(roster_problems_csv(rows(), ROSTER))
    assert lines == [
        ["problem", "folder", "name", "note"],
        ["no submission", "zoe", "Zoe", ""],
        ["not in the roster", "'=cmd|' /C calc'!A0", "", ""],
    ]


def test_folders_match_in_any_unicode_normalization_and_case_is_pointed_out():
    decomposed = unicodedata.normalize("NFD", "jörg")
    assert decomposed != "jörg"
    graded = [
        Row(decomposed, "02.ipynb", "02.logsumexp", 2.0, 2.0, "passed", "", lesson="02"),
        Row("Alice", "02.ipynb", "02.logsumexp", 1.0, 2.0, "partial", "", lesson="02"),
    ]
    roster = parse_roster("folder,name,id\njörg ,Jörg M,201\nalice,Alice,202\n")
    lines = table(canvas_csv(graded, {"02": 2.0}, roster))
    assert lines[2] == ["Jörg M", "201", "", "", "", "2"]
    assert lines[3] == ["Alice", "202", "", "", "", ""]  # Alice is not alice: not guessed
    problems = table(roster_problems_csv(graded, roster))[1:]
    assert problems == [
        ["no submission", "alice", "Alice", "differs only in letter case from Alice"],
        ["not in the roster", "Alice", "", ""],
    ]
    with pytest.raises(ValueError, match="already on line 2"):
        parse_roster(f"folder\njörg\n{decomposed}\n")


def test_identity_columns_are_written_exactly_as_the_roster_has_them():
    roster = parse_roster(
        "folder,name,id,sis_user_id,sis_login_id,email\nada,=Ada,-101,+S101,@ada,=a@b.c\n"
    )
    graded = [Row("ada", "02.ipynb", "02.logsumexp", 2.0, 2.0, "passed", "", lesson="02")]
    canvas = table(canvas_csv(graded, {"02": 2.0}, roster))
    assert canvas[2] == ["'=Ada", "-101", "+S101", "@ada", "", "2"]  # the LMS matches IDs
    moodle = table(moodle_csv(graded, {"02": 2.0}, roster))
    assert moodle[1] == ["'=Ada", "+S101", "@ada", "=a@b.c", "2"]


# --- (c) graded for real, in one run and in shards ----------------------------------------------

STUDENTS = ("ada", "bob", "cy", "eli")
LMS_FILES = ("canvas.csv", "moodle.csv", "roster-problems.csv", "exercises.csv", "report.html")


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def class_with_roster(tmp_path_factory):
    base = tmp_path_factory.mktemp("lms-class")
    roster = base / "roster.csv"
    roster.write_text(
        "folder,name,id,sis_user_id\n"
        "eli,Eli,4,s4\nada,Ada,1,s1\nbob,Bob,2,s2\nzed,Zed,9,s9\n"  # zed: no submission
    )
    out = grade_class(base, "--roster", roster, only=STUDENTS)
    return base, roster, out


def test_canvas_points_are_summary_points(class_with_roster):
    _, _, out = class_with_roster
    summary = {line["student"]: line["lesson_02"] for line in read_csv(out / "summary.csv")}
    canvas = table((out / "canvas.csv").read_text())
    assert canvas[0] == [*CANVAS_HEADER, "Lesson 02"]
    assert [line[0] for line in canvas[2:]] == ["Eli", "Ada", "Bob", "Zed"]
    assert {line[0]: line[5] for line in canvas[2:]} == {
        "Eli": summary["eli"],
        "Ada": summary["ada"],
        "Bob": summary["bob"],
        "Zed": "",
    }
    assert canvas[1][5] == "6"
    problems = table((out / "roster-problems.csv").read_text())[1:]
    assert problems == [["no submission", "zed", "Zed", ""], ["not in the roster", "cy", "", ""]]
    for name in ("canvas.csv", "moodle.csv", "roster-problems.csv"):
        assert (out / name).stat().st_mode & 0o777 == 0o600


def test_shards_merged_give_the_same_lms_files_as_one_run(class_with_roster):
    base, roster, out = class_with_roster
    shards = [
        grade_class(base, "--roster", roster, "--shard", f"{k}/3", only=STUDENTS, out=f"shard{k}")
        for k in (1, 2, 3)
    ]
    merged = base / "merged"
    result = run_grader(base / "course", "merge", *shards, "--out", merged, "--roster", roster)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in LMS_FILES:
        assert (merged / name).read_bytes() == (out / name).read_bytes(), name


def test_a_bad_roster_stops_grading_before_it_starts(tmp_path: Path, class_with_roster):
    base, _, _ = class_with_roster
    bad = tmp_path / "roster.csv"
    bad.write_text("name,id\nAda,1\n")
    out = tmp_path / "out"
    result = run_grader(base / "course", base / "submissions", "--out", out, "--roster", bad)
    assert result.returncode == 2
    assert "no 'folder' column" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (out / "grades.csv").exists()


def test_a_roster_that_is_not_a_regular_file_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="not a regular file"):
        load_roster("/dev/null")
    with pytest.raises(IsADirectoryError):
        load_roster(str(tmp_path))
