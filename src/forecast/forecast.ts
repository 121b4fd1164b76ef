/**
 * Forecasts from a trained checkpoint, shared by predict and evaluate (and validation during
 * training): gather features for (t0, cell) windows in bounded batches, run the model, turn
 * its normalised outputs back into m/s. Every tensor is made and disposed inside one batch, so
 * memory is bounded by the batch size however many cells are asked for.
 */
import type { Tf } from '../runtime/backend.js';
import { inputTensor } from '../prepare/batches.js';
import { loadCheckpoint, type CheckpointMeta } from '../model/checkpoint.js';
import type { Cube } from '../ingest/cube.js';
import { DataError } from '../core/errors.js';
import { DEFAULTS } from '../core/config.js';
import { denormalize, featureContext, gatherWindow, type FeatureContext, type FeatureSpec } from '../prepare/features.js';
import { gridDifferences } from '../core/grid.js';
import type { NormStats } from '../prepare/normalize.js';

type LayersModel = ReturnType<Tf['model']>;
type Tensor = ReturnType<Tf['tensor']>;

export interface Forecaster {
  meta: CheckpointMeta;
  /**
   * Forecast +1..+horizon for the given cells (flat indices row*width+col) from the window
   * ending at hour index t0 of cube; returns Float32Array [cells.length * horizon] in m/s,
   * NaN where inputs are NaN.
   */
  forecast(cube: Cube, t0: number, cells: Int32Array, out?: Float32Array): Float32Array;
  dispose(): void;
}

/** Host scratch for one batch of model inputs, reused across calls. */
export class ForecastScratch {
  x: Float32Array;
  valid: Uint8Array;
  constructor(readonly batch: number, readonly spec: FeatureSpec) {
    this.x = new Float32Array(batch * spec.lookback * spec.nFeatures);
    this.valid = new Uint8Array(batch);
  }
}

/**
 * Forecast windows (t0[i] or a single t0, cells[i]) into out [n * horizon], m/s.
 * Used by training validation (many t0) and the Forecaster (one t0, many cells).
 */
export function forecastWindows(
  tf: Tf,
  model: LayersModel,
  ctx: FeatureContext,
  t0: number | Int32Array,
  cells: Int32Array,
  out: Float32Array,
  scratch: ForecastScratch,
): Float32Array {
  const { spec } = ctx;
  const H = spec.horizon;
  const n = cells.length;
  if (out.length !== n * H) throw new Error(`forecast output holds ${out.length} values, expected ${n} cells x ${H} leads`);
  const B = scratch.batch;
  for (let start = 0; start < n; start += B) {
    const count = Math.min(B, n - start);
    for (let i = 0; i < count; i++) {
      const t = typeof t0 === 'number' ? t0 : t0[start + i]!;
      scratch.valid[i] = gatherWindow(ctx, t, cells[start + i]!, scratch.x, i) ? 1 : 0;
    }
    let xs: Tensor | undefined;
    try {
      xs = inputTensor(tf, scratch.x, count, spec.lookback, spec.nFeatures);
      const pred = tf.tidy(() => model.apply(xs!, { training: false }) as Tensor);
      try {
        out.set(pred.dataSync() as Float32Array, start * H);
      } finally {
        pred.dispose();
      }
    } finally {
      xs?.dispose();
    }
    for (let i = 0; i < count; i++) {
      const t = typeof t0 === 'number' ? t0 : t0[start + i]!;
      if (scratch.valid[i]) denormalize(ctx, t, cells[start + i]!, out, (start + i) * H);
      else out.fill(NaN, (start + i) * H, (start + i + 1) * H);
    }
  }
  return out;
}

/** Check a cube can be forecast by a model trained with meta; DataError naming the data otherwise. */
export function checkCubeMatches(meta: CheckpointMeta, cube: Cube): void {
  const where = cube.source.files[0];
  const diffs = gridDifferences(meta.grid, cube.grid);
  if (diffs.length > 0) throw new DataError(where, `grid differs from the one the model was trained on (${diffs.join('; ')})`);
  if (meta.features.uv && (!cube.u || !cube.v)) throw new DataError(where, 'the model was trained with u/v inputs but this data has speed only');
}

export interface ForecasterOptions {
  /** Cells per model call (memory bound); default the schema's predict.batchCells. */
  batchCells?: number;
  prefer?: 'best' | 'last';
}

/** Load a checkpoint (a checkpoint folder, or a run folder: best/, else last/) for forecasting. */
export async function loadForecaster(checkpointDir: string, tf: Tf, options: ForecasterOptions = {}): Promise<Forecaster> {
  const loaded = await loadCheckpoint(tf, checkpointDir, options.prefer ?? 'best');
  return makeForecaster(tf, loaded.model, loaded.meta, loaded.stats, options.batchCells ?? DEFAULTS.predict.batchCells);
}

/** A Forecaster around an in-memory model (the training loop's, or a loaded one). */
export function makeForecaster(tf: Tf, model: LayersModel, meta: CheckpointMeta, stats: NormStats, batchCells: number): Forecaster {
  const spec = meta.features as FeatureSpec;
  const contexts = new WeakMap<Cube, FeatureContext>();
  let scratch: ForecastScratch | undefined;
  let disposed = false;
  return {
    meta,
    forecast(cube, t0, cells, out) {
      if (disposed) throw new Error('forecaster used after dispose()');
      if (!Number.isInteger(t0) || t0 - spec.lookback + 1 < 0 || t0 >= cube.times.length) {
        throw new DataError(cube.source.files[0], `a forecast from hour index ${t0} needs hours ${t0 - spec.lookback + 1}..${t0}, the data has 0..${cube.times.length - 1}`);
      }
      let ctx = contexts.get(cube);
      if (!ctx) {
        checkCubeMatches(meta, cube);
        ctx = featureContext(cube, spec, stats);
        contexts.set(cube, ctx);
      }
      scratch ??= new ForecastScratch(Math.max(1, batchCells), spec);
      const result = out ?? new Float32Array(cells.length * spec.horizon);
      return forecastWindows(tf, model, ctx, t0, cells, result, scratch);
    },
    dispose() {
      if (!disposed) model.dispose();
      disposed = true;
      scratch = undefined;
    },
  };
}
