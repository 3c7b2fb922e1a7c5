"""Stored outputs of solutions/ must not depend on the CPU they were made on.

NumPy's SIMD kernels (AVX-512, AVX2, SSE) and OpenBLAS's kernels round
differently, so an output that prints the last digits of a vectorized float
computation passes nbval on one kind of CPU and fails on another. These tests
run strict nbval on every solution notebook again, in a subprocess whose
NumPy dispatch is limited to AVX2 and to its baseline (and whose OpenBLAS
runs an older core's kernels), so one machine checks what older ones print.
They first check, in a fresh interpreter with the same environment (the
kernels nbval starts inherit it), that the limit took effect.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bench import cpu

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))


@pytest.mark.slow
@pytest.mark.parametrize("limit", sorted(cpu.LIMITS))
def test_solutions_pass_strict_nbval_with_simd_limited(limit, tmp_path):
    env = cpu.simd_limit_env(limit)
    if env is None:
        pytest.skip(f"this CPU has nothing above {cpu.LIMITS[limit][0]}: the main nbval run is it")
    seen = cpu.describe_in(env)
    active = seen["numpy_simd"]["active"]
    if limit == "avx2":
        assert not any(cpu._is_avx512(t) for t in active), f"AVX-512 still dispatched: {active}"
    else:
        assert active == [], f"NumPy still dispatches to {active} above its baseline"
    cores = {blas["core"].lower() for blas in seen["openblas"]}
    assert cores == {env["OPENBLAS_CORETYPE"].lower()}, f"OpenBLAS runs {cores}"

    report = tmp_path / "nbval.xml"
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
        "--nbval", "--nbval-sanitize-with", "tests/nbval_sanitize.cfg",
        "--nbval-cell-timeout", "120", f"--junitxml={report}", *map(str, SOLUTIONS),
    ]  # fmt: skip
    child_env = {**os.environ, **env, "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run(
        command, cwd=ROOT, env=child_env, capture_output=True, text=True, timeout=540
    )
    suite = ET.parse(report).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    ran = int(suite.get("tests")) - int(suite.get("skipped", 0))
    assert result.returncode == 0, (
        f"strict nbval on solutions/ fails with NumPy limited to {cpu.LIMITS[limit][0]} "
        f"({env}): a stored output prints digits that depend on the CPU; print it at the "
        f"precision the lesson needs.\n{result.stdout[-6000:]}"
    )
    assert ran >= 9 * len(SOLUTIONS), f"only {ran} cells were compared"
