/**
 * export --format onnx round trips: the exported graph, run by onnxruntime-node on windows
 * gathered as the sidecar describes, gives windcast's own forecasts (m/s, point and quantiles)
 * within 1e-5. The checkpoints are a tiny trained run with its weights replaced by random ones
 * (a one-epoch head is near zero, which would hide a wrong LSTM layout), in several shapes:
 * low-rank and full linear paths, two LSTM layers, tf.layers.lstm's hard-sigmoid gates, a
 * point model; and, when the shared ERA5 files are present, a model trained on the Berlin
 * NetCDF file, on real windows.
 *
 * --format keras needs Python with keras 3 (WINDCAST_PYTHON, else python3): its round trip
 * (Keras loads the .keras file and predicts; denormalised, the forecasts are windcast's) runs
 * when that Python has keras, and must run when WINDCAST_REQUIRE_KERAS=1 (CI installs it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { loadBackend } from '../src/runtime/backend.js';
import { loadCheckpoint, readMeta, writeCheckpoint } from '../src/model/checkpoint.js';
import { createModel, type ModelSpec } from '../src/model/model.js';
import { exportModel } from '../src/commands/export.js';
import { train } from '../src/commands/train.js';
import { testContext } from '../src/commands/context.js';
import { loadForecaster } from '../src/forecast/forecast.js';
import { featureContext, gatherWindow } from '../src/prepare/features.js';
import { makeRng } from '../src/prepare/windows.js';
import { silentProgress } from '../src/core/progress.js';
import { parseConfig } from '../src/core/config.js';
import { runTraining } from '../src/train/train.js';
import { WindcastError } from '../src/core/errors.js';
import { openGridded } from '../src/ingest/gridded.js';
import { griddedCube, type Cube } from '../src/ingest/cube.js';
import { tinyConfig, tinyCube } from './train-fixtures.js';
import { spawnSync } from 'node:child_process';
import { denormalize } from '../src/prepare/features.js';
import { kerasPython, runKeras } from '../src/model/keras.js';

const { tf, info } = await loadBackend('cpu');
const root = mkdtempSync(join(tmpdir(), 'windcast-export-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

const BERLIN = fileURLToPath(new URL('../../../shared/data/era5/era5_berlin_2017_3x2.nc', import.meta.url));

const trainedDir = join(root, 'trained');
await runTraining({ tf, backend: info, cube: tinyCube(), dataDir: 'fixture', runDir: trainedDir, run: 'trained', config: tinyConfig(), progress: silentProgress, log: () => {} });

/** The trained checkpoint rebuilt with `spec` changes and random weights, as run `name`. */
async function randomCheckpoint(name: string, change: Partial<ModelSpec>, seed: number): Promise<string> {
  const base = await loadCheckpoint(tf, trainedDir);
  base.model.dispose();
  const spec: ModelSpec = { ...base.meta.model, ...change };
  const model = createModel(tf, spec);
  const rng = makeRng(seed);
  const weights = model.getWeights().map((w) => tf.tensor(Float32Array.from({ length: w.size }, () => (rng() - 0.5) * 0.5), w.shape));
  model.setWeights(weights);
  tf.dispose(weights);
  const { files: _f, kind: _k, savedAt: _s, ...rest } = base.meta;
  const runDir = join(root, 'models', name);
  try {
    await writeCheckpoint(tf, runDir, 'best', { model, stats: base.stats, meta: { ...rest, run: name, model: spec } });
  } finally {
    model.dispose();
  }
  return runDir;
}

