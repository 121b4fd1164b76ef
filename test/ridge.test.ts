import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HOUR_MS } from '../src/core/time.js';
import { rowLat, type GridSpec } from '../src/core/grid.js';
import type { Cube } from '../src/ingest/cube.js';
import { featureContext, featureSpec, gatherTargets, gatherWindow } from '../src/prepare/features.js';
import { computeStats } from '../src/prepare/normalize.js';
import { DISTINCT_WINDOWS_FACTOR, fitSameInputRidge, ridgeForecast, solveRidge, solveSymmetric, validationWindows } from '../src/prepare/ridge.js';
import { splitHours } from '../src/prepare/split.js';
import { rmseByLead } from '../src/train/validation.js';
import type { WindowSample } from '../src/prepare/windows.js';

const grid: GridSpec = { width: 3, height: 2, lon0: 10, lat0: 50, dLon: 1, dLat: 1, pixelIsPoint: false, sourceSouthUp: false, epsg: 4326 };

/** A cube whose deviation from its cell's mean is an AR(2) process: linearly predictable from the last two hours. */
function arCube(hours: number): Cube {
  const cells = grid.width * grid.height;
  const speed = new Float32Array(hours * cells);
  let seed = 7;
  const noise = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5);
  const d = new Float64Array(hours * cells);
  for (let t = 2; t < hours; t++) {
    for (let c = 0; c < cells; c++) d[t * cells + c] = 1.5 * d[(t - 1) * cells + c]! - 0.6 * d[(t - 2) * cells + c]! + noise();
  }
  for (let i = 0; i < speed.length; i++) speed[i] = 8 + (i % cells) + d[i]!;
  return { grid, times: Float64Array.from({ length: hours }, (_, t) => t * HOUR_MS), speed, source: { files: [], fingerprint: 'ar' } };
}

function windows(first: number, last: number, cells: number): WindowSample {
  const t0: number[] = [];
  const cell: number[] = [];
  for (let t = first; t <= last; t++) for (let c = 0; c < cells; c++) (t0.push(t), cell.push(c));
  return { t0: Int32Array.from(t0), cell: Int32Array.from(cell) };
}

test('solveRidge and solveSymmetric: a hand-checked 2 x 2 system, the intercept unpenalised', () => {
  const x = solveSymmetric(Float64Array.of(4, 2, 2, 3), Float64Array.of(2, 8, 1, 7), 2, 2);
  // [4 2; 2 3] X = [2 8; 1 7] -> X = [0.5 1.25; 0 1.5]
  assert.ok(Math.abs(x[0]! - 0.5) < 1e-12 && Math.abs(x[2]! - 0) < 1e-12);
  assert.ok(Math.abs(x[1]! - 1.25) < 1e-12 && Math.abs(x[3]! - 1.5) < 1e-12);
  // Two points y = 1 + 2x with weight 1 each, lambda 0: exact; a huge lambda leaves the mean.
  const exact = solveRidge({ xtx: Float64Array.of(0 + 1, 0 + 1, 0, 2), xty: Float64Array.of(3, 1 + 3), inputs: 2, outputs: 1, sumW: 2, lambda: 0 });
  assert.ok(Math.abs(exact[0]! - 2) < 1e-9 && Math.abs(exact[1]! - 1) < 1e-9, `${exact}`);
  const flat = solveRidge({ xtx: Float64Array.of(1, 1, 0, 2), xty: Float64Array.of(3, 4), inputs: 2, outputs: 1, sumW: 2, lambda: 1e9 });
  assert.ok(Math.abs(flat[0]!) < 1e-6 && Math.abs(flat[1]! - 2) < 1e-6, 'the intercept carries the mean');
});

