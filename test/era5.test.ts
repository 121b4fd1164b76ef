/**
 * ERA5 as users download it, end to end: train (one tiny epoch), evaluate and predict straight
 * from the shared NetCDF files (../shared/data/era5: Berlin 2017 NetCDF3, and two three-year
 * NetCDF4 files of the Arabian Sea set as a glob, a short period of the 27 years), the
 * checkpoint recording its inputs and target, 10 m vs 100 m targets, inspect on NetCDF, predict
 * refusing data that lacks the checkpoint's inputs, and a Zarr store (ARCO-ERA5 names) written here.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { testContext } from '../src/commands/context.js';
import { evaluate } from '../src/commands/evaluate.js';
import { formatInspectResult, inspect, notReadyReasons } from '../src/commands/inspect.js';
import { predict } from '../src/commands/predict.js';
import { train } from '../src/commands/train.js';
import { parseConfig, type Config } from '../src/core/config.js';
import { formatBytes } from '../src/core/bytes.js';
import { DataError } from '../src/core/errors.js';
import { silentProgress } from '../src/core/progress.js';
import { HOUR_MS } from '../src/core/time.js';
import { loadDataCube } from '../src/ingest/cube.js';
import { fingerprintGridded, openGridded, readGridded } from '../src/ingest/gridded.js';
import { readMeta } from '../src/model/checkpoint.js';
import { float, hoursSince1900, writeNetcdf3, writeZarrV2, type Nc3Var } from './gridded-fixtures.js';
import { gdalOrSkip, latLonFixture, writeFixture } from './ingest-fixtures.js';

const ERA5 = fileURLToPath(new URL('../../../shared/data/era5/', import.meta.url));
const BERLIN = join(ERA5, 'era5_berlin_2017_3x2.nc');
const ARABIAN = join(ERA5, 'arabian-sea-2x2-1997-2023');
const present = existsSync(BERLIN) && existsSync(ARABIAN);
const skip = !present && 'shared ERA5 files not present';
const NAMES = ['u10', 'v10', 'u100', 'v100'];
const root = mkdtempSync(join(tmpdir(), 'windcast-era5-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** One short epoch on the cpu backend; the shared files are read-only, so no cube cache. */
function config(overrides: { ingest?: Partial<Config['ingest']> } = {}): Config {
  return parseConfig({
    ingest: { cache: false, ...overrides.ingest },
    model: { units: 8 },
    train: { epochs: 1, samplesPerEpoch: 2000, validationSamples: 2000, batchSize: 500, linearFitWindows: 5000, quantileSamples: 2000 },
    evaluate: { stride: 24 },
    runtime: { backend: 'cpu', modelsDir: join(root, 'models') },
  }, 'test');
}

/** Berlin trained once, for the tests that need a checkpoint of it. */
let berlinRun: Promise<string> | undefined;
function trainedBerlin(): Promise<string> {
  berlinRun ??= train({ data: BERLIN, run: 'berlin' }, testContext(config())).then((r) => r.runDir);
  return berlinRun;
}

