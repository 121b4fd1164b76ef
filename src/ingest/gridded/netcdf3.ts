/**
 * NetCDF3 (classic and 64-bit offset) as an ArrayStore.
 *
 * netcdfjs parses the header: dimensions, attributes, variable types and where each
 * variable's bytes begin. We do not use its data readers, which need the whole file in one
 * buffer and return plain JavaScript arrays: a month of global hourly ERA5 is gigabytes.
 * Instead the bytes of a hyperslab are read at the offsets the header gives (positional reads,
 * big-endian swapped in place), so memory holds the requested slab and nothing more.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { NetCDFReader } from 'netcdfjs';
import { DataError, describeError } from '../../core/errors.js';
import {
  NETCDF_DEFAULT_FILL, elementCount, subsetC,
  type ArrayStore, type AttrValue, type NumericArray, type StoredType, type StoredVariable,
} from './store.js';

const TYPES: Record<string, { dtype: StoredType; bytes: number }> = {
  byte: { dtype: 'int8', bytes: 1 },
  char: { dtype: 'char', bytes: 1 },
  short: { dtype: 'int16', bytes: 2 },
  int: { dtype: 'int32', bytes: 4 },
  float: { dtype: 'float32', bytes: 4 },
  double: { dtype: 'float64', bytes: 8 },
};

/** numrecs of a file still being written ("streaming"): count the records from the size. */
const STREAMING = 0xffffffff;

/** Slabs at least this large are read one record at a time; smaller ones in spans of records. */
const DIRECT_RECORD_BYTES = 64 * 1024;
const SPAN_BYTES = 16 * 1024 * 1024;

interface Layout {
  offset: number;
  bytes: number;
  record: boolean;
  /** Bytes of one record's slab (record variables) or of the whole variable. */
  slabBytes: number;
}

function attributes(list: { name: string; value: number | string | number[] }[]): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const a of list) out[a.name] = Array.isArray(a.value) && a.value.length === 1 ? a.value[0]! : a.value;
  return out;
}

/** Parse the header from the file's first bytes, reading more until netcdfjs has enough. */
function readHeader(path: string, fd: number, size: number): NetCDFReader {
  let want = Math.min(size, 256 * 1024);
  for (;;) {
    const head = new Uint8Array(want);
    readSync(fd, head, 0, want, 0);
    try {
      return new NetCDFReader(head);
    } catch (err) {
      // IOBuffer throws a RangeError when the header runs past the bytes given.
      if (err instanceof RangeError && want < size) {
        want = Math.min(size, want * 4);
        continue;
      }
      const why = describeError(err).replace(/^Not a valid NetCDF v3\.x file: /, '');
      throw new DataError(path, `not a readable NetCDF3 file: ${why}${/4GB/.test(why) ? ' (netcdfjs reads 64-bit offset files whose variables start below 4 GB; split the file or convert it with "nccopy -k nc4")' : ''}`, { cause: err });
    }
  }
}

