/**
 * Windows as index arithmetic: a window is an anchor hour t0 and a cell; its inputs are hours
 * t0-lookback+1..t0 and its targets t0+1..t0+horizon of that cell. Nothing is materialised:
 * 720 hours x 1M cells of windows would not fit, so epochs draw (t0, cell) pairs with a seeded
 * PRNG. Cells are drawn with probability proportional to their area (cos latitude), so the
 * sampled loss is area-weighted in expectation and no samples are wasted on polar slivers.
 */
import type { GridSpec } from '../core/grid.js';
import { rowLat } from '../core/grid.js';
import { anchorRange, type Period, type TimeSplit } from './split.js';

/** Small, fast, seedable PRNG (mulberry32): same seed, same sequence, on every platform. */
export function makeRng(seed: number): () => number {
  let a = (seed ^ 0x9e3779b9) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mix two integers into a new seed (e.g. run seed and epoch). */
export function mixSeed(a: number, b: number): number {
  let h = Math.imul((a | 0) ^ 0x85ebca6b, 0xcc9e2d51) ^ Math.imul((b | 0) + 0x27d4eb2f, 0x1b873593);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Area weight of a row: cos(latitude) of its centre, floored so a pole row is not exactly 0. */
export function rowAreaWeight(grid: GridSpec, row: number): number {
  const lat = rowLat(grid, row);
  const w = Math.cos((lat * Math.PI) / 180);
  // A row centred on the pole still covers a half-cell cap: give it that cap's share.
  return Math.max(w, Math.sin(((grid.dLat / 4) * Math.PI) / 180));
}

/** The anchors of a period with a stride (hours between anchors). */
export function periodAnchors(split: TimeSplit, period: Period, stride = 1): Int32Array {
  const { first, last } = anchorRange(split, period);
  if (last < first) return new Int32Array(0);
  const n = Math.floor((last - first) / stride) + 1;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = first + i * stride;
  return out;
}

export interface WindowSample {
  /** Anchor hour index of each sample (the last input hour). */
  t0: Int32Array;
  /** Flat cell index row*width+col of each sample. */
  cell: Int32Array;
}

export interface SampleOptions {
  grid: GridSpec;
  anchors: Int32Array;
  count: number;
  seed: number;
  /** Reject a candidate (e.g. NaN inputs); tried again up to 20 times, then kept. */
  accept?: (t0: number, cell: number) => boolean;
}

/**
 * Draw `count` (t0, cell) pairs: t0 uniform over the anchors, the row with probability
 * proportional to cos(latitude) * width (its share of the globe), the column uniform.
 */
export function sampleWindows(options: SampleOptions): WindowSample {
  const { grid, anchors, count, seed, accept } = options;
  if (anchors.length === 0) throw new Error('sampleWindows: no anchors in this period');
  const rng = makeRng(seed);
  const cumulative = new Float64Array(grid.height);
  let acc = 0;
  for (let r = 0; r < grid.height; r++) {
    acc += rowAreaWeight(grid, r);
    cumulative[r] = acc;
  }
  const t0 = new Int32Array(count);
  const cell = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    let t = 0;
    let c = 0;
    for (let attempt = 0; attempt < 20; attempt++) {
      t = anchors[Math.floor(rng() * anchors.length)]!;
      const row = searchCumulative(cumulative, rng() * acc);
      const col = Math.floor(rng() * grid.width);
      c = row * grid.width + col;
      if (!accept || accept(t, c)) break;
    }
    t0[i] = t;
    cell[i] = c;
  }
  return { t0, cell };
}

function searchCumulative(cumulative: Float64Array, x: number): number {
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cumulative[mid]! > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Every (anchor, cell) pair, anchor-major. */
export function allWindows(anchors: Int32Array, cells: number): WindowSample {
  const t0 = new Int32Array(anchors.length * cells);
  const cell = new Int32Array(anchors.length * cells);
  for (let a = 0; a < anchors.length; a++) {
    t0.fill(anchors[a]!, a * cells, (a + 1) * cells);
    for (let c = 0; c < cells; c++) cell[a * cells + c] = c;
  }
  return { t0, cell };
}
