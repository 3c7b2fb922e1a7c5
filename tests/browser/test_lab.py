"""JupyterLab in Debian's chromium: open a course notebook, Run All, use the widgets as a learner.

The notebook is lesson 03 once it shows a temperature explorer and a quiz
(see notebooks.py), so the assertions read the notebook's own values from
the page instead of assuming them. This test also writes the README's
screenshot, docs/images/explorer.png.
"""

from __future__ import annotations

import re

import pytest
from fixture_notebooks import ROOT
from jupyter_pages import (
    chart_source,
    open_notebook,
    output,
    press,
    run_all,
    save_if_changed,
)
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

README_SCREENSHOT = ROOT / "docs" / "images" / "explorer.png"
TEMPERATURE = re.compile(r"T = ([0-9.e+-]+): p = softmax")


def shown_temperature(text: str) -> float:
    match = TEMPERATURE.search(text)
    assert match, text
    return float(match.group(1))


def test_lab_run_all_then_slider_keys_and_quiz(page, lab_server, artifacts, capture_on_failure):
    capture_on_failure(page)
    page.set_default_timeout(30_000)
    notebook = lab_server.notebooks["lab"]
    open_notebook(page, lab_server.url(f"lab/tree/{notebook.name}"))
    run_all(page)

    explorer = page.locator(".temperature-explorer").first
    expect(output(explorer)).to_contain_text("p = softmax(z / T)", timeout=90_000)
    expect(output(explorer).locator("img")).to_be_visible()
    quiz = page.locator(".quiz").filter(has=page.locator(".widget-radio-box")).first
    expect(quiz.get_by_role("button", name="Check")).to_be_visible(timeout=60_000)

    # Keyboard: two ArrowRight presses on the log-scale slider, each a step of 10**0.05 on the
    # slider's grid; the output must then show the temperature the slider's readout shows.
    # (JupyterLab skips rendering cells out of view: bring the explorer into view first.)
    explorer.scroll_into_view_if_needed()
    before = output(explorer).text_content()
    start = shown_temperature(before)
    image = chart_source(explorer)
    readout = explorer.locator(".widget-readout")
    press(explorer.locator(".widget-slider"), "ArrowRight", 2)
    expect(readout).not_to_have_text(f"{start:.3g}")
    moved = float(readout.text_content())
    assert start < moved <= start * 10**0.15  # two steps, the first may snap to the grid
    expect(output(explorer)).to_contain_text(f"T = {moved:.3g}: p = softmax")
    assert output(explorer).text_content() != before
    assert chart_source(explorer) != image, "the chart was not redrawn"

    # Quiz: Check with nothing chosen, then a wrong or right answer, then the right one.
    check = quiz.get_by_role("button", name="Check")
    feedback = output(quiz)
    quiz.scroll_into_view_if_needed()
    check.click()
    expect(feedback).to_contain_text("Choose an answer first")
    options = quiz.locator(".widget-radio-box input[type=radio]")
    count = options.count()
    assert count >= 2
    options.first.check()
    check.click()
    expect(feedback.locator(".quiz-explanations li")).to_have_count(count)
    expect(feedback).to_contain_text("(your choice)")
    right = feedback.locator("li", has_text="right answer").locator("b").first.text_content()
    quiz.get_by_label(right, exact=True).check()
    check.click()
    expect(feedback.locator(".quiz-verdict")).to_have_text("Correct!")

    page.mouse.click(5, 5)  # move focus away: no focus ring in the screenshots
    explorer.scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "lab_after_interaction.png")
    quiz.screenshot(path=artifacts / "lab_quiz.png")
    save_if_changed(explorer.screenshot(), README_SCREENSHOT)
