/**
 * A local Zarr v2 or v3 store as an ArrayStore, through zarrita (both formats, the usual
 * codecs: blosc, zlib, gzip, zstd, lz4, as the ARCO-ERA5 stores use).
 *
 * The arrays are the store's top-level children (folders holding .zarray or a zarr.json with
 * node_type "array"), as xarray writes them. Dimension names come from v3 dimension_names or
 * xarray's v2 _ARRAY_DIMENSIONS attribute. zarrita decodes only the chunks a slab touches.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as zarr from 'zarrita';
import FileSystemStore from '@zarrita/storage/fs';
import { DataError, describeError } from '../../core/errors.js';
import type { ArrayStore, AttrValue, GriddedFormat, NumericArray, StoredType, StoredVariable } from './store.js';

const NUMERIC: Record<string, StoredType> = {
  int8: 'int8', uint8: 'uint8', int16: 'int16', uint16: 'uint16', int32: 'int32', uint32: 'uint32',
  int64: 'int64', uint64: 'uint64', float32: 'float32', float64: 'float64',
};

function attrValue(value: unknown): AttrValue | undefined {
  if (typeof value === 'string' || typeof value === 'number') return value;
  if (Array.isArray(value) && value.every((x) => typeof x === 'number')) return value.length === 1 ? value[0] as number : value as number[];
  // JSON cannot hold NaN: zarr and xarray write it as the string "NaN".
  return undefined;
}

function attributes(attrs: Record<string, unknown>): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const [name, value] of Object.entries(attrs)) {
    if (name === '_ARRAY_DIMENSIONS') continue;
    const v = name === '_FillValue' && typeof value === 'string' ? fillFromJson(value) : attrValue(value);
    if (v !== undefined) out[name] = v;
  }
  return out;
}

function fillFromJson(text: string): number | undefined {
  if (text === 'NaN') return NaN;
  if (text === 'Infinity') return Infinity;
  if (text === '-Infinity') return -Infinity;
  return undefined;
}

function isArrayFolder(dir: string, format: GriddedFormat): boolean {
  try {
    if (!statSync(dir).isDirectory()) return false;
    if (format === 'zarr-v2') return statSync(join(dir, '.zarray')).isFile();
    const meta = JSON.parse(readFileSync(join(dir, 'zarr.json'), 'utf8')) as { node_type?: string };
    return meta.node_type === 'array';
  } catch {
    return false;
  }
}

export async function openZarr(path: string, format: 'zarr-v2' | 'zarr-v3'): Promise<ArrayStore> {
  const store = new FileSystemStore(resolve(path));
  const root = zarr.root(store);
  const arrays = new Map<string, zarr.Array<zarr.DataType, FileSystemStore>>();
  const variables = new Map<string, StoredVariable>();
  let groupAttrs: Record<string, AttrValue> = {};
  try {
    const opened = format === 'zarr-v2' ? await zarr.open.v2(root) : await zarr.open.v3(root);
    if (opened.kind === 'array') throw new DataError(path, 'is a single Zarr array, not a dataset: give the store (the folder with .zgroup or a group zarr.json) that holds time, latitude, longitude and the wind variables');
    groupAttrs = attributes(opened.attrs);
    for (const name of readdirSync(path).sort()) {
      if (name.startsWith('.') || !isArrayFolder(join(path, name), format)) continue;
      const location = root.resolve(name);
      const arr = format === 'zarr-v2' ? await zarr.open.v2(location, { kind: 'array' }) : await zarr.open.v3(location, { kind: 'array' });
      const dtype = NUMERIC[arr.dtype] ?? (typeof arr.dtype === 'string' && /str|U|S/.test(arr.dtype) ? 'string' : 'other');
      const fill = arr.fillValue;
      const dims = arr.dimensionNames ?? arr.shape.map((_, i) => `phony_dim_${i}`);
      arrays.set(name, arr);
      variables.set(name, {
        name,
        dims: [...dims],
        shape: [...arr.shape],
        dtype,
        attrs: attributes(arr.attrs),
        // v2's fill_value is xarray's _FillValue; v3's is only the value of unwritten chunks
        // (0 by default for integers), so only v2's counts as a missing-data marker.
        formatFill: format === 'zarr-v2' && typeof fill === 'number' ? fill : null,
      });
    }
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(path, `not a readable Zarr store: ${describeError(err)}`, { cause: err });
  }
  return {
    path,
    format,
    variables,
    attrs: groupAttrs,
    async read(name, start, count) {
      const arr = arrays.get(name);
      if (!arr) throw new DataError(path, `no variable ${name}`);
      try {
        const selection = start.map((s, i) => zarr.slice(s, s + count[i]!));
        const chunk = await zarr.get(arr, selection.length === 0 ? null : selection);
        if (typeof chunk !== 'object' || chunk === null || !('data' in chunk) || !ArrayBuffer.isView(chunk.data)) {
          throw new Error(`${arr.dtype} values are not numbers`);
        }
        return chunk.data as NumericArray;
      } catch (err) {
        throw new DataError(path, `cannot read ${name}: ${describeError(err)}`, { cause: err });
      }
    },
    close() {},
  };
}
