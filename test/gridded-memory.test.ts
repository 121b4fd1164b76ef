/**
 * Gridded input (NetCDF3, NetCDF4, Zarr) within the memory budget (ingest/gridded-cells.ts,
 * griddedResidentCells): training's cell-major cube is built a slab of hours at a time, never
 * beside the time-major fields, and every value, loss and weight is what the time-major read
 * and its cell-major copy (readGridded, then cellCubeFromCube) gave, for any slab. readGridded
 * itself is the slab reader's frame loop over all the hours, so it is checked against the values
 * the formats' own rules give (gridded-wind-fixtures.ts), not against the slab reader.
 */
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, test } from 'node:test';
import { testContext } from '../src/commands/context.js';
import { train } from '../src/commands/train.js';
import { loadConfig, schemaDefaults } from '../src/core/config.js';
import { cellCount } from '../src/core/grid.js';
import { silentProgress, type Progress } from '../src/core/progress.js';
import { cellCubeFromCube, cellMajor, openCellCube, readCellRange, type CellBand } from '../src/ingest/cell-cube.js';
import { loadDataCube } from '../src/ingest/cube.js';
import { openGridded, openGriddedSlabs, readGridded } from '../src/ingest/gridded.js';
import { griddedResidentCells } from '../src/ingest/gridded-cells.js';
import { expectedFields, expectedSpeed, HOURS, GRID, NAMES, sameBits, writeWindInputs, type WindInputs } from './gridded-wind-fixtures.js';
import { writeTinyCliConfig } from './train-fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'windcast-gridded-memory-'));
after(() => rmSync(root, { recursive: true, force: true }));

let written: Promise<WindInputs> | undefined;
/** Written once, by the first test that needs them. */
const inputs = () => (written ??= writeWindInputs(root));
const ingest = { ...schemaDefaults().ingest, workers: 1 };
const CELLS = cellCount(GRID);
const FORMATS = ['netcdf3', 'netcdf4', 'zarr'] as const;

/** The cube each format must give, cell-major: speed at 100 m from u100/v100, u/v, the 10 m u/v. */
function expectedCellBands(format: (typeof FORMATS)[number]): Record<CellBand, Float32Array> {
  const f = expectedFields(format);
  const timeMajor: Record<CellBand, Float32Array> = { speed: expectedSpeed(f.u100, f.v100), u: f.u100, v: f.v100, uOther: f.u10, vOther: f.v10 };
  return Object.fromEntries(Object.entries(timeMajor).map(([b, values]) => [b, cellMajor(values, CELLS, HOURS)])) as Record<CellBand, Float32Array>;
}

const hasCellFile = (input: string) => {
  const cache = join(input, '..', '.windcast-cache');
  return existsSync(cache) && readdirSync(cache).some((f) => f.startsWith('cells-'));
};

test('readGridded gives each format\'s values, u/v at both heights and the speed from them, and ticks every file once, in order', async () => {
  const all = await inputs();
  for (const format of FORMATS) {
    const ds = await openGridded(all[format]);
    const ticks: string[] = [];
    const progress: Progress = { start: () => ({ tick: (_n, label) => ticks.push(label ?? ''), done: () => {} }), log: () => {} };
    const data = await readGridded(ds, { progress });
    const want = expectedFields(format);
    for (const name of NAMES) sameBits(data.fields.get(name)!, want[name], `${format} ${name}`);
    sameBits(data.speed, expectedSpeed(want.u100, want.v100), `${format} speed`);
    assert.deepEqual(ticks, ds.files.map((f) => basename(f.path)), `${format}: one tick per file`);
  }
});

test('openGriddedSlabs: a file of a glob is passed (its store closed) with the first slab past its last hour, not before', async () => {
  const { netcdf3 } = await inputs();
  const ds = await openGridded(netcdf3);
  const passed: string[] = [];
  const reader = openGriddedSlabs(ds, ['u100'], { onFilePassed: (path) => passed.push(basename(path)) });
  const out = new Map([['u100', new Float32Array(100 * CELLS)]]);
  const after: string[][] = [];
  try {
    for (let h = 0; h < HOURS; h += 100) {
      await reader.read(h, 100, out);
      after.push([...passed]);
    }
  } finally {
    reader.close();
  }
  // a.nc holds hours 0..249, b.nc 250..599.
  assert.deepEqual(after, [[], [], ['a.nc'], ['a.nc'], ['a.nc'], ['a.nc', 'b.nc']]);
});

