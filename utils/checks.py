"""Instant feedback on an exercise: `check("02.logsumexp", logsumexp)`.

Checking is split in two so the instructor's grader can run a learner's code
in a separate process and still compare results in its own:

* `run_case(answer, exercise, case)` runs the learner's answer on one case
  (in this process) and returns a `CaseOutcome` of plain data: the returned
  value, the warnings it emitted, the error it raised, the inputs it changed.
* `evaluate(exercise, cases, outcomes)` compares outcomes with the reference
  and explains what is wrong without revealing the expected answer. It is
  pure: it never runs learner code.

`check` does both on the exercise's visible cases and returns a `CheckResult`
with one of four statuses: ``passed``, ``failed`` (with a specific
diagnostic), ``not_attempted`` (the stub still raises `NotImplementedError`)
and ``error`` (the exception, shortened).

>>> from utils import check
>>> check("00.mean_score", None).status
'not_attempted'
"""

from __future__ import annotations

import copy
import html
import inspect
import linecache
import math
import os
import re
import traceback
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from utils.exercises._spec import Case, Exercise

__all__ = [
    "STATUSES",
    "CaseOutcome",
    "CaseReport",
    "CheckResult",
    "Hint",
    "check",
    "evaluate",
    "hint",
    "run_case",
]

STATUSES = ("passed", "failed", "not_attempted", "error")
OUTCOME_STATUSES = ("ok", "not_implemented", "error")

_MISSING = object()
_PLAIN_SCALARS = (type(None), bool, int, float, complex, str, np.generic)
_MAX_ERROR_CHARS = 200


# --------------------------------------------------------------------------
# Running the learner's answer
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseOutcome:
    """What the learner's answer did on one case, as plain data.

    `status` is "ok" (it returned `value`), "not_implemented" (the stub is
    still there) or "error" (`error` holds the shortened exception).
    `warnings` are "Category: message" strings; `modified_inputs` names the
    arguments the answer changed in place; `value_type` is the type name of
    what came back (`value` is None when that type is not plain data).
    """

    status: str
    value: Any = None
    warnings: tuple[str, ...] = ()
    error: str = ""
    modified_inputs: tuple[str, ...] = ()
    value_type: str = ""

    def __post_init__(self):
        if self.status not in OUTCOME_STATUSES:
            raise ValueError(f"status must be one of {OUTCOME_STATUSES}, got {self.status!r}.")
        object.__setattr__(self, "warnings", tuple(self.warnings))
        object.__setattr__(self, "modified_inputs", tuple(self.modified_inputs))

    def to_record(self) -> tuple[dict, dict[str, np.ndarray]]:
        """(JSON-able dict, arrays) to ship the outcome between processes.

        Save the arrays with `numpy.savez` and load them back with
        `numpy.load(..., allow_pickle=False)`; `from_record` rebuilds it.
        """
        arrays: dict[str, np.ndarray] = {}
        record = {
            "status": self.status,
            "value": _encode(self.value, arrays),
            "warnings": list(self.warnings),
            "error": self.error,
            "modified_inputs": list(self.modified_inputs),
            "value_type": self.value_type,
        }
        return record, arrays

    @classmethod
    def from_record(cls, record: dict, arrays) -> CaseOutcome:
        """Rebuild an outcome from `to_record`'s output (arrays: a mapping)."""
        return cls(
            status=str(record["status"]),
            value=_decode(record["value"], arrays),
            warnings=tuple(str(w) for w in record["warnings"]),
            error=str(record["error"]),
            modified_inputs=tuple(str(m) for m in record["modified_inputs"]),
            value_type=str(record["value_type"]),
        )


def _encode(value, arrays: dict) -> dict:
    if value is None:
        return {"type": "none"}
    if isinstance(value, bool):
        return {"type": "bool", "value": value}
    if isinstance(value, int):
        return {"type": "int", "value": str(value)}
    if isinstance(value, float):
        return {"type": "float", "value": value.hex()}
    if isinstance(value, complex):
        return {"type": "complex", "real": value.real.hex(), "imag": value.imag.hex()}
    if isinstance(value, str):
        return {"type": "str", "value": value}
    if isinstance(value, (np.ndarray, np.generic)):
        key = f"a{len(arrays)}"
        arrays[key] = np.asarray(value)
        return {"type": "array" if isinstance(value, np.ndarray) else "scalar", "key": key}
    if isinstance(value, (list, tuple)):
        return {"type": type(value).__name__, "items": [_encode(v, arrays) for v in value]}
    if isinstance(value, dict):
        return {"type": "dict", "items": [[k, _encode(v, arrays)] for k, v in value.items()]}
    raise TypeError(f"cannot encode a {type(value).__name__}; CaseOutcome holds plain data.")


