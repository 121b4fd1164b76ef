/**
 * Training batches gathered on a worker thread. While the main thread runs the model on batch
 * k, this thread fills batch k+1 (fillBatch, the same code as before) into the other half of a
 * double buffer in shared memory, reading the same shared cell-major cube (no copy). With the
 * fused LSTM kernels a native training step takes ~100 ms for 4096 windows and gathering them
 * ~25 ms; in sequence that was 69 % of the bare model's rate, overlapped it is most of it.
 *
 * Main thread: BatchWorker.start(ctx, batchSize), then per epoch setSample(sample) and
 * fill(slot, start, count) -> the summed weight; buffers[slot] holds the batch. Requests are
 * answered in order. The worker thread runs the code at the bottom of this file.
 */
import { Worker, parentPort, workerData } from 'node:worker_threads';
import { BatchBuffers, fillBatch } from './batches.js';
import type { Cube } from '../ingest/cube.js';
import { WindcastError, describeError } from '../core/errors.js';
import { featureContext, type FeatureContext, type FeatureLayout, type FeatureSpec } from './features.js';
import type { GridSpec } from '../core/grid.js';
import type { NormStats } from './normalize.js';
import type { WindowSample } from './windows.js';

interface WorkerInit {
  kind: 'windcast-train-batches';
  grid: GridSpec;
  times: Float64Array;
  spec: FeatureSpec;
  stats: NormStats;
  layout: FeatureLayout;
  buffers: [BatchBuffers, BatchBuffers];
}

type Request = { type: 'sample'; t0: Int32Array; cell: Int32Array } | { type: 'fill'; slot: 0 | 1; start: number; count: number };

export class BatchWorker {
  private readonly queue: { resolve: (wSum: number) => void; reject: (e: unknown) => void }[] = [];
  private failure: unknown;
  private closed = false;

  private constructor(
    private readonly worker: Worker,
    /** The two halves of the double buffer, over SharedArrayBuffers. */
    readonly buffers: [BatchBuffers, BatchBuffers],
  ) {
    worker.on('message', (wSum: number) => this.queue.shift()?.resolve(wSum));
    const fail = (err: unknown) => {
      if (this.closed) return;
      this.failure ??= new WindcastError('internal', `batch thread failed: ${describeError(err)}`, { cause: err });
      for (const waiting of this.queue.splice(0)) waiting.reject(this.failure);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (code !== 0) fail(new Error(`exited with code ${code}`));
    });
  }

  /** A worker gathering from ctx's shared layout (featureContext with cellMajor) into batches of batchSize. */
  static start(ctx: FeatureContext, batchSize: number): BatchWorker {
    const { spec } = ctx;
    const make = () => new BatchBuffers(batchSize, spec.lookback, spec.nFeatures, spec.horizon, true);
    const buffers: [BatchBuffers, BatchBuffers] = [make(), make()];
    for (const band of [ctx.speed, ctx.u, ctx.v]) {
      if (band && !(band.buffer instanceof SharedArrayBuffer)) throw new Error('BatchWorker needs a context over shared memory (featureContext cellMajor)');
    }
    const init: WorkerInit = {
      kind: 'windcast-train-batches',
      grid: ctx.cube.grid,
      times: ctx.cube.times,
      spec,
      stats: ctx.stats,
      layout: { speed: ctx.speed, ...(ctx.u && ctx.v ? { u: ctx.u, v: ctx.v } : {}), cellStride: ctx.cellStride, hourStride: ctx.hourStride },
      buffers,
    };
    return new BatchWorker(new Worker(new URL('./batch.worker.js', import.meta.url), { workerData: init }), buffers);
  }

  /** The windows of the coming fills (copied to the worker; fills refer to it by position). */
  setSample(sample: WindowSample): void {
    this.post({ type: 'sample', t0: sample.t0, cell: sample.cell });
  }

  /** Gather windows [start, start + count) of the sample into buffers[slot]; resolves to their summed weight. */
  fill(slot: 0 | 1, start: number, count: number): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.failure) return reject(this.failure);
      this.queue.push({ resolve, reject });
      this.post({ type: 'fill', slot, start, count });
    });
  }

  /** Stop the thread; a fill still outstanding (an interrupted epoch) resolves to 0. */
  async close(): Promise<void> {
    this.closed = true;
    for (const waiting of this.queue.splice(0)) waiting.resolve(0);
    await this.worker.terminate();
  }

  private post(req: Request): void {
    this.worker.postMessage(req);
  }
}

const init = workerData as WorkerInit | undefined;
if (parentPort && init?.kind === 'windcast-train-batches') {
  // Only grid and times are read from the cube when the layout is given.
  const cube = { grid: init.grid, times: init.times, speed: init.layout.speed, u: init.layout.u, v: init.layout.v } as Cube;
  const ctx = featureContext(cube, init.spec, init.stats, { layout: init.layout });
  let sample: WindowSample | undefined;
  parentPort.on('message', (req: Request) => {
    if (req.type === 'sample') {
      sample = { t0: req.t0, cell: req.cell };
      return;
    }
    parentPort!.postMessage(fillBatch(ctx, sample!, req.start, req.count, init.buffers[req.slot]));
  });
}
