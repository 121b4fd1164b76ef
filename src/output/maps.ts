/**
 * Quick-look maps of wind-speed fields: one map per forecast lead and a contact sheet of all
 * leads, each with a title, a colour bar in m/s, labelled lat/lon grid lines and Natural Earth
 * coastlines (layers in map-layers.ts), drawn with @napi-rs/canvas and written as PNG.
 *
 * `forecastPictures` is what predict's --png writes: the contact sheet and one map per lead,
 * all on one colour scale, so a colour means the same speed in every picture of a forecast.
 */
import type { GridSpec } from '../core/grid.js';
import { colorBarWidth, degreeLabel, drawCoastlines, drawColorBar, drawField, drawGraticule, graticuleStep, hasNoData, LABEL_PX, mapExtent, NODATA_COLOR, NOTE_COLOR, panelHeight, speedScale, TEXT_COLOR, type Box, type MapExtent } from './map-layers.js';
import { font, toPng, whiteCanvas, type Canvas, type ColormapName, type Context } from './png.js';

export { COASTLINE_COLOR, degreeLabel, graticuleStep, mapExtent, NODATA_COLOR, speedScale, type MapExtent } from './map-layers.js';

const TITLE_PX = 20;
const SUBTITLE_PX = 13;
const CAPTION_PX = 12;

interface Heading {
  title: string;
  subtitle?: string;
}

/** Pixels the title and subtitle take above the first panel. */
function headingHeight(h: Heading): number {
  return 12 + TITLE_PX + (h.subtitle ? 6 + SUBTITLE_PX : 0) + 14;
}

function drawHeading(ctx: Context, x: number, h: Heading): void {
  ctx.fillStyle = TEXT_COLOR;
  ctx.textAlign = 'left';
  ctx.textBaseline = 'top';
  ctx.font = font(TITLE_PX, 600);
  ctx.fillText(h.title, x, 12);
  if (h.subtitle) {
    ctx.font = font(SUBTITLE_PX);
    ctx.fillStyle = NOTE_COLOR;
    ctx.fillText(h.subtitle, x, 12 + TITLE_PX + 6);
  }
}

/** The line under a map saying what it shows. */
function projectionNote(extent: MapExtent, nodata: boolean): string {
  // A global map runs 180W..180E, which degreeLabel writes as 180°..180°: say what it means.
  const lonRange = extent.east - extent.west >= 360 - 1e-6 ? '180°W..180°E' : `${degreeLabel(extent.west, 'lon')}..${degreeLabel(extent.east, 'lon')}`;
  const step = graticuleStep(Math.max(extent.east - extent.west, extent.north - extent.south));
  return `Equirectangular, ${lonRange}, ${degreeLabel(extent.south, 'lat')}..${degreeLabel(extent.north, 'lat')}; grid lines every ${step}°; coastlines Natural Earth${nodata ? '; grey = no data' : ''}`;
}

function drawNote(ctx: Context, x: number, y: number, text: string, nodata: boolean): void {
  ctx.font = font(LABEL_PX);
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'left';
  let at = x;
  if (nodata) {
    ctx.fillStyle = NODATA_COLOR;
    ctx.fillRect(x, y - 5, 10, 10);
    at += 14;
  }
  ctx.fillStyle = NOTE_COLOR;
  ctx.fillText(text, at, y);
}

/** A context for measuring text before the picture's size is known. */
function measuring(): Context {
  return whiteCanvas(1, 1).getContext('2d');
}

/** Room left of a panel for latitude labels. */
function latLabelWidth(ctx: Context): number {
  ctx.font = font(LABEL_PX);
  return 12 + Math.ceil(ctx.measureText('90°N').width) + 6;
}

export interface SpeedMapOptions extends Heading {
  grid: GridSpec;
  /** One north-up frame, m/s, NaN where nodata. */
  field: ArrayLike<number>;
  /** Colour scale in m/s; default speedScale([field]). */
  min?: number;
  max?: number;
  colormap?: ColormapName;
  /** Map width in pixels; default one pixel per cell, at least 720 and at most 1440. */
  width?: number;
  units?: string;
}

/** One map: title, subtitle, the field with labelled grid lines, colour bar on the right. */
export function renderSpeedMap(options: SpeedMapOptions): Canvas & { panel: Box } {
  const { grid, field } = options;
  const extent = mapExtent(grid);
  const scale = options.min !== undefined && options.max !== undefined ? { min: options.min, max: options.max } : speedScale([field]);
  const bar = { ...scale, colormap: options.colormap ?? 'viridis', units: options.units ?? 'm/s' };
  const nodata = hasNoData(field);
  const m = measuring();
  const mapW = options.width ?? Math.max(720, Math.min(1440, grid.width));
  const panel: Box = { x: latLabelWidth(m), y: headingHeight(options), w: mapW, h: panelHeight(extent, mapW) };
  const bottom = 4 + LABEL_PX + 12 + LABEL_PX + 10;
  const canvas = whiteCanvas(panel.x + panel.w + 20 + colorBarWidth(m, bar), panel.y + panel.h + bottom);
  const ctx = canvas.getContext('2d');
  drawHeading(ctx, panel.x, options);
  drawField(ctx, panel, { grid, field, extent, ...bar });
  drawCoastlines(ctx, panel, extent);
  drawGraticule(ctx, panel, extent, { lat: true, lon: true });
  drawColorBar(ctx, panel.x + panel.w + 20, panel.y, panel.h, bar);
  drawNote(ctx, panel.x, canvas.height - 10 - LABEL_PX / 2, projectionNote(extent, nodata), nodata);
  return Object.assign(canvas, { panel });
}

