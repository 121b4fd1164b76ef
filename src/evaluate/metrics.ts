/**
 * Area-weighted forecast scores per lead hour, WeatherBench 2 style.
 *
 * A ScoreAccumulator receives one forecast window at a time: the truth and one forecast per
 * forecaster (model, baselines), each a Float32Array [cells x horizon] (index
 * cell * horizon + lead - 1, m/s), plus the area weight of each cell. For every lead it forms
 * the weighted spatial mean of the squared error, absolute error and error over the window's
 * cells, then averages those over windows (each window counts once). RMSE is the square root
 * of that time-mean of the weighted spatial MSE, as in WeatherBench 2.
 *
 * A (cell, lead) pair is scored only when the truth and every forecaster's value are finite,
 * so all forecasters are compared on exactly the same pairs; excluded pairs are counted, with
 * the reason. Scores can also be split into groups of cells (latitude bands): each group gets
 * its own weighted spatial means and time-means. Pure arithmetic, no I/O, no TensorFlow.
 *
 * The accumulator also keeps, per window and lead, each forecaster's global weighted spatial
 * MSE (windowStats): the sufficient statistics of every RMSE over any subset of windows, so a
 * bootstrap over windows (bootstrap.ts) costs sums, not a re-scoring.
 *
 * With recordWindows it also keeps each window's sums as folded (windowRecords), so that the
 * windows of an evaluate shard can be replayed by merge into another accumulator in time order:
 * the same additions in the same order as one process scoring every window (absorb).
 */
import { WindowRecords, windowRecords, type AccumulatorRecords } from './window-records.js';

export interface ForecasterScores {
  /** Per lead hour 1..horizon (index 0 is +1 h); NaN where no window had a scored pair. */
  rmse: number[];
  mae: number[];
  /** Mean forecast minus truth, m/s. */
  bias: number[];
  /** Plain means of the per-lead values over the leads (NaN if any lead is NaN). */
  mean: { rmse: number; mae: number; bias: number };
}

export interface GroupScores {
  name: string;
  /** Windows that contributed to each lead (those with at least one scored pair). */
  windows: number[];
  /** Scored (cell, window) pairs per lead. */
  scored: number[];
  /** Excluded (cell, window) pairs per lead: truth or some forecast not finite. */
  excluded: number[];
  forecasters: Record<string, ForecasterScores>;
}

export interface Scores {
  horizon: number;
  names: string[];
  /** Windows added. */
  windows: number;
  global: GroupScores;
  /** One per group name, in the order given to the accumulator. */
  groups: GroupScores[];
  /** Why pairs were excluded (over all windows and leads): truth not finite, and per forecaster. */
  exclusions: { truthNotFinite: number; forecastNotFinite: Record<string, number> };
}

/**
 * Per window, lead and forecaster, the area-weighted spatial MSE over the window's scored
 * cells: the RMSE of lead l over a set of windows is sqrt(sum of mse / number scored).
 */
export interface WindowStats {
  names: string[];
  horizon: number;
  windows: number;
  /** Index (window * horizon + lead - 1) * names.length + forecaster; 0 where not scored. */
  mse: Float64Array;
  /** 1 where the window had a scored pair at that lead, index window * horizon + lead - 1. */
  scored: Uint8Array;
}

export interface ScoreAccumulatorOptions {
  /** Forecaster names, in the order add() receives the forecasts. */
  names: readonly string[];
  horizon: number;
  /** Names of the cell groups (e.g. latitude bands); add() then takes each cell's group index. */
  groupNames?: readonly string[];
  /** Keep each window's sums for windowRecords() (an evaluate shard: merge replays them). */
  recordWindows?: boolean;
}


/** Kinds of per-window weighted sums kept per (group, lead, forecaster). */
const SE = 0;
const AE = 1;
const E = 2;
const KINDS = 3;

