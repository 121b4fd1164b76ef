import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fromArrayBuffer } from 'geotiff';
import { DataError } from '../src/core/errors.js';
import { encodeGeoTiff, writeGeoTiff, type GeoTiffWriteOptions } from '../src/output/geotiff-write.js';
import { era5Grid, type GridSpec } from '../src/core/grid.js';
import { flipRows, gdalOrSkip, gdalRead, valueMismatches } from './ingest-fixtures.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'windcast-gtw-'));

/** A small grid: 5 degree cells over the whole globe (72 x 37). */
function smallGrid(over: Partial<GridSpec> = {}): GridSpec {
  return { ...era5Grid({ step: 5 }), ...over };
}

/** Distinct values per cell so any misplaced row or column shows. */
function ramp(grid: GridSpec, scale = 1, offset = 0): Float32Array {
  return Float32Array.from({ length: grid.width * grid.height }, (_, i) => offset + scale * (i % 977) + Math.floor(i / 977) / 8);
}

async function read(buf: Buffer) {
  const tiff = await fromArrayBuffer(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer);
  const image = await tiff.getImage();
  const rasters = (await image.readRasters()) as unknown as Float32Array[];
  return { image, rasters };
}

function tag(image: Awaited<ReturnType<typeof read>>['image'], name: string): unknown {
  return (image.fileDirectory as unknown as { getValue(n: string): unknown }).getValue(name);
}

test('round-trips a DEFLATE + predictor 3 band through geotiff.js: values, size, georeferencing, keys', async () => {
  const grid = smallGrid();
  const band = ramp(grid, 0.37, -3);
  const { image, rasters } = await read(encodeGeoTiff({ grid, bands: [band], compress: 'deflate' }));
  assert.equal(image.getWidth(), 72);
  assert.equal(image.getHeight(), 37);
  assert.equal(image.getSamplesPerPixel(), 1);
  assert.deepEqual(Array.from(rasters[0]!), Array.from(band));
  assert.equal(tag(image, 'Compression'), 8);
  assert.equal(tag(image, 'Predictor'), 3);
  assert.deepEqual(Array.from(tag(image, 'SampleFormat') as ArrayLike<number>), [3]);
  assert.deepEqual(Array.from(tag(image, 'BitsPerSample') as ArrayLike<number>), [32]);
  // PixelIsArea: the tie point is the outer corner of the first cell.
  assert.deepEqual(image.getOrigin(), [-2.5, 92.5, 0]);
  assert.deepEqual(image.getResolution(), [5, -5, 0]);
  const keys = image.getGeoKeys() as Record<string, unknown>;
  assert.equal(keys.GTModelTypeGeoKey, 2);
  assert.equal(keys.GTRasterTypeGeoKey, 1);
  assert.equal(keys.GeographicTypeGeoKey, 4326);
  assert.equal(keys.GeogAngularUnitsGeoKey, 9102);
  assert.equal(image.getGDALNoData(), null);
});

test('nodata: NaN cells are written as the nodata value and GDAL_NODATA names it', async () => {
  const grid = smallGrid();
  const band = ramp(grid);
  band[5] = NaN;
  band[grid.width * grid.height - 1] = NaN;
  const { image, rasters } = await read(encodeGeoTiff({ grid, bands: [band], nodata: -9999, compress: 'deflate' }));
  assert.equal(image.getGDALNoData(), -9999);
  assert.equal(rasters[0]![5], -9999);
  assert.equal(rasters[0]![grid.width * grid.height - 1], -9999);
  assert.equal(rasters[0]![6], band[6]);

  const nan = await read(encodeGeoTiff({ grid, bands: [band], nodata: NaN, compress: 'none' }));
  assert.ok(Number.isNaN(nan.image.getGDALNoData()));
  assert.ok(Number.isNaN(nan.rasters[0]![5]!));
});

