"""Running one submission in a sandboxed child (the grader's side).

Each child runs under bubblewrap (`bwrap`, Debian's `bubblewrap`): new PID,
IPC, network, UTS and cgroup namespaces and a mount namespace whose root
holds only what Python needs, read-only (`/usr`, the Python installation,
the virtual environment, the course's `utils` package); a private `/tmp`
(a size-capped tmpfs, also the working folder); fresh `/proc` and `/dev`;
a clean environment. Submissions, other gradebooks, the output folder and
`$HOME` are not in it. `--die-with-parent`, `--new-session` (its own session,
hence its own scheduler autogroup: one child's busy processes share one
CPU share instead of starving the others).

Modes, chosen once per run and checked by a probe child before grading:

* ``root`` (the grader runs as root): bwrap sets the namespaces up as root,
  then `setpriv` drops the child to an unprivileged uid of its own
  (`sandbox_uids`: a block of 64 per grader run, chosen by its PID, no account
  needed), with no groups, no capabilities and `no_new_privs`.
* ``user`` (not root; needs unprivileged user namespaces): bwrap also
  creates a user namespace (`--disable-userns`: the child cannot nest one).
* ``unconfined`` (only with `--unconfined`): a plain child process in its own
  session with the same limits and protocol and nothing else.

Every mode: the child limits itself (address space, CPU seconds, file size,
process count, open files, no core) before any of the notebook runs; the
results come back over a pipe this process created (see `_protocol`), read
with size caps and a deadline per phase; the child is killed when it ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import queue
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from utils.grading import _protocol
from utils.grading._protocol import ResultError

__all__ = ["ChildRun", "Sandbox", "SandboxError", "describe_signal"]

CHILD_SCRIPT = str(Path(__file__).with_name("_child.py"))
FIRST_SANDBOX_UID = 200_000  # well above accounts; blocks of 64, one per grader run
SANDBOX_UID_BLOCKS = 1000
MAX_PROCESSES = 64
MAX_FILE_BYTES = 64 * 2**20
MAX_OPEN_FILES = 256
TMP_BYTES = 256 * 2**20
PHASE_SLACK_SECONDS = 10.0
INSTALL_LINE = "apt-get install bubblewrap"
WORK = "/tmp/work"
SETPRIV = "/usr/bin/setpriv"
BWRAP_VARIABLE = "COURSE_GRADING_BWRAP"  # another bwrap binary (tests: a missing one)
PR_SET_CHILD_SUBREAPER = 36
MEMORY_CHECK_SECONDS = 0.25
INTERRUPT_GRACE_SECONDS = 2.0  # after SIGINT, before the cell counts as uninterruptible
MAX_RERUNS = 4  # cells left out (each one a rerun of the notebook without it)


def _rerun_seconds(prefix: float) -> float:
    """What a rerun needs to get back to where a run took `prefix` seconds, with a
    quarter more and a second for a machine that got busier."""
    return 1.25 * prefix + 1.0


class SandboxError(RuntimeError):
    """The grader cannot run sandboxed children on this machine (with the reason)."""


def sandbox_uids(pid: int, jobs: int) -> list[int]:
    """The children's uids for one grader run (root mode): a block of 64 chosen by the
    grader's PID, so concurrent graders (whose PIDs differ) do not share them, skipping
    blocks that hold an account. Nothing on disk decides it (no folder to pre-create).

    >>> sandbox_uids(1234, 2) == sandbox_uids(1234, 2), len(sandbox_uids(7, 3))
    (True, 3)
    """
    for attempt in range(SANDBOX_UID_BLOCKS):
        block = (pid + attempt) % SANDBOX_UID_BLOCKS
        uids = [FIRST_SANDBOX_UID + 64 * block + slot for slot in range(jobs)]
        if not any(_has_account(uid) for uid in uids):
            return uids
    raise SandboxError("every sandbox uid block holds an account")


def _has_account(uid: int) -> bool:
    import grp
    import pwd

    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        pass
    try:
        grp.getgrgid(uid)
        return True
    except KeyError:
        return False


def describe_signal(number: int) -> str:
    """'SIGKILL', 'SIGRTMIN+6', or 'signal 99' for a number Python has no name for."""
    try:
        return signal.Signals(number).name
    except ValueError:
        low, high = getattr(signal, "SIGRTMIN", 34), getattr(signal, "SIGRTMAX", 64)
        if low <= number <= high:
            return f"SIGRTMIN+{number - low}"
        return f"signal {number}"


@dataclass
class ChildRun:
    """What came back from one child: its end, and the messages it sent (decoded)."""

    seconds: float = 0.0
    exit_code: int | None = None  # negative: killed by that signal (unconfined mode)
    limit: str | None = None  # "notebook", "cases" (time limits) or "memory": what it ran past
    notebook_timeout: float = 0.0
    memory_mb: int = 0
    cells: list[dict] | None = None
    visible: dict[int, dict] = field(default_factory=dict)
    hidden: dict[int, dict] = field(default_factory=dict)
    finished: bool = False
    hidden_sent: bool = False  # from then on, how the child ends is the answer's choice
    protocol_error: str | None = None
    # Per exercise, from the child's reading of the cells before any of them ran: the
    # cells that define the answer and the own-implementation calls found there.
    analysis: list[dict] | None = None
    tampering: list[str] = field(default_factory=list)  # reaches into the grading process
    current_cell: int | None = None  # the cell the child said it started last
    interrupted: list[int] = field(default_factory=list)  # cells this grader interrupted
    # Cells that ended the child or could not be interrupted, each with why; the notebook
    # was run again without them (cell number -> "uninterruptible" | "ended" | "memory").
    skipped: dict[int, str] = field(default_factory=dict)
    skipped_how: dict[int, str] = field(default_factory=dict)  # how each ended its process
    ended_in: tuple[int, str] | None = None  # this child ended inside that cell
    stopped_at: int | None = None  # the cells were stopped in (or before) it: none after ran
    # Why: "notebook" (--timeout), "uninterruptible" (it did not stop when interrupted and
    # no rerun without it fitted), "left out" (a last run stopped before it).
    stopped_why: str = "notebook"
    rerun: bool = False  # ended in a cell that ignored SIGINT, for a rerun without it (fits)
    cell_started: dict[int, float] = field(default_factory=dict)  # seconds into the run
    cell_timeout: float = 0.0

    def end(self) -> str:
        """How the child's process ended, in words."""
        code = self.exit_code
        if code is None:
            return "it did not end by itself"
        if code < 0:
            return f"it was ended by {describe_signal(-code)}"
        if 128 < code <= 128 + 64:  # bubblewrap reports a signal n as 128 + n
            return f"it was ended by {describe_signal(code - 128)} (or it exited with code {code})"
        return f"it exited with code {code}"


