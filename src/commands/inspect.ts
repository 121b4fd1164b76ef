/**
 * `windcast inspect DIR`: what a user checks before training. Lists and dates the files,
 * reports gaps and duplicate hours (without failing), decodes every file on the worker pool
 * for statistics (nodata share, min/mean/max speed) and refusals, and says how much memory
 * the cube will need.
 */
import { basename } from 'node:path';
import { describeProblems, listCatalog, type Catalog } from '../ingest/catalog.js';
import type { CommandContext } from './context.js';
import { cubeBytes } from '../ingest/cube.js';
import { decodeFiles } from '../ingest/decode-pool.js';
import { DataError } from '../core/errors.js';
import { describeGrid, type GridSpec } from '../core/grid.js';
import { readRasterHeader, type RasterHeader } from '../ingest/raster.js';
import { HOUR_MS, isoMinute } from '../core/time.js';

export interface InspectResult {
  input: string;
  files: number;
  /** First and last hour (ISO, UTC) and the hours they span. */
  timeRange: { first: string; last: string; spanHours: number } | null;
  /** Where the hours came from: counts per source. */
  timeSources: Record<string, number>;
  consecutive: boolean;
  gaps: Array<{ from: string; to: string; hours: number }>;
  duplicates: Array<{ hour: string; files: string[] }>;
  grid: (GridSpec & { description: string }) | null;
  crs: string | null;
  dataTypes: string[];
  bands: { count: number; meaning: string } | null;
  compression: string[];
  layout: string[];
  nodataValues: Array<number | string>;
  scaleOffset: Array<{ scale: number[]; offset: number[] }>;
  /** Wind speed statistics over every readable file (m/s; NaN cells excluded). */
  values: { cells: number; nodataShare: number; min: number | null; mean: number | null; max: number | null } | null;
  /** Memory of the in-memory cube (Float32; speed, plus u and v for 2-band input). */
  memory: { cubeBytes: number; cubeGiB: number; peakGiB: number } | null;
  /** Files that cannot be used, each with the one-line reason. */
  refused: Array<{ file: string; reason: string }>;
  warnings: string[];
}

export async function inspect(args: { dir: string }, ctx: CommandContext): Promise<InspectResult> {
  const { glob, timePattern, workers } = ctx.config.ingest;
  const catalog = await listCatalog(args.dir, { glob, timePattern });
  const files = catalog.entries.map((e) => e.path);
  const refused: InspectResult['refused'] = [];

  // The reference grid is the first file (in time order) whose tags are usable.
  let reference: RasterHeader | undefined;
  for (const path of files) {
    try {
      reference = await readRasterHeader(path);
      break;
    } catch (err) {
      if (!(err instanceof DataError)) throw err;
      refused.push({ file: path, reason: stripPath(err.message, path) });
    }
  }

  const result: InspectResult = {
    input: catalog.input,
    files: files.length,
    ...timeSummary(catalog),
    grid: reference ? { ...reference.grid, description: describeGrid(reference.grid) } : null,
    crs: reference ? 'EPSG:4326 (geographic lat/lon, WGS 84)' : null,
    dataTypes: [],
    bands: reference ? { count: reference.bandCount, meaning: reference.bandCount === 1 ? 'wind speed' : 'u, v (speed = hypot)' } : null,
    compression: [],
    layout: [],
    nodataValues: [],
    scaleOffset: [],
    values: null,
    memory: reference ? memoryFor(reference, files.length) : null,
    refused,
    warnings: [],
  };
  if (!reference) return result;

  const start = refused.length;
  const results = await decodeFiles({ files: files.slice(start), reference, workers, progress: ctx.progress, label: 'inspecting' });
  const types = new Set<string>();
  const comps = new Set<string>();
  const layouts = new Set<string>();
  const nodata = new Map<string, number | string>();
  const scales = new Map<string, { scale: number[]; offset: number[] }>();
  const warnings = new Set<string>();
  let cells = 0; let nan = 0; let sum = 0; let min = Infinity; let max = -Infinity;
  for (const r of results) {
    if (r.error) {
      refused.push({ file: r.path, reason: stripPath(r.error.message, r.path) });
      continue;
    }
    const h = r.header!;
    types.add(h.dataType);
    comps.add(h.compression);
    layouts.add(h.layout);
    const nd = h.nodata === null ? 'none' : Number.isNaN(h.nodata) ? 'nan' : h.nodata;
    nodata.set(String(nd), nd);
    scales.set(JSON.stringify([h.scale, h.offset]), { scale: h.scale, offset: h.offset });
    for (const w of h.warnings) warnings.add(w);
    const s = r.speed!;
    cells += s.cells;
    nan += s.nan;
    sum += s.sum;
    if (s.min < min) min = s.min;
    if (s.max > max) max = s.max;
  }
  const valid = cells - nan;
  result.dataTypes = [...types];
  result.compression = [...comps];
  result.layout = [...layouts];
  result.nodataValues = [...nodata.values()];
  result.scaleOffset = [...scales.values()];
  result.warnings = [...warnings];
  result.values = {
    cells,
    nodataShare: cells > 0 ? nan / cells : 0,
    min: valid > 0 ? min : null,
    mean: valid > 0 ? sum / valid : null,
    max: valid > 0 ? max : null,
  };
  return result;
}

