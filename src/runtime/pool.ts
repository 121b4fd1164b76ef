/**
 * The one thread layer: every worker thread windcast starts runs a `*.worker.ts` file through
 * piscina, opened here with openPool. This module owns
 *  - how a worker file is started: its compiled URL (`new URL('./x.worker.js', import.meta.url)`
 *    in the caller) and piscina's pool of that many threads, with the caller's workerData;
 *  - the thread count: `threadCount(0, n)` is one per core, never more threads than tasks;
 *  - error mapping: a WindcastError thrown inside a task (a DataError naming a file) comes back
 *    as the same kind with the same message; anything else thrown in a task, or a thread that
 *    dies (out of memory, a native crash), is an internal error naming the task;
 *  - a per-task time limit (the decode watchdog): a task past it is abandoned, its thread
 *    terminated, and the caller's error for it (naming the file) is thrown;
 *  - runAll: a list of tasks, at most one in flight per thread, results in task order, a
 *    callback per finished task (progress), the first failure ending the run.
 *
 * A worker file default-exports `poolTask(handler)`; the wrapper turns a thrown WindcastError
 * into a plain object that survives the structured clone (an Error loses its class and fields
 * on the way), and openPool's run() rebuilds it.
 *
 * Why piscina rather than tinypool (both on npm, both ESM-capable, both abort a running task by
 * terminating its thread): a task whose thread calls process.exit, or throws from a timer,
 * rejects in piscina with the exit code or the error, and the pool carries on; in tinypool 2.2
 * the process.exit case left the task's promise pending for ever (measured, not assumed).
 * Starting two threads and running a first task took 41 ms in piscina 5.3, 91 ms in tinypool.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { DataError, WindcastError, describeError, type ErrorKind } from '../core/errors.js';

/** Threads for `tasks` tasks: `requested` (0 = one per core), at least 1, at most one per task. */
export function threadCount(requested: number, tasks: number): number {
  const n = requested > 0 ? requested : availableParallelism();
  return Math.max(1, Math.min(n, tasks));
}

export interface PoolOptions {
  /** The compiled worker file: new URL('./name.worker.js', import.meta.url). */
  worker: URL;
  threads: number;
  /** What a thread does, for messages: "decoder", "GeoTIFF writer", "synth". */
  role: string;
  /** Handed to every thread as worker_threads.workerData (SharedArrayBuffers stay shared). */
  workerData?: unknown;
}

export interface RunOptions {
  /** What this task works on, for messages: usually the file's path. */
  label: string;
  /** Buffers moved to the thread instead of copied (the caller gives them up). */
  transfer?: ArrayBuffer[];
  /** Abandon the task after this many seconds: its thread is terminated and timeoutError thrown. */
  timeoutSeconds?: number;
  timeoutError?: () => WindcastError;
}

export interface WorkerPool<Task, Result> {
  readonly threads: number;
  run(task: Task, options: RunOptions): Promise<Result>;
  /** Terminate every thread; a task still running is abandoned (its promise rejects). */
  close(): Promise<void>;
}

/** A failure a task reported about its input (crosses the thread boundary as plain data). */
interface TaskFailure {
  windcastTaskFailure: { kind: ErrorKind; message: string; file?: string };
}

function isTaskFailure(value: unknown): value is TaskFailure {
  return typeof value === 'object' && value !== null && 'windcastTaskFailure' in value;
}

/**
 * The default export of a worker file: runs `handler` for each task. A WindcastError it throws
 * is sent back as data (kind, message, file) so that openPool's run() can rethrow it as is.
 */
export function poolTask<Task, Result>(handler: (task: Task) => Result | Promise<Result>): (task: Task) => Promise<Result | TaskFailure> {
  return async (task) => {
    try {
      return await handler(task);
    } catch (err) {
      if (!(err instanceof WindcastError)) throw err;
      const file = err instanceof DataError ? err.file : undefined;
      return { windcastTaskFailure: { kind: err.kind, message: err.message, ...(file !== undefined ? { file } : {}) } };
    }
  };
}

function rebuild(failure: TaskFailure['windcastTaskFailure']): WindcastError {
  if (failure.kind === 'data') {
    const prefix = failure.file !== undefined ? `${failure.file}: ` : '';
    return new DataError(failure.file, prefix && failure.message.startsWith(prefix) ? failure.message.slice(prefix.length) : failure.message);
  }
  return new WindcastError(failure.kind, failure.message);
}

