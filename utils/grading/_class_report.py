"""The class report: what the whole class got right and wrong, beside grades.csv.

`write_class_outputs` writes, from the gradebook's rows alone (so a grading
run and `merge` give the same bytes):

- `exercises.csv`: one row per exercise: students, attempted, passed,
  partial, failed, error (error or timeout), flagged, mean and max points,
  the most frequent mistakes ("forgot to add the maximum back: 14 students",
  " | " between them) and the cases that failed most among the answers that
  ran and were wrong (by label: "hidden case 3: 9 students");
- `report.html`: one self-contained page (no script, no external address:
  figures are SVG drawn by matplotlib and embedded as data: URIs, with a
  fixed hash salt and no date, so the bytes are reproducible): the score
  distribution per lesson, the pass rate per exercise, the top mistakes per
  exercise, the hidden cases that failed most, and the submissions that
  need a look (errors, timeouts, invalid files, flagged answers). Every text
  a submission chose (names, messages) is HTML-escaped;
- with `--roster`, the LMS files of `utils.grading._lms`.

Each student counts once per lesson: with the notebook summary.csv counts
(the best of several). A mistake counts a student when `check` named it on
their answer's visible cases; hidden cases are only ever named by label.
"""

from __future__ import annotations

import base64
import html
import io
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from utils.grading._lms import load_roster  # re-exported: the grader's --roster parser

__all__ = [
    "ExerciseStats",
    "class_statistics",
    "exercises_csv",
    "load_roster",
    "report_html",
    "write_class_outputs",
]

TOP_MISTAKES = 3
TOP_CASES = 3
TOP_HIDDEN = 12
MAX_LISTED_PROBLEMS = 300
LOOK_STATUSES = ("error", "timeout", "invalid", "flagged")
# Rows whose failed cases say which cases catch mistakes: answers that ran and returned
# values (an untouched stub or an answer that always raises fails every case alike).
CASE_STATUSES = ("partial", "failed")
EXERCISE_COLUMNS = (
    "exercise",
    "lesson",
    "title",
    "students",
    "attempted",
    "passed",
    "partial",
    "failed",
    "error",
    "flagged",
    "mean_points",
    "max_points",
    "top_mistakes",
    "most_failed_cases",
)
# Statuses as the pass-rate figure stacks them (what the cases earned, before any flag).
BANDS = (
    ("passed", ("passed",), "#2e7d32"),
    ("partial", ("partial",), "#9ccc65"),
    ("failed", ("failed",), "#ef6c00"),
    ("error or timeout", ("error", "timeout", "invalid"), "#c62828"),
    ("not attempted", ("not_attempted",), "#9e9e9e"),
)


@dataclass
class ExerciseStats:
    """What the class did on one exercise (each student once)."""

    exercise: str
    lesson: str
    title: str
    max_points: float
    statuses: Counter = field(default_factory=Counter)  # checked status -> students
    flagged: int = 0
    points: list[float] = field(default_factory=list)
    mistakes: Counter = field(default_factory=Counter)  # diagnosis -> students
    failed_cases: Counter = field(default_factory=Counter)  # case label -> students

    @property
    def students(self) -> int:
        return sum(self.statuses.values())

    @property
    def attempted(self) -> int:
        return self.students - self.statuses["not_attempted"] - self.statuses["invalid"]

    @property
    def mean_points(self) -> float:
        return sum(self.points) / len(self.points) if self.points else 0.0

    def rate(self, statuses: tuple[str, ...]) -> float:
        return sum(self.statuses[s] for s in statuses) / self.students if self.students else 0.0


def _checked(row) -> str:
    return row.checked_status or row.status


def _ranked(counter: Counter, top: int) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: (-item[1], item[0]))[:top]


def _students(count: int) -> str:
    return f"{count} student{'s' if count != 1 else ''}"


def _exercise_order() -> dict[str, int]:
    from utils import exercises

    return {spec.id: index for index, spec in enumerate(exercises.all_exercises())}


def _title(exercise_id: str) -> str:
    from utils import exercises

    try:
        return exercises.get(exercise_id).title
    except (KeyError, ValueError):
        return ""


