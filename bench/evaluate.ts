/**
 * Evaluation benchmark.
 *
 *   node dist/bench/evaluate.js                      # scoring machinery on an in-memory global cube
 *   node dist/bench/evaluate.js --model models/NAME/best --data DIR [--backend tensorflow]
 *                                                   # the real `windcast evaluate`, timed end to end
 *
 * Part 1 builds a 720-hour cube on the global 0.25 degree grid in memory (weather-like drifting
 * patterns, 2.99 GB) and times each stage of the default evaluation without a model: the cell
 * sample, the climatology, same-input ridge (default features and normalisation, the default
 * train.linearFitWindows and validationSamples) and speed-only ridge fits on the training
 * period, then per test window the truth, the five baselines and the scoring of six forecasts
 * (a persistence copy stands in for the model), and the bootstrap of the skill intervals. Part 2, when a checkpoint and its data are given, runs the command itself (default
 * stride and cell sample) and reports wall time, where it went, and peak RSS.
 * Target (issue 6): the default evaluation of the default synthetic run within 5 minutes on
 * 2 cores with the native backend.
 */
import { mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BASELINE_NAMES, fitLinearBaseline, forecastBaselines, persistenceForecast, truthWindow } from '../src/evaluate/baselines.js';
import { fitClimatology } from '../src/evaluate/climatology.js';
import { bootstrapSkill, blockWindowsFor } from '../src/evaluate/bootstrap.js';
import { featureContext, featureSpec } from '../src/prepare/features.js';
import { computeStats } from '../src/prepare/normalize.js';
import { fitPeriodRidge } from '../src/prepare/ridge.js';
import type { Cube } from '../src/ingest/cube.js';
import { HOUR_MS } from '../src/core/time.js';
import { era5Grid, rowLat, colLon } from '../src/core/grid.js';
import { ScoreAccumulator } from '../src/evaluate/metrics.js';
import { LATITUDE_BANDS, sampleCells } from '../src/evaluate/regions.js';
import { schemaDefaults } from '../src/core/config.js';
import { splitHours } from '../src/prepare/split.js';
import { testAnchors } from '../src/evaluate/evaluate.js';

function seconds(t0: number): number {
  return (performance.now() - t0) / 1000;
}

