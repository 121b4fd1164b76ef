import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fitLinearBaseline, linearForecast, truthWindow } from '../src/evaluate/baselines.js';
import { formatEvaluateResult } from '../src/commands/evaluate.js';
import { evaluateCube, testAnchors, writeEvaluation } from '../src/evaluate/evaluate.js';
import { checkDataFits, cubeFacts } from '../src/model/data-fit.js';
import { DataError } from '../src/core/errors.js';
import { decodePng } from '../src/output/png.js';
import { silentProgress } from '../src/core/progress.js';
import { splitHours } from '../src/prepare/split.js';
import { featureContext } from '../src/prepare/features.js';
import { fitPeriodRidge, ridgeForecast } from '../src/prepare/ridge.js';
import { latitudeWeights } from '../src/evaluate/regions.js';
import { formatReportMarkdown } from '../src/evaluate/report.js';
import { makeCube } from './train-fixtures.js';
import { fakeCheckpoint, FAKE_TRAIN, noTf, settings, tempDir } from './evaluate-fixtures.js';

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
  const { dir, meta, forecaster } = fakeCheckpoint(cube);
  // Windows 2 h apart in 2-hour blocks: this 60-hour test period holds the 5 blocks an interval needs.
  const report = evaluateCube({ cube, forecaster, checkpointDir: dir, dataDir: '/fixture', settings: settings({ stride: 2, cellStride: 2, bootstrapBlockHours: 2 }), tf: noTf, backend: 'none', progress: silentProgress });
  assert.equal(report.testPeriod.windows, testAnchors(meta, 2, 24).length);
  assert.equal(report.cellSample.cells, Math.ceil(cube.grid.height / 2) * Math.ceil(cube.grid.width / 2));
  const g = report.global;
  g.skill.persistence!.perLead.forEach((s) => assert.equal(s, 0));
  assert.deepEqual(g.forecasters.model!.rmse, g.forecasters.persistence!.rmse);
  // And its interval is exactly 0 too: every resample scores the model and persistence alike.
  assert.deepEqual(g.skill.persistence!.interval!.mean, [0, 0]);
  assert.deepEqual(report.forecasters, ['model', 'persistence', 'yesterday', 'climatology', 'linear', 'linear-speed']);
  // Persistence error grows with lead on weather-like data; both ridges beat it at +24 h.
  assert.ok(g.forecasters.persistence!.rmse[23]! > g.forecasters.persistence!.rmse[0]!);
  assert.ok(g.forecasters.linear!.rmse[23]! < g.forecasters.persistence!.rmse[23]!);
  assert.ok(g.forecasters['linear-speed']!.rmse[23]! < g.forecasters.persistence!.rmse[23]!);
  // The headline is the skill over the same-input ridge, with its interval.
  assert.deepEqual(report.headline, { against: 'linear', skill: g.skill.linear!.mean, interval: g.skill.linear!.interval!.mean });
  assert.equal(report.baselines.climatology.kind, 'hour-of-day');
  assert.equal(report.method.bootstrap.blockWindows, 1);
  assert.equal(report.method.bootstrap.blocks, report.testPeriod.windows);
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
  assert.match(md, /\*\*Headline: skill over the same-input ridge \("linear"\) -?\d+\.\d % \[-?\d+\.\d, -?\d+\.\d\]\*\*/);
  assert.match(md, /^\| persistence \| [\d.]+ \| [\d.]+ \| [-\d.]+ \| 0\.0 % \[0\.0, 0\.0\] \|$/m);
  assert.match(md, /- linear-speed: the speed-only ridge/);
  // The band row keeps its pipes escaped, so the table still has one cell per column.
  assert.match(md, /^\| tropics \(\\\|lat\\\| < 23\.5\) \| \d+ \|/m);
  const png = decodePng(readFileSync(files.chart));
  assert.equal(png.width, 800);
  assert.match(formatEvaluateResult({ report, files }), /persistence .* model skill \+0\.0 % \[\+0\.0, \+0\.0\]/);
  assert.match(formatEvaluateResult({ report, files }), /headline: skill over the same-input ridge \(linear\) [+-]\d+\.\d % \[[+-]\d+\.\d, [+-]\d+\.\d\]/);
});