/** Start `threads` threads running `worker` (started at once, as a pool of this size is always used). */
export function openPool<Task, Result>(options: PoolOptions): WorkerPool<Task, Result> {
  const pool = new Piscina({
    filename: fileURLToPath(options.worker),
    minThreads: options.threads,
    maxThreads: options.threads,
    // Threads live as long as the pool; close() ends them.
    idleTimeout: Number.POSITIVE_INFINITY,
    workerData: options.workerData,
    // Piscina loads the worker module with require() first, import() if that fails. On Node
    // versions where require() loads ES modules, that path can abort the whole process
    // ("v8::Module::IsGraphAsync must be used on an instantiated module", seen once in the
    // suite under load; nodejs/node#59703 reworks it). Without require(esm) in the threads,
    // require() fails cleanly and piscina imports the module, the supported path.
    ...(process.features.require_module ? { execArgv: [...process.execArgv, '--no-experimental-require-module'] } : {}),
  });
  let closed = false;
  // Piscina reports on the pool, not on a task, what no task is waiting for: a thread that fails
  // to start (then it starts no more, and queued tasks would wait for ever), and the answer of a
  // task it already gave up (closed, or past its time limit). The first fails this pool's tasks;
  // the second is moot. Without a listener either would be an uncaught exception.
  let failure: { error: unknown } | undefined;
  let failPool: (failed: { error: unknown }) => void = () => {};
  const poolFailed = new Promise<never>((_resolve, reject) => (failPool = reject));
  poolFailed.catch(() => {});
  pool.on('error', (error: unknown) => {
    // piscina's words for the late answer of a task it already gave up (closed, or timed out).
    const moot = error instanceof Error && error.message.startsWith('Unexpected message from Worker');
    if (closed || failure || moot) return;
    failure = { error };
    failPool(failure);
  });
  const threadFailed = (label: string, err: unknown) => new WindcastError('internal', `${label}: ${options.role} thread failed: ${describeError(err)}`, { cause: err });
  return {
    threads: options.threads,
    async run(task, run) {
      if (failure) throw threadFailed(run.label, failure.error);
      const signal = run.timeoutSeconds !== undefined ? AbortSignal.timeout(run.timeoutSeconds * 1000) : undefined;
      let result: unknown;
      try {
        const running = pool.run(task, { ...(run.transfer ? { transferList: run.transfer } : {}), ...(signal ? { signal } : {}) });
        running.catch(() => {}); // settled through the race below, or moot once the pool failed
        result = await Promise.race([running, poolFailed]);
      } catch (err) {
        // (failure is set by the 'error' listener while this run was awaited.)
        const failed = failure as { error: unknown } | undefined;
        if (failed && err === failed) throw threadFailed(run.label, failed.error);
        if (signal?.aborted && run.timeoutError) throw run.timeoutError();
        if (closed) throw new WindcastError('internal', `${run.label}: the ${options.role} pool was closed before the task finished`, { cause: err });
        throw threadFailed(run.label, err);
      }
      if (isTaskFailure(result)) throw rebuild(result.windcastTaskFailure);
      return result as Result;
    },
    async close() {
      closed = true;
      await pool.destroy();
    },
  };
}

export interface RunAllOptions<Task, Result> {
  /** Per-task options (label, transfer, time limit). */
  options: (task: Task, index: number) => RunOptions;
  /** Called with each result as it arrives (in completion order), e.g. to tick progress. */
  onResult?: (result: Result, index: number) => void;
}

/**
 * Run every task on the pool, at most one per thread at a time (so a task's time limit counts
 * its own work, never its wait in a queue); results in task order. The first failure rejects
 * at once and no further task is started; the caller closes the pool, which abandons the rest.
 */
export async function runAll<Task, Result>(pool: WorkerPool<Task, Result>, tasks: readonly Task[], options: RunAllOptions<Task, Result>): Promise<Result[]> {
  const results: Result[] = new Array(tasks.length);
  let next = 0;
  let failed = false;
  const lane = async (): Promise<void> => {
    while (!failed && next < tasks.length) {
      const index = next++;
      try {
        results[index] = await pool.run(tasks[index]!, options.options(tasks[index]!, index));
      } catch (error) {
        failed = true;
        throw error;
      }
      options.onResult?.(results[index]!, index);
    }
  };
  // Promise.all rejects with the first failure and still handles the lanes that fail after it.
  await Promise.all(Array.from({ length: Math.min(pool.threads, tasks.length) }, lane));
  return results;
}