def _decode(item: dict, arrays):
    kind = item["type"]
    if kind == "none":
        return None
    if kind == "bool":
        return bool(item["value"])
    if kind == "int":
        return int(item["value"])
    if kind == "float":
        return float.fromhex(item["value"])
    if kind == "complex":
        return complex(float.fromhex(item["real"]), float.fromhex(item["imag"]))
    if kind == "str":
        return str(item["value"])
    if kind == "array":
        return np.asarray(arrays[item["key"]])
    if kind == "scalar":
        return np.asarray(arrays[item["key"]])[()]
    if kind in ("list", "tuple"):
        items = [_decode(v, arrays) for v in item["items"]]
        return items if kind == "list" else tuple(items)
    if kind == "dict":
        return {str(k): _decode(v, arrays) for k, v in item["items"]}
    raise ValueError(f"unknown encoded value type {kind!r}.")


def _plain(value, depth: int = 0):
    """`value` as plain data (copied), or _MISSING if it is not plain data."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biufc" or (value.dtype.kind == "U"):
            return np.array(value, copy=True)
        return _MISSING
    if isinstance(value, _PLAIN_SCALARS):
        if isinstance(value, np.generic) and value.dtype.kind not in "biufcU":
            return _MISSING
        return value
    if depth < 4 and isinstance(value, (list, tuple)):
        items = [_plain(v, depth + 1) for v in value]
        if any(v is _MISSING for v in items):
            return _MISSING
        return items if isinstance(value, list) else tuple(items)
    if depth < 4 and isinstance(value, dict) and all(isinstance(k, str) for k in value):
        items = {k: _plain(v, depth + 1) for k, v in value.items()}
        return _MISSING if any(v is _MISSING for v in items.values()) else items
    return _MISSING


def _same(before, after) -> bool:
    """True when a copied argument still equals its original."""
    if isinstance(before, np.ndarray):
        return (
            isinstance(after, np.ndarray)
            and before.shape == after.shape
            and before.dtype == after.dtype
            and bool(np.array_equal(before, after, equal_nan=before.dtype.kind in "fc"))
        )
    if isinstance(before, (list, tuple)):
        return (
            type(before) is type(after)
            and len(before) == len(after)
            and all(_same(b, a) for b, a in zip(before, after, strict=True))
        )
    if isinstance(before, dict):
        return (
            isinstance(after, dict)
            and before.keys() == after.keys()
            and all(_same(before[k], after[k]) for k in before)
        )
    # Scalars cannot change in place; random generators change on purpose.
    return True


def _parameter_names(function, count: int) -> list[str]:
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        parameters = []
    names = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return [names[i] if i < len(names) else f"argument {i + 1}" for i in range(count)]


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_KERNEL_PATH = re.compile(r"/tmp/ipykernel_\d+/\d+\.py")


def _short_error(error: BaseException, answer) -> str:
    """'ZeroDivisionError: division by zero (in your f, line 3: `x / 0`)'."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = _KERNEL_PATH.sub("<cell>", _ADDRESS.sub("", text))
    if len(text) > _MAX_ERROR_CHARS:
        text = text[: _MAX_ERROR_CHARS - 1] + "…"
    message = f"{type(error).__name__}: {text}" if text else type(error).__name__
    code = getattr(answer, "__code__", None)
    if code is None:
        return message
    where = None
    for frame, line_number in traceback.walk_tb(error.__traceback__):
        if frame.f_code.co_filename == code.co_filename:
            where = (frame.f_code.co_name, line_number, frame.f_code.co_filename)
    if where is None:
        return message
    name, line_number, filename = where
    source = linecache.getline(filename, line_number).strip()
    if len(source) > 60:
        source = source[:59] + "…"
    location = f"in your {name}, line {line_number}"
    return f"{message} ({location}: `{source}`)" if source else f"{message} ({location})"


