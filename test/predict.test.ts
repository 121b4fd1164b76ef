/**
 * predict end to end on tiny generated grids: georeferencing round trips (read back by our
 * reader and, when installed, by GDAL), nodata, names and metadata, sites, tensor count, and
 * that bad input never touches an existing forecast.
 *
 * Most tests use a "persistence checkpoint": the project's model with its initial weights,
 * which is exactly persistence (every lead = the last observed hour), written on each test
 * grid. Its output is then known cell by cell, so a shifted, flipped or mislabelled output
 * grid shows up as wrong values at a lat/lon, whatever the model learned.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { loadBackend } from '../src/runtime/backend.js';
import { readMeta, writeCheckpoint, type CheckpointMeta } from '../src/model/checkpoint.js';
import { runCli } from '../src/cli.js';
import { predict, type PredictArgs } from '../src/commands/predict.js';
import { formatPredictResult } from '../src/commands/predict-format.js';
import { discardStaging, leadFileName, openStaging } from '../src/output/forecast-files.js';
import type { Config } from '../src/core/config.js';
import { testContext } from '../src/commands/context.js';
import { HOUR_MS, parseIsoHour } from '../src/core/time.js';
import { DataError, WindcastError } from '../src/core/errors.js';
import { loadForecaster } from '../src/forecast/forecast.js';
import { writeGeoTiff } from '../src/output/geotiff-write.js';
import { colLon, era5Grid, rowLat, type GridSpec } from '../src/core/grid.js';
import { buildModel } from '../src/model/model.js';
import { decodePng } from '../src/output/png.js';
import { silentProgress } from '../src/core/progress.js';
import { readRaster, readRasterHeader } from '../src/ingest/raster.js';
import { runTraining } from '../src/train/train.js';
import { withGdal } from './ingest-fixtures.js';
import { fromArrayBuffer } from 'geotiff';
import { tinyConfig, tinyCube } from './train-fixtures.js';

const { tf, info } = await loadBackend('cpu');
const root = mkdtempSync(join(tmpdir(), 'windcast-predict-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

const START = Date.UTC(2024, 0, 30, 0);
const NODATA = -9999;

/** A realistic-looking field with distinct values per cell and hour (m/s). */
function value(t: number, lat: number, lon: number): number {
  return 4 + 3 * Math.cos((lat * Math.PI) / 90) + 0.01 * ((lon + 360) % 360) + 0.05 * t;
}

/** Write hours [0, hours) of `value` on grid as windspeed_<iso>.tif; cell (1, 2) is nodata. */
async function writeHours(dir: string, grid: GridSpec, hours: number, start = START): Promise<void> {
  mkdirSync(dir, { recursive: true });
  for (let t = 0; t < hours; t++) {
    const band = new Float32Array(grid.width * grid.height);
    for (let r = 0; r < grid.height; r++) for (let c = 0; c < grid.width; c++) band[r * grid.width + c] = value(t, rowLat(grid, r), colLon(grid, c));
    band[1 * grid.width + 2] = NaN;
    const iso = new Date(start + t * HOUR_MS).toISOString().slice(0, 13) + 'Z';
    await writeGeoTiff(join(dir, `windspeed_${iso}.tif`), { grid, bands: [band], nodata: NODATA, compress: 'deflate' });
  }
}

let baseMeta: CheckpointMeta | undefined;

/** Meta of a real (tiny) training run, reused with other grids. */
async function trainedRunDir(): Promise<string> {
  const runDir = join(root, 'trained');
  // A point model: these tests pin what a checkpoint without a quantile head writes, which must
  // not change (predict-power.test.ts covers the quantile outputs).
  const config = tinyConfig();
  config.model.quantiles = [];
  await runTraining({ tf, backend: info, cube: tinyCube(), dataDir: 'fixture', runDir, run: 'trained', config, progress: silentProgress, log: () => {} });
  baseMeta = readMeta(join(runDir, 'best'));
  return runDir;
}
const trainedDir = await trainedRunDir();

