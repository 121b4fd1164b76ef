import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { TestContext } from 'node:test';
import { DataError } from '../src/core/errors.js';
import { readRaster, readRasterHeader, rasterSpeed } from '../src/ingest/raster.js';
import { encodeFixture, flipRows, gdalOrSkip, gdalRead, latLonFixture, valueMismatches, withGdal, writeFixture, type FixtureOptions } from './ingest-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'windcast-raster-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

let counter = 0;
function write(o: FixtureOptions): string {
  const path = join(dir, `f${counter++}.tif`);
  writeFixture(path, o);
  return path;
}

/** 8 x 4 cells of 45 degrees; value encodes (band, row, col) so flips and shifts show. */
const value = (r: number, c: number, b: number) => b * 100 + r * 10 + c;

/** Our GridSpec as GDAL's geotransform of the file as stored (for south-up, GDAL's positive dy). */
function asGeoTransform(r: Awaited<ReturnType<typeof readRaster>>): number[] {
  const g = r.grid;
  const left = g.lon0 - g.dLon / 2;
  const top = g.lat0 + g.dLat / 2;
  // GDAL's geotransform is corner-based for PixelIsPoint files too (it shifts by half a cell).
  return g.sourceSouthUp ? [left, g.dLon, 0, top - g.height * g.dLat, 0, g.dLat] : [left, g.dLon, 0, top, 0, -g.dLat];
}

/**
 * The referee, as a subtest of t (skipped without GDAL, failed with WINDCAST_REQUIRE_GDAL=1):
 * our geotransform equals GDAL's and every value is GDAL's rounded to Float32.
 */
async function checkWithGdal(t: TestContext, path: string): Promise<void> {
  await withGdal(t, `${basename(path)} reads as in GDAL`, () => {
    const ours = readRasterSync(path);
    const gdal = gdalRead(path);
    const gt = asGeoTransform(ours);
    gdal.geoTransform!.forEach((x, i) => assert.ok(Math.abs(x - gt[i]!) < 1e-9, `${path}: geotransform ${gt} vs GDAL ${gdal.geoTransform}`));
    assert.equal(gdal.bands.length, ours.bandCount);
    ours.bands.forEach((band, b) => {
      // GDAL keeps the stored row order; ours is north-up.
      const theirs = ours.grid.sourceSouthUp ? flipRows(gdal.bands[b]!, gdal.width, gdal.height) : gdal.bands[b]!;
      const { count, first } = valueMismatches(band, theirs);
      assert.equal(count, 0, `${path} band ${b + 1}: ${count} cells differ from GDAL, first cell ${first?.cell}: ours ${first?.ours}, GDAL ${first?.gdal}`);
    });
  });
}

const cache = new Map<string, Awaited<ReturnType<typeof readRaster>>>();
function readRasterSync(path: string) {
  const r = cache.get(path);
  if (!r) throw new Error('read first');
  return r;
}
async function read(path: string) {
  const r = await readRaster(path);
  cache.set(path, r);
  return r;
}

test('float32 strips: grid from PixelScale + Tiepoint, values as stored', async (t) => {
  const path = write(latLonFixture(8, 4, value, { step: 45, rowsPerStrip: 3 }));
  const r = await read(path);
  assert.deepEqual(r.grid, { width: 8, height: 4, lon0: 22.5, lat0: 67.5, dLon: 45, dLat: 45, pixelIsPoint: false, sourceSouthUp: false, epsg: 4326 });
  assert.equal(r.dataType, 'float32');
  assert.equal(r.bandCount, 1);
  assert.equal(r.bands[0]![0], 0);
  assert.equal(r.bands[0]![1 * 8 + 3], 13);
  await checkWithGdal(t, path);
});

test('int16 with GDAL scale/offset and nodata, DEFLATE tiles, longitudes -180..180', async (t) => {
  const path = write(latLonFixture(8, 4, (r, c) => (r === 2 && c === 5 ? -32768 : value(r, c, 0)), {
    step: 45, west: -180, type: 'int16', scale: [0.1], offset: [2], nodata: '-32768', compress: 'deflate', tile: 16,
  }));
  const r = await read(path);
  assert.equal(r.grid.lon0, -157.5);
  assert.equal(r.dataType, 'int16');
  assert.deepEqual([r.scale, r.offset, r.nodata], [[0.1], [2], -32768]);
  assert.ok(Number.isNaN(r.bands[0]![2 * 8 + 5]!));
  assert.ok(Math.abs(r.bands[0]![1 * 8 + 3]! - (13 * 0.1 + 2)) < 1e-6);
  assert.equal(r.layout, 'tiles 16x16');
  await checkWithGdal(t, path);
});

