import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GlobalFonts } from '@napi-rs/canvas';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile } from 'vega-lite';
import { rmseChart, rmseChartSpec } from '../src/evaluate/chart.js';
import type { Scores } from '../src/evaluate/metrics.js';
import { colormapColor, colormapTable, decodePng, font, FONT_FAMILY, toPng, whiteCanvas } from '../src/output/png.js';
import { withGdal } from './ingest-fixtures.js';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

test('toPng writes an opaque RGB PNG that decodes to the pixels drawn', async () => {
  const c = whiteCanvas(7, 5);
  const ctx = c.getContext('2d');
  ctx.fillStyle = '#123456';
  ctx.fillRect(0, 0, 3, 5);
  ctx.fillStyle = '#fe8001';
  ctx.fillRect(3, 2, 4, 3);
  const png = await toPng(c);
  assert.deepEqual([...png.subarray(0, 8)], PNG_SIGNATURE);
  assert.equal(png.toString('latin1', 12, 16), 'IHDR');
  assert.equal(png.readUInt32BE(16), 7);
  assert.equal(png.readUInt32BE(20), 5);
  assert.equal(png[25], 2, 'colour type RGB: the pictures are opaque');
  const back = decodePng(png);
  assert.equal(back.width, 7);
  assert.equal(back.height, 5);
  const at = (x: number, y: number) => [...back.data.subarray((y * 7 + x) * 4, (y * 7 + x) * 4 + 4)];
  assert.deepEqual(at(0, 0), [0x12, 0x34, 0x56, 255]);
  assert.deepEqual(at(6, 4), [0xfe, 0x80, 0x01, 255]);
  assert.deepEqual(at(6, 0), [255, 255, 255, 255]);
  assert.throws(() => decodePng(Buffer.from('GIF89a....')), /not a PNG/);
  assert.throws(() => whiteCanvas(0, 3), /positive integers/);
});

test('text is drawn in Inter, antialiased, inside the box it measures', () => {
  const c = whiteCanvas(200, 40);
  const ctx = c.getContext('2d');
  assert.ok(GlobalFonts.has(FONT_FAMILY), 'Inter is registered with the canvas');
  ctx.font = font(20);
  ctx.fillStyle = '#000000';
  ctx.textBaseline = 'top';
  ctx.fillText('10 m/s 30°N', 5, 8);
  const width = ctx.measureText('10 m/s 30°N').width;
  assert.ok(width > 80 && width < 140, `width ${width}`);
  const { data } = ctx.getImageData(0, 0, 200, 40);
  let ink = 0;
  let grey = 0;
  let outside = 0;
  for (let y = 0; y < 40; y++) {
    for (let x = 0; x < 200; x++) {
      const v = data[(y * 200 + x) * 4]!;
      if (v < 250) {
        ink++;
        if (v > 20) grey++;
        if (x < 4 || x > 5 + width + 1 || y < 6 || y > 8 + 22) outside++;
      }
    }
  }
  assert.ok(ink > 150, `ink ${ink}`);
  assert.ok(grey > 30, `antialiased edges: ${grey} grey pixels`);
  assert.equal(outside, 0);
});

test('colour maps are d3-scale-chromatic\'s: viridis ends and middle, lightness rising', () => {
  assert.deepEqual(colormapColor('viridis', 0, 0, 1), [0x44, 0x01, 0x54]);
  assert.deepEqual(colormapColor('viridis', 1, 0, 1), [0xfd, 0xe7, 0x25]);
  const mid = colormapColor('viridis', 0.5, 0, 1);
  assert.ok(mid.every((v, i) => Math.abs(v - [0x21, 0x91, 0x8c][i]!) <= 2), String(mid));
  assert.deepEqual(colormapColor('viridis', -5, 0, 1), colormapColor('viridis', 0, 0, 1), 'clamped below');
  assert.deepEqual(colormapColor('viridis', 50, 0, 10), colormapColor('viridis', 10, 0, 10), 'clamped above');
  const lut = colormapTable('viridis');
  let prev = -1;
  for (let i = 0; i < 256; i += 8) {
    const luma = 0.2126 * lut[i * 3]! + 0.7152 * lut[i * 3 + 1]! + 0.0722 * lut[i * 3 + 2]!;
    assert.ok(luma > prev, `lightness rises at ${i}`);
    prev = luma;
  }
  const luma = (c: number[]) => 0.2126 * c[0]! + 0.7152 * c[1]! + 0.0722 * c[2]!;
  assert.ok(luma(colormapColor('turbo', 0.5, 0, 1)) > 2 * luma(colormapColor('turbo', 0, 0, 1)), 'turbo: dark low end');
});

