/**
 * The cube cache: one file per dataset and band plan, DIR/.windcast-cache/cube-<key>-<encoding>.bin
 * beside the data, so that a second run reloads the decoded hours with large sequential reads
 * instead of decoding every GeoTIFF again. The key is the data's fingerprint (every file's
 * name, size, modification time and hour) and the band plan (band-plan.ts: which height is the
 * target): changing, adding or removing a file makes a new cache, and the old one is deleted
 * when the new one is written.
 *
 * Format: "WCUBE001", a uint32 header length, a JSON header (version, key, grid, hours, bands,
 * files, encoding), padding to 64 bytes, then each band hours x cells, in the header's band
 * order (speed, u, v, uOther, vOther: version 2 added the other height's). Encodings: float32 is
 * exact. int16 stores round(v * 100) (0.01 m/s steps, NaN as -32768): the error bound is
 * 0.005 m/s plus float32 rounding, for |v| <= 327.67 m/s; a cube with larger values is written
 * as float32 instead. Writes go through core/atomic.ts (temporary sibling, fsync, rename).
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readdirSync, readSync, statSync, unlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { removeStaleTemporaries, writeFileAtomicSync } from '../core/atomic.js';
import { DataError, describeError } from '../core/errors.js';
import { cellCount, type GridSpec } from '../core/grid.js';
import type { Progress } from '../core/progress.js';
import type { CubeBand } from './band-plan.js';
import type { Catalog } from './catalog.js';

/** Folder, inside a data folder, that holds its cube cache (see cachePathFor). */
export const CUBE_CACHE_DIR = '.windcast-cache';

export type CacheEncoding = 'float32' | 'int16';

/** What the cache stores of a cube: grid, hours and its bands (cube.ts assembles the Cube). */
export interface CubeBands {
  grid: GridSpec;
  times: Float64Array;
  bands: { speed: Float32Array } & Partial<Record<CubeBand, Float32Array>>;
}

/** Band order in the file. */
const BAND_ORDER: readonly CubeBand[] = ['speed', 'u', 'v', 'uOther', 'vOther'];

/** A cube read back from its cache. */
export interface CachedCube extends CubeBands {
  key: string;
  encoding: CacheEncoding;
}


const MAGIC = 'WCUBE001';
/** Version 2: bands may include uOther/vOther, and the key includes the band plan. */
const CACHE_VERSION = 2;
/**
 * The data's identity, stored in every checkpoint (evaluate compares it): it must not change
 * with the cache format, or every earlier checkpoint would stop matching its own data.
 */
const FINGERPRINT_SALT = 'windcast-cube-v1';
/** int16 encodings (this cache, ingest/cell-file.ts) store round(v / INT16_STEP). */
export const INT16_STEP = 0.01;
const INT16_NAN = -32768;
/** Bytes moved per read/write call: large enough for full disk speed, below Node's 2 GiB limit. */
const CHUNK_BYTES = 256 * 1024 * 1024;

interface CacheHeader {
  version: number;
  /** cacheKey: the data's fingerprint and the band plan. */
  key: string;
  encoding: CacheEncoding;
  /** int16 only: value = stored * step. */
  step?: number;
  grid: GridSpec;
  times: number[];
  bands: CubeBand[];
  files: Array<{ name: string; size: number; mtimeMs: number }>;
}

/** Identity of a dataset: file names (relative to the cache's folder), sizes, mtimes, hours. */
export function fingerprint(catalog: Catalog): string {
  const h = createHash('sha256');
  h.update(`${FINGERPRINT_SALT}\n`);
  for (const e of catalog.entries) h.update(`${basename(e.path)}\t${e.size}\t${e.mtimeMs}\t${e.time}\n`);
  return h.digest('hex').slice(0, 20);
}

export function defaultCacheDir(catalog: Catalog): string {
  return join(dirname(catalog.entries[0]!.path), CUBE_CACHE_DIR);
}

/** The cache key of a dataset read with a band plan (planKey in band-plan.ts). */
export function cacheKey(fp: string, plan: string): string {
  return `${fp}-${createHash('sha256').update(plan).digest('hex').slice(0, 8)}`;
}

export function cachePathFor(dir: string, key: string, encoding: CacheEncoding): string {
  return join(dir, `cube-${key}-${encoding}.bin`);
}

/**
 * Fill target from byte `position` of the open file (positioned reads of at most CHUNK_BYTES
 * each); a DataError naming `file` when it ends first. The one read loop of the on-disk cubes
 * (this cache, ingest/cell-cube.ts, prepare/window-reader.ts).
 */
