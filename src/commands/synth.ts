/**
 * `windcast synth`: write a synthetic hourly global wind dataset as GeoTIFFs, one file per hour.
 *
 * The generator lives in src/synth/ (hour.ts, one hour; files.ts, grid and names), the per-hour
 * file writing in src/synth/synth.worker.ts; this command checks the output folder, runs the
 * hours on a pool of synth threads (runtime/pool.ts) with progress, writes a manifest
 * (synth.json) and returns what it wrote. Files are written under temporary names and renamed,
 * so an interrupted run leaves only complete hours behind.
 */
import { mkdir, readdir, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import type { CommandContext } from './context.js';
import { CUBE_CACHE_DIR } from '../ingest/cube-cache.js';
import { DataError, WindcastError } from '../core/errors.js';
import { isTemporaryName, removeStaleTemporaries, writeFileAtomic } from '../core/atomic.js';
import { describeGrid, type GridSpec } from '../core/grid.js';
import { formatDuration } from '../core/progress.js';
import { synthFileName, synthGrid, SYNTH_FILE_PATTERN, SYNTH_VERSION } from '../synth/files.js';
import { planSynth } from '../synth/hour.js';
import { renderHourFile, type SynthJobSettings, type SynthTask } from '../synth/synth.worker.js';
import { openPool, runAll } from '../runtime/pool.js';
import { HOUR_MS, isoHour, parseIsoHour } from '../core/time.js';

export interface SynthArgs {
  out: string;
  /** Worker threads; 0 generates in this thread; default one per core (at most one per hour). */
  workers?: number;
}

export interface SynthResult {
  out: string;
  files: number;
  firstFile: string;
  lastFile: string;
  start: string;
  end: string;
  seed: number;
  grid: GridSpec;
  bands: 'speed' | 'uv';
  compress: 'none' | 'deflate';
  bytes: number;
  seconds: number;
  filesPerSecond: number;
  workers: number;
  /** Files of an earlier synth run that this run replaced. */
  replaced: number;
  manifest: string;
}

export const MANIFEST_NAME = 'synth.json';

export async function synth(args: SynthArgs, ctx: CommandContext): Promise<SynthResult> {
  const cfg = ctx.config.synth;
  const startMs = parseIsoHour(cfg.start, '--start');
  const grid = synthGrid({ step: cfg.step, bbox: cfg.bbox, lon180: cfg.lon180 });
  const out = resolve(args.out);
  const hours = Array.from({ length: cfg.hours }, (_, i) => startMs + i * HOUR_MS);
  const names = new Set(hours.map((h) => synthFileName(h, cfg.bands)));
  const replaced = await prepareFolder(out, names);

  const settings: SynthJobSettings = { grid, seed: cfg.seed, bands: cfg.bands, compress: cfg.compress, outDir: out };
  if (args.workers !== undefined && (!Number.isInteger(args.workers) || args.workers < 0)) {
    throw new WindcastError('usage', `workers must be a non-negative integer, got ${args.workers}`);
  }
  const workers = Math.min(args.workers ?? availableParallelism(), hours.length);
  ctx.progress.log(`synth: ${hours.length} hours ${isoHour(startMs)}..${isoHour(hours[hours.length - 1]!)} on ${describeGrid(grid)} -> ${out}`);
  const task = ctx.progress.start({ unit: 'files', total: hours.length, label: 'synth' });
  const t0 = performance.now();
  let bytes = 0;
  const onDone = (done: { file: string; bytes: number }) => {
    bytes += done.bytes;
    task.tick(1, done.file);
  };
  if (workers === 0) {
    const plan = planSynth(grid, cfg.seed);
    for (const h of hours) onDone(await renderHourFile(plan, settings, h));
  } else {
    await runPool(workers, settings, hours, onDone);
  }
  const seconds = (performance.now() - t0) / 1000;
  task.done(`${formatBytes(bytes)}`);

  const manifest = join(out, MANIFEST_NAME);
  const description = {
    generator: 'windcast synth',
    generatorVersion: SYNTH_VERSION,
    note: 'synthetic wind, not observed weather; see docs/synth.md',
    seed: cfg.seed,
    start: isoHour(startMs),
    hours: hours.length,
    bands: cfg.bands,
    compress: cfg.compress,
    units: 'm/s',
    grid,
    files: [...names].sort(),
  };
  await writeFileAtomic(manifest, [Buffer.from(JSON.stringify(description, null, 2) + '\n')]);

  return {
    out,
    files: hours.length,
    firstFile: synthFileName(hours[0]!, cfg.bands),
    lastFile: synthFileName(hours[hours.length - 1]!, cfg.bands),
    start: isoHour(startMs),
    end: isoHour(hours[hours.length - 1]!),
    seed: cfg.seed,
    grid,
    bands: cfg.bands,
    compress: cfg.compress,
    bytes,
    seconds,
    filesPerSecond: seconds > 0 ? hours.length / seconds : Infinity,
    workers,
    replaced,
    manifest,
  };
}

/**
 * Create the folder or check it holds nothing but files this run will replace. A user's own
 * files, or synth hours this run would not rewrite (a different --start, --hours or --bands),
 * are refused rather than mixed into a dataset. Returns how many files will be replaced.
 */
async function prepareFolder(out: string, names: Set<string>): Promise<number> {
  const info = await stat(out).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw new DataError(out, `cannot read the output folder: ${err.message}`, { cause: err });
  });
  if (info && !info.isDirectory()) throw new DataError(out, 'is not a folder (--out needs a folder)');
  if (!info) {
    await mkdir(out, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
      throw new DataError(out, `cannot create the output folder: ${err.message}`, { cause: err });
    });
    return 0;
  }
  // Temporaries of a killed synth go; those of a live one are its business.
  removeStaleTemporaries(out);
  const entries = await readdir(out);
  const foreign: string[] = [];
  const otherRun: string[] = [];
  let replaced = 0;
  for (const name of entries) {
    if (isTemporaryName(name)) {
      continue;
    } else if (names.has(name)) {
      replaced++;
    } else if (SYNTH_FILE_PATTERN.test(name)) {
      otherRun.push(name);
    } else if (name !== MANIFEST_NAME && name !== CUBE_CACHE_DIR) {
      // The cube cache of an earlier training run may stay: its fingerprint covers every
      // file's size and mtime, so the rewritten hours make it stale and it is rebuilt.
      foreign.push(name);
    }
  }
  if (foreign.length > 0) {
    throw new DataError(out, `holds ${foreign.length} file(s) that windcast synth did not write (e.g. "${foreign.sort()[0]}"); choose an empty or new folder`);
  }
  if (otherRun.length > 0) {
    throw new DataError(
      out,
      `holds ${otherRun.length} synth file(s) from another run that this run would not replace (e.g. "${otherRun.sort()[0]}"), which would mix two datasets; remove them or choose another folder`,
    );
  }
  return replaced;
}

