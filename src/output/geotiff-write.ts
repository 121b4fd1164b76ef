/**
 * GeoTIFF writer: Float32 lat/lon grids (EPSG:4326) as little-endian classic TIFF.
 *
 * Why our own: geotiff.js only writes uncompressed data, and windcast's outputs (synthetic
 * hours, 24 forecast leads) are global Float32 grids where DEFLATE with the floating-point
 * predictor (TIFF Technical Note 3, predictor 3) roughly halves the size. The encoder is
 * small: strips of N rows, planar-separate bands, node:zlib for DEFLATE.
 *
 * Georeferencing reproduces the GridSpec exactly, as GDAL reads it back:
 *  - north-up grids get ModelPixelScale + ModelTiepoint;
 *  - grids whose source was south-up are written south-up (row 0 = southernmost) with a
 *    ModelTransformation, because GDAL ignores a negative ModelPixelScale Y unless
 *    GTIFF_HONOUR_NEGATIVE_SCALEY is set;
 *  - PixelIsPoint grids tie the first cell's centre, PixelIsArea grids its corner;
 *  - the longitude convention is whatever lon0 says (0..360 or -180..180).
 * Nodata goes in GDAL_NODATA (42113), dataset and per-band metadata in GDAL_METADATA (42112).
 * writeGeoTiff writes a temporary file in the target folder, fsyncs it and renames it over the
 * target, so a reader never sees a half-written file and an earlier one is never half-overwritten.
 */
import { constants as zlibConstants, deflateSync } from 'node:zlib';
import { writeFileAtomic } from '../core/atomic.js';
import { WindcastError } from '../core/errors.js';
import { colLon, rowLat, type GridSpec } from '../core/grid.js';

export interface GeoTiffWriteOptions {
  grid: GridSpec;
  /** One Float32Array per band, north-up, width * height each; NaN marks nodata. */
  bands: Float32Array[];
  /** Nodata value: NaN cells are written as this number; NaN writes "nan"; null/undefined: no tag. */
  nodata?: number | null;
  compress: 'none' | 'deflate';
  /** 3 (floating-point predictor, default with deflate) or 1 (none). Ignored without compression. */
  predictor?: 1 | 3;
  /** zlib level 1 (fast) to 9 (small); default 6. */
  deflateLevel?: number;
  /**
   * zlib's match search: 'default' (zlib's own) or 'rle' (Z_RLE: matches at distance one only,
   * that is runs). Either is a plain DEFLATE stream every reader inflates the same way. After
   * the floating-point predictor a model's float32 output is mostly its low mantissa bytes,
   * which no match search compresses; runs are what is left (the sign and exponent planes), so
   * 'rle' encodes such fields about twice as fast for about 2 % larger files (forecast-files.ts).
   */
  deflateStrategy?: 'default' | 'rle';
  /** Rows per strip; default about 256 KiB of raw data per strip. */
  rowsPerStrip?: number;
  /** Dataset metadata (GDAL_METADATA items without a band). */
  metadata?: Record<string, string>;
  /** Per-band metadata items, e.g. { units: 'm/s' } ("units" becomes GDAL's unit type). */
  bandMetadata?: Array<Record<string, string>>;
  /** Per-band descriptions, e.g. "u10". */
  bandDescriptions?: string[];
}

const TYPE_ASCII = 2;
const TYPE_SHORT = 3;
const TYPE_LONG = 4;
const TYPE_DOUBLE = 12;
const TYPE_SIZE: Record<number, number> = { [TYPE_ASCII]: 1, [TYPE_SHORT]: 2, [TYPE_LONG]: 4, [TYPE_DOUBLE]: 8 };

