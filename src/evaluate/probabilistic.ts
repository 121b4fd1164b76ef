/**
 * The probabilistic part of an evaluation: the model's quantiles (when its checkpoint has a
 * quantile head) beside the three probabilistic baselines (quantile-baselines.ts), scored at
 * the model's levels on the windows and cells the point scores use (quantile-scores.ts), with
 * block-bootstrap intervals on the CRPS skills (bootstrap.ts).
 *
 * A point checkpoint (no meta.model.quantiles) still gets the baselines, scored at the default
 * levels, so its report shows what a quantile model of the same data would have to beat; the
 * report says the model has no quantiles.
 */
import type { Cube } from '../ingest/cube.js';
import { DEFAULTS } from '../core/config.js';
import type { FeatureContext } from '../prepare/features.js';
import type { SameInputRidge } from '../prepare/ridge.js';
import type { TimeSplit } from '../prepare/split.js';
import { blockWindowsFor, bootstrapRatioSkill, type SkillInterval } from './bootstrap.js';
import type { Climatology, HourRange } from './climatology.js';
import { dressBaselines, fitDressing, QUANTILE_BASELINE_NAMES, type ClimatologyQuantiles, type fitClimatologyQuantiles, type QuantileBaselineSet } from './quantile-baselines.js';
import { crpsSkill, QuantileAccumulator, type QuantileGroupScores } from './quantile-scores.js';

/** The levels a point checkpoint's baselines are scored at: the schema's default model.quantiles. */
export const DEFAULT_LEVELS: readonly number[] = DEFAULTS.model.quantiles;

export const CRPS_METHOD =
  'CRPS = 2 x the integral over tau of the pinball loss, by a Riemann sum with nodes at the quantile levels: 2 sum_k w_k pinball_tau_k(y - q_k), w_k the width of the tau cell around tau_k (half-way to the neighbouring levels, the outer cells reaching 0 and 1); ' +
  'a positively weighted sum of pinball losses, so consistent for every quantile, with no tail model: it leaves out most of the spread beyond the outer levels (0.983 of the exact CRPS for a calibrated Gaussian at the default levels), the same for every forecaster';

export interface ProbabilisticSkill {
  perLead: number[];
  mean: number;
  interval?: SkillInterval;
}

export interface ProbabilisticGroup extends QuantileGroupScores {
  label: string;
  /** CRPS skill of the model over each baseline (absent without model quantiles). */
  skill: Record<string, ProbabilisticSkill>;
}

export interface ProbabilisticReport {
  /** True when the checkpoint forecasts quantiles (then the model is scored). */
  modelQuantiles: boolean;
  note: string;
  levels: number[];
  crpsWeights: number[];
  crpsMethod: string;
  aggregation: string;
  intervals: string[];
  spreadInterval: string | null;
  forecasters: string[];
  baselines: Record<(typeof QUANTILE_BASELINE_NAMES)[number], string>;
  fit: { windows: number; areaWeighted: boolean; persistenceErrorQuantiles: number[][]; ridgeSigma: number[] };
  global: ProbabilisticGroup;
  bands: ProbabilisticGroup[];
  bootstrap: { blockWindows: number; blocks: number; resamples: number; seed: number; level: number };
}

export interface ProbabilisticSetup {
  /** Fits the climatological quantiles on the cube, resident or on disk (cube-access.ts). */
  fitClimatologyQuantiles: (o: Parameters<typeof fitClimatologyQuantiles>[1]) => ClimatologyQuantiles;
  /** The scored cells and the climatology (test-period means) of the point baselines. */
  cells: Int32Array;
  climatology: Climatology;
  trainHours: HourRange;
  /** The same-input ridge, its feature context and the settings it was fitted with. */
  ctx: FeatureContext;
  ridge: SameInputRidge;
  split: TimeSplit;
  fitWindows: number;
  seed: number;
  /** The model's quantile levels; empty for a point checkpoint. */
  modelLevels: readonly number[];
  horizon: number;
  groupNames: readonly string[];
  /** Keep each window's sums (an evaluate shard, quantile-scores.ts windowRecords). */
  recordWindows?: boolean;
}

