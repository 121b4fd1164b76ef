import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BASELINE_NAMES,
  evenCells,
  fitLinearBaseline,
  forecastBaselines,
  linearForecast,
  persistenceForecast,
  truthWindow,
  yesterdayForecast,
} from '../src/evaluate/baselines.js';
import { climatologyForecast, fitClimatology } from '../src/evaluate/climatology.js';
import { featureContext, featureSpec } from '../src/prepare/features.js';
import { computeStats } from '../src/prepare/normalize.js';
import { fitPeriodRidge, ridgeForecast, solveSymmetric } from '../src/prepare/ridge.js';
import { splitHours } from '../src/prepare/split.js';
import { hourOfDay } from '../src/core/time.js';
import { makeCube, valueCube } from './train-fixtures.js';


// Speed = 100 * cell + hour index: every forecast can be checked by hand.
const ramp = valueCube(96, 3, 2, (t, c) => 100 * c + t);
const cells = Int32Array.of(0, 4, 5);

test('truth window holds hours t0+1..t0+horizon', () => {
  const out = truthWindow(ramp, { t0: 30, cells, horizon: 3 });
  assert.deepEqual([...out], [31, 32, 33, 431, 432, 433, 531, 532, 533]);
  assert.throws(() => truthWindow(ramp, { t0: 94, cells, horizon: 3 }), /outside the cube/);
});

test('persistence repeats hour t0', () => {
  const out = new Float32Array(6);
  persistenceForecast(ramp, { t0: 30, cells: Int32Array.of(1, 2), horizon: 3, out });
  assert.deepEqual([...out], [130, 130, 130, 230, 230, 230]);
  assert.throws(() => persistenceForecast(ramp, { t0: 30, cells, horizon: 3, out }), /expected 3 cells x 3 leads/);
});

test('same hour yesterday: lead h is hour t0 + h - 24, and wraps by days past 24 h', () => {
  const out = yesterdayForecast(ramp, { t0: 50, cells: Int32Array.of(1), horizon: 26 });
  assert.equal(out[0], 100 + 27); // +1 h: hour 51 - 24
  assert.equal(out[23], 100 + 50); // +24 h: hour 74 - 24 = t0
  assert.equal(out[24], 100 + 51 - 24); // +25 h: hour 75 - 48
  assert.throws(() => yesterdayForecast(ramp, { t0: 10, cells, horizon: 1 }), /outside the cube/);
});

test('hour of day is UTC and handles times before 1970', () => {
  assert.equal(hourOfDay(Date.UTC(2024, 5, 1, 13)), 13);
  assert.equal(hourOfDay(Date.UTC(1960, 5, 1, 23)), 23);
});

test('solveSymmetric solves a hand-made 2 x 2 system with two right-hand sides', () => {
  // [[4, 2], [2, 3]] x = [[2, 8], [1, 7]] -> x = [[0.5, 1.25], [0, 1.5]]
  const x = solveSymmetric(Float64Array.of(4, 2, 2, 3), Float64Array.of(2, 8, 1, 7), 2, 2);
  const expected = [0.5, 1.25, 0, 1.5];
  x.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-12, `${i}: ${v}`));
  assert.throws(() => solveSymmetric(Float64Array.of(0, 0, 0, 0), Float64Array.of(1, 1), 2, 1), /singular/);
});

test('linear baseline reproduces a diurnal sinusoid, which is linear in sin/cos of the hour', () => {
  // x_t = m_c + 3 sin(2 pi t / 24 + 0.7): the future is exactly linear in sin, cos of t0's hour and 1
  // when the cell mean m_c is also visible in the lags; ridge with a tiny penalty gets it nearly exact.
  const cube = valueCube(24 * 8, 4, 3, (t, c) => 5 + (c % 3) + 3 * Math.sin((2 * Math.PI * t) / 24 + 0.7));
  const model = fitLinearBaseline(cube, { hours: [0, 24 * 6], lookback: 24, horizon: 24, lambda: 1e-8 });
  assert.equal(model.features, 27);
  const all = Int32Array.from({ length: 12 }, (_, i) => i);
  const t0 = 24 * 6 + 5;
  const f = linearForecast(model, cube, { t0, cells: all });
  const truth = truthWindow(cube, { t0, cells: all, horizon: 24 });
  let worst = 0;
  for (let i = 0; i < f.length; i++) worst = Math.max(worst, Math.abs(f[i]! - truth[i]!));
  assert.ok(worst < 0.01, `max error ${worst} m/s`);
});

