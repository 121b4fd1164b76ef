/**
 * The evaluation stage: score a checkpoint's forecaster on its own test period, hours it
 * never saw, beside persistence, same hour yesterday, climatology, the same-input ridge
 * ("linear", the headline's reference) and the speed-only ridge ("linear-speed"), each skill
 * with a 95 % block-bootstrap interval, and assemble the report.
 *
 * Everything about the periods comes from the checkpoint's meta.json (never from the current
 * flags): the split, the horizon, the grid and the fingerprint of the data it was trained on.
 * Data that differs from that is refused (checkDataFits with sameData) rather than scored on
 * hours that may overlap the training period. Baselines are fitted on the checkpoint's
 * training period only; the same-input ridge with the checkpoint's own training settings
 * (meta.config.train: fit windows, validation windows, seed), on the feature context the
 * model reads, so it is the fit training made for the model's linear start. Every forecaster
 * is scored on the same windows and cells (metrics.ts). The same windows also score the model's
 * quantiles beside the probabilistic baselines (probabilistic.ts) and, with a turbine, the
 * power of the model, persistence and the ridge (power-scores.ts).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Tf } from '../runtime/backend.js';
import type { EvaluateConfig } from '../core/config.js';
import { CheckpointError, DataError, describeError } from '../core/errors.js';
import { describeGrid } from '../core/grid.js';
import type { Progress } from '../core/progress.js';
import { isoHour } from '../core/time.js';
import type { Cube } from '../ingest/cube.js';
import type { CellCube } from '../ingest/cell-cube.js';
import type { NormStats } from '../prepare/normalize.js';
import { diskAccess, residentAccess, type CubeAccess } from './cube-access.js';
import type { CheckpointMeta } from '../model/checkpoint.js';
import { checkDataFits, cubeFacts } from '../model/data-fit.js';
import type { Forecaster } from '../forecast/forecast.js';
import { centralLevel } from '../model/quantile-head.js';
import { fitPeriodRidge } from '../prepare/ridge.js';
import { BASELINE_NAMES, fitLinearBaseline, forecastBaselines, truthWindow } from './baselines.js';
import { bootstrapSkill, blockWindowsFor } from './bootstrap.js';
import { rmseChart } from './chart.js';
import { ScoreAccumulator, skillScore, type GroupScores, type Scores } from './metrics.js';
import { QuantileAccumulator } from './quantile-scores.js';
import { LATITUDE_BANDS, sampleCells } from './regions.js';
import { ProbabilisticEvaluation, probabilisticReport, type ProbabilisticFit } from './probabilistic.js';
import { probabilisticCharts } from './prob-charts.js';
import { MODEL_MEDIAN, planPowerScores, PowerAccumulator, POWER_NAMES, powerReport, type PowerPlan } from './power-scores.js';
import { HEADLINE_BASELINE, writeReport, type EvaluationReport, type GroupReport, type ReportPaths, type ReportSkill } from './report.js';

export const MODEL_NAME = 'model';

/** The report files of one evaluation. */
export type EvaluationFiles = ReportPaths;

/** Window anchors (last observed hour) inside the test period, every `stride` hours. */
export function testAnchors(meta: Pick<CheckpointMeta, 'split'>, stride: number, linearLookback: number): number[] {
  const { split } = meta;
  const horizon = split.horizon;
  // The model and the same-input ridge need its lookback, the speed-only ridge the last
  // linearLookback hours and yesterday hour t0 - 23: all observed before the forecast is
  // issued, so reaching back before the test period's first hour leaks nothing.
  const first = Math.max(split.test.startHour + split.lookback - 1, linearLookback - 1, 23);
  const last = split.test.endHour - horizon - 1;
  const out: number[] = [];
  for (let t0 = first; t0 <= last; t0 += stride) out.push(t0);
  return out;
}

