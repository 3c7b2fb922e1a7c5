"""utils.widgets without a kernel or a browser: pure functions, then the widgets driven from code.

Outside a kernel, ipywidgets uses a dummy comm: setting `slider.value` or
calling `button.click()` runs the callbacks synchronously, and because the
widgets assign `out.outputs` (never `with out:`), the rendered outputs can be
asserted here exactly as a browser would receive them.
"""

from __future__ import annotations

import base64
import doctest
import math
import re
import warnings

import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st

import utils
import utils.widgets._display
import utils.widgets.decoding
import utils.widgets.explorers
import utils.widgets.quizzes
from utils import lm
from utils.widgets import (
    beam_search_stepper,
    beam_stepper_state,
    grade_choice,
    grade_number,
    numeric_quiz,
    overflow_explorer,
    overflow_state,
    quiz,
    sampling_lab,
    sampling_state,
    score_explorer,
    score_state,
    temperature_explorer,
    temperature_state,
)
from utils.widgets.explorers import entropy_curve
from utils.widgets.quizzes import parse_number

TOKENS = ["cat", "dog", "bird"]
LOGITS = [2.0, 1.0, 0.1]
PNG_MAGIC = b"\x89PNG"


@pytest.fixture(scope="module")
def model():
    return lm.load()


def text_of(widget) -> str:
    """The text record of a widget's output (the first output)."""
    first = widget.out.outputs[0]
    if first["output_type"] == "stream":
        return first["text"]
    return first["data"]["text/plain"]


def png_of(widget) -> bytes:
    images = [
        o["data"]["image/png"] for o in widget.out.outputs if "image/png" in o.get("data", {})
    ]
    assert len(images) == 1, widget.out.outputs
    data = base64.b64decode(images[0])
    assert data[:4] == PNG_MAGIC
    return data


@pytest.mark.parametrize(
    "module",
    [
        utils.widgets._display,
        utils.widgets.explorers,
        utils.widgets.decoding,
        utils.widgets.quizzes,
    ],
)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0 or module is utils.widgets._display


# --- the returned objects ------------------------------------------------------------------------
def all_widgets(model):
    return {
        "score-explorer": score_explorer(TOKENS, LOGITS),
        "overflow-explorer": overflow_explorer(),
        "temperature-explorer": temperature_explorer(TOKENS, LOGITS),
        "sampling-lab": sampling_lab(model, samples=100),
        "beam-stepper": beam_search_stepper(model),
        "quiz": quiz("Q?", ["a", "b"], "a", ["yes", "no"]),
    }


def test_every_widget_displays_as_its_root_widget_with_a_stable_text_form(model):
    for css_class, built in all_widgets(model).items():
        bundle = built._repr_mimebundle_()
        view = bundle["application/vnd.jupyter.widget-view+json"]
        assert view["model_id"] == built.widget.model_id
        assert not re.search(r"at 0x[0-9a-f]+", bundle["text/plain"]), bundle["text/plain"]
        assert bundle["text/plain"].startswith(type(built).__name__ + "(")
        assert css_class in built.widget._dom_classes
        assert "course-output" in built.out._dom_classes
        assert isinstance(built.state, dict)


def test_ipython_displays_the_widget_when_a_cell_ends_on_the_builder():
    from IPython.core.formatters import DisplayFormatter

    explorer = score_explorer(TOKENS, LOGITS)
    data, _metadata = DisplayFormatter().format(explorer)
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/plain"].splitlines()[0] == "ScoreExplorer(tokens=['cat', 'dog', 'bird'])"
    assert data["image/png"] == explorer.out.outputs[1]["data"]["image/png"]


# A number printed with more digits than this may show the last bits of a vectorized float
# computation, which differ between CPUs (and nbval compares text/plain).
LONG_NUMBER = re.compile(r"\d*\.?\d{7,}|\d+\.\d*e", re.IGNORECASE)


def test_every_widget_carries_a_static_copy_for_readers_without_a_kernel(model):
    for css_class, built in all_widgets(model).items():
        bundle = built._repr_mimebundle_()
        text = bundle["text/plain"]
        assert text.splitlines()[0] == repr(built), css_class
        assert "run the notebook" in text, css_class
        assert not LONG_NUMBER.search(text), (css_class, LONG_NUMBER.search(text))
        shown = [record for record in built.out.outputs if "image/png" in record.get("data", {})]
        if shown:  # the picture the widget shows when displayed, and its text
            assert bundle["image/png"] == shown[0]["data"]["image/png"], css_class
            assert base64.b64decode(bundle["image/png"]).startswith(b"\x89PNG"), css_class
            assert built.out.outputs[0]["text"].rstrip("\n") in text, css_class
        else:
            assert "image/png" not in bundle, css_class
    assert "image/png" in all_widgets(model)["sampling-lab"]._repr_mimebundle_()