test('Berlin NetCDF3: train, evaluate and predict from the file; the checkpoint records inputs and target', { skip }, async () => {
  const runDir = await trainedBerlin();
  const meta = readMeta(join(runDir, 'best'));
  assert.equal(meta.features.heightM, 100, 'hub height: 100 m when the data has it');
  assert.equal(meta.features.otherHeightM, 10);
  assert.deepEqual(meta.features.variables, ['u10', 'u100', 'v10', 'v100']);
  assert.deepEqual(meta.features.names.slice(-4), ['u', 'v', 'u10', 'v10']);
  assert.equal(meta.split.hours, 8760);
  assert.equal(meta.data.fingerprint, fingerprintGridded(await openGridded(BERLIN)));

  const ev = await evaluate({ model: runDir, data: BERLIN, out: join(root, 'eval-berlin') }, testContext(config()));
  const rmse = ev.report.global.forecasters.model!.mean.rmse;
  assert.ok(Number.isFinite(rmse) && rmse > 0.3 && rmse < 5, `model RMSE ${rmse}`);
  assert.ok(ev.report.testPeriod.windows > 10);

  const out = join(root, 'fc-berlin');
  const p = await predict({ model: runDir, data: BERLIN, out }, testContext(config()));
  assert.equal(p.issueTime, '2017-12-31T23Z');
  assert.deepEqual([p.inputs.first, p.inputs.last, p.inputs.files], ['2017-12-31T00Z', '2017-12-31T23Z', [BERLIN]]);
  assert.equal(readdirSync(out).filter((f) => f.startsWith('windspeed_') && f.endsWith('.tif')).length, 24);
  // The default model forecasts quantiles: one 7-band file per lead beside each lead's speed.
  assert.equal(readdirSync(out).filter((f) => f.startsWith('windspeed-quantiles_') && f.endsWith('.tif')).length, 24);
  for (const lead of p.leads) assert.ok(lead.nodataCells === 0 && lead.min > 0 && lead.max < 40, `lead ${lead.lead}: ${lead.min}..${lead.max}`);

  const site = await predict({ model: runDir, data: BERLIN, out: join(root, 'site-berlin'), at: '2017-06-01T00Z', points: ['52.5,13.4'] }, testContext(config()));
  assert.equal(site.issueTime, '2017-06-01T00Z');
  assert.deepEqual([site.inputs.first, site.inputs.last], ['2017-05-31T01Z', '2017-06-01T00Z']);
  assert.ok(site.sites![0]!.speeds.every((v) => v !== null && v > 0 && v < 40));
});

test('the Arabian Sea glob (two three-year NetCDF4 files joined in time): train, evaluate, predict', { skip }, async () => {
  const dir = join(root, 'arabian');
  mkdirSync(dir);
  for (const name of ['2018-2020.nc', '2021-2023.nc']) symlinkSync(join(ARABIAN, name), join(dir, name));
  const glob = join(dir, '*.nc');
  const hours = Date.UTC(2024, 0, 1) / HOUR_MS - Date.UTC(2018, 0, 1) / HOUR_MS;
  const trained = await train({ data: glob, run: 'arabian' }, testContext(config()));
  assert.equal(trained.hours, hours);
  const meta = readMeta(join(trained.runDir, 'best'));
  assert.deepEqual([meta.features.heightM, meta.features.otherHeightM, meta.features.dayOfYear], [100, 10, true]);
  assert.equal(meta.data.firstHour, '2018-01-01T00Z');
  const ev = await evaluate({ model: trained.runDir, data: glob, out: join(root, 'eval-arabian') }, testContext(config()));
  assert.ok(Number.isFinite(ev.report.global.forecasters.model!.mean.rmse));
  const p = await predict({ model: trained.runDir, data: glob, out: join(root, 'fc-arabian'), at: '2021-01-01T05Z' }, testContext(config()));
  // The input hours cross from one file into the next: both are read, only those hours.
  assert.deepEqual([p.inputs.first, p.inputs.last], ['2020-12-31T06Z', '2021-01-01T05Z']);
  assert.deepEqual(p.inputs.files.map((f) => f.slice(dir.length + 1)), ['2018-2020.nc', '2021-2023.nc']);
  assert.equal(p.leads.length, 24);
  // Evaluating the whole 27 years with the two-file checkpoint is refused: other data.
  await assert.rejects(evaluate({ model: trained.runDir, data: join(ARABIAN, '*.nc'), out: join(root, 'eval-wrong') }, testContext(config())), (err: unknown) => err instanceof DataError && /is not the data the checkpoint was trained on/.test(err.message));
});

