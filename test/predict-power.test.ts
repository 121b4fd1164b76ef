/**
 * predict with a turbine and a hub height, end to end on a tiny regional grid of 4-band
 * GeoTIFFs (u10, v10, u100, v100): site power and capacity factor, the speed at hub height
 * with the same-hour-yesterday shear exponent, capacity-factor GeoTIFFs (read back, and by
 * GDAL with their band descriptions), and bad turbine input leaving earlier outputs untouched.
 *
 * The checkpoint is the project's model with its initial weights, i.e. exactly persistence
 * (as in predict.test.ts), so every number is known: the forecast is the 100 m speed of the
 * issue hour, the shear exponent of lead j is ln(k) / ln(10) for the 100 m / 10 m ratio k of
 * hour t0 + j - 24, and the power is the curve at the scaled speed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBackend } from '../src/runtime/backend.js';
import { readMeta, writeCheckpoint } from '../src/model/checkpoint.js';
import { predict, type PredictArgs } from '../src/commands/predict.js';
import { runCli } from '../src/cli.js';
import { formatPredictResult } from '../src/commands/predict-format.js';
import type { Config } from '../src/core/config.js';
import { testContext } from '../src/commands/context.js';
import { HOUR_MS, isoHour } from '../src/core/time.js';
import { DataError, WindcastError } from '../src/core/errors.js';
import { writeGeoTiff } from '../src/output/geotiff-write.js';
import { leadFileName } from '../src/output/forecast-files.js';
import { colLon, rowLat, type GridSpec } from '../src/core/grid.js';
import { buildModel } from '../src/model/model.js';
import { silentProgress } from '../src/core/progress.js';
import { readRaster } from '../src/ingest/raster.js';
import { runTraining } from '../src/train/train.js';
import type { Cube } from '../src/ingest/cube.js';
import { capacityFactor, loadPowerCurve, powerKw } from '../src/power/curve.js';
import { powerQuantiles } from '../src/power/quantiles.js';
import { densityAtHeight } from '../src/power/density.js';
import { loadDataCube } from '../src/ingest/cube.js';
import { hoursSince1900, writeNetcdf3, type Nc3Var } from './gridded-fixtures.js';
import { decodePng } from '../src/output/png.js';
import { withGdal } from './ingest-fixtures.js';
import { fromArrayBuffer } from 'geotiff';
import { tinyConfig } from './train-fixtures.js';

const { tf, info } = await loadBackend('cpu');
const root = mkdtempSync(join(tmpdir(), 'windcast-predict-power-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

const GRID: GridSpec = { width: 8, height: 6, lon0: 3.5, lat0: 57.5, dLon: 1, dLat: 1, pixelIsPoint: false, sourceSouthUp: false, epsg: 4326 };
const CELLS = GRID.width * GRID.height;
const START = Date.UTC(2024, 0, 30, 0);
const NODATA = -9999;

/** The 10 m wind of hour t at a cell, and the 100 m / 10 m ratio of hour t (varies by hour, so alpha does). */
function wind10(t: number, cell: number): [number, number] {
  return [3 + 0.1 * cell + 0.05 * t, 2 + 0.02 * cell];
}
function ratio(t: number): number {
  return 1.1 + 0.02 * (t % 24);
}
function speed100(t: number, cell: number): number {
  const [u, v] = wind10(t, cell);
  return Math.hypot(u, v) * ratio(t);
}

/** A two-height cube in memory (what training sees), hours [0, hours). */
function twoHeightCube(hours: number): Cube {
  const speed = new Float32Array(hours * CELLS);
  const u = new Float32Array(hours * CELLS);
  const v = new Float32Array(hours * CELLS);
  const u10 = new Float32Array(hours * CELLS);
  const v10 = new Float32Array(hours * CELLS);
  for (let t = 0; t < hours; t++) {
    for (let c = 0; c < CELLS; c++) {
      const [a, b] = wind10(t, c);
      const i = t * CELLS + c;
      u10[i] = a;
      v10[i] = b;
      u[i] = a * ratio(t);
      v[i] = b * ratio(t);
      speed[i] = Math.hypot(u[i]!, v[i]!);
    }
  }
  return {
    grid: GRID,
    times: Float64Array.from({ length: hours }, (_, t) => START - 480 * HOUR_MS + t * HOUR_MS),
    speed,
    heightM: 100,
    u,
    v,
    other: { heightM: 10, u: u10, v: v10 },
    source: { files: Array.from({ length: hours }, (_, t) => `/fixture/${t}.tif`), fingerprint: 'two-heights', variables: ['u10', 'v10', 'u100', 'v100'] },
  };
}