def run_case(answer, exercise: Exercise, case: Case) -> CaseOutcome:
    """Run the learner's `answer` on one case and record what happened.

    Function exercises call `answer(*case.args, **case.kwargs)` on deep copies
    of the arguments, so the answer cannot damage the case, and report any
    argument it changed in place. Warnings are recorded, never raised.
    Value exercises only look at `answer` (None or ... = not attempted).
    """
    if exercise.kind == "value":
        if answer is None or answer is Ellipsis:
            return CaseOutcome("not_implemented", value_type=type(answer).__name__)
        return _value_outcome(answer, (), ())
    if not callable(answer):
        return CaseOutcome(
            "error",
            error=(
                f"TypeError: expected the function {exercise.answer_name} itself, got a "
                f"value of type {type(answer).__name__}; pass the function without calling "
                "it, e.g. "
                f'check("{exercise.id}", {exercise.answer_name}).'
            ),
            value_type=type(answer).__name__,
        )
    originals = (case.args, case.kwargs)
    args, kwargs = copy.deepcopy(originals)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = answer(*args, **kwargs)
        except NotImplementedError:
            return CaseOutcome("not_implemented")
        except (Exception, SystemExit) as error:  # the learner's bug, reported, not raised
            return CaseOutcome("error", error=_short_error(error, answer))
    recorded = tuple(
        dict.fromkeys(f"{w.category.__name__}: {str(w.message).strip()}" for w in caught)
    )
    names = _parameter_names(exercise.reference, len(case.args))
    modified = [
        f"argument {names[i]}"
        for i, (before, after) in enumerate(zip(case.args, args, strict=True))
        if not _same(before, after)
    ]
    modified += [
        f"argument {key}"
        for key in case.kwargs
        if not _same(case.kwargs[key], kwargs.get(key, case.kwargs[key]))
    ]
    return _value_outcome(value, recorded, tuple(modified))


def _value_outcome(value, recorded, modified) -> CaseOutcome:
    plain = _plain(value)
    return CaseOutcome(
        "ok",
        value=None if plain is _MISSING else plain,
        warnings=recorded,
        modified_inputs=modified,
        value_type=type(value).__name__ if plain is _MISSING else _type_name(value),
    )


def _type_name(value) -> str:
    if isinstance(value, np.ndarray):
        return "ndarray"
    return type(value).__name__


# --------------------------------------------------------------------------
# Comparing with the reference
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseReport:
    """The verdict on one case: status in STATUSES and a message."""

    label: str
    status: str
    message: str = ""


@dataclass(frozen=True, repr=False)
class CheckResult:
    """The verdict on an exercise; shows as one line of text or an HTML badge."""

    exercise_id: str
    status: str
    message: str
    passed: int
    total: int
    points: float
    max_points: float
    hint: str = ""
    cases: tuple[CaseReport, ...] = field(default_factory=tuple)
    hint_tiers: int = 1

    @property
    def shows_hint(self) -> bool:
        """A hint is shown after a failure or an error, never before a first try."""
        return bool(self.hint) and self.status in ("failed", "error")

    @property
    def hint_line(self) -> str:
        """'Hint 1/3: ... (next: utils.hint("02.logsumexp"))', or '' when none is shown."""
        if not self.shows_hint:
            return ""
        line = f"Hint 1/{self.hint_tiers}: {self.hint}"
        if self.hint_tiers > 1:
            line += f' (next hint: utils.hint("{self.exercise_id}"))'
        return line

    @property
    def text(self) -> str:
        first = f"[{self.status.replace('_', ' ')}] {self.exercise_id} — {self.message}"
        return f"{first}\n{self.hint_line}" if self.shows_hint else first

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__

    def _repr_html_(self) -> str:
        colour, symbol = _BADGES[self.status]
        label = self.status.replace("_", " ")
        hint = ""
        if self.shows_hint:
            more = ""
            if self.hint_tiers > 1:
                call = f'utils.hint("{self.exercise_id}")'
                more = f" <small>(next hint: <code>{html.escape(call)}</code>)</small>"
            hint = (
                f'<div style="margin-top:0.25em"><b>Hint 1/{self.hint_tiers}:</b> '
                f"{html.escape(self.hint)}{more}</div>"
            )
        return (
            f'<div role="status" aria-label="check {label}" '
            f'style="border-left:4px solid {colour};padding:0.25em 0.6em;margin:0.2em 0">'
            f'<span style="background:{colour};color:#fff;border-radius:0.3em;'
            f'padding:0.05em 0.5em;font-weight:600;white-space:nowrap">'
            f'<span aria-hidden="true">{symbol}</span> {label}</span> '
            f"<code>{html.escape(self.exercise_id)}</code> — {html.escape(self.message)}"
            f"{hint}</div>"
        )


