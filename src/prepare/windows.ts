/**
 * Windows as index arithmetic: a window is an anchor hour t0 and a cell; its inputs are hours
 * t0-lookback+1..t0 and its targets t0+1..t0+horizon of that cell. Nothing is materialised:
 * 720 hours x 1M cells of windows would not fit, so epochs draw (t0, cell) pairs with a seeded
 * PRNG. Cells are drawn with probability proportional to their area (cos latitude), so the
 * sampled loss is area-weighted in expectation and no samples are wasted on polar slivers.
 */
import type { GridSpec } from '../core/grid.js';
import { cellCount, rowLat } from '../core/grid.js';
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
  /**
   * Area weight of each sample (its row's share, mean 1) when the samples are distinct windows
   * taken uniformly (distinctWindows); absent when cells were drawn in proportion to their area
   * (sampleWindows), where plain means are already area-weighted.
   */
  weight?: Float32Array;
}

export interface SampleOptions {
  grid: GridSpec;
  anchors: Int32Array;
  count: number;
  seed: number;
  /** Reject a candidate (e.g. NaN inputs); tried again up to 20 times, then kept. */
  accept?: (t0: number, cell: number) => boolean;
  /** Draw a block at a time (blockSampling); absent: every window on its own, as always. */
  blocks?: BlockSampling | null;
}

/**
 * Windows drawn a block at a time: a block is a band of `rows` grid rows (in the cell-major
 * cube, one contiguous span of cells x all hours), `windowsPerBlock` windows are drawn inside
 * it, and the windows of `bufferBlocks` consecutive blocks are shuffled together (the shuffle
 * buffer), so a batch of 4096 mixes windows from that many bands of the globe rather than
 * from one. The bands are drawn with probability proportional to their area and the rows
 * inside a band by theirs, so every window still has today's distribution (row by area,
 * column and anchor uniform); what changes is that a batch gathers from a few bands of the
 * cube instead of all of it (memory locality on a cube of gigabytes).
 */
export interface BlockSampling {
  rows: number;
  windowsPerBlock: number;
  bufferBlocks: number;
}

/**
 * Grids of fewer cells than this draw every window on its own (today's sampler, bit for bit):
 * their cube is too small for a batch's spread over it to cost much, and the real-data recipes
 * (ERA5 grids of a few cells to a few thousand) were tuned on that sampler.
 */
export const BLOCK_MIN_CELLS = 65_536;
/** Bands per grid: on the 0.25 degree globe, 23 bands of 31 rows (7.75 degrees of latitude) and one of 8. */
const BLOCK_BANDS = 24;

/** The block sampling of a grid for train.sampler ('auto': blocks from BLOCK_MIN_CELLS cells), or null. */
export function blockSampling(grid: GridSpec, mode: 'auto' | 'uniform' | 'blocks'): BlockSampling | null {
  if (mode === 'uniform' || (mode === 'auto' && cellCount(grid) < BLOCK_MIN_CELLS)) return null;
  return { rows: Math.max(1, Math.ceil(grid.height / BLOCK_BANDS)), windowsPerBlock: 4096, bufferBlocks: 4 };
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
  if (options.blocks) return sampleBlocks(options, options.blocks, rng, cumulative);
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

/** sampleWindows a block at a time (BlockSampling). */
function sampleBlocks(options: SampleOptions, blocks: BlockSampling, rng: () => number, cumulative: Float64Array): WindowSample {
  const { grid, anchors, count, accept } = options;
  const { rows, windowsPerBlock, bufferBlocks } = blocks;
  const bands = Math.ceil(grid.height / rows);
  // Band b covers rows [b * rows, min(height, (b + 1) * rows)); its area is the rows' sum.
  const bandCumulative = new Float64Array(bands);
  for (let b = 0; b < bands; b++) bandCumulative[b] = cumulative[Math.min(grid.height, (b + 1) * rows) - 1]!;
  const total = bandCumulative[bands - 1]!;
  const t0 = new Int32Array(count);
  const cell = new Int32Array(count);
  let i = 0;
  while (i < count) {
    const groupStart = i;
    for (let k = 0; k < bufferBlocks && i < count; k++) {
      const band = searchCumulative(bandCumulative, rng() * total);
      const lo = band * rows;
      const hi = Math.min(grid.height, lo + rows) - 1;
      const below = lo === 0 ? 0 : cumulative[lo - 1]!;
      const span = cumulative[hi]! - below;
      const end = Math.min(count, i + windowsPerBlock);
      for (; i < end; i++) {
        let t = 0;
        let c = 0;
        for (let attempt = 0; attempt < 20; attempt++) {
          t = anchors[Math.floor(rng() * anchors.length)]!;
          // Clamped: rounding at the band's upper edge must not step into the next band.
          const row = Math.min(hi, Math.max(lo, searchCumulative(cumulative, below + rng() * span)));
          c = row * grid.width + Math.floor(rng() * grid.width);
          if (!accept || accept(t, c)) break;
        }
        t0[i] = t;
        cell[i] = c;
      }
    }
    // The shuffle buffer: the group's windows in a random order (Fisher-Yates).
    for (let j = i - 1; j > groupStart; j--) {
      const k = groupStart + Math.floor(rng() * (j - groupStart + 1));
      const t = t0[j]!;
      t0[j] = t0[k]!;
      t0[k] = t;
      const c = cell[j]!;
      cell[j] = cell[k]!;
      cell[k] = c;
    }
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

/**
 * Up to `count` distinct complete windows of a period, a seeded uniform choice among its
 * anchors x cells (all of them when there are no more than `count`), each weighted by its
 * row's area (mean 1), in anchor-major order. For periods a few times `count` or smaller,
 * where sampleWindows's independent draws would repeat many windows and leave others out (on
 * ERA5 Berlin's 4,974 validation windows, 4,974 draws held about 63 % of them, some twice or
 * more), so the score would depend on the seed's resample instead of on the period.
 */
export function distinctWindows(grid: GridSpec, anchors: Int32Array, count: number, seed: number, accept?: (t0: number, cell: number) => boolean): WindowSample {
  const cells = cellCount(grid);
  const total = anchors.length * cells;
  // A partial Fisher-Yates shuffle of the window indices; when every window is wanted, none.
  const index = new Int32Array(total);
  for (let i = 0; i < total; i++) index[i] = i;
  const rng = makeRng(seed);
  const chosen: number[] = [];
  for (let i = 0; i < total && chosen.length < count; i++) {
    if (total > count) {
      const j = i + Math.floor(rng() * (total - i));
      const x = index[j]!;
      index[j] = index[i]!;
      index[i] = x;
    }
    const w = index[i]!;
    const t = anchors[Math.floor(w / cells)]!;
    const c = w % cells;
    if (!accept || accept(t, c)) chosen.push(w);
  }
  chosen.sort((a, b) => a - b);
  const t0 = new Int32Array(chosen.length);
  const cell = new Int32Array(chosen.length);
  const weight = new Float32Array(chosen.length);
  let sum = 0;
  for (let k = 0; k < chosen.length; k++) {
    const w = chosen[k]!;
    t0[k] = anchors[Math.floor(w / cells)]!;
    cell[k] = w % cells;
    weight[k] = rowAreaWeight(grid, Math.floor(cell[k]! / grid.width));
    sum += weight[k]!;
  }
  for (let k = 0; k < weight.length; k++) weight[k]! *= weight.length / sum;
  return { t0, cell, weight };
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
