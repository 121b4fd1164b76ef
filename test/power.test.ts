/**
 * The power library against hand values: curve interpolation, cut-in, rated and cut-out, the
 * shear law and its calm-hour guard, the air-density correction, CSV errors naming the file and
 * line, and power quantiles (non-decreasing, shut-down mass at 0 kW).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BUILT_IN_TURBINES, capacityFactor, loadPowerCurve, parsePowerCurveCsv, powerKw, type PowerCurve } from '../src/power/curve.js';
import { DEFAULT_SHEAR_EXPONENT, SHEAR_EXPONENT_RANGE, shearExponent, speedAtHeight } from '../src/power/shear.js';
import { airDensity, densityAtHeight, densityCorrectedSpeed, REFERENCE_AIR_DENSITY } from '../src/power/density.js';
import { cdfAt, powerQuantiles, quantileAt } from '../src/power/quantiles.js';
import { DataError } from '../src/core/errors.js';
import { hubHeightFrame, planHubHeight, sameHourYesterday, scaleToHubHeight, shearExponents } from '../src/power/hub-height.js';

const dir = mkdtempSync(join(tmpdir(), 'windcast-power-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function near(actual: number, expected: number, tol = 1e-9, what = '') {
  assert.ok(Math.abs(actual - expected) <= tol, `${what} ${actual} != ${expected} (tol ${tol})`);
}

function csv(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

test('every shipped turbine loads with the facts config/turbines/README.md states', () => {
  for (const name of Object.keys(BUILT_IN_TURBINES)) {
    const c = loadPowerCurve(name);
    const facts = BUILT_IN_TURBINES[name]!;
    assert.equal(c.ratedKw, facts.ratedKw);
    assert.equal(c.cutOutMs, facts.cutOutMs);
    assert.ok(c.speedsMs.length >= 18, name);
    // The tables reach rated power (within the 0.02 % the sources wobble by).
    assert.ok(Math.abs(Math.max(...c.powerKw) - c.ratedKw) / c.ratedKw < 2e-4, name);
    assert.match(c.source, /config\/turbines\//);
  }
  assert.equal(loadPowerCurve('NREL-5MW').name, 'nrel-5mw', 'names are case-insensitive');
});

test('NREL 5 MW: interpolation between table points, cut-in, rated cap, cut-out', () => {
  const c = loadPowerCurve('nrel-5mw');
  near(powerKw(c, 3), 40.52, 1e-9, 'at cut-in, the table value');
  near(powerKw(c, 3.5), (40.52 + 177.67) / 2, 1e-9, 'halfway 3..4');
  near(powerKw(c, 8.5), (1771.17 + 2518.55) / 2, 1e-9, 'halfway 8..9');
  near(powerKw(c, 7.15), (1239.25 + 1292.52) / 2, 1e-9, 'halfway 7.1..7.2');
  assert.equal(powerKw(c, 2.999), 0, 'below cut-in');
  assert.equal(powerKw(c, 0), 0);
  assert.equal(powerKw(c, 11.4), 5000, 'the source overshoot (5000.92) is capped at rated');
  assert.equal(powerKw(c, 24.99), 5000);
  assert.equal(powerKw(c, 25), 0, 'at cut-out: shut down');
  assert.equal(powerKw(c, 40), 0);
  assert.ok(Number.isNaN(powerKw(c, NaN)), 'NaN in, NaN out');
  near(capacityFactor(c, 8.5), 2144.86 / 5000, 1e-12);
  assert.equal(capacityFactor(c, 12), 1);
});

test('Vestas V82: cut-in 3.5 m/s inside the first table interval, cut-out 20 m/s', () => {
  const c = loadPowerCurve('vestas-v82-1.65mw');
  assert.equal(powerKw(c, 3.49), 0);
  near(powerKw(c, 3.5), 14, 1e-12, 'halfway between (3, 0) and (4, 28)');
  near(powerKw(c, 12.5), (1637 + 1650) / 2, 1e-12);
  assert.equal(powerKw(c, 19.99), 1650);
  assert.equal(powerKw(c, 20), 0);
});

test('a user CSV: header optional, comments, semicolons; rated, cut-in and cut-out from the table', () => {
  const withHeader = loadPowerCurve(csv('a.csv', '# my turbine\nspeed,power\n0,0\n2,0\n4,100\n10,2000\n12,2000\n25,2000\n26,0\n'));
  assert.equal(withHeader.ratedKw, 2000);
  assert.equal(withHeader.cutInMs, 2, 'the last 0 kW speed before the power rises');
  assert.equal(withHeader.cutOutMs, 25, 'the last speed with power');
  near(powerKw(withHeader, 3), 50, 1e-12);
  near(powerKw(withHeader, 7), 1050, 1e-12);
  assert.equal(powerKw(withHeader, 25), 0);
  assert.equal(powerKw(withHeader, 25.5), 0);
  const bare = loadPowerCurve(csv('b.csv', '3;10\r\n5;500\r\n20;1000\r\n'));
  assert.equal(bare.cutInMs, 3, 'power from the first row: cut-in is the first speed');
  assert.equal(bare.cutOutMs, 20);
  near(powerKw(bare, 4), 255, 1e-12);
  assert.match(bare.source, /b\.csv/);
});

test('CSV errors are DataErrors naming the file and the line', () => {
  const cases: Array<[string, RegExp]> = [
    ['speed,power\n3,10\n4\n', /line 3: expected two columns/],
    ['3,10\nfour,20\n', /line 2: wind speed "four" is not a number/],
    ['3,10\n4,lots\n', /line 2: power "lots" is not a number/],
    ['3,10\n5,20\n4,30\n', /line 3: wind speed 4 m\/s is not above the previous row's 5 m\/s/],
    ['3,10\n5,-2\n', /line 2: power -2 kW is negative/],
    ['3,10\n5,3370000\n', /line 2: power 3370000 kW is more than any turbine makes \(is the column in W/],
    ['speed,power\n3,10\n', /at least two rows.*found 1/],
    ['3,0\n5,0\n', /every power in the curve is 0 kW/],
  ];
  cases.forEach(([text, message], i) => {
    const path = csv(`bad${i}.csv`, text);
    assert.throws(() => loadPowerCurve(path), (err: unknown) => err instanceof DataError && err.message.startsWith(`${path}: `) && message.test(err.message), `${text}`);
  });
  assert.throws(() => loadPowerCurve(join(dir, 'missing.csv')), /missing\.csv: power-curve file not found/);
  assert.throws(() => loadPowerCurve('gamesa-g132'), (err: unknown) => err instanceof DataError && /gamesa-g132: not a built-in turbine \(iea-3\.4mw, nrel-5mw, iea-15mw, vestas-v82-1\.65mw\)/.test(err.message));
  assert.throws(() => parsePowerCurveCsv('', 'empty.csv'), /empty\.csv: a power curve needs at least two rows/);
});

test('shear exponent and the power law against hand values', () => {
  // ln(7/5) / ln(10) = 0.146128...
  near(shearExponent(5, 7), 0.14612803567823798, 1e-15);
  // 7 m/s at 100 m with that exponent is 7 * 1.5^alpha = 7.42728... at 150 m, 6.77543 at 80 m from 5 m/s at 10 m.
  near(speedAtHeight(7, 100, 150, shearExponent(5, 7)), 7.4272819354005035, 1e-12);
  near(speedAtHeight(5, 10, 80, shearExponent(5, 7)), 6.7754285557569425, 1e-12);
  near(speedAtHeight(5, 10, 100, shearExponent(5, 7)), 7, 1e-12, 'back to the 100 m speed');
  assert.equal(speedAtHeight(7.25, 100, 100, 0.3), 7.25, 'same height: unchanged');
  near(speedAtHeight(10, 100, 200, 1 / 7), 10 * 2 ** (1 / 7), 1e-12);
  assert.ok(Number.isNaN(speedAtHeight(NaN, 100, 150, 0.2)));
  near(DEFAULT_SHEAR_EXPONENT, 1 / 7, 0);
});

test('calm hours get the default exponent; the rest are clamped to the stated range', () => {
  assert.equal(shearExponent(0.5, 7), DEFAULT_SHEAR_EXPONENT, 'calm at 10 m');
  assert.equal(shearExponent(5, 0.99), DEFAULT_SHEAR_EXPONENT, 'calm at 100 m');
  assert.equal(shearExponent(0, 0), DEFAULT_SHEAR_EXPONENT);
  assert.equal(shearExponent(NaN, 7), DEFAULT_SHEAR_EXPONENT);
  assert.equal(shearExponent(1, 1), 0, 'exactly 1 m/s is not calm');
  assert.equal(shearExponent(6, 5), SHEAR_EXPONENT_RANGE[0], 'decreasing with height: clamped to 0');
  assert.equal(shearExponent(2, 20), SHEAR_EXPONENT_RANGE[1], 'alpha 1: clamped to 0.6');
});

test('air density and the IEC 61400-12-1 speed correction against hand values', () => {
  near(airDensity(288.15, 101325), 1.2250122659906946, 1e-12, 'ISO standard atmosphere at sea level');
  near(densityCorrectedSpeed(10, REFERENCE_AIR_DENSITY), 10, 1e-12, 'at the reference density: unchanged');
  near(densityCorrectedSpeed(10, 0.9 * REFERENCE_AIR_DENSITY), 9.654893846056297, 1e-12, '10 * 0.9^(1/3)');
  near(densityCorrectedSpeed(10, airDensity(273.15, 101325)), 10.17983149409237, 1e-12, 'cold air: more power, a higher equivalent speed');
  near(densityAtHeight(288.15, 101325, 2, 102), 1.2132947765340025, 1e-12, '100 m up: lapse rate and hydrostatic pressure');
  assert.ok(Number.isNaN(densityCorrectedSpeed(NaN, 1.2)));
});

/** 0 kW to 4 m/s, then 100 kW per m/s to 2000 kW at 24 m/s, the cut-out. */
const RAMP: PowerCurve = { name: 'ramp', ratedKw: 2000, cutInMs: 4, cutOutMs: 24, speedsMs: Float64Array.from([0, 4, 24]), powerKw: Float64Array.from([0, 0, 2000]), source: 'test' };
const LEVELS = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95];