test('"linear" is the same-input ridge fitted with the checkpoint\'s settings and "linear-speed" the speed-only ridge: both rescored by hand', () => {
  const cube = makeCube({ hours: 300, step: 30 });
  const { dir, meta, forecaster, stats } = fakeCheckpoint(cube);
  const evaluateSettings = settings({ stride: 6, cellStride: 1 });
  const report = evaluateCube({ cube, forecaster, checkpointDir: dir, dataDir: '/fixture', settings: evaluateSettings, tf: noTf, backend: 'none', progress: silentProgress });

  // Independently: the ridge of the run, fitted here through prepare/ridge.ts on a context of
  // our own, with the training settings the checkpoint stores (not the evaluate config's).
  const ctx = featureContext(cube, meta.features, stats);
  const ridge = fitPeriodRidge(ctx, { split: meta.split, windows: FAKE_TRAIN.linearFitWindows, validationWindows: FAKE_TRAIN.validationSamples, seed: FAKE_TRAIN.seed });
  assert.equal(report.baselines.linear.lambda, ridge.lambda);
  assert.equal(report.baselines.linear.windows, ridge.windows);
  assert.deepEqual(report.baselines.linear.validationRmse, ridge.validationRmse);
  assert.equal(report.baselines.linear.inputs, 24 * meta.features.nFeatures);
  const hours = [meta.split.train.startHour, meta.split.train.endHour] as const;
  const speedRidge = fitLinearBaseline(cube, { hours, lookback: 24, horizon: 24, lambda: evaluateSettings.ridgeLambda, sampleCells: evaluateSettings.linearSampleCells });
  assert.equal(report.baselines['linear-speed'].samples, speedRidge.samples);

  // RMSE per lead by hand: per window the area-weighted mean squared error over all cells
  // (this cube has no NaN), then the root of its mean over the windows.
  const n = cube.grid.width * cube.grid.height;
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const rowW = latitudeWeights(cube.grid);
  const anchors = testAnchors(meta, 6, 24);
  const byHand = (forecast: (t0: number) => Float32Array) => {
    const sums = new Float64Array(24);
    for (const t0 of anchors) {
      const f = forecast(t0);
      const truth = truthWindow(cube, { t0, cells: all, horizon: 24 });
      for (let l = 0; l < 24; l++) {
        let se = 0;
        let w = 0;
        for (let c = 0; c < n; c++) {
          const weight = rowW[Math.floor(c / cube.grid.width)]!;
          se += weight * (f[c * 24 + l]! - truth[c * 24 + l]!) ** 2;
          w += weight;
        }
        sums[l]! += se / w;
      }
    }
    return Array.from(sums, (s) => Math.sqrt(s / anchors.length));
  };
  const linear = byHand((t0) => ridgeForecast(ridge, ctx, t0, all, new Float32Array(n * 24)));
  const speed = byHand((t0) => linearForecast(speedRidge, cube, { t0, cells: all }));
  const g = report.global.forecasters;
  linear.forEach((v, l) => assert.ok(Math.abs(v - g.linear!.rmse[l]!) < 1e-9, `linear +${l + 1} h: report ${g.linear!.rmse[l]}, by hand ${v}`));
  speed.forEach((v, l) => assert.ok(Math.abs(v - g['linear-speed']!.rmse[l]!) < 1e-9, `linear-speed +${l + 1} h: report ${g['linear-speed']!.rmse[l]}, by hand ${v}`));
  // Three windows are one 96-hour block: no interval, and the report says why.
  assert.equal(report.method.bootstrap.blocks, 1);
  assert.ok(report.headline.interval.every(Number.isNaN));
  assert.match(formatReportMarkdown(report), /no interval: the 3 test windows make 1 block of 96 h \(evaluate\.bootstrapBlockHours\), fewer than the 5 an interval needs/);
  // The same-input ridge sees the neighbourhood and per-cell normalisation: here it is the better ridge.
  assert.ok(g.linear!.mean.rmse < g['linear-speed']!.mean.rmse, `linear ${g.linear!.mean.rmse}, linear-speed ${g['linear-speed']!.mean.rmse}`);
});

