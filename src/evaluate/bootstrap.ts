/**
 * How sure a skill figure is: a 95 % interval from a circular block bootstrap over the test
 * windows (Politis and Romano 1992), so that a 0.3 % win reads as what it is.
 *
 * Consecutive windows are not independent: with a 24 h horizon and windows every few hours
 * they share target hours, and weather regimes (a storm, a calm spell) last days, so one bad
 * week moves many windows together. Resampling single windows would treat them as independent
 * and give intervals far too narrow; resampling blocks of consecutive windows keeps that
 * dependence inside each block. A block must be longer than the dependence: the default
 * block is 4 days (evaluate.bootstrapBlockHours), the 24 h overlap of the horizon plus the
 * 2-3 days a synoptic system takes to pass, so blocks a few days apart are close to
 * independent. Measured on the two ERA5 development sets (same-input ridge against the
 * speed-only ridge and persistence, windows every hour): the interval widens with the block
 * up to 24-48 h and is flat beyond (Arabian Sea test years: 0.35 points wide with single
 * windows, 1.11 with 24 h blocks, 1.25 with 48, 96 and 192 h), so 96 h is past the
 * dependence there and in Berlin 2017 while leaving 18 blocks in Berlin's 73-day test period.
 * The windows form a circle (the last block wraps to the first windows) so every window is
 * drawn equally often.
 *
 * Each resample draws ceil(n / block) block starts uniformly (seeded, so the same report
 * gives the same interval), takes n windows, and recomputes every forecaster's RMSE per lead
 * from the windows' MSEs (metrics.ts WindowStats), then the skill 1 - RMSE_model /
 * RMSE_baseline per lead and on the lead means, as the point estimate is computed. The
 * interval is the 2.5th to 97.5th percentile of the resampled skills. The CRPS skills are
 * resampled the same way (bootstrapRatioSkill) from per-window sums of w x CRPS and of w. Block sums come from
 * prefix sums, so a resample costs (blocks x leads x forecasters) additions. A test period
 * shorter than five blocks gets no interval (NaN): with fewer, every resample is nearly the
 * test period again and the interval is falsely narrow, and a shorter block would hide the
 * dependence instead.
 */
import type { WindowStats } from './metrics.js';
import { makeRng } from '../prepare/windows.js';

/** Fewer blocks than this per resample give no interval. */
export const MIN_BLOCKS = 5;

/** [low, high] of a skill (fractions, like the skill); NaN when it cannot be estimated. */
export type Interval = [number, number];

export interface SkillInterval {
  /** Of the skill on the lead-mean RMSEs. */
  mean: Interval;
  /** Per lead, index lead - 1. */
  perLead: Interval[];
}

export interface BootstrapOptions {
  stats: WindowStats;
  model: string;
  baselines: readonly string[];
  /** Consecutive windows per block (at least 1; at most the number of windows). */
  blockWindows: number;
  resamples: number;
  seed: number;
  /** Coverage of the interval (default 0.95). */
  level?: number;
}

export interface BootstrapResult {
  level: number;
  resamples: number;
  seed: number;
  /** Windows per block, as used (capped at the number of windows). */
  blockWindows: number;
  /**
   * Blocks per resample: ceil(windows / blockWindows). Below MIN_BLOCKS there is no interval
   * (NaN); below about 10 it is rough.
   */
  blocks: number;
  skill: Record<string, SkillInterval>;
}

/** Skill intervals of `model` against each baseline from a block bootstrap over windows. */
export function bootstrapSkill(o: BootstrapOptions): BootstrapResult {
  const { stats } = o;
  return bootstrapRatioSkill({ ...o, stats: { names: stats.names, horizon: stats.horizon, windows: stats.windows, sums: stats.mse, weights: Float64Array.from(stats.scored) }, root: true });
}

/**
 * Per window and lead, each forecaster's sum of a score and the weight it is a mean over: the
 * score over a set of windows is sum(sums) / sum(weights) (RMSE: per-window MSEs and 1 per
 * scored window, then a square root; CRPS: sums of w x CRPS and of w).
 */
export interface WindowSums {
  names: readonly string[];
  horizon: number;
  windows: number;
  /** Index (window * horizon + lead - 1) * names.length + forecaster. */
  sums: Float64Array;
  /** Index window * horizon + lead - 1. */
  weights: Float64Array;
}

/**
 * WindowSums built window by window (the quantile and power accumulators): next() makes room
 * for one more window, at zero, and returns its index; done() counts it in.
 */
export class WindowSumsBuffer {
  windows = 0;
  /** Index (window * horizon + lead) * names.length + forecaster; valid up to next()'s window. */
  sums = new Float64Array(0);
  /** Index window * horizon + lead. */
  weights = new Float64Array(0);
  constructor(
    readonly names: readonly string[],
    readonly horizon: number,
  ) {}

  next(): number {
    const H = this.horizon;
    const need = this.windows + 1;
    if (need * H > this.weights.length) {
      const capacity = Math.max(64, 2 * need);
      const sums = new Float64Array(capacity * H * this.names.length);
      sums.set(this.sums);
      const weights = new Float64Array(capacity * H);
      weights.set(this.weights);
      this.sums = sums;
      this.weights = weights;
    }
    return this.windows;
  }

  done(): void {
    this.windows++;
  }

  /** A copy of the windows done so far. */
  result(): WindowSums {
    const H = this.horizon;
    return { names: [...this.names], horizon: H, windows: this.windows, sums: this.sums.slice(0, this.windows * H * this.names.length), weights: this.weights.slice(0, this.windows * H) };
  }
}

/**
 * The same bootstrap for any score that is a ratio of window sums: skill 1 - score_model /
 * score_baseline, the score sqrt(sum / weight) with root (RMSE), else sum / weight (CRPS).
 */
