"""Write the student notebooks in `notebooks/` from the solutions in `solutions/`.

    python -m tools.make_student [--force] [--check] [NAMES...]

Each `solutions/NN_topic.ipynb` becomes `notebooks/NN_topic.ipynb`: every
region between `### BEGIN SOLUTION` and `### END SOLUTION` is replaced by

    raise NotImplementedError("Exercise 02.logsumexp: replace this line with your code")

at the region's indentation, outputs and execution counts are cleared, and
metadata is reduced to what the course needs (notebook: kernelspec,
language_info name, course; cells: tags and nbgrader). A cell whose stub sits
at top level is tagged `raises-exception`, so running it is expected to fail.

It never destroys a learner's work: if a notebook it would overwrite differs
from what git has at HEAD (uncommitted changes, or untracked and different
from the generated text), it writes nothing at all and says which files and
how to force it. Outside a git checkout, any existing file that differs from
the generated one counts as the learner's work.

Exit status: 0 done (or, with --check, up to date); 1 refused, or with
--check out of date; 2 bad input (malformed notebook, unknown name).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
LESSON_FILE = re.compile(r"^\d{2}_[a-z0-9]+(?:_[a-z0-9]+)*\.ipynb$")
BEGIN_MARKER = "### BEGIN SOLUTION"
END_MARKER = "### END SOLUTION"
KEPT_CELL_METADATA = ("tags", "nbgrader")
KEPT_NOTEBOOK_METADATA = ("kernelspec", "language_info", "course")
RAISES_TAG = "raises-exception"
STUB = 'raise NotImplementedError("Exercise {exercise_id}: replace this line with your code")'
FORCE_ADVICE = "rerun with --force to overwrite (your changes will be lost)"


class NotebookError(ValueError):
    """A solution notebook that cannot be turned into a student notebook."""


@dataclass(frozen=True)
class Planned:
    """One student notebook to write: where, and its full text."""

    source: Path
    target: Path
    text: str


# --------------------------------------------------------------------------
# Notebook transformation (pure)
# --------------------------------------------------------------------------


def minimal_notebook_metadata(metadata: dict) -> dict:
    """Keep kernelspec, language_info (name only) and course."""
    kept = {key: metadata[key] for key in KEPT_NOTEBOOK_METADATA if key in metadata}
    if "language_info" in kept:
        kept["language_info"] = {"name": kept["language_info"].get("name", "python")}
    return kept


def minimal_cell_metadata(metadata: dict) -> dict:
    """Keep tags and nbgrader."""
    return {key: metadata[key] for key in KEPT_CELL_METADATA if key in metadata}


def exercise_id_of(cell, where: str) -> str:
    """'02.logsumexp' from the cell's nbgrader grade_id '02_logsumexp'."""
    nbgrader = cell.get("metadata", {}).get("nbgrader", {})
    grade_id = nbgrader.get("grade_id")
    if not (isinstance(grade_id, str) and re.fullmatch(r"\d{2}_[a-z0-9_]+", grade_id)):
        raise NotebookError(
            f"{where} has a solution region but no nbgrader grade_id like '02_logsumexp' "
            "in its metadata."
        )
    if not nbgrader.get("solution"):
        raise NotebookError(f"{where} has a solution region but nbgrader.solution is not true.")
    return grade_id.replace("_", ".", 1)


def replace_solutions(source: str, exercise_id: str, where: str) -> tuple[str, bool]:
    """(student source, True if a stub is at top level) for one code cell."""
    lines = source.split("\n")
    out: list[str] = []
    top_level = False
    begin_line = None
    for number, line in enumerate(lines, start=1):
        marker = line.strip()
        if marker == BEGIN_MARKER:
            if begin_line is not None:
                raise NotebookError(
                    f"{where}: nested {BEGIN_MARKER} on line {number} (the region opened on "
                    f"line {begin_line} is not closed)."
                )
            begin_line = number
            indent = line[: len(line) - len(line.lstrip())]
            top_level = top_level or indent == ""
            out.append(indent + STUB.format(exercise_id=exercise_id))
        elif marker == END_MARKER:
            if begin_line is None:
                raise NotebookError(f"{where}: {END_MARKER} on line {number} without a BEGIN.")
            begin_line = None
        elif begin_line is None:
            out.append(line)
    if begin_line is not None:
        raise NotebookError(f"{where}: {BEGIN_MARKER} on line {begin_line} is never closed.")
    return "\n".join(out), top_level


