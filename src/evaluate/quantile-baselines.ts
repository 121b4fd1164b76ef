/**
 * Probabilistic baselines: quantiles at the model's levels from three reference forecasts,
 * everything fitted on the training period only.
 *
 *  - climatology: per cell and UTC hour of day, the empirical quantiles of the training
 *    period's anomalies from the climatological mean (climatology.ts, the same form as the
 *    deterministic baseline: by hour of day, or by day of year and hour on a year or more of
 *    training), added to that mean at the target hour. By hour of day this is exactly the
 *    quantile of the cell's training values at that hour; the seasonal form moves the whole
 *    distribution with the seasonal mean but keeps one spread per hour of day (a spread per
 *    day of year would rest on ~60 values a year).
 *  - persistence: the last observed speed plus the training period's quantiles of the
 *    persistence error v(t0 + h) - v(t0), per lead, pooled over cells and hours.
 *  - linear: the same-input ridge's forecast plus Gaussian residuals, sigma per lead the RMS
 *    of its residuals on its own training windows. Gaussian, not the empirical residual
 *    quantiles: the ridge is a least-squares fit whose residuals are close to symmetric, a
 *    normal law gives every level from one number per lead (no tail estimate from a few
 *    hundred windows at 0.05 and 0.95), and persistence already stands for empirical dressing.
 *
 * Both dressings use the windows the ridge was fitted on (prepare/ridge.ts trainingWindows:
 * every training window, or an area-weighted sample of evaluate's linearFitWindows of them), so
 * the ridge's residuals and persistence's errors come from the same hours; when every window
 * is used each counts with its cell's area weight. Empirical quantiles are weighted Hazen
 * quantiles (plotting positions (C_i - w_i / 2) / W, linear in between, clamped at the ends:
 * numpy's 'hazen' with equal weights). Speeds are never negative, so every quantile is
 * max(q, 0): the quantile of the speed's distribution censored at 0, still non-decreasing.
 */
import type { Cube } from '../ingest/cube.js';
import { hourOfDay, HOUR_MS } from '../core/time.js';
import { centreBase, type FeatureContext } from '../prepare/features.js';
import { ridgeForecast, RIDGE_SAMPLE_SEED, trainingWindows, type SameInputRidge } from '../prepare/ridge.js';
import type { TimeSplit } from '../prepare/split.js';
import { mixSeed, periodAnchors, rowAreaWeight } from '../prepare/windows.js';
import { fitClimatology, climatologyForecast, type Climatology, type HourRange } from './climatology.js';
import { checkLevels, normalQuantile } from '../model/quantile-head.js';

export const QUANTILE_BASELINE_NAMES = ['climatology', 'persistence', 'linear'] as const;

/** Weighted Hazen quantiles of values (sorted in place with their weights) at levels, into out[offset..]. */
export function weightedQuantiles(values: Float64Array, weights: Float64Array | undefined, levels: readonly number[], out: Float32Array | Float64Array, offset = 0): void {
  const n = values.length;
  if (n === 0) {
    for (let k = 0; k < levels.length; k++) out[offset + k] = NaN;
    return;
  }
  let order: Int32Array | undefined;
  let sorted = values;
  if (weights) {
    order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a]! - values[b]!);
    sorted = Float64Array.from(order, (i) => values[i]!);
  } else {
    values.sort();
  }
  // Plotting position of the i-th sorted value.
  const pos = new Float64Array(n);
  let W = 0;
  for (let i = 0; i < n; i++) W += weights ? weights[order![i]!]! : 1;
  let C = 0;
  for (let i = 0; i < n; i++) {
    const w = weights ? weights[order![i]!]! : 1;
    C += w;
    pos[i] = (C - w / 2) / W;
  }
  let i = 0;
  for (let k = 0; k < levels.length; k++) {
    const p = levels[k]!;
    if (p <= pos[0]!) out[offset + k] = sorted[0]!;
    else if (p >= pos[n - 1]!) out[offset + k] = sorted[n - 1]!;
    else {
      while (pos[i + 1]! < p) i++;
      const f = (p - pos[i]!) / (pos[i + 1]! - pos[i]!);
      out[offset + k] = sorted[i]! + f * (sorted[i + 1]! - sorted[i]!);
    }
  }
}