test('target height 10 vs 100 m: different speeds, each hypot(u, v) of its own height', { skip }, async () => {
  const at100 = await loadDataCube(BERLIN, config().ingest, silentProgress);
  const at10 = await loadDataCube(BERLIN, config({ ingest: { targetHeight: 10 } }).ingest, silentProgress);
  const fields = (await readGridded(await openGridded(BERLIN))).fields;
  assert.deepEqual([at100.heightM, at100.other?.heightM, at10.heightM, at10.other?.heightM], [100, 10, 10, 100]);
  let differ = 0;
  for (let i = 0; i < at100.speed.length; i += 7) {
    const s100 = Math.hypot(fields.get('u100')![i]!, fields.get('v100')![i]!);
    const s10 = Math.hypot(fields.get('u10')![i]!, fields.get('v10')![i]!);
    assert.ok(Math.abs(at100.speed[i]! - s100) < 1e-5 && Math.abs(at10.speed[i]! - s10) < 1e-5, `value ${i}`);
    assert.equal(at10.other!.u[i], fields.get('u100')![i]);
    if (Math.abs(s100 - s10) > 0.05) differ++;
  }
  assert.ok(differ > 0.9 * (at100.speed.length / 7), `100 m and 10 m speeds differ at ${differ} of ${Math.ceil(at100.speed.length / 7)} samples`);
  // Mean 100 m wind is stronger than 10 m wind over land: the heights are not swapped.
  const mean = (a: Float32Array) => a.reduce((s, x) => s + x, 0) / a.length;
  assert.ok(mean(at100.speed) > mean(at10.speed) + 1);
  // Only 10 m wind read: the target is 10 m and there is no other height.
  // The memory budget of a command that holds the cube: 6 cells x 8760 h x 4 bytes x (speed, u, v, u10, v10).
  const bytes = 6 * 8760 * 4 * 5;
  assert.equal(at100.speed.length + at100.u!.length + at100.v!.length + at100.other!.u.length + at100.other!.v.length, bytes / 4);
  await loadDataCube(BERLIN, config().ingest, silentProgress, undefined, { bytes, hint: '' });
  await assert.rejects(loadDataCube(BERLIN, config().ingest, silentProgress, undefined, { bytes: bytes - 1, hint: '' }), (err: unknown) => err instanceof DataError && err.message.startsWith(`${BERLIN}: the cube needs ${formatBytes(bytes)} in memory, more than the memory budget of ${formatBytes(bytes - 1)}`));
  const only10 = await loadDataCube(BERLIN, config({ ingest: { variables: ['u10', 'v10'] } }).ingest, silentProgress);
  assert.deepEqual([only10.heightM, only10.other, only10.source.variables], [10, undefined, ['u10', 'v10']]);
  await assert.rejects(loadDataCube(BERLIN, config({ ingest: { variables: ['t2m', 'u10', 'v10'] } }).ingest, silentProgress), (err: unknown) =>
    err instanceof DataError && err.message === `${BERLIN}: t2m (2 metre temperature) is not wind: windcast reads u/v at 10 m and 100 m (u10, v10, u100, v100) or a wind speed (si10)`);
});

/** Hourly NetCDF3 on Berlin's cells holding only `names` (float m/s), hours from 2018-01-01. */
function berlinLike(path: string, names: string[], hours = 30): void {
  const lats = [52.6, 52.35];
  const lons = [13.1, 13.35, 13.6];
  const t0 = Date.UTC(2018, 0, 1);
  const vars: Nc3Var[] = [
    { name: 'longitude', dims: ['longitude'], type: 'float', attrs: { units: 'degrees_east' }, data: lons },
    { name: 'latitude', dims: ['latitude'], type: 'float', attrs: { units: 'degrees_north' }, data: lats },
    { name: 'time', dims: ['time'], type: 'int', attrs: { units: 'hours since 1900-01-01 00:00:00.0', calendar: 'gregorian' }, data: Array.from({ length: hours }, (_, t) => hoursSince1900(t0 + t * HOUR_MS)) },
    ...names.map((name, k): Nc3Var => ({ name, dims: ['time', 'latitude', 'longitude'], type: 'float', attrs: { units: 'm s**-1', _FillValue: float(-32767) }, data: Array.from({ length: hours * 6 }, (_, i) => 2 + k + 0.01 * i) })),
  ];
  writeNetcdf3(path, { records: hours, dims: [{ name: 'longitude', size: 3 }, { name: 'latitude', size: 2 }, { name: 'time', size: 0 }], vars });
}