export function readFully(fd: number, target: Uint8Array, position: number, file: string): void {
  let done = 0;
  while (done < target.byteLength) {
    const n = readSync(fd, target, done, Math.min(CHUNK_BYTES, target.byteLength - done), position + done);
    if (n === 0) throw new DataError(file, `ended after ${position + done} bytes`);
    done += n;
  }
}

/**
 * The layout both on-disk cubes share (this cache and ingest/cell-cube.ts's cell file): an
 * 8-byte magic, a uint32 header length, the JSON header, zero padding to 64 bytes, the data.
 * framedPrefix is everything before the data.
 */
export function framedPrefix(magic: string, header: object): Buffer {
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const pre = Buffer.alloc(align64(12 + headerBytes.length));
  pre.write(magic, 0, 'latin1');
  pre.writeUInt32LE(headerBytes.length, 8);
  headerBytes.copy(pre, 12);
  return pre;
}

/** The JSON header of a framed file and where its data starts; null when the magic is not `magic`. Throws on a short file. */
export function readFramedHeader(fd: number, magic: string, file: string): { header: unknown; dataStart: number } | null {
  const pre = Buffer.alloc(12);
  readFully(fd, pre, 0, file);
  if (pre.toString('latin1', 0, 8) !== magic) return null;
  const headerLength = pre.readUInt32LE(8);
  const headerBytes = Buffer.alloc(headerLength);
  readFully(fd, headerBytes, 12, file);
  return { header: JSON.parse(headerBytes.toString('utf8')), dataStart: align64(12 + headerLength) };
}

/** A cube cache's header when the file is of this version and key and has the size it describes. */
interface CacheLayout {
  header: CacheHeader;
  dataStart: number;
  cells: number;
  perBand: number;
  bytesPer: number;
}

