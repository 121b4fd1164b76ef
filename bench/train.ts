/**
 * Training throughput: end-to-end samples/s of windcast's training loop (window sampling,
 * feature gathering on the batch thread, tensor creation, Adam step; runTraining itself, its
 * second epoch, validation excluded)
 * against the bare model on the same backend (model.fit on random tensors already in memory,
 * and the loop's own train step on them), plus feature gathering alone.
 *
 *   npm run build && node dist/bench/train.js [--backend tensorflow] [--data DIR] [--step 1]
 *       [--hours 720] [--samples 200000] [--batch 4096] [--lstm fast|layers] [--json FILE]
 *
 * Without --data the cube is generated in memory (a global grid at --step degrees with moving
 * weather-like patterns); with --data the folder is read as `windcast train` would.
 * Targets (issue 4): end-to-end >= 80 % of the bare model on native TensorFlow.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadBackend, type Tf } from '../src/runtime/backend.js';
import { BatchBuffers, fillBatch } from '../src/prepare/batches.js';
import { schemaDefaults } from '../src/core/config.js';
import type { Cube } from '../src/ingest/cube.js';
import { HOUR_MS } from '../src/core/time.js';
import { featureContext, featureSpec } from '../src/prepare/features.js';
import { era5Grid } from '../src/core/grid.js';
import { createModel, trainStep, trainableVariables } from '../src/model/model.js';
import { computeStats } from '../src/prepare/normalize.js';
import { silentProgress } from '../src/core/progress.js';
import { splitHours } from '../src/prepare/split.js';
import { runTraining } from '../src/train/train.js';
import { periodAnchors, sampleWindows } from '../src/prepare/windows.js';

const { values: opts } = parseArgs({
  options: {
    backend: { type: 'string', default: 'auto' },
    data: { type: 'string' },
    step: { type: 'string', default: '1' },
    hours: { type: 'string', default: '720' },
    samples: { type: 'string', default: '200000' },
    batch: { type: 'string', default: '4096' },
    json: { type: 'string' },
    lstm: { type: 'string', default: 'fast' },
  },
});

function generatedCube(step: number, hours: number): Cube {
  const grid = era5Grid({ step });
  const cells = grid.width * grid.height;
  const speed = new Float32Array(hours * cells);
  for (let t = 0; t < hours; t++) {
    for (let r = 0; r < grid.height; r++) {
      const lat = ((grid.lat0 - r * step) * Math.PI) / 180;
      for (let c = 0; c < grid.width; c++) {
        const x = ((c * step) * Math.PI) / 180 - 0.05 * t;
        speed[t * cells + r * grid.width + c] = Math.abs(6 * Math.cos(lat) + 4 * Math.sin(3 * x) * Math.cos(2 * lat)) + 1;
      }
    }
  }
  const times = Float64Array.from({ length: hours }, (_, t) => Date.UTC(2024, 0, 1) + t * HOUR_MS);
  return { grid, times, speed, source: { files: [], fingerprint: `bench-${step}-${hours}` } };
}

async function loadData(dir: string): Promise<Cube> {
  const { buildCatalog } = await import('../src/ingest/catalog.js');
  const { buildCube } = await import('../src/ingest/cube.js');
  const config = schemaDefaults();
  const catalog = await buildCatalog(dir, { glob: config.ingest.glob, timePattern: config.ingest.timePattern });
  return buildCube(catalog, { cacheEncoding: config.ingest.cacheEncoding, cache: config.ingest.cache, workers: config.ingest.workers }, silentProgress);
}

function rate(samples: number, ms: number): number {
  return Math.round((samples * 1000) / ms);
}

async function main(): Promise<void> {
  const { tf, info } = await loadBackend(opts.backend as 'auto', (l) => console.log(l));
  const B = Number(opts.batch);
  const samples = Number(opts.samples);
  const cube = opts.data ? await loadData(opts.data) : generatedCube(Number(opts.step), Number(opts.hours));
  const config = schemaDefaults();
  config.model.lstm = opts.lstm === 'layers' ? 'layers' : 'fast';
  const split = splitHours({ hours: cube.times.length, lookback: 24, horizon: 24, fractions: config.train.split });
  const stats = computeStats(cube, split.train, 'cell');
  const spec = featureSpec({ lookback: 24, horizon: 24, ringsDeg: config.model.ringsDeg, uv: false, dayOfYear: false, predictDelta: true, normalization: 'cell' });
  const ctx = featureContext(cube, spec, stats, { cellMajor: true });
  const modelSpec = { lookback: 24, nFeatures: spec.nFeatures, horizon: 24, units: config.model.units, layers: config.model.layers, dropout: 0, linearSkip: true, seed: 1, lstm: config.model.lstm };

  // Feature gathering alone (the CPU work the loop adds to the model's).
  const sample = sampleWindows({ grid: cube.grid, anchors: periodAnchors(split, split.train), count: samples, seed: 1 });
  const buf = new BatchBuffers(B, 24, spec.nFeatures, 24);
  let t = performance.now();
  for (let s = 0; s + B <= samples; s += B) fillBatch(ctx, sample, s, B, buf);
  const gatherRate = rate(Math.floor(samples / B) * B, performance.now() - t);

  // Bare model: model.fit on random tensors in memory.
  const steps = Math.max(3, Math.floor(samples / B / 2));
  const model = createModel(tf, modelSpec);
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'meanSquaredError' });
  const X = tf.randomNormal([B * steps, 24, spec.nFeatures]);
  const Y = tf.randomNormal([B * steps, 24]);
  await model.fit(X.slice(0, B * 2), Y.slice(0, B * 2), { batchSize: B, epochs: 1, verbose: 0 });
  t = performance.now();
  await model.fit(X, Y, { batchSize: B, epochs: 1, verbose: 0 });
  const fitRate = rate(B * steps, performance.now() - t);

  // Bare model through the loop's own step (custom weighted loss, minimize) on fixed tensors.
  const opt = tf.train.adam(1e-3);
  const vars = trainableVariables(model);
  const xs = X.slice(0, B);
  const ys = Y.slice(0, B);
  const ws = tf.ones([B]);
  for (let i = 0; i < 2; i++) trainStep(tf, model, opt, { xs, ys, ws, wSum: B }, vars).dispose();
  t = performance.now();
  for (let i = 0; i < steps; i++) {
    const c = trainStep(tf, model, opt, { xs, ys, ws, wSum: B }, vars);
    await c.data();
    c.dispose();
  }
  const stepRate = rate(B * steps, performance.now() - t);
  tf.dispose([X, Y, xs, ys, ws]);
  model.dispose();
  opt.dispose();

  // End to end: runTraining, two epochs of `samples` windows (samples/s excludes validation).
  // The second is the steady state; the first also carries the start-up (batch thread,
  // first kernel runs, buffer pool), reported beside it.
  const runDir = join(mkdtempSync(join(tmpdir(), 'windcast-bench-train-')), 'run');
  config.train.epochs = 2;
  config.train.samplesPerEpoch = samples;
  config.train.batchSize = B;
  config.train.validationSamples = 2048;
  const out = await runTraining({ tf, backend: info, cube, dataDir: opts.data ?? 'generated', runDir, run: 'bench', config, progress: silentProgress, log: () => {} });
  rmSync(join(runDir, '..'), { recursive: true, force: true });
  const firstEpoch = Math.round(out.history[0]!.samplesPerSecond);
  const endToEnd = Math.round(out.history[out.history.length - 1]!.samplesPerSecond);
  const result = {
    backend: info.name,
    threads: info.threads,
    grid: `${cube.grid.width}x${cube.grid.height}`,
    hours: cube.times.length,
    batch: B,
    samples,
    featureGatherSamplesPerSec: gatherRate,
    bareFitSamplesPerSec: fitRate,
    bareStepSamplesPerSec: stepRate,
    endToEndSamplesPerSec: endToEnd,
    endToEndFirstEpochSamplesPerSec: firstEpoch,
    endToEndVsBareFit: +(endToEnd / fitRate).toFixed(3),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
  console.log(
    [
      `backend ${result.backend} (${result.threads} threads), ${config.model.lstm} LSTM, grid ${result.grid} x ${result.hours} h, batch ${B}`,
      `  feature gathering     ${gatherRate} samples/s`,
      `  bare model.fit        ${fitRate} samples/s`,
      `  bare loop step        ${stepRate} samples/s`,
      `  end to end (train)    ${endToEnd} samples/s = ${(result.endToEndVsBareFit * 100).toFixed(0)} % of bare model.fit (second epoch; the first, with start-up: ${firstEpoch} = ${((firstEpoch / fitRate) * 100).toFixed(0)} %)`,
      `  peak memory           ${result.peakRssMiB} MiB`,
    ].join('\n'),
  );
  if (opts.json) writeFileSync(opts.json, JSON.stringify(result, null, 2) + '\n');
}

await main();
export type { Tf };