interface Entry {
  tag: number;
  type: number;
  values: number[] | string;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Checks the options and returns the number of rows per strip. */
function validate(options: GeoTiffWriteOptions): number {
  const { grid, bands } = options;
  if (!Number.isInteger(grid.width) || !Number.isInteger(grid.height) || grid.width < 1 || grid.height < 1) {
    throw new WindcastError('internal', `GeoTIFF writer: bad grid size ${grid.width}x${grid.height}`);
  }
  if (!(grid.dLon > 0) || !(grid.dLat > 0)) {
    throw new WindcastError('internal', `GeoTIFF writer: cell size must be positive, got ${grid.dLon}x${grid.dLat}`);
  }
  if (bands.length < 1 || bands.length > 65535) {
    throw new WindcastError('internal', `GeoTIFF writer: need 1..65535 bands, got ${bands.length}`);
  }
  const n = grid.width * grid.height;
  bands.forEach((b, i) => {
    if (b.length !== n) throw new WindcastError('internal', `GeoTIFF writer: band ${i + 1} has ${b.length} values, grid ${grid.width}x${grid.height} needs ${n}`);
  });
  if (options.bandDescriptions && options.bandDescriptions.length !== bands.length) {
    throw new WindcastError('internal', `GeoTIFF writer: ${options.bandDescriptions.length} band descriptions for ${bands.length} bands`);
  }
  if (options.bandMetadata && options.bandMetadata.length !== bands.length) {
    throw new WindcastError('internal', `GeoTIFF writer: ${options.bandMetadata.length} band metadata sets for ${bands.length} bands`);
  }
  const level = options.deflateLevel ?? 6;
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new WindcastError('internal', `GeoTIFF writer: deflate level must be 0..9, got ${level}`);
  const rowBytes = grid.width * 4;
  const rows = options.rowsPerStrip ?? Math.max(1, Math.floor(262_144 / rowBytes));
  if (!Number.isInteger(rows) || rows < 1) throw new WindcastError('internal', `GeoTIFF writer: rowsPerStrip must be a positive integer, got ${rows}`);
  return Math.min(rows, grid.height);
}

/**
 * Raw little-endian bytes of rows [r0, r1) of a band, in file row order (flipped when the
 * grid is written south-up), with NaN replaced by a numeric nodata value.
 */
function stripBytes(band: Float32Array, grid: GridSpec, r0: number, r1: number, nodata: number | null): Uint8Array {
  const w = grid.width;
  const out = new Float32Array((r1 - r0) * w);
  for (let r = r0; r < r1; r++) {
    const src = grid.sourceSouthUp ? grid.height - 1 - r : r;
    out.set(band.subarray(src * w, (src + 1) * w), (r - r0) * w);
  }
  if (nodata !== null && !Number.isNaN(nodata)) {
    const fill = Math.fround(nodata);
    for (let i = 0; i < out.length; i++) if (out[i] !== out[i]) out[i] = fill;
  }
  const bytes = new Uint8Array(out.buffer);
  if (!LITTLE_ENDIAN_HOST) {
    for (let i = 0; i < bytes.length; i += 4) {
      const a = bytes[i]!, b = bytes[i + 1]!;
      bytes[i] = bytes[i + 3]!; bytes[i + 1] = bytes[i + 2]!; bytes[i + 2] = b; bytes[i + 3] = a;
    }
  }
  return bytes;
}

/**
 * Floating-point predictor (TIFF TN3, as libtiff's fpDiff): per row, split the floats into byte
 * planes, most significant byte first, then replace each byte by its difference from the one
 * before. Neighbouring values share exponent and high mantissa bytes, so the planes deflate well.
 */
function floatPredictor(bytes: Uint8Array, width: number): Uint8Array {
  const rowBytes = width * 4;
  const out = new Uint8Array(bytes.length);
  const w2 = 2 * width;
  const w3 = 3 * width;
  // stripBytes returns a fresh, aligned buffer of little-endian floats: read whole words.
  const words = LITTLE_ENDIAN_HOST ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4) : bigEndianWords(bytes);
  for (let off = 0; off < bytes.length; off += rowBytes) {
    const w0 = off / 4;
    // One pass over the row's words, each giving its four bytes' differences from the same
    // plane's byte of the word before (Uint8Array stores wrap mod 256): what splitting the
    // planes and differencing them gave, reading every word once instead of once per plane.
    let before = 0;
    for (let i = 0; i < width; i++) {
      const v = words[w0 + i]!;
      const o = off + i;
      out[o] = (v >>> 24) - (before >>> 24);
      out[o + width] = (v >>> 16) - (before >>> 16);
      out[o + w2] = (v >>> 8) - (before >>> 8);
      out[o + w3] = v - before;
      before = v;
    }
    // A plane's first byte follows the previous plane's last one in the row's plane order.
    const first = words[w0]!;
    const last = words[w0 + width - 1]!;
    out[off + width] = ((first >>> 16) & 0xff) - (last >>> 24);
    out[off + w2] = ((first >>> 8) & 0xff) - ((last >>> 16) & 0xff);
    out[off + w3] = (first & 0xff) - ((last >>> 8) & 0xff);
  }
  return out;
}

