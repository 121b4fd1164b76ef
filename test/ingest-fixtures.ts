/**
 * Tiny GeoTIFF writer for ingest tests and the ingest benchmark: little-endian classic TIFF,
 * any GDAL sample type windcast reads, strips or tiles, none/DEFLATE, PixelScale+Tiepoint or
 * ModelTransformation (south-up, rotated), GeoKeys, GDAL_NODATA and GDAL_METADATA. It writes
 * exactly the tags asked for, so tests can produce the odd files real data contains.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { deflateSync } from 'node:zlib';

export type FixtureType = 'uint8' | 'int16' | 'uint16' | 'int32' | 'float32' | 'float64';

export interface FixtureOptions {
  width: number;
  height: number;
  /** Band values in file order (row 0 = first stored row), one array per band. */
  bands: ArrayLike<number>[];
  type?: FixtureType;
  compress?: 'none' | 'deflate';
  /** Rows per strip (default: all) or square tiles of this size. */
  rowsPerStrip?: number;
  tile?: number;
  /** Georeferencing: the corner of the first stored pixel and the cell size (GDAL geotransform). */
  geo?:
    | { kind: 'tiepoint'; x0: number; y0: number; dx: number; dy: number }
    | { kind: 'transform'; gt: [number, number, number, number, number, number] }
    | { kind: 'none' };
  /** GeoKeys: geographic EPSG code, projected EPSG code, or none at all. */
  crs?: { geographic: number } | { projected: number } | { none: true };
  pixelIsPoint?: boolean;
  nodata?: string;
  /** GDAL per-band scale/offset and dataset items (e.g. time). */
  scale?: number[];
  offset?: number[];
  items?: Record<string, string>;
  /** Per-band GDAL metadata items, e.g. { DESCRIPTION: 'u100' } as GDAL writes band descriptions. */
  bandItems?: Record<string, string>[];
  /** TIFFTAG_DATETIME, "YYYY:MM:DD HH:MM:SS". */
  dateTime?: string;
  /** SampleFormat override (e.g. 5 = complex int) to test refusals. */
  sampleFormat?: number;
}

const TYPES: Record<FixtureType, { bits: number; format: number; set: (dv: DataView, o: number, v: number) => void }> = {
  uint8: { bits: 8, format: 1, set: (dv, o, v) => dv.setUint8(o, v) },
  int16: { bits: 16, format: 2, set: (dv, o, v) => dv.setInt16(o, v, true) },
  uint16: { bits: 16, format: 1, set: (dv, o, v) => dv.setUint16(o, v, true) },
  int32: { bits: 32, format: 2, set: (dv, o, v) => dv.setInt32(o, v, true) },
  float32: { bits: 32, format: 3, set: (dv, o, v) => dv.setFloat32(o, v, true) },
  float64: { bits: 64, format: 3, set: (dv, o, v) => dv.setFloat64(o, v, true) },
};

type Entry = { tag: number; type: 2 | 3 | 4 | 12; values: number[] | string };

