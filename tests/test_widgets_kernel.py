"""utils.widgets in a real kernel (nbclient, no browser): build each widget, poke it, read it back.

The course kernel runs a notebook that displays every widget, then moves its
controls from code; the state is read in a *separate* cell, because the
widget messages a cell sends are handled between cells. The values are
compared with the pure functions computed here, in the test process.
"""

from __future__ import annotations

import json

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from utils import lm
from utils.widgets import beam_stepper_state, overflow_state, sampling_state, score_state

KERNEL = "next-token-course"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

BUILD = {
    "score": 'utils.widgets.score_explorer(["cat", "dog", "bird"], [2.0, 1.0, 0.1])',
    "overflow": "utils.widgets.overflow_explorer()",
    "temperature": 'utils.widgets.temperature_explorer(["cat", "dog", "bird"], [2.0, 1.0, 0.1])',
    "lab": 'utils.widgets.sampling_lab(context="the cat", samples=100)',
    "beam": 'utils.widgets.beam_search_stepper(prefix="the cat", max_new_tokens=3)',
    "quiz": 'utils.quiz("Q?", ["flatter", "sharper"], "flatter", ["Yes.", "No."])',
    "numeric": 'utils.numeric_quiz("1/4 as a decimal?", 0.25, 0.001, "One quarter.")',
}
POKE = """\
score.sliders["bird"].value = 2.0
score.checkboxes["dog"].value = False
overflow.dtype.value = "float16"
overflow.scale.value = 10.0
temperature.temperature.value = 0.01
lab.top_k.value = 2
beam.next_button.click()
beam.next_button.click()
quiz.options.value = "flatter"
quiz.check_button.click()
numeric.answer_box.value = "0.3"
numeric.check_button.click()
"""
READ = """\
import json
print(json.dumps({
    "score": score.state["probs"].tolist(),
    "overflow": [overflow.state["naive_ok"], overflow.state["dtype"]],
    "temperature": temperature.state["probs"].tolist(),
    "lab": [lab.state["kept_tokens"], lab.state["draws"].tolist()],
    "beam": [row["text"] for row in beam.state["rows"]],
    "quiz": quiz.state["status"],
    "numeric": numeric.state["status"],
    "kinds": {name: [o["output_type"] for o in widget.out.outputs] for name, widget in [
        ("score", score), ("overflow", overflow), ("temperature", temperature), ("lab", lab),
        ("beam", beam), ("quiz", quiz), ("numeric", numeric)]},
}))
"""


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    cells = [new_code_cell("import utils")]
    for name, build in BUILD.items():
        cells.append(new_code_cell(f"{name} = {build}\n{name}"))
    cells += [new_code_cell(POKE), new_code_cell(READ)]
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "name": KERNEL,
        "display_name": "Python 3 (next-token course)",
        "language": "python",
    }
    folder = tmp_path_factory.mktemp("kernel")
    client = NotebookClient(
        notebook, timeout=120, kernel_name=KERNEL, resources={"metadata": {"path": str(folder)}}
    )
    client.execute()
    nbformat.validate(notebook)
    return notebook


def test_each_widget_cell_displays_the_widget(executed):
    for cell, name in zip(executed.cells[1:], BUILD, strict=False):
        (output,) = cell.outputs
        assert output["output_type"] == "execute_result"
        assert WIDGET_VIEW in output["data"], name
        assert output["data"]["text/plain"].splitlines()[0].endswith(")"), name
        # A static picture of the explorers (the stepper shows none before its first step).
        assert ("image/png" in output["data"]) == (name not in ("beam", "quiz", "numeric")), name
    assert "application/vnd.jupyter.widget-state+json" in executed.metadata["widgets"]


def _html_of(notebook) -> str:
    from nbconvert import HTMLExporter

    body, _resources = HTMLExporter().from_notebook_node(notebook)
    return body


