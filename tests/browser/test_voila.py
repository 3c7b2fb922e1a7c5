"""Each widget's behaviour in a real browser, through Voilà inside the same JupyterLab server.

One page renders the gallery notebook (every widget) once; each test drives
one widget with the keyboard, the readouts, clicks and typing, and compares
the page with what the pure functions compute in this process.
"""

from __future__ import annotations

import numpy as np
import pytest
from fixture_notebooks import (
    GRADIENT_LOGITS,
    GRADIENT_TARGET,
    GRADIENT_TOKENS,
    LAB_CONTEXT,
    SCORE_LOGITS,
    SCORE_TOKENS,
    TEMPERATURE_LOGITS,
    TEMPERATURE_TOKENS,
)
from jupyter_pages import chart_source, output, press, slider, type_value
from playwright.sync_api import expect

from utils import lm
from utils.widgets import (
    beam_stepper_state,
    gradient_step_state,
    sampling_state,
    score_state,
    temperature_state,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def gallery(browser, browser_context_args, lab_server, artifacts):
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(lab_server.url("voila/render/gallery.ipynb"))
    # Voilà runs the notebook before it shows anything: wait for the last widget.
    expect(page.locator(".numeric-quiz")).to_be_visible(timeout=90_000)
    yield page
    context.close()


@pytest.fixture
def page(gallery, capture_on_failure):
    capture_on_failure(gallery)
    return gallery


@pytest.fixture
def screenshot(artifacts):
    """screenshot(locator, name): the widget as the learner sees it, into test-artifacts/."""

    def take(locator, name: str):
        locator.page.mouse.click(1, 1)  # no focus ring
        locator.screenshot(path=artifacts / f"voila_{name}.png")

    return take


def test_score_explorer_keys_and_candidate_toggle(page, screenshot):
    explorer = page.locator(".score-explorer")
    out = output(explorer)
    expect(out).to_contain_text(f"{score_state(SCORE_TOKENS, SCORE_LOGITS)['probs'][0]:.4f}")
    image = chart_source(explorer)

    press(slider(explorer, "bird"), "ArrowRight", 9)  # 0.1 -> 1.0 in steps of 0.1

    expected = score_state(SCORE_TOKENS, [2.0, 1.0, 1.0])
    expect(out).to_contain_text(f"over the 3 candidate(s) = {expected['normalizer']:.5g}")
    expect(out).to_contain_text(f"bird 1.00 2.718 {expected['probs'][2]:.4f}")
    assert chart_source(explorer) != image

    boxes = explorer.locator(".widget-checkbox input")
    expect(boxes).to_have_count(3)
    boxes.nth(0).uncheck()
    subset = score_state(SCORE_TOKENS, [2.0, 1.0, 1.0], [False, True, True])
    expect(out).to_contain_text(f"dog 1.00 2.718 {subset['probs'][1]:.4f}")
    boxes.nth(1).uncheck()
    expect(out).to_contain_text("entropy H = 0.0000 nats")
    boxes.nth(2).uncheck()  # nothing left: a message, not an error
    expect(out).to_contain_text("No candidate is ticked")
    expect(out.locator("img")).to_have_count(0)
    boxes.nth(2).check()
    expect(out.locator("img")).to_have_count(1)
    boxes.nth(0).check()
    boxes.nth(1).check()
    expect(out).to_contain_text(f"bird 1.00 2.718 {expected['probs'][2]:.4f}")
    screenshot(explorer, "score_explorer")


def test_overflow_explorer_breaks_the_naive_softmax(page, screenshot):
    explorer = page.locator(".overflow-explorer")
    out = output(explorer)
    expect(out).to_contain_text("Naive and stable softmax agree")
    image = chart_source(explorer)

    explorer.get_by_role("button", name="float16").click()
    type_value(explorer.locator(".widget-slider"), 10)

    expect(out).to_contain_text("scale x 10 in float16")
    expect(out).to_contain_text("Naive softmax breaks: exp(20) is larger than the largest float16")
    expect(out).to_contain_text("cat 20 inf <- nan <- 1")
    assert chart_source(explorer) != image
    screenshot(explorer, "overflow_explorer")
    explorer.get_by_role("button", name="float64").click()
    expect(out).to_contain_text("scale x 10 in float64")
    expect(out).to_contain_text("Naive and stable softmax agree")


def test_temperature_explorer_reaches_both_limits(page, screenshot):
    explorer = page.locator(".temperature-explorer")
    out = output(explorer)
    box = explorer.locator(".widget-slider")
    expect(out).to_contain_text("T = 1: p = softmax(z / T)")

    type_value(box, 0.01)  # the slider's minimum
    cold = temperature_state(TEMPERATURE_LOGITS, 0.01)
    expect(out).to_contain_text("T = 0.01: p = softmax(z / T)")
    expect(out).to_contain_text("cat 1.0000 1.0000")
    expect(out).to_contain_text(f"entropy H = {cold['entropy']:.4f} nats")

    press(box, "ArrowRight")  # one step on the log scale: x 10**0.05
    expect(out).to_contain_text(f"T = {10**-1.95:.3g}: p = softmax")
    screenshot(explorer, "temperature_explorer")

    type_value(box, 100)  # the maximum: close to uniform
    hot = temperature_state(TEMPERATURE_LOGITS, 100.0)
    expect(out).to_contain_text(f"entropy H = {hot['entropy']:.4f} nats")
    expect(out).to_contain_text(f"H -> log {len(TEMPERATURE_TOKENS)} = {np.log(5):.4f}")


def test_sampling_lab_filters_and_samples(page, screenshot):
    explorer = page.locator(".sampling-lab")
    out = output(explorer)
    model = lm.load()
    expect(out).to_contain_text(f"kept {len(model.vocab)} of {len(model.vocab)} tokens")

    type_value(slider(explorer, "top-p (1 = off)"), 0.5)
    logits = model.next_token_logits(LAB_CONTEXT)
    state = sampling_state(logits, top_p=0.5, seed=0, samples=1000)
    expect(out).to_contain_text("kept 2 of 78 tokens")
    expect(out).to_contain_text(f"= {state['total_variation']:.4f}")

    seed = explorer.get_by_role("spinbutton", name="seed")  # labelled, so found by its label
    seed.fill("5")
    seed.press("Enter")
    reseeded = sampling_state(logits, top_p=0.5, seed=5, samples=1000)
    expect(out).to_contain_text("1000 draws with seed 5: total variation distance")
    expect(out).to_contain_text(f"= {reseeded['total_variation']:.4f}")

    press(slider(explorer, "top-k (0 = off)"), "ArrowRight")  # 0 (off) -> 1
    expect(out).to_contain_text("kept 1 of 78 tokens")
    context = explorer.get_by_role("textbox", name="context")
    context.fill("the dog")
    context.press("Enter")
    expect(out).to_contain_text("next token after 'the dog'")
    top = model.vocab[int(np.argmax(model.next_token_logits("the dog")))]
    expect(out).to_contain_text("(mass before renormalizing")
    expect(out).to_contain_text(f"): {top}")
    screenshot(explorer, "sampling_lab")


def test_beam_search_stepper_steps_to_the_end(page, screenshot):
    explorer = page.locator(".beam-stepper")
    out = output(explorer)
    next_step = explorer.get_by_role("button", name="Next step")
    expect(out).to_contain_text("Press Next")

    next_step.click()
    next_step.click()
    state = beam_stepper_state(lm.load(), "the cat", beam_width=2, max_new_tokens=4, step=2)
    expect(out).to_contain_text("step 2 of 4")
    for row in state["rows"]:
        numbers = f"{row['token_log_prob']:.3f} {row['log_prob']:.3f} {row['score']:.3f}"
        expect(out).to_contain_text(f"{row['text']} {numbers}")
    expect(out).to_contain_text("<- greedy path")
    expect(out.locator("img")).to_have_count(1)
    screenshot(explorer, "beam_stepper")

    next_step.click()
    next_step.click()
    expect(out).to_contain_text("Done. Best: 'the cat slept soundly </s>'")
    expect(next_step).to_be_disabled()
    explorer.get_by_role("button", name="Reset").click()
    expect(out).to_contain_text("Press Next")
    expect(next_step).to_be_enabled()


def test_gradient_explorer_step_and_reset(page, screenshot):
    explorer = page.locator(".gradient-explorer")
    out = output(explorer)
    target = GRADIENT_TOKENS[GRADIENT_TARGET]
    start = gradient_step_state(GRADIENT_LOGITS, GRADIENT_TARGET, 1.0, 0)
    expect(out).to_contain_text("learning rate 1, step 0")
    expect(out).to_contain_text(f"loss -log p({target}) = {start['loss']:.4f}")
    expect(out).to_contain_text("sum of p - y = 0.0000")
    image = chart_source(explorer)

    step = explorer.get_by_role("button", name="Step", exact=True)
    step.focus()  # the keyboard alone must do: a focused button answers Enter and Space
    page.keyboard.press("Enter")
    after = gradient_step_state(GRADIENT_LOGITS, GRADIENT_TARGET, 1.0, 1)
    expect(out).to_contain_text("learning rate 1, step 1")
    expect(out).to_contain_text(f"loss -log p({target}) = {after['loss']:.4f}")
    logit = after["logits"][GRADIENT_TARGET]
    expect(out).to_contain_text(f"{target} {logit:.4f} {after['probs'][GRADIENT_TARGET]:.4f} 1")
    expect(out.locator("img")).to_have_count(1)
    assert chart_source(explorer) != image
    screenshot(explorer, "gradient_explorer")

    step.focus()  # the screenshot clicked elsewhere to hide the focus ring
    page.keyboard.press("Space")
    expect(out).to_contain_text("learning rate 1, step 2")
    explorer.get_by_role("button", name="Reset").focus()
    page.keyboard.press("Enter")
    expect(out).to_contain_text("learning rate 1, step 0")
    expect(out).to_contain_text(f"loss -log p({target}) = {start['loss']:.4f}")
    assert chart_source(explorer) == image


def test_quizzes_by_keyboard_and_mouse(page, screenshot):
    single = page.locator(".quiz", has_text="Dividing every score")
    feedback = output(single)
    single.get_by_role("button", name="Check").click()
    expect(feedback).to_contain_text("Choose an answer first")
    single.get_by_label("sharper", exact=True).check()
    page.keyboard.press("ArrowDown")  # the radio group moves to "flatter"
    expect(single.get_by_label("flatter", exact=True)).to_be_checked()
    # ipywidgets' radios are separate tab stops (no shared name): focus Check directly.
    single.get_by_role("button", name="Check").focus()
    page.keyboard.press("Enter")
    expect(feedback.locator(".quiz-verdict")).to_have_text("Correct!")
    expect(feedback.locator(".quiz-explanations li")).to_have_count(3)

    several = page.locator(".quiz", has_text="only ever keep the most likely token")
    several.get_by_label("top-k = 1", exact=True).check()
    several.get_by_role("button", name="Check").click()
    expect(output(several)).to_contain_text("Almost: 1 of the 2 right answers chosen")
    several.get_by_label("top-p close to 0", exact=True).check()
    several.get_by_role("button", name="Check").click()
    expect(output(several).locator(".quiz-verdict")).to_have_text("Correct!")

    numeric = page.locator(".numeric-quiz")
    answer = numeric.locator("input")
    answer.fill("0.3")
    answer.press("Enter")
    numeric.get_by_role("button", name="Check").click()
    expect(output(numeric)).to_contain_text("Not quite: 0.3 is too high")
    answer.fill("1/4")
    answer.press("Enter")
    numeric.get_by_role("button", name="Check").click()
    expect(output(numeric)).to_contain_text("Correct!")
    expect(output(numeric)).to_contain_text("Equal scores share the mass equally")
    for locator, name in ((single, "quiz"), (several, "quiz_several"), (numeric, "numeric_quiz")):
        screenshot(locator, name)