# Dark enough for white text (WCAG AA, contrast >= 4.5); the text says the
# status too, so the colour is never the only signal.
_BADGES = {
    "passed": ("#1a7f37", "✓"),
    "failed": ("#cf222e", "✗"),
    "not_attempted": ("#57606a", "○"),
    "error": ("#9a6700", "!"),
}


def _reference_value(exercise: Exercise, case: Case):
    if exercise.kind == "value":
        return exercise.reference()
    args, kwargs = copy.deepcopy((case.args, case.kwargs))
    return exercise.reference(*args, **kwargs)


def evaluate(
    exercise: Exercise, cases: Sequence[Case], outcomes: Sequence[CaseOutcome]
) -> CheckResult:
    """Compare every outcome with the reference and explain the first problem.

    Pure: runs only the reference, never learner code. Diagnostics, first
    that applies: not a number/array, wrong dtype kind, wrong shape, inf/NaN
    where the reference is finite, wrong float dtype (if the spec asks),
    the exercise's own `diagnose`, negative probabilities or rows that do not
    sum to 1 (when the reference is a distribution; normalized along another
    axis is named), off by a constant along the last axis, off by a constant
    factor, equal to the reference along another axis, modified its input,
    and finally how far the values are off. Expected values are never shown.
    """
    cases, outcomes = list(cases), list(outcomes)
    if len(cases) != len(outcomes) or not cases:
        raise ValueError(
            f"evaluate needs one outcome per case and at least one case; got "
            f"{len(cases)} case(s) and {len(outcomes)} outcome(s)."
        )
    total = len(cases)
    if all(outcome.status == "not_implemented" for outcome in outcomes):
        reports = tuple(
            CaseReport(_label(c, i, exercise), "not_attempted") for i, c in enumerate(cases)
        )
        return CheckResult(
            exercise.id,
            "not_attempted",
            _not_attempted_message(exercise),
            0,
            total,
            0.0,
            float(exercise.points),
            exercise.hint,
            reports,
            len(exercise.hints),
        )
    reports = []
    for index, (case, outcome) in enumerate(zip(cases, outcomes, strict=True)):
        label = _label(case, index, exercise)
        status, message = _judge(exercise, case, outcome)
        reports.append(CaseReport(label, status, message))
    passed = sum(report.status == "passed" for report in reports)
    if exercise.partial_credit:
        points = round(float(exercise.points) * passed / total, 2)
    else:
        points = float(exercise.points) if passed == total else 0.0
    first_bad = next((r for r in reports if r.status != "passed"), None)
    if first_bad is None:
        status = "passed"
        message = _passed_message(exercise, total, cases, outcomes)
    else:
        status = "error" if first_bad.status == "error" else "failed"
        prefix = f'case "{first_bad.label}": ' if exercise.kind == "function" else ""
        message = prefix + first_bad.message
        if exercise.kind == "function" and total > 1:
            message += f" ({passed}/{total} cases passed)"
    return CheckResult(
        exercise.id,
        status,
        message,
        passed,
        total,
        points,
        float(exercise.points),
        exercise.hint,
        tuple(reports),
        len(exercise.hints),
    )


def _label(case: Case, index: int, exercise: Exercise) -> str:
    if exercise.kind == "value":
        return case.label or exercise.answer_name
    return case.label or f"case {index + 1}"


def _not_attempted_message(exercise: Exercise) -> str:
    if exercise.kind == "value":
        return (
            f"{exercise.answer_name} is still None: replace the NotImplementedError in the "
            "cell above with your code, run that cell, then run this cell again."
        )
    return (
        f"replace the NotImplementedError in your {exercise.answer_name} with your code, "
        "then run this cell again."
    )


def _passed_message(exercise, total, cases, outcomes) -> str:
    message = "correct." if exercise.kind == "value" else f"{total}/{total} cases passed."
    warned = [
        (case, outcome) for case, outcome in zip(cases, outcomes, strict=True) if outcome.warnings
    ]
    if warned:
        case, outcome = warned[0]
        where = f'case "{case.label}"' if exercise.kind == "function" else "your code"
        more = f" (and {len(warned) - 1} more case(s))" if len(warned) > 1 else ""
        message += f" Note: {where}{more} emitted {outcome.warnings[0]}."
    return message