/** The hours on `threads` synth threads, each taking the next hour when it finishes one. */
async function runPool(threads: number, settings: SynthJobSettings, hours: number[], onDone: (d: { file: string; bytes: number }) => void): Promise<void> {
  const pool = openPool<SynthTask, { file: string; bytes: number }>({
    worker: new URL('../synth/synth.worker.js', import.meta.url),
    threads,
    role: 'synth',
    workerData: settings,
  });
  try {
    await runAll(pool, hours.map((hourMs) => ({ hourMs })), { options: (t) => ({ label: `synth hour ${isoHour(t.hourMs)}` }), onResult: onDone });
  } finally {
    await pool.close();
  }
}

function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

export function formatSynthResult(r: SynthResult): string {
  const lines = [
    `Wrote ${r.files} hourly GeoTIFF${r.files === 1 ? '' : 's'} to ${r.out}`,
    `  hours     ${r.start} .. ${r.end} (UTC), seed ${r.seed}`,
    `  files     ${r.firstFile} .. ${r.lastFile}${r.replaced ? ` (${r.replaced} replaced from an earlier run)` : ''}`,
    `  grid      ${describeGrid(r.grid)}, EPSG:4326`,
    `  bands     ${r.bands === 'uv' ? '2 (u10, v10)' : '1 (wind speed)'}, Float32 m/s, ${r.compress === 'deflate' ? 'DEFLATE + floating-point predictor' : 'uncompressed'}`,
    `  size      ${formatBytes(r.bytes)} (${formatBytes(r.bytes / Math.max(1, r.files))} per file)`,
    `  time      ${formatDuration(r.seconds)} (${r.filesPerSecond.toFixed(1)} files/s, ${r.workers === 0 ? 'in-process' : `${r.workers} worker${r.workers === 1 ? '' : 's'}`})`,
    `  manifest  ${r.manifest}`,
  ];
  return lines.join('\n');
}
