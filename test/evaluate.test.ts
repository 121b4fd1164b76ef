import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { persistenceForecast } from '../src/evaluate/baselines.js';
import type { CheckpointMeta } from '../src/model/checkpoint.js';
import { checkDataMatches, evaluateCube, formatEvaluateResult, testAnchors, writeEvaluation } from '../src/commands/evaluate.js';
import type { Cube } from '../src/ingest/cube.js';
import { DataError } from '../src/core/errors.js';
import { decodePng } from '../src/output/png.js';
import { silentProgress } from '../src/core/progress.js';
import { splitHours } from '../src/prepare/split.js';
import { makeCube } from './train-fixtures.js';

const scratch: string[] = [];
after(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** A temporary folder removed when the tests end. */
function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

const noTf = { memory: () => ({ numTensors: 0 }) } as unknown as Parameters<typeof evaluateCube>[0]['tf'];

/** A checkpoint folder holding only meta.json, for a forecaster that needs no model. */
function fakeCheckpoint(cube: Cube): { dir: string; meta: CheckpointMeta } {
  const split = splitHours({ hours: cube.times.length, lookback: 24, horizon: 24, fractions: [0.6, 0.2, 0.2] });
  const meta = {
    run: 'fake',
    kind: 'best',
    epoch: 3,
    savedAt: '2026-01-01T00:00:00.000Z',
    grid: cube.grid,
    split,
    data: { dir: '/fixture', fingerprint: cube.source.fingerprint, hours: cube.times.length, firstHour: new Date(cube.times[0]!).toISOString().slice(0, 13) + 'Z', lastHour: '', uv: false },
  } as unknown as CheckpointMeta;
  const dir = tempDir('windcast-eval-ck-');
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta));
  return { dir, meta };
}

test('test windows come from the checkpoint split, every stride hours, inside the test period', () => {
  const split = splitHours({ hours: 720, lookback: 24, horizon: 24, fractions: [0.7, 0.1, 0.2] });
  const anchors = testAnchors({ split }, 6, 24);
  assert.equal(anchors[0], split.test.startHour + 23);
  assert.ok(anchors[anchors.length - 1]! + 24 <= split.test.endHour - 1);
  assert.ok(anchors.every((t, i) => i === 0 || t - anchors[i - 1]! === 6));
  assert.ok(anchors[0]! - 23 >= split.validation.endHour, 'no input hour before the test period');
});