def test_a_quiz_shows_its_question_and_options_but_not_the_answer():
    built = quiz(
        "Which is flatter?", ["T = 2", "T = 0.5"], "T = 2", ["Right: dividing.", "No: sharper."]
    )
    text = built._repr_mimebundle_()["text/plain"]
    assert "Which is flatter?\n  (a) T = 2\n  (b) T = 0.5\n(pick one answer, then Check)" in text
    assert "Right" not in text
    assert "sharper" not in text
    number = utils.widgets.numeric_quiz("1/4 as a decimal?", 0.25, 0.001, "One quarter.")
    text = number._repr_mimebundle_()["text/plain"]
    assert "1/4 as a decimal?\n(type a number, within ±0.001, then Check)" in text
    assert "0.25" not in text
    assert "quarter" not in text


def test_outputs_are_one_text_record_and_one_png(model):
    for built in all_widgets(model).values():
        if isinstance(built, utils.widgets.Quiz) or built.state.get("step") == 0:
            continue
        kinds = [o["output_type"] for o in built.out.outputs]
        assert kinds == ["stream", "display_data"], (built, kinds)
        png_of(built)


# --- score explorer ------------------------------------------------------------------------------
def test_score_state_by_hand():
    state = score_state(TOKENS, LOGITS)
    exp = np.exp(LOGITS)
    np.testing.assert_allclose(state["exp_scores"], exp)
    assert state["normalizer"] == pytest.approx(exp.sum())
    assert state["log_normalizer"] == pytest.approx(math.log(exp.sum()))
    np.testing.assert_allclose(state["probs"], exp / exp.sum())
    assert state["entropy"] == pytest.approx(-(exp / exp.sum() * np.log(exp / exp.sum())).sum())
    assert state["max_entropy"] == pytest.approx(math.log(3))
    assert state["message"] == ""


def test_score_state_renormalizes_over_the_candidate_subset():
    state = score_state(TOKENS, LOGITS, [True, False, True])
    expected = np.exp([2.0, 0.1]) / np.exp([2.0, 0.1]).sum()
    np.testing.assert_allclose(state["probs"], [expected[0], 0.0, expected[1]])
    assert state["normalizer"] == pytest.approx(np.exp([2.0, 0.1]).sum())
    assert state["max_entropy"] == pytest.approx(math.log(2))


def test_score_state_all_but_one_masked_is_certain():
    state = score_state(TOKENS, LOGITS, [False, False, True])
    np.testing.assert_array_equal(state["probs"], [0.0, 0.0, 1.0])
    assert state["entropy"] == 0.0
    assert state["max_entropy"] == 0.0


def test_score_state_with_no_candidate_explains_instead_of_failing():
    state = score_state(TOKENS, LOGITS, [False, False, False])
    assert state["probs"] is None
    assert state["normalizer"] is None
    assert "No candidate is ticked" in state["message"]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-30, 30), min_size=1, max_size=8).flatmap(
        lambda scores: st.tuples(
            st.just(scores), st.lists(st.booleans(), min_size=len(scores), max_size=len(scores))
        )
    )
)
def test_score_state_is_softmax_over_the_subset(scores_and_subset):
    scores, subset = scores_and_subset
    tokens = [f"t{i}" for i in range(len(scores))]
    state = score_state(tokens, scores, np.array(subset, dtype=bool))
    if not any(subset):
        assert state["probs"] is None
        return
    chosen = np.flatnonzero(subset)
    expected = np.zeros(len(scores))
    expected[chosen] = scipy.special.softmax(np.asarray(scores)[chosen])
    np.testing.assert_allclose(state["probs"], expected, atol=1e-12)
    assert state["log_normalizer"] == pytest.approx(
        scipy.special.logsumexp(np.asarray(scores)[chosen])
    )
    assert 0 <= state["entropy"] <= state["max_entropy"] + 1e-12


