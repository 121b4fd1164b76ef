/**
 * A raster's header: everything its tags say, read without decoding pixels. The sample type,
 * the bands and what each holds (bandWinds: 1 = speed, 2 = u, v, 4 = u and v at two heights),
 * compression, GDAL nodata, per-band GDAL scale/offset, the hour in its metadata, and the grid
 * (georeference.ts). A band's height comes from its name (its GDAL description, or the
 * NETCDF_VARNAME / GRIB_ELEMENT item gdal_translate keeps): u100 and v100 are wind at 100 m.
 * Refused here, with one DataError naming the file: complex or exotic sample types, mixed band
 * types, 3 or 5+ bands, 4 bands not named as u/v at two heights, names that are not a u/v pair,
 * an alpha band, compressions geotiff.js cannot decode, strips or tiles that lie outside the
 * file, and unparseable nodata or scale/offset.
 */
import type { GeoTIFFImage } from 'geotiff';
import { DataError, describeError } from '../core/errors.js';
import type { GridSpec } from '../core/grid.js';
import { deriveGrid } from './georeference.js';
import { identifyName } from './gridded/names.js';
import { readTag } from './tiff-file.js';

export type SampleType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float16' | 'float32' | 'float64';

/** Everything the tags say about a file, read without decoding its pixels. */
export interface RasterHeader {
  path: string;
  grid: GridSpec;
  /** The file's sample type (before scale/offset). */
  dataType: SampleType;
  /** 1 = wind speed, 2 = u and v, 4 = u and v at two heights. */
  bandCount: 1 | 2 | 4;
  /** What each band holds, in file order (see bandWinds). */
  winds: BandWind[];
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

/** What a band holds: a wind component or the speed, at a height when its name says one. */
export interface BandWind {
  component: 'u' | 'v' | 'speed';
  /** Metres above ground; null when the band's name does not say (an unnamed band). */
  heightM: number | null;
  /** The ERA5 short name its name was recognised as (u100), or null. */
  name: string | null;
}

/** Band metadata items that name a band's variable, most specific first. */
const NAME_ITEMS = ['DESCRIPTION', 'NETCDF_VARNAME', 'GRIB_ELEMENT', 'GRIB_SHORT_NAME', 'long_name'];

/** The wind variable a band's GDAL metadata names, or null (unnamed, or not a wind variable). */
function bandName(path: string, band: Record<string, unknown> | null, index: number): { name: string; component: BandWind['component']; heightM: number } | null {
  for (const item of NAME_ITEMS) {
    const text = band?.[item];
    if (typeof text !== 'string' || text.trim() === '') continue;
    const known = identifyName(text);
    if (known?.wind) return { name: known.name, component: known.wind.component, heightM: known.wind.height };
    if (known) throw new DataError(path, `band ${index + 1} is ${known.name} (${item} "${text}"), not wind: windcast reads wind speed or u/v bands`);
  }
  return null;
}

/**
 * What the bands hold, from their names where they have any: 1 band is a wind speed, 2 bands
 * u then v (named bands may come in either order), 4 bands u and v at two heights, which only
 * names can tell apart. Unnamed 1- and 2-band files keep their meaning of old: no height.
 */
export function bandWinds(path: string, names: ReadonlyArray<ReturnType<typeof bandName>>): BandWind[] {
  const count = names.length;
  const shown = names.map((n, i) => n?.name ?? `band ${i + 1} unnamed`).join(', ');
  const four = '4 bands u10, v10, u100, v100 named by their band descriptions';
  if (count !== 1 && count !== 2 && count !== 4) {
    throw new DataError(path, `${count} bands: windcast wants 1 band (wind speed) or 2 bands (u, v), or ${four}`);
  }
  if (names.every((n) => n === null)) {
    if (count === 1) return [{ component: 'speed', heightM: null, name: null }];
    if (count === 2) return [{ component: 'u', heightM: null, name: null }, { component: 'v', heightM: null, name: null }];
    throw new DataError(path, `4 bands without names: windcast reads ${four} (GDAL DESCRIPTION, or NETCDF_VARNAME / GRIB_ELEMENT items), to know which height each is`);
  }
  const bands = names.map((n) => (n ? { component: n.component, heightM: n.heightM, name: n.name } : null));
  if (count === 1) {
    const b = bands[0]!;
    if (b.component !== 'speed') throw new DataError(path, `its one band is ${b.name}: windcast needs u and v together (2 or 4 bands) or a wind speed`);
    return [b];
  }
  const heights = [...new Set(bands.map((b) => b?.heightM))];
  const pairs = heights.every((h) => h != null && bands.filter((b) => b?.heightM === h && b.component === 'u').length === 1 && bands.filter((b) => b?.heightM === h && b.component === 'v').length === 1);
  if (bands.some((b) => b === null || b.component === 'speed') || !pairs || heights.length !== count / 2) {
    throw new DataError(path, count === 2 ? `bands ${shown}: windcast wants 2 bands u and v of one height` : `bands ${shown}: windcast wants ${four}, u and v at each of two heights`);
  }
  return bands as BandWind[];
}

const COMPRESSION_NAMES: Record<number, string> = {
  1: 'none', 2: 'CCITT RLE', 3: 'CCITT G3', 4: 'CCITT G4', 5: 'LZW', 6: 'old JPEG', 7: 'JPEG',
  8: 'DEFLATE', 32773: 'PACKBITS', 32946: 'DEFLATE', 34887: 'LERC', 34925: 'LZMA', 50000: 'ZSTD', 50001: 'WEBP',
};
/** What geotiff.js 3.0.5 decodes (WEBP only in browsers, so refused here). */
const DECODABLE = new Set([1, 5, 6, 7, 8, 32773, 32946, 34887, 50000]);

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

/** Strip/tile offsets and byte counts must lie inside the file: geotiff.js would read zeros. */
async function checkBlocks(path: string, image: GeoTIFFImage, fileSize: number, bands: number): Promise<void> {
  const tiled = image.isTiled;
  const offsets = await readTag(image, tiled ? 'TileOffsets' : 'StripOffsets');
  const counts = await readTag(image, tiled ? 'TileByteCounts' : 'StripByteCounts');
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

/** The header of an opened file (fileSize bounds its strips and tiles). */
export async function readHeader(path: string, image: GeoTIFFImage, fileSize: number): Promise<RasterHeader> {
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
  if (spp !== 1 && spp !== 2 && spp !== 4) bandWinds(path, new Array(spp).fill(null));
  const extra = fd.hasTag('ExtraSamples') ? Array.from(await fd.loadValue('ExtraSamples') as ArrayLike<number>) : [];
  if (spp >= 2 && extra.some((x) => x === 1 || x === 2)) {
    throw new DataError(path, `band ${spp} is an alpha channel, not v: windcast wants 1 band (wind speed) or 2 bands (u, v)`);
  }
  const compressionCode = Number(fd.hasTag('Compression') ? fd.getValue('Compression') : 1) || 1;
  const compression = COMPRESSION_NAMES[compressionCode] ?? `code ${compressionCode}`;
  if (!DECODABLE.has(compressionCode)) throw new DataError(path, `unsupported compression ${compression}: geotiff.js cannot decode it here (convert with gdal_translate -co COMPRESS=DEFLATE)`);
  await checkBlocks(path, image, fileSize, spp);

  const scale: number[] = [];
  const offset: number[] = [];
  const names: ReturnType<typeof bandName>[] = [];
  let meta: Record<string, unknown> | null = null;
  try {
    meta = await image.getGDALMetadata();
    for (let i = 0; i < spp; i++) {
      const band = await image.getGDALMetadata(i);
      names.push(bandName(path, band, i));
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
    path, grid, dataType, bandCount: spp as 1 | 2 | 4, winds: bandWinds(path, names), nodata: parseNodata(path, image), scale, offset, compression, layout, metadataTime, warnings,
  };
}
