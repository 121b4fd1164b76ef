import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadBackend } from '../src/runtime/backend.js';
import { createModel, quantileVariables, trainableVariables, type ModelSpec } from '../src/model/model.js';
import { gaussianStartBias, normalQuantile, setQuantileScale, setQuantileStart, weightedPinballLoss } from '../src/model/quantile-head.js';
import { centralCoverage, chooseWidthScale, CoverageCounts, meanPinball, PinballSums, ValidationHeadInputs, WidthScaleSums } from '../src/train/quantile-fit.js';
import type { ValidationSet } from '../src/train/validation.js';
import type { GridSpec } from '../src/core/grid.js';
import type { Cube } from '../src/ingest/cube.js';
import { ForecastScratch, forecastWindows, loadForecaster } from '../src/forecast/forecast.js';
import { featureContext, featureSpec } from '../src/prepare/features.js';
import { computeStats } from '../src/prepare/normalize.js';
import { loadCheckpoint, readMeta } from '../src/model/checkpoint.js';
import { silentProgress } from '../src/core/progress.js';
import { runTraining } from '../src/train/train.js';
import { makeRng } from '../src/prepare/windows.js';
import { tinyConfig, tinyCube } from './train-fixtures.js';

const { tf, info } = await loadBackend('cpu');
type Tensor = ReturnType<typeof tf.tensor>;

const LEVELS = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95];
const spec = (quantiles?: number[]): ModelSpec => ({ lookback: 6, nFeatures: 3, horizon: 4, units: 5, layers: 1, dropout: 0, linearSkip: false, seed: 3, lstm: 'layers', ...(quantiles ? { quantiles } : {}) });

test('normalQuantile matches the standard normal table', () => {
  assert.ok(Math.abs(normalQuantile(0.975) - 1.959964) < 1e-6);
  assert.ok(Math.abs(normalQuantile(0.05) + 1.644854) < 1e-6);
  assert.ok(Math.abs(normalQuantile(0.9) - 1.281552) < 1e-6);
  assert.equal(normalQuantile(0.5), 0);
});

test('quantiles never cross, whatever the weights, and the point output is the point model\'s', () => {
  const model = createModel(tf, spec(LEVELS));
  const rng = makeRng(5);
  // Scramble every weight, including the head's, with large values of both signs.
  for (const w of model.weights) {
    const v = w.read();
    const values = Float32Array.from({ length: v.size }, () => (rng() - 0.5) * 20);
    w.write(tf.tensor(values, v.shape));
  }
  const xs = tf.tensor3d(Float32Array.from({ length: 50 * 6 * 3 }, () => (rng() - 0.5) * 6), [50, 6, 3]);
  const [point, q] = model.apply(xs) as Tensor[];
  const pv = point!.dataSync();
  const qv = q!.dataSync();
  assert.deepEqual(q!.shape, [50, 4 * LEVELS.length]);
  for (let i = 0; i < 50 * 4; i++) {
    for (let k = 1; k < LEVELS.length; k++) assert.ok(qv[i * 7 + k]! >= qv[i * 7 + k - 1]!, `window-lead ${i}: level ${k} below level ${k - 1}`);
  }
  // The point model alone (same spec without quantiles, same weights) gives the same point forecast.
  const plain = createModel(tf, spec());
  plain.setWeights(model.weights.filter((w) => !w.name.startsWith('quantiles/')).map((w) => w.read()));
  const alone = (plain.apply(xs) as Tensor).dataSync();
  assert.deepEqual(Array.from(alone), Array.from(pv));
  // The point model's trainable variables exclude the head; the head's are its kernel and bias.
  assert.equal(trainableVariables(model).length, trainableVariables(plain).length);
  assert.equal(quantileVariables(model).length, 2);
  tf.dispose([xs, point!, q!]);
  model.dispose();
  plain.dispose();
});

test('the Gaussian start: the head forecasts the point plus sigma times the normal quantiles', () => {
  const model = createModel(tf, spec(LEVELS));
  const sigma = [0.5, 1, 1.5, 2];
  setQuantileStart(tf, model, LEVELS, sigma);
  const xs = tf.randomNormal([3, 6, 3], 0, 1, 'float32', 9) as Tensor;
  const [point, q] = model.apply(xs) as Tensor[];
  const pv = point!.dataSync();
  const qv = q!.dataSync();
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 4; j++) {
      for (let k = 0; k < LEVELS.length; k++) {
        const expected = pv[i * 4 + j]! + sigma[j]! * normalQuantile(LEVELS[k]!);
        assert.ok(Math.abs(qv[(i * 4 + j) * 7 + k]! - expected) < 1e-4, `window ${i} lead ${j} level ${LEVELS[k]}: ${qv[(i * 4 + j) * 7 + k]} vs ${expected}`);
      }
    }
  }
  assert.equal(gaussianStartBias(LEVELS, sigma)[3], 0, 'the central level starts at the point forecast');
  tf.dispose([xs, point!, q!]);
  model.dispose();
});

