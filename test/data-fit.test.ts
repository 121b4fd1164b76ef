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
import { checkDataFits, checkpointWind, cubeFacts, fileFacts, griddedFacts } from '../src/model/data-fit.js';
import type { Cube } from '../src/ingest/cube.js';
import type { GriddedDataset } from '../src/ingest/gridded.js';
import type { BandWind } from '../src/ingest/raster.js';
import { splitHours } from '../src/prepare/split.js';
import { makeCube } from './train-fixtures.js';

const cube = makeCube({ hours: 300, step: 30 });

/** The parts of a checkpoint's meta.json the check reads, for a model trained on `cube`. */
function metaFor(options: { uv?: boolean; nFeatures?: number; heightM?: number; otherHeightM?: number; variables?: string[] } = {}): CheckpointMeta {
  return {
    grid: cube.grid,
    features: { uv: options.uv ?? false, heightM: options.heightM ?? null, otherHeightM: options.otherHeightM ?? null, variables: options.variables ?? [] },
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

// ---- Heights: the wind a model was trained on (speed at its height, u/v there, the other height's u/v).

/** The cube read at `heightM` (u/v there), with the other height's u/v when `other` is given. */
function cubeAt(heightM: number | null, other?: number): Cube {
  const uv = makeCube({ hours: 300, step: 30, uv: true });
  return { ...uv, heightM, ...(other !== undefined ? { other: { heightM: other, u: uv.u!, v: uv.v! } } : {}) };
}

/** What openGridded says of a file holding these variables (only the parts the check reads). */
function gridded(input: string, variables: string[], speedHeight: number): GriddedDataset {
  const role = (n: string) => {
    const m = /^(u|v|si)(\d+)$/.exec(n)!;
    return { component: m[1] === 'si' ? ('speed' as const) : (m[1] as 'u' | 'v'), height: Number(m[2]) };
  };
  const heights = [...new Set(variables.map((n) => role(n).height))].sort((a, b) => a - b);
  return { input, grid: cube.grid, heights, speed: { height: speedHeight, from: [], derived: true }, variables: variables.map((n) => ({ name: n, sourceNames: [n], units: 'm s**-1', longName: n, wind: role(n) })) } as unknown as GriddedDataset;
}

const band = (name: string | null, component: BandWind['component'], heightM: number | null): BandWind => ({ name, component, heightM });
const fourBands = [band('u10', 'u', 10), band('v10', 'v', 10), band('u100', 'u', 100), band('v100', 'v', 100)];

test('a 100 m model with 10 m inputs fits data with both heights: a cube read so, a 4-band file, a NetCDF', () => {
  const meta = metaFor({ uv: true, heightM: 100, otherHeightM: 10, variables: ['u10', 'u100', 'v10', 'v100'] });
  assert.deepEqual(checkDataFits(meta, cubeFacts(cubeAt(100, 10), '/data/cube')), []);
  assert.deepEqual(checkDataFits(meta, fileFacts({ path: '/data/h.tif', grid: cube.grid, bandCount: 4, winds: fourBands })), []);
  assert.deepEqual(checkDataFits(meta, griddedFacts(gridded('/data/era5.nc', ['u100', 'v100', 'u10', 'v10'], 100))), []);
  // Its default speed height is 10 m, but 100 m is there to be read: fine before reading.
  assert.deepEqual(checkDataFits(meta, griddedFacts(gridded('/data/era5.nc', ['u100', 'v100', 'u10', 'v10'], 10))), []);
  assert.deepEqual(checkpointWind(meta), { targetHeight: 100, variables: ['u10', 'u100', 'v10', 'v100'] });
});

test('refused: data without wind at the model\'s height, one message per way of lacking it', () => {
  const meta = metaFor({ uv: true, heightM: 100 });
  refuses(() => checkDataFits(meta, griddedFacts(gridded('/data/ten.nc', ['u10', 'v10'], 10))), DataError,
    '/data/ten.nc: the model forecasts wind at 100 m, but this data has wind at 10 m only');
  refuses(() => checkDataFits(meta, fileFacts({ path: '/data/uv.tif', grid: cube.grid, bandCount: 2 })), DataError,
    '/data/uv.tif: the model forecasts wind at 100 m, but this data does not say the height of its wind (name GeoTIFF bands u100, v100 in their descriptions, or give the NetCDF)');
  refuses(() => checkDataFits(meta, cubeFacts(cubeAt(null), '/data/unnamed')), DataError,
    '/data/unnamed: the model forecasts wind at 100 m, but this data does not say the height of its wind (name GeoTIFF bands u100, v100 in their descriptions, or give the NetCDF)');
  // A cube already read at 10 m (resuming with another --target-height) cannot become 100 m wind.
  refuses(() => checkDataFits(meta, cubeFacts(cubeAt(10, 100), '/data/cube')), DataError,
    '/data/cube: its wind speed was read at 10 m (ingest.targetHeight), but the model forecasts wind at 100 m');
  // u/v at 100 m are inputs: a 100 m speed alone will not do.
  refuses(() => checkDataFits(meta, griddedFacts(gridded('/data/si.nc', ['si100', 'u10', 'v10'], 100))), DataError,
    '/data/si.nc: the model was trained with u/v inputs but this data has wind speed only at 100 m');
});

test("refused: data without the other height's u/v the model takes as inputs", () => {
  const meta = metaFor({ uv: true, heightM: 100, otherHeightM: 10 });
  refuses(() => checkDataFits(meta, griddedFacts(gridded('/data/hub.nc', ['u100', 'v100'], 100))), DataError,
    '/data/hub.nc: the model also takes u/v at 10 m (u10, v10) as inputs, but this data has wind at 100 m only');
  refuses(() => checkDataFits(meta, fileFacts({ path: '/data/hub.tif', grid: cube.grid, bandCount: 2, winds: [band('u100', 'u', 100), band('v100', 'v', 100)] })), DataError,
    '/data/hub.tif: the model also takes u/v at 10 m (u10, v10) as inputs, but this data has wind at 100 m only');
  refuses(() => checkDataFits(meta, cubeFacts(cubeAt(100), '/data/cube')), DataError,
    '/data/cube: the model also takes u/v at 10 m (u10, v10) as inputs, but this data has wind at 100 m only');
  refuses(() => checkDataFits(meta, griddedFacts(gridded('/data/si10.nc', ['u100', 'v100', 'si10'], 100))), DataError,
    '/data/si10.nc: the model also takes u/v at 10 m (u10, v10) as inputs, but this data has wind at 100 m and 10 m (speed only)');
});

test('a checkpoint from before heights (no height recorded) takes the data\'s own target, as before', () => {
  const old = metaFor({ uv: true });
  assert.deepEqual(checkDataFits(old, fileFacts({ path: '/data/h.tif', grid: cube.grid, bandCount: 4, winds: fourBands })), []);
  assert.deepEqual(checkDataFits(old, cubeFacts(cubeAt(10, 100), '/data/cube')), []);
  assert.deepEqual(checkpointWind(old), { targetHeight: 'auto', variables: null });
});

test('the same cells in another raster type, row order or float32 rounding fit (a GDAL GeoTIFF of a NetCDF)', () => {
  const meta = metaFor();
  const asArea = { ...cube.grid, pixelIsPoint: !cube.grid.pixelIsPoint, sourceSouthUp: !cube.grid.sourceSouthUp };
  assert.deepEqual(checkDataFits(meta, fileFacts({ path: '/data/h.tif', grid: asArea, bandCount: 1 })), []);
  // gdal_translate of a float32 latitude axis: 52.5999984741 for 52.6.
  const rounded = { ...asArea, lat0: Math.fround(cube.grid.lat0 + 0.3) - 0.3, lon0: cube.grid.lon0 + 4e-6 };
  assert.deepEqual(checkDataFits(meta, fileFacts({ path: '/data/h.tif', grid: rounded, bandCount: 1 })), []);
  const shifted = { ...asArea, lon0: cube.grid.lon0 + cube.grid.dLon / 2 };
  assert.throws(() => checkDataFits(meta, fileFacts({ path: '/data/h.tif', grid: shifted, bandCount: 1 })), /grid differs from the one the model was trained on: first cell centre/);
});
