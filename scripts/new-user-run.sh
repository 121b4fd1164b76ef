#!/usr/bin/env bash
# A new user's run: a clean clone of this repository, the README's quick-start set-up and demo
# command copied verbatim (with --step 2 appended: a coarse grid keeps CI short), then every
# artifact the demo promises is checked, GeoTIFFs by GDAL. The README's test command is the one
# .ci/run runs in its own checkout, so it is not repeated here.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d /tmp/windcast-new-user.XXXXXX)"
trap 'rm -rf "$work"' EXIT
git clone -q "$ROOT" "$work/windcast"
cd "$work/windcast"

# The quick start is the README's first ```bash block: the set-up + demo line, then the tests.
mapfile -t commands < <(awk '/^```bash$/ { inside = 1; next } /^```$/ { if (inside) exit } inside' README.md)
setup="${commands[0]:-}"
tests="${commands[1]:-}"
fail() { echo "new-user run: $*" >&2; exit 1; }
[[ "$setup" == *"bin/windcast demo"* ]] || fail "the README's first command does not run the demo: '$setup'"
[[ "$tests" == "npm test" ]] || fail "the README's second command is not the test command .ci/run uses: '$tests'"

echo "+ $setup --step 2"
bash -c "$setup --step 2" 2>&1 | tee "$work/demo.log" | grep -v 'ETA' || fail "the demo failed (see above)"
grep -q "windcast demo finished" "$work/demo.log" || fail "the demo did not print its summary"

data=data/synth-2
run=models/demo-2
tifs=$(find "$data" -maxdepth 1 -name '*.tif' | wc -l)
[[ "$tifs" -eq 720 ]] || fail "$data holds $tifs GeoTIFFs, expected 720"
for f in "$run/best/meta.json" "$run/best/model.json" "$run/last/meta.json" "$run/train-log.jsonl" \
         "$run/evaluation/report.json" "$run/evaluation/report.md" "$run/evaluation/rmse_by_lead.png"; do
  [[ -s "$f" ]] || fail "missing or empty: $f"
done
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const m = r.global.forecasters[r.model].mean.rmse;
  const p = r.global.forecasters.persistence.mean.rmse;
  if (!(m > 0 && p > 0)) { console.error("report.json has no model or persistence RMSE"); process.exit(1); }
  console.log(`new-user run: test RMSE model ${m.toFixed(3)} m/s, persistence ${p.toFixed(3)} m/s`);
' "$run/evaluation/report.json"

leads=$(find "$run/forecast" -maxdepth 1 -name 'windspeed_*_f??.tif' | sort)
[[ $(echo "$leads" | wc -l) -eq 24 ]] || fail "expected 24 forecast GeoTIFFs in $run/forecast"
for f in $leads; do
  gdalinfo -json -stats "$f" > "$work/info.json" || fail "gdalinfo cannot open $f"
  node -e '
    const i = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
    const b = i.bands[0];
    const ok = i.size[0] === 180 && i.size[1] === 91 && b.type === "Float32" &&
      /4326/.test(JSON.stringify(i.coordinateSystem ?? i.stac ?? "")) &&
      b.minimum >= 0 && b.maximum < 80 && b.mean > 1 && b.mean < 20;
    if (!ok) { console.error(`bad forecast ${process.argv[1]}: ${JSON.stringify({ size: i.size, type: b.type, min: b.minimum, max: b.maximum, mean: b.mean })}`); process.exit(1); }
  ' "$f" "$work/info.json"
done
ls "$run"/forecast/*_leads.png >/dev/null || fail "no contact sheet PNG in $run/forecast"
ls "$run"/forecast/sites/sites_*.csv >/dev/null || fail "no site forecast CSV in $run/forecast/sites"

# Nothing the demo generated may show up as a change to commit.
[[ -z "$(git status --porcelain)" ]] || { git status --short; fail "the demo left files that git would commit"; }
echo "new-user run: ok (README commands verbatim, every artifact present and valid)"
