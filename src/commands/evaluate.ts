/**
 * `windcast evaluate`: load the checkpoint (best/, else last/, of a run folder) and the data
 * (the time-major cube in memory when it fits the memory budget; over it, hourly GeoTIFFs stay
 * on disk in training's cell file, evaluate/cube-access.ts), score it on its own test period
 * (src/evaluate/evaluate.ts), write the report, return it.
 * Every tensor the command made is released before it returns: a leak is an internal error,
 * raised after the report is written.
 */
import { useInferencePrecision, type CommandContext } from './context.js';
import { dataCubeBytes, loadDataCube, type Cube } from '../ingest/cube.js';
import { CACHE_OFF_HINT, memoryBudget, openCellCube, type CellCube } from '../ingest/cell-cube.js';
import { checkpointWind } from '../model/data-fit.js';
import { WindcastError } from '../core/errors.js';
import { BASELINE_NAMES } from '../evaluate/baselines.js';
import { evaluateCube, MODEL_NAME, scoreCube, testAnchors, writeEvaluation, type EvaluationFiles, type EvaluationScoring } from '../evaluate/evaluate.js';
import { writeEvaluationShard } from '../evaluate/evaluation-shards.js';
import { describeShard, runtimeIdentity, shardRange, type Shard } from '../core/shard.js';
import { dirname, resolve } from 'node:path';
import type { EvaluationReport, ReportSkill } from '../evaluate/report.js';

export interface EvaluateArgs {
  /** Checkpoint folder (or a run folder: best/, else last/). */
  model: string;
  /** Folder of hourly GeoTIFFs: the data the checkpoint was trained on. */
  data: string;
  /** Where report.json, report.md and the chart go. */
  out: string;
  /** --shard: score only this shard's part of the test windows, into OUT/shard-I-of-N/ for `windcast merge`. */
  shard?: Shard;
}

export interface EvaluateResult {
  report: EvaluationReport;
  files: EvaluationFiles;
}

/** What a shard did: its windows (of the test period's) and the folder merge reads. */
export interface EvaluateShardResult {
  shard: Shard & { windows: [number, number]; totalWindows: number; dir: string; seconds: number };
}

