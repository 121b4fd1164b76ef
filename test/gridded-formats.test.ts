/**
 * Every layout openGridded promises, on small files written here: NetCDF3 (classic and 64-bit
 * offset, packed int16 with fill values), NetCDF4 (cfgrib's time + valid_time + scalar
 * step/number/surface, an expver dimension), Zarr v2 and v3 with ARCO-ERA5 names; latitude
 * ascending or descending, longitude 0..360, -180..180 or across the seam. The fields are
 * smooth functions of (hour, lat, lon), so each value checks its placement too.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cellCount, colLon, rowLat } from '../src/core/grid.js';
import { HOUR_MS } from '../src/core/time.js';
import { isGriddedInput, openGridded, readGridded, type GriddedData } from '../src/ingest/gridded.js';
import {
  double, fieldCube, fieldValue, float, hoursSince1900, pack, short, writeNetcdf3, writeNetcdf4, writeZarrV2, writeZarrV3,
  type Nc3Var,
} from './gridded-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'windcast-gridded-formats-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const T0 = Date.UTC(2021, 5, 1, 0);

/** Every cell of a field matches fieldValue at its own lat/lon within `tolerance`, except `nan` cells. */
function assertField(data: GriddedData, name: string, tolerance: number, nan: (t: number, row: number, col: number) => boolean = () => false, hourOffset = 0) {
  const f = data.fields.get(name);
  assert.ok(f, `field ${name} read`);
  const { grid } = data;
  const cells = cellCount(grid);
  for (let t = 0; t < data.times.length; t++) {
    for (let row = 0; row < grid.height; row++) {
      for (let col = 0; col < grid.width; col++) {
        const got = f[t * cells + row * grid.width + col]!;
        if (nan(t, row, col)) {
          assert.ok(Number.isNaN(got), `${name} t=${t} row=${row} col=${col} should be NaN, got ${got}`);
          continue;
        }
        const want = fieldValue(name, t + hourOffset, rowLat(grid, row), colLon(grid, col));
        assert.ok(Math.abs(got - want) <= tolerance, `${name} t=${t} row=${row} col=${col}: ${got} vs ${want}`);
      }
    }
  }
}

function nc3Wind(lats: number[], lons: number[], hours: number, options: { scale?: number; offset?: number; fillAt?: number } = {}): Nc3Var[] {
  const scale = options.scale ?? 0.001;
  const offset = options.offset ?? 1.5;
  return ['u100', 'v100', 'u10', 'v10'].map((name) => {
    const values = fieldCube(name, hours, lats, lons);
    if (options.fillAt !== undefined) values[options.fillAt] = NaN;
    return {
      name,
      dims: ['time', 'latitude', 'longitude'],
      type: 'short',
      attrs: { scale_factor: double(scale), add_offset: double(offset), _FillValue: short(-32767), missing_value: short(-32767), units: 'm s**-1' },
      data: pack(values, scale, offset),
    } satisfies Nc3Var;
  });
}

function nc3Coordinates(lats: number[], lons: number[], hours: number, first = T0): Nc3Var[] {
  return [
    { name: 'longitude', dims: ['longitude'], type: 'float', attrs: { units: 'degrees_east', long_name: 'longitude' }, data: lons },
    { name: 'latitude', dims: ['latitude'], type: 'float', attrs: { units: 'degrees_north', long_name: 'latitude' }, data: lats },
    { name: 'time', dims: ['time'], type: 'int', attrs: { units: 'hours since 1900-01-01 00:00:00.0', long_name: 'time', calendar: 'gregorian' }, data: Array.from({ length: hours }, (_, t) => hoursSince1900(first + t * HOUR_MS)) },
  ];
}

function nc3(path: string, lats: number[], lons: number[], hours: number, version: 1 | 2 = 1, options: Parameters<typeof nc3Wind>[3] = {}): void {
  writeNetcdf3(path, {
    version,
    records: hours,
    dims: [{ name: 'longitude', size: lons.length }, { name: 'latitude', size: lats.length }, { name: 'time', size: 0 }],
    attrs: { Conventions: 'CF-1.6' },
    vars: [...nc3Coordinates(lats, lons, hours), ...nc3Wind(lats, lons, hours, options)],
  });
}

