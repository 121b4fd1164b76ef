import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fromArrayBuffer } from 'geotiff';
import { synth, formatSynthResult, type SynthArgs } from '../src/commands/synth.js';
import { parseConfig, type SynthConfig } from '../src/core/config.js';
import { testContext } from '../src/commands/context.js';
import { DataError, WindcastError } from '../src/core/errors.js';
import { colLon, rowLat } from '../src/core/grid.js';
import { parseIsoHour } from '../src/core/time.js';
import { synthFileName, synthGrid, SYNTH_FILE_PATTERN } from '../src/synth/files.js';
import { planSynth, synthHour } from '../src/synth/hour.js';
import { persistenceStats } from '../src/synth/persistence.js';
import { readRasterHeader } from '../src/ingest/raster.js';
import { gdalOrSkip, gdalRead, valueMismatches } from './ingest-fixtures.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'windcast-synth-'));

function ctx(synthConfig: Partial<SynthConfig>) {
  return testContext(parseConfig({ synth: synthConfig }, 'test'));
}

async function run(out: string, synthConfig: Partial<SynthConfig>, args: Partial<SynthArgs> = {}) {
  return synth({ out, workers: 0, ...args }, ctx({ step: 5, hours: 3, ...synthConfig }));
}

async function readTif(path: string) {
  const buf = readFileSync(path);
  const tiff = await fromArrayBuffer(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer);
  const image = await tiff.getImage();
  return { image, bands: (await image.readRasters()) as unknown as Float32Array[] };
}

function tifs(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.tif')).sort();
}

test('grid: ERA5 layout by default, -180..180, coarse steps and regional subsets', () => {
  const g = synthGrid({ step: 0.25, bbox: null, lon180: false });
  assert.deepEqual([g.width, g.height, g.lon0, g.lat0, g.dLon, g.pixelIsPoint, g.sourceSouthUp], [1440, 721, 0, 90, 0.25, false, false]);
  assert.equal(synthGrid({ step: 0.25, bbox: null, lon180: true }).lon0, -180);
  const s5 = synthGrid({ step: 5, bbox: null, lon180: false });
  assert.deepEqual([s5.width, s5.height], [72, 37]);
  const europe = synthGrid({ step: 1, bbox: [-10, 35, 30, 60], lon180: true });
  assert.deepEqual([europe.width, europe.height, europe.lon0, europe.lat0], [41, 26, -10, 60]);
  // Across the seam of the 0..360 convention, 350E..10E: written as -10..10, since longitudes
  // past 360 are refused by GIS tools and by our own reader.
  const seam = synthGrid({ step: 1, bbox: [350, 0, 10, 10], lon180: false });
  assert.deepEqual([seam.width, seam.lon0], [21, -10]);
  assert.deepEqual(synthGrid({ step: 1, bbox: [-15, 35, 35, 70], lon180: false }).lon0, -15);
  assert.deepEqual(synthGrid({ step: 1, bbox: [10, 0, 350, 10], lon180: false }).lon0, 10, 'a box inside 0..360 keeps its longitudes');
  assert.throws(() => synthGrid({ step: 0.7, bbox: null, lon180: false }), /--step must divide 180/);
  assert.throws(() => synthGrid({ step: 5, bbox: [1, 1, 2, 2], lon180: false }), /holds no cell centre/);
});

test('start hours are parsed strictly', () => {
  assert.equal(parseIsoHour('2024-01-01T00Z', '--start'), Date.UTC(2024, 0, 1));
  assert.equal(parseIsoHour('2024-03-05T07:00:00Z', '--start'), Date.UTC(2024, 2, 5, 7));
  assert.throws(() => parseIsoHour('2024-02-30T00Z', '--start'), WindcastError);
  assert.throws(() => parseIsoHour('2024-01-01T00:30Z', '--start'), /on the hour/);
  assert.equal(synthFileName(Date.UTC(2024, 0, 1, 5), 'speed'), 'windspeed_2024-01-01T05Z.tif');
  assert.ok(SYNTH_FILE_PATTERN.test(synthFileName(0, 'uv')));
});

