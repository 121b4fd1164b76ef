/**
 * The cell-major cube training holds (ingest/cell-cube.ts): transposed slab by slab from the
 * cube cache, it is bit for bit the in-memory cube's cell-major copy; the memory budget refuses a
 * cube that does not fit; and training on it gives the same losses as training on the cube.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCatalog } from '../src/ingest/catalog.js';
import { buildCube, loadDataCube } from '../src/ingest/cube.js';
import { cellCubeFromCube, cellMajor, openCellCube, scatterHours } from '../src/ingest/cell-cube.js';
import { formatBytes, parseBytes } from '../src/core/bytes.js';
import { schemaDefaults } from '../src/core/config.js';
import { ConfigError, DataError } from '../src/core/errors.js';
import { silentProgress } from '../src/core/progress.js';
import { computeStats } from '../src/prepare/normalize.js';
import { loadBackend } from '../src/runtime/backend.js';
import { runTraining } from '../src/train/train.js';
import { train } from '../src/commands/train.js';
import { testContext } from '../src/commands/context.js';
import { splitHours } from '../src/prepare/split.js';
import { cellFeatureContext, distinctRings, featureSpec, gatherWindow } from '../src/prepare/features.js';
import { periodAnchors } from '../src/prepare/windows.js';
import { forecastWindows } from '../src/forecast/forecast.js';
import { createModel } from '../src/model/model.js';
import { latLonFixture, writeFixture } from './ingest-fixtures.js';
import { assertSameWindowsAndBatches, tinyConfig, tinyCube, writeCubeGeoTiffs } from './train-fixtures.js';

const H = 3_600_000;
const T0 = Date.UTC(2024, 0, 1, 0);
const speed = (t: number, r: number, c: number) => ((t * 7 + r * 3 + c) % 11 === 0 ? NaN : 0.37 * t + 1.1 * r + 0.013 * c);

function dataset(hours: number, bandCount = 1): string {
  const dir = mkdtempSync(join(tmpdir(), 'windcast-cells-'));
  for (let t = 0; t < hours; t++) {
    const path = join(dir, `w_${new Date(T0 + t * H).toISOString().slice(0, 13)}.tif`);
    writeFixture(path, latLonFixture(12, 7, (r, c, b) => (bandCount === 2 ? (b === 0 ? 0.6 : 0.8) : 1) * speed(t, r, c), { step: 30, top: 105, nodata: 'nan', compress: 'deflate', bandCount }));
  }
  return dir;
}

/** Same values, NaN where NaN (assert.deepEqual on typed arrays treats NaN as equal to NaN). */
function sameBits(a: Float32Array | undefined, b: Float32Array | undefined, what: string): void {
  assert.ok(a && b, `${what} present in both`);
  assert.deepEqual(new Uint32Array(a.buffer, a.byteOffset, a.length), new Uint32Array(b.buffer, b.byteOffset, b.length), what);
}

test('scatterHours: any slab split gives the one transposition', () => {
  const cells = 300;
  const hours = 7;
  const band = Float32Array.from({ length: cells * hours }, (_, i) => i * 0.5);
  const whole = cellMajor(band, cells, hours);
  for (let c = 0; c < cells; c++) for (let t = 0; t < hours; t++) assert.equal(whole[c * hours + t], band[t * cells + c]);
  const pieces = new Float32Array(cells * hours);
  for (const [h, n] of [[0, 3], [3, 1], [4, 3]] as const) scatterHours(band.subarray(h * cells, (h + n) * cells), n, cells, pieces, hours, h);
  assert.deepEqual(pieces, new Float32Array(whole));
});

