/**
 * The cube as training reads it: cell-major ([cell][hour]: one cell's hours adjacent, so a
 * window's 24 hours x 25 stencil points are about 2 cache misses per point instead of one per
 * value), held once. Training used to hold the time-major cube and a cell-major copy of it
 * (2.3 x the cube at peak); it now never holds the time-major one.
 *
 * openCellCube reads --data the way loadDataCube does, but from a current cube cache it
 * transposes slab by slab (a few frames at a time, positioned reads of the cache file), so the
 * peak is the cell-major cube plus one slab. A first read decodes the time-major cube and
 * writes the cache as before, then lets the decoded cube go and reads the cache back the same
 * way (an int16 cache's rounding is then the same on the first run as on later ones). Gridded
 * input (NetCDF, Zarr) has no cube cache: it is read a slab of hours at a time straight into
 * the cell-major bands (gridded-cells.ts), so its peak is the cube plus a slab too. GeoTIFFs
 * with `ingest.cache` off have no cache either: they are decoded a slab of hours at a time
 * straight into the cell-major bands (decodedResidentCells), the cube plus a slab as well.
 *
 * The memory budget (runtime.memoryBudget, --memory-budget; default what the machine has
 * available) decides what stays resident. A cube that does not fit stays on disk as a cell
 * file, `cells-<key>.bin` in the cache folder (ingest/cell-file.ts), read a window at a time with
 * positioned reads (prepare/window-reader.ts): a window's cell and stencil points are each one
 * or two short contiguous reads there, where the time-major cache would take one read per hour.
 * With a current cube cache the cell file is a copy of it; with none, the hours are decoded a
 * slab at a time straight into the cell file (streamCellFile), so the time-major cube is never
 * in memory nor on disk: one copy, which is how a year of global hours fits this machine. Either
 * way it is written through core/atomic.ts (a kill leaves it complete or absent). Gridded input
 * (NetCDF, Zarr) over the budget is read a slab of hours at a time into a cell file of its own
 * in the same kind of cache folder (gridded-cells.ts). With `ingest.cache` off nothing is
 * written beside the data, and a cube over the budget is refused before it is read.
 */
import { freemem, totalmem } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { IngestConfig } from '../core/config.js';
import { formatBytes, parseBytes } from '../core/bytes.js';
import { DataError } from '../core/errors.js';
import { cellCount, type GridSpec } from '../core/grid.js';
import type { Progress } from '../core/progress.js';
import { ALL_WIND, bandPlan, planKey, type BandPlan, type CubeBand } from './band-plan.js';
import { buildCatalog, type Catalog } from './catalog.js';
import { decodeInSlabs, type DecodeOutputs } from './decode-pool.js';
import { buildCube, griddedCubeBytes, griddedOptions, inputKind, requireWindOnly, requireWithinBudget, windChoice, type Cube, type WindChoice } from './cube.js';
import { openGridded, requireConsecutiveHours } from './gridded.js';
import { griddedCellCube, griddedResidentCells } from './gridded-cells.js';
import { cacheKey, cachePathFor, defaultCacheDir, fingerprint, openCubeCache, type CubeCacheFile } from './cube-cache.js';
import { cellFilePath, openCellFile, scatterHours, sharedFloats, streamCellFile, writeCellFile, type CellBand, type CellFile } from './cell-file.js';
import { readRasterHeader, type RasterHeader } from './raster.js';

export type { CellBand, CellFile } from './cell-file.js';
export { readCellRange, scatterHours } from './cell-file.js';

/** Values of a cube laid out cell-major: value(cell, t) = band[cell * hours + t], in shared memory. */
export interface CellBands {
  speed: Float32Array;
  u?: Float32Array;
  v?: Float32Array;
  uOther?: Float32Array;
  vOther?: Float32Array;
}

/** A cube held cell-major (see the module header); the same facts as a Cube, other values layout. */
export interface CellCube {
  grid: GridSpec;
  times: Float64Array;
  heightM?: number | null;
  /** Height (m) of the second height's u/v, when the cube has them (uOther, vOther). */
  otherHeightM: number | null;
  source: Cube['source'];
  /** The bands the cube has, whether resident or on disk. */
  layers: CellBand[];
  /** In memory (the cube fits the budget), or absent: then `disk` holds the values. */
  bands?: CellBands;
  disk?: CellFile;
}

/** Whether a cube (either layout) has u/v at its speed's height. */
export function cubeHasUV(cube: Cube | CellCube): boolean {
  return 'layers' in cube ? cube.layers.includes('u') && cube.layers.includes('v') : Boolean(cube.u && cube.v);
}

/** The height of a cube's second u/v pair, or null. */
export function cubeOtherHeight(cube: Cube | CellCube): number | null {
  return 'layers' in cube ? cube.otherHeightM : cube.other?.heightM ?? null;
}

