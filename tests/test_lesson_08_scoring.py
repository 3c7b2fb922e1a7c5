"""Lesson 08: the order of its cases (ask before the evidence answers), bfloat16, case 8
(scoring a completion token by token) and the audit exercises.

Every number the new prose states is recomputed here with the course's own code.
"""

from __future__ import annotations

import nbformat
import numpy as np
import pytest
from notebook_code import SOLUTIONS, solution_namespace

import utils
from utils import check, exercises, lm
from utils.exercises import lesson08

NOTEBOOK = "08_debugging_case_studies.ipynb"


@pytest.fixture(scope="module")
def notebook():
    return nbformat.read(SOLUTIONS / NOTEBOOK, as_version=4)


@pytest.fixture(scope="module")
def namespace():
    return solution_namespace(NOTEBOOK)


@pytest.fixture(scope="module")
def model():
    return lm.load()


def markdown(notebook, cell_id: str) -> str:
    (cell,) = [cell for cell in notebook.cells if cell.get("id") == cell_id]
    return " ".join(cell.source.split())


def order(notebook) -> list[str]:
    return [cell.get("id") for cell in notebook.cells]


# --- the learner is asked before the evidence answers ------------------------------------------


def test_case_2_explorer_comes_after_the_diagnosis(notebook):
    ids = order(notebook)
    assert ids.index("case-2-diagnosis") < ids.index("explorer-explained") < ids.index("explorer")
    assert ids.index("case-2-fixed") < ids.index("explorer-explained")


@pytest.mark.parametrize("case", ["4", "5"])
def test_the_question_comes_before_the_evidence(notebook, case):
    ids = order(notebook)
    question, evidence = ids.index(f"case-{case}-question"), ids.index(f"case-{case}-evidence")
    assert ids.index(f"case-{case}-symptom") < question < evidence
    assert evidence < ids.index(f"case-{case}-diagnosis")
    asked = markdown(notebook, f"case-{case}-question")
    assert "Before" in asked
    # the question states no number the evidence is there to show
    assert "0.34" not in asked
    assert "11.09" not in asked
    assert "80 %" not in asked
    if case == "4":
        assert question < ids.index("quiz-case-4") < evidence


# --- bfloat16 ---------------------------------------------------------------------------------


def _nearest_bfloat16(value: np.float32) -> np.float32:
    """The bfloat16 nearest to a finite float32, ties to an even last kept bit (by search)."""
    bits = int(np.array(value, dtype=np.float32).view(np.uint32))
    low = bits & 0xFFFF0000
    high = low + 0x10000
    candidates = [np.array(b, dtype=np.uint32).view(np.float32) for b in (low, high)]
    exact = float(value)
    with np.errstate(over="ignore"):
        distances = [abs(float(c) - exact) if np.isfinite(c) else np.inf for c in candidates]
    if (high & 0x7F800000) == 0x7F800000 and (bits & 0x7FFFFFFF) >= 0x7F7F8000:
        # beyond the largest bfloat16's rounding range: overflow to infinity
        return np.float32(np.copysign(np.inf, exact))
    if distances[0] < distances[1]:
        return candidates[0]
    if distances[1] < distances[0]:
        return candidates[1]
    return candidates[0] if (low >> 16) % 2 == 0 else candidates[1]


def test_the_lesson_uses_the_courses_bfloat16(namespace, notebook):
    # One source of truth: lesson 02 and lesson 08 round with utils.numerics.to_bfloat16.
    from utils.numerics import to_bfloat16

    assert namespace["to_bfloat16"] is to_bfloat16
    assert not any("def to_bfloat16" in cell.source for cell in notebook.cells)


