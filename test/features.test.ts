import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Cube } from '../src/ingest/cube.js';
import { HOUR_MS } from '../src/core/time.js';
import { buildStencil, distinctRings, featureContext, featureSpec, FeatureSpecSchema, gatherTargets, gatherWindow, positionVaries, stencilCell } from '../src/prepare/features.js';
import { featuresOnThread, shareFeatures } from '../src/prepare/batches.js';
import { era5Grid, type GridSpec } from '../src/core/grid.js';
import { computeStats } from '../src/prepare/normalize.js';
import { makeCube } from './train-fixtures.js';

// Ring directions in the stencil: 0 E, 1 NE, 2 N, 3 NW, 4 W, 5 SW, 6 S, 7 SE.
const E = 0, N = 2, W = 4, S = 6, NE = 1;

function regional(): GridSpec {
  return { width: 6, height: 5, lon0: 5, lat0: 55, dLon: 1, dLat: 1, pixelIsPoint: false, sourceSouthUp: false, epsg: 4326 };
}

test('the stencil wraps longitude at the dateline on a global grid', () => {
  const grid = era5Grid({ step: 10 }); // 36 x 19, columns 0..350 E
  const st = buildStencil(grid, [10, 40]);
  const row = 9; // the equator
  const cell = row * 36 + 0; // 0 E
  assert.equal(stencilCell(st, cell, W), row * 36 + 35, '10 deg west of 0E is 350E');
  assert.equal(stencilCell(st, cell, 8 + W), row * 36 + 32, '40 deg west of 0E is 320E');
  assert.equal(stencilCell(st, row * 36 + 35, E), row * 36 + 0, '10 deg east of 350E is 0E');
});

test('ring points past a pole are reflected onto the opposite meridian', () => {
  const grid = era5Grid({ step: 10 }); // row 0 is 90N, row 18 is 90S
  const st = buildStencil(grid, [10, 40]);
  // From 80N at 0E, 40 deg north is 120N = 60N on 180E.
  assert.equal(stencilCell(st, 1 * 36 + 0, 8 + N), 3 * 36 + 18);
  // From 90N itself, 10 deg north is 80N on 180E; north-east is 80N at 190E.
  assert.equal(stencilCell(st, 0 * 36 + 0, N), 1 * 36 + 18);
  assert.equal(stencilCell(st, 0 * 36 + 0, NE), 1 * 36 + 19);
  // From 80S at 350E, 40 deg south is 60S on 170E.
  assert.equal(stencilCell(st, 17 * 36 + 35, 8 + S), 15 * 36 + 17);
});

test('on a grid whose rows stop short of the pole, reflected rows are clamped to the grid', () => {
  const grid: GridSpec = { ...era5Grid({ step: 10 }), lat0: 85, height: 18 }; // 85N..85S, centres
  const st = buildStencil(grid, [40]);
  // 75N + 40 = 115N = 65N on the opposite meridian: row (85-65)/10 = 2.
  assert.equal(stencilCell(st, 1 * 36 + 0, N), 2 * 36 + 18);
});

test('regional edges are clamped, never wrapped', () => {
  const grid = regional();
  const st = buildStencil(grid, [1, 4]);
  assert.equal(stencilCell(st, 0, W), 0, 'west of the first column stays there');
  assert.equal(stencilCell(st, 0, N), 0, 'north of the first row stays there');
  assert.equal(stencilCell(st, 5, 8 + E), 5, 'east of the last column stays there');
  assert.equal(stencilCell(st, 2 * 6 + 2, 8 + S), 4 * 6 + 2, '4 rows south clamps to the last row');
  assert.equal(stencilCell(st, 2 * 6 + 2, E), 2 * 6 + 3);
});

function constantCube(grid: GridSpec, hours: number, value: (t: number, cell: number) => number, uv = false): Cube {
  const cells = grid.width * grid.height;
  const speed = new Float32Array(hours * cells);
  for (let t = 0; t < hours; t++) for (let c = 0; c < cells; c++) speed[t * cells + c] = value(t, c);
  const times = Float64Array.from({ length: hours }, (_, t) => Date.UTC(2024, 0, 1) + t * HOUR_MS);
  return {
    grid,
    times,
    speed,
    ...(uv ? { u: speed.map((x) => x * 0.6), v: speed.map((x) => -x * 0.8) } : {}),
    source: { files: [], fingerprint: 'x' },
  };
}

