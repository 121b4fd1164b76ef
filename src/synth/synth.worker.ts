/**
 * One synthetic hour from generator to file, and the synth thread that runs it.
 *
 * `windcast synth` starts a pool of these threads (runtime/pool.ts), one per core; each builds
 * its own SynthPlan (land mask, interpolation tables) on its first hour, then turns hour after
 * hour into an atomically written GeoTIFF. Hours are pure functions of (seed, hour, grid), so
 * which thread writes which hour does not change a byte. The same renderHourFile runs
 * in-process when no threads are wanted; a file that cannot be written is a DataError naming
 * it, on a thread as in-process.
 */
import { join } from 'node:path';
import { workerData } from 'node:worker_threads';
import { writeFileAtomic } from '../core/atomic.js';
import { poolTask } from '../runtime/pool.js';
import { encodeGeoTiffParts } from '../output/geotiff-write.js';
import type { GridSpec } from '../core/grid.js';
import { synthFileName, SYNTH_VERSION } from './files.js';
import { planSynth, synthHour, type SynthPlan } from './hour.js';
import { isoHour } from '../core/time.js';

export interface SynthJobSettings {
  grid: GridSpec;
  seed: number;
  bands: 'speed' | 'uv';
  compress: 'none' | 'deflate';
  outDir: string;
}

/** zlib level for synthetic hours: fast; level 1 is within a few percent of level 6 on these grids. */
const DEFLATE_LEVEL = 1;

/** Generate, encode and atomically write one hour; returns the file name and its size. */
export async function renderHourFile(plan: SynthPlan, settings: SynthJobSettings, hourMs: number): Promise<{ file: string; bytes: number }> {
  const frame = synthHour(plan, hourMs, settings.bands === 'uv');
  const uv = settings.bands === 'uv' && frame.u && frame.v;
  const parts = encodeGeoTiffParts({
    grid: settings.grid,
    bands: uv ? [frame.u!, frame.v!] : [frame.speed],
    compress: settings.compress,
    deflateLevel: DEFLATE_LEVEL,
    metadata: {
      source: 'windcast synth (synthetic, not observed weather)',
      generator_version: SYNTH_VERSION,
      seed: String(settings.seed),
      valid_time: isoHour(hourMs),
      units: 'm/s',
    },
    bandDescriptions: uv ? ['u10', 'v10'] : ['wind_speed_10m'],
    bandMetadata: uv ? [{ units: 'm/s' }, { units: 'm/s' }] : [{ units: 'm/s' }],
  });
  const file = synthFileName(hourMs, settings.bands);
  await writeFileAtomic(join(settings.outDir, file), parts);
  return { file, bytes: parts.reduce((n, p) => n + p.length, 0) };
}

/** A synth thread's task: one hour, by its epoch milliseconds; the settings are its workerData. */
export interface SynthTask {
  hourMs: number;
}

let plan: SynthPlan | undefined;

export default poolTask((task: SynthTask) => {
  const settings = workerData as SynthJobSettings;
  plan ??= planSynth(settings.grid, settings.seed);
  return renderHourFile(plan, settings, task.hourMs);
});