/** The little-endian words of `bytes` on a big-endian host. */
function bigEndianWords(bytes: Uint8Array): Uint32Array {
  const words = new Uint32Array(bytes.length / 4);
  for (let k = 0, s = 0; k < words.length; k++, s += 4) words[k] = (bytes[s]! | (bytes[s + 1]! << 8) | (bytes[s + 2]! << 16) | (bytes[s + 3]! << 24)) >>> 0;
  return words;
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * Item text is escaped twice, as GDAL writes it (CPLEscapeString, then the XML serialiser):
 * GDAL unescapes twice when reading, so a value escaped once loses everything after an "&".
 */
function itemText(s: string): string {
  return xmlEscape(xmlEscape(s));
}

/** GDAL_METADATA XML: dataset items, then per band its description, unit type and items. */
function gdalMetadataXml(options: GeoTiffWriteOptions): string | null {
  const items: string[] = [];
  for (const [k, v] of Object.entries(options.metadata ?? {})) {
    items.push(`  <Item name="${xmlEscape(k)}">${itemText(v)}</Item>`);
  }
  options.bands.forEach((_, b) => {
    const description = options.bandDescriptions?.[b];
    if (description) items.push(`  <Item name="DESCRIPTION" sample="${b}" role="description">${itemText(description)}</Item>`);
    for (const [k, v] of Object.entries(options.bandMetadata?.[b] ?? {})) {
      // GDAL's band unit type is the item with role "unittype" (GDAL names it UNITTYPE).
      if (k === 'units') items.push(`  <Item name="UNITTYPE" sample="${b}" role="unittype">${itemText(v)}</Item>`);
      else items.push(`  <Item name="${xmlEscape(k)}" sample="${b}">${itemText(v)}</Item>`);
    }
  });
  if (items.length === 0) return null;
  return `<GDALMetadata>\n${items.join('\n')}\n</GDALMetadata>`;
}

/** GDAL_NODATA text: GDAL parses it with CPLAtof, and "nan" for NaN. */
function nodataText(nodata: number): string {
  if (Number.isNaN(nodata)) return 'nan';
  if (nodata === Infinity) return 'inf';
  if (nodata === -Infinity) return '-inf';
  return String(nodata);
}

/** The georeferencing tags for a grid (see the module header for the conventions). */
function georeferencing(grid: GridSpec): Entry[] {
  // Raster space (0,0) is the corner of the first pixel for PixelIsArea, its centre for PixelIsPoint.
  const half = grid.pixelIsPoint ? 0 : 0.5;
  const x0 = colLon(grid, 0) - half * grid.dLon;
  if (!grid.sourceSouthUp) {
    const y0 = rowLat(grid, 0) + half * grid.dLat;
    return [
      { tag: 33550, type: TYPE_DOUBLE, values: [grid.dLon, grid.dLat, 0] },
      { tag: 33922, type: TYPE_DOUBLE, values: [0, 0, 0, x0, y0, 0] },
    ];
  }
  const ySouth = rowLat(grid, grid.height - 1) - half * grid.dLat;
  return [
    {
      tag: 34264,
      type: TYPE_DOUBLE,
      values: [grid.dLon, 0, 0, x0, 0, grid.dLat, 0, ySouth, 0, 0, 0, 0, 0, 0, 0, 1],
    },
  ];
}

/** GeoKeyDirectory (34735), GeoDoubleParams (34736) and GeoAsciiParams (34737) for EPSG:4326. */
function geoKeys(grid: GridSpec): Entry[] {
  if (grid.epsg !== 4326) throw new WindcastError('internal', `GeoTIFF writer: only EPSG:4326 is supported, got ${grid.epsg}`);
  const ascii = 'WGS 84|';
  // [key, location (0 = inline value, else the tag holding it), count, value or index]
  const keys: Array<[number, number, number, number]> = [
    [1024, 0, 1, 2], // GTModelTypeGeoKey: geographic
    [1025, 0, 1, grid.pixelIsPoint ? 2 : 1], // GTRasterTypeGeoKey: PixelIsPoint / PixelIsArea
    [2048, 0, 1, 4326], // GeographicTypeGeoKey: WGS 84
    [2049, 34737, ascii.length, 0], // GeogCitationGeoKey
    [2054, 0, 1, 9102], // GeogAngularUnitsGeoKey: degree
    [2057, 34736, 1, 0], // GeogSemiMajorAxisGeoKey
    [2059, 34736, 1, 1], // GeogInvFlatteningGeoKey
  ];
  const dir: number[] = [1, 1, 0, keys.length];
  for (const k of keys) dir.push(...k);
  return [
    { tag: 34735, type: TYPE_SHORT, values: dir },
    { tag: 34736, type: TYPE_DOUBLE, values: [6378137, 298.257223563] },
    { tag: 34737, type: TYPE_ASCII, values: ascii },
  ];
}

function entryByteLength(e: Entry): number {
  const count = typeof e.values === 'string' ? Buffer.byteLength(e.values, 'latin1') + 1 : e.values.length;
  return count * TYPE_SIZE[e.type]!;
}

function entryCount(e: Entry): number {
  return typeof e.values === 'string' ? Buffer.byteLength(e.values, 'latin1') + 1 : e.values.length;
}

function writeValues(buf: Buffer, offset: number, e: Entry): void {
  if (typeof e.values === 'string') {
    buf.write(e.values, offset, 'latin1');
    buf[offset + Buffer.byteLength(e.values, 'latin1')] = 0;
    return;
  }
  const size = TYPE_SIZE[e.type]!;
  e.values.forEach((v, i) => {
    const at = offset + i * size;
    if (e.type === TYPE_SHORT) buf.writeUInt16LE(v, at);
    else if (e.type === TYPE_LONG) buf.writeUInt32LE(v, at);
    else buf.writeDoubleLE(v, at);
  });
}

/** How a GeoTIFF's pixels become strips: everything the strips' bytes depend on. */
export interface StripEncoding {
  grid: GridSpec;
  rowsPerStrip: number;
  /** NaN cells are written as this number (the numeric nodata value); null leaves them NaN. */
  fill: number | null;
  compress: boolean;
  /** 3 (floating-point) or 1 (none). */
  predictor: 1 | 3;
  deflateLevel: number;
  deflateStrategy: 'default' | 'rle';
}

/** The strip encoding of a file (checking its options), as encodeGeoTiffParts cuts it. */
export function stripEncoding(options: GeoTiffWriteOptions): StripEncoding {
  const rowsPerStrip = validate(options);
  const compress = options.compress === 'deflate';
  const nodata = options.nodata ?? null;
  const fill = nodata !== null && !Number.isNaN(nodata) ? Math.fround(nodata) : null;
  return { grid: options.grid, rowsPerStrip, fill, compress, predictor: compress ? (options.predictor ?? 3) : 1, deflateLevel: options.deflateLevel ?? 6, deflateStrategy: options.deflateStrategy ?? 'default' };
}

/** Strips per band. */
export function stripCount(e: StripEncoding): number {
  return Math.ceil(e.grid.height / e.rowsPerStrip);
}

/**
 * The rows of the band (north-up, as the forecast holds it) that strip s is made of, as
 * [first, end): a strip can be encoded once these rows are final. South-up grids are written
 * flipped, so their first strips hold the band's last rows.
 */
export function stripSourceRows(e: StripEncoding, s: number): [number, number] {
  const r0 = s * e.rowsPerStrip;
  const r1 = Math.min(e.grid.height, r0 + e.rowsPerStrip);
  return e.grid.sourceSouthUp ? [e.grid.height - r1, e.grid.height - r0] : [r0, r1];
}

/** Strip s of a band, as the file stores it (compressed or raw). */
export function encodeStrip(band: Float32Array, e: StripEncoding, s: number): Buffer {
  const r0 = s * e.rowsPerStrip;
  const r1 = Math.min(e.grid.height, r0 + e.rowsPerStrip);
  let bytes = stripBytes(band, e.grid, r0, r1, e.fill);
  if (!e.compress) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (e.predictor === 3) bytes = floatPredictor(bytes, e.grid.width);
  return deflateSync(bytes, { level: e.deflateLevel, strategy: e.deflateStrategy === 'rle' ? zlibConstants.Z_RLE : zlibConstants.Z_DEFAULT_STRATEGY });
}

/**
 * Encode a GeoTIFF as a list of buffers (header + directory, then the strips, band after band):
 * pure, for workers and tests. writeGeoTiff writes the list without joining it.
 */
export function encodeGeoTiffParts(options: GeoTiffWriteOptions): Buffer[] {
  const e = stripEncoding(options);
  const strips: Buffer[] = [];
  for (const band of options.bands) for (let s = 0; s < stripCount(e); s++) strips.push(encodeStrip(band, e, s));
  return [geoTiffHead(options, strips.map((s) => s.length)), ...strips];
}

/**
 * The header and directory of a GeoTIFF whose strips (band after band, in file order) have
 * these byte lengths: the file is this buffer followed by the strips.
 */
export function geoTiffHead(options: GeoTiffWriteOptions, stripLengths: readonly number[]): Buffer {
  const e = stripEncoding(options);
  const { grid, bands } = options;
  const { compress, predictor, rowsPerStrip } = e;
  const nodata = options.nodata ?? null;
  if (stripLengths.length !== bands.length * stripCount(e)) throw new WindcastError('internal', `GeoTIFF writer: ${stripLengths.length} strips for ${bands.length} bands of ${stripCount(e)} strips`);
  const nb = bands.length;
  const entries: Entry[] = [
    { tag: 256, type: TYPE_LONG, values: [grid.width] },
    { tag: 257, type: TYPE_LONG, values: [grid.height] },
    { tag: 258, type: TYPE_SHORT, values: new Array<number>(nb).fill(32) },
    { tag: 259, type: TYPE_SHORT, values: [compress ? 8 : 1] },
    { tag: 262, type: TYPE_SHORT, values: [1] }, // BlackIsZero
    { tag: 273, type: TYPE_LONG, values: new Array<number>(stripLengths.length).fill(0) }, // filled below
    { tag: 277, type: TYPE_SHORT, values: [nb] },
    { tag: 278, type: TYPE_LONG, values: [rowsPerStrip] },
    { tag: 279, type: TYPE_LONG, values: [...stripLengths] },
    { tag: 284, type: TYPE_SHORT, values: [nb > 1 ? 2 : 1] }, // planar-separate: one strip set per band
    { tag: 305, type: TYPE_ASCII, values: 'windcast' },
  ];
  if (predictor !== 1) entries.push({ tag: 317, type: TYPE_SHORT, values: [predictor] });
  if (nb > 1) entries.push({ tag: 338, type: TYPE_SHORT, values: new Array<number>(nb - 1).fill(0) }); // unspecified extra samples
  entries.push({ tag: 339, type: TYPE_SHORT, values: new Array<number>(nb).fill(3) }); // IEEE float
  entries.push(...georeferencing(grid), ...geoKeys(grid));
  const xml = gdalMetadataXml(options);
  if (xml) entries.push({ tag: 42112, type: TYPE_ASCII, values: xml });
  if (nodata !== null) entries.push({ tag: 42113, type: TYPE_ASCII, values: nodataText(nodata) });
  entries.sort((a, b) => a.tag - b.tag);

  const ifdOffset = 8;
  const ifdSize = 2 + entries.length * 12 + 4;
  let valueOffset = ifdOffset + ifdSize;
  const outOfLine = new Map<Entry, number>();
  for (const e of entries) {
    const len = entryByteLength(e);
    if (len > 4) {
      valueOffset += valueOffset % 2; // TIFF values start on a word boundary
      outOfLine.set(e, valueOffset);
      valueOffset += len;
    }
  }
  valueOffset += valueOffset % 2;
  const headLength = valueOffset;
  const offsets = entries.find((e) => e.tag === 273)!.values as number[];
  let at = headLength;
  stripLengths.forEach((length, i) => {
    offsets[i] = at;
    at += length;
  });
  if (at > 0xffff_ffff) {
    throw new WindcastError('internal', `GeoTIFF writer: ${at} bytes exceed the 4 GiB limit of classic TIFF`);
  }

  const head = Buffer.alloc(headLength);
  head.write('II', 0, 'latin1');
  head.writeUInt16LE(42, 2);
  head.writeUInt32LE(ifdOffset, 4);
  head.writeUInt16LE(entries.length, ifdOffset);
  entries.forEach((e, i) => {
    const p = ifdOffset + 2 + i * 12;
    head.writeUInt16LE(e.tag, p);
    head.writeUInt16LE(e.type, p + 2);
    head.writeUInt32LE(entryCount(e), p + 4);
    const where = outOfLine.get(e);
    if (where === undefined) writeValues(head, p + 8, e);
    else {
      head.writeUInt32LE(where, p + 8);
      writeValues(head, where, e);
    }
  });
  head.writeUInt32LE(0, ifdOffset + 2 + entries.length * 12); // no further IFD
  return head;
}


/** Encode a GeoTIFF into one buffer (pure, for workers and tests). */
export function encodeGeoTiff(options: GeoTiffWriteOptions): Buffer {
  return Buffer.concat(encodeGeoTiffParts(options));
}

/** Encode and write a GeoTIFF atomically (core/atomic.ts). */
export async function writeGeoTiff(path: string, options: GeoTiffWriteOptions): Promise<void> {
  await writeFileAtomic(path, encodeGeoTiffParts(options));
}
