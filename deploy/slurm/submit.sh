#!/usr/bin/env bash
# Submits a sharded swarm and its merge:
#   deploy/slurm/submit.sh SCENARIO RUNS SHARDS OUT_DIR
# e.g. deploy/slurm/submit.sh scenarios/go-live-weekend.toml 1000000 8 /shared/run-1
# OUT_DIR must be on a file system every node sees.
set -euo pipefail
if [ $# -ne 4 ]; then
  echo "usage: $0 SCENARIO RUNS SHARDS OUT_DIR" >&2
  exit 2
fi
scenario=$1 runs=$2 shards=$3 out=$4
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
array=$(sbatch --parsable --array="0-$((shards - 1))" --output="$out/shard-%a.log" \
  --export="ALL,SCENARIO=$scenario,RUNS=$runs,SHARDS=$shards,OUT=$out" "$here/swarm.sh")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" --output="$out/merge.log" \
  --export="ALL,OUT=$out" "$here/merge.sh")
echo "shards: job $array (array 0-$((shards - 1))); merge: job ${merge%%;*} -> $out/report.json"
