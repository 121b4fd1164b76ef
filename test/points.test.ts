import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataError } from '../src/core/errors.js';
import { era5Grid, type GridSpec } from '../src/core/grid.js';
import { collectSites, parsePoint, parsePointsCsv, planSite, readPointsFile, sampleFrame, type Site } from '../src/output/points.js';

const site = (lat: number, lon: number, name = 'x'): Site => ({ name, lat, lon });

/** A 4 deg global grid whose value is a linear function of the cell's lon and lat. */
function linearField(grid: GridSpec, f: (lat: number, lon: number) => number): Float32Array {
  const out = new Float32Array(grid.width * grid.height);
  for (let r = 0; r < grid.height; r++) for (let c = 0; c < grid.width; c++) out[r * grid.width + c] = f(grid.lat0 - r * grid.dLat, grid.lon0 + c * grid.dLon);
  return out;
}

test('parsePoint reads LAT,LON and NAME=LAT,LON', () => {
  assert.deepEqual(parsePoint('55.7, 12.6'), { name: '55.7,12.6', lat: 55.7, lon: 12.6 });
  assert.deepEqual(parsePoint('Horns Rev=55.5,7.9'), { name: 'Horns Rev', lat: 55.5, lon: 7.9 });
  assert.throws(() => parsePoint('55.7'), /--points "55.7": expected LAT,LON/);
  assert.throws(() => parsePoint('95,10'), /latitude 95 is outside -90..90/);
  assert.throws(() => parsePoint('10,400'), /longitude 400 is outside/);
  assert.throws(() => parsePoint('a,b'), /must be numbers/);
});

test('points CSV: name,lat,lon with header, lat,lon without, quotes and comments', () => {
  const withHeader = parsePointsCsv('# wind farms\nname,lat,lon\n"Horns Rev, DK",55.5,7.9\n\nLillgrund,55.5,12.8\n', 'f.csv');
  assert.deepEqual(withHeader.map((s) => s.name), ['Horns Rev, DK', 'Lillgrund']);
  const reordered = parsePointsCsv('longitude,latitude,site\n7.9,55.5,HR\n', 'f.csv');
  assert.deepEqual(reordered, [{ name: 'HR', lat: 55.5, lon: 7.9 }]);
  const bare = parsePointsCsv('10,20\r\n-33.9,18.4\r\n', 'f.csv');
  assert.deepEqual(bare, [
    { name: '10,20', lat: 10, lon: 20 },
    { name: '-33.9,18.4', lat: -33.9, lon: 18.4 },
  ]);
  assert.deepEqual(parsePointsCsv('A,1,2\n', 'f.csv'), [{ name: 'A', lat: 1, lon: 2 }]);
});

test('points CSV errors name the file and the line', () => {
  const bad = (text: string, re: RegExp) => {
    assert.throws(() => parsePointsCsv(text, 'sites.csv'), (e: unknown) => e instanceof DataError && e.message.startsWith('sites.csv: ') && re.test(e.message), text);
  };
  bad('name,lat,lon\nA,55,abc\n', /line 2: longitude "abc" is not a number/);
  bad('name,lat,lon\nA,95,10\n', /line 2: latitude 95 is outside/);
  bad('name,lat,lon\nA,55\n', /line 2: expected 3 columns/);
  bad('name,foo,bar\n', /line 1: header .* needs columns lat and lon/);
  bad('1,2,3,4\n', /line 1: expected name,lat,lon or lat,lon, got 4 columns/);
  bad('"A,1,2\n', /line 1: unterminated quote/);
  bad('# nothing\n\n', /no sites/);
  assert.throws(() => readPointsFile('/nonexistent/sites.csv'), /DataError: \/nonexistent\/sites.csv: points file not found$/);
});

