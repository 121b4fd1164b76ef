/**
 * Evaluate on a cube that stays on disk (evaluate/cube-access.ts): over the memory budget it
 * reads the cell file training reads, in slabs of test hours and blocks of cells, and its report
 * is the in-memory one, every number of it. First on a fake checkpoint with the cell file
 * written from a cube in memory (one chunk; a 700-day cube for the seasonal climatology), then
 * through `windcast evaluate` with a tiny --memory-budget on synthetic GeoTIFFs with u/v: a
 * trained model's forecasts and quantiles, power, shards merged, the cell file written from the
 * cache (one chunk) and streamed from the files (one-hour chunks).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { closeSync, openSync } from 'node:fs';
import { cellCount } from '../src/core/grid.js';
import { silentProgress } from '../src/core/progress.js';
import { readHoursOfCells, writeCellFile, type CellBand } from '../src/ingest/cell-file.js';
import type { CellCube } from '../src/ingest/cell-cube.js';
import type { Cube } from '../src/ingest/cube.js';
import { evaluateCube } from '../src/evaluate/evaluate.js';
import { runCli } from '../src/cli.js';
import { makeCube, writeTinyCliConfig } from './train-fixtures.js';
import { fakeCheckpoint, noTf, settings, tempDir } from './evaluate-fixtures.js';

/** The cell file of a cube in memory (one chunk), as a CellCube on disk. */
function onDisk(cube: Cube, dir: string): CellCube {
  const cells = cellCount(cube.grid);
  const hours = cube.times.length;
  const from: Partial<Record<CellBand, Float32Array>> = { speed: cube.speed, u: cube.u, v: cube.v };
  const bands = (['speed', 'u', 'v'] as const).filter((b) => from[b]);
  const file = writeCellFile(join(dir, 'cells-test.bin'), 'test', { cells, hours, bands: [...bands], values: 'float32', read: (b, index, n, out) => out.set(from[b]!.subarray(index, index + n)) }, silentProgress);
  return { grid: cube.grid, times: cube.times, heightM: cube.heightM ?? null, otherHeightM: null, source: cube.source, layers: [...bands], disk: file };
}

/** A report minus what differs between two runs of the same evaluation: its creation time and timings. */
function numbers(report: object): unknown {
  const r = JSON.parse(JSON.stringify(report));
  delete r.createdAt;
  delete r.run;
  return r;
}

test('readHoursOfCells gives the time-major values of any cells and hours, whatever the chunks', () => {
  const dir = tempDir('windcast-ooc-read-');
  const cube = makeCube({ hours: 50, step: 30, seed: 3, nans: 40 });
  const disk = onDisk(cube, dir).disk!;
  const n = cellCount(cube.grid);
  const fd = openSync(disk.path, 'r');
  try {
    const cells = Int32Array.from([5, 0, n - 1, 17, 17, 3]);
    // One chunk here; the streamed file of one-hour chunks is read in the CLI test below.
    for (const [first, count] of [[0, 50], [13, 9], [49, 1]] as const) {
      const out = new Float32Array(cells.length * count);
      readHoursOfCells(fd, disk, 'speed', cells, first, count, out);
      for (let t = 0; t < count; t++) for (let i = 0; i < cells.length; i++) assert.ok(Object.is(out[t * cells.length + i], cube.speed[(first + t) * n + cells[i]!]), `hour ${first + t}, cell ${cells[i]}`);
    }
    assert.throws(() => readHoursOfCells(fd, disk, 'speed', cells, 45, 6, new Float32Array(cells.length * 6)), /not inside/);
    assert.throws(() => readHoursOfCells(fd, disk, 'u', cells, 0, 1, new Float32Array(cells.length)), /has no u band/);
  } finally {
    closeSync(fd);
  }
});

