import { test } from 'node:test';
import assert from 'node:assert/strict';
import { era5Grid, type GridSpec } from '../src/core/grid.js';
import { COASTLINE_COLOR, clipSegment, degreeLabel, drawCoastlines, graticuleStep, mapExtent, NODATA_COLOR, renderContactSheet, renderSpeedMap, speedScale } from '../src/output/maps.js';
import { coastlines, decodeArcs } from '../src/output/coastlines.js';
import { Canvas, colormapColor, decodePng, parseColor } from '../src/output/png.js';

/** Pixels of exactly one RGB colour. */
function countColor(c: Canvas, rgb: readonly number[]): number {
  let n = 0;
  for (let i = 0; i < c.data.length; i += 4) if (c.data[i] === rgb[0] && c.data[i + 1] === rgb[1] && c.data[i + 2] === rgb[2]) n++;
  return n;
}

test('map extent: globe as -180..180 whatever the convention, regional as its cell edges', () => {
  assert.deepEqual(mapExtent(era5Grid()), { west: -180, east: 180, south: -90, north: 90 });
  assert.deepEqual(mapExtent(era5Grid({ lon180: true })), { west: -180, east: 180, south: -90, north: 90 });
  const reg: GridSpec = { width: 20, height: 10, lon0: 5.25, lat0: 59.75, dLon: 0.5, dLat: 0.5, pixelIsPoint: false, sourceSouthUp: false, epsg: 4326 };
  assert.deepEqual(mapExtent(reg), { west: 5, east: 15, south: 55, north: 60 });
});

test('labels and grid-line steps', () => {
  assert.equal(degreeLabel(30, 'lat'), '30°N');
  assert.equal(degreeLabel(-45, 'lat'), '45°S');
  assert.equal(degreeLabel(0, 'lat'), '0°');
  assert.equal(degreeLabel(270, 'lon'), '90°W');
  assert.equal(degreeLabel(-180, 'lon'), '180°');
  assert.equal(degreeLabel(12.5, 'lon'), '12.5°E');
  assert.equal(graticuleStep(360), 30);
  assert.equal(graticuleStep(10), 1);
});

test('speed scale starts at 0 and ends on a round number above the 99.9th percentile', () => {
  const f = Float32Array.from({ length: 10_000 }, (_, i) => (i / 10_000) * 17.3);
  f[5] = NaN;
  f[6] = 500; // one broken cell must not set the scale
  const s = speedScale([f]);
  assert.equal(s.min, 0);
  assert.ok(s.max >= 17.2 && s.max <= 20, `max ${s.max}`);
  assert.deepEqual(speedScale([new Float32Array([NaN])]), { min: 0, max: 1 });
});

test('a map puts each cell at its longitude: a west-east ramp on a 0..360 grid is recentred', () => {
  const grid = era5Grid({ step: 2 }); // 180 x 91, lon 0..358
  const field = new Float32Array(grid.width * grid.height);
  // Speed equals the longitude in -180..180 divided by 18, i.e. 0..10 m/s from 0E to 180E.
  for (let r = 0; r < grid.height; r++) {
    for (let c = 0; c < grid.width; c++) {
      const lon = c * 2 > 180 ? c * 2 - 360 : c * 2;
      field[r * grid.width + c] = Math.abs(lon) / 18;
    }
  }
  field[45 * grid.width + 10] = NaN;
  const map = renderSpeedMap({ grid, field, title: 'ramp', subtitle: 'test', min: 0, max: 10, width: 720 });
  // The panel is 720 x 360 at 2 px per degree; find its top-left by the first map-coloured
  // pixel on a middle row: the panel's left edge is 180W, speed 10 -> the top colour.
  const top = colormapColor('viridis', 10, 0, 10);
  const low = colormapColor('viridis', 0, 0, 10);
  let left = -1;
  let yMid = -1;
  for (let y = 0; y < map.height && left < 0; y++) {
    for (let x = 0; x < map.width; x++) {
      const p = map.getPixel(x, y);
      if (p[0] === top[0] && p[1] === top[1] && p[2] === top[2]) {
        left = x;
        yMid = y + 100;
        break;
      }
    }
  }
  assert.ok(left >= 0, 'found the map panel');
  // 0E is 360 px to the right of 180W: speed 0 (within a cell of 2 px).
  const centre = map.getPixel(left + 361, yMid); // one pixel east of the 0E grid line
  assert.deepEqual(centre.slice(0, 3), low, `0E is calm, got ${centre}`);
  // 90E: speed 5.
  const east = map.getPixel(left + 540 + 1, yMid);
  const mid = colormapColor('viridis', 5, 0, 10);
  assert.ok(east.slice(0, 3).every((v, i) => Math.abs(v - mid[i]!) <= 6), `90E is 5 m/s, got ${east} vs ${mid}`);
  assert.ok(countColor(map, parseColor(NODATA_COLOR)) > 4, 'nodata cell drawn grey (plus the legend swatch)');
  const png = decodePng(map.toPng());
  assert.equal(png.width, map.width);
});