function rssMiB(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

/** A global 0.25 degree cube with drifting waves and a diurnal cycle: cheap, not trivial. */
function globalCube(hours: number): Cube {
  const grid = era5Grid();
  const n = grid.width * grid.height;
  const speed = new Float32Array(hours * n);
  const times = Float64Array.from({ length: hours }, (_, t) => Date.UTC(2024, 0, 1) + t * HOUR_MS);
  const sinLon = new Float32Array(grid.width);
  const cosLon = new Float32Array(grid.width);
  for (let c = 0; c < grid.width; c++) {
    sinLon[c] = Math.sin((3 * colLon(grid, c) * Math.PI) / 180);
    cosLon[c] = Math.cos((3 * colLon(grid, c) * Math.PI) / 180);
  }
  for (let t = 0; t < hours; t++) {
    const phase = 0.05 * t;
    const sp = Math.sin(phase);
    const cp = Math.cos(phase);
    const diurnal = Math.sin((2 * Math.PI * (t % 24)) / 24);
    for (let r = 0; r < grid.height; r++) {
      const lat = (rowLat(grid, r) * Math.PI) / 180;
      const base = 6 + 4 * Math.cos(2 * lat);
      const amp = 3 * Math.cos(lat) + 1;
      const o = t * n + r * grid.width;
      for (let c = 0; c < grid.width; c++) {
        // sin(3 lon - phase) via the angle difference: no trig in the inner loop.
        speed[o + c] = base + amp * (sinLon[c]! * cp - cosLon[c]! * sp) + 0.8 * diurnal;
      }
    }
  }
  return { grid, times, speed, source: { files: [], fingerprint: 'bench' } };
}

function partOne(): void {
  const defaults = schemaDefaults();
  const hours = defaults.synth.hours;
  let t = performance.now();
  const cube = globalCube(hours);
  console.log(`cube: ${hours} h x ${cube.grid.width}x${cube.grid.height} (${(cube.speed.byteLength / 2 ** 30).toFixed(2)} GiB) built in ${seconds(t).toFixed(1)} s`);
  const split = splitHours({ hours, lookback: defaults.model.lookback, horizon: defaults.model.horizon, fractions: defaults.train.split });
  const H = split.horizon;
  const anchors = testAnchors({ split }, defaults.evaluate.stride, defaults.evaluate.linearLookback);
  t = performance.now();
  const sample = sampleCells(cube.grid, defaults.evaluate.cellStride);
  console.log(`cell sample: every ${defaults.evaluate.cellStride}th row/column = ${sample.cells.length} cells (${seconds(t).toFixed(3)} s); ${anchors.length} test windows every ${defaults.evaluate.stride} h`);
  t = performance.now();
  const climatology = fitClimatology(cube, { hours: [split.train.startHour, split.train.endHour], cells: sample.cells, forHours: [split.test.startHour, split.test.endHour] });
  const climS = seconds(t);
  t = performance.now();
  const m = defaults.model;
  const spec = featureSpec({ lookback: split.lookback, horizon: H, ringsDeg: m.ringsDeg, uv: false, dayOfYear: false, predictDelta: m.predictDelta, normalization: m.normalization });
  const ctx = featureContext(cube, spec, computeStats(cube, split.train, m.normalization));
  const ridge = fitPeriodRidge(ctx, { split, windows: defaults.train.linearFitWindows, validationWindows: defaults.train.validationSamples, seed: defaults.train.seed });
  const ridgeS = seconds(t);
  console.log(`fit: same-input ridge ${ridgeS.toFixed(2)} s (${ridge.inputs} inputs, ${ridge.windows} training windows, ${defaults.train.validationSamples} validation windows, penalty ${ridge.lambda})`);
  t = performance.now();
  const linear = fitLinearBaseline(cube, {
    hours: [split.train.startHour, split.train.endHour],
    lookback: defaults.evaluate.linearLookback,
    horizon: H,
    lambda: defaults.evaluate.ridgeLambda,
    sampleCells: defaults.evaluate.linearSampleCells,
  });
  const linS = seconds(t);
  console.log(`fit: climatology ${climS.toFixed(2)} s; speed-only ridge ${linS.toFixed(2)} s (${linear.samples} samples, ${((linear.samples / linS) / 1e3).toFixed(0)}k samples/s)`);

  const size = sample.cells.length * H;
  const truth = new Float32Array(size);
  const model = new Float32Array(size);
  const outs = BASELINE_NAMES.map(() => new Float32Array(size));
  const acc = new ScoreAccumulator({ names: ['model', ...BASELINE_NAMES], horizon: H, groupNames: LATITUDE_BANDS.map((b) => b.name) });
  const set = { climatology, linear: { ridge, ctx }, linearSpeed: linear };
  let baseS = 0;
  let scoreS = 0;
  for (const t0 of anchors) {
    t = performance.now();
    truthWindow(cube, { t0, cells: sample.cells, horizon: H, out: truth });
    persistenceForecast(cube, { t0, cells: sample.cells, horizon: H, out: model });
    forecastBaselines(set, cube, { t0, cells: sample.cells, horizon: H, outs });
    baseS += seconds(t);
    t = performance.now();
    acc.add(truth, [model, ...outs], sample.weights, sample.bands);
    scoreS += seconds(t);
  }
  const r = acc.result();
  t = performance.now();
  const e = defaults.evaluate;
  bootstrapSkill({ stats: acc.windowStats(), model: 'model', baselines: BASELINE_NAMES, blockWindows: blockWindowsFor(e.bootstrapBlockHours, e.stride), resamples: e.bootstrapResamples, seed: e.bootstrapSeed });
  const bootS = seconds(t);
  const values = anchors.length * size;
  const F = BASELINE_NAMES.length + 1;
  console.log(
    `per window: baselines + truth ${((baseS / anchors.length) * 1000).toFixed(0)} ms, scoring ${F} forecasts ${((scoreS / anchors.length) * 1000).toFixed(0)} ms ` +
      `(${((values * F) / scoreS / 1e6).toFixed(0)}M forecast values/s); bootstrap ${bootS.toFixed(2)} s`,
  );
  console.log(`model-free evaluation total: ${(climS + ridgeS + linS + baseS + scoreS + bootS).toFixed(1)} s for ${anchors.length} windows; peak RSS ${rssMiB()} MiB`);
  const f = (name: string) => r.global.forecasters[name]!.mean.rmse.toFixed(3);
  // The analytic cube is sinusoids in time, which a linear autoregression fits almost exactly:
  // linear near 0 is expected here, the others are sanity checks of the scoring.
  console.log(`sanity (mean RMSE, m/s; analytic cube, so the ridges are near 0): persistence ${f('persistence')}, yesterday ${f('yesterday')}, climatology ${f('climatology')}, linear ${f('linear')}, linear-speed ${f('linear-speed')}`);
}

async function partTwo(model: string, data: string, backend: string | undefined): Promise<void> {
  const { evaluate, formatEvaluateResult } = await import('../src/commands/evaluate.js');
  const { streamProgress } = await import('../src/core/progress.js');
  const config = schemaDefaults();
  if (backend) config.runtime.backend = backend as typeof config.runtime.backend;
  const out = mkdtempSync(join(tmpdir(), 'windcast-bench-eval-'));
  const t = performance.now();
  const cpu0 = process.cpuUsage();
  const result = await evaluate({ model, data, out }, { config, progress: streamProgress(process.stderr), verbose: false });
  const total = seconds(t);
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  console.log(formatEvaluateResult(result));
  const run = result.report.run;
  console.log(
    `evaluate: ${total.toFixed(1)} s wall on ${availableParallelism()} cores (${run.backend}); model forecasts ${run.forecastSeconds.toFixed(1)} s ` +
      `(${((result.report.cellSample.cells * result.report.testPeriod.windows) / run.forecastSeconds / 1e3).toFixed(1)}k cell-windows/s), ` +
      `baselines ${run.baselineSeconds.toFixed(1)} s, loading and the rest ${(total - run.forecastSeconds - run.baselineSeconds).toFixed(1)} s; peak RSS ${rssMiB()} MiB; target <= 300 s: ${total <= 300 ? 'met' : 'NOT met'}`,
  );
  // On a shared machine wall time includes waiting for the CPU; CPU time (all threads) does not.
  console.log(`cpu: ${cpuSeconds.toFixed(1)} s user+system over all threads (${(cpuSeconds / total).toFixed(2)} cores busy on average); load average now ${(await import('node:os')).loadavg()[0]!.toFixed(1)}`);
}

const { values } = parseArgs({ options: { model: { type: 'string' }, data: { type: 'string' }, backend: { type: 'string' }, 'skip-synthetic': { type: 'boolean' } } });
if (!values['skip-synthetic']) partOne();
if (values.model && values.data) await partTwo(values.model, values.data, values.backend);