/** readFramedHeader for a cube cache, checked; why not, when it is not current. */
function readCacheLayout(fd: number, path: string, expectKey: string): CacheLayout | { stale: 'not a cube cache' | 'stale' | 'wrong size' } {
  const framed = readFramedHeader(fd, MAGIC, path);
  if (!framed) return { stale: 'not a cube cache' };
  const header = framed.header as CacheHeader;
  if (header.version !== CACHE_VERSION || header.key !== expectKey) return { stale: 'stale' };
  const cells = cellCount(header.grid);
  const perBand = cells * header.times.length;
  const bytesPer = header.encoding === 'int16' ? 2 : 4;
  if (statSync(path).size !== framed.dataStart + perBand * bytesPer * header.bands.length) return { stale: 'wrong size' };
  return { header, dataStart: framed.dataStart, cells, perBand, bytesPer };
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

/**
 * An open cube cache for positioned reads (ingest/cell-cube.ts reads it slab by slab, so the
 * whole time-major cube is never in memory). Close it when done.
 */
export interface CubeCacheFile {
  path: string;
  grid: GridSpec;
  times: Float64Array;
  bands: CubeBand[];
  encoding: CacheEncoding;
  /** Values of `band`, hours [hour, hour + count) x all cells (time-major), into out (length count x cells). */
  readHours(band: CubeBand, hour: number, count: number, out: Float32Array): void;
  /** n consecutive values of `band` from flat index hour * cells + cell, into out[0..n). */
  readValues(band: CubeBand, index: number, n: number, out: Float32Array): void;
  close(): void;
}

/** A file descriptor for reading path, or null when it cannot be opened (a cache that is not there). */
export function openForReading(path: string): number | null {
  try {
    return openSync(path, 'r');
  } catch {
    return null;
  }
}

/** Open a current cache for positioned reads; null when it is missing, stale or the wrong size. */
export function openCubeCache(path: string, expectKey: string): CubeCacheFile | null {
  const fd = openForReading(path);
  if (fd === null) return null;
  try {
    const layout = readCacheLayout(fd, path, expectKey);
    if ('stale' in layout) throw new Error(layout.stale);
    const { header, dataStart, cells, perBand, bytesPer } = layout;
    const table = header.encoding === 'int16' ? int16Table(header.step ?? INT16_STEP) : null;
    let scratch: Int16Array | null = null;
    return {
      path,
      grid: header.grid,
      times: Float64Array.from(header.times),
      bands: header.bands,
      encoding: header.encoding,
      readHours(band, hour, count, out) {
        this.readValues(band, hour * cells, count * cells, out);
      },
      readValues(band, index, n, out) {
        const b = header.bands.indexOf(band);
        if (b < 0) throw new Error(`cube cache ${path} has no ${band} band`);
        const offset = dataStart + (b * perBand + index) * bytesPer;
        if (!table) {
          readFully(fd, new Uint8Array(out.buffer, out.byteOffset, n * 4), offset, path);
          return;
        }
        if (!scratch || scratch.length < n) scratch = new Int16Array(n);
        readFully(fd, new Uint8Array(scratch.buffer, 0, n * 2), offset, path);
        expandInt16(scratch, n, out, 0, table);
      },
      close() {
        closeSync(fd);
      },
    };
  } catch {
    closeSync(fd);
    return null;
  }
}

/** Load a cube cache; null when the file is missing, stale, or unreadable (then it is rebuilt). */
export async function loadCubeCache(path: string, expectKey: string, progress?: Progress): Promise<CachedCube | null> {
  const fd = openForReading(path);
  if (fd === null) return null;
  try {
    const layout = readCacheLayout(fd, path, expectKey);
    if ('stale' in layout) {
      if (layout.stale === 'wrong size') progress?.log(`cube cache ${path} has the wrong size; rebuilding it`);
      return null;
    }
    const { header, dataStart, perBand, bytesPer } = layout;
    const arrays: Partial<Record<CubeBand, Float32Array>> = {};
    for (const [b, band] of header.bands.entries()) {
      const out = new Float32Array(perBand);
      const offset = dataStart + b * perBand * bytesPer;
      if (header.encoding === 'float32') {
        // In pieces of at most 2 GiB: a byte view of a band past 4 GiB is beyond V8's typed array limit.
        const piece = 8 * CHUNK_BYTES;
        for (let at = 0; at < out.byteLength; at += piece) await readParallel(path, new Uint8Array(out.buffer, at, Math.min(piece, out.byteLength - at)), offset + at);
      } else {
        // Expand int16 in chunks so the only large allocation is the Float32 result.
        const table = int16Table(header.step ?? INT16_STEP);
        const chunkCells = CHUNK_BYTES / 2;
        const buf = new Int16Array(Math.min(chunkCells, perBand));
        for (let start = 0; start < perBand; start += chunkCells) {
          const n = Math.min(chunkCells, perBand - start);
          readFully(fd, new Uint8Array(buf.buffer, 0, n * 2), offset + start * 2, path);
          expandInt16(buf, n, out, start, table);
        }
      }
      arrays[band] = out;
    }
    if (!arrays.speed) return null;
    return {
      grid: header.grid,
      times: Float64Array.from(header.times),
      bands: { ...arrays, speed: arrays.speed },
      key: header.key,
      encoding: header.encoding,
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
export function int16Table(step: number): Float32Array {
  const table = new Float32Array(65536);
  for (let q = -32768; q < 32768; q++) table[q + 32768] = q === INT16_NAN ? NaN : q * step;
  return table;
}

/** Small hot loops live in their own functions so V8 optimises them on their own. */
export function expandInt16(src: Int16Array, n: number, out: Float32Array, at: number, table: Float32Array): void {
  for (let i = 0; i < n; i++) out[at + i] = table[src[i]! + 32768]!;
}

export function encodeInt16(data: Float32Array, at: number, n: number, out: Int16Array): void {
  const inv = 1 / INT16_STEP;
  for (let i = 0; i < n; i++) {
    const v = data[at + i]!;
    out[i] = v !== v ? INT16_NAN : Math.round(v * inv);
  }
}

function align64(n: number): number {
  return Math.ceil(n / 64) * 64;
}

export function fitsInt16(data: Float32Array): boolean {
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
export function writeCubeCache(path: string, cube: CubeBands, key: string, catalog: Catalog, encoding: CacheEncoding, progress?: Progress): CacheEncoding {
  const bands = BAND_ORDER.filter((b) => cube.bands[b] !== undefined);
  let enc = encoding;
  if (enc === 'int16' && !bands.every((b) => fitsInt16(cube.bands[b]!))) {
    progress?.log('values beyond +-327.67 m/s do not fit the int16 cache; writing float32');
    enc = 'float32';
    path = path.replace(/-int16\.bin$/, '-float32.bin');
  }
  const header: CacheHeader = {
    version: CACHE_VERSION,
    key,
    encoding: enc,
    ...(enc === 'int16' ? { step: INT16_STEP } : {}),
    grid: cube.grid,
    times: Array.from(cube.times),
    bands: [...bands],
    files: catalog.entries.map((e) => ({ name: basename(e.path), size: e.size, mtimeMs: e.mtimeMs })),
  };
  const pre = framedPrefix(MAGIC, header);
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  removeStaleTemporaries(dir);
  writeFileAtomicSync(path, (write) => {
    write(pre);
    for (const b of bands) {
      const data = cube.bands[b]!;
      if (enc === 'float32') {
        // In pieces: a byte view of a band past 4 GiB (a 90-day global cube) is beyond V8's typed array limit.
        for (let at = 0; at < data.byteLength; at += CHUNK_BYTES) write(new Uint8Array(data.buffer, data.byteOffset + at, Math.min(CHUNK_BYTES, data.byteLength - at)));
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
