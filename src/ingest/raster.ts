/**
 * Raster: one hourly GeoTIFF -> north-up Float32 bands in m/s, plus the GridSpec its tags describe.
 *
 * Promises (GDAL is the referee): values are what `gdal_translate -unscale` gives (GDAL
 * scale/offset applied, nodata -> NaN), the grid is GDAL's geotransform expressed as cell
 * centres, and everything windcast cannot use is refused with one specific DataError naming
 * the file: not a TIFF, empty or truncated data, complex or exotic sample types, projected or
 * unknown CRSs, rotated transforms, GCP-only or missing georeferencing, 3+ bands.
 *
 * Decisions, with reasons:
 * - Negative ModelPixelScale Y: GDAL (by default) treats the file as north-up and warns; we do
 *   the same so values and coordinates match gdalinfo/gdal_translate, and record a warning.
 *   Only a ModelTransformation with a positive Y term marks a south-up file; its rows are
 *   flipped on read and grid.sourceSouthUp is set.
 * - CRS: EPSG:4326, or a user-defined geographic CRS on the WGS 84 datum/ellipsoid (e.g. one
 *   carrying GeogTOWGS84GeoKey). At 0.25 degree any WGS 84 realisation is the same grid; other
 *   datums are refused rather than silently treated as WGS 84.
 * - Longitudes keep the file's convention (0..360 or -180..180); data is never rotated.
 * - Only the first image (IFD) is read: later ones are overviews or masks.
 */
import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { inflateSync } from 'node:zlib';
import { fromArrayBuffer, addDecoder, getDecoder, BaseDecoder, type GeoTIFFImage } from 'geotiff';
import { DataError, describeError } from '../core/errors.js';
import type { GridSpec } from '../core/grid.js';

export type SampleType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float16' | 'float32' | 'float64';

/** Everything the tags say about a file, read without decoding its pixels. */
export interface RasterHeader {
  path: string;
  grid: GridSpec;
  /** The file's sample type (before scale/offset). */
  dataType: SampleType;
  /** 1 = wind speed, 2 = u then v. */
  bandCount: 1 | 2;
  /** The GDAL_NODATA value in raw (unscaled) units, or null. */
  nodata: number | null;
  /** GDAL scale/offset per band: value = raw * scale + offset. */
  scale: number[];
  offset: number[];
  compression: string;
  /** 'strips' or 'tiles WxH'. */
  layout: string;
  /** Hour the file's metadata gives (TIFFTAG_DATETIME or a GDAL time item), epoch ms, or null. */
  metadataTime: number | null;
  /** Things GDAL would also warn about, kept for inspect. */
  warnings: string[];
}

export interface Raster extends RasterHeader {
  /** One Float32Array per band, north-up, NaN where nodata, in physical units (m/s). */
  bands: Float32Array[];
}

/** Per-band statistics gathered while decoding (NaN cells excluded). */
export interface BandStats {
  cells: number;
  nan: number;
  min: number;
  max: number;
  sum: number;
}

const COMPRESSION_NAMES: Record<number, string> = {
  1: 'none', 2: 'CCITT RLE', 3: 'CCITT G3', 4: 'CCITT G4', 5: 'LZW', 6: 'old JPEG', 7: 'JPEG',
  8: 'DEFLATE', 32773: 'PACKBITS', 32946: 'DEFLATE', 34887: 'LERC', 34925: 'LZMA', 50000: 'ZSTD', 50001: 'WEBP',
};
/** What geotiff.js 3.0.5 decodes (WEBP only in browsers, so refused here). */
const DECODABLE = new Set([1, 5, 6, 7, 8, 32773, 32946, 34887, 50000]);

/**
 * DEFLATE through node:zlib instead of geotiff.js's bundled pako: same bytes, about 3x faster,
 * which is most of the decode time for compressed ERA5-sized frames.
 */
