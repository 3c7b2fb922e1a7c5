"""The instructor's grader: `python -m utils.grading SUBMISSIONS --out OUT`.

Every `*.ipynb` below SUBMISSIONS is a submission; the student is the first
folder below it (or the file's stem). The lesson comes from the notebook's
metadata (or its nbgrader cell ids). Each submission runs in its own child
process, a plain Python process rather than a Jupyter kernel, under the
bubblewrap sandbox (see `_sandbox`; `--unconfined` only where it cannot
work): its cells run in order, errors recorded and execution going on, then
each answer is called on the exercise's visible cases, and only then on the
hidden cases drawn from the instructor's seed. The child sends back plain
data over a pipe (see `_protocol`); the grader checks every field and
compares with the reference in its own process (`utils.checks.evaluate`
with the specs it imported before any child ran).

Statuses per (student, notebook, exercise): ``passed``, ``partial`` (some
cases passed and the spec gives partial credit: points = max x fraction,
rounded to 2 decimals), ``failed``, ``not_attempted`` (the stub, or no answer
defined), ``error`` (the answer raised, or the notebook's process ended
before it was checked), ``timeout`` (the answer's cell ran past ``--cell-timeout`` or
did not run within ``--timeout``, or an answer past ``--case-timeout`` on a
case), ``invalid`` (not a notebook or not a regular file, unknown lesson,
results the grader does not accept, a notebook that reaches into the grading
process, or, unconfined, it modified the course's files), ``flagged`` (the
answer calls the course's own implementation of its exercise; points kept or
0 by ``--own-implementation``). A cell past ``--cell-timeout`` is interrupted
and the next cells run; one that cannot be interrupted or ends the process is
left out and the notebook rerun without it (see `_sandbox.Sandbox.run`).

`--shard K/N` grades a stable share of the students, and
`python -m utils.grading merge SHARD_OUT... --out OUT` combines the shards
into the files one run writes (see `_shard`).

Output: OUT/grades.csv, OUT/summary.csv (best notebook per lesson),
OUT/rows.jsonl (every row's fields), OUT/grading.json (what merge compares),
the class report and LMS files (`_class_report`),
OUT/feedback/<student>/<notebook>.md (names %-escaped, see `_report`), all
readable by their owner only. Hidden cases come from `--seed` or the
environment variable COURSE_GRADING_SEED; without either, a public default
is used and the grader warns that hidden cases are then predictable.

Run it as its own process (the command line): unconfined, it reaps and
kills stray child processes of the process it runs in.
"""

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """The command line; returns its exit status."""
    from utils.grading._cli import main as cli_main

    return cli_main(argv)
