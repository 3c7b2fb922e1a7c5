"""From submissions to rows: run each in a child, compare in this process.

Every comparison uses `utils.checks.evaluate` with the specs this process
imported before any child ran, so nothing a child does to numpy, `utils` or
builtins in its own process reaches the verdict.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np

from utils import exercises
from utils.checks import CaseOutcome, CheckResult, evaluate
from utils.exercises import Case, Exercise
from utils.grading import _protocol
from utils.grading._discover import Submission
from utils.grading._sandbox import EXIT_SANDBOX_FAILED, ChildRun, Sandbox

__all__ = [
    "DEFAULT_SEED",
    "STATUSES",
    "Graded",
    "LessonPlan",
    "Row",
    "course_fingerprint",
    "exercise_seed",
    "grade_all",
    "plan_lesson",
]

STATUSES = ("passed", "partial", "failed", "not_attempted", "error", "timeout", "invalid")
# Public on purpose: without the instructor's own seed, hidden cases are predictable.
DEFAULT_SEED = "next-token-course"


@dataclass(frozen=True)
class Row:
    """One line of grades.csv."""

    student: str
    notebook: str
    exercise: str
    points: float
    max_points: float
    status: str
    message: str


@dataclass
class Graded:
    """One submission's rows, plus what its feedback report needs."""

    submission: Submission
    rows: list[Row]
    results: dict[str, CheckResult] = field(default_factory=dict)
    cell_problems: list[dict] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class LessonPlan:
    """A lesson's specs and cases (visible + hidden), encoded once for every child."""

    lesson: str
    specs: tuple[Exercise, ...]
    cases: dict[str, tuple[Case, ...]]
    tasks: tuple[dict, ...]
    arrays: dict[str, np.ndarray]
    case_seconds: float