/** What the report section needs beside the scores: the levels, the forecasters and the baselines' fit. */
export interface ProbabilisticFit {
  modelQuantiles: boolean;
  levels: number[];
  names: string[];
  horizon: number;
  fit: ProbabilisticReport['fit'];
}

export interface ProbabilisticFinish {
  bandLabels: readonly string[];
  blockHours: number;
  stride: number;
  resamples: number;
  seed: number;
}

export const MODEL = 'model';

/** Scores quantile forecasts window by window; finish() gives the report section. */
export class ProbabilisticEvaluation {
  readonly levels: readonly number[];
  readonly modelQuantiles: boolean;
  readonly names: string[];
  private readonly set: QuantileBaselineSet;
  private readonly acc: QuantileAccumulator;
  private readonly outs: Float32Array[];
  private readonly H: number;
  readonly fitSeconds: number;

  constructor(o: ProbabilisticSetup) {
    const t = performance.now();
    this.modelQuantiles = o.modelLevels.length > 0;
    this.levels = this.modelQuantiles ? [...o.modelLevels] : DEFAULT_LEVELS;
    this.H = o.horizon;
    const climatology = o.fitClimatologyQuantiles({ hours: o.trainHours, cells: o.cells, levels: this.levels, clim: o.climatology });
    const dressing = fitDressing(o.ctx, o.ridge, { split: o.split, windows: o.fitWindows, seed: o.seed, levels: this.levels });
    this.set = { climatology, dressing };
    this.names = [...(this.modelQuantiles ? [MODEL] : []), ...QUANTILE_BASELINE_NAMES];
    this.acc = new QuantileAccumulator({ names: this.names, horizon: o.horizon, levels: this.levels, groupNames: o.groupNames, ...(o.recordWindows ? { recordWindows: true } : {}) });
    const size = o.cells.length * o.horizon * this.levels.length;
    this.outs = QUANTILE_BASELINE_NAMES.map(() => new Float32Array(size));
    this.fitSeconds = (performance.now() - t) / 1000;
  }

  /** A buffer for the model's quantiles of one window (undefined for a point model). */
  modelBuffer(): Float32Array | undefined {
    return this.modelQuantiles ? new Float32Array(this.set.climatology.cells.length * this.H * this.levels.length) : undefined;
  }

  /** Score one window from the point baselines of forecastBaselines and the model's quantiles. */
  add(o: { cube: Cube; t0: number; truth: Float32Array; model?: Float32Array; climatology: Float32Array; persistence: Float32Array; linear: Float32Array; weights: ArrayLike<number>; groups: ArrayLike<number> }): void {
    dressBaselines(this.set, { cube: o.cube, t0: o.t0, horizon: this.H, climatology: o.climatology, persistence: o.persistence, linear: o.linear, outs: this.outs });
    const forecasts = this.modelQuantiles ? [o.model!, ...this.outs] : this.outs;
    this.acc.add(o.truth, forecasts, o.weights, o.groups);
  }

  /** The accumulator of the scores (an evaluate shard writes its window records). */
  get accumulator(): QuantileAccumulator {
    return this.acc;
  }

  /** The levels, forecasters and baselines' fit, as the report gives them. */
  fitSummary(): ProbabilisticFit {
    const { dressing } = this.set;
    const K = this.levels.length;
    return {
      modelQuantiles: this.modelQuantiles,
      levels: [...this.levels],
      names: [...this.names],
      horizon: this.H,
      fit: {
        windows: dressing.windows,
        areaWeighted: dressing.areaWeighted,
        persistenceErrorQuantiles: Array.from({ length: this.H }, (_, l) => Array.from(dressing.persistence.subarray(l * K, (l + 1) * K))),
        ridgeSigma: Array.from(dressing.ridgeSigma),
      },
    };
  }

