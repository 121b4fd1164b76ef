/**
 * What gridded input refuses, and how: one line, a DataError (exit code 4) whose message
 * starts with the file's path and says what is wrong. Projected, rotated, curvilinear and
 * irregular grids; no wind; time units and calendars windcast cannot turn into real hours;
 * files that are not NetCDF, CDF-5, truncated NetCDF3 and HDF5 (without HDF5's error stack on
 * stderr). Plus the CF time arithmetic itself, on dates computed by hand.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DataError } from '../src/core/errors.js';
import { HOUR_MS } from '../src/core/time.js';
import { isGriddedInput, openGridded } from '../src/ingest/gridded.js';
import { decodeTimes, parseTimeUnits } from '../src/ingest/gridded/cf.js';
import { fieldCube, writeNetcdf3, writeNetcdf4, type Nc3Attr, type Nc3Var } from './gridded-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'windcast-gridded-errors-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** openGridded rejects with a one-line DataError starting with the path and matching `pattern`. */
async function refuses(path: string, pattern: RegExp, options: Parameters<typeof openGridded>[1] = {}): Promise<void> {
  await assert.rejects(openGridded(path, options), (err: unknown) => {
    assert.ok(err instanceof DataError, `a DataError, got ${String(err)}`);
    assert.equal(err.exitCode, 4);
    assert.ok(err.message.startsWith(`${path}: `), err.message);
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
    assert.match(err.message, pattern);
    return true;
  });
}

interface GridOptions {
  latName?: string;
  lonName?: string;
  lats?: number[];
  lons?: number[];
  latAttrs?: Record<string, Nc3Attr>;
  lonAttrs?: Record<string, Nc3Attr>;
  timeAttrs?: Record<string, Nc3Attr>;
  timeValues?: number[];
  variables?: string[];
  extraVars?: Nc3Var[];
  varAttrs?: Record<string, Nc3Attr>;
}

function file(name: string, o: GridOptions = {}): string {
  const path = join(dir, name);
  const latName = o.latName ?? 'latitude';
  const lonName = o.lonName ?? 'longitude';
  const lats = o.lats ?? [50, 49.75];
  const lons = o.lons ?? [8, 8.25, 8.5];
  const times = o.timeValues ?? [0, 1];
  writeNetcdf3(path, {
    records: times.length,
    dims: [{ name: 'time', size: 0 }, { name: latName, size: lats.length }, { name: lonName, size: lons.length }],
    vars: [
      { name: latName, dims: [latName], type: 'float', attrs: o.latAttrs ?? { units: 'degrees_north' }, data: lats },
      { name: lonName, dims: [lonName], type: 'float', attrs: o.lonAttrs ?? { units: 'degrees_east' }, data: lons },
      { name: 'time', dims: ['time'], type: 'double', attrs: o.timeAttrs ?? { units: 'hours since 2022-01-01' }, data: times },
      ...(o.extraVars ?? []),
      ...(o.variables ?? ['u10', 'v10']).map((n): Nc3Var => ({ name: n, dims: ['time', latName, lonName], type: 'float', attrs: o.varAttrs ?? {}, data: fieldCube(n, times.length, lats, lons) })),
    ],
  });
  return path;
}

