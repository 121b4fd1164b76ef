/**
 * `windcast demo`: every stage on one command, on built-in synthetic data.
 *
 * synth (reused when data/ already holds the same set) -> train -> evaluate on the held-out
 * test period -> predict the next 24 hours with maps and a few wind-farm sites -> a summary of
 * where everything is and the headline skill. Each stage is the same function the CLI
 * subcommand runs, so the demo exercises exactly what users run.
 *
 * Where native TensorFlow is not available the model trains on wasm, roughly 15x slower; the
 * demo then cuts its training and evaluation budget (said plainly in the output) so it still
 * finishes in about half an hour. A coarse grid (--step 1 or more, as CI's new-user run uses)
 * is a quick look and gets the same smaller budget.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config } from '../core/config.js';
import type { CommandContext } from './context.js';
import { formatDuration } from '../core/progress.js';
import { skillWithInterval } from '../evaluate/report.js';
import type { EvaluateResult } from './evaluate.js';
import type { PredictResult } from './predict.js';
import type { SynthResult } from './synth.js';
import type { TrainResult } from './train.js';

export interface DemoArgs {
  /** Folder for the synthetic dataset (default data/synth, or data/synth-<step> off the default grid). */
  data?: string;
  modelsDir?: string;
  run?: string;
}

/** Sites printed at the end: offshore and onshore wind farms on several continents. */
export const DEMO_SITES = [
  'Hornsea=53.88,1.79',
  'Roscoe_TX=32.45,-100.54',
  'Gansu=40.2,97.0',
  'Lake_Turkana=2.5,36.8',
  'Macarthur_AU=-38.0,142.2',
];

export interface DemoResult {
  data: string;
  dataReused: boolean;
  synth?: SynthResult;
  train: TrainResult;
  evaluate: EvaluateResult;
  predict: PredictResult;
  backend: string;
  /** Set when the demo cut its budget because native TensorFlow is not available. */
  reducedBudget?: string;
  seconds: { synth: number; train: number; evaluate: number; predict: number; total: number };
}

/**
 * The training and evaluation budget for a quick run: a backend slower than native TensorFlow
 * (about 15x for this LSTM), or a coarse grid that asks for a quick look.
 */
export function reducedBudget(config: Config, reason: 'slow-backend' | 'coarse-grid' = 'slow-backend'): { config: Config; note: string } {
  const train = {
    ...config.train,
    epochs: Math.min(config.train.epochs, 3),
    samplesPerEpoch: Math.min(config.train.samplesPerEpoch, 60_000),
    validationSamples: Math.min(config.train.validationSamples, 20_000),
  };
  const evaluate = { ...config.evaluate, cellStride: Math.max(config.evaluate.cellStride, 8), stride: Math.max(config.evaluate.stride, 12) };
  const budget =
    `${train.epochs} epochs of ${train.samplesPerEpoch.toLocaleString('en-US')} samples ` +
    `(default ${config.train.epochs} x ${config.train.samplesPerEpoch.toLocaleString('en-US')}), evaluation every ${evaluate.cellStride}th row/column every ${evaluate.stride} h`;
  const note =
    reason === 'slow-backend'
      ? `native TensorFlow is not active, so the demo trains on a smaller budget: ${budget}; run \`npm run setup:native\` for the full demo`
      : `a coarse grid (--step ${config.synth.step}) is a quick look, so the demo trains on a smaller budget: ${budget}`;
  return { config: { ...config, train, evaluate }, note };
}

/** True when `dir` holds a complete `windcast synth` set made with these settings. */
export function synthSetMatches(dir: string, config: Config): boolean {
  const manifestPath = join(dir, 'synth.json');
  if (!existsSync(manifestPath)) return false;
  let manifest: { seed?: number; start?: string; hours?: number; bands?: string; grid?: { dLon?: number; width?: number; height?: number; lon0?: number }; files?: string[] };
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch {
    return false;
  }
  const s = config.synth;
  const startHour = s.start.slice(0, 13);
  const lon0 = s.lon180 ? -180 : 0;
  const sameSettings =
    manifest.seed === s.seed &&
    manifest.hours === s.hours &&
    manifest.bands === s.bands &&
    typeof manifest.start === 'string' &&
    manifest.start.slice(0, 13) === startHour &&
    manifest.grid?.dLon === s.step &&
    s.bbox === null &&
    manifest.grid?.lon0 === lon0;
  return sameSettings && Array.isArray(manifest.files) && manifest.files.every((f) => existsSync(join(dir, f)));
}

