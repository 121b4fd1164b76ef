/**
 * Sharded grid forecasts: what `predict --shard I/N` writes for its rows, and how `windcast
 * merge` assembles the shards into the files an unsharded predict writes.
 *
 * A shard folder (OUT/shard-I-of-N/) holds shard.json and, per product (wind speed, its
 * quantiles, a capacity factor), one raw file of its rows: for each lead, for each band, the
 * rows r0..r1-1 of the field as little-endian Float32, row-major. Raw values, not GeoTIFF
 * strips: the merge must write exactly the values the forecast made, and a raw copy has no
 * nodata substitution or decoding in between. shard.json says which rows, the products (their
 * tags), the write settings and the forecast's tags, and an identity (checkpoint, inputs, issue
 * time, grid, settings) every shard of one run must share.
 *
 * Merge fills each product's fields from the shards' rows, then writes them through the one
 * lead-file writer (forecast-files.ts) with the tags the shards recorded, so the GeoTIFFs are
 * those of an unsharded run byte for byte; the nodata value is the input's, else NaN when any
 * shard had a nodata cell (an unsharded run decides it on the whole grid), else none. The PNG
 * maps (drawn on one colour scale over all cells) are drawn by merge from the merged fields.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFolderAtomicSync } from '../core/atomic.js';
import { DataError } from '../core/errors.js';
import { cellCount, type GridSpec } from '../core/grid.js';
import type { ProgressTask } from '../core/progress.js';
import { MANIFEST_FILE, manifestJson, shardFolderName, type Shard, type ShardManifest, type ShardSet } from '../core/shard.js';
import { commitStaging, discardStaging, leadGeoTiffTasks, openStaging, writeForecastPictures, writeGeoTiffs, type ForecastProduct, type ForecastTags } from './forecast-files.js';

/** One product of a forecast: per lead one field, or per lead one field per band. */
export interface ShardProduct {
  /** File in the shard folder, e.g. windspeed.f32. */
  name: string;
  /** The product's tags (absent: the wind speed). */
  product?: ForecastProduct;
  leads: Float32Array[] | Float32Array[][];
}

export interface ForecastShardWrite {
  grid: GridSpec;
  /** The input's nodata value (GeoTIFF input), else null. */
  inputNodata: number | null;
  compress: 'none' | 'deflate';
  multiband: boolean;
  png: boolean;
  tags: ForecastTags;
}

export interface ForecastShardManifest extends ShardManifest {
  command: 'predict';
  write: ForecastShardWrite;
  /** Whether any forecast cell of the shard's rows is nodata. */
  anyNodata: boolean;
  cellsForecast: number;
  products: { name: string; product?: ForecastProduct; bands: number }[];
}

function bandsOf(leads: Float32Array[] | Float32Array[][]): Float32Array[][] {
  return leads.map((l) => (Array.isArray(l) ? l : [l]));
}

/** Write shard `shard`'s rows [r0, r1) of every product into OUT/shard-I-of-N/; returns the folder. */
export function writeForecastShard(o: {
  out: string;
  shard: Shard;
  rows: [number, number];
  identity: Record<string, unknown>;
  write: ForecastShardWrite;
  cellsForecast: number;
  products: ShardProduct[];
}): string {
  const { grid } = o.write;
  const w = grid.width;
  const [r0, r1] = o.rows;
  const files: Record<string, Uint8Array> = {};
  let anyNodata = false;
  for (const p of o.products) {
    const bands = bandsOf(p.leads);
    const parts = bands.flatMap((lead) => lead.map((field) => field.subarray(r0 * w, r1 * w)));
    if (p.product === undefined) anyNodata = parts.some((part) => part.some((v) => v !== v));
    const bytes = new Uint8Array(parts.reduce((n, part) => n + part.byteLength, 0));
    let at = 0;
    for (const part of parts) {
      bytes.set(new Uint8Array(part.buffer, part.byteOffset, part.byteLength), at);
      at += part.byteLength;
    }
    files[p.name] = bytes;
  }
  const manifest: ForecastShardManifest = {
    format: 'windcast-shard',
    formatVersion: 1,
    command: 'predict',
    shard: o.shard,
    part: [r0, r1],
    total: grid.height,
    identity: o.identity,
    createdAt: new Date().toISOString(),
    write: o.write,
    anyNodata,
    cellsForecast: o.cellsForecast,
    products: o.products.map((p) => ({ name: p.name, ...(p.product ? { product: p.product } : {}), bands: bandsOf(p.leads)[0]!.length })),
  };
  const dir = join(o.out, shardFolderName(o.shard));
  writeFolderAtomicSync(dir, { ...files, [MANIFEST_FILE]: manifestJson(manifest) });
  return dir;
}

