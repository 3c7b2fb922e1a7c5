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

import contextlib
import copy
import gc
import html
import inspect
import io
import json
import linecache
import math
import os
import re
import select
import signal
import struct
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from utils.exercises._spec import Case, Exercise

__all__ = [
    "CASE_TIME_LIMIT_SECONDS",
    "STATUSES",
    "CaseOutcome",
    "CaseReport",
    "CheckResult",
    "Hint",
    "check",
    "evaluate",
    "hint",
    "nbgrader_credit",
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
    pairs = zip(cases, outcomes, strict=True)
    judged = [_judge(exercise, case, outcome) for case, outcome in pairs]
    reports = [
        CaseReport(_label(case, index, exercise), verdict.status, message)
        for index, (case, verdict, message) in enumerate(
            zip(cases, judged, _confirmed_messages(exercise, cases, judged), strict=True)
        )
    ]
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


def _confirmed_messages(exercise: Exercise, cases, judged: list) -> list[str]:
    """Each case's message; with `consistent_diagnosis`, an exercise diagnosis is kept
    only when every failing case its diagnose looked at names that same mistake among
    the ones it matches there (a constant answer matches some mistake on one case by
    coincidence, a real mistake on all of them); otherwise the plain message."""
    if not exercise.consistent_diagnosis:
        return [verdict.message for verdict in judged]
    looked = [v for v in judged if v.status == "failed" and v.diagnosed]
    common = set(looked[0].candidates) if looked else set()
    for verdict in looked[1:]:
        common &= set(verdict.candidates)
    if exercise.differing_mistakes is not None and common:
        # A mistake that would have failed a case the answer passes is not its mistake.
        for case, verdict in zip(cases, judged, strict=True):
            if verdict.status == "passed":
                common -= set(_quiet_messages(exercise.differing_mistakes, case))
    messages = []
    for verdict in judged:
        if not verdict.specific:
            messages.append(verdict.message)
            continue
        named = next((c for c in verdict.candidates if c in common), "")
        messages.append(
            verdict.message.replace(verdict.specific, named, 1) if named else verdict.plain
        )
    return messages


def _quiet_messages(function, case) -> tuple[str, ...]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return tuple(str(m) for m in function(case))
    except Exception:  # a spec helper that cannot read this case names no mistake
        return ()


@dataclass(frozen=True)
class _Verdict:
    """One case judged: status and message; `specific` is the exercise's own diagnosis
    when it gave the message, `plain` the message without it; `candidates` every
    mistake the diagnose matched (specific first); `diagnosed`: the diagnose ran."""

    status: str
    message: str
    specific: str = ""
    plain: str = ""
    candidates: tuple[str, ...] = ()
    diagnosed: bool = False


def _judge(exercise: Exercise, case: Case, outcome: CaseOutcome) -> _Verdict:
    """The verdict on one outcome."""
    if outcome.status == "not_implemented":
        return _Verdict(
            "failed",
            f"your {exercise.answer_name} raised NotImplementedError on this case; "
            "finish the code for it.",
        )
    if outcome.status == "error":
        return _Verdict("error", outcome.error + _explain_broadcast(outcome.error))
    if exercise.accepts is not None:
        return _accepted(exercise, outcome)
    subject = "the result" if exercise.kind == "function" else exercise.answer_name
    expected = _reference_value(exercise, case)
    problem = _difference(
        expected, outcome.value, outcome.value_type, subject, exercise, outcome, case
    )
    specific, plain, candidates, diagnosed = "", "", (), False
    if problem is not None and problem[0] != "type":
        # The exercise's own diagnosis knows its typical mistakes best.
        candidates = _exercise_diagnosis(exercise, case, expected, outcome.value)
        specific, diagnosed = (candidates[0] if candidates else ""), True
        if specific:
            plain = _with_warning(_with_modified(problem[1], outcome), outcome)
            problem = ("specific", specific)
        elif problem[0] == "values":
            problem = ("values", _diagnose_values(exercise, case, expected, outcome, problem[1]))
        elif problem[0] == "shape":
            axis_message = _other_axis_of_any_shape(exercise, case, expected, outcome)
            if axis_message:
                axis_message = axis_message.replace("the result is what", "it is what", 1)
                problem = ("shape", problem[1].rstrip(".") + ": " + axis_message)
    if problem is None and outcome.modified_inputs:
        problem = ("modified", _modified_message(outcome))
    if problem is None:
        return _Verdict("passed", "")
    message = _with_warning(problem[1], outcome)
    return _Verdict("failed", message, specific, plain, candidates, diagnosed)


def _accepted(exercise: Exercise, outcome: CaseOutcome) -> _Verdict:
    """The verdict of the spec's own `accepts` on a value answer (many right answers)."""
    if outcome.value is None and outcome.value_type != "NoneType":
        return _Verdict(
            "failed",
            f"{exercise.answer_name} is {_describe(outcome.value, outcome.value_type)}; "
            "expected plain data (numbers, arrays, lists, tuples, dicts).",
        )
    try:
        problem = exercise.accepts(outcome.value)
    except Exception as error:  # data the verifier cannot read: a failed answer, said plainly
        problem = f"{exercise.answer_name} could not be checked: {type(error).__name__}: {error}"
    if problem is None:
        return _Verdict("passed", "")
    if not isinstance(problem, str) or not problem:
        raise TypeError(f"{exercise.id}: accepts must return None or a message (str).")
    return _Verdict("failed", _with_warning(problem, outcome), problem, problem, (problem,), True)


def _with_warning(message: str, outcome: CaseOutcome) -> str:
    if outcome.warnings and " emitted " not in message:
        return message.rstrip(".") + f" (it also emitted {outcome.warnings[0]})."
    return message


_BROADCAST = re.compile(r"could not be broadcast together with shapes \(([\d, ]*)\) \(([\d, ]*)\)")


def _explain_broadcast(error: str) -> str:
    """Name a reduction that lost its axis, when the two shapes show exactly that."""
    match = _BROADCAST.search(error)
    if not match:
        return ""
    first, second = (
        tuple(int(size) for size in text.replace(" ", "").split(",") if size)
        for text in match.groups()
    )
    for full, reduced in ((first, second), (second, first)):
        for axis in range(len(full)):
            if full[:axis] + full[axis + 1 :] == reduced:
                return (
                    f" — the shape {reduced} is {full} without axis {axis}: a sum or max over "
                    "that axis lost it; keepdims=True keeps it, so the result broadcasts."
                )
    return ""


def _modified_message(outcome: CaseOutcome) -> str:
    return (
        f"your code changed its input in place ({', '.join(outcome.modified_inputs)}); "
        "compute a new array instead: `x = x - 1` makes a new array, while `x -= 1` or "
        "`x[0] = ...` change the caller's."
    )


# --- Generic comparison ------------------------------------------------------


def _describe(value, value_type: str) -> str:
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biufc":
            return f"an array of {value.dtype} numbers of shape {value.shape}"
        return f"an array of {value.dtype} values (not numbers)"
    if value is None and value_type == "ndarray":
        return "an array of Python objects (dtype object), not numbers"
    if value is None and value_type not in ("NoneType", ""):
        name = value_type
    elif value is None:
        return "None"
    elif isinstance(value, str):
        return "a string"
    elif isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} item{'s' * (len(value) != 1)}"
    elif isinstance(value, dict):
        return "a dict"
    else:
        name = value_type or type(value).__name__
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


