/**
 * Quick-look maps of wind-speed fields: equirectangular (plate carree) world or regional
 * maps with a colour bar in m/s and labelled lat/lon grid lines, and a contact sheet of
 * all forecast leads on one shared colour scale.
 *
 * Coastlines (Natural Earth via world-atlas, src/coastlines.ts) and labelled grid lines give
 * the orientation. Cells are drawn by nearest neighbour (no smoothing), so what you see is
 * what is in the GeoTIFF; cells with nodata are grey.
 */
import { coastlineScale, coastlines } from './coastlines.js';
import { colLon, rowLat, wrapsLongitude, type GridSpec } from '../core/grid.js';
import { Canvas, colormapTable, formatTick, niceTicks, textHeight, textWidth, type ColormapName } from './png.js';

export const NODATA_COLOR = '#c8c8c8';

/** The geographic box shown by a map, degrees; west < east (east may exceed 180). */
export interface MapExtent {
  west: number;
  east: number;
  south: number;
  north: number;
}

/**
 * What a map shows: a global grid as -180..180 (Greenwich in the middle, whatever the
 * file's convention), a regional grid as its own cell edges, latitudes clipped to +-90.
 */
export function mapExtent(grid: GridSpec): MapExtent {
  const north = Math.min(90, grid.lat0 + grid.dLat / 2);
  const south = Math.max(-90, rowLat(grid, grid.height - 1) - grid.dLat / 2);
  if (wrapsLongitude(grid)) return { west: -180, east: 180, south, north };
  const west = grid.lon0 - grid.dLon / 2;
  return { west, east: colLon(grid, grid.width - 1) + grid.dLon / 2, south, north };
}

/**
 * A colour scale for speed fields: from 0 (or the minimum, if negative) to a round number
 * above the 99.9th percentile, so one gust cell does not wash out the whole map. Values
 * beyond the top take the top colour.
 */
export function speedScale(fields: ArrayLike<number>[]): { min: number; max: number } {
  const sample: number[] = [];
  let lo = Infinity;
  for (const f of fields) {
    // Up to ~200k values in total are enough for a percentile; a stride keeps this cheap.
    const stride = Math.max(1, Math.floor((f.length * fields.length) / 200_000));
    for (let i = 0; i < f.length; i += stride) {
      const v = f[i]!;
      if (Number.isFinite(v)) {
        sample.push(v);
        if (v < lo) lo = v;
      }
    }
  }
  if (sample.length === 0) return { min: 0, max: 1 };
  sample.sort((a, b) => a - b);
  const p999 = sample[Math.min(sample.length - 1, Math.floor(sample.length * 0.999))]!;
  const min = lo < 0 ? Math.floor(lo) : 0;
  const ticks = niceTicks(min, Math.max(p999, min + 1e-6), 5);
  const step = ticks.length >= 2 ? ticks[1]! - ticks[0]! : 1;
  const max = Math.ceil(p999 / step - 1e-9) * step;
  return { min, max: max > min ? max : min + step };
}

/** Degrees between grid lines: a round step giving at most 12 lines across the span (30 for the globe). */
export function graticuleStep(spanDeg: number): number {
  for (const s of [0.25, 0.5, 1, 2, 5, 10, 15, 30, 45, 60, 90]) if (spanDeg / s <= 12) return s;
  return 90;
}

/** "30°N", "0°", "15.5°W": a latitude or longitude label (longitudes wrapped to -180..180). */
export function degreeLabel(value: number, axis: 'lat' | 'lon'): string {
  let v = value;
  if (axis === 'lon') v = ((((v + 180) % 360) + 360) % 360) - 180;
  if (axis === 'lon' && Math.abs(Math.abs(v) - 180) < 1e-9) return '180°';
  const r = Math.round(Math.abs(v) * 100) / 100;
  if (r === 0) return '0°';
  const hemi = axis === 'lat' ? (v > 0 ? 'N' : 'S') : v > 0 ? 'E' : 'W';
  return `${r}°${hemi}`;
}

interface PanelOptions {
  grid: GridSpec;
  field: ArrayLike<number>;
  extent: MapExtent;
  min: number;
  max: number;
  colormap: ColormapName;
}

