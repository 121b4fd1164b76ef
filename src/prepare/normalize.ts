/**
 * Normalisation statistics, computed from the training period only (never validation or test
 * hours, which would leak their climate into the model) and stored with the checkpoint.
 *
 * 'cell' mode keeps a mean and standard deviation of speed per grid cell: small real datasets
 * then need not learn each cell's climate, and one network serves calm and stormy cells alike.
 * 'global' mode uses one mean and deviation everywhere (the arrays then hold that value).
 */
import type { Cube } from '../ingest/cube.js';
import { closeSync, openSync } from 'node:fs';
import { readCellRange, type CellCube, type CellFile } from '../ingest/cell-cube.js';
import { DataError } from '../core/errors.js';
import { silentProgress, type Progress } from '../core/progress.js';
import type { Period } from './split.js';
import { rowAreaWeight } from './windows.js';

export type NormalizationMode = 'cell' | 'global';

export interface NormStats {
  mode: NormalizationMode;
  /** Per cell mean speed over the training hours, m/s (all equal in 'global' mode). */
  mean: Float32Array;
  /** Per cell standard deviation, m/s, floored (see minStd) so calm cells do not blow up. */
  std: Float32Array;
  /** Area-weighted mean speed and deviation over all training hours and cells, m/s. */
  globalMean: number;
  globalStd: number;
  /** Area-weighted mean of std^2: divides the loss weights so they average about 1. */
  meanVariance: number;
}

/** A cell's deviation is at least this fraction of the global one (or 0.05 m/s). */
const MIN_STD_FRACTION = 0.2;

/** Per-cell sums over hours [t0, t1) of values laid out value(cell, t) = speed[cell * cellStride + t * hourStride]. */
function accumulate(speed: Float32Array, cells: number, cellStride: number, hourStride: number, t0: number, t1: number, sum: Float64Array, sumSq: Float64Array, count: Uint32Array): void {
  // Either loop order adds each cell's hours in time order, so the sums are the same bits.
  if (hourStride === 1) {
    for (let i = 0; i < cells; i++) {
      const base = i * cellStride;
      let s = 0;
      let q = 0;
      let n = 0;
      for (let t = t0; t < t1; t++) {
        const v = speed[base + t]!;
        if (v === v) {
          s += v;
          q += v * v;
          n++;
        }
      }
      sum[i] = s;
      sumSq[i] = q;
      count[i] = n;
    }
    return;
  }
  for (let t = t0; t < t1; t++) {
    const base = t * hourStride;
    for (let i = 0; i < cells; i++) {
      const v = speed[base + i * cellStride]!;
      if (v === v) {
        sum[i]! += v;
        sumSq[i]! += v * v;
        count[i]! += 1;
      }
    }
  }
}

/** accumulate over a cell file (a cube that stays on disk), a block of cells at a time. */
function accumulateFromDisk(file: CellFile, period: Period, sum: Float64Array, sumSq: Float64Array, count: Uint32Array, progress: Progress): void {
  const block = Math.max(1, Math.floor((64 * 1024 * 1024) / (file.hours * 4)));
  const values = new Float32Array(block * file.hours);
  const fd = openSync(file.path, 'r');
  // The whole file is read (a year of global hours: minutes): say how far it is.
  const task = progress.start({ unit: 'cells', total: file.cells, label: 'normalisation statistics from disk' });
  try {
    for (let c0 = 0; c0 < file.cells; c0 += block) {
      const n = Math.min(block, file.cells - c0);
      readCellRange(fd, file, 'speed', c0, n, values);
      accumulate(values, n, file.hours, 1, period.startHour, period.endHour, sum.subarray(c0), sumSq.subarray(c0), count.subarray(c0));
      task.tick(n);
    }
    task.done();
  } finally {
    closeSync(fd);
  }
}