export interface EvaluateCubeOptions {
  /**
   * The resident time-major cube, or one on disk (a CellCube with `disk`, over the memory
   * budget: read as cube-access.ts says, with the same scores).
   */
  cube: Cube | CellCube;
  /** Bytes a slab of test hours read from a cube on disk may take (default 1 GiB; cube-access.ts). */
  slabBytes?: number;
  /**
   * The checkpoint's forecaster; with quantileLevels (a quantile checkpoint) forecast also fills
   * quantiles. `stats` (its normalisation) is needed for a cube on disk.
   */
  forecaster: Pick<Forecaster, 'meta' | 'context'> & {
    stats?: NormStats;
    forecast(cube: Cube, t0: number, cells: Int32Array, out?: Float32Array, quantiles?: Float32Array): Float32Array;
    quantileLevels?: readonly number[];
  };
  /** The resolved checkpoint folder (holds meta.json). */
  checkpointDir: string;
  dataDir: string;
  /**
   * The evaluate section of the configuration: stride (hours between windows), cellStride
   * (every Nth row and column), the speed-only ridge's settings, the climatology window and
   * the bootstrap's.
   */
  settings: EvaluateConfig;
  tf: Pick<Tf, 'memory'>;
  backend: string;
  progress: Progress;
  /** Score only test windows [start, end) of the period's (an evaluate shard; default all). */
  windows?: readonly [number, number];
  /** Keep each window's sums for merge (an evaluate shard): see window-records.ts. */
  recordWindows?: boolean;
}

/** Score the forecaster and the baselines on the checkpoint's test period: the report's numbers. */
export function evaluateCube(options: EvaluateCubeOptions): EvaluationReport {
  return finishEvaluation(scoreCube(options));
}

/**
 * Everything the report says that does not come from the scores: the checkpoint, data, periods,
 * cells, methods and baselines' fits, and what the accumulators were made with. JSON: an
 * evaluate shard writes it, and merge rebuilds the accumulators from it.
 */
export interface EvaluationHead {
  report: Pick<EvaluationReport, 'format' | 'formatVersion' | 'checkpoint' | 'data' | 'testPeriod' | 'trainPeriod' | 'cellSample' | 'baselines' | 'model' | 'forecasters' | 'leads'> & {
    method: Omit<EvaluationReport['method'], 'bootstrap'>;
  };
  horizon: number;
  groupNames: string[];
  bandLabels: string[];
  bandCells: number[];
  cells: number;
  /** Test windows [start, end) of the period's this head's scores cover. */
  windows: [number, number];
  settings: { blockHours: number; stride: number; resamples: number; seed: number };
  probabilistic: ProbabilisticFit;
  power?: { plan: PowerPlanJson; names: string[]; lookback: number };
  run: Omit<EvaluationReport['run'], 'bootstrapSeconds'>;
}

/** A PowerPlan as JSON (the curve's tables as arrays). */
export type PowerPlanJson = Omit<PowerPlan, 'curve'> & { curve: Omit<PowerPlan['curve'], 'speedsMs' | 'powerKw'> & { speedsMs: number[]; powerKw: number[] } };

export function powerPlanToJson(p: PowerPlan): PowerPlanJson {
  return { ...p, curve: { ...p.curve, speedsMs: Array.from(p.curve.speedsMs), powerKw: Array.from(p.curve.powerKw) } };
}

export function powerPlanFromJson(p: PowerPlanJson): PowerPlan {
  return { ...p, curve: { ...p.curve, speedsMs: Float64Array.from(p.curve.speedsMs), powerKw: Float64Array.from(p.curve.powerKw) } };
}

/** The head and the accumulators of scored windows: what finishEvaluation turns into the report. */
export interface EvaluationScoring {
  head: EvaluationHead;
  score: ScoreAccumulator;
  quantiles: QuantileAccumulator;
  power?: PowerAccumulator;
}

/** The accumulators a head's scores are kept in, empty (merge absorbs the shards' windows into them). */
export function emptyScoring(head: EvaluationHead, options: { recordWindows?: boolean } = {}): EvaluationScoring {
  const record = options.recordWindows ? { recordWindows: true } : {};
  const power = head.power ? powerPlanFromJson(head.power.plan) : undefined;
  return {
    head,
    score: new ScoreAccumulator({ names: head.report.forecasters, horizon: head.horizon, groupNames: head.groupNames, ...record }),
    quantiles: new QuantileAccumulator({ names: head.probabilistic.names, horizon: head.horizon, levels: head.probabilistic.levels, groupNames: head.groupNames, ...record }),
    ...(power && head.power ? { power: new PowerAccumulator(power.curve, power.plan, { names: head.power.names, horizon: head.horizon, cells: head.cells, lookback: head.power.lookback, ...record }) } : {}),
  };
}