test("predict refuses data without the checkpoint's inputs, naming the data and what is missing", { skip }, async () => {
  const runDir = await trainedBerlin();
  const refused = async (data: string, message: string) => {
    const out = join(root, `refused-${readdirSync(root).length}`);
    await assert.rejects(predict({ model: runDir, data, out }, testContext(config())), (err: unknown) => {
      assert.ok(err instanceof DataError, String(err));
      assert.equal(err.message, message);
      return true;
    });
    assert.equal(existsSync(out), false, 'nothing written');
  };
  const ten = join(root, 'ten.nc');
  berlinLike(ten, ['u10', 'v10']);
  await refused(ten, `${ten}: the model forecasts wind at 100 m, but this data has wind at 10 m only`);
  const hub = join(root, 'hub.nc');
  berlinLike(hub, ['u100', 'v100']);
  await refused(hub, `${hub}: the model also takes u/v at 10 m (u10, v10) as inputs, but this data has wind at 100 m only`);
  // The old GDAL loop's unnamed u/v GeoTIFFs on Berlin's cells: same cells, but no height.
  const tifs = join(root, 'unnamed');
  mkdirSync(tifs);
  for (let t = 0; t < 24; t++) {
    writeFixture(join(tifs, `era5_${new Date(Date.UTC(2018, 0, 1, t)).toISOString().slice(0, 13)}.tif`), latLonFixture(3, 2, (r, c, b) => 3 + b + r + c, { step: 0.25, west: 13.1 - 0.125, top: 52.6 + 0.125, bandCount: 2 }));
  }
  await refused(tifs, `${join(tifs, 'era5_2018-01-01T00.tif')}: the model forecasts wind at 100 m, but this data does not say the height of its wind (name GeoTIFF bands u100, v100 in their descriptions, or give the NetCDF)`);
  // All the inputs there, in a file of their own: accepted.
  const full = join(root, 'full.nc');
  berlinLike(full, ['u100', 'v100', 'u10', 'v10']);
  const ok = await predict({ model: runDir, data: full, out: join(root, 'fc-full') }, testContext(config()));
  assert.equal(ok.issueTime, '2018-01-02T05Z');
});

