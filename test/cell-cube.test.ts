/**
 * The cell-major cube training holds (ingest/cell-cube.ts): transposed slab by slab from the
 * cube cache, it is bit for bit the in-memory cube's cell-major copy; the memory budget refuses a
 * cube that does not fit; and training on it gives the same losses as training on the cube.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCatalog } from '../src/ingest/catalog.js';
import { buildCube } from '../src/ingest/cube.js';
import { cellCubeFromCube, cellMajor, openCellCube, parseBytes, scatterHours } from '../src/ingest/cell-cube.js';
import { schemaDefaults } from '../src/core/config.js';
import { ConfigError, DataError } from '../src/core/errors.js';
import { silentProgress } from '../src/core/progress.js';
import { computeStats } from '../src/prepare/normalize.js';
import { loadBackend } from '../src/runtime/backend.js';
import { runTraining } from '../src/train/train.js';
import { latLonFixture, writeFixture } from './ingest-fixtures.js';
import { tinyConfig, tinyCube } from './train-fixtures.js';

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
      // An int16 cache rounds: the first run holds the decoded values, as buildCube's does.
      for (const c of encoding === 'int16' ? [fromCache] : [fromDecode, fromCache]) {
        assert.deepEqual(c.grid, reference.grid);
        assert.deepEqual(c.times, reference.times);
        assert.equal(c.heightM, reference.heightM);
        assert.equal(c.otherHeightM, reference.otherHeightM);
        sameBits(c.bands.speed, reference.bands.speed, 'speed');
        if (bandCount === 2) {
          sameBits(c.bands.u, reference.bands.u, 'u');
          sameBits(c.bands.v, reference.bands.v, 'v');
        }
        assert.ok(c.bands.speed.buffer instanceof SharedArrayBuffer);
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

test('the memory budget refuses a cube that does not fit, with the figures; sizes parse in binary and decimal units', async () => {
  const dir = dataset(30);
  try {
    const ingest = { ...schemaDefaults().ingest, workers: 1 };
    await assert.rejects(openCellCube(dir, ingest, silentProgress, { budget: 1000 }), (err: unknown) => err instanceof DataError && /memory budget of 0\.00 GiB/.test(err.message) && /--memory-budget/.test(err.message));
    // Cached now: the refusal comes before anything is read.
    await assert.rejects(openCellCube(dir, ingest, silentProgress, { budget: 1000 }), DataError);
    assert.ok((await openCellCube(dir, ingest, silentProgress, { budget: 12 * 7 * 30 * 4 })).bands.speed);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(parseBytes('8GiB'), 8 * 2 ** 30);
  assert.equal(parseBytes('512 MiB'), 512 * 2 ** 20);
  assert.equal(parseBytes('2GB'), 2e9);
  assert.equal(parseBytes('1.5g'), 1.5 * 2 ** 30);
  assert.equal(parseBytes('4096'), 4096);
  assert.throws(() => parseBytes('lots'), ConfigError);
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
