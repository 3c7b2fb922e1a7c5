"""The grader's trust boundary in the parent, without running children: the frame
reader and outcome decoder (random bytes and random well-formed-but-wrong records
only ever give a valid outcome or the decoder's own error), the conversation's
order, and the names and escapes of everything reported."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from utils.checks import CaseOutcome
from utils.grading import _protocol
from utils.grading._discover import display_name
from utils.grading._grade import exception_type, plan_lesson
from utils.grading._protocol import FrameReader, ResultError, decode_outcome, encode_frame
from utils.grading._report import csv_cell, feedback_name, markdown_text
from utils.grading._sandbox import ChildRun, _Conversation, describe_signal

ROOT = Path(__file__).resolve().parents[1]
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def decode_all(data: bytes):
    """What the parent does with a child's bytes: frames, then every outcome in them."""
    outcomes = []
    for header, arrays in FrameReader().feed(data):
        for entry in header.get("outcomes", []) if isinstance(header.get("outcomes"), list) else []:
            outcomes.append(decode_outcome(entry, arrays))
    return outcomes


def assert_valid(outcome):
    outcome, timed_out = outcome
    assert isinstance(outcome, CaseOutcome)
    assert isinstance(timed_out, bool)
    assert outcome.status in ("ok", "not_implemented", "error")
    assert len(outcome.error) <= 2000
    assert len(outcome.value_type) <= 200


# --- random bytes and random records ------------------------------------------------


@PROPERTY
@given(st.binary(max_size=4096))
def test_random_bytes_give_nothing_or_the_decoders_own_error(data):
    try:
        outcomes = decode_all(data)
    except ResultError:
        return
    for outcome in outcomes:
        assert_valid(outcome)


@PROPERTY
@given(st.binary(max_size=2048), st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1))
def test_random_frame_prefixes_give_nothing_or_the_decoders_own_error(body, header, length):
    data = b"NTG1" + struct.pack(">IQ", header, length) + body
    with contextlib.suppress(ResultError):
        FrameReader().feed(data)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)

value_kinds = [
    "none",
    "bool",
    "int",
    "float",
    "complex",
    "str",
    "array",
    "scalar",
    "list",
    "tuple",
    "dict",
    "object",
    "$array",
]


def encoded_values():
    """Records in the shape `_encode` writes, with wrong types, lengths and numbers mixed in."""
    leaf = st.one_of(
        st.fixed_dictionaries({"type": st.just("none")}),
        st.fixed_dictionaries({"type": st.just("bool"), "value": json_values}),
        st.fixed_dictionaries(
            {
                "type": st.just("int"),
                "value": st.one_of(
                    st.integers().map(str), st.text(max_size=60), st.just("9" * 5000), json_values
                ),
            }
        ),
        st.fixed_dictionaries(
            {
                "type": st.just("float"),
                "value": st.one_of(
                    st.floats(allow_nan=True).map(float.hex),
                    st.sampled_from(
                        [
                            "0x1p99999",
                            "0x1.fffffffffffffp+1023",
                            "inf",
                            "1e400",
                            "0x" + "f" * 400 + "p1",
                            "nan",
                            "-0x0.0p+0",
                        ]
                    ),
                    json_values,
                ),
            }
        ),
        st.fixed_dictionaries(
            {"type": st.just("complex"), "real": json_values, "imag": st.just("0x1p99999")}
        ),
        st.fixed_dictionaries({"type": st.just("str"), "value": json_values}),
        st.fixed_dictionaries(
            {
                "type": st.sampled_from(["array", "scalar"]),
                "key": st.sampled_from(["a0", "a1", "zz"]),
            }
        ),
        st.dictionaries(st.sampled_from(["type", "value", "key", "items", "x"]), json_values),
    )
    return st.recursive(
        leaf,
        lambda children: st.fixed_dictionaries(
            {
                "type": st.sampled_from(["list", "tuple", "dict"]),
                "items": st.lists(
                    st.one_of(children, st.tuples(st.text(max_size=5), children).map(list)),
                    max_size=4,
                ),
            }
        ),
        max_leaves=20,
    )


records = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["ok", "error", "not_implemented", "passed", 1]),
        "value": encoded_values(),
        "warnings": st.one_of(st.lists(st.text(max_size=10), max_size=3), json_values),
        "error": st.one_of(st.text(max_size=30), st.just("x" * 3000), json_values),
        "modified_inputs": st.one_of(st.lists(st.text(max_size=5), max_size=3), json_values),
        "value_type": st.one_of(st.text(max_size=10), json_values),
    }
)
array_specs = st.lists(
    st.tuples(
        st.sampled_from(["<f8", "<f4", "<i8", "|b1", "<U3", "|O", ">f8", "<V8", "<U9999", "x"]),
        st.lists(st.one_of(st.integers(-2, 5), st.sampled_from([0, 2**26, 2**40])), max_size=16),
    ),
    max_size=3,
)


@PROPERTY
@given(
    records,
    array_specs,
    st.binary(max_size=256),
    st.booleans(),
    st.dictionaries(st.sampled_from(["a0", "a1", "zz"]), st.integers(-1, 3), max_size=3),
)
def test_well_formed_but_wrong_records_give_an_outcome_or_the_decoders_own_error(
    record, arrays, body, timed_out, mapping
):
    header = {
        "kind": "exercise",
        "outcomes": [{"record": record, "arrays": mapping, "timed_out": timed_out}],
        "arrays": [[dtype, shape] for dtype, shape in arrays],
    }
    text = json.dumps(header).encode()
    data = b"NTG1" + struct.pack(">IQ", len(text), len(body)) + text + body
    try:
        outcomes = decode_all(data)
    except ResultError:
        return
    for outcome in outcomes:
        assert_valid(outcome)


@PROPERTY
@given(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**60), 2**60),
        st.floats(allow_nan=True),
        st.complex_numbers(allow_nan=True),
        st.text(max_size=30),
        st.lists(st.floats(allow_nan=False), max_size=6).map(np.array),
        st.lists(st.integers(-5, 5), max_size=6).map(lambda v: np.array(v, dtype=np.int64)),
        st.floats(width=32, allow_nan=False).map(np.float32),
    )
)
def test_real_outcomes_survive_the_trip_exactly(value):
    outcome = CaseOutcome("ok", value=value, warnings=("RuntimeWarning: x",), value_type="t")
    record, arrays = outcome.to_record()
    mapping = {key: index for index, key in enumerate(arrays)}
    data = encode_frame(
        {
            "kind": "exercise",
            "outcomes": [{"record": record, "arrays": mapping, "timed_out": False}],
        },
        list(arrays.values()),
    )
    ((back, timed_out),) = decode_all(data)
    assert timed_out is False
    assert back.warnings == outcome.warnings
    if isinstance(value, np.ndarray):
        assert back.value.dtype == value.dtype
        assert back.value.shape == value.shape
        assert np.array_equal(back.value, value, equal_nan=value.dtype.kind == "f")
    elif isinstance(value, float) and math.isnan(value):
        assert math.isnan(back.value)
    elif isinstance(value, complex):
        assert repr(back.value) == repr(value)
    else:
        assert back.value == value
        assert type(back.value) is type(value)


def test_arrays_of_any_layout_are_framed():
    """Views (transposed, strided, reversed) are sent as C-ordered copies; 0-d stays 0-d."""
    base = np.arange(12.0).reshape(3, 4)
    arrays = [base.T, base[:, ::2], base[::-1], np.asarray(np.float32(2)), np.zeros((0, 3))]
    header, received = _protocol.read_frame(io.BytesIO(encode_frame({"kind": "x"}, arrays)))
    assert header == {"kind": "x"}
    for sent, back in zip(arrays, received, strict=True):
        assert back.shape == sent.shape
        assert back.dtype == sent.dtype
        assert np.array_equal(back, sent)


# --- concrete forgeries of the issue ------------------------------------------------------


def outcome_frame(value, arrays=(), mapping=None):
    record = {
        "status": "ok",
        "value": value,
        "warnings": [],
        "error": "",
        "modified_inputs": [],
        "value_type": "float",
    }
    entry = {"record": record, "arrays": mapping or {}, "timed_out": False}
    return encode_frame({"kind": "exercise", "outcomes": [entry]}, list(arrays))


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"type": "complex", "real": "0x1." + "f" * 400 + "p1", "imag": "0x0.0p+0"}, "float"),
        ({"type": "float", "value": "0x1p99999"}, "float"),
        ({"type": "float", "value": "0x1.0p+9999"}, "out of range"),
        ({"type": "int", "value": "9" * 400}, "int"),
        ({"type": "array", "key": "a0"}, "refers to no array"),
        ({"type": "list", "items": [{"type": "none"}] * 200_000}, "too many parts"),
        ({"type": "object"}, "unknown type"),
    ],
)
def test_forged_numbers_and_sizes_are_refused(value, problem):
    with pytest.raises(ResultError, match=problem):
        decode_all(outcome_frame(value))


