/**
 * `windcast evaluate` end to end against a hand computation. A tiny global cube is written as
 * real GeoTIFFs, a run is trained through the CLI for one short epoch (that gives a real
 * checkpoint: meta.json, split, normalisation), then its model is replaced by one with known
 * weights that is not persistence: the head at zero and the linear path set to
 *
 *   forecast(t0 + j) = v(t0) + k_j * (v(t0) - v(t0 - 1)),   k_j = 0.25 * j,
 *
 * a trend extrapolation. The cell's mean and deviation cancel out of it (the model reads
 * (v - mean) / std and predicts the change from v(t0) in units of std), so this test can
 * compute every forecast from the file values alone. RMSE per lead of the model, persistence
 * and climatology are then recomputed here with WeatherBench 2 area weights (a row weighs
 * sin(upper edge) - sin(lower edge), edges half a row from the centre, clipped at +-90,
 * normalised to mean 1): per window the weighted spatial mean of the squared error, then the
 * square root of its mean over windows; and compared with report.json. The two ridges are
 * fitted here independently (prepare/ridge.ts on the checkpoint's features and statistics with
 * its stored training settings; the speed-only ridge of baselines.ts) and rescored the same way.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadBackend } from '../src/runtime/backend.js';
import { loadCheckpoint, writeCheckpoint } from '../src/model/checkpoint.js';
import { setLinearPath } from '../src/model/model.js';
import type { Cube } from '../src/ingest/cube.js';
import { featureContext } from '../src/prepare/features.js';
import { fitPeriodRidge, ridgeForecast } from '../src/prepare/ridge.js';
import { fitLinearBaseline, linearForecast } from '../src/evaluate/baselines.js';
import { schemaDefaults } from '../src/core/config.js';
import { runCli } from '../src/cli.js';
import { latLonFixture, writeFixture } from './ingest-fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'windcast-eval-hand-'));
after(() => rmSync(root, { recursive: true, force: true }));

const HOURS = 160;
const STEP = 30;
const WIDTH = 360 / STEP; // 12 columns, centres 0E..330E
const HEIGHT = 180 / STEP + 1; // 7 rows, centres 90N..90S (the ERA5 layout)
const CELLS = WIDTH * HEIGHT;
const LOOKBACK = 6;
const HORIZON = 6;
const START = Date.UTC(2024, 0, 1);
const DEG = Math.PI / 180;

/** Trend coefficient of lead j (1-based). */
const k = (j: number) => 0.25 * j;

/** The speed at hour t, row r, column c, as stored (Float32); positive, not persistent. */
function speedAt(t: number, r: number, c: number): number {
  return Math.fround(8 + 3 * Math.sin((2 * Math.PI * t) / 23 + 0.7 * c + 0.3 * r) + 2 * Math.cos((2 * Math.PI * t) / 24 + r) + 0.5 * Math.sin(1.3 * t + c * r));
}

/** Speeds [hour][cell], cells row-major north to south. */
const speeds: Float64Array[] = Array.from({ length: HOURS }, (_, t) => {
  const a = new Float64Array(CELLS);
  for (let r = 0; r < HEIGHT; r++) for (let c = 0; c < WIDTH; c++) a[r * WIDTH + c] = speedAt(t, r, c);
  return a;
});

/** Capture what the CLI prints (stdout belongs to the test runner's report). */
async function cli(argv: string[]): Promise<string> {
  const printed: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string) => (printed.push(String(chunk)), true)) as typeof process.stdout.write;
  try {
    await runCli(argv);
  } finally {
    process.stdout.write = write;
  }
  return printed.join('');
}

/** WeatherBench 2 latitude weights of the 7 rows, written out from the definition. */
function rowWeights(): number[] {
  const w = Array.from({ length: HEIGHT }, (_, r) => {
    const lat = 90 - r * STEP;
    const north = Math.min(90, lat + STEP / 2);
    const south = Math.max(-90, lat - STEP / 2);
    return Math.sin(north * DEG) - Math.sin(south * DEG);
  });
  const mean = w.reduce((s, x) => s + x, 0) / HEIGHT;
  return w.map((x) => x / mean);
}