class ZlibDeflateDecoder extends BaseDecoder {
  override decodeBlock(buffer: ArrayBuffer): ArrayBuffer {
    const out = inflateSync(new Uint8Array(buffer));
    if (out.byteOffset === 0 && out.byteLength === out.buffer.byteLength) return out.buffer as ArrayBuffer;
    return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength) as ArrayBuffer;
  }
}
let decodersRegistered = false;
function registerDecoders(): void {
  if (decodersRegistered) return;
  // preferWorker=false: windcast runs its own worker pool; geotiff.js must decode in-thread.
  addDecoder([8, 32946], () => Promise.resolve(ZlibDeflateDecoder as never), undefined, false);
  decodersRegistered = true;
}

function sampleTypeOf(path: string, format: number, bits: number): SampleType {
  if (format === 5 || format === 6) {
    throw new DataError(path, `unsupported sample type: complex ${format === 5 ? 'integer' : 'float'} (${bits}-bit); windcast reads real-valued speed or u/v bands`);
  }
  if (format === 4) throw new DataError(path, 'unsupported sample type: "void" (SampleFormat 4)');
  const table: Record<string, SampleType> = {
    '1/8': 'uint8', '2/8': 'int8', '1/16': 'uint16', '2/16': 'int16', '1/32': 'uint32', '2/32': 'int32',
    '3/16': 'float16', '3/32': 'float32', '3/64': 'float64',
  };
  const t = table[`${format}/${bits}`];
  if (!t) throw new DataError(path, `unsupported sample type: ${bits}-bit ${format === 3 ? 'float' : format === 2 ? 'signed integer' : 'unsigned integer'}`);
  return t;
}

/** Read a whole file into an ArrayBuffer with a specific error for missing/empty files. */
function readFileBytes(path: string): ArrayBuffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new DataError(path, `cannot open: ${describeError(err)}`, { cause: err });
  }
  try {
    const size = fstatSync(fd).size;
    if (size === 0) throw new DataError(path, 'empty file (0 bytes), not a GeoTIFF');
    const buffer = new ArrayBuffer(size);
    const view = new Uint8Array(buffer);
    let done = 0;
    while (done < size) {
      const n = readSync(fd, view, done, Math.min(size - done, 1 << 30), done);
      if (n === 0) break;
      done += n;
    }
    return buffer;
  } finally {
    closeSync(fd);
  }
}

function checkMagic(path: string, bytes: ArrayBuffer): void {
  const b = new Uint8Array(bytes, 0, Math.min(4, bytes.byteLength));
  const ok = b.length === 4 && ((b[0] === 0x49 && b[1] === 0x49 && (b[2] === 42 || b[2] === 43) && b[3] === 0)
    || (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && (b[3] === 42 || b[3] === 43)));
  if (!ok) {
    const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
    throw new DataError(path, `not a TIFF file (starts with bytes ${hex || 'nothing'}; expected "II*" or "MM*")`);
  }
}

async function firstImage(path: string, bytes: ArrayBuffer): Promise<GeoTIFFImage> {
  checkMagic(path, bytes);
  registerDecoders();
  try {
    const tiff = await fromArrayBuffer(bytes);
    return await tiff.getImage(0);
  } catch (err) {
    throw new DataError(path, `truncated or corrupt TIFF structure (${describeError(err)})`, { cause: err });
  }
}

async function tag(image: GeoTIFFImage, name: string): Promise<any> {
  const fd = image.getFileDirectory();
  const key = name as Parameters<typeof fd.hasTag>[0];
  if (!fd.hasTag(key)) return undefined;
  return fd.loadValue(key);
}

/** Strip/tile offsets and byte counts must lie inside the file: geotiff.js would read zeros. */
async function checkBlocks(path: string, image: GeoTIFFImage, fileSize: number, bands: number): Promise<void> {
  const tiled = image.isTiled;
  const offsets = await tag(image, tiled ? 'TileOffsets' : 'StripOffsets');
  const counts = await tag(image, tiled ? 'TileByteCounts' : 'StripByteCounts');
  if (!offsets || !counts) throw new DataError(path, `missing ${tiled ? 'TileOffsets/TileByteCounts' : 'StripOffsets/StripByteCounts'}: no pixel data`);
  const across = Math.ceil(image.getWidth() / image.getTileWidth());
  const down = Math.ceil(image.getHeight() / image.getTileHeight());
  const expected = across * down * (image.planarConfiguration === 2 ? bands : 1);
  if (offsets.length < expected || counts.length < expected) {
    throw new DataError(path, `truncated data: ${offsets.length} of ${expected} ${tiled ? 'tiles' : 'strips'} listed`);
  }
  for (let i = 0; i < expected; i++) {
    const end = Number(offsets[i]) + Number(counts[i]);
    if (Number(counts[i]) > 0 && end > fileSize) {
      throw new DataError(path, `truncated data: ${tiled ? 'tile' : 'strip'} ${i} ends at byte ${end} but the file has ${fileSize} bytes`);
    }
  }
}

