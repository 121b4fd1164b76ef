/**
 * Batches: windows gathered into preallocated host buffers, and the only place tensors are
 * created from typed arrays (their owner, the training loop or the forecast path, disposes them
 * in `finally`). Also the form in which a FeatureContext crosses to a thread (SharedFeatures),
 * and BatchWorker: training batches filled one ahead on a thread through the prefetch helper
 * (runtime/prefetch.ts, payload prepare/batch.worker.ts).
 */
import type { Tf } from '../runtime/backend.js';
import { Prefetcher } from '../runtime/prefetch.js';
import type { GridSpec } from '../core/grid.js';
import { cellFeatureContext, featureContext, gatherTargets, gatherWindow, type FeatureContext, type FeatureLayout, type FeatureSpec } from './features.js';
import type { CellFile } from '../ingest/cell-cube.js';
import type { NormStats } from './normalize.js';
import type { WindowSample } from './windows.js';

type Tensor = ReturnType<Tf['tensor']>;

/** Reusable host buffers for one batch of training windows. */
export class BatchBuffers {
  readonly x: Float32Array;
  readonly y: Float32Array;
  readonly w: Float32Array;
  constructor(
    readonly batchSize: number,
    readonly lookback: number,
    readonly nFeatures: number,
    readonly horizon: number,
    /** Over SharedArrayBuffers, for filling on the batch thread (BatchWorker). */
    shared = false,
  ) {
    const floats = (n: number) => (shared ? new Float32Array(new SharedArrayBuffer(n * 4)) : new Float32Array(n));
    this.x = floats(batchSize * lookback * nFeatures);
    this.y = floats(batchSize * horizon);
    this.w = floats(batchSize);
  }
}

/**
 * Gather samples [start, start+count) of `sample` into buf. The weight of a sample converts
 * its normalised squared error back to (m/s)^2, scaled to average about 1: std^2 / meanVariance;
 * a sample with a NaN input or target gets weight 0. Returns the summed weight.
 */
export function fillBatch(ctx: FeatureContext, sample: WindowSample, start: number, count: number, buf: BatchBuffers): number {
  const { stats } = ctx;
  let total = 0;
  for (let i = 0; i < count; i++) {
    const t0 = sample.t0[start + i]!;
    const cell = sample.cell[start + i]!;
    const okX = gatherWindow(ctx, t0, cell, buf.x, i);
    const okY = gatherTargets(ctx, t0, cell, buf.y, i);
    const sd = stats.std[cell]!;
    const w = okX && okY ? (sd * sd) / stats.meanVariance : 0;
    buf.w[i] = w;
    total += w;
  }
  return total;
}

export interface BatchTensors {
  xs: Tensor;
  ys: Tensor;
  ws: Tensor;
}

/** Tensors for the first `count` samples of buf; the caller disposes them. */
export function batchTensors(tf: Tf, buf: BatchBuffers, count: number): BatchTensors {
  const { lookback: L, nFeatures: F, horizon: H } = buf;
  const xs = tf.tensor3d(buf.x.subarray(0, count * L * F), [count, L, F]);
  const ys = tf.tensor2d(buf.y.subarray(0, count * H), [count, H]);
  const ws = tf.tensor1d(buf.w.subarray(0, count));
  return { xs, ys, ws };
}

/** Input tensor only (forecasting): [count, lookback, nFeatures], or time-major. */
export function inputTensor(tf: Tf, x: Float32Array, count: number, lookback: number, nFeatures: number, options: { timeMajor?: boolean } = {}): Tensor {
  // Time-major: [lookback, count, nFeatures], as gatherWindow writes it with timeMajorRows = count.
  return tf.tensor3d(x.subarray(0, count * lookback * nFeatures), options.timeMajor ? [lookback, count, nFeatures] : [count, lookback, nFeatures]);
}

/** A tensor from stored raw values (checkpoint restore of optimizer state). */
export function storedTensor(tf: Tf, values: Float32Array | Int32Array, shape: number[], dtype: 'float32' | 'int32'): Tensor {
  return tf.tensor(values, shape, dtype);
}

// ---------------------------------------------------------------------------------------------
// Gathering on a thread

/** A FeatureContext as a thread receives it: everything but the cube, values in shared memory. */
export interface SharedFeatures {
  grid: GridSpec;
  times: Float64Array;
  spec: FeatureSpec;
  stats: NormStats;
  /** Over SharedArrayBuffers: the thread reads the same values, no copy. */
  layout?: SharedLayout;
  /** A cube on disk: the thread opens its own reader of the same file. */
  disk?: CellFile;
}

/**
 * A Float32Array as the buffer it views: posting the view itself would do, but the structured
 * clone keeps a view's byte length modulo 2^32, so a band past 4 GiB (90 global days) arrived
 * cut short and read as undefined (NaN losses). The buffer crosses whole.
 */
interface SharedFloats {
  buffer: SharedArrayBuffer;
  byteOffset: number;
  length: number;
}

type SharedLayout = Pick<FeatureLayout, 'cellStride' | 'hourStride'> & Partial<Record<'speed' | 'u' | 'v' | 'uOther' | 'vOther', SharedFloats>>;

const LAYOUT_BANDS = ['speed', 'u', 'v', 'uOther', 'vOther'] as const;

function isShared(a: Float32Array | undefined): boolean {
  return a === undefined || a.buffer instanceof SharedArrayBuffer;
}

/** A copy in shared memory (a cube read from its cache, or made in a test, is not shared). */
function toShared(a: Float32Array): Float32Array {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const out = new Float32Array(new SharedArrayBuffer(a.byteLength));
  out.set(a);
  return out;
}