@pytest.mark.parametrize(
    ("tokens", "scores", "error", "words"),
    [
        ("cat", [1.0], TypeError, "list of token strings"),
        ([], [], ValueError, "empty"),
        (["a", "a"], [1.0, 2.0], ValueError, "distinct"),
        (["a", 3], [1.0, 2.0], TypeError, "strings"),
        (["a", "b"], [1.0], ValueError, "one score per token"),
        (["a", "b"], [1.0, float("nan")], ValueError, "finite"),
        (["a", "b"], ["x", "y"], TypeError, "real numbers"),
    ],
)
def test_score_state_rejects_bad_input_clearly(tokens, scores, error, words):
    with pytest.raises(error, match=words):
        score_state(tokens, scores)


def test_score_state_rejects_a_bad_mask():
    with pytest.raises(ValueError, match="one True/False per token"):
        score_state(TOKENS, LOGITS, [1, 0, 1])


def test_score_explorer_sliders_move_the_distribution():
    explorer = score_explorer(TOKENS, LOGITS)
    assert list(explorer.sliders) == TOKENS
    assert [s.description for s in explorer.sliders.values()] == TOKENS
    before_png, before_text = png_of(explorer), text_of(explorer)
    assert "0.6590" in before_text
    assert "entropy H = 0.8" in before_text

    explorer.sliders["bird"].value = 2.0

    np.testing.assert_allclose(explorer.state["scores"], [2.0, 1.0, 2.0])
    np.testing.assert_allclose(explorer.state["probs"], scipy.special.softmax([2.0, 1.0, 2.0]))
    assert explorer.state["probs"][2] == pytest.approx(explorer.state["probs"][0])
    assert text_of(explorer) != before_text
    assert png_of(explorer) != before_png
    assert f"{explorer.state['normalizer']:.5g}" in text_of(explorer)


def test_score_explorer_slider_range_and_clamping():
    explorer = score_explorer(TOKENS, LOGITS)
    slider = explorer.sliders["cat"]
    assert slider.min == -5
    assert slider.max == 7
    assert not slider.continuous_update
    slider.value = 1000  # ipywidgets clamps to the range
    assert explorer.state["scores"][0] == 7


def test_score_explorer_subset_toggle_down_to_nothing_and_back():
    explorer = score_explorer(TOKENS, LOGITS)
    explorer.checkboxes["cat"].value = False
    np.testing.assert_allclose(explorer.state["probs"][1:], scipy.special.softmax([1.0, 0.1]))
    assert "(not a candidate)" in text_of(explorer)
    explorer.checkboxes["dog"].value = False  # all but one masked
    np.testing.assert_array_equal(explorer.state["probs"], [0.0, 0.0, 1.0])
    assert "entropy H = 0.0000" in text_of(explorer)
    explorer.checkboxes["bird"].value = False  # nothing left: a message, no chart, no error
    assert explorer.state["probs"] is None
    assert len(explorer.out.outputs) == 1
    assert "Tick at least one token" in text_of(explorer)
    explorer.checkboxes["dog"].value = True
    np.testing.assert_array_equal(explorer.state["probs"], [0.0, 1.0, 0.0])
    png_of(explorer)


def test_score_explorer_starts_from_a_mask_and_can_hide_the_toggle():
    explorer = score_explorer(TOKENS, LOGITS, mask=[True, True, False], subset_toggle=False)
    assert explorer.state["probs"][2] == 0.0
    assert not any(box in explorer.widget.children for box in explorer.checkboxes.values())


def test_score_explorer_refuses_too_many_sliders():
    tokens = [f"t{i}" for i in range(13)]
    with pytest.raises(ValueError, match="too many"):
        score_explorer(tokens, np.zeros(13))