def _text_ok(value, limit: int) -> bool:
    return isinstance(value, str) and len(value) <= limit


_DYNAMIC_CALLS = re.compile(
    r"(getattr\([A-Za-z0-9_.]{1,150}, \.\.\.\)|sys\.modules\[\.\.\.\]"
    r"|(eval|exec|vars|__import__|importlib\.import_module)\((\.\.\.|'[A-Za-z0-9_.]{1,150}')\))"
)


# What the reading of the cells may name (it is sent before any cell runs, so only the
# grader's own code wrote it; the check keeps a broken one out of the gradebook).
_SAFE_CALL = re.compile(r"(?=.{1,160}$)[A-Za-z0-9_.()\[\]'=]+(, [A-Za-z0-9_.()\[\]'=]+)*")


def _known_call(call: str, own: tuple[str, ...]) -> bool:
    """Is `call` something the reading of the cells may name? (Plain dotted names, calls
    and subscripts: it is shown in the gradebook.)"""
    return _SAFE_CALL.fullmatch(call) is not None


MAX_OWN_CALLS = 8


class _Conversation:
    """The parent's side of the protocol for one child: what may come next.

    First the analysis (sent before any cell ran), then one "cell" message as each
    cell starts (numbers rising, each a cell of the submission), then the cells'
    report, each exercise's visible results, the hidden ones, "done". A notebook can
    write frames of its own, but only after the analysis, and only in this order:
    anything else makes the submission invalid.
    """

    def __init__(self, run: ChildRun, plan, cells):
        self.run, self.plan = run, plan
        self.numbers = set(range(1, cells + 1)) if isinstance(cells, int) else set(cells)
        self.cell_count = len(self.numbers)
        self.phase, self.index = "analysis", 0
        self.started: list[int] = []

    def _analysis(self, header: dict) -> None:
        if header.get("kind") != "analysis" or set(header) != {"kind", "exercises", "tampering"}:
            raise ResultError("the first message was not the reading of the cells")
        found = header["tampering"]
        if not (
            isinstance(found, list)
            and len(found) <= MAX_OWN_CALLS
            and all(_text_ok(item, 160) and _SAFE_CALL.fullmatch(item) for item in found)
        ):
            raise ResultError("the reading of the cells is malformed")
        self.run.tampering = list(found)
        exercises = header["exercises"]
        if not isinstance(exercises, list) or len(exercises) != len(self.plan.specs):
            raise ResultError("the reading of the cells does not cover every exercise")
        analysis = []
        for item, task_own in zip(exercises, self.plan.own, strict=True):
            if not (
                isinstance(item, dict)
                and set(item) == {"cells", "own_calls"}
                and isinstance(item["cells"], list)
                and all(type(n) is int and n in self.numbers for n in item["cells"])
                and len(item["cells"]) <= self.cell_count
                and isinstance(item["own_calls"], list)
                and len(item["own_calls"]) <= MAX_OWN_CALLS
                and all(_text_ok(call, 200) for call in item["own_calls"])
            ):
                raise ResultError("the reading of the cells is malformed")
            for call in item["own_calls"]:
                if not _known_call(call, task_own):
                    raise ResultError("the reading of the cells names an unknown call")
            analysis.append({"cells": list(item["cells"]), "own_calls": list(item["own_calls"])})
        self.run.analysis = analysis

    def handle(self, header: dict, arrays: list) -> str | None:
        """Take one frame; returns "cell_started", "cells_done" or "send_hidden" when the
        grader has something to do."""
        kind = header.get("kind")
        if self.phase == "analysis":
            self._analysis(header)
            self.phase = "cells"
            return None
        if self.phase == "cells" and kind == "cell":
            number = header.get("cell")
            if set(header) != {"kind", "cell"} or type(number) is not int:
                raise ResultError("a cell's start is malformed")
            if number not in self.numbers or (self.started and number <= self.started[-1]):
                raise ResultError("the cells did not start in order")
            self.started.append(number)
            self.run.current_cell = number
            return "cell_started"
        if self.phase == "cells":
            if kind != "cells" or set(header) != {"kind", "problems"}:
                raise ResultError("the cells' report did not come after the cells")
            problems = header["problems"]
            if not isinstance(problems, list) or len(problems) > self.cell_count:
                raise ResultError("the cells' report is not a list of cell problems")
            for problem in problems:
                if not (
                    isinstance(problem, dict)
                    and set(problem) == {"cell", "error"}
                    and type(problem["cell"]) is int
                    and problem["cell"] in self.numbers
                    and _text_ok(problem["error"], 300)
                ):
                    raise ResultError("a cell problem is malformed")
            self.run.cells = problems
            self.run.current_cell = None
            self.phase = "visible"
            return "cells_done"
        if self.phase == "done":
            raise ResultError("a message after the end")
        if self.phase == "last":
            if header != {"kind": "done"}:
                raise ResultError("expected the end of the results")
            self.run.finished = True
            self.phase = "done"
            return None
        expected_keys = {"kind", "phase", "index", "defined", "crash", "outcomes"}
        if kind != "exercise" or set(header) != expected_keys:
            raise ResultError(f"expected an exercise's results, got a {str(kind)[:20]!r} message")
        if header["phase"] != self.phase or header["index"] != self.index:
            raise ResultError("the exercises' results came out of order")
        defined, crash, entries = header["defined"], header["crash"], header["outcomes"]
        if not isinstance(defined, bool) or not (crash is None or _text_ok(crash, 300)):
            raise ResultError("an exercise's results are malformed")
        cases = self.plan.phase_cases(self.phase, self.index)
        if not isinstance(entries, list) or (
            len(entries) != len(cases) if defined and crash is None else entries != []
        ):
            raise ResultError("an exercise's results do not have one outcome per case")
        outcomes = [_protocol.decode_outcome(entry, arrays) for entry in entries]
        target = self.run.visible if self.phase == "visible" else self.run.hidden
        target[self.index] = {"defined": defined, "crash": crash, "outcomes": outcomes}
        self.index += 1
        if self.index == len(self.plan.specs):
            self.index = 0
            if self.phase == "visible":
                self.phase = "hidden"
                return "send_hidden"
            self.phase = "last"
        return None