test('writes one named, georeferenced Float32 file per hour with realistic non-negative speeds', async () => {
  const out = join(tmp(), 'new', 'folder');
  const result = await run(out, { start: '2024-07-01T22Z', hours: 4 });
  assert.deepEqual(tifs(out), ['windspeed_2024-07-01T22Z.tif', 'windspeed_2024-07-01T23Z.tif', 'windspeed_2024-07-02T00Z.tif', 'windspeed_2024-07-02T01Z.tif']);
  assert.equal(result.files, 4);
  assert.equal(result.end, '2024-07-02T01Z');
  assert.ok(readdirSync(out).includes('synth.json'));
  assert.equal(readdirSync(out).filter((f) => f.startsWith('.')).length, 0);
  assert.match(formatSynthResult(result), /Wrote 4 hourly GeoTIFFs/);
  const { image, bands } = await readTif(join(out, 'windspeed_2024-07-02T00Z.tif'));
  assert.equal(image.getWidth(), 72);
  assert.equal(image.getHeight(), 37);
  assert.deepEqual(image.getOrigin(), [-2.5, 92.5, 0]);
  const meta = (await image.getGDALMetadata()) as Record<string, string>;
  assert.equal(meta.valid_time, '2024-07-02T00Z');
  const speed = bands[0]!;
  let sum = 0;
  for (const s of speed) {
    assert.ok(Number.isFinite(s) && s >= 0 && s < 60, `speed ${s}`);
    sum += s;
  }
  const mean = sum / speed.length;
  assert.ok(mean > 3 && mean < 11, `mean ${mean}`);
});

