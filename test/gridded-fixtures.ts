/**
 * Writers for small gridded fixtures, in TypeScript so CI needs nothing beyond npm:
 * NetCDF3 (classic or 64-bit offset; a ~100-line writer following the format spec, since
 * netcdfjs only reads), NetCDF4 (HDF5 with dimension scales, through h5wasm), Zarr v2 (the
 * plain JSON + raw chunk layout, written by hand) and Zarr v3 (through zarrita).
 * Plus the GDAL referee: values of a NetCDF variable as gdallocationinfo reports them.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { deflateSync } from 'node:zlib';
import * as zarr from 'zarrita';
import FileSystemStore from '@zarrita/storage/fs';

export type Nc3Type = 'byte' | 'char' | 'short' | 'int' | 'float' | 'double';
export type Nc3Attr = string | { type: Nc3Type; values: number[] };

export interface Nc3Var {
  name: string;
  dims: string[];
  type: Nc3Type;
  attrs?: Record<string, Nc3Attr>;
  /** Values in C order (char variables: a string). */
  data: ArrayLike<number> | string;
}

export interface Nc3File {
  /** Dimension sizes; size 0 marks the record (unlimited) dimension. */
  dims: { name: string; size: number }[];
  /** Length of the record dimension. */
  records?: number;
  attrs?: Record<string, Nc3Attr>;
  vars: Nc3Var[];
  version?: 1 | 2;
}

const TYPE_CODE: Record<Nc3Type, number> = { byte: 1, char: 2, short: 3, int: 4, float: 5, double: 6 };
const TYPE_SIZE: Record<Nc3Type, number> = { byte: 1, char: 1, short: 2, int: 4, float: 4, double: 8 };

class Writer {
  private chunks: Buffer[] = [];
  length = 0;
  u32(x: number) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(x);
    this.push(b);
  }
  u64(x: number) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(x));
    this.push(b);
  }
  push(b: Buffer) {
    this.chunks.push(b);
    this.length += b.length;
  }
  pad() {
    const n = (4 - (this.length % 4)) % 4;
    if (n > 0) this.push(Buffer.alloc(n));
  }
  name(s: string) {
    const b = Buffer.from(s, 'utf8');
    this.u32(b.length);
    this.push(b);
    this.pad();
  }
  values(type: Nc3Type, values: ArrayLike<number> | string) {
    if (type === 'char') {
      this.push(Buffer.from(values as string, 'latin1'));
      return;
    }
    const v = values as ArrayLike<number>;
    const b = Buffer.alloc(v.length * TYPE_SIZE[type]);
    for (let i = 0; i < v.length; i++) {
      const x = v[i]!;
      if (type === 'byte') b.writeInt8(x, i);
      else if (type === 'short') b.writeInt16BE(x, i * 2);
      else if (type === 'int') b.writeInt32BE(x, i * 4);
      else if (type === 'float') b.writeFloatBE(x, i * 4);
      else b.writeDoubleBE(x, i * 8);
    }
    this.push(b);
  }
  attrs(list: Record<string, Nc3Attr> | undefined) {
    const entries = Object.entries(list ?? {});
    if (entries.length === 0) {
      this.u32(0);
      this.u32(0);
      return;
    }
    this.u32(12);
    this.u32(entries.length);
    for (const [name, a] of entries) {
      this.name(name);
      if (typeof a === 'string') {
        this.u32(TYPE_CODE.char);
        this.u32(Buffer.byteLength(a, 'latin1'));
        this.values('char', a);
      } else {
        this.u32(TYPE_CODE[a.type]);
        this.u32(a.values.length);
        this.values(a.type, a.values);
      }
      this.pad();
    }
  }
  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** Write a NetCDF3 file (record variables interleaved per record, as the format says). */