test('NetCDF3 packed int16, latitude descending, longitude -180..180: unpacked, fill values NaN, PixelIsPoint', async () => {
  const path = join(dir, 'desc.nc');
  const lats = [51, 50.75, 50.5];
  const lons = [-1, -0.75, -0.5, -0.25];
  // Cell (t=2, row 1, col 3) is filled in every variable.
  const fillAt = 2 * 12 + 1 * 4 + 3;
  nc3(path, lats, lons, 5, 1, { fillAt });
  assert.ok(isGriddedInput(path));
  const ds = await openGridded(path);
  assert.deepEqual(ds.grid, { width: 4, height: 3, lon0: -1, lat0: 51, dLon: 0.25, dLat: 0.25, pixelIsPoint: true, sourceSouthUp: false, epsg: 4326 });
  assert.deepEqual(Array.from(ds.hours), [0, 1, 2, 3, 4].map((t) => T0 + t * HOUR_MS));
  const data = await readGridded(ds);
  for (const name of ['u100', 'v100', 'u10', 'v10']) assertField(data, name, 0.0005 + 1e-6, (t, row, col) => t === 2 && row === 1 && col === 3);
  assert.ok(Number.isNaN(data.speed[fillAt]!), 'the speed is NaN where a component is');
});

test('NetCDF3 64-bit offset, latitude ascending, longitude 0..360: rows flipped to north-up, south-up remembered', async () => {
  const path = join(dir, 'asc.nc');
  const lats = [-10, -9.5, -9, -8.5];
  const lons = [200, 200.5, 201];
  nc3(path, lats, lons, 3, 2);
  const ds = await openGridded(path);
  assert.deepEqual(ds.grid, { width: 3, height: 4, lon0: 200, lat0: -8.5, dLon: 0.5, dLat: 0.5, pixelIsPoint: true, sourceSouthUp: true, epsg: 4326 });
  const data = await readGridded(ds);
  for (const name of ['u100', 'v10']) assertField(data, name, 0.0005 + 1e-6);
});

test('longitudes stored east to west are turned west to east; ws with a scalar height is a speed at that height', async () => {
  const path = join(dir, 'east-west.nc');
  const lats = [40, 39.5];
  const lons = [12, 11.5, 11];
  writeNetcdf3(path, {
    records: 3,
    dims: [{ name: 'time', size: 0 }, { name: 'latitude', size: 2 }, { name: 'longitude', size: 3 }],
    vars: [
      ...nc3Coordinates(lats, lons, 3),
      { name: 'heightAboveGround', dims: [], type: 'double', attrs: { units: 'm' }, data: [100] },
      { name: 'ws', dims: ['time', 'latitude', 'longitude'], type: 'float', attrs: { units: 'm s-1' }, data: fieldCube('ws100', 3, lats, lons) },
    ],
  });
  const ds = await openGridded(path);
  assert.deepEqual([ds.grid.lon0, ds.grid.dLon, ds.grid.width], [11, 0.5, 3]);
  assert.deepEqual(ds.speed, { height: 100, from: ['ws100'], derived: false });
  assert.deepEqual(ds.variables.map((v) => [v.name, v.sourceNames, v.wind]), [['ws100', ['ws'], { component: 'speed', height: 100 }]]);
  assertField(await readGridded(ds), 'ws100', 1e-5);
});

test('longitudes across the 0/360 seam (359.5, 0, 0.5) are placed as -0.5..0.5, and said so', async () => {
  const path = join(dir, 'seam.nc');
  const lats = [60, 59.5];
  const lons = [359, 359.5, 0, 0.5];
  nc3(path, lats, lons, 2);
  const ds = await openGridded(path);
  assert.equal(ds.grid.lon0, -1);
  assert.equal(ds.grid.dLon, 0.5);
  assert.equal(ds.grid.width, 4);
  assert.ok(ds.notes.some((n) => /0\/360 seam/.test(n)), ds.notes.join('; '));
  assertField(await readGridded(ds), 'u10', 0.0005 + 1e-6);
});