def class_statistics(rows) -> list[ExerciseStats]:
    """Per exercise, in the course's order: the counted rows of every student."""
    order = _exercise_order()
    stats: dict[str, ExerciseStats] = {}
    for row in rows:
        if not row.counted or not row.lesson or row.exercise == "-":
            continue
        item = stats.get(row.exercise)
        if item is None:
            item = stats[row.exercise] = ExerciseStats(
                row.exercise, row.lesson, _title(row.exercise), row.max_points
            )
        item.max_points = max(item.max_points, row.max_points)
        item.statuses[_checked(row)] += 1
        item.flagged += row.status == "flagged"
        item.points.append(row.points)
        item.mistakes.update(set(row.diagnoses))
        if _checked(row) in CASE_STATUSES:
            item.failed_cases.update(set(row.failed_cases))
    return sorted(
        stats.values(), key=lambda s: (s.lesson, order.get(s.exercise, 10**6), s.exercise)
    )


def lesson_totals(rows) -> dict[str, list[float]]:
    """lesson -> the points of each student who handed in a notebook of it (sorted)."""
    from utils.grading._lms import lesson_scores

    totals: dict[str, list[float]] = defaultdict(list)
    for (_student, lesson), points in sorted(lesson_scores(rows).items()):
        totals[lesson].append(points)
    return {lesson: sorted(points) for lesson, points in sorted(totals.items())}


def _joined(items: list[tuple[str, int]]) -> str:
    return " | ".join(f"{label}: {_students(count)}" for label, count in items)


def exercises_csv(stats: list[ExerciseStats]) -> str:
    from utils.grading._report import _csv_text, csv_cell, format_points

    lines = []
    for item in stats:
        lines.append(
            [
                csv_cell(item.exercise),
                item.lesson,
                csv_cell(item.title),
                str(item.students),
                str(item.attempted),
                str(item.statuses["passed"]),
                str(item.statuses["partial"]),
                str(item.statuses["failed"]),
                str(item.statuses["error"] + item.statuses["timeout"] + item.statuses["invalid"]),
                str(item.flagged),
                format_points(item.mean_points),
                format_points(item.max_points),
                csv_cell(_joined(_ranked(item.mistakes, TOP_MISTAKES))),
                csv_cell(_joined(_ranked(item.failed_cases, TOP_CASES))),
            ]
        )
    return _csv_text(EXERCISE_COLUMNS, lines)


# --- figures -----------------------------------------------------------------------------------


def _svg_data_uri(figure) -> str:
    """The figure as an SVG data: URI, the same bytes on every run."""
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG

    FigureCanvasSVG(figure)
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "class-report", "svg.fonttype": "path"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    return figure, figure.add_subplot()


def score_distribution_figure(lesson: str, points: list[float], maximum: float) -> str:
    import numpy as np

    figure, axes = _figure(4.2, 2.6)
    top = maximum if maximum > 0 else 1.0
    edges = np.linspace(0.0, top, 11)
    counts, _ = np.histogram(np.clip(points, 0.0, top), bins=edges)
    axes.bar(
        edges[:-1], counts, width=np.diff(edges), align="edge", color="#1565c0", edgecolor="white"
    )
    axes.set_xlim(0, top)
    axes.set_xlabel(f"points (of {top:g})")
    axes.set_ylabel("students")
    axes.set_title(f"Lesson {lesson}: {len(points)} students, median {statistics.median(points):g}")
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.spines[["top", "right"]].set_visible(False)
    return _svg_data_uri(figure)


def pass_rate_figure(stats: list[ExerciseStats]) -> str:
    figure, axes = _figure(7.0, 0.8 + 0.32 * len(stats))
    labels = [item.exercise for item in stats]
    positions = list(range(len(stats)))[::-1]
    left = [0.0] * len(stats)
    for name, statuses, colour in BANDS:
        widths = [100 * item.rate(statuses) for item in stats]
        axes.barh(positions, widths, left=left, color=colour, label=name, height=0.7)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    axes.set_yticks(positions, labels)
    axes.set_xlim(0, 100)
    axes.set_xlabel("% of the students who handed in the lesson")
    axes.legend(
        ncols=len(BANDS), loc="lower left", bbox_to_anchor=(0, 1.0), frameon=False, fontsize=8
    )
    axes.spines[["top", "right"]].set_visible(False)
    return _svg_data_uri(figure)


