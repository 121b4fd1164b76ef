/**
 * The time cube: every hourly grid of a dataset stacked as time x lat x lon.
 *
 * buildCube decodes the catalog's files with a pool of worker threads straight into one
 * SharedArrayBuffer per band (no per-file copies beyond one decoded frame per worker), so peak
 * memory stays near the cube's own size. The result is cached beside the data in
 * DIR/.windcast-cache/cube-<fingerprint>.bin; the fingerprint covers every file's name, size
 * and modification time, so changing, adding or removing a file makes a new cache and the old
 * one is deleted. A second run reloads the cache with large sequential reads, no decoding.
 *
 * Cache encodings: float32 is exact. int16 stores round(v * 100) (0.01 m/s steps, NaN as
 * -32768): the error bound is 0.005 m/s plus float32 rounding, for |v| <= 327.67 m/s; a cube
 * with larger values falls back to float32.
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readSync, statSync, unlinkSync } from 'node:fs';
import { removeStaleTemporaries, writeFileAtomicSync } from '../core/atomic.js';
import { open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { buildCatalog, type Catalog } from './catalog.js';
import type { IngestConfig } from '../core/config.js';
import { DataError, WindcastError, describeError } from '../core/errors.js';
import { cellCount, gridDifferences, type GridSpec } from '../core/grid.js';
import type { Progress } from '../core/progress.js';
import { readRasterHeader, type BandStats, type RasterHeader } from './raster.js';

/** Folder, inside a data folder, that holds its cube cache (see cachePathFor). */
export const CUBE_CACHE_DIR = '.windcast-cache';

export interface Cube {
  grid: GridSpec;
  /** Epoch milliseconds (UTC) of each hour; consecutive, HOUR_MS apart. */
  times: Float64Array;
  /** Wind speed in m/s, index (t * height + row) * width + col, north-up; NaN where nodata. */
  speed: Float32Array;
  /** Eastward and northward components (m/s, same layout) when the input had u/v bands. */
  u?: Float32Array;
  v?: Float32Array;
  /** Where the cube came from: the files in time order and a fingerprint of their identity. */
  source: { files: string[]; fingerprint: string; cache?: { path: string; hit: boolean; encoding: CacheEncoding } };
}

/** Number of hours in a cube. */
export function cubeHours(cube: Cube): number {
  return cube.times.length;
}

/** The frame (one hour) t as a view, without copying. */
export function frame(cube: Cube, t: number, band: 'speed' | 'u' | 'v' = 'speed'): Float32Array {
  const data = cube[band];
  if (!data) throw new Error(`cube has no ${band} band`);
  const n = cube.grid.width * cube.grid.height;
  return data.subarray(t * n, (t + 1) * n);
}

export type CacheEncoding = 'float32' | 'int16';

export interface BuildCubeOptions {
  /** Cache encoding on disk (memory is always Float32). */
  cacheEncoding: CacheEncoding;
  /** Read and write the disk cache. */
  cache: boolean;
  /** Decoder threads; 0 = one per core. */
  workers: number;
  /** Override the cache folder (default: DIR/.windcast-cache beside the data). */
  cacheDir?: string;
}

/** Bytes the in-memory cube needs: hours x cells x 4 bytes x (1 band, or speed + u + v). */
export function cubeBytes(grid: GridSpec, hours: number, bandCount: 1 | 2): number {
  return cellCount(grid) * hours * 4 * (bandCount === 2 ? 3 : 1);
}

// ---------------------------------------------------------------------------------------------
// Worker pool

/** What a worker reports for one file. */
export interface FileDecodeResult {
  index: number;
  path: string;
  /** Set when the file was refused; the message starts with the file's path. */
  error?: { message: string; kind: 'data' | 'internal' };
  header?: Pick<RasterHeader, 'dataType' | 'bandCount' | 'nodata' | 'compression' | 'layout' | 'scale' | 'offset' | 'warnings'>;
  /** Statistics of the speed (hypot of u, v for 2-band files). */
  speed?: BandStats;
}

