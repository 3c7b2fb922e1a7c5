"""What an exercise is: its id, points, reference answer and test cases.

One `Exercise` drives both the learner's `check(...)` in the notebook and the
instructor's grader, so "passed" means the same thing in both places.

>>> import numpy as np
>>> spec = Exercise(
...     id="00.double", title="Double the scores", points=1, answer_name="double",
...     kind="function", reference=lambda x: 2 * np.asarray(x, dtype=float),
...     visible_cases=(Case(args=([1.0, 2.0],), label="two scores"),),
...     hints=("Each score is multiplied by the same number.",),
... )
>>> spec.lesson, spec.grade_id, spec.check_grade_id
('00', '00_double', '00_double_check')
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["KINDS", "MAX_HINTS", "Case", "Exercise"]

KINDS = ("function", "value")
MAX_HINTS = 3
_ID_PATTERN = re.compile(r"^(\d{2})\.([a-z][a-z0-9]*(?:_[a-z0-9]+)*)$")


@dataclass(frozen=True)
class Case:
    """One call of a function exercise: `answer(*args, **kwargs)`.

    `label` is shown in feedback ("scores near 1000 (float32)"), so write it
    for the learner: it names the situation, never the expected result.
    """

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    label: str = ""

    def __post_init__(self):
        if not isinstance(self.args, tuple):
            raise TypeError(
                f"Case.args must be a tuple of positional arguments, got "
                f"{type(self.args).__name__}; write args=(logits,) for one argument."
            )
        if not isinstance(self.kwargs, dict):
            raise TypeError(f"Case.kwargs must be a dict, got {type(self.kwargs).__name__}.")
        if not isinstance(self.label, str):
            raise TypeError(f"Case.label must be a str, got {type(self.label).__name__}.")


@dataclass(frozen=True)
class Exercise:
    """The spec of one checked exercise.

    `kind="function"`: the answer is a function called on every case and
    compared with `reference(*case.args, **case.kwargs)`.
    `kind="value"`: the answer is a value compared with `reference()`.

    `hidden_cases(rng)` draws the grader's extra cases from a seeded
    `numpy.random.Generator`; `diagnose(case, expected, got)` may return an
    exercise-specific explanation of a wrong answer (or None). With
    `check_dtype=True` a float result must also keep the reference's dtype
    (e.g. float32 in, float32 out).

    Tolerance: `rtol`/`atol` hold for float64 work; `check` widens them to a
    few units in the last place of the float dtype the result was computed in
    (float32: 4 eps relative, 2 eps absolute) and, when the answer worked in a
    coarser dtype than its inputs or `input_scaled_tolerance=True` (results
    that are differences of numbers as large as the inputs, like
    z - logsumexp(z)), to 4 eps of the largest input absolutely. The size of
    the inputs is the largest finite |number| among the case's arguments, or
    `input_scale(case)` when the spec defines it (softmax(z / T): max|z| / T).
    `axis_of_reference` names the axis a reference without an `axis`
    argument works along (-1), so `check` can recognize "the same along
    another axis".

    With `consistent_diagnosis=True`, a `diagnose` message is shown only when
    no other failing case of the same answer named a different mistake (for
    answers such as an index, which a constant matches by coincidence). A
    diagnose may then return every message that matches on the case, and
    `differing_mistakes(case)` may list the messages of the mistakes whose
    output differs from the reference on a case: a mistake that would fail a
    case the answer passes is not named either.

    `accepts(value)` (value exercises only) replaces the comparison with
    `reference()` when many answers are right (any table on which beam search
    misses the best sequence, any p for which top-p keeps k tokens): it gets
    the answer as plain data (decoded by the grader's parent, never run in
    the learner's process for the grade) and returns None when the answer is
    right, else the message that says what is wrong. It must bound what it
    reads (types, shapes, sizes) before it computes anything, since a hostile
    answer can be any plain data; an exception it raises fails the answer
    with its text. `reference()` stays one right answer (the solution's).

    `hints` are one to three tiers, from the idea ("only differences of
    scores matter") to the approach ("subtract each row's maximum before
    exponentiating"), never the code line. `check` shows the first after a
    failure, `utils.hint(id)` the next one; the grader's feedback shows only
    the first (`hint`).
    """

    id: str
    title: str
    points: float
    answer_name: str
    kind: str
    reference: Callable
    visible_cases: tuple = ()
    hidden_cases: Callable[[np.random.Generator], list[Case]] | None = None
    rtol: float = 1e-6
    atol: float = 1e-9
    diagnose: Callable | None = None
    hints: tuple[str, ...] = ()
    partial_credit: bool = True
    check_dtype: bool = False
    input_scaled_tolerance: bool = False
    input_scale: Callable | None = None
    axis_of_reference: int | None = None
    consistent_diagnosis: bool = False
    differing_mistakes: Callable | None = None
    accepts: Callable | None = None

    def __post_init__(self):
        if not isinstance(self.id, str) or not _ID_PATTERN.match(self.id):
            raise ValueError(
                f"exercise id {self.id!r} is malformed; use the two-digit lesson number, "
                "a dot and a snake_case name, e.g. '02.logsumexp'."
            )
        if self.kind not in KINDS:
            raise ValueError(f"{self.id}: kind must be one of {KINDS}, got {self.kind!r}.")
        if not (isinstance(self.answer_name, str) and self.answer_name.isidentifier()) or (
            keyword.iskeyword(self.answer_name)
        ):
            raise ValueError(
                f"{self.id}: answer_name must be a Python identifier, got {self.answer_name!r}."
            )
        if not self.title or not isinstance(self.title, str):
            raise ValueError(f"{self.id}: title must be a non-empty str.")
        if isinstance(self.points, bool) or not isinstance(self.points, (int, float)):
            raise TypeError(f"{self.id}: points must be a number, got {self.points!r}.")
        if not self.points > 0:
            raise ValueError(f"{self.id}: points must be > 0, got {self.points}.")
        if not callable(self.reference):
            raise TypeError(f"{self.id}: reference must be callable.")
        if not isinstance(self.visible_cases, tuple):
            # A list would make the frozen spec mutable through the back door.
            object.__setattr__(self, "visible_cases", tuple(self.visible_cases))
        for case in self.visible_cases:
            if not isinstance(case, Case):
                raise TypeError(f"{self.id}: visible_cases must hold Case objects, got {case!r}.")
        if self.kind == "function" and not self.visible_cases:
            raise ValueError(f"{self.id}: a function exercise needs at least one visible case.")
        if self.kind == "value" and (self.visible_cases or self.hidden_cases is not None):
            raise ValueError(
                f"{self.id}: a value exercise is compared with reference() once; "
                "it takes no visible or hidden cases."
            )
        if self.hidden_cases is not None and not callable(self.hidden_cases):
            raise TypeError(f"{self.id}: hidden_cases must be a function of a Generator.")
        if self.diagnose is not None and not callable(self.diagnose):
            raise TypeError(f"{self.id}: diagnose must be callable or None.")
        if not (self.rtol >= 0 and self.atol >= 0):
            raise ValueError(f"{self.id}: rtol and atol must be >= 0.")
        if self.input_scale is not None and not callable(self.input_scale):
            raise TypeError(f"{self.id}: input_scale must be a function of a Case or None.")
        if self.accepts is not None:
            if not callable(self.accepts):
                raise TypeError(f"{self.id}: accepts must be a function of the answer or None.")
            if self.kind != "value":
                raise ValueError(
                    f"{self.id}: accepts judges a value exercise's answer; a function "
                    "exercise is compared with its reference on each case."
                )
        if self.axis_of_reference is not None and not isinstance(self.axis_of_reference, int):
            raise TypeError(f"{self.id}: axis_of_reference must be an int axis or None.")
        self._set_hints()

    def _set_hints(self) -> None:
        hints = self.hints
        if isinstance(hints, str):
            raise TypeError(
                f"{self.id}: hints must be a tuple of strings, got one str; write "
                'hints=("the idea ...", "the approach ...").'
            )
        hints = tuple(hints)
        if len(hints) > MAX_HINTS:
            raise ValueError(f"{self.id}: at most {MAX_HINTS} hint tiers, got {len(hints)}.")
        for tier in hints:
            if not isinstance(tier, str) or not tier.strip():
                raise TypeError(f"{self.id}: every hint must be a non-empty str, got {tier!r}.")
        object.__setattr__(self, "hints", hints)

    @property
    def hint(self) -> str:
        """The first hint tier, the only one the grader's feedback shows ('' if none)."""
        return self.hints[0] if self.hints else ""

    @property
    def lesson(self) -> str:
        """The two-digit lesson number, e.g. "02"."""
        return self.id[:2]

    @property
    def name(self) -> str:
        """The part of the id after the lesson, e.g. "logsumexp"."""
        return self.id[3:]

    @property
    def grade_id(self) -> str:
        """nbgrader grade_id of the answer cell, e.g. "02_logsumexp"."""
        return self.id.replace(".", "_")

    @property
    def check_grade_id(self) -> str:
        """nbgrader grade_id of the check cell, e.g. "02_logsumexp_check"."""
        return f"{self.grade_id}_check"

    @property
    def check_cases(self) -> tuple[Case, ...]:
        """The cases `check` runs: the visible ones, or one case for a value."""
        if self.kind == "value":
            return (Case(label=self.answer_name),)
        return self.visible_cases

    def draw_hidden_cases(self, seed: int) -> list[Case]:
        """The grader's hidden cases for `seed` (deterministic); [] if none."""
        if self.hidden_cases is None:
            return []
        cases = list(self.hidden_cases(np.random.default_rng(seed)))
        for case in cases:
            if not isinstance(case, Case):
                raise TypeError(f"{self.id}: hidden_cases must return Case objects, got {case!r}.")
        return cases