const GEOGRAPHIC_WGS84 = 4326;
const USER_DEFINED = 32767;

function checkCrs(path: string, keys: Record<string, any> | null): void {
  if (!keys || Object.keys(keys).length === 0) {
    throw new DataError(path, 'missing georeferencing: no GeoKeys (no coordinate reference system); windcast needs a lat/lon grid in EPSG:4326');
  }
  const model = keys.GTModelTypeGeoKey;
  const projectionKeys = Object.keys(keys).filter((k) => k.startsWith('Proj') || k.startsWith('PCS'));
  if (model === 1 || projectionKeys.length > 0) {
    const code = keys.ProjectedCSTypeGeoKey;
    const name = code && code !== USER_DEFINED ? ` EPSG:${code}` : keys.GTCitationGeoKey ? ` "${String(keys.GTCitationGeoKey).slice(0, 60)}"` : '';
    throw new DataError(path, `projected CRS${name} is not supported: windcast needs a geographic lat/lon grid (reproject with gdalwarp -t_srs EPSG:4326)`);
  }
  if (model !== undefined && model !== 2) {
    throw new DataError(path, `unsupported GTModelTypeGeoKey ${model}: windcast needs a geographic lat/lon grid (EPSG:4326)`);
  }
  if (model !== 2 && keys.GeographicTypeGeoKey === undefined) {
    throw new DataError(path, 'missing georeferencing: no GTModelTypeGeoKey and no geographic CRS; windcast needs a lat/lon grid in EPSG:4326');
  }
  const units = keys.GeogAngularUnitsGeoKey;
  if (units !== undefined && units !== 9102 && units !== 9122) {
    throw new DataError(path, `geographic CRS with angular unit ${units} is not supported: windcast needs degrees`);
  }
  const geog = keys.GeographicTypeGeoKey;
  if (geog === GEOGRAPHIC_WGS84) return;
  if (geog === undefined || geog === USER_DEFINED) {
    const datum = keys.GeogGeodeticDatumGeoKey;
    const ellipsoid = keys.GeogEllipsoidGeoKey;
    const citation = String(keys.GeogCitationGeoKey ?? keys.GTCitationGeoKey ?? '');
    if (datum === 6326 || ellipsoid === 7030 || /WGS[ _]?84/i.test(citation)) return;
    const towgs = keys.GeogTOWGS84GeoKey !== undefined ? ' with a TOWGS84 datum shift' : '';
    throw new DataError(path, `user-defined geographic CRS not on WGS 84 (datum ${datum ?? '?'}, ellipsoid ${ellipsoid ?? '?'}${towgs}): windcast reads EPSG:4326 lat/lon grids (reproject with gdalwarp -t_srs EPSG:4326)`);
  }
  throw new DataError(path, `geographic CRS EPSG:${geog} is not WGS 84: windcast reads EPSG:4326 lat/lon grids (reproject with gdalwarp -t_srs EPSG:4326)`);
}

/**
 * GDAL's geotransform (corner of the first stored pixel, with the PixelIsPoint half-cell shift
 * GDAL applies by default) turned into a north-up GridSpec of cell centres.
 */
