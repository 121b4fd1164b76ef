/**
 * The layers of one map panel, drawn on a canvas 2D context: the wind-speed field, Natural
 * Earth coastlines, labelled lat/lon grid lines, and the colour bar beside a map; plus the
 * numbers they share (the box a grid covers, the colour scale, the grid-line step).
 *
 * Every panel is plate carree (equirectangular), north up: one d3-geo projection per panel
 * places coastlines, grid lines and labels, and the field's pixels use the same linear
 * mapping, so a coast drawn at 5.6 W sits on the cell at 5.6 W. Cells are drawn by nearest
 * neighbour (no smoothing), so what you see is what is in the GeoTIFF; cells with nodata are
 * grey. Lines and text are antialiased; nothing is drawn outside the panel's box except the
 * labels, which sit outside it on purpose.
 */
import { ImageData } from '@napi-rs/canvas';
import { geoEquirectangular, geoGraticule, geoPath, type GeoProjection } from 'd3-geo';
import { scaleLinear } from 'd3-scale';
import { colLon, rowLat, wrapsLongitude, type GridSpec } from '../core/grid.js';
import { coastlineScale, coastlines } from './coastlines.js';
import { colormapTable, font, type ColormapName, type Context } from './png.js';

export const NODATA_COLOR = '#c8c8c8';
/** Coastline colour: light grey, readable on every viridis shade. */
export const COASTLINE_COLOR = '#e6e6e6';
const GRID_LINE_COLOR = 'rgba(255, 255, 255, 0.45)';
export const TEXT_COLOR = '#000000';
export const NOTE_COLOR = '#404040';
/** Label sizes in pixels. */
export const LABEL_PX = 11;

/** The geographic box shown by a map, degrees; west < east (east may exceed 180). */
export interface MapExtent {
  west: number;
  east: number;
  south: number;
  north: number;
}

/** A rectangle on the canvas, pixels: top-left corner and size. */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
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

