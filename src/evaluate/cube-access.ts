/**
 * How evaluate reads the cube: resident (the time-major cube loadDataCube holds, read as it is)
 * or on disk (over the memory budget: the cell file training reads, ingest/cell-file.ts), with
 * the same values either way, so both give the same report bit for bit.
 *
 * What each part of an evaluation reads, and how the on-disk cube serves it:
 * - the test windows (the model, every baseline's forecast, the truth, the power scores) read
 *   hours t0 - reach.back .. t0 + reach.ahead of every cell (the model's stencil reaches any
 *   cell): the anchors go in slabs of consecutive hours, each read time-major from the cell file
 *   into a small resident Cube, and scored there with hour indices shifted by the slab's first
 *   hour (every hour is inside the slab, so each value read is the resident cube's);
 * - the climatology and its quantiles read the sampled cells over the training hours: a block
 *   of cells at a time is read (one read per cell) into a compact cube of those cells only, and
 *   fitted there (each cell's sums are its own, added in hour order, so the fit is the same);
 * - the speed-only ridge reads its cells' training series, one read per cell;
 * - the same-input ridge and the dressing read training windows through the feature context
 *   of the cell file (prepare/window-reader.ts), as training does.
 */
import { closeSync, openSync } from 'node:fs';
import { cellCount } from '../core/grid.js';
import type { Progress } from '../core/progress.js';
import type { CellBand, CellCube, CellFile } from '../ingest/cell-cube.js';
import { readHoursOfCells } from '../ingest/cell-file.js';
import type { Cube } from '../ingest/cube.js';
import { cellFeatureContext, type FeatureContext, type FeatureSpec } from '../prepare/features.js';
import type { NormStats } from '../prepare/normalize.js';
import { fitClimatology, type Climatology, type ClimatologyOptions } from './climatology.js';
import { fitClimatologyQuantiles, type ClimatologyQuantiles } from './quantile-baselines.js';

/** A run of test anchors and the hours [first, first + count) that hold every hour they read. */
export interface SlabPlan {
  first: number;
  count: number;
  anchors: number[];
}

/** A slab's hours resident: hour t of the whole cube is hour t - offset of `cube`. */
export interface ScoringSlab {
  cube: Cube;
  offset: number;
  anchors: number[];
}

/** Hours a test window reads around its anchor t0: t0 - back .. t0 + ahead. */
export interface WindowReach {
  back: number;
  ahead: number;
}

export type QuantileFitOptions = Parameters<typeof fitClimatologyQuantiles>[1];

/** What scoreCube reads of the cube, resident or on disk. */
export interface CubeAccess {
  /** Grid, hours, heights and source; values only when resident. */
  facts: Pick<Cube, 'grid' | 'times' | 'source' | 'heightM'>;
  /** The context the same-input ridge and the dressing read training windows through (the model's features). */
  ridgeContext: FeatureContext;
  /** The second height's wind, as far as planning the power scores needs to know (its height). */
  other: Pick<Cube, 'other'>;
  fitClimatology(options: ClimatologyOptions & { cells: Int32Array }): Climatology;
  fitClimatologyQuantiles(options: QuantileFitOptions): ClimatologyQuantiles;
  /** The speed-only ridge's series reader (fitLinearBaseline's readSeries); undefined reads the resident cube. */
  readSeries?: (cell: number, start: number, out: Float64Array) => void;
  /** The anchors (ascending) in slabs whose hours hold every anchor's reach. */
  slabs(anchors: readonly number[], reach: WindowReach): SlabPlan[];
  /** A slab's hours, resident (read one at a time: the caller lets the last one go first). */
  read(plan: SlabPlan): ScoringSlab;
  close(): void;
}

/** The resident cube: every part reads it as it is, the anchors in one slab; `context` is the forecaster's on it. */
export function residentAccess(cube: Cube, context: FeatureContext): CubeAccess {
  return {
    facts: cube,
    ridgeContext: context,
    other: cube,
    fitClimatology: (options) => fitClimatology(cube, options),
    fitClimatologyQuantiles: (options) => fitClimatologyQuantiles(cube, options),
    slabs: (anchors) => [{ first: 0, count: cube.times.length, anchors: [...anchors] }],
    read: (plan) => ({ cube, offset: 0, anchors: plan.anchors }),
    close: () => {},
  };
}

/** Bytes of cell-file values read per block of cells for the training-period fits. */
const FIT_BLOCK_BYTES = 64 * 1024 * 1024;
/** Most bytes of a slab of test hours (all bands), whatever the budget. */
const MAX_SLAB_BYTES = 2 * 2 ** 30;

const CELL_BANDS: readonly CellBand[] = ['speed', 'u', 'v', 'uOther', 'vOther'];

/**
 * A cube on disk (a CellCube whose `disk` is its cell file). `slabBytes` bounds a slab of test
 * hours (at least one anchor's reach is read whatever it says); the fits read blocks of cells;
 * the ridge's windows come through the cell file's feature context (spec and stats: the
 * checkpoint's), as training reads them. close() closes both descriptors.
 */