test('features: normalised speed, ring gradients, solar time and position, in the documented order', () => {
  const grid = regional();
  // Speed grows 1 m/s per column eastward and 0.5 per row southward, plus 0.1 per hour.
  const cube = constantCube(grid, 60, (t, c) => 5 + (c % 6) + 0.5 * Math.floor(c / 6) + 0.1 * t);
  const stats = computeStats(cube, { startHour: 0, endHour: 48 }, 'global');
  const spec = featureSpec({ lookback: 24, horizon: 24, ringsDeg: [1], uv: false, dayOfYear: true, predictDelta: true, normalization: 'global' });
  assert.equal(spec.nFeatures, 1 + 3 + 8);
  const ctx = featureContext(cube, spec, stats);
  const x = new Float32Array(24 * spec.nFeatures);
  const cell = 2 * 6 + 2; // row 2 (53N), column 2 (7E)
  assert.equal(gatherWindow(ctx, 23, cell, x, 0), true);
  const h = 23; // last input hour, t = 23
  const f = (k: number) => x[h * spec.nFeatures + k]!;
  const inv = 1 / stats.std[cell]!;
  const v = 5 + 2 + 1 + 0.1 * 23;
  assert.ok(Math.abs(f(0) - (v - stats.mean[cell]!) * inv) < 1e-5);
  assert.ok(Math.abs(f(1) - (v - stats.mean[cell]!) * inv) < 1e-5, 'ring mean of a linear field is the centre');
  assert.ok(Math.abs(f(2) - 2 * inv) < 1e-5, 'east minus west is 2 m/s over 2 columns');
  assert.ok(Math.abs(f(3) - -1 * inv) < 1e-5, 'north minus south is -1 m/s (speed grows southward)');
  // 23 UTC at 7E: solar hour 23 + 7/15.
  const solar = (2 * Math.PI * (23 + 7 / 15)) / 24;
  assert.ok(Math.abs(f(4) - Math.sin(solar)) < 1e-5);
  assert.ok(Math.abs(f(5) - Math.cos(solar)) < 1e-5);
  assert.ok(Math.abs(f(8) - Math.sin((53 * Math.PI) / 180)) < 1e-6);
  assert.ok(Math.abs(f(11) - Math.cos((7 * Math.PI) / 180)) < 1e-6);
  const y = new Float32Array(24);
  assert.equal(gatherTargets(ctx, 23, cell, y, 0), true);
  assert.ok(Math.abs(y[0]! - 0.1 * inv) < 1e-5, 'targets are the change from the last hour, normalised');
  assert.ok(Math.abs(y[23]! - 2.4 * inv) < 1e-5);
});

test('u/v are features when present; a NaN centre input is reported and a NaN ring point skipped', () => {
  const grid = regional();
  const cube = constantCube(grid, 60, () => 10, true);
  const stats = computeStats(cube, { startHour: 0, endHour: 48 }, 'cell');
  const spec = featureSpec({ lookback: 24, horizon: 24, ringsDeg: [1], uv: true, dayOfYear: false, predictDelta: true, normalization: 'cell' });
  assert.deepEqual(spec.names.slice(-2), ['u', 'v']);
  const ctx = featureContext(cube, spec, stats);
  const x = new Float32Array(24 * spec.nFeatures);
  const cell = 2 * 6 + 2;
  assert.equal(gatherWindow(ctx, 30, cell, x, 0), true);
  const last = 23 * spec.nFeatures;
  assert.ok(Math.abs(x[last + spec.nFeatures - 2]! - 6 / stats.std[cell]!) < 1e-4);
  cube.speed[30 * 30 + 2 * 6 + 3] = NaN; // the east ring point at the last hour
  assert.equal(gatherWindow(ctx, 30, cell, x, 0), true);
  assert.ok(Number.isFinite(x[last + 1]!) && Number.isFinite(x[last + 2]!));
  cube.speed[20 * 30 + cell] = NaN;
  assert.equal(gatherWindow(ctx, 30, cell, x, 0), false);
});

test('normalisation statistics come from the training hours only', () => {
  const cube = makeCube({ hours: 200, step: 30 });
  const period = { startHour: 0, endHour: 120 };
  const a = computeStats(cube, period, 'cell');
  const cells = cube.grid.width * cube.grid.height;
  cube.speed.fill(1000, 120 * cells); // validation and test hours change wildly
  const b = computeStats(cube, period, 'cell');
  assert.deepEqual(a.mean, b.mean);
  assert.deepEqual(a.std, b.std);
  for (const s of a.std) assert.ok(s > 0);
});