test('contact sheet: one panel per lead on a shared scale', () => {
  const grid = era5Grid({ step: 10 });
  const n = grid.width * grid.height;
  const fields = Array.from({ length: 6 }, (_, k) => new Float32Array(n).fill(k * 2));
  const sheet = renderContactSheet({ grid, fields, captions: fields.map((_, k) => `+${k + 1} h`), title: 'leads', min: 0, max: 10, panelWidth: 120, columns: 3 });
  // Each uniform panel is drawn in its own colour, 120 x 60 pixels minus grid lines and
  // coastlines (a third of the pixels on panels this small).
  for (let k = 0; k < 6; k++) {
    const rgb = colormapColor('viridis', k * 2, 0, 10);
    const count = countColor(sheet, rgb);
    assert.ok(count > 120 * 60 * 0.55, `lead ${k + 1}: ${count} pixels of its colour`);
  }
  assert.ok(countColor(sheet, parseColor(COASTLINE_COLOR)) > 6 * 500, 'every panel has its coastlines');
  assert.throws(() => renderContactSheet({ grid, fields, captions: ['one'], title: 'x' }), /6 fields but 1 captions/);
});

test('coastlines: TopoJSON arcs decode to lon/lat, and the 1:110m land has the coasts it should', () => {
  // Quantized, delta-encoded: (0,0) (2,4) (1,-4) -> 10 + x/2, 20 + y/4.
  const [line] = decodeArcs({ transform: { scale: [0.5, 0.25], translate: [10, 20] }, arcs: [[[0, 0], [2, 4], [1, -4]]] });
  assert.deepEqual(Array.from(line!), [10, 20, 11, 21, 11.5, 20]);
  const lines = coastlines('110m');
  assert.ok(lines.length > 100, `${lines.length} arcs`);
  const near = (lon: number, lat: number) => lines.some((l) => {
    for (let i = 0; i < l.length; i += 2) if (Math.abs(l[i]! - lon) < 0.6 && Math.abs(l[i + 1]! - lat) < 0.6) return true;
    return false;
  });
  for (const l of lines) for (let i = 0; i < l.length; i += 2) assert.ok(Math.abs(l[i]!) <= 180 && Math.abs(l[i + 1]!) <= 90);
  assert.ok(near(20.0, -34.8), 'Cape Agulhas');
  assert.ok(near(-5.6, 36.0), 'Gibraltar');
  assert.ok(!near(-25, -40), 'no coast in the middle of the South Atlantic');
});

test('coastlines are drawn inside their box only, on global and 0..360 regional extents', () => {
  const coast = parseColor(COASTLINE_COLOR);
  const inBox = (c: Canvas, x0: number, y0: number, w: number, h: number) => {
    let inside = 0;
    let outside = 0;
    for (let y = 0; y < c.height; y++) {
      for (let x = 0; x < c.width; x++) {
        const p = c.getPixel(x, y);
        if (p[0] === coast[0] && p[1] === coast[1] && p[2] === coast[2]) {
          if (x >= x0 && x < x0 + w && y >= y0 && y < y0 + h) inside++;
          else outside++;
        }
      }
    }
    return { inside, outside };
  };
  // Globe, 1 px per degree at (20, 30): the South Atlantic at 30..15W, 45..30S has no coast.
  const globe = new Canvas(400, 240, '#000000');
  drawCoastlines(globe, 20, 30, 360, 180, { west: -180, east: 180, south: -90, north: 90 });
  const g = inBox(globe, 20, 30, 360, 180);
  assert.ok(g.inside > 1500 && g.outside === 0, JSON.stringify(g));
  assert.equal(inBox(globe, 20 + 150, 30 + 120, 15, 15).inside, 0, 'South Atlantic');
  // Western Europe in the 0..360 convention (350..370E): coasts of Britain and France.
  const europe = new Canvas(300, 200, '#000000');
  drawCoastlines(europe, 50, 40, 200, 150, { west: 350, east: 370, south: 45, north: 60 });
  const e = inBox(europe, 50, 40, 200, 150);
  assert.ok(e.inside > 300 && e.outside === 0, JSON.stringify(e));
  // Clipping itself: a segment through the box keeps only its inside part.
  assert.deepEqual(clipSegment(-10, 5, 30, 5, 0, 0, 20, 10), [0, 5, 20, 5]);
  assert.equal(clipSegment(-10, -5, -1, -1, 0, 0, 20, 10), undefined);
});