export async function demo(args: DemoArgs, ctx: CommandContext): Promise<DemoResult> {
  const started = performance.now();
  const { progress } = ctx;
  const step = ctx.config.synth.step;
  const data = resolve(args.data ?? (step === 0.25 ? 'data/synth' : `data/synth-${step}`));
  const modelsDir = resolve(args.modelsDir ?? ctx.config.runtime.modelsDir);
  const run = args.run ?? (step === 0.25 ? 'demo' : `demo-${step}`);
  const runDir = join(modelsDir, run);
  const seconds = { synth: 0, train: 0, evaluate: 0, predict: 0, total: 0 };
  const stage = (n: number, text: string) => progress.log(`\n[${n}/4] ${text}`);

  const { loadBackend, formatBackendLine } = await import('../runtime/backend.js');
  const { info } = await loadBackend(ctx.config.runtime.backend, (line) => progress.log(line));
  let config = ctx.config;
  let budgetNote: string | undefined;
  if (info.name !== 'tensorflow' || step >= 1) {
    const reduced = reducedBudget(config, info.name !== 'tensorflow' ? 'slow-backend' : 'coarse-grid');
    config = reduced.config;
    budgetNote = reduced.note;
    progress.log(`note: ${budgetNote}`);
  }
  const stageCtx: CommandContext = { ...ctx, config };

  let t = performance.now();
  let synthResult: SynthResult | undefined;
  const dataReused = synthSetMatches(data, config);
  if (dataReused) {
    stage(1, `synthetic data: reusing ${data} (same seed, hours and grid)`);
  } else {
    stage(1, `synthetic data: ${config.synth.hours} hourly global grids at ${step} deg -> ${data}`);
    const { synth } = await import('./synth.js');
    synthResult = await synth({ out: data }, stageCtx);
  }
  seconds.synth = (performance.now() - t) / 1000;

  stage(2, `training run "${run}" -> ${runDir}`);
  t = performance.now();
  const { train } = await import('./train.js');
  // A fresh run each time: an earlier demo's checkpoint may come from other data or settings.
  const trainResult = await train({ data, run, modelsDir, force: true }, stageCtx);
  seconds.train = (performance.now() - t) / 1000;

  stage(3, 'evaluation on the held-out test period');
  t = performance.now();
  const { evaluate } = await import('./evaluate.js');
  const evaluateResult = await evaluate({ model: join(runDir, 'best'), data, out: join(runDir, 'evaluation') }, stageCtx);
  seconds.evaluate = (performance.now() - t) / 1000;

  stage(4, 'forecast of the next 24 hours, with maps and wind-farm sites');
  t = performance.now();
  const { predict } = await import('./predict.js');
  // Maps of the point forecast; the quantile GeoTIFFs of the global grid (24 files of 7 bands,
  // about 10 s here) are left to `windcast predict`, and the sites below carry the quantiles.
  const pngConfig: Config = { ...config, predict: { ...config.predict, png: true, quantileMaps: false } };
  const predictResult = await predict({ model: join(runDir, 'best'), data, out: join(runDir, 'forecast') }, { ...stageCtx, config: pngConfig });
  const sitesResult = await predict(
    { model: join(runDir, 'best'), data, out: join(runDir, 'forecast', 'sites'), points: DEMO_SITES },
    stageCtx,
  );
  seconds.predict = (performance.now() - t) / 1000;
  seconds.total = (performance.now() - started) / 1000;

  return {
    data,
    dataReused,
    synth: synthResult,
    train: trainResult,
    evaluate: evaluateResult,
    predict: { ...predictResult, sites: sitesResult.sites, csv: sitesResult.csv, json: sitesResult.json, ...(sitesResult.fanCharts ? { fanCharts: sitesResult.fanCharts } : {}) },
    backend: formatBackendLine(info),
    reducedBudget: budgetNote,
    seconds,
  };
}

export function formatDemoResult(r: DemoResult): string {
  const report = r.evaluate.report;
  const g = report.global;
  const model = g.forecasters[report.model]?.mean.rmse;
  const lines: string[] = [];
  lines.push('');
  lines.push(`windcast demo finished in ${formatDuration(r.seconds.total)} (synth ${formatDuration(r.seconds.synth)}, train ${formatDuration(r.seconds.train)}, evaluate ${formatDuration(r.seconds.evaluate)}, predict ${formatDuration(r.seconds.predict)})`);
  lines.push(r.backend);
  if (r.reducedBudget) lines.push(`note: ${r.reducedBudget}`);
  lines.push('');
  lines.push('Headline (test period, area-weighted, mean over leads +1..+24 h):');
  lines.push(`  model RMSE ${model !== undefined ? model.toFixed(3) : 'n/a'} m/s`);
  for (const name of report.forecasters.filter((n) => n !== report.model)) {
    const rmse = g.forecasters[name]?.mean.rmse;
    const skill = g.skill[name];
    lines.push(`  vs ${name.padEnd(12)} RMSE ${rmse !== undefined ? rmse.toFixed(3) : 'n/a'} m/s, skill ${skillWithInterval(skill?.mean, skill?.interval?.mean)}${name === report.headline.against ? ' (the same-input ridge: the fair linear baseline)' : ''}`);
  }
  lines.push('');
  lines.push('Where everything is:');
  lines.push(`  data         ${r.data}${r.dataReused ? ' (reused)' : ''}`);
  lines.push(`  checkpoint   ${join(r.train.runDir, 'best')} (epoch log ${r.train.logFile})`);
  lines.push(`  report       ${r.evaluate.files.markdown}`);
  lines.push(`               ${r.evaluate.files.json}`);
  lines.push(`  chart        ${r.evaluate.files.chart}`);
  lines.push(`  forecasts    ${r.predict.out} (${r.predict.leads.length} GeoTIFFs, issue time ${r.predict.issueTime})`);
  if (r.predict.png) lines.push(`  maps         ${r.predict.png}`);
  if (r.predict.csv) lines.push(`  sites        ${r.predict.csv}`);
  if (r.predict.fanCharts?.length) lines.push(`  fan charts   ${r.predict.fanCharts.length} (speed quantiles per site), e.g. ${r.predict.fanCharts[0]}`);
  lines.push('');
  const firstLead = r.predict.leads[0]?.file ?? r.predict.multiband;
  if (firstLead) lines.push(`Open a forecast: gdalinfo -stats ${firstLead}`);
  return lines.join('\n');
}
