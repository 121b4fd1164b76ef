/**
 * The one checkpoint-versus-data check: each of its refusals, on a checkpoint's meta and a
 * fixture cube (or one file's header), and what it lets through.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CheckpointError, DataError } from '../src/core/errors.js';
import { era5Grid, gridDifferences } from '../src/core/grid.js';
import { isoHour } from '../src/core/time.js';
import type { CheckpointMeta } from '../src/model/checkpoint.js';
import { checkDataFits, cubeFacts, fileFacts } from '../src/model/data-fit.js';
import { splitHours } from '../src/prepare/split.js';
import { makeCube } from './train-fixtures.js';

const cube = makeCube({ hours: 300, step: 30 });

/** The parts of a checkpoint's meta.json the check reads, for a model trained on `cube`. */
function metaFor(options: { uv?: boolean; nFeatures?: number } = {}): CheckpointMeta {
  return {
    grid: cube.grid,
    features: { uv: options.uv ?? false },
    model: { nFeatures: options.nFeatures ?? 13 },
    split: splitHours({ hours: 300, lookback: 24, horizon: 24, fractions: [0.6, 0.2, 0.2] }),
    data: { dir: '/data/train', fingerprint: cube.source.fingerprint, hours: 300, firstHour: isoHour(cube.times[0]!), lastHour: isoHour(cube.times[299]!), uv: false },
  } as unknown as CheckpointMeta;
}

const resume = (extra: { force?: boolean; nFeatures?: number } = {}) => ({ resume: { checkpointDir: '/models/r/last', force: extra.force ?? false, nFeatures: extra.nFeatures ?? 13 } });

function refuses(fn: () => unknown, kind: typeof DataError | typeof CheckpointError, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof kind, `${String(err)} is a ${kind.name}`);
    assert.equal(err.message, message);
    return true;
  });
}

test('the checkpoint\'s own data fits every use', () => {
  const meta = metaFor();
  assert.deepEqual(checkDataFits(meta, cubeFacts(cube, '/data/train')), []);
  assert.deepEqual(checkDataFits(meta, cubeFacts(cube, '/data/train'), { sameData: true }), []);
  assert.deepEqual(checkDataFits(meta, cubeFacts(cube, '/data/train'), resume()), []);
  assert.deepEqual(checkDataFits(meta, fileFacts({ path: '/data/h.tif', grid: cube.grid, bandCount: 1 })), []);
});

test('another grid is refused, naming the data and each difference (model vs this data)', () => {
  const other = makeCube({ hours: 300, step: 20 });
  const diffs = gridDifferences(cube.grid, other.grid).join('; ');
  assert.match(diffs, /12x7 vs 18x10/);
  for (const options of [{}, { sameData: true }, resume()]) {
    refuses(() => checkDataFits(metaFor(), cubeFacts(other, '/data/other'), options), DataError,
      `/data/other: grid differs from the one the model was trained on: ${diffs} (model vs this data)`);
  }
  refuses(() => checkDataFits(metaFor(), fileFacts({ path: '/data/h.tif', grid: era5Grid({ step: 20 }), bandCount: 1 })), DataError,
    `/data/h.tif: grid differs from the one the model was trained on: ${diffs} (model vs this data)`);
});

test('a model trained with u/v is refused on speed-only data, a file or a cube', () => {
  const meta = metaFor({ uv: true });
  refuses(() => checkDataFits(meta, fileFacts({ path: '/data/h.tif', grid: cube.grid, bandCount: 1 })), DataError,
    '/data/h.tif: the model was trained with u/v inputs but this data has wind speed only');
  refuses(() => checkDataFits(meta, cubeFacts(cube, '/data/speed')), DataError, '/data/speed: the model was trained with u/v inputs but this data has wind speed only');
  assert.deepEqual(checkDataFits(meta, fileFacts({ path: '/data/h.tif', grid: cube.grid, bandCount: 2 })), []);
});

test('sameData (evaluate): other values, other hours or another first hour are refused', () => {
  const fp = cube.source.fingerprint.slice(0, 12);
  const other = makeCube({ hours: 300, step: 30, seed: 9 });
  refuses(() => checkDataFits(metaFor(), cubeFacts(other, '/data/other'), { sameData: true }), DataError,
    `/data/other: is not the data the checkpoint was trained on (fingerprint ${other.source.fingerprint.slice(0, 12)}, 300 hours; ` +
      `the checkpoint's: ${fp}, 300 hours from /data/train). The test period is a range of those hours, so evaluate needs the same files`);
  const longer = { ...cubeFacts(cube, '/data/longer'), dataset: { ...cubeFacts(cube, '').dataset!, hours: 310 } };
  refuses(() => checkDataFits(metaFor(), longer, { sameData: true }), DataError,
    `/data/longer: is not the data the checkpoint was trained on (fingerprint ${fp}, 310 hours; ` +
      `the checkpoint's: ${fp}, 300 hours from /data/train). The test period is a range of those hours, so evaluate needs the same files`);
  const later = { ...cubeFacts(cube, '/data/later'), dataset: { ...cubeFacts(cube, '').dataset!, firstHour: '2024-02-01T00Z' } };
  refuses(() => checkDataFits(metaFor(), later, { sameData: true }), DataError, `/data/later: starts at 2024-02-01T00Z, the checkpoint's data at ${isoHour(cube.times[0]!)}`);
  // Without sameData, other data of the same grid is fine for forecasting.
  assert.deepEqual(checkDataFits(metaFor(), cubeFacts(other, '/data/other')), []);
});

test('resume: other data only with force (the difference is returned), enough hours, the same features per hour', () => {
  const difference = (source: string, data: typeof cube) =>
    `/models/r/last: was trained on different data (fingerprint ${cube.source.fingerprint.slice(0, 12)}, 300 hours from /data/train) ` +
    `than ${source} (fingerprint ${data.source.fingerprint.slice(0, 12)}, ${data.times.length} hours)`;
  const fewer = makeCube({ hours: 200, step: 30, seed: 9 });
  refuses(() => checkDataFits(metaFor(), cubeFacts(fewer, '/data/other'), resume()), CheckpointError, `${difference('/data/other', fewer)}; pass --force to resume anyway`);
  // Forced past the difference, 200 hours are still too few for the stored 300-hour split.
  refuses(() => checkDataFits(metaFor(), cubeFacts(fewer, '/data/other'), resume({ force: true })), DataError, "/data/other: has 200 hours, the checkpoint's split needs 300");
  const more = makeCube({ hours: 320, step: 30, seed: 9 });
  assert.deepEqual(checkDataFits(metaFor(), cubeFacts(more, '/data/more'), resume({ force: true })), [difference('/data/more', more)]);
  refuses(() => checkDataFits(metaFor(), cubeFacts(cube, '/data/train'), resume({ nFeatures: 15 })), CheckpointError,
    "/models/r/last: the checkpoint's model takes 13 features per hour, this data gives 15");
});

test('sameData and resume need a whole dataset, not one file: a bug, not a user error', () => {
  assert.throws(() => checkDataFits(metaFor(), fileFacts({ path: '/data/h.tif', grid: cube.grid, bandCount: 1 }), { sameData: true }), (err: unknown) => {
    assert.ok(!(err instanceof DataError) && !(err instanceof CheckpointError));
    return true;
  });
});
