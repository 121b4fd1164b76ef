/**
 * The wind inputs of the gridded memory and out-of-core tests, written from one synthetic wind
 * cube with u/v at 100 m and 10 m and a few missing values: NetCDF3 packed int16 in two files
 * joined in time (hour 250 is the seam), NetCDF4 float32 (deflate) in one file, Zarr v3 chunked
 * in 48 hours. expectedFields gives the values a reader must return, computed here from the
 * same cube and the formats' own rules (int16 unpacked as q x 0.001 + 0.5, float32 as stored).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cellCount, type GridSpec } from '../src/core/grid.js';
import { HOUR_MS } from '../src/core/time.js';
import { double, hoursSince1900, pack, short, writeNetcdf3, writeNetcdf4, writeZarrV3, type Nc3Var } from './gridded-fixtures.js';
import { makeCube } from './train-fixtures.js';

export const T0 = Date.UTC(2023, 0, 1);
export const HOURS = 600;
export const GRID: GridSpec = { width: 10, height: 8, lon0: 0, lat0: 48, dLon: 1, dLat: 1, pixelIsPoint: true, sourceSouthUp: false, epsg: 4326 };
const LATS = Array.from({ length: GRID.height }, (_, r) => GRID.lat0 - r);
const LONS = Array.from({ length: GRID.width }, (_, c) => GRID.lon0 + c);
export const NAMES = ['u100', 'v100', 'u10', 'v10'] as const;

/** The four wind fields (time x lat x lon, north-up), with NaN in a few places of u100 and v10. */
export function windFields(): Record<(typeof NAMES)[number], number[]> {
  const cube = makeCube({ hours: HOURS, grid: GRID, seed: 11, uv: true, start: T0 });
  const u = Array.from(cube.u!);
  const v = Array.from(cube.v!);
  const fields = { u100: u, v100: v, u10: u.map((x, i) => 0.7 * x + 0.1 * Math.sin(i)), v10: v.map((x, i) => 0.7 * x - 0.1 * Math.cos(i)) };
  for (const i of [3, 417, 25_000, 47_999]) fields.u100[i] = NaN;
  for (const i of [80, 30_001]) fields.v10[i] = NaN;
  return fields;
}

const hoursOf = (first: number, count: number) => Array.from({ length: count }, (_, t) => first + t);

/** NetCDF3 packed int16 (legacy CDS), hours [first, first + count) of the fields. */
function writeNc3(path: string, fields: ReturnType<typeof windFields>, first: number, count: number): void {
  const cells = cellCount(GRID);
  const vars: Nc3Var[] = [
    { name: 'longitude', dims: ['longitude'], type: 'float', attrs: { units: 'degrees_east' }, data: LONS },
    { name: 'latitude', dims: ['latitude'], type: 'float', attrs: { units: 'degrees_north' }, data: LATS },
    { name: 'time', dims: ['time'], type: 'int', attrs: { units: 'hours since 1900-01-01 00:00:00.0', calendar: 'gregorian' }, data: hoursOf(first, count).map((t) => hoursSince1900(T0 + t * HOUR_MS)) },
    ...NAMES.map((name) => ({
      name,
      dims: ['time', 'latitude', 'longitude'],
      type: 'short' as const,
      attrs: { scale_factor: double(0.001), add_offset: double(0.5), _FillValue: short(-32767), missing_value: short(-32767), units: 'm s**-1' },
      data: pack(fields[name].slice(first * cells, (first + count) * cells), 0.001, 0.5),
    })),
  ];
  writeNetcdf3(path, { version: 2, records: count, dims: [{ name: 'longitude', size: LONS.length }, { name: 'latitude', size: LATS.length }, { name: 'time', size: 0 }], attrs: { Conventions: 'CF-1.6' }, vars });
}

export type WindInputs = Record<'netcdf3' | 'netcdf4' | 'zarr', string>;

