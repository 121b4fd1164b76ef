import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dressBaselines, fitClimatologyQuantiles, fitDressing, weightedQuantiles, type QuantileBaselineSet } from '../src/evaluate/quantile-baselines.js';
import { climatologyForecast, fitClimatology } from '../src/evaluate/climatology.js';
import { normalQuantile } from '../src/model/quantile-head.js';
import { featureContext, featureSpec } from '../src/prepare/features.js';
import { computeStats } from '../src/prepare/normalize.js';
import { fitPeriodRidge, ridgeForecast, trainingWindows, RIDGE_SAMPLE_SEED } from '../src/prepare/ridge.js';
import { splitHours } from '../src/prepare/split.js';
import { mixSeed } from '../src/prepare/windows.js';
import { valueCube } from './train-fixtures.js';

const close = (a: number, b: number, eps = 1e-6) => assert.ok(Math.abs(a - b) <= eps, `${a} vs ${b}`);

test('weighted Hazen quantiles by hand', () => {
  // 1, 2, 3, 4 sit at plotting positions 0.125, 0.375, 0.625, 0.875.
  const out = new Float64Array(4);
  weightedQuantiles(Float64Array.of(3, 1, 4, 2), undefined, [0.1, 0.25, 0.5, 0.9], out);
  assert.deepEqual(Array.from(out), [1, 1.5, 2.5, 4]);
  // 1 (weight 3) and 2 (weight 1): positions 1.5 / 4 = 0.375 and 3.5 / 4 = 0.875; the median is 1 + 0.125 / 0.5 = 1.25.
  weightedQuantiles(Float64Array.of(2, 1), Float64Array.of(1, 3), [0.2, 0.5, 0.95], out);
  assert.deepEqual(Array.from(out.subarray(0, 3)), [1, 1.25, 2]);
});

test('climatological quantiles per cell and hour of day on a tiny cube, by hand', () => {
  // Speed 10 + day + hour/10 + cell: each (cell, hour of day) holds the four values of days 0..3 of training.
  const value = (t: number, c: number) => 10 + Math.floor(t / 24) + (t % 24) / 10 + c;
  const cube = valueCube(120, 2, 1, value);
  const cells = Int32Array.of(0, 1);
  const train = [0, 96] as const;
  const clim = fitClimatology(cube, { hours: train, cells, forHours: [96, 120] });
  assert.equal(clim.kind, 'hour-of-day');
  const levels = [0.25, 0.5, 0.75];
  const q = fitClimatologyQuantiles(cube, { hours: train, cells, levels, clim });
  // Anomalies from the hour's mean (day 1.5) are -1.5, -0.5, 0.5, 1.5: Hazen quantiles -1, 0, 1.
  for (let i = 0; i < 2; i++) for (let h = 0; h < 24; h++) [-1, 0, 1].forEach((a, k) => close(q.anomaly[(i * 24 + h) * 3 + k]!, a));
  // Dressed onto the climatology's mean for t0 = 100 (hour of day 4), leads +1..+2: hours 5 and 6.
  const H = 2;
  const mean = climatologyForecast(clim, cube, { t0: 100, cells, horizon: H });
  const set: QuantileBaselineSet = { climatology: q, dressing: { levels, horizon: H, persistence: new Float64Array(H * 3), ridgeSigma: new Float64Array(H), windows: 0, areaWeighted: false } };
  const outs = [0, 1, 2].map(() => new Float32Array(2 * H * 3));
  dressBaselines(set, { cube, t0: 100, horizon: H, climatology: mean, persistence: mean, linear: mean, outs });
  for (let i = 0; i < 2; i++) {
    for (let l = 0; l < H; l++) {
      const hod = 5 + l;
      // The quantiles of the cell's four training values at that hour: 10.5, 11.5, 12.5 + hour/10 + cell.
      [10.5, 11.5, 12.5].forEach((v, k) => close(outs[0]![(i * H + l) * 3 + k]!, v + hod / 10 + i, 1e-5));
    }
  }
});

