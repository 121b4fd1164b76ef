import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadBackend } from '../src/runtime/backend.js';
import { loadCheckpoint, readMeta } from '../src/model/checkpoint.js';
import { forecastWindows } from '../src/forecast/forecast.js';
import { featureContext } from '../src/prepare/features.js';
import { fitPeriodRidge, ridgeForecast } from '../src/prepare/ridge.js';
import { runCli } from '../src/cli.js';
import { train } from '../src/commands/train.js';
import { testContext } from '../src/commands/context.js';
import { CheckpointError, ConfigError } from '../src/core/errors.js';
import { silentProgress } from '../src/core/progress.js';
import { runTraining } from '../src/train/train.js';
import { makeCube, tinyConfig, tinyCube, writeCubeGeoTiffs } from './train-fixtures.js';

const { tf, info } = await loadBackend('cpu');

function tmp(name: string): string {
  return mkdtempSync(join(tmpdir(), `windcast-train-${name}-`));
}

function sha(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

test('windcast train: a one-epoch run on a coarse grid of GeoTIFFs, driven through the CLI', async () => {
  const dir = tmp('cli');
  const data = join(dir, 'data');
  mkdirSync(data);
  await writeCubeGeoTiffs(tinyCube(), data);
  const configPath = join(dir, 'config.json');
  const config = tinyConfig();
  writeFileSync(configPath, JSON.stringify({ model: config.model, train: config.train, runtime: config.runtime, ingest: { cache: false } }));
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
  try {
    await runCli(['--config', configPath, '--quiet', 'train', '--data', data, '--run', 'tiny', '--models-dir', join(dir, 'models'), '--epochs', '1', '--seed', '7']);
  } finally {
    process.stdout.write = write;
  }
  const text = out.join('');
  assert.match(text, /run tiny: completed after 1 epoch/);
  assert.match(text, /backend: cpu/);
  assert.match(text, /\+24h/);
  const meta = readMeta(join(dir, 'models', 'tiny', 'last'));
  assert.equal(meta.epoch, 1);
  assert.equal(meta.config.train.seed, 7);
  assert.equal(meta.split.hours, 480);
  assert.equal(meta.data.hours, 480);
  assert.ok(meta.split.train.endHour <= meta.split.test.startHour);
  const log = readFileSync(join(dir, 'models', 'tiny', 'train-log.jsonl'), 'utf8').trim().split('\n');
  assert.equal(log.length, 1);
  const line = JSON.parse(log[0]!);
  for (const key of ['trainRmse', 'validationRmse', 'persistenceRmse', 'samplesPerSecond', 'seconds']) assert.equal(typeof line[key], 'number', key);
  assert.equal(line.validationRmseByLead.length, 24);
});

test('resume continues the epoch counter and history; different data is refused unless forced', async () => {
  const models = tmp('resume');
  const cube = tinyCube();
  const ctx1 = testContext(tinyConfig({ epochs: 1 }));
  const first = await train({ data: 'fixture', run: 'r', modelsDir: models, cube }, ctx1);
  assert.equal(first.epochsCompleted, 1);
  await assert.rejects(train({ data: 'fixture', run: 'r', modelsDir: models, cube }, ctx1), (err: unknown) => err instanceof CheckpointError && /--resume/.test(err.message));
  const ctx2 = testContext(tinyConfig({ epochs: 2 }));
  const second = await train({ data: 'fixture', run: 'r', modelsDir: models, cube, resume: true }, ctx2);
  assert.equal(second.startEpoch, 1);
  assert.equal(second.epochsCompleted, 2);
  assert.deepEqual(second.notes, [], 'weights, Adam moments and step count all restored');
  const meta = readMeta(join(models, 'r', 'last'));
  assert.equal(meta.epoch, 2);
  assert.deepEqual(meta.training.history.map((h) => h.epoch), [1, 2]);
  const other = tinyCube(2);
  const ctx3 = testContext(tinyConfig({ epochs: 3 }));
  await assert.rejects(train({ data: 'other', run: 'r', modelsDir: models, cube: other, resume: true }, ctx3), (err: unknown) => err instanceof CheckpointError && /different data/.test(err.message) && /--force/.test(err.message));
  const forced = await train({ data: 'other', run: 'r', modelsDir: models, cube: other, resume: true, force: true }, ctx3);
  assert.equal(forced.epochsCompleted, 3);
});

/** sha256 of every file under a run folder (the lock aside), by path relative to it. */
function runFiles(runDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of readdirSync(runDir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || entry.name === '.lock') continue;
    const path = join(entry.parentPath, entry.name);
    out[path.slice(runDir.length + 1)] = sha(path);
  }
  return out;
}

