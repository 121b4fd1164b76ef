#!/usr/bin/env bash
# windcast on Slurm: a sharded predict or evaluate as a job array, then the merge as a job that
# starts when every array task has succeeded. See docs/deploy/README.md.
#
# Run on a login node, from the windcast checkout (on storage every node sees):
#   WINDCAST_SHARDS=8 MODEL=/shared/models/era5/best DATA=/shared/era5 \
#     OUT=/shared/forecasts/2024-01-31T00Z docs/deploy/slurm-array.sh predict --at 2024-01-31T00Z --png
#   WINDCAST_SHARDS=8 MODEL=/shared/models/era5/best DATA=/shared/era5 \
#     OUT=/shared/reports/era5 docs/deploy/slurm-array.sh evaluate
# Extra arguments go to every shard. The script submits itself as the array (--array=0-N-1) and
# a merge job with --dependency=afterok on it. Array task k runs `windcast COMMAND ... --shard
# auto`, which reads its 0-based index from SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN) and
# the count from SLURM_ARRAY_TASK_COUNT. SBATCH_* variables or SLURM_OPTIONS (e.g.
# "--partition=cpu --time=01:00:00") pass options to sbatch.
set -euo pipefail

if [ -z "${SLURM_JOB_ID:-}" ]; then
  # On the login node: the checkout this script is in. Jobs start there too (sbatch --chdir),
  # since Slurm runs a copy of the script from its spool folder.
  SCRIPT="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
  cd "$(dirname "$SCRIPT")/../.."
fi
WINDCAST=${WINDCAST:-bin/windcast}
COMMAND=${1:?usage: slurm-array.sh predict|evaluate [windcast options...] (MODEL, DATA, OUT and WINDCAST_SHARDS from the environment)}
shift
case "$COMMAND" in
  predict | evaluate) ;;
  merge-step)
    # The dependent job: every shard succeeded.
    exec "$WINDCAST" merge "${OUT:?}"
    ;;
  *) echo "slurm-array.sh: the command is predict or evaluate, got '$COMMAND'" >&2; exit 2 ;;
esac
: "${MODEL:?set MODEL to the checkpoint folder}" "${DATA:?set DATA to the input data}" "${OUT:?set OUT to the output folder}"

if [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then
  # One array task: one shard.
  exec "$WINDCAST" "$COMMAND" --model "$MODEL" --data "$DATA" --out "$OUT" "$@" --shard auto
fi

SHARDS=${WINDCAST_SHARDS:-8}
mkdir -p "$OUT/slurm-logs"
# shellcheck disable=SC2086 # SLURM_OPTIONS is a list of options
array=$(sbatch --parsable ${SLURM_OPTIONS:-} --job-name="windcast-$COMMAND" --array="0-$((SHARDS - 1))" \
  --chdir="$PWD" --cpus-per-task=2 --mem=4G --output="$OUT/slurm-logs/%x-%A_%a.out" --export=ALL "$SCRIPT" "$COMMAND" "$@")
array=${array%%;*}
# shellcheck disable=SC2086
merge=$(sbatch --parsable ${SLURM_OPTIONS:-} --job-name="windcast-$COMMAND-merge" --dependency="afterok:$array" \
  --chdir="$PWD" --cpus-per-task=2 --mem=8G --output="$OUT/slurm-logs/%x-%j.out" --export=ALL "$SCRIPT" merge-step)
echo "submitted $COMMAND shards as array job $array ($SHARDS tasks) and the merge as job ${merge%%;*} (after all succeed): $OUT"
