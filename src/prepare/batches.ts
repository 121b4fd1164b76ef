/**
 * Batches: the only place tensors are created from typed arrays. Features are gathered into
 * preallocated Float32Arrays (features.ts) and wrapped here as tensors whose owner (the
 * training loop or the forecaster) disposes them in `finally`.
 */
import type { Tf } from '../runtime/backend.js';
import { gatherTargets, gatherWindow, type FeatureContext } from './features.js';
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
    /** Over SharedArrayBuffers, for filling on a worker thread (batch-worker.ts). */
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

/** Input tensor only (forecasting): [count, lookback, nFeatures]. */
export function inputTensor(tf: Tf, x: Float32Array, count: number, lookback: number, nFeatures: number): Tensor {
  return tf.tensor3d(x.subarray(0, count * lookback * nFeatures), [count, lookback, nFeatures]);
}

/** A tensor from stored raw values (checkpoint restore of optimizer state). */
export function storedTensor(tf: Tf, values: Float32Array | Int32Array, shape: number[], dtype: 'float32' | 'int32'): Tensor {
  return tf.tensor(values, shape, dtype);
}
