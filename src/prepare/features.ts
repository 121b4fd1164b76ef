/**
 * Features per (anchor hour, cell): for each of the lookback input hours, the cell's own speed,
 * a multi-scale stencil of its neighbourhood, the local solar time and day of year, its
 * latitude and longitude, u/v when the cube has them, and the u/v of the cube's other height
 * (ERA5's 10 m beside a 100 m target, or 100 m beside 10 m) when it has two. Wind at +24 h depends on air several
 * degrees upstream, so the stencil has square rings at several radii (default 0.25, 1 and 4
 * degrees); per ring and hour: the mean speed on the ring's 8 points, the east-minus-west and
 * north-minus-south differences (which way the gradient runs, i.e. what is upstream).
 *
 * Edges, decided once per row:
 * - longitude wraps around the globe when the grid covers 360 degrees (wrapsLongitude);
 * - a ring point past a pole on a longitude-wrapping grid is reflected across the pole: the
 *   point at latitude 90+d is the point at 90-d on the meridian 180 degrees away (the real
 *   neighbour over the pole), then clamped to the grid's rows if the grid stops short of it;
 * - on regional grids, rows and columns past an edge are clamped to the edge.
 * Ring offsets are whole cells (at least one), so on coarse grids small rings coincide.
 *
 * Values are normalised with the centre cell's statistics (normalize.ts): speeds as
 * (v - mean) / std, differences and u/v (of either height) as v / std. Gathering writes into a caller's
 * preallocated Float32Array [batch, lookback, nFeatures]: no allocation per sample.
 */
import { z } from 'zod';
import type { Cube } from '../ingest/cube.js';
import { cellMajor, type CellCube } from '../ingest/cell-cube.js';
import { WindowReader } from './window-reader.js';
import { colLon, rowLat, wrapsLongitude, type GridSpec } from '../core/grid.js';
import type { NormStats } from './normalize.js';
import { HOUR_MS, TROPICAL_YEAR_HOURS } from '../core/time.js';

/** The features a model was trained on; stored in (and validated with) every checkpoint's meta.json. */
export const FeatureSpecSchema = z.object({
  lookback: z.number().int().positive(),
  horizon: z.number().int().positive(),
  ringsDeg: z.array(z.number().positive()),
  /** u/v of the centre cell are features (the cube had u/v bands). */
  uv: z.boolean(),
  /**
   * Day-of-year sin/cos are features. Only when the training period spans a year: from less,
   * the seasonal cycle cannot be learnt and the feature is a trend that does not extrapolate.
   */
  dayOfYear: z.boolean(),
  /** Targets are the change from the last observed hour (else the normalised speed). */
  predictDelta: z.boolean(),
  /**
   * Height (m) of the speed the model reads and forecasts; null when the data did not say
   * (GeoTIFF bands without names, and checkpoints from before heights were recorded).
   */
  heightM: z.number().positive().nullable().default(null),
  /** The u/v of this other height are features too (named u<h>, v<h>: u10, v10); null: none. */
  otherHeightM: z.number().positive().nullable().default(null),
  /** ERA5 names of the variables the training data was read from (u100, v100, u10, v10); empty: unnamed. */
  variables: z.array(z.string()).default([]),
  /** lat/lon sin/cos are features (see positionVaries; checkpoints from before always had them). */
  position: z.boolean().default(true),
  normalization: z.enum(['cell', 'global']) satisfies z.ZodType<NormStats['mode']>,
  poles: z.literal('reflect'),
  names: z.array(z.string()),
  nFeatures: z.number().int().positive(),
});

export type FeatureSpec = z.infer<typeof FeatureSpecSchema>;

/** The 8 directions of a ring as (east, north) unit steps. */
const DIRS: ReadonlyArray<readonly [number, number]> = [
  [1, 0], [1, 1], [0, 1], [-1, 1], [-1, 0], [-1, -1], [0, -1], [1, -1],
];
const POINTS = DIRS.length;

export interface FeatureSpecOptions {
  lookback: number;
  horizon: number;
  ringsDeg: number[];
  uv: boolean;
  dayOfYear: boolean;
  predictDelta: boolean;
  normalization: NormStats['mode'];
  /** Defaults (null, null, []) are what a checkpoint from before heights describes. */
  heightM?: number | null;
  otherHeightM?: number | null;
  variables?: string[];
  /** Default true. */
  position?: boolean;
}

