/**
 * The one batched inference path, shared by predict, evaluate and training's validation:
 * forecastWindows gathers the features of (t0, cell) windows in bounded batches, runs the model,
 * and turns its normalised outputs back into m/s. Every tensor is made and disposed inside one
 * batch, so memory is bounded by the batch size however many windows are asked for.
 *
 * Gathering runs on this thread between model calls, or (prefetch) on a feature thread one
 * batch ahead of the model (gather.worker.ts through runtime/prefetch.ts): for the 1,038,240
 * cells of the global grid that takes a few seconds of JavaScript off the critical path. Both
 * gather with the same gatherWindow in the same batches, so the numbers are the same.
 * Where the model takes it (native TensorFlow, fused kernels: takesTimeMajor), a batch is
 * gathered time-major [lookback, batch, features], the layout the fused LSTM reads, and run by
 * inferTimeMajor: the same outputs as model.apply on the batch-major batch, without a transpose
 * of every batch.
 *
 * A batch's outputs are the same bytes only for the same batch: TensorFlow's matrix products
 * (the dense heads; oneDNN or Eigen underneath) pick their kernels and row tails by the number
 * of rows, so a row's last bits depend on the batch's size and the row's place in it, not on
 * the other rows' values. A part of a run that must equal the whole (a predict shard) therefore
 * forecasts the whole run's windows with `only` set: the windows outside it keep their places
 * in the batches, neither gathered nor reported, and batches without a window inside are not run.
 *
 * Also here: the Forecaster (a checkpoint ready to forecast a cube, once model/data-fit.ts says
 * the cube fits it).
 */
import { setImmediate } from 'node:timers/promises';
import type { Tf } from '../runtime/backend.js';
import { doubleBuffered, Prefetcher } from '../runtime/prefetch.js';
import { inputTensor, shareFeatures, type SharedFeatures } from '../prepare/batches.js';
import { loadCheckpoint, type CheckpointMeta } from '../model/checkpoint.js';
import { pointModel } from '../model/model.js';
import { inferTimeMajor, takesTimeMajor } from '../model/time-major.js';
import { checkDataFits, cubeFacts } from '../model/data-fit.js';
import type { Cube } from '../ingest/cube.js';
import { DataError } from '../core/errors.js';
import { DEFAULTS } from '../core/config.js';
import { denormalize, featureContext, gatherWindow, type FeatureContext, type FeatureSpec } from '../prepare/features.js';
import type { NormStats } from '../prepare/normalize.js';
import type { OnnxEngine } from './onnx-engine.js';

type LayersModel = ReturnType<Tf['model']>;
type Tensor = ReturnType<Tf['tensor']>;

/** Where results go: all into `out`, or batch by batch to onBatch (values valid during the call). */
export type ForecastSink =
  | {
      out: Float32Array;
      /**
       * With a quantile model: filled with the quantiles [windows x horizon x levels], m/s,
       * lead-major within a window (((window * horizon) + lead) * levels + k), non-decreasing in k.
       */
      quantiles?: Float32Array;
      onBatch?: undefined;
    }
  | {
      out?: undefined;
      quantiles?: undefined;
      /**
       * `quantiles` [count x horizon x levels] comes with a quantile model when withQuantiles is
       * set (valid during the call). Without it the model runs without its quantile head.
       */
      onBatch: (start: number, count: number, values: Float32Array, quantiles?: Float32Array) => void;
      withQuantiles?: boolean;
    };

export type WindowsToForecast = {
  model: LayersModel;
  ctx: FeatureContext;
  /** Hour index of each window's last input hour: one for all windows, or one per window. */
  t0: number | Int32Array;
  /** Flat cell index (row * width + col) of each window. */
  cells: Int32Array;
  /** Windows per model call: bounds the memory of features, tensors and outputs. */
  batch: number;
  /**
   * Forecast only windows [only[0], only[1]) of `cells`, in the batches a run of all of them
   * makes (see the header); the others come out NaN and are not gathered.
   */
  only?: readonly [number, number];
  /** Host buffers reused across in-thread calls (the Forecaster keeps one). */
  scratch?: ForecastScratch;
  /**
   * Run the network with onnxruntime (onnx-engine.ts) instead of tfjs; prefetched calls only
   * (ONNX Runtime is asynchronous). The outputs are denormalised here either way.
   */
  engine?: OnnxEngine;
} & ForecastSink;

/** Host buffers for one batch of model inputs. */
export class ForecastScratch {
  x: Float32Array;
  valid: Uint8Array;
  constructor(readonly batch: number, readonly spec: FeatureSpec) {
    this.x = new Float32Array(batch * spec.lookback * spec.nFeatures);
    this.valid = new Uint8Array(batch);
  }
}

