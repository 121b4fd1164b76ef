/**
 * NetCDF4 (HDF5) as an ArrayStore, through h5wasm: the HDF5 C library compiled to
 * WebAssembly and shipped inside the npm package (no network, no system library). In Node it
 * reads the host file system directly, and hyperslabs are cut by libhdf5 (deflate and shuffle
 * included), so only the requested slab is decompressed into memory.
 *
 * Dimension names come from HDF5 dimension scales, as netCDF-C and h5netcdf write them. A
 * plain HDF5 file without scales still opens: a dimension whose length matches exactly one
 * 1-D coordinate-named dataset (time, latitude, ...) takes that name, others are phony_dim_N.
 */
import { resolve } from 'node:path';
import { DataError, describeError } from '../../core/errors.js';
import {
  NETCDF_DEFAULT_FILL,
  type ArrayStore, type AttrValue, type NumericArray, type StoredType, type StoredVariable,
} from './store.js';

type H5 = typeof import('h5wasm/node');
type H5Dataset = InstanceType<H5['Dataset']>;
type H5File = InstanceType<H5['File']>;

let loaded: Promise<H5> | undefined;

/** h5wasm, ready, with HDF5's error stack thrown as a JavaScript error instead of printed. */
function h5wasm(): Promise<H5> {
  loaded ??= (async () => {
    const mod = await import('h5wasm/node');
    const module = await mod.ready;
    module.activate_throwing_error_handler();
    return mod;
  })();
  return loaded;
}

/** The most specific line of an HDF5 error stack ("truncated file: eof = ..."). */
function hdf5Reason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => /^#\d+:/.test(l));
  const last = lines[lines.length - 1];
  if (!last) return describeError(err);
  return last.replace(/^#\d+:.*? in [A-Za-z0-9_]+\(\): /, '');
}

// netCDF-C marks a dimension without a coordinate variable with a scale whose NAME starts so.
const PHONY_SCALE = 'This is a netCDF dimension but not a netCDF variable';
// Attributes netCDF-C and HDF5 use for their own bookkeeping (references, ids), not ours.
const INTERNAL_ATTRS = new Set(['DIMENSION_LIST', 'REFERENCE_LIST', 'CLASS', 'NAME', '_Netcdf4Dimid', '_Netcdf4Coordinates', '_nc3_strict', '_NCProperties']);
const COORDINATE_NAMES = new Set(['time', 'valid_time', 'latitude', 'lat', 'longitude', 'lon', 'expver', 'step', 'number']);

function attrValue(value: unknown): AttrValue | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    const numbers = Array.from(value as unknown as ArrayLike<number | bigint>, Number);
    return numbers.length === 1 ? numbers[0]! : numbers;
  }
  if (Array.isArray(value) && value.length === 1 && typeof value[0] === 'string') return value[0];
  return undefined;
}

function attributes(obj: { attrs: Record<string, { value: unknown }> }): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const [name, attr] of Object.entries(obj.attrs)) {
    if (INTERNAL_ATTRS.has(name)) continue;
    let value: AttrValue | undefined;
    try {
      value = attrValue(attr.value);
    } catch {
      continue; // an attribute type we do not use (compound, reference)
    }
    if (value !== undefined) out[name] = value;
  }
  return out;
}

function storedType(d: H5Dataset): StoredType {
  const m = d.metadata;
  // H5T_class_t: 0 integer, 1 float, 3 string.
  if (m.type === 0) {
    const bits = m.size * 8;
    if (![8, 16, 32, 64].includes(bits)) return 'other';
    return `${m.signed ? 'int' : 'uint'}${bits}` as StoredType;
  }
  if (m.type === 1) return m.size === 4 ? 'float32' : m.size === 8 ? 'float64' : 'other';
  if (m.type === 3) return 'string';
  return 'other';
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export async function openHdf5(path: string): Promise<ArrayStore> {
  const h5 = await h5wasm();
  let file: H5File;
  try {
    file = new h5.File(resolve(path), 'r');
  } catch (err) {
    throw new DataError(path, `not a readable NetCDF4/HDF5 file: ${hdf5Reason(err)}`, { cause: err });
  }
  try {
    const datasets = new Map<string, H5Dataset>();
    for (const key of file.keys()) {
      const entity = file.get(key);
      if (entity instanceof h5.Dataset) datasets.set(key, entity);
    }
    const variables = new Map<string, StoredVariable>();
    const unnamed: StoredVariable[] = [];
    for (const [name, d] of datasets) {
      const attrs = d.attrs;
      const scaleName = attrs['NAME']?.value;
      if (typeof scaleName === 'string' && scaleName.startsWith(PHONY_SCALE)) continue;
      const shape = (d.shape ?? []).map(Number);
      const dims: string[] = [];
      let named = true;
      for (let i = 0; i < shape.length; i++) {
        let scales: string[] = [];
        try {
          scales = d.get_attached_scales(i);
        } catch {
          scales = [];
        }
        if (scales.length > 0) dims.push(baseName(scales[0]!));
        else if (shape.length === 1 && attrs['CLASS']?.value === 'DIMENSION_SCALE') dims.push(name);
        else {
          dims.push(`phony_dim_${i}`);
          named = false;
        }
      }
      const dtype = storedType(d);
      const v: StoredVariable = { name, dims, shape, dtype, attrs: attributes(d), formatFill: NETCDF_DEFAULT_FILL[dtype] ?? null };
      variables.set(name, v);
      if (!named) unnamed.push(v);
    }
    nameDimensionsByLength(unnamed, variables);
    const store: ArrayStore = {
      path,
      format: 'netcdf4',
      variables,
      attrs: attributes(file),
      async read(name, start, count) {
        const d = datasets.get(name);
        if (!d) throw new DataError(path, `no variable ${name}`);
        let data: unknown;
        try {
          data = start.length === 0 ? d.value : d.slice(start.map((s, i) => [s, s + count[i]!]));
        } catch (err) {
          throw new DataError(path, `cannot read ${name}: ${hdf5Reason(err)}`, { cause: err });
        }
        if (typeof data === 'number' || typeof data === 'bigint') {
          return typeof data === 'bigint' ? BigInt64Array.of(data) : Float64Array.of(data);
        }
        if (!ArrayBuffer.isView(data)) throw new DataError(path, `variable ${name} is not numeric`);
        // (h5wasm reads big-endian datasets into little-endian memory itself.)
        return data as NumericArray;
      },
      close() {
        file.close();
      },
    };
    return store;
  } catch (err) {
    file.close();
    if (err instanceof DataError) throw err;
    throw new DataError(path, `cannot read the NetCDF4/HDF5 structure: ${hdf5Reason(err)}`, { cause: err });
  }
}

/** Plain HDF5 without dimension scales: borrow names from 1-D coordinate datasets by length. */
function nameDimensionsByLength(unnamed: StoredVariable[], variables: Map<string, StoredVariable>): void {
  if (unnamed.length === 0) return;
  const byLength = new Map<number, string[]>();
  for (const v of variables.values()) {
    if (v.shape.length === 1 && COORDINATE_NAMES.has(v.name)) byLength.set(v.shape[0]!, [...(byLength.get(v.shape[0]!) ?? []), v.name]);
  }
  for (const v of unnamed) {
    v.dims = v.dims.map((d, i) => {
      if (!d.startsWith('phony_dim_')) return d;
      const names = byLength.get(v.shape[i]!);
      return names && names.length === 1 ? names[0]! : d;
    });
  }
}