export interface DecodePoolOptions {
  files: string[];
  /** The first file's header: every file must have its grid and band count. */
  reference: RasterHeader;
  /** Shared outputs (cube mode) or none (statistics only, for inspect). */
  outputs?: { speed: SharedArrayBuffer; u?: SharedArrayBuffer; v?: SharedArrayBuffer };
  workers: number;
  progress: Progress;
  label: string;
  /** Longest time one file may take, seconds (default DECODE_TIMEOUT_S; tests shorten it). */
  timeoutSeconds?: number;
}

/** Messages between the pool and src/cube-worker.ts. */
export interface WorkerInit {
  cells: number;
  reference: { path: string; grid: GridSpec; bandCount: 1 | 2 };
  outputs?: { speed: SharedArrayBuffer; u?: SharedArrayBuffer; v?: SharedArrayBuffer };
}
export interface WorkerTask { index: number; path: string }

/** Longest time one file may take to decode (a global float32 frame takes well under 1 s). */
const DECODE_TIMEOUT_S = 120;

export function workerCount(requested: number, files: number): number {
  const n = requested > 0 ? requested : availableParallelism();
  return Math.max(1, Math.min(n, files));
}

/** Decode files on worker threads; results come back in file order. Never throws for bad files. */
export async function decodeFiles(options: DecodePoolOptions): Promise<FileDecodeResult[]> {
  const { files, reference, outputs, progress, label } = options;
  const timeoutS = options.timeoutSeconds ?? DECODE_TIMEOUT_S;
  const results: FileDecodeResult[] = new Array(files.length);
  const init: WorkerInit = {
    cells: cellCount(reference.grid),
    reference: { path: reference.path, grid: reference.grid, bandCount: reference.bandCount },
    outputs,
  };
  const nWorkers = workerCount(options.workers, files.length);
  const task = progress.start({ unit: 'files', total: files.length, label });
  let next = 0;
  const workers: Worker[] = [];
  try {
    await Promise.all(Array.from({ length: nWorkers }, () => new Promise<void>((resolvePromise, reject) => {
      const worker = new Worker(new URL('./decode.worker.js', import.meta.url), { workerData: init });
      workers.push(worker);
      let current: WorkerTask | undefined;
      let watchdog: NodeJS.Timeout | undefined;
      const feed = () => {
        if (next >= files.length) {
          current = undefined;
          void worker.terminate().then(() => resolvePromise());
          return;
        }
        current = { index: next, path: files[next]! };
        next++;
        const job = current;
        // A corrupt file can make a decoder spin forever: give up on it rather than hang.
        watchdog = setTimeout(() => {
          reject(new DataError(job.path, `decoding did not finish within ${timeoutS} s; the file is probably corrupt`));
        }, timeoutS * 1000);
        worker.postMessage(current);
      };
      worker.on('message', (msg: FileDecodeResult) => {
        clearTimeout(watchdog);
        results[msg.index] = msg;
        task.tick(1);
        feed();
      });
      worker.on('error', (err) => {
        clearTimeout(watchdog);
        // A crash inside the decoder (e.g. out of memory) names the file it was decoding.
        reject(new WindcastError('internal', `${current?.path ?? 'decoder'}: decoder thread failed: ${describeError(err)}`, { cause: err }));
      });
      worker.on('exit', (code) => {
        clearTimeout(watchdog);
        if (current && code !== 0) reject(new WindcastError('internal', `${current.path}: decoder thread exited with code ${code}`));
      });
      feed();
    })));
  } finally {
    for (const w of workers) void w.terminate();
  }
  task.done();
  return results;
}

/** The first refused file, in time order, as the error a user sees. */
function throwFirstError(results: FileDecodeResult[]): void {
  const bad = results.find((r) => r.error);
  if (!bad?.error) return;
  const others = results.filter((r) => r.error).length - 1;
  const suffix = others > 0 ? ` (and ${others} more file${others === 1 ? '' : 's'} refused; run windcast inspect for the list)` : '';
  if (bad.error.kind === 'data') {
    const prefix = `${bad.path}: `;
    const reason = bad.error.message.startsWith(prefix) ? bad.error.message.slice(prefix.length) : bad.error.message;
    throw new DataError(bad.path, reason + suffix);
  }
  throw new WindcastError('internal', bad.error.message + suffix);
}

// ---------------------------------------------------------------------------------------------
// Cache