export function openNetcdf3(path: string): ArrayStore {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const reader = readHeader(path, fd, size);
    const header = reader.header;
    const dims = header.dimensions;
    const recordVars = header.variables.filter((v) => v.record);
    let recordStep = header.recordDimension.recordStep ?? 0;
    const layouts = new Map<string, Layout>();
    const variables = new Map<string, StoredVariable>();
    for (const v of header.variables) {
      const type = TYPES[v.type];
      if (!type) throw new DataError(path, `variable ${v.name} has an unknown NetCDF3 type "${v.type}"`);
      const slabCount = elementCount(v.dimensions.slice(v.record ? 1 : 0).map((id) => dims[id]!.size));
      const slabBytes = slabCount * type.bytes;
      // With exactly one record variable its records are not padded to 4 bytes (NetCDF3 spec).
      if (v.record && recordVars.length === 1) recordStep = slabBytes;
      layouts.set(v.name, { offset: v.offset, bytes: type.bytes, record: v.record, slabBytes });
      variables.set(v.name, {
        name: v.name,
        dims: v.dimensions.map((id) => dims[id]!.name),
        shape: v.dimensions.map((id) => dims[id]!.size),
        dtype: type.dtype,
        attrs: attributes(v.attributes as never),
        formatFill: NETCDF_DEFAULT_FILL[type.dtype] ?? null,
      });
    }
    let numRecords = header.recordDimension.length;
    if (recordVars.length > 0) {
      const first = Math.min(...recordVars.map((v) => v.offset));
      if (numRecords === STREAMING) numRecords = recordStep > 0 ? Math.floor((size - first) / recordStep) : 0;
      const lastEnd = Math.max(...recordVars.map((v) => v.offset + layouts.get(v.name)!.slabBytes));
      const needed = (numRecords - 1) * recordStep + lastEnd;
      if (numRecords > 0 && needed > size) throw new DataError(path, `truncated NetCDF3 file: ${numRecords} records need ${needed} bytes, the file has ${size}`);
    }
    if (header.recordDimension.name !== undefined) {
      for (const v of variables.values()) {
        const i = v.dims.indexOf(header.recordDimension.name);
        if (i >= 0) v.shape[i] = numRecords;
      }
    }
    for (const [name, l] of layouts) {
      if (!l.record && l.offset + l.slabBytes > size) throw new DataError(path, `truncated NetCDF3 file: variable ${name} ends at byte ${l.offset + l.slabBytes}, the file has ${size}`);
    }
    const store: ArrayStore = {
      path,
      format: 'netcdf3',
      variables,
      attrs: attributes(header.globalAttributes as never),
      async read(name, start, count) {
        const v = variables.get(name);
        const l = layouts.get(name);
        if (!v || !l) throw new DataError(path, `no variable ${name}`);
        return readSlab(path, fd, v, l, recordStep, start, count);
      },
      close() {
        closeSync(fd);
      },
    };
    return store;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Read the start..start+count range of dimension 0 (all of the others), then cut the rest. */
function readSlab(path: string, fd: number, v: StoredVariable, l: Layout, recordStep: number, start: number[], count: number[]): NumericArray {
  if (v.shape.length === 0) return decode(readBytes(path, fd, l.offset, l.bytes), v.dtype);
  const first = start[0]!;
  const n = count[0]!;
  const rowBytes = l.record ? l.slabBytes : l.slabBytes / Math.max(1, v.shape[0]!);
  const bytes = new Uint8Array(n * rowBytes);
  if (!l.record || recordStep === rowBytes) {
    // Contiguous: a non-record variable, or the only record variable.
    readInto(path, fd, bytes, 0, l.offset + first * rowBytes, bytes.length);
  } else if (rowBytes >= DIRECT_RECORD_BYTES) {
    for (let r = 0; r < n; r++) readInto(path, fd, bytes, r * rowBytes, l.offset + (first + r) * recordStep, rowBytes);
  } else {
    // Small slabs interleaved with other variables: read spans of whole records, keep ours.
    const perSpan = Math.max(1, Math.floor(SPAN_BYTES / recordStep));
    for (let r0 = 0; r0 < n; r0 += perSpan) {
      const m = Math.min(perSpan, n - r0);
      const span = new Uint8Array((m - 1) * recordStep + rowBytes);
      readInto(path, fd, span, 0, l.offset + (first + r0) * recordStep, span.length);
      for (let r = 0; r < m; r++) bytes.set(span.subarray(r * recordStep, r * recordStep + rowBytes), (r0 + r) * rowBytes);
    }
  }
  const data = decode(bytes, v.dtype);
  const shape = [n, ...v.shape.slice(1)];
  return subsetC(data, shape, [0, ...start.slice(1)], count);
}

function readBytes(path: string, fd: number, position: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  readInto(path, fd, out, 0, position, length);
  return out;
}

function readInto(path: string, fd: number, buffer: Uint8Array, offset: number, position: number, length: number): void {
  let done = 0;
  while (done < length) {
    const got = readSync(fd, buffer, offset + done, length - done, position + done);
    if (got === 0) throw new DataError(path, `truncated NetCDF3 file: expected ${length} bytes at byte ${position}`);
    done += got;
  }
}

/** Big-endian bytes (in a buffer of their own, so aligned) as a native typed array. */
function decode(bytes: Uint8Array, dtype: StoredType): NumericArray {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'int8':
      return new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    case 'char':
      return bytes;
    case 'int16':
      b.swap16();
      return new Int16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
    case 'int32':
      b.swap32();
      return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    case 'float32':
      b.swap32();
      return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    case 'float64':
      b.swap64();
      return new Float64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
    default:
      throw new Error(`NetCDF3 has no ${dtype} type`);
  }
}