/** RMSE per lead (index j - 1) of forecast(t0, j, cell) over the anchors, area-weighted. */
function rmseByLead(anchors: number[], forecast: (t0: number, j: number, cell: number) => number): number[] {
  const weights = rowWeights();
  return Array.from({ length: HORIZON }, (_, i) => {
    const j = i + 1;
    let timeSum = 0;
    for (const t0 of anchors) {
      let se = 0;
      let w = 0;
      for (let cell = 0; cell < CELLS; cell++) {
        const weight = weights[Math.floor(cell / WIDTH)]!;
        const err = forecast(t0, j, cell) - speeds[t0 + j]![cell]!;
        se += weight * err * err;
        w += weight;
      }
      timeSum += se / w;
    }
    return Math.sqrt(timeSum / anchors.length);
  });
}

test('evaluate scores a known non-persistence model, persistence and climatology as computed by hand', async () => {
  const data = join(root, 'data');
  mkdirSync(data);
  for (let t = 0; t < HOURS; t++) {
    const name = `windspeed_${new Date(START + t * 3_600_000).toISOString().slice(0, 13)}Z.tif`;
    // The ERA5 layout: cell centres on the poles, so the first row's top edge is at 105N.
    writeFixture(join(data, name), latLonFixture(WIDTH, HEIGHT, (r, c) => speeds[t]![r * WIDTH + c]!, { step: STEP, west: -STEP / 2, top: 90 + STEP / 2 }));
  }
  const configFile = join(root, 'config.json');
  writeFileSync(configFile, JSON.stringify({
    ingest: { cache: false, workers: 1 },
    model: { lookback: LOOKBACK, horizon: HORIZON, units: 4, ringsDeg: [STEP], predictDelta: true, normalization: 'cell', linearSkip: true, linearPath: 'low-rank' },
    train: { samplesPerEpoch: 256, validationSamples: 128, batchSize: 128, split: [0.6, 0.2, 0.2], quantileSamples: 256 },
  }));
  const models = join(root, 'models');
  await cli(['-q', '--config', configFile, 'train', '--data', data, '--run', 'hand', '--models-dir', models, '--epochs', '1', '--backend', 'cpu']);

  // The known model: head at zero, linear path = the trend forecast on the speed feature.
  const { tf } = await loadBackend('cpu');
  const runDir = join(models, 'hand');
  const loaded = await loadCheckpoint(tf, runDir, 'best');
  const { meta } = loaded;
  assert.equal(meta.features.names[0], 'speed', 'feature 0 is the centre cell speed');
  assert.equal(meta.features.predictDelta, true);
  assert.deepEqual([meta.model.lookback, meta.model.horizon, meta.grid.width, meta.grid.height], [LOOKBACK, HORIZON, WIDTH, HEIGHT]);
  const coef = Float64Array.from({ length: HORIZON }, (_, i) => k(i + 1));
  setLinearPath(tf, loaded.model, meta.model, {
    channelFeatures: [0],
    terms: [
      { channel: 0, hour: LOOKBACK - 1, coef },
      { channel: 0, hour: LOOKBACK - 2, coef: coef.map((x) => -x) },
    ],
    intercept: new Float64Array(HORIZON),
  }, (values, shape) => tf.tensor(values, shape));
  const head = loaded.model.getLayer('head');
  head.setWeights(head.getWeights().map((w) => tf.zerosLike(w)));
  const { files: _files, kind: _kind, savedAt: _savedAt, ...rest } = meta;
  await writeCheckpoint(tf, runDir, 'best', { model: loaded.model, stats: loaded.stats, meta: rest });
  loaded.model.dispose();

  const out = join(root, 'report');
  await cli(['-q', 'evaluate', '--model', runDir, '--data', data, '--out', out, '--backend', 'cpu', '--stride', '1', '--full']);
  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));

  // The windows: every hour of the test period with the model's lookback and the baselines'
  // 24 hours behind it and the horizon ahead inside the period.
  const { train, test: testPeriod } = meta.split;
  const anchors: number[] = [];
  for (let t0 = Math.max(testPeriod.startHour + LOOKBACK - 1, 23); t0 + HORIZON < testPeriod.endHour; t0++) anchors.push(t0);
  assert.ok(anchors.length >= 10, `${anchors.length} test windows`);
  assert.equal(report.testPeriod.windows, anchors.length);
  assert.equal(report.cellSample.cells, CELLS);

  const persistence = rmseByLead(anchors, (t0, _j, cell) => speeds[t0]![cell]!);
  const model = rmseByLead(anchors, (t0, j, cell) => Math.max(0, speeds[t0]![cell]! + k(j) * (speeds[t0]![cell]! - speeds[t0 - 1]![cell]!)));
  const climatology = rmseByLead(anchors, (t0, j, cell) => {
    // The training-period mean of the cell at the target's UTC hour of day (hour 0 is 00Z).
    let sum = 0;
    let n = 0;
    for (let t = train.startHour; t < train.endHour; t++) {
      if (t % 24 === (t0 + j) % 24) {
        sum += speeds[t]![cell]!;
        n++;
      }
    }
    return sum / n;
  });

  // The ridges, fitted here on the values the files hold.
  const cube: Cube = {
    grid: meta.grid,
    times: Float64Array.from({ length: HOURS }, (_, t) => START + t * 3_600_000),
    speed: Float32Array.from(speeds.flatMap((a) => [...a])),
    source: { files: [], fingerprint: 'hand' },
  };
  const ctx = featureContext(cube, meta.features, loaded.stats);
  const stored = meta.config.train;
  const ridge = fitPeriodRidge(ctx, { split: meta.split, windows: stored.linearFitWindows, validationWindows: stored.validationSamples, seed: stored.seed });
  const defaults = schemaDefaults().evaluate;
  const speedRidge = fitLinearBaseline(cube, { hours: [train.startHour, train.endHour], lookback: defaults.linearLookback, horizon: HORIZON, lambda: defaults.ridgeLambda });
  const all = Int32Array.from({ length: CELLS }, (_, i) => i);
  const memo = new Map<string, Float32Array>();
  const cached = (key: string, make: () => Float32Array) => memo.get(key) ?? memo.set(key, make()).get(key)!;
  const linear = rmseByLead(anchors, (t0, j, cell) => cached(`r${t0}`, () => ridgeForecast(ridge, ctx, t0, all, new Float32Array(CELLS * HORIZON)))[cell * HORIZON + j - 1]!);
  const linearSpeed = rmseByLead(anchors, (t0, j, cell) => cached(`s${t0}`, () => linearForecast(speedRidge, cube, { t0, cells: all }))[cell * HORIZON + j - 1]!);

  const scores = report.global.forecasters;
  const close = (name: string, ours: number[], theirs: number[], tolerance: number) =>
    ours.forEach((x, i) => assert.ok(Math.abs(x - theirs[i]!) <= tolerance, `${name} +${i + 1} h: report ${theirs[i]}, by hand ${x}`));
  // Baselines are float64 arithmetic on the stored values (climatology means kept as Float32).
  close('persistence', persistence, scores.persistence.rmse, 1e-9);
  close('climatology', climatology, scores.climatology.rmse, 1e-6);
  close('linear', linear, scores.linear.rmse, 1e-9);
  close('linear-speed', linearSpeed, scores['linear-speed'].rmse, 1e-9);
  // The model runs in Float32 (normalised inputs, matmuls, m/s outputs).
  close('model', model, scores.model.rmse, 1e-5);
  // Not persistence in disguise: the hand model differs from it at every lead, by far more
  // than the tolerance.
  model.forEach((x, i) => assert.ok(Math.abs(x - persistence[i]!) > 0.05, `+${i + 1} h: model ${x} vs persistence ${persistence[i]}`));
  assert.equal(report.run.tensorsAfter, report.run.tensorsBefore);
});
