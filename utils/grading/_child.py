"""The process that runs ONE submission, inside the sandbox; started by the grader only.

Run as a script (`python -I -B .../_child.py LIMITS RESULT_FD COURSE_ROOT`),
so nothing of the course is imported before it has limited itself. In order:

1. Set resource limits (address space, CPU seconds, file size, processes,
   open files, no core files) and close every inherited descriptor but
   stdin, stdout, stderr and the results pipe.
2. Read the job from stdin: a frame with the notebook's code cells, then a
   frame with the exercises and their VISIBLE cases.
3. Read the cells' syntax trees (which cells define each answer, calls of the
   course's own implementation) and send that, before any cell runs. Then run
   the cells in order in one namespace (IPython syntax converted here, cells
   that only display a course widget skipped), saying as each starts; an
   exception in a cell is recorded and the next cell runs, as with nbclient's
   `allow_errors`. The grader interrupts a cell past the per-cell limit with
   SIGINT (KeyboardInterrupt in that cell), and stops the cells with SIGUSR1
   (at the notebook limit, or a cell that the interrupt did not stop): the
   handler itself goes on to step 4 and ends the process, so no later cell
   runs and no `except` in the cell can swallow the stop.
4. Call each answer on its visible cases (`utils.checks.run_case`, a time
   budget per case) and send each exercise's outcomes as a frame on the
   results pipe.
5. Only then read the HIDDEN cases (the grader sends them once every visible
   result has arrived, so no cell and no visible-case message can have seen
   them), run them, send them, and say "done".

Everything this process sends is checked by the grader, which compares it
with the reference in its own process; nothing printed here is read.
"""

import ast
import contextlib
import json
import os
import re
import resource
import signal
import sys
import types

EXIT_DONE = 0
EXIT_BROKEN = 1


def _limit_resources(limits: dict) -> None:
    for name, value in limits.items():
        resource.setrlimit(getattr(resource, name), (value, value))