test('power quantiles: below cut-out, the curve at each speed quantile', () => {
  const v82 = loadPowerCurve('vestas-v82-1.65mw');
  const { powerKw: p, shutdownProbability } = powerQuantiles(v82, LEVELS, [4, 5, 6, 7, 8, 9, 10]);
  assert.equal(shutdownProbability, 0);
  assert.deepEqual(p, [28, 144, 309, 511, 758, 1017, 1285]);
});

test('power quantiles: the shut-down mass above cut-out is 0 kW at the bottom, the rest shifted up (hand values)', () => {
  // CDF at 24 m/s between q(0.9) = 22 and q(0.95) = 26: 0.925, so 7.5 % shut down.
  near(cdfAt(LEVELS, [10, 12, 14, 16, 20, 22, 26], 24), 0.925, 1e-12);
  const { powerKw: p, shutdownProbability } = powerQuantiles(RAMP, LEVELS, [10, 12, 14, 16, 20, 22, 26]);
  near(shutdownProbability, 0.075, 1e-12);
  // tau 0.05 <= 0.075: 0 kW; tau 0.1 -> speed quantile 0.025 (first segment extended: 9 m/s) -> 500 kW;
  // 0.25 -> q(0.175) = 13 -> 900; 0.5 -> q(0.425) = 15.4 -> 1140; 0.75 -> q(0.675) = 18.8 -> 1480;
  // 0.9 -> q(0.825) = 21 -> 1700; 0.95 -> q(0.875) = 21.667 -> 1766.67.
  const expected = [0, 500, 900, 1140, 1480, 1700, 1766.6666666666667];
  p.forEach((v, k) => near(v, expected[k]!, 1e-9, `q${LEVELS[k]}`));
  // Most of the distribution above cut-out: 0 kW up to the shut-down probability.
  const v82 = loadPowerCurve('vestas-v82-1.65mw');
  const high = powerQuantiles(v82, LEVELS, [18, 20, 22, 24, 26, 28, 30]);
  near(high.shutdownProbability, 0.9, 1e-12);
  assert.deepEqual(high.powerKw, [0, 0, 0, 0, 0, 0, 1650]);
  assert.deepEqual(powerQuantiles(v82, LEVELS, [21, 22, 23, 24, 25, 26, 27]).powerKw, [0, 0, 0, 0, 0, 0, 0]);
  assert.ok(powerQuantiles(v82, LEVELS, [4, 5, NaN, 7, 8, 9, 10]).powerKw.every(Number.isNaN));
});