/** The three inputs under root, each in a folder of its own (a cell file goes in its .windcast-cache). */
export async function writeWindInputs(root: string): Promise<WindInputs> {
  const fields = windFields();
  const nc3 = join(root, 'nc3');
  mkdirSync(nc3);
  writeNc3(join(nc3, 'a.nc'), fields, 0, 250);
  writeNc3(join(nc3, 'b.nc'), fields, 250, HOURS - 250);
  const nc4 = join(root, 'nc4');
  mkdirSync(nc4);
  const shape = [HOURS, LATS.length, LONS.length];
  const fill = { _FillValue: { dtype: '<f' as const, value: NaN }, units: 'm s**-1' };
  await writeNetcdf4(join(nc4, 'era5.nc'), [
    { name: 'latitude', dims: ['latitude'], dtype: '<d', shape: [LATS.length], data: LATS, attrs: { units: 'degrees_north', standard_name: 'latitude' } },
    { name: 'longitude', dims: ['longitude'], dtype: '<d', shape: [LONS.length], data: LONS, attrs: { units: 'degrees_east', standard_name: 'longitude' } },
    { name: 'valid_time', dims: ['valid_time'], dtype: '<q', shape: [HOURS], data: hoursOf(0, HOURS).map((t) => (T0 + t * HOUR_MS) / 1000), attrs: { standard_name: 'time', units: 'seconds since 1970-01-01', calendar: 'proleptic_gregorian' } },
    ...NAMES.map((name) => ({ name, dims: ['valid_time', 'latitude', 'longitude'], dtype: '<f' as const, shape, data: fields[name], attrs: fill, deflate: 1 })),
  ], { Conventions: 'CF-1.7' });
  const zarr = join(root, 'zarr', 'era5.zarr');
  mkdirSync(join(root, 'zarr'));
  await writeZarrV3(zarr, [
    { name: 'time', dims: ['time'], shape: [HOURS], chunks: [HOURS], dtype: 'int64', data: hoursOf(0, HOURS).map((t) => hoursSince1900(T0 + t * HOUR_MS)), attrs: { units: 'hours since 1900-01-01', calendar: 'proleptic_gregorian' }, fillValue: null },
    { name: 'latitude', dims: ['latitude'], shape: [LATS.length], dtype: 'float32', data: LATS, attrs: { units: 'degrees_north' } },
    { name: 'longitude', dims: ['longitude'], shape: [LONS.length], dtype: 'float32', data: LONS, attrs: { units: 'degrees_east' } },
    ...NAMES.map((name) => ({ name, dims: ['time', 'latitude', 'longitude'], shape, chunks: [48, LATS.length, LONS.length], dtype: 'float32' as const, data: fields[name], attrs: { units: 'm s**-1' } })),
  ]);
  return { netcdf3: join(nc3, '*.nc'), netcdf4: join(nc4, 'era5.nc'), zarr };
}

/** Format rules: what a reader must give for each field, float32, NaN where missing. */
export function expectedFields(format: keyof WindInputs): Record<(typeof NAMES)[number], Float32Array> {
  const fields = windFields();
  const out = {} as Record<(typeof NAMES)[number], Float32Array>;
  for (const name of NAMES) {
    const values = format === 'netcdf3' ? pack(fields[name], 0.001, 0.5).map((q) => (q === -32767 ? NaN : q * 0.001 + 0.5)) : fields[name];
    out[name] = Float32Array.from(values);
  }
  return out;
}

/** The wind speed of float32 u and v, sqrt(u^2 + v^2) rounded to float32. */
export function expectedSpeed(u: Float32Array, v: Float32Array): Float32Array {
  return Float32Array.from(u, (x, i) => Math.sqrt(x * x + v[i]! * v[i]!));
}

/** Equal float32 bit patterns, value by value (NaN equals NaN); names the first that differs. */
export function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) assert.fail(`${what}: value ${i} is ${a[i]} against ${b[i]}`);
}