test('pinball loss against a hand computation', () => {
  // Levels 0.1, 0.5, 0.9; truth 1; quantiles 0, 1, 3:
  // tau 0.1: y - q = 1 -> 0.1 * 1 = 0.1; tau 0.5: 0 -> 0; tau 0.9: y - q = -2 -> (0.9 - 1) * -2 = 0.2; mean 0.1.
  // Second window: truth 4 on the same quantiles: 0.1*4 + 0.5*3 + 0.9*1 = 2.8, mean 0.9333.
  const levels = [0.1, 0.5, 0.9];
  const yPred = tf.tensor2d([0, 1, 3, 0, 1, 3], [2, 3]);
  const yTrue = tf.tensor2d([1, 4], [2, 1]);
  const w = tf.tensor1d([1, 3]);
  const loss = weightedPinballLoss(tf, yPred, yTrue, w, levels).dataSync()[0]!;
  assert.ok(Math.abs(loss - (1 * 0.1 + 3 * (2.8 / 3)) / 4) < 1e-6, String(loss));
  const m = meanPinball(Float32Array.from([0, 1, 3, 0, 1, 3]), Float32Array.from([1, 4]), levels, 1);
  assert.ok(Math.abs(m.overall - (0.1 + 2.8 / 3) / 2) < 1e-6);
  // Weighted by window as the loss is: (1 x 0.1 + 3 x 2.8 / 3) / 4, the tensor loss's value.
  const mw = meanPinball(Float32Array.from([0, 1, 3, 0, 1, 3]), Float32Array.from([1, 4]), levels, 1, Float32Array.from([1, 3]));
  assert.ok(Math.abs(mw.overall - loss) < 1e-6, `${mw.overall} vs ${loss}`);
  tf.dispose([yPred, yTrue, w]);
});

test('the width scale undoes quantiles twice too wide, and coverage counts the truths inside', () => {
  const rng = makeRng(11);
  const n = 4000;
  const levels = [0.1, 0.25, 0.5, 0.75, 0.9];
  const q = new Float32Array(n * levels.length);
  const truth = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    // Truth ~ 10 + N(0, 1) by Box-Muller; the forecast says 10 + 2 N(0, 1).
    truth[i] = 10 + Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
    levels.forEach((l, k) => (q[i * levels.length + k] = 10 + 2 * normalQuantile(l)));
  }
  const [scale] = chooseWidthScale(q, truth, levels, 1);
  assert.ok(scale! >= 0.45 && scale! <= 0.55, `scale ${scale}`);
  const cov = centralCoverage(q, truth, levels);
  assert.deepEqual(cov.map((c) => c.central), [0.8, 0.5]);
  // Twice too wide: the 80 % interval (+-2.56) holds about 99 % of N(0, 1), the 50 % one (+-1.35) about 82 %.
  assert.ok(Math.abs(cov[0]!.observed - 0.99) < 0.01, String(cov[0]!.observed));
  assert.ok(Math.abs(cov[1]!.observed - 0.823) < 0.03, String(cov[1]!.observed));
  // By hand: truths 1, 5, 9 against [2, 8] for the 80 % pair: only 5 is inside.
  const tiny = centralCoverage(Float32Array.from([2, 4, 5, 6, 8, 2, 4, 5, 6, 8, 2, 4, 5, 6, 8]), Float32Array.from([1, 5, 9]), levels);
  assert.equal(tiny[0]!.observed, 1 / 3);
  // Window weights (area weights of a distinct validation sample): 5 counts 2 of 4.
  const weighted = centralCoverage(Float32Array.from([2, 4, 5, 6, 8, 2, 4, 5, 6, 8, 2, 4, 5, 6, 8]), Float32Array.from([1, 5, 9]), levels, Float32Array.from([1, 2, 1]));
  assert.equal(weighted[0]!.observed, 2 / 4);
});

