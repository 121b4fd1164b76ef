/**
 * `windcast predict`: a 24-hour forecast from a trained checkpoint.
 *
 * Reads only the lookback hours ending at the issue time (default: the latest hour in the
 * folder), checks they are consecutive and on the model's grid, and then either
 *  - forecasts every cell in batches of predict.batchCells and writes one Float32 GeoTIFF per
 *    lead (or one multi-band file) on the input's exact grid, plus optional PNG maps (a
 *    contact sheet and one map per lead), or
 *  - with --points / --points-file, forecasts only the cells around the given sites and
 *    writes a table, CSV and JSON (no grids).
 *
 * Safety: every check that can fail on bad input runs before anything is written. Outputs are
 * written into a temporary folder inside --out and renamed into place at the end, so a failed
 * run leaves an earlier forecast in --out as it was, and a reader never sees a half-written
 * file. The model and every tensor are disposed in `finally`.
 *
 * Speed (the global grid is 1,038,240 cells): the input hours are decoded on worker threads
 * while native TensorFlow and the checkpoint load; features are gathered on a second thread
 * one batch ahead of the model (gather-worker.ts), and the 24 GeoTIFFs are compressed on a
 * pool of writer threads while the PNG is drawn. What is left on the critical path is the
 * model itself; bench/predict.ts measures each part.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { loadBackend, type BackendInfo, type Tf } from '../runtime/backend.js';
import { inputTensor } from '../prepare/batches.js';
import { isGlob, listCatalog, type Catalog, type CatalogEntry } from '../ingest/catalog.js';
import { loadCheckpoint, readMeta, resolveCheckpointDir, type CheckpointMeta, type LoadedCheckpoint } from '../model/checkpoint.js';
import type { CommandContext } from './context.js';
import { buildCube, type Cube } from '../ingest/cube.js';
import { DataError, WindcastError, describeError } from '../core/errors.js';
import { denormalize, featureContext, type FeatureSpec } from '../prepare/features.js';
import type { GatherInit, GatherRequest } from '../forecast/gather.worker.js';
import type { GeoTiffWriteOptions } from '../output/geotiff-write.js';
import { cellCount, describeGrid, gridDifferences, type GridSpec } from '../core/grid.js';
import { forecastPictures } from '../output/maps.js';
import { collectSites, planSite, sampleSite, type Interpolation, type Site, type SitePlan } from '../output/points.js';
import type { EncodeReply, EncodeTask } from '../output/encode.worker.js';
import { readRasterHeader } from '../ingest/raster.js';
import { HOUR_MS, isoHour, parseIsoHour } from '../core/time.js';

export interface PredictArgs {
  /** Checkpoint folder, or a run folder (best/ is used, else last/). */
  model: string;
  /** Folder (or glob) of hourly GeoTIFFs. */
  data: string;
  /** Output folder (created if missing). */
  out: string;
  /** Issue time, an ISO hour; default the latest hour in the data. */
  at?: string;
  /** --points values: "LAT,LON" or "NAME=LAT,LON". */
  points?: string[];
  /** --points-file CSV. */
  pointsFile?: string;
}

export interface LeadSummary {
  lead: number;
  validTime: string;
  /** Output file (single-band mode). */
  file?: string;
  /** m/s over cells with data. */
  min: number;
  mean: number;
  max: number;
  nodataCells: number;
}

export interface SiteForecast {
  name: string;
  lat: number;
  lon: number;
  /** Centre of the nearest grid cell. */
  cellLat: number;
  cellLon: number;
  /** m/s per lead, +1..+horizon (null where the inputs had nodata). */
  speeds: (number | null)[];
}

export interface PredictResult {
  checkpoint: string;
  run: string;
  backend: string;
  issueTime: string;
  lookbackHours: number;
  horizonHours: number;
  inputs: { first: string; last: string; files: string[] };
  grid: string;
  mode: 'grid' | 'points';
  out: string;
  /** Every file written, final paths. */
  files: string[];
  leads: LeadSummary[];
  multiband?: string;
  png?: string;
  interpolation?: Interpolation;
  sites?: SiteForecast[];
  csv?: string;
  json?: string;
  cellsForecast: number;
  /** Wall seconds; `read` covers decoding the inputs and, in parallel, `load` (backend + checkpoint). */
  seconds: { read: number; load: number; forecast: number; write: number; total: number };
  /** Peak resident memory of the process so far, MiB. */
  peakRssMiB: number;
}