test('projected, rotated and curvilinear grids are named as what they are', async () => {
  await refuses(file('lcc.nc', {
    latName: 'y', lonName: 'x', latAttrs: { units: 'm', standard_name: 'projection_y_coordinate' }, lonAttrs: { units: 'm', standard_name: 'projection_x_coordinate' },
    lats: [0, 2500], lons: [0, 2500, 5000],
    extraVars: [{ name: 'Lambert_Conformal', dims: [], type: 'int', attrs: { grid_mapping_name: 'lambert_conformal_conic' }, data: [0] }],
    varAttrs: { grid_mapping: 'Lambert_Conformal' },
  }), /not a lat\/lon grid: the data are on a lambert_conformal_conic grid \(grid_mapping Lambert_Conformal\)/);
  await refuses(file('rotated.nc', {
    latName: 'rlat', lonName: 'rlon', latAttrs: { units: 'degrees', standard_name: 'grid_latitude' }, lonAttrs: { units: 'degrees', standard_name: 'grid_longitude' },
    extraVars: [{ name: 'rotated_pole', dims: [], type: 'char', attrs: { grid_mapping_name: 'rotated_latitude_longitude' }, data: ' ' }],
  }), /rotated_latitude_longitude grid/);
  const curvilinear = join(dir, 'curvilinear.nc');
  writeNetcdf3(curvilinear, {
    records: 1,
    dims: [{ name: 'time', size: 0 }, { name: 'y', size: 2 }, { name: 'x', size: 2 }],
    vars: [
      { name: 'lat', dims: ['y', 'x'], type: 'float', attrs: { units: 'degrees_north' }, data: [50, 50.1, 49.8, 49.9] },
      { name: 'lon', dims: ['y', 'x'], type: 'float', attrs: { units: 'degrees_east' }, data: [8, 8.3, 8.1, 8.4] },
      { name: 'time', dims: ['time'], type: 'double', attrs: { units: 'hours since 2022-01-01' }, data: [0] },
      { name: 'u10', dims: ['time', 'y', 'x'], type: 'float', attrs: { coordinates: 'lat lon' }, data: [1, 2, 3, 4] },
    ],
  });
  await refuses(curvilinear, /not a regular lat\/lon grid: lat is 2-D \(y, x\), a curvilinear grid/);
});

test('irregular spacing (a Gaussian-like grid) and coordinates outside the globe are refused', async () => {
  await refuses(file('irregular.nc', { lats: [50, 49.75, 49.25] }), /not a regular lat\/lon grid: latitude \(latitude\) steps vary from 0\.25 to 0\.5 degrees/);
  await refuses(file('metres.nc', { lats: [5_000_000, 5_002_500] }), /not a lat\/lon grid: latitude runs 5000000\.\.5002500, outside -90\.\.90/);
});

test('no wind: the variables found are listed; a lone component says which', async () => {
  await refuses(file('t2m.nc', { variables: ['t2m', 'sp'] }), /no wind: windcast needs u and v at one height \(u10, v10, u100, v100\) or a wind speed \(si10\); found t2m, sp$/);
  await refuses(file('only-u.nc', { variables: ['u100', 't2m'] }), /no wind \(u100 without its other component\)/);
});

test('time: unknown units, calendars without real hours, times between hours, no time at all', async () => {
  await refuses(file('months.nc', { timeAttrs: { units: 'months since 2022-01-01' } }), /time has time units "months since 2022-01-01": "months" is not a fixed length of time/);
  await refuses(file('noleap.nc', { timeAttrs: { units: 'hours since 2022-01-01', calendar: 'noleap' } }), /time uses the "noleap" calendar: windcast reads real hours only \(calendar standard, gregorian or proleptic_gregorian\)/);
  await refuses(file('360.nc', { timeAttrs: { units: 'days since 2022-01-01', calendar: '360_day' } }), /"360_day" calendar/);
  await refuses(file('garbled.nc', { timeAttrs: { units: 'hours after the storm' } }), /time has time units "hours after the storm": expected "<hours\|seconds\|days\|\.\.\.> since <date>"/);
  await refuses(file('half-hour.nc', { timeValues: [0, 0.5] }), /time\[1\] = 2022-01-01T00:30Z is not on a whole hour: windcast needs hourly data/);
  const timeless = join(dir, 'timeless.nc');
  writeNetcdf3(timeless, {
    dims: [{ name: 'latitude', size: 2 }, { name: 'longitude', size: 2 }],
    vars: [
      { name: 'latitude', dims: ['latitude'], type: 'float', attrs: { units: 'degrees_north' }, data: [50, 49.75] },
      { name: 'longitude', dims: ['longitude'], type: 'float', attrs: { units: 'degrees_east' }, data: [8, 8.25] },
      { name: 'u10', dims: ['latitude', 'longitude'], type: 'float', data: [1, 2, 3, 4] },
      { name: 'v10', dims: ['latitude', 'longitude'], type: 'float', data: [1, 2, 3, 4] },
    ],
  });
  await refuses(timeless, /has no time coordinate: expected a time or valid_time variable with units like "hours since 1900-01-01"/);
});

