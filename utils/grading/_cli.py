"""`python -m utils.grading SUBMISSIONS --out OUT [--jobs N] [--timeout S] [--shard K/N]`,
and `python -m utils.grading merge SHARD_OUT... --out OUT`.

Exit status: 0 when grading ran (however broken the submissions), 2 with a
one-line reason when it could not (bad arguments, missing folder, no working
sandbox: bubblewrap missing or no namespaces, unless --unconfined), 1 if the
output folder was swapped for another while grading, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections import Counter
from pathlib import Path

__all__ = ["SEED_VARIABLE", "main"]

SEED_VARIABLE = "COURSE_GRADING_SEED"
PROGRAM = "python -m utils.grading"


class _UsageError(Exception):
    """Bad command line or folders: exit 2 with one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + message
        raise _UsageError(f"{message} (see {PROGRAM} --help)")


def _make_output_folder(out: Path) -> None:
    """Create `out` (private to the instructor) or exit 2 saying why it cannot be used."""
    try:
        out.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        raise _UsageError(
            f"cannot create the output folder {str(out)!r}: {error.strerror}"
        ) from None
    if not os.access(out, os.W_OK):
        raise _UsageError(f"the output folder {str(out)!r} is not writable")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROGRAM,
        description=(
            "Grade every notebook below SUBMISSIONS (one folder per student) against the "
            "course's exercise specs plus hidden cases, each submission in its own "
            "confined child process. Writes OUT/grades.csv, OUT/summary.csv and "
            "OUT/feedback/<student>/<notebook>.md."
        ),
        epilog=(
            f"The seed is the instructor's secret: prefer the {SEED_VARIABLE} environment "
            "variable to --seed, since a command line is visible to every process."
        ),
    )
    parser.add_argument("submissions", metavar="SUBMISSIONS", help="folder of submissions")
    parser.add_argument("--out", required=True, metavar="OUT", help="folder for the gradebook")
    parser.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="submissions graded at once (default 1)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="wall-clock limit for running a notebook's cells (default 60)",
    )
    parser.add_argument(
        "--case-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="CPU seconds per call of an answer on one case, twice that in wall time "
        "(default: --timeout / 20, at least the 3 s that the learner's check() allows); "
        "checking the answers gets this times the number of cases",
    )
    parser.add_argument(
        "--unconfined",
        action="store_true",
        help="run submissions WITHOUT the bubblewrap sandbox (only where it cannot work; "
        "a submission can then read and change everything your user can)",
    )
    parser.add_argument(
        "--seed",
        default=None,
        metavar="SEED",
        help=f"seed of the hidden cases (default: ${SEED_VARIABLE}, else a public default)",
    )
    parser.add_argument(
        "--memory-mb",
        type=int,
        default=2048,
        metavar="MB",
        help="address-space limit per submission in MiB (default 2048)",
    )
    parser.add_argument(
        "--cell-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="wall-clock limit for one cell: past it the cell is interrupted and the next "
        "cells run (default: half of --timeout)",
    )
    parser.add_argument(
        "--own-implementation",
        choices=("flag", "zero"),
        default="flag",
        help="an answer that calls the course's own implementation of its exercise: "
        "'flag' keeps its points and marks it flagged (default), 'zero' gives it 0",
    )
    parser.add_argument(
        "--shard",
        default=None,
        metavar="K/N",
        help="grade only shard K of N (students split by a stable hash of their name); "
        f"combine the N gradebooks with `{PROGRAM} merge`",
    )
    _add_roster(parser)
    return parser


def _add_roster(parser) -> None:
    parser.add_argument(
        "--roster",
        default=None,
        metavar="CSV",
        help="roster mapping submission folders to LMS identities (columns: folder, name, "
        "id, sis_user_id, sis_login_id, section; see the README); adds them to canvas.csv "
        "and moodle.csv",
    )


def _merge_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=f"{PROGRAM} merge",
        description=(
            "Combine the gradebooks of every shard (--shard K/N) into the files one run "
            "would have written, byte for byte. Refuses shards graded with different "
            "seeds, course sources, options or submission folders, and missing or "
            "duplicate shards."
        ),
    )
    parser.add_argument("shards", nargs="+", metavar="SHARD_OUT", help="a shard's --out folder")
    parser.add_argument("--out", required=True, metavar="OUT", help="folder for the gradebook")
    _add_roster(parser)
    return parser