export function writeNetcdf3(path: string, file: Nc3File): void {
  const version = file.version ?? 1;
  const records = file.records ?? 0;
  const dimIndex = new Map(file.dims.map((d, i) => [d.name, i]));
  const recordDim = file.dims.findIndex((d) => d.size === 0);
  const isRecord = (v: Nc3Var) => recordDim >= 0 && dimIndex.get(v.dims[0]!) === recordDim;
  const slabBytes = (v: Nc3Var) => v.dims.filter((_, i) => !(i === 0 && isRecord(v))).reduce((n, d) => n * file.dims[dimIndex.get(d)!]!.size, 1) * TYPE_SIZE[v.type];
  const padded = (n: number) => Math.ceil(n / 4) * 4;
  const recordVars = file.vars.filter(isRecord);
  const header = (begins: number[]) => {
    const w = new Writer();
    w.push(Buffer.from([0x43, 0x44, 0x46, version]));
    w.u32(records);
    if (file.dims.length === 0) {
      w.u32(0);
      w.u32(0);
    } else {
      w.u32(10);
      w.u32(file.dims.length);
      for (const d of file.dims) {
        w.name(d.name);
        w.u32(d.size);
      }
    }
    w.attrs(file.attrs);
    w.u32(11);
    w.u32(file.vars.length);
    file.vars.forEach((v, i) => {
      w.name(v.name);
      w.u32(v.dims.length);
      for (const d of v.dims) w.u32(dimIndex.get(d)!);
      w.attrs(v.attrs);
      w.u32(TYPE_CODE[v.type]);
      w.u32(padded(slabBytes(v)));
      if (version === 2) w.u64(begins[i]!);
      else w.u32(begins[i]!);
    });
    return w.bytes();
  };
  const headerBytes = header(file.vars.map(() => 0)).length;
  const begins: number[] = [];
  let offset = headerBytes;
  for (const v of file.vars) if (!isRecord(v)) { begins[file.vars.indexOf(v)] = offset; offset += padded(slabBytes(v)); }
  // With exactly one record variable its records are not padded (NetCDF3 spec).
  const single = recordVars.length === 1;
  for (const v of recordVars) { begins[file.vars.indexOf(v)] = offset; offset += single ? slabBytes(v) : padded(slabBytes(v)); }
  const w = new Writer();
  w.push(header(begins));
  for (const v of file.vars) {
    if (isRecord(v)) continue;
    w.values(v.type, v.data);
    w.pad();
  }
  for (let r = 0; r < records; r++) {
    for (const v of recordVars) {
      const n = slabBytes(v) / TYPE_SIZE[v.type];
      w.values(v.type, typeof v.data === 'string' ? v.data.slice(r * n, (r + 1) * n) : Array.from(v.data).slice(r * n, (r + 1) * n));
      if (!single) w.pad();
    }
  }
  writeFileSync(path, w.bytes());
}

/** A NetCDF3 short attribute, e.g. _FillValue. */
export const short = (...values: number[]): Nc3Attr => ({ type: 'short', values });
export const double = (...values: number[]): Nc3Attr => ({ type: 'double', values });
export const float = (...values: number[]): Nc3Attr => ({ type: 'float', values });
export const int = (...values: number[]): Nc3Attr => ({ type: 'int', values });

// ------------------------------------------------------------------------------------------
// NetCDF4 through h5wasm

type H5 = typeof import('h5wasm/node');
let h5: Promise<H5> | undefined;
async function h5wasm(): Promise<H5> {
  h5 ??= import('h5wasm/node').then(async (m) => {
    await m.ready;
    return m;
  });
  return h5;
}

export type H5Dtype = '<f' | '<d' | '<h' | '<i' | '<q' | '>f' | 'S';

export interface H5Var {
  name: string;
  dims: string[];
  dtype: H5Dtype;
  shape: number[];
  data: ArrayLike<number> | string[] | number;
  attrs?: Record<string, string | number | { dtype: H5Dtype; value: number | number[] }>;
  /** Deflate level (chunked with the whole shape as one chunk). */
  deflate?: number;
}

/**
 * Write an HDF5 file laid out as netCDF-C does: coordinate variables are dimension scales.
 * With `scales: false`, a plain HDF5 file as h5py writes one (no dimension names at all).
 */