/** Hours [0, hours) as 4-band GeoTIFFs named by their band descriptions; cell 9 is nodata. */
async function writeHours(dir: string, hours: number): Promise<void> {
  mkdirSync(dir, { recursive: true });
  for (let t = 0; t < hours; t++) {
    const bands = [0, 1, 2, 3].map(() => new Float32Array(CELLS));
    for (let c = 0; c < CELLS; c++) {
      const [a, b] = wind10(t, c);
      bands[0]![c] = a;
      bands[1]![c] = b;
      bands[2]![c] = a * ratio(t);
      bands[3]![c] = b * ratio(t);
    }
    for (const band of bands) band[9] = NaN;
    await writeGeoTiff(join(dir, `wind_${isoHour(START + t * HOUR_MS)}.tif`), { grid: GRID, bands, nodata: NODATA, compress: 'deflate', bandDescriptions: ['u10', 'v10', 'u100', 'v100'] });
  }
}

const trained = join(root, 'trained');
await runTraining({ tf, backend: info, cube: twoHeightCube(480), dataDir: 'fixture', runDir: trained, run: 'trained', config: tinyConfig(), progress: silentProgress, log: () => {} });
const trainedMeta = readMeta(join(trained, 'best'));
assert.equal(trainedMeta.features.heightM, 100);
assert.deepEqual(trainedMeta.model.quantiles, [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95], 'the default model forecasts quantiles');

/**
 * A persistence checkpoint (initial weights) for the two-height data: a point model, or one
 * with the quantile head (its quantiles are the untrained head's, non-decreasing by construction).
 */
async function persistenceCheckpoint(withQuantiles: boolean): Promise<string> {
  const meta = { ...trainedMeta, model: { ...trainedMeta.model, quantiles: withQuantiles ? trainedMeta.model.quantiles! : [] } };
  const model = buildModel(tf, meta.model);
  const runDir = join(root, 'models', withQuantiles ? 'quantiles' : 'point');
  const { files: _f, kind: _k, savedAt: _s, ...rest } = meta;
  try {
    await writeCheckpoint(tf, runDir, 'best', {
      model,
      stats: { mode: 'cell', mean: new Float32Array(CELLS).fill(5), std: new Float32Array(CELLS).fill(2), globalMean: 5, globalStd: 2, meanVariance: 4 },
      meta: { ...rest, run: withQuantiles ? 'quantiles' : 'point', normalization: { ...meta.normalization, cells: CELLS } },
    });
  } finally {
    model.dispose();
  }
  return runDir;
}

const data = join(root, 'data');
await writeHours(data, 26);
const model = await persistenceCheckpoint(false);
const quantileModel = await persistenceCheckpoint(true);
const LEVELS = trainedMeta.model.quantiles!;
const T0 = 25; // the issue hour: the latest in the data

function run(args: Partial<PredictArgs>, overrides: Partial<Config['predict']> = {}) {
  const config = tinyConfig();
  Object.assign(config.predict, overrides);
  return predict({ model, data, out: join(root, 'out'), ...args }, testContext(config));
}

function runQuantiles(args: Partial<PredictArgs>, overrides: Partial<Config['predict']> = {}) {
  return run({ model: quantileModel, ...args }, overrides);
}

function snapshot(dir: string): Map<string, string> {
  return new Map(readdirSync(dir).map((n) => [n, createHash('sha256').update(readFileSync(join(dir, n))).digest('hex')]));
}

function near(a: number | null | undefined, b: number, tol: number, what: string) {
  assert.ok(typeof a === 'number' && Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);
}

/** The cell of a site at a cell centre, its lat/lon. */
const CELL = 2 * GRID.width + 5;
const SITE = `Farm=${rowLat(GRID, 2)},${colLon(GRID, 5)}`;

