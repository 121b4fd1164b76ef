/**
 * Gridded input (NetCDF, Zarr) over the memory budget, on disk: the dataset is read a slab of
 * hours at a time (openGriddedSlabs: the frame reads readGridded makes, cut to the slab), each
 * slab's bands made as griddedCube makes them (the speed as sqrt(u^2 + v^2) in float32, or the
 * speed variable itself; u/v; the other height's u/v) and appended to a cell file
 * (writeChunkedCellFile), so the time-major cube is never whole in memory and every value is
 * the in-memory one. The cell file is keyed on the dataset's fingerprint (fingerprintGridded)
 * and the bands, kept in `.windcast-cache` beside the data (the first file's folder; a Zarr
 * store's parent) like the GeoTIFF one, reused while current, written atomically.
 * griddedCellCube gives the on-disk CellCube's fields (cell-cube.ts owns the type; importing it
 * here would make the two modules a cycle).
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { IngestConfig } from '../core/config.js';
import { DataError, describeError } from '../core/errors.js';
import { cellCount } from '../core/grid.js';
import type { Progress } from '../core/progress.js';
import { isoMinute } from '../core/time.js';
import { cellFilePath, openCellFile, streamChunkHours, writeChunkedCellFile, type CellBand, type CellFile } from './cell-file.js';
import { griddedBands, griddedCubeBytes } from './cube.js';
import { CUBE_CACHE_DIR, cacheKey } from './cube-cache.js';
import { fingerprintGridded, openGriddedSlabs, speedFromUv, type GriddedDataset } from './gridded.js';

/** The cache folder of a gridded dataset: `.windcast-cache` in its first file's (or store's) folder. */
export function griddedCacheDir(dataset: GriddedDataset): string {
  return join(dirname(dataset.files[0]!.path), CUBE_CACHE_DIR);
}

/** The cell file's key: the dataset's fingerprint and the bands it holds (which variable each is). */
export function griddedCellKey(dataset: GriddedDataset): string {
  const plan = ['speed', ...dataset.speed.from, ...griddedBands(dataset).map((b) => `${b.band}=${b.variable}`)].join(',');
  return cacheKey(fingerprintGridded(dataset), `gridded:${plan}`);
}

/** The cube's bands, speed first, in the cell file's order. */
function layersOf(dataset: GriddedDataset): CellBand[] {
  return ['speed', ...griddedBands(dataset).map((b) => b.band)];
}

/**
 * A consecutive, wind-only gridded dataset as a cell cube on disk: its current cell file, or
 * one streamed now (`slabBytes` bounds the slab in flight; `encoding` as ingest.cacheEncoding).
 */
export async function griddedCellCube(dataset: GriddedDataset, ingest: Pick<IngestConfig, 'cacheEncoding'>, options: { slabBytes: number; progress: Progress }) {
  const dir = griddedCacheDir(dataset);
  const key = griddedCellKey(dataset);
  const path = cellFilePath(dir, key);
  const layers = layersOf(dataset);
  const times = Float64Array.from(dataset.hours);
  const fp = fingerprintGridded(dataset);
  const cube = (disk: CellFile, hit: boolean) => ({
    grid: dataset.grid,
    times,
    heightM: dataset.speed.height,
    otherHeightM: dataset.other?.height ?? null,
    source: { input: dataset.input, files: dataset.files.map((f) => f.path), fingerprint: fp, variables: [...dataset.selected].sort(), cache: { path, hit, encoding: disk.encoding } },
    layers,
    disk,
  });
  const existing = openCellFile(path, key);
  if (existing && existing.values === ingest.cacheEncoding) return cube(existing, true);
  requireWritable(dir, dataset);
  const gib = (griddedCubeBytes(dataset) / 2 ** 30).toFixed(2);
  options.progress.log(`data: reading the cube (${gib} GiB) a slab of hours at a time into a cell-major cube on disk (${path}, ${ingest.cacheEncoding}), where windows are read`);
  return cube(await streamGridded(dataset, { path, key, layers, encoding: ingest.cacheEncoding, ...options }), false);
}

/** The cache folder must be writable: a read-only data folder is said plainly, with what to do. */
function requireWritable(dir: string, dataset: GriddedDataset): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (err) {
    throw new DataError(dataset.input, `the cube is over the memory budget and is read from a cell file on disk, but ${dir} cannot be written (${describeError(err)}): copy or link the files into a folder you can write, or raise --memory-budget if the cube fits in memory`);
  }
}

async function streamGridded(dataset: GriddedDataset, o: { path: string; key: string; layers: CellBand[]; encoding: IngestConfig['cacheEncoding']; slabBytes: number; progress: Progress }): Promise<CellFile> {
  const cells = cellCount(dataset.grid);
  const hours = dataset.hours.length;
  const chunkHours = streamChunkHours(cells, hours, o.layers.length, o.slabBytes);
  const bands = griddedBands(dataset);
  const speed = dataset.speed;
  // Variables read per slab: the bands' own, and the speed's source when it is a variable.
  const names = [...new Set([...speed.from, ...bands.map((b) => b.variable)])];
  const reader = openGriddedSlabs(dataset, names);
  // The file holding an hour, for a message about the hours from it on.
  const fileOfHour = (h: number) => {
    const t = dataset.hours[h]!;
    const f = dataset.files.find((x) => t >= x.start && t <= x.end) ?? dataset.files[0]!;
    return `${f.path} (${isoMinute(t)})`;
  };
  try {
    return await writeChunkedCellFile({ path: o.path, key: o.key, cells, hours, bands: o.layers, chunkHours, encoding: o.encoding, fileOfHour }, async (slab, _buffers, onSlab) => {
      // Speed derived from u/v fills u/v's slabs first; a speed variable gets a slab of its own.
      const fields = new Map<string, Float32Array>();
      for (const b of bands) fields.set(b.variable, slab[b.band]);
      if (!speed.derived) fields.set(speed.from[0]!, slab.speed);
      const task = o.progress.start({ unit: 'hours', total: hours, label: `reading ${basename(dataset.input)} to the cell-major cube on disk` });
      for (let h0 = 0; h0 < hours; h0 += chunkHours) {
        const n = Math.min(chunkHours, hours - h0);
        await reader.read(h0, n, fields);
        // As readGridded computes it, so the values are the in-memory cube's.
        if (speed.derived) speedFromUv(fields.get(speed.from[0]!)!, fields.get(speed.from[1]!)!, slab.speed, n * cells);
        onSlab(h0, n);
        task.tick(n);
      }
      task.done();
    });
  } finally {
    reader.close();
  }
}
