"""Finding submissions and reading them: who submitted what, for which lesson.

The student is the first folder below SUBMISSIONS (or the file's stem for a
notebook lying directly in it). The lesson comes from the notebook's own
metadata (`metadata.course.id`), or else from its nbgrader cell ids; never
from the file name alone, so a renamed notebook is graded as what it is.

Every name, byte and size here is the students' choice, so: folders are
walked through descriptors (any depth up to `MAX_DEPTH`, any path length),
never following a symlink; only regular files are read, at most
`MAX_NOTEBOOK_BYTES` + 1 bytes; symlinked notebooks and folders, FIFOs and
devices are reported, not read. Names are shown with anything unprintable
or undecodable escaped (`display_name`). Cell sources stay as they are: the
sandboxed child turns IPython syntax into Python, so the grader never parses
them.

>>> display_name("alice"), display_name(os.fsdecode(b"b\\xffb")), display_name("tab\\there")
('alice', 'b\\\\xffb', 'tab\\\\x09here')
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Submission",
    "display_name",
    "find_submissions",
    "limit_per_student",
    "read_submission",
]

MAX_NOTEBOOK_BYTES = 50 * 2**20  # stored outputs (images, widget state) count too
MAX_DEPTH = 24
MAX_NOTEBOOKS_PER_STUDENT = 30  # the course has 9 lessons; more is a flood, not work
MAX_NAME_CHARS = 200
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@dataclass(frozen=True)
class Submission:
    """One notebook: whose, which lesson, its code cells, or why it cannot be graded.

    `student` and `notebook` are display names (escaped, bounded); `parts` the
    raw path components below SUBMISSIONS. `cells` holds (cell number, source)
    pairs, numbered from 1 over all cells as Jupyter shows them.
    """

    student: str
    notebook: str
    parts: tuple[str, ...]
    lesson: str | None
    cells: tuple[tuple[int, str], ...] = ()
    problem: str | None = None
    # (cell number, cell id, nbgrader grade_id) of each code cell; "" where absent or
    # not a plain identifier (shown in grades.csv, so nothing else is kept).
    cell_info: tuple[tuple[int, str, str], ...] = ()

    @property
    def display(self) -> str:
        return f"{self.student}/{self.notebook}"


def display_name(name: str) -> str:
    """`name` (a str from the file system, possibly with undecodable bytes) as printable
    text: backslash, control and undecodable characters escaped; long names cut with a
    hash of the whole, so two different names never show the same."""
    raw = os.fsencode(name)
    pieces = []
    for character in raw.decode("utf-8", "surrogateescape"):
        code = ord(character)
        if character == "\\":
            pieces.append("\\\\")
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8
            pieces.append(f"\\x{code - 0xDC00:02x}")
        elif not character.isprintable():
            pieces.append(
                f"\\x{code:02x}"
                if code < 0x100
                else f"\\u{code:04x}"
                if code < 0x10000
                else f"\\U{code:08x}"
            )
        else:
            pieces.append(character)
    shown = "".join(pieces)
    if len(shown) > MAX_NAME_CHARS:
        digest = hashlib.sha256(raw).hexdigest()[:12]
        shown = f"{shown[: MAX_NAME_CHARS - 20]}…{digest}"
    return shown


def _problem_for_type(mode: int) -> str:
    kinds = {
        stat.S_IFIFO: "a FIFO",
        stat.S_IFCHR: "a character device",
        stat.S_IFBLK: "a block device",
        stat.S_IFSOCK: "a socket",
        stat.S_IFDIR: "a folder",
    }
    kind = kinds.get(stat.S_IFMT(mode), "not a regular file")
    return f"it is {kind}, not a notebook file; only regular files are read"


def find_submissions(root: Path, skip: tuple[Path, ...] = ()) -> list[tuple[tuple, str | None]]:
    """Every `*.ipynb` below `root` as (raw path parts, problem or None), sorted.

    Hidden entries (checkpoints) are left out, and so are the folders in `skip`.
    Symlinks are never followed: a symlinked notebook or folder, a notebook that
    is not a regular file, a folder too deep or unreadable comes back with the
    problem that keeps it from being graded.
    """
    skipped = set()
    for path in skip:
        try:
            info = os.stat(path)
            skipped.add((info.st_dev, info.st_ino))
        except OSError:
            pass
    found: list[tuple[tuple, str | None]] = []
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    stack: list[tuple[int, tuple[str, ...]]] = [(root_fd, ())]
    try:
        while stack:
            directory_fd, parts = stack.pop()
            try:
                _scan(directory_fd, parts, found, stack, skipped, root)
            finally:
                os.close(directory_fd)
    finally:
        for directory_fd, _parts in stack:
            os.close(directory_fd)
    _report_empty_students(root, found, skipped)
    return sorted(found, key=lambda item: [os.fsencode(part) for part in item[0]])


def _report_empty_students(root, found, skipped) -> None:
    """A student folder holding no notebook gets one row saying so (not silence)."""
    present = {parts[0] for parts, _problem in found if len(parts) > 1}
    try:
        with os.scandir(root) as listing:
            folders = [
                entry.name
                for entry in listing
                if not entry.name.startswith(".")
                and entry.is_dir(follow_symlinks=False)
                and (entry.stat(follow_symlinks=False).st_dev, entry.inode()) not in skipped
            ]
    except OSError:
        return
    for name in folders:
        if name not in present:
            found.append(
                (
                    (name, "(no notebook)"),
                    "no notebook found in this folder: only *.ipynb files are graded "
                    "(.ipynb_checkpoints and hidden files are ignored)",
                )
            )


def _scan(directory_fd, parts, found, stack, skipped, root) -> None:
    try:
        with os.scandir(directory_fd) as listing:
            entries = sorted(listing, key=lambda entry: os.fsencode(entry.name))
    except OSError as error:
        if parts:
            found.append((parts, f"the folder cannot be listed ({error.strerror})"))
        return
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue
        here = (*parts, name)
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISLNK(info.st_mode):
            problem = _symlink_problem(root, here)
            if problem is not None:
                found.append((here, problem))
            continue
        if stat.S_ISDIR(info.st_mode):
            if (info.st_dev, info.st_ino) in skipped:
                continue
            if len(here) > MAX_DEPTH:
                found.append((here, f"folders nested deeper than {MAX_DEPTH} levels are not read"))
                continue
            try:
                child = os.open(name, _DIRECTORY_FLAGS, dir_fd=directory_fd)
            except OSError as error:
                found.append((here, f"the folder cannot be opened ({error.strerror})"))
                continue
            stack.append((child, here))
            continue
        if not name.endswith(".ipynb"):
            continue
        found.append(
            (here, None if stat.S_ISREG(info.st_mode) else _problem_for_type(info.st_mode))
        )


def _symlink_problem(root: Path, parts: tuple[str, ...]) -> str | None:
    """Why a symlink is not graded (None: a symlink that does not look like a notebook)."""
    path = os.path.join(root, *parts)
    try:
        target = os.path.realpath(path)
        is_folder = os.path.isdir(target)
    except (OSError, ValueError):
        target, is_folder = None, False
    if not parts[-1].endswith(".ipynb") and not is_folder:
        return None
    what = "folder" if is_folder else "notebook"
    real_root = os.path.realpath(root)
    own = os.path.join(real_root, parts[0]) if len(parts) > 1 else None
    if target is None:
        return f"it is a symlinked {what} whose target cannot be resolved; not read"
    if own is not None and (target == own or target.startswith(own + os.sep)):
        return f"it is a symlinked {what}; symlinks are not followed (submit the file itself)"
    if target.startswith(real_root + os.sep):
        return f"it is a symlink to another student's {what}; not graded"
    return f"it is a symlinked {what} leading out of the student's folder; not read"


def limit_per_student(
    found: list[tuple[tuple, str | None]], limit: int = MAX_NOTEBOOKS_PER_STUDENT
) -> list[tuple[tuple, str | None]]:
    """At most `limit` entries per student folder (the first by name); the rest become one
    entry reporting how many were left out, so one student cannot hold up the class."""
    kept: list[tuple[tuple, str | None]] = []
    counts: dict[str, int] = {}
    extra: dict[str, int] = {}
    for parts, problem in found:
        if len(parts) == 1:
            kept.append((parts, problem))
            continue
        counts[parts[0]] = counts.get(parts[0], 0) + 1
        if counts[parts[0]] <= limit:
            kept.append((parts, problem))
        else:
            extra[parts[0]] = extra.get(parts[0], 0) + 1
    for student, count in sorted(extra.items(), key=lambda item: os.fsencode(item[0])):
        kept.append(
            (
                (student, f"+{count} more notebooks"),
                f"{count} notebooks beyond the first {limit} of this student were not graded",
            )
        )
    return kept


def student_and_notebook(parts: tuple[str, ...]) -> tuple[str, str]:
    """(student, notebook path inside the student's folder), as display names.

    >>> student_and_notebook(("alice", "hw", "02.ipynb"))
    ('alice', 'hw/02.ipynb')
    >>> student_and_notebook(("bob.ipynb",))
    ('bob', 'bob.ipynb')
    """
    if len(parts) == 1:
        name = parts[0]
        stem = name[: -len(".ipynb")] if name.endswith(".ipynb") else name
        return display_name(stem), display_name(name)
    return display_name(parts[0]), "/".join(display_name(part) for part in parts[1:])


def _read_bounded(root: Path, parts: tuple[str, ...]) -> bytes:
    """The file's bytes, opened component by component without following symlinks."""
    descriptor = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            child = os.open(part, _DIRECTORY_FLAGS, dir_fd=descriptor)
            os.close(descriptor)
            descriptor = child
        file_fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=descriptor)
    finally:
        os.close(descriptor)
    with os.fdopen(file_fd, "rb") as file:
        info = os.fstat(file_fd)
        if not stat.S_ISREG(info.st_mode):
            raise _NotRegular(_problem_for_type(info.st_mode))
        return file.read(MAX_NOTEBOOK_BYTES + 1)