/** Mean and deviation of speed over the hours of `period`, per cell and globally (a cube in either layout, in memory or on disk). */
export function computeStats(cube: Cube | CellCube, period: Period, mode: NormalizationMode, progress: Progress = silentProgress): NormStats {
  const { width, height } = cube.grid;
  const cells = width * height;
  const sum = new Float64Array(cells);
  const sumSq = new Float64Array(cells);
  const count = new Uint32Array(cells);
  if (!('layers' in cube)) accumulate(cube.speed, cells, 1, cells, period.startHour, period.endHour, sum, sumSq, count);
  else if (cube.bands) accumulate(cube.bands.speed, cells, cube.times.length, 1, period.startHour, period.endHour, sum, sumSq, count);
  else accumulateFromDisk(cube.disk!, period, sum, sumSq, count, progress);
  let wSum = 0;
  let gSum = 0;
  let gSq = 0;
  for (let r = 0; r < height; r++) {
    const w = rowAreaWeight(cube.grid, r);
    for (let c = 0; c < width; c++) {
      const i = r * width + c;
      if (count[i]! === 0) continue;
      wSum += w * count[i]!;
      gSum += w * sum[i]!;
      gSq += w * sumSq[i]!;
    }
  }
  if (wSum === 0) {
    // One file per hour (GeoTIFF): name the first training hour's; else the input (NetCDF, Zarr).
    const source = cube.source.files.length === cube.times.length ? cube.source.files[period.startHour] : cube.source.input ?? cube.source.files[0];
    throw new DataError(source, `no valid (non-NaN) speed values in the training hours ${period.startHour}..${period.endHour - 1}`);
  }
  const globalMean = gSum / wSum;
  const globalStd = Math.sqrt(Math.max(gSq / wSum - globalMean * globalMean, 0));
  const floor = Math.max(MIN_STD_FRACTION * globalStd, 0.05);
  const mean = new Float32Array(cells);
  const std = new Float32Array(cells);
  if (mode === 'global') {
    mean.fill(globalMean);
    std.fill(Math.max(globalStd, floor));
  } else {
    for (let i = 0; i < cells; i++) {
      const n = count[i]!;
      if (n === 0) {
        mean[i] = globalMean;
        std[i] = Math.max(globalStd, floor);
        continue;
      }
      const m = sum[i]! / n;
      mean[i] = m;
      std[i] = Math.max(Math.sqrt(Math.max(sumSq[i]! / n - m * m, 0)), floor);
    }
  }
  let vSum = 0;
  let vW = 0;
  for (let r = 0; r < height; r++) {
    const w = rowAreaWeight(cube.grid, r);
    for (let c = 0; c < width; c++) {
      const s = std[r * width + c]!;
      vSum += w * s * s;
      vW += w;
    }
  }
  return { mode, mean, std, globalMean, globalStd, meanVariance: vSum / vW };
}

/** Pack mean and std into one buffer (for the checkpoint's norm.bin). */
export function packStats(stats: NormStats): Buffer {
  const cells = stats.mean.length;
  const out = new Float32Array(cells * 2);
  out.set(stats.mean, 0);
  out.set(stats.std, cells);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/** Inverse of packStats; scalars come from meta.json. */
export function unpackStats(
  bytes: Uint8Array,
  scalars: { mode: NormalizationMode; globalMean: number; globalStd: number; meanVariance: number; cells: number },
): NormStats {
  if (bytes.byteLength !== scalars.cells * 8) {
    throw new Error(`normalisation file has ${bytes.byteLength} bytes, expected ${scalars.cells * 8} (2 x ${scalars.cells} float32)`);
  }
  const copy = new Float32Array(scalars.cells * 2);
  new Uint8Array(copy.buffer).set(bytes);
  return {
    mode: scalars.mode,
    mean: copy.subarray(0, scalars.cells),
    std: copy.subarray(scalars.cells),
    globalMean: scalars.globalMean,
    globalStd: scalars.globalStd,
    meanVariance: scalars.meanVariance,
  };
}