def hidden_cases_figure(hidden: list[tuple[str, str, int]]) -> str:
    figure, axes = _figure(7.0, 0.8 + 0.32 * len(hidden))
    positions = list(range(len(hidden)))[::-1]
    axes.barh(positions, [count for _, _, count in hidden], color="#6a1b9a", height=0.7)
    axes.set_yticks(positions, [f"{exercise} · {label}" for exercise, label, _ in hidden])
    axes.set_xlabel("students whose answer failed it")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.spines[["top", "right"]].set_visible(False)
    return _svg_data_uri(figure)


# --- the page ------------------------------------------------------------------------------------

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;
max-width:70em;padding:0 1em;color:#212121;line-height:1.4}
h1{margin-bottom:0.2em}h2{margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:0.6em 0}td,th{border:1px solid #ddd;padding:0.25em 0.6em;
text-align:left;vertical-align:top}th{background:#f5f5f5}td.n{text-align:right}
.figures{display:flex;flex-wrap:wrap;gap:1em}img{max-width:100%;height:auto}
.note{color:#616161;font-size:0.9em}code{font-size:0.95em}
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _table(header: list[str], lines: list[list[str]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{_e(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{_e(c)}</td>' if i in numeric else f"<td>{_e(c)}</td>"
            for i, c in enumerate(line)
        )
        + "</tr>"
        for line in lines
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _image(uri: str, alt: str, name: str) -> str:
    return f'<img src="{uri}" alt="{_e(alt)}" data-figure="{_e(name)}">'


def _hidden_ranking(stats: list[ExerciseStats]) -> list[tuple[str, str, int]]:
    hidden = [
        (item.exercise, label, count)
        for item in stats
        for label, count in item.failed_cases.items()
        if label.startswith("hidden case")
    ]
    return sorted(hidden, key=lambda h: (-h[2], h[0], h[1]))[:TOP_HIDDEN]


def report_html(rows, lesson_points: dict[str, float], roster=None) -> str:
    """The class report as one HTML page (see the module docstring)."""
    from utils.grading._report import format_points

    stats = class_statistics(rows)
    totals = lesson_totals(rows)
    students = sorted({row.student for row in rows})
    notebooks = {(row.student, row.notebook) for row in rows}
    statuses = Counter(row.status for row in rows)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Class report</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Class report</h1>",
        f'<p id="totals"><span data-count="students">{len(students)}</span> students, '
        f'<span data-count="notebooks">{len(notebooks)}</span> notebooks, lessons '
        f"{_e(', '.join(sorted(lesson_points)) or 'none')}. Rows by status: "
        + _e(", ".join(f"{count} {status}" for status, count in sorted(statuses.items())))
        + ".</p>",
        '<p class="note">Each student counts once per lesson, with the notebook summary.csv '
        "counts. Mistakes are those <code>check</code> named on the visible cases; hidden "
        "cases are named by their label only.</p>",
    ]
    parts.append("<h2>Scores per lesson</h2>")
    if totals:
        lines = []
        for lesson, points in totals.items():
            maximum = lesson_points.get(lesson, 0.0)
            lines.append(
                [
                    lesson,
                    str(len(points)),
                    format_points(statistics.fmean(points)),
                    format_points(statistics.median(points)),
                    format_points(maximum),
                ]
            )
        parts.append(
            _table(["lesson", "students", "mean", "median", "max points"], lines, {1, 2, 3, 4})
        )
        parts.append('<div class="figures">')
        for lesson, points in totals.items():
            uri = score_distribution_figure(lesson, points, lesson_points.get(lesson, 0.0))
            parts.append(_image(uri, f"Score distribution of lesson {lesson}", f"scores-{lesson}"))
        parts.append("</div>")
    else:
        parts.append("<p>No notebook of a known lesson was handed in.</p>")

    parts.append("<h2>Exercises</h2>")
    if stats:
        parts.append(_image(pass_rate_figure(stats), "Pass rate per exercise", "pass-rate"))
        lines = [
            [
                item.exercise,
                item.title,
                str(item.students),
                str(item.attempted),
                str(item.statuses["passed"]),
                f"{100 * item.rate(('passed',)):.0f}%",
                format_points(item.mean_points),
                format_points(item.max_points),
            ]
            for item in stats
        ]
        header = [
            "exercise",
            "title",
            "students",
            "attempted",
            "passed",
            "pass rate",
            "mean",
            "max",
        ]
        parts.append(_table(header, lines, {2, 3, 4, 5, 6, 7}))

    parts.append("<h2>Top mistakes per exercise</h2>")
    mistakes = [
        [item.exercise, mistake, _students(count)]
        for item in stats
        for mistake, count in _ranked(item.mistakes, TOP_MISTAKES)
    ]
    if mistakes:
        parts.append(_table(["exercise", "mistake check named", "students"], mistakes, {2}))
    else:
        parts.append("<p>No answer made one of the mistakes the checks name.</p>")

    parts.append("<h2>Hidden cases that failed most</h2>")
    hidden = _hidden_ranking(stats)
    if hidden:
        parts.append(
            _image(hidden_cases_figure(hidden), "Hidden cases that failed most", "hidden-cases")
        )
        parts.append(
            _table(
                ["exercise", "case", "students"],
                [[e, label, _students(count)] for e, label, count in hidden],
                {2},
            )
        )
        parts.append(
            '<p class="note">Labels only: the inputs are drawn from your seed and never shown.</p>'
        )
    else:
        parts.append("<p>No hidden case failed.</p>")

    parts.append("<h2>Submissions that need a look</h2>")
    look = [row for row in rows if row.status in LOOK_STATUSES]
    if look:
        lines = [
            [row.student, row.notebook, row.exercise, row.status, row.cell, row.message]
            for row in look[:MAX_LISTED_PROBLEMS]
        ]
        parts.append(
            _table(["student", "notebook", "exercise", "status", "cell", "message"], lines)
        )
        if len(look) > MAX_LISTED_PROBLEMS:
            parts.append(f"<p>and {len(look) - MAX_LISTED_PROBLEMS} more rows: see grades.csv.</p>")
    else:
        parts.append("<p>None: no error, timeout, invalid file or flagged answer.</p>")

    if roster is not None:
        from utils.grading._lms import roster_problems

        parts.append("<h2>Roster</h2>")
        problems = roster_problems(rows, roster)
        if problems:
            listed = [list(problem) for problem in problems[:MAX_LISTED_PROBLEMS]]
            parts.append(_table(["problem", "folder", "name", "note"], listed))
            if len(problems) > MAX_LISTED_PROBLEMS:
                parts.append(
                    f"<p>and {len(problems) - MAX_LISTED_PROBLEMS} more: see "
                    "roster-problems.csv.</p>"
                )
        else:
            parts.append(
                "<p>Every student of the roster handed in, and every submission is "
                "on the roster.</p>"
            )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _write(path: Path, text: str) -> None:
    with open(path, "x", encoding="utf-8", newline="") as file:
        file.write(text)


def write_class_outputs(folder: Path, rows, lesson_points: dict[str, float], roster=None) -> None:
    """exercises.csv, report.html and (with a roster) canvas.csv, moodle.csv and
    roster-problems.csv, written into `folder` (the grader moves them into OUT)."""
    from utils.grading import _lms

    rows = list(rows)
    outputs = {
        "exercises.csv": lambda: exercises_csv(class_statistics(rows)),
        "report.html": lambda: report_html(rows, lesson_points, roster),
    }
    if roster is not None:
        outputs["canvas.csv"] = lambda: _lms.canvas_csv(rows, lesson_points, roster)
        outputs["moodle.csv"] = lambda: _lms.moodle_csv(rows, lesson_points, roster)
        outputs["roster-problems.csv"] = lambda: _lms.roster_problems_csv(rows, roster)
    for name, build in outputs.items():
        try:
            text = build()
        except Exception as error:  # the gradebook itself is written whatever happens here
            text = _failed(name, error)
        _write(folder / name, text)


def _failed(name: str, error: Exception) -> str:
    reason = f"{name} could not be written ({type(error).__name__}); grades.csv is complete."
    if name.endswith(".html"):
        return f"<!DOCTYPE html><html><body><p>{_e(reason)}</p></body></html>\n"
    return reason + "\n"