// ---------------------------------------------------------------------------------------



/** Two-digit lead for names: f01..f24 (three digits beyond 99 hours). */
function leadTag(lead: number, horizon: number): string {
  return `f${String(lead).padStart(horizon > 99 ? 3 : 2, '0')}`;
}

/** windspeed_<valid time>_f<lead>.tif, e.g. windspeed_2024-01-31T01Z_f01.tif. */
export function leadFileName(issueMs: number, lead: number, horizon: number): string {
  return `windspeed_${isoHour(issueMs + lead * HOUR_MS)}_${leadTag(lead, horizon)}.tif`;
}

/** windspeed_<issue time>_f01-f24.tif: all leads as bands of one file. */
export function multibandFileName(issueMs: number, horizon: number): string {
  return `windspeed_${isoHour(issueMs)}_${leadTag(1, horizon)}-${leadTag(horizon, horizon)}.tif`;
}

/**
 * The lookback files ending at the issue hour, or a DataError naming the folder and exactly
 * which hours are missing or doubled.
 */
export function selectInputHours(catalog: Catalog, lookback: number, issueMs: number | undefined): { issueMs: number; entries: CatalogEntry[] } {
  const all = catalog.entries;
  if (all.length === 0) throw new DataError(catalog.input, 'no hourly GeoTIFFs found');
  const latest = all[all.length - 1]!.time;
  const issue = issueMs ?? latest;
  const first = issue - (lookback - 1) * HOUR_MS;
  const byTime = new Map<number, CatalogEntry[]>();
  for (const e of all) {
    if (e.time < first || e.time > issue) continue;
    const list = byTime.get(e.time);
    if (list) list.push(e);
    else byTime.set(e.time, [e]);
  }
  const need = `a forecast issued at ${isoHour(issue)} needs the ${lookback} hours ${isoHour(first)}..${isoHour(issue)}`;
  if (issueMs !== undefined && issue > latest) {
    throw new DataError(catalog.input, `no file for ${isoHour(issue)}: the latest hour here is ${isoHour(latest)} (${need})`);
  }
  const missing: number[] = [];
  const doubled: string[] = [];
  const entries: CatalogEntry[] = [];
  for (let t = first; t <= issue; t += HOUR_MS) {
    const list = byTime.get(t);
    if (!list) missing.push(t);
    else if (list.length > 1) doubled.push(`${isoHour(t)} in ${list.map((e) => basename(e.path)).join(' and ')}`);
    else entries.push(list[0]!);
  }
  if (missing.length > 0) {
    const runs: string[] = [];
    for (let i = 0; i < missing.length; ) {
      let j = i;
      while (j + 1 < missing.length && missing[j + 1]! - missing[j]! === HOUR_MS) j++;
      runs.push(i === j ? isoHour(missing[i]!) : `${isoHour(missing[i]!)}..${isoHour(missing[j]!)} (${j - i + 1} h)`);
      i = j + 1;
    }
    throw new DataError(catalog.input, `${missing.length} missing hour${missing.length === 1 ? '' : 's'}: ${runs.slice(0, 6).join(', ')}${runs.length > 6 ? ', ...' : ''}; ${need}`);
  }
  if (doubled.length > 0) throw new DataError(catalog.input, `duplicate hours: ${doubled.slice(0, 4).join(', ')}; ${need}`);
  return { issueMs: issue, entries };
}

// ---------------------------------------------------------------------------------------