export interface ClimatologyQuantiles {
  levels: number[];
  /** The sampled cells, in the order of the forecast's cells. */
  cells: Int32Array;
  /** Anomaly quantiles, index (i * 24 + hour of day) * K + k; NaN where the cell had no value at that hour. */
  anomaly: Float32Array;
}

const CELL_BLOCK = 256;

/**
 * Fit the climatological anomaly quantiles of `cells` on the training hours, around the same
 * kind of climatology `clim` is (its kind and window).
 */
export function fitClimatologyQuantiles(cube: Cube, o: { hours: HourRange; cells: Int32Array; levels: readonly number[]; clim: Pick<Climatology, 'kind' | 'windowDays'> }): ClimatologyQuantiles {
  checkLevels(o.levels);
  const K = o.levels.length;
  const [start, end] = o.hours;
  const T = end - start;
  const n = cube.grid.width * cube.grid.height;
  const m = o.cells.length;
  const anomaly = new Float32Array(m * 24 * K);
  const hod = Int32Array.from({ length: T }, (_, k) => hourOfDay(cube.times[start + k]!));
  const B = Math.min(CELL_BLOCK, Math.max(1, m));
  const mean = new Float32Array(B * T);
  const col = new Float32Array(B);
  const values = new Float64Array(T);
  const byHour = Array.from({ length: 24 }, () => [] as number[]);
  for (let b0 = 0; b0 < m; b0 += B) {
    const block = o.cells.subarray(b0, Math.min(m, b0 + B));
    // The climatological mean of each training hour: the same fit, asked for the training hours.
    const clim = fitClimatology(cube, { hours: o.hours, cells: block, forHours: o.hours, kind: o.clim.kind, ...(o.clim.windowDays !== undefined ? { windowDays: o.clim.windowDays } : {}) });
    for (let t = start; t < end; t++) {
      const hourMeans = col.subarray(0, block.length);
      meanAt(clim, cube, t, block, hourMeans);
      for (let i = 0; i < block.length; i++) mean[i * T + t - start] = hourMeans[i]!;
    }
    for (let i = 0; i < block.length; i++) {
      for (const list of byHour) list.length = 0;
      const cell = block[i]!;
      for (let k = 0; k < T; k++) {
        const v = cube.speed[(start + k) * n + cell]!;
        const a = v - mean[i * T + k]!;
        if (Number.isFinite(a)) byHour[hod[k]!]!.push(a);
      }
      for (let h = 0; h < 24; h++) {
        const list = byHour[h]!;
        const sub = values.subarray(0, list.length);
        for (let j = 0; j < list.length; j++) sub[j] = list[j]!;
        weightedQuantiles(sub, undefined, o.levels, anomaly, ((b0 + i) * 24 + h) * K);
      }
    }
  }
  return { levels: [...o.levels], cells: o.cells, anomaly };
}

/** The climatological mean of hour t at each of cells into out. */
function meanAt(clim: Climatology, cube: Cube, t: number, cells: Int32Array, out: Float32Array): void {
  // climatologyForecast forecasts the hours after t0; a one-lead forecast from t - 1 is hour t.
  // Hour 0 has no t - 1 in the cube: forecast from it with the hour shifted back by hand.
  if (t > 0) {
    climatologyForecast(clim, cube, { t0: t - 1, cells, horizon: 1, out });
    return;
  }
  const shifted: Cube = { ...cube, times: Float64Array.from([cube.times[0]! - HOUR_MS, ...cube.times.subarray(0, 1)]) };
  climatologyForecast(clim, shifted, { t0: 0, cells, horizon: 1, out });
}

export interface Dressing {
  levels: number[];
  horizon: number;
  /** Persistence error quantiles, index (lead - 1) * K + k, m/s. */
  persistence: Float64Array;
  /** RMS of the same-input ridge's residuals per lead, m/s. */
  ridgeSigma: Float64Array;
  /** Training windows used, and whether each was weighted by its cell's area (every window) or not (an area-weighted sample). */
  windows: number;
  areaWeighted: boolean;
}

/**
 * The persistence error quantiles and the ridge's residual deviation per lead, from the
 * windows the ridge was fitted on (the same call, the same seed).
 */