def test_to_bfloat16_rounds_to_nearest_even(namespace):
    to_bfloat16 = namespace["to_bfloat16"]
    rng = np.random.default_rng(8)
    values = np.concatenate(
        [
            rng.standard_normal(2000).astype(np.float32) * np.float32(1000.0),
            (rng.standard_normal(500) * 1e-40).astype(np.float32),  # subnormals
            # exact ties: a finite kept part followed by 0x8000
            (rng.integers(0, 0x7F80, 300, dtype=np.uint32) << 16 | 0x8000)
            .astype(np.uint32)
            .view(np.float32),
            np.array([0.0, -0.0, 1.0, 1 + 2**-8, 65504.0, 3.4e38, -3.4e38], np.float32),
        ]
    )
    got = to_bfloat16(values)
    assert got.dtype == np.float32
    assert np.all(got.view(np.uint32) & 0xFFFF == 0)  # a bfloat16: the low 16 bits are zero
    expected = np.array([_nearest_bfloat16(v) for v in values], dtype=np.float32)
    np.testing.assert_array_equal(got, expected)
    assert to_bfloat16([1.0, 1.0 + 2**-8, 1.0 + 3 * 2**-9, 65504.0]).tolist() == [
        1.0,
        1.0,
        1.0078125,
        65536.0,
    ]
    special = to_bfloat16(np.array([np.nan, np.inf, -np.inf], np.float32))
    assert np.isnan(special[0])
    assert special[1:].tolist() == [np.inf, -np.inf]


def test_bfloat16_claims(namespace, model, notebook):
    to_bfloat16 = namespace["to_bfloat16"]
    served = ["the cat", "the dog ran", "a bird"]
    logits = model.next_token_logits(served)
    brain = to_bfloat16(logits.astype(np.float32))
    assert float(np.abs(brain - logits).max()) <= 0.0625 / 2  # spacing 2**-4 near 13
    assert round(float(np.abs(brain - logits).max()), 2) == 0.03
    with np.errstate(all="ignore"):
        naive = namespace["buggy_log_probs_fp16"](brain)
    assert not np.isnan(naive).any()  # float32's range: no overflow at 13
    change = np.abs(utils.softmax(brain) - utils.softmax(logits.astype(np.float32))).max()
    assert 0.001 < change < 0.01  # "in their third decimal"
    assert "$2^{-4} = 0.0625$" in markdown(notebook, "bfloat16-served")


# --- case 8 -------------------------------------------------------------------------------------


def _log_probs(namespace, text):
    ids = lm.load().encode(text)
    return utils.log_softmax(namespace["position_logits"](ids), axis=-1), ids


def test_position_logits_row_t_predicts_token_t_plus_1(namespace, model):
    ids = model.encode("<s> the cat sat")
    rows = namespace["position_logits"](ids)
    for t in range(len(ids)):
        np.testing.assert_allclose(rows[t], model.next_token_logits(ids[: t + 1]), rtol=1e-12)


def test_case_8_numbers(namespace, model, notebook):
    scores = namespace["completion_log_probs"]
    log_probs, ids = _log_probs(namespace, "<s> the cat sat on the mat </s>")
    right = scores(log_probs, ids, 3)
    np.testing.assert_allclose(right.sum(), -3.945, atol=5e-4)
    assert right.sum() == pytest.approx(
        float(
            utils.sequence_log_prob(
                model.next_token_logits([model.decode(ids[:t]) for t in range(3, len(ids))]),
                ids[3:],
            )
        ),
        abs=1e-9,
    )
    unshifted = np.exp(scores(log_probs, ids, 3, shift=0))
    assert unshifted.max() < 0.03  # "all but impossible"
    # bug 2: the prompt halves the per-token gap between the two completions
    per_token = {}
    for completion in ("slept </s>", "was hungry </s>"):
        lp, sequence = _log_probs(namespace, f"<s> the cat {completion}")
        per_token[completion] = (scores(lp, sequence, 3).mean(), scores(lp, sequence, 1).mean())
    gap_alone = per_token["was hungry </s>"][0] - per_token["slept </s>"][0]
    gap_mixed = per_token["was hungry </s>"][1] - per_token["slept </s>"][1]
    assert round(float(gap_alone), 2) == 0.30
    assert round(float(gap_mixed), 2) == 0.15
    assert "from 0.30 to 0.15" in markdown(notebook, "case-8-prompt-explained")
    # bug 3: a completion cut off beats the finished one when the end is never scored
    cut = scores(*_log_probs(namespace, "<s> the cat sat on the"), 3).sum()
    ended = scores(*_log_probs(namespace, "<s> the cat sat on the </s>"), 3).sum()
    assert cut > right.sum() > ended + 5
    whole = scores(*_log_probs(namespace, "<s> the cat sat on the mat </s>"), 1).sum()
    no_bos = scores(*_log_probs(namespace, "the cat sat on the mat </s>"), 1).sum()
    first = utils.log_softmax(model.next_token_logits("<s>"))[model.vocab.index("the")]
    assert no_bos - whole == pytest.approx(-first, abs=1e-9)  # only "the" goes unscored
    # bug 4: processed logits make the chosen tokens look likelier
    logits = namespace["position_logits"](ids)
    processed = [
        logits / 0.5,
        utils.top_k_filter(logits, 3),
        utils.top_p_filter(logits / 0.7, 0.9),
    ]
    for rows in processed:
        assert scores(utils.log_softmax(rows, axis=-1), ids, 3).sum() > right.sum() + 1.0


