"""Build the learners' hand-out: the lessons and what runs them, without the solutions.

    python -m tools.handout OUT [--zip [PATH]] [--branch NAME]

OUT gets the student notebooks (generated from solutions/ exactly as `make
student` writes them), the `utils` package, the set-up (a learner's Makefile
whose `make lab` installs into .venv and opens JupyterLab on the lessons,
pyproject.toml, requirements/constraints.txt, environment.yml, postBuild) and
a README for learners. It leaves out solutions/, tests/, bench/, tools/,
docs/ and the instructors' README. Before anything is put in place, the
hand-out is scanned for solution code (`solution_leaks`); a leak stops the
build with nothing written.

`--zip` also writes OUT.zip (or PATH): entries sorted, fixed timestamps and
permissions, so building twice gives the same bytes. `--branch NAME` commits
the hand-out as the only content of branch NAME of the course's git
repository (one commit per hand-out whose content changed, none otherwise),
to push to a repository of its own (`git push URL NAME:main`) that learners
and a JupyterHub's nbgitpuller can read: never publish the course repository
itself, whose other branches hold solutions/.

Exit status: 0 built; 1 the hand-out would contain solution code, or OUT is a
folder that is not an earlier hand-out; 2 bad input (malformed solution
notebook, git failed).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat

from tools import make_student

ROOT = Path(__file__).resolve().parents[1]
# Copied as they are, from the course's folder.
SETUP_FILES = ("pyproject.toml", "environment.yml", "postBuild", "requirements/constraints.txt")
PACKAGE = "utils"
# Never part of a hand-out, wherever they appear below utils/.
SKIPPED_NAMES = re.compile(r"^(__pycache__|\..*|.*\.pyc|.*\.egg-info)$")
EXECUTABLE = ("postBuild",)
# What the package is: its modules, and the data files pyproject.toml's package-data names.
PACKAGE_FILES = re.compile(rf"^{PACKAGE}/([A-Za-z0-9_/]+\.py|data/[^/]+)$")
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: no build date in the bytes
ZIP_ROOT = "next-token-course"
MAKEFILE_MARK = "# The learners' hand-out of the next-token probability course."
COURSE_FOLDERS = {"notebooks", "solutions", "utils", "tests", "tools", "bench", "docs"}
DEFAULT_BRANCH_AUTHOR = ("Course hand-out", "handout@localhost")

LEARNER_MAKEFILE = (
    MAKEFILE_MARK
    + r"""
# `make lab` creates .venv on first use (the exact versions in
# requirements/constraints.txt) and opens JupyterLab on the lessons.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
CONSTRAINTS := requirements/constraints.txt
STAMP := $(VENV)/.installed
KERNEL_NAME := next-token-course
# JupyterLab refuses to run as root without this flag (containers). LabApp.default_url,
# not ServerApp.default_url: JupyterLab replaces the latter with its own "/lab".
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
LAB_ARGS ?=

.PHONY: help install lab clean FORCE

help:
    @echo "make lab      set up .venv (first time) and open JupyterLab on the lessons"
    @echo "make install  only set up .venv"
    @echo "make clean    remove .venv"

install: $(STAMP)

# The venv holds this folder's absolute path: after a move, set it up again.
LOCATION := $(VENV)/.location
ifneq ($(wildcard $(STAMP)),)
ifneq ($(shell cat $(LOCATION) 2>/dev/null),$(CURDIR))
$(STAMP): FORCE
endif
endif

$(STAMP): pyproject.toml $(CONSTRAINTS)
    @test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
    $(BIN)/python -m pip install --quiet --disable-pip-version-check \
      -c $(CONSTRAINTS) -e .
    $(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL_NAME) \
      --display-name "Python 3 (next-token course)" >/dev/null
    @echo "$(CURDIR)" > $(LOCATION).new && mv $(LOCATION).new $(LOCATION)
    @touch $@

FORCE:

lab: $(STAMP)
    $(BIN)/python -m jupyterlab --ServerApp.root_dir="$(CURDIR)" \
      --LabApp.default_url=/lab/tree/notebooks/00_start_here.ipynb \
      $(ROOT_FLAG) $(LAB_ARGS)

