/**
 * `windcast evaluate`: score a checkpoint on its own test period, hours it never saw, beside
 * persistence, same hour yesterday, climatology and a ridge linear baseline.
 *
 * Everything about the periods comes from the checkpoint's meta.json (never from the current
 * flags): the split, the horizon, the grid and the fingerprint of the data it was trained on.
 * Data that differs from that is refused with a DataError rather than scored on hours that
 * may overlap the training period. Baselines are fitted on the checkpoint's training period
 * only. Every forecaster is scored on the same windows and cells (see metrics.ts).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Tf } from '../runtime/backend.js';
import { BASELINE_NAMES, fitClimatology, fitLinearBaseline, forecastBaselines, truthWindow } from '../evaluate/baselines.js';
import { rmseChart } from '../evaluate/chart.js';
import type { CheckpointMeta } from '../model/checkpoint.js';
import type { CommandContext } from './context.js';
import { loadDataCube, type Cube } from '../ingest/cube.js';
import { CheckpointError, DataError, WindcastError } from '../core/errors.js';
import type { Forecaster } from '../forecast/forecast.js';
import { describeGrid, gridDifferences } from '../core/grid.js';
import { ScoreAccumulator, skillScore, type GroupScores, type Scores, type Skill } from '../evaluate/metrics.js';
import type { Progress } from '../core/progress.js';
import { LATITUDE_BANDS, sampleCells } from '../evaluate/regions.js';
import { writeReport, type EvaluationReport, type GroupReport, type ReportPaths } from '../evaluate/report.js';
import { isoHour } from '../core/time.js';

export const MODEL_NAME = 'model';

export interface EvaluateArgs {
  /** Checkpoint folder (or a run folder: best/, else last/). */
  model: string;
  /** Folder of hourly GeoTIFFs: the data the checkpoint was trained on. */
  data: string;
  /** Where report.json, report.md and the chart go. */
  out: string;
}

export interface EvaluateResult {
  report: EvaluationReport;
  files: ReportPaths;
}


/** Window anchors (last observed hour) inside the test period, every `stride` hours. */
export function testAnchors(meta: Pick<CheckpointMeta, 'split'>, stride: number, linearLookback: number): number[] {
  const { split } = meta;
  const horizon = split.horizon;
  // The model needs its lookback, the baselines the last linearLookback hours (linear) and
  // hour t0 - 23 (yesterday): all observed before the forecast is issued, so reaching back
  // before the test period's first hour leaks nothing.
  const first = Math.max(split.test.startHour + split.lookback - 1, linearLookback - 1, 23);
  const last = split.test.endHour - horizon - 1;
  const out: number[] = [];
  for (let t0 = first; t0 <= last; t0 += stride) out.push(t0);
  return out;
}

/** Refuse data that is not what the checkpoint was trained on; names the data folder. */
export function checkDataMatches(meta: CheckpointMeta, cube: Cube, dataDir: string): void {
  const diffs = gridDifferences(meta.grid, cube.grid);
  if (diffs.length > 0) {
    throw new DataError(dataDir, `grid differs from the checkpoint's (${diffs.join('; ')}): evaluate needs the data the model was trained on`);
  }
  if (meta.data.fingerprint !== cube.source.fingerprint || meta.split.hours !== cube.times.length) {
    throw new DataError(
      dataDir,
      `is not the data the checkpoint was trained on (fingerprint ${cube.source.fingerprint.slice(0, 12)}, ${cube.times.length} hours; ` +
        `the checkpoint's: ${meta.data.fingerprint.slice(0, 12)}, ${meta.split.hours} hours from ${meta.data.dir}). ` +
        `The test period is a range of those hours, so evaluate needs the same files`,
    );
  }
  if (isoHour(cube.times[0]!) !== meta.data.firstHour) {
    throw new DataError(dataDir, `starts at ${isoHour(cube.times[0]!)}, the checkpoint's data at ${meta.data.firstHour}`);
  }
}

