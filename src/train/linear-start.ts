/**
 * The linear path's start: before the first training step, the model's linear path is set to
 * a ridge fit on training windows, so the untrained model is already a good linear forecast
 * and the LSTM learns only what that misses (model.ts builds the path, setLinearPath sets it).
 */
import type { Tf } from '../runtime/backend.js';
import type { Config } from '../core/config.js';
import { solveRidge, trainingWindows, type SameInputRidge } from '../prepare/ridge.js';
import { storedTensor } from '../prepare/batches.js';
import { gatherTargets, gatherWindow, type FeatureContext } from '../prepare/features.js';
import type { TimeSplit } from '../prepare/split.js';
import { mixSeed, type WindowSample } from '../prepare/windows.js';
import { setFullLinearPath, setLinearPath, type LinearStart, type ModelSpec } from '../model/model.js';

type LayersModel = ReturnType<Tf['model']>;

/**
 * Fit the linear start on the training period and set the model's linear path to it. Small
 * data: every training window once (exact least squares); else a seeded sample of
 * config.train.linearFitWindows. Returns the
 * number of windows fitted on.
 */
export function startLinearPath(options: {
  tf: Tf;
  model: LayersModel;
  modelSpec: ModelSpec;
  ctx: FeatureContext;
  split: TimeSplit;
  config: Config;
  /** The run's same-input ridge: a full linear path starts as it. */
  ridge: SameInputRidge | null;
}): number {
  const { tf, model, modelSpec, ctx, split, config, ridge } = options;
  const makeTensor = (values: Float32Array, shape: number[]) => storedTensor(tf, values, shape, 'float32');
  if (modelSpec.linearPath === 'full') {
    if (!ridge) throw new Error('the full linear path starts from the same-input ridge, which could not be fitted');
    setFullLinearPath(tf, model, modelSpec, ridge, makeTensor);
    return ridge.windows;
  }
  const fitSample = trainingWindows(ctx, split, config.train.linearFitWindows, mixSeed(config.train.seed, 0x11aea));
  const start = fitLinearStart(ctx, fitSample, config.evaluate.ridgeLambda);
  setLinearPath(tf, model, modelSpec, start, makeTensor);
  return fitSample.t0.length;
}

/**
 * Ridge start for the linear path, on a sample of training windows, in normalised units
 * weighted like the training loss: per lead, the cell's speed at every lookback hour, the
 * solar hour at the last input hour and an intercept (the linear baseline's inputs), plus the
 * mean speed on one stencil ring at the last hour (the ring whose fit leaves the smallest
 * training error). The three projection channels carry speed, solar_hour_sin and that ring
 * mean: the solar cosine is the sine six hours earlier (sin(x - pi/2) = -cos x), so no channel
 * is spent on it. The model then starts as this linear forecast and the LSTM learns what it
 * misses, which matters on small datasets (on ERA5 Berlin the neighbour ring alone takes the
 * start from the baseline's RMSE to 0.3 % below it on the 720-hour set of the earlier docs/era5-berlin.md).
 */
export function linearStartTerms(spec: FeatureContext['spec'], ring: number): LinearStart {
  const L = spec.lookback;
  const H = spec.horizon;
  const solar = spec.names.indexOf('solar_hour_sin');
  const terms: LinearStart['terms'] = [];
  for (let h = 0; h < L; h++) terms.push({ channel: 0, hour: h, coef: new Float64Array(H) });
  terms.push({ channel: 1, hour: L - 1, coef: new Float64Array(H) });
  if (L > 6) terms.push({ channel: 1, hour: L - 7, coef: new Float64Array(H) });
  if (ring >= 0) terms.push({ channel: 2, hour: L - 1, coef: new Float64Array(H) });
  return { channelFeatures: [0, solar, ring], terms, intercept: new Float64Array(H) };
}

export function fitLinearStart(ctx: FeatureContext, sample: WindowSample, lambda: number): LinearStart {
  const rings = ctx.spec.ringsDeg.map((r) => ctx.spec.names.indexOf(`ring${r}_mean`)).filter((f) => f >= 0);
  let best: { start: LinearStart; sse: number } | undefined;
  for (const ring of rings.length > 0 ? rings : [-1]) {
    const fit = fitLinearStartWith(ctx, sample, lambda, ring);
    if (!best || fit.sse < best.sse) best = fit;
  }
  return best!.start;
}

function fitLinearStartWith(ctx: FeatureContext, sample: WindowSample, lambda: number, ring: number): { start: LinearStart; sse: number } {
  const { spec, stats } = ctx;
  const L = spec.lookback;
  const H = spec.horizon;
  const F = spec.nFeatures;
  const start = linearStartTerms(spec, ring);
  const inputs = start.terms.map((t) => t.hour * F + start.channelFeatures[t.channel]!);
  const P = inputs.length + 1;
  const xtx = new Float64Array(P * P);
  const xty = new Float64Array(P * H);
  const x = new Float32Array(L * F);
  const y = new Float32Array(H);
  const row = new Float64Array(P);
  /** Fill row (inputs + intercept) and y for window i; its weight, or 0 when incomplete. */
  const designRow = (i: number): number => {
    const t0 = sample.t0[i]!;
    const cell = sample.cell[i]!;
    if (!gatherWindow(ctx, t0, cell, x, 0) || !gatherTargets(ctx, t0, cell, y, 0)) return 0;
    for (let k = 0; k < inputs.length; k++) row[k] = x[inputs[k]!]!;
    row[P - 1] = 1;
    const sd = stats.std[cell]!;
    return (sd * sd) / stats.meanVariance;
  };
  let sumW = 0;
  for (let i = 0; i < sample.t0.length; i++) {
    const w = designRow(i);
    if (w === 0) continue;
    for (let a = 0; a < P; a++) {
      const wa = w * row[a]!;
      for (let b = a; b < P; b++) xtx[a * P + b]! += wa * row[b]!;
      for (let j = 0; j < H; j++) xty[a * H + j]! += wa * y[j]!;
    }
    sumW += w;
  }
  if (sumW === 0) throw new Error('no complete training window to fit the linear path on');
  // The penalty spares the intercept, like the linear baseline's.
  const coef = solveRidge({ xtx, xty, inputs: P, outputs: H, sumW, lambda });
  start.terms.forEach((t, k) => t.coef.set(coef.subarray(k * H, (k + 1) * H)));
  start.intercept.set(coef.subarray((P - 1) * H, P * H));
  // Weighted training error of the fit, to choose between rings.
  let sse = 0;
  for (let i = 0; i < sample.t0.length; i++) {
    const w = designRow(i);
    if (w === 0) continue;
    for (let j = 0; j < H; j++) {
      let p = 0;
      for (let a = 0; a < P; a++) p += row[a]! * coef[a * H + j]!;
      sse += w * (p - y[j]!) ** 2;
    }
  }
  return { start, sse };
}