test('validation scored a batch of windows at a time gives the whole array\'s figures exactly', () => {
  // The fit scores validation batch by batch (ValidationHeadInputs.eachBatch) instead of
  // holding every window's quantiles: the sums must be the same, bit for bit.
  const rng = makeRng(5);
  const levels = [0.1, 0.25, 0.5, 0.75, 0.9];
  const H = 3;
  const Q = levels.length;
  const n = 101;
  const truth = Float32Array.from({ length: n * H }, () => 5 + rng() * 4);
  const q = new Float32Array(n * H * Q);
  for (let i = 0; i < n * H; i++) {
    const c = 5 + rng() * 4;
    for (let k = 0; k < Q; k++) q[i * Q + k] = c + (k - 2) * (0.3 + rng());
  }
  truth[7] = NaN; // a missing truth
  q.fill(NaN, 40 * H * Q, 41 * H * Q); // an invalid window
  const pinballs = new PinballSums(levels, H);
  const scales = new WidthScaleSums(levels, H);
  const coverage = new CoverageCounts(levels);
  // Uneven batches, the last one short.
  for (let start = 0; start < n; start += 17) {
    const end = Math.min(n, start + 17);
    const qb = q.subarray(start * H * Q, end * H * Q);
    const tb = truth.subarray(start * H, end * H);
    pinballs.add(qb, tb);
    scales.add(qb, tb);
    coverage.add(qb, tb);
  }
  const whole = meanPinball(q, truth, levels, H);
  assert.ok(Number.isFinite(whole.overall));
  assert.deepEqual(pinballs.result(), whole);
  assert.deepEqual(scales.result(), chooseWidthScale(q, truth, levels, H));
  assert.notDeepEqual(scales.result(), [1, 1, 1], 'the sample is miscalibrated enough to choose scales other than 1');
  assert.deepEqual(coverage.result(), centralCoverage(q, truth, levels));
  // The same with window weights (distinct validation windows' area weights), batch by batch.
  const weight = Float32Array.from({ length: n }, () => 0.5 + rng());
  const wp = new PinballSums(levels, H);
  const ws = new WidthScaleSums(levels, H);
  const wc = new CoverageCounts(levels);
  for (let start = 0; start < n; start += 17) {
    const end = Math.min(n, start + 17);
    const args = [q.subarray(start * H * Q, end * H * Q), truth.subarray(start * H, end * H), weight.subarray(start, end)] as const;
    wp.add(...args);
    ws.add(...args);
    wc.add(...args);
  }
  assert.deepEqual(wp.result(), meanPinball(q, truth, levels, H, weight));
  assert.notDeepEqual(wp.result(), whole, 'the weights change the score');
  assert.deepEqual(ws.result(), chooseWidthScale(q, truth, levels, H, weight));
  assert.deepEqual(wc.result(), centralCoverage(q, truth, levels, weight));
});

