/**
 * The batch thread (BatchWorker in batches.ts, through runtime/prefetch.ts): fills one slot of
 * the training double buffer per request with fillBatch, the same code the main thread would
 * run, over the shared cell-major cube; answers with the batch's summed weight.
 */
import { workerData } from 'node:worker_threads';
import { poolTask } from '../runtime/pool.js';
import type { FillRequest } from '../runtime/prefetch.js';
import { featuresOnThread, fillBatch, type BatchJob, type BatchThreadSetup } from './batches.js';

// train.ts imports BatchWorker from here (its home before the prefetch helper); the lead moves
// that import to './batches.js' and removes this line.
export { BatchWorker } from './batches.js';

const setup = workerData as BatchThreadSetup | null;
const ctx = setup ? featuresOnThread(setup.features) : undefined;

export default poolTask(({ slot, job }: FillRequest<BatchJob>) => fillBatch(ctx!, job, job.start, job.count, setup!.buffers[slot]));