test('linear baseline recovers the coefficient of an AR(1) process', () => {
  // x_{t+1} = 0.8 x_t + 2 + noise (deterministic LCG noise), independent per cell.
  let seed = 12345;
  const noise = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648 - 0.5;
  };
  const hours = 400;
  const width = 20;
  const height = 10;
  const n = width * height;
  const series = new Float32Array(hours * n);
  for (let c = 0; c < n; c++) {
    let x = 10;
    for (let t = 0; t < hours; t++) {
      x = 0.8 * x + 2 + 2 * noise();
      series[t * n + c] = x;
    }
  }
  const cube = valueCube(hours, width, height, (t, c) => series[t * n + c]!);
  const model = fitLinearBaseline(cube, { hours: [0, hours], lookback: 3, horizon: 2, lambda: 0 });
  const H = 2;
  const c = model.coefficients;
  // Lead 1 on the last lag (feature index 2): 0.8; lead 2: 0.64. Older lags near 0.
  assert.ok(Math.abs(c[2 * H + 0]! - 0.8) < 0.03, `lead 1 coefficient ${c[2 * H]}`);
  assert.ok(Math.abs(c[2 * H + 1]! - 0.64) < 0.03, `lead 2 coefficient ${c[2 * H + 1]}`);
  assert.ok(Math.abs(c[0 * H + 0]!) < 0.03, `oldest lag ${c[0]}`);
  assert.ok(model.samples > 50_000);
});

test('linear baseline: NaN inputs give NaN forecasts and are skipped in the fit', () => {
  const cube = valueCube(120, 3, 1, (t, c) => (c === 2 && t % 10 === 0 ? NaN : 5 + Math.sin(t / 3) + c));
  const model = fitLinearBaseline(cube, { hours: [0, 100], lookback: 4, horizon: 2, lambda: 1e-3 });
  const f = linearForecast(model, cube, { t0: 103, cells: Int32Array.of(0, 2) });
  assert.ok(f.slice(0, 2).every(Number.isFinite));
  assert.ok(Number.isNaN(f[2]) && Number.isNaN(f[3]), 'hour 100 is NaN in cell 2, inside the lookback');
  assert.throws(() => linearForecast(model, cube, { t0: 105, cells: Int32Array.of(0), horizon: 3 }), /fitted for 2 leads/);
  assert.throws(() => fitLinearBaseline(cube, { hours: [0, 20], lookback: 24, horizon: 24, lambda: 1e-3 }), /too short/);
});

test('evenCells is deterministic, in range and spread out', () => {
  assert.deepEqual([...evenCells(10, 3)], [1, 5, 8]);
  assert.deepEqual([...evenCells(3, 10)], [0, 1, 2]);
});