# --- overflow explorer ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("dtype", "safe_scale", "broken_scale"),
    # exp overflows above log(max): 11.09 (float16), 88.72 (float32), 709.78 (float64);
    # the largest score is 2.0.
    [("float16", 5.5, 5.6), ("float32", 44.3, 44.4), ("float64", 354.8, 355.0)],
)
def test_overflow_state_breaks_exactly_where_exp_overflows(dtype, safe_scale, broken_scale):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the explorer shows overflow, it must not warn
        safe = overflow_state(LOGITS, safe_scale, dtype)
        broken = overflow_state(LOGITS, broken_scale, dtype)
    assert safe["naive_ok"]
    assert safe["scores_ok"]
    assert safe["max_abs_difference"] < 1e-2
    assert "agree" in safe["message"]
    assert not broken["naive_ok"]
    assert broken["scores_ok"]
    assert np.isinf(broken["exp_scores"][0])
    assert np.isnan(broken["naive"][0])
    assert "inf / inf = NaN" in broken["message"]
    assert broken["stable"].dtype == np.dtype(dtype)
    reference = scipy.special.softmax(np.asarray(LOGITS) * broken_scale)
    np.testing.assert_allclose(broken["stable"].astype(float), reference, atol=2e-3)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-5, 5), min_size=2, max_size=6),
    st.floats(1, 1000),
    st.sampled_from(["float16", "float32", "float64"]),
)
def test_overflow_state_stable_is_finite_whenever_the_scores_are(logits, scale, dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        state = overflow_state(logits, scale, dtype)
    if state["scores_ok"]:
        assert np.isfinite(state["stable"]).all()
        assert float(state["stable"].astype(np.float64).sum()) == pytest.approx(1, abs=2e-3)
    # naive fails exactly when an exp or their sum overflows, or every exp underflows
    with np.errstate(all="ignore"):
        exps = np.exp(state["scaled"])
        total = exps.sum()
    assert state["naive_ok"] == bool(np.isfinite(exps).all() and np.isfinite(total) and total > 0)


def test_overflow_state_scores_that_overflow_the_dtype_itself():
    state = overflow_state(LOGITS, 1e5, "float16")  # 2e5 > 65504
    assert not state["scores_ok"]
    assert np.isinf(state["scaled"][0])
    assert np.isnan(state["stable"]).all()
    assert "overflow float16" in state["message"]


def test_overflow_state_sum_overflow_gives_probabilities_summing_to_zero():
    # exp(10.9) = 54176 fits in float16, the sum of two of them does not.
    state = overflow_state([10.9, 10.9], 1.0, "float16")
    assert np.isfinite(state["exp_scores"]).all()
    assert np.isinf(state["exp_sum"])
    np.testing.assert_array_equal(state["naive"], [0.0, 0.0])
    assert not state["naive_ok"]
    assert "add up to 0" in state["message"]
    np.testing.assert_allclose(state["stable"].astype(float), [0.5, 0.5])


def test_overflow_state_underflow_gives_zero_over_zero():
    state = overflow_state([-2.0, -1.0], 1000.0, "float32")
    assert not state["naive_ok"]
    assert "underflows to 0" in state["message"]
    np.testing.assert_allclose(state["stable"], [0.0, 1.0])


@pytest.mark.parametrize(
    ("arguments", "error", "words"),
    [
        ((LOGITS, 1.0, "float8"), ValueError, "dtype must be one of"),
        ((LOGITS, 0.0, "float32"), ValueError, "positive finite"),
        ((LOGITS, "big", "float32"), TypeError, "scale must be a number"),
        (([[1.0]], 1.0, "float32"), ValueError, "1-D"),
    ],
)
def test_overflow_state_rejects_bad_input(arguments, error, words):
    with pytest.raises(error, match=words):
        overflow_state(*arguments)


def test_overflow_explorer_controls():
    explorer = overflow_explorer()
    assert explorer.scale.min == 0
    assert explorer.scale.max == 3
    assert explorer.dtype.options == ("float16", "float32", "float64")
    assert explorer.state["naive_ok"]
    assert "<-" not in text_of(explorer)
    healthy_png = png_of(explorer)

    explorer.dtype.value = "float16"
    explorer.scale.value = 10.0

    assert explorer.state["dtype"] == "float16"
    assert not explorer.state["naive_ok"]
    text = text_of(explorer)
    assert "inf  <-" in text
    assert "nan  <-" in text
    assert "65504" in text
    description = explorer.out.outputs[1]["data"]["text/plain"]
    assert "naive is not finite for cat: nan" in description
    assert png_of(explorer) != healthy_png
    explorer.dtype.value = "float64"
    assert explorer.state["naive_ok"]


# --- temperature explorer ------------------------------------------------------------------------
def test_temperature_state_matches_softmax_and_its_limits():
    state = temperature_state(LOGITS, 2.0)
    np.testing.assert_allclose(state["probs"], scipy.special.softmax(np.asarray(LOGITS) / 2))
    assert state["max_entropy"] == pytest.approx(math.log(3))
    np.testing.assert_array_equal(state["cold_limit"], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(state["hot_limit"], [1 / 3] * 3)


def test_temperature_state_ties_share_the_cold_limit():
    state = temperature_state([1.0, 3.0, 3.0], 0.01)
    np.testing.assert_allclose(state["cold_limit"], [0.0, 0.5, 0.5])
    np.testing.assert_allclose(state["probs"], [0.0, 0.5, 0.5], atol=1e-12)


def test_entropy_curve_rises_from_zero_to_log_v():
    curve = entropy_curve(LOGITS, np.logspace(-2, 2, 50))
    assert np.all(np.diff(curve) > 0)
    assert curve[0] < 1e-6
    assert curve[-1] == pytest.approx(math.log(3), abs=1e-3)


def test_temperature_explorer_at_its_minimum_and_maximum():
    explorer = temperature_explorer(TOKENS, LOGITS)
    assert explorer.temperature.base == 10
    assert explorer.state["temperature"] == 1.0
    explorer.temperature.value = 1e-9  # clamped to the slider's minimum, 0.01
    assert explorer.state["temperature"] == pytest.approx(0.01)
    assert explorer.state["probs"][0] > 1 - 1e-12
    assert explorer.state["entropy"] < 1e-9
    assert "T = 0.01" in text_of(explorer)
    explorer.temperature.value = 1e9  # clamped to 100
    assert explorer.state["temperature"] == pytest.approx(100)
    assert explorer.state["entropy"] == pytest.approx(math.log(3), abs=2e-4)
    assert "log 3 = 1.0986" in text_of(explorer)


def test_temperature_explorer_redraws_on_every_step():
    explorer = temperature_explorer(TOKENS, LOGITS)
    first = png_of(explorer)
    explorer.temperature.value = 10**0.05  # one arrow-key step
    assert explorer.state["temperature"] == pytest.approx(1.122, abs=1e-3)
    assert png_of(explorer) != first


@pytest.mark.parametrize("temperature", [0.0, -1.0, 1000.0])
def test_temperature_explorer_rejects_a_bad_start(temperature):
    with pytest.raises(ValueError, match="temperature"):
        temperature_explorer(TOKENS, LOGITS, temperature=temperature)


# --- sampling lab --------------------------------------------------------------------------------
def test_sampling_state_kept_set_matches_the_course_filters():
    logits = np.log([0.5, 0.3, 0.1, 0.1])
    state = sampling_state(logits, top_p=0.8, seed=1, samples=2000)
    assert state["kept"].tolist() == [True, True, False, False]  # 0.5 + 0.3 reaches 0.8
    np.testing.assert_allclose(state["renormalized"], [0.625, 0.375, 0, 0])
    assert state["kept_mass"] == pytest.approx(0.8)
    assert set(np.unique(state["draws"])) <= {0, 1}
    assert state["counts"].sum() == 2000
    assert state["frequencies"].sum() == pytest.approx(1)


def test_sampling_state_top_p_one_keeps_everything():
    logits = np.log([0.5, 0.3, 0.1, 0.1])
    state = sampling_state(logits, top_p=1.0, samples=10)
    assert state["kept"].all()
    np.testing.assert_allclose(state["renormalized"], state["probs"])


def test_sampling_state_top_k_one_is_greedy():
    state = sampling_state(LOGITS, top_k=1, temperature=5.0, samples=500)
    assert state["kept"].tolist() == [True, False, False]
    assert (state["draws"] == 0).all()


def test_sampling_state_seeded_and_close_to_the_distribution():
    first = sampling_state(LOGITS, seed=7, samples=10000)
    again = sampling_state(LOGITS, seed=7, samples=10000)
    other = sampling_state(LOGITS, seed=8, samples=10000)
    np.testing.assert_array_equal(first["draws"], again["draws"])
    assert not np.array_equal(first["draws"], other["draws"])
    assert first["total_variation"] < 0.02
    # the draws are sample_next_token's, row by row, with the same generator
    rng = np.random.default_rng(7)
    direct = utils.sample_next_token(np.tile(LOGITS, (10000, 1)), rng)
    np.testing.assert_array_equal(first["draws"], direct)


def test_sampling_state_temperature_scales_before_filtering():
    state = sampling_state(LOGITS, temperature=0.5, samples=10)
    np.testing.assert_allclose(state["probs"], scipy.special.softmax(np.asarray(LOGITS) / 0.5))


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"temperature": 0}, ValueError, "greedy"),
        ({"top_k": 0}, ValueError, ">= 1"),
        ({"top_p": 1.5}, ValueError, "p must be"),
        ({"seed": -1}, ValueError, "seed"),
        ({"samples": 0}, ValueError, "samples"),
        ({"samples": 2.5}, TypeError, "samples"),
    ],
)
def test_sampling_state_rejects_bad_settings(kwargs, error, words):
    with pytest.raises(error, match=words):
        sampling_state(LOGITS, **kwargs)