test('inspect on NetCDF: files, hours, variables with heights, the target; gaps and overlaps make it NOT ready', { skip }, async () => {
  const r = await inspect({ dir: BERLIN }, testContext(config()));
  assert.equal(r.kind, 'gridded');
  assert.equal(r.files, 1);
  assert.deepEqual(r.timeRange, { first: '2017-01-01T00:00Z', last: '2017-12-31T23:00Z', spanHours: 8760 });
  assert.equal(r.consecutive, true);
  assert.deepEqual(r.wind, { heightM: 100, otherHeightM: 10, variables: ['u10', 'u100', 'v10', 'v100'] });
  assert.deepEqual(r.gridded!.heights, [10, 100]);
  assert.equal(r.gridded!.variables.find((v) => v.name === 'u100')!.wind, 'u at 100 m');
  assert.equal(r.gridded!.variables.find((v) => v.name === 't2m')!.selected, false);
  assert.equal(r.grid!.width, 3);
  assert.equal(r.memory!.cubeBytes, 8760 * 6 * 4 * 5);
  assert.ok(r.values!.min! >= 0 && r.values!.mean! > 3 && r.values!.mean! < 12);
  assert.deepEqual(notReadyReasons(r), []);
  const text = formatInspectResult(r);
  assert.match(text, /variable {3}u100 {3}u at 100 m/);
  assert.match(text, /target {5}wind speed at 100 m; u\/v at 10 m are inputs too/);
  assert.match(text, /\nready for training$/);

  // Two files with a gap between them and an overlap of conflicting values.
  const dir = join(root, 'gappy');
  mkdirSync(dir);
  berlinLike(join(dir, 'a.nc'), ['u10', 'v10'], 30);
  const lats = [52.6, 52.35];
  const lons = [13.1, 13.35, 13.6];
  const later = (start: number, hours: number, path: string) => writeNetcdf3(path, {
    records: hours,
    dims: [{ name: 'longitude', size: 3 }, { name: 'latitude', size: 2 }, { name: 'time', size: 0 }],
    vars: [
      { name: 'longitude', dims: ['longitude'], type: 'float', attrs: { units: 'degrees_east' }, data: lons },
      { name: 'latitude', dims: ['latitude'], type: 'float', attrs: { units: 'degrees_north' }, data: lats },
      { name: 'time', dims: ['time'], type: 'int', attrs: { units: 'hours since 1900-01-01 00:00:00.0' }, data: Array.from({ length: hours }, (_, t) => hoursSince1900(start + t * HOUR_MS)) },
      ...['u10', 'v10'].map((name): Nc3Var => ({ name, dims: ['time', 'latitude', 'longitude'], type: 'float', attrs: { units: 'm s**-1' }, data: Array.from({ length: hours * 6 }, () => 9) })),
    ],
  });
  later(Date.UTC(2018, 0, 1, 35), 10, join(dir, 'b.nc'));
  const gappy = await inspect({ dir }, testContext(config()));
  assert.equal(gappy.consecutive, false);
  assert.deepEqual(gappy.gaps, [{ from: '2018-01-02T06:00Z', to: '2018-01-02T10:00Z', hours: 5 }]);
  assert.deepEqual(notReadyReasons(gappy), ['5 missing hours in 1 gap']);
  assert.match(formatInspectResult(gappy), /PROBLEM {4}5 missing hours in 1 gap: 2018-01-02T06:00Z\.\.2018-01-02T10:00Z \(5 h\)/);
  await assert.rejects(loadDataCube(dir, config().ingest, silentProgress), (err: unknown) => err instanceof DataError && /hours are not consecutive: 5 missing hours in 1 gap/.test(err.message));
  later(Date.UTC(2018, 0, 1, 25), 11, join(dir, 'b.nc'));
  const overlapping = await inspect({ dir }, testContext(config()));
  assert.deepEqual(notReadyReasons(overlapping), ['5 hours held twice with different values']);
  // GeoTIFFs beside the NetCDF files: which to read is asked, not guessed.
  writeFixture(join(dir, 'era5_2018-01-01T00.tif'), latLonFixture(3, 2, () => 1, { step: 0.25 }));
  await assert.rejects(inspect({ dir }, testContext(config())), (err: unknown) => err instanceof DataError && err.message.includes('holds both NetCDF files and GeoTIFFs (1); say which to read with a glob'));
  assert.equal((await inspect({ dir: join(dir, '*.nc') }, testContext(config()))).kind, 'gridded');
});

test('a Zarr store in the ARCO-ERA5 layout: inspect, train, predict; --variables takes the store\'s own names', async () => {
  const store = join(root, 'arco.zarr');
  const lats = [60, 59.75, 59.5];
  const lons = [4, 4.25, 4.5, 4.75];
  const hours = 800;
  const t0 = Date.UTC(2022, 0, 1);
  const long = { u10: '10m_u_component_of_wind', v10: '10m_v_component_of_wind', u100: '100m_u_component_of_wind', v100: '100m_v_component_of_wind' };
  const field = (name: string) => {
    const gain = name.endsWith('100') ? 1.3 : 1;
    const out: number[] = [];
    for (let t = 0; t < hours; t++) for (const la of lats) for (const lo of lons) out.push(gain * ((name.startsWith('u') ? 5 : -2) + 3 * Math.sin(t / 9 + la - lo) + 0.1 * (lo - 4)));
    return out;
  };
  writeZarrV2(store, [
    { name: 'time', dims: ['time'], shape: [hours], chunks: [100], dtype: 'int64', data: Array.from({ length: hours }, (_, t) => hoursSince1900(t0 + t * HOUR_MS)), attrs: { units: 'hours since 1900-01-01', calendar: 'proleptic_gregorian' }, fillValue: null },
    { name: 'latitude', dims: ['latitude'], shape: [3], dtype: 'float32', data: lats, attrs: { units: 'degrees_north' } },
    { name: 'longitude', dims: ['longitude'], shape: [4], dtype: 'float32', data: lons, attrs: { units: 'degrees_east' } },
    ...Object.entries(long).map(([short, name]) => ({ name, dims: ['time', 'latitude', 'longitude'], shape: [hours, 3, 4], chunks: [100, 3, 4], dtype: 'float32' as const, data: field(short), attrs: { units: 'm s**-1' } })),
  ]);
  const r = await inspect({ dir: store }, testContext(config()));
  assert.deepEqual([r.kind, r.gridded!.formats, r.wind!.heightM, r.wind!.otherHeightM], ['gridded', ['zarr-v2'], 100, 10]);
  const own = await loadDataCube(store, config({ ingest: { variables: [long.u10, long.v10] } }).ingest, silentProgress);
  assert.deepEqual([own.heightM, own.other, own.source.variables], [10, undefined, ['u10', 'v10']]);
  const trained = await train({ data: store, run: 'zarr' }, testContext(config()));
  assert.equal(trained.hours, hours);
  const p = await predict({ model: trained.runDir, data: store, out: join(root, 'fc-zarr'), at: '2022-01-10T00Z' }, testContext(config()));
  assert.deepEqual([p.issueTime, p.inputs.files, p.leads.length], ['2022-01-10T00Z', [store], 24]);
  assert.ok(p.leads.every((l) => l.nodataCells === 0 && Number.isFinite(l.mean)));
});