export class ScoreAccumulator {
  readonly names: readonly string[];
  readonly horizon: number;
  readonly groupNames: readonly string[];
  private readonly nGroups: number;
  private readonly nF: number;
  // Per-window sums, index (g * horizon + lead); g = 0 is global, g = k + 1 is group k.
  private readonly winWeight: Float64Array;
  private readonly winSums: Float64Array;
  private readonly winCount: Float64Array;
  // Time sums of per-window weighted means, and how many windows contributed.
  private readonly timeSums: Float64Array;
  private readonly timeWindows: Float64Array;
  private readonly scored: Float64Array;
  private readonly excluded: Float64Array;
  private readonly forecastNotFinite: Float64Array;
  private truthNotFinite = 0;
  private windows = 0;
  // Per window, global slots only: MSE [window][lead][forecaster] and whether the lead scored.
  private windowMse = new Float64Array(0);
  private windowScored = new Uint8Array(0);
  private readonly recorded: WindowRecords | undefined;

  constructor(options: ScoreAccumulatorOptions) {
    if (!Number.isInteger(options.horizon) || options.horizon < 1) throw new Error(`horizon must be a positive integer, got ${options.horizon}`);
    if (options.names.length === 0) throw new Error('at least one forecaster name is needed');
    if (new Set(options.names).size !== options.names.length) throw new Error(`forecaster names must be unique: ${options.names.join(', ')}`);
    this.names = [...options.names];
    this.horizon = options.horizon;
    this.groupNames = [...(options.groupNames ?? [])];
    this.nGroups = 1 + this.groupNames.length;
    this.nF = this.names.length;
    const slots = this.nGroups * this.horizon;
    this.winWeight = new Float64Array(slots);
    this.winSums = new Float64Array(slots * this.nF * KINDS);
    this.winCount = new Float64Array(slots);
    this.timeSums = new Float64Array(slots * this.nF * KINDS);
    this.timeWindows = new Float64Array(slots);
    this.scored = new Float64Array(slots);
    this.excluded = new Float64Array(slots);
    this.forecastNotFinite = new Float64Array(this.nF);
    this.recorded = options.recordWindows ? new WindowRecords(this.recordSizes().reduce((a, b) => a + b, 0)) : undefined;
  }

  private recordSizes(): number[] {
    return [this.winWeight.length, this.winCount.length, this.winSums.length];
  }

  /**
   * Add one forecast window. truth and each forecast are [cells x horizon]; weights holds
   * each cell's area weight (any positive scale); groups, when the accumulator has groups,
   * holds each cell's group index (a value >= the number of groups puts the cell in none).
   */
  add(truth: Float32Array, forecasts: readonly Float32Array[], weights: ArrayLike<number>, groups?: ArrayLike<number>): void {
    const H = this.horizon;
    const F = this.nF;
    const cells = weights.length;
    if (forecasts.length !== F) throw new Error(`expected ${F} forecasts (${this.names.join(', ')}), got ${forecasts.length}`);
    if (truth.length !== cells * H) throw new Error(`truth has ${truth.length} values, expected ${cells} cells x ${H} leads`);
    forecasts.forEach((f, i) => {
      if (f.length !== cells * H) throw new Error(`forecast '${this.names[i]}' has ${f.length} values, expected ${cells} cells x ${H} leads`);
    });
    const hasGroups = this.nGroups > 1;
    if (hasGroups && (!groups || groups.length !== cells)) throw new Error(`a group index per cell is needed (${cells} cells)`);

    this.winWeight.fill(0);
    this.winSums.fill(0);
    this.winCount.fill(0);
    const winWeight = this.winWeight;
    const winSums = this.winSums;
    const winCount = this.winCount;
    const excluded = this.excluded;
    const groupBase = hasGroups ? H : 0;

    for (let c = 0; c < cells; c++) {
      const w = weights[c]!;
      const g = hasGroups ? groups![c]! : -1;
      const inGroup = hasGroups && g >= 0 && g < this.nGroups - 1;
      const gSlot0 = inGroup ? groupBase * (g + 1) : -1;
      const base = c * H;
      for (let l = 0; l < H; l++) {
        const t = truth[base + l]!;
        let ok = Number.isFinite(t);
        if (!ok) this.truthNotFinite++;
        for (let f = 0; f < F; f++) {
          if (!Number.isFinite(forecasts[f]![base + l]!)) {
            ok = false;
            this.forecastNotFinite[f]!++;
          }
        }
        if (!ok) {
          excluded[l]!++;
          if (inGroup) excluded[gSlot0 + l]!++;
          continue;
        }
        winWeight[l]! += w;
        winCount[l]!++;
        if (inGroup) {
          winWeight[gSlot0 + l]! += w;
          winCount[gSlot0 + l]!++;
        }
        for (let f = 0; f < F; f++) {
          const e = forecasts[f]![base + l]! - t;
          const we = w * e;
          let k = (l * F + f) * KINDS;
          winSums[k + SE]! += we * e;
          winSums[k + AE]! += Math.abs(we);
          winSums[k + E]! += we;
          if (inGroup) {
            k = ((gSlot0 + l) * F + f) * KINDS;
            winSums[k + SE]! += we * e;
            winSums[k + AE]! += Math.abs(we);
            winSums[k + E]! += we;
          }
        }
      }
    }

    this.recorded?.push([winWeight, winCount, winSums]);
    this.closeWindow();
  }