/** What the feature thread is started with: the shared features, the windows, the two slots. */
export interface GatherSetup {
  features: SharedFeatures;
  t0: number | Int32Array;
  cells: Int32Array;
  x: [Float32Array, Float32Array];
  valid: [Uint8Array, Uint8Array];
  /** Gather time-major, [lookback, count, features] per batch (see the header). */
  timeMajor: boolean;
  /** The windows to gather (WindowsToForecast.only); the others are left invalid. */
  only: readonly [number, number];
}

/** One fill of the feature thread: windows [start, start + count). */
export interface GatherJob {
  start: number;
  count: number;
}

/**
 * Forecast +1..+horizon h for every window, in m/s (NaN where a window's inputs are NaN), into
 * `out` [cells.length * horizon] or batch by batch to onBatch. In-thread it returns when done;
 * with { prefetch: true } features are gathered on a feature thread and it returns a promise.
 */
export function forecastWindows(tf: Tf, windows: WindowsToForecast): void;
export function forecastWindows(tf: Tf, windows: WindowsToForecast, options: { prefetch: true }): Promise<void>;
export function forecastWindows(tf: Tf, windows: WindowsToForecast, ...options: [] | [{ prefetch: true }]): void | Promise<void> {
  return options[0]?.prefetch ? forecastPrefetched(tf, windows) : forecastInThread(tf, windows);
}

/** Quantile levels a model forecasts (0 for a point model): its second output is [n, horizon x levels]. */
export function modelQuantileCount(model: LayersModel, horizon: number): number {
  const outputs = model.outputs;
  if (outputs.length < 2) return 0;
  const width = outputs[1]!.shape[1];
  return typeof width === 'number' ? width / horizon : 0;
}

function checkWindows(w: WindowsToForecast): number {
  const H = w.ctx.spec.horizon;
  if (w.out && w.out.length !== w.cells.length * H) throw new Error(`forecast output holds ${w.out.length} values, expected ${w.cells.length} windows x ${H} leads`);
  const Q = modelQuantileCount(w.model, H);
  if (w.quantiles && Q === 0) throw new Error('quantiles were asked of a point model (its checkpoint has no quantile head)');
  if (w.quantiles && w.quantiles.length !== w.cells.length * H * Q) throw new Error(`quantile output holds ${w.quantiles.length} values, expected ${w.cells.length} windows x ${H} leads x ${Q} levels`);
  if (typeof w.t0 !== 'number' && w.t0.length !== w.cells.length) throw new Error(`${w.t0.length} anchor hours for ${w.cells.length} windows`);
  if (!(w.batch >= 1)) throw new Error(`forecast batch must be at least 1, got ${w.batch}`);
  if (w.only && !(w.only[0] >= 0 && w.only[0] <= w.only[1] && w.only[1] <= w.cells.length)) throw new Error(`forecast windows ${w.only[0]}..${w.only[1]} are not within the ${w.cells.length} windows`);
  return Q;
}

/** A batch's m/s values: the point forecasts [count x horizon], and the quantiles when wanted. */
interface BatchValues {
  point: Float32Array;
  quantiles?: Float32Array;
}

/**
 * Run the model on the first `count` windows of x and finish them: m/s where valid, NaN where
 * not. Writes the batch's values and hands them on; the tensors live only in here.
 */
function finishBatch(tf: Tf, w: WindowsToForecast, x: Float32Array, valid: Uint8Array, start: number, count: number, values: BatchValues, timeMajor: boolean): void {
  const { spec } = w.ctx;
  let xs: Tensor | undefined;
  try {
    xs = inputTensor(tf, x, count, spec.lookback, spec.nFeatures, { timeMajor });
    // Point forecasts alone skip the quantile head (and the quantiles' denormalisation).
    const model = values.quantiles ? w.model : pointModel(tf, w.model);
    const outputs = tf.tidy(() => {
      if (timeMajor) return inferTimeMajor(tf, model, xs!);
      const out = model.apply(xs!, { training: false }) as Tensor | Tensor[];
      return Array.isArray(out) ? out : [out];
    });
    try {
      values.point.set(outputs[0]!.dataSync() as Float32Array);
      if (values.quantiles) values.quantiles.set(outputs[1]!.dataSync() as Float32Array);
    } finally {
      tf.dispose(outputs);
    }
  } finally {
    xs?.dispose();
  }
  denormalizeBatch(w, valid, start, count, values);
}

/** finishBatch with the network run by the onnx engine. */
async function finishBatchOnnx(engine: OnnxEngine, w: WindowsToForecast, x: Float32Array, valid: Uint8Array, start: number, count: number, values: BatchValues): Promise<void> {
  const out = await engine.run(x, count, values.quantiles !== undefined);
  values.point.set(out.point);
  if (values.quantiles) values.quantiles.set(out.quantiles!);
  denormalizeBatch(w, valid, start, count, values);
}