test('multi-band, uncompressed and small strips: every band and row lands in place, with descriptions and metadata', async () => {
  const grid = smallGrid();
  const bands = [ramp(grid, 1), ramp(grid, -2, 1000), ramp(grid, 0.5, 7)];
  for (const compress of ['none', 'deflate'] as const) {
    const { image, rasters } = await read(
      encodeGeoTiff({
        grid,
        bands,
        compress,
        rowsPerStrip: 4,
        metadata: { issue_time: '2024-01-01T00Z', run_id: 'abc' },
        bandDescriptions: ['u10', 'v10', 'speed'],
        bandMetadata: [{ units: 'm/s', lead_hours: '1' }, { units: 'm/s' }, { units: 'm/s' }],
      }),
    );
    assert.equal(image.getSamplesPerPixel(), 3);
    assert.equal(tag(image, 'RowsPerStrip'), 4);
    assert.equal(tag(image, 'PlanarConfiguration'), 2);
    bands.forEach((b, i) => assert.deepEqual(Array.from(rasters[i]!), Array.from(b), `band ${i + 1} (${compress})`));
    const meta = (await image.getGDALMetadata()) as Record<string, string>;
    assert.equal(meta.issue_time, '2024-01-01T00Z');
    assert.equal(meta.run_id, 'abc');
    const b0 = (await image.getGDALMetadata(0)) as Record<string, string>;
    assert.equal(b0.DESCRIPTION, 'u10');
    assert.equal(b0.UNITTYPE, 'm/s');
    assert.equal(b0.lead_hours, '1');
    assert.equal(((await image.getGDALMetadata(1)) as Record<string, string>).DESCRIPTION, 'v10');
  }
});

test('PixelIsPoint ties the first cell centre; -180..180 grids keep their origin', async () => {
  const point = await read(encodeGeoTiff({ grid: smallGrid({ pixelIsPoint: true }), bands: [ramp(smallGrid())], compress: 'deflate' }));
  assert.equal((point.image.getGeoKeys() as Record<string, unknown>).GTRasterTypeGeoKey, 2);
  assert.deepEqual(Array.from(tag(point.image, 'ModelTiepoint') as ArrayLike<number>), [0, 0, 0, 0, 90, 0]);

  const g180 = era5Grid({ step: 5, lon180: true });
  const area = await read(encodeGeoTiff({ grid: g180, bands: [ramp(g180)], compress: 'none' }));
  assert.deepEqual(area.image.getOrigin(), [-182.5, 92.5, 0]);
});

test('south-up sources are written south-up with a ModelTransformation (row 0 = southernmost)', async () => {
  const grid = smallGrid({ sourceSouthUp: true });
  const band = ramp(grid);
  const { image, rasters } = await read(encodeGeoTiff({ grid, bands: [band], compress: 'deflate' }));
  assert.equal(tag(image, 'ModelPixelScale'), undefined);
  const m = Array.from(tag(image, 'ModelTransformation') as ArrayLike<number>);
  // x = -2.5 + 5 col; y = -92.5 + 5 row (rows go north).
  assert.deepEqual(m, [5, 0, 0, -2.5, 0, 5, 0, -92.5, 0, 0, 0, 0, 0, 0, 0, 1]);
  const w = grid.width;
  const last = grid.height - 1;
  assert.deepEqual(Array.from(rasters[0]!.subarray(0, w)), Array.from(band.subarray(last * w, (last + 1) * w)));
  assert.deepEqual(Array.from(rasters[0]!.subarray(last * w)), Array.from(band.subarray(0, w)));
});

test('bad input is refused with a clear message', () => {
  const grid = smallGrid();
  assert.throws(() => encodeGeoTiff({ grid, bands: [new Float32Array(10)], compress: 'none' }), /band 1 has 10 values/);
  assert.throws(() => encodeGeoTiff({ grid, bands: [ramp(grid)], compress: 'none', bandDescriptions: ['a', 'b'] }), /2 band descriptions for 1 bands/);
  assert.throws(() => encodeGeoTiff({ grid, bands: [], compress: 'none' }), /need 1\.\.65535 bands/);
});