  /** The window's sums (winWeight, winCount, winSums) into the per-window stats and the time sums. */
  private closeWindow(): void {
    const H = this.horizon;
    const F = this.nF;
    const { winWeight, winSums, winCount } = this;
    this.keepWindow();
    // Close the window: weighted spatial means, then into the time sums.
    const slots = this.nGroups * H;
    for (let s = 0; s < slots; s++) {
      this.scored[s]! += winCount[s]!;
      const W = winWeight[s]!;
      if (!(W > 0)) continue;
      this.timeWindows[s]!++;
      for (let f = 0; f < F; f++) {
        const k = (s * F + f) * KINDS;
        for (let j = 0; j < KINDS; j++) this.timeSums[k + j]! += winSums[k + j]! / W;
      }
    }
    this.windows++;
  }

  /** The windows added so far as records, and the counters (recordWindows must be set). */
  windowRecords(): AccumulatorRecords {
    if (!this.recorded) throw new Error('windowRecords() needs an accumulator made with recordWindows');
    return { windows: this.recorded.count, records: this.recorded.values(), counts: [this.truthNotFinite, ...this.forecastNotFinite, ...this.excluded] };
  }

  /** Fold another accumulator's windows (windowRecords(), in time order after those added so far) into this one. */
  absorb(r: AccumulatorRecords): void {
    const F = this.nF;
    if (r.counts.length !== 1 + F + this.excluded.length) throw new Error(`records of ${r.counts.length} counters do not fit this accumulator`);
    for (const [w, n, sums] of windowRecords(r.records, this.recordSizes())) {
      this.winWeight.set(w!);
      this.winCount.set(n!);
      this.winSums.set(sums!);
      this.closeWindow();
    }
    this.truthNotFinite += r.counts[0]!;
    for (let f = 0; f < F; f++) this.forecastNotFinite[f]! += r.counts[1 + f]!;
    for (let s = 0; s < this.excluded.length; s++) this.excluded[s]! += r.counts[1 + F + s]!;
  }

