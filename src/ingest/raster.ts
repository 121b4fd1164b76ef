/**
 * Raster: one hourly GeoTIFF -> north-up Float32 bands in m/s, plus the GridSpec its tags describe.
 *
 * Promises (GDAL is the referee): values are what `gdal_translate -unscale` gives (GDAL
 * scale/offset applied, nodata -> NaN), the grid is GDAL's geotransform expressed as cell
 * centres, and everything windcast cannot use is refused with one specific DataError naming
 * the file: not a TIFF, empty or truncated data, complex or exotic sample types, projected or
 * unknown CRSs, rotated transforms, GCP-only or missing georeferencing, 3+ bands.
 *
 * The steps, one module each: tiff-file.ts opens the file and its first image,
 * raster-header.ts reads the tags (georeference.ts the grid), sample-decode.ts decodes the
 * pixels, band-stats.ts summarises each band.
 */
import { bandStats, type BandStats } from './band-stats.js';
import { readHeader, type RasterHeader } from './raster-header.js';
import { decodeBands } from './sample-decode.js';
import { firstImage, readFileBytes } from './tiff-file.js';

// Part of this module's API: what readRasterHeader and decodeRasterInto return.
export type { BandStats } from './band-stats.js';
export type { BandWind, RasterHeader, SampleType } from './raster-header.js';

export interface Raster extends RasterHeader {
  /** One Float32Array per band, north-up, NaN where nodata, in physical units (m/s). */
  bands: Float32Array[];
}

/** Tags only (decodes no pixels): grid, type, bands, nodata, time. */
export async function readRasterHeader(path: string): Promise<RasterHeader> {
  const bytes = readFileBytes(path);
  const image = await firstImage(path, bytes);
  return readHeader(path, image, bytes.byteLength);
}

/** Where decoded bands go: band i of the file is written north-up into out[i]. */
export interface DecodeTarget {
  bands: Float32Array[];
}

/**
 * Decode a file into preallocated north-up Float32 bands (e.g. views of a shared cube), with
 * scale/offset applied and nodata as NaN. The target may be a function of the header.
 * Returns the header and per-band statistics (skipped with stats: false).
 */
export async function decodeRasterInto(path: string, target: DecodeTarget | ((h: RasterHeader) => DecodeTarget), options: { stats?: boolean } = {}): Promise<{ header: RasterHeader; stats: BandStats[] }> {
  const bytes = readFileBytes(path);
  const image = await firstImage(path, bytes);
  const header = await readHeader(path, image, bytes.byteLength);
  const out = typeof target === 'function' ? target(header) : target;
  const { width, height } = header.grid;
  const n = width * height;
  if (out.bands.length < header.bandCount || out.bands.some((b) => b.length !== n)) {
    throw new Error(`decodeRasterInto: target needs ${header.bandCount} band(s) of ${n} cells`);
  }
  await decodeBands(path, image, bytes, header, out.bands);
  const stats = options.stats === false ? [] : out.bands.slice(0, header.bandCount).map(bandStats);
  return { header, stats };
}

/** Read a whole file: header plus north-up Float32 bands. */
export async function readRaster(path: string): Promise<Raster> {
  let bands: Float32Array[] = [];
  const { header } = await decodeRasterInto(path, (h) => {
    bands = Array.from({ length: h.bandCount }, () => new Float32Array(h.grid.width * h.grid.height));
    return { bands };
  });
  return { ...header, bands };
}

/** Wind speed from a raster: band 1, or hypot(u, v) for 2-band files. */
export function rasterSpeed(r: Raster): Float32Array {
  if (r.bandCount === 1) return r.bands[0]!;
  const [u, v] = r.bands as [Float32Array, Float32Array];
  const out = new Float32Array(u.length);
  for (let i = 0; i < u.length; i++) out[i] = Math.hypot(u[i]!, v[i]!);
  return out;
}