test('a training period with no complete window is a DataError naming the data, not a stack trace', () => {
  const cube = makeCube({ hours: 300, step: 30 });
  const n = cube.grid.width * cube.grid.height;
  const { dir, forecaster } = fakeCheckpoint(cube);
  // Statistics were computed before: the hole is in the data evaluate is given.
  for (let t = 0; t < 180; t += 20) cube.speed.fill(NaN, t * n, (t + 1) * n);
  assert.throws(
    () => evaluateCube({ cube, forecaster, checkpointDir: dir, dataDir: '/data/holes', settings: settings(), tf: noTf, backend: 'none', progress: silentProgress }),
    (err: unknown) => {
      assert.ok(err instanceof DataError, String(err));
      assert.match(err.message, /^\/data\/holes: cannot fit the same-input ridge on the training period: no complete training window/);
      return true;
    },
  );
});

test('data that is not the checkpoint\'s is refused with a DataError naming the folder', () => {
  const cube = makeCube({ hours: 300, step: 15 });
  const { meta } = fakeCheckpoint(cube);
  const other = makeCube({ hours: 300, step: 15, seed: 9 });
  assert.throws(() => checkDataFits(meta, cubeFacts(other, '/data/other'), { sameData: true }), (err: unknown) => {
    assert.ok(err instanceof DataError);
    assert.match(err.message, /^\/data\/other: is not the data the checkpoint was trained on/);
    return true;
  });
  const coarse = makeCube({ hours: 300, step: 30 });
  assert.throws(() => checkDataFits(meta, cubeFacts(coarse, '/data/coarse'), { sameData: true }), /\/data\/coarse: grid differs/);
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
  const config = parseConfig({ model: { units: 8 }, train: { epochs: 1, samplesPerEpoch: 512, validationSamples: 256, batchSize: 256, quantileSamples: 512, split: [0.6, 0.2, 0.2] }, runtime: { backend: 'cpu' } }, 'test');
  await runTraining({ tf, backend: info, cube, dataDir: '/fixture', runDir, run: 'tiny', config, progress: silentProgress, log: () => {} });
  const before = tf.memory().numTensors;
  const checkpointDir = resolveCheckpointDir(runDir);
  const forecaster = await loadForecaster(checkpointDir, tf);
  let report: ReturnType<typeof evaluateCube>;
  try {
    report = evaluateCube({ cube, forecaster, checkpointDir, dataDir: '/fixture', settings: settings({ stride: 12, cellStride: 1 }), tf, backend: info.name, progress: silentProgress });
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
    assert.ok(r.rmse.every((v) => Number.isFinite(v)), `${name} has an RMSE for every lead`);
  }
  // The checkpoint has the default quantile head: its quantiles are scored beside the probabilistic baselines.
  const p = report.probabilistic;
  assert.equal(p.modelQuantiles, true);
  assert.deepEqual(p.levels, forecaster.meta.model.quantiles);
  assert.deepEqual(p.forecasters, ['model', 'climatology', 'persistence', 'linear']);
  for (const name of p.forecasters) {
    const q = p.global.forecasters[name]!;
    assert.ok(q.crps.every((v) => Number.isFinite(v) && v > 0), `${name} has a CRPS for every lead`);
    assert.ok(q.coverage['80']!.every((v) => v >= 0 && v <= 1));
  }
  assert.ok(p.global.skill.persistence!.perLead.every(Number.isFinite));
  const files = await writeEvaluation(join(root, 'eval'), report);
  assert.ok(existsSync(files.chart) && existsSync(files.markdown) && existsSync(files.json));
  assert.ok(existsSync(files.crpsChart) && existsSync(files.coverageChart) && existsSync(files.pitChart));
});