test('the cell-major copy gathers exactly the same features and targets as the cube layout', () => {
  const cube = makeCube({ hours: 120, step: 30, nans: 50, uv: true });
  const stats = computeStats(cube, { startHour: 0, endHour: 80 }, 'cell');
  const spec = featureSpec({ lookback: 24, horizon: 24, ringsDeg: [30, 60], uv: true, dayOfYear: true, predictDelta: true, normalization: 'cell' });
  const a = featureContext(cube, spec, stats);
  const b = featureContext(cube, spec, stats, { cellMajor: true });
  const xa = new Float32Array(24 * spec.nFeatures);
  const xb = new Float32Array(24 * spec.nFeatures);
  const ya = new Float32Array(24);
  const yb = new Float32Array(24);
  for (const t0 of [23, 50, 95]) {
    for (let cell = 0; cell < 84; cell += 5) {
      assert.equal(gatherWindow(a, t0, cell, xa, 0), gatherWindow(b, t0, cell, xb, 0));
      assert.equal(gatherTargets(a, t0, cell, ya, 0), gatherTargets(b, t0, cell, yb, 0));
      assert.deepEqual(xa, xb);
      assert.deepEqual(ya, yb);
    }
  }
});

test("the other height's u/v are features after u/v, divided by the cell's speed deviation; every layout gathers them alike", () => {
  const cube = makeCube({ hours: 120, step: 30, nans: 20, uv: true });
  // u/v at 10 m: the 100 m wind weakened and turned, so they differ from u/v at every cell and hour.
  const other = { heightM: 10, u: cube.u!.map((x, i) => 0.7 * x + 0.1 * cube.v![i]!), v: cube.v!.map((x, i) => 0.7 * x - 0.1 * cube.u![i]!) };
  const tall: Cube = { ...cube, heightM: 100, other };
  const stats = computeStats(tall, { startHour: 0, endHour: 80 }, 'cell');
  const spec = featureSpec({ lookback: 24, horizon: 24, ringsDeg: [30], uv: true, dayOfYear: false, predictDelta: true, normalization: 'cell', heightM: 100, otherHeightM: 10, variables: ['u10', 'u100', 'v10', 'v100'] });
  assert.deepEqual(spec.names.slice(-4), ['u', 'v', 'u10', 'v10']);
  assert.equal(spec.nFeatures, featureSpec({ ...spec, otherHeightM: null }).nFeatures + 2);
  assert.deepEqual([spec.heightM, spec.otherHeightM, spec.variables], [100, 10, ['u10', 'u100', 'v10', 'v100']]);
  const hourMajor = featureContext(tall, spec, stats);
  const cellMajorCtx = featureContext(tall, spec, stats, { cellMajor: true });
  const onThread = featuresOnThread(shareFeatures(cellMajorCtx, { copy: false }));
  const F = spec.nFeatures;
  const cells = cube.grid.width * cube.grid.height;
  const xs = [hourMajor, cellMajorCtx, onThread].map(() => new Float32Array(24 * F));
  let checked = 0;
  for (const t0 of [23, 60, 95]) {
    for (let cell = 0; cell < cells; cell += 7) {
      const ok = [hourMajor, cellMajorCtx, onThread].map((ctx, k) => gatherWindow(ctx, t0, cell, xs[k]!, 0));
      assert.deepEqual(ok.slice(1), [ok[0], ok[0]]);
      assert.deepEqual(xs[1], xs[0]);
      assert.deepEqual(xs[2], xs[0]);
      for (let h = 0; h < 24; h++) {
        const i = (t0 - 23 + h) * cells + cell;
        const inv = 1 / stats.std[cell]!;
        const want = [cube.u![i]! * inv, cube.v![i]! * inv, other.u[i]! * inv, other.v[i]! * inv];
        const got = Array.from(xs[0]!.subarray(h * F + F - 4, (h + 1) * F));
        want.forEach((w, k) => assert.ok(Math.abs(got[k]! - (Number.isNaN(w) ? 0 : w)) < 1e-5, `t0 ${t0} cell ${cell} hour ${h} feature ${spec.names[F - 4 + k]}: ${got[k]} vs ${w}`));
        checked++;
      }
    }
  }
  assert.ok(checked > 100);
  // A cube without the other height cannot serve this spec (data-fit refuses such data first).
  assert.throws(() => featureContext(cube, spec, stats), /u\/v at 10 m but the cube has none at a second height/);
});

test('a feature spec from before heights (a checkpoint of an earlier version) loads with the defaults that reproduce it', () => {
  const current = featureSpec({ lookback: 24, horizon: 24, ringsDeg: [0.25, 1, 4], uv: true, dayOfYear: false, predictDelta: true, normalization: 'cell' });
  const { heightM: _h, otherHeightM: _o, variables: _v, ...old } = current;
  const parsed = FeatureSpecSchema.parse(old);
  assert.deepEqual(parsed, current);
  assert.equal(parsed.heightM, null);
  assert.equal(parsed.otherHeightM, null);
  assert.deepEqual(parsed.variables, []);
  assert.equal(parsed.nFeatures, 18);
});

