/**
 * The one checkpoint-versus-data check: can this checkpoint's model be used on this data?
 *
 * Every stage that puts a checkpoint to work asks here first, with what it needs on top:
 * - forecasting (predict, evaluate's forecaster): the grid, and the wind the model was trained
 *   on: the speed at its height (100 m, 10 m, or unknown for unnamed GeoTIFF bands), u/v there
 *   when it took them, and the u/v of its other height when it took those;
 * - evaluate (`sameData`): also the very data it was trained on, since the test period is a
 *   range of those hours;
 * - resuming training (`resume`): enough hours for the stored split, the features per hour the
 *   model takes, and the same data unless forced (then the difference is returned to be told).
 * Wrong data is a DataError naming the data; a checkpoint that cannot go on is a CheckpointError
 * naming the checkpoint.
 */
import { CheckpointError, DataError } from '../core/errors.js';
import { gridDifferences, type GridSpec } from '../core/grid.js';
import { isoHour } from '../core/time.js';
import type { WindChoice } from '../ingest/band-plan.js';
import type { Cube } from '../ingest/cube.js';
import { cubeHasUV, cubeOtherHeight, type CellCube } from '../ingest/cell-cube.js';
import { cubeContentDigest } from '../ingest/cube-digest.js';
import type { GriddedDataset } from '../ingest/gridded.js';
import type { RasterHeader } from '../ingest/raster.js';
import type { CheckpointMeta } from './checkpoint-meta.js';

/** What the check needs to know of the data: a whole dataset, or one file of it. */
export interface DataFacts {
  /** Named in the messages: the data folder, or the file checked. */
  source: string;
  grid: GridSpec;
  /**
   * The heights the data has wind at, the one it reads as its speed by default first; uv: a u/v
   * pair there (else a speed only). A height of null: the data does not say (unnamed bands).
   */
  wind: WindAt[];
  /** The data is read already (a cube): its speed is wind[0]'s, no other height can be chosen. */
  read?: boolean;
  /**
   * Of a whole dataset (a cube): what identifies it. contentDigest (ingest/cube-digest.ts) is
   * asked only when the fingerprint differs: the same values under new file stamps (a copy).
   */
  dataset?: { fingerprint: string; hours: number; firstHour: string; contentDigest?: () => string };
}

export interface WindAt {
  heightM: number | null;
  uv: boolean;
}

export interface DataFitOptions {
  /** Only the checkpoint's own data will do (evaluate: its test period is a range of those hours). */
  sameData?: boolean;
  /** Resuming training from `checkpointDir` on this data. */
  resume?: {
    checkpointDir: string;
    /** Accept other data than the checkpoint's (--force): the difference is returned, not thrown. */
    force: boolean;
    /** Features per hour the data gives under the checkpoint's settings. */
    nFeatures: number;
  };
}

/** The facts of a cube, named by `source` (its folder, or a file of it) in messages. */
export function cubeFacts(cube: Cube | CellCube, source: string): DataFacts {
  const other = cubeOtherHeight(cube);
  return {
    source,
    grid: cube.grid,
    wind: [{ heightM: cube.heightM ?? null, uv: cubeHasUV(cube) }, ...(other !== null ? [{ heightM: other, uv: true }] : [])],
    read: true,
    dataset: { fingerprint: cube.source.fingerprint, hours: cube.times.length, firstHour: isoHour(cube.times[0]!), contentDigest: () => cubeContentDigest(cube) },
  };
}

/**
 * The facts of one file's header (predict checks the first input hour before decoding any).
 * Without `winds`, the bands of old: 1 = speed, 2 = u, v, of unknown height.
 */
export function fileFacts(header: Pick<RasterHeader, 'path' | 'grid' | 'bandCount'> & Partial<Pick<RasterHeader, 'winds'>>): DataFacts {
  const winds = header.winds ?? (header.bandCount === 1 ? [{ component: 'speed' as const, heightM: null }] : [{ component: 'u' as const, heightM: null }, { component: 'v' as const, heightM: null }]);
  const heights = [...new Set(winds.map((w) => w.heightM))];
  const wind = heights.map((h) => ({ heightM: h, uv: winds.some((w) => w.heightM === h && w.component === 'u') }));
  // The default target first, as bandPlan picks it (100 m when present).
  wind.sort((a, b) => Number(b.heightM === 100) - Number(a.heightM === 100) || (b.heightM ?? 0) - (a.heightM ?? 0));
  return { source: header.path, grid: header.grid, wind };
}

/** The facts of an opened gridded dataset: every height with wind, the dataset's speed height first. */
export function griddedFacts(dataset: Pick<GriddedDataset, 'input' | 'grid' | 'heights' | 'variables' | 'speed'>): DataFacts {
  const pairAt = (h: number) => ['u', 'v'].every((c) => dataset.variables.some((v) => v.wind?.component === c && v.wind.height === h));
  const heights = [dataset.speed.height, ...dataset.heights.filter((h) => h !== dataset.speed.height)];
  return { source: dataset.input, grid: dataset.grid, wind: heights.map((h) => ({ heightM: h, uv: pairAt(h) })) };
}

function describeWind(wind: WindAt[]): string {
  const known = wind.filter((w) => w.heightM !== null);
  if (known.length === 0) return 'wind of no stated height';
  return `wind at ${known.map((w) => `${w.heightM} m${w.uv ? '' : ' (speed only)'}`).join(' and ')}${known.length === 1 ? ' only' : ''}`;
}

