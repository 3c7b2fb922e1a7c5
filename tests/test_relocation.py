"""The course survives moving or copying the repository folder.

The venv's course kernel (kernel.json), the editable install of `utils`, the
bin/ scripts' shebangs and the activate scripts hold the absolute path the
venv was made in; the Makefile records that folder in .venv/.location and,
when it differs, repairs the venv on the next `make`. The test copies the
repository (its venv hard-linked, so nothing is downloaded or reinstalled),
checks that the copy starts out pointing at the original, runs `make
install` there, and checks that nothing in the copy's venv names the
original any more, that its scripts, `activate`, its kernel (started with
`jupyter run`) and `import utils` use the copy, and that the original was
not touched.
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


def _check_nothing_names(old_root: Path, venv: Path) -> None:
    """No script, activate file, pyvenv.cfg, kernel.json or editable-install file of
    `venv` names the old folder any more."""
    finders = list((venv / "lib").glob("python*/site-packages/__editable__*"))
    assert finders, "the editable install of utils is gone"
    files = [*(venv / "bin").iterdir(), venv / "pyvenv.cfg", venv / KERNEL_JSON, *finders]
    old = f"{old_root}/".encode()
    stale = [
        path.name
        for path in files
        if path.is_file() and not path.is_symlink() and old in path.read_bytes()
    ]
    assert not stale, f"still naming {old_root}: {stale}"


def _check_the_scripts_and_the_kernel_run_from(copy: Path) -> None:
    """The bin/ scripts (by their shebangs), `activate` and the course kernel use the copy."""
    venv = copy / ".venv"
    listed = subprocess.run(
        [str(venv / "bin/jupyter-kernelspec"), "list", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    spec = json.loads(listed.stdout)["kernelspecs"]["next-token-course"]
    assert Path(spec["resource_dir"]).is_relative_to(venv), spec["resource_dir"]
    activated = subprocess.run(
        ["bash", "-c", f"source '{venv}/bin/activate' && echo \"$VIRTUAL_ENV\""],
        capture_output=True,
        text=True,
        check=True,
    )
    assert activated.stdout.strip() == str(venv)
    # Start the course kernel from the moved tree, as JupyterLab does, and ask it where it is.
    script = copy / "build" / "where.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text("import sys, utils\nprint(sys.executable)\nprint(utils.__file__)\n")
    ran = subprocess.run(
        [str(venv / "bin/jupyter-run"), "--kernel=next-token-course", str(script)],
        cwd=copy / "notebooks",
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    executable, utils_init = ran.stdout.split()[-2:]
    assert Path(executable).parent == venv / "bin", ran.stdout
    assert utils_init == str(copy / "utils" / "__init__.py"), ran.stdout


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
    with pytest.raises(AssertionError, match="still naming"):  # (the check can fail)
        _check_nothing_names(ROOT, copy / ".venv")

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
    _check_nothing_names(ROOT, copy / ".venv")
    _check_the_scripts_and_the_kernel_run_from(copy)
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