def _is_plain_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _is_number_vector(value) -> bool:
    """A 1-D ndarray of real numbers: compared item by item with a tuple of numbers."""
    return isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "iuf"


def _shape_text(shape: tuple) -> str:
    return "a single number" if shape == () else f"an array of shape {shape}"


def _difference(expected, got, got_type, subject, exercise, outcome, case):
    """None when `got` matches, else (kind, message); kind "values" = numbers differ."""
    if isinstance(expected, str):
        if isinstance(got, str) and got.strip().casefold() == expected.strip().casefold():
            return None
        if not isinstance(got, str):
            return "type", f"{subject} is {_describe(got, got_type)}; expected a string."
        return "values", f"{subject} is not the expected text."
    if isinstance(expected, tuple):
        if _is_number_vector(got) and all(_is_plain_number(e) for e in expected):
            got = got.tolist()  # (-1, 1, -1) as np.array([-1, 1, -1]) is the same answer
        if not isinstance(got, (tuple, list)):
            return "type", (
                f"{subject} is {_describe(got, got_type)}; expected a tuple of "
                f"{len(expected)} items."
            )
        if len(got) != len(expected):
            return "shape", f"{subject} has {len(got)} items; expected {len(expected)}."
        for index, (e, g) in enumerate(zip(expected, got, strict=True)):
            problem = _difference(
                e, g, _type_name(g), f"item {index} of {subject}", exercise, outcome, case
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
                case,
            )
            if problem is not None:
                return problem
        return None
    return _numeric_difference(
        np.asarray(expected), got, got_type, subject, exercise, outcome, case
    )


def _numeric_difference(expected, got, got_type, subject, exercise, outcome, case):
    if got is None and got_type == "NoneType":
        return "type", (
            f"{subject} is None — did your {exercise.answer_name} forget to `return` it?"
            if exercise.kind == "function"
            else f"{subject} is None."
        )
    want = "a number" if expected.shape == () else "an array of numbers"
    if isinstance(got, tuple):
        # np.asarray would stack a tuple (probabilities, something) into one array.
        return "type", (
            f"{subject} is {_describe(got, got_type)}; expected {want}: return only that."
        )
    array = _as_numbers(got)
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
        wrong = array != expected
        offset = np.unique(array.astype(np.int64) - expected.astype(np.int64))
        # Two values or more: one number 1 away from the answer shows no shift.
        shifted = expected.size >= 2 and offset.size == 1 and abs(int(offset[0])) == 1
        if expected.dtype.kind != "b" and shifted:
            direction = "too high" if offset[0] > 0 else "too low"
            return "values", (
                f"every value of {subject} is 1 {direction} (off by one): NumPy counts "
                "positions from 0."
            )
        return "values", _count_text(subject, int(np.count_nonzero(wrong)), expected.size) + (
            _positions_text(wrong) + "."
        )
    got_float = array.astype(np.float64)
    want_float = expected.astype(np.float64)
    finite = np.isfinite(want_float)
    broken = finite & ~np.isfinite(got_float)
    if broken.any():
        return "nonfinite", (
            f"{subject} contains inf or NaN{_positions_text(broken)} where the expected "
            f"values are finite{_explain_nonfinite(case, outcome)}"
        )
    if exercise.check_dtype and array.dtype != expected.dtype:
        return "dtype", (
            f"{subject} has dtype {array.dtype}; expected {expected.dtype}, the input's "
            "dtype. Avoid converting, e.g. np.asarray(x, dtype=float) makes float64."
        )
    tolerance = _tolerance(exercise, case, expected.dtype, array.dtype)
    close = np.isclose(got_float, want_float, **tolerance)
    # Infinite reference entries (log 0 = -inf) must match exactly.
    close |= (~finite) & (got_float == want_float)
    if close.all():
        return None
    missed_infinity = ~finite & ~close
    if missed_infinity.any():
        what = "nan" if np.isnan(got_float[missed_infinity]).all() else "not -inf"
        return "values", (
            f"{subject} is {what}{_positions_text(missed_infinity)}, where the expected value "
            "is infinite (-inf is log 0: a token with probability exactly 0, such as a "
            "masked one)."
        )
    return "values", _values_message(
        subject, got_float, want_float, close, tolerance, array, expected.dtype
    )


