/**
 * Reference forecasts a model must beat, as pure functions over a Cube.
 *
 * Window convention (the same as forecast.ts): t0 is the index of the LAST OBSERVED hour;
 * lead h = 1..horizon is the hour t0 + h. Every forecast is written into a Float32Array
 * [cells x horizon] (index i * horizon + h - 1 for the i-th requested cell), in m/s, and is
 * NaN where the inputs it needs are not finite; the scorer then leaves those pairs out for
 * every forecaster alike.
 *
 *  - persistence: the last observed hour, repeated.
 *  - yesterday: the same hour one day earlier (t0 + h - 24; for leads past 24 h, the latest
 *    observed hour with the same hour of day).
 *  - climatology: the training-period mean of the cell at that UTC hour of day, and day of
 *    year when the training period covers a year (climatology.ts).
 *  - linear: the same-input ridge (prepare/ridge.ts): a ridge regression on exactly the
 *    model's inputs (features, normalisation, u/v, time features), fitted on the training
 *    period with its penalty chosen on validation. The model's skill headline is against it:
 *    what the model adds over it is what its nonlinearity earns, not what its inputs carry.
 *  - linear-speed: per lead, a ridge regression on the cell's last `lookback` speeds, sin/cos
 *    of the hour of day of t0 and an intercept, fitted by normal equations on a deterministic,
 *    area-weighted sample of training windows pooled over cells: the classic autoregressive
 *    forecast, which sees less than the model (no neighbours, no u/v, no per-cell
 *    normalisation), as its name says. fitLinearBaseline / linearForecast are this one.
 */
import type { Cube } from '../ingest/cube.js';
import { latitudeWeights } from './regions.js';
import { hourOfDay } from '../core/time.js';
import { DEFAULTS } from '../core/config.js';
import { ridgeForecast, solveRidge, type SameInputRidge } from '../prepare/ridge.js';
import type { FeatureContext } from '../prepare/features.js';
import { climatologyForecast, type Climatology, type HourRange } from './climatology.js';

export const BASELINE_NAMES = ['persistence', 'yesterday', 'climatology', 'linear', 'linear-speed'] as const;
export type BaselineName = (typeof BASELINE_NAMES)[number];

export interface WindowRequest {
  /** Index of the last observed hour. */
  t0: number;
  /** Flat cell indices row * width + col. */
  cells: Int32Array;
  horizon: number;
  /** Preallocated [cells.length * horizon]; allocated when omitted. */
  out?: Float32Array;
}

function cellsPerHour(cube: Pick<Cube, 'grid'>): number {
  return cube.grid.width * cube.grid.height;
}

function outputFor(req: WindowRequest): Float32Array {
  const n = req.cells.length * req.horizon;
  if (req.out) {
    if (req.out.length !== n) throw new Error(`output holds ${req.out.length} values, expected ${req.cells.length} cells x ${req.horizon} leads`);
    return req.out;
  }
  return new Float32Array(n);
}

function checkHour(cube: Cube, t: number, what: string): void {
  if (!Number.isInteger(t) || t < 0 || t >= cube.times.length) {
    throw new Error(`${what} needs hour index ${t}, outside the cube's ${cube.times.length} hours`);
  }
}


/** The observed values at leads 1..horizon after t0: the truth a forecast is scored on. */
export function truthWindow(cube: Cube, req: WindowRequest): Float32Array {
  const out = outputFor(req);
  checkHour(cube, req.t0 + req.horizon, 'the truth window');
  const n = cellsPerHour(cube);
  const H = req.horizon;
  const speed = cube.speed;
  for (let h = 1; h <= H; h++) {
    const base = (req.t0 + h) * n;
    for (let i = 0; i < req.cells.length; i++) out[i * H + h - 1] = speed[base + req.cells[i]!]!;
  }
  return out;
}

/** Persistence: the speed at t0 for every lead. */
export function persistenceForecast(cube: Cube, req: WindowRequest): Float32Array {
  const out = outputFor(req);
  checkHour(cube, req.t0, 'persistence');
  const n = cellsPerHour(cube);
  const H = req.horizon;
  const base = req.t0 * n;
  for (let i = 0; i < req.cells.length; i++) {
    const v = cube.speed[base + req.cells[i]!]!;
    out.fill(v, i * H, (i + 1) * H);
  }
  return out;
}