  finish(o: ProbabilisticFinish): ProbabilisticReport {
    return probabilisticReport(this.acc, this.fitSummary(), o);
  }
}

/** An accumulator made for the scores of `fit` (merge absorbs the shards' windows into it). */
export function probabilisticAccumulator(fit: ProbabilisticFit, groupNames: readonly string[]): QuantileAccumulator {
  return new QuantileAccumulator({ names: fit.names, horizon: fit.horizon, levels: fit.levels, groupNames });
}

/** The report section: the scores, the CRPS skills and their block-bootstrap intervals. */
export function probabilisticReport(acc: QuantileAccumulator, f: ProbabilisticFit, o: ProbabilisticFinish): ProbabilisticReport {
  const scores = acc.result();
  const modelQuantiles = f.modelQuantiles;
  const bootstrap = modelQuantiles
    ? bootstrapRatioSkill({ stats: acc.windowSums(), model: MODEL, baselines: QUANTILE_BASELINE_NAMES, blockWindows: blockWindowsFor(o.blockHours, o.stride), resamples: o.resamples, seed: o.seed })
    : undefined;
  const group = (g: QuantileGroupScores, label: string, intervals: boolean): ProbabilisticGroup => {
    const skill: Record<string, ProbabilisticSkill> = {};
    if (modelQuantiles) {
      for (const b of QUANTILE_BASELINE_NAMES) {
        skill[b] = { ...crpsSkill(g.forecasters[MODEL]!, g.forecasters[b]!), ...(intervals && bootstrap ? { interval: bootstrap.skill[b]! } : {}) };
      }
    }
    return { ...g, label, skill };
  };
  const K = f.levels.length;
  const fitWindows = f.fit.windows;
  return {
    modelQuantiles,
    note: modelQuantiles
      ? `the model's ${K} quantiles beside three probabilistic baselines, all at the model's levels`
      : `the checkpoint has no quantiles (a point model): only the probabilistic baselines are scored, at the default levels, for reference`,
    levels: [...f.levels],
    crpsWeights: scores.crpsWeights,
    crpsMethod: CRPS_METHOD,
    aggregation:
      'per lead, the pooled area-weighted mean over every scored (cell, window) pair, sum(w x score) / sum(w) (the sums are in each forecaster\'s "sums", the weights in "weight"): ' +
      "WeatherBench 2's time mean of weighted spatial means when every window scores the same cells; lead means are plain means over the leads; reliability and PIT pool all leads",
    intervals: scores.intervals,
    spreadInterval: scores.spreadInterval,
    forecasters: [...f.names],
    baselines: {
      climatology:
        "per cell and UTC hour of day, the training period's empirical (Hazen) quantiles of the anomaly from the climatology's mean, added to that mean at the target hour (by hour of day: the quantiles of the cell's training values at that hour)",
      persistence: `the last observed speed plus the training period's persistence-error quantiles per lead (pooled over ${fitWindows.toLocaleString('en-US')} training windows, the same-input ridge's)`,
      linear: `the same-input ridge plus Gaussian residuals, sigma per lead the RMS of its residuals on its ${fitWindows.toLocaleString('en-US')} training windows`,
    },
    fit: f.fit,
    global: group(scores.global, 'global', true),
    bands: scores.groups.map((g, i) => group(g, o.bandLabels[i] ?? g.name, false)),
    bootstrap: bootstrap
      ? { blockWindows: bootstrap.blockWindows, blocks: bootstrap.blocks, resamples: bootstrap.resamples, seed: bootstrap.seed, level: bootstrap.level }
      : { blockWindows: blockWindowsFor(o.blockHours, o.stride), blocks: 0, resamples: 0, seed: o.seed, level: 0.95 },
  };
}
