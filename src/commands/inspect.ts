/**
 * `windcast inspect DATA`: what a user checks before training. For hourly GeoTIFFs: lists and
 * dates the files, reports gaps and duplicate hours (without failing), decodes every file on
 * the worker pool for statistics (nodata share, min/mean/max speed) and refusals. For gridded
 * input (NetCDF, a glob or folder of them, Zarr): the files and their hours, the variables with
 * their heights, gaps, missing hours and overlaps, and the speed's statistics when the cube is
 * small enough to read here. Both say which wind the cube will hold (target height, the other
 * height's u/v) and how much memory it needs. The report is data; `requireReadyForTraining`
 * turns a "NOT ready" verdict into a DataError (exit 4) after the CLI has printed the report,
 * so scripts can tell.
 */
import { basename } from 'node:path';
import { describeProblems, listCatalog, type Catalog } from '../ingest/catalog.js';
import type { CommandContext } from './context.js';
import { bandPlan } from '../ingest/band-plan.js';
import { cubeBytes, griddedCube, griddedCubeBytes, griddedOptions, inputKind, windChoice } from '../ingest/cube.js';
import { CACHE_OFF_HINT, memoryBudget } from '../ingest/cell-cube.js';
import { decodeFiles } from '../ingest/decode-pool.js';
import { describeGriddedProblems, openGridded, type GriddedDataset } from '../ingest/gridded.js';
import { bandStats } from '../ingest/band-stats.js';
import { formatBytes } from '../core/bytes.js';
import { DataError } from '../core/errors.js';
import { cellCount, describeGrid, type GridSpec } from '../core/grid.js';
import { readRasterHeader, type RasterHeader } from '../ingest/raster.js';
import { HOUR_MS, isoMinute } from '../core/time.js';

/** Gridded input is read for statistics only up to this size (bigger: train reads it). */
const GRIDDED_STATS_MAX_BYTES = 2 * 2 ** 30;

export interface InspectResult {
  input: string;
  kind: 'geotiff' | 'gridded';
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
  /**
   * Memory of the in-memory cube (Float32; speed, plus u and v for 2-band input), the memory
   * budget it is held against (--memory-budget, default what the machine has available) and
   * how train and evaluate read a cube over it: GeoTIFFs with the cache on from a cell file on
   * disk, gridded input and GeoTIFFs with ingest.cache off are refused.
   */
  memory: { cubeBytes: number; cubeGiB: number; peakGiB: number; budgetBytes: number; overBudget: boolean; overBudgetReads: 'disk' | 'refused' } | null;
  /** The wind the cube will hold under ingest.targetHeight and ingest.variables (null: no usable file). */
  wind: { heightM: number | null; otherHeightM: number | null; variables: string[] } | null;
  /** Files that cannot be used, each with the one-line reason. */
  refused: Array<{ file: string; reason: string }>;
  warnings: string[];
  /** Gridded input only: what the files hold and what is wrong with their hours. */
  gridded?: GriddedReport;
}

export interface GriddedReport {
  formats: string[];
  files: Array<{ file: string; format: string; first: string; last: string; steps: number; timeSource: string }>;
  variables: Array<{ name: string; units: string; longName: string; wind: string | null; selected: boolean }>;
  unusable: Array<{ name: string; why: string }>;
  /** Heights (m) with wind: a u/v pair or a speed. */
  heights: number[];
  /** Where the speed comes from: hypot of [u, v], or a speed variable. */
  speedFrom: string[];
  /** Gaps, hours a variable lacks, conflicting overlaps, a non-hourly step: one line each. */
  problems: string[];
  notes: string[];
}

