import { test } from 'node:test';
import assert from 'node:assert/strict';
import { era5Grid, type GridSpec } from '../src/core/grid.js';
import { coastlines } from '../src/output/coastlines.js';
import { drawCoastlines, panelProjection, type Box } from '../src/output/map-layers.js';
import { degreeLabel, forecastPictures, graticuleStep, mapExtent, NODATA_COLOR, renderContactSheet, renderSpeedMap, speedScale } from '../src/output/maps.js';
import { colormapColor, decodePng, whiteCanvas, type Canvas } from '../src/output/png.js';

type Rgb = readonly number[];

/** RGB of every pixel of a canvas, or of decoded PNG pixels. */
function pixels(c: Canvas | { width: number; height: number; data: Uint8ClampedArray }) {
  const data = 'getContext' in c ? c.getContext('2d').getImageData(0, 0, c.width, c.height).data : c.data;
  const at = (x: number, y: number): number[] => [...data.subarray((y * c.width + x) * 4, (y * c.width + x) * 4 + 3)];
  return { at, width: c.width, height: c.height };
}

const hex = (s: string): number[] => [1, 3, 5].map((i) => parseInt(s.slice(i, i + 2), 16));
const near = (a: Rgb, b: Rgb, tol = 0) => a.every((v, i) => Math.abs(v - b[i]!) <= tol);
const inBox = (x: number, y: number, b: Box, pad = 0) => x >= b.x - pad && x < b.x + b.w + pad && y >= b.y - pad && y < b.y + b.h + pad;

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

test('a map puts each cell at its longitude in its colour: a west-east ramp on a 0..360 grid is recentred', () => {
  const grid = era5Grid({ step: 2 }); // 180 x 91, lon 0..358
  const field = new Float32Array(grid.width * grid.height);
  // Speed is |longitude in -180..180| / 18: 0 m/s at 0E, 10 m/s at 180.
  for (let r = 0; r < grid.height; r++) {
    for (let c = 0; c < grid.width; c++) field[r * grid.width + c] = Math.abs(c * 2 > 180 ? c * 2 - 360 : c * 2) / 18;
  }
  // Row of 40S (row 65), column of 100E (column 50): open ocean, no coast, no grid line.
  const cell = (lat: number, lon: number) => field[((90 - lat) / 2) * grid.width + lon / 2]!;
  field[((90 - 40) / 2) * grid.width + 110 / 2] = NaN; // 40N 110E: nodata
  const map = renderSpeedMap({ grid, field, title: 'ramp', subtitle: 'test', min: 0, max: 10, width: 720 });
  const { panel } = map;
  assert.equal(panel.w, 720);
  assert.equal(panel.h, 360, '2 px per degree: the cells span 91S..91N, the map stops at the poles');
  const p = pixels(map);
  // 2 px per degree: lon -> x = panel.x + (lon + 180) * 2, lat -> y = panel.y + (90 - lat) * 2.
  const px = (lat: number, lon: number) => p.at(Math.floor(panel.x + (lon + 180) * (720 / 360)) + 1, Math.floor(panel.y + (90 - lat) * (panel.h / 180)) + 1);
  assert.deepEqual(px(-40, 100), colormapColor('viridis', cell(-40, 100), 0, 10), '100E 40S in its colour');
  assert.deepEqual(px(-40, -100), colormapColor('viridis', cell(-40, 260), 0, 10), '100W 40S in its colour (column 130 of the 0..360 grid)');
  assert.deepEqual(px(40, 110), hex(NODATA_COLOR), 'the nodata cell is grey');
  assert.ok(map.width > panel.x + panel.w + 30, 'room for the colour bar');
  const png = decodePng(Buffer.from(map.toBuffer('image/png')));
  assert.equal(png.width, map.width);
});

test('coastlines: the 1:110m land mesh has the coasts it should, in lon/lat', () => {
  const { coordinates } = coastlines('110m');
  assert.ok(coordinates.length > 100, `${coordinates.length} lines`);
  const nearPoint = (lon: number, lat: number) => coordinates.some((line) => line.some(([x, y]) => Math.abs(x! - lon) < 0.6 && Math.abs(y! - lat) < 0.6));
  for (const line of coordinates) for (const [x, y] of line) assert.ok(Math.abs(x!) <= 180 && Math.abs(y!) <= 90);
  assert.ok(nearPoint(20.0, -34.8), 'Cape Agulhas');
  assert.ok(nearPoint(-5.6, 36.0), 'Gibraltar');
  assert.ok(!nearPoint(-25, -40), 'no coast in the middle of the South Atlantic');
});

