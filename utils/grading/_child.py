"""The child process that runs ONE submission; started by the grader, never by hand.

It is run as a script (`python -I -B .../_child.py CONFIG`) so that nothing of
the course is imported before it has confined itself. In order:

1. As root (when the grader is root): enter a private mount namespace in which
   the Python installation and the course are reachable (read-only for the
   course), the class's submissions and the grader's output folder are hidden
   behind empty mounts, and `/tmp`, `/var/tmp`, `/dev/shm` are private. Then
   drop to the unprivileged uid the grader chose, with no supplementary groups
   and `no_new_privs`.
2. Set resource limits (address space, CPU seconds, file size, processes).
3. Run the notebook's code cells in order in one namespace (cell sources were
   already turned into Python by the grader); an exception in a cell is
   recorded and the next cell runs, as with nbclient's `allow_errors`.
4. For each exercise, call the answer on every case with a time budget per
   case, through `utils.checks.run_case`, and write each exercise's outcomes to
   `results/` as JSON + `.npz` (plain data only). The grader compares them with
   the reference in its own process; nothing printed here is read by anyone.
"""

import ctypes
import json
import os
import resource
import signal
import stat
import sys

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
CLONE_NEWNS = 0x00020000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

# Exit codes the grader understands (anything else: the notebook ended the process).
EXIT_DONE = 0
EXIT_SANDBOX_FAILED = 86

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def _mount(source, target, fstype, flags, data=None) -> None:
    encode = lambda text: None if text is None else os.fsencode(text)  # noqa: E731
    _check(
        _libc.mount(
            encode(source), encode(target), encode(fstype), ctypes.c_ulong(flags), encode(data)
        ),
        f"mount {target}",
    )


