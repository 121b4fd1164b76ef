#!/usr/bin/env bash
# CI on the native backend: after `npm ci` (whose postinstall already tried to set native
# TensorFlow up, optionally), make it mandatory, show the backend, and run the whole suite
# with WINDCAST_REQUIRE_NATIVE=1 so the backend and parity tests fail instead of skipping
# when native TensorFlow is missing. Cached set-up: seconds; first run on a machine: ~1 minute.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== native TensorFlow (scripts/setup-native.mjs, strict)"
node scripts/setup-native.mjs

echo "== windcast doctor"
bin/windcast doctor
bin/windcast doctor --json | node -e '
  let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
    const r = JSON.parse(s);
    if (r.backend?.name !== "tensorflow") {
      console.error(`ci-native: expected the tensorflow backend, got ${r.backend?.name ?? "none"}: ${r.native.reason ?? r.backendError}`);
      process.exit(1);
    }
    console.log(`ci-native: backend tensorflow, TensorFlow ${r.backend.tensorflowVersion}, ${r.backend.threads} threads`);
  });'

echo "== tests on the native backend (includes test/parity.test.js: native vs wasm)"
WINDCAST_REQUIRE_NATIVE=1 npm test