def _check_arguments(arguments) -> tuple[Path, Path]:
    if not 1 <= arguments.jobs <= 64:
        raise _UsageError(f"--jobs must be between 1 and 64, got {arguments.jobs}")
    if not (math.isfinite(arguments.timeout) and arguments.timeout > 0):
        raise _UsageError(
            f"--timeout must be a positive number of seconds, got {arguments.timeout}"
        )
    if arguments.case_timeout is not None and not (
        math.isfinite(arguments.case_timeout) and 0 < arguments.case_timeout <= 600
    ):
        raise _UsageError(
            f"--case-timeout must be between 0 and 600 seconds, got {arguments.case_timeout}"
        )
    if arguments.memory_mb < 256:
        raise _UsageError(f"--memory-mb must be at least 256, got {arguments.memory_mb}")
    if arguments.cell_timeout is not None and not (
        math.isfinite(arguments.cell_timeout) and arguments.cell_timeout > 0
    ):
        raise _UsageError(
            f"--cell-timeout must be a positive number of seconds, got {arguments.cell_timeout}"
        )
    if arguments.shard is not None:
        from utils.grading._shard import ShardError, parse_shard

        try:
            arguments.shard = parse_shard(arguments.shard)
        except ShardError as error:
            raise _UsageError(str(error)) from None
    if arguments.seed is not None and not arguments.seed.strip():
        raise _UsageError("--seed must not be empty")
    submissions = Path(arguments.submissions)
    if not submissions.exists():
        raise _UsageError(f"the submissions folder {str(submissions)!r} does not exist")
    if not submissions.is_dir():
        raise _UsageError(f"{str(submissions)!r} is not a folder of submissions")
    out = Path(arguments.out)
    real_submissions, real_out = submissions.resolve(), out.resolve()
    if real_out == real_submissions or real_out in real_submissions.parents:
        raise _UsageError("--out must not be the submissions folder or contain it")
    _make_output_folder(out)
    return submissions, out


def _warn(message: str) -> None:
    print(f"{PROGRAM}: warning: {message}", file=sys.stderr)


def _seed(arguments) -> str:
    from utils.grading._grade import DEFAULT_SEED

    if arguments.seed is not None:
        return arguments.seed
    from_environment = os.environ.get(SEED_VARIABLE, "")
    if from_environment.strip():
        return from_environment
    _warn(
        f"no --seed and no {SEED_VARIABLE}: using the public default seed, so hidden cases "
        "are predictable to anyone who reads the course's source"
    )
    return DEFAULT_SEED


