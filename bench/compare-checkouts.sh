#!/usr/bin/env bash
# Before/after on one machine: two checkouts of windcast (each built, with node_modules), the
# same steps run alternately in each, over several rounds, so the machine's drift hits both.
#
#   bench/compare-checkouts.sh BEFORE_DIR AFTER_DIR DATA_DIR CHECKPOINT [ROUNDS] > results.txt
#
# DATA_DIR: a folder of hourly global GeoTIFFs (e.g. `windcast synth --out DIR`);
# CHECKPOINT: a checkpoint both checkouts can read (train it with the older one). Each line:
# round step checkout wall_s peak_MiB [the step's own figures].
set -u
before=$1; after=$2; data=$3; checkpoint=$4; rounds=${5:-3}
export TF_CPP_MIN_LOG_LEVEL=2
scratch=$(mktemp -d /tmp/windcast-compare.XXXXXX); trap 'rm -rf "$scratch"' EXIT
run() { # label dir step command...
  local label=$1 dir=$2 step=$3; shift 3
  ( cd "$dir" && /usr/bin/time -f "TIME %e %M" "$@" > "$scratch/out" 2>&1 )
  local t; t=$(grep '^TIME' "$scratch/out" | tail -1 | awk '{print $2, int($3/1024)}')
  local extra=""
  case $step in
    train) extra=$(grep -E "bare model.fit|end to end" "$scratch/out" | tr -s ' ' | tr '\n' '|');;
    predict) extra=$(grep -E "^tensorflow" "$scratch/out" | tr -s ' ');;
    evaluate) extra=$(grep -E "^evaluate:" "$scratch/out");;
  esac
  echo "$round $step $label $t $extra"
}
for round in $(seq 1 "$rounds"); do
  if [ $((round % 2)) = 1 ]; then order="before after"; else order="after before"; fi
  for step in synth decode train predict evaluate; do
    for label in $order; do
      dir=$before; [ "$label" = after ] && dir=$after
      case $step in
        synth) rm -rf "$scratch/synth"; run $label "$dir" synth bin/windcast -q synth --out "$scratch/synth" --hours 240;;
        decode) run $label "$dir" decode bin/windcast -q inspect "$data" --json;;
        train) run $label "$dir" train node dist/bench/train.js --data "$data";;
        predict) run $label "$dir" predict node dist/bench/predict.js --data "$data" --model "$checkpoint" --backends tensorflow --no-breakdown;;
        evaluate) run $label "$dir" evaluate node dist/bench/evaluate.js --model "$checkpoint" --data "$data";;
      esac
    done
  done
done
