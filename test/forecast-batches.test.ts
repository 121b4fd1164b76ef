/**
 * forecastWindows' `only`: a part of a run (a predict shard) forecasts its windows in the
 * batches, at the places, the whole run gives them, so its values are the whole run's bytes.
 * That matters because TensorFlow's matrix products choose kernels and row tails by a batch's
 * row count: on an AVX2 host a dense head gave a row different last bits in a batch of 33 than
 * in a batch of 99 (a shard merged was then not the unsharded forecast). On the backend this
 * process loads (native TensorFlow where installed, as in CI), with the fused LSTM and the
 * quantile head, in-thread and prefetched, one batch and several.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadBackend } from '../src/runtime/backend.js';
import { createModel } from '../src/model/model.js';
import { forecastWindows } from '../src/forecast/forecast.js';
import { featureContext, featureSpec } from '../src/prepare/features.js';
import { computeStats } from '../src/prepare/normalize.js';
import { makeRng } from '../src/prepare/windows.js';
import type { GridSpec } from '../src/core/grid.js';
import type { Cube } from '../src/ingest/cube.js';

const { tf } = await loadBackend('auto');
const LEVELS = [0.1, 0.5, 0.9];
const H = 4;

// 11 x 9 cells, as the shard test's grid; 60 hours.
const grid: GridSpec = { width: 11, height: 9, lon0: 0, lat0: 48, dLon: 1, dLat: 1, pixelIsPoint: false, sourceSouthUp: false, epsg: 4326 };
const n = 99;
const hours = 60;
const rng = makeRng(11);
const speed = Float32Array.from({ length: hours * n }, (_, i) => 6 + Math.sin(i / 37) * 3 + 2 * rng());
// A nodata cell: its window is invalid (NaN) in every run.
for (let t = 0; t < hours; t++) speed[t * n + 50] = NaN;
const cube: Cube = { grid, times: Float64Array.from({ length: hours }, (_, t) => t * 3_600_000), speed, source: { files: [], fingerprint: 'forecast-batches' } };
const fspec = featureSpec({ lookback: 6, horizon: H, ringsDeg: [1], uv: false, dayOfYear: false, predictDelta: true, normalization: 'cell', position: false });
const ctx = featureContext(cube, fspec, computeStats(cube, { startHour: 0, endHour: 40 }, 'cell'));
const lstm = tf.getBackend() === 'tensorflow' ? 'fast' : 'layers';
const model = createModel(tf, { lookback: 6, nFeatures: fspec.nFeatures, horizon: H, units: 8, layers: 1, dropout: 0, linearSkip: true, seed: 4, lstm, quantiles: LEVELS });
// Weights of both signs everywhere (the heads start at zero, which would hide any row effect).
model.setWeights(model.getWeights().map((w, i) => {
  const r = makeRng(100 + i);
  return tf.tensor(Float32Array.from({ length: w.size }, () => (r() - 0.5) * 0.6), w.shape);
}));
const cells = Int32Array.from({ length: n }, (_, i) => i);

type Run = { point: Float32Array; quantiles: Float32Array; starts: number[]; batch: number };

async function run(batch: number, only?: readonly [number, number], prefetch = true): Promise<Run> {
  const point = new Float32Array(n * H).fill(-1);
  const quantiles = new Float32Array(n * H * LEVELS.length).fill(-1);
  const starts: number[] = [];
  const windows = {
    model, ctx, t0: 50, cells, batch, withQuantiles: true, ...(only ? { only } : {}),
    onBatch: (start: number, count: number, values: Float32Array, q?: Float32Array) => {
      starts.push(start);
      point.set(values.subarray(0, count * H), start * H);
      quantiles.set(q!.subarray(0, count * H * LEVELS.length), start * H * LEVELS.length);
    },
  };
  if (prefetch) await forecastWindows(tf, windows, { prefetch: true });
  else forecastWindows(tf, windows);
  return { point, quantiles, starts, batch };
}

function assertPart(whole: Run, part: Run, [a, b]: readonly [number, number], label: string): void {
  const Q = LEVELS.length;
  for (let i = 0; i < n; i++) {
    const p = Array.from(part.point.subarray(i * H, (i + 1) * H));
    const q = Array.from(part.quantiles.subarray(i * H * Q, (i + 1) * H * Q));
    if (i >= a && i < b) {
      // Same bytes (deepEqual on numbers: NaN equals NaN, and -0 is not 0).
      assert.deepEqual(p, Array.from(whole.point.subarray(i * H, (i + 1) * H)), `${label}: window ${i}, point`);
      assert.deepEqual(q, Array.from(whole.quantiles.subarray(i * H * Q, (i + 1) * H * Q)), `${label}: window ${i}, quantiles`);
    } else if (part.starts.some((s) => i >= s && i < s + part.batch)) {
      // In a batch that ran, outside the part: reported as NaN, not forecast.
      assert.ok(p.every(Number.isNaN) && q.every(Number.isNaN), `${label}: window ${i} outside the part is NaN`);
    } else {
      assert.ok(p.every((v) => v === -1), `${label}: window ${i} in no batch that ran is never reported`);
    }
  }
}

test('one batch: the shards of the whole run are its bytes, point and quantiles, in-thread and prefetched', async () => {
  const whole = await run(128);
  assert.deepEqual(whole.starts, [0]);
  assert.ok(whole.point.some(Number.isNaN) && whole.point.filter(Number.isFinite).length === (n - 1) * H, 'one nodata window, the rest forecast');
  for (const part of [[0, 33], [33, 66], [66, 99], [50, 51], [7, 7]] as const) {
    const sharded = await run(128, part);
    assert.deepEqual(sharded.starts, part[0] === part[1] ? [] : [0], `${part}: the one batch, or none for no window`);
    assertPart(whole, sharded, part, `only ${part}`);
    assertPart(whole, await run(128, part, false), part, `only ${part}, in-thread`);
  }
});

test('several batches: only the batches that hold a window of the part run, those of the whole run', async () => {
  const whole = await run(10);
  assert.deepEqual(whole.starts, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
  const part = [13, 41] as const;
  const sharded = await run(10, part);
  assert.deepEqual(sharded.starts, [10, 20, 30, 40]);
  assertPart(whole, sharded, part, 'only 13..41');
  const tail = await run(10, [85, 99]);
  assert.deepEqual(tail.starts, [80, 90], 'the last batch is the whole run\'s short one');
  assertPart(whole, tail, [85, 99], 'only 85..99');
  assert.throws(() => forecastWindows(tf, { model, ctx, t0: 50, cells, batch: 10, only: [5, 100], onBatch: () => {} }), /not within the 99 windows/);
});
