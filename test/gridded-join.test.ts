/**
 * Files joined in time: a gap and overlaps made on purpose with small NetCDF3 and Zarr files.
 * Gaps, hours one variable lacks and conflicting overlaps are reported, not thrown, by
 * openGridded; requireConsecutiveHours turns them into one DataError, as catalog.ts does for
 * GeoTIFFs. Identical overlaps (within each file's packing precision) are read once.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DataError } from '../src/core/errors.js';
import { cellCount } from '../src/core/grid.js';
import { HOUR_MS } from '../src/core/time.js';
import { describeGriddedProblems, fingerprintGridded, openGridded, readGridded, requireConsecutiveHours } from '../src/ingest/gridded.js';
import { double, fieldCube, fieldValue, hoursSince1900, pack, short, writeNetcdf3, type Nc3Var } from './gridded-fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'windcast-gridded-join-'));
after(() => rmSync(root, { recursive: true, force: true }));

const T0 = Date.UTC(2022, 0, 1, 0);
const LATS = [50, 49.75];
const LONS = [8, 8.25, 8.5];

/** A NetCDF3 file of hours first..first+count-1 (indices from T0), packed with its own scale. */
function hoursFile(path: string, first: number, count: number, options: { scale?: number; bump?: number; variables?: string[] } = {}): void {
  const scale = options.scale ?? 0.001;
  const vars = (options.variables ?? ['u10', 'v10']).map((name): Nc3Var => ({
    name,
    dims: ['time', 'latitude', 'longitude'],
    type: 'short',
    attrs: { scale_factor: double(scale), add_offset: double(0), _FillValue: short(-32767) },
    data: pack(fieldCube(name, count, LATS, LONS, first).map((v) => v + (options.bump ?? 0)), scale, 0),
  }));
  writeNetcdf3(path, {
    records: count,
    dims: [{ name: 'time', size: 0 }, { name: 'latitude', size: LATS.length }, { name: 'longitude', size: LONS.length }],
    vars: [
      { name: 'latitude', dims: ['latitude'], type: 'float', attrs: { units: 'degrees_north' }, data: LATS },
      { name: 'longitude', dims: ['longitude'], type: 'float', attrs: { units: 'degrees_east' }, data: LONS },
      { name: 'time', dims: ['time'], type: 'int', attrs: { units: 'hours since 1900-01-01 00:00:00.0', calendar: 'gregorian' }, data: Array.from({ length: count }, (_, t) => hoursSince1900(T0 + (first + t) * HOUR_MS)) },
      ...vars,
    ],
  });
}

function folder(name: string): string {
  const d = join(root, name);
  mkdirSync(d);
  return d;
}

const hour = (i: number) => T0 + i * HOUR_MS;

test('a gap and an identical overlap: the gap reported (not thrown), the overlap read once and said so', async () => {
  const d = folder('gap');
  hoursFile(join(d, 'a.nc'), 0, 10);
  // Hours 8-9 again, packed with another scale (as every CDS download is): equal within precision.
  hoursFile(join(d, 'b.nc'), 8, 8, { scale: 0.0007 });
  hoursFile(join(d, 'c.nc'), 20, 4);
  const ds = await openGridded(join(d, '*.nc'));
  assert.deepEqual(Array.from(ds.hours), [...Array.from({ length: 16 }, (_, i) => hour(i)), ...[20, 21, 22, 23].map(hour)]);
  assert.deepEqual(ds.gaps, [{ from: hour(16), to: hour(19), hours: 4 }]);
  assert.deepEqual(ds.missing, []);
  assert.equal(ds.overlaps.length, 1);
  const o = ds.overlaps[0]!;
  assert.deepEqual({ ...o, files: o.files.map((f) => f.slice(d.length + 1)) }, { from: hour(8), to: hour(9), hours: 2, files: ['a.nc', 'b.nc'], variables: ['u10', 'v10'], identical: true });
  assert.ok(ds.notes.some((n) => n === '2022-01-01T08:00Z..2022-01-01T09:00Z (2 h) in a.nc and b.nc (u10, v10): identical values, read once'), ds.notes.join('; '));
  assert.deepEqual(ds.files.map((f) => [f.start, f.end, f.steps]), [[hour(0), hour(9), 10], [hour(8), hour(15), 8], [hour(20), hour(23), 4]]);
  assert.deepEqual(describeGriddedProblems(ds), ['4 missing hours in 1 gap: 2022-01-01T16:00Z..2022-01-01T19:00Z (4 h)']);
  assert.throws(() => requireConsecutiveHours(ds), (err: unknown) => {
    assert.ok(err instanceof DataError);
    assert.equal(err.message, `${join(d, '*.nc')}: hours are not consecutive: 4 missing hours in 1 gap: 2022-01-01T16:00Z..2022-01-01T19:00Z (4 h)`);
    return true;
  });

  // Reading still works (the cube builder is the one to refuse gaps): every hour in place.
  const data = await readGridded(ds);
  const cells = cellCount(data.grid);
  const hourIndex = (i: number) => Array.from(ds.hours).indexOf(hour(i));
  for (const i of [0, 8, 9, 15, 20, 23]) {
    const got = data.fields.get('u10')![hourIndex(i) * cells]!;
    assert.ok(Math.abs(got - fieldValue('u10', i, 50, 8)) < 0.0006, `hour ${i}: ${got}`);
  }
});

