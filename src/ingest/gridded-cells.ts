/**
 * Gridded input (NetCDF, Zarr) as the cell-major cube training reads, built a slab of hours at
 * a time: openGriddedSlabs reads the slab (the frame loop readGridded uses), each slab's bands
 * are made as griddedCube makes them (the speed as sqrt(u^2 + v^2) in float32, or the speed
 * variable itself; u/v; the other height's u/v), and the slab goes either
 * - into memory (griddedResidentCells, a cube within the memory budget): scattered into
 *   cell-major bands allocated once, so training holds the cube once plus a slab, never the
 *   time-major fields beside their cell-major copy; or
 * - onto disk (griddedCellCube, over the budget): appended to a cell file
 *   (writeChunkedCellFile), keyed on the dataset's fingerprint (fingerprintGridded) and the
 *   bands, kept in `.windcast-cache` beside the data (the first file's folder; a Zarr store's
 *   parent) like the GeoTIFF one, reused while current, written atomically.
 * Either way every value is the one readGridded gives. Both return a CellCube's fields
 * (cell-cube.ts owns the type; importing it here would make the two modules a cycle).
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { IngestConfig } from '../core/config.js';
import { formatBytes } from '../core/bytes.js';
import { DataError, describeError } from '../core/errors.js';
import { cellCount } from '../core/grid.js';
import type { Progress } from '../core/progress.js';
import { isoMinute } from '../core/time.js';
import { cellFilePath, openCellFile, scatterHours, sharedFloats, streamChunkHours, writeChunkedCellFile, type CellBand, type CellFile } from './cell-file.js';
import { griddedBands, griddedCubeBytes, griddedSource } from './cube.js';
import { CUBE_CACHE_DIR, cacheKey } from './cube-cache.js';
import { fingerprintGridded, openGriddedSlabs, speedFromUv, type GriddedDataset } from './gridded.js';
import { framesPerBlock } from './gridded/frames.js';

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

/** The CellCube fields both builds share: grid, hours, heights, source record and bands. */
function cellCubeFacts(dataset: GriddedDataset) {
  return {
    grid: dataset.grid,
    times: Float64Array.from(dataset.hours),
    heightM: dataset.speed.height,
    otherHeightM: dataset.other?.height ?? null,
    source: griddedSource(dataset),
    layers: layersOf(dataset),
  };
}

/**
 * A consecutive, wind-only gridded dataset as a cell cube on disk: its current cell file, or
 * one streamed now (`slabBytes` bounds the slab in flight; `encoding` as ingest.cacheEncoding).
 */
export async function griddedCellCube(dataset: GriddedDataset, ingest: Pick<IngestConfig, 'cacheEncoding'>, options: { slabBytes: number; progress: Progress }) {
  const dir = griddedCacheDir(dataset);
  const key = griddedCellKey(dataset);
  const path = cellFilePath(dir, key);
  const facts = cellCubeFacts(dataset);
  const { layers } = facts;
  const cube = (disk: CellFile, hit: boolean) => ({ ...facts, source: { ...facts.source, cache: { path, hit, encoding: disk.encoding } }, disk });
  const existing = openCellFile(path, key);
  if (existing && existing.values === ingest.cacheEncoding) return cube(existing, true);
  requireWritable(dir, dataset);
  options.progress.log(`data: reading the cube (${formatBytes(griddedCubeBytes(dataset))}) a slab of hours at a time into a cell-major cube on disk (${path}, ${ingest.cacheEncoding}), where windows are read`);
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
  // The file holding an hour, for a message about the hours from it on.
  const fileOfHour = (h: number) => {
    const t = dataset.hours[h]!;
    const f = dataset.files.find((x) => t >= x.start && t <= x.end) ?? dataset.files[0]!;
    return `${f.path} (${isoMinute(t)})`;
  };
  return writeChunkedCellFile({ path: o.path, key: o.key, cells, hours, bands: o.layers, chunkHours, encoding: o.encoding, fileOfHour }, (slab, _buffers, onSlab) =>
    readBandSlabs(dataset, { slab, slabHours: chunkHours, progress: o.progress, label: `reading ${basename(dataset.input)} to the cell-major cube on disk` }, onSlab),
  );
}