def _judge(exercise: Exercise, case: Case, outcome: CaseOutcome) -> tuple[str, str]:
    """(case status, message) for one outcome."""
    if outcome.status == "not_implemented":
        return "failed", (
            f"your {exercise.answer_name} raised NotImplementedError on this case; "
            "finish the code for it."
        )
    if outcome.status == "error":
        return "error", outcome.error
    subject = "the result" if exercise.kind == "function" else exercise.answer_name
    expected = _reference_value(exercise, case)
    problem = _difference(expected, outcome.value, outcome.value_type, subject, exercise, outcome)
    if problem is not None and problem[0] != "type":
        # The exercise's own diagnosis knows its typical mistakes best.
        specific = _exercise_diagnosis(exercise, case, expected, outcome.value)
        if specific:
            problem = ("specific", specific)
        elif problem[0] == "values":
            problem = ("values", _diagnose_values(exercise, case, expected, outcome, problem[1]))
    if problem is None and outcome.modified_inputs:
        problem = ("modified", _modified_message(outcome))
    if problem is None:
        return "passed", ""
    message = problem[1]
    explained = " emitted " in message or "overflow" in message
    if outcome.warnings and not explained:
        message = message.rstrip(".") + f" (it also emitted {outcome.warnings[0]})."
    return "failed", message


def _modified_message(outcome: CaseOutcome) -> str:
    return (
        f"your code changed its input in place ({', '.join(outcome.modified_inputs)}); "
        "compute a new array instead: `x = x - 1` makes a new array, while `x -= 1` or "
        "`x[0] = ...` change the caller's."
    )


# --- Generic comparison ------------------------------------------------------


def _describe(value, value_type: str) -> str:
    if value is None and value_type not in ("NoneType", ""):
        name = value_type
    elif value is None:
        return "None"
    elif isinstance(value, str):
        return "a string"
    elif isinstance(value, (list, tuple, dict)):
        name = type(value).__name__
    else:
        name = value_type or type(value).__name__
    if name == "ndarray":
        return "an array of non-numbers"
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _as_numbers(value):
    """value as a numeric ndarray, or None when it is not numbers."""
    if value is None or isinstance(value, (str, dict)):
        return None
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):
        return None
    return array if array.dtype.kind in "biufc" else None


def _shape_text(shape: tuple) -> str:
    return "a single number" if shape == () else f"an array of shape {shape}"


def _difference(expected, got, got_type, subject, exercise, outcome):
    """None when `got` matches, else (kind, message); kind "values" = numbers differ."""
    if isinstance(expected, str):
        if isinstance(got, str) and got.strip().casefold() == expected.strip().casefold():
            return None
        if not isinstance(got, str):
            return "type", f"{subject} is {_describe(got, got_type)}; expected a string."
        return "values", f"{subject} is not the expected text."
    if isinstance(expected, tuple):
        if not isinstance(got, (tuple, list)):
            return "type", (
                f"{subject} is {_describe(got, got_type)}; expected a tuple of "
                f"{len(expected)} items."
            )
        if len(got) != len(expected):
            return "shape", f"{subject} has {len(got)} items; expected {len(expected)}."
        for index, (e, g) in enumerate(zip(expected, got, strict=True)):
            problem = _difference(
                e, g, _type_name(g), f"item {index} of {subject}", exercise, outcome
            )
            if problem is not None:
                return problem
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return "type", f"{subject} is {_describe(got, got_type)}; expected a dict."
        if set(got) != set(expected):
            return "shape", (f"{subject} has keys {sorted(got)}; expected keys {sorted(expected)}.")
        for key in expected:
            problem = _difference(
                expected[key],
                got[key],
                _type_name(got[key]),
                f"{subject}[{key!r}]",
                exercise,
                outcome,
            )
            if problem is not None:
                return problem
        return None
    return _numeric_difference(np.asarray(expected), got, got_type, subject, exercise, outcome)


