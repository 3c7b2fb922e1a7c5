"""Running one submission in a confined child process (the grader's side).

Two modes, chosen once per grading run by a probe child:

* ``user`` (the grader runs as root): each concurrent job has its own
  unprivileged uid (61000 + k, chosen free of passwd/group entries and locked
  against other graders on the machine). The child enters a private mount
  namespace (course read-only, submissions and output folder hidden, private
  /tmp), then drops to that uid. After it ends, every process with that uid is
  killed (found by scanning /proc), so nothing it started survives.
* ``process`` (not root, or the machine refuses the sandbox): the child runs
  as the grader's own user in its own session; orphans it leaves come back to
  the grader (PR_SET_CHILD_SUBREAPER) and are killed. The child could write
  the course's files here, so the grader fingerprints the `utils` package
  before and after each submission (see `_grade`).

Both modes: wall-clock limit then SIGKILL of the whole process group, address
space / CPU / file-size limits, a fresh scratch folder as the working
directory (deleted afterwards), a clean environment without
`NBGRADER_EXECUTION`, and `MPLBACKEND=Agg`, `OPENBLAS_NUM_THREADS=1`.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import grp
import json
import math
import os
import pwd
import queue
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from utils.grading import _protocol

__all__ = ["ChildRun", "Sandbox", "SandboxError"]

CHILD_SCRIPT = str(Path(__file__).with_name("_child.py"))
EXIT_SANDBOX_FAILED = 86  # keep in step with _child.py
FIRST_SANDBOX_UID = 61000
SANDBOX_UID_COUNT = 1000
MAX_PROCESSES = 64
MAX_FILE_BYTES = 256 * 2**20
PR_SET_CHILD_SUBREAPER = 36
MODE_VARIABLE = "COURSE_GRADING_SANDBOX"


class SandboxError(RuntimeError):
    """The grader cannot start grading children at all on this machine."""


@dataclass
class ChildRun:
    """What came back from one child: its end, and the messages it wrote."""

    seconds: float
    timed_out: bool = False
    exit_code: int | None = None  # negative: killed by that signal
    cells: dict | None = None
    exercises: dict[int, object] = field(default_factory=dict)  # index -> payload or error


def _proc_status(pid: str) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8", errors="replace") as file:
            return dict(line.split(":\t", 1) for line in file.read().splitlines() if ":\t" in line)
    except OSError:  # the process is gone already
        return {}


def _processes() -> list[tuple[int, dict[str, str]]]:
    return [(int(pid), _proc_status(pid)) for pid in os.listdir("/proc") if pid.isdigit()]


def _path_chain(path: str) -> list[str]:
    """Every directory from just below "/" down to `path` itself."""
    parts = Path(path).parts[1:]
    return [os.path.join("/", *parts[: index + 1]) for index in range(len(parts))]


def _is_within(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


class Sandbox:
    """Starts children, enforces the limits, cleans up after them.

    `Sandbox(course_root, timeout=60, memory_mb=2048, jobs=2, hidden=[submissions,
    out])` probes the machine once (`mode`, `notes`); `run(job, arrays)` then runs
    one submission and returns a `ChildRun`; `close()` removes the work folder.
    Use it only in a process of its own: it reaps and kills stray children.
    """

    def __init__(
        self,
        course_root: str,
        *,
        timeout: float,
        memory_mb: int,
        jobs: int,
        hidden: list[str],
    ):
        self.course_root = os.path.realpath(course_root)
        self.timeout = float(timeout)
        self.memory_bytes = int(memory_mb) * 2**20
        self.hidden = [os.path.realpath(path) for path in hidden]
        self.notes: list[str] = []  # warnings for the instructor
        self._active: set[int] = set()
        self._active_lock = threading.Lock()
        self._workdir = tempfile.mkdtemp(prefix="course-grading-")
        os.chmod(self._workdir, 0o711)  # children may pass through, never list
        self._private = os.path.join(self._workdir, "private")
        os.mkdir(self._private, 0o700)
        self._lock_files: list[int] = []
        self._font_cache: list[tuple[str, bytes]] = []
        self._serial = 0
        self._serial_lock = threading.Lock()
        _become_subreaper()
        requested = os.environ.get(MODE_VARIABLE, "").strip().lower()
        if requested not in ("", "user", "process"):
            raise SandboxError(f"{MODE_VARIABLE} must be 'user' or 'process', got {requested!r}")
        self.mode = "process"
        self.namespace = False
        self._slots: queue.Queue = queue.Queue()
        if os.geteuid() == 0 and requested != "process":
            self._try_user_mode(jobs)
        elif requested == "user":
            self.notes.append(
                f"{MODE_VARIABLE}=user needs the grader to run as root; using the process mode."
            )
        if self.mode == "process":
            for _ in range(jobs):
                self._slots.put(None)
            report = self._probe(None, namespace=False)
            if report.get("imports"):
                raise SandboxError(f"a grading child cannot import the course: {report['imports']}")

    # -- set-up -------------------------------------------------------------

    def _try_user_mode(self, jobs: int) -> None:
        uids = self._reserve_uids(jobs)
        if len(uids) < jobs:
            self.notes.append("no free sandbox uids: children run as the grader's own user.")
            return
        reasons = []
        for namespace in (True, False):
            report = self._probe(uids[0], namespace=namespace)
            problem = self._probe_problem(report, uids[0])
            if problem is None:
                self.mode, self.namespace = "user", namespace
                for uid in uids:
                    self._kill_uid(uid)  # leftovers of a grader that crashed
                    self._slots.put(uid)
                if not namespace:
                    self.notes.append(
                        "mount namespaces are not available: submissions and the output "
                        "folder are protected by file permissions only."
                    )
                return
            reasons.append(problem)
        for descriptor in self._lock_files:
            os.close(descriptor)
        self._lock_files.clear()
        self.notes.append(
            "cannot run children as an unprivileged user ("
            + "; ".join(reasons)
            + "): they run as root, protected by the course fingerprint only."
        )

    @staticmethod
    def _probe_problem(report: dict, uid: int) -> str | None:
        if "failed" in report:
            return report["failed"]
        if report.get("uid") != uid or report.get("euid") != uid:
            return "the child did not change its uid"
        if report.get("imports"):
            return f"the sandbox user cannot import the course ({report['imports']})"
        if report.get("writable"):
            return f"the sandbox user could write {report['writable'][0]}"
        return None

    def _reserve_uids(self, count: int) -> list[int]:
        """Lock `count` uids no account uses, so two graders never share one."""
        lock_directory = os.path.join(tempfile.gettempdir(), "course-grading-uids")
        with contextlib.suppress(FileExistsError):
            os.mkdir(lock_directory, 0o700)
        info = os.lstat(lock_directory)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o077:
            self.notes.append(f"{lock_directory} is not a private root directory.")
            return []
        uids = []
        for uid in range(FIRST_SANDBOX_UID, FIRST_SANDBOX_UID + SANDBOX_UID_COUNT):
            if len(uids) == count:
                break
            try:
                pwd.getpwuid(uid)
                continue
            except KeyError:
                pass
            try:
                grp.getgrgid(uid)
                continue
            except KeyError:
                pass
            path = os.path.join(lock_directory, f"{uid}.lock")
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(descriptor)
                continue
            self._lock_files.append(descriptor)
            uids.append(uid)
        return uids

    def _exposed_paths(self, scratch_base: str) -> list[str]:
        """What a child must reach: Python, its packages, the course, its scratch."""
        candidates = [
            scratch_base,
            self.course_root,
            sys.prefix,
            sys.base_prefix,
            os.path.dirname(sys.executable),
            os.path.dirname(os.path.realpath(sys.executable)),
        ]
        working_directory = os.getcwd()
        for entry in sys.path:
            if entry and os.path.isdir(entry) and os.path.abspath(entry) != working_directory:
                candidates.append(entry)
        paths = set()
        for candidate in candidates:
            paths.add(os.path.abspath(candidate))
            paths.add(os.path.realpath(candidate))
        return sorted(paths)

    def _namespace_plan(self) -> dict:
        exposed = self._exposed_paths(self._workdir)
        covers: dict[str, tuple[int, str]] = {}
        for path in exposed:
            for directory in _path_chain(path)[:-1]:
                with contextlib.suppress(OSError):
                    if not os.stat(directory).st_mode & stat.S_IXOTH:
                        covers[directory] = (0o755, "16k")
        for directory in self.hidden:
            if directory != "/" and os.path.isdir(directory):
                covers.setdefault(directory, (0o755, "16k"))
        for directory in ("/tmp", "/var/tmp", "/dev/shm"):
            if os.path.isdir(directory) and not os.path.islink(directory):
                covers[directory] = (0o1777, "64m")
        overmounts = []
        for directory in sorted(covers, key=lambda d: (d.count("/"), d)):
            keep = sorted(
                {
                    os.path.relpath(path, directory).split("/")[0]
                    for path in exposed
                    if _is_within(path, directory) and path != directory
                }
            )
            mode, size = covers[directory]
            overmounts.append([directory, mode, keep, size])
        return {"overmounts": overmounts, "read_only": [self.course_root]}

    def _probe(self, uid: int | None, *, namespace: bool) -> dict:
        scratch = self._new_scratch(uid)
        log_path = os.path.join(self._private, "probe-stderr.txt")
        config = self._config(scratch, uid, namespace=namespace, probe=True)
        config["must_not_write"] = [
            os.path.join(self.course_root, "utils"),
            *[path for path in self.hidden if os.path.isdir(path)],
        ]
        try:
            with open(log_path, "wb") as log:
                run = self._spawn_and_wait(config, scratch, uid, stderr=log)
            if run.timed_out:
                return {"failed": "the probe child timed out"}
            try:
                with open(os.path.join(scratch, "probe.json"), encoding="utf-8") as file:
                    report = json.load(file)
            except (OSError, ValueError):
                with open(log_path, encoding="utf-8", errors="replace") as file:
                    tail = " ".join(file.read()[-400:].split())
                return {"failed": f"the probe child ended with code {run.exit_code}: {tail}"}
            self._keep_font_cache(scratch)
            return report
        finally:
            self._remove_scratch(scratch)

    def _keep_font_cache(self, scratch: str) -> None:
        """Matplotlib's font list, built once by the probe, copied into every scratch."""
        cache = os.path.join(scratch, ".matplotlib")
        with contextlib.suppress(OSError):
            for name in sorted(os.listdir(cache)):
                path = os.path.join(cache, name)
                if (
                    name.startswith("fontlist")
                    and os.path.isfile(path)
                    and not os.path.islink(path)
                ):
                    with open(path, "rb") as file:
                        self._font_cache.append((name, file.read(8 * 2**20)))

    # -- one child ----------------------------------------------------------

    def _config(self, scratch: str, uid: int | None, *, namespace: bool, probe: bool) -> dict:
        limits = {
            "RLIMIT_AS": self.memory_bytes,
            "RLIMIT_CPU": math.ceil(self.timeout) + 5,
            "RLIMIT_FSIZE": MAX_FILE_BYTES,
            "RLIMIT_CORE": 0,
            "RLIMIT_NPROC": MAX_PROCESSES if uid is not None else None,
        }
        return {
            "scratch": scratch,
            "course_root": self.course_root,
            "uid": uid,
            "gid": uid,
            "namespace": self._namespace_plan() if namespace else None,
            "limits": limits,
            "probe": probe,
        }

    def _environment(self, scratch: str) -> dict[str, str]:
        return {
            "PATH": f"{os.path.dirname(sys.executable)}:/usr/local/bin:/usr/bin:/bin",
            "HOME": scratch,
            "TMPDIR": os.path.join(scratch, "tmp"),
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": os.path.join(scratch, ".matplotlib"),
            "IPYTHONDIR": os.path.join(scratch, ".ipython"),
            "XDG_CACHE_HOME": os.path.join(scratch, ".cache"),
            "XDG_CONFIG_HOME": os.path.join(scratch, ".config"),
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
        }

    def _new_scratch(self, uid: int | None) -> str:
        with self._serial_lock:
            self._serial += 1
            serial = self._serial
        scratch = os.path.join(self._workdir, f"job-{serial}")
        os.mkdir(scratch, 0o700)
        for name in ("tmp", ".matplotlib"):
            os.mkdir(os.path.join(scratch, name), 0o700)
        for name, data in self._font_cache:
            with open(os.path.join(scratch, ".matplotlib", name), "wb") as file:
                file.write(data)
        if uid is not None:
            for directory, _folders, files in os.walk(scratch):
                os.chown(directory, uid, uid)
                for name in files:
                    os.chown(os.path.join(directory, name), uid, uid)
        return scratch

    def _remove_scratch(self, scratch: str) -> None:
        def make_writable_and_retry(function, path, _info):
            with contextlib.suppress(OSError):
                os.chmod(os.path.dirname(path), 0o700)
                os.chmod(path, 0o700)
            with contextlib.suppress(OSError):
                function(path)

        shutil.rmtree(scratch, onerror=make_writable_and_retry)

    def _spawn_and_wait(self, config: dict, scratch: str, uid: int | None, stderr) -> ChildRun:
        command = [sys.executable, "-I", "-B", CHILD_SCRIPT, json.dumps(config)]
        begin = time.monotonic()
        with self._active_lock:
            process = subprocess.Popen(
                command,
                cwd=scratch,
                env=self._environment(scratch),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
                close_fds=True,
            )
            self._active.add(process.pid)
        run = ChildRun(seconds=0.0)
        try:
            try:
                process.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                run.timed_out = True
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            else:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
        finally:
            with self._active_lock:
                self._active.discard(process.pid)
            run.seconds = time.monotonic() - begin
            run.exit_code = process.returncode
            if uid is not None:
                self._kill_uid(uid)
            else:
                self._kill_orphans()
        return run

    def run(self, job: dict, arrays: dict[str, np.ndarray]) -> ChildRun:
        """Run one submission's job in a fresh child; always cleans up after it."""
        uid = self._slots.get()
        try:
            scratch = self._new_scratch(uid)
            try:
                with open(os.path.join(scratch, "job.json"), "w", encoding="utf-8") as file:
                    json.dump(job, file)
                with open(os.path.join(scratch, "job.npz"), "wb") as file:
                    np.savez(file, **arrays)
                config = self._config(scratch, uid, namespace=self.namespace, probe=False)
                run = self._spawn_and_wait(config, scratch, uid, stderr=subprocess.DEVNULL)
                self._collect(run, os.path.join(scratch, "results"), len(job["exercises"]))
                return run
            finally:
                self._remove_scratch(scratch)
        finally:
            self._slots.put(uid)

    @staticmethod
    def _collect(run: ChildRun, results: str, count: int) -> None:
        if run.timed_out:
            return
        try:
            run.cells = _protocol.read_message(results, "cells")
        except _protocol.MessageError as error:
            run.cells = {"unreadable": str(error)}
        for index in range(count):
            try:
                payload = _protocol.read_message(results, f"exercise-{index}")
            except _protocol.MessageError as error:
                payload = error
            if payload is not None:
                run.exercises[index] = payload

    # -- cleaning up --------------------------------------------------------

    def _reap_orphans(self) -> None:
        """Collect exit statuses of orphans re-parented to us (never our own Popen children)."""
        me = os.getpid()
        with self._active_lock:
            for pid, status in _processes():
                if (
                    status.get("PPid") == str(me)
                    and status.get("State", "").startswith("Z")
                    and pid not in self._active
                ):
                    with contextlib.suppress(ChildProcessError):
                        os.waitpid(pid, os.WNOHANG)

    def _kill_uid(self, uid: int) -> None:
        """Kill every process running with `uid`, until none is left."""
        for _ in range(200):
            living = [
                pid
                for pid, status in _processes()
                if str(uid) in status.get("Uid", "").split()
                and not status.get("State", "").startswith(("Z", "X"))
            ]
            if not living:
                break
            for pid in living:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self._reap_orphans()
            time.sleep(0.001)
        self._reap_orphans()

    def _kill_orphans(self) -> None:
        """Kill processes that a child left behind and that came back to us."""
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
                # ...and everything below them.
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

    def close(self) -> None:
        for descriptor in self._lock_files:
            with contextlib.suppress(OSError):
                os.close(descriptor)
        self._lock_files.clear()
        self._remove_scratch(self._workdir)


def _become_subreaper() -> None:
    """Orphans of our children come back to us instead of init, so we can end them."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl")
    except (OSError, AttributeError) as error:
        if getattr(error, "errno", None) not in (None, errno.EINVAL):
            raise