def test_sampling_lab_on_the_tiny_model(model):
    lab = sampling_lab(model, context="the cat", samples=1000)
    vocab_size = len(model.vocab)
    np.testing.assert_allclose(lab.state["probs"], model.next_token_probs("the cat"))
    assert lab.state["kept_count"] == vocab_size  # no filter yet
    assert lab.top_k.max == vocab_size
    first_png = png_of(lab)

    lab.top_p.value = 0.5
    assert lab.state["kept_tokens"] == ["sat", "slept"]
    assert "kept 2 of 78 tokens" in text_of(lab)
    assert set(np.unique(lab.state["draws"])) <= {
        model.vocab.index("sat"),
        model.vocab.index("slept"),
    }
    assert png_of(lab) != first_png

    lab.top_p.value = 1.0  # 1 = off
    lab.top_k.value = 1
    assert lab.state["top_p"] is None
    assert lab.state["kept_tokens"] == ["sat"]
    lab.top_k.value = 0  # 0 = off
    lab.temperature.value = 0.0  # clamped to the slider's minimum 0.1
    assert lab.state["temperature"] == pytest.approx(0.1)
    assert lab.state["probs"].max() > 0.9

    lab.samples.value = 10
    lab.seed.value = 3
    assert lab.state["samples"] == 10
    assert lab.state["seed"] == 3
    assert "10 draws with seed 3" in text_of(lab)


