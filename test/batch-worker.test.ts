import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BatchWorker } from '../src/prepare/batch.worker.js';
import { BatchBuffers, fillBatch } from '../src/prepare/batches.js';
import { featureContext, featureSpec } from '../src/prepare/features.js';
import { computeStats } from '../src/prepare/normalize.js';
import { sampleWindows } from '../src/prepare/windows.js';
import { makeCube } from './train-fixtures.js';

test('the batch thread fills exactly what fillBatch fills on the main thread, in both slots, with NaN windows weighted 0', async () => {
  const cube = makeCube({ hours: 120, step: 10, uv: true });
  const cells = cube.grid.width * cube.grid.height;
  cube.speed.fill(NaN, 70 * cells, 71 * cells); // a missing hour inside many windows' inputs or targets
  const stats = computeStats(cube, { startHour: 0, endHour: 80 }, 'cell');
  const spec = featureSpec({ lookback: 24, horizon: 24, ringsDeg: [10], uv: true, dayOfYear: false, predictDelta: true, normalization: 'cell' });
  const ctx = featureContext(cube, spec, stats, { cellMajor: true });
  const anchors = Int32Array.from({ length: 72 }, (_, i) => 23 + i);
  const sample = sampleWindows({ grid: cube.grid, anchors, count: 700, seed: 3 });
  const B = 256;
  const batches = BatchWorker.start(ctx, B);
  try {
    const expected = new BatchBuffers(B, spec.lookback, spec.nFeatures, spec.horizon);
    let zeroWeights = 0;
    for (const epochSample of [sample, sampleWindows({ grid: cube.grid, anchors, count: 300, seed: 4 })]) {
      batches.setSample(epochSample);
      const n = epochSample.t0.length;
      // Ask for two batches ahead, as training does, then check each against the main thread.
      const pending = [batches.fill(0, 0, Math.min(B, n)), batches.fill(1, B, Math.min(B, n - B))];
      for (let k = 0, start = 0; start < n; k++, start += B) {
        const slot = (k % 2) as 0 | 1;
        const count = Math.min(B, n - start);
        const wSum = await pending.shift()!;
        const want = fillBatch(ctx, epochSample, start, count, expected);
        assert.equal(wSum, want, `batch ${k}: summed weight`);
        const got = batches.buffers[slot];
        assert.deepEqual(got.x.subarray(0, count * spec.lookback * spec.nFeatures), expected.x.subarray(0, count * spec.lookback * spec.nFeatures), `batch ${k}: inputs`);
        assert.deepEqual(got.y.subarray(0, count * spec.horizon), expected.y.subarray(0, count * spec.horizon), `batch ${k}: targets`);
        assert.deepEqual(got.w.subarray(0, count), expected.w.subarray(0, count), `batch ${k}: weights`);
        zeroWeights += expected.w.subarray(0, count).filter((w) => w === 0).length;
        if (start + 2 * B < n) pending.push(batches.fill(slot, start + 2 * B, Math.min(B, n - start - 2 * B)));
      }
    }
    assert.ok(zeroWeights > 0, 'the missing hour must zero some windows');
  } finally {
    await batches.close();
  }
  // A fill left outstanding when the thread is closed (an interrupted epoch) resolves to a zero
  // weight, never rejects: close() is called before the thread can answer.
  const again = BatchWorker.start(ctx, B);
  again.setSample(sample);
  const outstanding = again.fill(0, 0, B);
  await again.close();
  assert.equal(await outstanding, 0);
  assert.ok(fillBatch(ctx, sample, 0, B, new BatchBuffers(B, spec.lookback, spec.nFeatures, spec.horizon)) > 0, 'the same fill answered would have had weight');
});

test('the batch thread needs the shared cell-major context', () => {
  const cube = makeCube({ hours: 60, step: 30 });
  const stats = computeStats(cube, { startHour: 0, endHour: 40 }, 'cell');
  const spec = featureSpec({ lookback: 24, horizon: 24, ringsDeg: [30], uv: false, dayOfYear: false, predictDelta: true, normalization: 'cell' });
  assert.throws(() => BatchWorker.start(featureContext(cube, spec, stats), 8), /shared memory/);
});