/**
 * The rings of ringsDeg that read cells no earlier ring reads: ring offsets are whole cells
 * (at least one) and clamp at a regional grid's edges, so on coarse or small grids several
 * radii read the very same points (on a 2 x 2 grid at 0.25 degrees, 0.25, 1 and 4 degrees all
 * read the neighbours). A duplicate ring only repeats inputs, which a small dataset overfits.
 */
export function distinctRings(grid: GridSpec, ringsDeg: number[]): number[] {
  const kept: { deg: number; stencil: Stencil }[] = [];
  const cells = grid.width * grid.height;
  const pointsOf = (stencil: Stencil, cell: number) => Array.from({ length: POINTS }, (_, p) => stencilCell(stencil, cell, p)).sort((a, b) => a - b).join(',');
  for (const deg of ringsDeg) {
    const stencil = buildStencil(grid, [deg]);
    let useful = false;
    for (let cell = 0; cell < cells && !useful; cell++) {
      const own = pointsOf(stencil, cell);
      if (own === Array(POINTS).fill(cell).join(',')) continue;
      useful = kept.every((k) => pointsOf(k.stencil, cell) !== own);
    }
    if (useful) kept.push({ deg, stencil });
  }
  return kept.map((k) => k.deg);
}

/** Grids smaller than this (degrees, in both directions) get no position features. */
export const POSITION_MIN_SPAN_DEG = 5;

/**
 * Whether latitude and longitude are worth features: over a box smaller than
 * POSITION_MIN_SPAN_DEG in both directions the cells share one climate regime, per-cell
 * normalisation already carries what position would say, and four inputs that are constant
 * over every window only give a small dataset more to overfit.
 */
export function positionVaries(grid: GridSpec): boolean {
  return (grid.height - 1) * grid.dLat >= POSITION_MIN_SPAN_DEG || (grid.width - 1) * grid.dLon >= POSITION_MIN_SPAN_DEG;
}

export function featureSpec(input: FeatureSpecOptions): FeatureSpec {
  const options = { ...input, heightM: input.heightM ?? null, otherHeightM: input.otherHeightM ?? null, variables: [...(input.variables ?? [])], position: input.position ?? true };
  const names = ['speed'];
  for (const r of options.ringsDeg) names.push(`ring${r}_mean`, `ring${r}_east_minus_west`, `ring${r}_north_minus_south`);
  names.push('solar_hour_sin', 'solar_hour_cos');
  if (options.dayOfYear) names.push('day_of_year_sin', 'day_of_year_cos');
  if (options.position) names.push('lat_sin', 'lat_cos', 'lon_sin', 'lon_cos');
  if (options.uv) names.push('u', 'v');
  if (options.otherHeightM !== null) names.push(`u${options.otherHeightM}`, `v${options.otherHeightM}`);
  return { ...options, ringsDeg: [...options.ringsDeg], poles: 'reflect', names, nFeatures: names.length };
}

/**
 * Per row, per ring point: the row it reads and the column shift. A column c reads column
 * c + shift, wrapped (global) or clamped (regional).
 */
export interface Stencil {
  grid: GridSpec;
  wraps: boolean;
  pointsPerRow: number;
  row: Int32Array;
  shift: Int32Array;
}

export function buildStencil(grid: GridSpec, ringsDeg: number[]): Stencil {
  const wraps = wrapsLongitude(grid);
  const pointsPerRow = ringsDeg.length * POINTS;
  const row = new Int32Array(grid.height * pointsPerRow);
  const shift = new Int32Array(grid.height * pointsPerRow);
  const half = Math.round(grid.width / 2);
  for (let r = 0; r < grid.height; r++) {
    for (let k = 0; k < ringsDeg.length; k++) {
      const dr = Math.max(1, Math.round(ringsDeg[k]! / grid.dLat));
      const dc = Math.max(1, Math.round(ringsDeg[k]! / grid.dLon));
      for (let d = 0; d < POINTS; d++) {
        const [east, north] = DIRS[d]!;
        let rr = r - north * dr;
        let s = east * dc;
        if (wraps && (rr < 0 || rr >= grid.height)) {
          // Over the pole: latitude 90+x is 90-x on the opposite meridian (same for the south).
          const poleRow = rr < 0 ? (grid.lat0 - 90) / grid.dLat : (grid.lat0 + 90) / grid.dLat;
          rr = Math.round(2 * poleRow - rr);
          s += half;
        }
        rr = Math.min(grid.height - 1, Math.max(0, rr));
        row[r * pointsPerRow + k * POINTS + d] = rr;
        shift[r * pointsPerRow + k * POINTS + d] = s;
      }
    }
  }
  return { grid, wraps, pointsPerRow, row, shift };
}