test('coastlines are drawn near known coasts and only inside their box, also on a 0..360 regional extent', () => {
  const red = [255, 0, 0];
  const count = (c: Canvas, box: Box) => {
    const p = pixels(c);
    let inside = 0;
    let outside = 0;
    for (let y = 0; y < p.height; y++) {
      for (let x = 0; x < p.width; x++) {
        const [r, g, b] = p.at(x, y);
        if (r! > 40 && g! < 20 && b! < 20) (inBox(x, y, box) ? inside++ : outside++);
      }
    }
    return { inside, outside };
  };
  // Globe, 1 px per degree at (20, 30).
  const globe = whiteCanvas(400, 240);
  const gctx = globe.getContext('2d');
  gctx.fillStyle = '#000000';
  gctx.fillRect(0, 0, 400, 240);
  const gbox = { x: 20, y: 30, w: 360, h: 180 };
  const extent = { west: -180, east: 180, south: -90, north: 90 };
  drawCoastlines(gctx, gbox, extent, '#ff0000');
  const g = count(globe, gbox);
  assert.ok(g.inside > 1500 && g.outside === 0, JSON.stringify(g));
  // Where the projection puts Gibraltar (5.6W 36N) there is coast; the South Atlantic has none.
  const [gx, gy] = panelProjection(extent, gbox)([-5.6, 36])!;
  assert.equal(Math.round(gx), 20 + 180 - 6);
  assert.equal(Math.round(gy), 30 + 90 - 36);
  const redAround = (x0: number, y0: number, r: number) => {
    let n = 0;
    for (let y = y0 - r; y <= y0 + r; y++) for (let x = x0 - r; x <= x0 + r; x++) if (pixels(globe).at(x, y)[0]! > 40) n++;
    return n;
  };
  assert.ok(redAround(Math.round(gx), Math.round(gy), 2) > 0, 'coast at Gibraltar');
  assert.equal(redAround(20 + 180 - 25, 30 + 90 + 40, 6), 0, 'no coast at 25W 40S');
  // Western Europe in the 0..360 convention (350..370E): coasts of Britain and France.
  const europe = whiteCanvas(300, 200);
  const ectx = europe.getContext('2d');
  ectx.fillStyle = '#000000';
  ectx.fillRect(0, 0, 300, 200);
  const ebox = { x: 50, y: 40, w: 200, h: 150 };
  drawCoastlines(ectx, ebox, { west: 350, east: 370, south: 45, north: 60 }, '#ff0000');
  const e = count(europe, ebox);
  assert.ok(e.inside > 300 && e.outside === 0, JSON.stringify(e));
});

test('contact sheet: one panel per lead on a shared scale, field colours only inside the panels', () => {
  const grid = era5Grid({ step: 10 });
  const n = grid.width * grid.height;
  const fields = Array.from({ length: 6 }, (_, k) => new Float32Array(n).fill(k * 2));
  const sheet = renderContactSheet({ grid, fields, captions: fields.map((_, k) => `+${k + 1} h`), title: 'leads', min: 0, max: 10, panelWidth: 120, columns: 3 });
  assert.equal(sheet.panels.length, 6);
  const p = pixels(sheet);
  const counts = new Array<number>(6).fill(0);
  let colouredOutside = 0;
  let barPixels = 0;
  const barLeft = sheet.panels[2]!.x + 120 + 10;
  for (let y = 0; y < p.height; y++) {
    for (let x = 0; x < p.width; x++) {
      const rgb = p.at(x, y);
      const k = sheet.panels.findIndex((b) => inBox(x, y, b));
      if (k >= 0 && near(rgb, colormapColor('viridis', k * 2, 0, 10))) counts[k]!++;
      // Anything not grey (text, frames, labels and coasts are neutral) is field colour; it
      // belongs inside a panel (or its antialiased frame) or in the colour bar.
      const coloured = Math.max(...rgb) - Math.min(...rgb) > 12;
      if (coloured && x >= barLeft) barPixels++;
      else if (coloured && !sheet.panels.some((b) => inBox(x, y, b, 1))) colouredOutside++;
    }
  }
  // Each uniform panel (120 x 60) in its own colour, less the antialiased grid lines and
  // coastlines (half the pixels on panels this small).
  counts.forEach((count, k) => assert.ok(count > 120 * 60 * 0.4, `lead ${k + 1}: ${count} pixels of its colour`));
  assert.equal(colouredOutside, 0, 'nothing of the field is drawn outside the panels');
  assert.ok(barPixels > 14 * 100, `a colour bar: ${barPixels}`);
  assert.throws(() => renderContactSheet({ grid, fields, captions: ['one'], title: 'x' }), /6 fields but 1 captions/);
});

test('forecastPictures: the contact sheet and one map per lead, every picture on the scale of all leads', async () => {
  const grid = era5Grid({ step: 5 });
  const n = grid.width * grid.height;
  const leads = [new Float32Array(n).fill(2), new Float32Array(n).fill(7), new Float32Array(n).fill(12)];
  const pictures = await forecastPictures({
    grid,
    leads,
    validTimes: ['2024-01-31T01Z', '2024-01-31T02Z', '2024-01-31T03Z'],
    issueTime: '2024-01-31T00Z',
    run: 'tiny',
    sheetName: 'windspeed_2024-01-31T00Z_leads.png',
    leadNames: ['a_f01.png', 'b_f02.png', 'c_f03.png'],
  });
  assert.deepEqual(pictures.map((p) => p.name), ['windspeed_2024-01-31T00Z_leads.png', 'a_f01.png', 'b_f02.png', 'c_f03.png']);
  const scale = speedScale(leads);
  assert.deepEqual(scale, { min: 0, max: 12 });
  // 40S 100E in every lead map: the lead's own speed on the shared 0..12 scale.
  for (let j = 0; j < 3; j++) {
    const png = decodePng(pictures[j + 1]!.png);
    assert.equal(png.width > 720, true, `map ${j + 1} width ${png.width}`);
    const p = pixels(png);
    // Find the panel: the first row where a long run of the lead's colour starts.
    const want = colormapColor('viridis', leads[j]![0]!, scale.min, scale.max);
    let hits = 0;
    for (let y = 0; y < p.height; y += 3) for (let x = 0; x < p.width; x += 3) if (near(p.at(x, y), want)) hits++;
    assert.ok(hits > (720 * 360) / 9 / 2, `lead ${j + 1}: ${hits} sampled pixels in ${want}`);
  }
  const sheet = decodePng(pictures[0]!.png);
  assert.ok(sheet.width > 3 * 360 && sheet.height > 180, `sheet ${sheet.width} x ${sheet.height}`);
  await assert.rejects(forecastPictures({ grid, leads, validTimes: [], issueTime: 'x', run: 'x', sheetName: 's', leadNames: [] }), /3 leads, 0 valid times/);
});