async function deriveGrid(path: string, image: GeoTIFFImage, warnings: string[]): Promise<GridSpec> {
  const width = image.getWidth();
  const height = image.getHeight();
  const keys = image.getGeoKeys() as Record<string, any> | null;
  const scale = await tag(image, 'ModelPixelScale');
  const tie = await tag(image, 'ModelTiepoint');
  const transform = await tag(image, 'ModelTransformation');
  const pixelIsPoint = keys?.GTRasterTypeGeoKey === 2;

  let x0: number; let dx: number; let y0: number; let dy: number;
  if (scale && tie && tie.length >= 6) {
    if (tie.length > 6) {
      warnings.push(`${tie.length / 6} tie points with a pixel scale: using the first, like GDAL`);
    }
    const [sx, syRaw] = [Number(scale[0]), Number(scale[1])];
    if (syRaw < 0) {
      warnings.push('negative ModelPixelScale Y: treated as north-up, as GDAL does by default');
    }
    const sy = Math.abs(syRaw);
    dx = sx;
    dy = -sy;
    x0 = Number(tie[3]) - Number(tie[0]) * sx;
    y0 = Number(tie[4]) + Number(tie[1]) * sy;
  } else if (transform && transform.length >= 16) {
    const [a, b, , c, d, e, , f] = Array.from(transform as ArrayLike<number>, Number);
    if (b !== 0 || d !== 0) {
      throw new DataError(path, `rotated or sheared grid (ModelTransformation has rotation terms ${b}, ${d}): windcast needs a regular north-up or south-up lat/lon grid`);
    }
    x0 = c!; dx = a!; y0 = f!; dy = e!;
  } else if (tie && tie.length > 6) {
    throw new DataError(path, `georeferenced only by ${tie.length / 6} ground control points, not a regular grid (warp it with gdalwarp -t_srs EPSG:4326 first)`);
  } else {
    throw new DataError(path, 'missing georeferencing: no ModelPixelScale + ModelTiepoint and no ModelTransformation');
  }
  if (!(dx > 0) || dy === 0 || !Number.isFinite(x0) || !Number.isFinite(y0) || !Number.isFinite(dy)) {
    throw new DataError(path, `unusable georeferencing: cell size ${dx} x ${dy}`);
  }
  checkCrs(path, keys);
  if (pixelIsPoint) {
    x0 -= dx / 2;
    y0 -= dy / 2;
  }
  const southUp = dy > 0;
  const dLat = Math.abs(dy);
  // Centre of the northernmost row: first stored row for north-up, last for south-up.
  const lat0 = southUp ? y0 + height * dLat - dLat / 2 : y0 - dLat / 2;
  const lon0 = x0 + dx / 2;
  const north = lat0 + dLat / 2;
  const south = lat0 - (height - 1) * dLat - dLat / 2;
  const tol = dLat * 0.51;
  if (north > 90 + tol || south < -90 - tol) {
    throw new DataError(path, `not a lat/lon grid: rows span latitudes ${round(south)}..${round(north)} (beyond +-90)`);
  }
  const west = x0;
  const east = x0 + width * dx;
  if (west < -180 - dx || east > 360 + dx || east - west > 360 + dx * 0.51) {
    throw new DataError(path, `not a lat/lon grid: columns span longitudes ${round(west)}..${round(east)}`);
  }
  return { width, height, lon0: clean(lon0), lat0: clean(lat0), dLon: clean(dx), dLat: clean(dLat), pixelIsPoint, sourceSouthUp: southUp, epsg: 4326 };
}

/** Snap float noise from tag arithmetic (e.g. 89.87500000000001) to 12 significant digits. */
function clean(x: number): number {
  return Number(x.toPrecision(12));
}
function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

function parseNodata(path: string, image: GeoTIFFImage): number | null {
  const fd = image.getFileDirectory();
  if (!fd.hasTag('GDAL_NODATA')) return null;
  const raw = String(fd.getValue('GDAL_NODATA')).replace(/\0/g, '').trim();
  if (raw === '') return null;
  const n = /^[+-]?nan$/i.test(raw) ? NaN : /^[+-]?inf/i.test(raw) ? (raw.startsWith('-') ? -Infinity : Infinity) : Number(raw);
  if (Number.isNaN(n) && !/nan/i.test(raw)) throw new DataError(path, `GDAL_NODATA "${raw}" is not a number`);
  return n;
}

