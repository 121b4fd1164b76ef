import assert from 'node:assert/strict';
import { test } from 'node:test';
import { climatologyForecast, coversYear, dayOfYearIndex, fitClimatology, triangularSmooth } from '../src/evaluate/climatology.js';
import { HOUR_MS, hourOfDay } from '../src/core/time.js';
import { valueCube } from './train-fixtures.js';


// Speed = 100 * cell + hour index: every forecast can be checked by hand.
const ramp = valueCube(96, 3, 2, (t, c) => 100 * c + t);
const cells = Int32Array.of(0, 4, 5);

test('climatology: mean per cell and UTC hour of day over the training hours only', () => {
  // Training hours 0..47: hour of day k is seen at t = k and k + 24, mean 100 c + k + 12.
  const clim = fitClimatology(ramp, { hours: [0, 48], cells });
  assert.equal(clim.kind, 'hour-of-day');
  const out = climatologyForecast(clim, ramp, { t0: 70, cells, horizon: 3 });
  // t0 = 70 is 22Z; leads are 23Z, 00Z, 01Z.
  assert.deepEqual([...out.subarray(0, 3)], [23 + 12, 0 + 12, 1 + 12]);
  assert.deepEqual([...out.subarray(3, 6)], [400 + 35, 400 + 12, 400 + 13]);
  // A cell that was not fitted gets NaN, not someone else's climatology.
  const other = climatologyForecast(clim, ramp, { t0: 70, cells: Int32Array.of(1), horizon: 1 });
  assert.ok(Number.isNaN(other[0]));
});

test('climatology skips NaN hours and is NaN where a cell never had a value', () => {
  const cube = valueCube(48, 2, 1, (t, c) => (c === 1 ? NaN : t === 5 ? NaN : 7));
  const clim = fitClimatology(cube, { hours: [0, 48] });
  assert.equal(clim.mean[5], 7); // hour 5 seen once (t = 29), still 7
  assert.ok(Number.isNaN(clim.mean[24 + 3]));
});

test('day of year counts as xarray does: 0-based, leap years have a day 366', () => {
  assert.equal(dayOfYearIndex(Date.UTC(2023, 0, 1, 23)), 0);
  assert.equal(dayOfYearIndex(Date.UTC(2023, 2, 1)), 59);
  assert.equal(dayOfYearIndex(Date.UTC(2024, 2, 1)), 60);
  assert.equal(dayOfYearIndex(Date.UTC(2023, 11, 31, 23)), 364);
  assert.equal(dayOfYearIndex(Date.UTC(2024, 11, 31, 5)), 365);
  assert.equal(dayOfYearIndex(Date.UTC(1965, 11, 31)), 364);
});

test('triangular smoothing equals the weighted sum it stands for, wrapping round the year', () => {
  let seed = 3;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (const half of [1, 2, 7, 30]) {
    const a = Float64Array.from({ length: 366 }, () => rand() * 10);
    const expected = Array.from(a, (_, d) => {
      let s = 0;
      for (let k = -half + 1; k < half; k++) s += (half - Math.abs(k)) * a[(((d + k) % 366) + 366) % 366]!;
      return s;
    });
    triangularSmooth(a, half, new Float64Array(366));
    a.forEach((v, d) => assert.ok(Math.abs(v - expected[d]!) < 1e-9 * Math.max(1, expected[d]!), `half ${half}, day ${d}: ${v} vs ${expected[d]}`));
  }
});

/** Two years from 2023-01-01 (2024 a leap year) of a seasonal and a diurnal cycle and noise. */
const YEARS_START = Date.UTC(2023, 0, 1);
const TWO_YEARS = (365 + 366) * 24;
function seasonalValue(t: number, cell: number): number {
  const ms = YEARS_START + t * HOUR_MS;
  const doy = dayOfYearIndex(ms);
  const noise = Math.sin(12.9898 * t + 78.233 * cell) * 43758.5453;
  return 8 + cell + 4 * Math.sin((2 * Math.PI * doy) / 365.25) + 1.5 * Math.cos((2 * Math.PI * hourOfDay(ms)) / 24) + (noise - Math.floor(noise) - 0.5);
}

