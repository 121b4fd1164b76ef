import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { Canvas, colormapColor, crc32, decodePng, encodePng, lineChart, niceTicks, parseColor, pointsInBox, textWidth } from '../src/output/png.js';
import { withGdal } from './ingest-fixtures.js';

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(Buffer.from('123456789', 'latin1')), 0xcbf43926);
});

test('encodePng writes an opaque image as RGB and round-trips every pixel', () => {
  const w = 7;
  const h = 5;
  const rgba = new Uint8Array(w * h * 4);
  for (let i = 0; i < w * h; i++) rgba.set([(i * 37) & 255, (i * 91) & 255, (i * 13) & 255, 255], i * 4);
  const png = encodePng(rgba, w, h);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(png.toString('latin1', 12, 16), 'IHDR');
  assert.equal(png.readUInt32BE(16), w);
  assert.equal(png.readUInt32BE(20), h);
  assert.equal(png[25], 2, 'colour type RGB when all opaque');
  const back = decodePng(png);
  assert.equal(back.width, w);
  assert.equal(back.height, h);
  assert.deepEqual([...back.data], [...rgba]);
});

test('encodePng keeps alpha when any pixel is translucent', () => {
  const rgba = new Uint8Array([255, 0, 0, 255, 0, 255, 0, 128, 0, 0, 255, 0, 9, 9, 9, 255]);
  const png = encodePng(rgba, 2, 2);
  assert.equal(png[25], 6, 'colour type RGBA');
  assert.deepEqual([...decodePng(png).data], [...rgba]);
});

test('encodePng rejects a buffer of the wrong size, decodePng a corrupted chunk', () => {
  assert.throws(() => encodePng(new Uint8Array(10), 2, 2), /expected 2x2x4 = 16 bytes, got 10/);
  const png = new Canvas(3, 3).toPng();
  png[30] = png[30]! ^ 0xff;
  assert.throws(() => decodePng(png), /CRC mismatch/);
});

test('the filtered image data inflates to one filter byte plus the row per scanline', () => {
  const c = new Canvas(16, 4, '#102030');
  const png = c.toPng();
  const idatLen = png.readUInt32BE(33);
  assert.equal(png.toString('latin1', 37, 41), 'IDAT');
  const raw = inflateSync(png.subarray(41, 41 + idatLen));
  assert.equal(raw.length, 4 * (16 * 3 + 1));
});

test('parseColor accepts #rgb, #rrggbb, #rrggbbaa and arrays', () => {
  assert.deepEqual(parseColor('#f00'), [255, 0, 0, 255]);
  assert.deepEqual(parseColor('#0a0b0c'), [10, 11, 12, 255]);
  assert.deepEqual(parseColor('#0a0b0c80'), [10, 11, 12, 128]);
  assert.deepEqual(parseColor([1, 2, 300]), [1, 2, 255, 255]);
  assert.throws(() => parseColor('red'), /colour must be/);
});

test('fillRect clips at the edges and lines include both end points', () => {
  const c = new Canvas(10, 10, '#000000');
  c.fillRect(-5, -5, 8, 8, '#ffffff');
  assert.deepEqual(c.getPixel(2, 2), [255, 255, 255, 255]);
  assert.deepEqual(c.getPixel(3, 3), [0, 0, 0, 255]);
  c.line(0, 9, 9, 0, '#ff0000');
  for (let x = 0; x < 10; x++) assert.deepEqual(c.getPixel(x, 9 - x), [255, 0, 0, 255], `diagonal pixel ${x}`);
  c.line(5, 5, 5, 5, '#00ff00', 3);
  assert.deepEqual(c.getPixel(4, 6), [0, 255, 0, 255]);
});

test('translucent colours blend over the background', () => {
  const c = new Canvas(2, 1, '#000000');
  c.setPixel(0, 0, '#ffffff80');
  const [r, g, b, a] = c.getPixel(0, 0);
  assert.ok(r > 120 && r < 135 && g === r && b === r && a === 255, `got ${r},${g},${b},${a}`);
});