const MAGIC = 'WCUBE001';
const CACHE_VERSION = 1;
const INT16_STEP = 0.01;
const INT16_NAN = -32768;
/** Bytes moved per read/write call: large enough for full disk speed, below Node's 2 GiB limit. */
const CHUNK_BYTES = 256 * 1024 * 1024;

interface CacheHeader {
  version: number;
  fingerprint: string;
  encoding: CacheEncoding;
  /** int16 only: value = stored * step. */
  step?: number;
  grid: GridSpec;
  times: number[];
  bands: Array<'speed' | 'u' | 'v'>;
  files: Array<{ name: string; size: number; mtimeMs: number }>;
}

/** Identity of a dataset: file names (relative to the cache's folder), sizes, mtimes, hours. */
export function fingerprint(catalog: Catalog): string {
  const h = createHash('sha256');
  h.update(`windcast-cube-v${CACHE_VERSION}\n`);
  for (const e of catalog.entries) h.update(`${basename(e.path)}\t${e.size}\t${e.mtimeMs}\t${e.time}\n`);
  return h.digest('hex').slice(0, 20);
}

export function defaultCacheDir(catalog: Catalog): string {
  return join(dirname(catalog.entries[0]!.path), CUBE_CACHE_DIR);
}

function cachePathFor(dir: string, fp: string, encoding: CacheEncoding): string {
  return join(dir, `cube-${fp}-${encoding}.bin`);
}

function readFully(fd: number, target: Uint8Array, position: number): void {
  let done = 0;
  while (done < target.byteLength) {
    const n = readSync(fd, target, done, Math.min(CHUNK_BYTES, target.byteLength - done), position + done);
    if (n === 0) throw new Error(`cache file ended after ${position + done} bytes`);
    done += n;
  }
}

/**
 * Read a large range with several reads in flight (libuv's thread pool): filling fresh memory
 * is bound by page faults as much as by copying, and those run in parallel on several cores.
 */
async function readParallel(path: string, target: Uint8Array, position: number): Promise<void> {
  const handle = await open(path, 'r');
  try {
    const piece = 64 * 1024 * 1024;
    let next = 0;
    const reader = async () => {
      while (next < target.byteLength) {
        const at = next;
        next += piece;
        const length = Math.min(piece, target.byteLength - at);
        let done = 0;
        while (done < length) {
          const { bytesRead } = await handle.read(target, at + done, length - done, position + at + done);
          if (bytesRead === 0) throw new Error(`cache file ended after ${position + at + done} bytes`);
          done += bytesRead;
        }
      }
    };
    await Promise.all([reader(), reader(), reader(), reader()]);
  } finally {
    await handle.close();
  }
}

/** Load a cube cache; null when the file is missing, stale, or unreadable (then it is rebuilt). */
export async function loadCubeCache(path: string, expectFingerprint: string, files: string[], progress?: Progress): Promise<Cube | null> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const size = statSync(path).size;
    const pre = Buffer.alloc(12);
    readFully(fd, pre, 0);
    if (pre.toString('latin1', 0, 8) !== MAGIC) return null;
    const headerLength = pre.readUInt32LE(8);
    const headerBytes = Buffer.alloc(headerLength);
    readFully(fd, headerBytes, 12);
    const header = JSON.parse(headerBytes.toString('utf8')) as CacheHeader;
    if (header.version !== CACHE_VERSION || header.fingerprint !== expectFingerprint) return null;
    const dataStart = align64(12 + headerLength);
    const cells = cellCount(header.grid);
    const perBand = cells * header.times.length;
    const bytesPer = header.encoding === 'int16' ? 2 : 4;
    if (size !== dataStart + perBand * bytesPer * header.bands.length) {
      progress?.log(`cube cache ${path} has the wrong size; rebuilding it`);
      return null;
    }
    const arrays: Record<string, Float32Array> = {};
    for (const [b, band] of header.bands.entries()) {
      const out = new Float32Array(perBand);
      const offset = dataStart + b * perBand * bytesPer;
      if (header.encoding === 'float32') {
        await readParallel(path, new Uint8Array(out.buffer), offset);
      } else {
        // Expand int16 in chunks so the only large allocation is the Float32 result.
        const table = int16Table(header.step ?? INT16_STEP);
        const chunkCells = CHUNK_BYTES / 2;
        const buf = new Int16Array(Math.min(chunkCells, perBand));
        for (let start = 0; start < perBand; start += chunkCells) {
          const n = Math.min(chunkCells, perBand - start);
          readFully(fd, new Uint8Array(buf.buffer, 0, n * 2), offset + start * 2);
          expandInt16(buf, n, out, start, table);
        }
      }
      arrays[band] = out;
    }
    return {
      grid: header.grid,
      times: Float64Array.from(header.times),
      speed: arrays.speed!,
      u: arrays.u,
      v: arrays.v,
      source: { files, fingerprint: header.fingerprint, cache: { path, hit: true, encoding: header.encoding } },
    };
  } catch (err) {
    progress?.log(`cube cache ${path} is unreadable (${describeError(err)}); rebuilding it`);
    return null;
  } finally {
    closeSync(fd);
  }
}

