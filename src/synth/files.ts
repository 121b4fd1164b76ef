/**
 * What synth writes: the output grid (the ERA5 layout at a chosen step, or a bbox of it), the
 * file name of each hour, and the generator version recorded in every file's metadata.
 */
import { WindcastError } from '../core/errors.js';
import type { GridSpec } from '../core/grid.js';
import { isoHour } from '../core/time.js';

/** Bumped whenever the generator's output changes (recorded in every file's metadata). */
export const SYNTH_VERSION = '1';

/** The file name of one hour: the ISO hour in the name, which the catalog parses. */
export function synthFileName(ms: number, bands: 'speed' | 'uv'): string {
  return `${bands === 'uv' ? 'wind_uv' : 'windspeed'}_${isoHour(ms)}.tif`;
}

/** Names synth writes (any hour, either band kind), to tell our files from a user's. */
export const SYNTH_FILE_PATTERN = /^(windspeed|wind_uv)_\d{4}-\d{2}-\d{2}T\d{2}Z\.tif$/;

export interface OutputGridOptions {
  step: number;
  bbox: [number, number, number, number] | null;
  lon180: boolean;
}

/**
 * The ERA5-layout global grid at `step` (first row 90N, first column 0E or 180W), or the cells
 * of it whose centres fall inside bbox (W,S,E,N; W > E crosses the seam of the convention).
 */
export function synthGrid(options: OutputGridOptions): GridSpec {
  const { step, bbox, lon180 } = options;
  const fullWidth = 360 / step;
  const fullHeightM1 = 180 / step;
  if (!(step > 0) || Math.abs(fullWidth - Math.round(fullWidth)) > 1e-6 || Math.abs(fullHeightM1 - Math.round(fullHeightM1)) > 1e-6) {
    throw new WindcastError('usage', `--step must divide 180 degrees evenly (e.g. 0.25, 0.5, 1, 2.5, 5), got ${step}`);
  }
  const width = Math.round(fullWidth);
  const height = Math.round(fullHeightM1) + 1;
  const west = lon180 ? -180 : 0;
  const base: GridSpec = { width, height, lon0: west, lat0: 90, dLon: step, dLat: step, pixelIsPoint: false, sourceSouthUp: false, epsg: 4326 };
  if (!bbox) return base;
  const [w, s, e, n] = bbox;
  if (!(s < n) || s < -90 || n > 90) throw new WindcastError('usage', `--bbox needs -90 <= S < N <= 90, got ${bbox.join(',')}`);
  const eps = 1e-9;
  const r0 = Math.ceil((90 - n) / step - eps);
  const r1 = Math.floor((90 - s) / step + eps);
  const norm = (x: number) => ((((x - west) % 360) + 360) % 360) + west;
  const wN = norm(w);
  let eN = norm(e);
  if (eN <= wN) eN += 360;
  const c0 = Math.ceil((wN - west) / step - eps);
  const c1 = Math.min(Math.floor((eN - west) / step + eps), c0 + width - 1);
  if (r1 < r0 || c1 < c0) {
    throw new WindcastError('usage', `--bbox ${bbox.join(',')} holds no cell centre of the ${step} degree grid`);
  }
  // A 0..360 box across the prime meridian (e.g. -15..35) would run past 360 degrees east, which
  // GIS tools and our reader refuse: such a box is written with its western columns as negative
  // longitudes instead (the same cells and values, the generator being periodic in longitude).
  const lon0 = west + c0 * step;
  const pastSeam = !lon180 && lon0 + (c1 - c0) * step > 360 - eps;
  return { ...base, width: c1 - c0 + 1, height: r1 - r0 + 1, lon0: pastSeam ? lon0 - 360 : lon0, lat0: 90 - r0 * step };
}