/** Bytes of a cube's values (either layout): hours x cells x 4 x bands. */
export function cubeValueBytes(cube: Cube | CellCube): number {
  const bands = 1 + (cubeHasUV(cube) ? 2 : 0) + (cubeOtherHeight(cube) !== null ? 2 : 0);
  return cellCount(cube.grid) * cube.times.length * 4 * bands;
}

/** Bytes of time-major values read per slab from the cache file. */
const SLAB_BYTES = 64 * 1024 * 1024;

/** One band re-laid cell-major, in shared memory (the batch thread reads it without a copy). */
export function cellMajor(band: Float32Array, cells: number, hours: number): Float32Array {
  const out = sharedFloats(cells * hours, 'cube');
  scatterHours(band, hours, cells, out, hours, 0);
  return out;
}

const BANDS: readonly CellBand[] = ['speed', 'u', 'v', 'uOther', 'vOther'];
/**
 * Most memory a streamed cube's slab in flight takes (cell-file.ts: the slab of every band plus
 * one band's chunk): 2 GiB is 258 global hours of speed, few enough reads per window.
 */
const STREAM_SLAB_BYTES = 2 * 2 ** 30;

/** A cube in memory re-laid cell-major (the cube itself is left as it is; drop it to free it). */
export function cellCubeFromCube(cube: Cube): CellCube {
  const cells = cellCount(cube.grid);
  const hours = cube.times.length;
  const from: Partial<Record<keyof CellBands, Float32Array>> = { speed: cube.speed, u: cube.u, v: cube.v, uOther: cube.other?.u, vOther: cube.other?.v };
  const bands: Partial<CellBands> = {};
  for (const b of BANDS) if (from[b]) bands[b] = cellMajor(from[b]!, cells, hours);
  return { grid: cube.grid, times: cube.times, heightM: cube.heightM ?? null, otherHeightM: cube.other?.heightM ?? null, source: cube.source, layers: BANDS.filter((b) => from[b]), bands: bands as CellBands };
}

/** Hours a decoded slab holds before it is scattered into the cell-major bands (decodedResidentCells). */
const DECODE_SLAB_BYTES = 256 * 1024 * 1024;

/**
 * GeoTIFFs with `ingest.cache` off: decoded a slab of hours at a time (decode-pool.ts
 * decodeInSlabs, the streamed cell file's reader) and scattered straight into the cell-major
 * bands, so the time-major cube is never whole in memory: the peak is the cube plus one slab
 * (it was twice the cube while a decoded time-major cube was transposed). The same values as
 * decoding the cube whole and re-laying it (test/cell-cube.test.ts).
 */
async function decodedResidentCells(catalog: Catalog, reference: RasterHeader, plan: BandPlan, layers: CellBand[], o: { workers: number; slabBytes: number; progress: Progress }): Promise<CellCube> {
  const { workers, progress } = o;
  const files = catalog.entries.map((e) => e.path);
  const cells = cellCount(reference.grid);
  const hours = files.length;
  const slabHours = Math.max(1, Math.min(hours, Math.floor(o.slabBytes / (cells * 4 * layers.length))));
  const slab: Partial<Record<CellBand, SharedArrayBuffer>> = {};
  const bands: Partial<CellBands> = {};
  for (const b of layers) {
    slab[b] = new SharedArrayBuffer(slabHours * cells * 4);
    bands[b] = sharedFloats(cells * hours, catalog.input);
  }
  await decodeInSlabs({
    files,
    reference,
    slots: plan.slots,
    outputs: slab as DecodeOutputs,
    slabHours,
    workers,
    progress,
    label: 'decoding to the cell-major cube',
    onSlab: (hour0, count) => {
      for (const b of layers) scatterHours(new Float32Array(slab[b]!, 0, count * cells), count, cells, bands[b]!, hours, hour0);
    },
  });
  return {
    grid: reference.grid,
    times: Float64Array.from(catalog.entries, (e) => e.time),
    heightM: plan.heightM,
    otherHeightM: layers.includes('uOther') ? plan.otherHeightM : null,
    source: { input: catalog.input, files, fingerprint: fingerprint(catalog), variables: plan.variables },
    layers,
    bands: bands as CellBands,
  };
}

