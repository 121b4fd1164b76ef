/**
 * The files of one forecast: their names, the staging folder they are written into and its
 * commit into the output folder, the GeoTIFFs' tags, the GeoTIFF writes themselves (strips
 * encoded on writer threads by strip-encoder.ts, during the forecast when predict streams its
 * rows there), and the PNG maps (maps.ts).
 * Every per-lead product (wind speed, its quantiles, a capacity factor) is written by the one
 * leadGeoTiffTasks, told what it holds by a ForecastProduct: file prefix, quantity, units,
 * band labels.
 *
 * Safety: files are written into a staging folder inside --out (same file system, so the final
 * renames are atomic) and renamed into place at the end, each rename replacing an older file
 * of that name. A failed run leaves an earlier forecast in --out as it was; a reader never sees
 * a half-written file. A run killed outright (kill -9) leaves its staging folder behind: its
 * name carries the process id (core/atomic.ts), and the next run removes the folders of
 * processes that no longer run, never those of a live one.
 */
import { mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { removeStaleTemporaries, temporarySibling, writeFileSynced } from '../core/atomic.js';
import { DataError, describeError } from '../core/errors.js';
import type { GridSpec } from '../core/grid.js';
import type { ProgressTask } from '../core/progress.js';
import { HOUR_MS, isoHour } from '../core/time.js';
import { StripEncoder, type EncodeTask, type StripOptions } from './strip-encoder.js';
import type { GeoTiffWriteOptions } from './geotiff-write.js';
import { forecastPictures } from './maps.js';

/**
 * How every forecast GeoTIFF is encoded (predict's streamed strips, its files and merge's):
 * DEFLATE with the floating-point predictor and zlib's run-only match search ('rle',
 * geotiff-write.ts). The forecast's low mantissa bytes are noise to DEFLATE; measured on a
 * trained global model's forecast (BENCHMARKS.md, "forecast GeoTIFFs, DEFLATE"), runs-only
 * halves the encoding CPU for files 2 % larger, with the same values. One function, so the
 * streamed strips and the files' own encodings agree (strip-encoder.ts reuses a strip only
 * for the same encoding).
 */
export function forecastStripOptions(grid: GridSpec, nodata: number | null, compress: 'none' | 'deflate'): StripOptions {
  return { grid, nodata, compress, deflateStrategy: 'rle' };
}

/** Two-digit lead for names: f01..f24 (three digits beyond 99 hours). */
function leadTag(lead: number, horizon: number): string {
  return `f${String(lead).padStart(horizon > 99 ? 3 : 2, '0')}`;
}

/** What a forecast GeoTIFF holds: the wind speed (the default), its quantiles, or a capacity factor. */
export interface ForecastProduct {
  /** File name prefix: windspeed, windspeed-quantiles, capacity-factor. */
  prefix: string;
  /** The quantity, for band descriptions: "wind speed", "capacity factor of nrel-5mw at 100 m". */
  quantity: string;
  units: string;
  /** Per lead, one band per label ("q0.05", ...) put before the quantity; default one unlabelled band. */
  bandLabels?: string[];
  /** Per label, band metadata items (e.g. { QUANTILE: '0.05' }). */
  labelMetadata?: Array<Record<string, string>>;
  /** Dataset metadata beside the forecast's (turbine, hub height, ...). */
  metadata?: Record<string, string>;
}

export const WIND_SPEED: ForecastProduct = { prefix: 'windspeed', quantity: 'wind speed', units: 'm/s' };

/** windspeed_<valid time>_f<lead>.tif, e.g. windspeed_2024-01-31T01Z_f01.tif (other products: their prefix). */
export function leadFileName(issueMs: number, lead: number, horizon: number, prefix = WIND_SPEED.prefix): string {
  return `${prefix}_${isoHour(issueMs + lead * HOUR_MS)}_${leadTag(lead, horizon)}.tif`;
}

/** windspeed_<issue time>_f01-f24.tif: all leads as bands of one file. */
export function multibandFileName(issueMs: number, horizon: number, prefix = WIND_SPEED.prefix): string {
  return `${prefix}_${isoHour(issueMs)}_${leadTag(1, horizon)}-${leadTag(horizon, horizon)}.tif`;
}

/** windspeed_<issue time>_leads.png: the contact sheet of all leads. */
export function contactSheetFileName(issueMs: number): string {
  return `windspeed_${isoHour(issueMs)}_leads.png`;
}

/** sites_<issue time>: the stem of the sites' CSV and JSON. */
export function sitesFileStem(issueMs: number): string {
  return `sites_${isoHour(issueMs)}`;
}

/** Staging folders of windcast versions before core/atomic.ts named them: .windcast-predict-PID-HEX. */
const FORMER_STAGING = /^\.windcast-predict-(?<pid>\d+)-[0-9a-f]{8}$/;

/**
 * Remove what killed runs left in `out`: staging folders (and temporaries) of processes that no
 * longer run. Returns the names removed.
 */
export function removeStaleStaging(out: string): string[] {
  return removeStaleTemporaries(out, [FORMER_STAGING]);
}

/** A fresh staging folder inside out, after removing those of killed runs. */
export function openStaging(out: string): string {
  try {
    mkdirSync(out, { recursive: true });
  } catch (err) {
    throw new DataError(out, `cannot create the output folder (${describeError(err)})`, { cause: err });
  }
  if (!statSync(out).isDirectory()) throw new DataError(out, 'not a folder');
  removeStaleStaging(out);
  const dir = temporarySibling(join(out, 'windcast-predict'));
  try {
    mkdirSync(dir);
  } catch (err) {
    throw new DataError(out, `cannot write in the output folder (${describeError(err)})`, { cause: err });
  }
  return dir;
}

/** Move every staged file into out (each rename atomic, replacing an older file of that name). */
export function commitStaging(staging: string, out: string): string[] {
  const names = readdirSync(staging).filter((n) => !n.startsWith('.'));
  const final: string[] = [];
  for (const name of names.sort()) {
    const target = join(out, name);
    renameSync(join(staging, name), target);
    final.push(target);
  }
  return final;
}

/** Remove a staging folder (after its commit, or after a failure). */
export function discardStaging(staging: string): void {
  rmSync(staging, { recursive: true, force: true });
}

/** What the tags of a forecast's GeoTIFFs say about it. */
export interface ForecastTags {
  issueMs: number;
  run: string;
  /** The checkpoint as the tags name it: run, kind and epoch, never a local path. */
  model: string;
  /** First and last input hour, ISO. */
  inputs: { first: string; last: string };
  /** Valid time of each lead, ISO. */
  validTimes: string[];
}

/** The MODEL tag: which checkpoint made the forecast, without the machine's folders in it. */
export function modelTag(meta: { run: string; kind: string; epoch: number }): string {
  return `${meta.run}/${meta.kind} (epoch ${meta.epoch})`;
}

export interface LeadGeoTiffs {
  staging: string;
  /** Final folder, for the paths reported per lead. */
  out: string;
  grid: GridSpec;
  /**
   * One field per lead (product.bandLabels absent), or per lead one field per label. The tasks
   * hold the fields themselves (no copies): they must not change until the files are written.
   */
  leads: Float32Array[] | Float32Array[][];
  nodata: number | null;
  compress: 'none' | 'deflate';
  /** All leads as bands of one file (lead-major: lead 1's bands first) instead of one file per lead. */
  multiband: boolean;
  tags: ForecastTags;
  /** What the files hold; default the wind speed. */
  product?: ForecastProduct;
}

/** The writes for a forecast's GeoTIFFs: one per lead, or one multi-band file. */
export function leadGeoTiffTasks(f: LeadGeoTiffs): { tasks: EncodeTask[]; files: string[] } {
  const { tags } = f;
  const product = f.product ?? WIND_SPEED;
  const labels = product.bandLabels ?? [''];
  const leads = f.leads.map((l) => (Array.isArray(l) ? l : [l]));
  if (leads.some((bands) => bands.length !== labels.length)) throw new Error(`${product.prefix}: every lead needs ${labels.length} bands`);
  const horizon = leads.length;
  const issue = isoHour(tags.issueMs);
  const common = {
    ISSUE_TIME: issue,
    RUN_ID: tags.run,
    MODEL: tags.model,
    UNITS: product.units,
    INPUT_HOURS: `${tags.inputs.first}..${tags.inputs.last}`,
    SOFTWARE: 'windcast',
    ...product.metadata,
  };
  const bandMeta = (j: number, b: number) => ({ units: product.units, LEAD_HOURS: String(j + 1), VALID_TIME: tags.validTimes[j]!, ISSUE_TIME: issue, ...product.labelMetadata?.[b] });
  const description = (j: number, b: number) => `${labels[b] ? `${labels[b]} ` : ''}${product.quantity} +${j + 1} h, valid ${tags.validTimes[j]}`;
  const perLead = <T>(make: (j: number, b: number) => T, j: number) => labels.map((_, b) => make(j, b));
  const base = forecastStripOptions(f.grid, f.nodata, f.compress) satisfies Partial<GeoTiffWriteOptions>;
  if (f.multiband) {
    const name = multibandFileName(tags.issueMs, horizon, product.prefix);
    return {
      tasks: [{
        path: join(f.staging, name),
        options: {
          ...base,
          bands: leads.flat(),
          metadata: { ...common, LEAD_HOURS: `1..${horizon}`, VALID_TIME: `${tags.validTimes[0]}..${tags.validTimes[horizon - 1]}` },
          bandMetadata: leads.flatMap((_, j) => perLead(bandMeta, j)),
          bandDescriptions: leads.flatMap((_, j) => perLead(description, j)),
        },
      }],
      files: [join(f.out, name)],
    };
  }
  const names = leads.map((_, j) => leadFileName(tags.issueMs, j + 1, horizon, product.prefix));
  return {
    tasks: leads.map((bands, j) => ({
      path: join(f.staging, names[j]!),
      options: {
        ...base,
        bands,
        metadata: { ...common, LEAD_HOURS: String(j + 1), VALID_TIME: tags.validTimes[j]! },
        bandMetadata: perLead(bandMeta, j),
        bandDescriptions: perLead(description, j),
      },
    })),
    files: names.map((n) => join(f.out, n)),
  };
}

/**
 * Write GeoTIFFs, their strips encoded on writer threads (one per core); resolves when all are
 * on disk. With `encoder` (which the caller closes), strips it already encoded are used.
 */
export async function writeGeoTiffs(tasks: EncodeTask[], progress: ProgressTask, encoder?: StripEncoder): Promise<void> {
  if (tasks.length === 0) return;
  const using = encoder ?? StripEncoder.open();
  try {
    await using.write(tasks, () => progress.tick(1));
  } finally {
    if (!encoder) await using.close();
  }
}

export interface ForecastPictureFiles {
  dir: string;
  issueMs: number;
  run: string;
  grid: GridSpec;
  leads: Float32Array[];
  validTimes: string[];
}

/**
 * The forecast's pictures into dir: the contact sheet of every lead and one map per lead
 * (windspeed_<valid>_fNN.png, beside its GeoTIFF's name), all on one colour scale. Returns the
 * contact sheet's file name.
 */
export async function writeForecastPictures(c: ForecastPictureFiles): Promise<string> {
  const horizon = c.leads.length;
  const sheetName = contactSheetFileName(c.issueMs);
  const pictures = await forecastPictures({
    grid: c.grid,
    leads: c.leads,
    validTimes: c.validTimes,
    issueTime: isoHour(c.issueMs),
    run: c.run,
    sheetName,
    leadNames: c.leads.map((_, j) => leadFileName(c.issueMs, j + 1, horizon).replace(/\.tif$/, '.png')),
  });
  for (const picture of pictures) writeFileSynced(join(c.dir, picture.name), picture.png);
  return sheetName;
}
