"""`python -m bench` (or `make bench`): every benchmark of the course, in one run.

utils.probability runs three times: in this process, which has the learner's
environment (OpenBLAS's default threads, NumPy's full SIMD dispatch); again
with OPENBLAS_NUM_THREADS=1; and again with NumPy limited to AVX2 and
OpenBLAS on its Haswell kernels (on a CPU with AVX-512), so one machine shows
the figures of both kinds of CPU. Each run prints its CPU and SIMD level and
its own verdict; the last lines sum up every verdict, and the exit status is
1 when a target was missed.
"""

import os
import subprocess
import sys

from bench import (
    bench_decoding,
    bench_explorers,
    bench_grading,
    bench_notebooks,
    bench_probability,
    cpu,
)


def _probability_in(label: str, env: dict) -> bool:
    print(f"\n== utils.probability, {label} ==", flush=True)
    command = [sys.executable, "-m", "bench.bench_probability", "--no-naive"]
    run = subprocess.run(command, env={**os.environ, **env}, check=False)
    return run.returncode == 0


def main() -> int:
    verdicts = {}
    print("== utils.probability, the learner's environment (default threads) ==", flush=True)
    verdicts["probability, default threads"] = bench_probability.main()
    verdicts["probability, OPENBLAS_NUM_THREADS=1"] = _probability_in(
        "OPENBLAS_NUM_THREADS=1", {"OPENBLAS_NUM_THREADS": "1"}
    )
    avx2 = cpu.simd_limit_env("avx2")
    if avx2 is None:
        print("\n(no AVX-512 on this CPU: the runs above already are the AVX2 figures)")
    else:
        label = " ".join(f"{key}={value}" for key, value in avx2.items())
        limited = _probability_in(f"limited to AVX2: {label}", avx2)
        verdicts["probability, limited to AVX2"] = limited
    print("\n== explorers: one slider move ==", flush=True)
    verdicts["explorers"] = bench_explorers.main()
    print("\n== notebooks: run top to bottom ==", flush=True)
    verdicts["notebooks"] = bench_notebooks.main()
    print("\n== utils.sampling ==", flush=True)
    ratios = bench_decoding.main()
    verdicts["sampling"] = all(ratios[name] >= bench_decoding.TARGETS[name] for name in ratios)
    print("\n== decoding lesson 09's token model ==", flush=True)
    bench_decoding.token_model_decoding()
    bench_decoding.exhaustive_search_timing()
    print("\n== utils.grading vs nbgrader autograde ==", flush=True)
    bench_grading.main()
    print("\n== summary ==")
    for name, met in verdicts.items():
        print(f"{name}: {'targets met' if met else 'TARGETS MISSED'}")
    print("(utils.grading vs nbgrader: its own line above)")
    return 0 if all(verdicts.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
