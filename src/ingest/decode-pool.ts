/**
 * Decoding many GeoTIFFs at once: a pool of decoder threads (decode.worker.ts, started through
 * runtime/pool.ts) decodes one file per task, straight into its hour's slice of shared output
 * bands (buildCube) or into a reusable frame for statistics only (inspect). Results come back
 * in file order; a refused file is a result carrying its reason, never a thrown error, so that
 * inspect can list every refused file and buildCube can name the first.
 *
 * The watchdog: a file whose decoder does not finish within the time limit (a corrupt file can
 * make a decoder spin, a named pipe can block it) is given up by name; its thread is terminated.
 */
import { cellCount, gridDifferences, type GridSpec } from '../core/grid.js';
import { DataError, WindcastError } from '../core/errors.js';
import type { Progress } from '../core/progress.js';
import { openPool, runAll, threadCount } from '../runtime/pool.js';
import type { BandStats, RasterHeader } from './raster.js';
import { ALL_WIND, bandPlan, type CubeBand } from './band-plan.js';

/** What a decoder thread reports for one file. */
export interface FileDecodeResult {
  index: number;
  path: string;
  /** Set when the file was refused; the message starts with the file's path. */
  error?: { message: string; kind: 'data' | 'internal' };
  header?: Pick<RasterHeader, 'dataType' | 'bandCount' | 'nodata' | 'compression' | 'layout' | 'scale' | 'offset' | 'warnings'>;
  /** Statistics of the speed (hypot of the target height's u, v for u/v files). */
  speed?: BandStats;
}

/** Shared output bands, each hours x cells Float32: speed, and the cube bands the plan fills. */
export type DecodeOutputs = { speed: SharedArrayBuffer } & Partial<Record<CubeBand, SharedArrayBuffer>>;

export interface DecodeFilesOptions {
  files: string[];
  /** The first file's header: every file must have its grid and bands. */
  reference: RasterHeader;
  /** Per file band, the cube band it fills (band-plan.ts; null bands are decoded and dropped). Default: all the wind, as ALL_WIND plans it. */
  slots?: (CubeBand | null)[];
  /** Shared outputs (cube mode) or none (statistics only, for inspect). */
  outputs?: DecodeOutputs;
  /** Decoder threads; 0 = one per core. */
  workers: number;
  progress: Progress;
  label: string;
  /** Longest time one file may take, seconds (default DECODE_TIMEOUT_S; tests shorten it). */
  timeoutSeconds?: number;
}

/** What every decoder thread is started with (its workerData). */
export interface DecoderSetup {
  cells: number;
  reference: { path: string; grid: GridSpec; winds: RasterHeader['winds'] };
  slots: (CubeBand | null)[];
  outputs?: DecodeOutputs;
}

/** One file to decode: its hour index in the outputs and its path. */
export interface DecodeTask {
  index: number;
  path: string;
}

/** Longest time one file may take to decode (a global float32 frame takes well under 1 s). */
const DECODE_TIMEOUT_S = 120;

/** The decoder threads of a run of at most `tasks` files at a time, set up with the outputs they fill. */
function openDecoderPool(options: DecodeFilesOptions, tasks: number) {
  const { reference } = options;
  const setup: DecoderSetup = {
    cells: cellCount(reference.grid),
    reference: { path: reference.path, grid: reference.grid, winds: reference.winds },
    slots: options.slots ?? bandPlan(reference, ALL_WIND).slots,
    outputs: options.outputs,
  };
  return openPool<DecodeTask, FileDecodeResult>({
    worker: new URL('./decode.worker.js', import.meta.url),
    threads: threadCount(options.workers, tasks),
    role: 'decoder',
    workerData: setup,
  });
}

/** How each decode task runs: labelled by its file, timed out as a corrupt file, ticking the progress. */
function runOptions(timeoutSeconds: number, task: ReturnType<Progress['start']>) {
  return {
    options: (t: DecodeTask) => ({
      label: t.path,
      timeoutSeconds,
      timeoutError: () => new DataError(t.path, `decoding did not finish within ${timeoutSeconds} s; the file is probably corrupt`),
    }),
    onResult: () => task.tick(1),
  };
}