export async function writeNetcdf4(path: string, vars: H5Var[], globalAttrs: Record<string, string> = {}, options: { scales?: boolean } = {}): Promise<void> {
  const scales = options.scales ?? true;
  const m = await h5wasm();
  const f = new m.File(resolve(path), 'w');
  try {
    for (const [k, v] of Object.entries(globalAttrs)) f.create_attribute(k, v);
    for (const v of vars) {
      let data: unknown = v.data;
      if (v.dtype === '<f' || v.dtype === '>f') data = Float32Array.from(v.data as ArrayLike<number>);
      else if (v.dtype === '<d') data = typeof v.data === 'number' ? v.data : Float64Array.from(v.data as ArrayLike<number>);
      else if (v.dtype === '<h') data = Int16Array.from(v.data as ArrayLike<number>);
      else if (v.dtype === '<i') data = Int32Array.from(v.data as ArrayLike<number>);
      else if (v.dtype === '<q') data = typeof v.data === 'number' ? BigInt(v.data) : BigInt64Array.from(Array.from(v.data as ArrayLike<number>, (x) => BigInt(x)));
      const ds = f.create_dataset({
        name: v.name,
        data: data as never,
        shape: v.shape,
        dtype: v.dtype,
        ...(v.deflate !== undefined ? { chunks: v.shape, compression: v.deflate } : {}),
      });
      for (const [k, a] of Object.entries(v.attrs ?? {})) {
        if (typeof a === 'string') ds.create_attribute(k, a);
        else if (typeof a === 'number') ds.create_attribute(k, a, null, '<d');
        else {
          const values = Array.isArray(a.value) ? a.value : [a.value];
          const typed = a.dtype === '<h' ? Int16Array.from(values) : a.dtype === '<f' ? Float32Array.from(values) : a.dtype === '<i' ? Int32Array.from(values) : Float64Array.from(values);
          ds.create_attribute(k, typed, [values.length], a.dtype);
        }
      }
      if (scales && v.dims.length === 1 && v.dims[0] === v.name) ds.make_scale(v.name);
    }
    for (const v of scales ? vars : []) {
      if (v.dims.length === 1 && v.dims[0] === v.name) continue;
      const ds = f.get(v.name) as InstanceType<H5['Dataset']>;
      v.dims.forEach((d, i) => {
        if (vars.some((x) => x.name === d)) ds.attach_scale(i, d);
      });
    }
  } finally {
    f.close();
  }
}

// ------------------------------------------------------------------------------------------
// Zarr

export interface ZarrVar {
  name: string;
  dims: string[];
  shape: number[];
  chunks?: number[];
  dtype: 'float32' | 'float64' | 'int16' | 'int32' | 'int64';
  data: ArrayLike<number>;
  attrs?: Record<string, unknown>;
  fillValue?: number | null;
}

const V2_DTYPE = { float32: '<f4', float64: '<f8', int16: '<i2', int32: '<i4', int64: '<i8' } as const;

function typed(dtype: ZarrVar['dtype'], values: ArrayLike<number>): Float32Array | Float64Array | Int16Array | Int32Array | BigInt64Array {
  switch (dtype) {
    case 'float32': return Float32Array.from(values);
    case 'float64': return Float64Array.from(values);
    case 'int16': return Int16Array.from(values);
    case 'int32': return Int32Array.from(values);
    case 'int64': return BigInt64Array.from(Array.from(values, (x) => BigInt(x)));
  }
}

/** A Zarr v2 store as xarray writes one: .zgroup, per array .zarray/.zattrs, zlib-compressed chunks. */
export function writeZarrV2(dir: string, vars: ZarrVar[], attrs: Record<string, unknown> = {}): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, '.zgroup'), JSON.stringify({ zarr_format: 2 }));
  writeFileSync(join(dir, '.zattrs'), JSON.stringify(attrs));
  for (const v of vars) {
    const chunks = v.chunks ?? v.shape;
    const adir = join(dir, v.name);
    mkdirSync(adir, { recursive: true });
    const fill = v.fillValue === undefined ? (v.dtype.startsWith('float') ? 'NaN' : null) : v.fillValue === null ? null : Number.isNaN(v.fillValue) ? 'NaN' : v.fillValue;
    writeFileSync(join(adir, '.zarray'), JSON.stringify({ zarr_format: 2, shape: v.shape, chunks, dtype: V2_DTYPE[v.dtype], compressor: { id: 'zlib', level: 1 }, fill_value: fill, order: 'C', filters: null }));
    writeFileSync(join(adir, '.zattrs'), JSON.stringify({ _ARRAY_DIMENSIONS: v.dims, ...(v.attrs ?? {}) }));
    const grid = v.shape.map((s, i) => Math.ceil(s / chunks[i]!));
    const values = typed(v.dtype, v.data);
    const strides = v.shape.map((_, i) => v.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    const total = grid.reduce((a, b) => a * b, 1);
    const count = chunks.reduce((a, b) => a * b, 1);
    for (let k = 0; k < Math.max(1, total); k++) {
      const coords = grid.map((_, i) => Math.floor(k / grid.slice(i + 1).reduce((a, b) => a * b, 1)) % grid[i]!);
      const chunkValues = new (values.constructor as new (n: number) => typeof values)(count);
      // Walk the chunk's cells in C order with an odometer of local indices.
      const local = chunks.map(() => 0);
      for (let j = 0; j < count; j++) {
        let index = 0;
        let inside = true;
        for (let i = 0; i < chunks.length; i++) {
          const g = coords[i]! * chunks[i]! + local[i]!;
          if (g >= v.shape[i]!) inside = false;
          index += g * strides[i]!;
        }
        if (inside) (chunkValues as unknown as number[])[j] = (values as unknown as number[])[index]!;
        for (let i = chunks.length - 1; i >= 0; i--) {
          if (++local[i]! < chunks[i]!) break;
          local[i] = 0;
        }
      }
      const key = v.shape.length === 0 ? '0' : coords.join('.');
      writeFileSync(join(adir, key), deflateSync(Buffer.from(chunkValues.buffer)));
    }
  }
}

