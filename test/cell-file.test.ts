/**
 * The streamed cell file (ingest/cell-file.ts): over the memory budget with no cube cache, the
 * hours are decoded a slab at a time into a chunked cell-major file, never the whole cube. Its
 * values, windows, statistics and training are bit for bit the in-memory path's; a kill mid-write
 * leaves no file that is trusted; a bad file mid-stream is a DataError naming it and leaves no
 * cell file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, openSync, closeSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cellCubeFromCube, openCellCube, readCellRange } from '../src/ingest/cell-cube.js';
import { buildCatalog } from '../src/ingest/catalog.js';
import { buildCube } from '../src/ingest/cube.js';
import { CUBE_CACHE_DIR } from '../src/ingest/cube-cache.js';
import { streamChunkHours } from '../src/ingest/cell-file.js';
import { schemaDefaults } from '../src/core/config.js';
import { DataError } from '../src/core/errors.js';
import { silentProgress } from '../src/core/progress.js';
import { computeStats } from '../src/prepare/normalize.js';
import { splitHours } from '../src/prepare/split.js';
import { cellFeatureContext, distinctRings, featureSpec } from '../src/prepare/features.js';
import { periodAnchors } from '../src/prepare/windows.js';
import { train } from '../src/commands/train.js';
import { testContext } from '../src/commands/context.js';
import { latLonFixture, writeFixture } from './ingest-fixtures.js';
import { tinyConfig, assertSameWindowsAndBatches } from './train-fixtures.js';

const H = 3_600_000;
const T0 = Date.UTC(2024, 0, 1, 0);
const WIDTH = 12;
const HEIGHT = 7;
const CELLS = WIDTH * HEIGHT;
/** Values with NaN scattered everywhere (for the values), or in one cell only (for windows, which a NaN refuses). */
const speed = (t: number, r: number, c: number) => ((t * 7 + r * 3 + c) % 11 === 0 ? NaN : 5 + 3 * Math.sin(t / 5 + r) + 0.013 * c);
const sparse = (t: number, r: number, c: number) => (r === 3 && c === 5 ? NaN : 5 + 3 * Math.sin(t / 5 + r + c / 4) + 0.013 * c * ((t % 7) - 3));

function dataset(hours: number, bandCount = 1, width = WIDTH, height = HEIGHT, value = speed): string {
  const dir = mkdtempSync(join(tmpdir(), 'windcast-stream-'));
  for (let t = 0; t < hours; t++) {
    const path = join(dir, `w_${new Date(T0 + t * H).toISOString().slice(0, 13)}.tif`);
    writeFixture(path, latLonFixture(width, height, (r, c, b) => (bandCount === 2 ? (b === 0 ? 0.6 : 0.8) : 1) * value(t, r, c), { step: 360 / width, top: (180 * height) / (2 * (height - 1)), nodata: 'nan', compress: 'deflate', bandCount }));
  }
  return dir;
}

/** A budget whose slab is `chunk` hours of `bands` bands (streamChunkHours), far below the cube. */
function budgetFor(chunk: number, bands: number, cells = CELLS): number {
  return 2 * chunk * cells * 4 * (bands + 1);
}

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

const ingest = { ...schemaDefaults().ingest, workers: 1 };
const cacheFiles = (dir: string) => (existsSync(join(dir, CUBE_CACHE_DIR)) ? readdirSync(join(dir, CUBE_CACHE_DIR)) : []);