export interface EvaluateCubeOptions {
  cube: Cube;
  forecaster: Pick<Forecaster, 'meta' | 'forecast'>;
  /** The resolved checkpoint folder (holds meta.json). */
  checkpointDir: string;
  dataDir: string;
  /** Hours between window starts. */
  stride: number;
  /** Every Nth row and column; 1 scores every cell. */
  cellStride: number;
  ridgeLambda: number;
  /** The linear baseline's lookback (hours) and fitted cells: config.evaluate.linearLookback, linearSampleCells. */
  linearLookback: number;
  linearSampleCells: number;
  tf: Pick<Tf, 'memory'>;
  backend: string;
  progress: Progress;
}

/** Score the forecaster and the baselines on the checkpoint's test period: the report's numbers. */
export function evaluateCube(options: EvaluateCubeOptions): EvaluationReport {
  const started = performance.now();
  const tensorsBefore = options.tf.memory().numTensors;
  const { cube, forecaster } = options;
  const meta = forecaster.meta;
  // Hashed now, not at the end: a training run may replace best/ while we score.
  const metaSha = createHash('sha256').update(readFileSync(join(options.checkpointDir, 'meta.json'))).digest('hex');
  checkDataMatches(meta, cube, options.dataDir);
  const H = meta.split.horizon;
  const anchors = testAnchors(meta, options.stride, options.linearLookback);
  if (anchors.length === 0) {
    throw new CheckpointError(
      `${options.checkpointDir}: the test period (hours ${meta.split.test.startHour}..${meta.split.test.endHour - 1}) holds no complete ${options.linearLookback}+${H}-hour window`,
    );
  }
  const sample = sampleCells(cube.grid, options.cellStride);
  const cells = sample.cells;
  const train = meta.split.train;

  const fitStart = performance.now();
  options.progress.log(
    `baselines: fitting climatology (${cells.length} cells) and the linear baseline on training hours ${train.startHour}..${train.endHour - 1}`,
  );
  const climatology = fitClimatology(cube, { hours: [train.startHour, train.endHour], cells });
  let linear;
  try {
    linear = fitLinearBaseline(cube, {
      hours: [train.startHour, train.endHour],
      lookback: options.linearLookback,
      horizon: H,
      lambda: options.ridgeLambda,
      sampleCells: options.linearSampleCells,
    });
  } catch (err) {
    throw new DataError(options.dataDir, `cannot fit the linear baseline on the training period: ${(err as Error).message}`, { cause: err });
  }
  let baselineSeconds = (performance.now() - fitStart) / 1000;
  options.progress.log(`baselines: fitted in ${baselineSeconds.toFixed(1)} s (linear: ${linear.samples} training windows)`);

  const names = [MODEL_NAME, ...BASELINE_NAMES];
  const acc = new ScoreAccumulator({ names, horizon: H, groupNames: LATITUDE_BANDS.map((b) => b.name) });
  const size = cells.length * H;
  const truth = new Float32Array(size);
  const modelOut = new Float32Array(size);
  const outs = BASELINE_NAMES.map(() => new Float32Array(size));
  let forecastSeconds = 0;
  const task = options.progress.start({ unit: 'windows', total: anchors.length, label: 'evaluate' });
  for (const t0 of anchors) {
    let t = performance.now();
    forecaster.forecast(cube, t0, cells, modelOut);
    forecastSeconds += (performance.now() - t) / 1000;
    t = performance.now();
    truthWindow(cube, { t0, cells, horizon: H, out: truth });
    forecastBaselines({ climatology, linear }, cube, { t0, cells, horizon: H, outs });
    baselineSeconds += (performance.now() - t) / 1000;
    acc.add(truth, [modelOut, ...outs], sample.weights, sample.bands);
    task.tick(1, isoHour(cube.times[t0]!));
  }
  task.done();
  const scores = acc.result();
  const tensorsAfter = options.tf.memory().numTensors;

  const groupReport = (g: GroupScores, label: string, cellCount: number): GroupReport => {
    const skill: Record<string, Skill> = {};
    for (const b of BASELINE_NAMES) skill[b] = skillScore(g.forecasters[MODEL_NAME]!, g.forecasters[b]!);
    return { ...g, label, cells: cellCount, skill };
  };
  const bandCells = LATITUDE_BANDS.map((_, i) => sample.bands.reduce((n, b) => n + (b === i ? 1 : 0), 0));
  const hourIso = (i: number) => isoHour(cube.times[i]!);

  return {
    format: 'windcast-evaluation',
    formatVersion: 1,
    createdAt: new Date().toISOString(),
    checkpoint: {
      dir: resolve(options.checkpointDir),
      id: `${meta.run}/${meta.kind}@epoch${meta.epoch}#${metaSha.slice(0, 12)}`,
      run: meta.run,
      kind: meta.kind,
      epoch: meta.epoch,
      savedAt: meta.savedAt,
      metaSha256: metaSha,
    },
    data: {
      dir: resolve(options.dataDir),
      fingerprint: cube.source.fingerprint,
      hours: cube.times.length,
      firstHour: hourIso(0),
      lastHour: hourIso(cube.times.length - 1),
      grid: describeGrid(cube.grid),
    },
    testPeriod: {
      startHour: meta.split.test.startHour,
      endHour: meta.split.test.endHour,
      firstHour: hourIso(meta.split.test.startHour),
      lastHour: hourIso(meta.split.test.endHour - 1),
      stride: options.stride,
      windows: anchors.length,
      firstIssue: hourIso(anchors[0]!),
      lastIssue: hourIso(anchors[anchors.length - 1]!),
    },
    trainPeriod: {
      startHour: train.startHour,
      endHour: train.endHour,
      firstHour: hourIso(train.startHour),
      lastHour: hourIso(train.endHour - 1),
    },
    cellSample: {
      cellStride: options.cellStride,
      full: options.cellStride === 1,
      cells: cells.length,
      rows: sample.sampledRows,
      columns: sample.sampledCols,
    },
    method: {
      weights:
        'WeatherBench 2 latitude weights: each row weighs sin(upper edge) - sin(lower edge), edges at the midpoints between rows (half a row beyond the outer rows, clipped at +-90 degrees), normalised to mean 1',
      rmse: 'per lead, the square root of the time-mean over windows of the area-weighted spatial mean squared error; MAE and bias likewise are time-means of weighted spatial means; lead means are plain means over the leads',
      missing: 'a (cell, lead) value is scored only where the truth and every forecast are finite; the others are excluded and counted',
      bands: [...LATITUDE_BANDS],
    },
    baselines: {
      persistence: 'the last observed hour repeated for every lead',
      yesterday: 'the same hour one day earlier (the observed hour t0 + h - 24)',
      climatology: `the training-period mean of the cell at that UTC hour of day (hours ${train.startHour}..${train.endHour - 1})`,
      linear: {
        description: `per lead, a ridge regression (lambda ${options.ridgeLambda}, on the per-sample normal equations, intercept not penalised) on the cell's last ${options.linearLookback} hours, sin/cos of the hour of day and an intercept, pooled over cells with area weights, fitted on the training period`,
        lookback: options.linearLookback,
        lambda: options.ridgeLambda,
        sampleCells: Math.min(options.linearSampleCells, cube.grid.width * cube.grid.height),
        samples: linear.samples,
      },
    },
    model: MODEL_NAME,
    forecasters: names,
    leads: Array.from({ length: H }, (_, i) => i + 1),
    global: groupReport(scores.global, 'global', cells.length),
    bands: scores.groups.map((g, i) => groupReport(g, LATITUDE_BANDS[i]!.label, bandCells[i]!)),
    exclusions: scores.exclusions,
    run: {
      backend: options.backend,
      seconds: (performance.now() - started) / 1000,
      forecastSeconds,
      baselineSeconds,
      tensorsBefore,
      tensorsAfter,
    },
  };
}

