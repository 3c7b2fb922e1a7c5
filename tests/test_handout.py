"""The learners' hand-out (`make handout`): the lessons without the solutions, runnable alone.

(a) it holds the student notebooks, `utils` and the set-up, and nothing of
    solutions/, tests/, bench/, tools/ or docs/; the leak scan finds planted
    solutions;
(b) building twice gives the same bytes (folder, zip, branch commit);
(c) it sets up with its own `make install` in its own .venv (pip's cache makes
    that quick), runs every student notebook top to bottom there (only the
    stubs raise, every check says "not attempted", the kernel imports the
    hand-out's own `utils`), and `make lab` serves the lessons.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import nbformat
import pytest

from tools import handout

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
LESSONS = sorted(path.name for path in SOLUTIONS.glob("[0-9][0-9]_*.ipynb"))
# The interpreter this venv was made from (the hand-out makes its own venv from it).
BASE_PYTHON = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("handout") / "course"
    assert handout.main([str(out), "--zip"]) == 0
    return out


def _files(folder: Path) -> dict[str, bytes]:
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and ".venv" not in path.relative_to(folder).parts
    }


# --- (a) what is in it ----------------------------------------------------------------------


def test_handout_holds_the_lessons_utils_and_setup_only(built: Path):
    files = _files(built)
    top = {name.split("/")[0] for name in files}
    assert top == {
        "notebooks",
        "utils",
        "requirements",
        "Makefile",
        "README.md",
        ".gitignore",
        "pyproject.toml",
        "environment.yml",
        "postBuild",
    }
    assert sorted(n.split("/")[1] for n in files if n.startswith("notebooks/")) == LESSONS
    assert "utils/checks.py" in files
    assert "utils/exercises/__init__.py" in files
    assert not [name for name in files if "__pycache__" in name or name.endswith(".pyc")]
    for lesson in LESSONS:  # the student version, exactly as `make student` writes it
        assert files[f"notebooks/{lesson}"] == (ROOT / "notebooks" / lesson).read_bytes()
    assert os.access(built / "postBuild", os.X_OK)


def test_handout_contains_no_solution_code(built: Path):
    files = _files(built)
    assert handout.solution_leaks(files, SOLUTIONS) == []
    solution_bytes = {path.read_bytes() for path in SOLUTIONS.glob("*.ipynb")}
    assert not [name for name, data in files.items() if data in solution_bytes]
    regions = handout.solution_regions(SOLUTIONS)
    assert len(regions) >= len(LESSONS)  # every lesson has exercises
    for name, data in files.items():
        if name.startswith("utils/"):
            continue  # the reference implementations: see the instructors' README
        text = data.decode(errors="replace")
        assert "BEGIN SOLUTION" not in text, name
        for where, region in regions:
            if len(region) >= 2:
                assert "\n".join(region) not in "\n".join(
                    line.strip() for line in text.split("\n") if line.strip()
                ), f"{name} holds the solution of {where}"
    for lesson in LESSONS:
        notebook = nbformat.reads(files[f"notebooks/{lesson}"].decode(), as_version=4)
        assert not [c for c in notebook.cells if c.cell_type == "code" and c.outputs], lesson


def test_only_the_exercise_specs_may_hold_solutions(built: Path):
    files = _files(built)
    found = handout.regions_in_package(files, SOLUTIONS)
    assert len(found) < len(handout.solution_regions(SOLUTIONS)) // 4
    where, region = handout.solution_regions(SOLUTIONS)[-1]
    key = ("\n".join(region) + "\n").encode()
    in_specs = {**files, "utils/exercises/lesson05.py": files["utils/exercises/lesson05.py"] + key}
    assert where in handout.regions_in_package(in_specs, SOLUTIONS)
    assert handout.solution_leaks(in_specs, SOLUTIONS) == []  # the README says what it means
    elsewhere = {**files, "utils/answer_key.py": key}
    assert handout.solution_leaks(elsewhere, SOLUTIONS) == [
        f"utils/answer_key.py: holds the solution of {where}"
    ]


def test_leak_scan_finds_planted_solutions(built: Path):
    files = _files(built)
    lesson = LESSONS[2]
    planted = dict(files)
    planted[f"notebooks/{lesson}"] = (SOLUTIONS / lesson).read_bytes()
    leaks = handout.solution_leaks(planted, SOLUTIONS)
    assert any("a file of solutions/" in leak for leak in leaks)
    assert any("stored outputs" in leak for leak in leaks)

    where, region = max(handout.solution_regions(SOLUTIONS), key=lambda item: len(item[1]))
    pasted = dict(files)
    pasted["README.md"] = files["README.md"] + ("\n    " + "\n\n  ".join(region) + "\n").encode()
    assert handout.solution_leaks(pasted, SOLUTIONS) == [
        f"README.md: holds the solution of {where}"
    ]

    # Reordered, with a line added, inside a notebook's code cell: still found.
    notebook = nbformat.reads(files[f"notebooks/{lesson}"].decode(), as_version=4)
    notebook.cells.append(
        nbformat.v4.new_code_cell("x = 1\n" + "\n".join(reversed(region)) + "\nprint(x)")
    )
    inside = {**files, f"notebooks/{lesson}": nbformat.writes(notebook).encode()}
    assert f"notebooks/{lesson}: holds the solution of {where}" in handout.solution_leaks(
        inside, SOLUTIONS
    )
    in_utils = {**files, "utils/scratch/key.ipynb": files[f"notebooks/{lesson}"]}
    assert "utils/scratch/key.ipynb: a notebook inside utils/" in handout.solution_leaks(
        in_utils, SOLUTIONS
    )

    renamed = dict(files)
    renamed["extra/answers.ipynb"] = (SOLUTIONS / lesson).read_bytes()
    assert any(
        leak.startswith("extra/answers.ipynb")
        for leak in handout.solution_leaks(renamed, SOLUTIONS)
    )


def test_a_leaking_handout_is_not_written(tmp_path: Path, monkeypatch, capsys):
    real = handout.handout_contents

    def leaking(root):
        contents = real(root)
        contents["solutions/" + LESSONS[1]] = (SOLUTIONS / LESSONS[1]).read_bytes()
        return contents

    monkeypatch.setattr(handout, "handout_contents", leaking)
    assert handout.main([str(tmp_path / "out"), "--zip"]) == 1
    assert "would give solutions away" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "out.zip").exists()


def test_handout_refuses_a_folder_that_is_not_an_earlier_handout(tmp_path: Path, capsys):
    work = tmp_path / "work"
    work.mkdir()
    (work / "essay.txt").write_text("mine")
    assert handout.main([str(work)]) == 1
    assert "not an earlier hand-out" in capsys.readouterr().err
    assert (work / "essay.txt").read_text() == "mine"
    assert handout.main([str(ROOT / "notebooks")]) == 1


def test_the_learner_readme_says_how_to_start():
    readme = handout.learner_readme((ROOT / "README.md").read_text())
    assert readme.startswith("# ")
    assert "make lab" in readme
    assert "## The lessons" in readme
    for instructors_only in ("solutions/", "make test", "docs/", "For instructors"):
        assert instructors_only not in readme


# --- (b) deterministic ------------------------------------------------------------------------


def test_building_twice_gives_identical_bytes(built: Path, tmp_path: Path):
    again = tmp_path / "again"
    assert handout.main([str(again), "--zip", str(tmp_path / "again.zip")]) == 0
    assert _files(again) == _files(built)
    first = built.with_name(built.name + ".zip").read_bytes()
    assert (tmp_path / "again.zip").read_bytes() == first
    with zipfile.ZipFile(built.with_name(built.name + ".zip")) as archive:
        infos = archive.infolist()
        assert {info.date_time for info in infos} == {handout.ZIP_TIME}
        names = [info.filename for info in infos]
        assert names == sorted(names)
        assert {n.removeprefix(handout.ZIP_ROOT + "/") for n in names} == set(_files(built))
        for info in infos:
            assert archive.read(info) == (built / info.filename.split("/", 1)[1]).read_bytes()
    # Rebuilding over an earlier hand-out replaces it whole (a stale file goes).
    (again / "notebooks" / "stale.ipynb").write_text("{}")
    assert handout.main([str(again)]) == 0
    assert _files(again) == _files(built)


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_branch_gets_one_commit_per_changed_handout(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    repository = tmp_path / "repository"
    repository.mkdir()
    _git(repository, "init", "-q", "-b", "main")
    (repository / "course.txt").write_text("the course\n")
    _git(repository, "add", "course.txt")
    _git(
        repository, "-c", "user.name=T", "-c", "user.email=t@example.invalid", "commit", "-qm", "c"
    )
    head, status = _git(repository, "rev-parse", "HEAD"), _git(repository, "status", "--porcelain")

    contents = handout.handout_contents(ROOT)
    first, new = handout.commit_branch(repository, "handout", contents)
    assert new
    listed = _git(repository, "ls-tree", "-r", "--name-only", "handout").split("\n")
    assert listed == sorted(contents)
    shown = subprocess.run(
        ["git", "-C", str(repository), "show", f"handout:notebooks/{LESSONS[0]}"],
        capture_output=True,
        check=True,
    ).stdout
    assert shown == contents[f"notebooks/{LESSONS[0]}"]
    assert "100755 blob" in _git(repository, "ls-tree", "handout", "postBuild")
    assert handout.commit_branch(repository, "handout", contents) == (first, False)
    # The course's own branch, index and working tree are untouched.
    assert _git(repository, "rev-parse", "HEAD") == head
    assert _git(repository, "status", "--porcelain") == status
    assert _git(repository, "branch", "--show-current") == "main"

    changed = {**contents, "README.md": contents["README.md"] + b"\nA new note.\n"}
    second, new = handout.commit_branch(repository, "handout", changed)
    assert new
    assert second != first
    assert _git(repository, "rev-parse", "handout^") == first

    # The same hand-out in another clone gives the same commit (dates from the source).
    other = tmp_path / "other"
    _git(tmp_path, "clone", "-q", str(repository), str(other))
    assert handout.commit_branch(other, "handout2", contents)[0] == first


# --- (c) it sets up and runs on its own -------------------------------------------------------

RUN_NOTEBOOKS = r"""
import json, sys
from pathlib import Path
import nbformat
from nbclient import NotebookClient