test('a forecaster that is persistence has skill 0 over persistence, and the report says so', async () => {
  const cube = makeCube({ hours: 300, step: 15 });
  const n = cube.grid.width * cube.grid.height;
  // Cell 2 (sampled: row 0, column 2) is nodata throughout; cell 4 misses one test hour.
  for (let t = 0; t < 300; t++) cube.speed[t * n + 2] = NaN;
  cube.speed[270 * n + 4] = NaN;
  const { dir, meta } = fakeCheckpoint(cube);
  const forecaster = {
    meta,
    forecast: (c: Cube, t0: number, cells: Int32Array, out?: Float32Array) => persistenceForecast(c, { t0, cells, horizon: 24, ...(out ? { out } : {}) }),
  };
  const report = evaluateCube({ cube, forecaster, checkpointDir: dir, dataDir: '/fixture', stride: 6, cellStride: 2, ridgeLambda: 1e-3, linearLookback: 24, linearSampleCells: 4096, tf: noTf, backend: 'none', progress: silentProgress });
  assert.equal(report.testPeriod.windows, testAnchors(meta, 6, 24).length);
  assert.equal(report.cellSample.cells, Math.ceil(cube.grid.height / 2) * Math.ceil(cube.grid.width / 2));
  const g = report.global;
  g.skill.persistence!.perLead.forEach((s) => assert.equal(s, 0));
  assert.deepEqual(g.forecasters.model!.rmse, g.forecasters.persistence!.rmse);
  // Persistence error grows with lead on weather-like data; the linear baseline beats it at +24 h.
  assert.ok(g.forecasters.persistence!.rmse[23]! > g.forecasters.persistence!.rmse[0]!);
  assert.ok(g.forecasters.linear!.rmse[23]! < g.forecasters.persistence!.rmse[23]!);
  // NaN cells were excluded and counted.
  assert.ok(report.exclusions.truthNotFinite > 0);
  assert.ok(g.excluded.some((n) => n > 0));
  // Bands partition the sample.
  assert.equal(report.bands.reduce((n, b) => n + b.cells, 0), report.cellSample.cells);
  assert.deepEqual(report.bands.map((b) => b.name), ['tropics', 'midlatitudes', 'polar']);

  const out = tempDir('windcast-eval-out-');
  const files = await writeEvaluation(out, report);
  const json = JSON.parse(readFileSync(files.json, 'utf8'));
  assert.equal(json.checkpoint.id, report.checkpoint.id);
  assert.match(json.checkpoint.id, /^fake\/best@epoch3#[0-9a-f]{12}$/);
  assert.equal(json.data.fingerprint, cube.source.fingerprint);
  assert.equal(json.global.forecasters.climatology.rmse.length, 24);
  const md = readFileSync(files.markdown, 'utf8');
  assert.match(md, /## RMSE by lead hour/);
  assert.match(md, /\| \+24 h \|/);
  // The band row keeps its pipes escaped, so the table still has one cell per column.
  assert.match(md, /^\| tropics \(\\\|lat\\\| < 23\.5\) \| \d+ \|/m);
  const png = decodePng(readFileSync(files.chart));
  assert.equal(png.width, 800);
  assert.match(formatEvaluateResult({ report, files }), /persistence .* model skill \+0\.0 %/);
});

test('data that is not the checkpoint\'s is refused with a DataError naming the folder', () => {
  const cube = makeCube({ hours: 300, step: 15 });
  const { meta } = fakeCheckpoint(cube);
  const other = makeCube({ hours: 300, step: 15, seed: 9 });
  assert.throws(() => checkDataMatches(meta, other, '/data/other'), (err: unknown) => {
    assert.ok(err instanceof DataError);
    assert.match(err.message, /^\/data\/other: is not the data the checkpoint was trained on/);
    return true;
  });
  const coarse = makeCube({ hours: 300, step: 30 });
  assert.throws(() => checkDataMatches(meta, coarse, '/data/coarse'), /\/data\/coarse: grid differs/);
});

test('evaluate a trained model end to end: report files, baselines beside it, no tensor leaks', async () => {
  const { loadBackend } = await import('../src/runtime/backend.js');
  const { runTraining } = await import('../src/train/train.js');
  const { loadForecaster } = await import('../src/forecast/forecast.js');
  const { resolveCheckpointDir } = await import('../src/model/checkpoint.js');
  const { parseConfig } = await import('../src/core/config.js');
  const { tf, info } = await loadBackend('cpu');
  const cube = makeCube({ hours: 300, step: 20 });
  const root = tempDir('windcast-eval-e2e-');
  const runDir = join(root, 'models', 'tiny');
  mkdirSync(runDir, { recursive: true });
  const config = parseConfig({ model: { units: 8 }, train: { epochs: 1, samplesPerEpoch: 512, validationSamples: 256, batchSize: 256, split: [0.6, 0.2, 0.2] }, runtime: { backend: 'cpu' } }, 'test');
  await runTraining({ tf, backend: info, cube, dataDir: '/fixture', runDir, run: 'tiny', config, progress: silentProgress, log: () => {} });
  const before = tf.memory().numTensors;
  const checkpointDir = resolveCheckpointDir(runDir);
  const forecaster = await loadForecaster(checkpointDir, tf);
  let report: ReturnType<typeof evaluateCube>;
  try {
    report = evaluateCube({ cube, forecaster, checkpointDir, dataDir: '/fixture', stride: 12, cellStride: 1, ridgeLambda: 1e-3, linearLookback: 24, linearSampleCells: 4096, tf, backend: info.name, progress: silentProgress });
  } finally {
    forecaster.dispose();
  }
  assert.equal(tf.memory().numTensors, before, 'evaluate leaves no tensors behind');
  assert.equal(report.run.tensorsBefore, report.run.tensorsAfter);
  assert.equal(report.testPeriod.startHour, forecaster.meta.split.test.startHour);
  assert.equal(report.cellSample.full, true);
  for (const name of report.forecasters) {
    const r = report.global.forecasters[name]!;
    assert.equal(r.rmse.length, 24);
    assert.ok(r.rmse.every((v) => Number.isFinite(v) && v >= 0), `${name} has an RMSE for every lead`);
  }
  const files = await writeEvaluation(join(root, 'eval'), report);
  assert.ok(existsSync(files.chart) && existsSync(files.markdown) && existsSync(files.json));
});

test('windcast evaluate on GeoTIFF files through the CLI; other data is refused with a DataError', async () => {
  const { writeGeoTiff } = await import('../src/output/geotiff-write.js');
  const { buildCatalog } = await import('../src/ingest/catalog.js');
  const { buildCube } = await import('../src/ingest/cube.js');
  const { loadBackend } = await import('../src/runtime/backend.js');
  const { runTraining } = await import('../src/train/train.js');
  const { parseConfig } = await import('../src/core/config.js');
  const { runCli } = await import('../src/cli.js');
  const root = tempDir('windcast-eval-cli-');
  const writeSeries = async (dir: string, seed: number) => {
    mkdirSync(dir, { recursive: true });
    const source = makeCube({ hours: 300, step: 30, seed });
    const n = source.grid.width * source.grid.height;
    for (let t = 0; t < 300; t++) {
      const name = `windspeed_${new Date(source.times[t]!).toISOString().slice(0, 13)}Z.tif`;
      await writeGeoTiff(join(dir, name), { grid: source.grid, bands: [source.speed.slice(t * n, (t + 1) * n)], compress: 'none' });
    }
  };
  const data = join(root, 'data');
  await writeSeries(data, 1);
  const config = parseConfig({ model: { units: 8 }, train: { epochs: 1, samplesPerEpoch: 256, validationSamples: 128, batchSize: 128, split: [0.6, 0.2, 0.2] }, runtime: { backend: 'cpu' } }, 'test');
  const ingest = { cacheEncoding: 'float32' as const, cache: false, workers: 1 };
  const cube = await buildCube(await buildCatalog(data, { glob: '*.tif', timePattern: 'auto' }), ingest, silentProgress);
  const { tf, info } = await loadBackend('cpu');
  const runDir = join(root, 'models', 'cli');
  await runTraining({ tf, backend: info, cube, dataDir: data, runDir, run: 'cli', config, progress: silentProgress, log: () => {} });

  const out = join(root, 'report');
  const printed: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => (printed.push(String(chunk)), true)) as typeof process.stdout.write;
  try {
    await runCli(['-q', 'evaluate', '--model', runDir, '--data', data, '--out', out, '--backend', 'cpu', '--stride', '12', '--full']);
  } finally {
    process.stdout.write = write;
  }
  const text = printed.join('');
  assert.match(text, /RMSE averaged over leads \+1\.\.\+24 h/);
  assert.match(text, /linear +\d+\.\d{3} m\/s +model skill [+-]\d/);
  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
  assert.equal(report.testPeriod.stride, 12);
  assert.equal(report.cellSample.full, true);
  assert.equal(report.run.tensorsAfter, report.run.tensorsBefore);
  assert.equal(report.data.fingerprint, cube.source.fingerprint);

  const other = join(root, 'other');
  await writeSeries(other, 2);
  // Same names, other values and sizes: a different fingerprint, so a different dataset.
  await assert.rejects(
    runCli(['-q', 'evaluate', '--model', runDir, '--data', other, '--out', join(root, 'r2'), '--backend', 'cpu']),
    (err: unknown) => {
      assert.ok(err instanceof DataError, String(err));
      assert.match(err.message, /other: is not the data the checkpoint was trained on/);
      return true;
    },
  );
});
