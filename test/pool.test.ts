/**
 * The thread layer (runtime/pool.ts) on a fixture worker and on the three real pools: results
 * in order; a DataError thrown on a thread comes back as a DataError naming its file; any other
 * failure, or a thread that dies, is an internal error naming the task; a task past its time
 * limit is given up with the caller's error; a failure stops the run.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildCatalog } from '../src/ingest/catalog.js';
import { buildCube } from '../src/ingest/cube.js';
import { DataError, WindcastError } from '../src/core/errors.js';
import { era5Grid } from '../src/core/grid.js';
import { silentProgress } from '../src/core/progress.js';
import { openPool, runAll, threadCount } from '../src/runtime/pool.js';
import { writeGeoTiffs } from '../src/output/forecast-files.js';
import { synth } from '../src/commands/synth.js';
import { testContext } from '../src/commands/context.js';
import { parseConfig } from '../src/core/config.js';
import { latLonFixture, writeFixture } from './ingest-fixtures.js';
import type { FixtureTask } from './pool-fixture.worker.js';

const FIXTURE = new URL('./pool-fixture.worker.js', import.meta.url);
const tmp = () => mkdtempSync(join(tmpdir(), 'windcast-pool-'));

function fixturePool(threads = 2) {
  return openPool<FixtureTask, unknown>({ worker: FIXTURE, threads, role: 'fixture' });
}

test('thread count: 0 is one per core, never more threads than tasks, at least one', () => {
  assert.equal(threadCount(3, 10), 3);
  assert.equal(threadCount(8, 2), 2);
  assert.equal(threadCount(4, 0), 1);
  assert.ok(threadCount(0, 1000) >= 1);
  assert.equal(threadCount(0, 1), 1);
});

test('runAll: results in task order whatever order the threads finish in; buffers can move', async () => {
  const pool = fixturePool();
  try {
    const tasks: FixtureTask[] = [30, 0, 20, 5, 0, 10].map((delayMs, value) => ({ kind: 'double', value, delayMs }));
    const seen: number[] = [];
    const results = await runAll(pool, tasks, { options: (t, i) => ({ label: `task ${i}` }), onResult: (_r, i) => seen.push(i) });
    assert.deepEqual(results, [0, 2, 4, 6, 8, 10]);
    assert.equal(seen.length, 6);
    assert.notDeepEqual(seen, [0, 1, 2, 3, 4, 5], 'the slow first task finished after quicker ones');
    const bytes = new Uint8Array([1, 2, 3, 250]).buffer;
    assert.equal(await pool.run({ kind: 'sum', bytes }, { label: 'sum', transfer: [bytes] }), 256);
    assert.equal(bytes.byteLength, 0, 'the buffer was moved, not copied');
  } finally {
    await pool.close();
  }
});

test('error mapping: DataError keeps its class and file, other kinds their kind, anything else is internal and names the task', async () => {
  const pool = fixturePool(1);
  try {
    await assert.rejects(pool.run({ kind: 'data-error', file: '/data/x.tif' }, { label: '/data/x.tif' }), (e: unknown) => {
      assert.ok(e instanceof DataError);
      assert.equal(e.file, '/data/x.tif');
      assert.equal(e.message, '/data/x.tif: not a GeoTIFF');
      return true;
    });
    await assert.rejects(pool.run({ kind: 'checkpoint-error' }, { label: 'c' }), (e: unknown) => e instanceof WindcastError && e.kind === 'checkpoint' && e.message === 'models/x: not a checkpoint');
    await assert.rejects(pool.run({ kind: 'bug' }, { label: 'hour 7' }), (e: unknown) => e instanceof WindcastError && e.kind === 'internal' && e.message === 'hour 7: fixture thread failed: undefined is not a function');
    await assert.rejects(pool.run({ kind: 'exit' }, { label: 'hour 8' }), (e: unknown) => e instanceof WindcastError && e.kind === 'internal' && /^hour 8: fixture thread failed: .*exited with code: 3/.test(e.message));
    // The pool carries on after a thread died.
    assert.equal(await pool.run({ kind: 'double', value: 21 }, { label: 'after' }), 42);
  } finally {
    await pool.close();
  }
});

test('a task past its time limit is given up with the caller\'s error, and its thread is ended', { timeout: 30_000 }, async () => {
  const pool = fixturePool(1);
  try {
    const started = Date.now();
    await assert.rejects(
      pool.run({ kind: 'hang' }, { label: 'spin.tif', timeoutSeconds: 0.5, timeoutError: () => new DataError('spin.tif', 'decoding did not finish') }),
      (e: unknown) => e instanceof DataError && e.message === 'spin.tif: decoding did not finish',
    );
    assert.ok(Date.now() - started < 10_000);
    assert.equal(await pool.run({ kind: 'double', value: 2 }, { label: 'next' }), 4, 'a fresh thread took over');
  } finally {
    await pool.close();
  }
});

test('threads that cannot start fail every task, never leave one waiting', { timeout: 30_000 }, async () => {
  const pool = openPool<FixtureTask, unknown>({ worker: FIXTURE, threads: 2, role: 'fixture', workerData: { failToStart: true } });
  try {
    const tasks: FixtureTask[] = Array.from({ length: 5 }, (_, value) => ({ kind: 'double', value }));
    for (const task of tasks) {
      await assert.rejects(pool.run(task, { label: `task ${task.kind}` }), (e: unknown) => e instanceof WindcastError && e.kind === 'internal' && /^task double: fixture thread failed: the fixture cannot start/.test(e.message));
    }
  } finally {
    await pool.close();
  }
});

test('closing the pool while a task runs: the task is abandoned, nothing is thrown later', async () => {
  const pool = fixturePool(1);
  const running = pool.run({ kind: 'double', value: 1, delayMs: 50 }, { label: 'slow' });
  const abandoned = assert.rejects(running, /slow: the fixture pool was closed before the task finished/);
  await new Promise((r) => setTimeout(r, 10));
  await pool.close();
  await abandoned;
  // The thread's late answer (if any) must not surface as an uncaught error.
  await new Promise((r) => setTimeout(r, 100));
});

test('runAll stops at the first failure and starts no further task', async () => {
  const pool = fixturePool(1);
  try {
    const started: number[] = [];
    const tasks: FixtureTask[] = [{ kind: 'double', value: 1 }, { kind: 'data-error', file: 'b.tif' }, { kind: 'double', value: 3 }];
    await assert.rejects(runAll(pool, tasks, { options: (_t, i) => (started.push(i), { label: `t${i}` }) }), /b\.tif: not a GeoTIFF/);
    assert.deepEqual(started, [0, 1]);
  } finally {
    await pool.close();
  }
});

test('decode pool: a file that is not a GeoTIFF is a DataError naming it', async () => {
  const dir = tmp();
  try {
    for (let h = 0; h < 3; h++) writeFixture(join(dir, `windspeed_2024-01-01T0${h}Z.tif`), latLonFixture(8, 4, (r, c) => r + c + h));
    const bad = join(dir, 'windspeed_2024-01-01T03Z.tif');
    writeFileSync(bad, 'not a tiff at all');
    const catalog = await buildCatalog(dir, { glob: '*.tif', timePattern: 'auto' });
    await assert.rejects(buildCube(catalog, { cache: false, cacheEncoding: 'float32', workers: 2 }, silentProgress), (e: unknown) => e instanceof DataError && e.file === bad && e.message.startsWith(`${bad}: `));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('synth pool: an hour that cannot be written is a DataError naming its file', async () => {
  const out = tmp();
  try {
    // A folder where the second hour's file goes: the rename over it fails.
    const blocked = join(out, 'windspeed_2024-01-01T01Z.tif');
    mkdirSync(blocked);
    writeFileSync(join(blocked, 'keep'), 'x');
    const ctx = testContext(parseConfig({ synth: { step: 10, hours: 3, start: '2024-01-01T00Z' } }, 'test'));
    await assert.rejects(synth({ out, workers: 2 }, ctx), (e: unknown) => e instanceof DataError && e.file === blocked && e.message.startsWith(`${blocked}: cannot write`));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('GeoTIFF writer pool: a file that cannot be written is a DataError naming it', async () => {
  const dir = tmp();
  try {
    const grid = era5Grid({ step: 30 });
    const band = () => new Float32Array(grid.width * grid.height).fill(4);
    const ok = join(dir, 'a.tif');
    const missing = join(dir, 'no-such-folder', 'b.tif');
    let ticks = 0;
    await assert.rejects(
      writeGeoTiffs([{ path: ok, options: { grid, bands: [band()], compress: 'deflate' } }, { path: missing, options: { grid, bands: [band()], compress: 'deflate' } }], { tick: () => ticks++, done: () => {} }),
      (e: unknown) => e instanceof DataError && e.file === missing && e.message.startsWith(`${missing}: cannot write`),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