test('polyline breaks at NaN instead of drawing to zero', () => {
  const c = new Canvas(10, 10, '#ffffff');
  c.polyline([1, 1, 8, 1, NaN, NaN, 1, 8, 8, 8], '#000000');
  assert.deepEqual(c.getPixel(4, 1), [0, 0, 0, 255]);
  assert.deepEqual(c.getPixel(4, 8), [0, 0, 0, 255]);
  for (let y = 2; y < 8; y++) assert.deepEqual(c.getPixel(8, y), [255, 255, 255, 255], 'no segment joins the two pieces');
});

test('text draws glyph ink within the measured box, and unknown characters as boxes', () => {
  const c = new Canvas(80, 20, '#ffffff');
  const w = c.text(2, 3, '10 m/s', '#000000', { scale: 2 });
  assert.equal(w, textWidth('10 m/s', 2));
  let ink = 0;
  let outside = 0;
  for (let y = 0; y < 20; y++) {
    for (let x = 0; x < 80; x++) {
      if (c.getPixel(x, y)[0] === 0) {
        ink++;
        if (x < 2 || x >= 2 + w || y < 3 || y >= 3 + 14) outside++;
      }
    }
  }
  assert.ok(ink > 50, `some ink drawn (${ink})`);
  assert.equal(outside, 0);
  // '1' at scale 1: the stem is column 2 of the glyph on rows 1..5.
  const d = new Canvas(5, 7, '#ffffff');
  d.text(0, 0, '1', '#000000');
  for (let y = 1; y <= 5; y++) assert.equal(d.getPixel(2, y)[0], 0);
  assert.equal(d.getPixel(0, 3)[0], 255);
  const box = new Canvas(5, 7, '#ffffff');
  box.text(0, 0, '\u2603', '#000000');
  assert.equal(box.getPixel(0, 0)[0], 0);
  assert.equal(box.getPixel(2, 3)[0], 255);
});

test('vertical text occupies a rotated box', () => {
  const c = new Canvas(20, 60, '#ffffff');
  c.text(5, 55, 'ABC', '#000000', { vertical: true });
  for (let y = 0; y < 60; y++) {
    for (let x = 0; x < 20; x++) {
      if (c.getPixel(x, y)[0] === 0) assert.ok(x >= 5 && x < 12 && y < 55 && y >= 55 - textWidth('ABC'), `ink at ${x},${y}`);
    }
  }
});

test('viridis and turbo hit their published end colours', () => {
  const close = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]!) <= 4);
  assert.ok(close(colormapColor('viridis', 0, 0, 1), [68, 1, 84]), String(colormapColor('viridis', 0, 0, 1)));
  assert.ok(close(colormapColor('viridis', 1, 0, 1), [253, 231, 37]), String(colormapColor('viridis', 1, 0, 1)));
  assert.ok(close(colormapColor('viridis', 0.5, 0, 1), [33, 145, 140]), String(colormapColor('viridis', 0.5, 0, 1)));
  // turbo: dark at both ends, bright in the middle (the polynomial fit is rougher at the ends).
  const luma = (c: number[]) => 0.2126 * c[0]! + 0.7152 * c[1]! + 0.0722 * c[2]!;
  assert.ok(luma(colormapColor('turbo', 0.5, 0, 1)) > 2 * luma(colormapColor('turbo', 0, 0, 1)));
  assert.ok(luma(colormapColor('turbo', 0.5, 0, 1)) > 2 * luma(colormapColor('turbo', 1, 0, 1)));
  assert.deepEqual(colormapColor('viridis', -5, 0, 1), colormapColor('viridis', 0, 0, 1), 'clamped below');
  // viridis lightness increases monotonically (perceptual ordering).
  let prev = -1;
  for (let i = 0; i <= 20; i++) {
    const [r, g, b] = colormapColor('viridis', i / 20, 0, 1);
    const luma = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    assert.ok(luma > prev, `luma rises at ${i / 20}`);
    prev = luma;
  }
});

