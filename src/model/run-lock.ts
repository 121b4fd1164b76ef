/**
 * The run lock: models/NAME/.lock (pid, host, start time) keeps two training runs from writing
 * the same run folder. A lock whose process is gone (same host, pid not running) is taken over.
 */
import { mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { processAlive } from '../core/atomic.js';
import { CheckpointError, describeError } from '../core/errors.js';

export interface RunLock {
  path: string;
  release(): void;
}

/** Take runDir/.lock, or fail naming the process that holds it. A dead holder's lock is taken over. */
export function acquireLock(runDir: string, log: (line: string) => void = () => {}): RunLock {
  mkdirSync(runDir, { recursive: true });
  const path = join(runDir, '.lock');
  const body = JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString() });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(path, body, { flag: 'wx' });
      return {
        path,
        release() {
          try {
            const held = JSON.parse(readFileSync(path, 'utf8')) as { pid: number };
            if (held.pid === process.pid) unlinkSync(path);
          } catch {
            // Already gone: nothing to release.
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new CheckpointError(`${path}: cannot create lock (${describeError(err)})`, { cause: err });
      }
    }
    let holder: { pid?: number; host?: string; startedAt?: string } = {};
    try {
      holder = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      // Unreadable or half-written lock: treat as stale below only if it stays that way.
    }
    const sameHost = holder.host === hostname();
    if (typeof holder.pid === 'number' && (!sameHost || processAlive(holder.pid))) {
      throw new CheckpointError(`${runDir}: another training run (pid ${holder.pid} on ${holder.host}, since ${holder.startedAt}) is writing this folder; if it is gone, delete ${path}`);
    }
    log(`checkpoint: removing stale lock ${path} (pid ${holder.pid ?? '?'} is gone)`);
    rmSync(path, { force: true });
  }
  throw new CheckpointError(`${path}: cannot take the lock`);
}
