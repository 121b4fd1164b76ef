/**
 * The one prefetch helper: a shared-memory double buffer filled on a thread. While the main
 * thread consumes slot k (runs the model on a batch), one helper thread fills slot k+1 (gathers
 * the next batch's features), so the JavaScript gathering overlaps the model instead of adding
 * to it. Training batches (prepare/batch.worker.ts) and forecast inputs
 * (forecast/gather.worker.ts) are its two payloads.
 *
 * The two slots are the caller's SharedArrayBuffers, handed to the thread in its workerData;
 * a fill request names the slot and the job, and answers with a small summary (a summed weight,
 * a count) once the slot holds the job's data. The thread is a one-thread pool of
 * runtime/pool.ts, so it is started, and its errors are mapped, like every other thread:
 * requests are answered in order; an error thrown by a fill rejects that fill; close() ends the
 * thread, and a fill still outstanding then resolves to null instead of rejecting (an
 * interrupted epoch never waits for, nor trips over, the batch it no longer wants).
 *
 * A worker file serving fills default-exports `poolTask((request: FillRequest<Job>) => ...)`.
 */
import { openPool, type WorkerPool } from './pool.js';

export type Slot = 0 | 1;

/** What the thread receives for one fill. */
export interface FillRequest<Job> {
  slot: Slot;
  job: Job;
}

export interface PrefetchOptions {
  /** The compiled worker file: new URL('./name.worker.js', import.meta.url). */
  worker: URL;
  /** What the thread does, for messages: "batch", "feature". */
  role: string;
  /** The thread's workerData: the shared data it reads and the two slots it fills. */
  workerData: unknown;
}

export class Prefetcher<Job, Filled> {
  private closed = false;

  private constructor(
    private readonly pool: WorkerPool<FillRequest<Job>, Filled>,
    private readonly role: string,
  ) {}

  static start<Job, Filled>(options: PrefetchOptions): Prefetcher<Job, Filled> {
    const pool = openPool<FillRequest<Job>, Filled>({ worker: options.worker, threads: 1, role: options.role, workerData: options.workerData });
    return new Prefetcher<Job, Filled>(pool, options.role);
  }

  /** Fill `slot` with `job` on the thread; null when the helper was closed before it answered. */
  async fill(slot: Slot, job: Job): Promise<Filled | null> {
    if (this.closed) return null;
    try {
      return await this.pool.run({ slot, job }, { label: `${this.role} slot ${slot}` });
    } catch (err) {
      if (this.closed) return null;
      throw err;
    }
  }

  /** End the thread; outstanding fills resolve to null. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
  }
}

/**
 * Consume `jobs` in order through the double buffer: job k+1 is filled on the thread while
 * consume(slot, job k, filled) runs here. consume returning false stops early (the fill in
 * flight is dropped). Resolves to the number of jobs consumed.
 */
export async function doubleBuffered<Job, Filled>(
  prefetcher: Prefetcher<Job, Filled>,
  jobs: readonly Job[],
  consume: (slot: Slot, job: Job, filled: Filled) => boolean | void | Promise<boolean | void>,
): Promise<number> {
  if (jobs.length === 0) return 0;
  let pending: Promise<Filled | null> | undefined = prefetcher.fill(0, jobs[0]!);
  try {
    for (let k = 0; k < jobs.length; k++) {
      const slot: Slot = k % 2 === 0 ? 0 : 1;
      const filled = await pending!;
      pending = undefined;
      if (filled === null) return k;
      // The other slot was consumed in the previous step, so the thread may overwrite it now.
      if (k + 1 < jobs.length) pending = prefetcher.fill(slot === 0 ? 1 : 0, jobs[k + 1]!);
      if ((await consume(slot, jobs[k]!, filled)) === false) return k + 1;
    }
    return jobs.length;
  } finally {
    // A fill no one will wait for: its failure (if any) must not surface as an unhandled rejection.
    pending?.catch(() => {});
  }
}
