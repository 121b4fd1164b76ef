/**
 * Gridded input (NetCDF3, NetCDF4, Zarr) over the memory budget (ingest/gridded-cells.ts): the
 * dataset is read a slab of hours at a time into a cell file, and every value, window, loss and
 * report is the in-memory one. The inputs are written here from a synthetic wind cube with
 * u/v at 100 m and 10 m and a few missing values: NetCDF3 packed int16 in two files joined in
 * time (a slab crosses the seam), NetCDF4 float32 in one file, Zarr v3 chunked in time.
 */
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openSync } from 'node:fs';
import { runCli } from '../src/cli.js';
import { testContext } from '../src/commands/context.js';
import { formatInspectResult, inspect } from '../src/commands/inspect.js';
import { schemaDefaults } from '../src/core/config.js';
import { DataError } from '../src/core/errors.js';
import { cellCount } from '../src/core/grid.js';
import { silentProgress } from '../src/core/progress.js';
import { openCellCube } from '../src/ingest/cell-cube.js';
import { readHoursOfCells, writeChunkedCellFile, type CellBand } from '../src/ingest/cell-file.js';
import { loadDataCube, type Cube } from '../src/ingest/cube.js';
import { openGridded, openGriddedSlabs, readGridded } from '../src/ingest/gridded.js';
import { GRID, HOURS, sameBits, writeWindInputs, type WindInputs } from './gridded-wind-fixtures.js';
import { writeTinyCliConfig } from './train-fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'windcast-gridded-ooc-'));
after(() => rmSync(root, { recursive: true, force: true }));

let written: Promise<WindInputs> | undefined;
/** Written once, by the first test that needs them. */
const inputs = () => (written ??= writeWindInputs(root));
const ingest = { ...schemaDefaults().ingest, workers: 1 };

test('openGriddedSlabs: any split of the hours gives readGridded values, across the files of a glob', async () => {
  const { netcdf3, zarr } = await inputs();
  for (const input of [netcdf3, zarr]) {
    const ds = await openGridded(input);
    const whole = await readGridded(ds);
    const cells = cellCount(ds.grid);
    for (const slab of [1, 7, 250, HOURS]) {
      const reader = openGriddedSlabs(ds, ['u100', 'v10']);
      const out = new Map(['u100', 'v10'].map((n) => [n, new Float32Array(slab * cells)]));
      try {
        for (let h = 0; h < HOURS; h += slab) {
          const n = Math.min(slab, HOURS - h);
          await reader.read(h, n, out);
          for (const name of ['u100', 'v10']) sameBits(out.get(name)!.subarray(0, n * cells), whole.fields.get(name)!.subarray(h * cells, (h + n) * cells), `${input} ${name} hours ${h}+${n}`);
        }
      } finally {
        reader.close();
      }
    }
  }
});

test('gridded input over the memory budget is a cell file with every band the in-memory cube has, bit for bit; reused, rewritten when damaged', async () => {
  const all = await inputs();
  for (const [format, input] of Object.entries(all)) {
    const memory: Cube = await loadDataCube(input, ingest, silentProgress);
    assert.ok(memory.u && memory.v && memory.other, `${format}: u/v at 100 m and at 10 m`);
    // A budget this small streams one-hour chunks; a larger one chunks of many hours.
    for (const budget of [1000, 40 * cellCount(GRID) * 4 * 5 * 2]) {
      const cube = await openCellCube(input, ingest, silentProgress, { budget });
      const disk = cube.disk;
      assert.ok(disk, `${format}: over the budget, on disk`);
      assert.deepEqual(cube.layers, ['speed', 'u', 'v', 'uOther', 'vOther']);
      assert.equal(cube.heightM, 100);
      assert.equal(cube.otherHeightM, 10);
      assert.deepEqual(Array.from(cube.times), Array.from(memory.times));
      assert.deepEqual(cube.grid, memory.grid);
      assert.equal(cube.source.fingerprint, memory.source.fingerprint);
      const fd = openSync(disk.path, 'r');
      try {
        const cells = Int32Array.from({ length: cellCount(GRID) }, (_, i) => i);
        const want: Record<CellBand, Float32Array> = { speed: memory.speed, u: memory.u!, v: memory.v!, uOther: memory.other!.u, vOther: memory.other!.v };
        for (const band of cube.layers) {
          const out = new Float32Array(cells.length * HOURS);
          readHoursOfCells(fd, disk, band, cells, 0, HOURS, out);
          sameBits(out, want[band], `${format} ${band} (budget ${budget})`);
        }
      } finally {
        closeSync(fd);
      }
    }
    // Current: reused as it is.
    const cube = await openCellCube(input, ingest, silentProgress, { budget: 1000 });
    assert.equal(cube.source.cache?.hit, true);
    const path = cube.disk!.path;
    assert.equal(readdirSync(join(path, '..')).filter((f) => f.startsWith('cells-')).length, 1, 'one cell file per data folder');
    // Cut short: not trusted, streamed again.
    truncateSync(path, Math.floor(statSync(path).size / 2));
    const again = await openCellCube(input, ingest, silentProgress, { budget: 1000 });
    assert.equal(again.source.cache?.hit, false);
    assert.equal(statSync(path).size, again.disk!.dataStart + cellCount(GRID) * HOURS * 4 * 5);
  }
});