test('training fits the head on best/ and leaves the point forecast as a point model of the same seed forecasts it', async () => {
  const cube = tinyCube();
  const runs: Record<string, string> = {};
  for (const name of ['quantile', 'point']) {
    const config = tinyConfig({ epochs: 2 });
    config.train.quantileEpochs = 2;
    if (name === 'point') config.model.quantiles = [];
    const runDir = join(mkdtempSync(join(tmpdir(), `windcast-quantile-${name}-`)), 'run');
    const lines: string[] = [];
    const out = await runTraining({ tf, backend: info, cube, dataDir: 'f', runDir, run: 'run', config, progress: silentProgress, log: (l) => lines.push(l) });
    runs[name] = runDir;
    if (name === 'quantile') {
      assert.ok(out.quantileFit, 'the outcome reports the fit');
      assert.ok(lines.some((l) => /^quantile head: \d+ epochs/.test(l)), lines.join('\n'));
      const meta = readMeta(join(runDir, 'best'));
      assert.deepEqual(meta.model.quantiles, LEVELS);
      assert.equal(meta.training.quantileFit!.widthScale.length, 24);
      assert.ok(meta.training.quantileFit!.calibratedPinball <= meta.training.quantileFit!.fittedPinball + 1e-9);
      assert.equal(readMeta(join(runDir, 'last')).training.quantileFit, undefined, 'last/ keeps the head at its start');
    } else {
      assert.equal(out.quantileFit, undefined);
      assert.equal(readMeta(join(runDir, 'best')).model.quantiles, undefined);
    }
  }
  const q = await loadForecaster(runs.quantile!, tf);
  const p = await loadForecaster(runs.point!, tf);
  try {
    assert.deepEqual(q.quantileLevels, LEVELS);
    assert.deepEqual(p.quantileLevels, []);
    const cells = Int32Array.from({ length: cube.grid.width * cube.grid.height }, (_, i) => i);
    const t0 = cube.times.length - 30;
    const quantiles = new Float32Array(cells.length * 24 * LEVELS.length);
    const before = tf.memory().numTensors;
    const pointQ = q.forecast(cube, t0, cells, undefined, quantiles);
    assert.equal(tf.memory().numTensors, before, 'no tensors leak from a quantile forecast');
    const pointP = p.forecast(cube, t0, cells);
    assert.deepEqual(Array.from(pointQ), Array.from(pointP), 'the point forecast does not depend on the head');
    for (let i = 0; i < cells.length * 24; i++) {
      for (let k = 1; k < LEVELS.length; k++) assert.ok(quantiles[i * 7 + k]! >= quantiles[i * 7 + k - 1]!);
      assert.ok(quantiles[i * 7]! < quantiles[i * 7 + 6]!, 'the 90 % interval has width');
    }
    assert.throws(() => p.forecast(cube, t0, cells, undefined, new Float32Array(cells.length * 24 * 7)), /point model/);
  } finally {
    q.dispose();
    p.dispose();
  }
  // best/ with the fitted head loads as a model, and resuming the run still works from last/.
  const loaded = await loadCheckpoint(tf, runs.quantile!, 'best');
  loaded.model.dispose();
});

test('an abort during the head fit leaves best/ with its unfitted head, and --resume then fits it', async () => {
  const cube = tinyCube();
  const config = tinyConfig({ epochs: 1 });
  config.train.quantileEpochs = 3;
  const runDir = join(mkdtempSync(join(tmpdir(), 'windcast-quantile-abort-')), 'run');
  const controller = new AbortController();
  const lines: string[] = [];
  const log = (l: string) => {
    lines.push(l);
    if (l.startsWith('quantile epoch 1/')) controller.abort();
  };
  const out = await runTraining({ tf, backend: info, cube, dataDir: 'f', runDir, run: 'run', config, progress: silentProgress, log, signal: controller.signal });
  assert.equal(out.quantileFit, undefined);
  assert.ok(lines.some((l) => /fit interrupted; best\/ keeps its unfitted head/.test(l)), lines.join('\n'));
  assert.equal(readMeta(join(runDir, 'best')).training.quantileFit, undefined);
  const resumed = await runTraining({ tf, backend: info, cube, dataDir: 'f', runDir, run: 'run', config, progress: silentProgress, log: () => {}, resume: true });
  assert.ok(resumed.quantileFit, 'the resumed run fits the head');
  assert.ok(readMeta(join(runDir, 'best')).training.quantileFit);
});

