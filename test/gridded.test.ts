/**
 * Real ERA5 files as users download them (../shared/data/era5): legacy CDS NetCDF3 packed
 * int16 (Berlin), NetCDF4 with one variable per file (41 x 41, joined across files) and the
 * new CDS NetCDF4 layout in nine three-year files (the glob case). GDAL, where installed, is
 * the referee for values and cell-centre coordinates; the hour counts and ranges are the
 * shared README's.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { colLon, rowLat } from '../src/core/grid.js';
import { HOUR_MS } from '../src/core/time.js';
import { describeGriddedProblems, isGriddedInput, openGridded, readGridded } from '../src/ingest/gridded.js';
import { gdalFrame, hasGdalTools } from './gridded-fixtures.js';

const ERA5 = fileURLToPath(new URL('../../../shared/data/era5/', import.meta.url));
const BERLIN = join(ERA5, 'era5_berlin_2017_3x2.nc');
const PAIR = join(ERA5, 'era5_2020-01-01_*_41x41.nc');
const ARABIAN = join(ERA5, 'arabian-sea-2x2-1997-2023', '*.nc');
const present = existsSync(BERLIN);
const gdal = hasGdalTools();
const scratch = mkdtempSync(join(tmpdir(), 'windcast-gridded-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function assertConsecutive(hours: Float64Array) {
  for (let i = 1; i < hours.length; i++) if (hours[i]! - hours[i - 1]! !== HOUR_MS) assert.fail(`hour ${i} is not one hour after hour ${i - 1}`);
}

/** Our frame t of a variable against GDAL's: same cell centres, same values. */
function agreesWithGdal(source: string, variable: string, hour: number, ours: Float32Array, data: Awaited<ReturnType<typeof readGridded>>, t: number) {
  const cells = data.grid.width * data.grid.height;
  const theirs = gdalFrame(source, variable, hour, scratch);
  assert.equal(theirs.length, cells);
  theirs.forEach((p, i) => {
    const row = Math.floor(i / data.grid.width);
    const col = i % data.grid.width;
    assert.ok(Math.abs(colLon(data.grid, col) - p.lon) < 1e-5 && Math.abs(rowLat(data.grid, row) - p.lat) < 1e-5, `cell ${row},${col}: ours (${colLon(data.grid, col)}, ${rowLat(data.grid, row)}) vs GDAL (${p.lon}, ${p.lat})`);
    const v = ours[t * cells + i]!;
    assert.ok(Math.abs(v - p.value) <= 1e-5 * Math.max(1, Math.abs(p.value)), `${variable} hour ${hour} cell ${row},${col}: ours ${v} vs GDAL ${p.value}`);
  });
}

test('NetCDF3 packed int16 (legacy CDS, Berlin 2017): grid, 8760 hours, all wind found, values as GDAL unpacks them', { skip: !present && 'shared ERA5 files not present' }, async () => {
  assert.ok(isGriddedInput(BERLIN));
  const ds = await openGridded(BERLIN);
  assert.equal(ds.files.length, 1);
  assert.equal(ds.files[0]!.format, 'netcdf3');
  assert.deepEqual(ds.grid, { width: 3, height: 2, lon0: 13.1, lat0: 52.6, dLon: 0.25, dLat: 0.25, pixelIsPoint: true, sourceSouthUp: false, epsg: 4326 });
  assert.equal(ds.hours.length, 8760);
  assert.equal(ds.hours[0], Date.UTC(2017, 0, 1, 0));
  assert.equal(ds.hours[8759], Date.UTC(2017, 11, 31, 23));
  assertConsecutive(ds.hours);
  assert.deepEqual(describeGriddedProblems(ds), []);
  assert.deepEqual([...ds.selected].sort(), ['u10', 'u100', 'v10', 'v100']);
  assert.deepEqual(ds.heights, [10, 100]);
  assert.deepEqual(ds.speed, { height: 100, from: ['u100', 'v100'], derived: true });
  const names = ds.variables.map((v) => v.name).sort();
  assert.deepEqual(names, ['fdir', 'fsr', 'sp', 'ssrd', 't2m', 'u10', 'u100', 'v10', 'v100']);
  assert.deepEqual(ds.variables.find((v) => v.name === 'u100')!.wind, { component: 'u', height: 100 });

  const data = await readGridded(ds);
  assert.deepEqual([...data.fields.keys()].sort(), ['u10', 'u100', 'v10', 'v100']);
  const u = data.fields.get('u100')!;
  const v = data.fields.get('v100')!;
  assert.equal(u.length, 8760 * 6);
  // Hour 0, row 0 (52.6N), column 0 (13.1E): stored 5303 * scale_factor + add_offset.
  assert.ok(Math.abs(u[0]! - (5303 * 0.000497633917562027 + 3.60298022890914)) < 1e-6);
  for (let i = 0; i < u.length; i += 997) assert.ok(Math.abs(data.speed[i]! - Math.hypot(u[i]!, v[i]!)) < 1e-5);
  assert.ok(u.every((x) => Number.isFinite(x)));
  if (gdal) {
    for (const hour of [0, 4321, 8759]) {
      agreesWithGdal(BERLIN, 'u100', hour, u, data, hour);
      agreesWithGdal(BERLIN, 'v10', hour, data.fields.get('v10')!, data, hour);
    }
  }
});