def _close_inherited(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        descriptor = int(name)
        if descriptor not in keep:
            with contextlib.suppress(OSError):  # the listing's own, already closed
                os.close(descriptor)


class CaseTimeout(BaseException):
    """Raised by SIGPROF (CPU time) or SIGALRM (wall time, twice as long: a sleeping
    answer) inside an answer that runs past its budget.

    A BaseException, so that an answer's `except Exception:` does not swallow it.
    """


def _on_alarm(signum, frame):
    raise CaseTimeout


class _GraderShell:
    """What `get_ipython()` returns to the converted cells (magics, `!commands`)."""

    def __init__(self, namespace: dict):
        self.user_ns = namespace

    def run_line_magic(self, name: str, line: str, _stack_depth: int = 1):
        if name in {"time", "timeit", "prun"}:
            exec(compile(line, "<magic>", "exec"), self.user_ns)
        elif name in {"matplotlib", "config", "load_ext", "autoreload", "precision", "xmode"}:
            return None
        else:
            raise RuntimeError(f"the magic %{name} is not available when grading")

    def run_cell_magic(self, name: str, line: str, cell: str):
        if name in {"time", "timeit", "prun", "capture"}:
            exec(compile(cell, "<magic>", "exec"), self.user_ns)
        elif name in {"html", "HTML", "markdown", "latex", "javascript", "js", "svg"}:
            return None
        else:
            raise RuntimeError(f"the cell magic %%{name} is not available when grading")

    def system(self, command: str) -> int:
        import subprocess

        return subprocess.call(command, shell=True)

    def getoutput(self, command: str, split: bool = True):
        import subprocess

        text = subprocess.run(command, shell=True, capture_output=True, text=True).stdout
        return text.splitlines() if split else text


def _display(*objects, **kwargs) -> None:
    """Stand-in for IPython's `display` builtin; the grader shows nothing."""


def _short(error: BaseException) -> str:
    try:
        text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    except BaseException:  # an exception whose str() raises
        text = type(error).__name__
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


def _to_python(source: str) -> str:
    """IPython syntax (magics, `!shell`) as plain Python, as Jupyter would run it.

    Plain Python is left alone (IPython is imported only for a cell that is
    not valid Python)."""
    try:
        compile(source, "<cell>", "exec", dont_inherit=True)
        return source
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass
    if not _IPYTHON_SYNTAX.search(source):  # nothing IPython could turn into Python
        return source
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except BaseException:  # leave it: compiling it reports the error
        return source


def _converted(source: str) -> str:
    try:
        return _to_python(source)
    except BaseException:  # compiling it reports the problem
        return source


# Magics, `!shell`, `x = !cmd`, `obj?` help: the only syntax IPython adds to Python.
_IPYTHON_SYNTAX = re.compile(r"^\s*[%!?]|=\s*[%!]|\?\s*$", re.MULTILINE)

# Cells that only display a course widget (an explorer, a quiz) are skipped:
# they define nothing an answer can use, and drawing their charts would
# double the time of a lesson's run in the grader.
_DISPLAY_ONLY_PREFIXES = ("utils.widgets.", "utils.quiz(", "utils.numeric_quiz(")


def is_display_only(source: str) -> bool:
    """True for a cell that is one call of a course widget builder, e.g.
    ``utils.widgets.quiz(...)``: a single expression that assigns nothing."""
    try:
        body = ast.parse(source).body
        if len(body) != 1 or not isinstance(body[0], ast.Expr):
            return False
        call = body[0].value
        if not isinstance(call, ast.Call):
            return False
        name = ast.unparse(call.func) + "("
        return name.startswith(_DISPLAY_ONLY_PREFIXES) and not any(
            isinstance(node, ast.NamedExpr | ast.Lambda) for node in ast.walk(call)
        )
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False


class _CellState:
    """Whether a cell is running (`cell`: its number): the grader's interrupt (SIGINT)
    only ever lands in one. `stop`: no further cell runs (SIGUSR1). `finish`: what
    grades the cells run so far and ends the process; `pid`: the runner's process
    (a cell's forked child that goes on with the notebook is not it)."""

    running = False
    cell = None
    stop = False
    finish = None
    pid = None
    problems = None  # the list `_run_cells` fills


def _on_interrupt(signum, frame):
    if signum == signal.SIGUSR1:
        _CellState.stop = True
        if _CellState.running and _CellState.finish is not None and _CellState.pid == os.getpid():
            # Stopped inside a cell: grade from here and end the process, never going
            # back into the cell (whose `except` or `finally` could swallow the stop).
            _CellState.running = False
            _CellState.problems.append({"cell": _CellState.cell, "error": "KeyboardInterrupt"})
            _CellState.finish(_CellState.problems)
    if _CellState.running:
        raise KeyboardInterrupt
    # Between cells (the cell it was meant for had just finished): nothing to stop.


def _run_cells(cells: list, namespace: dict, send) -> list[dict]:
    """Run every cell in order; before each, tell the grader which one starts (its
    per-cell clock), so it can interrupt a cell that runs too long."""
    problems = _CellState.problems = []
    for number, python in cells:
        if _CellState.stop:
            break
        try:
            if is_display_only(python):
                continue
            code = compile(python, f"<cell {number}>", "exec")
        except BaseException as error:  # a SyntaxError: recorded, the next cells run
            problems.append({"cell": number, "error": _short(error)})
            continue
        send({"kind": "cell", "cell": number})
        try:
            _CellState.running, _CellState.cell = True, number
            exec(code, namespace)
        except BaseException as error:  # a cell's SystemExit or KeyboardInterrupt too
            _CellState.running = False
            problems.append({"cell": number, "error": _short(error)})
        finally:
            _CellState.running = False
        if os.getpid() != _CellState.pid:
            # A process the cell forked that left its branch: it must not run the
            # notebook's later cells (nor report them as the notebook's).
            os._exit(EXIT_DONE)
    return problems


# --- reading the answers' code before any of it runs ------------------------------


def _python_or_none(python: str):
    try:
        return ast.parse(python)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return None


def _defines(tree, name: str) -> bool:
    """Does a cell bind `name` at its top level (def, class, assignment, import)?"""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == name:
                return True
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if (alias.asname or alias.name.split(".")[0]) == name:
                    return True
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name) and leaf.id == name:
                        return True
    return False


def _defines_textually(source: str, name: str) -> bool:
    """For a cell that does not parse: does a line start defining `name`?"""
    pattern = rf"^(?:async\s+)?def\s+{re.escape(name)}\b|^{re.escape(name)}\s*[:=]"
    return re.search(pattern, source, re.MULTILINE) is not None