/** Flat cell index a stencil point of `cell` reads. */
export function stencilCell(stencil: Stencil, cell: number, point: number): number {
  const { width } = stencil.grid;
  const r = Math.floor(cell / width);
  const c = cell - r * width;
  const j = r * stencil.pointsPerRow + point;
  let cc = c + stencil.shift[j]!;
  if (stencil.wraps) cc = ((cc % width) + width) % width;
  else cc = cc < 0 ? 0 : cc >= width ? width - 1 : cc;
  return stencil.row[j]! * width + cc;
}

/** Everything gathering needs, built once per cube. */
export interface FeatureContext {
  cube: Cube;
  spec: FeatureSpec;
  stats: NormStats;
  stencil: Stencil;
  /** sin/cos of latitude per row, of longitude per column, and longitude in hours per column. */
  latSin: Float32Array;
  latCos: Float32Array;
  lonSin: Float32Array;
  lonCos: Float32Array;
  lonHours: Float32Array;
  /**
   * Per hour index, the solar-time sin, cos of every column (interleaved), made when a window first reads
   * the hour, not per window (48 million calls per global forecast). At most 2 / height of the cube.
   */
  solar: Array<Float32Array | undefined>;
  /**
   * Scratch: where the current sample's stencil points start in the layout. Int32 where the
   * offsets fit (faster reads), else Float64: a band past 2^31 values (90 global days), or on disk.
   */
  points: Float64Array | Int32Array;
  /**
   * Where values are read: value(cell, t) = speed[cell * cellStride + t * hourStride]. The
   * cube's own layout (hour-major) or a cell-major copy (see featureContext's cellMajor).
   */
  speed: Float32Array;
  u?: Float32Array;
  v?: Float32Array;
  /** u/v of the other height (spec.otherHeightM), same layout. */
  uOther?: Float32Array;
  vOther?: Float32Array;
  cellStride: number;
  hourStride: number;
  /**
   * A cube on disk (window-reader.ts): each window is read into the layout's arrays before it
   * is gathered, and stencilCells is its scratch of point cells. Absent: the layout is the cube.
   */
  reader?: WindowReader;
  stencilCells?: Int32Array;
}

/** Where a FeatureContext reads values: the cube itself or its cell-major copy. */
export type FeatureLayout = Pick<FeatureContext, 'speed' | 'u' | 'v' | 'uOther' | 'vOther' | 'cellStride' | 'hourStride'>;

/**
 * A context over a cube held cell-major (ingest/cell-cube.ts: training's one copy). Its `cube`
 * carries the grid and hours only: values are read through the layout.
 */
export function cellFeatureContext(cells: CellCube, spec: FeatureSpec, stats: NormStats): FeatureContext {
  const { layers } = cells;
  if (spec.uv && !(layers.includes('u') && layers.includes('v'))) throw new Error('the feature spec uses u/v but the cube has no u/v bands');
  if (spec.otherHeightM !== null && cells.otherHeightM !== spec.otherHeightM) throw new Error(`the feature spec uses u/v at ${spec.otherHeightM} m but the cube has ${cells.otherHeightM !== null ? `them at ${cells.otherHeightM} m` : 'none at a second height'}`);
  const other = spec.otherHeightM !== null;
  if (!cells.bands) {
    if (!cells.disk) throw new Error('a cell-major cube holds its values in memory or on disk');
    const pointsPerRow = spec.ringsDeg.length * POINTS;
    const reader = new WindowReader(cells.disk, spec.lookback, spec.horizon, pointsPerRow, { uv: spec.uv, other });
    const layout: FeatureLayout = {
      speed: reader.speed,
      ...(spec.uv ? { u: reader.u!, v: reader.v! } : {}),
      ...(other ? { uOther: reader.uOther!, vOther: reader.vOther! } : {}),
      cellStride: 0,
      hourStride: 1,
    };
    const cube: Cube = { grid: cells.grid, times: cells.times, speed: reader.speed, source: cells.source };
    return { ...featureContext(cube, spec, stats, { layout }), reader, points: new Float64Array(pointsPerRow), stencilCells: new Int32Array(pointsPerRow) };
  }
  const { bands } = cells;
  const layout: FeatureLayout = {
    speed: bands.speed,
    ...(spec.uv ? { u: bands.u!, v: bands.v! } : {}),
    ...(other ? { uOther: bands.uOther!, vOther: bands.vOther! } : {}),
    cellStride: cells.times.length,
    hourStride: 1,
  };
  const cube: Cube = { grid: cells.grid, times: cells.times, speed: bands.speed, source: cells.source };
  return featureContext(cube, spec, stats, { layout });
}