/** Fill the w x h box at (x, y) with the field, nearest cell per pixel. */
function drawField(canvas: Canvas, x: number, y: number, w: number, h: number, o: PanelOptions): void {
  const { grid, field, extent } = o;
  const lut = colormapTable(o.colormap);
  const wraps = wrapsLongitude(grid);
  // Column and row of each pixel, computed once: pixel centres to lon/lat, then to cells.
  const cols = new Int32Array(w);
  for (let px = 0; px < w; px++) {
    const lon = extent.west + ((px + 0.5) / w) * (extent.east - extent.west);
    let c = Math.round((lon - grid.lon0) / grid.dLon);
    if (wraps) c = ((c % grid.width) + grid.width) % grid.width;
    cols[px] = c >= 0 && c < grid.width ? c : -1;
  }
  const rows = new Int32Array(h);
  for (let py = 0; py < h; py++) {
    const lat = extent.north - ((py + 0.5) / h) * (extent.north - extent.south);
    const r = Math.round((grid.lat0 - lat) / grid.dLat);
    rows[py] = r >= 0 && r < grid.height ? r : -1;
  }
  const scale = o.max > o.min ? 255 / (o.max - o.min) : 0;
  const d = canvas.data;
  const nd = [0xc8, 0xc8, 0xc8];
  for (let py = 0; py < h; py++) {
    const ty = y + py;
    if (ty < 0 || ty >= canvas.height) continue;
    const r = rows[py]!;
    for (let px = 0; px < w; px++) {
      const tx = x + px;
      if (tx < 0 || tx >= canvas.width) continue;
      const c = cols[px]!;
      const v = r >= 0 && c >= 0 ? field[r * grid.width + c]! : NaN;
      const o4 = (ty * canvas.width + tx) * 4;
      if (Number.isNaN(v)) {
        d[o4] = nd[0]!;
        d[o4 + 1] = nd[1]!;
        d[o4 + 2] = nd[2]!;
      } else {
        const i = Math.max(0, Math.min(255, Math.round((v - o.min) * scale))) * 3;
        d[o4] = lut[i]!;
        d[o4 + 1] = lut[i + 1]!;
        d[o4 + 2] = lut[i + 2]!;
      }
      d[o4 + 3] = 255;
    }
  }
}

/** Coastline colour: opaque light grey, readable on every viridis shade. */
export const COASTLINE_COLOR = '#d9d9d9';

/**
 * Coastlines over the w x h box at (x, y) showing `extent`, clipped to the box. Each segment
 * is shifted by a multiple of 360 degrees to the copy nearest the map's centre, so maps in the
 * 0..360 convention and regional maps across the antimeridian get their coasts too.
 */
export function drawCoastlines(canvas: Canvas, x: number, y: number, w: number, h: number, extent: MapExtent, color = COASTLINE_COLOR): void {
  const spanLon = extent.east - extent.west;
  const centre = (extent.west + extent.east) / 2;
  const lonToX = (lon: number) => x + ((lon - extent.west) / spanLon) * w;
  const latToY = (lat: number) => y + ((extent.north - lat) / (extent.north - extent.south)) * h;
  for (const line of coastlines(coastlineScale(Math.max(spanLon, extent.north - extent.south)))) {
    for (let i = 0; i + 3 < line.length; i += 2) {
      const a = line[i]!;
      const shift = Math.round((centre - a) / 360) * 360;
      const seg = clipSegment(lonToX(a + shift), latToY(line[i + 1]!), lonToX(line[i + 2]! + shift), latToY(line[i + 3]!), x, y, x + w - 1, y + h - 1);
      if (seg) canvas.line(seg[0], seg[1], seg[2], seg[3], color);
    }
  }
}

/** Liang-Barsky: the part of a segment inside the box, or undefined. */
export function clipSegment(x0: number, y0: number, x1: number, y1: number, xMin: number, yMin: number, xMax: number, yMax: number): [number, number, number, number] | undefined {
  const dx = x1 - x0;
  const dy = y1 - y0;
  let t0 = 0;
  let t1 = 1;
  for (const [p, q] of [[-dx, x0 - xMin], [dx, xMax - x0], [-dy, y0 - yMin], [dy, yMax - y0]] as const) {
    if (p === 0) {
      if (q < 0) return undefined;
      continue;
    }
    const r = q / p;
    if (p < 0) {
      if (r > t1) return undefined;
      if (r > t0) t0 = r;
    } else {
      if (r < t0) return undefined;
      if (r < t1) t1 = r;
    }
  }
  return [x0 + t0 * dx, y0 + t0 * dy, x0 + t1 * dx, y0 + t1 * dy];
}