/** The batch's normalised outputs to m/s (NaN for invalid windows), handed on to onBatch. */
function denormalizeBatch(w: WindowsToForecast, valid: Uint8Array, start: number, count: number, values: BatchValues): void {
  const H = w.ctx.spec.horizon;
  const Q = values.quantiles ? values.quantiles.length / (count * H) : 0;
  for (let i = 0; i < count; i++) {
    const t = typeof w.t0 === 'number' ? w.t0 : w.t0[start + i]!;
    if (valid[i]) {
      denormalize(w.ctx, t, w.cells[start + i]!, values.point, i * H);
      if (values.quantiles) denormalize(w.ctx, t, w.cells[start + i]!, values.quantiles, i * H * Q, Q);
    } else {
      values.point.fill(NaN, i * H, (i + 1) * H);
      values.quantiles?.fill(NaN, i * H * Q, (i + 1) * H * Q);
    }
  }
  w.onBatch?.(start, count, values.point, values.quantiles);
}

/** Buffers lent to onBatch (none when results go into out). */
interface Lent {
  point?: Float32Array;
  quantiles?: Float32Array;
}

function lendBuffers(w: WindowsToForecast, batch: number, Q: number): Lent {
  if (w.out) return {};
  const H = w.ctx.spec.horizon;
  return { point: new Float32Array(batch * H), ...(Q > 0 && w.withQuantiles ? { quantiles: new Float32Array(batch * H * Q) } : {}) };
}

/** Where a batch's m/s values go: its part of out (and quantiles), or the buffers lent to onBatch. */
function batchValues(w: WindowsToForecast, lent: Lent, Q: number, start: number, count: number): BatchValues {
  const H = w.ctx.spec.horizon;
  if (w.out) return { point: w.out.subarray(start * H, (start + count) * H), ...(w.quantiles ? { quantiles: w.quantiles.subarray(start * H * Q, (start + count) * H * Q) } : {}) };
  return { point: lent.point!.subarray(0, count * H), ...(lent.quantiles ? { quantiles: lent.quantiles.subarray(0, count * H * Q) } : {}) };
}

function forecastInThread(tf: Tf, w: WindowsToForecast): void {
  const Q = checkWindows(w);
  if (w.engine) throw new Error('the onnx engine runs in prefetched forecasts only (forecastWindows(..., { prefetch: true }))');
  const { ctx, cells } = w;
  const n = cells.length;
  const B = Math.min(w.batch, Math.max(1, n));
  const scratch = w.scratch && w.scratch.batch >= B ? w.scratch : new ForecastScratch(B, ctx.spec);
  const lent = lendBuffers(w, B, Q);
  const timeMajor = takesTimeMajor(tf, w.model);
  const [first, end] = w.only ?? [0, n];
  for (const { start, count } of batchJobs(n, B, first, end)) {
    for (let i = 0; i < count; i++) {
      const k = start + i;
      const t = typeof w.t0 === 'number' ? w.t0 : w.t0[k]!;
      scratch.valid[i] = k >= first && k < end && gatherWindow(ctx, t, cells[k]!, scratch.x, i, timeMajor ? count : undefined) ? 1 : 0;
    }
    finishBatch(tf, w, scratch.x, scratch.valid, start, count, batchValues(w, lent, Q, start, count), timeMajor);
  }
}

async function forecastPrefetched(tf: Tf, w: WindowsToForecast): Promise<void> {
  const Q = checkWindows(w);
  const { ctx, cells } = w;
  const n = cells.length;
  if (n === 0) return;
  const { spec } = ctx;
  const B = Math.min(w.batch, n);
  const slotX = () => new Float32Array(new SharedArrayBuffer(B * spec.lookback * spec.nFeatures * 4));
  const slotValid = () => new Uint8Array(new SharedArrayBuffer(B));
  const setup: GatherSetup = {
    features: shareFeatures(ctx, { copy: true }),
    t0: typeof w.t0 === 'number' ? w.t0 : sharedCopy(w.t0),
    cells: sharedCopy(cells),
    x: [slotX(), slotX()],
    valid: [slotValid(), slotValid()],
    // The onnx engine reads batch-major windows.
    timeMajor: !w.engine && takesTimeMajor(tf, w.model),
    only: w.only ?? [0, n],
  };
  const jobs = batchJobs(n, B, setup.only[0], setup.only[1]);
  const lent = lendBuffers(w, B, Q);
  const prefetcher = Prefetcher.start<GatherJob, number>({ worker: new URL('./gather.worker.js', import.meta.url), role: 'feature', workerData: setup });
  try {
    await doubleBuffered(prefetcher, jobs, async (slot, job) => {
      const values = batchValues(w, lent, Q, job.start, job.count);
      if (w.engine) await finishBatchOnnx(w.engine, w, setup.x[slot], setup.valid[slot], job.start, job.count, values);
      else finishBatch(tf, w, setup.x[slot], setup.valid[slot], job.start, job.count, values, setup.timeMajor);
      // One turn of the event loop per batch: the feature thread's answers are read without one
      // (the pool drains them synchronously), so without this a whole forecast would run in
      // microtasks and other threads' answers (predict's GeoTIFF writer, working on the rows
      // already final) would wait for its end. A turn costs microseconds.
      await setImmediate();
    });
  } finally {
    await prefetcher.close();
  }
}