clean:
    rm -rf $(VENV)
"""
).replace("\n    ", "\n\t")  # recipe lines start with a tab

LEARNER_GITIGNORE = ".venv/\n__pycache__/\n*.pyc\n.ipynb_checkpoints/\n*.egg-info/\n"

LEARNER_START = """\
## Start

You need Python 3.10+ (3.11 is what the course is tested on) and `make`:

```bash
make lab     # creates .venv with the exact pinned versions, opens JupyterLab on the lessons
```

The first run installs (a minute or two); later runs start at once. Pass JupyterLab options
through `LAB_ARGS`, e.g. `make lab LAB_ARGS="--no-browser --port=8899"`.

With conda instead (or on Binder, which reads `environment.yml` and runs `postBuild`):

```bash
conda env create -f environment.yml
conda activate next-token-course
python -m ipykernel install --user --name next-token-course \\
  --display-name "Python 3 (next-token course)"
jupyter lab notebooks/
```

Work in `notebooks/`, in order. Each exercise has an answer cell that raises
`NotImplementedError` until you replace that line with your code, and a check cell
(`check("02.logsumexp", logsumexp)`) that tells you at once whether it is right and, if not,
what is wrong. Submit the notebooks as your instructor asks; the `utils/` folder is the
course's shared code, the same for everyone.
"""


class HandoutError(Exception):
    """The hand-out cannot be built (exit 2) or must not be (exit 1)."""

    def __init__(self, message: str, status: int = 2):
        super().__init__(message)
        self.status = status


# --------------------------------------------------------------------------
# What goes in
# --------------------------------------------------------------------------


def learner_readme(course_readme: str) -> str:
    """The learners' README: the course's title and introduction (up to its first
    picture), how to start, and its table of lessons."""
    lines = course_readme.split("\n")
    introduction = []
    for line in lines:
        if line.startswith("![") or (introduction and line.startswith("## ")):
            break
        introduction.append(line)
    lessons = []
    for line in lines:
        if lessons and line.startswith("## "):
            break
        if lessons or line.strip() == "## The lessons":
            lessons.append(line)
    text = "\n".join(introduction).rstrip() + "\n\n" + LEARNER_START
    if lessons:
        text += "\n" + "\n".join(lessons).rstrip() + "\n"
    return text


def _package_files(root: Path) -> list[str]:
    """The utils package's files, relative to the course, sorted: what the package is
    (its modules and its data/ folder, as pyproject.toml installs it) and, in a git
    checkout, only those git tracks, so a stray file of the instructor's stays home."""
    tracked = _tracked_files(root)
    found = []
    for folder, subfolders, files in os.walk(root / PACKAGE):
        subfolders[:] = sorted(name for name in subfolders if not SKIPPED_NAMES.match(name))
        for name in files:
            path = Path(folder) / name
            relative = path.relative_to(root).as_posix()
            if SKIPPED_NAMES.match(name) or not path.is_file() or path.is_symlink():
                continue
            if PACKAGE_FILES.match(relative) and (tracked is None or relative in tracked):
                found.append(relative)
    return sorted(found)


def _tracked_files(root: Path) -> set[str] | None:
    """Files git tracks below utils/, or None when `root` is not a git checkout."""
    try:
        result = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--", PACKAGE],
            capture_output=True,
            check=False,
        )
    except OSError:
        return None
    if result.returncode != 0:
        return None
    return {name for name in result.stdout.decode(errors="replace").split("\0") if name}


def handout_contents(root: Path = ROOT) -> dict[str, bytes]:
    """Every file of the hand-out: relative POSIX path -> bytes."""
    contents: dict[str, bytes] = {}
    try:
        planned = make_student.plan(root, [])
    except make_student.NotebookError as error:
        raise HandoutError(str(error)) from None
    if not planned:
        raise HandoutError(f"no solution notebooks in {root / 'solutions'}")
    for item in planned:
        contents[f"notebooks/{item.target.name}"] = item.text.encode()
    for relative in _package_files(root):
        contents[relative] = (root / relative).read_bytes()
    for relative in SETUP_FILES:
        path = root / relative
        if path.is_file():
            contents[relative] = path.read_bytes()
    contents["Makefile"] = LEARNER_MAKEFILE.encode()
    contents[".gitignore"] = LEARNER_GITIGNORE.encode()
    contents["README.md"] = learner_readme((root / "README.md").read_text()).encode()
    return dict(sorted(contents.items()))