test('NetCDF3 record slabs: big slabs read per record, small interleaved slabs in spans, both exact', async () => {
  // 160 x 130 float32 = 83 kB per record and variable (>= 64 kB: one read per record).
  const lats = Array.from({ length: 130 }, (_, i) => 60 - i * 0.25);
  const lons = Array.from({ length: 160 }, (_, i) => i * 0.25);
  const path = join(dir, 'big.nc');
  writeNetcdf3(path, {
    records: 3,
    dims: [{ name: 'time', size: 0 }, { name: 'latitude', size: lats.length }, { name: 'longitude', size: lons.length }],
    vars: [
      ...nc3Coordinates(lats, lons, 3),
      ...['u10', 'v10'].map((name): Nc3Var => ({ name, dims: ['time', 'latitude', 'longitude'], type: 'float', attrs: { units: 'm s**-1' }, data: fieldCube(name, 3, lats, lons) })),
    ],
  });
  const data = await readGridded(await openGridded(path));
  assertField(data, 'u10', 1e-4);
  assertField(data, 'v10', 1e-4);
});

test('NetCDF4 as cfgrib writes it: time is the forecast reference, hours come from valid_time; scalar step/number/surface ignored', async () => {
  const path = join(dir, 'cfgrib.nc');
  const lats = [45, 44.75];
  const lons = [10, 10.25, 10.5];
  const hours = 4;
  const valid = Array.from({ length: hours }, (_, t) => (T0 + t * HOUR_MS) / 1000);
  const wind = ['u10', 'v10', 'u100', 'v100'].map((name) => ({
    name,
    dims: ['time', 'latitude', 'longitude'],
    dtype: '<f' as const,
    shape: [hours, lats.length, lons.length],
    data: fieldCube(name, hours, lats, lons),
    attrs: { _FillValue: { dtype: '<f' as const, value: NaN }, units: 'm s**-1', GRIB_paramId: 0, coordinates: 'number time step surface latitude longitude valid_time' },
    deflate: 4,
  }));
  await writeNetcdf4(path, [
    { name: 'number', dims: [], dtype: '<q', shape: [], data: 0, attrs: { long_name: 'ensemble member numerical id' } },
    // Six hours before valid_time: reading "time" as the hour would shift everything by 6 h.
    { name: 'time', dims: ['time'], dtype: '<q', shape: [hours], data: valid.map((s) => s - 6 * 3600), attrs: { long_name: 'initial time of forecast', standard_name: 'forecast_reference_time', units: 'seconds since 1970-01-01', calendar: 'proleptic_gregorian' } },
    { name: 'step', dims: [], dtype: '<d', shape: [], data: 6, attrs: { long_name: 'time since forecast_reference_time', standard_name: 'forecast_period', units: 'hours' } },
    { name: 'surface', dims: [], dtype: '<d', shape: [], data: 0, attrs: { long_name: 'original GRIB coordinate for key: level(surface)' } },
    { name: 'latitude', dims: ['latitude'], dtype: '<d', shape: [2], data: lats, attrs: { units: 'degrees_north', standard_name: 'latitude', stored_direction: 'decreasing' } },
    { name: 'longitude', dims: ['longitude'], dtype: '<d', shape: [3], data: lons, attrs: { units: 'degrees_east', standard_name: 'longitude' } },
    { name: 'valid_time', dims: ['time'], dtype: '<q', shape: [hours], data: valid, attrs: { standard_name: 'time', long_name: 'time', units: 'seconds since 1970-01-01', calendar: 'proleptic_gregorian' } },
    ...wind,
  ], { GRIB_edition: '1', Conventions: 'CF-1.7', history: 'cfgrib-0.9.10.4/ecCodes-2.27.0 with {"source": "x.grib"}' });
  const ds = await openGridded(path);
  assert.equal(ds.files[0]!.format, 'netcdf4');
  assert.equal(ds.files[0]!.timeSource, 'valid_time');
  assert.deepEqual(Array.from(ds.hours), valid.map((s) => s * 1000));
  assert.ok(ds.notes.some((n) => /valid_time \(time is the forecast reference time\)/.test(n)), ds.notes.join('; '));
  assert.deepEqual(ds.speed.from, ['u100', 'v100']);
  const data = await readGridded(ds);
  for (const name of ['u10', 'v10', 'u100', 'v100']) assertField(data, name, 1e-5);
});