/**
 * The Float32 value of every int16 code (NaN for INT16_NAN), so expanding is one table load per
 * value: about 1.7x faster than a compare and a multiply per value (750 M values per global cube).
 */
function int16Table(step: number): Float32Array {
  const table = new Float32Array(65536);
  for (let q = -32768; q < 32768; q++) table[q + 32768] = q === INT16_NAN ? NaN : q * step;
  return table;
}

/** Small hot loops live in their own functions so V8 optimises them on their own. */
function expandInt16(src: Int16Array, n: number, out: Float32Array, at: number, table: Float32Array): void {
  for (let i = 0; i < n; i++) out[at + i] = table[src[i]! + 32768]!;
}

function encodeInt16(data: Float32Array, at: number, n: number, out: Int16Array): void {
  const inv = 1 / INT16_STEP;
  for (let i = 0; i < n; i++) {
    const v = data[at + i]!;
    out[i] = v !== v ? INT16_NAN : Math.round(v * inv);
  }
}

function align64(n: number): number {
  return Math.ceil(n / 64) * 64;
}

function fitsInt16(data: Float32Array): boolean {
  const limit = 32767 * INT16_STEP;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v > limit || v < -limit) return false;
  }
  return true;
}

/**
 * Write the cube atomically (temporary file, fsync, rename) and delete older caches of the
 * same folder. Returns the encoding written.
 */