class _NotRegular(Exception):
    pass


def _cell_source(cell) -> str | None:
    source = cell.get("source") if isinstance(cell, dict) else None
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        return "".join(source)
    return None


def _lesson_from_metadata(notebook: dict) -> str | None:
    metadata = notebook.get("metadata")
    course = metadata.get("course") if isinstance(metadata, dict) else None
    lesson = course.get("id") if isinstance(course, dict) else None
    if isinstance(lesson, int) and not isinstance(lesson, bool) and 0 <= lesson < 100:
        return f"{lesson:02d}"
    if isinstance(lesson, str) and len(lesson) == 2 and lesson.isdigit():
        return lesson
    return None


def _lesson_from_grade_ids(cells: list, grade_ids: dict[str, str]) -> str | None:
    votes = Counter()
    for cell in cells:
        metadata = cell.get("metadata") if isinstance(cell, dict) else None
        nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
        grade_id = nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
        if isinstance(grade_id, str) and grade_id in grade_ids:
            votes[grade_ids[grade_id]] += 1
    if not votes:
        return None
    best = max(votes.values())
    return min(lesson for lesson, count in votes.items() if count == best)


def read_submission(
    root: Path,
    parts: tuple[str, ...],
    lessons: set[str],
    grade_ids: dict[str, str],
    problem: str | None = None,
) -> Submission:
    """Read and parse one notebook; `problem` says why it is `invalid` when it cannot be
    graded. `lessons` are the lessons that have exercises; `grade_ids` maps nbgrader
    cell ids ("02_logsumexp", "02_logsumexp_check") to their lesson."""
    student, notebook = student_and_notebook(parts)

    def invalid(problem: str, lesson: str | None = None) -> Submission:
        return Submission(student, notebook, parts, lesson, problem=problem)

    if problem is not None:
        return invalid(problem)
    try:
        data = _read_bounded(root, parts)
    except _NotRegular as error:
        return invalid(str(error))
    except OSError as error:
        return invalid(f"the file cannot be read ({error.strerror or type(error).__name__})")
    if len(data) > MAX_NOTEBOOK_BYTES:
        return invalid(
            f"the file is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB; clear its outputs "
            "(Edit > Clear Outputs of All Cells), save it and hand it in again"
        )
    if not data.strip():
        return invalid("the file is empty: it is not a notebook")
    try:
        content = json.loads(data.decode("utf-8-sig"))  # a BOM some editors write is fine
    except UnicodeDecodeError:
        return invalid("the file is not text (not UTF-8): it is not a notebook")
    except json.JSONDecodeError as error:
        return invalid(
            f"the file is not valid JSON (line {error.lineno}, column {error.colno}): "
            "it is not a Jupyter notebook, or it was damaged; save it again from Jupyter"
        )
    except (ValueError, RecursionError, MemoryError):
        return invalid("the file is not valid JSON: it is not a Jupyter notebook")
    del data
    if not isinstance(content, dict) or not isinstance(content.get("cells"), list):
        return invalid("the file is JSON but not a Jupyter notebook (it has no list of cells)")
    version = content.get("nbformat")
    if version != 4:
        shown = version if isinstance(version, int) and not isinstance(version, bool) else "?"
        return invalid(
            f"the notebook has format version {shown}; open it in Jupyter and save it "
            "again (version 4)"
        )
    cells = content["cells"]
    lesson = _lesson_from_metadata(content)
    if lesson not in lessons:
        lesson = _lesson_from_grade_ids(cells, grade_ids) or lesson
    if lesson is None:
        return invalid(
            "cannot tell which lesson this notebook is: its metadata has no course id and "
            "none of its cells carries a lesson's nbgrader id; start from the course's "
            "notebooks/ folder"
        )
    if lesson not in lessons:
        return invalid(f"lesson {lesson} has no graded exercises (unknown lesson)")
    code, info = [], []
    for number, cell in enumerate(cells, start=1):
        source = _cell_source(cell)
        if source is None or cell.get("cell_type") not in ("code", "markdown", "raw"):
            return invalid(
                f"the notebook is damaged: cell {number} has no valid cell_type or source",
                lesson,
            )
        if cell["cell_type"] == "code" and source.strip():
            code.append((number, source))
            info.append((number, _plain_id(cell.get("id")), _plain_id(_grade_id(cell))))
    return Submission(student, notebook, parts, lesson, tuple(code), cell_info=tuple(info))


_PLAIN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _plain_id(value) -> str:
    return value if isinstance(value, str) and _PLAIN_ID.fullmatch(value) else ""


def _grade_id(cell: dict):
    metadata = cell.get("metadata")
    nbgrader = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