test('not NetCDF, CDF-5, truncated files: one line naming the file, no HDF5 error stack on stderr', async () => {
  const text = join(dir, 'notes.nc');
  writeFileSync(text, 'this is not a NetCDF file\n');
  assert.equal(isGriddedInput(text), false);
  await refuses(text, /not a NetCDF or HDF5 file \(its first bytes are neither "CDF" nor the HDF5 signature\)/);

  const zip = join(dir, 'download.nc');
  writeFileSync(zip, Buffer.from([0x50, 0x4b, 0x03, 0x04, 20, 0, 0, 0]));
  assert.equal(isGriddedInput(zip), true, 'routed here for the specific message');
  await refuses(zip, /is a ZIP archive \(the CDS zips several NetCDF files together\): unzip it and give the \.nc files/);
  const grib = join(dir, 'era5.grib');
  writeFileSync(grib, Buffer.from('GRIB\0\0\0\x02', 'latin1'));
  await refuses(grib, /is a GRIB file: download NetCDF from the CDS, or convert it/);

  const cdf5 = join(dir, 'cdf5.nc');
  writeFileSync(cdf5, Buffer.from([0x43, 0x44, 0x46, 0x05, 0, 0, 0, 0]));
  await refuses(cdf5, /NetCDF CDF-5 \(64-bit data\) is not supported: convert it with "nccopy -k nc4 IN OUT"/);

  const whole = readFileSync(file('whole.nc'));
  const cut = join(dir, 'cut3.nc');
  writeFileSync(cut, whole.subarray(0, whole.length - 20));
  await refuses(cut, /truncated NetCDF3 file/);
  const headerOnly = join(dir, 'header3.nc');
  writeFileSync(headerOnly, whole.subarray(0, 40));
  await refuses(headerOnly, /not a readable NetCDF3 file/);

  const h5 = join(dir, 'whole4.nc');
  await writeNetcdf4(h5, [
    { name: 'latitude', dims: ['latitude'], dtype: '<d', shape: [2], data: [50, 49.75], attrs: { units: 'degrees_north' } },
    { name: 'longitude', dims: ['longitude'], dtype: '<d', shape: [2], data: [8, 8.25], attrs: { units: 'degrees_east' } },
    { name: 'time', dims: ['time'], dtype: '<q', shape: [300], data: Array.from({ length: 300 }, (_, i) => i), attrs: { units: 'hours since 2022-01-01' } },
    { name: 'u10', dims: ['time', 'latitude', 'longitude'], dtype: '<f', shape: [300, 2, 2], data: fieldCube('u10', 300, [50, 49.75], [8, 8.25]), deflate: 1 },
  ]);
  const bytes = readFileSync(h5);
  const cut4 = join(dir, 'cut4.nc');
  writeFileSync(cut4, bytes.subarray(0, Math.floor(bytes.length / 2)));
  await refuses(cut4, /not a readable NetCDF4\/HDF5 file: truncated file: eof = \d+/);
  // HDF5 prints its error stack straight to the process's stderr unless told not to: check
  // in a child process that nothing but our own output appears.
  const gridded = new URL('../src/ingest/gridded.js', import.meta.url).href;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', `import { openGridded } from ${JSON.stringify(gridded)}; await openGridded(${JSON.stringify(cut4)}).catch((e) => console.log(e.message));`], { encoding: 'utf8' });
  assert.equal(child.stderr, '');
  assert.match(child.stdout, /^.*cut4\.nc: not a readable NetCDF4\/HDF5 file: truncated file/);
  await refuses(join(dir, 'absent.nc'), /no such file or folder/);
});