test('power quantiles stay non-decreasing and within 0..rated for any speed quantiles', () => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const curves = [...Object.keys(BUILT_IN_TURBINES).map((n) => loadPowerCurve(n)), RAMP];
  for (let trial = 0; trial < 2000; trial++) {
    const curve = curves[trial % curves.length]!;
    const centre = rnd() * 30;
    const spread = rnd() * 8;
    const q = LEVELS.map((_, k) => Math.max(0, centre + spread * (k - 3) * (0.5 + rnd())));
    q.sort((a, b) => a - b);
    const p = powerQuantiles(curve, LEVELS, q).powerKw;
    for (let k = 0; k < p.length; k++) {
      assert.ok(p[k]! >= 0 && p[k]! <= curve.ratedKw, `${curve.name} ${q} -> ${p}`);
      if (k > 0) assert.ok(p[k]! >= p[k - 1]!, `${curve.name} ${q} -> ${p}`);
    }
  }
});

test('the interpolated CDF and quantile function invert each other inside the quantiles', () => {
  const q = [3, 4, 6, 8, 11, 13, 15];
  for (const tau of [0.07, 0.2, 0.5, 0.8, 0.93]) near(cdfAt(LEVELS, q, quantileAt(LEVELS, q, tau)), tau, 1e-12);
  assert.equal(cdfAt(LEVELS, q, 8), 0.5);
  assert.equal(cdfAt(LEVELS, [5, 5, 5, 5, 5, 5, 5], 5), 0.95, 'ties: the highest level at that speed');
  assert.equal(quantileAt(LEVELS, q, 0.01), 2.2, 'lower tail: first segment extended');
  assert.equal(cdfAt(LEVELS, q, 0), 0, 'clamped at 0');
  assert.equal(cdfAt(LEVELS, q, 100), 1, 'clamped at 1');
});