test('an untrained model whose full linear path is training\'s same-input ridge scores as evaluate\'s "linear": skill 0', async () => {
  const { loadBackend } = await import('../src/runtime/backend.js');
  const { runTraining } = await import('../src/train/train.js');
  const { loadForecaster } = await import('../src/forecast/forecast.js');
  const { resolveCheckpointDir } = await import('../src/model/checkpoint.js');
  const { tinyConfig, tinyCube } = await import('./train-fixtures.js');
  const { tf, info } = await loadBackend('cpu');
  const cube = tinyCube();
  const config = tinyConfig({ epochs: 1 });
  config.model.linearPath = 'full';
  config.model.linearFrozen = true;
  config.train.learningRate = 1e-12;
  const runDir = join(tempDir('windcast-eval-full-'), 'run');
  await runTraining({ tf, backend: info, cube, dataDir: '/fixture', runDir, run: 'full', config, progress: silentProgress, log: () => {} });
  const checkpointDir = resolveCheckpointDir(runDir);
  const forecaster = await loadForecaster(checkpointDir, tf);
  let report: ReturnType<typeof evaluateCube>;
  try {
    report = evaluateCube({ cube, forecaster, checkpointDir, dataDir: '/fixture', settings: settings({ stride: 3, cellStride: 1 }), tf, backend: info.name, progress: silentProgress });
  } finally {
    forecaster.dispose();
  }
  // Evaluate refits the ridge from the checkpoint's stored settings: the fit training made.
  const g = report.global;
  g.skill.linear!.perLead.forEach((s, l) => assert.ok(Math.abs(s) < 1e-3, `+${l + 1} h: skill over linear ${s}`));
  assert.ok(Math.abs(g.skill.linear!.mean) < 1e-4, `mean skill over linear ${g.skill.linear!.mean}`);
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
  const config = parseConfig({ model: { units: 8 }, train: { epochs: 1, samplesPerEpoch: 256, validationSamples: 128, batchSize: 128, quantileSamples: 256, split: [0.6, 0.2, 0.2] }, runtime: { backend: 'cpu' } }, 'test');
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
    await runCli(['-q', 'evaluate', '--model', runDir, '--data', data, '--out', out, '--backend', 'cpu', '--stride', '12', '--full', '--turbine', 'nrel-5mw']);
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
  // --turbine adds the power scores; the quantile checkpoint's CRPS is printed.
  assert.equal(report.power.turbine.name, 'nrel-5mw');
  assert.equal(report.power.scores.forecasters.model.nmae.length, 24);
  assert.match(text, /model +CRPS \d+\.\d{3} m\/s +coverage [\d.]+ % \/ [\d.]+ %/);
  assert.match(text, /power through nrel-5mw/);

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

  // The same files copied without their mtimes: another fingerprint, the same values (the
  // checkpoint's content digest), so the same report.
  const copied = join(root, 'copied');
  mkdirSync(copied);
  for (const name of readdirSync(data).filter((n) => n.endsWith('.tif'))) {
    copyFileSync(join(data, name), join(copied, name));
    utimesSync(join(copied, name), new Date(2031, 5, 1), new Date(2031, 5, 1));
  }
  await runCli(['-q', 'evaluate', '--model', runDir, '--data', copied, '--out', join(root, 'r3'), '--backend', 'cpu', '--stride', '12', '--full', '--turbine', 'nrel-5mw']);
  const again = JSON.parse(readFileSync(join(root, 'r3', 'report.json'), 'utf8'));
  assert.notEqual(again.data.fingerprint, report.data.fingerprint);
  for (const key of ['headline', 'global', 'bands', 'baselines', 'quantiles', 'power']) assert.deepEqual(again[key], report[key], key);
  assert.ok(again.global && again.power, 'the report has the scores compared');
});