def _numeric_difference(expected, got, got_type, subject, exercise, outcome):
    if got is None and got_type == "NoneType":
        return "type", (
            f"{subject} is None — did your {exercise.answer_name} forget to `return` it?"
            if exercise.kind == "function"
            else f"{subject} is None."
        )
    array = _as_numbers(got)
    want = "a number" if expected.shape == () else "an array of numbers"
    if array is None:
        return "type", f"{subject} is {_describe(got, got_type)}; expected {want}."
    if array.dtype.kind == "c":
        return "type", f"{subject} holds complex numbers; expected real numbers."
    if array.size == 0 and expected.size == 0 and array.shape == expected.shape:
        return None  # nothing to compare: [] is as good as an empty int array
    if expected.dtype.kind == "b":
        if array.dtype.kind != "b":
            return "type", f"{subject} holds {array.dtype} values; expected True/False."
    elif expected.dtype.kind in "iu":
        if array.dtype.kind not in "iu":
            what = "True/False values" if array.dtype.kind == "b" else f"{array.dtype} values"
            return "type", (
                f"{subject} holds {what}; expected integers (positions, token ids or counts)."
            )
    elif array.dtype.kind == "b":
        return "type", f"{subject} holds True/False values; expected {want}."
    if array.shape != expected.shape:
        return "shape", (
            f"{subject} is {_shape_text(array.shape)}; expected {_shape_text(expected.shape)}."
        )
    if expected.dtype.kind in "biu":
        if np.array_equal(array, expected):
            return None
        wrong = int(np.count_nonzero(array != expected))
        return "values", _count_text(subject, wrong, expected.size) + "."
    got_float = array.astype(np.float64)
    want_float = expected.astype(np.float64)
    finite = np.isfinite(want_float)
    broken = finite & ~np.isfinite(got_float)
    if broken.any():
        return "nonfinite", f"{subject} contains inf or NaN{_explain_nonfinite(outcome)}"
    if exercise.check_dtype and array.dtype != expected.dtype:
        return "dtype", (
            f"{subject} has dtype {array.dtype}; expected {expected.dtype}, the input's "
            "dtype. Avoid converting, e.g. np.asarray(x, dtype=float) makes float64."
        )
    close = np.isclose(got_float, want_float, **_tolerance(exercise, expected.dtype))
    # Infinite reference entries (log 0 = -inf) must match exactly.
    close |= (~finite) & (got_float == want_float)
    if close.all():
        return None
    return "values", _values_message(subject, got_float, want_float, close)


def _tolerance(exercise: Exercise, dtype: np.dtype) -> dict:
    """The exercise's tolerance, widened to what the reference's float dtype can resolve.

    Specs state tolerances for float64; a float32 or float16 case cannot be
    held to them, so it gets at least 4 (relative) and 2 (absolute) of its eps.
    """
    rtol, atol = exercise.rtol, exercise.atol
    if dtype.kind == "f":
        eps = float(np.finfo(dtype).eps)
        rtol, atol = max(rtol, 4 * eps), max(atol, 2 * eps)
    return {"rtol": rtol, "atol": atol}


def _count_text(subject: str, wrong: int, size: int) -> str:
    if size == 1:
        return f"{subject} differs from the reference"
    return f"{wrong} of {size} values of {subject} differ from the reference"


def _values_message(subject, got, want, close) -> str:
    both = np.isfinite(got) & np.isfinite(want)
    scale = float(np.max(np.abs(want[both]), initial=0.0))
    worst = float(np.max(np.abs(got[both] - want[both]), initial=0.0))
    text = _count_text(subject, int(np.count_nonzero(~close)), close.size)
    if scale > 0 and worst > 0:
        return f"{text} (largest relative error {_short_float(worst / scale)})."
    return f"{text}."


def _short_float(value: float) -> str:
    """1 significant digit, compact exponent: 0.031 -> '3e-2'."""
    if not math.isfinite(value):
        return str(value)
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


_WARNING_EXPLANATIONS = (
    ("overflow encountered in exp", " — exp overflowed; subtract the row maximum first."),
    (
        "invalid value encountered in divide",
        " — a division gave 0/0 or inf/inf (the exponentials overflowed or all underflowed "
        "to 0); subtract the row maximum first.",
    ),
    (
        "divide by zero encountered in log",
        " — log(0) gave -inf: a probability underflowed to 0 before the log; stay in log "
        "space (subtract the log of the normalizer) instead of taking log of probabilities.",
    ),
    ("overflow encountered", " — a computation overflowed; keep the numbers small."),
)


def _explain_nonfinite(outcome: CaseOutcome) -> str:
    for warning in outcome.warnings:
        for needle, explanation in _WARNING_EXPLANATIONS:
            if needle in warning:
                return f"{explanation} Your code emitted {warning}."
    return (
        " where every expected value is finite — on large or very negative scores this "
        "usually means exp overflowed or underflowed; subtract the row maximum first."
    )


# --- Diagnostics for answers whose numbers are off ---------------------------