export interface ContactSheetOptions extends Heading {
  grid: GridSpec;
  /** One north-up frame per lead, m/s. */
  fields: ArrayLike<number>[];
  /** A caption per panel, e.g. "+01 h  valid 2024-01-31T01Z". */
  captions: string[];
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
export function renderContactSheet(options: ContactSheetOptions): Canvas & { panels: Box[] } {
  const { grid, fields } = options;
  if (fields.length !== options.captions.length) throw new Error(`contact sheet: ${fields.length} fields but ${options.captions.length} captions`);
  const extent = mapExtent(grid);
  const scale = options.min !== undefined && options.max !== undefined ? { min: options.min, max: options.max } : speedScale(fields);
  const bar = { ...scale, colormap: options.colormap ?? 'viridis', units: options.units ?? 'm/s' };
  const nodata = fields.some(hasNoData);
  const columns = Math.max(1, Math.min(options.columns ?? 4, fields.length));
  const rows = Math.ceil(fields.length / columns);
  const pw = options.panelWidth ?? 360;
  const ph = panelHeight(extent, pw);
  const gap = 12;
  const captionH = CAPTION_PX + 6;
  const lonLabelH = LABEL_PX + 8;
  const m = measuring();
  // Latitudes are labelled left of the first column, longitudes under the last panel of a
  // column; a partial last row leaves the labels of the columns it misses in the gap above it.
  const left = latLabelWidth(m);
  const top = headingHeight(options);
  const panels: Box[] = fields.map((_, k) => ({
    x: left + (k % columns) * (pw + gap),
    y: top + Math.floor(k / columns) * (captionH + ph + gap) + captionH,
    w: pw,
    h: ph,
  }));
  const barX = left + columns * pw + (columns - 1) * gap + 20;
  const sheetH = top + rows * (captionH + ph + gap) - gap + lonLabelH + LABEL_PX + 16;
  const canvas = whiteCanvas(barX + colorBarWidth(m, bar), sheetH);
  const ctx = canvas.getContext('2d');
  drawHeading(ctx, left, options);
  fields.forEach((field, k) => {
    const box = panels[k]!;
    ctx.font = font(CAPTION_PX);
    ctx.fillStyle = TEXT_COLOR;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'bottom';
    ctx.fillText(options.captions[k]!, box.x, box.y - 4);
    drawField(ctx, box, { grid, field, extent, ...bar });
    drawCoastlines(ctx, box, extent);
    drawGraticule(ctx, box, extent, { lat: k % columns === 0, lon: k + columns >= fields.length });
  });
  drawColorBar(ctx, barX, top + captionH, Math.min(rows * (captionH + ph + gap) - gap - captionH, 400), bar);
  drawNote(ctx, left, sheetH - 8 - LABEL_PX / 2, projectionNote(extent, nodata), nodata);
  return Object.assign(canvas, { panels });
}

/** A picture to write: file name (no folder) and PNG bytes. */
export interface PictureFile {
  name: string;
  png: Buffer;
}

export interface ForecastPicturesOptions {
  grid: GridSpec;
  /** One north-up frame per lead, m/s, NaN where nodata. */
  leads: ArrayLike<number>[];
  /** Valid time of each lead, e.g. "2024-01-31T01Z". */
  validTimes: string[];
  issueTime: string;
  run: string;
  /** File name of the contact sheet, e.g. windspeed_<issue>_leads.png. */
  sheetName: string;
  /** File name of each lead's map, e.g. windspeed_<valid>_f01.png. */
  leadNames: string[];
}

/**
 * The contact sheet (first) and one map per lead, all on one colour scale. Each picture is
 * encoded by Skia off this thread while the next one is drawn; at most two wait encoded in
 * memory, so a 24-lead global forecast never holds 25 canvases at once.
 */
export async function forecastPictures(o: ForecastPicturesOptions): Promise<PictureFile[]> {
  const n = o.leads.length;
  if (o.validTimes.length !== n || o.leadNames.length !== n) throw new Error(`forecast pictures: ${n} leads, ${o.validTimes.length} valid times, ${o.leadNames.length} names`);
  const scale = speedScale(o.leads);
  const draws: Array<{ name: string; draw: () => Canvas }> = [
    {
      name: o.sheetName,
      draw: () => renderContactSheet({
        grid: o.grid,
        fields: o.leads,
        captions: o.validTimes.map((v, j) => `+${j + 1} h  valid ${v}`),
        title: `Wind speed forecast issued ${o.issueTime}`,
        subtitle: `run ${o.run}, ${n} leads on one colour scale (m/s)`,
        ...scale,
      }),
    },
    ...o.leads.map((field, j) => ({
      name: o.leadNames[j]!,
      draw: () => renderSpeedMap({
        grid: o.grid,
        field,
        title: `Wind speed +${j + 1} h, valid ${o.validTimes[j]}`,
        subtitle: `forecast issued ${o.issueTime}, run ${o.run}; colour scale shared by all ${n} leads`,
        ...scale,
      }),
    })),
  ];
  const encoded: Promise<Buffer>[] = [];
  for (let k = 0; k < draws.length; k++) {
    if (k >= 2) await encoded[k - 2];
    encoded.push(toPng(draws[k]!.draw()));
  }
  const pngs = await Promise.all(encoded);
  return draws.map((d, k) => ({ name: d.name, png: pngs[k]! }));
}