test('collectSites combines flags and a file in order', () => {
  const dir = mkdtempSync(join(tmpdir(), 'windcast-points-'));
  try {
    const file = join(dir, 'sites.csv');
    writeFileSync(file, 'lat,lon\n1,2\n');
    assert.deepEqual(collectSites(['A=3,4'], file).map((s) => s.name), ['A', '1,2']);
    assert.deepEqual(collectSites(undefined, undefined), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nearest cell on the ERA5 grid, both longitude conventions', () => {
  const grid = era5Grid();
  const p = planSite(grid, site(55.68, 12.57), 'nearest');
  assert.deepEqual(p.nearest, { row: 137, col: 50, lat: 55.75, lon: 12.5 });
  assert.deepEqual(p.cells, [137 * 1440 + 50]);
  // West of Greenwich on a 0..360 grid: -3.2 is 356.8 -> column 1427 (356.75).
  assert.equal(planSite(grid, site(0, -3.2), 'nearest').nearest.col, 1427);
  // Same site on a -180..180 grid: column (−3.25 + 180) / 0.25 = 707.
  const g180 = era5Grid({ lon180: true });
  const q = planSite(g180, site(0, 356.8), 'nearest');
  assert.equal(q.nearest.col, 707);
  assert.equal(q.nearest.lon, -3.25);
  // The poles are rows 0 and 720.
  assert.equal(planSite(grid, site(90, 0), 'nearest').nearest.row, 0);
  assert.equal(planSite(grid, site(-90, 0), 'nearest').nearest.row, 720);
});

test('bilinear reproduces a linear field and wraps across the dateline / 0E seam', () => {
  const grid = era5Grid({ step: 4 });
  const field = linearField(grid, (lat, lon) => 2 + 0.1 * lat + 0.01 * lon);
  const p = planSite(grid, site(31.3, 101.7), 'bilinear');
  assert.equal(p.cells.length, 4);
  assert.ok(Math.abs(p.weights.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  assert.ok(Math.abs(sampleFrame(p, field) - (2 + 0.1 * 31.3 + 0.01 * 101.7)) < 1e-5);
  // Between the last column (356E) and the first (0E): a field that depends on latitude
  // only, plus a marker on column 0, shows the weight going to column 0.
  const seam = planSite(grid, site(10, 358), 'bilinear');
  const cols = seam.cells.map((i) => i % grid.width).sort((a, b) => a - b);
  assert.deepEqual([...new Set(cols)], [0, grid.width - 1]);
  const marker = linearField(grid, (_lat, lon) => (lon === 0 ? 1 : 0));
  assert.ok(Math.abs(sampleFrame(seam, marker) - 0.5) < 1e-9);
  // -2 is the same site as 358.
  assert.deepEqual(planSite(grid, site(10, -2), 'bilinear').cells.sort(), seam.cells.slice().sort());
});

test('bilinear skips nodata cells and renormalises', () => {
  const grid = era5Grid({ step: 4 });
  const field = new Float32Array(grid.width * grid.height).fill(5);
  const p = planSite(grid, site(1, 1), 'bilinear');
  field[p.cells[0]!] = NaN;
  assert.equal(sampleFrame(p, field), 5);
  for (const c of p.cells) field[c] = NaN;
  assert.ok(Number.isNaN(sampleFrame(p, field)));
});

test('a site outside a regional grid is an error naming it; edges clamp', () => {
  // Europe: 0.5 deg cells, centres lon -10..29.5, lat 70..35.5 (80 x 70 cells).
  const grid: GridSpec = { width: 80, height: 70, lon0: -10, lat0: 70, dLon: 0.5, dLat: 0.5, pixelIsPoint: false, sourceSouthUp: false, epsg: 4326 };
  assert.throws(() => planSite(grid, site(40, -20, 'Azores'), 'bilinear'), /site "Azores" \(40, -20\) is outside the grid \(lon -10.25..29.75, lat 35.25..70.25\)/);
  assert.throws(() => planSite(grid, site(-40, 10, 'Cape'), 'nearest'), /site "Cape"/);
  // 350E is 10W: inside.
  assert.equal(planSite(grid, site(50, 350), 'nearest').nearest.col, 0);
  // Within the last half cell: bilinear collapses onto the edge column.
  const p = planSite(grid, site(50, -10.2), 'bilinear');
  assert.ok(p.cells.every((i) => i % grid.width === 0));
});