def _exercise_diagnosis(exercise, case, expected, got) -> str | None:
    if exercise.diagnose is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            message = exercise.diagnose(case, expected, got)
    except Exception:  # a diagnose that cannot read this answer has nothing to say
        return None
    return str(message) if message else None


def _diagnose_values(exercise, case, expected, outcome, fallback: str) -> str:
    got = outcome.value
    if isinstance(expected, (str, tuple, dict)):
        return _with_modified(fallback, outcome)
    want = np.asarray(expected, dtype=np.float64)
    have = np.asarray(got, dtype=np.float64)
    subject = "the result" if exercise.kind == "function" else exercise.answer_name
    for diagnostic in (_distribution_problem, _constant_offset, _constant_factor):
        message = diagnostic(want, have, subject, exercise)
        if message:
            return message
    message = _other_axis(exercise, case, have)
    if message:
        return message
    return _with_modified(fallback, outcome)


def _with_modified(fallback: str, outcome: CaseOutcome) -> str:
    if outcome.modified_inputs:
        return _modified_message(outcome)
    return fallback


def _normalized_axes(values: np.ndarray, tolerance: float) -> list[int]:
    """Axes along which every slice sums to 1 (values in [0, 1])."""
    if values.ndim == 0 or not np.isfinite(values).all():
        return []
    return [
        axis
        for axis in range(values.ndim)
        if values.shape[axis] > 1 and np.allclose(values.sum(axis=axis), 1.0, atol=tolerance)
    ]


def _distribution_problem(want, have, subject, exercise) -> str | None:
    if want.ndim == 0 or want.min() < 0 or want.max() > 1:
        return None
    axes = _normalized_axes(want, 1e-4)
    if len(axes) != 1:
        return None
    axis = axes[0]
    if (have < 0).any():
        return f"{subject} contains negative probabilities; a probability is never below 0."
    sums = have.sum(axis=axis)
    if np.allclose(sums, 1.0, atol=max(1e-4, 10 * exercise.rtol)):
        return None
    elsewhere = [a for a in _normalized_axes(have, 1e-4) if a != axis]
    axis_name = _axis_name(axis, want.ndim)
    if elsewhere:
        return (
            f"{subject} sums to 1 along axis {elsewhere[0]}, but it must sum to 1 along "
            f"{axis_name}: normalize over {axis_name} (wrong axis)."
        )
    bad = np.abs(sums - 1.0)
    worst = float(np.ravel(sums)[int(np.argmax(bad))])
    what = "the probabilities do not" if want.ndim == 1 else f"the slices along {axis_name} do not"
    return (
        f"{what} sum to 1 (one sums to {worst:.4g}): divide by the total of the same "
        "exponentials you kept."
    )


def _axis_name(axis: int, ndim: int) -> str:
    return "the last axis (axis=-1)" if axis == ndim - 1 else f"axis {axis}"


def _constant_offset(want, have, subject, exercise) -> str | None:
    if want.ndim == 0 or want.shape[-1] < 2:
        return None
    both = np.isfinite(want) & np.isfinite(have)
    if not both.all():
        return None
    difference = have - want
    tolerance = 10 * (exercise.atol + exercise.rtol * float(np.max(np.abs(want))))
    spread = np.ptp(difference, axis=-1)
    if (spread <= tolerance).all() and (np.abs(difference) > tolerance).any():
        if float(np.ptp(difference)) <= tolerance:
            return (
                f"{subject} is off by a constant: every value is shifted by the same "
                "amount. Look for an added or missing term that does not depend on the entry."
            )
        return (
            f"{subject} is off by a constant along the last axis: every value in a row is "
            "shifted by the same amount. Look for a missing or extra per-row term, such as "
            "the log of the normalizer."
        )
    return None


def _constant_factor(want, have, subject, exercise) -> str | None:
    nonzero = (want != 0) & np.isfinite(want) & np.isfinite(have)
    if np.count_nonzero(nonzero) < 2 or not (np.isfinite(want) & np.isfinite(have)).all():
        return None
    ratio = have[nonzero] / want[nonzero]
    if np.any(ratio == 0) or np.allclose(ratio, 1.0, rtol=10 * exercise.rtol):
        return None
    if np.allclose(ratio, ratio[0], rtol=10 * exercise.rtol + 1e-12) and np.allclose(
        have[~nonzero], 0.0, atol=10 * exercise.atol
    ):
        return (
            f"{subject} is off by a constant factor: every value is the expected one times "
            "the same number. Look for a missing or extra division or multiplication, or "
            "a logarithm in another base (np.log is the natural log)."
        )
    return None