/** Bytes of a GeoTIFF. */
export function encodeFixture(o: FixtureOptions): Uint8Array {
  const type = o.type ?? 'float32';
  const { bits, format, set } = TYPES[type];
  const bytesPer = bits / 8;
  const spp = o.bands.length;
  const tiled = o.tile !== undefined;
  const bw = tiled ? o.tile! : o.width;
  const bh = tiled ? o.tile! : Math.min(o.rowsPerStrip ?? o.height, o.height);
  const across = Math.ceil(o.width / bw);
  const down = Math.ceil(o.height / bh);
  const blocks: Uint8Array[] = [];
  for (let by = 0; by < down; by++) {
    for (let bx = 0; bx < across; bx++) {
      // Strips are cut at the image edge; tiles are always full size (padded with zeros).
      const rows = tiled ? bh : Math.min(bh, o.height - by * bh);
      const raw = new Uint8Array(bw * rows * spp * bytesPer);
      const dv = new DataView(raw.buffer);
      for (let r = 0; r < rows; r++) {
        const y = by * bh + r;
        for (let c = 0; c < bw; c++) {
          const x = bx * bw + c;
          if (x >= o.width || y >= o.height) continue;
          for (let s = 0; s < spp; s++) set(dv, ((r * bw + c) * spp + s) * bytesPer, o.bands[s]![y * o.width + x]!);
        }
      }
      blocks.push(o.compress === 'deflate' ? deflateSync(raw) : raw);
    }
  }

  const entries: Entry[] = [
    { tag: 256, type: 4, values: [o.width] },
    { tag: 257, type: 4, values: [o.height] },
    { tag: 258, type: 3, values: Array(spp).fill(bits) },
    { tag: 259, type: 3, values: [o.compress === 'deflate' ? 8 : 1] },
    { tag: 262, type: 3, values: [1] },
    { tag: 277, type: 3, values: [spp] },
    { tag: 284, type: 3, values: [1] },
    { tag: 339, type: 3, values: Array(spp).fill(o.sampleFormat ?? format) },
  ];
  if (spp > 1) entries.push({ tag: 338, type: 3, values: Array(spp - 1).fill(0) });
  if (tiled) {
    entries.push({ tag: 322, type: 4, values: [bw] }, { tag: 323, type: 4, values: [bh] });
  } else {
    entries.push({ tag: 278, type: 4, values: [bh] });
  }
  if (o.dateTime) entries.push({ tag: 306, type: 2, values: o.dateTime });

  const geo = o.geo ?? { kind: 'none' };
  if (geo.kind === 'tiepoint') {
    const shift = o.pixelIsPoint ? 0.5 : 0;
    entries.push({ tag: 33550, type: 12, values: [geo.dx, -geo.dy, 0] });
    entries.push({ tag: 33922, type: 12, values: [0, 0, 0, geo.x0 + shift * geo.dx, geo.y0 + shift * geo.dy, 0] });
  } else if (geo.kind === 'transform') {
    const [c, a, b, f, d, e] = geo.gt;
    const shift = o.pixelIsPoint ? 0.5 : 0;
    entries.push({ tag: 34264, type: 12, values: [a, b, 0, c + shift * (a + b), d, e, 0, f + shift * (d + e), 0, 0, 0, 0, 0, 0, 0, 1] });
  }
  const crs = o.crs ?? { geographic: 4326 };
  if (!('none' in crs)) {
    const keys: number[][] = [];
    if ('geographic' in crs) {
      keys.push([1024, 0, 1, 2], [1025, 0, 1, o.pixelIsPoint ? 2 : 1], [2048, 0, 1, crs.geographic], [2054, 0, 1, 9102]);
    } else {
      keys.push([1024, 0, 1, 1], [1025, 0, 1, o.pixelIsPoint ? 2 : 1], [3072, 0, 1, crs.projected]);
    }
    entries.push({ tag: 34735, type: 3, values: [1, 1, 0, keys.length, ...keys.flat()] });
  }
  const items: string[] = [];
  for (const [name, value] of Object.entries(o.items ?? {})) items.push(`<Item name="${name}">${value}</Item>`);
  o.scale?.forEach((s, i) => items.push(`<Item name="SCALE" sample="${i}" role="scale">${s}</Item>`));
  o.offset?.forEach((s, i) => items.push(`<Item name="OFFSET" sample="${i}" role="offset">${s}</Item>`));
  o.bandItems?.forEach((band, i) => {
    for (const [name, value] of Object.entries(band)) items.push(`<Item name="${name}" sample="${i}"${name === 'DESCRIPTION' ? ' role="description"' : ''}>${value}</Item>`);
  });
  if (items.length) entries.push({ tag: 42112, type: 2, values: `<GDALMetadata>${items.join('')}</GDALMetadata>` });
  if (o.nodata !== undefined) entries.push({ tag: 42113, type: 2, values: o.nodata });

  // Layout: header, pixel blocks, IFD, out-of-line values.
  let pos = 8;
  const offsets: number[] = [];
  for (const b of blocks) {
    offsets.push(pos);
    pos += b.byteLength + (b.byteLength & 1);
  }
  entries.push({ tag: tiled ? 324 : 273, type: 4, values: offsets });
  entries.push({ tag: tiled ? 325 : 279, type: 4, values: blocks.map((b) => b.byteLength) });
  entries.sort((a, b) => a.tag - b.tag);
  const ifdStart = pos;
  const ifdSize = 2 + entries.length * 12 + 4;
  let extra = ifdStart + ifdSize;
  const size = (e: Entry) => (typeof e.values === 'string' ? e.values.length + 1 : e.values.length * { 2: 1, 3: 2, 4: 4, 12: 8 }[e.type]);
  const total = extra + entries.reduce((s, e) => s + (size(e) > 4 ? size(e) + 1 : 0), 0) + 8;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set([0x49, 0x49, 42, 0]);
  dv.setUint32(4, ifdStart, true);
  blocks.forEach((b, i) => out.set(b, offsets[i]!));
  dv.setUint16(ifdStart, entries.length, true);
  entries.forEach((e, i) => {
    const p = ifdStart + 2 + i * 12;
    const n = typeof e.values === 'string' ? e.values.length + 1 : e.values.length;
    dv.setUint16(p, e.tag, true);
    dv.setUint16(p + 2, e.type, true);
    dv.setUint32(p + 4, n, true);
    let at = p + 8;
    if (size(e) > 4) {
      extra += extra & 1;
      dv.setUint32(p + 8, extra, true);
      at = extra;
      extra += size(e);
    }
    if (typeof e.values === 'string') {
      for (let k = 0; k < e.values.length; k++) out[at + k] = e.values.charCodeAt(k);
    } else {
      e.values.forEach((v, k) => {
        if (e.type === 3) dv.setUint16(at + k * 2, v, true);
        else if (e.type === 4) dv.setUint32(at + k * 4, v, true);
        else dv.setFloat64(at + k * 8, v, true);
      });
    }
  });
  dv.setUint32(ifdStart + ifdSize - 4, 0, true);
  return out.subarray(0, Math.max(extra, ifdStart + ifdSize));
}