def test_deep_and_huge_frames_are_refused():
    deep = {"type": "none"}
    for _ in range(100):
        deep = {"type": "list", "items": [deep]}
    with pytest.raises(ResultError, match="nested too deeply"):
        decode_all(outcome_frame(deep))
    text = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(ResultError, match="not JSON"):
        FrameReader().feed(b"NTG1" + struct.pack(">IQ", len(text), 0) + text)
    with pytest.raises(ResultError, match="larger than allowed"):
        FrameReader().feed(b"NTG1" + struct.pack(">IQ", 2, 1 << 40))
    reader = FrameReader(max_total=1000)
    with pytest.raises(ResultError, match="more than"):
        reader.feed(b"\0" * 1001)
    for dtype in ("|V8", "|O", ">f8", "<U99999"):
        text = json.dumps({"kind": "x", "arrays": [[dtype, [0]]]}).encode()
        with pytest.raises(ResultError, match="not accepted"):
            FrameReader().feed(b"NTG1" + struct.pack(">IQ", len(text), 0) + text)


def test_empty_arrays_with_huge_shapes_are_refused():
    for shape in ([0] + [67108864] * 15, [0, 2**40], [2**26, 2**26, 0]):
        text = json.dumps({"kind": "cells", "arrays": [["<f8", shape]]}).encode()
        with pytest.raises(ResultError, match="impossible shape"):
            FrameReader().feed(b"NTG1" + struct.pack(">IQ", len(text), 0) + text)


def test_arrays_must_fill_the_body_exactly():
    text = json.dumps({"kind": "exercise", "arrays": [["<f8", [3]]]}).encode()
    for body in (b"\0" * 16, b"\0" * 32):
        with pytest.raises(ResultError):
            FrameReader().feed(b"NTG1" + struct.pack(">IQ", len(text), len(body)) + text + body)


def _analysis_frame(plan, own_calls=None):
    exercises = [{"cells": [2], "own_calls": []} for _spec in plan.specs]
    if own_calls is not None:
        exercises[0]["own_calls"] = own_calls
    return encode_frame({"kind": "analysis", "exercises": exercises, "tampering": []})


def test_the_conversation_refuses_any_other_order():
    plan = plan_lesson("00", "seed", 2.0)
    analysis = _analysis_frame(plan)
    cells = analysis + encode_frame({"kind": "cells", "problems": []})
    record, _arrays = CaseOutcome("ok", value=1.0, value_type="float").to_record()
    entry = {"record": record, "arrays": {}, "timed_out": False}

    def exercise(phase, index, entries):
        return encode_frame(
            {
                "kind": "exercise",
                "phase": phase,
                "index": index,
                "defined": True,
                "crash": None,
                "outcomes": entries,
            }
        )

    def cell(number):
        return encode_frame({"kind": "cell", "cell": number})

    for data in [
        exercise("visible", 0, [entry]),  # before the cells
        encode_frame({"kind": "cells", "problems": []}),  # the reading of the cells first
        analysis + analysis,
        cells + cells[len(analysis) :],
        cells + exercise("visible", 1, [entry]),
        cells + exercise("hidden", 0, [entry]),
        cells + exercise("visible", 0, [entry, entry]),  # one case, two outcomes
        cells + encode_frame({"kind": "done"}),
        # Forged cell starts: out of order, again, a cell the notebook does not have,
        # after the cells' report, or with extra fields.
        analysis + cell(3) + cell(2),
        analysis + cell(2) + cell(2),
        analysis + cell(99),
        cells + cell(4),
        analysis + encode_frame({"kind": "cell", "cell": 2, "interrupted": True}),
        analysis + encode_frame({"kind": "cells", "problems": [{"cell": 99, "error": "x"}]}),
        # The reading of the cells may only name calls the grader asked about.
        _analysis_frame(plan, ["anything at all"]),
        _analysis_frame(plan, ["a <b>"]),
        encode_frame({"kind": "analysis", "exercises": [], "tampering": []}),
        encode_frame({"kind": "analysis", "exercises": [{"cells": [], "own_calls": []}] * 2}),
        encode_frame(
            {
                "kind": "analysis",
                "exercises": [{"cells": [], "own_calls": []}] * 2,
                "tampering": ["<script>"],
            }
        ),
    ]:
        conversation = _Conversation(ChildRun(), plan, 5)
        frames = FrameReader().feed(data)
        for frame in frames[:-1]:
            conversation.handle(*frame)
        with pytest.raises(ResultError):
            conversation.handle(*frames[-1])
    conversation = _Conversation(ChildRun(), plan, 5)
    steps = [
        conversation.handle(h, a)
        for h, a in FrameReader().feed(analysis + cell(2) + cells[len(analysis) :])
    ]
    assert steps == [None, "cell_started", "cells_done"]
    run = ChildRun()
    conversation = _Conversation(run, plan, 5)
    for frame in FrameReader().feed(_analysis_frame(plan, ["getattr(utils, ...)"])):
        conversation.handle(*frame)
    assert run.analysis[0]["own_calls"] == ["getattr(utils, ...)"]