/** Write GeoTIFFs on a pool of encoder threads; resolves when all are on disk. */
async function writeGeoTiffs(tasks: Array<{ path: string; options: GeoTiffWriteOptions }>, threads: number, onDone: () => void): Promise<void> {
  if (tasks.length === 0) return;
  const n = Math.max(1, Math.min(threads, tasks.length));
  let next = 0;
  const workers: Worker[] = [];
  try {
    await Promise.all(
      Array.from({ length: n }, () =>
        new Promise<void>((resolveWorker, reject) => {
          const worker = new Worker(new URL('../output/encode.worker.js', import.meta.url));
          workers.push(worker);
          let current: number | undefined;
          const feed = () => {
            if (next >= tasks.length) {
              current = undefined;
              void worker.terminate().then(() => resolveWorker());
              return;
            }
            current = next++;
            const t = tasks[current]!;
            // Transfer the band buffers: each task owns its copies, so nothing is cloned twice.
            const transfer = t.options.bands.map((b) => b.buffer as ArrayBuffer);
            worker.postMessage({ id: current, path: t.path, options: t.options } satisfies EncodeTask, transfer);
          };
          worker.on('message', (reply: EncodeReply) => {
            if (reply.error) {
              current = undefined;
              reject(reply.error.kind === 'data' ? new DataError(undefined, reply.error.message) : new WindcastError('internal', reply.error.message));
              return;
            }
            onDone();
            feed();
          });
          worker.on('error', (err) => reject(new WindcastError('internal', `${current !== undefined ? tasks[current]!.path : 'GeoTIFF writer'}: writer thread failed: ${describeError(err)}`, { cause: err })));
          worker.on('exit', (code) => {
            if (current !== undefined && code !== 0) reject(new WindcastError('internal', `${tasks[current]!.path}: writer thread exited with code ${code}`));
          });
          feed();
        }),
      ),
    );
  } finally {
    for (const w of workers) void w.terminate();
  }
}