test('gridded input within the budget is built cell-major a slab at a time: the expected cube, today\'s copy and the disk cell file, bit for bit, for any slab', async () => {
  const all = await inputs();
  for (const format of FORMATS) {
    const input = all[format];
    const want = expectedCellBands(format);
    // Today's in-memory path: the time-major fields, then their cell-major copy.
    const copy = cellCubeFromCube(await loadDataCube(input, ingest, silentProgress));
    const layers: CellBand[] = ['speed', 'u', 'v', 'uOther', 'vOther'];
    assert.deepEqual(copy.layers, layers);
    // One hour, 7 hours (a slab across the NetCDF3 seam at hour 250, and the Zarr chunks of 48), the default (all 600).
    for (const slabBytes of [CELLS * 4 * 5, CELLS * 4 * 5 * 7, undefined]) {
      const cube = await griddedResidentCells(await openGridded(input), silentProgress, slabBytes === undefined ? {} : { slabBytes });
      assert.deepEqual(cube.layers, layers);
      for (const b of layers) {
        const values = cube.bands[b]!;
        assert.ok(values.buffer instanceof SharedArrayBuffer, `${format} ${b}: shared with the batch thread`);
        sameBits(values, want[b], `${format} ${b} (slab ${slabBytes ?? 'default'} bytes) against the expected cube`);
        sameBits(values, copy.bands![b]!, `${format} ${b} (slab ${slabBytes ?? 'default'} bytes) against today's copy`);
      }
    }
    // Through openCellCube (what train reads), with the cube cache on or off: the same cube, facts and all, and no cell file.
    for (const cache of [true, false]) {
      const cube = await openCellCube(input, { ...ingest, cache }, silentProgress, { budget: 2 ** 40 });
      assert.equal(cube.disk, undefined, `${format}: in memory`);
      assert.deepEqual([cube.grid, Array.from(cube.times), cube.heightM, cube.otherHeightM, cube.source, cube.layers], [copy.grid, Array.from(copy.times), copy.heightM, copy.otherHeightM, copy.source, copy.layers]);
      for (const b of layers) sameBits(cube.bands![b]!, want[b], `${format} ${b} (openCellCube, cache ${cache})`);
    }
    assert.ok(!hasCellFile(input), `${format}: within the budget no cell file is written`);
    // Over the budget: the cell file holds the same values.
    const disk = (await openCellCube(input, ingest, silentProgress, { budget: 1000 })).disk!;
    const fd = openSync(disk.path, 'r');
    try {
      for (const b of layers) {
        const out = new Float32Array(CELLS * HOURS);
        readCellRange(fd, disk, b, 0, CELLS, out);
        sameBits(out, want[b], `${format} ${b} (cell file)`);
      }
    } finally {
      closeSync(fd);
    }
  }
});

test('windcast train on gridded input in memory: the losses, weights and data record of today\'s time-major read and copy', async () => {
  const all = await inputs();
  const tiny = join(root, 'tiny.json');
  writeTinyCliConfig(tiny);
  const config = loadConfig(tiny);
  for (const format of FORMATS) {
    const input = all[format];
    const models = join(root, `models-${format}`);
    const ctx = testContext(config);
    await train({ data: input, run: 'copy', modelsDir: models, cube: cellCubeFromCube(await loadDataCube(input, config.ingest, silentProgress)) }, ctx);
    await train({ data: input, run: 'slabs', modelsDir: models }, ctx);
    const meta = (run: string) => JSON.parse(readFileSync(join(models, run, 'last', 'meta.json'), 'utf8'));
    const facts = (run: string) => {
      const m = meta(run);
      const t = m.training;
      return { data: m.data, normalization: m.normalization, history: t.history.map((e: Record<string, number>) => [e.trainLoss, e.validationLoss, e.validationRmse, e.persistenceRmse]), byLead: [t.validationRmseByLead, t.persistenceRmseByLead, t.linearRmseByLead] };
    };
    assert.equal(facts('copy').history.length, 1, `${format}: one epoch recorded`);
    assert.deepEqual(facts('slabs'), facts('copy'), `${format}: the same data record (values' digest included), normalisation and losses`);
    assert.ok(meta('copy').data.contentDigest, `${format}: the values' digest is recorded`);
    const file = (run: string, name: string) => readFileSync(join(models, run, 'last', name));
    assert.ok(file('slabs', 'norm.bin').equals(file('copy', 'norm.bin')), `${format}: the same per-cell normalisation`);
    assert.ok(file('slabs', 'weights.bin').equals(file('copy', 'weights.bin')), `${format}: the same weights`);
  }
});