/** Fit the baselines and score the forecaster and them on the test windows (or a shard's part of them). */
export function scoreCube(options: EvaluateCubeOptions): EvaluationScoring {
  const started = performance.now();
  const tensorsBefore = options.tf.memory().numTensors;
  const { cube, forecaster } = options;
  const meta = forecaster.meta;
  // Hashed now, not at the end: a training run may replace best/ while we score.
  const metaSha = createHash('sha256').update(readFileSync(join(options.checkpointDir, 'meta.json'))).digest('hex');
  checkDataFits(meta, cubeFacts(cube, options.dataDir), { sameData: true });
  const access =
    'layers' in cube
      ? diskAccess(cube, { spec: meta.features, ...(forecaster.stats ? { stats: forecaster.stats } : {}), slabBytes: options.slabBytes ?? 2 ** 30, progress: options.progress })
      : residentAccess(cube, forecaster.context(cube));
  try {
    return scoreThrough(options, access, started, tensorsBefore, metaSha);
  } finally {
    access.close();
  }
}

function scoreThrough(options: EvaluateCubeOptions, access: CubeAccess, started: number, tensorsBefore: number, metaSha: string): EvaluationScoring {
  const { forecaster, settings } = options;
  const cube = access.facts;
  const ctx = access.ridgeContext;
  const meta = forecaster.meta;
  const H = meta.split.horizon;
  const anchors = testAnchors(meta, settings.stride, settings.linearLookback);
  if (anchors.length === 0) {
    throw new CheckpointError(
      `${options.checkpointDir}: the test period (hours ${meta.split.test.startHour}..${meta.split.test.endHour - 1}) holds no complete ${settings.linearLookback}+${H}-hour window`,
    );
  }
  const windows: [number, number] = options.windows ? [options.windows[0], options.windows[1]] : [0, anchors.length];
  const scoredAnchors = anchors.slice(windows[0], windows[1]);
  const record = options.recordWindows ? { recordWindows: true } : {};
  // Before any fitting: a turbine that does not load is the user's to fix now.
  const powerPlan = planPowerScores(settings, meta.features.heightM ?? null, access.other);
  const sample = sampleCells(cube.grid, settings.cellStride);
  const cells = sample.cells;
  const train = meta.split.train;
  const test = meta.split.test;
  const trainHours = [train.startHour, train.endHour] as const;
  const fitFailed = (what: string, err: unknown) => new DataError(options.dataDir, `cannot fit ${what} on the training period: ${describeError(err)}`, { cause: err });

  let t = performance.now();
  const climatology = access.fitClimatology({ hours: trainHours, cells, forHours: [test.startHour, test.endHour], windowDays: settings.climatologyWindowDays });
  const climatologySeconds = (performance.now() - t) / 1000;
  options.progress.log(`baselines: climatology by ${climatology.kind === 'hour-of-day' ? 'hour of day' : `day of year (${climatology.windowDays}-day window) and hour`} for ${cells.length} cells in ${climatologySeconds.toFixed(1)} s`);

  const trainSettings = meta.config.train;
  t = performance.now();
  options.progress.log(
    `baselines: fitting the same-input ridge (${meta.features.lookback * meta.features.nFeatures} inputs) on at most ${trainSettings.linearFitWindows.toLocaleString('en-US')} windows of training hours ${train.startHour}..${train.endHour - 1}`,
  );
  let ridge;
  try {
    ridge = fitPeriodRidge(ctx, { split: meta.split, windows: trainSettings.linearFitWindows, validationWindows: trainSettings.validationSamples, seed: trainSettings.seed });
  } catch (err) {
    throw fitFailed('the same-input ridge', err);
  }
  const ridgeSeconds = (performance.now() - t) / 1000;
  options.progress.log(`baselines: same-input ridge fitted on ${ridge.windows} windows in ${ridgeSeconds.toFixed(1)} s (penalty ${ridge.lambda}, chosen on validation)`);

  t = performance.now();
  let linearSpeed;
  try {
    linearSpeed = fitLinearBaseline(cube, {
      hours: trainHours,
      lookback: settings.linearLookback,
      horizon: H,
      lambda: settings.ridgeLambda,
      sampleCells: settings.linearSampleCells,
      ...(access.readSeries ? { readSeries: access.readSeries } : {}),
    });
  } catch (err) {
    throw fitFailed('the speed-only ridge', err);
  }
  const linearSpeedSeconds = (performance.now() - t) / 1000;
  options.progress.log(`baselines: speed-only ridge fitted on ${linearSpeed.samples} windows in ${linearSpeedSeconds.toFixed(1)} s`);
  const prob = new ProbabilisticEvaluation({
    fitClimatologyQuantiles: access.fitClimatologyQuantiles,
    cells,
    climatology,
    trainHours,
    ctx,
    ridge,
    split: meta.split,
    fitWindows: trainSettings.linearFitWindows,
    seed: trainSettings.seed,
    modelLevels: forecaster.quantileLevels ?? [],
    horizon: H,
    groupNames: LATITUDE_BANDS.map((b) => b.name),
    ...record,
  });
  options.progress.log(
    `baselines: probabilistic baselines at ${prob.levels.length} quantile levels (${prob.modelQuantiles ? "the model's" : 'the default: the checkpoint has no quantiles'}) fitted in ${prob.fitSeconds.toFixed(1)} s`,
  );
  let baselineSeconds = climatologySeconds + ridgeSeconds + linearSpeedSeconds + prob.fitSeconds;

  const names = [MODEL_NAME, ...BASELINE_NAMES];
  const acc = new ScoreAccumulator({ names, horizon: H, groupNames: LATITUDE_BANDS.map((b) => b.name), ...record });
  const size = cells.length * H;
  const truth = new Float32Array(size);
  const modelOut = new Float32Array(size);
  const outs = BASELINE_NAMES.map(() => new Float32Array(size));
  const modelQuantiles = prob.modelBuffer();
  // The model's median (its central quantile) goes through the curve too: the median power.
  const median = modelQuantiles ? { out: new Float32Array(size), level: centralLevel(prob.levels), Q: prob.levels.length } : undefined;
  const powerNames = median ? [POWER_NAMES[0], MODEL_MEDIAN, ...POWER_NAMES.slice(1)] : [...POWER_NAMES];
  const power = powerPlan ? new PowerAccumulator(powerPlan.curve, powerPlan.plan, { names: powerNames, horizon: H, cells: cells.length, lookback: meta.features.lookback, ...record }) : undefined;
  if (powerPlan) options.progress.log(`power: ${powerPlan.curve.name} at ${powerPlan.plan.note}`);
  let forecastSeconds = 0;
  const task = options.progress.start({ unit: 'windows', total: scoredAnchors.length, label: 'evaluate' });
  // What a window reads around its anchor: the model's lookback, the speed-only ridge's, yesterday's 24 hours, the leads.
  const reach = { back: Math.max(meta.features.lookback, settings.linearLookback, 24) - 1, ahead: H };
  // Resident: one slab, the cube itself. On disk: slabs of test hours, each scored with its hour indices (t0 - offset).
  // Block-scoped: a slab is unreachable once its iteration ends, before the next one is read.
  for (const plan of access.slabs(scoredAnchors, reach)) {
    const slab = access.read(plan);
    const local = slab.cube;
    const set = { climatology, linear: { ridge, ctx: forecaster.context(local) }, linearSpeed };
    for (const t0 of slab.anchors) {
      const at = t0 - slab.offset;
      t = performance.now();
      if (modelQuantiles) forecaster.forecast(local, at, cells, modelOut, modelQuantiles);
      else forecaster.forecast(local, at, cells, modelOut);
      forecastSeconds += (performance.now() - t) / 1000;
      t = performance.now();
      truthWindow(local, { t0: at, cells, horizon: H, out: truth });
      forecastBaselines(set, local, { t0: at, cells, horizon: H, outs });
      baselineSeconds += (performance.now() - t) / 1000;
      acc.add(truth, [modelOut, ...outs], sample.weights, sample.bands);
      if (power) {
        if (median) for (let p = 0; p < size; p++) median.out[p] = modelQuantiles![p * median.Q + median.level]!;
        power.add({ cube: local, t0: at, cells, weights: sample.weights, truth, forecasts: median ? [modelOut, median.out, outs[0]!, outs[3]!] : [modelOut, outs[0]!, outs[3]!] });
      }
      prob.add({ cube: local, t0: at, truth, ...(modelQuantiles ? { model: modelQuantiles } : {}), persistence: outs[0]!, climatology: outs[2]!, linear: outs[3]!, weights: sample.weights, groups: sample.bands });
      task.tick(1, isoHour(cube.times[t0]!));
    }
  }
  task.done();
  const tensorsAfter = options.tf.memory().numTensors;
  const bandCells = LATITUDE_BANDS.map((_, i) => sample.bands.reduce((n, b) => n + (b === i ? 1 : 0), 0));
  const hourIso = (i: number) => isoHour(cube.times[i]!);
  const climatologyDescription =
    climatology.kind === 'hour-of-day'
      ? `the training-period mean of the cell at that UTC hour of day (hours ${train.startHour}..${train.endHour - 1}; the training period is shorter than 365 days, too short for a seasonal cycle)`
      : `the training-period mean of the cell at that day of year and UTC hour, smoothed over a ${climatology.windowDays}-day window (triangular weights, wrapping at the year's end) as WeatherBench 2 computes it (hours ${train.startHour}..${train.endHour - 1}, which cover a year or more)`;

  const head: EvaluationHead = {
    report: {
      format: 'windcast-evaluation',
      formatVersion: 3,
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
        startHour: test.startHour,
        endHour: test.endHour,
        firstHour: hourIso(test.startHour),
        lastHour: hourIso(test.endHour - 1),
        stride: settings.stride,
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
        cellStride: settings.cellStride,
        full: settings.cellStride === 1,
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
        climatology: { kind: climatology.kind, ...(climatology.windowDays !== undefined ? { windowDays: climatology.windowDays } : {}), description: climatologyDescription },
        linear: {
          description:
            `the same-input ridge: per lead, a ridge regression on exactly the model's inputs (${meta.features.nFeatures} features x ${meta.features.lookback} hours, normalised as the model sees them, plus an intercept) ` +
            `to the model's targets, fitted on ${ridge.windows.toLocaleString('en-US')} training-period windows with the penalty chosen on the run's validation windows; the reference of the headline skill`,
          inputs: ridge.inputs,
          features: [...meta.features.names],
          lambda: ridge.lambda,
          validationRmse: ridge.validationRmse,
          windows: ridge.windows,
        },
        'linear-speed': {
          description: `the speed-only ridge: per lead, a ridge regression (lambda ${settings.ridgeLambda}, on the per-sample normal equations, intercept not penalised) on the cell's last ${settings.linearLookback} hours of speed, sin/cos of the hour of day and an intercept, pooled over cells with area weights, fitted on the training period; it lacks the model's neighbourhood, u/v and per-cell normalisation`,
          lookback: settings.linearLookback,
          lambda: settings.ridgeLambda,
          sampleCells: Math.min(settings.linearSampleCells, cube.grid.width * cube.grid.height),
          samples: linearSpeed.samples,
        },
      },
      model: MODEL_NAME,
      forecasters: names,
      leads: Array.from({ length: H }, (_, i) => i + 1),
    },
    horizon: H,
    groupNames: LATITUDE_BANDS.map((b) => b.name),
    bandLabels: LATITUDE_BANDS.map((b) => b.label),
    bandCells,
    cells: cells.length,
    windows,
    settings: { blockHours: settings.bootstrapBlockHours, stride: settings.stride, resamples: settings.bootstrapResamples, seed: settings.bootstrapSeed },
    probabilistic: prob.fitSummary(),
    ...(powerPlan ? { power: { plan: powerPlanToJson(powerPlan), names: powerNames, lookback: meta.features.lookback } } : {}),
    run: {
      backend: options.backend,
      seconds: (performance.now() - started) / 1000,
      forecastSeconds,
      baselineSeconds,
      fitSeconds: { climatology: climatologySeconds, linear: ridgeSeconds, 'linear-speed': linearSpeedSeconds },
      tensorsBefore,
      tensorsAfter,
    },
  };
  return { head, score: acc, quantiles: prob.accumulator, ...(power ? { power } : {}) };
}

