import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { loadBackend } from '../src/runtime/backend.js';
import { loadCheckpoint, readMeta, resolveCheckpointDir, restoreOptimizer, writeCheckpoint } from '../src/model/checkpoint.js';
import { acquireLock } from '../src/model/run-lock.js';
import { CheckpointMetaSchema } from '../src/model/checkpoint-meta.js';
import { GridSpecSchema } from '../src/core/grid.js';
import { FeatureSpecSchema } from '../src/prepare/features.js';
import { ModelSpecSchema } from '../src/model/model.js';
import { CheckpointError } from '../src/core/errors.js';
import { loadForecaster } from '../src/forecast/forecast.js';
import { buildModel, trainStep, trainableVariables } from '../src/model/model.js';
import { silentProgress } from '../src/core/progress.js';
import { runTraining } from '../src/train/train.js';
import { tinyConfig, tinyCube } from './train-fixtures.js';

const { tf, info } = await loadBackend('cpu');
const cube = tinyCube();

async function trainedRun(): Promise<string> {
  const runDir = join(mkdtempSync(join(tmpdir(), 'windcast-ckpt-')), 'run');
  await runTraining({ tf, backend: info, cube, dataDir: 'fixture', runDir, run: 'run', config: tinyConfig(), progress: silentProgress, log: () => {} });
  return runDir;
}

test('round trip: the loaded checkpoint forecasts exactly as the saved model, and meta is validated', async () => {
  const runDir = await trainedRun();
  const before = tf.memory().numTensors;
  const loaded = await loadCheckpoint(tf, runDir, 'last');
  assert.equal(loaded.meta.epoch, 1);
  assert.equal(loaded.meta.kind, 'last');
  assert.equal(loaded.meta.data.fingerprint, cube.source.fingerprint);
  assert.deepEqual(loaded.meta.grid, cube.grid);
  assert.equal(loaded.meta.features.nFeatures, loaded.meta.features.names.length);
  assert.ok(loaded.optimizerState, 'optimizer state saved');
  // Save the loaded model again and load that: identical weights, identical forecasts.
  const again = join(runDir, 'copy');
  await writeCheckpoint(tf, again, 'last', { model: loaded.model, stats: loaded.stats, meta: loaded.meta });
  loaded.model.dispose();
  const a = await loadForecaster(join(runDir, 'last'), tf);
  const b = await loadForecaster(join(again, 'last'), tf);
  const cells = Int32Array.from({ length: 84 }, (_, i) => i);
  const fa = a.forecast(cube, 400, cells);
  const fb = b.forecast(cube, 400, cells);
  assert.deepEqual(fa, fb);
  assert.equal(fa.length, 84 * 24);
  for (const v of fa) assert.ok(Number.isFinite(v));
  a.dispose();
  b.dispose();
  assert.equal(tf.memory().numTensors, before, 'forecasters release every tensor');
  // A run folder resolves to best/ for forecasting.
  assert.equal(resolveCheckpointDir(runDir), join(runDir, 'best'));
});

test('a corrupted weights file or an invalid meta.json is a CheckpointError naming the file', async () => {
  const runDir = await trainedRun();
  const weights = join(runDir, 'last', 'weights.bin');
  const bytes = readFileSync(weights);
  bytes[10] = bytes[10]! ^ 0xff;
  writeFileSync(weights, bytes);
  await assert.rejects(loadCheckpoint(tf, join(runDir, 'last')), (err: unknown) => err instanceof CheckpointError && err.message.includes('weights.bin') && /corrupt/.test(err.message));
  const metaPath = join(runDir, 'best', 'meta.json');
  const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
  delete meta.split;
  writeFileSync(metaPath, JSON.stringify(meta));
  assert.throws(() => readMeta(join(runDir, 'best')), (err: unknown) => err instanceof CheckpointError && err.message.includes('meta.json') && /split/.test(err.message));
});