export function writeCubeCache(path: string, cube: Cube, catalog: Catalog, encoding: CacheEncoding, progress?: Progress): CacheEncoding {
  const bands = (['speed', 'u', 'v'] as const).filter((b) => cube[b] !== undefined);
  let enc = encoding;
  if (enc === 'int16' && !bands.every((b) => fitsInt16(cube[b]!))) {
    progress?.log('values beyond +-327.67 m/s do not fit the int16 cache; writing float32');
    enc = 'float32';
    path = path.replace(/-int16\.bin$/, '-float32.bin');
  }
  const header: CacheHeader = {
    version: CACHE_VERSION,
    fingerprint: cube.source.fingerprint,
    encoding: enc,
    ...(enc === 'int16' ? { step: INT16_STEP } : {}),
    grid: cube.grid,
    times: Array.from(cube.times),
    bands: [...bands],
    files: catalog.entries.map((e) => ({ name: basename(e.path), size: e.size, mtimeMs: e.mtimeMs })),
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const pre = Buffer.alloc(align64(12 + headerBytes.length));
  pre.write(MAGIC, 0, 'latin1');
  pre.writeUInt32LE(headerBytes.length, 8);
  headerBytes.copy(pre, 12);
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  removeStaleTemporaries(dir);
  writeFileAtomicSync(path, (write) => {
    write(pre);
    for (const b of bands) {
      const data = cube[b]!;
      if (enc === 'float32') {
        write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      } else {
        const chunkCells = CHUNK_BYTES / 2;
        const buf = new Int16Array(Math.min(chunkCells, data.length));
        for (let start = 0; start < data.length; start += chunkCells) {
          const n = Math.min(chunkCells, data.length - start);
          encodeInt16(data, start, n, buf);
          write(new Uint8Array(buf.buffer, 0, n * 2));
        }
      }
    }
  });
  // Older caches of this folder describe files that changed or vanished: remove them.
  for (const name of readdirSync(dir)) {
    if (/^cube-.*\.bin$/.test(name) && join(dir, name) !== path) {
      try { unlinkSync(join(dir, name)); } catch { /* another run may have removed it */ }
    }
  }
  return enc;
}

// ---------------------------------------------------------------------------------------------
// Build

/**
 * The cube of a consecutive catalog: from the cache when it is current, else decoded on
 * worker threads (and cached). Throws the first refused file's DataError.
 */
export async function buildCube(catalog: Catalog, options: BuildCubeOptions, progress: Progress): Promise<Cube> {
  if (catalog.entries.length === 0) throw new DataError(catalog.input, 'no files');
  const files = catalog.entries.map((e) => e.path);
  const fp = fingerprint(catalog);
  const cacheDir = options.cacheDir ?? defaultCacheDir(catalog);
  const cachePath = cachePathFor(cacheDir, fp, options.cacheEncoding);
  if (options.cache) {
    // An int16 request may have fallen back to float32; a float32 request never reads int16.
    const candidates = options.cacheEncoding === 'int16' ? [cachePath, cachePathFor(cacheDir, fp, 'float32')] : [cachePath];
    for (const candidate of candidates) {
      const cached = await loadCubeCache(candidate, fp, files, progress);
      if (cached) return cached;
    }
  }

  const reference = await readRasterHeader(files[0]!);
  const hours = files.length;
  const cells = cellCount(reference.grid);
  const bytes = cells * hours * 4;
  const alloc = () => {
    try {
      return new SharedArrayBuffer(bytes);
    } catch (err) {
      throw new DataError(catalog.input, `the cube needs ${(cubeBytes(reference.grid, hours, reference.bandCount) / 2 ** 30).toFixed(2)} GiB of memory, more than this process can allocate (${describeError(err)})`);
    }
  };
  const outputs = reference.bandCount === 2 ? { speed: alloc(), u: alloc(), v: alloc() } : { speed: alloc() };
  const results = await decodeFiles({ files, reference, outputs, workers: options.workers, progress, label: 'decoding' });
  throwFirstError(results);

  const cube: Cube = {
    grid: reference.grid,
    times: Float64Array.from(catalog.entries, (e) => e.time),
    speed: new Float32Array(outputs.speed),
    ...(outputs.u && outputs.v ? { u: new Float32Array(outputs.u), v: new Float32Array(outputs.v) } : {}),
    source: { files, fingerprint: fp },
  };
  if (options.cache) {
    try {
      const enc = writeCubeCache(cachePath, cube, catalog, options.cacheEncoding, progress);
      cube.source.cache = { path: enc === options.cacheEncoding ? cachePath : cachePathFor(cacheDir, fp, enc), hit: false, encoding: enc };
    } catch (err) {
      // A read-only data folder must not stop training: say so and go on without a cache.
      progress.log(`cannot write the cube cache in ${cacheDir} (${describeError(err)}); continuing without it`);
    }
  }
  return cube;
}

/** Compare a file's header with the reference; the message names both files and the differences. */
export function checkAgainstReference(header: RasterHeader, reference: { path: string; grid: GridSpec; bandCount: 1 | 2 }): string | null {
  const diffs = gridDifferences(reference.grid, header.grid);
  if (header.bandCount !== reference.bandCount) diffs.unshift(`${reference.bandCount} band(s) vs ${header.bandCount}`);
  if (diffs.length === 0) return null;
  return `${header.path}: grid differs from the first file ${reference.path}: ${diffs.join('; ')} (first file vs this file)`;
}

/**
 * A data folder (or glob) as a cube, the way train and evaluate read it: the catalog with the
 * configured pattern (consecutive hours required), then buildCube through the disk cache.
 */
export async function loadDataCube(dir: string, ingest: IngestConfig, progress: Progress): Promise<Cube> {
  const catalog = await buildCatalog(dir, { glob: ingest.glob, timePattern: ingest.timePattern });
  return buildCube(catalog, { cacheEncoding: ingest.cacheEncoding, cache: ingest.cache, workers: ingest.workers }, progress);
}