test('writeGeoTiff replaces atomically and leaves no temporary file; a failed write names the file', async () => {
  const dir = tmp();
  const grid = smallGrid();
  const path = join(dir, 'out.tif');
  const options: GeoTiffWriteOptions = { grid, bands: [ramp(grid)], compress: 'deflate' };
  await writeGeoTiff(path, options);
  await writeGeoTiff(path, { ...options, bands: [ramp(grid, 2)] });
  assert.deepEqual(readdirSync(dir), ['out.tif']);
  const { rasters } = await read(readFileSync(path));
  assert.equal(rasters[0]![3], ramp(grid, 2)[3]);
  const missing = join(dir, 'no-such-folder', 'x.tif');
  await assert.rejects(writeGeoTiff(missing, options), (err: unknown) => {
    assert.ok(err instanceof DataError);
    assert.ok(err.message.startsWith(missing), err.message);
    return true;
  });
  assert.deepEqual(readdirSync(dir), ['out.tif']);
});

interface GdalInfo {
  size: [number, number];
  geoTransform: number[];
  coordinateSystem: { wkt: string };
  metadata: Record<string, Record<string, string>>;
  bands: Array<{ type: string; noDataValue?: number | string; description?: string; unit?: string; minimum?: number; maximum?: number }>;
}

function gdalinfo(path: string): GdalInfo {
  return JSON.parse(execFileSync('gdalinfo', ['-json', '-mm', path], { encoding: 'utf8' })) as GdalInfo;
}

function gdalValue(path: string, lon: number, lat: number, band = 1): number {
  const out = execFileSync('gdallocationinfo', ['-valonly', '-b', String(band), '-wgs84', path, String(lon), String(lat)], { encoding: 'utf8' });
  return Number(out.trim());
}

test('GDAL reads our files: size, Float32, geotransform, WGS 84, nodata, metadata and every value', async (t) => {
  if (!gdalOrSkip(t)) return;
  const dir = tmp();
  const grid = era5Grid({ step: 2.5 }); // 144 x 73
  const band = ramp(grid, 0.25);
  band[grid.width * 10 + 20] = NaN;
  const path = join(dir, 'g.tif');
  await writeGeoTiff(path, {
    grid,
    bands: [band, ramp(grid, -1)],
    nodata: -9999,
    compress: 'deflate',
    metadata: { issue_time: '2024-01-01T00Z', note: 'a<b & c' },
    bandDescriptions: ['u10', 'v10'],
    bandMetadata: [{ units: 'm/s' }, { units: 'm/s' }],
  });
  const info = gdalinfo(path);
  assert.deepEqual(info.size, [144, 73]);
  assert.deepEqual(info.geoTransform, [-1.25, 2.5, 0, 91.25, 0, -2.5]);
  assert.match(info.coordinateSystem.wkt, /WGS 84/);
  assert.match(info.coordinateSystem.wkt, /ID\["EPSG",4326\]/);
  assert.equal(info.bands.length, 2);
  assert.equal(info.bands[0]!.type, 'Float32');
  assert.equal(info.bands[0]!.noDataValue, -9999);
  assert.equal(info.bands[0]!.description, 'u10');
  assert.equal(info.bands[1]!.description, 'v10');
  assert.equal(info.bands[0]!.unit, 'm/s');
  assert.equal(info.metadata['']!.issue_time, '2024-01-01T00Z');
  assert.equal(info.metadata['']!.note, 'a<b & c');
  assert.equal(info.metadata['']!.AREA_OR_POINT, 'Area');
  // Cell (row 30, col 50): lat 90 - 75 = 15, lon 125.
  const i = 30 * grid.width + 50;
  assert.equal(gdalValue(path, 125, 15), band[i]);
  assert.equal(gdalValue(path, 125.9, 14.1), band[i]); // anywhere inside the cell
  assert.equal(gdalValue(path, 125, 15, 2), ramp(grid, -1)[i]);
  assert.equal(gdalValue(path, 50, 65), -9999); // row 10, col 20: the nodata cell
  const values = gdalRead(path);
  for (const [b, written] of [band, ramp(grid, -1)].entries()) {
    const { count, first } = valueMismatches(written, values.bands[b]!);
    assert.equal(count, 0, `band ${b + 1}: ${count} cells differ in GDAL, first ${JSON.stringify(first)}`);
  }
});