def test_sampling_lab_explains_an_unknown_word_and_recovers(model):
    lab = sampling_lab(model, context="the cat", samples=10)
    lab.context.value = "the cta"
    assert "unknown word 'cta'" in lab.state["error"]
    assert "'cat'" in lab.state["error"]
    assert len(lab.out.outputs) == 1
    assert "unknown word" in text_of(lab)
    lab.context.value = "the dog"
    assert lab.state["error"] == ""
    assert lab.state["context"] == "the dog"
    png_of(lab)


def test_sampling_lab_rejects_bad_starting_values(model):
    with pytest.raises(ValueError, match="samples must be one of"):
        sampling_lab(model, samples=7)
    with pytest.raises(ValueError, match="top_k must be"):
        sampling_lab(model, top_k=1000)
    with pytest.raises(TypeError, match="model must be"):
        sampling_lab(model="gpt2")


# --- beam search stepper -------------------------------------------------------------------------
def test_beam_stepper_state_walks_beam_search(model):
    arguments = {"beam_width": 2, "max_new_tokens": 3}
    start = beam_stepper_state(model, "the cat", step=0, **arguments)
    assert start["rows"] == []
    assert not start["done"]
    assert start["total_steps"] == 3
    first = beam_stepper_state(model, "the cat", step=1, **arguments)
    assert [row["token"] for row in first["rows"]] == ["sat", "slept", "chased", "was"]
    assert [row["status"] for row in first["rows"]] == ["kept", "kept", "dropped", "dropped"]
    assert [row["greedy"] for row in first["rows"]] == [True, False, False, False]
    logp = np.log(model.next_token_probs("the cat"))
    assert first["rows"][1]["log_prob"] == pytest.approx(logp[model.vocab.index("slept")])
    last = beam_stepper_state(model, "the cat", step=99, **arguments)
    assert last["step"] == 3
    assert last["done"]
    expected = utils.beam_search(model, "the cat", **arguments)[0]
    assert last["best"].text == expected.text
    assert last["best"].score == expected.score
    assert last["greedy"].text == utils.greedy_decode(model, "the cat", 3).text


def test_beam_search_stepper_next_and_reset(model):
    stepper = beam_search_stepper(model, "the cat", beam_width=2, max_new_tokens=3)
    assert stepper.state["step"] == 0
    assert len(stepper.out.outputs) == 1
    assert "Press Next" in text_of(stepper)
    stepper.next_button.click()
    assert stepper.state["step"] == 1
    text = text_of(stepper)
    assert "the cat sat" in text
    assert "<- greedy path" in text
    assert "dropped" in text
    tree = png_of(stepper)
    stepper.next_button.click()
    assert png_of(stepper) != tree
    stepper.next_button.click()
    assert stepper.state["done"]
    assert stepper.next_button.disabled
    assert "Done. Best: 'the cat slept soundly </s>'" in text_of(stepper)
    assert "beam search found a better sequence than greedy decoding" in text_of(stepper)
    stepper.next_button.click()  # nothing left to do: stays done
    assert stepper.state["step"] == 3
    stepper.reset_button.click()
    assert stepper.state["step"] == 0
    assert not stepper.next_button.disabled