/** The Scores view of a report (for the chart). */
function reportScores(report: EvaluationReport): Scores {
  return {
    horizon: report.leads.length,
    names: report.forecasters,
    windows: report.testPeriod.windows,
    global: report.global,
    groups: report.bands,
    exclusions: report.exclusions,
  };
}

/** Write the report files for a finished evaluation. */
export async function writeEvaluation(out: string, report: EvaluationReport): Promise<EvaluateResult['files']> {
  const chart = await rmseChart(reportScores(report), { model: MODEL_NAME, title: `RMSE by lead hour: ${report.checkpoint.run} on the test period` });
  return writeReport(out, report, chart);
}

export async function evaluate(args: EvaluateArgs, ctx: CommandContext): Promise<EvaluateResult> {
  const started = performance.now();
  const { config, progress } = ctx;
  const { loadBackend, formatBackendLine } = await import('../runtime/backend.js');
  const { resolveCheckpointDir } = await import('../model/checkpoint.js');
  const { loadForecaster } = await import('../forecast/forecast.js');
  const checkpointDir = resolveCheckpointDir(args.model, 'best');
  const { tf, info } = await loadBackend(config.runtime.backend, (line) => progress.log(line));
  const tensorsAtStart = tf.memory().numTensors;
  const forecaster = await loadForecaster(checkpointDir, tf, { batchCells: config.predict.batchCells });
  let report: EvaluationReport;
  let loadSeconds = 0;
  try {
    const t = performance.now();
    const cube = await loadDataCube(args.data, config.ingest, progress);
    loadSeconds = (performance.now() - t) / 1000;
    report = evaluateCube({
      cube,
      forecaster,
      checkpointDir,
      dataDir: args.data,
      stride: config.evaluate.stride,
      cellStride: config.evaluate.cellStride,
      ridgeLambda: config.evaluate.ridgeLambda,
      linearLookback: config.evaluate.linearLookback,
      linearSampleCells: config.evaluate.linearSampleCells,
      tf,
      backend: formatBackendLine(info).replace(/^backend: /, ''),
      progress,
    });
  } finally {
    forecaster.dispose();
  }
  // The model's weights are gone too now: every tensor evaluate made must be released.
  report.run.loadSeconds = loadSeconds;
  report.run.tensorsBefore = tensorsAtStart;
  report.run.tensorsAfter = tf.memory().numTensors;
  report.run.totalSeconds = (performance.now() - started) / 1000;
  const files = await writeEvaluation(args.out, report);
  if (report.run.tensorsAfter !== tensorsAtStart) {
    // A bug, not a user's mistake: the scores are still right, so they are written first.
    throw new WindcastError('internal', `evaluate leaked ${report.run.tensorsAfter - tensorsAtStart} tensors (the report was written to ${files.markdown})`);
  }
  return { report, files };
}

