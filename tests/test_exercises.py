"""Every registered exercise: well-formed, its reference passes, hidden cases are seeded.

These run over the whole registry, so a lesson's specs are covered as soon as
its `utils/exercises/lessonNN.py` exists.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from utils import check, exercises
from utils.checks import evaluate, run_case
from utils.exercises import Case, Exercise

GRADED = exercises.all_exercises()
EVERY_SPEC = GRADED + exercises.demos()
FUNCTION_SPECS = [spec for spec in GRADED if spec.kind == "function"]
SEEDS = (0, 1, 2023)


def _ids(specs):
    return [spec.id for spec in specs]


def test_registry_is_not_empty_and_ids_are_unique():
    assert GRADED
    ids = _ids(EVERY_SPEC)
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("spec", EVERY_SPEC, ids=_ids(EVERY_SPEC))
def test_spec_is_well_formed(spec: Exercise):
    assert re.fullmatch(r"\d{2}\.[a-z][a-z0-9_]*", spec.id)
    assert spec.grade_id == spec.id.replace(".", "_")
    listed = [*exercises.for_lesson(spec.lesson), *exercises.demos()]
    assert any(other is spec for other in listed)
    assert exercises.get(spec.id) is spec
    labels = [case.label for case in spec.visible_cases]
    assert all(labels), f"{spec.id}: every visible case needs a label for the feedback"
    assert len(labels) == len(set(labels)), f"{spec.id}: visible case labels must differ"


@pytest.mark.parametrize("spec", EVERY_SPEC, ids=_ids(EVERY_SPEC))
def test_reference_passes_its_own_check(spec: Exercise):
    answer = spec.reference if spec.kind == "function" else spec.reference()
    result = check(spec.id, answer)
    assert result.status == "passed", result.text
    assert result.points == spec.points


@pytest.mark.parametrize("spec", EVERY_SPEC, ids=_ids(EVERY_SPEC))
def test_the_stub_is_not_attempted(spec: Exercise):
    def stub(*args, **kwargs):
        raise NotImplementedError(f"Exercise {spec.id}: replace this line with your code")

    result = check(spec.id, stub if spec.kind == "function" else None)
    assert result.status == "not_attempted"
    assert result.text.startswith(f"[not attempted] {spec.id} — ")


def test_graded_function_exercises_have_hidden_cases():
    missing = [spec.id for spec in FUNCTION_SPECS if spec.hidden_cases is None]
    assert not missing, f"function exercises without hidden cases: {missing}"


@pytest.mark.parametrize("spec", FUNCTION_SPECS, ids=_ids(FUNCTION_SPECS))
def test_reference_passes_hidden_cases(spec: Exercise):
    for seed in SEEDS:
        cases = spec.draw_hidden_cases(seed)
        if spec.hidden_cases is None:
            assert cases == []
            continue
        assert cases, f"{spec.id}: hidden_cases(seed={seed}) drew no case"
        assert all(isinstance(case, Case) for case in cases)
        outcomes = [run_case(spec.reference, spec, case) for case in cases]
        result = evaluate(spec, cases, outcomes)
        assert result.status == "passed", f"seed {seed}: {result.text}"
        assert not any(outcome.warnings for outcome in outcomes)


def _fingerprint(cases: list[Case]) -> str:
    """A text that changes when any argument of any case changes."""

    def describe(value):
        if isinstance(value, np.random.Generator):
            return repr(value.bit_generator.state)
        if isinstance(value, np.ndarray):
            return f"{value.dtype}{value.shape}{value.tobytes().hex()}"
        if isinstance(value, (list, tuple)):
            return "[" + ",".join(describe(v) for v in value) + "]"
        if isinstance(value, dict):
            return "{" + ",".join(f"{k}:{describe(v)}" for k, v in sorted(value.items())) + "}"
        return repr(value)

    return "|".join(describe(case.args) + describe(case.kwargs) + case.label for case in cases)


@pytest.mark.parametrize(
    "spec",
    [s for s in FUNCTION_SPECS if s.hidden_cases is not None],
    ids=_ids([s for s in FUNCTION_SPECS if s.hidden_cases is not None]),
)
def test_hidden_cases_are_deterministic_per_seed_and_differ_between_seeds(spec: Exercise):
    first = _fingerprint(spec.draw_hidden_cases(7))
    assert first == _fingerprint(spec.draw_hidden_cases(7))
    assert first != _fingerprint(spec.draw_hidden_cases(8))


@pytest.mark.parametrize("spec", EVERY_SPEC, ids=_ids(EVERY_SPEC))
def test_check_is_deterministic(spec: Exercise):
    answer = spec.reference if spec.kind == "function" else spec.reference()
    assert check(spec.id, answer).text == check(spec.id, answer).text


def test_unknown_ids_list_what_exists():
    with pytest.raises(KeyError, match="ids look like"):
        exercises.get("99.nothing")
    with pytest.raises(TypeError, match="exercise_id must be a str"):
        exercises.get(2)
    with pytest.raises(ValueError, match="two-digit"):
        exercises.for_lesson("2")


def test_demos_are_not_graded():
    assert {spec.id for spec in exercises.demos()}.isdisjoint(_ids(GRADED))
    assert "00.demo_top_token" in _ids(exercises.demos())


# --- Lesson 00's own exercises ----------------------------------------------


def test_scores_above_diagnoses_ties_and_order():
    def at_least(scores, threshold):
        return np.flatnonzero(scores >= threshold)

    def reversed_order(scores, threshold):
        return np.flatnonzero(scores > threshold)[::-1]

    assert "strictly greater (>)" in check("00.scores_above", at_least).message
    assert "not in increasing order" in check("00.scores_above", reversed_order).message


def test_scores_above_accepts_a_list_of_positions():
    def with_a_loop(scores, threshold):
        return [index for index, score in enumerate(scores) if score > threshold]

    assert check("00.scores_above", with_a_loop).status == "passed"


def test_scores_above_rejects_the_mask_and_the_scores():
    assert "True/False" in check("00.scores_above", lambda s, t: s > t).message
    assert "expected integers" in check("00.scores_above", lambda s, t: s[s > t]).message


def test_demo_top_token_shows_all_four_statuses():
    def unfinished(scores):
        raise NotImplementedError

    def crashes(scores):
        return scores.index(max(scores))

    statuses = [
        check("00.demo_top_token", answer).status
        for answer in (unfinished, crashes, np.max, np.argmax)
    ]
    assert statuses == ["not_attempted", "error", "failed", "passed"]


# --- Hints: tiers from the idea to the approach, never the code line ----------

# A hint may name a function, never write a call with its arguments.
_CALL_WITH_ARGUMENTS = re.compile(r"\bnp\.[A-Za-z_][\w.]*\(\s*[^)\s]")
# A run of this many code tokens shared with a line of the solution is that line.
_SHARED_TOKENS = 6
_HINT_TOKEN = re.compile(r"[A-Za-z_]\w*|\d+(?:\.\d+)?|\*\*|//|==|!=|<=|>=|\S")


def _solution_code_lines() -> dict[str, list[list[str]]]:
    """{grade_id: the code tokens of each line between BEGIN and END SOLUTION}."""
    import io
    import tokenize
    from pathlib import Path

    import nbformat

    solutions = Path(__file__).resolve().parents[1] / "solutions"
    lines: dict[str, list[list[str]]] = {}
    skip = {tokenize.COMMENT, tokenize.STRING, tokenize.NL, tokenize.NEWLINE}
    skip |= {tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    for path in sorted(solutions.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            match = re.search(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S)
            if not grade_id or not match:
                continue
            code = "\n".join(line.strip() for line in match.group(1).splitlines())
            by_line: dict[int, list[str]] = {}
            for token in tokenize.generate_tokens(io.StringIO(code + "\n").readline):
                if token.type not in skip:
                    by_line.setdefault(token.start[0], []).append(token.string)
            lines.setdefault(grade_id, []).extend(by_line.values())
    return lines


def _longest_shared_run(first: list[str], second: list[str]) -> list[str]:
    best: list[str] = []
    for i in range(len(first)):
        for j in range(len(second)):
            length = 0
            while (
                i + length < len(first)
                and j + length < len(second)
                and first[i + length] == second[j + length]
            ):
                length += 1
            if length > len(best):
                best = first[i : i + length]
    return best


def code_line_in_hint(hint: str, solution_lines: list[list[str]]) -> str | None:
    """The piece of solution code a hint gives away, or None."""
    call = _CALL_WITH_ARGUMENTS.search(hint)
    if call:
        return hint[call.start() : call.start() + 40]
    tokens = _HINT_TOKEN.findall(hint)
    for line in solution_lines:
        shared = _longest_shared_run(tokens, line)
        if len(shared) >= _SHARED_TOKENS:
            return " ".join(shared)
    return None


def test_the_code_line_detector_catches_copied_code_and_spares_prose():
    solution = [
        ["exponentials", "=", "np", ".", "exp", "(", "logits", ")"],
        ["return", "exponentials", "/", "exponentials", ".", "sum", "(", "axis", "=", "-", "1"],
    ]
    assert code_line_in_hint("np.exp(logits) / np.exp(logits).sum(axis=-1)", solution)
    assert code_line_in_hint("divide exponentials / exponentials.sum(axis=-1", solution)
    assert code_line_in_hint("use np.max(logits, axis=axis) first", [])
    assert code_line_in_hint("Exponentiate, then divide by the row's total.", solution) is None
    assert code_line_in_hint("np.exp is the exponential; exp(0) = 1.", solution) is None


@pytest.mark.parametrize("spec", EVERY_SPEC, ids=_ids(EVERY_SPEC))
def test_hints_come_in_two_or_three_tiers(spec: Exercise):
    assert 2 <= len(spec.hints) <= 3, f"{spec.id}: write 2-3 hint tiers, from idea to approach"
    assert len(set(spec.hints)) == len(spec.hints), f"{spec.id}: hint tiers repeat"
    assert spec.hint == spec.hints[0]  # what the grader's feedback shows


@pytest.mark.parametrize("spec", GRADED, ids=_ids(GRADED))
def test_no_hint_is_the_code_line(spec: Exercise):
    solution = _SOLUTION_LINES.get(spec.grade_id)
    assert solution, f"{spec.id}: no answer cell with grade_id {spec.grade_id} in solutions/"
    for tier, text in enumerate(spec.hints, start=1):
        copied = code_line_in_hint(text, solution)
        assert copied is None, f"{spec.id} hint {tier} gives away the code: {copied!r}"


_SOLUTION_LINES = _solution_code_lines()
