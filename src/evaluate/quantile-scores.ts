/**
 * Probabilistic scores of quantile forecasts, area-weighted per lead hour, as pure arithmetic.
 *
 * A forecast is K quantiles q_1 <= .. <= q_K at levels tau_1 < .. < tau_K (the model's levels;
 * every forecaster is scored at the same ones). Per (cell, window, lead):
 *
 *  - pinball loss of level k: rho_tau(y - q) = max(tau (y - q), (tau - 1)(y - q)), m/s.
 *  - CRPS = 2 * integral over tau in (0, 1) of rho_tau(y - Q(tau)), by a Riemann sum with its
 *    nodes at the levels: CRPS ~ 2 * sum_k w_k rho_tau_k(y - q_k), w_k the width of the tau
 *    cell around tau_k (from half-way to the level below to half-way to the level above; the
 *    outer cells reach 0 and 1). For the default levels 0.05 .. 0.95, w = 0.075, 0.1, 0.2,
 *    0.25, 0.2, 0.1, 0.075. Chosen over the CRPS of a piecewise-linear CDF through the
 *    quantiles: a positively weighted sum of pinball losses is consistent for every quantile
 *    (no forecaster gains by reporting other quantiles than it believes), it needs no tail
 *    model beyond the outer levels (a choice that would favour one forecaster's tails), and it
 *    is linear in the pinball sums, so shard sums merge exactly. Its price: it leaves out most
 *    of the spread beyond the outer levels; for a calibrated Gaussian at the default levels it
 *    gives 0.983 of the exact CRPS (2 sum_k w_k phi(z_k) against 1 / sqrt(pi); tested). Every
 *    forecaster is scored with the same rule.
 *  - the observed frequency of y below each quantile (1 when y < q, 1/2 when y == q): the
 *    reliability diagram (tau_k against that frequency), the PIT histogram (its differences:
 *    bins between consecutive quantiles, expected width tau_{k+1} - tau_k), and the coverage of
 *    every central interval [q_tau, q_{1-tau}] whose two levels are both present.
 *  - spread and skill: the spread is a deviation read from the central interval nearest 80 %
 *    (sigma = (q_{1-tau} - q_tau) / (2 z_{1-tau})), the skill the error of the central level
 *    (the median when 0.5 is a level); their ratio sqrt(mean sigma^2) / RMSE is near 1 for a
 *    calibrated forecast, below 1 when it is overconfident.
 *
 * What is kept are sums, never ratios: per (group, lead, forecaster) the sum of w * value and
 * per (group, lead) the sum of w over the scored pairs, and per window and lead the global
 * sums (for the block bootstrap). A score is the pooled area-weighted mean sum(w x) / sum(w):
 * WeatherBench 2's time mean of area-weighted spatial means whenever every window scores the
 * same cells, and, unlike that, a sum that merges exactly across shards of windows or of cells.
 * A pair is scored only where the truth and every forecaster's quantiles are finite.
 */
import { centralIntervals, centralLevel, checkLevels, normalQuantile, pinball } from '../model/quantile-head.js';
import { WindowSumsBuffer, type WindowSums } from './bootstrap.js';
import { WindowRecords, windowRecords, type AccumulatorRecords } from './window-records.js';

/** Midpoint-rule weights of the levels for the CRPS (they sum to 1). */
export function crpsWeights(levels: readonly number[]): number[] {
  checkLevels(levels);
  const K = levels.length;
  return levels.map((_, k) => {
    const lo = k === 0 ? 0 : (levels[k - 1]! + levels[k]!) / 2;
    const hi = k === K - 1 ? 1 : (levels[k]! + levels[k + 1]!) / 2;
    return hi - lo;
  });
}

/** CRPS of one quantile forecast q[offset .. offset + K) (midpoint rule, see the header). */
export function quantileCrps(levels: readonly number[], weights: readonly number[], y: number, q: ArrayLike<number>, offset = 0): number {
  let s = 0;
  for (let k = 0; k < levels.length; k++) s += weights[k]! * pinball(levels[k]!, y, q[offset + k]!);
  return 2 * s;
}