test('on a year or more of training the climatological quantiles follow the seasonal mean, with one spread per hour of day', () => {
  // A seasonal cycle plus +-1 on alternate days: the seasonal mean (61-day triangular window)
  // follows the cycle, the anomalies are close to -1 and +1 whatever the season.
  const hours = 24 * 400;
  const season = (t: number) => 8 + 3 * Math.sin((2 * Math.PI * t) / (24 * 365));
  const value = (t: number) => season(t) + (Math.floor(t / 24) % 2 === 0 ? 1 : -1) + (t % 24) / 20;
  const cube = valueCube(hours, 1, 1, value, Date.UTC(2021, 0, 1));
  const cells = Int32Array.of(0);
  const train = [0, 24 * 370] as const;
  const clim = fitClimatology(cube, { hours: train, cells, forHours: [24 * 370, hours] });
  assert.equal(clim.kind, 'day-of-year-and-hour');
  const levels = [0.1, 0.5, 0.9];
  const q = fitClimatologyQuantiles(cube, { hours: train, cells, levels, clim });
  for (let h = 0; h < 24; h++) [-1, 0, 1].forEach((a, k) => close(q.anomaly[h * 3 + k]!, a, 0.1));
  // Dressed on the seasonal mean of two test hours weeks apart: centred on the cycle there (within
  // 0.15 m/s: the 61-day window flattens the cycle a little, and the alternate days do not cancel exactly).
  for (const t0 of [24 * 375, 24 * 395]) {
    const mean = climatologyForecast(clim, cube, { t0, cells, horizon: 1 });
    const set: QuantileBaselineSet = { climatology: q, dressing: { levels, horizon: 1, persistence: new Float64Array(3), ridgeSigma: new Float64Array(1), windows: 0, areaWeighted: false } };
    const outs = [0, 1, 2].map(() => new Float32Array(3));
    dressBaselines(set, { cube, t0, horizon: 1, climatology: mean, persistence: mean, linear: mean, outs });
    const centre = season(t0 + 1) + ((t0 + 1) % 24) / 20;
    [-1, 0, 1].forEach((a, k) => close(outs[0]![k]!, centre + a, 0.15));
  }
});

test('dressed persistence and the Gaussian ridge: quantiles by hand, clamped at 0', () => {
  const levels = [0.1, 0.5, 0.9];
  const H = 2;
  const set: QuantileBaselineSet = {
    climatology: { levels, cells: Int32Array.of(0), anomaly: new Float32Array(24 * 3) },
    dressing: { levels, horizon: H, persistence: Float64Array.of(-2, 0, 1, -3, 0.5, 2), ridgeSigma: Float64Array.of(1, 2), windows: 0, areaWeighted: false },
  };
  const cube = valueCube(10, 1, 1, () => 1);
  const outs = [0, 1, 2].map(() => new Float32Array(H * 3));
  dressBaselines(set, { cube, t0: 3, horizon: H, climatology: Float32Array.of(5, 5), persistence: Float32Array.of(2.5, 2.5), linear: Float32Array.of(4, 1), outs });
  // Persistence 2.5 + (-2, 0, 1) and + (-3, 0.5, 2), the lowest clamped at 0.
  assert.deepEqual(Array.from(outs[1]!), [0.5, 2.5, 3.5, 0, 3, 4.5]);
  const z = normalQuantile(0.9);
  // Ridge 4 +- 1 * z and 1 +- 2 * z (clamped).
  [4 - z, 4, 4 + z, 0, 1, 1 + 2 * z].forEach((v, k) => close(outs[2]![k]!, v, 1e-5));
});

test('the dressing comes from the ridge\'s own training windows: persistence errors and RMS residuals', () => {
  // Alternating speeds: the persistence error at lead 1 is +1 from an even hour and -1 from an odd one.
  const cube = valueCube(200, 4, 1, (t, c) => 10 + (t % 2) + c + 0.1 * Math.sin(t / 5 + c));
  const split = splitHours({ hours: 200, lookback: 6, horizon: 3, fractions: [0.6, 0.2, 0.2] });
  const spec = featureSpec({ lookback: 6, horizon: 3, ringsDeg: [90], uv: false, dayOfYear: false, predictDelta: true, normalization: 'cell' });
  const ctx = featureContext(cube, spec, computeStats(cube, split.train, 'cell'));
  const ridge = fitPeriodRidge(ctx, { split, windows: 100_000, validationWindows: 200, seed: 3 });
  const levels = [0.25, 0.5, 0.75];
  const d = fitDressing(ctx, ridge, { split, windows: 100_000, seed: 3, levels });
  assert.equal(d.areaWeighted, true);
  const sample = trainingWindows(ctx, split, 100_000, mixSeed(3, RIDGE_SAMPLE_SEED));
  assert.equal(d.windows, sample.t0.length);
  // By hand: the errors at each lead over the same windows, and their Hazen quantiles.
  const n = 4;
  for (let l = 0; l < 3; l++) {
    const e = Float64Array.from(sample.t0, (t0, i) => cube.speed[(t0 + l + 1) * n + sample.cell[i]!]! - cube.speed[t0 * n + sample.cell[i]!]!);
    const q = new Float64Array(3);
    weightedQuantiles(e, new Float64Array(e.length).fill(1), levels, q);
    q.forEach((v, k) => close(d.persistence[l * 3 + k]!, v, 1e-9));
  }
  assert.ok(d.persistence[0]! < -0.5 && d.persistence[2]! > 0.5, 'lead 1 errors are about -1 and +1');
  const fit = ridgeForecast(ridge, ctx, sample.t0, sample.cell, new Float32Array(sample.t0.length * 3));
  for (let l = 0; l < 3; l++) {
    let se = 0;
    sample.t0.forEach((t0, i) => (se += (cube.speed[(t0 + l + 1) * n + sample.cell[i]!]! - fit[i * 3 + l]!) ** 2));
    close(d.ridgeSigma[l]!, Math.sqrt(se / sample.t0.length), 1e-9);
  }
});
