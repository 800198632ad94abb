#!/usr/bin/env bash
# The merge of a sharded swarm's parts in $OUT, run once every array task
# has succeeded (deploy/slurm/submit.sh submits it with
# --dependency=afterok:ARRAY_JOB_ID): the report in $OUT/report.json, each
# distinct failure as a capsule in $OUT/failures. Exit 1: the swarm found
# a failure; 2: the parts do not make a whole.
#SBATCH --job-name=rehearse-merge
#SBATCH --cpus-per-task=1
#SBATCH --mem=2G
#SBATCH --time=00:30:00
set -euo pipefail
: "${OUT:?}"
exec rehearse merge "$OUT"/part-* --json --save-failures "$OUT/failures" > "$OUT/report.json"
