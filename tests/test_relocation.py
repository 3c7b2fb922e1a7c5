"""The course survives moving or copying the repository folder.

The venv's course kernel (kernel.json), the editable install of `utils` and
the bin/ scripts' shebangs hold the absolute path the venv was made in; the
Makefile records that folder in .venv/.location and, when it differs, repairs
the venv on the next `make`. The test copies the repository (its venv
hard-linked, so nothing is downloaded or reinstalled), checks that the copy
starts out pointing at the original, runs `make install` there, and checks
that the copy's kernel and `import utils` then use the copy, and that the
original was not touched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)
KERNEL_JSON = Path("share/jupyter/kernels/next-token-course/kernel.json")


def _kernel_python(venv: Path) -> str:
    return json.loads((venv / KERNEL_JSON).read_text())["argv"][0]


def _tracked_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, text=True
    )
    return [name for name in listed.stdout.split("\0") if name]


@pytest.mark.slow
def test_make_repairs_the_venv_of_a_copied_repository(tmp_path):
    if VENV.parent != ROOT or not (VENV / ".location").exists():
        pytest.skip("runs in the repository's own .venv, set up by make")
    copy = tmp_path / "moved-course"  # make cannot handle a space in a path
    for name in _tracked_files():
        target = copy / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, target)
    try:  # a hard-linked venv: fast, and every file the repair rewrites gets a new inode
        shutil.copytree(VENV, copy / ".venv", symlinks=True, copy_function=os.link)
    except OSError:
        shutil.copytree(VENV, copy / ".venv", symlinks=True)
    original_kernel = (VENV / KERNEL_JSON).read_text()
    original_location = (VENV / ".location").read_text()
    assert _kernel_python(copy / ".venv") == str(VENV / "bin" / "python"), "copy starts stale"

    def utils_file() -> str:
        # From notebooks/, as a kernel of the lesson runs: only the install finds utils.
        found = subprocess.run(
            [str(copy / ".venv/bin/python"), "-c", "import utils; print(utils.__file__)"],
            cwd=copy / "notebooks",
            capture_output=True,
            text=True,
            check=True,
        )
        return found.stdout.strip()

    assert utils_file().startswith(str(ROOT)), "before the repair the copy imports the original"
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MAKE")}
    repair = subprocess.run(
        ["make", "install"], cwd=copy, env=environment, capture_output=True, text=True, timeout=300
    )
    assert repair.returncode == 0, repair.stdout + repair.stderr
    assert _kernel_python(copy / ".venv") == str(copy / ".venv" / "bin" / "python")
    assert utils_file() == str(copy / "utils" / "__init__.py")
    assert (copy / ".venv/.location").read_text().strip() == str(copy)
    again = subprocess.run(
        ["make", "install"], cwd=copy, env=environment, capture_output=True, text=True, timeout=60
    )
    assert "Nothing to be done" in again.stdout, again.stdout + again.stderr
    # The original venv is untouched (the copy's repair replaced files, never edited them).
    assert (VENV / KERNEL_JSON).read_text() == original_kernel
    assert (VENV / ".location").read_text() == original_location
    original_utils = subprocess.run(
        [sys.executable, "-c", "import utils; print(utils.__file__)"],
        cwd=ROOT / "notebooks",
        capture_output=True,
        text=True,
        check=True,
    )
    assert original_utils.stdout.strip() == str(ROOT / "utils" / "__init__.py")
