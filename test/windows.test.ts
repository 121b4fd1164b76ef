import assert from 'node:assert/strict';
import { test } from 'node:test';
import { era5Grid, rowLat } from '../src/core/grid.js';
import { splitHours } from '../src/prepare/split.js';
import { makeRng, mixSeed, periodAnchors, rowAreaWeight, sampleWindows } from '../src/prepare/windows.js';

const split = splitHours({ hours: 720, lookback: 24, horizon: 24, fractions: [0.7, 0.1, 0.2] });

test('anchors follow the stride and stay inside the period', () => {
  const a = periodAnchors(split, split.train, 6);
  assert.equal(a[0], 23);
  assert.equal(a[1], 29);
  assert.ok(a[a.length - 1]! + 24 <= 503);
  assert.ok(a[a.length - 1]! + 6 + 24 > 503);
});

test('the PRNG is deterministic per seed and different across seeds', () => {
  const a = makeRng(7);
  const b = makeRng(7);
  const c = makeRng(mixSeed(7, 1));
  const xs = Array.from({ length: 5 }, () => a());
  assert.deepEqual(xs, Array.from({ length: 5 }, () => b()));
  assert.notDeepEqual(xs, Array.from({ length: 5 }, () => c()));
  for (const x of xs) assert.ok(x >= 0 && x < 1);
});

test('samples are seeded, within the anchors, and area-representative', () => {
  const grid = era5Grid({ step: 2 });
  const anchors = periodAnchors(split, split.train, 1);
  const s1 = sampleWindows({ grid, anchors, count: 40_000, seed: 3 });
  const s2 = sampleWindows({ grid, anchors, count: 40_000, seed: 3 });
  assert.deepEqual(s1, s2);
  const set = new Set(anchors);
  let polar = 0;
  for (let i = 0; i < s1.t0.length; i++) {
    assert.ok(set.has(s1.t0[i]!));
    assert.ok(s1.cell[i]! >= 0 && s1.cell[i]! < grid.width * grid.height);
    const lat = rowLat(grid, Math.floor(s1.cell[i]! / grid.width));
    if (Math.abs(lat) > 60) polar++;
  }
  // The caps poleward of 60 degrees are 1 - sin(60) = 13.4 % of the sphere, not 33 % of the rows.
  const share = polar / s1.t0.length;
  assert.ok(Math.abs(share - (1 - Math.sin(Math.PI / 3))) < 0.01, `polar share ${share}`);
  assert.ok(rowAreaWeight(grid, 0) > 0, 'a pole row keeps a small positive weight');
});

test('rejected candidates are drawn again', () => {
  const grid = era5Grid({ step: 10 });
  const anchors = periodAnchors(split, split.train, 1);
  const s = sampleWindows({ grid, anchors, count: 2000, seed: 1, accept: (_t, cell) => cell % 2 === 0 });
  for (const c of s.cell) assert.equal(c % 2, 0);
});