/** The report from a head and its accumulators: the scores, the skills and their block-bootstrap intervals. */
export function finishEvaluation(scoring: EvaluationScoring): EvaluationReport {
  const { head, score: acc } = scoring;
  const h = head.report;
  const st = head.settings;
  const t = performance.now();
  const scores = acc.result();
  const blockWindows = blockWindowsFor(st.blockHours, st.stride);
  const bootstrap = bootstrapSkill({
    stats: acc.windowStats(),
    model: MODEL_NAME,
    baselines: BASELINE_NAMES,
    blockWindows,
    resamples: st.resamples,
    seed: st.seed,
  });
  const boot = { blockHours: st.blockHours, stride: st.stride, resamples: st.resamples, seed: st.seed };
  const probabilistic = probabilisticReport(scoring.quantiles, head.probabilistic, { bandLabels: head.bandLabels, ...boot });
  const powerSection = head.power && scoring.power ? powerReport(powerPlanFromJson(head.power.plan), scoring.power, boot) : undefined;
  const bootstrapSeconds = (performance.now() - t) / 1000;

  const groupReport = (g: GroupScores, label: string, cellCount: number, intervals: boolean): GroupReport => {
    const skill: Record<string, ReportSkill> = {};
    for (const b of BASELINE_NAMES) {
      skill[b] = { ...skillScore(g.forecasters[MODEL_NAME]!, g.forecasters[b]!), ...(intervals ? { interval: bootstrap.skill[b]! } : {}) };
    }
    return { ...g, label, cells: cellCount, skill };
  };
  const global = groupReport(scores.global, 'global', head.cells, true);
  const headline = global.skill[HEADLINE_BASELINE]!;

  return {
    format: h.format,
    formatVersion: h.formatVersion,
    createdAt: new Date().toISOString(),
    checkpoint: h.checkpoint,
    data: h.data,
    testPeriod: h.testPeriod,
    trainPeriod: h.trainPeriod,
    cellSample: h.cellSample,
    method: {
      ...h.method,
      bootstrap: {
        description: `${Math.round(bootstrap.level * 100)} % intervals of the global skills: a circular block bootstrap over the test windows (${bootstrap.resamples} resamples, seed ${bootstrap.seed}) in blocks of ${bootstrap.blockWindows} consecutive windows (${bootstrap.blockWindows * st.stride} h), so the weather shared by neighbouring windows stays in one block; percentile intervals of the resampled skill`,
        level: bootstrap.level,
        blockHours: st.blockHours,
        blockWindows: bootstrap.blockWindows,
        blocks: bootstrap.blocks,
        resamples: bootstrap.resamples,
        seed: bootstrap.seed,
      },
    },
    baselines: h.baselines,
    headline: { against: HEADLINE_BASELINE, skill: headline.mean, interval: headline.interval!.mean },
    model: h.model,
    forecasters: h.forecasters,
    leads: h.leads,
    global,
    bands: scores.groups.map((g, i) => groupReport(g, head.bandLabels[i]!, head.bandCells[i]!, false)),
    exclusions: scores.exclusions,
    probabilistic,
    ...(powerSection ? { power: powerSection } : {}),
    run: { ...head.run, seconds: head.run.seconds + bootstrapSeconds, bootstrapSeconds },
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
export async function writeEvaluation(out: string, report: EvaluationReport): Promise<EvaluationFiles> {
  const chart = await rmseChart(reportScores(report), { model: MODEL_NAME, title: `RMSE by lead hour: ${report.checkpoint.run} on the test period` });
  const prob = await probabilisticCharts(report.probabilistic, { model: MODEL_NAME, run: report.checkpoint.run });
  return writeReport(out, report, chart, prob);
}