test('same seed gives the same bytes, another seed other bytes; worker count and run extent change nothing', async () => {
  const a = tmp(), b = tmp(), c = tmp(), d = tmp(), e = tmp();
  await run(a, { seed: 7 });
  await run(b, { seed: 7 }, { workers: 2 });
  await run(c, { seed: 8 });
  await run(d, { seed: 7, start: '2024-01-01T01Z', hours: 2 }, { workers: 1 });
  await run(e, { seed: 7, compress: 'none' });
  for (const f of tifs(a)) {
    assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${f}: 0 vs 2 workers`);
    assert.ok(!readFileSync(join(a, f)).equals(readFileSync(join(c, f))), `${f}: seed 7 vs 8`);
  }
  // An hour's field does not depend on which other hours are generated.
  for (const f of tifs(d)) assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(d, f))), `${f}: another --start`);
  const [x, y] = await Promise.all([readTif(join(a, tifs(a)[1]!)), readTif(join(e, tifs(e)[1]!))]);
  assert.deepEqual(Array.from(x.bands[0]!), Array.from(y.bands[0]!));
});

test('--bands uv writes u10 and v10 whose magnitude is the speed', async () => {
  const s = tmp(), uv = tmp();
  await run(s, { hours: 1 });
  await run(uv, { hours: 1, bands: 'uv' });
  assert.deepEqual(tifs(uv), ['wind_uv_2024-01-01T00Z.tif']);
  const speed = (await readTif(join(s, tifs(s)[0]!))).bands[0]!;
  const { image, bands } = await readTif(join(uv, tifs(uv)[0]!));
  assert.equal(bands.length, 2);
  assert.equal(((await image.getGDALMetadata(0)) as Record<string, string>).DESCRIPTION, 'u10');
  assert.equal(((await image.getGDALMetadata(1)) as Record<string, string>).DESCRIPTION, 'v10');
  let westerly = 0;
  for (let i = 0; i < speed.length; i++) {
    assert.ok(Math.abs(Math.hypot(bands[0]![i]!, bands[1]![i]!) - speed[i]!) < 0.005, `cell ${i}`);
    if (bands[0]![i]! > 0) westerly++;
  }
  assert.ok(westerly > 0.2 * speed.length && westerly < 0.8 * speed.length, `${westerly} westerly cells`);
});

test('--bbox and --lon180 cut the same field as the global grid', async () => {
  const g = tmp(), r = tmp();
  await run(g, { hours: 1, step: 5 });
  await run(r, { hours: 1, step: 5, bbox: [-60, -20, 40, 50], lon180: true });
  const globe = await readTif(join(g, tifs(g)[0]!));
  const region = await readTif(join(r, tifs(r)[0]!));
  const grid = synthGrid({ step: 5, bbox: [-60, -20, 40, 50], lon180: true });
  assert.deepEqual([region.image.getWidth(), region.image.getHeight()], [21, 15]);
  assert.deepEqual(region.image.getOrigin(), [-62.5, 52.5, 0]);
  for (let row = 0; row < grid.height; row += 3) {
    for (let col = 0; col < grid.width; col += 4) {
      const gRow = (90 - rowLat(grid, row)) / 5;
      const gCol = ((((colLon(grid, col) % 360) + 360) % 360) / 5);
      assert.equal(region.bands[0]![row * grid.width + col], globe.bands[0]![gRow * 72 + gCol], `row ${row} col ${col}`);
    }
  }
});

test('a box across the prime meridian without --lon180 is the global field there, and reads back', async () => {
  const g = tmp(), r = tmp();
  await run(g, { hours: 1, step: 5 });
  await run(r, { hours: 1, step: 5, bbox: [-20, 30, 20, 60] });
  const globe = await readTif(join(g, tifs(g)[0]!));
  const header = await readRasterHeader(join(r, tifs(r)[0]!));
  const region = await readTif(join(r, tifs(r)[0]!));
  assert.deepEqual([header.grid.lon0, header.grid.width], [-20, 9]);
  for (let row = 0; row < header.grid.height; row++) {
    for (let col = 0; col < header.grid.width; col++) {
      const gRow = (90 - rowLat(header.grid, row)) / 5;
      const gCol = (((colLon(header.grid, col) % 360) + 360) % 360) / 5;
      assert.equal(region.bands[0]![row * header.grid.width + col], globe.bands[0]![gRow * 72 + gCol], `row ${row} col ${col}`);
    }
  }
});

test('refuses a folder with other files or another run, re-writes its own run in place', async () => {
  const foreign = tmp();
  writeFileSync(join(foreign, 'notes.txt'), 'mine');
  await assert.rejects(run(foreign, {}), (err: unknown) => err instanceof DataError && err.message.startsWith(foreign) && /notes\.txt/.test(err.message));
  assert.deepEqual(readdirSync(foreign), ['notes.txt']);

  const dir = tmp();
  await run(dir, { hours: 3 });
  // The cube cache that training leaves beside the data is not a foreign file.
  mkdirSync(join(dir, '.windcast-cache'));
  const again = await run(dir, { hours: 3, seed: 5 });
  assert.equal(again.replaced, 3);
  await assert.rejects(run(dir, { hours: 2 }), /from another run that this run would not replace/);
  const file = join(tmp(), 'plain-file');
  writeFileSync(file, 'x');
  await assert.rejects(run(file, {}), /is not a folder/);
});

test('persistence gets harder with lead time and the speeds look like 10 m wind', () => {
  const stats = persistenceStats({ seed: 42, startMs: parseIsoHour('2024-01-01T00Z', '--start'), hours: 30, grid: synthGrid({ step: 5, bbox: null, lon180: false }) });
  const r = stats.rmse;
  assert.ok(r[1]! > 0.2 && r[1]! < r[6]! && r[6]! < r[24]!, JSON.stringify(r));
  assert.ok(stats.meanSpeed > 4 && stats.meanSpeed < 9, `mean ${stats.meanSpeed}`);
  assert.ok(stats.maxSpeed < 60);
});


test('GDAL reads a synth hour: Float32, WGS 84, ERA5 origin, the same value at a lat/lon and everywhere', async (t) => {
  if (!gdalOrSkip(t)) return;
  const out = tmp();
  await run(out, { hours: 1, step: 2.5, seed: 42, start: '2024-01-01T00Z' });
  const path = join(out, tifs(out)[0]!);
  const info = JSON.parse(execFileSync('gdalinfo', ['-json', path], { encoding: 'utf8' })) as { size: number[]; geoTransform: number[]; bands: Array<{ type: string }>; coordinateSystem: { wkt: string } };
  assert.deepEqual(info.size, [144, 73]);
  assert.deepEqual(info.geoTransform, [-1.25, 2.5, 0, 91.25, 0, -2.5]);
  assert.equal(info.bands[0]!.type, 'Float32');
  assert.match(info.coordinateSystem.wkt, /ID\["EPSG",4326\]/);
  const { bands } = await readTif(path);
  // lat 40N is row 20, lon 10E is column 4.
  const value = Number(execFileSync('gdallocationinfo', ['-valonly', '-wgs84', path, '10', '40'], { encoding: 'utf8' }).trim());
  assert.equal(value, bands[0]![20 * 144 + 4]);
  // Every cell GDAL reads is the generator's value for that hour.
  const expected = synthHour(planSynth(synthGrid({ step: 2.5, bbox: null, lon180: false }), 42), parseIsoHour('2024-01-01T00Z', '--start')).speed;
  const { count, first } = valueMismatches(expected, gdalRead(path).bands[0]!);
  assert.equal(count, 0, `${count} cells differ in GDAL, first ${JSON.stringify(first)}`);
});
