/**
 * The cell file: a cube that stays on disk, cell-major in chunks of hours, `cells-<key>.bin` in
 * the cache folder. Layout: CELL_MAGIC, a JSON header (version, key, cells, hours, bands,
 * chunkHours), padding to 64 bytes, then chunk after chunk of chunkHours hours (the last may be
 * shorter), each holding every band in the header's order, each band cells x the chunk's hours
 * float32: value (band b, cell, t) of chunk k (hours [k * chunkHours, k * chunkHours + len)) at
 * dataStart + (k * chunkHours * cells * bands + (b * cells + cell) * len + t - k * chunkHours) * 4.
 * One chunk (chunkHours = hours) is the plain [band][cell][hour] layout.
 *
 * Why chunks: a window reads one cell's 48 hours, which chunks keep one or two short reads, and
 * chunks let the file be written front to back as the hours are decoded, a slab at a time
 * (streamCellFile): a year of global hours (36 GB float32, more than this machine's memory) is
 * then never whole in memory nor twice on disk. Written from a time-major cube cache instead
 * (writeCellFile), the file has one chunk.
 *
 * Both writers go through core/atomic.ts (temporary sibling, fsync, rename): a kill leaves the
 * file complete or absent, and openCellFile trusts only a file of the right key and size.
 */