test('GDAL referee: the README\'s second way (4-band GeoTIFFs named u10, v10, u100, v100) forecasts what the NetCDF does', { skip }, async (t) => {
  if (!gdalOrSkip(t)) return;
  const runDir = await trainedBerlin();
  const dir = join(root, 'gdal-loop');
  const tifs = join(dir, 'tif');
  mkdirSync(tifs, { recursive: true });
  const first = 4000; // hour index in 2017 of the first input hour
  // One 24-band file per variable (band i = hour first + i), then per hour a VRT of band i of
  // each, with the descriptions the README's loop adds, translated to one 4-band GeoTIFF.
  for (const v of NAMES) execFileSync('gdal_translate', ['-q', '-unscale', '-ot', 'Float32', ...Array.from({ length: 24 }, (_, i) => ['-b', String(first + i + 1)]).flat(), `NETCDF:${BERLIN}:${v}`, join(dir, `${v}.tif`)]);
  for (let i = 0; i < 24; i++) {
    const bands = NAMES.map((v, b) => `<VRTRasterBand dataType="Float32" band="${b + 1}"><Description>${v}</Description><SimpleSource><SourceFilename relativeToVRT="1">${v}.tif</SourceFilename><SourceBand>${i + 1}</SourceBand></SimpleSource></VRTRasterBand>`);
    const info = JSON.parse(execFileSync('gdalinfo', ['-json', join(dir, 'u10.tif')], { encoding: 'utf8' })) as { geoTransform: number[]; size: number[] };
    writeFileSync(join(dir, 'uv.vrt'), `<VRTDataset rasterXSize="${info.size[0]}" rasterYSize="${info.size[1]}"><GeoTransform>${info.geoTransform.join(', ')}</GeoTransform>${bands.join('')}</VRTDataset>`);
    const hour = new Date(Date.UTC(2017, 0, 1) + (first + i) * HOUR_MS).toISOString().slice(0, 13).replace(/[-T]/g, '');
    execFileSync('gdal_translate', ['-q', '-a_srs', 'EPSG:4326', '-co', 'COMPRESS=DEFLATE', join(dir, 'uv.vrt'), join(tifs, `era5_${hour}.tif`)]);
  }
  const fromTifs = await predict({ model: runDir, data: tifs, out: join(dir, 'fc-tif') }, testContext(config()));
  const fromNetcdf = await predict({ model: runDir, data: BERLIN, out: join(dir, 'fc-nc'), at: fromTifs.issueTime }, testContext(config()));
  assert.equal(fromTifs.issueTime, new Date(Date.UTC(2017, 0, 1) + (first + 23) * HOUR_MS).toISOString().slice(0, 13) + 'Z');
  fromTifs.leads.forEach((lead, j) => {
    const other = fromNetcdf.leads[j]!;
    for (const k of ['min', 'mean', 'max'] as const) assert.ok(Math.abs(lead[k] - other[k]) < 1e-3, `lead ${j + 1} ${k}: GeoTIFF ${lead[k]} vs NetCDF ${other[k]}`);
  });
});
