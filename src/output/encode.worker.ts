/**
 * GeoTIFF encoder thread for `windcast predict`: DEFLATE of a global Float32 lead takes a few
 * hundred milliseconds on one core, 24 leads several seconds, so leads are encoded and written
 * on a small pool of these threads (one per core) instead of one after the other on the main
 * thread. Each task writes one file with writeGeoTiff (temporary name, fsync, rename) and
 * reports back; errors come back as messages naming the file, never as a crashed thread.
 */
import { parentPort } from 'node:worker_threads';
import { describeError, WindcastError } from '../core/errors.js';
import { writeGeoTiff, type GeoTiffWriteOptions } from './geotiff-write.js';

export interface EncodeTask {
  id: number;
  path: string;
  options: GeoTiffWriteOptions;
}

export interface EncodeReply {
  id: number;
  /** Set when writing failed; starts with the file's path. */
  error?: { message: string; kind: string };
}

parentPort?.on('message', (task: EncodeTask) => {
  writeGeoTiff(task.path, task.options).then(
    () => parentPort!.postMessage({ id: task.id } satisfies EncodeReply),
    (err: unknown) => {
      const kind = err instanceof WindcastError ? err.kind : 'internal';
      const message = err instanceof WindcastError ? err.message : `${task.path}: ${describeError(err)}`;
      parentPort!.postMessage({ id: task.id, error: { message, kind } } satisfies EncodeReply);
    },
  );
});