  /** Record this window's global per-lead MSE (before windows is incremented). */
  private keepWindow(): void {
    const H = this.horizon;
    const F = this.nF;
    const w = this.windows;
    if ((w + 1) * H > this.windowScored.length) {
      const capacity = Math.max(64, 2 * (w + 1));
      const mse = new Float64Array(capacity * H * F);
      mse.set(this.windowMse);
      const scored = new Uint8Array(capacity * H);
      scored.set(this.windowScored);
      this.windowMse = mse;
      this.windowScored = scored;
    }
    for (let l = 0; l < H; l++) {
      const W = this.winWeight[l]!;
      if (!(W > 0)) continue;
      this.windowScored[w * H + l] = 1;
      for (let f = 0; f < F; f++) this.windowMse[(w * H + l) * F + f] = this.winSums[(l * F + f) * KINDS + SE]! / W;
    }
  }

  /** The per-window sufficient statistics of the global scores, windows in the order added. */
  windowStats(): WindowStats {
    const H = this.horizon;
    const F = this.nF;
    return {
      names: [...this.names],
      horizon: H,
      windows: this.windows,
      mse: this.windowMse.slice(0, this.windows * H * F),
      scored: this.windowScored.slice(0, this.windows * H),
    };
  }

  result(): Scores {
    const group = (gi: number, name: string): GroupScores => {
      const H = this.horizon;
      const slot0 = gi * H;
      const out: GroupScores = {
        name,
        windows: [],
        scored: [],
        excluded: [],
        forecasters: {},
      };
      for (let l = 0; l < H; l++) {
        out.windows.push(this.timeWindows[slot0 + l]!);
        out.scored.push(this.scored[slot0 + l]!);
        out.excluded.push(this.excluded[slot0 + l]!);
      }
      this.names.forEach((fname, f) => {
        const rmse: number[] = [];
        const mae: number[] = [];
        const bias: number[] = [];
        for (let l = 0; l < H; l++) {
          const n = this.timeWindows[slot0 + l]!;
          const k = ((slot0 + l) * this.nF + f) * KINDS;
          rmse.push(n > 0 ? Math.sqrt(this.timeSums[k + SE]! / n) : NaN);
          mae.push(n > 0 ? this.timeSums[k + AE]! / n : NaN);
          bias.push(n > 0 ? this.timeSums[k + E]! / n : NaN);
        }
        out.forecasters[fname] = { rmse, mae, bias, mean: { rmse: mean(rmse), mae: mean(mae), bias: mean(bias) } };
      });
      return out;
    };
    const forecastNotFinite: Record<string, number> = {};
    this.names.forEach((n, f) => (forecastNotFinite[n] = this.forecastNotFinite[f]!));
    return {
      horizon: this.horizon,
      names: [...this.names],
      windows: this.windows,
      global: group(0, 'global'),
      groups: this.groupNames.map((n, i) => group(i + 1, n)),
      exclusions: { truthNotFinite: this.truthNotFinite, forecastNotFinite },
    };
  }
}

function mean(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

export interface Skill {
  /** 1 - RMSE_model / RMSE_baseline per lead; positive means the model is better. */
  perLead: number[];
  /** The same from the lead-averaged RMSEs. */
  mean: number;
}

/** Skill of a forecaster over a baseline: 1 - RMSE / RMSE_baseline (NaN where undefined). */
export function skillScore(model: ForecasterScores, baseline: ForecasterScores): Skill {
  const s = (m: number, b: number) => (Number.isFinite(m) && Number.isFinite(b) && b > 0 ? 1 - m / b : NaN);
  return { perLead: model.rmse.map((m, l) => s(m, baseline.rmse[l]!)), mean: s(model.mean.rmse, baseline.mean.rmse) };
}

export interface ScoreWindow {
  truth: Float32Array;
  forecasts: readonly Float32Array[];
  weights: ArrayLike<number>;
  groups?: ArrayLike<number>;
}

/** Score a sequence of windows in one call (the accumulator without the bookkeeping). */
export function scoreForecasts(options: ScoreAccumulatorOptions, windows: Iterable<ScoreWindow>): Scores {
  const acc = new ScoreAccumulator(options);
  for (const w of windows) acc.add(w.truth, w.forecasts, w.weights, w.groups);
  return acc.result();
}
