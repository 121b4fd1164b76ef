/**
 * The evaluation report: report.json (every number, for machines and for the record),
 * report.md (the tables a person reads) and the charts (RMSE by lead; CRPS by lead, coverage by
 * lead and the PIT histograms) each as PNG, as SVG and as its Vega-Lite spec (to restyle it),
 * written into one folder.
 *
 * In report.json a value that is undefined (no scorable pair, or a skill over a baseline
 * with zero error) is null. Units: m/s for RMSE, MAE and bias; skill is a fraction
 * (0.25 = 25 % lower RMSE than the baseline), and so are its interval's ends. Format 2:
 * "linear" is the same-input ridge, "linear-speed" the speed-only ridge that format 1 called
 * "linear"; global skills carry a 95 % block-bootstrap interval. Format 3 (this one) adds
 * "probabilistic" (quantile scores and their sums, always present) and "power" (with --turbine;
 * NMAE and NRMSE in % of rated power).
 */
import { mkdirSync } from 'node:fs';
import { writeFileAtomicSync } from '../core/atomic.js';
import { join } from 'node:path';
import type { GroupScores, Scores, Skill } from './metrics.js';
import type { LatitudeBand } from './regions.js';
import type { RmseChart } from './chart.js';
import { MIN_BLOCKS, type Interval, type SkillInterval } from './bootstrap.js';
import { count, f2, f3, pct, skillWithInterval, table } from './format.js';
import { formatPowerMarkdown, formatProbabilisticMarkdown, PROB_CHART_FILES } from './report-prob.js';
import type { ProbabilisticCharts } from './prob-charts.js';

export { skillWithInterval } from './format.js';
import type { ClimatologyKind } from './climatology.js';
import type { ProbabilisticReport } from './probabilistic.js';
import type { PowerReport } from './power-scores.js';

/** The baseline the headline skill is measured against: the same-input ridge. */
export const HEADLINE_BASELINE = 'linear';

/** A skill, with its 95 % interval in the global scores. */
export interface ReportSkill extends Skill {
  interval?: SkillInterval;
}

type ProbChart = keyof typeof PROB_CHART_FILES;
/** Each probabilistic chart's three files: `${key}Chart` (PNG), `${key}ChartSvg`, `${key}ChartSpec`. */
type ProbChartFiles = { [K in ProbChart as `${K}Chart` | `${K}ChartSvg` | `${K}ChartSpec`]: string };
const PROB_CHARTS = Object.keys(PROB_CHART_FILES) as ProbChart[];

export const REPORT_FILES = {
  json: 'report.json',
  markdown: 'report.md',
  chart: 'rmse_by_lead.png',
  chartSvg: 'rmse_by_lead.svg',
  chartSpec: 'rmse_by_lead.vl.json',
  ...(Object.fromEntries(
    PROB_CHARTS.flatMap((k) => [
      [`${k}Chart`, `${PROB_CHART_FILES[k]}.png`],
      [`${k}ChartSvg`, `${PROB_CHART_FILES[k]}.svg`],
      [`${k}ChartSpec`, `${PROB_CHART_FILES[k]}.vl.json`],
    ]),
  ) as ProbChartFiles),
};

export type ReportPaths = Record<keyof typeof REPORT_FILES, string>;

export interface GroupReport extends GroupScores {
  /** Human label, e.g. "tropics (|lat| < 23.5)". */
  label: string;
  /** Sampled cells in the group. */
  cells: number;
  /** Skill of the model over each baseline (global: with its interval). */
  skill: Record<string, ReportSkill>;
}