/** The base of window (t0, cell)'s centre: value(centre, t) = ctx.speed[base + t * ctx.hourStride] (reads it first from disk). */
export function centreBase(ctx: FeatureContext, t0: number, cell: number): number {
  return ctx.reader ? ctx.reader.load(t0, cell) : cell * ctx.cellStride;
}

/**
 * cellMajor: gather from a cell-major copy (tests, benches; training reads a CellCube). layout: a layout built before (another
 * thread's context over the same shared arrays), used as it is.
 */
export function featureContext(cube: Cube, spec: FeatureSpec, stats: NormStats, options: { cellMajor?: boolean; layout?: FeatureLayout } = {}): FeatureContext {
  const { grid } = cube;
  const other = spec.otherHeightM !== null ? cube.other : undefined;
  if (!options.layout) {
    // model/data-fit.ts refuses such data with a message for users; reaching here is a bug.
    if (spec.uv && (!cube.u || !cube.v)) throw new Error('the feature spec uses u/v but the cube has no u/v bands');
    if (spec.otherHeightM !== null && other?.heightM !== spec.otherHeightM) throw new Error(`the feature spec uses u/v at ${spec.otherHeightM} m but the cube has ${cube.other ? `them at ${cube.other.heightM} m` : 'none at a second height'}`);
  }
  if (stats.mean.length !== grid.width * grid.height) throw new Error(`normalisation statistics are for ${stats.mean.length} cells, the cube has ${grid.width * grid.height}`);
  const latSin = new Float32Array(grid.height);
  const latCos = new Float32Array(grid.height);
  for (let r = 0; r < grid.height; r++) {
    const a = (rowLat(grid, r) * Math.PI) / 180;
    latSin[r] = Math.sin(a);
    latCos[r] = Math.cos(a);
  }
  const lonSin = new Float32Array(grid.width);
  const lonCos = new Float32Array(grid.width);
  const lonHours = new Float32Array(grid.width);
  for (let c = 0; c < grid.width; c++) {
    const lon = colLon(grid, c);
    lonSin[c] = Math.sin((lon * Math.PI) / 180);
    lonCos[c] = Math.cos((lon * Math.PI) / 180);
    lonHours[c] = lon / 15;
  }
  const stencil = buildStencil(grid, spec.ringsDeg);
  const cells = grid.width * grid.height;
  const hours = cube.times.length;
  const layout: FeatureLayout = options.layout
    ? options.layout
    : options.cellMajor
    ? {
        speed: cellMajor(cube.speed, cells, hours),
        ...(spec.uv ? { u: cellMajor(cube.u!, cells, hours), v: cellMajor(cube.v!, cells, hours) } : {}),
        ...(other ? { uOther: cellMajor(other.u, cells, hours), vOther: cellMajor(other.v, cells, hours) } : {}),
        cellStride: hours,
        hourStride: 1,
      }
    : { speed: cube.speed, ...(spec.uv ? { u: cube.u!, v: cube.v! } : {}), ...(other ? { uOther: other.u, vOther: other.v } : {}), cellStride: 1, hourStride: cells };
  if (spec.otherHeightM !== null && (!layout.uOther || !layout.vOther)) throw new Error(`the feature layout has no u/v at ${spec.otherHeightM} m`);
  return { cube, spec, stats, stencil, latSin, latCos, lonSin, lonCos, lonHours, solar: new Array<Float32Array | undefined>(hours), points: layout.speed.length < 2 ** 31 ? new Int32Array(stencil.pointsPerRow) : new Float64Array(stencil.pointsPerRow), ...layout };
}