/** Height in pixels of a plate carree panel w pixels wide showing extent. */
export function panelHeight(extent: MapExtent, w: number): number {
  return Math.max(1, Math.round((w * (extent.north - extent.south)) / (extent.east - extent.west)));
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
  const [, max] = scaleLinear().domain([min, Math.max(p999, min + 1e-6)]).nice(5).domain() as [number, number];
  return { min, max };
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

/**
 * The plate carree projection that puts `extent` exactly on `box`. Rotating the centre
 * longitude to 0 lets d3-geo cut lines at the meridian opposite the map's centre, so maps in
 * the 0..360 convention and regions across the antimeridian get their coasts too.
 */
export function panelProjection(extent: MapExtent, box: Box): GeoProjection {
  const centreLon = (extent.west + extent.east) / 2;
  const centreLat = (extent.south + extent.north) / 2;
  const radiansAcross = ((extent.east - extent.west) * Math.PI) / 180;
  return geoEquirectangular()
    .rotate([-centreLon, 0])
    .center([0, centreLat])
    .scale(box.w / radiansAcross)
    .translate([box.x + box.w / 2, box.y + box.h / 2])
    .clipExtent([[box.x, box.y], [box.x + box.w, box.y + box.h]]);
}

export interface FieldLayer {
  grid: GridSpec;
  /** One north-up frame, m/s, NaN where nodata. */
  field: ArrayLike<number>;
  extent: MapExtent;
  min: number;
  max: number;
  colormap: ColormapName;
}

/** The field on the box, nearest cell per pixel (pixel centres to lon/lat, then to cells). */
export function drawField(ctx: Context, box: Box, o: FieldLayer): void {
  const { grid, field, extent } = o;
  const { w, h } = box;
  const lut = colormapTable(o.colormap);
  const wraps = wrapsLongitude(grid);
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
  const image = new ImageData(w, h);
  const d = image.data;
  for (let py = 0; py < h; py++) {
    const r = rows[py]!;
    for (let px = 0; px < w; px++) {
      const c = cols[px]!;
      const v = r >= 0 && c >= 0 ? field[r * grid.width + c]! : NaN;
      const o4 = (py * w + px) * 4;
      if (Number.isNaN(v)) {
        d[o4] = d[o4 + 1] = d[o4 + 2] = 0xc8;
      } else {
        const i = Math.max(0, Math.min(255, Math.round((v - o.min) * scale))) * 3;
        d[o4] = lut[i]!;
        d[o4 + 1] = lut[i + 1]!;
        d[o4 + 2] = lut[i + 2]!;
      }
      d[o4 + 3] = 255;
    }
  }
  ctx.putImageData(image, box.x, box.y);
}

/** Run draw with the context clipped to the box. */
function clipped(ctx: Context, box: Box, draw: () => void): void {
  ctx.save();
  ctx.beginPath();
  ctx.rect(box.x, box.y, box.w, box.h);
  ctx.clip();
  draw();
  ctx.restore();
}

/** Coastlines over the box, clipped to it; thinner on small panels. */
export function drawCoastlines(ctx: Context, box: Box, extent: MapExtent, color = COASTLINE_COLOR): void {
  const lines = coastlines(coastlineScale(Math.max(extent.east - extent.west, extent.north - extent.south)));
  clipped(ctx, box, () => {
    ctx.beginPath();
    geoPath(panelProjection(extent, box), ctx)(lines);
    ctx.strokeStyle = color;
    ctx.lineWidth = box.w >= 600 ? 1 : 0.75;
    ctx.lineJoin = 'round';
    ctx.stroke();
  });
}

/** Which sides of a panel carry grid labels: latitudes on the left, longitudes below. */
export interface GraticuleLabels {
  lat: boolean;
  lon: boolean;
}

/** Grid lines every graticuleStep degrees, the panel's frame, and labels outside the frame. */
export function drawGraticule(ctx: Context, box: Box, extent: MapExtent, labels: GraticuleLabels): void {
  const step = graticuleStep(Math.max(extent.east - extent.west, extent.north - extent.south));
  const projection = panelProjection(extent, box);
  clipped(ctx, box, () => {
    ctx.beginPath();
    geoPath(projection, ctx)(geoGraticule().extent([[extent.west, extent.south], [extent.east, extent.north]]).step([step, step])());
    ctx.strokeStyle = GRID_LINE_COLOR;
    ctx.lineWidth = 1;
    ctx.stroke();
  });
  ctx.strokeStyle = TEXT_COLOR;
  ctx.lineWidth = 1;
  ctx.strokeRect(box.x - 0.5, box.y - 0.5, box.w + 1, box.h + 1);

  ctx.font = font(LABEL_PX);
  ctx.fillStyle = TEXT_COLOR;
  const lonX = (lon: number) => box.x + ((lon - extent.west) / (extent.east - extent.west)) * box.w;
  const latY = (lat: number) => box.y + ((extent.north - lat) / (extent.north - extent.south)) * box.h;
  // On small panels label every 2nd (3rd...) line so labels never overlap; 0 is always labelled.
  const pxPerStepX = (step / (extent.east - extent.west)) * box.w;
  const pxPerStepY = (step / (extent.north - extent.south)) * box.h;
  const lonEvery = Math.max(1, Math.ceil((ctx.measureText('150°W').width + 8) / pxPerStepX));
  const latEvery = Math.max(1, Math.ceil((LABEL_PX + 4) / pxPerStepY));
  if (labels.lon) {
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (let lon = Math.ceil(extent.west / step - 1e-9) * step; lon <= extent.east + 1e-9; lon += step) {
      // On a whole-globe map the east edge is the west edge again: label 180° once.
      const repeatsWest = extent.east - extent.west >= 360 - 1e-9 && lon >= extent.east - 1e-9;
      if (!repeatsWest && Math.round(lon / step) % lonEvery === 0) ctx.fillText(degreeLabel(lon, 'lon'), lonX(lon), box.y + box.h + 4);
    }
  }
  if (labels.lat) {
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (let lat = Math.ceil(extent.south / step - 1e-9) * step; lat <= extent.north + 1e-9; lat += step) {
      if (Math.round(lat / step) % latEvery === 0) ctx.fillText(degreeLabel(lat, 'lat'), box.x - 5, latY(lat));
    }
  }
}

export interface ColorBar {
  min: number;
  max: number;
  colormap: ColormapName;
  units: string;
}

const BAR_W = 14;

/** Ticks of the colour bar and their labels (d3-scale: round 1-2-5 steps). */
function colorBarTicks(o: ColorBar): { value: number; label: string }[] {
  const scale = scaleLinear().domain([o.min, o.max]);
  const format = scale.tickFormat(6);
  return scale.ticks(6).map((value) => ({ value, label: format(value) }));
}

/** Width in pixels the colour bar needs: the bar, its ticks and the widest label or the units. */
export function colorBarWidth(ctx: Context, o: ColorBar): number {
  ctx.font = font(LABEL_PX);
  const widest = Math.max(ctx.measureText(o.units).width, ...colorBarTicks(o).map((t) => ctx.measureText(t.label).width));
  return BAR_W + 7 + Math.ceil(widest) + 8;
}

/** A vertical colour bar of height h at (x, y), ticks in the field's units, units on top. */
export function drawColorBar(ctx: Context, x: number, y: number, h: number, o: ColorBar): void {
  const lut = colormapTable(o.colormap);
  const image = new ImageData(BAR_W, h);
  for (let py = 0; py < h; py++) {
    const i = Math.round(((h - 1 - py) / Math.max(1, h - 1)) * 255) * 3;
    for (let px = 0; px < BAR_W; px++) image.data.set([lut[i]!, lut[i + 1]!, lut[i + 2]!, 255], (py * BAR_W + px) * 4);
  }
  ctx.putImageData(image, x, y);
  ctx.strokeStyle = TEXT_COLOR;
  ctx.lineWidth = 1;
  ctx.strokeRect(x - 0.5, y - 0.5, BAR_W + 1, h + 1);
  ctx.font = font(LABEL_PX);
  ctx.fillStyle = TEXT_COLOR;
  ctx.textAlign = 'left';
  ctx.textBaseline = 'bottom';
  ctx.fillText(o.units, x, y - 6);
  ctx.textBaseline = 'middle';
  for (const t of colorBarTicks(o)) {
    const py = Math.round(y + h - 1 - ((t.value - o.min) / (o.max - o.min)) * (h - 1)) + 0.5;
    ctx.beginPath();
    ctx.moveTo(x + BAR_W, py);
    ctx.lineTo(x + BAR_W + 4, py);
    ctx.stroke();
    ctx.fillText(t.label, x + BAR_W + 7, py);
  }
}

/** Whether any cell is nodata (the map then explains the grey). */
export function hasNoData(field: ArrayLike<number>): boolean {
  for (let i = 0; i < field.length; i++) if (Number.isNaN(field[i]!)) return true;
  return false;
}