def _other_axis(exercise: Exercise, case: Case, have: np.ndarray) -> str | None:
    """Does the answer equal the reference computed along another axis?"""
    if exercise.kind != "function" or not case.args:
        return None
    try:
        parameters = inspect.signature(exercise.reference).parameters
    except (TypeError, ValueError):
        return None
    if "axis" not in parameters:
        return None
    default = parameters["axis"].default
    wanted = case.kwargs.get("axis", default)
    ndim = np.ndim(case.args[0]) if _as_numbers(case.args[0]) is not None else 0
    if ndim < 2 or not isinstance(wanted, int):
        return None
    for axis in range(ndim):
        if axis == wanted % ndim:
            continue
        args, kwargs = copy.deepcopy((case.args, case.kwargs))
        kwargs["axis"] = axis
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                other = np.asarray(exercise.reference(*args, **kwargs), dtype=np.float64)
        except Exception:  # the reference may refuse that axis; then it is not this mistake
            continue
        if other.shape == have.shape and np.allclose(
            have, other, rtol=exercise.rtol, atol=exercise.atol, equal_nan=True
        ):
            return (
                f"the result matches the reference computed along axis {axis}, but this case "
                f"asks for axis={wanted}: compute along axis={wanted} (wrong axis)."
            )
    return None


# --------------------------------------------------------------------------
# The notebook entry point
# --------------------------------------------------------------------------


def check(exercise_id: str, answer=_MISSING) -> CheckResult:
    """Check your answer to an exercise on its visible cases.

    Pass the function itself for a function exercise
    (`check("02.logsumexp", logsumexp)`) and the value for a value exercise
    (`check("00.mean_score", mean_score)`). Under nbgrader (the environment
    variable NBGRADER_EXECUTION is set) a result other than passed raises
    AssertionError, so the check cell doubles as an nbgrader test cell.
    """
    from utils import exercises  # imported here: the specs load on first use

    exercise = exercises.get(exercise_id)
    if answer is _MISSING:
        raise TypeError(
            f'check needs your answer too: check("{exercise.id}", {exercise.answer_name}).'
        )
    cases = exercise.check_cases
    outcomes = []
    for case in cases:
        outcome = run_case(answer, exercise, case)
        outcomes.append(outcome)
    result = evaluate(exercise, cases, outcomes)
    if result.shows_hint:
        _HINTS_SHOWN[exercise.id] = max(_HINTS_SHOWN.get(exercise.id, 0), 1)
    if os.environ.get("NBGRADER_EXECUTION") and result.status != "passed":
        raise AssertionError(result.text)
    return result


# How many hint tiers each exercise has shown in this kernel (check shows the first).
_HINTS_SHOWN: dict[str, int] = {}


class Hint(str):
    """One hint tier: a str that shows as 'Hint 2/3 for 02.logsumexp: ...'."""

    exercise_id: str
    tier: int
    tiers: int

    def __new__(cls, text: str, exercise_id: str, tier: int, tiers: int):
        self = super().__new__(cls, text)
        self.exercise_id, self.tier, self.tiers = exercise_id, tier, tiers
        return self

    @property
    def heading(self) -> str:
        last = " (the last one: the code line is yours to write)" if self.tier == self.tiers else ""
        return f"Hint {self.tier}/{self.tiers} for {self.exercise_id}{last}"

    def __repr__(self) -> str:
        return f"{self.heading}: {str.__str__(self)}"

    def _repr_html_(self) -> str:
        return (
            f'<div role="note"><b>{html.escape(self.heading)}:</b> '
            f"{html.escape(str.__str__(self))}</div>"
        )


def hint(exercise_id: str) -> Hint:
    """The next hint tier of an exercise: each call gives the next, then repeats the last.

    `check` shows the first tier after a failure, so the first call after a
    failed check gives the second. The count lives in this kernel only.

    >>> hint("00.scores_above").tier in (1, 2)
    True
    """
    from utils import exercises

    exercise = exercises.get(exercise_id)
    shown = _HINTS_SHOWN.get(exercise.id, 0)
    tiers = len(exercise.hints)
    tier = min(shown + 1, tiers)
    _HINTS_SHOWN[exercise.id] = tier
    return Hint(exercise.hints[tier - 1], exercise.id, tier, tiers)