test('train --force on data that fails validation leaves the previous run as it was', async () => {
  const models = tmp('force-bad');
  const runDir = join(models, 'r');
  await train({ data: 'good', run: 'r', modelsDir: models, cube: tinyCube() }, testContext(tinyConfig({ epochs: 1 })));
  const before = runFiles(runDir);
  assert.ok(before['best/meta.json'] && before['last/weights.bin'] && before['train-log.jsonl'], Object.keys(before).join(', '));
  // 60 hours cannot be split into three periods of one 48-hour window each.
  const short = makeCube({ hours: 60, step: 30, seed: 3 });
  await assert.rejects(
    train({ data: 'short', run: 'r', modelsDir: models, cube: short, force: true }, testContext(tinyConfig({ epochs: 1 }))),
    (err: unknown) => err instanceof ConfigError && /the train period has 42 hours/.test(err.message),
  );
  assert.deepEqual(runFiles(runDir), before, 'best/, last/ and the log are untouched');
  assert.ok(!existsSync(join(runDir, '.lock')), 'the lock is released');
});

test('train --force on good data replaces the previous run whole once its first checkpoint is written', async () => {
  const models = tmp('force-good');
  const runDir = join(models, 'r');
  await train({ data: 'a', run: 'r', modelsDir: models, cube: tinyCube() }, testContext(tinyConfig({ epochs: 2 })));
  const lines: string[] = [];
  const progress = { ...silentProgress, log: (l: string) => lines.push(l) };
  const result = await train({ data: 'b', run: 'r', modelsDir: models, cube: tinyCube(2), force: true }, { config: tinyConfig({ epochs: 1 }), progress, verbose: false });
  assert.equal(result.epochsCompleted, 1);
  // Every checkpoint folder left (a .prev is the new run's own earlier write) is of the new data.
  for (const name of readdirSync(runDir).filter((n) => n !== 'train-log.jsonl')) {
    assert.equal(readMeta(join(runDir, name)).data.fingerprint, tinyCube(2).source.fingerprint, `${name} is the new run's`);
  }
  assert.ok(existsSync(join(runDir, 'best')) && existsSync(join(runDir, 'last')));
  assert.equal(readFileSync(join(runDir, 'train-log.jsonl'), 'utf8').trim().split('\n').length, 1, 'the old log is gone');
  const replaced = lines.findIndex((l) => /starting over \(--force\): removed the previous checkpoints and log/.test(l));
  assert.ok(replaced > lines.findIndex((l) => /validation before training/.test(l)), 'the old run is removed only after the new best/ is written');
});

test('a checkpoint write killed mid-way leaves a temporary that the next run removes; a live writer\'s stays', async () => {
  const models = tmp('stale');
  const runDir = join(models, 'r');
  await train({ data: 'f', run: 'r', modelsDir: models, cube: tinyCube() }, testContext(tinyConfig({ epochs: 1 })));
  const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
  const stale = `.last.${dead}.0123abcd.tmp`;
  mkdirSync(join(runDir, stale));
  writeFileSync(join(runDir, stale, 'weights.bin'), 'half');
  const live = `.best.${process.pid}.89abcdef.tmp`;
  mkdirSync(join(runDir, live));
  const lines: string[] = [];
  const progress = { ...silentProgress, log: (l: string) => lines.push(l) };
  await train({ data: 'f', run: 'r', modelsDir: models, cube: tinyCube(), resume: true }, { config: tinyConfig({ epochs: 2 }), progress, verbose: false });
  assert.ok(!existsSync(join(runDir, stale)), 'the dead writer\'s temporary is gone');
  assert.ok(lines.includes(`checkpoint: removed ${stale} left by an interrupted write`), lines.join(' | '));
  assert.ok(existsSync(join(runDir, live)), 'a live process\'s temporary is left alone');
});