/** The cube of an open cache file, transposed slab by slab (see the module header). */
export function cellCubeFromCache(file: CubeCacheFile, meta: Pick<CellCube, 'heightM' | 'otherHeightM' | 'source'>, progress: Progress): CellCube {
  const layers = cacheLayers(file);
  const cells = cellCount(file.grid);
  const hours = file.times.length;
  const slabHours = Math.max(1, Math.min(hours, Math.floor(SLAB_BYTES / (cells * 4))));
  const slab = new Float32Array(slabHours * cells);
  const task = progress.start({ unit: 'hours', total: hours * layers.length, label: 'cell-major cube' });
  const bands: Partial<CellBands> = {};
  for (const b of layers) {
    const out = sharedFloats(cells * hours, file.path);
    for (let h = 0; h < hours; h += slabHours) {
      const n = Math.min(slabHours, hours - h);
      file.readHours(b, h, n, slab);
      scatterHours(slab, n, cells, out, hours, h);
      task.tick(n, b);
    }
    bands[b] = out;
  }
  task.done();
  return { grid: file.grid, times: file.times, ...meta, layers, bands: bands as CellBands };
}

function cacheLayers(file: Pick<CubeCacheFile, 'bands'>): CellBand[] {
  return BANDS.filter((b) => (file.bands as readonly string[]).includes(b));
}

/**
 * What the machine has for a cube: the kernel's MemAvailable (free memory plus the page cache it
 * can drop; os.freemem() on Linux), or the total when that cannot be read.
 */