test('a conflicting overlap is reported with its hours and files; the earlier file is the one read', async () => {
  const d = folder('conflict');
  hoursFile(join(d, 'a.nc'), 0, 6);
  hoursFile(join(d, 'b.nc'), 4, 4, { bump: 0.5 });
  const ds = await openGridded(join(d, '*.nc'));
  assert.equal(ds.hours.length, 8);
  assert.deepEqual(ds.gaps, []);
  assert.deepEqual(ds.overlaps.map((o) => [o.from, o.to, o.hours, o.identical]), [[hour(4), hour(5), 2, false]]);
  assert.deepEqual(describeGriddedProblems(ds), ['2 hours held twice with different values: 2022-01-01T04:00Z..2022-01-01T05:00Z (2 h) in a.nc and b.nc (u10, v10)']);
  assert.ok(!ds.notes.some((n) => /read once/.test(n)));
  const data = await readGridded(ds);
  const cells = cellCount(data.grid);
  assert.ok(Math.abs(data.fields.get('v10')![4 * cells]! - fieldValue('v10', 4, 50, 8)) < 0.0006, 'hour 4 from a.nc');
  assert.ok(Math.abs(data.fields.get('v10')![6 * cells]! - (fieldValue('v10', 6, 50, 8) + 0.5)) < 0.0006, 'hour 6 from b.nc');
});

test('variables split across files: hours one variable lacks are reported per variable and read as NaN', async () => {
  const d = folder('split');
  hoursFile(join(d, 'era5_u10.nc'), 0, 6, { variables: ['u10'] });
  hoursFile(join(d, 'era5_v10.nc'), 0, 4, { variables: ['v10'] });
  const ds = await openGridded(join(d, 'era5_*.nc'));
  assert.equal(ds.hours.length, 6);
  assert.deepEqual(ds.missing, [{ variable: 'v10', hours: 2, gaps: [{ from: hour(4), to: hour(5), hours: 2 }] }]);
  assert.deepEqual(describeGriddedProblems(ds), ['v10 lacks 2 hours the other variables have: 2022-01-01T04:00Z..2022-01-01T05:00Z (2 h)']);
  const data = await readGridded(ds);
  const cells = cellCount(data.grid);
  assert.ok(data.fields.get('v10')!.subarray(4 * cells).every((x) => Number.isNaN(x)));
  assert.ok(data.speed.subarray(4 * cells).every((x) => Number.isNaN(x)));
  assert.ok(data.fields.get('u10')!.every((x) => Number.isFinite(x)));
});

test('a folder of NetCDF files is a glob of its NetCDF files; a 6-hourly set is named as such', async () => {
  const d = folder('six-hourly');
  const path = join(d, 'six.nc');
  writeNetcdf3(path, {
    records: 4,
    dims: [{ name: 'time', size: 0 }, { name: 'latitude', size: 2 }, { name: 'longitude', size: 3 }],
    vars: [
      { name: 'latitude', dims: ['latitude'], type: 'float', attrs: { units: 'degrees_north' }, data: LATS },
      { name: 'longitude', dims: ['longitude'], type: 'float', attrs: { units: 'degrees_east' }, data: LONS },
      { name: 'time', dims: ['time'], type: 'double', attrs: { units: 'days since 2022-01-01' }, data: [0, 0.25, 0.5, 0.75] },
      { name: 'si10', dims: ['time', 'latitude', 'longitude'], type: 'float', attrs: { units: 'm s**-1' }, data: fieldCube('si10', 4, LATS, LONS) },
    ],
  });
  const ds = await openGridded(d);
  assert.equal(ds.files.length, 1);
  assert.deepEqual(ds.speed, { height: 10, from: ['si10'], derived: false });
  assert.deepEqual(Array.from(ds.hours), [0, 6, 12, 18].map(hour));
  assert.deepEqual(describeGriddedProblems(ds), ['the time step is 6 h: windcast needs hourly data (2022-01-01T00:00Z..2022-01-01T18:00Z)']);
  const data = await readGridded(ds);
  assert.equal(data.speed, data.fields.get('si10'), 'the speed is the si10 array itself, not a copy');
});