test('cfgrib without valid_time: hours are time + step; a single-hour file with scalar time reads as one hour', async () => {
  const lats = [45, 44.75];
  const lons = [10, 10.25];
  const path = join(dir, 'time-step.nc');
  const refs = [0, 1].map((t) => (T0 + t * HOUR_MS) / 1000 - 3 * 3600);
  const uv = (hours: number, dims: string[], shape: number[]) => ['u10', 'v10'].map((name) => ({
    name, dims, dtype: '<f' as const, shape, data: fieldCube(name, hours, lats, lons), attrs: { units: 'm s**-1' },
  }));
  await writeNetcdf4(path, [
    { name: 'time', dims: ['time'], dtype: '<q', shape: [2], data: refs, attrs: { long_name: 'initial time of forecast', standard_name: 'forecast_reference_time', units: 'seconds since 1970-01-01' } },
    { name: 'step', dims: [], dtype: '<d', shape: [], data: 3, attrs: { units: 'hours' } },
    { name: 'latitude', dims: ['latitude'], dtype: '<d', shape: [2], data: lats, attrs: { units: 'degrees_north' } },
    { name: 'longitude', dims: ['longitude'], dtype: '<d', shape: [2], data: lons, attrs: { units: 'degrees_east' } },
    ...uv(2, ['time', 'latitude', 'longitude'], [2, 2, 2]),
  ]);
  const ds = await openGridded(path);
  assert.equal(ds.files[0]!.timeSource, 'time + step');
  assert.deepEqual(Array.from(ds.hours), [T0, T0 + HOUR_MS]);
  assertField(await readGridded(ds), 'u10', 1e-5);

  const single = join(dir, 'one-hour.nc');
  await writeNetcdf4(single, [
    { name: 'time', dims: [], dtype: '<q', shape: [], data: T0 / 1000, attrs: { standard_name: 'forecast_reference_time', units: 'seconds since 1970-01-01' } },
    { name: 'valid_time', dims: [], dtype: '<q', shape: [], data: T0 / 1000, attrs: { units: 'seconds since 1970-01-01' } },
    { name: 'latitude', dims: ['latitude'], dtype: '<d', shape: [2], data: lats, attrs: { units: 'degrees_north' } },
    { name: 'longitude', dims: ['longitude'], dtype: '<d', shape: [2], data: lons, attrs: { units: 'degrees_east' } },
    ...uv(1, ['latitude', 'longitude'], [2, 2]),
  ]);
  const one = await openGridded(single);
  assert.deepEqual(Array.from(one.hours), [T0]);
  assertField(await readGridded(one), 'v10', 1e-5);
});

test('plain HDF5 without dimension scales (as h5py writes): dimensions named by matching coordinate lengths', async () => {
  const path = join(dir, 'plain.h5');
  const lats = [45, 44.75];
  const lons = [10, 10.25, 10.5];
  await writeNetcdf4(path, [
    { name: 'time', dims: ['time'], dtype: '<q', shape: [4], data: [0, 1, 2, 3].map((t) => (T0 + t * HOUR_MS) / 1000), attrs: { units: 'seconds since 1970-01-01' } },
    { name: 'latitude', dims: ['latitude'], dtype: '<d', shape: [2], data: lats, attrs: { units: 'degrees_north' } },
    { name: 'longitude', dims: ['longitude'], dtype: '<d', shape: [3], data: lons, attrs: { units: 'degrees_east' } },
    ...['u100', 'v100'].map((name) => ({ name, dims: ['time', 'latitude', 'longitude'], dtype: '<f' as const, shape: [4, 2, 3], data: fieldCube(name, 4, lats, lons) })),
  ], {}, { scales: false });
  const ds = await openGridded(path);
  assert.equal(ds.hours.length, 4);
  assertField(await readGridded(ds), 'v100', 1e-5);
});