test('GDAL agrees on south-up, PixelIsPoint and -180..180 files', async (t) => {
  if (!gdalOrSkip(t)) return;
  const dir = tmp();
  const cases: Array<[string, GridSpec, number[]]> = [
    ['south.tif', smallGrid({ sourceSouthUp: true }), [-2.5, 5, 0, -92.5, 0, 5]],
    ['point.tif', smallGrid({ pixelIsPoint: true }), [-2.5, 5, 0, 92.5, 0, -5]],
    ['w180.tif', era5Grid({ step: 5, lon180: true }), [-182.5, 5, 0, 92.5, 0, -5]],
  ];
  for (const [name, grid, transform] of cases) {
    const band = ramp(grid, 0.5);
    const path = join(dir, name);
    await writeGeoTiff(path, { grid, bands: [band], compress: 'deflate' });
    const info = gdalinfo(path);
    assert.deepEqual(info.size, [72, 37], name);
    assert.deepEqual(info.geoTransform, transform, name);
    // Row 4 (lat 70), column 10 (lon 50, or -130 on the -180..180 grid).
    const lon = grid.lon0 + 10 * 5;
    assert.equal(gdalValue(path, lon, 70), band[4 * 72 + 10], name);
    // GDAL reads the stored rows: south-up files hold the north-up band upside down.
    const stored = gdalRead(path).bands[0]!;
    const { count } = valueMismatches(band, grid.sourceSouthUp ? flipRows(stored, 72, 37) : stored);
    assert.equal(count, 0, `${name}: ${count} cells differ in GDAL`);
  }
});

test("deflateStrategy 'rle' (the forecasts' encoding): another DEFLATE stream of the same values, read back by geotiff.js and GDAL", async (t) => {
  // A forecast-like field: smooth, with float32 noise in the low mantissa bytes, and a nodata cell.
  const grid = era5Grid({ step: 2.5 });
  const band = Float32Array.from({ length: grid.width * grid.height }, (_, i) => 7 + 3 * Math.sin(i / 97) + Math.cos(i * 1.7) * 1e-3);
  band[grid.width * 7 + 3] = NaN;
  const options: GeoTiffWriteOptions = { grid, bands: [band, ramp(grid, 0.01)], nodata: -9999, compress: 'deflate' };
  const plain = encodeGeoTiff(options);
  const rle = encodeGeoTiff({ ...options, deflateStrategy: 'rle' });
  assert.notDeepEqual(rle, plain, 'the strategy reaches zlib');
  const a = await read(plain);
  const b = await read(rle);
  for (let k = 0; k < 2; k++) assert.deepEqual(Array.from(b.rasters[k]!), Array.from(a.rasters[k]!), `band ${k + 1}`);
  assert.equal(tag(b.image, 'Compression'), 8);
  assert.equal(tag(b.image, 'Predictor'), 3);
  if (!gdalOrSkip(t)) return;
  const dir = tmp();
  const path = join(dir, 'rle.tif');
  await writeGeoTiff(path, { ...options, deflateStrategy: 'rle' });
  const values = gdalRead(path);
  for (const [k, written] of [band, ramp(grid, 0.01)].entries()) {
    const { count, first } = valueMismatches(written, values.bands[k]!);
    assert.equal(count, 0, `band ${k + 1}: ${count} cells differ in GDAL, first ${JSON.stringify(first)}`);
  }
});