test('the same-input ridge is the least-squares fit on exactly the model inputs, its penalty chosen on validation', () => {
  const cube = arCube(400);
  const spec = featureSpec({ lookback: 4, horizon: 3, ringsDeg: [1], uv: false, dayOfYear: false, predictDelta: true, normalization: 'cell' });
  const split = { startHour: 0, endHour: 300 };
  const stats = computeStats(cube, split, 'cell');
  const ctx = featureContext(cube, spec, stats);
  const cells = grid.width * grid.height;
  const train = windows(3, 296, cells);
  const validation = windows(303, 396, cells);
  const ridge = fitSameInputRidge(ctx, train, validation, [1e-6, 1e-2, 100]);
  assert.equal(ridge.inputs, spec.lookback * spec.nFeatures);
  assert.equal(ridge.windows, train.t0.length);
  assert.equal(ridge.validationRmse.length, 3);
  const chosen = ridge.validationRmse.indexOf(Math.min(...ridge.validationRmse));
  assert.equal(ridge.lambda, [1e-6, 1e-2, 100][chosen]);
  assert.ok(ridge.validationRmse[2]! > ridge.validationRmse[chosen]!, 'a heavy penalty forecasts worse than the chosen one');

  // Its forecasts: the fitted linear function of the gathered inputs, denormalised; the
  // least-squares normal equations hold at the fit (residuals orthogonal to every input).
  const x = new Float32Array(ridge.inputs);
  const y = new Float32Array(spec.horizon);
  const out = new Float32Array(train.t0.length * spec.horizon);
  ridgeForecast(ridge, ctx, train.t0, train.cell, out);
  const lambda = ridge.lambda;
  const grad = new Float64Array((ridge.inputs + 1) * spec.horizon);
  let sumW = 0;
  for (let i = 0; i < train.t0.length; i++) {
    const c = train.cell[i]!;
    assert.ok(gatherWindow(ctx, train.t0[i]!, c, x, 0) && gatherTargets(ctx, train.t0[i]!, c, y, 0));
    const sd = stats.std[c]!;
    const w = (sd * sd) / stats.meanVariance;
    sumW += w;
    const last = cube.speed[train.t0[i]! * cells + c]!;
    for (let j = 0; j < spec.horizon; j++) {
      const predNorm = (Math.max(out[i * spec.horizon + j]!, 0) - last) / sd;
      const r = predNorm - y[j]!;
      for (let a = 0; a < ridge.inputs; a++) grad[a * spec.horizon + j]! += w * r * x[a]!;
      grad[ridge.inputs * spec.horizon + j]! += w * r;
    }
  }
  for (let j = 0; j < spec.horizon; j++) {
    // d/d(intercept) of the mean weighted squared error is zero (the intercept is not penalised).
    assert.ok(Math.abs(grad[ridge.inputs * spec.horizon + j]! / sumW) < 1e-4, `lead ${j + 1}: ${grad[ridge.inputs * spec.horizon + j]! / sumW}`);
    // Every other input: gradient of the data term = -lambda * coefficient.
    for (let a = 0; a < ridge.inputs; a++) {
      const g = grad[a * spec.horizon + j]! / sumW + lambda * ridge.coef[a * spec.horizon + j]!;
      assert.ok(Math.abs(g) < 1e-4, `lead ${j + 1} input ${a}: ${g}`);
    }
  }
  // The AR(2) structure is found: at +1 h it beats persistence clearly on validation windows.
  const vOut = new Float32Array(validation.t0.length * spec.horizon);
  ridgeForecast(ridge, ctx, validation.t0, validation.cell, vOut);
  let eRidge = 0;
  let ePersist = 0;
  for (let i = 0; i < validation.t0.length; i++) {
    const t = validation.t0[i]!;
    const c = validation.cell[i]!;
    const truth = cube.speed[(t + 1) * cells + c]!;
    eRidge += (vOut[i * spec.horizon]! - truth) ** 2;
    ePersist += (cube.speed[t * cells + c]! - truth) ** 2;
  }
  assert.ok(eRidge < 0.95 * ePersist, `ridge ${eRidge} vs persistence ${ePersist}`);
});

