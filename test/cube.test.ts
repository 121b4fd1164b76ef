import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, constants, existsSync, mkdtempSync, openSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCatalog } from '../src/ingest/catalog.js';
import { buildCube, frame, type BuildCubeOptions } from '../src/ingest/cube.js';
import { decodeFiles } from '../src/ingest/decode-pool.js';
import { readRasterHeader } from '../src/ingest/raster.js';
import { DataError } from '../src/core/errors.js';
import { silentProgress } from '../src/core/progress.js';
import { encodeFixture, latLonFixture, writeFixture, type FixtureOptions } from './ingest-fixtures.js';

type HourOptions = Partial<FixtureOptions> & { bandCount?: number; step?: number; top?: number; west?: number };

const H = 3_600_000;
const T0 = Date.UTC(2024, 0, 1, 0);
const W = 12;
const HT = 7;

/** Speed at (hour, row, col) in m/s; some cells nodata so NaN handling is exercised. */
const speed = (t: number, r: number, c: number) => ((t * 7 + r * 3 + c) % 11 === 0 ? NaN : 0.37 * t + 1.1 * r + 0.013 * c);

function dataset(hours: number, o: HourOptions = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'windcast-cube-'));
  for (let t = 0; t < hours; t++) writeHour(dir, t, o);
  return dir;
}

function hourName(t: number): string {
  return `w_${new Date(T0 + t * H).toISOString().slice(0, 13)}.tif`;
}

function writeHour(dir: string, t: number, o: HourOptions = {}): string {
  const path = join(dir, hourName(t));
  const uv = o.bandCount === 2;
  writeFixture(path, latLonFixture(W, HT, (r, c, b) => (uv ? (b === 0 ? 0.6 : 0.8) * speed(t, r, c) : speed(t, r, c)), {
    step: 30, top: 105, nodata: 'nan', compress: 'deflate', ...o,
  }));
  return path;
}

const opts = (o: Partial<BuildCubeOptions> = {}): BuildCubeOptions => ({ cacheEncoding: 'float32', cache: true, workers: 2, ...o });
const catalogOf = (dir: string) => buildCatalog(dir, { glob: '*.tif', timePattern: 'auto' });

function assertCubeValues(cube: Awaited<ReturnType<typeof buildCube>>, hours: number, tolerance: number): void {
  assert.equal(cube.times.length, hours);
  assert.equal(cube.speed.length, hours * W * HT);
  for (let t = 0; t < hours; t++) {
    assert.equal(cube.times[t], T0 + t * H);
    const f = frame(cube, t);
    for (let r = 0; r < HT; r++) {
      for (let c = 0; c < W; c++) {
        const want = speed(t, r, c);
        const got = f[r * W + c]!;
        if (Number.isNaN(want)) assert.ok(Number.isNaN(got), `t${t} r${r} c${c}: expected NaN, got ${got}`);
        else assert.ok(Math.abs(got - want) <= tolerance, `t${t} r${r} c${c}: ${got} vs ${want}`);
      }
    }
  }
}