export async function evaluate(args: EvaluateArgs & { shard?: undefined }, ctx: CommandContext): Promise<EvaluateResult>;
export async function evaluate(args: EvaluateArgs & { shard: Shard }, ctx: CommandContext): Promise<EvaluateShardResult>;
export async function evaluate(args: EvaluateArgs, ctx: CommandContext): Promise<EvaluateResult | EvaluateShardResult>;
export async function evaluate(args: EvaluateArgs, ctx: CommandContext): Promise<EvaluateResult | EvaluateShardResult> {
  const started = performance.now();
  const { config, progress } = ctx;
  const { loadBackend, formatBackendLine } = await import('../runtime/backend.js');
  const { resolveCheckpointDir } = await import('../model/checkpoint.js');
  const { loadForecaster } = await import('../forecast/forecast.js');
  const checkpointDir = resolveCheckpointDir(args.model, 'best');
  // A turbine that does not load is the user's to fix before the data is read (evaluateCube reads the small file again).
  if (config.evaluate.turbine !== null) (await import('../power/curve.js')).loadPowerCurve(config.evaluate.turbine);
  const { tf, info } = await loadBackend(config.runtime.backend, (line) => progress.log(line));
  useInferencePrecision(tf, config.runtime.inferencePrecision);
  const tensorsAtStart = tf.memory().numTensors;
  const forecaster = await loadForecaster(checkpointDir, tf, { batchCells: config.predict.batchCells });
  let report: EvaluationReport | undefined;
  let scoring: EvaluationScoring | undefined;
  let loadSeconds = 0;
  try {
    let windows: [number, number] | undefined;
    if (args.shard) {
      const total = testAnchors(forecaster.meta, config.evaluate.stride, config.evaluate.linearLookback).length;
      if (args.shard.count > total) throw new WindcastError('usage', `--shard ${args.shard.index}/${args.shard.count}: the test period has ${total} windows (every ${config.evaluate.stride} h), fewer than the ${args.shard.count} shards`);
      windows = shardRange(total, args.shard);
      progress.log(`${describeShard(args.shard)}: test windows ${windows[0]}..${windows[1] - 1} of ${total}`);
    }
    const t = performance.now();
    // Read as the checkpoint was trained (its height and variables), not as the config says.
    const wind = checkpointWind(forecaster.meta);
    const budget = memoryBudget(config.runtime.memoryBudget);
    // A cube over the budget stays on disk, in the cell file training reads (openCellCube:
    // GeoTIFFs and gridded input alike); what fits is held time-major as before. With
    // ingest.cache off nothing is written beside the data: over the budget it is refused.
    const bytes = config.ingest.cache ? await dataCubeBytes(args.data, config.ingest, wind) : null;
    const cube: Cube | CellCube =
      bytes !== null && bytes > budget
        ? await openCellCube(args.data, config.ingest, progress, { wind, budget })
        : await loadDataCube(args.data, config.ingest, progress, wind, { bytes: budget, hint: CACHE_OFF_HINT });
    loadSeconds = (performance.now() - t) / 1000;
    const options = {
      cube,
      // A slab of test hours read from disk takes at most a quarter of the budget (cube-access.ts).
      slabBytes: Math.min(2 ** 30, budget / 4),
      forecaster,
      checkpointDir,
      dataDir: args.data,
      settings: config.evaluate,
      tf,
      backend: formatBackendLine(info).replace(/^backend: /, '') + (config.runtime.inferencePrecision === 'bf16' ? '; LSTM products in bf16' : ''),
      progress,
    };
    if (windows) scoring = scoreCube({ ...options, windows, recordWindows: true });
    else report = evaluateCube(options);
  } finally {
    forecaster.dispose();
  }
  if (args.shard && scoring) return writeShard(args as EvaluateArgs & { shard: Shard }, scoring, { started, loadSeconds, tensorsAtStart, tensorsAfter: tf.memory().numTensors }, ctx);
  if (!report) throw new WindcastError('internal', 'evaluate made no report');
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

/** Write a shard's head and window records; a tensor leak is an internal error after the write, as for a report. */
function writeShard(args: EvaluateArgs & { shard: Shard }, scoring: EvaluationScoring, t: { started: number; loadSeconds: number; tensorsAtStart: number; tensorsAfter: number }, ctx: CommandContext): EvaluateShardResult {
  const run = scoring.head.run;
  run.loadSeconds = t.loadSeconds;
  run.tensorsBefore = t.tensorsAtStart;
  run.tensorsAfter = t.tensorsAfter;
  run.totalSeconds = (performance.now() - t.started) / 1000;
  const dir = writeEvaluationShard({ out: resolve(args.out), shard: args.shard, scoring, settings: { evaluate: ctx.config.evaluate, runtime: runtimeIdentity(ctx.config.runtime) } });
  if (t.tensorsAfter !== t.tensorsAtStart) throw new WindcastError('internal', `evaluate leaked ${t.tensorsAfter - t.tensorsAtStart} tensors (the shard was written to ${dir})`);
  const head = scoring.head;
  return {
    shard: {
      ...args.shard,
      windows: head.windows,
      totalWindows: head.report.testPeriod.windows,
      dir,
      seconds: run.totalSeconds,
    },
  };
}

function signedPct(v: number | undefined): string {
  return v !== undefined && Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)} %` : 'n/a';
}

/** "+4.3 % [+3.1, +5.6]" */
function skillText(skill: Pick<ReportSkill, 'mean'> & { interval?: Pick<NonNullable<ReportSkill['interval']>, 'mean'> } | undefined): string {
  const i = skill?.interval?.mean;
  const bound = (v: number) => `${v >= 0 ? '+' : ''}${(v * 100).toFixed(1)}`;
  return signedPct(skill?.mean) + (i && i.every(Number.isFinite) ? ` [${bound(i[0])}, ${bound(i[1])}]` : '');
}

/** CRPS and coverage, model and probabilistic baselines. */
function probabilisticLines(r: EvaluationReport): string[] {
  const p = r.probabilistic;
  const g = p.global;
  const num = (v: number | undefined, d = 3) => (v !== undefined && Number.isFinite(v) ? v.toFixed(d) : 'n/a');
  const cov = (n: string, k: string) => (p.intervals.includes(k) ? `${num((g.forecasters[n]!.mean.coverage[k] ?? NaN) * 100, 1)} %` : 'n/a');
  const lines = [p.modelQuantiles ? `CRPS averaged over leads (quantiles at ${p.levels.join(', ')}), coverage of the central 50 % and 80 % intervals:` : `no quantiles in this checkpoint (a point model); probabilistic baselines at ${p.levels.join(', ')}:`];
  for (const n of p.forecasters) {
    const skill = g.skill[n];
    lines.push(`  ${n.padEnd(12)} CRPS ${num(g.forecasters[n]!.mean.crps)} m/s  coverage ${cov(n, '50')} / ${cov(n, '80')}${skill ? `   model CRPS skill ${skillText(skill)}` : ''}`);
  }
  return lines;
}

/** Power NMAE, with --turbine. */
function powerLines(r: EvaluationReport): string[] {
  const p = r.power;
  if (!p) return [];
  const num = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v.toFixed(2) : 'n/a');
  return [
    `power through ${p.turbine.name} (${p.hubHeightNote}), NMAE / NRMSE in % of ${p.turbine.ratedKw} kW, mean over leads:`,
    ...p.scores.names.map((n) => {
      const skills = [p.skill[n] ? `model ${skillText(p.skill[n])}` : '', p.medianSkill?.[n] ? `model-median ${skillText(p.medianSkill[n])}` : ''].filter(Boolean);
      return `  ${n.padEnd(12)} ${num(p.scores.forecasters[n]!.mean.nmae)} / ${num(p.scores.forecasters[n]!.mean.nrmse)} %${skills.length > 0 ? `   NMAE skill: ${skills.join(', ')}` : ''}`;
    }),
  ];
}

/** The short summary printed at the end. */
export function formatEvaluateResult(result: EvaluateResult | EvaluateShardResult): string {
  if ('shard' in result) {
    const s = result.shard;
    return [
      `${describeShard(s)}: scored test windows ${s.windows[0]}..${s.windows[1] - 1} of ${s.totalWindows} in ${s.seconds.toFixed(1)} s`,
      `wrote ${s.dir}; once every shard is done, \`windcast merge ${dirname(s.dir)}\` writes the report`,
    ].join('\n');
  }
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
    ...BASELINE_NAMES.map((b) => `  ${b.padEnd(12)} ${rm(b)}   model skill ${skillText(g.skill[b])}`),
    `  +1 h: model ${lead(MODEL_NAME, 0)} vs persistence ${lead('persistence', 0)}; ` +
      `+${r.leads.length} h: model ${lead(MODEL_NAME, r.leads.length - 1)} vs persistence ${lead('persistence', r.leads.length - 1)} m/s`,
    `headline: skill over the same-input ridge (${r.headline.against}) ${skillText(g.skill[r.headline.against])} (${Math.round(r.method.bootstrap.level * 100)} % block-bootstrap interval)`,
    ...probabilisticLines(r),
    ...powerLines(r),
    `wrote ${result.files.markdown}, ${result.files.json}, ${result.files.chart} and the CRPS, coverage and PIT charts beside it (${(r.run.totalSeconds ?? r.run.seconds).toFixed(1)} s)`,
  ];
  return lines.join('\n');
}