# --- names and escapes ------------------------------------------------------------------------


@given(st.text(max_size=300), st.text(max_size=300))
def test_display_names_are_printable_bounded_and_never_shared(first, second):
    for name in (first, second):
        shown = display_name(name)
        assert shown.isprintable()
        assert len(shown) <= 200
    if first != second:
        assert display_name(first) != display_name(second)


path_parts = st.lists(
    st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="/\0"),
        min_size=1,
        max_size=300,
    ),
    min_size=1,
    max_size=4,
).map(lambda parts: (*parts[:-1], parts[-1] + ".ipynb"))


@given(path_parts, path_parts)
def test_feedback_names_are_safe_and_distinct(first, second):
    for parts in (first, second):
        folder, name = feedback_name(tuple(parts))
        for piece in (folder, name):
            assert len(piece.encode()) <= 255
            assert piece not in ("", ".", "..")
            assert "/" not in piece
            assert not piece.startswith(".")
    if first != second and (len(first) > 1) == (len(second) > 1):
        assert feedback_name(first) != feedback_name(second)


def test_a_student_with_a_flood_of_notebooks_gets_the_first_ones_graded():
    from utils.grading._discover import limit_per_student

    found = [(("flood", f"n{index:03d}.ipynb"), None) for index in range(40)]
    found += [(("alice", "a.ipynb"), None), (("bob.ipynb",), None)]
    kept = limit_per_student(found, limit=30)
    assert [parts for parts, _ in kept[:30]] == [parts for parts, _ in found[:30]]
    assert (("alice", "a.ipynb"), None) in kept
    assert (("bob.ipynb",), None) in kept
    (note,) = [item for item in kept if item[0][0] == "flood" and item[1]]
    assert note == (
        ("flood", "+10 more notebooks"),
        "10 notebooks beyond the first 30 of this student were not graded",
    )


def test_names_from_non_utf8_bytes_and_huge_paths():
    raw = os.fsdecode(b"caf\xe9\xff")
    assert display_name(raw) == "caf\\xe9\\xff"
    assert feedback_name((raw, "a.ipynb")) == ("caf%E9%FF", "a.md")
    _folder, name = feedback_name(("s", *["d" * 200] * 19, "n.ipynb"))
    assert len(name) <= 123
    assert name.endswith(".md")


@given(st.text(max_size=200))
def test_markdown_text_has_no_markup_left(text):
    shown = markdown_text(text)
    assert "<" not in shown
    assert ">" not in shown
    assert "\n" not in shown
    for special in "[]()`*_|!$:":
        assert all(shown[i - 1] == "\\" for i, c in enumerate(shown) if c == special)


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("=2+3*cmd", "'=2+3*cmd"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-", "-"),
        ("alice", "alice"),
        ("", ""),
    ],
)
def test_csv_cells_a_spreadsheet_would_run_start_with_a_quote(cell, shown):
    assert csv_cell(cell) == shown


@pytest.mark.parametrize(
    ("number", "name"),
    [(9, "SIGKILL"), (40, "SIGRTMIN+6"), (64, "SIGRTMAX"), (99, "signal 99"), (0, "signal 0")],
)
def test_every_signal_number_has_a_description(number, name):
    assert describe_signal(number) == name


def test_exception_types_from_the_answer_are_shown_only_when_they_are_standard():
    assert exception_type("ValueError: secret 1.5") == "ValueError"
    assert exception_type("ZeroDivisionError") == "ZeroDivisionError"
    assert exception_type("Leak_1500_2000: x") == "an exception"
    assert exception_type("ConnectionAbortedError: x") == "an exception"  # rare: folded