export function fitDressing(ctx: FeatureContext, ridge: SameInputRidge, o: { split: TimeSplit; windows: number; seed: number; levels: readonly number[] }): Dressing {
  checkLevels(o.levels);
  const cube = ctx.cube;
  const H = ridge.horizon;
  const K = o.levels.length;
  const n = cube.grid.width * cube.grid.height;
  const sample = trainingWindows(ctx, o.split, o.windows, mixSeed(o.seed, RIDGE_SAMPLE_SEED));
  // trainingWindows takes every window when they fit in o.windows (then area weights apply), else an area-weighted sample.
  const areaWeighted = periodAnchors(o.split, o.split.train, 1).length * n <= o.windows;
  const N = sample.t0.length;
  const fit = new Float32Array(N * H);
  ridgeForecast(ridge, ctx, sample.t0, sample.cell, fit);
  // Each window's observed hours t0..t0 + H, read once through the context (a cube on disk reads a window per call).
  const observed = new Float32Array(N * (H + 1));
  for (let i = 0; i < N; i++) {
    const t0 = sample.t0[i]!;
    const base = centreBase(ctx, t0, sample.cell[i]!);
    for (let l = 0; l <= H; l++) observed[i * (H + 1) + l] = ctx.speed[base + (t0 + l) * ctx.hourStride]!;
  }
  const persistence = new Float64Array(H * K);
  const ridgeSigma = new Float64Array(H);
  const errors = new Float64Array(N);
  const weights = new Float64Array(N);
  for (let l = 0; l < H; l++) {
    let m = 0;
    let se = 0;
    let sw = 0;
    for (let i = 0; i < N; i++) {
      const cell = sample.cell[i]!;
      const y = observed[i * (H + 1) + l + 1]!;
      const w = areaWeighted ? rowAreaWeight(cube.grid, Math.floor(cell / cube.grid.width)) : 1;
      const e = y - observed[i * (H + 1)]!;
      if (Number.isFinite(e)) {
        errors[m] = e;
        weights[m] = w;
        m++;
      }
      const r = y - fit[i * H + l]!;
      if (Number.isFinite(r)) {
        se += w * r * r;
        sw += w;
      }
    }
    weightedQuantiles(errors.subarray(0, m), weights.subarray(0, m), o.levels, persistence, l * K);
    ridgeSigma[l] = sw > 0 ? Math.sqrt(se / sw) : NaN;
  }
  return { levels: [...o.levels], horizon: H, persistence, ridgeSigma, windows: N, areaWeighted };
}

export interface QuantileBaselineSet {
  climatology: ClimatologyQuantiles;
  dressing: Dressing;
}

/**
 * Every probabilistic baseline's quantiles for one window, in QUANTILE_BASELINE_NAMES order,
 * from the point forecasts of the same window (forecastBaselines: climatology's mean,
 * persistence, the ridge) for the cells the climatology quantiles were fitted on. outs are
 * [cells x horizon x K].
 */
export function dressBaselines(set: QuantileBaselineSet, o: { cube: Cube; t0: number; horizon: number; climatology: Float32Array; persistence: Float32Array; linear: Float32Array; outs: Float32Array[] }): Float32Array[] {
  const { levels, anomaly } = set.climatology;
  const { dressing } = set;
  const H = o.horizon;
  const K = levels.length;
  const m = set.climatology.cells.length;
  if (dressing.horizon !== H) throw new Error(`the dressing was fitted for ${dressing.horizon} leads, ${H} requested`);
  if (o.climatology.length !== m * H) throw new Error(`point forecasts hold ${o.climatology.length} values, expected ${m} cells x ${H} leads`);
  const [clim, pers, lin] = o.outs as [Float32Array, Float32Array, Float32Array];
  const z = levels.map(normalQuantile);
  const hod = Int32Array.from({ length: H }, (_, l) => hourOfDay(o.cube.times[o.t0 + l + 1] ?? o.cube.times[o.t0]! + (l + 1) * HOUR_MS));
  for (let i = 0; i < m; i++) {
    for (let l = 0; l < H; l++) {
      const p = i * H + l;
      const c = o.climatology[p]!;
      const v0 = o.persistence[p]!;
      const r = o.linear[p]!;
      const aBase = (i * 24 + hod[l]!) * K;
      for (let k = 0; k < K; k++) {
        clim[p * K + k] = Math.max(0, c + anomaly[aBase + k]!);
        pers[p * K + k] = Math.max(0, v0 + dressing.persistence[l * K + k]!);
        lin[p * K + k] = Math.max(0, r + dressing.ridgeSigma[l]! * z[k]!);
      }
    }
  }
  return o.outs;
}