export function writeFixture(path: string, o: FixtureOptions): void {
  writeFileSync(path, encodeFixture(o));
}

/** A global-style lat/lon fixture: width x height cells of `step` degrees, first row's top at lat `top`. */
export function latLonFixture(width: number, height: number, values: (row: number, col: number, band: number) => number, options: Partial<FixtureOptions> & { step?: number; west?: number; top?: number; bandCount?: number } = {}): FixtureOptions {
  const step = options.step ?? 1;
  const west = options.west ?? 0;
  const top = options.top ?? 90;
  const bands = Array.from({ length: options.bandCount ?? 1 }, (_, b) => {
    const a = new Float64Array(width * height);
    for (let r = 0; r < height; r++) for (let c = 0; c < width; c++) a[r * width + c] = values(r, c, b);
    return a;
  });
  return { width, height, bands, geo: { kind: 'tiepoint', x0: west, y0: top, dx: step, dy: -step }, ...options };
}

// ---------------------------------------------------------------------------------------------
// GDAL as the referee. Without gdal-bin a cross-check is skipped with the reason; with
// WINDCAST_REQUIRE_GDAL=1 (CI) it fails instead, so a missing GDAL never passes silently.

const GDAL_TOOLS = ['gdalinfo', 'gdal_translate', 'gdallocationinfo'];

let gdalChecked: boolean | undefined;
/** True when the GDAL command-line tools the cross-checks run are on PATH. */
export function hasGdal(): boolean {
  if (gdalChecked === undefined) {
    try {
      for (const tool of GDAL_TOOLS) execFileSync(tool, ['--version'], { stdio: 'pipe' });
      gdalChecked = true;
    } catch {
      gdalChecked = false;
    }
  }
  return gdalChecked;
}

/** CI sets WINDCAST_REQUIRE_GDAL=1: there a GDAL cross-check must run. */
export function gdalRequired(): boolean {
  return process.env.WINDCAST_REQUIRE_GDAL === '1';
}

/**
 * Guard for a test that is a GDAL cross-check: true when GDAL is installed; otherwise the test
 * is skipped with the reason (returns false), or fails when WINDCAST_REQUIRE_GDAL=1. Call it
 * before any other assertion and return when it is false: node:test reports a skipped test
 * as skipped even when an assertion after t.skip() fails.
 */
export function gdalOrSkip(t: TestContext): boolean {
  if (hasGdal()) return true;
  if (gdalRequired()) {
    assert.fail(`WINDCAST_REQUIRE_GDAL=1 but GDAL is not installed (${GDAL_TOOLS.join(', ')} not all on PATH): install gdal-bin`);
  }
  t.skip('GDAL not installed (gdal-bin): cross-check not run; WINDCAST_REQUIRE_GDAL=1 makes this a failure');
  return false;
}

/**
 * GDAL cross-checks inside a larger test, run as a subtest of t: without GDAL only the subtest
 * is skipped (or fails, with WINDCAST_REQUIRE_GDAL=1), and the rest of the test still counts.
 */
export async function withGdal(t: TestContext, name: string, checks: () => void | Promise<void>): Promise<void> {
  await t.test(`GDAL cross-check: ${name}`, async (sub) => {
    if (gdalOrSkip(sub)) await checks();
  });
}

export interface GdalBand {
  /** GDAL's data type name (Byte, Int16, Float32, ...). */
  type: string;
  /** GDAL's nodata value, or null. */
  nodata: number | null;
  scale: number;
  offset: number;
}