test('ridgeForecast gives NaN for a window with a missing input hour', () => {
  const cube = arCube(60);
  cube.speed[30 * 6 + 2] = NaN;
  const spec = featureSpec({ lookback: 4, horizon: 3, ringsDeg: [1], uv: false, dayOfYear: false, predictDelta: true, normalization: 'cell' });
  const stats = computeStats(cube, { startHour: 0, endHour: 60 }, 'cell');
  const ctx = featureContext(cube, spec, stats);
  const ridge = fitSameInputRidge(ctx, windows(3, 40, 6), windows(41, 56, 6), [1e-3]);
  const out = new Float32Array(2 * 3);
  ridgeForecast(ridge, ctx, Int32Array.of(31, 31), Int32Array.of(2, 3), out);
  assert.ok(out.slice(0, 3).every((v) => Number.isNaN(v)));
  assert.ok(out.slice(3).every((v) => Number.isFinite(v) && v >= 0));
});

test('validation windows: on small data every window of the period once, area-weighted; on large data independent area-proportional draws', () => {
  const cube = arCube(400);
  const spec = featureSpec({ lookback: 4, horizon: 3, ringsDeg: [1], uv: false, dayOfYear: false, predictDelta: true, normalization: 'cell' });
  const split = splitHours({ hours: 400, lookback: 4, horizon: 3, fractions: [0.7, 0.1, 0.2] });
  const ctx = featureContext(cube, spec, computeStats(cube, { startHour: 0, endHour: split.train.endHour }, 'cell'));
  const cells = grid.width * grid.height;
  const every = validationWindows(ctx, split, 100_000, 5);
  const period = new Set<number>();
  for (let t = split.validation.startHour + 3; t + 3 < split.validation.endHour; t++) for (let c = 0; c < cells; c++) period.add(t * cells + c);
  const got = new Set(Array.from(every.t0, (t, i) => t * cells + every.cell[i]!));
  assert.equal(got.size, every.t0.length, 'each window once');
  assert.deepEqual([...got].sort((a, b) => a - b), [...period].sort((a, b) => a - b), 'every window of the validation period');
  assert.ok(every.weight && every.weight.length === every.t0.length);
  // The same windows whatever the seed: the score judges the period, not a resample.
  assert.deepEqual(validationWindows(ctx, split, 100_000, 6), every);
  // Two rows, centred at 50.5 and 49.5 degrees: weights in the ratio of their cosines.
  const r = every.weight[every.cell.indexOf(0)]! / every.weight[every.cell.indexOf(3)]!;
  const cos = (row: number) => Math.cos((rowLat(grid, row) * Math.PI) / 180);
  assert.ok(Math.abs(rowLat(grid, 0) - rowLat(grid, 1)) === 1);
  assert.ok(Math.abs(r - cos(0) / cos(1)) < 1e-5, String(r));
  // Far more windows than wanted: draws as before, no weights.
  const few = Math.floor(period.size / DISTINCT_WINDOWS_FACTOR) - 1;
  const drawn = validationWindows(ctx, split, few, 5);
  assert.equal(drawn.t0.length, few);
  assert.equal(drawn.weight, undefined);
  // Between: a distinct subset, the same for every run seed.
  const some = validationWindows(ctx, split, Math.floor(period.size / 2), 5);
  assert.equal(some.t0.length, Math.floor(period.size / 2));
  assert.equal(new Set(Array.from(some.t0, (t, i) => t * cells + some.cell[i]!)).size, some.t0.length);
  assert.deepEqual(validationWindows(ctx, split, Math.floor(period.size / 2), 6), some);
});

test('rmseByLead weights the errors of each window', () => {
  // Two windows, two leads: errors (1, 2) with weight 3 and (3, 0) with weight 1.
  const r = rmseByLead(Float32Array.of(1, 2, 3, 0), Float32Array.of(0, 0, 0, 0), 2, Float32Array.of(3, 1));
  assert.ok(Math.abs(r.byLead[0]! - Math.sqrt((3 * 1 + 9) / 4)) < 1e-12);
  assert.ok(Math.abs(r.byLead[1]! - Math.sqrt((3 * 4 + 0) / 4)) < 1e-12);
  assert.equal(rmseByLead(Float32Array.of(1, 2, 3, 0), Float32Array.of(0, 0, 0, 0), 2).byLead[0], Math.sqrt(5));
});