export function bootstrapRatioSkill(o: Omit<BootstrapOptions, 'stats'> & { stats: WindowSums; root?: boolean }): BootstrapResult {
  const { stats } = o;
  const level = o.level ?? 0.95;
  const H = stats.horizon;
  const F = stats.names.length;
  const n = stats.windows;
  const m = stats.names.indexOf(o.model);
  if (m < 0) throw new Error(`no forecaster named '${o.model}' among ${stats.names.join(', ')}`);
  const bIdx = o.baselines.map((b) => {
    const i = stats.names.indexOf(b);
    if (i < 0) throw new Error(`no forecaster named '${b}' among ${stats.names.join(', ')}`);
    return i;
  });
  if (!(Number.isInteger(o.resamples) && o.resamples >= 1)) throw new Error(`bootstrap resamples must be a positive integer, got ${o.resamples}`);
  if (!(Number.isInteger(o.blockWindows) && o.blockWindows >= 1)) throw new Error(`bootstrap blocks must hold a positive whole number of windows, got ${o.blockWindows}`);
  const b = Math.max(1, Math.min(o.blockWindows, n));
  const blocks = n > 0 ? Math.ceil(n / b) : 0;
  const nanInterval = (): SkillInterval => ({ mean: [NaN, NaN], perLead: Array.from({ length: H }, (): Interval => [NaN, NaN]) });
  const result: BootstrapResult = { level, resamples: o.resamples, seed: o.seed, blockWindows: b, blocks, skill: {} };
  // With few blocks every resample is nearly the test period again (one block: exactly it), and
  // the interval comes out far too narrow. No interval, rather than a false one.
  if (blocks < MIN_BLOCKS) {
    for (const name of o.baselines) result.skill[name] = nanInterval();
    return result;
  }

  // Prefix sums over the windows taken twice round the circle (a block may wrap): row i holds
  // the sums of windows 0..i-1 (mod n), H x F score sums and H weights per row.
  const rows = n + b + 1;
  const ps = new Float64Array(rows * H * F);
  const pc = new Float64Array(rows * H);
  for (let i = 1; i < rows; i++) {
    const w = (i - 1) % n;
    for (let l = 0; l < H; l++) {
      pc[i * H + l] = pc[(i - 1) * H + l]! + stats.weights[w * H + l]!;
      for (let f = 0; f < F; f++) {
        const k = l * F + f;
        ps[i * H * F + k] = ps[(i - 1) * H * F + k]! + stats.sums[(w * H + l) * F + f]!;
      }
    }
  }

  const rng = makeRng(o.seed);
  const S = new Float64Array(H * F);
  const C = new Float64Array(H);
  const score = new Float64Array(H * F);
  const finish = o.root ? Math.sqrt : (x: number) => x;
  // draws[baseline][lead 0..H-1, then the lead mean at H][resample]
  const draws = bIdx.map(() => Array.from({ length: H + 1 }, () => new Float64Array(o.resamples)));
  for (let r = 0; r < o.resamples; r++) {
    S.fill(0);
    C.fill(0);
    for (let j = 0; j < blocks; j++) {
      const start = Math.floor(rng() * n);
      const len = j < blocks - 1 ? b : n - (blocks - 1) * b;
      const hi = (start + len) * H;
      const lo = start * H;
      for (let l = 0; l < H; l++) C[l]! += pc[hi + l]! - pc[lo + l]!;
      for (let k = 0; k < H * F; k++) S[k]! += ps[hi * F + k]! - ps[lo * F + k]!;
    }
    for (let l = 0; l < H; l++) for (let f = 0; f < F; f++) score[l * F + f] = C[l]! > 0 ? finish(S[l * F + f]! / C[l]!) : NaN;
    const meanModel = leadMean(score, H, F, m);
    bIdx.forEach((bi, k) => {
      for (let l = 0; l < H; l++) draws[k]![l]![r] = skill(score[l * F + m]!, score[l * F + bi]!);
      draws[k]![H]![r] = skill(meanModel, leadMean(score, H, F, bi));
    });
  }
  const alpha = (1 - level) / 2;
  o.baselines.forEach((name, k) => {
    const interval = (values: Float64Array): Interval => percentileInterval(values, alpha);
    result.skill[name] = { mean: interval(draws[k]![H]!), perLead: draws[k]!.slice(0, H).map(interval) };
  });
  return result;
}

/** Windows per block for a block length in hours and windows `stride` hours apart. */
export function blockWindowsFor(blockHours: number, stride: number): number {
  return Math.max(1, Math.round(blockHours / stride));
}

function skill(model: number, baseline: number): number {
  return Number.isFinite(model) && Number.isFinite(baseline) && baseline > 0 ? 1 - model / baseline : NaN;
}

function leadMean(score: Float64Array, H: number, F: number, f: number): number {
  let s = 0;
  for (let l = 0; l < H; l++) s += score[l * F + f]!;
  return s / H;
}

/**
 * The alpha and 1 - alpha quantiles (linear interpolation between order statistics) of the
 * finite values; NaN when fewer than half of the resamples gave a value.
 */
function percentileInterval(values: Float64Array, alpha: number): Interval {
  const finite = Float64Array.from(values.filter(Number.isFinite)).sort();
  if (finite.length === 0 || finite.length < values.length / 2) return [NaN, NaN];
  const q = (p: number) => {
    const h = (finite.length - 1) * p;
    const i = Math.floor(h);
    const j = Math.min(finite.length - 1, i + 1);
    return finite[i]! + (h - i) * (finite[j]! - finite[i]!);
  };
  return [q(alpha), q(1 - alpha)];
}