/** Same hour yesterday: lead h gets the hour t0 + h - 24 * ceil(h / 24), always observed. */
export function yesterdayForecast(cube: Cube, req: WindowRequest): Float32Array {
  const out = outputFor(req);
  const n = cellsPerHour(cube);
  const H = req.horizon;
  for (let h = 1; h <= H; h++) {
    const t = req.t0 + h - 24 * Math.ceil(h / 24);
    checkHour(cube, t, 'same hour yesterday');
    const base = t * n;
    for (let i = 0; i < req.cells.length; i++) out[i * H + h - 1] = cube.speed[base + req.cells[i]!]!;
  }
  return out;
}

export interface LinearBaseline {
  lookback: number;
  horizon: number;
  lambda: number;
  /** Training hours the fit used. */
  hours: HourRange;
  /** Features: speeds at t0-lookback+1..t0 (oldest first), sin and cos of the hour of day of t0, 1. */
  features: number;
  /** Coefficients, index feature * horizon + lead - 1. */
  coefficients: Float64Array;
  /** (t0, cell) samples the fit used (all features and targets finite). */
  samples: number;
}

export interface LinearFitOptions {
  /** Training hours [start, end): every window lies inside them. */
  hours: HourRange;
  lookback: number;
  horizon: number;
  /** Ridge penalty on the mean (per-sample) normal equations; the intercept is not penalised. */
  lambda: number;
  /** Cells in the fit, spread evenly over the grid (default evaluate.linearSampleCells; all cells if the grid is smaller). */
  sampleCells?: number;
  /** Hours between fitted window starts (default 1). */
  hourStride?: number;
  /**
   * 'auto' (default) sums gap-free cells through prefix sums; 'per-window' adds every window
   * one by one. Both give the same equations (up to rounding); tests check one against the other.
   */
  method?: 'auto' | 'per-window';
  /**
   * Writes hours [start, start + out.length) of a cell's speed into out (a cube on disk,
   * evaluate/cube-access.ts); default: read from the cube's speed.
   */
  readSeries?: (cell: number, start: number, out: Float64Array) => void;
}

/** Evenly spaced flat cell indices, deterministic: the i-th is floor((i + 0.5) * n / count). */
export function evenCells(totalCells: number, count: number): Int32Array {
  const k = Math.min(count, totalCells);
  const out = new Int32Array(k);
  for (let i = 0; i < k; i++) out[i] = Math.floor(((i + 0.5) * totalCells) / k);
  return out;
}