/** A Zarr v3 store written by zarrita (dimension_names, attributes in zarr.json, the bytes codec). */
export async function writeZarrV3(dir: string, vars: ZarrVar[], attrs: Record<string, unknown> = {}): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const store = new FileSystemStore(resolve(dir));
  const root = zarr.root(store);
  await zarr.create(root, { attributes: attrs });
  for (const v of vars) {
    const arr = await zarr.create(root.resolve(v.name), {
      shape: v.shape,
      chunkShape: v.chunks ?? v.shape,
      dtype: v.dtype,
      dimensionNames: v.dims,
      attributes: v.attrs ?? {},
      // zarrita encodes no compression codec; v2 fixtures cover compressed chunks.
      codecs: [{ name: 'bytes', configuration: { endian: 'little' } }],
      ...(v.fillValue !== undefined && v.fillValue !== null ? { fillValue: (v.dtype === 'int64' ? BigInt(v.fillValue) : v.fillValue) as never } : {}),
    });
    const data = typed(v.dtype, v.data);
    const stride = v.shape.map((_, i) => v.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    await zarr.set(arr as never, null, { data, shape: v.shape, stride } as never);
  }
}

// ------------------------------------------------------------------------------------------
// GDAL referee

/** True when GDAL's command-line tools are installed (CI installs gdal-bin). */
export function hasGdalTools(): boolean {
  try {
    execFileSync('gdalmdimtranslate', ['--version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/**
 * One hour of a NetCDF/Zarr variable as GDAL reads it: cell-centre lon/lat and the unscaled
 * value, in GDAL's row order (north first for the files here). gdalmdimtranslate cuts the
 * hour (fast even for 26,280 time steps), gdal_translate -unscale applies scale and offset.
 */
export function gdalFrame(source: string, variable: string, hour: number, scratch: string): { lon: number; lat: number; value: number }[] {
  const tif = join(scratch, `gdal-${variable}-${hour}.tif`);
  execFileSync('gdalmdimtranslate', ['-q', source, tif, '-array', `name=${variable},view=[${hour},:,:]`], { stdio: 'pipe' });
  const xyz = execFileSync('gdal_translate', ['-q', '-unscale', '-ot', 'Float64', '-of', 'XYZ', tif, '/vsistdout/'], { encoding: 'utf8' });
  return xyz.trim().split('\n').map((line) => {
    const [lon, lat, value] = line.trim().split(/\s+/).map(Number);
    return { lon: lon!, lat: lat!, value: value! };
  });
}

// ------------------------------------------------------------------------------------------
// Synthetic fields

/** Longitude in -180..180, so a 0..360 file and a -180..180 file describe the same field. */
export function lon180(lon: number): number {
  return ((((lon + 180) % 360) + 360) % 360) - 180;
}

/** A smooth field of hour index, latitude and longitude (not of array indices: orientation-free). */
export function fieldValue(name: string, t: number, lat: number, lon: number): number {
  const base = [...name].reduce((s, c) => s + c.charCodeAt(0), 0) % 7;
  return base - 3 + 0.5 * t + 0.3 * (lat - 50) - 0.2 * lon180(lon);
}

/** Values in C order over (time, lat, lon) in the file's own coordinate order. */
export function fieldCube(name: string, hours: number, lats: number[], lons: number[], offsetHours = 0): number[] {
  const out: number[] = [];
  for (let t = 0; t < hours; t++) for (const la of lats) for (const lo of lons) out.push(fieldValue(name, t + offsetHours, la, lo));
  return out;
}

/** int16 packing as the CDS does it: stored = round((value - add_offset) / scale_factor). */
export function pack(values: number[], scale: number, offset: number): number[] {
  return values.map((v) => (Number.isNaN(v) ? -32767 : Math.round((v - offset) / scale)));
}

/** Epoch hours since 1900-01-01 of a UTC date, the legacy CDS time encoding. */
export function hoursSince1900(ms: number): number {
  return (ms - Date.UTC(1900, 0, 1)) / 3_600_000;
}