def exercise_seed(seed: str, exercise_id: str) -> int:
    """The integer seed of one exercise's hidden cases (stable across machines).

    >>> exercise_seed("s3cret", "02.logsumexp") == exercise_seed("s3cret", "02.logsumexp")
    True
    """
    digest = hashlib.sha256(f"{seed}\0{exercise_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def plan_lesson(lesson: str, seed: str, case_seconds: float) -> LessonPlan:
    """Draw the hidden cases and encode every case for the children."""
    specs = tuple(exercises.for_lesson(lesson))
    cases: dict[str, tuple[Case, ...]] = {}
    tasks = []
    arrays: dict[str, np.ndarray] = {}
    for spec in specs:
        hidden = spec.draw_hidden_cases(exercise_seed(seed, spec.id))
        labelled = [
            dataclasses.replace(case, label=f"hidden case {number}")
            for number, case in enumerate(hidden, start=1)
        ]
        cases[spec.id] = (*spec.check_cases, *labelled)
        try:
            encoded = [
                _protocol.to_plain({"args": case.args, "kwargs": case.kwargs}, arrays)
                for case in cases[spec.id]
            ]
        except TypeError as error:
            raise ValueError(
                f"exercise {spec.id} has a case the grader cannot send: {error}"
            ) from None
        tasks.append({"id": spec.id, "answer_name": spec.answer_name, "cases": encoded})
    return LessonPlan(lesson, specs, cases, tuple(tasks), arrays, case_seconds)


def course_fingerprint(course_root: str) -> str:
    """A hash of every file of the `utils` package (bytecode caches aside)."""
    digest = hashlib.sha256()
    package = os.path.join(course_root, "utils")
    for directory, folders, files in os.walk(package):
        folders[:] = sorted(name for name in folders if name != "__pycache__")
        for name in sorted(files):
            if name.endswith((".pyc", ".pyo")):
                continue
            path = os.path.join(directory, name)
            digest.update(os.path.relpath(path, package).encode() + b"\0")
            try:
                with open(path, "rb") as file:
                    digest.update(hashlib.sha256(file.read()).digest())
            except OSError:
                digest.update(b"unreadable")
    return digest.hexdigest()


def _zero_row(submission: Submission, spec, status: str, message: str) -> Row:
    """A row with no points for one exercise (`spec` None: the whole notebook, exercise "-")."""
    exercise, max_points = ("-", 0.0) if spec is None else (spec.id, float(spec.points))
    return Row(submission.student, submission.notebook, exercise, 0.0, max_points, status, message)


def _rows_for_all(submission: Submission, plan: LessonPlan | None, status: str, message: str):
    if plan is None:
        return [_zero_row(submission, None, status, message)]
    return [_zero_row(submission, spec, status, message) for spec in plan.specs]


def _describe_end(run: ChildRun) -> str:
    code = run.exit_code
    if code is None or code == 0:
        return "it exited (os._exit in the notebook?)"
    if code == EXIT_SANDBOX_FAILED:
        return (
            f"it ended with code {code} (the grader's sandbox could not start, or os._exit({code}))"
        )
    if code > 0:
        return f"it exited with code {code} (sys.exit or os._exit in the notebook?)"
    number = -code
    name = signal.Signals(number).name if number in signal.valid_signals() else f"signal {number}"
    reasons = {
        "SIGKILL": "killed: the memory limit, or the notebook killed itself",
        "SIGXCPU": "stopped by the CPU-time limit",
        "SIGXFSZ": "stopped: it wrote a file larger than the limit",
        "SIGSEGV": "crashed (segmentation fault)",
    }
    return f"it was {reasons.get(name, f'ended by {name}')}"


def _status_of(spec: Exercise, result: CheckResult) -> tuple[str, float]:
    if result.status == "passed":
        return "passed", float(spec.points)
    if result.status == "not_attempted":
        return "not_attempted", 0.0
    if spec.partial_credit and 0 < result.passed < result.total:
        return "partial", round(float(spec.points) * result.passed / result.total, 2)
    return result.status, 0.0


def _judge(submission: Submission, plan: LessonPlan, run: ChildRun) -> Graded:
    """Turn a child's plain-data report into rows, comparing in this process."""
    graded = Graded(submission, [], seconds=run.seconds)
    if run.timed_out:
        graded.rows = _rows_for_all(
            submission,
            plan,
            "timeout",
            "the notebook did not finish within the time limit (an endless loop, or a very "
            "slow cell?); the whole submission was stopped, nothing was checked",
        )
        return graded
    if isinstance(run.cells, dict):
        problems = run.cells.get("problems")
        if isinstance(problems, list):
            graded.cell_problems = [p for p in problems if isinstance(p, dict)]
    for index, spec in enumerate(plan.specs):
        payload = run.exercises.get(index)
        name = spec.answer_name
        row = None
        if payload is None:
            row = (
                "error",
                f"the notebook's process ended before `{name}` was checked: " + _describe_end(run),
            )
        elif isinstance(payload, Exception):
            row = ("error", f"the notebook's process sent back unreadable results ({payload})")
        elif not isinstance(payload, dict) or payload.get("id") != spec.id:
            row = ("error", "the notebook's process sent back results for another exercise")
        elif not payload.get("defined"):
            row = ("not_attempted", f"no `{name}` defined (was its cell deleted or renamed?)")
        elif payload.get("crash"):
            row = ("error", f"checking `{name}` broke the grading process: {payload['crash']}")
        if row is None:
            try:
                outcomes = [
                    CaseOutcome.from_record(item["record"], item["arrays"])
                    for item in payload["outcomes"]
                ]
                if len(outcomes) != len(plan.cases[spec.id]):
                    raise ValueError("wrong number of outcomes")
            except (KeyError, TypeError, ValueError, AttributeError) as error:
                row = ("error", f"the notebook's process sent back unreadable results ({error})")
        if row is not None:
            graded.rows.append(_zero_row(submission, spec, *row))
            continue
        try:
            result = evaluate(spec, plan.cases[spec.id], outcomes)
        except Exception as error:  # one odd answer must not stop grading the class
            graded.rows.append(
                Row(
                    submission.student,
                    submission.notebook,
                    spec.id,
                    0.0,
                    float(spec.points),
                    "error",
                    f"the grader could not compare this answer ({type(error).__name__}: {error})",
                )
            )
            continue
        status, points = _status_of(spec, result)
        graded.results[spec.id] = result
        graded.rows.append(
            Row(
                submission.student,
                submission.notebook,
                spec.id,
                points,
                float(spec.points),
                status,
                result.message,
            )
        )
    return graded


class _Trust:
    """Remembers whether the course's files stayed as they were before grading."""

    def __init__(self, course_root: str):
        self.course_root = course_root
        self.expected = course_fingerprint(course_root)
        self.broken_by: str | None = None
        self.lock = threading.Lock()

    def check(self, who: str) -> str:
        """ "ran" while the files are intact; "tampered" for the run that first finds
        them changed (remembered as `broken_by`); "untrusted" for every run after."""
        current = course_fingerprint(self.course_root)
        with self.lock:
            if self.broken_by is not None:
                return "untrusted"
            if current != self.expected:
                self.broken_by = who
                return "tampered"
            return "ran"


def grade_all(
    submissions: list[Submission],
    plans: dict[str, LessonPlan],
    sandbox: Sandbox,
    *,
    jobs: int,
    on_progress: Callable[[int, int], None] = lambda done, total: None,
) -> Iterator[Graded]:
    """Grade every submission (`jobs` children at a time); yields as they finish."""
    trust = _Trust(sandbox.course_root)

    def run(submission: Submission):
        if trust.broken_by is not None:
            return submission, "untrusted", None
        plan = plans[submission.lesson]
        job = {
            "cells": [list(cell) for cell in submission.cells],
            "case_seconds": plan.case_seconds,
            "exercises": list(plan.tasks),
        }
        outcome = sandbox.run(job, plan.arrays)
        return submission, trust.check(f"{submission.student}/{submission.notebook}"), outcome

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
        futures = [pool.submit(run, submission) for submission in gradable]
        for future in as_completed(futures):
            submission, verdict, outcome = future.result()
            plan = plans[submission.lesson]
            done += 1
            on_progress(done, total)
            if verdict == "ran":
                yield _judge(submission, plan, outcome)
            elif verdict == "tampered":
                yield Graded(
                    submission,
                    _rows_for_all(
                        submission,
                        plan,
                        "invalid",
                        "modified the course's files (the utils package) while it ran; "
                        "this is not allowed, the submission gets no points",
                    ),
                )
            else:
                yield Graded(
                    submission,
                    _rows_for_all(
                        submission,
                        plan,
                        "invalid",
                        "not graded: the course's files were changed during grading by "
                        f"{trust.broken_by}; restore them and grade again",
                    ),
                )