/** Scores of the default run's shape: baselines flat near the top and rising into the top right. */
function evaluationScores(): Scores {
  const lead = Array.from({ length: 24 }, (_, i) => i + 1);
  const series: Record<string, number[]> = {
    persistence: lead.map((h) => 3.1 - 2.3 * Math.exp(-h / 6)),
    yesterday: lead.map((h) => 3.3 - 0.004 * h),
    climatology: lead.map(() => 2.95),
    linear: lead.map((h) => (h === 12 ? NaN : 2.9 - 2.5 * Math.exp(-h / 5))),
    model: lead.map((h) => 2.6 - 2.3 * Math.exp(-h / 8)),
  };
  const forecasters = Object.fromEntries(
    Object.entries(series).map(([name, rmse]) => [name, { rmse, mean: { rmse: rmse.filter(Number.isFinite).reduce((a, b) => a + b) / 23 } }]),
  );
  return { horizon: 24, names: Object.keys(series), global: { forecasters } } as unknown as Scores;
}

interface SceneItem {
  role?: string;
  marktype?: string;
  bounds?: { x1: number; y1: number; x2: number; y2: number };
  items?: SceneItem[];
}

function findItems(node: SceneItem, keep: (item: SceneItem) => boolean, out: SceneItem[] = []): SceneItem[] {
  for (const item of node.items ?? []) {
    if (keep(item)) out.push(item);
    findItems(item, keep, out);
  }
  return out;
}

test('the RMSE chart spec compiles with Vega-Lite, the model is black and on top, the legend covers no curve', async () => {
  const scores = evaluationScores();
  const spec = rmseChartSpec(scores, { model: 'model' });
  const compiled = compile(spec).spec;
  assert.ok(compiled.marks && compiled.marks.length > 0, 'compiles to Vega marks');
  const color = (spec as { encoding: { color: { scale: { domain: string[]; range: string[] } } } }).encoding.color.scale;
  const modelMean = scores.global.forecasters.model!.mean.rmse;
  assert.equal(color.domain[color.domain.length - 1], `model (${modelMean.toFixed(2)} m/s)`, 'the model is drawn last, its mean RMSE in the label');
  assert.equal(color.range[color.range.length - 1], '#000000');
  const values = (spec as { data: { values: Array<{ lead: number; forecast: string; rmse: number | null }> } }).data.values;
  assert.equal(values.length, 5 * 24);
  assert.equal(values.find((v) => v.forecast.startsWith('linear') && v.lead === 12)!.rmse, null, 'NaN leaves a gap (null in JSON)');

  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  await view.runAsync();
  const root = (view.scenegraph() as unknown as { root: SceneItem }).root;
  const [legend] = findItems(root, (i) => i.role === 'legend');
  const lines = findItems(root, (i) => i.marktype === 'line' && i.role === 'mark');
  assert.ok(legend?.bounds && lines.length === 5, `a legend and one line per series, got ${lines.length} lines`);
  for (const line of lines) {
    const b = line.bounds!;
    const overlaps: boolean = b.x1 < legend.bounds.x2 && legend.bounds.x1 < b.x2 && b.y1 < legend.bounds.y2 && legend.bounds.y1 < b.y2;
    assert.equal(overlaps, false, `legend ${JSON.stringify(legend.bounds)} over curves ${JSON.stringify(b)}`);
  }
  view.finalize();
});

test('rmseChart: PNG of the asked size with the model in black, SVG that parses and names every series', async (t) => {
  const chart = await rmseChart(evaluationScores(), { model: 'model', title: 'RMSE by lead hour: tiny' });
  assert.deepEqual([...chart.png.subarray(0, 8)], PNG_SIGNATURE);
  const png = decodePng(chart.png);
  assert.equal(png.width, 800);
  assert.equal(png.height, 480);
  let black = 0;
  let blue = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    const [r, g, b] = [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
    if (r < 30 && g < 30 && b < 30) black++;
    // Tableau blue #4e79a7: the first baseline.
    if (Math.abs(r - 0x4e) < 12 && Math.abs(g - 0x79) < 12 && Math.abs(b - 0xa7) < 12) blue++;
  }
  assert.ok(black > 1500, `the model's thick black line and the text: ${black} px`);
  assert.ok(blue > 300, `persistence in Tableau blue: ${blue} px`);
  for (const name of ['persistence', 'yesterday', 'climatology', 'linear', 'model', 'RMSE by lead hour: tiny', 'lead time (hours)']) {
    assert.ok(chart.svg.includes(name), `the SVG names ${name}`);
  }
  const rendered = new Resvg(chart.svg).render();
  assert.equal(rendered.width, 800, 'the SVG parses (resvg renders it at its own size)');
  await withGdal(t, 'the chart PNG', () => {
    const dir = mkdtempSync(join(tmpdir(), 'windcast-png-'));
    try {
      const file = join(dir, 'chart.png');
      writeFileSync(file, chart.png);
      const info = JSON.parse(execFileSync('gdalinfo', ['-json', file], { encoding: 'utf8' })) as { size: number[]; bands: unknown[]; driverShortName: string };
      assert.equal(info.driverShortName, 'PNG');
      assert.deepEqual(info.size, [800, 480]);
      assert.equal(info.bands.length, 3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
