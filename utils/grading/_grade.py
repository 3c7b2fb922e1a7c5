"""From submissions to rows: run each in a sandboxed child, compare in this process.

Every comparison uses `utils.checks.evaluate` with the specs this process
imported before any child ran, so nothing a child does to numpy, `utils` or
builtins in its own process reaches the verdict. One barrier per submission:
whatever goes wrong while running, decoding or judging one submission becomes
that submission's rows, and grading goes on.

Hidden cases show nothing the answer wrote: their outcomes are reduced before
they are judged (the exception's type if it is one of 14 common ones, no
warnings, the result's type if it is a plain one), and their feedback says
passed, wrong, or which exception, never the answer's text, values or shapes.
The child only receives them after every visible result has come back, and
once they were sent, how its process ended is not reported.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import inspect
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np

from utils import exercises
from utils.checks import CaseOutcome, CaseReport, CheckResult, evaluate
from utils.exercises import Case, Exercise
from utils.grading import _protocol
from utils.grading._discover import Submission
from utils.grading._own_calls import own_implementations
from utils.grading._sandbox import ChildRun, Sandbox

__all__ = [
    "DEFAULT_SEED",
    "STATUSES",
    "Graded",
    "LessonPlan",
    "Row",
    "course_fingerprint",
    "exercise_seed",
    "grade_all",
    "judge",
    "plan_lesson",
]

STATUSES = (
    "passed",
    "partial",
    "failed",
    "not_attempted",
    "error",
    "timeout",
    "invalid",
    "flagged",
)
# Public on purpose: without the instructor's own seed, hidden cases are predictable.
DEFAULT_SEED = "next-token-course"
PHASE_SLACK_SECONDS = 10.0

# What a hidden case's feedback may name: the exceptions a learner's answer commonly
# raises (a few bits an answer can choose, not ~70), and no warning at all.
_SAFE_EXCEPTIONS = frozenset(
    {"ValueError", "TypeError", "IndexError", "KeyError", "ZeroDivisionError"}
    | {"AttributeError", "NameError", "RuntimeError", "MemoryError", "RecursionError"}
    | {"OverflowError", "FloatingPointError", "AssertionError", "UnboundLocalError"}
    | {"CaseTimeout"}
)
_SAFE_TYPES = frozenset(
    {"NoneType", "bool", "int", "float", "complex", "str", "list", "tuple", "dict", "set"}
    | {"ndarray", "generator", "function", "type", "object", "frozenset", "bytes"}
    | {np.dtype(kind).type.__name__ for kind in "?bhilqBHILQefdgFDG"}
)


@dataclass(frozen=True)
class Row:
    """One line of grades.csv, with the structured fields the class report and `merge`
    read from OUT/rows.jsonl (one JSON object per row, these fields in this order).

    `lesson`: "02", or "" for a file whose lesson is unknown. `cell`: for a row whose
    answer's cell failed (error, timeout), 'cell 7 (id answer-logsumexp)', else "".
    `diagnoses`: the exercise's own mistakes that check named on the visible cases.
    `failed_cases`: labels of the cases that did not pass (never their inputs).
    `own_calls`: calls of the course's own implementation found in the answer
    (status `flagged`); `checked_status`: what the cases earned before any flag.
    `counted`: this notebook is the one summary.csv counts for the student's lesson.
    `feedback`: the report's path below OUT/feedback.
    """

    student: str
    notebook: str
    exercise: str
    points: float
    max_points: float
    status: str
    message: str
    lesson: str = ""
    cell: str = ""
    diagnoses: tuple[str, ...] = ()
    failed_cases: tuple[str, ...] = ()
    own_calls: tuple[str, ...] = ()
    checked_status: str = ""
    counted: bool = True
    feedback: str = ""


@dataclass
class Graded:
    """One submission's rows, plus what its feedback report needs."""

    submission: Submission
    rows: list[Row]
    results: dict[str, CheckResult] = field(default_factory=dict)
    cell_problems: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    cell_notes: list[str] = field(default_factory=list)  # cells interrupted or left out