/** GDAL writes TIFFTAG_DATETIME as "YYYY:MM:DD HH:MM:SS"; GDAL metadata may carry ISO times. */
export function parseMetadataTime(text: string): number | null {
  const m = /^\s*(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):?(\d{2})?:?(\d{2})?/.exec(text);
  if (!m) return null;
  const t = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +(m[5] ?? 0), +(m[6] ?? 0));
  return Number.isFinite(t) ? t : null;
}

const TIME_ITEMS = ['valid_time', 'time', 'datetime', 'date_time', 'TIFFTAG_DATETIME'];

async function readHeaderFrom(path: string, image: GeoTIFFImage, fileSize: number): Promise<RasterHeader> {
  const warnings: string[] = [];
  const fd = image.getFileDirectory();
  const spp = image.getSamplesPerPixel();
  const formats = Array.from({ length: spp }, (_, i) => image.getSampleFormat(i) ?? 1);
  const bits = Array.from({ length: spp }, (_, i) => image.getBitsPerSample(i));
  const dataType = sampleTypeOf(path, formats[0]!, bits[0]!);
  for (let i = 1; i < spp; i++) {
    if (formats[i] !== formats[0] || bits[i] !== bits[0]) throw new DataError(path, 'bands have different sample types; windcast needs one type for all bands');
  }
  const grid = await deriveGrid(path, image, warnings);
  if (spp !== 1 && spp !== 2) {
    throw new DataError(path, `${spp} bands: windcast wants 1 band (wind speed) or 2 bands (u, v)`);
  }
  const extra = fd.hasTag('ExtraSamples') ? Array.from(await fd.loadValue('ExtraSamples') as ArrayLike<number>) : [];
  if (spp === 2 && extra.some((x) => x === 1 || x === 2)) {
    throw new DataError(path, 'band 2 is an alpha channel, not v: windcast wants 1 band (wind speed) or 2 bands (u, v)');
  }
  const compressionCode = Number(fd.hasTag('Compression') ? fd.getValue('Compression') : 1) || 1;
  const compression = COMPRESSION_NAMES[compressionCode] ?? `code ${compressionCode}`;
  if (!DECODABLE.has(compressionCode)) throw new DataError(path, `unsupported compression ${compression}: geotiff.js cannot decode it here (convert with gdal_translate -co COMPRESS=DEFLATE)`);
  await checkBlocks(path, image, fileSize, spp);

  const scale: number[] = [];
  const offset: number[] = [];
  let meta: Record<string, unknown> | null = null;
  try {
    meta = await image.getGDALMetadata();
    for (let i = 0; i < spp; i++) {
      const band = await image.getGDALMetadata(i);
      const s = band?.SCALE !== undefined ? Number(band.SCALE) : 1;
      const o = band?.OFFSET !== undefined ? Number(band.OFFSET) : 0;
      if (!Number.isFinite(s) || !Number.isFinite(o)) throw new DataError(path, `band ${i + 1}: GDAL scale/offset "${String(band?.SCALE)}"/"${String(band?.OFFSET)}" are not numbers`);
      scale.push(s);
      offset.push(o);
    }
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(path, `unreadable GDAL_METADATA (${describeError(err)})`, { cause: err });
  }
  let metadataTime: number | null = null;
  for (const name of TIME_ITEMS) {
    const key = Object.keys(meta ?? {}).find((k) => k.toLowerCase() === name.toLowerCase());
    if (key) {
      metadataTime = parseMetadataTime(String(meta![key]));
      if (metadataTime !== null) break;
    }
  }
  if (metadataTime === null && fd.hasTag('DateTime')) metadataTime = parseMetadataTime(String(await fd.loadValue('DateTime')));

  const layout = image.isTiled ? `tiles ${image.getTileWidth()}x${image.getTileHeight()}` : `strips of ${image.getTileHeight()} rows`;
  return {
    path, grid, dataType, bandCount: spp as 1 | 2, nodata: parseNodata(path, image), scale, offset, compression, layout, metadataTime, warnings,
  };
}

/** Tags only (decodes no pixels): grid, type, bands, nodata, time. */
export async function readRasterHeader(path: string): Promise<RasterHeader> {
  const bytes = readFileBytes(path);
  const image = await firstImage(path, bytes);
  return readHeaderFrom(path, image, bytes.byteLength);
}