test('resuming gives the same weights as running straight through', async () => {
  const cube = tinyCube();
  const a = tmp('straight');
  await train({ data: 'f', run: 'x', modelsDir: a, cube }, testContext(tinyConfig({ epochs: 2 })));
  const b = tmp('split');
  await train({ data: 'f', run: 'x', modelsDir: b, cube }, testContext(tinyConfig({ epochs: 1 })));
  await train({ data: 'f', run: 'x', modelsDir: b, cube, resume: true }, testContext(tinyConfig({ epochs: 2 })));
  // Equal up to float rounding: Adam recomputes beta^t on restore instead of multiplying it up.
  const wa = new Float32Array(readFileSync(join(a, 'x', 'last', 'weights.bin')).buffer.slice(0));
  const wb = new Float32Array(readFileSync(join(b, 'x', 'last', 'weights.bin')).buffer.slice(0));
  assert.equal(wa.length, wb.length);
  let maxDiff = 0;
  for (let i = 0; i < wa.length; i++) maxDiff = Math.max(maxDiff, Math.abs(wa[i]! - wb[i]!));
  assert.ok(maxDiff < 1e-4, `max weight difference ${maxDiff}`);
  assert.ok(wa.some((x) => x !== 0), 'weights were trained');
});

test('same seed and backend, same weights; another seed, other weights', async () => {
  const cube = tinyCube();
  const dirs = [tmp('s1'), tmp('s2'), tmp('s3')];
  await train({ data: 'f', run: 'x', modelsDir: dirs[0], cube }, testContext(tinyConfig({ seed: 5 })));
  await train({ data: 'f', run: 'x', modelsDir: dirs[1], cube }, testContext(tinyConfig({ seed: 5 })));
  await train({ data: 'f', run: 'x', modelsDir: dirs[2], cube }, testContext(tinyConfig({ seed: 6 })));
  const [h1, h2, h3] = dirs.map((d) => sha(join(d, 'x', 'last', 'weights.bin')));
  assert.equal(h1, h2);
  assert.notEqual(h1, h3);
});

test('tensors do not leak across epochs or out of a run', async () => {
  const cube = makeCube({ hours: 480, step: 30, nans: 200 });
  const before = tf.memory().numTensors;
  const config = tinyConfig({ epochs: 3 });
  config.train.patience = 10;
  const out = await runTraining({ tf, backend: info, cube, dataDir: 'f', runDir: join(tmp('leak'), 'run'), run: 'run', config, progress: silentProgress, log: () => {} });
  assert.equal(out.history.length, 3);
  const counts = out.history.map((h) => h.numTensors);
  assert.ok(counts.every((n) => n === counts[0]), `tensors per epoch: ${counts.join(', ')}`);
  assert.equal(tf.memory().numTensors, before);
  for (const h of out.history) assert.ok(Number.isFinite(h.validationRmse) && Number.isFinite(h.trainRmse), 'NaN inputs are skipped, not propagated');
});

test('an abort (Ctrl-C) stops at the next batch, saves last/ and returns normally', async () => {
  const cube = tinyCube();
  const controller = new AbortController();
  const config = tinyConfig({ epochs: 5 });
  config.train.samplesPerEpoch = 640;
  let batches = 0;
  const progress = {
    ...silentProgress,
    start: () => ({ tick: () => { if (++batches === 2) controller.abort(); }, done: () => {} }),
  };
  const models = tmp('abort');
  const result = await train({ data: 'f', run: 'x', modelsDir: models, cube, signal: controller.signal }, { config, progress, verbose: false });
  assert.equal(result.stopped, 'interrupted');
  assert.ok(existsSync(join(models, 'x', 'last', 'meta.json')));
  assert.equal(readMeta(join(models, 'x', 'last')).training.stopped, 'interrupted');
  assert.ok(!existsSync(join(models, 'x', '.lock')), 'the lock is released');
});

test('the untrained model (the linear start) is epoch 0: best/ stays it when training only makes validation worse', async () => {
  const cube = tinyCube();
  const config = tinyConfig({ epochs: 2 });
  // A learning rate this large wrecks the model in the first steps.
  config.train.learningRate = 50;
  config.train.patience = 5;
  const lines: string[] = [];
  const runDir = join(tmp('epoch0'), 'run');
  const out = await runTraining({ tf, backend: info, cube, dataDir: 'f', runDir, run: 'run', config, progress: silentProgress, log: (l) => lines.push(l) });
  const before = Number(/validation before training: model RMSE ([\d.]+)/.exec(lines.join('\n'))![1]);
  assert.ok(out.history.every((h) => h.validationRmse > before), `epochs: ${out.history.map((h) => h.validationRmse).join(', ')}, before ${before}`);
  assert.equal(out.bestEpoch, 0);
  assert.ok(Math.abs(out.bestValidationRmse! - before) < 1e-3);
  const best = readMeta(join(runDir, 'best'));
  assert.equal(best.epoch, 0);
  assert.equal(best.training.validationRmseByLead.length, 24);
  assert.equal(readMeta(join(runDir, 'last')).epoch, 2);
});