test('--variables and the speed height: choose what to read; 10 m speed from u10/v10', { skip: !present && 'shared ERA5 files not present' }, async () => {
  const ds = await openGridded(BERLIN, { variables: ['u10', 'v10', 't2m'], height: 10 });
  assert.deepEqual(ds.selected, ['u10', 'v10', 't2m']);
  assert.deepEqual(ds.speed, { height: 10, from: ['u10', 'v10'], derived: true });
  const data = await readGridded(ds);
  assert.deepEqual([...data.fields.keys()], ['u10', 'v10', 't2m']);
  assert.ok(data.fields.get('t2m')![0]! > 200 && data.fields.get('t2m')![0]! < 320, 'temperature in kelvin');
  assert.equal(data.speedHeight, 10);
  await assert.rejects(openGridded(BERLIN, { variables: ['u10', 'v10'], height: 100 }), /no wind at 100 m in the chosen variables: wind is available at 10 m/);
  await assert.rejects(openGridded(BERLIN, { variables: ['t2m'] }), (err: Error) => {
    assert.match(err.message, /^.*era5_berlin_2017_3x2\.nc: no wind in the chosen variables/);
    assert.match(err.message, /found fdir|found .*t2m/);
    return true;
  });
  await assert.rejects(openGridded(BERLIN, { variables: ['w100'] }), /no variable "w100" \(found: .*u100/);
});

test('NetCDF4, one variable per file: u10 and v10 joined across two files, 24 h, values as GDAL reads them', { skip: !present && 'shared ERA5 files not present' }, async () => {
  assert.ok(isGriddedInput(PAIR));
  const ds = await openGridded(PAIR);
  assert.equal(ds.files.length, 2);
  assert.deepEqual(ds.files.map((f) => [f.format, f.variables, f.steps]), [['netcdf4', ['u10'], 24], ['netcdf4', ['v10'], 24]]);
  assert.deepEqual(ds.grid, { width: 41, height: 41, lon0: 0, lat0: 55, dLon: 0.25, dLat: 0.25, pixelIsPoint: true, sourceSouthUp: false, epsg: 4326 });
  assert.equal(ds.hours.length, 24);
  assert.equal(ds.hours[0], Date.UTC(2020, 0, 1, 0));
  assertConsecutive(ds.hours);
  assert.deepEqual(describeGriddedProblems(ds), []);
  assert.deepEqual(ds.speed, { height: 10, from: ['u10', 'v10'], derived: true });
  const data = await readGridded(ds);
  if (gdal) {
    agreesWithGdal(join(ERA5, 'era5_2020-01-01_u10_41x41.nc'), 'u10', 13, data.fields.get('u10')!, data, 13);
    agreesWithGdal(join(ERA5, 'era5_2020-01-01_v10_41x41.nc'), 'v10', 23, data.fields.get('v10')!, data, 23);
  }
});

test('the glob case: nine new-CDS NetCDF4 files (valid_time, expver) joined into 236,664 consecutive hours, in seconds', { skip: !present && 'shared ERA5 files not present' }, async () => {
  const started = performance.now();
  const ds = await openGridded(ARABIAN);
  const data = await readGridded(ds);
  const seconds = (performance.now() - started) / 1000;
  assert.equal(ds.files.length, 9);
  assert.ok(ds.files.every((f) => f.format === 'netcdf4' && f.timeSource === 'valid_time'));
  assert.equal(ds.files[0]!.start, Date.UTC(1997, 0, 1, 0));
  assert.equal(ds.files[0]!.end, Date.UTC(1999, 11, 31, 23));
  assert.equal(ds.files[8]!.end, Date.UTC(2023, 11, 31, 23));
  assert.equal(ds.hours.length, 236_664);
  assert.equal(ds.hours[0], Date.UTC(1997, 0, 1, 0));
  assert.equal(ds.hours[236_663], Date.UTC(2023, 11, 31, 23));
  assertConsecutive(ds.hours);
  assert.deepEqual(ds.gaps, []);
  assert.deepEqual(ds.missing, []);
  assert.deepEqual(ds.overlaps, []);
  assert.deepEqual(ds.grid, { width: 2, height: 2, lon0: 55.5, lat0: 8, dLon: 0.25, dLat: 0.25, pixelIsPoint: true, sourceSouthUp: false, epsg: 4326 });
  assert.deepEqual([...ds.selected].sort(), ['u10', 'u100', 'v10', 'v100']);
  const u100 = data.fields.get('u100')!;
  assert.equal(u100.length, 236_664 * 4);
  assert.ok(u100.every((x) => Number.isFinite(x)), 'no NaN in the set (shared README)');
  // Not a timing assertion (benchmarks are separate): a sanity bound 30x above what we measure.
  assert.ok(seconds < 60, `open + read took ${seconds.toFixed(1)} s`);
  if (gdal) {
    // The last hour of the first file and the first of the second: the join is seamless.
    const second = join(ERA5, 'arabian-sea-2x2-1997-2023', '2000-2002.nc');
    const first = join(ERA5, 'arabian-sea-2x2-1997-2023', '1997-1999.nc');
    agreesWithGdal(first, 'u100', 26_279, u100, data, 26_279);
    agreesWithGdal(second, 'u100', 0, u100, data, 26_280);
    agreesWithGdal(second, 'v10', 0, data.fields.get('v10')!, data, 26_280);
  }
});
