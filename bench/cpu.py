"""Which CPU code paths NumPy and OpenBLAS use, and how to limit them.

NumPy picks its SIMD kernels at import time from the CPU (its "dispatch
targets", e.g. X86_V3 = AVX2 and X86_V4 = AVX-512 in NumPy 2.4) and skips
the ones named in `NPY_DISABLE_CPU_FEATURES`; OpenBLAS picks its own kernels
and takes `OPENBLAS_CORETYPE`. With both, an AVX-512 machine runs the code
an AVX2-only or an SSE-only machine would: the SIMD-limited nbval test and
`make bench` use this to check outputs and speed for those machines too.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

# What each limit keeps, and the OpenBLAS core type of a CPU of that kind.
LIMITS = {
    "avx2": ("AVX2 (no AVX-512)", "Haswell"),
    "baseline": ("NumPy's baseline only (SSE4.2 for NumPy 2.4 on x86-64)", "Nehalem"),
}


def _is_avx512(target: str) -> bool:
    return target.startswith("AVX512") or target == "X86_V4"


def numpy_dispatch() -> dict:
    """NumPy's baseline, its dispatch targets, and which of these are in use."""
    from numpy._core import _multiarray_umath as umath

    targets = list(umath.__cpu_dispatch__)
    return {
        "baseline": list(umath.__cpu_baseline__),
        "targets": targets,
        "active": [target for target in targets if umath.__cpu_features__.get(target)],
    }


def simd_limit_env(limit: str) -> dict | None:
    """Environment variables that make this machine run like one limited to `limit`.

    None when there is nothing to disable (the CPU has no more than that):
    then a plain run already is that run. Computed from the targets this
    NumPy dispatches to and this CPU supports, so it works for any NumPy
    version (their names changed in 2.4) and never names a missing feature.
    """
    if limit not in LIMITS:
        raise ValueError(f"limit must be one of {sorted(LIMITS)}, got {limit!r}.")
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    active = numpy_dispatch()["active"]
    disable = [t for t in active if _is_avx512(t)] if limit == "avx2" else active
    if not disable:
        return None
    return {"NPY_DISABLE_CPU_FEATURES": " ".join(disable), "OPENBLAS_CORETYPE": LIMITS[limit][1]}


def _openblas_libraries() -> list[Path]:
    """The OpenBLAS libraries loaded into this process (NumPy's and SciPy's own copies)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return []
    paths = {line.split()[-1] for line in maps.splitlines() if "openblas" in line.lower()}
    return sorted(Path(path) for path in paths if path.startswith("/"))


def _call(library, names, restype):
    for name in names:
        function = getattr(library, name, None)
        if function is not None:
            function.restype = restype
            return function()
    return None


def openblas_info() -> list[dict]:
    """Core type and thread count of each loaded OpenBLAS (what threadpoolctl reports)."""
    import numpy  # noqa: F401  (loads NumPy's OpenBLAS)
    import scipy.linalg  # noqa: F401  (loads SciPy's)

    found = []
    for path in _openblas_libraries():
        try:
            library = ctypes.CDLL(str(path))
        except OSError:
            continue
        core = _call(
            library,
            [
                "scipy_openblas_get_corename64_",
                "scipy_openblas_get_corename",
                "openblas_get_corename",
            ],
            ctypes.c_char_p,
        )
        threads = _call(
            library,
            [
                "scipy_openblas_get_num_threads64_",
                "scipy_openblas_get_num_threads",
                "openblas_get_num_threads",
            ],
            ctypes.c_int,
        )
        found.append(
            {"library": path.name, "core": core.decode() if core else "?", "threads": threads}
        )
    return found


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe() -> dict:
    """This process's CPU, NumPy SIMD targets in use and OpenBLAS cores, as plain data."""
    import numpy

    return {
        "cpu": f"{cpu_model()} ({os.cpu_count()} logical CPUs)",
        "numpy": numpy.__version__,
        "numpy_simd": numpy_dispatch(),
        "NPY_DISABLE_CPU_FEATURES": os.environ.get("NPY_DISABLE_CPU_FEATURES", ""),
        "openblas": openblas_info(),
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "(unset: default)"),
    }


def describe_in(env: dict) -> dict:
    """`describe()` as seen by a fresh Python started with `env` added to the environment."""
    result = subprocess.run(
        [sys.executable, "-c", "import json, bench.cpu as c; print(json.dumps(c.describe()))"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    return json.loads(result.stdout)


def summary(info: dict) -> str:
    simd = info["numpy_simd"]
    blas = ", ".join(f"{b['core']} ({b['threads']} threads)" for b in info["openblas"]) or "?"
    active = " ".join(simd["active"]) or "none"
    return (
        f"CPU: {info['cpu']}\n"
        f"NumPy {info['numpy']} SIMD: baseline {' '.join(simd['baseline'])}; dispatch targets "
        f"in use: {active}"
        + (
            f" (NPY_DISABLE_CPU_FEATURES={info['NPY_DISABLE_CPU_FEATURES']})"
            if info["NPY_DISABLE_CPU_FEATURES"]
            else ""
        )
        + f"\nOpenBLAS cores (NumPy's, SciPy's): {blas}; "
        f"OPENBLAS_NUM_THREADS={info['OPENBLAS_NUM_THREADS']}"
    )


if __name__ == "__main__":
    print(summary(describe()))