for (const [bandCount, chunk, encoding] of [[1, 7, 'float32'], [2, 5, 'float32'], [1, 1, 'float32'], [1, 7, 'int16'], [2, 5, 'int16']] as const) {
  test(`over the budget with no cache, the hours stream into a chunked cell file (${bandCount} band(s), ${chunk}-hour chunks, ${encoding}): the in-memory cube's values bit for bit`, async () => {
    const hours = 40;
    const dir = dataset(hours, bandCount);
    const ingest = { ...schemaDefaults().ingest, workers: 1, cacheEncoding: encoding };
    try {
      const layers = bandCount === 2 ? 3 : 1;
      const streamed = await openCellCube(dir, ingest, silentProgress, { budget: budgetFor(chunk, layers) });
      assert.equal(streamed.bands, undefined);
      const disk = streamed.disk!;
      assert.equal(disk.chunkHours, chunk);
      assert.equal(streamChunkHours(CELLS, hours, layers, budgetFor(chunk, layers) / 2), chunk);
      assert.equal(streamed.source.cache?.hit, false);
      // One copy on disk: the cell file only, no time-major cache beside it, no temporary left.
      assert.deepEqual(cacheFiles(dir), [disk.path.split('/').pop()]);
      assert.equal(disk.encoding, encoding);
      assert.equal(statSync(disk.path).size, disk.dataStart + CELLS * hours * (encoding === 'int16' ? 2 : 4) * layers);
      // A second run over budget reuses it; a float32 request does not take int16 values.
      const again = await openCellCube(dir, ingest, silentProgress, { budget: budgetFor(chunk, layers) });
      assert.equal(again.source.cache?.hit, true);
      assert.equal(again.disk?.path, disk.path);
      if (encoding === 'int16') {
        assert.equal((await openCellCube(dir, { ...ingest, cacheEncoding: 'float32' }, silentProgress, { budget: budgetFor(chunk, layers) })).source.cache?.hit, false);
        await openCellCube(dir, ingest, silentProgress, { budget: budgetFor(chunk, layers) });
      }
      // The in-memory path's values (through the int16 cube cache for int16), in a copy of the folder.
      const copy = mkdtempSync(join(tmpdir(), 'windcast-stream-ref-'));
      for (const name of readdirSync(dir).filter((n) => n.endsWith('.tif'))) copyFileSync(join(dir, name), join(copy, name));
      const reference = await openCellCube(copy, ingest, silentProgress, { budget: 2 ** 30 });
      rmSync(copy, { recursive: true, force: true });
      assert.ok(reference.bands);
      assert.deepEqual(streamed.layers, reference.layers);
      assert.deepEqual(streamed.times, reference.times);
      assert.deepEqual(streamed.grid, reference.grid);
      assert.equal(streamed.heightM, reference.heightM);
      const fd = openSync(disk.path, 'r');
      try {
        for (const band of streamed.layers) {
          const out = new Float32Array(CELLS * hours);
          readCellRange(fd, disk, band, 0, CELLS, out);
          assert.deepEqual(bits(out), bits(reference.bands![band]!), band);
          // A range of cells inside the cube, as normalize reads it.
          const part = new Float32Array(10 * hours);
          readCellRange(fd, disk, band, 33, 10, part);
          assert.deepEqual(bits(part), bits(reference.bands![band]!.subarray(33 * hours, 43 * hours)), `${band} cells 33..42`);
        }
      } finally {
        closeSync(fd);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

for (const encoding of ['float32', 'int16'] as const) test(`windows, batches and statistics of a streamed cell file (${encoding}, windows crossing chunks) equal the in-memory path`, async () => {
  const hours = 500;
  const dir = dataset(hours, 2, 24, 13, sparse);
  const ingest = { ...schemaDefaults().ingest, workers: 1, cacheEncoding: encoding };
  try {
    const cells = 24 * 13;
    const streamed = await openCellCube(dir, ingest, silentProgress, { budget: budgetFor(11, 3, cells) });
    assert.equal(streamed.disk?.chunkHours, 11);
    const resident = await openCellCube(dir, ingest, silentProgress, { budget: 2 ** 30 });
    assert.ok(resident.bands);
    const config = tinyConfig();
    const split = splitHours({ hours, lookback: 24, horizon: 24, fractions: config.train.split });
    const stats = computeStats(resident, split.train, 'cell');
    assert.deepEqual(computeStats(streamed, split.train, 'cell'), stats);
    const spec = featureSpec({ lookback: 24, horizon: 24, ringsDeg: distinctRings(resident.grid, [30, 60]), uv: true, dayOfYear: false, predictDelta: true, normalization: 'cell' });
    const a = cellFeatureContext(resident, spec, stats);
    const b = cellFeatureContext(streamed, spec, stats);
    const anchors = periodAnchors(split, split.train);
    assertSameWindowsAndBatches(a, b, anchors, 400, 9);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('windcast train streaming a fresh folder (tiny --memory-budget) gives the same losses and weights as in memory', async () => {
  const data = dataset(480, 1, 12, 7, sparse);
  const models = mkdtempSync(join(tmpdir(), 'windcast-stream-models-'));
  try {
    const config = tinyConfig({ epochs: 2 });
    const results = [];
    // The disk run first, on a folder with no cache: it streams (no time-major cache is written).
    for (const [run, budget] of [['disk', '20000'], ['memory', null]] as const) {
      const ctx = testContext({ ...config, runtime: { ...config.runtime, memoryBudget: budget } });
      results.push(await train({ data, run, modelsDir: models }, ctx));
      if (run === 'disk') assert.ok(cacheFiles(data).every((n) => n.startsWith('cells-')), `only the cell file after the disk run: ${cacheFiles(data)}`);
    }
    const [d, m] = results;
    const losses = (r: typeof m) => r!.history.map((e) => [e.trainRmse, e.validationRmse, e.persistenceRmse, e.linearRmse, e.validationRmseByLead]);
    assert.deepEqual(losses(d), losses(m));
    const weights = (run: string) => readFileSync(join(models, run, 'last', 'weights.bin'));
    assert.ok(weights('memory').equals(weights('disk')));
  } finally {
    rmSync(data, { recursive: true, force: true });
    rmSync(models, { recursive: true, force: true });
  }
});

test('a bad file mid-stream is a DataError naming it, and leaves no cell file (nor a temporary)', async () => {
  const dir = dataset(30);
  try {
    const files = readdirSync(dir).filter((n) => n.endsWith('.tif')).sort();
    const bad = join(dir, files[17]!);
    // Same size and name pattern, garbage inside: the catalog accepts it, the decoder refuses it.
    writeFileSync(bad, Buffer.alloc(statSync(bad).size, 0x5a));
    await assert.rejects(openCellCube(dir, ingest, silentProgress, { budget: budgetFor(4, 1) }), (err: unknown) => err instanceof DataError && err.message.includes(bad));
    assert.deepEqual(cacheFiles(dir), []);
    // A grid that differs mid-stream is named too.
    writeFixture(bad, latLonFixture(WIDTH + 1, HEIGHT, () => 1, { step: 360 / (WIDTH + 1), top: 90, nodata: 'nan' }));
    await assert.rejects(openCellCube(dir, ingest, silentProgress, { budget: budgetFor(4, 1) }), (err: unknown) => err instanceof DataError && err.message.includes(bad) && /grid differs/.test(err.message));
    assert.deepEqual(cacheFiles(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('killed mid-write, the streamed cell file is absent (a temporary at most); the next run removes that, rebuilds, and never trusts a partial file', async () => {
  const hours = 240;
  const dir = dataset(hours, 1, 48, 25);
  const cells = 48 * 25;
  const budget = budgetFor(2, 1, cells);
  try {
    const script = join(dir, 'child.mjs');
    const cellCube = pathToFileURL(join(import.meta.dirname, '../src/ingest/cell-cube.js')).href;
    const config = pathToFileURL(join(import.meta.dirname, '../src/core/config.js')).href;
    const progress = pathToFileURL(join(import.meta.dirname, '../src/core/progress.js')).href;
    writeFileSync(script, `import { openCellCube } from '${cellCube}';\nimport { schemaDefaults } from '${config}';\nimport { silentProgress } from '${progress}';\nawait openCellCube(${JSON.stringify(dir)}, { ...schemaDefaults().ingest, workers: 1 }, silentProgress, { budget: ${budget} });\nconsole.log('finished');\n`);
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    // Kill it once its temporary holds some chunks (the header and more), well before the end.
    const cacheDir = join(dir, CUBE_CACHE_DIR);
    const full = cells * hours * 4;
    let seen = 0;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const tmp = cacheFiles(dir).find((n) => n.endsWith('.tmp'));
      if (tmp) {
        try {
          seen = statSync(join(cacheDir, tmp)).size;
        } catch {
          seen = 0;
        }
        if (seen > full / 8) break;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    child.kill('SIGKILL');
    await exited;
    assert.equal(out.includes('finished'), false, 'the child was killed before it finished');
    assert.ok(seen > 0 && seen < full, `killed mid-write (${seen} of ${full} bytes)`);
    const left = cacheFiles(dir);
    assert.ok(left.every((n) => n.endsWith('.tmp')), `only a temporary is left: ${left}`);
    assert.ok(left.length === 1);
    // A partial file under the final name (a copy of the temporary) is not trusted either.
    const partialName = left[0]!.replace(/^\.(cells-.*\.bin)\..*$/, '$1');
    copyFileSync(join(cacheDir, left[0]!), join(cacheDir, partialName));
    const rebuilt = await openCellCube(dir, ingest, silentProgress, { budget });
    assert.equal(rebuilt.source.cache?.hit, false, 'the partial file was not trusted');
    assert.equal(rebuilt.disk?.path, join(cacheDir, partialName));
    assert.deepEqual(cacheFiles(dir), [partialName], 'the dead writer\'s temporary is gone');
    const reference = cellCubeFromCube(await buildCube(await buildCatalog(dir, { glob: '*.tif', timePattern: 'auto' }), { cacheEncoding: 'float32', cache: false, workers: 1 }, silentProgress));
    const fd = openSync(rebuilt.disk!.path, 'r');
    try {
      const values = new Float32Array(cells * hours);
      readCellRange(fd, rebuilt.disk!, 'speed', 0, cells, values);
      assert.deepEqual(bits(values), bits(reference.bands!.speed));
    } finally {
      closeSync(fd);
    }
    // Truncated by one byte, the file is rebuilt rather than read.
    truncateSync(rebuilt.disk!.path, statSync(rebuilt.disk!.path).size - 1);
    assert.equal((await openCellCube(dir, ingest, silentProgress, { budget })).source.cache?.hit, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});