export interface MergedForecast {
  /** The merged wind speed, one field per lead. */
  leads: Float32Array[];
  /** Final paths of every file written. */
  files: string[];
  /** Per product file prefix, the final paths of its GeoTIFFs. */
  products: Record<string, string[]>;
  png?: string;
  cellsForecast: number;
  write: ForecastShardWrite;
}

/** Assemble a complete, checked set of predict shards (core/shard.ts readShardSet) into `out`. */
export async function mergeForecastShards(set: ShardSet, out: string, progress: { start(o: { unit: string; total: number; label: string }): ProgressTask }): Promise<MergedForecast> {
  const manifests = set.shards.map((s) => s.manifest as ForecastShardManifest);
  const first = manifests[0]!;
  const { grid, tags } = first.write;
  const n = cellCount(grid);
  const w = grid.width;
  const horizon = tags.validTimes.length;
  // Each product's full fields, filled shard by shard from its rows (in shared memory, where
  // the GeoTIFF writer threads read them without a copy).
  const merged = first.products.map((p) => ({ ...p, fields: Array.from({ length: horizon }, () => Array.from({ length: p.bands }, () => new Float32Array(new SharedArrayBuffer(n * 4)).fill(NaN))) }));
  set.shards.forEach(({ dir }, i) => {
    const m = manifests[i]!;
    const [r0, r1] = m.part;
    for (const p of merged) {
      const path = join(dir, p.name);
      const expected = horizon * p.bands * (r1 - r0) * w * 4;
      let size: number;
      try {
        size = statSync(path).size;
      } catch {
        throw new DataError(path, `missing: ${MANIFEST_FILE} lists it`);
      }
      if (size !== expected) throw new DataError(path, `holds ${size} bytes, expected ${expected} (${horizon} leads x ${p.bands} bands x ${r1 - r0} rows x ${w} columns of Float32)`);
      const bytes = readFileSync(path);
      const values = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      const rowCells = (r1 - r0) * w;
      let k = 0;
      for (let j = 0; j < horizon; j++) for (let b = 0; b < p.bands; b++) p.fields[j]![b]!.set(values.subarray(k * rowCells, ++k * rowCells), r0 * w);
    }
  });
  const anyNodata = manifests.some((m) => m.anyNodata);
  const nodata = first.write.inputNodata !== null ? first.write.inputNodata : anyNodata ? NaN : null;
  const staging = openStaging(out);
  try {
    const common = { staging, out, grid, nodata, compress: first.write.compress, multiband: first.write.multiband, tags };
    const tasks = [];
    const products: Record<string, string[]> = {};
    let speed: Float32Array[] | undefined;
    for (const p of merged) {
      const leads = p.bands === 1 && !p.product?.bandLabels ? p.fields.map((bands) => bands[0]!) : p.fields;
      if (!p.product) speed = leads as Float32Array[];
      const made = leadGeoTiffTasks({ ...common, leads, ...(p.product ? { product: p.product } : {}) });
      tasks.push(...made.tasks);
      products[p.product?.prefix ?? 'windspeed'] = made.files;
    }
    if (!speed) throw new DataError(set.shards[0]!.dir, 'holds no wind speed product');
    const task = progress.start({ unit: 'files', total: tasks.length, label: 'writing merged GeoTIFFs' });
    const writing = writeGeoTiffs(tasks, task);
    let png: string | undefined;
    try {
      if (first.write.png) png = await writeForecastPictures({ dir: staging, issueMs: tags.issueMs, run: tags.run, grid, leads: speed, validTimes: tags.validTimes });
    } finally {
      await writing.catch(() => {});
    }
    await writing;
    task.done();
    const files = commitStaging(staging, out);
    return { leads: speed, files, products, ...(png ? { png: join(out, png) } : {}), cellsForecast: manifests.reduce((s, m) => s + m.cellsForecast, 0), write: first.write };
  } finally {
    discardStaging(staging);
  }
}