/** Fit the speed-only ridge, "linear-speed" (all leads share one design, so one solve). */
export function fitLinearBaseline(cube: Pick<Cube, 'grid' | 'times'> & { speed?: Float32Array }, options: LinearFitOptions): LinearBaseline {
  const L = options.lookback;
  const H = options.horizon;
  const lambda = options.lambda;
  const hourStride = options.hourStride ?? 1;
  const [start, end] = options.hours;
  const n = cellsPerHour(cube);
  const P = L + 3;
  const firstT0 = start + L - 1;
  const lastT0 = end - 1 - H;
  if (!(start >= 0 && end <= cube.times.length)) throw new Error(`linear baseline hours [${start}, ${end}) are not inside the cube's ${cube.times.length} hours`);
  if (lastT0 < firstT0) {
    throw new Error(`the training period (${end - start} hours) is too short for a ${L}-hour lookback and a ${H}-hour horizon`);
  }
  const cells = evenCells(n, options.sampleCells ?? DEFAULTS.evaluate.linearSampleCells);
  const rowW = latitudeWeights(cube.grid);
  const width = cube.grid.width;
  const xtx = new Float64Array(P * P);
  const xty = new Float64Array(P * H);
  // Hour-of-day terms of every anchor, shared by all cells.
  const span = end - start;
  const sinH = new Float64Array(span);
  const cosH = new Float64Array(span);
  for (let k = 0; k < span; k++) {
    const angle = (2 * Math.PI * hourOfDay(cube.times[start + k]!)) / 24;
    sinH[k] = Math.sin(angle);
    cosH[k] = Math.cos(angle);
  }
  // Cell by cell: read the cell's training series once (one strided read per hour instead of
  // lookback + horizon per window), and find windows with a NaN through a running count.
  const series = new Float64Array(span);
  const x = new Float64Array(P);
  const badBefore = new Int32Array(span + 1);
  // Every product the normal equations need is s[i] * s[i + d] for an offset d < L + H, or
  // s[i] times an hour-of-day term; with every window of a gap-free series in the fit, each
  // sum over windows is a difference of prefix sums, O(L + H) per hour instead of O(P^2) per
  // window. Cells with a NaN, or a stride > 1, take the per-window path.
  const D = L + H;
  const anchors = lastT0 - firstT0 + 1;
  const first0 = firstT0 - L + 1 - start;
  const prefix = new Float64Array(D * (span + 1));
  const bySin = new Float64Array(D);
  const byCos = new Float64Array(D);
  const byOne = new Float64Array(D);
  // Cell-independent sums of the hour-of-day terms over the anchors.
  let sSS = 0;
  let sSC = 0;
  let sCC = 0;
  let sS = 0;
  let sC = 0;
  for (let k0 = firstT0 - start; k0 <= lastT0 - start; k0++) {
    sSS += sinH[k0]! * sinH[k0]!;
    sSC += sinH[k0]! * cosH[k0]!;
    sCC += cosH[k0]! * cosH[k0]!;
    sS += sinH[k0]!;
    sC += cosH[k0]!;
  }
  let sumW = 0;
  let samples = 0;
  const speed = cube.speed;
  const readSeries =
    options.readSeries ??
    ((cell: number, from: number, out: Float64Array) => {
      if (!speed) throw new Error('fitLinearBaseline needs the cube\'s speed or a readSeries');
      for (let k = 0; k < out.length; k++) out[k] = speed[(from + k) * n + cell]!;
    });
  for (let i = 0; i < cells.length; i++) {
    const cell = cells[i]!;
    readSeries(cell, start, series);
    for (let k = 0; k < span; k++) badBefore[k + 1] = badBefore[k]! + (Number.isFinite(series[k]!) ? 0 : 1);
    const w = rowW[Math.floor(cell / width)]!;
    if (hourStride === 1 && badBefore[span] === 0 && options.method !== 'per-window') {
      // Window f (0..anchors-1) starts at hour first0 + f; feature a < L is s[first0 + f + a],
      // target h is s[first0 + f + L + h], the hour terms belong to hour first0 + f + L - 1.
      for (let d = 0; d < D; d++) {
        const row = d * (span + 1);
        prefix[row] = 0;
        for (let k = 0; k + d < span; k++) prefix[row + k + 1] = prefix[row + k]! + series[k]! * series[k + d]!;
      }
      for (let o = 0; o < D; o++) {
        let ss = 0;
        let sc = 0;
        let s1 = 0;
        for (let f = 0; f < anchors; f++) {
          const v = series[first0 + f + o]!;
          const k0 = first0 + f + L - 1;
          ss += v * sinH[k0]!;
          sc += v * cosH[k0]!;
          s1 += v;
        }
        bySin[o] = ss;
        byCos[o] = sc;
        byOne[o] = s1;
      }
      // Sum over windows of s[first0 + f + a] * s[first0 + f + a + d].
      const pair = (a: number, d: number) => prefix[d * (span + 1) + first0 + a + anchors]! - prefix[d * (span + 1) + first0 + a]!;
      for (let a = 0; a < L; a++) {
        for (let b = a; b < L; b++) xtx[a * P + b]! += w * pair(a, b - a);
        xtx[a * P + L]! += w * bySin[a]!;
        xtx[a * P + L + 1]! += w * byCos[a]!;
        xtx[a * P + L + 2]! += w * byOne[a]!;
        for (let h = 0; h < H; h++) xty[a * H + h]! += w * pair(a, L + h - a);
      }
      for (let h = 0; h < H; h++) {
        xty[L * H + h]! += w * bySin[L + h]!;
        xty[(L + 1) * H + h]! += w * byCos[L + h]!;
        xty[(L + 2) * H + h]! += w * byOne[L + h]!;
      }
      xtx[L * P + L]! += w * sSS;
      xtx[L * P + L + 1]! += w * sSC;
      xtx[L * P + L + 2]! += w * sS;
      xtx[(L + 1) * P + L + 1]! += w * sCC;
      xtx[(L + 1) * P + L + 2]! += w * sC;
      xtx[(L + 2) * P + L + 2]! += w * anchors;
      sumW += w * anchors;
      samples += anchors;
      continue;
    }
    for (let t0 = firstT0; t0 <= lastT0; t0 += hourStride) {
      const k0 = t0 - start;
      const first = k0 - L + 1;
      // Hours first..k0 + H must all be finite.
      if (badBefore[k0 + H + 1]! - badBefore[first]! !== 0) continue;
      for (let j = 0; j < L; j++) x[j] = series[first + j]!;
      x[L] = sinH[k0]!;
      x[L + 1] = cosH[k0]!;
      x[L + 2] = 1;
      const yOff = k0 + 1;
      // Upper triangle only; mirrored after the loop.
      for (let a = 0; a < P; a++) {
        const wa = w * x[a]!;
        const rowA = a * P;
        for (let b = a; b < P; b++) xtx[rowA + b]! += wa * x[b]!;
        const rowY = a * H;
        for (let h = 0; h < H; h++) xty[rowY + h]! += wa * series[yOff + h]!;
      }
      sumW += w;
      samples++;
    }
  }
  if (samples < P) {
    throw new Error(`the linear baseline needs at least ${P} complete training windows, found ${samples} (too many NaN cells or too few hours)`);
  }
  const coefficients = solveRidge({ xtx, xty, inputs: P, outputs: H, sumW, lambda });
  return { lookback: L, horizon: H, lambda, hours: [start, end], features: P, coefficients, samples };
}