def test_beam_search_stepper_width_one_is_greedy(model):
    stepper = beam_search_stepper(model, "the cat", beam_width=3, max_new_tokens=3)
    stepper.next_button.click()
    stepper.beam_width.value = 1  # a control change starts over
    assert stepper.state["step"] == 0
    for _ in range(3):
        stepper.next_button.click()
    assert stepper.state["best"].text == stepper.state["greedy"].text
    assert "greedy decoding found the same best score" in text_of(stepper)


def test_beam_search_stepper_explains_a_bad_prefix(model):
    stepper = beam_search_stepper(model, "the cat")
    stepper.prefix.value = "the zebra"
    assert "unknown word 'zebra'" in stepper.state["error"]
    assert stepper.next_button.disabled
    stepper.next_button.click()  # disabled in the browser; harmless from code
    stepper.prefix.value = "a dog"
    assert stepper.state["error"] == ""
    assert not stepper.next_button.disabled


def test_beam_search_stepper_rejects_bad_starting_values(model):
    with pytest.raises(ValueError, match="beam_width"):
        beam_search_stepper(model, beam_width=0)
    with pytest.raises(ValueError, match="length_penalty"):
        beam_search_stepper(model, length_penalty=3.0)
    with pytest.raises(TypeError, match="prefix must be a str"):
        beam_search_stepper(model, prefix=[1, 2])


# --- quizzes -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("selected", "correct", "multiple", "status"),
    [
        (set(), {0}, False, "unanswered"),
        ({0}, {0}, False, "correct"),
        ({1}, {0}, False, "incorrect"),
        ({0, 2}, {0, 2}, True, "correct"),
        ({0}, {0, 2}, True, "partial"),
        ({0, 1}, {0, 2}, True, "incorrect"),
        ({1}, {0, 2}, True, "incorrect"),
    ],
)
def test_grade_choice(selected, correct, multiple, status):
    assert grade_choice(selected, correct, multiple=multiple).status == status


@pytest.mark.parametrize(
    ("typed", "status"),
    [
        ("", "unanswered"),
        ("   ", "unanswered"),
        ("abc", "invalid"),
        ("1/0", "invalid"),
        ("inf", "invalid"),
        ("0.6667", "correct"),
        ("2/3", "correct"),
        ("0.657", "correct"),  # exactly at the tolerance's edge... within 0.01
        ("0.65", "too_low"),
        ("0.7", "too_high"),
        ("−0.5", "too_low"),  # a typographic minus sign
    ],
)
def test_grade_number(typed, status):
    assert grade_number(typed, 2 / 3, 0.01).status == status


def test_parse_number():
    assert parse_number(" 1e-3 ") == 0.001
    assert parse_number("3/4") == 0.75
    assert parse_number("") is None
    assert parse_number("three") is None


def test_quiz_single_answer_flow():
    question = quiz(
        "Adding 5 to every score ...",
        ["changes nothing", "sharpens", "adds </s>"],
        correct="changes nothing",
        explanations=["Shift-invariant: `softmax(z + c) = softmax(z)`.", "No.", "Never <s>."],
    )
    assert question.options.value is None
    assert question.checkboxes == []
    question.check_button.click()
    assert question.state["status"] == "unanswered"
    assert question.state["attempts"] == 0
    assert "Choose an answer first" in text_of(question)
    question.options.value = "sharpens"
    question.check_button.click()
    assert question.state["status"] == "incorrect"
    assert question.state["attempts"] == 1
    text = text_of(question)
    assert "sharpens: not right (your choice). No." in text
    assert "changes nothing: right answer." in text  # every option is explained after Check
    assert text.count("✔") == 1
    assert text.count("✘") == 2
    markup = question.out.outputs[0]["data"]["text/html"]
    assert "&lt;/s&gt;" in markup
    assert "<code>softmax(z + c) = softmax(z)</code>" in markup
    question.options.value = "changes nothing"
    question.check_button.click()
    assert question.state == {
        "selected": ["changes nothing"],
        "status": "correct",
        "attempts": 2,
        "checked": True,
        "message": "Correct!",
    }


def test_quiz_several_answers():
    question = quiz(
        "Which keep the argmax?",
        ["temperature 0.5", "top-k 1", "adding noise"],
        correct=["temperature 0.5", "top-k 1"],
        explanations={
            "temperature 0.5": "Order kept.",
            "top-k 1": "Only it.",
            "adding noise": "No.",
        },
        multiple=True,
    )
    assert question.options is None
    assert len(question.checkboxes) == 3
    question.checkboxes[0].value = True
    question.check_button.click()
    assert question.state["status"] == "partial"
    question.checkboxes[2].value = True
    question.check_button.click()
    assert question.state["status"] == "incorrect"
    assert "1 wrong one" in question.state["message"]
    question.checkboxes[2].value = False
    question.checkboxes[1].value = True
    question.check_button.click()
    assert question.state["status"] == "correct"
    assert question.state["selected"] == ["temperature 0.5", "top-k 1"]


