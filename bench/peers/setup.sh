#!/usr/bin/env bash
# Python peers for bench/backends.ts: a venv outside the repo with the pinned versions.
# torch==2.13.0 is the CPU build; tensorflow-cpu==2.21.0 is the same TensorFlow windcast loads.
set -euo pipefail
VENV="${WINDCAST_BENCH_VENV:-$HOME/.cache/windcast/bench-venv}"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --progress-bar off torch==2.13.0 tensorflow-cpu==2.21.0
echo "peers ready: node dist/bench/backends.js --python $VENV/bin/python"