# Tolerances: a result is held to what the float dtype it was computed in can
# resolve, a few units in the last place, on top of the spec's own (float64)
# tolerance. Relative: 4 eps of that dtype; absolute: 2 eps, or 4 eps of the
# largest input when the error grows with the inputs (see `_input_scale`).
_RELATIVE_EPS = 4
_ABSOLUTE_EPS = 2
_INPUT_EPS = 4


def _tolerance(exercise: Exercise, case: Case | None, reference_dtype, result_dtype) -> dict:
    """{rtol, atol} for a result of `result_dtype` against a reference of `reference_dtype`.

    The spec's rtol/atol hold for float64 work. A float32 or float16 result
    (or reference) cannot be held to them: it gets 4 eps relative and 2 eps
    absolute of the coarser dtype. When the answer worked in a coarser dtype
    than its inputs (rounding each score first), or the spec says its result
    is a difference of numbers as large as the inputs (`input_scaled_tolerance`:
    z - logsumexp(z)), rounding the inputs costs up to about eps * max|input|
    absolutely, so the absolute tolerance is 4 eps of the largest finite input.
    """
    rtol, atol = exercise.rtol, exercise.atol
    reference_dtype, result_dtype = np.dtype(reference_dtype), np.dtype(result_dtype)
    epsilons = [_held_eps(reference_dtype, d) for d in (reference_dtype, result_dtype)]
    epsilons = [eps for eps in epsilons if eps is not None]
    if not epsilons:
        return {"rtol": rtol, "atol": atol}
    eps = max(epsilons)
    rtol, atol = max(rtol, _RELATIVE_EPS * eps), max(atol, _ABSOLUTE_EPS * eps)
    coarser = (
        reference_dtype.kind == "f"
        and result_dtype.kind == "f"
        and np.finfo(result_dtype).eps > np.finfo(reference_dtype).eps
    )
    if case is not None and (coarser or exercise.input_scaled_tolerance):
        atol = max(atol, _INPUT_EPS * eps * _input_scale(case, exercise))
    return {"rtol": rtol, "atol": atol}


def _held_eps(reference_dtype: np.dtype, dtype: np.dtype) -> float | None:
    """The eps a result of `dtype` is held to: its own, but float16 work on wider
    inputs is held to float32 (3 digits are not a computed probability)."""
    if dtype.kind != "f":
        return None
    if dtype == np.float16 and reference_dtype != np.float16:
        return float(np.finfo(np.float32).eps)
    return float(np.finfo(dtype).eps)


def _input_scale(case: Case, exercise: Exercise | None = None) -> float:
    """The size of the numbers the result is computed from (at least 1): the spec's
    `input_scale(case)`, else the largest finite |number| among the case's inputs."""
    if exercise is not None and exercise.input_scale is not None:
        try:
            scale = float(exercise.input_scale(case))
        except Exception:  # a scale that cannot read this case: use the generic one
            scale = math.nan
        if math.isfinite(scale):
            return max(1.0, abs(scale))
    largest = 1.0
    for value in (*case.args, *case.kwargs.values()):
        if isinstance(value, (bool, np.bool_)):
            continue
        array = _as_numbers(value) if not isinstance(value, np.random.Generator) else None
        if array is None or array.dtype.kind not in "iuf" or array.size == 0:
            continue
        finite = np.abs(array[np.isfinite(array)].astype(np.float64))
        if finite.size:
            largest = max(largest, float(finite.max()))
    return largest


def _tolerance_text(tolerance: dict, array: np.ndarray, reference_dtype) -> str:
    allowed = (
        f"{_short_float(tolerance['rtol'])} relative + {_short_float(tolerance['atol'])} absolute"
    )
    if array.dtype == np.float16 and np.dtype(reference_dtype) != np.float16:
        return allowed + "; float16 keeps only about 3 digits: compute in float32 or float64"
    return allowed + (f" for {array.dtype} work" if array.dtype.kind == "f" else "")


def _count_text(subject: str, wrong: int, size: int) -> str:
    if size == 1:
        return f"{subject} differs from the reference"
    return f"{wrong} of {size} values of {subject} differ from the reference"


_SHOWN_POSITIONS = 4


def _positions_text(mask: np.ndarray) -> str:
    """' at position 2' / ' at positions (0, 1), (1, 2), ...' ('' for a single number)."""
    if mask.ndim == 0 or mask.size <= 1:
        return ""
    where = np.argwhere(mask)
    if len(where) == mask.size:
        return " at every position"
    shown = [
        str(int(index[0])) if mask.ndim == 1 else "(" + ", ".join(map(str, index)) + ")"
        for index in where[:_SHOWN_POSITIONS].tolist()
    ]
    more = ", ..." if len(where) > _SHOWN_POSITIONS else ""
    plural = "s" if len(where) > 1 else ""
    return f" at position{plural} {', '.join(shown)}{more}"