def test_quiz_accepts_an_index_for_the_right_answer():
    question = quiz("Q?", ["a", "b"], 1, ["no", "yes"])
    question.options.value = "b"
    question.check_button.click()
    assert question.state["status"] == "correct"


@pytest.mark.parametrize(
    ("arguments", "kwargs", "error", "words"),
    [
        (("Q?", ["a"], "a", ["x"]), {}, ValueError, "at least two"),
        (("Q?", ["a", "a"], "a", ["x", "y"]), {}, ValueError, "distinct"),
        (("Q?", ["a", "b"], "c", ["x", "y"]), {}, ValueError, "not one of the options"),
        (("Q?", ["a", "b"], 2, ["x", "y"]), {}, ValueError, "out of range"),
        (("Q?", ["a", "b"], ["a", "b"], ["x", "y"]), {}, TypeError, "multiple=True"),
        (("Q?", ["a", "b"], "a", ["x"]), {}, ValueError, "one explanation per option"),
        (("Q?", ["a", "b"], "a", {"a": "x"}), {}, ValueError, "missing"),
        (("Q?", ["a", "b"], "a", "x"), {}, TypeError, "explanations must be"),
        (("", ["a", "b"], "a", ["x", "y"]), {}, TypeError, "question"),
        (("Q?", ["a", "b"], [], ["x", "y"]), {"multiple": True}, ValueError, "empty"),
    ],
)
def test_quiz_rejects_bad_definitions(arguments, kwargs, error, words):
    with pytest.raises(error, match=words):
        quiz(*arguments, **kwargs)


def test_numeric_quiz_hints_then_reveals():
    question = numeric_quiz(
        "P(first) for softmax([0, 0])?", 0.5, 0.01, "Equal scores, equal shares."
    )
    assert "numeric-quiz" in question.widget._dom_classes
    assert "quiz" in question.widget._dom_classes
    question.check_button.click()
    assert question.state["status"] == "unanswered"
    question.answer_box.value = "half"
    question.check_button.click()
    assert question.state["status"] == "invalid"
    assert question.state["attempts"] == 0
    for attempt, typed in enumerate(["0.4", "0.6"], start=1):
        question.answer_box.value = typed
        question.check_button.click()
        assert question.state["attempts"] == attempt
        assert not question.state["revealed"]
        assert "Equal scores" not in text_of(question)
    assert "too high" in text_of(question)
    question.answer_box.value = "0.9"
    question.check_button.click()  # third wrong attempt: the answer is shown
    assert question.state["revealed"]
    assert "The answer is 0.5. Equal scores, equal shares." in text_of(question)
    question.answer_box.value = "1/2"
    question.check_button.click()
    assert question.state["status"] == "correct"


@pytest.mark.parametrize(
    ("arguments", "error", "words"),
    [
        (("Q?", "0.5", 0.01, "x"), TypeError, "answer must be a number"),
        (("Q?", 0.5, -0.1, "x"), ValueError, "tolerance must be >= 0"),
        (("Q?", float("nan"), 0.1, "x"), ValueError, "finite"),
        (("Q?", 0.5, 0.1, ""), TypeError, "explanation"),
    ],
)
def test_numeric_quiz_rejects_bad_definitions(arguments, error, words):
    with pytest.raises(error, match=words):
        numeric_quiz(*arguments)


def test_the_beam_display_tells_finished_from_length_limited_hypotheses(model):
    # BeamStep.finished holds, at the last step, live beams cut off by max_new_tokens too:
    # the display must not call them finished.
    state = beam_stepper_state(model, "the cat", beam_width=3, max_new_tokens=3, step=3)
    ended = [h for h in state["finished"] if not h.finished]
    assert ended, "the case needs a hypothesis cut off by the length limit"
    assert any(h.finished for h in state["finished"])
    text = utils.widgets.decoding.format_beam_state(state)
    assert "finished so far" not in text
    listed = text.split("out of the search so far (best score first):\n")[1]
    for hypothesis in state["finished"]:
        status = "finished (</s>)" if hypothesis.finished else "ended (length limit)"
        assert f"{hypothesis.text!r}: log p {hypothesis.log_prob:.3f}" in listed
        assert re.search(re.escape(repr(hypothesis.text)) + r".*" + re.escape(status), listed)
