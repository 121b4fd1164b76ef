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
import { cellCount, type GridSpec } from '../src/core/grid.js';
import { silentProgress } from '../src/core/progress.js';
import { HOUR_MS } from '../src/core/time.js';
import { openCellCube } from '../src/ingest/cell-cube.js';
import { readHoursOfCells, writeChunkedCellFile, type CellBand } from '../src/ingest/cell-file.js';
import { loadDataCube, type Cube } from '../src/ingest/cube.js';
import { openGridded, openGriddedSlabs, readGridded } from '../src/ingest/gridded.js';
import { double, hoursSince1900, pack, short, writeNetcdf3, writeNetcdf4, writeZarrV3, type Nc3Var } from './gridded-fixtures.js';
import { makeCube, writeTinyCliConfig } from './train-fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'windcast-gridded-ooc-'));
after(() => rmSync(root, { recursive: true, force: true }));

const T0 = Date.UTC(2023, 0, 1);
const HOURS = 600;
const GRID: GridSpec = { width: 10, height: 8, lon0: 0, lat0: 48, dLon: 1, dLat: 1, pixelIsPoint: true, sourceSouthUp: false, epsg: 4326 };
const LATS = Array.from({ length: GRID.height }, (_, r) => GRID.lat0 - r);
const LONS = Array.from({ length: GRID.width }, (_, c) => GRID.lon0 + c);
const NAMES = ['u100', 'v100', 'u10', 'v10'] as const;

/** The four wind fields (time x lat x lon, north-up), with NaN in a few places of u100 and v10. */
function windFields(): Record<(typeof NAMES)[number], number[]> {
  const cube = makeCube({ hours: HOURS, grid: GRID, seed: 11, uv: true, start: T0 });
  const u = Array.from(cube.u!);
  const v = Array.from(cube.v!);
  const fields = { u100: u, v100: v, u10: u.map((x, i) => 0.7 * x + 0.1 * Math.sin(i)), v10: v.map((x, i) => 0.7 * x - 0.1 * Math.cos(i)) };
  for (const i of [3, 417, 25_000, 47_999]) fields.u100[i] = NaN;
  for (const i of [80, 30_001]) fields.v10[i] = NaN;
  return fields;
}

const hoursOf = (first: number, count: number) => Array.from({ length: count }, (_, t) => first + t);

/** NetCDF3 packed int16 (legacy CDS), hours [first, first + count) of the fields. */
function writeNc3(path: string, fields: ReturnType<typeof windFields>, first: number, count: number): void {
  const cells = cellCount(GRID);
  const vars: Nc3Var[] = [
    { name: 'longitude', dims: ['longitude'], type: 'float', attrs: { units: 'degrees_east' }, data: LONS },
    { name: 'latitude', dims: ['latitude'], type: 'float', attrs: { units: 'degrees_north' }, data: LATS },
    { name: 'time', dims: ['time'], type: 'int', attrs: { units: 'hours since 1900-01-01 00:00:00.0', calendar: 'gregorian' }, data: hoursOf(first, count).map((t) => hoursSince1900(T0 + t * HOUR_MS)) },
    ...NAMES.map((name) => ({
      name,
      dims: ['time', 'latitude', 'longitude'],
      type: 'short' as const,
      attrs: { scale_factor: double(0.001), add_offset: double(0.5), _FillValue: short(-32767), missing_value: short(-32767), units: 'm s**-1' },
      data: pack(fields[name].slice(first * cells, (first + count) * cells), 0.001, 0.5),
    })),
  ];
  writeNetcdf3(path, { version: 2, records: count, dims: [{ name: 'longitude', size: LONS.length }, { name: 'latitude', size: LATS.length }, { name: 'time', size: 0 }], attrs: { Conventions: 'CF-1.6' }, vars });
}

/** The three inputs, each in a folder of its own (the cell file goes in its .windcast-cache). */
async function writeInputs(): Promise<Record<'netcdf3' | 'netcdf4' | 'zarr', string>> {
  const fields = windFields();
  const nc3 = join(root, 'nc3');
  mkdirSync(nc3);
  writeNc3(join(nc3, 'a.nc'), fields, 0, 250);
  writeNc3(join(nc3, 'b.nc'), fields, 250, HOURS - 250);
  const nc4 = join(root, 'nc4');
  mkdirSync(nc4);
  const shape = [HOURS, LATS.length, LONS.length];
  const fill = { _FillValue: { dtype: '<f' as const, value: NaN }, units: 'm s**-1' };
  await writeNetcdf4(join(nc4, 'era5.nc'), [
    { name: 'latitude', dims: ['latitude'], dtype: '<d', shape: [LATS.length], data: LATS, attrs: { units: 'degrees_north', standard_name: 'latitude' } },
    { name: 'longitude', dims: ['longitude'], dtype: '<d', shape: [LONS.length], data: LONS, attrs: { units: 'degrees_east', standard_name: 'longitude' } },
    { name: 'valid_time', dims: ['valid_time'], dtype: '<q', shape: [HOURS], data: hoursOf(0, HOURS).map((t) => (T0 + t * HOUR_MS) / 1000), attrs: { standard_name: 'time', units: 'seconds since 1970-01-01', calendar: 'proleptic_gregorian' } },
    ...NAMES.map((name) => ({ name, dims: ['valid_time', 'latitude', 'longitude'], dtype: '<f' as const, shape, data: fields[name], attrs: fill, deflate: 1 })),
  ], { Conventions: 'CF-1.7' });
  const zarr = join(root, 'zarr', 'era5.zarr');
  mkdirSync(join(root, 'zarr'));
  await writeZarrV3(zarr, [
    { name: 'time', dims: ['time'], shape: [HOURS], chunks: [HOURS], dtype: 'int64', data: hoursOf(0, HOURS).map((t) => hoursSince1900(T0 + t * HOUR_MS)), attrs: { units: 'hours since 1900-01-01', calendar: 'proleptic_gregorian' }, fillValue: null },
    { name: 'latitude', dims: ['latitude'], shape: [LATS.length], dtype: 'float32', data: LATS, attrs: { units: 'degrees_north' } },
    { name: 'longitude', dims: ['longitude'], shape: [LONS.length], dtype: 'float32', data: LONS, attrs: { units: 'degrees_east' } },
    ...NAMES.map((name) => ({ name, dims: ['time', 'latitude', 'longitude'], shape, chunks: [48, LATS.length, LONS.length], dtype: 'float32' as const, data: fields[name], attrs: { units: 'm s**-1' } })),
  ]);
  return { netcdf3: join(nc3, '*.nc'), netcdf4: join(nc4, 'era5.nc'), zarr };
}

let written: ReturnType<typeof writeInputs> | undefined;
/** Written once, by the first test that needs them. */
const inputs = () => (written ??= writeInputs());
const ingest = { ...schemaDefaults().ingest, workers: 1 };

function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) assert.fail(`${what}: value ${i} is ${a[i]} on disk, ${b[i]} in memory`);
}

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
    err instanceof DataError && /memory budget of 0\.00 GiB/.test(err.message) && /with ingest\.cache off nothing is written beside the data/.test(err.message));
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