test('gridded input: with ingest.cache off a cube over the budget is still refused before it is read, saying why', async () => {
  const { netcdf4 } = await inputs();
  await assert.rejects(openCellCube(netcdf4, { ...ingest, cache: false }, silentProgress, { budget: 1000 }), (err: unknown) =>
    err instanceof DataError && /memory budget of 1000 B/.test(err.message) && /with ingest\.cache off nothing is written beside the data/.test(err.message));
});

test('inspect tells the truth about gridded input over the budget: the cube train streams, read from disk; refused with the cache off', async () => {
  const { zarr } = await inputs();
  const config = schemaDefaults();
  config.runtime.memoryBudget = '1000';
  const over = await inspect({ dir: zarr }, testContext(config));
  // speed, u/v at 100 m, u/v at 10 m: five float32 bands of 80 cells x 600 hours.
  assert.deepEqual([over.memory?.cubeBytes, over.memory?.overBudget, over.memory?.overBudgetReads], [cellCount(GRID) * HOURS * 4 * 5, true, 'disk']);
  assert.match(formatInspectResult(over), /over the memory budget .*: train and evaluate read it from a cell file on disk/);
  config.ingest.cache = false;
  const uncached = await inspect({ dir: zarr }, testContext(config));
  assert.equal(uncached.memory?.overBudgetReads, 'refused');
  assert.match(formatInspectResult(uncached), /train and evaluate refuse it \(with ingest\.cache off nothing is written beside the data/);
});

test('writeChunkedCellFile: a fill that throws part way, or stops short, leaves no cell file', async () => {
  const dir = join(root, 'partial');
  const path = join(dir, 'cells-k.bin');
  const options = { path, key: 'k', cells: 4, hours: 10, bands: ['speed'] as CellBand[], chunkHours: 3, encoding: 'float32' as const, fileOfHour: () => 'x.nc' };
  await assert.rejects(writeChunkedCellFile(options, async (_slab, _b, onSlab) => {
    onSlab(0, 3);
    throw new DataError('x.nc', 'unreadable chunk');
  }), /x\.nc: unreadable chunk/);
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('cells-')), []);
  await assert.rejects(writeChunkedCellFile(options, async (_slab, _b, onSlab) => onSlab(0, 3)), /3 of 10 hours were written/);
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('cells-')), []);
  await assert.rejects(writeChunkedCellFile(options, async (_slab, _b, onSlab) => onSlab(3, 3)), /out of order/);
  const file = await writeChunkedCellFile(options, async (slab, _b, onSlab) => {
    for (let h = 0; h < 10; h += 3) {
      const n = Math.min(3, 10 - h);
      for (let i = 0; i < n * 4; i++) slab.speed[i] = h * 4 + i;
      onSlab(h, n);
    }
  });
  const out = new Float32Array(40);
  const fd = openSync(file.path, 'r');
  try {
    readHoursOfCells(fd, file, 'speed', [0, 1, 2, 3], 0, 10, out);
  } finally {
    closeSync(fd);
  }
  assert.deepEqual(Array.from(out), Array.from({ length: 40 }, (_, i) => i));
});

/** A report minus what differs between two runs of the same evaluation: its creation time and timings. */
function numbers(report: object): unknown {
  const r = JSON.parse(JSON.stringify(report));
  delete r.createdAt;
  delete r.run;
  return r;
}

test('windcast train and evaluate with a tiny --memory-budget on NetCDF3, NetCDF4 and Zarr: the in-memory losses, weights and report', async () => {
  const all = await inputs();
  const tiny = join(root, 'tiny.json');
  writeTinyCliConfig(tiny);
  for (const [format, input] of Object.entries(all)) {
    const cache = join(input, '..', '.windcast-cache');
    rmSync(cache, { recursive: true, force: true });
    const models = join(root, `models-${format}`);
    const train = (run: string, ...more: string[]) => runCli(['--quiet', '--config', tiny, 'train', '--data', input, '--run', run, '--models-dir', models, ...more]);
    await train('memory');
    assert.ok(!existsSync(cache) || !readdirSync(cache).some((f) => f.startsWith('cells-')), `${format}: in memory, no cell file is made`);
    await train('disk', '--memory-budget', '1000');
    assert.ok(readdirSync(cache).some((f) => f.startsWith('cells-')), `${format}: over the budget, the cell file is made`);
    const losses = (run: string) => {
      const t = JSON.parse(readFileSync(join(models, run, 'last', 'meta.json'), 'utf8')).training;
      return [t.history.map((e: Record<string, number>) => [e.trainLoss, e.validationLoss, e.validationRmse, e.persistenceRmse]), t.validationRmseByLead, t.persistenceRmseByLead, t.linearRmseByLead];
    };
    assert.equal((losses('memory')[0] as unknown[]).length, 1, `${format}: one epoch recorded`);
    assert.deepEqual(losses('disk'), losses('memory'), `${format}: the same losses`);
    const weights = (run: string) => readFileSync(join(models, run, 'last', 'weights.bin'));
    assert.ok(weights('disk').equals(weights('memory')), `${format}: the same weights`);

    const evaluate = (out: string, ...more: string[]) => runCli(['--quiet', '--config', tiny, 'evaluate', '--model', join(models, 'memory'), '--data', input, '--backend', 'cpu', '--stride', '5', '--out', out, ...more]);
    const report = (out: string) => numbers(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')));
    const memoryOut = join(root, `eval-${format}-memory`);
    const diskOut = join(root, `eval-${format}-disk`);
    await evaluate(memoryOut);
    await evaluate(diskOut, '--memory-budget', '1000');
    assert.deepEqual(report(diskOut), report(memoryOut), `${format}: the same report`);
  }
});