def analyse(cells: list, tasks: list, tagged: dict | None = None) -> list[dict]:
    """For each exercise: the cells that define its answer, and the calls of the course's
    own implementation of it found in them (see `_own_calls`). Runs before any cell does,
    so nothing the notebook does can change it."""
    from utils.grading._own_calls import find_own_calls

    trees = {}
    for number, source in cells:
        try:
            trees[number] = _python_or_none(source)
        except BaseException:  # a pathological cell: treated as one that does not parse
            trees[number] = None
    report = []
    for task in tasks:
        name = task["answer_name"]
        defining = []
        for number, source in cells:
            tree = trees.get(number)
            if (tree is not None and _defines(tree, name)) or (
                tree is None and _defines_textually(source, name)
            ):
                defining.append(number)
        # The hand-out's answer cell (its nbgrader id) is searched too: it may bind the
        # answer only at run time (exec, globals()), which no statement shows.
        marked = [n for n in (tagged or {}).get(task.get("id"), []) if n not in defining]
        try:
            calls = find_own_calls(
                [trees.get(number) for number, _source in cells],
                [trees.get(number) for number in [*defining, *marked]],
                task.get("own", []),
                name,
            )
        except BaseException:  # a tree too deep to walk: nothing found, nothing flagged
            calls = []
        report.append({"cells": defining, "own_calls": calls})
    return report


def tampering(cells: list) -> list[str]:
    """What in the notebook reaches into this process's own code, frames or objects."""
    from utils.grading._own_calls import find_tampering

    trees = []
    for _number, source in cells:
        try:
            trees.append(_python_or_none(source))
        except BaseException:
            trees.append(None)
    try:
        return find_tampering(trees)
    except BaseException:  # a tree too deep to walk: read as nothing found
        return []


def _run_exercise(task: dict, arrays: dict, namespace: dict, tools: dict) -> dict:
    """Every case with its own budget: CPU time (what other processes on a loaded machine
    cannot take away) and, for an answer that sleeps or waits, twice that in wall time."""
    if task["answer_name"] not in namespace:
        return {"defined": False, "outcomes": []}
    spec = tools["specs"][task["id"]]
    seconds = tools["case_seconds"]
    outcomes = []
    for encoded_case in task["cases"]:
        case = tools["Case"](**tools["from_plain"](encoded_case, arrays, callables=True))
        answer = namespace.get(task["answer_name"])
        timed_out = False
        signal.setitimer(signal.ITIMER_PROF, seconds)
        signal.setitimer(signal.ITIMER_REAL, 2 * seconds)
        try:
            outcome = tools["run_case"](answer, spec, case)
        except CaseTimeout:
            timed_out = True
            outcome = tools["CaseOutcome"]("error", error="timeout")
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.setitimer(signal.ITIMER_REAL, 0)
        outcomes.append((outcome, timed_out))
    return {"defined": True, "outcomes": outcomes}


def _send_exercise(send, phase: str, index: int, report: dict) -> None:
    frame_arrays, entries = [], []
    for outcome, timed_out in report.get("outcomes", []):
        record, arrays = outcome.to_record()
        mapping = {}
        for key, array in arrays.items():
            mapping[key] = len(frame_arrays)
            frame_arrays.append(array)
        entries.append({"record": record, "arrays": mapping, "timed_out": timed_out})
    header = {
        "kind": "exercise",
        "phase": phase,
        "index": index,
        "defined": report.get("defined", True),
        "crash": report.get("crash"),
        "outcomes": entries,
    }
    send(header, frame_arrays)


def _run_phase(phase, tasks, arrays, namespace, tools, send) -> None:
    for index, task in enumerate(tasks):
        try:
            report = _run_exercise(task, arrays, namespace, tools)
        except BaseException as error:  # the runner itself was broken by the notebook
            report = {"defined": True, "outcomes": [], "crash": _short(error)}
        try:
            _send_exercise(send, phase, index, report)
        except (TypeError, ValueError) as error:  # an outcome that cannot be framed
            report = {"defined": True, "outcomes": [], "crash": _short(error)}
            _send_exercise(send, phase, index, report)


