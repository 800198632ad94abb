#!/usr/bin/env bash
# One shard of a sharded swarm, as a task of a Slurm job array: shard
# $SLURM_ARRAY_TASK_ID of $SHARDS writes $OUT/part-$SLURM_ARRAY_TASK_ID.
# Submitted by deploy/slurm/submit.sh, which sets SCENARIO, RUNS, SHARDS
# and OUT. A shard's check exits 0 whatever it found: the merge reports it.
#SBATCH --job-name=rehearse-shard
#SBATCH --cpus-per-task=1
#SBATCH --mem=1G
#SBATCH --time=02:00:00
set -euo pipefail
: "${SCENARIO:?}" "${RUNS:?}" "${SHARDS:?}" "${OUT:?}" "${SLURM_ARRAY_TASK_ID:?}"
exec rehearse check "$SCENARIO" --swarm --runs "$RUNS" \
  --shard "env/$SHARDS" --out "$OUT/part-$SLURM_ARRAY_TASK_ID"