class Sandbox:
    """Starts children, enforces the limits, reads their results.

    `Sandbox(course_root, timeout=60, case_seconds=3, memory_mb=2048, jobs=2,
    hidden=[submissions, out])` picks the mode and probes it (`mode`, `notes`);
    `run(cells, plan)` runs one submission and returns a `ChildRun`.
    """

    def __init__(
        self,
        course_root: str,
        *,
        timeout: float,
        case_seconds: float,
        memory_mb: int,
        jobs: int,
        hidden: list[str],
        unconfined: bool = False,
        cell_timeout: float | None = None,
    ):
        self.course_root = os.path.realpath(course_root)
        self.timeout = float(timeout)
        self.cell_timeout = float(cell_timeout) if cell_timeout else self.timeout / 2
        self.case_seconds = float(case_seconds)
        self.memory_bytes = int(memory_mb) * 2**20
        self.memory_mb = int(memory_mb)
        self.hidden = [os.path.realpath(path) for path in hidden]
        self.hidden.append(os.path.realpath(os.path.expanduser("~")))
        self.notes: list[str] = []
        self._fontlist: tuple[str, bytes] | None = None
        self._slots: queue.Queue = queue.Queue()
        for slot in range(jobs):
            self._slots.put(slot)
        self._uids = sandbox_uids(os.getpid(), jobs)
        if unconfined:
            self.mode = "unconfined"
        elif os.geteuid() == 0:
            self.mode = "root"
        else:
            self.mode = "user"
        self._bwrap = None
        if self.mode != "unconfined":
            chosen = os.environ.get(BWRAP_VARIABLE, "").strip()
            if chosen:
                self._bwrap = chosen if os.access(chosen, os.X_OK) else None
            else:
                self._bwrap = shutil.which("bwrap") or (
                    "/usr/bin/bwrap" if os.access("/usr/bin/bwrap", os.X_OK) else None
                )
            if self._bwrap is None:
                raise SandboxError(
                    "bubblewrap (bwrap) is not installed; install it "
                    f"(`{INSTALL_LINE}`), or pass --unconfined to grade without a sandbox"
                )
            if self.mode == "root" and not os.access(SETPRIV, os.X_OK):
                raise SandboxError(f"{SETPRIV} (util-linux) is needed to drop root in the sandbox")
        self._own_processes = _count_own_processes()
        self._active: set[int] = set()
        self._active_lock = threading.Lock()
        if self.mode == "unconfined":
            _become_subreaper()  # orphans a child leaves come back here, to be ended
        self._probe()
        if _autogroup() is False:
            self.notes.append(
                "the kernel's sched_autogroup is off: a submission's busy processes share "
                "the CPU with the others' by process, not by submission"
            )

    # -- building a child's command -----------------------------------------

    def _limits(self, plan=None) -> dict[str, int]:
        # CPU seconds: the wall-clock budgets of every phase (a child cannot use more
        # CPU than wall time with one thread; with more, this stops it earlier).
        cases = plan.budget("visible") + plan.budget("hidden") if plan is not None else 60.0
        cpu = self.timeout + cases + PHASE_SLACK_SECONDS
        processes = MAX_PROCESSES
        if self.mode == "unconfined" and os.geteuid() != 0:
            # Counted over all of this user's processes here (no namespace of its own).
            processes += self._own_processes + 8 * self._slots.qsize()
        return {
            "RLIMIT_AS": self.memory_bytes,
            "RLIMIT_CPU": math.ceil(cpu),
            "RLIMIT_FSIZE": MAX_FILE_BYTES,
            "RLIMIT_CORE": 0,
            "RLIMIT_NPROC": processes,
            "RLIMIT_NOFILE": MAX_OPEN_FILES,
        }

    def _exposed(self) -> list[str]:
        """Folders the child sees, read-only: Python, its packages, the course's utils."""
        paths = {
            os.path.realpath(sys.base_prefix),
            os.path.realpath(sys.prefix),
            os.path.abspath(sys.prefix),
            os.path.dirname(os.path.realpath(sys.executable)),
            os.path.dirname(os.path.abspath(sys.executable)),
            os.path.join(self.course_root, "utils"),
        }
        paths = {path for path in paths if os.path.isdir(path) and not _is_within(path, "/usr")}
        # Keep the outermost of nested folders.
        return sorted(p for p in paths if not any(q != p and _is_within(p, q) for q in paths))

    def _environment(self, home: str) -> dict[str, str]:
        return {
            "PATH": os.pathsep.join(
                [os.path.dirname(os.path.abspath(sys.executable)), "/usr/local/bin", "/usr/bin"]
            ),
            "HOME": home,
            "USER": "student",
            "LOGNAME": "student",
            "TMPDIR": home if self.mode == "unconfined" else "/tmp",
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": os.path.join(home, ".matplotlib"),
            "IPYTHONDIR": os.path.join(home, ".ipython"),
            "XDG_CACHE_HOME": os.path.join(home, ".cache"),
            "XDG_CONFIG_HOME": os.path.join(home, ".config"),
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "PYTHONHASHSEED": "0",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
        }

    def _bwrap_command(self, slot: int, data_fds: dict[str, int]) -> list[str]:
        command = [
            self._bwrap,
            "--unshare-ipc",
            "--unshare-pid",
            "--unshare-net",
            "--unshare-uts",
            "--unshare-cgroup-try",
        ]
        if self.mode == "user":
            command += ["--unshare-user", "--disable-userns"]
        command += ["--die-with-parent", "--new-session", "--hostname", "grading"]
        command += ["--ro-bind", "/usr", "/usr"]
        for name in ("bin", "lib", "lib32", "lib64", "libx32", "sbin"):
            path = f"/{name}"
            if os.path.islink(path):
                command += ["--symlink", os.readlink(path), path]
            elif os.path.isdir(path):
                command += ["--ro-bind", path, path]
        command += ["--proc", "/proc", "--dev", "/dev"]
        command += ["--perms", "1777", "--size", str(TMP_BYTES), "--tmpfs", "/tmp"]
        command += ["--perms", "0777", "--dir", WORK]
        command += ["--perms", "0777", "--dir", f"{WORK}/.matplotlib"]
        exposed = self._exposed()
        made = {"/", "/tmp", WORK}
        for path in exposed:
            parents = [str(parent) for parent in reversed(Path(path).parents)]
            for parent in parents:
                if parent not in made:  # bwrap would make them 0700: unreadable as the uid
                    command += ["--perms", "0755", "--dir", parent]
                    made.add(parent)
            command += ["--ro-bind", path, path]
        for path in self.hidden:
            if any(_is_within(path, outer) for outer in [*exposed, "/usr"]) and os.path.isdir(path):
                command += ["--tmpfs", path]
        for destination, descriptor in data_fds.items():
            if destination == "seccomp":
                command += ["--seccomp", str(descriptor)]
                continue
            command += ["--perms", "0644", "--file", str(descriptor), destination]
        command += ["--remount-ro", "/", "--chdir", WORK, "--clearenv"]
        for key, value in self._environment(WORK).items():
            command += ["--setenv", key, value]
        command.append("--")
        if self.mode == "root":
            uid = str(self._uids[slot])
            command += [
                SETPRIV,
                f"--reuid={uid}",
                f"--regid={uid}",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--no-new-privs",
                "--",
            ]
        return command

    def _data_files(self, uid_hint: int) -> dict[str, bytes]:
        files = {"/etc/passwd": f"student:x:{uid_hint}:{uid_hint}::{WORK}:/bin/sh\n".encode()}
        files["/etc/group"] = f"student:x:{uid_hint}:\n".encode()
        if self._fontlist is not None:
            name, data = self._fontlist
            files[f"{WORK}/.matplotlib/{name}"] = data
        program = seccomp_program()
        if program is not None:
            files["seccomp"] = program
        return files

    # -- the probe ------------------------------------------------------------

    def _probe(self) -> None:
        run, report, stderr = self._spawn(None, None, probe=True)
        if report is None:
            reason = " ".join(stderr.split())[-300:] or run.end()
            if self.mode == "unconfined":
                raise SandboxError(f"a grading child cannot start: {reason}")
            needs = (
                "bubblewrap needs unprivileged user namespaces when the grader is not root "
                "(see /proc/sys/user/max_user_namespaces and, on Debian/Ubuntu, "
                "/proc/sys/kernel/unprivileged_userns_clone or AppArmor's "
                "apparmor_restrict_unprivileged_userns)"
                if self.mode == "user"
                else "bubblewrap must be able to create namespaces (a container may forbid it)"
            )
            raise SandboxError(
                f"the sandbox does not work here ({reason}); {needs}; or pass --unconfined "
                "to grade without a sandbox"
            )
        problems = []
        if report.get("imports"):
            problems.append(f"the child cannot import the course ({report['imports']})")
        if self.mode != "unconfined":
            if report.get("writable"):
                problems.append(f"the child could write {report['writable'][0]}")
            if report.get("network"):
                problems.append("the child has a network")
            if len(report.get("pids", [])) > 3:
                problems.append("the child sees other processes")
            if self.mode == "root" and report.get("uid") == 0:
                problems.append("the child runs as root")
        if problems:
            raise SandboxError("the sandbox probe failed: " + "; ".join(problems))
        fontlist = report.get("fontlist")
        if (
            isinstance(fontlist, list)
            and len(fontlist) == 2
            and isinstance(fontlist[0], str)
            and re.fullmatch(r"fontlist-v[0-9]+\.json", fontlist[0])
            and isinstance(fontlist[1], str)
        ):
            self._fontlist = (fontlist[0], fontlist[1].encode("utf-8"))

    # -- one child ----------------------------------------------------------------

    def run(self, cells: list, plan, tagged: dict | None = None) -> ChildRun:
        """Run one submission (its raw code cells) against `plan`'s cases.

        A cell that runs past the per-cell limit and does not stop when interrupted
        is left out and the notebook runs again from the start without it, while a
        rerun fits in --timeout (at most MAX_RERUNS times); when none fits, the child
        is stopped in that cell (SIGUSR1: no later cell runs) and what the cells
        defined is graded. A cell that ends the child's process (or one that cannot
        even be stopped) is left out the same way; when no rerun fits, a last run
        stops before it, so the exercises whose cells ran are still graded."""
        slot = self._slots.get()
        try:
            skipped: dict[int, str] = {}
            how: dict[int, str] = {}
            interrupted: list[int] = []
            analysis = None  # the first run's: it read every cell, the left-out ones too
            tampering = None
            begin = time.monotonic()
            last_cell: int | None = None  # set: the final run stops before this cell
            while True:
                left = self.timeout - (time.monotonic() - begin)
                kept = [
                    cell
                    for cell in cells
                    if cell[0] not in skipped and (last_cell is None or cell[0] < last_cell)
                ]
                may_rerun = last_cell is None and len(skipped) < MAX_RERUNS
                job = (kept, plan, left, tagged or {}, may_rerun)
                run, _report, _stderr = self._spawn(slot, job, probe=False)
                analysis = run.analysis if analysis is None else analysis
                tampering = run.tampering if tampering is None else tampering
                if run.protocol_error is None:
                    run.analysis, run.tampering = analysis, tampering
                run.skipped, run.skipped_how = dict(skipped), dict(how)
                run.interrupted = sorted(set(interrupted) | set(run.interrupted))
                if last_cell is not None and run.ended_in is None:
                    run.stopped_at, run.stopped_why = last_cell, "left out"
                if run.ended_in is None or run.protocol_error is not None or last_cell:
                    run.seconds = time.monotonic() - begin
                    return run
                number, why = run.ended_in
                left = self.timeout - (time.monotonic() - begin)
                prefix = run.cell_started.get(number, 0.0)  # what reaching that cell took
                skipped[number] = why
                if why == "ended":  # before any hidden case was sent: safe to say how
                    how[number] = run.end()
                interrupted = run.interrupted
                fits = left >= _rerun_seconds(prefix)
                if run.rerun or (fits and len(skipped) <= MAX_RERUNS):
                    continue  # run again without it (`run.rerun`: as `_converse` decided)
                answers_before = any(
                    cell < number
                    for cells_of in [
                        *(item["cells"] for item in analysis or []),
                        *(tagged or {}).values(),
                    ]
                    for cell in cells_of
                )
                if not fits or not answers_before:
                    run.skipped, run.skipped_how = dict(skipped), dict(how)
                    run.seconds = time.monotonic() - begin
                    return run
                last_cell = number
        finally:
            self._slots.put(slot)

    def _spawn(self, slot, job, *, probe: bool):
        slot = 0 if slot is None else slot
        result_read, result_write = os.pipe()
        descriptors = [result_write]
        scratch = None
        stderr_file = tempfile.TemporaryFile() if probe else None  # noqa: SIM115 closed below
        try:
            if self.mode == "unconfined":
                scratch = tempfile.mkdtemp(prefix="course-grading-child-")
                home = scratch
                os.makedirs(os.path.join(scratch, ".matplotlib"))
                if self._fontlist is not None:
                    name, data = self._fontlist
                    Path(scratch, ".matplotlib", name).write_bytes(data)
                prefix, environment = [], self._environment(home)
            else:
                data_fds = {}
                uid = self._uids[slot] if self.mode == "root" else os.getuid()
                for destination, data in self._data_files(uid).items():
                    descriptor = os.memfd_create("grading-data")
                    os.write(descriptor, data)
                    os.lseek(descriptor, 0, os.SEEK_SET)
                    descriptors.append(descriptor)
                    data_fds[destination] = descriptor
                prefix = self._bwrap_command(slot, data_fds)
                environment, home = {}, WORK
            command = [
                *prefix,
                sys.executable,
                "-I",
                "-B",
                os.path.join(self.course_root, "utils", "grading", "_child.py"),
                _json(self._limits(None if probe else job[1])),
                str(result_write),
                self.course_root,
                "probe" if probe else "grade",
            ]
            begin = time.monotonic()
            with self._active_lock:
                process = subprocess.Popen(
                    command,
                    cwd=home if self.mode == "unconfined" else "/",
                    env=environment,
                    stdin=subprocess.DEVNULL if probe else subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=stderr_file if probe else subprocess.DEVNULL,
                    pass_fds=tuple(descriptors),
                    start_new_session=True,
                )
                self._active.add(process.pid)
            for descriptor in descriptors:
                os.close(descriptor)
            descriptors = []
            run = ChildRun(notebook_timeout=self.timeout, memory_mb=self.memory_mb)
            report = None
            stopped = False  # the grader stopped it (a limit): nothing to wait for
            try:
                if probe:
                    report = self._read_probe(process, result_read, run)
                else:
                    self._converse(process, result_read, run, *job)
                    stopped = run.limit is not None or (
                        run.ended_in is not None and run.ended_in[1] != "ended"
                    )
                    if run.ended_in is not None:
                        # Ended in a cell: the notebook runs again without it.
                        run.limit = None
            finally:
                self._end(process, wait=not stopped)
                run.seconds = time.monotonic() - begin
                run.exit_code = process.returncode
            stderr = ""
            if stderr_file is not None:
                stderr_file.seek(0)
                stderr = stderr_file.read(4096).decode("utf-8", "replace")
            return run, report, stderr
        finally:
            for descriptor in descriptors:
                with contextlib.suppress(OSError):
                    os.close(descriptor)
            os.close(result_read)
            if stderr_file is not None:
                stderr_file.close()
            if scratch is not None:
                _remove_tree(scratch, self.notes)

    def _end(self, process: subprocess.Popen, *, wait: bool = True) -> None:
        """Give an exiting child a moment to report its status (`wait`; not one the grader
        stopped, whose seconds a rerun needs), then kill what is left."""
        if wait:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=2)
        if self.mode == "unconfined":
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        elif process.returncode is None:
            process.kill()  # bwrap's --die-with-parent ends its whole PID namespace
        process.wait()
        with self._active_lock:
            self._active.discard(process.pid)
        if self.mode == "unconfined":
            self._kill_orphans()

    def _reap_orphans(self) -> None:
        """Collect exit statuses of orphans re-parented to us (never our own Popen children)."""
        me = str(os.getpid())
        with self._active_lock:
            for pid, status in _processes():
                if (
                    status.get("PPid") == me
                    and status.get("State", "").startswith("Z")
                    and pid not in self._active
                ):
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(pid, os.WNOHANG)

    def _kill_orphans(self) -> None:
        """Unconfined mode: kill what a child left behind (it came back to us), and below."""
        me = os.getpid()
        for _ in range(200):
            with self._active_lock:
                table = _processes()
                parents = {pid: int(status.get("PPid", "0") or 0) for pid, status in table}
                alive = {
                    pid
                    for pid, status in table
                    if not status.get("State", "").startswith(("Z", "X"))
                }
                stray = {pid for pid in alive if parents[pid] == me and pid not in self._active}
                grew = True
                while grew:
                    below = {pid for pid in alive if parents.get(pid) in stray} - stray
                    grew = bool(below)
                    stray |= below
            if not stray:
                break
            for pid in stray:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            self._reap_orphans()
            time.sleep(0.001)
        self._reap_orphans()

    def _read_probe(self, process, result_read, run) -> dict | None:
        reader = _protocol.FrameReader()
        deadline = time.monotonic() + max(60.0, self.timeout)
        report = None
        with selectors.DefaultSelector() as selector:
            selector.register(result_read, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not selector.select(timeout=min(1.0, deadline - time.monotonic())):
                    continue
                data = os.read(result_read, 2**20)
                if not data:
                    break
                try:
                    frames = reader.feed(data)
                except ResultError:
                    return None
                for header, _arrays in frames:
                    if header.get("kind") == "probe" and isinstance(header.get("report"), dict):
                        report = header["report"]
        return report

    def _interrupt(self, process, run: ChildRun, number=signal.SIGINT) -> bool:
        """SIGINT to the child's Python process (the sandbox's PID 2), as Jupyter
        interrupts a kernel (SIGUSR1: stop running cells); False when it cannot be found."""
        target = process.pid if self.mode == "unconfined" else _sandboxed_python(process.pid)
        if target is None:
            return False
        try:
            os.kill(target, number)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def _converse(
        self, process, result_read, run: ChildRun, cells, plan, budget, tagged, may_rerun
    ) -> None:
        """Send the cells and the cases; follow the child's report until it ends or a limit
        is reached. A cell that does not stop when interrupted ends this child when a
        rerun without it may and can follow (`may_rerun`, time left), else the cells are
        stopped there and graded."""
        conversation = _Conversation(run, plan, [number for number, _source in cells])
        reader = _protocol.FrameReader()
        stdin = process.stdin.fileno()
        os.set_blocking(stdin, False)
        pending = bytearray(
            _protocol.encode_frame({"kind": "cells", "cells": cells, "tagged": tagged})
        )
        pending += plan.visible_frame
        started = time.monotonic()
        deadline = started + max(budget, 0.0)
        run.cell_timeout = self.cell_timeout
        cell_deadline = math.inf  # the running cell's limit; then its grace after SIGINT
        grace = False
        stopping = False  # SIGUSR1 sent to a cell that ignored SIGINT: its grace runs
        limit = "notebook"
        next_memory_check = 0.0
        with selectors.DefaultSelector() as selector:
            selector.register(result_read, selectors.EVENT_READ)
            selector.register(stdin, selectors.EVENT_WRITE)
            writing = True
            while True:
                now = time.monotonic()
                left = deadline - now
                # The notebook's time is up: stop the cells (the running one is
                # interrupted) and grade what they defined; a notebook that does not
                # stop within the grace ends as before.
                if (
                    left <= 0
                    and limit == "notebook"
                    and run.stopped_at is None
                    and run.current_cell is not None
                    and self._interrupt(process, run, signal.SIGUSR1)
                ):
                    run.stopped_at = run.current_cell
                    deadline = now + INTERRUPT_GRACE_SECONDS
                    cell_deadline = math.inf
                    continue
                if left <= 0:
                    run.limit = limit
                    return
                if now >= cell_deadline and run.current_cell is not None:
                    if grace and not stopping:
                        prefix = run.cell_started.get(run.current_cell, 0.0)
                        run.rerun = may_rerun and left >= _rerun_seconds(prefix)
                        if not run.rerun and self._interrupt(process, run, signal.SIGUSR1):
                            # No rerun without it fits: stop the cells here and grade them.
                            run.stopped_at, run.stopped_why = run.current_cell, "uninterruptible"
                            stopping = True
                            cell_deadline = now + INTERRUPT_GRACE_SECONDS
                            deadline = max(deadline, cell_deadline + 1.0)
                            continue
                    if grace or not self._interrupt(process, run):
                        # It did not stop: end this child, run the notebook without it.
                        run.ended_in = (run.current_cell, "uninterruptible")
                        run.stopped_at, run.stopped_why = None, "notebook"
                        return
                    run.interrupted.append(run.current_cell)
                    grace = True
                    cell_deadline = now + INTERRUPT_GRACE_SECONDS
                wait = min(left, MEMORY_CHECK_SECONDS, max(cell_deadline - now, 0.0))
                events = selector.select(timeout=wait)
                if time.monotonic() >= next_memory_check:
                    # RLIMIT_AS bounds each process; this bounds them all together.
                    if _tree_resident_bytes(process.pid) > self.memory_bytes:
                        run.limit = "memory"
                        if run.current_cell is not None:
                            run.ended_in = (run.current_cell, "memory")
                        return
                    next_memory_check = time.monotonic() + MEMORY_CHECK_SECONDS
                for key, _mask in events:
                    if key.fd == stdin:
                        try:
                            written = os.write(stdin, pending[: 2**16])
                            del pending[:written]
                        except (BrokenPipeError, OSError):
                            pending.clear()
                        if not pending:
                            selector.unregister(stdin)
                            writing = False
                        continue
                    data = os.read(result_read, 2**20)
                    if not data:
                        if run.current_cell is not None and conversation.phase == "cells":
                            run.ended_in = (run.current_cell, "ended")
                        return
                    try:
                        for header, arrays in reader.feed(data):
                            step = conversation.handle(header, arrays)
                            if step == "cell_started":
                                run.cell_started[run.current_cell] = time.monotonic() - started
                                cell_deadline = time.monotonic() + self.cell_timeout
                                grace = False
                            elif step == "cells_done":
                                cell_deadline = math.inf
                                deadline = time.monotonic() + plan.budget("visible")
                                limit = "cases"
                            elif step == "send_hidden":
                                run.hidden_sent = True
                                pending += plan.hidden_frame
                                if not writing:
                                    selector.register(stdin, selectors.EVENT_WRITE)
                                    writing = True
                                deadline = time.monotonic() + plan.budget("hidden")
                    except ResultError as error:
                        run.protocol_error = str(error)
                        return
                if run.finished:
                    return

    def close(self) -> None:
        """Nothing is left between runs; kept for symmetry with callers' `finally`."""


def _json(value) -> str:
    import json

    return json.dumps(value)


def _is_within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _proc_status(pid: str) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8", errors="replace") as file:
            return dict(line.split(":\t", 1) for line in file.read().splitlines() if ":\t" in line)
    except OSError:  # the process is gone already
        return {}


def _processes() -> list[tuple[int, dict[str, str]]]:
    return [(int(pid), _proc_status(pid)) for pid in os.listdir("/proc") if pid.isdigit()]


# Seccomp: a child may not start a session of its own (that would give it a scheduler
# autogroup of its own, escaping its CPU share) nor create a user namespace (as root,
# bubblewrap cannot forbid it otherwise). clone3 hides its flags in memory: refused
# with ENOSYS, so the C library falls back to clone, whose flags are checked.
_SYSCALLS = {  # machine: (audit arch, setsid, unshare, clone, clone3)
    "x86_64": (0xC000003E, 112, 272, 56, 435),
    "aarch64": (0xC00000B7, 157, 97, 220, 435),
}
CLONE_NEWUSER = 0x10000000


def seccomp_program(machine: str | None = None) -> bytes | None:
    """The classic-BPF filter bubblewrap loads (`--seccomp`), or None on other machines."""
    import platform
    import struct

    numbers = _SYSCALLS.get(machine or platform.machine())
    if numbers is None:
        return None
    arch, setsid, unshare, clone, clone3 = numbers
    load, jeq, jge, jset, jump, ret = 0x20, 0x15, 0x35, 0x45, 0x05, 0x06
    allow, eperm, enosys = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38
    program = [
        (load, 0, 0, 4),  # 0: arch
        (jeq, 0, 9, arch),  # 1: another ABI: allow (11)
        (load, 0, 0, 0),  # 2: syscall number
        (jge, 8, 0, 0x40000000),  # 3: x32 numbers: deny (12)
        (jeq, 7, 0, setsid),  # 4: deny (12)
        (jeq, 7, 0, clone3),  # 5: ENOSYS (13)
        (jeq, 2, 0, unshare),  # 6: check flags (9)
        (jeq, 1, 0, clone),  # 7: check flags (9)
        (jump, 0, 0, 2),  # 8: allow (11)
        (load, 0, 0, 16),  # 9: args[0], low half
        (jset, 1, 0, CLONE_NEWUSER),  # 10: deny (12), else allow (11)
        (ret, 0, 0, allow),  # 11
        (ret, 0, 0, eperm),  # 12
        (ret, 0, 0, enosys),  # 13
    ]
    return b"".join(struct.pack("=HBBI", *instruction) for instruction in program)


def _sandboxed_python(bwrap_pid: int) -> int | None:
    """The host PID of the Python process bubblewrap started below `bwrap_pid`: the one
    that is PID 2 in the sandbox's own PID namespace (1 is bubblewrap's init)."""
    below, grew = {bwrap_pid}, True
    table = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            status = _proc_status(name)
            table.append((int(name), status.get("PPid", ""), status.get("NSpid", "").split()))
    while grew:
        grew = False
        for pid, parent, _nspid in table:
            if parent.isdigit() and int(parent) in below and pid not in below:
                below.add(pid)
                grew = True
    for pid, _parent, nspid in table:
        if pid in below and len(nspid) == 2 and nspid[1] == "2":
            return pid
    return None


def _tree_resident_bytes(root: int) -> int:
    """Memory used by `root` and every process below it (a sandbox's whole tree: its
    orphans are re-parented to its own init, which is below `root` too)."""
    parents, resident = {}, {}
    page = os.sysconf("SC_PAGE_SIZE")
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as file:
                fields = file.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(name)] = int(fields[1])
        resident[int(name)] = int(fields[21]) * page
    total, below = 0, {root}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in below and pid not in below:
                below.add(pid)
                grew = True
    for pid in below:
        total += _proportional_bytes(pid, resident.get(pid, 0))
    return total