def test_hugging_face_mapping_note_says_what_each_output_is(notebook):
    text = markdown(notebook, "case-8-processed-explained")
    assert "output_scores=True" in text
    assert "normalize_logits=True" in text
    assert "**of the sampling distribution**" in text
    assert "ignore_index=-100" in text
    assert "**unshifted**" in text


# --- the audit ----------------------------------------------------------------------------------


def test_audit_of_the_lessons_completion_supports_verdict_b(model, namespace, notebook):
    ids = np.concatenate([model.encode("<s> the cat"), model.encode("slept on the mat </s>")])
    logits = namespace["position_logits"](ids)
    audit = lesson08.audit_completion_reference(logits, ids, 3)
    words = ["slept", "on", "the", "mat", "</s>"]
    low = np.flatnonzero(audit["prob"] < 0.01)
    assert [words[i] for i in low] == ["on"]  # (b) one step decides it, not (a)
    step = int(low[0])
    assert model.vocab[audit["argmax"][step]] == "soundly"
    assert audit["entropy"][step] < np.median(audit["entropy"])  # the model is fairly sure
    assert audit["rank"][step] > 1
    assert np.any(audit["rank"] > 1)  # not (c): not every token is the top choice
    assert words[-1] == "</s>"  # not (e): the end token is scored
    assert model.true_next_token_probs("the cat slept")[model.vocab.index("on")] == 0.0
    total = float(np.log(audit["prob"]).sum())
    assert round(total, 1) == -13.3
    assert "$-13.3$" in markdown(notebook, "audit-run")
    # the notebook's own audit function agrees with the reference
    mine = namespace["audit_completion"](logits, ids, 3)
    for key in lesson08.AUDIT_KEYS:
        np.testing.assert_allclose(mine[key], audit[key], rtol=1e-12)


def test_verdict_options_in_the_notebook_are_the_specs(notebook):
    text = markdown(notebook, "ex-audit-verdict")
    for letter, option in lesson08.AUDIT_VERDICT_OPTIONS.items():
        assert f"({letter}) {' '.join(option.split())}" in text


def _answer(notebook, spec):
    (cell,) = [
        cell
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id") == spec.grade_id
    ]
    values: dict = {}
    exec(cell.source, values)
    return values[spec.answer_name]


def test_audit_verdict_notebook_answer_passes_and_none_is_not_attempted(notebook):
    spec = exercises.get("08.audit_verdict")
    assert check(spec.id, _answer(notebook, spec)).status == "passed"
    assert check(spec.id, None).status == "not_attempted"
    assert spec.points == 2


def test_the_buggy_pairing_fails_the_audit_with_its_diagnosis():
    def unshifted_audit(logits, token_ids, prompt_length):
        rows, tokens = logits[prompt_length:], token_ids[prompt_length:]
        return lesson08._audit_of(rows, tokens)

    result = check("08.audit_completion", unshifted_audit)
    assert result.status == "failed"
    assert "no shift" in result.message
