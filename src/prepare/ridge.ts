/**
 * Ridge regression, the linear algebra and the one linear model over exactly the model's inputs.
 *
 * solveRidge / solveSymmetric finish a weighted least-squares fit from accumulated normal
 * equations (used by the speed-only baseline too). The same-input ridge maps a window's
 * model inputs (every feature at every lookback hour, normalised exactly as the network sees
 * them) to the network's targets (the normalised change from the last hour, or the normalised
 * speed), per lead, weighted like the training loss (std^2 / meanVariance, so the weighted
 * squared error is the squared error in m/s). It is both the baseline the model's skill is
 * measured against and the model's linear path at the start of training, so "better than the
 * untrained model" and "better than the same-input ridge" are the same claim. Its penalty is
 * chosen on validation windows, never on the test period.
 */
import { denormalize, gatherTargets, gatherWindow, windowValid, type FeatureContext } from './features.js';
import type { TimeSplit } from './split.js';
import { allWindows, distinctWindows, mixSeed, periodAnchors, sampleWindows, type WindowSample } from './windows.js';

/** Penalties tried for the same-input ridge (inputs are normalised, so these are comparable). */
export const RIDGE_LAMBDAS: readonly number[] = [1e-4, 1e-3, 1e-2, 1e-1, 1, 10];

export interface SameInputRidge {
  /** Inputs per window: lookback x nFeatures, in the order gatherWindow writes them. */
  inputs: number;
  horizon: number;
  /** The penalty chosen on validation. */
  lambda: number;
  /** [(inputs + 1) x horizon]: one column per lead, the intercept in the last row. */
  coef: Float64Array;
  /** Weighted RMSE on the validation windows (m/s) for each penalty tried, in RIDGE_LAMBDAS order. */
  validationRmse: number[];
  /** Training windows fitted on. */
  windows: number;
}

/**
 * Fit the same-input ridge on `train` windows and choose its penalty on `validation` windows.
 * Throws when no training window is complete.
 */
export function fitSameInputRidge(ctx: FeatureContext, train: WindowSample, validation: WindowSample, lambdas: readonly number[] = RIDGE_LAMBDAS): SameInputRidge {
  const { spec } = ctx;
  const P = spec.lookback * spec.nFeatures + 1;
  const H = spec.horizon;
  const normal = accumulateNormalEquations(ctx, train);
  if (normal.sumW === 0) throw new Error('no complete training window to fit the same-input ridge on');
  const val = designMatrix(ctx, validation);
  let best: { lambda: number; coef: Float64Array; mse: number } | undefined;
  const validationRmse: number[] = [];
  for (const lambda of lambdas) {
    const coef = solveRidge({ xtx: normal.xtx.slice(), xty: normal.xty.slice(), inputs: P, outputs: H, sumW: normal.sumW, lambda });
    const mse = val.sumW > 0 ? weightedMse(val, coef, P, H) : NaN;
    validationRmse.push(Math.sqrt(mse * ctx.stats.meanVariance));
    if (!best || mse < best.mse || (best.mse !== best.mse && mse === mse)) best = { lambda, coef, mse };
  }
  return { inputs: P - 1, horizon: H, lambda: best!.lambda, coef: best!.coef, validationRmse, windows: normal.count };
}

/** Seed offsets of the two samples, shared with training's validation set (train/validation.ts). */
export const RIDGE_SAMPLE_SEED = 0x51d9e;
export const VALIDATION_SAMPLE_SEED = 0x7a11d;

/**
 * Periods with at most this many times the wanted windows take distinct windows
 * (distinctWindows, area-weighted); larger ones independent area-proportional draws, whose
 * repeats are then rare (under 1/32 of the draws) and whose index needs no array of every window.
 */
export const DISTINCT_WINDOWS_FACTOR = 16;
/** ...and at most this many windows in all, so the index distinctWindows shuffles stays small (64 MiB). */
const DISTINCT_WINDOWS_MAX = 2 ** 24;

/**
 * The validation windows of a run: at most `count` windows of the validation period, seeded.
 * Training scores every epoch on these, the ridge picks its penalty and the quantile head its
 * widths on them, so all see the same hours. On small data (a site box, a few years) they are
 * distinct windows of the period (every one when they fit), the same for every seed, so early
 * stopping judges the period itself and not a resample.
 */
export function validationWindows(ctx: FeatureContext, split: TimeSplit, count: number, seed: number): WindowSample {
  const anchors = periodAnchors(split, split.validation, 1);
  const cells = ctx.cube.grid.width * ctx.cube.grid.height;
  const accept = (t0: number, cell: number) => windowValid(ctx, t0, cell, true);
  // Distinct windows do not follow the run's seed: runs of different seeds (ensemble members,
  // seed studies) are judged on the same windows.
  if (anchors.length * cells <= Math.min(DISTINCT_WINDOWS_FACTOR * count, DISTINCT_WINDOWS_MAX)) return distinctWindows(ctx.cube.grid, anchors, count, VALIDATION_SAMPLE_SEED, accept);
  return sampleWindows({
    grid: ctx.cube.grid,
    anchors,
    count,
    seed: mixSeed(seed, VALIDATION_SAMPLE_SEED),
    accept,
  });
}

