"""The notebooks the browser tests open, written with nbformat into a temporary folder.

* `gallery.ipynb`: every widget of `utils.widgets`, for the Voilà tests;
* the JupyterLab test opens lesson 03 (`solutions/03_shift_scale_temperature.ipynb`)
  when it has a temperature explorer and a quiz, else `lab_fixture.ipynb`, a
  small lesson-shaped notebook with both.

The widgets' arguments are constants here, so the tests can compute the
expected outputs with the same pure functions.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[2]
LESSON = ROOT / "solutions" / "03_shift_scale_temperature.ipynb"
KERNELSPEC = {
    "name": "next-token-course",
    "display_name": "Python 3 (next-token course)",
    "language": "python",
}

SCORE_TOKENS = ["cat", "dog", "bird"]
SCORE_LOGITS = [2.0, 1.0, 0.1]
TEMPERATURE_TOKENS = ["cat", "dog", "bird", "fish", "car"]
TEMPERATURE_LOGITS = [3.0, 2.0, 1.0, 0.5, -1.0]
LAB_CONTEXT = "the cat"
BEAM_PREFIX = "the cat"
GRADIENT_TOKENS = ["cat", "dog", "mat"]
GRADIENT_LOGITS = [2.0, 1.0, 0.0]
GRADIENT_TARGET = 1
QUIZ = {
    "question": "Dividing every score by a temperature T > 1 makes the distribution ...",
    "options": ["sharper", "flatter", "unchanged"],
    "correct": "flatter",
    "explanations": [
        "Sharper is what T < 1 does: differences between scores grow.",
        "Right: dividing by T > 1 shrinks the differences between scores.",
        "Only adding a constant leaves softmax unchanged; scaling does not.",
    ],
}
SEVERAL = {
    "question": "Which settings can only ever keep the most likely token?",
    "options": ["top-k = 1", "top-p = 1", "a very small temperature", "top-p close to 0"],
    "correct": ["top-k = 1", "top-p close to 0"],
    "explanations": [
        "One token kept: the most likely.",
        "p = 1 keeps every token.",
        "Close to one-hot, yet every token still has a tiny probability.",
        "The most likely token alone already reaches a tiny p.",
    ],
    "multiple": True,
}
NUMERIC = {
    "question": "softmax([0, 0, 0, 0]) gives each token the probability ...",
    "answer": 0.25,
    "tolerance": 0.001,
    "explanation": "Equal scores share the mass equally: 1/4.",
}


def _call(function: str, *args, **kwargs) -> str:
    arguments = [repr(arg) for arg in args] + [f"{key}={value!r}" for key, value in kwargs.items()]
    return f"{function}({', '.join(arguments)})"


def _write(folder: Path, name: str, cells) -> Path:
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    notebook.metadata["language_info"] = {"name": "python"}
    path = Path(folder) / name
    nbformat.write(notebook, path)
    return path


def write_gallery(folder) -> Path:
    """Every widget in one notebook; each cell ends on the widget it builds."""
    builds = {
        "score": _call("utils.widgets.score_explorer", SCORE_TOKENS, SCORE_LOGITS),
        "overflow": _call("utils.widgets.overflow_explorer"),
        "temperature": _call(
            "utils.widgets.temperature_explorer", TEMPERATURE_TOKENS, TEMPERATURE_LOGITS
        ),
        "lab": _call("utils.widgets.sampling_lab", context=LAB_CONTEXT, samples=1000),
        "beam": _call("utils.widgets.beam_search_stepper", prefix=BEAM_PREFIX, max_new_tokens=4),
        "gradient": _call(
            "utils.widgets.gradient_explorer", GRADIENT_TOKENS, GRADIENT_LOGITS, GRADIENT_TARGET
        ),
        "single": _call("utils.quiz", **QUIZ),
        "several": _call("utils.quiz", **SEVERAL),
        "numeric": _call("utils.numeric_quiz", **NUMERIC),
    }
    cells = [new_markdown_cell("# Widget gallery"), new_code_cell("import utils")]
    cells += [new_code_cell(f"{name} = {build}\n{name}") for name, build in builds.items()]
    return _write(folder, "gallery.ipynb", cells)


def lesson_has_widgets(path: Path = LESSON) -> bool:
    """True once the lesson displays a temperature explorer and a quiz."""
    if not path.exists():
        return False
    notebook = nbformat.read(path, as_version=4)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    return "temperature_explorer(" in code and "quiz(" in code


def write_lab_notebook(folder) -> Path:
    """The notebook the JupyterLab test opens: lesson 03 if ready, else a small stand-in."""
    if lesson_has_widgets():
        return Path(shutil.copy(LESSON, Path(folder) / LESSON.name))
    cells = [
        new_markdown_cell("# Temperature\nMove the slider, then answer the quiz."),
        new_code_cell("import utils"),
        new_code_cell(
            _call("utils.widgets.temperature_explorer", TEMPERATURE_TOKENS, TEMPERATURE_LOGITS)
        ),
        new_markdown_cell("## Self-check"),
        new_code_cell(_call("utils.quiz", **QUIZ)),
    ]
    return _write(folder, "lab_fixture.ipynb", cells)
