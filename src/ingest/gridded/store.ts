/**
 * ArrayStore: one view of a NetCDF3, NetCDF4/HDF5 or Zarr dataset, whatever the format.
 *
 * A store lists its variables (name, dimension names, shape, type, attributes) and reads
 * hyperslabs as typed arrays in C order, nothing more: what the attributes mean (CF packing,
 * time units, which dimension is latitude) is cf.ts's business. The format is found from the
 * file's first bytes or, for a folder, from its Zarr metadata files, never from the name.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';

export type GriddedFormat = 'netcdf3' | 'netcdf4' | 'zarr-v2' | 'zarr-v3';

/** Element types we can decode; 'string' and 'other' are listed but never read as numbers. */
export type StoredType =
  | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64'
  | 'float32' | 'float64' | 'char' | 'string' | 'other';

/** An attribute value as the formats give it: text, one number, or several numbers. */
export type AttrValue = string | number | number[];

export interface StoredVariable {
  name: string;
  /** Dimension names, outermost first (C order). */
  dims: string[];
  shape: number[];
  dtype: StoredType;
  attrs: Record<string, AttrValue>;
  /**
   * The value the format itself uses for never-written elements when no _FillValue attribute
   * says otherwise: netCDF's default fill, or a Zarr v2 array's fill_value. Null: none.
   */
  formatFill: number | null;
}

export type NumericArray =
  | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array
  | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

export interface ArrayStore {
  readonly path: string;
  readonly format: GriddedFormat;
  readonly variables: ReadonlyMap<string, StoredVariable>;
  readonly attrs: Record<string, AttrValue>;
  /** Values of start..start+count (one entry per dimension; [] for a scalar), C order. */
  read(name: string, start: number[], count: number[]): Promise<NumericArray>;
  close(): void;
}

/** What a path holds, judged from its bytes or its Zarr metadata files; null if neither. */
export function detectFormat(path: string): GriddedFormat | 'netcdf3-cdf5' | 'zip' | 'grib' | null {
  let st;
  try {
    st = statSync(path);
  } catch {
    return null;
  }
  if (st.isDirectory()) {
    if (existsSync(join(path, 'zarr.json'))) return 'zarr-v3';
    if (existsSync(join(path, '.zgroup')) || existsSync(join(path, '.zarray'))) return 'zarr-v2';
    return null;
  }
  const head = Buffer.alloc(8);
  const fd = openSync(path, 'r');
  let n: number;
  try {
    n = readSync(fd, head, 0, 8, 0);
  } finally {
    closeSync(fd);
  }
  if (n >= 4 && head.toString('latin1', 0, 3) === 'CDF') {
    if (head[3] === 1 || head[3] === 2) return 'netcdf3';
    if (head[3] === 5) return 'netcdf3-cdf5';
  }
  // What the CDS also hands out: a ZIP of NetCDF files (several stream/stepType files), GRIB.
  if (n >= 4 && head.readUInt32BE(0) === 0x504b0304) return 'zip';
  if (n >= 4 && head.toString('latin1', 0, 4) === 'GRIB') return 'grib';
  // HDF5 signature \x89HDF\r\n\x1a\n. (A user block before it is allowed by HDF5 but never
  // written by netCDF-C or h5netcdf, so the first bytes are enough.)
  if (n === 8 && head.equals(Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'netcdf4';
  return null;
}

/** Element count of a shape (1 for a scalar). */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/** An attribute as one number (the first of several), or null. */
export function attrNumber(attrs: Record<string, AttrValue>, name: string): number | null {
  const v = attrs[name];
  if (typeof v === 'number') return v;
  if (Array.isArray(v) && v.length > 0) return v[0]!;
  return null;
}

/** An attribute as numbers (missing_value may hold several), or []. */
export function attrNumbers(attrs: Record<string, AttrValue>, name: string): number[] {
  const v = attrs[name];
  if (typeof v === 'number') return [v];
  if (Array.isArray(v)) return v;
  return [];
}

/** An attribute as text, or null. */
export function attrString(attrs: Record<string, AttrValue>, name: string): string | null {
  const v = attrs[name];
  return typeof v === 'string' ? v : null;
}

/**
 * netCDF's default fill per type (netcdf.h NC_FILL_*): what a reader must treat as missing
 * when a variable has no _FillValue attribute. Bytes are left alone, as netCDF4-python does,
 * since every byte value is a plausible datum.
 */
export const NETCDF_DEFAULT_FILL: Partial<Record<StoredType, number>> = {
  int16: -32767,
  uint16: 65535,
  int32: -2147483647,
  uint32: 4294967295,
  float32: 9.969209968386869e36,
  float64: 9.969209968386869e36,
};

/** The hyperslab start..start+count of a C-order array of shape `shape`, as a new array. */
export function subsetC<T extends NumericArray>(data: T, shape: readonly number[], start: readonly number[], count: readonly number[]): T {
  const rank = shape.length;
  if (rank === 0 || count.every((c, i) => c === shape[i] && start[i] === 0)) return data;
  const out = new (data.constructor as new (n: number) => T)(elementCount(count));
  const strides = new Array<number>(rank);
  let s = 1;
  for (let d = rank - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d]!;
  }
  // Copy runs along the innermost dimension, stepping an index odometer over the outer ones.
  const inner = count[rank - 1]!;
  const index = new Array<number>(rank - 1).fill(0);
  const runs = elementCount(count.slice(0, -1));
  for (let r = 0; r < runs; r++) {
    let src = start[rank - 1]!;
    for (let d = 0; d < rank - 1; d++) src += (start[d]! + index[d]!) * strides[d]!;
    out.set(data.subarray(src, src + inner) as never, r * inner);
    for (let d = rank - 2; d >= 0; d--) {
      if (++index[d]! < count[d]!) break;
      index[d] = 0;
    }
  }
  return out;
}
