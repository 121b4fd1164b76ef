/**
 * A digest of a cube's values, for knowing the same data again when its files' stamps changed.
 *
 * The data fingerprint (cube-cache.ts `fingerprint`, gridded.ts `fingerprintGridded`) is the
 * files' names, sizes and modification times: cheap, and right for the cube cache, which must
 * never serve values of a file that may have changed. But a copy that does not keep mtimes
 * (`cp` without -p, a download again, a re-provisioned share) changes it too, and evaluate then
 * refused a checkpoint trained on exactly these values. A checkpoint therefore also records this
 * digest, and a fingerprint that differs is accepted when the digest is the same.
 *
 * What it covers: the grid, the hours, and every band's values (speed, u, v at both heights) of
 * DIGEST_CELLS cells spread evenly over the grid, all hours of each. A sample and not every
 * value: a global month read whole would take seconds more on every train and evaluate, and the
 * sample reads 1,024 cell series (from memory, or with positioned reads from an on-disk cube).
 * Values enter as round(v / INT16_STEP), the int16 encodings' own rounding, so a cube read
 * through an int16 cache and the same data read in float32 have one digest.
 */
import { createHash } from 'node:crypto';
import { closeSync } from 'node:fs';
import { cellCount } from '../core/grid.js';
import type { CellBand, CellCube } from './cell-cube.js';
import { readCellRange } from './cell-file.js';
import { INT16_STEP, openForReading } from './cube-cache.js';
import type { Cube } from './cube.js';

/** Cells whose whole series the digest reads (all of a smaller grid). */
export const DIGEST_CELLS = 1024;
const DIGEST_VERSION = 'windcast-values-v1';
const BANDS: readonly CellBand[] = ['speed', 'u', 'v', 'uOther', 'vOther'];

const memo = new WeakMap<object, string>();

/** The sampled cells: DIGEST_CELLS of them, evenly spread in cell order (all when fewer). */
export function digestCells(cells: number): Int32Array {
  const n = Math.min(cells, DIGEST_CELLS);
  return Int32Array.from({ length: n }, (_, k) => Math.floor((k * cells) / n));
}

/** A reader of one band's series of one cell, hours long, into out. */
type SeriesReader = (band: CellBand, cell: number, out: Float32Array) => void;

/** The digest (hex) of a cube's values; computed once per cube object. */
export function cubeContentDigest(cube: Cube | CellCube): string {
  const known = memo.get(cube);
  if (known !== undefined) return known;
  const digest = 'layers' in cube ? cellCubeDigest(cube) : timeMajorDigest(cube);
  memo.set(cube, digest);
  return digest;
}

function timeMajorDigest(cube: Cube): string {
  const cells = cellCount(cube.grid);
  const bands: Partial<Record<CellBand, Float32Array>> = {
    speed: cube.speed,
    ...(cube.u ? { u: cube.u } : {}),
    ...(cube.v ? { v: cube.v } : {}),
    ...(cube.other ? { uOther: cube.other.u, vOther: cube.other.v } : {}),
  };
  const read: SeriesReader = (band, cell, out) => {
    const values = bands[band]!;
    for (let t = 0; t < out.length; t++) out[t] = values[t * cells + cell]!;
  };
  return digestOf(cube, BANDS.filter((b) => bands[b]), read);
}

function cellCubeDigest(cube: CellCube): string {
  const hours = cube.times.length;
  if (cube.bands) {
    const bands = cube.bands;
    const read: SeriesReader = (band, cell, out) => out.set(bands[band]!.subarray(cell * hours, (cell + 1) * hours));
    return digestOf(cube, BANDS.filter((b) => bands[b]), read);
  }
  const file = cube.disk!;
  const fd = openForReading(file.path);
  if (fd === null) throw new Error(`${file.path}: the cube's cell file cannot be opened`);
  try {
    return digestOf(cube, BANDS.filter((b) => file.bands.includes(b)), (band, cell, out) => readCellRange(fd, file, band, cell, 1, out));
  } finally {
    closeSync(fd);
  }
}

function digestOf(cube: Cube | CellCube, bands: readonly CellBand[], read: SeriesReader): string {
  const g = cube.grid;
  const hours = cube.times.length;
  const h = createHash('sha256');
  h.update(`${DIGEST_VERSION}\n${g.width}x${g.height} ${g.lon0} ${g.lat0} ${g.dLon} ${g.dLat}\n`);
  h.update(`${hours} ${cube.times[0]} ${cube.times[hours - 1]}\n${bands.join(',')}\n`);
  const series = new Float32Array(hours);
  const quantised = new Int32Array(hours);
  const inverse = 1 / INT16_STEP;
  for (const band of bands) {
    for (const cell of digestCells(cellCount(g))) {
      read(band, cell, series);
      // NaN (nodata) as the one value no rounding of a wind speed gives.
      for (let t = 0; t < hours; t++) quantised[t] = series[t] !== series[t] ? -0x80000000 : Math.round(series[t]! * inverse);
      h.update(new Uint8Array(quantised.buffer));
    }
  }
  return h.digest('hex').slice(0, 20);
}