/**
 * The same-input ridge of a run, fitted on its training period (every window when there are at
 * most `windows` of them, else a seeded area-weighted sample of that many) with its penalty
 * chosen on the run's validation windows. Training's linear start and evaluate's "linear"
 * baseline both call this with the run's settings, so they are the same fit.
 */
export function fitPeriodRidge(ctx: FeatureContext, o: { split: TimeSplit; windows: number; validationWindows: number; seed: number; lambdas?: readonly number[] }): SameInputRidge {
  const train = trainingWindows(ctx, o.split, o.windows, mixSeed(o.seed, RIDGE_SAMPLE_SEED));
  return fitSameInputRidge(ctx, train, validationWindows(ctx, o.split, o.validationWindows, o.seed), o.lambdas);
}

/**
 * The windows a least-squares fit on the training period uses: every one when there are at
 * most `max`, else a seeded area-weighted sample of `max` complete ones.
 */
export function trainingWindows(ctx: FeatureContext, split: TimeSplit, max: number, seed: number): WindowSample {
  const anchors = periodAnchors(split, split.train, 1);
  const cells = ctx.cube.grid.width * ctx.cube.grid.height;
  if (anchors.length * cells <= max) return allWindows(anchors, cells);
  return sampleWindows({ grid: ctx.cube.grid, anchors, count: max, seed, accept: (t, c) => windowValid(ctx, t, c, true) });
}

/**
 * The same-input ridge's forecast, m/s, for windows (t0 or t0[i], cells[i]) into out
 * [n x horizon]; NaN where the window's inputs are incomplete (as the model's forecasts).
 */
export function ridgeForecast(ridge: SameInputRidge, ctx: FeatureContext, t0: number | Int32Array, cells: Int32Array, out: Float32Array): Float32Array {
  const H = ridge.horizon;
  const P = ridge.inputs + 1;
  const x = new Float32Array(ridge.inputs);
  const { coef } = ridge;
  for (let i = 0; i < cells.length; i++) {
    const t = typeof t0 === 'number' ? t0 : t0[i]!;
    if (!gatherWindow(ctx, t, cells[i]!, x, 0)) {
      out.fill(NaN, i * H, (i + 1) * H);
      continue;
    }
    for (let j = 0; j < H; j++) out[i * H + j] = coef[(P - 1) * H + j]!;
    for (let a = 0; a < P - 1; a++) {
      const xa = x[a]!;
      if (xa === 0) continue;
      const row = a * H;
      for (let j = 0; j < H; j++) out[i * H + j]! += xa * coef[row + j]!;
    }
    denormalize(ctx, t, cells[i]!, out, i * H);
  }
  return out;
}

/** Sum of w x x^T (upper triangle) and w x y^T over the complete windows of sample. */
function accumulateNormalEquations(ctx: FeatureContext, sample: WindowSample): { xtx: Float64Array; xty: Float64Array; sumW: number; count: number } {
  const { spec, stats } = ctx;
  const P = spec.lookback * spec.nFeatures + 1;
  const H = spec.horizon;
  const xtx = new Float64Array(P * P);
  const xty = new Float64Array(P * H);
  const x = new Float32Array(P - 1);
  const y = new Float32Array(H);
  const row = new Float64Array(P);
  let sumW = 0;
  let count = 0;
  for (let i = 0; i < sample.t0.length; i++) {
    const cell = sample.cell[i]!;
    if (!gatherWindow(ctx, sample.t0[i]!, cell, x, 0) || !gatherTargets(ctx, sample.t0[i]!, cell, y, 0)) continue;
    const sd = stats.std[cell]!;
    const w = (sd * sd) / stats.meanVariance;
    for (let a = 0; a < P - 1; a++) row[a] = x[a]!;
    row[P - 1] = 1;
    for (let a = 0; a < P; a++) {
      const wa = w * row[a]!;
      if (wa === 0) continue;
      const base = a * P;
      for (let b = a; b < P; b++) xtx[base + b]! += wa * row[b]!;
      const yBase = a * H;
      for (let j = 0; j < H; j++) xty[yBase + j]! += wa * y[j]!;
    }
    sumW += w;
    count++;
  }
  return { xtx, xty, sumW, count };
}

interface Design {
  x: Float32Array;
  y: Float32Array;
  w: Float64Array;
  n: number;
  sumW: number;
}

