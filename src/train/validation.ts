/**
 * Validation during training: a fixed, seeded sample of (t0, cell) windows of the validation
 * period, drawn once per run; persistence and the same-input ridge (prepare/ridge.ts, fitted on
 * the training period: evaluate's "linear") are scored on it once, the model after every
 * epoch, per lead, in m/s. Means over the sample are area-weighted: on small data the windows
 * are distinct (every one when they fit), each weighted by its area (prepare/ridge.ts
 * validationWindows); on large grids cells are drawn in proportion to their area.
 */
import type { Tf } from '../runtime/backend.js';
import type { Config } from '../core/config.js';
import { centreBase, type FeatureContext } from '../prepare/features.js';
import { ridgeForecast, validationWindows, type SameInputRidge } from '../prepare/ridge.js';
import type { TimeSplit } from '../prepare/split.js';
import type { WindowSample } from '../prepare/windows.js';
import { ForecastScratch, forecastWindows } from '../forecast/forecast.js';

type LayersModel = ReturnType<Tf['model']>;

/**
 * Weight of element i of a per-window array [n x H] (truth, forecasts) from per-window weights
 * (WindowSample.weight; none: 1 each): every validation score, the RMSE here and the quantile
 * head's (quantile-fit.ts), weights windows the same way.
 */
export function windowWeight(weight: Float32Array | undefined, perWindow: Float32Array): (i: number) => number {
  if (!weight) return () => 1;
  const H = perWindow.length / weight.length;
  return (i) => weight[Math.floor(i / H)]!;
}

/**
 * RMSE per lead and overall (mean of per-lead MSE) of forecasts vs truth, skipping NaN pairs;
 * `weight` (one per window, WindowSample.weight) weights each window's errors.
 */
export function rmseByLead(pred: Float32Array, truth: Float32Array, horizon: number, weight?: Float32Array): { byLead: number[]; overall: number } {
  const sum = new Float64Array(horizon);
  const count = new Float64Array(horizon);
  const weightOf = windowWeight(weight, truth);
  for (let i = 0; i < pred.length; i++) {
    const p = pred[i]!;
    const t = truth[i]!;
    if (p !== p || t !== t) continue;
    const d = p - t;
    const w = weightOf(i);
    sum[i % horizon]! += w * d * d;
    count[i % horizon]! += w;
  }
  const mse = Array.from(sum, (s, h) => (count[h]! > 0 ? s / count[h]! : NaN));
  return { byLead: mse.map(Math.sqrt), overall: Math.sqrt(mse.reduce((a, b) => a + b, 0) / horizon) };
}

/** The fixed validation windows, their truth and the baselines' scores on them, computed once. */
export interface ValidationSet {
  sample: WindowSample;
  truth: Float32Array;
  persistenceByLead: number[];
  persistenceRmse: number;
  linearByLead: number[] | null;
  linearRmse: number | null;
  pred: Float32Array;
  scratch: ForecastScratch;
}

/**
 * The validation windows, their truth, and the two references every epoch is compared with:
 * persistence and the run's same-input ridge (`ridge`, the "linear" of evaluate; null when it
 * could not be fitted).
 */
export function buildValidation(ctx: FeatureContext, split: TimeSplit, config: Config, ridge: SameInputRidge | null): ValidationSet {
  const H = split.horizon;
  // The context's layout, whichever it is (training's is cell-major, resident or read from disk).
  const { speed, hourStride } = ctx;
  const sample = validationWindows(ctx, split, config.train.validationSamples, config.train.seed);
  const count = sample.t0.length;
  const truth = new Float32Array(count * H);
  const persistence = new Float32Array(count * H);
  for (let i = 0; i < count; i++) {
    const t0 = sample.t0[i]!;
    const c = sample.cell[i]!;
    const base = centreBase(ctx, t0, c);
    const last = speed[base + t0 * hourStride]!;
    for (let h = 0; h < H; h++) {
      truth[i * H + h] = speed[base + (t0 + 1 + h) * hourStride]!;
      persistence[i * H + h] = last;
    }
  }
  const p = rmseByLead(persistence, truth, H, sample.weight);
  let linearByLead: number[] | null = null;
  let linearRmse: number | null = null;
  if (ridge) {
    const l = rmseByLead(ridgeForecast(ridge, ctx, sample.t0, sample.cell, new Float32Array(count * H)), truth, H, sample.weight);
    linearByLead = l.byLead;
    linearRmse = l.overall;
  }
  return {
    sample,
    truth,
    persistenceByLead: p.byLead,
    persistenceRmse: p.overall,
    linearByLead,
    linearRmse,
    pred: new Float32Array(count * H),
    // Windows per model call: predict's batch bound serves validation too.
    scratch: new ForecastScratch(Math.min(config.predict.batchCells, Math.max(1, count)), ctx.spec),
  };
}

/**
 * The model's RMSE on the validation windows, per lead and overall, forecast through the one
 * batched inference path (forecast/forecast.ts) that predict and evaluate use.
 */
export function scoreModel(tf: Tf, model: LayersModel, ctx: FeatureContext, validation: ValidationSet): { byLead: number[]; overall: number } {
  const { sample, pred, scratch } = validation;
  forecastWindows(tf, { model, ctx, t0: sample.t0, cells: sample.cell, batch: scratch.batch, scratch, out: pred });
  return rmseByLead(validation.pred, validation.truth, ctx.spec.horizon, sample.weight);
}