/** The interval the spread is read from: the central one nearest 80 % (undefined when there is none). */
export function spreadInterval(levels: readonly number[]): { lower: number; upper: number; coverage: number; z: number } | undefined {
  const intervals = centralIntervals(levels);
  if (intervals.length === 0) return undefined;
  const best = intervals.reduce((a, b) => (Math.abs(b.coverage - 0.8) < Math.abs(a.coverage - 0.8) ? b : a));
  return { ...best, z: normalQuantile(levels[best.upper]!) };
}

/** Sums kept per (slot, forecaster): pinball and below-frequency per level, then sigma^2 and the central error^2. */
function statsPerForecaster(K: number): number {
  return 2 * K + 2;
}

export interface QuantileAccumulatorOptions {
  names: readonly string[];
  horizon: number;
  levels: readonly number[];
  groupNames?: readonly string[];
  /** Keep each window's sums for windowRecords() (an evaluate shard: merge replays them). */
  recordWindows?: boolean;
}

export interface QuantileForecasterScores {
  /** Per lead (index lead - 1), m/s. */
  crps: number[];
  /** [lead][level], m/s. */
  pinball: number[][];
  /** Observed frequency of the truth below each quantile, [lead][level]. */
  below: number[][];
  /** Coverage of each central interval (key: its nominal percent, e.g. "80"), per lead. */
  coverage: Record<string, number[]>;
  /** sqrt(mean sigma^2) of the spread interval, per lead, m/s. */
  spread: number[];
  /** RMSE of the central quantile, per lead, m/s. */
  centralRmse: number[];
  /** spread / centralRmse per lead. */
  spreadSkill: number[];
  /** Over all leads: plain means of the per-lead values (CRPS, pinball, coverage); pooled for the frequencies and the PIT. */
  mean: { crps: number; pinball: number[]; coverage: Record<string, number>; spreadSkill: number };
  /** Pooled over leads: observed frequency below each level, and the PIT histogram (K + 1 bins, density: 1 is calibrated). */
  reliability: number[];
  pit: number[];
  /** The sufficient statistics: per lead, sum of w x pinball per level, w x below per level, w x sigma^2, w x central error^2. */
  sums: { pinball: number[][]; below: number[][]; sigma2: number[]; centralSe: number[] };
}

export interface QuantileGroupScores {
  name: string;
  /** Per lead: sum of area weights over the scored pairs, and their number. */
  weight: number[];
  scored: number[];
  excluded: number[];
  forecasters: Record<string, QuantileForecasterScores>;
}

export interface QuantileScores {
  levels: number[];
  crpsWeights: number[];
  /** Nominal percent of each central interval, e.g. ["50", "80", "90"]. */
  intervals: string[];
  /** The interval spread is read from, e.g. "80". */
  spreadInterval: string | null;
  horizon: number;
  names: string[];
  windows: number;
  global: QuantileGroupScores;
  groups: QuantileGroupScores[];
}

export class QuantileAccumulator {
  readonly names: readonly string[];
  readonly horizon: number;
  readonly levels: readonly number[];
  readonly groupNames: readonly string[];
  private readonly weights: number[];
  private readonly spread: ReturnType<typeof spreadInterval>;
  private readonly central: number;
  private readonly S: number;
  private readonly nGroups: number;
  /** Index ((slot * F + f) * S + stat), slot = group * horizon + lead. */
  private readonly sums: Float64Array;
  private readonly weight: Float64Array;
  private readonly scored: Float64Array;
  private readonly excluded: Float64Array;
  /** Per window and lead, the global sum of w x CRPS per forecaster and the sum of w: what the bootstrap resamples. */
  private readonly perWindow: WindowSumsBuffer;
  /** One window's sums, weights and counts per cell group (add()). */
  private readonly winGroup: Float64Array;
  private readonly winGroupWeight: Float64Array;
  private readonly winGroupCount: Float64Array;
  private readonly recorded: WindowRecords | undefined;