def _overmount(directory: str, mode: int, keep: list[str], size: str) -> None:
    """Cover `directory` with an empty tmpfs, then bind back the children in `keep`."""
    if not os.path.isdir(directory):
        return  # already hidden by a covering mount above it
    kept = {}
    for name in keep:
        try:
            kept[name] = os.open(os.path.join(directory, name), os.O_PATH | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
    _mount("tmpfs", directory, "tmpfs", MS_NOSUID | MS_NODEV, f"mode={mode:o},size={size}")
    for name, descriptor in kept.items():
        target = os.path.join(directory, name)
        if stat.S_ISDIR(os.fstat(descriptor).st_mode):
            os.mkdir(target)
        else:
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
        _mount(f"/proc/self/fd/{descriptor}", target, None, MS_BIND | MS_REC)
        os.close(descriptor)


def _enter_namespace(plan: dict) -> None:
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    for directory, mode, keep, size in plan["overmounts"]:
        _overmount(directory, mode, keep, size)
    for directory in plan["read_only"]:
        _mount(directory, directory, None, MS_BIND | MS_REC)
        _mount(None, directory, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _drop_privileges(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid or os.getegid() != gid:
        raise OSError("privileges were not dropped")
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    # Changing uid made the process non-dumpable, which hides its own /proc/self
    # from it (and breaks libraries that read it); no descriptor opened as root
    # is left, so making it dumpable again exposes nothing.
    _check(_libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "prctl(DUMPABLE)")


def _limit_resources(limits: dict) -> None:
    for name, value in limits.items():
        if value is not None:
            resource.setrlimit(getattr(resource, name), (value, value))
    # Dies with the grader (set after the uid change, which clears it).
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class CaseTimeout(BaseException):
    """Raised by SIGALRM inside an answer that runs past its budget.

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
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:297] + "..."


def _run_cells(cells: list[str], namespace: dict) -> list[dict]:
    problems = []
    for index, source in cells:
        try:
            code = compile(source, f"<cell {index}>", "exec")
            exec(code, namespace)
        except BaseException as error:  # a cell's SystemExit or KeyboardInterrupt too
            problems.append({"cell": index, "error": _short(error)})
    return problems


def _run_exercise(task: dict, namespace: dict, case_seconds: float, tools: dict) -> dict:
    if task["answer_name"] not in namespace:
        return {"id": task["id"], "defined": False, "outcomes": []}
    spec = tools["specs"][task["id"]]
    outcomes = []
    timed_out = None
    for encoded_case in task["cases"]:
        if timed_out is None:
            case = tools["Case"](
                **tools["from_plain"](encoded_case, task["arrays"], callables=True)
            )
            answer = namespace.get(task["answer_name"])
            signal.setitimer(signal.ITIMER_REAL, case_seconds)
            try:
                outcome = tools["run_case"](answer, spec, case)
            except CaseTimeout:
                timed_out = f"took longer than {case_seconds:g} s on a case (an endless loop?)"
                outcome = None
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        if timed_out is not None:  # this case and the rest: one slow case is enough
            outcome = tools["CaseOutcome"]("error", error=timed_out)
        record, outcome_arrays = outcome.to_record()
        outcomes.append({"record": record, "arrays": outcome_arrays})
    return {"id": task["id"], "defined": True, "outcomes": outcomes}


def _grade(config: dict) -> None:
    sys.path.insert(0, config["course_root"])
    import numpy as np

    # Taken before any cell runs: a notebook that patches utils.checks or
    # utils.exercises afterwards does not change how its answers are called.
    from utils.checks import CaseOutcome, run_case
    from utils.exercises import Case, get
    from utils.grading._protocol import from_plain, write_message

    with open("job.json", encoding="utf-8") as file:
        job = json.load(file)
    with np.load("job.npz", allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    tools = {
        "specs": {task["id"]: get(task["id"]) for task in job["exercises"]},
        "Case": Case,
        "CaseOutcome": CaseOutcome,
        "run_case": run_case,
        "from_plain": from_plain,
    }
    os.makedirs("results", exist_ok=True)
    results = os.path.abspath("results")
    namespace = {"__name__": "__main__", "__builtins__": __builtins__}
    shell = _GraderShell(namespace)
    namespace.update(get_ipython=lambda: shell, display=_display)
    problems = _run_cells(job["cells"], namespace)
    write_message(results, "cells", {"problems": problems})
    signal.signal(signal.SIGALRM, _on_alarm)
    for index, task in enumerate(job["exercises"]):
        task["arrays"] = arrays
        try:
            report = _run_exercise(task, namespace, job["case_seconds"], tools)
        except BaseException as error:  # the runner itself was broken by the notebook
            report = {"id": task["id"], "defined": True, "outcomes": [], "crash": _short(error)}
        write_message(results, f"exercise-{index}", report)


def _probe(config: dict) -> None:
    """Report what the sandbox allows, and warm matplotlib's font cache."""
    sys.path.insert(0, config["course_root"])
    report = {"uid": os.getuid(), "euid": os.geteuid(), "imports": None, "writable": []}
    try:
        import numpy  # noqa: F401

        import utils
        import utils.checks
        import utils.exercises  # noqa: F401
        from utils.grading import _protocol  # noqa: F401
    except BaseException as error:
        report["imports"] = _short(error)
    for path in config["must_not_write"]:
        if os.access(path, os.W_OK):
            report["writable"].append(path)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.font_manager
    except BaseException:  # the course may not use matplotlib
        pass
    with open("probe.json.partial", "w", encoding="utf-8") as file:
        json.dump(report, file)
    os.replace("probe.json.partial", "probe.json")


def main() -> None:
    config = json.loads(sys.argv[1])
    try:
        if config["namespace"] is not None:
            _enter_namespace(config["namespace"])
        if config["uid"] is not None:
            _drop_privileges(config["uid"], config["gid"])
        _limit_resources(config["limits"])
        os.chdir(config["scratch"])
    except BaseException as error:
        sys.stderr.write(f"grading sandbox: {_short(error)}\n")
        sys.stderr.flush()
        os._exit(EXIT_SANDBOX_FAILED)
    try:
        if config["probe"]:
            _probe(config)
        else:
            _grade(config)
    except BaseException as error:
        sys.stderr.write(f"grading child: {_short(error)}\n")
        sys.stderr.flush()
        os._exit(1)
    # Skip atexit handlers and non-daemon threads the notebook may have left.
    sys.stdout.flush()
    os._exit(EXIT_DONE)


if __name__ == "__main__":
    main()