/** Grid lines over the box, optionally labelled outside it (lat on the left, lon below). */
function drawGraticule(canvas: Canvas, x: number, y: number, w: number, h: number, extent: MapExtent, labels: boolean | { lat: boolean; lon: boolean }): void {
  const latLabels = typeof labels === 'boolean' ? labels : labels.lat;
  const lonLabels = typeof labels === 'boolean' ? labels : labels.lon;
  const step = graticuleStep(Math.max(extent.east - extent.west, extent.north - extent.south));
  const lineColor = '#ffffff70';
  // On small panels label every 2nd (3rd...) line so labels never overlap; 0 is always labelled.
  const lonEvery = Math.max(1, Math.ceil((textWidth('150°W') + 6) / ((step / (extent.east - extent.west)) * w)));
  const latEvery = Math.max(1, Math.ceil((textHeight() + 4) / ((step / (extent.north - extent.south)) * h)));
  const lonToX = (lon: number) => x + ((lon - extent.west) / (extent.east - extent.west)) * w;
  const latToY = (lat: number) => y + ((extent.north - lat) / (extent.north - extent.south)) * h;
  for (let lon = Math.ceil(extent.west / step - 1e-9) * step; lon <= extent.east + 1e-9; lon += step) {
    const px = Math.min(x + w - 1, Math.round(lonToX(lon)));
    if (px > x && px < x + w - 1) canvas.line(px, y, px, y + h - 1, lineColor);
    // On a whole-globe map the east edge is the west edge again: label 180° once.
    const repeatsWest = extent.east - extent.west >= 360 - 1e-9 && lon >= extent.east - 1e-9;
    if (lonLabels && !repeatsWest && Math.round(lon / step) % lonEvery === 0) canvas.text(px, y + h + 4, degreeLabel(lon, 'lon'), '#000000', { align: 'center' });
  }
  for (let lat = Math.ceil(extent.south / step - 1e-9) * step; lat <= extent.north + 1e-9; lat += step) {
    const py = Math.min(y + h - 1, Math.round(latToY(lat)));
    if (py > y && py < y + h - 1) canvas.line(x, py, x + w - 1, py, lineColor);
    if (latLabels && Math.round(lat / step) % latEvery === 0) canvas.text(x - 4, py, degreeLabel(lat, 'lat'), '#000000', { align: 'right', baseline: 'middle' });
  }
  canvas.strokeRect(x - 1, y - 1, w + 2, h + 2, '#000000');
}

/** A vertical colour bar with ticks in the field's units, label on top. */
function drawColorBar(canvas: Canvas, x: number, y: number, h: number, o: { min: number; max: number; colormap: ColormapName; units: string }): void {
  const barW = 14;
  canvas.text(x, y - 8, o.units, '#000000', { baseline: 'bottom' });
  canvas.colorBar(x, y, barW, h, { colormap: o.colormap, vertical: true, outline: '#000000' });
  const ticks = niceTicks(o.min, o.max, 6).filter((t) => t >= o.min - 1e-9 && t <= o.max + 1e-9);
  const step = ticks.length >= 2 ? ticks[1]! - ticks[0]! : 1;
  for (const t of ticks) {
    const py = Math.round(y + h - 1 - ((t - o.min) / (o.max - o.min)) * (h - 1));
    canvas.line(x + barW, py, x + barW + 3, py, '#000000');
    canvas.text(x + barW + 6, py, formatTick(t, step), '#000000', { baseline: 'middle' });
  }
}

function colorBarWidth(min: number, max: number): number {
  const ticks = niceTicks(min, max, 6);
  const step = ticks.length >= 2 ? ticks[1]! - ticks[0]! : 1;
  return 14 + 6 + Math.max(textWidth('m/s'), ...ticks.map((t) => textWidth(formatTick(t, step)))) + 8;
}

function hasNoData(field: ArrayLike<number>): boolean {
  for (let i = 0; i < field.length; i++) if (Number.isNaN(field[i]!)) return true;
  return false;
}

export interface SpeedMapOptions {
  grid: GridSpec;
  /** One north-up frame, m/s, NaN where nodata. */
  field: ArrayLike<number>;
  title: string;
  subtitle?: string;
  /** Colour scale in m/s; default speedScale([field]). */
  min?: number;
  max?: number;
  colormap?: ColormapName;
  /** Map width in pixels; default one pixel per cell, at least 720 and at most 1440. */
  width?: number;
  units?: string;
}

/** One map: title, subtitle, the field with labelled grid lines, colour bar on the right. */
export function renderSpeedMap(options: SpeedMapOptions): Canvas {
  const { grid, field } = options;
  const extent = mapExtent(grid);
  const scale = options.min !== undefined && options.max !== undefined ? { min: options.min, max: options.max } : speedScale([field]);
  const colormap = options.colormap ?? 'viridis';
  const units = options.units ?? 'm/s';
  const mapW = options.width ?? Math.max(720, Math.min(1440, grid.width));
  const mapH = Math.max(1, Math.round((mapW * (extent.north - extent.south)) / (extent.east - extent.west)));
  const left = 12 + textWidth('90°N') + 6;
  const top = 10 + textHeight(2) + 6 + (options.subtitle ? textHeight() + 6 : 0) + 10;
  const bottom = 4 + textHeight() + 10 + (hasNoData(field) ? textHeight() + 6 : 0);
  const right = 16 + colorBarWidth(scale.min, scale.max);
  const canvas = new Canvas(left + mapW + right, top + mapH + bottom, '#ffffff');
  canvas.text(left, 10, options.title, '#000000', { scale: 2 });
  if (options.subtitle) canvas.text(left, 10 + textHeight(2) + 6, options.subtitle, '#404040');
  const panel = { grid, field, extent, min: scale.min, max: scale.max, colormap };
  drawField(canvas, left, top, mapW, mapH, panel);
  drawCoastlines(canvas, left, top, mapW, mapH, extent);
  drawGraticule(canvas, left, top, mapW, mapH, extent, true);
  drawColorBar(canvas, left + mapW + 16, top, mapH, { ...scale, colormap, units });
  if (hasNoData(field)) {
    const y = top + mapH + 4 + textHeight() + 10;
    canvas.fillRect(left, y, 10, textHeight(), NODATA_COLOR);
    canvas.text(left + 14, y, 'no data', '#000000');
  }
  return canvas;
}

