"""Point a moved or copied .venv at its new folder: ``python -m tools.relocate_venv OLD NEW``.

A venv records the absolute folder it was made in: in the shebang of every
script in bin/ (``jupyter``, ``pytest``, ...), in the activate scripts and in
pyvenv.cfg; the course kernel's kernel.json and the editable install of
`utils` hold it too. When .venv/.location names another folder than the
repository's, `make` runs this to rewrite the first three, then reinstalls
the editable package and the kernel (pip and ipykernel rewrite theirs).

Each file is replaced (a new file renamed over the old one), never edited in
place: a venv copied with hard links shares its files' contents with the
original, which must stay as it is.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def _text_files(venv: Path) -> list[Path]:
    """The venv's scripts (bin/, without symlinks and binaries) and its pyvenv.cfg."""
    scripts = sorted(path for path in (venv / "bin").iterdir() if path.is_file())
    return [path for path in [*scripts, venv / "pyvenv.cfg"] if not path.is_symlink()]


def relocate(venv: Path, old_root: str, new_root: str) -> list[Path]:
    """Replace the old venv folder by the new one in `venv`'s scripts; return the files changed."""
    old, new = f"{old_root.rstrip('/')}/.venv".encode(), f"{new_root.rstrip('/')}/.venv".encode()
    changed = []
    for path in _text_files(venv):
        data = path.read_bytes()
        if old not in data or b"\0" in data[:8192]:  # (a NUL: a compiled program, left alone)
            continue
        replacement = path.with_name(f".{path.name}.relocating")
        replacement.write_bytes(data.replace(old, new))
        shutil.copymode(path, replacement)
        os.replace(replacement, path)
        changed.append(path)
    return changed


def main(arguments: list[str]) -> int:
    if len(arguments) != 2:
        print("usage: python -m tools.relocate_venv OLD_REPOSITORY_FOLDER NEW_FOLDER")
        return 2
    old_root, new_root = arguments
    venv = Path(new_root) / ".venv"
    if not (venv / "pyvenv.cfg").is_file():
        print(f"{venv} is not a virtual environment (no pyvenv.cfg).")
        return 2
    changed = relocate(venv, old_root, new_root)
    print(f"{venv}: {len(changed)} script(s) now name {new_root} instead of {old_root}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