def _values_message(subject, got, want, close, tolerance, array, reference_dtype) -> str:
    """Which entries differ, and the worst one's error against its own allowance."""
    text = _count_text(subject, int(np.count_nonzero(~close)), close.size) + _positions_text(~close)
    failing = ~close & np.isfinite(got) & np.isfinite(want)
    if not failing.any():
        return f"{text}."
    with np.errstate(all="ignore"):  # infinite entries are not among the failing ones
        error = np.abs(got - want)
        allowance = tolerance["atol"] + tolerance["rtol"] * np.abs(want)
        excess = np.where(failing, error / np.maximum(allowance, np.finfo(np.float64).tiny), -1.0)
    worst = np.unravel_index(int(np.argmax(excess)), excess.shape)
    relative = (
        f", relative {_short_float(error[worst] / abs(want[worst]))}" if want[worst] != 0 else ""
    )
    allowed = _tolerance_text(tolerance, array, reference_dtype)
    if want.size == 1:
        return (
            f"{text} (off by {_short_float(error[worst])}{relative}; allowed "
            f"{_short_float(allowance[worst])} = {allowed})."
        )
    return (
        f"{text} (worst at {_index_text(worst)}: off by {_short_float(error[worst])}{relative}; "
        f"allowed there {_short_float(allowance[worst])} = {allowed})."
    )


def _index_text(index: tuple) -> str:
    return str(int(index[0])) if len(index) == 1 else "(" + ", ".join(map(str, index)) + ")"


def _short_float(value: float) -> str:
    """1 significant digit, compact exponent: 0.031 -> '3e-2'."""
    if not math.isfinite(value):
        return str(value)
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


# What a warning proves, said only when the answer emitted it.
_WARNING_EXPLANATIONS = (
    ("overflow encountered in exp", "exp overflowed to inf"),
    ("invalid value encountered in divide", "a division gave 0/0 or inf/inf"),
    ("divide by zero encountered in log", "log(0) gave -inf"),
    ("divide by zero encountered", "a division by zero gave inf"),
    ("invalid value encountered in multiply", "a product like 0 * inf gave nan"),
    ("invalid value encountered in subtract", "a difference like inf - inf gave nan"),
    ("invalid value encountered in add", "a sum like inf + (-inf) gave nan"),
    ("overflow encountered", "a computation overflowed"),
    ("invalid value encountered", "an operation gave nan"),
)


def _explain_nonfinite(case: Case | None, outcome: CaseOutcome) -> str:
    """What the answer's own warnings and this case's inputs show, nothing guessed."""
    found = [
        (rank, explanation, warning)
        for warning in outcome.warnings
        for rank, (needle, explanation) in enumerate(_WARNING_EXPLANATIONS)
        if needle in warning
    ]
    if not found:
        # No warning: nothing shows what produced it (top-k has no exp to overflow).
        return "."
    facts = _exp_facts(case) if case is not None else []
    _, explanation, warning = min(found)
    text = f" — {explanation} (your code emitted {warning})"
    if "overflow" in explanation:
        return text + ". Subtract the maximum before exponentiating."
    underflow = [fact for fact in facts if "underflow" in fact]
    if underflow and ("0/0" in explanation or "log(0)" in explanation):
        text += f": {underflow[0]}"
        if "log(0)" in explanation:
            return text + ". Stay in log space instead of taking the log of probabilities."
    return text + "."


def _exp_facts(case: Case) -> list[str]:
    """Facts about exp on this case's scores (its first float array), in its own dtype."""
    scores = next(
        (
            np.asarray(value)
            for value in case.args
            if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.size
        ),
        None,
    )
    if scores is None:
        return []
    finite = scores[np.isfinite(scores)]
    if finite.size == 0:
        return []
    dtype = scores.dtype
    limit = float(np.log(np.finfo(dtype).max))
    facts = []
    if float(finite.max()) > limit:
        facts.append(
            f"on this case exp overflows: a score exceeds {limit:.2f}, the largest x whose "
            f"exp is finite in {dtype}"
        )
    with np.errstate(all="ignore"):
        tiny = np.exp((finite - finite.max()).astype(dtype)) == 0
    if tiny.any():
        facts.append(
            f"on this case some probabilities are below the smallest {dtype} number, so "
            "exp(...) / sum underflows to 0"
        )
    return facts


# --- Diagnostics for answers whose numbers are off ---------------------------


def _exercise_diagnosis(exercise, case, expected, got) -> tuple[str, ...]:
    """The messages of the exercise's diagnose: one, or every mistake that gives this
    answer on this case (a diagnose may return a list, the preferred one first)."""
    if exercise.diagnose is None:
        return ()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            message = exercise.diagnose(case, expected, got)
    except Exception:  # a diagnose that cannot read this answer has nothing to say
        return ()
    if isinstance(message, (list, tuple)):
        return tuple(dict.fromkeys(str(m) for m in message if m))
    return (str(message),) if message else ()


