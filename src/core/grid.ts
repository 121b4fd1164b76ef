/**
 * GridSpec: the one description of a regular lat/lon grid.
 *
 * Derived from a file's GeoTIFF tags (never from its shape alone). In memory every grid is
 * north-up: row 0 is the northernmost row, column 0 the westernmost. What the file said about
 * raster type, longitude convention and orientation is kept so outputs can reproduce it.
 */
import { z } from 'zod';

/** The grid's schema: checkpoints store a GridSpec and are validated against this on load. */
export const GridSpecSchema = z.object({
  /** Columns (longitudes). */
  width: z.number().int().positive(),
  /** Rows (latitudes). */
  height: z.number().int().positive(),
  /** Longitude of the centre of column 0, degrees east. */
  lon0: z.number(),
  /** Latitude of the centre of row 0 (the northernmost row), degrees north. */
  lat0: z.number(),
  /** Cell width in degrees, > 0. */
  dLon: z.number().positive(),
  /** Cell height in degrees, > 0 (rows go south). */
  dLat: z.number().positive(),
  /** The file's GTRasterTypeGeoKey: PixelIsPoint (true) or PixelIsArea (false). */
  pixelIsPoint: z.boolean(),
  /** The file stored row 0 as the southernmost row; data here is flipped to north-up. */
  sourceSouthUp: z.boolean(),
  /** Always 4326 for now: windcast reads geographic WGS 84 grids only. */
  epsg: z.literal(4326),
});

export type GridSpec = z.infer<typeof GridSpecSchema>;

const EPS = 1e-6;

/** Latitude of row r's centre. */
export function rowLat(grid: GridSpec, row: number): number {
  return grid.lat0 - row * grid.dLat;
}

/** Longitude of column c's centre. */
export function colLon(grid: GridSpec, col: number): number {
  return grid.lon0 + col * grid.dLon;
}

/** True when the columns cover the full circle, so column width-1 neighbours column 0. */
export function wrapsLongitude(grid: GridSpec): boolean {
  return Math.abs(grid.width * grid.dLon - 360) < grid.dLon * 1e-3;
}

/** Number of cells in one hourly frame. */
export function cellCount(grid: GridSpec): number {
  return grid.width * grid.height;
}

/** The list of differences between two grids, empty when they are the same grid. */
export function gridDifferences(a: GridSpec, b: GridSpec): string[] {
  const diffs: string[] = [];
  if (a.width !== b.width || a.height !== b.height) {
    diffs.push(`size ${a.width}x${a.height} vs ${b.width}x${b.height}`);
  }
  if (Math.abs(a.lon0 - b.lon0) > EPS || Math.abs(a.lat0 - b.lat0) > EPS) {
    diffs.push(`first cell centre (${a.lon0}, ${a.lat0}) vs (${b.lon0}, ${b.lat0})`);
  }
  if (Math.abs(a.dLon - b.dLon) > EPS || Math.abs(a.dLat - b.dLat) > EPS) {
    diffs.push(`cell size ${a.dLon}x${a.dLat} vs ${b.dLon}x${b.dLat}`);
  }
  if (a.pixelIsPoint !== b.pixelIsPoint) {
    diffs.push(`raster type ${a.pixelIsPoint ? 'PixelIsPoint' : 'PixelIsArea'} vs ${b.pixelIsPoint ? 'PixelIsPoint' : 'PixelIsArea'}`);
  }
  if (a.sourceSouthUp !== b.sourceSouthUp) {
    diffs.push(`orientation ${a.sourceSouthUp ? 'south-up' : 'north-up'} vs ${b.sourceSouthUp ? 'south-up' : 'north-up'}`);
  }
  return diffs;
}

/** Global 0.25 degree ERA5 layout: 1440 x 721, first row 90N, first column 0E (or 180W). */
export function era5Grid(options: { step?: number; lon180?: boolean } = {}): GridSpec {
  const step = options.step ?? 0.25;
  const width = Math.round(360 / step);
  const height = Math.round(180 / step) + 1;
  return {
    width,
    height,
    lon0: options.lon180 ? -180 : 0,
    lat0: 90,
    dLon: step,
    dLat: step,
    pixelIsPoint: false,
    sourceSouthUp: false,
    epsg: 4326,
  };
}

/** A human-readable one-liner, e.g. "1440x721 at 0.25 deg, lon 0..359.75, lat 90..-90". */
export function describeGrid(grid: GridSpec): string {
  const lonEnd = colLon(grid, grid.width - 1);
  const latEnd = rowLat(grid, grid.height - 1);
  return `${grid.width}x${grid.height} at ${grid.dLon}x${grid.dLat} deg, lon ${grid.lon0}..${round6(lonEnd)}, lat ${grid.lat0}..${round6(latEnd)} (cell centres), ${grid.pixelIsPoint ? 'PixelIsPoint' : 'PixelIsArea'}`;
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
