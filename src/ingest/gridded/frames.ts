/**
 * Reading hourly frames of one variable of one file straight into a cube-layout array:
 * index (t * height + row) * width + col, north-up, physical units, NaN where missing.
 *
 * Slabs are read a block of hours at a time (about 8 M stored values), unpacked, flipped to
 * north-up and, when the variable has an expver dimension, merged (first non-missing version
 * per hour and cell) into the caller's array. Peak extra memory is one block, whatever the
 * file's size: a month of global hourly ERA5 (1440 x 721 x 744) never exists twice.
 */
import { cellCount } from '../../core/grid.js';
import type { FileLayout, FileVariable } from './layout.js';
import { elementCount, type ArrayStore, type NumericArray } from './store.js';

const BLOCK_VALUES = 1 << 23;

/** Hours per block of readFrames for a grid of `cells` (with `expvers` versions per hour): slabs of a multiple of it read in the same blocks as one whole read. */
export function framesPerBlock(cells: number, expvers = 1): number {
  return Math.max(1, Math.floor(BLOCK_VALUES / (cells * expvers)));
}

export interface FrameTarget {
  out: Float32Array;
  /** Frame (hour) index in `out` that source index `srcStart` goes to. */
  outFrame: number;
}

/** Copy source hours srcStart..srcStart+count of `v` into `target`. */
export async function readFrames(store: ArrayStore, layout: FileLayout, v: FileVariable, srcStart: number, count: number, target: FrameTarget): Promise<void> {
  const { grid } = layout;
  const expvers = v.axes.expver >= 0 ? v.shape[v.axes.expver]! : 1;
  const perBlock = v.axes.time < 0 ? 1 : framesPerBlock(cellCount(grid), expvers);
  for (let done = 0; done < count; done += perBlock) {
    const n = Math.min(perBlock, count - done);
    const start = v.shape.map(() => 0);
    const size = v.shape.map((s, axis) => (axis === v.axes.expver ? s : 1));
    const w = layout.window;
    start[v.axes.lat] = w.latStart;
    size[v.axes.lat] = w.latCount;
    start[v.axes.lon] = w.lonStart;
    size[v.axes.lon] = w.lonCount;
    if (v.axes.time >= 0) {
      start[v.axes.time] = srcStart + done;
      size[v.axes.time] = n;
    }
    let raw = await store.read(v.sourceName, start, size);
    if (raw.length !== elementCount(size)) throw new Error(`${store.path}: ${v.sourceName} slab has ${raw.length} values, expected ${elementCount(size)}`);
    if (raw instanceof BigInt64Array || raw instanceof BigUint64Array) raw = Float64Array.from(raw, Number);
    unpackInto(raw, size, layout, v, n, target.out, target.outFrame + done);
  }
}

/** Unpack, flip and merge one block (C order, shape `size`) into frames outFrame..outFrame+n. */
function unpackInto(raw: NumericArray, size: number[], layout: FileLayout, v: FileVariable, n: number, out: Float32Array, outFrame: number): void {
  const { width, height } = layout.grid;
  const strides = new Array<number>(size.length);
  let s = 1;
  for (let d = size.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= size[d]!;
  }
  const st = v.axes.time >= 0 ? strides[v.axes.time]! : 0;
  const sr = strides[v.axes.lat]!;
  const sc = strides[v.axes.lon]!;
  const se = v.axes.expver >= 0 ? strides[v.axes.expver]! : 0;
  const expvers = v.axes.expver >= 0 ? size[v.axes.expver]! : 1;
  const { scale, offset, validMin, validMax, unsignedBits } = v.packing;
  // NaN never equals anything, so an absent fill costs one comparison and matches nothing.
  const fill0 = v.packing.fills[0] ?? NaN;
  const fill1 = v.packing.fills[1] ?? NaN;
  const moreFills = v.packing.fills.slice(2);
  const wrap = unsignedBits > 0 ? 2 ** unsignedBits : 0;
  const values = raw as ArrayLike<number>;
  const cells = width * height;
  if (expvers === 1 && wrap === 0 && moreFills.length === 0) {
    // The usual case, kept free of calls: one stored value per output cell.
    const step = layout.flipCols ? -sc : sc;
    for (let t = 0; t < n; t++) {
      const frame = (outFrame + t) * cells;
      for (let r = 0; r < height; r++) {
        let src = t * st + (layout.flipRows ? height - 1 - r : r) * sr + (layout.flipCols ? (width - 1) * sc : 0);
        let dst = frame + r * width;
        for (let c = 0; c < width; c++, src += step, dst++) {
          const x = values[src]!;
          out[dst] = x !== x || x === fill0 || x === fill1 || x < validMin || x > validMax ? NaN : x * scale + offset;
        }
      }
    }
    return;
  }
  const unpack = (x: number): number => {
    if (wrap > 0 && x < 0) x += wrap;
    if (x !== x || x === fill0 || x === fill1 || x < validMin || x > validMax) return NaN;
    if (moreFills.length > 0 && moreFills.includes(x)) return NaN;
    return x * scale + offset;
  };
  for (let t = 0; t < n; t++) {
    const frame = (outFrame + t) * cells;
    for (let r = 0; r < height; r++) {
      const rowBase = t * st + (layout.flipRows ? height - 1 - r : r) * sr;
      const outRow = frame + r * width;
      for (let c = 0; c < width; c++) {
        const base = rowBase + (layout.flipCols ? width - 1 - c : c) * sc;
        let value = unpack(values[base]!);
        for (let k = 1; k < expvers && value !== value; k++) value = unpack(values[base + k * se]!);
        out[outRow + c] = value;
      }
    }
  }
}