export function availableMemory(): number {
  try {
    const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return Math.max(freemem(), totalmem() / 2);
}

/** The budget in bytes: the configured one, or what the machine has (null). */
export function memoryBudget(configured: string | null): number {
  return configured === null ? availableMemory() : parseBytes(configured);
}


/** Why a cube over the budget is refused with ingest.cache off, and what to do. */
export const CACHE_OFF_HINT = 'with ingest.cache off nothing is written beside the data, so the cube is read whole: turn ingest.cache on (a cube over the budget is then read from a cell file on disk), or give it fewer hours or a smaller area';


/**
 * --data as a cell-major cube (training). `wind` overrides the config's choice (resume reads
 * what the checkpoint was trained on). `budget` in bytes (memoryBudget).
 */
export async function openCellCube(input: string, ingest: IngestConfig, progress: Progress, options: { wind?: WindChoice; budget: number }): Promise<CellCube> {
  const wind = options.wind ?? windChoice(ingest);
  if (inputKind(input, ingest.glob) === 'gridded') {
    const dataset = await openGridded(input, griddedOptions(wind));
    requireConsecutiveHours(dataset);
    requireWindOnly(dataset);
    const bytes = griddedCubeBytes(dataset);
    // Built cell-major a slab at a time (gridded-cells.ts), cache or not: gridded input has no cube cache.
    if (bytes <= options.budget) return griddedResidentCells(dataset, progress);
    // Nothing is written beside the data: over the budget, refused before reading.
    if (!ingest.cache) requireWithinBudget(dataset.input, bytes, { bytes: options.budget, hint: CACHE_OFF_HINT });
    progress.log(`data: the cube (${formatBytes(bytes)}) is over the memory budget (${formatBytes(options.budget)}): windows are read from disk`);
    return griddedCellCube(dataset, ingest, { slabBytes: Math.min(STREAM_SLAB_BYTES, options.budget / 2), progress });
  }
  const catalog = await buildCatalog(input, { glob: ingest.glob, timePattern: ingest.timePattern });
  // buildCube's refusal, before a header is read.
  if (catalog.entries.length === 0) throw new DataError(catalog.input, 'no files');
  const reference = await readRasterHeader(catalog.entries[0]!.path);
  const plan = bandPlan(reference, wind ?? ALL_WIND);
  // The cube's bands: the speed, and every band the plan reads.
  const layers = BANDS.filter((b) => b === 'speed' || plan.slots.includes(b));
  const bytes = cellCount(reference.grid) * catalog.entries.length * 4 * layers.length;
  if (!ingest.cache) {
    // Nothing is written beside the data: over the budget, refused before reading.
    requireWithinBudget(catalog.input, bytes, { bytes: options.budget, hint: CACHE_OFF_HINT });
    // A slab is at most an eighth of the budget, so a budget barely over the cube still holds it.
    return decodedResidentCells(catalog, reference, plan, layers, { workers: ingest.workers, slabBytes: Math.min(DECODE_SLAB_BYTES, options.budget / 8), progress });
  }
  const fp = fingerprint(catalog);
  const key = cacheKey(fp, planKey(plan));
  const dir = defaultCacheDir(catalog);
  const candidates = ingest.cacheEncoding === 'int16' ? [cachePathFor(dir, key, 'int16'), cachePathFor(dir, key, 'float32')] : [cachePathFor(dir, key, 'float32')];
  for (const path of candidates) {
    const file = openCubeCache(path, key);
    if (!file) continue;
    try {
      const source = { input: catalog.input, files: catalog.entries.map((e) => e.path), fingerprint: fp, variables: plan.variables, cache: { path, hit: true, encoding: file.encoding } };
      const meta = { heightM: plan.heightM, otherHeightM: file.bands.includes('uOther') ? plan.otherHeightM : null, source };
      return cellCubeOfCacheFile(file, meta, { cellPath: cellFilePath(dir, key), key, budget: options.budget, progress });
    } finally {
      file.close();
    }
  }
  // No time-major cache. Over the budget, the cell file is the one on-disk form: reused when
  // current, else streamed from the decoded hours without ever holding the cube.
  if (bytes > options.budget) {
    const path = cellFilePath(dir, key);
    const times = Float64Array.from(catalog.entries, (e) => e.time);
    const files = catalog.entries.map((e) => e.path);
    const cube = (disk: CellFile, hit: boolean): CellCube => ({
      grid: reference.grid,
      times,
      heightM: plan.heightM,
      otherHeightM: layers.includes('uOther') ? plan.otherHeightM : null,
      source: { input: catalog.input, files, fingerprint: fp, variables: plan.variables, cache: { path, hit, encoding: disk.encoding } },
      layers,
      disk,
    });
    // Reused only when it holds the values asked for (an int16 cube's rounding, or float32 exact).
    const existing = openCellFile(path, key);
    if (existing && existing.values === ingest.cacheEncoding) return cube(existing, true);
    progress.log(`data: the cube (${formatBytes(bytes)}) is over the memory budget (${formatBytes(options.budget)}): decoding it a slab at a time into a cell-major cube on disk (${path}, ${ingest.cacheEncoding}), where windows are read`);
    const disk = await streamCellFile({ path, key, files, reference, slots: plan.slots, bands: layers, slabBytes: Math.min(STREAM_SLAB_BYTES, options.budget / 2), encoding: ingest.cacheEncoding, workers: ingest.workers, progress });
    return cube(disk, false);
  }
  const built = await buildCube(catalog, { cacheEncoding: ingest.cacheEncoding, cache: ingest.cache, workers: ingest.workers, wind }, progress);
  const cached = built.source.cache;
  const collect = garbageCollector();
  if (cached && collect) {
    // A first read: the cache is written; let the time-major cube go and read it back slab by
    // slab (page cache), so the peak stays one cube instead of two.
    const meta = { heightM: built.heightM ?? null, otherHeightM: built.other?.heightM ?? null, source: built.source };
    const cacheFile = cached.path;
    (built as Partial<Cube>).speed = undefined;
    delete built.u;
    delete built.v;
    delete built.other;
    collect();
    const file = openCubeCache(cacheFile, key);
    if (file) {
      try {
        return cellCubeOfCacheFile(file, meta, { cellPath: cellFilePath(dirname(cacheFile), key), key, budget: options.budget, progress });
      } finally {
        file.close();
      }
    }
    throw new DataError(cacheFile, 'the cube cache just written cannot be read back');
  }
  const cube = built;
  requireWithinBudget(input, cubeValueBytes(cube), { bytes: options.budget, hint: '' });
  return cellCubeFromCube(cube);
}

/**
 * The cell-major cube of an open cube cache: transposed into memory within the budget, else its
 * cell file (cellPath, written from the cache when missing or stale), where windows are read.
 */
function cellCubeOfCacheFile(file: CubeCacheFile, meta: Pick<CellCube, 'heightM' | 'otherHeightM' | 'source'>, o: { cellPath: string; key: string; budget: number; progress: Progress }): CellCube {
  const layers = cacheLayers(file);
  const bytes = cellCount(file.grid) * file.times.length * 4 * layers.length;
  if (bytes <= o.budget) return cellCubeFromCache(file, meta, o.progress);
  o.progress.log(`data: the cube (${formatBytes(bytes)}) is over the memory budget (${formatBytes(o.budget)}): windows are read from disk`);
  return { grid: file.grid, times: file.times, ...meta, layers, disk: ensureCellFile(o.cellPath, o.key, file, layers, o.progress) };
}

/**
 * V8's full garbage collection, to free a cube of gigabytes at a known point rather than
 * whenever V8 next feels memory pressure (SharedArrayBuffers are external memory, and a second
 * cube-sized allocation may come first). Null when the flag cannot be set.
 */
function garbageCollector(): (() => void) | null {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? () => (gc as () => void)() : null;
  } catch {
    return null;
  }
}

/** The current cell file of a cube cache, written from it when missing or stale. */
function ensureCellFile(path: string, key: string, file: CubeCacheFile, layers: CellBand[], progress: Progress): CellFile {
  const existing = openCellFile(path, key);
  if (existing && existing.values === file.encoding) return existing;
  const cells = cellCount(file.grid);
  return writeCellFile(path, key, { cells, hours: file.times.length, bands: layers, values: file.encoding, read: (b, index, n, out) => file.readValues(b, index, n, out) }, progress);
}
