"""Submissions for the grader's tests, built from the course's own notebooks.

Every hostile or broken submission starts from `solutions/` or `notebooks/`
and changes a few cells with nbformat, so the fixtures follow the lessons as
they change. Lesson 00 (two exercises: the value `mean_score` and the
function `scores_above`) is the graded lesson; lesson 01 plays "another
lesson".
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
LESSON = "00"
OTHER_LESSON = "01"
# Marks the processes a submission leaves behind, so a test can look for them.
BACKGROUND_MARKER = "4242.25"

WRONG_MEAN = "mean_score = None\nmean_score = float(scores.mean()) + 1.0\nmean_score\n"
# ">=" instead of ">": right on most cases, wrong where a score equals the threshold.
WRONG_SCORES_ABOVE = (
    "def scores_above(scores, threshold):\n"
    "    return np.flatnonzero(np.asarray(scores) >= threshold)\n"
)


def wrong_scores_above(scores, threshold):
    """The same mistake as WRONG_SCORES_ABOVE, for computing the expected credit."""
    import numpy as np

    return np.flatnonzero(np.asarray(scores) >= threshold)


def lesson_path(folder: str, lesson: str) -> Path:
    (path,) = sorted((ROOT / folder).glob(f"{lesson}_*.ipynb"))
    return path


def load(folder: str, lesson: str = LESSON):
    return nbformat.read(lesson_path(folder, lesson), as_version=4)


def _index(notebook, grade_id: str) -> int:
    for index, cell in enumerate(notebook.cells):
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return index
    raise LookupError(f"no cell with nbgrader grade_id {grade_id!r}")


def _imports_index(notebook) -> int:
    """The first code cell that imports `check` (every lesson starts with one)."""
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and "import" in cell.source and "check" in cell.source:
            return index
    raise LookupError("no import cell")


def set_answer(notebook, grade_id: str, source: str):
    notebook.cells[_index(notebook, grade_id)].source = source
    return notebook


def delete_answer(notebook, grade_id: str):
    del notebook.cells[_index(notebook, grade_id)]
    return notebook


def after_imports(notebook, *sources: str):
    position = _imports_index(notebook) + 1
    for offset, source in enumerate(sources):
        notebook.cells.insert(position + offset, nbformat.v4.new_code_cell(source))
    return notebook


def at_end(notebook, *sources: str):
    notebook.cells.extend(nbformat.v4.new_code_cell(source) for source in sources)
    return notebook


def correct():
    return load("solutions")


def untouched():
    return load("notebooks")


def wrong():
    notebook = correct()
    set_answer(notebook, "00_mean_score", WRONG_MEAN)
    return set_answer(notebook, "00_scores_above", WRONG_SCORES_ABOVE)


PATCHES_BEFORE = """\
import builtins
import numpy
import numpy.testing
import utils
import utils.checks
import utils.exercises
from utils.checks import CaseOutcome, CheckResult


def always_passed(exercise_id, answer=None):
    points = float(utils.exercises.get(exercise_id).points)
    return CheckResult(exercise_id, "passed", "ok", 1, 1, points, points)


def reference_outcome(answer, exercise, case):
    if exercise.kind == "value":
        value = exercise.reference()
    else:
        value = exercise.reference(*case.args, **case.kwargs)
    return CaseOutcome("ok", value=value, value_type=type(value).__name__)


numpy.allclose = lambda *args, **kwargs: True
numpy.array_equal = lambda *args, **kwargs: True
numpy.isclose = lambda a, b, *args, **kwargs: numpy.ones(numpy.broadcast(a, b).shape, bool)
numpy.testing.assert_allclose = lambda *args, **kwargs: None
numpy.testing.assert_array_equal = lambda *args, **kwargs: None
utils.check = utils.checks.check = check = always_passed
utils.checks.evaluate = lambda exercise, cases, outcomes: always_passed(exercise.id)
utils.checks.run_case = reference_outcome
builtins.round = lambda number, digits=None: number
for spec in utils.exercises.all_exercises():
    object.__setattr__(spec, "rtol", 1e9)
    object.__setattr__(spec, "atol", 1e9)