export interface EvaluationReport {
  format: 'windcast-evaluation';
  formatVersion: 3;
  createdAt: string;
  checkpoint: {
    dir: string;
    /** run/kind@epoch plus the first 12 hex digits of meta.json's sha256. */
    id: string;
    run: string;
    kind: string;
    epoch: number;
    savedAt: string;
    metaSha256: string;
  };
  data: {
    dir: string;
    fingerprint: string;
    hours: number;
    firstHour: string;
    lastHour: string;
    grid: string;
  };
  /** Hours are indices into the dataset, half-open [startHour, endHour); times are UTC. */
  testPeriod: {
    startHour: number;
    endHour: number;
    firstHour: string;
    lastHour: string;
    /** Hours between window starts. */
    stride: number;
    windows: number;
    /** Last observed hour of the first and last scored window. */
    firstIssue: string;
    lastIssue: string;
  };
  trainPeriod: { startHour: number; endHour: number; firstHour: string; lastHour: string };
  cellSample: { cellStride: number; full: boolean; cells: number; rows: number; columns: number };
  method: {
    weights: string;
    rmse: string;
    missing: string;
    bands: LatitudeBand[];
    bootstrap: {
      description: string;
      level: number;
      blockHours: number;
      /** Consecutive windows per block, and blocks per resample. */
      blockWindows: number;
      blocks: number;
      resamples: number;
      seed: number;
    };
  };
  baselines: {
    persistence: string;
    yesterday: string;
    climatology: { kind: ClimatologyKind; windowDays?: number; description: string };
    /** The same-input ridge. */
    linear: { description: string; inputs: number; features: string[]; lambda: number; validationRmse: number[]; windows: number };
    /** The speed-only ridge. */
    'linear-speed': { description: string; lookback: number; lambda: number; sampleCells: number; samples: number };
  };
  /** The headline: the model's mean skill over the same-input ridge, with its interval. */
  headline: { against: string; skill: number; interval: Interval };
  /** The model's series name; the others are baselines. */
  model: string;
  forecasters: string[];
  leads: number[];
  global: GroupReport;
  bands: GroupReport[];
  exclusions: Scores['exclusions'];
  /** Quantile scores: the model's (a quantile checkpoint) and the probabilistic baselines'. */
  probabilistic: ProbabilisticReport;
  /** Power scores through a turbine's curve (evaluate --turbine). */
  power?: PowerReport;
  run: {
    backend: string;
    seconds: number;
    forecastSeconds: number;
    baselineSeconds: number;
    /** Fitting each fitted baseline (included in baselineSeconds). */
    fitSeconds: Record<string, number>;
    bootstrapSeconds: number;
    /** Reading the data folder (or its cube cache); set by the command, not by evaluateCube. */
    loadSeconds?: number;
    /** Wall time of the whole command, loading the model and data included. */
    totalSeconds?: number;
    tensorsBefore: number;
    tensorsAfter: number;
    /** Merged from this many evaluate shards (windcast merge): the timings are sums over them. */
    shards?: number;
  };
}

/** Write report.json, report.md and the charts (PNG, SVG, Vega-Lite spec each) into dir; returns their paths. */
export function writeReport(dir: string, report: EvaluationReport, chart: RmseChart, prob: ProbabilisticCharts): ReportPaths {
  mkdirSync(dir, { recursive: true });
  const paths = Object.fromEntries(Object.entries(REPORT_FILES).map(([key, name]) => [key, join(dir, name)])) as ReportPaths;
  writeFileAtomicSync(paths.json, JSON.stringify(report, finiteOrNull, 2) + '\n');
  writeFileAtomicSync(paths.markdown, formatReportMarkdown(report));
  const charts: [RmseChart, string, string, string][] = [
    [chart, paths.chart, paths.chartSvg, paths.chartSpec],
    ...PROB_CHARTS.map((k): [RmseChart, string, string, string] => [prob[k], paths[`${k}Chart`], paths[`${k}ChartSvg`], paths[`${k}ChartSpec`]]),
  ];
  for (const [c, png, svg, spec] of charts) {
    writeFileAtomicSync(png, c.png);
    writeFileAtomicSync(svg, c.svg);
    writeFileAtomicSync(spec, JSON.stringify(c.spec, null, 2) + '\n');
  }
  return paths;
}

function finiteOrNull(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? null : value;
}

