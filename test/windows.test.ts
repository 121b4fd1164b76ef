import assert from 'node:assert/strict';
import { test } from 'node:test';
import { era5Grid, rowLat } from '../src/core/grid.js';
import { splitHours } from '../src/prepare/split.js';
import { BLOCK_MIN_CELLS, blockSampling, distinctWindows, makeRng, mixSeed, periodAnchors, rowAreaWeight, sampleWindows } from '../src/prepare/windows.js';

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

test('grids under BLOCK_MIN_CELLS sample one window at a time, exactly as without blocks', () => {
  const anchors = periodAnchors(split, split.train, 1);
  for (const step of [0.25 * 8, 5]) {
    const grid = era5Grid({ step });
    assert.ok(grid.width * grid.height < BLOCK_MIN_CELLS);
    assert.equal(blockSampling(grid, 'auto'), null);
    const accept = (_t: number, cell: number) => cell % 3 !== 0;
    assert.deepEqual(sampleWindows({ grid, anchors, count: 5000, seed: 9, accept, blocks: blockSampling(grid, 'auto') }), sampleWindows({ grid, anchors, count: 5000, seed: 9, accept }));
  }
  const global = era5Grid({ step: 0.25 });
  assert.ok(blockSampling(global, 'auto'));
  assert.equal(blockSampling(global, 'uniform'), null);
});

test('block sampling: seeded, inside the anchors, area-representative, each shuffle group from at most bufferBlocks bands, mixed within it', () => {
  const grid = era5Grid({ step: 1 });
  const anchors = periodAnchors(split, split.train, 1);
  // Many small blocks: the share of a region varies with the number of blocks drawn, not of windows.
  const blocks = { rows: 10, windowsPerBlock: 20, bufferBlocks: 4 };
  const count = 200_000;
  const s1 = sampleWindows({ grid, anchors, count, seed: 3, blocks });
  assert.deepEqual(sampleWindows({ grid, anchors, count, seed: 3, blocks }), s1);
  assert.notDeepEqual(sampleWindows({ grid, anchors, count, seed: 4, blocks }), s1);
  const set = new Set(anchors);
  let polar = 0;
  const group = blocks.windowsPerBlock * blocks.bufferBlocks;
  const bandOf = (i: number) => Math.floor(Math.floor(s1.cell[i]! / grid.width) / blocks.rows);
  for (let g = 0; g < count; g += group) {
    const bands = new Set<number>();
    for (let i = g; i < Math.min(count, g + group); i++) bands.add(bandOf(i));
    assert.ok(bands.size <= blocks.bufferBlocks);
    // Shuffled: the group's first quarter is not one block's windows (unless the same band came up 4 times).
    if (bands.size > 1) assert.ok(new Set(Array.from({ length: blocks.windowsPerBlock }, (_, k) => bandOf(g + k))).size > 1);
  }
  for (let i = 0; i < count; i++) {
    assert.ok(set.has(s1.t0[i]!));
    assert.ok(s1.cell[i]! >= 0 && s1.cell[i]! < grid.width * grid.height);
    if (Math.abs(rowLat(grid, Math.floor(s1.cell[i]! / grid.width))) > 60) polar++;
  }
  // Each window still has the uniform sampler's distribution: the polar caps' share of the sphere.
  const share = polar / count;
  assert.ok(Math.abs(share - (1 - Math.sin(Math.PI / 3))) < 0.015, `polar share ${share}`);
  const rejected = sampleWindows({ grid, anchors, count: 3000, seed: 1, blocks, accept: (_t, cell) => cell % 2 === 0 });
  for (const c of rejected.cell) assert.equal(c % 2, 0);
});

test('distinct windows: every window once when there are no more than wanted, area-weighted with mean 1', () => {
  const grid = era5Grid({ step: 30 });
  const cells = grid.width * grid.height;
  const anchors = periodAnchors(split, split.validation, 1);
  const all = distinctWindows(grid, anchors, anchors.length * cells + 5, 1);
  assert.equal(all.t0.length, anchors.length * cells);
  const keys = new Set(Array.from(all.t0, (t, i) => t * cells + all.cell[i]!));
  assert.equal(keys.size, all.t0.length, 'no window twice');
  for (let i = 1; i < all.t0.length; i++) assert.ok(all.t0[i - 1]! * cells + all.cell[i - 1]! < all.t0[i]! * cells + all.cell[i]!, 'anchor-major order');
  const w = all.weight!;
  assert.ok(Math.abs(w.reduce((a, b) => a + b, 0) / w.length - 1) < 1e-5);
  // A cell's weight is its row's area weight relative to the others.
  const equator = all.cell.findIndex((c) => Math.abs(rowLat(grid, Math.floor(c / grid.width))) < 1);
  const sixty = all.cell.findIndex((c) => Math.abs(Math.abs(rowLat(grid, Math.floor(c / grid.width))) - 60) < 1);
  assert.ok(Math.abs(w[sixty]! / w[equator]! - 0.5) < 1e-4, `${w[sixty]! / w[equator]!}`);
});

test('distinct windows: a seeded subset of distinct windows, rejected ones left out', () => {
  const grid = era5Grid({ step: 30 });
  const cells = grid.width * grid.height;
  const anchors = periodAnchors(split, split.validation, 1);
  const accept = (_t: number, cell: number) => cell % 5 !== 0;
  const a = distinctWindows(grid, anchors, 300, 9, accept);
  assert.deepEqual(a, distinctWindows(grid, anchors, 300, 9, accept));
  assert.notDeepEqual(a.cell, distinctWindows(grid, anchors, 300, 10, accept).cell);
  assert.equal(a.t0.length, 300);
  assert.equal(new Set(Array.from(a.t0, (t, i) => t * cells + a.cell[i]!)).size, 300);
  for (const c of a.cell) assert.notEqual(c % 5, 0);
  const set = new Set(anchors);
  for (const t of a.t0) assert.ok(set.has(t));
  // All there are, when rejections leave fewer than wanted.
  const few = distinctWindows(grid, anchors, anchors.length * cells, 9, accept);
  assert.equal(few.t0.length, anchors.length * (cells - Math.ceil(cells / 5)));
});