/** Hour t's solar-time sin and cos per column (FeatureContext.solar), made once. */
function solarHour(ctx: FeatureContext, t: number): Float32Array {
  const { lonHours } = ctx;
  const row = new Float32Array(2 * lonHours.length);
  const hours = ctx.cube.times[t]! / HOUR_MS;
  for (let c = 0; c < lonHours.length; c++) {
    const solar = (TWO_PI * (hours + lonHours[c]!)) / 24;
    row[2 * c] = Math.sin(solar);
    row[2 * c + 1] = Math.cos(solar);
  }
  ctx.solar[t] = row;
  return row;
}

const TWO_PI = 2 * Math.PI;

/** True when the centre cell's inputs and (if withTargets) targets are all valid numbers. */
export function windowValid(ctx: FeatureContext, t0: number, cell: number, withTargets: boolean): boolean {
  const { speed, hourStride } = ctx;
  const first = t0 - ctx.spec.lookback + 1;
  const last = withTargets ? t0 + ctx.spec.horizon : t0;
  const base = centreBase(ctx, t0, cell);
  for (let t = first; t <= last; t++) {
    const v = speed[base + t * hourStride]!;
    if (v !== v) return false;
  }
  return true;
}

/**
 * Write the features of window (t0, cell) into x at sample slot `slot` (x is [batch, lookback,
 * nFeatures], or with `timeMajorRows` [lookback, timeMajorRows, nFeatures], the fused LSTM's
 * layout: model/time-major.ts). Returns false, leaving zeros, when the centre cell has a NaN
 * input: callers give such samples zero weight (training) or NaN output (forecast). */
export function gatherWindow(ctx: FeatureContext, t0: number, cell: number, x: Float32Array, slot: number, timeMajorRows?: number): boolean {
  const { cube, spec, stats, stencil, points, speed, cellStride, hourStride, reader } = ctx;
  const { width } = cube.grid;
  const nF = spec.nFeatures;
  const L = spec.lookback;
  const nRings = spec.ringsDeg.length;
  const row = Math.floor(cell / width);
  const col = cell - row * width;
  const mean = stats.mean[cell]!;
  const inv = 1 / stats.std[cell]!;
  let centreBase: number;
  if (reader) {
    const around = ctx.stencilCells!;
    for (let p = 0; p < stencil.pointsPerRow; p++) around[p] = stencilCell(stencil, cell, p);
    // cellFeatureContext gives a context on disk Float64 points (the reader fills them).
    centreBase = reader.load(t0, cell, around, points as Float64Array);
  } else {
    for (let p = 0; p < stencil.pointsPerRow; p++) points[p] = stencilCell(stencil, cell, p) * cellStride;
    centreBase = cell * cellStride;
  }
  const latS = ctx.latSin[row]!;
  const latC = ctx.latCos[row]!;
  const lonS = ctx.lonSin[col]!;
  const lonC = ctx.lonCos[col]!;
  const u = ctx.u;
  const v = ctx.v;
  const uOther = ctx.uOther;
  const vOther = ctx.vOther;
  const otherUV = spec.otherHeightM !== null;
  let ok = true;
  for (let h = 0; h < L; h++) {
    let o = timeMajorRows === undefined ? (slot * L + h) * nF : (h * timeMajorRows + slot) * nF;
    const t = t0 - L + 1 + h;
    const base = t * hourStride;
    const centre = speed[centreBase + base]!;
    if (centre !== centre) ok = false;
    x[o++] = centre === centre ? (centre - mean) * inv : 0;
    for (let k = 0; k < nRings; k++) {
      // Directions: 0 E, 1 NE, 2 N, 3 NW, 4 W, 5 SW, 6 S, 7 SE.
      const pk = k * POINTS;
      const v0 = speed[base + points[pk]!]!;
      const v1 = speed[base + points[pk + 1]!]!;
      const v2 = speed[base + points[pk + 2]!]!;
      const v3 = speed[base + points[pk + 3]!]!;
      const v4 = speed[base + points[pk + 4]!]!;
      const v5 = speed[base + points[pk + 5]!]!;
      const v6 = speed[base + points[pk + 6]!]!;
      const v7 = speed[base + points[pk + 7]!]!;
      // All 8 valid (a NaN makes the sum NaN): the loop's sums in its order, from 0 as there (-0).
      const all = 0 + v0 + v1 + v2 + v3 + v4 + v5 + v6 + v7;
      if (all === all) {
        x[o++] = (all / POINTS - mean) * inv;
        x[o++] = ((0 + v0 + v1 + v7) / 3 - (0 + v3 + v4 + v5) / 3) * inv;
        x[o++] = ((0 + v1 + v2 + v3) / 3 - (0 + v5 + v6 + v7) / 3) * inv;
        continue;
      }
      let sum = 0;
      let n = 0;
      let east = 0;
      let nEast = 0;
      let west = 0;
      let nWest = 0;
      let north = 0;
      let nNorth = 0;
      let south = 0;
      let nSouth = 0;
      for (let d = 0; d < POINTS; d++) {
        const val = speed[base + points[pk + d]!]!;
        if (val !== val) continue;
        sum += val;
        n++;
        if (d === 7 || d === 0 || d === 1) { east += val; nEast++; }
        if (d >= 3 && d <= 5) { west += val; nWest++; }
        if (d >= 1 && d <= 3) { north += val; nNorth++; }
        if (d >= 5) { south += val; nSouth++; }
      }
      const ringMean = n > 0 ? sum / n : centre;
      x[o++] = ringMean === ringMean ? (ringMean - mean) * inv : 0;
      x[o++] = nEast > 0 && nWest > 0 ? (east / nEast - west / nWest) * inv : 0;
      x[o++] = nNorth > 0 && nSouth > 0 ? (north / nNorth - south / nSouth) * inv : 0;
    }
    const solar = ctx.solar[t] ?? solarHour(ctx, t);
    x[o++] = solar[2 * col]!;
    x[o++] = solar[2 * col + 1]!;
    if (spec.dayOfYear) {
      const hours = cube.times[t]! / HOUR_MS;
      const year = (TWO_PI * hours) / TROPICAL_YEAR_HOURS;
      x[o++] = Math.sin(year);
      x[o++] = Math.cos(year);
    }
    if (spec.position) {
      x[o++] = latS;
      x[o++] = latC;
      x[o++] = lonS;
      x[o++] = lonC;
    }
    if (spec.uv) {
      const uu = u![centreBase + base]!;
      const vv = v![centreBase + base]!;
      x[o++] = uu === uu ? uu * inv : 0;
      x[o++] = vv === vv ? vv * inv : 0;
    }
    if (otherUV) {
      // Divided by the target speed's deviation too: one scale for all wind of the cell.
      const uu = uOther![centreBase + base]!;
      const vv = vOther![centreBase + base]!;
      x[o++] = uu === uu ? uu * inv : 0;
      x[o++] = vv === vv ? vv * inv : 0;
    }
  }
  return ok;
}