/**
 * The one slab loop of both cell-major builds (on disk: streamGridded; in memory:
 * griddedResidentCells): hours [0, hours) a slab of `slabHours` at a time into `slab` (one
 * time-major slabHours x cells array per band of layersOf), each band made as griddedCube makes
 * it, then onSlab(first hour, hours) in hour order.
 */
async function readBandSlabs(dataset: GriddedDataset, o: { slab: Record<CellBand, Float32Array>; slabHours: number; progress: Progress; label: string }, onSlab: (hour0: number, count: number) => void): Promise<void> {
  const cells = cellCount(dataset.grid);
  const hours = dataset.hours.length;
  const bands = griddedBands(dataset);
  const speed = dataset.speed;
  // Variables read per slab: the bands' own, and the speed's source when it is a variable.
  const names = [...new Set([...speed.from, ...bands.map((b) => b.variable)])];
  // Speed derived from u/v fills u/v's slabs first; a speed variable gets a slab of its own.
  const fields = new Map<string, Float32Array>();
  for (const b of bands) fields.set(b.variable, o.slab[b.band]);
  if (!speed.derived) fields.set(speed.from[0]!, o.slab.speed);
  const reader = openGriddedSlabs(dataset, names);
  try {
    const task = o.progress.start({ unit: 'hours', total: hours, label: o.label });
    for (let h0 = 0; h0 < hours; h0 += o.slabHours) {
      const n = Math.min(o.slabHours, hours - h0);
      await reader.read(h0, n, fields);
      // As readGridded computes it, so the values are the time-major cube's.
      if (speed.derived) speedFromUv(fields.get(speed.from[0]!)!, fields.get(speed.from[1]!)!, o.slab.speed, n * cells);
      onSlab(h0, n);
      task.tick(n);
    }
    task.done();
  } finally {
    reader.close();
  }
}

/**
 * Most memory the time-major slabs of an in-memory build take (every band): a few percent of a
 * month's global cube, enough hours per slab (12-21 global hours) that the reads stay large.
 */
const RESIDENT_SLAB_BYTES = 256 * 2 ** 20;

/**
 * A consecutive, wind-only gridded dataset that fits the memory budget as the cell-major cube
 * training holds (cell-cube.ts's CellCube with `bands`): each band allocated cell-major once and
 * filled a slab of hours at a time (readBandSlabs, then scatterHours), so the time-major fields
 * and the cell-major copy are never held together: the peak is the cube plus one slab of every
 * band, where readGridded then cellCubeFromCube held twice the cube. Every value is the one
 * readGridded gives. The slab's hours are a multiple of readFrames' block when they can be, so
 * a file is read in the same blocks as by one whole read (a compressed chunk is not unpacked
 * more often). `slabBytes` (tests) bounds the slabs.
 */
export async function griddedResidentCells(dataset: GriddedDataset, progress: Progress, options: { slabBytes?: number } = {}) {
  const cells = cellCount(dataset.grid);
  const hours = dataset.hours.length;
  const layers = layersOf(dataset);
  let slabHours = Math.max(1, Math.min(hours, Math.floor((options.slabBytes ?? RESIDENT_SLAB_BYTES) / (cells * 4 * layers.length))));
  const block = framesPerBlock(cells);
  if (slabHours > block && slabHours < hours) slabHours -= slabHours % block;
  const bands = Object.fromEntries(layers.map((b) => [b, sharedFloats(cells * hours, dataset.input)])) as { speed: Float32Array } & Partial<Record<CellBand, Float32Array>>;
  const slab = Object.fromEntries(layers.map((b) => [b, new Float32Array(slabHours * cells)])) as Record<CellBand, Float32Array>;
  await readBandSlabs(dataset, { slab, slabHours, progress, label: `reading ${basename(dataset.input)} into the cell-major cube` }, (hour0, count) => {
    for (const b of layers) scatterHours(slab[b], count, cells, bands[b]!, hours, hour0);
  });
  return { ...cellCubeFacts(dataset), bands };
}