export async function inspect(args: { dir: string }, ctx: CommandContext): Promise<InspectResult> {
  if (inputKind(args.dir, ctx.config.ingest.glob) === 'gridded') return inspectGridded(args.dir, ctx);
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

  const plan = reference ? bandPlan(reference, windChoice(ctx.config.ingest)) : undefined;
  const result: InspectResult = {
    input: catalog.input,
    kind: 'geotiff',
    files: files.length,
    ...timeSummary(catalog),
    grid: reference ? { ...reference.grid, description: describeGrid(reference.grid) } : null,
    crs: reference ? 'EPSG:4326 (geographic lat/lon, WGS 84)' : null,
    dataTypes: [],
    bands: reference ? { count: reference.bandCount, meaning: bandMeaning(reference) } : null,
    compression: [],
    layout: [],
    nodataValues: [],
    scaleOffset: [],
    values: null,
    memory: reference ? memoryFor(cubeBytes(reference.grid, files.length, reference.bandCount), ctx, ctx.config.ingest.cache ? 'disk' : 'refused') : null,
    wind: plan ? { heightM: plan.heightM, otherHeightM: plan.otherHeightM, variables: plan.variables } : null,
    refused,
    warnings: [],
  };
  if (!reference || !plan) return result;

  const start = refused.length;
  const results = await decodeFiles({ files: files.slice(start), reference, slots: plan.slots, workers, progress: ctx.progress, label: 'inspecting' });
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

/** What a GeoTIFF's bands hold, e.g. "u10, v10, u100, v100 (u/v at 10 m and 100 m)". */
function bandMeaning(h: RasterHeader): string {
  if (h.winds.every((w) => w.name === null)) return h.bandCount === 1 ? 'wind speed' : 'u, v (speed = hypot)';
  const heights = [...new Set(h.winds.map((w) => w.heightM))].map((x) => `${x} m`).join(' and ');
  return `${h.winds.map((w) => w.name).join(', ')} (${h.bandCount === 1 ? 'wind speed' : 'u/v'} at ${heights})`;
}

/** A gridded input: the files, hours, variables and heights, problems, and (when small) values. */
async function inspectGridded(input: string, ctx: CommandContext): Promise<InspectResult> {
  const ds = await openGridded(input, griddedOptions(windChoice(ctx.config.ingest)));
  const first = ds.hours[0]!;
  const last = ds.hours[ds.hours.length - 1]!;
  const timeSources: Record<string, number> = {};
  for (const f of ds.files) timeSources[f.timeSource] = (timeSources[f.timeSource] ?? 0) + 1;
  const problems = describeGriddedProblems(ds, 20);
  // The cube train and evaluate hold or stream (speed, u/v, the other height's u/v): the figure they decide by.
  const bytes = griddedCubeBytes(ds);
  const result: InspectResult = {
    input: ds.input,
    kind: 'gridded',
    files: ds.files.length,
    timeRange: { first: isoMinute(first), last: isoMinute(last), spanHours: Math.round((last - first) / HOUR_MS) + 1 },
    timeSources,
    consecutive: problems.length === 0,
    gaps: ds.gaps.map((g) => ({ from: isoMinute(g.from), to: isoMinute(g.to), hours: g.hours })),
    duplicates: [],
    grid: { ...ds.grid, description: describeGrid(ds.grid) },
    crs: 'EPSG:4326 (geographic lat/lon, WGS 84)',
    dataTypes: [],
    bands: { count: ds.selected.length, meaning: griddedMeaning(ds) },
    compression: [],
    layout: [],
    nodataValues: [],
    scaleOffset: [],
    values: null,
    memory: memoryFor(bytes, ctx, ctx.config.ingest.cache ? 'disk' : 'refused'),
    wind: { heightM: ds.speed.height, otherHeightM: ds.other?.height ?? null, variables: [...ds.selected].sort() },
    refused: [],
    warnings: [],
    gridded: griddedReport(ds, problems),
  };
  if (bytes <= GRIDDED_STATS_MAX_BYTES) {
    const cube = await griddedCube(ds, ctx.progress);
    const s = bandStats(cube.speed);
    const valid = s.cells - s.nan;
    result.values = { cells: s.cells, nodataShare: s.cells > 0 ? s.nan / s.cells : 0, min: valid > 0 ? s.min : null, mean: valid > 0 ? s.sum / valid : null, max: valid > 0 ? s.max : null };
  } else {
    result.warnings.push(`values not read: the cube is ${formatBytes(bytes)} (inspect reads at most ${formatBytes(GRIDDED_STATS_MAX_BYTES)}); train reads them`);
  }
  return result;
}

function griddedMeaning(ds: GriddedDataset): string {
  const speed = ds.speed.derived ? `speed at ${ds.speed.height} m = hypot(${ds.speed.from.join(', ')})` : `speed at ${ds.speed.height} m = ${ds.speed.from[0]}`;
  return `${[...ds.selected].join(', ')} (${speed}${ds.other ? `; ${ds.other.from.join(', ')} as inputs` : ''})`;
}

function griddedReport(ds: GriddedDataset, problems: string[]): GriddedReport {
  return {
    formats: [...new Set(ds.files.map((f) => f.format))],
    files: ds.files.map((f) => ({ file: f.path, format: f.format, first: isoMinute(f.start), last: isoMinute(f.end), steps: f.steps, timeSource: f.timeSource })),
    variables: ds.variables.map((v) => ({
      name: v.name,
      units: v.units,
      longName: v.longName,
      wind: v.wind ? `${v.wind.component === 'speed' ? 'speed' : v.wind.component} at ${v.wind.height} m` : null,
      selected: ds.selected.includes(v.name),
    })),
    unusable: ds.unusable,
    heights: ds.heights,
    speedFrom: ds.speed.from,
    problems,
    notes: ds.notes,
  };
}

function memoryFor(bytes: number, ctx: CommandContext, overBudgetReads: 'disk' | 'refused'): InspectResult['memory'] {
  const gib = bytes / 2 ** 30;
  const budgetBytes = memoryBudget(ctx.config.runtime.memoryBudget);
  return { cubeBytes: bytes, cubeGiB: round(gib, 3), peakGiB: round(gib * 1.5, 3), budgetBytes, overBudget: bytes > budgetBytes, overBudgetReads };
}

/** The memory line: the cube against the budget, and what train and evaluate will do with it. */
function memoryLine(m: NonNullable<InspectResult['memory']>): string {
  const cube = `cube ${formatBytes(m.cubeBytes)} (Float32)`;
  const budget = `the memory budget of ${formatBytes(m.budgetBytes)} (--memory-budget; default what the machine has available)`;
  if (!m.overBudget) return `${cube}, within ${budget}: train holds it once (about 1.35 x with the model's working set on a global month), evaluate holds it too (about 1.1 x)`;
  if (m.overBudgetReads === 'disk') {
    return `${cube}, over ${budget}: train and evaluate read it from a cell file on disk (${formatBytes(m.cubeBytes)} there, half with ingest.cacheEncoding int16; streamed from the files, or copied from a cube cache beside them), evaluate a slab of test hours at a time`;
  }
  return `${cube}, over ${budget}: train and evaluate refuse it (${CACHE_OFF_HINT})`;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function fmt(x: number | null, digits = 2): string {
  return x === null ? 'n/a' : x.toFixed(digits);
}

export function formatInspectResult(r: InspectResult): string {
  const lines: string[] = [];
  const g = r.gridded;
  lines.push(`${r.input}: ${r.files} file${r.files === 1 ? '' : 's'}${g ? ` (${g.formats.join(', ')})` : ''}`);
  if (g && g.files.length > 1) {
    for (const f of g.files.slice(0, 12)) lines.push(`  file       ${basename(f.file)}: ${f.first} .. ${f.last} (${f.steps} steps)`);
    if (g.files.length > 12) lines.push(`  file       ... and ${g.files.length - 12} more (see --json)`);
  }
  if (r.timeRange) {
    const src = Object.entries(r.timeSources).map(([k, n]) => `${k} ${n}`).join(', ');
    lines.push(`  hours      ${r.timeRange.first} .. ${r.timeRange.last} (${r.timeRange.spanHours} h span; times from ${src})`);
  }
  if (r.consecutive) {
    lines.push('  sequence   consecutive, no gaps or duplicates');
  } else if (g) {
    for (const p of g.problems) lines.push(`  PROBLEM    ${p}`);
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
  if (g) {
    for (const v of g.variables) lines.push(`  variable   ${v.name.padEnd(6)} ${v.wind ? v.wind.padEnd(16) : 'not wind'.padEnd(16)} ${v.selected ? 'read ' : 'unread'} ${v.longName}${v.units ? ` (${v.units})` : ''}`);
    for (const u of g.unusable) lines.push(`  unusable   ${u.why}`);
  } else if (r.bands) lines.push(`  bands      ${r.bands.count} (${r.bands.meaning})`);
  if (r.wind) {
    const at = r.wind.heightM === null ? 'wind speed of no stated height' : `wind speed at ${r.wind.heightM} m`;
    lines.push(`  target     ${at}${r.wind.otherHeightM !== null ? `; u/v at ${r.wind.otherHeightM} m are inputs too` : ''} (--target-height, --variables choose)`);
  }
  for (const n of g?.notes ?? []) lines.push(`  note       ${n}`);
  if (r.dataTypes.length) lines.push(`  data type  ${r.dataTypes.join(', ')}; ${r.compression.join(', ')} compression; ${r.layout.join(', ')}`);
  if (r.nodataValues.length) lines.push(`  nodata     ${r.nodataValues.join(', ')}`);
  const scaled = r.scaleOffset.filter((s) => s.scale.some((x) => x !== 1) || s.offset.some((x) => x !== 0));
  if (scaled.length) lines.push(`  scaling    ${scaled.map((s) => `scale ${s.scale.join('/')} offset ${s.offset.join('/')}`).join('; ')}`);
  if (r.values) {
    lines.push(`  speed      min ${fmt(r.values.min)}  mean ${fmt(r.values.mean)}  max ${fmt(r.values.max)} m/s; nodata ${(100 * r.values.nodataShare).toFixed(2)}% of ${r.values.cells} cells`);
  }
  if (r.memory) {
    lines.push(`  memory     ${memoryLine(r.memory)}`);
  }
  for (const w of r.warnings) lines.push(`  warning    ${w}`);
  if (r.refused.length) {
    lines.push(`  REFUSED    ${r.refused.length} file${r.refused.length === 1 ? '' : 's'}:`);
    for (const f of r.refused.slice(0, 20)) lines.push(`    ${basename(f.file)}: ${f.reason}`);
    if (r.refused.length > 20) lines.push(`    ... and ${r.refused.length - 20} more (see --json)`);
  }
  lines.push(notReadyReasons(r).length === 0 ? 'ready for training' : 'NOT ready for training: fix the problems above');
  return lines.join('\n');
}

/** Why the folder cannot be trained on as it is; empty when it is ready. */
export function notReadyReasons(r: InspectResult): string[] {
  const reasons: string[] = [];
  if (r.gridded) return r.gridded.problems.map((p) => p.replace(/: .*$/, ''));
  if (r.gaps.length > 0) {
    const missing = r.gaps.reduce((n, g) => n + g.hours, 0);
    reasons.push(`${missing} missing hour${missing === 1 ? '' : 's'} in ${r.gaps.length} gap${r.gaps.length === 1 ? '' : 's'}`);
  }
  if (r.duplicates.length > 0) reasons.push(`${r.duplicates.length} duplicate hour${r.duplicates.length === 1 ? '' : 's'}`);
  if (r.grid === null) reasons.push('no file with usable GeoTIFF tags');
  if (r.refused.length > 0) reasons.push(`${r.refused.length} refused file${r.refused.length === 1 ? '' : 's'}`);
  return reasons;
}

/** Throw the data error of a folder that is not ready for training (after its report is shown). */
export function requireReadyForTraining(r: InspectResult): void {
  const reasons = notReadyReasons(r);
  if (reasons.length > 0) throw new DataError(r.input, `NOT ready for training: ${reasons.join(', ')}`);
}