test('south-up ModelTransformation is flipped to north-up; PixelIsPoint gives cell centres', async (t) => {
  // Stored row 0 is the southernmost row: its top-left corner at (0, -90), dy = +45.
  const path = write({ ...latLonFixture(8, 4, value, {}), geo: { kind: 'transform', gt: [0, 45, 0, -90, 0, 45] }, pixelIsPoint: true, type: 'uint16' });
  const r = await read(path);
  assert.equal(r.grid.sourceSouthUp, true);
  assert.equal(r.grid.pixelIsPoint, true);
  assert.equal(r.grid.lat0, 67.5);
  assert.equal(r.grid.lon0, 22.5);
  // North-up row 0 is stored row 3.
  assert.equal(r.bands[0]![0], 30);
  assert.equal(r.bands[0]![3 * 8 + 7], 7);
  await checkWithGdal(t, path);
});

test('negative ModelPixelScale Y follows GDAL: north-up, with a warning', async (t) => {
  const o = latLonFixture(4, 4, value, { step: 1, top: 56 });
  const path = write({ ...o, geo: { kind: 'tiepoint', x0: 3, y0: 56, dx: 1, dy: 1 } });
  const r = await read(path);
  assert.equal(r.grid.sourceSouthUp, false);
  assert.equal(r.grid.lat0, 55.5);
  assert.equal(r.bands[0]![0], 0);
  assert.match(r.warnings.join(), /negative ModelPixelScale Y/);
  await checkWithGdal(t, path);
});

test('2 bands are u and v; speed is their hypot', async (t) => {
  const path = write(latLonFixture(8, 4, (r, c, b) => (b === 0 ? 3 : 4) * (r + 1), { step: 45, bandCount: 2, type: 'float64' }));
  const r = await read(path);
  assert.equal(r.bandCount, 2);
  assert.equal(r.bands[1]![8], 8);
  assert.equal(rasterSpeed(r)[8], 10);
  await checkWithGdal(t, path);
});

test('float nodata: NaN and the float32 rounding of -3.4e38 both become NaN', async (t) => {
  const a = write(latLonFixture(8, 4, (r, c) => (c === 0 ? NaN : 1), { step: 45, nodata: 'nan' }));
  const b = write(latLonFixture(8, 4, (r, c) => (c === 1 ? -3.4e38 : 1), { step: 45, nodata: '-3.39999999999999996e+38' }));
  const ra = await read(a);
  const rb = await read(b);
  assert.equal(ra.bands[0]!.filter(Number.isNaN).length, 4);
  assert.equal(rb.bands[0]!.filter(Number.isNaN).length, 4);
  await checkWithGdal(t, a);
  await checkWithGdal(t, b);
});

async function refusal(o: FixtureOptions | Uint8Array | string, pattern: RegExp): Promise<void> {
  const path = join(dir, `bad${counter++}.tif`);
  if (typeof o === 'string' || o instanceof Uint8Array) writeFileSync(path, o);
  else writeFixture(path, o);
  await assert.rejects(readRaster(path), (err: unknown) => {
    assert.ok(err instanceof DataError, `expected a DataError, got ${String(err)}`);
    assert.ok(err.message.startsWith(`${path}: `), err.message);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'));
    return true;
  });
}

