"""The form of the lessons' prose, over every solution notebook.

* No line of substance repeats inside a markdown cell. Red team D5: a non-idempotent
  editing script appended lesson 08's "Token by token" summary bullet five times, and
  every other test stayed green. A line of substance has at least 25 characters once
  stripped (short lines such as "**After this lesson you can**", "---" or a table's
  "|---|" row may repeat legitimately).
* The "After this lesson you can" list is one sentence: every bullet ends with ";" but the
  last, which ends with "." (red team B5: bullets appended after the closing one).
"""

import re
from collections import Counter
from pathlib import Path

import nbformat
import pytest

SOLUTIONS = sorted((Path(__file__).resolve().parents[1] / "solutions").glob("*.ipynb"))
MIN_CHARS = 25


def repeated_lines(source: str) -> dict[str, int]:
    """The lines of substance that occur more than once in `source`, with their counts."""
    lines = [line.strip() for line in source.splitlines()]
    counts = Counter(line for line in lines if len(line) >= MIN_CHARS)
    return {line: count for line, count in counts.items() if count > 1}


def test_repeated_lines_finds_a_duplicated_bullet_and_ignores_short_lines():
    bullet = "- **Token by token**: row t of a causal model scores token t + 1"
    assert repeated_lines(f"## Summary\n{bullet}\n{bullet}\n") == {bullet: 2}
    assert repeated_lines("| a | b |\n|---|---|\n|---|---|\n**Note**\n**Note**\n") == {}


@pytest.mark.parametrize("path", SOLUTIONS, ids=[path.stem for path in SOLUTIONS])
def test_no_markdown_line_repeats_within_a_cell(path):
    notebook = nbformat.read(path, as_version=4)
    problems = {
        cell.get("id", f"#{index}"): repeated_lines(cell.source)
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "markdown"
    }
    problems = {cell_id: lines for cell_id, lines in problems.items() if lines}
    assert not problems, f"{path.name}: lines repeated within a cell: {problems}"


def outcome_bullets(source: str) -> list[str]:
    """The bullets of the 'After this lesson you can' list in `source` ([] when none)."""
    marker = "**After this lesson you can**"
    if marker not in source:
        return []
    block = source.split(marker, 1)[1].strip().split("\n\n", 1)[0]
    return [item.strip() for item in re.split(r"\n(?=- )", block)]


def test_outcome_bullets_reads_a_list_and_its_ends():
    source = "# 99\n\n**After this lesson you can**\n- do a;\n- do b,\n  and c.\n\nMore."
    assert outcome_bullets(source) == ["- do a;", "- do b,\n  and c."]
    assert outcome_bullets("# no list here") == []


WITH_OUTCOMES = [
    path for path in SOLUTIONS if outcome_bullets(nbformat.read(path, as_version=4).cells[0].source)
]


def test_the_lessons_state_their_outcomes():
    """Lessons 01-07 and 09 open with their outcome list (00 and the case studies of 08
    have intros of their own kind), so the test below has them all to read."""
    assert {path.name[:2] for path in WITH_OUTCOMES} == {
        "01",
        "02",
        "03",
        "04",
        "05",
        "06",
        "07",
        "09",
    }


@pytest.mark.parametrize("path", WITH_OUTCOMES, ids=[path.stem for path in WITH_OUTCOMES])
def test_the_outcome_list_ends_once(path):
    bullets = outcome_bullets(nbformat.read(path, as_version=4).cells[0].source)
    ends = "".join(bullet[-1] for bullet in bullets)
    assert ends == ";" * (len(bullets) - 1) + ".", f"{path.name}: bullet endings {ends!r}"