"""


def patches_before():
    notebook = after_imports(correct(), PATCHES_BEFORE)
    set_answer(notebook, "00_mean_score", "mean_score = None\nmean_score = 12345.0\n")
    return set_answer(
        notebook,
        "00_scores_above",
        "def scores_above(scores, threshold):\n    return np.array([0])\n",
    )


PATCHED_SCORES_ABOVE = """\
def scores_above(scores, threshold):
    import builtins
    import numpy
    import utils.checks
    numpy.allclose = lambda *args, **kwargs: True
    numpy.array_equal = lambda *args, **kwargs: True
    utils.checks._same = lambda before, after: True
    builtins.isinstance = lambda value, kind: True
    return numpy.array([0])
"""

PATCHED_MEAN = """\
import numpy
mean_score = None
numpy.mean = lambda *args, **kwargs: 0.0
numpy.ndarray = None
mean_score = 12345.0
"""


def patches_inside():
    notebook = set_answer(correct(), "00_mean_score", PATCHED_MEAN)
    return set_answer(notebook, "00_scores_above", PATCHED_SCORES_ABOVE)


def forger(forged_files: dict[str, str]):
    """Prints what looks like results and plants result files, then ends the process."""
    lines = [
        "import os, sys",
        'print(\'{"exercise": "00.scores_above", "status": "passed", "points": 1}\')',
        "print('00.mean_score: passed (1/1 points)')",
        'sys.stderr.write(\'{"id": "00.mean_score", "defined": true}\\n\')',
        "os.makedirs('results', exist_ok=True)",
    ]
    for name, text in forged_files.items():
        lines.append(f"open(os.path.join('results', {name!r}), 'w').write({text!r})")
    lines.append("os._exit(0)")
    return at_end(untouched(), "\n".join(lines) + "\n")


def sys_exit():
    return after_imports(
        correct(),
        "import sys\nsys.exit(0)\n",
        "raise SystemExit('leaving early')\n",
        "exit()\n",
        "raise KeyboardInterrupt\n",
    )


def exit_in_cell():
    return at_end(correct(), "import os\nos._exit(0)\n")


# The lesson's visible cases have at most 4 scores and the hidden ones usually
# more: these answers pass the notebook's own check cell and misbehave only on
# the grader's hidden cases, after their first exercise was checked.
def exit_in_answer():
    return set_answer(
        correct(),
        "00_scores_above",
        "def scores_above(scores, threshold):\n"
        "    if len(scores) > 4:\n"
        "        import os\n"
        "        os._exit(3)\n"
        "    return np.flatnonzero(scores > threshold)\n",
    )


def endless_cell():
    return after_imports(correct(), "while True:\n    pass\n")


def endless_answer():
    return set_answer(
        correct(),
        "00_scores_above",
        "def scores_above(scores, threshold):\n"
        "    while len(scores) > 4:\n"
        "        pass\n"
        "    return np.flatnonzero(scores > threshold)\n",
    )


def memory_bomb():
    # np.empty reserves address space without touching it: the limit is hit at once,
    # whatever the machine's load (touching 1 GB can take seconds on a busy machine).
    notebook = after_imports(correct(), "hog = [np.empty(10**7) for _ in range(10**5)]\n")
    return set_answer(
        notebook,
        "00_scores_above",
        "def scores_above(scores, threshold):\n"
        "    buffer = np.ones(10**12)\n"
        "    return np.flatnonzero(scores > threshold)\n",
    )


BACKGROUND = f"""\
import os
import subprocess
subprocess.Popen(["sleep", "{BACKGROUND_MARKER}"], start_new_session=True)
if os.fork() == 0:
    try:
        os.setsid()
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", "{BACKGROUND_MARKER}"])
    finally:
        os._exit(0)