test('the head fit scores validation on cached LSTM states: the same quantiles, bit for bit, as the forecast path, at any width scale', () => {
  const grid: GridSpec = { width: 3, height: 2, lon0: 10, lat0: 50, dLon: 1, dLat: 1, pixelIsPoint: false, sourceSouthUp: false, epsg: 4326 };
  const hours = 120;
  const rng = makeRng(11);
  const speed = Float32Array.from({ length: hours * 6 }, (_, i) => 6 + Math.sin(i / 17) * 3 + rng() * 2);
  speed[70 * 6 + 4] = NaN; // one gap: the windows that read it are invalid (NaN quantiles)
  const cube: Cube = { grid, times: Float64Array.from({ length: hours }, (_, t) => t * 3_600_000), speed, source: { files: [], fingerprint: 'head-cache' } };
  const fspec = featureSpec({ lookback: 6, horizon: 4, ringsDeg: [1], uv: false, dayOfYear: false, predictDelta: true, normalization: 'cell', position: false });
  const ctx = featureContext(cube, fspec, computeStats(cube, { startHour: 0, endHour: 80 }, 'cell'));
  const model = createModel(tf, { lookback: 6, nFeatures: fspec.nFeatures, horizon: 4, units: 5, layers: 1, dropout: 0, linearSkip: true, seed: 3, lstm: 'layers', quantiles: LEVELS });
  for (const w of model.weights) {
    const v = w.read();
    w.write(tf.tensor(Float32Array.from({ length: v.size }, () => (rng() - 0.5) * 0.6), v.shape));
  }
  const t0 = Int32Array.from({ length: 60 }, (_, i) => 60 + (i % 30));
  const cell = Int32Array.from({ length: 60 }, (_, i) => i % 6);
  // A batch of 7 windows: several batches and a short last one.
  const validation = { sample: { t0, cell }, truth: new Float32Array(60 * 4), pred: new Float32Array(60 * 4), scratch: new ForecastScratch(7, fspec) } as unknown as ValidationSet;
  const cached = ValidationHeadInputs.compute(tf, model, ctx, validation);
  try {
    for (const scale of [1, 0.7, 1.6]) {
      setQuantileScale(tf, model, [scale, scale, scale, scale]);
      const viaForecast = new Float32Array(60 * 4 * LEVELS.length);
      forecastWindows(tf, { model, ctx, t0, cells: cell, batch: 7, out: new Float32Array(60 * 4), quantiles: viaForecast });
      const viaCache = cached.quantiles(tf, model, ctx, validation, LEVELS.length);
      // Batch by batch, in window order, each with its windows' truth.
      const starts: number[] = [];
      cached.eachBatch(tf, model, ctx, validation, LEVELS.length, (q, truth, start) => {
        starts.push(start);
        assert.equal(truth.length * LEVELS.length, q.length);
        assert.equal(truth.byteOffset, validation.truth.byteOffset + start * 4 * 4);
        assert.deepEqual(Array.from(q), Array.from(viaForecast.subarray(start * 4 * LEVELS.length, start * 4 * LEVELS.length + q.length)));
      });
      assert.deepEqual(starts, [0, 7, 14, 21, 28, 35, 42, 49, 56]);
      assert.ok(viaForecast.some((x) => Number.isNaN(x)) && viaForecast.some((x) => Number.isFinite(x)), 'the sample has valid and invalid windows');
      assert.deepEqual(Array.from(viaCache), Array.from(viaForecast), `width scale ${scale}`);
    }
  } finally {
    cached.dispose(tf);
    model.dispose();
  }
});

test('batch by batch (onBatch), a quantile model hands on its quantiles only when withQuantiles asks, and the same point forecasts either way', async () => {
  const grid: GridSpec = { width: 3, height: 2, lon0: 10, lat0: 50, dLon: 1, dLat: 1, pixelIsPoint: false, sourceSouthUp: false, epsg: 4326 };
  const hours = 60;
  const rng = makeRng(5);
  const speed = Float32Array.from({ length: hours * 6 }, (_, i) => 6 + Math.sin(i / 11) * 3 + rng());
  const cube: Cube = { grid, times: Float64Array.from({ length: hours }, (_, t) => t * 3_600_000), speed, source: { files: [], fingerprint: 'onbatch' } };
  const fspec = featureSpec({ lookback: 6, horizon: 4, ringsDeg: [1], uv: false, dayOfYear: false, predictDelta: true, normalization: 'cell', position: false });
  const ctx = featureContext(cube, fspec, computeStats(cube, { startHour: 0, endHour: 40 }, 'cell'));
  const model = createModel(tf, { lookback: 6, nFeatures: fspec.nFeatures, horizon: 4, units: 5, layers: 1, dropout: 0, linearSkip: true, seed: 4, lstm: 'layers', quantiles: LEVELS });
  try {
    const cells = Int32Array.from({ length: 6 }, (_, i) => i);
    const run = async (withQuantiles: boolean) => {
      const point: number[] = [];
      const quantiles: number[] = [];
      let batches = 0;
      let lent = 0;
      await forecastWindows(tf, {
        model, ctx, t0: 50, cells, batch: 4, withQuantiles,
        onBatch: (_start, count, values, q) => {
          batches++;
          point.push(...values.subarray(0, count * 4));
          if (q) {
            lent++;
            quantiles.push(...q.subarray(0, count * 4 * LEVELS.length));
          }
        },
      });
      return { point, quantiles, batches, lent };
    };
    const without = await run(false);
    const withQ = await run(true);
    assert.equal(without.batches, 2);
    assert.equal(without.lent, 0, 'no quantiles computed or handed on');
    assert.equal(withQ.lent, 2);
    assert.equal(withQ.quantiles.length, 6 * 4 * LEVELS.length);
    assert.deepEqual(without.point, withQ.point);
    assert.ok(without.point.every(Number.isFinite));
  } finally {
    model.dispose();
  }
});
