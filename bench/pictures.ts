/**
 * Picture benchmark: time and PNG size of the 24-panel global contact sheet (and of one
 * full-resolution lead map) for each way of drawing it, in one process, candidates alternating
 * round by round so a noisy machine slows them alike. Reported per candidate: the median and
 * the spread (min..max) of draw + encode wall time, and the PNG size.
 *
 *   node dist/bench/pictures.js --data DIR [--rounds 5] [--today OLD/dist] [--out DIR]
 *
 * DIR holds at least 24 hourly GeoTIFFs on a 1440 x 721 grid (`windcast synth --out DIR
 * --hours 48`). Candidates:
 *  - canvas+sharp: what windcast does (src/output/maps.ts): @napi-rs/canvas (Skia) draws,
 *    with Inter, d3-geo coastlines and graticules; sharp (libvips) encodes the PNG (RGB).
 *  - canvas+skia: the same drawing, encoded by the canvas' own PNG encoder (RGBA).
 *  - svg-resvg: the same layout as one SVG document (d3-geo paths as strings, each panel's
 *    field as an embedded PNG made by pngjs) rendered by @resvg/resvg-js. resvg reads only
 *    TrueType/OpenType fonts (not the WOFF2 Inter we ship), so this candidate uses the
 *    machine's fonts; text is a small part of its time.
 *  - today: the hand-written canvas, bitmap font and PNG encoder windcast had before
 *    (src/output/png.ts at b927eb5), loaded from a built checkout of that commit with --today.
 * Vega is not a candidate for maps: a raster is either a million rect marks per panel or an
 * image mark holding a PNG that another candidate has to encode first, and its PNG output
 * needs node-canvas (whose binary is downloaded at install, which fails here) or a canvas
 * context we hand it, which is the canvas candidate with more layers. windcast uses Vega(-Lite)
 * for the evaluation chart only.
 * With --out the last round's pictures are written there to look at.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Resvg } from '@resvg/resvg-js';
import { geoGraticule, geoPath } from 'd3-geo';
import { PNG } from 'pngjs';
import type { GridSpec } from '../src/core/grid.js';
import { readRaster, rasterSpeed } from '../src/ingest/raster.js';
import { coastlineScale, coastlines } from '../src/output/coastlines.js';
import { degreeLabel, graticuleStep, mapExtent, panelHeight, panelProjection, speedScale, type Box } from '../src/output/map-layers.js';
import { forecastPictures, renderContactSheet, renderSpeedMap } from '../src/output/maps.js';
import { colormapIndex, colormapTable, toPng } from '../src/output/png.js';
import { median } from './stats.js';

const { values: opts } = parseArgs({
  options: {
    data: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    today: { type: 'string' },
    out: { type: 'string' },
  },
});
if (!opts.data) throw new Error('usage: node dist/bench/pictures.js --data DIR [--rounds 5] [--today OLD/dist] [--out DIR]');

interface Job {
  grid: GridSpec;
  fields: Float32Array[];
  captions: string[];
  min: number;
  max: number;
}

type Render = (job: Job, kind: 'sheet' | 'map') => Promise<Buffer>;

// ---------------------------------------------------------------------------------------
// svg-resvg: the contact sheet's layout as SVG.

function panelPng(job: Job, field: Float32Array, box: Box): string {
  const extent = mapExtent(job.grid);
  const lut = colormapTable('viridis');
  const png = new PNG({ width: box.w, height: box.h });
  const { grid } = job;
  for (let py = 0; py < box.h; py++) {
    const r = Math.round((grid.lat0 - (extent.north - ((py + 0.5) / box.h) * (extent.north - extent.south))) / grid.dLat);
    for (let px = 0; px < box.w; px++) {
      let c = Math.round((extent.west + ((px + 0.5) / box.w) * (extent.east - extent.west) - grid.lon0) / grid.dLon);
      c = ((c % grid.width) + grid.width) % grid.width;
      const v = field[r * grid.width + c]!;
      const o = (py * box.w + px) * 4;
      const i = colormapIndex(v, job.min, job.max) * 3;
      png.data[o] = Number.isNaN(v) ? 200 : lut[i]!;
      png.data[o + 1] = Number.isNaN(v) ? 200 : lut[i + 1]!;
      png.data[o + 2] = Number.isNaN(v) ? 200 : lut[i + 2]!;
      png.data[o + 3] = 255;
    }
  }
  return PNG.sync.write(png).toString('base64');
}

function svgSheet(job: Job, kind: 'sheet' | 'map'): string {
  const extent = mapExtent(job.grid);
  const fields = kind === 'sheet' ? job.fields : job.fields.slice(0, 1);
  const columns = kind === 'sheet' ? 4 : 1;
  const pw = kind === 'sheet' ? 360 : 1440;
  const ph = panelHeight(extent, pw);
  const left = 50;
  const top = 70;
  const gap = 12;
  const rows = Math.ceil(fields.length / columns);
  const width = left + columns * pw + (columns - 1) * gap + 70;
  const height = top + rows * (18 + ph + gap) + 40;
  const step = graticuleStep(360);
  const coast = coastlines(coastlineScale(360));
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}" font-family="Inter, DejaVu Sans, sans-serif">`);
  out.push(`<rect width="${width}" height="${height}" fill="#fff"/><text x="${left}" y="32" font-size="20" font-weight="600">Wind speed forecast</text>`);
  fields.forEach((field, k) => {
    const box: Box = { x: left + (k % columns) * (pw + gap), y: top + Math.floor(k / columns) * (18 + ph + gap) + 18, w: pw, h: ph };
    const path = geoPath(panelProjection(extent, box));
    out.push(`<clipPath id="p${k}"><rect x="${box.x}" y="${box.y}" width="${box.w}" height="${box.h}"/></clipPath>`);
    out.push(`<text x="${box.x}" y="${box.y - 4}" font-size="12">${job.captions[k]}</text>`);
    out.push(`<image x="${box.x}" y="${box.y}" width="${box.w}" height="${box.h}" style="image-rendering:optimizeSpeed" xlink:href="data:image/png;base64,${panelPng(job, field, box)}"/>`);
    out.push(`<g clip-path="url(#p${k})" fill="none"><path d="${path(coast)}" stroke="#e6e6e6" stroke-width="0.75"/>`);
    out.push(`<path d="${path(geoGraticule().extent([[extent.west, extent.south], [extent.east, extent.north]]).step([step, step])())}" stroke="rgba(255,255,255,0.45)"/></g>`);
    out.push(`<rect x="${box.x - 0.5}" y="${box.y - 0.5}" width="${box.w + 1}" height="${box.h + 1}" fill="none" stroke="#000"/>`);
    if (k % columns === 0) for (let lat = -90; lat <= 90; lat += step) out.push(`<text x="${box.x - 5}" y="${box.y + ((90 - lat) / 180) * box.h + 4}" font-size="11" text-anchor="end">${degreeLabel(lat, 'lat')}</text>`);
    if (k + columns >= fields.length) for (let lon = -180; lon < 180; lon += 60) out.push(`<text x="${box.x + ((lon + 180) / 360) * box.w}" y="${box.y + box.h + 14}" font-size="11" text-anchor="middle">${degreeLabel(lon, 'lon')}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

const svgResvg: Render = async (job, kind) => new Resvg(svgSheet(job, kind), { font: { loadSystemFonts: true } }).render().asPng();

// ---------------------------------------------------------------------------------------

const draw = (job: Job, kind: 'sheet' | 'map') =>
  kind === 'sheet'
    ? renderContactSheet({ grid: job.grid, fields: job.fields, captions: job.captions, title: 'Wind speed forecast', subtitle: 'bench', min: job.min, max: job.max })
    : renderSpeedMap({ grid: job.grid, field: job.fields[0]!, title: 'Wind speed +1 h', subtitle: 'bench', min: job.min, max: job.max });
const canvasSharp: Render = async (job, kind) => toPng(draw(job, kind));
const canvasSkia: Render = async (job, kind) => draw(job, kind).encode('png');

async function todayRender(dist: string): Promise<Render> {
  type OldCanvas = { toPng(): Buffer };
  const old = (await import(pathToFileURL(join(resolve(dist), 'src/output/maps.js')).href)) as {
    renderContactSheet(o: object): OldCanvas;
    renderSpeedMap(o: object): OldCanvas;
  };
  return async (job, kind) =>
    (kind === 'sheet'
      ? old.renderContactSheet({ grid: job.grid, fields: job.fields, captions: job.captions, title: 'Wind speed forecast', subtitle: 'bench', min: job.min, max: job.max })
      : old.renderSpeedMap({ grid: job.grid, field: job.fields[0]!, title: 'Wind speed +1 h', subtitle: 'bench', min: job.min, max: job.max })
    ).toPng();
}

// ---------------------------------------------------------------------------------------

const files = readdirSync(opts.data).filter((f) => f.endsWith('.tif')).sort().slice(0, 24);
if (files.length < 24) throw new Error(`${opts.data}: ${files.length} GeoTIFFs, the contact sheet needs 24`);
const rasters = await Promise.all(files.map((f) => readRaster(join(opts.data!, f))));
const fields = rasters.map(rasterSpeed);
const job: Job = { grid: rasters[0]!.grid, fields, captions: files.map((f, j) => `+${j + 1} h  ${f.slice(10, 24)}`), ...speedScale(fields) };

const candidates: Array<[string, Render]> = [['canvas+sharp', canvasSharp], ['canvas+skia', canvasSkia], ['svg-resvg', svgResvg]];
if (opts.today) candidates.push(['today', await todayRender(opts.today)]);
const rounds = Number(opts.rounds);
const times = new Map<string, number[]>();
const sizes = new Map<string, number>();
if (opts.out) mkdirSync(opts.out, { recursive: true });

console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}, ${new Date().toISOString().slice(0, 10)}`);
console.log(`grid ${job.grid.width} x ${job.grid.height}, 24 leads from ${opts.data}; ${rounds} rounds, candidates alternating`);
for (let round = 0; round < rounds; round++) {
  // Rotate the order each round so no candidate always runs first (or right after the slowest).
  const order = candidates.map((_, i) => candidates[(i + round) % candidates.length]!);
  for (const [name, render] of order) {
    for (const kind of ['sheet', 'map'] as const) {
      const t0 = performance.now();
      const png = await render(job, kind);
      const ms = performance.now() - t0;
      const key = `${name} ${kind}`;
      times.set(key, [...(times.get(key) ?? []), ms]);
      sizes.set(key, png.length);
      if (opts.out && round === rounds - 1) writeFileSync(join(opts.out, `${name}-${kind}.png`), png);
    }
  }
}

// What predict --png adds: the contact sheet and 24 lead maps, encoded two at a time off the
// main thread (forecastPictures), once per round after the candidates.
const allPictures: number[] = [];
let allBytes = 0;
for (let round = 0; round < rounds; round++) {
  const t0 = performance.now();
  const pictures = await forecastPictures({
    grid: job.grid,
    leads: job.fields,
    validTimes: files.map((f) => f.slice(10, 24)),
    issueTime: 'bench',
    run: 'bench',
    sheetName: 'sheet.png',
    leadNames: files.map((_, j) => `f${j + 1}.png`),
  });
  allPictures.push(performance.now() - t0);
  allBytes = pictures.reduce((sum, p) => sum + p.png.length, 0);
}

console.log('');
console.log('| candidate | picture | median ms | spread ms (min..max) | PNG size |');
console.log('| --- | --- | ---: | ---: | ---: |');
for (const [name] of candidates) {
  for (const kind of ['sheet', 'map'] as const) {
    const t = times.get(`${name} ${kind}`)!;
    const what = kind === 'sheet' ? '24-panel contact sheet' : 'one 1440 px lead map';
    console.log(`| ${name} | ${what} | ${median(t).toFixed(0)} | ${Math.min(...t).toFixed(0)}..${Math.max(...t).toFixed(0)} | ${(sizes.get(`${name} ${kind}`)! / 1e6).toFixed(2)} MB |`);
  }
}
console.log(`| canvas+sharp | forecastPictures: sheet + 24 lead maps | ${median(allPictures).toFixed(0)} | ${Math.min(...allPictures).toFixed(0)}..${Math.max(...allPictures).toFixed(0)} | ${(allBytes / 1e6).toFixed(1)} MB in all |`);
