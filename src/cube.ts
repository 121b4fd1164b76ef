/**
 * The time cube: every hourly grid of a dataset stacked as time x lat x lon.
 *
 * (Types only for now; the builder and its on-disk cache land with the ingest stage.)
 */
import type { GridSpec } from './grid.js';

export const HOUR_MS = 3_600_000;

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
  source: { files: string[]; fingerprint: string };
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