function stripPath(message: string, path: string): string {
  return message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message;
}

function timeSummary(catalog: Catalog): Pick<InspectResult, 'timeRange' | 'timeSources' | 'consecutive' | 'gaps' | 'duplicates'> {
  const e = catalog.entries;
  const sources: Record<string, number> = {};
  for (const x of e) sources[x.timeSource] = (sources[x.timeSource] ?? 0) + 1;
  const first = e[0]?.time;
  const last = e[e.length - 1]?.time;
  return {
    timeRange: first !== undefined && last !== undefined ? { first: isoMinute(first), last: isoMinute(last), spanHours: Math.round((last - first) / HOUR_MS) + 1 } : null,
    timeSources: sources,
    consecutive: catalog.gaps.length === 0 && catalog.duplicates.length === 0,
    gaps: catalog.gaps.map((g) => ({ from: isoMinute(g.from), to: isoMinute(g.to), hours: g.hours })),
    duplicates: catalog.duplicates.map((d) => ({ hour: isoMinute(d.time), files: d.files })),
  };
}

function memoryFor(reference: RasterHeader, hours: number): InspectResult['memory'] {
  const bytes = cubeBytes(reference.grid, hours, reference.bandCount);
  const gib = bytes / 2 ** 30;
  return { cubeBytes: bytes, cubeGiB: round(gib, 3), peakGiB: round(gib * 1.5, 3) };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
}

function fmt(x: number | null, digits = 2): string {
  return x === null ? 'n/a' : x.toFixed(digits);
}

export function formatInspectResult(r: InspectResult): string {
  const lines: string[] = [];
  lines.push(`${r.input}: ${r.files} file${r.files === 1 ? '' : 's'}`);
  if (r.timeRange) {
    const src = Object.entries(r.timeSources).map(([k, n]) => `${k} ${n}`).join(', ');
    lines.push(`  hours      ${r.timeRange.first} .. ${r.timeRange.last} (${r.timeRange.spanHours} h span; times from ${src})`);
  }
  if (r.consecutive) {
    lines.push('  sequence   consecutive, no gaps or duplicates');
  } else {
    const problems = describeProblems({
      input: r.input,
      entries: [],
      gaps: r.gaps.map((g) => ({ from: Date.parse(g.from), to: Date.parse(g.to), hours: g.hours })),
      duplicates: r.duplicates.map((d) => ({ time: Date.parse(d.hour), files: d.files })),
    });
    for (const p of problems) lines.push(`  PROBLEM    ${p}`);
  }
  if (r.grid) {
    lines.push(`  grid       ${r.grid.description}${r.grid.sourceSouthUp ? ', stored south-up (flipped on read)' : ''}`);
    lines.push(`  CRS        ${r.crs}`);
  }
  if (r.bands) lines.push(`  bands      ${r.bands.count} (${r.bands.meaning})`);
  if (r.dataTypes.length) lines.push(`  data type  ${r.dataTypes.join(', ')}; ${r.compression.join(', ')} compression; ${r.layout.join(', ')}`);
  if (r.nodataValues.length) lines.push(`  nodata     ${r.nodataValues.join(', ')}`);
  const scaled = r.scaleOffset.filter((s) => s.scale.some((x) => x !== 1) || s.offset.some((x) => x !== 0));
  if (scaled.length) lines.push(`  scaling    ${scaled.map((s) => `scale ${s.scale.join('/')} offset ${s.offset.join('/')}`).join('; ')}`);
  if (r.values) {
    lines.push(`  speed      min ${fmt(r.values.min)}  mean ${fmt(r.values.mean)}  max ${fmt(r.values.max)} m/s; nodata ${(100 * r.values.nodataShare).toFixed(2)}% of ${r.values.cells} cells`);
  }
  if (r.memory) {
    lines.push(`  memory     cube ${formatBytes(r.memory.cubeBytes)} (Float32), building needs at most ${formatBytes(r.memory.cubeBytes * 1.5)}`);
  }
  for (const w of r.warnings) lines.push(`  warning    ${w}`);
  if (r.refused.length) {
    lines.push(`  REFUSED    ${r.refused.length} file${r.refused.length === 1 ? '' : 's'}:`);
    for (const f of r.refused.slice(0, 20)) lines.push(`    ${basename(f.file)}: ${f.reason}`);
    if (r.refused.length > 20) lines.push(`    ... and ${r.refused.length - 20} more (see --json)`);
  }
  const ready = r.consecutive && r.refused.length === 0 && r.grid !== null;
  lines.push(ready ? 'ready for training' : 'NOT ready for training: fix the problems above');
  return lines.join('\n');
}