test('hub height: the same hour of day yesterday inside the input hours, the default exponent with one height', () => {
  // 24 input hours 0..23, issue hour 23: lead 1 (valid hour 24) uses hour 0, lead 24 uses hour 23.
  assert.equal(sameHourYesterday(23, 1, 24), 0);
  assert.equal(sameHourYesterday(23, 24, 24), 23);
  assert.equal(sameHourYesterday(23, 25, 24), 0, 'beyond a day: the latest such hour');
  assert.equal(sameHourYesterday(23, 1, 12), 23, 'a shorter lookback without that hour: the issue hour');
  const grid = { width: 2, height: 1, lon0: 0, lat0: 0, dLon: 1, dLat: 1, pixelIsPoint: false, sourceSouthUp: false, epsg: 4326 } as const;
  // 24 hours, two cells: speed at 100 m, u/v at 10 m. Hour 0: cell 0 7 and 5 m/s, cell 1 calm; later hours 8 and 4, 6 and 5.
  const hours = 24;
  const speed = new Float32Array(hours * 2);
  const u10 = new Float32Array(hours * 2);
  const v10 = new Float32Array(hours * 2);
  for (let t = 0; t < hours; t++) {
    speed.set(t === 0 ? [7, 0.5] : [8, 6], t * 2);
    u10.set(t === 0 ? [5, 0.2] : [4, 3], t * 2);
    v10.set(t === 0 ? [0, 0] : [0, 4], t * 2);
  }
  const cube = { grid, speed, other: { heightM: 10, u: u10, v: v10 } };
  const plan = planHubHeight(cube, 100, 150);
  assert.equal(plan.shear, 'observed');
  const alphas = shearExponents(cube, plan, 23, Int32Array.from([0, 1]), 2, 24);
  // Cell-major: cell 0 lead 1 (hour 0) ln(7/5)/ln 10, lead 2 (hour 1) ln(8/4)/ln 10; cell 1 lead 1 calm: the default, lead 2 ln(6/5)/ln 10.
  near(alphas[0]!, Math.log(7 / 5) / Math.LN10, 1e-6);
  near(alphas[1]!, Math.log(2) / Math.LN10, 1e-6);
  near(alphas[2]!, DEFAULT_SHEAR_EXPONENT, 1e-7);
  near(alphas[3]!, Math.log(6 / 5) / Math.LN10, 1e-6);
  const values = Float32Array.from([10, 10, 10, NaN]);
  scaleToHubHeight(values, alphas, plan);
  near(values[0]!, 10 * 1.5 ** alphas[0]!, 1e-5);
  near(values[2]!, 10 * 1.5 ** DEFAULT_SHEAR_EXPONENT, 1e-5);
  assert.ok(Number.isNaN(values[3]!));
  const frame = hubHeightFrame(cube, plan, Float32Array.from([10, 10]), 23, 1, 24);
  near(frame[0]!, 10 * 1.5 ** alphas[0]!, 1e-5);
  near(frame[1]!, 10 * 1.5 ** DEFAULT_SHEAR_EXPONENT, 1e-5);
  const oneHeight = planHubHeight({}, 100, 150);
  assert.equal(oneHeight.shear, 'default');
  assert.match(oneHeight.note, /default alpha 0\.143 \(1\/7\): the input has wind at one height only/);
  assert.ok(shearExponents({ grid, speed }, oneHeight, 23, Int32Array.from([0]), 2, 24).every((a) => Math.abs(a - DEFAULT_SHEAR_EXPONENT) < 1e-7));
  // A 10 m forecast taken up to 100 m with 100 m beside it: alpha from the same two speeds.
  const up = planHubHeight({ other: { heightM: 100, u: new Float32Array(), v: new Float32Array() } }, 10, 100);
  assert.match(up.note, /observed 10 m and 100 m/);
  assert.equal(planHubHeight(cube, 100, 100).shear, 'none');
});