/** The speed-only ridge's forecast for leads 1..horizon after t0. */
export function linearForecast(model: LinearBaseline, cube: Cube, req: Omit<WindowRequest, 'horizon'> & { horizon?: number }): Float32Array {
  const H = model.horizon;
  if (req.horizon !== undefined && req.horizon !== H) throw new Error(`the linear baseline was fitted for ${H} leads, ${req.horizon} requested`);
  const out = outputFor({ ...req, horizon: H });
  const L = model.lookback;
  checkHour(cube, req.t0, 'the linear baseline');
  checkHour(cube, req.t0 - L + 1, 'the linear baseline');
  const n = cellsPerHour(cube);
  const angle = (2 * Math.PI * hourOfDay(cube.times[req.t0]!)) / 24;
  const coef = model.coefficients;
  // The hour-of-day and intercept terms are the same for every cell of the window.
  const constant = new Float64Array(H);
  for (let h = 0; h < H; h++) constant[h] = Math.sin(angle) * coef[L * H + h]! + Math.cos(angle) * coef[(L + 1) * H + h]! + coef[(L + 2) * H + h]!;
  const acc = new Float64Array(H);
  const speed = cube.speed;
  const firstBase = (req.t0 - L + 1) * n;
  for (let i = 0; i < req.cells.length; i++) {
    const cell = req.cells[i]!;
    acc.set(constant);
    for (let j = 0; j < L; j++) {
      const v = speed[firstBase + j * n + cell]!;
      const row = j * H;
      for (let h = 0; h < H; h++) acc[h]! += v * coef[row + h]!;
    }
    // A NaN input propagates through the sums: that cell's forecast is NaN, as documented.
    for (let h = 0; h < H; h++) out[i * H + h] = acc[h]!;
  }
  return out;
}

export interface BaselineSet {
  climatology: Climatology;
  /** The same-input ridge and the feature context it reads (the model's own). */
  linear: { ridge: SameInputRidge; ctx: FeatureContext };
  /** The speed-only ridge. */
  linearSpeed: LinearBaseline;
}

/**
 * Every baseline's forecast for one window, in BASELINE_NAMES order; pass `outs` (one
 * [cells x horizon] array per baseline) to reuse buffers across windows.
 */
export function forecastBaselines(set: BaselineSet, cube: Cube, req: Omit<WindowRequest, 'out'> & { outs?: Float32Array[] }): Float32Array[] {
  const size = req.cells.length * req.horizon;
  const outs = req.outs ?? BASELINE_NAMES.map(() => new Float32Array(size));
  const base = { t0: req.t0, cells: req.cells, horizon: req.horizon };
  if (set.linear.ridge.horizon !== req.horizon) throw new Error(`the same-input ridge was fitted for ${set.linear.ridge.horizon} leads, ${req.horizon} requested`);
  persistenceForecast(cube, { ...base, out: outs[0]! });
  yesterdayForecast(cube, { ...base, out: outs[1]! });
  climatologyForecast(set.climatology, cube, { ...base, out: outs[2]! });
  ridgeForecast(set.linear.ridge, set.linear.ctx, req.t0, req.cells, outs[3]!);
  linearForecast(set.linearSpeed, cube, { ...base, out: outs[4]! });
  return outs;
}
