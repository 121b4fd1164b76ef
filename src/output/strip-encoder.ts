/**
 * GeoTIFF strips encoded on writer threads as soon as their rows are final, and the files
 * written from them: the one GeoTIFF write of a forecast (writeGeoTiffs in forecast-files.ts,
 * for predict and merge).
 *
 * Why: DEFLATE of the 24 leads of a global forecast costs about 2 CPU-s. Encoded after the
 * forecast, that is a phase of its own (about 1.2 s on two cores); but a forecast in row order
 * finishes the rows of every lead together, so the strips of rows already final can be
 * compressed while the model works on later rows, when the cores are not quite full
 * (predict: track the fields, then rowsFinal after every batch). The files do not change: the
 * same strips (geotiff-write.ts encodeStrip), DEFLATE settings and order in the file, and each
 * file is written atomically (core/atomic.ts) once all its strips are encoded.
 *
 * The threads read the bands in place: a band in a SharedArrayBuffer is never copied (track()
 * takes only those); write() copies any other into one once. A band must not change once its
 * rows are final.
 * A strip is encoded once per band and strip encoding, however many files hold the band.
 */
import { writeFileAtomic } from '../core/atomic.js';
import { WindcastError } from '../core/errors.js';
import { openPool, threadCount, type WorkerPool } from '../runtime/pool.js';
import type { StripJob, StripResult } from './encode.worker.js';
import { geoTiffHead, stripCount, stripEncoding, stripSourceRows, type GeoTiffWriteOptions, type StripEncoding } from './geotiff-write.js';

/** One file to write: its path and everything geotiff-write.ts needs. */
export interface EncodeTask {
  path: string;
  options: GeoTiffWriteOptions;
}

/** What a file's strips depend on: the GeoTIFF options without the bands and the tags. */
export type StripOptions = Pick<GeoTiffWriteOptions, 'grid' | 'nodata' | 'compress' | 'predictor' | 'deflateLevel' | 'deflateStrategy' | 'rowsPerStrip'>;

export interface StripCounts {
  /** Strips whose encoding was done before write() was called (during a forecast, say). */
  early: number;
  /** Strips encoded in all. */
  encoded: number;
  /** Seconds the writer threads spent encoding, summed over threads. */
  threadSeconds: number;
}

/** Items per thread task: a task is about 40 ms for strips of a global grid (256 KiB raw each). */
const MAX_ITEMS_PER_TASK = 8;

