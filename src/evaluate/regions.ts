/**
 * Where on the globe an error counts, and how much: latitude area weights, latitude bands
 * and the deterministic cell sample that evaluation scores.
 *
 * Weights follow WeatherBench 2 (`get_lat_weights`): a row's weight is the area of its
 * latitude strip, sin(upper edge) - sin(lower edge), divided by the mean over rows so that
 * a weighted mean with uniform errors equals the plain mean. Row edges sit at the midpoints
 * between row centres; the outer edges sit half a row beyond the first and last centre and
 * are clipped at +-90 degrees. On the global ERA5 grid (centres at exactly +-90) that clips
 * the pole rows to a quarter-cell-high cap, exactly as WeatherBench 2 does; on a regional
 * grid the outer rows get a full-height strip. PixelIsPoint and PixelIsArea are treated
 * alike because GridSpec.lat0 is always the centre (the sample point) of row 0.
 */
import type { GridSpec } from '../core/grid.js';
import { rowLat } from '../core/grid.js';

const DEG = Math.PI / 180;

/** Latitude of the northern and southern edge of row r, degrees, clipped to +-90. */
export function rowEdges(grid: GridSpec, row: number): { north: number; south: number } {
  const lat = rowLat(grid, row);
  const half = grid.dLat / 2;
  return { north: Math.min(90, lat + half), south: Math.max(-90, lat - half) };
}

/**
 * Area weight of every row (north to south), normalised to mean 1 over rows.
 * With a regular grid the midpoint between neighbouring centres is the centre +- dLat/2,
 * so the per-row edges above are exactly the WeatherBench 2 midpoints.
 */
export function latitudeWeights(grid: GridSpec): Float64Array {
  const weights = new Float64Array(grid.height);
  let sum = 0;
  for (let r = 0; r < grid.height; r++) {
    const { north, south } = rowEdges(grid, r);
    // A row whose centre lies beyond a pole (a malformed grid) has zero area, not negative.
    const w = Math.max(0, Math.sin(north * DEG) - Math.sin(south * DEG));
    weights[r] = w;
    sum += w;
  }
  if (!(sum > 0)) throw new Error(`grid rows cover no area (lat0 ${grid.lat0}, dLat ${grid.dLat}, ${grid.height} rows)`);
  const mean = sum / grid.height;
  for (let r = 0; r < grid.height; r++) weights[r] = weights[r]! / mean;
  return weights;
}

export interface LatitudeBand {
  /** Key used in report.json. */
  name: 'tropics' | 'midlatitudes' | 'polar';
  label: string;
  /** Band holds cells with minAbsLat <= |lat| < maxAbsLat (degrees; polar includes 90). */
  minAbsLat: number;
  maxAbsLat: number;
}

/**
 * Bands by the absolute latitude of the cell centre. Edges are the tropics of Cancer and
 * Capricorn and the polar circles, rounded to 23.5 and 66.5 degrees.
 */
export const LATITUDE_BANDS: readonly LatitudeBand[] = [
  { name: 'tropics', label: 'tropics (|lat| < 23.5)', minAbsLat: 0, maxAbsLat: 23.5 },
  { name: 'midlatitudes', label: 'mid-latitudes (23.5 <= |lat| < 66.5)', minAbsLat: 23.5, maxAbsLat: 66.5 },
  { name: 'polar', label: 'polar (|lat| >= 66.5)', minAbsLat: 66.5, maxAbsLat: Infinity },
];

/** Index into LATITUDE_BANDS of a latitude in degrees. */
export function bandIndex(lat: number): number {
  const a = Math.abs(lat);
  for (let i = 0; i < LATITUDE_BANDS.length; i++) {
    const band = LATITUDE_BANDS[i]!;
    if (a >= band.minAbsLat && a < band.maxAbsLat) return i;
  }
  return LATITUDE_BANDS.length - 1;
}

export interface CellSample {
  /** Flat cell indices row * width + col, in row-major order. */
  cells: Int32Array;
  /** Rows of each sampled cell. */
  rows: Int32Array;
  /** Area weight of each sampled cell (its row's weight from latitudeWeights). */
  weights: Float64Array;
  /** LATITUDE_BANDS index of each sampled cell. */
  bands: Uint8Array;
  /** Every cellStride-th row and column, starting at row 0 and column 0. */
  cellStride: number;
  sampledRows: number;
  sampledCols: number;
}

/**
 * Every cellStride-th row and column, starting with row 0 and column 0: a deterministic
 * sample spread evenly in latitude and longitude. The area weights (not the sample) make
 * scores area-representative; 1 means every cell. Default 4 on the 1440x721 grid: 181 x 360
 * = 65,160 cells.
 */
export function sampleCells(grid: GridSpec, cellStride: number): CellSample {
  if (!Number.isInteger(cellStride) || cellStride < 1) throw new Error(`cellStride must be a positive integer, got ${cellStride}`);
  const rowWeights = latitudeWeights(grid);
  const sampledRows = Math.ceil(grid.height / cellStride);
  const sampledCols = Math.ceil(grid.width / cellStride);
  const n = sampledRows * sampledCols;
  const cells = new Int32Array(n);
  const rows = new Int32Array(n);
  const weights = new Float64Array(n);
  const bands = new Uint8Array(n);
  let i = 0;
  for (let r = 0; r < grid.height; r += cellStride) {
    const band = bandIndex(rowLat(grid, r));
    for (let c = 0; c < grid.width; c += cellStride) {
      cells[i] = r * grid.width + c;
      rows[i] = r;
      weights[i] = rowWeights[r]!;
      bands[i] = band;
      i++;
    }
  }
  return { cells, rows, weights, bands, cellStride, sampledRows, sampledCols };
}