def test_without_widget_state_html_shows_the_static_pictures_and_text(executed):
    # What nbviewer (nbconvert) shows of a notebook saved without its widget state: nbconvert
    # skips a widget view whose model is not in the notebook's metadata and shows the next
    # mimetype of its priority list instead.
    notebook = nbformat.from_dict(json.loads(json.dumps(executed)))  # a deep copy
    del notebook.metadata["widgets"]
    html = _html_of(notebook)
    pictures = sum("image/png" in cell.outputs[0]["data"] for cell in executed.cells[1:8])
    assert pictures == 4
    assert html.count('src="data:image/png;base64,') == pictures
    assert "run the notebook to answer it" in html  # the quizzes' text
    assert "Press Next" in html  # the beam stepper's text before its first step
    assert WIDGET_VIEW not in html
    # With the state stored, nbconvert embeds the widget views instead of the pictures.
    with_state = _html_of(executed)
    assert WIDGET_VIEW in with_state
    assert 'src="data:image/png;base64,' not in with_state


def test_widgets_react_in_the_kernel(executed):
    values = json.loads(executed.cells[-1].outputs[0]["text"])
    expected = score_state(["cat", "dog", "bird"], [2.0, 1.0, 2.0], [True, False, True])
    np.testing.assert_allclose(values["score"], expected["probs"])
    naive_ok = overflow_state([2.0, 1.0, 0.1], 10.0, "float16")["naive_ok"]
    assert values["overflow"] == [naive_ok, "float16"]
    assert not naive_ok
    np.testing.assert_allclose(values["temperature"], [1.0, 0.0, 0.0], atol=1e-12)
    model = lm.load()
    lab = sampling_state(model.next_token_logits("the cat"), top_k=2, samples=100)
    assert values["lab"] == [["sat", "slept"], lab["draws"].tolist()]
    beam = beam_stepper_state(model, "the cat", beam_width=2, max_new_tokens=3, step=2)
    assert values["beam"] == [row["text"] for row in beam["rows"]]
    assert values["quiz"] == "correct"
    assert values["numeric"] == "too_high"
    for name, kinds in values["kinds"].items():
        expected_kinds = (
            ["display_data"] if name in ("quiz", "numeric") else ["stream", "display_data"]
        )
        assert kinds == expected_kinds, name


CHECKS = [
    "import time\nimport numpy as np\nimport utils\nfrom utils import checks\n"
    "checks.CASE_TIME_LIMIT_SECONDS = 0.5",
    # Prints in the child: ipykernel's OutStream belongs to the parent.
    "def loud(logits, axis=-1):\n"
    "    print('computing', np.shape(logits))\n"
    "    return utils.logsumexp(logits, axis=axis)\n"
    "print(checks.check('02.logsumexp', loud).status)",
    "def swallows(logits, axis=-1):\n"
    "    while True:\n"
    "        try:\n"
    "            time.sleep(0.05)\n"
    "        except:\n"
    "            pass\n"
    "print(checks.check('02.logsumexp', swallows).text)",
    "def spins(logits, axis=-1):\n"
    "    while True:\n"
    "        try:\n"
    "            sum(range(1000))\n"
    "        except:\n"
    "            pass\n"
    "print(checks.check('02.logsumexp', spins).text)",
    "print(checks.check('02.logsumexp', utils.logsumexp).status)",
]


def test_check_in_a_real_kernel_prints_stops_endless_loops_and_passes(tmp_path):
    notebook = new_notebook(cells=[new_code_cell(source) for source in CHECKS])
    notebook.metadata["kernelspec"] = {
        "name": KERNEL,
        "display_name": "Python 3 (next-token course)",
        "language": "python",
    }
    client = NotebookClient(
        notebook, timeout=60, kernel_name=KERNEL, resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()

    def printed(cell):
        return "".join(o.get("text", "") for o in cell.outputs if o["output_type"] == "stream")

    loud, swallows, spins, correct = (printed(cell) for cell in notebook.cells[1:])
    assert "computing" in loud
    assert loud.strip().endswith("passed")
    for text in (swallows, spins):
        assert text.startswith("[error] 02.logsumexp"), text
        assert "TimeoutError" in text
        assert "time limit per case" in text
    assert correct.strip() == "passed"
    assert not [o for cell in notebook.cells for o in cell.outputs if o["output_type"] == "error"]
