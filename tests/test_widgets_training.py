"""utils.widgets.training without a kernel: gradient_step_state, then the GradientExplorer.

Outside a kernel, ipywidgets uses a dummy comm: `button.click()` and setting
`.value` run the callbacks at once, and the explorer assigns `out.outputs`,
so its text and chart can be asserted here as a browser would receive them.
"""

from __future__ import annotations

import base64
import doctest
import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import utils
import utils.widgets.training
from utils.widgets import GradientExplorer, gradient_explorer, gradient_step_state

TOKENS = ["cat", "dog", "mat"]
LOGITS = [2.0, 1.0, 0.0]
PNG_MAGIC = b"\x89PNG"

finite_logits = st.lists(
    st.floats(min_value=-30, max_value=30, allow_nan=False), min_size=2, max_size=8
)


def hand_softmax(values):
    exponentials = [math.exp(value) for value in values]
    return [e / sum(exponentials) for e in exponentials]


def text_of(explorer) -> str:
    record = explorer.out.outputs[0]
    assert record["output_type"] == "stream"
    return record["text"]


def png_of(explorer) -> bytes:
    images = [o["data"]["image/png"] for o in explorer.out.outputs if "data" in o]
    assert len(images) == 1, explorer.out.outputs
    data = base64.b64decode(images[0])
    assert data[:4] == PNG_MAGIC
    return data