def _grade(result_fd: int, course_root: str) -> None:
    sys.path.insert(0, course_root)
    # Taken before any cell runs: a notebook that patches utils.checks or
    # utils.exercises afterwards does not change how its answers are called.
    from utils.checks import CaseOutcome, run_case
    from utils.exercises import Case, get
    from utils.grading._protocol import from_plain, read_frame, write_frame

    # The job stream on a descriptor of its own; the notebook's stdin is empty (a
    # cell's `exit()` closes sys.stdin, and nothing there is the notebook's).
    jobs = os.fdopen(os.dup(0), "rb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    cells_frame, _ = read_frame(jobs)
    visible, visible_arrays = read_frame(jobs)
    arrays = {f"a{index}": array for index, array in enumerate(visible_arrays)}
    tools = {
        "specs": {task["id"]: get(task["id"]) for task in visible["tasks"]},
        "Case": Case,
        "CaseOutcome": CaseOutcome,
        "run_case": run_case,
        "from_plain": from_plain,
        "case_seconds": float(visible["case_seconds"]),
    }

    _CellState.pid = os.getpid()

    def send(header, frame_arrays=()):
        if os.getpid() == _CellState.pid:  # (never a forked child's frames)
            write_frame(result_fd, header, frame_arrays)

    cells = [(number, _converted(source)) for number, source in cells_frame["cells"]]
    send(
        {
            "kind": "analysis",
            "exercises": analyse(cells, visible["tasks"], cells_frame.get("tagged")),
            "tampering": tampering(cells),
        }
    )
    # The notebook gets a fresh __main__ of its own: this script's module (the runner
    # called after the cells) is not reachable through sys.modules.
    main_module = types.ModuleType("__main__")
    sys.modules["__main__"] = main_module
    namespace = main_module.__dict__
    namespace.update({"__name__": "__main__", "__builtins__": __builtins__})
    shell = _GraderShell(namespace)
    namespace.update(get_ipython=lambda: shell, display=_display)

    def finish(problems):
        """Report the cells, check the answers, end the process (also from a stop)."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        _CellState.finish = None
        try:
            send({"kind": "cells", "problems": problems})
            signal.signal(signal.SIGALRM, _on_alarm)
            signal.signal(signal.SIGPROF, _on_alarm)
            _run_phase("visible", visible["tasks"], arrays, namespace, tools, send)
            frame = read_frame(jobs)
            if frame is not None:
                hidden, hidden_arrays = frame
                hidden_arrays = {f"a{index}": array for index, array in enumerate(hidden_arrays)}
                _run_phase("hidden", hidden["tasks"], hidden_arrays, namespace, tools, send)
                send({"kind": "done"})
        except BaseException as error:
            sys.stderr.write(f"grading child: {_short(error)}\n")
            sys.stderr.flush()
            os._exit(EXIT_BROKEN)
        # Skip atexit handlers and non-daemon threads the notebook may have left.
        os._exit(EXIT_DONE)

    _CellState.finish = finish
    signal.signal(signal.SIGINT, _on_interrupt)
    signal.signal(signal.SIGUSR1, _on_interrupt)
    finish(_run_cells(cells, namespace, send))


def _probe(result_fd: int, course_root: str) -> None:
    """Report what the sandbox allows, and build matplotlib's font list once."""
    sys.path.insert(0, course_root)
    report = {"uid": os.getuid(), "imports": None, "pids": [], "fontlist": None}
    report["pids"] = sorted(int(name) for name in os.listdir("/proc") if name.isdigit())
    try:
        import numpy  # noqa: F401

        import utils
        import utils.checks
        import utils.exercises  # noqa: F401
        from utils.grading import _protocol  # noqa: F401
    except BaseException as error:
        report["imports"] = _short(error)
    # access() also answers False on a read-only mount; nothing is written here.
    report["writable"] = [
        path
        for path in (os.path.join(course_root, "utils"), sys.prefix, "/usr")
        if os.access(path, os.W_OK)
    ]
    try:
        import socket

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.connect(("192.0.2.1", 9))  # needs a route: none in a network namespace
        report["network"] = True
    except OSError:
        report["network"] = False
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.font_manager as font_manager

        name = os.path.basename(font_manager._get_fontmanager_cache_path())
        with open(font_manager._get_fontmanager_cache_path(), encoding="utf-8") as file:
            report["fontlist"] = [name, file.read(2**20)]
    except BaseException:  # the course may not use matplotlib
        pass
    from utils.grading._protocol import write_frame

    write_frame(result_fd, {"kind": "probe", "report": report})


def main() -> None:
    limits, result_fd, course_root, mode = (
        json.loads(sys.argv[1]),
        int(sys.argv[2]),
        sys.argv[3],
        sys.argv[4],
    )
    try:
        _limit_resources(limits)
        _close_inherited({0, 1, 2, result_fd})
    except BaseException as error:
        sys.stderr.write(f"grading child: cannot confine itself: {_short(error)}\n")
        os._exit(EXIT_BROKEN)
    try:
        if mode == "probe":
            _probe(result_fd, course_root)
        else:
            _grade(result_fd, course_root)
    except BaseException as error:
        sys.stderr.write(f"grading child: {_short(error)}\n")
        sys.stderr.flush()
        os._exit(EXIT_BROKEN)
    # Skip atexit handlers and non-daemon threads the notebook may have left.
    os._exit(EXIT_DONE)


if __name__ == "__main__":
    main()
