/**
 * Feature-gathering thread for `windcast predict`: while the main thread runs the model on
 * batch k, this thread gathers batch k+1 into the other half of a shared double buffer, so
 * the JavaScript work of building inputs (a few seconds for the 1,038,240 cells of the global
 * grid) overlaps with the model instead of adding to it. It uses the same gatherWindow as
 * training and the Forecaster, on the same shared hours (no copy of the cube).
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Cube } from '../ingest/cube.js';
import { featureContext, gatherWindow, type FeatureSpec } from '../prepare/features.js';
import type { GridSpec } from '../core/grid.js';
import type { NormStats } from '../prepare/normalize.js';

export interface GatherInit {
  grid: GridSpec;
  times: Float64Array;
  /** Float32Arrays over SharedArrayBuffers: the lookback hours, shared with the main thread. */
  speed: Float32Array;
  u?: Float32Array;
  v?: Float32Array;
  spec: FeatureSpec;
  stats: NormStats;
  /** Hour index of the issue time in the cube. */
  t0: number;
  /** Cells to forecast (flat indices), over a SharedArrayBuffer. */
  cells: Int32Array;
  /** Two input buffers [batch, lookback, nFeatures] and two validity flag arrays [batch]. */
  x: [Float32Array, Float32Array];
  valid: [Uint8Array, Uint8Array];
}

export interface GatherRequest {
  slot: 0 | 1;
  start: number;
  count: number;
}

if (parentPort && workerData) {
  const init = workerData as GatherInit;
  const cube: Cube = {
    grid: init.grid,
    times: init.times,
    speed: init.speed,
    ...(init.u && init.v ? { u: init.u, v: init.v } : {}),
    source: { files: [], fingerprint: 'predict' },
  };
  const ctx = featureContext(cube, init.spec, init.stats);
  parentPort.on('message', (req: GatherRequest) => {
    const x = init.x[req.slot];
    const valid = init.valid[req.slot];
    for (let i = 0; i < req.count; i++) valid[i] = gatherWindow(ctx, init.t0, init.cells[req.start + i]!, x, i) ? 1 : 0;
    parentPort!.postMessage(req);
  });
}