test('niceTicks uses 1-2-5 steps covering the range', () => {
  assert.deepEqual(niceTicks(0, 10, 5), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(niceTicks(0.13, 0.52, 4), [0.2, 0.3, 0.4, 0.5]);
  assert.deepEqual(niceTicks(1, 24, 8), [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24]);
  assert.deepEqual(niceTicks(-3, 7, 2), [0, 5]);
  assert.deepEqual(niceTicks(3, 3, 4).length > 0, true);
});

test('the legend covers no curve: another corner, or headroom when every corner is taken', () => {
  const lead = Array.from({ length: 24 }, (_, i) => i + 1);
  // The evaluation chart of the default run: baselines flat near the top (yesterday,
  // climatology) and rising into the top-right corner (persistence), the model below.
  const evaluation = [
    { name: 'persistence (2.55 m/s)', values: lead.map((h) => 3.1 - 2.3 * Math.exp(-h / 6)) },
    { name: 'yesterday (3.27 m/s)', values: lead.map((h) => 3.3 - 0.004 * h) },
    { name: 'climatology (2.95 m/s)', values: lead.map(() => 2.95) },
    { name: 'linear (2.37 m/s)', values: lead.map((h) => 2.9 - 2.5 * Math.exp(-h / 5)) },
    { name: 'model (1.94 m/s)', values: lead.map((h) => 2.6 - 2.3 * Math.exp(-h / 8)) },
  ];
  // Curves low on the left and high on the right: the top-left corner is free.
  const rising = [{ name: 'a', values: lead.map((h) => h) }, { name: 'b', values: lead.map((h) => h / 2) }];
  // Everything spans the whole height: only headroom above the data helps.
  const zigzag = [{ name: 'up and down', values: lead.map((h) => (h % 2 ? 0 : 10)) }];
  for (const [what, series] of [['evaluation', evaluation], ['rising', rising], ['zigzag', zigzag]] as const) {
    const c = lineChart({ title: what, xLabel: 'lead', yLabel: 'RMSE', width: 800, height: 480, series: series.map((x) => ({ ...x, values: [...x.values] })) });
    assert.ok(c.legend, `${what}: a legend`);
    assert.equal(pointsInBox(c.lines, c.legend), 0, `${what}: the legend covers a curve`);
    // The check can fail: the fixed top-right box of before covered the evaluation curves.
    if (what === 'evaluation') {
      const plotRight = Math.max(...c.lines.flatMap((pts) => pts.filter((_, i) => i % 2 === 0)));
      const oldBox = { x: plotRight - c.legend.w - 8, y: 12 + 2 * 8 + 10 + 8, w: c.legend.w, h: c.legend.h };
      assert.ok(pointsInBox(c.lines, oldBox) > 0, 'the old top-right placement overlapped');
    }
    if (what === 'rising') assert.ok(c.legend.x < 200, 'rising curves: the legend moves to the top left');
  }
});

test('lineChart draws each series in its colour at the right size', async (t) => {
  const lead = Array.from({ length: 24 }, (_, i) => i + 1);
  const c = lineChart({
    title: 'RMSE vs lead',
    xLabel: 'lead (hours)',
    yLabel: 'RMSE (m/s)',
    width: 400,
    height: 300,
    series: [
      { name: 'model', values: lead.map((h) => 0.5 + 0.05 * h), color: '#ff0000' },
      { name: 'persistence', values: lead.map((h) => (h === 12 ? NaN : 0.2 + 0.1 * h)), color: '#0000ff' },
    ],
  });
  assert.equal(c.width, 400);
  assert.equal(c.height, 300);
  let red = 0;
  let blue = 0;
  for (let i = 0; i < c.data.length; i += 4) {
    if (c.data[i] === 255 && c.data[i + 1] === 0 && c.data[i + 2] === 0) red++;
    if (c.data[i] === 0 && c.data[i + 1] === 0 && c.data[i + 2] === 255) blue++;
  }
  assert.ok(red > 300 && blue > 300, `red ${red}, blue ${blue}`);
  const png = c.toPng();
  assert.equal(decodePng(png).width, 400);
  await withGdal(t, 'the chart PNG', () => {
    const dir = mkdtempSync(join(tmpdir(), 'windcast-png-'));
    try {
      const file = join(dir, 'chart.png');
      writeFileSync(file, png);
      const info = JSON.parse(execFileSync('gdalinfo', ['-json', file], { encoding: 'utf8' })) as { size: number[]; bands: unknown[]; driverShortName: string };
      assert.equal(info.driverShortName, 'PNG');
      assert.deepEqual(info.size, [400, 300]);
      assert.equal(info.bands.length, 3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