/** Where decoded bands go: band i of the file is written north-up into out[i]. */
export interface DecodeTarget {
  bands: Float32Array[];
}

/**
 * Decode a file into preallocated north-up Float32 bands (e.g. views of a shared cube), with
 * scale/offset applied and nodata as NaN. If `expect` is given the grid must equal it.
 * Returns the header and per-band statistics (skipped with stats: false).
 */
export async function decodeRasterInto(path: string, target: DecodeTarget | ((h: RasterHeader) => DecodeTarget), options: { stats?: boolean } = {}): Promise<{ header: RasterHeader; stats: BandStats[] }> {
  const bytes = readFileBytes(path);
  const image = await firstImage(path, bytes);
  const header = await readHeaderFrom(path, image, bytes.byteLength);
  const out = typeof target === 'function' ? target(header) : target;
  const { width, height } = header.grid;
  const n = width * height;
  if (out.bands.length < header.bandCount || out.bands.some((b) => b.length !== n)) {
    throw new Error(`decodeRasterInto: target needs ${header.bandCount} band(s) of ${n} cells`);
  }
  const fast = await decodeBlocksFast(path, image, bytes, header, out.bands);
  if (!fast) {
    let rasters: ArrayLike<number>[];
    try {
      rasters = (await image.readRasters({ interleave: false })) as unknown as ArrayLike<number>[];
    } catch (err) {
      throw new DataError(path, `cannot decode ${header.compression} pixel data (${describeError(err)}); the file is probably truncated or corrupt`, { cause: err });
    }
    for (let b = 0; b < header.bandCount; b++) convertBand(rasters[b]!, out.bands[b]!, width, height, header, b);
  }
  const stats = options.stats === false ? [] : out.bands.slice(0, header.bandCount).map(bandStats);
  return { header, stats };
}

/** The nodata value as it compares with decoded samples (in the sample type's precision, as GDAL). */
function nodataForCompare(h: RasterHeader): number | null {
  if (h.nodata === null || Number.isNaN(h.nodata)) return null; // NaN samples become NaN anyway
  return h.dataType === 'float32' || h.dataType === 'float16' ? Math.fround(h.nodata) : h.nodata;
}

/** Raw samples -> physical Float32, flipping south-up rows, nodata -> NaN (geotiff.js path). */
function convertBand(src: ArrayLike<number>, dst: Float32Array, width: number, height: number, h: RasterHeader, band: number): void {
  const s = h.scale[band] ?? 1;
  const o = h.offset[band] ?? 0;
  const nd = nodataForCompare(h);
  const flip = h.grid.sourceSouthUp;
  for (let r = 0; r < height; r++) {
    const srcRow = (flip ? height - 1 - r : r) * width;
    const dstRow = r * width;
    for (let c = 0; c < width; c++) {
      const raw = src[srcRow + c]!;
      dst[dstRow + c] = raw === nd || raw !== raw ? NaN : raw * s + o;
    }
  }
}

function bandStats(band: Float32Array): BandStats {
  let nan = 0; let min = Infinity; let max = -Infinity; let sum = 0;
  for (let i = 0; i < band.length; i++) {
    const f = band[i]!;
    if (f !== f) {
      nan++;
    } else {
      if (f < min) min = f;
      if (f > max) max = f;
      sum += f;
    }
  }
  return { cells: band.length, nan, min, max, sum };
}

type SampleArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;
const SAMPLE_ARRAYS: Partial<Record<SampleType, new (b: ArrayBuffer, o: number, n: number) => SampleArray>> = {
  uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int16: Int16Array, uint32: Uint32Array, int32: Int32Array, float32: Float32Array, float64: Float64Array,
};
const BYTES: Record<SampleType, number> = { uint8: 1, int8: 1, uint16: 2, int16: 2, uint32: 4, int32: 4, float16: 2, float32: 4, float64: 8 };
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Decode strips/tiles straight into the output bands. geotiff.js's readRasters reads every
 * sample through a DataView call and its floating-point predictor copies each row; on an
 * ERA5-sized frame that is ~80% of the time. This path handles what GDAL writes for wind data
 * (little-endian, none/DEFLATE/LZW, predictors 1-3, strips or tiles, either planar layout);
 * anything else returns false and goes through geotiff.js.
 */