/** The largest |ONNX - windcast| (m/s) over every valid window of cube at t0, point and quantiles. */
async function compareOnnx(runDir: string, cube: Cube, t0s: number[]): Promise<{ point: number; quantiles: number; windows: number }> {
  const out = join(root, `${runDir.split('/').pop()}.onnx`);
  await exportModel({ model: runDir, format: 'onnx', out }, testContext(tinyConfig()));
  const side = JSON.parse(readFileSync(out.replace(/\.onnx$/, '.json'), 'utf8'));
  const normBytes = readFileSync(out.replace(/\.onnx$/, '.norm.f32'));
  const norm = new Float32Array(normBytes.buffer, normBytes.byteOffset, normBytes.byteLength / 4);
  const session = await ort.InferenceSession.create(out);
  const forecaster = await loadForecaster(runDir, tf, { batchCells: 64 });
  const meta = forecaster.meta;
  const spec = meta.features;
  const cells = meta.grid.width * meta.grid.height;
  assert.deepEqual(side.inputs.window.channels, spec.names);
  const Q = meta.model.quantiles?.length ?? 0;
  const ctx = featureContext(cube, spec, (await loadCheckpoint(tf, runDir).then((l) => (l.model.dispose(), l.stats))));
  let point = 0;
  let quantiles = 0;
  let windows = 0;
  try {
    for (const t0 of t0s) {
      const ids = Int32Array.from({ length: cells }, (_, i) => i);
      const want = new Float32Array(cells * spec.horizon);
      const wantQ = new Float32Array(cells * spec.horizon * Q);
      forecaster.forecast(cube, t0, ids, want, Q > 0 ? wantQ : undefined);
      const x = new Float32Array(cells * spec.lookback * spec.nFeatures);
      const valid = ids.map((cell) => (gatherWindow(ctx, t0, cell, x, cell) ? 1 : 0));
      const feeds = {
        window: new ort.Tensor('float32', x, [cells, spec.lookback, spec.nFeatures]),
        cell_mean: new ort.Tensor('float32', norm.slice(0, cells), [cells, 1]),
        cell_std: new ort.Tensor('float32', norm.slice(cells, 2 * cells), [cells, 1]),
      };
      const result = await session.run(feeds);
      const got = result.speed!.data as Float32Array;
      assert.deepEqual(result.speed!.dims, [cells, spec.horizon]);
      for (let cell = 0; cell < cells; cell++) {
        if (!valid[cell]) continue;
        windows++;
        for (let j = 0; j < spec.horizon; j++) point = Math.max(point, Math.abs(got[cell * spec.horizon + j]! - want[cell * spec.horizon + j]!));
        for (let k = 0; k < spec.horizon * Q; k++) quantiles = Math.max(quantiles, Math.abs((result.quantiles!.data as Float32Array)[cell * spec.horizon * Q + k]! - wantQ[cell * spec.horizon * Q + k]!));
      }
    }
  } finally {
    forecaster.dispose();
    await session.release();
  }
  return { point, quantiles, windows };
}

const cube = tinyCube(3);
const t0s = [100, 250, 470];

for (const [name, change] of [
  ['low-rank-quantiles', {}],
  ['full-linear', { linearPath: 'full' }],
  ['two-layers', { layers: 2 }],
  ['hard-sigmoid', { lstm: 'layers', quantiles: [] }],
  ['point', { quantiles: [], linearSkip: false }],
] as [string, Partial<ModelSpec>][]) {
  test(`onnx export of a ${name} model gives windcast's forecasts within 1e-5 m/s`, async (t) => {
    const runDir = await randomCheckpoint(name, change, name.length);
    const d = await compareOnnx(runDir, cube, t0s);
    t.diagnostic(`max |onnx - windcast|: point ${d.point.toExponential(2)}, quantiles ${d.quantiles.toExponential(2)} m/s over ${d.windows} windows`);
    assert.ok(d.windows > 100, `${d.windows} windows compared`);
    assert.ok(d.point < 1e-5, `point forecast differs by ${d.point} m/s`);
    assert.ok(d.quantiles < 1e-5, `quantiles differ by ${d.quantiles} m/s`);
  });
}

test('onnx export of a model trained on the Berlin ERA5 NetCDF, on real windows', { skip: !existsSync(BERLIN) && 'shared ERA5 files not present' }, async (t) => {
  const config = parseConfig({
    ingest: { cache: false },
    model: { units: 8 },
    train: { epochs: 1, samplesPerEpoch: 2000, validationSamples: 2000, batchSize: 500, linearFitWindows: 5000, quantileSamples: 2000 },
    runtime: { backend: 'cpu', modelsDir: join(root, 'era5-models') },
  }, 'test');
  const { runDir } = await train({ data: BERLIN, run: 'berlin' }, testContext(config));
  const meta = readMeta(join(runDir, 'best'));
  const cube = await griddedCube(await openGridded(BERLIN), silentProgress);
  const d = await compareOnnx(runDir, cube, [meta.features.lookback - 1, 2000, 5000, 8000, 8759]);
  t.diagnostic(`max |onnx - windcast| on Berlin: point ${d.point.toExponential(2)}, quantiles ${d.quantiles.toExponential(2)} m/s over ${d.windows} windows`);
  assert.ok(d.point < 1e-5 && d.quantiles < 1e-5, `ONNX vs windcast on Berlin: point ${d.point}, quantiles ${d.quantiles} m/s`);
});

test('export: bad input is a clear error naming the file', async () => {
  const ctx = testContext(tinyConfig());
  await assert.rejects(exportModel({ model: join(root, 'nope'), format: 'onnx', out: join(root, 'x.onnx') }, ctx), (e: WindcastError) => e.kind === 'checkpoint' && e.message.includes('nope'));
  await assert.rejects(exportModel({ model: trainedDir, format: 'onnx', out: join(root, 'missing', 'x.onnx') }, ctx), (e: WindcastError) => e.kind === 'data' && e.message.includes('missing'));
  await assert.rejects(exportModel({ model: trainedDir, format: 'onnx', out: join(root, 'x.bin') }, ctx), (e: WindcastError) => e.kind === 'usage' && e.message.includes('.onnx'));
  const broken = join(root, 'models', 'broken');
  await randomCheckpoint('broken', {}, 1);
  writeFileSync(join(broken, 'best', 'weights.bin'), 'x');
  await assert.rejects(exportModel({ model: broken, format: 'onnx', out: join(root, 'b.onnx') }, ctx), (e: WindcastError) => e.kind === 'checkpoint' && e.message.includes('weights.bin'));
  assert.ok(!existsSync(join(root, 'b.onnx')), 'nothing written for a broken checkpoint');
});