/**
 * Write the normalised targets of window (t0, cell) into y at row `slot` (y is
 * [batch, horizon]). Returns false when a target or the last input is NaN.
 */
export function gatherTargets(ctx: FeatureContext, t0: number, cell: number, y: Float32Array, slot: number): boolean {
  const { spec, stats, speed, hourStride } = ctx;
  const H = spec.horizon;
  const inv = 1 / stats.std[cell]!;
  const base = centreBase(ctx, t0, cell);
  const ref = spec.predictDelta ? speed[base + t0 * hourStride]! : stats.mean[cell]!;
  let ok = ref === ref;
  for (let j = 0; j < H; j++) {
    const val = speed[base + (t0 + 1 + j) * hourStride]!;
    if (val !== val || !ok) {
      ok = false;
      y[slot * H + j] = 0;
    } else {
      y[slot * H + j] = (val - ref) * inv;
    }
  }
  return ok;
}

/** Turn normalised model outputs back into m/s for window (t0, cell). */
export function denormalize(ctx: FeatureContext, t0: number, cell: number, out: Float32Array, offset: number, perLead = 1): void {
  const { spec, stats, speed, hourStride } = ctx;
  const sd = stats.std[cell]!;
  const ref = spec.predictDelta ? speed[centreBase(ctx, t0, cell) + t0 * hourStride]! : stats.mean[cell]!;
  // perLead values per lead (quantiles): the same increasing map, so their order is kept.
  for (let j = 0; j < spec.horizon * perLead; j++) {
    // Wind speed is never negative: a model slightly below zero in calm air is clipped.
    const v = ref + sd * out[offset + j]!;
    out[offset + j] = v !== v ? NaN : v > 0 ? v : 0;
  }
}