# --------------------------------------------------------------------------
# The leak scan
# --------------------------------------------------------------------------


def _normalized_lines(text: str) -> list[str]:
    return [line.strip() for line in text.split("\n") if line.strip()]


def solution_regions(solutions: Path) -> list[tuple[str, list[str]]]:
    """(where, normalized lines) of every BEGIN/END SOLUTION region in solutions/."""
    regions = []
    for path in sorted(solutions.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for index, cell in enumerate(notebook.cells):
            inside, lines = False, []
            for line in cell.get("source", "").split("\n"):
                marker = line.strip()
                if marker == make_student.BEGIN_MARKER:
                    inside, lines = True, []
                elif marker == make_student.END_MARKER:
                    inside = False
                    if _normalized_lines("\n".join(lines)):
                        regions.append(
                            (f"{path.name} cell {index}", _normalized_lines("\n".join(lines)))
                        )
                elif inside:
                    lines.append(line)
    return regions


# The exercise specs: they hold the reference implementations `check` compares with, which
# learners can read (the instructors' README says what that means); the region scan skips them.
REFERENCE_FILES = re.compile(rf"^{PACKAGE}/exercises/lesson\d\d\.py$")


def _scanned_text(name: str, data: bytes) -> str:
    """What a reader sees in a file: a notebook's cell sources, any other file's text."""
    text = data.decode("utf-8", errors="replace")
    if name.endswith(".ipynb"):
        try:
            notebook = nbformat.reads(text, as_version=4)
        except Exception:  # nbformat raises several unrelated types; the raw text is scanned
            return text
        return "\n".join(cell.get("source", "") for cell in notebook.cells)
    return text


def _holds(region: list[str], lines: set[str]) -> bool:
    """Every line of the region is a line of the file (any order, other lines between)."""
    return set(region) <= lines


def solution_leaks(contents: dict[str, bytes], solutions: Path) -> list[str]:
    """What in `contents` gives a solution away (empty: nothing).

    A file of solutions/ (by name or by content); a notebook inside utils/; a
    solution marker; a notebook with stored outputs (the solutions' outputs
    show their answers); and a solution region whose every line is a line of
    the file (indentation, blank lines, order and lines in between ignored;
    a notebook is read as its cells' sources), in any file but the exercise
    specs `utils/exercises/lessonNN.py`, which hold the reference
    implementations `check` compares with (see `regions_in_package`).
    """
    leaks = []
    regions = solution_regions(solutions)
    solution_files = {path.name: path.read_bytes() for path in solutions.glob("*.ipynb")}
    for name, data in contents.items():
        same_name = not name.startswith("notebooks/") and Path(name).name in solution_files
        if name.startswith("solutions/") or same_name or data in solution_files.values():
            leaks.append(f"{name}: a file of solutions/")
        if name.startswith(PACKAGE + "/") and name.endswith(".ipynb"):
            leaks.append(f"{name}: a notebook inside {PACKAGE}/")
        text = data.decode("utf-8", errors="replace")
        if make_student.BEGIN_MARKER in text or make_student.END_MARKER in text:
            leaks.append(f"{name}: contains a solution marker")
        if name.endswith(".ipynb"):
            leaks += _stored_outputs(name, text)
        if REFERENCE_FILES.match(name):
            continue
        lines = set(_normalized_lines(_scanned_text(name, data)))
        leaks += [
            f"{name}: holds the solution of {where}" for where, r in regions if _holds(r, lines)
        ]
    return sorted(set(leaks))


def regions_in_package(contents: dict[str, bytes], solutions: Path) -> list[str]:
    """The solution regions (by where) that the exercise specs hold line for line: the
    reference implementations a learner can read (the scan leaves them in on purpose)."""
    specs = [
        set(_normalized_lines(data.decode("utf-8", errors="replace")))
        for name, data in contents.items()
        if REFERENCE_FILES.match(name)
    ]
    return [
        where
        for where, region in solution_regions(solutions)
        if any(_holds(region, lines) for lines in specs)
    ]


def _stored_outputs(name: str, text: str) -> list[str]:
    try:
        notebook = nbformat.reads(text, as_version=4)
    except Exception as error:  # nbformat raises several unrelated types
        return [f"{name}: not a readable notebook ({type(error).__name__})"]
    return [
        f"{name}: cell {index} has stored outputs"
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and cell.get("outputs")
    ]


# --------------------------------------------------------------------------
# Writing: folder, zip, branch
# --------------------------------------------------------------------------


def _mode(name: str) -> int:
    return 0o755 if name in EXECUTABLE else 0o644


def _is_earlier_handout(folder: Path) -> bool:
    makefile = folder / "Makefile"
    try:
        return makefile.read_text().startswith(MAKEFILE_MARK)
    except (OSError, UnicodeDecodeError):
        return False


def write_folder(out: Path, contents: dict[str, bytes]) -> None:
    """Write the hand-out to `out` whole: built beside it, then swapped in."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise HandoutError(f"{out} exists and is not a folder", status=1)
    if out.is_dir() and any(out.iterdir()) and not _is_earlier_handout(out):
        raise HandoutError(
            f"{out} is a folder that is not an earlier hand-out; choose an empty or new one",
            status=1,
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    built = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.new-"))
    try:
        for name, data in contents.items():
            path = built / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            path.chmod(_mode(name))
        built.chmod(0o755)
        if out.exists():
            # Keep a learner's or tester's .venv out of it: an earlier hand-out is replaced.
            retired = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
            os.replace(out, retired / "old")
            os.replace(built, out)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(built, out)
    except BaseException:
        shutil.rmtree(built, ignore_errors=True)
        raise


def zip_bytes(contents: dict[str, bytes]) -> bytes:
    """The hand-out as a zip below next-token-course/: same contents, same bytes."""
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zip_:
        for name, data in sorted(contents.items()):
            info = zipfile.ZipInfo(f"{ZIP_ROOT}/{name}", date_time=ZIP_TIME)
            info.external_attr = (0o100000 | _mode(name)) << 16
            info.create_system = 3  # Unix, so the permissions are read back
            info.compress_type = zipfile.ZIP_DEFLATED
            zip_.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return buffer.getvalue()


def write_zip(path: Path, contents: dict[str, bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(zip_bytes(contents))
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _git(root: Path, *args: str, env: dict | None = None, data: bytes | None = None) -> str:
    try:
        result = subprocess.run(
            ["git", "-C", str(root), *args],
            input=data,
            capture_output=True,
            env=env,
            check=False,
        )
    except OSError as error:
        raise HandoutError(f"cannot run git: {error}") from None
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise HandoutError(f"git {args[0]} failed: {message[-1] if message else '?'}")
    return result.stdout.decode().strip()


def commit_branch(root: Path, branch: str, contents: dict[str, bytes]) -> tuple[str, bool]:
    """Commit the hand-out as branch `branch`'s whole tree: (commit, whether it is new).

    Built with git's plumbing (blobs, a tree, a commit), so neither the working
    tree nor the index nor the checked-out branch of the course is touched.
    """
    if _git(root, "check-ref-format", "--branch", branch) != branch:
        raise HandoutError(f"{branch!r} is not a branch name")
    blobs = {
        name: _git(root, "hash-object", "-w", "--stdin", data=data)
        for name, data in contents.items()
    }
    tree = _tree(root, blobs, "")
    reference = f"refs/heads/{branch}"
    try:
        parent = _git(root, "rev-parse", "--verify", "--quiet", reference + "^{commit}")
    except HandoutError:
        parent = ""
    if parent and _git(root, "rev-parse", parent + "^{tree}") == tree:
        return parent, False
    source = _git(root, "rev-parse", "--short=12", "HEAD")
    date = _git(root, "log", "-1", "--format=%cI", "HEAD")
    name, email = DEFAULT_BRANCH_AUTHOR
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME=name,
        GIT_AUTHOR_EMAIL=email,
        GIT_COMMITTER_NAME=name,
        GIT_COMMITTER_EMAIL=email,
        GIT_AUTHOR_DATE=date,
        GIT_COMMITTER_DATE=date,
    )
    arguments = ["commit-tree", tree, "-m", f"Hand-out built from {source}"]
    if parent:
        arguments += ["-p", parent]
    commit = _git(root, *arguments, env=env)
    _git(root, "update-ref", reference, commit, *([parent] if parent else []))
    return commit, True


def _tree(root: Path, blobs: dict[str, str], prefix: str) -> str:
    """The git tree of the files below `prefix` (mktree, folders first built)."""
    entries, folders = [], {}
    for name, blob in blobs.items():
        if not name.startswith(prefix):
            continue
        rest = name[len(prefix) :]
        if "/" in rest:
            folders.setdefault(rest.split("/", 1)[0], None)
        else:
            mode = "100755" if _mode(name) == 0o755 else "100644"
            entries.append(f"{mode} blob {blob}\t{rest}")
    for folder in folders:
        entries.append(f"040000 tree {_tree(root, blobs, prefix + folder + '/')}\t{folder}")
    listing = "".join(entry + "\n" for entry in sorted(entries, key=lambda e: e.split("\t")[1]))
    return _git(root, "mktree", data=listing.encode())


def digest(contents: dict[str, bytes]) -> str:
    """One hash of the whole hand-out (names, modes and bytes)."""
    hasher = hashlib.sha256()
    for name, data in sorted(contents.items()):
        hasher.update(f"{name}\0{_mode(name):o}\0{len(data)}\0".encode())
        hasher.update(data)
    return hasher.hexdigest()


def _refuse_course_folder(root: Path, out: Path) -> None:
    """OUT may be inside the course (build/handout), never the course or one of its folders."""
    if out == root or (root in out.parents and out.relative_to(root).parts[0] in COURSE_FOLDERS):
        raise HandoutError(f"{out} is the course or one of its own folders", status=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.handout",
        description="Write the learners' hand-out (no solutions) to OUT.",
    )
    parser.add_argument("out", metavar="OUT", help="folder to write the hand-out to")
    parser.add_argument(
        "--zip",
        nargs="?",
        const="",
        default=None,
        metavar="PATH",
        help="also write a zip (default: OUT.zip, next to OUT)",
    )
    parser.add_argument(
        "--branch", metavar="NAME", help="also commit it as git branch NAME (for nbgitpuller)"
    )
    parser.add_argument("--root", default=str(ROOT), help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    root, out = Path(arguments.root).resolve(), Path(arguments.out)
    try:
        _refuse_course_folder(root, out.resolve())
        contents = handout_contents(root)
        leaks = solution_leaks(contents, root / "solutions")
        if leaks:
            raise HandoutError(
                f"the hand-out would give solutions away: {'; '.join(leaks[:5])}", status=1
            )
        write_folder(out, contents)
        print(
            f"wrote the hand-out to {out} ({len(contents)} files, sha256 {digest(contents)[:16]})"
        )
        if _tracked_files(root) is None:
            print(
                f"note: {root} is not a git checkout, so every module of utils/ went out, "
                "tracked or not: check utils/ holds nothing of yours"
            )
        in_package = regions_in_package(contents, root / "solutions")
        if in_package:
            print(
                f"note: {len(in_package)} of {len(solution_regions(root / 'solutions'))} "
                "solutions have every line in an exercise spec of utils/exercises/, which "
                f"learners can read (the reference implementations): {', '.join(in_package)}"
            )
        if arguments.zip is not None:
            zip_path = Path(arguments.zip) if arguments.zip else out.with_name(out.name + ".zip")
            write_zip(zip_path, contents)
            print(f"wrote {zip_path}")
        if arguments.branch:
            commit, new = commit_branch(root, arguments.branch, contents)
            state = "committed" if new else "unchanged, still"
            print(f"branch {arguments.branch}: {state} {commit[:12]}")
    except HandoutError as error:
        print(f"python -m tools.handout: error: {error}", file=sys.stderr)
        return error.status
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        print(f"python -m tools.handout: error: {error.strerror}{where}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