for (const [bandCount, encoding] of [[1, 'float32'], [2, 'float32'], [2, 'int16']] as const) {
  test(`openCellCube from the cube cache (${bandCount} band(s), ${encoding}) is bit for bit the cube's cell-major copy`, async () => {
    const dir = dataset(30, bandCount);
    try {
      const ingest = { ...schemaDefaults().ingest, cacheEncoding: encoding, workers: 1 };
      const fromDecode = await openCellCube(dir, ingest, silentProgress, { budget: 2 ** 30 });
      assert.equal(fromDecode.source.cache?.hit, false);
      const fromCache = await openCellCube(dir, ingest, silentProgress, { budget: 2 ** 30 });
      assert.equal(fromCache.source.cache?.hit, true);
      const cube = await buildCube(await buildCatalog(dir, { glob: '*.tif', timePattern: 'auto' }), { cacheEncoding: encoding, cache: true, workers: 1 }, silentProgress);
      const reference = cellCubeFromCube(cube);
      // The first read too holds what the cache holds (an int16 cache's rounding included).
      for (const c of [fromDecode, fromCache]) {
        assert.deepEqual(c.grid, reference.grid);
        assert.deepEqual(c.times, reference.times);
        assert.equal(c.heightM, reference.heightM);
        assert.equal(c.otherHeightM, reference.otherHeightM);
        sameBits(c.bands!.speed, reference.bands!.speed, 'speed');
        if (bandCount === 2) {
          sameBits(c.bands!.u, reference.bands!.u, 'u');
          sameBits(c.bands!.v, reference.bands!.v, 'v');
        }
        assert.ok(c.bands!.speed.buffer instanceof SharedArrayBuffer);
      }
      // Normalisation statistics from either layout are the same bits.
      const period = { startHour: 0, endHour: 20 };
      const a = computeStats(cube, period, 'cell');
      const b = computeStats(fromCache, period, 'cell');
      assert.deepEqual(b, a);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('without a cube cache to read from disk, the memory budget refuses a cube that does not fit, with the figures; sizes parse', async () => {
  const dir = dataset(30);
  try {
    const ingest = { ...schemaDefaults().ingest, workers: 1, cache: false };
    await assert.rejects(openCellCube(dir, ingest, silentProgress, { budget: 1000 }), (err: unknown) => err instanceof DataError && /memory budget of 1000 B/.test(err.message) && /--memory-budget/.test(err.message));
    assert.ok((await openCellCube(dir, ingest, silentProgress, { budget: 12 * 7 * 30 * 4 })).bands?.speed);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(parseBytes('8GiB'), 8 * 2 ** 30);
  assert.equal(parseBytes('512 MiB'), 512 * 2 ** 20);
  assert.equal(parseBytes('2GB'), 2e9);
  assert.equal(parseBytes('1.5g'), 1.5 * 2 ** 30);
  assert.equal(parseBytes('4096'), 4096);
  assert.throws(() => parseBytes('lots'), ConfigError);
  // Sizes read back in the largest binary unit that leaves at least 1 (no "0.00 GiB" for a small cube).
  assert.equal(formatBytes(3 * 2 ** 30), '3.00 GiB');
  assert.equal(formatBytes(40 * 2 ** 20), '40.0 MiB');
  assert.equal(formatBytes(10_080), '9.8 KiB');
  assert.equal(formatBytes(1000), '1000 B');
});

test('training on the cell-major cube gives the same losses as on the time-major cube', async () => {
  const { tf, info } = await loadBackend('cpu');
  const cube = tinyCube();
  const runs = [];
  for (const given of [cube, cellCubeFromCube(cube)]) {
    const runDir = mkdtempSync(join(tmpdir(), 'windcast-cells-run-'));
    try {
      runs.push(await runTraining({ tf, backend: info, cube: given, dataDir: 'fixture', runDir, run: 'r', config: tinyConfig({ epochs: 2 }), progress: silentProgress, log: () => {} }));
    } finally {
      rmSync(runDir, { recursive: true, force: true });
    }
  }
  const [a, b] = runs;
  assert.deepEqual(b!.history.map((r) => [r.trainRmse, r.validationRmse, r.persistenceRmse, r.linearRmse]), a!.history.map((r) => [r.trainRmse, r.validationRmse, r.persistenceRmse, r.linearRmse]));
});

/** tinyCube's hours as GeoTIFFs in a fresh folder (the cube cache is written beside them on the first read). */
async function tinyFolder(): Promise<{ dir: string; data: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'windcast-ooc-'));
  const data = join(dir, 'data');
  mkdirSync(data);
  await writeCubeGeoTiffs(tinyCube(), data);
  return { dir, data };
}

test('a cube over the memory budget stays on disk: the same windows, statistics and forecasts as in memory', async () => {
  const { dir, data } = await tinyFolder();
  try {
    const ingest = { ...schemaDefaults().ingest, workers: 1 };
    const onDisk = await openCellCube(data, ingest, silentProgress, { budget: 1000 });
    assert.equal(onDisk.bands, undefined);
    assert.ok(onDisk.disk && existsSync(onDisk.disk.path));
    const resident = await openCellCube(data, ingest, silentProgress, { budget: 2 ** 30 });
    assert.ok(resident.bands);
    // A second read over budget reuses the cell file.
    assert.equal((await openCellCube(data, ingest, silentProgress, { budget: 1000 })).disk?.path, onDisk.disk.path);
    const config = tinyConfig();
    const split = splitHours({ hours: resident.times.length, lookback: config.model.lookback, horizon: config.model.horizon, fractions: config.train.split });
    const stats = computeStats(resident, split.train, 'cell');
    assert.deepEqual(computeStats(onDisk, split.train, 'cell'), stats);
    const spec = featureSpec({ lookback: 24, horizon: 24, ringsDeg: distinctRings(resident.grid, config.model.ringsDeg), uv: false, dayOfYear: false, predictDelta: true, normalization: 'cell' });
    const a = cellFeatureContext(resident, spec, stats);
    const b = cellFeatureContext(onDisk, spec, stats);
    const anchors = periodAnchors(split, split.train);
    const sample = assertSameWindowsAndBatches(a, b, anchors, 500, 3);
    // Windows at the last hour (no targets in the cube) and at the first anchor.
    const edge = new Float32Array(24 * spec.nFeatures * 2);
    for (const [t0, cell] of [[resident.times.length - 1, 5], [23, 0]] as const) {
      assert.equal(gatherWindow(b, t0, cell, edge, 1), gatherWindow(a, t0, cell, edge, 0));
      assert.deepEqual(edge.subarray(24 * spec.nFeatures), edge.subarray(0, 24 * spec.nFeatures));
    }
    // The same forecasts through the one inference path, in this thread and on the gather thread.
    const { tf } = await loadBackend('cpu');
    const model = createModel(tf, { lookback: 24, nFeatures: spec.nFeatures, horizon: 24, units: 4, layers: 1, dropout: 0, linearSkip: true, seed: 5 });
    // Weights off zero, so the forecast depends on every input.
    model.setWeights(model.getWeights().map((w, i) => tf.randomNormal(w.shape, 0, 0.1, 'float32', 11 + i)));
    try {
      for (const prefetch of [false, true]) {
        const outs = [a, b].map(() => new Float32Array(sample.t0.length * 24));
        for (const [k, ctx] of [a, b].entries()) {
          const windows = { model, ctx, t0: sample.t0, cells: sample.cell, batch: 128, out: outs[k]! };
          if (prefetch) await forecastWindows(tf, windows, { prefetch: true });
          else forecastWindows(tf, windows);
        }
        assert.deepEqual(outs[1], outs[0]);
      }
    } finally {
      model.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('windcast train with a tiny --memory-budget (the cube on disk) gives the same losses and weights as in memory', async () => {
  const { dir, data } = await tinyFolder();
  try {
    // Both samplers: the tiny grid samples uniformly by default; 'blocks' forces block sampling.
    for (const sampler of ['auto', 'blocks'] as const) {
      const config = tinyConfig({ epochs: 2 });
      config.train.sampler = sampler;
      const results = [];
      for (const [run, budget] of [[`memory-${sampler}`, null], [`disk-${sampler}`, '1000']] as const) {
        const ctx = testContext({ ...config, runtime: { ...config.runtime, memoryBudget: budget } });
        results.push(await train({ data, run, modelsDir: join(dir, 'models') }, ctx));
      }
      const [m, d] = results;
      const losses = (r: typeof m) => r!.history.map((e) => [e.trainRmse, e.validationRmse, e.persistenceRmse, e.linearRmse, e.validationRmseByLead]);
      assert.deepEqual(losses(d), losses(m));
      assert.ok(m!.history.length === 2);
      const weights = (run: string) => readFileSync(join(dir, 'models', run, 'last', 'weights.bin'));
      assert.ok(weights(`memory-${sampler}`).equals(weights(`disk-${sampler}`)));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loadDataCube (what evaluate holds for input it reads whole) refuses a cube over the memory budget before reading it, naming the data', async () => {
  const dir = dataset(6, 2);
  try {
    const ingest = { ...schemaDefaults().ingest, cache: false, workers: 1 };
    // 12 x 7 cells x 6 hours x 4 bytes x (speed from u/v, u, v).
    const bytes = 12 * 7 * 6 * 4 * 3;
    const hint = 'NetCDF and Zarr input, and GeoTIFFs with ingest.cache off, are read whole: give it fewer hours';
    const cube = await loadDataCube(dir, ingest, silentProgress, undefined, { bytes, hint });
    assert.equal(cube.speed.length + cube.u!.length + cube.v!.length, bytes / 4);
    await assert.rejects(loadDataCube(dir, ingest, silentProgress, undefined, { bytes: bytes - 1, hint }), (err: unknown) =>
      err instanceof DataError && err.message === `${dir}: the cube needs 5.9 KiB in memory, more than the memory budget of 5.9 KiB (--memory-budget, runtime.memoryBudget; default: what the machine has available); ${hint}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('GeoTIFFs with ingest.cache off are decoded a slab at a time straight into the cell-major cube: bit for bit the decoded cube re-laid, in one slab or many', async () => {
  for (const bandCount of [1, 2]) {
    const dir = dataset(30, bandCount);
    try {
      const ingest = { ...schemaDefaults().ingest, workers: 1, cache: false };
      const whole = cellCubeFromCube(await buildCube(await buildCatalog(dir, { glob: ingest.glob, timePattern: ingest.timePattern }), { cache: false, cacheEncoding: 'float32', workers: 1 }, silentProgress));
      const bytes = 12 * 7 * 30 * 4 * whole.layers.length;
      // A budget barely over the cube gives slabs of one or two hours; a large one, one slab.
      for (const budget of [bytes + 64, 2 ** 30]) {
        const slabbed = await openCellCube(dir, ingest, silentProgress, { budget });
        assert.deepEqual(slabbed.layers, bandCount === 2 ? ['speed', 'u', 'v'] : ['speed'], `${bandCount} band(s)`);
        assert.deepEqual(slabbed.layers, whole.layers);
        assert.deepEqual(Array.from(slabbed.times), Array.from(whole.times));
        assert.deepEqual(slabbed.grid, whole.grid);
        assert.equal(slabbed.source.cache, undefined, 'nothing written');
        assert.equal(slabbed.source.fingerprint, whole.source.fingerprint);
        for (const b of whole.layers) sameBits(slabbed.bands?.[b], whole.bands?.[b], `${bandCount} band(s), ${b}, budget ${budget}`);
      }
      assert.deepEqual(readdirSync(dir).filter((f) => !f.endsWith('.tif')), [], 'no cache folder beside the data');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});
