"""The three descriptions of the environment stay in step.

pyproject.toml holds floors, requirements/constraints.txt the exact versions
`make` installs, environment.yml the same versions for conda and Binder.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _constraints() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements/constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[_canonical(name)] = Version(version)
    return pins


def _environment_pins() -> dict[str, Version]:
    """name -> version from environment.yml (conda `name=version`, pip `name==version`)."""
    pins = {}
    for line in (ROOT / "environment.yml").read_text().splitlines():
        match = re.match(r"^\s*-\s+([A-Za-z0-9_.\-]+)\s*(==|=)\s*([0-9][^\s#]*)", line)
        if match:
            pins[_canonical(match.group(1))] = Version(match.group(3))
    return pins


def _direct_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(r) for r in project["dependencies"]]
    requirements += [Requirement(r) for r in project["optional-dependencies"]["test"]]
    return requirements


def test_every_direct_dependency_is_pinned_in_both_files_at_the_same_version():
    locked, conda = _constraints(), _environment_pins()
    for requirement in _direct_requirements():
        name = _canonical(requirement.name)
        assert name in locked, f"{name} is not pinned in requirements/constraints.txt"
        assert name in conda, f"{name} is missing from environment.yml"
        assert conda[name] == locked[name], (
            f"{name}: environment.yml has {conda[name]}, constraints.txt has {locked[name]}"
        )


def test_environment_pins_nothing_the_lock_does_not_know():
    locked = _constraints()
    for name, version in _environment_pins().items():
        if name == "python":
            continue
        assert name in locked, f"environment.yml pins {name}, which constraints.txt lacks"
        assert locked[name] == version, f"{name}: {version} vs lock {locked[name]}"


def test_pins_satisfy_the_floors():
    locked = _constraints()
    for requirement in _direct_requirements():
        version = locked[_canonical(requirement.name)]
        assert requirement.specifier.contains(version), f"{requirement} excludes {version}"


def test_python_version_agrees():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    conda_python = _environment_pins()["python"]
    assert (
        Version(f"{conda_python}.0") in Requirement(f"python{project['requires-python']}").specifier
    )


@pytest.mark.parametrize("name", ["numpy", "scipy", "matplotlib", "ipywidgets", "jupyterlab"])
def test_installed_versions_are_the_pinned_ones(name):
    from importlib.metadata import version

    assert Version(version(name)) == _constraints()[_canonical(name)], (
        f"{name} {version(name)} is installed but the lock says {_constraints()[name]}: "
        "run `make install` (or `make test`, which does it)"
    )