def test_the_memory_check_adds_up_a_whole_process_tree():
    """What stops a submission whose processes each stay under --memory-mb but not
    together: the sum over the tree, shared pages counted once (PSS)."""
    from utils.grading._sandbox import _tree_resident_bytes

    script = (
        "import os, sys, time\n"
        "import numpy as np\n"
        "for _ in range(2):\n"
        "    if os.fork() == 0:\n"
        "        block = np.ones(100 * 2**20 // 8)\n"
        "        print('ready', flush=True)\n"
        "        time.sleep(60)\n"
        "        os._exit(0)\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert [process.stdout.readline() for _ in range(2)] == ["ready\n", "ready\n"]
        total = _tree_resident_bytes(process.pid)
        assert 200 * 2**20 <= total < 600 * 2**20, total
    finally:
        children = subprocess.run(
            ["pgrep", "-P", str(process.pid)], capture_output=True, text=True
        ).stdout.split()
        for pid in children:  # before their parent, while they are still its children
            os.kill(int(pid), 9)
        process.kill()
        process.wait()


def test_a_notebook_with_a_byte_order_mark_is_read():
    import grading_fixtures as fx
    import nbformat

    from utils import exercises
    from utils.grading._discover import read_submission

    root = Path(__import__("tempfile").mkdtemp())
    text = nbformat.writes(fx.correct()).encode("utf-8")
    fx.write_bytes(b"\xef\xbb\xbf" + text, root / "alice" / "a.ipynb")
    submission = read_submission(root, ("alice", "a.ipynb"), set(exercises.lessons()), {})
    assert submission.problem is None
    assert submission.lesson == "00"


# --- the sandbox check before grading ---------------------------------------------------------


def run_grader(tmp_path, *arguments, environment=None):
    (tmp_path / "subs").mkdir(exist_ok=True)
    env = {key: value for key, value in os.environ.items() if key != "COURSE_GRADING_SEED"}
    env.update(environment or {})
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "utils.grading",
            str(tmp_path / "subs"),
            "--out",
            str(tmp_path / "out"),
            "--seed",
            "s",
            *arguments,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_bubblewrap_the_grader_refuses_with_the_install_line(tmp_path):
    result = run_grader(tmp_path, environment={"COURSE_GRADING_BWRAP": str(tmp_path / "none")})
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "apt-get install bubblewrap" in result.stderr
    assert "--unconfined" in result.stderr
    assert not (tmp_path / "out" / "grades.csv").exists()


def test_a_sandbox_that_cannot_start_is_refused_with_its_reason(tmp_path):
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    result = run_grader(tmp_path, environment={"COURSE_GRADING_BWRAP": str(fake)})
    assert result.returncode == 2
    assert "No permissions to create new namespace" in result.stderr
    assert "--unconfined" in result.stderr


def test_unconfined_grading_warns_what_it_allows_and_still_grades(tmp_path):
    import grading_fixtures as fx

    fx.write(fx.correct(), tmp_path / "subs" / "alice" / "a.ipynb")
    deep = (
        "import os\nfor _ in range(3000):\n    os.mkdir('d')\n    os.chdir('d')\n"
        "os.chdir(os.environ['HOME'])\nos.makedirs('x/y')\nos.chmod('x/y', 0)\nos.chmod('x', 0)\n"
    )
    fx.write(fx.after_imports(fx.correct(), deep), tmp_path / "subs" / "bob" / "a.ipynb")
    (tmp_path / "tmp").mkdir()
    result = run_grader(tmp_path, "--unconfined", environment={"TMPDIR": str(tmp_path / "tmp")})
    assert result.returncode == 0, result.stderr
    assert "WITHOUT a sandbox" in result.stderr
    assert "read the seed" in result.stderr
    rows = (tmp_path / "out" / "grades.csv").read_text().splitlines()[1:]
    assert len(rows) == 4, rows
    assert all(",passed," in row for row in rows), rows
    assert list((tmp_path / "tmp").iterdir()) == []  # the scratch folders are gone


def test_the_decoder_module_reads_no_files():
    """Nothing is ever read from a path a child controls: the parent's protocol
    module has no file reading at all."""
    source = Path(_protocol.__file__).read_text()
    assert "open(" not in source
    assert "np.load" not in source


def test_the_readme_status_table_lists_every_status():
    from utils.grading._grade import STATUSES

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("### Statuses") : readme.index("### What the grader protects")]
    listed = re.findall(r"^\| `([a-z_]+)` \|", table, re.MULTILINE)
    assert listed == list(STATUSES)