async function decodeBlocksFast(path: string, image: GeoTIFFImage, bytes: ArrayBuffer, h: RasterHeader, out: Float32Array[]): Promise<boolean> {
  const fd = image.getFileDirectory();
  const compression = Number(fd.hasTag('Compression') ? fd.getValue('Compression') : 1) || 1;
  const predictor = Number(fd.hasTag('Predictor') ? await fd.loadValue('Predictor') : 1) || 1;
  const Arr = SAMPLE_ARRAYS[h.dataType];
  const isFloat = h.dataType.startsWith('float');
  if (!LITTLE_ENDIAN_HOST || !image.littleEndian || !Arr || ![1, 5, 8, 32946].includes(compression)) return false;
  if (!(predictor === 1 || (predictor === 2 && !isFloat && BYTES[h.dataType] <= 4) || (predictor === 3 && isFloat))) return false;

  const { width, height } = h.grid;
  const spp = h.bandCount;
  const planar = image.planarConfiguration;
  const tiled = image.isTiled;
  const tw = image.getTileWidth();
  const th = image.getTileHeight();
  const across = Math.ceil(width / tw);
  const down = Math.ceil(height / th);
  const offsets = await fd.loadValue(tiled ? 'TileOffsets' : 'StripOffsets') as ArrayLike<number | bigint>;
  const counts = await fd.loadValue(tiled ? 'TileByteCounts' : 'StripByteCounts') as ArrayLike<number | bigint>;
  const bytesPer = BYTES[h.dataType];
  const samplesPerBlockPixel = planar === 1 ? spp : 1;
  const lzw = compression === 5 ? await getDecoder(5, { tileWidth: tw, tileHeight: th, predictor: 1, bitsPerSample: bytesPer * 8, planarConfiguration: planar }) : null;
  const nd = nodataForCompare(h);
  const flip = h.grid.sourceSouthUp;
  const scratch = { buf: new Uint8Array(0) };

  const blocksPerPlane = across * down;
  const planes = planar === 2 ? spp : 1;
  for (let plane = 0; plane < planes; plane++) {
    for (let by = 0; by < down; by++) {
      // Strips end at the image edge; tiles are always full size (padded).
      const rows = tiled ? th : Math.min(th, height - by * th);
      for (let bx = 0; bx < across; bx++) {
        const index = plane * blocksPerPlane + by * across + bx;
        const offset = Number(offsets[index]);
        const count = Number(counts[index]);
        const rowSamples = tw * samplesPerBlockPixel;
        const need = rows * rowSamples * bytesPer;
        let values: SampleArray | null = null;
        if (count > 0) {
          let data: ArrayBuffer;
          let start = 0;
          const raw = new Uint8Array(bytes, offset, count);
          try {
            if (compression === 1) {
              data = bytes; start = offset;
            } else if (lzw) {
              data = await lzw.decodeBlock(raw.slice().buffer) as ArrayBuffer;
            } else {
              const inflated = inflateSync(raw);
              data = inflated.buffer as ArrayBuffer; start = inflated.byteOffset;
            }
          } catch (err) {
            throw new DataError(path, `cannot decode ${h.compression} ${tiled ? 'tile' : 'strip'} ${index} (${describeError(err)}); the file is probably truncated or corrupt`, { cause: err });
          }
          const have = (compression === 1 ? count : data.byteLength - start);
          if (have < need) {
            throw new DataError(path, `truncated data: ${tiled ? 'tile' : 'strip'} ${index} holds ${have} bytes, ${need} expected`);
          }
          // Typed arrays need aligned offsets; predictors modify in place: copy where needed.
          if (start % bytesPer !== 0 || compression === 1 && predictor !== 1) {
            data = data.slice(start, start + need) as ArrayBuffer; start = 0;
          }
          if (predictor === 2) undoHorizontal(data, start, rows, rowSamples, samplesPerBlockPixel, bytesPer);
          else if (predictor === 3) undoFloatingPoint(data, start, rows, rowSamples, samplesPerBlockPixel, bytesPer, scratch);
          values = new Arr(data, start, rows * rowSamples);
        }
        const yEnd = Math.min(rows, height - by * th);
        const xEnd = Math.min(tw, width - bx * tw);
        for (let s = 0; s < (planar === 1 ? spp : 1); s++) {
          const band = planar === 1 ? s : plane;
          const dst = out[band]!;
          const sc = h.scale[band] ?? 1;
          const of = h.offset[band] ?? 0;
          const fill = h.nodata ?? 0;
          for (let r = 0; r < yEnd; r++) {
            const y = by * th + r;
            const dstBase = (flip ? height - 1 - y : y) * width + bx * tw;
            if (values === null) {
              // A missing block (byte count 0) reads as nodata, or 0 without nodata, like GDAL.
              dst.fill(fill === nd || Number.isNaN(fill) ? NaN : fill * sc + of, dstBase, dstBase + xEnd);
              continue;
            }
            copyRow(values, r * rowSamples + s, samplesPerBlockPixel, dst, dstBase, xEnd, nd ?? NaN, sc, of);
          }
        }
      }
    }
  }
  return true;
}