test('--variables: a variable on another grid or with extra levels says why it cannot be read', async () => {
  const path = join(dir, 'levels.nc');
  writeNetcdf3(path, {
    records: 1,
    dims: [{ name: 'time', size: 0 }, { name: 'level', size: 3 }, { name: 'latitude', size: 2 }, { name: 'longitude', size: 2 }],
    vars: [
      { name: 'latitude', dims: ['latitude'], type: 'float', attrs: { units: 'degrees_north' }, data: [50, 49.75] },
      { name: 'longitude', dims: ['longitude'], type: 'float', attrs: { units: 'degrees_east' }, data: [8, 8.25] },
      { name: 'level', dims: ['level'], type: 'int', attrs: { units: 'hPa' }, data: [850, 925, 1000] },
      { name: 'time', dims: ['time'], type: 'double', attrs: { units: 'hours since 2022-01-01' }, data: [0] },
      { name: 'u10', dims: ['time', 'latitude', 'longitude'], type: 'float', data: [1, 2, 3, 4] },
      { name: 'v10', dims: ['time', 'latitude', 'longitude'], type: 'float', data: [1, 2, 3, 4] },
      { name: 't', dims: ['time', 'level', 'latitude', 'longitude'], type: 'float', data: new Array(12).fill(280) },
    ],
  });
  const ds = await openGridded(path);
  assert.deepEqual(ds.unusable, [{ name: 't', why: 'levels.nc: t has 3 values along level: windcast needs one field per hour (select one level)' }]);
  await refuses(path, /cannot read variable t: levels\.nc: t has 3 values along level/, { variables: ['u10', 'v10', 't'] });
});

test('CF time units: calendars, reference dates and units, against dates computed by hand', () => {
  const p = (units: string, calendar: string | null = null) => parseTimeUnits('f.nc', 'time', units, calendar);
  assert.deepEqual(p('hours since 1900-01-01 00:00:00.0', 'gregorian'), { unitMs: HOUR_MS, epochMs: Date.UTC(1900, 0, 1), text: 'hours since 1900-01-01 00:00:00.0' });
  assert.equal(p('seconds since 1970-01-01T00:00:00Z').epochMs, 0);
  assert.equal(p('minutes since 2000-02-29 12:30').epochMs, Date.UTC(2000, 1, 29, 12, 30));
  assert.equal(p('hours since 2000-01-01 06:00:00 +06:00').epochMs, Date.UTC(2000, 0, 1, 0));
  assert.equal(p('days since 1-1-1', 'proleptic_gregorian').epochMs, -719_162 * 86_400_000);
  // The standard calendar is Julian before 1582-10-15: 0001-01-01 (Julian) is two days before
  // 0001-01-01 (proleptic Gregorian), so 1970-01-01 is day 719,164 (cftime agrees).
  assert.equal(p('days since 0001-01-01 00:00:00', 'standard').epochMs, -719_164 * 86_400_000);
  // 1582-10-04 (Julian) is the day before 1582-10-15 (Gregorian).
  assert.equal(p('days since 1582-10-04', 'standard').epochMs + 86_400_000, Date.UTC(1582, 9, 15));
  assert.throws(() => p('days since 1582-10-10', 'standard'), /does not exist in the standard calendar/);
  assert.throws(() => p('days since 2001-02-29'), /is not a valid date/);
  assert.throws(() => p('hours since 2000-01-01', 'julian'), /"julian" calendar/);

  const days = p('days since 2022-01-01');
  assert.deepEqual(decodeTimes('f.nc', 'time', Float64Array.from([0, 1 / 24, 0.5, 365]), days), [0, 1, 12, 365 * 24].map((h) => Date.UTC(2022, 0, 1) + h * HOUR_MS));
  const ns = p('nanoseconds since 1970-01-01');
  assert.deepEqual(decodeTimes('f.nc', 'time', BigInt64Array.from([1_640_995_200_000_000_000n]), ns), [Date.UTC(2022, 0, 1)]);
  assert.throws(() => decodeTimes('f.nc', 'time', Float64Array.from([0, 0.01]), days), /time\[1\] = 2022-01-01T00:14Z is not on a whole hour/);
});