  constructor(o: QuantileAccumulatorOptions) {
    checkLevels(o.levels);
    if (o.names.length === 0) throw new Error('at least one forecaster name is needed');
    this.names = [...o.names];
    this.horizon = o.horizon;
    this.perWindow = new WindowSumsBuffer(this.names, this.horizon);
    this.levels = [...o.levels];
    this.groupNames = [...(o.groupNames ?? [])];
    this.weights = crpsWeights(o.levels);
    this.spread = spreadInterval(o.levels);
    this.central = centralLevel(o.levels);
    this.S = statsPerForecaster(o.levels.length);
    this.nGroups = 1 + this.groupNames.length;
    const slots = this.nGroups * o.horizon;
    this.sums = new Float64Array(slots * this.names.length * this.S);
    this.weight = new Float64Array(slots);
    this.scored = new Float64Array(slots);
    this.excluded = new Float64Array(slots);
    this.winGroup = new Float64Array(this.nGroups * o.horizon * this.names.length * this.S);
    this.winGroupWeight = new Float64Array(this.nGroups * o.horizon);
    this.winGroupCount = new Float64Array(this.nGroups * o.horizon);
    this.recorded = o.recordWindows ? new WindowRecords(this.recordSizes().reduce((a, b) => a + b, 0)) : undefined;
  }

  private recordSizes(): number[] {
    return [this.winGroup.length, this.winGroupWeight.length, this.winGroupCount.length, this.horizon * this.names.length];
  }

  /** The windows added so far as records, and the exclusion counts (recordWindows must be set). */
  windowRecords(): AccumulatorRecords {
    if (!this.recorded) throw new Error('windowRecords() needs an accumulator made with recordWindows');
    return { windows: this.recorded.count, records: this.recorded.values(), counts: Array.from(this.excluded) };
  }

  /** Fold another accumulator's windows (windowRecords(), in time order after those added so far) into this one. */
  absorb(r: AccumulatorRecords): void {
    if (r.counts.length !== this.excluded.length) throw new Error(`records of ${r.counts.length} counters do not fit this accumulator`);
    const HF = this.horizon * this.names.length;
    for (const [win, winW, winN, row] of windowRecords(r.records, this.recordSizes())) {
      const w0 = this.perWindow.next();
      this.perWindow.sums.set(row!, w0 * HF);
      this.winGroup.set(win!);
      this.winGroupWeight.set(winW!);
      this.winGroupCount.set(winN!);
      this.closeWindow(w0);
    }
    for (let s = 0; s < this.excluded.length; s++) this.excluded[s]! += r.counts[s]!;
  }

