/**
 * The one checkpoint-versus-data check: can this checkpoint's model be used on this data?
 *
 * Every stage that puts a checkpoint to work asks here first, with what it needs on top:
 * - forecasting (predict, evaluate's forecaster): the grid and the u/v inputs the model was
 *   trained with;
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
import type { Cube } from '../ingest/cube.js';
import type { RasterHeader } from '../ingest/raster.js';
import type { CheckpointMeta } from './checkpoint-meta.js';

/** What the check needs to know of the data: a whole dataset, or one file of it. */
export interface DataFacts {
  /** Named in the messages: the data folder, or the file checked. */
  source: string;
  grid: GridSpec;
  /** The data has u and v bands. */
  uv: boolean;
  /** Of a whole dataset (a cube): what identifies it. */
  dataset?: { fingerprint: string; hours: number; firstHour: string };
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
export function cubeFacts(cube: Cube, source: string): DataFacts {
  return {
    source,
    grid: cube.grid,
    uv: Boolean(cube.u && cube.v),
    dataset: { fingerprint: cube.source.fingerprint, hours: cube.times.length, firstHour: isoHour(cube.times[0]!) },
  };
}

/** The facts of one file's header (predict checks the first input hour before decoding any). */
export function fileFacts(header: Pick<RasterHeader, 'path' | 'grid' | 'bandCount'>): DataFacts {
  return { source: header.path, grid: header.grid, uv: header.bandCount === 2 };
}

/**
 * Throw unless the checkpoint described by `meta` can be used on `data` as `options` asks.
 * Returns the differences accepted only because of `resume.force` (to be logged); else [].
 */
export function checkDataFits(meta: CheckpointMeta, data: DataFacts, options: DataFitOptions = {}): string[] {
  const diffs = gridDifferences(meta.grid, data.grid);
  if (diffs.length > 0) {
    throw new DataError(data.source, `grid differs from the one the model was trained on: ${diffs.join('; ')} (model vs this data)`);
  }
  if (meta.features.uv && !data.uv) throw new DataError(data.source, 'the model was trained with u/v inputs but this data has wind speed only');
  if (!options.sameData && !options.resume) return [];

  const dataset = data.dataset;
  if (!dataset) throw new Error(`checkDataFits: ${data.source} is one file; sameData and resume need the whole dataset`);
  const same = meta.data.fingerprint === dataset.fingerprint;
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