/** The wind inputs the model takes, or a DataError naming the data and what it lacks. */
function checkWind(meta: CheckpointMeta, data: DataFacts): void {
  const spec = meta.features;
  const height = spec.heightM ?? null;
  const other = spec.otherHeightM ?? null;
  const target = height === null ? data.wind[0] : data.read ? (data.wind[0]!.heightM === height ? data.wind[0] : undefined) : data.wind.find((w) => w.heightM === height);
  if (data.read && height !== null && !target && data.wind[0]!.heightM !== null) {
    throw new DataError(data.source, `its wind speed was read at ${data.wind[0]!.heightM} m (ingest.targetHeight), but the model forecasts wind at ${height} m`);
  }
  if (!target) {
    const unnamed = data.wind.every((w) => w.heightM === null);
    throw new DataError(
      data.source,
      unnamed
        ? `the model forecasts wind at ${height} m, but this data does not say the height of its wind (name GeoTIFF bands u${height}, v${height} in their descriptions, or give the NetCDF)`
        : `the model forecasts wind at ${height} m, but this data has ${describeWind(data.wind)}`,
    );
  }
  if (spec.uv && !target.uv) {
    throw new DataError(data.source, `the model was trained with u/v inputs but this data has wind speed only${height === null ? '' : ` at ${height} m`}`);
  }
  if (other !== null && !data.wind.some((w) => w.heightM === other && w.uv)) {
    throw new DataError(data.source, `the model also takes u/v at ${other} m (u${other}, v${other}) as inputs, but this data has ${describeWind(data.wind)}`);
  }
}

/**
 * The same cells, whatever the file's own raster type or row order (a GDAL-made GeoTIFF of a
 * NetCDF is PixelIsArea where the NetCDF is points) and within a thousandth of a cell (GDAL
 * stores the geotransform of a float32 NetCDF axis: 52.5999984741 for 52.6).
 */
function sameCells(a: GridSpec, b: GridSpec): boolean {
  const tol = 1e-3;
  return a.width === b.width && a.height === b.height
    && Math.abs(a.lon0 - b.lon0) <= tol * a.dLon && Math.abs(a.lat0 - b.lat0) <= tol * a.dLat
    && Math.abs(a.dLon - b.dLon) * a.width <= tol * a.dLon && Math.abs(a.dLat - b.dLat) * a.height <= tol * a.dLat;
}

/**
 * Throw unless the checkpoint described by `meta` can be used on `data` as `options` asks.
 * Returns the differences accepted only because of `resume.force` (to be logged); else [].
 */
export function checkDataFits(meta: CheckpointMeta, data: DataFacts, options: DataFitOptions = {}): string[] {
  const diffs = sameCells(meta.grid, data.grid) ? [] : gridDifferences(meta.grid, data.grid);
  if (diffs.length > 0) {
    throw new DataError(data.source, `grid differs from the one the model was trained on: ${diffs.join('; ')} (model vs this data)`);
  }
  checkWind(meta, data);
  if (!options.sameData && !options.resume) return [];

  const dataset = data.dataset;
  if (!dataset) throw new Error(`checkDataFits: ${data.source} is one file; sameData and resume need the whole dataset`);
  // The fingerprint holds the files' mtimes; a copy of the same files changes them, so the
  // values' digest (when the checkpoint has one) decides then.
  const same = meta.data.fingerprint === dataset.fingerprint
    || (meta.data.contentDigest !== undefined && dataset.contentDigest !== undefined && meta.data.contentDigest === dataset.contentDigest());
  if (options.sameData) {
    if (!same || meta.split.hours !== dataset.hours) {
      throw new DataError(
        data.source,
        `is not the data the checkpoint was trained on (fingerprint ${dataset.fingerprint.slice(0, 12)}, ${dataset.hours} hours; ` +
          `the checkpoint's: ${meta.data.fingerprint.slice(0, 12)}, ${meta.split.hours} hours from ${meta.data.dir}). ` +
          `The test period is a range of those hours, so evaluate needs the same files`,
      );
    }
    if (dataset.firstHour !== meta.data.firstHour) {
      throw new DataError(data.source, `starts at ${dataset.firstHour}, the checkpoint's data at ${meta.data.firstHour}`);
    }
  }

  const accepted: string[] = [];
  const resume = options.resume;
  if (resume) {
    if (!same) {
      const difference =
        `${resume.checkpointDir}: was trained on different data (fingerprint ${meta.data.fingerprint.slice(0, 12)}, ${meta.data.hours} hours from ${meta.data.dir}) ` +
        `than ${data.source} (fingerprint ${dataset.fingerprint.slice(0, 12)}, ${dataset.hours} hours)`;
      if (!resume.force) throw new CheckpointError(`${difference}; pass --force to resume anyway`);
      accepted.push(difference);
    }
    if (meta.split.hours > dataset.hours) throw new DataError(data.source, `has ${dataset.hours} hours, the checkpoint's split needs ${meta.split.hours}`);
    if (meta.model.nFeatures !== resume.nFeatures) {
      throw new CheckpointError(`${resume.checkpointDir}: the checkpoint's model takes ${meta.model.nFeatures} features per hour, this data gives ${resume.nFeatures}`);
    }
  }
  return accepted;
}

/**
 * The wind a checkpoint was trained on, as a choice for reading data (evaluate, resuming):
 * its target height and variables, so the cube is the one it saw, whatever the config says.
 */
export function checkpointWind(meta: Pick<CheckpointMeta, 'features'>): WindChoice {
  const { heightM, variables } = meta.features;
  return { targetHeight: heightM ?? 'auto', variables: variables && variables.length > 0 ? variables : null };
}