export interface ContactSheetOptions {
  grid: GridSpec;
  /** One north-up frame per lead, m/s. */
  fields: ArrayLike<number>[];
  /** A caption per panel, e.g. "+01 h  2024-01-31T01Z". */
  captions: string[];
  title: string;
  subtitle?: string;
  min?: number;
  max?: number;
  colormap?: ColormapName;
  /** Panels per row; default 4 (24 leads make 6 rows). */
  columns?: number;
  /** Width of one panel in pixels; default 360. */
  panelWidth?: number;
  units?: string;
}

/** All leads on one image with one colour scale, so panels compare directly. */
export function renderContactSheet(options: ContactSheetOptions): Canvas {
  const { grid, fields } = options;
  if (fields.length !== options.captions.length) throw new Error(`contact sheet: ${fields.length} fields but ${options.captions.length} captions`);
  const extent = mapExtent(grid);
  const scale = options.min !== undefined && options.max !== undefined ? { min: options.min, max: options.max } : speedScale(fields);
  const colormap = options.colormap ?? 'viridis';
  const units = options.units ?? 'm/s';
  const columns = Math.max(1, Math.min(options.columns ?? 4, fields.length));
  const rowsN = Math.ceil(fields.length / columns);
  const pw = options.panelWidth ?? 360;
  const ph = Math.max(1, Math.round((pw * (extent.north - extent.south)) / (extent.east - extent.west)));
  const gap = 10;
  const captionH = textHeight() + 6;
  // Latitudes are labelled left of the first column, longitudes under the last row.
  const left = 12 + textWidth('90°N') + 6;
  const lonLabelH = textHeight() + 6;
  const top = 10 + textHeight(2) + 6 + (options.subtitle ? textHeight() + 6 : 0) + 10;
  const right = 16 + colorBarWidth(scale.min, scale.max);
  const sheetW = left + columns * pw + (columns - 1) * gap + right;
  const gridStep = graticuleStep(Math.max(extent.east - extent.west, extent.north - extent.south));
  const footer = textHeight() + 14;
  const sheetH = top + rowsN * (captionH + ph) + (rowsN - 1) * gap + lonLabelH + footer;
  const canvas = new Canvas(sheetW, sheetH, '#ffffff');
  canvas.text(left, 10, options.title, '#000000', { scale: 2 });
  if (options.subtitle) canvas.text(left, 10 + textHeight(2) + 6, options.subtitle, '#404040');
  fields.forEach((field, k) => {
    const px = left + (k % columns) * (pw + gap);
    const py = top + Math.floor(k / columns) * (captionH + ph + gap);
    canvas.text(px, py, options.captions[k]!, '#000000');
    drawField(canvas, px, py + captionH, pw, ph, { grid, field, extent, min: scale.min, max: scale.max, colormap });
    drawCoastlines(canvas, px, py + captionH, pw, ph, extent);
    const row = Math.floor(k / columns);
    const lastInColumn = row === rowsN - 1 || k + columns >= fields.length;
    drawGraticule(canvas, px, py + captionH, pw, ph, extent, { lat: k % columns === 0, lon: lastInColumn });
  });
  drawColorBar(canvas, left + columns * pw + (columns - 1) * gap + 16, top + captionH, Math.min(rowsN * (captionH + ph) + (rowsN - 1) * gap - captionH, 400), { ...scale, colormap, units });
  // A global map runs 180W..180E, which degreeLabel writes as 180°..180°: say what it means.
  const lonRange = extent.east - extent.west >= 360 - 1e-6 ? '180°W..180°E' : `${degreeLabel(extent.west, 'lon')}..${degreeLabel(extent.east, 'lon')}`;
  const note = `Equirectangular, ${lonRange}, ${degreeLabel(extent.south, 'lat')}..${degreeLabel(extent.north, 'lat')}; grid lines every ${gridStep}°; coastlines Natural Earth; grey = no data`;
  canvas.text(left, sheetH - 8, note, '#404040', { baseline: 'bottom' });
  return canvas;
}
