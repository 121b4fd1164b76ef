/**
 * A worker file for the thread-layer tests (pool.test.ts, prefetch.test.ts): tasks that answer,
 * fail the ways real tasks fail, or fill one slot of a shared double buffer.
 */
import { workerData } from 'node:worker_threads';
import { CheckpointError, DataError } from '../src/core/errors.js';
import { poolTask } from '../src/runtime/pool.js';
import type { FillRequest } from '../src/runtime/prefetch.js';

export type FixtureTask =
  | { kind: 'double'; value: number; delayMs?: number }
  | { kind: 'data-error'; file: string }
  | { kind: 'checkpoint-error' }
  | { kind: 'bug' }
  | { kind: 'exit' }
  | { kind: 'hang' }
  | { kind: 'sum'; bytes: ArrayBuffer };

/** Prefetch fixture: write `value` into every element of the slot, or fail. */
export interface FixtureFill {
  value: number;
  fail?: string;
}

export interface FixtureSetup {
  slots?: [Int32Array, Int32Array];
  /** Throw while the module loads, as a worker file with a broken import would. */
  failToStart?: boolean;
}

const setup = (workerData ?? {}) as FixtureSetup;
if (setup.failToStart) throw new Error('the fixture cannot start');

function isFill(task: FixtureTask | FillRequest<FixtureFill>): task is FillRequest<FixtureFill> {
  return 'slot' in task;
}

export default poolTask(async (task: FixtureTask | FillRequest<FixtureFill>) => {
  if (isFill(task)) {
    if (task.job.fail) throw new DataError(task.job.fail, 'cannot be gathered');
    setup.slots![task.slot].fill(task.job.value);
    return { slot: task.slot, value: task.job.value };
  }
  switch (task.kind) {
    case 'double':
      if (task.delayMs) await new Promise((r) => setTimeout(r, task.delayMs));
      return task.value * 2;
    case 'data-error':
      throw new DataError(task.file, 'not a GeoTIFF');
    case 'checkpoint-error':
      throw new CheckpointError('models/x: not a checkpoint');
    case 'bug':
      throw new TypeError('undefined is not a function');
    case 'exit':
      process.exit(3);
      break;
    case 'hang':
      for (;;) {
        // Spins on the thread's own event loop: only terminating the thread ends it.
      }
    case 'sum':
      return new Uint8Array(task.bytes).reduce((a, b) => a + b, 0);
  }
  return undefined;
});