test('refusals name the file and say what is wrong', async () => {
  const ok = latLonFixture(8, 4, value, { step: 45 });
  await refusal('', /empty file \(0 bytes\)/);
  await refusal('GIF89a....', /not a TIFF file \(starts with bytes 47 49 46 38/);
  await refusal(new Uint8Array([0x49, 0x49, 42, 0, 0xff, 0xff, 0, 0]), /truncated or corrupt TIFF structure/);
  const bytes = encodeFixture(ok);
  await refusal(lastStripBeyondEnd(encodeFixture({ ...ok, rowsPerStrip: 1 })), /truncated data: strip 3 ends at byte \d+ but the file has \d+ bytes/);
  await refusal(bytes.subarray(0, 40), /truncated or corrupt TIFF structure/);
  await refusal({ ...ok, bands: [ok.bands[0]!, ok.bands[0]!, ok.bands[0]!] }, /3 bands: windcast wants 1 band \(wind speed\) or 2 bands \(u, v\)/);
  await refusal({ ...ok, crs: { projected: 32633 } }, /projected CRS EPSG:32633 is not supported/);
  await refusal({ ...ok, crs: { geographic: 4269 } }, /geographic CRS EPSG:4269 is not WGS 84/);
  await refusal({ ...ok, crs: { none: true } }, /missing georeferencing: no GeoKeys/);
  await refusal({ ...ok, geo: { kind: 'none' } }, /missing georeferencing: no ModelPixelScale/);
  await refusal({ ...ok, geo: { kind: 'transform', gt: [0, 40, 5, 90, 5, -40] } }, /rotated or sheared grid/);
  await refusal({ ...ok, geo: { kind: 'tiepoint', x0: 500000, y0: 6000000, dx: 1000, dy: -1000 } }, /not a lat\/lon grid/);
  await refusal({ ...ok, type: 'int32', sampleFormat: 5 }, /unsupported sample type: complex integer/);
});

/**
 * What a download cut short looks like to a reader: the header lists a strip that ends past
 * the end of the file. (Our writer puts the IFD last, so cutting the bytes would remove the
 * header instead; the byte count of the last strip is enlarged to 1 MiB.)
 */
function lastStripBeyondEnd(bytes: Uint8Array): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ifd = dv.getUint32(4, true);
  const n = dv.getUint16(ifd, true);
  for (let i = 0; i < n; i++) {
    const p = ifd + 2 + i * 12;
    if (dv.getUint16(p, true) === 279) {
      const count = dv.getUint32(p + 4, true);
      const at = count > 1 ? dv.getUint32(p + 8, true) : p + 8;
      dv.setUint32(at + (count - 1) * 4, 1 << 20, true);
    }
  }
  return bytes;
}

test('readRasterHeader reads tags without pixels; the time comes from TIFFTAG_DATETIME', async () => {
  const path = write({ ...latLonFixture(8, 4, value, { step: 45 }), dateTime: '2024:05:06 07:00:00' });
  const h = await readRasterHeader(path);
  assert.equal(h.metadataTime, Date.UTC(2024, 4, 6, 7));
  assert.equal(h.compression, 'none');
  assert.ok(readFileSync(path).length > 0);
});

test('GDAL-written variants (predictors, LZW, tiles, band/pixel interleave, big-endian) read like GDAL', async (t) => {
  if (!gdalOrSkip(t)) return;
  const base = write(latLonFixture(36, 19, (r, c, b) => (r * 37 + c) * 0.173 - 20 + b * 3.5 + (r === 3 && c === 5 ? NaN : 0), { step: 10, top: 95, bandCount: 2, nodata: 'nan' }));
  const int = write(latLonFixture(35, 19, (r, c) => (r * 37 + c) * 7 - 2000, { step: 10, top: 95, type: 'int16', nodata: '-2000', scale: [0.01], offset: [0.5] }));
  const variants: Array<[string, string[]]> = [
    [base, ['-co', 'COMPRESS=DEFLATE', '-co', 'PREDICTOR=3']],
    [base, ['-co', 'COMPRESS=DEFLATE', '-co', 'PREDICTOR=3', '-co', 'INTERLEAVE=BAND', '-co', 'TILED=YES', '-co', 'BLOCKXSIZE=16', '-co', 'BLOCKYSIZE=16']],
    [base, ['-co', 'COMPRESS=LZW', '-co', 'BLOCKYSIZE=5']],
    [base, ['-co', 'ENDIANNESS=BIG', '-co', 'COMPRESS=DEFLATE']],
    [base, ['-co', 'COMPRESS=ZSTD', '-co', 'PREDICTOR=3']],
    [int, ['-co', 'COMPRESS=DEFLATE', '-co', 'PREDICTOR=2', '-co', 'TILED=YES', '-co', 'BLOCKXSIZE=16', '-co', 'BLOCKYSIZE=16']],
    [int, ['-co', 'COMPRESS=LZW', '-co', 'PREDICTOR=2']],
    [int, ['-co', 'COMPRESS=PACKBITS']],
  ];
  const { execFileSync } = await import('node:child_process');
  for (const [src, options] of variants) {
    const out = join(dir, `gdal${counter++}.tif`);
    try {
      execFileSync('gdal_translate', ['-q', ...options, src, out], { stdio: 'pipe' });
    } catch {
      continue; // this GDAL build lacks the codec (e.g. ZSTD)
    }
    const r = await read(out);
    assert.equal(r.bandCount, src === base ? 2 : 1, options.join(' '));
    await checkWithGdal(t, out);
  }
});