  /**
   * Add one window: truth [cells x horizon], each forecaster's quantiles [cells x horizon x K]
   * (index (cell * horizon + lead - 1) * K + k), the cells' area weights and group indices.
   */
  add(truth: Float32Array, quantiles: readonly Float32Array[], weights: ArrayLike<number>, groups?: ArrayLike<number>): void {
    const H = this.horizon;
    const K = this.levels.length;
    const F = this.names.length;
    const S = this.S;
    const cells = weights.length;
    if (quantiles.length !== F) throw new Error(`expected ${F} quantile forecasts (${this.names.join(', ')}), got ${quantiles.length}`);
    if (truth.length !== cells * H) throw new Error(`truth has ${truth.length} values, expected ${cells} cells x ${H} leads`);
    quantiles.forEach((q, i) => {
      if (q.length !== cells * H * K) throw new Error(`quantiles of '${this.names[i]}' hold ${q.length} values, expected ${cells} x ${H} x ${K}`);
    });
    const hasGroups = this.nGroups > 1;
    if (hasGroups && (!groups || groups.length !== cells)) throw new Error(`a group index per cell is needed (${cells} cells)`);
    const w0 = this.perWindow.next();
    const { sums: winSums, weights: winWeights } = this.perWindow;
    const spread = this.spread;
    const central = this.central;
    const levels = this.levels;
    const cw = this.weights;
    const G = this.nGroups - 1;
    // This window's sums per cell group (slot G holds the cells in no group), [g][lead][f][stat]:
    // each pair adds once, and the global sums are the groups' total at the window's end.
    const win = this.winGroup;
    win.fill(0);
    const winW = this.winGroupWeight;
    winW.fill(0);
    const winN = this.winGroupCount;
    winN.fill(0);
    const excluded = this.excluded;
    const half = spread ? 0.5 / spread.z : 0;
    for (let c = 0; c < cells; c++) {
      const w = weights[c]!;
      const g0 = hasGroups ? groups![c]! : G;
      const g = g0 >= 0 && g0 < G ? g0 : G;
      for (let l = 0; l < H; l++) {
        const y = truth[c * H + l]!;
        const base = (c * H + l) * K;
        let ok = Number.isFinite(y);
        for (let f = 0; f < F && ok; f++) {
          const q = quantiles[f]!;
          for (let k = 0; k < K; k++) if (!Number.isFinite(q[base + k]!)) ok = false;
        }
        if (!ok) {
          excluded[l]!++;
          if (g < G) excluded[(g + 1) * H + l]!++;
          continue;
        }
        const gl = g * H + l;
        winW[gl]! += w;
        winN[gl]!++;
        for (let f = 0; f < F; f++) {
          const q = quantiles[f]!;
          const o = (gl * F + f) * S;
          let crps = 0;
          for (let k = 0; k < K; k++) {
            const qk = q[base + k]!;
            const e = y - qk;
            const p = e >= 0 ? levels[k]! * e : (levels[k]! - 1) * e;
            win[o + k]! += w * p;
            if (e < 0) win[o + K + k]! += w;
            else if (e === 0) win[o + K + k]! += 0.5 * w;
            crps += cw[k]! * p;
          }
          if (spread) {
            const sigma = (q[base + spread.upper]! - q[base + spread.lower]!) * half;
            win[o + 2 * K]! += w * sigma * sigma;
          }
          const e = q[base + central]! - y;
          win[o + 2 * K + 1]! += w * e * e;
          winSums[(w0 * H + l) * F + f]! += w * 2 * crps;
        }
      }
    }
    this.recorded?.push([win, winW, winN, winSums.subarray(w0 * H * F, (w0 + 1) * H * F)]);
    this.closeWindow(w0);
  }

  /** The window's group sums (winGroup, winGroupWeight, winGroupCount) into the totals; window w0 done. */
  private closeWindow(w0: number): void {
    const H = this.horizon;
    const FS = this.names.length * this.S;
    const G = this.nGroups - 1;
    const win = this.winGroup;
    const winW = this.winGroupWeight;
    const winN = this.winGroupCount;
    const winWeights = this.perWindow.weights;
    // Close the window: each group into its own slot and into the global one.
    for (let gi = 0; gi <= G; gi++) {
      for (let l = 0; l < H; l++) {
        const from = (gi * H + l) * FS;
        const W = winW[gi * H + l]!;
        if (W === 0) continue;
        const targets = gi < G ? [l, (gi + 1) * H + l] : [l];
        for (const slot of targets) {
          this.weight[slot]! += W;
          this.scored[slot]! += winN[gi * H + l]!;
          const to = slot * FS;
          for (let j = 0; j < FS; j++) this.sums[to + j]! += win[from + j]!;
        }
        winWeights[w0 * H + l]! += W;
      }
    }
    this.perWindow.done();
  }

  windowSums(): WindowSums {
    return this.perWindow.result();
  }

  result(): QuantileScores {
    const intervals = centralIntervals(this.levels);
    const key = (cov: number) => String(Math.round(cov * 1000) / 10);
    return {
      levels: [...this.levels],
      crpsWeights: [...this.weights],
      intervals: intervals.map((i) => key(i.coverage)),
      spreadInterval: this.spread ? key(this.spread.coverage) : null,
      horizon: this.horizon,
      names: [...this.names],
      windows: this.perWindow.windows,
      global: this.group(0, 'global'),
      groups: this.groupNames.map((n, i) => this.group(i + 1, n)),
    };
  }