def _proportional_bytes(pid: int, resident: int) -> int:
    """The process's share of the memory it uses (PSS: a page shared by n processes, as
    after fork, counts 1/n for each), or its resident size where that cannot be read."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as file:
            for line in file:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return resident


def _become_subreaper() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _count_own_processes() -> int:
    me = str(os.getuid())
    count = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            with (
                contextlib.suppress(OSError),
                open(f"/proc/{name}/status", encoding="utf-8", errors="replace") as file,
            ):
                for line in file:
                    if line.startswith("Uid:"):
                        count += line.split()[1] == me
                        break
    return count


def _autogroup() -> bool | None:
    try:
        with open("/proc/sys/kernel/sched_autogroup_enabled", encoding="ascii") as file:
            return file.read().strip() == "1"
    except OSError:
        return None


def _remove_tree(path: str, notes: list[str]) -> None:
    """Remove a child's scratch folder, however deep or unwritable it made it."""

    def make_writable_and_retry(function, failed, _info):
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(failed), 0o700)
            os.chmod(failed, 0o700)
        with contextlib.suppress(OSError):
            function(failed)

    with contextlib.suppress(RecursionError, OSError):
        shutil.rmtree(path, onerror=make_writable_and_retry)
    if os.path.lexists(path):
        subprocess.run(["chmod", "-R", "u+rwx", path], capture_output=True, check=False)
        subprocess.run(["rm", "-rf", "--", path], capture_output=True, check=False)
    if os.path.lexists(path):
        notes.append(f"could not remove a child's scratch folder {path}")
