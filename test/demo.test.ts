/**
 * The demo end to end, in-process, on a coarse grid with a tiny training budget: every
 * artifact it promises exists and is valid (GDAL checks the forecast where installed).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { demo, formatDemoResult, reducedBudget, synthSetMatches } from '../src/commands/demo.js';
import { schemaDefaults, type Config } from '../src/core/config.js';
import { readRaster } from '../src/ingest/raster.js';
import { silentProgress } from '../src/core/progress.js';
import { withGdal } from './ingest-fixtures.js';
import { train } from '../src/commands/train.js';
import { testContext } from '../src/commands/context.js';
import { ConfigError } from '../src/core/errors.js';
import { tinyConfig as tinyTrainConfig, tinyCube } from './train-fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'windcast-demo-'));
after(() => rmSync(root, { recursive: true, force: true }));


function tinyConfig(): Config {
  const c = schemaDefaults();
  return {
    ...c,
    synth: { ...c.synth, step: 5 },
    train: { ...c.train, epochs: 1, samplesPerEpoch: 2048, validationSamples: 1024, batchSize: 512, quantileSamples: 2048 },
    evaluate: { ...c.evaluate, stride: 24, cellStride: 2 },
  };
}

test('demo writes data, checkpoint, report, chart, forecasts, maps and sites, and reuses data the second time', async (t) => {
  const config = tinyConfig();
  const ctx = { config, progress: silentProgress, verbose: false };
  const data = join(root, 'data');
  const modelsDir = join(root, 'models');
  const first = await demo({ data, modelsDir, run: 'tiny' }, ctx);

  assert.equal(first.dataReused, false);
  assert.equal(readdirSync(data).filter((f) => f.endsWith('.tif')).length, 720);
  assert.ok(synthSetMatches(data, config), 'the synth manifest describes the set');
  // A 5 degree grid is a quick look (and off native TensorFlow a slow one): the demo says it cut the budget.
  assert.match(first.reducedBudget ?? '', first.backend.includes('tensorflow') ? /coarse grid \(--step 5\)/ : /native TensorFlow is not active/);

  const runDir = join(modelsDir, 'tiny');
  const meta = JSON.parse(readFileSync(join(runDir, 'best', 'meta.json'), 'utf8'));
  assert.equal(meta.grid.width, 72);
  assert.ok(existsSync(first.evaluate.files.json) && existsSync(first.evaluate.files.markdown));
  const report = JSON.parse(readFileSync(first.evaluate.files.json, 'utf8'));
  assert.ok(Number.isFinite(report.global.forecasters.model.mean.rmse));
  assert.deepEqual(readFileSync(first.evaluate.files.chart).subarray(1, 4).toString(), 'PNG');

  assert.equal(first.predict.leads.length, 24);
  for (const lead of first.predict.leads) assert.ok(lead.file && existsSync(lead.file), `lead ${lead.lead} written`);
  const raster = await readRaster(first.predict.leads[0]!.file!);
  assert.equal(raster.grid.width, 72);
  assert.ok(raster.bands[0]!.every((v) => Number.isFinite(v) && v >= 0 && v < 80), 'speeds are finite and plausible');
  assert.ok(first.predict.png && existsSync(first.predict.png));
  assert.ok(first.predict.csv && existsSync(first.predict.csv));
  const csv = readFileSync(first.predict.csv, 'utf8').trim().split('\n');
  assert.equal(csv.length, 1 + 24 * 5, 'a header and 24 leads for each of the 5 demo sites');

  await withGdal(t, "the first lead's GeoTIFF", () => {
    const info = JSON.parse(execFileSync('gdalinfo', ['-json', first.predict.leads[0]!.file!], { encoding: 'utf8' }));
    assert.deepEqual(info.size, [72, 37]);
    assert.equal(info.bands[0].type, 'Float32');
    assert.deepEqual(info.geoTransform, [-2.5, 5, 0, 92.5, 0, -5]);
  });

  const summary = formatDemoResult(first);
  for (const path of [join(runDir, 'best'), first.evaluate.files.markdown, first.predict.out]) assert.ok(summary.includes(path), `summary names ${path}`);
  assert.match(summary, /skill/);

  const second = await demo({ data, modelsDir, run: 'tiny' }, ctx);
  assert.equal(second.dataReused, true);
});

test('a demo into an existing run on data that fails validation leaves that run as it was', async () => {
  const modelsDir = join(root, 'models-keep');
  const runDir = join(modelsDir, 'keep');
  await train({ data: 'fixture', run: 'keep', modelsDir, cube: tinyCube() }, testContext(tinyTrainConfig()));
  const snapshot = () => readdirSync(runDir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => `${join(e.parentPath, e.name)} ${createHash('sha256').update(readFileSync(join(e.parentPath, e.name))).digest('hex')}`)
    .sort();
  const before = snapshot();
  assert.ok(before.some((l) => l.includes('best/meta.json')) && before.some((l) => l.includes('train-log.jsonl')));
  // 72 hours split 0.7/0.1/0.2 leave 8 validation hours, less than one 48-hour window.
  const config = tinyConfig();
  const short = { ...config, synth: { ...config.synth, hours: 72 } };
  await assert.rejects(
    demo({ data: join(root, 'data-72'), modelsDir, run: 'keep' }, { config: short, progress: silentProgress, verbose: false }),
    (err: unknown) => err instanceof ConfigError && /the validation period has 8 hours/.test(err.message),
  );
  assert.deepEqual(snapshot(), before, 'the demo passes --force: best/, last/ and the log survive the refused data');
});

test('the reduced budget is smaller than the default and says so', () => {
  const c = schemaDefaults();
  const { config, note } = reducedBudget(c);
  assert.ok(config.train.epochs * config.train.samplesPerEpoch < c.train.epochs * c.train.samplesPerEpoch);
  assert.match(note, /npm run setup:native/);
  assert.match(reducedBudget(c, 'coarse-grid').note, /quick look/);
});
