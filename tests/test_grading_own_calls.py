"""Own-implementation calls: a catalogue of answers that must be flagged and of
legitimate answers that must not be, read the way the grading child reads them
(`_child.analyse`, before any cell runs), plus the table's coverage of every
exercise and the solutions (which must never be flagged).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from utils import exercises
from utils.grading._child import analyse
from utils.grading._own_calls import OWN_IMPLEMENTATIONS, own_implementations
from utils.grading._sandbox import _SAFE_CALL, _known_call

ROOT = Path(__file__).resolve().parents[1]
IMPORTS = "import numpy as np\nimport utils\nfrom utils import check\n"


def calls_in(exercise_id: str, answer: str, imports: str = IMPORTS, before: str = "") -> list:
    """What the child reports for an answer in cell 3 (the hand-out's answer cell)."""
    spec = exercises.get(exercise_id)
    cells = [(1, imports), (2, before or "x = 1"), (3, answer)]
    task = {"id": spec.id, "answer_name": spec.answer_name, "own": list(own_implementations(spec))}
    (report,) = analyse(cells, [task], {spec.id: [3]})
    assert report["cells"] in ([3], []), report
    for call in report["own_calls"]:  # what the parent accepts from a child
        assert _known_call(call, own_implementations(spec)), call
    return report["own_calls"]


FLAGGED = {
    "course function": ("01.softmax", "def softmax(logits):\n    return utils.softmax(logits)\n"),
    "through its module": (
        "02.logsumexp",
        "def logsumexp(logits):\n    return utils.probability.logsumexp(logits)\n",
    ),
    "another course function that does the job": (
        "02.logsumexp",
        "def logsumexp(logits):\n    return (logits - utils.log_softmax(logits))[..., 0]\n",
    ),
    "from-import alias in the imports cell": (
        "01.softmax",
        "def softmax(logits):\n    return s(logits)\n",
        IMPORTS + "from utils import softmax as s\n",
    ),
    "module alias": (
        "02.log_softmax",
        "def log_softmax(logits):\n    return p.log_softmax(logits)\n",
        IMPORTS + "import utils.probability as p\n",
    ),
    "import inside the answer": (
        "02.stable_softmax",
        "def stable_softmax(logits, axis=-1):\n"
        "    from scipy.special import softmax as sm\n"
        "    return sm(logits, axis=axis)\n",
    ),
    "scipy module alias": (
        "01.softmax",
        "import scipy.special as sp\ndef softmax(logits):\n    return sp.softmax(logits, -1)\n",
    ),
    "from scipy import special": (
        "02.logsumexp",
        "from scipy import special\ndef logsumexp(z):\n    return special.logsumexp(z, -1)\n",
    ),
    "getattr with a built name": (
        "01.softmax",
        "def softmax(logits):\n    return getattr(utils, 'soft' + 'max')(logits)\n",
    ),
    "getattr with a plain name": (
        "01.softmax",
        "def softmax(logits):\n    return getattr(utils, 'softmax')(logits)\n",
    ),
    "__import__": (
        "01.softmax",
        "def softmax(logits):\n    return __import__('utils').softmax(logits)\n",
    ),
    "importlib": (
        "05.top_k_filter",
        "import importlib\n"
        "def top_k_filter(logits, k):\n"
        "    return importlib.import_module('utils.sampling').top_k_filter(logits, k)\n",
    ),
    "star import": (
        "05.top_p_filter",
        "def top_p_filter(logits, p):\n    return top_p_filter_impl(logits, p)\n"
        "from utils.sampling import *\n"
        "top_p_filter_impl = lambda logits, p: top_k_filter(logits, 3)\n",
    ),
    "the spec's reference": (
        "00.scores_above",
        "from utils.exercises.lesson00 import scores_above as ref\n"
        "def scores_above(scores, threshold):\n    return ref(scores, threshold)\n",
    ),
    "the course's temperature argument": (
        "03.apply_temperature",
        "def apply_temperature(logits, temperature):\n"
        "    return utils.softmax(logits, temperature=temperature)\n",
    ),
    "torch method on a tensor": (
        "01.softmax",
        "import torch\ndef softmax(logits):\n    return torch.tensor(logits).softmax(-1).numpy()\n",
    ),
    "sequence scoring by the course": (
        "06.sequence_log_prob",
        "def sequence_log_prob(logits, token_ids):\n"
        "    return utils.sequence_log_prob(logits, token_ids)\n",
    ),
    "eval of a string": (
        "01.softmax",
        "def softmax(logits):\n    return eval('utils.soft' + 'max')(logits)\n",
    ),
}

# Red-team findings (01:51): the most direct answers, and one-step-removed spellings.
FLAGGED.update(
    {
        "the import is the answer": ("01.softmax", "from utils import softmax\n"),
        "the import from the module is the answer": (
            "01.softmax",
            "from utils.probability import softmax\n",
        ),
        "an assigned alias": (
            "01.softmax",
            "u = utils\ndef softmax(z):\n    return u.softmax(z)\n",
        ),
        "a walrus alias": (
            "01.softmax",
            "def softmax(z):\n    return (u := utils).softmax(z)\n",
        ),
        "a loop alias": (
            "01.softmax",
            "def softmax(z):\n    for u in [utils]:\n        return u.softmax(z)\n",
        ),
        "the spec's reference through get": (
            "01.softmax",
            "from utils.exercises import get\nsoftmax = get('01.softmax').reference\n",
        ),
        "import_module under another name": (
            "01.softmax",
            "from importlib import import_module as im\n"
            "def softmax(z):\n    return im('utils').softmax(z)\n",
        ),
        "builtins.__import__": (
            "01.softmax",
            "import builtins\n"
            "def softmax(z):\n    return builtins.__import__('utils').softmax(z)\n",
        ),
        "exec binds the answer at run time": ("01.softmax", "exec('from utils import softmax')\n"),
        "globals() binds the answer at run time": (
            "01.softmax",
            "globals()['softmax'] = utils.softmax\n",
        ),
        "the module's __dict__": (
            "01.softmax",
            "def softmax(z):\n    return utils.__dict__['softmax'](z)\n",
        ),
        "scipy's __dict__": (
            "02.logsumexp",
            "import scipy.special\n"
            "def logsumexp(z):\n    return scipy.special.__dict__['logsumexp'](z, -1)\n",
        ),
        "operator.attrgetter": (
            "01.softmax",
            "import operator\n"
            "def softmax(z):\n    return operator.attrgetter('softmax')(utils)(z)\n",
        ),
        "a helper in another cell": (
            "01.softmax",
            "def softmax(z):\n    return helper(z)\n",
            IMPORTS,
            "def helper(z):\n    return utils.softmax(z)\n",
        ),
    }
)

LEGITIMATE = {
    "a comparison with the course's softmax beside the answer": (
        "01.softmax",
        "def softmax(logits):\n    e = np.exp(logits)\n    return e / e.sum(-1, keepdims=True)\n"
        "\nnp.allclose(softmax(np.array([1.0, 2.0])), utils.softmax(np.array([1.0, 2.0])))\n",
    ),
    "printing vars() beside the answer": (
        "01.softmax",
        "def softmax(logits):\n    e = np.exp(logits)\n    return e / e.sum()\nprint(vars())\n",
    ),
    "a variable that only holds numbers": (
        "01.softmax",
        "u = 3.0\ndef softmax(z):\n    e = np.exp(z - z.max())\n    return e / e.sum()\n",
    ),
    "numpy only": (
        "01.softmax",
        "def softmax(logits):\n    e = np.exp(logits - logits.max(-1, keepdims=True))\n"
        "    return e / e.sum(-1, keepdims=True)\n",
    ),
    "np.logaddexp is NumPy's, not the course's": (
        "02.logsumexp",
        "def logsumexp(logits):\n    return np.logaddexp.reduce(logits, axis=-1)\n",
    ),
    "the learner's own earlier function": (
        "02.log_softmax",
        "def log_softmax(logits):\n    return logits - logsumexp(logits)[..., None]\n",
        IMPORTS,
        "def logsumexp(z):\n    m = z.max(-1)\n"
        "    return m + np.log(np.exp(z - m[..., None]).sum(-1))\n",
    ),
    "own function of the same name as an import": (
        "02.log_softmax",
        "def log_softmax(logits):\n    return np.log(softmax(logits))\n",
        IMPORTS + "from utils import softmax\n",
        "def softmax(z):\n    e = np.exp(z - z.max(-1, keepdims=True))\n"
        "    return e / e.sum(-1, keepdims=True)\n",
    ),
    "sequence scoring may use the course's log_softmax": (
        "06.sequence_log_prob",
        "def sequence_log_prob(logits, token_ids):\n"
        "    lp = utils.log_softmax(logits, axis=-1)\n"
        "    return np.take_along_axis(lp, token_ids[..., None], -1)[..., 0].sum(-1)\n",
    ),
    "a next-token distribution may use the course's softmax": (
        "04.next_token_distribution",
        "def next_token_distribution(logits, vocab, candidates):\n"
        "    ids = [vocab.index(w) for w in candidates]\n"
        "    return utils.softmax(np.asarray(logits)[..., ids])\n",
    ),
    "temperature by dividing, then the course's softmax": (
        "03.apply_temperature",
        "def apply_temperature(logits, temperature):\n"
        "    return utils.softmax(logits / temperature)\n",
    ),
    "a parameter named like a course function": (
        "09.candidate_scores",
        "def candidate_scores(prompt, candidates, encode, next_token_log_probs):\n"
        "    return np.array([next_token_log_probs(encode(prompt + c))[0] for c in candidates])\n",
        IMPORTS + "from utils.exercises.lesson09 import encode, next_token_log_probs\n",
    ),
    "utils.check is not utils.checks": (
        "01.softmax",
        "def softmax(logits):\n    e = np.exp(logits)\n    return e / e.sum()\n"
        "check('01.softmax', softmax)\n",
    ),
}


@pytest.mark.parametrize("case", sorted(FLAGGED))
def test_answers_that_let_the_course_do_the_exercise_are_flagged(case):
    exercise_id, answer, *rest = FLAGGED[case]
    assert calls_in(exercise_id, answer, *rest), case


@pytest.mark.parametrize("case", sorted(LEGITIMATE))
def test_legitimate_answers_are_not_flagged(case):
    exercise_id, answer, *rest = LEGITIMATE[case]
    assert calls_in(exercise_id, answer, *rest) == [], case


def test_the_names_found_are_the_ones_called():
    assert calls_in(
        "01.softmax",
        FLAGGED["from-import alias in the imports cell"][1],
        FLAGGED["from-import alias in the imports cell"][2],
    ) == ["utils.softmax"]
    assert calls_in("01.softmax", FLAGGED["getattr with a built name"][1]) == [
        "getattr(utils, ...)"
    ]


def test_every_exercise_of_every_lesson_is_in_the_table():
    ids = {spec.id for spec in exercises.all_exercises()}
    assert ids == set(OWN_IMPLEMENTATIONS)
    for spec in exercises.all_exercises():
        own = own_implementations(spec)
        assert own[-3:] == ("utils.checks", "utils.grading", "utils.exercises")
        assert any(entry.startswith(spec.reference.__module__) for entry in own), spec.id


def test_no_solution_and_no_hand_out_stub_is_flagged():
    """The course's own answers are the legitimate ones: none may be flagged, and every
    exercise's answer is found in exactly one cell of each notebook."""
    checked = 0
    for folder in ("solutions", "notebooks"):
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            notebook = json.loads(path.read_text(encoding="utf-8"))
            lesson = notebook["metadata"].get("course", {}).get("id")
            if lesson not in exercises.lessons():
                continue
            cells = [
                (number, "".join(cell["source"]))
                for number, cell in enumerate(notebook["cells"], start=1)
                if cell["cell_type"] == "code"
            ]
            specs = exercises.for_lesson(lesson)
            tasks = [
                {"answer_name": s.answer_name, "own": list(own_implementations(s))} for s in specs
            ]
            for spec, report in zip(specs, analyse(cells, tasks), strict=True):
                assert report["own_calls"] == [], (path.name, spec.id, report)
                assert len(report["cells"]) == 1, (path.name, spec.id, report)
                checked += 1
    assert checked >= 2 * len(exercises.all_exercises())


def test_a_cell_that_does_not_parse_is_still_found_and_nothing_is_flagged():
    spec = exercises.get("02.logsumexp")
    cells = [(1, IMPORTS), (4, "def logsumexp(z)\n    return utils.logsumexp(z)\n")]
    task = {"answer_name": spec.answer_name, "own": list(own_implementations(spec))}
    assert analyse(cells, [task]) == [{"cells": [4], "own_calls": []}]


def test_a_pathological_cell_is_read_without_failing():
    spec = exercises.get("01.softmax")
    deep = "x = " + "(" * 100_000 + ")" * 100_000 + "\n"
    cells = [(1, IMPORTS), (2, deep), (3, "def softmax(z):\n    return utils.softmax(z)\n")]
    task = {"answer_name": spec.answer_name, "own": list(own_implementations(spec))}
    assert analyse(cells, [task]) == [{"cells": [3], "own_calls": ["utils.softmax"]}]


def test_a_name_chained_on_and_on_is_reported_shortened_and_accepted():
    chain = "utils.probability" + ".x" * 200
    (call,) = calls_in("01.softmax", f"def softmax(z):\n    return {chain}(z)\n")
    assert len(call) <= 150
    assert call.startswith("utils.probability.x")


TAMPERING = {
    "the runner through sys.modules (red team 01:49)": (
        "import sys\n_m = sys.modules['__main__']\n"
        "if hasattr(_m, '_run_exercise'):\n    _m._run_exercise = None\n"
    ),
    "sys.modules.get": "import sys\nm = sys.modules.get('utils')\n",
    "a frame's globals": "import sys\nsys._getframe(1).f_globals['x'] = 1\n",
    "inspect's frames": "import inspect\nframe = inspect.currentframe()\n",
    "a traceback's frame": (
        "try:\n    1 / 0\nexcept Exception as e:\n    f = e.__traceback__.tb_frame\n"
    ),
    "gc's objects": "import gc\nfor o in gc.get_objects():\n    pass\n",
    "ctypes": "import ctypes\n",
    "a computed getattr on sys": "import sys\ngetattr(sys, '_get' + 'frame')(0)\n",
    "a constant getattr of a frame attribute": "getattr(object(), 'f_back', None)\n",
    "patching builtins": "import builtins\nbuiltins.isinstance = lambda a, b: True\n",
    "the checker's internals": "import utils.checks\nutils.checks._same = lambda a, b: True\n",
    "a function's globals": "def f():\n    pass\nf.__globals__['x'] = 1\n",
    "the grader's modules": "from utils.grading import _child\n",
    "exec of code built at run time": "code = 'import sy' + 's'\nexec(code)\n",
    "exec of a constant that reaches in": "exec('import sys\\nsys._getframe(0)')\n",
    "eval of a built string": "eval('sys' + '.modules')\n",
    "a traceback": "try:\n    1 / 0\nexcept Exception as e:\n    t = e.__traceback__\n",
}

NOT_TAMPERING = {
    "inspect.signature": "import inspect\ninspect.signature(len)\n",
    "gc.collect": "import gc\ngc.collect()\n",
    "the __main__ guard": "if __name__ == '__main__':\n    print('hi')\n",
    "np.stack": "import numpy as np\nnp.stack([np.zeros(2)])\n",
    "check from utils": "from utils import check\nimport utils\nutils.check\n",
    "check from utils.checks": "from utils.checks import check\n",
    "exec of a harmless constant": "exec('x = 1')\n",
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_reaching_into_the_grading_process_is_found_in_any_cell(case):
    from utils.grading._child import tampering

    found = tampering([(1, IMPORTS), (2, TAMPERING[case]), (3, "x = 1\n")])
    assert found, case
    for item in found:
        assert _SAFE_CALL.fullmatch(item), item


@pytest.mark.parametrize("case", sorted(NOT_TAMPERING))
def test_ordinary_code_is_not_tampering(case):
    from utils.grading._child import tampering

    assert tampering([(1, IMPORTS), (2, NOT_TAMPERING[case])]) == [], case


def test_no_solution_and_no_hand_out_reaches_into_the_grader():
    from utils.grading._child import tampering

    for folder in ("solutions", "notebooks"):
        for path in sorted((ROOT / folder).glob("*.ipynb")):
            notebook = json.loads(path.read_text(encoding="utf-8"))
            cells = [
                (number, "".join(cell["source"]))
                for number, cell in enumerate(notebook["cells"], start=1)
                if cell["cell_type"] == "code"
            ]
            assert tampering(cells) == [], path.name


def _import_as_answer_cases():
    cases = []
    for spec in exercises.all_exercises():
        for entry in own_implementations(spec):
            if "(" in entry or spec.kind != "function":
                continue
            module, _dot, last = entry.rpartition(".")
            source = module if last == spec.answer_name else entry
            cases.append((spec.id, f"from {source} import {spec.answer_name}\n"))
    return cases


@pytest.mark.parametrize(("exercise_id", "answer"), _import_as_answer_cases())
def test_importing_the_answer_from_any_own_implementation_is_flagged(exercise_id, answer):
    """Red team 02:04: the import that IS the answer, for every entry of the table."""
    assert calls_in(exercise_id, answer), answer