def _diagnose_values(exercise, case, expected, outcome, fallback: str) -> str:
    """A generic explanation that is verified on this case, else `fallback` (what differs)."""
    got = outcome.value
    if isinstance(expected, (str, tuple, dict)):
        return _with_modified(fallback, outcome)
    have_array = np.asarray(got)
    if np.asarray(expected).dtype.kind != "f":
        # Positions, ids and counts: no distribution, offset or factor to speak of.
        return _with_modified(fallback, outcome)
    want = np.asarray(expected, dtype=np.float64)
    have = have_array.astype(np.float64)
    if have.shape != want.shape:
        return _with_modified(fallback, outcome)
    tolerance = _tolerance(exercise, case, np.asarray(expected).dtype, have_array.dtype)
    result_eps = float(np.finfo(have_array.dtype).eps) if have_array.dtype.kind == "f" else 0.0
    subject = "the result" if exercise.kind == "function" else exercise.answer_name
    message = _other_axis(exercise, case, want, have, tolerance)
    if message:
        return message
    if exercise.kind == "value":
        message = _rounded_value(want, have, subject, exercise)
        if message:
            return message
    distribution_axis = _distribution_axis(want)
    if distribution_axis is not None:
        message = _distribution_problem(
            want, have, subject, distribution_axis, tolerance, result_eps
        )
    else:
        message = _constant_offset(want, have, subject, tolerance) or _constant_factor(
            want, have, subject, tolerance
        )
    if message:
        return message
    return _with_modified(fallback, outcome)


def _with_modified(fallback: str, outcome: CaseOutcome) -> str:
    if outcome.modified_inputs:
        return _modified_message(outcome)
    return fallback


def _rounded_value(want, have, subject, exercise) -> str | None:
    """Is a value answer exactly the expected value rounded to a few digits?"""
    if want.shape != () or not (math.isfinite(float(want)) and math.isfinite(float(have))):
        return None
    value, expected = float(have), float(want)
    if value == expected or value == 0 or expected == 0:
        return None
    for digits in range(1, 9):
        # `value` has `digits` significant digits and is within half a unit of the
        # last one from the answer: rounded by hand (half up or half to even).
        unit = 10.0 ** (math.floor(math.log10(abs(expected))) - digits + 1)
        short = float(f"{value:.{digits}g}") == value
        if short and abs(value - expected) <= 0.5 * unit * (1 + 1e-9):
            rounded = (
                f"{subject} is the right value rounded to {digits} significant "
                f"digit{'s' * (digits > 1)}"
            )
            if max(exercise.rtol, exercise.atol) >= 1e-4:  # a prediction, written by hand
                return f"{rounded}: too coarse here; give it to three decimals."
            digits_compared = max(1, round(-math.log10(max(exercise.rtol, 1e-16))))
            return (
                f"{rounded}: compute it with NumPy instead of typing it, and keep every "
                f"digit (the check compares about {digits_compared})."
            )
    return None


def _normalized_axes(values: np.ndarray, tolerance: float) -> list[int]:
    """Axes along which every slice sums to 1 (values in [0, 1])."""
    if values.ndim == 0 or not np.isfinite(values).all():
        return []
    return [
        axis
        for axis in range(values.ndim)
        if values.shape[axis] > 1 and np.allclose(values.sum(axis=axis), 1.0, atol=tolerance)
    ]


def _distribution_axis(want) -> int | None:
    """The one axis along which the reference is a probability distribution, if any."""
    if want.ndim == 0 or want.min() < 0 or want.max() > 1:
        return None
    axes = _normalized_axes(want, 1e-4)
    return axes[0] if len(axes) == 1 else None


def _distribution_problem(want, have, subject, axis, tolerance, result_eps) -> str | None:
    if (have < 0).any():
        return f"{subject} contains negative probabilities; a probability is never below 0."
    if not np.isfinite(have).all():
        return None
    sums = have.sum(axis=axis, keepdims=True)
    axis_name = _axis_name(axis, want.ndim)
    # Rounding in the result's own dtype moves a sum by a few of its eps per entry.
    slack = max(1e-4, 10 * tolerance["rtol"], 4 * result_eps * want.shape[axis])
    if np.allclose(sums, 1.0, atol=slack):
        return None
    # Verified: every slice is the right distribution times its own positive number.
    with np.errstate(all="ignore"):
        rescaled = np.where(sums > 0, have / sums, np.nan)
    if np.allclose(rescaled, want, rtol=max(1e-6, tolerance["rtol"]), atol=tolerance["atol"]):
        if want.ndim == 1:
            return (
                f"{subject} is proportional to the right probabilities but does not sum to "
                "1: divide by its sum."
            )
        return (
            f"each slice along {axis_name} is proportional to the right distribution but "
            "does not sum to 1: divide each by its own sum."
        )
    bad = np.abs(np.ravel(sums) - 1.0)
    worst = float(np.ravel(sums)[int(np.argmax(bad))])
    what = "the probabilities do not" if want.ndim == 1 else f"the slices along {axis_name} do not"
    return f"{what} sum to 1 (one sums to {worst:.6g})."


def _axis_name(axis: int, ndim: int) -> str:
    return "the last axis (axis=-1)" if axis == ndim - 1 else f"axis {axis}"


def _clearly_beyond(difference, tolerance, want) -> bool:
    """Larger than rounding by far: 100 times the tolerance and 1e-6 of the values."""
    scale = float(np.max(np.abs(want), initial=0.0))
    limit = max(100 * (tolerance["atol"] + tolerance["rtol"] * scale), 1e-6 * scale)
    return bool(np.all(np.abs(difference) > limit))


def _constant_offset(want, have, subject, tolerance) -> str | None:
    """Verified: the answer equals the reference plus one number (per row, or overall)."""
    if want.ndim == 0 or want.shape[-1] < 2:
        return None
    if not (np.isfinite(want).all() and np.isfinite(have).all()):
        return None
    difference = have - want
    per_row = np.mean(difference, axis=-1, keepdims=True)
    if not np.allclose(have, want + per_row, **tolerance):
        return None
    if not _clearly_beyond(per_row, tolerance, want):
        return None
    if np.allclose(have, want + float(np.mean(difference)), **tolerance):
        return (
            f"{subject} is off by a constant: every value is shifted by the same amount. "
            "Look for an added or missing term that does not depend on the entry."
        )
    return (
        f"{subject} is off by a constant along the last axis: every value in a row is "
        "shifted by the same amount, a different one per row. Look for a missing or extra "
        "per-row term, such as the log of the normalizer."
    )