test('Adam state survives a save and restore (step count and moments)', async () => {
  const model = buildModel(tf, { lookback: 24, nFeatures: 3, horizon: 24, units: 4, layers: 1, dropout: 0, linearSkip: true, seed: 1 });
  const opt = tf.train.adam(0.01);
  const vars = trainableVariables(model);
  const xs = tf.randomNormal([8, 24, 3], 0, 1, 'float32', 1);
  const ys = tf.randomNormal([8, 24], 0, 1, 'float32', 2);
  const ws = tf.ones([8]);
  for (let i = 0; i < 3; i++) trainStep(tf, model, opt, { xs, ys, ws, wSum: 8 }, vars).dispose();
  const saved = await opt.getWeights();
  const runDir = mkdtempSync(join(tmpdir(), 'windcast-opt-'));
  const ref = await loadCheckpoint(tf, await trainedRun(), 'last');
  await writeCheckpoint(tf, runDir, 'last', { model, optimizer: opt, stats: ref.stats, meta: ref.meta });
  ref.model.dispose();
  const loaded = await loadCheckpoint(tf, runDir, 'last');
  const opt2 = tf.train.adam(0.01);
  const problems = await restoreOptimizer(tf, opt2, loaded.optimizerState!, loaded.model.trainableWeights.map((w) => ({ shape: w.shape as number[] })));
  assert.deepEqual(problems, []);
  const restored = await opt2.getWeights();
  assert.equal(restored.length, saved.length);
  assert.equal((await restored[0]!.tensor.data())[0], 3, 'iteration count');
  for (let i = 1; i < saved.length; i++) assert.deepEqual(await restored[i]!.tensor.data(), await saved[i]!.tensor.data());
  // A model with other shapes: restore says so and leaves the optimizer fresh.
  const other = await restoreOptimizer(tf, tf.train.adam(0.01), loaded.optimizerState!, [{ shape: [1] }]);
  assert.equal(other.length, 1);
  tf.dispose([xs, ys, ws]);
  model.dispose();
  loaded.model.dispose();
  opt.dispose();
  opt2.dispose();
});

test('a checkpoint write killed at any stage leaves the previous checkpoint usable', async () => {
  const runDir = await trainedRun();
  const moduleUrl = pathToFileURL(join(import.meta.dirname, '..', 'src', 'model', 'checkpoint.js')).href;
  const backendUrl = pathToFileURL(join(import.meta.dirname, '..', 'src', 'runtime', 'backend.js')).href;
  for (const stage of ['weights.bin', 'norm.bin', 'meta.json', 'moved-previous']) {
    // The child rewrites last/ as epoch 99 and SIGKILLs itself in the middle.
    const script = `
      const { loadBackend } = await import(${JSON.stringify(backendUrl)});
      const ck = await import(${JSON.stringify(moduleUrl)});
      const { tf } = await loadBackend('cpu');
      const c = await ck.loadCheckpoint(tf, ${JSON.stringify(join(runDir, 'last'))});
      await ck.writeCheckpoint(tf, ${JSON.stringify(runDir)}, 'last', { model: c.model, stats: c.stats, meta: { ...c.meta, epoch: 99 } },
        (s) => { if (s === ${JSON.stringify(stage)}) process.kill(process.pid, 'SIGKILL'); });
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(child.signal, 'SIGKILL', `child killed at ${stage}: ${child.stderr}`);
    const dir = resolveCheckpointDir(join(runDir, 'last'));
    const loaded = await loadCheckpoint(tf, dir);
    assert.equal(loaded.meta.epoch, 1, `previous checkpoint intact after a kill at ${stage}`);
    loaded.model.dispose();
    if (stage === 'moved-previous') {
      assert.ok(!existsSync(join(runDir, 'last')) && existsSync(join(runDir, 'last.prev')));
      renameSync(join(runDir, 'last.prev'), join(runDir, 'last'));
    }
  }
});

test('a lock stops a second writer; a stale lock from a dead process is taken over', () => {
  const runDir = mkdtempSync(join(tmpdir(), 'windcast-lock-'));
  const lock = acquireLock(runDir);
  assert.throws(() => acquireLock(runDir), (err: unknown) => err instanceof CheckpointError && err.message.includes(String(process.pid)));
  lock.release();
  const again = acquireLock(runDir);
  again.release();
  // A lock left by a process that no longer exists is taken over, with a log line.
  const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
  writeFileSync(join(runDir, '.lock'), JSON.stringify({ pid: dead, host: hostname(), startedAt: 'then' }));
  const lines: string[] = [];
  const taken = acquireLock(runDir, (l) => lines.push(l));
  assert.match(lines.join('\n'), /stale lock/);
  assert.equal(JSON.parse(readFileSync(join(runDir, '.lock'), 'utf8')).pid, process.pid);
  taken.release();
  assert.ok(!existsSync(join(runDir, '.lock')));
});

test('meta.json\'s model, features and grid are the schemas of ModelSpec, FeatureSpec and GridSpec, not copies', () => {
  assert.equal(CheckpointMetaSchema.shape.model, ModelSpecSchema);
  assert.equal(CheckpointMetaSchema.shape.features, FeatureSpecSchema);
  assert.equal(CheckpointMetaSchema.shape.grid, GridSpecSchema);
  // And they validate: a grid with epsg other than 4326 is refused.
  assert.equal(GridSpecSchema.safeParse({ ...cube.grid, epsg: 3857 }).success, false);
  assert.equal(GridSpecSchema.safeParse(cube.grid).success, true);
});