test('seasonal climatology: by day of year and hour, a 61-day triangular window, as computed by hand', () => {
  const cube = valueCube(TWO_YEARS, 2, 1, seasonalValue, YEARS_START);
  // A missing hour is skipped, not counted as zero.
  cube.speed[500 * 2 + 1] = NaN;
  const train = [0, 400 * 24] as const; // 400 days: 2023 and the first 35 days of 2024
  const test0 = 500 * 24;
  const clim = fitClimatology(cube, { hours: train, forHours: [test0, TWO_YEARS] });
  assert.equal(clim.kind, 'day-of-year-and-hour');
  assert.equal(clim.windowDays, 61);
  const H = 6;
  for (const t0 of [test0 + 5, test0 + 24 * 100 + 17, TWO_YEARS - 1 - H]) {
    const out = climatologyForecast(clim, cube, { t0, cells: Int32Array.of(0, 1), horizon: H });
    for (let c = 0; c < 2; c++) {
      for (let h = 1; h <= H; h++) {
        // By hand: every training hour at the target's hour of day, weighted 1 - |k| / 30 by
        // its distance k in days of year (round the 366-day circle) from the target's day.
        const target = cube.times[t0 + h]!;
        const d = dayOfYearIndex(target);
        let sum = 0;
        let weight = 0;
        for (let t = train[0]; t < train[1]; t++) {
          const v = cube.speed[t * 2 + c]!;
          if (hourOfDay(cube.times[t]!) !== hourOfDay(target) || !Number.isFinite(v)) continue;
          const k = Math.abs(dayOfYearIndex(cube.times[t]!) - d);
          const w = Math.max(0, 1 - Math.min(k, 366 - k) / 30);
          sum += w * v;
          weight += w;
        }
        const got = out[c * H + h - 1]!;
        assert.ok(Math.abs(got - sum / weight) < 1e-4, `t0 ${t0} cell ${c} +${h} h: ${got} vs ${sum / weight}`);
      }
    }
  }
  // The season is in it: mid May (4 sin(2 pi 135 / 365.25) = +2.9 m/s) against early October (-4 m/s).
  const may = climatologyForecast(clim, cube, { t0: 500 * 24, cells: Int32Array.of(0), horizon: 1 })[0]!;
  const october = climatologyForecast(clim, cube, { t0: (365 + 274) * 24, cells: Int32Array.of(0), horizon: 1 })[0]!;
  assert.ok(may - october > 6, `May ${may}, October ${october}`);
});

test('the seasonal form switches on at 365 days of training hours and beats the hour-of-day mean on a seasonal cycle', () => {
  const cube = valueCube(TWO_YEARS, 2, 1, seasonalValue, YEARS_START);
  assert.equal(coversYear([0, 365 * 24 - 1]), false);
  assert.equal(coversYear([10, 10 + 365 * 24]), true);
  assert.equal(fitClimatology(cube, { hours: [0, 365 * 24 - 1] }).kind, 'hour-of-day');
  const seasonal = fitClimatology(cube, { hours: [0, 365 * 24], forHours: [365 * 24, TWO_YEARS] });
  assert.equal(seasonal.kind, 'day-of-year-and-hour');
  const daily = fitClimatology(cube, { hours: [0, 365 * 24], kind: 'hour-of-day' });
  let seSeasonal = 0;
  let seDaily = 0;
  const both = Int32Array.of(0, 1);
  for (let t0 = 365 * 24; t0 + 1 < TWO_YEARS; t0 += 7) {
    const truth = [cube.speed[(t0 + 1) * 2]!, cube.speed[(t0 + 1) * 2 + 1]!];
    const s = climatologyForecast(seasonal, cube, { t0, cells: both, horizon: 1 });
    const d = climatologyForecast(daily, cube, { t0, cells: both, horizon: 1 });
    for (let c = 0; c < 2; c++) {
      seSeasonal += (s[c]! - truth[c]!) ** 2;
      seDaily += (d[c]! - truth[c]!) ** 2;
    }
  }
  // The 4 m/s seasonal amplitude is most of the hour-of-day mean's error (RMS 2.8 m/s).
  assert.ok(seSeasonal < 0.2 * seDaily, `seasonal SE ${seSeasonal}, hour-of-day SE ${seDaily}`);
  // Only the slots of forHours are kept (two January days here): other days are NaN, not a wrong day.
  const january = fitClimatology(cube, { hours: [0, 365 * 24], forHours: [365 * 24, 367 * 24] });
  assert.equal(january.slots, 48);
  assert.ok(climatologyForecast(january, cube, { t0: 365 * 24 + 3, cells: both, horizon: 1 }).every(Number.isFinite));
  assert.ok(climatologyForecast(january, cube, { t0: (365 + 180) * 24, cells: both, horizon: 1 }).every(Number.isNaN));
  assert.throws(() => fitClimatology(cube, { hours: [0, 365 * 24], windowDays: 60 }), /odd number of days/);
});