def _has_marker(source: str) -> bool:
    return any(line.strip() in (BEGIN_MARKER, END_MARKER) for line in source.split("\n"))


def _student_cell_id(cell, notebook_name: str, index: int) -> str:
    """The solution's id (stable across runs), or one derived from the position."""
    cell_id = cell.get("id")
    if isinstance(cell_id, str) and cell_id:
        return cell_id
    digest = hashlib.sha1(f"{notebook_name}:{index}".encode()).hexdigest()
    return digest[:12]


def student_notebook(solution, name: str):
    """The student version of a solution notebook (a new NotebookNode)."""
    cells = []
    for index, cell in enumerate(solution.cells):
        where = f"{name} cell {index}"
        source = cell.get("source", "")
        metadata = minimal_cell_metadata(cell.get("metadata", {}))
        cell_id = _student_cell_id(cell, name, index)
        if cell.cell_type == "code":
            nbgrader = metadata.get("nbgrader", {})
            if _has_marker(source):
                source, top_level = replace_solutions(source, exercise_id_of(cell, where), where)
                if top_level:
                    tags = list(metadata.get("tags", []))
                    if RAISES_TAG not in tags:
                        tags.append(RAISES_TAG)
                    metadata["tags"] = tags
            elif nbgrader.get("solution"):
                raise NotebookError(
                    f"{where} is an nbgrader solution cell without a {BEGIN_MARKER} / "
                    f"{END_MARKER} region; the student would get the solution."
                )
            new = nbformat.v4.new_code_cell(source=source, metadata=metadata)
        elif _has_marker(source):
            raise NotebookError(
                f"{where} is a {cell.cell_type} cell with a solution marker; solution "
                "regions belong in code cells."
            )
        elif cell.cell_type == "markdown":
            new = nbformat.v4.new_markdown_cell(source=source, metadata=metadata)
            if cell.get("attachments"):
                new["attachments"] = cell["attachments"]
        else:
            new = nbformat.v4.new_raw_cell(source=source, metadata=metadata)
        new["id"] = cell_id
        cells.append(new)
    notebook = nbformat.v4.new_notebook(
        cells=cells, metadata=minimal_notebook_metadata(solution.get("metadata", {}))
    )
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    return notebook


def notebook_text(notebook) -> str:
    """The file text Jupyter itself would save (validated)."""
    nbformat.validate(notebook)
    text = nbformat.writes(notebook)
    return text if text.endswith("\n") else text + "\n"


def read_notebook(path: Path, display: str):
    """Parse and validate a notebook file, or raise NotebookError in one line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise NotebookError(f"{display}: cannot read it ({error}).") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotebookError(f"{display}: not valid JSON ({error}).") from None
    if not isinstance(raw, dict) or "cells" not in raw or "nbformat" not in raw:
        raise NotebookError(f"{display}: valid JSON but not a Jupyter notebook (no cells).")
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat raises several unrelated types here
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise NotebookError(
            f"{display}: not a valid notebook ({type(error).__name__}: {first_line})."
        ) from None
    return notebook


# --------------------------------------------------------------------------
# Planning, safety and writing
# --------------------------------------------------------------------------


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def select_sources(solutions: Path, names: list[str]) -> list[Path]:
    """The solution notebooks to convert: all, or those named (stem, file or NN)."""
    available = sorted(p for p in solutions.glob("*.ipynb") if LESSON_FILE.match(p.name))
    if not names:
        return available
    chosen = []
    for name in names:
        wanted = Path(name).name
        number = wanted if re.fullmatch(r"\d{2}", wanted) else None
        matches = [p for p in available if wanted in (p.name, p.stem) or p.name[:2] == number]
        if not matches:
            listing = ", ".join(p.stem for p in available) or "none"
            raise NotebookError(f"no solution notebook named {name!r}; available: {listing}.")
        chosen.extend(m for m in matches if m not in chosen)
    return chosen


def plan(root: Path, names: list[str]) -> list[Planned]:
    """Build every requested student notebook in memory (raises NotebookError)."""
    solutions, notebooks = root / "solutions", root / "notebooks"
    planned = []
    for source in select_sources(solutions, names):
        display = _display(source, root)
        notebook = read_notebook(source, display)
        text = notebook_text(student_notebook(notebook, display))
        planned.append(Planned(source, notebooks / source.name, text))
    return planned


def _git_toplevel(directory: Path) -> Path | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:  # git not installed
        return None
    return Path(result.stdout.strip()) if result.returncode == 0 else None


def _committed_bytes(toplevel: Path, path: Path) -> bytes | None:
    """The file's content at HEAD, or None when HEAD does not have it."""
    try:
        relative = path.resolve().relative_to(toplevel.resolve()).as_posix()
    except ValueError:  # outside the checkout (e.g. a symlink): nothing committed
        return None
    result = subprocess.run(
        ["git", "-C", str(toplevel), "show", f"HEAD:{relative}"],
        capture_output=True,
        check=False,
    )
    return result.stdout if result.returncode == 0 else None