report = {}
for path in sorted(Path("notebooks").glob("*.ipynb")):
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("import utils\nprint(utils.__file__)"))
    client = NotebookClient(notebook, kernel_name="next-token-course", timeout=120,
                            resources={"metadata": {"path": "notebooks"}})
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        text = ""
        for output in cell.outputs:
            if output.output_type in ("execute_result", "display_data"):
                text = output.data.get("text/plain", "")
                break
            if output.output_type == "stream":
                text = output.text
                break
        cells.append({
            "tags": cell.metadata.get("tags", []),
            "check": bool(cell.metadata.get("nbgrader", {}).get("grade")),
            "errors": [[o.ename, o.evalue] for o in cell.outputs if o.output_type == "error"],
            "text": text,
        })
    report[path.name] = cells
print(json.dumps(report))
"""


def _clean_environment(home: Path) -> dict[str, str]:
    """This environment minus what would point the hand-out at the course's own venv."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "JUPYTER_PATH"}
        and not key.startswith(("MAKE", "MFLAGS", "PYTEST_"))
    }
    environment.update(
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        IPYTHONDIR=str(home / "ipython"),
        MPLCONFIGDIR=str(home / "matplotlib"),
        OPENBLAS_NUM_THREADS="1",
        PATH=os.pathsep.join(
            p for p in os.environ.get("PATH", "").split(os.pathsep) if ".venv" not in p
        ),
    )
    return environment


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_handout_sets_up_alone_and_runs_every_student_notebook(tmp_path: Path):
    course = tmp_path / "course"
    assert handout.main([str(course)]) == 0
    environment = _clean_environment(tmp_path / "home")
    install = subprocess.run(
        ["make", "install", f"PYTHON={BASE_PYTHON}"],
        cwd=course,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    venv_python = course / ".venv" / "bin" / "python"
    assert venv_python.exists()
    run = subprocess.run(
        [str(venv_python), "-c", RUN_NOTEBOOKS],
        cwd=course,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert sorted(report) == LESSONS
    for lesson, cells in report.items():
        for index, cell in enumerate(cells):
            if "raises-exception" in cell["tags"]:
                assert [name for name, _ in cell["errors"]] == ["NotImplementedError"], lesson
            else:
                assert not cell["errors"], f"{lesson} code cell {index}: {cell['errors']}"
            if cell["check"]:
                assert cell["text"].startswith("[not attempted]"), f"{lesson}: {cell['text']!r}"
        assert sum(cell["check"] for cell in cells) >= 1, lesson
        imported = Path(cells[-1]["text"].strip()).resolve()
        assert imported == (course / "utils" / "__init__.py").resolve(), lesson
    _make_lab_serves_the_lessons(course, environment)


def _make_lab_serves_the_lessons(course: Path, environment: dict[str, str]) -> None:
    port, token = _free_port(), secrets.token_hex(16)
    arguments = f"--no-browser --ip=127.0.0.1 --port={port} --port-retries=0 "
    arguments += f"--IdentityProvider.token={token} --LabApp.news_url=None"
    lab = subprocess.Popen(
        ["make", "lab", f"LAB_ARGS={arguments}"],
        cwd=course,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        listing = None
        deadline = time.monotonic() + 90
        while listing is None and time.monotonic() < deadline:
            assert lab.poll() is None, "make lab exited"
            try:
                url = f"http://127.0.0.1:{port}/api/contents/notebooks?token={token}"
                with urllib.request.urlopen(url, timeout=2) as response:
                    listing = json.load(response)
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        assert listing is not None, "make lab did not serve the hand-out within 90 s"
        assert sorted(item["name"] for item in listing["content"]) == LESSONS
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/?token={token}", timeout=10) as page:
            assert page.url.split("?")[0].endswith("/lab/tree/notebooks/00_start_here.ipynb")
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait(timeout=10)


def test_only_the_files_git_tracks_in_utils_go_out(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    course = tmp_path / "course"
    for folder in ("solutions", "utils"):
        shutil.copytree(
            ROOT / folder, course / folder, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copyfile(ROOT / "README.md", course / "README.md")
    (course / "utils" / "my_answers.py").write_text("ANSWER = 42\n")
    (course / "utils" / "notes.txt").write_text("the key: ...\n")
    (course / "utils" / "scratch").mkdir()
    shutil.copyfile(SOLUTIONS / LESSONS[2], course / "utils" / "scratch" / "key.ipynb")
    # Outside git: what the package is (modules, data/), so the stray .py goes too...
    outside = handout.handout_contents(course)
    assert "utils/my_answers.py" in outside
    assert "utils/notes.txt" not in outside
    assert "utils/scratch/key.ipynb" not in outside
    assert "utils/data/tiny_lm.npz" in outside
    _git(course, "init", "-q")
    _git(course, "add", "utils", "solutions", "README.md")
    _git(course, "reset", "-q", "utils/my_answers.py")
    contents = handout.handout_contents(course)
    assert "utils/my_answers.py" not in contents
    assert "utils/checks.py" in contents