_LOG_BASES = (("2", np.log(2.0)), ("10", np.log(10.0)))


def _constant_factor(want, have, subject, tolerance) -> str | None:
    """Verified: the answer equals the reference times one number."""
    finite = np.isfinite(want) & np.isfinite(have)
    if not finite.all() or np.count_nonzero(want) < 2:
        return None
    nonzero = want != 0
    factor = float(np.median(have[nonzero] / want[nonzero]))
    if factor == 0 or not np.allclose(have, factor * want, **tolerance):
        return None
    if not _clearly_beyond((factor - 1.0) * want[nonzero], tolerance, want):
        return None
    for base, log_base in _LOG_BASES:
        if math.isclose(factor, 1.0 / log_base, rel_tol=1e-6) or math.isclose(
            factor, log_base, rel_tol=1e-6
        ):
            return (
                f"{subject} is the expected one times ln({base}) or 1/ln({base}): a logarithm "
                f"in base {base}; np.log is the natural logarithm."
            )
    if math.isclose(factor, -1.0, rel_tol=1e-9):
        return f"{subject} has the wrong sign: every value is the expected one times -1."
    return (
        f"{subject} is off by a constant factor: every value is the expected one times the "
        "same number. Look for a missing or extra division or multiplication."
    )


def _other_axis(exercise: Exercise, case: Case, want, have, tolerance) -> str | None:
    """Verified: the answer equals the reference computed along another axis."""
    if exercise.kind != "function" or not case.args:
        return None
    try:
        parameters = inspect.signature(exercise.reference).parameters
    except (TypeError, ValueError):
        return None
    ndim = np.ndim(case.args[0]) if _as_numbers(case.args[0]) is not None else 0
    if ndim < 2:
        return None
    if "axis" in parameters:
        wanted = case.kwargs.get("axis", parameters["axis"].default)
        if not isinstance(wanted, int):
            return None
        along = _axis_name(wanted % ndim, ndim)
        compute = _reference_along(exercise, case)
    elif exercise.axis_of_reference is not None:
        wanted = exercise.axis_of_reference
        along = _axis_name(wanted % ndim, ndim)
        compute = _reference_moved(exercise, case, wanted)
    else:
        return None
    for axis in range(ndim):
        if axis == wanted % ndim:
            continue
        other = compute(axis)
        if other is None or other.shape != have.shape:
            continue
        if other.shape == want.shape and np.allclose(other, want, **tolerance, equal_nan=True):
            continue  # on this case that axis gives the right answer: not the mistake
        if np.allclose(have, other, **tolerance, equal_nan=True):
            return (
                f"the result is what you get along axis {axis}, but this case asks for "
                f"{along}: compute along {along} (wrong axis)."
            )
    return None


def _other_axis_of_any_shape(exercise, case, expected, outcome) -> str | None:
    """_other_axis for a result whose shape is wrong (a reduction over another axis)."""
    have = _as_numbers(outcome.value)
    if have is None or isinstance(expected, (str, tuple, dict)) or have.dtype.kind == "c":
        return None
    want = np.asarray(expected, dtype=np.float64)
    tolerance = _tolerance(exercise, case, np.asarray(expected).dtype, have.dtype)
    return _other_axis(exercise, case, want, have.astype(np.float64), tolerance)


def _reference_along(exercise: Exercise, case: Case):
    def compute(axis: int):
        args, kwargs = copy.deepcopy((case.args, case.kwargs))
        kwargs["axis"] = axis
        return _quietly(exercise.reference, args, kwargs)

    return compute


def _reference_moved(exercise: Exercise, case: Case, wanted: int):
    """The reference applied along `axis` by moving that axis where it computes."""

    def compute(axis: int):
        args, kwargs = copy.deepcopy((case.args, case.kwargs))
        first = np.moveaxis(np.asarray(args[0]), axis, wanted)
        value = _quietly(exercise.reference, (first, *args[1:]), kwargs)
        if value is not None and value.shape == first.shape:
            return np.moveaxis(value, wanted, axis)
        if value is not None and value.ndim == first.ndim - 1:
            return value  # the reference reduced that axis: the others keep their order
        return None

    return compute


def _quietly(function, args, kwargs):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(function(*args, **kwargs), dtype=np.float64)
    except Exception:  # the reference may refuse that input; then it is not this mistake
        return None


# --------------------------------------------------------------------------
# The notebook entry point
# --------------------------------------------------------------------------


# An answer that runs longer than this on one case is stopped (see check): this
# much CPU time, or twice as much time on the clock (a sleeping loop). The
# grader's default per-case limit equals it (3 s of CPU per answer call, 2x in
# wall time), so that "passed" here predicts the grade.
CASE_TIME_LIMIT_SECONDS = 3.0
_TIMEOUT_MARK = "the time limit per case"
# What a forked answer may print per check; the rest is dropped (an endless print).
_MAX_PRINTED_CHARS = 20_000


class _CaseTimeout(BaseException):
    """Raised into the answer by the alarm; a BaseException, so `except Exception` in
    the answer (or in run_case) does not swallow it."""