function signedPct(v: number | undefined): string {
  return v !== undefined && Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)} %` : 'n/a';
}

/** The short summary printed at the end. */
export function formatEvaluateResult(result: EvaluateResult): string {
  const r = result.report;
  const g = r.global;
  const rm = (n: string) => {
    const v = g.forecasters[n]?.mean.rmse;
    return v !== undefined && Number.isFinite(v) ? `${v.toFixed(3)} m/s` : 'n/a';
  };
  const lead = (n: string, l: number) => {
    const v = g.forecasters[n]?.rmse[l];
    return v !== undefined && Number.isFinite(v) ? v.toFixed(3) : 'n/a';
  };
  const lines = [
    `evaluated ${r.checkpoint.id} on ${r.testPeriod.windows} test windows (${r.testPeriod.firstIssue} .. ${r.testPeriod.lastIssue}, every ${r.testPeriod.stride} h) at ${r.cellSample.cells.toLocaleString('en-US')} cells`,
    `RMSE averaged over leads +1..+${r.leads.length} h (area-weighted):`,
    `  ${MODEL_NAME.padEnd(12)} ${rm(MODEL_NAME)}`,
    ...BASELINE_NAMES.map((b) => `  ${b.padEnd(12)} ${rm(b)}   model skill ${signedPct(g.skill[b]?.mean)}`),
    `  +1 h: model ${lead(MODEL_NAME, 0)} vs persistence ${lead('persistence', 0)}; ` +
      `+${r.leads.length} h: model ${lead(MODEL_NAME, r.leads.length - 1)} vs persistence ${lead('persistence', r.leads.length - 1)} m/s`,
    `wrote ${result.files.markdown}, ${result.files.json}, ${result.files.chart} (${(r.run.totalSeconds ?? r.run.seconds).toFixed(1)} s)`,
  ];
  return lines.join('\n');
}
