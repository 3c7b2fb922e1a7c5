"""The class report: exercises.csv and report.html, from the rows alone.

(a) the statistics on rows written by hand: each student once per lesson (the
    counted notebook), pass rates by what the cases earned (a flagged answer
    still passed), mistakes and failed cases counted per student;
(b) report.html is self-contained (no script, no external address, figures
    as data: URIs), escapes every text a submission chose, and has the same
    bytes in another process;
(c) a class of lesson 02 graded for real gets the numbers its answers earn,
    hostile folder names and messages included (the browser test opens it).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from class_report_fixtures import HOSTILE_MESSAGE, HOSTILE_NAMES, grade_class

from utils.grading._class_report import (
    class_statistics,
    exercises_csv,
    report_html,
    write_class_outputs,
)
from utils.grading._grade import Row

ROOT = Path(__file__).resolve().parents[1]
MAXIMUM_BACK = "did not add the maximum m back"


def row(student, exercise, status, points, **fields) -> Row:
    fields.setdefault("lesson", exercise[:2])
    fields.setdefault("checked_status", status)
    return Row(
        student, "nb.ipynb", exercise, points, 2.0, status, fields.pop("message", ""), **fields
    )


def hand_written_rows() -> list[Row]:
    return [
        row("ann", "02.logsumexp", "passed", 2.0),
        row(
            "ben",
            "02.logsumexp",
            "failed",
            0.0,
            diagnoses=("forgot m",),
            failed_cases=("case 1", "hidden case 2"),
        ),
        row(
            "cid",
            "02.logsumexp",
            "partial",
            1.0,
            diagnoses=("forgot m", "log2"),
            failed_cases=("hidden case 2",),
        ),
        row("dot", "02.logsumexp", "not_attempted", 0.0, failed_cases=("case 1", "hidden case 2")),
        row(
            "eve",
            "02.logsumexp",
            "flagged",
            2.0,
            checked_status="passed",
            own_calls=("utils.logsumexp",),
        ),
        row("fin", "02.logsumexp", "error", 0.0, failed_cases=("case 1", "hidden case 1")),
        # fin's other notebook of lesson 02: summary.csv does not count it, nor does the report.
        row("fin", "02.logsumexp", "passed", 2.0, counted=False),
        Row("gus", "x.ipynb", "-", 0.0, 0.0, "invalid", "not a notebook"),
    ]


# --- (a) statistics ---------------------------------------------------------------------------


def test_statistics_count_each_student_once_by_what_the_cases_earned():
    (item,) = class_statistics(hand_written_rows())
    assert item.exercise == "02.logsumexp"
    assert item.students == 6
    assert item.attempted == 5
    assert item.statuses["passed"] == 2  # ann, and eve's flagged answer
    assert item.flagged == 1
    assert item.mean_points == pytest.approx(5.0 / 6)
    assert item.mistakes == {"forgot m": 2, "log2": 1}
    # Only answers that ran and were wrong say which cases catch mistakes.
    assert item.failed_cases == {"hidden case 2": 2, "case 1": 1}


def test_exercises_csv_has_one_row_per_exercise_with_counts_and_top_mistakes():
    text = exercises_csv(class_statistics(hand_written_rows()))
    (line,) = list(csv.DictReader(io.StringIO(text)))
    assert line["exercise"] == "02.logsumexp"
    assert line["title"] == "log-sum-exp without overflow"
    assert (line["students"], line["attempted"], line["passed"]) == ("6", "5", "2")
    assert (line["partial"], line["failed"], line["error"], line["flagged"]) == ("1", "1", "1", "1")
    assert (line["mean_points"], line["max_points"]) == ("0.83", "2")
    assert line["top_mistakes"] == "forgot m: 2 students | log2: 1 student"
    assert line["most_failed_cases"] == "hidden case 2: 2 students | case 1: 1 student"


# --- (b) the page -------------------------------------------------------------------------------

ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "span", "code"}
ALLOWED_TAGS |= {"table", "thead", "tbody", "tr", "th", "td", "div", "img"}


class Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attributes):
        self.tags.append((tag, dict(attributes)))

    def handle_data(self, data):
        self.text.append(data)


def parsed(page: str) -> Elements:
    elements = Elements()
    elements.feed(page)
    return elements


def assert_self_contained_and_inert(page: str) -> Elements:
    elements = parsed(page)
    assert {tag for tag, _ in elements.tags} <= ALLOWED_TAGS
    for tag, attributes in elements.tags:
        assert not [name for name in attributes if name.startswith("on")], (tag, attributes)
        assert "href" not in attributes
        if tag == "img":
            assert attributes["src"].startswith("data:image/svg+xml;base64,")
    assert "url(" not in page
    assert "@import" not in page
    return elements


def hostile_rows() -> list[Row]:
    rows = hand_written_rows()
    rows.append(
        row(
            HOSTILE_NAMES[0],
            "02.logsumexp",
            "error",
            0.0,
            message=f"ValueError: {HOSTILE_MESSAGE}",
            cell="cell 4 (id <b>x</b>)",
        )
    )
    rows.append(row(HOSTILE_NAMES[1], "02.logsumexp", "timeout", 0.0, message="<i>slow</i>"))
    return rows


def test_report_is_self_contained_and_escapes_every_submission_text():
    page = report_html(hostile_rows(), {"02": 6.0})
    elements = assert_self_contained_and_inert(page)
    text = "".join(elements.text)
    for name in HOSTILE_NAMES:
        assert name in text  # shown, as text
        assert name not in page  # never raw
    assert f"ValueError: {HOSTILE_MESSAGE}" in text
    assert "cell 4 (id <b>x</b>)" in text
    images = [attributes for tag, attributes in elements.tags if tag == "img"]
    assert [image["data-figure"] for image in images] == ["scores-02", "pass-rate", "hidden-cases"]
    for image in images:
        svg = base64.b64decode(image["src"].split(",", 1)[1]).decode()
        assert svg.startswith("<?xml")
        assert "<svg" in svg
        assert "<dc:date>" not in svg  # no date: the bytes do not change with time


def test_report_numbers_match_the_rows():
    elements = parsed(report_html(hand_written_rows(), {"02": 6.0}))
    cells = [data.strip() for data in elements.text if data.strip()]
    # The exercises table: 02.logsumexp, its title, students, attempted, passed, rate, mean, max.
    start = next(i for i, c in enumerate(cells) if c == "02.logsumexp")
    assert cells[start : start + 8] == [
        "02.logsumexp",
        "log-sum-exp without overflow",
        "6",
        "5",
        "2",
        "33%",
        "0.83",
        "2",
    ]


REPORT_DIGEST = """
import hashlib, sys
sys.path.insert(0, "tests")
from test_class_report import hostile_rows
from utils.grading._class_report import report_html
print(hashlib.sha256(report_html(hostile_rows(), {"02": 6.0}).encode()).hexdigest())
"""


def test_report_has_the_same_bytes_in_another_process():
    here = hashlib.sha256(report_html(hostile_rows(), {"02": 6.0}).encode()).hexdigest()
    there = subprocess.run(
        [sys.executable, "-c", REPORT_DIGEST],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert there == here


def test_writer_writes_exercises_and_report_and_no_lms_files_without_a_roster(tmp_path: Path):
    write_class_outputs(tmp_path, hand_written_rows(), {"02": 6.0}, None)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["exercises.csv", "report.html"]


def test_an_empty_class_still_gets_a_report(tmp_path: Path):
    rows = [Row("gus", "x.ipynb", "-", 0.0, 0.0, "invalid", "not a notebook")]
    write_class_outputs(tmp_path, rows, {}, None)
    page = (tmp_path / "report.html").read_text()
    assert_self_contained_and_inert(page)
    assert "No notebook of a known lesson was handed in." in page
    assert (tmp_path / "exercises.csv").read_text().count("\n") == 1  # the header


# --- (c) a graded class ------------------------------------------------------------------------


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    return grade_class(tmp_path_factory.mktemp("report-class"))


def test_a_graded_class_gets_the_numbers_its_answers_earn(graded: Path):
    lines = {line["exercise"]: line for line in read_csv(graded / "exercises.csv")}
    assert list(lines) == ["02.stable_softmax", "02.logsumexp", "02.log_softmax"]
    logsumexp = lines["02.logsumexp"]
    # ada right, bob untouched, cy dee and one hostile student forgot m, eli log2 (partial),
    # fay a syntax error, the other hostile student raises.
    assert logsumexp["students"] == "8"
    assert logsumexp["attempted"] == "7"
    assert logsumexp["passed"] == "1"
    assert logsumexp["partial"] == "1"
    assert logsumexp["failed"] == "3"
    assert logsumexp["error"] == "2"
    first_mistake = logsumexp["top_mistakes"].split(" | ")[0]
    assert MAXIMUM_BACK in first_mistake
    assert first_mistake.endswith(": 3 students")
    assert "natural logarithm" in logsumexp["top_mistakes"]
    assert lines["02.stable_softmax"]["passed"] == "7"
    summary = {line["student"]: line for line in read_csv(graded / "summary.csv")}
    mean = sum(float(line["lesson_02"]) for line in summary.values()) / len(summary)
    means = sum(float(line["mean_points"]) for line in lines.values())
    assert means == pytest.approx(mean, abs=0.02)


def test_a_graded_class_report_is_escaped_and_self_contained(graded: Path):
    page = (graded / "report.html").read_text()
    elements = assert_self_contained_and_inert(page)
    text = "".join(elements.text)
    assert HOSTILE_NAMES[0] in text  # its answer raised: listed under "need a look"
    for name in HOSTILE_NAMES:
        assert name not in page
    assert HOSTILE_MESSAGE in text
    assert HOSTILE_MESSAGE not in page
    assert "SyntaxError" in text  # fay's cell, under "Submissions that need a look"
    assert (graded / "report.html").stat().st_mode & 0o777 == 0o600


def test_a_report_that_cannot_be_drawn_leaves_a_note_and_the_other_files(
    tmp_path: Path, monkeypatch
):
    from utils.grading import _class_report

    def broken(*arguments):
        raise RuntimeError("no figures today")

    monkeypatch.setattr(_class_report, "pass_rate_figure", broken)
    write_class_outputs(tmp_path, hand_written_rows(), {"02": 6.0}, None)
    page = (tmp_path / "report.html").read_text()
    assert "report.html could not be written (RuntimeError)" in page
    assert "no figures today" not in page
    assert (tmp_path / "exercises.csv").read_text().startswith("exercise,lesson,title")


def test_roster_problems_in_the_report_are_escaped():
    from utils.grading._lms import parse_roster

    roster = parse_roster("folder,name\nann,<b>Ann</b>\nzed,Zed\n")
    page = report_html(hostile_rows(), {"02": 6.0}, roster)
    text = "".join(assert_self_contained_and_inert(page).text)
    assert "<b>Ann</b>" not in page
    assert HOSTILE_NAMES[1] in text  # not in the roster: listed, as text
    assert "Zed" in text  # on the roster, no submission
