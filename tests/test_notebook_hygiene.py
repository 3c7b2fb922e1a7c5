"""The lesson notebooks follow the course's conventions.

Names, metadata and kernel; exercises in the notebooks and in the registry
agree; solutions store passing checks; every lesson has exercises, a quiz and
a summary; and the cells excluded from nbval's output comparison are exactly
the ones listed here, each with its reason.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager

from utils import exercises

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
NOTEBOOKS = ROOT / "notebooks"
LESSON_FILE = re.compile(r"^(\d{2})_[a-z0-9]+(?:_[a-z0-9]+)*\.ipynb$")
LESSON_STEMS = {
    "00": "00_start_here",
    "01": "01_scores_to_probabilities",
    "02": "02_overflow_and_logsumexp",
    "03": "03_shift_scale_temperature",
    "04": "04_next_token_distribution",
    "05": "05_sampling",
    "06": "06_sequence_scores",
    "07": "07_training_signal",
    "08": "08_debugging_case_studies",
    "09": "09_tokens_not_words",
}
KERNELSPEC = {
    "name": "next-token-course",
    "display_name": "Python 3 (next-token course)",
    "language": "python",
}
NOTEBOOK_METADATA_KEYS = {"kernelspec", "language_info", "course"}
CELL_METADATA_KEYS = {"tags", "nbgrader"}

# Every solution cell that nbval does not compare (or lets raise), with why.
# Keep this short: each entry is a cell whose output no test checks.
# {notebook stem: {cell id: reason}}
NBVAL_EXCLUSIONS: dict[str, dict[str, str]] = {}
EXCLUDING_TAGS = ("nbval-ignore-output", "nbval-skip", "raises-exception")
EXCLUDING_COMMENTS = ("# NBVAL_IGNORE_OUTPUT", "# NBVAL_SKIP", "# NBVAL_RAISES_EXCEPTION")

SOLUTION_PATHS = sorted(SOLUTIONS.glob("*.ipynb"))
STEMS = [path.stem for path in SOLUTION_PATHS]


def _read(path: Path):
    return nbformat.read(path, as_version=4)


@pytest.fixture(scope="module")
def solutions() -> dict[str, nbformat.NotebookNode]:
    return {path.stem: _read(path) for path in SOLUTION_PATHS}


def test_lessons_exist_under_the_same_names_in_both_folders():
    assert SOLUTION_PATHS, "no solution notebooks"
    solution_names = sorted(p.name for p in SOLUTION_PATHS)
    student_names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert solution_names == student_names, "run `make student`"
    for name in solution_names:
        match = LESSON_FILE.match(name)
        assert match, f"{name}: lessons are named NN_topic.ipynb"
        assert Path(name).stem == LESSON_STEMS.get(match.group(1)), (
            f"{name}: lesson {match.group(1)} is named {LESSON_STEMS.get(match.group(1))}.ipynb"
        )


@pytest.mark.parametrize("path", SOLUTION_PATHS + sorted(NOTEBOOKS.glob("*.ipynb")), ids=str)
def test_metadata_is_minimal_and_names_the_course_kernel(path: Path):
    notebook = _read(path)
    nbformat.validate(notebook)
    assert (notebook.nbformat, notebook.nbformat_minor) == (4, 5)
    assert set(notebook.metadata) == NOTEBOOK_METADATA_KEYS
    assert notebook.metadata.kernelspec == KERNELSPEC
    assert notebook.metadata.language_info == {"name": "python"}
    lesson = path.name[:2]
    course = notebook.metadata.course
    assert set(course) == {"id", "title", "order"}
    assert (course["id"], course["order"]) == (lesson, int(lesson))
    assert isinstance(course["title"], str)
    assert course["title"].strip()
    first = notebook.cells[0]
    assert first.cell_type == "markdown"
    assert first.source.splitlines()[0] == f"# {lesson} · {course['title']}"
    ids = [cell.id for cell in notebook.cells]
    assert len(ids) == len(set(ids)), "cell ids must be unique"
    for index, cell in enumerate(notebook.cells):
        assert set(cell.metadata) <= CELL_METADATA_KEYS, f"cell {index}: {sorted(cell.metadata)}"


def test_the_course_kernel_runs_this_environment():
    spec = KernelSpecManager().get_kernel_spec(KERNELSPEC["name"])
    assert spec.display_name == KERNELSPEC["display_name"]
    assert Path(spec.argv[0]).parent.parent.resolve() == Path(sys.prefix).resolve(), (
        f"kernel {KERNELSPEC['name']} runs {spec.argv[0]}, not this environment's Python; "
        "run `make install`"
    )


def _nbgrader(cell) -> dict:
    return cell.metadata.get("nbgrader", {}) if cell.cell_type == "code" else {}


@pytest.mark.parametrize("stem", STEMS)
def test_exercises_match_the_registry(stem: str, solutions):
    notebook = solutions[stem]
    lesson = stem[:2]
    specs = exercises.for_lesson(lesson)
    assert len(specs) >= 2, f"lesson {lesson} needs at least two checked exercises"
    answers = {
        _nbgrader(c)["grade_id"]: i
        for i, c in enumerate(notebook.cells)
        if _nbgrader(c).get("solution")
    }
    checks = {
        _nbgrader(c)["grade_id"]: i
        for i, c in enumerate(notebook.cells)
        if _nbgrader(c).get("grade")
    }
    assert sorted(answers) == sorted(spec.grade_id for spec in specs)
    assert sorted(checks) == sorted(spec.check_grade_id for spec in specs)
    for spec in specs:
        answer = notebook.cells[answers[spec.grade_id]]
        check_cell = notebook.cells[checks[spec.check_grade_id]]
        assert answers[spec.grade_id] < checks[spec.check_grade_id]
        assert _nbgrader(answer) == {
            "grade_id": spec.grade_id,
            "solution": True,
            "grade": False,
            "locked": False,
            "schema_version": 3,
        }
        assert _nbgrader(check_cell) == {
            "grade_id": spec.check_grade_id,
            "grade": True,
            "solution": False,
            "points": spec.points,
            "locked": True,
            "schema_version": 3,
        }
        assert check_cell.source.strip() == f'check("{spec.id}", {spec.answer_name})'
        before_region = answer.source.split("### BEGIN SOLUTION")[0]
        if spec.kind == "function":
            assert f"def {spec.answer_name}(" in before_region
        else:
            assert before_region.rstrip().splitlines()[-1] == f"{spec.answer_name} = None"


@pytest.mark.parametrize("stem", STEMS)
def test_every_check_call_names_a_known_exercise(stem: str, solutions):
    known = {spec.id for spec in exercises.all_exercises() + exercises.demos()}
    for index, cell in enumerate(solutions[stem].cells):
        if cell.cell_type == "code":
            for exercise_id in re.findall(r"\bcheck\(\s*[\"']([^\"']+)[\"']", cell.source):
                assert exercise_id in known, f"{stem} cell {index}: unknown {exercise_id}"
                assert exercise_id[:2] == stem[:2], f"{stem} cell {index}: {exercise_id}"


def _plain_text(cell) -> str:
    for output in cell.outputs:
        if output.output_type in ("execute_result", "display_data"):
            return output.data.get("text/plain", "")
    return ""


@pytest.mark.parametrize("stem", STEMS)
def test_solutions_store_outputs_and_passing_checks(stem: str, solutions):
    for index, cell in enumerate(solutions[stem].cells):
        if cell.cell_type != "code":
            continue
        assert cell.execution_count is not None, (
            f"{stem} cell {index} was never run: `make solutions` stores the outputs"
        )
        assert not [o for o in cell.outputs if o.output_type == "error"], f"{stem} cell {index}"
        if _nbgrader(cell).get("grade"):
            assert _plain_text(cell).startswith("[passed]"), f"{stem} cell {index}"


def _headings(notebook) -> list[str]:
    return [
        line.lstrip("#").strip()
        for cell in notebook.cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("#")
    ]


EXPLORERS = re.compile(
    r"\butils\.widgets\.(score_explorer|overflow_explorer|temperature_explorer|sampling_lab"
    r"|beam_search_stepper|gradient_explorer)\("
)
QUIZ = re.compile(r"\butils\.widgets\.(numeric_)?quiz\(")


def _displays_a_widget(cell) -> bool:
    results = [o.data for o in cell.outputs if o.output_type == "execute_result"]
    return any("application/vnd.jupyter.widget-view+json" in data for data in results)


def _code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


@pytest.mark.parametrize("stem", STEMS)
def test_lesson_ends_with_a_quiz_then_a_summary(stem: str, solutions):
    notebook = solutions[stem]
    headings = _headings(notebook)
    assert headings[-2:] == ["Self-check", "Summary"], (
        f"{stem}: a lesson ends on a 'Self-check' section, then a 'Summary'; "
        f"its last headings are {headings[-2:]}"
    )
    start = max(i for i, cell in enumerate(notebook.cells) if "## Self-check" in cell.source)
    quizzes = [cell for cell in _code_cells(notebook) if QUIZ.search(cell.source)]
    in_self_check = [cell for cell in notebook.cells[start:] if cell in quizzes]
    assert len(in_self_check) >= 3, (
        f"{stem}: the self-check has {len(in_self_check)} quiz widgets; "
        "write at least three (utils.widgets.quiz / numeric_quiz)"
    )
    for cell in in_self_check:
        assert _displays_a_widget(cell), (
            f"{stem}, cell {cell.id}: the quiz must be the cell's value so that it is displayed"
        )


@pytest.mark.parametrize("stem", [stem for stem in STEMS if not stem.startswith("00")])
def test_lesson_has_an_explorer(stem: str, solutions):
    explorers = [c for c in _code_cells(solutions[stem]) if EXPLORERS.search(c.source)]
    assert explorers, f"{stem}: no explorer widget (utils.widgets.*_explorer, sampling_lab, ...)"
    for cell in explorers:
        assert _displays_a_widget(cell), (
            f"{stem}, cell {cell.id}: end the cell on the explorer so that it is displayed"
        )


def _excluded_cells(stem: str, notebook) -> dict[str, str]:
    found = {}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        tags = [t for t in cell.metadata.get("tags", []) if t in EXCLUDING_TAGS]
        comments = [c for c in EXCLUDING_COMMENTS if c in cell.source]
        if tags or comments:
            found[cell.id] = ", ".join(tags + comments)
    return found


def test_cells_excluded_from_nbval_are_exactly_the_allow_list(solutions):
    actual = {stem: _excluded_cells(stem, nb) for stem, nb in solutions.items()}
    actual = {stem: cells for stem, cells in actual.items() if cells}
    listed = {stem: set(cells) for stem, cells in NBVAL_EXCLUSIONS.items()}
    assert {stem: set(cells) for stem, cells in actual.items()} == listed, (
        f"cells excluded from nbval's comparison: {actual}; add each one to NBVAL_EXCLUSIONS "
        "in this file with its reason, or remove the tag"
    )
    assert all(reason.strip() for cells in NBVAL_EXCLUSIONS.values() for reason in cells.values())