test('the low-rank linear start beats persistence; the same-input ridge, a fit over all its inputs, beats it', async () => {
  const cube = tinyCube();
  const config = tinyConfig({ epochs: 1 });
  config.model.linearPath = 'low-rank';
  config.train.learningRate = 1e-12;
  const lines: string[] = [];
  await runTraining({ tf, backend: info, cube, dataDir: 'f', runDir: join(tmp('start'), 'run'), run: 'run', config, progress: silentProgress, log: (l) => lines.push(l) });
  const text = lines.join('\n');
  const before = Number(/validation before training: model RMSE ([\d.]+)/.exec(text)![1]);
  const persistence = Number(/persistence RMSE ([\d.]+)/.exec(text)![1]);
  const linear = Number(/linear baseline ([\d.]+)/.exec(text)![1]);
  assert.match(text, /linear path: started from a least-squares fit/);
  // The low-rank start reads the speed at every hour, the solar hour and one ring mean; the
  // same-input ridge reads every feature at every hour, so on validation it does better.
  assert.ok(before < persistence, `start ${before} vs persistence ${persistence}`);
  assert.ok(linear < before, `same-input ridge ${linear} vs low-rank start ${before}`);
});

test('the full linear path starts as the same-input ridge: the untrained model forecasts exactly that ridge', async () => {
  const cube = tinyCube();
  const config = tinyConfig({ epochs: 1 });
  config.model.linearPath = 'full';
  config.model.linearFrozen = true;
  config.train.learningRate = 1e-12;
  const lines: string[] = [];
  const runDir = join(tmp('full'), 'run');
  await runTraining({ tf, backend: info, cube, dataDir: 'f', runDir, run: 'run', config, progress: silentProgress, log: (l) => lines.push(l) });
  assert.match(lines.join('\n'), /linear path: the same-input ridge \(\d+ inputs\) fitted on \d+ training windows, penalty [\d.e-]+ chosen on validation .*frozen/);
  const loaded = await loadCheckpoint(tf, join(runDir, 'best'));
  try {
    assert.equal(loaded.meta.model.linearPath, 'full');
    const ctx = featureContext(cube, loaded.meta.features, loaded.stats);
    const ridge = fitPeriodRidge(ctx, { split: loaded.meta.split, windows: config.train.linearFitWindows, validationWindows: config.train.validationSamples, seed: config.train.seed });
    const t0 = loaded.meta.split.test.startHour + 30;
    const cells = Int32Array.from({ length: 20 }, (_, i) => i * 4);
    const H = loaded.meta.features.horizon;
    const fromModel = new Float32Array(cells.length * H);
    forecastWindows(tf, { model: loaded.model, ctx, t0, cells, batch: 8, out: fromModel });
    const fromRidge = ridgeForecast(ridge, ctx, t0, cells, new Float32Array(cells.length * H));
    let worst = 0;
    for (let i = 0; i < fromModel.length; i++) worst = Math.max(worst, Math.abs(fromModel[i]! - fromRidge[i]!));
    assert.ok(worst < 1e-3, `model vs ridge: largest difference ${worst} m/s`);
    assert.equal(loaded.model.getLayer('linear').trainableWeights.length, 0, 'frozen: the linear path is not trained');
  } finally {
    loaded.model.dispose();
  }
});

test('on native TensorFlow the log names the LSTM kernels that run (CI: windcast\'s own)', async (t) => {
  const native = await loadBackend('auto');
  try {
    if (native.info.name !== 'tensorflow') {
      t.skip('native TensorFlow is not set up here (CI requires it)');
      return;
    }
    const lines: string[] = [];
    const config = tinyConfig({ epochs: 1 });
    await runTraining({ tf: native.tf, backend: native.info, cube: tinyCube(), dataDir: 'f', runDir: join(tmp('kernels'), 'run'), run: 'run', config, progress: silentProgress, log: (l) => lines.push(l) });
    const kernels = lines.find((l) => l.startsWith('LSTM kernels: '));
    assert.ok(kernels, `no LSTM kernels line in: ${lines.join(' | ')}`);
    if (process.env.WINDCAST_REQUIRE_NATIVE === '1') assert.match(kernels, /windcast's fused forward and backward/);
  } finally {
    await loadBackend('cpu'); // the other tests of this file run on cpu
  }
});
