"""The README's examples run, and the commands it names exist.

The README is the first thing learners and instructors read: its Python
examples are run as doctests, every `make` target it names is in the
Makefile, and every grader option it shows is accepted by the grader.
"""

from __future__ import annotations

import doctest
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)


def test_readme_has_python_examples():
    assert sum(block.count(">>>") for block in PYTHON_BLOCKS) >= 8


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_readme_python_examples_run(index: int):
    parser = doctest.DocTestParser()
    test = parser.get_doctest(PYTHON_BLOCKS[index], {}, f"README block {index}", "README.md", 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    # Blocks build on each other (imports), as a reader types them in one session.
    for earlier in PYTHON_BLOCKS[:index]:
        exec(compile(_source(earlier), "README.md", "exec"), test.globs)
    runner.run(test, out=lambda text: None)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"README block {index}: {result.failed} example(s) fail"


def _source(block: str) -> str:
    return "\n".join(example.source for example in doctest.DocTestParser().get_examples(block))


def test_every_make_target_named_in_the_readme_exists():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.MULTILINE))
    named = set(re.findall(r"\bmake ([a-z][a-z-]*)\b", README))
    assert {"lab", "test"} <= named
    assert named <= targets, f"the README names make targets that do not exist: {named - targets}"


def test_grader_options_in_the_readme_are_accepted():
    shown = set(re.findall(r"utils\.grading[^\n]*", README))
    options = {option for line in shown for option in re.findall(r"--[a-z][a-z-]+", line)}
    assert "--out" in options
    help_text = subprocess.run(
        [sys.executable, "-m", "utils.grading", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    missing = {option for option in options if option not in help_text}
    assert not missing, f"the README shows grader options the grader does not have: {missing}"
