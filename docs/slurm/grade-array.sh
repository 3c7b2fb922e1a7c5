#!/bin/bash
# Grade a class as a Slurm job array: one task per shard, then a merge job after them.
#
#   export COURSE_GRADING_SEED='only you know it'   # or: source a 0600 file holding it
#   sbatch --array=1-8 --export=ALL,SHARDS=8 docs/slurm/grade-array.sh
#   sbatch --dependency=afterok:<array job id> docs/slurm/merge.sh   # or the line below
#
# Task SLURM_ARRAY_TASK_ID (1..SHARDS) grades shard K/SHARDS into gradebooks/shard-K;
# students are split by a stable hash of their folder name, so every student is in
# exactly one shard. The seed travels in the environment (sbatch --export=ALL), never on
# a command line, where every user of the cluster could read it.
#SBATCH --job-name=course-grading
#SBATCH --cpus-per-task=2
#SBATCH --mem=6G
#SBATCH --time=02:00:00
#SBATCH --output=gradebooks/logs/shard-%a.log
set -euo pipefail

COURSE=${COURSE:-$HOME/next-token-course}   # the repository, after `make install`
SUBMISSIONS=${SUBMISSIONS:-$COURSE/../submissions}
GRADEBOOKS=${GRADEBOOKS:-$COURSE/../gradebooks}
SHARDS=${SHARDS:?set SHARDS to the array size, e.g. --export=ALL,SHARDS=8}
K=${SLURM_ARRAY_TASK_ID:?run this script with sbatch --array=1-$SHARDS}

if [ -z "${COURSE_GRADING_SEED:-}" ]; then
    echo "COURSE_GRADING_SEED is not set: export it before sbatch (--export=ALL)" >&2
    exit 2
fi
PYTHON=${PYTHON:-.venv/bin/python}                 # the course's venv (make install)
cd "$COURSE"
exec "$PYTHON" -m utils.grading "$SUBMISSIONS" \
    --out "$GRADEBOOKS/shard-$K" --shard "$K/$SHARDS" --jobs "${SLURM_CPUS_PER_TASK:-2}"
