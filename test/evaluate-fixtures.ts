/**
 * Fixtures of the evaluate tests: temporary folders, the schema's evaluate settings, and a fake
 * checkpoint (meta.json only) with a forecaster that needs no model.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { persistenceForecast } from '../src/evaluate/baselines.js';
import type { CheckpointMeta } from '../src/model/checkpoint.js';
import type { evaluateCube } from '../src/evaluate/evaluate.js';
import type { Cube } from '../src/ingest/cube.js';
import { splitHours } from '../src/prepare/split.js';
import { schemaDefaults } from '../src/core/config.js';
import { featureContext, featureSpec } from '../src/prepare/features.js';
import { computeStats } from '../src/prepare/normalize.js';

const scratch: string[] = [];
after(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

/** A temporary folder removed when the tests end. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

export const noTf = { memory: () => ({ numTensors: 0 }) } as unknown as Parameters<typeof evaluateCube>[0]['tf'];

/** The evaluate settings of the schema, with overrides. */
export function settings(overrides: Partial<ReturnType<typeof schemaDefaults>['evaluate']> = {}) {
  return { ...schemaDefaults().evaluate, ...overrides };
}

/** The training settings a fake checkpoint stores: a small ridge fit, so tests stay fast. */
export const FAKE_TRAIN = { ...schemaDefaults().train, linearFitWindows: 4000, validationSamples: 500, seed: 5 };

/**
 * A checkpoint folder holding only meta.json, and a forecaster that needs no model: it
 * forecasts with `forecast` and reads the cube through the feature context a real one would
 * build from the checkpoint's feature spec and training-period statistics.
 */
export function fakeCheckpoint(cube: Cube, forecast?: (c: Cube, t0: number, cells: Int32Array, out?: Float32Array, quantiles?: Float32Array) => Float32Array, quantileLevels?: readonly number[]) {
  const split = splitHours({ hours: cube.times.length, lookback: 24, horizon: 24, fractions: [0.6, 0.2, 0.2] });
  const features = featureSpec({ lookback: 24, horizon: 24, ringsDeg: [30], uv: false, dayOfYear: false, predictDelta: true, normalization: 'cell' });
  const stats = computeStats(cube, split.train, 'cell');
  const meta = {
    run: 'fake',
    kind: 'best',
    epoch: 3,
    savedAt: '2026-01-01T00:00:00.000Z',
    config: { train: FAKE_TRAIN },
    grid: cube.grid,
    features,
    split,
    data: { dir: '/fixture', fingerprint: cube.source.fingerprint, hours: cube.times.length, firstHour: new Date(cube.times[0]!).toISOString().slice(0, 13) + 'Z', lastHour: '', uv: false },
  } as unknown as CheckpointMeta;
  const dir = tempDir('windcast-eval-ck-');
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta));
  const contexts = new Map<Cube, ReturnType<typeof featureContext>>();
  const forecaster = {
    meta,
    stats,
    forecast: forecast ?? ((c: Cube, t0: number, cells: Int32Array, out?: Float32Array) => persistenceForecast(c, { t0, cells, horizon: 24, ...(out ? { out } : {}) })),
    context: (c: Cube) => contexts.get(c) ?? contexts.set(c, featureContext(c, features, stats)).get(c)!,
    ...(quantileLevels ? { quantileLevels } : {}),
  };
  return { dir, meta, forecaster, stats };
}