/** Decode files on decoder threads; results in file order. Never throws for a refused file. */
export async function decodeFiles(options: DecodeFilesOptions): Promise<FileDecodeResult[]> {
  const { files, progress, label } = options;
  const timeoutSeconds = options.timeoutSeconds ?? DECODE_TIMEOUT_S;
  const tasks: DecodeTask[] = files.map((path, index) => ({ index, path }));
  const pool = openDecoderPool(options, files.length);
  const task = progress.start({ unit: 'files', total: files.length, label });
  try {
    const results = await runAll(pool, tasks, runOptions(timeoutSeconds, task));
    task.done();
    return results;
  } finally {
    await pool.close();
  }
}

export interface DecodeSlabsOptions extends Omit<DecodeFilesOptions, 'outputs'> {
  /** Shared outputs of slabHours hours each: the hours of one slab at a time. */
  outputs: DecodeOutputs;
  slabHours: number;
  /** Called with each decoded slab (hours [hour0, hour0 + count) in outputs[0 .. count)), in order. */
  onSlab: (hour0: number, count: number) => void | Promise<void>;
}

/**
 * Decode files slabHours at a time into the same outputs, on one pool for the whole run, and
 * hand each slab on before the next is decoded (the streamed cell-major cube: the cube is
 * never whole in memory). A refused file throws its DataError (throwFirstRefusal) before its
 * slab is handed on.
 */
export async function decodeInSlabs(options: DecodeSlabsOptions): Promise<void> {
  const { files, progress, label, slabHours } = options;
  const timeoutSeconds = options.timeoutSeconds ?? DECODE_TIMEOUT_S;
  const pool = openDecoderPool(options, Math.min(slabHours, files.length));
  const task = progress.start({ unit: 'files', total: files.length, label });
  try {
    for (let hour0 = 0; hour0 < files.length; hour0 += slabHours) {
      const count = Math.min(slabHours, files.length - hour0);
      // Task indexes are hours within the slab: the decoder writes hour i at outputs[i * cells].
      const tasks: DecodeTask[] = files.slice(hour0, hour0 + count).map((path, index) => ({ index, path }));
      const results = await runAll(pool, tasks, runOptions(timeoutSeconds, task));
      throwFirstRefusal(results);
      await options.onSlab(hour0, count);
    }
    task.done();
  } finally {
    await pool.close();
  }
}

/** The first refused file, in time order, as the error a user sees. */
export function throwFirstRefusal(results: FileDecodeResult[]): void {
  const bad = results.find((r) => r.error);
  if (!bad?.error) return;
  const others = results.filter((r) => r.error).length - 1;
  const suffix = others > 0 ? ` (and ${others} more file${others === 1 ? '' : 's'} refused; run windcast inspect for the list)` : '';
  if (bad.error.kind === 'data') {
    const prefix = `${bad.path}: `;
    const reason = bad.error.message.startsWith(prefix) ? bad.error.message.slice(prefix.length) : bad.error.message;
    throw new DataError(bad.path, reason + suffix);
  }
  throw new WindcastError('internal', bad.error.message + suffix);
}

/** Compare a file's header with the reference; the message names both files and the differences. */
export function checkAgainstReference(header: RasterHeader, reference: DecoderSetup['reference']): string | null {
  const diffs = gridDifferences(reference.grid, header.grid);
  const bands = (w: RasterHeader['winds']) => w.map((b) => b.name ?? (b.component === 'speed' ? 'speed' : b.component)).join(', ');
  if (header.winds.length !== reference.winds.length) diffs.unshift(`${reference.winds.length} band(s) vs ${header.winds.length}`);
  else if (bands(header.winds) !== bands(reference.winds)) diffs.unshift(`bands ${bands(reference.winds)} vs ${bands(header.winds)}`);
  if (diffs.length === 0) return null;
  return `${header.path}: grid differs from the first file ${reference.path}: ${diffs.join('; ')} (first file vs this file)`;
}