def learner_changes(planned: list[Planned]) -> list[Path]:
    """Targets whose current content would be lost by overwriting them."""
    at_risk = []
    toplevel = None
    looked_up = False
    for item in planned:
        if not item.target.exists():
            continue
        current = item.target.read_bytes()
        if current == item.text.encode("utf-8"):
            continue
        if not looked_up:
            toplevel, looked_up = _git_toplevel(item.target.parent), True
        committed = _committed_bytes(toplevel, item.target) if toplevel else None
        if committed is None or committed != current:
            at_risk.append(item.target)
    return at_risk


def write_atomically(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        mode = path.stat().st_mode & 0o777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def stale_notebooks(root: Path, planned: list[Planned]) -> list[Path]:
    """Student notebooks without a solution (only meaningful for a full run)."""
    expected = {item.target.name for item in planned}
    return sorted(p for p in (root / "notebooks").glob("*.ipynb") if p.name not in expected)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.make_student",
        description="Write notebooks/ (student versions) from solutions/.",
    )
    parser.add_argument("names", nargs="*", help="lessons to convert: 02, 02_overflow_... (all)")
    parser.add_argument("--force", action="store_true", help="overwrite notebooks with changes")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if notebooks/ is out of date"
    )
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the course folder (default: this repository)"
    )
    options = parser.parse_args(argv)
    root = options.root.resolve()
    try:
        planned = plan(root, options.names)
    except NotebookError as error:
        print(f"make_student: {error}", file=sys.stderr)
        return 2
    if not planned:
        print(f"make_student: no solution notebooks in {root / 'solutions'}.", file=sys.stderr)
        return 2

    if options.check:
        outdated = [
            item.target
            for item in planned
            if not item.target.exists() or item.target.read_bytes() != item.text.encode("utf-8")
        ]
        extra = [] if options.names else stale_notebooks(root, planned)
        for path in outdated:
            print(f"out of date: {_display(path, root)}", file=sys.stderr)
        for path in extra:
            print(f"no solution for: {_display(path, root)}", file=sys.stderr)
        if outdated or extra:
            print("make_student: notebooks/ differs; run `make student`.", file=sys.stderr)
            return 1
        print(f"notebooks/ is up to date ({len(planned)} notebooks).")
        return 0

    at_risk = [] if options.force else learner_changes(planned)
    if at_risk:
        print("make_student: these notebooks have changes that are not committed:", file=sys.stderr)
        for path in at_risk:
            print(f"  {_display(path, root)}", file=sys.stderr)
        print(f"Nothing was written; {FORCE_ADVICE}.", file=sys.stderr)
        return 1
    written = 0
    for item in planned:
        if item.target.exists() and item.target.read_bytes() == item.text.encode("utf-8"):
            continue
        try:
            write_atomically(item.target, item.text)
        except OSError as error:
            print(
                f"make_student: could not write {_display(item.target, root)}: {error}",
                file=sys.stderr,
            )
            return 2
        print(f"wrote {_display(item.target, root)}")
        written += 1
    if not written:
        print(f"notebooks/ is up to date ({len(planned)} notebooks).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