def _run_with_time_limit(answer, exercise: Exercise, case: Case, seconds: float) -> CaseOutcome:
    """run_case, stopped after `seconds` by SIGALRM (main thread only).

    The previous SIGALRM handler and any running ITIMER_REAL are restored
    afterwards. Elsewhere (a thread, a platform without setitimer) the case
    runs without a limit. The alarm repeats every 0.1 s until the answer
    gives up, so an answer that catches the first one is still stopped.
    This is check's fallback where fork is unavailable, and the limit the
    grader's child and the catalogue use in-process. It cannot stop a single
    long NumPy call (interrupted only when it returns to Python) nor a loop
    whose bare `except:` swallows every alarm; check's forked child and the
    grader, which runs each submission in its own process, stop both.
    """
    if (
        not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
        or seconds is None
    ):
        return run_case(answer, exercise, case)
    fired = []

    def stop(signum, frame):
        fired.append(signum)
        raise _CaseTimeout

    started = time.monotonic()
    previous_handler = signal.signal(signal.SIGALRM, stop)
    previous_delay, previous_interval = signal.setitimer(signal.ITIMER_REAL, seconds, 0.1)
    try:
        try:
            outcome = run_case(answer, exercise, case)
        except _CaseTimeout:
            outcome = None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _CaseTimeout:  # an alarm that landed between the two lines above
        outcome = None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_delay > 0:
            left = previous_delay - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), previous_interval)
    if outcome is None or fired:
        return _timeout_outcome(exercise, f"{seconds:g} s")
    return outcome


def _timeout_outcome(exercise: Exercise, limit: str) -> CaseOutcome:
    return CaseOutcome(
        "error",
        error=(
            f"TimeoutError: your {exercise.answer_name} ran longer than {limit} on this "
            f"case and was stopped ({_TIMEOUT_MARK}); look for a loop that never "
            "ends, or work on whole arrays instead of element by element."
        ),
    )


class _BoundedText(io.TextIOBase):
    """sys.stdout/sys.stderr of the forked child: keeps the first characters printed."""

    def __init__(self, shared: list):
        self._shared = shared

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        text = str(text)
        room = _MAX_PRINTED_CHARS - sum(len(t) for t in self._shared)
        if room > 0:
            self._shared.append(text[:room])
        return len(text)


def _send(fd: int, payload: bytes) -> None:
    data = struct.pack("!Q", len(payload)) + payload
    while data:
        data = data[os.write(fd, data) :]


def _frame(outcome: CaseOutcome, printed: str) -> bytes:
    record, arrays = outcome.to_record()
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    header = json.dumps({"record": record, "printed": printed}).encode()
    return struct.pack("!I", len(header)) + header + buffer.getvalue()


def _unframe(payload: bytes) -> tuple[CaseOutcome, str]:
    (size,) = struct.unpack("!I", payload[:4])
    header = json.loads(payload[4 : 4 + size].decode())
    with np.load(io.BytesIO(payload[4 + size :]), allow_pickle=False) as loaded:
        arrays = {key: loaded[key] for key in loaded.files}
    return CaseOutcome.from_record(header["record"], arrays), str(header["printed"])


def _child(answer, exercise: Exercise, cases, fd: int, seconds: float) -> None:
    """In the forked child: run the cases one by one, send each outcome, never return."""
    try:
        # Default handling: SIGINT (interrupting the kernel) and this alarm end the
        # child whatever the answer catches; the alarm only guards against a parent
        # that died before it could kill us.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.alarm(int(2 * seconds * len(cases)) + 5)
        # ipykernel's streams belong to the parent's threads and sockets: print here.
        printed: list[str] = []
        sys.stdout = sys.stderr = _BoundedText(printed)
        for case in cases:
            try:
                outcome = run_case(answer, exercise, case)
                payload = _frame(outcome, "")
            except BaseException as error:  # reported to the parent, whatever it is
                outcome = CaseOutcome("error", error=_short_error(error, answer))
                payload = _frame(outcome, "")
            text = "".join(printed)
            printed.clear()
            if text:
                payload = _frame(outcome, text)
            _send(fd, payload)
    finally:
        os._exit(0)