/** The Markdown report. */
export function formatReportMarkdown(r: EvaluationReport): string {
  const baselines = r.forecasters.filter((n) => n !== r.model);
  const g = r.global;
  const out: string[] = [];
  out.push(`# windcast evaluation: ${r.checkpoint.id}`);
  out.push('');
  out.push(`- Checkpoint: \`${r.checkpoint.dir}\` (run ${r.checkpoint.run}, ${r.checkpoint.kind}, epoch ${r.checkpoint.epoch}, saved ${r.checkpoint.savedAt})`);
  out.push(`- Data: \`${r.data.dir}\`, ${r.data.hours} hours ${r.data.firstHour} .. ${r.data.lastHour}, fingerprint \`${r.data.fingerprint}\``);
  out.push(`- Grid: ${r.data.grid}`);
  out.push(`- Test period (the checkpoint's own split): hours ${r.testPeriod.startHour}..${r.testPeriod.endHour - 1}, ${r.testPeriod.firstHour} .. ${r.testPeriod.lastHour}`);
  out.push(`- Windows: ${r.testPeriod.windows}, one every ${r.testPeriod.stride} h, issued (last observed hour) ${r.testPeriod.firstIssue} .. ${r.testPeriod.lastIssue}`);
  out.push(`- Cells: ${r.cellSample.full ? 'every cell' : `every ${r.cellSample.cellStride}th row and column`}: ${count(r.cellSample.cells)} cells (${r.cellSample.rows} rows x ${r.cellSample.columns} columns)`);
  out.push(`- Baselines fitted on the training period: hours ${r.trainPeriod.startHour}..${r.trainPeriod.endHour - 1}, ${r.trainPeriod.firstHour} .. ${r.trainPeriod.lastHour}`);
  out.push(
    `- Backend: ${r.run.backend}; scoring took ${r.run.seconds.toFixed(1)} s (model forecasts ${r.run.forecastSeconds.toFixed(1)} s, baselines ${r.run.baselineSeconds.toFixed(1)} s)` +
      (r.run.loadSeconds !== undefined ? `, reading the data ${r.run.loadSeconds.toFixed(1)} s` : '') +
      (r.run.shards !== undefined ? `; merged from ${r.run.shards} shards, times summed over them` : ''),
  );
  out.push('');
  const bs = r.method.bootstrap;
  const [low, high] = r.headline.interval;
  const hasInterval = Number.isFinite(low) && Number.isFinite(high);
  const verdict = hasInterval
    ? low > 0
      ? 'the model is better than it beyond the interval'
      : high < 0
        ? 'the model is worse than it beyond the interval'
        : 'the interval includes 0: no clear difference'
    : bs.blocks < MIN_BLOCKS
      ? `no interval: the ${r.testPeriod.windows} test windows make ${bs.blocks} block${bs.blocks === 1 ? '' : 's'} of ${bs.blockHours} h (evaluate.bootstrapBlockHours), fewer than the ${MIN_BLOCKS} an interval needs`
      : 'no interval: some lead has no scored value';
  out.push(
    `**Headline: skill over the same-input ridge ("${r.headline.against}") ${skillWithInterval(r.headline.skill, r.headline.interval)}** ` +
      `(mean over leads${hasInterval ? `, ${Math.round(bs.level * 100)} % interval` : ''}); ${verdict}.`,
  );
  out.push('');

  out.push('## Summary (mean over leads +1..+' + r.leads.length + ' h, area-weighted)');
  out.push('');
  out.push(
    table(
      ['forecast', 'RMSE (m/s)', 'MAE (m/s)', 'bias (m/s)', `model skill over it [${Math.round(bs.level * 100)} % interval]`],
      r.forecasters.map((n) => [
        n === r.model ? `**${n}**` : n,
        f3(g.forecasters[n]!.mean.rmse),
        f3(g.forecasters[n]!.mean.mae),
        f3(g.forecasters[n]!.mean.bias),
        n === r.model ? '' : skillWithInterval(g.skill[n]?.mean, g.skill[n]?.interval?.mean),
      ]),
    ),
  );
  out.push('');
  out.push(
    `Skill = 1 - RMSE(model) / RMSE(baseline): positive means the model is better. Intervals: a block bootstrap over the ${r.testPeriod.windows} test windows, ` +
      `${bs.blocks} blocks of ${bs.blockWindows} consecutive windows per resample, ${bs.resamples} resamples` +
      (bs.blocks < MIN_BLOCKS
        ? `; fewer than ${MIN_BLOCKS} blocks cannot show how the skill varies, so there are none (a longer test period gives more).`
        : bs.blocks < 10
          ? `; with only ${bs.blocks} blocks the intervals are rough (a longer test period gives more).`
          : '.'),
  );
  out.push('');

  out.push('## RMSE by lead hour (m/s, area-weighted)');
  out.push('');
  out.push(
    table(
      ['lead', ...r.forecasters, ...baselines.map((b) => `skill vs ${b}`)],
      r.leads.map((lead, l) => [
        `+${lead} h`,
        ...r.forecasters.map((n) => f3(g.forecasters[n]!.rmse[l])),
        ...baselines.map((b) => skillWithInterval(g.skill[b]?.perLead[l], g.skill[b]?.interval?.perLead[l])),
      ]),
    ),
  );
  out.push('');

  out.push('## MAE and bias by lead hour (m/s)');
  out.push('');
  out.push(
    table(
      ['lead', ...r.forecasters.map((n) => `MAE ${n}`), ...r.forecasters.map((n) => `bias ${n}`)],
      r.leads.map((lead, l) => [
        `+${lead} h`,
        ...r.forecasters.map((n) => f3(g.forecasters[n]!.mae[l])),
        ...r.forecasters.map((n) => f3(g.forecasters[n]!.bias[l])),
      ]),
    ),
  );
  out.push('');

  out.push('## By latitude band (mean over leads)');
  out.push('');
  out.push(
    table(
      ['band', 'cells', ...r.forecasters.map((n) => `RMSE ${n}`), ...baselines.map((b) => `skill vs ${b}`)],
      r.bands.map((b) => [
        b.label,
        count(b.cells),
        ...r.forecasters.map((n) => f2(b.forecasters[n]!.mean.rmse)),
        ...baselines.map((n) => pct(b.skill[n]?.mean)),
      ]),
    ),
  );
  out.push('');

  out.push(...formatProbabilisticMarkdown(r.probabilistic, r.model));
  if (r.power) out.push(...formatPowerMarkdown(r.power));

  out.push('## Missing values');
  out.push('');
  const scored = g.scored.reduce((a, b) => a + b, 0);
  const excluded = g.excluded.reduce((a, b) => a + b, 0);
  out.push(
    `${count(scored)} (cell, window, lead) values scored, ${count(excluded)} excluded (${pct(excluded / Math.max(1, scored + excluded))}). ` +
      `A value is scored only when the truth and every forecast are finite, so all forecasts are compared on the same values. ` +
      `Not finite: truth ${count(r.exclusions.truthNotFinite)}; ` +
      r.forecasters.map((n) => `${n} ${count(r.exclusions.forecastNotFinite[n] ?? 0)}`).join(', ') +
      '.',
  );
  out.push('');

  out.push('## Method');
  out.push('');
  out.push(`- Weights: ${r.method.weights}`);
  out.push(`- RMSE: ${r.method.rmse}`);
  out.push(`- Missing values: ${r.method.missing}`);
  out.push(`- Bands: ${r.method.bands.map((b) => b.label).join('; ')} (by the latitude of the cell centre).`);
  out.push(`- Intervals: ${bs.description}.`);
  out.push(`- persistence: ${r.baselines.persistence}`);
  out.push(`- yesterday: ${r.baselines.yesterday}`);
  out.push(`- climatology: ${r.baselines.climatology.description}`);
  const lin = r.baselines.linear;
  out.push(`- linear: ${lin.description} (penalty ${lin.lambda}; validation RMSE ${lin.validationRmse.map((v) => f3(v)).join(', ')} m/s for the penalties tried).`);
  const speed = r.baselines['linear-speed'];
  out.push(`- linear-speed: ${speed.description} (${count(speed.samples)} training windows from ${count(speed.sampleCells)} cells).`);
  out.push('');
  out.push(`![RMSE by lead hour](${REPORT_FILES.chart})`);
  out.push('');
  out.push(`The chart is also in [${REPORT_FILES.chartSvg}](${REPORT_FILES.chartSvg}) and, to restyle it, as the Vega-Lite spec [${REPORT_FILES.chartSpec}](${REPORT_FILES.chartSpec}) (data inline).`);
  out.push('');
  return out.join('\n');
}