/** The batches of B of n windows that hold one of windows [first, end): the batches of a run of all n. */
function batchJobs(n: number, B: number, first: number, end: number): GatherJob[] {
  const jobs: GatherJob[] = [];
  if (first >= end) return jobs;
  for (let start = Math.floor(first / B) * B; start < end; start += B) jobs.push({ start, count: Math.min(B, n - start) });
  return jobs;
}

function sharedCopy(a: Int32Array): Int32Array {
  const out = new Int32Array(new SharedArrayBuffer(a.byteLength));
  out.set(a);
  return out;
}

export interface Forecaster {
  meta: CheckpointMeta;
  /** The checkpoint's normalisation statistics (evaluate reads a cube on disk through a context of its own). */
  stats: NormStats;
  /** The quantile levels the checkpoint forecasts ([] for a point model). */
  quantileLevels: readonly number[];
  /**
   * Forecast +1..+horizon for the given cells (flat indices row*width+col) from the window
   * ending at hour index t0 of cube; returns Float32Array [cells.length * horizon] in m/s,
   * NaN where inputs are NaN. With `quantiles` [cells.length * horizon * levels] (a quantile
   * checkpoint only) the quantiles are written there, ((cell * horizon) + lead) * levels + k.
   */
  forecast(cube: Cube, t0: number, cells: Int32Array, out?: Float32Array, quantiles?: Float32Array): Float32Array;
  /** The feature context the model reads `cube` through (evaluate fits the same-input ridge on it). */
  context(cube: Cube): FeatureContext;
  dispose(): void;
}

export interface ForecasterOptions {
  /** Cells per model call (memory bound); default the schema's predict.batchCells. */
  batchCells?: number;
  prefer?: 'best' | 'last';
}

/** Load a checkpoint (a checkpoint folder, or a run folder: best/, else last/) for forecasting. */
export async function loadForecaster(checkpointDir: string, tf: Tf, options: ForecasterOptions = {}): Promise<Forecaster> {
  const loaded = await loadCheckpoint(tf, checkpointDir, options.prefer ?? 'best');
  return makeForecaster(tf, loaded.model, loaded.meta, loaded.stats, options.batchCells ?? DEFAULTS.predict.batchCells);
}

/** A Forecaster around an in-memory model (the training loop's, or a loaded one). */
export function makeForecaster(tf: Tf, model: LayersModel, meta: CheckpointMeta, stats: NormStats, batchCells: number): Forecaster {
  const spec = meta.features;
  const contexts = new WeakMap<Cube, FeatureContext>();
  let scratch: ForecastScratch | undefined;
  let disposed = false;
  const contextFor = (cube: Cube): FeatureContext => {
    let ctx = contexts.get(cube);
    if (!ctx) {
      checkDataFits(meta, cubeFacts(cube, cube.source.files[0]!));
      ctx = featureContext(cube, spec, stats);
      contexts.set(cube, ctx);
    }
    return ctx;
  };
  return {
    meta,
    stats,
    quantileLevels: meta.model.quantiles ?? [],
    forecast(cube, t0, cells, out, quantiles) {
      if (disposed) throw new Error('forecaster used after dispose()');
      if (!Number.isInteger(t0) || t0 - spec.lookback + 1 < 0 || t0 >= cube.times.length) {
        throw new DataError(cube.source.files[0], `a forecast from hour index ${t0} needs hours ${t0 - spec.lookback + 1}..${t0}, the data has 0..${cube.times.length - 1}`);
      }
      const ctx = contextFor(cube);
      scratch ??= new ForecastScratch(Math.max(1, batchCells), spec);
      const result = out ?? new Float32Array(cells.length * spec.horizon);
      forecastWindows(tf, { model, ctx, t0, cells, batch: scratch.batch, scratch, out: result, ...(quantiles ? { quantiles } : {}) });
      return result;
    },
    context: contextFor,
    dispose() {
      if (!disposed) model.dispose();
      disposed = true;
      scratch = undefined;
    },
  };
}
