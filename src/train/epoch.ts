/**
 * One pass of optimisation steps over a sample of windows, shared by the point model's epochs
 * (train.ts) and the quantile head's fit (quantile-fit.ts): batch k+1 is gathered on the batch
 * thread while the model runs batch k, and an abort signal (Ctrl-C) ends the pass between
 * batches.
 */
import type { Tf } from '../runtime/backend.js';
import { BatchWorker, batchTensors, type BatchTensors } from '../prepare/batches.js';
import type { WindowSample } from '../prepare/windows.js';

type Tensor = ReturnType<Tf['tensor']>;

export interface StepsOnSample {
  batches: BatchWorker;
  sample: WindowSample;
  batchSize: number;
  /** One optimisation step on a batch (its summed weight wSum > 0); returns the batch's loss. */
  step: (batch: BatchTensors & { wSum: number }) => Tensor;
  /** What a batch's loss adds to the pass's running total (e.g. loss x wSum x meanVariance). */
  total: (loss: number, wSum: number) => number;
  /** After each batch: windows done in this batch, running total and windows so far. */
  tick: (count: number, total: number, samples: number) => void;
  signal?: AbortSignal;
}

/** Steps over every batch of the sample; returns the windows trained on (fewer on an abort) and the total. */
export async function stepsOnSample(tf: Tf, o: StepsOnSample): Promise<{ samples: number; total: number }> {
  const B = o.batchSize;
  const n = o.sample.t0.length;
  let total = 0;
  let samples = 0;
  o.batches.setSample(o.sample);
  let next = o.batches.fill(0, 0, Math.min(B, n));
  for (let k = 0, start = 0; start < n; k++, start += B) {
    if (o.signal?.aborted) break;
    const count = Math.min(B, n - start);
    const slot = (k % 2) as 0 | 1;
    const wSum = await next;
    if (start + B < n) next = o.batches.fill((1 - slot) as 0 | 1, start + B, Math.min(B, n - start - B));
    if (wSum > 0) {
      const batch = batchTensors(tf, o.batches.buffers[slot], count);
      try {
        const cost = o.step({ ...batch, wSum });
        try {
          total += o.total((await cost.data())[0]!, wSum);
        } finally {
          cost.dispose();
        }
      } finally {
        batch.xs.dispose();
        batch.ys.dispose();
        batch.ws.dispose();
      }
    }
    samples += count;
    o.tick(count, total, samples);
    // Let a Ctrl-C handler run between batches (kernels run synchronously).
    await new Promise((r) => setImmediate(r));
  }
  return { samples, total };
}