export interface GdalRead {
  width: number;
  height: number;
  /** GDAL's geotransform (corner of the first stored pixel). */
  geoTransform: number[] | null;
  /** Per band: type, nodata, scale and offset as gdalinfo reports them. */
  info: GdalBand[];
  /**
   * Values as windcast promises to read them: GDAL's raw value * scale + offset, NaN where the
   * raw value is GDAL's nodata (compared in the band's own precision) or NaN. Rows in stored
   * order.
   */
  bands: Float64Array[];
}

/** What GDAL reads from a file: gdalinfo -json for tags, gdal_translate -of ENVI for values. */
export function gdalRead(path: string): GdalRead {
  const info = JSON.parse(execFileSync('gdalinfo', ['-json', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as {
    size: [number, number];
    geoTransform?: number[];
    bands: Array<{ type: string; noDataValue?: number | string; scale?: number; offset?: number }>;
  };
  const [width, height] = info.size;
  const dir = mkdtempSync(join(tmpdir(), 'windcast-gdal-'));
  try {
    const out = join(dir, 'v.bin');
    execFileSync('gdal_translate', ['-q', '-ot', 'Float64', '-of', 'ENVI', '-co', 'INTERLEAVE=BSQ', path, out], { stdio: 'pipe' });
    const buf = readFileSync(out);
    const all = new Float64Array(buf.buffer, buf.byteOffset, buf.byteLength / 8);
    const n = width * height;
    const bandInfo: GdalBand[] = [];
    const bands = info.bands.map((b, i) => {
      const raw = all.slice(i * n, (i + 1) * n);
      // GDAL matches nodata in the band's own type (a Float32 band's -3.4e38 is its float32 rounding).
      const ndRaw = b.noDataValue === undefined ? undefined : Number(b.noDataValue);
      const nd = ndRaw !== undefined && b.type === 'Float32' ? Math.fround(ndRaw) : ndRaw;
      const s = b.scale ?? 1;
      const o = b.offset ?? 0;
      bandInfo.push({ type: b.type, nodata: ndRaw ?? null, scale: s, offset: o });
      for (let k = 0; k < n; k++) {
        const v = raw[k]!;
        raw[k] = (nd !== undefined && (v === nd || (Number.isNaN(nd) && Number.isNaN(v)))) || Number.isNaN(v) ? NaN : v * s + o;
      }
      return raw;
    });
    return { width, height, geoTransform: info.geoTransform ?? null, info: bandInfo, bands };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Largest |a - b| over cells, and the number of cells where exactly one of them is NaN. */
export function compareValues(ours: ArrayLike<number>, theirs: ArrayLike<number>): { maxDiff: number; nanMismatch: number } {
  let maxDiff = 0;
  let nanMismatch = 0;
  for (let i = 0; i < ours.length; i++) {
    const a = ours[i]!;
    const b = theirs[i]!;
    if (Number.isNaN(a) || Number.isNaN(b)) {
      if (Number.isNaN(a) !== Number.isNaN(b)) nanMismatch++;
      continue;
    }
    maxDiff = Math.max(maxDiff, Math.abs(a - b) / Math.max(1, Math.abs(b)));
  }
  return { maxDiff, nanMismatch };
}

/**
 * Cells where our Float32 value is not GDAL's value rounded to Float32 (both NaN counts as
 * equal): the count and the first such cell. windcast stores Float32, so this is exact equality.
 */
export function valueMismatches(ours: Float32Array, theirs: ArrayLike<number>): { count: number; first?: { cell: number; ours: number; gdal: number } } {
  if (ours.length !== theirs.length) throw new Error(`compared ${ours.length} cells with GDAL's ${theirs.length}`);
  let count = 0;
  let first: { cell: number; ours: number; gdal: number } | undefined;
  for (let i = 0; i < ours.length; i++) {
    const a = ours[i]!;
    const b = theirs[i]!;
    if (a === Math.fround(b) || (a !== a && b !== b)) continue;
    count++;
    first ??= { cell: i, ours: a, gdal: b };
  }
  return first ? { count, first } : { count };
}

/** Rows of a band in reverse order (GDAL keeps a south-up file's stored order; ours is north-up). */
export function flipRows(a: Float64Array, width: number, height: number): Float64Array {
  const out = new Float64Array(a.length);
  for (let r = 0; r < height; r++) out.set(a.subarray((height - 1 - r) * width, (height - r) * width), r * width);
  return out;
}