import { closeSync, mkdirSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { removeStaleTemporaries, requireFreeSpace, writeFileAtomicStreamed, writeFileAtomicSync } from '../core/atomic.js';
import { formatBytes } from '../core/bytes.js';
import { DataError } from '../core/errors.js';
import { cellCount } from '../core/grid.js';
import type { Progress } from '../core/progress.js';
import type { CubeBand } from './band-plan.js';
import { encodeInt16, expandInt16, fitsInt16, framedPrefix, INT16_STEP, int16Table, openForReading, readFramedHeader, readFully, type CacheEncoding } from './cube-cache.js';
import { decodeInSlabs, type DecodeOutputs } from './decode-pool.js';
import type { RasterHeader } from './raster.js';

export type CellBand = CubeBand;

/** A cell file's description (see the module header for where a value is); plain data, so it crosses to the batch thread. */
export interface CellFile {
  path: string;
  dataStart: number;
  cells: number;
  hours: number;
  bands: CellBand[];
  /** Hours per chunk; hours when the file is one chunk. */
  chunkHours: number;
  /** How values are stored: float32, or int16 as the cube cache stores them (v = q * INT16_STEP, NaN as -32768). */
  encoding: CacheEncoding;
  /** Which cube's values these are: the int16 encoding's rounding (an int16 cache's or its own), or float32 exact. */
  values: CacheEncoding;
}

const CELL_MAGIC = 'WCELL001';
/** Version 2: hours in chunks (chunkHours). */
const CELL_VERSION = 2;
/** Bytes of cell-major values assembled per block while the cell file is written from a cache. */
const CELL_BLOCK_BYTES = 128 * 1024 * 1024;
/** Cells per block of the transposition: a block's output rows stay in cache while hours stream through. */
const BLOCK_CELLS = 256;

/** The file's JSON header: its description less where it lies, plus the format version and the cube's key. */
type CellHeader = Omit<CellFile, 'path' | 'dataStart'> & { version: number; key: string };

export function cellFilePath(cacheDir: string, key: string): string {
  return join(cacheDir, `cells-${key}.bin`);
}

/**
 * Scatter hours [hour0, hour0 + count) of a time-major slab (count x cells) into the
 * cell-major out (cells x hours).
 */
export function scatterHours(slab: Float32Array, count: number, cells: number, out: Float32Array, hours: number, hour0: number): void {
  for (let c0 = 0; c0 < cells; c0 += BLOCK_CELLS) {
    const c1 = Math.min(cells, c0 + BLOCK_CELLS);
    for (let t = 0; t < count; t++) {
      const base = t * cells;
      const at = hour0 + t;
      for (let c = c0; c < c1; c++) out[c * hours + at] = slab[base + c]!;
    }
  }
}

/** n float32 values in shared memory (a cell-major band: the batch thread reads it without a copy); a DataError naming `what` when they cannot be had. */
export function sharedFloats(n: number, what: string): Float32Array {
  try {
    return new Float32Array(new SharedArrayBuffer(n * 4));
  } catch (err) {
    throw new DataError(what, `the cell-major cube needs ${formatBytes(n * 4)} more, which this process cannot allocate`, { cause: err });
  }
}

/** The end (exclusive) of the chunk holding `hour`. */
export function chunkEnd(file: Pick<CellFile, 'hours' | 'chunkHours'>, hour: number): number {
  return Math.min(file.hours, (Math.floor(hour / file.chunkHours) + 1) * file.chunkHours);
}

/** Byte position of value (band index b, cell, hour); the hours up to chunkEnd(hour) follow it. */
export function cellPosition(file: CellFile, b: number, cell: number, hour: number): number {
  const start = hour - (hour % file.chunkHours);
  const len = Math.min(file.chunkHours, file.hours - start);
  return file.dataStart + (start * file.cells * file.bands.length + (b * file.cells + cell) * len + hour - start) * bytesPerValue(file);
}

export function bytesPerValue(file: Pick<CellFile, 'encoding'>): 2 | 4 {
  return file.encoding === 'int16' ? 2 : 4;
}

/** The cell file at path when it is complete and of this key, else null. */
export function openCellFile(path: string, key: string): CellFile | null {
  const fd = openForReading(path);
  if (fd === null) return null;
  try {
    const framed = readFramedHeader(fd, CELL_MAGIC, path);
    if (!framed) return null;
    const header = framed.header as CellHeader;
    const { dataStart } = framed;
    if (header.version !== CELL_VERSION || header.key !== key || !(header.chunkHours >= 1)) return null;
    if (header.encoding !== 'float32' && header.encoding !== 'int16') return null;
    const file: CellFile = { path, dataStart, cells: header.cells, hours: header.hours, bands: header.bands, chunkHours: header.chunkHours, encoding: header.encoding, values: header.values };
    if (statSync(path).size !== dataStart + header.cells * header.hours * bytesPerValue(file) * header.bands.length) return null;
    return file;
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

function prepareFolder(path: string): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  // What a killed writer left (its temporary file); a live writer's stays.
  removeStaleTemporaries(dir);
}

/** Once a cell file is in place, the older ones of its folder go (one per data folder, like the cache). */
function removeOtherCellFiles(path: string): void {
  const dir = dirname(path);
  for (const name of readdirSync(dir)) {
    if (/^cells-.*\.bin$/.test(name) && join(dir, name) !== path) {
      try { unlinkSync(join(dir, name)); } catch { /* another run may have removed it */ }
    }
  }
}

/**
 * Write the cell file of a time-major source (the open cube cache, or a cube in memory) as one
 * chunk, in blocks of cells: per block, every hour's run of the block's cells is read and
 * scattered into cell-major order, then the block is appended. Atomic; older cell files go.
 */
export function writeCellFile(path: string, key: string, source: { cells: number; hours: number; bands: CellBand[]; values: CacheEncoding; read: (band: CellBand, index: number, n: number, out: Float32Array) => void }, progress: Progress): CellFile {
  const { cells, hours, bands, values } = source;
  const pre = framedPrefix(CELL_MAGIC, { version: CELL_VERSION, key, cells, hours, bands, chunkHours: hours, encoding: 'float32', values } satisfies CellHeader);
  const dataStart = pre.length;
  const blockCells = Math.max(1, Math.min(cells, Math.floor(CELL_BLOCK_BYTES / (hours * 4))));
  const block = new Float32Array(blockCells * hours);
  const run = new Float32Array(blockCells);
  prepareFolder(path);
  requireFreeSpace(dirname(path), pre.length + cells * hours * bands.length * 4, 'the cell-major copy of the cube on disk', FREE_SPACE_HINT);
  const task = progress.start({ unit: 'cells', total: cells * bands.length, label: 'cell-major cube on disk' });
  writeFileAtomicSync(path, (write) => {
    write(pre);
    for (const band of bands) {
      for (let c0 = 0; c0 < cells; c0 += blockCells) {
        const n = Math.min(blockCells, cells - c0);
        for (let t = 0; t < hours; t++) {
          source.read(band, t * cells + c0, n, run);
          for (let c = 0; c < n; c++) block[c * hours + t] = run[c]!;
        }
        write(new Uint8Array(block.buffer, 0, n * hours * 4));
        task.tick(n, band);
      }
    }
  });
  task.done();
  removeOtherCellFiles(path);
  return { path, dataStart, cells, hours, bands, chunkHours: hours, encoding: 'float32', values };
}

/** Hours per chunk of a streamed cell file: a time-major slab of every band plus one band's cell-major chunk within slabBytes. */
export function streamChunkHours(cells: number, hours: number, bands: number, slabBytes: number): number {
  return Math.max(1, Math.min(hours, Math.floor(slabBytes / (cells * 4 * (bands + 1)))));
}

export interface StreamCellFileOptions {
  path: string;
  key: string;
  /** The GeoTIFFs in hour order; reference is the first one's header (every file must match it). */
  files: string[];
  reference: RasterHeader;
  /** Per file band, the cube band it fills (band-plan.ts). */
  slots: (CubeBand | null)[];
  /** The cube's bands, in file order (speed first). */
  bands: CellBand[];
  /** Memory for the slab in flight (streamChunkHours). */
  slabBytes: number;
  /** float32 (exact) or int16 (half the disk; the values the int16 cube cache gives). */
  encoding: CacheEncoding;
  workers: number;
  progress: Progress;
}

/** What to do when the disk cannot hold the cell file (requireFreeSpace). */
const FREE_SPACE_HINT = 'free space there, set ingest.cacheEncoding to int16 (half the bytes, 0.01 m/s steps), or raise --memory-budget if the cube fits in memory';

function sharedSlab(bytes: number, path: string): SharedArrayBuffer {
  try {
    return new SharedArrayBuffer(bytes);
  } catch (err) {
    throw new DataError(path, `a slab of the streamed cube needs ${formatBytes(bytes)}, which this process cannot allocate`, { cause: err });
  }
}

/** A cell file written front to back, a chunk of hours at a time (writeChunkedCellFile). */
export interface ChunkedCellFileOptions {
  path: string;
  key: string;
  cells: number;
  hours: number;
  /** The cube's bands, speed first. */
  bands: CellBand[];
  chunkHours: number;
  /** float32 (exact) or int16 (half the disk; the values the int16 cube cache gives). */
  encoding: CacheEncoding;
  /** The file a DataError about hours from `hour` on names (int16 overflow). */
  fileOfHour: (hour: number) => string;
}

/**
 * Write a cell file whose time-major slabs come from `fill`: it fills `slab` (one shared
 * chunkHours x cells array per band) and calls onSlab(hour0, count) for each slab in hour
 * order; each band of it is transposed cell-major and appended as the next chunk. The cube is
 * never whole in memory (a slab of every band plus one band's chunk) and the file is written
 * through writeFileAtomicStreamed: a throw or a kill leaves no cell file.
 */
export async function writeChunkedCellFile(options: ChunkedCellFileOptions, fill: (slab: Record<CellBand, Float32Array>, buffers: Record<CellBand, SharedArrayBuffer>, onSlab: (hour0: number, count: number) => void) => Promise<void>): Promise<CellFile> {
  const { path, key, cells, hours, bands, chunkHours, encoding } = options;
  const pre = framedPrefix(CELL_MAGIC, { version: CELL_VERSION, key, cells, hours, bands, chunkHours, encoding, values: encoding } satisfies CellHeader);
  const buffers = Object.fromEntries(bands.map((b) => [b, sharedSlab(chunkHours * cells * 4, path)])) as Record<CellBand, SharedArrayBuffer>;
  const slab = Object.fromEntries(bands.map((b) => [b, new Float32Array(buffers[b])])) as Record<CellBand, Float32Array>;
  const chunk = new Float32Array(chunkHours * cells);
  const codes = encoding === 'int16' ? new Int16Array(chunkHours * cells) : null;
  prepareFolder(path);
  requireFreeSpace(dirname(path), pre.length + cells * hours * bands.length * (encoding === 'int16' ? 2 : 4), `the streamed cell-major cube (${encoding})`, FREE_SPACE_HINT);
  let written = 0;
  await writeFileAtomicStreamed(path, async (write) => {
    write(pre);
    await fill(slab, buffers, (hour0, count) => {
      if (hour0 !== written || count < 1 || count > chunkHours || hour0 + count > hours) throw new Error(`${path}: slab of hours ${hour0}..${hour0 + count - 1} out of order (expected hour ${written}, at most ${chunkHours} hours)`);
      for (const b of bands) {
        scatterHours(slab[b], count, cells, chunk, count, 0);
        if (!codes) {
          write(new Uint8Array(chunk.buffer, 0, count * cells * 4));
          continue;
        }
        // The cache falls back to float32 for such a cube; a stream cannot go back, so it says which hours.
        if (!fitsInt16(chunk.subarray(0, count * cells))) throw new DataError(options.fileOfHour(hour0), `${b} values beyond +-${(32767 * INT16_STEP).toFixed(2)} m/s in the hours from this file on do not fit the int16 encoding; set ingest.cacheEncoding to float32 (--config)`);
        encodeInt16(chunk, 0, count * cells, codes);
        write(new Uint8Array(codes.buffer, 0, count * cells * 2));
      }
      written += count;
    });
    // A fill that stops early would leave a file shorter than its header says: never put in place.
    if (written !== hours) throw new Error(`${path}: ${written} of ${hours} hours were written`);
  });
  removeOtherCellFiles(path);
  return { path, dataStart: pre.length, cells, hours, bands, chunkHours, encoding, values: encoding };
}

/**
 * Decode the GeoTIFFs a slab of chunkHours hours at a time (decode-pool.ts: one pool, straight
 * into shared slab bands) into a cell file (writeChunkedCellFile). A refused file is its
 * DataError, and leaves no cell file.
 */
export async function streamCellFile(options: StreamCellFileOptions): Promise<CellFile> {
  const { path, key, files, reference, bands } = options;
  const cells = cellCount(reference.grid);
  const hours = files.length;
  const chunkHours = streamChunkHours(cells, hours, bands.length, options.slabBytes);
  return writeChunkedCellFile({ path, key, cells, hours, bands, chunkHours, encoding: options.encoding, fileOfHour: (h) => files[h]! }, (_slab, buffers, onSlab) =>
    decodeInSlabs({
      files,
      reference,
      slots: options.slots,
      outputs: buffers as DecodeOutputs,
      slabHours: chunkHours,
      workers: options.workers,
      progress: options.progress,
      label: 'decoding to the cell-major cube on disk',
      onSlab,
    }),
  );
}

/** The float32 value of every int16 code: one table for every int16 cell file read in this thread. */
let int16Values: Float32Array | undefined;

/**
 * n stored values at byte `position` into out[at .. at + n): read as they are (float32), or
 * read into `scratch` and expanded (int16). The one value read of cell files (window-reader.ts).
 */
export function readCellValues(fd: number, file: CellFile, position: number, n: number, out: Float32Array, at: number, scratch: { codes?: Int16Array }): void {
  if (file.encoding === 'float32') {
    readFully(fd, new Uint8Array(out.buffer, out.byteOffset + at * 4, n * 4), position, file.path);
    return;
  }
  if (!scratch.codes || scratch.codes.length < n) scratch.codes = new Int16Array(Math.max(n, 64));
  readFully(fd, new Uint8Array(scratch.codes.buffer, 0, n * 2), position, file.path);
  int16Values ??= int16Table(INT16_STEP);
  expandInt16(scratch.codes, n, out.subarray(at), 0, int16Values);
}

/** Values [cell0, cell0 + n) x all hours of one band of a cell file, cell-major (n x hours), into out; fd from openSync(file.path). */
export function readCellRange(fd: number, file: CellFile, band: CellBand, cell0: number, n: number, out: Float32Array): void {
  const b = file.bands.indexOf(band);
  if (b < 0) throw new Error(`${file.path} has no ${band} band`);
  const scratch = {};
  if (file.chunkHours >= file.hours) {
    readCellValues(fd, file, cellPosition(file, b, cell0, 0), n * file.hours, out, 0, scratch);
    return;
  }
  // Per chunk, the n cells' runs are contiguous: one read, then each run to its place in out.
  const runs = new Float32Array(n * file.chunkHours);
  for (let start = 0; start < file.hours; start += file.chunkHours) {
    const len = chunkEnd(file, start) - start;
    readCellValues(fd, file, cellPosition(file, b, cell0, start), n * len, runs, 0, scratch);
    for (let c = 0; c < n; c++) out.set(runs.subarray(c * len, (c + 1) * len), c * file.hours + start);
  }
}

/** Cells whose runs are read before they are transposed (readHoursOfCells): a block's output rows stay in cache. */
const GATHER_CELLS = 256;

/**
 * Hours [first, first + count) of `cells` (flat indices, any order) in one band of a cell file,
 * time-major: value (cells[i], first + t) at out[t * cells.length + i], the layout of a resident
 * cube's frames (a slab of hours, or the series of a few cells). A block of cells at a time:
 * one positioned read per cell and chunk of the file into the block, then the block is
 * transposed into out. Hours must lie inside the file. fd from openSync(file.path); onBlock
 * hears how many cells each block read (progress).
 */
export function readHoursOfCells(fd: number, file: CellFile, band: CellBand, cells: ArrayLike<number>, first: number, count: number, out: Float32Array, onBlock?: (cells: number) => void): void {
  const b = file.bands.indexOf(band);
  if (b < 0) throw new Error(`${file.path} has no ${band} band`);
  if (!(first >= 0 && first + count <= file.hours)) throw new Error(`hours [${first}, ${first + count}) are not inside ${file.path}'s ${file.hours}`);
  const m = cells.length;
  if (out.length < m * count) throw new Error(`output holds ${out.length} values, expected ${m} cells x ${count} hours`);
  const block = new Float32Array(Math.min(GATHER_CELLS, Math.max(1, m)) * count);
  const scratch = {};
  for (let i0 = 0; i0 < m; i0 += GATHER_CELLS) {
    const i1 = Math.min(m, i0 + GATHER_CELLS);
    for (let i = i0; i < i1; i++) {
      const at = (i - i0) * count;
      for (let h = first; h < first + count; ) {
        const end = Math.min(first + count, chunkEnd(file, h));
        readCellValues(fd, file, cellPosition(file, b, cells[i]!, h), end - h, block, at + h - first, scratch);
        h = end;
      }
    }
    for (let t = 0; t < count; t++) {
      const row = t * m;
      for (let i = i0; i < i1; i++) out[row + i] = block[(i - i0) * count + t]!;
    }
    onBlock?.(i1 - i0);
  }
}
