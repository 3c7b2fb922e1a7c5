"""The registry of every checked exercise in the course.

Each lesson's specs live in `utils/exercises/lessonNN.py` as a list named
`EXERCISES`; this package imports every such module it finds, so a new lesson
registers itself by adding its file. A module may also define `DEMOS`: specs
a lesson uses to demonstrate `check` on code it writes itself. `get` finds
them, but they are not exercises: `for_lesson` and `all_exercises` (what the
grader and the notebook tests use) leave them out.

>>> from utils import exercises
>>> exercises.get("00.mean_score").kind
'value'
>>> [spec.id for spec in exercises.for_lesson("00")]
['00.mean_score', '00.scores_above']
"""

from __future__ import annotations

import importlib
import pkgutil
import re

from utils.exercises._spec import KINDS, Case, Exercise

__all__ = ["KINDS", "Case", "Exercise", "all_exercises", "demos", "for_lesson", "get", "lessons"]

_LESSON_MODULE = re.compile(r"^lesson(\d{2})$")


def collect(modules) -> tuple[dict[str, Exercise], dict[str, Exercise]]:
    """({id: exercise}, {id: demo}) from (lesson number, module) pairs; raises on
    a malformed module, a spec filed under the wrong lesson or a duplicate id."""
    registry: dict[str, Exercise] = {}
    demos: dict[str, Exercise] = {}
    owner: dict[str, str] = {}
    for lesson, module in modules:
        name = getattr(module, "__name__", f"lesson{lesson}")
        specs = getattr(module, "EXERCISES", None)
        demo_specs = getattr(module, "DEMOS", [])
        if not isinstance(specs, (list, tuple)) or not isinstance(demo_specs, (list, tuple)):
            raise TypeError(f"{name} must define EXERCISES (and DEMOS) as lists of Exercise specs.")
        tagged = [(spec, registry) for spec in specs] + [(spec, demos) for spec in demo_specs]
        for spec, destination in tagged:
            if not isinstance(spec, Exercise):
                raise TypeError(f"{name}.EXERCISES holds a non-Exercise: {spec!r}.")
            if spec.lesson != lesson:
                raise ValueError(
                    f"{name} defines {spec.id!r}, whose lesson is not {lesson}; "
                    f"move it to lesson{spec.lesson}.py or rename it."
                )
            if spec.id in owner:
                raise ValueError(
                    f"exercise id {spec.id!r} is defined twice ({owner[spec.id]} and "
                    f"{name}); ids must be unique."
                )
            destination[spec.id] = spec
            owner[spec.id] = name
    return registry, demos


def _lesson_modules():
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        match = _LESSON_MODULE.match(info.name)
        if match:
            yield match.group(1), importlib.import_module(f"{__name__}.{info.name}")


_REGISTRY, _DEMOS = collect(_lesson_modules())


def get(exercise_id: str) -> Exercise:
    """The spec with this id; a KeyError lists the lesson's ids if unknown."""
    try:
        return _REGISTRY.get(exercise_id) or _DEMOS[exercise_id]
    except (KeyError, TypeError):
        pass
    if not isinstance(exercise_id, str):
        raise TypeError(f"exercise_id must be a str such as '02.logsumexp', got {exercise_id!r}.")
    lesson = exercise_id.split(".", 1)[0]
    known = [spec.id for spec in for_lesson(lesson)] if re.fullmatch(r"\d{2}", lesson) else []
    if known:
        raise KeyError(
            f"no exercise {exercise_id!r}; lesson {lesson} has: {', '.join(known)}."
        ) from None
    raise KeyError(
        f"no exercise {exercise_id!r}; ids look like '02.logsumexp' and the lessons "
        f"with exercises are {', '.join(lessons())}."
    ) from None


def for_lesson(lesson: str) -> list[Exercise]:
    """The specs of one lesson ("02"), in the order the lesson defines them."""
    if not (isinstance(lesson, str) and re.fullmatch(r"\d{2}", lesson)):
        raise ValueError(f"lesson must be a two-digit str such as '02', got {lesson!r}.")
    return [spec for spec in _REGISTRY.values() if spec.lesson == lesson]


def all_exercises() -> list[Exercise]:
    """Every registered spec, lesson by lesson."""
    return list(_REGISTRY.values())


def demos() -> list[Exercise]:
    """The demonstration specs (not exercises: never graded)."""
    return list(_DEMOS.values())


def lessons() -> list[str]:
    """The lesson numbers that have exercises, e.g. ['00', '01', '02']."""
    return sorted({spec.lesson for spec in _REGISTRY.values()})
