"""The class report in a real browser: report.html of a graded class, opened from disk.

Debian's chromium opens OUT/report.html over file:// with no server and no
network: every figure must load (an <img> whose natural width is above 0),
the tables must show the numbers exercises.csv holds, nothing may run (no
dialog from the hostile student names, no script) and nothing may be
fetched but the page itself and its data: figures. The test also writes the
README's screenshot, docs/images/class-report.png.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest
from fixture_notebooks import ROOT
from jupyter_pages import save_if_changed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from class_report_fixtures import HOSTILE_NAMES, grade_class

pytestmark = pytest.mark.browser

README_SCREENSHOT = ROOT / "docs" / "images" / "class-report.png"
# Right, untouched, two kinds of wrong, and a hostile folder name whose answer raises.
STUDENTS = ("ada", "bob", "cy", "eli", HOSTILE_NAMES[0])


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    return grade_class(tmp_path_factory.mktemp("browser-report"), only=STUDENTS)


def test_report_opens_offline_with_its_figures_and_numbers(page, graded, capture_on_failure):
    capture_on_failure(page)
    requested, dialogs, errors = [], [], []
    page.on("request", lambda request: requested.append(request.url))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_viewport_size({"width": 1100, "height": 900})
    page.goto((graded / "report.html").as_uri())
    page.wait_for_load_state("load")

    images = page.evaluate(
        "[...document.images].map(i => ({figure: i.dataset.figure, complete: i.complete,"
        " width: i.naturalWidth, height: i.naturalHeight, shown: i.getBoundingClientRect().width}))"
    )
    assert [image["figure"] for image in images] == ["scores-02", "pass-rate", "hidden-cases"]
    for image in images:
        assert image["complete"], image
        assert image["width"] > 0, image
        assert image["height"] > 0, image
        assert image["shown"] > 0, image

    with open(graded / "exercises.csv", newline="", encoding="utf-8") as file:
        expected = {line["exercise"]: line for line in csv.DictReader(file)}
    shown = page.evaluate(
        "[...document.querySelectorAll('table')].map(t => [...t.rows].map("
        "r => [...r.cells].map(c => c.textContent)))"
    )
    exercises_table = next(t for t in shown if t[0][:3] == ["exercise", "title", "students"])
    for line in exercises_table[1:]:
        row = expected[line[0]]
        assert line[2:5] == [row["students"], row["attempted"], row["passed"]], line
        assert line[6] == row["mean_points"], line
    assert page.locator("[data-count=students]").text_content() == str(len(STUDENTS))

    body = page.locator("body").text_content()
    assert HOSTILE_NAMES[0] in body  # shown as text...
    assert page.locator("img[onerror], script").count() == 0  # ...never as markup
    assert dialogs == []
    assert errors == []
    assert {url.split(":", 1)[0] for url in requested} <= {"file", "data"}
    assert [url for url in requested if url.startswith("file:")] == [
        (graded / "report.html").as_uri()
    ]

    # The README's picture: the scores, the pass rates and the exercises table.
    bottom = page.locator("h2", has_text="Top mistakes per exercise").bounding_box()
    clip = {"x": 0, "y": 0, "width": 1100, "height": bottom["y"]}
    picture = page.screenshot(full_page=True, clip=clip)
    save_if_changed(picture, README_SCREENSHOT)