test('distinctRings drops radii that read the same points as a smaller one; small grids get no position features', () => {
  const box = (width: number, height: number, step: number): GridSpec => ({ width, height, lon0: 10, lat0: 50, dLon: step, dLat: step, pixelIsPoint: true, sourceSouthUp: false, epsg: 4326 });
  // 2 x 2 cells: every radius clamps onto the three neighbours.
  assert.deepEqual(distinctRings(box(2, 2, 0.25), [0.25, 1, 4]), [0.25]);
  // 3 x 2: from an edge column 1 degree (4 cells, clamped) reaches the far column, 0.25 does not; 4 degrees adds nothing more.
  assert.deepEqual(distinctRings(box(3, 2, 0.25), [0.25, 1, 4]), [0.25, 1]);
  // A 2-degree global grid: 0.25 and 1 degree both round to one cell.
  assert.deepEqual(distinctRings(era5Grid({ step: 2 }), [0.25, 1, 4]), [0.25, 4]);
  assert.deepEqual(distinctRings(era5Grid({ step: 0.25 }), [0.25, 1, 4]), [0.25, 1, 4]);
  // One cell: no ring reads anything but the cell itself.
  assert.deepEqual(distinctRings(box(1, 1, 0.25), [0.25, 1]), []);

  assert.equal(positionVaries(box(3, 2, 0.25)), false);
  assert.equal(positionVaries(box(41, 2, 0.25)), true, '10 degrees of longitude');
  assert.equal(positionVaries(era5Grid({ step: 2 })), true);
  const spec = featureSpec({ lookback: 3, horizon: 2, ringsDeg: [0.25], uv: false, dayOfYear: false, predictDelta: true, normalization: 'cell', position: false });
  assert.deepEqual(spec.names, ['speed', 'ring0.25_mean', 'ring0.25_east_minus_west', 'ring0.25_north_minus_south', 'solar_hour_sin', 'solar_hour_cos']);
  assert.equal(FeatureSpecSchema.parse({ ...spec, position: undefined }).position, true, 'specs from before keep their position features');
  // Gathering writes exactly the named features, hour by hour.
  const cube = makeCube({ hours: 40, step: 30, seed: 3 });
  const ctx = featureContext(cube, spec, computeStats(cube, { startHour: 0, endHour: 40 }, 'cell'));
  const x = new Float32Array(spec.lookback * spec.nFeatures + 1).fill(99);
  assert.ok(gatherWindow(ctx, 10, 5, x, 0));
  assert.equal(x[spec.lookback * spec.nFeatures], 99, 'nothing written past the named features');
  const hours = cube.times[10]! / HOUR_MS;
  const solar = (2 * Math.PI * (hours + cube.grid.lon0 / 15 + (5 % cube.grid.width) * cube.grid.dLon / 15)) / 24;
  assert.ok(Math.abs(x[2 * spec.nFeatures + 4]! - Math.sin(solar)) < 1e-5, 'the last hour ends with its solar time');
});

/**
 * The ring and solar features as written before gatherWindow's fast paths (every point checked
 * on its own, Math.sin/cos per window): the reference the fast paths must equal bit for bit.
 */
function referenceRingAndSolar(ctx: ReturnType<typeof featureContext>, t0: number, cell: number): number[] {
  const { cube, spec, stats, stencil } = ctx;
  const cells = cube.grid.width * cube.grid.height;
  const col = cell % cube.grid.width;
  const mean = stats.mean[cell]!;
  const inv = 1 / stats.std[cell]!;
  const out: number[] = [];
  for (let t = t0 - spec.lookback + 1; t <= t0; t++) {
    const centre = cube.speed[t * cells + cell]!;
    for (let k = 0; k < spec.ringsDeg.length; k++) {
      let sum = 0, n = 0, east = 0, nEast = 0, west = 0, nWest = 0, north = 0, nNorth = 0, south = 0, nSouth = 0;
      for (let d = 0; d < 8; d++) {
        const val = cube.speed[t * cells + stencilCell(stencil, cell, k * 8 + d)]!;
        if (val !== val) continue;
        sum += val;
        n++;
        if (d === 7 || d === 0 || d === 1) { east += val; nEast++; }
        if (d >= 3 && d <= 5) { west += val; nWest++; }
        if (d >= 1 && d <= 3) { north += val; nNorth++; }
        if (d >= 5) { south += val; nSouth++; }
      }
      const ringMean = n > 0 ? sum / n : centre;
      out.push(ringMean === ringMean ? (ringMean - mean) * inv : 0);
      out.push(nEast > 0 && nWest > 0 ? (east / nEast - west / nWest) * inv : 0);
      out.push(nNorth > 0 && nSouth > 0 ? (north / nNorth - south / nSouth) * inv : 0);
    }
    const solar = (2 * Math.PI * (cube.times[t]! / HOUR_MS + ctx.lonHours[col]!)) / 24;
    out.push(Math.sin(solar), Math.cos(solar));
  }
  return out;
}

