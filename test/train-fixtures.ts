/**
 * Small generated cubes for the training-stage tests: a coarse global (or regional) grid with
 * weather-like structure the model can learn: patterns drifting east with latitude-dependent
 * speed, a diurnal cycle in local solar time, and a little noise.
 */
import { schemaDefaults, type Config } from '../src/core/config.js';
import type { Cube } from '../src/ingest/cube.js';
import { HOUR_MS } from '../src/core/time.js';
import { era5Grid, type GridSpec } from '../src/core/grid.js';
import assert from 'node:assert/strict';
import { makeRng, sampleWindows, type WindowSample } from '../src/prepare/windows.js';
import { windowValid, type FeatureContext } from '../src/prepare/features.js';
import { BatchBuffers, fillBatch } from '../src/prepare/batches.js';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { writeGeoTiff } from '../src/output/geotiff-write.js';
import { synthFileName } from '../src/synth/files.js';

export interface FixtureOptions {
  hours: number;
  step?: number;
  grid?: GridSpec;
  seed?: number;
  uv?: boolean;
  /** Epoch ms of hour 0. */
  start?: number;
  /** Put NaN in this many random (t, cell) places. */
  nans?: number;
}

export function makeCube(options: FixtureOptions): Cube {
  const grid = options.grid ?? era5Grid({ step: options.step ?? 10 });
  const { width, height } = grid;
  const cells = width * height;
  const T = options.hours;
  const rng = makeRng(options.seed ?? 1);
  const speed = new Float32Array(T * cells);
  const u = options.uv ? new Float32Array(T * cells) : undefined;
  const v = options.uv ? new Float32Array(T * cells) : undefined;
  const times = new Float64Array(T);
  const start = options.start ?? Date.UTC(2024, 0, 1);
  const phases = [rng() * 6.28, rng() * 6.28, rng() * 6.28];
  for (let t = 0; t < T; t++) {
    times[t] = start + t * HOUR_MS;
    for (let r = 0; r < height; r++) {
      const lat = grid.lat0 - r * grid.dLat;
      const latRad = (lat * Math.PI) / 180;
      const drift = 0.6 + 0.4 * Math.cos(2 * latRad);
      for (let c = 0; c < width; c++) {
        const lon = grid.lon0 + c * grid.dLon;
        const lonRad = (lon * Math.PI) / 180;
        const x = lonRad - drift * t * 0.05;
        const uu = 6 * Math.cos(latRad) + 4 * Math.sin(3 * x + phases[0]!) * Math.cos(2 * latRad + 0.01 * t);
        const vv = 3 * Math.cos(2 * x + phases[1]! + latRad * 2) + 1.5 * Math.sin(0.2618 * (t + lon / 15));
        const i = t * cells + r * width + c;
        speed[i] = Math.hypot(uu, vv) + 0.3 * (rng() - 0.5);
        if (u && v) {
          u[i] = uu;
          v[i] = vv;
        }
      }
    }
  }
  for (let k = 0; k < (options.nans ?? 0); k++) speed[Math.floor(rng() * speed.length)] = NaN;
  return {
    grid,
    times,
    speed,
    ...(u && v ? { u, v } : {}),
    source: { files: Array.from({ length: T }, (_, t) => `/fixture/${t}.tif`), fingerprint: `fixture-${options.seed ?? 1}-${T}-${width}x${height}` },
  };
}

/** A config for runs that take a second or two on the cpu backend. */
export function tinyConfig(overrides: { epochs?: number; seed?: number } = {}): Config {
  const config = schemaDefaults();
  config.model.units = 4;
  config.model.ringsDeg = [30, 60];
  config.train.epochs = overrides.epochs ?? 1;
  config.train.seed = overrides.seed ?? 42;
  config.train.samplesPerEpoch = 128;
  // The quantile head is fitted on at most this many windows (the default 100,000 would take minutes on the cpu backend).
  config.train.quantileSamples = 256;
  config.train.batchSize = 64;
  config.train.validationSamples = 64;
  config.runtime.backend = 'cpu';
  return config;
}

/** The cube tiny runs train on: 12 x 7 cells at 30 degrees, 480 hours (every period has windows). */
export function tinyCube(seed = 1): Cube {
  return makeCube({ hours: 480, step: 30, seed });
}

/** A cube whose speed at (hour t, cell) is value(t, cell): hand-checkable baselines and metrics. */
export function valueCube(hours: number, width: number, height: number, value: (t: number, cell: number) => number, start = Date.UTC(2024, 0, 1)): Cube {
  const grid: GridSpec = { width, height, lon0: 0, lat0: 45, dLon: 360 / width, dLat: 90 / Math.max(1, height - 1), pixelIsPoint: false, sourceSouthUp: false, epsg: 4326 };
  const n = width * height;
  const speed = new Float32Array(hours * n);
  for (let t = 0; t < hours; t++) for (let c = 0; c < n; c++) speed[t * n + c] = value(t, c);
  const times = Float64Array.from({ length: hours }, (_, t) => start + t * HOUR_MS);
  return { grid, times, speed, source: { files: [], fingerprint: 'test' } };
}

/** A cube's speed as hourly GeoTIFFs in dir, named as synth names them (uncompressed). */
export async function writeCubeGeoTiffs(cube: Cube, dir: string): Promise<void> {
  const cells = cube.grid.width * cube.grid.height;
  for (let t = 0; t < cube.times.length; t++) {
    await writeGeoTiff(join(dir, synthFileName(cube.times[t]!, 'speed')), { grid: cube.grid, bands: [cube.speed.slice(t * cells, (t + 1) * cells)], compress: 'none' });
  }
}

/**
 * Two feature contexts over the same values (e.g. in memory and on disk) draw the same seeded
 * training windows and fill the same batches (inputs, targets, weights), bit for bit. Returns the windows.
 */
export function assertSameWindowsAndBatches(a: FeatureContext, b: FeatureContext, anchors: Int32Array, count: number, seed: number): WindowSample {
  const grid = a.cube.grid;
  const sample = sampleWindows({ grid, anchors, count, seed, accept: (t, c) => windowValid(a, t, c, true) });
  assert.deepEqual(sampleWindows({ grid, anchors, count, seed, accept: (t, c) => windowValid(b, t, c, true) }), sample);
  const { lookback, horizon, nFeatures } = a.spec;
  const bufs = [a, b].map(() => new BatchBuffers(count, lookback, nFeatures, horizon));
  const sums = [a, b].map((ctx, k) => fillBatch(ctx, sample, 0, count, bufs[k]!));
  assert.equal(sums[1], sums[0]);
  assert.deepEqual(bufs[1]!.x, bufs[0]!.x);
  assert.deepEqual(bufs[1]!.y, bufs[0]!.y);
  assert.deepEqual(bufs[1]!.w, bufs[0]!.w);
  return sample;
}

/**
 * A config file for CLI tests: a model small enough to train in seconds, and quick baselines
 * and bootstrap intervals (sharded and out-of-core evaluate tests compare whole reports with it).
 */
export function writeTinyCliConfig(path: string): void {
  writeFileSync(
    path,
    JSON.stringify({
      model: { units: 4, ringsDeg: [2, 4] },
      train: { epochs: 1, samplesPerEpoch: 256, quantileSamples: 256, batchSize: 64, validationSamples: 64, linearFitWindows: 2000 },
      evaluate: { bootstrapResamples: 200, bootstrapBlockHours: 9, linearSampleCells: 64 },
    }),
  );
}