/** One band under one strip encoding. */
interface Tracked {
  band: Float32Array;
  encoding: StripEncoding;
  strips: Array<Uint8Array | undefined>;
  /**
   * How many strips are queued: they are queued in the order their rows become final (the
   * order of the file's strips, reversed for a grid written south-up).
   */
  queued: number;
  left: number;
  done: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class StripEncoder {
  private readonly tracked = new Map<Float32Array, Tracked[]>();
  private readonly queue: Array<{ t: Tracked; s: number }> = [];
  private inFlight = 0;
  private limit: number;
  private writing = false;
  private failure: { error: unknown } | undefined;
  private readonly counts: StripCounts = { early: 0, encoded: 0, threadSeconds: 0 };

  private constructor(private readonly pool: WorkerPool<StripJob, StripResult>, busyThreads: number) {
    this.limit = Math.max(1, Math.min(busyThreads, pool.threads));
  }

  /**
   * Start the writer threads (`threads`, 0 = one per core). Until write() is called at most
   * `busyThreads` of them encode at a time (the model needs the cores during a forecast).
   */
  static open(options: { threads?: number; busyThreads?: number } = {}): StripEncoder {
    const threads = threadCount(options.threads ?? 0, Number.MAX_SAFE_INTEGER);
    const pool = openPool<StripJob, StripResult>({ worker: new URL('./encode.worker.js', import.meta.url), threads, role: 'GeoTIFF writer' });
    return new StripEncoder(pool, options.busyThreads ?? threads);
  }

  /**
   * Encode the strips of these bands as their rows become final (rowsFinal). The bands must be
   * in shared memory: the threads read rows of them while later rows are being filled.
   */
  track(bands: readonly Float32Array[], options: StripOptions): void {
    for (const band of bands) {
      if (!(band.buffer instanceof SharedArrayBuffer)) throw new WindcastError('internal', 'StripEncoder.track: a band filled while it is encoded must be in a SharedArrayBuffer');
      this.entry(band, stripEncoding({ ...options, bands: [band] }));
    }
  }

  /** Rows [0, rows) of every tracked band are final: their strips are queued for the threads. */
  rowsFinal(rows: number): void {
    for (const list of this.tracked.values()) for (const t of list) this.queueFinal(t, rows);
    this.pump();
  }

  /** How many strips were encoded, and when. */
  stats(): StripCounts {
    return { ...this.counts, threadSeconds: Math.round(this.counts.threadSeconds * 100) / 100 };
  }

  /**
   * Write the files: every row of their bands is final now; strips already encoded are used,
   * the rest are encoded on every thread. Each file is written as soon as its strips are done;
   * resolves once all are on disk, rejects with the first failure.
   */
  async write(tasks: readonly EncodeTask[], onFile?: () => void): Promise<void> {
    this.writing = true;
    this.limit = this.pool.threads;
    const files = tasks.map((task) => ({ task, parts: task.options.bands.map((band) => this.entry(band, stripEncoding(task.options))) }));
    for (const f of files) for (const t of f.parts) this.queueFinal(t, t.encoding.grid.height);
    this.pump();
    await Promise.all(files.map(async ({ task, parts }) => {
      await Promise.all(parts.map((t) => t.done));
      const strips = parts.flatMap((t) => t.strips as Uint8Array[]);
      await writeFileAtomic(task.path, [geoTiffHead(task.options, strips.map((s) => s.length)), ...strips]);
      onFile?.();
    }));
  }

  /** Stop the threads; strips still being encoded are abandoned. */
  async close(): Promise<void> {
    await this.pool.close();
  }

  private entry(band: Float32Array, encoding: StripEncoding): Tracked {
    const list = this.tracked.get(band) ?? [];
    const key = encodingKey(encoding);
    const found = list.find((t) => encodingKey(t.encoding) === key);
    if (found) return found;
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const done = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    // Failures surface through write(); a strip that fails while nobody waits is not unhandled.
    done.catch(() => {});
    const count = stripCount(encoding);
    const t: Tracked = { band: inShared(band), encoding, strips: new Array(count), queued: 0, left: count, done, resolve, reject };
    if (this.failure) reject(this.failure.error);
    list.push(t);
    this.tracked.set(band, list);
    return t;
  }

  private queueFinal(t: Tracked, rows: number): void {
    const count = t.strips.length;
    const strip = (k: number) => (t.encoding.grid.sourceSouthUp ? count - 1 - k : k);
    while (t.queued < count && stripSourceRows(t.encoding, strip(t.queued))[1] <= rows) this.queue.push({ t, s: strip(t.queued++) });
  }

  /** Start tasks while threads are free: each takes a share of the queue, at most MAX_ITEMS_PER_TASK. */
  private pump(): void {
    while (!this.failure && this.inFlight < this.limit && this.queue.length > 0) {
      const share = Math.min(MAX_ITEMS_PER_TASK, Math.ceil(this.queue.length / (this.limit - this.inFlight)));
      const items = this.queue.splice(0, share);
      this.inFlight++;
      const bands: Float32Array[] = [];
      const job: StripJob = {
        bands,
        items: items.map(({ t, s }) => {
          let b = bands.indexOf(t.band);
          if (b < 0) b = bands.push(t.band) - 1;
          return { band: b, encoding: t.encoding, strip: s };
        }),
      };
      this.pool.run(job, { label: `GeoTIFF strips (${items.length})` }).then(
        (result) => {
          this.inFlight--;
          this.counts.threadSeconds += result.seconds;
          let at = 0;
          items.forEach(({ t, s }, i) => {
            const length = result.lengths[i]!;
            t.strips[s] = result.bytes.subarray(at, at + length);
            at += length;
            this.counts.encoded++;
            if (!this.writing) this.counts.early++;
            if (--t.left === 0) t.resolve();
          });
          this.pump();
        },
        (error: unknown) => {
          this.inFlight--;
          this.fail(error);
        },
      );
    }
  }

  /** The first failure fails every band not yet encoded: their files cannot be written. */
  private fail(error: unknown): void {
    if (this.failure) return;
    this.failure = { error: error instanceof Error ? error : new WindcastError('internal', String(error)) };
    this.queue.length = 0;
    for (const list of this.tracked.values()) for (const t of list) if (t.left > 0) t.reject(this.failure.error);
  }
}

/** The strip encoding as a key: two bands' strips are the same bytes when these agree. */
function encodingKey(e: StripEncoding): string {
  const g = e.grid;
  return `${g.width}x${g.height}:${g.sourceSouthUp ? 's' : 'n'}:${e.rowsPerStrip}:${e.fill}:${e.compress}:${e.predictor}:${e.deflateLevel}:${e.deflateStrategy}`;
}

/** The band itself when the threads can read it in place, else a copy they can. */
function inShared(band: Float32Array): Float32Array {
  if (band.buffer instanceof SharedArrayBuffer) return band;
  const shared = new Float32Array(new SharedArrayBuffer(band.byteLength));
  shared.set(band);
  return shared;
}