/** A checkpoint on `grid` whose model is the untrained one, i.e. exactly persistence. */
async function persistenceCheckpoint(grid: GridSpec, name: string): Promise<string> {
  const meta = baseMeta!;
  const cells = grid.width * grid.height;
  const model = buildModel(tf, meta.model);
  const runDir = join(root, 'models', name);
  const { files: _f, kind: _k, savedAt: _s, ...rest } = meta;
  try {
    await writeCheckpoint(tf, runDir, 'best', {
      model,
      stats: { mode: 'cell', mean: new Float32Array(cells).fill(5), std: new Float32Array(cells).fill(2), globalMean: 5, globalStd: 2, meanVariance: 4 },
      meta: { ...rest, run: name, grid, normalization: { ...meta.normalization, cells } },
    });
  } finally {
    model.dispose();
  }
  return runDir;
}

function config(overrides: Partial<Config['predict']> = {}): Config {
  const c = tinyConfig();
  Object.assign(c.predict, overrides);
  return c;
}

async function run(args: PredictArgs, overrides: Partial<Config['predict']> = {}) {
  return predict(args, testContext(config(overrides)));
}

function gdal(args: string[], tool = 'gdalinfo'): string {
  return execFileSync(tool, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function arrayBufferOf(path: string): ArrayBuffer {
  const buf = readFileSync(path);
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

/** The dataset-level GDAL metadata of a GeoTIFF, read with geotiff.js (no GDAL needed). */
async function tiffTags(path: string): Promise<Record<string, string>> {
  return (await (await (await fromArrayBuffer(arrayBufferOf(path))).getImage()).getGDALMetadata()) as Record<string, string>;
}

/** Bytes of every file in a folder (hidden ones included), for "untouched" checks. */
function snapshot(dir: string): Map<string, string> {
  return new Map(readdirSync(dir).map((n) => [n, createHash('sha256').update(readFileSync(join(dir, n))).digest('hex')]));
}

const GRIDS: Array<{ name: string; grid: GridSpec; probe: [number, number] }> = [
  { name: 'global 0..360', grid: era5Grid({ step: 10 }), probe: [41.3, 253.7] },
  { name: 'global -180..180', grid: era5Grid({ step: 10, lon180: true }), probe: [-33.9, -106.3] },
  { name: 'regional', grid: { width: 16, height: 10, lon0: -9.75, lat0: 59.75, dLon: 0.5, dLat: 0.5, pixelIsPoint: false, sourceSouthUp: false, epsg: 4326 }, probe: [57.6, -5.2] },
  { name: 'PixelIsPoint', grid: { width: 12, height: 9, lon0: 100, lat0: 40, dLon: 2, dLat: 2, pixelIsPoint: true, sourceSouthUp: false, epsg: 4326 }, probe: [33.1, 107.9] },
  { name: 'south-up', grid: { width: 18, height: 9, lon0: 5, lat0: 80, dLon: 10, dLat: 20, pixelIsPoint: false, sourceSouthUp: true, epsg: 4326 }, probe: [-21, 143] },
];

for (const { name, grid, probe } of GRIDS) {
  test(`georeferencing round trip: ${name}`, async (t) => {
    const slug = name.replace(/[^a-z0-9]+/gi, '-');
    const data = join(root, `data-${slug}`);
    const out = join(root, `out-${slug}`);
    await writeHours(data, grid, 26);
    const model = await persistenceCheckpoint(grid, slug);
    const tensors = tf.memory().numTensors;
    const result = await run({ model, data, out });
    assert.equal(tf.memory().numTensors, tensors, 'no tensor leaks');
    // Default issue time: the latest hour (hour 25); the lookback is hours 2..25.
    const issue = START + 25 * HOUR_MS;
    assert.equal(result.issueTime, '2024-01-31T01Z');
    assert.equal(result.inputs.files.length, 24);
    assert.equal(result.leads.length, 24);
    assert.equal(result.files.length, 24);
    assert.deepEqual(readdirSync(out).sort(), Array.from({ length: 24 }, (_, j) => leadFileName(issue, j + 1, 24)).sort(), 'only the 24 leads, no temporaries');
    assert.equal(leadFileName(issue, 1, 24), 'windspeed_2024-01-31T02Z_f01.tif');
    // The MODEL tag names the run, checkpoint and epoch, not this machine's folders.
    const tags = await tiffTags(join(out, leadFileName(issue, 1, 24)));
    assert.equal(tags.MODEL, `${slug}/best (epoch ${baseMeta!.epoch})`);
    assert.equal(tags.RUN_ID, slug);
    assert.ok(!tags.MODEL!.includes(root), tags.MODEL);

    const inputPath = join(data, 'windspeed_2024-01-31T01Z.tif');
    for (const lead of [1, 24]) {
      const path = join(out, leadFileName(issue, lead, 24));
      const r = await readRaster(path);
      assert.deepEqual(r.grid, grid, 'same GridSpec (origin, step, raster type, orientation, convention)');
      assert.equal(r.nodata, NODATA);
      const input = await readRaster(inputPath);
      for (let i = 0; i < input.bands[0]!.length; i++) {
        const a = input.bands[0]![i]!;
        const b = r.bands[0]![i]!;
        if (Number.isNaN(a)) assert.ok(Number.isNaN(b), `cell ${i} nodata`);
        else assert.ok(Math.abs(a - b) < 1e-5, `cell ${i}: persistence ${a}, got ${b}`);
      }
    }
    await withGdal(t, 'the lead files match the input file, and the value at a lat/lon', () => {
      const outPath = join(out, leadFileName(issue, 7, 24));
      const ours = JSON.parse(gdal(['-json', '-stats', outPath])) as Record<string, any>;
      const theirs = JSON.parse(gdal(['-json', inputPath])) as Record<string, any>;
      assert.deepEqual(ours.size, theirs.size);
      assert.deepEqual(ours.geoTransform, theirs.geoTransform);
      assert.equal(ours.coordinateSystem.wkt, theirs.coordinateSystem.wkt);
      assert.equal(ours.metadata?.['']?.AREA_OR_POINT, theirs.metadata?.['']?.AREA_OR_POINT);
      assert.equal(ours.bands[0].type, 'Float32');
      assert.equal(ours.bands[0].noDataValue, NODATA);
      assert.equal(ours.metadata[''].ISSUE_TIME, '2024-01-31T01Z');
      assert.equal(ours.metadata[''].VALID_TIME, '2024-01-31T08Z');
      assert.equal(ours.metadata[''].LEAD_HOURS, '7');
      assert.equal(ours.metadata[''].RUN_ID, slug);
      assert.equal(ours.metadata[''].UNITS, 'm/s');
      assert.equal(ours.bands[0].unit, 'm/s');
      const stats = ours.bands[0].metadata[''];
      assert.ok(Number(stats.STATISTICS_MINIMUM) >= 0 && Number(stats.STATISTICS_MAXIMUM) < 20, `plausible statistics ${JSON.stringify(stats)}`);
      assert.equal(ours.metadata?.['IMAGE_STRUCTURE']?.COMPRESSION, 'DEFLATE');
      // The value GDAL finds at a lat/lon is the persistence value of the input at that lat/lon.
      const at = (file: string) => Number(gdal(['-valonly', '-wgs84', file, String(probe[1]), String(probe[0])], 'gdallocationinfo').trim());
      const expected = at(inputPath);
      assert.ok(Number.isFinite(expected), `probe inside the input grid (${expected})`);
      assert.ok(Math.abs(at(outPath) - expected) < 1e-5, `gdallocationinfo at ${probe}: ${at(outPath)} vs input ${expected}`);
    });
  });
}

test('multiband: one file with 24 described bands; --png writes a contact sheet and a map per lead', async (t) => {
  const grid = era5Grid({ step: 10 });
  const data = join(root, 'data-mb');
  const out = join(root, 'out-mb');
  await writeHours(data, grid, 24);
  const model = await persistenceCheckpoint(grid, 'mb');
  const result = await run({ model, data, out }, { multiband: true, png: true });
  const maps = Array.from({ length: 24 }, (_, j) => `windspeed_2024-01-31T${String(j).padStart(2, '0')}Z_f${String(j + 1).padStart(2, '0')}.png`);
  assert.deepEqual(readdirSync(out).sort(), ['windspeed_2024-01-30T23Z_f01-f24.tif', 'windspeed_2024-01-30T23Z_leads.png', ...maps].sort());
  // Our reader refuses 3+ band files (it reads hourly inputs), by name; geotiff.js reads it all.
  await assert.rejects(readRaster(result.multiband!), (e: unknown) => e instanceof DataError && e.message === `${result.multiband}: 24 bands: windcast wants 1 band (wind speed) or 2 bands (u, v), or 4 bands u10, v10, u100, v100 named by their band descriptions`);
  const image = await (await fromArrayBuffer(arrayBufferOf(result.multiband!))).getImage();
  assert.equal(image.getSamplesPerPixel(), 24);
  const bands = (await image.readRasters()) as unknown as Float32Array[];
  // Band j is lead j + 1: persistence of the issue hour (t = 23) everywhere, cell (1, 2) nodata.
  for (const j of [0, 23]) {
    assert.ok(Math.abs(bands[j]![5 * grid.width + 7]! - value(23, rowLat(grid, 5), colLon(grid, 7))) < 1e-4, `band ${j + 1}`);
    assert.equal(bands[j]![1 * grid.width + 2], NODATA);
  }
  assert.equal(((await image.getGDALMetadata(23)) as Record<string, string>).LEAD_HOURS, '24');
  const png = decodePng(readFileSync(result.png!));
  assert.ok(png.width > 600 && png.height > 600);
  await withGdal(t, 'the multiband file', () => {
    const infoJson = JSON.parse(gdal(['-json', result.multiband!])) as Record<string, any>;
    assert.equal(infoJson.bands.length, 24);
    assert.match(infoJson.bands[23].description, /\+24 h/);
    assert.equal(infoJson.bands[0].metadata[''].LEAD_HOURS, '1');
    assert.equal(infoJson.bands[23].metadata[''].VALID_TIME, '2024-01-31T23Z');
    // Band 24 at 41.3N 253.7E: persistence of the issue hour (t = 23) at the nearest cell, 40N 250E.
    const v = Number(gdal(['-valonly', '-b', '24', '-wgs84', result.multiband!, '253.7', '41.3'], 'gdallocationinfo').trim());
    assert.ok(Math.abs(v - value(23, 40, 250)) < 1e-4, `band 24: ${v} vs ${value(23, 40, 250)}`);
  });
  assert.match(formatPredictResult(result), /24 bands/);
});

test('a trained model: the GeoTIFFs hold exactly what the forecaster computes', async (t) => {
  const cube = tinyCube();
  const data = join(root, 'data-trained');
  const out = join(root, 'out-trained');
  mkdirSync(data, { recursive: true });
  // Write the tiny training cube's hours 100..123 as files; forecast from hour 123.
  for (let t = 100; t < 124; t++) {
    const n = cube.grid.width * cube.grid.height;
    const iso = new Date(cube.times[t]!).toISOString().slice(0, 13) + 'Z';
    await writeGeoTiff(join(data, `windspeed_${iso}.tif`), { grid: cube.grid, bands: [cube.speed.slice(t * n, (t + 1) * n)], nodata: null, compress: 'deflate' });
  }
  const tensors = tf.memory().numTensors;
  const result = await run({ model: trainedDir, data, out }, { batchCells: 7 });
  assert.equal(tf.memory().numTensors, tensors, 'no tensor leaks');
  // The phases' CPU seconds (bench/predict.ts prints them beside the wall seconds) add up.
  const c = result.cpuSeconds;
  for (const phase of [c.read, c.forecast, c.write]) assert.ok(phase >= 0 && phase <= c.total, `phase CPU ${phase} s within the total ${c.total} s`);
  assert.ok(c.total > 0 && Math.abs(c.read + c.forecast + c.write - c.total) < 0.05, `${c.read} + ${c.forecast} + ${c.write} = ${c.total} s`);
  // The strips were encoded from the forecast's own fields as they became final: once each
  // (one strip per lead on this 7-row grid), none again for the files.
  const strips = result.geoTiffStrips!;
  assert.equal(strips.encoded, 24);
  // (threadSeconds is rounded to 0.01 s: a few milliseconds on this grid.)
  assert.ok(strips.early >= 0 && strips.early <= strips.encoded && strips.threadSeconds >= 0, JSON.stringify(strips));
  const f = await loadForecaster(trainedDir, tf);
  try {
    const n = cube.grid.width * cube.grid.height;
    const expected = f.forecast(cube, 123, Int32Array.from({ length: n }, (_, i) => i));
    let differs = 0;
    for (const lead of [1, 12, 24]) {
      const r = await readRaster(result.leads[lead - 1]!.file!);
      for (let i = 0; i < n; i++) {
        assert.ok(Math.abs(r.bands[0]![i]! - expected[i * 24 + lead - 1]!) < 1e-5, `lead ${lead} cell ${i}`);
        if (Math.abs(r.bands[0]![i]! - cube.speed[123 * n + i]!) > 1e-4) differs++;
      }
    }
    assert.ok(differs > 0, 'the trained model is not plain persistence');
  } finally {
    f.dispose();
  }
  // What windcast reports for a site (nearest cell) is what GDAL reads at that lat/lon.
  const sites = await run({ model: trainedDir, data, out: join(root, 'out-trained-sites'), points: ['A=47,-20', 'B=-61,100'] }, { interpolation: 'nearest' });
  await withGdal(t, 'site values at their lat/lon', () => {
    for (const s of sites.sites!) {
      for (const lead of [1, 9, 24]) {
        const lon = ((s.lon % 360) + 360) % 360; // the files span 0..360; gdallocationinfo does not wrap
        const v = Number(gdal(['-valonly', '-wgs84', result.leads[lead - 1]!.file!, String(lon), String(s.lat)], 'gdallocationinfo').trim());
        assert.ok(Math.abs(v - s.speeds[lead - 1]!) < 1e-3, `${s.name} +${lead} h: GDAL ${v}, windcast ${s.speeds[lead - 1]}`);
      }
    }
  });
});

test('sites: table, CSV and JSON with nearest and bilinear values, no grids', async () => {
  const grid = era5Grid({ step: 10, lon180: true });
  const data = join(root, 'data-sites');
  await writeHours(data, grid, 24);
  const model = await persistenceCheckpoint(grid, 'sites');
  const csv = join(root, 'sites.csv');
  writeFileSync(csv, 'name,lat,lon\n"Horns Rev, DK",55.5,7.9\nOn a cell,40,200\n');
  const out = join(root, 'out-sites');
  const near = await run({ model, data, out, points: ['Pole=89,0'], pointsFile: csv }, { interpolation: 'nearest' });
  assert.equal(near.mode, 'points');
  assert.deepEqual(readdirSync(out).sort(), ['sites_2024-01-30T23Z.csv', 'sites_2024-01-30T23Z.json']);
  const t0 = 23;
  // "On a cell": 40N 200E = 160W, a cell centre of the -180..180 grid: persistence value.
  const onCell = near.sites!.find((s) => s.name === 'On a cell')!;
  assert.equal(onCell.cellLon, -160);
  assert.ok(Math.abs(onCell.speeds[5]! - value(t0, 40, -160)) < 1e-3);
  const hr = near.sites!.find((s) => s.name === 'Horns Rev, DK')!;
  assert.deepEqual([hr.cellLat, hr.cellLon], [60, 10]);
  const lines = readFileSync(near.csv!, 'utf8').trim().split('\n');
  assert.equal(lines.length, 1 + 3 * 24);
  assert.match(lines[1]!, /^Pole,89,0,90,0,nearest,2024-01-30T23Z,2024-01-31T00Z,1,/);
  assert.ok(lines.some((l) => l.startsWith('"Horns Rev, DK",55.5,7.9,60,10,nearest')));
  const json = JSON.parse(readFileSync(near.json!, 'utf8'));
  assert.equal(json.sites.length, 3);
  assert.equal(json.units, 'm/s');
  const table = formatPredictResult(near);
  assert.match(table, /nearest cell/);
  assert.match(table, /Horns Rev/);
  assert.match(table, /\+24h/);

  const bil = await run({ model, data, out, points: ['15,-155'] }, { interpolation: 'bilinear' });
  // Halfway between four cell centres (10/20 N, -160/-150 E): mean of the four, all valid.
  const four = [value(t0, 10, -160), value(t0, 10, -150), value(t0, 20, -160), value(t0, 20, -150)];
  assert.ok(Math.abs(bil.sites![0]!.speeds[0]! - four.reduce((a, b) => a + b) / 4) < 1e-3);
  assert.match(formatPredictResult(bil), /bilinear/);
});

test('a site outside a regional grid is an error naming it, before anything is read or written', async () => {
  const grid = GRIDS[2]!.grid;
  const model = await persistenceCheckpoint(grid, 'regional-sites');
  const out = join(root, 'out-outside');
  await assert.rejects(run({ model, data: '/nonexistent', out, points: ['Lisbon=38.7,-9.1'] }), /site "Lisbon" \(38.7, -9.1\) is outside the grid/);
  assert.throws(() => readdirSync(out), /ENOENT/);
});

test('bad input leaves an existing forecast untouched, with an error naming the problem', async () => {
  const grid = era5Grid({ step: 10 });
  const data = join(root, 'data-bad');
  const out = join(root, 'out-bad');
  await writeHours(data, grid, 30);
  const model = await persistenceCheckpoint(grid, 'bad');
  await run({ model, data, out, at: '2024-01-31T01Z' });
  const before = snapshot(out);
  assert.equal(before.size, 24);
  const unchanged = () => assert.deepEqual(snapshot(out), before, 'output folder untouched');
  const rejects = async (args: Partial<PredictArgs>, re: RegExp, type: Function = DataError) => {
    await assert.rejects(run({ model, data, out, at: '2024-01-31T01Z', ...args }), (e: unknown) => e instanceof type && re.test((e as Error).message), String(re));
    unchanged();
  };
  // A gap: hour 2024-01-30T10Z removed.
  const gapFile = join(data, 'windspeed_2024-01-30T10Z.tif');
  const gapBytes = readFileSync(gapFile);
  unlinkSync(gapFile);
  await rejects({}, /1 missing hour: 2024-01-30T10Z; a forecast issued at 2024-01-31T01Z needs the 24 hours 2024-01-30T02Z..2024-01-31T01Z/);
  writeFileSync(gapFile, gapBytes);
  // A corrupt (truncated) file is named.
  const bad = join(data, 'windspeed_2024-01-30T12Z.tif');
  const badBytes = readFileSync(bad);
  truncateSync(bad, 300);
  await rejects({}, /windspeed_2024-01-30T12Z\.tif/);
  writeFileSync(bad, badBytes);
  // A file on another grid is named.
  const other = join(data, 'windspeed_2024-01-30T20Z.tif');
  const otherBytes = readFileSync(other);
  await writeGeoTiff(other, { grid: era5Grid({ step: 20 }), bands: [new Float32Array(18 * 10).fill(3)], nodata: null, compress: 'none' });
  await rejects({}, /windspeed_2024-01-30T20Z\.tif.*grid differs/);
  writeFileSync(other, otherBytes);
  // An issue time beyond the data, or malformed.
  await rejects({ at: '2024-02-05T00Z' }, /no file for 2024-02-05T00Z: the latest hour here is 2024-01-31T05Z/);
  await rejects({ at: 'yesterday' }, /--at must be an ISO hour/, WindcastError);
  await assert.rejects(run({ model, data, out: data }), /is the data folder/);
  // A model trained on another grid.
  const otherModel = await persistenceCheckpoint(era5Grid({ step: 20 }), 'other-grid');
  await assert.rejects(run({ model: otherModel, data, out, at: '2024-01-31T01Z' }), /grid differs from the one the model was trained on/);
  unchanged();
  // And the data is fine again: a new forecast replaces the files.
  await run({ model, data, out, at: '2024-01-31T02Z' });
  assert.equal(readdirSync(out).length, 48);
});

test('a killed run\'s staging folder goes with the next predict, a live run\'s stays, and the earlier forecast is intact', async () => {
  const grid = era5Grid({ step: 10 });
  const data = join(root, 'data-stale');
  const out = join(root, 'out-stale');
  await writeHours(data, grid, 26);
  const model = await persistenceCheckpoint(grid, 'stale');
  await run({ model, data, out, at: '2024-01-31T00Z' });
  const earlier = snapshot(out);
  assert.equal(earlier.size, 24);
  // The staging folder of a run is named with its process id (core/atomic.ts temporarySibling).
  const own = openStaging(out);
  assert.match(basename(own), new RegExp(`^\\.windcast-predict\\.${process.pid}\\.[0-9a-f]{8}\\.tmp$`));
  discardStaging(own);
  // What kill -9 during the write leaves: a staging folder with half-written files in it.
  const dead = spawnSync('true').pid!;
  const live = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    const stale = [`.windcast-predict.${dead}.0123abcd.tmp`, `.windcast-predict-${dead}-89abcdef`];
    const alive = `.windcast-predict.${live.pid}.fedcba98.tmp`;
    for (const name of [...stale, alive]) {
      mkdirSync(join(out, name));
      writeFileSync(join(out, name, 'windspeed_2024-01-31T02Z_f01.tif'), 'II*\0 half a file');
    }
    await run({ model, data, out, at: '2024-01-31T01Z' });
    const names = readdirSync(out);
    for (const name of stale) assert.ok(!names.includes(name), `${name} removed`);
    assert.ok(names.includes(alive), 'the live process\'s staging folder is left alone');
    for (const [name, hash] of earlier) {
      assert.equal(createHash('sha256').update(readFileSync(join(out, name))).digest('hex'), hash, `${name} of the earlier forecast intact`);
    }
    assert.equal(names.filter((n) => n.endsWith('.tif')).length, 48);
  } finally {
    live.kill();
  }
});

test('--at parses ISO hours and refuses others', () => {
  assert.equal(parseIsoHour('2024-01-31T00Z', '--at'), Date.UTC(2024, 0, 31, 0));
  assert.equal(parseIsoHour('2024-01-31T06:00:00Z', '--at'), Date.UTC(2024, 0, 31, 6));
  assert.equal(parseIsoHour('2024-01-31T06', '--at'), Date.UTC(2024, 0, 31, 6));
  assert.throws(() => parseIsoHour('2024-01-31T06:30Z', '--at'), /on the hour/);
  assert.throws(() => parseIsoHour('2024-02-30T00Z', '--at'), /not a real UTC hour/);
});

test('CLI: windcast predict drives the command and writes the forecast', async () => {
  const grid = era5Grid({ step: 10 });
  const data = join(root, 'data-cli');
  const out = join(root, 'out-cli');
  await writeHours(data, grid, 24);
  const model = await persistenceCheckpoint(grid, 'cli');
  const write = process.stdout.write.bind(process.stdout);
  let printed = '';
  process.stdout.write = ((chunk: string) => {
    printed += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    await runCli(['--quiet', 'predict', '--model', model, '--data', data, '--out', out, '--backend', 'cpu', '--points', '10,20', '--interpolation', 'nearest']);
  } finally {
    process.stdout.write = write;
  }
  assert.match(printed, /Sites: 1, nearest cell/);
  assert.deepEqual(readdirSync(out).sort(), ['sites_2024-01-30T23Z.csv', 'sites_2024-01-30T23Z.json']);
  const header = await readRasterHeader(join(data, 'windspeed_2024-01-30T23Z.tif'));
  assert.equal(header.grid.width, 36);
});