/**
 * ctx for a thread. Values not yet in shared memory are copied there, unless copy is false:
 * then such a context is an error (training must not copy a cube of gigabytes unnoticed).
 */
export function shareFeatures(ctx: FeatureContext, options: { copy: boolean }): SharedFeatures {
  if (ctx.reader) return { grid: ctx.cube.grid, times: ctx.cube.times, spec: ctx.spec, stats: ctx.stats, disk: ctx.reader.file };
  if (!options.copy && !(isShared(ctx.speed) && isShared(ctx.u) && isShared(ctx.v) && isShared(ctx.uOther) && isShared(ctx.vOther))) {
    throw new Error('gathering on a thread needs a context over shared memory (featureContext cellMajor)');
  }
  const layout: SharedLayout = { cellStride: ctx.cellStride, hourStride: ctx.hourStride };
  const pairs = { u: Boolean(ctx.u && ctx.v), v: Boolean(ctx.u && ctx.v), uOther: Boolean(ctx.uOther && ctx.vOther), vOther: Boolean(ctx.uOther && ctx.vOther), speed: true };
  for (const band of LAYOUT_BANDS) {
    if (!pairs[band]) continue;
    const a = toShared(ctx[band]!);
    layout[band] = { buffer: a.buffer as SharedArrayBuffer, byteOffset: a.byteOffset, length: a.length };
  }
  return { grid: ctx.cube.grid, times: ctx.cube.times, spec: ctx.spec, stats: ctx.stats, layout };
}

/** The thread's FeatureContext over the shared values (gathers exactly what ctx gathers). */
export function featuresOnThread(shared: SharedFeatures): FeatureContext {
  if (shared.disk) {
    const file = shared.disk;
    return cellFeatureContext({ grid: shared.grid, times: shared.times, otherHeightM: shared.spec.otherHeightM, source: { files: [], fingerprint: 'thread' }, layers: file.bands, disk: file }, shared.spec, shared.stats);
  }
  // Only grid and times are read from the cube when the layout is given.
  const posted = shared.layout!;
  const layout: FeatureLayout = { speed: new Float32Array(0), cellStride: posted.cellStride, hourStride: posted.hourStride };
  for (const band of LAYOUT_BANDS) {
    const f = posted[band];
    if (f) layout[band] = new Float32Array(f.buffer, f.byteOffset, f.length);
  }
  const cube = { grid: shared.grid, times: shared.times, speed: layout.speed, ...(layout.u && layout.v ? { u: layout.u, v: layout.v } : {}), source: { files: [], fingerprint: 'thread' } };
  return featureContext(cube, shared.spec, shared.stats, { layout });
}

/** What the batch thread is started with. */
export interface BatchThreadSetup {
  features: SharedFeatures;
  buffers: [BatchBuffers, BatchBuffers];
}

/** One fill of the batch thread: windows [start, start + count) of a sample (in shared memory). */
export interface BatchJob {
  t0: Int32Array;
  cell: Int32Array;
  start: number;
  count: number;
}

function sharedInt32(a: Int32Array): Int32Array {
  const out = new Int32Array(new SharedArrayBuffer(a.byteLength));
  out.set(a);
  return out;
}

/**
 * Training batches gathered on a thread. While the main thread runs the model on batch k, the
 * thread fills batch k+1 (fillBatch, the same code) into the other half of a double buffer in
 * shared memory, reading the same shared cell-major cube (no copy). With the fused LSTM
 * kernels a native training step takes ~100 ms for 4096 windows and gathering them ~25 ms; in
 * sequence that was 69 % of the bare model's rate, overlapped it is most of it.
 *
 * BatchWorker.start(ctx, batchSize), then per epoch setSample(sample) and
 * fill(slot, start, count) -> the summed weight; buffers[slot] holds the batch.
 */
export class BatchWorker {
  private sample: { t0: Int32Array; cell: Int32Array } | undefined;

  private constructor(
    private readonly prefetcher: Prefetcher<BatchJob, number>,
    /** The two halves of the double buffer, over SharedArrayBuffers. */
    readonly buffers: [BatchBuffers, BatchBuffers],
  ) {}

  /** A thread gathering from ctx's shared layout (featureContext with cellMajor) into batches of batchSize. */
  static start(ctx: FeatureContext, batchSize: number): BatchWorker {
    const { spec } = ctx;
    const features = shareFeatures(ctx, { copy: false });
    const make = () => new BatchBuffers(batchSize, spec.lookback, spec.nFeatures, spec.horizon, true);
    const buffers: [BatchBuffers, BatchBuffers] = [make(), make()];
    const prefetcher = Prefetcher.start<BatchJob, number>({
      worker: new URL('./batch.worker.js', import.meta.url),
      role: 'batch',
      workerData: { features, buffers } satisfies BatchThreadSetup,
    });
    return new BatchWorker(prefetcher, buffers);
  }

  /** The windows of the coming fills (copied once into shared memory; fills refer to it by position). */
  setSample(sample: WindowSample): void {
    this.sample = { t0: sharedInt32(sample.t0), cell: sharedInt32(sample.cell) };
  }

  /** Gather windows [start, start + count) of the sample into buffers[slot]; resolves to their summed weight. */
  async fill(slot: 0 | 1, start: number, count: number): Promise<number> {
    if (!this.sample) throw new Error('BatchWorker.fill before setSample');
    // An interrupted epoch closes the thread with a fill outstanding: it counts nothing.
    return (await this.prefetcher.fill(slot, { ...this.sample, start, count })) ?? 0;
  }

  /** Stop the thread; a fill still outstanding (an interrupted epoch) resolves to 0. */
  close(): Promise<void> {
    return this.prefetcher.close();
  }
}