test('ring and solar features equal the per-point reference bit for bit, NaN, -0 and infinite points included', () => {
  const cube = makeCube({ hours: 60, step: 30 });
  const cells = cube.grid.width * cube.grid.height;
  // In the first 30 hours, points the fast path must hand to the general one (a NaN; an
  // infinity pair sums to NaN) or round alike (-0); the windows ending at hour 59 have none.
  for (let i = 0; i < 30 * cells; i += 37) cube.speed[i] = -0;
  for (let i = 3; i < 30 * cells; i += 41) cube.speed[i] = NaN;
  for (let i = 5; i < 30 * cells; i += 101) cube.speed[i] = Infinity;
  for (let i = 9; i < 30 * cells; i += 103) cube.speed[i] = -Infinity;
  const stats = computeStats(makeCube({ hours: 60, step: 30 }), { startHour: 0, endHour: 60 }, 'cell');
  const spec = featureSpec({ lookback: 24, horizon: 24, ringsDeg: [30, 60], uv: false, dayOfYear: false, predictDelta: true, normalization: 'cell', position: false });
  const ctx = featureContext(cube, spec, stats);
  const F = spec.nFeatures;
  assert.equal(F, 1 + 6 + 2);
  const x = new Float32Array(24 * F);
  let fastWindows = 0;
  let generalWindows = 0;
  for (const t0 of [23, 40, 59]) {
    for (let cell = 0; cell < cells; cell++) {
      gatherWindow(ctx, t0, cell, x, 0);
      const want = Float32Array.from(referenceRingAndSolar(ctx, t0, cell));
      const got = new Float32Array(want.length);
      for (let h = 0; h < 24; h++) got.set(x.subarray(h * F + 1, h * F + 9), h * 8);
      assert.deepEqual(new Uint32Array(got.buffer), new Uint32Array(want.buffer), `t0 ${t0} cell ${cell}`);
      let pointsFinite = true;
      for (let t = t0 - 23; t <= t0; t++) for (let p = 0; p < 16; p++) pointsFinite &&= Number.isFinite(cube.speed[t * cells + stencilCell(ctx.stencil, cell, p)]!);
      if (pointsFinite) fastWindows++;
      else generalWindows++;
    }
  }
  assert.ok(fastWindows > 0 && generalWindows > 0, `both paths exercised (${fastWindows} / ${generalWindows})`);
});

test('a time-major gather (timeMajorRows) writes the batch-major batch transposed, validity alike', () => {
  const cube = makeCube({ hours: 120, step: 30, nans: 50, uv: true });
  const stats = computeStats(cube, { startHour: 0, endHour: 80 }, 'cell');
  const spec = featureSpec({ lookback: 24, horizon: 24, ringsDeg: [30, 60], uv: true, dayOfYear: true, predictDelta: true, normalization: 'cell' });
  const ctx = featureContext(cube, spec, stats);
  const L = spec.lookback;
  const F = spec.nFeatures;
  const cells = Array.from({ length: 17 }, (_, i) => i * 5);
  const B = cells.length;
  const batchMajor = new Float32Array(B * L * F);
  const timeMajor = new Float32Array(B * L * F).fill(NaN);
  let invalid = 0;
  for (let i = 0; i < B; i++) {
    const ok = gatherWindow(ctx, 50, cells[i]!, batchMajor, i);
    assert.equal(gatherWindow(ctx, 50, cells[i]!, timeMajor, i, B), ok);
    if (!ok) invalid++;
  }
  assert.ok(invalid > 0 && invalid < B, `the cells should mix valid and invalid windows (${invalid} of ${B} invalid)`);
  const transposed = new Float32Array(B * L * F);
  for (let i = 0; i < B; i++) for (let h = 0; h < L; h++) for (let f = 0; f < F; f++) transposed[(h * B + i) * F + f] = batchMajor[(i * L + h) * F + f]!;
  assert.deepEqual(timeMajor, transposed);
});