def test_docstring_examples_run():
    result = doctest.testmod(utils.widgets.training, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 3
    assert result.failed == 0


# --- gradient_step_state -------------------------------------------------------------------------
def test_state_at_step_zero_by_hand():
    state = gradient_step_state(LOGITS, 1, 1.0, 0)
    p = hand_softmax(LOGITS)  # e^2, e, 1 over their sum: 0.6652, 0.2447, 0.0900
    np.testing.assert_allclose(state["probs"], p, rtol=1e-12)
    np.testing.assert_allclose(state["gradient"], [p[0], p[1] - 1, p[2]], rtol=1e-12)
    np.testing.assert_allclose(state["gradient"], [0.6652, -0.7553, 0.0900], atol=5e-5)
    assert state["loss"] == pytest.approx(-math.log(p[1]), rel=1e-12)
    assert state["loss"] == pytest.approx(1.4076, abs=5e-5)
    np.testing.assert_array_equal(state["one_hot"], [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(state["logits"], LOGITS)
    assert state["losses"].tolist() == [state["loss"]]
    assert (state["step"], state["target"], state["learning_rate"]) == (0, 1, 1.0)


def test_one_step_with_learning_rate_one_by_hand():
    state = gradient_step_state(LOGITS, 1, 1.0, 1)
    p = hand_softmax(LOGITS)
    # z - (p - y): the target's logit rises by 1 - p, the others fall by their p.
    expected = [2.0 - p[0], 1.0 + (1 - p[1]), 0.0 - p[2]]
    np.testing.assert_allclose(state["logits"], expected, rtol=1e-12)
    new_p = hand_softmax(expected)
    np.testing.assert_allclose(state["probs"], new_p, rtol=1e-12)
    np.testing.assert_allclose(state["gradient"], np.array(new_p) - [0, 1, 0], rtol=1e-12)
    assert state["loss"] == pytest.approx(-math.log(new_p[1]), rel=1e-12)
    np.testing.assert_allclose(state["losses"], [-math.log(p[1]), -math.log(new_p[1])])
    np.testing.assert_array_equal(state["initial_logits"], LOGITS)
    assert state["step"] == 1


def test_steps_compose_and_scale_with_the_learning_rate():
    two = gradient_step_state(LOGITS, 0, 0.5, 2)
    one = gradient_step_state(LOGITS, 0, 0.5, 1)
    again = gradient_step_state(one["logits"], 0, 0.5, 1)
    np.testing.assert_allclose(two["logits"], again["logits"], rtol=1e-15)
    np.testing.assert_allclose(two["losses"], [*one["losses"], again["loss"]], rtol=1e-15)
    start = gradient_step_state(LOGITS, 0, 1.0, 0)
    np.testing.assert_allclose(one["logits"], np.array(LOGITS) - 0.5 * start["gradient"])


def test_input_is_not_changed_in_place():
    logits = np.array(LOGITS)
    gradient_step_state(logits, 2, 3.0, 4)
    np.testing.assert_array_equal(logits, LOGITS)


@settings(max_examples=40, deadline=None)
@given(finite_logits, st.data())
def test_gradient_sums_to_zero_so_the_logit_sum_is_kept(logits, data):
    target = data.draw(st.integers(0, len(logits) - 1))
    steps = data.draw(st.integers(0, 5))
    state = gradient_step_state(logits, target, 1.0, steps)
    assert abs(state["gradient"].sum()) < 1e-12
    assert state["logits"].sum() == pytest.approx(sum(logits), abs=1e-9)
    # Negative only at the target, positive elsewhere, each in [-1, 1].
    others = np.delete(state["gradient"], target)
    assert state["gradient"][target] <= 0
    assert (others >= 0).all()
    assert (np.abs(state["gradient"]) <= 1).all()


def test_the_most_probable_wrong_token_is_pushed_down_hardest():
    logits = [0.5, 3.0, 1.0, -2.0]  # target 0; "1" is the most probable wrong token
    start = gradient_step_state(logits, 0, 1.0, 0)
    after = gradient_step_state(logits, 0, 1.0, 1)
    change = after["logits"] - start["logits"]
    assert change[0] > 0
    assert int(np.argmin(change)) == 1
    np.testing.assert_allclose(change[1:], -start["probs"][1:])


def test_loss_decreases_monotonically_with_a_small_learning_rate():
    losses = gradient_step_state([1.0, 3.0, -1.0, 0.5], 2, 0.05, 60)["losses"]
    assert len(losses) == 61
    assert (np.diff(losses) < 0).all()


def test_steps_shrink_as_the_target_becomes_certain():
    state = gradient_step_state(LOGITS, 1, 1.0, 40)
    drops = -np.diff(state["losses"])
    assert drops[0] > 0.5
    assert drops[-1] < 1e-2 * drops[0]  # the curve flattens
    assert (np.diff(drops) <= 0).all()  # the drops shrink once p(target) leads
    assert state["probs"][1] > 0.97
    assert np.linalg.norm(state["gradient"]) < 0.05


@settings(max_examples=40, deadline=None)
@given(finite_logits, st.floats(min_value=0.01, max_value=10.0), st.data())
def test_with_one_target_every_step_widens_its_lead_whatever_the_learning_rate(
    logits, learning_rate, data
):
    # The target's logit rises by lr (1 - p_y), every other one falls by lr p_i: each margin
    # z_y - z_i grows, so -log p(target) never goes up. The course says so in lesson 07.
    target = data.draw(st.integers(0, len(logits) - 1))
    state = gradient_step_state(logits, target, learning_rate, 5)
    margins_before = logits[target] - np.array(logits)
    margins_after = state["logits"][target] - state["logits"]
    assert (margins_after >= margins_before - 1e-9).all()
    assert (np.diff(state["losses"]) <= 1e-12).all()


@pytest.mark.parametrize(
    ("logits", "target"),
    [(LOGITS, 1), ([0.3, -1.2, 2.5, 0.0, 1.1], 4), ([12.0, -7.0, 3.0], 1), ([0.0, 0.0], 0)],
)
def test_gradient_matches_central_finite_differences(logits, target):
    state = gradient_step_state(logits, target, 1.0, 0)
    step = 1e-5
    numeric = []
    for index in range(len(logits)):
        bump = np.zeros(len(logits))
        bump[index] = step
        up = gradient_step_state(np.array(logits) + bump, target, 1.0, 0)["loss"]
        down = gradient_step_state(np.array(logits) - bump, target, 1.0, 0)["loss"]
        numeric.append((up - down) / (2 * step))
    np.testing.assert_allclose(numeric, state["gradient"], atol=1e-8)


def test_a_target_with_a_large_margin_barely_moves():
    state = gradient_step_state([-40.0, 60.0, 0.0], 1, 10.0, 3)
    assert state["probs"][1] == pytest.approx(1.0, abs=1e-15)
    assert 0 <= state["loss"] < 1e-17
    assert (state["losses"] >= 0).all()
    # Within rounding of 1.0 (softmax multiplies by the reciprocal of the sum): one ulp.
    assert np.abs(state["gradient"]).max() <= np.finfo(np.float64).eps
    np.testing.assert_allclose(state["logits"], [-40.0, 60.0, 0.0], atol=1e-15)
    assert np.isfinite(state["logits"]).all()


def test_a_far_behind_target_has_a_finite_loss_and_a_full_gradient():
    state = gradient_step_state([900.0, -900.0], 1, 1.0, 0)  # p(target) underflows to 0
    assert state["loss"] == pytest.approx(1800.0)
    np.testing.assert_allclose(state["gradient"], [1.0, -1.0])


@pytest.mark.parametrize(
    ("arguments", "error", "words"),
    [
        (([[1.0, 2.0]], 0, 1.0, 1), ValueError, "logits must be a 1-D"),
        (([1.0, np.nan], 0, 1.0, 1), ValueError, "logits must be finite"),
        (([1.0, np.inf], 0, 1.0, 1), ValueError, "logits must be finite"),
        (([], 0, 1.0, 1), ValueError, "logits is empty"),
        ((["a", "b"], 0, 1.0, 1), TypeError, "logits must contain real numbers"),
        (([1.0, 2.0], 2, 1.0, 1), ValueError, "target 2 is out of range"),
        (([1.0, 2.0], -1, 1.0, 1), ValueError, "target -1 is out of range"),
        (([1.0, 2.0], 1.0, 1.0, 1), TypeError, "target must be the index"),
        (([1.0, 2.0], True, 1.0, 1), TypeError, "target must be the index"),
        (([1.0, 2.0], "b", 1.0, 1), TypeError, "target must be the index"),
        (([1.0, 2.0], 0, 0.0, 1), ValueError, "learning_rate must be a positive finite"),
        (([1.0, 2.0], 0, -0.1, 1), ValueError, "learning_rate must be a positive finite"),
        (([1.0, 2.0], 0, np.nan, 1), ValueError, "learning_rate must be a positive finite"),
        (([1.0, 2.0], 0, np.inf, 1), ValueError, "learning_rate must be a positive finite"),
        (([1.0, 2.0], 0, "1", 1), TypeError, "learning_rate must be a number"),
        (([1.0, 2.0], 0, 1.0, -1), ValueError, "steps must be >= 0"),
        (([1.0, 2.0], 0, 1.0, 1.5), TypeError, "steps must be a whole number"),
        (([1.0, 2.0], 0, 1.0, False), TypeError, "steps must be a whole number"),
    ],
)
def test_bad_input_is_rejected_naming_the_argument(arguments, error, words):
    with pytest.raises(error, match=re.escape(words)):
        gradient_step_state(*arguments)


def test_numpy_integers_are_accepted():
    state = gradient_step_state(np.array([1, 2, 3]), np.int64(0), np.float32(0.5), np.int32(2))
    assert (state["target"], state["step"], state["learning_rate"]) == (0, 2, 0.5)
    assert state["logits"].dtype == np.float64


# --- the explorer --------------------------------------------------------------------------------
def test_explorer_starts_at_step_zero_and_displays_stably():
    explorer = gradient_explorer(TOKENS, LOGITS, 1)
    assert isinstance(explorer, GradientExplorer)
    assert explorer.state["step"] == 0
    assert [o["output_type"] for o in explorer.out.outputs] == ["stream", "display_data"]
    png_of(explorer)
    text = text_of(explorer)
    assert "loss -log p(dog) = 1.4076" in text
    assert "sum of p - y = 0.0000" in text
    assert re.search(r"dog\s+1\.0000\s+0\.2447\s+1\s+-0\.7553\s+<- target", text), text
    assert re.search(r"cat\s+2\.0000\s+0\.6652\s+0\s+0\.6652\n", text), text
    assert "cat, the most probable wrong token, falls the most (by 0.6652)" in text
    bundle = explorer._repr_mimebundle_()
    assert bundle["text/plain"].splitlines()[0] == "GradientExplorer(tokens=['cat', 'dog', 'mat'])"
    assert "loss -log p(dog) = 1.4076" in bundle["text/plain"]
    assert bundle["image/png"] == explorer.out.outputs[1]["data"]["image/png"]
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"]
    assert "gradient-explorer" in explorer.widget._dom_classes
    assert "course-output" in explorer.out._dom_classes
    assert [label for label, _ in explorer.target.options] == TOKENS
    assert explorer.target.value == 1


def test_ipython_displays_the_explorer_when_a_cell_ends_on_it():
    from IPython.core.formatters import DisplayFormatter

    data, _metadata = DisplayFormatter().format(gradient_explorer(TOKENS, LOGITS, 1))
    assert "application/vnd.jupyter.widget-view+json" in data
    assert not re.search(r"at 0x[0-9a-f]+", data["text/plain"])


def test_step_button_steps_and_reset_returns_to_the_start():
    explorer = gradient_explorer(TOKENS, LOGITS, 1)
    first_png = png_of(explorer)
    explorer.step_button.click()
    expected = gradient_step_state(LOGITS, 1, 1.0, 1)
    assert explorer.state["step"] == 1
    np.testing.assert_array_equal(explorer.state["logits"], expected["logits"])
    text = text_of(explorer)
    assert f"loss -log p(dog) = {expected['loss']:.4f}" in text
    assert "step 1" in text
    assert png_of(explorer) != first_png
    explorer.step_button.click()
    explorer.step_button.click()
    assert explorer.state["step"] == 3
    np.testing.assert_array_equal(
        explorer.state["losses"], gradient_step_state(LOGITS, 1, 1.0, 3)["losses"]
    )
    explorer.reset_button.click()
    assert explorer.state["step"] == 0
    np.testing.assert_array_equal(explorer.state["logits"], LOGITS)
    assert "loss -log p(dog) = 1.4076" in text_of(explorer)
    assert png_of(explorer) == first_png  # the same picture as at the start


def test_changing_the_target_or_the_learning_rate_restarts_at_step_zero():
    explorer = gradient_explorer(TOKENS, LOGITS, "dog")
    explorer.step_button.click()
    explorer.step_button.click()
    explorer.target.value = 2  # "mat"
    assert (explorer.state["step"], explorer.state["target"]) == (0, 2)
    assert "loss -log p(mat) = 2.4076" in text_of(explorer)
    explorer.step_button.click()
    assert explorer.state["step"] == 1
    explorer.learning_rate.value = 0.1
    assert explorer.state["step"] == 0
    assert explorer.state["learning_rate"] == pytest.approx(0.1)
    explorer.step_button.click()
    expected = gradient_step_state(LOGITS, 2, explorer.learning_rate.value, 1)
    np.testing.assert_allclose(explorer.state["logits"], expected["logits"])
    assert f"loss -log p(mat) = {expected['loss']:.4f}" in text_of(explorer)


@pytest.mark.parametrize("learning_rate", [0.01, 10.0])
def test_learning_rate_at_the_ends_of_the_slider(learning_rate):
    explorer = gradient_explorer(TOKENS, LOGITS, 1)
    explorer.learning_rate.value = learning_rate
    assert explorer.learning_rate.value == pytest.approx(learning_rate)
    for _ in range(3):
        explorer.step_button.click()
    expected = gradient_step_state(LOGITS, 1, learning_rate, 3)
    np.testing.assert_allclose(explorer.state["losses"], expected["losses"], rtol=1e-12)
    assert f"learning rate {learning_rate:.3g}, step 3" in text_of(explorer)
    png_of(explorer)
    # Past either end the slider clamps instead of leaving its range.
    explorer.learning_rate.value = learning_rate * 100 if learning_rate > 1 else learning_rate / 100
    assert explorer.learning_rate.value == pytest.approx(learning_rate)


def test_the_slider_spans_a_hundredth_to_ten_in_keyboard_steps():
    slider = gradient_explorer(TOKENS, LOGITS, 1).learning_rate
    assert (slider.base, slider.min, slider.max) == (10, -2.0, 1.0)
    assert 0 < slider.step <= 0.25  # a few arrow-key presses per factor of 10
    assert slider.continuous_update is False


def test_explorer_with_a_nearly_certain_target():
    explorer = gradient_explorer(TOKENS, [-40.0, 60.0, 0.0], 1, learning_rate=10.0)
    explorer.step_button.click()
    assert explorer.state["probs"][1] == pytest.approx(1.0)
    text = text_of(explorer)
    assert "loss -log p(dog) = 0.0000" in text
    assert "sum of p - y = 0.0000" in text
    assert not re.search(r"(?<![\d.])-0\.0000", text), text  # no negative zeros
    png_of(explorer)


@pytest.mark.parametrize(
    ("arguments", "kwargs", "error", "words"),
    [
        (("cat", LOGITS, 1), {}, TypeError, "tokens must be a list"),
        ((TOKENS, [1.0, 2.0], 1), {}, ValueError, "logits has shape (2,)"),
        ((TOKENS, [1.0, np.nan, 0.0], 1), {}, ValueError, "logits must be finite"),
        ((TOKENS, LOGITS, 3), {}, ValueError, "target 3 is out of range"),
        ((TOKENS, LOGITS, "bird"), {}, ValueError, "target 'bird' is not one of the tokens"),
        ((TOKENS, LOGITS, 1.0), {}, TypeError, "target must be the index"),
        ((TOKENS, LOGITS, 1), {"learning_rate": 0.0}, ValueError, "learning_rate must be a"),
        ((TOKENS, LOGITS, 1), {"learning_rate": 20.0}, ValueError, "between 0.01 and 10"),
        ((TOKENS, LOGITS, 1), {"learning_rate": 0.001}, ValueError, "between 0.01 and 10"),
        (([f"t{i}" for i in range(21)], range(21), 1), {}, ValueError, "too many"),
    ],
)
def test_explorer_rejects_bad_starting_values(arguments, kwargs, error, words):
    with pytest.raises(error, match=re.escape(words)):
        gradient_explorer(*arguments, **kwargs)


def test_exported_from_utils_widgets():
    assert utils.widgets.gradient_explorer is gradient_explorer
    for name in ("GradientExplorer", "gradient_explorer", "gradient_step_state"):
        assert name in utils.widgets.__all__
        assert f"`{name}" in utils.widgets.__doc__ or name != "gradient_explorer"
