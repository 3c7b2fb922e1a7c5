#!/bin/bash
# The merge step after every task of grade-array.sh succeeded:
#   sbatch --dependency=afterok:<array job id> docs/slurm/merge.sh
# Writes the same files, byte for byte, as one run over the whole class; refuses
# missing, duplicate or mismatched shards with a one-line reason.
#SBATCH --job-name=course-grading-merge
#SBATCH --cpus-per-task=1
#SBATCH --mem=2G
#SBATCH --time=00:20:00
set -euo pipefail

COURSE=${COURSE:-$HOME/next-token-course}
GRADEBOOKS=${GRADEBOOKS:-$COURSE/../gradebooks}
PYTHON=${PYTHON:-.venv/bin/python}                 # the course's venv (make install)
cd "$COURSE"
exec "$PYTHON" -m utils.grading merge "$GRADEBOOKS"/shard-* --out "$GRADEBOOKS/class"