test('sites: power and capacity factor at the forecast height (100 m: no extrapolation)', async () => {
  const out = join(root, 'out-100');
  const curve = loadPowerCurve('nrel-5mw');
  const r = await run({ out, points: [SITE] }, { turbine: 'nrel-5mw', interpolation: 'nearest' });
  const site = r.sites![0]!;
  assert.equal(site.hub, undefined, 'hub height = forecast height: no hub columns');
  assert.equal(r.power?.hubHeightM, 100);
  assert.match(r.power!.hubHeightNote, /forecast's own height, no extrapolation/);
  assert.match(r.power!.airDensityCorrection, /^off: the input has no temperature and pressure/);
  for (const j of [0, 11, 23]) {
    near(site.speeds[j], speed100(T0, CELL), 1e-3, `persistence at lead ${j + 1}`);
    near(site.powerKw![j], powerKw(curve, speed100(T0, CELL)), 0.5, 'power of the speed');
    near(site.capacityFactor![j], capacityFactor(curve, speed100(T0, CELL)), 1e-4, 'capacity factor');
  }
  const [header, first] = readFileSync(r.csv!, 'utf8').trim().split('\n');
  assert.equal(header, 'site,lat,lon,cell_lat,cell_lon,interpolation,issue_time,valid_time,lead_hours,speed_ms,power_kw,capacity_factor');
  assert.equal(first!.split(',')[10], String(site.powerKw![0]));
  const json = JSON.parse(readFileSync(r.json!, 'utf8'));
  assert.equal(json.turbine.name, 'nrel-5mw');
  assert.equal(json.turbine.ratedKw, 5000);
  assert.equal(json.powerUnits, 'kW');
  assert.equal(json.hubHeightM, 100);
  assert.match(json.airDensityCorrection, /^off/);
  const table = formatPredictResult(r);
  assert.match(table, /Turbine: nrel-5mw, 5000 kW rated, cut-in 3 m\/s, cut-out 25 m\/s/);
  assert.match(table, /Air-density correction: off/);
  assert.match(table, /MW +CF/);
});

test('sites: hub height 150 m by the power law with the same hour of day yesterday\'s shear exponent', async () => {
  const out = join(root, 'out-150');
  const curve = loadPowerCurve('iea-15mw');
  const r = await run({ out, points: [SITE] }, { turbine: 'iea-15mw', hubHeight: 150, interpolation: 'nearest' });
  const site = r.sites![0]!;
  assert.equal(site.hub?.heightM, 150);
  assert.match(r.power!.hubHeightNote, /alpha per cell and lead from the observed 10 m and 100 m wind at the same hour yesterday/);
  for (let j = 0; j < 24; j++) {
    // Lead j + 1 is valid at hour T0 + j + 1; the same hour the day before is T0 + j + 1 - 24.
    const alpha = Math.log(ratio(T0 + j + 1 - 24)) / Math.log(10);
    near(site.hub!.shearExponents[j], alpha, 1e-4, `alpha at lead ${j + 1}`);
    const hub = speed100(T0, CELL) * 1.5 ** alpha;
    near(site.hub!.speeds[j], hub, 1e-3, `hub speed at lead ${j + 1}`);
    near(site.powerKw![j], powerKw(curve, hub), 1, `power at lead ${j + 1}`);
  }
  assert.notEqual(site.hub!.shearExponents[0], site.hub!.shearExponents[12], 'the exponent follows the hour of day');
  const header = readFileSync(r.csv!, 'utf8').split('\n')[0]!;
  assert.match(header, /speed_ms,hub_height_m,shear_exponent,hub_speed_ms,power_kw,capacity_factor$/);
  assert.match(formatPredictResult(r), /hub 150 m/);
  // A hub height without a turbine: hub speeds only.
  const windOnly = await run({ out, points: [SITE] }, { hubHeight: 80, interpolation: 'nearest' });
  assert.equal(windOnly.sites![0]!.hub?.heightM, 80);
  assert.equal(windOnly.sites![0]!.powerKw, undefined);
  assert.ok(windOnly.sites![0]!.hub!.speeds[0]! < windOnly.sites![0]!.speeds[0]!, 'lower hub, lower speed');
});

test('capacity-factor GeoTIFFs: one per lead with the turbine in their tags, readable by GDAL with band descriptions', async (t) => {
  const out = join(root, 'out-cf');
  const curve = loadPowerCurve('iea-3.4mw');
  const r = await run({ out }, { turbine: 'iea-3.4mw', hubHeight: 110, capacityFactorMaps: true });
  const issue = START + T0 * HOUR_MS;
  assert.equal(r.capacityFactorFiles?.length, 24);
  assert.equal(readdirSync(out).filter((n) => n.startsWith('capacity-factor_')).length, 24);
  assert.equal(readdirSync(out).filter((n) => n.startsWith('windspeed_')).length, 24, 'the wind-speed leads are written as before');
  const lead = 5;
  const path = join(out, leadFileName(issue, lead, 24, 'capacity-factor'));
  assert.equal(r.capacityFactorFiles![lead - 1], path);
  const raster = await readRaster(path);
  assert.deepEqual(raster.grid, GRID);
  const alpha = Math.log(ratio(T0 + lead - 24)) / Math.log(10);
  for (const c of [0, CELL, CELLS - 1]) {
    near(raster.bands[0]![c]!, capacityFactor(curve, speed100(T0, c) * 1.1 ** alpha), 1e-5, `capacity factor at cell ${c}`);
  }
  assert.ok(Number.isNaN(raster.bands[0]![9]!), 'nodata stays nodata');
  assert.match(formatPredictResult(r), /Capacity factor: 24 GeoTIFFs/);
  await withGdal(t, 'capacity factor band description, units and turbine tags', () => {
    const gdal = JSON.parse(execFileSync('gdalinfo', ['-json', path], { encoding: 'utf8' })) as Record<string, any>;
    assert.equal(gdal.bands[0].description, `capacity factor of iea-3.4mw at 110 m +${lead} h, valid ${isoHour(issue + lead * HOUR_MS)}`);
    assert.equal(gdal.bands[0].unit, '1');
    assert.equal(gdal.metadata[''].RATED_KW, '3370');
    assert.equal(gdal.metadata[''].HUB_HEIGHT_M, '110');
    assert.match(gdal.metadata[''].TURBINE, /^iea-3\.4mw: 3370 kW rated/);
    assert.match(gdal.metadata[''].AIR_DENSITY_CORRECTION, /^off/);
    const lat = rowLat(GRID, 2);
    const lon = colLon(GRID, 5);
    const value = Number(execFileSync('gdallocationinfo', ['-valonly', '-wgs84', path, String(lon), String(lat)], { encoding: 'utf8' }).trim());
    near(value, raster.bands[0]![CELL]!, 1e-6, 'gdallocationinfo at the site');
  });
  // --multiband: one capacity-factor file with 24 bands.
  const mb = await run({ out: join(root, 'out-cf-mb') }, { turbine: 'iea-3.4mw', capacityFactorMaps: true, multiband: true });
  assert.equal(mb.capacityFactorFiles?.length, 1);
  const buf = readFileSync(mb.capacityFactorFiles![0]!);
  const image = await (await fromArrayBuffer(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer)).getImage();
  assert.equal(image.getSamplesPerPixel(), 24);
});

test('bad turbine input: a clear error before anything is written, earlier outputs untouched', async () => {
  const out = join(root, 'out-keep');
  await run({ out }, { turbine: 'nrel-5mw', capacityFactorMaps: true });
  const before = snapshot(out);
  assert.equal(before.size, 48);
  const rejects = async (overrides: Partial<Config['predict']>, type: Function, re: RegExp) => {
    await assert.rejects(run({ out }, overrides), (e: unknown) => e instanceof type && re.test((e as Error).message), String(re));
    assert.deepEqual(snapshot(out), before, 'output folder untouched');
  };
  await rejects({ capacityFactorMaps: true }, WindcastError, /--capacity-factor-maps needs --turbine/);
  await rejects({ turbine: 'gamesa-g132' }, DataError, /gamesa-g132: not a built-in turbine/);
  const bad = join(root, 'bad-curve.csv');
  writeFileSync(bad, 'speed,power\n3,0\n5,200\n4,300\n');
  await rejects({ turbine: bad }, DataError, /bad-curve\.csv: line 4: wind speed 4 m\/s is not above the previous row's 5 m\/s/);
});

async function bandsOf(path: string): Promise<{ count: number; bands: Float32Array[] }> {
  const buf = readFileSync(path);
  const image = await (await fromArrayBuffer(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer)).getImage();
  const rasters = (await image.readRasters()) as unknown as Float32Array[];
  return { count: image.getSamplesPerPixel(), bands: Array.from(rasters) };
}

test('sites with a quantile model: speed, hub-speed and power quantiles in the table, CSV and JSON, and a fan chart per site', async () => {
  const out = join(root, 'out-q-sites');
  const curve = loadPowerCurve('iea-15mw');
  const K = LEVELS.length;
  const r = await runQuantiles({ out, points: [SITE, SITE, 'Sea=55.2,7.7'] }, { turbine: 'iea-15mw', hubHeight: 150, interpolation: 'nearest' });
  assert.deepEqual(r.quantileLevels, LEVELS);
  const site = r.sites![0]!;
  const q = site.quantiles!;
  for (let j = 0; j < 24; j++) {
    near(site.speeds[j], speed100(T0, CELL), 1e-3, 'the point forecast stays the mean head (persistence)');
    const alpha = site.hub!.shearExponents[j]!;
    assert.equal(q.speeds[j]!.length, K);
    for (let k = 0; k < K; k++) {
      if (k > 0) {
        assert.ok(q.speeds[j]![k]! >= q.speeds[j]![k - 1]!, `speed quantiles non-decreasing at lead ${j + 1}`);
        assert.ok(q.powerKw![j]![k]! >= q.powerKw![j]![k - 1]!, `power quantiles non-decreasing at lead ${j + 1}`);
      }
      near(q.hubSpeeds![j]![k], q.speeds[j]![k]! * 1.5 ** alpha, 2e-3, `hub quantile ${LEVELS[k]} at lead ${j + 1}`);
      near(q.capacityFactor![j]![k], q.powerKw![j]![k]! / 15000, 1e-4, 'capacity-factor quantile');
    }
    const expected = powerQuantiles(curve, LEVELS, q.hubSpeeds![j]!.map(Number)).powerKw;
    expected.forEach((p, k) => near(q.powerKw![j]![k], p, 10, `power quantile ${LEVELS[k]} through the curve at lead ${j + 1}`));
  }
  const lines = readFileSync(r.csv!, 'utf8').trim().split('\n');
  const header = lines[0]!.split(',');
  assert.deepEqual(header.slice(10, 10 + K), LEVELS.map((l) => `speed_q${l}_ms`));
  assert.ok(header.includes('hub_speed_q0.95_ms') && header.includes('power_q0.5_kw') && header.includes('capacity_factor_q0.05') && header.includes('shutdown_probability'), lines[0]);
  const row = lines[1]!.split(',');
  assert.equal(Number(row[header.indexOf('power_q0.9_kw')]), q.powerKw![0]![5]);
  const json = JSON.parse(readFileSync(r.json!, 'utf8'));
  assert.deepEqual(json.quantileLevels, LEVELS);
  assert.match(json.quantileNote, /weighted mean of its cells' quantiles/);
  assert.deepEqual(json.sites[0].quantiles.powerKw[3], q.powerKw![3]);
  // One fan chart per site, PNG and SVG; a repeated name gets its own file.
  const issue = r.issueTime;
  assert.deepEqual(r.fanCharts, [join(out, `fan_Farm_${issue}.png`), join(out, `fan_Farm-2_${issue}.png`), join(out, `fan_Sea_${issue}.png`)]);
  for (const png of r.fanCharts!) {
    const image = decodePng(readFileSync(png));
    assert.ok(image.width >= 700 && image.height >= 500, `${png}: ${image.width}x${image.height}`);
    const svg = readFileSync(png.replace(/\.png$/, '.svg'), 'utf8');
    assert.match(svg, /^<svg/);
    assert.match(svg, /power of iea-15mw/);
  }
  const table = formatPredictResult(r);
  assert.match(table, /q0\.05\.\.q0\.95 m\/s/);
  assert.match(table, /q0\.05\.\.q0\.95 MW/);
  assert.match(table, /Fan charts: 3 \(fan_Farm_/);
});

test('grids with a quantile model: one GeoTIFF per lead with a band per quantile, named for GDAL; --multiband: one file', async (t) => {
  const out = join(root, 'out-q-grid');
  const r = await runQuantiles({ out });
  const issue = START + T0 * HOUR_MS;
  assert.equal(r.quantileFiles?.length, 24);
  assert.equal(readdirSync(out).length, 48, 'the 24 wind-speed leads and the 24 quantile files');
  const path = join(out, leadFileName(issue, 3, 24, 'windspeed-quantiles'));
  assert.equal(r.quantileFiles![2], path);
  const { count, bands } = await bandsOf(path);
  assert.equal(count, LEVELS.length);
  for (let c = 0; c < CELLS; c++) {
    if (c === 9) {
      assert.ok(bands.every((b) => b[c] === NODATA || Number.isNaN(b[c]!)), 'nodata in every band');
      continue;
    }
    for (let k = 1; k < count; k++) assert.ok(bands[k]![c]! >= bands[k - 1]![c]!, `cell ${c}: quantiles non-decreasing band to band`);
  }
  assert.match(formatPredictResult(r), /Quantiles: 24 GeoTIFFs \(windspeed-quantiles_.*7 bands each, q0\.05 \.\. q0\.95\)/);
  await withGdal(t, 'quantile band descriptions and levels', () => {
    const gdal = JSON.parse(execFileSync('gdalinfo', ['-json', path], { encoding: 'utf8' })) as Record<string, any>;
    const valid = isoHour(issue + 3 * HOUR_MS);
    assert.deepEqual(gdal.bands.map((b: any) => b.description), LEVELS.map((l) => `q${l} wind speed +3 h, valid ${valid}`));
    assert.deepEqual(gdal.bands.map((b: any) => b.metadata[''].QUANTILE), LEVELS.map(String));
    assert.equal(gdal.bands[0].unit, 'm/s');
    assert.equal(gdal.metadata[''].QUANTILE_LEVELS, LEVELS.join(','));
  });
  const mb = await runQuantiles({ out: join(root, 'out-q-mb') }, { multiband: true });
  assert.equal(mb.quantileFiles?.length, 1);
  assert.equal((await bandsOf(mb.quantileFiles![0]!)).count, 24 * LEVELS.length);
  const none = await runQuantiles({ out: join(root, 'out-q-none') }, { quantileMaps: false });
  assert.equal(none.quantileFiles, undefined);
  assert.equal(readdirSync(join(root, 'out-q-none')).length, 24);
});

test('predict --no-quantile-maps on the command line writes the wind speed alone; left out, a config file\'s quantileMaps: false still holds', async () => {
  const cli = async (name: string, flags: string[], config?: unknown) => {
    const out = join(root, name);
    const globals = ['--quiet'];
    if (config) {
      const path = join(root, `${name}.json`);
      writeFileSync(path, JSON.stringify(config));
      globals.push('--config', path);
    }
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      await runCli([...globals, 'predict', '--model', quantileModel, '--data', data, '--out', out, '--backend', 'cpu', ...flags]);
    } finally {
      process.stdout.write = write;
    }
    const files = readdirSync(out).filter((f) => f.endsWith('.tif'));
    return { speed: files.filter((f) => f.startsWith('windspeed_')).length, quantiles: files.filter((f) => f.startsWith('windspeed-quantiles_')).length };
  };
  assert.deepEqual(await cli('out-cli-q', []), { speed: 24, quantiles: 24 }, 'the default writes them');
  assert.deepEqual(await cli('out-cli-noq', ['--no-quantile-maps']), { speed: 24, quantiles: 0 });
  assert.deepEqual(await cli('out-cli-file', [], { predict: { quantileMaps: false } }), { speed: 24, quantiles: 0 }, 'the absent flag does not write over the file');
});

test('gridded input with t2m and sp: power is air-density corrected (IEC 61400-12-1) and says so; off on request', async () => {
  // A Berlin-like NetCDF3 file: 3 x 2 cells, 480 hours of u/v at 10 m and 100 m, cold dense air.
  const path = join(root, 'berlin-like.nc');
  const hours = 480;
  const lats = [52.6, 52.35];
  const lons = [13.1, 13.35, 13.6];
  const t0 = Date.UTC(2018, 0, 1);
  const field = (f: (t: number, i: number) => number) => Array.from({ length: hours * 6 }, (_, k) => f(Math.floor(k / 6), k % 6));
  const wind = (t: number, i: number) => 5 + 2 * Math.sin(t / 7 + i) + 0.1 * i;
  const vars: Nc3Var[] = [
    { name: 'longitude', dims: ['longitude'], type: 'float', attrs: { units: 'degrees_east' }, data: lons },
    { name: 'latitude', dims: ['latitude'], type: 'float', attrs: { units: 'degrees_north' }, data: lats },
    { name: 'time', dims: ['time'], type: 'int', attrs: { units: 'hours since 1900-01-01 00:00:00.0', calendar: 'gregorian' }, data: Array.from({ length: hours }, (_, t) => hoursSince1900(t0 + t * HOUR_MS)) },
    { name: 'u10', dims: ['time', 'latitude', 'longitude'], type: 'float', attrs: { units: 'm s**-1' }, data: field(wind) },
    { name: 'v10', dims: ['time', 'latitude', 'longitude'], type: 'float', attrs: { units: 'm s**-1' }, data: field(() => 1) },
    { name: 'u100', dims: ['time', 'latitude', 'longitude'], type: 'float', attrs: { units: 'm s**-1' }, data: field((t, i) => 1.3 * wind(t, i)) },
    { name: 'v100', dims: ['time', 'latitude', 'longitude'], type: 'float', attrs: { units: 'm s**-1' }, data: field(() => 1.3) },
    { name: 't2m', dims: ['time', 'latitude', 'longitude'], type: 'float', attrs: { units: 'K' }, data: field(() => 263.15) },
    { name: 'sp', dims: ['time', 'latitude', 'longitude'], type: 'float', attrs: { units: 'Pa' }, data: field(() => 101325) },
  ];
  writeNetcdf3(path, { records: hours, dims: [{ name: 'longitude', size: 3 }, { name: 'latitude', size: 2 }, { name: 'time', size: 0 }], vars });
  const config = tinyConfig();
  config.model.quantiles = [];
  const runDir = join(root, 'berlin-like');
  const cube = await loadDataCube(path, config.ingest, silentProgress);
  await runTraining({ tf, backend: info, cube, dataDir: path, runDir, run: 'berlin-like', config, progress: silentProgress, log: () => {} });
  const curve = loadPowerCurve('vestas-v82-1.65mw');
  const predictAt = (airDensity: 'auto' | 'off', out: string, extra: Partial<Config['predict']> = {}) => {
    const c = tinyConfig();
    Object.assign(c.predict, { turbine: 'vestas-v82-1.65mw', interpolation: 'nearest', airDensity, ...extra });
    return predict({ model: runDir, data: path, out: join(root, out), points: ['52.6,13.35'] }, testContext(c));
  };
  const on = await predictAt('auto', 'out-rho');
  const rho = densityAtHeight(263.15, 101325, 2, 100);
  assert.ok(rho > 1.3, `cold air is dense: ${rho}`);
  assert.match(on.power!.airDensityCorrection, /^on \(IEC 61400-12-1\)/);
  const site = on.sites![0]!;
  for (const j of [0, 7, 23]) {
    near(site.airDensityKgM3![j], rho, 1e-3, 'hub-height density');
    near(site.powerKw![j], powerKw(curve, site.speeds[j]! * Math.cbrt(rho / 1.225)), 0.5, 'the curve at the density-corrected speed');
  }
  assert.match(readFileSync(on.csv!, 'utf8').split('\n')[0]!, /speed_ms,air_density_kgm3,power_kw,capacity_factor$/);
  assert.match(JSON.parse(readFileSync(on.json!, 'utf8')).airDensityCorrection, /^on/);
  const off = await predictAt('off', 'out-rho-off');
  assert.equal(off.power!.airDensityCorrection, 'off (predict.airDensity: off)');
  assert.equal(off.sites![0]!.airDensityKgM3, undefined);
  near(off.sites![0]!.powerKw![0], powerKw(curve, off.sites![0]!.speeds[0]!), 0.5, 'uncorrected');
  assert.ok(site.powerKw![0]! > off.sites![0]!.powerKw![0]!, 'denser air, more power');
  // Capacity-factor maps take the same correction.
  const c = tinyConfig();
  Object.assign(c.predict, { turbine: 'vestas-v82-1.65mw', capacityFactorMaps: true });
  const grid = await predict({ model: runDir, data: path, out: join(root, 'out-rho-grid') }, testContext(c));
  const cf = await readRaster(grid.capacityFactorFiles![0]!);
  const speedsLead1 = await readRaster(grid.leads[0]!.file!);
  near(cf.bands[0]![1]!, capacityFactor(curve, speedsLead1.bands[0]![1]! * Math.cbrt(rho / 1.225)), 1e-5, 'capacity factor at the corrected speed');
  assert.match((await bandsTags(grid.capacityFactorFiles![0]!)).AIR_DENSITY_CORRECTION!, /^on/);
});

async function bandsTags(path: string): Promise<Record<string, string>> {
  const buf = readFileSync(path);
  return (await (await (await fromArrayBuffer(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer)).getImage()).getGDALMetadata()) as Record<string, string>;
}
