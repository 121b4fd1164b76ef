// Validation-only check of the quantile head's width-scale calibration (src/train/quantile-fit.ts):
// on a trained run's best/, with the width scales reset to 1, choose them (chooseWidthScale) on
// the first half of the validation period and score pinball and coverage on the second half,
// against no scale at all, each window weighted by its row's area as training's validation
// weights it. The test period is not read.
//   npm run build && node scripts/calibration-holdout.mjs models/RUN DATA [--target-height 10|100]
import { parseConfig } from '../dist/src/core/config.js';
import { loadBackend } from '../dist/src/runtime/backend.js';
import { loadCheckpoint } from '../dist/src/model/checkpoint.js';
import { makeForecaster } from '../dist/src/forecast/forecast.js';
import { loadDataCube } from '../dist/src/ingest/cube.js';
import { rowAreaWeight } from '../dist/src/prepare/windows.js';
import { checkpointWind } from '../dist/src/model/data-fit.js';
import { centralLevel, setQuantileScale } from '../dist/src/model/quantile-head.js';
import { centralCoverage, chooseWidthScale, meanPinball } from '../dist/src/train/quantile-fit.js';

const [run, data, flag, height] = process.argv.slice(2);
const { tf } = await loadBackend('auto');
const ck = await loadCheckpoint(tf, run, 'best');
const levels = ck.meta.model.quantiles ?? [];
if (levels.length === 0) throw new Error(`${run}: a point model (no quantile head)`);
const Q = levels.length;
const m = centralLevel(levels);
const H = ck.meta.split.horizon;
setQuantileScale(tf, ck.model, new Array(H).fill(1));
const forecaster = makeForecaster(tf, ck.model, ck.meta, ck.stats, 8192);
const config = parseConfig(flag === '--target-height' ? { ingest: { targetHeight: Number(height) } } : {}, 'calibration-holdout');
const quiet = { start: () => ({ tick() {}, done() {} }), log() {} };
const cube = await loadDataCube(data, config.ingest, quiet, checkpointWind(forecaster.meta));
const cells = cube.grid.width * cube.grid.height;
const all = Int32Array.from({ length: cells }, (_, i) => i);
const v = ck.meta.split.validation;
const first = v.startHour + ck.meta.split.lookback - 1;
const last = v.endHour - H - 1;
const mid = Math.floor((first + last) / 2);

/** Every window of hours a..b (every cell): truth [n x H], unscaled quantiles [n x H x Q], area weights [n]. */
function collect(a, b) {
  const truth = [];
  const quantiles = [];
  const weights = [];
  for (let t0 = a; t0 <= b; t0++) {
    const q = new Float32Array(cells * H * Q);
    forecaster.forecast(cube, t0, all, undefined, q);
    for (let c = 0; c < cells; c++) {
      weights.push(rowAreaWeight(cube.grid, Math.floor(c / cube.grid.width)));
      for (let j = 0; j < H; j++) {
        truth.push(cube.speed[(t0 + 1 + j) * cells + c]);
        for (let k = 0; k < Q; k++) quantiles.push(q[(c * H + j) * Q + k]);
      }
    }
  }
  return { truth: Float32Array.from(truth), q: Float32Array.from(quantiles), w: Float32Array.from(weights) };
}

/** The quantiles with per-lead scales on their distance from the central level, clipped at 0 (as chooseWidthScale scores them). */
function scaled(q, scale) {
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length / Q; i++) {
    const c = q[i * Q + m];
    for (let k = 0; k < Q; k++) out[i * Q + k] = Math.max(0, c + scale[i % H] * (q[i * Q + k] - c));
  }
  return out;
}

const fit = collect(first, mid);
const held = collect(mid + 1, last);
const perLead = chooseWidthScale(fit.q, fit.truth, levels, H, fit.w);
for (const [name, scale] of [['none', new Array(H).fill(1)], ['per lead', perLead]]) {
  const q = scaled(held.q, scale);
  const coverage = centralCoverage(q, held.truth, levels, held.w).map((c) => `${Math.round(c.central * 100)} %: ${(100 * c.observed).toFixed(1)} %`).join(', ');
  console.log(`${run}: second half of validation, scales from the first: ${name.padEnd(8)} pinball ${meanPinball(q, held.truth, levels, H, held.w).overall.toFixed(4)} m/s; coverage ${coverage}`);
}
forecaster.dispose();