test('legacy CDS expver dimension (ERA5 then ERA5T, packed int16 with fill): merged per hour, said so', async () => {
  const path = join(dir, 'expver.nc');
  const lats = [30, 29.75];
  const lons = [5, 5.25];
  const hours = 4;
  const scale = 0.002;
  const offset = 0;
  // expver 1 (ERA5) holds hours 0-1, expver 5 (ERA5T) hours 2-3; the other is fill.
  const merged = (name: string) => {
    const out: number[] = [];
    for (let t = 0; t < hours; t++) for (const e of [1, 5]) for (const la of lats) for (const lo of lons) out.push((e === 1) === t < 2 ? fieldValue(name, t, la, lo) : NaN);
    return pack(out, scale, offset);
  };
  writeNetcdf3(path, {
    records: hours,
    dims: [{ name: 'longitude', size: 2 }, { name: 'latitude', size: 2 }, { name: 'expver', size: 2 }, { name: 'time', size: 0 }],
    vars: [
      ...nc3Coordinates(lats, lons, hours),
      { name: 'expver', dims: ['expver'], type: 'int', attrs: { long_name: 'expver' }, data: [1, 5] },
      ...['u10', 'v10'].map((name): Nc3Var => ({ name, dims: ['time', 'expver', 'latitude', 'longitude'], type: 'short', attrs: { scale_factor: double(scale), add_offset: double(offset), _FillValue: short(-32767), missing_value: short(-32767) }, data: merged(name) })),
    ],
  });
  const ds = await openGridded(path);
  assert.ok(ds.notes.some((n) => /u10: 2 expver versions .* merged/.test(n)), ds.notes.join('; '));
  const data = await readGridded(ds);
  assertField(data, 'u10', scale / 2 + 1e-6);
  assertField(data, 'v10', scale / 2 + 1e-6);
});

const ARCO = { u10: '10m_u_component_of_wind', v10: '10m_v_component_of_wind', u100: '100m_u_component_of_wind', v100: '100m_v_component_of_wind' };

function arcoVars(lats: number[], lons: number[], hours: number, chunks: number) {
  return [
    { name: 'time', dims: ['time'], shape: [hours], chunks: [hours], dtype: 'int64' as const, data: Array.from({ length: hours }, (_, t) => hoursSince1900(T0 + t * HOUR_MS)), attrs: { units: 'hours since 1900-01-01', calendar: 'proleptic_gregorian' }, fillValue: null },
    { name: 'latitude', dims: ['latitude'], shape: [lats.length], dtype: 'float32' as const, data: lats, attrs: { units: 'degrees_north', long_name: 'latitude' } },
    { name: 'longitude', dims: ['longitude'], shape: [lons.length], dtype: 'float32' as const, data: lons, attrs: { units: 'degrees_east', long_name: 'longitude' } },
    ...Object.entries(ARCO).map(([short, long]) => {
      const data = fieldCube(short, hours, lats, lons);
      data[5] = NaN; // one missing value, float32 NaN fill
      return { name: long, dims: ['time', 'latitude', 'longitude'], shape: [hours, lats.length, lons.length], chunks: [chunks, lats.length, lons.length], dtype: 'float32' as const, data, attrs: { units: 'm s**-1', long_name: long } };
    }),
  ];
}

for (const version of ['v2', 'v3'] as const) {
  test(`Zarr ${version} in the ARCO-ERA5 layout: long names mapped to u10/v10/u100/v100, time chunks joined, NaN fill kept`, async () => {
    const store = join(dir, `arco-${version}.zarr`);
    const lats = [90, 89.75, 89.5];
    const lons = [0, 0.25, 0.5, 0.75];
    const vars = arcoVars(lats, lons, 5, 2);
    if (version === 'v2') writeZarrV2(store, vars);
    else await writeZarrV3(store, vars);
    assert.ok(isGriddedInput(store));
    const ds = await openGridded(store);
    assert.equal(ds.files[0]!.format, `zarr-${version}`);
    assert.deepEqual(ds.grid, { width: 4, height: 3, lon0: 0, lat0: 90, dLon: 0.25, dLat: 0.25, pixelIsPoint: true, sourceSouthUp: false, epsg: 4326 });
    assert.deepEqual([...ds.selected].sort(), ['u10', 'u100', 'v10', 'v100']);
    assert.deepEqual(ds.variables.find((v) => v.name === 'u10')!.sourceNames, ['10m_u_component_of_wind']);
    assert.deepEqual(Array.from(ds.hours), [0, 1, 2, 3, 4].map((t) => T0 + t * HOUR_MS));
    const data = await readGridded(ds);
    // Flat index 5 is hour 0, row 1, column 1.
    for (const name of Object.keys(ARCO)) assertField(data, name, 1e-5, (t, row, col) => t === 0 && row === 1 && col === 1);
  });
}