  private group(gi: number, name: string): QuantileGroupScores {
    const H = this.horizon;
    const K = this.levels.length;
    const F = this.names.length;
    const S = this.S;
    const slot0 = gi * H;
    const weight = Array.from({ length: H }, (_, l) => this.weight[slot0 + l]!);
    const intervals = centralIntervals(this.levels);
    const key = (cov: number) => String(Math.round(cov * 1000) / 10);
    const forecasters: Record<string, QuantileForecasterScores> = {};
    this.names.forEach((fname, f) => {
      const at = (l: number, s: number) => this.sums[((slot0 + l) * F + f) * S + s]!;
      const leads = Array.from({ length: H }, (_, l) => l);
      const ratio = (l: number, s: number) => (weight[l]! > 0 ? at(l, s) / weight[l]! : NaN);
      const pinballs = leads.map((l) => this.levels.map((_, k) => ratio(l, k)));
      const below = leads.map((l) => this.levels.map((_, k) => ratio(l, K + k)));
      const crps = pinballs.map((p) => 2 * p.reduce((s, v, k) => s + this.weights[k]! * v, 0));
      const coverage: Record<string, number[]> = {};
      for (const iv of intervals) coverage[key(iv.coverage)] = below.map((b) => b[iv.upper]! - b[iv.lower]!);
      const spread = leads.map((l) => (this.spread ? Math.sqrt(ratio(l, 2 * K)) : NaN));
      const centralRmse = leads.map((l) => Math.sqrt(ratio(l, 2 * K + 1)));
      const spreadSkill = leads.map((l) => (centralRmse[l]! > 0 ? spread[l]! / centralRmse[l]! : NaN));
      // Pooled over leads: the frequencies and the PIT histogram of all (cell, window, lead) pairs.
      const W = weight.reduce((a, b) => a + b, 0);
      const reliability = this.levels.map((_, k) => (W > 0 ? leads.reduce((s, l) => s + at(l, K + k), 0) / W : NaN));
      const edges = [0, ...reliability, 1];
      const taus = [0, ...this.levels, 1];
      const pit = Array.from({ length: K + 1 }, (_, b) => (edges[b + 1]! - edges[b]!) / (taus[b + 1]! - taus[b]!));
      const meanCoverage: Record<string, number> = {};
      for (const [k, v] of Object.entries(coverage)) meanCoverage[k] = mean(v);
      forecasters[fname] = {
        crps,
        pinball: pinballs,
        below,
        coverage,
        spread,
        centralRmse,
        spreadSkill,
        mean: { crps: mean(crps), pinball: this.levels.map((_, k) => mean(pinballs.map((p) => p[k]!))), coverage: meanCoverage, spreadSkill: mean(spreadSkill) },
        reliability,
        pit,
        sums: {
          pinball: leads.map((l) => this.levels.map((_, k) => at(l, k))),
          below: leads.map((l) => this.levels.map((_, k) => at(l, K + k))),
          sigma2: leads.map((l) => at(l, 2 * K)),
          centralSe: leads.map((l) => at(l, 2 * K + 1)),
        },
      };
    });
    return {
      name,
      weight,
      scored: Array.from({ length: H }, (_, l) => this.scored[slot0 + l]!),
      excluded: Array.from({ length: H }, (_, l) => this.excluded[slot0 + l]!),
      forecasters,
    };
  }
}

function mean(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/** CRPS skill 1 - CRPS_model / CRPS_baseline per lead and on the lead means. */
export function crpsSkill(model: QuantileForecasterScores, baseline: QuantileForecasterScores): { perLead: number[]; mean: number } {
  const s = (m: number, b: number) => (Number.isFinite(m) && Number.isFinite(b) && b > 0 ? 1 - m / b : NaN);
  return { perLead: model.crps.map((m, l) => s(m, baseline.crps[l]!)), mean: s(model.mean.crps, baseline.mean.crps) };
}
