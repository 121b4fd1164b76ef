/**
 * The time cube: every hourly grid of a dataset stacked as time x lat x lon, the one in-memory
 * form of the data from here down the pipeline (prepare, train, forecast, evaluate).
 *
 * buildCube reads a consecutive catalog: from its cache when that is current (cube-cache.ts),
 * else decoded on decoder threads (decode-pool.ts) straight into one SharedArrayBuffer per band
 * (no per-file copies beyond one decoded frame per thread), so peak memory stays near the
 * cube's own size; the decoded cube is then cached beside the data.
 */
import { buildCatalog, type Catalog } from './catalog.js';
import type { IngestConfig } from '../core/config.js';
import { DataError, describeError } from '../core/errors.js';
import { cellCount, type GridSpec } from '../core/grid.js';
import type { Progress } from '../core/progress.js';
import { readRasterHeader } from './raster.js';
import { cachePathFor, defaultCacheDir, fingerprint, loadCubeCache, writeCubeCache, type CacheEncoding } from './cube-cache.js';
import { decodeFiles, throwFirstRefusal } from './decode-pool.js';

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
      const cached = await loadCubeCache(candidate, fp, progress);
      if (cached) {
        const { fingerprint: _fp, encoding, ...bands } = cached;
        return { ...bands, source: { files, fingerprint: fp, cache: { path: candidate, hit: true, encoding } } };
      }
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
  throwFirstRefusal(results);

  const cube: Cube = {
    grid: reference.grid,
    times: Float64Array.from(catalog.entries, (e) => e.time),
    speed: new Float32Array(outputs.speed),
    ...(outputs.u && outputs.v ? { u: new Float32Array(outputs.u), v: new Float32Array(outputs.v) } : {}),
    source: { files, fingerprint: fp },
  };
  if (options.cache) {
    try {
      const enc = writeCubeCache(cachePath, cube, fp, catalog, options.cacheEncoding, progress);
      cube.source.cache = { path: enc === options.cacheEncoding ? cachePath : cachePathFor(cacheDir, fp, enc), hit: false, encoding: enc };
    } catch (err) {
      // A read-only data folder must not stop training: say so and go on without a cache.
      progress.log(`cannot write the cube cache in ${cacheDir} (${describeError(err)}); continuing without it`);
    }
  }
  return cube;
}

/**
 * A data folder (or glob) as a cube, the way train and evaluate read it: the catalog with the
 * configured pattern (consecutive hours required), then buildCube through the disk cache.
 */
export async function loadDataCube(dir: string, ingest: IngestConfig, progress: Progress): Promise<Cube> {
  const catalog = await buildCatalog(dir, { glob: ingest.glob, timePattern: ingest.timePattern });
  return buildCube(catalog, { cacheEncoding: ingest.cacheEncoding, cache: ingest.cache, workers: ingest.workers }, progress);
}