def _cpu_seconds(pid: int) -> float | None:
    """The child's CPU time (user + system) from /proc, or None where there is none."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _read_frame(fd: int, pid: int, seconds: float, buffer: bytearray) -> bytes | str:
    """The next frame from the child, "timeout" past the limit, "ended" at EOF.

    `buffer` keeps what was read beyond this frame (the child may be ahead)."""
    started = time.monotonic()
    cpu_start = _cpu_seconds(pid)
    while True:
        if len(buffer) >= 8:
            (needed,) = struct.unpack("!Q", buffer[:8])
            if len(buffer) >= 8 + needed:
                frame = bytes(buffer[8 : 8 + needed])
                del buffer[: 8 + needed]
                return frame
        ready, _, _ = select.select([fd], [], [], 0.02)
        if ready:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return "ended"
            buffer += chunk
            continue
        if time.monotonic() - started > 2 * seconds:
            return "timeout"
        cpu = _cpu_seconds(pid)
        if cpu is not None and cpu_start is not None and cpu - cpu_start > seconds:
            return "timeout"


def _run_cases_forked(answer, exercise: Exercise, cases, seconds: float):
    """The outcomes of `cases` run in a forked child, or None when fork is not possible."""
    if not hasattr(os, "fork") or exercise.kind != "function" or seconds is None:
        return None
    read_end, write_end = os.pipe()
    # Frozen objects are not scanned by the child's garbage collector, so the
    # child does not copy every page of the kernel's heap (copy-on-write).
    gc.freeze()
    try:
        pid = os.fork()
    except OSError:
        gc.unfreeze()
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:
        os.close(read_end)
        _child(answer, exercise, cases, write_end, seconds)
    gc.unfreeze()
    os.close(write_end)
    outcomes: list[CaseOutcome] = []
    pending = bytearray()
    try:
        for index, case in enumerate(cases):
            frame = _read_frame(read_end, pid, seconds, pending)
            if isinstance(frame, bytes):
                outcome, printed = _unframe(frame)
                if printed:
                    sys.stdout.write(printed)
                outcomes.append(outcome)
                continue
            if frame == "timeout":
                limit = f"{seconds:g} s of CPU time ({2 * seconds:g} s in all)"
                outcomes.append(_timeout_outcome(exercise, limit))
                why = "already ran past the time limit"
            else:
                outcomes.append(
                    CaseOutcome(
                        "error",
                        error=(
                            f"SystemExit: your {exercise.answer_name} ended the process "
                            "on this case (os._exit, a signal or a crash) and was stopped."
                        ),
                    )
                )
                why = "ended the process"
            label = _label(case, index, exercise)
            skipped = CaseOutcome("error", error=f'not run: case "{label}" {why}.')
            outcomes += [skipped] * (len(cases) - len(outcomes))
            break
    finally:
        os.close(read_end)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return outcomes


def check(exercise_id: str, answer=_MISSING) -> CheckResult | NbgraderCredit:
    """Check your answer to an exercise on its visible cases.

    Pass the function itself for a function exercise
    (`check("02.logsumexp", logsumexp)`) and the value for a value exercise
    (`check("00.mean_score", mean_score)`). A function's cases run in a forked
    child process (POSIX: Linux, macOS), so nothing the answer does can hang
    the notebook: a case that uses more than CASE_TIME_LIMIT_SECONDS (3) of
    CPU time, or twice that on the clock, is stopped (the child is killed)
    and reported as an error, the remaining cases as not run. What the answer
    prints is shown after it returns; a change it makes to global state stays
    in the child. Where os.fork is missing (Windows) or refused, the cases
    run in this process under a SIGALRM limit, which an answer whose bare
    `except:` swallows every alarm can escape. After a failure the
    result shows the exercise's first hint; `hint(exercise_id)` gives the
    next. Under nbgrader (the environment variable NBGRADER_EXECUTION is set)
    the check cell doubles as an nbgrader test cell: see `nbgrader_credit`.
    """
    from utils import exercises  # imported here: the specs load on first use

    exercise = exercises.get(exercise_id)
    if answer is _MISSING:
        raise TypeError(
            f'check needs your answer too: check("{exercise.id}", {exercise.answer_name}).'
        )
    cases = exercise.check_cases
    outcomes = _run_cases_forked(answer, exercise, cases, CASE_TIME_LIMIT_SECONDS)
    if outcomes is None:
        outcomes = _run_in_process(answer, exercise, cases)
    result = evaluate(exercise, cases, outcomes)
    if result.shows_hint:
        _HINTS_SHOWN[exercise.id] = max(_HINTS_SHOWN.get(exercise.id, 0), 1)
    if os.environ.get("NBGRADER_EXECUTION"):
        return nbgrader_credit(result)
    return result


# --- nbgrader interop ----------------------------------------------------------------------------


class NbgraderCredit:
    """A check's result as nbgrader's autograder reads a test cell's output.

    nbgrader (`nbgrader.utils.determine_grade`, 0.9) gives a test cell 0 points
    when it raised or wrote to stderr, and otherwise reads its result's
    `text/plain` as partial credit when that is a number from 0 to the cell's
    points; anything else (text such as a verdict, a negative number; 0 too in
    releases before 0.9) counts as full credit, with a warning. So the plain
    text here is the points alone ("0.75"), never 0; notebooks and nbgrader's
    feedback show the check's verdict from the HTML.
    """

    def __init__(self, result: CheckResult):
        self.result = result
        self.points = result.points

    def __getattr__(self, name: str):  # status, message, cases...: the check's result
        if name == "result":
            raise AttributeError(name)
        return getattr(self.result, name)

    def __repr__(self) -> str:
        return repr(float(self.points))

    def _repr_html_(self) -> str:
        return (
            f"{self.result._repr_html_()}<div><small>nbgrader: {self.points:g} of "
            f"{self.result.max_points:g} points</small></div>"
        )


def nbgrader_credit(result: CheckResult) -> NbgraderCredit:
    """What `check` returns under nbgrader (NBGRADER_EXECUTION is set).

    Some points: a result whose plain text is the points, which nbgrader
    records as the test cell's (partial) credit. No points: AssertionError with
    the verdict, which nbgrader records as 0 (a result of 0 would count as full
    credit there).
    """
    if result.points > 0:
        return NbgraderCredit(result)
    raise AssertionError(result.text)


def _run_in_process(answer, exercise: Exercise, cases) -> list[CaseOutcome]:
    outcomes: list[CaseOutcome] = []
    for index, case in enumerate(cases):
        outcome = _run_with_time_limit(answer, exercise, case, CASE_TIME_LIMIT_SECONDS)
        outcomes.append(outcome)
        if outcome.error.startswith("TimeoutError: ") and _TIMEOUT_MARK in outcome.error:
            # An endless loop would hang every case: report the rest as not run.
            label = _label(case, index, exercise)
            skipped = CaseOutcome(
                "error", error=f'not run: case "{label}" already ran past the time limit.'
            )
            outcomes += [skipped] * (len(cases) - len(outcomes))
            break
    return outcomes


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
