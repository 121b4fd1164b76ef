/**
 * A forecast issued from one hour of a cube (predict): every cell of the grid as one field per
 * lead (and per quantile level, for a quantile checkpoint), the form the GeoTIFFs and maps
 * take, or a chosen set of cells (the cells under sites).
 * Both run the one inference path (forecastWindows) with its features gathered on a thread one
 * batch ahead of the model. Memory is the input hours, the output leads and two batches of
 * features, whatever the grid size.
 */
import type { Tf } from '../runtime/backend.js';
import type { Cube } from '../ingest/cube.js';
import type { LoadedCheckpoint } from '../model/checkpoint.js';
import { cellCount } from '../core/grid.js';
import type { Progress } from '../core/progress.js';
import { featureContext } from '../prepare/features.js';
import { forecastWindows } from './forecast.js';
import type { OnnxEngine } from './onnx-engine.js';

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
  /** Run the network with onnxruntime instead of tfjs (forecast/onnx-engine.ts). */
  engine?: OnnxEngine;
}

/** A forecast grid's fields: one per lead, and per lead one per quantile level (quantile checkpoints). */
export interface GridFields {
  leads: Float32Array[];
  quantileLeads?: Float32Array[][];
}

/** The quantile levels a checkpoint forecasts ([] for a point model). */
export function quantileLevels(loaded: Pick<ForecastModel, 'meta'>): readonly number[] {
  return loaded.meta.model.quantiles ?? [];
}

/**
 * Every cell's +1..+horizon forecast as one grid per lead (m/s, NaN where any lookback hour
 * of the cell is nodata). With { quantiles: true } and a quantile checkpoint, also each lead's
 * quantiles, one grid per level (quantileLeads[lead][level]). Returns the leads and how many
 * cells were forecast. With { rows: [r0, r1] } (a predict shard) only the cells of rows r0..r1-1
 * are forecast, the rest stay NaN; their features still read the whole cube (the neighbourhood
 * rings reach rows beyond the shard's), and each cell is forecast in the batch, at the place, a
 * whole-grid run gives it (forecastWindows' `only`), so each is the one a whole-grid run makes
 * to the bit.
 *
 * The fields are in shared memory, and cells are forecast in row order: after every batch,
 * `rowsFinal(rows, fields)` says that rows [0, rows) of every field hold their final values, so
 * a writer thread can encode them while the model works on later rows (predict does).
 */
export async function forecastGrid(f: IssuedForecast, progress: Progress, options: { quantiles?: boolean; rows?: readonly [number, number]; rowsFinal?: (rows: number, fields: GridFields) => void } = {}): Promise<GridFields & { cellsForecast: number }> {
  const spec = f.loaded.meta.features;
  const H = spec.horizon;
  const n = cellCount(f.cube.grid);
  const w = f.cube.grid.width;
  const field = () => new Float32Array(new SharedArrayBuffer(n * 4)).fill(NaN);
  const leads = Array.from({ length: H }, field);
  const Q = options.quantiles ? quantileLevels(f.loaded).length : 0;
  const quantileLeads = Q > 0 ? Array.from({ length: H }, () => Array.from({ length: Q }, field)) : undefined;
  const fields: GridFields = { leads, ...(quantileLeads ? { quantileLeads } : {}) };
  const cells = validCells(f.cube, spec.lookback, f.t0);
  const only = options.rows ? rowSpan(cells, w, options.rows) : ([0, cells.length] as const);
  const task = progress.start({ unit: 'cells', total: only[1] - only[0], label: 'forecasting' });
  const ctx = featureContext(f.cube, spec, f.loaded.stats);
  await forecastWindows(
    f.tf,
    {
      model: f.loaded.model,
      ctx,
      t0: f.t0,
      cells,
      batch: f.batchCells,
      only,
      ...(f.engine ? { engine: f.engine } : {}),
      withQuantiles: Q > 0,
      onBatch: (start, count, values, quantiles) => {
        for (let i = 0; i < count; i++) {
          const cell = cells[start + i]!;
          const o = i * H;
          for (let j = 0; j < H; j++) leads[j]![cell] = values[o + j]!;
          if (quantileLeads && quantiles) {
            for (let j = 0; j < H; j++) for (let k = 0; k < Q; k++) quantileLeads[j]![k]![cell] = quantiles[(o + j) * Q + k]!;
          }
        }
        task.tick(Math.min(start + count, only[1]) - Math.max(start, only[0]));
        // Every cell before the next one to forecast is final (the cells are in row order).
        const next = start + count;
        options.rowsFinal?.(next < only[1] ? Math.floor(cells[next]! / w) : f.cube.grid.height, fields);
      },
    },
    { prefetch: true },
  );
  task.done();
  // A grid with no cell to forecast has no batch: its (NaN) rows are final now.
  if (only[0] === only[1]) options.rowsFinal?.(f.cube.grid.height, fields);
  return { ...fields, cellsForecast: only[1] - only[0] };
}

/**
 * The forecast of the given cells, [cells.length * horizon] m/s, cell by cell; with
 * `quantiles` [cells.length * horizon * levels] (a quantile checkpoint) its quantiles there too,
 * ((cell * horizon) + lead) * levels + k.
 */
export async function forecastCells(f: IssuedForecast, cells: Int32Array, quantiles?: Float32Array): Promise<Float32Array> {
  const spec = f.loaded.meta.features;
  const out = new Float32Array(cells.length * spec.horizon);
  const ctx = featureContext(f.cube, spec, f.loaded.stats);
  await forecastWindows(f.tf, { model: f.loaded.model, ctx, t0: f.t0, cells, batch: f.batchCells, out, ...(f.engine ? { engine: f.engine } : {}), ...(quantiles ? { quantiles } : {}) }, { prefetch: true });
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

/** The index range [a, b) of `cells` (row-major, ascending) that lies in rows [r0, r1) of a grid `width` wide. */
function rowSpan(cells: Int32Array, width: number, rows: readonly [number, number]): readonly [number, number] {
  const firstAtOrAfter = (cell: number) => {
    let lo = 0;
    let hi = cells.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cells[mid]! < cell) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  return [firstAtOrAfter(rows[0] * width), firstAtOrAfter(rows[1] * width)];
}
