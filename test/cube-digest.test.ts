/**
 * The values' digest (ingest/cube-digest.ts): one digest for the same values whatever the
 * layout (time-major, cell-major in memory, cell file on disk) and the file stamps, another as
 * soon as one sampled value or the hours differ; and checkDataFits accepts a copy of the
 * training data under new stamps by it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { schemaDefaults } from '../src/core/config.js';
import { DataError } from '../src/core/errors.js';
import { era5Grid } from '../src/core/grid.js';
import { silentProgress } from '../src/core/progress.js';
import { isoHour } from '../src/core/time.js';
import { cellCubeFromCube, openCellCube } from '../src/ingest/cell-cube.js';
import { cubeContentDigest, DIGEST_CELLS, digestCells } from '../src/ingest/cube-digest.js';
import { loadDataCube, type Cube } from '../src/ingest/cube.js';
import { checkDataFits, cubeFacts } from '../src/model/data-fit.js';
import type { CheckpointMeta } from '../src/model/checkpoint-meta.js';
import { splitHours } from '../src/prepare/split.js';
import { makeCube, writeCubeGeoTiffs } from './train-fixtures.js';

const ingest = { ...schemaDefaults().ingest, workers: 1 };

/** A copy of a cube with its own arrays (cubeContentDigest remembers a digest per cube object). */
function copyOf(cube: Cube): Cube {
  return { ...cube, speed: cube.speed.slice(), times: cube.times.slice(), source: { ...cube.source } };
}

test('digest cells: every cell of a small grid, DIGEST_CELLS spread over a large one', () => {
  assert.deepEqual([...digestCells(5)], [0, 1, 2, 3, 4]);
  const many = digestCells(1440 * 721);
  assert.equal(many.length, DIGEST_CELLS);
  assert.equal(many[0], 0);
  assert.ok(many[DIGEST_CELLS - 1]! > 1440 * 720, 'the last sampled cell is in the last row');
  assert.ok(many.every((c, k) => k === 0 || c > many[k - 1]!));
});

test('the same values give one digest in either layout and under another fingerprint; one changed value or hour another', () => {
  const cube = makeCube({ hours: 60, step: 30, uv: true });
  const digest = cubeContentDigest(cube);
  assert.match(digest, /^[0-9a-f]{20}$/);
  assert.equal(cubeContentDigest(cellCubeFromCube(cube)), digest);
  assert.equal(cubeContentDigest({ ...copyOf(cube), source: { files: [], fingerprint: 'elsewhere' } }), digest);

  // Rounded as an int16 cache stores them (0.01 m/s): the same digest.
  const rounded = copyOf(cube);
  rounded.speed = Float32Array.from(cube.speed, (v) => Math.round(v * 100) * 0.01);
  assert.equal(cubeContentDigest(rounded), digest);

  const changed = copyOf(cube);
  changed.speed[cube.speed.length - 1] = cube.speed[cube.speed.length - 1]! + 0.05; // the last hour of the last cell
  assert.notEqual(cubeContentDigest(changed), digest);
  const uChanged = { ...copyOf(cube), u: cube.u!.map((v, i) => (i === 0 ? v + 1 : v)) };
  assert.notEqual(cubeContentDigest(uChanged), digest);
  const later = copyOf(cube);
  later.times = cube.times.map((t) => t + 3_600_000);
  assert.notEqual(cubeContentDigest(later), digest);
  const nodata = copyOf(cube);
  nodata.speed[0] = NaN;
  assert.notEqual(cubeContentDigest(nodata), digest);
});

test('GeoTIFFs read time-major, cell-major in memory and from a streamed cell file, and a copy with new mtimes: one digest', async () => {
  const root = mkdtempSync(join(tmpdir(), 'windcast-digest-'));
  try {
    const dir = join(root, 'data');
    mkdirSync(dir);
    await writeCubeGeoTiffs(makeCube({ hours: 40, grid: era5Grid({ step: 30 }), seed: 3 }), dir);
    const timeMajor = await loadDataCube(dir, { ...ingest, cache: false }, silentProgress);
    const digest = cubeContentDigest(timeMajor);
    const resident = await openCellCube(dir, { ...ingest, cache: false }, silentProgress, { budget: 1 << 30 });
    assert.ok(resident.bands);
    assert.equal(cubeContentDigest(resident), digest);
    const onDisk = await openCellCube(dir, ingest, silentProgress, { budget: 8000 });
    assert.ok(onDisk.disk, 'a tiny budget puts the cube on disk');
    assert.equal(cubeContentDigest(onDisk), digest);

    const copy = join(root, 'copy');
    mkdirSync(copy);
    for (const name of readdirSync(dir).filter((n) => n.endsWith('.tif'))) {
      copyFileSync(join(dir, name), join(copy, name));
      utimesSync(join(copy, name), new Date(2030, 0, 1), new Date(2030, 0, 1));
    }
    const copied = await loadDataCube(copy, { ...ingest, cache: false }, silentProgress);
    assert.notEqual(copied.source.fingerprint, timeMajor.source.fingerprint, 'the fingerprint holds the mtimes');
    assert.equal(cubeContentDigest(copied), digest);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('checkDataFits: another fingerprint with the checkpoint\'s values is the same data; other values are not', () => {
  const cube = makeCube({ hours: 300, step: 30 });
  const meta = (contentDigest?: string) => ({
    grid: cube.grid,
    features: { uv: false, heightM: null, otherHeightM: null, variables: [] },
    model: { nFeatures: 13 },
    split: splitHours({ hours: 300, lookback: 24, horizon: 24, fractions: [0.6, 0.2, 0.2] }),
    data: { dir: '/data/train', fingerprint: cube.source.fingerprint, ...(contentDigest ? { contentDigest } : {}), hours: 300, firstHour: isoHour(cube.times[0]!), lastHour: isoHour(cube.times[299]!), uv: false },
  }) as unknown as CheckpointMeta;
  const copied = { ...copyOf(cube), source: { files: [], fingerprint: 'copied-with-new-mtimes' } };
  const withDigest = meta(cubeContentDigest(cube));
  assert.deepEqual(checkDataFits(withDigest, cubeFacts(copied, '/data/copy'), { sameData: true }), []);
  // Resuming on it needs no --force either.
  assert.deepEqual(checkDataFits(withDigest, cubeFacts(copied, '/data/copy'), { resume: { checkpointDir: '/m/last', force: false, nFeatures: 13 } }), []);
  // A checkpoint from before the digest: the fingerprint alone decides, as it did.
  assert.throws(() => checkDataFits(meta(), cubeFacts(copied, '/data/copy'), { sameData: true }), DataError);
  const other = { ...copyOf(cube), source: { files: [], fingerprint: 'other' } };
  other.speed[0] = other.speed[0]! + 1;
  assert.throws(() => checkDataFits(withDigest, cubeFacts(other, '/data/other'), { sameData: true }), (err: unknown) => {
    assert.ok(err instanceof DataError);
    assert.match(err.message, /^\/data\/other: is not the data the checkpoint was trained on/);
    return true;
  });
});
