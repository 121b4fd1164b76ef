/**
 * A forecast issued from one hour of a cube (predict): every cell of the grid as one field per
 * lead, the form the GeoTIFFs and maps take, or a chosen set of cells (the cells under sites).
 * Both run the one inference path (forecastWindows) with its features gathered on a thread one
 * batch ahead of the model. Memory is the input hours, the output leads and two batches of
 * features, whatever the grid size.
 */
import type { Tf } from '../runtime/backend.js';
import type { Cube } from '../ingest/cube.js';
import type { LoadedCheckpoint } from '../model/checkpoint.js';
import { cellCount } from '../core/grid.js';
import type { Progress } from '../core/progress.js';
import { featureContext, type FeatureSpec } from '../prepare/features.js';
import { forecastWindows } from './forecast.js';

/** The parts of a loaded checkpoint a forecast needs. */
export type ForecastModel = Pick<LoadedCheckpoint, 'model' | 'meta' | 'stats'>;

export interface IssuedForecast {
  tf: Tf;
  loaded: ForecastModel;
  cube: Cube;
  /** Hour index of the issue time in the cube (its last input hour). */
  t0: number;
  /** Cells per model call. */
  batchCells: number;
}

/**
 * Every cell's +1..+horizon forecast as one grid per lead (m/s, NaN where any lookback hour
 * of the cell is nodata). Returns the leads and how many cells were forecast.
 */
export async function forecastGrid(f: IssuedForecast, progress: Progress): Promise<{ leads: Float32Array[]; cellsForecast: number }> {
  const spec = f.loaded.meta.features as FeatureSpec;
  const H = spec.horizon;
  const leads = Array.from({ length: H }, () => new Float32Array(cellCount(f.cube.grid)).fill(NaN));
  const cells = validCells(f.cube, spec.lookback, f.t0);
  const task = progress.start({ unit: 'cells', total: cells.length, label: 'forecasting' });
  const ctx = featureContext(f.cube, spec, f.loaded.stats);
  await forecastWindows(
    f.tf,
    {
      model: f.loaded.model,
      ctx,
      t0: f.t0,
      cells,
      batch: f.batchCells,
      onBatch: (start, count, values) => {
        for (let i = 0; i < count; i++) {
          const cell = cells[start + i]!;
          const o = i * H;
          for (let j = 0; j < H; j++) leads[j]![cell] = values[o + j]!;
        }
        task.tick(count);
      },
    },
    { prefetch: true },
  );
  task.done();
  return { leads, cellsForecast: cells.length };
}

/** The forecast of the given cells, [cells.length * horizon] m/s, cell by cell. */
export async function forecastCells(f: IssuedForecast, cells: Int32Array): Promise<Float32Array> {
  const spec = f.loaded.meta.features as FeatureSpec;
  const out = new Float32Array(cells.length * spec.horizon);
  const ctx = featureContext(f.cube, spec, f.loaded.stats);
  await forecastWindows(f.tf, { model: f.loaded.model, ctx, t0: f.t0, cells, batch: f.batchCells, out }, { prefetch: true });
  return out;
}

/** Cells whose lookback hours are all valid; the rest are nodata in every lead. */
export function validCells(cube: Cube, lookback: number, t0: number): Int32Array {
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