const hasKeras = spawnSync(kerasPython(), ['-c', "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('keras') else 1)"]).status === 0;
const kerasSkip = !hasKeras && !process.env.WINDCAST_REQUIRE_KERAS && `no keras in ${kerasPython()} (set WINDCAST_PYTHON)`;

// One shape (each Keras start costs seconds): the default low-rank path and quantile head, two
// LSTM layers. The full linear path is one Dense on Flatten(window), as in tfjs.
for (const [name, change] of [['two-layer-quantiles', { layers: 2 }]] as [string, Partial<ModelSpec>][]) {
  test(`keras export of a ${name} model loads in Keras and forecasts as windcast within 1e-5 m/s`, { skip: kerasSkip }, async (t) => {
    const runDir = await randomCheckpoint(`keras-${name}`, change, 7 + name.length);
    const out = join(root, `keras-${name}.keras`);
    await exportModel({ model: runDir, format: 'keras', out }, testContext(tinyConfig()));
    const side = JSON.parse(readFileSync(join(root, `keras-${name}.json`), 'utf8'));
    const forecaster = await loadForecaster(runDir, tf, { batchCells: 64 });
    const { features: spec, grid, model } = forecaster.meta;
    const Q = model.quantiles?.length ?? 0;
    assert.equal(side.outputs.quantiles?.levels.length ?? 0, Q);
    const cells = grid.width * grid.height;
    const ctx = forecaster.context(cube);
    const ids = Int32Array.from({ length: cells }, (_, i) => i);
    let point = 0;
    let quantiles = 0;
    try {
      // Every anchor hour's windows in one Keras call (each Python start costs seconds).
      const n = cells * t0s.length;
      const x = new Float32Array(n * spec.lookback * spec.nFeatures);
      const valid = t0s.flatMap((t0, k) => Array.from(ids, (cell) => gatherWindow(ctx, t0, cell, x, k * cells + cell)));
      writeFileSync(join(root, 'windows.f32'), x);
      runKeras(['predict', out, join(root, 'windows.f32'), String(n), join(root, 'keras-out.f32')], 'keras predict');
      const raw = readFileSync(join(root, 'keras-out.f32'));
      const y = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
      assert.equal(y.length, n * spec.horizon * (1 + Q));
      const gotP = y.slice(0, n * spec.horizon);
      const gotQ = y.slice(n * spec.horizon);
      t0s.forEach((t0, k) => {
        const want = new Float32Array(cells * spec.horizon);
        const wantQ = new Float32Array(cells * spec.horizon * Q);
        forecaster.forecast(cube, t0, ids, want, Q > 0 ? wantQ : undefined);
        for (let cell = 0; cell < cells; cell++) {
          const w = k * cells + cell;
          if (!valid[w]) continue;
          denormalize(ctx, t0, cell, gotP, w * spec.horizon);
          if (Q > 0) denormalize(ctx, t0, cell, gotQ, w * spec.horizon * Q, Q);
          for (let j = 0; j < spec.horizon; j++) point = Math.max(point, Math.abs(gotP[w * spec.horizon + j]! - want[cell * spec.horizon + j]!));
          for (let q = 0; q < spec.horizon * Q; q++) quantiles = Math.max(quantiles, Math.abs(gotQ[w * spec.horizon * Q + q]! - wantQ[cell * spec.horizon * Q + q]!));
        }
      });
    } finally {
      forecaster.dispose();
    }
    t.diagnostic(`max |keras - windcast|: point ${point.toExponential(2)}, quantiles ${quantiles.toExponential(2)} m/s`);
    assert.ok(point < 1e-5 && quantiles < 1e-5, `point ${point}, quantiles ${quantiles}`);
  });
}

test('keras export without Python keras is a clear error saying the format is optional', async () => {
  const saved = process.env.WINDCAST_PYTHON;
  process.env.WINDCAST_PYTHON = join(root, 'no-such-python');
  try {
    await assert.rejects(exportModel({ model: trainedDir, format: 'keras', out: join(root, 'none.keras') }, testContext(tinyConfig())), (e: WindcastError) => e.kind === 'backend' && /optional/.test(e.message) && e.message.includes('none.keras'));
  } finally {
    if (saved === undefined) delete process.env.WINDCAST_PYTHON;
    else process.env.WINDCAST_PYTHON = saved;
  }
  assert.ok(!existsSync(join(root, 'none.keras')));
});
