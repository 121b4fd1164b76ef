import assert from 'node:assert/strict';
import { test } from 'node:test';
import { era5Grid, type GridSpec } from '../src/core/grid.js';
import { LATITUDE_BANDS, bandIndex, latitudeWeights, rowEdges, sampleCells } from '../src/evaluate/regions.js';

const DEG = Math.PI / 180;

function grid(height: number, lat0: number, dLat: number, width = 1, pixelIsPoint = false): GridSpec {
  return { width, height, lon0: 0, lat0, dLon: 360 / width, dLat, pixelIsPoint, sourceSouthUp: false, epsg: 4326 };
}

function close(actual: number, expected: number, tol = 1e-12, what = ''): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what} ${actual} != ${expected}`);
}

test('three rows at 90N, 0, 90S: pole rows get a clipped 45-degree cap', () => {
  // Edges: row 0 [45, 90] (90 + 45 clipped to 90), row 1 [-45, 45], row 2 [-90, -45].
  // Areas: 1 - sin45, 2 sin45, 1 - sin45; their sum is 2, so the mean is 2/3.
  const w = latitudeWeights(grid(3, 90, 90));
  const s45 = Math.SQRT1_2;
  close(w[0]!, (1 - s45) * 1.5);
  close(w[1]!, 2 * s45 * 1.5);
  close(w[2]!, (1 - s45) * 1.5);
  assert.deepEqual(rowEdges(grid(3, 90, 90), 0), { north: 90, south: 45 });
});

test('ERA5 721 rows equal the WeatherBench 2 formula (bounds -90, midpoints, 90)', () => {
  const g = era5Grid();
  const w = latitudeWeights(g);
  // WB2: latitudes ascending, bounds = [-pi/2, midpoints, pi/2], area = sin(upper) - sin(lower), / mean.
  const lats = Array.from({ length: 721 }, (_, i) => -90 + i * 0.25);
  const bounds = [-90, ...lats.slice(1).map((l, i) => (l + lats[i]!) / 2), 90];
  const area = lats.map((_, i) => Math.sin(bounds[i + 1]! * DEG) - Math.sin(bounds[i]! * DEG));
  const m = area.reduce((a, b) => a + b, 0) / area.length;
  for (let i = 0; i < 721; i++) close(w[720 - i]!, area[i]! / m, 1e-9, `row ${720 - i}`);
  close(w.reduce((a, b) => a + b, 0) / 721, 1, 1e-12, 'mean');
  // The pole rows are an eighth-degree cap: tiny but not zero.
  assert.ok(w[0]! > 0 && w[0]! < 1e-3);
  assert.equal(w[0], w[720]);
  close(w[360]!, Math.max(...w), 0, 'equator is the heaviest row');
});

test('a regional grid uses half a row beyond its outer centres', () => {
  // Rows at 10, 0, -10 (dLat 10): edges 15, 5, -5, -15.
  const w = latitudeWeights(grid(3, 10, 10, 4));
  const a = Math.sin(15 * DEG) - Math.sin(5 * DEG);
  const b = 2 * Math.sin(5 * DEG);
  const m = (2 * a + b) / 3;
  close(w[0]!, a / m);
  close(w[1]!, b / m);
  close(w[2]!, a / m);
});

test('PixelIsArea global grid without pole centres: edges land on the poles exactly', () => {
  const w = latitudeWeights(grid(4, 67.5, 45));
  // Rows centred at 67.5, 22.5, -22.5, -67.5 with edges 90, 45, 0, -45, -90.
  const s45 = Math.SQRT1_2;
  const m = 2 / 4;
  close(w[0]!, (1 - s45) / m);
  close(w[1]!, s45 / m);
});

test('PixelIsPoint grids are weighted by their point latitudes like any other', () => {
  assert.deepEqual(latitudeWeights(grid(3, 90, 90, 1, true)), latitudeWeights(grid(3, 90, 90, 1, false)));
});

test('a single-row grid has weight 1', () => {
  assert.deepEqual([...latitudeWeights(grid(1, 52.5, 0.25))], [1]);
});

test('latitude bands: edges at 23.5 and 66.5 degrees, both hemispheres', () => {
  const names = (lat: number) => LATITUDE_BANDS[bandIndex(lat)]!.name;
  assert.equal(names(0), 'tropics');
  assert.equal(names(-23.25), 'tropics');
  assert.equal(names(23.5), 'midlatitudes');
  assert.equal(names(-66.25), 'midlatitudes');
  assert.equal(names(66.5), 'polar');
  assert.equal(names(-90), 'polar');
  assert.equal(names(90), 'polar');
});

test('cell sample: every 4th row and column of ERA5 is 181 x 360 cells', () => {
  const s = sampleCells(era5Grid(), 4);
  assert.equal(s.cells.length, 181 * 360);
  assert.equal(s.cells[0], 0);
  assert.equal(s.cells[1], 4);
  assert.equal(s.cells[360], 4 * 1440);
  assert.equal(s.rows[360], 4);
  assert.equal(s.cells[s.cells.length - 1], 720 * 1440 + 1436);
  assert.equal(LATITUDE_BANDS[s.bands[0]!]!.name, 'polar');
  assert.equal(LATITUDE_BANDS[s.bands[90 * 360]!]!.name, 'tropics');
  const full = sampleCells(grid(3, 90, 90, 5), 1);
  assert.deepEqual([...full.cells], Array.from({ length: 15 }, (_, i) => i));
  assert.throws(() => sampleCells(era5Grid(), 0), /cellStride/);
});