test('evaluate from the cell file in slabs of test hours is the in-memory report: scores, skills, intervals, fits, quantiles; hour of day and seasonal', () => {
  const dir = tempDir('windcast-ooc-fake-');
  // 480 hours: climatology by hour of day; 700 days (train 420 days): by day of year and hour.
  for (const [hours, stride, kind] of [[480, 3, 'hour-of-day'], [700 * 24, 48, 'day-of-year-and-hour']] as const) {
    const cube = makeCube({ hours, step: 30, seed: 7, nans: 200 });
    const { dir: checkpointDir, forecaster } = fakeCheckpoint(cube);
    const base = { forecaster, checkpointDir, dataDir: '/fixture', settings: settings({ stride, cellStride: 2, bootstrapResamples: 300, linearSampleCells: 40 }), tf: noTf, backend: 'test', progress: silentProgress };
    const resident = evaluateCube({ ...base, cube });
    assert.equal(resident.baselines.climatology.kind, kind);
    const cells = onDisk(cube, dir);
    // A slab of one window's reach (the smallest) and one of a few days: many slab edges, then few.
    for (const slabBytes of [1, 4 * 24 * 7 * cellCount(cube.grid) * 4]) {
      const fromDisk = evaluateCube({ ...base, cube: cells, slabBytes });
      assert.deepEqual(numbers(fromDisk), numbers(resident), `${hours} hours, slabs of ${slabBytes} bytes`);
    }
  }
});

test('windcast evaluate with a tiny --memory-budget reads the cube from disk: the in-memory report and charts, sharded too', async () => {
  const root = mkdtempSync(join(tmpdir(), 'windcast-ooc-cli-'));
  try {
    const data = join(root, 'data');
    const models = join(root, 'models');
    const tiny = join(root, 'tiny.json');
    writeTinyCliConfig(tiny);
    await runCli(['--quiet', 'synth', '--out', data, '--bbox', '0,40,10,48', '--step', '1', '--hours', '580', '--bands', 'uv']);
    await runCli(['--quiet', '--config', tiny, 'train', '--data', data, '--run', 't', '--models-dir', models]);
    const model = join(models, 't');
    const flags = ['--model', model, '--data', data, '--backend', 'cpu', '--stride', '5', '--turbine', 'nrel-5mw'];
    const evaluate = (out: string, ...more: string[]) => runCli(['--quiet', '--config', tiny, 'evaluate', ...flags, '--out', out, ...more]);
    const report = (out: string) => numbers(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')));
    const chart = (out: string) => readFileSync(join(out, 'rmse_by_lead.png'));

    const memory = join(root, 'memory');
    await evaluate(memory);
    const cache = join(data, '.windcast-cache');
    assert.ok(!readdirSync(cache).some((f) => f.startsWith('cells-')), 'in memory, no cell file is made');

    // From the cube cache: the cell file is one chunk.
    const disk = join(root, 'disk');
    await evaluate(disk, '--memory-budget', '1000');
    assert.ok(readdirSync(cache).some((f) => f.startsWith('cells-')), 'over the budget, the cell file is made');
    assert.deepEqual(report(disk), report(memory));
    assert.ok(chart(disk).equals(chart(memory)), 'the same chart');

    // Sharded on disk, merged: the in-memory report.
    const sharded = join(root, 'sharded');
    for (let i = 0; i < 2; i++) await evaluate(sharded, '--memory-budget', '1000', '--shard', `${i}/2`);
    await runCli(['--quiet', 'merge', sharded]);
    assert.deepEqual(report(sharded), report(memory));

    // No cache: the hours are streamed into a cell file of one-hour chunks (a budget this small).
    rmSync(cache, { recursive: true, force: true });
    const streamed = join(root, 'streamed');
    await evaluate(streamed, '--memory-budget', '1000');
    assert.ok(!readdirSync(cache).some((f) => f.startsWith('cube-')), 'streamed: no time-major cache');
    assert.deepEqual(report(streamed), report(memory));
    assert.ok(existsSync(join(streamed, 'report.md')));

    // A damaged cell file (cut short) is not trusted: it is streamed again, and the report is the same.
    const cellFile = join(cache, readdirSync(cache).find((f) => f.startsWith('cells-'))!);
    truncateSync(cellFile, Math.floor(statSync(cellFile).size / 2));
    const again = join(root, 'again');
    await evaluate(again, '--memory-budget', '1000');
    assert.deepEqual(report(again), report(memory));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