/** The complete windows of sample as rows of inputs (with the intercept), targets and weights. */
function designMatrix(ctx: FeatureContext, sample: WindowSample): Design {
  const { spec, stats } = ctx;
  const P = spec.lookback * spec.nFeatures + 1;
  const H = spec.horizon;
  const x = new Float32Array(sample.t0.length * P);
  const y = new Float32Array(sample.t0.length * H);
  const w = new Float64Array(sample.t0.length);
  const xi = new Float32Array(P - 1);
  let n = 0;
  let sumW = 0;
  for (let i = 0; i < sample.t0.length; i++) {
    const cell = sample.cell[i]!;
    if (!gatherWindow(ctx, sample.t0[i]!, cell, xi, 0) || !gatherTargets(ctx, sample.t0[i]!, cell, y, n)) continue;
    x.set(xi, n * P);
    x[n * P + P - 1] = 1;
    const sd = stats.std[cell]!;
    // The training loss's weight, times the window's area weight when the sample carries one.
    w[n] = ((sd * sd) / stats.meanVariance) * (sample.weight?.[i] ?? 1);
    sumW += w[n]!;
    n++;
  }
  return { x, y, w, n, sumW };
}

/** Weighted mean (over windows) of the lead-mean squared error of coef on design d. */
function weightedMse(d: Design, coef: Float64Array, P: number, H: number): number {
  const pred = new Float64Array(H);
  let sse = 0;
  for (let i = 0; i < d.n; i++) {
    pred.fill(0);
    const xBase = i * P;
    for (let a = 0; a < P; a++) {
      const xa = d.x[xBase + a]!;
      if (xa === 0) continue;
      const row = a * H;
      for (let j = 0; j < H; j++) pred[j]! += xa * coef[row + j]!;
    }
    let e = 0;
    for (let j = 0; j < H; j++) e += (pred[j]! - d.y[i * H + j]!) ** 2;
    sse += (d.w[i]! * e) / H;
  }
  return sse / d.sumW;
}

/**
 * Finish a weighted ridge fit from accumulated normal equations: xtx holds only its upper
 * triangle (P x P, the last input being the intercept) and xty is P x H, both summed with
 * weights totalling sumW. Averages them (so lambda means the same whatever the sample size),
 * mirrors the triangle, penalises every input but the intercept, and solves. xtx and xty are
 * overwritten.
 */
export function solveRidge(o: { xtx: Float64Array; xty: Float64Array; inputs: number; outputs: number; sumW: number; lambda: number }): Float64Array {
  const { xtx, xty, inputs: P, outputs: H, sumW, lambda } = o;
  for (let a = 0; a < P; a++) {
    for (let b = a; b < P; b++) {
      const v = xtx[a * P + b]! / sumW;
      xtx[a * P + b] = v;
      xtx[b * P + a] = v;
    }
    for (let h = 0; h < H; h++) xty[a * H + h]! /= sumW;
  }
  for (let a = 0; a < P - 1; a++) xtx[a * P + a]! += lambda;
  return solveSymmetric(xtx, xty, P, H);
}

/**
 * Solve A X = B for symmetric positive definite A (P x P) and B (P x H) by Cholesky. With a
 * zero penalty and collinear inputs (constant series) A is only semi-definite: then retry
 * with a tiny diagonal jitter relative to A's scale rather than fail.
 */
export function solveSymmetric(A: Float64Array, B: Float64Array, P: number, H: number): Float64Array {
  let trace = 0;
  for (let a = 0; a < P; a++) trace += A[a * P + a]!;
  for (const jitter of [0, 1e-10, 1e-7, 1e-4]) {
    const Lm = cholesky(A, P, (jitter * trace) / P);
    if (!Lm) continue;
    const X = new Float64Array(P * H);
    const z = new Float64Array(P);
    for (let h = 0; h < H; h++) {
      // Forward: L z = b.
      for (let i = 0; i < P; i++) {
        let s = B[i * H + h]!;
        for (let k = 0; k < i; k++) s -= Lm[i * P + k]! * z[k]!;
        z[i] = s / Lm[i * P + i]!;
      }
      // Back: L^T x = z.
      for (let i = P - 1; i >= 0; i--) {
        let s = z[i]!;
        for (let k = i + 1; k < P; k++) s -= Lm[k * P + i]! * X[k * H + h]!;
        X[i * H + h] = s / Lm[i * P + i]!;
      }
    }
    return X;
  }
  throw new Error('the ridge normal equations are singular (the training data has no variation)');
}

function cholesky(A: Float64Array, P: number, jitter: number): Float64Array | undefined {
  const Lm = new Float64Array(P * P);
  for (let i = 0; i < P; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * P + j]! + (i === j ? jitter : 0);
      const ri = i * P;
      const rj = j * P;
      for (let k = 0; k < j; k++) s -= Lm[ri + k]! * Lm[rj + k]!;
      if (i === j) {
        if (!(s > 1e-12 * Math.max(1, Math.abs(A[i * P + i]!)))) return undefined;
        Lm[i * P + i] = Math.sqrt(s);
      } else {
        Lm[i * P + j] = s / Lm[j * P + j]!;
      }
    }
  }
  return Lm;
}