class _Progress:
    """A one-line bar on stderr, only when stderr is a terminal."""

    def __init__(self):
        self.enabled = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total == 0:
            return
        width = 30
        filled = width * done // total
        sys.stderr.write(f"\rgrading [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _manifest(arguments, seed: str, course_root: str, students: str, lesson_points) -> dict:
    """grading.json: what `merge` compares (never the seed itself)."""
    from utils.grading._shard import MANIFEST_FORMAT, seed_check, source_fingerprint

    return {
        "format": MANIFEST_FORMAT,
        "seed": seed_check(seed),
        "course": source_fingerprint(course_root),
        "class": students,
        "options": {
            "timeout": arguments.timeout,
            "cell_timeout": arguments.cell_timeout,
            "case_timeout": arguments.case_timeout,
            "memory_mb": arguments.memory_mb,
            "own_implementation": arguments.own_implementation,
            "unconfined": arguments.unconfined,
        },
        "shard": list(arguments.shard) if arguments.shard else None,
        "lesson_points": dict(sorted(lesson_points.items())),
    }


def _roster(arguments):
    """The instructors' roster (--roster), or None."""
    path = getattr(arguments, "roster", None)
    if path is None:
        return None
    try:
        from utils.grading import _lms
    except ImportError:
        raise _UsageError("--roster: the LMS export is not available in this copy") from None
    try:
        return _lms.load_roster(path)
    except (OSError, ValueError) as error:
        raise _UsageError(f"--roster {path}: {error}") from None


def _merge(argv: list[str]) -> int:
    arguments = _merge_parser().parse_args(argv)
    from utils.grading._report import write_outputs
    from utils.grading._shard import MergeError, merge_gradebooks

    out = Path(arguments.out)
    shards = [Path(folder) for folder in arguments.shards]
    for folder in shards:
        if not folder.is_dir():
            raise _UsageError(f"the shard gradebook {str(folder)!r} is not a folder")
        if folder.resolve() == out.resolve():
            raise _UsageError("--out must not be one of the shards")
    roster = _roster(arguments)
    try:
        manifest, rows, feedback, lesson_points = merge_gradebooks(shards)
    except MergeError as error:
        raise _UsageError(f"cannot merge: {error}") from None
    _make_output_folder(out)
    write_outputs(out, rows, feedback, lesson_points, manifest, roster)
    students = len({row.student for row in rows})
    print(
        f"merged {len(shards)} shard(s): {len(rows)} row(s) of {students} student(s); wrote "
        f"{out / 'grades.csv'}, {out / 'summary.csv'}, {out / 'feedback'}/"
    )
    return 0


def _run(arguments) -> int:
    submissions_root, out = _check_arguments(arguments)
    roster = _roster(arguments)  # a bad roster stops before any child runs
    seed = _seed(arguments)

    from utils import exercises
    from utils.checks import CASE_TIME_LIMIT_SECONDS
    from utils.grading._discover import (
        Submission,
        find_submissions,
        limit_per_student,
        read_submission,
        student_and_notebook,
    )
    from utils.grading._grade import grade_all, plan_lesson
    from utils.grading._report import write_gradebook
    from utils.grading._sandbox import Sandbox, SandboxError
    from utils.grading._shard import class_digest, shard_of

    begin = time.monotonic()
    course_root = str(Path(exercises.__file__).resolve().parents[2])
    # The default equals check()'s own per-case limit, so an answer that passes in the
    # notebook is never cut short here.
    case_seconds = arguments.case_timeout or max(CASE_TIME_LIMIT_SECONDS, arguments.timeout / 20)
    if arguments.unconfined:
        _warn(
            "--unconfined: submissions run WITHOUT a sandbox, as your own user. A submission "
            "can read and change every file you can (the course, its venv, other "
            "submissions, earlier gradebooks, your home folder), open network connections, "
            "see and signal your processes (and read the seed from their environment). "
            "Use it only for trusted notebooks; grades of hostile ones cannot be trusted."
        )
    try:
        sandbox = Sandbox(
            course_root,
            timeout=arguments.timeout,
            case_seconds=case_seconds,
            memory_mb=arguments.memory_mb,
            jobs=arguments.jobs,
            hidden=[str(submissions_root), str(out)],
            unconfined=arguments.unconfined,
            cell_timeout=min(arguments.cell_timeout or arguments.timeout / 2, arguments.timeout),
        )
    except (SandboxError, OSError) as error:
        raise _UsageError(f"cannot start grading children: {error}") from None
    out_identity = os.stat(out)
    lessons = set(exercises.lessons())
    grade_ids = {}
    for spec in exercises.all_exercises():
        grade_ids[spec.grade_id] = spec.lesson
        grade_ids[spec.check_grade_id] = spec.lesson
    try:
        found = limit_per_student(find_submissions(submissions_root, skip=(out,)))
    except OSError as error:
        raise _UsageError(f"cannot read the submissions folder: {error.strerror}") from None
    if not found:
        _warn(f"found no notebooks (*.ipynb) below {str(submissions_root)!r}")
    everyone = [student_and_notebook(parts)[0] for parts, _problem in found]
    if arguments.shard is not None:
        index, count = arguments.shard
        found = [
            (parts, problem)
            for (parts, problem), student in zip(found, everyone, strict=True)
            if shard_of(student, count) == index
        ]
    submissions = []
    for parts, problem in found:
        try:
            submission = read_submission(submissions_root, parts, lessons, grade_ids, problem)
        except Exception as error:  # one file never stops the class
            student, notebook = student_and_notebook(parts)
            submission = Submission(
                student,
                notebook,
                parts,
                None,
                problem=f"the grader could not read this file ({type(error).__name__})",
            )
        submissions.append(submission)
    present = sorted({s.lesson for s in submissions if s.lesson is not None})
    try:
        plans = {lesson: plan_lesson(lesson, seed, case_seconds) for lesson in present}
    except ValueError as error:
        raise _UsageError(str(error)) from None
    specs = {spec.id: spec for lesson in present for spec in plans[lesson].specs}
    lesson_points = {
        lesson: float(sum(spec.points for spec in plans[lesson].specs)) for lesson in present
    }
    try:
        shown = len(sandbox.notes)
        for note in sandbox.notes:
            _warn(note)
        graded = list(
            grade_all(
                submissions,
                plans,
                sandbox,
                jobs=arguments.jobs,
                on_progress=_Progress(),
                own_implementation=arguments.own_implementation,
            )
        )
    finally:
        sandbox.close()
    for note in sandbox.notes[shown:]:
        _warn(note)
    now = os.lstat(out)
    if (now.st_dev, now.st_ino) != (out_identity.st_dev, out_identity.st_ino):
        print(
            f"{PROGRAM}: error: the output folder was replaced while grading; nothing written",
            file=sys.stderr,
        )
        return 1
    manifest = _manifest(arguments, seed, course_root, class_digest(everyone), lesson_points)
    write_gradebook(out, graded, specs, lesson_points, manifest, roster)
    statuses = Counter(row.status for item in graded for row in item.rows)
    untrusted = [row for item in graded for row in item.rows if "course's files" in row.message]
    if untrusted:
        _warn(
            "the course's files (the utils package) changed during grading; the submission "
            "that did it and every one graded after are marked invalid. Restore the files "
            "(e.g. `git checkout -- utils`) and grade again."
        )
    students = len({item.submission.student for item in graded})
    counts = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items()))
    where = {
        "root": "in the bubblewrap sandbox (as root, children on unprivileged uids)",
        "user": "in the bubblewrap sandbox (user namespaces)",
        "unconfined": "UNCONFINED (no sandbox)",
    }[sandbox.mode]
    print(
        f"graded {len(graded)} notebook(s) of {students} student(s) in "
        f"{time.monotonic() - begin:.1f} s {where} ({counts or 'no rows'}); wrote "
        f"{out / 'grades.csv'}, {out / 'summary.csv'}, {out / 'feedback'}/"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the grader; returns the exit status (see the module docstring)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv[:1] == ["merge"]:
            return _merge(argv[1:])
        arguments = _parser().parse_args(argv)
        return _run(arguments)
    except _UsageError as error:
        print(f"{PROGRAM}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROGRAM}: interrupted; nothing written", file=sys.stderr)
        return 130