test('forecastBaselines fills one array per baseline in BASELINE_NAMES order, reusing buffers', () => {
  assert.deepEqual([...BASELINE_NAMES], ['persistence', 'yesterday', 'climatology', 'linear', 'linear-speed']);
  const cube = valueCube(200, 3, 2, (t, c) => 100 * c + t + 3 * Math.sin(t / 5 + c));
  const split = splitHours({ hours: 200, lookback: 4, horizon: 3, fractions: [0.6, 0.2, 0.2] });
  const spec = featureSpec({ lookback: 4, horizon: 3, ringsDeg: [90], uv: false, dayOfYear: false, predictDelta: true, normalization: 'cell' });
  const ctx = featureContext(cube, spec, computeStats(cube, split.train, 'cell'));
  const ridge = fitPeriodRidge(ctx, { split, windows: 1000, validationWindows: 100, seed: 1 });
  const hours = [split.train.startHour, split.train.endHour] as const;
  const set = {
    climatology: fitClimatology(cube, { hours, cells }),
    linear: { ridge, ctx },
    linearSpeed: fitLinearBaseline(cube, { hours, horizon: 3, lookback: 4, lambda: 1e-3 }),
  };
  const outs = BASELINE_NAMES.map(() => new Float32Array(9));
  const t0 = 180;
  const got = forecastBaselines(set, cube, { t0, cells, horizon: 3, outs });
  assert.equal(got[0], outs[0]);
  const each = [
    persistenceForecast(cube, { t0, cells, horizon: 3 }),
    yesterdayForecast(cube, { t0, cells, horizon: 3 }),
    climatologyForecast(set.climatology, cube, { t0, cells, horizon: 3 }),
    ridgeForecast(ridge, ctx, t0, cells, new Float32Array(9)),
    linearForecast(set.linearSpeed, cube, { t0, cells }),
  ];
  each.forEach((expected, b) => assert.deepEqual([...got[b]!], [...expected], BASELINE_NAMES[b]));
  // A trend plus a sinusoid: both ridges follow it far better than persistence.
  const truth = truthWindow(cube, { t0, cells, horizon: 3 });
  const err = (f: Float32Array) => Math.max(...f.map((v, i) => Math.abs(v - truth[i]!)));
  assert.ok(err(got[3]!) < 0.5 * err(got[0]!) && err(got[4]!) < 0.5 * err(got[0]!), `linear ${err(got[3]!)}, linear-speed ${err(got[4]!)}, persistence ${err(got[0]!)}`);
  assert.throws(() => forecastBaselines(set, cube, { t0, cells, horizon: 2 }), /fitted for 3 leads/);
});

test('the prefix-sum fit gives the same coefficients as adding every window one by one', () => {
  let seed = 7;
  const noise = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648 - 0.5;
  };
  // Diurnal cycle + AR noise + a NaN cell and a NaN hour, so both paths run in one fit.
  const cube = valueCube(150, 6, 4, (t, c) => 6 + c * 0.3 + 2 * Math.sin((2 * Math.PI * (t + c)) / 24) + 3 * noise());
  const n = 24;
  for (let t = 0; t < 150; t++) cube.speed[t * n + 5] = NaN;
  cube.speed[40 * n + 7] = NaN;
  for (const [lookback, horizon] of [[24, 24], [3, 5]] as const) {
    const fast = fitLinearBaseline(cube, { hours: [10, 140], lookback, horizon, lambda: 1e-3 });
    const slow = fitLinearBaseline(cube, { hours: [10, 140], lookback, horizon, lambda: 1e-3, method: 'per-window' });
    assert.equal(fast.samples, slow.samples);
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < fast.coefficients.length; i++) {
      worst = Math.max(worst, Math.abs(fast.coefficients[i]! - slow.coefficients[i]!));
      scale = Math.max(scale, Math.abs(slow.coefficients[i]!));
    }
    assert.ok(worst <= 1e-9 * Math.max(1, scale), `lookback ${lookback}: coefficients differ by ${worst}`);
  }
});

test('the speed-only ridge ("linear-speed", the "linear" of report format 1) keeps its numbers', () => {
  // Pinned from fitLinearBaseline as it was before the same-input ridge took the name "linear"
  // (commit 4e5ef58): renaming the baseline must not change what it forecasts.
  const cube = makeCube({ hours: 240, step: 30, seed: 3 });
  const model = fitLinearBaseline(cube, { hours: [0, 168], lookback: 24, horizon: 6, lambda: 1e-3 });
  assert.equal(model.samples, 11676);
  const f = linearForecast(model, cube, { t0: 200, cells: Int32Array.of(0, 17, 50) });
  const pinned = [
    3.5560367107391357, 3.5381791591644287, 3.5523128509521484, 3.6120681762695312, 3.711078405380249, 3.8385870456695557,
    1.185311198234558, 1.2871748208999634, 1.4441547393798828, 1.6348320245742798, 1.8506406545639038, 2.060467481613159,
    5.002696514129639, 5.47664737701416, 5.953363418579102, 6.408369541168213, 6.813681602478027, 7.160171985626221,
  ];
  f.forEach((v, i) => assert.ok(Math.abs(v - pinned[i]!) < 1e-5, `value ${i}: ${v} vs ${pinned[i]}`));
});
