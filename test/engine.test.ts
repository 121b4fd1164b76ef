/**
 * predict.engine: the onnx engine (onnxruntime-node on the exported graph) forecasts what the
 * tfjs engine forecasts, point and quantiles, within float rounding, in the inference path
 * and through predict's written GeoTIFFs; 'auto' picks the faster engine for the backend.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBackend } from '../src/runtime/backend.js';
import { loadCheckpoint } from '../src/model/checkpoint.js';
import { predict } from '../src/commands/predict.js';
import { testContext } from '../src/commands/context.js';
import { forecastGrid } from '../src/forecast/grid-forecast.js';
import { chooseEngine, onnxEngine } from '../src/forecast/onnx-engine.js';
import { writeGeoTiff } from '../src/output/geotiff-write.js';
import { readRaster } from '../src/ingest/raster.js';
import { silentProgress } from '../src/core/progress.js';
import { isoHour } from '../src/core/time.js';
import { runTraining } from '../src/train/train.js';
import { tinyConfig, tinyCube } from './train-fixtures.js';

const { tf, info } = await loadBackend('cpu');
const root = mkdtempSync(join(tmpdir(), 'windcast-engine-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));
const runDir = join(root, 'run');
await runTraining({ tf, backend: info, cube: tinyCube(), dataDir: 'fixture', runDir, run: 'engine', config: tinyConfig(), progress: silentProgress, log: () => {} });

const maxDiff = (a: Float32Array, b: Float32Array) => {
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    assert.equal(a[i] !== a[i], b[i] !== b[i], `NaN at ${i} in one engine only`);
    if (a[i] === a[i]) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  }
  return d;
};

test('auto picks tfjs on native TensorFlow and onnx elsewhere; a choice is kept', () => {
  assert.equal(chooseEngine('auto', 'tensorflow'), 'tfjs');
  assert.equal(chooseEngine('auto', 'wasm'), 'onnx');
  assert.equal(chooseEngine('auto', 'cpu'), 'onnx');
  assert.equal(chooseEngine('tfjs', 'cpu'), 'tfjs');
  assert.equal(chooseEngine('onnx', 'tensorflow'), 'onnx');
});

test('the onnx engine forecasts the grid as tfjs does, point and quantiles, with no tensors left', async (t) => {
  const before = tf.memory().numTensors;
  const loaded = await loadCheckpoint(tf, runDir);
  const cube = tinyCube(5);
  const engine = await onnxEngine(loaded, { threads: 1 });
  try {
    // Batches of 50 cells: several batches, the last one short.
    const issued = { tf, loaded, cube, t0: 300, batchCells: 50 };
    const a = await forecastGrid(issued, silentProgress, { quantiles: true });
    const b = await forecastGrid({ ...issued, engine }, silentProgress, { quantiles: true });
    assert.equal(a.cellsForecast, b.cellsForecast);
    const point = Math.max(...a.leads.map((l, j) => maxDiff(l, b.leads[j]!)));
    const quantiles = Math.max(...a.quantileLeads!.flatMap((l, j) => l.map((q, k) => maxDiff(q, b.quantileLeads![j]![k]!))));
    t.diagnostic(`max |onnx - tfjs|: point ${point.toExponential(2)}, quantiles ${quantiles.toExponential(2)} m/s`);
    assert.ok(point < 1e-5 && quantiles < 1e-5, `point ${point}, quantiles ${quantiles}`);
  } finally {
    await engine.release();
    loaded.model.dispose();
  }
  assert.equal(tf.memory().numTensors, before);
});

test('predict writes the same GeoTIFFs with --engine onnx as with --engine tfjs', async () => {
  const cube = tinyCube(7);
  const data = join(root, 'data');
  mkdirSync(data);
  const n = cube.grid.width * cube.grid.height;
  for (let t = 0; t < 24; t++) {
    await writeGeoTiff(join(data, `windspeed_${isoHour(cube.times[t]!)}.tif`), { grid: cube.grid, bands: [cube.speed.slice(t * n, (t + 1) * n)], nodata: null, compress: 'deflate' });
  }
  const results = [];
  for (const engine of ['tfjs', 'onnx'] as const) {
    const config = tinyConfig();
    config.predict.engine = engine;
    results.push(await predict({ model: runDir, data, out: join(root, `out-${engine}`) }, testContext(config)));
  }
  assert.deepEqual(results.map((r) => r.engine), ['tfjs', 'onnx']);
  const files = readdirSync(join(root, 'out-tfjs')).filter((f) => f.startsWith('windspeed_') && f.endsWith('.tif'));
  assert.equal(files.length, 24);
  for (const f of files) {
    const [a, b] = [await readRaster(join(root, 'out-tfjs', f)), await readRaster(join(root, 'out-onnx', f))];
    assert.ok(maxDiff(a.bands[0]!, b.bands[0]!) < 1e-5, f);
  }
  assert.deepEqual(readdirSync(join(root, 'out-onnx')).sort(), readdirSync(join(root, 'out-tfjs')).sort());
});

test('forecastGrid: rows reported final, in order, already hold their final values; the fields are shared', async () => {
  const loaded = await loadCheckpoint(tf, runDir);
  const cube = tinyCube(5);
  const w = cube.grid.width;
  try {
    const seen: number[] = [];
    const early: Array<{ rows: [number, number]; values: Float32Array[] }> = [];
    // Batches of 5 cells: a row (12 cells) becomes final one or two batches after it starts.
    const r = await forecastGrid({ tf, loaded, cube, t0: 300, batchCells: 5 }, silentProgress, {
      quantiles: true,
      rowsFinal: (rows, fields) => {
        const from = seen.length ? seen[seen.length - 1]! : 0;
        seen.push(rows);
        const all = [...fields.leads, ...fields.quantileLeads!.flat()];
        early.push({ rows: [from, rows], values: all.map((f) => f.slice(from * w, rows * w)) });
      },
    });
    assert.ok(seen.length > cube.grid.height, `one call per batch (${seen.length})`);
    assert.ok(seen.every((rows, i) => i === 0 || rows >= seen[i - 1]!), `non-decreasing: ${seen.join(',')}`);
    assert.equal(seen[seen.length - 1], cube.grid.height);
    assert.ok(seen.some((rows) => rows > 0 && rows < cube.grid.height), 'rows become final before the end');
    const all = [...r.leads, ...r.quantileLeads!.flat()];
    for (const f of all) assert.ok(f.buffer instanceof SharedArrayBuffer);
    for (const { rows: [from, to], values } of early) {
      values.forEach((v, k) => assert.deepEqual(v, all[k]!.slice(from * w, to * w), `rows ${from}..${to - 1} of field ${k} changed after they were reported final`));
    }
  } finally {
    loaded.model.dispose();
  }
});
