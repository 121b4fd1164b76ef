/**
 * The time cube: every hourly grid of a dataset stacked as time x lat x lon, the one in-memory
 * form of the data from here down the pipeline (prepare, train, forecast, evaluate). It holds
 * the wind speed at one height (the target), that height's u and v when the input has them, and
 * the u and v of one other height when there are two (ERA5's 10 m and 100 m).
 *
 * loadDataCube is the one entry point from a user's --data: hourly GeoTIFFs (a folder or glob,
 * through the catalog) or gridded files (NetCDF, a glob or folder of them, a Zarr store,
 * through gridded.ts), with the same checks: consecutive hours, or a DataError naming every
 * gap, duplicate or overlap.
 *
 * buildCube reads a consecutive GeoTIFF catalog: from its cache when that is current
 * (cube-cache.ts), else decoded on decoder threads (decode-pool.ts) straight into one
 * SharedArrayBuffer per band (no per-file copies beyond one decoded frame per thread), so peak
 * memory stays near the cube's own size; the decoded cube is then cached beside the data.
 * Gridded input has no time-major cache: it is read as fast as a cache would be (the 27-year
 * Arabian Sea glob in under a second; NetCDF stores whole variables, not one file per hour).
 * Over the memory budget, training and evaluate read it from a cell file instead
 * (gridded-cells.ts).
 */
import { statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { buildCatalog, isGlob, listFiles, type Catalog } from './catalog.js';
import type { IngestConfig } from '../core/config.js';
import { formatBytes } from '../core/bytes.js';
import { DataError, describeError } from '../core/errors.js';
import { cellCount, type GridSpec } from '../core/grid.js';
import type { Progress } from '../core/progress.js';
import { ALL_WIND, bandPlan, planKey, type BandPlan, type CubeBand, type WindChoice } from './band-plan.js';
import { readRasterHeader } from './raster.js';
import { cacheKey, cachePathFor, defaultCacheDir, fingerprint, loadCubeCache, writeCubeCache, type CacheEncoding, type CubeBands } from './cube-cache.js';
import { decodeFiles, throwFirstRefusal } from './decode-pool.js';
import { fingerprintGridded, isGriddedInput, openGridded, readGridded, requireConsecutiveHours, type GriddedDataset, type GriddedOptions } from './gridded.js';
import { detectFormat } from './gridded/store.js';

export type { WindChoice } from './band-plan.js';

export interface Cube {
  grid: GridSpec;
  /** Epoch milliseconds (UTC) of each hour; consecutive, HOUR_MS apart. */
  times: Float64Array;
  /** Wind speed in m/s, index (t * height + row) * width + col, north-up; NaN where nodata. */
  speed: Float32Array;
  /** Metres above ground of speed, u and v; absent or null when the input does not say (unnamed GeoTIFF bands). */
  heightM?: number | null;
  /** Eastward and northward components at heightM (m/s, same layout) when the input has them. */
  u?: Float32Array;
  v?: Float32Array;
  /** The u and v of a second height (same layout), when the input has wind at two heights. */
  other?: { heightM: number; u: Float32Array; v: Float32Array };
  /** Where the cube came from: the files in time order and a fingerprint of their identity. */
  source: {
    /** The folder, glob, file or store given (absent for cubes made in memory). */
    input?: string;
    files: string[];
    fingerprint: string;
    /** ERA5 names of the variables read (u100, v100, u10, v10); empty when the input names none. */
    variables?: string[];
    cache?: { path: string; hit: boolean; encoding: CacheEncoding };
  };
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

/** The wind a cube holds, for logs and inspect: "wind at 100 m (u/v), with u/v at 10 m". */
export function describeCubeWind(cube: Pick<Cube, 'heightM' | 'u' | 'v' | 'other'> | { heightM: number | null; uv: boolean; otherHeightM: number | null }): string {
  const at = cube.heightM == null ? '' : ` at ${cube.heightM} m`;
  const uv = 'uv' in cube ? cube.uv : Boolean(cube.u && cube.v);
  const other = 'uv' in cube ? cube.otherHeightM : cube.other?.heightM ?? null;
  return `speed${at}${uv ? ' with u/v' : ''}${other !== null ? `, u/v at ${other} m` : ''}`;
}

/** Name of the input a cube came from, for messages. */
export function cubeInput(cube: Cube): string | undefined {
  return cube.source.input ?? cube.source.files[0];
}

export interface BuildCubeOptions {
  /** Cache encoding on disk (memory is always Float32). */
  cacheEncoding: CacheEncoding;
  /** Read and write the disk cache. */
  cache: boolean;
  /** Decoder threads; 0 = one per core. */
  workers: number;
  /** Override the cache folder (default: DIR/.windcast-cache beside the data). */
  cacheDir?: string;
  /** Which height is the target, which bands to read (default: all the wind, target 100 m when present). */
  wind?: WindChoice;
  /** Refuse a cube over this memory budget before reading it (absent: no limit). */
  budget?: MemoryLimit;
}

/** A memory budget in bytes, and what to tell the user when the cube is over it. */
export interface MemoryLimit {
  bytes: number;
  /** Why this reader cannot do with less, and what to do instead. */
  hint: string;
}

/**
 * The one memory-budget check of a cube held in memory: refused before a file is read, since a
 * cube allocated anyway over what the machine has is killed for memory part way through.
 */
export function requireWithinBudget(input: string, bytes: number, limit: MemoryLimit | undefined): void {
  if (limit === undefined || bytes <= limit.bytes) return;
  throw new DataError(input, `the cube needs ${formatBytes(bytes)} in memory, more than the memory budget of ${formatBytes(limit.bytes)} (--memory-budget, runtime.memoryBudget; default: what the machine has available)${limit.hint ? `; ${limit.hint}` : ''}`);
}

/**
 * Bytes the in-memory cube needs for files of bandCount bands: hours x cells x 4 bytes x
 * (speed; + u, v; + the other height's u, v).
 */
export function cubeBytes(grid: GridSpec, hours: number, bandCount: 1 | 2 | 4): number {
  return cellCount(grid) * hours * 4 * (bandCount === 1 ? 1 : bandCount + 1);
}

function assemble(bands: CubeBands['bands'], plan: Pick<BandPlan, 'heightM' | 'otherHeightM'>): Pick<Cube, 'speed' | 'u' | 'v' | 'other' | 'heightM'> {
  return {
    speed: bands.speed,
    heightM: plan.heightM,
    ...(bands.u && bands.v ? { u: bands.u, v: bands.v } : {}),
    ...(bands.uOther && bands.vOther && plan.otherHeightM !== null ? { other: { heightM: plan.otherHeightM, u: bands.uOther, v: bands.vOther } } : {}),
  };
}

/**
 * The cube of a consecutive catalog: from the cache when it is current, else decoded on
 * worker threads (and cached). Throws the first refused file's DataError.
 */
export async function buildCube(catalog: Catalog, options: BuildCubeOptions, progress: Progress): Promise<Cube> {
  if (catalog.entries.length === 0) throw new DataError(catalog.input, 'no files');
  const files = catalog.entries.map((e) => e.path);
  const reference = await readRasterHeader(files[0]!);
  const plan = bandPlan(reference, options.wind ?? ALL_WIND);
  const fields = cubeFields(plan);
  requireWithinBudget(catalog.input, cellCount(reference.grid) * catalog.entries.length * 4 * fields, options.budget);
  const fp = fingerprint(catalog);
  const key = cacheKey(fp, planKey(plan));
  const source = { input: catalog.input, files, fingerprint: fp, variables: plan.variables };
  const cacheDir = options.cacheDir ?? defaultCacheDir(catalog);
  const cachePath = cachePathFor(cacheDir, key, options.cacheEncoding);
  if (options.cache) {
    // An int16 request may have fallen back to float32; a float32 request never reads int16.
    const candidates = options.cacheEncoding === 'int16' ? [cachePath, cachePathFor(cacheDir, key, 'float32')] : [cachePath];
    for (const candidate of candidates) {
      const cached = await loadCubeCache(candidate, key, progress);
      if (cached) return { grid: cached.grid, times: cached.times, ...assemble(cached.bands, plan), source: { ...source, cache: { path: candidate, hit: true, encoding: cached.encoding } } };
    }
  }

  const hours = files.length;
  const bytes = cellCount(reference.grid) * hours * 4;
  const alloc = () => {
    try {
      return new SharedArrayBuffer(bytes);
    } catch (err) {
      // Training streams such a cube to disk (cell-cube.ts); what reads the time-major cube cannot yet.
      throw new DataError(catalog.input, `the cube needs ${formatBytes(cubeBytes(reference.grid, hours, reference.bandCount))} of memory, more than this process can allocate (${describeError(err)}); train reads a cube this large from disk, but this command holds it in memory: give it fewer hours (a glob of a shorter period)`);
    }
  };
  const outputs: { speed: SharedArrayBuffer } & Partial<Record<CubeBand, SharedArrayBuffer>> = { speed: alloc() };
  for (const slot of plan.slots) if (slot && slot !== 'speed') outputs[slot] = alloc();
  const results = await decodeFiles({ files, reference, slots: plan.slots, outputs, workers: options.workers, progress, label: 'decoding' });
  throwFirstRefusal(results);

  const bands: CubeBands['bands'] = { speed: new Float32Array(outputs.speed) };
  for (const [slot, buffer] of Object.entries(outputs) as [CubeBand, SharedArrayBuffer][]) bands[slot] = new Float32Array(buffer);
  const times = Float64Array.from(catalog.entries, (e) => e.time);
  const cube: Cube = { grid: reference.grid, times, ...assemble(bands, plan), source };
  if (options.cache) {
    try {
      const enc = writeCubeCache(cachePath, { grid: cube.grid, times, bands }, key, catalog, options.cacheEncoding, progress);
      cube.source.cache = { path: enc === options.cacheEncoding ? cachePath : cachePathFor(cacheDir, key, enc), hit: false, encoding: enc };
    } catch (err) {
      // A read-only data folder must not stop training: say so and go on without a cache.
      progress.log(`cannot write the cube cache in ${cacheDir} (${describeError(err)}); continuing without it`);
    }
  }
  return cube;
}

/** What openGridded needs from a wind choice. */
export function griddedOptions(wind: WindChoice, period: Pick<GriddedOptions, 'from' | 'to'> = {}): GriddedOptions {
  return {
    ...(wind.variables ? { variables: [...wind.variables] } : {}),
    ...(wind.targetHeight !== 'auto' ? { height: wind.targetHeight } : {}),
    ...period,
  };
}

/** Refuse selected variables that are not wind: the features are wind only. */
export function requireWindOnly(dataset: GriddedDataset): void {
  for (const name of dataset.selected) {
    const v = dataset.variables.find((x) => x.name === name)!;
    if (!v.wind) throw new DataError(dataset.input, `${v.name} (${v.longName || 'no long_name'}) is not wind: windcast reads u/v at 10 m and 100 m (u10, v10, u100, v100) or a wind speed (si10)`);
  }
}

/**
 * Which variable each band of a gridded dataset's cube is (griddedCube): the speed's source,
 * u/v at its height when the speed is derived from them, the other height's u/v.
 */
export function griddedBands(dataset: GriddedDataset): { band: CubeBand; variable: string }[] {
  const out: { band: CubeBand; variable: string }[] = [];
  if (dataset.speed.derived) out.push({ band: 'u', variable: dataset.speed.from[0]! }, { band: 'v', variable: dataset.speed.from[1]! });
  if (dataset.other) out.push({ band: 'uOther', variable: dataset.other.from[0] }, { band: 'vOther', variable: dataset.other.from[1] });
  return out;
}

/** Bytes of the time-major cube of a gridded dataset (griddedCube): hours x cells x 4 x bands. */
export function griddedCubeBytes(dataset: GriddedDataset): number {
  return cellCount(dataset.grid) * dataset.hours.length * 4 * (1 + griddedBands(dataset).length);
}

/** What a cube built from a gridded dataset records of its source (in memory or on disk, the same checkpoint record). */
export function griddedSource(dataset: GriddedDataset): { input: string; files: string[]; fingerprint: string; variables: string[] } {
  return { input: dataset.input, files: dataset.files.map((f) => f.path), fingerprint: fingerprintGridded(dataset), variables: [...dataset.selected].sort() };
}

/**
 * The cube of an opened gridded dataset (hours as they are: callers check they are
 * consecutive). Variables that are not wind are refused: the features are wind only.
 */
export async function griddedCube(dataset: GriddedDataset, progress: Progress): Promise<Cube> {
  requireWindOnly(dataset);
  const data = await readGridded(dataset, { progress });
  const speed = dataset.speed;
  const field = (name: string) => data.fields.get(name)!;
  return {
    grid: data.grid,
    times: data.times,
    speed: data.speed,
    heightM: speed.height,
    ...(speed.derived ? { u: field(speed.from[0]!), v: field(speed.from[1]!) } : {}),
    ...(dataset.other ? { other: { heightM: dataset.other.height, u: field(dataset.other.from[0]), v: field(dataset.other.from[1]) } } : {}),
    source: griddedSource(dataset),
  };
}

/**
 * Whether --data is gridded (NetCDF, Zarr) or hourly GeoTIFFs. A folder (or glob) holding both
 * is refused rather than guessed: the README's GDAL loop writes GeoTIFFs beside the NetCDF they
 * come from, and reading the other kind than meant would go unnoticed.
 */
export function inputKind(input: string, glob: string): 'gridded' | 'geotiff' {
  if (!isGriddedInput(input)) return 'geotiff';
  let folder = isGlob(input);
  try {
    folder ||= statSync(input).isDirectory() && detectFormat(input) === null;
  } catch {
    // openGridded says what is wrong with the path
  }
  if (!folder) return 'gridded';
  let tiffs = 0;
  try {
    tiffs = listFiles(input, glob).files.filter((f) => /\.tiff?$/i.test(f)).length;
  } catch {
    // no GeoTIFFs match
  }
  if (tiffs > 0) {
    const dir = isGlob(input) ? dirname(input) : input;
    throw new DataError(resolve(input), `holds both NetCDF files and GeoTIFFs (${tiffs}); say which to read with a glob, e.g. "${dir}/*.nc" or "${dir}/*.tif"`);
  }
  return 'gridded';
}

/** Bands of the cube a plan fills: speed, plus every band the plan reads (speed is derived from u/v when the files hold no speed band). */
function cubeFields(plan: Pick<BandPlan, 'slots'>): number {
  return plan.slots.filter((x) => x !== null && x !== 'speed').length + 1;
}

/**
 * Bytes of the time-major cube loadDataCube would hold (hourly GeoTIFFs: from the catalog and
 * the first file's header; gridded input: from its variables, grid and hours), before any value
 * is read; null when there are no GeoTIFFs (then loadDataCube says what is wrong).
 */
export async function dataCubeBytes(input: string, ingest: IngestConfig, wind: WindChoice = windChoice(ingest)): Promise<number | null> {
  if (inputKind(input, ingest.glob) === 'gridded') return griddedCubeBytes(await openGridded(input, griddedOptions(wind)));
  const catalog = await buildCatalog(input, { glob: ingest.glob, timePattern: ingest.timePattern });
  if (catalog.entries.length === 0) return null;
  const reference = await readRasterHeader(catalog.entries[0]!.path);
  return cellCount(reference.grid) * catalog.entries.length * 4 * cubeFields(bandPlan(reference, wind ?? ALL_WIND));
}

/**
 * --data as a cube, the way train, evaluate and inspect read it: hourly GeoTIFFs through the
 * catalog (consecutive hours required) and the disk cache, or gridded files through gridded.ts
 * (consecutive, complete and unambiguous hours required). `wind` overrides the config's choice
 * (evaluate and resume read what the checkpoint was trained on).
 */
export async function loadDataCube(input: string, ingest: IngestConfig, progress: Progress, wind: WindChoice = windChoice(ingest), budget?: MemoryLimit): Promise<Cube> {
  if (inputKind(input, ingest.glob) === 'gridded') {
    const dataset = await openGridded(input, griddedOptions(wind));
    requireConsecutiveHours(dataset);
    requireWithinBudget(dataset.input, griddedCubeBytes(dataset), budget);
    return griddedCube(dataset, progress);
  }
  const catalog = await buildCatalog(input, { glob: ingest.glob, timePattern: ingest.timePattern });
  return buildCube(catalog, { cacheEncoding: ingest.cacheEncoding, cache: ingest.cache, workers: ingest.workers, wind, ...(budget !== undefined ? { budget } : {}) }, progress);
}

/** The config's wind choice (ingest.targetHeight, ingest.variables). */
export function windChoice(ingest: Pick<IngestConfig, 'targetHeight' | 'variables'>): WindChoice {
  return { targetHeight: ingest.targetHeight, variables: ingest.variables };
}
