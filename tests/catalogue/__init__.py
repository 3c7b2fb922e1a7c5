"""The mistake catalogue: answers learners really write, per exercise.

Each `tests/catalogue/lessonNN.py` defines `WRONG: list[Wrong]` and
`RIGHT: list[Right]`. `tests/test_catalogue.py` runs every entry through
`check` (the visible cases) and through the grader's judging path (visible
and hidden cases, outcomes round-tripped as plain data, then `evaluate`):

* a `Wrong` answer must fail on the visible cases, its message must contain
  its `diagnosis` phrase when one is given, and no other catalogued diagnosis
  phrase of the same exercise (a specific message fires only when true);
* a `Right` answer must pass `check` and get full points with hidden cases.

`source` is the code a learner writes in the answer cell: it defines the
answer's name (a function or a value) and does its own imports.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import textwrap
from dataclasses import dataclass

__all__ = ["Right", "Wrong", "entries", "load"]


@dataclass(frozen=True)
class Wrong:
    """A wrong answer a learner really writes."""

    exercise_id: str  # "02.logsumexp"
    mistake: str  # short name: "forgot to add the maximum back"
    source: str  # the learner's cell: defines the answer name, with its own imports
    diagnosis: str | None = None  # a phrase check's message must contain, or None


@dataclass(frozen=True)
class Right:
    """A correct alternative formulation."""

    exercise_id: str
    formulation: str
    source: str


def load(source: str, answer_name: str):
    """Run `source` in a fresh namespace (as a notebook cell would) and return the answer."""
    namespace: dict = {"__name__": "__catalogue__"}
    code = compile(textwrap.dedent(source), f"<catalogue {answer_name}>", "exec")
    exec(code, namespace)
    if answer_name not in namespace:
        raise NameError(f"the catalogued source does not define {answer_name!r}")
    return namespace[answer_name]


_LESSON_MODULE = re.compile(r"^lesson(\d{2})$")


def entries() -> tuple[list[Wrong], list[Right]]:
    """Every catalogued (WRONG, RIGHT) entry of every lessonNN module, lesson by lesson."""
    wrong: list[Wrong] = []
    right: list[Right] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        if not _LESSON_MODULE.match(info.name):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for entry in getattr(module, "WRONG", []):
            if not isinstance(entry, Wrong):
                raise TypeError(f"{info.name}.WRONG holds a non-Wrong entry: {entry!r}")
            wrong.append(entry)
        for entry in getattr(module, "RIGHT", []):
            if not isinstance(entry, Right):
                raise TypeError(f"{info.name}.RIGHT holds a non-Right entry: {entry!r}")
            right.append(entry)
    return wrong, right
