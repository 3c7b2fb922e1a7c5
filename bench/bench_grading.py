"""Benchmark the grader against nbgrader's `autograde` on the same 30 submissions.

Builds 30 submissions of one lesson from the course's own notebooks (correct,
wrong and not-attempted answers, seeded), grades them with
`python -m utils.grading --jobs 2`, and, when nbgrader is importable (the
`instructor` extra that `make bench` installs), runs `nbgrader autograde` on
the same files in a temporary nbgrader course generated from `solutions/`.
Prints wall time, throughput and peak memory (the sum of the resident memory
of the grading process and all its children, sampled every 20 ms) of both,
and the throughput ratio. nbgrader grades one submission at a time with a
fresh Jupyter kernel each; the course's grader runs a plain Python child per
submission under its bubblewrap sandbox (always on here), two at a time.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import numpy as np

from bench.common import format_bytes, print_table
from utils import exercises

ROOT = Path(__file__).resolve().parents[1]
LESSON = "02"
# 30 submissions: enough for a steady throughput of both graders (nbgrader starts a kernel
# per submission), few enough to keep `make bench` within minutes.
SUBMISSIONS = 30
JOBS = 2
TARGET_RATIO = 3.0


def _lesson_notebook(folder: str, lesson: str) -> Path:
    (path,) = sorted((ROOT / folder).glob(f"{lesson}_*.ipynb"))
    return path


def _wrong_answer(spec) -> str:
    if spec.kind == "value":
        return f"{spec.answer_name} = None\n{spec.answer_name} = -1.0\n"
    return (
        f"def {spec.answer_name}(*args, **kwargs):\n"
        "    return np.asarray(args[0], dtype=float) * 0.5\n"
    )


def build_submissions(folder: Path, lesson: str = LESSON, count: int = SUBMISSIONS) -> dict:
    """`count` students, each drawn (seeded) as correct (p=0.4), with one wrong answer
    (0.3) or untouched (0.3); returns how many of each."""
    rng = np.random.default_rng(2024)
    solution = nbformat.read(_lesson_notebook("solutions", lesson), as_version=4)
    student = nbformat.read(_lesson_notebook("notebooks", lesson), as_version=4)
    specs = exercises.for_lesson(lesson)
    name = _lesson_notebook("solutions", lesson).name
    kinds = {"correct": 0, "wrong": 0, "untouched": 0}
    for index in range(count):
        kind = rng.choice(["correct", "wrong", "untouched"], p=[0.4, 0.3, 0.3])
        kinds[str(kind)] += 1
        notebook = copy.deepcopy(student if kind == "untouched" else solution)
        if kind == "wrong":
            spec = specs[int(rng.integers(len(specs)))]
            for cell in notebook.cells:
                if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == spec.grade_id:
                    cell.source = _wrong_answer(spec)
        path = folder / f"student{index:03d}" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, path)
    return kinds


class PeakMemory:
    """Samples the summed RSS of a process and its descendants (needs psutil)."""

    def __init__(self, process: subprocess.Popen):
        import psutil

        self.root = psutil.Process(process.pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        import psutil

        while not self._stop.is_set():
            total = 0
            try:
                family = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                break
            for member in family:
                with contextlib.suppress(psutil.Error):
                    total += member.memory_info().rss
            self.peak = max(self.peak, total)
            self._stop.wait(0.02)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def timed(command: list[str], **options) -> tuple[float, int | None, subprocess.CompletedProcess]:
    """(seconds, peak bytes or None, completed process) of one command."""
    begin = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **options
    )
    sampler = PeakMemory(process) if importlib.util.find_spec("psutil") else None
    stdout, stderr = process.communicate()
    seconds = time.perf_counter() - begin
    peak = sampler.stop() if sampler else None
    return seconds, peak, subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def run_course_grader(submissions: Path, out: Path):
    command = [sys.executable, "-m", "utils.grading", str(submissions), "--out", str(out)]
    command += ["--jobs", str(JOBS), "--seed", "benchmark"]
    seconds, peak, result = timed(command, cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"the course's grader failed: {result.stderr}")
    if "bubblewrap sandbox" not in result.stdout:  # the comparison is with the sandbox on
        raise RuntimeError(f"the course's grader did not use its sandbox: {result.stdout}")
    print(f"utils.grading: {result.stdout.strip().split('; wrote', 1)[0]}")
    with open(out / "summary.csv", newline="", encoding="utf-8") as file:
        full_marks = sum(row["points"] == row["max_points"] for row in csv.DictReader(file))
    return seconds, peak, full_marks


def run_nbgrader(submissions: Path, workdir: Path, lesson: str = LESSON):
    """Generate an nbgrader assignment from solutions/, submit the same files, autograde."""
    course = workdir / "nbgrader-course"
    assignment = f"lesson{lesson}"
    name = _lesson_notebook("solutions", lesson).name
    source = course / "source" / assignment
    source.mkdir(parents=True)
    shutil.copy(_lesson_notebook("solutions", lesson), source / name)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        "c.ExecutePreprocessor.timeout = 60\n"
    )
    nbgrader = [sys.executable, "-m", "nbgrader"]
    # nbgrader runs the `alembic` script of its environment; `make bench` does not
    # activate .venv, so put the interpreter's scripts first on PATH.
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
    environment = {**os.environ, "PATH": path, "PYTHONWARNINGS": "ignore"}
    generate = subprocess.run(
        [*nbgrader, "generate_assignment", assignment, "--force"],
        cwd=course,
        env=environment,
        capture_output=True,
        text=True,
    )
    if generate.returncode != 0:
        raise RuntimeError(f"nbgrader generate_assignment failed: {generate.stderr[-2000:]}")
    for folder in sorted(submissions.iterdir()):
        target = course / "submitted" / folder.name / assignment
        target.mkdir(parents=True)
        shutil.copy(folder / name, target / name)
    seconds, peak, result = timed(
        [*nbgrader, "autograde", assignment, "--create"],
        cwd=course,
        env=environment,
    )
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader autograde failed: {result.stderr[-2000:]}")
    graded = len(list((course / "autograded").glob(f"*/{assignment}/{name}")))
    return seconds, peak, graded


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as temporary:
        workdir = Path(temporary)
        submissions = workdir / "submissions"
        kinds = build_submissions(submissions)
        print(
            f"{SUBMISSIONS} submissions of lesson {LESSON} "
            f"({', '.join(f'{count} {kind}' for kind, count in kinds.items())})"
        )
        ours, ours_peak, full_marks = run_course_grader(submissions, workdir / "out")
        print(f"utils.grading: {full_marks} students with full marks ({kinds['correct']} correct)")
        rows = [
            [
                f"utils.grading --jobs {JOBS}",
                f"{ours:.1f}",
                f"{SUBMISSIONS / ours:.2f}",
                f"{ours / SUBMISSIONS:.3f}",
                format_bytes(ours_peak) if ours_peak else "n/a",
            ]
        ]
        ratio = None
        if importlib.util.find_spec("nbgrader") is None:
            note = "nbgrader is not installed (pip install -e '.[instructor]'): no comparison"
        else:
            theirs, theirs_peak, graded = run_nbgrader(submissions, workdir)
            rows.append(
                [
                    "nbgrader autograde",
                    f"{theirs:.1f}",
                    f"{graded / theirs:.2f}",
                    f"{theirs / max(graded, 1):.3f}",
                    format_bytes(theirs_peak) if theirs_peak else "n/a",
                ]
            )
            ratio = (SUBMISSIONS / ours) / (graded / theirs)
            note = (
                f"throughput ratio utils.grading / nbgrader: {ratio:.1f}x "
                f"(target >= {TARGET_RATIO:.0f}x: {'met' if ratio >= TARGET_RATIO else 'NOT met'})"
                + ("" if graded == SUBMISSIONS else f"; nbgrader graded only {graded}")
            )
        print_table(
            ["grader", "seconds", "submissions/s", "s/submission", "peak memory (all processes)"],
            rows,
        )
        print(note)


if __name__ == "__main__":
    main()