/** One row of samples into the band: nodata (compared raw) -> NaN, else raw * scale + offset. */
function copyRow(values: SampleArray, src: number, stride: number, dst: Float32Array, dstBase: number, n: number, nodata: number, scale: number, offset: number): void {
  if (scale === 1 && offset === 0) {
    for (let c = 0; c < n; c++, src += stride) {
      const v = values[src]!;
      dst[dstBase + c] = v === nodata ? NaN : v;
    }
  } else {
    for (let c = 0; c < n; c++, src += stride) {
      const v = values[src]!;
      dst[dstBase + c] = v === nodata ? NaN : v * scale + offset;
    }
  }
}

/** TIFF predictor 2: each sample is the difference from the same sample of the previous pixel. */
function undoHorizontal(data: ArrayBuffer, start: number, rows: number, rowSamples: number, stride: number, bytesPer: number): void {
  const a = bytesPer === 1 ? new Uint8Array(data, start, rows * rowSamples) : bytesPer === 2 ? new Uint16Array(data, start, rows * rowSamples) : new Uint32Array(data, start, rows * rowSamples);
  for (let r = 0; r < rows; r++) {
    const base = r * rowSamples;
    for (let i = base + stride; i < base + rowSamples; i++) a[i] = a[i]! + a[i - stride]!;
  }
}

/**
 * TIFF predictor 3 (Technical Note 3): per row, bytes were split into planes (most significant
 * first) and byte-differenced; undo the difference, then interleave back to little-endian words.
 */
function undoFloatingPoint(data: ArrayBuffer, start: number, rows: number, rowSamples: number, stride: number, bytesPer: number, scratch: { buf: Uint8Array }): void {
  const rowBytes = rowSamples * bytesPer;
  if (scratch.buf.length < rowBytes) scratch.buf = new Uint8Array(rowBytes);
  const tmp = scratch.buf;
  const all = new Uint8Array(data, start, rows * rowBytes);
  for (let r = 0; r < rows; r++) {
    const row = all.subarray(r * rowBytes, (r + 1) * rowBytes);
    for (let i = stride; i < rowBytes; i++) row[i] = row[i]! + row[i - stride]!; // Uint8Array wraps mod 256
    tmp.set(row);
    if (bytesPer === 4) {
      // Float32, the common case: assemble each word from its four byte planes at once.
      const words = new Uint32Array(data, start + r * rowBytes, rowSamples);
      const n = rowSamples;
      for (let i = 0; i < n; i++) words[i] = ((tmp[i]! << 24) | (tmp[n + i]! << 16) | (tmp[2 * n + i]! << 8) | tmp[3 * n + i]!) >>> 0;
      continue;
    }
    for (let b = 0; b < bytesPer; b++) {
      const plane = (bytesPer - 1 - b) * rowSamples;
      for (let i = 0; i < rowSamples; i++) row[i * bytesPer + b] = tmp[plane + i]!;
    }
  }
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