test('decodes every hour into time x lat x lon, then reloads the same cube from the cache', async () => {
  const dir = dataset(9);
  try {
    const first = await buildCube(await catalogOf(dir), opts(), silentProgress);
    assertCubeValues(first, 9, 1e-6);
    assert.equal(first.grid.width, W);
    assert.equal(first.source.cache?.hit, false);
    assert.ok(existsSync(first.source.cache!.path));
    assert.ok(first.source.cache!.path.startsWith(join(dir, '.windcast-cache', 'cube-')));

    const second = await buildCube(await catalogOf(dir), opts(), silentProgress);
    assert.equal(second.source.cache?.hit, true);
    assert.deepEqual(second.grid, first.grid);
    assert.deepEqual(Array.from(second.times), Array.from(first.times));
    assert.deepEqual(Array.from(second.speed), Array.from(first.speed));
    assert.equal(second.source.fingerprint, first.source.fingerprint);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the cache is invalidated when a file changes, is added or removed', async () => {
  const dir = dataset(4);
  try {
    const a = await buildCube(await catalogOf(dir), opts(), silentProgress);
    // Same size, new contents and mtime: must be decoded again.
    const p = join(dir, hourName(2));
    writeFixture(p, latLonFixture(W, HT, () => 42, { step: 30, top: 105, nodata: 'nan', compress: 'deflate' }));
    utimesSync(p, new Date(), new Date(Date.now() + 5000));
    const b = await buildCube(await catalogOf(dir), opts(), silentProgress);
    assert.equal(b.source.cache?.hit, false);
    assert.notEqual(b.source.fingerprint, a.source.fingerprint);
    assert.equal(frame(b, 2)[5], 42);
    // Only the current cache file is kept.
    assert.deepEqual(readdirSync(join(dir, '.windcast-cache')).length, 1);

    writeHour(dir, 4);
    const c = await buildCube(await catalogOf(dir), opts(), silentProgress);
    assert.equal(c.source.cache?.hit, false);
    assert.equal(c.times.length, 5);

    rmSync(join(dir, hourName(4)));
    const d = await buildCube(await catalogOf(dir), opts(), silentProgress);
    assert.equal(d.source.cache?.hit, false);
    assert.equal(d.times.length, 4);
    assert.equal((await buildCube(await catalogOf(dir), opts(), silentProgress)).source.cache?.hit, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('int16 cache: error within the documented 0.005 m/s, NaN kept', async () => {
  const dir = dataset(5);
  try {
    await buildCube(await catalogOf(dir), opts({ cacheEncoding: 'int16' }), silentProgress);
    const cube = await buildCube(await catalogOf(dir), opts({ cacheEncoding: 'int16' }), silentProgress);
    assert.equal(cube.source.cache?.hit, true);
    assert.equal(cube.source.cache?.encoding, 'int16');
    assertCubeValues(cube, 5, 0.005 + 1e-5);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('u/v files give u, v and speed = hypot(u, v)', async () => {
  const dir = dataset(3, { bandCount: 2 });
  try {
    const cube = await buildCube(await catalogOf(dir), opts({ cache: false }), silentProgress);
    assert.ok(cube.u && cube.v);
    assertCubeValues(cube, 3, 1e-5);
    const i = 1 * W * HT + 2 * W + 3;
    assert.ok(Math.abs(cube.u[i]! - 0.6 * speed(1, 2, 3)) < 1e-5);
    assert.equal(cube.source.cache, undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a grid mismatch names both files and what differs', async () => {
  const dir = dataset(4);
  try {
    writeHour(dir, 2, { west: 15 });
    await assert.rejects(buildCube(await catalogOf(dir), opts(), silentProgress), (err: unknown) => {
      assert.ok(err instanceof DataError);
      assert.match(err.message, new RegExp(`^${join(dir, hourName(2))}: grid differs from the first file ${join(dir, hourName(0))}: first cell centre`));
      return true;
    });
    writeHour(dir, 2, { bandCount: 2 });
    await assert.rejects(buildCube(await catalogOf(dir), opts(), silentProgress), /1 band\(s\) vs 2/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('broken files among good ones: a DataError naming the first, and a count of the rest', async () => {
  const dir = dataset(6);
  try {
    writeFileSync(join(dir, hourName(1)), '');
    const bytes = encodeFixture(latLonFixture(W, HT, () => 1, { step: 30, top: 105 }));
    writeFileSync(join(dir, hourName(4)), bytes.subarray(0, 100));
    await assert.rejects(buildCube(await catalogOf(dir), opts(), silentProgress), (err: unknown) => {
      assert.ok(err instanceof DataError);
      assert.match(err.message, new RegExp(`^${join(dir, hourName(1))}: empty file \\(0 bytes\\).*\\(and 1 more file refused`));
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a gap in the hours stops training before any decoding', async () => {
  const dir = dataset(5);
  try {
    rmSync(join(dir, hourName(3)));
    await assert.rejects(catalogOf(dir), /1 missing hour in 1 gap: 2024-01-01T03:00Z/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a corrupt cache file is rebuilt, not trusted', async () => {
  const dir = dataset(3);
  try {
    const a = await buildCube(await catalogOf(dir), opts(), silentProgress);
    writeFileSync(a.source.cache!.path, 'WCUBE001garbage');
    const b = await buildCube(await catalogOf(dir), opts(), silentProgress);
    assert.equal(b.source.cache?.hit, false);
    assertCubeValues(b, 3, 1e-6);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// The test's own timeout: without a working watchdog the pool would wait forever.
test('a file whose decoding never finishes is given up after the timeout, with its name', { timeout: 30_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'windcast-watchdog-'));
  // A named pipe with no writer: opening it blocks the decoder thread for good, the way a
  // decoder spinning on a corrupt file would.
  const fifo = join(dir, 'windspeed_2024-01-01T01Z.tif');
  if (spawnSync('mkfifo', [fifo]).status !== 0) {
    t.skip('mkfifo is not available');
    return;
  }
  try {
    const real = join(dir, 'windspeed_2024-01-01T00Z.tif');
    writeFixture(real, latLonFixture(8, 4, (r, c) => r + c));
    const reference = await readRasterHeader(real);
    const started = Date.now();
    await assert.rejects(
      decodeFiles({ files: [fifo], reference, workers: 1, progress: silentProgress, label: 'test', timeoutSeconds: 1 }),
      (err: unknown) => err instanceof DataError && err.message.includes(fifo) && /did not finish within 1 s; the file is probably corrupt/.test(err.message),
    );
    assert.ok(Date.now() - started < 10_000, 'gave up after about the timeout');
  } finally {
    // Release the blocked thread (non-blocking: if nothing waits on the pipe, nothing to do).
    try {
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // ENXIO: no reader left
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