export function diskAccess(cube: CellCube, options: { spec: FeatureSpec; stats?: NormStats; slabBytes: number; progress: Progress }): CubeAccess {
  const file = cube.disk;
  if (!file) throw new Error('diskAccess needs a cube on disk');
  if (!options.stats) throw new Error('a cube on disk is evaluated with the forecaster\'s normalisation statistics');
  const ridgeContext = cellFeatureContext(cube, options.spec, options.stats);
  const fd = openSync(file.path, 'r');
  const n = cellCount(cube.grid);
  const bands = CELL_BANDS.filter((b) => file.bands.includes(b));
  const facts = { grid: cube.grid, times: cube.times, source: cube.source, heightM: cube.heightM ?? null };
  const empty = new Float32Array(0);
  const other = cube.otherHeightM !== null ? { other: { heightM: cube.otherHeightM, u: empty, v: empty } } : {};

  /** Each block of `cells` as a compact cube of those cells over hours [0, end): `fit` gets it and the block's cells renumbered 0..k-1. */
  const byCellBlocks = (cells: Int32Array, end: number, start: number, label: string, fit: (compact: Cube, local: Int32Array, i0: number) => void) => {
    const blockCells = Math.max(1, Math.min(cells.length, Math.floor(FIT_BLOCK_BYTES / (Math.max(1, end - start) * 4))));
    const task = options.progress.start({ unit: 'cells', total: cells.length, label });
    for (let i0 = 0; i0 < cells.length; i0 += blockCells) {
      const block = cells.subarray(i0, Math.min(cells.length, i0 + blockCells));
      const k = block.length;
      const speed = new Float32Array(end * k);
      // Hours before the fit's start are never read: left NaN.
      speed.fill(NaN, 0, start * k);
      readHoursOfCells(fd, file, 'speed', block, start, end - start, speed.subarray(start * k));
      const compact: Cube = { grid: { ...cube.grid, width: k, height: 1 }, times: cube.times, speed, source: cube.source };
      fit(compact, Int32Array.from({ length: k }, (_, i) => i), i0);
      task.tick(k);
    }
    task.done();
  };

  return {
    facts,
    ridgeContext,
    other,
    fitClimatology(o) {
      // Per block the same fit on the compact cube; its means are per cell, so they concatenate.
      const [start, end] = o.hours;
      let result: Climatology | undefined;
      let mean: Float32Array | undefined;
      byCellBlocks(o.cells, end, start, 'climatology from disk', (compact, local, i0) => {
        const part = fitClimatology(compact, { ...o, cells: local });
        mean ??= new Float32Array(o.cells.length * part.slots);
        mean.set(part.mean, i0 * part.slots);
        result ??= part;
      });
      const position = new Int32Array(n).fill(-1);
      for (let i = 0; i < o.cells.length; i++) position[o.cells[i]!] = i;
      return { ...result!, cells: o.cells, position, mean: mean! };
    },
    fitClimatologyQuantiles(o) {
      const [start, end] = o.hours;
      const K = o.levels.length;
      const anomaly = new Float32Array(o.cells.length * 24 * K);
      let levels: number[] = [...o.levels];
      byCellBlocks(o.cells, end, start, 'climatology quantiles from disk', (compact, local, i0) => {
        const part = fitClimatologyQuantiles(compact, { ...o, cells: local });
        anomaly.set(part.anomaly, i0 * 24 * K);
        levels = part.levels;
      });
      return { levels, cells: o.cells, anomaly };
    },
    readSeries: (() => {
      let scratch = new Float32Array(0);
      return (cell: number, start: number, out: Float64Array) => {
        if (scratch.length < out.length) scratch = new Float32Array(out.length);
        readHoursOfCells(fd, file, 'speed', [cell], start, out.length, scratch);
        for (let k = 0; k < out.length; k++) out[k] = scratch[k]!;
      };
    })(),
    slabs(anchors, reach) {
      const hourBytes = n * 4 * bands.length;
      const slabHours = Math.max(reach.back + reach.ahead + 1, Math.floor(Math.min(MAX_SLAB_BYTES, options.slabBytes) / hourBytes));
      const plans: SlabPlan[] = [];
      let i = 0;
      while (i < anchors.length) {
        const first = Math.max(0, anchors[i]! - reach.back);
        const inSlab: number[] = [];
        while (i < anchors.length && anchors[i]! + reach.ahead < first + slabHours) inSlab.push(anchors[i++]!);
        plans.push({ first, count: Math.min(file.hours, inSlab[inSlab.length - 1]! + reach.ahead + 1) - first, anchors: inSlab });
      }
      return plans;
    },
    read: (plan) => ({ cube: readSlab(fd, file, cube, bands, plan.first, plan.count, options.progress), offset: plan.first, anchors: plan.anchors }),
    close: () => {
      ridgeContext.reader?.close();
      closeSync(fd);
    },
  };
}

/** Hours [first, first + count) of every band as a resident time-major Cube of those hours. */
function readSlab(fd: number, file: CellFile, cube: CellCube, bands: readonly CellBand[], first: number, count: number, progress: Progress): Cube {
  const n = cellCount(cube.grid);
  const task = progress.start({ unit: 'cells', total: n * bands.length, label: `test hours ${first}..${first + count - 1} from disk` });
  const read: Partial<Record<CellBand, Float32Array>> = {};
  for (const b of bands) {
    const values = new Float32Array(n * count);
    readHoursOfCells(fd, file, b, allCells(n), first, count, values, (k) => task.tick(k, b));
    read[b] = values;
  }
  task.done();
  return {
    grid: cube.grid,
    times: cube.times.subarray(first, first + count),
    speed: read.speed!,
    heightM: cube.heightM ?? null,
    ...(read.u && read.v ? { u: read.u, v: read.v } : {}),
    ...(read.uOther && read.vOther && cube.otherHeightM !== null ? { other: { heightM: cube.otherHeightM, u: read.uOther, v: read.vOther } } : {}),
    source: cube.source,
  };
}

let cellIndices: Int32Array | undefined;

/** 0..n-1, made once per grid size. */
function allCells(n: number): Int32Array {
  if (!cellIndices || cellIndices.length !== n) cellIndices = Int32Array.from({ length: n }, (_, i) => i);
  return cellIndices;
}