@dataclass(frozen=True)
class LessonPlan:
    """A lesson's specs and cases, with the two job frames every child receives."""

    lesson: str
    specs: tuple[Exercise, ...]
    visible: dict[str, tuple[Case, ...]]
    hidden: dict[str, tuple[Case, ...]]
    visible_frame: bytes
    hidden_frame: bytes
    case_seconds: float
    own: tuple[tuple[str, ...], ...] = ()  # per spec: what counts as its own implementation

    def phase_cases(self, phase: str, index: int) -> tuple[Case, ...]:
        spec = self.specs[index]
        return (self.visible if phase == "visible" else self.hidden)[spec.id]

    def budget(self, phase: str) -> float:
        """Wall seconds for checking one phase: the per-case wall limit (twice the CPU
        limit) x its cases, plus slack."""
        cases = self.visible if phase == "visible" else self.hidden
        count = sum(len(items) for items in cases.values())
        return 2 * self.case_seconds * count + PHASE_SLACK_SECONDS


def exercise_seed(seed: str, exercise_id: str) -> int:
    """The integer seed of one exercise's hidden cases (stable across machines).

    >>> exercise_seed("s3cret", "02.logsumexp") == exercise_seed("s3cret", "02.logsumexp")
    True
    """
    digest = hashlib.sha256(f"{seed}\0{exercise_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _job_frame(specs, cases: dict[str, tuple[Case, ...]], case_seconds: float) -> bytes:
    arrays: dict[str, np.ndarray] = {}
    tasks = []
    for spec in specs:
        try:
            encoded = [
                _protocol.to_plain({"args": case.args, "kwargs": case.kwargs}, arrays)
                for case in cases[spec.id]
            ]
        except TypeError as error:
            raise ValueError(
                f"exercise {spec.id} has a case the grader cannot send: {error}"
            ) from None
        tasks.append(
            {
                "id": spec.id,
                "answer_name": spec.answer_name,
                "own": list(own_implementations(spec)),
                "cases": encoded,
            }
        )
    header = {"kind": "job", "case_seconds": case_seconds, "tasks": tasks}
    return _protocol.encode_frame(header, list(arrays.values()))


def plan_lesson(lesson: str, seed: str, case_seconds: float) -> LessonPlan:
    """Draw the hidden cases and encode both phases' jobs once for every child."""
    specs = tuple(exercises.for_lesson(lesson))
    visible, hidden = {}, {}
    for spec in specs:
        drawn = spec.draw_hidden_cases(exercise_seed(seed, spec.id))
        visible[spec.id] = tuple(spec.check_cases)
        hidden[spec.id] = tuple(
            dataclasses.replace(case, label=f"hidden case {number}")
            for number, case in enumerate(drawn, start=1)
        )
    return LessonPlan(
        lesson,
        specs,
        visible,
        hidden,
        _job_frame(specs, visible, case_seconds),
        _job_frame(specs, hidden, case_seconds),
        case_seconds,
        tuple(own_implementations(spec) for spec in specs),
    )


def course_fingerprint(course_root: str, *, bytecode: bool = True) -> str:
    """A hash of every file of the `utils` package, bytecode caches included unless
    `bytecode` is False (so every machine of a cluster with the same course agrees)."""
    digest = hashlib.sha256()
    package = os.path.join(course_root, "utils")
    for directory, folders, files in os.walk(package):
        if bytecode:
            folders.sort()
        else:
            folders[:] = sorted(name for name in folders if name != "__pycache__")
        for name in sorted(files):
            if not bytecode and name.endswith((".pyc", ".pyo")):
                continue
            path = os.path.join(directory, name)
            digest.update(os.path.relpath(path, package).encode("utf-8", "surrogateescape"))
            try:
                with open(path, "rb") as file:
                    digest.update(hashlib.sha256(file.read()).digest())
            except OSError:
                digest.update(b"unreadable")
    return digest.hexdigest()


def _zero_row(submission: Submission, spec, status: str, message: str, cell: str = "") -> Row:
    """A row with no points for one exercise (`spec` None: the whole notebook, exercise "-")."""
    exercise, max_points = ("-", 0.0) if spec is None else (spec.id, float(spec.points))
    return Row(
        submission.student,
        submission.notebook,
        exercise,
        0.0,
        max_points,
        status,
        message,
        lesson=submission.lesson or "",
        cell=cell,
        checked_status=status,
    )


def _rows_for_all(submission: Submission, plan: LessonPlan | None, status: str, message: str):
    if plan is None:
        return [_zero_row(submission, None, status, message)]
    return [_zero_row(submission, spec, status, message) for spec in plan.specs]


def _status_of(spec: Exercise, result: CheckResult) -> tuple[str, float]:
    if result.status == "passed":
        return "passed", float(spec.points)
    if result.status == "not_attempted":
        return "not_attempted", 0.0
    if spec.partial_credit and 0 < result.passed < result.total:
        return "partial", round(float(spec.points) * result.passed / result.total, 2)
    return result.status, 0.0


# --- hidden cases: nothing the answer wrote -------------------------------------


def exception_type(error: str) -> str:
    """The exception's type name from 'Type: message', when it is a builtin or NumPy one."""
    name = error.split(":", 1)[0].split("(", 1)[0].strip()
    return name if name in _SAFE_EXCEPTIONS else "an exception"


def _argument_names(spec: Exercise) -> set[str]:
    names = {f"argument {number}" for number in range(1, 33)}
    with contextlib.suppress(TypeError, ValueError):
        names |= {f"argument {name}" for name in inspect.signature(spec.reference).parameters}
    return names


def _sanitized(outcome: CaseOutcome, spec: Exercise) -> CaseOutcome:
    """A hidden case's outcome without any text the answer chose (its warnings dropped,
    which inputs it changed folded into one)."""
    allowed = _argument_names(spec)
    changed = [name for name in outcome.modified_inputs if name in allowed]
    return dataclasses.replace(
        outcome,
        error=exception_type(outcome.error) if outcome.status == "error" else "",
        warnings=(),
        modified_inputs=("an argument",) if changed else (),
        value_type=outcome.value_type if outcome.value_type in _SAFE_TYPES else "object",
    )


def _hidden_message(outcome: CaseOutcome, report: CaseReport, case_seconds: float) -> str:
    if report.status == "passed":
        return ""
    if outcome.status == "error" and outcome.error == "CaseTimeout":
        return (
            f"ran past the per-case time limit (--case-timeout: {case_seconds:g} s of CPU, "
            f"{2 * case_seconds:g} s in all)"
        )
    if outcome.status == "error":
        return f"raised {outcome.error}"
    if outcome.status == "not_implemented":
        return "raised NotImplementedError"
    return "the result is wrong (details of hidden cases are not shown)"


# --- judging one child's report --------------------------------------------------


@dataclass
class _Missing:
    status: str
    reason: str


def _missing_reason(run: ChildRun, plan: LessonPlan, phase: str, name: str) -> _Missing:
    if run.ended_in is not None and phase == "visible":
        # A cell ended this run and no time (or rerun) was left to run it again without it.
        number, why = run.ended_in
        what = {
            "uninterruptible": (
                "timeout",
                f"ran past the per-cell time limit (--cell-timeout {run.cell_timeout:g} s) "
                "and did not stop when interrupted",
            ),
            "memory": (
                "error",
                f"used more than the memory limit (--memory-mb {run.memory_mb} MiB)",
            ),
        }.get(why, ("error", f"ended the notebook's process ({run.end()})"))
        return _Missing(
            what[0],
            f"cell {number} {what[1]}, and no time was left within the notebook time limit "
            f"(--timeout {run.notebook_timeout:g} s) to run the notebook again without it; "
            f"`{name}` was not checked",
        )
    if run.limit == "memory":
        return _Missing(
            "error",
            f"the notebook's processes together used more than the memory limit (--memory-mb "
            f"{run.memory_mb} MiB) and were stopped; `{name}` was not checked on its "
            f"{phase} cases",
        )
    if run.limit == "notebook":
        return _Missing(
            "timeout",
            f"the notebook's cells ran past the notebook time limit (--timeout "
            f"{run.notebook_timeout:g} s); `{name}` was not checked",
        )
    if run.limit == "cases":
        return _Missing(
            "timeout",
            f"checking the answers ran past their time budget ({plan.budget(phase):g} s for "
            f"the {phase} cases: the per-case limit x the cases); `{name}` was not checked "
            f"on its {phase} cases",
        )
    if run.hidden_sent:
        # Once the hidden cases were sent, how the process ended (an exit code, a signal)
        # is the answer's choice and could carry their inputs: say only that it ended.
        return _Missing(
            "error",
            f"the notebook's process ended while the hidden cases were checked, before "
            f"`{name}` was checked on them (how it ended is not shown for hidden cases)",
        )
    return _Missing(
        "error",
        f"the notebook's process ended before `{name}` was checked on its {phase} cases: "
        + run.end(),
    )


def cell_label(submission: Submission, number: int) -> str:
    """'cell 7 (id answer-logsumexp)': the cell as Jupyter numbers it, with its id."""
    ids = {cell: identifier for cell, identifier, _grade in submission.cell_info}
    return f"cell {number} (id {ids[number]})" if ids.get(number) else f"cell {number}"


def answer_cell(submission: Submission, spec: Exercise, run: ChildRun, index: int) -> int | None:
    """The cell that holds the exercise's answer: the one carrying its nbgrader id (the
    hand-out's answer cell) if it defines the answer or does not parse, else the last
    cell that defines the answer's name, else the nbgrader cell; None if none."""
    analysed = run.analysis[index]["cells"] if run.analysis and index < len(run.analysis) else []
    tagged = [number for number, _id, grade in submission.cell_info if grade == spec.grade_id]
    for number in tagged:
        if number in analysed:
            return number
    if analysed:
        return analysed[-1]
    return tagged[-1] if tagged else None


def _left_out_reason(run: ChildRun, number: int) -> str:
    """Why cell `number` was left out of the reruns, in words."""
    return {
        "uninterruptible": f"ran past the per-cell time limit (--cell-timeout "
        f"{run.cell_timeout:g} s) and did not stop when interrupted",
        "ended": f"ended the notebook's process ({run.skipped_how.get(number, 'exited')})",
        "memory": f"used more than the memory limit (--memory-mb {run.memory_mb} MiB)",
    }.get(run.skipped.get(number), "could not be run")


def _stop_note(submission: Submission, run: ChildRun) -> str:
    """Why no cell ran from `run.stopped_at` on."""
    label = cell_label(submission, run.stopped_at)
    no_time = (
        f"no time was left within the notebook time limit (--timeout {run.notebook_timeout:g} "
        "s) to run the notebook again without it"
    )
    if run.stopped_why == "uninterruptible":
        return (
            f"{label} ran past the per-cell time limit (--cell-timeout {run.cell_timeout:g} s) "
            f"and did not stop when interrupted, and {no_time}: the cells were stopped there "
            "and no later cell ran"
        )
    if run.stopped_why == "left out":
        return (
            f"{label} {_left_out_reason(run, run.stopped_at)}; the notebook was run again up "
            "to the cell before it, and no later cell ran"
        )
    return (
        f"the notebook's cells ran past the notebook time limit (--timeout "
        f"{run.notebook_timeout:g} s) in {label}: it was interrupted and no later cell ran"
    )


def _cell_notes(submission: Submission, run: ChildRun) -> list[str]:
    notes = []
    for number in sorted(run.skipped):
        if run.stopped_why == "left out" and number == run.stopped_at:
            continue  # (said below)
        notes.append(
            f"{cell_label(submission, number)} {_left_out_reason(run, number)}; the notebook "
            "was run again without it"
        )
    if run.stopped_at is not None:
        notes.append(_stop_note(submission, run))
    for number in run.interrupted:
        if number not in run.skipped and number != run.stopped_at:
            notes.append(
                f"{cell_label(submission, number)} ran past the per-cell time limit "
                f"(--cell-timeout {run.cell_timeout:g} s) and was interrupted; the next "
                "cells ran"
            )
    return notes


def judge(
    submission: Submission, plan: LessonPlan, run: ChildRun, own_implementation: str = "flag"
) -> Graded:
    """Turn a child's decoded messages into rows, comparing in this process."""
    graded = Graded(submission, [], seconds=run.seconds)
    if run.protocol_error is not None:
        graded.rows = _rows_for_all(
            submission,
            plan,
            "invalid",
            f"the notebook's process sent results the grader does not accept "
            f"({run.protocol_error}); a notebook must not write to the grader's channel",
        )
        return graded
    if run.tampering:
        graded.cell_problems = list(run.cells or [])  # the cells ran: their errors are shown
        graded.rows = _rows_for_all(
            submission,
            plan,
            "invalid",
            f"the notebook reaches into the grading process ({', '.join(run.tampering)}): "
            "no exercise needs that, so it is not graded",
        )
        return graded
    graded.cell_problems = list(run.cells or [])
    graded.cell_notes = _cell_notes(submission, run)
    for index, spec in enumerate(plan.specs):
        row = _judge_exercise(graded, spec, index, plan, run)
        cell = answer_cell(submission, spec, run, index)
        if row.status in ("error", "timeout") and cell is not None and not row.cell:
            row = dataclasses.replace(row, cell=cell_label(submission, cell))
        problem = next((p for p in run.cells or [] if p.get("cell") == cell), None)
        if problem is not None and not row.cell and row.status != "not_attempted":
            # The answer was defined, then its cell raised: graded on what it did (as
            # nbgrader would), the error named beside the grade.
            label = cell_label(submission, cell)
            error = problem["error"] if len(problem["error"]) <= 200 else problem["error"][:197]
            row = dataclasses.replace(
                row,
                cell=label,
                message=f"{row.message} (note: {label} raised {error} after it defined "
                f"`{spec.answer_name}`)",
            )
        graded.rows.append(_flagged(row, run, index, own_implementation))
    return graded


def _flagged(row: Row, run: ChildRun, index: int, mode: str) -> Row:
    """An answer that calls the course's own implementation of its exercise: `flagged`,
    its points kept (mode "flag") or 0 (mode "zero")."""
    calls = run.analysis[index]["own_calls"] if run.analysis and index < len(run.analysis) else []
    if not calls or row.status in ("not_attempted", "invalid"):
        return row
    points = row.points if mode == "flag" else 0.0
    consequence = (
        "points kept (--own-implementation flag)"
        if mode == "flag"
        else "0 points (--own-implementation zero)"
    )
    message = (
        f"calls {', '.join(calls)}: the course's own implementation of this exercise, "
        f"{consequence}; the cases gave {row.status}: {row.message}"
    )
    return dataclasses.replace(
        row,
        status="flagged",
        points=points,
        message=message,
        own_calls=tuple(calls),
        checked_status=row.status,
    )


def _undefined_row(submission: Submission, spec, index: int, run: ChildRun) -> Row:
    """No answer defined: why, from what happened to the answer's cell."""
    name = spec.answer_name
    cell = answer_cell(submission, spec, run, index)
    if cell is None:
        return _zero_row(
            submission,
            spec,
            "not_attempted",
            f"no `{name}` defined (was its cell deleted or renamed?)",
        )
    label = cell_label(submission, cell)
    limit = f"--cell-timeout {run.cell_timeout:g} s"
    why = run.skipped.get(cell)
    if why == "uninterruptible":
        status, what = (
            "timeout",
            f"ran past the per-cell time limit ({limit}) and did not stop when interrupted; "
            "the notebook was run again without it",
        )
    elif why == "memory":
        status, what = (
            "error",
            f"used more than the memory limit (--memory-mb {run.memory_mb} MiB); the "
            "notebook was run again without it",
        )
    elif why is not None:
        status, what = (
            "error",
            "ended the notebook's process; the notebook was run again without it",
        )
    elif run.stopped_at is not None and cell >= run.stopped_at and run.stopped_why != "notebook":
        status, what = (
            "timeout",
            f"did not run: {_stop_note(submission, run)}"
            if cell > run.stopped_at
            else f"ran past the per-cell time limit ({limit}) and did not stop when "
            "interrupted; the cells were stopped there",
        )
    elif run.stopped_at is not None and cell >= run.stopped_at:
        status, what = (
            "timeout",
            f"did not finish before the notebook's cells ran past the notebook time limit "
            f"(--timeout {run.notebook_timeout:g} s)"
            if cell == run.stopped_at
            else f"did not run: the notebook's cells ran past the notebook time limit "
            f"(--timeout {run.notebook_timeout:g} s) before it",
        )
    elif cell in run.interrupted:
        status, what = "timeout", f"ran past the per-cell time limit ({limit}) and was interrupted"
    else:
        problem = next((p for p in run.cells or [] if p.get("cell") == cell), None)
        if problem is None:
            return _zero_row(
                submission,
                spec,
                "not_attempted",
                f"no `{name}` defined after {label} ran (was it renamed?)",
                cell="",
            )
        error = problem["error"]
        error = error if len(error) <= 200 else error[:197] + "..."
        status, what = "error", f"raised {error}"
    return _zero_row(
        submission,
        spec,
        status,
        f"{label} {what}, so `{name}` is not defined",
        cell=label,
    )


def _judge_exercise(graded, spec, index, plan, run) -> Row:
    submission = graded.submission
    name = spec.answer_name
    visible, hidden = run.visible.get(index), run.hidden.get(index)
    if visible is None:
        missing = _missing_reason(run, plan, "visible", name)
        return _zero_row(submission, spec, missing.status, missing.reason)
    if visible["crash"] is not None:
        return _zero_row(
            submission,
            spec,
            "error",
            f"checking `{name}` broke the grading process: {visible['crash']}",
        )
    if not visible["defined"]:
        return _undefined_row(submission, spec, index, run)
    hidden_cases = plan.hidden[spec.id]
    missing = None
    if hidden is None and hidden_cases:
        missing = _missing_reason(run, plan, "hidden", name)
        hidden_outcomes = [(CaseOutcome("error", error="missing"), False)] * len(hidden_cases)
    elif hidden is not None and (hidden["crash"] is not None or not hidden["defined"]):
        missing = _Missing("error", f"checking `{name}` on the hidden cases broke the grading")
        hidden_outcomes = [(CaseOutcome("error", error="missing"), False)] * len(hidden_cases)
    else:
        hidden_outcomes = hidden["outcomes"] if hidden is not None else []
    cases = (*plan.visible[spec.id], *hidden_cases)
    pairs = list(visible["outcomes"]) + [
        (_sanitized(outcome, spec), timed_out) for outcome, timed_out in hidden_outcomes
    ]
    outcomes = []
    for outcome, timed_out in pairs:
        if timed_out:
            outcome = CaseOutcome("error", error="CaseTimeout")
        outcomes.append(outcome)
    try:
        result = evaluate(spec, cases, outcomes)
    except Exception as error:  # one odd answer must not stop grading the class
        return _zero_row(
            submission,
            spec,
            "error",
            f"the grader could not compare this answer ({type(error).__name__})",
        )
    visible_count = len(plan.visible[spec.id])
    reports = list(result.cases)
    for position in range(visible_count, len(reports)):
        report = reports[position]
        reports[position] = dataclasses.replace(
            report, message=_hidden_message(outcomes[position], report, plan.case_seconds)
        )
    for position in range(visible_count):
        if outcomes[position].status == "error" and outcomes[position].error == "CaseTimeout":
            reports[position] = dataclasses.replace(
                reports[position],
                message=_hidden_message(outcomes[position], reports[position], plan.case_seconds),
            )
    message = result.message
    first_bad = next(
        (position for position, report in enumerate(reports) if report.status != "passed"), None
    )
    timed_out = any(o.status == "error" and o.error == "CaseTimeout" for o in outcomes)
    counts = f" ({result.passed}/{result.total} cases passed)" if result.total > 1 else ""
    if missing is not None:
        message = missing.reason + counts
    elif first_bad is not None and (first_bad >= visible_count or timed_out):
        message = f'case "{reports[first_bad].label}": {reports[first_bad].message}{counts}'
    result = dataclasses.replace(result, message=message, cases=tuple(reports))
    status, points = _status_of(spec, result)
    if status != "passed" and missing is not None:
        status = missing.status if status != "partial" else status
    elif status != "passed" and timed_out and status != "partial":
        status = "timeout"
    graded.results[spec.id] = result
    return Row(
        submission.student,
        submission.notebook,
        spec.id,
        points,
        float(spec.points),
        status,
        message,
        lesson=submission.lesson or "",
        diagnoses=named_diagnoses(spec, plan.visible[spec.id], outcomes, reports),
        failed_cases=tuple(report.label for report in reports if report.status != "passed"),
        checked_status=status,
    )


MAX_DIAGNOSES = 8


def named_diagnoses(spec: Exercise, cases, outcomes, reports) -> tuple[str, ...]:
    """The exercise's own mistakes (its `diagnose`) that the feedback names on the visible
    cases, each once, in case order: the phrases a class report can count. Runs only the
    reference and the spec's diagnose, in this process."""
    if spec.diagnose is None:
        return ()
    from utils.checks import _exercise_diagnosis, _reference_value

    named: list[str] = []
    for case, outcome, report in zip(cases, outcomes, reports, strict=False):
        if report.status != "failed" or outcome.status != "ok" or len(named) >= MAX_DIAGNOSES:
            continue
        try:
            expected = _reference_value(spec, case)
            candidates = _exercise_diagnosis(spec, case, expected, outcome.value)
        except Exception:  # a diagnose that cannot read this answer names nothing
            continue
        for candidate in candidates:
            phrase = " ".join(str(candidate).split())
            if phrase and phrase in " ".join(report.message.split()) and phrase not in named:
                named.append(phrase)
                break
    return tuple(named)


class _Trust:
    """Unconfined mode only: were the course's files left as they were before grading?"""

    def __init__(self, course_root: str, enabled: bool):
        self.course_root = course_root
        self.enabled = enabled
        self.expected = course_fingerprint(course_root) if enabled else ""
        self.broken_by: str | None = None
        self.lock = threading.Lock()

    def check(self, who: str) -> str:
        """ "ran" while the files are intact; "tampered" for the run that first finds
        them changed (remembered as `broken_by`); "untrusted" for every run after."""
        if not self.enabled:
            return "ran"
        current = course_fingerprint(self.course_root)
        with self.lock:
            if self.broken_by is not None:
                return "untrusted"
            if current != self.expected:
                self.broken_by = who
                return "tampered"
            return "ran"


def _grader_failed(submission: Submission, plan, error: BaseException) -> Graded:
    return Graded(
        submission,
        _rows_for_all(
            submission,
            plan,
            "error",
            f"the grader failed on this submission ({type(error).__name__}); the rest of "
            "the class was graded",
        ),
    )


def grade_all(
    submissions: list[Submission],
    plans: dict[str, LessonPlan],
    sandbox: Sandbox,
    *,
    jobs: int,
    on_progress: Callable[[int, int], None] = lambda done, total: None,
    own_implementation: str = "flag",
) -> Iterator[Graded]:
    """Grade every submission (`jobs` children at a time); yields as they finish."""
    trust = _Trust(sandbox.course_root, sandbox.mode == "unconfined")

    def grade_one(submission: Submission) -> Graded:
        plan = plans[submission.lesson]
        if trust.broken_by is not None:
            verdict, run = "untrusted", None
        else:
            tagged = {
                spec.id: [n for n, _id, grade in submission.cell_info if grade == spec.grade_id]
                for spec in plan.specs
            }
            run = sandbox.run([list(cell) for cell in submission.cells], plan, tagged)
            verdict = trust.check(submission.display)
        if verdict == "ran":
            return judge(submission, plan, run, own_implementation)
        if verdict == "tampered":
            message = (
                "modified the course's files (the utils package) while it ran; this is not "
                "allowed, the submission gets no points"
            )
        else:
            message = (
                "not graded: the course's files were changed during grading by "
                f"{trust.broken_by}; restore them and grade again"
            )
        return Graded(submission, _rows_for_all(submission, plan, "invalid", message))

    def barrier(submission: Submission) -> Graded:
        try:
            return grade_one(submission)
        except Exception as error:  # one submission never stops the class
            return _grader_failed(submission, plans.get(submission.lesson), error)

    total = len(submissions)
    done = 0
    gradable = []
    for submission in submissions:
        if submission.problem is not None:
            done += 1
            on_progress(done, total)
            yield Graded(
                submission,
                _rows_for_all(
                    submission, plans.get(submission.lesson), "invalid", submission.problem
                ),
            )
        else:
            gradable.append(submission)
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="grading") as pool:
        futures = {pool.submit(barrier, submission): submission for submission in gradable}
        for future in as_completed(futures):
            done += 1
            on_progress(done, total)
            try:
                yield future.result()
            except Exception as error:
                submission = futures[future]
                yield _grader_failed(submission, plans.get(submission.lesson), error)