/** A fresh staging folder inside out (same file system, so the final renames are atomic). */
function makeStaging(out: string): string {
  try {
    mkdirSync(out, { recursive: true });
  } catch (err) {
    throw new DataError(out, `cannot create the output folder (${describeError(err)})`, { cause: err });
  }
  if (!statSync(out).isDirectory()) throw new DataError(out, 'not a folder');
  const dir = join(out, `.windcast-predict-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    mkdirSync(dir);
  } catch (err) {
    throw new DataError(out, `cannot write in the output folder (${describeError(err)})`, { cause: err });
  }
  return dir;
}

/** Move every staged file into out (each rename atomic, replacing an older file of that name). */
function commitStaging(staging: string, out: string): string[] {
  const names = readdirSync(staging).filter((n) => !n.startsWith('.'));
  const final: string[] = [];
  for (const name of names.sort()) {
    const target = join(out, name);
    renameSync(join(staging, name), target);
    final.push(target);
  }
  return final;
}

function elapsed(since: number): number {
  return Math.round((performance.now() - since) / 10) / 100;
}

function peakRssMiB(): number {
  // maxRSS is in KiB on Linux and macOS.
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

function fmt2(x: number): string {
  return Number.isFinite(x) ? x.toFixed(2) : 'nodata';
}

// ---------------------------------------------------------------------------------------

/** Copy a typed array into shared memory (no copy when it already is). */
function shared<T extends Float32Array | Int32Array>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const Ctor = a.constructor as { new (b: SharedArrayBuffer): T };
  const out = new Ctor(new SharedArrayBuffer(a.byteLength));
  out.set(a as never);
  return out;
}

/**
 * Forecast `cells` from the window ending at hour t0, batch by batch, handing each batch's
 * m/s values [count * horizon] to onBatch. Features for batch k+1 are gathered on a worker
 * thread while the model runs batch k (double buffer in shared memory); tensors live only
 * inside one batch.
 */
export async function forecastCells(
  tf: Tf,
  loaded: Pick<LoadedCheckpoint, 'model' | 'meta' | 'stats'>,
  cube: Cube,
  t0: number,
  cells: Int32Array,
  batchCells: number,
  onBatch: (start: number, count: number, values: Float32Array) => void,
): Promise<void> {
  const spec = loaded.meta.features as FeatureSpec;
  const L = spec.lookback;
  const F = spec.nFeatures;
  const H = spec.horizon;
  const n = cells.length;
  if (n === 0) return;
  const B = Math.max(1, Math.min(batchCells, n));
  const ctx = featureContext(cube, spec, loaded.stats);
  const x: [Float32Array, Float32Array] = [new Float32Array(new SharedArrayBuffer(B * L * F * 4)), new Float32Array(new SharedArrayBuffer(B * L * F * 4))];
  const valid: [Uint8Array, Uint8Array] = [new Uint8Array(new SharedArrayBuffer(B)), new Uint8Array(new SharedArrayBuffer(B))];
  const init: GatherInit = {
    grid: cube.grid,
    times: cube.times,
    speed: shared(cube.speed),
    ...(spec.uv && cube.u && cube.v ? { u: shared(cube.u), v: shared(cube.v) } : {}),
    spec,
    stats: loaded.stats,
    t0,
    cells: shared(cells),
    x,
    valid,
  };
  const worker = new Worker(new URL('../forecast/gather.worker.js', import.meta.url), { workerData: init });
  let waiting: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  let failure: unknown;
  worker.on('message', () => {
    const w = waiting;
    waiting = undefined;
    w?.resolve();
  });
  const fail = (err: unknown) => {
    failure ??= new WindcastError('internal', `feature thread failed: ${describeError(err)}`, { cause: err });
    waiting?.reject(failure);
    waiting = undefined;
  };
  worker.on('error', fail);
  worker.on('exit', (code) => {
    if (code !== 0) fail(new Error(`exited with code ${code}`));
  });
  const gather = (req: GatherRequest): Promise<void> =>
    new Promise<void>((resolveGather, reject) => {
      if (failure) return reject(failure);
      waiting = { resolve: resolveGather, reject };
      worker.postMessage(req);
    });
  const out = new Float32Array(B * H);
  try {
    let pending = gather({ slot: 0, start: 0, count: Math.min(B, n) });
    for (let k = 0, start = 0; start < n; k++, start += B) {
      const slot = (k % 2) as 0 | 1;
      const count = Math.min(B, n - start);
      await pending;
      const nextStart = start + B;
      if (nextStart < n) pending = gather({ slot: (1 - slot) as 0 | 1, start: nextStart, count: Math.min(B, n - nextStart) });
      const xs = inputTensor(tf, x[slot], count, L, F);
      try {
        const pred = tf.tidy(() => loaded.model.apply(xs, { training: false }) as ReturnType<Tf['tensor']>);
        try {
          out.set(pred.dataSync() as Float32Array);
        } finally {
          pred.dispose();
        }
      } finally {
        xs.dispose();
      }
      const v = valid[slot];
      for (let i = 0; i < count; i++) {
        if (v[i]) denormalize(ctx, t0, cells[start + i]!, out, i * H);
        else out.fill(NaN, i * H, (i + 1) * H);
      }
      onBatch(start, count, out.subarray(0, count * H));
    }
  } finally {
    await worker.terminate();
  }
}

/** Cells whose lookback hours are all valid; the rest are nodata in every lead. */
function validCells(cube: Cube, lookback: number, t0: number): Int32Array {
  const n = cellCount(cube.grid);
  const ok = new Uint8Array(n).fill(1);
  for (let t = t0 - lookback + 1; t <= t0; t++) {
    const frame = cube.speed.subarray(t * n, (t + 1) * n);
    for (let i = 0; i < n; i++) if (frame[i] !== frame[i]) ok[i] = 0;
  }
  let count = 0;
  for (let i = 0; i < n; i++) count += ok[i]!;
  const cells = new Int32Array(count);
  for (let i = 0, k = 0; i < n; i++) if (ok[i]) cells[k++] = i;
  return cells;
}

function leadStats(frame: Float32Array): { min: number; mean: number; max: number; nodataCells: number } {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  let n = 0;
  let nodata = 0;
  for (let i = 0; i < frame.length; i++) {
    const v = frame[i]!;
    if (v !== v) {
      nodata++;
      continue;
    }
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    n++;
  }
  return { min: n ? min : NaN, mean: n ? sum / n : NaN, max: n ? max : NaN, nodataCells: nodata };
}

export async function predict(args: PredictArgs, ctx: CommandContext): Promise<PredictResult> {
  const started = performance.now();
  const { config, progress } = ctx;
  const pc = config.predict;
  const out = resolve(args.out);

  // 1. Everything a user can get wrong, cheapest first, before any heavy work or any write.
  const sites: Site[] = collectSites(args.points, args.pointsFile);
  const atMs = args.at !== undefined ? parseIsoHour(args.at, '--at') : undefined;
  const checkpoint = resolveCheckpointDir(args.model, 'best');
  const meta: CheckpointMeta = readMeta(checkpoint);
  const modelGrid = meta.grid as GridSpec;
  const lookback = meta.features.lookback;
  const horizon = meta.features.horizon;
  const plans: SitePlan[] = sites.map((s) => planSite(modelGrid, s, pc.interpolation));
  if (plans.length > 0 && (pc.png || pc.multiband)) progress.log('sites only: no grids are written, so --png and --multiband do not apply');
  if (existsSync(out) && !statSync(out).isDirectory()) throw new DataError(out, '--out exists and is not a folder');
  const dataDir = resolve(isGlob(args.data) ? dirname(args.data) : args.data);
  if (dataDir === out) {
    // Lead files are named by valid hour: the next catalog of --data would read them as observations.
    throw new WindcastError('usage', `--out ${args.out} is the data folder; write forecasts to a folder of their own`);
  }

  const readStart = performance.now();
  const catalog = await listCatalog(args.data, { glob: config.ingest.glob, timePattern: config.ingest.timePattern });
  const { issueMs, entries } = selectInputHours(catalog, lookback, atMs);
  const reference = await readRasterHeader(entries[0]!.path);
  const diffs = gridDifferences(modelGrid, reference.grid);
  if (diffs.length > 0) {
    throw new DataError(reference.path, `grid differs from the one the model was trained on (${checkpoint}): ${diffs.join('; ')} (model vs this file)`);
  }
  if (meta.features.uv && reference.bandCount !== 2) throw new DataError(reference.path, 'the model was trained with u/v inputs but this file has wind speed only');
  const sub: Catalog = { input: catalog.input, entries, gaps: [], duplicates: [] };
  // 2. Decode the hours (worker threads) while the backend and the model load on this one.
  // No cube cache: 24 hours decode in about a second, and predict must not write into --data.
  const loadStart = performance.now();
  let loadSeconds = 0;
  const loading = (async () => {
    const backend = await loadBackend(config.runtime.backend, (line) => progress.log(line));
    const model = await loadCheckpoint(backend.tf, checkpoint, 'best');
    loadSeconds = elapsed(loadStart);
    return { ...backend, loaded: model };
  })();
  const reading = buildCube(sub, { cache: false, cacheEncoding: 'float32', workers: config.ingest.workers }, progress);
  const [readOutcome, loadOutcome] = await Promise.allSettled([reading, loading]);
  if (readOutcome.status === 'rejected' || loadOutcome.status === 'rejected') {
    if (loadOutcome.status === 'fulfilled') loadOutcome.value.loaded.model.dispose();
    throw readOutcome.status === 'rejected' ? readOutcome.reason : (loadOutcome as PromiseRejectedResult).reason;
  }
  const cube = readOutcome.value;
  const { tf, info, loaded } = loadOutcome.value;
  const readSeconds = elapsed(readStart);
  const t0 = lookback - 1;
  const backendInfo: BackendInfo = info;

  const base = {
    checkpoint,
    run: meta.run,
    backend: backendInfo.name,
    issueTime: isoHour(issueMs),
    lookbackHours: lookback,
    horizonHours: horizon,
    inputs: { first: isoHour(entries[0]!.time), last: isoHour(entries[entries.length - 1]!.time), files: entries.map((e) => e.path) },
    grid: describeGrid(cube.grid),
    out,
  };
  const validTimes = Array.from({ length: horizon }, (_, j) => isoHour(issueMs + (j + 1) * HOUR_MS));

  let staging: string | undefined;
  try {
    if (plans.length > 0) {
      // ---- Sites only: forecast the (up to four) cells under each site.
      const fStart = performance.now();
      const unique = [...new Set(plans.flatMap((p) => p.cells))].sort((a, b) => a - b);
      const cells = Int32Array.from(unique);
      const values = new Float32Array(cells.length * horizon);
      await forecastCells(tf, loaded, cube, t0, cells, pc.batchCells, (start, _count, v) => values.set(v, start * horizon));
      const slot = new Map(unique.map((c, i) => [c, i]));
      const siteForecasts: SiteForecast[] = plans.map((p) => ({
        name: p.site.name,
        lat: p.site.lat,
        lon: p.site.lon,
        cellLat: p.nearest.lat,
        cellLon: p.nearest.lon,
        speeds: validTimes.map((_, j) => {
          const v = sampleSite(p, (k) => values[slot.get(p.cells[k]!)! * horizon + j]!);
          return Number.isFinite(v) ? Math.round(v * 1000) / 1000 : null;
        }),
      }));
      const forecastSeconds = elapsed(fStart);
      const wStart = performance.now();
      staging = makeStaging(out);
      const stem = `sites_${isoHour(issueMs)}`;
      const csvLines = ['site,lat,lon,cell_lat,cell_lon,interpolation,issue_time,valid_time,lead_hours,speed_ms'];
      for (const s of siteForecasts) {
        s.speeds.forEach((v, j) => {
          csvLines.push([csvField(s.name), s.lat, s.lon, s.cellLat, s.cellLon, pc.interpolation, isoHour(issueMs), validTimes[j], j + 1, v ?? ''].join(','));
        });
      }
      writeFileSync(join(staging, `${stem}.csv`), csvLines.join('\n') + '\n');
      const json = {
        issueTime: isoHour(issueMs),
        run: meta.run,
        checkpoint,
        units: 'm/s',
        interpolation: pc.interpolation,
        interpolationNote: pc.interpolation === 'bilinear' ? 'bilinear between the four surrounding cell centres, nodata cells skipped' : 'value of the nearest cell',
        leads: validTimes.map((v, j) => ({ lead: j + 1, validTime: v })),
        sites: siteForecasts,
      };
      writeFileSync(join(staging, `${stem}.json`), JSON.stringify(json, null, 2) + '\n');
      const files = commitStaging(staging, out);
      const writeSeconds = elapsed(wStart);
      return {
        ...base,
        mode: 'points',
        files,
        leads: validTimes.map((v, j) => {
          const vals = siteForecasts.map((s) => s.speeds[j]).filter((x): x is number => x !== null);
          return { lead: j + 1, validTime: v, min: Math.min(...vals), mean: vals.reduce((a, b) => a + b, 0) / Math.max(1, vals.length), max: Math.max(...vals), nodataCells: siteForecasts.length - vals.length };
        }),
        interpolation: pc.interpolation,
        sites: siteForecasts,
        csv: join(out, `${stem}.csv`),
        json: join(out, `${stem}.json`),
        cellsForecast: cells.length,
        seconds: { read: readSeconds, load: loadSeconds, forecast: forecastSeconds, write: writeSeconds, total: elapsed(started) },
        peakRssMiB: peakRssMiB(),
      };
    }

    // ---- The whole grid, in batches of batchCells: memory is the input hours, the output
    // leads and one batch of features, whatever the grid size.
    const fStart = performance.now();
    const n = cellCount(cube.grid);
    const leads = Array.from({ length: horizon }, () => new Float32Array(n).fill(NaN));
    const cells = validCells(cube, lookback, t0);
    const task = progress.start({ unit: 'cells', total: cells.length, label: 'forecasting' });
    await forecastCells(tf, loaded, cube, t0, cells, pc.batchCells, (start, count, res) => {
      for (let i = 0; i < count; i++) {
        const cell = cells[start + i]!;
        const o = i * horizon;
        for (let j = 0; j < horizon; j++) leads[j]![cell] = res[o + j]!;
      }
      task.tick(count);
    });
    task.done();
    const forecastSeconds = elapsed(fStart);

    const wStart = performance.now();
    staging = makeStaging(out);
    const summaries: LeadSummary[] = leads.map((f, j) => ({ lead: j + 1, validTime: validTimes[j]!, ...leadStats(f) }));
    const anyNodata = summaries.some((s) => s.nodataCells > 0);
    // Nodata where the input had nodata: the input's own nodata value when it had one.
    const nodata = reference.nodata !== null ? reference.nodata : anyNodata ? NaN : null;
    const common = {
      ISSUE_TIME: isoHour(issueMs),
      RUN_ID: meta.run,
      MODEL: checkpoint,
      UNITS: 'm/s',
      INPUT_HOURS: `${base.inputs.first}..${base.inputs.last}`,
      SOFTWARE: 'windcast',
    };
    const bandMeta = (j: number) => ({ units: 'm/s', LEAD_HOURS: String(j + 1), VALID_TIME: validTimes[j]!, ISSUE_TIME: isoHour(issueMs) });
    const tasks: Array<{ path: string; options: GeoTiffWriteOptions }> = [];
    let multiband: string | undefined;
    if (pc.multiband) {
      multiband = multibandFileName(issueMs, horizon);
      tasks.push({
        path: join(staging, multiband),
        options: {
          grid: cube.grid,
          bands: leads,
          nodata,
          compress: pc.compress,
          metadata: { ...common, LEAD_HOURS: `1..${horizon}`, VALID_TIME: `${validTimes[0]}..${validTimes[horizon - 1]}` },
          bandMetadata: leads.map((_, j) => bandMeta(j)),
          bandDescriptions: leads.map((_, j) => `wind speed +${j + 1} h, valid ${validTimes[j]}`),
        },
      });
    } else {
      leads.forEach((_, j) => {
        const name = leadFileName(issueMs, j + 1, horizon);
        summaries[j]!.file = join(out, name);
        tasks.push({
          path: join(staging!, name),
          options: {
            grid: cube.grid,
            // A copy per file: its buffer is handed over to the writer thread.
            bands: [leads[j]!.slice()],
            nodata,
            compress: pc.compress,
            metadata: { ...common, LEAD_HOURS: String(j + 1), VALID_TIME: validTimes[j]! },
            bandMetadata: [bandMeta(j)],
            bandDescriptions: [`wind speed +${j + 1} h, valid ${validTimes[j]}`],
          },
        });
      });
    }
    const writeTask = progress.start({ unit: 'files', total: tasks.length, label: 'writing GeoTIFFs' });
    // The maps are drawn on this thread while the writer threads compress.
    const writing = writeGeoTiffs(
      pc.multiband ? tasks.map((t) => ({ ...t, options: { ...t.options, bands: t.options.bands.map((b) => b.slice()) } })) : tasks,
      availableParallelism(),
      () => writeTask.tick(1),
    );
    let png: string | undefined;
    try {
      if (pc.png) {
        png = `windspeed_${isoHour(issueMs)}_leads.png`;
        const pictures = await forecastPictures({
          grid: cube.grid,
          leads,
          validTimes,
          issueTime: isoHour(issueMs),
          run: meta.run,
          sheetName: png,
          leadNames: leads.map((_, j) => leadFileName(issueMs, j + 1, horizon).replace(/\.tif$/, '.png')),
        });
        for (const picture of pictures) writeFileSync(join(staging, picture.name), picture.png);
      }
    } finally {
      await writing.catch(() => {});
    }
    await writing;
    writeTask.done();
    const files = commitStaging(staging, out);
    const writeSeconds = elapsed(wStart);
    return {
      ...base,
      mode: 'grid',
      files,
      leads: summaries,
      ...(multiband ? { multiband: join(out, multiband) } : {}),
      ...(png ? { png: join(out, png) } : {}),
      cellsForecast: cells.length,
      seconds: { read: readSeconds, load: loadSeconds, forecast: forecastSeconds, write: writeSeconds, total: elapsed(started) },
      peakRssMiB: peakRssMiB(),
    };
  } finally {
    loaded.model.dispose();
    if (staging) rmSync(staging, { recursive: true, force: true });
  }
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Human summary: inputs, outputs, per-lead statistics or the site table, timings. */
export function formatPredictResult(r: PredictResult): string {
  const lines: string[] = [];
  lines.push(`Forecast issued ${r.issueTime} from ${r.inputs.files.length} hours ${r.inputs.first}..${r.inputs.last}`);
  lines.push(`Model: ${r.checkpoint} (run ${r.run}), backend ${r.backend}`);
  lines.push(`Grid: ${r.grid}`);
  if (r.mode === 'points' && r.sites) {
    lines.push(`Sites: ${r.sites.length}, ${r.interpolation === 'bilinear' ? 'bilinear interpolation between the four surrounding cells' : 'nearest cell'}; wind speed in m/s`);
    lines.push('');
    lines.push(...siteTable(r));
    lines.push('');
    lines.push(`Saved: ${r.csv}`);
    lines.push(`       ${r.json}`);
  } else {
    lines.push(`Cells forecast: ${r.cellsForecast.toLocaleString('en-US')}`);
    lines.push('');
    lines.push('lead  valid time       min    mean     max  (m/s)');
    for (const l of r.leads) {
      lines.push(`+${String(l.lead).padStart(2)} h ${l.validTime.padEnd(15)} ${fmt2(l.min).padStart(6)} ${fmt2(l.mean).padStart(7)} ${fmt2(l.max).padStart(7)}${l.nodataCells ? `  (${l.nodataCells} nodata cells)` : ''}`);
    }
    lines.push('');
    if (r.multiband) lines.push(`Wrote ${r.multiband} (${r.leads.length} bands)`);
    else lines.push(`Wrote ${r.leads.length} GeoTIFFs to ${r.out} (${basename(r.leads[0]?.file ?? '')} .. ${basename(r.leads[r.leads.length - 1]?.file ?? '')})`);
    if (r.png) lines.push(`Contact sheet: ${r.png} (and a map per lead, windspeed_<valid>_fNN.png)`);
  }
  const s = r.seconds;
  lines.push(`Time: ${s.total.toFixed(1)} s (read ${s.read.toFixed(1)}, with the model loading alongside in ${s.load.toFixed(1)}; forecast ${s.forecast.toFixed(1)}; write ${s.write.toFixed(1)}); peak memory ${r.peakRssMiB} MiB`);
  return lines.join('\n');
}

/** Sites as columns when few (easy to read across leads), else one row per site and lead. */
function siteTable(r: PredictResult): string[] {
  const sites = r.sites ?? [];
  const lines: string[] = [];
  if (sites.length <= 6) {
    const names = sites.map((s) => (s.name.length > 14 ? s.name.slice(0, 13) + '~' : s.name));
    const widths = names.map((n) => Math.max(7, n.length));
    lines.push(['lead', 'valid time     ', ...names.map((n, i) => n.padStart(widths[i]!))].join('  '));
    // A second header line with the coordinates, unless the names already are coordinates.
    const coords = sites.map((s) => `${round(s.lat)},${round(s.lon)}`);
    if (sites.some((s, i) => s.name !== coords[i])) {
      lines.push(['    ', '               ', ...coords.map((c, i) => (c === sites[i]!.name ? '' : c).slice(0, widths[i]!).padStart(widths[i]!))].join('  '));
    }
    for (let j = 0; j < r.horizonHours; j++) {
      const lead = `+${String(j + 1).padStart(2)}h`;
      lines.push([lead, r.leads[j]!.validTime.padEnd(15), ...sites.map((s, i) => (s.speeds[j] === null ? 'nodata' : s.speeds[j]!.toFixed(2)).padStart(widths[i]!))].join('  '));
    }
    return lines;
  }
  lines.push('site                  lat       lon     lead  valid time       speed');
  for (const s of sites) {
    s.speeds.forEach((v, j) => {
      lines.push(`${s.name.slice(0, 20).padEnd(20)} ${String(round(s.lat)).padStart(8)} ${String(round(s.lon)).padStart(9)}  +${String(j + 1).padStart(2)}h  ${r.leads[j]!.validTime.padEnd(15)} ${v === null ? 'nodata' : v.toFixed(2).padStart(6)}`);
    });
  }
  return lines;
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