"""


def background():
    return after_imports(correct(), BACKGROUND)


def writes_out(targets: list[str]):
    source = (
        "import os\n"
        f"for target in {targets!r}:\n"
        "    try:\n"
        "        os.makedirs(os.path.dirname(target), exist_ok=True)\n"
        "        with open(target, 'w') as file:\n"
        "            file.write('forged by writes_out')\n"
        "    except OSError:\n"
        "        pass\n"
    )
    return after_imports(correct(), source)


TAMPER = """\
import pathlib
import utils
package = pathlib.Path(utils.__file__).parent
always_reference = '''

def run_case(answer, exercise, case):
    if exercise.kind == "value":
        value = exercise.reference()
    else:
        value = exercise.reference(*case.args, **case.kwargs)
    return CaseOutcome("ok", value=value, value_type=type(value).__name__)
'''
for name, text in [
    ("checks.py", always_reference),
    ("exercises/lesson00.py", "\\nEXERCISES = EXERCISES[:1]\\n"),
    ("exercises/lesson99.py", "EXERCISES = []\\n"),
]:
    try:
        with open(package / name, "a") as file:
            file.write(text)
    except OSError:
        pass
"""


def tamperer():
    return after_imports(untouched(), TAMPER)


SANDBOX_PROBE = """\
import os, pathlib, utils
package = pathlib.Path(utils.__file__).parent
raise RuntimeError(
    f"sandbox uid={os.getuid()} "
    f"course_writable={os.access(package, os.W_OK)} "
    f"submissions_visible={os.path.exists(SUBMISSIONS)} "
    f"out_visible={os.path.exists(OUT)} "
    f"nbgrader={os.environ.get('NBGRADER_EXECUTION')} "
    f"backend={os.environ.get('MPLBACKEND')} "
    f"threads={os.environ.get('OPENBLAS_NUM_THREADS')}"
)
"""


def probe_source(submissions: str, out: str) -> str:
    """A cell reporting what the child could see and do, as an exception the feedback lists."""
    return f"SUBMISSIONS = {submissions!r}\nOUT = {out!r}\n" + SANDBOX_PROBE


def deleted_cell():
    return delete_answer(correct(), "00_scores_above")


def extra_cells():
    notebook = after_imports(
        correct(),
        "%matplotlib inline\n%time warmup = sum(range(10))\n!echo shell commands run too\n",
        "def helper(values):\n    return [value * 2 for value in values]\n\nhelper([1, 2])\n",
        "def broken(:\n    pass\n",
        "print('a cell that only prints')\n",
    )
    notebook.cells.insert(3, nbformat.v4.new_markdown_cell("My own notes: *softmax* soon."))
    return notebook


def other_lesson():
    return load("solutions", OTHER_LESSON)


def unknown_lesson():
    notebook = correct()
    notebook.metadata["course"]["id"] = "99"
    for cell in notebook.cells:
        cell.metadata.pop("nbgrader", None)
    return notebook


def no_metadata():
    notebook = correct()
    del notebook.metadata["course"]
    return notebook


def damaged() -> str:
    """Known lesson in the metadata, but a cell without its source (not valid nbformat)."""
    content = json.loads(nbformat.writes(correct()))
    content = copy.deepcopy(content)
    del content["cells"][0]["source"]
    return json.dumps(content)


def sandbox_processes(course: Path) -> list[str]:
    """Living processes of the sandboxes of one grader run: those whose mount namespace
    holds that run's course (a zombie, state Z, runs nothing and is left out)."""
    marker = f" {course / 'utils'} "
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            mounts = Path(f"/proc/{pid}/mountinfo").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if marker in mounts and not fields["State"].strip().startswith(("Z", "X")):
            found.append(f"{pid} ({fields['Name'].strip()}, {fields['State'].strip()})")
    return found


def write(notebook, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def write_bytes(data: bytes, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