test('float32 NetCDF with an explicit _FillValue and scale_factor on floats: both honoured', async () => {
  const path = join(dir, 'float-fill.nc');
  const lats = [10, 9];
  const lons = [20, 21];
  const u = fieldCube('u10', 2, lats, lons).map((v) => v / 2);
  u[3] = -999;
  writeNetcdf3(path, {
    records: 2,
    dims: [{ name: 'time', size: 0 }, { name: 'latitude', size: 2 }, { name: 'longitude', size: 2 }],
    vars: [
      ...nc3Coordinates(lats, lons, 2),
      { name: 'u10', dims: ['time', 'latitude', 'longitude'], type: 'float', attrs: { scale_factor: float(2), _FillValue: float(-999) }, data: u },
      { name: 'v10', dims: ['time', 'latitude', 'longitude'], type: 'float', attrs: {}, data: fieldCube('v10', 2, lats, lons) },
    ],
  });
  const data = await readGridded(await openGridded(path));
  assertField(data, 'u10', 1e-5, (t, row, col) => t === 0 && row === 1 && col === 1);
  assertField(data, 'v10', 1e-5);
});

test('a period and an area of a global store (ARCO-like, 0..360): only those hours and cells are read', async () => {
  const store = join(dir, 'global.zarr');
  const lats = Array.from({ length: 46 }, (_, i) => 90 - 4 * i);
  const lons = Array.from({ length: 90 }, (_, i) => 4 * i);
  const hours = 24;
  writeZarrV2(store, arcoVars(lats, lons, hours, 12));
  const from = T0 + 10 * HOUR_MS;
  const to = T0 + 20 * HOUR_MS;
  const ds = await openGridded(store, { from, to, area: { north: 58, west: 4, south: 46, east: 16 } });
  assert.deepEqual(ds.grid, { width: 4, height: 4, lon0: 4, lat0: 58, dLon: 4, dLat: 4, pixelIsPoint: true, sourceSouthUp: false, epsg: 4326 });
  assert.deepEqual(Array.from(ds.hours), Array.from({ length: 11 }, (_, t) => from + t * HOUR_MS));
  assert.ok(ds.notes.some((n) => /cropped to 58N 4E 46N 16E \(north, west, south, east\): 4 x 4 cells of 90 x 46/.test(n)), ds.notes.join('; '));
  const data = await readGridded(ds);
  assert.equal(data.fields.get('u100')!.length, 11 * 16);
  for (const name of ['u10', 'v100']) assertField(data, name, 1e-5, () => false, 10);

  // West of Greenwich in -180..180 terms, on the 0..360 grid: the same columns as 352..356.
  const west = await openGridded(store, { from, to: from, area: { north: 2, west: -10, south: -2, east: -2 } });
  assert.deepEqual([west.grid.lon0, west.grid.width, west.grid.lat0, west.grid.height], [352, 2, 2, 2]);
  assertField(await readGridded(west), 'u10', 1e-5, () => false, 10);
  await assert.rejects(openGridded(store, { area: { north: 2, west: -10, south: -2, east: 10 } }), /crosses the grid's edge at 0 degrees east: windcast reads one block of columns/);
  await assert.rejects(openGridded(store, { from: T0 + 100 * HOUR_MS }), /no hours between 2021-06-05T04:00Z and 2021-06-01T23:00Z: the data hold 2021-06-01T00:00Z\.\.2021-06-01T23:00Z/);
});

test('an area of a south-up (latitude ascending) file: the window is cut from the stored rows', async () => {
  const path = join(dir, 'asc-area.nc');
  const lats = [-10, -9.5, -9, -8.5, -8];
  const lons = [200, 200.5, 201, 201.5];
  nc3(path, lats, lons, 2);
  const ds = await openGridded(path, { area: { north: -8.6, west: 200.4, south: -9.6, east: 201 } });
  assert.deepEqual(ds.grid, { width: 2, height: 2, lon0: 200.5, lat0: -9, dLon: 0.5, dLat: 0.5, pixelIsPoint: true, sourceSouthUp: true, epsg: 4326 });
  assertField(await readGridded(ds), 'v100', 0.0005 + 1e-6);
  await assert.rejects(openGridded(path, { area: { north: 40, west: 0, south: 30, east: 10 } }), /holds no cell centre of the data's grid \(lon 200\.\.201\.5, lat -10\.\.-8\)/);
});