test('files on different grids are refused, naming both', async () => {
  const d = folder('grids');
  hoursFile(join(d, 'a.nc'), 0, 2);
  const other = join(d, 'z.nc');
  writeNetcdf3(other, {
    records: 1,
    dims: [{ name: 'time', size: 0 }, { name: 'latitude', size: 2 }, { name: 'longitude', size: 3 }],
    vars: [
      { name: 'latitude', dims: ['latitude'], type: 'float', attrs: { units: 'degrees_north' }, data: [51, 50.75] },
      { name: 'longitude', dims: ['longitude'], type: 'float', attrs: { units: 'degrees_east' }, data: LONS },
      { name: 'time', dims: ['time'], type: 'int', attrs: { units: 'hours since 2022-01-01' }, data: [5] },
      { name: 'u10', dims: ['time', 'latitude', 'longitude'], type: 'float', data: [1, 2, 3, 4, 5, 6] },
      { name: 'v10', dims: ['time', 'latitude', 'longitude'], type: 'float', data: [1, 2, 3, 4, 5, 6] },
    ],
  });
  await assert.rejects(openGridded(join(d, '*.nc')), (err: unknown) => {
    assert.ok(err instanceof DataError);
    assert.match(err.message, /z\.nc: grid differs from a\.nc: first cell centre \(8, 51\) vs \(8, 50\)/);
    return true;
  });
});

test('an hour repeated inside one file (same values) is read once and said so; hours out of order are sorted', async () => {
  const d = folder('repeat');
  const path = join(d, 'r.nc');
  const order = [2, 0, 1, 2, 3];
  writeNetcdf3(path, {
    records: order.length,
    dims: [{ name: 'time', size: 0 }, { name: 'latitude', size: 2 }, { name: 'longitude', size: 3 }],
    vars: [
      { name: 'latitude', dims: ['latitude'], type: 'float', attrs: { units: 'degrees_north' }, data: LATS },
      { name: 'longitude', dims: ['longitude'], type: 'float', attrs: { units: 'degrees_east' }, data: LONS },
      { name: 'time', dims: ['time'], type: 'int', attrs: { units: 'hours since 1900-01-01' }, data: order.map((i) => hoursSince1900(hour(i))) },
      ...['u10', 'v10'].map((name): Nc3Var => ({ name, dims: ['time', 'latitude', 'longitude'], type: 'float', data: order.flatMap((i) => fieldCube(name, 1, LATS, LONS, i)) })),
    ],
  });
  const ds = await openGridded(path);
  assert.deepEqual(Array.from(ds.hours), [0, 1, 2, 3].map(hour));
  assert.deepEqual(ds.overlaps.map((o) => [o.from, o.hours, o.identical, o.files.length]), [[hour(2), 1, true, 2]]);
  assert.ok(ds.notes.includes('2022-01-01T02:00Z twice in r.nc (u10, v10): identical values, read once'), ds.notes.join('; '));
  const data = await readGridded(ds);
  const cells = cellCount(data.grid);
  for (const i of [0, 1, 2, 3]) assert.ok(Math.abs(data.fields.get('u10')![i * cells + 4]! - fieldValue('u10', i, 49.75, 8.25)) < 1e-5, `hour ${i}`);
});

test('fingerprintGridded: the same for the same data and choice; changes with a file, the variables or the area', async () => {
  const d = folder('fingerprint');
  hoursFile(join(d, 'a.nc'), 0, 4);
  hoursFile(join(d, 'b.nc'), 4, 4);
  const glob = join(d, '*.nc');
  const base = fingerprintGridded(await openGridded(glob));
  assert.match(base, /^[0-9a-f]{20}$/);
  assert.equal(fingerprintGridded(await openGridded(glob)), base);
  assert.notEqual(fingerprintGridded(await openGridded(glob, { variables: ['u10', 'v10'], height: 10, area: { north: 50, west: 8, south: 49.75, east: 8.25 } })), base);
  assert.notEqual(fingerprintGridded(await openGridded(glob, { to: hour(5) })), base);
  const later = new Date(Date.now() + 60_000);
  utimesSync(join(d, 'b.nc'), later, later);
  assert.notEqual(fingerprintGridded(await openGridded(glob)), base);
});
